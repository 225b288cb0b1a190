//! Worked scenarios: returning customers, zero windows, overflow, clocks going backwards,
//! records outside relationships, minimums, and what a dry run prints.

// The helpers below unwrap fixed, valid literals; marking the file test-only lets clippy's
// allow-unwrap-in-tests cover them as it covers the test functions.
#![cfg(test)]

use std::{convert::Infallible, fmt};

use chrono::TimeDelta;
use steward_core::{ClauseId, CustomerId, DataCategory, ManualClock, RecordId, Timestamp};
use steward_retention::{
    Anchor, DeletionMethod, DeletionWindow, Disposition, DueReason, HoldId, HoldRegister,
    HoldScope, KeepReason, LegalHold, MemoryKeyShredder, MemoryRecordStore, NoHolds, RecordMeta,
    RecordStore, Relationship, RelationshipBook, Removal, RetentionError, RetentionPeriod,
    RetentionRule, RetentionSchedule, Sweep, Target, WithholdReason, disposition,
};

fn customer(n: u8) -> CustomerId {
    format!("0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a{n:02}")
        .parse()
        .unwrap()
}

fn t(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn log(customer: CustomerId, collected: &str) -> RecordMeta {
    let collected = t(collected);
    RecordMeta::new(
        RecordId::generate_at(collected),
        customer,
        DataCategory::LlmRequestLog,
        collected,
    )
}

fn thirty_days() -> RetentionSchedule {
    RetentionSchedule::bundled(DeletionWindow::from_days(30).unwrap())
}

fn keys_for(customers: &[CustomerId]) -> MemoryKeyShredder {
    let mut keys = MemoryKeyShredder::new();
    customers.iter().for_each(|c| keys.add_customer(*c));
    keys
}

#[test]
fn returning_customer_keeps_new_data_while_old_data_stays_due() {
    let alice = customer(1);
    let mut book = RelationshipBook::new();
    book.start(alice, t("2025-01-01T00:00:00Z")).unwrap();
    book.end(alice, t("2025-03-01T00:00:00Z")).unwrap();
    book.start(alice, t("2025-03-10T00:00:00Z")).unwrap();
    let old = log(alice, "2025-02-01T00:00:00Z");
    let new = log(alice, "2025-03-11T00:00:00Z");
    let schedule = thirty_days();
    let now = t("2025-03-12T00:00:00Z");

    let old_disposition = schedule.disposition_in(&book, &NoHolds, &old, now).unwrap();
    assert_eq!(
        old_disposition,
        Disposition::DeleteBy {
            deadline: t("2025-03-31T00:00:00Z"),
            method: DeletionMethod::CryptoShred,
            reason: DueReason::MaximumPassed,
            clause: ClauseId::LogsRetention,
        }
    );
    let new_disposition = schedule.disposition_in(&book, &NoHolds, &new, now).unwrap();
    assert!(matches!(
        new_disposition,
        Disposition::Keep {
            reason: KeepReason::RelationshipActive,
            until: None,
            ..
        }
    ));

    // The sweep deletes the old record but must not shred: the keys also protect new data.
    let mut store: MemoryRecordStore = [old, new].into_iter().collect();
    let mut keys = keys_for(&[alice]);
    let sweep = Sweep::new(&schedule, &book, &NoHolds);
    let plan = sweep.plan(store.records(), now);
    assert_eq!(plan.shreds().count(), 0);
    let report = sweep.execute(&plan, &mut store, &mut keys, &ManualClock::new(now));
    assert_eq!(report.deleted(), &[old.id()]);
    assert!(store.contains(new.id()));
    assert!(keys.has_keys(alice));
}

#[test]
fn zero_window_makes_data_overdue_at_the_end_instant() {
    let bob = customer(2);
    let relationship = Relationship::start(bob, t("2025-01-01T00:00:00Z"))
        .end(t("2025-02-01T00:00:00Z"))
        .unwrap();
    let record = log(bob, "2025-01-15T00:00:00Z");
    let rule = RetentionRule::logs(DeletionWindow::ZERO);
    let just_before = disposition(
        &rule,
        &record,
        Some(&relationship),
        &NoHolds,
        t("2025-01-31T23:59:59.999999999Z"),
    )
    .unwrap();
    assert!(!just_before.is_due());
    let at_end = disposition(
        &rule,
        &record,
        Some(&relationship),
        &NoHolds,
        t("2025-02-01T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        at_end,
        Disposition::DeleteNow {
            overdue_since: Some(t("2025-02-01T00:00:00Z")),
            method: DeletionMethod::CryptoShred,
            reason: DueReason::MaximumPassed,
            clause: ClauseId::LogsRetention,
        }
    );
}

#[test]
fn deadline_is_exclusive_at_end_plus_window() {
    let bob = customer(2);
    let relationship = Relationship::start(bob, t("2025-01-01T00:00:00Z"))
        .end(t("2025-02-01T00:00:00Z"))
        .unwrap();
    let record = log(bob, "2025-01-15T00:00:00Z");
    let rule = RetentionRule::logs(DeletionWindow::from_days(30).unwrap());
    let decide = |now| disposition(&rule, &record, Some(&relationship), &NoHolds, t(now)).unwrap();
    assert!(matches!(
        decide("2025-03-02T23:59:59Z"),
        Disposition::DeleteBy { .. }
    ));
    assert!(matches!(
        decide("2025-03-03T00:00:00Z"),
        Disposition::DeleteNow { .. }
    ));
}

#[test]
fn overflowing_deadline_is_a_typed_error_and_nothing_is_deleted() {
    let carol = customer(3);
    let max = Timestamp::MAX;
    let end = max.checked_add(TimeDelta::days(-1)).unwrap();
    let start = max.checked_add(TimeDelta::days(-10)).unwrap();
    let mut book = RelationshipBook::new();
    book.insert(Relationship::start(carol, start).end(end).unwrap())
        .unwrap();
    let collected = max.checked_add(TimeDelta::days(-5)).unwrap();
    let record = RecordMeta::new(
        RecordId::generate(),
        carol,
        DataCategory::LlmRequestLog,
        collected,
    );
    let schedule = RetentionSchedule::bundled(DeletionWindow::from_days(30).unwrap());
    let now = max.checked_add(TimeDelta::hours(-1)).unwrap();
    let error = schedule
        .disposition_in(&book, &NoHolds, &record, now)
        .unwrap_err();
    assert_eq!(
        error,
        RetentionError::InstantOutOfRange {
            what: "the deletion deadline"
        }
    );

    let mut store: MemoryRecordStore = [record].into_iter().collect();
    let mut keys = keys_for(&[carol]);
    let sweep = Sweep::new(&schedule, &book, &NoHolds);
    let plan = sweep.plan(store.records(), now);
    assert_eq!(plan.skipped().len(), 1);
    assert_eq!(plan.deletions().count(), 0);
    assert_eq!(
        plan.shreds().count(),
        0,
        "a customer with undecided data is not shredded"
    );
    sweep.execute(&plan, &mut store, &mut keys, &ManualClock::new(now));
    assert!(store.contains(record.id()));
    assert!(keys.has_keys(carol));
}

// Changed with issue 18: an execution before the plan's instant used to be refused as a
// clock error; execution now always runs at the clock's instant and deletes what is due then.
#[test]
fn a_plan_for_a_later_instant_executes_at_now_and_deletes_nothing_not_yet_due() {
    let dan = customer(4);
    let mut book = RelationshipBook::new();
    book.start(dan, t("2025-01-01T00:00:00Z")).unwrap();
    book.end(dan, t("2025-02-01T00:00:00Z")).unwrap();
    let record = log(dan, "2025-01-15T00:00:00Z");
    let mut store: MemoryRecordStore = [record].into_iter().collect();
    let mut keys = keys_for(&[dan]);
    let schedule = thirty_days();
    let sweep = Sweep::new(&schedule, &book, &NoHolds);
    // Looking ahead to June: the record is due then and the keys would go.
    let plan = sweep.plan(store.records(), t("2025-06-01T00:00:00Z"));
    assert_eq!(plan.deletions().count(), 1);
    assert_eq!(plan.shreds().count(), 1);
    // Executed while the relationship still lasts: nothing goes, and the report says why.
    let clock = ManualClock::new(t("2025-01-20T00:00:00Z"));
    let report = sweep.execute(&plan, &mut store, &mut keys, &clock);
    assert_eq!(report.executed_at(), t("2025-01-20T00:00:00Z"));
    assert!(report.deleted().is_empty());
    assert!(matches!(
        report.now_kept(),
        [(id, Disposition::Keep { reason: KeepReason::RelationshipActive, .. })] if *id == record.id()
    ));
    assert_eq!(report.shreds_withheld().len(), 1);
    assert_eq!(report.shreds_withheld()[0].reason(), WithholdReason::NotDue);
    assert!(store.contains(record.id()));
    assert!(keys.has_keys(dan));
    // The same plan, once its instant has come, carries out.
    clock.set(t("2025-06-01T00:00:00Z"));
    let report = sweep.execute(&plan, &mut store, &mut keys, &clock);
    assert_eq!(report.deleted(), &[record.id()]);
    assert_eq!(report.shredded(), &[dan]);
}

#[test]
fn a_hold_of_any_scope_withholds_the_shred_and_the_plan_and_report_name_it() {
    let lea = customer(14);
    let mut book = RelationshipBook::new();
    book.start(lea, t("2025-01-01T00:00:00Z")).unwrap();
    book.end(lea, t("2025-02-01T00:00:00Z")).unwrap();
    let record = log(lea, "2025-01-10T00:00:00Z");
    let mut register = HoldRegister::new();
    // A hold on another category of hers (email): it covers no log, yet a shred would make
    // every record of hers unreadable.
    register
        .place(
            LegalHold::place(
                HoldId::new(3),
                HoldScope::Category {
                    customer: lea,
                    category: DataCategory::Email,
                },
                "CASE-12 email discovery".parse().unwrap(),
                "counsel.kim".parse().unwrap(),
                t("2025-01-20T00:00:00Z"),
                t("2025-02-20T00:00:00Z"),
            )
            .unwrap(),
        )
        .unwrap();
    let schedule = thirty_days();
    let now = t("2025-06-01T00:00:00Z");
    let sweep = Sweep::new(&schedule, &book, &register);
    assert_eq!(sweep.shred_held_by(lea, now), Some(HoldId::new(3)));
    assert!(sweep.may_shred(lea, now).is_none());
    let mut store: MemoryRecordStore = [record].into_iter().collect();
    let plan = sweep.plan(store.records(), now);
    // The log itself is not covered: it is deleted; the keys stay, and the plan says why.
    assert_eq!(plan.deletions().count(), 1);
    assert_eq!(plan.shreds().count(), 0);
    assert_eq!(plan.withheld_shreds().len(), 1);
    assert_eq!(plan.withheld_shreds()[0].hold(), Some(HoldId::new(3)));
    // Past its review date the hold stands and is due for review.
    let due: Vec<HoldId> = plan.reviews_due().map(|due| due.hold()).collect();
    assert_eq!(due, [HoldId::new(3)]);
    let printed = plan.to_string();
    assert!(
        printed.contains("key shred withheld: legal hold hold-3 stands"),
        "{printed}"
    );
    assert!(
        printed.contains("hold-3 of customer 0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a14 stands, review due since 2025-02-20T00:00:00Z"),
        "{printed}"
    );
    let mut keys = keys_for(&[lea]);
    let report = sweep.execute(&plan, &mut store, &mut keys, &ManualClock::new(now));
    assert_eq!(report.deleted(), &[record.id()]);
    assert!(keys.has_keys(lea));
}

#[test]
fn a_shred_planned_before_a_hold_is_withheld_naming_the_hold() {
    let max = customer(15);
    let mut book = RelationshipBook::new();
    book.start(max, t("2025-01-01T00:00:00Z")).unwrap();
    book.end(max, t("2025-02-01T00:00:00Z")).unwrap();
    let schedule = thirty_days();
    let now = t("2025-06-01T00:00:00Z");
    let mut register = HoldRegister::new();
    let plan = Sweep::new(&schedule, &book, &register).plan([], now);
    assert_eq!(plan.shreds().count(), 1);
    register
        .place(
            LegalHold::place(
                HoldId::new(8),
                HoldScope::Record {
                    customer: max,
                    record: RecordId::generate_at(t("2025-01-05T00:00:00Z")),
                },
                "CASE-13 one request".parse().unwrap(),
                "counsel.kim".parse().unwrap(),
                now,
                t("2025-07-01T00:00:00Z"),
            )
            .unwrap(),
        )
        .unwrap();
    let mut keys = keys_for(&[max]);
    let report = Sweep::new(&schedule, &book, &register).execute(
        &plan,
        &mut MemoryRecordStore::new(),
        &mut keys,
        &ManualClock::new(now),
    );
    assert!(report.shredded().is_empty());
    assert_eq!(report.shreds_withheld().len(), 1);
    assert_eq!(
        report.shreds_withheld()[0].reason(),
        WithholdReason::Hold(HoldId::new(8))
    );
    assert!(keys.has_keys(max));
}

#[test]
fn record_outside_every_relationship_is_due_now_but_unknown_customer_is_an_error() {
    let erin = customer(5);
    let stranger = customer(6);
    let mut book = RelationshipBook::new();
    book.start(erin, t("2025-01-01T00:00:00Z")).unwrap();
    book.end(erin, t("2025-02-01T00:00:00Z")).unwrap();
    book.start(erin, t("2025-04-01T00:00:00Z")).unwrap();
    let in_gap = log(erin, "2025-03-01T00:00:00Z");
    let unknown = log(stranger, "2025-03-01T00:00:00Z");
    let schedule = thirty_days();
    let now = t("2025-04-02T00:00:00Z");
    assert_eq!(
        schedule.disposition_in(&book, &NoHolds, &in_gap, now),
        Ok(Disposition::DeleteNow {
            overdue_since: None,
            method: DeletionMethod::CryptoShred,
            reason: DueReason::OutsideRelationship,
            clause: ClauseId::LogsRetention,
        })
    );
    assert_eq!(
        schedule.disposition_in(&book, &NoHolds, &unknown, now),
        Err(RetentionError::UnknownCustomer)
    );
    let mut store: MemoryRecordStore = [in_gap, unknown].into_iter().collect();
    let sweep = Sweep::new(&schedule, &book, &NoHolds);
    let plan = sweep.plan(store.records(), now);
    sweep.execute(
        &plan,
        &mut store,
        &mut MemoryKeyShredder::new(),
        &ManualClock::new(now),
    );
    assert!(!store.contains(in_gap.id()));
    assert!(store.contains(unknown.id()), "an error never deletes");
}

#[test]
fn a_relationship_that_does_not_contain_the_record_is_rejected() {
    let frank = customer(7);
    let relationship = Relationship::start(frank, t("2025-01-01T00:00:00Z"))
        .end(t("2025-02-01T00:00:00Z"))
        .unwrap();
    let later = log(frank, "2025-02-01T00:00:00Z");
    let rule = RetentionRule::logs(DeletionWindow::ZERO);
    let now = t("2025-06-01T00:00:00Z");
    assert_eq!(
        disposition(&rule, &later, Some(&relationship), &NoHolds, now),
        Err(RetentionError::RelationshipMismatch {
            collected_at: t("2025-02-01T00:00:00Z")
        })
    );
    let other = log(customer(8), "2025-01-15T00:00:00Z");
    assert!(disposition(&rule, &other, Some(&relationship), &NoHolds, now).is_err());
}

#[test]
fn a_scheduled_end_keeps_data_until_it_passes() {
    let gina = customer(9);
    let relationship = Relationship::start(gina, t("2025-01-01T00:00:00Z"))
        .end(t("2025-12-31T00:00:00Z"))
        .unwrap();
    let record = log(gina, "2025-02-01T00:00:00Z");
    let rule = RetentionRule::logs(DeletionWindow::from_days(30).unwrap());
    let now = t("2025-06-01T00:00:00Z");
    assert_eq!(
        disposition(&rule, &record, Some(&relationship), &NoHolds, now),
        Ok(Disposition::Keep {
            until: Some(t("2025-12-31T00:00:00Z")),
            reason: KeepReason::RelationshipActive,
            clause: ClauseId::LogsRetention,
        })
    );
}

#[test]
fn a_minimum_beats_a_shorter_maximum_and_then_the_window_runs() {
    let hank = customer(10);
    let relationship = Relationship::start(hank, t("2025-01-01T00:00:00Z"))
        .end(t("2025-02-01T00:00:00Z"))
        .unwrap();
    let collected = t("2025-01-10T00:00:00Z");
    let consent = RecordMeta::new(
        RecordId::generate_at(collected),
        hank,
        DataCategory::ConsentRecord,
        collected,
    );
    let rule = RetentionRule::new(
        Anchor::RelationshipEnd,
        RetentionPeriod::ZERO,
        DeletionWindow::from_days(10).unwrap(),
        DeletionMethod::Delete,
        ClauseId::PolicyVersioned,
    )
    .unwrap()
    .with_minimum(RetentionPeriod::from_days(365).unwrap());
    let decide = |now| disposition(&rule, &consent, Some(&relationship), &NoHolds, t(now));
    assert_eq!(
        decide("2025-06-01T00:00:00Z"),
        Ok(Disposition::Keep {
            until: Some(t("2026-02-01T00:00:00Z")),
            reason: KeepReason::Minimum,
            clause: ClauseId::PolicyVersioned,
        })
    );
    assert_eq!(
        decide("2026-02-01T00:00:00Z"),
        Ok(Disposition::DeleteBy {
            deadline: t("2026-02-11T00:00:00Z"),
            method: DeletionMethod::Delete,
            reason: DueReason::MaximumPassed,
            clause: ClauseId::PolicyVersioned,
        })
    );
}

#[test]
fn a_hold_keeps_only_what_it_covers_and_stops_when_released() {
    let ivy = customer(11);
    let mut book = RelationshipBook::new();
    book.start(ivy, t("2025-01-01T00:00:00Z")).unwrap();
    book.end(ivy, t("2025-02-01T00:00:00Z")).unwrap();
    let held = log(ivy, "2025-01-10T00:00:00Z");
    let free = log(ivy, "2025-01-11T00:00:00Z");
    let mut register = HoldRegister::new();
    register
        .place(
            LegalHold::place(
                HoldId::new(1),
                HoldScope::Record {
                    customer: ivy,
                    record: held.id(),
                },
                "CASE-9 discovery request".parse().unwrap(),
                "counsel.kim".parse().unwrap(),
                t("2025-01-20T00:00:00Z"),
                t("2025-09-01T00:00:00Z"),
            )
            .unwrap(),
        )
        .unwrap();
    let schedule = thirty_days();
    let now = t("2025-04-01T00:00:00Z");
    let kept = schedule
        .disposition_in(&book, &register, &held, now)
        .unwrap();
    assert_eq!(kept.held_by(), Some(HoldId::new(1)));
    assert_eq!(
        kept,
        // A hold stands until released, past its review date too: nothing bounds the keep.
        Disposition::Keep {
            until: None,
            reason: KeepReason::Hold(HoldId::new(1)),
            clause: ClauseId::LogsRetention,
        }
    );
    assert!(
        schedule
            .disposition_in(&book, &register, &free, now)
            .unwrap()
            .is_due()
    );

    // A held record blocks the customer's key shred.
    let sweep = Sweep::new(&schedule, &book, &register);
    assert!(sweep.may_shred(ivy, now).is_none());

    register
        .release(
            HoldId::new(1),
            "counsel.kim".parse().unwrap(),
            t("2025-05-01T00:00:00Z"),
            "case closed".parse().unwrap(),
        )
        .unwrap();
    let later = t("2025-05-01T00:00:00Z");
    let released = schedule
        .disposition_in(&book, &register, &held, later)
        .unwrap();
    assert!(matches!(released, Disposition::DeleteNow { .. }));
    assert!(
        Sweep::new(&schedule, &book, &register)
            .may_shred(ivy, later)
            .is_some()
    );
}

#[test]
fn dry_run_prints_deadlines_clauses_and_shreds() {
    let jack = customer(12);
    let mut book = RelationshipBook::new();
    book.start(jack, t("2025-01-01T00:00:00Z")).unwrap();
    book.end(jack, t("2025-02-01T00:00:00Z")).unwrap();
    let record = log(jack, "2025-01-10T00:00:00Z");
    let schedule = thirty_days();
    let plan = Sweep::new(&schedule, &book, &NoHolds).plan([record], t("2025-02-10T00:00:00Z"));
    let printed = plan.to_string();
    assert!(printed.starts_with(
        "retention sweep plan at 2025-02-10T00:00:00Z: 1 record evaluated, 1 to delete, 0 kept \
         (0 by legal hold), 0 skipped on error, 1 key shred"
    ));
    assert!(printed.contains(&format!(
        "  delete {} (llm-request-log, collected 2025-01-10T00:00:00Z): due, deadline \
         2025-03-03T00:00:00Z [logs.retention]",
        record.id()
    )));
    assert!(
        printed.contains("  shred keys: relationship ended 2025-02-01T00:00:00Z [logs.retention]")
    );
}

/// A store that refuses one record.
struct Flaky {
    inner: MemoryRecordStore,
    refuse: RecordId,
}

#[derive(Debug)]
struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("store refused the deletion")
    }
}

