//! The chain itself: its HMAC key, hashes, heads, chained entries and signed checkpoints.

use std::fmt;

use ring::{
    hmac,
    signature::{self, Ed25519KeyPair},
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use steward_core::Timestamp;
use zeroize::Zeroizing;

use super::entry::{AuditEntry, EntryBuffer, encode_entry};
use crate::{
    AuditError, AuditKeyCheck, KeyError, KeyMaterial, LogsError, hex, keys::AUDIT_CHECK_LABEL,
};

const CHECKPOINT_LABEL: &[u8] = b"steward-logs/v1/audit-checkpoint\0";
/// A checkpoint that also covers the fact log signs a message under a label of its own, so
/// that it can never be read as one that covers the audit chain alone.
const CHECKPOINT_WITH_FACTS_LABEL: &[u8] = b"steward-logs/v1/audit-and-facts-checkpoint\0";
/// What the fact log's key is derived for (from the entry key), so that a fact entry's hash
/// can never pass for an audit entry's.
const FACT_LOG_KEY_LABEL: &[u8] = b"steward-logs/v1/fact-log-key";
/// What the redaction key is derived for: markers' fingerprints never equal a chain hash.
const REDACTION_KEY_LABEL: &[u8] = b"steward-logs/v1/redaction-key";
/// What the entry key is derived for: the label separates entry hashes from any other use of
/// the configured key, once, instead of being hashed into every entry.
const ENTRY_KEY_LABEL: &[u8] = b"steward-logs/v2/audit-entry-key";
const HASH_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;
use crate::ed25519::{self, PUBLIC_KEY_LEN};

/// The HMAC-SHA256 key of the audit chain. Keep it out of the database that stores the
/// chain: whoever holds it can rewrite history.
///
/// Entries are hashed under a key derived from the configured one
/// (HMAC-SHA256(configured, "steward-logs/v2/audit-entry-key")), so the configured bytes
/// serve only this purpose whatever else they are used for. Not `Clone`; `Debug` shows only
/// the algorithm.
pub struct AuditKey {
    /// The derived key entries are hashed under.
    entry: hmac::Key,
    /// The key's check value, computed once from the configured bytes, which are not kept.
    check: AuditKeyCheck,
}

impl AuditKey {
    /// Shortest accepted key, in bytes.
    pub const MIN_LEN: usize = 32;

    /// A key from at least 32 bytes of secret material.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidKey`] for fewer than 32 bytes; [`KeyError::WeakKey`] for a
    /// trivially weak key (all zeros, a repeated byte or pattern, a counting sequence: the
    /// rule is in [`KeyMaterial`]'s docs).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LogsError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(LogsError::Key(KeyError::InvalidKey {
                reason: "an audit key is at least 32 bytes",
            }));
        }
        if let Some(reason) = crate::keys::weakness(bytes) {
            return Err(LogsError::Key(KeyError::WeakKey {
                what: "audit key",
                reason,
            }));
        }
        let configured = hmac::Key::new(hmac::HMAC_SHA256, bytes);
        let derived = hmac::sign(&configured, ENTRY_KEY_LABEL);
        Ok(Self {
            entry: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
            check: AuditKeyCheck(tag_bytes(&hmac::sign(&configured, AUDIT_CHECK_LABEL))?),
        })
    }

    /// A key from loaded [`KeyMaterial`].
    ///
    /// # Errors
    ///
    /// As [`from_bytes`](Self::from_bytes).
    pub fn from_material(material: &KeyMaterial) -> Result<Self, LogsError> {
        Self::from_bytes(material.as_bytes())
    }

    /// A key from 64 hex digits (surrounding whitespace ignored).
    ///
    /// # Errors
    ///
    /// As [`KeyMaterial::from_hex`].
    pub fn from_hex(text: &str) -> Result<Self, LogsError> {
        Self::from_material(&KeyMaterial::from_hex(text)?)
    }

    /// The check value of this key, for a store to keep beside its chain and recognise the
    /// key at start-up with [`verify_check`](Self::verify_check): HMAC-SHA256 under the
    /// configured key (not the derived entry key) of a fixed label (see [`AuditKeyCheck`]).
    #[must_use]
    pub fn check_value(&self) -> AuditKeyCheck {
        self.check.clone()
    }

    /// Whether this key made `check`, compared in constant time.
    ///
    /// # Errors
    ///
    /// [`KeyError::CheckMismatch`] if it did not.
    pub fn verify_check(&self, check: &AuditKeyCheck) -> Result<(), LogsError> {
        if crate::ct::bytes_equal(&self.check.0, &check.0) {
            Ok(())
        } else {
            Err(LogsError::Key(KeyError::CheckMismatch {
                what: "audit key",
            }))
        }
    }

    /// Checks a whole chain, oldest entry first, and returns its head.
    ///
    /// # Errors
    ///
    /// [`AuditError::ChainBroken`] at the first entry whose sequence number, link to its
    /// predecessor, HMAC or instant is wrong: any edit, deletion, insertion or reordering.
    pub fn verify_chain(&self, entries: &[ChainedEntry]) -> Result<ChainHead, LogsError> {
        let mut head = ChainHead::EMPTY;
        let mut last_at: Option<Timestamp> = None;
        for chained in entries {
            let expected = head.entries;
            let broken = |reason| {
                LogsError::Audit(AuditError::ChainBroken {
                    sequence: expected,
                    reason,
                })
            };
            if chained.sequence != expected {
                return Err(broken("sequence number out of place"));
            }
            if chained.previous != head.hash {
                return Err(broken("does not link to the entry before it"));
            }
            self.verify_entry(chained)?;
            // The trail dates every entry strictly after the one before it.
            if last_at.is_some_and(|last| chained.entry.at() <= last) {
                return Err(broken("not dated after the entry before it"));
            }
            last_at = Some(chained.entry.at());
            head = chained.head_after()?;
        }
        Ok(head)
    }

    /// Checks one entry's hash against its content (not its place in the chain).
    pub(crate) fn verify_entry(&self, chained: &ChainedEntry) -> Result<(), LogsError> {
        let broken = |reason| {
            LogsError::Audit(AuditError::ChainBroken {
                sequence: chained.sequence,
                reason,
            })
        };
        let mut message = EntryBuffer::new();
        encode_entry(
            &mut message,
            chained.sequence,
            &chained.previous,
            &chained.entry,
        )
        .map_err(|_| broken("an entry field is out of range"))?;
        let tag = hmac::sign(&self.entry, message.as_bytes());
        if crate::ct::bytes_equal(tag.as_ref(), &chained.hash.0) {
            Ok(())
        } else {
            Err(broken("hash does not match its content"))
        }
    }

    /// The key that chains the fact log (consent, relationships, holds, roster): derived
    /// from this one, so the one configured secret proves both, and a hash of one chain never
    /// passes for a hash of the other.
    #[must_use]
    pub fn fact_log_key(&self) -> super::FactLogKey {
        let derived = hmac::sign(&self.entry, FACT_LOG_KEY_LABEL);
        super::FactLogKey::new(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
    }

    /// The key of the fingerprints in redaction markers (`[REDACTED:<kind>:<fingerprint>]`):
    /// derived from this one like [`fact_log_key`](Self::fact_log_key), so every node of a
    /// store fingerprints a secret alike and a steward can tell two requests carried the same
    /// secret; nobody without the audit key can test a guess against a marker.
    ///
    /// ```
    /// use steward_logs::AuditKey;
    ///
    /// let key = AuditKey::from_bytes(b"steward test key 17, not secret!")?;
    /// let (a, b) = (key.redaction_key(), key.redaction_key());
    /// assert_eq!(a.fingerprint(b"hunter2"), b.fingerprint(b"hunter2"));
    /// let other = AuditKey::from_bytes(b"steward test key 18, not secret!")?.redaction_key();
    /// assert_ne!(a.fingerprint(b"hunter2"), other.fingerprint(b"hunter2"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn redaction_key(&self) -> steward_redact::FingerprintKey {
        let derived = hmac::sign(&self.entry, REDACTION_KEY_LABEL);
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        for (slot, byte) in bytes.iter_mut().zip(derived.as_ref()) {
            *slot = *byte;
        }
        steward_redact::FingerprintKey::from_bytes(&bytes)
    }

    pub(crate) fn chain(
        &self,
        sequence: u64,
        previous: ChainHash,
        entry: AuditEntry,
    ) -> Result<ChainedEntry, LogsError> {
        let mut message = EntryBuffer::new();
        encode_entry(&mut message, sequence, &previous, &entry)?;
        let tag = hmac::sign(&self.entry, message.as_bytes());
        let mut hash = [0u8; HASH_LEN];
        if tag.as_ref().len() != HASH_LEN {
            return Err(LogsError::Overflow {
                what: "audit hash length",
            });
        }
        hash.copy_from_slice(tag.as_ref());
        Ok(ChainedEntry {
            sequence,
            entry,
            previous,
            hash: ChainHash(hash),
        })
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditKey")
            .field("algorithm", &"HMAC-SHA256")
            .finish_non_exhaustive()
    }
}

