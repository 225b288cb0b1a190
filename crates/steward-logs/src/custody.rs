//! Custody of log records: sealing, and the one place where plaintext comes out.

use std::{
    collections::{HashMap, VecDeque, hash_map::Entry},
    fmt,
    hash::{Hash, Hasher},
    sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard},
};

use ring::rand::SystemRandom;
use steward_core::{AdminId, CustomerId, Timestamp};
use zeroize::Zeroize;

use crate::{
    Algorithm, ConfigError, KeyAdmission, KeyError, KeyStore, KeyVersion, Keyring, KeyringSnapshot,
    LogsError, MasterKey, NoKeyStore, OpenError, RecordHeader, SealInput, SealedRecord, Tombstone,
    access::{AccessRequest, Denial},
    audit::{
        AccessEvent, AuditEvent, AuditOutcome, AuditStore, AuditTrail, ChainedEntry, OpenFailure,
        RosterChange,
    },
    record::SALT_LEN,
    session::{MAX_RECORDS_PER_SESSION, SealSession, SessionKeys},
};

/// Sealing sessions kept at once (about 0.8 KiB each, so about 50 MiB at most). A customer
/// whose session is evicted simply starts a new one (fresh salt) on their next record.
/// Unit tests use a capacity of 4 to exercise eviction.
const SEALING_CAPACITY: usize = if cfg!(test) { 4 } else { 65_536 };

/// Entries of the eviction queue allowed beyond twice the open sessions before it is compacted.
const SEALING_ORDER_SLACK: usize = 64;

/// Attempts at issuing a data key to a shared key store that keeps answering that another
/// node changed the customer's keys first; each answer is adopted, so more than a couple of
/// attempts means the store is not converging.
const KEY_ISSUE_ATTEMPTS: usize = 4;

/// Opened sessions kept for later opens; on overflow the cache is emptied and refills from
/// use. Only sessions that opened a record get in, so forged salts cannot fill it.
const OPEN_CACHE_CAPACITY: usize = 4096;

/// The decrypted body of a record, with the header it authenticated. Zeroized on drop;
/// `Debug` shows only its length.
pub struct Plaintext {
    bytes: Vec<u8>,
    header: RecordHeader,
}

impl Plaintext {
    pub(crate) fn with_capacity(capacity: usize, header: RecordHeader) -> Self {
        Self {
            bytes: Vec::with_capacity(capacity),
            header,
        }
    }

