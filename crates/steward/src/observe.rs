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
