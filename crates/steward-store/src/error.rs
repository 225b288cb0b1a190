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
    /// The group commit's writer thread could not be started.
    #[error("cannot start the group commit writer: {source}")]
    Thread {
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A group of records did not commit, or the writer stopped; the record was not stored.
    #[error("group commit failed, the record was not stored: {reason}")]
    GroupCommit {
        /// What the writer reported.
        reason: String,
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
    /// A value of a kind this build cannot store yet (a new variant of an upstream enum).
    #[error("cannot store {what}: unknown to this build")]
    Unsupported {
        /// What could not be stored.
        what: &'static str,
    },
}

impl StoreError {
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

#[cfg(feature = "postgres")]
impl<T> Doing<T> for Result<T, postgres::Error> {
    fn doing(self, doing: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Postgres {
            doing,
            source: Box::new(source),
        })
    }
}
