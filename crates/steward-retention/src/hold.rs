//! Legal holds: explicit, reasoned and audited postponements of deletion, which stand until
//! they are released and carry a date by which they are reviewed.

use std::{collections::BTreeMap, fmt};

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use steward_core::{
    CustomerId, CustomerMap, DataCategory, Justification, RecordId, StewardId, Timestamp,
};

use crate::{RecordMeta, RetentionError};

/// The id of a legal hold, unique within a [`HoldRegister`]. The case or ticket reference
/// goes into the hold's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HoldId(u64);

impl HoldId {
    /// Wraps a number.
    #[must_use]
    pub const fn new(id: u64) -> Self {
        Self(id)
    }

    /// The number inside.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for HoldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hold-{}", self.0)
    }
}

/// What a hold covers. Always one customer's data: a hold naming "everyone" cannot be
/// expressed, because a hold is a targeted exception to deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "covers", rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub enum HoldScope {
    /// All of the customer's records.
    Customer {
        /// The customer.
        customer: CustomerId,
    },
    /// The customer's records of one category.
    Category {
        /// The customer.
        customer: CustomerId,
        /// The category.
        category: DataCategory,
    },
    /// One record.
    Record {
        /// The customer the record belongs to.
        customer: CustomerId,
        /// The record.
        record: RecordId,
    },
}

impl HoldScope {
    /// The customer whose data the hold covers.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        match self {
            Self::Customer { customer }
            | Self::Category { customer, .. }
            | Self::Record { customer, .. } => *customer,
        }
    }

    /// Whether the scope includes `record`.
    #[must_use]
    pub fn covers(&self, record: &RecordMeta) -> bool {
        match self {
            Self::Customer { customer } => *customer == record.customer(),
            Self::Category { customer, category } => {
                *customer == record.customer() && *category == record.category()
            }
            Self::Record {
                customer,
                record: id,
            } => *customer == record.customer() && *id == record.id(),
        }
    }
}

/// A legal hold: it postpones the deletion of what it covers, and nothing else.
///
/// A hold is explicit: it names what it covers, why (a non-blank [`Justification`], such as a
/// case reference), who placed it, when, and by when it is to be reviewed. A hold stands until
/// it is released: its review date is a reminder, never an expiry, so a hold past its review
/// date still stands and is reported as [due for review](Self::is_review_due) until someone
/// releases it or sets a new review date (both recorded). A hold never lapses silently. It
/// only keeps data: it permits no use, opening or training by itself.
///
/// A hold stands at `now` unless it was released at or before `now`. Its placement instant is
/// an audit field and is not compared with `now`: a hold in the register protects data even
/// if the evaluating clock lags behind the one that placed it (a clock that went backwards
/// keeps data, it never deletes it).
///
/// ```
/// use steward_retention::{HoldId, HoldScope, LegalHold};
///
/// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// let hold = LegalHold::place(
///     HoldId::new(1),
///     HoldScope::Customer { customer },
///     "CASE-2026-17 litigation hold".parse()?,
///     "counsel.kim".parse()?,
///     "2026-01-01T00:00:00Z".parse()?,
///     "2026-07-01T00:00:00Z".parse()?,
/// )?;
/// assert!(hold.stands_at("2026-06-30T00:00:00Z".parse()?));
/// assert!(!hold.is_review_due("2026-06-30T00:00:00Z".parse()?));
/// // Past its review date the hold still stands, and is due for review.
/// assert!(hold.stands_at("2030-01-01T00:00:00Z".parse()?));
/// assert!(hold.is_review_due("2030-01-01T00:00:00Z".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct LegalHold {
    id: HoldId,
    scope: HoldScope,
    reason: Justification,
    placed_by: StewardId,
    placed_at: Timestamp,
    review_at: Timestamp,
    released_at: Option<Timestamp>,
}

