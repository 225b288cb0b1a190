//! Properties of training levels, consent modes and the consent ledger (docs/design.md section 3,
//! invariants 2, 3 and 9), checked on random histories against simple reference models.

use std::collections::HashMap;

use proptest::prelude::*;
use serde::de::DeserializeSeed;
use steward_consent::{
    AdminId, Channel, ConsentActor, ConsentChange, ConsentError, ConsentLedger, ConsentLedgerSeed,
    ConsentMode, ConsentReceipt, Justification, KnownPolicyVersions, TrainingLevel,
};
use steward_core::{CustomerId, PolicyVersion, Timestamp, TrainingScope};

/// 2025-03-05T00:00:00Z in nanoseconds; every generated instant is a few seconds after it.
const BASE_NANOS: i64 = 1_741_132_800_000_000_000;
const CUSTOMERS: u8 = 4;
/// Every generated ledger records and schedules its changes before this many seconds.
const HORIZON: i64 = 3_000;
/// The versions the ledgers know; generated changes sometimes name another one.
const KNOWN_VERSIONS: [&str; 3] = ["2025-03-05", "2025-09-01", "v3"];

fn instant(seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(BASE_NANOS + seconds * 1_000_000_000)
}

#[expect(
    clippy::unwrap_used,
    reason = "test fixture: a bad literal must fail the test loudly"
)]
fn known() -> KnownPolicyVersions {
    KnownPolicyVersions::try_from_iter(KNOWN_VERSIONS.map(|text| text.parse().unwrap())).unwrap()
}
fn customer_id(n: u8) -> Option<CustomerId> {
    format!("0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a{n:02x}")
        .parse()
        .ok()
}

fn customer() -> impl Strategy<Value = CustomerId> {
    (1..=CUSTOMERS).prop_filter_map("valid customer id", customer_id)
}

fn level() -> impl Strategy<Value = TrainingLevel> {
    prop::sample::select(vec![
        TrainingLevel::None,
        TrainingLevel::Private,
        TrainingLevel::Shared,
        TrainingLevel::OpenWeight,
    ])
}

fn mode() -> impl Strategy<Value = ConsentMode> {
    prop::sample::select(ConsentMode::ALL.to_vec())
}

fn scope() -> impl Strategy<Value = TrainingScope> {
    prop_oneof![
        customer().prop_map(|owner| TrainingScope::Private { owner }),
        Just(TrainingScope::Shared),
        Just(TrainingScope::OpenWeight),
    ]
}

fn actor() -> impl Strategy<Value = ConsentActor> {
    let admin = prop::sample::select(vec!["dana", "erik.support", "ops@example.com"])
        .prop_filter_map("valid admin id", |name| name.parse::<AdminId>().ok());
    let basis = prop::sample::select(vec!["TICKET-1", "TICKET-2: by phone", "工单 42"])
        .prop_filter_map("valid basis", |text| text.parse::<Justification>().ok());
    prop_oneof![
        3 => Just(ConsentActor::Customer),
        1 => (admin, basis).prop_map(|(admin, basis)| ConsentActor::Admin { admin, basis }),
    ]
}

fn channel() -> impl Strategy<Value = Channel> {
    prop::sample::select(Channel::ALL.to_vec())
}

/// Mostly a known version, sometimes one the ledger was never told about.
fn policy_version() -> impl Strategy<Value = PolicyVersion> {
    prop_oneof![
        9 => prop::sample::select(KNOWN_VERSIONS.to_vec()),
        1 => Just("2099-01-01"),
    ]
    .prop_filter_map("valid policy version", |text| text.parse().ok())
}

/// A change attempt: the change, and the instant it is recorded at.
#[derive(Debug, Clone)]
struct Attempt {
    change: ConsentChange,
    recorded_at: Timestamp,
    /// Accepted, then cancelled before it took effect by a lower level recorded later.
    cancelled: bool,
}

/// A sequence of attempts whose recording instants mostly move forward (sometimes back: a
/// clock error) and whose changes mostly take effect at or after recording (sometimes
/// before: backdating). Everything stays below [`HORIZON`].
fn attempts(max: usize) -> impl Strategy<Value = Vec<Attempt>> {
    prop::collection::vec(
        (
            customer(),
            level(),
            -10..60_i64,
            -30..400_i64,
            actor(),
            channel(),
            policy_version(),
        ),
        0..max,
    )
    .prop_map(|raw| {
        let mut clock = 0_i64;
        raw.into_iter()
            .map(|(customer, level, step, lead, actor, channel, version)| {
                clock = (clock + step).clamp(0, 2_500);
                let effective = (clock + lead).max(0);
                Attempt {
                    change: ConsentChange::new(
                        customer,
                        level,
                        instant(effective),
                        actor,
                        channel,
                        version,
                    ),
                    recorded_at: instant(clock),
                    cancelled: false,
                }
            })
            .collect()
    })
}

