//! The vault is the one gate where plaintext comes out: it enforces the same policy and facts
//! as `check()`, owns its audit trail and clock, and survives hostile callers. Each test here
//! was a way past the gate before the vault decided opens with `check()`.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed setup step must fail the test"
)]

use steward::logs::{
    AuditEvent, AuditOutcome, ConfigError, LogsError, MemoryAuditStore, OpenError, RosterChange,
};
use steward::retention::{HoldId, HoldScope, LegalHold};
use steward::{consent::*, logs::*, vocabulary::*, *};

use crate::common::*;

const NOW: &str = "2025-06-01T12:00:00Z";

fn sealed(vault: &Vault<MemoryFacts, MemoryAuditStore>, collected: &str) -> SealedRecord {
    let collected = at(collected);
    vault
        .seal(
            RecordId::generate_at(collected),
            alice(),
            collected,
            b"{\"prompt\":\"hello\"}",
        )
        .unwrap()
}

fn ask(purpose: Purpose) -> AccessRequest {
    AccessRequest::new(steward(), purpose, Some(ticket()))
}

fn denial(result: Result<Plaintext, LogsError>) -> Denial {
    let error = result.err().unwrap();
    match error {
        LogsError::Open(OpenError::Denied { denial }) => Some(denial),
        _ => None,
    }
    .unwrap()
}

fn last_outcome(vault: &Vault<MemoryFacts, MemoryAuditStore>) -> AuditOutcome {
    let entries = vault.audit().unwrap().store().as_slice().to_vec();
    entries.last().unwrap().entry().access().unwrap().outcome()
}

#[test]
fn open_refuses_records_past_retention_like_check_does() {
    let policy = Policy::coder_model();
    let clock = ManualClock::new(at(NOW));
    let vault = vault_at(&policy, &clock);
    let record = sealed(&vault, "2025-02-01T00:00:00Z");
    assert!(vault.open(&record, &ask(Purpose::Troubleshooting)).is_ok());

    vault
        .update_facts(|facts| facts.relationships.end(alice(), at("2025-07-01T00:00:00Z")))
        .unwrap()
        .unwrap();
    clock.set(at("2025-07-02T00:00:00Z"));
    let refused = denial(vault.open(&record, &ask(Purpose::Troubleshooting)));
    assert_eq!(refused, Denial::RetentionEnded);
    assert_eq!(refused.clause(), ClauseId::LogsRetention);
    assert_eq!(last_outcome(&vault), AuditOutcome::Denied(refused));
}

#[test]
fn an_open_after_the_clock_was_set_back_is_decided_no_earlier_than_the_newest_fact() {
    let policy = Policy::coder_model();
    let clock = ManualClock::new(at(NOW));
    let vault = vault_at(&policy, &clock);
    let record = sealed(&vault, "2025-02-01T00:00:00Z");
    // The relationship ends now, recorded now.
    let ended = at(NOW);
    vault
        .update_facts(|facts| {
            facts.relationships.record(
                alice(),
                ended,
                retention::RelationshipChange::End { effective: ended },
            )
        })
        .unwrap()
        .unwrap();
    // The clock is set back a month: the open is still decided, and audited, after the end.
    clock.set(at("2025-05-01T00:00:00Z"));
    let refused = denial(vault.open(&record, &ask(Purpose::Troubleshooting)));
    assert_eq!(refused, Denial::RetentionEnded);
    assert_eq!(refused.clause(), ClauseId::LogsRetention);
    let entries = vault.audit().unwrap().store().as_slice().to_vec();
    assert!(entries.last().unwrap().entry().at() >= ended);
    assert_eq!(vault.facts().unwrap().newest_fact_instant(), Some(ended));
    assert!(vault.decision_instant().unwrap() >= ended);
}

