//! The facade's vault on the embedded store: threads share it, records commit in groups, and
//! seals, opens, consent changes and a sweep run at once. (Restart, shred and sweep
//! durability are in the suite, `backend`, for both backends.)

use std::{sync::Arc, thread};

use steward::{
    Policy, VaultShredder,
    consent::{Channel, ConsentActor, ConsentChange},
    logs::{AccessRequest, SealedRecord},
    retention::Sweep,
    vocabulary::{CustomerId, DataCategory, Purpose, RecordId, Timestamp, TrainingLevel},
};
use steward_store::{GroupCommitter, SqliteStore, StoreVault, open_vault};

use crate::common::*;

fn policy() -> Policy {
    Policy::coder_model()
}

fn vault(store: &SqliteStore) -> StoreVault {
    open_vault(store, &keys(), policy()).unwrap()
}

fn steward_request() -> AccessRequest {
    AccessRequest::with_justification_text(
        "alice.ops".parse().unwrap(),
        Purpose::Troubleshooting,
        "INC-42",
    )
}

/// Seals a request of `customer` collected now (the vault's clock is the system clock) and
/// stores it through `committer`.
fn log(vault: &StoreVault, committer: &GroupCommitter, customer: CustomerId) -> SealedRecord {
    let now = Timestamp::now();
    let record = vault
        .seal(RecordId::generate_at(now), customer, now, b"a prompt")
        .unwrap();
    committer
        .put(record.clone(), DataCategory::LlmRequestLog)
        .unwrap();
    record
}

