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
    /// An imported change marked cancelled by a receipt that does not cancel it: no change of
    /// the customer with that receipt follows it, taking effect at its recording instant
    /// before it.
    #[error(
        "change with receipt {receipt} is marked cancelled by receipt {by}, which does not cancel it"
    )]
    CancellationUnmatched {
        /// The receipt of the change marked cancelled.
        receipt: u32,
        /// The receipt named as cancelling it.
        by: u32,
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

/// The classes [`ConsentError`]'s predicates answer from: each error is in exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// [`ConsentError::is_malformed`].
    Malformed,
    /// [`ConsentError::is_refused`].
    Refused,
    /// [`ConsentError::is_invalid_file`].
    InvalidFile,
    /// None: the ledger could not be written out.
    Other,
}

/// Predicates for callers that ask what kind of failure an error is, not which one: a
/// value that does not parse ([`is_malformed`](Self::is_malformed)), a change the ledger's
/// rules refuse ([`is_refused`](Self::is_refused)), or a ledger file that cannot be
/// imported ([`is_invalid_file`](Self::is_invalid_file)). Each error answers `true` to at
/// most one of them; only a failed export answers none.
impl ConsentError {
    /// A string that does not parse as a value of the consent vocabulary: a mode, a
    /// channel, an actor, an admin id, or an admin's basis (missing or unusable).
    ///
    /// ```
    /// use steward_consent::{ConsentActor, ConsentMode};
    ///
    /// let error = "strict".parse::<ConsentMode>().unwrap_err();
    /// assert!(error.is_malformed());
    /// let error = "admin:dana".parse::<ConsentActor>().unwrap_err();
    /// assert!(error.is_malformed() && !error.is_refused());
    /// ```
    #[must_use]
    pub fn is_malformed(&self) -> bool {
        self.class() == Class::Malformed
    }

    /// The ledger refused a change: it would be backdated, is not after the customer's
    /// latest change, was recorded by a clock that went backwards, names a policy version
    /// the ledger does not know, or the ledger is out of receipt numbers or table slots (or
    /// was given no policy version at all). The ledger is as it was before the call.
    ///
    /// ```
    /// use steward_consent::ConsentError;
    ///
    /// assert!(ConsentError::ReceiptsExhausted.is_refused());
    /// assert!(!ConsentError::DuplicateCustomer.is_refused());
    /// ```
    #[must_use]
    pub fn is_refused(&self) -> bool {
        self.class() == Class::Refused
    }

    /// A ledger file that cannot be imported: not well-formed JSON of the export format,
    /// another format, or content that breaks a rule of the ledger (a customer twice, a
    /// history without changes, receipts out of order, a change the ledger would refuse,
    /// named with its place in the file). Nothing was imported.
    ///
    /// ```
    /// use steward_consent::{ConsentLedger, KnownPolicyVersions};
    ///
    /// let versions = KnownPolicyVersions::new("2025-03-05".parse().unwrap());
    /// let error = ConsentLedger::from_json("{", versions).unwrap_err();
    /// assert!(error.is_invalid_file());
    /// ```
    #[must_use]
    pub fn is_invalid_file(&self) -> bool {
        self.class() == Class::InvalidFile
    }

    /// The one class this error is in. The match names every variant, so a new one does
    /// not compile until it is classified.
    const fn class(&self) -> Class {
        match self {
            Self::UnknownMode { .. }
            | Self::UnknownChannel { .. }
            | Self::UnknownActor { .. }
            | Self::InvalidAdminId(_)
            | Self::MissingBasis { .. }
            | Self::InvalidBasis(_) => Class::Malformed,
            Self::NoKnownPolicyVersions
            | Self::UnknownPolicyVersion { .. }
            | Self::Backdated { .. }
            | Self::ClockWentBackwards { .. }
            | Self::NotAfterLatest { .. }
            | Self::TableFull { .. }
            | Self::ReceiptsExhausted => Class::Refused,
            Self::MalformedLedger { .. }
            | Self::UnsupportedFormat { .. }
            | Self::InvalidLedger { .. }
            | Self::CancellationUnmatched { .. }
            | Self::DuplicateCustomer
            | Self::EmptyHistory
            | Self::ReceiptOutOfOrder { .. }
            | Self::RecordedOutOfOrder { .. }
            | Self::DuplicateReceipt { .. } => Class::InvalidFile,
            Self::ExportFailed { .. } => Class::Other,
        }
    }
}

