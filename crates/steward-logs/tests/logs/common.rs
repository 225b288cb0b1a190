//! Shared fixtures. Helpers return `Result` (no unwrap outside `#[test]` functions, per the
//! workspace lints).

use std::{
    error::Error,
    fmt,
    sync::{Arc, Mutex, PoisonError},
};

use steward_core::{
    CustomerId, ManualClock, Purpose, PurposeGroup, RecordId, Timestamp, TrainingLevel,
};
use steward_logs::{
    AccessRequest, AuditKey, AuditStore, AuditTrail, ChainedEntry, Custody, Denial, Keyring,
    LogsError, MasterKey, MemoryAuditStore, OpenQuery, RosterCapacity, SealConfig, SealInput,
    StewardRoster,
};

pub(crate) type TestResult<T = ()> = Result<T, Box<dyn Error>>;

/// The steward on the test roster.
pub(crate) const STEWARD: &str = "alice.ops";
pub(crate) const AUDIT_KEY: [u8; 32] = *b"steward test key 17, not secret!";
pub(crate) const MASTER_KEY: [u8; 32] = *b"steward test key 42, not secret!";
/// Where the custody's manual clock starts: 2025-06-01T00:00:00Z.
pub(crate) const START_SECONDS: i64 = 1_748_736_000;

pub(crate) fn customer(n: u128) -> TestResult<CustomerId> {
    Ok(CustomerId::new(uuid::Uuid::from_u128(n.max(1)))?)
}

pub(crate) fn instant(seconds: i64) -> TestResult<Timestamp> {
    Ok(Timestamp::from_unix_seconds(seconds)?)
}

pub(crate) fn meta(customer: CustomerId, at: Timestamp) -> TestResult<SealInput> {
    Ok(SealInput::new(
        RecordId::generate_at(at),
        customer,
        at,
        TrainingLevel::Private,
    ))
}

pub(crate) fn audit_key() -> Result<AuditKey, LogsError> {
    AuditKey::from_bytes(&AUDIT_KEY)
}

pub(crate) fn master_key() -> TestResult<MasterKey> {
    Ok(MasterKey::from_bytes("kek-1".parse()?, &MASTER_KEY)?)
}

/// A manual clock at [`START_SECONDS`].
pub(crate) fn clock() -> TestResult<ManualClock> {
    Ok(ManualClock::new(instant(START_SECONDS)?))
}

/// A custody with a fresh keyring and an in-memory trail on a manual clock.
pub(crate) fn custody() -> TestResult<Custody<MemoryAuditStore>> {
    custody_with(SealConfig::default())
}

pub(crate) fn custody_with(config: SealConfig) -> TestResult<Custody<MemoryAuditStore>> {
    custody_over(
        Keyring::new(master_key()?),
        MemoryAuditStore::new(),
        clock()?,
        config,
    )
}

/// A custody over `keyring` whose trail writes to `store`, dated by `clock`.
pub(crate) fn custody_over<S: AuditStore>(
    keyring: Keyring,
    store: S,
    clock: ManualClock,
    config: SealConfig,
) -> TestResult<Custody<S>> {
    let trail = AuditTrail::with_clock(audit_key()?, store, clock)?;
    Ok(Custody::with_config(keyring, trail, config))
}

/// A keyring restored from `custody`'s snapshot under the same master key: what a restarted
/// service holds.
pub(crate) fn restored_keyring<S: AuditStore>(custody: &Custody<S>) -> TestResult<Keyring> {
    Ok(Keyring::restore(
        master_key()?,
        [],
        custody.keyring()?.snapshot(),
    )?)
}

/// A request of the roster steward, for troubleshooting, with a ticket.
pub(crate) fn request() -> TestResult<AccessRequest> {
    Ok(AccessRequest::new(
        STEWARD.parse()?,
        Purpose::Troubleshooting,
        Some("TICKET-4711".parse()?),
    ))
}

/// A roster holding [`STEWARD`] only.
pub(crate) fn roster() -> TestResult<StewardRoster> {
    let mut roster = StewardRoster::new(RosterCapacity::new(3)?);
    roster.add(STEWARD.parse()?)?;
    Ok(roster)
}

