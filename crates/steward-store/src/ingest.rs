//! Request logs into the store at a server's pace: checked and sealed on the caller's task,
//! committed in batches by a writer thread, acknowledged once durable.

use std::{
    collections::{BTreeMap, VecDeque},
    fmt,
    future::Future,
    num::NonZeroUsize,
    pin::Pin,
    sync::{
        Arc, Condvar, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker},
    thread,
};

use steward::{
    DataRef, Decision, Request, RosterFacts, Vault,
    logs::{AuditStore, KeyError, LogsError, MemoryAuditStore, Sealed, SealedRecord},
    redact::RedactionCounts,
};
use steward_core::{CustomerId, DataCategory, RecordId, Timestamp, TrainingLevel};

use crate::{SqliteStore, StoreError, StoreVault};

/// A clonable handle that logs requests durably (`logs.stored`, `logs.encrypted`), made for
/// a server: share one per process (clones share its queue and writer).
///
/// Per request, [`log`](Self::log) checks that the entry may be logged (the policy's
/// `logs.stored` decision for the customer at the instant it was collected), redacts and
/// seals it on the caller's task (sealing is CPU work, done by the callers in parallel),
/// hands the sealed record to a bounded queue and resolves once the record is durable: a
/// writer thread commits what is queued in batches, one transaction each on SQLite, one
/// multi-row statement on PostgreSQL. Its futures need no runtime (they wake through the
/// standard [`Waker`]); [`log_blocking`](Self::log_blocking) is the same for sync callers.
///
/// A full queue makes callers wait ([`log`](Self::log)) or answers
/// [`IngestError::QueueFull`] ([`try_log`](Self::try_log)): nothing is dropped. A batch
/// that does not commit is retried record by record, so one refused record (a conflict)
/// fails only its own caller, and a store that fails (a full disk) fails the callers of
/// that batch with [`IngestError::Commit`]; the writer carries on with the next batch.
/// [`shutdown`](Self::shutdown) stops taking entries, commits what is queued and reports;
/// dropping the last clone does the same and blocks until the writer has finished, so an
/// async service awaits `shutdown` first.
///
/// ```
/// use std::sync::Arc;
///
/// use steward::{Policy, vocabulary::Timestamp};
/// use steward_store::{Ingest, IngestConfig, LogEntry, SqliteStore, StoreKeys, open_vault};
///
/// # let dir = std::env::temp_dir().join(format!("steward-ingest-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let keys = StoreKeys::new("kek-1".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
/// let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
/// let vault = Arc::new(open_vault(&store, &keys, Policy::coder_model())?);
/// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// vault.update_facts(|facts| facts.start_relationship(customer, Timestamp::now()))??;
///
/// let ingest = Ingest::sqlite(vault, store.clone(), IngestConfig::default())?;
/// // In an async handler: `ingest.log(entry).await?`; from sync code:
/// let logged = ingest.log_blocking(LogEntry::new(customer, Timestamp::now(), "{\"prompt\":\"hi\"}"))?;
/// assert!(store.record(logged.record())?.is_some());
///
/// let report = ingest.shutdown_blocking();
/// assert_eq!((report.committed(), report.failed()), (1, 0));
/// # drop((ingest, store));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Ingest {
    shared: Arc<Shared>,
}

/// One request's log, as [`Ingest::log`] takes it: whose, when, the body, and what kind of
/// data it is. The body is redacted and sealed; nothing else of the entry is stored outside
/// the sealed record's header (customer, instant, consent level, id).
pub struct LogEntry {
    customer: CustomerId,
    collected_at: Timestamp,
    body: Vec<u8>,
    category: DataCategory,
    record: Option<RecordId>,
}

/// What [`Ingest`] does with entries: how many wait, how many commit together, and when a
/// caller hears back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestConfig {
    queue_capacity: NonZeroUsize,
    max_batch: NonZeroUsize,
    acknowledge: Acknowledge,
    memory_capacity: NonZeroUsize,
}

/// When [`Ingest::log`] resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Acknowledge {
    /// Once the record is committed: an acknowledged request is never lost. The default.
    #[default]
    Durable,
    /// Once the sealed record is queued, before it is committed: a crash loses what was
    /// queued and not yet committed (at most the queue's capacity of records), and a commit
    /// that fails reaches no caller, only [`DrainReport::failed`] and the metrics. For
    /// deployments that accept that bounded loss window; [`Ingest::acknowledge`] and the
    /// [`DrainReport`] say this mode was in force.
    OnEnqueue,
}

/// A request logged: its record's id, what was redacted, and how it was acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged {
    record: RecordId,
    redacted: RedactionCounts,
    consent: TrainingLevel,
    acknowledged: Acknowledge,
}

/// What [`Ingest::shutdown`] reports: the records committed and failed over the handle's
/// life, and the acknowledgement mode in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    committed: u64,
    failed: u64,
    acknowledge: Acknowledge,
}

/// Why a request was not logged.
///
/// Messages name no customer, record id or body: an error can be logged as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The policy does not let this entry be stored (`logs.stored`): a customer with no
    /// relationship, or data past its retention. Nothing was sealed or stored.
    #[error("the policy refuses to log this request: {decision}")]
    Refused {
        /// The decision, naming its clause and reason.
        decision: Decision,
    },
    /// [`Ingest::try_log`] found the queue full: nothing was queued, try again later.
    #[error("the ingest queue is full ({capacity} records wait): nothing was queued")]
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The handle was shut down: nothing was queued.
    #[error("the ingest handle is shut down: nothing was queued")]
    ShutDown,
    /// The record was sealed but could not be committed.
    #[error("the record could not be committed")]
    Commit {
        /// What the store reported.
        #[source]
        source: StoreError,
    },
    /// The body could not be sealed.
    #[error("the request could not be sealed")]
    Seal {
        /// What the vault reported.
        #[source]
        source: LogsError,
    },
    /// The writer thread stopped before answering (it panicked): the record may or may not
    /// be stored.
    #[error("the ingest writer stopped before answering: the record may or may not be stored")]
    WriterStopped,
}

impl IngestError {
    /// The policy refused the entry ([`Refused`](Self::Refused)): the same entry is refused
    /// again, and nothing was stored.
    #[must_use]
    pub const fn is_refused(&self) -> bool {
        matches!(self, Self::Refused { .. })
    }
}

/// Sealed records kept in memory, for tests and services that keep no logs across restarts
/// (the example proxy's in-memory mode): bounded, so a full store refuses with
/// [`StoreError::MemoryFull`] rather than grow without limit or drop records.
#[derive(Clone)]
pub struct MemoryRecords {
    records: Arc<Mutex<BTreeMap<RecordId, MemoryRecord>>>,
    capacity: NonZeroUsize,
}

