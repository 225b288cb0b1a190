//! The keyring: master keys and every customer's wrapped data keys, rotation and shredding.

use std::{collections::HashSet, fmt, ops::Range};

use ring::rand::SystemRandom;
use steward_core::{CustomerId, CustomerMap};

use super::{
    KeyVersion, KeyringSnapshot, MasterKey, MasterKeyId, Tombstone, WrappedDataKey,
    wrapped::DataKey,
};
use crate::{KeyError, LogsError, OpenError};

/// A changed customer's live wrapped keys, sorted by version: a customer has one or a few.
#[derive(Default)]
struct Versions(Vec<WrappedDataKey>);

impl Versions {
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
}

/// The keyring: master keys and every customer's wrapped data keys.
///
/// One random data key per customer and version (never derived from the master key, so one
/// customer can be shredded alone). The newest version seals; older versions only open. A
/// shred destroys every version so far and leaves a [`Tombstone`]; if the customer comes back,
/// their next data key starts a new generation above it.
///
/// Data keys stay wrapped in the keyring: each use unwraps the one it needs (AES-256-GCM under
/// the master key, which authenticates the wrap), so a wrapped key altered at rest fails at its
/// first use with [`KeyError::UnwrapFailed`], never opening anything, while a restore reads
/// no key material at all. A wrong master key is refused earlier, when the store opens (its
/// check value, see [`MasterKey::verify_check`]).
///
/// ```
/// use steward_logs::{Keyring, KeyVersion, MasterKey};
/// use steward_core::CustomerId;
///
/// let master = MasterKey::from_bytes("kek-1".parse()?, b"steward test key 07, not secret!")?;
/// let mut keyring = Keyring::new(master);
/// let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// assert_eq!(keyring.ensure_data_key(customer)?, KeyVersion::FIRST);
/// assert_eq!(keyring.rotate_data_key(customer)?.get(), 2);
/// keyring.rotate_master_key(MasterKey::from_bytes("kek-2".parse()?, b"steward test key 08, not secret!")?)?;
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
    /// The keys of the restored snapshot (or of the last master rotation), as it holds them:
    /// sorted by customer and version, a customer's keys one run found by binary search. A
    /// restore of a million customers thus moves one vector and builds no map. INVARIANT: the
    /// run of a customer in `changed` is wiped and never read (their entry there is the truth).
    restored: Vec<WrappedDataKey>,
    /// The live keys of every customer whose keys changed since (a new key, a rotation, a
    /// shred, an adopted store view).
    changed: CustomerMap<Versions>,
    /// What each customer's last shred destroyed; no entry if they were never shredded.
    /// INVARIANT: every live version is above its customer's tombstone (new versions are
    /// numbered from the tombstone up, and a restored snapshot was checked for it).
    tombstones: CustomerMap<Tombstone>,
    rng: SystemRandom,
}

impl Keyring {
    /// An empty keyring whose data keys will be wrapped under `master`.
    #[must_use]
    pub fn new(master: MasterKey) -> Self {
        Self {
            current: master,
            retired: Vec::new(),
            restored: Vec::new(),
            changed: CustomerMap::default(),
            tombstones: CustomerMap::default(),
            rng: SystemRandom::new(),
        }
    }

