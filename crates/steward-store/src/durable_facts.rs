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
    AuditedRosterChange, Facts, FactsIdentity, Policy, RosterFacts,
    consent::{
        ConsentChange, ConsentLedger, ConsentReceipt, InteractiveChange, InteractiveChoice,
        InteractiveLedger, InteractiveReceipt,
    },
    logs::{
        AuditKey, BoxError, ChainHead, Checkpoint, FactLogKey, KeyringSnapshot, RosterChange,
        StewardRoster,
    },
    retention::{
        HoldId, HoldRegister, HoldScope, HoldSource, LegalHold, Relationship, RelationshipBook,
        RelationshipChange, RetentionError, RetentionPeriod,
    },
    vocabulary::{Clock, SystemClock, TrainingLevel},
};
use steward_core::{CustomerId, DataCategory, Justification, PolicyVersion, StewardId, Timestamp};

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
    /// The trusted clock every change is recorded by.
    clock: Arc<dyn Clock>,
    /// The newest instant the vault's audit trail was seen to date an entry at: changes are
    /// recorded no earlier.
    audit_floor: Option<Timestamp>,
}

/// The facts themselves, as the log's entries build them.
struct FactState {
    consent: ConsentLedger,
    relationships: RelationshipBook,
    holds: HoldRegister,
    interactive: InteractiveLedger,
    roster: StewardRoster,
    /// The policy version the newest adoption entry names.
    adopted: Option<PolicyVersion>,
    /// The keys and shreds the log records (checked against the stored keys at start-up).
    keys: KeysLogged,
    /// When the newest deletion of consent receipts was recorded.
    receipts_deleted_at: Option<Timestamp>,
}

impl FactState {
    fn new(policy: &Policy) -> Self {
        Self {
            consent: ConsentLedger::new(policy.known_versions().clone()),
            relationships: RelationshipBook::new(),
            holds: HoldRegister::new(),
            interactive: InteractiveLedger::new(policy.known_versions().clone()),
            roster: StewardRoster::new(policy.max_stewards()),
            adopted: None,
            keys: KeysLogged::default(),
            receipts_deleted_at: None,
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
            FactEvent::RelationshipStarted {
                customer,
                at,
                recorded_at: None,
            } => self.relationships.start(customer, at)?,
            FactEvent::RelationshipEnded {
                customer,
                at,
                recorded_at: None,
            } => self.relationships.end(customer, at)?,
            FactEvent::RelationshipStarted {
                customer,
                at,
                recorded_at: Some(recorded_at),
            } => self.relationships.record(
                customer,
                recorded_at,
                RelationshipChange::Start { effective: at },
            )?,
            FactEvent::RelationshipEnded {
                customer,
                at,
                recorded_at: Some(recorded_at),
            } => self.relationships.record(
                customer,
                recorded_at,
                RelationshipChange::End { effective: at },
            )?,
            FactEvent::RelationshipEndCorrected {
                customer,
                at,
                recorded_at,
            } => self.relationships.record(
                customer,
                recorded_at,
                RelationshipChange::CorrectEnd { effective: at },
            )?,
            FactEvent::RelationshipEndCancelled {
                customer,
                recorded_at,
            } => self
                .relationships
                .record(customer, recorded_at, RelationshipChange::CancelEnd)?,
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
            FactEvent::Interactive { receipt } => self.replay_interactive(receipt)?,
            FactEvent::ConsentReceiptsDeleted {
                customer,
                recorded_at,
            } => self.delete_receipts(customer, recorded_at),
        }
        Ok(())
    }

    /// Forgets `customer`'s consent receipts, deleted at `recorded_at`.
    fn delete_receipts(&mut self, customer: CustomerId, recorded_at: Timestamp) {
        self.consent.discard_customer(customer);
        self.interactive.discard_customer(customer);
        self.receipts_deleted_at = self.receipts_deleted_at.max(Some(recorded_at));
    }