/// One record of [`MemoryRecords`]: its sealed bytes and category.
type MemoryRecord = (Vec<u8>, DataCategory);

impl Ingest {
    /// A handle that commits to the embedded store: one SQLite transaction per batch.
    ///
    /// # Errors
    ///
    /// [`StoreError::Thread`] if the writer thread could not be started.
    pub fn sqlite(
        vault: Arc<StoreVault>,
        store: SqliteStore,
        config: IngestConfig,
    ) -> Result<Self, StoreError> {
        Self::start(vault, Box::new(SqliteSink(store)), config, None)
    }

    /// A handle that commits to the shared PostgreSQL store: one multi-row statement per
    /// batch, on one pooled connection.
    ///
    /// A record refused because another node shredded its customer's key since this node
    /// last read it, or because its key version is full, fails its caller with
    /// [`IngestError::Commit`]; logging the entry again seals it under the adopted key (the
    /// handle refreshes the customer's keys, or rotates the full version, before answering).
    ///
    /// Sealing a customer's first record, or one after a key change, reads or writes their
    /// keys through the blocking PostgreSQL client before [`log`](Self::log) returns. On a
    /// tokio runtime's thread, where that client may not run, the store runs it on a thread
    /// of its own and waits: the caller's thread is blocked for that round trip (a few
    /// milliseconds, once per customer and key change), not stopped. A server that must never
    /// block a worker calls `log` from tokio's `spawn_blocking`, as the example proxy does.
    /// (The SQLite handle writes a customer's first key on the caller's thread too.)
    ///
    /// # Errors
    ///
    /// [`StoreError::Thread`] if the writer thread could not be started.
    #[cfg(feature = "postgres")]
    pub fn postgres(
        vault: Arc<crate::pg::PgVault>,
        store: crate::pg::PgStore,
        config: IngestConfig,
    ) -> Result<Self, StoreError> {
        Self::start(vault, Box::new(PgSink(store)), config, None)
    }

    /// A handle that keeps sealed records in memory ([`MemoryRecords`], at most
    /// [`IngestConfig::with_memory_capacity`] of them; [`memory_records`](Self::memory_records)
    /// reads them back), on a vault whose facts and audit trail are in memory too.
    ///
    /// # Errors
    ///
    /// [`StoreError::Thread`] if the writer thread could not be started.
    pub fn memory(
        vault: Arc<Vault<steward::MemoryFacts, MemoryAuditStore>>,
        config: IngestConfig,
    ) -> Result<Self, StoreError> {
        let records = MemoryRecords::new(config.memory_capacity);
        Self::start(
            vault,
            Box::new(records.clone()),
            config,
            Some(records.clone()),
        )
    }

    /// The handle over any vault and sink: the writer thread starts here.
    pub(crate) fn start(
        sealer: Arc<dyn Sealer>,
        sink: Box<dyn RecordSink>,
        config: IngestConfig,
        memory: Option<MemoryRecords>,
    ) -> Result<Self, StoreError> {
        let writer = Writer::spawn(sink, config.queue_capacity, config.max_batch)?;
        Ok(Self {
            shared: Arc::new(Shared {
                sealer,
                writer,
                config,
                memory,
            }),
        })
    }

    /// Logs `entry`: checks it may be logged, redacts and seals it now, on the caller's task,
    /// and queues it now if there is room (otherwise the future waits for room); the future
    /// resolves once the record is durable (or, under [`Acknowledge::OnEnqueue`], once
    /// queued). Dropping the future does not withdraw a queued record.
    ///
    /// # Errors
    ///
    /// [`IngestError::Refused`] (`logs.stored`: no relationship, or past retention) before
    /// anything is sealed; [`IngestError::Seal`] if the vault cannot seal;
    /// [`IngestError::ShutDown`] after [`shutdown`](Self::shutdown);
    /// [`IngestError::Commit`] if the store refused or failed the record.
    pub fn log(
        &self,
        entry: LogEntry,
    ) -> impl Future<Output = Result<Logged, IngestError>> + Send + 'static {
        // Queued now if there is room, so that the record is on its way even if the future
        // is never polled; otherwise the future waits for room.
        let queued = self.shared.prepare(entry).map(|(job, pending)| {
            match self.shared.writer.queue.offer(job) {
                Offer::Queued => (None, pending),
                Offer::Full(job) => (Some(job), pending),
                Offer::Closed => (None, pending.shut_down()),
            }
        });
        let shared = Arc::clone(&self.shared);
        async move {
            let (waiting, pending) = queued?;
            if let Some(job) = waiting {
                Enqueue {
                    queue: &shared.writer.queue,
                    job: Some(job),
                }
                .await?;
            }
            pending.await
        }
    }

    /// As [`log`](Self::log), but a full queue is [`IngestError::QueueFull`] at once
    /// (nothing queued, nothing dropped); otherwise the record is queued before this returns,
    /// and the future resolves as [`log`](Self::log)'s does.
    ///
    /// # Errors
    ///
    /// [`IngestError::QueueFull`]; as [`log`](Self::log) for the rest.
    pub fn try_log(
        &self,
        entry: LogEntry,
    ) -> Result<impl Future<Output = Result<Logged, IngestError>> + Send + 'static, IngestError>
    {
        let (job, pending) = self.shared.prepare(entry)?;
        self.shared.writer.queue.try_push(job)?;
        Ok(pending)
    }

    /// As [`log`](Self::log), for sync callers: blocks the thread while the queue is full and
    /// until the record is durable.
    ///
    /// # Errors
    ///
    /// As [`log`](Self::log).
    pub fn log_blocking(&self, entry: LogEntry) -> Result<Logged, IngestError> {
        let (job, pending) = self.shared.prepare(entry)?;
        self.shared.writer.queue.push_blocking(job)?;
        pending.wait()
    }

    /// When this handle's [`log`](Self::log) resolves: [`Acknowledge::OnEnqueue`] accepts a
    /// bounded loss window, which a run's report should state.
    #[must_use]
    pub fn acknowledge(&self) -> Acknowledge {
        self.shared.config.acknowledge
    }

    /// The configuration the handle runs with.
    #[must_use]
    pub fn config(&self) -> IngestConfig {
        self.shared.config
    }

    /// How many sealed records wait for the writer now.
    #[must_use]
    pub fn queue_depth(&self) -> usize {
        self.shared.writer.queue.len()
    }

    /// The records of a handle made by [`memory`](Self::memory); `None` for a store's.
    #[must_use]
    pub fn memory_records(&self) -> Option<&MemoryRecords> {
        self.shared.memory.as_ref()
    }

    /// Stops taking entries (every clone then answers [`IngestError::ShutDown`]), commits
    /// what is queued, and resolves with the counts once the writer has finished.
    pub fn shutdown(&self) -> impl Future<Output = DrainReport> + Send + 'static {
        self.shared.writer.queue.close();
        let done = Arc::clone(&self.shared.writer.done);
        let acknowledge = self.shared.config.acknowledge;
        async move {
            let (committed, failed) = Wait {
                slot: &done,
                read: |value| *value,
            }
            .await
            .unwrap_or((0, 0));
            DrainReport {
                committed,
                failed,
                acknowledge,
            }
        }
    }

    /// As [`shutdown`](Self::shutdown), blocking the thread until the writer has finished.
    #[must_use]
    pub fn shutdown_blocking(&self) -> DrainReport {
        self.shared.writer.queue.close();
        let (committed, failed) = self
            .shared
            .writer
            .done
            .wait(|value| *value)
            .unwrap_or((0, 0));
        DrainReport {
            committed,
            failed,
            acknowledge: self.shared.config.acknowledge,
        }
    }
}

