//! The error type of steward-logs: one public enum, grouped by operation (see [`LogsError`]).

use std::path::PathBuf;

use steward_core::{ClauseId, CoreError};

use crate::{access::Denial, keys::KeyVersion};

/// Everything that can go wrong while sealing, parsing, opening or auditing log records.
///
/// Every fallible function of the crate returns this type. Each variant but the last two wraps
/// the errors of one operation, so a caller can match a whole class of failure at once
/// (`LogsError::Open(_)`: the record did not open) or one precise cause
/// (`LogsError::Open(OpenError::Shredded)`). This is the shape of `rustls::Error`, whose
/// `InvalidMessage`, `PeerMisbehaved` and `InvalidCertificate` variants each carry a sub-enum
/// (`InvalidMessage`, `PeerMisbehaved`, `CertificateError`), and of age, which keeps what can
/// go wrong decrypting (`DecryptError`) apart from what can go wrong encrypting
/// (`EncryptError`). Unlike rustls's, the wrapping variants are transparent: a message reads
/// the same whichever level prints it. [`clause`](Self::clause) names the policy clause behind
/// the error where it is a policy outcome.
///
/// Messages never contain key material, request content or personal data; ids of records and
/// customers are kept out of messages too, so an error can be logged as it is.
///
/// ```
/// use steward_logs::{LogsError, RecordError, SealedRecord};
///
/// let error = SealedRecord::from_bytes(b"nope, not a record").unwrap_err();
/// assert!(matches!(error, LogsError::Record(RecordError::NotARecord)));
/// assert_eq!(error.to_string(), "not a steward log record: missing the `STWL` magic");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogsError {
    /// Bytes that are not a well-formed record, or a value that no header field holds.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A record that was not opened: refused by the gate, or it did not decrypt.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Key material, key ids, the keyring and its persisted form.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The audit trail: writing it, its clock, and verifying it against its checkpoints.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The vault's limits and the steward roster.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A sequence number, counter or length prefix would overflow. Not tied to one operation:
    /// the audit sequence, a sealing session's nonce counter and the audit encoding's length
    /// prefixes share it. Each guards a bound the crate's types already keep, so it reports a
    /// bug, not bad input.
    #[error("counter overflow in {what}")]
    Overflow {
        /// Which counter.
        what: &'static str,
    },
    /// A vocabulary value or instant from steward-core was out of range.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A lock whose holder panicked: the state it guards may be half-changed, so the
    /// operation fails closed. Restart the process to recover.
    #[error("internal state unavailable after a panic in another thread; restart the process")]
    Poisoned,

    /// A training export's plan names other records than those its grant was asked for.
    #[error("the planned records do not match the export plan's digest and count")]
    PlanMismatch,
    /// A period whose start lies after its end.
    #[error("the period starts at {since}, after its end at {until}")]
    PeriodReversed {
        /// Where it was to start.
        since: steward_core::Timestamp,
        /// Where it was to end.
        until: steward_core::Timestamp,
    },
    /// An audit entry kind that does not exist.
    #[error("unknown audit entry kind `{kind}`: expected access, roster, key, shred or export")]
    UnknownEntryKind {
        /// The name given.
        kind: String,
    },
}

impl LogsError {
    /// The policy clause behind this error, where the error is a policy outcome.
    ///
    /// Denials cite `logs.access` or `logs.purposes`; a shredded customer and failed
    /// authentication cite `logs.encrypted`; a full roster cites `logs.access`.
    #[must_use]
    pub const fn clause(&self) -> Option<ClauseId> {
        match self {
            Self::Open(error) => error.clause(),
            Self::Config(error) => error.clause(),
            _ => None,
        }
    }

    pub(crate) const fn denied(denial: Denial) -> Self {
        Self::Open(OpenError::Denied { denial })
    }
}

/// What is wrong with bytes presented as a sealed record, or with a value for one of its
/// header fields (docs/record-format.md names each check).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
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
}

/// Why a record was not opened: the gate refused the request, or the record did not decrypt
/// under the customer's keys.
///
/// A refusal is audited as such; every other variant is audited as the failure it is (see
/// [`OpenFailure`](crate::OpenFailure)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The policy refused the access request (and the refusal was audited).
    #[error("access denied: {denial} ({clause})", clause = denial.clause())]
    Denied {
        /// Why the request was refused.
        denial: Denial,
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
}

impl OpenError {
    /// The policy clause behind this error: the denial's clause for a refusal, and
    /// `logs.encrypted` for a record that cannot be decrypted.
    #[must_use]
    pub const fn clause(&self) -> Option<ClauseId> {
        match self {
            Self::Denied { denial } => Some(denial.clause()),
            Self::Shredded
            | Self::AuthenticationFailed
            | Self::KeyCommitmentMismatch
            | Self::UnknownKeyVersion { .. } => Some(ClauseId::LogsEncrypted),
        }
    }
}

