//! The per-record decision: keep, delete by a deadline, or delete now.

use std::cmp::max;

use serde::{Deserialize, Serialize};
use steward_core::{ClauseId, CustomerId, DataCategory, RecordId, Timestamp};

use crate::{
    Anchor, DeletionMethod, HoldId, HoldSource, Relationship, RelationshipBook, RetentionError,
    RetentionPeriod, RetentionRule, RetentionSchedule, relationship::containing_in,
};

/// What the retention decision needs to know about one stored record: small and `Copy`,
/// so millions fit in memory and the evaluator never allocates.
///
/// ```
/// use steward_core::{DataCategory, RecordId};
/// use steward_retention::RecordMeta;
///
/// let collected = "2025-06-01T09:30:00Z".parse()?;
/// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// let record = RecordMeta::new(
///     RecordId::generate_at(collected),
///     customer,
///     DataCategory::LlmRequestLog,
///     collected,
/// );
/// assert_eq!(record.collected_at(), collected);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordMeta {
    id: RecordId,
    customer: CustomerId,
    category: DataCategory,
    collected_at: Timestamp,
}

impl RecordMeta {
    /// Describes a record.
    #[must_use]
    pub const fn new(
        id: RecordId,
        customer: CustomerId,
        category: DataCategory,
        collected_at: Timestamp,
    ) -> Self {
        Self {
            id,
            customer,
            category,
            collected_at,
        }
    }

    /// The record id.
    #[must_use]
    pub const fn id(&self) -> RecordId {
        self.id
    }

    /// The customer the data is about.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// The data category.
    #[must_use]
    pub const fn category(&self) -> DataCategory {
        self.category
    }

    /// When it was collected.
    #[must_use]
    pub const fn collected_at(&self) -> Timestamp {
        self.collected_at
    }
}

/// Why a record is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum KeepReason {
    /// A standing legal hold covers it (the one that stands longest is named).
    Hold(HoldId),
    /// The rule's minimum retention has not run out.
    Minimum,
    /// The relationship the record was collected in has not ended.
    RelationshipActive,
    /// The rule's maximum retention has not been reached.
    WithinMaximum,
}

/// Why a record is due for deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DueReason {
    /// The maximum retention (and any minimum) has passed.
    MaximumPassed,
    /// The record was collected outside every relationship of its customer, so nothing
    /// anchors a retention period: it has no basis to be kept (fail closed).
    OutsideRelationship,
}

/// The retention decision about one record at one instant, with the clause that decided it.
///
/// Deadlines are exclusive: at `deadline` a [`Disposition::DeleteBy`] becomes a
/// [`Disposition::DeleteNow`]. Data that is due serves nothing; the facade denies every use
/// of it citing the clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "disposition", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Disposition {
    /// The record may be kept.
    Keep {
        /// The instant from which it stops being kept if nothing changes (a period runs out,
        /// a hold's recorded release comes); `None` while that depends on something not yet
        /// known: a relationship end, or the release of a standing hold (a hold stands until
        /// it is released, whatever its review date).
        until: Option<Timestamp>,
        /// Why it is kept.
        reason: KeepReason,
        /// The clause of the rule.
        clause: ClauseId,
    },
    /// The record is due and must be deleted before `deadline` (the deletion window).
    DeleteBy {
        /// The exclusive deadline: due time plus the deletion window.
        deadline: Timestamp,
        /// How to dispose of it.
        method: DeletionMethod,
        /// Why it is due.
        reason: DueReason,
        /// The clause that makes it due.
        clause: ClauseId,
    },
    /// The record is overdue, or has no basis at all: delete it at once.
    DeleteNow {
        /// The deadline that passed; `None` for a record outside every relationship.
        overdue_since: Option<Timestamp>,
        /// How to dispose of it.
        method: DeletionMethod,
        /// Why it is due.
        reason: DueReason,
        /// The clause that makes it due.
        clause: ClauseId,
    },
}

impl Disposition {
    /// The clause that decided.
    #[must_use]
    pub const fn clause(&self) -> ClauseId {
        match self {
            Self::Keep { clause, .. }
            | Self::DeleteBy { clause, .. }
            | Self::DeleteNow { clause, .. } => *clause,
        }
    }

