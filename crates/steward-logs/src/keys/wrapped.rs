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
