//! The facade's vault on the store: what it acknowledged survives a restart, threads share
//! it, records commit in groups, and the sweep's deletions and shreds are durable.

use std::{sync::Arc, thread};

use steward::{
    AccessRequest, BoxError, Channel, ConsentActor, ConsentChange, CustomerId, DataCategory,
    Policy, Purpose, RecordId, SealInput, SealedRecord, Timestamp, TrainingLevel, VaultShredder,
    logs::{
        AuditEvent, AuditTrail, Custody, KeyAdmission, KeyError, KeyStore, KeyVersion, Keyring,
        LogsError, OpenError, Tombstone, WrappedDataKey,
    },
    retention::Sweep,
};
use steward_store::{FactLog, GroupCommitter, SqliteStore, StoreVault, open_vault};

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
    let level = vault
        .facts()
        .unwrap()
        .consent()
        .unwrap()
        .level_at(customer, now);
    let record = vault
        .seal(
            &SealInput::new(RecordId::generate_at(now), customer, now, level),
            b"a prompt",
        )
        .unwrap();
    committer
        .put(record.clone(), DataCategory::LlmRequestLog)
        .unwrap();
    record
}

#[test]
fn everything_a_vault_acknowledged_survives_a_restart() {
    let dir = TempDir::new("vault-restart");
    let store = SqliteStore::create(dir.db(), &keys()).unwrap();
    let (ada, ben) = (customer(1), customer(2));
    let kept;
    let shredded;
    let entries;
    {
        let vault = vault(&store);
        let committer = GroupCommitter::new(&store).unwrap();
        vault
            .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
            .unwrap();
        let start = at(-86_400);
        vault
            .update_facts(|facts| {
                facts.start_relationship(ada, start)?;
                facts.start_relationship(ben, start)?;
                facts.record_consent(ConsentChange::new(
                    ada,
                    TrainingLevel::Shared,
                    Timestamp::now(),
                    ConsentActor::Customer,
                    Channel::AccountSettings,
                    policy().version().clone(),
                ))
            })
            .unwrap()
            .unwrap();
        kept = log(&vault, &committer, ada);
        shredded = log(&vault, &committer, ben);
        vault.open(&kept, &steward_request()).unwrap();
        vault.rotate_data_key(ada).unwrap();
        vault.shred(ben).unwrap();
        entries = vault.audit().unwrap().verify().unwrap().entries();
    }
    drop(store);

    let store = SqliteStore::open(dir.db(), &keys()).unwrap();
    let vault = vault(&store);
    // The facts came back: roster, relationships, consent.
    let facts = vault.facts().unwrap();
    assert!(
        facts
            .roster()
            .unwrap()
            .contains(&"alice.ops".parse().unwrap())
    );
    assert_eq!(
        facts.consent().unwrap().level_at(ada, Timestamp::now()),
        TrainingLevel::Shared
    );
    assert!(
        facts
            .relationships()
            .unwrap()
            .containing(ada, Timestamp::now())
            .is_some()
    );
    drop(facts);
    // The audit chain continues where it stopped.
    assert_eq!(vault.audit().unwrap().verify().unwrap().entries(), entries);
    // The stored record opens; the shred held.
    let stored = store.record(kept.header().record_id()).unwrap().unwrap();
    let reopened = SealedRecord::from_vec(stored).unwrap();
    assert_eq!(
        vault
            .open(&reopened, &steward_request())
            .unwrap()
            .as_bytes(),
        b"a prompt"
    );
    assert!(matches!(
        vault.open(&shredded, &steward_request()),
        Err(LogsError::Open(OpenError::Shredded))
    ));
    assert_eq!(
        vault.audit().unwrap().verify().unwrap().entries(),
        entries + 2
    );
}

/// The store as key store, except that a shred fails: as if the process died between the
/// shred's audit entry and the deletion of the keys.
struct ShredDiesBeforeDeletion(SqliteStore);

impl KeyStore for ShredDiesBeforeDeletion {
    fn put_data_key(&self, key: &WrappedDataKey) -> Result<KeyAdmission, BoxError> {
        KeyStore::put_data_key(&self.0, key)
    }

    fn shred(&self, _customer: CustomerId, _tombstone: Tombstone) -> Result<(), BoxError> {
        Err("the process died before the keys were deleted".into())
    }

    fn rewrap(&self, keys: &[WrappedDataKey]) -> Result<(), BoxError> {
        KeyStore::rewrap(&self.0, keys)
    }
}

