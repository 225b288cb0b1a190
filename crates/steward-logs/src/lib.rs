//! Encrypted LLM request logs: sealed records, per-customer keys, steward access and an
//! audit trail.
//!
//! ```
//! use steward_core::{CustomerId, RecordId, Timestamp};
//! use steward_logs::{
//!     AccessRequest, AuditKey, AuditTrail, ConsentAtCollection, Keyring, MasterKey,
//!     MemoryAuditStore, RecordMeta, RosterCapacity, SealedRecord, StewardRoster, Vault,
//! };
//!
//! // Keys come from configuration (a file, the environment or a KMS), never from code.
//! let master = MasterKey::from_bytes("kek-2025-03".parse()?, &[0x42; 32])?;
//! let mut roster = StewardRoster::new(RosterCapacity::new(3)?);
//! roster.add("alice.ops".parse()?)?;
//! let mut vault = Vault::new(Keyring::new(master), roster);
//! let mut audit = AuditTrail::new(AuditKey::from_bytes(&[0x17; 32])?, MemoryAuditStore::new())?;
//!
//! // logs.stored + logs.encrypted: seal every request as it passes the proxy.
//! let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
//! let now: Timestamp = "2025-06-01T09:30:00Z".parse()?;
//! let meta = RecordMeta::new(customer, RecordId::generate_at(now), now, ConsentAtCollection::None);
//! let bytes = vault.seal(&meta, b"{\"prompt\":\"fix my build\"}")?.into_bytes();
//!
//! // logs.access + logs.purposes: a roster steward, a log purpose and a ticket.
//! let record = SealedRecord::from_bytes(&bytes)?;
//! let request = AccessRequest::with_justification_text(
//!     "alice.ops".parse()?,
//!     "troubleshooting".parse()?,
//!     "TICKET-4711",
//!     "2025-06-02T10:00:00Z".parse()?,
//! );
//! let body = vault.open(&record, &request, &mut audit)?;
//! assert_eq!(body.as_bytes(), b"{\"prompt\":\"fix my build\"}");
//! assert_eq!(audit.verify()?.entries(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Sealing records
//!
//! [`Vault::seal`] turns a request body and its [`RecordMeta`] (customer, [`RecordId`],
//! created-at, [`ConsentAtCollection`]) into a [`SealedRecord`]: an authenticated header
//! followed by the AES-256-GCM (or ChaCha20-Poly1305, see [`VaultConfig`]) ciphertext. The
//! header is the AEAD's associated data and carries a commitment to the key, so a record
//! cannot be altered, or opened under another customer, record id or key version, without
//! a typed error. [`SealedRecord::from_bytes`] parses stored bytes without ever panicking;
//! docs/record-format.md describes the format byte by byte, and why no (key, nonce) pair
//! is ever used twice.
//!
//! # Keys
//!
//! A [`Keyring`] holds a [`MasterKey`] (from bytes, hex, an environment variable or a file)
//! and one random data key per customer and [`KeyVersion`], stored only as
//! [`WrappedDataKey`]s bound to the customer and version. Rotate a customer's key
//! ([`Vault::rotate_data_key`]: new records use the new version, old ones still open),
//! rotate the master key ([`Vault::rotate_master_key`]: rewraps, re-encrypts nothing), or
//! crypto-shred a customer ([`Vault::shred`]: every later open fails with
//! [`LogsError::Shredded`]). [`Keyring::snapshot`] gives what a store persists. Key types are
//! not `Clone`, never print their bytes and zeroize on drop.
//!
//! # Opening records
//!
//! [`Vault::open`] takes an [`AccessRequest`]: a [`StewardId`] on the [`StewardRoster`] (at
//! most a configured number: "a select few"), one of the four `logs.purposes` purposes, a
//! justification and the instant. Anything else is a [`LogsError::Denied`] naming the
//! [`Denial`] and its clause. Every attempt, refused or not, is written to the audit trail,
//! and plaintext is returned only after its entry was stored.
//!
//! # Auditing
//!
//! [`AuditTrail`] chains [`AuditEntry`]s with HMAC-SHA256 under an [`AuditKey`], over any
//! [`AuditStore`] ([`MemoryAuditStore`] ships). [`AuditTrail::verify`] detects edits,
//! deletions, insertions and reorderings; [`Checkpoint`]s signed by a [`CheckpointSigner`]
//! (Ed25519) detect the loss of the newest entries via [`AuditTrail::verify_against`].
//!
//! [`RecordId`]: steward_core::RecordId
//! [`StewardId`]: steward_core::StewardId

#![forbid(unsafe_code)]

mod access;
mod audit;
mod consent;
mod error;
mod hex;
mod keys;
mod record;
mod session;
mod vault;

pub use crate::{
    access::{AccessRequest, Denial, RosterCapacity, StewardRoster},
    audit::{
        AuditEntry, AuditKey, AuditOutcome, AuditStore, AuditTrail, ChainHash, ChainHead,
        ChainedEntry, Checkpoint, CheckpointPublicKey, CheckpointSigner, MemoryAuditStore,
        OpenFailure,
    },
    consent::ConsentAtCollection,
    error::LogsError,
    keys::{
        KEY_LEN, KeyVersion, Keyring, KeyringSnapshot, MasterKey, MasterKeyId, Tombstone,
        WrappedDataKey,
    },
    record::{
        Algorithm, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_BODY_LEN, RecordHeader, RecordMeta,
        SealedRecord, TAG_LEN,
    },
    vault::{Plaintext, Vault, VaultConfig},
};
