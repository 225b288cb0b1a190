//! The stores of Steward: one SQLite file (or, with the feature `postgres`, a PostgreSQL
//! database several nodes share) that persists, a change at a time and transactionally,
//! everything the vault keeps — wrapped data keys and tombstones, the audit chain and its
//! checkpoints, sealed records, and the fact log of consent receipts, relationships, legal
//! holds and the steward roster.
//!
//! A service that persists depends on both crates: `steward` for the policy, the checks and
//! the vault, and this one, which depends on `steward`, to keep the vault's state across
//! restarts. They are released in lockstep. The sections below are the integration guide, by
//! task; the operator's side (files, keys, backups, rotation, checkpoints) is
//! `docs/operations.md`.
//!
//! # Start a service on SQLite
//!
//! One vault, one [`GroupCommitter`] and one store per process, shared by every request
//! handler. [`SqliteStore::create`] makes the file once, from a setup step, and refuses an
//! existing one (so a typo in a path cannot replace a store with an empty one);
//! [`SqliteStore::open`] checks the keys and migrates; [`open_vault`] restores the keyring,
//! verifies the audit chain and rebuilds the facts from the fact log.
//!
//! ```
//! use std::sync::Arc;
//!
//! use steward::{Policy, logs::BoxError};
//! use steward_store::{GroupCommitter, SqliteStore, StoreKeys, StoreVault, open_vault};
//!
//! /// What every handler gets (an `Arc<Steward>` in the web framework's state).
//! pub struct Steward {
//!     pub vault: StoreVault,
//!     pub committer: GroupCommitter,
//!     pub store: SqliteStore,
//! }
//!
//! pub fn start(path: &std::path::Path, keys: &StoreKeys) -> Result<Arc<Steward>, BoxError> {
//!     let store = SqliteStore::open(path, keys)?; // a wrong key fails here
//!     let vault = open_vault(&store, keys, Policy::coder_model())?;
//!     let committer = GroupCommitter::new(&store)?;
//!     Ok(Arc::new(Steward { vault, committer, store }))
//! }
//!
//! # let dir = std::env::temp_dir().join(format!("steward-store-guide-start-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! let path = dir.join("steward.db");
//! // The keys come from configuration: `StoreKeys::from_files`, `from_env`, or a KMS's bytes.
//! let keys = StoreKeys::new("kek-2025-03".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
//! SqliteStore::create(&path, &keys)?; // once, at set-up
//! let steward = start(&path, &keys)?; // at every start
//! assert_eq!(steward.vault.audit()?.verify()?.entries(), 0);
//! # drop(steward);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), steward::logs::BoxError>(())
//! ```
//!
//! # Seal and store a request
//!
//! Per proxied LLM request (`logs.stored`, `logs.encrypted`): seal under the consent level in
//! force now, then store; [`GroupCommitter::put`] returns once the record is durable. Answer
//! the client after `put` if the log must exist before the response does; otherwise hand the
//! put to a worker, and accept that a crash can lose logs that were in flight. Threads that
//! put at the same time share one transaction and one disk sync, so durable throughput grows
//! with concurrency: serve requests from a pool of threads rather than funnelling puts
//! through one.
//!
//! ```
//! # use std::sync::Arc;
//! # use steward::Policy;
//! # use steward_store::{GroupCommitter, SqliteStore, StoreKeys, StoreVault, open_vault};
//! # pub struct Steward { pub vault: StoreVault, pub committer: GroupCommitter, pub store: SqliteStore }
//! # let dir = std::env::temp_dir().join(format!("steward-store-guide-seal-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let keys = StoreKeys::new("kek-2025-03".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
//! # let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
//! # let vault = open_vault(&store, &keys, Policy::coder_model())?;
//! # let committer = GroupCommitter::new(&store)?;
//! # let steward = Arc::new(Steward { vault, committer, store });
//! use steward::{logs::BoxError, vocabulary::{CustomerId, DataCategory, RecordId, Timestamp}};
//!
//! pub fn log_request(steward: &Steward, customer: CustomerId, body: &[u8]) -> Result<RecordId, BoxError> {
//!     let now = Timestamp::now();
//!     // training.forward-only: the vault seals under the level in force when it was collected.
//!     let id = RecordId::generate_at(now);
//!     let record = steward.vault.seal(id, customer, now, body)?;
//!     steward.committer.put(record, DataCategory::LlmRequestLog)?;
//!     Ok(id)
//! }
//!
//! let id = log_request(&steward, "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?, b"{\"prompt\":\"...\"}")?;
//! assert!(steward.store.record(id)?.is_some());
//! # drop(steward);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), steward::logs::BoxError>(())
//! ```
//!
//! In an async server, log through an [`Ingest`] handle instead (`Ingest::sqlite`,
//! `Ingest::postgres`, or `Ingest::memory` for a vault in memory): it checks `logs.stored`
//! first (a customer without a relationship is refused with the decision), seals on the
//! caller's task, queues into a bounded queue and returns a future that resolves once the
//! record is durable, with no runtime required and no `spawn_blocking`; see its
//! documentation for backpressure, `Acknowledge::OnEnqueue` and shutdown.
//! [`GroupCommitter`] is its writer without the check and the seal.
//!
//! # Change the facts
//!
//! Consent, relationships, holds and the roster change through the vault:
//! `update_facts` validates the change, commits its fact-log entry and applies it in memory
//! as one step (a refused change writes nothing), and each change is durable when the call
//! returns. Do not call the vault from inside the closure (it holds the facts exclusively;
//! `check()` and `open` from the same thread would wait forever), and keep the closure to the
//! change itself. Decisions (`steward.vault.check(&request)`) answer from memory, with no I/O.
//!
//! ```
//! # use std::sync::Arc;
//! # use steward::Policy;
//! # use steward_store::{GroupCommitter, SqliteStore, StoreKeys, StoreVault, open_vault};
//! # pub struct Steward { pub vault: StoreVault, pub committer: GroupCommitter, pub store: SqliteStore }
//! # let dir = std::env::temp_dir().join(format!("steward-store-guide-facts-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let keys = StoreKeys::new("kek-2025-03".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
//! # let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
//! # let vault = open_vault(&store, &keys, Policy::coder_model())?;
//! # let committer = GroupCommitter::new(&store)?;
//! # let steward = Arc::new(Steward { vault, committer, store });
//! use steward::{
//!     retention::{HoldId, HoldScope, LegalHold},
//!     consent::{Channel, ConsentActor, ConsentChange},
//!     vocabulary::{Timestamp, TrainingLevel},
//! };
//!
//! let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
//! let now = Timestamp::now();
//! steward.vault.update_facts(|facts| facts.start_relationship(customer, now))??;
//! // The customer opts in to shared training in their account settings. The store dates the
//! // receipt by its own clock; the change takes effect now (or at a later `effective`).
//! let change = ConsentChange::new(customer, TrainingLevel::Shared, now, ConsentActor::Customer,
//!     Channel::AccountSettings, steward.vault.policy().version().clone());
//! let receipt = steward.vault.update_facts(|facts| facts.record_consent(change))??;
//!
//! // The contract ends; counsel places a legal hold, to be reviewed in a year.
//! steward.vault.update_facts(|facts| facts.end_relationship(customer, now))??;
//! // It stands until released; its date is the date by which counsel reviews it.
//! let review_at = Timestamp::from_unix_nanos(now.unix_nanos() + 365 * 86_400 * 1_000_000_000);
//! let hold = LegalHold::place(HoldId::new(17), HoldScope::Customer { customer },
//!     "CASE-2026-17 litigation hold".parse()?, "counsel.kim".parse()?, now, review_at)?;
//! steward.vault.update_facts(|facts| facts.place_hold(hold))??;
//! # let _ = receipt;
//! # drop(steward);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), steward::logs::BoxError>(())
//! ```
//!
//! # Open a record for a steward
//!
//! Opening records (`logs.access`) is for stewards only, through an internal tool: a console
//! that authenticates the steward (single sign-on), asks for the purpose and a ticket, fetches
//! the record and calls `open` in the service process. Take the steward's id from the
//! authentication, never from the request body; the policy checks the roster, the purpose and
//! the justification, and the audit entry is committed before the plaintext is returned.
//! Roster changes go through `vault.add_steward(steward, admin)` and `remove_steward`,
//! audited; the policy bounds the roster's size.
//!
//! ```
//! # use std::sync::Arc;
//! # use steward::Policy;
//! # use steward_store::{GroupCommitter, SqliteStore, StoreKeys, StoreVault, open_vault};
//! # pub struct Steward { pub vault: StoreVault, pub committer: GroupCommitter, pub store: SqliteStore }
//! # let dir = std::env::temp_dir().join(format!("steward-store-guide-open-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let keys = StoreKeys::new("kek-2025-03".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
//! # let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
//! # let vault = open_vault(&store, &keys, Policy::coder_model())?;
//! # let committer = GroupCommitter::new(&store)?;
//! # let steward = Arc::new(Steward { vault, committer, store });
//! use steward::{
//!     logs::{AccessRequest, BoxError, Plaintext, SealedRecord},
//!     vocabulary::{DataCategory, Purpose, RecordId, StewardId, Timestamp},
//! };
//!
//! pub fn steward_open(steward: &Steward, who: StewardId, purpose: Purpose, ticket: &str, id: RecordId)
//!     -> Result<Plaintext, BoxError> {
//!     let bytes = steward.store.record(id)?.ok_or("no such record")?;
//!     let record = SealedRecord::from_vec(bytes)?;
//!     Ok(steward.vault.open(&record, &AccessRequest::with_justification_text(who, purpose, ticket))?)
//! }
//!
//! let sam: StewardId = "sam.steward".parse()?;
//! steward.vault.add_steward(sam.clone(), "dana.admin".parse()?)?;
//! # let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
//! # steward.vault.update_facts(|facts| facts.start_relationship(customer, Timestamp::now()))??;
//! # let now = Timestamp::now();
//! # let id = RecordId::generate_at(now);
//! # let record = steward.vault.seal(id, customer, now, b"hello")?;
//! # steward.committer.put(record, DataCategory::LlmRequestLog)?;
//! let body = steward_open(&steward, sam.clone(), Purpose::Troubleshooting, "INC-2041 timeouts", id)?;
//! assert_eq!(body.as_bytes(), b"hello");
//! // Marketing is not a purpose stewards may open logs for: refused, and audited.
//! assert!(steward_open(&steward, sam, Purpose::Marketing, "INC-2041 timeouts", id).is_err());
//! # drop(steward);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), steward::logs::BoxError>(())
//! ```
//!
//! # Sweep
//!
//! The retention sweep (`logs.retention`) deletes the records whose deadline has passed and
//! shreds the keys of customers whose relationship ended past the deletion window; run it on
//! a schedule, and after restoring a backup (`docs/operations.md`). It executes at the
//! clock's now, never at an instant the caller names, and nothing a standing legal hold
//! covers is deleted, nor any key of that customer shredded. [`SweepRecords`] over the store
//! is the sweep's [`RecordStore`](steward_retention::RecordStore);
//! [`SqliteStore::record_metas`] streams the metadata from a covering index; [`StoreSweep`]
//! carries the plan out in short steps, so that a running service is held up by one step at
//! most. The `steward sweep` command runs the same.
//!
//! ```
//! # use std::sync::Arc;
//! # use steward::Policy;
//! # use steward_store::{GroupCommitter, SqliteStore, StoreKeys, StoreVault, open_vault};
//! # pub struct Steward { pub vault: StoreVault, pub committer: GroupCommitter, pub store: SqliteStore }
//! # let dir = std::env::temp_dir().join(format!("steward-store-guide-sweep-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let keys = StoreKeys::new("kek-2025-03".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
//! # let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
//! # let vault = open_vault(&store, &keys, Policy::coder_model())?;
//! # let committer = GroupCommitter::new(&store)?;
//! # let steward = Arc::new(Steward { vault, committer, store });
//! use steward::{retention::{Sweep, SweepBatch}, vocabulary::SystemClock};
//! use steward_store::{RecordScan, StoreSweep};
//!
//! let vault = &steward.vault;
//! let metas = steward.store.record_metas(RecordScan::All).collect::<Result<Vec<_>, _>>()?;
//! // Plan for any instant (a dry run may look ahead); execution runs at the clock's now.
//! let at = vault.decision_instant()?;
//! let plan = {
//!     let facts = vault.facts()?; // held for planning only
//!     Sweep::new(vault.policy().retention(), facts.relationships()?, facts.holds()?).plan(metas, at)
//! };
//! // One short step at a time: decisions, seals and fact changes go on meanwhile, and a hold
//! // placed between two steps keeps what it covers. Nothing a standing hold covers is
//! // deleted or shredded, whatever the plan says.
//! let sweep = StoreSweep::new(vault, steward.store.clone(), &plan, &SystemClock, SweepBatch::DEFAULT);
//! let report = sweep.run()?;
//! println!("{} records deleted, {} customers shredded", report.deleted().len(), report.shredded().len());
//! # drop(steward);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), steward::logs::BoxError>(())
//! ```
//!
//! # Move to PostgreSQL
//!
//! Stay on SQLite while one process serves the traffic (several processes on one machine may
//! share the file). When several machines must seal and open, build with the feature
//! `postgres` and open the same vault on a `pg::PgStore` instead: [`open_vault`] takes
//! either store, and the vault's API is the same. Three things change: each node starts a
//! `pg::FactsFollower` so that other nodes' fact changes reach it; records are stored with
//! `PgStore::seal_durable` (a record sealed under a key another node shredded is sealed
//! again) rather than through a [`GroupCommitter`]; and the keys are the same on every node.
//! The module `pg` shows a node's wiring as a compiled example; when to move, and what the
//! nodes share and how, is `docs/operations.md`, "Several nodes: the PostgreSQL store".
//!
//! # Who waits for whom
//!
//! | operation | locks | waits for |
//! |---|---|---|
//! | `seal` | the customer's sealing shard | nothing else, except a customer's first record (and their first after a shred), which stores the new data key first while holding the keyring exclusively |
//! | [`GroupCommitter::put`] | the store's one connection, via the writer thread | the commit in progress: other groups, audit appends, key and fact writes share the one SQLite writer, one sync each |
//! | [`Ingest::log`] | facts (shared) to decide and seal, then the queue's lock for a push | room in the queue (bounded), then the commit of its batch by the writer thread |
//! | `open` | facts (shared), then the audit trail | other opens (they serialize on the one chain, about one disk sync each), a fact change in progress |
//! | `check`, `facts()` | facts (shared) | a fact change in progress, including its commit |
//! | `update_facts`, roster changes | facts (exclusive) | opens and sweep steps in progress (it tries again beside them, for up to 0.5 s, rather than queue, and the next sweep step waits for it: `Vault::facts_after_changes`); while it commits, new `check` calls and opens wait |
//! | `shred`, `rotate_*` | the audit trail (for the entry); the customer's shard and the keyring (exclusive, for the key change) | opens in progress; during their commit, new sessions and opens wait |
//! | `vault.audit()` guard | audit trail | opens wait while the guard lives: keep it short |
//! | [`StoreSweep::step`] | facts (shared), the store's connection, for one step | a fact change in progress; while it runs, fact changes (and the decisions queued behind them) wait for this step only |
//!
//! So seals never wait for an open or an audit write; sustained open rates are bounded by
//! disk syncs (one per open); and a consent change briefly stalls decisions, by about one disk
//! sync. Exports and audit verification, sweeps and start-up: `docs/operations.md`, "What
//! waits for what".
//!
//! # When the facts diverge, and shutting down
//!
//! If a commit fails after memory accepted a change (the disk filled at the last moment),
//! memory and file may differ. The facts then refuse: every decision denies, every change
//! fails with [`StoreError::FactsDiverged`]. Nothing acknowledged is lost (every acknowledged
//! write is durable), so the remedy is to reload from the file: drop the [`GroupCommitter`]
//! (it finishes the records handed to it) and the vault, fix the cause (disk space), and call
//! [`open_vault`] again. In a server the simplest correct way is to let the process exit on
//! `FactsDiverged` and have the supervisor restart it; a service that must stay up swaps a
//! fresh `Arc<Steward>` in behind a lock once `open_vault` succeeded.
//!
//! To shut down, stop accepting requests, let handlers finish, then drop the `Steward`:
//! dropping the [`GroupCommitter`] commits what it was handed and stops its thread. A kill
//! instead of a clean stop loses nothing that was acknowledged.
//!
//! # How the store works
//!
//! The rest is reference: what each part of the store guarantees.
//!
//! ## Opening a store
//!
//! [`SqliteStore::create`] makes a new file and refuses an existing one;
//! [`SqliteStore::open`] opens an existing one and migrates it to this build's
//! [`SCHEMA_VERSION`] (a file from a newer build is refused with
//! [`StoreError::SchemaTooNew`], untouched). The file runs in write-ahead-log mode with
//! `synchronous=FULL`: every write method commits before it returns, and **a write that
//! returned `Ok` survives a crash or power loss**. Deleted rows are overwritten
//! (`secure_delete`), foreign keys are enforced, and a writer waits up to five seconds for
//! another process's write lock.
//!
//! [`open_vault`] opens the vault on a store, either backend (each a sealed [`VaultStore`]):
//! keyring, audit chain, pending shreds and facts, checked against the newest checkpoint. It
//! seals with the store's [`SealConfig`](steward_logs::SealConfig)
//! ([`SqliteStore::with_seal_config`]; on PostgreSQL, `PgConfig::with_seal_config`).
//!
//! ## Integrity at start-up
//!
//! [`StoreKeys`] holds the master key (with its id) and the audit key as the service loaded
//! them: from bytes ([`StoreKeys::new`]), key files ([`StoreKeys::from_files`]), the
//! environment ([`StoreKeys::from_env`]) or steward-logs'
//! [`KeyMaterial`](steward_logs::KeyMaterial) ([`StoreKeys::from_material`]). At creation the
//! store records the keys' check values, computed by steward-logs
//! ([`MasterKey::check_value`](steward_logs::MasterKey::check_value): an AES-256-GCM seal of a
//! fixed label under the master key; [`AuditKey::check_value`](steward_logs::AuditKey::check_value):
//! an HMAC-SHA256 of another under the audit key), and never the keys.
//! [`SqliteStore::open`] verifies them, so a wrong key is [`StoreError::WrongMasterKey`] or
//! [`StoreError::WrongAuditKey`] at once, not a broken chain or failed unwraps later. Build
//! the steward-logs key types from the same [`StoreKeys`].
//!
//! ## Keys
//!
//! [`SqliteStore`] is a [`KeyStore`](steward_logs::KeyStore), which the vault's custody calls
//! write-ahead (`Custody::with_key_store`), around its audit entries: a new data key is
//! stored before a record sealed under it is returned, a shred (the wrapped rows deleted for
//! good and the [`Tombstone`](steward_logs::Tombstone) kept) before it is reported, a rewrap
//! (every key, all or nothing) before the keyring switches master keys. Keys change only that
//! way: through `Vault::shred`, the sweep's `VaultShredder`, `Vault::rotate_data_key` and
//! `Vault::rotate_master_key`, each audited. The store has no key writer of its own beyond the
//! trait's, whose documentation says why a service does not call it. A master key rotation
//! registers the new key with the store first ([`SqliteStore::register_master_key`]: a check
//! value, no data key changes). [`SqliteStore::keyring_snapshot`] is what `Keyring::restore`
//! rebuilds the keyring from.
//!
//! ## Audit
//!
//! [`SqliteStore`] is an [`AuditStore`](steward_logs::AuditStore): the sequence number is the
//! primary key, so a taken number is refused ([`StoreError::SequenceTaken`]); a trail takes
//! the chain's lock before each entry and continues after the newest stored one, so several
//! processes on one file write one chain. Entries are appended by the `AuditTrail` alone and
//! come back exactly as stored. Signed
//! checkpoints (which may cover the fact log's head too) are kept with
//! [`SqliteStore::put_checkpoint`]; start-up checks both logs against
//! [`SqliteStore::latest_checkpoint`].
//!
//! ## Records
//!
//! A service stores sealed records through a [`GroupCommitter`] (one disk sync for the
//! records that arrive together); [`SqliteStore::put_record`] and
//! [`SqliteStore::put_records`] are the writes it makes, and only add: a record stored under
//! its id is never replaced. [`SqliteStore::record_metas`] iterates the metadata in
//! (customer, created-at) order for a retention sweep, from a covering index; the store is the
//! sweep's [`RecordStore`](steward_retention::RecordStore), the one way records are deleted.
//! [`SqliteStore::scan_records`] and [`SqliteStore::scan_headers`] stream the sealed bytes (or
//! only the headers) to a training export, a row at a time.
//!
//! ## Facts
//!
//! Consent receipts, relationship starts and ends, hold events and roster changes are
//! entries of one fact log, each MAC-chained under a key derived from the audit key
//! ([`FactLog`], implemented by both backends). [`DurableFacts`] ([`StoreFacts`] on this
//! store) rebuilds the facts from the log alone, verifying every entry (after the newest
//! [`FactSnapshot`], whose MAC proves the rest), writes each change as its entry, and fails
//! closed: a log that does not verify is [`StoreError::FactLogBroken`], naming the first bad
//! entry. [`verify_fact_log`] checks a whole log without replaying it (`steward audit
//! verify`). Several changes commit as one with [`DurableFacts::in_one_commit`]; a
//! [`StoreFactsFollower`] brings a serving process's facts up to date with other processes'.
//!
//! ## Schema
//!
//! The version is `PRAGMA user_version`; migrations run in order, one transaction each. The
//! tables (see `src/sqlite/schema/`): `meta` and `master_keys` (key checks), `wrapped_keys` and
//! `key_tombstones`, `audit_entries` and `audit_checkpoints`, `records` (indexed by customer
//! and time), `fact_log` and `fact_snapshots`. Version 2 replaced version 1's five fact
//! tables with the fact log; a version 1 file that holds facts is refused untouched
//! ([`StoreError::UnprovenFacts`]).

