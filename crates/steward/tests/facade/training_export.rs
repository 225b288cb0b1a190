//! The training data path: an export yields exactly the records whose authenticated consent
//! at collection permits the job's scope, audits the job before any plaintext exists, and
//! never yields an altered record (docs/design.md invariant 2, issue "training data path").

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed setup step must fail the test"
)]

use std::{
    error::Error,
    sync::{Arc, Mutex},
};

use proptest::prelude::*;
use steward::logs::{
    AuditEvent, AuditKey, AuditStore, AuditTrail, ChainedEntry, Keyring, MasterKey,
};
use steward::retention::{HoldId, HoldScope, LegalHold};
use steward::{consent::*, logs::*, vocabulary::*, *};

use crate::common::*;

/// An audit store the test can read while the vault holds it.
#[derive(Debug, Clone, Default)]
struct SharedStore(Arc<Mutex<Vec<ChainedEntry>>>);

impl AuditStore for SharedStore {
    fn append(&mut self, entry: ChainedEntry) -> Result<(), Box<dyn Error + Send + Sync>> {
        self.0.lock().unwrap().push(entry);
        Ok(())
    }

    fn last(&self) -> Result<Option<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        Ok(self.0.lock().unwrap().last().cloned())
    }

    fn entries(&self) -> Result<Vec<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        Ok(self.0.lock().unwrap().clone())
    }
}

/// Alice's world: preference changes, an optional end of her relationship; Bob never opts
/// in. The vault's clock stands at `now`.
#[derive(Debug, Clone)]
struct World {
    changes: Vec<(i64, TrainingLevel)>,
    ended: Option<i64>,
    now: i64,
    strict: bool,
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::btree_map(0i64..200, prop::sample::select(LEVELS.to_vec()), 0..5),
        prop::option::of(1i64..300),
        200i64..320,
        any::<bool>(),
    )
        .prop_map(|(changes, ended, now, strict)| World {
            changes: changes.into_iter().collect(),
            ended,
            now,
            strict,
        })
}

/// One logged request: whose (alice or bob) and when (days after 2025-01-01).
fn records() -> impl Strategy<Value = Vec<(bool, i64)>> {
    prop::collection::vec((any::<bool>(), 0i64..200), 0..24)
}

fn scope_of(code: u8) -> TrainingScope {
    match code {
        0 => TrainingScope::Private { owner: alice() },
        1 => TrainingScope::Private { owner: bob() },
        2 => TrainingScope::Shared,
        _ => TrainingScope::OpenWeight,
    }
}

struct Setup {
    vault: Vault<MemoryFacts, SharedStore>,
    store: SharedStore,
    stored: Vec<Vec<u8>>,
}

/// Seals every record under the consent in force at its collection, as the proxy does.
fn setup(world: &World, records: &[(bool, i64)]) -> Setup {
    let mut policy = Policy::coder_model();
    if world.strict {
        policy = policy.with_consent_mode(ConsentMode::WithdrawalStopsProcessing);
    }
    let mut facts = MemoryFacts::new(&policy);
    facts.relationships.start(alice(), day(0)).unwrap();
    facts.relationships.start(bob(), day(0)).unwrap();
    for (when, level) in &world.changes {
        let change = ConsentChange::new(
            alice(),
            *level,
            day(*when),
            ConsentActor::Customer,
            Channel::AccountSettings,
            policy.version().clone(),
        );
        facts.consent.record(change, day(*when)).unwrap();
    }
    let store = SharedStore::default();
    let clock = ManualClock::new(day(0));
    let trail = AuditTrail::with_clock(
        AuditKey::from_bytes(b"steward test key 17, not secret!").unwrap(),
        store.clone(),
        clock.clone(),
    )
    .unwrap();
    let master = MasterKey::from_bytes(
        "kek-test".parse().unwrap(),
        b"steward test key 42, not secret!",
    )
    .unwrap();
    let vault = Vault::new(policy, facts, Keyring::new(master), trail).unwrap();
    let mut stored = Vec::new();
    for (is_alice, when) in records {
        let owner = if *is_alice { alice() } else { bob() };
        let collected = day(*when);
        let record = vault
            .seal(
                RecordId::generate_at(collected),
                owner,
                collected,
                &when.to_be_bytes(),
            )
            .unwrap();
        stored.push(record.into_bytes());
    }
    if let Some(ended) = world.ended {
        vault
            .update_facts(|facts| facts.relationships.end(alice(), day(ended)))
            .unwrap()
            .unwrap();
    }
    clock.set(day(world.now));
    Setup {
        vault,
        store,
        stored,
    }
}

