//! The facts: consent, relationships, holds and the roster round trip through the fact log
//! and are rebuilt from it after reopen; what the books refuse writes nothing; several handles
//! share one log.

use steward::{
    CustomerReceipt, Facts as _,
    consent::{Channel, ConsentActor, ConsentChange, InteractiveChange, InteractiveChoice},
    logs::{ChainHash, Denial, LogsError, OpenError},
    retention::{HoldId, HoldScope, LegalHold, Relationship, RetentionError},
    vocabulary::{DataCategory, ManualClock, RecordId, StewardId, Timestamp, TrainingLevel},
};
use steward_store::{DurableFacts, Effective, FactLog, LoggedReceipt, StoreError};

use super::Db;
use crate::{
    backend::{Backend, FactRow, policy, steward_request},
    common::*,
};

/// The facts of a store of this backend.
type Facts = DurableFacts<<Db as Backend>::Store>;

/// `seconds` after `base`.
fn plus(base: Timestamp, seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(base.unix_nanos() + seconds * 1_000_000_000)
}

/// The relationship error a refused fact change carries.
fn retention_error(result: Result<(), StoreError>) -> RetentionError {
    match result {
        Err(StoreError::Retention(error)) => error,
        other => unreachable!("expected a refused relationship change, got {other:?}"),
    }
}

/// The facts a vault would load from `store`, under the test keys and the bundled policy.
fn stored_facts(store: &<Db as Backend>::Store) -> DurableFacts<<Db as Backend>::Store> {
    let checkpoint = store.latest_checkpoint().unwrap();
    DurableFacts::load(
        store,
        &keys().audit_key().unwrap(),
        &policy(),
        checkpoint.as_ref(),
    )
    .unwrap()
}

pub(crate) fn consent_changes_rebuild_the_ledger_after_reopen() {
    let db = Db::fresh("consent");
    let store = db.store();
    let mut facts = stored_facts(&store);
    let now = Timestamp::now();
    let later =
        |seconds: i64| Timestamp::from_unix_nanos(now.unix_nanos() + seconds * 1_000_000_000);
    let changes = [
        (
            customer(1),
            TrainingLevel::Shared,
            later(10),
            ConsentActor::Customer,
            Channel::AccountSettings,
        ),
        (
            customer(2),
            TrainingLevel::Private,
            later(20),
            ConsentActor::Admin {
                admin: "dana.support".parse().unwrap(),
                basis: "TICKET-4711: asked by email".parse().unwrap(),
            },
            Channel::SupportRequest,
        ),
        (
            customer(1),
            TrainingLevel::None,
            later(40),
            ConsentActor::Customer,
            Channel::Api,
        ),
    ];
    let mut receipts = Vec::new();
    for (who, level, effective, actor, channel) in changes {
        let change = ConsentChange::new(
            who,
            level,
            effective,
            actor,
            channel,
            "2025-03-05".parse().unwrap(),
        );
        receipts.push(facts.record_consent(change).unwrap());
    }
    let written = facts.consent().unwrap().to_json().unwrap();
    drop((facts, store));

    let store = db.store();
    assert_eq!(stored_receipts(&store), receipts);
    let reloaded = stored_facts(&store);
    assert_eq!(reloaded.consent().unwrap().to_json().unwrap(), written);
    assert_eq!(
        reloaded.consent().unwrap().level_at(customer(1), later(30)),
        TrainingLevel::Shared
    );
}

