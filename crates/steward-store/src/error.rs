//! The error type of steward-store.

use std::{error::Error, path::PathBuf};

use steward_core::RecordId;
use steward_logs::{KeyVersion, LogsError, MasterKeyId, Tombstone};

/// Everything that can go wrong while creating, opening, reading or writing a store.
///
/// Messages never contain key material, sealed bytes or personal data; customer and record
/// ids are kept out of them too (as in the other Steward crates), so an error can be logged
/// as it is. Master key ids, schema versions, audit sequence numbers, consent receipt numbers
/// and hold ids are not personal and are named.
///
/// A caller that asks what kind of failure it is, rather than which one, uses the
/// predicates: [`is_refused`](Self::is_refused), [`is_conflict`](Self::is_conflict),
/// [`is_corrupt`](Self::is_corrupt), [`is_wrong_key`](Self::is_wrong_key) and
/// [`is_unavailable`](Self::is_unavailable). A variant that wraps an error displays no
/// cause of its own: the cause is returned by [`source`](Error::source), so a printer that
/// follows the chain names each cause once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// [`create`](crate::SqliteStore::create) found a file at the path.
    #[error("store `{path}` already exists: open it, or create the store at a new path")]
    AlreadyExists {
        /// The path given.
        path: PathBuf,
    },
    /// The file could not be created.
    #[error("cannot create store `{path}`")]
    Create {
        /// The path given.
        path: PathBuf,
        /// What the file system reported.
        #[source]
        source: std::io::Error,
    },
    /// A file of the store could not be removed.
    #[error("cannot remove `{path}`")]
    Remove {
        /// The file.
        path: PathBuf,
        /// What the file system reported.
        #[source]
        source: std::io::Error,
    },
    /// The write-ahead log could not be turned on (some network file systems refuse it):
    /// without it, the store's durability and concurrency promises do not hold.
    #[error("the store needs the `wal` journal mode, and got `{mode}`")]
    JournalMode {
        /// The journal mode SQLite reported.
        mode: String,
    },
    /// The file could not be opened as a database.
    #[error("cannot open store `{path}`")]
    Open {
        /// The path given.
        path: PathBuf,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is a database, but not a Steward store.
    #[error("`{path}` is not a steward store: {reason}")]
    NotAStore {
        /// The path given.
        path: PathBuf,
        /// What gave it away.
        reason: &'static str,
    },
    /// The file was written by a newer build, whose schema this build does not know.
    #[error(
        "schema version `{found}` is newer than this build's `{supported}`: run a build that \
         knows it"
    )]
    SchemaTooNew {
        /// The version recorded in the file.
        found: u32,
        /// The newest version this build migrates to.
        supported: u32,
    },
    /// A migration failed; the file stays at the version before it.
    #[error("migration to schema version `{version}` failed")]
    Migration {
        /// The version the failed migration leads to.
        version: u32,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },
    /// The master key given is not the one the store was created with (or registered).
    #[error("wrong master key: the key given as `{id}` is not the one this store knows by that id")]
    WrongMasterKey {
        /// The id the key was given under.
        id: MasterKeyId,
    },
    /// The master key given is not the one the stored data keys are wrapped under.
    #[error("this store's data keys are wrapped under master key `{current}`, not `{given}`")]
    MasterKeyNotCurrent {
        /// The id given.
        given: MasterKeyId,
        /// The id the store's data keys are wrapped under.
        current: MasterKeyId,
    },
    /// The audit key given is not the one the store was created with.
    #[error("wrong audit key: the key given is not the one this store was created with")]
    WrongAuditKey,
    /// Key material of the wrong length.
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Building a key type of steward-logs failed.
    #[error(transparent)]
    Logs(#[from] LogsError),
    /// A database operation failed.
    #[error("database error while {doing}")]
    Sqlite {
        /// What the store was doing.
        doing: &'static str,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },
    /// The PostgreSQL store (feature `postgres`) failed. The source says why: a
    /// `postgres::Error` when the client or server reported one, or a `pg::PgError` when the
    /// store refused on its own account (an invalid configuration, a connection pool that
    /// stayed busy, a schema holding no store).
    ///
    /// One variant, present whatever the features, so that the enum's shape does not depend
    /// on them; only the `postgres` feature constructs it.
    #[error("PostgreSQL error while {doing}")]
    Postgres {
        /// What the store was doing.
        doing: &'static str,
        /// What the client, the server or the store reported.
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },
    /// The facts could not be brought up to date with the other writers' changes within the
    /// configured bound: nothing is decided from them until they are.
    #[error("the facts are stale: they could not catch up with the shared store within the bound")]
    FactsStale,
    /// A stored row does not decode into the value it should hold: the file was edited or
    /// damaged outside this crate.
    #[error("corrupt row in table `{table}`: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What is wrong with the row.
        reason: &'static str,
        /// The decoding error, if there was one (it may quote the stored value).
        #[source]
        source: Option<Box<dyn Error + Send + Sync>>,
    },
    /// The sealed bytes stored under a record id are not that record's: their header names
    /// another record, or another customer than the row. Stored blobs were swapped or copied
    /// between rows outside this crate, and the record is not served (opening it would show
    /// another record's content under this id).
    #[error(
        "corrupt row in table `records`: the bytes stored under the record id asked for are \
         sealed as another record"
    )]
    RecordMismatch {
        /// The record id asked for (kept out of the message, as every id is).
        id: RecordId,
    },
    /// A value could not be encoded for storage.
    #[error("cannot encode {what} for storage")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// What the encoder reported.
        #[source]
        source: serde_json::Error,
    },
    /// A number does not fit the column that stores it.
    #[error("{what} is out of the range the store can hold")]
    OutOfRange {
        /// Which number.
        what: &'static str,
    },
    /// The audit store already holds an entry with this sequence number: another writer
    /// appended it, so this chain would fork.
    #[error("audit sequence number `{sequence}` is already taken")]
    SequenceTaken {
        /// The refused sequence number.
        sequence: u64,
    },
    /// An audit entry that does not follow the newest stored one.
    #[error(
        "audit entry `{sequence}` does not follow the stored chain, whose next is `{expected}`"
    )]
    SequenceOutOfPlace {
        /// The refused sequence number.
        sequence: u64,
        /// The sequence number the next entry must have.
        expected: u64,
    },
    /// A different signed checkpoint is already stored for the same number of entries: two
    /// chains of the same length, a fork.
    #[error("a different checkpoint at `{entries}` entries is already stored")]
    CheckpointConflict {
        /// The number of entries both checkpoints cover.
        entries: u64,
    },
    /// A different wrapped data key is already stored for the customer and version.
    #[error("a different data key {version} is already stored for the customer")]
    DataKeyConflict {
        /// The version.
        version: KeyVersion,
    },
    /// A data key at or below its customer's tombstone: that version was destroyed.
    #[error("data key {version} was destroyed: the customer is shredded {tombstone}")]
    DataKeyShredded {
        /// The refused version.
        version: KeyVersion,
        /// The customer's tombstone.
        tombstone: Tombstone,
    },
    /// A data key wrapped under another master key than the one it is stored for.
    #[error("data key wrapped under master key `{found}`, expected `{expected}`")]
    WrappedUnderOtherKey {
        /// The master key id the wrap names.
        found: MasterKeyId,
        /// The master key id the write is for.
        expected: MasterKeyId,
    },
    /// A master key that was never registered with the store.
    #[error("master key `{id}` is not registered with this store: register it before rewrapping")]
    UnknownMasterKey {
        /// The id.
        id: MasterKeyId,
    },
    /// A rewrap whose keys are not exactly the stored ones: applying it would destroy the
    /// keys it leaves out.
    #[error("the rewrapped keys are not the stored keys: {stored} stored, {given} given")]
    RewrapMismatch {
        /// How many data keys are stored.
        stored: u64,
        /// How many rewrapped keys were given.
        given: u64,
    },
    /// A different sealed record is already stored under the same record id.
    #[error("a different sealed record is already stored under the record id")]
    RecordConflict,
    /// A stored consent change that no longer replays, or a change the ledger refused.
    #[error(transparent)]
    Consent(#[from] steward_consent::ConsentError),
    /// A stored relationship or hold change that no longer replays, or one refused.
    #[error(transparent)]
    Retention(#[from] steward_retention::RetentionError),
    /// A change was accepted in memory but its row did not commit: memory and the file may
    /// differ, so the facts refuse to answer until the vault is opened again.
    #[error(
        "the facts in memory may differ from the store after a failed commit: reopen the vault"
    )]
    FactsDiverged,
    /// The audit chain verifies but ends before the newest stored checkpoint: entries were
    /// removed from the end.
    #[error(
        "the audit chain ends before its newest checkpoint at entry {checkpoint}: entries were removed"
    )]
    ChainShorterThanCheckpoint {
        /// How many entries the checkpoint covers.
        checkpoint: u64,
    },
    /// The fact log (consent, relationships, holds, roster) does not verify under the audit
    /// key: an entry was edited, deleted, inserted or reordered, or written by someone
    /// without the key, or the log no longer reaches the head its newest checkpoint signed.
    /// Nothing is decided from such a store.
    #[error("the fact log is broken at entry {sequence}: {reason}")]
    FactLogBroken {
        /// The first entry that does not verify (from 1).
        sequence: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A schema version 1 file holds facts as plain rows, which this build cannot prove:
    /// the file is left at version 1, untouched.
    #[error(
        "the store keeps facts in table `{table}` as schema version 1 did, unproven: open it with the build that wrote it and move its facts to a new store"
    )]
    UnprovenFacts {
        /// The first v1 fact table that holds rows.
        table: &'static str,
    },
    /// A thread of the store (the group commit writer, a follower that keeps the facts
    /// current) could not be started.
    #[error("cannot start a thread of the store")]
    Thread {
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The group commit's writer is shut down or stopped, so the record was not stored. (A
    /// group that did not commit is reported as the store's own error for the record.)
    #[error("group commit failed, the record was not stored: {reason}")]
    GroupCommit {
        /// What happened to the writer. The channel to it reports no more than that it is
        /// closed, so there is no underlying error to return.
        reason: &'static str,
    },
    /// The audit chain's lock file could not be opened or locked.
    #[error("cannot lock the audit chain with `{path}`")]
    AuditLock {
        /// The lock file, beside the database.
        path: PathBuf,
        /// What the file system reported.
        #[source]
        source: std::io::Error,
    },
    /// Another trail (in this process or another) held the audit chain's append lock for
    /// longer than a write waits: nothing was appended.
    #[error(
        "another process held the audit chain's lock for over {seconds} s: nothing was audited"
    )]
    AuditLockTimeout {
        /// How long this trail waited.
        seconds: u64,
    },
    /// The in-memory record store (`MemoryRecords`, an `Ingest::memory` handle's) holds as
    /// many records as it may: nothing more is stored, nothing is dropped.
    #[error("the in-memory record store is full ({capacity} records): the record was not stored")]
    MemoryFull {
        /// How many records it holds.
        capacity: usize,
    },
    /// A value of a kind this build cannot store yet (a new variant of an upstream enum).
    #[error("cannot store {what}: unknown to this build")]
    Unsupported {
        /// What could not be stored.
        what: &'static str,
    },
}

