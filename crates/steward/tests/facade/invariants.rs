//! Property tests of docs/design.md section 3, invariants 1 to 3, at the facade: `check()` agrees
//! with a naive model of the policy written independently of it (default deny: nothing is
//! allowed that no rule of the model allows), training never exceeds the consent at
//! collection nor crosses customers, and later preference changes never change a decision
//! about earlier data.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed setup step must fail the test"
)]

use proptest::prelude::*;
use steward::retention::{HoldId, HoldScope, LegalHold};
use steward::{consent::*, vocabulary::*, *};

use crate::common::*;

/// A customer's world: preference changes (day, level) in increasing order, when the
/// relationship ended (if it did), and a legal hold on all their data (its review day), if
/// any: never released, it stands at every instant, past its review day too.
#[derive(Debug, Clone)]
struct World {
    changes: Vec<(i64, TrainingLevel)>,
    ended: Option<i64>,
    hold_review: Option<i64>,
    on_roster: bool,
    /// Alice's choices about interactive features: (day recorded, days until in force,
    /// opted in), in recording order.
    interactive: Vec<(i64, i64, bool)>,
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::btree_map(0i64..400, prop::sample::select(LEVELS.to_vec()), 0..6),
        prop::option::of(1i64..400),
        prop::option::of(1i64..500),
        any::<bool>(),
        interactive_choices(),
    )
        .prop_map(
            |(changes, ended, hold_review, on_roster, interactive)| World {
                changes: changes.into_iter().collect(),
                ended,
                hold_review,
                on_roster,
                interactive,
            },
        )
}

/// Choices about interactive features: recorded on increasing days, some in force at once,
/// some scheduled days ahead (which a later choice may cancel).
fn interactive_choices() -> impl Strategy<Value = Vec<(i64, i64, bool)>> {
    prop::collection::vec(
        (0i64..400, prop_oneof![Just(0i64), 0i64..60], any::<bool>()),
        0..6,
    )
    .prop_map(|mut choices| {
        choices.sort_by_key(|(recorded, ..)| *recorded);
        choices
    })
}

/// Whether alice's opt-in is in force on `when`, read plainly from her choices: each choice
/// replaces every earlier one not yet in force when it takes effect, and the newest one in
/// force by `when` decides (opted out before any).
fn model_opted_in(world: &World, when: i64) -> bool {
    let mut standing: Vec<(i64, bool)> = Vec::new();
    for (recorded, ahead, opted_in) in &world.interactive {
        let effective = recorded + ahead;
        standing.retain(|(from, _)| *from <= effective);
        standing.push((effective, *opted_in));
    }
    standing
        .iter()
        .rev()
        .find(|(from, _)| *from <= when)
        .is_some_and(|(_, opted_in)| *opted_in)
}

#[derive(Debug, Clone, Copy)]
enum ActionKind {
    Use(Purpose),
    Open(Purpose, bool),
    Train(u8),
    Keep,
}

#[derive(Debug, Clone, Copy)]
enum ActorKind {
    Customer,
    Steward,
    Service,
    Pipeline,
}

#[derive(Debug, Clone, Copy)]
struct Ask {
    actor: ActorKind,
    action: ActionKind,
    category: DataCategory,
    owner_is_alice: bool,
    collected: i64,
    now: i64,
    sealed_level: Option<TrainingLevel>,
}

fn ask() -> impl Strategy<Value = Ask> {
    let purpose = prop::sample::select(Purpose::ALL.to_vec());
    let action = prop_oneof![
        purpose.clone().prop_map(ActionKind::Use),
        (purpose, any::<bool>()).prop_map(|(p, j)| ActionKind::Open(p, j)),
        (0u8..4).prop_map(ActionKind::Train),
        Just(ActionKind::Keep),
    ];
    let actor = prop_oneof![
        Just(ActorKind::Customer),
        Just(ActorKind::Steward),
        Just(ActorKind::Service),
        Just(ActorKind::Pipeline),
    ];
    (
        actor,
        action,
        prop::sample::select(DataCategory::ALL.to_vec()),
        any::<bool>(),
        -30i64..500,
        0i64..600,
        prop::option::of(prop::sample::select(LEVELS.to_vec())),
    )
        .prop_map(
            |(actor, action, category, owner_is_alice, collected, now, sealed_level)| Ask {
                actor,
                action,
                category,
                owner_is_alice,
                collected,
                now,
                sealed_level,
            },
        )
}