pub(crate) fn relationships_round_trip_and_refuse_what_the_book_would() {
    let db = Db::fresh("relationships");
    let store = db.store();
    let mut facts = stored_facts(&store);
    facts.start_relationship(customer(1), ahead(0)).unwrap();
    facts.end_relationship(customer(1), ahead(10)).unwrap();
    facts.start_relationship(customer(1), ahead(20)).unwrap();
    facts.start_relationship(customer(2), ahead(5)).unwrap();
    let before = store.entries_after(0).unwrap().len();
    for (result, reason) in [
        (facts.start_relationship(customer(1), ahead(30)), "overlap"),
        (facts.start_relationship(customer(2), ahead(1)), "overlap"),
        (
            facts.end_relationship(customer(3), ahead(1)),
            "no open relationship",
        ),
        (
            facts.end_relationship(customer(2), ahead(1)),
            "before its start",
        ),
    ] {
        let error = result.unwrap_err();
        assert!(error.to_string().contains(reason), "{error}");
    }
    // A refused change writes no entry.
    assert_eq!(store.entries_after(0).unwrap().len(), before);
    facts.end_relationship(customer(2), ahead(6)).unwrap();
    assert!(facts.start_relationship(customer(2), ahead(5)).is_err());
    // [5, 6) and [6, ..) do not overlap: a customer may come back the instant they left.
    facts.start_relationship(customer(2), ahead(6)).unwrap();
    drop((facts, store));

    let store = db.store();
    let facts = stored_facts(&store);
    let book = facts.relationships().unwrap();
    assert_eq!(
        book.relationships(customer(1)),
        [
            Relationship::start(customer(1), ahead(0))
                .end(ahead(10))
                .unwrap(),
            Relationship::start(customer(1), ahead(20)),
        ]
    );
    assert_eq!(
        book.relationships(customer(2)),
        [
            Relationship::start(customer(2), ahead(5))
                .end(ahead(6))
                .unwrap(),
            Relationship::start(customer(2), ahead(6)),
        ]
    );
}

pub(crate) fn legal_holds_and_their_history_round_trip() {
    let db = Db::fresh("holds");
    let store = db.store();
    let mut facts = stored_facts(&store);
    let counsel: StewardId = "counsel.kim".parse().unwrap();
    let customer_hold = LegalHold::place(
        HoldId::new(7),
        HoldScope::Customer {
            customer: customer(1),
        },
        "CASE-2025-17 litigation hold".parse().unwrap(),
        counsel.clone(),
        at(0),
        at(100),
    )
    .unwrap();
    facts.place_hold(customer_hold.clone()).unwrap();
    facts
        .place_hold(
            LegalHold::place(
                HoldId::new(8),
                HoldScope::Category {
                    customer: customer(2),
                    category: DataCategory::LlmRequestLog,
                },
                "CASE-2025-18".parse().unwrap(),
                counsel.clone(),
                at(1),
                at(50),
            )
            .unwrap(),
        )
        .unwrap();
    facts
        .change_hold_review_date(
            HoldId::new(7),
            counsel.clone(),
            at(2),
            at(200),
            "review: keep".parse().unwrap(),
        )
        .unwrap();
    facts
        .release_hold(
            HoldId::new(8),
            counsel.clone(),
            at(3),
            "case settled".parse().unwrap(),
        )
        .unwrap();
    // What the register refuses is refused, and writes nothing.
    let before = store.entries_after(0).unwrap().len();
    assert!(matches!(
        facts.place_hold(customer_hold),
        Err(StoreError::Retention(_))
    ));
    assert!(matches!(
        facts.release_hold(
            HoldId::new(8),
            counsel.clone(),
            at(4),
            "again".parse().unwrap()
        ),
        Err(StoreError::Retention(_))
    ));
    assert_eq!(store.entries_after(0).unwrap().len(), before);
    let events = facts.holds().unwrap().events().to_vec();
    drop((facts, store));

    let store = db.store();
    let facts = stored_facts(&store);
    let holds = facts.holds().unwrap();
    assert_eq!(holds.events(), events);
    let standing: Vec<_> = holds.holds().cloned().collect();
    assert_eq!(standing.first().unwrap().review_at(), at(200));
    assert_eq!(standing.get(1).unwrap().released_at(), Some(at(3)));
}

