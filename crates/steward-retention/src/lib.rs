//! Retention for Steward: decides for every stored record whether it may still be kept, and
//! turns those decisions into deletions and key shreds (`logs.retention`).
//!
//! Services depend on the `steward` crate, which re-exports this one as `steward::retention`
//! and puts the same rules behind `Policy::check`; this crate is its building block,
//! released in lockstep with it.
//!
//! ```
//! use steward_core::{ClauseId, DataCategory, RecordId, Timestamp};
//! use steward_retention::{
//!     DeletionWindow, Disposition, HoldRegister, RecordMeta, RelationshipBook, RetentionSchedule,
//! };
//!
//! let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
//! let mut book = RelationshipBook::new();
//! book.start(customer, "2025-01-01T00:00:00Z".parse()?)?;
//!
//! let collected: Timestamp = "2025-02-01T00:00:00Z".parse()?;
//! let log = RecordMeta::new(
//!     RecordId::generate_at(collected), customer, DataCategory::LlmRequestLog, collected,
//! );
//! let schedule = RetentionSchedule::bundled(DeletionWindow::from_days(30)?);
//! let holds = HoldRegister::new();
//!
//! // While the relationship lasts, the log is kept.
//! let now = "2025-06-01T00:00:00Z".parse()?;
//! assert!(!schedule.disposition_in(&book, &holds, &log, now)?.is_due());
//!
//! // The contract ends: the log is due, to be deleted within the 30-day window.
//! book.end(customer, "2025-06-30T00:00:00Z".parse()?)?;
//! let now = "2025-07-01T00:00:00Z".parse()?;
//! let disposition = schedule.disposition_in(&book, &holds, &log, now)?;
//! assert_eq!(
//!     disposition,
//!     Disposition::DeleteBy {
//!         deadline: "2025-07-30T00:00:00Z".parse()?,
//!         method: steward_retention::DeletionMethod::CryptoShred,
//!         reason: steward_retention::DueReason::MaximumPassed,
//!         clause: ClauseId::LogsRetention,
//!     }
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Relationships
//!
//! A [`Relationship`] is the half-open interval `[started_at, ended_at)` of one customer
//! contract; [`RelationshipBook`] keeps every customer's relationships in order. A returning
//! customer starts a new relationship; a record belongs to the relationship whose interval
//! contains its collection instant, so data from an old relationship stays due on the old
//! schedule.
//!
//! # Rules and the schedule
//!
//! A [`RetentionRule`] has an [`Anchor`] (collection or relationship end), an optional
//! minimum and a maximum ([`RetentionPeriod`]), a [`DeletionWindow`] and a
//! [`DeletionMethod`], and cites a clause. [`RetentionSchedule::bundled`] holds the policy's
//! rules: LLM request logs anchored at the relationship end, maximum zero, the policy's
//! window, crypto-shred, citing `logs.retention`; other categories default to the same
//! timing with plain deletion citing `use.purposes`, and are configurable.
//!
//! # Holds
//!
//! A [`LegalHold`] covers one customer's data (all of it, one category or one record), has a
//! reason, the handle of who placed it, and a review date. It stands until it is released:
//! past its review date it still stands and is reported as due for review
//! ([`HoldRegister::due_for_review`], [`SweepPlan::reviews_due`]); it never lapses silently.
//! It postpones deletion of what it covers and nothing else, and while any hold of a customer
//! stands no key of theirs is shredded. [`HoldRegister`] records placing, review-date changes
//! and releasing. The evaluator reads holds through [`HoldSource`], which a slice implements.
//!
//! # Deciding
//!
//! [`disposition`] is the pure, allocation-free evaluator of one record:
//! an active hold keeps; an unended relationship keeps; an unexpired minimum keeps; a
//! passed maximum makes the record due ([`Disposition::DeleteBy`] its deadline, then
//! [`Disposition::DeleteNow`]). Deadlines are exclusive. A record collected outside every
//! relationship of a known customer has no basis to be kept and is due now; a customer
//! without any relationship on record is an error (an incomplete feed), never a deletion.
//!
//! # Sweeping
//!
//! [`Sweep::plan`] turns an iterator of [`RecordMeta`] into a [`SweepPlan`] (deletions per
//! customer, key shreds, shreds withheld by holds, holds due for review), which prints as a
//! dry run; a plan may look ahead to any instant. [`Sweep::execute`] carries it out through a
//! [`RecordStore`] and a [`KeyShredder`] at the instant of a trusted [`Clock`], never at one
//! the caller names: deletions and shreds are irreversible, so they happen now. It decides
//! every action again against the inputs of that moment: a hold placed between plan and
//! execution wins, a plan made for a later instant deletes only what is due now, and
//! executing twice is harmless.
//!
//! [`Clock`]: steward_core::Clock
//!
//! # Time
//!
//! - Negative periods cannot be built; zero periods and windows are allowed (a zero window
//!   makes due data overdue at once).
//! - An instant computation that overflows is [`RetentionError::InstantOutOfRange`].
//! - A clock that goes backwards: a relationship ending before it started, or a hold event
//!   older than the last one recorded, is a typed error; an evaluation `now` earlier than a
//!   hold's placement still honours the hold. An execution earlier than its plan's instant
//!   deletes only what is due at the execution's own instant.
//! - Nothing is deleted on an error.
//!
//! `docs/retention.md` explains deletion windows and holds for the people who write the
//! company's data-retention schedule.

#![forbid(unsafe_code)]

mod disposition;
mod error;
mod hold;
mod period;
mod relationship;
mod rule;
mod sweep;

pub use crate::{
    disposition::{Disposition, DueReason, KeepReason, RecordMeta, disposition},
    error::RetentionError,
    hold::{HoldEvent, HoldId, HoldRegister, HoldScope, HoldSource, LegalHold, NoHolds},
    period::{DeletionWindow, RetentionPeriod},
    relationship::{Relationship, RelationshipBook, RelationshipChange},
    rule::{Anchor, DeletionMethod, RetentionRule, RetentionSchedule},
    sweep::{
        CustomerPlan, Failure, KeyShredder, MemoryKeyShredder, MemoryRecordStore, PlannedDeletion,
        PlannedShred, RecordStore, Removal, ReviewDue, SkippedRecord, Sweep, SweepBatch, SweepPlan,
        SweepProgress, SweepReport, SweepRun, Target, WithheldShred, WithholdReason,
    },
};