    /// What becomes of `customer`'s consent receipts at `now` under a proof period of
    /// `proof` (docs/retention.md, "Consent receipts: kept as proof").
    fn receipt_disposition(
        &self,
        customer: CustomerId,
        proof: RetentionPeriod,
        now: Timestamp,
    ) -> Result<ReceiptDisposition, StoreError> {
        if self.consent.history(customer).next().is_none()
            && self.interactive.history(customer).is_empty()
        {
            return Ok(ReceiptDisposition::NoReceipts);
        }
        let relationships = self.relationships.relationships(customer);
        // No relationship on record: nothing ended, so nothing is past its proof period (as
        // the sweep never deletes records of a customer without one).
        let mut last_end = None;
        for relationship in relationships {
            match relationship.ended_at() {
                Some(end) if end <= now => last_end = last_end.max(Some(end)),
                _ => return Ok(ReceiptDisposition::InUse),
            }
        }
        let Some(end) = last_end else {
            return Ok(ReceiptDisposition::InUse);
        };
        let out_of_range = || StoreError::OutOfRange {
            what: "the end of the consent proof period",
        };
        let nanos = i64::try_from(proof.as_seconds())
            .ok()
            .and_then(|seconds| seconds.checked_mul(1_000_000_000))
            .and_then(|nanos| end.unix_nanos().checked_add(nanos))
            .ok_or_else(out_of_range)?;
        let due = Timestamp::from_unix_nanos(nanos);
        if now < due {
            return Ok(ReceiptDisposition::KeptAsProof { due });
        }
        let held = self.holds.holds().find(|hold| {
            hold.stands_at(now)
                && match hold.scope() {
                    HoldScope::Customer { customer: held } => *held == customer,
                    HoldScope::Category {
                        customer: held,
                        category,
                    } => *held == customer && *category == DataCategory::ConsentRecord,
                    _ => false,
                }
        });
        Ok(match held {
            Some(hold) => ReceiptDisposition::Held { hold: hold.id() },
            None => ReceiptDisposition::Due { since: due },
        })
    }

