//! Property tests of the retention invariants (docs/design.md section 3, invariant 7) and of the
//! evaluator against a naive reference model of the rules.

use std::{collections::BTreeSet, num::NonZeroUsize};

use proptest::prelude::*;
use steward_core::{
    ClauseId, CoreError, CustomerId, DataCategory, Justification, ManualClock, RecordId, StewardId,
    Timestamp,
};
use steward_retention::{
    Anchor, DeletionMethod, DeletionWindow, Disposition, DueReason, HoldId, HoldRegister,
    HoldScope, KeepReason, LegalHold, MemoryKeyShredder, MemoryRecordStore, RecordMeta,
    Relationship, RelationshipBook, RetentionError, RetentionPeriod, RetentionRule,
    RetentionSchedule, Sweep, SweepBatch, SweepProgress, SweepRun,
};

/// All instants are whole hours after this base, so boundaries (`now == deadline`) are hit often.
const BASE_SECONDS: i64 = 1_750_000_000;
const HOUR: i64 = 3_600;
const HORIZON: i64 = 400;

const CATEGORIES: [DataCategory; 3] = [
    DataCategory::LlmRequestLog,
    DataCategory::Email,
    DataCategory::ConsentRecord,
];

fn at(hours: i64) -> Timestamp {
    Timestamp::from_unix_nanos((BASE_SECONDS + hours * HOUR) * 1_000_000_000)
}

fn hours(period: i64) -> RetentionPeriod {
    RetentionPeriod::from_seconds(u64::try_from(period * HOUR).unwrap_or(0))
        .unwrap_or(RetentionPeriod::ZERO)
}

fn customers() -> Vec<CustomerId> {
    [
        "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10",
        "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a11",
        "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a12",
    ]
    .iter()
    .filter_map(|text| text.parse().ok())
    .collect()
}

fn steward() -> Result<StewardId, CoreError> {
    "counsel.kim".parse()
}

fn reason() -> Result<Justification, CoreError> {
    "CASE-1 litigation hold".parse()
}

/// A rule as plain numbers, in hours.
#[derive(Debug, Clone, Copy)]
struct RuleSpec {
    anchor_at_end: bool,
    minimum: Option<i64>,
    maximum: i64,
    window: i64,
    shred: bool,
}

