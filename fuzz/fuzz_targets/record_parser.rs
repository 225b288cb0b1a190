//! Fuzzes the sealed-record parser (docs/design.md section 3, invariant 9): arbitrary bytes must
//! give a record or a typed error, never a panic; whatever parses must round-trip to the same
//! bytes and must never open under keys that did not seal it, even through a gate that allows
//! every request.

#![no_main]

use std::{
    error::Error,
    sync::{Mutex, OnceLock},
};

use libfuzzer_sys::fuzz_target;
use steward_core::{CustomerId, Purpose, RecordId, Timestamp, TrainingLevel};
use steward_logs::{
    AccessRequest, AuditKey, AuditStore, AuditTrail, ChainedEntry, Custody, Denial, Keyring,
    MasterKey, OpenQuery, SealInput, SealedRecord,
};

/// An audit store that keeps only the newest entry, so that memory stays flat over millions
/// of inputs (every open attempt is an entry).
#[derive(Default)]
struct NewestOnly {
    last: Option<ChainedEntry>,
}

impl AuditStore for NewestOnly {
    fn append(&mut self, entry: ChainedEntry) -> Result<(), Box<dyn Error + Send + Sync>> {
        self.last = Some(entry);
        Ok(())
    }

    fn last(&self) -> Result<Option<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        Ok(self.last.clone())
    }

    fn entries(&self) -> Result<Vec<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        Ok(self.last.iter().cloned().collect())
    }
}

struct Harness {
    custody: Custody<NewestOnly>,
    request: AccessRequest,
}

/// A custody holding a data key for one customer (so forged records reach the key commitment
/// and AEAD checks rather than stopping at a missing key).
fn harness() -> Option<Harness> {
    let master = MasterKey::from_bytes("kek-fuzz".parse().ok()?, b"steward test key 42, not secret!").ok()?;
    let key = AuditKey::from_bytes(b"steward test key 17, not secret!").ok()?;
    let trail = AuditTrail::new(key, NewestOnly::default()).ok()?;
    let custody = Custody::new(Keyring::new(master), trail);
    let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse().ok()?;
    let at = Timestamp::from_unix_seconds(1_750_000_000).ok()?;
    let meta = SealInput::new(RecordId::generate_at(at), customer, at, TrainingLevel::None);
    custody.seal(&meta, b"seed").ok()?;
    let request = AccessRequest::with_justification_text(
        "fuzz".parse().ok()?,
        Purpose::Troubleshooting,
        "FUZZ-1",
    );
    Some(Harness { custody, request })
}

/// Allows every request: only the record's own integrity stands between it and plaintext.
fn allow(_query: &OpenQuery<'_>) -> Result<(), Denial> {
    Ok(())
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
    // Random bytes that happen to parse cannot carry a valid tag under the harness's keys.
    assert!(
        harness
            .custody
            .dangerous_open_with_gate(&record, &harness.request, allow)
            .is_err()
    );
});
