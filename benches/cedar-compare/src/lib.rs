//! Steward's `Policy::check` against an equivalent Cedar policy set, on the same requests.
//!
//! [`World`] is the state both engines decide over: 10,000 customers in `MemoryFacts` for
//! Steward, and for Cedar the same facts resolved ahead of time into entity attributes
//! (`on_roster`, `consent_level`, `due`, `retention_ended`, `interactive_opted_in`).
//! [`Comparison`] holds one Steward request and its Cedar twin per benchmarked case, with
//! Cedar's `PolicySet`, `Entities` and `Request`s built once, outside any timed loop;
//! [`Comparison::verify`] proves both engines decide every case alike before anything is
//! timed.
//!
//! The bench is `benches/compare.rs`; `cargo test` here checks the two engines agree on
//! several thousand requests (every actor, action, purpose, category and owner).

use std::collections::{HashMap, HashSet};

pub use steward_benches::{Case, Expected, KINDS, SetupError, World};

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityUid, PolicySet,
    Request as CedarRequest, RestrictedExpression,
};
use steward::{Action, Actor, DataRef, Facts, Request, vocabulary::{CustomerId, Purpose, TrainingLevel, TrainingScope}};

/// The Coder Model rules in Cedar: eleven policies, one per rule of docs/design.md section 1 that
/// `check()` enforces (legal holds are not modelled: no compared request touches one).
pub const CEDAR_POLICIES: &str = include_str!("../coder-model.cedar");

/// The bundled policy's deletion window, in nanoseconds (30 days).
const WINDOW_NANOS: i64 = 30 * 86_400 * 1_000_000_000;

/// A Cedar request context, as named values.
type ContextPairs = Vec<(String, RestrictedExpression)>;

/// Both engines, ready to decide the same cases: Cedar's side is fully built here.
pub struct Comparison<'a> {
    /// The world Steward reads through [`Facts`].
    pub world: &'a World,
    /// The cases, with their Cedar twin requests in the same order.
    pub cases: Vec<(Case<'a>, CedarRequest)>,
    /// The Cedar authorizer.
    pub authorizer: Authorizer,
    /// The Cedar policies ([`CEDAR_POLICIES`]).
    pub policies: PolicySet,
    /// Every entity the Cedar requests name, with the facts as attributes.
    pub entities: Entities,
}

impl<'a> Comparison<'a> {
    /// Translates `cases` into Cedar requests and builds Cedar's policies and entities.
    ///
    /// # Errors
    ///
    /// A policy that does not parse, or a request Cedar cannot express.
    pub fn new(world: &'a World, cases: Vec<Case<'a>>) -> Result<Self, SetupError> {
        let policies: PolicySet = CEDAR_POLICIES.parse()?;
        let mut translator = Translator::new(world);
        let mut paired = Vec::with_capacity(cases.len());
        for (index, case) in cases.into_iter().enumerate() {
            let name = format!("{}-{}-{index}", case.kind, case.outcome);
            let cedar = translator.request(&case.request, &name)?;
            paired.push((case, cedar));
        }
        Ok(Self {
            world,
            cases: paired,
            authorizer: Authorizer::new(),
            policies,
            entities: translator.entities()?,
        })
    }

    /// Whether Steward allows `request` over the world's facts.
    #[must_use]
    pub fn steward_allows(&self, request: &Request<'_>) -> bool {
        self.world
            .policy
            .check(request, &self.world.facts)
            .is_allowed()
    }

    /// Cedar's decision on `request`, or the first evaluation error Cedar reported (a policy
    /// that errors is skipped by Cedar, which would silently make it cheaper).
    ///
    /// # Errors
    ///
    /// The text of the first error in Cedar's diagnostics.
    pub fn cedar_allows(&self, request: &CedarRequest) -> Result<bool, String> {
        let response = self
            .authorizer
            .is_authorized(request, &self.policies, &self.entities);
        if let Some(error) = response.diagnostics().errors().next() {
            return Err(error.to_string());
        }
        Ok(response.decision() == CedarDecision::Allow)
    }

    /// Checks that both engines decide every case as its outcome says, with no Cedar errors.
    ///
    /// # Errors
    ///
    /// Names the first case where they disagree, or where either one contradicts the case.
    pub fn verify(&self) -> Result<(), String> {
        for (case, cedar) in &self.cases {
            let name = format!("{}/{}", case.kind, case.outcome);
            let ours = self.steward_allows(&case.request);
            let theirs = self
                .cedar_allows(cedar)
                .map_err(|error| format!("{name}: cedar error: {error}"))?;
            if ours != case.must_allow() || theirs != case.must_allow() {
                return Err(format!(
                    "{name}: steward allows: {ours}, cedar allows: {theirs}, expected: {}",
                    case.must_allow()
                ));
            }
        }
        Ok(())
    }
}

