//! A small world for the facade tests: the bundled policy, two customers, one steward.

#![allow(
    dead_code,
    reason = "each test crate uses a different part of the shared fixture"
)]
#![allow(
    clippy::unwrap_used,
    reason = "test fixtures: a bad literal must fail the test loudly"
)]

use steward::{consent::*, vocabulary::*, *};

pub(crate) const ALICE: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10";
pub(crate) const BOB: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a11";

pub(crate) fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

pub(crate) fn alice() -> CustomerId {
    ALICE.parse().unwrap()
}

pub(crate) fn bob() -> CustomerId {
    BOB.parse().unwrap()
}

pub(crate) fn steward() -> StewardId {
    "alice.ops".parse().unwrap()
}

pub(crate) fn ticket() -> Justification {
    "TICKET-4711 latency spike".parse().unwrap()
}

pub(crate) fn admin() -> AdminId {
    "dana.admin".parse().unwrap()
}

/// A vault over facts where both customers have been customers since 2025-01-01 and
/// `alice.ops` was added to the roster (audited), with its own in-memory trail.
pub(crate) fn vault(policy: &Policy) -> Vault<MemoryFacts, logs::MemoryAuditStore> {
    vault_at(policy, &ManualClock::new(at("2025-06-01T12:00:00Z")))
}

/// [`vault`], with its audit clock showing `clock`.
pub(crate) fn vault_at(
    policy: &Policy,
    clock: &ManualClock,
) -> Vault<MemoryFacts, logs::MemoryAuditStore> {
    let mut facts = MemoryFacts::new(policy);
    for customer in [alice(), bob()] {
        facts
            .relationships
            .start(customer, at("2025-01-01T00:00:00Z"))
            .unwrap();
    }
    let master = logs::MasterKey::from_bytes(
        "kek-test".parse().unwrap(),
        b"steward test key 42, not secret!",
    )
    .unwrap();
    let trail = logs::AuditTrail::with_clock(
        logs::AuditKey::from_bytes(b"steward test key 17, not secret!").unwrap(),
        logs::MemoryAuditStore::new(),
        clock.clone(),
    )
    .unwrap();
    let vault = Vault::new(policy.clone(), facts, logs::Keyring::new(master), trail).unwrap();
    vault.add_steward(steward(), admin()).unwrap();
    vault
}

/// The facts of [`vault`]: both customers since 2025-01-01, `alice.ops` on the roster.
pub(crate) fn facts(policy: &Policy) -> MemoryFacts {
    vault(policy).facts().unwrap().clone()
}

pub(crate) fn set_level(
    facts: &mut MemoryFacts,
    customer: CustomerId,
    level: TrainingLevel,
    when: &str,
) {
    let change = ConsentChange::new(
        customer,
        level,
        at(when),
        ConsentActor::Customer,
        Channel::AccountSettings,
        Policy::coder_model().version().clone(),
    );
    // In force at once: recorded at the instant it takes effect.
    facts.consent.record(change, at(when)).unwrap();
}

/// Records `customer`'s choice about interactive features, in force at once.
pub(crate) fn choose(
    facts: &mut MemoryFacts,
    customer: CustomerId,
    choice: InteractiveChoice,
    when: &str,
) {
    let change = InteractiveChange::new(
        customer,
        choice,
        at(when),
        ConsentActor::Customer,
        Channel::AccountSettings,
        Policy::coder_model().version().clone(),
    );
    facts.interactive.record(change, at(when)).unwrap();
}

pub(crate) fn data(category: DataCategory, owner: CustomerId, collected: &str) -> DataRef {
    DataRef::new(category, owner, at(collected))
}

/// Days after 2025-01-01, the start of every relationship of the property tests.
pub(crate) fn day(days: i64) -> Timestamp {
    at("2025-01-01T00:00:00Z")
        .checked_add(chrono::TimeDelta::days(days))
        .unwrap()
}

/// Every training level, lowest first.
pub(crate) const LEVELS: [TrainingLevel; 4] = [
    TrainingLevel::None,
    TrainingLevel::Private,
    TrainingLevel::Shared,
    TrainingLevel::OpenWeight,
];

/// An error with its sources, as the CLI prints it.
pub(crate) fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
