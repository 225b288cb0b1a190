//! The key hierarchy: master keys wrap one random data key per customer and key version.
//!
//! `logs.encrypted`: data keys exist outside memory only wrapped under a master key, with the
//! master key id, customer and version bound into the wrap's AAD, so a wrapped key cannot be
//! moved to another customer or version unseen. Crypto-shredding a customer forgets every
//! version of their data key, which makes every copy of the records sealed so far unreadable,
//! and leaves a [`Tombstone`]: a returning customer's new data keys are numbered above it, so
//! the destroyed versions stay destroyed.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt,
    num::NonZeroU32,
    path::Path,
    str::FromStr,
};

use ring::{
    aead,
    rand::{SecureRandom, SystemRandom},
};
use serde::{Deserialize, Serialize};
use steward_core::CustomerId;
use zeroize::Zeroizing;

use crate::{LogsError, hex};

/// Length of master keys and data keys, in bytes (256 bits).
pub const KEY_LEN: usize = 32;
const WRAP_NONCE_LEN: usize = 12;
const WRAPPED_LEN: usize = KEY_LEN + 16;
const WRAP_LABEL: &[u8] = b"steward-logs/v1/wrap\0";

/// The version of a customer's data key: 1 for the first key, one more per rotation.
///
/// The newest version seals; older versions only open.
///
/// ```
/// use steward_logs::KeyVersion;
///
/// let first = KeyVersion::FIRST;
/// assert_eq!(first.next()?.get(), 2);
/// assert!(KeyVersion::new(0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyVersion(NonZeroU32);

impl KeyVersion {
    /// The first version of every customer's data key.
    pub const FIRST: Self = Self(NonZeroU32::MIN);

    /// The version numbered `version`.
    ///
    /// # Errors
    ///
    /// [`LogsError::InvalidKey`] for 0: versions start at 1.
    pub fn new(version: u32) -> Result<Self, LogsError> {
        NonZeroU32::new(version)
            .map(Self)
            .ok_or_else(|| LogsError::InvalidKey {
                reason: "key version 0 does not exist, versions start at 1",
            })
    }

    /// The version number.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// The version after this one.
    ///
    /// # Errors
    ///
    /// [`LogsError::KeyVersionOverflow`] after `u32::MAX`.
    pub fn next(self) -> Result<Self, LogsError> {
        self.0
            .checked_add(1)
            .map(Self)
            .ok_or_else(|| LogsError::KeyVersionOverflow)
    }

    pub(crate) const fn to_be_bytes(self) -> [u8; 4] {
        self.0.get().to_be_bytes()
    }
}

impl fmt::Debug for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyVersion({})", self.0)
    }
}

impl fmt::Display for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// The id of a master key, bound into every data key it wraps.
///
/// 1 to 64 ASCII letters, digits, `.`, `-`, `_` or `:` (for example `kek-2025-03` or a KMS
/// key alias).
///
/// ```
/// use steward_logs::MasterKeyId;
///
/// let id: MasterKeyId = "kek-2025-03".parse()?;
/// assert_eq!(id.as_str(), "kek-2025-03");
/// assert!("".parse::<MasterKeyId>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MasterKeyId(Box<str>);

impl MasterKeyId {
    /// Longest accepted id, in bytes.
    pub const MAX_LEN: usize = 64;

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MasterKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKeyId({})", self.0)
    }
}

