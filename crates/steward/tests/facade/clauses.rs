//! One test per clause of the policy (docs/design.md section 1), named after the clause, through
//! the public API only. docs/policy-map.md points at these.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed setup step must fail the test"
)]

use steward::logs::{ConfigError, LogsError, OpenError};
use steward::{consent::*, logs::*, vocabulary::*, *};

use crate::common::*;

const NOW: &str = "2025-06-01T12:00:00Z";

#[test]
fn collect_personal() {
    let policy = Policy::coder_model();
    let facts = facts(&policy);
    for category in [DataCategory::Email, DataCategory::Name] {
        assert_eq!(category.clause(), ClauseId::CollectPersonal);
        let request = Request::use_data(
            Purpose::ProvideService,
            data(category, alice(), "2025-02-01T00:00:00Z"),
            at(NOW),
        );
        let decision = policy.check(&request, &facts);
        assert!(decision.is_allowed(), "{decision}");
        // use.purposes grants the use; collection of the data supports it.
        assert_eq!(decision.decisive(), ClauseId::UsePurposes);
        assert!(decision.supporting().contains(ClauseId::CollectPersonal));
    }
}

#[test]
fn collect_usage() {
    let policy = Policy::coder_model();
    let facts = facts(&policy);
    let usage = [
        DataCategory::IpAddress,
        DataCategory::BrowserType,
        DataCategory::BrowserVersion,
        DataCategory::PagesVisited,
        DataCategory::VisitTime,
        DataCategory::TimeOnPages,
        DataCategory::DeviceId,
        DataCategory::Diagnostics,
    ];
    for category in usage {
        assert_eq!(category.clause(), ClauseId::CollectUsage);
        let request = Request::use_data(
            Purpose::UsageMonitoring,
            data(category, alice(), "2025-02-01T00:00:00Z"),
            at(NOW),
        );
        let decision = policy.check(&request, &facts);
        assert!(decision.is_allowed(), "{category}: {decision}");
        assert_eq!(decision.decisive(), ClauseId::UsePurposes);
        assert!(decision.supporting().contains(ClauseId::CollectUsage));
    }
}

#[test]
fn use_purposes() {
    let policy = Policy::coder_model();
    let facts = facts(&policy);
    let email = data(DataCategory::Email, alice(), "2025-02-01T00:00:00Z");
    for purpose in Purpose::ALL {
        let decision = policy.check(&Request::use_data(*purpose, email, at(NOW)), &facts);
        // Interactive features only "when you choose to do so": alice has not chosen.
        assert_eq!(
            decision.is_allowed(),
            purpose.group() == PurposeGroup::Service && *purpose != Purpose::InteractiveFeatures,
            "{purpose}: {decision}"
        );
        // Allowed or denied, the purpose list decides.
        assert_eq!(decision.decisive(), ClauseId::UsePurposes, "{decision}");
    }
    let marketing = policy.check(
        &Request::use_data(Purpose::Marketing, email, at(NOW)),
        &facts,
    );
    assert_eq!(
        marketing.reason(),
        Some(DenyReason::PurposeNotListed {
            purpose: Purpose::Marketing
        })
    );
    // A customer acts on their own preferences, never as a user of data.
    let by_customer = Request {
        actor: Actor::Customer(alice()),
        ..Request::use_data(Purpose::ProvideService, email, at(NOW))
    };
    let decision = policy.check(&by_customer, &facts);
    assert_eq!(decision.reason(), Some(DenyReason::ActorMayNotAct));
}

