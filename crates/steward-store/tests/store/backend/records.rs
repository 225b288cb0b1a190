//! Records: stored bytes swapped between two records are refused by id, the sweep's deletions
//! and shreds are durable, and a training export streams from the store.

use steward::{
    StewardError, VaultShredder,
    consent::{Channel, ConsentActor, ConsentChange},
    retention::{
        HoldId, HoldScope, KeyShredder, LegalHold, RecordStore, Removal, RetentionError, Sweep,
    },
    vocabulary::{RecordId, Timestamp, TrainingLevel},
};
use steward_store::{FactLog, StoreError, SweepRecords};

use super::Db;
use crate::{
    backend::{Backend, log, policy, steward_request},
    common::*,
};

/// Asserts that the record stored under `id` is refused as not the record asked for.
fn assert_mismatch(store: &<Db as Backend>::Store, id: RecordId) {
    let served = store.record(id);
    assert!(
        matches!(served, Err(StoreError::RecordMismatch { id: named }) if named == id),
        "swapped record {id} was served: {:?}",
        served.map(|bytes| bytes.map(|bytes| bytes.len()))
    );
}

pub(crate) fn a_record_whose_stored_bytes_were_swapped_with_another_is_refused_by_id() {
    let db = Db::fresh("swapped");
    let store = db.store();
    let vault = Db::vault(&store).unwrap();
    let seal = |customer, at, body: &[u8]| {
        Db::seal_stored(
            &store,
            &vault,
            RecordId::generate_at(at),
            customer,
            at,
            body,
        )
    };
    let a = seal(customer(1), at(0), b"prompt of A");
    let b = seal(customer(2), at(1), b"prompt of B");
    let c = seal(customer(1), at(2), b"prompt of C");
    let (a_id, b_id, c_id) = (
        a.header().record_id(),
        b.header().record_id(),
        c.header().record_id(),
    );
    // The test can fail: untouched, each record is served.
    assert_eq!(store.record(a_id).unwrap().unwrap(), a.as_bytes());
    // A's and B's bytes swapped, as a script with the database could. Each is an authentic
    // record, so only the id asked for can tell them apart. C stays untouched.
    db.swap_sealed(a_id, b_id);
    for id in [a_id, b_id] {
        assert_mismatch(&store, id);
    }
    assert_eq!(store.record(c_id).unwrap().unwrap(), c.as_bytes());

    // Same customer: C's bytes under A's id (A's row keeps its customer) are refused too.
    db.swap_sealed(a_id, c_id);
    assert_mismatch(&store, a_id);
}

pub(crate) fn the_sweep_deletes_stored_records_and_shreds_keys_durably() {
    let db = Db::fresh("vault-sweep");
    let store = db.store();
    let ada = customer(1);
    let record;
    {
        let vault = Db::vault(&store).unwrap();
        vault
            .update_facts(|facts| facts.start_relationship(ada, Timestamp::now()))
            .unwrap()
            .unwrap();
        record = log::<Db>(&store, &vault, ada);
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
        let mut records = steward_store::SweepRecords::new(store.clone(), &*facts);
        // The test's clock stands at `later`: the sweep executes at its clock's now.
        let report = sweep.execute(
            &plan,
            &mut records,
            &mut VaultShredder::new(&vault, &*facts),
            &steward::vocabulary::ManualClock::new(later),
        );
        assert_eq!(report.deleted().len(), 1);
        assert_eq!(report.shredded(), [ada]);
    }
    drop(store);
    let store = db.store();
    assert!(store.record(record.header().record_id()).unwrap().is_none());
    assert!(
        store
            .keyring_snapshot()
            .unwrap()
            .data_keys()
            .iter()
            .all(|key| key.customer() != ada)
    );
    let vault = Db::vault(&store).unwrap();
    assert!(vault.keyring().unwrap().is_shredded(ada));
    // Past retention the policy refuses before decryption; the keys are gone besides.
    assert!(vault.open(&record, &steward_request()).is_err());
}

