//! The facts `check()` reads, rebuilt from a store's fact log and kept in step with it: one
//! implementation for every backend.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use steward::{
    AuditedRosterChange, BoxError, ConsentChange, ConsentReceipt, Facts, FactsIdentity, Policy,
    RosterFacts, TrainingLevel,
    consent::ConsentLedger,
    logs::{
        AuditKey, ChainHead, Checkpoint, FactLogKey, KeyringSnapshot, RosterChange, StewardRoster,
    },
    retention::{
        HoldId, HoldRegister, HoldSource, LegalHold, Relationship, RelationshipBook, RetentionError,
    },
};
use steward_core::{CustomerId, Justification, PolicyVersion, StewardId, Timestamp};

use crate::{
    StoreError,
    codec::json_text,
    fact_log::{FactEvent, FactLog, KeysLogged, StoredFact, check_entry, check_reaches},
    fact_snapshot::{FactSnapshot, SnapshotEvent, SnapshotReader, SnapshotWriter},
};

/// A start-up that replayed at least this many entries one by one writes a snapshot of the
/// facts, so that the next start replays only what was appended after it.
const SNAPSHOT_AFTER: usize = 10_000;

/// How long before its recording a change may say it takes effect and still mean "now":
/// the caller read the clock a moment before the store did. Earlier is backdating.
const NOW_TOLERANCE_NANOS: i64 = 5_000_000_000;

/// The facts `check()` reads (consent, relationships, legal holds, the roster), rebuilt
/// from a store's fact log and served from memory.
///
/// Every change is one entry of the log, chained under the audit key and written in one
/// transaction under the log's write lock; before it, the facts apply every entry another
/// writer (another node, another process) appended, so a change is validated against
/// everything before it. Loading replays the log and checks every entry's place, link and
/// hash: a log edited, cut, reordered or extended by anyone without the audit key is
/// [`StoreError::FactLogBroken`], and nothing is decided from it. So `check()` reads memory
/// (no allocation, no I/O), and what it reads is what the log proves.
///
/// Fails closed: if a commit fails after memory took a change, or an entry read later does
/// not verify, or (on a shared store) the facts could not catch up within the staleness
/// bound, every decision denies and every change is refused until the vault is opened again
/// (or, when stale, until they catch up).
pub struct DurableFacts<L> {
    log: L,
    key: FactLogKey,
    state: FactState,
    /// The log as applied here: its length and the hash of its newest entry.
    head: ChainHead,
    diverged: bool,
    freshness: Arc<Freshness>,
    identity: FactsIdentity,
}

/// The facts themselves, as the log's entries build them.
struct FactState {
    consent: ConsentLedger,
    relationships: RelationshipBook,
    holds: HoldRegister,
    roster: StewardRoster,
    /// The policy version the newest adoption entry names.
    adopted: Option<PolicyVersion>,
    /// The keys and shreds the log records (checked against the stored keys at start-up).
    keys: KeysLogged,
}

impl FactState {
    fn new(policy: &Policy) -> Self {
        Self {
            consent: ConsentLedger::new(policy.known_versions().clone()),
            relationships: RelationshipBook::new(),
            holds: HoldRegister::new(),
            roster: StewardRoster::new(policy.max_stewards()),
            adopted: None,
            keys: KeysLogged::default(),
        }
    }

    /// Replays one verified entry, the `sequence`th of the log; an entry that does not replay
    /// is refused.
    fn apply(&mut self, event: FactEvent, sequence: u64) -> Result<(), StoreError> {
        self.keys.note(&event, sequence);
        match event {
            FactEvent::Consent { receipt } => self.replay_consent(
                ConsentChange::new(
                    receipt.customer,
                    receipt.level,
                    receipt.effective,
                    receipt.actor,
                    receipt.channel,
                    receipt.policy_version,
                ),
                receipt.recorded_at,
                receipt.receipt.get(),
                receipt.previous_level,
            )?,
            FactEvent::RelationshipStarted { customer, at } => {
                self.relationships.start(customer, at)?;
            }
            FactEvent::RelationshipEnded { customer, at } => {
                self.relationships.end(customer, at)?;
            }
            FactEvent::Hold { event } => self.holds.replay(event)?,
            FactEvent::StewardAdded { steward } => self.roster.add(steward)?,
            FactEvent::StewardRemoved { steward } => {
                self.roster.remove(&steward);
            }
            FactEvent::PolicyAdopted { version } => self.adopted = Some(version),
            // Noted above; no fact a decision reads changes.
            FactEvent::KeyStored { .. } | FactEvent::KeysShredded { .. } => {}
            // Proven in the log; no fact a decision reads changes (the record is gone).
            FactEvent::RecordDeleted { .. } => {}
        }
        Ok(())
    }

