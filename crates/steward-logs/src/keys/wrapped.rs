//! Data keys: in the clear (only ever in memory) and wrapped under a master key (persisted).

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use steward_core::CustomerId;
use zeroize::Zeroizing;

use super::{KEY_LEN, KeyVersion, MasterKeyId};
use crate::{KeyError, LogsError, hex};

pub(super) const WRAP_NONCE_LEN: usize = 12;
pub(super) const WRAPPED_LEN: usize = KEY_LEN + 16;

/// A customer's data key in the clear: only ever in memory, zeroized on drop, never printed.
pub(crate) struct DataKey(pub(super) Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    pub(super) fn generate(rng: &SystemRandom) -> Result<Self, LogsError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill(bytes.as_mut_slice())
            .map_err(|_| LogsError::Key(KeyError::Random))?;
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
    pub(super) master_key: MasterKeyId,
    pub(super) customer: CustomerId,
    pub(super) version: KeyVersion,
    pub(super) nonce: [u8; WRAP_NONCE_LEN],
    pub(super) ciphertext: [u8; WRAPPED_LEN],
}

impl WrappedDataKey {
    /// Length of the wrap's nonce, in bytes.
    pub const NONCE_LEN: usize = WRAP_NONCE_LEN;
    /// Length of the wrapped key (the sealed data key and its AES-GCM tag), in bytes.
    pub const CIPHERTEXT_LEN: usize = WRAPPED_LEN;

    /// A wrapped key from the parts a store keeps in its columns (see
    /// [`nonce`](Self::nonce) and [`ciphertext`](Self::ciphertext)). Nothing is decrypted
    /// here: a part that was altered, or moved to another customer or version, fails when the
    /// key is unwrapped.
    ///
    /// ```
    /// use steward_logs::{Keyring, MasterKey, WrappedDataKey};
    ///
    /// let mut keyring = Keyring::new(MasterKey::from_bytes("kek-1".parse()?, b"steward test key 42, not secret!")?);
    /// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
    /// keyring.ensure_data_key(customer)?;
    /// let snapshot = keyring.snapshot();
    /// let wrapped = snapshot.data_keys().first().ok_or("no key")?;
    /// let rebuilt = WrappedDataKey::from_parts(
    ///     wrapped.master_key().clone(),
    ///     wrapped.customer(),
    ///     wrapped.version(),
    ///     wrapped.nonce(),
    ///     wrapped.ciphertext(),
    /// )?;
    /// assert_eq!(&rebuilt, wrapped);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidKey`] unless the nonce is 12 bytes and the ciphertext 48.
    pub fn from_parts(
        master_key: MasterKeyId,
        customer: CustomerId,
        version: KeyVersion,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<Self, LogsError> {
        let invalid = |reason| LogsError::Key(KeyError::InvalidKey { reason });
        Ok(Self {
            master_key,
            customer,
            version,
            nonce: nonce
                .try_into()
                .map_err(|_| invalid("a wrapped key nonce is 12 bytes"))?,
            ciphertext: ciphertext
                .try_into()
                .map_err(|_| invalid("a wrapped key ciphertext is 48 bytes"))?,
        })
    }

    /// Overwrites the wrap with zeros: a keyring's stale copy of a key it replaced or
    /// shredded. A wiped wrap never unwraps (its tag no longer matches).
    pub(super) fn wipe(&mut self) {
        self.nonce = [0; WRAP_NONCE_LEN];
        self.ciphertext = [0; WRAPPED_LEN];
    }

    /// The wrap's nonce, to store.
    #[must_use]
    pub const fn nonce(&self) -> &[u8; WRAP_NONCE_LEN] {
        &self.nonce
    }

    /// The wrapped key (the sealed data key and its tag), to store.
    #[must_use]
    pub const fn ciphertext(&self) -> &[u8; WRAPPED_LEN] {
        &self.ciphertext
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{
        Keyring,
        test_support::{customer, master},
    };

    fn wrapped() -> WrappedDataKey {
        let mut keyring = Keyring::new(master("kek-1", 1));
        keyring.ensure_data_key(customer(1)).unwrap();
        keyring.snapshot().data_keys().first().unwrap().clone()
    }

    #[test]
    fn parts_rebuild_the_same_key_and_it_still_unwraps() {
        let key = wrapped();
        let rebuilt = WrappedDataKey::from_parts(
            key.master_key().clone(),
            key.customer(),
            key.version(),
            key.nonce(),
            key.ciphertext(),
        )
        .unwrap();
        assert_eq!(rebuilt, key);
        assert!(master("kek-1", 1).unwrap(&rebuilt).is_ok());
    }

    #[test]
    fn parts_of_the_wrong_length_are_refused() {
        let key = wrapped();
        let build = |nonce: &[u8], ciphertext: &[u8]| {
            WrappedDataKey::from_parts(
                key.master_key().clone(),
                key.customer(),
                key.version(),
                nonce,
                ciphertext,
            )
        };
        for (nonce, ciphertext) in [
            (&key.nonce()[1..], &key.ciphertext()[..]),
            (&key.nonce()[..], &key.ciphertext()[1..]),
            (&[0; 13][..], &key.ciphertext()[..]),
            (&key.nonce()[..], &[0; 49][..]),
        ] {
            assert!(matches!(
                build(nonce, ciphertext),
                Err(LogsError::Key(KeyError::InvalidKey { .. }))
            ));
        }
    }

    #[test]
    fn altered_parts_build_but_do_not_unwrap() {
        let key = wrapped();
        let mut ciphertext = *key.ciphertext();
        ciphertext[0] ^= 1;
        let altered = WrappedDataKey::from_parts(
            key.master_key().clone(),
            key.customer(),
            key.version(),
            key.nonce(),
            &ciphertext,
        )
        .unwrap();
        assert!(matches!(
            master("kek-1", 1).unwrap(&altered),
            Err(LogsError::Key(KeyError::UnwrapFailed { .. }))
        ));
    }
}
