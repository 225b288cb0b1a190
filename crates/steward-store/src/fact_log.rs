//! The fact log: every change to what `check()` reads is one entry, MAC-chained under the
//! audit key, and the facts a vault decides on are rebuilt from it alone. Both backends keep
//! it behind one small trait, [`FactLog`].

use serde::{Deserialize, Serialize};
use steward::{
    CustomerReceipt,
    consent::{ConsentReceipt, InteractiveReceipt},
    logs::{
        ChainHash, ChainHead, Checkpoint, FactLogKey, KeyVersion, KeyringSnapshot, Tombstone,
        WrappedDataKey,
    },
    retention::HoldEvent,
};
use steward_core::{CustomerId, CustomerMap, PolicyVersion, RecordId, StewardId, Timestamp};

use crate::{
    StoreError, VaultStore,
    fact_snapshot::{FactSnapshot, SnapshotWriter},
};

/// One change to the facts, as the log keeps it (serde JSON, the bytes the hash covers).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum FactEvent {
    Consent {
        receipt: ConsentReceipt,
    },
    /// A relationship starts at `at` (effective), recorded at `recorded_at`: absent in
    /// entries written before changes carried their recording instant, which replay as
    /// changes whose recording instant is unknown.
    RelationshipStarted {
        customer: CustomerId,
        at: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recorded_at: Option<Timestamp>,
    },
    /// The open relationship ends at `at` (now, or scheduled later), as a start.
    RelationshipEnded {
        customer: CustomerId,
        at: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recorded_at: Option<Timestamp>,
    },
    /// A scheduled end, still in the future at `recorded_at`, moves to `at`.
    RelationshipEndCorrected {
        customer: CustomerId,
        at: Timestamp,
        recorded_at: Timestamp,
    },
    /// A scheduled end, still in the future at `recorded_at`, is withdrawn.
    RelationshipEndCancelled {
        customer: CustomerId,
        recorded_at: Timestamp,
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
    /// A customer's choice about interactive features (`use.purposes`), with its receipt.
    Interactive {
        receipt: InteractiveReceipt,
    },
    /// The customer's consent receipts (training consent and interactive features) were
    /// deleted by the sweep at `recorded_at`, the policy's proof period after their last
    /// relationship ended, with no hold standing: the facts forget them from this entry on.
    ConsentReceiptsDeleted {
        customer: CustomerId,
        recorded_at: Timestamp,
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

/// Whether `new` may replace `stored`, the checkpoint kept for the same number of audit
/// entries: it signs the same audit head and a longer fact log (the fact log grows while the
/// audit chain need not, so a second checkpoint of one audit head is how the newest fact
/// entries get covered). Anything else for the same audit length is a fork.
pub(crate) fn checkpoint_supersedes(new: &Checkpoint, stored: &Checkpoint) -> bool {
    new.entries() == stored.entries()
        && new.head() == stored.head()
        && match (new.facts(), stored.facts()) {
            (Some(new), Some(stored)) => new.entries() > stored.entries(),
            (Some(_), None) => true,
            (None, _) => false,
        }
}

/// Verifies a store's whole fact log under `key`, from its first entry, without replaying
/// it into facts: every entry's place, link and hash; that it still reaches what
/// `checkpoint` signed of it; that every entry decodes; that the newest snapshot is exactly
/// the entries it is bound to, re-encoded; and that the store's keys and tombstones agree with
/// the keys and shreds the log records. What `steward audit verify` runs. Returns the log's
/// head.
///
/// # Errors
///
/// [`StoreError::FactLogBroken`] naming the first entry that does not verify (or the
/// snapshot's, or the key's); whatever kept the store from being read.
pub fn verify_fact_log<S: VaultStore>(
    store: &S,
    key: &FactLogKey,
    checkpoint: Option<&Checkpoint>,
) -> Result<ChainHead, StoreError> {
    let signed = checkpoint.and_then(Checkpoint::facts);
    let snapshot = store.latest_snapshot()?;
    let mut rebuilt = snapshot.as_ref().map(|_| SnapshotWriter::continuing(None));
    let mut keys = KeysLogged::default();
    let mut head = ChainHead::EMPTY;
    let mut at_checkpoint = None;
    for entry in store.entries_after(0)? {
        head = check_entry(key, &head, &entry)?;
        let event: FactEvent =
            serde_json::from_str(entry.event()).map_err(|_| StoreError::FactLogBroken {
                sequence: head.entries(),
                reason: "its hash verifies but its event is unknown to this build",
            })?;
        keys.note(&event, head.entries());
        if let (Some(writer), Some(snapshot)) = (rebuilt.as_mut(), snapshot.as_ref())
            && head.entries() <= snapshot.sequence()
        {
            writer.push(&event)?;
            if head.entries() == snapshot.sequence() {
                let bound = key.snapshot_matches(
                    snapshot.sequence(),
                    &snapshot.head(),
                    snapshot.body(),
                    &snapshot.mac(),
                );
                if !bound || snapshot.head() != head.hash() {
                    return Err(StoreError::FactLogBroken {
                        sequence: snapshot.sequence(),
                        reason: "the snapshot ending here does not match its MAC or this entry",
                    });
                }
            }
        }
        if signed.is_some_and(|signed| signed.entries() == head.entries()) {
            at_checkpoint = Some(head);
        }
    }
    check_reaches(signed, &head, at_checkpoint)?;
    if let (Some(writer), Some(snapshot)) = (rebuilt, snapshot)
        && (head.entries() < snapshot.sequence() || writer.into_body() != snapshot.body())
    {
        return Err(StoreError::FactLogBroken {
            sequence: snapshot.sequence(),
            reason: "the snapshot ending here is not the entries before it",
        });
    }
    keys.check(&store.keyring_snapshot()?, |customer| {
        store.customer_keys(customer).map_err(key_store_error)
    })?;
    Ok(head)
}

/// A receipt the fact log holds, with the entry that recorded it: what
/// `steward receipt issue` signs, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggedReceipt {
    /// The entry's place in the fact log, from 1.
    pub entry: u64,
    /// The entry's chain hash.
    pub hash: ChainHash,
    /// The receipt the entry recorded: a training-consent change or an interactive-features
    /// choice.
    pub receipt: CustomerReceipt,
}

/// Every receipt of `customer` in the store's fact log (training consent and interactive
/// features) that no later entry deleted (after its proof period,
/// `DurableFacts::delete_due_consent_receipts`), oldest first, each with the entry that
/// recorded it: the whole log verified under `key` as it is read (every entry's place, link
/// and hash), so a receipt comes only from a log that verifies up to it. For issuing receipts
/// the customer keeps (`steward receipt issue`).
///
/// # Errors
///
/// [`StoreError::FactLogBroken`] naming the first entry that does not verify or decode;
/// whatever kept the store from being read.
pub fn receipts_logged<S: VaultStore>(
    store: &S,
    key: &FactLogKey,
    customer: CustomerId,
) -> Result<Vec<LoggedReceipt>, StoreError> {
    let mut head = ChainHead::EMPTY;
    let mut found = Vec::new();
    for entry in store.entries_after(0)? {
        head = check_entry(key, &head, &entry)?;
        let event: FactEvent =
            serde_json::from_str(entry.event()).map_err(|_| StoreError::FactLogBroken {
                sequence: head.entries(),
                reason: "its hash verifies but its event is unknown to this build",
            })?;
        let receipt = match event {
            FactEvent::Consent { receipt } if receipt.customer == customer => {
                CustomerReceipt::Consent(receipt)
            }
            FactEvent::Interactive { receipt } if receipt.customer == customer => {
                CustomerReceipt::Interactive(receipt)
            }
            // Deleted after their proof period: none of them is issued any more.
            FactEvent::ConsentReceiptsDeleted {
                customer: deleted, ..
            } if deleted == customer => {
                found.clear();
                continue;
            }
            _ => continue,
        };
        found.push(LoggedReceipt {
            entry: head.entries(),
            hash: head.hash(),
            receipt,
        });
    }
    Ok(found)
}

/// A key store's failure, as start-up and verification report it.
pub(crate) fn key_store_error(source: steward::logs::BoxError) -> StoreError {
    StoreError::Logs(steward_logs::LogsError::Key(
        steward_logs::KeyError::StoreUnavailable { source },
    ))
}

/// The keys and shreds a fact log records, by customer: the newest key stored and the newest
/// shred, each with its entry.
#[derive(Default)]
pub(crate) struct KeysLogged {
    keys: CustomerMap<(u64, KeyVersion)>,
    shredded: CustomerMap<(u64, Option<KeyVersion>)>,
}

impl KeysLogged {
    /// Room for `customers` customers' keys.
    pub(crate) fn with_capacity(customers: usize) -> Self {
        Self {
            keys: CustomerMap::with_capacity_and_hasher(customers, Default::default()),
            shredded: CustomerMap::default(),
        }
    }

    /// Notes `event`, the `sequence`th entry, if it is about keys.
    pub(crate) fn note(&mut self, event: &FactEvent, sequence: u64) {
        match event {
            FactEvent::KeyStored { customer, version } => {
                let newest = self.keys.entry(*customer).or_insert((sequence, *version));
                if *version >= newest.1 {
                    *newest = (sequence, *version);
                }
            }
            FactEvent::KeysShredded { customer, through } => {
                self.shredded.insert(*customer, (sequence, *through));
            }
            _ => {}
        }
    }

    /// Checks the store's keys (`stored`, as a keyring is restored from them) against the
    /// keys and shreds noted: every shred's tombstone must still be stored and cover what it
    /// destroyed (a tombstone deleted or lowered behind the store's back, say to bring back
    /// key rows from a backup, fails closed here), and the newest key noted for a customer
    /// must still be stored unless a shred destroyed it (a key row deleted outside a shred
    /// would be a shred nobody audited). The keys and the log are read at different moments:
    /// a customer whose keys disagree is read again (`reread`, the store's view of them now)
    /// before the disagreement counts, since another writer may have stored a key or
    /// shredded in between.
    pub(crate) fn check(
        &self,
        stored: &KeyringSnapshot,
        reread: impl Fn(CustomerId) -> Result<Option<KeyringSnapshot>, StoreError>,
    ) -> Result<(), StoreError> {
        let held_now = |customer: CustomerId| -> Result<Option<KeysHeld>, StoreError> {
            Ok(reread(customer)?.map(|snapshot| KeysHeld::of(&snapshot, customer)))
        };
        let tombstones: CustomerMap<Tombstone> = stored.shredded().iter().copied().collect();
        // Both sides in customer order, so that a million customers are one linear pass over
        // the stored keys rather than a million searches through them.
        let mut logged: Vec<(CustomerId, u64, KeyVersion)> = self
            .keys
            .iter()
            .map(|(customer, (sequence, version))| (*customer, *sequence, *version))
            .collect();
        logged.sort_unstable_by_key(|(customer, ..)| *customer);
        let mut keys = stored.data_keys().iter().peekable();
        for (customer, sequence, version) in logged {
            let mut newest = None;
            while let Some(key) = keys.next_if(|key| key.customer() <= customer) {
                if key.customer() == customer {
                    newest = Some(key.version());
                }
            }
            let held = KeysHeld {
                newest,
                tombstone: tombstones.get(&customer).copied(),
            };
            if !held.keeps(version) && !held_now(customer)?.is_some_and(|now| now.keeps(version)) {
                return Err(StoreError::FactLogBroken {
                    sequence,
                    reason: "the data key this entry stored is gone, though no shred destroyed it",
                });
            }
        }
        for (customer, (sequence, through)) in &self.shredded {
            let held = KeysHeld {
                newest: None,
                tombstone: tombstones.get(customer).copied(),
            };
            if !held.destroyed(*through)
                && !held_now(*customer)?.is_some_and(|now| now.destroyed(*through))
            {
                return Err(StoreError::FactLogBroken {
                    sequence: *sequence,
                    reason: "the keys this shred destroyed are stored again, or their tombstone is gone",
                });
            }
        }
        Ok(())
    }
}

/// What a store holds of a customer's keys: the newest stored version and the tombstone.
struct KeysHeld {
    newest: Option<KeyVersion>,
    tombstone: Option<Tombstone>,
}

impl KeysHeld {
    fn of(snapshot: &KeyringSnapshot, customer: CustomerId) -> Self {
        Self {
            newest: snapshot
                .data_keys()
                .iter()
                .filter(|key| key.customer() == customer)
                .map(WrappedDataKey::version)
                .max(),
            tombstone: snapshot
                .shredded()
                .iter()
                .find(|(shredded, _)| *shredded == customer)
                .map(|(_, tombstone)| *tombstone),
        }
    }

    /// Whether `version` is still stored, or a shred destroyed it.
    fn keeps(&self, version: KeyVersion) -> bool {
        self.newest.is_some_and(|newest| newest >= version)
            || self
                .tombstone
                .is_some_and(|tombstone| tombstone.covers(version))
    }

    /// Whether a tombstone covers what a shred through `through` destroyed.
    fn destroyed(&self, through: Option<KeyVersion>) -> bool {
        match (self.tombstone, through) {
            (Some(tombstone), Some(version)) => tombstone.covers(version),
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}