#[test]
fn open_refuses_records_kept_only_by_a_legal_hold() {
    let policy = Policy::coder_model();
    let clock = ManualClock::new(at("2025-08-15T00:00:00Z"));
    let vault = vault_at(&policy, &clock);
    let record = sealed(&vault, "2025-02-01T00:00:00Z");
    vault
        .update_facts(|facts| facts.relationships.end(alice(), at("2025-07-01T00:00:00Z")))
        .unwrap()
        .unwrap();
    let hold = LegalHold::place(
        HoldId::new(1),
        HoldScope::Customer { customer: alice() },
        "LEGAL-7 dispute".parse().unwrap(),
        "counsel".parse().unwrap(),
        at("2025-06-15T00:00:00Z"),
        at("2026-01-01T00:00:00Z"),
    )
    .unwrap();
    vault
        .update_facts(|facts| facts.holds.place(hold))
        .unwrap()
        .unwrap();
    let refused = denial(vault.open(&record, &ask(Purpose::Troubleshooting)));
    assert_eq!(refused, Denial::KeptOnlyByLegalHold);
}

#[test]
fn a_policy_that_drops_a_log_purpose_is_enforced_by_the_vault() {
    let text = include_str!("../../../../examples/coder-model.toml").replace(
        "\"customer-support\", \"reliability\", \"misuse-prevention\"",
        "\"customer-support\", \"misuse-prevention\"",
    );
    let policy = Policy::from_toml_str(&text, "no-reliability.toml").unwrap();
    assert!(!policy.allows_purpose(DataCategory::LlmRequestLog, Purpose::Reliability));
    let clock = ManualClock::new(at(NOW));
    let vault = vault_at(&policy, &clock);
    let record = sealed(&vault, "2025-02-01T00:00:00Z");
    let refused = denial(vault.open(&record, &ask(Purpose::Reliability)));
    assert_eq!(
        refused,
        Denial::PurposeNotAllowedByPolicy {
            purpose: Purpose::Reliability
        }
    );
    assert_eq!(refused.clause(), ClauseId::LogsPurposes);
    assert!(vault.open(&record, &ask(Purpose::Troubleshooting)).is_ok());
}

#[test]
fn the_roster_is_bounded_by_the_policy_and_shared_with_check() {
    let text = include_str!("../../../../examples/coder-model.toml")
        .replace("max-stewards = 3", "max-stewards = 1");
    let policy = Policy::from_toml_str(&text, "one-steward.toml").unwrap();
    let clock = ManualClock::new(at(NOW));
    let vault = vault_at(&policy, &clock);
    let second = vault.add_steward("bob.ops".parse().unwrap(), admin());
    assert!(matches!(
        second,
        Err(LogsError::Config(ConfigError::RosterFull { max: 1 }))
    ));
    // One roster: what check() reads through the vault's facts is what the vault enforces.
    let log = DataRef::new(
        DataCategory::LlmRequestLog,
        alice(),
        at("2025-02-01T00:00:00Z"),
    );
    let bob_ops: StewardId = "bob.ops".parse().unwrap();
    let decision = vault.check(&Request::open_log(
        &bob_ops,
        Purpose::Troubleshooting,
        &ticket(),
        log,
        at(NOW),
    ));
    assert_eq!(decision.reason(), Some(DenyReason::NotOnRoster));
}

#[test]
fn roster_changes_are_audited_so_add_open_remove_leaves_a_trace() {
    let policy = Policy::coder_model();
    let clock = ManualClock::new(at(NOW));
    let vault = vault_at(&policy, &clock);
    let record = sealed(&vault, "2025-02-01T00:00:00Z");
    let mallory: StewardId = "mallory".parse().unwrap();
    vault.add_steward(mallory.clone(), admin()).unwrap();
    let request = AccessRequest::new(mallory.clone(), Purpose::Troubleshooting, Some(ticket()));
    vault.open(&record, &request).unwrap();
    assert!(vault.remove_steward(&mallory, admin()).unwrap());
    assert!(vault.open(&record, &request).is_err());

    let events: Vec<AuditEvent> = vault
        .audit()
        .unwrap()
        .store()
        .as_slice()
        .iter()
        .map(|chained| chained.entry().event().clone())
        .collect();
    assert!(matches!(
        &events[0],
        AuditEvent::RosterChanged { change: RosterChange::Added(s), .. } if *s == steward()
    ));
    assert!(matches!(
        &events[1],
        AuditEvent::RosterChanged { change: RosterChange::Added(s), by } if *s == mallory && *by == admin()
    ));
    assert!(matches!(&events[2], AuditEvent::Access(a) if a.outcome() == AuditOutcome::Opened));
    assert!(matches!(
        &events[3],
        AuditEvent::RosterChanged { change: RosterChange::Removed(s), .. } if *s == mallory
    ));
    assert!(matches!(
        &events[4],
        AuditEvent::Access(a) if a.outcome() == AuditOutcome::Denied(Denial::NotOnRoster)
    ));
    vault.audit().unwrap().verify().unwrap();
}

