//! Where wrapped data keys are persisted, change by change.

use steward_core::CustomerId;

use super::{Tombstone, WrappedDataKey};
use crate::BoxError as StoreError;

/// Where wrapped data keys and tombstones are kept, one change at a time (never a whole
/// snapshot). [`Custody`](crate::Custody) writes ahead: a new data key is durable before any
/// record sealed under it is returned, a shred before it is reported, a master-key rotation
/// before the keyring switches to it. Each method must return `Ok` only once its change is
/// durable, and leave nothing changed when it returns an error.
///
/// [`NoKeyStore`] keeps nothing (a keyring that lives in this process only); steward-store
/// implements it over SQLite.
pub trait KeyStore: Send + Sync {
    /// Stores a new wrapped data key: a customer's first key, a rotation, or the first key
    /// of a new generation after a shred.
    ///
    /// # Errors
    ///
    /// Whatever kept the key from being stored; the key is then not issued.
    fn put_data_key(&self, key: &WrappedDataKey) -> Result<(), StoreError>;

    /// Destroys every wrapped data key of `customer` for good and records `tombstone`.
    ///
    /// # Errors
    ///
    /// Whatever kept the shred from being stored; nothing is shredded then.
    fn shred(&self, customer: CustomerId, tombstone: Tombstone) -> Result<(), StoreError>;

    /// Replaces every wrapped data key by its rewrap under a new master key, all or nothing.
    ///
    /// # Errors
    ///
    /// Whatever kept the rewrap from being stored; the old master key stays in use then.
    fn rewrap(&self, keys: &[WrappedDataKey]) -> Result<(), StoreError>;
}

/// A [`KeyStore`] that keeps nothing: the keyring lives in this process only (tests,
/// examples, or a service that persists [`Keyring::snapshot`](crate::Keyring::snapshot)
/// itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoKeyStore;

impl KeyStore for NoKeyStore {
    fn put_data_key(&self, _key: &WrappedDataKey) -> Result<(), StoreError> {
        Ok(())
    }

    fn shred(&self, _customer: CustomerId, _tombstone: Tombstone) -> Result<(), StoreError> {
        Ok(())
    }

    fn rewrap(&self, _keys: &[WrappedDataKey]) -> Result<(), StoreError> {
        Ok(())
    }
}