    /// A keyring rebuilt from a persisted snapshot, tombstones included.
    ///
    /// `current` wraps new data keys; `retired` master keys only unwrap data keys still
    /// wrapped under them (for example after a master rotation that was not yet persisted).
    ///
    /// Nothing is unwrapped here: each data key is unwrapped when it is used, and one altered
    /// at rest fails then, with [`KeyError::UnwrapFailed`] (see [`Keyring`]). The snapshot's
    /// vector of keys becomes the keyring's, so a restore costs one pass over the keys.
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
        // Nearly every key names the same master key as the key before it.
        let mut known: Option<&MasterKeyId> = None;
        for key in &snapshot.data_keys {
            if known != Some(&key.master_key) {
                if !ids.contains(&key.master_key) {
                    return Err(LogsError::Key(KeyError::UnknownMasterKey {
                        id: key.master_key.to_string(),
                    }));
                }
                known = Some(&key.master_key);
            }
        }
        // KeyringSnapshot::new sorted the keys by customer and version, found no key twice
        // and none at or below its tombstone: the vector is a valid `restored` as it is.
        let mut tombstones =
            CustomerMap::with_capacity_and_hasher(snapshot.shredded.len(), Default::default());
        tombstones.extend(snapshot.shredded);
        Ok(Self {
            current,
            retired,
            restored: snapshot.data_keys,
            changed: CustomerMap::default(),
            tombstones,
            rng: SystemRandom::new(),
        })
    }

    /// Everything a store must persist to rebuild this keyring, in a stable order.
    #[must_use]
    pub fn snapshot(&self) -> KeyringSnapshot {
        let mut data_keys: Vec<WrappedDataKey> = self.all_live().cloned().collect();
        data_keys.sort_by_key(|key| (key.customer, key.version));
        let mut shredded: Vec<(CustomerId, Tombstone)> = self
            .tombstones
            .iter()
            .map(|(customer, tombstone)| (*customer, *tombstone))
            .collect();
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
        newest(self.live(customer))
    }

    /// Whether the customer was crypto-shredded and has no data key since: nothing of theirs
    /// can be opened. False again once a returning customer is issued a new data key (their
    /// old versions stay destroyed: see [`is_version_shredded`](Self::is_version_shredded)).
    #[must_use]
    pub fn is_shredded(&self, customer: CustomerId) -> bool {
        self.tombstones.contains_key(&customer) && self.live(customer).is_empty()
    }

    /// What the customer's last shred destroyed; `None` if they were never shredded.
    #[must_use]
    pub fn shredded_through(&self, customer: CustomerId) -> Option<Tombstone> {
        self.tombstones.get(&customer).copied()
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
        self.tombstones.insert(customer, tombstone);
        // Dropping the wrapped keys is the destruction: the plaintext data keys never exist
        // outside short-lived, zeroizing buffers.
        self.replace_live(customer, Versions::default());
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
        let tombstone = match (self.shredded_through(customer), stored_tombstone) {
            (Some(local), Some(stored)) => Some(local.max(stored)),
            (local, stored) => local.or(stored),
        };
        let shredded_here = self
            .live(customer)
            .iter()
            .any(|key| tombstone.is_some_and(|tombstone| tombstone.covers(key.version)));
        // A key at or below the tombstone is destroyed, whoever still lists it.
        live.0
            .retain(|key| !tombstone.is_some_and(|tombstone| tombstone.covers(key.version)));
        self.replace_live(customer, live);
        if let Some(tombstone) = tombstone {
            self.tombstones.insert(customer, tombstone);
        }
        Ok(shredded_here)
    }

    /// The customer's data key of this version, unwrapped.
    ///
    /// # Errors
    ///
    /// [`OpenError::Shredded`] if a shred destroyed it; [`OpenError::UnknownKeyVersion`] if
    /// there is no such key; [`KeyError::UnwrapFailed`] if its wrap does not open under its
    /// master key (altered at rest: this is where that is found, at the key's first use).
    pub(crate) fn data_key(
        &self,
        customer: CustomerId,
        version: KeyVersion,
    ) -> Result<DataKey, LogsError> {
        if self.is_version_shredded(customer, version) {
            return Err(LogsError::Open(OpenError::Shredded));
        }
        let live = self.live(customer);
        match live
            .binary_search_by_key(&version, |key| key.version)
            .ok()
            .and_then(|index| live.get(index))
        {
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

    /// The customer's live keys, oldest first.
    fn live(&self, customer: CustomerId) -> &[WrappedDataKey] {
        match self.changed.get(&customer) {
            Some(versions) => &versions.0,
            None => self
                .restored
                .get(run(&self.restored, customer))
                .unwrap_or_default(),
        }
    }

    /// Every live key, in no particular order.
    fn all_live(&self) -> impl Iterator<Item = &WrappedDataKey> + '_ {
        self.restored
            .iter()
            .filter(|key| !self.changed.contains_key(&key.customer))
            .chain(self.changed.values().flat_map(|versions| versions.0.iter()))
    }

    /// Makes `live` the customer's live keys, wiping their restored run (if any) so that no
    /// stale copy of a replaced or shredded wrap stays behind.
    fn replace_live(&mut self, customer: CustomerId, live: Versions) {
        if !self.changed.contains_key(&customer) {
            let range = run(&self.restored, customer);
            if let Some(keys) = self.restored.get_mut(range) {
                keys.iter_mut().for_each(WrappedDataKey::wipe);
            }
        }
        self.changed.insert(customer, live);
    }

    /// The version the customer's next data key gets: after their newest live one, else
    /// after their tombstone, so no version number is issued twice.
    fn next_version(&self, customer: CustomerId) -> Result<KeyVersion, LogsError> {
        match (
            self.current_version(customer),
            self.shredded_through(customer),
        ) {
            (Some(newest), _) => newest.next(),
            (None, Some(tombstone)) => tombstone.next_version(),
            (None, None) => Ok(KeyVersion::FIRST),
        }
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
        let version = self.next_version(customer)?;
        let data_key = DataKey::generate(&self.rng)?;
        self.current.wrap(&self.rng, customer, version, &data_key)
    }

    /// Issues a key made by [`prepare_next_version`](Self::prepare_next_version) with nothing
    /// changed in between (the caller holds the keyring exclusively throughout).
    pub(crate) fn insert_prepared(&mut self, wrapped: WrappedDataKey) -> KeyVersion {
        let version = wrapped.version;
        let customer = wrapped.customer;
        if !self.changed.contains_key(&customer) {
            let mut live = Versions(self.live(customer).to_vec());
            live.insert(wrapped);
            self.replace_live(customer, live);
        } else if let Some(live) = self.changed.get_mut(&customer) {
            live.insert(wrapped);
        }
        version
    }

    /// The tombstone a shred of `customer` now would leave: through their newest version,
    /// never below an earlier tombstone (a shred with no live key keeps the last one).
    pub(crate) fn tombstone_for_shred(&self, customer: CustomerId) -> Tombstone {
        let newest = Tombstone::new(self.current_version(customer));
        self.shredded_through(customer)
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
        let mut keys = Vec::with_capacity(self.restored.len());
        for wrapped in self.all_live() {
            let data_key = self.unwrap(wrapped)?;
            keys.push(new.wrap(&self.rng, wrapped.customer, wrapped.version, &data_key)?);
        }
        keys.sort_by_key(|key| (key.customer, key.version));
        Ok(PreparedMasterRotation { new, keys })
    }

    /// Switches to a rotation made by
    /// [`prepare_master_rotation`](Self::prepare_master_rotation) with nothing changed in
    /// between. The rewrapped keys, sorted, become the restored run of every customer.
    pub(crate) fn commit_master_rotation(&mut self, prepared: PreparedMasterRotation) {
        self.restored = prepared.keys;
        self.changed = CustomerMap::default();
        self.current = prepared.new;
        self.retired.clear();
    }
}