#[test]
fn threads_share_one_vault_and_every_acknowledged_record_is_stored() {
    const THREADS: u8 = 4;
    const RECORDS: usize = 40;
    let dir = TempDir::new("vault-threads");
    let store = SqliteStore::create(dir.db(), &keys()).unwrap();
    let vault = Arc::new(vault(&store));
    let committer = Arc::new(GroupCommitter::new(&store).unwrap());
    vault
        .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
        .unwrap();
    for n in 0..THREADS {
        let owner = customer(n);
        vault
            .update_facts(|facts| facts.start_relationship(owner, Timestamp::now()))
            .unwrap()
            .unwrap();
    }
    let mut workers = Vec::new();
    for n in 0..THREADS {
        let (vault, committer) = (Arc::clone(&vault), Arc::clone(&committer));
        workers.push(thread::spawn(move || {
            let owner = customer(n);
            let mut ids = Vec::new();
            for index in 0..RECORDS {
                let record = log(&vault, &committer, owner);
                if index % 10 == 0 {
                    vault.open(&record, &steward_request()).unwrap();
                }
                ids.push(record.header().record_id());
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for worker in workers {
        ids.extend(worker.join().unwrap());
    }
    drop(committer);
    assert_eq!(ids.len(), usize::from(THREADS) * RECORDS);
    for id in &ids {
        assert!(
            store.record(*id).unwrap().is_some(),
            "an acknowledged record is missing"
        );
    }
    let opens = usize::from(THREADS) * RECORDS.div_ceil(10);
    // One roster change, then the opens.
    assert_eq!(
        vault.audit().unwrap().verify().unwrap().entries(),
        u64::try_from(1 + opens).unwrap()
    );
}

/// Sealers, an opener, a consent writer and a sweep, all at once on one vault and store:
/// every acknowledged record of a live customer is stored and opens, the ended customer's
/// records are gone and their keys shredded, every consent change is stored, and the audit
/// chain verifies.
#[test]
fn concurrent_seals_opens_consent_changes_and_a_sweep() {
    const SEALERS: u8 = 3;
    const RECORDS: usize = 30;
    let dir = TempDir::new("vault-stress");
    let store = SqliteStore::create(dir.db(), &keys()).unwrap();
    let vault = Arc::new(vault(&store));
    let committer = Arc::new(GroupCommitter::new(&store).unwrap());
    vault
        .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
        .unwrap();
    let leaving = customer(99);
    let start = Timestamp::now();
    for n in (0..SEALERS).chain([99]) {
        vault
            .update_facts(|facts| facts.start_relationship(customer(n), start))
            .unwrap()
            .unwrap();
    }
    let leaving_record = log(&vault, &committer, leaving);
    let ended = Timestamp::now();
    vault
        .update_facts(|facts| facts.end_relationship(leaving, ended))
        .unwrap()
        .unwrap();

    let sealers: Vec<_> = (0..SEALERS)
        .map(|n| {
            let (vault, committer) = (Arc::clone(&vault), Arc::clone(&committer));
            thread::spawn(move || {
                (0..RECORDS)
                    .map(|_| log(&vault, &committer, customer(n)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let consent_writer = {
        let vault = Arc::clone(&vault);
        thread::spawn(move || {
            for (round, level) in [TrainingLevel::Private, TrainingLevel::Shared]
                .into_iter()
                .cycle()
                .take(10)
                .enumerate()
            {
                let now = Timestamp::now();
                let owner = customer(u8::try_from(round).unwrap() % SEALERS);
                vault
                    .update_facts(|facts| {
                        facts.record_consent(ConsentChange::new(
                            owner,
                            level,
                            now,
                            ConsentActor::Customer,
                            Channel::Api,
                            policy().version().clone(),
                        ))
                    })
                    .unwrap()
                    .unwrap();
            }
        })
    };
    let sweeper = {
        let (vault, store) = (Arc::clone(&vault), store.clone());
        thread::spawn(move || {
            let later =
                Timestamp::from_unix_nanos(ended.unix_nanos() + 31 * 86_400 * 1_000_000_000);
            let plan = {
                let facts = vault.facts().unwrap();
                let sweep = Sweep::new(
                    vault.policy().retention(),
                    facts.relationships().unwrap(),
                    facts.holds().unwrap(),
                );
                let metas: Vec<_> = store
                    .record_metas(steward_store::RecordScan::Customer(leaving))
                    .collect::<Result<_, _>>()
                    .unwrap();
                let plan = sweep.plan(metas, later);
                let mut records = steward_store::SweepRecords::new(store.clone(), &*facts);
                // The test's clock stands at `later`: the sweep executes at its clock's now.
                sweep.execute(
                    &plan,
                    &mut records,
                    &mut VaultShredder::new(&vault, &*facts),
                    &steward::vocabulary::ManualClock::new(later),
                )
            };
            plan.deleted().len()
        })
    };
    let opener = {
        let vault = Arc::clone(&vault);
        let record = leaving_record.clone();
        thread::spawn(move || {
            // Past the relationship: always refused, whatever the sweep has done yet.
            for _ in 0..10 {
                assert!(vault.open(&record, &steward_request()).is_err());
            }
        })
    };
    let mut sealed = Vec::new();
    for sealer in sealers {
        sealed.extend(sealer.join().unwrap());
    }
    consent_writer.join().unwrap();
    assert_eq!(sweeper.join().unwrap(), 1);
    opener.join().unwrap();
    drop(committer);

    for record in &sealed {
        let stored = store.record(record.header().record_id()).unwrap().unwrap();
        let opened = vault
            .open(&SealedRecord::from_vec(stored).unwrap(), &steward_request())
            .unwrap();
        assert_eq!(opened.as_bytes(), b"a prompt");
    }
    assert!(
        store
            .record(leaving_record.header().record_id())
            .unwrap()
            .is_none()
    );
    assert!(vault.keyring().unwrap().is_shredded(leaving));
    assert_eq!(crate::common::stored_receipts(&store).len(), 10);
    vault.audit().unwrap().verify().unwrap();
}

// Keyring::restore unwraps nothing (a million customers open in a few milliseconds), so a
// wrapped key altered at rest is found when it is first used: that use must fail with a typed
// error and yield no plaintext, and the other customers must be unaffected.
#[test]
fn a_wrapped_key_altered_at_rest_is_refused_at_first_use_and_never_opens() {
    let dir = TempDir::new("vault-tampered-wrap");
    let store = SqliteStore::create(dir.db(), &keys()).unwrap();
    let (tampered, intact) = (customer(0), customer(1));
    let records = {
        let vault = vault(&store);
        let committer = GroupCommitter::new(&store).unwrap();
        vault
            .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
            .unwrap();
        [tampered, intact].map(|owner| {
            vault
                .update_facts(|facts| facts.start_relationship(owner, Timestamp::now()))
                .unwrap()
                .unwrap();
            log(&vault, &committer, owner)
        })
    };
    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    let ciphertext: Vec<u8> = raw
        .query_row(
            "SELECT ciphertext FROM wrapped_keys WHERE customer = ?1",
            [tampered.as_bytes()],
            |row| row.get(0),
        )
        .unwrap();
    let mut altered = ciphertext.clone();
    altered[7] ^= 0x01;
    raw.execute(
        "UPDATE wrapped_keys SET ciphertext = ?1 WHERE customer = ?2",
        rusqlite::params![altered, tampered.as_bytes()],
    )
    .unwrap();
    drop(raw);

    // Start-up reads the wraps but unwraps none: the store opens.
    let vault = vault(&store);
    let unwrap_failed = |error: &steward_logs::LogsError| {
        matches!(
            error,
            steward_logs::LogsError::Key(steward_logs::KeyError::UnwrapFailed { .. })
        )
    };
    for _ in 0..2 {
        let error = vault.open(&records[0], &steward_request()).unwrap_err();
        assert!(unwrap_failed(&error), "{error}");
    }
    let now = Timestamp::now();
    let error = vault
        .seal(RecordId::generate_at(now), tampered, now, b"another prompt")
        .unwrap_err();
    assert!(unwrap_failed(&error), "{error}");
    let opened = vault.open(&records[1], &steward_request()).unwrap();
    assert_eq!(opened.as_bytes(), b"a prompt");
    // Nothing rewrote the altered wrap.
    let stored: Vec<u8> = rusqlite::Connection::open(dir.db())
        .unwrap()
        .query_row(
            "SELECT ciphertext FROM wrapped_keys WHERE customer = ?1",
            [tampered.as_bytes()],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(stored, altered);
}

#[test]
fn a_vault_on_the_embedded_store_seals_with_the_stores_vault_config() {
    use steward::logs::{Algorithm, KeyError, LogsError, SealConfig};
    let dir = TempDir::new("vault-config");
    let config = SealConfig::default()
        .with_algorithm(Algorithm::ChaCha20Poly1305)
        .with_records_per_key_version(1)
        .unwrap();
    let store = SqliteStore::create(dir.db(), &keys())
        .unwrap()
        .with_seal_config(config);
    let vault = vault(&store);
    let committer = GroupCommitter::new(&store).unwrap();
    let owner = customer(1);
    vault
        .update_facts(|facts| facts.start_relationship(owner, Timestamp::now()))
        .unwrap()
        .unwrap();
    let first = log(&vault, &committer, owner);
    assert_eq!(first.header().algorithm(), Algorithm::ChaCha20Poly1305);
    // The limit of one record per key version holds: the next seal needs a rotation.
    let now = Timestamp::now();
    let refused = vault.seal(RecordId::generate_at(now), owner, now, b"a prompt");
    assert!(matches!(
        refused,
        Err(LogsError::Key(KeyError::DataKeyExhausted { .. }))
    ));
}