impl std::error::Error for Refused {}

impl RecordStore for Flaky {
    type Error = Refused;

    fn delete(&mut self, record: RecordId) -> Result<Removal, Refused> {
        if record == self.refuse {
            return Err(Refused);
        }
        self.inner
            .delete(record)
            .map_err(|never: Infallible| match never {})
    }
}

/// A store whose batches fail as a whole (a transaction that does not commit), counting them.
struct BatchesFail {
    inner: Flaky,
    batches: usize,
}

impl RecordStore for BatchesFail {
    type Error = Refused;

    fn delete(&mut self, record: RecordId) -> Result<Removal, Refused> {
        self.inner.delete(record)
    }

    fn delete_batch(
        &mut self,
        _records: &[RecordId],
    ) -> Result<Vec<Result<Removal, Refused>>, Refused> {
        self.batches += 1;
        Err(Refused)
    }
}

#[test]
fn a_batch_that_fails_as_a_whole_is_deleted_record_by_record() {
    let kim = customer(14);
    let mut book = RelationshipBook::new();
    book.start(kim, t("2025-01-01T00:00:00Z")).unwrap();
    book.end(kim, t("2025-02-01T00:00:00Z")).unwrap();
    let records: Vec<RecordMeta> = (10..15)
        .map(|day| log(kim, &format!("2025-01-{day}T00:00:00Z")))
        .collect();
    let refused = records[2].id();
    let mut store = BatchesFail {
        inner: Flaky {
            inner: records.iter().copied().collect(),
            refuse: refused,
        },
        batches: 0,
    };
    let schedule = thirty_days();
    let sweep = Sweep::new(&schedule, &book, &NoHolds);
    let now = t("2025-03-01T00:00:00Z");
    let plan = sweep.plan(store.inner.inner.records(), now);
    let mut keys = keys_for(&[kim]);
    let report = sweep.execute(&plan, &mut store, &mut keys, &ManualClock::new(now));
    assert_eq!(store.batches, 1);
    // Each record's own outcome: four deleted, the one the store refuses reported as such.
    assert_eq!(report.deleted().len(), 4);
    assert!(!report.deleted().contains(&refused));
    assert_eq!(report.failures().len(), 1);
    assert_eq!(report.failures()[0].target(), Target::Record(refused));
    assert_eq!(store.inner.inner.len(), 1);
}

