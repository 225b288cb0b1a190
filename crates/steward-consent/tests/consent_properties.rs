//! Properties of training levels, consent modes and the consent ledger (DESIGN.md section 3,
//! invariants 2, 3 and 9), checked on random histories against simple reference models.

use proptest::prelude::*;
use steward_consent::{
    Actor, AdminId, Channel, ConsentChange, ConsentError, ConsentLedger, ConsentMode, TrainingLevel,
};
use steward_core::{CustomerId, PolicyVersion, Timestamp, TrainingScope};

/// 2025-03-05T00:00:00Z in nanoseconds; every generated instant is a few seconds after it.
const BASE_NANOS: i64 = 1_741_132_800_000_000_000;
const CUSTOMERS: u8 = 4;

fn instant(seconds: u16) -> Timestamp {
    Timestamp::from_unix_nanos(BASE_NANOS + i64::from(seconds) * 1_000_000_000)
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

fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        3 => Just(Actor::Customer),
        1 => prop::sample::select(vec!["dana", "erik.support", "ops@example.com"])
            .prop_filter_map("valid admin id", |name| name.parse::<AdminId>().ok())
            .prop_map(Actor::Admin),
    ]
}

fn channel() -> impl Strategy<Value = Channel> {
    prop::sample::select(Channel::ALL.to_vec())
}

fn policy_version() -> impl Strategy<Value = PolicyVersion> {
    prop::sample::select(vec!["2025-03-05", "2025-09-01", "v3"])
        .prop_filter_map("valid policy version", |text| text.parse().ok())
}

/// A change attempt at `seconds` after the base instant; some attempts will be out of order.
fn change() -> impl Strategy<Value = ConsentChange> {
    (
        customer(),
        level(),
        0..2_000_u16,
        actor(),
        channel(),
        policy_version(),
    )
        .prop_map(|(customer, level, seconds, actor, channel, version)| {
            ConsentChange::new(customer, level, instant(seconds), actor, channel, version)
        })
}

/// A ledger built from random attempts (out-of-order ones are rejected and skipped), with
/// the attempts that were accepted.
fn ledger() -> impl Strategy<Value = (ConsentLedger, Vec<ConsentChange>)> {
    prop::collection::vec(change(), 0..40).prop_map(|changes| {
        let mut ledger = ConsentLedger::new();
        let accepted = changes
            .into_iter()
            .filter(|change| ledger.record(change.clone()).is_ok())
            .collect();
        (ledger, accepted)
    })
}

