//! The vault: seals records, and opens them for roster stewards with an audit entry first.

use std::{
    collections::{HashMap, VecDeque, hash_map::Entry},
    fmt,
};

use chrono::TimeDelta;
use ring::rand::SystemRandom;
use steward_core::{CustomerId, Timestamp};
use zeroize::Zeroize;

use crate::{
    Algorithm, KeyVersion, Keyring, LogsError, MasterKey, RecordMeta, SealedRecord, StewardRoster,
    access::AccessRequest,
    audit::{AuditEntry, AuditOutcome, AuditStore, AuditTrail, OpenFailure},
    record::SALT_LEN,
    session::{MAX_RECORDS_PER_SESSION, SealSession, SessionKeys},
};

/// Sealing sessions kept at once (about 0.8 KiB each, so about 50 MiB at most). A customer
/// whose session is evicted simply starts a new one (fresh salt) on their next record.
/// Unit tests use a capacity of 4 to exercise eviction.
const SEALING_CAPACITY: usize = if cfg!(test) { 4 } else { 65_536 };

/// How far ahead of this machine's clock an access request may be dated: clocks of the
/// requesting and the opening host differ a little, never by more.
const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// Entries of the eviction queue allowed beyond twice the open sessions before it is compacted.
const SEALING_ORDER_SLACK: usize = 64;

/// Opened sessions kept for later opens; on overflow the cache is emptied and refills from
/// use. Only sessions that opened a record get in, so forged salts cannot fill it.
const OPEN_CACHE_CAPACITY: usize = 4096;

/// The decrypted body of a record. Zeroized on drop; `Debug` shows only its length.
pub struct Plaintext {
    bytes: Vec<u8>,
}

impl Plaintext {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// The body.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The length of the body in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the body is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        // The slice impls zeroize in bulk (a fill plus an optimization barrier); zeroize's
        // `Vec` impl would write byte by byte, which costs more than decrypting.
        self.bytes.as_mut_slice().zeroize();
        self.bytes.spare_capacity_mut().zeroize();
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plaintext")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// How the vault seals: the AEAD and the limits that keep (key, nonce) pairs unique.
///
/// ```
/// use steward_logs::{Algorithm, VaultConfig};
///
/// let config = VaultConfig::default()
///     .with_algorithm(Algorithm::ChaCha20Poly1305)
///     .with_records_per_key_version(1_000_000)?;
/// assert_eq!(config.algorithm(), Algorithm::ChaCha20Poly1305);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaultConfig {
    algorithm: Algorithm,
    records_per_session: u64,
    records_per_key_version: u64,
}

impl Default for VaultConfig {
    /// AES-256-GCM, sessions of 2^32 records, 2^48 records per data key version.
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Aes256Gcm,
            records_per_session: MAX_RECORDS_PER_SESSION,
            records_per_key_version: 1 << 48,
        }
    }
}

impl VaultConfig {
    /// The largest session: 2^32 records (NIST SP 800-38D's bound per key).
    pub const MAX_RECORDS_PER_SESSION: u64 = MAX_RECORDS_PER_SESSION;

    /// Seals with `algorithm` (records of either algorithm always open).
    #[must_use]
    pub const fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Starts a new session (fresh salt, fresh derived key) after `records` records.
    ///
    /// # Errors
    ///
    /// [`LogsError::InvalidConfig`] for 0 or more than 2^32.
    pub const fn with_records_per_session(mut self, records: u64) -> Result<Self, LogsError> {
        if records == 0 || records > MAX_RECORDS_PER_SESSION {
            return Err(LogsError::InvalidConfig {
                reason: "records per session must be between 1 and 2^32",
            });
        }
        self.records_per_session = records;
        Ok(self)
    }

    /// Refuses to seal more than `records` records under one data key version; sealing then
    /// fails with [`LogsError::DataKeyExhausted`] until the customer's key is rotated.
    ///
    /// # Errors
    ///
    /// [`LogsError::InvalidConfig`] for 0.
    pub const fn with_records_per_key_version(mut self, records: u64) -> Result<Self, LogsError> {
        if records == 0 {
            return Err(LogsError::InvalidConfig {
                reason: "records per key version must be at least 1",
            });
        }
        self.records_per_key_version = records;
        Ok(self)
    }

    /// The AEAD new records are sealed with.
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Records per session.
    #[must_use]
    pub const fn records_per_session(&self) -> u64 {
        self.records_per_session
    }

