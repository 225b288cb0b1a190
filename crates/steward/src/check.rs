//! The evaluator behind `Policy::check`: pure, allocation-free, deny by default.

use steward_consent::ConsentMode;
use steward_core::{ClauseId, DataCategory, Purpose, PurposeGroup, TrainingScope};
use steward_retention::{Disposition, DueReason, HoldScope, NoHolds, RecordMeta, RetentionError};

use crate::{
    Action, Actor, Citations, ClauseSet, CollectionConsent, Decision, DenyReason,
    EvaluationProblem, Facts, Obligation, Policy, Request, decision::Obligations,
};

/// Decides `request`. The order matters only for which reason a deny names: first who may
/// take which action for which purpose (no facts needed), then retention (nothing due for
/// deletion serves anything), then consent for training.
pub(crate) fn evaluate<F: Facts + ?Sized>(
    policy: &Policy,
    request: &Request<'_>,
    facts: &F,
) -> Decision {
    let data = request.data;
    if data.collected_at > request.now {
        return cannot_evaluate(EvaluationProblem::CollectedInTheFuture);
    }
    let permitted = match permission(policy, request, facts) {
        Ok(permitted) => permitted,
        Err(deny) => return deny,
    };
    let rule = match policy.retention().rule(data.category) {
        Ok(rule) => rule,
        Err(_) => return cannot_evaluate(EvaluationProblem::NoRetentionRule),
    };
    let record = RecordMeta::new(
        // Only a hold on one record reads the id; data that is no stored record has none.
        data.record.unwrap_or(steward_core::RecordId::MIN),
        data.owner,
        data.category,
        data.collected_at,
    );
    let relationship = facts.relationship_containing(data.owner, data.collected_at);
    // Holds matter only once the rule itself makes the data due: a hold keeps data, it never
    // permits a use (docs/design.md section 1), so the rule alone decides whether data serves.
    let own = match steward_retention::disposition(
        &rule,
        &record,
        relationship.as_ref(),
        &NoHolds,
        request.now,
    ) {
        Ok(own) => own,
        Err(error) => return cannot_evaluate(problem_of(&error)),
    };
    // logs.retention decides whether data may still be kept; a category's own rule may cite
    // another clause, which supports it (use.purposes for personal data: no purpose is left).
    let retention =
        Citations::decided_by(ClauseId::LogsRetention).supported_by(ClauseSet::of(own.clause()));
    let is_stored_record = data.record.is_some();
    let is_held = || held(data.owner, &record, is_stored_record, request, facts);
    if is_outside_every_relationship(own) && !facts.has_relationship_on_record(data.owner) {
        // No relationship ever began: nothing ended, so nothing is "past its retention". The
        // data has no basis, and the clause that would have granted the request says so; a
        // hold may still keep it (the sweep leaves such records alone, docs/retention.md).
        if matches!(permitted, Permitted::IfRetained) && is_held() {
            return keep(own, retention, || true);
        }
        return Decision::deny(
            clause_of_action(request.action, data.category),
            DenyReason::NoRelationship,
        );
    }

    match permitted {
        Permitted::IfRetained => keep(own, retention, is_held),
        _ if own.is_due() => {
            let reason = if is_held() {
                DenyReason::KeptOnlyByLegalHold
            } else {
                DenyReason::RetentionEnded
            };
            Decision::deny_citing(retention, reason)
        }
        // Consent receipts outlive their relationship only as proof (GDPR Art. 7(1)): kept
        // for the proof period, used for nothing; no purpose of use.purposes is left. One
        // recorded outside every relationship (between two) has none to serve either.
        Permitted::Granted { .. }
            if data.category == DataCategory::ConsentRecord
                && relationship
                    .as_ref()
                    .is_none_or(|relationship| !relationship.is_active_at(request.now)) =>
        {
            Decision::deny_citing(
                Citations::decided_by(ClauseId::UsePurposes)
                    .supported_by(ClauseSet::of(ClauseId::PolicyVersioned)),
                DenyReason::KeptOnlyAsProof,
            )
        }
        Permitted::IfConsentPermits { scope } => train(policy, request, facts, scope),
        Permitted::Granted {
            citations,
            obligations,
        } => Decision::allow(citations, obligations),
    }
}

