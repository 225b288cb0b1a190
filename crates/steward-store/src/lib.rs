//! The stores of Steward: one SQLite file (or, with the feature `postgres`, a PostgreSQL
//! database several nodes share) that persists, a change at a time and transactionally,
//! everything the vault keeps — wrapped data keys and tombstones, the audit chain and its
//! checkpoints, sealed records, and the fact log of consent receipts, relationships, legal
//! holds and the steward roster.
//!
//! Services depend on the `steward` crate, which wires this store behind its `Vault`; this
//! crate is its building block, released in lockstep with it.
//!
//! ```
//! use steward_logs::{AuditTrail, Keyring};
//! use steward_store::{SqliteStore, StoreFacts, StoreKeys};
//!
//! # let dir = std::env::temp_dir().join(format!("steward-store-lib-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! let path = dir.join("steward.db");
//! // The keys come from configuration: `StoreKeys::from_files`, `from_env`, or a KMS's bytes.
//! let keys = StoreKeys::new("kek-2025-03".parse()?, &[0x42; 32], &[0x17; 32])?;
//! let store = SqliteStore::create(&path, &keys)?;
//! let policy = steward::Policy::coder_model();
//! let mut facts = StoreFacts::load(&store, &keys.audit_key()?, &policy, None)?;
//! facts.start_relationship("0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?, "2025-01-01T00:00:00Z".parse()?)?;
//! drop((facts, store));
//!
//! // At start-up: open (a wrong key fails here), then rebuild the in-memory state.
//! let store = SqliteStore::open(&path, &keys)?;
//! let keyring = Keyring::restore(keys.master_key()?, [], store.keyring_snapshot()?)?;
//! let trail = AuditTrail::new(keys.audit_key()?, store.clone())?;
//! assert_eq!(trail.verify()?.entries(), 0);
//! // The facts are rebuilt from the fact log, every entry checked under the audit key.
//! let facts = StoreFacts::load(&store, &keys.audit_key()?, &policy, None)?;
//! // The policy version the facts were loaded under, then the relationship.
//! assert_eq!(facts.applied(), 2);
//! # drop((keyring, trail, facts, store));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Opening a store
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
//! seals with the store's [`VaultConfig`](steward_logs::VaultConfig)
//! ([`SqliteStore::with_vault_config`]; on PostgreSQL, `PgConfig::with_vault_config`).
//!
//! # Integrity at start-up
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
//! # Keys
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
//! # Audit
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
//! # Records
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
//! # Facts
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
//! # Schema
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
mod key_check;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod sqlite;
#[cfg(feature = "test-support")]
#[doc(hidden)]
pub mod test_support;
mod vault;

pub use crate::{
    durable::{GroupCommitter, RecordStream},
    durable_facts::{DurableFacts, FactBatch},
    error::StoreError,
    fact_log::{FactLog, StoredFact, verify_fact_log},
    fact_snapshot::FactSnapshot,
    key_check::StoreKeys,
    sqlite::{
        FOLLOWER_MAX_STALENESS, FOLLOWER_POLL, RecordMetas, RecordScan, SCHEMA_VERSION,
        SqliteStore, StoreFacts, StoreFactsFollower, StoreVault, StoredRecord, WalCheckpoint,
        remove_store_files,
    },
    vault::{VaultOn, VaultStore, open_vault},
};

// A multi-threaded server shares the store, the vault on it and the committer: a change that
// makes one of them unshareable fails the build.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SqliteStore>();
    assert_send_sync::<StoreVault>();
    assert_send_sync::<StoreFacts>();
    assert_send_sync::<GroupCommitter>();
    #[cfg(feature = "postgres")]
    assert_send_sync::<pg::PgVault>();
};
