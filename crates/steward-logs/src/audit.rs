//! The audit trail of log access: an HMAC-keyed hash chain with Ed25519-signed checkpoints.
//!
//! `logs.access`: every attempt to open a record (granted, refused or failed) is written here
//! before anything is returned. Each entry's hash is HMAC-SHA256, under a key the database
//! does not hold, over its sequence number, the previous entry's hash and the entry, so an
//! edit, deletion, insertion or reordering breaks [`AuditKey::verify_chain`]. Deleting the
//! newest entries leaves a valid shorter chain; a [`Checkpoint`] (sequence and head, signed
//! with Ed25519 and shipped elsewhere) detects that. Entries hold ids, purposes and outcomes,
//! never request content.

use std::{error::Error, fmt};

use ring::{
    hmac,
    rand::SystemRandom,
    signature::{self, Ed25519KeyPair, KeyPair},
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use steward_core::{CustomerId, Justification, Purpose, RecordId, StewardId, Timestamp};
use zeroize::Zeroizing;

use crate::{
    KeyVersion, LogsError,
    access::{AccessRequest, Denial},
    hex,
    record::RecordHeader,
};

const ENTRY_LABEL: &[u8] = b"steward-logs/v1/audit-entry\0";
const CHECKPOINT_LABEL: &[u8] = b"steward-logs/v1/audit-checkpoint\0";
const HASH_LEN: usize = 32;
const SIGNATURE_LEN: usize = 64;
const PUBLIC_KEY_LEN: usize = 32;

/// The HMAC-SHA256 key of the audit chain. Keep it out of the database that stores the
/// chain: whoever holds it can rewrite history.
///
/// Not `Clone`; `Debug` shows only the algorithm.
pub struct AuditKey(hmac::Key);

impl AuditKey {
    /// Shortest accepted key, in bytes.
    pub const MIN_LEN: usize = 32;

    /// A key from at least 32 bytes of secret material.
    ///
    /// # Errors
    ///
    /// [`LogsError::InvalidKey`] for fewer than 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LogsError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(LogsError::InvalidKey {
                reason: "an audit key is at least 32 bytes",
            });
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, bytes)))
    }

    /// A key from 64 hex digits (surrounding whitespace ignored).
    ///
    /// # Errors
    ///
    /// [`LogsError::InvalidHex`] unless the text is 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, LogsError> {
        let bytes = Zeroizing::new(hex::decode::<32>(text.trim(), "audit key")?);
        Self::from_bytes(bytes.as_slice())
    }

    /// Checks a whole chain, oldest entry first, and returns its head.
    ///
    /// # Errors
    ///
    /// [`LogsError::ChainBroken`] at the first entry whose sequence number, link to its
    /// predecessor, HMAC or instant is wrong: any edit, deletion, insertion or reordering.
    pub fn verify_chain(&self, entries: &[ChainedEntry]) -> Result<ChainHead, LogsError> {
        let mut head = ChainHead::EMPTY;
        let mut last_at: Option<Timestamp> = None;
        for (index, chained) in entries.iter().enumerate() {
            let expected = u64::try_from(index).map_err(|_| LogsError::Overflow {
                what: "audit sequence number",
            })?;
            let broken = |reason| LogsError::ChainBroken {
                sequence: expected,
                reason,
            };
            if chained.sequence != expected {
                return Err(broken("sequence number out of place"));
            }
            if chained.previous != head.hash {
                return Err(broken("does not link to the entry before it"));
            }
            let message = entry_message(chained.sequence, &chained.previous, &chained.entry);
            hmac::verify(&self.0, &message, &chained.hash.0)
                .map_err(|_| broken("hash does not match its content"))?;
            if last_at.is_some_and(|last| chained.entry.at < last) {
                return Err(broken("dated before the entry before it"));
            }
            last_at = Some(chained.entry.at);
            head = ChainHead {
                entries: expected + 1,
                hash: chained.hash,
            };
        }
        Ok(head)
    }

    fn chain(&self, sequence: u64, previous: ChainHash, entry: AuditEntry) -> ChainedEntry {
        let message = entry_message(sequence, &previous, &entry);
        let tag = hmac::sign(&self.0, &message);
        let mut hash = [0u8; HASH_LEN];
        hash.copy_from_slice(tag.as_ref());
        ChainedEntry {
            sequence,
            entry,
            previous,
            hash: ChainHash(hash),
        }
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
pub struct ChainHash([u8; HASH_LEN]);

impl ChainHash {
    /// The hash before the first entry: 32 zero bytes.
    pub const GENESIS: Self = Self([0; HASH_LEN]);

    /// The bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHead {
    entries: u64,
    hash: ChainHash,
}

impl ChainHead {
    const EMPTY: Self = Self {
        entries: 0,
        hash: ChainHash::GENESIS,
    };

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

/// How an access attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AuditOutcome {
    /// The plaintext was returned to the steward.
    Opened,
    /// The request was refused (`logs.access` / `logs.purposes`); nothing was decrypted.
    Denied(Denial),
    /// The request was allowed but the record did not open.
    Failed(OpenFailure),
}

/// Why an allowed request still did not open the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum OpenFailure {
    /// The customer was crypto-shredded.
    Shredded,
    /// The record names a data key version the keyring does not hold.
    UnknownKeyVersion,
    /// The key commitment or the AEAD tag did not verify: the record was altered.
    Tampered,
    /// The data key could not be unwrapped or derived.
    KeyUnavailable,
}