impl LegalHold {
    /// A new hold. `placed_by` is the handle of the person placing it (a steward or counsel;
    /// the same shape as a steward handle).
    ///
    /// `review_at` is the date by which the hold is to be reviewed; the hold stands past it
    /// until it is released.
    ///
    /// # Errors
    ///
    /// [`RetentionError::HoldReviewNotAfterPlacement`] unless `review_at > placed_at`: a hold
    /// is placed with a review date in its future, so that nobody places one and forgets it.
    pub fn place(
        id: HoldId,
        scope: HoldScope,
        reason: Justification,
        placed_by: StewardId,
        placed_at: Timestamp,
        review_at: Timestamp,
    ) -> Result<Self, RetentionError> {
        if review_at <= placed_at {
            return Err(RetentionError::HoldReviewNotAfterPlacement {
                placed_at,
                review_at,
            });
        }
        Ok(Self {
            id,
            scope,
            reason,
            placed_by,
            placed_at,
            review_at,
            released_at: None,
        })
    }

    /// The id.
    #[must_use]
    pub const fn id(&self) -> HoldId {
        self.id
    }

    /// What it covers.
    #[must_use]
    pub const fn scope(&self) -> &HoldScope {
        &self.scope
    }

    /// Why it was placed.
    #[must_use]
    pub const fn reason(&self) -> &Justification {
        &self.reason
    }

    /// Who placed it.
    #[must_use]
    pub const fn placed_by(&self) -> &StewardId {
        &self.placed_by
    }

    /// When it was placed.
    #[must_use]
    pub const fn placed_at(&self) -> Timestamp {
        self.placed_at
    }

    /// The date by which it is to be reviewed. The hold does not lapse then: it stands until
    /// released, and from this instant on it is [due for review](Self::is_review_due).
    #[must_use]
    pub const fn review_at(&self) -> Timestamp {
        self.review_at
    }

    /// When it was released, if it was.
    #[must_use]
    pub const fn released_at(&self) -> Option<Timestamp> {
        self.released_at
    }

    /// Whether the hold stands at `now`: it has not been released at or before `now`. The
    /// review date plays no part: a hold stands until it is released.
    #[must_use]
    pub fn stands_at(&self, now: Timestamp) -> bool {
        self.released_at.is_none_or(|released| now < released)
    }

    /// Whether the hold stands at `now` and its review date has come (inclusive): it still
    /// keeps what it covers, and someone should release it or set a new review date.
    #[must_use]
    pub fn is_review_due(&self, now: Timestamp) -> bool {
        self.stands_at(now) && self.review_at <= now
    }

    /// Whether the hold stands at `now` and covers `record`.
    #[must_use]
    pub fn keeps(&self, record: &RecordMeta, now: Timestamp) -> bool {
        self.stands_at(now) && self.scope.covers(record)
    }

