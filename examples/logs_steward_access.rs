//! A steward opens a logged LLM request with a purpose and a ticket; a stranger and a wrong
//! purpose are refused; everything lands in a verifiable audit trail; then the customer is
//! crypto-shredded and their log can never be opened again.
//!
//! `cargo run -p steward-examples --example logs_steward_access`

use std::error::Error;

use steward_core::{CustomerId, Purpose, RecordId, Timestamp};
use steward_logs::{
    AccessRequest, AuditKey, AuditTrail, CheckpointSigner, ConsentAtCollection, Keyring, LogsError,
    MasterKey, MemoryAuditStore, RecordMeta, RosterCapacity, SealedRecord, StewardRoster, Vault,
};

fn main() -> Result<(), Box<dyn Error>> {
    // In production the master key comes from a file, the environment or a KMS:
    // `MasterKey::from_env("kek-2025-03".parse()?, "STEWARD_MASTER_KEY")`.
    let master = MasterKey::from_hex(
        "kek-2025-03".parse()?,
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    )?;
    let mut roster = StewardRoster::new(RosterCapacity::new(3)?);
    roster.add("alice.ops".parse()?)?;
    let mut vault = Vault::new(Keyring::new(master), roster);
    let mut audit = AuditTrail::new(AuditKey::from_bytes(&[0x17; 32])?, MemoryAuditStore::new())?;

    // logs.stored + logs.encrypted: the proxy seals the request as it passes.
    let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
    let collected: Timestamp = "2025-06-01T09:30:00Z".parse()?;
    let meta = RecordMeta::new(
        customer,
        RecordId::generate_at(collected),
        collected,
        ConsentAtCollection::None,
    );
    let stored = vault
        .seal(&meta, br#"{"prompt":"why does my build fail?"}"#)?
        .into_bytes();
    println!("sealed {} bytes for customer {customer}", stored.len());

    // logs.access + logs.purposes: a roster steward, a log purpose, a ticket.
    let record = SealedRecord::from_bytes(&stored)?;
    let now: Timestamp = "2025-06-02T10:00:00Z".parse()?;
    let request = AccessRequest::with_justification_text(
        "alice.ops".parse()?,
        Purpose::Troubleshooting,
        "TICKET-4711 build failures",
        now,
    );
    let body = vault.open(&record, &request, &mut audit)?;
    println!(
        "alice.ops opened it: {}",
        String::from_utf8_lossy(body.as_bytes())
    );

    for (who, purpose, ticket) in [
        ("mallory", Purpose::Troubleshooting, "TICKET-1"),
        ("alice.ops", Purpose::Marketing, "campaign"),
        ("alice.ops", Purpose::CustomerSupport, "   "),
    ] {
        let attempt = AccessRequest::with_justification_text(who.parse()?, purpose, ticket, now);
        match vault.open(&record, &attempt, &mut audit) {
            Err(error @ LogsError::Denied { .. }) => println!("{who} / {purpose}: {error}"),
            other => return Err(format!("expected a denial, got {other:?}").into()),
        }
    }

    let signer = CheckpointSigner::from_pkcs8(&CheckpointSigner::generate_pkcs8()?)?;
    let checkpoint = audit.checkpoint(&signer)?;
    let head = audit.verify_against(&checkpoint, &signer.public_key())?;
    println!(
        "audit trail: {} entries, head {}, checkpoint verified",
        head.entries(),
        head.hash()
    );

    // logs.retention ended: crypto-shred the customer; every copy of their logs is now noise.
    vault.shred(customer);
    match vault.open(&record, &request, &mut audit) {
        Err(error @ LogsError::Shredded) => println!("after shredding: {error}"),
        other => return Err(format!("expected shredded, got {other:?}").into()),
    }
    Ok(())
}
