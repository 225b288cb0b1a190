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
/// let key = AuditKey::from_bytes(b"steward test key 17, not secret!")?.fact_log_key();
/// let first = key.chain(1, &ChainHash::GENESIS, b"{\"kind\":\"steward_added\"}");
/// assert!(key.matches(1, &ChainHash::GENESIS, b"{\"kind\":\"steward_added\"}", &first));
/// // Another place, another predecessor or other bytes: no match.
/// assert!(!key.matches(2, &ChainHash::GENESIS, b"{\"kind\":\"steward_added\"}", &first));
/// assert!(!key.matches(1, &first, b"{\"kind\":\"steward_added\"}", &first));
/// assert!(!key.matches(1, &ChainHash::GENESIS, b"{\"kind\":\"steward_removed\"}", &first));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FactLogKey {
    entry: hmac::Key,
    snapshot: hmac::Key,
}

/// What the snapshot key is derived for (from the fact log's key): a snapshot's MAC can never
/// pass for an entry's hash, nor one for the other.
const SNAPSHOT_KEY_LABEL: &[u8] = b"steward-logs/v1/fact-snapshot-key";

impl FactLogKey {
    pub(crate) fn new(entry: hmac::Key) -> Self {
        let derived = hmac::sign(&entry, SNAPSHOT_KEY_LABEL);
        Self {
            entry,
            snapshot: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    /// The hash of the entry `event` at `sequence`, after the entry hashing to `previous`
    /// ([`ChainHash::GENESIS`] before the first).
    #[must_use]
    pub fn chain(&self, sequence: u64, previous: &ChainHash, event: &[u8]) -> ChainHash {
        let mut context = hmac::Context::with_key(&self.entry);
        context.update(&sequence.to_be_bytes());
        context.update(previous.as_bytes());
        context.update(event);
        hash_of(&context.sign())
    }

    /// The MAC of a snapshot of the facts as the log's first `sequence` entries made them,
    /// the newest hashing to `head`: it binds the snapshot's bytes to that place in the
    /// chain, so a snapshot can neither be edited nor moved to another place.
    #[must_use]
    pub fn snapshot_mac(&self, sequence: u64, head: &ChainHash, body: &[u8]) -> ChainHash {
        let mut context = hmac::Context::with_key(&self.snapshot);
        context.update(&sequence.to_be_bytes());
        context.update(head.as_bytes());
        context.update(body);
        hash_of(&context.sign())
    }

    /// Whether `mac` is the [`snapshot_mac`](Self::snapshot_mac) of `body` at `sequence` and
    /// `head`, compared in constant time.
    #[must_use]
    pub fn snapshot_matches(
        &self,
        sequence: u64,
        head: &ChainHash,
        body: &[u8],
        mac: &ChainHash,
    ) -> bool {
        let expected = self.snapshot_mac(sequence, head, body);
        crate::ct::bytes_equal(expected.as_bytes(), mac.as_bytes())
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

/// An HMAC-SHA256 tag as a chain hash. The tags are 32 bytes; a shorter one would leave
/// zeros, which no stored hash matches, so a check fails closed.
fn hash_of(tag: &hmac::Tag) -> ChainHash {
    let mut hash = [0u8; 32];
    for (out, byte) in hash.iter_mut().zip(tag.as_ref()) {
        *out = *byte;
    }
    ChainHash::from_bytes(hash)
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
        let key = AuditKey::from_bytes(b"steward test key 17, not secret!")
            .unwrap()
            .fact_log_key();
        let other = AuditKey::from_bytes(b"steward test key 18, not secret!")
            .unwrap()
            .fact_log_key();
        let hash = key.chain(1, &ChainHash::GENESIS, b"event");
        assert!(key.matches(1, &ChainHash::GENESIS, b"event", &hash));
        assert!(!other.matches(1, &ChainHash::GENESIS, b"event", &hash));
        assert_ne!(hash, ChainHash::GENESIS);
    }

    #[test]
    fn a_snapshot_mac_binds_its_place_and_bytes_and_is_no_entry_hash() {
        let key = AuditKey::from_bytes(b"steward test key 17, not secret!")
            .unwrap()
            .fact_log_key();
        let head = key.chain(1, &ChainHash::GENESIS, b"event");
        let mac = key.snapshot_mac(1, &head, b"body");
        assert!(key.snapshot_matches(1, &head, b"body", &mac));
        assert!(!key.snapshot_matches(2, &head, b"body", &mac));
        assert!(!key.snapshot_matches(1, &ChainHash::GENESIS, b"body", &mac));
        assert!(!key.snapshot_matches(1, &head, b"bodY", &mac));
        assert_ne!(mac, key.chain(1, &head, b"body"));
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = AuditKey::from_bytes(b"steward test key 17, not secret!")
            .unwrap()
            .fact_log_key();
        assert_eq!(
            format!("{key:?}"),
            "FactLogKey { algorithm: \"HMAC-SHA256\", .. }"
        );
    }
}
