//! The audit chain and its signed checkpoints.
//!
//! Entries are stored as their serde JSON (the form steward-logs defines, exact on the way
//! back), keyed by sequence number, with the entry's instant beside it for range queries. The
//! chain's integrity does not rest on the store: `AuditTrail::verify` recomputes it.

use std::{
    fs::{File, OpenOptions, TryLockError},
    path::{Path, PathBuf},
    thread,
    time::{Duration, Instant},
};

use rusqlite::{Connection, OptionalExtension, params};
use steward_logs::{AuditStore, BoxError, ChainedEntry, Checkpoint, SharedHead};

use crate::{
    SqliteStore, StoreError,
    codec::{Columns, json_text, to_i64, to_u64},
    error::Doing,
    fact_log::checkpoint_supersedes,
    sqlite::BUSY_TIMEOUT,
    sqlite::WriteTx,
};

const ENTRIES: &str = "audit_entries";
const CHECKPOINTS: &str = "audit_checkpoints";

impl WriteTx<'_> {
    /// Appends an audit entry after the newest stored one.
    ///
    /// # Errors
    ///
    /// [`StoreError::SequenceTaken`] if an entry with its sequence number is stored already
    /// (another writer appended it: this chain would fork);
    /// [`StoreError::SequenceOutOfPlace`] if it would leave a gap; [`StoreError::Sqlite`] if
    /// it cannot be stored.
    pub(crate) fn append_audit(&self, entry: &ChainedEntry) -> Result<(), StoreError> {
        let conn = self.conn();
        let sequence = to_i64(entry.sequence(), "the audit sequence number")?;
        let next: i64 = conn
            .query_row(
                "SELECT coalesce(max(sequence) + 1, 0) FROM audit_entries",
                [],
                |row| row.get(0),
            )
            .doing("reading the audit head")?;
        if sequence < next {
            return Err(StoreError::SequenceTaken {
                sequence: entry.sequence(),
            });
        }
        if sequence > next {
            return Err(StoreError::SequenceOutOfPlace {
                sequence: entry.sequence(),
                expected: to_u64(next, ENTRIES, "negative sequence number")?,
            });
        }
        let json = json_text(entry, "an audit entry")?;
        let inserted = conn
            .prepare_cached("INSERT INTO audit_entries (sequence, at, entry) VALUES (?1, ?2, ?3)")
            .and_then(|mut stmt| {
                stmt.execute(params![sequence, entry.entry().at().unix_nanos(), json])
            });
        match inserted {
            Ok(_) => Ok(()),
            // The primary key refuses a taken number even if the check above were bypassed.
            Err(error) if is_constraint(&error) => Err(StoreError::SequenceTaken {
                sequence: entry.sequence(),
            }),
            Err(source) => Err(StoreError::Sqlite {
                doing: "appending an audit entry",
                source,
            }),
        }
    }

    /// Stores a signed checkpoint. Storing the same checkpoint again is harmless.
    ///
    /// # Errors
    ///
    /// [`StoreError::CheckpointConflict`] if a different checkpoint covering as many entries
    /// is stored (two chains of one length: a fork); [`StoreError::Sqlite`] if it cannot be
    /// stored.
    pub(crate) fn put_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let conn = self.conn();
        let entries = to_i64(checkpoint.entries(), "the checkpoint's entry count")?;
        let json = json_text(checkpoint, "a checkpoint")?;
        let inserted = conn
            .execute(
                "INSERT INTO audit_checkpoints (entries, checkpoint) VALUES (?1, ?2) \
                 ON CONFLICT (entries) DO NOTHING",
                params![entries, json],
            )
            .doing("storing a checkpoint")?;
        if inserted == 1 {
            return Ok(());
        }
        let stored = conn
            .query_row(
                "SELECT checkpoint FROM audit_checkpoints WHERE entries = ?1",
                [entries],
                |row| row.get::<_, String>(0),
            )
            .doing("reading a checkpoint")?;
        let stored: Checkpoint = serde_json::from_str(&stored)
            .map_err(|error| StoreError::corrupt(CHECKPOINTS, "invalid checkpoint", error))?;
        if stored == *checkpoint {
            Ok(())
        } else if checkpoint_supersedes(checkpoint, &stored) {
            conn.execute(
                "UPDATE audit_checkpoints SET checkpoint = ?2 WHERE entries = ?1",
                params![entries, json],
            )
            .doing("storing a checkpoint")?;
            Ok(())
        } else {
            Err(StoreError::CheckpointConflict {
                entries: checkpoint.entries(),
            })
        }
    }
}