/// The classes [`StoreError`]'s predicates answer from: each error is in exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// [`StoreError::is_refused`].
    Refused,
    /// [`StoreError::is_conflict`].
    Conflict,
    /// [`StoreError::is_corrupt`].
    Corrupt,
    /// [`StoreError::is_wrong_key`].
    WrongKey,
    /// [`StoreError::is_unavailable`].
    Unavailable,
    /// None of the predicates: a store this build cannot use (not a store, a newer schema,
    /// a configuration), or a value it cannot store.
    Other,
}

/// What the predicates ask of an error of steward-logs the store passes on.
fn logs_class(error: &LogsError) -> Class {
    use steward_logs::{AuditError, ConfigError, KeyError, OpenError, RecordError};
    match error {
        LogsError::Audit(AuditError::Unavailable { .. })
        | LogsError::Key(KeyError::StoreUnavailable { .. } | KeyError::KeyFile { .. })
        | LogsError::Config(ConfigError::RosterUnavailable { .. })
        | LogsError::Poisoned => Class::Unavailable,
        LogsError::Audit(
            AuditError::ChainBroken { .. }
            | AuditError::CheckpointMismatch { .. }
            | AuditError::CheckpointSignature,
        )
        | LogsError::Open(OpenError::KeyCommitmentMismatch | OpenError::AuthenticationFailed)
        | LogsError::Key(KeyError::UnwrapFailed { .. })
        | LogsError::Record(
            RecordError::Truncated { .. }
            | RecordError::NotARecord
            | RecordError::InvalidHeader { .. },
        ) => Class::Corrupt,
        LogsError::Key(
            KeyError::CheckMismatch { .. }
            | KeyError::InvalidKey { .. }
            | KeyError::WeakKey { .. }
            | KeyError::RawKeyFile { .. }
            | KeyError::KeyFileExposed { .. },
        ) => Class::WrongKey,
        // steward-logs' enums are `#[non_exhaustive]`: what is not named above (a policy
        // denial, a shredded customer, a full roster, ...) answers no predicate.
        _ => Class::Other,
    }
}