    /// The hold that kept the record, if one did.
    #[must_use]
    pub const fn held_by(&self) -> Option<HoldId> {
        match self {
            Self::Keep {
                reason: KeepReason::Hold(id),
                ..
            } => Some(*id),
            _ => None,
        }
    }

    /// Whether the record is due for deletion (by a deadline or now).
    #[must_use]
    pub const fn is_due(&self) -> bool {
        matches!(self, Self::DeleteBy { .. } | Self::DeleteNow { .. })
    }
}

/// Decides whether `record` may still be kept at `now` under `rule`.
///
/// This is the hot path of the facade's `check()`: pure, allocation-free and without
/// syscalls. `relationship` must be the customer's relationship whose
/// `[started_at, ended_at)` contains the record's collection instant, or `None` if there is
/// none (see [`RelationshipBook::containing`]). `holds` may be a slice, a
/// [`crate::HoldRegister`] or your own [`HoldSource`].
///
/// Precedence, first match wins:
/// 1. A standing hold that covers the record keeps it ([`KeepReason::Hold`]).
/// 2. For a rule anchored at the relationship end, a relationship not yet ended keeps it
///    ([`KeepReason::RelationshipActive`]); a record outside every relationship has no
///    anchor and is due now ([`DueReason::OutsideRelationship`]), unless a minimum (counted
///    from collection for such a record) keeps it.
/// 3. An unexpired minimum keeps it ([`KeepReason::Minimum`]), even past the maximum.
/// 4. Before the maximum it is kept ([`KeepReason::WithinMaximum`]).
/// 5. Otherwise it is due at `anchor + max(minimum, maximum)`, to be deleted before that
///    plus the deletion window ([`Disposition::DeleteBy`]); from then on it is overdue
///    ([`Disposition::DeleteNow`]).
///
/// The clause is the rule's (`logs.retention` for LLM request logs).
///
/// ```
/// use steward_core::{ClauseId, DataCategory, RecordId, Timestamp};
/// use steward_retention::{
///     disposition, DeletionWindow, Disposition, NoHolds, RecordMeta, Relationship, RetentionRule,
/// };
///
/// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// let collected: Timestamp = "2025-02-01T00:00:00Z".parse()?;
/// let record = RecordMeta::new(
///     RecordId::generate_at(collected), customer, DataCategory::LlmRequestLog, collected,
/// );
/// let relationship = Relationship::start(customer, "2025-01-01T00:00:00Z".parse()?)
///     .end("2025-03-01T00:00:00Z".parse()?)?;
/// let rule = RetentionRule::logs(DeletionWindow::from_days(30)?);
///
/// let during = disposition(&rule, &record, Some(&relationship), &NoHolds, "2025-02-15T00:00:00Z".parse()?)?;
/// assert!(!during.is_due());
/// let after = disposition(&rule, &record, Some(&relationship), &NoHolds, "2025-03-02T00:00:00Z".parse()?)?;
/// assert!(matches!(after, Disposition::DeleteBy { .. }));
/// assert_eq!(after.clause(), ClauseId::LogsRetention);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// - [`RetentionError::RelationshipMismatch`] if `relationship` is another customer's or does
///   not contain the collection instant.
/// - [`RetentionError::InstantOutOfRange`] if a period added to its anchor leaves the range
///   of instants.
///
/// An error decides nothing: the sweep skips the record and deletes nothing for it.
pub fn disposition<H: HoldSource + ?Sized>(
    rule: &RetentionRule,
    record: &RecordMeta,
    relationship: Option<&Relationship>,
    holds: &H,
    now: Timestamp,
) -> Result<Disposition, RetentionError> {
    let mismatch = relationship.is_some_and(|relationship| {
        relationship.customer() != record.customer()
            || !relationship.contains(record.collected_at())
    });
    if mismatch {
        return Err(RetentionError::RelationshipMismatch {
            collected_at: record.collected_at(),
        });
    }
    let own = rule_disposition(rule, record, relationship, now)?;
    match standing_hold(record, holds, now) {
        None => Ok(own),
        Some((id, hold_ends)) => {
            let until = match (own, hold_ends) {
                (_, None) => None,
                (Disposition::Keep { until, .. }, Some(released)) => {
                    until.map(|until| max(until, released))
                }
                (Disposition::DeleteBy { .. } | Disposition::DeleteNow { .. }, Some(released)) => {
                    Some(released)
                }
            };
            Ok(Disposition::Keep {
                until,
                reason: KeepReason::Hold(id),
                clause: rule.clause(),
            })
        }
    }
}

