//! The ingest handle on a store: callers on many threads are acknowledged once their records
//! are durable, and every acknowledged record is there after a reopen; a customer the policy
//! keeps no data of is refused before anything is stored; a record the store refuses fails
//! only its own caller, and the writer carries on.

use std::{num::NonZeroUsize, sync::Arc, thread};

use futures_executor::block_on;
use steward::{
    DenyReason,
    logs::SealedRecord,
    vocabulary::{ClauseId, RecordId, Timestamp},
};
use steward_store::{IngestConfig, IngestError, LogEntry, RecordScan, StoreError};

use super::Db;
use crate::{
    backend::{Backend, steward_request},
    common::*,
};

/// Callers on each of these threads...
const THREADS: usize = 8;
/// ...log this many requests each, half through the future, half blocking.
const PER_THREAD: usize = 24;

pub(crate) fn concurrent_callers_are_acknowledged_once_durable_and_survive_a_reopen() {
    let db = Db::fresh("ingest-concurrent");
    let mut ids = Vec::new();
    {
        let store = db.store();
        let vault = Arc::new(Db::vault(&store).unwrap());
        let now = Timestamp::now();
        for n in 1..=4 {
            vault
                .update_facts(|facts| facts.start_relationship(customer(n), now))
                .unwrap()
                .unwrap();
        }
        // A small queue, so that callers also wait for room.
        let config = IngestConfig::default()
            .with_queue_capacity(NonZeroUsize::new(16).unwrap())
            .with_max_batch(NonZeroUsize::new(32).unwrap());
        let ingest = Db::ingest(&store, Arc::clone(&vault), config);
        let handles: Vec<_> = (0..THREADS)
            .map(|thread_no| {
                let ingest = ingest.clone();
                thread::spawn(move || {
                    (0..PER_THREAD)
                        .map(|i| {
                            let owner = customer(u8::try_from(1 + (thread_no + i) % 4).unwrap());
                            let body = format!("prompt {thread_no}/{i}");
                            let entry = LogEntry::new(owner, Timestamp::now(), body.clone());
                            let logged = if i % 2 == 0 {
                                block_on(ingest.log(entry)).unwrap()
                            } else {
                                ingest.log_blocking(entry).unwrap()
                            };
                            (logged.record(), body)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            ids.extend(handle.join().unwrap());
        }
        // Acknowledged means committed: each is readable now, before any shutdown.
        for (id, _) in &ids {
            assert!(store.record(*id).unwrap().is_some(), "{id} not stored");
        }
        let report = block_on(ingest.shutdown());
        assert_eq!(
            report.committed(),
            u64::try_from(THREADS * PER_THREAD).unwrap()
        );
        assert_eq!(report.failed(), 0);
        assert!(matches!(
            ingest.log_blocking(LogEntry::new(customer(1), Timestamp::now(), "late")),
            Err(IngestError::ShutDown)
        ));
    }
    // Every acknowledged record is in the store after a reopen, and opens to its body.
    let store = db.store();
    let vault = Db::vault(&store).unwrap();
    vault
        .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
        .unwrap();
    assert_eq!(ids.len(), THREADS * PER_THREAD);
    for (id, body) in &ids {
        let bytes = store.record(*id).unwrap().unwrap();
        let record = SealedRecord::from_vec(bytes).unwrap();
        let opened = vault.open(&record, &steward_request()).unwrap();
        assert_eq!(opened.as_bytes(), body.as_bytes());
    }
}

pub(crate) fn a_customer_without_a_relationship_is_refused_before_anything_is_stored() {
    let db = Db::fresh("ingest-refused");
    let store = db.store();
    let vault = Arc::new(Db::vault(&store).unwrap());
    let ingest = Db::ingest(&store, vault, IngestConfig::default());
    let refused = ingest.log_blocking(LogEntry::new(customer(9), Timestamp::now(), "hello"));
    let decision = match refused {
        Err(IngestError::Refused { decision }) => Some(decision),
        _ => None,
    };
    assert_eq!(decision.map(|d| d.decisive()), Some(ClauseId::LogsStored));
    assert_eq!(
        decision.and_then(|d| d.reason()),
        Some(DenyReason::NoRelationship)
    );
    assert!(matches!(
        block_on(ingest.log(LogEntry::new(customer(9), Timestamp::now(), "hello"))),
        Err(IngestError::Refused { .. })
    ));
    let report = ingest.shutdown_blocking();
    assert_eq!((report.committed(), report.failed()), (0, 0));
    assert_eq!(store.record_metas(RecordScan::All).count(), 0);
}

pub(crate) fn a_record_the_store_refuses_fails_its_caller_and_the_writer_carries_on() {
    let db = Db::fresh("ingest-conflict");
    let store = db.store();
    let vault = Arc::new(Db::vault(&store).unwrap());
    vault
        .update_facts(|facts| facts.start_relationship(customer(1), Timestamp::now()))
        .unwrap()
        .unwrap();
    let now = Timestamp::now();
    let taken = RecordId::generate_at(now);
    Db::seal_stored(&store, &vault, taken, customer(1), now, b"the first");
    let ingest = Db::ingest(&store, Arc::clone(&vault), IngestConfig::default());
    // The same id with another body: the store refuses it, whether alone or in a batch.
    let clash = ingest.log(LogEntry::new(customer(1), now, "a second").with_record_id(taken));
    let fine: Vec<_> = (0..8)
        .map(|i| {
            ingest.log(LogEntry::new(
                customer(1),
                Timestamp::now(),
                format!("ok {i}"),
            ))
        })
        .collect();
    let clash = block_on(clash);
    assert!(
        matches!(
            clash,
            Err(IngestError::Commit {
                source: StoreError::RecordConflict
            })
        ),
        "{clash:?}"
    );
    for logged in fine {
        let id = block_on(logged).unwrap().record();
        assert!(store.record(id).unwrap().is_some());
    }
    // And the next batch commits.
    let after = ingest
        .log_blocking(LogEntry::new(customer(1), Timestamp::now(), "after"))
        .unwrap();
    assert!(store.record(after.record()).unwrap().is_some());
    let report = ingest.shutdown_blocking();
    assert_eq!((report.committed(), report.failed()), (9, 1));
}
