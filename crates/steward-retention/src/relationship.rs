//! Customer relationships: when each started and when it ended (`logs.retention`).
//!
//! # Recorded and effective instants
//!
//! Every change is recorded at the trusted clock's now and takes effect now or later, never
//! earlier ([`RelationshipBook::record`] refuses a backdated change with
//! [`RetentionError::Backdated`]). An end recorded now ends the relationship at once: the
//! customer's logs serve nothing from then on and the sweep deletes them within the policy's
//! window. An end recorded for a later instant is *scheduled*: until it takes effect the
//! relationship is active (its data serves and is collected as before), and while it lies in
//! the future it may be moved ([`RelationshipChange::CorrectEnd`], to an instant that is not
//! in the past either) or withdrawn ([`RelationshipChange::CancelEnd`]), each its own recorded
//! change. Once an end is in force it is final ([`RetentionError::EndInForce`]); a returning
//! customer starts a new relationship.

use serde::{Deserialize, Serialize};
use steward_core::{CustomerId, CustomerMap, Timestamp};

use crate::RetentionError;

/// One customer relationship: the half-open interval `[started_at, ended_at)`.
///
/// `ended_at` is the contract-end event; `None` while the relationship is open. A returning
/// customer starts a new relationship; data collected during the old one keeps the old
/// schedule. An end may lie in the future (a contract that ends on a known date): until
/// then the relationship is active.
///
/// ```
/// use steward_retention::Relationship;
///
/// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// let started = "2025-01-01T00:00:00Z".parse()?;
/// let ended = "2025-07-01T00:00:00Z".parse()?;
/// let relationship = Relationship::start(customer, started).end(ended)?;
/// assert!(relationship.contains("2025-06-30T23:59:59Z".parse()?));
/// assert!(!relationship.contains(ended));
/// assert!(Relationship::start(customer, ended).end(started).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Relationship {
    customer: CustomerId,
    started_at: Timestamp,
    ended_at: Option<Timestamp>,
}

impl Relationship {
    /// An open relationship that started at `started_at`.
    #[must_use]
    pub const fn start(customer: CustomerId, started_at: Timestamp) -> Self {
        Self {
            customer,
            started_at,
            ended_at: None,
        }
    }

    /// This relationship, ended at `ended_at` (a zero-length relationship is allowed).
    ///
    /// # Errors
    ///
    /// [`RetentionError::EndBeforeStart`] if `ended_at` is before the start (a clock that went
    /// backwards between the two events); [`RetentionError::NoOpenRelationship`] if it has
    /// already ended.
    pub fn end(self, ended_at: Timestamp) -> Result<Self, RetentionError> {
        if self.ended_at.is_some() {
            return Err(RetentionError::NoOpenRelationship);
        }
        if ended_at < self.started_at {
            return Err(RetentionError::EndBeforeStart {
                started_at: self.started_at,
                ended_at,
            });
        }
        Ok(Self {
            ended_at: Some(ended_at),
            ..self
        })
    }

    /// The customer.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// When it started.
    #[must_use]
    pub const fn started_at(&self) -> Timestamp {
        self.started_at
    }

    /// When it ended, if it has an end.
    #[must_use]
    pub const fn ended_at(&self) -> Option<Timestamp> {
        self.ended_at
    }

    /// Whether `instant` lies in `[started_at, ended_at)`: data collected then belongs here.
    #[must_use]
    pub fn contains(&self, instant: Timestamp) -> bool {
        self.started_at <= instant && self.ended_at.is_none_or(|end| instant < end)
    }

    /// Whether the relationship has not ended at `now` (an end at `now` has ended it).
    ///
    /// A relationship that starts after `now` counts as active too: its data is not due.
    #[must_use]
    pub fn is_active_at(&self, now: Timestamp) -> bool {
        self.ended_at.is_none_or(|end| now < end)
    }
}

/// The serialized form, validated into a [`Relationship`] so that deserializing can never
/// build one that ends before it starts.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelationship {
    customer: CustomerId,
    started_at: Timestamp,
    ended_at: Option<Timestamp>,
}

impl<'de> Deserialize<'de> for Relationship {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawRelationship::deserialize(deserializer)?;
        let open = Self::start(raw.customer, raw.started_at);
        match raw.ended_at {
            None => Ok(open),
            Some(end) => open.end(end).map_err(serde::de::Error::custom),
        }
    }
}