    /// Replays one consent change as its receipt recorded it, refusing one that does not
    /// follow from the receipts before it (a receipt number or previous level the replay
    /// does not reproduce).
    fn replay_consent(
        &mut self,
        change: ConsentChange,
        recorded_at: Timestamp,
        receipt: u32,
        previous_level: TrainingLevel,
    ) -> Result<(), StoreError> {
        let replayed = self.consent.record(change, recorded_at)?;
        if replayed.receipt.get() != receipt || replayed.previous_level != previous_level {
            return Err(StoreError::corrupt_row(
                "fact_log",
                "a receipt does not follow from the receipts before it",
            ));
        }
        Ok(())
    }
}

/// Checks `entry`, which must follow `head`, under `key` and decodes its event: what every
/// backend's rows go through before they are replayed (start-up, catch-up and followers).
fn verify_and_decode(
    key: &FactLogKey,
    head: &ChainHead,
    entry: &StoredFact,
) -> Result<(ChainHead, FactEvent), StoreError> {
    let head = check_entry(key, head, entry)?;
    let event = decode_event(entry.event(), head.entries())?;
    Ok((head, event))
}

/// Decodes the `sequence`th entry's event text.
fn decode_event(text: &str, sequence: u64) -> Result<FactEvent, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::FactLogBroken {
        sequence,
        reason: "its hash verifies but its event is unknown to this build",
    })
}

/// Replays `rows`, a fact log as a store returns it, from its first entry under
/// `audit_key` and `policy`, through the checks and the replay a start-up without snapshot
/// runs; writes the replayed events to a snapshot body and reads it back. Returns the head,
/// each replayed event as its canonical text, and each event as the snapshot gave it back.
/// For the fuzz targets (`test_support`).
#[cfg(feature = "test-support")]
pub(crate) fn replay_rows(
    audit_key: &AuditKey,
    policy: &Policy,
    rows: &[StoredFact],
) -> Result<(ChainHead, Vec<String>, Vec<String>), StoreError> {
    let key = audit_key.fact_log_key();
    let mut state = FactState::new(policy);
    let mut head = ChainHead::EMPTY;
    let mut writer = SnapshotWriter::continuing(None);
    let mut replayed = Vec::with_capacity(rows.len());
    for row in rows {
        let (next, event) = verify_and_decode(&key, &head, row)?;
        writer.push(&event)?;
        replayed.push(match &event {
            FactEvent::Consent { receipt } => format!(
                "{:?}",
                (
                    ConsentChange::new(
                        receipt.customer,
                        receipt.level,
                        receipt.effective,
                        receipt.actor.clone(),
                        receipt.channel,
                        receipt.policy_version.clone(),
                    ),
                    receipt.recorded_at,
                    receipt.receipt.get(),
                    receipt.previous_level,
                )
            ),
            other => json_text(other, "a fact event")?,
        });
        state.apply(event, next.entries())?;
        head = next;
    }
    let body = writer.into_body();
    let known = policy.known_versions().clone();
    let mut reader = SnapshotReader::new(&body, &known)?;
    let mut restored = Vec::with_capacity(rows.len());
    while let Some(event) = reader.next_event()? {
        restored.push(match event {
            SnapshotEvent::Consent {
                change,
                recorded_at,
                receipt,
                previous_level,
            } => format!("{:?}", (change, recorded_at, receipt, previous_level)),
            SnapshotEvent::Event(event) => json_text(&event, "a fact event")?,
        });
    }
    Ok((head, replayed, restored))
}

/// Decodes one event text as the replay does and encodes it again, as a store would write
/// it. For the fuzz targets (`test_support`).
#[cfg(feature = "test-support")]
pub(crate) fn reencode_event(text: &str) -> Result<String, StoreError> {
    json_text(&decode_event(text, 1)?, "a fact event")
}

