//! The one audit chain of all nodes, and its checkpoints.

use std::time::Duration;

use postgres::{Client, SimpleQueryMessage, Statement};
use steward_logs::{AuditStore, BoxError, ChainedEntry, Checkpoint, SharedHead};

use super::{PgStore, column};
use crate::{StoreError, codec::json_text, error::Doing, fact_log::checkpoint_supersedes};

const ENTRIES: &str = "audit_entries";
const CHECKPOINTS: &str = "audit_checkpoints";

/// How long a node may hold the chain's append lock in an open transaction before the
/// server ends it: a node that hangs while holding it cannot stop the others for longer.
const APPEND_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// A node's audit store: a connection of its own, on which the trail holds the chain's
/// append lock (the head row) from fixing an entry's instant to appending it. Build one per
/// vault with [`PgAuditStore::new`]; reads go through the store's pool.
pub struct PgAuditStore {
    store: PgStore,
    client: Option<Client>,
    /// The head read under the lock: (entries, hash of the newest entry).
    locked: Option<(i64, Option<Vec<u8>>)>,
    /// [`APPEND`] prepared on `client` (dropped with it when it is opened again).
    append_statement: Option<Statement>,
}

/// Appends an entry and moves the head to it, in one statement.
const APPEND: &str = "WITH appended AS (INSERT INTO audit_entries (sequence, entry) \
     VALUES ($1, $2)) UPDATE audit_head SET entries = $1 + 1, hash = $3 WHERE singleton = 1";

impl PgAuditStore {
    /// An audit store on `store`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if its connection cannot be opened.
    pub fn new(store: &PgStore) -> Result<Self, StoreError> {
        let mut audit = Self {
            store: store.clone(),
            client: None,
            locked: None,
            append_statement: None,
        };
        audit.connection()?;
        Ok(audit)
    }

    /// The store.
    #[must_use]
    pub const fn store(&self) -> &PgStore {
        &self.store
    }

    /// The dedicated connection, opened again if it broke.
    fn connection(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            let mut client = self.store.connect_client()?;
            client
                .batch_execute(&format!(
                    "SET idle_in_transaction_session_timeout = {}",
                    APPEND_LOCK_TIMEOUT.as_millis()
                ))
                .doing("configuring the audit connection")?;
            self.client = Some(client);
            self.append_statement = None;
        }
        self.client.as_mut().ok_or(StoreError::Unsupported {
            what: "an audit connection that could not be kept",
        })
    }

    /// Begins the append transaction, locks the head row and reads the newest entry, in one
    /// round trip (a simple query: `BEGIN`, the locking read and the entry's read travel
    /// together). The entry is read by a statement of its own, after the lock: its snapshot
    /// then sees the entry the head names, however recently another node committed it.
    fn begin_locked(&mut self) -> Result<LockedHead, StoreError> {
        let client = self.connection()?;
        let messages = client
            .simple_query(
                "BEGIN; \
                 SELECT entries, encode(hash, 'hex') FROM audit_head \
                 WHERE singleton = 1 FOR UPDATE; \
                 SELECT e.sequence, e.entry FROM audit_head h \
                 JOIN audit_entries e ON e.sequence = h.entries - 1 WHERE h.singleton = 1",
            )
            .doing("locking the audit chain's head");
        let head = messages.and_then(|messages| decode_head(&messages));
        if head.is_err() {
            self.rollback();
        }
        head
    }

    /// Ends an open transaction without writing (best effort: a broken connection has
    /// ended it already).
    fn rollback(&mut self) {
        if let Some(client) = self.client.as_mut() {
            let _ended = client.batch_execute("ROLLBACK");
        }
        self.locked = None;
    }

    /// Appends `entry` in the open transaction if it follows `head`, and commits.
    fn append_locked(
        &mut self,
        head: (i64, Option<Vec<u8>>),
        entry: &ChainedEntry,
    ) -> Result<(), StoreError> {
        let (entries, hash) = head;
        let sequence = i64::try_from(entry.sequence()).map_err(|_| StoreError::OutOfRange {
            what: "an audit sequence number",
        })?;
        if sequence < entries {
            return Err(StoreError::SequenceTaken {
                sequence: entry.sequence(),
            });
        }
        let follows = sequence == entries
            && match hash.as_deref() {
                // Only the empty chain has no head hash.
                None => entries == 0,
                Some(hash) => hash == entry.previous().as_bytes().as_slice(),
            };
        if !follows {
            return Err(StoreError::SequenceOutOfPlace {
                sequence: entry.sequence(),
                expected: u64::try_from(entries).unwrap_or_default(),
            });
        }
        let json = json_text(entry, "an audit entry")?;
        let append = match self.append_statement.clone() {
            Some(statement) => statement,
            None => {
                let statement = self
                    .connection()?
                    .prepare(APPEND)
                    .doing("preparing the audit append")?;
                self.append_statement = Some(statement.clone());
                statement
            }
        };
        let client = self.connection()?;
        client
            .execute(
                &append,
                &[&sequence, &json, &entry.hash().as_bytes().as_slice()],
            )
            .doing("appending an audit entry")?;
        client
            .batch_execute("COMMIT")
            .doing("committing an audit entry")
    }
}