/// A ledger built from random attempts (rejected ones are skipped), with the attempts that
/// were accepted.
fn ledger() -> impl Strategy<Value = (ConsentLedger, Vec<Attempt>)> {
    attempts(40).prop_map(|attempts| {
        let mut ledger = ConsentLedger::new(known());
        let accepted: Vec<(Attempt, ConsentReceipt)> = attempts
            .into_iter()
            .filter_map(|attempt| {
                let receipt = ledger
                    .record(attempt.change.clone(), attempt.recorded_at)
                    .ok()?;
                Some((attempt, receipt))
            })
            .collect();
        // Which accepted changes a later, lower level cancelled before they took effect.
        let cancelled: Vec<_> = all_receipts(&ledger)
            .into_iter()
            .filter(|receipt| receipt.cancelled_by.is_some())
            .map(|receipt| receipt.receipt)
            .collect();
        let accepted = accepted
            .into_iter()
            .map(|(mut attempt, receipt)| {
                attempt.cancelled = cancelled.contains(&receipt.receipt);
                attempt
            })
            .collect();
        (ledger, accepted)
    })
}

/// What the reference model says of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted,
    UnknownPolicyVersion,
    ClockWentBackwards,
    Backdated,
    NotAfterLatest,
    Other,
}

impl Outcome {
    fn of(result: &Result<ConsentReceipt, ConsentError>) -> Self {
        match result {
            Ok(_) => Self::Accepted,
            Err(ConsentError::UnknownPolicyVersion { .. }) => Self::UnknownPolicyVersion,
            Err(ConsentError::ClockWentBackwards { .. }) => Self::ClockWentBackwards,
            Err(ConsentError::Backdated { .. }) => Self::Backdated,
            Err(ConsentError::NotAfterLatest { .. }) => Self::NotAfterLatest,
            Err(_) => Self::Other,
        }
    }
}

/// The naive reference of the ledger's rules: the newest recording instant, and each
/// customer's changes not cancelled (effective instant and level).
#[derive(Default)]
struct Model {
    latest_recorded: Option<Timestamp>,
    changes: HashMap<CustomerId, Vec<(Timestamp, TrainingLevel)>>,
}

impl Model {
    fn expect(&self, attempt: &Attempt) -> Outcome {
        let change = &attempt.change;
        if !KNOWN_VERSIONS.contains(&change.policy_version.as_str()) {
            Outcome::UnknownPolicyVersion
        } else if self
            .latest_recorded
            .is_some_and(|latest| attempt.recorded_at < latest)
        {
            Outcome::ClockWentBackwards
        } else if change.effective < attempt.recorded_at {
            Outcome::Backdated
        } else if self
            .latest_effective(change.customer)
            .is_some_and(|latest| change.effective <= latest)
            && !self.cancels(attempt)
        {
            Outcome::NotAfterLatest
        } else {
            Outcome::Accepted
        }
    }

    fn latest_effective(&self, customer: CustomerId) -> Option<Timestamp> {
        self.changes.get(&customer)?.last().map(|change| change.0)
    }

    /// A lower level than the one in force or a scheduled one, effective when recorded and
    /// after the change in force, cancels the scheduled changes.
    fn cancels(&self, attempt: &Attempt) -> bool {
        let change = &attempt.change;
        let now = attempt.recorded_at;
        let history = self
            .changes
            .get(&change.customer)
            .map_or(&[][..], Vec::as_slice);
        let (in_force, scheduled): (Vec<_>, Vec<_>) =
            history.iter().partition(|(effective, _)| *effective <= now);
        let current = in_force.last();
        change.effective == now
            && !scheduled.is_empty()
            && current.is_none_or(|(effective, _)| *effective < now)
            && (change.level < current.map_or(TrainingLevel::None, |(_, level)| *level)
                || scheduled.iter().any(|(_, level)| change.level < *level))
    }

    fn accept(&mut self, attempt: &Attempt) {
        self.latest_recorded = Some(attempt.recorded_at);
        let now = attempt.recorded_at;
        let history = self.changes.entry(attempt.change.customer).or_default();
        history.retain(|(effective, _)| *effective <= now || attempt.change.effective > *effective);
        history.push((attempt.change.effective, attempt.change.level));
    }
}

