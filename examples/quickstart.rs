//! Load the bundled policy, make five checks, print each decision with the clause that decided
//! it and those that support it.
//!
//! Run: `cargo run -p steward-examples --example quickstart`

use std::error::Error;

use steward::{consent::*, vocabulary::*, *};

fn main() -> Result<(), Box<dyn Error>> {
    let policy = Policy::coder_model();

    // The facts check() reads: consent history, relationships, stewards, holds. In a service
    // these come from your database, through your own implementation of `Facts`.
    let mut facts = MemoryFacts::new(&policy);
    let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
    facts
        .relationships
        .start(customer, "2025-01-01T00:00:00Z".parse()?)?;
    // Recorded at the instant it takes effect; in a service, pass your clock's now.
    let opted_in: Timestamp = "2025-02-01T00:00:00Z".parse()?;
    facts.consent.record(
        ConsentChange::new(
            customer,
            TrainingLevel::Private,
            opted_in,
            ConsentActor::Customer,
            Channel::AccountSettings,
            policy.version().clone(),
        ),
        opted_in,
    )?;
    // Stewards join the roster through a vault, which audits the change; its facts are then
    // the ones every check reads.
    let master =
        logs::MasterKey::from_bytes("kek-demo".parse()?, b"steward test key 5a, not secret!")?;
    let trail = logs::AuditTrail::new(
        logs::AuditKey::from_bytes(b"steward test key 17, not secret!")?,
        logs::MemoryAuditStore::new(),
    )?;
    let vault = Vault::new(policy.clone(), facts, logs::Keyring::new(master), trail)?;
    let steward: StewardId = "sam.steward".parse()?;
    vault.add_steward(steward.clone(), "dana.admin".parse()?)?;
    let facts = vault.facts()?;

    let now: Timestamp = "2025-06-01T12:00:00Z".parse()?;
    let email = DataRef::new(
        DataCategory::Email,
        customer,
        "2025-01-05T00:00:00Z".parse()?,
    );
    let log = DataRef::new(
        DataCategory::LlmRequestLog,
        customer,
        "2025-03-01T00:00:00Z".parse()?,
    );
    let ticket: Justification = "SUP-118 customer asks why a request failed".parse()?;

    let checks = [
        (
            "a service emails the customer about a change",
            Request::use_data(Purpose::NotifyChanges, email, now),
        ),
        (
            "a service uses the email for marketing",
            Request::use_data(Purpose::Marketing, email, now),
        ),
        (
            "a steward opens a log to support the customer",
            Request::open_log(&steward, Purpose::CustomerSupport, &ticket, log, now),
        ),
        (
            "the customer's own private model trains on the log",
            Request::train(TrainingScope::Private { owner: customer }, log, now),
        ),
        (
            "a shared model trains on the log",
            Request::train(TrainingScope::Shared, log, now),
        ),
    ];
    println!("Policy {} — five checks:\n", policy.version());
    for (what, request) in &checks {
        println!("{what}:\n  {}\n", policy.check(request, &*facts));
    }
    Ok(())
}