    /// Records per data key version.
    #[must_use]
    pub const fn records_per_key_version(&self) -> u64 {
        self.records_per_key_version
    }
}

/// A derived session kept for opening, with the binding it was derived for. Indexed by the
/// session salt alone (random, so distinct per session); the binding is compared on lookup.
struct OpenSession {
    customer: CustomerId,
    version: KeyVersion,
    algorithm: Algorithm,
    keys: SessionKeys,
}

/// Seals log records and opens them for stewards: the keyring, the roster and the sealing
/// and opening sessions in one place.
///
/// `&mut self` throughout: wrap it in a `Mutex` to share it between threads (sealing is a
/// few hundred nanoseconds, so contention is rarely the bottleneck).
///
/// Keep **one vault per keyring store**. Two vaults over copies of one snapshot each create
/// their own random data key for a new customer (or a new version on rotation) and neither
/// sees the other's shreds: whichever snapshot is saved last wins, and the other's records
/// or shreds are lost. Do not fork a process that holds a vault, and do not resume a sealing
/// process from a memory snapshot more than once: both copies would continue the same
/// sealing session, and with it the same nonces.
pub struct Vault {
    keyring: Keyring,
    roster: StewardRoster,
    config: VaultConfig,
    rng: SystemRandom,
    sealing: HashMap<CustomerId, SealSession>,
    /// Customers in the order their sealing session started, oldest first, so that eviction
    /// ends the oldest session. May hold customers whose session already ended; those are
    /// skipped when evicting and dropped when the queue outgrows the sessions.
    sealing_order: VecDeque<CustomerId>,
    /// Records sealed per (customer, key version) by sessions that ended (spent or evicted),
    /// so the per-version limit survives session turnover.
    sealed_before: HashMap<(CustomerId, KeyVersion), u64>,
    opening: HashMap<[u8; SALT_LEN], OpenSession>,
}

impl Vault {
    /// A vault with the default configuration.
    #[must_use]
    pub fn new(keyring: Keyring, roster: StewardRoster) -> Self {
        Self::with_config(keyring, roster, VaultConfig::default())
    }

    /// A vault with `config`.
    #[must_use]
    pub fn with_config(keyring: Keyring, roster: StewardRoster, config: VaultConfig) -> Self {
        Self {
            keyring,
            roster,
            config,
            rng: SystemRandom::new(),
            sealing: HashMap::new(),
            sealing_order: VecDeque::new(),
            sealed_before: HashMap::new(),
            opening: HashMap::new(),
        }
    }

    /// Seals a request body (`logs.stored`, `logs.encrypted`) under the customer's newest data
    /// key, creating their first data key if they have none (for a customer shredded before,
    /// the first key of a new generation: see [`Keyring::ensure_data_key`]).
    ///
    /// The first record of a session draws a salt and derives the session key; later ones
    /// cost one AEAD pass, with a counter nonce.
    ///
    /// # Errors
    ///
    /// [`LogsError::DataKeyExhausted`] when the key version reached its limit;
    /// [`LogsError::TooLarge`] for a body over [`MAX_BODY_LEN`](crate::MAX_BODY_LEN);
    /// [`LogsError::Random`] if the system RNG fails.
    pub fn seal(&mut self, meta: &RecordMeta, body: &[u8]) -> Result<SealedRecord, LogsError> {
        let limit = self.config.records_per_key_version;
        if let Some(session) = self.sealing.get_mut(&meta.customer())
            && !session.is_spent()
        {
            return session.seal(meta, body, limit);
        }
        let session = self.start_session(meta.customer())?;
        if !self.sealing.contains_key(&meta.customer()) && self.sealing.len() >= SEALING_CAPACITY {
            self.evict_one_session();
        }
        // Sessions that ended (spent, rotated, shredded) leave their customer in the queue;
        // dropping those whenever the queue doubles keeps it proportional to open sessions.
        if self.sealing_order.len() > 2 * self.sealing.len() + SEALING_ORDER_SLACK {
            let sealing = &self.sealing;
            self.sealing_order
                .retain(|customer| sealing.contains_key(customer));
        }
        let session = match self.sealing.entry(meta.customer()) {
            Entry::Occupied(mut slot) => {
                slot.insert(session);
                slot.into_mut()
            }
            Entry::Vacant(slot) => {
                self.sealing_order.push_back(meta.customer());
                slot.insert(session)
            }
        };
        session.seal(meta, body, limit)
    }