#[test]
fn a_shred_whose_keys_outlived_its_audit_entry_is_completed_and_audited_at_the_next_open() {
    let dir = TempDir::new("vault-pending-shred");
    let store = SqliteStore::create(dir.db(), &keys()).unwrap();
    let (ada, ben) = (customer(1), customer(2));
    let (kept, victim);
    {
        let vault = vault(&store);
        let committer = GroupCommitter::new(&store).unwrap();
        vault
            .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
            .unwrap();
        vault
            .update_facts(|facts| {
                facts.start_relationship(ada, at(-86_400))?;
                facts.start_relationship(ben, at(-86_400))
            })
            .unwrap()
            .unwrap();
        kept = log(&vault, &committer, ada);
        victim = log(&vault, &committer, ben);
    }
    // A custody whose shred writes its entry and then dies before the keys are deleted.
    {
        let keyring = Keyring::restore(
            keys().master_key().unwrap(),
            [],
            store.keyring_snapshot().unwrap(),
        )
        .unwrap();
        let trail = AuditTrail::new(keys().audit_key().unwrap(), store.clone()).unwrap();
        let custody = Custody::new(keyring, trail)
            .with_key_store(Arc::new(ShredDiesBeforeDeletion(store.clone())));
        assert!(matches!(
            custody.shred(ben),
            Err(LogsError::Key(KeyError::StoreUnavailable { .. }))
        ));
    }
    let entries = store.audit_entries().unwrap();
    assert_eq!(
        entries.last().unwrap().entry().event(),
        &AuditEvent::CustomerShreddedThrough {
            customer: ben,
            through: Some(KeyVersion::FIRST)
        }
    );
    assert!(
        store
            .keyring_snapshot()
            .unwrap()
            .data_keys()
            .iter()
            .any(|key| key.customer() == ben),
        "the double should have kept the keys"
    );
    let before = entries.len();

    let vault = vault(&store);
    // Completed before the vault served: the record does not open, the bystander's does.
    assert!(matches!(
        vault.open(&victim, &steward_request()),
        Err(LogsError::Open(OpenError::Shredded))
    ));
    assert_eq!(
        vault.open(&kept, &steward_request()).unwrap().as_bytes(),
        b"a prompt"
    );
    let snapshot = store.keyring_snapshot().unwrap();
    assert!(snapshot.data_keys().iter().all(|key| key.customer() != ben));
    assert!(
        snapshot
            .shredded()
            .contains(&(ben, Tombstone::new(Some(KeyVersion::FIRST))))
    );
    // The completion is audited right after the shred's entry, before anything else, and
    // the chain still verifies.
    let entries = store.audit_entries().unwrap();
    assert_eq!(
        entries.get(before).unwrap().entry().event(),
        &AuditEvent::ShredCompletedAtStartUp {
            customer: ben,
            through: Some(KeyVersion::FIRST)
        }
    );
    let head = vault.audit().unwrap().verify().unwrap();
    assert_eq!(head.entries(), u64::try_from(entries.len()).unwrap());
    drop(vault);

    // Done once: the next open finds nothing pending and writes nothing.
    let reopened = self::vault(&store);
    assert_eq!(
        reopened.audit().unwrap().verify().unwrap().entries(),
        head.entries()
    );
}

