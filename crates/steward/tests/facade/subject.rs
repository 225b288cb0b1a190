//! Data subject requests (`law.access`, `law.erasure`): a copy streams one customer's records
//! and nobody else's, audited before any plaintext exists; erasure shreds and deletes now,
//! waits while a hold stands, keeps the consent receipts, and says when it repeats itself.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed setup step must fail the test"
)]

use std::cell::Cell;

use proptest::prelude::*;

use steward::logs::{AuditEvent, AuditStore};
use steward::retention::{HoldId, HoldScope, LegalHold, MemoryRecordStore, RecordMeta};
use steward::{consent::*, logs::*, vocabulary::*, *};

use crate::common::*;

fn request(customer: CustomerId) -> SubjectRequest {
    SubjectRequest::new(
        customer,
        "DSR-2025-0042".parse().unwrap(),
        "dana.privacy".parse().unwrap(),
    )
}

/// Seals `count` records of `customer` (bodies `<prefix> <n>`), at `2025-05-01` plus n
/// seconds.
fn seal(
    vault: &Vault<MemoryFacts, logs::MemoryAuditStore>,
    customer: CustomerId,
    prefix: &str,
    count: u32,
) -> Vec<(RecordId, Vec<u8>)> {
    (0..count)
        .map(|n| {
            let collected = Timestamp::from_unix_nanos(
                at("2025-05-01T00:00:00Z").unix_nanos() + i64::from(n) * 1_000_000_000,
            );
            let id = RecordId::generate_at(collected);
            let body = format!("{prefix} {n}");
            let record = vault
                .seal(id, customer, collected, body.as_bytes())
                .unwrap();
            (id, record.into_bytes())
        })
        .collect()
}

fn last_event(vault: &Vault<MemoryFacts, logs::MemoryAuditStore>) -> AuditEvent {
    let trail = vault.audit().unwrap();
    let entries = trail.store().entries().unwrap();
    entries.last().unwrap().entry().event().clone()
}

#[test]
fn a_subject_copy_streams_one_record_at_a_time() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    let records = seal(&vault, alice(), "alice", 2_000);
    let produced = Cell::new(0_u64);
    let consumed = Cell::new(0_u64);
    let mut most_in_flight = 0_u64;
    let source = records.iter().map(|(_, bytes)| {
        produced.set(produced.get() + 1);
        Ok(bytes.clone())
    });
    let outcome = vault
        .export_subject(&request(alice()), source, |_record| {
            consumed.set(consumed.get() + 1);
            most_in_flight = most_in_flight.max(produced.get() - consumed.get() + 1);
            Ok(())
        })
        .unwrap();
    assert_eq!(outcome.records, 2_000);
    // The export pulled each record only after the previous one reached the sink: it never
    // held more than the one it was decrypting.
    assert_eq!(most_in_flight, 1);
}

