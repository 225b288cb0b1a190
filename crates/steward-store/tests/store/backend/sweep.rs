//! The sweep in steps ([`StoreSweep`]): it holds the facts for one step at a time, so fact
//! changes, seals and decisions go through while it runs, and what they record decides the
//! next step; an interrupted sweep is finished by planning again; the fact log proves every
//! deletion.

use std::{
    num::NonZeroUsize,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread,
};

use steward::{
    DataRef, Request,
    consent::{Channel, ConsentActor, ConsentChange},
    logs::SealedRecord,
    retention::{HoldId, HoldScope, LegalHold, Sweep, SweepBatch, SweepPlan, SweepProgress},
    vocabulary::{
        CustomerId, DataCategory, ManualClock, RecordId, Timestamp, TrainingLevel, TrainingScope,
    },
};
use steward_store::{RecordScan, StoreSweep};

use super::Db;
use crate::{
    backend::{Backend, BackendVault, log, policy},
    common::*,
};

/// 31 days after `ended`: past the bundled deletion window.
fn past_the_window(ended: Timestamp) -> Timestamp {
    Timestamp::from_unix_nanos(ended.unix_nanos() + 31 * 86_400 * 1_000_000_000)
}

/// Starts a relationship for each of `customers`, stores `per_customer` records of each
/// (sealed now, stored a thousand to a transaction), and ends the relationships of all but
/// the last. Returns when they ended.
fn stored_world(
    store: &<Db as Backend>::Store,
    vault: &BackendVault<Db>,
    customers: &[CustomerId],
    per_customer: usize,
) -> Timestamp {
    let start = Timestamp::now();
    for customer in customers {
        vault
            .update_facts(|facts| facts.start_relationship(*customer, start))
            .unwrap()
            .unwrap();
    }
    let (_live, ending) = customers.split_last().unwrap();
    for customer in ending {
        let records: Vec<SealedRecord> = (0..per_customer)
            .map(|_| {
                let now = Timestamp::now();
                vault
                    .seal(RecordId::generate_at(now), *customer, now, b"a prompt")
                    .unwrap()
            })
            .collect();
        for chunk in records.chunks(1000) {
            store
                .put_records(
                    chunk
                        .iter()
                        .map(|record| (record, DataCategory::LlmRequestLog)),
                )
                .unwrap();
        }
    }
    let ended = Timestamp::now();
    for customer in ending {
        vault
            .update_facts(|facts| facts.end_relationship(*customer, ended))
            .unwrap()
            .unwrap();
    }
    ended
}

/// The plan of a sweep at `at` over every stored record.
fn plan_at(store: &<Db as Backend>::Store, vault: &BackendVault<Db>, at: Timestamp) -> SweepPlan {
    let metas: Vec<_> = store
        .record_metas(RecordScan::All)
        .collect::<Result<_, _>>()
        .unwrap();
    let facts = vault.facts().unwrap();
    Sweep::new(
        vault.policy().retention(),
        facts.relationships().unwrap(),
        facts.holds().unwrap(),
    )
    .plan(metas, at)
}

fn batch(size: usize) -> SweepBatch {
    SweepBatch::new(NonZeroUsize::new(size).unwrap())
}