#[test]
fn audit_instants_come_from_the_vault_clock_not_the_caller() {
    let policy = Policy::coder_model();
    let clock = ManualClock::new(at(NOW));
    let vault = vault_at(&policy, &clock);
    let record = sealed(&vault, "2025-02-01T00:00:00Z");
    // A non-steward's attempt is refused and audited, and blocks nobody: there is no
    // instant of the caller's to poison the trail with.
    let outsider = AccessRequest::new(
        "mallory".parse().unwrap(),
        Purpose::Troubleshooting,
        Some(ticket()),
    );
    assert_eq!(denial(vault.open(&record, &outsider)), Denial::NotOnRoster);
    vault.open(&record, &ask(Purpose::Troubleshooting)).unwrap();
    let entries = vault.audit().unwrap().store().as_slice().to_vec();
    let opened = entries.last().unwrap().entry();
    assert!(opened.at() > at(NOW) || opened.at() == at(NOW));
    assert!(opened.at() < at("2025-06-01T12:00:01Z"));
    vault.audit().unwrap().verify().unwrap();
}

#[test]
fn a_justification_without_visible_content_is_refused_and_audited() {
    let policy = Policy::coder_model();
    let clock = ManualClock::new(at(NOW));
    let vault = vault_at(&policy, &clock);
    let record = sealed(&vault, "2025-02-01T00:00:00Z");
    for invisible in ["\u{200B}", "\u{FEFF}\u{00AD}", "\u{202E}\u{2066}\u{2069}"] {
        let request =
            AccessRequest::with_justification_text(steward(), Purpose::Troubleshooting, invisible);
        assert_eq!(
            denial(vault.open(&record, &request)),
            Denial::MissingJustification,
            "{invisible:?}"
        );
    }
}

/// Issue 18: `--ticket x` counted as a reason, and an invisible character could hide inside a
/// visible ticket number. The bundled rule asks for 4 letters or digits; a policy file's
/// pattern is enforced by the vault too; each refusal is audited as a missing justification.
#[test]
fn a_justification_the_policy_rule_refuses_is_denied_as_missing_and_audited() {
    let clock = ManualClock::new(at(NOW));
    let bundled = Policy::coder_model();
    let vault = vault_at(&bundled, &clock);
    let record = sealed(&vault, "2025-02-01T00:00:00Z");
    let entries_before = vault.audit().unwrap().store().as_slice().len();
    for short in ["x", "n/a", "T-1", "INC-47\u{200B}11"] {
        let request =
            AccessRequest::with_justification_text(steward(), Purpose::Troubleshooting, short);
        assert_eq!(
            denial(vault.open(&record, &request)),
            Denial::MissingJustification,
            "{short:?}"
        );
    }
    assert_eq!(
        vault.audit().unwrap().store().as_slice().len(),
        entries_before + 4,
        "every refusal is in the trail"
    );
    let enough =
        AccessRequest::with_justification_text(steward(), Purpose::Troubleshooting, "INC-42");
    vault.open(&record, &enough).unwrap();

    let file = include_str!("../../../../examples/coder-model.toml").replace(
        "min-letters-or-digits = 4",
        "min-letters-or-digits = 4\npattern = \"^[A-Z]+-[0-9]+\"",
    );
    let tickets_only = Policy::from_toml_str(&file, "tickets.toml").unwrap();
    assert_eq!(
        tickets_only.justification_rule().pattern(),
        Some("^[A-Z]+-[0-9]+")
    );
    let vault = vault_at(&tickets_only, &clock);
    let record = sealed(&vault, "2025-02-01T00:00:00Z");
    let prose = AccessRequest::with_justification_text(
        steward(),
        Purpose::Troubleshooting,
        "customer asked about latency",
    );
    assert_eq!(
        denial(vault.open(&record, &prose)),
        Denial::MissingJustification
    );
    let ticket = AccessRequest::with_justification_text(
        steward(),
        Purpose::Troubleshooting,
        "INC-4711 customer asked about latency",
    );
    vault.open(&record, &ticket).unwrap();
}

