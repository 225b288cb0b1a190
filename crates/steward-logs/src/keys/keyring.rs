//! The keyring: master keys and every customer's wrapped data keys, rotation and shredding.

use std::{
    collections::{HashMap, HashSet},
    fmt,
};

use ring::rand::SystemRandom;
use steward_core::CustomerId;

use super::{
    KeyVersion, KeyringSnapshot, MasterKey, MasterKeyId, Tombstone, WrappedDataKey,
    wrapped::DataKey,
};
use crate::{KeyError, LogsError, OpenError};

/// One customer's keys: the live generation, and what their last shred destroyed.
#[derive(Default)]
struct CustomerKeys {
    /// The current generation. INVARIANT: every version is above `tombstone` (new versions are
    /// numbered from the tombstone up, and a restored snapshot was checked for it).
    live: Versions,
    /// `None` if the customer was never shredded.
    tombstone: Option<Tombstone>,
}

/// A customer's live wrapped keys, sorted by version: a customer has one or a few, so a small
/// vector (about 100 bytes a key) beats a tree map, whose first node alone reserves room for
/// eleven (about 1.2 KiB a customer at a million customers).
#[derive(Default)]
struct Versions(Vec<WrappedDataKey>);

impl Versions {
    fn newest(&self) -> Option<KeyVersion> {
        self.0.last().map(|key| key.version)
    }

    fn get(&self, version: &KeyVersion) -> Option<&WrappedDataKey> {
        self.0
            .binary_search_by_key(version, |key| key.version)
            .ok()
            .and_then(|index| self.0.get(index))
    }

    /// Inserts `key`, replacing a key of the same version.
    fn insert(&mut self, key: WrappedDataKey) {
        match self
            .0
            .binary_search_by_key(&key.version, |stored| stored.version)
        {
            Ok(index) => {
                if let Some(slot) = self.0.get_mut(index) {
                    *slot = key;
                }
            }
            Err(index) => self.0.insert(index, key),
        }
    }