impl fmt::Debug for Ingest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ingest")
            .field("config", &self.shared.config)
            .field("queue_depth", &self.queue_depth())
            .finish_non_exhaustive()
    }
}

impl LogEntry {
    /// The log of a request of `customer`, collected at `collected_at`, with `body` (the
    /// request and response as the service records them), as [`DataCategory::LlmRequestLog`].
    #[must_use]
    pub fn new(customer: CustomerId, collected_at: Timestamp, body: impl Into<Vec<u8>>) -> Self {
        Self {
            customer,
            collected_at,
            body: body.into(),
            category: DataCategory::LlmRequestLog,
            record: None,
        }
    }

    /// The same entry, stored as data of `category`.
    #[must_use]
    pub const fn with_category(mut self, category: DataCategory) -> Self {
        self.category = category;
        self
    }

    /// The same entry, stored under `record` rather than a new id (a writer that names its
    /// records, to store each once across reruns): a taken id is refused by the store as
    /// [`StoreError::RecordConflict`].
    #[must_use]
    pub const fn with_record_id(mut self, record: RecordId) -> Self {
        self.record = Some(record);
        self
    }

    /// The customer.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// When the request was collected.
    #[must_use]
    pub const fn collected_at(&self) -> Timestamp {
        self.collected_at
    }

    /// The data category.
    #[must_use]
    pub const fn category(&self) -> DataCategory {
        self.category
    }
}

impl fmt::Debug for LogEntry {
    /// The category and the body's length: never the body, the customer or the id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogEntry")
            .field("category", &self.category)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Default for IngestConfig {
    /// 4096 queued records, batches of at most 512, [`Acknowledge::Durable`], and room for a
    /// million records in memory.
    fn default() -> Self {
        Self {
            queue_capacity: nonzero(4096),
            max_batch: nonzero(512),
            acknowledge: Acknowledge::Durable,
            memory_capacity: nonzero(1_000_000),
        }
    }
}

impl IngestConfig {
    /// At most `capacity` sealed records wait for the writer; callers wait beyond that.
    #[must_use]
    pub const fn with_queue_capacity(mut self, capacity: NonZeroUsize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// At most `max` records commit in one transaction.
    #[must_use]
    pub const fn with_max_batch(mut self, max: NonZeroUsize) -> Self {
        self.max_batch = max;
        self
    }

    /// When [`Ingest::log`] resolves.
    #[must_use]
    pub const fn with_acknowledge(mut self, acknowledge: Acknowledge) -> Self {
        self.acknowledge = acknowledge;
        self
    }

    /// At most `capacity` records in a handle made by [`Ingest::memory`].
    #[must_use]
    pub const fn with_memory_capacity(mut self, capacity: NonZeroUsize) -> Self {
        self.memory_capacity = capacity;
        self
    }

    /// The queue's capacity.
    #[must_use]
    pub const fn queue_capacity(&self) -> NonZeroUsize {
        self.queue_capacity
    }

    /// The largest batch.
    #[must_use]
    pub const fn max_batch(&self) -> NonZeroUsize {
        self.max_batch
    }

    /// When [`Ingest::log`] resolves.
    #[must_use]
    pub const fn acknowledge(&self) -> Acknowledge {
        self.acknowledge
    }
}

impl Logged {
    /// The id of the stored record.
    #[must_use]
    pub const fn record(&self) -> RecordId {
        self.record
    }

    /// How many secrets of each kind were redacted before sealing (never the secrets).
    #[must_use]
    pub const fn redacted(&self) -> &RedactionCounts {
        &self.redacted
    }

    /// The training level sealed into the record: the customer's consent in force when it
    /// was collected (`training.forward-only`).
    #[must_use]
    pub const fn consent(&self) -> TrainingLevel {
        self.consent
    }

    /// How the request was acknowledged: [`Acknowledge::Durable`] means committed.
    #[must_use]
    pub const fn acknowledged(&self) -> Acknowledge {
        self.acknowledged
    }
}

impl DrainReport {
    /// Records committed over the handle's life.
    #[must_use]
    pub const fn committed(&self) -> u64 {
        self.committed
    }

    /// Records the writer could not commit over the handle's life (each caller that waited
    /// was told; under [`Acknowledge::OnEnqueue`] only this count says so).
    #[must_use]
    pub const fn failed(&self) -> u64 {
        self.failed
    }

    /// The acknowledgement mode in force.
    #[must_use]
    pub const fn acknowledge(&self) -> Acknowledge {
        self.acknowledge
    }
}

impl MemoryRecords {
    /// An empty store for at most `capacity` records.
    #[must_use]
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            records: Arc::new(Mutex::new(BTreeMap::new())),
            capacity,
        }
    }

    /// The sealed bytes stored under `id`, if any.
    #[must_use]
    pub fn record(&self, id: RecordId) -> Option<Vec<u8>> {
        lock(&self.records).get(&id).map(|(bytes, _)| bytes.clone())
    }

    /// How many records are stored.
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.records).len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        lock(&self.records).is_empty()
    }

    /// The ids stored, in order.
    #[must_use]
    pub fn ids(&self) -> Vec<RecordId> {
        lock(&self.records).keys().copied().collect()
    }

    /// Stores `records`, all or none, as the stores do: an id taken by other bytes is
    /// [`StoreError::RecordConflict`], the same record again is stored once.
    fn put_all(&self, records: &[(&SealedRecord, DataCategory)]) -> Result<(), StoreError> {
        let mut stored = lock(&self.records);
        let mut new = 0_usize;
        for (record, _) in records {
            match stored.get(&record.header().record_id()) {
                Some((bytes, _)) if bytes.as_slice() != record.as_bytes() => {
                    return Err(StoreError::RecordConflict);
                }
                Some(_) => {}
                None => new = new.saturating_add(1),
            }
        }
        if stored.len().saturating_add(new) > self.capacity.get() {
            return Err(StoreError::MemoryFull {
                capacity: self.capacity.get(),
            });
        }
        for (record, category) in records {
            stored
                .entry(record.header().record_id())
                .or_insert_with(|| (record.as_bytes().to_vec(), *category));
        }
        Ok(())
    }
}