#[test]
fn a_subject_copy_holds_only_the_customers_records_and_is_audited_first() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    let mut stored = seal(&vault, alice(), "alice", 3);
    stored.extend(seal(&vault, bob(), "bob", 2));
    let entries_before = vault.audit().unwrap().verify().unwrap().entries();
    let mut bodies = Vec::new();
    let outcome = vault
        .export_subject(
            &request(alice()),
            stored.iter().map(|(_, bytes)| Ok(bytes.clone())),
            |record| {
                // The request's start is in the trail before the first plaintext exists.
                assert!(matches!(
                    last_event(&vault),
                    AuditEvent::SubjectRequest {
                        right: SubjectRight::Access,
                        stage: SubjectStage::Started,
                        ..
                    }
                ));
                assert_eq!(record.header().customer(), alice());
                bodies.push(String::from_utf8(record.body().to_vec()).unwrap());
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(bodies, ["alice 0", "alice 1", "alice 2"]);
    assert_eq!((outcome.records, outcome.unreadable), (3, 0));
    assert_eq!(
        vault.audit().unwrap().verify().unwrap().entries(),
        entries_before + 2
    );
    assert!(matches!(
        last_event(&vault),
        AuditEvent::SubjectRequest {
            stage: SubjectStage::Exported { records: 3, .. },
            ..
        }
    ));
}

#[test]
fn a_damaged_record_of_the_customer_is_counted_as_unreadable_never_dropped_silently() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    let mut stored = seal(&vault, alice(), "alice", 3);
    // One cut short (it no longer parses), one with a flipped body byte (it fails to
    // authenticate): both still name Alice in their header.
    let cut = stored[0].1.len() - 20;
    stored[0].1.truncate(cut);
    let last = stored[1].1.len() - 1;
    stored[1].1[last] ^= 1;
    let mut bodies = Vec::new();
    let outcome = vault
        .export_subject(
            &request(alice()),
            stored.iter().map(|(_, bytes)| Ok(bytes.clone())),
            |record| {
                bodies.push(record.body().to_vec());
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(bodies, [b"alice 2".to_vec()]);
    assert_eq!((outcome.records, outcome.unreadable), (1, 2));
}

#[test]
fn erasure_refuses_facts_that_are_not_the_vaults_own() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    let entries = vault.audit().unwrap().verify().unwrap().entries();
    // Other facts, in which no hold stands: never the basis of an erasure.
    let other = facts(&policy);
    let mut store = MemoryRecordStore::new();
    let refused = vault.erase_subject(&other, &request(alice()), &mut store, []);
    assert!(
        matches!(
            refused,
            Err(StewardError::Logs(logs::LogsError::Config(
                logs::ConfigError::FactsReplaced
            )))
        ),
        "{refused:?}"
    );
    assert!(!vault.keyring().unwrap().is_shredded(alice()));
    assert_eq!(vault.audit().unwrap().verify().unwrap().entries(), entries);
}

#[test]
fn a_subject_request_for_an_unknown_customer_is_refused_before_the_trail() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    let stranger: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8aff".parse().unwrap();
    let entries = vault.audit().unwrap().verify().unwrap().entries();
    let refused = vault.export_subject(&request(stranger), std::iter::empty(), |_| Ok(()));
    assert!(
        matches!(refused, Err(StewardError::UnknownCustomer { customer }) if customer == stranger)
    );
    let facts = vault.facts().unwrap();
    let mut store = MemoryRecordStore::new();
    let refused = vault.erase_subject(&*facts, &request(stranger), &mut store, []);
    assert!(matches!(refused, Err(StewardError::UnknownCustomer { .. })));
    drop(facts);
    assert_eq!(vault.audit().unwrap().verify().unwrap().entries(), entries);
}

#[test]
fn the_bundle_is_one_json_document_with_the_customers_facts_and_records() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    vault
        .update_facts(|facts| {
            set_level(
                facts,
                alice(),
                TrainingLevel::Shared,
                "2025-02-01T00:00:00Z",
            )
        })
        .unwrap();
    let mut stored = seal(&vault, alice(), "alice", 2);
    stored.extend(seal(&vault, bob(), "bob", 1));
    let gathered = {
        let facts = vault.facts().unwrap();
        SubjectFacts::gather(
            alice(),
            &facts.consent,
            &facts.interactive,
            &facts.relationships,
            &facts.holds,
        )
    };
    let (outcome, bytes) = vault
        .write_subject_bundle(
            &request(alice()),
            &gathered,
            stored.iter().map(|(_, bytes)| Ok(bytes.clone())),
            Vec::new(),
        )
        .unwrap();
    let bundle: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(bundle["format"], SUBJECT_BUNDLE_FORMAT);
    assert_eq!(bundle["customer"], ALICE);
    assert_eq!(bundle["clause"], "law.access");
    assert_eq!(bundle["request"]["reference"], "DSR-2025-0042");
    assert_eq!(bundle["consent"][0]["level"], "shared");
    assert_eq!(bundle["relationships"].as_array().unwrap().len(), 1);
    let records = bundle["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["body"], "alice 1");
    assert_eq!(bundle["summary"]["records"], 2);
    assert_eq!(outcome.records, 2);
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains(BOB) && !text.contains("bob 0"), "{text}");
}

