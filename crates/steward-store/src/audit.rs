//! The audit chain and its signed checkpoints.
//!
//! Entries are stored as their serde JSON (the form steward-logs defines, exact on the way
//! back), keyed by sequence number, with the entry's instant beside it for range queries. The
//! chain's integrity does not rest on the store: `AuditTrail::verify` recomputes it.

use rusqlite::{Connection, OptionalExtension, params};
use steward_logs::{AuditStore, BoxError, ChainedEntry, Checkpoint};

use crate::{
    SqliteStore, StoreError, WriteTx,
    codec::{Columns, json_text, to_i64, to_u64},
    error::Doing,
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
    pub fn append_audit(&self, entry: &ChainedEntry) -> Result<(), StoreError> {
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
    pub fn put_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
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
        } else {
            Err(StoreError::CheckpointConflict {
                entries: checkpoint.entries(),
            })
        }
    }
}

impl SqliteStore {
    /// Appends an audit entry in a transaction of its own; see [`WriteTx::append_audit`].
    ///
    /// # Errors
    ///
    /// As [`WriteTx::append_audit`].
    pub fn append_audit(&self, entry: &ChainedEntry) -> Result<(), StoreError> {
        self.write(|tx| tx.append_audit(entry))
    }

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
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the store cannot be read; [`StoreError::Corrupt`] if an
    /// entry does not decode.
    pub fn audit_entries(&self) -> Result<Vec<ChainedEntry>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare("SELECT sequence, entry FROM audit_entries ORDER BY sequence")
                .doing("reading the audit entries")?;
            let mut rows = stmt.query([]).doing("reading the audit entries")?;
            let mut entries = Vec::new();
            while let Some(row) = rows.next().doing("reading the audit entries")? {
                entries.push(decode_entry(&Columns::new(row, ENTRIES))?);
            }
            Ok(entries)
        })
    }

    /// Stores a signed checkpoint in a transaction of its own; see
    /// [`WriteTx::put_checkpoint`].
    ///
    /// # Errors
    ///
    /// As [`WriteTx::put_checkpoint`].
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
impl AuditStore for SqliteStore {
    fn append(&mut self, entry: ChainedEntry) -> Result<(), BoxError> {
        Ok(self.append_audit(&entry)?)
    }

    fn last(&self) -> Result<Option<ChainedEntry>, BoxError> {
        Ok(self.last_audit_entry()?)
    }

    fn entries(&self) -> Result<Vec<ChainedEntry>, BoxError> {
        Ok(self.audit_entries()?)
    }
}