#[test]
fn keep_asked_by_a_non_service_actor_cites_the_actor_rule_not_retention() {
    let policy = Policy::coder_model();
    let facts = facts(&policy);
    let log = data(DataCategory::LlmRequestLog, alice(), "2025-02-01T00:00:00Z");
    let steward = steward();
    for actor in [
        Actor::Customer(alice()),
        Actor::Steward(&steward),
        Actor::TrainingPipeline,
    ] {
        let request = Request {
            actor,
            ..Request::keep(log, at(NOW))
        };
        let decision = policy.check(&request, &facts);
        assert_eq!(decision.reason(), Some(DenyReason::ActorMayNotAct));
        assert!(
            !decision.clauses().contains(ClauseId::LogsRetention),
            "{decision}"
        );
        assert_eq!(decision.decisive(), ClauseId::LogsStored, "{decision}");
    }
}

/// Offset of the consent byte in a record (docs/record-format.md).
const CONSENT_OFFSET: usize = 6;

#[test]
fn a_flipped_consent_byte_in_an_unopened_header_never_decides_training() {
    let policy = Policy::coder_model();
    let clock = ManualClock::new(at(NOW));
    let vault = vault_at(&policy, &clock);
    let collected = at("2025-02-01T00:00:00Z");
    let id = RecordId::generate_at(collected);
    let mut bytes = vault
        .seal(id, alice(), collected, b"body")
        .unwrap()
        .into_bytes();
    bytes[CONSENT_OFFSET] = 3; // open-weight
    let forged = SealedRecord::from_bytes(&bytes).unwrap();
    assert_eq!(forged.header().consent(), TrainingLevel::OpenWeight);
    let claimed = DataRef::of_sealed_record(forged.header());
    let decision = vault.check(&Request::train(TrainingScope::OpenWeight, claimed, at(NOW)));
    assert_eq!(decision.reason(), Some(DenyReason::ConsentUnverified));
    // training.forward-only decides: it needs the level in force at collection, unread yet.
    assert_eq!(decision.decisive(), ClauseId::TrainingForwardOnly);
    // The forged record does not open, so it never reaches a verified decision.
    assert!(vault.open(&forged, &ask(Purpose::Troubleshooting)).is_err());

    // An opened record's level is authenticated, and decides.
    let genuine = vault.seal(id, alice(), collected, b"body").unwrap();
    let opened = vault
        .open(&genuine, &ask(Purpose::Troubleshooting))
        .unwrap();
    let verified = DataRef::of_opened_record(&opened);
    let decision = vault.check(&Request::train(TrainingScope::Shared, verified, at(NOW)));
    assert!(matches!(
        decision.reason(),
        Some(DenyReason::ConsentDoesNotPermit { .. })
    ));
    assert_eq!(decision.decisive(), ClauseId::TrainingDefaultOff);
    assert_eq!(
        decision.supporting(),
        ClauseSet::of(ClauseId::TrainingForwardOnly)
    );
}