    fn check_change(&self, at: Timestamp) -> Result<(), RetentionError> {
        if self.released_at.is_some() {
            return Err(RetentionError::HoldAlreadyReleased { id: self.id });
        }
        if at < self.placed_at {
            return Err(RetentionError::HoldChangeBeforePlacement { id: self.id, at });
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHold {
    id: HoldId,
    scope: HoldScope,
    reason: Justification,
    placed_by: StewardId,
    placed_at: Timestamp,
    // Stores written before holds stood until released name the review date `expires_at`.
    #[serde(alias = "expires_at")]
    review_at: Timestamp,
    #[serde(default)]
    released_at: Option<Timestamp>,
}

impl<'de> Deserialize<'de> for LegalHold {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawHold::deserialize(deserializer)?;
        let mut hold = Self::place(
            raw.id,
            raw.scope,
            raw.reason,
            raw.placed_by,
            raw.placed_at,
            raw.review_at,
        )
        .map_err(serde::de::Error::custom)?;
        if let Some(released_at) = raw.released_at {
            hold.check_change(released_at)
                .map_err(serde::de::Error::custom)?;
            hold.released_at = Some(released_at);
        }
        Ok(hold)
    }
}

/// Where the evaluator finds the holds that may cover a customer's records: implement it over
/// your own hold store. It must not allocate if the caller's hot path must not.
///
/// Implementations may pass more holds than cover the record (all holds, say); the evaluator
/// checks scope and time itself. They must not leave out a standing hold of the customer.
/// Reference implementations: slices and vectors of [`LegalHold`], [`HoldRegister`], and
/// [`NoHolds`].
pub trait HoldSource {
    /// Calls `visit` with every hold whose scope may name `customer`.
    fn visit_holds(&self, customer: CustomerId, visit: &mut dyn FnMut(&LegalHold));
}

impl HoldSource for [LegalHold] {
    fn visit_holds(&self, customer: CustomerId, visit: &mut dyn FnMut(&LegalHold)) {
        self.iter()
            .filter(|hold| hold.scope.customer() == customer)
            .for_each(visit);
    }
}

impl HoldSource for Vec<LegalHold> {
    fn visit_holds(&self, customer: CustomerId, visit: &mut dyn FnMut(&LegalHold)) {
        self.as_slice().visit_holds(customer, visit);
    }
}

impl<T: HoldSource + ?Sized> HoldSource for &T {
    fn visit_holds(&self, customer: CustomerId, visit: &mut dyn FnMut(&LegalHold)) {
        (**self).visit_holds(customer, visit);
    }
}

/// A hold source with no holds at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHolds;

impl HoldSource for NoHolds {
    fn visit_holds(&self, _customer: CustomerId, _visit: &mut dyn FnMut(&LegalHold)) {}
}

/// One recorded change to the holds: the audit trail of placing, reviewing and releasing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub enum HoldEvent {
    /// A hold was placed.
    Placed {
        /// The hold as placed.
        hold: LegalHold,
    },
    /// A hold was reviewed and kept, with a new review date. Logs written before holds stood
    /// until released call it `extended` and its date `expires_at`; both still read.
    #[serde(alias = "extended")]
    ReviewDateChanged {
        /// The hold.
        id: HoldId,
        /// Who reviewed it.
        by: StewardId,
        /// When.
        at: Timestamp,
        /// The new review date.
        #[serde(alias = "expires_at")]
        review_at: Timestamp,
        /// Why.
        reason: Justification,
    },
    /// A hold was released: from then on it keeps nothing.
    Released {
        /// The hold.
        id: HoldId,
        /// Who released it.
        by: StewardId,
        /// When.
        at: Timestamp,
        /// Why.
        reason: Justification,
    },
}

impl HoldEvent {
    /// When the change happened.
    #[must_use]
    pub const fn at(&self) -> Timestamp {
        match self {
            Self::Placed { hold } => hold.placed_at,
            Self::ReviewDateChanged { at, .. } | Self::Released { at, .. } => *at,
        }
    }
}

/// The in-memory register of legal holds with its append-only audit trail.
///
/// Every change is recorded as a [`HoldEvent`]; events must arrive in time order, so a clock
/// that went backwards is refused with [`RetentionError::ClockWentBackwards`] instead of
/// writing an audit trail that contradicts itself.
///
/// ```
/// use steward_retention::{HoldEvent, HoldId, HoldRegister, HoldScope, LegalHold};
///
/// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// let mut register = HoldRegister::new();
/// register.place(LegalHold::place(
///     HoldId::new(7),
///     HoldScope::Customer { customer },
///     "CASE-2026-17".parse()?,
///     "counsel.kim".parse()?,
///     "2026-01-01T00:00:00Z".parse()?,
///     "2026-07-01T00:00:00Z".parse()?,
/// )?)?;
/// register.release(
///     HoldId::new(7),
///     "counsel.kim".parse()?,
///     "2026-02-01T00:00:00Z".parse()?,
///     "case settled".parse()?,
/// )?;
/// assert_eq!(register.events().len(), 2);
/// assert!(matches!(register.events()[1], HoldEvent::Released { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct HoldRegister {
    holds: BTreeMap<HoldId, LegalHold>,
    by_customer: CustomerMap<Vec<HoldId>>,
    events: Vec<HoldEvent>,
}