impl<L: FactLog> DurableFacts<L> {
    /// Rebuilds the facts from `log`, checking every entry under `audit_key` as it is
    /// replayed, and that the log still reaches the fact head `checkpoint` signed (if it
    /// signed one).
    ///
    /// Start-up stays fast on a long log: the newest snapshot (the facts as the first entries
    /// made them, MAC'd once under a key derived from `audit_key` and bound to the entry it
    /// ends at) is checked and replayed, and only the entries after it one by one. A load
    /// that replayed 10,000 entries or more one by one writes a new snapshot. The entries a
    /// snapshot covers are not read at start-up (their facts come from the snapshot, whose
    /// MAC proves it): an edit to one of them is found by the full verification,
    /// [`verify_fact_log`](crate::verify_fact_log), which `steward audit verify` runs.
    ///
    /// # Errors
    ///
    /// [`StoreError::FactLogBroken`] naming the first entry that does not verify, or if the
    /// log ends before (or differs at) the checkpoint's head; [`StoreError::Consent`],
    /// [`StoreError::Retention`] or [`StoreError::Logs`] if a verified entry does not replay
    /// under `policy` (a version it no longer knows, a roster larger than it allows); what
    /// kept the log from being read.
    pub fn load(
        log: &L,
        audit_key: &AuditKey,
        policy: &Policy,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<Self, StoreError> {
        let mut facts = Self {
            log: log.clone(),
            key: audit_key.fact_log_key(),
            state: FactState::new(policy),
            head: ChainHead::EMPTY,
            diverged: false,
            freshness: Arc::new(Freshness::new()),
            identity: FactsIdentity::new(),
        };
        let signed = checkpoint.and_then(Checkpoint::facts);
        let previous_body = match log.latest_snapshot()? {
            Some(snapshot) => Some(facts.restore(snapshot)?),
            None => None,
        };
        // A checkpoint the snapshot covers: the log must still hold the entry it signed.
        let mut at_checkpoint = match signed {
            Some(signed) if signed.entries() == facts.head.entries() => Some(facts.head),
            Some(signed) if signed.entries() > 0 && signed.entries() < facts.head.entries() => log
                .entry_hash(signed.entries())?
                .map(|hash| ChainHead::new(signed.entries(), hash)),
            _ => None,
        };
        let tail = log.entries_after(facts.head.entries())?;
        let mut writer =
            (tail.len() >= SNAPSHOT_AFTER).then(|| SnapshotWriter::continuing(previous_body));
        for entry in &tail {
            facts.apply_entry(entry, writer.as_mut())?;
            if signed.is_some_and(|signed| signed.entries() == facts.head.entries()) {
                at_checkpoint = Some(facts.head);
            }
        }
        check_reaches(signed, &facts.head, at_checkpoint)?;
        // Longer is another writer's append since the entries were read; shorter is a head
        // moved back behind the store's back.
        let recorded = log.recorded_length()?;
        if recorded < facts.head.entries() {
            return Err(StoreError::FactLogBroken {
                sequence: recorded.saturating_add(1),
                reason: "the log's recorded length is shorter than its entries",
            });
        }
        if let Some(writer) = writer {
            // The next start replays from here: only what is appended from now on. Written
            // before anything else is appended, so the body is exactly the entries up to the
            // head it is bound to.
            let body = writer.into_body();
            let head = facts.head;
            let mac = facts.key.snapshot_mac(head.entries(), &head.hash(), &body);
            log.put_snapshot(&FactSnapshot::new(head.entries(), head.hash(), body, mac))?;
        }
        facts.adopt(policy)?;
        facts.freshness.caught_up();
        Ok(facts)
    }

    /// Applies the entries other writers appended since these facts last looked.
    ///
    /// # Errors
    ///
    /// What kept the log from being read (the facts stay as they were);
    /// [`StoreError::FactLogBroken`] if a new entry does not verify, and
    /// [`StoreError::FactsDiverged`] from then on.
    pub fn catch_up(&mut self) -> Result<usize, StoreError> {
        self.guard_diverged()?;
        let entries = self.log.entries_after(self.head.entries())?;
        self.apply_fetched(entries)
    }

    /// The log as applied here: what a checkpoint of the fact log signs.
    #[must_use]
    pub const fn head(&self) -> ChainHead {
        self.head
    }

    /// The policy version the newest adoption entry of the log names (`policy.versioned`):
    /// the version of the policy the facts were last loaded under.
    #[must_use]
    pub const fn adopted_policy(&self) -> Option<&PolicyVersion> {
        self.state.adopted.as_ref()
    }

    /// Checks the store's keys (`stored`, the snapshot the keyring is restored from) against
    /// the keys and shreds the log records; see `KeysLogged::check`.
    pub(crate) fn check_keys(
        &self,
        stored: &KeyringSnapshot,
        reread: impl Fn(CustomerId) -> Result<Option<KeyringSnapshot>, StoreError>,
    ) -> Result<(), StoreError> {
        self.state.keys.check(stored, reread)
    }

    /// The number of entries applied.
    #[must_use]
    pub const fn applied(&self) -> u64 {
        self.head.entries()
    }

    /// Marks the facts stale, as a shared store's follower does when they could not catch up
    /// within the bound: every decision denies until a catch-up succeeds.
    ///
    /// A test hook (the tests of a follower's bound use it), not part of the public API.
    #[doc(hidden)]
    pub fn mark_stale(&mut self) {
        self.freshness.stale.store(true, Ordering::Release);
    }

    /// Whether the facts are stale.
    #[must_use]
    pub fn is_stale(&self) -> bool {
        self.freshness.is_stale()
    }

    /// Records a training-preference change with its receipt, dated by the system clock
    /// (never by the caller: a receipt dated ahead would hold back every later change, a
    /// withdrawal too). A change may take effect now or later, never before now.
    ///
    /// # Errors
    ///
    /// [`StoreError::Consent`] if the ledger refuses it (backdated, unknown policy version,
    /// not after the customer's latest change; nothing is written); the store's error if it
    /// could not be stored (nothing changed); [`StoreError::FactsDiverged`] or
    /// [`StoreError::FactsStale`] while the facts fail closed.
    pub fn record_consent(&mut self, change: ConsentChange) -> Result<ConsentReceipt, StoreError> {
        self.in_one_commit(|batch| batch.record_consent(change))
    }

    /// Starts a relationship.
    ///
    /// # Errors
    ///
    /// As `RelationshipBook::start` ([`StoreError::Retention`]), or as
    /// [`record_consent`](Self::record_consent) for the store.
    pub fn start_relationship(
        &mut self,
        customer: CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.in_one_commit(|batch| batch.start_relationship(customer, at))
    }

    /// Ends a relationship.
    ///
    /// # Errors
    ///
    /// As `RelationshipBook::end` ([`StoreError::Retention`]), or as
    /// [`record_consent`](Self::record_consent) for the store.
    pub fn end_relationship(
        &mut self,
        customer: CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.in_one_commit(|batch| batch.end_relationship(customer, at))
    }

    /// Places a legal hold.
    ///
    /// # Errors
    ///
    /// As `HoldRegister::place` ([`StoreError::Retention`]), or as
    /// [`record_consent`](Self::record_consent) for the store.
    pub fn place_hold(&mut self, hold: LegalHold) -> Result<(), StoreError> {
        self.in_one_commit(|batch| batch.place_hold(hold))
    }

    /// Extends a legal hold.
    ///
    /// # Errors
    ///
    /// As `HoldRegister::extend`, or as [`record_consent`](Self::record_consent) for the
    /// store.
    pub fn extend_hold(
        &mut self,
        id: HoldId,
        by: StewardId,
        at: Timestamp,
        expires_at: Timestamp,
        reason: Justification,
    ) -> Result<(), StoreError> {
        self.in_one_commit(|batch| batch.extend_hold(id, by, at, expires_at, reason))
    }

    /// Releases a legal hold.
    ///
    /// # Errors
    ///
    /// As `HoldRegister::release`, or as [`record_consent`](Self::record_consent) for the
    /// store.
    pub fn release_hold(
        &mut self,
        id: HoldId,
        by: StewardId,
        at: Timestamp,
        reason: Justification,
    ) -> Result<(), StoreError> {
        self.in_one_commit(|batch| batch.release_hold(id, by, at, reason))
    }

    /// Makes several changes one commit: all of them are stored (each its own entry of the
    /// log), or, if `changes` returns an error or the store fails, none. For imports and
    /// bulk set-up, where a commit per change would be slow.
    ///
    /// ```
    /// use steward::Policy;
    /// use steward_store::{SqliteStore, StoreFacts, StoreKeys};
    ///
    /// # let path = std::env::temp_dir().join(format!("steward-batch-{}.db", std::process::id()));
    /// let keys = StoreKeys::new("kek-1".parse()?, &[0x42; 32], &[0x17; 32])?;
    /// let store = SqliteStore::create(&path, &keys)?;
    /// let policy = Policy::coder_model();
    /// let mut facts = StoreFacts::load(&store, &keys.audit_key()?, &policy, None)?;
    /// let joined = "2025-01-01T00:00:00Z".parse()?;
    /// let customers: Vec<steward::CustomerId> = (1..=3)
    ///     .map(|n| format!("0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a1{n}").parse())
    ///     .collect::<Result<_, _>>()?;
    /// facts.in_one_commit(|batch| {
    ///     for customer in &customers {
    ///         batch.start_relationship(*customer, joined)?;
    ///     }
    ///     Ok(())
    /// })?;
    /// // The load recorded the policy version adopted; the batch, three relationships.
    /// assert_eq!(facts.applied(), 4);
    /// # drop((facts, store));
    /// # steward_store::remove_store_files(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// What `changes` returned (nothing is written); as
    /// [`record_consent`](Self::record_consent) for the store.
    pub fn in_one_commit<T>(
        &mut self,
        changes: impl FnOnce(&mut FactBatch<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_events(|state| {
            let mut batch = FactBatch {
                state,
                events: Vec::new(),
            };
            match changes(&mut batch) {
                Ok(value) => Ok((value, batch.events)),
                Err(error) => Err(Refusal {
                    error,
                    memory_changed: !batch.events.is_empty(),
                }),
            }
        })
    }

    /// The consent ledger.
    ///
    /// # Errors
    ///
    /// [`StoreError::FactsDiverged`] or [`StoreError::FactsStale`] while the facts fail
    /// closed: nothing may be decided from them then (a seal's consent level, a sweep).
    pub fn consent(&self) -> Result<&ConsentLedger, StoreError> {
        self.guard()?;
        Ok(&self.state.consent)
    }

    /// The relationships.
    ///
    /// # Errors
    ///
    /// As [`consent`](Self::consent).
    pub fn relationships(&self) -> Result<&RelationshipBook, StoreError> {
        self.guard()?;
        Ok(&self.state.relationships)
    }

    /// The legal holds and their history.
    ///
    /// # Errors
    ///
    /// As [`consent`](Self::consent).
    pub fn holds(&self) -> Result<&HoldRegister, StoreError> {
        self.guard()?;
        Ok(&self.state.holds)
    }

    /// The stewards.
    ///
    /// # Errors
    ///
    /// As [`consent`](Self::consent).
    pub fn roster(&self) -> Result<&StewardRoster, StoreError> {
        self.guard()?;
        Ok(&self.state.roster)
    }

    /// The store the log is kept in.
    #[must_use]
    pub const fn store(&self) -> &L {
        &self.log
    }

    pub(crate) fn freshness(&self) -> Arc<Freshness> {
        Arc::clone(&self.freshness)
    }

    /// Changes in one commit: under the log's write lock, applies what other writers
    /// appended, then `change` validates and applies them in memory (a refusal writes
    /// nothing) and returns their events, which are chained and stored in the same
    /// transaction. If anything fails after memory changed, memory is ahead of (or apart
    /// from) the log and the facts fail closed.
    fn write_events<T>(
        &mut self,
        change: impl FnOnce(&mut FactState) -> Result<(T, Vec<FactEvent>), Refusal>,
    ) -> Result<T, StoreError> {
        self.guard()?;
        let log = self.log.clone();
        let mut change = Some(change);
        let mut value = None;
        let mut written = None;
        let mut memory_changed = false;
        let appended = log.append(self.head.entries(), &mut |log_length, missed| {
            // Other writers' entries move the head with them: memory still matches the log
            // once they applied, and differs from it only if one did not.
            for entry in &missed {
                if let Err(error) = self.apply_entry(entry, None) {
                    memory_changed = true;
                    return Err(error);
                }
            }
            if log_length != self.head.entries() {
                memory_changed = true;
                return Err(StoreError::FactLogBroken {
                    sequence: self.head.entries().min(log_length).saturating_add(1),
                    reason: "the log's length does not match its entries",
                });
            }
            let change = change.take().ok_or(StoreError::Unsupported {
                what: "a fact change applied twice",
            })?;
            let (result, events) = change(&mut self.state).map_err(|refusal| {
                // A single change validates before it changes anything; a batch refused
                // half-way has changed memory already.
                memory_changed = refusal.memory_changed;
                refusal.error
            })?;
            memory_changed = true;
            let mut head = self.head;
            let mut entries = Vec::with_capacity(events.len());
            for event in &events {
                let text = json_text(event, "a fact event")?;
                let sequence = head
                    .entries()
                    .checked_add(1)
                    .ok_or(StoreError::OutOfRange {
                        what: "the fact log's length",
                    })?;
                let hash = self.key.chain(sequence, &head.hash(), text.as_bytes());
                head = ChainHead::new(sequence, hash);
                entries.push(StoredFact::new(sequence, text, hash));
            }
            value = Some(result);
            written = Some(head);
            Ok(entries)
        });
        match (appended, value, written) {
            (Ok(()), Some(value), Some(head)) => {
                self.head = head;
                self.freshness.caught_up();
                Ok(value)
            }
            (Err(error), ..) => {
                if memory_changed {
                    self.diverged = true;
                }
                Err(error)
            }
            (Ok(()), ..) => {
                self.diverged = true;
                Err(StoreError::Unsupported {
                    what: "a fact change the log stored without its entries",
                })
            }
        }
    }

    /// Applies entries read after the head, skipping any already applied (a follower and a
    /// writer may both have read them); one that does not verify or replay leaves the facts
    /// failing closed.
    pub(crate) fn apply_fetched(&mut self, entries: Vec<StoredFact>) -> Result<usize, StoreError> {
        self.guard_diverged()?;
        let mut count = 0;
        let applied = self.head.entries();
        for entry in entries.iter().filter(|entry| entry.sequence() > applied) {
            if let Err(error) = self.apply_entry(entry, None) {
                self.diverged = true;
                return Err(error);
            }
            count += 1;
        }
        self.freshness.caught_up();
        Ok(count)
    }

    /// Verifies one entry after the head and replays it (and adds it to `snapshot`).
    fn apply_entry(
        &mut self,
        entry: &StoredFact,
        snapshot: Option<&mut SnapshotWriter>,
    ) -> Result<(), StoreError> {
        let (head, event) = verify_and_decode(&self.key, &self.head, entry)?;
        if let Some(snapshot) = snapshot {
            snapshot.push(&event)?;
        }
        self.state.apply(event, head.entries())?;
        self.head = head;
        Ok(())
    }

    /// Replays a snapshot, after checking its MAC and that the log still holds the entry it
    /// ends at; returns its body, which a newer snapshot continues.
    fn restore(&mut self, snapshot: FactSnapshot) -> Result<Vec<u8>, StoreError> {
        let (sequence, head) = (snapshot.sequence(), snapshot.head());
        if !self
            .key
            .snapshot_matches(sequence, &head, snapshot.body(), &snapshot.mac())
        {
            return Err(StoreError::FactLogBroken {
                sequence,
                reason: "the snapshot ending here does not match its MAC: edited, or written without the audit key",
            });
        }
        let known = self.state.consent.known_versions().clone();
        let mut events = SnapshotReader::new(snapshot.body(), &known)?;
        // Sized once: a large store's maps would otherwise grow, and copy, again and again.
        let (starts, _) = events.counts();
        let customers = usize::try_from(starts).unwrap_or(usize::MAX);
        self.state.consent = ConsentLedger::with_capacity(known.clone(), customers);
        self.state.relationships = RelationshipBook::with_capacity(customers);
        self.state.keys = KeysLogged::with_capacity(customers);
        let mut place: u64 = 0;
        while let Some(event) = events.next_event()? {
            place = place.saturating_add(1);
            match event {
                SnapshotEvent::Consent {
                    change,
                    recorded_at,
                    receipt,
                    previous_level,
                } => self
                    .state
                    .replay_consent(change, recorded_at, receipt, previous_level)?,
                SnapshotEvent::Event(event) => self.state.apply(event, place)?,
            }
        }
        // Checked after the replay, which needs no row of the store: at start-up the keyring
        // reads its rows meanwhile on the same connection.
        if self.log.entry_hash(sequence)? != Some(head) {
            return Err(StoreError::FactLogBroken {
                sequence,
                reason: "the entry a snapshot ends at is missing or differs from it",
            });
        }
        self.head = ChainHead::new(sequence, head);
        Ok(snapshot.into_body())
    }

    /// Writes an adoption entry if the log's newest one names another version than
    /// `policy`'s (decided after catching up, so writers starting at once write one).
    fn adopt(&mut self, policy: &Policy) -> Result<(), StoreError> {
        let version = policy.version();
        if self.state.adopted.as_ref() == Some(version) {
            return Ok(());
        }
        self.write_events(|state| {
            if state.adopted.as_ref() == Some(version) {
                return Ok(((), Vec::new()));
            }
            state.adopted = Some(version.clone());
            let event = FactEvent::PolicyAdopted {
                version: version.clone(),
            };
            Ok(((), vec![event]))
        })
    }

    fn guard_diverged(&self) -> Result<(), StoreError> {
        if self.diverged {
            return Err(StoreError::FactsDiverged);
        }
        Ok(())
    }

    fn guard(&self) -> Result<(), StoreError> {
        self.guard_diverged()?;
        if self.freshness.is_stale() {
            return Err(StoreError::FactsStale);
        }
        Ok(())
    }

    /// Whether decisions may be made from memory.
    fn answering(&self) -> bool {
        !self.diverged && !self.freshness.is_stale()
    }
}

impl<L: FactLog> Facts for DurableFacts<L> {
    fn training_level_at(&self, customer: CustomerId, instant: Timestamp) -> TrainingLevel {
        if !self.answering() {
            return TrainingLevel::None;
        }
        self.state.consent.level_at(customer, instant)
    }

    fn relationship_containing(
        &self,
        customer: CustomerId,
        instant: Timestamp,
    ) -> Option<Relationship> {
        if !self.answering() {
            // No relationship: the data serves nothing (logs.retention), so every decision
            // that needs one denies.
            return None;
        }
        self.state
            .relationships
            .containing(customer, instant)
            .copied()
    }

    fn is_on_roster(&self, steward: &StewardId) -> bool {
        self.answering() && self.state.roster.contains(steward)
    }

    fn visit_holds(&self, customer: CustomerId, visit: &mut dyn FnMut(&LegalHold)) {
        if self.answering() {
            self.state.holds.visit_holds(customer, visit);
        }
    }
}

impl<L: FactLog> RosterFacts for DurableFacts<L> {
    fn roster_len(&self) -> usize {
        self.state.roster.len()
    }

    fn identity(&self) -> FactsIdentity {
        self.identity
    }

    /// Applies the roster (and every other) change other writers made, and refuses while the
    /// facts fail closed: facts behind the log, or cut off from it, must not report a steward
    /// absent who is on the roster.
    fn refresh_roster(&mut self) -> Result<(), BoxError> {
        self.catch_up()?;
        self.guard()?;
        Ok(())
    }

    fn apply_roster_change(&mut self, change: &AuditedRosterChange) -> Result<(), BoxError> {
        match change.change() {
            RosterChange::Added(steward) => {
                let steward = steward.clone();
                self.write_events(|state| {
                    state
                        .roster
                        .add(steward.clone())
                        .map_err(StoreError::from)?;
                    Ok(((), vec![FactEvent::StewardAdded { steward }]))
                })?;
            }
            RosterChange::Removed(steward) => {
                let steward = steward.clone();
                // An audited removal takes effect whatever happens to its entry: if the entry
                // is not committed, memory no longer matches the log, and the facts fail
                // closed until reloaded.
                let removed = self.write_events(|state| {
                    state.roster.remove(&steward);
                    let event = FactEvent::StewardRemoved {
                        steward: steward.clone(),
                    };
                    Ok(((), vec![event]))
                });
                if removed.is_err() {
                    self.state.roster.remove(&steward);
                    self.diverged = true;
                }
                removed?;
            }
            _ => {
                return Err(StoreError::Unsupported {
                    what: "a kind of roster change",
                }
                .into());
            }
        }
        Ok(())
    }
}

impl<L: std::fmt::Debug> std::fmt::Debug for DurableFacts<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableFacts")
            .field("store", &self.log)
            .field("applied", &self.head.entries())
            .field(
                "customers_with_consent",
                &self.state.consent.customer_count(),
            )
            .field("stewards", &self.state.roster.len())
            .field("diverged", &self.diverged)
            .field("stale", &self.freshness.is_stale())
            .finish_non_exhaustive()
    }
}