#[test]
fn a_failing_deletion_is_reported_and_the_sweep_goes_on() {
    let kim = customer(13);
    let mut book = RelationshipBook::new();
    book.start(kim, t("2025-01-01T00:00:00Z")).unwrap();
    book.end(kim, t("2025-02-01T00:00:00Z")).unwrap();
    let first = log(kim, "2025-01-10T00:00:00Z");
    let second = log(kim, "2025-01-11T00:00:00Z");
    let mut store = Flaky {
        inner: [first, second].into_iter().collect(),
        refuse: first.id(),
    };
    let schedule = thirty_days();
    let sweep = Sweep::new(&schedule, &book, &NoHolds);
    let now = t("2025-03-01T00:00:00Z");
    let plan = sweep.plan(store.inner.records(), now);
    let mut keys = keys_for(&[kim]);
    let report = sweep.execute(&plan, &mut store, &mut keys, &ManualClock::new(now));
    assert_eq!(report.deleted(), &[second.id()]);
    assert_eq!(report.failures().len(), 1);
    assert_eq!(report.failures()[0].target(), Target::Record(first.id()));
    assert_eq!(
        report.failures()[0].error().to_string(),
        "store refused the deletion"
    );
    // The keys still go: shredding makes the record that could not be deleted unreadable.
    assert_eq!(report.shredded(), &[kim]);
}

