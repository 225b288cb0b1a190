//! The fact log: every change to what `check()` reads is one entry, MAC-chained under the
//! audit key, and the facts a vault decides on are rebuilt from it alone. Both backends keep
//! it behind one small trait, [`FactLog`].

use serde::{Deserialize, Serialize};
use steward::{
    ConsentReceipt,
    logs::{ChainHash, ChainHead, Checkpoint, FactLogKey, KeyVersion},
    retention::HoldEvent,
};
use steward_core::{CustomerId, PolicyVersion, RecordId, StewardId, Timestamp};

use crate::{StoreError, fact_snapshot::FactSnapshot};

/// One change to the facts, as the log keeps it (serde JSON, the bytes the hash covers).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum FactEvent {
    Consent {
        receipt: ConsentReceipt,
    },
    RelationshipStarted {
        customer: CustomerId,
        at: Timestamp,
    },
    RelationshipEnded {
        customer: CustomerId,
        at: Timestamp,
    },
    Hold {
        event: HoldEvent,
    },
    StewardAdded {
        steward: StewardId,
    },
    StewardRemoved {
        steward: StewardId,
    },
    /// A vault began deciding under this policy version (`policy.versioned`): the log says
    /// which version was in force from which entry on.
    PolicyAdopted {
        version: PolicyVersion,
    },
    /// A data key was stored for the customer (written by the store in the transaction that
    /// stores it): a new customer's first key, or a rotation's.
    KeyStored {
        customer: CustomerId,
        version: KeyVersion,
    },
    /// The customer's data keys were destroyed through `through` (written by the store in
    /// the transaction that deletes them and raises the tombstone).
    KeysShredded {
        customer: CustomerId,
        through: Option<KeyVersion>,
    },
    /// A sealed record was deleted (written by the store in the transaction that deletes it).
    RecordDeleted {
        record: RecordId,
    },
}

/// One entry of the fact log as a store keeps it: its place (from 1), the event's text and
/// its chain hash. Nothing here is trusted until checked under the [`FactLogKey`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFact {
    sequence: u64,
    event: String,
    hash: ChainHash,
}

impl StoredFact {
    /// An entry as read back from a store.
    #[must_use]
    pub const fn new(sequence: u64, event: String, hash: ChainHash) -> Self {
        Self {
            sequence,
            event,
            hash,
        }
    }

    /// Its place in the log, from 1.
    #[must_use]
    pub const fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The event, as stored.
    #[must_use]
    pub fn event(&self) -> &str {
        &self.event
    }

    /// Its chain hash, as stored.
    #[must_use]
    pub const fn hash(&self) -> ChainHash {
        self.hash
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::SqliteStore {}
    #[cfg(feature = "postgres")]
    impl Sealed for crate::pg::PgStore {}
}

/// Where a store keeps its fact log: the one job both backends do for
/// [`DurableFacts`](crate::DurableFacts). Sealed: the log's guarantees (one writer at a time,
/// entries stored with their effect) are the store's, not an extension point.
pub trait FactLog: sealed::Sealed + Clone + Send + Sync + 'static {
    /// The entries after the first `after`, oldest first.
    ///
    /// # Errors
    ///
    /// If the log cannot be read, or a row is not an entry.
    fn entries_after(&self, after: u64) -> Result<Vec<StoredFact>, StoreError>;

    /// Appends entries in one transaction under the log's write lock: reads the log's
    /// length and the entries after the first `applied` (other writers'), hands both to
    /// `next`, and stores the entries `next` returns after them. An error from `next` stores
    /// nothing.
    ///
    /// # Errors
    ///
    /// What `next` returned, or why the log could not be read or the entry stored.
    fn append(
        &self,
        applied: u64,
        next: &mut dyn FnMut(u64, Vec<StoredFact>) -> Result<Vec<StoredFact>, StoreError>,
    ) -> Result<(), StoreError>;

    /// The log's length as the store records it apart from the entries (PostgreSQL's head
    /// row; SQLite's newest entry): start-up compares it with the entries, so that a head
    /// moved behind the store's back does not block every later append.
    ///
    /// # Errors
    ///
    /// If it cannot be read.
    fn recorded_length(&self) -> Result<u64, StoreError>;

