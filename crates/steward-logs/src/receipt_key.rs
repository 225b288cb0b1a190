//! The store's receipt-signing key: Ed25519, apart from the checkpoint key, so that the key
//! customers verify their consent receipts with is never one that signs the audit trail.

use std::{fmt, str::FromStr};

use ring::{
    digest,
    signature::{self, Ed25519KeyPair},
};
use zeroize::Zeroizing;

use crate::{KeyError, LogsError, hex};

/// Every receipt signature covers this label first, so that no signature made for a receipt
/// can pass for one over any other message of Steward (a checkpoint, say), nor the reverse.
const RECEIPT_LABEL: &[u8] = b"steward/v1/consent-receipt\0";
use crate::ed25519::{self, PUBLIC_KEY_LEN};
const SIGNATURE_LEN: usize = 64;
const KEY_ID_LEN: usize = 8;

/// The Ed25519 key that signs consent receipts. Not `Clone`; `Debug` shows only the
/// algorithm and the key id; the PKCS#8 document it comes from is zeroized by the caller's
/// `Zeroizing` and never kept here.
///
/// ```
/// use steward_logs::{ReceiptPublicKey, ReceiptSigner};
///
/// let signer = ReceiptSigner::from_pkcs8(&ReceiptSigner::generate_pkcs8()?)?;
/// let signature = signer.sign(b"{\"receipt\":1}");
/// let public: ReceiptPublicKey = signer.public_key().to_hex().parse()?;
/// public.verify(b"{\"receipt\":1}", &signature)?;
/// assert!(public.verify(b"{\"receipt\":2}", &signature).is_err());
/// assert_eq!(public.key_id(), signer.public_key().key_id());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ReceiptSigner(Ed25519KeyPair);

impl ReceiptSigner {
    /// A fresh key pair as a PKCS#8 v2 document, for the store to keep (zeroized on drop).
    ///
    /// # Errors
    ///
    /// [`KeyError::Random`] if the system RNG fails.
    pub fn generate_pkcs8() -> Result<Zeroizing<Vec<u8>>, LogsError> {
        ed25519::generate_pkcs8()
    }