pub(crate) fn a_log_written_when_holds_expired_still_loads_and_its_holds_stand_past_the_date() {
    let db = Db::fresh("old-holds");
    {
        let store = db.store();
        let mut facts = stored_facts(&store);
        let counsel: StewardId = "counsel.kim".parse().unwrap();
        facts
            .place_hold(
                LegalHold::place(
                    HoldId::new(7),
                    HoldScope::Customer {
                        customer: customer(1),
                    },
                    "CASE-2025-17".parse().unwrap(),
                    counsel.clone(),
                    at(0),
                    at(100),
                )
                .unwrap(),
            )
            .unwrap();
        facts
            .change_hold_review_date(
                HoldId::new(7),
                counsel,
                at(1),
                at(200),
                "review: keep".parse().unwrap(),
            )
            .unwrap();
    }
    // The log as a build from before holds stood until released wrote it: the date named
    // `expires_at`, a review named `extended`; chained under the audit key, as that build did.
    let key = keys().audit_key().unwrap().fact_log_key();
    let mut previous = ChainHash::GENESIS;
    let rows: Vec<FactRow> = db
        .fact_rows()
        .into_iter()
        .map(|(sequence, text, _)| {
            let old = text
                .replace("\"review_at\"", "\"expires_at\"")
                .replace("\"review-date-changed\"", "\"extended\"");
            let hash = key.chain(u64::try_from(sequence).unwrap(), &previous, old.as_bytes());
            previous = hash;
            (sequence, old, hash.as_bytes().to_vec())
        })
        .collect();
    assert!(
        rows.iter()
            .any(|row| row.1.contains("\"event\":\"extended\""))
    );
    assert!(
        rows.iter()
            .all(|row| !row.1.contains("review_at") && !row.1.contains("review-date"))
    );
    db.rewrite_fact_log(&rows);

    let store = db.store();
    let facts = stored_facts(&store);
    let hold = facts.holds().unwrap().hold(HoldId::new(7)).unwrap();
    assert_eq!(hold.review_at(), at(200));
    // Read as a review date: long past it, the hold still stands.
    assert!(hold.stands_at(at(1_000_000_000)));
    assert!(hold.is_review_due(at(200)));
    drop(facts);
    // And the vault opens on it.
    Db::vault(&store).unwrap();
}

pub(crate) fn the_roster_round_trips_and_a_failed_batch_changes_nothing() {
    let db = Db::fresh("roster");
    let store = db.store();
    let vault = Db::vault(&store).unwrap();
    let alice: StewardId = "alice.ops".parse().unwrap();
    let bob: StewardId = "bob.ops".parse().unwrap();
    let admin: steward_core::AdminId = "dana.admin".parse().unwrap();
    vault.add_steward(bob.clone(), admin.clone()).unwrap();
    vault.add_steward(alice.clone(), admin.clone()).unwrap();
    vault.add_steward(alice.clone(), admin.clone()).unwrap();
    assert!(vault.remove_steward(&bob, admin.clone()).unwrap());
    assert!(!vault.remove_steward(&bob, admin).unwrap());
    // Changes made in one commit are stored together, or not at all.
    let before = store.entries_after(0).unwrap().len();
    let failed = vault
        .update_facts(|facts| {
            facts.in_one_commit(|batch| {
                batch.start_relationship(customer(1), ahead(0))?;
                Err::<(), StoreError>(StoreError::Unsupported { what: "this test" })
            })
        })
        .unwrap();
    assert!(failed.is_err());
    assert_eq!(store.entries_after(0).unwrap().len(), before);
    drop((vault, store));
    let store = db.store();
    let facts = stored_facts(&store);
    assert_eq!(facts.roster().unwrap().iter().collect::<Vec<_>>(), [&alice]);
    assert!(
        facts
            .relationships()
            .unwrap()
            .relationships(customer(1))
            .is_empty()
    );
}