/// The policy, written plainly: which records (by index) a job at `code` may read.
fn model(world: &World, records: &[(bool, i64)], code: u8) -> Vec<usize> {
    let level_at = |when: i64| {
        world
            .changes
            .iter()
            .rfind(|(day, _)| *day <= when)
            .map_or(TrainingLevel::None, |(_, level)| *level)
    };
    records
        .iter()
        .enumerate()
        .filter(|(_, (is_alice, when))| {
            let owner_level = |t| {
                if *is_alice {
                    level_at(t)
                } else {
                    TrainingLevel::None
                }
            };
            let mut level = owner_level(*when);
            if world.strict {
                level = level.min(owner_level(world.now));
            }
            // Alice's data serves nothing once her relationship ended (logs.retention).
            let serves = !*is_alice || world.ended.is_none_or(|end| *when < end && world.now < end);
            let permitted = match code {
                0 => *is_alice && level >= TrainingLevel::Private,
                1 => !*is_alice && level >= TrainingLevel::Private,
                2 => level >= TrainingLevel::Shared,
                _ => level >= TrainingLevel::OpenWeight,
            };
            serves && permitted
        })
        .map(|(index, _)| index)
        .collect()
}

/// Runs an export over `stored`, returning the bodies (the record indices) it yielded.
fn export(
    vault: &Vault<MemoryFacts, SharedStore>,
    stored: &[Vec<u8>],
    scope: TrainingScope,
) -> (Vec<i64>, ExportOutcome) {
    let mut yielded = Vec::new();
    let outcome = vault
        .export_training(
            scope,
            |_pass| stored.iter().cloned().map(Ok::<_, BoxError>),
            |record| {
                yielded.push(i64::from_be_bytes(record.body().try_into().unwrap()));
                Ok::<_, BoxError>(())
            },
        )
        .unwrap();
    (yielded, outcome)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// For any consent history and any set of records, the export yields exactly what the
    /// naive model allows; a private job never yields another customer's record.
    #[test]
    fn the_export_yields_exactly_what_the_model_allows(
        world in world(),
        records in records(),
        code in 0u8..4,
    ) {
        let setup = setup(&world, &records);
        let (yielded, outcome) = export(&setup.vault, &setup.stored, scope_of(code));
        let expected: Vec<i64> = model(&world, &records, code)
            .into_iter()
            .map(|index| records[index].1)
            .collect();
        prop_assert_eq!(&yielded, &expected);
        prop_assert!(outcome.matches_plan());
        prop_assert_eq!(outcome.counts.seen(), records.len() as u64);
        if let TrainingScope::Private { owner } = scope_of(code) {
            for (index, (is_alice, _)) in records.iter().enumerate() {
                let record_owner = if *is_alice { alice() } else { bob() };
                if record_owner != owner {
                    prop_assert!(!model(&world, &records, code).contains(&index));
                }
            }
        }
    }

    /// A flipped header byte never changes what is yielded: the altered record is never
    /// yielded (it fails to authenticate, or its claim is refused), every other record is
    /// yielded as before.
    #[test]
    fn a_flipped_header_byte_never_changes_what_is_yielded(
        world in world(),
        records in records().prop_filter("one record at least", |r| !r.is_empty()),
        code in 0u8..4,
        which in any::<prop::sample::Index>(),
        offset in 0usize..128,
        flip in 1u8..=255,
    ) {
        let setup = setup(&world, &records);
        let (before, _) = export(&setup.vault, &setup.stored, scope_of(code));
        let victim = which.index(records.len());
        let mut altered = setup.stored.clone();
        altered[victim][offset] ^= flip;
        let (after, outcome) = export(&setup.vault, &altered, scope_of(code));
        // `before` lists the model's records in order: the same list without the victim.
        let mut before_minus_victim = before.clone();
        if let Some(position) = model(&world, &records, code).iter().position(|index| *index == victim) {
            before_minus_victim.remove(position);
        }
        prop_assert_eq!(&after, &before_minus_victim);
        prop_assert_eq!(outcome.counts.seen(), records.len() as u64);
    }
}

