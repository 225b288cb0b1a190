//! Key check values: how a store recognises its master key and audit key at start-up without
//! ever holding either.
//!
//! A store keeps the check values beside its data when it is created, and compares the keys it
//! is opened with against them, so a wrong key is refused before anything is written under it:
//!
//! - Master key ([`MasterKey::check_value`](crate::MasterKey::check_value)): AES-256-GCM under the key, with a random nonce
//!   stored beside it, sealing a fixed label with the key id as associated data. Opening it
//!   back proves the key and its id; the tag comparison inside ring is constant-time. Known
//!   plaintext reveals nothing about an AES key.
//! - Audit key ([`AuditKey::check_value`](crate::AuditKey::check_value)): HMAC-SHA256 under the configured key of a fixed
//!   label of its own, so the value is unrelated to the chain's derived entry key; compared in
//!   constant time.
//!
//! The labels name steward-store, where these values were first computed: stores created then
//! keep opening, so neither the labels nor the computations may change (the known-answer tests
//! below pin both).
//!
//! [`MasterKey::check_value`](crate::MasterKey::check_value): super::MasterKey::check_value
//! [`AuditKey::check_value`](crate::AuditKey::check_value): crate::AuditKey::check_value

use std::fmt;

use crate::{KeyError, LogsError, hex};

/// What a master key check seals.
pub(super) const MASTER_CHECK_LABEL: &[u8] = b"steward-store/v1/master-key-check";
/// What an audit key check authenticates.
pub(crate) const AUDIT_CHECK_LABEL: &[u8] = b"steward-store/v1/audit-key-check";
/// The AES-256-GCM tag.
const CHECK_TAG_LEN: usize = 16;

/// The check value of a master key ([`MasterKey::check_value`](crate::MasterKey::check_value)): a nonce and a fixed label
/// sealed under the key, bound to its id. Public: it proves a key without revealing it.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKeyCheck {
    pub(super) nonce: [u8; Self::NONCE_LEN],
    pub(super) sealed: [u8; Self::SEALED_LEN],
}

impl MasterKeyCheck {
    /// Length of the nonce, in bytes.
    pub const NONCE_LEN: usize = 12;
    /// Length of the sealed label (the label and the AES-GCM tag), in bytes.
    pub const SEALED_LEN: usize = MASTER_CHECK_LABEL.len() + CHECK_TAG_LEN;

    /// A check from its stored parts.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidCheck`] unless the nonce is 12 bytes and the sealed label 49.
    pub fn from_parts(nonce: &[u8], sealed: &[u8]) -> Result<Self, LogsError> {
        let invalid = |reason| LogsError::Key(KeyError::InvalidCheck { reason });
        Ok(Self {
            nonce: nonce
                .try_into()
                .map_err(|_| invalid("a master key check nonce is 12 bytes"))?,
            sealed: sealed
                .try_into()
                .map_err(|_| invalid("a sealed master key check is 49 bytes"))?,
        })
    }

    /// The nonce, to store.
    #[must_use]
    pub const fn nonce(&self) -> &[u8; Self::NONCE_LEN] {
        &self.nonce
    }

    /// The sealed label, to store.
    #[must_use]
    pub const fn sealed(&self) -> &[u8; Self::SEALED_LEN] {
        &self.sealed
    }
}

impl fmt::Debug for MasterKeyCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeyCheck")
            .field("nonce", &hex::encode(&self.nonce))
            .field("sealed", &hex::encode(&self.sealed))
            .finish()
    }
}

/// The check value of an audit key ([`AuditKey::check_value`](crate::AuditKey::check_value)):
/// HMAC-SHA256 under the key of a fixed label. Public: it proves a key without revealing it.
///
/// ```
/// use steward_logs::{AuditKey, AuditKeyCheck};
///
/// let key = AuditKey::from_bytes(b"steward test key 17, not secret!")?;
/// let stored = key.check_value().as_bytes().to_vec();
/// let check = AuditKeyCheck::from_bytes(&stored)?;
/// assert!(key.verify_check(&check).is_ok());
/// assert!(AuditKey::from_bytes(b"steward test key 18, not secret!")?.verify_check(&check).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKeyCheck(pub(crate) [u8; Self::LEN]);