/// Every receipt of the ledger, in receipt order.
fn all_receipts(ledger: &ConsentLedger) -> Vec<ConsentReceipt> {
    let mut receipts: Vec<ConsentReceipt> = (1..=CUSTOMERS)
        .filter_map(customer_id)
        .flat_map(|customer| ledger.history(customer))
        .collect();
    receipts.sort_by_key(|receipt| receipt.receipt);
    receipts
}

/// The naive reference: scan every accepted change of the customer and keep the last one
/// effective at or before the instant.
fn reference_level_at(accepted: &[Attempt], customer: CustomerId, at: Timestamp) -> TrainingLevel {
    accepted
        .iter()
        .filter(|attempt| !attempt.cancelled)
        .map(|attempt| &attempt.change)
        .filter(|change| change.customer == customer && change.effective <= at)
        .max_by_key(|change| change.effective)
        .map_or(TrainingLevel::None, |change| change.level)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Model test: the binary search agrees with a linear scan on random histories.
    #[test]
    fn level_at_agrees_with_linear_scan(
        (ledger, accepted) in ledger(),
        queries in prop::collection::vec((customer(), 0..HORIZON + 100), 1..30),
    ) {
        for (customer, seconds) in queries {
            let at = instant(seconds);
            prop_assert_eq!(
                ledger.level_at(customer, at),
                reference_level_at(&accepted, customer, at)
            );
        }
    }

    /// Model test of `record`: the ledger accepts exactly what the reference model accepts
    /// (known version, clock never backwards, never backdated, after the customer's latest),
    /// refuses the rest with the error the model names, and a refused change leaves the
    /// ledger equal to before.
    #[test]
    fn ledger_accepts_exactly_what_the_model_accepts(attempts in attempts(40)) {
        let mut ledger = ConsentLedger::new(known());
        let mut model = Model::default();
        let mut accepted = 0_usize;
        for attempt in attempts {
            let expected = model.expect(&attempt);
            let before = ledger.clone();
            let result = ledger.record(attempt.change.clone(), attempt.recorded_at);
            prop_assert_eq!(Outcome::of(&result), expected, "{:?}", result);
            if expected == Outcome::Accepted {
                model.accept(&attempt);
                accepted += 1;
            } else {
                prop_assert_eq!(&ledger, &before);
            }
        }
        prop_assert_eq!(ledger.change_count(), accepted);
        prop_assert_eq!(ledger.latest_recorded(), model.latest_recorded);
    }

    /// Receipts: every accepted change takes effect at or after it was recorded (no
    /// backdating), and recording instants never decrease in the order the ledger numbered
    /// the changes, across all customers.
    #[test]
    fn accepted_changes_are_never_backdated_and_recorded_in_order((ledger, accepted) in ledger()) {
        let receipts = all_receipts(&ledger);
        prop_assert_eq!(receipts.len(), accepted.len());
        for receipt in &receipts {
            prop_assert!(receipt.effective >= receipt.recorded_at, "{:?}", receipt);
        }
        for pair in receipts.windows(2) {
            prop_assert!(pair[0].recorded_at <= pair[1].recorded_at, "{:?}", pair);
        }
        // The receipts are the accepted attempts, in the order they were made.
        for (receipt, attempt) in receipts.iter().zip(&accepted) {
            prop_assert_eq!(receipt.recorded_at, attempt.recorded_at);
            prop_assert_eq!(receipt.effective, attempt.change.effective);
            prop_assert_eq!(&receipt.actor, &attempt.change.actor);
        }
    }

    /// training.default-off: before a customer's first change, and for a customer never seen,
    /// the level is none, and none permits no scope at all.
    #[test]
    fn default_off_before_any_change(
        (ledger, accepted) in ledger(),
        who in customer(),
        seconds in 0..HORIZON,
        scope in scope(),
    ) {
        let first = accepted
            .iter()
            .filter(|attempt| attempt.change.customer == who)
            .map(|attempt| attempt.change.effective)
            .min();
        let at = instant(seconds);
        if first.is_none_or(|first| at < first) {
            let level = ledger.level_at(who, at);
            prop_assert_eq!(level, TrainingLevel::None);
            prop_assert!(!level.permits(scope, who));
            prop_assert!(ledger.change_in_force(who, at).is_none());
        }
    }

    /// Invariant 3, training.forward-only: appending any sequence of later changes leaves the
    /// level of every earlier-collected record unchanged in the default mode, asked at any
    /// time.
    #[test]
    fn later_changes_never_alter_earlier_records(
        (mut ledger, _) in ledger(),
        collections in prop::collection::vec((customer(), 0..HORIZON), 1..20),
        later in prop::collection::vec((customer(), level(), 1..500_i64), 1..20),
        now in 0..2 * HORIZON,
    ) {
        let mode = ConsentMode::ForwardOnly;
        let before: Vec<TrainingLevel> = collections
            .iter()
            .map(|&(who, seconds)| {
                ledger.effective_level(who, instant(seconds), instant(now), mode)
            })
            .collect();
        // Every later change is recorded and effective after every collection instant and
        // every change so far (all before the horizon).
        let mut offset = HORIZON;
        for (who, level, step) in later {
            offset += step;
            let change = ConsentChange::new(
                who,
                level,
                instant(offset),
                ConsentActor::Customer,
                Channel::Api,
                "2025-03-05".parse().unwrap(),
            );
            ledger.record(change, instant(offset)).unwrap();
        }
        for (&(who, seconds), level) in collections.iter().zip(before) {
            prop_assert_eq!(
                ledger.effective_level(who, instant(seconds), instant(now), mode),
                level
            );
            prop_assert_eq!(
                ledger.effective_level(who, instant(seconds), instant(100 * HORIZON), mode),
                level
            );
        }
    }

    /// The strict mode is never more permissive than forward-only, as a pure function and
    /// through the ledger, for every scope.
    #[test]
    fn strict_mode_is_never_more_permissive_than_forward_only(
        (ledger, _) in ledger(),
        who in customer(),
        collected in 0..HORIZON + 100,
        now in 0..HORIZON + 100,
        scope in scope(),
        at_collection in level(),
        level_now in level(),
    ) {
        let strict = ConsentMode::WithdrawalStopsProcessing;
        let forward = ConsentMode::ForwardOnly;
        prop_assert!(
            strict.effective_level(at_collection, level_now)
                <= forward.effective_level(at_collection, level_now)
        );
        let (collected, now) = (instant(collected), instant(now));
        let strict_level = ledger.effective_level(who, collected, now, strict);
        let forward_level = ledger.effective_level(who, collected, now, forward);
        prop_assert!(strict_level <= forward_level);
        prop_assert!(!strict_level.permits(scope, who) || forward_level.permits(scope, who));
    }

    /// No mode ever makes a record more permissive than its level at collection.
    #[test]
    fn no_mode_widens_the_level_at_collection(
        mode in mode(),
        at_collection in level(),
        level_now in level(),
    ) {
        prop_assert!(mode.effective_level(at_collection, level_now) <= at_collection);
    }

    /// training.private: a private scope never reads another customer's data, whatever the
    /// level; and a customer's own private models are reachable from private up.
    #[test]
    fn private_scope_never_crosses_customers(
        level in level(),
        owner in customer(),
        data_owner in customer(),
    ) {
        let scope = TrainingScope::Private { owner };
        if owner == data_owner {
            prop_assert_eq!(level.permits(scope, data_owner), level >= TrainingLevel::Private);
        } else {
            prop_assert!(!level.permits(scope, data_owner));
        }
    }

    /// Levels are cumulative: a level permits every scope that any lower level permits.
    #[test]
    fn higher_levels_permit_everything_lower_levels_permit(
        low in level(),
        high in level(),
        scope in scope(),
        data_owner in customer(),
    ) {
        let (low, high) = if low <= high { (low, high) } else { (high, low) };
        prop_assert!(!low.permits(scope, data_owner) || high.permits(scope, data_owner));
    }

    /// Export and import round-trip losslessly (recording instants, admins' bases and policy
    /// versions included), and the export is deterministic.
    #[test]
    fn json_export_round_trips((ledger, accepted) in ledger()) {
        let json = ledger.to_json().unwrap();
        let back = ConsentLedger::from_json(&json, known()).unwrap();
        prop_assert_eq!(&back, &ledger);
        prop_assert_eq!(back.to_json().unwrap(), json.clone());
        prop_assert_eq!(back.latest_recorded(), ledger.latest_recorded());
        // Serde on the ledger itself goes through the same validation.
        let value = serde_json::to_value(&ledger).unwrap();
        let via_serde = ConsentLedgerSeed::new(known()).deserialize(value).unwrap();
        prop_assert_eq!(&via_serde, &ledger);
        // Histories, receipts included, survive too.
        for attempt in &accepted {
            let customer = attempt.change.customer;
            prop_assert!(back.history(customer).eq(ledger.history(customer)));
        }
        // So does every receipt on its own.
        for receipt in all_receipts(&ledger) {
            let text = serde_json::to_string(&receipt).unwrap();
            prop_assert_eq!(serde_json::from_str::<ConsentReceipt>(&text).unwrap(), receipt);
        }
    }

    /// A rejected change of each kind leaves the ledger exactly as it was, export included.
    #[test]
    fn rejected_changes_leave_the_ledger_untouched(
        (mut ledger, accepted) in ledger(),
        pick in any::<prop::sample::Index>(),
        kind in prop::sample::select(vec![
            Outcome::UnknownPolicyVersion,
            Outcome::ClockWentBackwards,
            Outcome::Backdated,
            Outcome::NotAfterLatest,
        ]),
        back_off in 1..100_i64,
        level in level(),
        actor in actor(),
    ) {
        prop_assume!(!accepted.is_empty());
        let who = pick.get(&accepted).change.customer;
        let last = ledger.history(who).next_back().unwrap().effective;
        let latest_recorded = ledger.latest_recorded().unwrap();
        let seconds = |at: Timestamp| (at.unix_nanos() - BASE_NANOS) / 1_000_000_000;
        let (last, latest_recorded) = (seconds(last), seconds(latest_recorded));
        let later = last.max(latest_recorded) + back_off;
        let (effective, recorded_at, version) = match kind {
            Outcome::UnknownPolicyVersion => (later, latest_recorded, "2099-01-01"),
            Outcome::ClockWentBackwards => (later, latest_recorded - back_off, "2025-03-05"),
            Outcome::Backdated => (later - 1, later, "2025-03-05"),
            // Only reachable when the customer's latest change is scheduled past the clock.
            _ => {
                prop_assume!(last >= latest_recorded);
                (last - (last - latest_recorded).min(back_off), latest_recorded, "2025-03-05")
            }
        };
        // A lower level taking effect when recorded cancels the scheduled changes instead
        // (see `a_lower_level_now_cancels_every_change_scheduled_after_it`).
        let now = instant(latest_recorded);
        let lowers = level < ledger.level_at(who, now)
            || ledger
                .history(who)
                .any(|receipt| receipt.cancelled_by.is_none() && receipt.effective > now && level < receipt.level);
        prop_assume!(kind != Outcome::NotAfterLatest || effective > latest_recorded || !lowers);
        let attempt = Attempt {
            change: ConsentChange::new(
                who,
                level,
                instant(effective),
                actor,
                Channel::SupportRequest,
                version.parse().unwrap(),
            ),
            recorded_at: instant(recorded_at),
            cancelled: false,
        };
        let before = ledger.clone();
        let before_json = ledger.to_json().unwrap();
        let result = ledger.record(attempt.change, attempt.recorded_at);
        prop_assert_eq!(Outcome::of(&result), kind, "{:?}", result);
        prop_assert_eq!(&ledger, &before);
        prop_assert_eq!(ledger.to_json().unwrap(), before_json);
    }

    /// An export whose changes of one customer are put out of order is refused with an error
    /// naming that customer's position, never imported.
    #[test]
    fn reordered_export_is_refused((ledger, _) in ledger(), pick in any::<prop::sample::Index>()) {
        let mut value = serde_json::to_value(&ledger).unwrap();
        let customers = value["customers"].as_array_mut().unwrap();
        let long: Vec<usize> = customers
            .iter()
            .enumerate()
            .filter(|(_, customer)| customer["changes"].as_array().unwrap().len() >= 2)
            .map(|(position, _)| position)
            .collect();
        prop_assume!(!long.is_empty());
        let position = *pick.get(&long);
        customers[position]["changes"].as_array_mut().unwrap().reverse();
        let error = ConsentLedger::from_json(&value.to_string(), known()).unwrap_err();
        let location = format!("customers[{position}].changes[1]");
        let names_the_change = matches!(
            &error,
            ConsentError::InvalidLedger { location: at, .. } if *at == location
        );
        prop_assert!(names_the_change, "{}", error);
    }

    /// An export imported into a ledger that does not know one of its versions is refused,
    /// naming the version.
    #[test]
    fn export_with_a_version_the_importer_does_not_know_is_refused((ledger, accepted) in ledger()) {
        let used: Vec<&str> = KNOWN_VERSIONS
            .into_iter()
            .filter(|version| {
                accepted
                    .iter()
                    .any(|attempt| attempt.change.policy_version.as_str() == *version)
            })
            .collect();
        prop_assume!(!used.is_empty());
        // Know everything but the first version in use.
        let others = KNOWN_VERSIONS
            .into_iter()
            .filter(|version| *version != used[0])
            .map(|version| version.parse().unwrap());
        let fewer = KnownPolicyVersions::try_from_iter(others).unwrap();
        let error = ConsentLedger::from_json(&ledger.to_json().unwrap(), fewer).unwrap_err();
        let names_the_version = matches!(
            &error,
            ConsentError::InvalidLedger { reason, .. }
                if matches!(&**reason, ConsentError::UnknownPolicyVersion { version }
                    if version.as_str() == used[0])
        );
        prop_assert!(names_the_version, "{}", error);
    }

    /// Any text fed to the importer gives a ledger or a typed error, never a panic.
    #[test]
    fn arbitrary_text_never_panics_the_importer(text in ".{0,200}") {
        let _ = ConsentLedger::from_json(&text, known());
    }

    /// training.opt-out, issue 18: a lower level recorded now takes effect now and cancels
    /// every change of the customer scheduled after it; the cancelled receipts stay in the
    /// history, marked by the receipt that cancelled them; the export and a replay of the
    /// receipts in order (as the fact log replays them) reproduce the ledger exactly.
    #[test]
    fn a_lower_level_now_cancels_every_change_scheduled_after_it(
        (mut ledger, _) in ledger(),
        who in customer(),
        scheduled in prop::collection::vec((level(), 1..300_i64), 1..5),
        lower in level(),
    ) {
        let start = ledger
            .latest_recorded()
            .map_or(0, |at| (at.unix_nanos() - BASE_NANOS) / 1_000_000_000)
            .max(ledger.history(who).next_back().map_or(0, |r| (r.effective.unix_nanos() - BASE_NANOS) / 1_000_000_000))
            + 1;
        let change = |level, effective| {
            ConsentChange::new(
                who,
                level,
                instant(effective),
                ConsentActor::Customer,
                Channel::Api,
                "2025-03-05".parse().unwrap(),
            )
        };
        // Changes scheduled ahead of the clock, which stays at `start`.
        let mut offset = start + 10;
        let mut receipts = Vec::new();
        for (level, step) in &scheduled {
            offset += step;
            receipts.push(ledger.record(change(*level, offset), instant(start)).unwrap().receipt);
        }
        let now = start + 5;
        let in_force = ledger.level_at(who, instant(now));
        let highest = scheduled.iter().map(|(level, _)| *level).max().unwrap();
        prop_assume!(lower < in_force || lower < highest);
        let withdrawal = ledger.record(change(lower, now), instant(now)).unwrap();
        prop_assert_eq!(withdrawal.previous_level, in_force);
        // In force from now on, whatever was scheduled.
        for at in [now, now + 1, offset, offset + 1_000] {
            prop_assert_eq!(ledger.level_at(who, instant(at)), lower);
        }
        let history: Vec<ConsentReceipt> = ledger.history(who).collect();
        for receipt in &receipts {
            let cancelled = history.iter().find(|r| r.receipt == *receipt).unwrap();
            prop_assert_eq!(cancelled.cancelled_by, Some(withdrawal.receipt));
        }
        prop_assert_eq!(history.last().unwrap(), &withdrawal);
        prop_assert!(history.windows(2).all(|pair| pair[0].receipt < pair[1].receipt));
        prop_assert_eq!(ledger.history(who).rev().count(), history.len());
        // The export round trips, cancellations included.
        let back = ConsentLedger::from_json(&ledger.to_json().unwrap(), known()).unwrap();
        prop_assert_eq!(&back, &ledger);
        prop_assert!(back.history(who).eq(ledger.history(who)));
        // Replaying every receipt in receipt order reproduces the ledger and its receipts.
        let mut replayed = ConsentLedger::new(known());
        for receipt in all_receipts(&ledger) {
            let change = ConsentChange::new(
                receipt.customer,
                receipt.level,
                receipt.effective,
                receipt.actor.clone(),
                receipt.channel,
                receipt.policy_version.clone(),
            );
            let again = replayed.record(change, receipt.recorded_at).unwrap();
            prop_assert_eq!(again.receipt, receipt.receipt);
            prop_assert_eq!(again.previous_level, receipt.previous_level);
        }
        prop_assert_eq!(&replayed, &ledger);
    }
}