impl OpenFailure {
    pub(crate) const fn from_error(error: &LogsError) -> Self {
        match error {
            LogsError::Shredded => Self::Shredded,
            LogsError::UnknownKeyVersion { .. } => Self::UnknownKeyVersion,
            LogsError::AuthenticationFailed | LogsError::KeyCommitmentMismatch => Self::Tampered,
            _ => Self::KeyUnavailable,
        }
    }

    const fn code(self) -> u8 {
        match self {
            Self::Shredded => 1,
            Self::UnknownKeyVersion => 2,
            Self::Tampered => 3,
            Self::KeyUnavailable => 4,
        }
    }
}

/// One access attempt: who, why, on what grounds, which record, how it ended, and when.
///
/// Never request content. The record id, customer and key version are taken from the
/// record's header; for a refused or failed attempt they are as claimed by the (possibly
/// forged) record, since it was never authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    steward: StewardId,
    purpose: Purpose,
    justification: Option<Justification>,
    record: RecordId,
    customer: CustomerId,
    key_version: KeyVersion,
    outcome: AuditOutcome,
    at: Timestamp,
}

impl AuditEntry {
    pub(crate) fn new(
        request: &AccessRequest,
        header: &RecordHeader,
        outcome: AuditOutcome,
    ) -> Self {
        Self {
            steward: request.steward().clone(),
            purpose: request.purpose(),
            justification: request.justification().cloned(),
            record: header.record_id(),
            customer: header.customer(),
            key_version: header.key_version(),
            outcome,
            at: request.at(),
        }
    }

    /// Who asked.
    #[must_use]
    pub const fn steward(&self) -> &StewardId {
        &self.steward
    }

    /// Why.
    #[must_use]
    pub const fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// On what grounds, if any were given.
    #[must_use]
    pub const fn justification(&self) -> Option<&Justification> {
        self.justification.as_ref()
    }

    /// The record asked for.
    #[must_use]
    pub const fn record(&self) -> RecordId {
        self.record
    }

    /// The record's customer.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// The record's data key version.
    #[must_use]
    pub const fn key_version(&self) -> KeyVersion {
        self.key_version
    }

    /// How the attempt ended.
    #[must_use]
    pub const fn outcome(&self) -> AuditOutcome {
        self.outcome
    }

