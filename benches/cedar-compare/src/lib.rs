//! Steward's `Policy::check` against an equivalent Cedar policy set, on the same requests.
//!
//! [`World`] is the state both engines decide over: 10,000 customers in `MemoryFacts` for
//! Steward, and for Cedar the same facts resolved ahead of time into entity attributes
//! (`on_roster`, `consent_level`, `due`, `retention_ended`). [`Comparison`] holds one
//! Steward request and its Cedar twin per benchmarked case, with Cedar's `PolicySet`,
//! `Entities` and `Request`s built once, outside any timed loop; [`Comparison::verify`]
//! proves both engines decide every case alike before anything is timed.
//!
//! The bench is `benches/compare.rs`; `cargo test` here checks the two engines agree on
//! several thousand requests (every actor, action, purpose, category and owner).

use std::{
    collections::{HashMap, HashSet},
    error::Error,
};

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityUid, PolicySet,
    Request as CedarRequest, RestrictedExpression,
};
use steward::{
    Action, Actor, Channel, ConsentActor, ConsentChange, CustomerId, DataCategory, DataRef, Facts,
    Justification, MemoryFacts, Policy, Purpose, Request, StewardId, Timestamp, TrainingLevel,
    TrainingScope,
};

/// The Coder Model rules in Cedar: ten policies, one per rule of DESIGN.md section 1 that
/// `check()` enforces (legal holds are not modelled: no compared request touches one).
pub const CEDAR_POLICIES: &str = include_str!("../coder-model.cedar");

/// Customers in the facts; the measured ones are among them.
const CUSTOMERS: u64 = 10_000;
/// One customer in this many is under a legal hold (Steward's side only; see above).
const HOLD_EVERY: u64 = 100;

const RELATIONSHIPS_START: &str = "2025-01-01T00:00:00Z";
const COLLECTED: &str = "2025-02-01T00:00:00Z";
const NOW: &str = "2025-06-01T12:00:00Z";
/// When Carol's relationship ended; with the 30-day window her data was due on 2025-03-31.
const ENDED: &str = "2025-03-01T00:00:00Z";
/// The bundled policy's deletion window, in nanoseconds (30 days).
const WINDOW_NANOS: i64 = 30 * 86_400 * 1_000_000_000;

/// Alice opted in to shared training on 2025-01-15.
const ALICE: u64 = 1_234;
/// Bob never opted in to training.
const BOB: u64 = 5_678;
/// Carol's relationship ended on [`ENDED`].
const CAROL: u64 = 9_012;

/// Boxed errors of setup: any failure aborts the bench before timing.
pub type SetupError = Box<dyn Error>;

/// A Cedar request context, as named values.
type ContextPairs = Vec<(String, RestrictedExpression)>;

/// The people and facts the requests borrow from.
pub struct World {
    /// The bundled Coder Model policy.
    pub policy: Policy,
    /// Consent ledger, relationships, roster and holds.
    pub facts: MemoryFacts,
    /// A steward on the roster.
    pub steward: StewardId,
    /// Someone who is not on the roster.
    pub outsider: StewardId,
    /// A justification for opening a log.
    pub ticket: Justification,
    /// The instant of every request.
    pub now: Timestamp,
    /// When every compared piece of data was collected.
    pub collected: Timestamp,
    /// Opted in to shared training; relationship open.
    pub alice: CustomerId,
    /// Never opted in; relationship open.
    pub bob: CustomerId,
    /// Relationship ended; data past retention.
    pub carol: CustomerId,
}

/// The kinds of action, in report order.
pub const KINDS: [&str; 4] = ["use", "open-log", "train", "keep"];

/// One benchmarked request: its action kind, whether it is the allow or the deny case, and
/// the decision it must get from both engines.
pub struct Case<'a> {
    /// `use`, `open-log`, `train` or `keep`.
    pub kind: &'static str,
    /// `allow` or `deny`.
    pub outcome: &'static str,
    /// The request as Steward takes it.
    pub request: Request<'a>,
}

impl Case<'_> {
    /// Whether the case must be allowed.
    #[must_use]
    pub fn must_allow(&self) -> bool {
        self.outcome == "allow"
    }
}

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

fn customer(n: u64) -> Result<CustomerId, SetupError> {
    let high = n >> 48;
    let low = n & 0xffff_ffff_ffff;
    Ok(format!("{high:08x}-0000-7000-8000-{low:012x}").parse()?)
}

