//! Custody of log records: sealing, and the one place where plaintext comes out.

mod config;
mod keys;
mod open;
mod plaintext;
mod seal;

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard},
};

use ring::rand::SystemRandom;
use steward_core::AdminId;

use crate::{
    KeyStore, Keyring, LogsError, NoKeyStore,
    audit::{AuditEvent, AuditStore, AuditTrail, RosterChange},
    record::SALT_LEN,
};

pub use self::{
    config::{SealConfig, SecretRedaction},
    open::OpenQuery,
    plaintext::Plaintext,
    seal::Sealed,
};
use self::{
    open::OpenSession,
    seal::{SHARDS, SealingShard},
};

/// Custody of log records: the keyring, the sealing and opening sessions and the audit trail
/// in one place, and the only way to plaintext.
///
/// Every decrypting call takes a gate, the policy decision for that request, and writes its
/// entry to the trail this custody owns (bound at construction, dated by the trail's clock)
/// before any plaintext is returned. Backend services use `steward::Vault`, which passes
/// `Policy::check` as the gate; this type is its building block.
///
/// # Threads
///
/// `&self` throughout, `Send + Sync`: share one custody (in an `Arc`) between all threads of
/// a server. Sealing state is sharded by customer, so seals of different customers rarely
/// wait for each other and never wait for an open; opens serialize on the audit trail, whose
/// entries form one chain. The keyring is read-mostly (a new customer's first key, a rotation
/// or a shred takes it exclusively). Locks are always taken in one order (trail, then a
/// sealing shard, then the keyring, then the opening cache), so they cannot deadlock. A
/// shred holds the trail from its entry to the keys' destruction, so no open is audited
/// between the two.
///
/// # Persistence
///
/// With a [`KeyStore`](crate::KeyStore) ([`with_key_store`](Self::with_key_store)) every key
/// change is written ahead: a new data key is durable before a record sealed under it is
/// returned, a shred before it is reported, a master-key rotation before the keyring switches.
///
/// Keep **one custody per keyring store**. Two over copies of one snapshot each create
/// their own random data key for a new customer (or a new version on rotation) and neither
/// sees the other's shreds. Do not fork a process that holds one, and do not resume a
/// sealing process from a memory snapshot more than once: both copies would continue the
/// same sealing session, and with it the same nonces.
///
/// ```
/// use steward_core::{CustomerId, RecordId, Timestamp, TrainingLevel};
/// use steward_logs::{
///     AccessRequest, AuditKey, AuditTrail, Custody, Denial, Keyring,
///     MasterKey, MemoryAuditStore, SealInput, SealedRecord,
/// };
///
/// let master = MasterKey::from_bytes("kek-2025-03".parse()?, b"steward test key 42, not secret!")?;
/// let trail = AuditTrail::new(AuditKey::from_bytes(b"steward test key 17, not secret!")?, MemoryAuditStore::new())?;
/// let custody = Custody::new(Keyring::new(master), trail);
///
/// let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// let now = Timestamp::now();
/// let meta = SealInput::new(RecordId::generate_at(now), customer, now, TrainingLevel::None);
/// let bytes = custody.seal(&meta, b"{\"prompt\":\"fix my build\"}")?.into_bytes();
///
/// let record = SealedRecord::from_bytes(&bytes)?;
/// let request = AccessRequest::with_justification_text(
///     "alice.ops".parse()?,
///     "troubleshooting".parse()?,
///     "TICKET-4711",
/// );
/// // The gate is the policy's answer; steward::Vault passes Policy::check here.
/// let body = custody.dangerous_open_with_gate(&record, &request, |_query| Ok(()))?;
/// assert_eq!(body.as_bytes(), b"{\"prompt\":\"fix my build\"}");
/// let refused = custody.dangerous_open_with_gate(&record, &request, |_query| Err(Denial::NotOnRoster));
/// assert!(refused.is_err());
/// assert_eq!(custody.audit()?.verify()?.entries(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Custody<S> {
    trail: Mutex<AuditTrail<S>>,
    shards: Box<[Mutex<SealingShard>]>,
    keyring: RwLock<Keyring>,
    opening: Mutex<HashMap<[u8; SALT_LEN], Arc<OpenSession>>>,
    key_store: Arc<dyn KeyStore>,
    config: SealConfig,
    rng: SystemRandom,
    /// Fingerprints of redaction markers, derived from the trail's audit key.
    pub(crate) redaction_key: steward_redact::FingerprintKey,
}