/// Turns Steward requests into Cedar requests, collecting the entities they name with the
/// facts resolved into attributes, as a Cedar deployment would load them per request.
pub struct Translator<'a> {
    world: &'a World,
    entities: HashMap<EntityUid, Entity>,
}

impl<'a> Translator<'a> {
    /// A translator with no entities yet.
    #[must_use]
    pub fn new(world: &'a World) -> Self {
        Self {
            world,
            entities: HashMap::new(),
        }
    }

    /// The Cedar twin of `request`; its data becomes the entity `Data::"<name>"`.
    ///
    /// # Errors
    ///
    /// An actor or action this translation does not know, or an entity Cedar rejects.
    pub fn request(
        &mut self,
        request: &Request<'_>,
        name: &str,
    ) -> Result<CedarRequest, SetupError> {
        let principal = self.principal(request.actor)?;
        let resource = self.data(&request.data, name)?;
        let (action, context) = self.action(request.action)?;
        Ok(CedarRequest::new(
            principal,
            uid("Action", action)?,
            resource,
            Context::from_pairs(context)?,
            None,
        )?)
    }

    /// Every entity named so far.
    ///
    /// # Errors
    ///
    /// Cedar rejects the set (a duplicate, which the map rules out).
    pub fn entities(self) -> Result<Entities, SetupError> {
        Ok(Entities::from_entities(self.entities.into_values(), None)?)
    }

    fn add(
        &mut self,
        uid: &EntityUid,
        attrs: Vec<(&str, RestrictedExpression)>,
    ) -> Result<(), SetupError> {
        if !self.entities.contains_key(uid) {
            let attrs = attrs
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect();
            let entity = Entity::new(uid.clone(), attrs, HashSet::new())?;
            self.entities.insert(uid.clone(), entity);
        }
        Ok(())
    }

    fn customer(&mut self, customer: CustomerId) -> Result<EntityUid, SetupError> {
        let uid = uid("Customer", &customer.to_string())?;
        self.add(&uid, Vec::new())?;
        Ok(uid)
    }

    fn principal(&mut self, actor: Actor<'_>) -> Result<EntityUid, SetupError> {
        Ok(match actor {
            Actor::Customer(customer) => self.customer(customer)?,
            Actor::Steward(steward) => {
                let uid = uid("Steward", steward.as_str())?;
                // logs.access: the roster, resolved.
                let on_roster = self.world.facts.is_on_roster(steward);
                self.add(
                    &uid,
                    vec![("on_roster", RestrictedExpression::new_bool(on_roster))],
                )?;
                uid
            }
            Actor::Service => {
                let uid = uid("Service", "backend")?;
                self.add(&uid, Vec::new())?;
                uid
            }
            Actor::TrainingPipeline => {
                let uid = uid("TrainingPipeline", "trainer")?;
                self.add(&uid, Vec::new())?;
                uid
            }
            other => return Err(format!("no cedar principal for {other:?}").into()),
        })
    }

    /// The data as an entity: its category and owner, and the facts about it resolved.
    fn data(&mut self, data: &DataRef, name: &str) -> Result<EntityUid, SetupError> {
        let facts = &self.world.facts;
        let now = self.world.now;
        let level = match data.consent_at_collection {
            steward::CollectionConsent::Known(level) => level,
            _ => facts.training_level_at(data.owner, data.collected_at),
        };
        // logs.retention, by hand: everything is due at the end of the relationship and past
        // retention one deletion window later (deadlines exclusive).
        let ended_at = facts
            .relationship_containing(data.owner, data.collected_at)
            .map(|relationship| relationship.ended_at());
        let (due, retention_ended) = match ended_at {
            Some(None) => (false, false),
            Some(Some(end)) => {
                let end = end.unix_nanos();
                let now = now.unix_nanos();
                (now >= end, now >= end.saturating_add(WINDOW_NANOS))
            }
            // Collected outside any relationship: nothing keeps it.
            None => (true, true),
        };
        // use.purposes: the owner's choice about interactive features, resolved at `now`.
        let interactive_opted_in = facts.interactive_choice_at(data.owner, now).is_opted_in();
        let owner = self.customer(data.owner)?;
        let uid = uid("Data", name)?;
        self.add(
            &uid,
            vec![
                (
                    "category",
                    RestrictedExpression::new_string(data.category.to_string()),
                ),
                ("owner", RestrictedExpression::new_entity_uid(owner)),
                (
                    "consent_level",
                    RestrictedExpression::new_long(level_rank(level)),
                ),
                ("due", RestrictedExpression::new_bool(due)),
                (
                    "retention_ended",
                    RestrictedExpression::new_bool(retention_ended),
                ),
                (
                    "interactive_opted_in",
                    RestrictedExpression::new_bool(interactive_opted_in),
                ),
            ],
        )?;
        Ok(uid)
    }

