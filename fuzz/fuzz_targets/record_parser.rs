//! Fuzzes the sealed-record parser (DESIGN.md section 3, invariant 9): arbitrary bytes must
//! give a record or a typed error, never a panic; whatever parses must round-trip to the same
//! bytes and must never open under keys that did not seal it.

#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use steward_core::{CustomerId, Purpose, RecordId, Timestamp};
use steward_logs::{
    AccessRequest, AuditKey, AuditTrail, ConsentAtCollection, Keyring, MasterKey, MemoryAuditStore,
    RecordMeta, RosterCapacity, SealedRecord, StewardRoster, Vault,
};

struct Harness {
    vault: Vault,
    request: AccessRequest,
}

/// A vault holding a data key for one customer (so forged records reach the key commitment
/// and AEAD checks rather than stopping at a missing key).
fn harness() -> Option<Harness> {
    let master = MasterKey::from_bytes("kek-fuzz".parse().ok()?, &[0x42; 32]).ok()?;
    let mut roster = StewardRoster::new(RosterCapacity::new(1).ok()?);
    roster.add("fuzz".parse().ok()?).ok()?;
    let mut vault = Vault::new(Keyring::new(master), roster);
    let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse().ok()?;
    let at = Timestamp::from_unix_seconds(1_750_000_000).ok()?;
    let meta = RecordMeta::new(
        customer,
        RecordId::generate_at(at),
        at,
        ConsentAtCollection::None,
    );
    vault.seal(&meta, b"seed").ok()?;
    let request = AccessRequest::with_justification_text(
        "fuzz".parse().ok()?,
        Purpose::Troubleshooting,
        "FUZZ-1",
        at,
    );
    Some(Harness { vault, request })
}

static HARNESS: OnceLock<Mutex<Option<Harness>>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(record) = SealedRecord::from_bytes(data) else {
        return;
    };
    assert_eq!(
        record.as_bytes(),
        data,
        "a parsed record must keep its bytes"
    );
    assert_eq!(record.header().body_len() + 128 + 16, data.len());
    let Ok(mut guard) = HARNESS.get_or_init(|| Mutex::new(harness())).lock() else {
        return;
    };
    let Some(harness) = guard.as_mut() else {
        return;
    };
    let Ok(key) = AuditKey::from_bytes(&[0x17; 32]) else {
        return;
    };
    let Ok(mut audit) = AuditTrail::new(key, MemoryAuditStore::new()) else {
        return;
    };
    let request = harness.request.clone();
    // Random bytes that happen to parse cannot carry a valid tag under the harness's keys.
    assert!(harness.vault.open(&record, &request, &mut audit).is_err());
});