#[test]
fn use_purposes_interactive_features_need_the_customers_opt_in() {
    let policy = Policy::coder_model();
    let mut facts = facts(&policy);
    let email = data(DataCategory::Email, alice(), "2025-02-01T00:00:00Z");
    let interactive = |facts: &MemoryFacts, now: &str| {
        policy.check(
            &Request::use_data(Purpose::InteractiveFeatures, email, at(now)),
            facts,
        )
    };
    let before = interactive(&facts, NOW);
    assert!(!before.is_allowed(), "{before}");
    assert_eq!(before.decisive(), ClauseId::UsePurposes);
    assert_eq!(before.reason(), Some(DenyReason::InteractiveNotOptedIn));
    assert_eq!(
        before.to_string(),
        "deny [use.purposes]: the customer has not opted in to interactive features"
    );

    choose(
        &mut facts,
        alice(),
        InteractiveChoice::OptedIn,
        "2025-03-01T00:00:00Z",
    );
    let after = interactive(&facts, NOW);
    assert!(after.is_allowed(), "{after}");
    assert_eq!(after.decisive(), ClauseId::UsePurposes);
    // Before the opt-in took effect, the use was not chosen: the request instant decides.
    let earlier = interactive(&facts, "2025-02-15T00:00:00Z");
    assert_eq!(earlier.reason(), Some(DenyReason::InteractiveNotOptedIn));
    // Bob's choice is his own: alice's opt-in lets nothing of his serve.
    let bobs = data(DataCategory::Email, bob(), "2025-02-01T00:00:00Z");
    let decision = policy.check(
        &Request::use_data(Purpose::InteractiveFeatures, bobs, at(NOW)),
        &facts,
    );
    assert_eq!(decision.reason(), Some(DenyReason::InteractiveNotOptedIn));

    // Withdrawn: denied again from the withdrawal on, allowed before it.
    choose(
        &mut facts,
        alice(),
        InteractiveChoice::OptedOut,
        "2025-07-01T00:00:00Z",
    );
    let withdrawn = interactive(&facts, "2025-07-01T00:00:00Z");
    assert_eq!(withdrawn.reason(), Some(DenyReason::InteractiveNotOptedIn));
    assert!(interactive(&facts, "2025-06-30T00:00:00Z").is_allowed());
    // Other service purposes never needed the opt-in.
    let care = policy.check(
        &Request::use_data(Purpose::CustomerCare, email, at("2025-07-02T00:00:00Z")),
        &facts,
    );
    assert!(care.is_allowed(), "{care}");
}

#[test]
fn a_customer_without_any_relationship_is_denied_as_no_relationship_not_as_retention() {
    let policy = Policy::coder_model();
    let facts = facts(&policy);
    // Neither alice nor bob: nobody ever started a relationship with this customer.
    let stranger: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a99".parse().unwrap();
    let email = data(DataCategory::Email, stranger, "2025-02-01T00:00:00Z");
    let used = policy.check(
        &Request::use_data(Purpose::CustomerCare, email, at(NOW)),
        &facts,
    );
    assert_eq!(used.reason(), Some(DenyReason::NoRelationship), "{used}");
    assert_eq!(used.decisive(), ClauseId::UsePurposes);
    assert!(!used.clauses().contains(ClauseId::LogsRetention), "{used}");
    assert_eq!(
        used.to_string(),
        "deny [use.purposes]: the customer has no relationship on record: nothing the policy \
         grants applies to their data"
    );
    let log = data(
        DataCategory::LlmRequestLog,
        stranger,
        "2025-02-01T00:00:00Z",
    )
    .with_consent_at_collection(TrainingLevel::OpenWeight);
    let trained = policy.check(&Request::train(TrainingScope::Shared, log, at(NOW)), &facts);
    assert_eq!(trained.reason(), Some(DenyReason::NoRelationship));
    assert_eq!(trained.decisive(), ClauseId::TrainingDefaultOff);
    let kept = policy.check(&Request::keep(log, at(NOW)), &facts);
    assert_eq!(kept.reason(), Some(DenyReason::NoRelationship));
    assert_eq!(kept.decisive(), ClauseId::LogsStored);

    // A customer whose relationship ended is still refused as past its retention.
    let mut ended = facts.clone();
    ended
        .relationships
        .end(alice(), at("2025-03-01T00:00:00Z"))
        .unwrap();
    let late = policy.check(
        &Request::use_data(
            Purpose::CustomerCare,
            data(DataCategory::Email, alice(), "2025-02-01T00:00:00Z"),
            at(NOW),
        ),
        &ended,
    );
    assert_eq!(late.reason(), Some(DenyReason::RetentionEnded));
    assert_eq!(late.decisive(), ClauseId::LogsRetention);
    // And data of a known customer collected outside every relationship stays due.
    let before = policy.check(
        &Request::use_data(
            Purpose::CustomerCare,
            data(DataCategory::Email, bob(), "2024-12-01T00:00:00Z"),
            at(NOW),
        ),
        &facts,
    );
    assert_eq!(before.reason(), Some(DenyReason::RetentionEnded));
}