pub(crate) fn a_standing_hold_refuses_the_deletion_and_the_shred_naming_itself() {
    let db = Db::fresh("held-deletion");
    let store = db.store();
    let ada = customer(1);
    let vault = Db::vault(&store).unwrap();
    vault
        .update_facts(|facts| facts.start_relationship(ada, Timestamp::now()))
        .unwrap()
        .unwrap();
    let record = log::<Db>(&store, &vault, ada);
    let id = record.header().record_id();
    vault
        .update_facts(|facts| facts.end_relationship(ada, Timestamp::now()))
        .unwrap()
        .unwrap();
    // A hold on that one record, placed now and already past its review date by the time
    // anything asks: it stands all the same.
    let placed = Timestamp::now();
    let hold = LegalHold::place(
        HoldId::new(5),
        HoldScope::Record {
            customer: ada,
            record: id,
        },
        "CASE-2026-5 preservation".parse().unwrap(),
        "counsel.kim".parse().unwrap(),
        placed,
        Timestamp::from_unix_nanos(placed.unix_nanos() + 1),
    )
    .unwrap();
    vault
        .update_facts(|facts| facts.place_hold(hold))
        .unwrap()
        .unwrap();
    let entries = store.entries_after(0).unwrap().len();
    {
        let facts = vault.facts().unwrap();
        // The store refuses to delete the held record, whatever its caller decided.
        let mut records = SweepRecords::new(store.clone(), &*facts);
        let refused = records.delete(id).unwrap_err();
        assert!(
            matches!(
                refused,
                StoreError::Retention(RetentionError::Held { hold, .. }) if hold == HoldId::new(5)
            ),
            "{refused}"
        );
        assert_eq!(
            refused.to_string(),
            "legal hold `hold-5` stands: deleting the record is refused until it is released"
        );
        // A hold on one record withholds the shred of every key of the customer.
        let mut shredder = VaultShredder::new(&vault, &*facts);
        assert!(matches!(
            shredder.shred_customer(ada),
            Err(StewardError::Retention(RetentionError::Held { hold, .. })) if hold == HoldId::new(5)
        ));
    }
    assert!(matches!(
        vault.shred(ada),
        Err(StewardError::Retention(RetentionError::Held { .. }))
    ));
    // Nothing changed: the record is stored, its keys live, no entry was written.
    assert!(store.record(id).unwrap().is_some());
    assert!(!vault.keyring().unwrap().is_shredded(ada));
    assert_eq!(store.entries_after(0).unwrap().len(), entries);
    assert!(
        store
            .keyring_snapshot()
            .unwrap()
            .data_keys()
            .iter()
            .any(|key| key.customer() == ada)
    );

    // Released, the same deletion and shred go through.
    vault
        .update_facts(|facts| {
            facts.release_hold(
                HoldId::new(5),
                "counsel.kim".parse().unwrap(),
                Timestamp::now(),
                "case closed".parse().unwrap(),
            )
        })
        .unwrap()
        .unwrap();
    let facts = vault.facts().unwrap();
    let mut records = SweepRecords::new(store.clone(), &*facts);
    assert_eq!(records.delete(id).unwrap(), Removal::Removed);
    drop(facts);
    vault.shred(ada).unwrap();
    assert!(store.record(id).unwrap().is_none());
    assert!(vault.keyring().unwrap().is_shredded(ada));
}

pub(crate) fn a_training_export_streams_from_the_store() {
    let db = Db::fresh("vault-export");
    let store = db.store();
    let vault = Db::vault(&store).unwrap();
    let (ada, ben) = (customer(1), customer(2));
    let start = Timestamp::now();
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
        log::<Db>(&store, &vault, ada);
        log::<Db>(&store, &vault, ben);
    }
    let mut exported = 0;
    let outcome = vault
        .export_training(
            steward::vocabulary::TrainingScope::Shared,
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
        steward::vocabulary::TrainingScope::Shared,
        |pass| store.stream_records(steward_store::RecordScan::All, pass),
        |_record| Err("enough".into()),
    );
    assert!(stopped.is_err());
}

/// Issue 18 item 10: a writer that chose its record's id finds the record stored under it
/// (and whose it is) without storing it twice; a new seal under the taken id is refused.
pub(crate) fn a_record_stored_under_a_chosen_id_is_found_and_never_stored_twice() {
    let db = Db::fresh("chosen-id");
    let store = db.store();
    let vault = Db::vault(&store).unwrap();
    let id = RecordId::generate_at(at(0));
    assert_eq!(store.record_owner(id).unwrap(), None);
    let first = Db::seal_stored(&store, &vault, id, customer(1), at(0), b"the prompt");
    assert_eq!(store.record_owner(id).unwrap(), Some(customer(1)));
    assert_eq!(
        store.record_owner(RecordId::generate_at(at(0))).unwrap(),
        None
    );
    // The same record again is harmless; a new seal of the same line is another ciphertext,
    // refused under the taken id.
    store
        .put_record(&first, steward::vocabulary::DataCategory::LlmRequestLog)
        .unwrap();
    let again = vault.seal(id, customer(1), at(0), b"the prompt").unwrap();
    assert!(matches!(
        store.put_record(&again, steward::vocabulary::DataCategory::LlmRequestLog),
        Err(StoreError::RecordConflict)
    ));
    let stored: Vec<_> = store
        .record_metas(steward_store::RecordScan::All)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(store.record(id).unwrap().unwrap(), first.as_bytes());
    // Still found after a reopen.
    drop(vault);
    drop(store);
    assert_eq!(db.store().record_owner(id).unwrap(), Some(customer(1)));
}