/// Requests that get past who may act, so that allows and the later rules (retention,
/// consent) are common: each action asked by its own actor, opening and training on logs.
fn fitting_ask() -> impl Strategy<Value = Ask> {
    ask().prop_map(|mut ask| {
        ask.actor = match ask.action {
            ActionKind::Use(_) | ActionKind::Keep => ActorKind::Service,
            ActionKind::Open(..) => ActorKind::Steward,
            ActionKind::Train(_) => ActorKind::Pipeline,
        };
        match ask.action {
            ActionKind::Open(..) | ActionKind::Train(_) => {
                ask.category = DataCategory::LlmRequestLog;
            }
            ActionKind::Use(_) if ask.category == DataCategory::LlmRequestLog => {
                ask.category = DataCategory::Email;
            }
            _ => {}
        }
        ask
    })
}

/// Facts holding `world` for alice; bob is a customer since day 0 who never opted in.
fn build(policy: &Policy, world: &World) -> MemoryFacts {
    let mut facts = MemoryFacts::new(policy);
    facts.relationships.start(alice(), day(0)).unwrap();
    facts.relationships.start(bob(), day(0)).unwrap();
    if let Some(ended) = world.ended {
        facts.relationships.end(alice(), day(ended)).unwrap();
    }
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
    for (recorded, ahead, opted_in) in &world.interactive {
        let choice = if *opted_in {
            InteractiveChoice::OptedIn
        } else {
            InteractiveChoice::OptedOut
        };
        let change = InteractiveChange::new(
            alice(),
            choice,
            day(recorded + ahead),
            ConsentActor::Customer,
            Channel::Api,
            policy.version().clone(),
        );
        facts.interactive.record(change, day(*recorded)).unwrap();
    }
    if let Some(review) = world.hold_review {
        let hold = LegalHold::place(
            HoldId::new(1),
            HoldScope::Customer { customer: alice() },
            "LEGAL-1 litigation".parse().unwrap(),
            "counsel".parse().unwrap(),
            day(-100),
            day(review),
        )
        .unwrap();
        facts.holds.place(hold).unwrap();
    }
    if world.on_roster {
        // The roster changes only through a vault, which audits the change.
        let master = logs::MasterKey::from_bytes(
            "kek-test".parse().unwrap(),
            b"steward test key 01, not secret!",
        )
        .unwrap();
        let trail = logs::AuditTrail::new(
            logs::AuditKey::from_bytes(b"steward test key 02, not secret!").unwrap(),
            logs::MemoryAuditStore::new(),
        )
        .unwrap();
        let vault = Vault::new(policy.clone(), facts, logs::Keyring::new(master), trail).unwrap();
        vault.add_steward(steward(), admin()).unwrap();
        return vault.facts().unwrap().clone();
    }
    facts
}

fn scope_of(code: u8, owner_is_alice: bool) -> TrainingScope {
    match code {
        0 => TrainingScope::Private { owner: alice() },
        1 => TrainingScope::Private { owner: bob() },
        2 => TrainingScope::Shared,
        _ => {
            let _ = owner_is_alice;
            TrainingScope::OpenWeight
        }
    }
}

fn decide(policy: &Policy, facts: &MemoryFacts, ask: &Ask) -> Decision {
    let steward = steward();
    let ticket = ticket();
    let owner = if ask.owner_is_alice { alice() } else { bob() };
    let mut data = DataRef::new(ask.category, owner, day(ask.collected));
    data.consent_at_collection = ask
        .sealed_level
        .map_or(CollectionConsent::FromFacts, CollectionConsent::Known);
    let actor = match ask.actor {
        ActorKind::Customer => Actor::Customer(owner),
        ActorKind::Steward => Actor::Steward(&steward),
        ActorKind::Service => Actor::Service,
        ActorKind::Pipeline => Actor::TrainingPipeline,
    };
    let action = match ask.action {
        ActionKind::Use(purpose) => Action::Use { purpose },
        ActionKind::Open(purpose, justified) => Action::OpenLog {
            purpose,
            justification: justified.then_some(&ticket),
        },
        ActionKind::Train(code) => Action::Train {
            scope: scope_of(code, ask.owner_is_alice),
        },
        ActionKind::Keep => Action::Keep,
    };
    policy.check(
        &Request {
            actor,
            action,
            data,
            now: day(ask.now),
        },
        facts,
    )
}