#[test]
fn erasure_waits_for_a_hold_then_shreds_deletes_and_keeps_the_receipts() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    vault
        .update_facts(|facts| {
            set_level(
                facts,
                alice(),
                TrainingLevel::Private,
                "2025-02-01T00:00:00Z",
            )
        })
        .unwrap();
    let stored = seal(&vault, alice(), "alice", 3);
    let mut store = MemoryRecordStore::new();
    for (id, _) in &stored {
        store.insert(RecordMeta::new(
            *id,
            alice(),
            DataCategory::LlmRequestLog,
            at("2025-05-01T00:00:00Z"),
        ));
    }
    let hold = LegalHold::place(
        HoldId::new(7),
        HoldScope::Customer { customer: alice() },
        "CASE-7 litigation".parse().unwrap(),
        steward(),
        at("2025-05-02T00:00:00Z"),
        at("2026-05-02T00:00:00Z"),
    )
    .unwrap();
    vault
        .update_facts(|facts| facts.holds.place(hold))
        .unwrap()
        .unwrap();
    let ids = || stored.iter().map(|(id, _)| Ok(*id)).collect::<Vec<_>>();

    let facts = vault.facts().unwrap();
    let held = vault.erase_subject(&*facts, &request(alice()), &mut store, ids());
    drop(facts);
    match held {
        Err(error @ StewardError::ErasureHeld { .. }) => {
            assert!(error.to_string().contains("held by hold-7"), "{error}");
        }
        other => panic!("expected a held erasure, got {other:?}"),
    }
    assert_eq!(store.len(), 3, "nothing deleted while the hold stands");
    assert!(!vault.keyring().unwrap().is_shredded(alice()));
    let pending = pending_erasures(
        vault
            .audit()
            .unwrap()
            .store()
            .entries()
            .unwrap()
            .iter()
            .map(|chained| chained.entry()),
    );
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].holds, [7]);

    vault
        .update_facts(|facts| {
            facts.holds.release(
                HoldId::new(7),
                steward(),
                at("2025-06-01T12:00:00Z"),
                "CASE-7 settled".parse().unwrap(),
            )
        })
        .unwrap()
        .unwrap();
    let facts = vault.facts().unwrap();
    let erased = vault
        .erase_subject(&*facts, &request(alice()), &mut store, ids())
        .unwrap();
    assert!(matches!(erased, ErasureOutcome::Erased { records: 3, .. }));
    assert_eq!(store.len(), 0);
    assert!(vault.keyring().unwrap().is_shredded(alice()));
    // The receipts stay, as proof.
    assert_eq!(facts.consent.history(alice()).count(), 1);
    let again = vault
        .erase_subject(&*facts, &request(alice()), &mut store, ids())
        .unwrap();
    assert_eq!(again, ErasureOutcome::AlreadyErased);
    drop(facts);
    let entries = vault.audit().unwrap().store().entries().unwrap();
    assert!(pending_erasures(entries.iter().map(|chained| chained.entry())).is_empty());
    // No record of hers opens any more, for anyone.
    let record = SealedRecord::from_vec(stored[0].1.clone()).unwrap();
    let ask = AccessRequest::new(steward(), Purpose::Troubleshooting, Some(ticket()));
    assert!(vault.open(&record, &ask).is_err());
}

/// A record store that deletes in steps as a database does (one transaction per step), and
/// remembers each step's size; it refuses one record, and can fail every step as a whole.
struct SteppedStore {
    records: std::collections::BTreeSet<RecordId>,
    steps: Vec<usize>,
    refuse: Option<RecordId>,
    steps_fail: bool,
}

impl SteppedStore {
    fn with(ids: &[RecordId]) -> Self {
        Self {
            records: ids.iter().copied().collect(),
            steps: Vec::new(),
            refuse: None,
            steps_fail: false,
        }
    }
}

impl retention::RecordStore for SteppedStore {
    type Error = std::io::Error;

    fn delete(&mut self, record: RecordId) -> Result<retention::Removal, std::io::Error> {
        if self.refuse == Some(record) {
            return Err(std::io::Error::other(format!("{record} is refused")));
        }
        Ok(if self.records.remove(&record) {
            retention::Removal::Removed
        } else {
            retention::Removal::AlreadyAbsent
        })
    }

    fn delete_batch(
        &mut self,
        records: &[RecordId],
    ) -> Result<Vec<Result<retention::Removal, std::io::Error>>, std::io::Error> {
        if self.steps_fail {
            return Err(std::io::Error::other("the step did not commit"));
        }
        self.steps.push(records.len());
        Ok(records.iter().map(|record| self.delete(*record)).collect())
    }
}

fn record_ids(count: usize) -> Vec<RecordId> {
    let collected = at("2025-05-01T00:00:00Z");
    (0..count)
        .map(|_| RecordId::generate_at(collected))
        .collect()
}

/// Alice's erasure over `ids`, every one listed.
fn erase_all(
    vault: &Vault<MemoryFacts, logs::MemoryAuditStore>,
    store: &mut SteppedStore,
    ids: &[RecordId],
) -> Result<ErasureOutcome, StewardError> {
    let facts = vault.facts().unwrap();
    vault.erase_subject(
        &*facts,
        &request(alice()),
        store,
        ids.iter().map(|id| Ok(*id)),
    )
}