impl SqliteStore {
    /// The newest audit entry, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the store cannot be read; [`StoreError::Corrupt`] if the
    /// entry does not decode.
    pub fn last_audit_entry(&self) -> Result<Option<ChainedEntry>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT sequence, entry FROM audit_entries ORDER BY sequence DESC LIMIT 1",
                )
                .doing("reading the newest audit entry")?;
            let mut rows = stmt.query([]).doing("reading the newest audit entry")?;
            rows.next()
                .doing("reading the newest audit entry")?
                .map(|row| decode_entry(&Columns::new(row, ENTRIES)))
                .transpose()
        })
    }

    /// Every audit entry, oldest first.
    ///
    /// Read through a connection of its own, in one statement (one snapshot of the write-ahead
    /// log): verifying a long chain holds up no write of the store's shared connection
    /// (stored records, fact changes, other audit entries).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the store cannot be read; [`StoreError::Corrupt`] if an
    /// entry does not decode.
    pub fn audit_entries(&self) -> Result<Vec<ChainedEntry>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare("SELECT sequence, entry FROM audit_entries ORDER BY sequence")
            .doing("reading the audit entries")?;
        let mut rows = stmt.query([]).doing("reading the audit entries")?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next().doing("reading the audit entries")? {
            entries.push(decode_entry(&Columns::new(row, ENTRIES))?);
        }
        Ok(entries)
    }

    /// Stores a signed checkpoint in a transaction of its own. Storing the same checkpoint
    /// again is harmless.
    ///
    /// Public, unlike the other writers: a checkpoint changes no key, fact or record, it is
    /// signed (a forged one fails verification), and `steward audit checkpoint` stores the one
    /// it signs.
    ///
    /// # Errors
    ///
    /// [`StoreError::CheckpointConflict`] if a different checkpoint covering as many entries
    /// is stored (two chains of one length: a fork); [`StoreError::Sqlite`] if it cannot be
    /// stored.
    pub fn put_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        self.write(|tx| tx.put_checkpoint(checkpoint))
    }

    /// Every stored checkpoint, by the number of entries covered.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the store cannot be read; [`StoreError::Corrupt`] if a
    /// checkpoint does not decode.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare("SELECT entries, checkpoint FROM audit_checkpoints ORDER BY entries")
                .doing("reading the checkpoints")?;
            let mut rows = stmt.query([]).doing("reading the checkpoints")?;
            let mut checkpoints = Vec::new();
            while let Some(row) = rows.next().doing("reading the checkpoints")? {
                checkpoints.push(decode_checkpoint(&Columns::new(row, CHECKPOINTS))?);
            }
            Ok(checkpoints)
        })
    }

    /// The checkpoint covering the most entries, if any: the one to verify the chain against
    /// at start-up.
    ///
    /// # Errors
    ///
    /// As [`checkpoints`](Self::checkpoints).
    pub fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        self.read(latest_checkpoint)
    }
}

fn latest_checkpoint(conn: &Connection) -> Result<Option<Checkpoint>, StoreError> {
    conn.query_row(
        "SELECT entries, checkpoint FROM audit_checkpoints ORDER BY entries DESC LIMIT 1",
        [],
        |row| Ok(decode_checkpoint(&Columns::new(row, CHECKPOINTS))),
    )
    .optional()
    .doing("reading the newest checkpoint")?
    .transpose()
}

/// The entry in a row of `sequence, entry`, checked against its sequence column.
fn decode_entry(columns: &Columns<'_, '_>) -> Result<ChainedEntry, StoreError> {
    let sequence = to_u64(columns.i64(0)?, ENTRIES, "negative sequence number")?;
    let entry: ChainedEntry = columns.json(1, "invalid audit entry")?;
    if entry.sequence() != sequence {
        return Err(StoreError::corrupt_row(
            ENTRIES,
            "the entry's sequence number differs from its row's",
        ));
    }
    Ok(entry)
}

/// The checkpoint in a row of `entries, checkpoint`, checked against its entries column.
fn decode_checkpoint(columns: &Columns<'_, '_>) -> Result<Checkpoint, StoreError> {
    let entries = to_u64(columns.i64(0)?, CHECKPOINTS, "negative entry count")?;
    let checkpoint: Checkpoint = columns.json(1, "invalid checkpoint")?;
    if checkpoint.entries() != entries {
        return Err(StoreError::corrupt_row(
            CHECKPOINTS,
            "the checkpoint's entry count differs from its row's",
        ));
    }
    Ok(checkpoint)
}