#[test]
fn logs_stored() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    vault
        .update_facts(|facts| {
            set_level(
                facts,
                alice(),
                TrainingLevel::Shared,
                "2025-01-15T00:00:00Z",
            )
        })
        .unwrap();
    let collected = at("2025-02-01T00:00:00Z");
    let id = RecordId::generate_at(collected);
    let sealed = vault
        .seal(id, alice(), collected, b"{\"prompt\":\"hello\"}")
        .unwrap();
    // training.forward-only: a record is sealed under the level in force at collection, which
    // the vault reads itself; no caller names it.
    assert_eq!(sealed.header().consent(), TrainingLevel::Shared);
    let parsed = SealedRecord::from_bytes(sealed.as_bytes()).unwrap();
    assert_eq!(parsed.header().record_id(), id);
    assert_eq!(parsed.header().customer(), alice());
    assert_eq!(parsed.header().collected_at(), collected);
    assert_eq!(parsed.header().consent(), TrainingLevel::Shared);
    assert_eq!(DataCategory::LlmRequestLog.clause(), ClauseId::LogsStored);
}

#[test]
fn logs_retention() {
    let policy = Policy::coder_model();
    let mut facts = facts(&policy);
    let log = data(DataCategory::LlmRequestLog, alice(), "2025-02-01T00:00:00Z")
        .with_consent_at_collection(TrainingLevel::OpenWeight);
    let keep = |facts: &MemoryFacts, now: &str| policy.check(&Request::keep(log, at(now)), facts);
    let train = |facts: &MemoryFacts, now: &str| {
        policy.check(&Request::train(TrainingScope::Shared, log, at(now)), facts)
    };
    assert!(keep(&facts, NOW).is_allowed());
    assert!(train(&facts, NOW).is_allowed());

    facts
        .relationships
        .end(alice(), at("2025-07-01T00:00:00Z"))
        .unwrap();
    // Ended: due, to be deleted within the 30-day window; it serves nothing meanwhile.
    let due = keep(&facts, "2025-07-02T00:00:00Z");
    assert!(due.is_allowed());
    assert_eq!(
        due.obligations().collect::<Vec<_>>(),
        [Obligation::DeleteBy {
            deadline: at("2025-07-31T00:00:00Z")
        }]
    );
    let denied = train(&facts, "2025-07-02T00:00:00Z");
    assert_eq!(denied.reason(), Some(DenyReason::RetentionEnded));
    assert_eq!(denied.decisive(), ClauseId::LogsRetention);
    // Deadlines are exclusive: at end + window the data is due now, and keeping it is denied.
    let overdue = keep(&facts, "2025-07-31T00:00:00Z");
    assert!(!overdue.is_allowed());
    assert_eq!(overdue.reason(), Some(DenyReason::RetentionEnded));
    // Personal data past its retention is denied by logs.retention too (docs/design.md 1),
    // its own rule's clause supporting.
    let email = data(DataCategory::Email, alice(), "2025-02-01T00:00:00Z");
    let late = policy.check(
        &Request::use_data(Purpose::CustomerCare, email, at("2025-07-02T00:00:00Z")),
        &facts,
    );
    assert_eq!(late.reason(), Some(DenyReason::RetentionEnded));
    assert_eq!(late.decisive(), ClauseId::LogsRetention);
    assert_eq!(late.supporting(), ClauseSet::of(ClauseId::UsePurposes));
    // Keeping is decided by logs.retention, allowed or not.
    assert_eq!(due.decisive(), ClauseId::LogsRetention);
    assert_eq!(overdue.decisive(), ClauseId::LogsRetention);
}

