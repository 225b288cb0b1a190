//! A customer's training preference over time, and which models each of their records may
//! train, under the default forward-only mode and under the strict mode.
//!
//! Run: `cargo run -p steward-examples --example consent_timeline`

use steward_consent::{
    Channel, ConsentActor, ConsentChange, ConsentLedger, ConsentMode, KnownPolicyVersions,
    TrainingLevel,
};
use steward_core::{CustomerId, PolicyVersion, Timestamp, TrainingScope};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let alice: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
    let bob: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a11".parse()?;
    let policy: PolicyVersion = "2025-03-05".parse()?;
    // The ledger accepts changes under the policy versions it is told about (policy.versioned).
    let mut ledger = ConsentLedger::new(KnownPolicyVersions::new(policy.clone()));

    println!("Steward consent timeline: which of Alice's records may train which models?");
    println!();
    println!("By default no data trains any model (training.default-off). Alice changes her");
    println!("preference twice; every change goes into an append-only ledger with a receipt");
    println!("that says when it was recorded and from when it is in force (never earlier):");
    println!();

    let changes = [
        (
            TrainingLevel::Shared,
            "2025-04-01T00:00:00Z",
            "2025-04-01T00:00:00Z",
            ConsentActor::Customer,
            Channel::AccountSettings,
        ),
        (
            // Asked through support on May 28, scheduled for June 1.
            TrainingLevel::Private,
            "2025-05-28T10:00:00Z",
            "2025-06-01T00:00:00Z",
            ConsentActor::Admin {
                admin: "dana.support".parse()?,
                basis: "TICKET-88 customer asked by email".parse()?,
            },
            Channel::SupportRequest,
        ),
    ];
    for (level, recorded_at, effective, actor, channel) in changes {
        let change = ConsentChange::new(
            alice,
            level,
            effective.parse()?,
            actor,
            channel,
            policy.clone(),
        );
        let receipt = ledger.record(change, recorded_at.parse()?)?;
        println!(
            "  receipt #{}  recorded {}  from {}  {} -> {}",
            receipt.receipt,
            day(receipt.recorded_at),
            day(receipt.effective),
            receipt.previous_level,
            receipt.level,
        );
        println!(
            "      by `{}` via {}, policy version {}",
            receipt.actor, receipt.channel, receipt.policy_version,
        );
    }

    println!();
    println!("Nobody can backdate consent: in June, an admin's opt-in \"as of May 1\" is refused.");
    let backdated = ledger.record(
        ConsentChange::new(
            alice,
            TrainingLevel::OpenWeight,
            "2025-05-01T00:00:00Z".parse()?,
            ConsentActor::Admin {
                admin: "dana.support".parse()?,
                basis: "TICKET-91 customer says she agreed in May".parse()?,
            },
            Channel::SupportRequest,
            policy.clone(),
        ),
        "2025-06-10T09:00:00Z".parse()?,
    );
    match backdated {
        Ok(_) => println!("  unexpected: a backdated change was accepted"),
        Err(error) => println!("  refused: {error}"),
    }
    println!("Nor can a change name a policy version the policy does not know.");
    let unknown_version = ledger.record(
        ConsentChange::new(
            bob,
            TrainingLevel::Shared,
            "2025-06-10T09:00:00Z".parse()?,
            ConsentActor::Customer,
            Channel::Api,
            "2024-01-01".parse()?,
        ),
        "2025-06-10T09:00:00Z".parse()?,
    );
    match unknown_version {
        Ok(_) => println!("  unexpected: a change under an unknown version was accepted"),
        Err(error) => println!("  refused: {error}"),
    }

    let records = [
        ("R1", "2025-03-10T09:00:00Z", "before she opted in"),
        (
            "R2",
            "2025-04-15T14:30:00Z",
            "while she allowed shared training",
        ),
        (
            "R3",
            "2025-06-20T08:15:00Z",
            "after she narrowed it to private",
        ),
    ];
    let now: Timestamp = "2025-07-01T00:00:00Z".parse()?;
    println!();
    println!("Records collected from Alice, and the level in force when each was collected:");
    for (name, collected, when) in records {
        let collected: Timestamp = collected.parse()?;
        println!(
            "  {name}  collected {}  {when}: level `{}`",
            day(collected),
            ledger.level_at(alice, collected)
        );
    }

    let models = [
        ("Alice's private", TrainingScope::Private { owner: alice }),
        ("Bob's private", TrainingScope::Private { owner: bob }),
        ("shared", TrainingScope::Shared),
        ("open-weight", TrainingScope::OpenWeight),
    ];
    for (mode, explanation) in [
        (
            ConsentMode::ForwardOnly,
            "the default: a record keeps the level in force when it was collected \
             (training.forward-only)",
        ),
        (
            ConsentMode::WithdrawalStopsProcessing,
            "strict: the lower of the level at collection and the level now, so Alice's \
             downgrade also stops further shared training on R2",
        ),
    ] {
        println!();
        println!("Mode `{mode}`, asked on {}:", day(now));
        println!("  {explanation}");
        let mut header = format!("  {:<8}{:<10}", "record", "level");
        for (model, _) in &models {
            header.push_str(&format!("{model:<27}"));
        }
        println!("{}", header.trim_end());
        for (name, collected, _) in records {
            let level = ledger.effective_level(alice, collected.parse()?, now, mode);
            let mut row = format!("  {name:<8}{:<10}", level.as_str());
            for (_, scope) in &models {
                let verdict = if level.permits(*scope, alice) {
                    "may train".to_owned()
                } else {
                    format!("no ({})", level.deciding_clause(*scope, alice))
                };
                row.push_str(&format!("{verdict:<27}"));
            }
            println!("{}", row.trim_end());
        }
    }

    println!();
    println!("Bob's private models never see Alice's data, whatever her level (training.private).");
    println!("Models already trained are not untrained by a later change, in either mode.");
    Ok(())
}

/// The date part of an instant, for a compact table.
fn day(instant: Timestamp) -> String {
    instant.as_datetime().format("%Y-%m-%d").to_string()
}