    /// The record's header, authenticated by the decryption that produced this body: unlike
    /// [`SealedRecord::header`], its fields (the consent level at collection above all) are
    /// known to be the ones sealed.
    #[must_use]
    pub const fn header(&self) -> &RecordHeader {
        &self.header
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
    /// [`ConfigError::InvalidConfig`] for 0 or more than 2^32.
    pub const fn with_records_per_session(mut self, records: u64) -> Result<Self, LogsError> {
        if records == 0 || records > MAX_RECORDS_PER_SESSION {
            return Err(LogsError::Config(ConfigError::InvalidConfig {
                reason: "records per session must be between 1 and 2^32",
            }));
        }
        self.records_per_session = records;
        Ok(self)
    }

    /// Refuses to seal more than `records` records under one data key version; sealing then
    /// fails with [`KeyError::DataKeyExhausted`] until the customer's key is rotated.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidConfig`] for 0.
    pub const fn with_records_per_key_version(mut self, records: u64) -> Result<Self, LogsError> {
        if records == 0 {
            return Err(LogsError::Config(ConfigError::InvalidConfig {
                reason: "records per key version must be at least 1",
            }));
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

/// Shards of the sealing state: a customer's sessions always live in one shard, so seals of
/// different customers rarely wait for each other, and a shred or rotation of a customer
/// locks only that customer's shard. Unit tests use one shard to exercise eviction.
const SHARDS: usize = if cfg!(test) { 1 } else { 16 };

/// The sealing state of the customers of one shard.
#[derive(Default)]
struct SealingShard {
    sessions: HashMap<CustomerId, SealSession>,
    /// Customers in the order their sealing session started, oldest first, so that eviction
    /// ends the oldest session. May hold customers whose session already ended; those are
    /// skipped when evicting and dropped when the queue outgrows the sessions.
    order: VecDeque<CustomerId>,
    /// Records sealed per (customer, key version) by sessions that ended (spent or evicted),
    /// so the per-version limit survives session turnover.
    sealed_before: HashMap<(CustomerId, KeyVersion), u64>,
}

impl SealingShard {
    /// Ends the customer's sealing session, keeping its per-version count.
    fn end_session(&mut self, customer: CustomerId) {
        if let Some(session) = self.sessions.remove(&customer) {
            self.sealed_before
                .insert((customer, session.version()), session.version_sealed());
        }
    }

    /// Ends the oldest sealing session still open.
    fn evict_one_session(&mut self) {
        while let Some(customer) = self.order.pop_front() {
            if self.sessions.contains_key(&customer) {
                self.end_session(customer);
                return;
            }
        }
    }

    /// Forgets everything sealed for the customer (a shred).
    fn forget(&mut self, customer: CustomerId) {
        self.sessions.remove(&customer);
        self.sealed_before
            .retain(|(owner, _), _| *owner != customer);
    }
}

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
/// let master = MasterKey::from_bytes("kek-2025-03".parse()?, &[0x42; 32])?;
/// let trail = AuditTrail::new(AuditKey::from_bytes(&[0x17; 32])?, MemoryAuditStore::new())?;
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
    config: VaultConfig,
    rng: SystemRandom,
}

/// What a gate decides on: the request, the record's header as it claims itself (it is
/// authenticated only by the decryption that follows an allow), and the instant the trail
/// will date the attempt.
#[derive(Debug, Clone, Copy)]
pub struct OpenQuery<'a> {
    request: &'a AccessRequest,
    header: &'a RecordHeader,
    now: Timestamp,
}

impl<'a> OpenQuery<'a> {
    /// The steward's request.
    #[must_use]
    pub const fn request(&self) -> &'a AccessRequest {
        self.request
    }

    /// The record's header, unauthenticated until the record opens: decide on it, and a
    /// forged header still cannot yield plaintext, since it fails to authenticate.
    #[must_use]
    pub const fn header(&self) -> &'a RecordHeader {
        self.header
    }