/// A 32-byte hash of the chain (an entry's HMAC, or the head). Serialized as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash(pub(crate) [u8; HASH_LEN]);

impl ChainHash {
    /// The hash before the first entry: 32 zero bytes.
    pub const GENESIS: Self = Self([0; HASH_LEN]);

    /// The bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// A hash from its 32 bytes, as a store read them back (unverified until checked under
    /// the key that made it).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", hex::encode(&self.0))
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

impl Serialize for ChainHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for ChainHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        hex::decode(&text, "chain hash")
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// The state of a verified chain: how many entries, and the hash of the newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    pub(crate) entries: u64,
    pub(crate) hash: ChainHash,
}

impl ChainHead {
    /// The head of an empty chain.
    pub const EMPTY: Self = Self {
        entries: 0,
        hash: ChainHash::GENESIS,
    };

    /// The head of a chain of `entries` entries whose newest hashes to `hash` (as a verifier
    /// computed it: a head is a claim until a chain is checked against it).
    #[must_use]
    pub const fn new(entries: u64, hash: ChainHash) -> Self {
        Self { entries, hash }
    }

    /// The number of entries.
    #[must_use]
    pub const fn entries(&self) -> u64 {
        self.entries
    }

    /// The hash of the newest entry ([`ChainHash::GENESIS`] for an empty chain).
    #[must_use]
    pub const fn hash(&self) -> ChainHash {
        self.hash
    }
}

