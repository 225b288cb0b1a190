#![doc = include_str!("../../../README.md")]
#![forbid(unsafe_code)]

mod check;
mod decision;
mod error;
mod facts;
mod justification_rule;
mod observe;
mod policy;
mod receipt;
mod request;
mod ropa;
mod subject;
mod training;
mod vault;

pub use crate::{
    decision::{Citations, ClauseSet, Decision, DenyReason, Effect, EvaluationProblem, Obligation},
    error::{PolicyError, StewardError},
    facts::{AuditedRosterChange, Facts, FactsIdentity, MemoryFacts, RosterFacts},
    justification_rule::JustificationRule,
    policy::Policy,
    receipt::{
        CustomerReceipt, FactLogPosition, INTERACTIVE_RECEIPT_FORMAT, RECEIPT_FORMAT,
        RECEIPT_VERSION, ReceiptError, SignableReceipt, SignedConsentReceipt,
        SignedInteractiveReceipt, SignedReceipt, verify_consent_receipts, verify_receipts,
    },
    request::{Action, Actor, CollectionConsent, DataRef, Request},
    ropa::{
        AccessRole, CategoryRecord, PolicyRef, ProcessingFacts, PurposeRecord, ROPA_SCHEMA_VERSION,
        RetentionRecord, Ropa, SecurityMeasure, StewardNames, SubjectCategory,
    },
    subject::{
        ErasureOutcome, SUBJECT_BUNDLE_FORMAT, SubjectBundle, SubjectFacts, SubjectHold,
        SubjectRecord,
    },
    training::{
        EncryptedExport, ExportPass, ExportedRecord, MANIFEST_FORMAT, TrainingManifest,
        TrainingRecipient, TrainingRecipients,
    },
    vault::{Vault, VaultShredder},
};

// One path per name: the root holds what this crate defines (the policy, requests,
// decisions, facts, the vault and their errors); everything the other crates define is
// reached through exactly one of the modules below, never also from the root.

/// Consent: training levels, modes and the ledger (steward-consent).
pub mod consent {
    pub use steward_consent::*;
}

/// Encrypted log records, keys, steward access and the audit trail (steward-logs).
pub mod logs {
    pub use steward_logs::*;
}

/// Credential redaction before sealing: the scanner, secret kinds and counts (steward-redact).
pub mod redact {
    pub use steward_redact::*;
}

/// Relationships, retention rules, legal holds and the sweep (steward-retention).
pub mod retention {
    pub use steward_retention::*;
}

// Everything a multi-threaded server shares must be Send + Sync; a change that breaks this
// fails the build, not a deployment.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Policy>();
    assert_send_sync::<MemoryFacts>();
    assert_send_sync::<Decision>();
    assert_send_sync::<Vault<MemoryFacts, steward_logs::MemoryAuditStore>>();
    assert_send_sync::<steward_logs::Custody<steward_logs::MemoryAuditStore>>();
    assert_send_sync::<steward_logs::Keyring>();
    assert_send_sync::<steward_logs::AuditTrail<steward_logs::MemoryAuditStore>>();
    assert_send_sync::<steward_consent::ConsentLedger>();
    assert_send_sync::<steward_retention::RelationshipBook>();
    assert_send_sync::<steward_retention::HoldRegister>();
};

/// The long-form documentation, compiled: each page is one of the files in `docs/`, and
/// its Rust blocks run as doctests, so they cannot go stale without failing the build.
pub mod _documentation {
    #[doc = include_str!("../../../docs/design.md")]
    pub mod design {}
    #[doc = include_str!("../../../docs/design-faq.md")]
    pub mod design_faq {}
    #[doc = include_str!("../../../docs/policy-map.md")]
    pub mod policy_map {}
    #[doc = include_str!("../../../docs/record-format.md")]
    pub mod record_format {}
    #[doc = include_str!("../../../docs/retention.md")]
    pub mod retention {}
    #[doc = include_str!("../../../docs/receipts.md")]
    pub mod receipts {}
    #[doc = include_str!("../../../docs/operations.md")]
    pub mod operations {}
    #[doc = include_str!("../../../docs/benchmarks.md")]
    pub mod benchmarks {}
    #[doc = include_str!("../../../docs/fuzzing.md")]
    pub mod fuzzing {}
    #[doc = include_str!("../../../docs/subject-requests.md")]
    pub mod subject_requests {}
}

/// The shared vocabulary (steward-core). Not named `core`, which would shadow the standard
/// `core` crate wherever `steward::*` is glob-imported.
pub mod vocabulary {
    pub use steward_core::*;
}
