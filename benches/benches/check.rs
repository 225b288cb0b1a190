//! `Policy::check` for each kind of action, allowed and denied (docs/design.md section 4: under
//! 100 ns median on a warm policy).
//!
//! The facts (`steward_benches::World`) are a small company's worth of state in `MemoryFacts`:
//! 10,000 customers with an open relationship and three consent changes each, a full roster of
//! three stewards, and a legal hold on every hundredth customer. Each request is checked once
//! before timing and must give the decision (and deny reason) its name says, so a fixture
//! mistake cannot turn a slow path into a fast one unseen.
//!
//! `benches/cedar-compare` times the same requests against an equivalent Cedar policy set.
//!
//! Run: `cargo bench -p steward-benches --bench check`.

use std::{hint::black_box, process::ExitCode, time::Duration};

use criterion::Criterion;
use steward::{MemoryFacts, Vault, logs};
use steward_benches::{KINDS, World};

fn main() -> ExitCode {
    let world = match World::new() {
        Ok(world) => world,
        Err(error) => {
            eprintln!("check bench: could not build the facts: {error}");
            return ExitCode::FAILURE;
        }
    };
    let cases = world.cases();
    if let Err(problem) = cases.iter().try_for_each(|case| case.verify(&world)) {
        eprintln!("check bench: a request does not decide as named: {problem}");
        return ExitCode::FAILURE;
    }

    // What `criterion_group!`/`criterion_main!` expand to, written out: short warm-up and
    // measurement keep the run to about half a minute on a shared 2-core machine.
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    // The same facts behind a Vault, as a multi-threaded server shares them: Vault::check
    // takes the facts' shared lock around the same evaluation.
    let vault = match shared_vault(&world) {
        Ok(vault) => vault,
        Err(error) => {
            eprintln!("check bench: could not build the vault: {error}");
            return ExitCode::FAILURE;
        }
    };
    for kind in KINDS {
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
            group.bench_function(format!("{}/through-vault", case.outcome), |b| {
                b.iter(|| black_box(vault.check(black_box(&case.request))));
            });
        }
        group.finish();
    }
    criterion.final_summary();
    ExitCode::SUCCESS
}

fn shared_vault(
    world: &World,
) -> Result<Vault<MemoryFacts, logs::MemoryAuditStore>, Box<dyn std::error::Error>> {
    let master =
        logs::MasterKey::from_bytes("kek-bench".parse()?, b"steward test key 5a, not secret!")?;
    let trail = logs::AuditTrail::new(
        logs::AuditKey::from_bytes(b"steward test key 17, not secret!")?,
        logs::MemoryAuditStore::new(),
    )?;
    Ok(Vault::new(
        world.policy.clone(),
        world.facts.clone(),
        logs::Keyring::new(master),
        trail,
    )?)
}