pub(crate) fn fact_writers_in_several_handles_share_one_log() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<<Db as Backend>::Store>();

    let db = Db::fresh("threads");
    let store = db.store();
    std::thread::scope(|scope| {
        for n in 0..4u8 {
            let store = store.clone();
            scope.spawn(move || {
                // Facts of their own on one log: each catches up with the others' entries
                // under the log's lock before it appends.
                let mut facts = stored_facts(&store);
                for i in 0..10u8 {
                    facts
                        .start_relationship(customer(n * 10 + i), ahead(i64::from(i)))
                        .unwrap();
                }
            });
        }
    });
    let facts = stored_facts(&store);
    // Forty relationships, and the one policy adoption the first load wrote.
    assert_eq!(facts.applied(), 41);
    for who in 0..40 {
        assert!(
            facts
                .relationships()
                .unwrap()
                .containing(customer(who), ahead(20))
                .is_some()
        );
    }
}

pub(crate) fn a_refused_fact_change_writes_nothing() {
    let db = Db::fresh("vault-refused");
    let store = db.store();
    let vault = Db::vault(&store).unwrap();
    let ada = customer(1);
    // The vault's load wrote the policy's adoption; nothing after it may be written.
    let adopted = store.entries_after(0).unwrap();
    assert_eq!(adopted.len(), 1);
    let result = vault
        .update_facts(|facts| facts.end_relationship(ada, ahead(0)))
        .unwrap();
    assert!(result.is_err(), "ending a relationship that never started");
    assert_eq!(store.entries_after(0).unwrap(), adopted);
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
    assert_eq!(store.entries_after(0).unwrap(), adopted);
}

pub(crate) fn an_open_after_the_clock_was_set_back_past_an_end_is_decided_after_the_end() {
    let db = Db::fresh("clock-back");
    let store = db.store();
    let t0 = Timestamp::now();
    let clock = ManualClock::new(t0);
    let vault = Db::vault_with_clock(&store, clock.clone()).unwrap();
    vault
        .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
        .unwrap();
    let ada = customer(1);
    vault
        .update_facts(|facts| facts.start_relationship(ada, Effective::Now))
        .unwrap()
        .unwrap();
    let collected = plus(t0, 1);
    let record = Db::seal_stored(
        &store,
        &vault,
        RecordId::generate_at(collected),
        ada,
        collected,
        b"a prompt",
    );
    clock.set(plus(t0, 10));
    vault
        .update_facts(|facts| facts.end_relationship(ada, Effective::Now))
        .unwrap()
        .unwrap();
    let ended = vault
        .facts()
        .unwrap()
        .relationships()
        .unwrap()
        .relationships(ada)
        .first()
        .copied()
        .unwrap()
        .ended_at()
        .unwrap();
    assert_eq!(ended, plus(t0, 10));
    // The system clock is set back a day: the open is still decided after the end.
    clock.set(plus(t0, -86_400));
    let refused = vault.open(&record, &steward_request());
    assert!(
        matches!(
            refused,
            Err(LogsError::Open(OpenError::Denied {
                denial: Denial::RetentionEnded
            }))
        ),
        "{refused:?}"
    );
    let entries = store.audit_entries().unwrap();
    let newest = entries.last().unwrap().entry();
    assert!(newest.access().is_some());
    assert!(
        newest.at() >= ended,
        "audited at {} before the end {ended}",
        newest.at()
    );
    assert!(vault.decision_instant().unwrap() >= ended);
}