/// What [`permission`] lets through, and what still decides it once the data is known to
/// serve.
enum Permitted {
    /// Allowed by these clauses, with these obligations, while the data is not due.
    Granted {
        citations: Citations,
        obligations: Obligations,
    },
    /// Training: allowed if the consent that applies to the data permits `scope`.
    IfConsentPermits { scope: TrainingScope },
    /// Keeping: allowed if the retention rule (or a hold) still keeps the data.
    IfRetained,
}

/// Who may take which action, for which purpose, on which category: what lets the request
/// through, or the deny.
fn permission<F: Facts + ?Sized>(
    policy: &Policy,
    request: &Request<'_>,
    facts: &F,
) -> Result<Permitted, Decision> {
    let category = request.data.category;
    let is_log = category == DataCategory::LlmRequestLog;
    match (request.actor, request.action) {
        (Actor::Service, Action::Use { purpose }) => {
            if is_log {
                // logs.access: logs are read only through steward access, never used.
                return Err(Decision::deny(
                    ClauseId::LogsAccess,
                    DenyReason::WrongPathForCategory { category },
                ));
            }
            if purpose.group() != PurposeGroup::Service {
                return Err(Decision::deny(
                    ClauseId::UsePurposes,
                    DenyReason::PurposeNotListed { purpose },
                ));
            }
            if !policy.allows_purpose(category, purpose) {
                return Err(Decision::deny(
                    ClauseId::UsePurposes,
                    DenyReason::PurposeNotAllowedForCategory { purpose, category },
                ));
            }
            // use.purposes: interactive features only "when you choose to do so", so only
            // while the customer's opt-in is in force at the instant of the use.
            if purpose == Purpose::InteractiveFeatures
                && !facts
                    .interactive_choice_at(request.data.owner, request.now)
                    .is_opted_in()
            {
                return Err(Decision::deny(
                    ClauseId::UsePurposes,
                    DenyReason::InteractiveNotOptedIn,
                ));
            }
            // use.purposes grants the use; the category's collection clause supports it.
            Ok(Permitted::Granted {
                citations: Citations::decided_by(ClauseId::UsePurposes)
                    .supported_by(ClauseSet::of(category.clause())),
                obligations: Obligations::NONE,
            })
        }
        (
            Actor::Steward(steward),
            Action::OpenLog {
                purpose,
                justification,
            },
        ) => {
            if !is_log {
                return Err(Decision::deny(
                    ClauseId::LogsAccess,
                    DenyReason::WrongPathForCategory { category },
                ));
            }
            if purpose.group() != PurposeGroup::Logs {
                return Err(Decision::deny(
                    ClauseId::LogsPurposes,
                    DenyReason::PurposeNotListed { purpose },
                ));
            }
            if !policy.allows_purpose(category, purpose) {
                return Err(Decision::deny(
                    ClauseId::LogsPurposes,
                    DenyReason::PurposeNotAllowedForCategory { purpose, category },
                ));
            }
            if !facts.is_on_roster(steward) {
                return Err(Decision::deny(
                    ClauseId::LogsAccess,
                    DenyReason::NotOnRoster,
                ));
            }
            if justification.is_none() {
                return Err(Decision::deny(
                    ClauseId::LogsAccess,
                    DenyReason::MissingJustification,
                ));
            }
            // logs.access grants the opening (a roster steward, justified, audited); the
            // purpose and the encryption it opens support it.
            Ok(Permitted::Granted {
                citations: Citations::decided_by(ClauseId::LogsAccess).supported_by(
                    ClauseSet::of(ClauseId::LogsPurposes).with(ClauseId::LogsEncrypted),
                ),
                obligations: Obligations::one(Obligation::AuditAccess),
            })
        }
        (Actor::TrainingPipeline, Action::Train { scope }) => {
            if !policy.allows_purpose(category, Purpose::ModelTraining) {
                return Err(Decision::deny(
                    ClauseId::TrainingDefaultOff,
                    DenyReason::PurposeNotAllowedForCategory {
                        purpose: Purpose::ModelTraining,
                        category,
                    },
                ));
            }
            Ok(Permitted::IfConsentPermits { scope })
        }
        (Actor::Service, Action::Keep) => Ok(Permitted::IfRetained),
        (_, action) => Err(Decision::deny(
            clause_of_action(action, category),
            DenyReason::ActorMayNotAct,
        )),
    }
}