impl fmt::Display for MasterKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for MasterKeyId {
    type Err = LogsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| LogsError::InvalidKeyId {
            id: text.chars().take(64).collect(),
            reason,
        };
        if text.is_empty() {
            return Err(invalid("empty"));
        }
        if text.len() > Self::MAX_LEN {
            return Err(invalid("longer than 64 characters"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
        if !text.chars().all(allowed) {
            return Err(invalid(
                "only ASCII letters, digits, `.`, `-`, `_` and `:` are allowed",
            ));
        }
        Ok(Self(text.into()))
    }
}

steward_core::serde_via_string!(MasterKeyId);

/// A master key (key-encryption key): AES-256-GCM, used only to wrap and unwrap data keys.
///
/// Loaded from bytes, hex text, an environment variable or a file; never generated here,
/// because a master key that exists only in this process could not be loaded again. Not
/// `Clone`; `Debug` shows only the id and algorithm. The raw bytes are zeroized as soon as
/// ring's key schedule is built; ring's expanded key schedule cannot be zeroized (see
/// docs/record-format.md).
pub struct MasterKey {
    id: MasterKeyId,
    key: aead::LessSafeKey,
}

impl MasterKey {
    /// A master key from its 32 raw bytes.
    ///
    /// # Errors
    ///
    /// [`LogsError::InvalidKey`] unless `bytes` is exactly 32 bytes long.
    pub fn from_bytes(id: MasterKeyId, bytes: &[u8]) -> Result<Self, LogsError> {
        if bytes.len() != KEY_LEN {
            return Err(LogsError::InvalidKey {
                reason: "a master key is exactly 32 bytes",
            });
        }
        let key = aead::UnboundKey::new(&aead::AES_256_GCM, bytes).map_err(|_| {
            LogsError::InvalidKey {
                reason: "a master key is exactly 32 bytes",
            }
        })?;
        Ok(Self {
            id,
            key: aead::LessSafeKey::new(key),
        })
    }

    /// A master key from 64 hex digits (surrounding whitespace ignored).
    ///
    /// # Errors
    ///
    /// [`LogsError::InvalidHex`] unless the text is 64 hex digits.
    pub fn from_hex(id: MasterKeyId, text: &str) -> Result<Self, LogsError> {
        let bytes = Zeroizing::new(hex::decode::<KEY_LEN>(text.trim(), "master key")?);
        Self::from_bytes(id, bytes.as_slice())
    }

    /// A master key from an environment variable holding 64 hex digits.
    ///
    /// # Errors
    ///
    /// [`LogsError::MissingEnv`] if the variable is unset; [`LogsError::InvalidHex`] if its
    /// value is not 64 hex digits.
    pub fn from_env(id: MasterKeyId, variable: &str) -> Result<Self, LogsError> {
        let text = Zeroizing::new(std::env::var(variable).map_err(|_| LogsError::MissingEnv {
            name: variable.chars().take(64).collect(),
        })?);
        Self::from_hex(id, &text)
    }

    /// A master key from a file holding either the 32 raw bytes or 64 hex digits.
    ///
    /// # Errors
    ///
    /// [`LogsError::KeyFile`] if the file cannot be read; [`LogsError::InvalidKey`] or
    /// [`LogsError::InvalidHex`] if it holds neither form.
    pub fn from_file(id: MasterKeyId, path: impl AsRef<Path>) -> Result<Self, LogsError> {
        let path = path.as_ref();
        let contents =
            Zeroizing::new(std::fs::read(path).map_err(|source| LogsError::KeyFile {
                path: path.display().to_string(),
                source,
            })?);
        if contents.len() == KEY_LEN {
            return Self::from_bytes(id, &contents);
        }
        let text = std::str::from_utf8(&contents).map_err(|_| LogsError::InvalidKey {
            reason: "a key file holds 32 raw bytes or 64 hex digits",
        })?;
        Self::from_hex(id, text)
    }

    /// The id of this master key.
    #[must_use]
    pub const fn id(&self) -> &MasterKeyId {
        &self.id
    }

    fn wrap(
        &self,
        rng: &SystemRandom,
        customer: CustomerId,
        version: KeyVersion,
        data_key: &DataKey,
    ) -> Result<WrappedDataKey, LogsError> {
        // A random nonce is safe here: wraps are rare (one per data key and master rotation),
        // far below the 2^32 random-nonce limit of NIST SP 800-38D.
        let mut nonce = [0u8; WRAP_NONCE_LEN];
        rng.fill(&mut nonce).map_err(|_| LogsError::Random)?;
        let mut ciphertext = [0u8; WRAPPED_LEN];
        let (body, tag_slot) = ciphertext.split_at_mut(KEY_LEN);
        body.copy_from_slice(data_key.as_bytes());
        let aad = wrap_aad(&self.id, customer, version);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(&aad),
                body,
            )
            .map_err(|_| LogsError::Overflow {
                what: "wrapping a data key",
            })?;
        tag_slot.copy_from_slice(tag.as_ref());
        Ok(WrappedDataKey {
            master_key: self.id.clone(),
            customer,
            version,
            nonce,
            ciphertext,
        })
    }

    fn unwrap(&self, wrapped: &WrappedDataKey) -> Result<DataKey, LogsError> {
        let failed = || LogsError::UnwrapFailed {
            version: wrapped.version,
        };
        let aad = wrap_aad(&self.id, wrapped.customer, wrapped.version);
        let mut buffer = Zeroizing::new(wrapped.ciphertext);
        let plain = self
            .key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(wrapped.nonce),
                aead::Aad::from(&aad),
                buffer.as_mut_slice(),
            )
            .map_err(|_| failed())?;
        // Copy straight into the zeroizing buffer: no unwiped copy of the key on the stack.
        let mut bytes = Zeroizing::new([0_u8; KEY_LEN]);
        if plain.len() != KEY_LEN {
            return Err(failed());
        }
        bytes.copy_from_slice(plain);
        Ok(DataKey(bytes))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .field("algorithm", &"AES-256-GCM")
            .finish_non_exhaustive()
    }
}