#[test]
fn a_hold_on_one_record_keeps_only_that_record() {
    use steward::retention::{HoldId, HoldScope, LegalHold};
    let policy = Policy::coder_model();
    let mut facts = facts(&policy);
    facts
        .relationships
        .end(alice(), at("2025-03-01T00:00:00Z"))
        .unwrap();
    let held_id = RecordId::generate_at(at("2025-02-01T00:00:00Z"));
    for (id, record) in [(1, held_id), (2, RecordId::MIN)] {
        let hold = LegalHold::place(
            HoldId::new(id),
            HoldScope::Record {
                customer: alice(),
                record,
            },
            "LEGAL-7 dispute".parse().unwrap(),
            "counsel".parse().unwrap(),
            at("2025-02-15T00:00:00Z"),
            at("2026-01-01T00:00:00Z"),
        )
        .unwrap();
        facts.holds.place(hold).unwrap();
    }
    let now = at("2025-06-01T00:00:00Z");
    let log = data(DataCategory::LlmRequestLog, alice(), "2025-02-01T00:00:00Z");
    let kept = policy.check(&Request::keep(log.with_record(held_id), now), &facts);
    assert_eq!(
        kept.obligations().collect::<Vec<_>>(),
        [Obligation::DeleteWhenHoldEnds]
    );
    let other = policy.check(
        &Request::keep(log.with_record(RecordId::generate_at(now)), now),
        &facts,
    );
    assert!(!other.is_allowed());
    // Data that is no stored record is never matched by a hold on a single record, not even
    // one on the stand-in id.
    let email = data(DataCategory::Email, alice(), "2025-02-01T00:00:00Z");
    assert!(
        !policy
            .check(&Request::keep(email, now), &facts)
            .is_allowed()
    );
    // A hold keeps; it permits no use.
    let opened = policy.check(
        &Request::open_log(
            &steward(),
            Purpose::Troubleshooting,
            &ticket(),
            log.with_record(held_id),
            now,
        ),
        &facts,
    );
    assert_eq!(opened.reason(), Some(DenyReason::KeptOnlyByLegalHold));
}

#[test]
fn logs_purposes() {
    let policy = Policy::coder_model();
    let facts = facts(&policy);
    let log = data(DataCategory::LlmRequestLog, alice(), "2025-02-01T00:00:00Z");
    let (steward, ticket) = (steward(), ticket());
    for purpose in Purpose::ALL {
        let request = Request::open_log(&steward, *purpose, &ticket, log, at(NOW));
        let decision = policy.check(&request, &facts);
        assert_eq!(
            decision.is_allowed(),
            purpose.group() == PurposeGroup::Logs,
            "{purpose}: {decision}"
        );
        // A purpose outside the list fails logs.purposes; inside it, logs.access grants.
        let decisive = if decision.is_allowed() {
            ClauseId::LogsAccess
        } else {
            ClauseId::LogsPurposes
        };
        assert_eq!(decision.decisive(), decisive, "{decision}");
    }
    // The vault enforces the same list, and audits the refusal.
    let vault = vault(&policy);
    let before = vault.audit().unwrap().verify().unwrap().entries();
    let collected = at("2025-02-01T00:00:00Z");
    let sealed = vault
        .seal(
            RecordId::generate_at(collected),
            alice(),
            collected,
            b"body",
        )
        .unwrap();
    let request = AccessRequest::new(steward, Purpose::Marketing, Some(ticket));
    let error = vault.open(&sealed, &request).unwrap_err();
    assert!(
        matches!(error, LogsError::Open(OpenError::Denied { .. })),
        "{error}"
    );
    assert_eq!(
        vault.audit().unwrap().verify().unwrap().entries(),
        before + 1
    );
}

#[test]
fn logs_encrypted() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    let collected = at("2025-02-01T00:00:00Z");
    let body = b"my secret prompt about my secret project";
    let sealed = vault
        .seal(RecordId::generate_at(collected), alice(), collected, body)
        .unwrap();
    let bytes = sealed.as_bytes();
    assert!(!bytes.windows(body.len()).any(|window| window == body));
    assert!(!bytes.windows(6).any(|window| window == b"secret"));
}