/// The standing hold covering `record` that stands longest (ties: the lowest id), with the
/// instant it stops standing: its recorded release, `None` for a hold not released (it
/// stands until it is, past its review date too).
fn standing_hold<H: HoldSource + ?Sized>(
    record: &RecordMeta,
    holds: &H,
    now: Timestamp,
) -> Option<(HoldId, Option<Timestamp>)> {
    let mut strongest: Option<(HoldId, Option<Timestamp>)> = None;
    holds.visit_holds(record.customer(), &mut |hold| {
        if !hold.keeps(record, now) {
            return;
        }
        let ends = hold.released_at();
        // `None` (not released) stands longest of all.
        let longer = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
            (None, Some(_)) => true,
            (Some(a), Some(b)) => a > b,
            (_, None) => false,
        };
        let stronger = strongest
            .is_none_or(|(id, best)| longer(ends, best) || (ends == best && hold.id() < id));
        if stronger {
            strongest = Some((hold.id(), ends));
        }
    });
    strongest
}

/// The rule's own disposition, ignoring holds.
fn rule_disposition(
    rule: &RetentionRule,
    record: &RecordMeta,
    relationship: Option<&Relationship>,
    now: Timestamp,
) -> Result<Disposition, RetentionError> {
    let anchor = match rule.anchor() {
        Anchor::RelationshipEnd => match relationship {
            None => return outside_relationship(rule, record, now),
            Some(relationship) => match relationship.ended_at() {
                None => {
                    return Ok(Disposition::Keep {
                        until: None,
                        reason: KeepReason::RelationshipActive,
                        clause: rule.clause(),
                    });
                }
                Some(end) if now < end => {
                    // A scheduled end: kept until then, and until its periods run out.
                    let until = add(end, kept_for(rule), "the end of a scheduled relationship")?;
                    return Ok(Disposition::Keep {
                        until: Some(until),
                        reason: KeepReason::RelationshipActive,
                        clause: rule.clause(),
                    });
                }
                Some(end) => end,
            },
        },
        Anchor::CollectedAt => record.collected_at(),
    };
    anchored(rule, anchor, now)
}

/// The disposition once the anchor instant is known.
fn anchored(
    rule: &RetentionRule,
    anchor: Timestamp,
    now: Timestamp,
) -> Result<Disposition, RetentionError> {
    let kept_for = kept_for(rule);
    let due_at = add(anchor, kept_for, "the due instant")?;
    if now < due_at {
        let minimum_running = match rule.minimum() {
            Some(minimum) => now < add(anchor, minimum, "the end of the minimum")?,
            None => false,
        };
        return Ok(Disposition::Keep {
            until: Some(due_at),
            reason: if minimum_running {
                KeepReason::Minimum
            } else {
                KeepReason::WithinMaximum
            },
            clause: rule.clause(),
        });
    }
    let deadline = anchor
        .checked_add(kept_for.sum_delta(rule.window().period()))
        .map_err(|_| RetentionError::InstantOutOfRange {
            what: "the deletion deadline",
        })?;
    Ok(due(rule, now, deadline, DueReason::MaximumPassed))
}

/// A record under a relationship-end rule collected outside every relationship.
fn outside_relationship(
    rule: &RetentionRule,
    record: &RecordMeta,
    now: Timestamp,
) -> Result<Disposition, RetentionError> {
    if let Some(minimum) = rule.minimum() {
        let until = add(record.collected_at(), minimum, "the end of the minimum")?;
        if now < until {
            return Ok(Disposition::Keep {
                until: Some(until),
                reason: KeepReason::Minimum,
                clause: rule.clause(),
            });
        }
    }
    Ok(Disposition::DeleteNow {
        overdue_since: None,
        method: rule.method(),
        reason: DueReason::OutsideRelationship,
        clause: rule.clause(),
    })
}