/// Why a change was refused, and whether it had changed memory before it was (a batch
/// refused half-way): then memory no longer matches the log, and the facts fail closed.
struct Refusal {
    error: StoreError,
    memory_changed: bool,
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        Self {
            error,
            memory_changed: false,
        }
    }
}

/// Changes made in one commit with [`DurableFacts::in_one_commit`]: each is validated and
/// applied in memory as it is made, and stored with the others when the closure returns.
pub struct FactBatch<'f> {
    state: &'f mut FactState,
    events: Vec<FactEvent>,
}

impl FactBatch<'_> {
    /// As [`DurableFacts::record_consent`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Consent`] if the ledger refuses it.
    pub fn record_consent(&mut self, change: ConsentChange) -> Result<ConsentReceipt, StoreError> {
        let (change, recorded_at) = date_consent_change(&self.state.consent, change);
        let receipt = self.state.consent.record(change, recorded_at)?;
        self.events.push(FactEvent::Consent {
            receipt: receipt.clone(),
        });
        Ok(receipt)
    }

    /// As [`DurableFacts::start_relationship`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Retention`] if the book refuses it.
    pub fn start_relationship(
        &mut self,
        customer: CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.state.relationships.start(customer, at)?;
        self.events
            .push(FactEvent::RelationshipStarted { customer, at });
        Ok(())
    }

    /// As [`DurableFacts::end_relationship`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Retention`] if the book refuses it.
    pub fn end_relationship(
        &mut self,
        customer: CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.state.relationships.end(customer, at)?;
        self.events
            .push(FactEvent::RelationshipEnded { customer, at });
        Ok(())
    }

    /// As [`DurableFacts::place_hold`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Retention`] if the register refuses it.
    pub fn place_hold(&mut self, hold: LegalHold) -> Result<(), StoreError> {
        self.hold_change(|holds| holds.place(hold))
    }

    /// As [`DurableFacts::extend_hold`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Retention`] if the register refuses it.
    pub fn extend_hold(
        &mut self,
        id: HoldId,
        by: StewardId,
        at: Timestamp,
        expires_at: Timestamp,
        reason: Justification,
    ) -> Result<(), StoreError> {
        self.hold_change(|holds| holds.extend(id, by, at, expires_at, reason))
    }

    /// As [`DurableFacts::release_hold`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Retention`] if the register refuses it.
    pub fn release_hold(
        &mut self,
        id: HoldId,
        by: StewardId,
        at: Timestamp,
        reason: Justification,
    ) -> Result<(), StoreError> {
        self.hold_change(|holds| holds.release(id, by, at, reason))
    }

    fn hold_change(
        &mut self,
        change: impl FnOnce(&mut HoldRegister) -> Result<(), RetentionError>,
    ) -> Result<(), StoreError> {
        change(&mut self.state.holds)?;
        let event = self
            .state
            .holds
            .events()
            .last()
            .cloned()
            .ok_or(StoreError::Unsupported {
                what: "a hold change without its event",
            })?;
        self.events.push(FactEvent::Hold { event });
        Ok(())
    }
}