impl RuleSpec {
    fn build(self, clause: ClauseId) -> Option<RetentionRule> {
        let anchor = if self.anchor_at_end {
            Anchor::RelationshipEnd
        } else {
            Anchor::CollectedAt
        };
        let method = if self.shred && self.anchor_at_end {
            DeletionMethod::CryptoShred
        } else {
            DeletionMethod::Delete
        };
        let rule = RetentionRule::new(
            anchor,
            hours(self.maximum),
            DeletionWindow::new(hours(self.window)),
            method,
            clause,
        )
        .ok()?;
        Some(match self.minimum {
            Some(minimum) => rule.with_minimum(hours(minimum)),
            None => rule,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct RecordSpec {
    customer: usize,
    category: usize,
    collected: i64,
}

#[derive(Debug, Clone, Copy)]
struct HoldSpec {
    customer: usize,
    /// 0: customer, 1: category, 2: record.
    kind: u8,
    target: usize,
    placed: i64,
    duration: i64,
    released_after: Option<i64>,
}

#[derive(Debug, Clone)]
struct World {
    /// Per customer: (gap before start, length) in hours; the last may be open.
    relationships: Vec<(Vec<(i64, i64)>, bool)>,
    records: Vec<RecordSpec>,
    holds: Vec<HoldSpec>,
    log_window: i64,
    email: RuleSpec,
    consent: RuleSpec,
    now: i64,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        any::<bool>(),
        proptest::option::of(0..150_i64),
        0..150_i64,
        0..100_i64,
        any::<bool>(),
    )
        .prop_map(
            |(anchor_at_end, minimum, maximum, window, shred)| RuleSpec {
                anchor_at_end,
                minimum,
                maximum,
                window,
                shred,
            },
        )
}

fn world() -> impl Strategy<Value = World> {
    let relationships = proptest::collection::vec(
        (
            proptest::collection::vec((0..60_i64, 0..120_i64), 0..4),
            any::<bool>(),
        ),
        3,
    );
    let records = proptest::collection::vec(
        (0..3_usize, 0..3_usize, 0..HORIZON).prop_map(|(customer, category, collected)| {
            RecordSpec {
                customer,
                category,
                collected,
            }
        }),
        0..24,
    );
    let holds = proptest::collection::vec(
        (
            0..3_usize,
            0..3_u8,
            0..24_usize,
            0..HORIZON,
            1..200_i64,
            proptest::option::of(0..200_i64),
        )
            .prop_map(
                |(customer, kind, target, placed, duration, released_after)| HoldSpec {
                    customer,
                    kind,
                    target,
                    placed,
                    duration,
                    released_after,
                },
            ),
        0..4,
    );
    (
        relationships,
        records,
        holds,
        0..100_i64,
        rule_spec(),
        rule_spec(),
        0..HORIZON + 200,
    )
        .prop_map(
            |(relationships, records, holds, log_window, email, consent, now)| World {
                relationships,
                records,
                holds,
                log_window,
                email,
                consent,
                now,
            },
        )
}

/// The world built into the real types.
struct Built {
    customers: Vec<CustomerId>,
    /// Per customer: (start, end) in hours.
    spans: Vec<Vec<(i64, Option<i64>)>>,
    book: RelationshipBook,
    records: Vec<RecordMeta>,
    register: HoldRegister,
    schedule: RetentionSchedule,
}

fn build(world: &World) -> Result<Built, CoreError> {
    let customers = customers();
    let mut book = RelationshipBook::new();
    let mut spans = Vec::new();
    for (customer, (pieces, last_open)) in customers.iter().zip(&world.relationships) {
        let mut cursor = 0;
        let mut customer_spans = Vec::new();
        for (index, (gap, length)) in pieces.iter().enumerate() {
            let start = cursor + gap;
            let end = if *last_open && index + 1 == pieces.len() {
                None
            } else {
                Some(start + length)
            };
            let relationship = Relationship::start(*customer, at(start));
            let relationship = match end {
                Some(end) => relationship.end(at(end)),
                None => Ok(relationship),
            };
            if let Ok(relationship) = relationship
                && book.insert(relationship).is_ok()
            {
                customer_spans.push((start, end));
            }
            cursor = end.unwrap_or(start);
        }
        spans.push(customer_spans);
    }
    let records: Vec<RecordMeta> = world
        .records
        .iter()
        .filter_map(|spec| {
            let customer = *customers.get(spec.customer)?;
            let category = *CATEGORIES.get(spec.category)?;
            let collected = at(spec.collected);
            Some(RecordMeta::new(
                RecordId::generate_at(collected),
                customer,
                category,
                collected,
            ))
        })
        .collect();
    let mut register = HoldRegister::new();
    // Apply placements and releases in time order: the register refuses a backwards clock.
    let mut events: Vec<(i64, usize, bool)> = Vec::new();
    for (index, spec) in world.holds.iter().enumerate() {
        events.push((spec.placed, index, false));
        if let Some(after) = spec.released_after {
            events.push((spec.placed + after, index, true));
        }
    }
    events.sort_unstable();
    for (time, index, release) in events {
        let Some(spec) = world.holds.get(index) else {
            continue;
        };
        let id = HoldId::new(index as u64);
        if release {
            let _ = register.release(id, steward()?, at(time), reason()?);
            continue;
        }
        if let Some(hold) = hold_from_spec(spec, id, &customers, &records)? {
            let _ = register.place(hold);
        }
    }
    let window = DeletionWindow::new(hours(world.log_window));
    let mut schedule = RetentionSchedule::bundled(window);
    if let Some(rule) = world.email.build(ClauseId::UsePurposes) {
        schedule = schedule.with_rule(DataCategory::Email, rule);
    }
    if let Some(rule) = world.consent.build(ClauseId::PolicyVersioned) {
        schedule = schedule.with_rule(DataCategory::ConsentRecord, rule);
    }
    Ok(Built {
        customers,
        spans,
        book,
        records,
        register,
        schedule,
    })
}

fn hold_from_spec(
    spec: &HoldSpec,
    id: HoldId,
    customers: &[CustomerId],
    records: &[RecordMeta],
) -> Result<Option<LegalHold>, CoreError> {
    let (Some(customer), Some(category)) = (
        customers.get(spec.customer).copied(),
        CATEGORIES.get(spec.target % CATEGORIES.len()).copied(),
    ) else {
        return Ok(None);
    };
    let scope = match spec.kind {
        0 => HoldScope::Customer { customer },
        1 => HoldScope::Category { customer, category },
        _ => {
            let Some(record) = records.get(spec.target % records.len().max(1)) else {
                return Ok(None);
            };
            HoldScope::Record {
                customer: record.customer(),
                record: record.id(),
            }
        }
    };
    Ok(LegalHold::place(
        id,
        scope,
        reason()?,
        steward()?,
        at(spec.placed),
        at(spec.placed + spec.duration),
    )
    .ok())
}

/// The naive reference model's verdict, in hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Keep {
        until: Option<i64>,
        reason: KeepReason,
    },
    DeleteBy {
        deadline: i64,
        reason: DueReason,
    },
    DeleteNow {
        overdue_since: Option<i64>,
        reason: DueReason,
    },
    Error,
}

fn to_hours(instant: Timestamp) -> i64 {
    (instant.unix_seconds() - BASE_SECONDS) / HOUR
}

fn verdict_of(result: Result<Disposition, RetentionError>) -> Verdict {
    match result {
        Ok(Disposition::Keep { until, reason, .. }) => Verdict::Keep {
            until: until.map(to_hours),
            reason,
        },
        Ok(Disposition::DeleteBy {
            deadline, reason, ..
        }) => Verdict::DeleteBy {
            deadline: to_hours(deadline),
            reason,
        },
        Ok(Disposition::DeleteNow {
            overdue_since,
            reason,
            ..
        }) => Verdict::DeleteNow {
            overdue_since: overdue_since.map(to_hours),
            reason,
        },
        Ok(_) | Err(_) => Verdict::Error,
    }
}

/// The rules written down as plainly as possible, on integer hours, straight from the
/// issue: an active hold keeps; an unexpired minimum keeps; otherwise a passed maximum makes
/// the record due.
fn model(world: &World, built: &Built, record_index: usize) -> Verdict {
    let Some(spec) = world.records.get(record_index) else {
        return Verdict::Error;
    };
    let Some(record) = built.records.get(record_index) else {
        return Verdict::Error;
    };
    let now = world.now;
    let collected = spec.collected;
    let spans = built.spans.get(spec.customer).cloned().unwrap_or_default();
    // No relationship at all, or data from before the first one: a feed problem, not a
    // decision (nothing is deleted for it).
    match spans.iter().map(|(start, _)| *start).min() {
        None => return Verdict::Error,
        Some(first_start) if collected < first_start => return Verdict::Error,
        Some(_) => {}
    }
    let (anchor_at_end, minimum, maximum, window) = match record.category() {
        DataCategory::LlmRequestLog => (true, None, 0, world.log_window),
        DataCategory::Email => (
            world.email.anchor_at_end,
            world.email.minimum,
            world.email.maximum,
            world.email.window,
        ),
        _ => (
            world.consent.anchor_at_end,
            world.consent.minimum,
            world.consent.maximum,
            world.consent.window,
        ),
    };
    let kept_for = maximum.max(minimum.unwrap_or(0));

    // The rule alone.
    let containing = spans
        .iter()
        .find(|(start, end)| *start <= collected && end.is_none_or(|end| collected < end));
    let own = 'own: {
        let anchor = if anchor_at_end {
            match containing {
                None => {
                    if let Some(minimum) = minimum
                        && now < collected + minimum
                    {
                        break 'own Verdict::Keep {
                            until: Some(collected + minimum),
                            reason: KeepReason::Minimum,
                        };
                    }
                    break 'own Verdict::DeleteNow {
                        overdue_since: None,
                        reason: DueReason::OutsideRelationship,
                    };
                }
                Some((_, None)) => {
                    break 'own Verdict::Keep {
                        until: None,
                        reason: KeepReason::RelationshipActive,
                    };
                }
                Some((_, Some(end))) if now < *end => {
                    break 'own Verdict::Keep {
                        until: Some(end + kept_for),
                        reason: KeepReason::RelationshipActive,
                    };
                }
                Some((_, Some(end))) => *end,
            }
        } else {
            collected
        };
        if let Some(minimum) = minimum
            && now < anchor + minimum
        {
            break 'own Verdict::Keep {
                until: Some(anchor + kept_for),
                reason: KeepReason::Minimum,
            };
        }
        if now < anchor + maximum {
            break 'own Verdict::Keep {
                until: Some(anchor + kept_for),
                reason: KeepReason::WithinMaximum,
            };
        }
        let deadline = anchor + kept_for + window;
        if now < deadline {
            Verdict::DeleteBy {
                deadline,
                reason: DueReason::MaximumPassed,
            }
        } else {
            Verdict::DeleteNow {
                overdue_since: Some(deadline),
                reason: DueReason::MaximumPassed,
            }
        }
    };

    // Holds come first. A hold stands until released, whatever its review date.
    let mut best: Option<(u64, Option<i64>)> = None;
    for hold in built.register.holds() {
        let covers = match hold.scope() {
            HoldScope::Customer { customer } => *customer == record.customer(),
            HoldScope::Category { customer, category } => {
                *customer == record.customer() && *category == record.category()
            }
            HoldScope::Record { record: id, .. } => *id == record.id(),
            _ => false,
        };
        let released = hold.released_at().map(to_hours);
        let stands = released.is_none_or(|released| now < released);
        if !(covers && stands) {
            continue;
        }
        // Not released (`None`) stands longest.
        let ends = released;
        let longer = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (None, Some(_)) => true,
            (Some(a), Some(b)) => a > b,
            _ => false,
        };
        let id = hold.id().get();
        if best.is_none_or(|(best_id, best_ends)| {
            longer(ends, best_ends) || (ends == best_ends && id < best_id)
        }) {
            best = Some((id, ends));
        }
    }
    match best {
        None => own,
        Some((id, ends)) => Verdict::Keep {
            until: match (own, ends) {
                (_, None) => None,
                (Verdict::Keep { until, .. }, Some(ends)) => until.map(|until| until.max(ends)),
                (_, Some(ends)) => Some(ends),
            },
            reason: KeepReason::Hold(HoldId::new(id)),
        },
    }
}