#![forbid(unsafe_code)]

mod codec;
mod durable;
mod durable_facts;
mod error;
mod fact_log;
mod fact_snapshot;
mod ingest;
mod key_check;
mod lineage;
mod observe;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod sqlite;
mod sweep_records;
#[cfg(feature = "test-support")]
#[doc(hidden)]
pub mod test_support;
mod vault;

pub use crate::{
    durable::{GroupCommitter, RecordStream},
    durable_facts::{DurableFacts, Effective, FactBatch, ReceiptDisposition},
    error::StoreError,
    fact_log::{FactLog, LoggedReceipt, StoredFact, receipts_logged, verify_fact_log},
    fact_snapshot::FactSnapshot,
    ingest::{
        Acknowledge, DrainReport, Ingest, IngestConfig, IngestError, LogEntry, Logged,
        MemoryRecords,
    },
    key_check::StoreKeys,
    lineage::{CustomerRecords, ExportLineage, LineageStore},
    sqlite::{
        FOLLOWER_MAX_STALENESS, FOLLOWER_POLL, RecordMetas, RecordScan, SCHEMA_VERSION,
        SqliteStore, StoreFacts, StoreFactsFollower, StoreVault, StoredRecord, WalCheckpoint,
        remove_store_files,
    },
    sweep_records::{StoreSweep, SweepRecords},
    vault::{VaultOn, VaultStore, open_vault, open_vault_with_clock},
};

// A multi-threaded server shares the store, the vault on it and the committer: a change that
// makes one of them unshareable fails the build.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SqliteStore>();
    assert_send_sync::<StoreVault>();
    assert_send_sync::<StoreFacts>();
    assert_send_sync::<GroupCommitter>();
    assert_send_sync::<Ingest>();
    #[cfg(feature = "postgres")]
    assert_send_sync::<pg::PgVault>();
};