/// Every customer's relationships, in order: the reference implementation of the lifecycle.
///
/// Per customer the relationships are sorted and do not overlap, and at most the last one is
/// open, so [`RelationshipBook::containing`] is a binary search.
///
/// ```
/// use steward_retention::RelationshipBook;
///
/// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// let mut book = RelationshipBook::new();
/// book.start(customer, "2025-01-01T00:00:00Z".parse()?)?;
/// book.end(customer, "2025-03-01T00:00:00Z".parse()?)?;
/// // The customer returns: a new relationship, the old one keeps its end.
/// book.start(customer, "2025-09-01T00:00:00Z".parse()?)?;
/// let old = book.containing(customer, "2025-02-01T00:00:00Z".parse()?);
/// assert_eq!(old.and_then(|r| r.ended_at()), Some("2025-03-01T00:00:00Z".parse()?));
/// assert!(book.containing(customer, "2025-05-01T00:00:00Z".parse()?).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RelationshipBook {
    by_customer: CustomerMap<Vec<Relationship>>,
    /// The newest recording instant of a change made through [`RelationshipBook::record`].
    latest_recorded: Option<Timestamp>,
}

/// A change to a customer's relationship, as [`RelationshipBook::record`] records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RelationshipChange {
    /// A new relationship, in force from `effective` on.
    Start {
        /// When it starts.
        effective: Timestamp,
    },
    /// The end of the open relationship at `effective`: now (an end in force) or later (a
    /// scheduled end, active until then).
    End {
        /// When it ends.
        effective: Timestamp,
    },
    /// Moves a scheduled end that still lies in the future to `effective`.
    CorrectEnd {
        /// The new end.
        effective: Timestamp,
    },
    /// Withdraws a scheduled end that still lies in the future: the relationship is open
    /// again.
    CancelEnd,
}

impl RelationshipBook {
    /// An empty book.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty book with room for `customers` customers (a store that knows how many it
    /// holds rebuilds its book without growing the map again and again).
    #[must_use]
    pub fn with_capacity(customers: usize) -> Self {
        Self {
            by_customer: CustomerMap::with_capacity_and_hasher(customers, Default::default()),
            latest_recorded: None,
        }
    }

    /// Records `change` of `customer`'s relationship, recorded at `recorded_at` (the trusted
    /// clock's now): the lifecycle with both instants checked.
    ///
    /// ```
    /// use steward_retention::{RelationshipBook, RelationshipChange, RetentionError};
    ///
    /// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
    /// let mut book = RelationshipBook::new();
    /// let now = "2026-01-01T00:00:00Z".parse()?;
    /// book.record(customer, now, RelationshipChange::Start { effective: now })?;
    /// // An end scheduled for March: active until then, and it may still be moved.
    /// let march = "2026-03-01T00:00:00Z".parse()?;
    /// book.record(customer, now, RelationshipChange::End { effective: march })?;
    /// assert!(book.relationships(customer)[0].is_active_at("2026-02-01T00:00:00Z".parse()?));
    /// let april = "2026-04-01T00:00:00Z".parse()?;
    /// book.record(customer, "2026-02-01T00:00:00Z".parse()?, RelationshipChange::CorrectEnd { effective: april })?;
    /// // In force, the end is final; and nothing takes effect before it is recorded.
    /// let may = "2026-05-01T00:00:00Z".parse()?;
    /// assert!(matches!(
    ///     book.record(customer, may, RelationshipChange::CancelEnd),
    ///     Err(RetentionError::EndInForce { .. })
    /// ));
    /// assert!(matches!(
    ///     book.record(customer, may, RelationshipChange::Start { effective: april }),
    ///     Err(RetentionError::Backdated { .. })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Nothing changes on any error.
    /// - [`RetentionError::RecordedOutOfOrder`] if `recorded_at` is before the newest change
    ///   recorded here.
    /// - [`RetentionError::Backdated`] if the change would take effect before `recorded_at`.
    /// - For a start, as [`start`](Self::start); for an end, as [`end`](Self::end), and
    ///   [`RetentionError::EndScheduled`] if an end is already scheduled.
    /// - For a correction or cancellation, [`RetentionError::NoScheduledEnd`] if the
    ///   customer's newest relationship has no end, [`RetentionError::EndInForce`] if its end
    ///   is not after `recorded_at`, and [`RetentionError::EndBeforeStart`] for a corrected
    ///   end before the start.
    pub fn record(
        &mut self,
        customer: CustomerId,
        recorded_at: Timestamp,
        change: RelationshipChange,
    ) -> Result<(), RetentionError> {
        if let Some(latest) = self.latest_recorded
            && recorded_at < latest
        {
            return Err(RetentionError::RecordedOutOfOrder {
                recorded_at,
                latest,
            });
        }
        let not_backdated = |effective: Timestamp| {
            if effective < recorded_at {
                Err(RetentionError::Backdated {
                    effective,
                    recorded_at,
                })
            } else {
                Ok(())
            }
        };
        match change {
            RelationshipChange::Start { effective } => {
                not_backdated(effective)?;
                self.start(customer, effective)?;
            }
            RelationshipChange::End { effective } => {
                not_backdated(effective)?;
                if let Some(ended_at) = self.newest(customer).and_then(Relationship::ended_at)
                    && ended_at > recorded_at
                {
                    return Err(RetentionError::EndScheduled { ended_at });
                }
                self.end(customer, effective)?;
            }
            RelationshipChange::CorrectEnd { effective } => {
                not_backdated(effective)?;
                let last = self.scheduled_end(customer, recorded_at)?;
                if effective < last.started_at {
                    return Err(RetentionError::EndBeforeStart {
                        started_at: last.started_at,
                        ended_at: effective,
                    });
                }
                last.ended_at = Some(effective);
            }
            RelationshipChange::CancelEnd => {
                self.scheduled_end(customer, recorded_at)?.ended_at = None;
            }
        }
        self.latest_recorded = Some(recorded_at);
        Ok(())
    }