#[test]
fn a_log_after_the_last_relationship_deletes_itself_but_shreds_no_keys() {
    // The customer came back, but their new relationship has not reached the book yet: the
    // fresh log proves they are active again, so their keys must survive this sweep.
    let dana = customer(4);
    let mut book = RelationshipBook::new();
    book.start(dana, t("2025-01-01T00:00:00Z")).unwrap();
    book.end(dana, t("2025-01-31T00:00:00Z")).unwrap();
    let fresh = log(dana, "2025-03-01T00:00:01Z");
    let mut store = MemoryRecordStore::new();
    store.insert(fresh);
    let mut keys = keys_for(&[dana]);
    let schedule = thirty_days();
    let holds = HoldRegister::new();
    let sweep = Sweep::new(&schedule, &book, &holds);
    let now = t("2025-03-01T00:00:02Z");
    let plan = sweep.plan(store.records().collect::<Vec<_>>(), now);
    assert_eq!(plan.deletions().count(), 1);
    assert_eq!(plan.shreds().count(), 0, "{plan}");
    sweep.execute(&plan, &mut store, &mut keys, &ManualClock::new(now));
    assert!(keys.has_keys(dana));
    // Once that record is gone, a later sweep may shred as usual.
    let later = sweep.plan(
        store.records().collect::<Vec<_>>(),
        t("2025-03-02T00:00:00Z"),
    );
    assert_eq!(plan.deletions().count(), 1);
    assert_eq!(later.shreds().count(), 1, "{later}");
}