/// The newest of a customer's live keys (sorted by version).
fn newest(live: &[WrappedDataKey]) -> Option<KeyVersion> {
    live.last().map(|key| key.version)
}

/// Where `customer`'s run is in `keys`, sorted by customer (empty if they have none).
fn run(keys: &[WrappedDataKey], customer: CustomerId) -> Range<usize> {
    let start = keys.partition_point(|key| key.customer < customer);
    let length = keys
        .get(start..)
        .unwrap_or_default()
        .partition_point(|key| key.customer == customer);
    start..start.saturating_add(length)
}

/// A master-key rotation computed but not applied: every data key rewrapped under the new
/// master key. Not `Clone`; `Debug` shows only counts.
pub struct PreparedMasterRotation {
    new: MasterKey,
    /// Sorted by customer and version.
    keys: Vec<WrappedDataKey>,
}

impl PreparedMasterRotation {
    /// Every rewrapped data key, for the key store.
    pub fn rewrapped(&self) -> impl Iterator<Item = &WrappedDataKey> + '_ {
        self.keys.iter()
    }
}

impl fmt::Debug for PreparedMasterRotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedMasterRotation")
            .field("master_key", &self.new.id)
            .field("data_keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("master_key", &self.current.id)
            .field("retired_master_keys", &self.retired.len())
            .field("restored_keys", &self.restored.len())
            .field("changed_customers", &self.changed.len())
            .field("shredded_customers", &self.tombstones.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{
        test_support::{customer, master},
        wrapped::WRAPPED_LEN,
    };

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

    /// What a keyring shows of `customer`: versions, tombstone, and which versions open.
    #[expect(clippy::type_complexity, reason = "a test's snapshot of four answers")]
    fn view(
        keyring: &Keyring,
        customer: CustomerId,
    ) -> (
        Option<KeyVersion>,
        Option<Tombstone>,
        bool,
        Vec<Result<[u8; 32], String>>,
    ) {
        let opens: Vec<Result<[u8; 32], String>> = (1..=10)
            .map(|version| {
                keyring
                    .data_key(customer, KeyVersion::new(version).unwrap())
                    .map(|key| *key.as_bytes())
                    .map_err(|error| error.to_string())
            })
            .collect();
        (
            keyring.current_version(customer),
            keyring.shredded_through(customer),
            keyring.is_shredded(customer),
            opens,
        )
    }

    proptest::proptest! {
        // The restored keys are one sorted vector searched by customer; keys adopted or issued
        // since live in a map. Both must answer alike, before and after any change.
        #[test]
        fn restore_of_many_keys_equals_adopting_them_one_by_one(
            plan in proptest::collection::btree_map(
                1_u8..=12,
                (0_u32..3, proptest::option::of(0_u32..3)),
                0..10,
            ),
            changes in proptest::collection::vec((0_u8..3, 1_u8..=13), 0..12),
        ) {
            let mut source = Keyring::new(master("kek-1", 1));
            for (&n, &(live, shredded_through)) in &plan {
                if let Some(through) = shredded_through {
                    for _ in 0..through {
                        source.rotate_data_key(customer(n)).unwrap();
                    }
                    source.shred(customer(n));
                }
                for _ in 0..live {
                    source.rotate_data_key(customer(n)).unwrap();
                }
            }
            let snapshot = source.snapshot();
            let mut restored = Keyring::restore(master("kek-1", 1), [], snapshot.clone()).unwrap();
            let mut adopted = Keyring::new(master("kek-1", 1));
            for &n in plan.keys() {
                adopted.adopt(customer(n), &snapshot).unwrap();
            }
            proptest::prop_assert_eq!(restored.snapshot(), snapshot.clone());
            proptest::prop_assert_eq!(adopted.snapshot(), snapshot);
            for (kind, n) in changes {
                for keyring in [&mut restored, &mut adopted] {
                    match kind {
                        0 => drop(keyring.ensure_data_key(customer(n)).unwrap()),
                        1 => drop(keyring.rotate_data_key(customer(n)).unwrap()),
                        _ => keyring.shred(customer(n)),
                    }
                }
                let versions = |keyring: &Keyring| {
                    keyring
                        .snapshot()
                        .data_keys()
                        .iter()
                        .map(|key| (key.customer(), key.version()))
                        .collect::<Vec<_>>()
                };
                proptest::prop_assert_eq!(versions(&restored), versions(&adopted));
                proptest::prop_assert_eq!(
                    restored.snapshot().shredded().to_vec(),
                    adopted.snapshot().shredded().to_vec()
                );
            }
            // New keys are random: compare what each keyring opens before and after a master
            // rotation, which rebuilds the sorted vector from both kinds of entry.
            for keyring in [&mut restored, &mut adopted] {
                let before: Vec<_> = (1..=13).map(|n| view(keyring, customer(n))).collect();
                keyring.rotate_master_key(master("kek-2", 2)).unwrap();
                let after: Vec<_> = (1..=13).map(|n| view(keyring, customer(n))).collect();
                proptest::prop_assert_eq!(before, after);
            }
        }
    }

    #[test]
    fn restored_keys_open_as_they_did_before_the_restore() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        for n in 1..=20 {
            keyring.ensure_data_key(customer(n)).unwrap();
            if n % 3 == 0 {
                keyring.rotate_data_key(customer(n)).unwrap();
            }
            if n % 5 == 0 {
                keyring.shred(customer(n));
            }
        }
        let restored = Keyring::restore(master("kek-1", 1), [], keyring.snapshot()).unwrap();
        for n in 1..=21 {
            assert_eq!(
                view(&restored, customer(n)),
                view(&keyring, customer(n)),
                "customer {n}"
            );
        }
    }

    #[test]
    fn a_change_after_a_restore_wipes_the_restored_copy_of_the_wraps() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.ensure_data_key(customer(1)).unwrap();
        keyring.ensure_data_key(customer(2)).unwrap();
        let mut restored = Keyring::restore(master("kek-1", 1), [], keyring.snapshot()).unwrap();
        restored.shred(customer(1));
        restored.rotate_data_key(customer(2)).unwrap();
        // The restored vector keeps its entries, but no wrap of theirs is left in it.
        assert!(
            restored
                .restored
                .iter()
                .all(|key| key.ciphertext == [0; WRAPPED_LEN] && key.nonce == [0; 12])
        );
        assert!(matches!(
            restored.data_key(customer(1), KeyVersion::FIRST),
            Err(LogsError::Open(OpenError::Shredded))
        ));
        assert_eq!(
            restored
                .data_key(customer(2), KeyVersion::FIRST)
                .unwrap()
                .as_bytes(),
            keyring
                .data_key(customer(2), KeyVersion::FIRST)
                .unwrap()
                .as_bytes()
        );
        assert_eq!(restored.snapshot().data_keys().len(), 2);
    }

    #[test]
    fn a_tampered_wrap_restores_and_fails_at_first_use() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.ensure_data_key(customer(1)).unwrap();
        keyring.ensure_data_key(customer(2)).unwrap();
        let mut snapshot = keyring.snapshot();
        let tampered = snapshot
            .data_keys
            .iter_mut()
            .find(|key| key.customer == customer(1))
            .unwrap();
        tampered.ciphertext[40] ^= 0x80;
        let restored = Keyring::restore(master("kek-1", 1), [], snapshot).unwrap();
        for _ in 0..2 {
            assert!(matches!(
                restored.data_key(customer(1), KeyVersion::FIRST),
                Err(LogsError::Key(KeyError::UnwrapFailed { version })) if version == KeyVersion::FIRST
            ));
        }
        assert!(restored.data_key(customer(2), KeyVersion::FIRST).is_ok());
        // Under another master key of the same id nothing unwraps either.
        let wrong = Keyring::restore(master("kek-1", 9), [], keyring.snapshot()).unwrap();
        assert!(matches!(
            wrong.data_key(customer(2), KeyVersion::FIRST),
            Err(LogsError::Key(KeyError::UnwrapFailed { .. }))
        ));
    }
}