/// The policy, written as plainly as possible, independent of the implementation.
fn model_allows(world: &World, ask: &Ask, strict: bool) -> bool {
    let is_log = ask.category == DataCategory::LlmRequestLog;
    let personal = matches!(
        ask.category.clause(),
        ClauseId::CollectPersonal | ClauseId::CollectUsage
    );
    let ended = if ask.owner_is_alice {
        world.ended
    } else {
        None
    };
    // A hold stands until released (the world releases none), whatever its review date.
    let held = ask.owner_is_alice && world.hold_review.is_some();
    if ask.collected > ask.now {
        return false;
    }
    // The relationship the data was collected in: [0, ended).
    let inside = ask.collected >= 0 && ended.is_none_or(|end| ask.collected < end);
    // Nothing is kept past the relationship; the window (30 days) is for carrying out deletion.
    // Consent records are kept as proof for 1095 days more (and serve nothing meanwhile).
    let serves = inside && ended.is_none_or(|end| ask.now < end);
    let keepable = held
        || if ask.category == DataCategory::ConsentRecord {
            consent_proof_due(ask, ended).is_none_or(|due| ask.now < due + 30)
        } else {
            inside && ended.is_none_or(|end| ask.now < end + 30)
        };
    let level_at = |when: i64| {
        world
            .changes
            .iter()
            .rfind(|(day, _)| *day <= when)
            .map_or(TrainingLevel::None, |(_, level)| *level)
    };
    match (ask.actor, ask.action) {
        (ActorKind::Service, ActionKind::Use(purpose)) => {
            let listed = match ask.category {
                DataCategory::ConsentRecord => {
                    matches!(purpose, Purpose::ProvideService | Purpose::CustomerCare)
                }
                _ => personal && purpose.group() == PurposeGroup::Service,
            };
            // Interactive features only while the owner's opt-in is in force; bob never opts in.
            let chosen = purpose != Purpose::InteractiveFeatures
                || (ask.owner_is_alice && model_opted_in(world, ask.now));
            listed && chosen && serves
        }
        (ActorKind::Steward, ActionKind::Open(purpose, justified)) => {
            is_log
                && purpose.group() == PurposeGroup::Logs
                && world.on_roster
                && justified
                && serves
        }
        (ActorKind::Pipeline, ActionKind::Train(code)) => {
            let owner_level = |when| {
                if ask.owner_is_alice {
                    level_at(when)
                } else {
                    TrainingLevel::None
                }
            };
            let mut level = ask
                .sealed_level
                .unwrap_or_else(|| owner_level(ask.collected));
            if strict {
                level = level.min(owner_level(ask.now));
            }
            let permitted = match code {
                0 => ask.owner_is_alice && level >= TrainingLevel::Private,
                1 => !ask.owner_is_alice && level >= TrainingLevel::Private,
                2 => level >= TrainingLevel::Shared,
                _ => level >= TrainingLevel::OpenWeight,
            };
            is_log && permitted && serves
        }
        (ActorKind::Service, ActionKind::Keep) => keepable,
        _ => false,
    }
}

/// `ask` decided by the bundled policy (in the strict consent mode if `strict`) over `world`.
fn decide_in(world: &World, ask: &Ask, strict: bool) -> Decision {
    let mut policy = Policy::coder_model();
    if strict {
        policy = policy.with_consent_mode(ConsentMode::WithdrawalStopsProcessing);
    }
    decide(&policy, &build(&policy, world), ask)
}

