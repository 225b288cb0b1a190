//! The error type of steward-retention.

use steward_core::{CoreError, DataCategory, Timestamp};

use crate::HoldId;

/// Longest piece of user input quoted back in an error message.
const QUOTE_LIMIT: usize = 64;

/// What could not be built or evaluated. An error never deletes anything: a record whose
/// disposition fails is skipped by the sweep and reported, and a sweep that fails as a whole
/// deletes nothing.
///
/// Messages name instants and hold ids, never customer ids, record contents or reasons.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RetentionError {
    /// A period or window that is not in the accepted ISO 8601 subset.
    #[error("invalid retention period `{value}`: {reason}")]
    InvalidPeriod {
        /// The rejected input, shortened to at most 64 characters.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An instant computation left the representable range (the years 1677 to 2262).
    #[error("instant out of range while computing {what}")]
    InstantOutOfRange {
        /// Which computation overflowed.
        what: &'static str,
    },
    /// The current instant is earlier than one already observed: the clock went backwards.
    #[error("clock went backwards: `{now}` is before `{earlier}` already observed")]
    ClockWentBackwards {
        /// The instant observed before.
        earlier: Timestamp,
        /// The instant given now.
        now: Timestamp,
    },
    /// A relationship end before its start.
    #[error("relationship cannot end at `{ended_at}`, before its start `{started_at}`")]
    EndBeforeStart {
        /// When the relationship started.
        started_at: Timestamp,
        /// The rejected end.
        ended_at: Timestamp,
    },
    /// A relationship that would start while another of the same customer is open or
    /// before the previous one ended.
    #[error("a relationship cannot start at `{started_at}`: it would overlap an earlier one")]
    RelationshipOverlap {
        /// The rejected start.
        started_at: Timestamp,
    },
    /// An end event for a customer with no open relationship.
    #[error("no open relationship to end")]
    NoOpenRelationship,
    /// The relationship passed for a record is not one that contains its collection instant
    /// or belongs to another customer.
    #[error("the relationship given does not contain the record collected at `{collected_at}`")]
    RelationshipMismatch {
        /// When the record was collected.
        collected_at: Timestamp,
    },
    /// A hold event dated further ahead of this machine's clock than the allowed skew:
    /// recorded, it would make every later event look as if the clock went backwards.
    #[error(
        "hold event dated `{at}` is ahead of the clock (latest acceptable `{latest_acceptable}`)"
    )]
    EventInTheFuture {
        /// The instant the event claims.
        at: Timestamp,
        /// This machine's clock plus the allowed skew.
        latest_acceptable: Timestamp,
    },
    /// The relationship book holds no relationship at all for a record's customer.
    #[error("no relationship on record for the customer of the record")]
    UnknownCustomer,
    /// A record dated before its customer's first relationship started: usually a clock or
    /// feed problem, so nothing is decided (and nothing deleted) for it.
    #[error(
        "record collected at `{collected_at}`, before the customer's first relationship started \
         at `{started_at}`"
    )]
    CollectedBeforeFirstRelationship {
        /// When the record was collected.
        collected_at: Timestamp,
        /// When the customer's first relationship started.
        started_at: Timestamp,
    },
    /// The schedule has no rule for a data category.
    #[error("no retention rule for data category `{category}`")]
    NoRule {
        /// The category without a rule.
        category: DataCategory,
    },
    /// A crypto-shred rule anchored at collection: destroying a customer's keys would also
    /// destroy younger records that are not due.
    #[error("a crypto-shred rule must be anchored at the relationship end")]
    ShredNeedsRelationshipEnd,
    /// A hold whose review date is not after its placement.
    #[error(
        "a legal hold's review date must come after it is placed (`{placed_at}`), not at \
         `{review_at}`"
    )]
    HoldReviewNotAfterPlacement {
        /// When the hold was placed.
        placed_at: Timestamp,
        /// The rejected review date.
        review_at: Timestamp,
    },
    /// A hold id already used in the register.
    #[error("legal hold `{id}` already exists")]
    DuplicateHold {
        /// The id.
        id: HoldId,
    },
    /// A hold id the register does not know.
    #[error("no legal hold `{id}`")]
    UnknownHold {
        /// The id.
        id: HoldId,
    },
    /// A release or review of a hold that was already released.
    #[error("legal hold `{id}` was already released")]
    HoldAlreadyReleased {
        /// The id.
        id: HoldId,
    },
    /// A release or review dated before the hold was placed.
    #[error("legal hold `{id}` cannot change at `{at}`, before it was placed")]
    HoldChangeBeforePlacement {
        /// The id.
        id: HoldId,
        /// The rejected instant.
        at: Timestamp,
    },
    /// A review that sets a review date not after the review itself.
    #[error("legal hold `{id}` reviewed at `{at}` needs a later review date, not `{review_at}`")]
    HoldReviewNotAfterChange {
        /// The id.
        id: HoldId,
        /// When the review was recorded.
        at: Timestamp,
        /// The rejected review date.
        review_at: Timestamp,
    },
    /// Something irreversible (a deletion, a key shred) asked for while a legal hold stands:
    /// nothing the hold covers is deleted, and no key of the customer is shredded, until it
    /// is released.
    #[error("legal hold `{hold}` stands: {what} is refused until it is released")]
    Held {
        /// The hold that stands.
        hold: HoldId,
        /// What was refused: `deleting the record` or `shredding the customer's keys`.
        what: &'static str,
    },
    /// A value of the shared vocabulary was rejected.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A relationship change that would take effect before it is recorded: a change takes
    /// effect now or later, never earlier.
    #[error(
        "a relationship change recorded at `{recorded_at}` cannot take effect earlier, at `{effective}`"
    )]
    Backdated {
        /// The rejected effective instant.
        effective: Timestamp,
        /// When the change is recorded.
        recorded_at: Timestamp,
    },
    /// A relationship change recorded before the newest one already recorded: the recording
    /// instants of the log never decrease.
    #[error(
        "a relationship change cannot be recorded at `{recorded_at}`, before `{latest}` already recorded"
    )]
    RecordedOutOfOrder {
        /// The rejected recording instant.
        recorded_at: Timestamp,
        /// The newest recording instant.
        latest: Timestamp,
    },
    /// An end requested while another end is scheduled: correct or cancel the scheduled one.
    #[error("the relationship already has an end scheduled at `{ended_at}`: correct or cancel it")]
    EndScheduled {
        /// When the scheduled end takes effect.
        ended_at: Timestamp,
    },
    /// A correction or cancellation of an end that is already in force: it is final.
    #[error("the relationship ended at `{ended_at}`: an end in force is final")]
    EndInForce {
        /// When the end took effect.
        ended_at: Timestamp,
    },
    /// A correction or cancellation for a relationship without a scheduled end.
    #[error("no scheduled relationship end to correct or cancel")]
    NoScheduledEnd,
}

impl RetentionError {
    pub(crate) fn invalid_period(value: &str, reason: &'static str) -> Self {
        Self::InvalidPeriod {
            value: value.chars().take(QUOTE_LIMIT).collect(),
            reason,
        }
    }
}