    /// Opens a record for a steward (`logs.access`, `logs.purposes`).
    ///
    /// In order: the request is checked (roster, log purpose, justification); the record is
    /// decrypted; an audit entry with the outcome is appended; only then is the plaintext
    /// returned. A refused or failed attempt is audited too. If the audit entry cannot be
    /// written, nothing is returned (fail closed) and the decrypted bytes are zeroized.
    ///
    /// # Errors
    ///
    /// [`LogsError::Denied`] (citing `logs.access` or `logs.purposes`) for a refused request;
    /// [`LogsError::Shredded`], [`LogsError::UnknownKeyVersion`],
    /// [`LogsError::KeyCommitmentMismatch`] or [`LogsError::AuthenticationFailed`] if the
    /// record does not open; [`LogsError::AuditUnavailable`] or
    /// [`LogsError::ClockWentBackwards`] if the audit entry was not written.
    pub fn open<S: AuditStore>(
        &mut self,
        record: &SealedRecord,
        request: &AccessRequest,
        audit: &mut AuditTrail<S>,
    ) -> Result<Plaintext, LogsError> {
        // An entry dated ahead of the clock would make every honest entry after it "go
        // backwards" and be refused: such a request is refused before anything is written.
        let latest_acceptable = Timestamp::now().checked_add(MAX_CLOCK_SKEW)?;
        if request.at() > latest_acceptable {
            return Err(LogsError::RequestFromTheFuture {
                at: request.at(),
                latest_acceptable,
            });
        }
        let header = record.header();
        if let Err(denial) = request.check(&self.roster) {
            audit.append(AuditEntry::new(
                request,
                header,
                AuditOutcome::Denied(denial),
            ))?;
            return Err(LogsError::denied(denial));
        }
        match self.decrypt(record) {
            Ok(plaintext) => {
                audit.append(AuditEntry::new(request, header, AuditOutcome::Opened))?;
                Ok(plaintext)
            }
            Err(error) => {
                let failure = OpenFailure::from_error(&error);
                audit.append(AuditEntry::new(
                    request,
                    header,
                    AuditOutcome::Failed(failure),
                ))?;
                Err(error)
            }
        }
    }

    /// Rotates the customer's data key; the next record sealed for them uses the new version.
    ///
    /// # Errors
    ///
    /// As [`Keyring::rotate_data_key`].
    pub fn rotate_data_key(&mut self, customer: CustomerId) -> Result<KeyVersion, LogsError> {
        let version = self.keyring.rotate_data_key(customer)?;
        self.end_session(customer);
        Ok(version)
    }

    /// Rotates the master key (rewraps every data key; no record is re-encrypted).
    ///
    /// # Errors
    ///
    /// As [`Keyring::rotate_master_key`].
    pub fn rotate_master_key(&mut self, new: MasterKey) -> Result<(), LogsError> {
        self.keyring.rotate_master_key(new)
    }

    /// Crypto-shreds the customer: their data keys, sealing session and cached opening keys
    /// are destroyed, and every later open of a record sealed for them so far fails with
    /// [`LogsError::Shredded`]. Sealing for them again starts a new key generation.
    pub fn shred(&mut self, customer: CustomerId) {
        self.keyring.shred(customer);
        self.sealing.remove(&customer);
        self.sealed_before
            .retain(|(owner, _), _| *owner != customer);
        self.opening
            .retain(|_, session| session.customer != customer);
    }

    /// The keyring, for persisting its [`snapshot`](Keyring::snapshot).
    #[must_use]
    pub const fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The steward roster.
    #[must_use]
    pub const fn roster(&self) -> &StewardRoster {
        &self.roster
    }

