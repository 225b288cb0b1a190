//! The shared vocabulary of Steward: who, what, why and when, as types.
//!
//! Services depend on the `steward` crate, which re-exports this vocabulary; this crate is
//! its building block, released in lockstep with it.
//!
//! Every other Steward crate speaks in these types, and every value has a stable, documented
//! string form that `FromStr` and serde accept and nothing else does: an unknown value is an
//! error that names it.
//!
//! ```
//! use steward_core::{ClauseId, CustomerId, DataCategory, Purpose, PurposeGroup, Timestamp};
//!
//! let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
//! let collected: Timestamp = "2025-06-01T09:30:00Z".parse()?;
//! let purpose: Purpose = "troubleshooting".parse()?;
//! assert_eq!(purpose.group(), PurposeGroup::Logs);
//! assert_eq!(DataCategory::LlmRequestLog.clause(), ClauseId::LogsStored);
//! assert!("marketing".parse::<Purpose>()?.group() == PurposeGroup::Prohibited);
//! # let _ = (customer, collected);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Identifiers
//!
//! [`CustomerId`] (a non-nil UUID), [`StewardId`] and [`AdminId`] (short staff handles),
//! [`RecordId`] (a UUID v7)
//! and [`PolicyVersion`] (the label of the policy in force, `policy.versioned`).
//! [`Justification`] is the reason, with visible letters or digits, that an access to logs must
//! carry (`logs.access`), and that legal holds and admins' consent changes state.
//!
//! # Time
//!
//! [`Timestamp`] is an instant from 1677 to 2262 in nanoseconds, with chrono's `DateTime<Utc>`
//! as its calendar face and checked arithmetic. The `time` feature
//! adds conversions from and to `time::OffsetDateTime`.
//!
//! Where Steward must know the time itself (audit entries), it reads a [`Clock`]:
//! [`SystemClock`] in deployment, [`ManualClock`] in tests.
//!
//! # Policy vocabulary
//!
//! - [`ClauseId`]: the stable id of every clause of the policy, with its promise.
//! - [`Purpose`] and [`PurposeGroup`]: why data is touched (`use.purposes`, `logs.purposes`,
//!   training, and purposes named only to be refused).
//! - [`DataCategory`]: what data is touched (`collect.personal`, `collect.usage`, logs).
//! - [`TrainingScope`]: whose models a training job trains.
//! - [`TrainingLevel`]: how far a customer lets their data train models, ordered and
//!   cumulative; [`TrainingLevel::permits`] answers whether a level allows a scope.
//!
//! Purposes, categories and scopes also name their key in the fideslang taxonomy, so the
//! vocabulary can be exported to privacy tooling.

#![forbid(unsafe_code)]

mod category;
mod clause;
mod clock;
mod error;
mod hash;
mod id;
mod justification;
mod level;
mod purpose;
mod scope;
mod time;
mod unique_map;
mod vocabulary;

pub use crate::{
    category::DataCategory,
    clause::ClauseId,
    clock::{Clock, ManualClock, SystemClock},
    error::{CoreError, Vocabulary},
    hash::{CustomerMap, IdHasher},
    id::{AdminId, CustomerId, PolicyVersion, RecordId, StewardId},
    justification::{Justification, RequestReference},
    level::TrainingLevel,
    purpose::{Purpose, PurposeGroup},
    scope::TrainingScope,
    time::Timestamp,
    unique_map::UniqueMap,
};
