//! Key-check values: how a store recognises its master key and audit key at start-up without
//! ever holding either.
//!
//! `MasterKey` and `AuditKey` of steward-logs expose neither their bytes nor a seal or MAC
//! under them (deliberately: key types as ring does them), and a `Keyring` takes its master
//! key by value, so the store cannot check a key through those types. It takes the raw bytes
//! the caller loaded instead, in a zeroizing copy ([`StoreKeys`]), computes its check values
//! with ring, and builds the steward-logs key types from the same bytes
//! ([`StoreKeys::master_key`], [`StoreKeys::audit_key`]), so the bytes are loaded once.
//!
//! - Master key: AES-256-GCM under the key, with a random nonce stored beside it, sealing a
//!   fixed label with the key id as associated data. Opening it back proves the key; the tag
//!   comparison inside ring is constant-time. Known plaintext reveals nothing about an AES key.
//! - Audit key: HMAC-SHA256 under the configured key of a fixed label (a label of its own,
//!   so the value is unrelated to the chain's derived entry key), compared with
//!   `ring::hmac::verify`, which is constant-time.

use std::fmt;

use ring::{
    aead, hmac,
    rand::{SecureRandom, SystemRandom},
};
use steward_logs::{AuditKey, KEY_LEN, MasterKey, MasterKeyId};
use zeroize::Zeroizing;

use crate::StoreError;

const MASTER_CHECK_LABEL: &[u8] = b"steward-store/v1/master-key-check";
const AUDIT_CHECK_LABEL: &[u8] = b"steward-store/v1/audit-key-check";
pub(crate) const NONCE_LEN: usize = 12;

/// The key material a store checks at start-up: the master key (with its id) and the audit
/// key, as the raw bytes the service loaded from its configuration.
///
/// The store never writes these bytes anywhere: it stores check values computed from them
/// (see the crate docs, "Integrity at start-up"). Build the steward-logs keys from the same
/// bytes with [`master_key`](Self::master_key) and [`audit_key`](Self::audit_key). Not
/// `Clone`; the bytes are zeroized on drop; `Debug` shows only the master key id.
///
/// ```
/// use steward_store::StoreKeys;
///
/// let keys = StoreKeys::new("kek-2025-03".parse()?, &[0x42; 32], &[0x17; 32])?;
/// assert_eq!(keys.master_key_id().as_str(), "kek-2025-03");
/// assert!(!format!("{keys:?}").contains("42"));
/// assert!(StoreKeys::new("kek-1".parse()?, &[0x42; 31], &[0x17; 32]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StoreKeys {
    master_id: MasterKeyId,
    master: Zeroizing<[u8; KEY_LEN]>,
    audit: Zeroizing<Vec<u8>>,
}

impl StoreKeys {
    /// Keys from the master key's id and 32 bytes, and the audit key's bytes (at least 32).
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidKey`] for a master key of another length than 32 bytes or an
    /// audit key shorter than 32 bytes.
    pub fn new(master_id: MasterKeyId, master: &[u8], audit: &[u8]) -> Result<Self, StoreError> {
        Ok(Self {
            master_id,
            master: master_bytes(master)?,
            audit: audit_bytes(audit)?,
        })
    }

    /// The master key's id.
    #[must_use]
    pub const fn master_key_id(&self) -> &MasterKeyId {
        &self.master_id
    }

    /// The master key, for a `Keyring`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Logs`] if steward-logs refuses the key (it accepts what [`new`](Self::new)
    /// accepted).
    pub fn master_key(&self) -> Result<MasterKey, StoreError> {
        Ok(MasterKey::from_bytes(
            self.master_id.clone(),
            self.master.as_slice(),
        )?)
    }

    /// The audit key, for an `AuditTrail`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Logs`] if steward-logs refuses the key (it accepts what [`new`](Self::new)
    /// accepted).
    pub fn audit_key(&self) -> Result<AuditKey, StoreError> {
        Ok(AuditKey::from_bytes(&self.audit)?)
    }

    pub(crate) fn master_bytes(&self) -> &[u8; KEY_LEN] {
        &self.master
    }

    pub(crate) fn audit_check(&self) -> AuditCheck {
        AuditCheck::compute(&self.audit)
    }
}

impl fmt::Debug for StoreKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreKeys")
            .field("master_key_id", &self.master_id)
            .finish_non_exhaustive()
    }
}