impl fmt::Debug for MemoryRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRecords")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// The vault, as the handle uses it: decide and seal, whatever its facts and audit store.
pub(crate) trait Sealer: Send + Sync + 'static {
    /// The policy's decision on storing `data` at `now`.
    fn decide(&self, request: &Request<'_>) -> Decision;

    /// Seals `body` as record `id`, as [`Vault::seal_counting`].
    fn seal(
        &self,
        id: RecordId,
        customer: CustomerId,
        collected_at: Timestamp,
        body: &[u8],
    ) -> Result<Sealed, LogsError>;

    /// After the store refused a record of `customer` with `error`: adopts another node's
    /// shred, or rotates a full key version, so that the entry seals again under a live key.
    fn recover(&self, customer: CustomerId, error: &StoreError);
}

impl<F, S> Sealer for Vault<F, S>
where
    F: RosterFacts + 'static,
    S: AuditStore + 'static,
    Self: Send + Sync,
{
    fn decide(&self, request: &Request<'_>) -> Decision {
        self.check(request)
    }

    fn seal(
        &self,
        id: RecordId,
        customer: CustomerId,
        collected_at: Timestamp,
        body: &[u8],
    ) -> Result<Sealed, LogsError> {
        self.seal_counting(id, customer, collected_at, body)
    }

    fn recover(&self, customer: CustomerId, error: &StoreError) {
        // Best effort: the caller hears the store's error either way, and a recovery that
        // fails now is tried again by the next refused record.
        match error {
            StoreError::DataKeyShredded { .. } => {
                let _adopted = self.refresh_customer(customer);
            }
            StoreError::Logs(LogsError::Key(KeyError::DataKeyExhausted { .. })) => {
                let _rotated = self.rotate_data_key(customer);
            }
            _ => {}
        }
    }
}

/// Where the writer commits: a batch in one transaction, all or none, and one record alone
/// (for the records of a batch that did not commit).
pub(crate) trait RecordSink: Send + 'static {
    /// Stores `records` in one transaction, all or none.
    fn put_batch(&mut self, records: &[(&SealedRecord, DataCategory)]) -> Result<(), StoreError>;

    /// Stores one record.
    fn put_one(&mut self, record: &SealedRecord, category: DataCategory) -> Result<(), StoreError>;
}

/// The embedded store as a sink.
pub(crate) struct SqliteSink(pub(crate) SqliteStore);

impl RecordSink for SqliteSink {
    fn put_batch(&mut self, records: &[(&SealedRecord, DataCategory)]) -> Result<(), StoreError> {
        match records {
            // A lone record is stored by the cheaper single-record path.
            [(record, category)] => self.0.put_record(record, *category),
            _ => self.0.put_records(records.iter().copied()).map(|_| ()),
        }
    }

    fn put_one(&mut self, record: &SealedRecord, category: DataCategory) -> Result<(), StoreError> {
        self.0.put_record(record, category)
    }
}

/// The shared PostgreSQL store as a sink.
#[cfg(feature = "postgres")]
struct PgSink(crate::pg::PgStore);

#[cfg(feature = "postgres")]
impl RecordSink for PgSink {
    fn put_batch(&mut self, records: &[(&SealedRecord, DataCategory)]) -> Result<(), StoreError> {
        self.0.put_records(records.iter().copied()).map(|_| ())
    }

    fn put_one(&mut self, record: &SealedRecord, category: DataCategory) -> Result<(), StoreError> {
        self.0.put_record(record, category)
    }
}

impl RecordSink for MemoryRecords {
    fn put_batch(&mut self, records: &[(&SealedRecord, DataCategory)]) -> Result<(), StoreError> {
        self.put_all(records)
    }

    fn put_one(&mut self, record: &SealedRecord, category: DataCategory) -> Result<(), StoreError> {
        self.put_all(&[(record, category)])
    }
}

struct Shared {
    sealer: Arc<dyn Sealer>,
    writer: Writer,
    config: IngestConfig,
    memory: Option<MemoryRecords>,
}

impl Shared {
    /// Checks and seals `entry`: the job for the writer, and what its caller waits on.
    fn prepare(&self, entry: LogEntry) -> Result<(Job, Pending), IngestError> {
        let LogEntry {
            customer,
            collected_at,
            body,
            category,
            record,
        } = entry;
        // logs.stored: a request is logged only for a customer the policy keeps data of, at
        // the instant it was collected; a refusal stores nothing.
        let data = DataRef::new(category, customer, collected_at);
        let decision = self.sealer.decide(&Request::keep(data, collected_at));
        if !decision.is_allowed() {
            crate::observe::ingest_refused(decision.decisive());
            return Err(IngestError::Refused { decision });
        }
        let id = record.unwrap_or_else(|| RecordId::generate_at(collected_at));
        let sealed = self
            .sealer
            .seal(id, customer, collected_at, &body)
            .map_err(|source| IngestError::Seal { source })?;
        let redacted = *sealed.redactions();
        let consent = sealed.record().header().consent();
        let (reply, pending) = match self.config.acknowledge {
            Acknowledge::OnEnqueue => (None, PendingKind::Enqueued),
            _ => {
                let (reply, slot) = Responder::new();
                (Some(reply), PendingKind::Durable(slot))
            }
        };
        Ok((
            Job {
                record: sealed.into_record(),
                category,
                reply,
            },
            Pending {
                logged: Logged {
                    record: id,
                    redacted,
                    consent,
                    acknowledged: self.config.acknowledge,
                },
                kind: pending,
                sealer: Arc::clone(&self.sealer),
                customer,
            },
        ))
    }
}

/// A sealed record on its way to the writer.
pub(crate) struct Job {
    pub(crate) record: SealedRecord,
    pub(crate) category: DataCategory,
    /// Whom to tell once it is committed; `None` if nobody waits.
    pub(crate) reply: Option<Responder>,
}

/// The writer's answer to one caller; dropped unanswered (a panicking writer), the caller
/// hears [`IngestError::WriterStopped`].
pub(crate) struct Responder(Option<Arc<Slot<Result<(), StoreError>>>>);

impl Responder {
    /// A responder, and the slot its answer arrives in.
    pub(crate) fn new() -> (Self, Arc<Slot<Result<(), StoreError>>>) {
        let slot = Arc::new(Slot::default());
        (Self(Some(Arc::clone(&slot))), slot)
    }