    fn values(&self) -> impl Iterator<Item = &WrappedDataKey> + '_ {
        self.0.iter()
    }

    fn clear(&mut self) {
        self.0.clear();
        self.0.shrink_to_fit();
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl CustomerKeys {
    fn newest(&self) -> Option<KeyVersion> {
        self.live.newest()
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
    /// [`KeyError::UnknownMasterKey`] if a data key is wrapped under a master key that was
    /// not given; [`KeyError::InvalidKeyId`] if two master keys share an id.
    pub fn restore(
        current: MasterKey,
        retired: impl IntoIterator<Item = MasterKey>,
        snapshot: KeyringSnapshot,
    ) -> Result<Self, LogsError> {
        let retired: Vec<MasterKey> = retired.into_iter().collect();
        let mut ids = HashSet::new();
        for id in std::iter::once(&current.id).chain(retired.iter().map(|m| &m.id)) {
            if !ids.insert(id) {
                return Err(LogsError::Key(KeyError::InvalidKeyId {
                    id: id.to_string(),
                    reason: "two master keys share this id",
                }));
            }
        }
        let mut customers: HashMap<CustomerId, CustomerKeys> = HashMap::new();
        // KeyringSnapshot::new checked that no data key is at or below its tombstone.
        for (customer, tombstone) in snapshot.shredded {
            customers.entry(customer).or_default().tombstone = Some(tombstone);
        }
        for key in snapshot.data_keys {
            if !ids.contains(&key.master_key) {
                return Err(LogsError::Key(KeyError::UnknownMasterKey {
                    id: key.master_key.to_string(),
                }));
            }
            customers.entry(key.customer).or_default().live.insert(key);
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
    /// [`KeyError::KeyVersionOverflow`] if the tombstone is at `u32::MAX`;
    /// [`KeyError::Random`] if the system RNG fails.
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
    /// [`KeyError::KeyVersionOverflow`] after `u32::MAX` versions; [`KeyError::Random`] if
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
    /// [`KeyError::InvalidKeyId`] if `new` reuses the current master key's id;
    /// [`KeyError::UnwrapFailed`] if a stored wrap is corrupt; [`KeyError::Random`] if the
    /// system RNG fails.
    pub fn rotate_master_key(&mut self, new: MasterKey) -> Result<(), LogsError> {
        // The rewrapped keyring is built beside the old one and replaces it whole: nothing
        // changes unless every data key rewrapped, and no rewrap has to find its customer again.
        let prepared = self.prepare_master_rotation(new)?;
        self.commit_master_rotation(prepared);
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
        let tombstone = self.tombstone_for_shred(customer);
        let keys = self.customers.entry(customer).or_default();
        keys.tombstone = Some(tombstone);
        // Dropping the wrapped keys is the destruction: the plaintext data keys never exist
        // outside short-lived, zeroizing buffers.
        keys.live.clear();
    }

    /// Replaces what this keyring holds for `customer` by `stored`, a shared key store's view
    /// of them (their live keys and tombstone; entries of other customers are ignored). A
    /// tombstone never moves down. Returns whether the stored view shredded keys this keyring
    /// still held, so the caller can end sessions derived from them.
    ///
    /// # Errors
    ///
    /// [`KeyError::UnknownMasterKey`] if a stored key is wrapped under a master key this
    /// keyring does not hold (nothing changed then).
    pub(crate) fn adopt(
        &mut self,
        customer: CustomerId,
        stored: &KeyringSnapshot,
    ) -> Result<bool, LogsError> {
        let mut live = Versions::default();
        for key in stored
            .data_keys()
            .iter()
            .filter(|key| key.customer == customer)
        {
            let known = std::iter::once(&self.current)
                .chain(&self.retired)
                .any(|master| master.id == key.master_key);
            if !known {
                return Err(LogsError::Key(KeyError::UnknownMasterKey {
                    id: key.master_key.to_string(),
                }));
            }
            live.insert(key.clone());
        }
        let stored_tombstone = stored
            .shredded()
            .iter()
            .find(|(owner, _)| *owner == customer)
            .map(|&(_, tombstone)| tombstone);
        let keys = self.customers.entry(customer).or_default();
        let tombstone = match (keys.tombstone, stored_tombstone) {
            (Some(local), Some(stored)) => Some(local.max(stored)),
            (local, stored) => local.or(stored),
        };
        let shredded_here = keys
            .live
            .values()
            .any(|key| tombstone.is_some_and(|tombstone| tombstone.covers(key.version)));
        // A key at or below the tombstone is destroyed, whoever still lists it.
        live.0
            .retain(|key| !tombstone.is_some_and(|tombstone| tombstone.covers(key.version)));
        keys.live = live;
        keys.tombstone = tombstone;
        Ok(shredded_here)
    }

    /// The customer's data key of this version, unwrapped.
    pub(crate) fn data_key(
        &self,
        customer: CustomerId,
        version: KeyVersion,
    ) -> Result<DataKey, LogsError> {
        let Some(keys) = self.customers.get(&customer) else {
            return Err(LogsError::Open(OpenError::UnknownKeyVersion { version }));
        };
        if keys
            .tombstone
            .is_some_and(|tombstone| tombstone.covers(version))
        {
            return Err(LogsError::Open(OpenError::Shredded));
        }
        match keys.live.get(&version) {
            Some(wrapped) => self.unwrap(wrapped),
            None => Err(LogsError::Open(OpenError::UnknownKeyVersion { version })),
        }
    }

    fn unwrap(&self, wrapped: &WrappedDataKey) -> Result<DataKey, LogsError> {
        let master = std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|master| master.id == wrapped.master_key)
            .ok_or_else(|| {
                LogsError::Key(KeyError::UnknownMasterKey {
                    id: wrapped.master_key.to_string(),
                })
            })?;
        master.unwrap(wrapped)
    }

    /// Issues the customer's next data key version: a new random key, wrapped.
    fn add_next_version(&mut self, customer: CustomerId) -> Result<KeyVersion, LogsError> {
        let wrapped = self.prepare_next_version(customer)?;
        Ok(self.insert_prepared(wrapped))
    }

    /// The customer's next data key, wrapped, without issuing it: a store makes it durable
    /// first, then [`insert_prepared`](Self::insert_prepared) issues it.
    pub(crate) fn prepare_next_version(
        &self,
        customer: CustomerId,
    ) -> Result<WrappedDataKey, LogsError> {
        let version = match self.customers.get(&customer) {
            Some(keys) => keys.next_version()?,
            None => KeyVersion::FIRST,
        };
        let data_key = DataKey::generate(&self.rng)?;
        self.current.wrap(&self.rng, customer, version, &data_key)
    }

    /// Issues a key made by [`prepare_next_version`](Self::prepare_next_version) with nothing
    /// changed in between (the caller holds the keyring exclusively throughout).
    pub(crate) fn insert_prepared(&mut self, wrapped: WrappedDataKey) -> KeyVersion {
        let version = wrapped.version;
        self.customers
            .entry(wrapped.customer)
            .or_default()
            .live
            .insert(wrapped);
        version
    }

    /// The tombstone a shred of `customer` now would leave: through their newest version,
    /// never below an earlier tombstone (a shred with no live key keeps the last one).
    pub(crate) fn tombstone_for_shred(&self, customer: CustomerId) -> Tombstone {
        let keys = self.customers.get(&customer);
        let newest = Tombstone::new(keys.and_then(CustomerKeys::newest));
        keys.and_then(|keys| keys.tombstone)
            .map_or(newest, |tombstone| tombstone.max(newest))
    }

    /// Every data key rewrapped under `new`, without switching to it: a store makes the
    /// rewraps durable first, then [`commit_master_rotation`](Self::commit_master_rotation)
    /// switches.
    pub(crate) fn prepare_master_rotation(
        &self,
        new: MasterKey,
    ) -> Result<PreparedMasterRotation, LogsError> {
        if new.id == self.current.id || self.retired.iter().any(|m| m.id == new.id) {
            return Err(LogsError::Key(KeyError::InvalidKeyId {
                id: new.id.to_string(),
                reason: "a new master key needs a new id",
            }));
        }
        let mut customers = HashMap::with_capacity(self.customers.len());
        for (customer, keys) in &self.customers {
            let mut live = Versions::default();
            for wrapped in keys.live.values() {
                let data_key = self.unwrap(wrapped)?;
                let rewrapped = new.wrap(&self.rng, *customer, wrapped.version, &data_key)?;
                live.insert(rewrapped);
            }
            let tombstone = keys.tombstone;
            customers.insert(*customer, CustomerKeys { live, tombstone });
        }
        Ok(PreparedMasterRotation { new, customers })
    }

    /// Switches to a rotation made by
    /// [`prepare_master_rotation`](Self::prepare_master_rotation) with nothing changed in
    /// between.
    pub(crate) fn commit_master_rotation(&mut self, prepared: PreparedMasterRotation) {
        self.customers = prepared.customers;
        self.current = prepared.new;
        self.retired.clear();
    }
}

/// A master-key rotation computed but not applied: every data key rewrapped under the new
/// master key. Not `Clone`; `Debug` shows only counts.
pub struct PreparedMasterRotation {
    new: MasterKey,
    customers: HashMap<CustomerId, CustomerKeys>,
}

impl PreparedMasterRotation {
    /// Every rewrapped data key, for the key store.
    pub fn rewrapped(&self) -> impl Iterator<Item = &WrappedDataKey> + '_ {
        self.customers.values().flat_map(|keys| keys.live.values())
    }
}

impl fmt::Debug for PreparedMasterRotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedMasterRotation")
            .field("master_key", &self.new.id)
            .field("customers", &self.customers.len())
            .finish_non_exhaustive()
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
    use crate::keys::test_support::{customer, master};

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
            Err(LogsError::Key(KeyError::UnknownMasterKey { .. }))
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
            Err(LogsError::Key(KeyError::InvalidKeyId { .. }))
        ));
    }

    #[test]
    fn a_master_rotation_that_fails_midway_changes_nothing() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        for n in 1..=4 {
            keyring.ensure_data_key(customer(n)).unwrap();
        }
        keyring.shred(customer(2));
        // One stored wrap is corrupt: its customer's key cannot be rewrapped.
        let mut snapshot = keyring.snapshot();
        let corrupt = snapshot
            .data_keys
            .iter_mut()
            .find(|key| key.customer == customer(3))
            .unwrap();
        corrupt.ciphertext[0] ^= 1;
        let mut keyring = Keyring::restore(master("kek-1", 1), [], snapshot).unwrap();
        let before = keyring.snapshot();
        assert!(matches!(
            keyring.rotate_master_key(master("kek-2", 2)),
            Err(LogsError::Key(KeyError::UnwrapFailed { .. }))
        ));
        assert_eq!(keyring.master_key_id().as_str(), "kek-1");
        assert_eq!(keyring.snapshot(), before);
        assert!(keyring.data_key(customer(4), KeyVersion::FIRST).is_ok());
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
                Err(LogsError::Open(OpenError::Shredded))
            ));
        }
        assert!(!keyring.is_version_shredded(customer(1), v3));
        let v4 = v3.next().unwrap();
        assert!(matches!(
            keyring.data_key(customer(1), v4),
            Err(LogsError::Open(OpenError::UnknownKeyVersion { version })) if version == v4
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
                Err(LogsError::Open(OpenError::Shredded))
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
            Err(LogsError::Open(OpenError::Shredded))
        ));
        assert_eq!(restored.current_version(customer(1)), Some(v3));
    }

    #[test]
    fn a_tombstone_at_the_last_version_refuses_a_new_generation() {
        let last = KeyVersion::new(u32::MAX).unwrap();
        let tombstone = Tombstone::new(Some(last));
        assert!(tombstone.covers(last));
        assert!(matches!(
            tombstone.next_version(),
            Err(LogsError::Key(KeyError::KeyVersionOverflow))
        ));
        let snapshot = KeyringSnapshot::new(Vec::new(), vec![(customer(1), tombstone)]).unwrap();
        let mut keyring = Keyring::restore(master("kek-1", 1), [], snapshot).unwrap();
        assert!(matches!(
            keyring.ensure_data_key(customer(1)),
            Err(LogsError::Key(KeyError::KeyVersionOverflow))
        ));
        assert!(keyring.is_shredded(customer(1)));
        assert_eq!(format!("{tombstone:?}"), "Tombstone(through v4294967295)");
        assert_eq!(Tombstone::new(None).to_string(), "through v0");
    }
}