    /// When it was asked.
    #[must_use]
    pub const fn at(&self) -> Timestamp {
        self.at
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
}

/// Where the audit chain is kept. Implement it over your database; [`MemoryAuditStore`] is
/// the reference implementation.
///
/// The chain's integrity does not depend on the store: [`AuditKey::verify_chain`] detects
/// what a store (or anyone with access to it) changed.
///
/// One [`AuditTrail`] writes to a store: the trail keeps the sequence number and the head in
/// memory, so two trails over one store would both write the same sequence number, and the
/// forked chain fails verification like tampering would. An implementation over a shared
/// database should refuse an entry whose sequence number is already taken (a unique key).
pub trait AuditStore {
    /// Appends `entry` after the newest one. Must return only once the entry is durable:
    /// [`Vault::open`](crate::Vault::open) returns plaintext only after this returned `Ok`.
    ///
    /// # Errors
    ///
    /// Whatever kept the entry from being stored; the access then fails closed.
    fn append(&mut self, entry: &ChainedEntry) -> Result<(), Box<dyn Error + Send + Sync>>;

    /// The newest entry, if any.
    ///
    /// # Errors
    ///
    /// Whatever kept the store from being read.
    fn last(&self) -> Result<Option<ChainedEntry>, Box<dyn Error + Send + Sync>>;

    /// Every entry, oldest first.
    ///
    /// # Errors
    ///
    /// Whatever kept the store from being read.
    fn entries(&self) -> Result<Vec<ChainedEntry>, Box<dyn Error + Send + Sync>>;
}

/// An audit store in memory: for tests, examples and services that ship entries elsewhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryAuditStore {
    entries: Vec<ChainedEntry>,
}

impl MemoryAuditStore {
    /// An empty store.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// The stored entries, oldest first.
    #[must_use]
    pub fn as_slice(&self) -> &[ChainedEntry] {
        &self.entries
    }
}

impl From<Vec<ChainedEntry>> for MemoryAuditStore {
    /// A store holding these entries as they are (unverified; call
    /// [`AuditTrail::verify`]).
    fn from(entries: Vec<ChainedEntry>) -> Self {
        Self { entries }
    }
}

impl AuditStore for MemoryAuditStore {
    fn append(&mut self, entry: &ChainedEntry) -> Result<(), Box<dyn Error + Send + Sync>> {
        self.entries.push(entry.clone());
        Ok(())
    }

    fn last(&self) -> Result<Option<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        Ok(self.entries.last().cloned())
    }

    fn entries(&self) -> Result<Vec<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        Ok(self.entries.clone())
    }
}

/// The audit trail: the chain key and a store, appending chained entries.
///
/// ```
/// use steward_logs::{AuditKey, AuditTrail, CheckpointSigner, MemoryAuditStore};
///
/// let trail = AuditTrail::new(AuditKey::from_bytes(&[9; 32])?, MemoryAuditStore::new())?;
/// let pkcs8 = CheckpointSigner::generate_pkcs8()?;
/// let signer = CheckpointSigner::from_pkcs8(&pkcs8)?;
/// let checkpoint = trail.checkpoint(&signer)?;
/// assert_eq!(checkpoint.entries(), 0);
/// trail.verify_against(&checkpoint, &signer.public_key())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AuditTrail<S> {
    key: AuditKey,
    store: S,
    head: ChainHead,
    last_at: Option<Timestamp>,
}

