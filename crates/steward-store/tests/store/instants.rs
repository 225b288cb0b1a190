//! Fact instants and decision instants under a clock that jumps forwards and backwards
//! (issue 18 items 3 and 4): every fact change is recorded no earlier than the one before it
//! and takes effect no earlier than it is recorded, and the vault never decides, nor dates an
//! audit entry, before the newest recorded fact.

use proptest::prelude::*;
use steward::{
    Policy,
    consent::{Channel, ConsentActor, ConsentChange},
    logs::{AccessRequest, SealedRecord},
    vocabulary::{CustomerId, ManualClock, Purpose, RecordId, Timestamp, TrainingLevel},
};
use steward_store::{
    Effective, FactLog, SqliteStore, StoreError, StoreVault, open_vault_with_clock,
};

use crate::common::*;

/// One step: the clock moves, or a fact changes, or a steward opens a record.
#[derive(Debug, Clone)]
enum Step {
    /// The clock moves by this many seconds, forwards or backwards.
    Clock(i64),
    Start(u8),
    /// An end at the clock's now plus this many seconds (negative: backdated).
    End(u8, i64),
    EndNow(u8),
    Correct(u8, i64),
    Cancel(u8),
    /// A consent change effective at the clock's now plus this many seconds.
    Consent(u8, TrainingLevel, i64),
    Open(u8),
}

fn step() -> impl Strategy<Value = Step> {
    let who = 0u8..3;
    let level = prop::sample::select(vec![
        TrainingLevel::None,
        TrainingLevel::Private,
        TrainingLevel::Shared,
        TrainingLevel::OpenWeight,
    ]);
    prop_oneof![
        3 => (-3_600i64..3_600).prop_map(Step::Clock),
        2 => who.clone().prop_map(Step::Start),
        2 => (who.clone(), -60i64..600).prop_map(|(who, offset)| Step::End(who, offset)),
        1 => who.clone().prop_map(Step::EndNow),
        1 => (who.clone(), -60i64..600).prop_map(|(who, offset)| Step::Correct(who, offset)),
        1 => who.clone().prop_map(Step::Cancel),
        2 => (who.clone(), level, -5i64..600)
            .prop_map(|(who, level, offset)| Step::Consent(who, level, offset)),
        2 => who.prop_map(Step::Open),
    ]
}

fn plus(base: Timestamp, seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(base.unix_nanos() + seconds * 1_000_000_000)
}

/// The (recorded, effective) instants of every relationship and consent entry of the log,
/// in log order (a cancellation has no effective instant of its own).
fn logged_instants(store: &SqliteStore) -> Vec<(Timestamp, Option<Timestamp>)> {
    store
        .entries_after(0)
        .unwrap()
        .iter()
        .filter_map(|entry| {
            let event: serde_json::Value = serde_json::from_str(entry.event()).unwrap();
            let instant = |path: &str| -> Timestamp {
                event
                    .pointer(path)
                    .and_then(serde_json::Value::as_str)
                    .unwrap()
                    .parse()
                    .unwrap()
            };
            match event
                .pointer("/kind")
                .and_then(serde_json::Value::as_str)
                .unwrap()
            {
                "consent" => Some((
                    instant("/receipt/recorded_at"),
                    Some(instant("/receipt/effective")),
                )),
                "relationship_end_cancelled" => Some((instant("/recorded_at"), None)),
                kind if kind.starts_with("relationship") => {
                    Some((instant("/recorded_at"), Some(instant("/at"))))
                }
                _ => None,
            }
        })
        .collect()
}

