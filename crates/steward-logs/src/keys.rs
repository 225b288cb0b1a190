//! The key hierarchy: master keys wrap one random data key per customer and key version.
//!
//! `logs.encrypted`: data keys exist outside memory only wrapped under a master key, with the
//! master key id, customer and version bound into the wrap's AAD, so a wrapped key cannot be
//! moved to another customer or version unseen. Crypto-shredding a customer forgets every
//! version of their data key, which makes every copy of their records unreadable.

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

/// Everything a store persists to rebuild a [`Keyring`]: the wrapped data keys and the
/// customers that were crypto-shredded (so their records keep failing with
/// [`LogsError::Shredded`] after a restart, not with a missing key).
///
/// Deserializing checks consistency: no customer and version twice, no data key for a
/// shredded customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SnapshotRepr", into = "SnapshotRepr")]
pub struct KeyringSnapshot {
    data_keys: Vec<WrappedDataKey>,
    shredded: Vec<CustomerId>,
}

impl KeyringSnapshot {
    /// A snapshot from its parts.
    ///
    /// # Errors
    ///
    /// [`LogsError::InvalidSnapshot`] if a customer and version appear twice or a shredded
    /// customer still has a data key.
    pub fn new(
        data_keys: Vec<WrappedDataKey>,
        shredded: Vec<CustomerId>,
    ) -> Result<Self, LogsError> {
        let mut seen = HashSet::with_capacity(data_keys.len());
        for key in &data_keys {
            if !seen.insert((key.customer, key.version)) {
                return Err(LogsError::InvalidSnapshot {
                    reason: "a customer's key version appears twice",
                });
            }
        }
        let shredded_set: HashSet<_> = shredded.iter().collect();
        if data_keys
            .iter()
            .any(|key| shredded_set.contains(&key.customer))
        {
            return Err(LogsError::InvalidSnapshot {
                reason: "a shredded customer still has a data key",
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

    /// The crypto-shredded customers.
    #[must_use]
    pub fn shredded(&self) -> &[CustomerId] {
        &self.shredded
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotRepr {
    data_keys: Vec<WrappedDataKey>,
    shredded: Vec<CustomerId>,
}

impl TryFrom<SnapshotRepr> for KeyringSnapshot {
    type Error = LogsError;

    fn try_from(repr: SnapshotRepr) -> Result<Self, Self::Error> {
        Self::new(repr.data_keys, repr.shredded)
    }
}

impl From<KeyringSnapshot> for SnapshotRepr {
    fn from(snapshot: KeyringSnapshot) -> Self {
        Self {
            data_keys: snapshot.data_keys,
            shredded: snapshot.shredded,
        }
    }
}

enum CustomerKeys {
    Live(BTreeMap<KeyVersion, WrappedDataKey>),
    Shredded,
}

/// The keyring: master keys and every customer's wrapped data keys.
///
/// One random data key per customer and version (never derived from the master key, so one
/// customer can be shredded alone). The newest version seals; older versions only open.
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

    /// A keyring rebuilt from a persisted snapshot.
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
        for key in snapshot.data_keys {
            if !ids.contains(&key.master_key) {
                return Err(LogsError::UnknownMasterKey {
                    id: key.master_key.to_string(),
                });
            }
            let entry = customers
                .entry(key.customer)
                .or_insert_with(|| CustomerKeys::Live(BTreeMap::new()));
            if let CustomerKeys::Live(versions) = entry {
                versions.insert(key.version, key);
            }
        }
        for customer in snapshot.shredded {
            customers.insert(customer, CustomerKeys::Shredded);
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
            match keys {
                CustomerKeys::Live(versions) => data_keys.extend(versions.values().cloned()),
                CustomerKeys::Shredded => shredded.push(*customer),
            }
        }
        data_keys.sort_by_key(|key| (key.customer, key.version));
        shredded.sort();
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

    /// The customer's newest data key version, if they have one.
    ///
    /// # Errors
    ///
    /// [`LogsError::Shredded`] if the customer was crypto-shredded.
    pub fn current_version(&self, customer: CustomerId) -> Result<Option<KeyVersion>, LogsError> {
        match self.customers.get(&customer) {
            None => Ok(None),
            Some(CustomerKeys::Shredded) => Err(LogsError::Shredded),
            Some(CustomerKeys::Live(versions)) => Ok(versions.keys().next_back().copied()),
        }
    }

    /// Whether the customer was crypto-shredded.
    #[must_use]
    pub fn is_shredded(&self, customer: CustomerId) -> bool {
        matches!(self.customers.get(&customer), Some(CustomerKeys::Shredded))
    }

    /// The customer's newest data key version, creating version 1 if they have none.
    ///
    /// # Errors
    ///
    /// [`LogsError::Shredded`] if the customer was crypto-shredded (a shredded customer gets
    /// no new key: their id is spent); [`LogsError::Random`] if the system RNG fails.
    pub fn ensure_data_key(&mut self, customer: CustomerId) -> Result<KeyVersion, LogsError> {
        match self.current_version(customer)? {
            Some(version) => Ok(version),
            None => self.add_version(customer, KeyVersion::FIRST),
        }
    }

    /// Rotates the customer's data key: a new random key becomes the newest version and seals
    /// from now on; older versions still open their records.
    ///
    /// # Errors
    ///
    /// [`LogsError::Shredded`] for a shredded customer; [`LogsError::KeyVersionOverflow`]
    /// after `u32::MAX` versions; [`LogsError::Random`] if the system RNG fails.
    pub fn rotate_data_key(&mut self, customer: CustomerId) -> Result<KeyVersion, LogsError> {
        let next = match self.current_version(customer)? {
            Some(version) => version.next()?,
            None => KeyVersion::FIRST,
        };
        self.add_version(customer, next)
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
            if let CustomerKeys::Live(versions) = keys {
                for wrapped in versions.values() {
                    let data_key = self.unwrap(wrapped)?;
                    rewrapped.push(new.wrap(&self.rng, *customer, wrapped.version, &data_key)?);
                }
            }
        }
        for wrapped in rewrapped {
            if let Some(CustomerKeys::Live(versions)) = self.customers.get_mut(&wrapped.customer) {
                versions.insert(wrapped.version, wrapped);
            }
        }
        self.current = new;
        self.retired.clear();
        Ok(())
    }

    /// Crypto-shreds the customer (`logs.encrypted`, and deletion under `logs.retention`):
    /// every version of their data key is destroyed, and no data key is ever issued to them
    /// again. Every record of theirs, in any copy or backup, can then never be opened.
    ///
    /// The store must persist the new [`snapshot`](Self::snapshot) (overwriting the old
    /// wraps) for the shred to survive a restart. Shredding twice is harmless.
    pub fn shred(&mut self, customer: CustomerId) {
        // Dropping the wrapped keys is the destruction: the plaintext data keys never exist
        // outside short-lived, zeroizing buffers.
        self.customers.insert(customer, CustomerKeys::Shredded);
    }

    /// The customer's data key of this version, unwrapped.
    pub(crate) fn data_key(
        &self,
        customer: CustomerId,
        version: KeyVersion,
    ) -> Result<DataKey, LogsError> {
        match self.customers.get(&customer) {
            Some(CustomerKeys::Shredded) => Err(LogsError::Shredded),
            Some(CustomerKeys::Live(versions)) => match versions.get(&version) {
                Some(wrapped) => self.unwrap(wrapped),
                None => Err(LogsError::UnknownKeyVersion { version }),
            },
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

    fn add_version(
        &mut self,
        customer: CustomerId,
        version: KeyVersion,
    ) -> Result<KeyVersion, LogsError> {
        let data_key = DataKey::generate(&self.rng)?;
        let wrapped = self.current.wrap(&self.rng, customer, version, &data_key)?;
        match self
            .customers
            .entry(customer)
            .or_insert_with(|| CustomerKeys::Live(BTreeMap::new()))
        {
            CustomerKeys::Live(versions) => {
                versions.insert(version, wrapped);
                Ok(version)
            }
            CustomerKeys::Shredded => Err(LogsError::Shredded),
        }
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
        value["shredded"] = serde_json::json!([customer(1).to_string()]);
        assert!(serde_json::from_value::<KeyringSnapshot>(value).is_err());
        let bad_nonce = serde_json::json!({
            "master_key": "kek-1", "customer": customer(1).to_string(), "version": 1,
            "nonce": "00", "ciphertext": "00"
        });
        assert!(serde_json::from_value::<WrappedDataKey>(bad_nonce).is_err());
    }

    #[test]
    fn shredded_customer_gets_no_new_key() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.ensure_data_key(customer(1)).unwrap();
        keyring.shred(customer(1));
        assert!(matches!(
            keyring.ensure_data_key(customer(1)),
            Err(LogsError::Shredded)
        ));
        assert!(matches!(
            keyring.rotate_data_key(customer(1)),
            Err(LogsError::Shredded)
        ));
        assert!(matches!(
            keyring.data_key(customer(1), KeyVersion::FIRST),
            Err(LogsError::Shredded)
        ));
        assert!(keyring.snapshot().data_keys().is_empty());
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