/// Predicates for callers that ask what kind of failure an error is, not which one (the
/// way `jiff::Error::is_range` does). Each error answers `true` to at most one of them:
///
/// | Predicate | The store | Retrying |
/// |---|---|---|
/// | [`is_refused`](Self::is_refused) | refused a change its rules forbid | the same change fails again |
/// | [`is_conflict`](Self::is_conflict) | holds something else where the write goes | after reading what is stored |
/// | [`is_corrupt`](Self::is_corrupt) | holds data that does not decode or verify | never: restore or investigate |
/// | [`is_wrong_key`](Self::is_wrong_key) | was given a key that is not its key | with the right key |
/// | [`is_unavailable`](Self::is_unavailable) | could not do it (I/O, database, stale facts) | later, or after reopening |
///
/// An error that answers none is a store this build cannot use (a file that is not a
/// store, a newer schema, a bad configuration) or a value it cannot store.
impl StoreError {
    /// The ledger, the relationships, the holds or the key records refused a change: it
    /// breaks one of their rules (a backdated consent change, a relationship that is not
    /// open, a data key that was destroyed, a rewrap that leaves keys out). Nothing was
    /// written, and the same change is refused again.
    ///
    /// [`Consent`](Self::Consent) and [`Retention`](Self::Retention) always answer `true`;
    /// while a store opens, they mean a stored change that no longer replays.
    ///
    /// ```
    /// use steward_store::StoreError;
    ///
    /// let unregistered = StoreError::UnknownMasterKey { id: "m-2025".parse().unwrap() };
    /// assert!(unregistered.is_refused());
    /// assert!(!StoreError::RecordConflict.is_refused());
    /// ```
    #[must_use]
    pub fn is_refused(&self) -> bool {
        self.class() == Class::Refused
    }

