//! The Ed25519 key pair handling that checkpoint and receipt signers share: each signs under
//! its own label with a key of its own, but makes, reads and publishes the key the same way.

use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use zeroize::Zeroizing;

use crate::{KeyError, LogsError};

/// The length of an Ed25519 public key.
pub(crate) const PUBLIC_KEY_LEN: usize = 32;

/// A fresh key pair as a PKCS#8 v2 document (zeroized on drop).
pub(crate) fn generate_pkcs8() -> Result<Zeroizing<Vec<u8>>, LogsError> {
    let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| LogsError::Key(KeyError::Random))?;
    Ok(Zeroizing::new(document.as_ref().to_vec()))
}

/// The key pair of a PKCS#8 document.
pub(crate) fn key_pair(pkcs8: &[u8]) -> Result<Ed25519KeyPair, LogsError> {
    Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| {
        LogsError::Key(KeyError::InvalidKey {
            reason: "not an Ed25519 PKCS#8 document",
        })
    })
}

/// The key pair's public key bytes.
pub(crate) fn public_key_bytes(pair: &Ed25519KeyPair) -> [u8; PUBLIC_KEY_LEN] {
    let mut bytes = [0u8; PUBLIC_KEY_LEN];
    let public = pair.public_key().as_ref();
    if public.len() == PUBLIC_KEY_LEN {
        bytes.copy_from_slice(public);
    }
    bytes
}