/// A gate that allows every request: what custody does is then all that stands between a
/// record and its plaintext (decryption and the audit entry).
pub(crate) fn allow(_query: &OpenQuery<'_>) -> Result<(), Denial> {
    Ok(())
}

/// A gate that refuses every request with `denial`.
pub(crate) fn refuse(denial: Denial) -> impl Fn(&OpenQuery<'_>) -> Result<(), Denial> {
    move |_query| Err(denial)
}

/// The logs clauses as a gate, a naive model of what `steward::Vault` asks `Policy::check`
/// (whose own tests are in the facade): `logs.access` (on the roster, with a justification)
/// and `logs.purposes` (a log purpose).
pub(crate) fn policy_gate(
    roster: &StewardRoster,
) -> impl Fn(&OpenQuery<'_>) -> Result<(), Denial> + '_ {
    move |query| {
        let request = query.request();
        if !roster.contains(request.steward()) {
            return Err(Denial::NotOnRoster);
        }
        if request.purpose().group() != PurposeGroup::Logs {
            return Err(Denial::PurposeNotForLogs {
                purpose: request.purpose(),
            });
        }
        if request.justification().is_none() {
            return Err(Denial::MissingJustification);
        }
        Ok(())
    }
}

/// How a [`ProbeStore`] answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Stores and acknowledges every entry.
    #[default]
    Healthy,
    /// Refuses every append and stores nothing; reads work (a full disk, a broken
    /// constraint).
    RefuseAppends,
    /// Stores the next entry but reports a failure, as when the acknowledgement is lost on
    /// the way back; healthy again afterwards.
    LoseNextAck,
    /// Stores the next entry, reports a failure, and is unreachable from then on.
    LoseNextAckThenGoDown,
    /// Unreachable: appends store nothing and reads fail.
    Down,
}

/// An audit store whose failures the test switches, shared with the test through an `Arc`
/// so that the test sees what was stored while the custody owns the store.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProbeStore {
    inner: Arc<Mutex<ProbeState>>,
}

#[derive(Debug, Default)]
struct ProbeState {
    entries: Vec<ChainedEntry>,
    fault: Fault,
}

#[derive(Debug)]
struct StoreDown;

impl fmt::Display for StoreDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("store down")
    }
}

impl Error for StoreDown {}

impl ProbeStore {
    /// What was stored, oldest first, whatever the store reported.
    pub(crate) fn stored(&self) -> Vec<ChainedEntry> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .clone()
    }

    pub(crate) fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }

    pub(crate) fn newest(&self) -> Option<ChainedEntry> {
        self.stored().pop()
    }

    pub(crate) fn set_fault(&self, fault: Fault) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fault = fault;
    }
}

impl AuditStore for ProbeStore {
    fn append(&mut self, entry: ChainedEntry) -> Result<(), Box<dyn Error + Send + Sync>> {
        let mut state = self.inner.lock().map_err(|_| StoreDown)?;
        match state.fault {
            Fault::Healthy => {
                state.entries.push(entry);
                Ok(())
            }
            Fault::RefuseAppends | Fault::Down => Err(Box::new(StoreDown)),
            Fault::LoseNextAck => {
                state.entries.push(entry);
                state.fault = Fault::Healthy;
                Err(Box::new(StoreDown))
            }
            Fault::LoseNextAckThenGoDown => {
                state.entries.push(entry);
                state.fault = Fault::Down;
                Err(Box::new(StoreDown))
            }
        }
    }

    fn last(&self) -> Result<Option<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        let state = self.inner.lock().map_err(|_| StoreDown)?;
        if state.fault == Fault::Down {
            return Err(Box::new(StoreDown));
        }
        Ok(state.entries.last().cloned())
    }

    fn entries(&self) -> Result<Vec<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        let state = self.inner.lock().map_err(|_| StoreDown)?;
        if state.fault == Fault::Down {
            return Err(Box::new(StoreDown));
        }
        Ok(state.entries.clone())
    }
}