impl std::fmt::Debug for FactBatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactBatch")
            .field("changes", &self.events.len())
            .finish_non_exhaustive()
    }
}

/// When the facts last caught up with the log, and whether that is longer ago than a bound:
/// read on every decision (one atomic load), and kept by a shared store's watchdog thread,
/// which does no I/O, so the facts go stale on time even while the database does not answer.
#[derive(Debug)]
pub(crate) struct Freshness {
    origin: Instant,
    /// Nanoseconds after `origin` of the last catch-up.
    caught_up: AtomicU64,
    stale: AtomicBool,
}

impl Freshness {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            caught_up: AtomicU64::new(0),
            stale: AtomicBool::new(false),
        }
    }

    fn elapsed_nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The facts have just caught up with the log.
    pub(crate) fn caught_up(&self) {
        self.caught_up
            .store(self.elapsed_nanos(), Ordering::Release);
        self.stale.store(false, Ordering::Release);
    }

    /// Marks the facts stale if they last caught up longer than `bound` ago.
    pub(crate) fn check(&self, bound: Duration) {
        let since = self
            .elapsed_nanos()
            .saturating_sub(self.caught_up.load(Ordering::Acquire));
        if u128::from(since) > bound.as_nanos() {
            self.stale.store(true, Ordering::Release);
        }
    }

    fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Acquire)
    }
}

/// Dates a consent change by the system clock, as the ledger will record it: the recording
/// instant never goes back (a clock set back a little dates it at the newest recording), and
/// a change meant to take effect "now" (read from the clock a moment before) takes effect at
/// that instant rather than being refused as backdated.
fn date_consent_change(
    consent: &ConsentLedger,
    mut change: ConsentChange,
) -> (ConsentChange, Timestamp) {
    let now = Timestamp::now();
    let recorded_at = consent
        .latest_recorded()
        .map_or(now, |latest| latest.max(now));
    if change.effective < recorded_at
        && change.effective.unix_nanos()
            >= recorded_at.unix_nanos().saturating_sub(NOW_TOLERANCE_NANOS)
    {
        change.effective = recorded_at;
    }
    (change, recorded_at)
}