#[test]
fn logs_access() {
    let policy = Policy::coder_model();
    let facts = facts(&policy);
    let log = data(DataCategory::LlmRequestLog, alice(), "2025-02-01T00:00:00Z");
    let ticket = ticket();
    let outsider: StewardId = "mallory".parse().unwrap();
    let steward = steward();

    let allowed = policy.check(
        &Request::open_log(&steward, Purpose::Troubleshooting, &ticket, log, at(NOW)),
        &facts,
    );
    assert!(allowed.is_allowed());
    assert_eq!(
        allowed.obligations().collect::<Vec<_>>(),
        [Obligation::AuditAccess]
    );
    assert_eq!(allowed.decisive(), ClauseId::LogsAccess);
    assert_eq!(
        allowed.clauses().iter().collect::<Vec<_>>(),
        [
            ClauseId::LogsAccess,
            ClauseId::LogsPurposes,
            ClauseId::LogsEncrypted
        ]
    );

    let not_on_roster = policy.check(
        &Request::open_log(&outsider, Purpose::Troubleshooting, &ticket, log, at(NOW)),
        &facts,
    );
    assert_eq!(not_on_roster.reason(), Some(DenyReason::NotOnRoster));
    assert_eq!(not_on_roster.decisive(), ClauseId::LogsAccess);

    let unjustified = Request {
        action: Action::OpenLog {
            purpose: Purpose::Troubleshooting,
            justification: None,
        },
        ..Request::open_log(&steward, Purpose::Troubleshooting, &ticket, log, at(NOW))
    };
    assert_eq!(
        policy.check(&unjustified, &facts).reason(),
        Some(DenyReason::MissingJustification)
    );
    // Logs are never used through the service path, even for a listed purpose.
    let used = policy.check(
        &Request::use_data(Purpose::TechnicalIssues, log, at(NOW)),
        &facts,
    );
    assert_eq!(
        used.reason(),
        Some(DenyReason::WrongPathForCategory {
            category: DataCategory::LlmRequestLog
        })
    );
    // The roster is "a select few": adding past the policy's maximum fails.
    let vault = vault(&policy);
    for handle in ["b.ops", "c.ops"] {
        vault.add_steward(handle.parse().unwrap(), admin()).unwrap();
    }
    let full = vault.add_steward("d.ops".parse().unwrap(), admin());
    assert!(matches!(
        full,
        Err(LogsError::Config(ConfigError::RosterFull { max: 3 }))
    ));
}

#[test]
fn training_default_off() {
    let policy = Policy::coder_model();
    let facts = facts(&policy);
    let log = data(DataCategory::LlmRequestLog, alice(), "2025-02-01T00:00:00Z");
    for scope in [
        TrainingScope::Private { owner: alice() },
        TrainingScope::Shared,
        TrainingScope::OpenWeight,
    ] {
        let decision = policy.check(&Request::train(scope, log, at(NOW)), &facts);
        assert!(!decision.is_allowed(), "{scope}: {decision}");
        assert_eq!(decision.decisive(), ClauseId::TrainingDefaultOff);
    }
}

#[test]
fn training_private() {
    let policy = Policy::coder_model();
    let mut facts = facts(&policy);
    set_level(
        &mut facts,
        alice(),
        TrainingLevel::Private,
        "2025-01-15T00:00:00Z",
    );
    set_level(
        &mut facts,
        bob(),
        TrainingLevel::OpenWeight,
        "2025-01-15T00:00:00Z",
    );
    let alices = data(DataCategory::LlmRequestLog, alice(), "2025-02-01T00:00:00Z");
    let bobs = data(DataCategory::LlmRequestLog, bob(), "2025-02-01T00:00:00Z");
    let alices_model = TrainingScope::Private { owner: alice() };

    let own = policy.check(&Request::train(alices_model, alices, at(NOW)), &facts);
    assert!(own.is_allowed(), "{own}");
    assert_eq!(own.decisive(), ClauseId::TrainingPrivate);
    // Never another customer's data, whatever their level.
    let other = policy.check(&Request::train(alices_model, bobs, at(NOW)), &facts);
    assert_eq!(
        other.reason(),
        Some(DenyReason::PrivateScopeOfAnotherCustomer)
    );
    assert_eq!(other.decisive(), ClauseId::TrainingPrivate);
    // Bob's open-weight level is beside the point, so nothing supports the refusal.
    assert!(other.supporting().is_empty(), "{other}");
    let shared = policy.check(
        &Request::train(TrainingScope::Shared, alices, at(NOW)),
        &facts,
    );
    assert!(!shared.is_allowed());
}

#[test]
fn training_shared() {
    let policy = Policy::coder_model();
    let mut facts = facts(&policy);
    set_level(
        &mut facts,
        alice(),
        TrainingLevel::Shared,
        "2025-01-15T00:00:00Z",
    );
    let log = data(DataCategory::LlmRequestLog, alice(), "2025-02-01T00:00:00Z");
    let shared = policy.check(&Request::train(TrainingScope::Shared, log, at(NOW)), &facts);
    assert!(shared.is_allowed());
    assert_eq!(shared.decisive(), ClauseId::TrainingShared);
    // Cumulative: shared also permits the owner's private models, but not open weights.
    let private = TrainingScope::Private { owner: alice() };
    assert!(
        policy
            .check(&Request::train(private, log, at(NOW)), &facts)
            .is_allowed()
    );
    let open = policy.check(
        &Request::train(TrainingScope::OpenWeight, log, at(NOW)),
        &facts,
    );
    assert!(!open.is_allowed());
    // The opt-in that is missing decides the refusal.
    assert_eq!(open.decisive(), ClauseId::TrainingOpenWeight);
}