#[test]
fn the_job_is_in_the_trail_before_the_first_plaintext_and_its_end_after_the_last() {
    let world = World {
        changes: vec![(0, TrainingLevel::OpenWeight)],
        ended: None,
        now: 250,
        strict: false,
    };
    let records = [(true, 10), (true, 20), (false, 30)];
    let setup = setup(&world, &records);
    let store = setup.store.clone();
    let events = move || -> Vec<AuditEvent> {
        store
            .entries()
            .unwrap()
            .iter()
            .map(|chained| chained.entry().event().clone())
            .collect()
    };
    let mut seen_at_first_yield = None;
    let stored = setup.stored.clone();
    let outcome = setup
        .vault
        .export_training(
            TrainingScope::Shared,
            |_pass| stored.iter().cloned().map(Ok::<_, BoxError>),
            |_record| {
                seen_at_first_yield.get_or_insert_with(&events);
                Ok::<_, BoxError>(())
            },
        )
        .unwrap();
    let at_first = seen_at_first_yield.unwrap();
    let Some(AuditEvent::TrainingExportPlanned(plan)) = at_first.last() else {
        panic!("no plan in the trail at the first yield: {at_first:?}");
    };
    assert_eq!(plan.scope, TrainingScope::Shared);
    assert_eq!(plan.counts.exported, 2);
    assert_eq!(plan.counts.consent, 1);
    assert_eq!(plan.policy_version, *setup.vault.policy().version());
    let after = events();
    assert!(matches!(
        after.last(),
        Some(AuditEvent::TrainingExportFinished { counts, digest, .. })
            if counts.exported == 2 && *digest == plan.digest
    ));
    assert!(outcome.matches_plan());
    setup.vault.audit().unwrap().verify().unwrap();
}

#[test]
fn skipped_records_are_counted_by_reason_and_never_decrypted() {
    let world = World {
        changes: vec![(0, TrainingLevel::OpenWeight)],
        ended: None,
        now: 100,
        strict: false,
    };
    let records = [(true, 10), (true, 20), (false, 30), (true, 40)];
    let mut setup = setup(&world, &records);
    // Record 1 is tampered with in its body; bob's record 2 has no consent; and a hold and
    // an end make alice's records due but held.
    // The body starts after the 128-byte header.
    setup.stored[1][130] ^= 1;
    let (yielded, outcome) = export(&setup.vault, &setup.stored, TrainingScope::Shared);
    assert_eq!(yielded, [10, 40]);
    assert_eq!(outcome.counts.tampered, 1);
    assert_eq!(outcome.counts.consent, 1);
    // The plan counted the tampered record as planned (its claim was fine); the outcome
    // says it did not authenticate, and the digests differ.
    assert_eq!(outcome.plan.counts.exported, 3);
    assert!(!outcome.matches_plan());

    setup
        .vault
        .update_facts(|facts| facts.relationships.end(alice(), day(50)))
        .unwrap()
        .unwrap();
    let hold = LegalHold::place(
        HoldId::new(1),
        HoldScope::Customer { customer: alice() },
        "LEGAL-3 dispute".parse().unwrap(),
        "counsel".parse().unwrap(),
        day(45),
        day(400),
    )
    .unwrap();
    setup
        .vault
        .update_facts(|facts| facts.holds.place(hold))
        .unwrap()
        .unwrap();
    let (yielded, outcome) = export(&setup.vault, &setup.stored, TrainingScope::Shared);
    assert!(yielded.is_empty());
    // All three of alice's records, the tampered one too: the claim is refused before any
    // decryption could find it altered.
    assert_eq!(outcome.counts.legal_hold_only, 3);

    // While the hold stands her keys cannot be shredded; released, they can.
    assert!(setup.vault.shred(alice()).is_err());
    setup
        .vault
        .update_facts(|facts| {
            facts.holds.release(
                HoldId::new(1),
                "counsel".parse().unwrap(),
                Timestamp::now(),
                "LEGAL-3 settled".parse().unwrap(),
            )
        })
        .unwrap()
        .unwrap();
    setup.vault.shred(alice()).unwrap();
    let (_, outcome) = export(&setup.vault, &setup.stored, TrainingScope::Shared);
    assert_eq!(outcome.counts.shredded, 3);
}

