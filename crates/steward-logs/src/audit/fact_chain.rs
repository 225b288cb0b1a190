//! The fact log's chain: what steers the gate (consent, relationships, holds, roster) proven
//! like the audit trail.

use std::fmt;

use ring::hmac;

use super::chain::ChainHash;

/// The HMAC-SHA256 key that chains a store's fact log, derived from the
/// [`AuditKey`](crate::AuditKey) with [`AuditKey::fact_log_key`](crate::AuditKey::fact_log_key).
///
/// Each fact entry's hash is HMAC-SHA256 over its sequence number, the previous entry's hash
/// and the entry's bytes exactly as stored, so anyone without the audit key who edits,
/// deletes, inserts or reorders an entry breaks the chain. Not `Clone`; `Debug` shows only
/// the algorithm.
///
/// ```
/// use steward_logs::{AuditKey, ChainHash};
///
/// let key = AuditKey::from_bytes(&[0x17; 32])?.fact_log_key();
/// let first = key.chain(1, &ChainHash::GENESIS, b"{\"kind\":\"steward_added\"}");
/// assert!(key.matches(1, &ChainHash::GENESIS, b"{\"kind\":\"steward_added\"}", &first));
/// // Another place, another predecessor or other bytes: no match.
/// assert!(!key.matches(2, &ChainHash::GENESIS, b"{\"kind\":\"steward_added\"}", &first));
/// assert!(!key.matches(1, &first, b"{\"kind\":\"steward_added\"}", &first));
/// assert!(!key.matches(1, &ChainHash::GENESIS, b"{\"kind\":\"steward_removed\"}", &first));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FactLogKey(hmac::Key);

impl FactLogKey {
    pub(crate) const fn new(key: hmac::Key) -> Self {
        Self(key)
    }

    /// The hash of the entry `event` at `sequence`, after the entry hashing to `previous`
    /// ([`ChainHash::GENESIS`] before the first).
    #[must_use]
    pub fn chain(&self, sequence: u64, previous: &ChainHash, event: &[u8]) -> ChainHash {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(&sequence.to_be_bytes());
        context.update(previous.as_bytes());
        context.update(event);
        let tag = context.sign();
        let mut hash = [0u8; 32];
        // HMAC-SHA256 tags are 32 bytes; a shorter one would leave zeros, which no entry
        // matches, so the chain fails closed.
        for (out, byte) in hash.iter_mut().zip(tag.as_ref()) {
            *out = *byte;
        }
        ChainHash::from_bytes(hash)
    }

    /// Whether `hash` is the hash of `event` at `sequence` after `previous`, compared in
    /// constant time.
    #[must_use]
    pub fn matches(
        &self,
        sequence: u64,
        previous: &ChainHash,
        event: &[u8],
        hash: &ChainHash,
    ) -> bool {
        let expected = self.chain(sequence, previous, event);
        crate::ct::bytes_equal(expected.as_bytes(), hash.as_bytes())
    }
}

impl fmt::Debug for FactLogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FactLogKey")
            .field("algorithm", &"HMAC-SHA256")
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuditKey;

    #[test]
    fn fact_hashes_differ_from_audit_keys_own_derivations_and_by_key() {
        let key = AuditKey::from_bytes(&[0x17; 32]).unwrap().fact_log_key();
        let other = AuditKey::from_bytes(&[0x18; 32]).unwrap().fact_log_key();
        let hash = key.chain(1, &ChainHash::GENESIS, b"event");
        assert!(key.matches(1, &ChainHash::GENESIS, b"event", &hash));
        assert!(!other.matches(1, &ChainHash::GENESIS, b"event", &hash));
        assert_ne!(hash, ChainHash::GENESIS);
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = AuditKey::from_bytes(&[0x17; 32]).unwrap().fact_log_key();
        assert_eq!(
            format!("{key:?}"),
            "FactLogKey { algorithm: \"HMAC-SHA256\", .. }"
        );
    }
}
