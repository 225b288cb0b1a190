//! Shared fixtures of the integration tests. Helpers return `Result` (no unwrap outside
//! `#[test]` functions, per the workspace lints).

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test crate uses a different subset of the fixtures"
)]

use std::{error::Error, sync::Arc, sync::Mutex};

use steward_core::{CustomerId, Purpose, RecordId, StewardId, Timestamp};
use steward_logs::{
    AccessRequest, AuditKey, AuditStore, AuditTrail, ChainedEntry, ConsentAtCollection, Keyring,
    MasterKey, MemoryAuditStore, RecordMeta, RosterCapacity, StewardRoster, Vault,
};

pub type TestResult<T = ()> = Result<T, Box<dyn Error>>;

pub const STEWARD: &str = "alice.ops";
pub const AUDIT_KEY: [u8; 32] = [0x17; 32];

pub fn customer(n: u128) -> TestResult<CustomerId> {
    Ok(CustomerId::new(uuid::Uuid::from_u128(n.max(1)))?)
}

pub fn instant(seconds: i64) -> TestResult<Timestamp> {
    Ok(Timestamp::from_unix_seconds(seconds)?)
}

pub fn meta(customer: CustomerId, at: Timestamp) -> TestResult<RecordMeta> {
    Ok(RecordMeta::new(
        customer,
        RecordId::generate_at(at),
        at,
        ConsentAtCollection::Private,
    ))
}

pub fn vault() -> TestResult<Vault> {
    let master = MasterKey::from_bytes("kek-1".parse()?, &[0x42; 32])?;
    let mut roster = StewardRoster::new(RosterCapacity::new(3)?);
    roster.add(STEWARD.parse()?)?;
    Ok(Vault::new(Keyring::new(master), roster))
}

pub fn trail() -> TestResult<AuditTrail<MemoryAuditStore>> {
    Ok(AuditTrail::new(
        AuditKey::from_bytes(&AUDIT_KEY)?,
        MemoryAuditStore::new(),
    )?)
}

pub fn request(at: Timestamp) -> TestResult<AccessRequest> {
    Ok(AccessRequest::new(
        STEWARD.parse::<StewardId>()?,
        Purpose::Troubleshooting,
        Some("TICKET-4711".parse()?),
        at,
    ))
}

/// A store that can be switched to fail, and that records how many entries it holds, shared
/// with the test through an `Arc`.
#[derive(Debug, Clone, Default)]
pub struct ProbeStore {
    pub inner: Arc<Mutex<ProbeState>>,
}

#[derive(Debug, Default)]
pub struct ProbeState {
    pub entries: Vec<ChainedEntry>,
    pub failing: bool,
}

#[derive(Debug)]
pub struct StoreDown;

impl std::fmt::Display for StoreDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("store down")
    }
}

impl Error for StoreDown {}

impl ProbeStore {
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |state| state.entries.len())
    }

    pub fn set_failing(&self, failing: bool) {
        if let Ok(mut state) = self.inner.lock() {
            state.failing = failing;
        }
    }

    pub fn last(&self) -> Option<ChainedEntry> {
        self.inner
            .lock()
            .ok()
            .and_then(|state| state.entries.last().cloned())
    }
}

impl AuditStore for ProbeStore {
    fn append(&mut self, entry: &ChainedEntry) -> Result<(), Box<dyn Error + Send + Sync>> {
        let mut state = self.inner.lock().map_err(|_| StoreDown)?;
        if state.failing {
            return Err(Box::new(StoreDown));
        }
        state.entries.push(entry.clone());
        Ok(())
    }

    fn last(&self) -> Result<Option<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        let state = self.inner.lock().map_err(|_| StoreDown)?;
        Ok(state.entries.last().cloned())
    }

    fn entries(&self) -> Result<Vec<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        let state = self.inner.lock().map_err(|_| StoreDown)?;
        Ok(state.entries.clone())
    }
}