/// A lock whose holder panicked: fail closed rather than use state a panic may have left
/// half-changed.
fn poisoned<T>(_: T) -> LogsError {
    LogsError::Poisoned
}

impl<S: AuditStore> Custody<S> {
    /// Custody with the default configuration, keeping keys in this process only.
    #[must_use]
    pub fn new(keyring: Keyring, trail: AuditTrail<S>) -> Self {
        Self::with_config(keyring, trail, SealConfig::default())
    }

    /// Custody with `config`, keeping keys in this process only.
    #[must_use]
    pub fn with_config(keyring: Keyring, trail: AuditTrail<S>, config: SealConfig) -> Self {
        let redaction_key = trail.redaction_key();
        Self {
            trail: Mutex::new(trail),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            keyring: RwLock::new(keyring),
            opening: Mutex::new(HashMap::new()),
            key_store: Arc::new(NoKeyStore),
            config,
            rng: SystemRandom::new(),
            redaction_key,
        }
    }

    /// The same custody, writing every key change ahead to `store` (see the type's docs).
    /// Pass the keyring the store restored from its rows.
    #[must_use]
    pub fn with_key_store(mut self, store: Arc<dyn KeyStore>) -> Self {
        self.key_store = store;
        // What was read from another store says nothing of this one.
        for shard in &mut self.shards {
            if let Ok(shard) = shard.get_mut() {
                shard.keys_read = None;
            }
        }
        self
    }

    /// Writes a roster change to the trail. The caller applies the change only after this
    /// returned `Ok` (`steward::Vault` does both).
    ///
    /// # Errors
    ///
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) if the entry could not be
    /// written.
    pub fn audit_roster_change(&self, change: RosterChange, by: AdminId) -> Result<(), LogsError> {
        self.audit_event(AuditEvent::RosterChanged { change, by })
    }

    /// Reads the keyring (to persist its [`snapshot`](Keyring::snapshot), or ask about a
    /// customer's keys), holding it shared for as long as the guard lives.
    ///
    /// # Errors
    ///
    /// [`LogsError::Poisoned`] if a thread panicked while changing it.
    pub fn keyring(&self) -> Result<RwLockReadGuard<'_, Keyring>, LogsError> {
        self.keyring.read().map_err(poisoned)
    }

    /// The audit trail, to verify it and sign checkpoints; opens wait while the guard lives.
    ///
    /// # Errors
    ///
    /// [`LogsError::Poisoned`] if a thread panicked while appending.
    pub fn audit(&self) -> Result<MutexGuard<'_, AuditTrail<S>>, LogsError> {
        self.trail.lock().map_err(poisoned)
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &SealConfig {
        &self.config
    }

    fn audit_event(&self, event: AuditEvent) -> Result<(), LogsError> {
        self.trail.lock().map_err(poisoned)?.append(event)?;
        Ok(())
    }
}