#[test]
fn a_refused_fact_change_writes_nothing() {
    let dir = TempDir::new("vault-refused");
    let store = SqliteStore::create(dir.db(), &keys()).unwrap();
    let vault = vault(&store);
    let ada = customer(1);
    let result = vault
        .update_facts(|facts| facts.end_relationship(ada, at(0)))
        .unwrap();
    assert!(result.is_err(), "ending a relationship that never started");
    assert!(store.entries_after(0).unwrap().is_empty());
    // A backdated consent change is refused by the ledger before any row is written.
    let refused = vault
        .update_facts(|facts| {
            facts.record_consent(ConsentChange::new(
                ada,
                TrainingLevel::OpenWeight,
                at(-1_000),
                ConsentActor::Customer,
                Channel::AccountSettings,
                policy().version().clone(),
            ))
        })
        .unwrap();
    assert!(refused.is_err());
    assert!(store.entries_after(0).unwrap().is_empty());
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
            .update_facts(|facts| facts.start_relationship(owner, at(-86_400)))
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

#[test]
fn the_sweep_deletes_stored_records_and_shreds_keys_durably() {
    let dir = TempDir::new("vault-sweep");
    let store = SqliteStore::create(dir.db(), &keys()).unwrap();
    let ada = customer(1);
    let record;
    {
        let vault = vault(&store);
        let committer = GroupCommitter::new(&store).unwrap();
        vault
            .update_facts(|facts| facts.start_relationship(ada, at(-86_400)))
            .unwrap()
            .unwrap();
        record = log(&vault, &committer, ada);
        let ended = Timestamp::now();
        vault
            .update_facts(|facts| facts.end_relationship(ada, ended))
            .unwrap()
            .unwrap();
        let later = Timestamp::from_unix_nanos(ended.unix_nanos() + 31 * 86_400 * 1_000_000_000);
        let facts = vault.facts().unwrap();
        let sweep = Sweep::new(
            vault.policy().retention(),
            facts.relationships().unwrap(),
            facts.holds().unwrap(),
        );
        let metas: Vec<_> = store
            .record_metas(steward_store::RecordScan::All)
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = sweep.plan(metas, later);
        let mut records = store.clone();
        let report = sweep
            .execute(&plan, &mut records, &mut VaultShredder::new(&vault), later)
            .unwrap();
        assert_eq!(report.deleted().len(), 1);
        assert_eq!(report.shredded(), [ada]);
    }
    drop(store);
    let store = SqliteStore::open(dir.db(), &keys()).unwrap();
    assert!(store.record(record.header().record_id()).unwrap().is_none());
    assert!(
        store
            .keyring_snapshot()
            .unwrap()
            .data_keys()
            .iter()
            .all(|key| key.customer() != ada)
    );
    let vault = vault(&store);
    assert!(vault.keyring().unwrap().is_shredded(ada));
    // Past retention the policy refuses before decryption; the keys are gone besides.
    assert!(vault.open(&record, &steward_request()).is_err());
}

#[test]
fn a_training_export_streams_from_the_store() {
    let dir = TempDir::new("vault-export");
    let store = SqliteStore::create(dir.db(), &keys()).unwrap();
    let vault = vault(&store);
    let committer = GroupCommitter::new(&store).unwrap();
    let (ada, ben) = (customer(1), customer(2));
    let start = at(-86_400);
    vault
        .update_facts(|facts| {
            facts.start_relationship(ada, start)?;
            facts.start_relationship(ben, start)?;
            facts.record_consent(ConsentChange::new(
                ada,
                TrainingLevel::Shared,
                Timestamp::now(),
                ConsentActor::Customer,
                Channel::AccountSettings,
                policy().version().clone(),
            ))
        })
        .unwrap()
        .unwrap();
    for _ in 0..300 {
        log(&vault, &committer, ada);
        log(&vault, &committer, ben);
    }
    drop(committer);
    let mut exported = 0;
    let outcome = vault
        .export_training(
            steward::TrainingScope::Shared,
            |pass| store.stream_records(steward_store::RecordScan::All, pass),
            |record| {
                assert_eq!(record.header().customer(), ada);
                exported += 1;
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(exported, 300);
    assert_eq!(outcome.counts.consent, 300);
    assert!(outcome.matches_plan());
    // A sink that stops early drops the stream, which stops the store's reader.
    let stopped = vault.export_training(
        steward::TrainingScope::Shared,
        |pass| store.stream_records(steward_store::RecordScan::All, pass),
        |_record| Err("enough".into()),
    );
    assert!(stopped.is_err());
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
    let start = at(-86_400);
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
                let mut records = store.clone();
                sweep
                    .execute(&plan, &mut records, &mut VaultShredder::new(&vault), later)
                    .unwrap()
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

#[test]
fn a_chain_cut_short_of_its_stored_checkpoint_is_refused_at_start_up() {
    let dir = TempDir::new("vault-checkpoint");
    let store = SqliteStore::create(dir.db(), &keys()).unwrap();
    {
        let vault = vault(&store);
        vault
            .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
            .unwrap();
        vault
            .add_steward("bob.ops".parse().unwrap(), "dana.admin".parse().unwrap())
            .unwrap();
        let signer = steward::logs::CheckpointSigner::from_pkcs8(
            &steward::logs::CheckpointSigner::generate_pkcs8().unwrap(),
        )
        .unwrap();
        let checkpoint = vault.audit().unwrap().checkpoint(&signer).unwrap();
        store.put_checkpoint(&checkpoint).unwrap();
    }
    drop(store);
    // Someone with write access to the file removes the newest entry: the rest still chains.
    rusqlite::Connection::open(dir.db())
        .unwrap()
        .execute(
            "DELETE FROM audit_entries WHERE sequence = (SELECT max(sequence) FROM audit_entries)",
            [],
        )
        .unwrap();
    let store = SqliteStore::open(dir.db(), &keys()).unwrap();
    let refused = open_vault(&store, &keys(), policy());
    assert!(
        matches!(
            refused,
            Err(steward_store::StoreError::ChainShorterThanCheckpoint { checkpoint: 2 })
        ),
        "{refused:?}"
    );
}

#[test]
fn a_consent_row_removed_from_the_file_is_found_at_start_up() {
    let dir = TempDir::new("vault-consent-rows");
    let store = SqliteStore::create(dir.db(), &keys()).unwrap();
    {
        let vault = vault(&store);
        let ada = customer(1);
        for (offset, level) in [
            (1, TrainingLevel::Shared),
            (2, TrainingLevel::None),
            (3, TrainingLevel::Private),
        ] {
            // Scheduled a little ahead, so that the three follow each other.
            let effective =
                Timestamp::from_unix_nanos(Timestamp::now().unix_nanos() + offset * 1_000_000_000);
            vault
                .update_facts(|facts| {
                    facts.record_consent(ConsentChange::new(
                        ada,
                        level,
                        effective,
                        ConsentActor::Customer,
                        Channel::AccountSettings,
                        policy().version().clone(),
                    ))
                })
                .unwrap()
                .unwrap();
        }
    }
    drop(store);
    // The withdrawal in the middle is deleted outside Steward.
    rusqlite::Connection::open(dir.db())
        .unwrap()
        .execute("DELETE FROM fact_log WHERE sequence = 2", [])
        .unwrap();
    let store = SqliteStore::open(dir.db(), &keys()).unwrap();
    let refused = open_vault(&store, &keys(), policy());
    assert!(
        matches!(
            refused,
            Err(steward_store::StoreError::FactLogBroken { sequence: 2, .. })
        ),
        "{refused:?}"
    );
}