    fn action(&mut self, action: Action<'_>) -> Result<(&'static str, ContextPairs), SetupError> {
        let purpose = |purpose: Purpose| {
            (
                "purpose".to_owned(),
                RestrictedExpression::new_string(purpose.to_string()),
            )
        };
        Ok(match action {
            Action::Use { purpose: used_for } => ("use", vec![purpose(used_for)]),
            Action::OpenLog {
                purpose: opened_for,
                justification,
            } => {
                let mut context = vec![purpose(opened_for)];
                if let Some(justification) = justification {
                    context.push((
                        "justification".to_owned(),
                        RestrictedExpression::new_string(justification.to_string()),
                    ));
                }
                ("open_log", context)
            }
            Action::Train { scope } => {
                let (name, rank, owner) = match scope {
                    TrainingScope::Private { owner } => ("private", 1, Some(owner)),
                    TrainingScope::Shared => ("shared", 2, None),
                    TrainingScope::OpenWeight => ("open-weight", 3, None),
                    other => return Err(format!("no cedar scope for {other:?}").into()),
                };
                let mut context = vec![
                    (
                        "scope".to_owned(),
                        RestrictedExpression::new_string(name.to_owned()),
                    ),
                    (
                        "scope_rank".to_owned(),
                        RestrictedExpression::new_long(rank),
                    ),
                ];
                if let Some(owner) = owner {
                    let owner = self.customer(owner)?;
                    context.push((
                        "model_owner".to_owned(),
                        RestrictedExpression::new_entity_uid(owner),
                    ));
                }
                ("train", context)
            }
            Action::Keep => ("keep", Vec::new()),
            other => return Err(format!("no cedar action for {other:?}").into()),
        })
    }
}

/// `training.*`: the levels in their cumulative order, as Cedar compares them.
const fn level_rank(level: TrainingLevel) -> i64 {
    match level {
        TrainingLevel::None => 0,
        TrainingLevel::Private => 1,
        TrainingLevel::Shared => 2,
        TrainingLevel::OpenWeight => 3,
    }
}

fn uid(kind: &str, id: &str) -> Result<EntityUid, SetupError> {
    Ok(EntityUid::from_type_name_and_id(kind.parse()?, id.parse()?))
}

#[cfg(test)]
mod tests {
    use steward::vocabulary::DataCategory;

    use super::*;

    #[test]
    fn benchmarked_cases_decide_alike() -> Result<(), SetupError> {
        let world = World::new()?;
        let comparison = Comparison::new(&world, world.cases())?;
        comparison.verify()?;
        assert_eq!(comparison.cases.len(), 2 * KINDS.len());
        Ok(())
    }

    /// Every actor, action, purpose, category and owner: the Cedar set is equivalent beyond
    /// the eight benchmarked requests, so the comparison is of the same rules.
    #[test]
    fn engines_agree_on_every_combination() -> Result<(), SetupError> {
        let world = World::new()?;
        let now = world.now;
        let actors = [
            Actor::Service,
            Actor::Steward(&world.steward),
            Actor::Steward(&world.outsider),
            Actor::TrainingPipeline,
            Actor::Customer(world.alice),
        ];
        let mut actions = vec![Action::Keep];
        for purpose in Purpose::ALL {
            actions.push(Action::Use { purpose: *purpose });
            for justification in [None, Some(&world.ticket)] {
                actions.push(Action::OpenLog {
                    purpose: *purpose,
                    justification,
                });
            }
        }
        for scope in [
            TrainingScope::Private { owner: world.alice },
            TrainingScope::Private { owner: world.bob },
            TrainingScope::Shared,
            TrainingScope::OpenWeight,
        ] {
            actions.push(Action::Train { scope });
        }
        let mut cases = Vec::new();
        for owner in [world.alice, world.bob, world.carol] {
            for category in DataCategory::ALL {
                let data = DataRef::new(*category, owner, world.collected);
                for actor in actors {
                    for action in &actions {
                        let request = Request {
                            actor,
                            action: *action,
                            data,
                            now,
                        };
                        let decision = world.policy.check(&request, &world.facts);
                        cases.push(Case {
                            kind: "any",
                            outcome: if decision.is_allowed() {
                                "allow"
                            } else {
                                "deny"
                            },
                            expected: decision.reason().map_or(Expected::Allow, Expected::Deny),
                            request,
                        });
                    }
                }
            }
        }
        let comparison = Comparison::new(&world, cases)?;
        let mut allowed = 0;
        for (case, cedar) in &comparison.cases {
            let theirs = comparison.cedar_allows(cedar)?;
            assert_eq!(
                theirs,
                case.must_allow(),
                "steward and cedar disagree on {:?}",
                case.request
            );
            allowed += usize::from(theirs);
        }
        // Both outcomes occur often enough for agreement to mean something.
        assert!(allowed > 100, "only {allowed} allowed");
        assert!(comparison.cases.len() - allowed > 1_000);
        Ok(())
    }
}
