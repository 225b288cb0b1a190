//! The vault on the store: facts served from memory and written through, keys and audit
//! entries written ahead, sealed records committed in groups.

use std::{
    sync::{Arc, mpsc},
    thread,
};

use steward::{
    AuditedRosterChange, BoxError, ConsentChange, ConsentReceipt, ExportPass, Facts, Policy,
    RosterFacts, TrainingLevel, Vault,
    consent::ConsentLedger,
    logs::{AuditTrail, Custody, Keyring, RosterChange, SealedRecord, StewardRoster},
    retention::{HoldId, HoldRegister, HoldSource, LegalHold, Relationship, RelationshipBook},
};
use steward_core::{CustomerId, DataCategory, Justification, StewardId, Timestamp};

use crate::{SqliteStore, StoreError, StoreKeys, WriteTx};

/// How long before its recording a change may say it takes effect and still mean "now":
/// the caller read the clock a moment before the store did. Earlier is backdating.
const NOW_TOLERANCE_NANOS: i64 = 5_000_000_000;

/// The facts `check()` reads, kept in the store and served from memory.
///
/// Loaded whole at start-up ([`StoreFacts::load`]); every change goes through a method here
/// (inside [`Vault::update_facts`]) that validates it against memory, writes its row and
/// applies it in one step: the row's transaction commits only if the change is valid, and
/// memory changes only if the row committed. So `check()` reads memory (no allocation, no
/// I/O), and what it reads is what a restart would load.
///
/// If a commit fails after memory accepted a change (a full disk at the last moment), memory
/// and the file could differ: the facts then stop answering (every decision denies, every
/// change is refused) until the vault is opened again, which reloads the file.
pub struct StoreFacts {
    store: SqliteStore,
    consent: ConsentLedger,
    relationships: RelationshipBook,
    holds: HoldRegister,
    roster: StewardRoster,
    diverged: bool,
}

impl StoreFacts {
    /// Loads the consent ledger, relationships, legal holds and roster from `store`, checking
    /// every stored change again as it is replayed (a row edited outside Steward is an error
    /// at start-up, not a wrong decision later).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] or [`StoreError::Corrupt`] if the rows cannot be read;
    /// [`StoreError::Consent`], [`StoreError::Retention`] or [`StoreError::Logs`] if a
    /// stored change does not replay (the file was edited, or the policy no longer knows a
    /// version its receipts name, or its roster is larger than the policy allows).
    pub fn load(store: &SqliteStore, policy: &Policy) -> Result<Self, StoreError> {
        let mut consent = ConsentLedger::new(policy.known_versions().clone());
        for stored in store.consent_changes()? {
            replay_receipt(&mut consent, &stored, "consent_changes")?;
        }
        let mut relationships = RelationshipBook::new();
        for relationship in store.relationships()? {
            relationships.insert(relationship)?;
        }
        let mut holds = HoldRegister::new();
        for event in store.hold_events()? {
            holds.replay(event)?;
        }
        let mut roster = StewardRoster::new(policy.max_stewards());
        for steward in store.roster()? {
            roster.add(steward)?;
        }
        Ok(Self {
            store: store.clone(),
            consent,
            relationships,
            holds,
            roster,
            diverged: false,
        })
    }

    /// Records a training-preference change, made durable with its receipt, dated by the
    /// system clock (never by the caller: a receipt dated ahead would hold back every later
    /// change, a withdrawal too). A change may take effect now or later, never before now.
    ///
    /// # Errors
    ///
    /// [`StoreError::Consent`] if the ledger refuses it (backdated, unknown policy version,
    /// not after the customer's latest change; nothing is written); [`StoreError::Sqlite`] if
    /// it could not be stored (nothing changed); [`StoreError::FactsDiverged`] after a failed
    /// commit.
    pub fn record_consent(&mut self, change: ConsentChange) -> Result<ConsentReceipt, StoreError> {
        self.guard()?;
        let (change, recorded_at) = date_consent_change(&self.consent, change);
        self.write_through(
            |facts| Ok(facts.consent.record(change, recorded_at)?),
            |tx, _, receipt| tx.insert_consent_change(receipt),
        )
    }

    /// Starts a relationship, durably.
    ///
    /// # Errors
    ///
    /// As [`RelationshipBook::start`] ([`StoreError::Retention`]), or as
    /// [`record_consent`](Self::record_consent) for the store.
    pub fn start_relationship(
        &mut self,
        customer: CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write_through(
            |facts| Ok(facts.relationships.start(customer, at)?),
            |tx, _, ()| tx.start_relationship(customer, at),
        )
    }