    /// The signer from a PKCS#8 document (as made by [`generate_pkcs8`](Self::generate_pkcs8)).
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidKey`] if the document is not an Ed25519 PKCS#8 key.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, LogsError> {
        ed25519::key_pair(pkcs8).map(Self)
    }

    /// The public key that verifies this signer's receipts.
    #[must_use]
    pub fn public_key(&self) -> ReceiptPublicKey {
        ReceiptPublicKey(ed25519::public_key_bytes(&self.0))
    }

    /// Signs `message` (the receipt's canonical bytes) under the receipt label.
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> ReceiptSignature {
        let signed = self.0.sign(&labelled(message));
        let mut bytes = [0u8; SIGNATURE_LEN];
        if signed.as_ref().len() == SIGNATURE_LEN {
            bytes.copy_from_slice(signed.as_ref());
        }
        ReceiptSignature(bytes)
    }
}

impl fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("algorithm", &"Ed25519")
            .field("key_id", &self.public_key().key_id())
            .finish_non_exhaustive()
    }
}

/// An Ed25519 public key that verifies consent receipts: 64 hex digits in text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptPublicKey([u8; PUBLIC_KEY_LEN]);

impl ReceiptPublicKey {
    /// A public key from its 32 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; PUBLIC_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }

    /// The 32 bytes as lowercase hex (the form `FromStr` reads, surrounding whitespace
    /// ignored).
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// The key's id, which every receipt names: the first 8 bytes of the SHA-256 of the
    /// public key, so a verifier holding several keys knows which one a receipt needs.
    #[must_use]
    pub fn key_id(&self) -> ReceiptKeyId {
        let digest = digest::digest(&digest::SHA256, &self.0);
        let mut id = [0u8; KEY_ID_LEN];
        if let Some(prefix) = digest.as_ref().get(..KEY_ID_LEN) {
            id.copy_from_slice(prefix);
        }
        ReceiptKeyId(id)
    }

    /// Checks `signature` over `message` (the receipt's canonical bytes).
    ///
    /// # Errors
    ///
    /// [`KeyError::SignatureInvalid`] if it does not verify under this key.
    pub fn verify(&self, message: &[u8], signature: &ReceiptSignature) -> Result<(), LogsError> {
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.0)
            .verify(&labelled(message), &signature.0)
            .map_err(|_| {
                LogsError::Key(KeyError::SignatureInvalid {
                    what: "consent receipt",
                })
            })
    }
}

impl FromStr for ReceiptPublicKey {
    type Err = LogsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        hex::decode(text.trim(), "receipt public key").map(Self)
    }
}

impl fmt::Display for ReceiptPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ReceiptPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReceiptPublicKey({})", self.to_hex())
    }
}

/// The id of a receipt-signing key: 16 hex digits in text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptKeyId([u8; KEY_ID_LEN]);

impl fmt::Debug for ReceiptKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReceiptKeyId({self})")
    }
}

impl FromStr for ReceiptKeyId {
    type Err = LogsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        hex::decode(text, "receipt key id").map(Self)
    }
}

impl fmt::Display for ReceiptKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

/// An Ed25519 signature over a receipt: 128 hex digits in text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReceiptSignature([u8; SIGNATURE_LEN]);

impl FromStr for ReceiptSignature {
    type Err = LogsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        hex::decode(text, "receipt signature").map(Self)
    }
}

impl fmt::Display for ReceiptSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

impl fmt::Debug for ReceiptSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReceiptSignature({self})")
    }
}

fn labelled(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECEIPT_LABEL.len().saturating_add(message.len()));
    out.extend_from_slice(RECEIPT_LABEL);
    out.extend_from_slice(message);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_its_message_under_its_key() {
        let signer = ReceiptSigner::from_pkcs8(&ReceiptSigner::generate_pkcs8().unwrap()).unwrap();
        let other = ReceiptSigner::from_pkcs8(&ReceiptSigner::generate_pkcs8().unwrap()).unwrap();
        let signature = signer.sign(b"receipt");
        assert!(signer.public_key().verify(b"receipt", &signature).is_ok());
        assert!(signer.public_key().verify(b"receipt!", &signature).is_err());
        assert!(other.public_key().verify(b"receipt", &signature).is_err());
        assert_ne!(signer.public_key().key_id(), other.public_key().key_id());
    }

    #[test]
    fn a_receipt_signature_is_not_a_plain_ed25519_signature_of_the_message() {
        let pkcs8 = ReceiptSigner::generate_pkcs8().unwrap();
        let signer = ReceiptSigner::from_pkcs8(&pkcs8).unwrap();
        let plain = Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap().sign(b"receipt");
        let mut bytes = [0u8; SIGNATURE_LEN];
        bytes.copy_from_slice(plain.as_ref());
        let error = signer
            .public_key()
            .verify(b"receipt", &ReceiptSignature(bytes))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the consent receipt signature does not verify"
        );
    }

    #[test]
    fn debug_shows_no_key_material() {
        let pkcs8 = ReceiptSigner::generate_pkcs8().unwrap();
        let signer = ReceiptSigner::from_pkcs8(&pkcs8).unwrap();
        let debug = format!("{signer:?}");
        assert!(debug.contains("Ed25519"), "{debug}");
        assert!(
            debug.contains(&signer.public_key().key_id().to_string()),
            "{debug}"
        );
        assert!(!debug.contains(&signer.public_key().to_hex()), "{debug}");
        assert!(!debug.contains(&hex::encode(&pkcs8)), "{debug}");
    }

    #[test]
    fn keys_ids_and_signatures_round_trip_through_text() {
        let signer = ReceiptSigner::from_pkcs8(&ReceiptSigner::generate_pkcs8().unwrap()).unwrap();
        let public = signer.public_key();
        assert_eq!(
            format!(" {public}\n").parse::<ReceiptPublicKey>().unwrap(),
            public
        );
        let id = public.key_id();
        assert_eq!(id.to_string().len(), 16);
        assert_eq!(id.to_string().parse::<ReceiptKeyId>().unwrap(), id);
        let signature = signer.sign(b"x");
        assert_eq!(
            signature.to_string().parse::<ReceiptSignature>().unwrap(),
            signature
        );
        assert!("abc".parse::<ReceiptPublicKey>().is_err());
    }
}