#[test]
fn training_open_weight() {
    let policy = Policy::coder_model();
    let mut facts = facts(&policy);
    set_level(
        &mut facts,
        alice(),
        TrainingLevel::OpenWeight,
        "2025-01-15T00:00:00Z",
    );
    let log = data(DataCategory::LlmRequestLog, alice(), "2025-02-01T00:00:00Z");
    let open = policy.check(
        &Request::train(TrainingScope::OpenWeight, log, at(NOW)),
        &facts,
    );
    assert!(open.is_allowed());
    assert_eq!(open.decisive(), ClauseId::TrainingOpenWeight);
    // Only the training pipeline trains, and contact data never trains.
    let email = data(DataCategory::Email, alice(), "2025-02-01T00:00:00Z");
    let decision = policy.check(
        &Request::train(TrainingScope::OpenWeight, email, at(NOW)),
        &facts,
    );
    assert!(!decision.is_allowed());
    let by_service = Request {
        actor: Actor::Service,
        ..Request::train(TrainingScope::OpenWeight, log, at(NOW))
    };
    assert_eq!(
        policy.check(&by_service, &facts).reason(),
        Some(DenyReason::ActorMayNotAct)
    );
}

#[test]
fn training_forward_only() {
    let policy = Policy::coder_model();
    let mut facts = facts(&policy);
    let before = data(DataCategory::LlmRequestLog, alice(), "2025-02-01T00:00:00Z");
    let after = data(DataCategory::LlmRequestLog, alice(), "2025-04-01T00:00:00Z");
    set_level(
        &mut facts,
        alice(),
        TrainingLevel::Shared,
        "2025-03-01T00:00:00Z",
    );
    let shared = |data| {
        policy.check(
            &Request::train(TrainingScope::Shared, data, at(NOW)),
            &facts,
        )
    };
    // The upgrade does not reach back to data collected before it.
    assert!(!shared(before).is_allowed());
    assert!(shared(after).is_allowed());
    // The opt-in grants; forward-only, which chose the level at collection, supports it.
    assert_eq!(shared(after).decisive(), ClauseId::TrainingShared);
    assert_eq!(
        shared(after).supporting(),
        ClauseSet::of(ClauseId::TrainingForwardOnly)
    );
    assert_eq!(shared(before).decisive(), ClauseId::TrainingDefaultOff);

    // A downgrade does not reach back either (forward-only, the default) ...
    set_level(
        &mut facts,
        alice(),
        TrainingLevel::None,
        "2025-05-01T00:00:00Z",
    );
    let shared = |policy: &Policy, data| {
        policy.check(
            &Request::train(TrainingScope::Shared, data, at(NOW)),
            &facts,
        )
    };
    assert!(shared(&policy, after).is_allowed());
    // ... unless the strict mode is chosen: then withdrawal stops further training.
    let strict = Policy::coder_model().with_consent_mode(ConsentMode::WithdrawalStopsProcessing);
    assert!(!shared(&strict, after).is_allowed());
    // The level sealed with a record wins over the ledger's reconstruction.
    let sealed_none = after.with_consent_at_collection(TrainingLevel::None);
    assert!(!shared(&policy, sealed_none).is_allowed());
}

#[test]
fn training_forward_only_a_first_change_backdated_by_an_admin_to_open_weight_is_refused() {
    let policy = Policy::coder_model();
    let mut facts = facts(&policy);
    let march_log = data(DataCategory::LlmRequestLog, alice(), "2025-03-15T00:00:00Z");
    // In June an admin tries to record an opt-in to open-weight "as of" March 1, which would
    // open three months of already collected logs to public training.
    let backdated = ConsentChange::new(
        alice(),
        TrainingLevel::OpenWeight,
        at("2025-03-01T00:00:00Z"),
        ConsentActor::Admin {
            admin: "dana.support".parse().unwrap(),
            basis: "TICKET-88 customer says they agreed in March"
                .parse()
                .unwrap(),
        },
        Channel::SupportRequest,
        policy.version().clone(),
    );
    let error = facts
        .consent
        .record(backdated, at("2025-06-01T00:00:00Z"))
        .unwrap_err();
    assert_eq!(
        error,
        consent::ConsentError::Backdated {
            effective: at("2025-03-01T00:00:00Z"),
            recorded_at: at("2025-06-01T00:00:00Z"),
        }
    );
    assert!(facts.consent.is_empty());
    let train = |data| {
        policy.check(
            &Request::train(TrainingScope::OpenWeight, data, at(NOW)),
            &facts,
        )
    };
    assert!(!train(march_log).is_allowed());
    assert_eq!(train(march_log).decisive(), ClauseId::TrainingDefaultOff);
}