/// `master key id length || master key id || customer || version`, after a domain label.
fn wrap_aad(id: &MasterKeyId, customer: CustomerId, version: KeyVersion) -> Vec<u8> {
    let id = id.as_str().as_bytes();
    let mut aad = Vec::with_capacity(WRAP_LABEL.len() + 1 + id.len() + 16 + 4);
    aad.extend_from_slice(WRAP_LABEL);
    // INVARIANT: MasterKeyId is at most 64 bytes, so its length fits a byte.
    aad.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
    aad.extend_from_slice(id);
    aad.extend_from_slice(customer.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// A customer's data key in the clear: only ever in memory, zeroized on drop, never printed.
pub(crate) struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    fn generate(rng: &SystemRandom) -> Result<Self, LogsError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill(bytes.as_mut_slice())
            .map_err(|_| LogsError::Random)?;
        Ok(Self(bytes))
    }

    #[cfg(test)]
    pub(crate) fn from_array(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub(crate) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

/// A data key wrapped (AES-256-GCM) under a master key, safe to persist.
///
/// The wrap's AAD binds the master key id, customer and version, so a stored wrap moved to
/// another customer or version fails to unwrap. Serializes (serde) with the nonce and
/// ciphertext as hex; deserializing checks their lengths.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WrappedRepr", into = "WrappedRepr")]
pub struct WrappedDataKey {
    master_key: MasterKeyId,
    customer: CustomerId,
    version: KeyVersion,
    nonce: [u8; WRAP_NONCE_LEN],
    ciphertext: [u8; WRAPPED_LEN],
}

impl WrappedDataKey {
    /// The master key this data key is wrapped under.
    #[must_use]
    pub const fn master_key(&self) -> &MasterKeyId {
        &self.master_key
    }

    /// The customer whose data key this is.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// The version of the data key.
    #[must_use]
    pub const fn version(&self) -> KeyVersion {
        self.version
    }
}

impl fmt::Debug for WrappedDataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedDataKey")
            .field("master_key", &self.master_key)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WrappedRepr {
    master_key: MasterKeyId,
    customer: CustomerId,
    version: KeyVersion,
    nonce: String,
    ciphertext: String,
}

impl TryFrom<WrappedRepr> for WrappedDataKey {
    type Error = LogsError;

    fn try_from(repr: WrappedRepr) -> Result<Self, Self::Error> {
        Ok(Self {
            master_key: repr.master_key,
            customer: repr.customer,
            version: repr.version,
            nonce: hex::decode(&repr.nonce, "wrapped key nonce")?,
            ciphertext: hex::decode(&repr.ciphertext, "wrapped key ciphertext")?,
        })
    }
}

impl From<WrappedDataKey> for WrappedRepr {
    fn from(key: WrappedDataKey) -> Self {
        Self {
            master_key: key.master_key,
            customer: key.customer,
            version: key.version,
            nonce: hex::encode(&key.nonce),
            ciphertext: hex::encode(&key.ciphertext),
        }
    }
}

/// What crypto-shredding leaves of a customer's keys: the newest data key version it destroyed.
///
/// A shred is final for everything sealed before it: every version up to and including the
/// tombstone's is destroyed, and records sealed under those versions fail with
/// [`LogsError::Shredded`] forever. A customer who comes back (a new relationship under the
/// same [`CustomerId`]) gets a new generation of data keys that starts at the version after
/// the tombstone, so no version number is ever issued twice to one customer. A customer
/// shredded before any data key was issued has a tombstone "through v0":
/// [`through`](Self::through) is `None`.
///
/// ```
/// use steward_logs::{KeyVersion, Tombstone};
///
/// let tombstone = Tombstone::new(Some(KeyVersion::new(3)?));
/// assert!(tombstone.covers(KeyVersion::new(3)?));
/// assert!(!tombstone.covers(KeyVersion::new(4)?));
/// assert_eq!(tombstone.next_version()?.get(), 4);
/// assert_eq!(Tombstone::new(None).next_version()?, KeyVersion::FIRST);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tombstone(Option<KeyVersion>);

impl Tombstone {
    /// The tombstone of a shred that destroyed every version up to and including `through`,
    /// or, for `None`, of a shred before the customer had any data key.
    #[must_use]
    pub const fn new(through: Option<KeyVersion>) -> Self {
        Self(through)
    }

    /// The newest version destroyed; `None` if the customer had no data key yet.
    #[must_use]
    pub const fn through(self) -> Option<KeyVersion> {
        self.0
    }

    /// Whether `version` was destroyed, that is, is at or below the tombstone.
    #[must_use]
    pub const fn covers(self, version: KeyVersion) -> bool {
        match self.0 {
            Some(through) => version.get() <= through.get(),
            None => false,
        }
    }

    /// The first version of the customer's next key generation.
    ///
    /// # Errors
    ///
    /// [`LogsError::KeyVersionOverflow`] for a tombstone through `u32::MAX`.
    pub fn next_version(self) -> Result<KeyVersion, LogsError> {
        match self.0 {
            Some(through) => through.next(),
            None => Ok(KeyVersion::FIRST),
        }
    }

    /// The version number destroyed through, 0 before the first version (the stored form).
    const fn number(self) -> u32 {
        match self.0 {
            Some(through) => through.get(),
            None => 0,
        }
    }

    const fn from_number(number: u32) -> Self {
        match NonZeroU32::new(number) {
            Some(version) => Self(Some(KeyVersion(version))),
            None => Self(None),
        }
    }
}

impl fmt::Debug for Tombstone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tombstone(through v{})", self.number())
    }
}

impl fmt::Display for Tombstone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "through v{}", self.number())
    }
}

/// Everything a store persists to rebuild a [`Keyring`]: the wrapped data keys and, for every
/// customer ever crypto-shredded, their [`Tombstone`] (so their old records keep failing with
/// [`LogsError::Shredded`] after a restart, not with a missing key, and a returning customer's
/// new key generation continues above it).
///
/// Serialized (serde) as `{"data_keys": [...], "shredded": [{"customer": id, "through": n}]}`,
/// where `through` is the newest version destroyed, 0 if the customer had none. Deserializing
/// checks consistency: no customer and version twice, no customer shredded twice, no data key
/// at or below its customer's tombstone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SnapshotRepr", into = "SnapshotRepr")]
pub struct KeyringSnapshot {
    data_keys: Vec<WrappedDataKey>,
    shredded: Vec<(CustomerId, Tombstone)>,
}

impl KeyringSnapshot {
    /// A snapshot from its parts.
    ///
    /// # Errors
    ///
    /// [`LogsError::InvalidSnapshot`] if a customer and version appear twice, a customer has
    /// two tombstones, or a data key's version is at or below its customer's tombstone.
    pub fn new(
        data_keys: Vec<WrappedDataKey>,
        shredded: Vec<(CustomerId, Tombstone)>,
    ) -> Result<Self, LogsError> {
        let mut seen = HashSet::with_capacity(data_keys.len());
        for key in &data_keys {
            if !seen.insert((key.customer, key.version)) {
                return Err(LogsError::InvalidSnapshot {
                    reason: "a customer's key version appears twice",
                });
            }
        }
        let mut tombstones = HashMap::with_capacity(shredded.len());
        for &(customer, tombstone) in &shredded {
            if tombstones.insert(customer, tombstone).is_some() {
                return Err(LogsError::InvalidSnapshot {
                    reason: "a customer is listed as shredded twice",
                });
            }
        }
        if data_keys.iter().any(|key| {
            tombstones
                .get(&key.customer)
                .is_some_and(|tombstone| tombstone.covers(key.version))
        }) {
            return Err(LogsError::InvalidSnapshot {
                reason: "a data key has a version its customer was already shredded through",
            });
        }
        Ok(Self {
            data_keys,
            shredded,
        })
    }

    /// The wrapped data keys.
    #[must_use]
    pub fn data_keys(&self) -> &[WrappedDataKey] {
        &self.data_keys
    }

    /// Every customer ever crypto-shredded, with what their last shred destroyed.
    #[must_use]
    pub fn shredded(&self) -> &[(CustomerId, Tombstone)] {
        &self.shredded
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotRepr {
    data_keys: Vec<WrappedDataKey>,
    shredded: Vec<ShreddedRepr>,
}

#[derive(Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a shredded customer: `customer` and `through`, the newest key version destroyed"
)]
struct ShreddedRepr {
    customer: CustomerId,
    through: u32,
}

impl TryFrom<SnapshotRepr> for KeyringSnapshot {
    type Error = LogsError;

    fn try_from(repr: SnapshotRepr) -> Result<Self, Self::Error> {
        let shredded = repr
            .shredded
            .into_iter()
            .map(|entry| (entry.customer, Tombstone::from_number(entry.through)))
            .collect();
        Self::new(repr.data_keys, shredded)
    }
}

