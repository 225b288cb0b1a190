#![doc = include_str!("../../../README.md")]
#![forbid(unsafe_code)]

mod check;
mod decision;
mod error;
mod facts;
mod policy;
mod records;
mod request;

pub use crate::{
    decision::{ClauseSet, Decision, DenyReason, Effect, EvaluationProblem, Obligation},
    error::{PolicyError, StewardError},
    facts::{Facts, MemoryFacts},
    policy::Policy,
    records::{VaultShredder, consent_at_collection, training_level},
    request::{Action, Actor, DataRef, Request},
};
pub use steward_consent::{
    Actor as ConsentActor, AdminId, Channel, ConsentChange, ConsentLedger, ConsentMode,
    ConsentReceipt, KnownPolicyVersions, TrainingLevel,
};
pub use steward_core::{
    ClauseId, CustomerId, DataCategory, Justification, PolicyVersion, Purpose, PurposeGroup,
    RecordId, StewardId, Timestamp, TrainingScope,
};

/// Consent: training levels, modes and the ledger (steward-consent).
pub mod consent {
    pub use steward_consent::*;
}

/// Encrypted log records, keys, steward access and the audit trail (steward-logs).
pub mod logs {
    pub use steward_logs::*;
}

/// Relationships, retention rules, legal holds and the sweep (steward-retention).
pub mod retention {
    pub use steward_retention::*;
}

/// The shared vocabulary (steward-core). Not named `core`, which would shadow the standard
/// `core` crate wherever `steward::*` is glob-imported.
pub mod vocabulary {
    pub use steward_core::*;
}
