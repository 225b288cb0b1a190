//! Shared fixtures of Steward's benches: the world `check()` is measured in, used both by
//! `benches/check.rs` here and by `benches/cedar-compare`, so that the Cedar comparison
//! decides exactly the requests and facts that the in-workspace bench times.
//!
//! The bench targets live in `benches/benches/` and run with
//! `cargo bench -p steward-benches --bench <name>`. Results and how to read them:
//! `docs/benchmarks.md`.

#![forbid(unsafe_code)]

use std::error::Error;

use steward::{
    DataRef, DenyReason, MemoryFacts, Policy, Request, Vault,
    consent::{Channel, ConsentActor, ConsentChange, InteractiveChange, InteractiveChoice},
    logs,
    vocabulary::{
        CustomerId, DataCategory, Justification, Purpose, StewardId, Timestamp, TrainingLevel,
        TrainingScope,
    },
};

/// Customers in the facts; the measured ones are among them.
const CUSTOMERS: u64 = 10_000;
/// One customer in this many is under a legal hold.
const HOLD_EVERY: u64 = 100;

const RELATIONSHIPS_START: &str = "2025-01-01T00:00:00Z";
const COLLECTED: &str = "2025-02-01T00:00:00Z";
const NOW: &str = "2025-06-01T12:00:00Z";
/// When Carol's relationship ended; with the 30-day window her data was due on 2025-03-31.
const ENDED: &str = "2025-03-01T00:00:00Z";

/// Alice opted in to shared training on 2025-01-15.
const ALICE: u64 = 1_234;
/// Bob never opted in to training.
const BOB: u64 = 5_678;
/// Carol's relationship ended on [`ENDED`].
const CAROL: u64 = 9_012;

/// Boxed errors of setup: any failure aborts the bench before timing.
pub type SetupError = Box<dyn Error>;

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

/// What a benchmarked request must decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Allowed.
    Allow,
    /// Denied, for this reason.
    Deny(DenyReason),
}

/// One benchmarked request: its action kind, whether it is the allow or the deny case, and
/// the decision it must get.
pub struct Case<'a> {
    /// `use`, `open-log`, `train` or `keep`.
    pub kind: &'static str,
    /// `allow` or `deny`.
    pub outcome: &'static str,
    /// The decision `check()` must give, checked before anything is timed.
    pub expected: Expected,
    /// The request as Steward takes it.
    pub request: Request<'a>,
}

impl Case<'_> {
    /// Whether the case must be allowed.
    #[must_use]
    pub fn must_allow(&self) -> bool {
        self.expected == Expected::Allow
    }

    /// Checks the case once against `world` and says how it decided otherwise than named.
    ///
    /// # Errors
    ///
    /// A description of the mismatch.
    pub fn verify(&self, world: &World) -> Result<(), String> {
        let decision = world.policy.check(&self.request, &world.facts);
        let actual = match decision.reason() {
            None if decision.is_allowed() => Expected::Allow,
            Some(reason) => Expected::Deny(reason),
            None => {
                return Err(format!(
                    "{}/{}: deny without a reason",
                    self.kind, self.outcome
                ));
            }
        };
        if actual == self.expected {
            Ok(())
        } else {
            Err(format!(
                "{}/{}: expected {:?}, got {decision}",
                self.kind, self.outcome, self.expected
            ))
        }
    }
}

fn customer(n: u64) -> Result<CustomerId, SetupError> {
    let high = n >> 48;
    let low = n & 0xffff_ffff_ffff;
    Ok(format!("{high:08x}-0000-7000-8000-{low:012x}").parse()?)
}

impl World {
    /// The world of the `check` bench and the Cedar comparison: 10,000
    /// customers with an open relationship and three consent changes each (Alice one, Bob
    /// none), Alice opted in to interactive features, Carol's relationship ended, a hold on
    /// every hundredth customer, three stewards.
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
                // Recorded at set-up, before every effective instant (scheduled changes): the
                // ledger's clock only moves forward, and the customers are set up in turn.
                facts.consent.record(change, start)?;
                if n == ALICE {
                    break;
                }
            }
        }
        // use.purposes: Alice chose interactive features; nobody else did.
        let opt_in = InteractiveChange::new(
            customer(ALICE)?,
            InteractiveChoice::OptedIn,
            start,
            ConsentActor::Customer,
            Channel::AccountSettings,
            policy.version().clone(),
        );
        facts.interactive.record(opt_in, start)?;
        let carol = customer(CAROL)?;
        facts.relationships.end(carol, ENDED.parse()?)?;
        for (id, n) in (0..CUSTOMERS)
            .filter(|n| n % HOLD_EVERY == HOLD_EVERY - 1)
            .enumerate()
        {
            let placed_at =
                Timestamp::from_unix_nanos(start.unix_nanos() + i64::try_from(id)? * 1_000_000_000);
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
        // The roster changes only through a vault, which audits each change.
        let master =
            logs::MasterKey::from_bytes("kek-bench".parse()?, b"steward test key 5a, not secret!")?;
        let trail = logs::AuditTrail::new(
            logs::AuditKey::from_bytes(b"steward test key 17, not secret!")?,
            logs::MemoryAuditStore::new(),
        )?;
        let vault = Vault::new(policy.clone(), facts, logs::Keyring::new(master), trail)?;
        for handle in ["alice.ops", "bert.ops", "chen.ops"] {
            vault.add_steward(handle.parse()?, "dana.admin".parse()?)?;
        }
        Ok(Self {
            policy,
            facts: vault.facts()?.clone(),
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
        let case = |kind, outcome, expected, request| Case {
            kind,
            outcome,
            expected,
            request,
        };
        vec![
            case(
                "use",
                "allow",
                Expected::Allow,
                Request::use_data(Purpose::CustomerCare, email, now),
            ),
            case(
                "use",
                "deny",
                Expected::Deny(DenyReason::PurposeNotListed {
                    purpose: Purpose::Marketing,
                }),
                Request::use_data(Purpose::Marketing, email, now),
            ),
            case("open-log", "allow", Expected::Allow, open(&self.steward)),
            case(
                "open-log",
                "deny",
                Expected::Deny(DenyReason::NotOnRoster),
                open(&self.outsider),
            ),
            case(
                "train",
                "allow",
                Expected::Allow,
                Request::train(TrainingScope::Shared, log(self.alice), now),
            ),
            case(
                "train",
                "deny",
                Expected::Deny(DenyReason::ConsentDoesNotPermit {
                    level: TrainingLevel::None,
                    scope: TrainingScope::Shared,
                }),
                Request::train(TrainingScope::Shared, log(self.bob), now),
            ),
            case(
                "keep",
                "allow",
                Expected::Allow,
                Request::keep(log(self.alice), now),
            ),
            case(
                "keep",
                "deny",
                Expected::Deny(DenyReason::RetentionEnded),
                Request::keep(log(self.carol), now),
            ),
        ]
    }
}
