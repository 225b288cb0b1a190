//! Encrypted LLM request logs: sealed records, per-customer keys, custody with an audit
//! trail. The building blocks of `steward::Vault`: services depend on the `steward` crate,
//! which puts the policy in front of every decrypting path.
//!
//! ```
//! use steward_core::{CustomerId, RecordId, Timestamp, TrainingLevel};
//! use steward_logs::{
//!     AccessRequest, AuditKey, AuditTrail, Custody, Keyring, MasterKey, MemoryAuditStore,
//!     SealInput, SealedRecord,
//! };
//!
//! // Keys come from configuration (a file, the environment or a KMS), never from code.
//! let master = MasterKey::from_bytes("kek-2025-03".parse()?, b"steward test key 42, not secret!")?;
//! let trail = AuditTrail::new(AuditKey::from_bytes(b"steward test key 17, not secret!")?, MemoryAuditStore::new())?;
//! let custody = Custody::new(Keyring::new(master), trail);
//!
//! // logs.stored + logs.encrypted: seal every request as it passes the proxy.
//! let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
//! let now = Timestamp::now();
//! let meta = SealInput::new(RecordId::generate_at(now), customer, now, TrainingLevel::None);
//! let bytes = custody.seal(&meta, b"{\"prompt\":\"fix my build\"}")?.into_bytes();
//!
//! // logs.access + logs.purposes: the gate is the policy's decision (steward::Vault passes
//! // Policy::check); the attempt is audited before plaintext comes out.
//! let record = SealedRecord::from_bytes(&bytes)?;
//! let request = AccessRequest::with_justification_text(
//!     "alice.ops".parse()?,
//!     "troubleshooting".parse()?,
//!     "TICKET-4711",
//! );
//! let body = custody.dangerous_open_with_gate(&record, &request, |_query| Ok(()))?;
//! assert_eq!(body.as_bytes(), b"{\"prompt\":\"fix my build\"}");
//! assert_eq!(custody.audit()?.verify()?.entries(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Sealing records
//!
//! [`Custody::seal`] turns a request body and its [`SealInput`] ([`RecordId`], customer,
//! created-at, the [`TrainingLevel`] in force at collection) into a [`SealedRecord`]: an
//! authenticated header followed by the AES-256-GCM (or ChaCha20-Poly1305, see
//! [`SealConfig`]) ciphertext. The header is the AEAD's associated data and carries a
//! commitment to the key, so a record cannot be altered, or opened under another customer,
//! record id or key version, without a typed error. [`SealedRecord::from_bytes`] parses stored
//! bytes without ever panicking; docs/record-format.md describes the format byte by byte, and
//! why no (key, nonce) pair is ever used twice.
//!
//! # Keys
//!
//! A [`Keyring`] holds a [`MasterKey`] (from bytes, hex, an environment variable or a file)
//! and one random data key per customer and [`KeyVersion`], stored only as
//! [`WrappedDataKey`]s bound to the customer and version. Rotate a customer's key
//! ([`Custody::rotate_data_key`]: new records use the new version, old ones still open),
//! rotate the master key ([`Custody::rotate_master_key`]: rewraps, re-encrypts nothing), or
//! crypto-shred a customer ([`Custody::shred`]: every later open of their earlier records
//! fails with [`OpenError::Shredded`]). Each of these is an audit entry. Key types are not
//! `Clone`, never print their bytes and zeroize on drop.
//!
//! # Opening records
//!
//! Services open through `steward::Vault::open`, whose gate is the policy. Beneath it,
//! [`Custody::dangerous_open_with_gate`] takes an [`AccessRequest`] (a [`StewardId`], a
//! purpose and a justification) and a gate: the decision on the request, the record's header
//! and the instant, which the custody's own trail fixes; the gate decides alone, hence the
//! name. A refusal is a [`OpenError::Denied`]
//! naming the [`Denial`] and its clause. Every attempt, refused or not, is written to the
//! audit trail, and plaintext is returned only after its entry was stored. The returned
//! [`Plaintext`] carries the header it authenticated.
//!
//! # Auditing
//!
//! [`AuditTrail`] chains [`AuditEntry`]s (access attempts, roster changes, key events) with
//! HMAC-SHA256 under an [`AuditKey`], over any [`AuditStore`] ([`MemoryAuditStore`] ships),
//! dated by its own clock. [`AuditTrail::verify`] detects edits, deletions, insertions and
//! reorderings; [`Checkpoint`]s signed by a [`CheckpointSigner`] (Ed25519) detect the loss
//! of the newest entries via [`AuditTrail::verify_against`].
//!
//! [`RecordId`]: steward_core::RecordId
//! [`TrainingLevel`]: steward_core::TrainingLevel
//! [`StewardId`]: steward_core::StewardId

#![forbid(unsafe_code)]

mod access;
mod audit;
mod ct;
mod custody;
mod ed25519;
mod error;
mod export;
pub mod hex;
mod keys;
mod receipt_key;
mod record;
mod session;
mod subject;

pub use crate::{
    access::{AccessRequest, Denial, RosterCapacity, StewardRoster},
    audit::{
        AccessEvent, Anomaly, AuditEntry, AuditEvent, AuditFilter, AuditKey, AuditOutcome,
        AuditReport, AuditStore, AuditTrail, ChainHash, ChainHead, ChainedEntry, Checkpoint,
        CheckpointPublicKey, CheckpointSigner, EntryKind, ExportEvent, ExportStage, FactLogKey,
        KeyEvent, MemoryAuditStore, OPENS_FACTOR, OPENS_MINIMUM, OpenCount, OpenFailure, Period,
        REFUSALS_IN_A_ROW, Refusal, RosterChange, RosterEvent, SharedHead, ShredEvent,
        SubjectRequestEvent, customer_of, steward_of,
    },
    custody::{Custody, OpenQuery, Plaintext, SealConfig, Sealed, SecretRedaction},
    error::{AuditError, ConfigError, KeyError, LogsError, OpenError, RecordError},
    export::{
        ExportCounts, ExportGrant, ExportJobId, ExportOutcome, ExportPlan, NotExported,
        PlannedRecords, RecordDigest, RecordDigester, SkipReason,
    },
    keys::{
        AuditKeyCheck, KEY_LEN, KeyAdmission, KeyEpoch, KeyMaterial, KeyStore, KeyVersion, Keyring,
        KeyringSnapshot, MasterKey, MasterKeyCheck, MasterKeyId, NoKeyStore,
        PreparedMasterRotation, Tombstone, WrappedDataKey,
    },
    receipt_key::{ReceiptKeyId, ReceiptPublicKey, ReceiptSignature, ReceiptSigner},
    record::{
        Algorithm, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_BODY_LEN, OLDEST_FORMAT_VERSION,
        RecordHeader, Redaction, SealInput, SealedRecord, TAG_LEN,
    },
    subject::{
        PendingErasure, SubjectAccessOutcome, SubjectGrant, SubjectRequest, SubjectRight,
        SubjectStage, pending_erasures,
    },
};

/// The error a store implementation reports ([`AuditStore`], [`KeyStore`]): whatever its
/// backend says, boxed. Steward wraps it in a typed error that says what did not happen.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