fn due(
    rule: &RetentionRule,
    now: Timestamp,
    deadline: Timestamp,
    reason: DueReason,
) -> Disposition {
    if now < deadline {
        Disposition::DeleteBy {
            deadline,
            method: rule.method(),
            reason,
            clause: rule.clause(),
        }
    } else {
        Disposition::DeleteNow {
            overdue_since: Some(deadline),
            method: rule.method(),
            reason,
            clause: rule.clause(),
        }
    }
}

/// How long past its anchor a record is kept before it is due: the longer of the minimum
/// and the maximum (a minimum beats a shorter maximum).
fn kept_for(rule: &RetentionRule) -> RetentionPeriod {
    rule.minimum()
        .map_or(rule.maximum(), |minimum| max(minimum, rule.maximum()))
}

fn add(
    anchor: Timestamp,
    period: RetentionPeriod,
    what: &'static str,
) -> Result<Timestamp, RetentionError> {
    // The bundled log rule has a zero maximum: skip the calendar arithmetic for it.
    if period.is_zero() {
        return Ok(anchor);
    }
    anchor
        .checked_add(period.as_time_delta())
        .map_err(|_| RetentionError::InstantOutOfRange { what })
}

impl RetentionSchedule {
    /// [`disposition`] under the rule for the record's category.
    ///
    /// # Errors
    ///
    /// As [`disposition`], and [`RetentionError::NoRule`] for a category without a rule.
    pub fn disposition<H: HoldSource + ?Sized>(
        &self,
        record: &RecordMeta,
        relationship: Option<&Relationship>,
        holds: &H,
        now: Timestamp,
    ) -> Result<Disposition, RetentionError> {
        disposition(
            &self.rule(record.category())?,
            record,
            relationship,
            holds,
            now,
        )
    }

    /// [`disposition`] with the record's relationship looked up in `book`.
    ///
    /// # Errors
    ///
    /// As [`RetentionSchedule::disposition`], and [`RetentionError::UnknownCustomer`] if the
    /// book holds no relationship at all for the record's customer: that points at an
    /// incomplete relationship feed rather than at data without basis, so nothing is decided
    /// (and nothing deleted) for it.
    pub fn disposition_in<H: HoldSource + ?Sized>(
        &self,
        book: &RelationshipBook,
        holds: &H,
        record: &RecordMeta,
        now: Timestamp,
    ) -> Result<Disposition, RetentionError> {
        self.decide(book.relationships(record.customer()), holds, record, now)
    }

    /// [`RetentionSchedule::disposition_in`] with the customer's relationship history already
    /// looked up (the sweep reuses it across a customer's records).
    pub(crate) fn decide<H: HoldSource + ?Sized>(
        &self,
        history: &[Relationship],
        holds: &H,
        record: &RecordMeta,
        now: Timestamp,
    ) -> Result<Disposition, RetentionError> {
        let Some(first) = history.first() else {
            return Err(RetentionError::UnknownCustomer);
        };
        // Data from before the customer's first relationship is most likely clock skew between
        // the collecting service and the contract feed; deciding it due could delete data of
        // an active customer (invariant 7), so it is an error to report, never a deletion.
        if record.collected_at() < first.started_at() {
            return Err(RetentionError::CollectedBeforeFirstRelationship {
                collected_at: record.collected_at(),
                started_at: first.started_at(),
            });
        }
        let relationship = containing_in(history, record.collected_at());
        self.disposition(record, relationship, holds, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_metadata_and_dispositions_stay_small() {
        // 10 million records must fit in memory (480 MB at 48 bytes) and the evaluator's
        // result must stay cheap to return on the facade's hot path.
        assert!(size_of::<RecordMeta>() <= 48);
        // 40 since instants are i64 nanoseconds: an `Option<Timestamp>` no longer has a niche
        // (chrono's `DateTime` had one). What the evaluator returns is unchanged at 48.
        assert!(size_of::<Disposition>() <= 40);
        assert!(size_of::<Result<Disposition, RetentionError>>() <= 48);
    }
}