impl<S: AuditStore> AuditTrail<S> {
    /// A trail over `store`, continuing after its newest entry.
    ///
    /// Only the newest entry is read; call [`verify`](Self::verify) (or
    /// [`verify_against`](Self::verify_against)) at startup to check the whole chain.
    ///
    /// # Errors
    ///
    /// [`LogsError::AuditUnavailable`] if the store cannot be read;
    /// [`LogsError::ChainBroken`] if its newest entry's hash is not valid under `key`.
    pub fn new(key: AuditKey, store: S) -> Result<Self, LogsError> {
        let last = store
            .last()
            .map_err(|source| LogsError::AuditUnavailable { source })?;
        let (head, last_at) = match last {
            None => (ChainHead::EMPTY, None),
            Some(entry) => {
                let message = entry_message(entry.sequence, &entry.previous, &entry.entry);
                hmac::verify(&key.0, &message, &entry.hash.0).map_err(|_| {
                    LogsError::ChainBroken {
                        sequence: entry.sequence,
                        reason: "hash does not match its content",
                    }
                })?;
                let entries = entry
                    .sequence
                    .checked_add(1)
                    .ok_or_else(|| LogsError::Overflow {
                        what: "audit sequence number",
                    })?;
                (
                    ChainHead {
                        entries,
                        hash: entry.hash,
                    },
                    Some(entry.entry.at),
                )
            }
        };
        Ok(Self {
            key,
            store,
            head,
            last_at,
        })
    }

    /// Chains `entry` after the newest entry and stores it.
    ///
    /// # Errors
    ///
    /// [`LogsError::ClockWentBackwards`] if `entry` is dated before the newest entry (the
    /// entry is not written: an audit trail out of time order cannot be trusted, so the
    /// caller must retry with a correct clock); [`LogsError::AuditUnavailable`] if the store
    /// failed. Either way nothing was appended.
    pub fn append(&mut self, entry: AuditEntry) -> Result<&ChainHead, LogsError> {
        if let Some(last) = self.last_at
            && entry.at < last
        {
            return Err(LogsError::ClockWentBackwards {
                last,
                attempted: entry.at,
            });
        }
        let sequence = self.head.entries;
        let next_len = sequence.checked_add(1).ok_or_else(|| LogsError::Overflow {
            what: "audit sequence number",
        })?;
        let at = entry.at;
        let chained = self.key.chain(sequence, self.head.hash, entry);
        self.store
            .append(&chained)
            .map_err(|source| LogsError::AuditUnavailable { source })?;
        self.head = ChainHead {
            entries: next_len,
            hash: chained.hash,
        };
        self.last_at = Some(at);
        Ok(&self.head)
    }

    /// The head as appended by this trail (not re-read from the store).
    #[must_use]
    pub const fn head(&self) -> &ChainHead {
        &self.head
    }

    /// Reads and verifies the whole chain in the store.
    ///
    /// # Errors
    ///
    /// [`LogsError::AuditUnavailable`] if the store cannot be read; [`LogsError::ChainBroken`]
    /// if any entry was edited, deleted, inserted or reordered.
    pub fn verify(&self) -> Result<ChainHead, LogsError> {
        let entries = self
            .store
            .entries()
            .map_err(|source| LogsError::AuditUnavailable { source })?;
        self.key.verify_chain(&entries)
    }