    /// The steward roster, to add or remove stewards.
    pub const fn roster_mut(&mut self) -> &mut StewardRoster {
        &mut self.roster
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &VaultConfig {
        &self.config
    }

    fn start_session(&mut self, customer: CustomerId) -> Result<SealSession, LogsError> {
        let version = self.keyring.ensure_data_key(customer)?;
        // The session being replaced (spent, or of an older version) hands on its count.
        self.end_session(customer);
        let sealed = self
            .sealed_before
            .get(&(customer, version))
            .copied()
            .unwrap_or(0);
        if sealed >= self.config.records_per_key_version {
            return Err(LogsError::DataKeyExhausted { version });
        }
        let data_key = self.keyring.data_key(customer, version)?;
        SealSession::start(
            &self.rng,
            &data_key,
            self.config.algorithm,
            customer,
            version,
            self.config.records_per_session,
            sealed,
        )
    }

    /// Ends the customer's sealing session, keeping its per-version count.
    fn end_session(&mut self, customer: CustomerId) {
        if let Some(session) = self.sealing.remove(&customer) {
            self.sealed_before
                .insert((customer, session.version()), session.version_sealed());
        }
    }

    /// Ends the oldest sealing session still open.
    fn evict_one_session(&mut self) {
        while let Some(customer) = self.sealing_order.pop_front() {
            if self.sealing.contains_key(&customer) {
                self.end_session(customer);
                return;
            }
        }
    }

    fn decrypt(&mut self, record: &SealedRecord) -> Result<Plaintext, LogsError> {
        let header = record.header();
        if self
            .keyring
            .is_version_shredded(header.customer, header.key_version)
        {
            return Err(LogsError::Shredded);
        }
        let salt = record.salt();
        if let Some(session) = self.opening.get(&salt)
            && session.customer == header.customer
            && session.version == header.key_version
            && session.algorithm == header.algorithm
        {
            return session.keys.open(record);
        }
        let data_key = self.keyring.data_key(header.customer, header.key_version)?;
        let keys = SessionKeys::derive(
            &data_key,
            &salt,
            header.algorithm,
            header.customer,
            header.key_version,
        )?;
        let plaintext = keys.open(record)?;
        if self.opening.len() >= OPEN_CACHE_CAPACITY {
            self.opening.clear();
        }
        self.opening.insert(
            salt,
            OpenSession {
                customer: header.customer,
                version: header.key_version,
                algorithm: header.algorithm,
                keys,
            },
        );
        Ok(plaintext)
    }
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("keyring", &self.keyring)
            .field("roster", &self.roster)
            .field("config", &self.config)
            .field("sealing_sessions", &self.sealing.len())
            .field("opening_sessions", &self.opening.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use steward_core::{RecordId, Timestamp};

    use super::*;
    use crate::{ConsentAtCollection, RosterCapacity};

    fn customer(n: u128) -> CustomerId {
        CustomerId::new(uuid::Uuid::from_u128(n)).unwrap()
    }

    fn meta(customer: CustomerId) -> RecordMeta {
        let at = Timestamp::from_unix_seconds(1_750_000_000).unwrap();
        RecordMeta::new(
            customer,
            RecordId::generate_at(at),
            at,
            ConsentAtCollection::None,
        )
    }

    #[test]
    fn a_request_dated_ahead_of_the_clock_is_refused_and_not_audited() {
        use crate::{AccessRequest, AuditKey, MemoryAuditStore};
        let master = MasterKey::from_bytes("kek-1".parse().unwrap(), &[1; 32]).unwrap();
        let mut roster = StewardRoster::new(RosterCapacity::new(1).unwrap());
        roster.add("sam".parse().unwrap()).unwrap();
        let mut vault = Vault::new(Keyring::new(master), roster);
        let mut audit = AuditTrail::new(
            AuditKey::from_bytes(&[7; 32]).unwrap(),
            MemoryAuditStore::new(),
        )
        .unwrap();
        let record = vault.seal(&meta(customer(1)), b"body").unwrap();
        let open_at = |at: Timestamp| {
            AccessRequest::with_justification_text(
                "mallory".parse().unwrap(),
                steward_core::Purpose::Troubleshooting,
                "T-1",
                at,
            )
        };
        let far = Timestamp::now().checked_add(TimeDelta::days(1)).unwrap();
        let error = vault.open(&record, &open_at(far), &mut audit).unwrap_err();
        assert!(
            matches!(error, LogsError::RequestFromTheFuture { .. }),
            "{error}"
        );
        assert_eq!(audit.verify().unwrap().entries(), 0);
        // The trail is not poisoned: a request dated now is still audited.
        let now = vault.open(&record, &open_at(Timestamp::now()), &mut audit);
        assert!(matches!(now, Err(LogsError::Denied { .. })));
        assert_eq!(audit.verify().unwrap().entries(), 1);
    }

    #[test]
    fn a_shredded_customer_who_returns_seals_again_and_old_records_stay_shredded() {
        use crate::{AccessRequest, AuditKey, MemoryAuditStore};
        let master = MasterKey::from_bytes("kek-1".parse().unwrap(), &[1; 32]).unwrap();
        let mut roster = StewardRoster::new(RosterCapacity::new(1).unwrap());
        roster.add("sam".parse().unwrap()).unwrap();
        let mut vault = Vault::new(Keyring::new(master), roster);
        let mut audit = AuditTrail::new(
            AuditKey::from_bytes(&[7; 32]).unwrap(),
            MemoryAuditStore::new(),
        )
        .unwrap();
        let request = AccessRequest::with_justification_text(
            "sam".parse().unwrap(),
            steward_core::Purpose::Troubleshooting,
            "T-1",
            Timestamp::now(),
        );
        let returning = customer(1);
        let first = vault.seal(&meta(returning), b"first").unwrap();
        // Rotating ends the v1 session, which leaves its count in `sealed_before`.
        vault.rotate_data_key(returning).unwrap();
        let second = vault.seal(&meta(returning), b"second").unwrap();
        // Warm the opening cache: shredding must empty it of this customer.
        assert_eq!(
            vault
                .open(&second, &request, &mut audit)
                .unwrap()
                .as_bytes(),
            b"second"
        );
        assert!(
            vault
                .sealed_before
                .contains_key(&(returning, KeyVersion::FIRST))
        );
        vault.shred(returning);
        assert!(!vault.sealing.contains_key(&returning));
        assert!(vault.opening.values().all(|s| s.customer != returning));
        assert!(
            vault
                .sealed_before
                .keys()
                .all(|(owner, _)| *owner != returning)
        );
        for old in [&first, &second] {
            let error = vault.open(old, &request, &mut audit).unwrap_err();
            assert!(matches!(error, LogsError::Shredded), "{error}");
        }
        let new = vault.seal(&meta(returning), b"new").unwrap();
        assert_eq!(new.header().key_version.get(), 3);
        assert_eq!(
            vault.open(&new, &request, &mut audit).unwrap().as_bytes(),
            b"new"
        );
        for old in [&first, &second] {
            let error = vault.open(old, &request, &mut audit).unwrap_err();
            assert!(matches!(error, LogsError::Shredded), "{error}");
        }
    }

    #[test]
    fn eviction_queue_stays_proportional_to_open_sessions() {
        let master = MasterKey::from_bytes("kek-1".parse().unwrap(), &[1; 32]).unwrap();
        let config = VaultConfig::default().with_records_per_session(1).unwrap();
        let roster = StewardRoster::new(RosterCapacity::new(1).unwrap());
        let mut vault = Vault::with_config(Keyring::new(master), roster, config);
        let only = customer(1);
        for _ in 0..1_000 {
            vault.seal(&meta(only), b"x").unwrap();
        }
        assert_eq!(vault.sealing.len(), 1);
        assert!(vault.sealing_order.len() <= 2 + SEALING_ORDER_SLACK + 1);
    }

    #[test]
    fn sealing_sessions_are_bounded_and_eviction_keeps_the_version_count() {
        let master = MasterKey::from_bytes("kek-1".parse().unwrap(), &[1; 32]).unwrap();
        let config = VaultConfig::default()
            .with_records_per_key_version(3)
            .unwrap();
        let roster = StewardRoster::new(RosterCapacity::new(1).unwrap());
        let mut vault = Vault::with_config(Keyring::new(master), roster, config);
        let first = customer(1);
        vault.seal(&meta(first), b"1").unwrap();
        vault.seal(&meta(first), b"2").unwrap();
        // The oldest session goes first: new customers arrive until the first one's did.
        let mut next = 2;
        while vault.sealing.contains_key(&first) && next < 10_000 {
            vault.seal(&meta(customer(next)), b"x").unwrap();
            assert!(vault.sealing.len() <= SEALING_CAPACITY);
            next += 1;
        }
        assert!(!vault.sealing.contains_key(&first), "never evicted");
        assert_eq!(
            next,
            2 + SEALING_CAPACITY as u128,
            "the oldest session was not the first to go"
        );
        vault.seal(&meta(first), b"3").unwrap();
        assert!(matches!(
            vault.seal(&meta(first), b"4"),
            Err(LogsError::DataKeyExhausted { .. })
        ));
    }
}