#[test]
fn a_shredded_customer_who_returns_is_logged_again_and_old_records_stay_unreadable() {
    let policy = Policy::coder_model();
    let clock = ManualClock::new(at("2025-08-15T00:00:00Z"));
    let vault = vault_at(&policy, &clock);
    let old = sealed(&vault, "2025-02-01T00:00:00Z");
    vault
        .update_facts(|facts| facts.relationships.end(alice(), at("2025-07-01T00:00:00Z")))
        .unwrap()
        .unwrap();
    vault.shred(alice()).unwrap();
    // Alice comes back: a new relationship, and check() allows keeping her new logs.
    vault
        .update_facts(|facts| {
            facts
                .relationships
                .start(alice(), at("2025-09-01T00:00:00Z"))
        })
        .unwrap()
        .unwrap();
    clock.set(at("2025-09-02T00:00:00Z"));
    let new = sealed(&vault, "2025-09-02T00:00:00Z");
    let kept = vault.check(&Request::keep(
        DataRef::of_sealed_record(new.header()),
        at("2025-09-02T00:00:00Z"),
    ));
    assert!(kept.is_allowed(), "{kept}");
    assert!(new.header().key_version() > old.header().key_version());
    assert!(vault.open(&new, &ask(Purpose::Troubleshooting)).is_ok());
    // Her old record stays unreadable for good, whatever the policy would say of it.
    assert!(vault.open(&old, &ask(Purpose::Troubleshooting)).is_err());
}

mod gate_agrees_with_check {
    use proptest::prelude::*;

    use super::*;

    /// One attempt: who asks (on the roster or not), for which purpose, with or without a
    /// visible justification, on which day, over a relationship that may have ended and a
    /// hold that may stand.
    #[derive(Debug, Clone)]
    struct Attempt {
        on_roster: bool,
        purpose: Purpose,
        justified: bool,
        day: i64,
        ended: Option<i64>,
        held_until: Option<i64>,
    }

    fn attempt() -> impl Strategy<Value = Attempt> {
        (
            any::<bool>(),
            prop::sample::select(Purpose::ALL.to_vec()),
            any::<bool>(),
            40i64..200,
            prop::option::of(40i64..200),
            prop::option::of(40i64..300),
        )
            .prop_map(
                |(on_roster, purpose, justified, day, ended, held_until)| Attempt {
                    on_roster,
                    purpose,
                    justified,
                    day,
                    ended,
                    held_until,
                },
            )
    }

    fn day(days: i64) -> Timestamp {
        at("2025-01-01T00:00:00Z")
            .checked_add(chrono::TimeDelta::days(days))
            .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Invariant 4 at the one gate: the vault returns plaintext exactly when check()
        /// allows the same request at the vault's instant, every attempt is one audit entry,
        /// and an opened record's entry says so.
        #[test]
        fn the_vault_opens_exactly_what_check_allows_and_audits_every_attempt(
            attempt in attempt(),
        ) {
            let policy = Policy::coder_model();
            let clock = ManualClock::new(day(30));
            let vault = vault_at(&policy, &clock);
            let record = sealed(&vault, "2025-01-20T00:00:00Z");
            if let Some(ended) = attempt.ended {
                vault.update_facts(|facts| facts.relationships.end(alice(), day(ended))).unwrap().unwrap();
            }
            if let Some(until) = attempt.held_until {
                let hold = LegalHold::place(
                    HoldId::new(1),
                    HoldScope::Customer { customer: alice() },
                    "LEGAL-7 dispute".parse().unwrap(),
                    "counsel".parse().unwrap(),
                    day(35),
                    day(until),
                )
                .unwrap();
                vault.update_facts(|facts| facts.holds.place(hold)).unwrap().unwrap();
            }
            let who: StewardId = if attempt.on_roster { steward() } else { "mallory".parse().unwrap() };
            let text = if attempt.justified { "TICKET-9 outage" } else { "\u{200B}" };
            let request = AccessRequest::with_justification_text(who.clone(), attempt.purpose, text);
            clock.set(day(attempt.day));
            let justification = request.justification().cloned();
            let expected = vault.check(&Request {
                actor: Actor::Steward(&who),
                action: Action::OpenLog {
                    purpose: attempt.purpose,
                    justification: justification.as_ref(),
                },
                data: DataRef::of_sealed_record(record.header()),
                now: day(attempt.day),
            });
            let before = vault.audit().unwrap().store().as_slice().len();
            let opened = vault.open(&record, &request);
            let entries = vault.audit().unwrap().store().as_slice().to_vec();
            prop_assert_eq!(entries.len(), before + 1);
            let outcome = entries.last().unwrap().entry().access().unwrap().outcome();
            prop_assert_eq!(opened.is_ok(), expected.is_allowed(), "{}", expected);
            prop_assert_eq!(outcome == AuditOutcome::Opened, opened.is_ok());
            if let Err(LogsError::Open(OpenError::Denied { denial })) = &opened {
                // The trail names the clause that decided, not one that merely supports it.
                prop_assert_eq!(expected.decisive(), denial.clause(), "{} vs {}", denial, expected);
            }
            vault.audit().unwrap().verify().unwrap();
        }
    }
}