    /// The write contradicts what is already stored: a different record, data key or
    /// checkpoint under the same id, an audit sequence number another writer took, a store
    /// where one is to be created. Nothing was written; read what is stored before trying
    /// again.
    ///
    /// ```
    /// use steward_store::StoreError;
    ///
    /// assert!(StoreError::RecordConflict.is_conflict());
    /// assert!(StoreError::SequenceTaken { sequence: 7 }.is_conflict());
    /// assert!(!StoreError::FactsStale.is_conflict());
    /// ```
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        self.class() == Class::Conflict
    }

    /// Stored data does not decode or does not verify: a row edited or damaged outside
    /// Steward, a record stored under another's id, a broken audit chain or fact log, a
    /// chain cut short of its checkpoint, facts of schema version 1 that cannot be proven.
    /// Nothing is decided from such data; restore the store or find out who wrote it.
    ///
    /// ```
    /// use steward_store::StoreError;
    ///
    /// let broken = StoreError::FactLogBroken { sequence: 3, reason: "the entry's mac does not verify" };
    /// assert!(broken.is_corrupt());
    /// assert!(StoreError::ChainShorterThanCheckpoint { checkpoint: 10 }.is_corrupt());
    /// assert!(!StoreError::WrongAuditKey.is_corrupt());
    /// ```
    #[must_use]
    pub fn is_corrupt(&self) -> bool {
        self.class() == Class::Corrupt
    }

    /// The master or audit key given is not this store's (or is not a key at all): nothing
    /// was read with it. Open the store again with the right key.
    ///
    /// ```
    /// use steward_store::StoreError;
    ///
    /// assert!(StoreError::WrongAuditKey.is_wrong_key());
    /// let wrong = StoreError::WrongMasterKey { id: "m-2025".parse().unwrap() };
    /// assert!(wrong.is_wrong_key());
    /// assert!(!StoreError::FactsStale.is_wrong_key());
    /// ```
    #[must_use]
    pub fn is_wrong_key(&self) -> bool {
        self.class() == Class::WrongKey
    }

    /// The store could not do what was asked, and its data is not known to be at fault: the
    /// file system, SQLite, PostgreSQL or its connection pool failed, a thread or the audit
    /// lock was not had, the group commit writer stopped, or the facts are stale or may
    /// differ from the stored ones. Trying again later (for diverged facts, after opening
    /// the vault again) may succeed.
    ///
    /// ```
    /// use steward_store::StoreError;
    ///
    /// assert!(StoreError::FactsStale.is_unavailable());
    /// assert!(StoreError::AuditLockTimeout { seconds: 5 }.is_unavailable());
    /// assert!(!StoreError::RecordConflict.is_unavailable());
    /// ```
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        self.class() == Class::Unavailable
    }

    /// The one class this error is in. The match names every variant, so a new one does
    /// not compile until it is classified.
    fn class(&self) -> Class {
        match self {
            Self::Consent(_)
            | Self::Retention(_)
            | Self::DataKeyShredded { .. }
            | Self::WrappedUnderOtherKey { .. }
            | Self::UnknownMasterKey { .. }
            | Self::RewrapMismatch { .. } => Class::Refused,
            Self::AlreadyExists { .. }
            | Self::SequenceTaken { .. }
            | Self::SequenceOutOfPlace { .. }
            | Self::CheckpointConflict { .. }
            | Self::DataKeyConflict { .. }
            | Self::RecordConflict => Class::Conflict,
            Self::Corrupt { .. }
            | Self::RecordMismatch { .. }
            | Self::ChainShorterThanCheckpoint { .. }
            | Self::FactLogBroken { .. }
            | Self::UnprovenFacts { .. } => Class::Corrupt,
            Self::WrongMasterKey { .. }
            | Self::MasterKeyNotCurrent { .. }
            | Self::WrongAuditKey
            | Self::InvalidKey { .. } => Class::WrongKey,
            Self::Create { .. }
            | Self::Remove { .. }
            | Self::Open { .. }
            | Self::Migration { .. }
            | Self::Sqlite { .. }
            | Self::FactsStale
            | Self::FactsDiverged
            | Self::Thread { .. }
            | Self::GroupCommit { .. }
            | Self::AuditLock { .. }
            | Self::AuditLockTimeout { .. }
            | Self::MemoryFull { .. } => Class::Unavailable,
            Self::Postgres { source, .. } => postgres_class(source.as_ref()),
            Self::JournalMode { .. }
            | Self::NotAStore { .. }
            | Self::SchemaTooNew { .. }
            | Self::Encode { .. }
            | Self::OutOfRange { .. }
            | Self::Unsupported { .. } => Class::Other,
            Self::Logs(error) => logs_class(error),
        }
    }

    /// A corrupt row with the decoding error as its source.
    pub(crate) fn corrupt(
        table: &'static str,
        reason: &'static str,
        source: impl Into<Box<dyn Error + Send + Sync>>,
    ) -> Self {
        Self::Corrupt {
            table,
            reason,
            source: Some(source.into()),
        }
    }

    /// A corrupt row without an underlying error.
    pub(crate) const fn corrupt_row(table: &'static str, reason: &'static str) -> Self {
        Self::Corrupt {
            table,
            reason,
            source: None,
        }
    }
}

