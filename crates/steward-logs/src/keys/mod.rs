//! The key hierarchy: master keys wrap one random data key per customer and key version.
//!
//! `logs.encrypted`: data keys exist outside memory only wrapped under a master key, with the
//! master key id, customer and version bound into the wrap's AAD, so a wrapped key cannot be
//! moved to another customer or version unseen. Crypto-shredding a customer forgets every
//! version of their data key, which makes every copy of the records sealed so far unreadable,
//! and leaves a [`Tombstone`]: a returning customer's new data keys are numbered above it, so
//! the destroyed versions stay destroyed.

mod check;
mod keyring;
mod master;
mod material;
mod snapshot;
mod store;
mod strength;
mod version;
mod wrapped;

pub(crate) use self::{check::AUDIT_CHECK_LABEL, strength::weakness, wrapped::DataKey};
pub use self::{
    check::{AuditKeyCheck, MasterKeyCheck},
    keyring::{Keyring, PreparedMasterRotation},
    master::{MasterKey, MasterKeyId},
    material::KeyMaterial,
    snapshot::KeyringSnapshot,
    store::{KeyAdmission, KeyEpoch, KeyStore, NoKeyStore},
    version::{KeyVersion, Tombstone},
    wrapped::WrappedDataKey,
};

/// Length of master keys and data keys, in bytes (256 bits).
pub const KEY_LEN: usize = 32;

/// Helpers shared by the tests of the key modules.
#[cfg(test)]
pub(crate) mod test_support {
    use steward_core::CustomerId;

    use super::MasterKey;

    pub(super) fn customer(n: u8) -> CustomerId {
        CustomerId::new(uuid::Uuid::from_bytes([n; 16])).unwrap()
    }

    pub(super) fn master(id: &str, byte: u8) -> MasterKey {
        MasterKey::from_bytes(id.parse().unwrap(), &test_key(byte)).unwrap()
    }

    /// A fixed key that is not trivially weak (keys like `[byte; 32]` are refused), one per
    /// `byte`: `steward test key {byte:02x}, not secret!`.
    pub(crate) fn test_key(byte: u8) -> [u8; 32] {
        let mut key = [0; 32];
        key.copy_from_slice(format!("steward test key {byte:02x}, not secret!").as_bytes());
        key
    }
}