/// A training export exports exactly the records its audited plan names: a record that
/// arrived between plan and run is neither exported nor decrypted, and a planned record the
/// run never met is reported, in the outcome, the trail and the manifest.
#[test]
fn an_export_exports_exactly_its_plan_and_reports_planned_records_it_could_not_export() {
    let world = World {
        changes: vec![(0, TrainingLevel::Shared)],
        ended: None,
        now: 100,
        strict: false,
    };
    let setup = setup(&world, &[(true, 10), (true, 20), (true, 30)]);
    let (first, planned_then_gone, arrived_later) =
        (&setup.stored[0], &setup.stored[1], &setup.stored[2]);
    let record_id = |bytes: &Vec<u8>| {
        SealedRecord::from_bytes(bytes)
            .unwrap()
            .header()
            .record_id()
    };
    let mut yielded = Vec::new();
    let mut manifest = TrainingManifest::new(Vec::new());
    let outcome = setup
        .vault
        .export_training(
            TrainingScope::Shared,
            |pass| {
                let records = match pass {
                    ExportPass::Plan => vec![first.clone(), planned_then_gone.clone()],
                    _ => vec![first.clone(), arrived_later.clone()],
                };
                records.into_iter().map(Ok::<_, BoxError>)
            },
            |record| {
                yielded.push(i64::from_be_bytes(record.body().try_into().unwrap()));
                manifest.record(record.header()).map_err(BoxError::from)
            },
        )
        .unwrap();
    assert_eq!(yielded, [10]);
    assert_eq!(outcome.plan.counts.exported, 2);
    assert_eq!(outcome.counts.exported, 1);
    assert_eq!(outcome.counts.not_planned, 1);
    assert_eq!(outcome.counts.missing, 1);
    assert!(!outcome.matches_plan());
    assert_eq!(
        outcome.not_exported,
        [logs::NotExported {
            record: record_id(planned_then_gone),
            reason: SkipReason::Missing,
        }]
    );
    // The trail's end of the job counts them too.
    let entries = setup.store.entries().unwrap();
    assert!(matches!(
        entries.last().unwrap().entry().event(),
        AuditEvent::TrainingExportFinished { counts, .. }
            if counts.missing == 1 && counts.not_planned == 1 && counts.exported == 1
    ));
    setup.vault.audit().unwrap().verify().unwrap();
    // The manifest names the planned record it could not export.
    let text = String::from_utf8(manifest.finish(&outcome).unwrap()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[1]["record"], record_id(planned_then_gone).to_string());
    assert_eq!(lines[1]["not_exported"], "missing");
    assert_eq!(lines[2]["exported"]["missing"], 1);
}