/// The clause that decides, written from the table in docs/design.md section 1, independent of
/// the implementation: for a deny, the first rule the request fails (who may take which action
/// for which purpose, then retention, then consent); for an allow, the clause that grants it.
fn model_decisive(world: &World, ask: &Ask, strict: bool) -> ClauseId {
    let is_log = ask.category == DataCategory::LlmRequestLog;
    if ask.collected > ask.now {
        // Cannot be evaluated: what cannot be placed in time is not shown to be retained.
        return ClauseId::LogsRetention;
    }
    // Who may take which action, for which purpose: the clause of the rule that fails.
    let actor_rule = match (ask.actor, ask.action) {
        (ActorKind::Service, ActionKind::Use(purpose)) => {
            if is_log {
                Some(ClauseId::LogsAccess)
            } else if !model_allows_purpose(ask.category, purpose)
                // Interactive features need the owner's opt-in in force (bob never opts in).
                || (purpose == Purpose::InteractiveFeatures
                    && !(ask.owner_is_alice && model_opted_in(world, ask.now)))
            {
                Some(ClauseId::UsePurposes)
            } else {
                None
            }
        }
        (ActorKind::Steward, ActionKind::Open(purpose, justified)) => {
            if !is_log {
                Some(ClauseId::LogsAccess)
            } else if purpose.group() != PurposeGroup::Logs {
                Some(ClauseId::LogsPurposes)
            } else if !world.on_roster || !justified {
                Some(ClauseId::LogsAccess)
            } else {
                None
            }
        }
        (ActorKind::Pipeline, ActionKind::Train(_)) => {
            (!is_log).then_some(ClauseId::TrainingDefaultOff)
        }
        (ActorKind::Service, ActionKind::Keep) => None,
        (_, ActionKind::Use(_)) => Some(ClauseId::UsePurposes),
        (_, ActionKind::Open(..)) => Some(ClauseId::LogsAccess),
        (_, ActionKind::Train(_)) => Some(ClauseId::TrainingDefaultOff),
        (_, ActionKind::Keep) => Some(ask.category.clause()),
    };
    if let Some(clause) = actor_rule {
        return clause;
    }
    let ended = if ask.owner_is_alice {
        world.ended
    } else {
        None
    };
    let inside = ask.collected >= 0 && ended.is_none_or(|end| ask.collected < end);
    let serves = inside && ended.is_none_or(|end| ask.now < end);
    // A consent record that serves nothing any more (its relationship ended, or it was
    // recorded outside every relationship), within its proof period, is kept as proof only: a
    // use is refused by use.purposes (no purpose is left), not by retention.
    let proof_only = ask.category == DataCategory::ConsentRecord
        && !serves
        && consent_proof_due(ask, ended).is_some_and(|due| ask.now < due);
    if proof_only && matches!(ask.action, ActionKind::Use(_)) {
        return ClauseId::UsePurposes;
    }
    // Keeping is decided by retention, allowed or not; anything else on data that no longer
    // serves is refused by it.
    if matches!(ask.action, ActionKind::Keep) || !serves {
        return ClauseId::LogsRetention;
    }
    let ActionKind::Train(code) = ask.action else {
        // What is left is granted: use by use.purposes, opening by logs.access.
        return match ask.action {
            ActionKind::Open(..) => ClauseId::LogsAccess,
            _ => ClauseId::UsePurposes,
        };
    };
    let other_customers_private_model = match code {
        0 => !ask.owner_is_alice,
        1 => ask.owner_is_alice,
        _ => false,
    };
    if other_customers_private_model {
        return ClauseId::TrainingPrivate;
    }
    let level_at = |when: i64| {
        if !ask.owner_is_alice {
            return TrainingLevel::None;
        }
        world
            .changes
            .iter()
            .rfind(|(day, _)| *day <= when)
            .map_or(TrainingLevel::None, |(_, level)| *level)
    };
    let mut level = ask.sealed_level.unwrap_or_else(|| level_at(ask.collected));
    if strict {
        level = level.min(level_at(ask.now));
    }
    match (level, code) {
        (TrainingLevel::None, _) => ClauseId::TrainingDefaultOff,
        (_, 0 | 1) => ClauseId::TrainingPrivate,
        (_, 2) => ClauseId::TrainingShared,
        _ => ClauseId::TrainingOpenWeight,
    }
}

/// The bundled proof period of consent records, in days after the relationship end.
const PROOF_DAYS: i64 = 1095;

/// When a consent record's proof period ends: 1095 days after the end of the relationship it
/// was recorded in (`None` while that lasts), or after it was recorded when outside every
/// relationship (nothing else anchors it then).
fn consent_proof_due(ask: &Ask, ended: Option<i64>) -> Option<i64> {
    let inside = ask.collected >= 0 && ended.is_none_or(|end| ask.collected < end);
    if inside {
        ended.map(|end| end + PROOF_DAYS)
    } else {
        Some(ask.collected + PROOF_DAYS)
    }
}