impl From<KeyringSnapshot> for SnapshotRepr {
    fn from(snapshot: KeyringSnapshot) -> Self {
        Self {
            data_keys: snapshot.data_keys,
            shredded: snapshot
                .shredded
                .into_iter()
                .map(|(customer, tombstone)| ShreddedRepr {
                    customer,
                    through: tombstone.number(),
                })
                .collect(),
        }
    }
}

/// One customer's keys: the live generation, and what their last shred destroyed.
#[derive(Default)]
struct CustomerKeys {
    /// The current generation. INVARIANT: every version is above `tombstone` (new versions are
    /// numbered from the tombstone up, and a restored snapshot was checked for it).
    live: BTreeMap<KeyVersion, WrappedDataKey>,
    /// `None` if the customer was never shredded.
    tombstone: Option<Tombstone>,
}

impl CustomerKeys {
    fn newest(&self) -> Option<KeyVersion> {
        self.live.keys().next_back().copied()
    }

    /// The version the next data key gets: after the newest live one, else after the
    /// tombstone, so no version number is issued twice.
    fn next_version(&self) -> Result<KeyVersion, LogsError> {
        match (self.newest(), self.tombstone) {
            (Some(newest), _) => newest.next(),
            (None, Some(tombstone)) => tombstone.next_version(),
            (None, None) => Ok(KeyVersion::FIRST),
        }
    }
}

/// The keyring: master keys and every customer's wrapped data keys.
///
/// One random data key per customer and version (never derived from the master key, so one
/// customer can be shredded alone). The newest version seals; older versions only open. A
/// shred destroys every version so far and leaves a [`Tombstone`]; if the customer comes back,
/// their next data key starts a new generation above it.
///
/// ```
/// use steward_logs::{Keyring, KeyVersion, MasterKey};
/// use steward_core::CustomerId;
///
/// let master = MasterKey::from_bytes("kek-1".parse()?, &[7; 32])?;
/// let mut keyring = Keyring::new(master);
/// let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// assert_eq!(keyring.ensure_data_key(customer)?, KeyVersion::FIRST);
/// assert_eq!(keyring.rotate_data_key(customer)?.get(), 2);
/// keyring.rotate_master_key(MasterKey::from_bytes("kek-2".parse()?, &[8; 32])?)?;
/// assert!(keyring.snapshot().data_keys().iter().all(|k| k.master_key().as_str() == "kek-2"));
/// keyring.shred(customer);
/// assert!(keyring.is_shredded(customer));
/// // The customer comes back: a new generation, above everything that was shredded.
/// assert_eq!(keyring.ensure_data_key(customer)?.get(), 3);
/// assert!(keyring.is_version_shredded(customer, KeyVersion::new(2)?));
/// assert!(!keyring.is_shredded(customer));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Keyring {
    current: MasterKey,
    retired: Vec<MasterKey>,
    customers: HashMap<CustomerId, CustomerKeys>,
    rng: SystemRandom,
}

impl Keyring {
    /// An empty keyring whose data keys will be wrapped under `master`.
    #[must_use]
    pub fn new(master: MasterKey) -> Self {
        Self {
            current: master,
            retired: Vec::new(),
            customers: HashMap::new(),
            rng: SystemRandom::new(),
        }
    }

    /// A keyring rebuilt from a persisted snapshot, tombstones included.
    ///
    /// `current` wraps new data keys; `retired` master keys only unwrap data keys still
    /// wrapped under them (for example after a master rotation that was not yet persisted).
    ///
    /// # Errors
    ///
    /// [`LogsError::UnknownMasterKey`] if a data key is wrapped under a master key that was
    /// not given; [`LogsError::InvalidKeyId`] if two master keys share an id.
    pub fn restore(
        current: MasterKey,
        retired: impl IntoIterator<Item = MasterKey>,
        snapshot: KeyringSnapshot,
    ) -> Result<Self, LogsError> {
        let retired: Vec<MasterKey> = retired.into_iter().collect();
        let mut ids = HashSet::new();
        for id in std::iter::once(&current.id).chain(retired.iter().map(|m| &m.id)) {
            if !ids.insert(id) {
                return Err(LogsError::InvalidKeyId {
                    id: id.to_string(),
                    reason: "two master keys share this id",
                });
            }
        }
        let mut customers: HashMap<CustomerId, CustomerKeys> = HashMap::new();
        // KeyringSnapshot::new checked that no data key is at or below its tombstone.
        for (customer, tombstone) in snapshot.shredded {
            customers.entry(customer).or_default().tombstone = Some(tombstone);
        }
        for key in snapshot.data_keys {
            if !ids.contains(&key.master_key) {
                return Err(LogsError::UnknownMasterKey {
                    id: key.master_key.to_string(),
                });
            }
            customers
                .entry(key.customer)
                .or_default()
                .live
                .insert(key.version, key);
        }
        Ok(Self {
            current,
            retired,
            customers,
            rng: SystemRandom::new(),
        })
    }

    /// Everything a store must persist to rebuild this keyring, in a stable order.
    #[must_use]
    pub fn snapshot(&self) -> KeyringSnapshot {
        let mut data_keys = Vec::new();
        let mut shredded = Vec::new();
        for (customer, keys) in &self.customers {
            data_keys.extend(keys.live.values().cloned());
            if let Some(tombstone) = keys.tombstone {
                shredded.push((*customer, tombstone));
            }
        }
        data_keys.sort_by_key(|key| (key.customer, key.version));
        shredded.sort_by_key(|&(customer, _)| customer);
        KeyringSnapshot {
            data_keys,
            shredded,
        }
    }

    /// The id of the master key that wraps new data keys.
    #[must_use]
    pub const fn master_key_id(&self) -> &MasterKeyId {
        &self.current.id
    }

    /// The customer's newest data key version; `None` if they have no live data key (never
    /// had one, or were shredded since their last one was issued).
    #[must_use]
    pub fn current_version(&self, customer: CustomerId) -> Option<KeyVersion> {
        self.customers.get(&customer).and_then(CustomerKeys::newest)
    }