    /// The stored hash of the entry at `sequence` (unverified), if there is one.
    ///
    /// # Errors
    ///
    /// If the log cannot be read, or the row is not an entry.
    fn entry_hash(&self, sequence: u64) -> Result<Option<ChainHash>, StoreError>;

    /// The newest snapshot, if any (unverified).
    ///
    /// # Errors
    ///
    /// If it cannot be read, or the row is not a snapshot.
    fn latest_snapshot(&self) -> Result<Option<FactSnapshot>, StoreError>;

    /// Stores `snapshot` and drops every older one; one already stored at its place is kept
    /// (another writer made it from the same entries).
    ///
    /// # Errors
    ///
    /// If it cannot be stored; nothing changed then.
    fn put_snapshot(&self, snapshot: &FactSnapshot) -> Result<(), StoreError>;
}

/// The entry that records `event` after `newest` (the log's newest stored entry's place and
/// hash, `None` for an empty log), chained under `key`: for a store that writes an entry in
/// the transaction of its own effect, under the log's lock.
pub(crate) fn entry_after(
    key: &FactLogKey,
    newest: Option<(u64, ChainHash)>,
    event: &FactEvent,
) -> Result<StoredFact, StoreError> {
    let (length, previous) = newest.unwrap_or((0, ChainHash::GENESIS));
    let sequence = length.checked_add(1).ok_or(StoreError::OutOfRange {
        what: "the fact log's length",
    })?;
    let text = crate::codec::json_text(event, "a fact event")?;
    let hash = key.chain(sequence, &previous, text.as_bytes());
    Ok(StoredFact::new(sequence, text, hash))
}

/// Checks `entry`, which must follow `head`, under `key`, and returns the head after it.
pub(crate) fn check_entry(
    key: &FactLogKey,
    head: &ChainHead,
    entry: &StoredFact,
) -> Result<ChainHead, StoreError> {
    let expected = head
        .entries()
        .checked_add(1)
        .ok_or(StoreError::OutOfRange {
            what: "the fact log's length",
        })?;
    if entry.sequence != expected {
        return Err(StoreError::FactLogBroken {
            sequence: expected,
            reason: "an entry is missing or out of place",
        });
    }
    if !key.matches(expected, &head.hash(), entry.event.as_bytes(), &entry.hash) {
        return Err(StoreError::FactLogBroken {
            sequence: expected,
            reason: "its hash does not match its content: edited, or written without the audit key",
        });
    }
    Ok(ChainHead::new(expected, entry.hash))
}

/// Checks that a log whose entries up to `head` verified still reaches what `checkpoint`
/// signed of it (`at_checkpoint`: the head of the log after the checkpoint's entries, as the
/// verification passed it).
pub(crate) fn check_reaches(
    checkpoint: Option<ChainHead>,
    head: &ChainHead,
    at_checkpoint: Option<ChainHead>,
) -> Result<(), StoreError> {
    let Some(signed) = checkpoint else {
        return Ok(());
    };
    if signed.entries() == 0 {
        return Ok(());
    }
    if head.entries() < signed.entries() {
        return Err(StoreError::FactLogBroken {
            sequence: head.entries().saturating_add(1),
            reason: "the log ends before the head its newest checkpoint signed: entries were removed",
        });
    }
    if at_checkpoint != Some(signed) {
        return Err(StoreError::FactLogBroken {
            sequence: signed.entries(),
            reason: "the log differs from the head its newest checkpoint signed",
        });
    }
    Ok(())
}

/// Verifies a whole fact log under `key` (every entry's place, link and hash, and that it
/// still reaches what `checkpoint` signed of it) without replaying it: what
/// `steward audit verify` runs. Returns the log's head.
///
/// # Errors
///
/// [`StoreError::FactLogBroken`] naming the first entry that does not verify; whatever kept
/// the log from being read.
pub fn verify_fact_log(
    log: &impl FactLog,
    key: &FactLogKey,
    checkpoint: Option<&Checkpoint>,
) -> Result<ChainHead, StoreError> {
    let signed = checkpoint.and_then(Checkpoint::facts);
    let mut head = ChainHead::EMPTY;
    let mut at_checkpoint = None;
    for entry in log.entries_after(0)? {
        head = check_entry(key, &head, &entry)?;
        if signed.is_some_and(|signed| signed.entries() == head.entries()) {
            at_checkpoint = Some(head);
        }
    }
    check_reaches(signed, &head, at_checkpoint)?;
    Ok(head)
}
