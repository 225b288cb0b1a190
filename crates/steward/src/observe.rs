//! Metrics and spans of the vault (features `metrics` and `tracing`, off by default): without
//! them every function here is empty and inlined away. Labels are static words of the
//! policy's vocabulary (action, effect, clause): never a customer, steward, record id,
//! justification or body. docs/operations.md lists the names.

use crate::{Decision, Request};

/// Counts one decision by action, effect and decisive clause (a deny is `effect="deny"`).
///
/// Allocation-free, as `check()` is (tests/no_allocation.rs runs with every feature on): the
/// keys are built from static label tables, never from strings made at the call.
#[inline]
pub(crate) fn decision(request: &Request<'_>, decision: &Decision) {
    #[cfg(feature = "metrics")]
    decision_labels::count(request, decision);
    #[cfg(not(feature = "metrics"))]
    let _ = (request, decision);
}

#[cfg(feature = "metrics")]
mod decision_labels {
    use metrics::{Key, Label, Level, Metadata};
    use steward_core::ClauseId;

    use crate::{Action, Decision, Request};

    const ACTIONS: [&str; 4] = ["use", "open_log", "train", "keep"];
    const EFFECTS: [&str; 2] = ["allow", "deny"];
    /// Clauses this build knows, and one slot for a clause added later (`other`).
    const CLAUSES: usize = ClauseId::ALL.len() + 1;
    const SLOTS: usize = ACTIONS.len() * EFFECTS.len() * CLAUSES;

    /// Every (action, effect, clause) label set, built at compile time.
    static LABELS: [[Label; 3]; SLOTS] = table();

    static METADATA: Metadata<'static> =
        Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

    #[expect(
        clippy::indexing_slicing,
        clippy::integer_division,
        reason = "const construction: every index is below the array's length by the loop bound"
    )]
    const fn table() -> [[Label; 3]; SLOTS] {
        const BLANK: [Label; 3] = [
            Label::from_static_parts("", ""),
            Label::from_static_parts("", ""),
            Label::from_static_parts("", ""),
        ];
        let mut out = [BLANK; SLOTS];
        let mut slot = 0;
        // INVARIANT: slot < SLOTS, so each quotient and remainder indexes within its table.
        while slot < SLOTS {
            let action = slot / (EFFECTS.len() * CLAUSES);
            let effect = slot / CLAUSES % EFFECTS.len();
            let clause = slot % CLAUSES;
            let clause = if clause < ClauseId::ALL.len() {
                ClauseId::ALL[clause].as_str()
            } else {
                "other"
            };
            let labels = [
                Label::from_static_parts("action", ACTIONS[action]),
                Label::from_static_parts("effect", EFFECTS[effect]),
                Label::from_static_parts("clause", clause),
            ];
            // A const fn cannot drop the blank it replaces; it owns nothing to leak.
            core::mem::forget(core::mem::replace(&mut out[slot], labels));
            slot += 1;
        }
        out
    }

    pub(super) fn count(request: &Request<'_>, decision: &Decision) {
        let action = match request.action {
            Action::Use { .. } => 0,
            Action::OpenLog { .. } => 1,
            Action::Train { .. } => 2,
            _ => 3,
        };
        let effect = usize::from(!decision.is_allowed());
        let decisive = decision.decisive();
        let clause = ClauseId::ALL
            .iter()
            .position(|known| *known == decisive)
            .unwrap_or(CLAUSES - 1);
        let slot = (action * EFFECTS.len() + effect) * CLAUSES + clause;
        if let Some(labels) = LABELS.get(slot) {
            let key = Key::from_static_parts("steward_decisions_total", labels);
            metrics::with_recorder(|recorder| recorder.register_counter(&key, &METADATA))
                .increment(1);
        }
    }
}

/// Counts one steward open by outcome (`opened`, `denied`, `failed`).
#[inline]
pub(crate) fn open(outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("steward_opens_total", "outcome" => outcome).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// A span entered until the guard drops (with the feature `tracing`), or nothing.
#[cfg(feature = "tracing")]
pub(crate) type Entered = tracing::span::EnteredSpan;

/// Without the feature `tracing`: nothing.
#[cfg(not(feature = "tracing"))]
pub(crate) struct Entered;

/// The span of one seal: the body's length only.
#[inline]
pub(crate) fn seal_span(body_len: usize) -> Entered {
    #[cfg(feature = "tracing")]
    {
        tracing::debug_span!("steward.seal", body_len).entered()
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = body_len;
        Entered
    }
}

/// The span of one open: the purpose only (the steward is personal data of staff).
#[inline]
pub(crate) fn open_span(purpose: steward_core::Purpose) -> Entered {
    #[cfg(feature = "tracing")]
    {
        tracing::info_span!("steward.open", purpose = purpose.as_str()).entered()
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = purpose;
        Entered
    }
}

#[cfg(all(test, feature = "tracing"))]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "tests: a failed step must fail the test"
    )]

    use std::sync::{Arc, Mutex};

    use tracing::{
        Event, Metadata, Subscriber,
        field::{Field, Visit},
        span::{Attributes, Id, Record},
    };

    use crate::{
        MemoryFacts, Policy, Vault,
        logs::{AccessRequest, AuditKey, AuditTrail, Keyring, MasterKey, MemoryAuditStore},
        vocabulary::{Purpose, RecordId, Timestamp},
    };

    /// Records each new span's name and the text of its fields.
    #[derive(Clone, Default)]
    struct Spans(Arc<Mutex<Vec<String>>>);

    struct Fields(String);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }

    impl Subscriber for Spans {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut fields = Fields(span.metadata().name().to_owned());
            span.record(&mut fields);
            let mut spans = self.0.lock().unwrap();
            spans.push(fields.0);
            Id::from_u64(u64::try_from(spans.len()).unwrap())
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn seal_and_open_have_spans_that_carry_no_body_customer_or_steward() {
        let policy = Policy::coder_model();
        let mut facts = MemoryFacts::new(&policy);
        let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse().unwrap();
        facts
            .relationships
            .start(customer, "2025-01-01T00:00:00Z".parse().unwrap())
            .unwrap();
        let master = MasterKey::from_bytes(
            "kek-1".parse().unwrap(),
            b"steward test key 42, not secret!",
        )
        .unwrap();
        let trail = AuditTrail::new(
            AuditKey::from_bytes(b"steward test key 17, not secret!").unwrap(),
            MemoryAuditStore::new(),
        )
        .unwrap();
        let vault = Vault::new(policy, facts, Keyring::new(master), trail).unwrap();
        vault
            .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
            .unwrap();
        let spans = Spans::default();
        tracing::subscriber::with_default(spans.clone(), || {
            let now = Timestamp::now();
            let record = vault
                .seal(
                    RecordId::generate_at(now),
                    customer,
                    now,
                    b"a private prompt",
                )
                .unwrap();
            let ask = AccessRequest::with_justification_text(
                "alice.ops".parse().unwrap(),
                Purpose::Troubleshooting,
                "INC-42",
            );
            vault.open(&record, &ask).unwrap();
        });
        let seen = spans.0.lock().unwrap().join("\n");
        assert!(seen.contains("steward.seal body_len=16"), "{seen}");
        assert!(
            seen.contains("steward.open purpose=\"troubleshooting\""),
            "{seen}"
        );
        for secret in ["private", "alice", "0192f1f0", "INC-42"] {
            assert!(!seen.contains(secret), "{secret} in {seen}");
        }
    }
}