#[test]
fn facts_replaced_inside_update_facts_bring_no_roster_past_the_audit() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    let record = sealed(&vault, "2025-02-01T00:00:00Z");
    // A copy of the facts while the steward was on the roster, then an audited removal.
    let before_removal = vault.facts().unwrap().clone();
    assert!(vault.remove_steward(&steward(), admin()).unwrap());
    assert_eq!(
        denial(vault.open(&record, &ask(Purpose::Troubleshooting))),
        Denial::NotOnRoster
    );

    // Putting the copy back would restore the roster past the audit: refused, and the vault
    // decides nothing from then on.
    let replaced = vault.update_facts(|facts| *facts = before_removal);
    assert!(matches!(
        replaced,
        Err(LogsError::Config(ConfigError::FactsReplaced))
    ));
    let refused = vault.open(&record, &ask(Purpose::Troubleshooting));
    assert!(refused.is_err());
    assert!(
        !vault
            .check(&Request {
                actor: Actor::Steward(&steward()),
                action: Action::OpenLog {
                    purpose: Purpose::Troubleshooting,
                    justification: Some(&ticket()),
                },
                data: DataRef::of_sealed_record(record.header()),
                now: at(NOW),
            })
            .is_allowed()
    );
    assert!(matches!(
        vault.add_steward(steward(), admin()),
        Err(LogsError::Config(ConfigError::FactsReplaced))
    ));
    assert!(matches!(
        vault.update_facts(|_| ()),
        Err(LogsError::Config(ConfigError::FactsReplaced))
    ));
}

fn hold_on(id: u64, scope: HoldScope) -> LegalHold {
    LegalHold::place(
        HoldId::new(id),
        scope,
        "CASE-2025-9 litigation hold".parse().unwrap(),
        "counsel.kim".parse().unwrap(),
        at("2025-07-02T00:00:00Z"),
        at("2025-08-01T00:00:00Z"),
    )
    .unwrap()
}

#[test]
fn shred_is_refused_naming_the_hold_while_any_hold_of_the_customer_stands() {
    let policy = Policy::coder_model();
    let clock = ManualClock::new(at("2025-08-15T00:00:00Z"));
    let vault = vault_at(&policy, &clock);
    let record = sealed(&vault, "2025-02-01T00:00:00Z");
    vault
        .update_facts(|facts| facts.relationships.end(alice(), at("2025-07-01T00:00:00Z")))
        .unwrap()
        .unwrap();
    // A hold on one email category only, past its review date: a shred would still make
    // every record of hers unreadable, so it is refused.
    let hold = hold_on(
        4,
        HoldScope::Category {
            customer: alice(),
            category: DataCategory::Email,
        },
    );
    vault
        .update_facts(|facts| facts.holds.place(hold))
        .unwrap()
        .unwrap();
    let entries = vault.audit().unwrap().verify().unwrap().entries();
    let refused = vault.shred(alice()).unwrap_err();
    assert!(matches!(
        refused,
        StewardError::Retention(retention::RetentionError::Held { hold, .. }) if hold == HoldId::new(4)
    ));
    assert_eq!(
        refused.to_string(),
        "legal hold `hold-4` stands: shredding the customer's keys is refused until it is released"
    );
    // Nothing happened: no shred, no audit entry.
    assert!(!vault.keyring().unwrap().is_shredded(alice()));
    assert_eq!(vault.audit().unwrap().verify().unwrap().entries(), entries);
    // The sweep's shredder refuses the same way.
    {
        let facts = vault.facts().unwrap();
        let mut shredder = VaultShredder::new(&vault, &*facts);
        let refused = retention::KeyShredder::shred_customer(&mut shredder, alice());
        assert!(matches!(
            refused,
            Err(StewardError::Retention(
                retention::RetentionError::Held { .. }
            ))
        ));
    }
    assert!(!vault.keyring().unwrap().is_shredded(alice()));
    // Released: the shred goes through.
    vault
        .update_facts(|facts| {
            facts.holds.release(
                HoldId::new(4),
                "counsel.kim".parse().unwrap(),
                Timestamp::now(),
                "case closed".parse().unwrap(),
            )
        })
        .unwrap()
        .unwrap();
    vault.shred(alice()).unwrap();
    assert!(vault.open(&record, &ask(Purpose::Troubleshooting)).is_err());
}