#[test]
fn training_forward_only_an_admin_change_without_basis_cannot_be_built() {
    // An admin actor has no form without a basis: the only way to build one names it.
    let admin = ConsentActor::Admin {
        admin: "dana.support".parse().unwrap(),
        basis: "TICKET-88 opt-out requested by email".parse().unwrap(),
    };
    assert_eq!(
        admin.basis().map(Justification::as_str),
        Some("TICKET-88 opt-out requested by email")
    );
    // Nor can one be read from text without a basis, or with a blank or invisible one.
    for text in [
        "admin:dana.support",
        "admin:dana.support:",
        "admin:dana.support:\u{200B}",
    ] {
        assert!(text.parse::<ConsentActor>().is_err(), "{text:?}");
    }
    let policy = Policy::coder_model();
    let mut facts = facts(&policy);
    let change = ConsentChange::new(
        alice(),
        TrainingLevel::None,
        at("2025-06-01T00:00:00Z"),
        admin,
        Channel::SupportRequest,
        policy.version().clone(),
    );
    let receipt = facts
        .consent
        .record(change, at("2025-06-01T00:00:00Z"))
        .unwrap();
    assert_eq!(
        receipt.actor.to_string(),
        "admin:dana.support:TICKET-88 opt-out requested by email"
    );
}