/// Copies a master key into a zeroizing array, refusing another length.
pub(crate) fn master_bytes(bytes: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, StoreError> {
    let mut key = Zeroizing::new([0_u8; KEY_LEN]);
    if bytes.len() != KEY_LEN {
        return Err(StoreError::InvalidKey {
            reason: "a master key is exactly 32 bytes",
        });
    }
    key.copy_from_slice(bytes);
    Ok(key)
}

fn audit_bytes(bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    if bytes.len() < AuditKey::MIN_LEN {
        return Err(StoreError::InvalidKey {
            reason: "an audit key is at least 32 bytes",
        });
    }
    Ok(Zeroizing::new(bytes.to_vec()))
}

/// The stored check of one master key: a nonce and the sealed label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MasterCheck {
    pub(crate) nonce: [u8; NONCE_LEN],
    pub(crate) sealed: Vec<u8>,
}

impl MasterCheck {
    /// Seals the label under `key`, with a fresh random nonce.
    pub(crate) fn compute(id: &MasterKeyId, key: &[u8; KEY_LEN]) -> Result<Self, StoreError> {
        let mut nonce = [0_u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| StoreError::InvalidKey {
                reason: "the system random source failed",
            })?;
        let key = aes_key(key)?;
        let mut sealed = MASTER_CHECK_LABEL.to_vec();
        key.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(id.as_str().as_bytes()),
            &mut sealed,
        )
        .map_err(|_| StoreError::InvalidKey {
            reason: "sealing the master key check failed",
        })?;
        Ok(Self { nonce, sealed })
    }

    /// Whether `key` opens the check (the tag is compared in constant time inside ring).
    pub(crate) fn verify(&self, id: &MasterKeyId, key: &[u8; KEY_LEN]) -> Result<(), StoreError> {
        let wrong = || StoreError::WrongMasterKey { id: id.clone() };
        let key = aes_key(key)?;
        let mut buffer = self.sealed.clone();
        let opened = key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(self.nonce),
                aead::Aad::from(id.as_str().as_bytes()),
                &mut buffer,
            )
            .map_err(|_| wrong())?;
        // The label is public: an ordinary comparison leaks nothing.
        if opened == MASTER_CHECK_LABEL {
            Ok(())
        } else {
            Err(wrong())
        }
    }
}

fn aes_key(key: &[u8; KEY_LEN]) -> Result<aead::LessSafeKey, StoreError> {
    let unbound =
        aead::UnboundKey::new(&aead::AES_256_GCM, key).map_err(|_| StoreError::InvalidKey {
            reason: "a master key is exactly 32 bytes",
        })?;
    Ok(aead::LessSafeKey::new(unbound))
}

/// The stored check of the audit key: HMAC-SHA256 of a label.
pub(crate) struct AuditCheck {
    key: hmac::Key,
    tag: hmac::Tag,
}

impl AuditCheck {
    fn compute(configured: &[u8]) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, configured);
        let tag = hmac::sign(&key, AUDIT_CHECK_LABEL);
        Self { key, tag }
    }

    /// The value to store.
    pub(crate) fn value(&self) -> &[u8] {
        self.tag.as_ref()
    }

    /// Compares a stored value with this key's, in constant time.
    pub(crate) fn verify(&self, stored: &[u8]) -> Result<(), StoreError> {
        hmac::verify(&self.key, AUDIT_CHECK_LABEL, stored).map_err(|_| StoreError::WrongAuditKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> MasterKeyId {
        text.parse().unwrap()
    }

    #[test]
    fn master_check_opens_only_under_its_key_and_id() {
        let check = MasterCheck::compute(&id("kek-1"), &[1; 32]).unwrap();
        check.verify(&id("kek-1"), &[1; 32]).unwrap();
        assert!(matches!(
            check.verify(&id("kek-1"), &[2; 32]),
            Err(StoreError::WrongMasterKey { .. })
        ));
        assert!(matches!(
            check.verify(&id("kek-2"), &[1; 32]),
            Err(StoreError::WrongMasterKey { .. })
        ));
        // A fresh nonce each time: two checks of one key differ.
        let again = MasterCheck::compute(&id("kek-1"), &[1; 32]).unwrap();
        assert_ne!(check, again);
    }

    #[test]
    fn audit_check_verifies_only_its_key() {
        let stored = AuditCheck::compute(&[3; 32]).value().to_vec();
        AuditCheck::compute(&[3; 32]).verify(&stored).unwrap();
        assert!(matches!(
            AuditCheck::compute(&[4; 32]).verify(&stored),
            Err(StoreError::WrongAuditKey)
        ));
        // The check is not the chain's entry key: HMAC(key, entry label) differs from it.
        let entry_key = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &[3; 32]),
            b"steward-logs/v2/audit-entry-key",
        );
        assert_ne!(entry_key.as_ref(), stored.as_slice());
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let keys = StoreKeys::new(id("kek-1"), &[0xab; 32], &[0xcd; 40]).unwrap();
        let text = format!("{keys:?}");
        assert!(text.contains("kek-1"));
        assert!(!text.contains("171") && !text.to_lowercase().contains("ab, "));
        assert!(keys.master_key().is_ok() && keys.audit_key().is_ok());
    }
}