    pub(crate) fn answer(mut self, result: Result<(), StoreError>) {
        if let Some(slot) = self.0.take() {
            slot.set(result);
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            slot.close();
        }
    }
}

/// What a caller of [`Ingest::log`] waits on once its record is queued.
struct Pending {
    logged: Logged,
    kind: PendingKind,
    /// Who recovers from a refused record, and for whom.
    sealer: Arc<dyn Sealer>,
    customer: CustomerId,
}

enum PendingKind {
    Durable(Arc<Slot<Result<(), StoreError>>>),
    Enqueued,
    /// The queue was closed when the record was offered: nothing was queued.
    ShutDown,
}

impl Pending {
    /// This caller's record was not queued: the queue is closed.
    fn shut_down(mut self) -> Self {
        self.kind = PendingKind::ShutDown;
        self
    }

    fn wait(self) -> Result<Logged, IngestError> {
        match &self.kind {
            PendingKind::Enqueued => Ok(self.logged),
            PendingKind::ShutDown => Err(IngestError::ShutDown),
            PendingKind::Durable(slot) => self.finish(slot.wait(Option::take)),
        }
    }
}

impl Future for Pending {
    type Output = Result<Logged, IngestError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &self.kind {
            PendingKind::Enqueued => Poll::Ready(Ok(self.logged)),
            PendingKind::ShutDown => Poll::Ready(Err(IngestError::ShutDown)),
            PendingKind::Durable(slot) => slot
                .poll(cx, Option::take)
                .map(|answer| self.finish(answer)),
        }
    }
}

impl Pending {
    fn finish(&self, answer: Option<Result<(), StoreError>>) -> Result<Logged, IngestError> {
        match answer {
            Some(Ok(())) => Ok(self.logged),
            Some(Err(source)) => {
                self.sealer.recover(self.customer, &source);
                Err(IngestError::Commit { source })
            }
            None => Err(IngestError::WriterStopped),
        }
    }
}

/// The bounded queue and the thread that commits from it.
pub(crate) struct Writer {
    pub(crate) queue: Arc<Queue>,
    /// Set by the writer when it has finished: (committed, failed).
    done: Arc<Slot<(u64, u64)>>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Writer {
    /// Starts the writer thread over `sink`.
    pub(crate) fn spawn(
        mut sink: Box<dyn RecordSink>,
        capacity: NonZeroUsize,
        max_batch: NonZeroUsize,
    ) -> Result<Self, StoreError> {
        let queue = Arc::new(Queue::new(capacity));
        let done = Arc::new(Slot::default());
        let (inbox, finished) = (Arc::clone(&queue), Arc::clone(&done));
        let thread = thread::Builder::new()
            .name("steward-ingest-writer".into())
            .spawn(move || {
                // The secret scanner's one-time build (its rules' DFAs, tens of milliseconds)
                // happens here while the queue is still empty, not on the first request's
                // seal: a seal meanwhile waits for this build rather than starting another.
                // A build that fails is reported by every seal that needs it.
                drop(steward::redact::Scanner::standard());
                let committed = AtomicU64::new(0);
                let failed = AtomicU64::new(0);
                while let Some(batch) = inbox.pop_batch(max_batch.get()) {
                    commit_batch(&mut *sink, batch, &committed, &failed);
                }
                finished.set((
                    committed.load(Ordering::Relaxed),
                    failed.load(Ordering::Relaxed),
                ));
            })
            .map_err(|source| StoreError::Thread { source })?;
        Ok(Self {
            queue,
            done,
            thread: Mutex::new(Some(thread)),
        })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // The last handle is gone: the writer commits what is queued, then stops.
        self.queue.close();
        if let Some(thread) = lock(&self.thread).take() {
            let _finished = thread.join();
        }
    }
}

/// Commits one batch: in one transaction, or, if that fails, record by record, so that
/// each caller hears its own record's fate.
fn commit_batch(
    sink: &mut dyn RecordSink,
    batch: Vec<Job>,
    committed: &AtomicU64,
    failed: &AtomicU64,
) {
    let _span = crate::observe::commit_span(batch.len());
    let timer = crate::observe::timer();
    let records: Vec<(&SealedRecord, DataCategory)> = batch
        .iter()
        .map(|job| (&job.record, job.category))
        .collect();
    let results: Vec<Result<(), StoreError>> = match sink.put_batch(&records) {
        Ok(()) => records.iter().map(|_| Ok(())).collect(),
        Err(error) if records.len() == 1 => vec![Err(error)],
        // One refused record (a conflict) fails only its own caller; a store that fails
        // fails each of them.
        Err(_) => records
            .iter()
            .map(|(record, category)| sink.put_one(record, *category))
            .collect(),
    };
    drop(records);
    let size = batch.len();
    let (mut ok, mut not) = (0_u64, 0_u64);
    for (job, result) in batch.into_iter().zip(results) {
        if result.is_ok() {
            ok = ok.saturating_add(1);
        } else {
            not = not.saturating_add(1);
        }
        if let Some(reply) = job.reply {
            reply.answer(result);
        }
    }
    committed.fetch_add(ok, Ordering::Relaxed);
    failed.fetch_add(not, Ordering::Relaxed);
    crate::observe::ingest_batch(&timer, size, ok, not);
}

/// The bounded queue between the callers and the writer: callers push (waiting while it is
/// full), the writer pops batches (waiting while it is empty).
pub(crate) struct Queue {
    state: Mutex<QueueState>,
    capacity: usize,
    /// The writer waits here for jobs.
    filled: Condvar,
    /// Blocking callers wait here for room.
    drained: Condvar,
}

struct QueueState {
    jobs: VecDeque<Job>,
    closed: bool,
    /// The writer waits on `filled`: a push must wake it. While it commits, pushes skip the
    /// wake-up (a system call each), and it finds their jobs when it comes back.
    writer_idle: bool,
    /// Async callers waiting for room.
    waiting: Vec<Waker>,
}

impl Queue {
    fn new(capacity: NonZeroUsize) -> Self {
        Self {
            state: Mutex::new(QueueState {
                jobs: VecDeque::with_capacity(capacity.get().min(4096)),
                closed: false,
                writer_idle: false,
                waiting: Vec::new(),
            }),
            capacity: capacity.get(),
            filled: Condvar::new(),
            drained: Condvar::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        lock(&self.state).jobs.len()
    }

    pub(crate) fn try_push(&self, job: Job) -> Result<(), IngestError> {
        match self.offer(job) {
            Offer::Queued => Ok(()),
            Offer::Full(_) => Err(IngestError::QueueFull {
                capacity: self.capacity,
            }),
            Offer::Closed => Err(IngestError::ShutDown),
        }
    }

    /// Queues `job` if there is room, or hands it back.
    fn offer(&self, job: Job) -> Offer {
        let mut state = lock(&self.state);
        if state.closed {
            return Offer::Closed;
        }
        if state.jobs.len() >= self.capacity {
            return Offer::Full(job);
        }
        state.jobs.push_back(job);
        crate::observe::ingest_queue_depth(state.jobs.len());
        let idle = state.writer_idle;
        drop(state);
        if idle {
            self.filled.notify_one();
        }
        Offer::Queued
    }

    pub(crate) fn push_blocking(&self, job: Job) -> Result<(), IngestError> {
        let mut state = lock(&self.state);
        loop {
            if state.closed {
                return Err(IngestError::ShutDown);
            }
            if state.jobs.len() < self.capacity {
                state.jobs.push_back(job);
                crate::observe::ingest_queue_depth(state.jobs.len());
                let idle = state.writer_idle;
                drop(state);
                if idle {
                    self.filled.notify_one();
                }
                return Ok(());
            }
            state = self
                .drained
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Pushes the job in `slot`, or registers `cx`'s waker to be woken when room is made.
    fn poll_push(
        &self,
        slot: &mut Option<Job>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), IngestError>> {
        let mut state = lock(&self.state);
        if state.closed {
            return Poll::Ready(Err(IngestError::ShutDown));
        }
        if state.jobs.len() < self.capacity {
            if let Some(job) = slot.take() {
                state.jobs.push_back(job);
                crate::observe::ingest_queue_depth(state.jobs.len());
            }
            let idle = state.writer_idle;
            drop(state);
            if idle {
                self.filled.notify_one();
            }
            return Poll::Ready(Ok(()));
        }
        if !state
            .waiting
            .iter()
            .any(|waker| waker.will_wake(cx.waker()))
        {
            state.waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Up to `max` jobs, waiting while there are none; `None` once closed and empty.
    fn pop_batch(&self, max: usize) -> Option<Vec<Job>> {
        let mut state = lock(&self.state);
        loop {
            if !state.jobs.is_empty() {
                let take = state.jobs.len().min(max);
                let batch: Vec<Job> = state.jobs.drain(..take).collect();
                crate::observe::ingest_queue_depth(state.jobs.len());
                let waiting = std::mem::take(&mut state.waiting);
                drop(state);
                self.drained.notify_all();
                for waker in waiting {
                    waker.wake();
                }
                return Some(batch);
            }
            if state.closed {
                return None;
            }
            state.writer_idle = true;
            state = self
                .filled
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.writer_idle = false;
        }
    }

    /// No more pushes; the writer takes what is queued, then stops.
    pub(crate) fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        let waiting = std::mem::take(&mut state.waiting);
        drop(state);
        self.filled.notify_all();
        self.drained.notify_all();
        for waker in waiting {
            waker.wake();
        }
    }
}

/// What became of a job offered to the queue.
enum Offer {
    Queued,
    /// No room: the job, to wait with.
    Full(Job),
    Closed,
}

/// The future of a push that may wait for room.
struct Enqueue<'q> {
    queue: &'q Queue,
    job: Option<Job>,
}

impl Future for Enqueue<'_> {
    type Output = Result<(), IngestError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.queue.poll_push(&mut this.job, cx)
    }
}

/// A value one side sets once and the other waits for, blocking or as a future: a oneshot
/// channel over std's mutex, condition variable and wakers.
pub(crate) struct Slot<T> {
    state: Mutex<SlotState<T>>,
    set: Condvar,
}

struct SlotState<T> {
    value: Option<T>,
    /// Set without a value: the setter is gone.
    closed: bool,
    /// A thread waits on the condition variable (a wake-up is a system call: skipped when
    /// only futures wait).
    blocked: bool,
    waiting: Vec<Waker>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(SlotState {
                value: None,
                closed: false,
                blocked: false,
                waiting: Vec::new(),
            }),
            set: Condvar::new(),
        }
    }
}