/// How many records the trail's newest entry says an erasure deleted, if it closes one.
fn erased_count(vault: &Vault<MemoryFacts, logs::MemoryAuditStore>) -> Option<u64> {
    match last_event(vault) {
        AuditEvent::SubjectRequest {
            stage: SubjectStage::Erased { records },
            ..
        } => Some(records),
        _ => None,
    }
}

#[test]
fn erasure_deletes_in_steps_of_a_sweep() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    let ids = record_ids(150);
    let mut store = SteppedStore::with(&ids);
    let erased = erase_all(&vault, &mut store, &ids).unwrap();
    assert!(matches!(
        erased,
        ErasureOutcome::Erased { records: 150, .. }
    ));
    assert!(store.records.is_empty());
    // One transaction per 64 records, not one per record.
    assert_eq!(store.steps, [64, 64, 22]);
}

#[test]
fn a_refused_record_ends_the_erasure_after_its_step_and_is_named() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    let ids = record_ids(150);
    let mut store = SteppedStore::with(&ids);
    store.refuse = Some(ids[70]);
    let failed = erase_all(&vault, &mut store, &ids);
    let error = with_sources(&failed.unwrap_err());
    assert!(
        error.contains(&format!("{} is refused", ids[70])),
        "{error}"
    );
    // The refused record's step deleted its 63 others; the third step never ran.
    assert_eq!(store.steps, [64, 64]);
    assert_eq!(store.records.len(), 150 - 127);
    assert!(store.records.contains(&ids[70]));
    assert!(ids[128..].iter().all(|id| store.records.contains(id)));
    // The trail says how many were deleted: the truth, not the plan.
    assert_eq!(erased_count(&vault), Some(127));
}

#[test]
fn a_step_that_fails_whole_is_retried_record_by_record() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    let ids = record_ids(100);
    let mut store = SteppedStore::with(&ids);
    store.steps_fail = true;
    store.refuse = Some(ids[3]);
    let failed = erase_all(&vault, &mut store, &ids);
    let error = with_sources(&failed.unwrap_err());
    assert!(error.contains(&format!("{} is refused", ids[3])), "{error}");
    assert_eq!(
        store.records.len(),
        100 - 63,
        "the first step's others, one by one"
    );
    assert_eq!(erased_count(&vault), Some(63));
}

#[test]
fn an_unreadable_id_ends_the_erasure_after_the_ids_before_it() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    let ids = record_ids(20);
    let mut store = SteppedStore::with(&ids);
    let listed = ids.iter().enumerate().map(|(n, id)| {
        if n == 10 {
            Err(BoxError::from("the store's cursor broke"))
        } else {
            Ok(*id)
        }
    });
    let facts = vault.facts().unwrap();
    let failed = vault.erase_subject(&*facts, &request(alice()), &mut store, listed);
    drop(facts);
    let error = with_sources(&failed.unwrap_err());
    assert!(error.contains("the store's cursor broke"), "{error}");
    assert_eq!(store.steps, [10]);
    assert_eq!(store.records.len(), 10);
    assert_eq!(erased_count(&vault), Some(10));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever mix of customers' records the source gives, in whatever order, the copy is
    /// exactly the requesting customer's records, in the source's order, and its outcome
    /// counts them (`law.access`: nothing of anyone else's).
    #[test]
    fn a_subject_copy_is_exactly_the_customers_records(
        owners in prop::collection::vec(any::<bool>(), 0..24),
    ) {
        let policy = Policy::coder_model();
        let vault = vault(&policy);
        let mut stored = Vec::new();
        let mut expected = Vec::new();
        for (n, is_alice) in owners.iter().enumerate() {
            let (owner, name) = if *is_alice { (alice(), "alice") } else { (bob(), "bob") };
            let body = format!("{name} {n}");
            let at = Timestamp::now();
            let record = vault.seal(RecordId::generate_at(at), owner, at, body.as_bytes()).unwrap();
            if *is_alice {
                expected.push(body.into_bytes());
            }
            stored.push(record.into_bytes());
        }
        let mut bodies = Vec::new();
        let outcome = vault
            .export_subject(&request(alice()), stored.into_iter().map(Ok), |record| {
                bodies.push((record.header().customer(), record.body().to_vec()));
                Ok(())
            })
            .unwrap();
        prop_assert_eq!(outcome.records, expected.len() as u64);
        prop_assert_eq!(outcome.unreadable, 0);
        prop_assert!(bodies.iter().all(|(owner, _)| *owner == alice()));
        let bodies: Vec<Vec<u8>> = bodies.into_iter().map(|(_, body)| body).collect();
        prop_assert_eq!(bodies, expected);
    }
}