/// Training at `scope` on data that still serves: the consent that applies to the data
/// decides, citing the opt-in of the scope (or `training.default-off`), supported by
/// `training.forward-only`, which says which level applies.
fn train<F: Facts + ?Sized>(
    policy: &Policy,
    request: &Request<'_>,
    facts: &F,
    scope: TrainingScope,
) -> Decision {
    let data = request.data;
    let at_collection = match data.consent_at_collection {
        CollectionConsent::Known(level) => level,
        CollectionConsent::Unverified(_) => {
            return Decision::deny(ClauseId::TrainingForwardOnly, DenyReason::ConsentUnverified);
        }
        _ => facts.training_level_at(data.owner, data.collected_at),
    };
    let level = match policy.consent_mode() {
        ConsentMode::ForwardOnly => at_collection,
        mode => mode.effective_level(
            at_collection,
            facts.training_level_at(data.owner, request.now),
        ),
    };
    let citations = Citations::decided_by(level.deciding_clause(scope, data.owner));
    let forward_only = citations.supported_by(ClauseSet::of(ClauseId::TrainingForwardOnly));
    if level.permits(scope, data.owner) {
        Decision::allow(forward_only, Obligations::NONE)
    } else if matches!(scope, TrainingScope::Private { owner } if owner != data.owner) {
        // training.private alone: no level of another customer's data would change this.
        Decision::deny_citing(citations, DenyReason::PrivateScopeOfAnotherCustomer)
    } else {
        Decision::deny_citing(
            forward_only,
            DenyReason::ConsentDoesNotPermit { level, scope },
        )
    }
}

/// The clause that governs an action, cited when the actor may not take it at all.
///
/// Keeping is the company's act of storing what it collected, so a keep by anyone else cites
/// the category's collection clause; never `logs.retention`, which means "due".
const fn clause_of_action(action: Action<'_>, category: DataCategory) -> ClauseId {
    match action {
        Action::Use { .. } => ClauseId::UsePurposes,
        Action::OpenLog { .. } => ClauseId::LogsAccess,
        Action::Train { .. } => ClauseId::TrainingDefaultOff,
        Action::Keep => category.clause(),
    }
}

/// Keeping data: allowed until it is due, then within its deletion window, or while a hold
/// stands; with the deadline as an obligation. Holds are consulted only for due data. The
/// retention clauses decide either way.
fn keep(own: Disposition, retention: Citations, held: impl FnOnce() -> bool) -> Decision {
    match own {
        Disposition::Keep { until, .. } => Decision::allow(
            retention,
            until.map_or(Obligations::NONE, |deadline| {
                Obligations::one(Obligation::DeleteBy { deadline })
            }),
        ),
        _ if held() => Decision::allow(retention, Obligations::one(Obligation::DeleteWhenHoldEnds)),
        Disposition::DeleteBy { deadline, .. } => Decision::allow(
            retention,
            Obligations::one(Obligation::DeleteBy { deadline }),
        ),
        _ => Decision::deny_citing(retention, DenyReason::RetentionEnded),
    }
}

/// Whether a standing legal hold covers `record` at the request's instant. Data that is not
/// a stored record carries a stand-in id, which no hold on a single record may match.
fn held<F: Facts + ?Sized>(
    owner: steward_core::CustomerId,
    record: &RecordMeta,
    is_stored_record: bool,
    request: &Request<'_>,
    facts: &F,
) -> bool {
    let mut held = false;
    facts.visit_holds(owner, &mut |hold| {
        let on_one_record = matches!(hold.scope(), HoldScope::Record { .. });
        held |= (is_stored_record || !on_one_record) && hold.keeps(record, request.now);
    });
    held
}

/// Whether the rule found the data outside every relationship of its customer.
const fn is_outside_every_relationship(own: Disposition) -> bool {
    matches!(
        own,
        Disposition::DeleteNow {
            reason: DueReason::OutsideRelationship,
            ..
        } | Disposition::DeleteBy {
            reason: DueReason::OutsideRelationship,
            ..
        }
    )
}

fn cannot_evaluate(problem: EvaluationProblem) -> Decision {
    Decision::cannot_evaluate(problem)
}

const fn problem_of(error: &RetentionError) -> EvaluationProblem {
    match error {
        RetentionError::NoRule { .. } => EvaluationProblem::NoRetentionRule,
        RetentionError::RelationshipMismatch { .. } => EvaluationProblem::RelationshipMismatch,
        _ => EvaluationProblem::InstantOutOfRange,
    }
}