impl HoldRegister {
    /// An empty register.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Places a hold and records it.
    ///
    /// # Errors
    ///
    /// [`RetentionError::DuplicateHold`] if the id is taken;
    /// [`RetentionError::HoldAlreadyReleased`] for a hold that arrives released (its release
    /// would be missing from the recorded events: place it, then [`HoldRegister::release`]);
    /// [`RetentionError::ClockWentBackwards`] if placed before the last recorded event;
    /// [`RetentionError::EventInTheFuture`] if placed ahead of the clock.
    pub fn place(&mut self, hold: LegalHold) -> Result<(), RetentionError> {
        if self.holds.contains_key(&hold.id) {
            return Err(RetentionError::DuplicateHold { id: hold.id });
        }
        if hold.released_at.is_some() {
            return Err(RetentionError::HoldAlreadyReleased { id: hold.id });
        }
        self.check_clock(hold.placed_at)?;
        self.by_customer
            .entry(hold.scope.customer())
            .or_default()
            .push(hold.id);
        self.events.push(HoldEvent::Placed { hold: hold.clone() });
        self.holds.insert(hold.id, hold);
        Ok(())
    }

    /// Records a review that keeps the hold: it gets a new review date, after `at` (earlier
    /// or later than the old one). The hold stood before and stands after; only the date by
    /// which it is next reviewed changes.
    ///
    /// # Errors
    ///
    /// [`RetentionError::UnknownHold`], [`RetentionError::HoldAlreadyReleased`],
    /// [`RetentionError::HoldChangeBeforePlacement`],
    /// [`RetentionError::HoldReviewNotAfterChange`] unless `review_at > at`, or
    /// [`RetentionError::ClockWentBackwards`].
    pub fn change_review_date(
        &mut self,
        id: HoldId,
        by: StewardId,
        at: Timestamp,
        review_at: Timestamp,
        reason: Justification,
    ) -> Result<(), RetentionError> {
        let hold = self.changeable(id, at)?;
        if review_at <= at {
            return Err(RetentionError::HoldReviewNotAfterChange { id, at, review_at });
        }
        hold.review_at = review_at;
        self.events.push(HoldEvent::ReviewDateChanged {
            id,
            by,
            at,
            review_at,
            reason,
        });
        Ok(())
    }

    /// Releases a hold and records it; from `at` on it keeps nothing.
    ///
    /// # Errors
    ///
    /// [`RetentionError::UnknownHold`], [`RetentionError::HoldAlreadyReleased`],
    /// [`RetentionError::HoldChangeBeforePlacement`] or [`RetentionError::ClockWentBackwards`].
    pub fn release(
        &mut self,
        id: HoldId,
        by: StewardId,
        at: Timestamp,
        reason: Justification,
    ) -> Result<(), RetentionError> {
        let hold = self.changeable(id, at)?;
        hold.released_at = Some(at);
        self.events.push(HoldEvent::Released { id, by, at, reason });
        Ok(())
    }

    /// Applies a recorded event again, as a store does when it rebuilds the register: each
    /// kind of event goes through the same checks as when it was first made.
    ///
    /// # Errors
    ///
    /// As [`place`](Self::place), [`change_review_date`](Self::change_review_date) or
    /// [`release`](Self::release).
    pub fn replay(&mut self, event: HoldEvent) -> Result<(), RetentionError> {
        match event {
            HoldEvent::Placed { hold } => self.place(hold),
            HoldEvent::ReviewDateChanged {
                id,
                by,
                at,
                review_at,
                reason,
            } => self.change_review_date(id, by, at, review_at, reason),
            HoldEvent::Released { id, by, at, reason } => self.release(id, by, at, reason),
        }
    }

    /// The hold with this id, released or not.
    #[must_use]
    pub fn hold(&self, id: HoldId) -> Option<&LegalHold> {
        self.holds.get(&id)
    }

    /// Every hold ever placed, by id.
    pub fn holds(&self) -> impl Iterator<Item = &LegalHold> + '_ {
        self.holds.values()
    }

    /// The holds that stand at `now` and are past their review date, by id: they still keep
    /// what they cover, and are reported until someone releases them or sets a new date.
    pub fn due_for_review(&self, now: Timestamp) -> impl Iterator<Item = &LegalHold> + '_ {
        self.holds
            .values()
            .filter(move |hold| hold.is_review_due(now))
    }

    /// The audit trail, oldest first.
    #[must_use]
    pub fn events(&self) -> &[HoldEvent] {
        &self.events
    }

    fn last_event_at(&self) -> Option<Timestamp> {
        self.events.last().map(HoldEvent::at)
    }

    fn check_clock(&self, at: Timestamp) -> Result<(), RetentionError> {
        check_clock(self.last_event_at(), at)
    }

    /// The hold `id`, if a change to it may be recorded at `at`: it exists, is not released,
    /// was placed by then, and `at` keeps the register's events in order.
    fn changeable(&mut self, id: HoldId, at: Timestamp) -> Result<&mut LegalHold, RetentionError> {
        let last = self.last_event_at();
        let hold = self
            .holds
            .get_mut(&id)
            .ok_or(RetentionError::UnknownHold { id })?;
        hold.check_change(at)?;
        check_clock(last, at)?;
        Ok(hold)
    }
}