impl<T> Slot<T> {
    pub(crate) fn set(&self, value: T) {
        let mut state = lock(&self.state);
        state.value = Some(value);
        state.closed = true;
        self.wake(state);
    }

    fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        self.wake(state);
    }

    fn wake(&self, mut state: MutexGuard<'_, SlotState<T>>) {
        let waiting = std::mem::take(&mut state.waiting);
        let blocked = state.blocked;
        drop(state);
        if blocked {
            self.set.notify_all();
        }
        for waker in waiting {
            waker.wake();
        }
    }

    /// The value as `read` reads it (taken, or a copy), `None` if the setter went away
    /// without one.
    fn wait(&self, read: Read<T>) -> Option<T> {
        let mut state = lock(&self.state);
        while !state.closed {
            state.blocked = true;
            state = self.set.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        read(&mut state.value)
    }

    /// Blocks until the answer comes, and takes it.
    pub(crate) fn wait_answer(&self) -> Option<T> {
        self.wait(Option::take)
    }

    fn poll(&self, cx: &mut Context<'_>, read: Read<T>) -> Poll<Option<T>> {
        let mut state = lock(&self.state);
        if state.closed {
            return Poll::Ready(read(&mut state.value));
        }
        if !state
            .waiting
            .iter()
            .any(|waker| waker.will_wake(cx.waker()))
        {
            state.waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// How a waiter reads a [`Slot`]'s value: takes it (one waiter) or copies it (several).
type Read<T> = fn(&mut Option<T>) -> Option<T>;

/// The future of a wait on a [`Slot`].
struct Wait<'s, T> {
    slot: &'s Slot<T>,
    read: Read<T>,
}

impl<T> Future for Wait<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.slot.poll(cx, self.read)
    }
}

/// `n` as a [`NonZeroUsize`], for constants (1 for 0).
pub(crate) const fn nonzero(n: usize) -> NonZeroUsize {
    match NonZeroUsize::new(n) {
        Some(n) => n,
        None => NonZeroUsize::MIN,
    }
}