    /// Verifies the chain and that it still reaches `checkpoint`, signed by `public_key`:
    /// this detects the loss of the newest entries, which [`verify`](Self::verify) alone
    /// cannot.
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify), plus [`LogsError::CheckpointSignature`] if the checkpoint
    /// is not signed by `public_key`, and [`LogsError::CheckpointMismatch`] if the chain is
    /// shorter than the checkpoint or differs at its head.
    pub fn verify_against(
        &self,
        checkpoint: &Checkpoint,
        public_key: &CheckpointPublicKey,
    ) -> Result<ChainHead, LogsError> {
        public_key.verify(checkpoint)?;
        let entries = self
            .store
            .entries()
            .map_err(|source| LogsError::AuditUnavailable { source })?;
        let head = self.key.verify_chain(&entries)?;
        let mismatch = |reason| LogsError::CheckpointMismatch {
            checkpoint: checkpoint.entries,
            reason,
        };
        if checkpoint.entries == 0 {
            return if checkpoint.head == ChainHash::GENESIS {
                Ok(head)
            } else {
                Err(mismatch("an empty checkpoint must have the genesis head"))
            };
        }
        if head.entries < checkpoint.entries {
            return Err(mismatch(
                "the chain is shorter: its newest entries were removed",
            ));
        }
        let index = usize::try_from(checkpoint.entries - 1)
            .map_err(|_| mismatch("the checkpoint is beyond this platform's range"))?;
        let at_checkpoint = entries
            .get(index)
            .ok_or_else(|| mismatch("the chain is shorter: its newest entries were removed"))?;
        if at_checkpoint.hash != checkpoint.head {
            return Err(mismatch("the chain differs from the checkpoint's head"));
        }
        Ok(head)
    }

    /// Signs the current head, for shipping to a place the store's operators cannot edit.
    ///
    /// # Errors
    ///
    /// None today; `Result` keeps room for signers that can fail (HSM, KMS).
    pub fn checkpoint(&self, signer: &CheckpointSigner) -> Result<Checkpoint, LogsError> {
        let message = checkpoint_message(self.head.entries, &self.head.hash);
        let signature = signer.0.sign(&message);
        let mut bytes = [0u8; SIGNATURE_LEN];
        if signature.as_ref().len() != SIGNATURE_LEN {
            return Err(LogsError::CheckpointSignature);
        }
        bytes.copy_from_slice(signature.as_ref());
        Ok(Checkpoint {
            entries: self.head.entries,
            head: self.head.hash,
            signature: bytes,
        })
    }

    /// The store.
    pub const fn store(&self) -> &S {
        &self.store
    }

    /// The store, giving up the trail.
    pub fn into_store(self) -> S {
        self.store
    }
}

impl<S> fmt::Debug for AuditTrail<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditTrail")
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

/// A signed statement "the chain had `entries` entries, the newest hashing to `head`".
/// Serializes (serde) with the hash and signature as hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CheckpointRepr", into = "CheckpointRepr")]
pub struct Checkpoint {
    entries: u64,
    head: ChainHash,
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
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointRepr {
    entries: u64,
    head: ChainHash,
    signature: String,
}

impl TryFrom<CheckpointRepr> for Checkpoint {
    type Error = LogsError;

    fn try_from(repr: CheckpointRepr) -> Result<Self, Self::Error> {
        Ok(Self {
            entries: repr.entries,
            head: repr.head,
            signature: hex::decode(&repr.signature, "checkpoint signature")?,
        })
    }
}

impl From<Checkpoint> for CheckpointRepr {
    fn from(checkpoint: Checkpoint) -> Self {
        Self {
            entries: checkpoint.entries,
            head: checkpoint.head,
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
    /// [`LogsError::Random`] if the system RNG fails.
    pub fn generate_pkcs8() -> Result<Zeroizing<Vec<u8>>, LogsError> {
        let document =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| LogsError::Random)?;
        Ok(Zeroizing::new(document.as_ref().to_vec()))
    }

    /// The signer from a PKCS#8 document (as made by [`generate_pkcs8`](Self::generate_pkcs8)).
    ///
    /// # Errors
    ///
    /// [`LogsError::InvalidKey`] if the document is not an Ed25519 PKCS#8 key.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, LogsError> {
        Ed25519KeyPair::from_pkcs8(pkcs8)
            .map(Self)
            .map_err(|_| LogsError::InvalidKey {
                reason: "not an Ed25519 PKCS#8 document",
            })
    }