impl std::fmt::Debug for PgAuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgAuditStore")
            .field("store", &self.store)
            .field("locked", &self.locked.is_some())
            .finish_non_exhaustive()
    }
}

/// One chain for every node: an append checks, in the transaction that holds the head row,
/// that the entry's sequence number and previous hash are the head's, so two nodes can never
/// fork the chain; with [`lock_head`](AuditStore::lock_head) a trail holds that row from
/// fixing its entry's instant to appending it, so it always continues after the newest entry.
impl AuditStore for PgAuditStore {
    fn append(&mut self, entry: ChainedEntry) -> Result<(), BoxError> {
        let head = match self.locked.take() {
            Some(head) => head,
            None => self.begin_locked()?.head,
        };
        let appended = self.append_locked(head, &entry);
        if appended.is_err() {
            self.rollback();
        }
        Ok(appended?)
    }

    fn last(&self) -> Result<Option<ChainedEntry>, BoxError> {
        Ok(self.store.last_audit_entry()?)
    }

    fn entries(&self) -> Result<Vec<ChainedEntry>, BoxError> {
        Ok(self.store.audit_entries()?)
    }

    fn lock_head(&mut self) -> Result<SharedHead, BoxError> {
        if self.locked.is_some() {
            self.rollback();
        }
        let LockedHead { head, newest } = self.begin_locked()?;
        self.locked = Some(head);
        Ok(SharedHead::Locked(newest.map(Box::new)))
    }

    fn unlock_head(&mut self) {
        self.rollback();
    }
}

impl PgStore {
    /// The newest audit entry, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if the store cannot be read; [`StoreError::Corrupt`] if the
    /// entry does not decode.
    pub fn last_audit_entry(&self) -> Result<Option<ChainedEntry>, StoreError> {
        let mut client = self.client()?;
        client
            .query_opt(
                "SELECT sequence, entry FROM audit_entries ORDER BY sequence DESC LIMIT 1",
                &[],
            )
            .doing("reading the newest audit entry")?
            .map(|row| decode_entry(column(&row, 0, ENTRIES)?, column(&row, 1, ENTRIES)?))
            .transpose()
    }

    /// Every audit entry of every node, oldest first.
    ///
    /// # Errors
    ///
    /// As [`last_audit_entry`](Self::last_audit_entry).
    pub fn audit_entries(&self) -> Result<Vec<ChainedEntry>, StoreError> {
        let mut client = self.client()?;
        client
            .query(
                "SELECT sequence, entry FROM audit_entries ORDER BY sequence",
                &[],
            )
            .doing("reading the audit entries")?
            .iter()
            .map(|row| decode_entry(column(row, 0, ENTRIES)?, column(row, 1, ENTRIES)?))
            .collect()
    }