/// An entry in its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainedEntry {
    sequence: u64,
    entry: AuditEntry,
    previous: ChainHash,
    hash: ChainHash,
}

impl ChainedEntry {
    /// The position in the chain, from 0.
    #[must_use]
    pub const fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The entry.
    #[must_use]
    pub const fn entry(&self) -> &AuditEntry {
        &self.entry
    }

    /// The hash of the entry before ([`ChainHash::GENESIS`] for the first).
    #[must_use]
    pub const fn previous(&self) -> ChainHash {
        self.previous
    }

    /// This entry's hash: HMAC-SHA256 over sequence, previous hash and entry.
    #[must_use]
    pub const fn hash(&self) -> ChainHash {
        self.hash
    }

    /// The head of a chain whose newest entry is this one.
    pub(crate) fn head_after(&self) -> Result<ChainHead, LogsError> {
        let entries = self.sequence.checked_add(1).ok_or(LogsError::Overflow {
            what: "audit sequence number",
        })?;
        Ok(ChainHead {
            entries,
            hash: self.hash,
        })
    }
}

/// A signed statement "the chain had `entries` entries, the newest hashing to `head`".
/// Serializes (serde) with the hash and signature as hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CheckpointRepr", into = "CheckpointRepr")]
pub struct Checkpoint {
    entries: u64,
    head: ChainHash,
    /// The fact log's head, when the checkpoint covers it too (signed with the rest).
    facts: Option<ChainHead>,
    signature: [u8; SIGNATURE_LEN],
}

impl Checkpoint {
    /// The number of entries covered.
    #[must_use]
    pub const fn entries(&self) -> u64 {
        self.entries
    }

    /// The hash of the newest covered entry.
    #[must_use]
    pub const fn head(&self) -> ChainHash {
        self.head
    }

    /// The fact log's head this checkpoint covers, if it covers the fact log: a log that no
    /// longer reaches it lost its newest entries (or was rewritten).
    #[must_use]
    pub const fn facts(&self) -> Option<ChainHead> {
        self.facts
    }

    pub(crate) fn sign(
        head: &ChainHead,
        facts: Option<ChainHead>,
        signer: &CheckpointSigner,
    ) -> Result<Self, LogsError> {
        let message = checkpoint_message(head.entries, &head.hash, facts.as_ref());
        let signature = signer.0.sign(&message);
        let signature: [u8; SIGNATURE_LEN] = signature
            .as_ref()
            .try_into()
            .map_err(|_| LogsError::Audit(AuditError::CheckpointSignature))?;
        Ok(Self {
            entries: head.entries,
            head: head.hash,
            facts,
            signature,
        })
    }