/// Applies one step; a refused change writes nothing and is not an error here.
fn apply(
    step: &Step,
    clock: &ManualClock,
    vault: &StoreVault,
    store: &SqliteStore,
    records: &mut Vec<(CustomerId, SealedRecord)>,
) -> Result<(), StoreError> {
    use steward::vocabulary::Clock;
    let now = clock.now();
    let change = |change: &dyn Fn(&mut steward_store::StoreFacts) -> Result<(), StoreError>| {
        vault.update_facts(|facts| change(facts)).unwrap()
    };
    let _accepted_or_refused = match *step {
        Step::Clock(seconds) => {
            clock.set(plus(now, seconds));
            Ok(())
        }
        Step::Start(who) => {
            let started = change(&|facts| facts.start_relationship(customer(who), Effective::Now));
            if started.is_ok() {
                // A record collected as the vault would date it now, within the relationship.
                let collected = vault.decision_instant().unwrap();
                let record = vault
                    .seal(
                        RecordId::generate_at(collected),
                        customer(who),
                        collected,
                        b"a prompt",
                    )
                    .unwrap();
                store
                    .put_record(&record, steward::vocabulary::DataCategory::LlmRequestLog)
                    .unwrap();
                records.push((customer(who), record));
            }
            started
        }
        Step::End(who, offset) => {
            change(&|facts| facts.end_relationship(customer(who), plus(now, offset)))
        }
        Step::EndNow(who) => change(&|facts| facts.end_relationship(customer(who), Effective::Now)),
        Step::Correct(who, offset) => {
            change(&|facts| facts.correct_relationship_end(customer(who), plus(now, offset)))
        }
        Step::Cancel(who) => change(&|facts| facts.cancel_relationship_end(customer(who))),
        Step::Consent(who, level, offset) => change(&|facts| {
            facts
                .record_consent(ConsentChange::new(
                    customer(who),
                    level,
                    plus(now, offset),
                    ConsentActor::Customer,
                    Channel::AccountSettings,
                    Policy::coder_model().version().clone(),
                ))
                .map(|_| ())
        }),
        Step::Open(who) => {
            if let Some((_, record)) = records
                .iter()
                .rev()
                .find(|(owner, _)| *owner == customer(who))
            {
                let newest = vault.facts().unwrap().newest_recorded();
                let request = AccessRequest::with_justification_text(
                    "alice.ops".parse().unwrap(),
                    Purpose::Troubleshooting,
                    "INC-42",
                );
                let _opened_or_denied = vault.open(record, &request);
                let audited = store.audit_entries().unwrap().last().unwrap().entry().at();
                assert!(
                    newest.is_none_or(|newest| audited >= newest),
                    "an open audited at {audited}, before the newest fact {newest:?}"
                );
            }
            Ok(())
        }
    };
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// For any sequence of fact changes and clock readings, forwards and backwards: recorded
    /// instants never decrease, every change takes effect at or after it is recorded, and the
    /// vault's decision instant (and every open's audit entry) never precedes the newest
    /// recorded fact.
    #[test]
    fn fact_instants_never_run_backwards_and_decisions_never_precede_them(
        steps in prop::collection::vec(step(), 1..40),
    ) {
        let dir = TempDir::new("instants");
        let store = SqliteStore::create(dir.db(), &keys()).unwrap();
        let clock = ManualClock::new(Timestamp::now());
        let vault =
            open_vault_with_clock(&store, &keys(), Policy::coder_model(), clock.clone()).unwrap();
        vault.add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap()).unwrap();
        let mut records = Vec::new();
        for step in &steps {
            apply(step, &clock, &vault, &store, &mut records).unwrap();
            let newest = vault.facts().unwrap().newest_recorded();
            let decided = vault.decision_instant().unwrap();
            prop_assert!(newest.is_none_or(|newest| decided >= newest), "{decided} before {newest:?}");
        }
        let logged = logged_instants(&store);
        for pair in logged.windows(2) {
            prop_assert!(pair[0].0 <= pair[1].0, "recorded out of order: {pair:?}");
        }
        for (recorded, effective) in &logged {
            prop_assert!(effective.is_none_or(|effective| effective >= *recorded));
        }
        // The log replays to the facts that wrote it.
        let seen = |facts: &steward_store::StoreFacts| {
            (0..3)
                .map(|who| format!("{:?}", facts.relationships().unwrap().relationships(customer(who))))
                .collect::<Vec<_>>()
        };
        let before = seen(&vault.facts().unwrap());
        drop(vault);
        let reloaded = steward_store::StoreFacts::load(&store, &keys().audit_key().unwrap(), &Policy::coder_model(), None).unwrap();
        prop_assert_eq!(seen(&reloaded), before);
    }
}