    /// Stores a signed checkpoint. Storing the same checkpoint again is harmless.
    ///
    /// # Errors
    ///
    /// [`StoreError::CheckpointConflict`] if a different checkpoint covering as many entries
    /// is stored; [`StoreError::Postgres`] if it cannot be stored.
    pub fn put_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let entries = i64::try_from(checkpoint.entries()).map_err(|_| StoreError::OutOfRange {
            what: "the checkpoint's entry count",
        })?;
        let json = json_text(checkpoint, "a checkpoint")?;
        let mut client = self.client()?;
        let inserted = client
            .execute(
                "INSERT INTO audit_checkpoints (entries, checkpoint) VALUES ($1, $2) \
                 ON CONFLICT (entries) DO NOTHING",
                &[&entries, &json],
            )
            .doing("storing a checkpoint")?;
        if inserted == 1 {
            return Ok(());
        }
        let stored: String = client
            .query_one(
                "SELECT checkpoint FROM audit_checkpoints WHERE entries = $1",
                &[&entries],
            )
            .doing("reading a checkpoint")?
            .get(0);
        let stored = decode_checkpoint(&stored)?;
        if stored == *checkpoint {
            Ok(())
        } else if checkpoint_supersedes(checkpoint, &stored) {
            client
                .execute(
                    "UPDATE audit_checkpoints SET checkpoint = $2 WHERE entries = $1",
                    &[&entries, &json],
                )
                .doing("storing a checkpoint")?;
            Ok(())
        } else {
            Err(StoreError::CheckpointConflict {
                entries: checkpoint.entries(),
            })
        }
    }

    /// The checkpoint covering the most entries, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if the store cannot be read; [`StoreError::Corrupt`] if it
    /// does not decode.
    pub fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let mut client = self.client()?;
        client
            .query_opt(
                "SELECT checkpoint FROM audit_checkpoints ORDER BY entries DESC LIMIT 1",
                &[],
            )
            .doing("reading the newest checkpoint")?
            .map(|row| decode_checkpoint(column(&row, 0, CHECKPOINTS)?))
            .transpose()
    }
}

/// What the locking read found: the head (entries, hash of the newest entry) and the newest
/// entry itself.
struct LockedHead {
    head: (i64, Option<Vec<u8>>),
    newest: Option<ChainedEntry>,
}

/// The head from the locking read's answer: a row `entries, hash (hex)`, then (unless the
/// chain is empty) a row `sequence, entry`.
fn decode_head(messages: &[SimpleQueryMessage]) -> Result<LockedHead, StoreError> {
    let corrupt = |reason| StoreError::corrupt_row("audit_head", reason);
    let mut rows = messages.iter().filter_map(|message| match message {
        SimpleQueryMessage::Row(row) => Some(row),
        _ => None,
    });
    let head = rows
        .next()
        .ok_or_else(|| corrupt("the chain's head row is missing"))?;
    let entries: i64 = text(head, 0)?
        .and_then(|entries| entries.parse().ok())
        .ok_or_else(|| corrupt("the entry count is not a number"))?;
    let hash = text(head, 1)?
        .map(|hash| {
            steward_logs::hex::decode::<32>(hash, "the chain head hash")
                .map(|bytes| bytes.to_vec())
                .map_err(|error| {
                    StoreError::corrupt("audit_head", "the head hash is not 32 bytes of hex", error)
                })
        })
        .transpose()?;
    let newest = match rows.next() {
        Some(row) => {
            let sequence = text(row, 0)?
                .and_then(|sequence| sequence.parse().ok())
                .ok_or_else(|| corrupt("a sequence number is not a number"))?;
            let entry = text(row, 1)?.ok_or_else(|| corrupt("an entry is empty"))?;
            Some(decode_entry(sequence, entry)?)
        }
        None if entries == 0 => None,
        None => return Err(corrupt("the head names an entry that is not stored")),
    };
    Ok(LockedHead {
        head: (entries, hash),
        newest,
    })
}

/// A text column of the locking read's answer.
fn text(row: &postgres::SimpleQueryRow, index: usize) -> Result<Option<&str>, StoreError> {
    row.try_get(index).doing("reading the audit chain's head")
}

fn decode_entry(sequence: i64, text: &str) -> Result<ChainedEntry, StoreError> {
    let entry: ChainedEntry = serde_json::from_str(text)
        .map_err(|error| StoreError::corrupt(ENTRIES, "invalid audit entry", error))?;
    if i64::try_from(entry.sequence()).ok() != Some(sequence) {
        return Err(StoreError::corrupt_row(
            ENTRIES,
            "the entry's sequence number differs from its row's",
        ));
    }
    Ok(entry)
}

fn decode_checkpoint(text: &str) -> Result<Checkpoint, StoreError> {
    serde_json::from_str(text)
        .map_err(|error| StoreError::corrupt(CHECKPOINTS, "invalid checkpoint", error))
}