pub(crate) fn a_scheduled_end_is_corrected_and_cancelled_as_entries_of_the_log() {
    let db = Db::fresh("scheduled-end");
    let store = db.store();
    let t0 = Timestamp::now();
    let clock = ManualClock::new(t0);
    let vault = Db::vault_with_clock(&store, clock.clone()).unwrap();
    let ada = customer(1);
    let change = |change: &dyn Fn(&mut Facts) -> Result<(), StoreError>| {
        vault.update_facts(|facts| change(facts)).unwrap()
    };
    let newest = || {
        vault
            .facts()
            .unwrap()
            .relationships()
            .unwrap()
            .relationships(ada)
            .first()
            .copied()
            .unwrap()
    };
    change(&|facts| facts.start_relationship(ada, Effective::Now)).unwrap();
    change(&|facts| facts.end_relationship(ada, plus(t0, 100))).unwrap();
    // Scheduled: active until it takes effect, and another end names it.
    assert!(newest().contains(plus(t0, 99)));
    assert!(newest().is_active_at(plus(t0, 99)));
    assert_eq!(
        retention_error(change(&|facts| facts.end_relationship(ada, Effective::Now))),
        RetentionError::EndScheduled {
            ended_at: plus(t0, 100)
        }
    );
    clock.set(plus(t0, 10));
    change(&|facts| facts.correct_relationship_end(ada, plus(t0, 200))).unwrap();
    assert_eq!(newest().ended_at(), Some(plus(t0, 200)));
    clock.set(plus(t0, 20));
    change(&|facts| facts.cancel_relationship_end(ada)).unwrap();
    assert_eq!(newest().ended_at(), None);
    change(&|facts| facts.end_relationship(ada, plus(t0, 30))).unwrap();
    // In force, the end is final.
    clock.set(plus(t0, 30));
    assert_eq!(
        retention_error(change(&|facts| facts.cancel_relationship_end(ada))),
        RetentionError::EndInForce {
            ended_at: plus(t0, 30)
        }
    );
    assert_eq!(
        retention_error(change(
            &|facts| facts.correct_relationship_end(ada, plus(t0, 90))
        )),
        RetentionError::EndInForce {
            ended_at: plus(t0, 30)
        }
    );
    let kinds: Vec<String> = store
        .entries_after(0)
        .unwrap()
        .iter()
        .filter_map(|entry| {
            let event: serde_json::Value = serde_json::from_str(entry.event()).unwrap();
            let kind = event
                .get("kind")
                .and_then(serde_json::Value::as_str)
                .unwrap()
                .to_owned();
            kind.starts_with("relationship").then_some(kind)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "relationship_started",
            "relationship_ended",
            "relationship_end_corrected",
            "relationship_end_cancelled",
            "relationship_ended"
        ]
    );
    let expected = vec![newest()];
    drop(vault);
    // The log replays to the same relationships, ended at the last scheduled end.
    let reloaded = stored_facts(&store);
    assert_eq!(
        reloaded.relationships().unwrap().relationships(ada),
        expected
    );
    assert_eq!(expected.first().unwrap().ended_at(), Some(plus(t0, 30)));
}

pub(crate) fn a_backdated_relationship_change_is_refused_and_writes_nothing() {
    let db = Db::fresh("backdated");
    let store = db.store();
    let t0 = Timestamp::now();
    let clock = ManualClock::new(t0);
    let vault = Db::vault_with_clock(&store, clock.clone()).unwrap();
    let ada = customer(1);
    let before = store.entries_after(0).unwrap();
    let refused = vault
        .update_facts(|facts| facts.start_relationship(ada, plus(t0, -3_600)))
        .unwrap();
    assert!(matches!(
        retention_error(refused),
        RetentionError::Backdated { effective, .. } if effective == plus(t0, -3_600)
    ));
    assert_eq!(store.entries_after(0).unwrap(), before);
    // "Now" read a moment before the store read it counts as now: in force from the
    // recording instant, never before it.
    vault
        .update_facts(|facts| facts.start_relationship(ada, plus(t0, -1)))
        .unwrap()
        .unwrap();
    let started = vault
        .facts()
        .unwrap()
        .relationships()
        .unwrap()
        .relationships(ada)
        .first()
        .copied()
        .unwrap();
    assert_eq!(started.started_at(), t0);
    clock.set(plus(t0, 60));
    let refused = vault
        .update_facts(|facts| facts.end_relationship(ada, plus(t0, 30)))
        .unwrap();
    assert!(matches!(
        retention_error(refused),
        RetentionError::Backdated { .. }
    ));
    assert_eq!(store.entries_after(0).unwrap().len(), before.len() + 1);
}