/// What went wrong with key material (master keys, data keys, the audit key and checkpoint
/// keys), key ids, the keyring and its persisted form, or the randomness keys are drawn from.
///
/// No variant carries key material: a rejected key is described, never shown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Key material of the wrong size or shape (the material itself is never shown).
    #[error("invalid key material: {reason}")]
    InvalidKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A master or audit key that is trivially weak: all zeros, a repeated byte, a short
    /// pattern repeated or a counting sequence (the rule: `steward_logs::KeyMaterial`'s docs).
    #[error(
        "the {what} is trivially weak: {reason}; generate a random one, e.g. `head -c 32 /dev/urandom | xxd -p -c 32`"
    )]
    WeakKey {
        /// Which key: `master key` or `audit key`.
        what: &'static str,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A key file that holds 32 raw bytes instead of 64 hex digits.
    #[error(
        "key file `{}` holds 32 raw bytes, not 64 hex digits: convert it with `xxd -p -c 32 {} > {}.hex` and use the .hex file",
        path.display(), path.display(), path.display()
    )]
    RawKeyFile {
        /// The path given.
        path: PathBuf,
    },
    /// A key file that users other than its owner may read or write (as ssh refuses it).
    #[error(
        "key file `{}` is accessible by group or others (mode {mode:03o}): restrict it with `chmod 600 {}`",
        path.display(), path.display()
    )]
    KeyFileExposed {
        /// The path given.
        path: PathBuf,
        /// The file's permission bits.
        mode: u32,
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
    /// Hex text of a key, hash or signature that does not decode to the expected number of
    /// bytes.
    #[error("invalid hex in {field}: {reason}")]
    InvalidHex {
        /// The field being decoded.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key that did not produce the check value stored for it: not the key the check was
    /// made with (or, for a master key, not under this id).
    #[error("the {what} does not match its stored check value")]
    CheckMismatch {
        /// Which key: `master key` or `audit key`.
        what: &'static str,
    },
    /// A stored check value of the wrong shape.
    #[error("invalid key check value: {reason}")]
    InvalidCheck {
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
    #[error("cannot read key file `{}`", path.display())]
    KeyFile {
        /// The path given.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A signature that does not verify under the key given: the signed content was changed,
    /// or it was signed by another key.
    #[error("the {what} signature does not verify")]
    SignatureInvalid {
        /// What was signed: `consent receipt`.
        what: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("system random number generator failed")]
    Random,
    /// The key store did not confirm a write: the key change it carried did not take effect
    /// (a new data key was not issued, a shred or rotation was not applied).
    #[error("key store unavailable, the key change did not take effect")]
    StoreUnavailable {
        /// What the store reported.
        #[source]
        source: crate::BoxError,
    },
}

/// What went wrong writing or verifying the audit trail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The audit entry could not be written, so nothing was returned (fail closed).
    #[error("audit trail unavailable, nothing was opened")]
    Unavailable {
        /// What the store reported.
        #[source]
        source: crate::BoxError,
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
}

/// A configuration value out of range: the vault's sealing limits and the steward roster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A configuration value out of range.
    #[error("invalid seal configuration: {reason}")]
    InvalidConfig {
        /// What is wrong with it.
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
    /// A change through the vault's `update_facts` replaced the whole facts value, and with
    /// it a roster that changes only through the vault's audited calls: the vault decides
    /// nothing from then on (fail closed) until it is built again.
    #[error(
        "the facts were replaced outside the vault's audited roster changes: the vault refuses to decide until it is opened again"
    )]
    FactsReplaced,
    /// The roster change was audited but could not be stored by the facts that keep the
    /// roster; it did not apply.
    #[error("the roster change could not be stored")]
    RosterUnavailable {
        /// What the facts' store reported.
        #[source]
        source: crate::BoxError,
    },
}

impl ConfigError {
    /// The policy clause behind this error: `logs.access` for a full roster.
    #[must_use]
    pub const fn clause(&self) -> Option<ClauseId> {
        match self {
            Self::RosterFull { .. } => Some(ClauseId::LogsAccess),
            Self::InvalidConfig { .. }
            | Self::InvalidRoster { .. }
            | Self::FactsReplaced
            | Self::RosterUnavailable { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn grouping_leaves_messages_as_they_were() {
        let cases: [(LogsError, &str); 4] = [
            (
                OpenError::Shredded.into(),
                "the customer's data keys were crypto-shredded: the record can never be opened",
            ),
            (
                RecordError::UnsupportedVersion { version: 9 }.into(),
                "unsupported record format version `9`",
            ),
            (
                AuditError::CheckpointSignature.into(),
                "checkpoint signature does not verify",
            ),
            (
                ConfigError::RosterFull { max: 3 }.into(),
                "steward roster is full: at most 3 stewards (logs.access: a select few)",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn clauses_come_from_the_groups() {
        let clause = |error: LogsError| error.clause();
        assert_eq!(
            clause(
                OpenError::Denied {
                    denial: Denial::NotOnRoster
                }
                .into()
            ),
            Some(Denial::NotOnRoster.clause())
        );
        assert_eq!(
            clause(OpenError::AuthenticationFailed.into()),
            Some(ClauseId::LogsEncrypted)
        );
        assert_eq!(
            clause(ConfigError::RosterFull { max: 1 }.into()),
            Some(ClauseId::LogsAccess)
        );
        assert_eq!(
            clause(ConfigError::InvalidConfig { reason: "x" }.into()),
            None
        );
        assert_eq!(clause(KeyError::Random.into()), None);
        assert_eq!(clause(RecordError::NotARecord.into()), None);
    }

    #[test]
    fn a_key_file_error_keeps_the_path_and_the_io_error_as_its_source() {
        let path = PathBuf::from("/nonexistent/steward/master.key");
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "not found");
        let error = LogsError::from(KeyError::KeyFile {
            path: path.clone(),
            source: io,
        });
        // The cause is returned, not displayed: a chain printer names it once.
        assert_eq!(
            error.to_string(),
            "cannot read key file `/nonexistent/steward/master.key`"
        );
        assert_eq!(
            error.source().map(ToString::to_string).as_deref(),
            Some("not found")
        );
        let source = error
            .source()
            .and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(
            source.map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound)
        );
        assert!(matches!(
            error,
            LogsError::Key(KeyError::KeyFile { path: ref p, .. }) if *p == path
        ));
    }
}