#[test]
fn a_record_from_before_the_first_relationship_is_reported_not_deleted() {
    let erin = customer(5);
    let mut book = RelationshipBook::new();
    book.start(erin, t("2025-01-01T00:00:00.001Z")).unwrap();
    let skewed = log(erin, "2025-01-01T00:00:00Z");
    let schedule = thirty_days();
    let error = schedule
        .disposition_in(&book, &NoHolds, &skewed, t("2025-02-01T00:00:00Z"))
        .unwrap_err();
    assert!(matches!(
        error,
        RetentionError::CollectedBeforeFirstRelationship { .. }
    ));
    let holds = HoldRegister::new();
    let plan = Sweep::new(&schedule, &book, &holds).plan([skewed], t("2025-02-01T00:00:00Z"));
    assert_eq!(plan.deletions().count(), 0);
    assert_eq!(plan.skipped().len(), 1);
}

#[test]
fn a_hold_dated_ahead_of_the_clock_is_refused_and_does_not_freeze_the_register() {
    let frank = customer(6);
    let hold_placed_at = |id, placed_at: Timestamp| {
        LegalHold::place(
            HoldId::new(id),
            HoldScope::Customer { customer: frank },
            "LEGAL-9 subpoena".parse().unwrap(),
            "counsel".parse().unwrap(),
            placed_at,
            placed_at.checked_add(TimeDelta::days(90)).unwrap(),
        )
        .unwrap()
    };
    let mut register = HoldRegister::new();
    let tomorrow = Timestamp::now().checked_add(TimeDelta::days(1)).unwrap();
    let error = register.place(hold_placed_at(1, tomorrow)).unwrap_err();
    assert!(
        matches!(error, RetentionError::EventInTheFuture { .. }),
        "{error}"
    );
    assert!(register.events().is_empty());
    register.place(hold_placed_at(2, Timestamp::now())).unwrap();
    assert_eq!(register.events().len(), 1);
}