#[test]
fn policy_versioned() {
    let policy = Policy::coder_model();
    assert_eq!(policy.version().as_str(), "2025-03-05");
    assert_eq!(policy.published().to_string(), "2025-03-05");
    let mut facts = facts(&policy);
    let change = ConsentChange::new(
        alice(),
        TrainingLevel::Private,
        at("2025-03-10T00:00:00Z"),
        ConsentActor::Customer,
        Channel::AccountSettings,
        policy.version().clone(),
    );
    let receipt = facts
        .consent
        .record(change, at("2025-03-09T08:00:00Z"))
        .unwrap();
    assert_eq!(receipt.policy_version, *policy.version());
    assert_eq!(receipt.recorded_at, at("2025-03-09T08:00:00Z"));
    let json = serde_json::to_string(&receipt).unwrap();
    assert!(json.contains("2025-03-05"), "{json}");
    assert!(
        json.contains(r#""recorded_at":"2025-03-09T08:00:00Z""#),
        "{json}"
    );
}

/// Consent receipts are proof (GDPR Art. 7(1)): kept for the policy's proof period after the
/// relationship ends, used for nothing meanwhile, then due; the consent they record decides no
/// training once the relationship has ended.
#[test]
fn policy_versioned_consent_receipts_outlive_the_relationship_only_as_proof() {
    let policy = Policy::coder_model();
    assert_eq!(policy.consent_proof_period().to_string(), "P1095D");
    let mut facts = facts(&policy);
    set_level(
        &mut facts,
        alice(),
        TrainingLevel::OpenWeight,
        "2025-02-01T00:00:00Z",
    );
    let record = data(DataCategory::ConsentRecord, alice(), "2025-02-01T00:00:00Z");
    let log = data(DataCategory::LlmRequestLog, alice(), "2025-03-01T00:00:00Z");
    let use_it = |facts: &MemoryFacts, now: &str| {
        policy.check(
            &Request::use_data(Purpose::CustomerCare, record, at(now)),
            facts,
        )
    };
    let keep =
        |facts: &MemoryFacts, now: &str| policy.check(&Request::keep(record, at(now)), facts);
    let train = |facts: &MemoryFacts, now: &str| {
        policy.check(
            &Request::train(TrainingScope::OpenWeight, log, at(now)),
            facts,
        )
    };
    assert!(use_it(&facts, NOW).is_allowed());
    assert!(train(&facts, NOW).is_allowed());

    facts
        .relationships
        .end(alice(), at("2025-07-01T00:00:00Z"))
        .unwrap();
    // Ended: the receipt is kept until its proof period has passed, but serves only as proof.
    let kept = keep(&facts, "2025-07-02T00:00:00Z");
    assert!(kept.is_allowed());
    assert_eq!(
        kept.obligations().collect::<Vec<_>>(),
        [Obligation::DeleteBy {
            deadline: at("2028-06-30T00:00:00Z")
        }]
    );
    let used = use_it(&facts, "2025-07-01T00:00:00Z");
    assert_eq!(used.reason(), Some(DenyReason::KeptOnlyAsProof));
    assert_eq!(used.decisive(), ClauseId::UsePurposes);
    assert_eq!(used.supporting(), ClauseSet::of(ClauseId::PolicyVersioned));
    // Open-weight consent decides no training of the ended relationship's logs.
    let trained = train(&facts, "2025-07-02T00:00:00Z");
    assert_eq!(trained.reason(), Some(DenyReason::RetentionEnded));
    // 1095 days after the end the receipt is due, to be deleted within the 30-day window.
    assert!(use_it(&facts, "2028-06-29T23:59:59Z").reason() == Some(DenyReason::KeptOnlyAsProof));
    let due = keep(&facts, "2028-06-30T00:00:00Z");
    assert!(due.is_allowed());
    assert_eq!(
        due.obligations().collect::<Vec<_>>(),
        [Obligation::DeleteBy {
            deadline: at("2028-07-30T00:00:00Z")
        }]
    );
    assert_eq!(
        use_it(&facts, "2028-06-30T00:00:00Z").reason(),
        Some(DenyReason::RetentionEnded)
    );
    let overdue = keep(&facts, "2028-07-30T00:00:00Z");
    assert_eq!(overdue.reason(), Some(DenyReason::RetentionEnded));
    assert_eq!(overdue.decisive(), ClauseId::LogsRetention);
    assert_eq!(
        overdue.supporting(),
        ClauseSet::of(ClauseId::PolicyVersioned)
    );
}

#[test]
fn policy_versioned_a_change_under_an_unknown_policy_version_is_refused() {
    let policy = Policy::coder_model();
    let mut facts = facts(&policy);
    let unknown: PolicyVersion = "2024-01-01".parse().unwrap();
    let change = ConsentChange::new(
        alice(),
        TrainingLevel::OpenWeight,
        at("2025-03-10T00:00:00Z"),
        ConsentActor::Customer,
        Channel::Api,
        unknown.clone(),
    );
    let error = facts
        .consent
        .record(change, at("2025-03-10T00:00:00Z"))
        .unwrap_err();
    assert_eq!(
        error,
        consent::ConsentError::UnknownPolicyVersion { version: unknown }
    );
    assert!(facts.consent.is_empty());
    // training.default-off still holds: the refused opt-in left nothing behind.
    let log = data(DataCategory::LlmRequestLog, alice(), "2025-04-01T00:00:00Z");
    let train = Request::train(TrainingScope::OpenWeight, log, at(NOW));
    assert!(!policy.check(&train, &facts).is_allowed());
}

#[test]
fn policy_versioned_earlier_versions_listed_in_a_policy_file_are_accepted() {
    let text = include_str!("../../../../examples/coder-model.toml").replace(
        r#"version = "2025-03-05""#,
        "version = \"2025-09-01\"\nearlier-versions = [\"2025-03-05\"]",
    );
    let policy = Policy::from_toml_str(&text, "coder-model-2025-09.toml").unwrap();
    let known: Vec<&str> = policy
        .known_versions()
        .iter()
        .map(PolicyVersion::as_str)
        .collect();
    assert_eq!(known, ["2025-09-01", "2025-03-05"]);
    let mut facts = facts(&policy);
    let under_earlier = ConsentChange::new(
        alice(),
        TrainingLevel::Shared,
        at("2025-03-10T00:00:00Z"),
        ConsentActor::Customer,
        Channel::AccountSettings,
        "2025-03-05".parse().unwrap(),
    );
    assert!(
        facts
            .consent
            .record(under_earlier, at("2025-03-10T00:00:00Z"))
            .is_ok()
    );
}