/// Attaches what the store was doing to a SQLite error.
pub(crate) trait Doing<T> {
    /// Wraps the error as [`StoreError::Sqlite`].
    fn doing(self, doing: &'static str) -> Result<T, StoreError>;
}

impl<T> Doing<T> for Result<T, rusqlite::Error> {
    fn doing(self, doing: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite { doing, source })
    }
}

/// A PostgreSQL error's class: a configuration that cannot work or a schema that holds no
/// store is neither refused nor a failure of the server; anything else is the server or the
/// network, which may answer again.
fn postgres_class(source: &(dyn Error + Send + Sync + 'static)) -> Class {
    #[cfg(feature = "postgres")]
    if let Some(
        crate::pg::PgError::InvalidConfig { .. } | crate::pg::PgError::StoreMissing { .. },
    ) = source.downcast_ref::<crate::pg::PgError>()
    {
        return Class::Other;
    }
    #[cfg(not(feature = "postgres"))]
    let _ = source;
    Class::Unavailable
}

#[cfg(feature = "postgres")]
impl<T> Doing<T> for Result<T, postgres::Error> {
    fn doing(self, doing: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Postgres {
            doing,
            source: Box::new(source),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeSet, io};

    use steward_logs::{AuditError, KeyError, OpenError, RecordError};

    use super::*;

    /// The number of variants of [`StoreError`] (the arms of [`intended`]); the same with
    /// and without the `postgres` feature.
    const VARIANTS: usize = 41;

    /// The class each variant is meant to be in, and a number naming the variant. The match
    /// names every variant, so a new one does not compile until it is classified here too;
    /// [`VARIANTS`] then needs a raise and [`samples`] a sample of it.
    fn intended(error: &StoreError) -> (usize, Class) {
        use Class::{Conflict, Corrupt, Other, Refused, Unavailable, WrongKey};
        match error {
            StoreError::AlreadyExists { .. } => (0, Conflict),
            StoreError::Create { .. } => (1, Unavailable),
            StoreError::Remove { .. } => (2, Unavailable),
            StoreError::JournalMode { .. } => (3, Other),
            StoreError::Open { .. } => (4, Unavailable),
            StoreError::NotAStore { .. } => (5, Other),
            StoreError::SchemaTooNew { .. } => (6, Other),
            StoreError::Migration { .. } => (7, Unavailable),
            StoreError::WrongMasterKey { .. } => (8, WrongKey),
            StoreError::MasterKeyNotCurrent { .. } => (9, WrongKey),
            StoreError::WrongAuditKey => (10, WrongKey),
            StoreError::InvalidKey { .. } => (11, WrongKey),
            StoreError::Logs(error) => (12, logs_class(error)),
            StoreError::Sqlite { .. } => (13, Unavailable),
            StoreError::FactsStale => (14, Unavailable),
            StoreError::Corrupt { .. } => (15, Corrupt),
            StoreError::RecordMismatch { .. } => (16, Corrupt),
            StoreError::Encode { .. } => (17, Other),
            StoreError::OutOfRange { .. } => (18, Other),
            StoreError::SequenceTaken { .. } => (19, Conflict),
            StoreError::SequenceOutOfPlace { .. } => (20, Conflict),
            StoreError::CheckpointConflict { .. } => (21, Conflict),
            StoreError::DataKeyConflict { .. } => (22, Conflict),
            StoreError::DataKeyShredded { .. } => (23, Refused),
            StoreError::WrappedUnderOtherKey { .. } => (24, Refused),
            StoreError::UnknownMasterKey { .. } => (25, Refused),
            StoreError::RewrapMismatch { .. } => (26, Refused),
            StoreError::RecordConflict => (27, Conflict),
            StoreError::Consent(_) => (28, Refused),
            StoreError::Retention(_) => (29, Refused),
            StoreError::FactsDiverged => (30, Unavailable),
            StoreError::ChainShorterThanCheckpoint { .. } => (31, Corrupt),
            StoreError::FactLogBroken { .. } => (32, Corrupt),
            StoreError::UnprovenFacts { .. } => (33, Corrupt),
            StoreError::Thread { .. } => (34, Unavailable),
            StoreError::GroupCommit { .. } => (35, Unavailable),
            StoreError::AuditLock { .. } => (36, Unavailable),
            StoreError::AuditLockTimeout { .. } => (37, Unavailable),
            StoreError::Unsupported { .. } => (38, Other),
            StoreError::MemoryFull { .. } => (40, Unavailable),
            StoreError::Postgres { source, .. } => {
                let class = match source.to_string() {
                    text if text.starts_with("invalid configuration")
                        || text.starts_with("no Steward store") =>
                    {
                        Other
                    }
                    _ => Unavailable,
                };
                (39, class)
            }
        }
    }

    fn io_error() -> io::Error {
        io::Error::new(io::ErrorKind::PermissionDenied, "denied")
    }

    fn master_key_id() -> MasterKeyId {
        "m-2025".parse().unwrap()
    }

    fn version() -> KeyVersion {
        KeyVersion::new(1).unwrap()
    }

    /// One error of each variant (and of the steward-logs errors the store passes on).
    fn samples() -> Vec<StoreError> {
        let sqlite = || rusqlite::Error::QueryReturnedNoRows;
        let samples = vec![
            StoreError::AlreadyExists { path: "s".into() },
            StoreError::Create {
                path: "s".into(),
                source: io_error(),
            },
            StoreError::Remove {
                path: "s".into(),
                source: io_error(),
            },
            StoreError::JournalMode {
                mode: "delete".into(),
            },
            StoreError::Open {
                path: "s".into(),
                source: sqlite(),
            },
            StoreError::NotAStore {
                path: "s".into(),
                reason: "no schema",
            },
            StoreError::SchemaTooNew {
                found: 9,
                supported: 2,
            },
            StoreError::Migration {
                version: 2,
                source: sqlite(),
            },
            StoreError::WrongMasterKey {
                id: master_key_id(),
            },
            StoreError::MasterKeyNotCurrent {
                given: master_key_id(),
                current: master_key_id(),
            },
            StoreError::WrongAuditKey,
            StoreError::InvalidKey {
                reason: "too short",
            },
            StoreError::Logs(LogsError::Poisoned),
            StoreError::Sqlite {
                doing: "reading",
                source: sqlite(),
            },
            StoreError::FactsStale,
            StoreError::corrupt_row("records", "bad"),
            StoreError::RecordMismatch { id: RecordId::MIN },
            StoreError::Encode {
                what: "a value",
                source: serde_json::from_str::<u8>("x").unwrap_err(),
            },
            StoreError::OutOfRange { what: "a count" },
            StoreError::SequenceTaken { sequence: 1 },
            StoreError::SequenceOutOfPlace {
                sequence: 3,
                expected: 2,
            },
            StoreError::CheckpointConflict { entries: 4 },
            StoreError::DataKeyConflict { version: version() },
            StoreError::DataKeyShredded {
                version: version(),
                tombstone: Tombstone::new(Some(version())),
            },
            StoreError::WrappedUnderOtherKey {
                found: master_key_id(),
                expected: master_key_id(),
            },
            StoreError::UnknownMasterKey {
                id: master_key_id(),
            },
            StoreError::RewrapMismatch {
                stored: 2,
                given: 1,
            },
            StoreError::RecordConflict,
            StoreError::Consent(steward_consent::ConsentError::ReceiptsExhausted),
            StoreError::Retention(steward_retention::RetentionError::NoOpenRelationship),
            StoreError::FactsDiverged,
            StoreError::ChainShorterThanCheckpoint { checkpoint: 5 },
            StoreError::FactLogBroken {
                sequence: 1,
                reason: "bad mac",
            },
            StoreError::UnprovenFacts {
                table: "consent_changes",
            },
            StoreError::Thread { source: io_error() },
            StoreError::GroupCommit {
                reason: "the writer thread stopped",
            },
            StoreError::AuditLock {
                path: "s.lock".into(),
                source: io_error(),
            },
            StoreError::AuditLockTimeout { seconds: 5 },
            StoreError::MemoryFull { capacity: 8 },
            StoreError::Unsupported {
                what: "a new level",
            },
            StoreError::Logs(LogsError::Audit(AuditError::CheckpointSignature)),
            StoreError::Logs(LogsError::Audit(AuditError::ChainBroken {
                sequence: 1,
                reason: "x",
            })),
            StoreError::Logs(LogsError::Audit(AuditError::Unavailable {
                source: "down".into(),
            })),
            StoreError::Logs(LogsError::Open(OpenError::AuthenticationFailed)),
            StoreError::Logs(LogsError::Open(OpenError::Shredded)),
            StoreError::Logs(LogsError::Record(RecordError::NotARecord)),
            StoreError::Logs(LogsError::Key(KeyError::CheckMismatch {
                what: "audit key",
            })),
            StoreError::Logs(LogsError::Key(KeyError::StoreUnavailable {
                source: "down".into(),
            })),
            StoreError::Postgres {
                doing: "connecting",
                source: "connection refused".into(),
            },
        ];
        #[cfg(feature = "postgres")]
        let samples = samples
            .into_iter()
            .chain([
                StoreError::Postgres {
                    doing: "reading",
                    source: Box::new("port=x".parse::<postgres::Config>().unwrap_err()),
                },
                StoreError::Postgres {
                    doing: "configuring",
                    source: Box::new(crate::pg::PgError::InvalidConfig { reason: "no host" }),
                },
                StoreError::Postgres {
                    doing: "connecting",
                    source: Box::new(crate::pg::PgError::PoolExhausted { max: 4 }),
                },
                StoreError::Postgres {
                    doing: "opening",
                    source: Box::new(crate::pg::PgError::StoreMissing {
                        schema: "steward".into(),
                    }),
                },
            ])
            .collect();
        samples
    }

    /// The predicates, in the order of [`Class`]'s variants but `Other`.
    fn answers(error: &StoreError) -> [bool; 5] {
        [
            error.is_refused(),
            error.is_conflict(),
            error.is_corrupt(),
            error.is_wrong_key(),
            error.is_unavailable(),
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
            let expected = [
                Class::Refused,
                Class::Conflict,
                Class::Corrupt,
                Class::WrongKey,
                Class::Unavailable,
            ]
            .map(|each| each == class);
            assert_eq!(answers(error), expected, "{error:?}");
        }
    }

    #[test]
    fn steward_logs_errors_are_classified_by_what_they_say() {
        let class = |error: LogsError| StoreError::Logs(error).class();
        assert_eq!(
            class(LogsError::Audit(AuditError::CheckpointSignature)),
            Class::Corrupt
        );
        assert_eq!(
            class(LogsError::Open(OpenError::KeyCommitmentMismatch)),
            Class::Corrupt
        );
        assert_eq!(
            class(LogsError::Record(RecordError::NotARecord)),
            Class::Corrupt
        );
        assert_eq!(
            class(LogsError::Key(KeyError::CheckMismatch {
                what: "master key"
            })),
            Class::WrongKey
        );
        // A refused key (weak, raw, readable by others) is the wrong key: nothing was read.
        assert_eq!(
            class(LogsError::Key(KeyError::WeakKey {
                what: "audit key",
                reason: "a short pattern repeated"
            })),
            Class::WrongKey
        );
        assert_eq!(
            class(LogsError::Key(KeyError::KeyFileExposed {
                path: "audit.key".into(),
                mode: 0o644
            })),
            Class::WrongKey
        );
        assert_eq!(
            class(LogsError::Audit(AuditError::Unavailable {
                source: "down".into()
            })),
            Class::Unavailable
        );
        assert_eq!(class(LogsError::Poisoned), Class::Unavailable);
        assert_eq!(class(LogsError::Open(OpenError::Shredded)), Class::Other);
    }
}
