//! A training job for a shared model reads exactly the records whose consent at collection
//! allows it: Ada's records from after she opted in, none of Ben's (he never did), none from
//! before Ada's change, and none whose header was tampered with to claim a higher level. The
//! job is audited before the first plaintext exists, and a manifest a model card can cite is
//! written next to the training data.
//!
//! `cargo run -p steward-examples --example training_export`

use std::error::Error;

use steward::logs::{AuditEvent, AuditKey, AuditTrail, Keyring, MasterKey, MemoryAuditStore};
use steward::{consent::*, logs::*, vocabulary::*, *};

fn main() -> Result<(), Box<dyn Error>> {
    let policy = Policy::coder_model();
    let mut facts = MemoryFacts::new(&policy);
    let ada: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01".parse()?;
    let ben: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a02".parse()?;
    for customer in [ada, ben] {
        facts
            .relationships
            .start(customer, "2025-03-01T00:00:00Z".parse()?)?;
    }
    // Ada opts in to shared training on 2025-04-01; Ben keeps the default.
    let opted_in: Timestamp = "2025-04-01T00:00:00Z".parse()?;
    facts.consent.record(
        ConsentChange::new(
            ada,
            TrainingLevel::Shared,
            opted_in,
            ConsentActor::Customer,
            Channel::AccountSettings,
            policy.version().clone(),
        ),
        opted_in,
    )?;

    let master = MasterKey::from_bytes("kek-demo-1".parse()?, b"steward test key 5a, not secret!")?;
    let trail = AuditTrail::new(
        AuditKey::from_bytes(b"steward test key 17, not secret!")?,
        MemoryAuditStore::new(),
    )?;
    let vault = Vault::new(policy, facts, Keyring::new(master), trail)?;

    // The proxy seals every request with the consent in force when it passed
    // (training.forward-only: the level at collection travels with the record).
    let mut stored: Vec<Vec<u8>> = Vec::new();
    for (who, customer, at, prompt) in [
        (
            "Ada",
            ada,
            "2025-03-15T10:00:00Z",
            "before opting in: not for training",
        ),
        ("Ada", ada, "2025-04-10T10:00:00Z", "refactor this parser"),
        ("Ben", ben, "2025-04-11T10:00:00Z", "Ben never opted in"),
        (
            "Ada",
            ada,
            "2025-04-12T10:00:00Z",
            "write tests for the tokenizer",
        ),
    ] {
        let at: Timestamp = at.parse()?;
        let record = vault.seal(RecordId::generate_at(at), customer, at, prompt.as_bytes())?;
        let level = record.header().consent();
        stored.push(record.into_bytes());
        println!("sealed {who}'s request of {at} under consent `{level}`");
    }
    // Someone with write access to the store flips Ben's record to claim open-weight consent
    // (byte 6 of the header, docs/record-format.md). The header is authenticated, so the
    // record can no longer open: the export will count it as tampered, never yield it.
    if let Some(byte) = stored.get_mut(2).and_then(|record| record.get_mut(6)) {
        *byte = 3;
    }

    let mut manifest = TrainingManifest::new(Vec::new());
    let mut training_data = Vec::new();
    let outcome = vault.export_training(
        TrainingScope::Shared,
        |_pass| stored.iter().cloned().map(Ok),
        |record| {
            training_data.push(String::from_utf8_lossy(record.body()).into_owned());
            manifest.record(record.header()).map_err(BoxError::from)
        },
    )?;
    println!("\nThe shared-model job read: {training_data:?}");
    println!(
        "exported {}, left out: {} for consent, {} tampered, {} due, {} held, {} shredded",
        outcome.counts.exported,
        outcome.counts.consent,
        outcome.counts.tampered,
        outcome.counts.retention_due,
        outcome.counts.legal_hold_only,
        outcome.counts.shredded,
    );

    println!("\nThe audit trail holds the job before and after:");
    for chained in vault.audit()?.store().as_slice() {
        match chained.entry().event() {
            AuditEvent::TrainingExportPlanned(plan) => println!(
                "  planned job {} at {}: scope `{}`, policy {}, {} records, digest {}",
                plan.job,
                plan.at,
                plan.scope,
                plan.policy_version,
                plan.counts.exported,
                plan.digest
            ),
            AuditEvent::TrainingExportFinished {
                job,
                counts,
                digest,
                ..
            } => println!(
                "  finished job {job}: {} exported, {} tampered, digest {digest}",
                counts.exported, counts.tampered
            ),
            other => println!("  {other:?}"),
        }
    }
    vault.audit()?.verify()?;

    let manifest = String::from_utf8(manifest.finish(&outcome)?)?;
    println!("\nManifest for the model card ({MANIFEST_FORMAT}):\n{manifest}");
    Ok(())
}
