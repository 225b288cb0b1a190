//! The seeds and the kept crash inputs as a plain `cargo test`: every file of
//! `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/` runs through the target's
//! properties, and the fixture the harnesses check against must load and be what the keys
//! made. `cargo test --manifest-path fuzz/Cargo.toml` (scripts/fuzz.sh runs it first).

use steward_fuzz::{TARGETS, fixture, targets};

#[test]
fn the_fixture_loads_and_verifies_under_the_harness_keys() {
    let fixture = fixture::fixture().expect("fuzz/fixture/ loads (examples/make_seeds.rs)");
    let key = fixture::audit_key().unwrap();
    let head = key.verify_chain(&fixture.chain).unwrap();
    assert_eq!(head.entries(), u64::try_from(fixture.chain.len()).unwrap());
    for checkpoint in &fixture.checkpoints {
        fixture.checkpoint_key.verify(checkpoint).unwrap();
    }
    let events: Vec<&str> = fixture.facts.iter().map(|row| row.event()).collect();
    assert_eq!(
        targets::chain_events(&key, events.into_iter()),
        fixture.facts
    );
    assert!(!fixture.records.is_empty());
}

#[test]
fn every_seed_and_regression_keeps_its_target_properties() {
    for &(name, target) in TARGETS {
        let count = targets::replay(name, target).unwrap();
        assert!(count > 0, "no seeds for {name}: run examples/make_seeds.rs");
    }
}
