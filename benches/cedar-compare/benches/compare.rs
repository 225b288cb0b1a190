//! Steward's `check()` and the equivalent Cedar policy set on the same requests, in the same
//! run (docs/design.md section 4: `check()` at least 50x faster).
//!
//! Everything Cedar needs (policies, entities with the facts as attributes, requests) is
//! built before timing, as is Steward's `MemoryFacts`; each timed iteration is one
//! `Policy::check` against one `Authorizer::is_authorized`. Before timing, both engines must
//! decide every request alike and as its name says.
//!
//! Run from `benches/cedar-compare`: `cargo bench`. Results per benchmark are in
//! `target/criterion/<kind>/<engine>-<outcome>/new/estimates.json`.

use std::{hint::black_box, process::ExitCode, time::Duration};

use criterion::Criterion;
use steward_cedar_compare::{Comparison, KINDS, World};

fn main() -> ExitCode {
    let world = match World::new() {
        Ok(world) => world,
        Err(error) => {
            eprintln!("cedar comparison: could not build the facts: {error}");
            return ExitCode::FAILURE;
        }
    };
    let comparison = match Comparison::new(&world, world.cases()) {
        Ok(comparison) => comparison,
        Err(error) => {
            eprintln!("cedar comparison: could not build the cedar side: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(problem) = comparison.verify() {
        eprintln!("cedar comparison: the engines do not decide alike: {problem}");
        return ExitCode::FAILURE;
    }

    // Short warm-up and measurement: 16 benchmarks in under two minutes on 2 cores.
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let (policy, facts) = (&world.policy, &world.facts);
    let (authorizer, policies, entities) = (
        &comparison.authorizer,
        &comparison.policies,
        &comparison.entities,
    );
    for kind in KINDS {
        let mut group = criterion.benchmark_group(kind);
        for (case, cedar) in comparison
            .cases
            .iter()
            .filter(|(case, _)| case.kind == kind)
        {
            group.bench_function(format!("steward-{}", case.outcome), |b| {
                b.iter(|| black_box(policy.check(black_box(&case.request), black_box(facts))));
            });
            group.bench_function(format!("cedar-{}", case.outcome), |b| {
                b.iter(|| {
                    black_box(authorizer.is_authorized(
                        black_box(cedar),
                        black_box(policies),
                        black_box(entities),
                    ))
                });
            });
        }
        group.finish();
    }
    criterion.final_summary();
    ExitCode::SUCCESS
}