/// Shortens user input before it is quoted in an error.
pub(crate) fn quote(value: &str) -> String {
    value.chars().take(QUOTE_LIMIT).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use steward_core::{CoreError, Timestamp};

    use super::*;

    /// The number of variants of [`ConsentError`] (the arms of [`intended`]).
    const VARIANTS: usize = 23;

    /// The class each variant is meant to be in, and a number naming the variant. The match
    /// names every variant, so a new one does not compile until it is classified here too;
    /// [`VARIANTS`] then needs a raise and [`samples`] a sample of it.
    fn intended(error: &ConsentError) -> (usize, Class) {
        use Class::{InvalidFile, Malformed, Other, Refused};
        match error {
            ConsentError::UnknownMode { .. } => (0, Malformed),
            ConsentError::UnknownChannel { .. } => (1, Malformed),
            ConsentError::UnknownActor { .. } => (2, Malformed),
            ConsentError::InvalidAdminId(_) => (3, Malformed),
            ConsentError::MissingBasis { .. } => (4, Malformed),
            ConsentError::InvalidBasis(_) => (5, Malformed),
            ConsentError::NoKnownPolicyVersions => (6, Refused),
            ConsentError::UnknownPolicyVersion { .. } => (7, Refused),
            ConsentError::Backdated { .. } => (8, Refused),
            ConsentError::ClockWentBackwards { .. } => (9, Refused),
            ConsentError::NotAfterLatest { .. } => (10, Refused),
            ConsentError::TableFull { .. } => (11, Refused),
            ConsentError::ReceiptsExhausted => (12, Refused),
            ConsentError::MalformedLedger { .. } => (13, InvalidFile),
            ConsentError::ExportFailed { .. } => (14, Other),
            ConsentError::UnsupportedFormat { .. } => (15, InvalidFile),
            ConsentError::InvalidLedger { .. } => (16, InvalidFile),
            ConsentError::DuplicateCustomer => (17, InvalidFile),
            ConsentError::EmptyHistory => (18, InvalidFile),
            ConsentError::ReceiptOutOfOrder { .. } => (19, InvalidFile),
            ConsentError::RecordedOutOfOrder { .. } => (20, InvalidFile),
            ConsentError::DuplicateReceipt { .. } => (21, InvalidFile),
            ConsentError::CancellationUnmatched { .. } => (22, InvalidFile),
        }
    }

    fn samples() -> Vec<ConsentError> {
        let at = Timestamp::MIN;
        let core = || -> CoreError { "".parse::<steward_core::AdminId>().unwrap_err() };
        vec![
            ConsentError::UnknownMode { value: "x".into() },
            ConsentError::UnknownChannel { value: "x".into() },
            ConsentError::UnknownActor { value: "x".into() },
            ConsentError::InvalidAdminId(core()),
            ConsentError::MissingBasis {
                admin: "dana".into(),
            },
            ConsentError::InvalidBasis(core()),
            ConsentError::NoKnownPolicyVersions,
            ConsentError::UnknownPolicyVersion {
                version: "2024-01-01".parse().unwrap(),
            },
            ConsentError::Backdated {
                effective: at,
                recorded_at: at,
            },
            ConsentError::ClockWentBackwards {
                recorded_at: at,
                latest_recorded: at,
            },
            ConsentError::NotAfterLatest {
                effective: at,
                latest: at,
            },
            ConsentError::TableFull {
                what: "admins",
                limit: 1,
            },
            ConsentError::ReceiptsExhausted,
            ConsentError::MalformedLedger { detail: "x".into() },
            ConsentError::ExportFailed { detail: "x".into() },
            ConsentError::UnsupportedFormat {
                found: "x".into(),
                expected: "y",
            },
            ConsentError::InvalidLedger {
                location: "customers[0]".into(),
                reason: Box::new(ConsentError::ReceiptsExhausted),
            },
            ConsentError::DuplicateCustomer,
            ConsentError::EmptyHistory,
            ConsentError::ReceiptOutOfOrder {
                receipt: 1,
                previous: 2,
            },
            ConsentError::RecordedOutOfOrder {
                receipt: 2,
                recorded_at: at,
                previous: 1,
                previous_recorded_at: at,
            },
            ConsentError::DuplicateReceipt { receipt: 1 },
            ConsentError::CancellationUnmatched { receipt: 1, by: 2 },
        ]
    }

    #[test]
    fn every_variant_is_classified_as_intended() {
        let samples = samples();
        let covered: BTreeSet<usize> = samples.iter().map(|error| intended(error).0).collect();
        assert_eq!(
            covered.len(),
            VARIANTS,
            "a variant has no sample: {covered:?}"
        );
        for error in &samples {
            let class = intended(error).1;
            let answers = [
                error.is_malformed(),
                error.is_refused(),
                error.is_invalid_file(),
            ];
            let expected =
                [Class::Malformed, Class::Refused, Class::InvalidFile].map(|each| each == class);
            assert_eq!(answers, expected, "{error:?}");
        }
    }
}
