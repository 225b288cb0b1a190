//! The error type of steward-consent.

use steward_core::{PolicyVersion, Timestamp};

/// Longest piece of user input quoted back in an error message; longer input is cut so that
/// a hostile value cannot blow up logs.
const QUOTE_LIMIT: usize = 64;

/// What steward-consent could not parse, record or import.
///
/// A rejected change or import never leaves anything behind: the ledger is exactly as it was
/// before the call (invariant 9 of docs/design.md).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// A string that names no consent mode.
    #[error("unknown consent mode `{value}`")]
    UnknownMode {
        /// The rejected input, shortened to at most 64 characters.
        value: String,
    },
    /// A string that names no consent channel.
    #[error("unknown consent channel `{value}`")]
    UnknownChannel {
        /// The rejected input, shortened to at most 64 characters.
        value: String,
    },
    /// A string that names no actor (`customer` or `admin:<admin id>:<basis>`).
    #[error("unknown actor `{value}`")]
    UnknownActor {
        /// The rejected input, shortened to at most 64 characters.
        value: String,
    },
    /// An admin id that does not have the required shape. Its message is the vocabulary's,
    /// which names the admin id; it is built where an admin id is parsed, never converted
    /// from any [`CoreError`](steward_core::CoreError).
    #[error(transparent)]
    InvalidAdminId(steward_core::CoreError),
    /// An admin actor written without the basis every admin change must state.
    #[error("admin change by `{admin}` states no basis: write `admin:<admin id>:<basis>`")]
    MissingBasis {
        /// The admin, shortened to at most 64 characters.
        admin: String,
    },
    /// The stated basis of an admin change is not a usable reason (blank, invisible,
    /// over-long or with control characters). The cause is displayed, not returned as a
    /// source: a parse error reaches serde, which keeps only the message.
    #[error("invalid basis for an admin change: {0}")]
    InvalidBasis(steward_core::CoreError),
    /// An empty set of known policy versions: a ledger must know at least the version of the
    /// policy in force.
    #[error("no known policy versions: at least the version of the policy in force is needed")]
    NoKnownPolicyVersions,
    /// A change naming a policy version the ledger was not told about (`policy.versioned`):
    /// a receipt must point at policy text that exists.
    #[error("unknown policy version `{version}`")]
    UnknownPolicyVersion {
        /// The version the change named.
        version: PolicyVersion,
    },
    /// A change that would take effect before it was recorded: consent cannot be backdated.
    #[error(
        "change effective at `{effective}` is before it was recorded at `{recorded_at}`: a \
         change cannot take effect before it is recorded"
    )]
    Backdated {
        /// When the rejected change would have taken effect.
        effective: Timestamp,
        /// When it was recorded.
        recorded_at: Timestamp,
    },
    /// A change recorded at an instant before the newest recording instant in the ledger:
    /// the clock of whoever records changes went backwards.
    #[error(
        "change recorded at `{recorded_at}` is before the latest recorded change at \
         `{latest_recorded}`: the clock went backwards"
    )]
    ClockWentBackwards {
        /// When the rejected change was recorded.
        recorded_at: Timestamp,
        /// The newest recording instant in the ledger.
        latest_recorded: Timestamp,
    },
    /// A change dated at or before the customer's latest change: the ledger is append-only
    /// and a customer's history is strictly ordered in time.
    #[error("change effective at `{effective}` is not after the latest change at `{latest}`")]
    NotAfterLatest {
        /// When the rejected change would have taken effect.
        effective: Timestamp,
        /// When the customer's latest recorded change took effect.
        latest: Timestamp,
    },
    /// More distinct values of something the ledger interns than its compact records index.
    #[error("too many distinct {what} (at most {limit})")]
    TableFull {
        /// What ran out: policy versions or admins.
        what: &'static str,
        /// The most the ledger holds.
        limit: u64,
    },
    /// Every receipt number has been handed out (a ledger numbers up to 2^32 - 2 changes).
    #[error("receipt numbers are exhausted")]
    ReceiptsExhausted,
    /// A ledger file that is not well-formed JSON of the export format, or holds a value
    /// that does not parse (an unknown level, a malformed id, ...).
    #[error("malformed ledger file: {detail}")]
    MalformedLedger {
        /// The parser's description, with line and column.
        detail: String,
    },
    /// The ledger could not be written out.
    #[error("could not export the ledger: {detail}")]
    ExportFailed {
        /// What went wrong.
        detail: String,
    },
    /// A ledger file of another format or version.
    #[error("unsupported ledger format `{found}` (expected `{expected}`)")]
    UnsupportedFormat {
        /// The format named in the file, shortened to at most 64 characters.
        found: String,
        /// The format this version reads.
        expected: &'static str,
    },
    /// A well-formed ledger file whose content breaks a rule of the ledger.
    #[error("invalid ledger file at `{location}`: {reason}")]
    InvalidLedger {
        /// Where in the file, as a path such as `customers[3].changes[1]`.
        location: String,
        /// What is wrong there.
        reason: Box<ConsentError>,
    },
    /// The same customer appears twice in a ledger file.
    #[error("customer appears more than once")]
    DuplicateCustomer,
    /// A customer without any change in a ledger file; the ledger never writes one.
    #[error("customer has no changes")]
    EmptyHistory,
    /// Receipts of one customer that do not increase with their changes; the ledger numbers
    /// changes in the order it records them, which is their order in time.
    #[error("receipt `{receipt}` is not after the previous receipt `{previous}` of this customer")]
    ReceiptOutOfOrder {
        /// The receipt out of order.
        receipt: u32,
        /// The receipt before it.
        previous: u32,
    },
    /// Changes of a ledger file whose recording instants decrease with their receipt numbers:
    /// the ledger numbers changes in the order it records them, and its clock never goes
    /// backwards.
    #[error(
        "receipt `{receipt}` recorded at `{recorded_at}` is before receipt `{previous}` \
         recorded at `{previous_recorded_at}`: the clock went backwards"
    )]
    RecordedOutOfOrder {
        /// The receipt recorded too early.
        receipt: u32,
        /// When it says it was recorded.
        recorded_at: Timestamp,
        /// The receipt numbered just before it.
        previous: u32,
        /// When that one was recorded.
        previous_recorded_at: Timestamp,
    },
    /// Two changes with the same receipt number.
    #[error("receipt `{receipt}` appears more than once")]
    DuplicateReceipt {
        /// The repeated receipt number.
        receipt: u32,
    },
}

/// Shortens user input before it is quoted in an error.
pub(crate) fn quote(value: &str) -> String {
    value.chars().take(QUOTE_LIMIT).collect()
}