    /// Whether the customer was crypto-shredded and has no data key since: nothing of theirs
    /// can be opened. False again once a returning customer is issued a new data key (their
    /// old versions stay destroyed: see [`is_version_shredded`](Self::is_version_shredded)).
    #[must_use]
    pub fn is_shredded(&self, customer: CustomerId) -> bool {
        self.customers
            .get(&customer)
            .is_some_and(|keys| keys.tombstone.is_some() && keys.live.is_empty())
    }

    /// What the customer's last shred destroyed; `None` if they were never shredded.
    #[must_use]
    pub fn shredded_through(&self, customer: CustomerId) -> Option<Tombstone> {
        self.customers
            .get(&customer)
            .and_then(|keys| keys.tombstone)
    }

    /// Whether the customer's data key of this version was destroyed by a shred, so that the
    /// records sealed under it can never be opened.
    #[must_use]
    pub fn is_version_shredded(&self, customer: CustomerId, version: KeyVersion) -> bool {
        self.shredded_through(customer)
            .is_some_and(|tombstone| tombstone.covers(version))
    }

    /// The customer's newest data key version, creating one if they have none: version 1 for
    /// a new customer; for a customer shredded before, the version after their tombstone,
    /// which starts a new key generation (their old records stay unreadable).
    ///
    /// # Errors
    ///
    /// [`LogsError::KeyVersionOverflow`] if the tombstone is at `u32::MAX`;
    /// [`LogsError::Random`] if the system RNG fails.
    pub fn ensure_data_key(&mut self, customer: CustomerId) -> Result<KeyVersion, LogsError> {
        match self.current_version(customer) {
            Some(version) => Ok(version),
            None => self.add_next_version(customer),
        }
    }

    /// Rotates the customer's data key: a new random key becomes the newest version and seals
    /// from now on; older versions still open their records. For a customer without a live
    /// key this issues their first key, as [`ensure_data_key`](Self::ensure_data_key) does.
    ///
    /// # Errors
    ///
    /// [`LogsError::KeyVersionOverflow`] after `u32::MAX` versions; [`LogsError::Random`] if
    /// the system RNG fails.
    pub fn rotate_data_key(&mut self, customer: CustomerId) -> Result<KeyVersion, LogsError> {
        self.add_next_version(customer)
    }

    /// Rotates the master key: every data key is unwrapped and wrapped again under `new`,
    /// and the old master keys are dropped. No record is re-encrypted.
    ///
    /// All-or-nothing: if any data key fails to rewrap, the keyring is left unchanged.
    ///
    /// # Errors
    ///
    /// [`LogsError::InvalidKeyId`] if `new` reuses the current master key's id;
    /// [`LogsError::UnwrapFailed`] if a stored wrap is corrupt; [`LogsError::Random`] if the
    /// system RNG fails.
    pub fn rotate_master_key(&mut self, new: MasterKey) -> Result<(), LogsError> {
        if new.id == self.current.id || self.retired.iter().any(|m| m.id == new.id) {
            return Err(LogsError::InvalidKeyId {
                id: new.id.to_string(),
                reason: "a new master key needs a new id",
            });
        }
        let mut rewrapped = Vec::new();
        for (customer, keys) in &self.customers {
            for wrapped in keys.live.values() {
                let data_key = self.unwrap(wrapped)?;
                rewrapped.push(new.wrap(&self.rng, *customer, wrapped.version, &data_key)?);
            }
        }
        for wrapped in rewrapped {
            if let Some(keys) = self.customers.get_mut(&wrapped.customer) {
                keys.live.insert(wrapped.version, wrapped);
            }
        }
        self.current = new;
        self.retired.clear();
        Ok(())
    }

    /// Crypto-shreds the customer (`logs.encrypted`, and deletion under `logs.retention`):
    /// every version of their data key is destroyed and a [`Tombstone`] through the newest
    /// one is kept. Every record sealed for them so far, in any copy or backup, can then never
    /// be opened. If they come back, [`ensure_data_key`](Self::ensure_data_key) starts a new
    /// key generation above the tombstone.
    ///
    /// The store must persist the new [`snapshot`](Self::snapshot) (overwriting the old
    /// wraps) for the shred to survive a restart. Shredding twice is harmless; shredding again
    /// after the customer came back moves the tombstone up over their new generation.
    pub fn shred(&mut self, customer: CustomerId) {
        let keys = self.customers.entry(customer).or_default();
        // The tombstone never moves down: a shred with no live key keeps the last one.
        keys.tombstone = keys.tombstone.max(Some(Tombstone::new(keys.newest())));
        // Dropping the wrapped keys is the destruction: the plaintext data keys never exist
        // outside short-lived, zeroizing buffers.
        keys.live.clear();
    }

    /// The customer's data key of this version, unwrapped.
    pub(crate) fn data_key(
        &self,
        customer: CustomerId,
        version: KeyVersion,
    ) -> Result<DataKey, LogsError> {
        let Some(keys) = self.customers.get(&customer) else {
            return Err(LogsError::UnknownKeyVersion { version });
        };
        if keys
            .tombstone
            .is_some_and(|tombstone| tombstone.covers(version))
        {
            return Err(LogsError::Shredded);
        }
        match keys.live.get(&version) {
            Some(wrapped) => self.unwrap(wrapped),
            None => Err(LogsError::UnknownKeyVersion { version }),
        }
    }

