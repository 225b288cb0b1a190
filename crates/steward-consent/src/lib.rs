//! Training consent for Steward: levels, an append-only ledger, and the level in force at any
//! instant.
//!
//! Services depend on the `steward` crate, which re-exports this crate (as `steward::consent`,
//! its common types also at the root); this crate is its building block, released in lockstep
//! with it.
//!
//! ```
//! use steward_consent::{
//!     Channel, ConsentActor, ConsentChange, ConsentError, ConsentLedger, ConsentMode,
//!     KnownPolicyVersions, TrainingLevel,
//! };
//! use steward_core::{CustomerId, Timestamp, TrainingScope};
//!
//! let alice: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
//! // The ledger accepts changes under the versions of the policy it is told about.
//! let mut ledger = ConsentLedger::new(KnownPolicyVersions::new("2025-03-05".parse()?));
//!
//! // Alice opts in to shared training in her account settings, in force at once...
//! let june: Timestamp = "2025-06-01T00:00:00Z".parse()?;
//! let receipt = ledger.record(
//!     ConsentChange::new(
//!         alice,
//!         TrainingLevel::Shared,
//!         june,
//!         ConsentActor::Customer,
//!         Channel::AccountSettings,
//!         "2025-03-05".parse()?,
//!     ),
//!     june, // recorded at: the caller's clock
//! )?;
//! assert_eq!(receipt.previous_level, TrainingLevel::None);
//! assert_eq!(receipt.recorded_at, receipt.effective);
//!
//! // ...and in August asks support to narrow it to her own private models from September on.
//! ledger.record(
//!     ConsentChange::new(
//!         alice,
//!         TrainingLevel::Private,
//!         "2025-09-01T00:00:00Z".parse()?,
//!         ConsentActor::Admin {
//!             admin: "dana.support".parse()?,
//!             basis: "TICKET-4711: customer asked by email".parse()?,
//!         },
//!         Channel::SupportRequest,
//!         "2025-03-05".parse()?,
//!     ),
//!     "2025-08-20T10:00:00Z".parse()?,
//! )?;
//!
//! // Nobody can backdate consent: a change may not take effect before it is recorded.
//! let backdated = ledger.record(
//!     ConsentChange::new(
//!         alice,
//!         TrainingLevel::OpenWeight,
//!         "2025-09-15T00:00:00Z".parse()?,
//!         ConsentActor::Customer,
//!         Channel::Api,
//!         "2025-03-05".parse()?,
//!     ),
//!     "2025-10-01T00:00:00Z".parse()?,
//! );
//! assert!(matches!(backdated, Err(ConsentError::Backdated { .. })));
//!
//! let collected: Timestamp = "2025-07-15T12:00:00Z".parse()?;
//! let now: Timestamp = "2025-10-01T00:00:00Z".parse()?;
//!
//! // training.forward-only: a record collected in July keeps July's level.
//! let level = ledger.effective_level(alice, collected, now, ConsentMode::ForwardOnly);
//! assert!(level.permits(TrainingScope::Shared, alice));
//!
//! // The strict mode also lets the later downgrade stop further shared training.
//! let strict = ConsentMode::WithdrawalStopsProcessing;
//! let level = ledger.effective_level(alice, collected, now, strict);
//! assert!(!level.permits(TrainingScope::Shared, alice));
//! assert!(level.permits(TrainingScope::Private { owner: alice }, alice));
//!
//! // training.default-off: before any change there is no training at all.
//! let early: Timestamp = "2025-01-01T00:00:00Z".parse()?;
//! assert_eq!(ledger.level_at(alice, early), TrainingLevel::None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Levels and scopes
//!
//! [`TrainingLevel`] (defined in steward-core next to `TrainingScope`, re-exported here) is one
//! level per customer, ordered `none < private < shared < open-weight` and cumulative: a level
//! permits training at its own scope and every narrower one ([`TrainingLevel::permits`]). A
//! private scope (`TrainingScope::Private { owner }`) only ever reads the data of its owner,
//! whatever anyone's level (`training.private`).
//! [`TrainingLevel::clause`] and [`TrainingLevel::deciding_clause`] name the clause behind an
//! answer: `training.default-off`, `training.private`, `training.shared` or
//! `training.open-weight`.
//!
//! # Recording changes
//!
//! [`ConsentLedger::record`] appends a [`ConsentChange`]: customer, new level, effective
//! instant, [`ConsentActor`] (the customer, or an admin with an [`AdminId`] acting for them
//! on a stated basis, a `Justification`), [`Channel`] and the `PolicyVersion` in force
//! (`policy.versioned`), together with the instant the caller records it at (its clock's
//! now: the ledger reads no clock). It returns a [`ConsentReceipt`] with a [`ReceiptId`] and
//! both instants: the evidence GDPR Art. 7(1) asks for.
//!
//! The ledger is append-only and refuses, with a typed error, a change that:
//! - names a policy version outside its [`KnownPolicyVersions`]
//!   ([`ConsentError::UnknownPolicyVersion`]);
//! - is recorded before the newest recording instant in the ledger
//!   ([`ConsentError::ClockWentBackwards`]);
//! - would take effect before it is recorded ([`ConsentError::Backdated`]: no backdating; a
//!   change scheduled for later is fine);
//! - is effective at or before the customer's latest change
//!   ([`ConsentError::NotAfterLatest`]).
//!
//! A rejected change leaves the ledger exactly as it was. [`ConsentLedger::history`] replays
//! a customer's receipts.
//!
//! # The level at an instant
//!
//! [`ConsentLedger::level_at`] is a binary search over the customer's history: O(log n),
//! no allocation. **A change is in force from its effective instant on**, inclusive: at
//! exactly that instant the new level applies, so data collected at the same instant as an
//! opt-in is covered by it, and data collected at the instant of a withdrawal is not.
//! Before a customer's first change the level is `none` (`training.default-off`).
//!
//! # Forward-only and the strict mode
//!
//! [`ConsentMode::ForwardOnly`] (the default, `training.forward-only`) gives a record the
//! level in force when it was collected; later changes affect only later data.
//! [`ConsentMode::WithdrawalStopsProcessing`] is stricter: the lower of the level at
//! collection and the level now, so a downgrade also stops further training on earlier data,
//! as GDPR Art. 7(3) and the EDPB read withdrawal. Turn it on when withdrawal has to stop
//! processing of existing data too; in both modes upgrades never reach back and models
//! already trained stay as they are. Use [`ConsentMode::effective_level`] when you hold the
//! levels, or [`ConsentLedger::effective_level`] to look them up.
//!
//! # Export and import
//!
//! [`ConsentLedger::to_json`] writes the whole ledger (format [`EXPORT_FORMAT`], customers in
//! id order, so the output is deterministic); [`ConsentLedger::from_json`] reads it back into
//! a ledger with the given [`KnownPolicyVersions`] and validates everything `record`
//! guarantees (known policy versions, no change effective before it was recorded, recording
//! instants that never decrease in receipt order, per-customer order in time and receipts,
//! unique receipts and customers, admins with a basis, values in range). A bad file gives a
//! typed error that names where it is wrong, and no ledger. The import builds the ledger while
//! it reads, and [`ConsentLedger::to_json_writer`] / [`ConsentLedger::from_json_reader`]
//! stream to and from files, so a backup of a million customers needs no second copy in
//! memory. The ledger implements serde's `Serialize`; [`ConsentLedgerSeed`] reads it with any
//! serde format and the same validation.
//!
//! # Memory and threads
//!
//! A change is stored in 32 bytes without a heap allocation of its own (policy versions and
//! admins with their stated basis are interned in small tables); each customer costs one hash-table slot and one
//! exactly-sized buffer. [`ConsentLedger::approximate_heap_bytes`] reports the total. Queries
//! take `&self` and never lock; the ledger is `Send + Sync`.

#![forbid(unsafe_code)]

mod actor;
mod error;
mod interactive;
mod intern;
mod ledger;
mod mode;
mod versions;

pub use steward_core::{AdminId, Justification, TrainingLevel};

pub use crate::{
    actor::{Channel, ConsentActor},
    error::ConsentError,
    interactive::{
        InteractiveChange, InteractiveChoice, InteractiveEntry, InteractiveLedger,
        InteractiveReceipt,
    },
    ledger::{
        ConsentChange, ConsentLedger, ConsentLedgerSeed, ConsentReceipt, EXPORT_FORMAT, History,
        ReceiptId,
    },
    mode::ConsentMode,
    versions::KnownPolicyVersions,
};