/// The naive reference: scan every accepted change of the customer and keep the last one
/// effective at or before the instant.
fn reference_level_at(
    accepted: &[ConsentChange],
    customer: CustomerId,
    at: Timestamp,
) -> TrainingLevel {
    accepted
        .iter()
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
        queries in prop::collection::vec((customer(), 0..2_100_u16), 1..30),
    ) {
        for (customer, seconds) in queries {
            let at = instant(seconds);
            prop_assert_eq!(
                ledger.level_at(customer, at),
                reference_level_at(&accepted, customer, at)
            );
        }
    }

    /// The ledger accepts exactly the changes that come strictly after the customer's latest,
    /// and keeps them all.
    #[test]
    fn ledger_accepts_exactly_the_changes_after_the_latest(changes in prop::collection::vec(change(), 0..40)) {
        let mut ledger = ConsentLedger::new();
        let mut latest: std::collections::HashMap<CustomerId, Timestamp> = Default::default();
        let mut accepted = 0_usize;
        for change in changes {
            let expected = latest.get(&change.customer).is_none_or(|&last| change.effective > last);
            let result = ledger.record(change.clone());
            prop_assert_eq!(result.is_ok(), expected);
            if expected {
                latest.insert(change.customer, change.effective);
                accepted += 1;
            } else {
                let is_not_after_latest = matches!(
                    result,
                    Err(ConsentError::NotAfterLatest { .. })
                );
                prop_assert!(is_not_after_latest);
            }
        }
        prop_assert_eq!(ledger.change_count(), accepted);
    }

    /// training.default-off: before a customer's first change, and for a customer never seen,
    /// the level is none, and none permits no scope at all.
    #[test]
    fn default_off_before_any_change(
        (ledger, accepted) in ledger(),
        who in customer(),
        seconds in 0..2_000_u16,
        scope in scope(),
    ) {
        let first = accepted
            .iter()
            .filter(|change| change.customer == who)
            .map(|change| change.effective)
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
        collections in prop::collection::vec((customer(), 0..2_000_u16), 1..20),
        later in prop::collection::vec((customer(), level(), 1..500_u16), 1..20),
        now in 0..3_000_u16,
    ) {
        let mode = ConsentMode::ForwardOnly;
        let before: Vec<TrainingLevel> = collections
            .iter()
            .map(|&(who, seconds)| {
                ledger.effective_level(who, instant(seconds), instant(now), mode)
            })
            .collect();
        // Every later change is effective after every collection instant (>= 2000 s).
        let mut offset = 2_000_u16;
        for (who, level, step) in later {
            offset = offset.saturating_add(step);
            let change = ConsentChange::new(
                who,
                level,
                instant(offset),
                Actor::Customer,
                Channel::Api,
                "2025-03-05".parse().unwrap(),
            );
            ledger.record(change).unwrap();
        }
        for (&(who, seconds), level) in collections.iter().zip(before) {
            prop_assert_eq!(
                ledger.effective_level(who, instant(seconds), instant(now), mode),
                level
            );
            prop_assert_eq!(
                ledger.effective_level(who, instant(seconds), instant(u16::MAX), mode),
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
        collected in 0..2_100_u16,
        now in 0..2_100_u16,
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

    /// Export and import round-trip losslessly, and the export is deterministic.
    #[test]
    fn json_export_round_trips((ledger, accepted) in ledger()) {
        let json = ledger.to_json().unwrap();
        let back = ConsentLedger::from_json(&json).unwrap();
        prop_assert_eq!(&back, &ledger);
        prop_assert_eq!(back.to_json().unwrap(), json.clone());
        // Serde on the ledger itself goes through the same validation.
        let value = serde_json::to_value(&ledger).unwrap();
        let via_serde: ConsentLedger = serde_json::from_value(value).unwrap();
        prop_assert_eq!(&via_serde, &ledger);
        // Histories, receipts included, survive too.
        for change in &accepted {
            prop_assert!(back.history(change.customer).eq(ledger.history(change.customer)));
        }
        // So does every receipt on its own.
        for change in &accepted {
            for receipt in ledger.history(change.customer) {
                let text = serde_json::to_string(&receipt).unwrap();
                prop_assert_eq!(serde_json::from_str::<steward_consent::ConsentReceipt>(&text).unwrap(), receipt);
            }
        }
    }

    /// A rejected change leaves the ledger exactly as it was, export included.
    #[test]
    fn rejected_changes_leave_the_ledger_untouched(
        (mut ledger, accepted) in ledger(),
        pick in any::<prop::sample::Index>(),
        back_off in 0..100_u16,
        level in level(),
        actor in actor(),
        version in policy_version(),
    ) {
        prop_assume!(!accepted.is_empty());
        let latest = pick.get(&accepted);
        let who = latest.customer;
        let last = ledger.history(who).next_back().unwrap().effective;
        let early = Timestamp::from_unix_nanos(
            last.unix_nanos() - i64::from(back_off) * 1_000_000_000,
        );
        let before = ledger.clone();
        let before_json = ledger.to_json().unwrap();
        let result = ledger.record(ConsentChange::new(
            who, level, early, actor, Channel::SupportRequest, version,
        ));
        let is_not_after_latest = matches!(result, Err(ConsentError::NotAfterLatest { .. }));
        prop_assert!(is_not_after_latest);
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
        let error = ConsentLedger::from_json(&value.to_string()).unwrap_err();
        let location = format!("customers[{position}].changes[1]");
        let names_the_change = matches!(
            &error,
            ConsentError::InvalidLedger { location: at, .. } if *at == location
        );
        prop_assert!(names_the_change, "{}", error);
    }

    /// Any text fed to the importer gives a ledger or a typed error, never a panic.
    #[test]
    fn arbitrary_text_never_panics_the_importer(text in ".{0,200}") {
        let _ = ConsentLedger::from_json(&text);
    }
}