    fn unwrap(&self, wrapped: &WrappedDataKey) -> Result<DataKey, LogsError> {
        let master = std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|master| master.id == wrapped.master_key)
            .ok_or_else(|| LogsError::UnknownMasterKey {
                id: wrapped.master_key.to_string(),
            })?;
        master.unwrap(wrapped)
    }

    /// Issues the customer's next data key version: a new random key, wrapped.
    fn add_next_version(&mut self, customer: CustomerId) -> Result<KeyVersion, LogsError> {
        let version = match self.customers.get(&customer) {
            Some(keys) => keys.next_version()?,
            None => KeyVersion::FIRST,
        };
        let data_key = DataKey::generate(&self.rng)?;
        let wrapped = self.current.wrap(&self.rng, customer, version, &data_key)?;
        self.customers
            .entry(customer)
            .or_default()
            .live
            .insert(version, wrapped);
        Ok(version)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("master_key", &self.current.id)
            .field("retired_master_keys", &self.retired.len())
            .field("customers", &self.customers.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(n: u8) -> CustomerId {
        CustomerId::new(uuid::Uuid::from_bytes([n; 16])).unwrap()
    }

    fn master(id: &str, byte: u8) -> MasterKey {
        MasterKey::from_bytes(id.parse().unwrap(), &[byte; 32]).unwrap()
    }

    #[test]
    fn wrap_is_bound_to_customer_and_version() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        let version = keyring.ensure_data_key(customer(1)).unwrap();
        let snapshot = keyring.snapshot();
        let wrapped = snapshot.data_keys().first().unwrap().clone();
        let moved = WrappedDataKey {
            customer: customer(2),
            ..wrapped.clone()
        };
        let bumped = WrappedDataKey {
            version: version.next().unwrap(),
            ..wrapped.clone()
        };
        let master = master("kek-1", 1);
        assert!(master.unwrap(&wrapped).is_ok());
        assert!(matches!(
            master.unwrap(&moved),
            Err(LogsError::UnwrapFailed { .. })
        ));
        assert!(matches!(
            master.unwrap(&bumped),
            Err(LogsError::UnwrapFailed { .. })
        ));
    }

    #[test]
    fn master_rotation_keeps_data_keys() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.ensure_data_key(customer(1)).unwrap();
        keyring.rotate_data_key(customer(1)).unwrap();
        let before: Vec<[u8; 32]> = [KeyVersion::FIRST, KeyVersion::new(2).unwrap()]
            .iter()
            .map(|v| *keyring.data_key(customer(1), *v).unwrap().as_bytes())
            .collect();
        keyring.rotate_master_key(master("kek-2", 2)).unwrap();
        assert_eq!(keyring.master_key_id().as_str(), "kek-2");
        let after: Vec<[u8; 32]> = [KeyVersion::FIRST, KeyVersion::new(2).unwrap()]
            .iter()
            .map(|v| *keyring.data_key(customer(1), *v).unwrap().as_bytes())
            .collect();
        assert_eq!(before, after);
        // The old master key no longer unwraps anything.
        let snapshot = keyring.snapshot();
        assert!(matches!(
            Keyring::restore(master("kek-1", 1), [], snapshot),
            Err(LogsError::UnknownMasterKey { .. })
        ));
    }

    #[test]
    fn retired_master_keys_still_unwrap_until_the_next_rotation() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.ensure_data_key(customer(1)).unwrap();
        let key = *keyring
            .data_key(customer(1), KeyVersion::FIRST)
            .unwrap()
            .as_bytes();
        // A rotation that was not persisted yet: the store still holds wraps under kek-1.
        let mut restored =
            Keyring::restore(master("kek-2", 2), [master("kek-1", 1)], keyring.snapshot()).unwrap();
        assert_eq!(
            restored
                .data_key(customer(1), KeyVersion::FIRST)
                .unwrap()
                .as_bytes(),
            &key
        );
        restored.ensure_data_key(customer(2)).unwrap();
        let masters: Vec<String> = restored
            .snapshot()
            .data_keys()
            .iter()
            .map(|k| k.master_key().to_string())
            .collect();
        assert_eq!(masters, ["kek-1", "kek-2"]);
        restored.rotate_master_key(master("kek-3", 3)).unwrap();
        let snapshot = restored.snapshot();
        assert!(
            snapshot
                .data_keys()
                .iter()
                .all(|k| k.master_key().as_str() == "kek-3")
        );
        let only_new = Keyring::restore(master("kek-3", 3), [], snapshot).unwrap();
        assert_eq!(
            only_new
                .data_key(customer(1), KeyVersion::FIRST)
                .unwrap()
                .as_bytes(),
            &key
        );
    }

    #[test]
    fn master_rotation_rejects_reused_id() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        assert!(matches!(
            keyring.rotate_master_key(master("kek-1", 9)),
            Err(LogsError::InvalidKeyId { .. })
        ));
    }

    #[test]
    fn snapshot_round_trips_through_json_and_restore() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.ensure_data_key(customer(1)).unwrap();
        keyring.rotate_data_key(customer(2)).unwrap();
        keyring.shred(customer(3));
        let key = *keyring
            .data_key(customer(2), KeyVersion::FIRST)
            .unwrap()
            .as_bytes();
        let json = serde_json::to_string(&keyring.snapshot()).unwrap();
        assert!(!json.contains(&hex::encode(&key)));
        let snapshot: KeyringSnapshot = serde_json::from_str(&json).unwrap();
        let restored = Keyring::restore(master("kek-1", 1), [], snapshot).unwrap();
        assert_eq!(
            restored
                .data_key(customer(2), KeyVersion::FIRST)
                .unwrap()
                .as_bytes(),
            &key
        );
        assert!(restored.is_shredded(customer(3)));
    }

    #[test]
    fn inconsistent_snapshot_is_rejected_on_deserialize() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.ensure_data_key(customer(1)).unwrap();
        let mut value = serde_json::to_value(keyring.snapshot()).unwrap();
        value["shredded"] = serde_json::json!([
            {"customer": customer(2).to_string(), "through": 1},
            {"customer": customer(2).to_string(), "through": 3},
        ]);
        let error = serde_json::from_value::<KeyringSnapshot>(value.clone()).unwrap_err();
        assert!(error.to_string().contains("shredded twice"), "{error}");
        // The format before key epochs listed bare customer ids: refused, naming what is due.
        value["shredded"] = serde_json::json!([customer(2).to_string()]);
        let error = serde_json::from_value::<KeyringSnapshot>(value.clone()).unwrap_err();
        assert!(error.to_string().contains("`through`"), "{error}");
        value["shredded"] = serde_json::json!([
            {"customer": customer(2).to_string(), "through": 1, "reason": "x"},
        ]);
        assert!(serde_json::from_value::<KeyringSnapshot>(value).is_err());
        let bad_nonce = serde_json::json!({
            "master_key": "kek-1", "customer": customer(1).to_string(), "version": 1,
            "nonce": "00", "ciphertext": "00"
        });
        assert!(serde_json::from_value::<WrappedDataKey>(bad_nonce).is_err());
    }

    #[test]
    fn snapshot_with_a_live_key_at_or_below_the_tombstone_is_refused() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.ensure_data_key(customer(1)).unwrap();
        keyring.rotate_data_key(customer(1)).unwrap();
        let data_keys = keyring.snapshot().data_keys().to_vec();
        let tombstone = |through: u32| Tombstone::new(KeyVersion::new(through).ok());
        // v1 and v2 are live: a tombstone through v1 or v2 (or above) covers a live key.
        for through in [1, 2, 5] {
            assert!(
                matches!(
                    KeyringSnapshot::new(
                        data_keys.clone(),
                        vec![(customer(1), tombstone(through))]
                    ),
                    Err(LogsError::InvalidSnapshot { .. })
                ),
                "through v{through}"
            );
            let mut value = serde_json::to_value(keyring.snapshot()).unwrap();
            value["shredded"] =
                serde_json::json!([{"customer": customer(1).to_string(), "through": through}]);
            let error = serde_json::from_value::<KeyringSnapshot>(value).unwrap_err();
            assert!(
                error.to_string().contains("already shredded through"),
                "{error}"
            );
        }
        // A tombstone below every live key is a customer who came back: consistent.
        let snapshot = KeyringSnapshot::new(data_keys.clone(), vec![(customer(1), tombstone(0))]);
        assert!(snapshot.is_ok());
        // Another customer's tombstone says nothing about these keys.
        assert!(KeyringSnapshot::new(data_keys, vec![(customer(2), tombstone(9))]).is_ok());
    }

    // Before key epochs, a shredded customer's id was spent: ensure_data_key failed with
    // Shredded forever. A returning customer now gets a new generation above the tombstone.
    #[test]
    fn shredded_customer_who_returns_gets_a_fresh_key_above_the_tombstone() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        let v1 = keyring.ensure_data_key(customer(1)).unwrap();
        let v2 = keyring.rotate_data_key(customer(1)).unwrap();
        let old = *keyring.data_key(customer(1), v2).unwrap().as_bytes();
        keyring.shred(customer(1));
        assert!(keyring.is_shredded(customer(1)));
        assert_eq!(keyring.current_version(customer(1)), None);
        assert_eq!(
            keyring.shredded_through(customer(1)),
            Some(Tombstone::new(Some(v2)))
        );
        assert!(keyring.snapshot().data_keys().is_empty());

        let v3 = keyring.ensure_data_key(customer(1)).unwrap();
        assert_eq!(v3.get(), 3);
        assert_eq!(keyring.current_version(customer(1)), Some(v3));
        assert_eq!(keyring.ensure_data_key(customer(1)).unwrap(), v3);
        assert!(!keyring.is_shredded(customer(1)));
        assert_ne!(keyring.data_key(customer(1), v3).unwrap().as_bytes(), &old);
        for version in [v1, v2] {
            assert!(keyring.is_version_shredded(customer(1), version));
            assert!(matches!(
                keyring.data_key(customer(1), version),
                Err(LogsError::Shredded)
            ));
        }
        assert!(!keyring.is_version_shredded(customer(1), v3));
        let v4 = v3.next().unwrap();
        assert!(matches!(
            keyring.data_key(customer(1), v4),
            Err(LogsError::UnknownKeyVersion { version }) if version == v4
        ));
        // The tombstone stays in the snapshot next to the new generation's key.
        let snapshot = keyring.snapshot();
        let versions: Vec<KeyVersion> = snapshot.data_keys().iter().map(|k| k.version()).collect();
        assert_eq!(versions, [v3]);
        assert_eq!(
            snapshot.shredded(),
            &[(customer(1), Tombstone::new(Some(v2)))]
        );
    }

    #[test]
    fn shredding_a_customer_without_keys_leaves_a_tombstone_through_v0() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.shred(customer(4));
        assert!(keyring.is_shredded(customer(4)));
        assert_eq!(
            keyring.shredded_through(customer(4)),
            Some(Tombstone::new(None))
        );
        assert!(!keyring.is_version_shredded(customer(4), KeyVersion::FIRST));
        assert_eq!(
            keyring.snapshot().shredded(),
            &[(customer(4), Tombstone::new(None))]
        );
        assert_eq!(
            keyring.ensure_data_key(customer(4)).unwrap(),
            KeyVersion::FIRST
        );
        assert!(!keyring.is_shredded(customer(4)));
        // A customer never shredded has no tombstone at all.
        assert_eq!(keyring.shredded_through(customer(5)), None);
        assert!(!keyring.is_shredded(customer(5)));
    }

    #[test]
    fn shredding_again_moves_the_tombstone_up() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        let v1 = keyring.ensure_data_key(customer(1)).unwrap();
        keyring.shred(customer(1));
        let v2 = keyring.ensure_data_key(customer(1)).unwrap();
        let v3 = keyring.rotate_data_key(customer(1)).unwrap();
        assert_eq!((v2.get(), v3.get()), (2, 3));
        assert!(keyring.data_key(customer(1), v2).is_ok());
        keyring.shred(customer(1));
        assert_eq!(
            keyring.shredded_through(customer(1)),
            Some(Tombstone::new(Some(v3)))
        );
        // A shred with nothing live keeps the tombstone where it is.
        keyring.shred(customer(1));
        assert_eq!(
            keyring.shredded_through(customer(1)),
            Some(Tombstone::new(Some(v3)))
        );
        for version in [v1, v2, v3] {
            assert!(matches!(
                keyring.data_key(customer(1), version),
                Err(LogsError::Shredded)
            ));
        }
        assert_eq!(keyring.ensure_data_key(customer(1)).unwrap().get(), 4);
    }

    #[test]
    fn rotations_keep_working_in_a_new_generation() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.ensure_data_key(customer(1)).unwrap();
        keyring.shred(customer(1));
        let v2 = keyring.rotate_data_key(customer(1)).unwrap();
        let v3 = keyring.rotate_data_key(customer(1)).unwrap();
        assert_eq!((v2.get(), v3.get()), (2, 3));
        let before: Vec<[u8; 32]> = [v2, v3]
            .iter()
            .map(|v| *keyring.data_key(customer(1), *v).unwrap().as_bytes())
            .collect();
        keyring.rotate_master_key(master("kek-2", 2)).unwrap();
        let restored = Keyring::restore(master("kek-2", 2), [], keyring.snapshot()).unwrap();
        let after: Vec<[u8; 32]> = [v2, v3]
            .iter()
            .map(|v| *restored.data_key(customer(1), *v).unwrap().as_bytes())
            .collect();
        assert_eq!(before, after);
        assert!(matches!(
            restored.data_key(customer(1), KeyVersion::FIRST),
            Err(LogsError::Shredded)
        ));
        assert_eq!(restored.current_version(customer(1)), Some(v3));
    }

    #[test]
    fn snapshot_round_trip_preserves_tombstones() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        // 1: live only. 2: shredded through v2, back with v3. 3: shredded before any key.
        // 4: shredded through v1, not back.
        keyring.ensure_data_key(customer(1)).unwrap();
        keyring.rotate_data_key(customer(2)).unwrap();
        keyring.rotate_data_key(customer(2)).unwrap();
        keyring.shred(customer(2));
        let v3 = keyring.ensure_data_key(customer(2)).unwrap();
        let key = *keyring.data_key(customer(2), v3).unwrap().as_bytes();
        keyring.shred(customer(3));
        keyring.ensure_data_key(customer(4)).unwrap();
        keyring.shred(customer(4));

        let json = serde_json::to_string(&keyring.snapshot()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value["shredded"],
            serde_json::json!([
                {"customer": customer(2).to_string(), "through": 2},
                {"customer": customer(3).to_string(), "through": 0},
                {"customer": customer(4).to_string(), "through": 1},
            ])
        );
        let snapshot: KeyringSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(snapshot, keyring.snapshot());
        let mut restored = Keyring::restore(master("kek-1", 1), [], snapshot).unwrap();

        assert_eq!(restored.shredded_through(customer(1)), None);
        let through = |n| Some(Tombstone::new(KeyVersion::new(n).ok()));
        assert_eq!(restored.shredded_through(customer(2)), through(2));
        assert_eq!(restored.shredded_through(customer(3)), through(0));
        assert_eq!(restored.shredded_through(customer(4)), through(1));
        assert!(!restored.is_shredded(customer(2)));
        assert!(restored.is_shredded(customer(3)) && restored.is_shredded(customer(4)));
        assert_eq!(restored.data_key(customer(2), v3).unwrap().as_bytes(), &key);
        assert!(matches!(
            restored.data_key(customer(2), KeyVersion::new(2).unwrap()),
            Err(LogsError::Shredded)
        ));
        assert_eq!(
            restored.ensure_data_key(customer(3)).unwrap(),
            KeyVersion::FIRST
        );
        assert_eq!(restored.ensure_data_key(customer(4)).unwrap().get(), 2);
    }

    #[test]
    fn a_tombstone_at_the_last_version_refuses_a_new_generation() {
        let last = KeyVersion::new(u32::MAX).unwrap();
        let tombstone = Tombstone::new(Some(last));
        assert!(tombstone.covers(last));
        assert!(matches!(
            tombstone.next_version(),
            Err(LogsError::KeyVersionOverflow)
        ));
        let snapshot = KeyringSnapshot::new(Vec::new(), vec![(customer(1), tombstone)]).unwrap();
        let mut keyring = Keyring::restore(master("kek-1", 1), [], snapshot).unwrap();
        assert!(matches!(
            keyring.ensure_data_key(customer(1)),
            Err(LogsError::KeyVersionOverflow)
        ));
        assert!(keyring.is_shredded(customer(1)));
        assert_eq!(format!("{tombstone:?}"), "Tombstone(through v4294967295)");
        assert_eq!(Tombstone::new(None).to_string(), "through v0");
    }

    #[test]
    fn debug_never_shows_key_material() {
        let master = MasterKey::from_bytes("kek-1".parse().unwrap(), &[0xab; 32]).unwrap();
        let text = format!("{master:?}");
        assert!(text.contains("kek-1") && text.contains("AES-256-GCM"));
        assert!(!text.to_lowercase().contains("abab"));
        assert!(!text.contains("171"));
    }

    #[test]
    fn key_loaders_accept_hex_and_raw_files() {
        let dir = std::env::temp_dir().join(format!("steward-logs-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let raw = dir.join("raw.key");
        std::fs::write(&raw, [5u8; 32]).unwrap();
        let hexfile = dir.join("hex.key");
        std::fs::write(&hexfile, format!("{}\n", hex::encode(&[5u8; 32]))).unwrap();
        let a = MasterKey::from_file("a".parse().unwrap(), &raw).unwrap();
        let b = MasterKey::from_file("a".parse().unwrap(), &hexfile).unwrap();
        let mut keyring = Keyring::new(a);
        keyring.ensure_data_key(customer(1)).unwrap();
        let restored = Keyring::restore(b, [], keyring.snapshot()).unwrap();
        assert!(restored.data_key(customer(1), KeyVersion::FIRST).is_ok());
        assert!(matches!(
            MasterKey::from_file("a".parse().unwrap(), dir.join("missing")),
            Err(LogsError::KeyFile { .. })
        ));
        assert!(matches!(
            MasterKey::from_env("a".parse().unwrap(), "STEWARD_LOGS_TEST_UNSET_VARIABLE"),
            Err(LogsError::MissingEnv { .. })
        ));
        assert!(MasterKey::from_bytes("a".parse().unwrap(), &[1; 31]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