pub(crate) fn fact_changes_are_recorded_no_earlier_than_the_newest_audit_entry() {
    let db = Db::fresh("after-audit");
    let store = db.store();
    let t0 = Timestamp::now();
    let clock = ManualClock::new(t0);
    let vault = Db::vault_with_clock(&store, clock.clone()).unwrap();
    vault
        .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
        .unwrap();
    let audited = store.audit_entries().unwrap().last().unwrap().entry().at();
    clock.set(plus(t0, -86_400));
    let ada = customer(1);
    vault
        .update_facts(|facts| facts.start_relationship(ada, Effective::Now))
        .unwrap()
        .unwrap();
    let facts = vault.facts().unwrap();
    let started = facts
        .relationships()
        .unwrap()
        .relationships(ada)
        .first()
        .copied()
        .unwrap()
        .started_at();
    assert!(
        started >= audited,
        "recorded at {started}, before {audited}"
    );
    assert!(facts.newest_recorded().unwrap() >= audited);
}

pub(crate) fn a_withdrawal_now_cancels_a_scheduled_opt_in_and_replays_from_the_log() {
    let db = Db::fresh("consent-cancel");
    let store = db.store();
    let t0 = Timestamp::now();
    let clock = ManualClock::new(t0);
    let vault = Db::vault_with_clock(&store, clock.clone()).unwrap();
    let ada = customer(1);
    let change = |level, effective| {
        ConsentChange::new(
            ada,
            level,
            effective,
            ConsentActor::Customer,
            Channel::AccountSettings,
            "2025-03-05".parse().unwrap(),
        )
    };
    let scheduled = vault
        .update_facts(|facts| facts.record_consent(change(TrainingLevel::Shared, plus(t0, 100))))
        .unwrap()
        .unwrap();
    clock.set(plus(t0, 10));
    let withdrawal = vault
        .update_facts(|facts| facts.record_consent(change(TrainingLevel::None, plus(t0, 10))))
        .unwrap()
        .unwrap();
    let history = |facts: &DurableFacts<<Db as Backend>::Store>| -> Vec<_> {
        facts.consent().unwrap().history(ada).collect()
    };
    let before = history(&vault.facts().unwrap());
    assert_eq!(before.len(), 2);
    assert_eq!(before.first().unwrap().receipt, scheduled.receipt);
    assert_eq!(
        before.first().unwrap().cancelled_by,
        Some(withdrawal.receipt)
    );
    assert_eq!(
        vault
            .facts()
            .unwrap()
            .consent()
            .unwrap()
            .level_at(ada, plus(t0, 100)),
        TrainingLevel::None
    );
    drop(vault);
    // Replayed from the log, the cancellation is the same.
    let reloaded = stored_facts(&store);
    assert_eq!(history(&reloaded), before);
    assert_eq!(
        reloaded.consent().unwrap().level_at(ada, plus(t0, 1_000)),
        TrainingLevel::None
    );
}