    /// Checks that `entries` (a whole chain, already verified) still reaches this
    /// checkpoint: it is at least as long, and its entry at the checkpoint has the head.
    pub(crate) fn check_reached_by(&self, entries: &[ChainedEntry]) -> Result<(), LogsError> {
        let mismatch = |reason| {
            LogsError::Audit(AuditError::CheckpointMismatch {
                checkpoint: self.entries,
                reason,
            })
        };
        let Some(last_covered) = self.entries.checked_sub(1) else {
            return if self.head == ChainHash::GENESIS {
                Ok(())
            } else {
                Err(mismatch("an empty checkpoint must have the genesis head"))
            };
        };
        let at_checkpoint = usize::try_from(last_covered)
            .ok()
            .and_then(|index| entries.get(index))
            .ok_or_else(|| mismatch("the chain is shorter: its newest entries were removed"))?;
        if at_checkpoint.hash != self.head {
            return Err(mismatch("the chain differs from the checkpoint's head"));
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointRepr {
    entries: u64,
    head: ChainHash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    facts: Option<ChainHead>,
    signature: String,
}

impl TryFrom<CheckpointRepr> for Checkpoint {
    type Error = LogsError;

    fn try_from(repr: CheckpointRepr) -> Result<Self, Self::Error> {
        Ok(Self {
            entries: repr.entries,
            head: repr.head,
            facts: repr.facts,
            signature: hex::decode(&repr.signature, "checkpoint signature")?,
        })
    }
}

impl From<Checkpoint> for CheckpointRepr {
    fn from(checkpoint: Checkpoint) -> Self {
        Self {
            entries: checkpoint.entries,
            head: checkpoint.head,
            facts: checkpoint.facts,
            signature: hex::encode(&checkpoint.signature),
        }
    }
}

/// The Ed25519 key that signs checkpoints. Not `Clone`; `Debug` shows only the public key.
pub struct CheckpointSigner(Ed25519KeyPair);

impl CheckpointSigner {
    /// A fresh key pair as a PKCS#8 v2 document, for the operator to store (zeroized on drop).
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

    /// The public key that verifies this signer's checkpoints.
    #[must_use]
    pub fn public_key(&self) -> CheckpointPublicKey {
        CheckpointPublicKey(ed25519::public_key_bytes(&self.0))
    }
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("algorithm", &"Ed25519")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// An Ed25519 public key that verifies checkpoints. Serialized as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckpointPublicKey([u8; PUBLIC_KEY_LEN]);

impl CheckpointPublicKey {
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

    /// A public key from 64 hex digits, either case; surrounding whitespace is ignored (the
    /// form [`to_hex`](Self::to_hex) gives, for a public key file).
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidHex`] unless the text is 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, LogsError> {
        hex::decode(text.trim(), "checkpoint public key").map(Self)
    }

    /// The 32 bytes as lowercase hex.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// Checks a checkpoint's signature.
    ///
    /// # Errors
    ///
    /// [`AuditError::CheckpointSignature`] if it does not verify.
    pub fn verify(&self, checkpoint: &Checkpoint) -> Result<(), LogsError> {
        let message = checkpoint_message(
            checkpoint.entries,
            &checkpoint.head,
            checkpoint.facts.as_ref(),
        );
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.0)
            .verify(&message, &checkpoint.signature)
            .map_err(|_| LogsError::Audit(AuditError::CheckpointSignature))
    }
}

impl fmt::Debug for CheckpointPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckpointPublicKey({})", hex::encode(&self.0))
    }
}

impl Serialize for CheckpointPublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for CheckpointPublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        hex::decode(&text, "checkpoint public key")
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// An HMAC-SHA256 tag as its 32 bytes.
fn tag_bytes(tag: &hmac::Tag) -> Result<[u8; HASH_LEN], LogsError> {
    tag.as_ref().try_into().map_err(|_| LogsError::Overflow {
        what: "audit hash length",
    })
}

fn checkpoint_message(entries: u64, head: &ChainHash, facts: Option<&ChainHead>) -> Vec<u8> {
    let mut out = Vec::with_capacity(CHECKPOINT_WITH_FACTS_LABEL.len() + 2 * (8 + HASH_LEN));
    match facts {
        None => out.extend_from_slice(CHECKPOINT_LABEL),
        Some(_) => out.extend_from_slice(CHECKPOINT_WITH_FACTS_LABEL),
    }
    out.extend_from_slice(&entries.to_be_bytes());
    out.extend_from_slice(&head.0);
    if let Some(facts) = facts {
        out.extend_from_slice(&facts.entries.to_be_bytes());
        out.extend_from_slice(&facts.hash.0);
    }
    out
}