/// Locks `mutex`, carrying on past a poisoned lock: the queue's and slots' state stays
/// consistent at every point a panic could leave it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::panic,
        reason = "tests: a failed step must fail the test"
    )]

    use std::{
        sync::{
            atomic::AtomicBool,
            mpsc::{self, Receiver, Sender},
        },
        task::Waker,
    };

    use futures_executor::block_on;
    use steward::{
        MemoryFacts, Policy,
        logs::{AuditKey, AuditTrail, Keyring, MasterKey},
        vocabulary::ClauseId,
    };

    use super::*;

    type MemoryVault = Vault<MemoryFacts, MemoryAuditStore>;

    fn customer(n: u8) -> CustomerId {
        format!("0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a{n:02x}")
            .parse()
            .unwrap()
    }

    /// A vault in memory where customers 1 to 4 have a relationship since 2025.
    fn vault() -> Arc<MemoryVault> {
        let policy = Policy::coder_model();
        let mut facts = MemoryFacts::new(&policy);
        for n in 1..=4 {
            facts
                .relationships
                .start(customer(n), "2025-01-01T00:00:00Z".parse().unwrap())
                .unwrap();
        }
        let master = MasterKey::from_bytes(
            "kek-1".parse().unwrap(),
            b"steward test key 42, not secret!",
        )
        .unwrap();
        let trail = AuditTrail::new(
            AuditKey::from_bytes(b"steward test key 17, not secret!").unwrap(),
            MemoryAuditStore::new(),
        )
        .unwrap();
        Arc::new(Vault::new(policy, facts, Keyring::new(master), trail).unwrap())
    }

    fn entry(n: u8, body: &str) -> LogEntry {
        LogEntry::new(customer(n), Timestamp::now(), body)
    }

    fn small(capacity: usize) -> IngestConfig {
        IngestConfig::default().with_queue_capacity(nonzero(capacity))
    }

    /// A sink that reports each batch it enters, waits for a go before storing it, and fails
    /// while told to.
    struct Gate {
        records: MemoryRecords,
        entered: Sender<usize>,
        go: Receiver<()>,
        failing: Arc<AtomicBool>,
    }

    impl Gate {
        fn ingest(config: IngestConfig) -> (Ingest, Receiver<usize>, Sender<()>, Arc<AtomicBool>) {
            let (entered, batches) = mpsc::channel();
            let (release, go) = mpsc::channel();
            let failing = Arc::new(AtomicBool::new(false));
            let records = MemoryRecords::new(nonzero(1000));
            let gate = Self {
                records: records.clone(),
                entered,
                go,
                failing: Arc::clone(&failing),
            };
            let ingest = Ingest::start(vault(), Box::new(gate), config, Some(records)).unwrap();
            (ingest, batches, release, failing)
        }

        fn store(&self, records: &[(&SealedRecord, DataCategory)]) -> Result<(), StoreError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(StoreError::GroupCommit {
                    reason: "the disk is full (test)",
                });
            }
            self.records.put_all(records)
        }
    }

    impl RecordSink for Gate {
        fn put_batch(
            &mut self,
            records: &[(&SealedRecord, DataCategory)],
        ) -> Result<(), StoreError> {
            let _ = self.entered.send(records.len());
            let _ = self.go.recv();
            self.store(records)
        }

        fn put_one(
            &mut self,
            record: &SealedRecord,
            category: DataCategory,
        ) -> Result<(), StoreError> {
            self.store(&[(record, category)])
        }
    }

    fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn threads_logging_at_once_are_each_acknowledged_and_each_record_is_readable() {
        let ingest = Ingest::memory(vault(), small(8)).unwrap();
        let handles: Vec<_> = (0..8_u8)
            .map(|t| {
                let ingest = ingest.clone();
                thread::spawn(move || {
                    (0..50)
                        .map(|i| {
                            let entry = entry(1 + t % 4, &format!("prompt {t}/{i}"));
                            if i % 2 == 0 {
                                block_on(ingest.log(entry)).unwrap().record()
                            } else {
                                ingest.log_blocking(entry).unwrap().record()
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let ids: Vec<RecordId> = handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect();
        let records = ingest.memory_records().unwrap();
        assert_eq!(records.len(), 400);
        for id in &ids {
            let bytes = records.record(*id).unwrap();
            assert_eq!(
                SealedRecord::from_vec(bytes).unwrap().header().record_id(),
                *id
            );
        }
        let report = ingest.shutdown_blocking();
        assert_eq!((report.committed(), report.failed()), (400, 0));
        assert_eq!(report.acknowledge(), Acknowledge::Durable);
    }

    #[test]
    fn a_full_queue_is_reported_by_try_log_and_makes_log_wait_and_nothing_is_dropped() {
        let (ingest, batches, release, _) = Gate::ingest(small(1));
        let first = ingest.try_log(entry(1, "one")).unwrap();
        // The writer took the first record and is held inside its commit.
        assert_eq!(batches.recv().unwrap(), 1);
        let second = ingest.try_log(entry(1, "two")).unwrap();
        assert_eq!(ingest.queue_depth(), 1);
        assert!(matches!(
            ingest.try_log(entry(1, "three")),
            Err(IngestError::QueueFull { capacity: 1 })
        ));
        // The async caller waits for room rather than failing.
        let mut third = Box::pin(ingest.log(entry(1, "three")));
        assert!(poll_once(&mut third).is_pending());
        assert_eq!(ingest.queue_depth(), 1);
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        let ids = [
            block_on(first).unwrap().record(),
            block_on(second).unwrap().record(),
            block_on(third).unwrap().record(),
        ];
        let records = ingest.memory_records().unwrap();
        assert!(ids.iter().all(|id| records.record(*id).is_some()));
        assert_eq!(records.len(), 3);
    }

    #[test]
    fn shutdown_commits_what_is_queued_and_reports_it() {
        let (ingest, batches, release, _) = Gate::ingest(small(16));
        let mut pending = vec![ingest.try_log(entry(2, "0")).unwrap()];
        // The writer holds the first record inside its commit; four more wait in the queue.
        assert_eq!(batches.recv().unwrap(), 1);
        pending.extend((1..5).map(|i| ingest.try_log(entry(2, &format!("{i}"))).unwrap()));
        assert_eq!(ingest.queue_depth(), 4);
        // Calling shutdown closes the queue at once; its future resolves once drained.
        let mut closing = Box::pin(ingest.shutdown());
        assert!(matches!(
            ingest.try_log(entry(2, "late")),
            Err(IngestError::ShutDown)
        ));
        assert!(poll_once(&mut closing).is_pending());
        for _ in 0..5 {
            let _ = release.send(());
        }
        let report = block_on(closing);
        assert_eq!((report.committed(), report.failed()), (5, 0));
        for logged in pending {
            assert!(block_on(logged).is_ok());
        }
        assert_eq!(block_on(ingest.shutdown()).committed(), 5);
        assert_eq!(ingest.memory_records().unwrap().len(), 5);
    }

    #[test]
    fn a_failed_commit_fails_its_callers_and_the_next_batch_commits() {
        let (ingest, batches, release, failing) = Gate::ingest(small(16));
        failing.store(true, Ordering::SeqCst);
        let doomed = ingest.try_log(entry(3, "lost")).unwrap();
        assert_eq!(batches.recv().unwrap(), 1);
        release.send(()).unwrap();
        match block_on(doomed) {
            Err(IngestError::Commit { source }) => assert!(source.is_unavailable()),
            other => panic!("expected a commit error, got {other:?}"),
        }
        failing.store(false, Ordering::SeqCst);
        let fine = ingest.try_log(entry(3, "kept")).unwrap();
        release.send(()).unwrap();
        let id = block_on(fine).unwrap().record();
        assert!(ingest.memory_records().unwrap().record(id).is_some());
        drop(release);
        let report = ingest.shutdown_blocking();
        assert_eq!((report.committed(), report.failed()), (1, 1));
    }

    #[test]
    fn a_customer_without_a_relationship_is_refused_and_nothing_is_sealed() {
        let ingest = Ingest::memory(vault(), IngestConfig::default()).unwrap();
        let Err(IngestError::Refused { decision }) = ingest.log_blocking(entry(9, "hello")) else {
            panic!("a customer without a relationship was logged");
        };
        assert_eq!(decision.decisive(), ClauseId::LogsStored);
        assert!(ingest.try_log(entry(9, "hello")).is_err());
        assert!(ingest.memory_records().unwrap().is_empty());
        // The vault sealed nothing: no data key was made for the customer.
        assert_eq!(ingest.shutdown_blocking().committed(), 0);
    }

    #[test]
    fn on_enqueue_resolves_before_the_commit_and_says_so() {
        let config = small(4).with_acknowledge(Acknowledge::OnEnqueue);
        let (ingest, batches, release, _) = Gate::ingest(config);
        assert_eq!(ingest.acknowledge(), Acknowledge::OnEnqueue);
        let logged = block_on(ingest.log(entry(1, "fast"))).unwrap();
        assert_eq!(logged.acknowledged(), Acknowledge::OnEnqueue);
        // Resolved while the writer still holds the record.
        assert_eq!(batches.recv().unwrap(), 1);
        assert!(
            ingest
                .memory_records()
                .unwrap()
                .record(logged.record())
                .is_none()
        );
        release.send(()).unwrap();
        let report = ingest.shutdown_blocking();
        assert_eq!(report.acknowledge(), Acknowledge::OnEnqueue);
        assert_eq!(report.committed(), 1);
    }

    #[test]
    fn a_full_memory_store_refuses_with_a_typed_error_and_keeps_what_it_has() {
        let config = IngestConfig::default().with_memory_capacity(nonzero(2));
        let ingest = Ingest::memory(vault(), config).unwrap();
        ingest.log_blocking(entry(1, "a")).unwrap();
        ingest.log_blocking(entry(1, "b")).unwrap();
        assert!(matches!(
            ingest.log_blocking(entry(1, "c")),
            Err(IngestError::Commit {
                source: StoreError::MemoryFull { capacity: 2 }
            })
        ));
        assert_eq!(ingest.memory_records().unwrap().len(), 2);
    }

    #[test]
    fn redactions_are_counted_and_the_secret_is_not_stored() {
        let ingest = Ingest::memory(vault(), IngestConfig::default()).unwrap();
        let secret = "sk-proj-575YX8XM5mSLFy5UBIHEYeD7p4Zdl-AK6j0KgodkDINzNlxICAbaG8wy1JZirLnq";
        let logged = ingest
            .log_blocking(entry(
                1,
                &format!("Why does OPENAI_API_KEY={secret} get a 401?"),
            ))
            .unwrap();
        assert!(logged.redacted().total() >= 1);
        let bytes = ingest
            .memory_records()
            .unwrap()
            .record(logged.record())
            .unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }

    #[cfg(feature = "metrics")]
    #[test]
    fn the_counters_move_and_no_label_names_a_customer() {
        use metrics_util::debugging::{DebugValue, DebuggingRecorder};

        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        // The only test that installs a recorder: the writer thread reports to the global one.
        recorder.install().unwrap();

        let vault = vault();
        vault
            .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
            .unwrap();
        let ingest = Ingest::memory(Arc::clone(&vault), IngestConfig::default()).unwrap();
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(
                ingest
                    .log_blocking(entry(1, &format!("{i}")))
                    .unwrap()
                    .record(),
            );
        }
        assert!(ingest.log_blocking(entry(9, "refused")).is_err());
        let bytes = ingest.memory_records().unwrap().record(ids[0]).unwrap();
        let record = SealedRecord::from_vec(bytes).unwrap();
        let ask = steward::logs::AccessRequest::with_justification_text(
            "alice.ops".parse().unwrap(),
            steward::vocabulary::Purpose::Troubleshooting,
            "INC-42",
        );
        vault.open(&record, &ask).unwrap();
        assert_eq!(ingest.shutdown_blocking().committed(), 3);

        let snapshot = snapshotter.snapshot().into_vec();
        let counter = |name: &str, label: (&str, &str)| -> u64 {
            snapshot
                .iter()
                .filter(|(key, ..)| {
                    key.key().name() == name
                        && key
                            .key()
                            .labels()
                            .any(|l| l.key() == label.0 && l.value() == label.1)
                })
                .map(|(.., value)| match value {
                    DebugValue::Counter(n) => *n,
                    _ => 0,
                })
                .sum()
        };
        assert!(counter("steward_ingest_records_total", ("outcome", "committed")) >= 3);
        assert!(counter("steward_ingest_refused_total", ("clause", "logs.stored")) >= 1);
        assert!(counter("steward_decisions_total", ("action", "keep")) >= 4);
        assert!(counter("steward_decisions_total", ("effect", "deny")) >= 1);
        assert!(counter("steward_opens_total", ("outcome", "opened")) >= 1);
        let histogram = |name: &str| {
            snapshot.iter().any(|(key, .., value)| {
                key.key().name() == name
                    && matches!(value, DebugValue::Histogram(values) if !values.is_empty())
            })
        };
        assert!(histogram("steward_ingest_batch_size"));
        assert!(histogram("steward_ingest_commit_seconds"));
        assert!(
            snapshot
                .iter()
                .any(|(key, ..)| key.key().name() == "steward_ingest_queue_depth")
        );
        let customer = customer(1).to_string();
        for (key, ..) in &snapshot {
            assert!(key.key().labels().all(|l| !l.value().contains(&customer)));
        }
    }

    #[test]
    fn the_futures_are_send_and_static_for_any_executor() {
        fn spawnable<T: Send + 'static>(value: T) -> T {
            value
        }
        let ingest = Ingest::memory(vault(), IngestConfig::default()).unwrap();
        let logged = spawnable(ingest.log(entry(1, "a")));
        let tried = spawnable(ingest.try_log(entry(1, "b")).unwrap());
        let closing = spawnable(ingest.shutdown());
        assert!(block_on(logged).is_ok());
        assert!(block_on(tried).is_ok());
        assert_eq!(block_on(closing).committed(), 2);
    }

    #[test]
    fn debug_shows_no_body() {
        let shown = format!("{:?}", entry(1, "a very private prompt"));
        assert!(!shown.contains("private"));
        assert!(shown.contains("body_len"));
    }
}