/// A consent change of `customer` to `level`, recorded now through the vault.
fn change_consent(vault: &BackendVault<Db>, customer: CustomerId, level: TrainingLevel) {
    let now = Timestamp::now();
    vault
        .update_facts(|facts| {
            facts.record_consent(ConsentChange::new(
                customer,
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

/// How many `record_deleted` entries the fact log holds.
fn deletions_in_the_log(db: &Db) -> usize {
    db.fact_rows()
        .iter()
        .filter(|(_, event, _)| event.contains("\"record_deleted\""))
        .count()
}

pub(crate) fn a_hold_placed_between_steps_keeps_its_records_and_the_log_proves_the_rest() {
    let db = Db::fresh("sweep-steps-hold");
    let store = db.store();
    let (ada, bea, cal) = (customer(1), customer(2), customer(3));
    let vault = Db::vault(&store).unwrap();
    let ended = stored_world(&store, &vault, &[ada, bea, cal], 300);
    let later = past_the_window(ended);
    let plan = plan_at(&store, &vault, later);
    assert_eq!(plan.deletions().count(), 600);
    let clock = ManualClock::new(later);
    let mut sweep = StoreSweep::new(&vault, store.clone(), &plan, &clock, batch(100));

    // The plan runs customer by customer (by id): the first step deletes ada's first 100.
    assert_eq!(sweep.step().unwrap(), SweepProgress::More);
    assert_eq!(sweep.report().deleted().len(), 100);
    // Between steps the facts are free: on this very thread (which would wait forever on a
    // lock the sweep held), a hold on bea, a consent change, a seal and a decision go through.
    let placed = Timestamp::now();
    let hold = LegalHold::place(
        HoldId::new(7),
        HoldScope::Customer { customer: bea },
        "CASE-2026-7 preservation".parse().unwrap(),
        "counsel.kim".parse().unwrap(),
        placed,
        Timestamp::from_unix_nanos(placed.unix_nanos() + 86_400 * 1_000_000_000),
    )
    .unwrap();
    vault
        .update_facts(|facts| facts.place_hold(hold))
        .unwrap()
        .unwrap();
    change_consent(&vault, cal, TrainingLevel::Private);
    let record = log::<Db>(&store, &vault, cal);
    let decision = vault.check(&Request::train(
        TrainingScope::Private { owner: cal },
        DataRef::new(
            DataCategory::LlmRequestLog,
            cal,
            record.header().collected_at(),
        ),
        Timestamp::now(),
    ));
    assert!(decision.is_allowed(), "{decision:?}");

    let mut steps = 2;
    while sweep.step().unwrap() == SweepProgress::More {
        steps += 1;
    }
    assert_eq!(steps, 6, "600 deletions (and shreds) 100 a step");
    let report = sweep.into_report();
    // The hold decided every step after it: none of bea's records went, nor her keys.
    assert_eq!(report.deleted().len(), 300);
    assert_eq!(report.now_kept().len(), 300);
    assert!(report.failures().is_empty());
    assert_eq!(report.shredded(), [ada]);
    assert!(
        report
            .shreds_withheld()
            .iter()
            .any(|withheld| withheld.customer() == bea && withheld.hold() == Some(HoldId::new(7)))
    );
    assert_eq!(
        store
            .record_metas(RecordScan::Customer(bea))
            .filter_map(Result::ok)
            .count(),
        300
    );
    assert_eq!(
        store
            .record_metas(RecordScan::Customer(ada))
            .filter_map(Result::ok)
            .count(),
        0
    );
    // Every deletion has its entry, and the logs still verify from the start.
    assert_eq!(deletions_in_the_log(&db), 300);
    drop(vault);
    let vault = Db::vault(&db.store()).unwrap();
    vault.audit().unwrap().verify().unwrap();
    assert!(vault.keyring().unwrap().is_shredded(ada));
    assert!(!vault.keyring().unwrap().is_shredded(bea));
}

pub(crate) fn an_interrupted_sweep_is_finished_by_planning_again() {
    let db = Db::fresh("sweep-steps-resume");
    let store = db.store();
    let (ada, cal) = (customer(1), customer(3));
    let vault = Db::vault(&store).unwrap();
    let ended = stored_world(&store, &vault, &[ada, cal], 250);
    let later = past_the_window(ended);
    let clock = ManualClock::new(later);
    let plan = plan_at(&store, &vault, later);
    {
        let mut sweep = StoreSweep::new(&vault, store.clone(), &plan, &clock, batch(100));
        sweep.step().unwrap();
        sweep.step().unwrap();
        assert!(!sweep.is_done());
        // Interrupted here: the process stops between two steps.
    }
    let again = plan_at(&store, &vault, later);
    assert_eq!(again.deletions().count(), 50);
    let report = StoreSweep::new(&vault, store.clone(), &again, &clock, batch(100))
        .run()
        .unwrap();
    assert_eq!(
        (report.deleted().len(), report.shredded()),
        (50, &[ada][..])
    );
    // The first plan, run to its end after all, finds everything gone and changes nothing.
    let report = StoreSweep::new(&vault, store.clone(), &plan, &clock, batch(100))
        .run()
        .unwrap();
    assert_eq!(report.deleted().len(), 0);
    assert_eq!(report.already_absent().len(), 250);
    assert_eq!(report.already_shredded(), [ada]);
    assert!(report.failures().is_empty());
    assert_eq!(deletions_in_the_log(&db), 250);
    drop(vault);
    Db::vault(&db.store())
        .unwrap()
        .audit()
        .unwrap()
        .verify()
        .unwrap();
}

/// 20,000 records swept in steps while another thread seals, stores, decides and changes
/// consent in a loop: its rounds complete while the sweep is still going (spread over many
/// of its steps), rather than all waiting for it to end.
pub(crate) fn a_20k_record_sweep_interleaves_with_seals_decisions_and_consent_changes() {
    const PER_CUSTOMER: usize = 5_000;
    let db = Db::fresh("sweep-steps-20k");
    let store = db.store();
    let customers: Vec<CustomerId> = (1..=5).map(customer).collect();
    let live = customer(5);
    let vault = Arc::new(Db::vault(&store).unwrap());
    let ended = stored_world(&store, &vault, &customers, PER_CUSTOMER);
    let later = past_the_window(ended);
    let plan = plan_at(&store, &vault, later);
    assert_eq!(plan.deletions().count(), 4 * PER_CUSTOMER);

    let steps_done = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    // The sweep's step count when each round of the worker completed.
    let rounds = Arc::new(Mutex::new(Vec::new()));
    let worker = {
        let (vault, store) = (Arc::clone(&vault), store.clone());
        let (steps_done, finished, rounds) = (
            Arc::clone(&steps_done),
            Arc::clone(&finished),
            Arc::clone(&rounds),
        );
        thread::spawn(move || {
            while steps_done.load(Ordering::Acquire) == 0 && !finished.load(Ordering::Acquire) {
                thread::yield_now();
            }
            let levels = [TrainingLevel::Private, TrainingLevel::Shared];
            for level in levels.into_iter().cycle().take(500) {
                if finished.load(Ordering::Acquire) {
                    break;
                }
                change_consent(&vault, live, level);
                let record = log::<Db>(&store, &vault, live);
                let decision = vault.check(&Request::train(
                    TrainingScope::Private { owner: live },
                    DataRef::new(
                        DataCategory::LlmRequestLog,
                        live,
                        record.header().collected_at(),
                    ),
                    Timestamp::now(),
                ));
                assert!(decision.is_allowed(), "{decision:?}");
                rounds
                    .lock()
                    .unwrap()
                    .push(steps_done.load(Ordering::Acquire));
            }
        })
    };
    let clock = ManualClock::new(later);
    let mut sweep = StoreSweep::new(&vault, store.clone(), &plan, &clock, SweepBatch::DEFAULT);
    while sweep.step().unwrap() == SweepProgress::More {
        steps_done.fetch_add(1, Ordering::AcqRel);
    }
    let total = steps_done.fetch_add(1, Ordering::AcqRel) + 1;
    finished.store(true, Ordering::Release);
    worker.join().unwrap();
    let report = sweep.into_report();
    assert_eq!(report.deleted().len(), 4 * PER_CUSTOMER);
    assert!(report.failures().is_empty());
    assert_eq!(report.shredded().len(), 4);

    let rounds = rounds.lock().unwrap();
    let during: Vec<usize> = rounds
        .iter()
        .copied()
        .filter(|step| *step < total)
        .collect();
    let distinct: std::collections::BTreeSet<usize> = during.iter().copied().collect();
    assert!(
        during.len() >= 5 && distinct.len() >= 3,
        "of {} rounds, {} completed during the sweep's {total} steps, at {} distinct steps",
        rounds.len(),
        during.len(),
        distinct.len()
    );
    assert_eq!(deletions_in_the_log(&db), 4 * PER_CUSTOMER);
    drop(vault);
    Db::vault(&db.store())
        .unwrap()
        .audit()
        .unwrap()
        .verify()
        .unwrap();
}