    /// Ends a relationship, durably.
    ///
    /// # Errors
    ///
    /// As [`RelationshipBook::end`] ([`StoreError::Retention`]), or as
    /// [`record_consent`](Self::record_consent) for the store.
    pub fn end_relationship(
        &mut self,
        customer: CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write_through(
            |facts| Ok(facts.relationships.end(customer, at)?),
            |tx, _, ()| tx.end_relationship(customer, at),
        )
    }

    /// Places a legal hold, durably, with its event.
    ///
    /// # Errors
    ///
    /// As [`HoldRegister::place`] ([`StoreError::Retention`]), or as
    /// [`record_consent`](Self::record_consent) for the store.
    pub fn place_hold(&mut self, hold: LegalHold) -> Result<(), StoreError> {
        self.hold_change(|holds| holds.place(hold))
    }

    /// Extends a legal hold, durably, with its event.
    ///
    /// # Errors
    ///
    /// As [`HoldRegister::extend`], or as [`record_consent`](Self::record_consent) for the
    /// store.
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

    /// Releases a legal hold, durably, with its event.
    ///
    /// # Errors
    ///
    /// As [`HoldRegister::release`], or as [`record_consent`](Self::record_consent) for the
    /// store.
    pub fn release_hold(
        &mut self,
        id: HoldId,
        by: StewardId,
        at: Timestamp,
        reason: Justification,
    ) -> Result<(), StoreError> {
        self.hold_change(|holds| holds.release(id, by, at, reason))
    }

    /// The consent ledger, as loaded and changed since.
    ///
    /// # Errors
    ///
    /// [`StoreError::FactsDiverged`] after a failed commit: memory may then be ahead of the
    /// file, and nothing may be decided from it (a seal's consent level, a sweep).
    pub const fn consent(&self) -> Result<&ConsentLedger, StoreError> {
        if self.diverged {
            return Err(StoreError::FactsDiverged);
        }
        Ok(&self.consent)
    }

    /// The relationships.
    ///
    /// # Errors
    ///
    /// As [`consent`](Self::consent).
    pub const fn relationships(&self) -> Result<&RelationshipBook, StoreError> {
        if self.diverged {
            return Err(StoreError::FactsDiverged);
        }
        Ok(&self.relationships)
    }

    /// The legal holds and their history.
    ///
    /// # Errors
    ///
    /// As [`consent`](Self::consent).
    pub const fn holds(&self) -> Result<&HoldRegister, StoreError> {
        if self.diverged {
            return Err(StoreError::FactsDiverged);
        }
        Ok(&self.holds)
    }

    /// The stewards.
    ///
    /// # Errors
    ///
    /// As [`consent`](Self::consent).
    pub const fn roster(&self) -> Result<&StewardRoster, StoreError> {
        if self.diverged {
            return Err(StoreError::FactsDiverged);
        }
        Ok(&self.roster)
    }

    /// The store the facts are kept in.
    #[must_use]
    pub const fn store(&self) -> &SqliteStore {
        &self.store
    }

    fn hold_change(
        &mut self,
        change: impl FnOnce(&mut HoldRegister) -> Result<(), steward::retention::RetentionError>,
    ) -> Result<(), StoreError> {
        self.write_through(
            |facts| Ok(change(&mut facts.holds)?),
            |tx, facts, ()| {
                let event = facts.holds.events().last().ok_or(StoreError::Unsupported {
                    what: "a hold change without its event",
                })?;
                tx.insert_hold_event(event)
            },
        )
    }

    /// One change: `apply` validates and applies it in memory (a refusal writes nothing),
    /// `persist` writes its row in the same transaction. If the commit then fails, memory is
    /// ahead of the file, and the facts stop answering until reloaded.
    fn write_through<T>(
        &mut self,
        apply: impl FnOnce(&mut Self) -> Result<T, StoreError>,
        persist: impl FnOnce(&WriteTx<'_>, &Self, &T) -> Result<(), StoreError>,
    ) -> Result<T, StoreError> {
        self.guard()?;
        let store = self.store.clone();
        let mut applied = false;
        let result = store.write(|tx| {
            let value = apply(self)?;
            applied = true;
            persist(tx, self, &value)?;
            Ok::<_, StoreError>(value)
        });
        if result.is_err() && applied {
            self.diverged = true;
        }
        result
    }

    fn guard(&self) -> Result<(), StoreError> {
        if self.diverged {
            return Err(StoreError::FactsDiverged);
        }
        Ok(())
    }
}

impl Facts for StoreFacts {
    fn training_level_at(&self, customer: CustomerId, instant: Timestamp) -> TrainingLevel {
        if self.diverged {
            return TrainingLevel::None;
        }
        self.consent.level_at(customer, instant)
    }