impl AuditKeyCheck {
    /// Length of the check value, in bytes.
    pub const LEN: usize = 32;

    /// A check from its stored bytes.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidCheck`] unless `bytes` is 32 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LogsError> {
        bytes.try_into().map(Self).map_err(|_| {
            LogsError::Key(KeyError::InvalidCheck {
                reason: "an audit key check is 32 bytes",
            })
        })
    }

    /// The bytes, to store.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }
}

impl fmt::Debug for AuditKeyCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditKeyCheck({})", hex::encode(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use ring::{aead, hmac};

    use super::*;
    use crate::{AuditKey, MasterKey, keys::test_support::test_key};

    /// How steward-store computed a master key check before the computation moved here
    /// (steward-store/src/check.rs, `MasterCheck::compute`), with the nonce as a parameter.
    fn old_master_check(id: &str, key: &[u8; 32], nonce: [u8; 12]) -> Vec<u8> {
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, key).unwrap());
        let mut sealed = b"steward-store/v1/master-key-check".to_vec();
        key.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(id.as_bytes()),
            &mut sealed,
        )
        .unwrap();
        sealed
    }

    /// How steward-store verified one (`MasterCheck::verify`).
    fn old_master_verify(id: &str, key: &[u8; 32], nonce: &[u8; 12], sealed: &[u8]) -> bool {
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_256_GCM, key).unwrap());
        let mut buffer = sealed.to_vec();
        key.open_in_place(
            aead::Nonce::assume_unique_for_key(*nonce),
            aead::Aad::from(id.as_bytes()),
            &mut buffer,
        )
        .is_ok_and(|opened| opened == b"steward-store/v1/master-key-check")
    }

    /// How steward-store computed an audit key check (`AuditCheck::compute`).
    fn old_audit_check(configured: &[u8]) -> Vec<u8> {
        hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, configured),
            b"steward-store/v1/audit-key-check",
        )
        .as_ref()
        .to_vec()
    }

    fn master(id: &str, byte: u8) -> MasterKey {
        MasterKey::from_bytes(id.parse().unwrap(), &test_key(byte)).unwrap()
    }

    /// A master key check as steward-store stored it: key `test_key(0x42)`, id `kek-1`, nonce
    /// `000102030405060708090a0b`. Both vectors were cross-checked outside Rust (Python's
    /// `hmac` and `cryptography`'s `AESGCM`); they were recomputed when keys like `[0x42; 32]`
    /// became too weak to load.
    const MASTER_VECTOR_NONCE: &str = "000102030405060708090a0b";
    const MASTER_VECTOR_SEALED: &str = concat!(
        "91227150ac0b90935cacee7dd4b2a4b0791ebee898d8b95e59039316bea90d2b",
        "09190050544fbae984ae34381b1373e713",
    );
    /// An audit key check as steward-store stored it: key `test_key(0x17)`.
    const AUDIT_VECTOR: &str = "9ea2a40678dfa4d7da030a2360cdc6c2750e9403ea81b0ad081827b216ab5938";

    #[test]
    fn a_master_check_stored_by_the_old_code_still_verifies() {
        let nonce = hex::decode::<12>(MASTER_VECTOR_NONCE, "t").unwrap();
        let old = old_master_check("kek-1", b"steward test key 42, not secret!", nonce);
        assert_eq!(hex::encode(&old), MASTER_VECTOR_SEALED);
        let stored = MasterKeyCheck::from_parts(&nonce, &old).unwrap();
        master("kek-1", 0x42).verify_check(&stored).unwrap();
        assert!(master("kek-1", 0x43).verify_check(&stored).is_err());
        assert!(master("kek-2", 0x42).verify_check(&stored).is_err());
    }

    #[test]
    fn a_new_master_check_verifies_as_the_old_code_did() {
        let check = master("kek-1", 0x42).check_value().unwrap();
        assert!(old_master_verify(
            "kek-1",
            &test_key(0x42),
            check.nonce(),
            check.sealed()
        ));
        assert!(!old_master_verify(
            "kek-1",
            &test_key(0x43),
            check.nonce(),
            check.sealed()
        ));
    }

    #[test]
    fn the_audit_check_is_computed_as_the_old_code_did() {
        let key = AuditKey::from_bytes(b"steward test key 17, not secret!").unwrap();
        assert_eq!(hex::encode(key.check_value().as_bytes()), AUDIT_VECTOR);
        assert_eq!(
            key.check_value().as_bytes().as_slice(),
            old_audit_check(b"steward test key 17, not secret!")
        );
        // Keys longer than 32 bytes too: the check is under the configured bytes.
        let long = [test_key(0x99).as_slice(), b"and 25 bytes more, plain!"].concat();
        assert_eq!(
            AuditKey::from_bytes(&long)
                .unwrap()
                .check_value()
                .as_bytes()
                .as_slice(),
            old_audit_check(&long)
        );
    }

    #[test]
    fn master_checks_open_only_under_their_key_and_id() {
        let check = master("kek-1", 1).check_value().unwrap();
        master("kek-1", 1).verify_check(&check).unwrap();
        assert!(matches!(
            master("kek-1", 2).verify_check(&check),
            Err(LogsError::Key(KeyError::CheckMismatch {
                what: "master key"
            }))
        ));
        assert!(master("kek-2", 1).verify_check(&check).is_err());
        // A fresh nonce each time: two checks of one key differ.
        assert_ne!(check, master("kek-1", 1).check_value().unwrap());
    }

    #[test]
    fn a_tampered_master_check_is_refused() {
        let check = master("kek-1", 1).check_value().unwrap();
        for position in 0..MasterKeyCheck::SEALED_LEN {
            let mut sealed = *check.sealed();
            sealed[position] ^= 1;
            let tampered = MasterKeyCheck::from_parts(check.nonce(), &sealed).unwrap();
            assert!(master("kek-1", 1).verify_check(&tampered).is_err());
        }
        let mut nonce = *check.nonce();
        nonce[0] ^= 1;
        let moved = MasterKeyCheck::from_parts(&nonce, check.sealed()).unwrap();
        assert!(master("kek-1", 1).verify_check(&moved).is_err());
    }

    #[test]
    fn audit_checks_verify_only_their_key() {
        let check = AuditKey::from_bytes(b"steward test key 03, not secret!")
            .unwrap()
            .check_value();
        AuditKey::from_bytes(b"steward test key 03, not secret!")
            .unwrap()
            .verify_check(&check)
            .unwrap();
        assert!(matches!(
            AuditKey::from_bytes(b"steward test key 04, not secret!")
                .unwrap()
                .verify_check(&check),
            Err(LogsError::Key(KeyError::CheckMismatch {
                what: "audit key"
            }))
        ));
        // The check is not the chain's entry key: HMAC(key, entry label) differs from it.
        let entry_key = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &test_key(3)),
            b"steward-logs/v2/audit-entry-key",
        );
        assert_ne!(entry_key.as_ref(), check.as_bytes().as_slice());
    }

    #[test]
    fn check_parts_of_the_wrong_length_are_refused() {
        let check = master("kek-1", 1).check_value().unwrap();
        let invalid = |result: Result<MasterKeyCheck, LogsError>| {
            matches!(result, Err(LogsError::Key(KeyError::InvalidCheck { .. })))
        };
        assert!(invalid(MasterKeyCheck::from_parts(
            &[0; 11],
            check.sealed()
        )));
        assert!(invalid(MasterKeyCheck::from_parts(check.nonce(), &[0; 48])));
        assert!(invalid(MasterKeyCheck::from_parts(check.nonce(), &[0; 50])));
        assert!(matches!(
            AuditKeyCheck::from_bytes(&[0; 31]),
            Err(LogsError::Key(KeyError::InvalidCheck { .. }))
        ));
        assert!(AuditKeyCheck::from_bytes(&[0; 33]).is_err());
    }
}
