//! The evaluator behind `Policy::check`: pure, allocation-free, deny by default.

use steward_consent::ConsentMode;
use steward_core::{ClauseId, DataCategory, PurposeGroup};
use steward_retention::{Disposition, HoldScope, NoHolds, RecordMeta, RetentionError};

use crate::{
    Action, Actor, ClauseSet, CollectionConsent, Decision, DenyReason, EvaluationProblem, Facts,
    Obligation, Policy, Request, decision::Obligations,
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
    let allowed = match permission(policy, request, facts) {
        Ok(allowed) => allowed,
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
    // another clause too (use.purposes for personal data: no purpose is left for it).
    let retention_clauses = ClauseSet::of(ClauseId::LogsRetention).with(own.clause());
    let is_stored_record = data.record.is_some();

    if let Action::Keep = request.action {
        return keep(own, retention_clauses, allowed, || {
            held(data.owner, &record, is_stored_record, request, facts)
        });
    }
    if own.is_due() {
        let reason = if held(data.owner, &record, is_stored_record, request, facts) {
            DenyReason::KeptOnlyByLegalHold
        } else {
            DenyReason::RetentionEnded
        };
        return Decision::deny_citing(retention_clauses, reason);
    }
    match request.action {
        Action::Train { scope } => {
            let at_collection = match data.consent_at_collection {
                CollectionConsent::Known(level) => level,
                CollectionConsent::Unverified(_) => {
                    return Decision::deny(
                        ClauseId::TrainingForwardOnly,
                        DenyReason::ConsentUnverified,
                    );
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
            let clause = level.deciding_clause(scope, data.owner);
            if level.permits(scope, data.owner) {
                Decision::allow(
                    allowed.with(clause).with(ClauseId::TrainingForwardOnly),
                    Obligations::NONE,
                )
            } else if matches!(scope, steward_core::TrainingScope::Private { owner } if owner != data.owner)
            {
                Decision::deny(clause, DenyReason::PrivateScopeOfAnotherCustomer)
            } else {
                Decision::deny(clause, DenyReason::ConsentDoesNotPermit { level, scope })
                    .with_clause(ClauseId::TrainingForwardOnly)
            }
        }
        Action::OpenLog { .. } => {
            Decision::allow(allowed, Obligations::one(Obligation::AuditAccess))
        }
        _ => Decision::allow(allowed, Obligations::NONE),
    }
}

/// Who may take which action, for which purpose, on which category: the clauses that allow
/// it, or the deny.
fn permission<F: Facts + ?Sized>(
    policy: &Policy,
    request: &Request<'_>,
    facts: &F,
) -> Result<ClauseSet, Decision> {
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
            Ok(ClauseSet::of(ClauseId::UsePurposes).with(category.clause()))
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
            Ok(ClauseSet::of(ClauseId::LogsAccess)
                .with(ClauseId::LogsPurposes)
                .with(ClauseId::LogsEncrypted))
        }
        (Actor::TrainingPipeline, Action::Train { .. }) => {
            if !policy.allows_purpose(category, steward_core::Purpose::ModelTraining) {
                return Err(Decision::deny(
                    ClauseId::TrainingDefaultOff,
                    DenyReason::PurposeNotAllowedForCategory {
                        purpose: steward_core::Purpose::ModelTraining,
                        category,
                    },
                ));
            }
            Ok(ClauseSet::EMPTY)
        }
        (Actor::Service, Action::Keep) => Ok(ClauseSet::EMPTY),
        (_, action) => Err(Decision::deny(
            clause_of_action(action, category),
            DenyReason::ActorMayNotAct,
        )),
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
/// stands; with the deadline as an obligation. Holds are consulted only for due data.
fn keep(
    own: Disposition,
    clauses: ClauseSet,
    allowed: ClauseSet,
    held: impl FnOnce() -> bool,
) -> Decision {
    let allowed = allowed.union(clauses);
    match own {
        Disposition::Keep { until, .. } => Decision::allow(
            allowed,
            until.map_or(Obligations::NONE, |deadline| {
                Obligations::one(Obligation::DeleteBy { deadline })
            }),
        ),
        _ if held() => Decision::allow(allowed, Obligations::one(Obligation::DeleteWhenHoldEnds)),
        Disposition::DeleteBy { deadline, .. } => {
            Decision::allow(allowed, Obligations::one(Obligation::DeleteBy { deadline }))
        }
        _ => Decision::deny_citing(clauses, DenyReason::RetentionEnded),
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
