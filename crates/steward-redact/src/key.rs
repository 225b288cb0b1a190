//! The key of the fingerprints in markers.

use std::fmt;

use ring::hmac;

/// Hex digits of the fingerprint in a marker: 32 bits of HMAC-SHA256, enough to tell apart
/// the secrets a steward compares, too few to confirm a guess at a secret offline with
/// confidence across a large set.
pub const FINGERPRINT_HEX_LEN: usize = 8;

/// The HMAC-SHA256 key under which a marker's fingerprint is computed, so that a steward can
/// tell two requests carried the same secret without seeing it, and nobody without the key
/// can test a guessed secret against a marker.
///
/// A store derives it from its audit key (`steward_logs::AuditKey::redaction_key`). Keys as
/// ring does it: not `Clone`, and `Debug` shows only the algorithm.
///
/// ```
/// use steward_redact::FingerprintKey;
///
/// let key = FingerprintKey::from_bytes(&[7; 32]);
/// assert_eq!(key.fingerprint(b"hunter2hunter2"), key.fingerprint(b"hunter2hunter2"));
/// assert_ne!(key.fingerprint(b"hunter2hunter2"), key.fingerprint(b"hunter3hunter3"));
/// assert_eq!(format!("{key:?}"), "FingerprintKey { algorithm: \"HMAC-SHA256\", .. }");
/// ```
pub struct FingerprintKey {
    /// HMAC under the key with the label already taken in: each fingerprint starts from a copy
    /// (cheaper than a context from the key and the label again, per secret of a dense body).
    labelled: hmac::Context,
}

/// What fingerprints are computed for, so that a fingerprint never equals another MAC made
/// under the same key.
const FINGERPRINT_LABEL: &[u8] = b"steward-redact/v1/fingerprint";

impl FingerprintKey {
    /// A key from 32 secret bytes (the caller wipes its copy; this one lives inside ring).
    #[must_use]
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut labelled = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, bytes));
        labelled.update(FINGERPRINT_LABEL);
        Self { labelled }
    }

    /// The fingerprint of `secret`: the first [`FINGERPRINT_HEX_LEN`] hex digits of
    /// HMAC-SHA256 over a label and the secret's bytes. The kind is not included, so one
    /// secret caught by two rules has one fingerprint.
    #[must_use]
    pub fn fingerprint(&self, secret: &[u8]) -> Fingerprint {
        let mut context = self.labelled.clone();
        context.update(secret);
        let tag = context.sign();
        let mut bytes = [0u8; FINGERPRINT_HEX_LEN / 2];
        for (slot, byte) in bytes.iter_mut().zip(tag.as_ref()) {
            *slot = *byte;
        }
        Fingerprint(bytes)
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FingerprintKey")
            .field("algorithm", &"HMAC-SHA256")
            .finish_non_exhaustive()
    }
}

/// A keyed fingerprint of a secret, shown as [`FINGERPRINT_HEX_LEN`] lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; FINGERPRINT_HEX_LEN / 2]);

impl Fingerprint {
    /// The lowercase hex digits, as bytes (what a marker carries).
    #[must_use]
    pub fn hex(&self) -> [u8; FINGERPRINT_HEX_LEN] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; FINGERPRINT_HEX_LEN];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(self.0) {
            if let [high, low] = pair {
                *high = DIGITS.get(usize::from(byte >> 4)).copied().unwrap_or(b'0');
                *low = DIGITS
                    .get(usize::from(byte & 0x0f))
                    .copied()
                    .unwrap_or(b'0');
            }
        }
        hex
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The digits are ASCII: the conversion cannot fail.
        f.write_str(std::str::from_utf8(&self.hex()).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_hmac_sha256_of_label_and_secret_truncated() {
        // Known answer, computed independently:
        // python3 -c "import hmac,hashlib;print(hmac.new(bytes([7]*32),
        //   b'steward-redact/v1/fingerprint'+b'secret',hashlib.sha256).hexdigest()[:8])"
        let key = FingerprintKey::from_bytes(&[7; 32]);
        assert_eq!(key.fingerprint(b"secret").to_string(), KNOWN_ANSWER);
        let other = FingerprintKey::from_bytes(&[8; 32]);
        assert_ne!(other.fingerprint(b"secret").to_string(), KNOWN_ANSWER);
    }

    const KNOWN_ANSWER: &str = include_str!("../tests/fingerprint-known-answer.txt");
}