impl World {
    /// The same world as `cargo bench -p steward-benches --bench check` uses: 10,000
    /// customers with an open relationship and three consent changes each (Alice one, Bob
    /// none), Carol's relationship ended, a hold on every hundredth customer, three stewards.
    ///
    /// # Errors
    ///
    /// Any fixture literal or ledger call that fails.
    pub fn new() -> Result<Self, SetupError> {
        use steward::retention::{HoldId, HoldScope, LegalHold};

        let policy = Policy::coder_model();
        let mut facts = MemoryFacts::new(&policy);
        let start: Timestamp = RELATIONSHIPS_START.parse()?;
        let counsel: StewardId = "counsel.kim".parse()?;
        let levels = [
            TrainingLevel::Private,
            TrainingLevel::OpenWeight,
            TrainingLevel::None,
        ];
        for n in 0..CUSTOMERS {
            let who = customer(n)?;
            facts.relationships.start(who, start)?;
            if n == BOB {
                continue;
            }
            for (month, level) in (1..=3).zip(levels) {
                let level = if n == ALICE {
                    TrainingLevel::Shared
                } else {
                    level
                };
                let day = if n == ALICE && month == 1 { 15 } else { 10 };
                let change = ConsentChange::new(
                    who,
                    level,
                    format!("2025-{month:02}-{day:02}T00:00:00Z").parse()?,
                    ConsentActor::Customer,
                    Channel::AccountSettings,
                    policy.version().clone(),
                );
                facts.consent.record(change)?;
                if n == ALICE {
                    break;
                }
            }
        }
        let carol = customer(CAROL)?;
        facts.relationships.end(carol, ENDED.parse()?)?;
        for (id, n) in (0..CUSTOMERS)
            .filter(|n| n % HOLD_EVERY == HOLD_EVERY - 1)
            .enumerate()
        {
            let placed_at = Timestamp::from_unix_nanos(
                start.unix_nanos()? + i64::try_from(id)? * 1_000_000_000,
            );
            let hold = LegalHold::place(
                HoldId::new(u64::try_from(id)?),
                HoldScope::Customer {
                    customer: customer(n)?,
                },
                "litigation hold, case 2025-117".parse()?,
                counsel.clone(),
                placed_at,
                "2026-01-01T00:00:00Z".parse()?,
            )?;
            facts.holds.place(hold)?;
        }
        for handle in ["alice.ops", "bert.ops", "chen.ops"] {
            facts.roster.add(handle.parse()?)?;
        }
        Ok(Self {
            policy,
            facts,
            steward: "bert.ops".parse()?,
            outsider: "mallory".parse()?,
            ticket: "TICKET-4711 latency spike".parse()?,
            now: NOW.parse()?,
            collected: COLLECTED.parse()?,
            alice: customer(ALICE)?,
            bob: customer(BOB)?,
            carol,
        })
    }

    /// The benchmarked cases: for each kind of action, one allowed and one denied request.
    #[must_use]
    pub fn cases(&self) -> Vec<Case<'_>> {
        let now = self.now;
        let email = DataRef::new(DataCategory::Email, self.alice, self.collected);
        // No consent level on the data: check() reads the level at collection from the facts.
        let log = |owner| DataRef::new(DataCategory::LlmRequestLog, owner, self.collected);
        let open = |steward| {
            Request::open_log(
                steward,
                Purpose::Troubleshooting,
                &self.ticket,
                log(self.alice),
                now,
            )
        };
        let case = |kind, outcome, request| Case {
            kind,
            outcome,
            request,
        };
        vec![
            case(
                "use",
                "allow",
                Request::use_data(Purpose::CustomerCare, email, now),
            ),
            // A prohibited purpose.
            case(
                "use",
                "deny",
                Request::use_data(Purpose::Marketing, email, now),
            ),
            case("open-log", "allow", open(&self.steward)),
            // Not on the roster.
            case("open-log", "deny", open(&self.outsider)),
            case(
                "train",
                "allow",
                Request::train(TrainingScope::Shared, log(self.alice), now),
            ),
            // Consent at collection was `none`.
            case(
                "train",
                "deny",
                Request::train(TrainingScope::Shared, log(self.bob), now),
            ),
            case("keep", "allow", Request::keep(log(self.alice), now)),
            // Past the deletion deadline.
            case("keep", "deny", Request::keep(log(self.carol), now)),
        ]
    }
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
        let level = data
            .consent_at_collection
            .unwrap_or_else(|| facts.training_level_at(data.owner, data.collected_at));
        // logs.retention, by hand: everything is due at the end of the relationship and past
        // retention one deletion window later (deadlines exclusive).
        let ended_at = facts
            .relationship_containing(data.owner, data.collected_at)
            .map(|relationship| relationship.ended_at());
        let (due, retention_ended) = match ended_at {
            Some(None) => (false, false),
            Some(Some(end)) => {
                let end = end.unix_nanos()?;
                let now = now.unix_nanos()?;
                (now >= end, now >= end.saturating_add(WINDOW_NANOS))
            }
            // Collected outside any relationship: nothing keeps it.
            None => (true, true),
        };
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
                        cases.push(Case {
                            kind: "any",
                            outcome: if world.policy.check(&request, &world.facts).is_allowed() {
                                "allow"
                            } else {
                                "deny"
                            },
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