pub(crate) fn interactive_choices_round_trip_and_decide_use_after_reopen() {
    let db = Db::fresh("interactive");
    let store = db.store();
    let mut facts = stored_facts(&store);
    let now = Timestamp::now();
    let later =
        |seconds: i64| Timestamp::from_unix_nanos(now.unix_nanos() + seconds * 1_000_000_000);
    let choice = |who, choice, effective| {
        InteractiveChange::new(
            who,
            choice,
            effective,
            ConsentActor::Customer,
            Channel::AccountSettings,
            "2025-03-05".parse().unwrap(),
        )
    };
    facts.start_relationship(customer(1), now).unwrap();
    let opt_in = facts
        .record_interactive(choice(customer(1), InteractiveChoice::OptedIn, later(10)))
        .unwrap();
    // Scheduled for later, then cancelled by a withdrawal recorded after it that takes
    // effect sooner.
    let scheduled = facts
        .record_interactive(choice(customer(1), InteractiveChoice::OptedIn, later(100)))
        .unwrap();
    let withdrawal = facts
        .record_interactive(choice(customer(1), InteractiveChoice::OptedOut, later(50)))
        .unwrap();
    assert_eq!(withdrawal.cancels, [scheduled.receipt]);
    // A backdated choice is refused and writes nothing.
    let length = facts.applied();
    let backdated = facts.record_interactive(choice(
        customer(1),
        InteractiveChoice::OptedIn,
        Timestamp::from_unix_nanos(now.unix_nanos() - 3_600 * 1_000_000_000),
    ));
    assert!(
        matches!(backdated, Err(StoreError::Consent(_))),
        "{backdated:?}"
    );
    assert_eq!(facts.applied(), length);
    drop((facts, store));

    let store = db.store();
    let reloaded = stored_facts(&store);
    let history = reloaded.interactive().unwrap().history(customer(1));
    let receipts: Vec<_> = history.iter().map(|entry| entry.receipt.clone()).collect();
    assert_eq!(receipts, [opt_in, scheduled.clone(), withdrawal.clone()]);
    assert_eq!(
        history.get(1).unwrap().cancelled_by,
        Some(withdrawal.receipt)
    );
    // check() reads the choice in force at the request instant, from the rebuilt facts.
    let policy = policy();
    let email = steward::DataRef::new(DataCategory::Email, customer(1), later(1));
    let decide = |when| {
        policy.check(
            &steward::Request::use_data(
                steward::vocabulary::Purpose::InteractiveFeatures,
                email,
                when,
            ),
            &reloaded,
        )
    };
    assert!(!decide(later(5)).is_allowed());
    assert!(decide(later(20)).is_allowed(), "{}", decide(later(20)));
    let withdrawn = decide(later(200));
    assert_eq!(
        withdrawn.reason(),
        Some(steward::DenyReason::InteractiveNotOptedIn)
    );
    assert_eq!(
        reloaded.interactive_choice_at(customer(2), later(20)),
        InteractiveChoice::OptedOut
    );
}