    fn relationship_containing(
        &self,
        customer: CustomerId,
        instant: Timestamp,
    ) -> Option<Relationship> {
        if self.diverged {
            // No relationship: the data serves nothing (logs.retention), so every decision
            // that needs one denies.
            return None;
        }
        self.relationships.containing(customer, instant).copied()
    }

    fn is_on_roster(&self, steward: &StewardId) -> bool {
        !self.diverged && self.roster.contains(steward)
    }

    fn visit_holds(&self, customer: CustomerId, visit: &mut dyn FnMut(&LegalHold)) {
        if !self.diverged {
            self.holds.visit_holds(customer, visit);
        }
    }
}

impl RosterFacts for StoreFacts {
    fn roster_len(&self) -> usize {
        self.roster.len()
    }

    fn apply_roster_change(&mut self, change: &AuditedRosterChange) -> Result<(), BoxError> {
        self.guard()?;
        match change.change() {
            RosterChange::Added(steward) => {
                if !self.roster.contains(steward)
                    && self.roster.len() >= self.roster.capacity().get()
                {
                    return Err(steward::logs::LogsError::Config(
                        steward::logs::ConfigError::RosterFull {
                            max: self.roster.capacity().get(),
                        },
                    )
                    .into());
                }
                self.store.add_steward(steward)?;
                self.roster.add(steward.clone())?;
            }
            RosterChange::Removed(steward) => {
                // Off the roster in memory first: a removal that is audited must take effect
                // even if its row fails, and then the facts stop answering until reloaded.
                self.roster.remove(steward);
                if let Err(error) = self.store.remove_steward(steward) {
                    self.diverged = true;
                    return Err(error.into());
                }
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

impl std::fmt::Debug for StoreFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFacts")
            .field("store", &self.store)
            .field("customers_with_consent", &self.consent.customer_count())
            .field("stewards", &self.roster.len())
            .field("diverged", &self.diverged)
            .finish_non_exhaustive()
    }
}

/// The vault of a service on the embedded store.
pub type StoreVault = Vault<StoreFacts, SqliteStore>;

/// Opens the vault on `store`: restores the keyring from the stored wrapped keys and
/// tombstones, continues the audit chain after its newest entry (and checks it against the
/// newest stored checkpoint, if any, so that a chain cut short is found at start-up), makes
/// the store the custody's key store (every key change written ahead), completes every shred
/// the chain records but the tombstones do not (audited, see
/// `Custody::complete_pending_shreds`), and loads the facts.
///
/// # Errors
///
/// [`StoreError::Logs`] if the audit chain does not verify (or no longer reaches its
/// checkpoint), the keyring does not restore, or a pending shred cannot be completed; as
/// [`StoreFacts::load`] otherwise.
pub fn open_vault(
    store: &SqliteStore,
    keys: &StoreKeys,
    policy: Policy,
) -> Result<StoreVault, StoreError> {
    let keyring = Keyring::restore(keys.master_key()?, [], store.keyring_snapshot()?)?;
    let entries = store.audit_entries()?;
    verify_chain_at_start(keys, &entries, store.latest_checkpoint()?)?;
    let trail = AuditTrail::new(keys.audit_key()?, store.clone())?;
    let custody = Custody::new(keyring, trail).with_key_store(Arc::new(store.clone()));
    // A shred whose entry was written but whose keys a crash kept: done before serving.
    custody.complete_pending_shreds(&entries)?;
    let facts = StoreFacts::load(store, &policy)?;
    Ok(Vault::with_custody(policy, facts, custody)?)
}

/// Verifies the whole chain, read once at start-up, and that it still reaches the newest
/// stored checkpoint. (The checkpoint's signature is checked by whoever holds the public key,
/// the operator's `audit verify`; here the chain must still reach the head it names.)
pub(crate) fn verify_chain_at_start(
    keys: &StoreKeys,
    entries: &[steward::logs::ChainedEntry],
    checkpoint: Option<steward::logs::Checkpoint>,
) -> Result<(), StoreError> {
    keys.audit_key()?.verify_chain(entries)?;
    if let Some(checkpoint) = checkpoint {
        let reaches = usize::try_from(checkpoint.entries())
            .ok()
            .and_then(|count| count.checked_sub(1))
            .and_then(|last| entries.get(last))
            .is_some_and(|entry| entry.hash() == checkpoint.head());
        if checkpoint.entries() > 0 && !reaches {
            return Err(StoreError::ChainShorterThanCheckpoint {
                checkpoint: checkpoint.entries(),
            });
        }
    }
    Ok(())
}

/// Replays one stored consent receipt into `consent`, refusing a receipt that does not
/// follow from the ones before it: a deleted or reordered row shows as a receipt number or
/// previous level the replay does not reproduce (a withdrawal deleted from the store would
/// otherwise reopen training).
pub(crate) fn replay_receipt(
    consent: &mut ConsentLedger,
    stored: &ConsentReceipt,
    table: &'static str,
) -> Result<(), StoreError> {
    let change = ConsentChange::new(
        stored.customer,
        stored.level,
        stored.effective,
        stored.actor.clone(),
        stored.channel,
        stored.policy_version.clone(),
    );
    let replayed = consent.record(change, stored.recorded_at)?;
    if replayed.receipt != stored.receipt || replayed.previous_level != stored.previous_level {
        return Err(StoreError::Corrupt {
            table,
            reason: "a receipt does not follow from the receipts before it: a change was removed or reordered",
            source: None,
        });
    }
    Ok(())
}

/// Dates a consent change by the system clock, as the ledger will record it: the recording
/// instant never goes back (a clock set back a little dates it at the newest recording), and
/// a change meant to take effect "now" (read from the clock a moment before) takes effect at
/// that instant rather than being refused as backdated.
pub(crate) fn date_consent_change(
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

/// Commits sealed records in groups: each [`put`](Self::put) returns once its record is
/// durable, and records put by several threads at once share one transaction (one fsync),
/// which is what makes durable sealing fast under concurrency. (On PostgreSQL the server
/// already shares its commits between connections: see `PgStore::seal_durable`.) If a group does not commit, each of its records is stored on its own, so one
/// refused record (a conflict, a key shredded by another node) fails only its own `put`,
/// with its own error.
///
/// A writer thread owns the commits; dropping the committer finishes the records already
/// handed over and stops it.
pub struct GroupCommitter {
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<thread::JoinHandle<()>>,
}

struct Job {
    record: SealedRecord,
    category: DataCategory,
    done: mpsc::SyncSender<Result<(), StoreError>>,
}

/// At most this many records share one transaction.
const GROUP_LIMIT: usize = 512;

impl GroupCommitter {
    /// A committer writing to `store`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Thread`] if the writer thread could not be started.
    pub fn new(store: &SqliteStore) -> Result<Self, StoreError> {
        let (group_store, one_store) = (store.clone(), store.clone());
        Self::spawn(
            move |group: &[(&SealedRecord, DataCategory)]| {
                group_store.put_records(group.iter().copied())
            },
            move |record: &SealedRecord, category| one_store.put_record(record, category),
        )
    }

    /// Starts the writer: `put_group` stores a group in one transaction, all or none;
    /// `put_one` stores one record, for the records of a group that did not commit.
    fn spawn<G, O>(put_group: G, put_one: O) -> Result<Self, StoreError>
    where
        G: Fn(&[(&SealedRecord, DataCategory)]) -> Result<usize, StoreError> + Send + 'static,
        O: Fn(&SealedRecord, DataCategory) -> Result<(), StoreError> + Send + 'static,
    {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let writer = thread::Builder::new()
            .name("steward-group-commit".into())
            .spawn(move || {
                while let Ok(first) = inbox.recv() {
                    let mut group = vec![first];
                    while group.len() < GROUP_LIMIT {
                        match inbox.try_recv() {
                            Ok(job) => group.push(job),
                            Err(_) => break,
                        }
                    }
                    // A lone record is stored by the cheaper single-record path.
                    let committed = group.len() > 1 && {
                        let records: Vec<_> = group
                            .iter()
                            .map(|job| (&job.record, job.category))
                            .collect();
                        put_group(&records).is_ok()
                    };
                    for job in group {
                        let result = if committed {
                            Ok(())
                        } else {
                            put_one(&job.record, job.category)
                        };
                        // A caller that stopped waiting needs no answer.
                        let _answered = job.done.send(result);
                    }
                }
            })
            .map_err(|source| StoreError::Thread { source })?;
        Ok(Self {
            jobs: Some(jobs),
            writer: Some(writer),
        })
    }

    /// Stores `record` and returns once it is durable (committed with whatever other
    /// records arrived meanwhile).
    ///
    /// # Errors
    ///
    /// As the store's `put_record` for this record, if its group did not commit and it
    /// could not be stored on its own either; [`StoreError::GroupCommit`] if the writer
    /// thread stopped (the record may or may not be stored).
    pub fn put(&self, record: SealedRecord, category: DataCategory) -> Result<(), StoreError> {
        let (done, answer) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or(StoreError::GroupCommit {
            reason: "the committer is shut down".into(),
        })?;
        jobs.send(Job {
            record,
            category,
            done,
        })
        .map_err(|_| StoreError::GroupCommit {
            reason: "the writer thread stopped".into(),
        })?;
        answer.recv().map_err(|_| StoreError::GroupCommit {
            reason: "the writer thread stopped".into(),
        })?
    }
}

impl Drop for GroupCommitter {
    fn drop(&mut self) {
        // Closing the channel ends the writer's loop once it has committed what it holds.
        self.jobs.take();
        if let Some(writer) = self.writer.take() {
            let _finished = writer.join();
        }
    }
}

impl std::fmt::Debug for GroupCommitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommitter").finish_non_exhaustive()
    }
}

/// Records streamed from the store as an iterator, for a training export's source: a
/// reader thread scans the store on its own connection and hands over at most a few hundred
/// records at a time, so an export of any size runs in bounded memory. Dropping the stream
/// stops the scan.
pub struct RecordStream {
    records: mpsc::Receiver<Result<Vec<u8>, BoxError>>,
    reader: Option<thread::JoinHandle<()>>,
}

/// Records in flight between the reader thread and the stream's consumer.
const STREAM_BUFFER: usize = 256;

impl SqliteStore {
    /// Streams the records `scan` selects, whole for [`ExportPass::Run`] and only their
    /// headers for [`ExportPass::Plan`] (what a training export's planning pass needs), in
    /// (customer, created-at) order.
    ///
    /// ```
    /// use steward::{Policy, TrainingScope};
    /// use steward_store::{RecordScan, SqliteStore, StoreKeys, open_vault};
    ///
    /// # let dir = std::env::temp_dir().join(format!("steward-stream-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let keys = StoreKeys::new("kek-1".parse()?, &[0x42; 32], &[0x17; 32])?;
    /// let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
    /// let vault = open_vault(&store, &keys, Policy::coder_model())?;
    /// let outcome = vault.export_training(
    ///     TrainingScope::Shared,
    ///     |pass| store.stream_records(RecordScan::All, pass),
    ///     |record| Ok(println!("{} bytes", record.body().len())),
    /// )?;
    /// assert_eq!(outcome.counts.exported, 0);
    /// # drop((vault, store));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn stream_records(&self, scan: crate::RecordScan, pass: ExportPass) -> RecordStream {
        let store = self.clone();
        RecordStream::spawn(move |forward| match pass {
            ExportPass::Plan => store.scan_headers(scan, forward),
            _ => store.scan_records(scan, forward),
        })
    }
}

impl RecordStream {
    /// Runs `scan` on a reader thread, which hands each record it visits to the stream.
    pub(crate) fn spawn<F>(scan: F) -> Self
    where
        F: FnOnce(
                &mut dyn FnMut(crate::StoredRecord<'_>) -> Result<(), StreamStopped>,
            ) -> Result<u64, StreamStopped>
            + Send
            + 'static,
    {
        let (sender, records) = mpsc::sync_channel::<Result<Vec<u8>, BoxError>>(STREAM_BUFFER);
        let reader = thread::Builder::new()
            .name("steward-record-stream".into())
            .spawn(move || {
                let mut forward = |record: crate::StoredRecord<'_>| -> Result<(), StreamStopped> {
                    sender
                        .send(Ok(record.bytes().to_vec()))
                        .map_err(|_| StreamStopped::Dropped)
                };
                if let Err(StreamStopped::Store(error)) = scan(&mut forward) {
                    // The consumer may be gone too; then nobody needs the error.
                    let _reported = sender.send(Err(Box::new(error) as BoxError));
                }
            });
        match reader {
            Ok(reader) => Self {
                records,
                reader: Some(reader),
            },
            Err(error) => {
                let (sender, records) = mpsc::sync_channel(1);
                let _reported = sender.send(Err(
                    Box::new(StoreError::Thread { source: error }) as BoxError
                ));
                Self {
                    records,
                    reader: None,
                }
            }
        }
    }
}

/// Why the reader thread stopped early.
pub(crate) enum StreamStopped {
    /// The stream was dropped.
    Dropped,
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for StreamStopped {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl Iterator for RecordStream {
    type Item = Result<Vec<u8>, BoxError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.records.recv().ok()
    }
}

impl Drop for RecordStream {
    fn drop(&mut self) {
        // Closing the receiver makes the reader's next send fail, which ends its scan.
        let (_, closed) = mpsc::sync_channel(1);
        drop(std::mem::replace(&mut self.records, closed));
        if let Some(reader) = self.reader.take() {
            let _finished = reader.join();
        }
    }
}

impl std::fmt::Debug for RecordStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream").finish_non_exhaustive()
    }
}