impl<S> fmt::Debug for Custody<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Custody")
            .field("config", &self.config)
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use steward_core::{CustomerId, ManualClock, RecordId, Timestamp, TrainingLevel};

    use super::{
        seal::{SEALING_CAPACITY, SEALING_ORDER_SLACK},
        *,
    };
    use crate::{
        AccessRequest, AuditKey, AuditOutcome, Denial, KeyError, KeyVersion, MasterKey,
        MemoryAuditStore, OpenError, SealInput,
    };

    fn customer(n: u128) -> CustomerId {
        CustomerId::new(uuid::Uuid::from_u128(n)).unwrap()
    }

    fn meta(customer: CustomerId) -> SealInput {
        let at = Timestamp::from_unix_seconds(1_750_000_000).unwrap();
        SealInput::new(RecordId::generate_at(at), customer, at, TrainingLevel::None)
    }

    fn custody_with(config: SealConfig, clock: ManualClock) -> Custody<MemoryAuditStore> {
        let master = MasterKey::from_bytes(
            "kek-1".parse().unwrap(),
            b"steward test key 01, not secret!",
        )
        .unwrap();
        let trail = AuditTrail::with_clock(
            AuditKey::from_bytes(b"steward test key 07, not secret!").unwrap(),
            MemoryAuditStore::new(),
            clock,
        )
        .unwrap();
        Custody::with_config(Keyring::new(master), trail, config)
    }

    fn request() -> AccessRequest {
        AccessRequest::with_justification_text(
            "sam".parse().unwrap(),
            steward_core::Purpose::Troubleshooting,
            "T-1",
        )
    }

    #[test]
    fn the_gate_sees_the_trail_instant_and_entries_are_dated_by_the_trail_clock() {
        let start = Timestamp::from_unix_seconds(1_760_000_000).unwrap();
        let clock = ManualClock::new(start);
        let custody = custody_with(SealConfig::default(), clock.clone());
        let record = custody.seal(&meta(customer(1)), b"body").unwrap();
        let mut seen = None;
        custody
            .dangerous_open_with_gate(&record, &request(), |query| {
                seen = Some(query.now());
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, Some(start));
        // The clock goes backwards: the next entry is still dated after the last one.
        clock.set(Timestamp::from_unix_seconds(0).unwrap());
        custody
            .dangerous_open_with_gate(&record, &request(), |_| Ok(()))
            .unwrap();
        let entries = custody.audit().unwrap().store().as_slice().to_vec();
        assert_eq!(entries.len(), 2);
        assert!(entries[1].entry().at() > entries[0].entry().at());
        custody.audit().unwrap().verify().unwrap();
    }

    #[test]
    fn a_refusal_is_audited_and_nothing_is_decrypted() {
        let clock = ManualClock::new(Timestamp::from_unix_seconds(1_760_000_000).unwrap());
        let custody = custody_with(SealConfig::default(), clock);
        let record = custody.seal(&meta(customer(1)), b"body").unwrap();
        let error = custody
            .dangerous_open_with_gate(&record, &request(), |_| Err(Denial::RetentionEnded))
            .unwrap_err();
        assert!(matches!(
            error,
            LogsError::Open(OpenError::Denied {
                denial: Denial::RetentionEnded
            })
        ));
        assert!(
            custody.opening.lock().unwrap().is_empty(),
            "a refused record was decrypted"
        );
        let entries = custody.audit().unwrap().store().as_slice().to_vec();
        assert_eq!(
            entries[0].entry().access().unwrap().outcome(),
            AuditOutcome::Denied(Denial::RetentionEnded)
        );
    }

    #[test]
    fn shreds_and_rotations_are_audited() {
        let clock = ManualClock::new(Timestamp::from_unix_seconds(1_760_000_000).unwrap());
        let custody = custody_with(SealConfig::default(), clock);
        let owner = customer(1);
        custody.seal(&meta(owner), b"body").unwrap();
        let version = custody.rotate_data_key(owner).unwrap();
        custody
            .rotate_master_key(
                MasterKey::from_bytes(
                    "kek-2".parse().unwrap(),
                    b"steward test key 02, not secret!",
                )
                .unwrap(),
            )
            .unwrap();
        custody.shred(owner).unwrap();
        let events: Vec<_> = custody
            .audit()
            .unwrap()
            .store()
            .as_slice()
            .iter()
            .map(|chained| chained.entry().event().clone())
            .collect();
        assert_eq!(
            events,
            [
                AuditEvent::DataKeyRotated {
                    customer: owner,
                    version
                },
                AuditEvent::MasterKeyRotated {
                    to: "kek-2".parse().unwrap()
                },
                AuditEvent::CustomerShreddedThrough {
                    customer: owner,
                    through: Some(version)
                },
            ]
        );
    }

    #[test]
    fn a_shredded_customer_who_returns_seals_again_and_old_records_stay_shredded() {
        let clock = ManualClock::new(Timestamp::from_unix_seconds(1_760_000_000).unwrap());
        let vault = custody_with(SealConfig::default(), clock);
        let request = request();
        let returning = customer(1);
        let first = vault.seal(&meta(returning), b"first").unwrap();
        // Rotating ends the v1 session, which leaves its count in `sealed_before`.
        vault.rotate_data_key(returning).unwrap();
        let second = vault.seal(&meta(returning), b"second").unwrap();
        // Warm the opening cache: shredding must empty it of this customer.
        assert_eq!(
            vault
                .dangerous_open_with_gate(&second, &request, |_| Ok(()))
                .unwrap()
                .as_bytes(),
            b"second"
        );
        assert!(
            vault.shards[0]
                .lock()
                .unwrap()
                .sealed_before
                .contains_key(&(returning, KeyVersion::FIRST))
        );
        vault.shred(returning).unwrap();
        assert!(
            !vault.shards[0]
                .lock()
                .unwrap()
                .sessions
                .contains_key(&returning)
        );
        assert!(
            vault
                .opening
                .lock()
                .unwrap()
                .values()
                .all(|s| s.customer != returning)
        );
        assert!(
            vault.shards[0]
                .lock()
                .unwrap()
                .sealed_before
                .keys()
                .all(|(owner, _)| *owner != returning)
        );
        for old in [&first, &second] {
            let error = vault
                .dangerous_open_with_gate(old, &request, |_| Ok(()))
                .unwrap_err();
            assert!(
                matches!(error, LogsError::Open(OpenError::Shredded)),
                "{error}"
            );
        }
        let new = vault.seal(&meta(returning), b"new").unwrap();
        assert_eq!(new.header().key_version.get(), 3);
        assert_eq!(
            vault
                .dangerous_open_with_gate(&new, &request, |_| Ok(()))
                .unwrap()
                .as_bytes(),
            b"new"
        );
        for old in [&first, &second] {
            let error = vault
                .dangerous_open_with_gate(old, &request, |_| Ok(()))
                .unwrap_err();
            assert!(
                matches!(error, LogsError::Open(OpenError::Shredded)),
                "{error}"
            );
        }
    }

    #[test]
    fn eviction_queue_stays_proportional_to_open_sessions() {
        let config = SealConfig::default().with_records_per_session(1).unwrap();
        let custody = custody_with(config, ManualClock::new(Timestamp::MIN));
        let only = customer(1);
        for _ in 0..1_000 {
            custody.seal(&meta(only), b"x").unwrap();
        }
        assert_eq!(custody.shards[0].lock().unwrap().sessions.len(), 1);
        assert!(custody.shards[0].lock().unwrap().order.len() <= 2 + SEALING_ORDER_SLACK + 1);
    }

    #[test]
    fn sealing_sessions_are_bounded_and_eviction_keeps_the_version_count() {
        let config = SealConfig::default()
            .with_records_per_key_version(3)
            .unwrap();
        let custody = custody_with(config, ManualClock::new(Timestamp::MIN));
        let first = customer(1);
        custody.seal(&meta(first), b"1").unwrap();
        custody.seal(&meta(first), b"2").unwrap();
        // The oldest session goes first: new customers arrive until the first one's did.
        let mut next = 2;
        while custody.shards[0]
            .lock()
            .unwrap()
            .sessions
            .contains_key(&first)
            && next < 10_000
        {
            custody.seal(&meta(customer(next)), b"x").unwrap();
            assert!(custody.shards[0].lock().unwrap().sessions.len() <= SEALING_CAPACITY);
            next += 1;
        }
        assert!(
            !custody.shards[0]
                .lock()
                .unwrap()
                .sessions
                .contains_key(&first),
            "never evicted"
        );
        assert_eq!(
            next,
            2 + SEALING_CAPACITY as u128,
            "the oldest session was not the first to go"
        );
        custody.seal(&meta(first), b"3").unwrap();
        assert!(matches!(
            custody.seal(&meta(first), b"4"),
            Err(LogsError::Key(KeyError::DataKeyExhausted { .. }))
        ));
    }
}
