//! `Policy::check` for each kind of action, allowed and denied (DESIGN.md section 4: under
//! 100 ns median on a warm policy).
//!
//! The facts are a small company's worth of state in `MemoryFacts`: 10,000 customers with an
//! open relationship and three consent changes each, a full roster of three stewards, and a
//! legal hold on every hundredth customer. Each request is checked once before timing and
//! must give the decision (and deny reason) its name says, so a fixture mistake cannot turn a
//! slow path into a fast one unseen.
//!
//! `benches/cedar-compare` times the same requests against an equivalent Cedar policy set.
//!
//! Run: `cargo bench -p steward-benches --bench check`.

use std::{error::Error, hint::black_box, process::ExitCode, time::Duration};

use criterion::Criterion;
use steward::{
    Channel, ConsentActor, ConsentChange, CustomerId, DataCategory, DataRef, DenyReason,
    Justification, MemoryFacts, Policy, Purpose, Request, StewardId, Timestamp, TrainingLevel,
    TrainingScope,
    retention::{HoldId, HoldScope, LegalHold},
};

/// Customers in the facts; the measured ones are among them.
const CUSTOMERS: u64 = 10_000;
/// One customer in this many is under a legal hold.
const HOLD_EVERY: u64 = 100;

const RELATIONSHIPS_START: &str = "2025-01-01T00:00:00Z";
const COLLECTED: &str = "2025-02-01T00:00:00Z";
const NOW: &str = "2025-06-01T12:00:00Z";
/// When the relationship of the customer whose data is past retention ended; with the
/// bundled 30-day deletion window its data was due on 2025-03-31.
const ENDED: &str = "2025-03-01T00:00:00Z";

/// The customers the requests are about, by their index in the population.
const ALICE: u64 = 1_234; // opted in to shared training on 2025-01-15
const BOB: u64 = 5_678; // never opted in to training
const CAROL: u64 = 9_012; // relationship ended on `ENDED`

/// The people and facts the requests borrow from.
struct World {
    policy: Policy,
    facts: MemoryFacts,
    steward: StewardId,
    outsider: StewardId,
    ticket: Justification,
    now: Timestamp,
    alice: CustomerId,
    bob: CustomerId,
    carol: CustomerId,
    collected: Timestamp,
}

/// What a benchmarked request must decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Allow,
    Deny(DenyReason),
}

/// One benchmark: its action kind, its outcome, the request.
struct Case<'a> {
    kind: &'static str,
    outcome: &'static str,
    expected: Expected,
    request: Request<'a>,
}

fn customer(n: u64) -> Result<CustomerId, Box<dyn Error>> {
    let high = n >> 48;
    let low = n & 0xffff_ffff_ffff;
    Ok(format!("{high:08x}-0000-7000-8000-{low:012x}").parse()?)
}

fn world() -> Result<World, Box<dyn Error>> {
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
        // Three changes: January, February, March; Alice's February change comes first.
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
    // Holds are placed in id order at increasing instants: the register's clock only moves on.
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
    for handle in ["alice.ops", "bert.ops", "chen.ops"] {
        facts.roster.add(handle.parse()?)?;
    }
    Ok(World {
        policy,
        facts,
        steward: "bert.ops".parse()?,
        outsider: "mallory".parse()?,
        ticket: "TICKET-4711 latency spike".parse()?,
        now: NOW.parse()?,
        alice: customer(ALICE)?,
        bob: customer(BOB)?,
        carol,
        collected: COLLECTED.parse()?,
    })
}

fn cases(world: &World) -> Vec<Case<'_>> {
    let now = world.now;
    let email = DataRef::new(DataCategory::Email, world.alice, world.collected);
    // The logs carry no consent level: check() reads the level at collection from the facts.
    let log = |owner| DataRef::new(DataCategory::LlmRequestLog, owner, world.collected);
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
        case(
            "open-log",
            "allow",
            Expected::Allow,
            Request::open_log(
                &world.steward,
                Purpose::Troubleshooting,
                &world.ticket,
                log(world.alice),
                now,
            ),
        ),
        case(
            "open-log",
            "deny",
            Expected::Deny(DenyReason::NotOnRoster),
            Request::open_log(
                &world.outsider,
                Purpose::Troubleshooting,
                &world.ticket,
                log(world.alice),
                now,
            ),
        ),
        case(
            "train",
            "allow",
            Expected::Allow,
            Request::train(TrainingScope::Shared, log(world.alice), now),
        ),
        case(
            "train",
            "deny",
            Expected::Deny(DenyReason::ConsentDoesNotPermit {
                level: TrainingLevel::None,
                scope: TrainingScope::Shared,
            }),
            Request::train(TrainingScope::Shared, log(world.bob), now),
        ),
        case(
            "keep",
            "allow",
            Expected::Allow,
            Request::keep(log(world.alice), now),
        ),
        case(
            "keep",
            "deny",
            Expected::Deny(DenyReason::RetentionEnded),
            Request::keep(log(world.carol), now),
        ),
    ]
}

/// Checks every case once and says which one decides otherwise than its name.
fn verify(world: &World, cases: &[Case<'_>]) -> Result<(), String> {
    for case in cases {
        let decision = world.policy.check(&case.request, &world.facts);
        let actual = match decision.reason() {
            None if decision.is_allowed() => Expected::Allow,
            Some(reason) => Expected::Deny(reason),
            None => {
                return Err(format!(
                    "{}/{}: deny without a reason",
                    case.kind, case.outcome
                ));
            }
        };
        if actual != case.expected {
            return Err(format!(
                "{}/{}: expected {:?}, got {decision}",
                case.kind, case.outcome, case.expected
            ));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let world = match world() {
        Ok(world) => world,
        Err(error) => {
            eprintln!("check bench: could not build the facts: {error}");
            return ExitCode::FAILURE;
        }
    };
    let cases = cases(&world);
    if let Err(problem) = verify(&world, &cases) {
        eprintln!("check bench: a request does not decide as named: {problem}");
        return ExitCode::FAILURE;
    }

    // What `criterion_group!`/`criterion_main!` expand to, written out: short warm-up and
    // measurement keep the run to about half a minute on a shared 2-core machine.
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    for kind in ["use", "open-log", "train", "keep"] {
        let mut group = criterion.benchmark_group(format!("check/{kind}"));
        for case in cases.iter().filter(|case| case.kind == kind) {
            group.bench_function(case.outcome, |b| {
                b.iter(|| {
                    black_box(
                        world
                            .policy
                            .check(black_box(&case.request), black_box(&world.facts)),
                    )
                });
            });
        }
        group.finish();
    }
    criterion.final_summary();
    ExitCode::SUCCESS
}