/// How far ahead of this machine's clock a hold event may be dated: the register records
/// events in order, so one event dated in the future would refuse every honest one after it.
const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

fn check_clock(last: Option<Timestamp>, at: Timestamp) -> Result<(), RetentionError> {
    let latest_acceptable = Timestamp::now()
        .checked_add(MAX_CLOCK_SKEW)
        .unwrap_or(Timestamp::MAX);
    if at > latest_acceptable {
        return Err(RetentionError::EventInTheFuture {
            at,
            latest_acceptable,
        });
    }
    match last {
        Some(earlier) if at < earlier => {
            Err(RetentionError::ClockWentBackwards { earlier, now: at })
        }
        _ => Ok(()),
    }
}

impl HoldSource for HoldRegister {
    fn visit_holds(&self, customer: CustomerId, visit: &mut dyn FnMut(&LegalHold)) {
        for id in self.by_customer.get(&customer).into_iter().flatten() {
            if let Some(hold) = self.holds.get(id) {
                visit(hold);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer() -> CustomerId {
        "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse().unwrap()
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds).unwrap()
    }

    fn hold(id: u64, placed: i64, expires: i64) -> Result<LegalHold, RetentionError> {
        LegalHold::place(
            HoldId::new(id),
            HoldScope::Customer {
                customer: customer(),
            },
            "CASE-1".parse().unwrap(),
            "counsel.kim".parse().unwrap(),
            at(placed),
            at(expires),
        )
    }

    #[test]
    fn a_hold_needs_a_review_date_after_placement() {
        assert_eq!(
            hold(1, 10, 10),
            Err(RetentionError::HoldReviewNotAfterPlacement {
                placed_at: at(10),
                review_at: at(10)
            })
        );
    }

    // Changed with issue 18: a hold used to lapse at its date; it now stands until released.
    #[test]
    fn a_hold_stands_past_its_review_date_until_released_exclusive() {
        let mut register = HoldRegister::new();
        register.place(hold(1, 10, 100).unwrap()).unwrap();
        let standing = register.hold(HoldId::new(1)).unwrap();
        // Placement is not compared with now: a lagging clock still sees the hold.
        assert!(standing.stands_at(at(5)));
        assert!(standing.stands_at(at(99)));
        assert!(standing.stands_at(at(100)));
        assert!(standing.stands_at(at(1_000_000_000)));
        assert!(!standing.is_review_due(at(99)));
        assert!(standing.is_review_due(at(100)));
        assert_eq!(
            register
                .due_for_review(at(100))
                .map(LegalHold::id)
                .collect::<Vec<_>>(),
            [HoldId::new(1)]
        );
        register
            .release(
                HoldId::new(1),
                "counsel.kim".parse().unwrap(),
                at(150),
                "settled".parse().unwrap(),
            )
            .unwrap();
        let released = register.hold(HoldId::new(1)).unwrap();
        assert!(released.stands_at(at(149)));
        assert!(!released.stands_at(at(150)));
        assert!(!released.is_review_due(at(150)));
        assert_eq!(register.due_for_review(at(150)).count(), 0);
    }

    #[test]
    fn a_hold_that_arrives_released_is_refused() {
        let mut released = hold(1, 10, 100).unwrap();
        released.released_at = Some(at(20));
        let mut register = HoldRegister::new();
        assert_eq!(
            register.place(released),
            Err(RetentionError::HoldAlreadyReleased { id: HoldId::new(1) })
        );
        assert!(register.events().is_empty());
    }

    #[test]
    fn register_records_every_change_and_refuses_backwards_clocks() {
        let mut register = HoldRegister::new();
        register.place(hold(1, 10, 100).unwrap()).unwrap();
        assert_eq!(
            register.place(hold(1, 20, 100).unwrap()),
            Err(RetentionError::DuplicateHold { id: HoldId::new(1) })
        );
        assert!(matches!(
            register.place(hold(2, 5, 100).unwrap()),
            Err(RetentionError::ClockWentBackwards { .. })
        ));
        let by: StewardId = "counsel.kim".parse().unwrap();
        register
            .change_review_date(
                HoldId::new(1),
                by.clone(),
                at(20),
                at(200),
                "review".parse().unwrap(),
            )
            .unwrap();
        assert_eq!(
            register.change_review_date(
                HoldId::new(1),
                by.clone(),
                at(21),
                at(21),
                "x".parse().unwrap()
            ),
            Err(RetentionError::HoldReviewNotAfterChange {
                id: HoldId::new(1),
                at: at(21),
                review_at: at(21)
            })
        );
        // A review may also bring the date forward: the hold stands either way.
        register
            .change_review_date(
                HoldId::new(1),
                by.clone(),
                at(22),
                at(150),
                "sooner".parse().unwrap(),
            )
            .unwrap();
        register
            .release(HoldId::new(1), by.clone(), at(30), "done".parse().unwrap())
            .unwrap();
        assert_eq!(
            register.release(HoldId::new(1), by, at(40), "again".parse().unwrap()),
            Err(RetentionError::HoldAlreadyReleased { id: HoldId::new(1) })
        );
        assert_eq!(register.events().len(), 4);
        assert_eq!(register.hold(HoldId::new(1)).unwrap().review_at(), at(150));
    }

    #[test]
    fn deserializing_an_invalid_hold_fails() {
        let valid = serde_json::to_value(hold(3, 10, 100).unwrap()).unwrap();
        let mut inverted = valid.clone();
        inverted["review_at"] = serde_json::json!("1970-01-01T00:00:05Z");
        assert!(serde_json::from_value::<LegalHold>(inverted).is_err());
        let mut blank = valid.clone();
        blank["reason"] = serde_json::json!("   ");
        assert!(serde_json::from_value::<LegalHold>(blank).is_err());
        let mut early_release = valid.clone();
        early_release["released_at"] = serde_json::json!("1970-01-01T00:00:01Z");
        assert!(serde_json::from_value::<LegalHold>(early_release).is_err());
        assert_eq!(
            serde_json::from_value::<LegalHold>(valid).unwrap(),
            hold(3, 10, 100).unwrap()
        );
    }

    #[test]
    fn holds_and_events_written_with_an_expiry_still_read_as_review_dates() {
        let placed = serde_json::json!({
            "event": "placed",
            "hold": {
                "id": 3,
                "scope": { "covers": "customer", "customer": customer() },
                "reason": "CASE-1",
                "placed_by": "counsel.kim",
                "placed_at": "1970-01-01T00:00:10Z",
                "expires_at": "1970-01-01T00:01:40Z",
            },
        });
        let extended = serde_json::json!({
            "event": "extended",
            "id": 3,
            "by": "counsel.kim",
            "at": "1970-01-01T00:00:20Z",
            "expires_at": "1970-01-01T00:03:20Z",
            "reason": "review",
        });
        let mut register = HoldRegister::new();
        register
            .replay(serde_json::from_value(placed).unwrap())
            .unwrap();
        register
            .replay(serde_json::from_value(extended).unwrap())
            .unwrap();
        let hold = register.hold(HoldId::new(3)).unwrap();
        assert_eq!(hold.review_at(), at(200));
        // Read back as a review date: past it, the hold still stands.
        assert!(hold.stands_at(at(10_000)));
        assert!(matches!(
            register.events().get(1),
            Some(HoldEvent::ReviewDateChanged { review_at, .. }) if *review_at == at(200)
        ));
        // Written anew under the new names.
        let written = serde_json::to_value(register.events().get(1).unwrap()).unwrap();
        assert_eq!(written["event"], "review-date-changed");
        assert_eq!(written["review_at"], "1970-01-01T00:03:20Z");
    }
}