    /// Replays one choice about interactive features as its receipt recorded it, refusing
    /// one whose receipt the replay does not reproduce.
    fn replay_interactive(&mut self, receipt: InteractiveReceipt) -> Result<(), StoreError> {
        let change = InteractiveChange::new(
            receipt.customer,
            receipt.choice,
            receipt.effective,
            receipt.actor.clone(),
            receipt.channel,
            receipt.policy_version.clone(),
        );
        let replayed = self.interactive.record(change, receipt.recorded_at)?;
        if replayed != receipt {
            return Err(StoreError::corrupt_row(
                "fact_log",
                "an interactive-features receipt does not follow from the receipts before it",
            ));
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

    /// The newest instant a change was recorded at (consent and relationships).
    fn newest_recorded(&self) -> Option<Timestamp> {
        self.consent
            .latest_recorded()
            .max(self.relationships.latest_recorded())
            .max(self.interactive.latest_recorded())
            .max(self.receipts_deleted_at)
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
            clock: Arc::new(SystemClock),
            audit_floor: None,
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

    /// These facts, recording their changes by `clock` (the system clock unless set; a
    /// [`ManualClock`](steward::vocabulary::ManualClock) in tests). Whatever the clock says, a change is
    /// never recorded before the newest change already recorded, nor before the newest audit
    /// entry the vault showed them.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The newest instant at which a change of these facts was recorded (consent,
    /// relationships), if any: the next change is recorded no earlier, and a vault decides
    /// no earlier.
    #[must_use]
    pub fn newest_recorded(&self) -> Option<Timestamp> {
        self.state.newest_recorded()
    }

    /// The clock's now, but never before the newest audit entry seen.
    fn clock_now(&self) -> Timestamp {
        let now = self.clock.now();
        self.audit_floor.map_or(now, |floor| now.max(floor))
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

    /// Records a training-preference change with its receipt, dated by the facts' clock
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

    /// Records a customer's choice about interactive features (`use.purposes`) with its
    /// receipt, recorded as [`record_consent`](Self::record_consent) records a consent
    /// change: at the facts' clock's now, in effect then or later, never before. A choice cancels every
    /// earlier one of the customer scheduled after it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Consent`] if the ledger refuses it (backdated, unknown policy version;
    /// nothing is written); as [`record_consent`](Self::record_consent) for the store.
    pub fn record_interactive(
        &mut self,
        change: InteractiveChange,
    ) -> Result<InteractiveReceipt, StoreError> {
        self.in_one_commit(|batch| batch.record_interactive(change))
    }

    /// Starts a relationship at `at`: recorded now (the facts' clock, never before the newest
    /// recorded change), in force from `at`, which is now or later (an `at` read from the
    /// clock a moment before the store did counts as now).
    ///
    /// # Errors
    ///
    /// [`StoreError::Retention`] with `RetentionError::Backdated` for an `at` in the past, or
    /// as `RelationshipBook::start`; as [`record_consent`](Self::record_consent) for the
    /// store.
    pub fn start_relationship(
        &mut self,
        customer: CustomerId,
        at: impl Into<Effective>,
    ) -> Result<(), StoreError> {
        let at = at.into();
        self.in_one_commit(|batch| batch.start_relationship(customer, at))
    }

    /// Ends the customer's open relationship at `at`, recorded now: an `at` of now ends it at
    /// once (final), a later one schedules the end, and the relationship stays active until
    /// then (see [`correct_relationship_end`](Self::correct_relationship_end) and
    /// [`cancel_relationship_end`](Self::cancel_relationship_end)).
    ///
    /// # Errors
    ///
    /// [`StoreError::Retention`] with `RetentionError::Backdated` for an `at` in the past,
    /// `RetentionError::EndScheduled` if an end is already scheduled, or as
    /// `RelationshipBook::end`; as [`record_consent`](Self::record_consent) for the store.
    pub fn end_relationship(
        &mut self,
        customer: CustomerId,
        at: impl Into<Effective>,
    ) -> Result<(), StoreError> {
        let at = at.into();
        self.in_one_commit(|batch| batch.end_relationship(customer, at))
    }

    /// Moves the customer's scheduled relationship end, which still lies in the future, to
    /// `at` (now or later): its own entry of the log.
    ///
    /// # Errors
    ///
    /// [`StoreError::Retention`] with `RetentionError::EndInForce` if the end has taken
    /// effect (it is final), `RetentionError::NoScheduledEnd` without one,
    /// `RetentionError::Backdated` for an `at` in the past; as
    /// [`record_consent`](Self::record_consent) for the store.
    pub fn correct_relationship_end(
        &mut self,
        customer: CustomerId,
        at: impl Into<Effective>,
    ) -> Result<(), StoreError> {
        let at = at.into();
        self.in_one_commit(|batch| batch.correct_relationship_end(customer, at))
    }

    /// Withdraws the customer's scheduled relationship end, which still lies in the future:
    /// the relationship is open again. Its own entry of the log.
    ///
    /// # Errors
    ///
    /// As [`correct_relationship_end`](Self::correct_relationship_end).
    pub fn cancel_relationship_end(&mut self, customer: CustomerId) -> Result<(), StoreError> {
        self.in_one_commit(|batch| batch.cancel_relationship_end(customer))
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

    /// Records a review that keeps a legal hold, with its new review date (the hold stands
    /// until released, whatever the date).
    ///
    /// # Errors
    ///
    /// As `HoldRegister::change_review_date`, or as [`record_consent`](Self::record_consent)
    /// for the store.
    pub fn change_hold_review_date(
        &mut self,
        id: HoldId,
        by: StewardId,
        at: Timestamp,
        review_at: Timestamp,
        reason: Justification,
    ) -> Result<(), StoreError> {
        self.in_one_commit(|batch| batch.change_hold_review_date(id, by, at, review_at, reason))
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
    /// let keys = StoreKeys::new("kek-1".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
    /// let store = SqliteStore::create(&path, &keys)?;
    /// let policy = Policy::coder_model();
    /// let mut facts = StoreFacts::load(&store, &keys.audit_key()?, &policy, None)?;
    /// // Relationship changes take effect now or later, never earlier.
    /// let joined = steward::vocabulary::Timestamp::now();
    /// let customers: Vec<steward::vocabulary::CustomerId> = (1..=3)
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
        let clock_now = self.clock_now();
        self.write_events(|state| {
            let mut batch = FactBatch {
                state,
                events: Vec::new(),
                clock_now,
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

    /// What becomes of `customer`'s consent receipts (training consent and interactive
    /// features) at `at` under `policy`'s [`consent_proof_period`](Policy::consent_proof_period):
    /// for a sweep plan, which may look ahead. Changes nothing.
    ///
    /// # Errors
    ///
    /// As [`consent`](Self::consent); [`StoreError::OutOfRange`] if the end of the proof
    /// period is out of range.
    pub fn receipt_disposition(
        &self,
        customer: CustomerId,
        policy: &Policy,
        at: Timestamp,
    ) -> Result<ReceiptDisposition, StoreError> {
        self.guard()?;
        self.state
            .receipt_disposition(customer, policy.consent_proof_period(), at)
    }

    /// Deletes `customer`'s consent receipts if they are due now: at the facts' clock's now
    /// (never an instant the caller names, as every irreversible act), once `policy`'s proof
    /// period after their last relationship ended has passed, and never while a legal hold on
    /// all their data or on their consent records stands. The deletion is an entry of the
    /// fact log (MAC-chained, replayed at every start), after which the facts hold no receipt
    /// of theirs: their training level is `none` and they are opted out of interactive
    /// features at every instant. Returns the disposition decided at now:
    /// [`ReceiptDisposition::Due`] means deleted; anything else, nothing changed.
    ///
    /// The entries that recorded the receipts stay in the log (it is append-only and
    /// chained); the receipts are gone from every fact, decision, history and issued receipt.
    ///
    /// # Errors
    ///
    /// As [`receipt_disposition`](Self::receipt_disposition); as
    /// [`record_consent`](Self::record_consent) for the store.
    pub fn delete_due_consent_receipts(
        &mut self,
        customer: CustomerId,
        policy: &Policy,
    ) -> Result<ReceiptDisposition, StoreError> {
        let proof = policy.consent_proof_period();
        self.in_one_commit(|batch| batch.delete_due_consent_receipts(customer, proof))
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

    /// The customers' choices about interactive features, with their history.
    ///
    /// # Errors
    ///
    /// As [`consent`](Self::consent).
    pub fn interactive(&self) -> Result<&InteractiveLedger, StoreError> {
        self.guard()?;
        Ok(&self.state.interactive)
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

    fn has_relationship_on_record(&self, customer: CustomerId) -> bool {
        // Facts that fail closed answer as before: a customer whose data serves nothing.
        !self.answering() || !self.state.relationships.relationships(customer).is_empty()
    }

    fn interactive_choice_at(&self, customer: CustomerId, instant: Timestamp) -> InteractiveChoice {
        if !self.answering() {
            return InteractiveChoice::OptedOut;
        }
        self.state.interactive.choice_at(customer, instant)
    }

    fn is_on_roster(&self, steward: &StewardId) -> bool {
        self.answering() && self.state.roster.contains(steward)
    }

    fn visit_holds(&self, customer: CustomerId, visit: &mut dyn FnMut(&LegalHold)) {
        if self.answering() {
            self.state.holds.visit_holds(customer, visit);
        }
    }

    fn newest_fact_instant(&self) -> Option<Timestamp> {
        self.state.newest_recorded()
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

    fn observe_audit_instant(&mut self, instant: Timestamp) {
        self.audit_floor = Some(self.audit_floor.map_or(instant, |floor| floor.max(instant)));
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

/// When a relationship change takes effect: now (the instant it is recorded at, whatever the
/// caller's clock says) or at an instant, which must not be before it is recorded.
///
/// ```
/// use steward_store::Effective;
///
/// let at: Effective = "2099-01-01T00:00:00Z".parse::<steward::vocabulary::Timestamp>()?.into();
/// assert_ne!(at, Effective::Now);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Effective {
    /// At the instant the change is recorded.
    Now,
    /// At this instant: now (read a moment before the store did) or later.
    At(Timestamp),
}

impl From<Timestamp> for Effective {
    fn from(at: Timestamp) -> Self {
        Self::At(at)
    }
}

/// What becomes of a customer's consent receipts: kept while they decide or prove something,
/// deleted once the policy's proof period after the relationship has passed
/// (docs/retention.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiptDisposition {
    /// The customer has no receipt.
    NoReceipts,
    /// A relationship of the customer is active or scheduled to end later, or none is on
    /// record: the receipts still decide (or nothing ended).
    InUse,
    /// Every relationship has ended: kept only as proof until `due`.
    KeptAsProof {
        /// When the proof period ends.
        due: Timestamp,
    },
    /// Past the proof period, but a standing legal hold keeps them.
    Held {
        /// The hold.
        hold: HoldId,
    },
    /// Past the proof period, no hold: deleted by the sweep.
    Due {
        /// When the proof period ended.
        since: Timestamp,
    },
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
    /// The clock's now (never before the newest audit entry seen) as the commit began.
    clock_now: Timestamp,
}

impl FactBatch<'_> {
    /// As [`DurableFacts::record_consent`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Consent`] if the ledger refuses it.
    pub fn record_consent(&mut self, change: ConsentChange) -> Result<ConsentReceipt, StoreError> {
        let recorded_at = self.recording_instant();
        let change = date_consent_change(recorded_at, change);
        let receipt = self.state.consent.record(change, recorded_at)?;
        self.events.push(FactEvent::Consent {
            receipt: receipt.clone(),
        });
        Ok(receipt)
    }

    /// As [`DurableFacts::record_interactive`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Consent`] if the ledger refuses it.
    pub fn record_interactive(
        &mut self,
        mut change: InteractiveChange,
    ) -> Result<InteractiveReceipt, StoreError> {
        let recorded_at = self.recording_instant();
        change.effective = as_now(change.effective, recorded_at);
        let receipt = self.state.interactive.record(change, recorded_at)?;
        self.events.push(FactEvent::Interactive {
            receipt: receipt.clone(),
        });
        Ok(receipt)
    }

    /// As [`DurableFacts::delete_due_consent_receipts`], with the proof period given.
    ///
    /// # Errors
    ///
    /// [`StoreError::OutOfRange`] if the end of the proof period is out of range.
    pub fn delete_due_consent_receipts(
        &mut self,
        customer: CustomerId,
        proof: RetentionPeriod,
    ) -> Result<ReceiptDisposition, StoreError> {
        let now = self.recording_instant();
        let disposition = self.state.receipt_disposition(customer, proof, now)?;
        if matches!(disposition, ReceiptDisposition::Due { .. }) {
            self.state.delete_receipts(customer, now);
            self.events.push(FactEvent::ConsentReceiptsDeleted {
                customer,
                recorded_at: now,
            });
        }
        Ok(disposition)
    }

    /// As [`DurableFacts::start_relationship`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Retention`] if the book refuses it.
    pub fn start_relationship(
        &mut self,
        customer: CustomerId,
        at: impl Into<Effective>,
    ) -> Result<(), StoreError> {
        let effective = self.effective(at.into());
        self.relationship_change(customer, RelationshipChange::Start { effective })
    }

    /// As [`DurableFacts::end_relationship`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Retention`] if the book refuses it.
    pub fn end_relationship(
        &mut self,
        customer: CustomerId,
        at: impl Into<Effective>,
    ) -> Result<(), StoreError> {
        let effective = self.effective(at.into());
        self.relationship_change(customer, RelationshipChange::End { effective })
    }

    /// As [`DurableFacts::correct_relationship_end`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Retention`] if the book refuses it.
    pub fn correct_relationship_end(
        &mut self,
        customer: CustomerId,
        at: impl Into<Effective>,
    ) -> Result<(), StoreError> {
        let effective = self.effective(at.into());
        self.relationship_change(customer, RelationshipChange::CorrectEnd { effective })
    }

    /// As [`DurableFacts::cancel_relationship_end`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Retention`] if the book refuses it.
    pub fn cancel_relationship_end(&mut self, customer: CustomerId) -> Result<(), StoreError> {
        self.relationship_change(customer, RelationshipChange::CancelEnd)
    }

    /// The instant `at` names: [`Effective::Now`] is the recording instant.
    fn effective(&self, at: Effective) -> Timestamp {
        match at {
            Effective::Now => self.recording_instant(),
            Effective::At(at) => at,
        }
    }

    /// The instant the next change is recorded at: the clock's now, never before the newest
    /// change already recorded (a clock set back records at the newest recording).
    fn recording_instant(&self) -> Timestamp {
        self.state
            .newest_recorded()
            .map_or(self.clock_now, |newest| newest.max(self.clock_now))
    }

    /// Records a relationship change at [`recording_instant`](Self::recording_instant), an
    /// effective instant read a moment before counting as now.
    fn relationship_change(
        &mut self,
        customer: CustomerId,
        change: RelationshipChange,
    ) -> Result<(), StoreError> {
        let recorded_at = self.recording_instant();
        let change = match change {
            RelationshipChange::Start { effective } => RelationshipChange::Start {
                effective: as_now(effective, recorded_at),
            },
            RelationshipChange::End { effective } => RelationshipChange::End {
                effective: as_now(effective, recorded_at),
            },
            RelationshipChange::CorrectEnd { effective } => RelationshipChange::CorrectEnd {
                effective: as_now(effective, recorded_at),
            },
            other => other,
        };
        self.state
            .relationships
            .record(customer, recorded_at, change)?;
        let recorded = Some(recorded_at);
        self.events.push(match change {
            RelationshipChange::Start { effective } => FactEvent::RelationshipStarted {
                customer,
                at: effective,
                recorded_at: recorded,
            },
            RelationshipChange::End { effective } => FactEvent::RelationshipEnded {
                customer,
                at: effective,
                recorded_at: recorded,
            },
            RelationshipChange::CorrectEnd { effective } => FactEvent::RelationshipEndCorrected {
                customer,
                at: effective,
                recorded_at,
            },
            RelationshipChange::CancelEnd => FactEvent::RelationshipEndCancelled {
                customer,
                recorded_at,
            },
            _ => {
                return Err(StoreError::Unsupported {
                    what: "a kind of relationship change",
                });
            }
        });
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

    /// As [`DurableFacts::change_hold_review_date`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Retention`] if the register refuses it.
    pub fn change_hold_review_date(
        &mut self,
        id: HoldId,
        by: StewardId,
        at: Timestamp,
        review_at: Timestamp,
        reason: Justification,
    ) -> Result<(), StoreError> {
        self.hold_change(|holds| holds.change_review_date(id, by, at, review_at, reason))
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

/// Dates a consent change recorded at `recorded_at` (the clock's now, never before the newest
/// recording): a change meant to take effect "now" (read from the clock a moment before)
/// takes effect at `recorded_at` rather than being refused as backdated.
fn date_consent_change(recorded_at: Timestamp, mut change: ConsentChange) -> ConsentChange {
    change.effective = as_now(change.effective, recorded_at);
    change
}

/// `effective`, or `recorded_at` if `effective` lies at most the tolerance before it: the
/// caller read "now" a moment before the store did. Earlier stays as it is, and is refused
/// as backdated.
fn as_now(effective: Timestamp, recorded_at: Timestamp) -> Timestamp {
    if effective < recorded_at
        && effective.unix_nanos() >= recorded_at.unix_nanos().saturating_sub(NOW_TOLERANCE_NANOS)
    {
        recorded_at
    } else {
        effective
    }
}
