//! A steward opens a logged LLM request with a purpose and a ticket; a stranger, a wrong
//! purpose and an invisible ticket are refused; everything lands in a verifiable audit trail;
//! then the customer is crypto-shredded and their log can never be opened again.
//!
//! `cargo run -p steward-examples --example logs_steward_access`

use std::error::Error;

use steward::logs::{
    AuditKey, AuditTrail, CheckpointSigner, Keyring, LogsError, MasterKey, OpenError,
};
use steward::{logs::*, vocabulary::*, *};

fn main() -> Result<(), Box<dyn Error>> {
    let policy = Policy::coder_model();
    let mut facts = MemoryFacts::new(&policy);
    let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
    facts
        .relationships
        .start(customer, "2025-01-01T00:00:00Z".parse()?)?;

    // In production the master key comes from a file, the environment or a KMS:
    // `MasterKey::from_env("kek-2025-03".parse()?, "STEWARD_MASTER_KEY")`.
    let master = MasterKey::from_hex(
        "kek-2025-03".parse()?,
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    )?;
    let trail = AuditTrail::new(
        AuditKey::from_bytes(b"steward test key 17, not secret!")?,
        logs::MemoryAuditStore::new(),
    )?;
    let vault = Vault::new(policy, facts, Keyring::new(master), trail)?;
    // logs.access: the roster changes only through the vault, and each change is audited.
    vault.add_steward("alice.ops".parse()?, "dana.admin".parse()?)?;

    // logs.stored + logs.encrypted: the proxy seals the request as it passes.
    let collected = Timestamp::now();
    let stored = vault
        .seal(
            RecordId::generate_at(collected),
            customer,
            collected,
            br#"{"prompt":"why does my build fail?"}"#,
        )?
        .into_bytes();
    println!("sealed {} bytes for customer {customer}", stored.len());

    // logs.access + logs.purposes: a roster steward, a log purpose, a ticket. The vault
    // decides with Policy::check at the instant of its own audit clock.
    let record = SealedRecord::from_bytes(&stored)?;
    let request = AccessRequest::with_justification_text(
        "alice.ops".parse()?,
        Purpose::Troubleshooting,
        "TICKET-4711 build failures",
    );
    let body = vault.open(&record, &request)?;
    println!(
        "alice.ops opened it: {}",
        String::from_utf8_lossy(body.as_bytes())
    );

    for (who, purpose, ticket) in [
        ("mallory", Purpose::Troubleshooting, "TICKET-1"),
        ("alice.ops", Purpose::Marketing, "campaign"),
        ("alice.ops", Purpose::CustomerSupport, "\u{200B}\u{FEFF}"),
    ] {
        let attempt = AccessRequest::with_justification_text(who.parse()?, purpose, ticket);
        match vault.open(&record, &attempt) {
            Err(error @ LogsError::Open(OpenError::Denied { .. })) => {
                println!("{who} / {purpose}: {error}")
            }
            other => return Err(format!("expected a denial, got {other:?}").into()),
        }
    }

    let signer = CheckpointSigner::from_pkcs8(&CheckpointSigner::generate_pkcs8()?)?;
    let checkpoint = vault.audit()?.checkpoint(&signer)?;
    let head = vault
        .audit()?
        .verify_against(&checkpoint, &signer.public_key())?;
    println!(
        "audit trail: {} entries, head {}, checkpoint verified",
        head.entries(),
        head.hash()
    );

    // logs.retention ended: crypto-shred the customer; every copy of their logs is now noise.
    vault.shred(customer)?;
    match vault.open(&record, &request) {
        Err(error @ LogsError::Open(OpenError::Shredded)) => println!("after shredding: {error}"),
        other => return Err(format!("expected shredded, got {other:?}").into()),
    }
    Ok(())
}