#[test]
fn a_shredder_handed_other_facts_than_the_vault_s_is_refused() {
    let policy = Policy::coder_model();
    let clock = ManualClock::new(at("2025-08-15T00:00:00Z"));
    let vault = vault_at(&policy, &clock);
    let _record = sealed(&vault, "2025-02-01T00:00:00Z");
    let other = MemoryFacts::new(&policy);
    let mut shredder = VaultShredder::new(&vault, &other);
    assert!(matches!(
        retention::KeyShredder::shred_customer(&mut shredder, alice()),
        Err(StewardError::Logs(LogsError::Config(
            ConfigError::FactsReplaced
        )))
    ));
    assert!(!vault.keyring().unwrap().is_shredded(alice()));
}

/// A fact change that waits for a long reader of the facts (a sweep's step holds them shared
/// for a transaction) does not hold up the decisions that arrive meanwhile: they read the
/// facts beside the reader, and the change goes through once the reader lets go.
#[test]
fn decisions_go_ahead_while_a_fact_change_waits_for_a_long_reader() {
    use std::sync::{
        Arc, Barrier,
        atomic::{AtomicBool, Ordering},
        mpsc,
    };
    use std::{thread, time::Duration};

    let policy = Policy::coder_model();
    let vault = Arc::new(vault(&policy));
    let (decided, waiting_for_decisions) = mpsc::channel::<()>();
    let reading = Arc::new(Barrier::new(2));
    let released = Arc::new(AtomicBool::new(false));
    let reader = {
        let (vault, reading, released) = (
            Arc::clone(&vault),
            Arc::clone(&reading),
            Arc::clone(&released),
        );
        thread::spawn(move || {
            let facts = vault.facts().unwrap();
            reading.wait();
            // Held until the decisions were made, or for at most ten seconds if they wait.
            let _ = waiting_for_decisions.recv_timeout(Duration::from_secs(10));
            released.store(true, Ordering::Release);
            drop(facts);
        })
    };
    reading.wait();
    let writer = {
        let vault = Arc::clone(&vault);
        thread::spawn(move || {
            vault
                .update_facts(|facts| facts.relationships.end(alice(), at(NOW)))
                .unwrap()
                .unwrap();
        })
    };
    // Give the change time to start waiting for the reader.
    thread::sleep(Duration::from_millis(50));
    for _ in 0..100 {
        let decision = vault.check(&Request::keep(
            data(DataCategory::LlmRequestLog, alice(), "2025-02-01T00:00:00Z"),
            at("2025-03-01T00:00:00Z"),
        ));
        assert!(decision.is_allowed(), "{decision:?}");
    }
    assert!(
        !released.load(Ordering::Acquire),
        "the decisions waited for the reader to let go"
    );
    decided.send(()).unwrap();
    reader.join().unwrap();
    writer.join().unwrap();
    // The change went through after the reader: the relationship has ended.
    assert!(
        !vault
            .check(&Request::keep(
                data(DataCategory::LlmRequestLog, alice(), "2025-02-01T00:00:00Z"),
                at("2025-08-01T00:00:00Z"),
            ))
            .is_allowed()
    );
}