    /// The public key that verifies this signer's checkpoints.
    #[must_use]
    pub fn public_key(&self) -> CheckpointPublicKey {
        let mut bytes = [0u8; PUBLIC_KEY_LEN];
        let public = self.0.public_key().as_ref();
        if public.len() == PUBLIC_KEY_LEN {
            bytes.copy_from_slice(public);
        }
        CheckpointPublicKey(bytes)
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

    /// Checks a checkpoint's signature.
    ///
    /// # Errors
    ///
    /// [`LogsError::CheckpointSignature`] if it does not verify.
    pub fn verify(&self, checkpoint: &Checkpoint) -> Result<(), LogsError> {
        let message = checkpoint_message(checkpoint.entries, &checkpoint.head);
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.0)
            .verify(&message, &checkpoint.signature)
            .map_err(|_| LogsError::CheckpointSignature)
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

/// The canonical bytes an entry's HMAC covers: a domain label, then every field,
/// variable-length fields prefixed with their length, so no two entries encode alike.
const NANOS_PER_SECOND: i64 = 1_000_000_000;

fn entry_message(sequence: u64, previous: &ChainHash, entry: &AuditEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(ENTRY_LABEL);
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(&previous.0);
    put_short(&mut out, entry.steward.as_str().as_bytes());
    put_short(&mut out, entry.purpose.as_str().as_bytes());
    match &entry.justification {
        None => out.push(0),
        Some(justification) => {
            out.push(1);
            put_long(&mut out, justification.as_str().as_bytes());
        }
    }
    out.extend_from_slice(entry.record.as_bytes());
    out.extend_from_slice(entry.customer.as_bytes());
    out.extend_from_slice(&entry.key_version.to_be_bytes());
    match entry.outcome {
        AuditOutcome::Opened => out.push(1),
        AuditOutcome::Denied(denial) => {
            out.push(2);
            match denial {
                Denial::NotOnRoster => out.push(1),
                Denial::PurposeNotForLogs { purpose } => {
                    out.push(2);
                    put_short(&mut out, purpose.as_str().as_bytes());
                }
                Denial::MissingJustification => out.push(3),
            }
        }
        AuditOutcome::Failed(failure) => {
            out.push(3);
            out.push(failure.code());
        }
    }
    // Whole seconds (towards the past) and the nanoseconds within that second, as a calendar
    // library gives them: the encoding predates the integer representation of instants.
    let nanos = entry.at.unix_nanos();
    out.extend_from_slice(&nanos.div_euclid(NANOS_PER_SECOND).to_be_bytes());
    // INVARIANT: rem_euclid lies in 0..1e9, which fits a u32; the default is never taken.
    let subsec = u32::try_from(nanos.rem_euclid(NANOS_PER_SECOND)).unwrap_or_default();
    out.extend_from_slice(&subsec.to_be_bytes());
    out
}

/// A field of at most 255 bytes, prefixed with its length (steward ids and purposes are at
/// most 64 bytes; a longer one is cut, which cannot happen for validated values).
fn put_short(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u8::try_from(bytes.len()).unwrap_or(u8::MAX);
    out.push(len);
    out.extend_from_slice(bytes.get(..usize::from(len)).unwrap_or(bytes));
}

/// A field of at most 65,535 bytes, prefixed with its length (a justification is at most 512
/// characters, so at most 2,048 bytes).
fn put_long(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes.get(..usize::from(len)).unwrap_or(bytes));
}

fn checkpoint_message(entries: u64, head: &ChainHash) -> Vec<u8> {
    let mut out = Vec::with_capacity(CHECKPOINT_LABEL.len() + 8 + HASH_LEN);
    out.extend_from_slice(CHECKPOINT_LABEL);
    out.extend_from_slice(&entries.to_be_bytes());
    out.extend_from_slice(&head.0);
    out
}

#[cfg(test)]
mod tests {
    use steward_core::Timestamp;

    use super::NANOS_PER_SECOND;

    #[test]
    fn entry_time_encoding_matches_the_calendar_split() {
        // Chains written before instants became integers encoded chrono's split; the integer
        // split must give the same bytes, before the epoch too.
        for nanos in [
            i64::MIN,
            -1_000_000_001,
            -1,
            0,
            1,
            1_741_132_800_123_456_789,
            i64::MAX,
        ] {
            let datetime = Timestamp::from_unix_nanos(nanos).as_datetime();
            assert_eq!(nanos.div_euclid(NANOS_PER_SECOND), datetime.timestamp());
            assert_eq!(
                u32::try_from(nanos.rem_euclid(NANOS_PER_SECOND)).unwrap(),
                datetime.timestamp_subsec_nanos()
            );
        }
    }
}
