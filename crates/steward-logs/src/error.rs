//! The error type of steward-logs.

use steward_core::{ClauseId, CoreError};

use crate::{access::Denial, keys::KeyVersion};

/// Everything that can go wrong while sealing, parsing, opening or auditing log records.
///
/// Messages never contain key material, request content or personal data; ids of records and
/// customers are kept out of messages too, so an error can be logged as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogsError {
    /// A string that names no consent level.
    #[error("unknown consent level `{value}`")]
    UnknownConsentLevel {
        /// The rejected input, shortened to at most 64 characters.
        value: String,
    },
    /// The bytes end before the record does.
    #[error("record truncated: {needed} bytes needed, {actual} present")]
    Truncated {
        /// How many bytes the record needs at least.
        needed: usize,
        /// How many bytes were given.
        actual: usize,
    },
    /// The bytes do not start with the record magic `STWL`.
    #[error("not a steward log record: missing the `STWL` magic")]
    NotARecord,
    /// The record was written in a format version this build does not read.
    #[error("unsupported record format version `{version}`")]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// A header field holds a value outside its range.
    #[error("invalid record header: {field} {reason}")]
    InvalidHeader {
        /// The field, as named in docs/record-format.md.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The body is larger than a record may carry.
    #[error("record body of {declared} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The body length.
        declared: u64,
        /// The largest accepted body length.
        limit: usize,
    },
    /// `logs.encrypted`: the customer was crypto-shredded; none of their records opens again.
    #[error("the customer's data keys were crypto-shredded: the record can never be opened")]
    Shredded,
    /// The keyring holds no data key of this version for the customer.
    #[error("no data key {version} for the record's customer")]
    UnknownKeyVersion {
        /// The key version the record names.
        version: KeyVersion,
    },
    /// The key commitment in the header does not match the key that would open the record.
    #[error("key commitment mismatch: the record was altered or presented under another key")]
    KeyCommitmentMismatch,
    /// The AEAD tag did not verify: the record was altered, or presented under another
    /// customer, record id or key version.
    #[error(
        "record failed authentication: altered, or presented under another customer, id or key"
    )]
    AuthenticationFailed,
    /// The policy refused the access request (and the refusal was audited).
    #[error("access denied: {denial} ({clause})", clause = denial.clause())]
    Denied {
        /// Why the request was refused.
        denial: Denial,
    },
    /// The audit entry could not be written, so nothing was returned (fail closed).
    #[error("audit trail unavailable, nothing was opened: {source}")]
    AuditUnavailable {
        /// What the store reported.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An audit entry would be dated before the entry preceding it.
    #[error("clock went backwards: audit entry at {attempted} is before the last entry at {last}")]
    ClockWentBackwards {
        /// The instant of the last entry in the trail.
        last: steward_core::Timestamp,
        /// The instant of the refused entry.
        attempted: steward_core::Timestamp,
    },
    /// Verification found the audit chain altered.
    #[error("audit chain broken at entry {sequence}: {reason}")]
    ChainBroken {
        /// The sequence number (0-based position) where verification failed.
        sequence: u64,
        /// What did not match.
        reason: &'static str,
    },
    /// A checkpoint signature did not verify under the given public key.
    #[error("checkpoint signature does not verify")]
    CheckpointSignature,
    /// The audit chain holds fewer entries than a signed checkpoint attests, or a different head.
    #[error("audit chain does not reach its checkpoint at entry {checkpoint}: {reason}")]
    CheckpointMismatch {
        /// The sequence number the checkpoint covers.
        checkpoint: u64,
        /// What did not match.
        reason: &'static str,
    },
    /// `logs.access`: the roster already holds its configured maximum of stewards.
    #[error("steward roster is full: at most {max} stewards (logs.access: a select few)")]
    RosterFull {
        /// The configured maximum.
        max: usize,
    },
    /// A roster capacity of zero, or a roster larger than its capacity.
    #[error("invalid steward roster: {reason}")]
    InvalidRoster {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Key material of the wrong size or shape (the material itself is never shown).
    #[error("invalid key material: {reason}")]
    InvalidKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A configuration value out of range.
    #[error("invalid vault configuration: {reason}")]
    InvalidConfig {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key id that is empty, too long or holds characters outside the allowed set.
    #[error("invalid key id `{id}`: {reason}")]
    InvalidKeyId {
        /// The rejected id, shortened to at most 64 characters.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A wrapped data key names a master key the keyring does not hold.
    #[error("unknown master key `{id}`")]
    UnknownMasterKey {
        /// The master key id named.
        id: String,
    },
    /// A wrapped data key could not be unwrapped: altered, or bound to another customer,
    /// version or master key.
    #[error("wrapped data key {version} failed to unwrap: altered or bound to another customer")]
    UnwrapFailed {
        /// The version of the data key.
        version: KeyVersion,
    },
    /// A keyring snapshot that is not self-consistent.
    #[error("invalid keyring snapshot: {reason}")]
    InvalidSnapshot {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A data key version sealed as many records as allowed: rotate the customer's data key.
    #[error("data key {version} reached its record limit: rotate the customer's data key")]
    DataKeyExhausted {
        /// The exhausted version.
        version: KeyVersion,
    },
    /// Key versions ran out (more than 2^32 - 1 rotations).
    #[error("key version overflow")]
    KeyVersionOverflow,
    /// Hex text that does not decode to the expected number of bytes.
    #[error("invalid hex in {field}: {reason}")]
    InvalidHex {
        /// The field being decoded.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An environment variable holding a key is not set or not Unicode.
    #[error("environment variable `{name}` is not set or not valid Unicode")]
    MissingEnv {
        /// The variable name.
        name: String,
    },
    /// A key file could not be read.
    #[error("cannot read key file `{path}`: {source}")]
    KeyFile {
        /// The path given.
        path: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The operating system's random number generator failed.
    #[error("system random number generator failed")]
    Random,
    /// A sequence number or counter would overflow.
    #[error("counter overflow in {what}")]
    Overflow {
        /// Which counter.
        what: &'static str,
    },
    /// A vocabulary value or instant from steward-core was out of range.
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl LogsError {
    /// The policy clause behind this error, where the error is a policy outcome.
    ///
    /// Denials cite `logs.access` or `logs.purposes`; a shredded customer and failed
    /// authentication cite `logs.encrypted`; a full roster cites `logs.access`.
    #[must_use]
    pub const fn clause(&self) -> Option<ClauseId> {
        match self {
            Self::Denied { denial } => Some(denial.clause()),
            Self::RosterFull { .. } => Some(ClauseId::LogsAccess),
            Self::Shredded
            | Self::AuthenticationFailed
            | Self::KeyCommitmentMismatch
            | Self::UnknownKeyVersion { .. } => Some(ClauseId::LogsEncrypted),
            _ => None,
        }
    }

    pub(crate) const fn denied(denial: Denial) -> Self {
        Self::Denied { denial }
    }
}