/// Whether the bundled policy lists `purpose` for service use of `category`.
fn model_allows_purpose(category: DataCategory, purpose: Purpose) -> bool {
    match category {
        DataCategory::ConsentRecord => {
            matches!(purpose, Purpose::ProvideService | Purpose::CustomerCare)
        }
        _ => purpose.group() == PurposeGroup::Service,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Invariant 1: default deny — check() allows exactly what the model's rules allow, and
    /// every deny names its reason.
    #[test]
    fn check_agrees_with_the_model_and_denies_by_default(world in world(), ask in ask(), strict in any::<bool>()) {
        let decision = decide_in(&world, &ask, strict);
        prop_assert_eq!(decision.is_allowed(), model_allows(&world, &ask, strict), "{}", decision);
        prop_assert_eq!(decision.reason().is_some(), !decision.is_allowed());
    }

    /// A decision names the clause that decided it (for a deny the rule that failed, for an
    /// allow the clause that grants it) as the model does, lists it first among its clauses,
    /// and never again among the supporting ones.
    #[test]
    fn the_decisive_clause_is_the_rule_that_decided(
        world in world(),
        ask in prop_oneof![ask(), fitting_ask()],
        strict in any::<bool>(),
    ) {
        let decision = decide_in(&world, &ask, strict);
        prop_assert_eq!(decision.decisive(), model_decisive(&world, &ask, strict), "{}", decision);
        prop_assert_eq!(decision.clauses().iter().next(), Some(decision.decisive()));
        prop_assert!(!decision.supporting().contains(decision.decisive()), "{}", decision);
        prop_assert_eq!(
            decision.clauses().iter().count(),
            decision.supporting().len() + 1
        );
    }

    /// use.purposes: use for interactive features is never allowed at an instant where the
    /// customer's opt-in is not in force, and is allowed where it is (for data that serves).
    #[test]
    fn interactive_use_is_allowed_only_while_the_opt_in_is_in_force(
        world in world(),
        mut ask in ask(),
    ) {
        ask.actor = ActorKind::Service;
        ask.action = ActionKind::Use(Purpose::InteractiveFeatures);
        ask.category = DataCategory::Email;
        ask.owner_is_alice = true;
        // Data dated after the request cannot be evaluated, which says nothing of the opt-in.
        ask.collected = ask.collected.min(ask.now);
        let policy = Policy::coder_model();
        let facts = build(&policy, &world);
        let decision = decide(&policy, &facts, &ask);
        let opted_in = model_opted_in(&world, ask.now);
        if !opted_in {
            prop_assert!(!decision.is_allowed(), "{}", decision);
            prop_assert_eq!(decision.reason(), Some(DenyReason::InteractiveNotOptedIn));
            prop_assert_eq!(decision.decisive(), ClauseId::UsePurposes);
        }
        // Where the opt-in stands, only retention may still refuse.
        if opted_in && ask.collected >= 0 && ask.collected <= ask.now
            && world.ended.is_none_or(|end| ask.now < end)
        {
            prop_assert!(decision.is_allowed(), "{}", decision);
        }
    }

    /// Invariant 1 at the retention boundaries, where random instants rarely land: the
    /// relationship end and the exclusive deadline end + window.
    #[test]
    fn check_agrees_with_the_model_at_retention_boundaries(
        mut world in world(),
        mut ask in ask(),
        ended in 1i64..400,
        offset in prop::sample::select(vec![-1i64, 0, 1, 29, 30, 31]),
        shape in 0u8..3,
    ) {
        world.ended = Some(ended);
        ask.owner_is_alice = true;
        ask.now = ended + offset;
        // Mostly data from inside the relationship, which is what the boundaries decide.
        ask.collected = ask.collected.rem_euclid(ended + 1).min(ask.now);
        // Requests the boundaries decide: keeping data, and a listed use of it.
        match shape {
            0 => {
                ask.actor = ActorKind::Service;
                ask.action = ActionKind::Keep;
            }
            1 => {
                ask.actor = ActorKind::Service;
                ask.action = ActionKind::Use(Purpose::ProvideService);
                ask.category = DataCategory::Email;
            }
            _ => {}
        }
        let policy = Policy::coder_model();
        let facts = build(&policy, &world);
        let decision = decide(&policy, &facts, &ask);
        prop_assert_eq!(decision.is_allowed(), model_allows(&world, &ask, false), "{}", decision);
    }

    /// Consent receipts of an ended relationship are proof only (docs/retention.md): from the
    /// end on, no use, opening or training of any of the customer's data from that
    /// relationship is allowed, whatever consent they gave; keeping a consent record is allowed
    /// until end + proof period + window and not after; every use of one is refused as proof
    /// only, naming use.purposes, until it is due.
    #[test]
    fn consent_records_of_an_ended_relationship_serve_only_as_proof(
        mut world in world(),
        mut ask in ask(),
        ended in 1i64..400,
        after in prop::sample::select(vec![0i64, 1, 200, PROOF_DAYS - 1, PROOF_DAYS, PROOF_DAYS + 29, PROOF_DAYS + 30]),
        category in prop::sample::select(DataCategory::ALL.to_vec()),
    ) {
        world.ended = Some(ended);
        world.hold_review = None;
        ask.owner_is_alice = true;
        ask.category = category;
        ask.now = ended + after;
        ask.collected = ask.collected.rem_euclid(ended);
        let policy = Policy::coder_model();
        let facts = build(&policy, &world);
        let decision = decide(&policy, &facts, &ask);
        match (ask.actor, ask.action) {
            (ActorKind::Service, ActionKind::Keep) => {
                let kept = category != DataCategory::ConsentRecord || after < PROOF_DAYS + 30;
                let kept = kept && (category == DataCategory::ConsentRecord || after < 30);
                prop_assert_eq!(decision.is_allowed(), kept, "{}", decision);
            }
            (ActorKind::Service, ActionKind::Use(purpose))
                if category == DataCategory::ConsentRecord
                    && model_allows_purpose(category, purpose)
                    && after < PROOF_DAYS =>
            {
                prop_assert_eq!(decision.reason(), Some(DenyReason::KeptOnlyAsProof), "{}", decision);
                prop_assert_eq!(decision.decisive(), ClauseId::UsePurposes);
            }
            _ => prop_assert!(!decision.is_allowed(), "{}", decision),
        }
    }

    /// Invariant 2: training only as the consent at collection permits, and a private-scope
    /// job never reads another customer's data.
    #[test]
    fn training_never_exceeds_consent_at_collection(world in world(), mut ask in ask(), code in 0u8..4) {
        ask.actor = ActorKind::Pipeline;
        ask.action = ActionKind::Train(code);
        ask.category = DataCategory::LlmRequestLog;
        let policy = Policy::coder_model();
        let facts = build(&policy, &world);
        let decision = decide(&policy, &facts, &ask);
        if decision.is_allowed() {
            let owner = if ask.owner_is_alice { alice() } else { bob() };
            let scope = scope_of(code, ask.owner_is_alice);
            let level = ask
                .sealed_level
                .unwrap_or_else(|| facts.consent.level_at(owner, day(ask.collected)));
            prop_assert!(level.permits(scope, owner));
            if let TrainingScope::Private { owner: model_owner } = scope {
                prop_assert_eq!(model_owner, owner);
            }
        }
    }

    /// Invariant 3: forward-only — preference changes after a record was collected leave
    /// every decision about it unchanged (default mode).
    #[test]
    fn later_preference_changes_leave_earlier_decisions_unchanged(
        world in world(),
        mut ask in ask(),
        later in prop::collection::vec(prop::sample::select(LEVELS.to_vec()), 1..5),
    ) {
        ask.owner_is_alice = true;
        let policy = Policy::coder_model();
        let mut facts = build(&policy, &world);
        let before = decide(&policy, &facts, &ask);
        let last_change = world.changes.last().map_or(i64::MIN, |(day, _)| *day);
        let first = ask.collected.max(last_change) + 1;
        for (when, level) in (first..).zip(later) {
            let change = ConsentChange::new(
                alice(),
                level,
                day(when),
                ConsentActor::Customer,
                Channel::AccountSettings,
                policy.version().clone(),
            );
            facts.consent.record(change, day(when)).unwrap();
        }
        prop_assert_eq!(decide(&policy, &facts, &ask), before);
    }
}