    /// The instant of the attempt, from the trail's clock.
    #[must_use]
    pub const fn now(&self) -> Timestamp {
        self.now
    }
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
        Self::with_config(keyring, trail, VaultConfig::default())
    }

    /// Custody with `config`, keeping keys in this process only.
    #[must_use]
    pub fn with_config(keyring: Keyring, trail: AuditTrail<S>, config: VaultConfig) -> Self {
        Self {
            trail: Mutex::new(trail),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            keyring: RwLock::new(keyring),
            opening: Mutex::new(HashMap::new()),
            key_store: Arc::new(NoKeyStore),
            config,
            rng: SystemRandom::new(),
        }
    }

    /// The same custody, writing every key change ahead to `store` (see the type's docs).
    /// Pass the keyring the store restored from its rows.
    #[must_use]
    pub fn with_key_store(mut self, store: Arc<dyn KeyStore>) -> Self {
        self.key_store = store;
        self
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
    /// [`KeyError::DataKeyExhausted`] when the key version reached its limit;
    /// [`RecordError::TooLarge`](crate::RecordError::TooLarge) for a body over
    /// [`MAX_BODY_LEN`](crate::MAX_BODY_LEN); [`KeyError::Random`] if the system RNG fails;
    /// [`KeyError::StoreUnavailable`] if a new data key could not be made durable.
    pub fn seal(&self, meta: &SealInput, body: &[u8]) -> Result<SealedRecord, LogsError> {
        let customer = meta.customer();
        let limit = self.config.records_per_key_version;
        let mut shard = self.shard(customer).lock().map_err(poisoned)?;
        if let Some(session) = shard.sessions.get_mut(&customer)
            && !session.is_spent()
        {
            return session.seal(meta, body, limit);
        }
        let session = self.start_session(&mut shard, customer)?;
        let capacity = (SEALING_CAPACITY / SHARDS).max(1);
        if !shard.sessions.contains_key(&customer) && shard.sessions.len() >= capacity {
            shard.evict_one_session();
        }
        // Sessions that ended (spent, rotated, shredded) leave their customer in the queue;
        // dropping those whenever the queue doubles keeps it proportional to open sessions.
        if shard.order.len() > 2 * shard.sessions.len() + SEALING_ORDER_SLACK {
            let SealingShard {
                sessions, order, ..
            } = &mut *shard;
            order.retain(|customer| sessions.contains_key(customer));
        }
        let SealingShard {
            sessions, order, ..
        } = &mut *shard;
        let session = match sessions.entry(customer) {
            Entry::Occupied(mut slot) => {
                slot.insert(session);
                slot.into_mut()
            }
            Entry::Vacant(slot) => {
                order.push_back(customer);
                slot.insert(session)
            }
        };
        session.seal(meta, body, limit)
    }

    /// Opens a record for a steward if `gate` allows it (`logs.access`, `logs.purposes`).
    ///
    /// **Hazard: `gate` decides alone.** The roster, the purpose table, the justification,
    /// retention and legal holds apply only if the gate checks them; a gate that returns
    /// `Ok(())` opens anything this custody holds keys for (the audit entry is still
    /// written). Services open through `steward::Vault::open`, whose gate is the policy's
    /// `check()` over the facts; this is the building block beneath it, for that vault and
    /// for tests.
    ///
    /// In order: the trail fixes the instant; `gate` decides on the request, the record's
    /// (claimed) header and that instant; a refusal is audited and returned; an allowed
    /// record is decrypted, which authenticates its header; the outcome is audited; only then
    /// is the plaintext returned. If the audit entry cannot be written, nothing is returned
    /// (fail closed) and the decrypted bytes are zeroized. Opens serialize on the trail.
    ///
    /// # Errors
    ///
    /// [`LogsError::Open`] with [`OpenError::Denied`] and the gate's [`Denial`], or why the
    /// record did not open (shredded, unknown key version, altered);
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) if the audit entry was not
    /// written.
    pub fn dangerous_open_with_gate<G>(
        &self,
        record: &SealedRecord,
        request: &AccessRequest,
        gate: G,
    ) -> Result<Plaintext, LogsError>
    where
        G: FnOnce(&OpenQuery<'_>) -> Result<(), Denial>,
    {
        let header = record.header();
        let mut trail = self.trail.lock().map_err(poisoned)?;
        let now = trail.next_instant()?;
        let query = OpenQuery {
            request,
            header,
            now,
        };
        let access = |outcome| {
            AuditEvent::Access(AccessEvent::new(
                request.steward(),
                request.purpose(),
                request.justification(),
                header,
                outcome,
            ))
        };
        // With a shared key store, a shred or key made by another node is adopted before the
        // record is decided and decrypted (the trail, and with it a shared store's append
        // lock, is held meanwhile). An attempt whose keys could not be read is audited as
        // failed, as any other.
        if let Err(error) = self.refresh_customer(header.customer) {
            let failure = OpenFailure::from_error(&error);
            trail.append_at(now, access(AuditOutcome::Failed(failure)))?;
            return Err(error);
        }
        if let Err(denial) = gate(&query) {
            trail.append_at(now, access(AuditOutcome::Denied(denial)))?;
            return Err(LogsError::denied(denial));
        }
        match self.decrypt(record) {
            Ok(plaintext) => {
                trail.append_at(now, access(AuditOutcome::Opened))?;
                Ok(plaintext)
            }
            Err(error) => {
                let failure = OpenFailure::from_error(&error);
                trail.append_at(now, access(AuditOutcome::Failed(failure)))?;
                Err(error)
            }
        }
    }

    /// Rotates the customer's data key; the next record sealed for them uses the new version.
    /// The new key is made durable first; the rotation is audited.
    ///
    /// # Errors
    ///
    /// As [`Keyring::rotate_data_key`]; [`KeyError::StoreUnavailable`] if the new key could
    /// not be made durable (nothing changed);
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) if the entry could not be
    /// written (the rotation has then taken effect: it exposes nothing, and the next one is
    /// audited).
    pub fn rotate_data_key(&self, customer: CustomerId) -> Result<KeyVersion, LogsError> {
        let version = {
            let mut shard = self.shard(customer).lock().map_err(poisoned)?;
            // On a shared store, the next version is the one after the newest stored, which
            // another node may have issued.
            self.refresh_in_shard(&mut shard, customer)?;
            let version = self.issue_next_key(customer)?;
            shard.end_session(customer);
            version
        };
        self.audit_event(AuditEvent::DataKeyRotated { customer, version })?;
        Ok(version)
    }

    /// Rotates the master key (rewraps every data key; no record is re-encrypted): the
    /// rewraps are made durable, then the keyring switches. The rotation is audited.
    ///
    /// # Errors
    ///
    /// As [`Keyring::rotate_master_key`]; [`KeyError::StoreUnavailable`] if the rewraps
    /// could not be made durable (the old master key stays in use);
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) as for
    /// [`rotate_data_key`](Self::rotate_data_key).
    pub fn rotate_master_key(&self, new: MasterKey) -> Result<(), LogsError> {
        let to = new.id().clone();
        {
            let mut keyring = self.keyring.write().map_err(poisoned)?;
            let prepared = keyring.prepare_master_rotation(new)?;
            let rewrapped: Vec<_> = prepared.rewrapped().cloned().collect();
            self.key_store
                .rewrap(&rewrapped)
                .map_err(|source| LogsError::Key(KeyError::StoreUnavailable { source }))?;
            keyring.commit_master_rotation(prepared);
        }
        self.audit_event(AuditEvent::MasterKeyRotated { to })?;
        Ok(())
    }

    /// Crypto-shreds the customer: audited first
    /// ([`AuditEvent::CustomerShreddedThrough`], naming the newest version destroyed), then
    /// the shred is made durable, then their data keys, sealing session and cached opening
    /// keys are destroyed in memory, and every later open of a record sealed before now fails
    /// with [`OpenError::Shredded`]. A customer who returns gets a fresh key generation on
    /// their next record (see docs/retention.md).
    ///
    /// # Errors
    ///
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) if the entry could not be
    /// written (nothing was shredded then); [`KeyError::StoreUnavailable`] if the key store
    /// could not be read, or the shred not made durable after its entry: the keys are then
    /// still stored and held here, and the next custody opened on the store completes the
    /// shred ([`complete_pending_shreds`](Self::complete_pending_shreds)); a later shred
    /// repeats it sooner.
    pub fn shred(&self, customer: CustomerId) -> Result<(), LogsError> {
        // The trail is held from the entry to the end of the shred: no open can be decided
        // and audited between the shred's entry and the keys' destruction.
        let mut trail = self.trail.lock().map_err(poisoned)?;
        let mut shard = self.shard(customer).lock().map_err(poisoned)?;
        // On a shared store, the tombstone covers the newest stored version, which another
        // node may have issued.
        self.refresh_in_shard(&mut shard, customer)?;
        // The shard is held: no key of this customer is issued or adopted until the end.
        let tombstone = self
            .keyring
            .read()
            .map_err(poisoned)?
            .tombstone_for_shred(customer);
        trail.append(AuditEvent::CustomerShreddedThrough {
            customer,
            through: tombstone.through(),
        })?;
        self.destroy_keys(&mut shard, customer, tombstone)
    }

    /// Completes every shred that `entries` record but the key store does not: a shred entry
    /// whose customer has no tombstone, or one below the versions the entry names, because
    /// the process died (or the key store failed) between the entry and the deletion. Each
    /// completion is audited first ([`AuditEvent::ShredCompletedAtStartUp`]), then done as
    /// [`shred`](Self::shred) does. Returns the customers whose shred was completed, in the
    /// order of their entries.
    ///
    /// Call it once the trail's entries are verified and before the custody serves anything
    /// (steward-store's `open_vault` does): until then the records of such a customer would
    /// still open although the trail says they are shredded. `entries` are the trail's
    /// entries as read for that verification, oldest first; each shred entry among them is
    /// checked under the trail's key again, so only entries this key chained can shred.
    ///
    /// # Errors
    ///
    /// [`AuditError::ChainBroken`](crate::AuditError::ChainBroken) for a shred entry whose
    /// hash does not verify; otherwise as [`shred`](Self::shred). The custody must not serve
    /// then: open it again once the store is reachable.
    pub fn complete_pending_shreds(
        &self,
        entries: &[ChainedEntry],
    ) -> Result<Vec<CustomerId>, LogsError> {
        let mut trail = self.trail.lock().map_err(poisoned)?;
        // The tombstone each shredded customer's newest shred entry asks for.
        let mut requested: Vec<(CustomerId, Tombstone)> = Vec::new();
        for chained in entries {
            let Some((customer, tombstone)) = chained.entry().event().shred_request() else {
                continue;
            };
            trail.verify_entry(chained)?;
            match requested.iter_mut().find(|(owner, _)| *owner == customer) {
                Some((_, asked)) => *asked = (*asked).max(tombstone),
                None => requested.push((customer, tombstone)),
            }
        }
        let mut completed = Vec::new();
        for (customer, asked) in requested {
            let mut shard = self.shard(customer).lock().map_err(poisoned)?;
            self.refresh_in_shard(&mut shard, customer)?;
            let stored = self
                .keyring
                .read()
                .map_err(poisoned)?
                .shredded_through(customer);
            if stored.is_some_and(|stored| stored >= asked) {
                continue;
            }
            trail.append(AuditEvent::ShredCompletedAtStartUp {
                customer,
                through: asked.through(),
            })?;
            self.destroy_keys(&mut shard, customer, asked)?;
            completed.push(customer);
        }
        Ok(completed)
    }

    /// Adopts the key store's current view of the customer's keys, for a custody on a store
    /// shared with other nodes ([`KeyStore::customer_keys`]): a shred made elsewhere ends this
    /// node's sealing session and cached opening keys, and a newer key version made elsewhere
    /// seals from the next record on. Sealing sessions and opens call this themselves; call it
    /// when the store refused a record sealed under a key another node shredded, then seal
    /// again. A no-op for a store with one custody.
    ///
    /// # Errors
    ///
    /// [`KeyError::StoreUnavailable`] if the store could not be read;
    /// [`KeyError::UnknownMasterKey`] if the stored keys are wrapped under a master key this
    /// custody does not hold.
    pub fn refresh_customer(&self, customer: CustomerId) -> Result<(), LogsError> {
        if !self.key_store.is_shared() {
            return Ok(());
        }
        let mut shard = self.shard(customer).lock().map_err(poisoned)?;
        self.refresh_in_shard(&mut shard, customer)
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
    pub const fn config(&self) -> &VaultConfig {
        &self.config
    }

    fn shard(&self, customer: CustomerId) -> &Mutex<SealingShard> {
        let mut hasher = steward_core::IdHasher::default();
        customer.hash(&mut hasher);
        let shards = self.shards.len().max(1);
        // The remainder is below the shard count, a usize: the conversion cannot fail.
        let index = usize::try_from(hasher.finish() % shards as u64).unwrap_or_default();
        // INVARIANT: index < shards.len().
        #[expect(
            clippy::indexing_slicing,
            reason = "the index is reduced modulo the length"
        )]
        &self.shards[index]
    }

    /// Destroys the customer's data keys, durably first (a tombstone at least `tombstone`),
    /// then in memory: keyring, sealing session and cached opening keys. The caller holds the
    /// trail (with the shred's entry written) and the customer's shard.
    fn destroy_keys(
        &self,
        shard: &mut SealingShard,
        customer: CustomerId,
        tombstone: Tombstone,
    ) -> Result<(), LogsError> {
        let mut keyring = self.keyring.write().map_err(poisoned)?;
        let tombstone = keyring.tombstone_for_shred(customer).max(tombstone);
        self.key_store
            .shred(customer, tombstone)
            .map_err(|source| LogsError::Key(KeyError::StoreUnavailable { source }))?;
        keyring.shred(customer);
        shard.forget(customer);
        // Purged while the keyring is held: a decryption that read the key before the shred
        // re-checks the keyring before caching its session or returning plaintext.
        self.opening
            .lock()
            .map_err(poisoned)?
            .retain(|_, session| session.customer != customer);
        Ok(())
    }

    fn audit_event(&self, event: AuditEvent) -> Result<(), LogsError> {
        self.trail.lock().map_err(poisoned)?.append(event)?;
        Ok(())
    }

    /// Issues the customer's next data key, durable before it is used. On a shared store
    /// another node may have issued this version first (or shredded the customer): its keys
    /// are adopted, and the stored key is used if it is at least the version asked for.
    fn issue_next_key(&self, customer: CustomerId) -> Result<KeyVersion, LogsError> {
        let mut keyring = self.keyring.write().map_err(poisoned)?;
        for _ in 0..KEY_ISSUE_ATTEMPTS {
            let wrapped = keyring.prepare_next_version(customer)?;
            match self
                .key_store
                .put_data_key(&wrapped)
                .map_err(|source| LogsError::Key(KeyError::StoreUnavailable { source }))?
            {
                KeyAdmission::Stored => return Ok(keyring.insert_prepared(wrapped)),
                KeyAdmission::Superseded(stored) => {
                    self.adopt(&mut keyring, customer, &stored)?;
                    if let Some(version) = keyring.current_version(customer)
                        && version >= wrapped.version()
                    {
                        return Ok(version);
                    }
                }
            }
        }
        Err(LogsError::Key(KeyError::StoreUnavailable {
            source: "the shared key store kept superseding new data keys".into(),
        }))
    }

    /// Adopts the key store's view of the customer, ending their sealing session if it no
    /// longer seals under their newest live key.
    fn refresh_in_shard(
        &self,
        shard: &mut SealingShard,
        customer: CustomerId,
    ) -> Result<(), LogsError> {
        if !self.key_store.is_shared() {
            return Ok(());
        }
        let Some(stored) = self
            .key_store
            .customer_keys(customer)
            .map_err(|source| LogsError::Key(KeyError::StoreUnavailable { source }))?
        else {
            return Ok(());
        };
        let mut keyring = self.keyring.write().map_err(poisoned)?;
        self.adopt(&mut keyring, customer, &stored)?;
        let current = keyring.current_version(customer);
        if shard
            .sessions
            .get(&customer)
            .is_some_and(|session| Some(session.version()) != current)
        {
            shard.end_session(customer);
        }
        Ok(())
    }

    /// Adopts a shared store's view of the customer; if it shredded keys held here, their
    /// cached opening sessions go too (under the keyring, as a local shred does).
    fn adopt(
        &self,
        keyring: &mut Keyring,
        customer: CustomerId,
        stored: &KeyringSnapshot,
    ) -> Result<(), LogsError> {
        if keyring.adopt(customer, stored)? {
            self.opening
                .lock()
                .map_err(poisoned)?
                .retain(|_, session| session.customer != customer);
        }
        Ok(())
    }

    fn start_session(
        &self,
        shard: &mut SealingShard,
        customer: CustomerId,
    ) -> Result<SealSession, LogsError> {
        self.refresh_in_shard(shard, customer)?;
        let current = self
            .keyring
            .read()
            .map_err(poisoned)?
            .current_version(customer);
        let version = match current {
            Some(version) => version,
            // The shard is held: no other thread issues this customer's key meanwhile.
            None => self.issue_next_key(customer)?,
        };
        // The session being replaced (spent, or of an older version) hands on its count.
        shard.end_session(customer);
        let sealed = shard
            .sealed_before
            .get(&(customer, version))
            .copied()
            .unwrap_or(0);
        if sealed >= self.config.records_per_key_version {
            return Err(LogsError::Key(KeyError::DataKeyExhausted { version }));
        }
        let data_key = self
            .keyring
            .read()
            .map_err(poisoned)?
            .data_key(customer, version)?;
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

    pub(crate) fn decrypt(&self, record: &SealedRecord) -> Result<Plaintext, LogsError> {
        let header = record.header();
        let salt = record.salt();
        let cached = self.opening.lock().map_err(poisoned)?.get(&salt).cloned();
        if let Some(session) = cached
            && session.customer == header.customer
            && session.version == header.key_version
            && session.algorithm == header.algorithm
        {
            // A shred empties the cache of the customer, but this thread may have taken the
            // session just before: the keyring has the last word, and is held while the
            // record opens, so a shred either precedes this check or waits for the open.
            let keyring = self.keyring.read().map_err(poisoned)?;
            if keyring.is_version_shredded(header.customer, header.key_version) {
                return Err(LogsError::Open(OpenError::Shredded));
            }
            return session.keys.open(record);
        }
        let data_key = {
            let keyring = self.keyring.read().map_err(poisoned)?;
            if keyring.is_version_shredded(header.customer, header.key_version) {
                return Err(LogsError::Open(OpenError::Shredded));
            }
            keyring.data_key(header.customer, header.key_version)?
        };
        let keys = SessionKeys::derive(
            &data_key,
            &salt,
            header.algorithm,
            header.customer,
            header.key_version,
        )?;
        let plaintext = keys.open(record)?;
        // A shred may have run since the key was read (an export holds no trail): the
        // keyring decides again, held while the session is cached, so a shred (which purges
        // the cache under the keyring) cannot interleave.
        let keyring = self.keyring.read().map_err(poisoned)?;
        if keyring.is_version_shredded(header.customer, header.key_version) {
            return Err(LogsError::Open(OpenError::Shredded));
        }
        let mut opening = self.opening.lock().map_err(poisoned)?;
        if opening.len() >= OPEN_CACHE_CAPACITY {
            opening.clear();
        }
        opening.insert(
            salt,
            Arc::new(OpenSession {
                customer: header.customer,
                version: header.key_version,
                algorithm: header.algorithm,
                keys,
            }),
        );
        Ok(plaintext)
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
    use steward_core::{ManualClock, RecordId, Timestamp, TrainingLevel};

    use super::*;
    use crate::{AuditKey, MemoryAuditStore};

    fn customer(n: u128) -> CustomerId {
        CustomerId::new(uuid::Uuid::from_u128(n)).unwrap()
    }

    fn meta(customer: CustomerId) -> SealInput {
        let at = Timestamp::from_unix_seconds(1_750_000_000).unwrap();
        SealInput::new(RecordId::generate_at(at), customer, at, TrainingLevel::None)
    }

    fn custody_with(config: VaultConfig, clock: ManualClock) -> Custody<MemoryAuditStore> {
        let master = MasterKey::from_bytes("kek-1".parse().unwrap(), &[1; 32]).unwrap();
        let trail = AuditTrail::with_clock(
            AuditKey::from_bytes(&[7; 32]).unwrap(),
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
        let custody = custody_with(VaultConfig::default(), clock.clone());
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
        let custody = custody_with(VaultConfig::default(), clock);
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
        let custody = custody_with(VaultConfig::default(), clock);
        let owner = customer(1);
        custody.seal(&meta(owner), b"body").unwrap();
        let version = custody.rotate_data_key(owner).unwrap();
        custody
            .rotate_master_key(MasterKey::from_bytes("kek-2".parse().unwrap(), &[2; 32]).unwrap())
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
        let vault = custody_with(VaultConfig::default(), clock);
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
        let config = VaultConfig::default().with_records_per_session(1).unwrap();
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
        let config = VaultConfig::default()
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