    /// The newest recording instant of a change made through [`record`](Self::record), if
    /// any: the next one is recorded at or after it.
    #[must_use]
    pub const fn latest_recorded(&self) -> Option<Timestamp> {
        self.latest_recorded
    }

    /// The customer's newest relationship.
    fn newest(&self, customer: CustomerId) -> Option<&Relationship> {
        self.by_customer
            .get(&customer)
            .and_then(|history| history.last())
    }

    /// The customer's newest relationship, if its end is scheduled after `recorded_at`.
    fn scheduled_end(
        &mut self,
        customer: CustomerId,
        recorded_at: Timestamp,
    ) -> Result<&mut Relationship, RetentionError> {
        let last = self
            .by_customer
            .get_mut(&customer)
            .and_then(|history| history.last_mut())
            .ok_or(RetentionError::NoScheduledEnd)?;
        match last.ended_at {
            None => Err(RetentionError::NoScheduledEnd),
            Some(ended_at) if ended_at <= recorded_at => {
                Err(RetentionError::EndInForce { ended_at })
            }
            Some(_) => Ok(last),
        }
    }

    /// Records the start of a relationship whose recording instant is not known (a book set
    /// up by hand or imported); a change made now goes through [`record`](Self::record).
    ///
    /// # Errors
    ///
    /// [`RetentionError::RelationshipOverlap`] if the customer has an open relationship or
    /// `at` is before the end of the previous one (a clock that went backwards).
    pub fn start(&mut self, customer: CustomerId, at: Timestamp) -> Result<(), RetentionError> {
        let history = self.by_customer.entry(customer).or_default();
        if let Some(last) = history.last() {
            match last.ended_at() {
                Some(end) if end <= at => {}
                _ => return Err(RetentionError::RelationshipOverlap { started_at: at }),
            }
        }
        history.push(Relationship::start(customer, at));
        Ok(())
    }

    /// Records the contract-end event of the customer's open relationship, whose recording
    /// instant is not known (as [`start`](Self::start)).
    ///
    /// # Errors
    ///
    /// [`RetentionError::NoOpenRelationship`] if none is open; [`RetentionError::EndBeforeStart`]
    /// if `at` is before its start.
    pub fn end(&mut self, customer: CustomerId, at: Timestamp) -> Result<(), RetentionError> {
        let last = self
            .by_customer
            .get_mut(&customer)
            .and_then(|history| history.last_mut())
            .ok_or(RetentionError::NoOpenRelationship)?;
        *last = last.end(at)?;
        Ok(())
    }