/// Consent receipts outlive the relationship as proof for the policy's proof period (1095
/// days bundled), and a hold keeps them past it; then deleting them is an entry of the fact
/// log, at the clock's now, and the facts rebuilt from the log hold none of them.
pub(crate) fn consent_receipts_are_deleted_after_the_proof_period_as_a_fact_log_entry() {
    use steward_store::ReceiptDisposition;

    let db = Db::fresh("receipts-proof");
    let store = db.store();
    let t0 = Timestamp::now();
    let clock = ManualClock::new(t0);
    let vault = Db::vault_with_clock(&store, clock.clone()).unwrap();
    let policy = policy();
    let (ada, ben) = (customer(1), customer(2));
    let day = 86_400;
    vault
        .update_facts(|facts| {
            facts.start_relationship(ada, t0)?;
            facts.start_relationship(ben, t0)?;
            for who in [ada, ben] {
                facts.record_consent(ConsentChange::new(
                    who,
                    TrainingLevel::Shared,
                    t0,
                    ConsentActor::Customer,
                    Channel::AccountSettings,
                    "2025-03-05".parse().unwrap(),
                ))?;
            }
            facts.record_interactive(InteractiveChange::new(
                ada,
                InteractiveChoice::OptedIn,
                t0,
                ConsentActor::Customer,
                Channel::AccountSettings,
                "2025-03-05".parse().unwrap(),
            ))?;
            Ok::<_, StoreError>(())
        })
        .unwrap()
        .unwrap();
    let delete = |who| {
        vault
            .update_facts(|facts| facts.delete_due_consent_receipts(who, &policy))
            .unwrap()
            .unwrap()
    };
    // Both of ada's receipts are issued from the log, in its order, each as its kind.
    let key = keys().audit_key().unwrap().fact_log_key();
    let issued = steward_store::receipts_logged(&store, &key, ada).unwrap();
    assert!(
        matches!(
            issued.as_slice(),
            [
                LoggedReceipt { receipt: CustomerReceipt::Consent(_), entry: first, .. },
                LoggedReceipt { receipt: CustomerReceipt::Interactive(_), entry: second, .. },
            ] if first < second
        ),
        "{issued:?}"
    );
    // While the relationship lasts the receipts decide: nothing to delete.
    assert_eq!(delete(ada), ReceiptDisposition::InUse);
    clock.set(plus(t0, 10));
    let end = plus(t0, 10);
    vault
        .update_facts(|facts| {
            facts.end_relationship(ada, end)?;
            facts.end_relationship(ben, end)
        })
        .unwrap()
        .unwrap();
    // Ben's consent records are under a hold: kept past the proof period.
    let counsel: StewardId = "counsel.one".parse().unwrap();
    vault
        .update_facts(|facts| {
            facts.place_hold(
                LegalHold::place(
                    HoldId::new(3),
                    HoldScope::Category {
                        customer: ben,
                        category: DataCategory::ConsentRecord,
                    },
                    "CASE-2028-4 consent dispute".parse().unwrap(),
                    counsel.clone(),
                    end,
                    plus(end, 1_200 * day),
                )
                .unwrap(),
            )
        })
        .unwrap()
        .unwrap();
    let due = plus(end, 1_095 * day);
    clock.set(plus(due, -1));
    let length = store.entries_after(0).unwrap().len();
    assert_eq!(delete(ada), ReceiptDisposition::KeptAsProof { due });
    // A plan may look ahead; deletion happens only at now.
    assert_eq!(
        vault
            .facts()
            .unwrap()
            .receipt_disposition(ada, &policy, due)
            .unwrap(),
        ReceiptDisposition::Due { since: due }
    );
    assert_eq!(store.entries_after(0).unwrap().len(), length);
    clock.set(due);
    assert_eq!(
        delete(ben),
        ReceiptDisposition::Held {
            hold: HoldId::new(3)
        }
    );
    assert_eq!(delete(ada), ReceiptDisposition::Due { since: due });
    {
        let facts = vault.facts().unwrap();
        assert_eq!(facts.consent().unwrap().history(ada).count(), 0);
        assert!(facts.interactive().unwrap().history(ada).is_empty());
        assert_eq!(facts.consent().unwrap().history(ben).count(), 1);
        assert_eq!(
            facts.consent().unwrap().level_at(ada, plus(t0, 5)),
            TrainingLevel::None
        );
    }
    // Once gone, gone: a second sweep finds nothing, and writes nothing.
    let length = store.entries_after(0).unwrap().len();
    assert_eq!(delete(ada), ReceiptDisposition::NoReceipts);
    assert_eq!(store.entries_after(0).unwrap().len(), length);
    drop(vault);
    // The deletion is an entry of the log: replayed, the facts hold no receipt of ada's.
    let deleted = store
        .entries_after(0)
        .unwrap()
        .iter()
        .filter(|entry| entry.event().contains("consent_receipts_deleted"))
        .count();
    assert_eq!(deleted, 1);
    let reloaded = stored_facts(&store);
    assert_eq!(reloaded.consent().unwrap().history(ada).count(), 0);
    assert!(reloaded.interactive().unwrap().history(ada).is_empty());
    assert_eq!(reloaded.consent().unwrap().history(ben).count(), 1);
    assert!(reloaded.newest_recorded() >= Some(due));
    // Nor are they issued to anyone any more; ben's still are.
    assert!(
        steward_store::receipts_logged(&store, &key, ada)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        steward_store::receipts_logged(&store, &key, ben)
            .unwrap()
            .len(),
        1
    );
}
