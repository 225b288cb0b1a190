//! Where wrapped data keys are persisted, change by change.

use steward_core::CustomerId;

use super::{KeyringSnapshot, Tombstone, WrappedDataKey};
use crate::BoxError;

/// What a key store did with a new data key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyAdmission {
    /// The key is stored (durable): the custody issues it.
    Stored,
    /// The store is shared with other custodies (several nodes on one database) and one of
    /// them changed this customer's keys first: it stored a key of this version (the first
    /// writer wins) or shredded the customer. The snapshot holds the customer's keys and
    /// tombstone as stored now; the custody adopts it and seals under the stored key, so
    /// every node uses one key per version.
    Superseded(KeyringSnapshot),
}

/// A value a shared [`KeyStore`] changes with every change to its data keys and tombstones,
/// in the same transaction, whoever makes it through the store (another process, another
/// node): equal values read at two moments mean that no key was issued, rewrapped or
/// shredded in between. (The SQLite store keeps it with triggers; someone with write access
/// to the file who drops them can change keys unseen, as they could edit any table.) Drawn at
/// random on each change rather than counted, so that a store restored from a backup does
/// not come back to a value it had with other keys.
///
/// ```
/// use steward_logs::KeyEpoch;
///
/// assert_eq!(KeyEpoch::new(42), KeyEpoch::new(42));
/// assert_ne!(KeyEpoch::new(42), KeyEpoch::new(-42));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyEpoch(i64);

impl KeyEpoch {
    /// The epoch a store read.
    #[must_use]
    pub const fn new(value: i64) -> Self {
        Self(value)
    }
}

/// Where wrapped data keys and tombstones are kept, one change at a time (never a whole
/// snapshot). [`Custody`](crate::Custody) writes ahead: a new data key is durable before any
/// record sealed under it is returned, a shred before it is reported, a master-key rotation
/// before the keyring switches to it. Each method must return `Ok` only once its change is
/// durable, and leave nothing changed when it returns an error.
///
/// [`NoKeyStore`] keeps nothing (a keyring that lives in this process only); steward-store
/// implements it over SQLite and, with its feature `postgres`, over PostgreSQL.
pub trait KeyStore: Send + Sync {
    /// Stores a new wrapped data key: a customer's first key, a rotation, or the first key
    /// of a new generation after a shred.
    ///
    /// A store shared by several custodies stores the key only if no key of its customer and
    /// version is stored yet and the version is above the customer's stored tombstone (an
    /// atomic compare-and-swap), and otherwise answers [`KeyAdmission::Superseded`] with what
    /// it holds for the customer.
    ///
    /// # Errors
    ///
    /// Whatever kept the key from being stored; the key is then not issued.
    fn put_data_key(&self, key: &WrappedDataKey) -> Result<KeyAdmission, BoxError>;

    /// Whether other custodies (other nodes) write to this store too. Only then does the
    /// custody ask [`customer_keys`](Self::customer_keys) before it uses a customer's keys;
    /// a store with one custody (the default, `false`) costs its seals and opens nothing.
    fn is_shared(&self) -> bool {
        false
    }

    /// The customer's keys and tombstone as stored now, for a store shared by several
    /// custodies: the custody adopts them before it starts a sealing session and before it
    /// opens a record, so a key issued or a shred made by another node is used here too.
    /// A store written by one custody returns `None` (the default): its keyring in memory
    /// is then the truth, and nothing is read.
    ///
    /// # Errors
    ///
    /// Whatever kept the store from being read; the seal or open then fails closed.
    fn customer_keys(&self, _customer: CustomerId) -> Result<Option<KeyringSnapshot>, BoxError> {
        Ok(None)
    }

    /// The store's [`KeyEpoch`] now, for a shared store that keeps one; `None` (the default)
    /// if it keeps none, and then the custody reads [`customer_keys`](Self::customer_keys)
    /// before every open. With one, a custody that read a customer's keys at an epoch opens
    /// their next records without reading them again while the epoch is unchanged: an export
    /// of many records of one customer reads one value per record instead of their keys.
    ///
    /// # Errors
    ///
    /// Whatever kept the store from being read; the open then fails closed.
    fn key_epoch(&self) -> Result<Option<KeyEpoch>, BoxError> {
        Ok(None)
    }

    /// Destroys every wrapped data key of `customer` for good and records `tombstone`. A
    /// store shared by several custodies raises the tombstone to the newest version it holds
    /// for the customer, which another node may have issued after this custody last looked.
    ///
    /// # Errors
    ///
    /// Whatever kept the shred from being stored; nothing is shredded then.
    fn shred(&self, customer: CustomerId, tombstone: Tombstone) -> Result<(), BoxError>;

    /// Replaces every wrapped data key by its rewrap under a new master key, all or nothing.
    ///
    /// # Errors
    ///
    /// Whatever kept the rewrap from being stored; the old master key stays in use then.
    fn rewrap(&self, keys: &[WrappedDataKey]) -> Result<(), BoxError>;
}

/// A [`KeyStore`] that keeps nothing: the keyring lives in this process only (tests,
/// examples, or a service that persists [`Keyring::snapshot`](crate::Keyring::snapshot)
/// itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoKeyStore;

impl KeyStore for NoKeyStore {
    fn put_data_key(&self, _key: &WrappedDataKey) -> Result<KeyAdmission, BoxError> {
        Ok(KeyAdmission::Stored)
    }

    fn shred(&self, _customer: CustomerId, _tombstone: Tombstone) -> Result<(), BoxError> {
        Ok(())
    }

    fn rewrap(&self, _keys: &[WrappedDataKey]) -> Result<(), BoxError> {
        Ok(())
    }
}