/// A record that cannot be evaluated is left out as such, never as due for retention, in
/// the outcome, the trail and the manifest; so is one whose customer has no relationship.
#[test]
fn records_that_cannot_be_evaluated_are_not_reported_as_retention() {
    let world = World {
        changes: vec![(0, TrainingLevel::Shared)],
        ended: None,
        now: 100,
        strict: false,
    };
    // Collected after the job's instant (day 100): it cannot be placed in time.
    let setup = setup(&world, &[(true, 10), (true, 150)]);
    let (yielded, outcome) = export(&setup.vault, &setup.stored, TrainingScope::Shared);
    assert_eq!(yielded, [10]);
    assert_eq!(outcome.counts.cannot_evaluate, 1);
    assert_eq!(outcome.counts.retention_due, 0);
    assert_eq!(outcome.plan.counts.cannot_evaluate, 1);
    assert_eq!(outcome.plan.counts.retention_due, 0);
    let entries = setup.store.entries().unwrap();
    let planned = entries
        .iter()
        .rev()
        .find_map(|chained| match chained.entry().event() {
            AuditEvent::TrainingExportPlanned(plan) => Some(plan.counts),
            _ => None,
        });
    assert_eq!(planned.map(|counts| counts.cannot_evaluate), Some(1));
    assert_eq!(planned.map(|counts| counts.retention_due), Some(0));
    setup.vault.audit().unwrap().verify().unwrap();
    let text = String::from_utf8(
        TrainingManifest::new(Vec::new())
            .finish(&ExportOutcome {
                digest: logs::RecordDigester::new().finish(),
                ..outcome.clone()
            })
            .unwrap(),
    )
    .unwrap();
    let job: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(job["planned"]["cannot_evaluate"], 1);
    assert_eq!(job["planned"]["retention_due"], 0);

    // A customer with no relationship at all: its own reason, not retention.
    let stranger: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a99".parse().unwrap();
    let collected = day(20);
    let theirs = setup
        .vault
        .seal(
            RecordId::generate_at(collected),
            stranger,
            collected,
            &20_i64.to_be_bytes(),
        )
        .unwrap();
    let (yielded, outcome) = export(
        &setup.vault,
        &[theirs.into_bytes()],
        TrainingScope::OpenWeight,
    );
    assert!(yielded.is_empty());
    assert_eq!(outcome.counts.no_relationship, 1);
    assert_eq!(outcome.counts.retention_due, 0);
}

#[test]
fn the_strict_mode_honours_a_later_downgrade_and_forward_only_does_not() {
    for (strict, expected) in [(false, vec![10]), (true, vec![])] {
        let world = World {
            changes: vec![(0, TrainingLevel::Shared), (50, TrainingLevel::None)],
            ended: None,
            now: 100,
            strict,
        };
        let records = [(true, 10), (true, 60)];
        let setup = setup(&world, &records);
        let (yielded, _) = export(&setup.vault, &setup.stored, TrainingScope::Shared);
        assert_eq!(yielded, expected, "strict: {strict}");
    }
}

#[test]
fn the_manifest_lists_the_exported_records_and_the_job() {
    let world = World {
        changes: vec![(0, TrainingLevel::Shared)],
        ended: None,
        now: 100,
        strict: false,
    };
    let records = [(true, 10), (false, 20), (true, 30)];
    let setup = setup(&world, &records);
    let stored = setup.stored.clone();
    let mut manifest = TrainingManifest::new(Vec::new());
    let outcome = setup
        .vault
        .export_training(
            TrainingScope::Shared,
            |_pass| stored.iter().cloned().map(Ok::<_, BoxError>),
            |record| manifest.record(record.header()).map_err(BoxError::from),
        )
        .unwrap();
    let text = String::from_utf8(manifest.finish(&outcome).unwrap()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["consent_at_collection"], "shared");
    let job = &lines[2];
    assert_eq!(job["format"], MANIFEST_FORMAT);
    assert_eq!(job["policy_version"], "2025-03-05");
    assert_eq!(job["exported_digest"], outcome.digest.to_string());
    assert_eq!(job["matches_plan"], true);
}

#[test]
fn a_failing_sink_stops_the_job_and_its_end_is_still_audited() {
    let world = World {
        changes: vec![(0, TrainingLevel::Shared)],
        ended: None,
        now: 100,
        strict: false,
    };
    let setup = setup(&world, &[(true, 10), (true, 20)]);
    let stored = setup.stored.clone();
    let error = setup
        .vault
        .export_training(
            TrainingScope::Shared,
            |_pass| stored.iter().cloned().map(Ok::<_, BoxError>),
            |_record| Err(BoxError::from("disk full")),
        )
        .unwrap_err();
    // The sink's error is the source, not part of the message.
    assert_eq!(error.to_string(), "training export failed");
    let source = std::error::Error::source(&error).map(ToString::to_string);
    assert_eq!(source.as_deref(), Some("disk full"), "{error}");
    let entries = setup.store.entries().unwrap();
    assert!(matches!(
        entries.last().unwrap().entry().event(),
        AuditEvent::TrainingExportFinished { counts, .. } if counts.exported == 1
    ));
}