fn standing_hold_covers(built: &Built, record: &RecordMeta, now: Timestamp) -> bool {
    built.register.holds().any(|hold| hold.keeps(record, now))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The evaluator agrees with the naive model on every record of random worlds.
    #[test]
    fn evaluator_agrees_with_the_reference_model(world in world()) {
        let built = build(&world).unwrap();
        for (index, record) in built.records.iter().enumerate() {
            let real = verdict_of(built.schedule.disposition_in(
                &built.book,
                &built.register,
                record,
                at(world.now),
            ));
            prop_assert_eq!(real, model(&world, &built, index), "record {}", index);
        }
    }

    /// The sweep plans exactly the records the model finds due, and skips the undecidable; its
    /// streaming dispositions agree with one-by-one evaluation.
    #[test]
    fn sweep_plans_exactly_the_due_records(world in world()) {
        let built = build(&world).unwrap();
        let sweep = Sweep::new(&built.schedule, &built.book, &built.register);
        let plan = sweep.plan(built.records.iter().copied(), at(world.now));
        let planned: BTreeSet<RecordId> =
            plan.deletions().map(|planned| planned.record().id()).collect();
        let skipped: BTreeSet<RecordId> =
            plan.skipped().iter().map(|skipped| skipped.record().id()).collect();
        let streamed = sweep.dispositions(built.records.iter().copied(), at(world.now));
        for (record, streamed) in streamed {
            let direct = built.schedule.disposition_in(
                &built.book,
                &built.register,
                &record,
                at(world.now),
            );
            prop_assert_eq!(streamed, direct);
        }
        for (index, record) in built.records.iter().enumerate() {
            let verdict = model(&world, &built, index);
            let due = matches!(verdict, Verdict::DeleteBy { .. } | Verdict::DeleteNow { .. });
            prop_assert_eq!(planned.contains(&record.id()), due);
            prop_assert_eq!(skipped.contains(&record.id()), verdict == Verdict::Error);
        }
    }

    /// A plan carried out in steps of any size (a service releasing its facts between steps)
    /// deletes, keeps, shreds and withholds exactly what one execution does, and every step
    /// but the last reports more to do.
    #[test]
    fn stepped_execution_does_what_one_execution_does(world in world(), size in 1_usize..6) {
        let built = build(&world).unwrap();
        let now = at(world.now);
        let clock = ManualClock::new(now);
        let sweep = Sweep::new(&built.schedule, &built.book, &built.register);
        let plan = sweep.plan(built.records.iter().copied(), now);
        let fresh_keys = || {
            let mut keys = MemoryKeyShredder::new();
            built.customers.iter().for_each(|customer| keys.add_customer(*customer));
            keys
        };

        let mut whole_store: MemoryRecordStore = built.records.iter().copied().collect();
        let mut whole_keys = fresh_keys();
        let whole = sweep.execute(&plan, &mut whole_store, &mut whole_keys, &clock);

        let mut store: MemoryRecordStore = built.records.iter().copied().collect();
        let mut keys = fresh_keys();
        let batch = SweepBatch::new(NonZeroUsize::new(size).unwrap());
        let mut run = SweepRun::new(&plan, &clock);
        let planned = plan.deletions().count() + plan.shreds().count();
        let mut steps = 0_usize;
        loop {
            steps += 1;
            prop_assert!(steps <= planned + 1, "the run does not end");
            let progress = sweep.execute_step(&mut run, &mut store, &mut keys, &clock, batch);
            if progress == SweepProgress::Done {
                break;
            }
            prop_assert!(!run.is_done());
        }
        let stepped = run.into_report();
        let sorted = |ids: &[RecordId]| ids.iter().copied().collect::<BTreeSet<_>>();
        prop_assert_eq!(sorted(stepped.deleted()), sorted(whole.deleted()));
        prop_assert_eq!(stepped.now_kept(), whole.now_kept());
        prop_assert_eq!(stepped.shredded(), whole.shredded());
        prop_assert_eq!(stepped.shreds_withheld(), whole.shreds_withheld());
        prop_assert_eq!(stepped.failures().len(), whole.failures().len());
        for record in &built.records {
            prop_assert_eq!(store.contains(record.id()), whole_store.contains(record.id()));
        }
        for customer in &built.customers {
            prop_assert_eq!(keys.has_keys(*customer), whole_keys.has_keys(*customer));
        }
    }

    /// Invariant 7 under the bundled schedule: nothing is deleted while the relationship is
    /// active or a valid hold stands; everything of an ended relationship is due by
    /// end + window, and overdue from then on.
    #[test]
    fn invariant_7_nothing_deleted_while_active_or_held(world in world()) {
        let mut built = build(&world).unwrap();
        built.schedule = RetentionSchedule::bundled(DeletionWindow::new(hours(world.log_window)));
        let now = at(world.now);
        let window = world.log_window;
        let mut store: MemoryRecordStore = built.records.iter().copied().collect();
        let mut keys = MemoryKeyShredder::new();
        built.customers.iter().for_each(|customer| keys.add_customer(*customer));
        let sweep = Sweep::new(&built.schedule, &built.book, &built.register);
        let plan = sweep.plan(store.records(), now);
        let _ = sweep.execute(&plan, &mut store, &mut keys, &ManualClock::new(now));

        for record in &built.records {
            let relationship = built.book.containing(record.customer(), record.collected_at());
            let held = standing_hold_covers(&built, record, now);
            let disposition =
                built.schedule.disposition_in(&built.book, &built.register, record, now);
            let active = relationship.is_some_and(|r| r.is_active_at(now));
            if active || held {
                prop_assert!(store.contains(record.id()), "deleted while active or held");
                prop_assert!(!disposition.as_ref().is_ok_and(Disposition::is_due));
            }
            if let Some(end) = relationship.and_then(Relationship::ended_at) {
                let end = to_hours(end);
                if !held && world.now >= end {
                    let deadline = end + window;
                    let expected = if world.now < deadline {
                        Verdict::DeleteBy { deadline, reason: DueReason::MaximumPassed }
                    } else {
                        Verdict::DeleteNow {
                            overdue_since: Some(deadline),
                            reason: DueReason::MaximumPassed,
                        }
                    };
                    prop_assert_eq!(verdict_of(disposition), expected);
                    prop_assert!(!store.contains(record.id()), "due record not deleted");
                }
            }
        }
        // Keys go only when every relationship has ended and no hold of any scope stands for
        // the customer (a shred makes every record of theirs unreadable).
        for (customer, spans) in built.customers.iter().zip(&built.spans) {
            if keys.has_keys(*customer) {
                continue;
            }
            prop_assert!(!spans.is_empty());
            prop_assert!(spans.iter().all(|(_, end)| end.is_some_and(|end| end <= world.now)));
            let held = built.register.holds().any(|hold| {
                hold.stands_at(now) && hold.scope().customer() == *customer
            });
            prop_assert!(!held, "keys shredded under a standing hold");
        }
    }

    /// Precedence: a standing hold beats everything; then an unended relationship; then an
    /// unexpired minimum (even past the maximum); only then does a passed maximum make the
    /// record due.
    #[test]
    fn precedence_hold_then_relationship_then_minimum_then_maximum(world in world()) {
        let built = build(&world).unwrap();
        let now = at(world.now);
        for record in &built.records {
            let Ok(disposition) =
                built.schedule.disposition_in(&built.book, &built.register, record, now)
            else {
                continue;
            };
            let rule = built.schedule.rule(record.category()).unwrap();
            let relationship = built.book.containing(record.customer(), record.collected_at());
            let anchor = match rule.anchor() {
                Anchor::CollectedAt => Some(record.collected_at()),
                _ => match relationship {
                    None => Some(record.collected_at()),
                    Some(r) => r.ended_at(),
                },
            };
            let minimum_running = anchor.zip(rule.minimum()).is_some_and(|(anchor, minimum)| {
                now < anchor.checked_add(minimum.as_time_delta()).unwrap()
            });
            let active = rule.anchor() == Anchor::RelationshipEnd
                && relationship.is_some_and(|r| r.is_active_at(now));
            let reason = match disposition {
                Disposition::Keep { reason, .. } => Some(reason),
                _ => None,
            };
            if standing_hold_covers(&built, record, now) {
                prop_assert!(matches!(reason, Some(KeepReason::Hold(_))));
            } else if active {
                prop_assert_eq!(reason, Some(KeepReason::RelationshipActive));
            } else if minimum_running {
                prop_assert_eq!(reason, Some(KeepReason::Minimum));
            } else if let Some(reason) = reason {
                prop_assert_eq!(reason, KeepReason::WithinMaximum);
                let anchor = anchor.unwrap();
                prop_assert!(now < anchor.checked_add(rule.maximum().as_time_delta()).unwrap());
            }
            prop_assert_eq!(disposition.clause(), rule.clause());
        }
    }

    /// Executing a plan twice leaves the store and the keys as executing it once did.
    #[test]
    fn executing_a_plan_twice_is_harmless(world in world(), later in 0..50_i64) {
        let built = build(&world).unwrap();
        let now = at(world.now);
        let mut store: MemoryRecordStore = built.records.iter().copied().collect();
        let mut keys = MemoryKeyShredder::new();
        built.customers.iter().for_each(|customer| keys.add_customer(*customer));
        let sweep = Sweep::new(&built.schedule, &built.book, &built.register);
        let plan = sweep.plan(store.records(), now);
        let first = sweep.execute(&plan, &mut store, &mut keys, &ManualClock::new(now));
        let after_first: BTreeSet<RecordId> = store.records().map(|r| r.id()).collect();
        let keys_first: Vec<bool> = built.customers.iter().map(|c| keys.has_keys(*c)).collect();
        let second =
            sweep.execute(&plan, &mut store, &mut keys, &ManualClock::new(at(world.now + later)));
        let after_second: BTreeSet<RecordId> = store.records().map(|r| r.id()).collect();
        let keys_second: Vec<bool> = built.customers.iter().map(|c| keys.has_keys(*c)).collect();
        prop_assert_eq!(after_first, after_second);
        prop_assert_eq!(keys_first, keys_second);
        prop_assert!(second.deleted().is_empty());
        prop_assert!(second.shredded().is_empty());
        prop_assert_eq!(second.already_absent().len() + second.now_kept().len(), first.deleted().len() + first.already_absent().len() + first.now_kept().len());
        prop_assert!(first.failures().is_empty() && second.failures().is_empty());
    }

    /// A hold placed between planning and execution wins: nothing it covers is deleted and
    /// the customer's keys stay.
    #[test]
    fn a_hold_placed_after_planning_wins(
        world in world(),
        kind in 0..3_u8,
        delay in 0..30_i64,
        pick in any::<prop::sample::Index>(),
    ) {
        let mut built = build(&world).unwrap();
        let now = at(world.now);
        let mut store: MemoryRecordStore = built.records.iter().copied().collect();
        let mut keys = MemoryKeyShredder::new();
        built.customers.iter().for_each(|customer| keys.add_customer(*customer));
        let plan = Sweep::new(&built.schedule, &built.book, &built.register)
            .plan(store.records(), now);
        let planned: Vec<RecordMeta> = plan.deletions().map(|p| *p.record()).collect();
        prop_assume!(!planned.is_empty());
        let target = planned[pick.index(planned.len())];
        let scope = match kind {
            0 => HoldScope::Customer { customer: target.customer() },
            1 => HoldScope::Category { customer: target.customer(), category: target.category() },
            _ => HoldScope::Record { customer: target.customer(), record: target.id() },
        };
        let placed = world.now + delay;
        let latest_event = built.register.events().last().map(|e| to_hours(e.at()));
        let placed = latest_event.map_or(placed, |latest| placed.max(latest));
        let hold = LegalHold::place(
            HoldId::new(1_000), scope, reason().unwrap(), steward().unwrap(), at(placed), at(placed + 100),
        ).unwrap();
        built.register.place(hold.clone()).unwrap();

        let sweep = Sweep::new(&built.schedule, &built.book, &built.register);
        let report = sweep.execute(&plan, &mut store, &mut keys, &ManualClock::new(at(placed)));
        for record in &built.records {
            if hold.scope().covers(record) {
                prop_assert!(store.contains(record.id()), "a held record was deleted");
            }
        }
        prop_assert!(report.now_kept().iter().any(|(id, d)| *id == target.id()
            && d.held_by() == Some(HoldId::new(1_000))));
        // Any hold of the customer withholds the shred, and the report names it.
        prop_assert!(keys.has_keys(target.customer()), "keys shredded under a new hold");
        prop_assert!(report.shredded().iter().all(|customer| *customer != target.customer()));
        if plan.customers().get(&target.customer()).is_some_and(|p| p.shred().is_some()) {
            let named = report.shreds_withheld().iter().any(|withheld| {
                withheld.customer() == target.customer() && withheld.hold().is_some()
            });
            prop_assert!(named, "the withheld shred does not name the hold");
        }
    }

    /// Holds stand until released: a hold that has not been released keeps everything it
    /// covers, and every key of its customer, at every instant after its placement, however
    /// far past its review date; and it is reported as due for review from that date on.
    #[test]
    fn an_unreleased_hold_keeps_its_data_at_every_instant_after_placement(
        world in world(),
        past_review in 0..1_000_000_i64,
    ) {
        let built = build(&world).unwrap();
        for hold in built.register.holds().filter(|hold| hold.released_at().is_none()) {
            let review = to_hours(hold.review_at());
            for later in [to_hours(hold.placed_at()), review - 1, review, review + past_review] {
                let now = at(later.max(to_hours(hold.placed_at())));
                prop_assert!(hold.stands_at(now));
                prop_assert_eq!(hold.is_review_due(now), now >= hold.review_at());
                let mut store: MemoryRecordStore = built.records.iter().copied().collect();
                let mut keys = MemoryKeyShredder::new();
                keys.add_customer(hold.scope().customer());
                let sweep = Sweep::new(&built.schedule, &built.book, &built.register);
                let plan = sweep.plan(store.records(), now);
                prop_assert_eq!(
                    plan.reviews_due().any(|due| due.hold() == hold.id()),
                    hold.is_review_due(now)
                        && built.book.relationships(hold.scope().customer()).len()
                            + built.records.iter()
                                .filter(|r| r.customer() == hold.scope().customer())
                                .count()
                            > 0
                );
                let report = sweep.execute(&plan, &mut store, &mut keys, &ManualClock::new(now));
                for record in built.records.iter().filter(|record| hold.scope().covers(record)) {
                    prop_assert!(store.contains(record.id()), "a held record was deleted");
                    let disposition = built
                        .schedule
                        .disposition_in(&built.book, &built.register, record, now);
                    // A record that cannot be decided is skipped, never deleted; one that can
                    // is kept by a hold.
                    let held = matches!(
                        disposition,
                        Ok(Disposition::Keep { reason: KeepReason::Hold(_), .. })
                    );
                    prop_assert!(disposition.is_err() || held, "not kept by the hold");
                }
                prop_assert!(keys.has_keys(hold.scope().customer()), "keys shredded under a hold");
                prop_assert!(report.shredded().is_empty());
            }
        }
    }

    /// Irreversible acts happen now: a plan made for a later instant, executed at the
    /// clock's instant, deletes exactly the planned records due at that instant and shreds
    /// only keys whose shred is allowed then; the rest is reported as kept or withheld.
    #[test]
    fn a_plan_for_a_later_instant_deletes_only_what_is_due_now(
        world in world(),
        ahead in 0..400_i64,
    ) {
        let built = build(&world).unwrap();
        let now = at(world.now);
        let mut store: MemoryRecordStore = built.records.iter().copied().collect();
        let mut keys = MemoryKeyShredder::new();
        built.customers.iter().for_each(|customer| keys.add_customer(*customer));
        let sweep = Sweep::new(&built.schedule, &built.book, &built.register);
        let plan = sweep.plan(store.records(), at(world.now + ahead));
        let report = sweep.execute(&plan, &mut store, &mut keys, &ManualClock::new(now));
        prop_assert_eq!(report.executed_at(), now);
        for planned in plan.deletions() {
            let record = planned.record();
            let due_now = built
                .schedule
                .disposition_in(&built.book, &built.register, record, now)
                .is_ok_and(|disposition| disposition.is_due());
            prop_assert_eq!(!store.contains(record.id()), due_now, "deleted ahead of time");
            if !due_now {
                prop_assert!(report.now_kept().iter().any(|(id, _)| *id == record.id())
                    || report.failures().iter().any(|f| matches!(
                        f.target(), steward_retention::Target::Record(id) if id == record.id()
                    )));
            }
        }
        for customer in &built.customers {
            if !keys.has_keys(*customer) {
                prop_assert!(sweep.may_shred(*customer, now).is_some(), "shredded ahead of time");
            }
        }
    }
}