    /// Adds a relationship read from storage, keeping the per-customer order.
    ///
    /// # Errors
    ///
    /// [`RetentionError::RelationshipOverlap`] if it overlaps one already in the book.
    pub fn insert(&mut self, relationship: Relationship) -> Result<(), RetentionError> {
        let history = self.by_customer.entry(relationship.customer()).or_default();
        let index = history.partition_point(|r| r.started_at() < relationship.started_at());
        let overlaps_previous = index
            .checked_sub(1)
            .and_then(|i| history.get(i))
            .is_some_and(|previous| {
                previous
                    .ended_at()
                    .is_none_or(|end| end > relationship.started_at())
            });
        let overlaps_next = history.get(index).is_some_and(|next| {
            relationship
                .ended_at()
                .is_none_or(|end| end > next.started_at())
        });
        if overlaps_previous || overlaps_next {
            return Err(RetentionError::RelationshipOverlap {
                started_at: relationship.started_at(),
            });
        }
        history.insert(index, relationship);
        Ok(())
    }

    /// The relationship whose `[started_at, ended_at)` contains `collected_at`, if any.
    #[must_use]
    pub fn containing(
        &self,
        customer: CustomerId,
        collected_at: Timestamp,
    ) -> Option<&Relationship> {
        containing_in(self.relationships(customer), collected_at)
    }

    /// The customer's relationships, oldest first (empty for an unknown customer).
    #[must_use]
    pub fn relationships(&self, customer: CustomerId) -> &[Relationship] {
        self.by_customer.get(&customer).map_or(&[], Vec::as_slice)
    }

    /// Every customer with at least one relationship, in no particular order.
    pub fn customers(&self) -> impl Iterator<Item = CustomerId> + '_ {
        self.by_customer.keys().copied()
    }
}

