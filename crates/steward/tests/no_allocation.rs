//! `check()` performs no heap allocation, for every kind of action, allowed or denied
//! (docs/design.md section 2: evaluation is allocation-free on the hot path).
//!
//! A counting global allocator observes the whole process, so this test file holds a single
//! test: no other test thread can allocate while it measures.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed setup step must fail the test"
)]

#[path = "facade/common.rs"]
mod common;

use std::alloc::System;

use common::*;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use steward::{consent::*, vocabulary::*, *};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn check_performs_no_heap_allocation() {
    let policy = Policy::coder_model();
    let mut facts = facts(&policy);
    set_level(
        &mut facts,
        alice(),
        TrainingLevel::Shared,
        "2025-01-15T00:00:00Z",
    );
    facts
        .relationships
        .end(bob(), at("2025-03-01T00:00:00Z"))
        .unwrap();
    choose(
        &mut facts,
        alice(),
        InteractiveChoice::OptedIn,
        "2025-01-20T00:00:00Z",
    );
    let stranger: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a99".parse().unwrap();
    let steward = steward();
    let outsider: StewardId = "mallory".parse().unwrap();
    let ticket = ticket();
    let now = at("2025-06-01T12:00:00Z");
    let email = data(DataCategory::Email, alice(), "2025-02-01T00:00:00Z");
    let log = data(DataCategory::LlmRequestLog, alice(), "2025-02-01T00:00:00Z");
    let ended_log = data(DataCategory::LlmRequestLog, bob(), "2025-02-01T00:00:00Z");
    let requests = [
        Request::use_data(Purpose::CustomerCare, email, now),
        Request::use_data(Purpose::Marketing, email, now),
        Request::use_data(Purpose::Troubleshooting, log, now),
        Request::open_log(&steward, Purpose::Troubleshooting, &ticket, log, now),
        Request::open_log(&outsider, Purpose::Troubleshooting, &ticket, log, now),
        Request::open_log(&steward, Purpose::Marketing, &ticket, log, now),
        Request::train(TrainingScope::Shared, log, now),
        Request::train(TrainingScope::OpenWeight, log, now),
        Request::train(TrainingScope::Private { owner: bob() }, log, now),
        Request::train(TrainingScope::Shared, ended_log, now),
        Request::keep(log, now),
        Request::keep(ended_log, now),
        Request::keep(ended_log, at("2026-01-01T00:00:00Z")),
        // Interactive features, opted in and not; a customer with no relationship.
        Request::use_data(Purpose::InteractiveFeatures, email, now),
        Request::use_data(
            Purpose::InteractiveFeatures,
            data(DataCategory::Email, bob(), "2025-02-01T00:00:00Z"),
            now,
        ),
        Request::use_data(
            Purpose::CustomerCare,
            data(DataCategory::Email, stranger, "2025-02-01T00:00:00Z"),
            now,
        ),
    ];
    // Warm up anything lazily initialised outside the measured region.
    let expected: Vec<Decision> = requests.iter().map(|r| policy.check(r, &facts)).collect();
    let mut decisions = [None; 16];

    // The same facts behind a vault, as a multi-threaded server holds them: its check()
    // takes a shared lock, which must not allocate either.
    let vault = Vault::new(
        policy.clone(),
        facts.clone(),
        logs::Keyring::new(
            logs::MasterKey::from_bytes(
                "kek-1".parse().unwrap(),
                b"steward test key 01, not secret!",
            )
            .unwrap(),
        ),
        logs::AuditTrail::new(
            logs::AuditKey::from_bytes(b"steward test key 02, not secret!").unwrap(),
            logs::MemoryAuditStore::new(),
        )
        .unwrap(),
    )
    .unwrap();
    let mut through_vault = [None; 16];

    let region = Region::new(ALLOCATOR);
    for (slot, request) in decisions.iter_mut().zip(&requests) {
        *slot = Some(policy.check(request, &facts));
    }
    for (slot, request) in through_vault.iter_mut().zip(&requests) {
        *slot = Some(vault.check(request));
    }
    let change = region.change();

    assert_eq!(change.allocations, 0, "check() allocated: {change:?}");
    assert_eq!(change.reallocations, 0, "check() reallocated: {change:?}");
    let decisions: Vec<Decision> = decisions.into_iter().flatten().collect();
    assert_eq!(decisions, expected);
    let through_vault: Vec<Decision> = through_vault.into_iter().flatten().collect();
    assert_eq!(through_vault, expected);
    // Both outcomes were exercised, so the no-allocation claim covers allow and deny paths.
    assert!(decisions.iter().any(Decision::is_allowed));
    assert!(decisions.iter().any(|decision| !decision.is_allowed()));
}