/// Whether SQLite refused a write for a constraint (a key taken, a check failed).
pub(crate) fn is_constraint(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

/// The audit trail's store: `AuditTrail::new(keys.audit_key()?, store.clone())`.
///
/// `append` returns once the entry is committed (durable, see [`SqliteStore`]), so the vault
/// hands out plaintext only after its audit entry survives a crash.
///
/// Several processes (or several trails in one) may append to one file, as several nodes do
/// on PostgreSQL: [`lock_head`](AuditStore::lock_head) takes the chain's append lock (a lock
/// file beside the database, see `AuditLock`) and returns the newest stored entry, so the
/// trail fixes its entry's instant and continues after whatever another process appended; the
/// lock is held until the append returns. The sequence number stays the primary key, so an
/// appender that skips the lock still cannot fork the chain.
impl AuditStore for SqliteStore {
    fn append(&mut self, entry: ChainedEntry) -> Result<(), BoxError> {
        let appended = self.write(|tx| tx.append_audit(&entry));
        // Released whether or not the entry was stored, as the trait asks.
        self.audit_lock.release();
        Ok(appended?)
    }

    fn last(&self) -> Result<Option<ChainedEntry>, BoxError> {
        Ok(self.last_audit_entry()?)
    }

    fn entries(&self) -> Result<Vec<ChainedEntry>, BoxError> {
        Ok(self.audit_entries()?)
    }

    fn lock_head(&mut self) -> Result<SharedHead, BoxError> {
        self.audit_lock.acquire()?;
        // Read after the lock: every appender that takes it has committed its entry, so this
        // is the chain's head until the lock is released.
        match self.last_audit_entry() {
            Ok(newest) => Ok(SharedHead::Locked(newest.map(Box::new))),
            Err(error) => {
                self.audit_lock.release();
                Err(error.into())
            }
        }
    }

    fn unlock_head(&mut self) {
        self.audit_lock.release();
    }
}

/// The suffix of the audit chain's lock file, beside the database (`steward.db-audit-lock`).
pub(crate) const LOCK_SUFFIX: &str = "-audit-lock";

/// The longest pause between two attempts at a lock another trail holds: the lock is held
/// for one open's decision and fsync, so a waiter should not sleep much longer than that.
const LOCK_PAUSE_MAX: Duration = Duration::from_millis(2);

/// One handle's hold on the audit chain's append lock: an advisory lock (`flock`) on a file
/// beside the database, taken by [`AuditStore::lock_head`] and released when the next
/// append returns. Not SQLite's write lock, which a trail must not hold while it waits for
/// the keyring (a seal on another thread holds the keyring while it stores a new data key).
///
/// The lock belongs to an open file, so each handle opens the file for itself and a clone
/// starts without it: two trails in one process exclude each other as two processes do.
pub(crate) struct AuditLock {
    path: PathBuf,
    file: Option<File>,
    held: bool,
}

impl AuditLock {
    pub(crate) fn new(database: &Path) -> Self {
        let mut path = database.as_os_str().to_owned();
        path.push(LOCK_SUFFIX);
        Self {
            path: PathBuf::from(path),
            file: None,
            held: false,
        }
    }

    /// Takes the lock, waiting at most as long as a write waits for SQLite's lock.
    fn acquire(&mut self) -> Result<(), StoreError> {
        if self.held {
            // `lock_head` again without an append: the lock is this handle's already.
            return Ok(());
        }
        let file = match &mut self.file {
            Some(file) => file,
            slot @ None => slot.insert({
                let mut options = OpenOptions::new();
                options.read(true).write(true).create(true).truncate(false);
                // Private as the database is: no other user may hold the lock.
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, super::PRIVATE_MODE);
                options
                    .open(&self.path)
                    .map_err(|source| StoreError::AuditLock {
                        path: self.path.clone(),
                        source,
                    })?
            }),
        };
        let deadline = Instant::now() + BUSY_TIMEOUT;
        let mut pause = Duration::from_micros(50);
        loop {
            match file.try_lock() {
                Ok(()) => {
                    self.held = true;
                    return Ok(());
                }
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    thread::sleep(pause);
                    pause = (pause * 2).min(LOCK_PAUSE_MAX);
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(StoreError::AuditLockTimeout {
                        seconds: BUSY_TIMEOUT.as_secs(),
                    });
                }
                Err(TryLockError::Error(source)) => {
                    return Err(StoreError::AuditLock {
                        path: self.path.clone(),
                        source,
                    });
                }
            }
        }
    }

    /// Releases the lock if this handle holds it.
    pub(crate) fn release(&mut self) {
        if self.held {
            self.held = false;
            if let Some(file) = &self.file {
                // An unlock that fails leaves the lock to the file's closing: drop the file.
                if file.unlock().is_err() {
                    self.file = None;
                }
            }
        }
    }
}

impl Clone for AuditLock {
    /// The same lock file, not held: the lock is this handle's, never its clone's.
    fn clone(&self) -> Self {
        Self {
            path: self.path.clone(),
            file: None,
            held: false,
        }
    }
}