/// The relationship of a sorted, non-overlapping history that contains `instant`.
pub(crate) fn containing_in(history: &[Relationship], instant: Timestamp) -> Option<&Relationship> {
    let after = history.partition_point(|r| r.started_at() <= instant);
    after
        .checked_sub(1)
        .and_then(|i| history.get(i))
        .filter(|r| r.contains(instant))
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

    #[test]
    fn end_before_start_is_rejected_as_a_clock_error() {
        let error = Relationship::start(customer(), at(100))
            .end(at(99))
            .unwrap_err();
        assert_eq!(
            error,
            RetentionError::EndBeforeStart {
                started_at: at(100),
                ended_at: at(99)
            }
        );
    }

    #[test]
    fn zero_length_relationship_contains_nothing() {
        let relationship = Relationship::start(customer(), at(100))
            .end(at(100))
            .unwrap();
        assert!(!relationship.contains(at(100)));
        assert!(!relationship.is_active_at(at(100)));
    }

    #[test]
    fn a_second_start_while_open_overlaps() {
        let mut book = RelationshipBook::new();
        book.start(customer(), at(10)).unwrap();
        assert!(matches!(
            book.start(customer(), at(20)),
            Err(RetentionError::RelationshipOverlap { .. })
        ));
        book.end(customer(), at(30)).unwrap();
        assert!(book.start(customer(), at(29)).is_err());
        book.start(customer(), at(30)).unwrap();
        assert_eq!(book.relationships(customer()).len(), 2);
    }

    #[test]
    fn insert_keeps_order_and_refuses_overlaps() {
        let mut book = RelationshipBook::new();
        let late = Relationship::start(customer(), at(50));
        let early = Relationship::start(customer(), at(10)).end(at(20)).unwrap();
        book.insert(late).unwrap();
        book.insert(early).unwrap();
        assert_eq!(book.relationships(customer()), &[early, late]);
        let overlapping = Relationship::start(customer(), at(15)).end(at(16)).unwrap();
        assert!(book.insert(overlapping).is_err());
        assert!(
            book.insert(Relationship::start(customer(), at(60)))
                .is_err()
        );
        assert_eq!(book.containing(customer(), at(19)), Some(&early));
        assert_eq!(book.containing(customer(), at(20)), None);
        assert_eq!(book.containing(customer(), at(9)), None);
        assert_eq!(book.containing(customer(), at(1_000)), Some(&late));
    }

    #[test]
    fn a_backdated_start_or_end_is_refused() {
        let mut book = RelationshipBook::new();
        let start = RelationshipChange::Start { effective: at(9) };
        assert_eq!(
            book.record(customer(), at(10), start),
            Err(RetentionError::Backdated {
                effective: at(9),
                recorded_at: at(10)
            })
        );
        book.record(
            customer(),
            at(10),
            RelationshipChange::Start { effective: at(10) },
        )
        .unwrap();
        let end = RelationshipChange::End { effective: at(19) };
        assert!(matches!(
            book.record(customer(), at(20), end),
            Err(RetentionError::Backdated { .. })
        ));
        assert_eq!(book.relationships(customer())[0].ended_at(), None);
        assert_eq!(book.latest_recorded(), Some(at(10)));
    }

    #[test]
    fn a_change_recorded_before_the_newest_is_refused() {
        let mut book = RelationshipBook::new();
        book.record(
            customer(),
            at(10),
            RelationshipChange::Start { effective: at(10) },
        )
        .unwrap();
        assert_eq!(
            book.record(
                customer(),
                at(5),
                RelationshipChange::End { effective: at(12) }
            ),
            Err(RetentionError::RecordedOutOfOrder {
                recorded_at: at(5),
                latest: at(10)
            })
        );
    }

    #[test]
    fn a_scheduled_end_keeps_the_relationship_active_and_may_be_corrected_or_cancelled() {
        let mut book = RelationshipBook::new();
        book.record(
            customer(),
            at(10),
            RelationshipChange::Start { effective: at(10) },
        )
        .unwrap();
        book.record(
            customer(),
            at(11),
            RelationshipChange::End { effective: at(50) },
        )
        .unwrap();
        let scheduled = book.relationships(customer())[0];
        assert!(scheduled.is_active_at(at(49)));
        assert!(scheduled.contains(at(49)));
        // A second end while one is scheduled names the scheduled one.
        assert_eq!(
            book.record(
                customer(),
                at(12),
                RelationshipChange::End { effective: at(12) }
            ),
            Err(RetentionError::EndScheduled { ended_at: at(50) })
        );
        book.record(
            customer(),
            at(13),
            RelationshipChange::CorrectEnd { effective: at(40) },
        )
        .unwrap();
        assert_eq!(book.relationships(customer())[0].ended_at(), Some(at(40)));
        // Corrected to the past: backdated.
        assert!(matches!(
            book.record(
                customer(),
                at(14),
                RelationshipChange::CorrectEnd { effective: at(13) }
            ),
            Err(RetentionError::Backdated { .. })
        ));
        book.record(customer(), at(15), RelationshipChange::CancelEnd)
            .unwrap();
        assert_eq!(book.relationships(customer())[0].ended_at(), None);
        assert_eq!(
            book.record(customer(), at(16), RelationshipChange::CancelEnd),
            Err(RetentionError::NoScheduledEnd)
        );
    }

    #[test]
    fn an_end_in_force_is_final() {
        let mut book = RelationshipBook::new();
        book.record(
            customer(),
            at(10),
            RelationshipChange::Start { effective: at(10) },
        )
        .unwrap();
        book.record(
            customer(),
            at(11),
            RelationshipChange::End { effective: at(20) },
        )
        .unwrap();
        for change in [
            RelationshipChange::CancelEnd,
            RelationshipChange::CorrectEnd { effective: at(30) },
        ] {
            assert_eq!(
                book.record(customer(), at(20), change),
                Err(RetentionError::EndInForce { ended_at: at(20) })
            );
        }
        assert_eq!(book.relationships(customer())[0].ended_at(), Some(at(20)));
        // A returning customer starts anew.
        book.record(
            customer(),
            at(21),
            RelationshipChange::Start { effective: at(21) },
        )
        .unwrap();
        assert_eq!(book.relationships(customer()).len(), 2);
    }

    #[test]
    fn deserializing_an_inverted_relationship_fails() {
        let json = r#"{"customer":"0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10",
            "started_at":"2025-02-01T00:00:00Z","ended_at":"2025-01-01T00:00:00Z"}"#;
        let error = serde_json::from_str::<Relationship>(json).unwrap_err();
        assert!(error.to_string().contains("before its start"), "{error}");
        let relationship = Relationship::start(customer(), at(0)).end(at(5)).unwrap();
        let json = serde_json::to_string(&relationship).unwrap();
        assert_eq!(
            serde_json::from_str::<Relationship>(&json).unwrap(),
            relationship
        );
    }
}
