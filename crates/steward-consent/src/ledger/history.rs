//! Lookups in the ledger: the level in force at an instant (a binary search over one
//! customer's history), the effective level under a consent mode, and the receipts of a
//! customer's changes.

use std::iter::FusedIterator;

use steward_core::{CustomerId, Timestamp};

use super::{Cancelled, ConsentLedger, ConsentReceipt, Entry, ReceiptId};
use crate::{ConsentMode, TrainingLevel};

impl ConsentLedger {
    /// The level in force for `customer` at `instant`.
    ///
    /// A change is in force from its effective instant on: at exactly that instant the new
    /// level already applies. Before the customer's first change, and for a customer the
    /// ledger has never seen, the level is [`TrainingLevel::None`] (`training.default-off`).
    /// O(log n) in the customer's history (a binary search), without allocating.
    #[must_use]
    pub fn level_at(&self, customer: CustomerId, instant: Timestamp) -> TrainingLevel {
        self.customers
            .get(&customer)
            .and_then(|entries| in_force(entries, instant))
            .map_or(TrainingLevel::None, |entry| entry.level)
    }

    /// The level that governs data of `customer` collected at `collected_at`, asked at `now`,
    /// under `mode` (`training.forward-only`; see [`ConsentMode`]).
    ///
    /// In [`ConsentMode::ForwardOnly`] this is the level at collection, whatever happened
    /// since; in [`ConsentMode::WithdrawalStopsProcessing`] it is the lower of the level at
    /// collection and the level at `now`.
    #[must_use]
    pub fn effective_level(
        &self,
        customer: CustomerId,
        collected_at: Timestamp,
        now: Timestamp,
        mode: ConsentMode,
    ) -> TrainingLevel {
        let at_collection = self.level_at(customer, collected_at);
        match mode {
            // Forward-only never needs the level now: skip the second lookup.
            ConsentMode::ForwardOnly => at_collection,
            _ => mode.effective_level(at_collection, self.level_at(customer, now)),
        }
    }

    /// The receipt of the change in force for `customer` at `instant`, if any: the evidence
    /// behind [`level_at`](Self::level_at). `None` means no change yet, so
    /// `training.default-off` applies.
    #[must_use]
    pub fn change_in_force(
        &self,
        customer: CustomerId,
        instant: Timestamp,
    ) -> Option<ConsentReceipt> {
        let entries = self.customers.get(&customer)?;
        self.receipt(
            customer,
            entries,
            count_in_force(entries, instant).checked_sub(1)?,
        )
    }

    /// The customer's latest recorded level, whatever its effective instant; `none` if the
    /// customer never changed it.
    #[must_use]
    pub fn latest_level(&self, customer: CustomerId) -> TrainingLevel {
        self.customers
            .get(&customer)
            .and_then(|entries| entries.last())
            .map_or(TrainingLevel::None, |entry| entry.level)
    }

    /// The receipts of every change of `customer`, oldest (lowest receipt) first, those
    /// cancelled before they took effect included and marked
    /// [`cancelled_by`](ConsentReceipt::cancelled_by) (empty for a customer the ledger has
    /// never seen).
    #[must_use]
    pub fn history(&self, customer: CustomerId) -> History<'_> {
        let entries = self.customers.get(&customer).map_or(&[][..], Vec::as_slice);
        let cancelled = self.cancelled.get(&customer).map_or(&[][..], Vec::as_slice);
        History {
            ledger: self,
            customer,
            entries,
            front: 0,
            back: entries.len(),
            cancelled,
            cancelled_front: 0,
            cancelled_back: cancelled.len(),
        }
    }

    /// The receipt of a cancelled change of `customer`.
    fn cancelled_receipt(
        &self,
        customer: CustomerId,
        cancelled: &Cancelled,
    ) -> Option<ConsentReceipt> {
        let entry = &cancelled.entry;
        Some(ConsentReceipt {
            receipt: ReceiptId(entry.receipt),
            customer,
            level: entry.level,
            previous_level: cancelled.previous_level,
            recorded_at: entry.recorded_at,
            effective: entry.effective,
            actor: self.actor(entry)?,
            channel: entry.channel,
            policy_version: self.policy_version(entry)?.clone(),
            cancelled_by: Some(ReceiptId(cancelled.by)),
        })
    }

    /// The receipt of `entries[index]`, the history of `customer`.
    fn receipt(
        &self,
        customer: CustomerId,
        entries: &[Entry],
        index: usize,
    ) -> Option<ConsentReceipt> {
        let entry = entries.get(index)?;
        let previous_level = index
            .checked_sub(1)
            .and_then(|previous| entries.get(previous))
            .map_or(TrainingLevel::None, |previous| previous.level);
        Some(ConsentReceipt {
            receipt: ReceiptId(entry.receipt),
            customer,
            level: entry.level,
            previous_level,
            recorded_at: entry.recorded_at,
            effective: entry.effective,
            actor: self.actor(entry)?,
            channel: entry.channel,
            policy_version: self.policy_version(entry)?.clone(),
            cancelled_by: None,
        })
    }
}

/// The receipts of one customer's changes, oldest first; see [`ConsentLedger::history`].
#[derive(Debug, Clone)]
pub struct History<'a> {
    ledger: &'a ConsentLedger,
    customer: CustomerId,
    entries: &'a [Entry],
    front: usize,
    back: usize,
    cancelled: &'a [Cancelled],
    cancelled_front: usize,
    cancelled_back: usize,
}

impl History<'_> {
    /// The next change from the front: which list it is in (cancelled or not).
    fn front_is_cancelled(&self) -> Option<bool> {
        let entry = (self.front < self.back)
            .then(|| self.entries.get(self.front))
            .flatten();
        let cancelled = (self.cancelled_front < self.cancelled_back)
            .then(|| self.cancelled.get(self.cancelled_front))
            .flatten();
        match (entry, cancelled) {
            (Some(entry), Some(cancelled)) => Some(cancelled.entry.receipt < entry.receipt),
            (Some(_), None) => Some(false),
            (None, Some(_)) => Some(true),
            (None, None) => None,
        }
    }

    /// The next change from the back: which list it is in.
    fn back_is_cancelled(&self) -> Option<bool> {
        let entry = (self.front < self.back)
            .then(|| self.back.checked_sub(1).and_then(|i| self.entries.get(i)))
            .flatten();
        let cancelled = (self.cancelled_front < self.cancelled_back)
            .then(|| {
                self.cancelled_back
                    .checked_sub(1)
                    .and_then(|i| self.cancelled.get(i))
            })
            .flatten();
        match (entry, cancelled) {
            (Some(entry), Some(cancelled)) => Some(cancelled.entry.receipt > entry.receipt),
            (Some(_), None) => Some(false),
            (None, Some(_)) => Some(true),
            (None, None) => None,
        }
    }
}

impl Iterator for History<'_> {
    type Item = ConsentReceipt;

    fn next(&mut self) -> Option<Self::Item> {
        if self.front_is_cancelled()? {
            let cancelled = self.cancelled.get(self.cancelled_front)?;
            self.cancelled_front = self.cancelled_front.saturating_add(1);
            return self.ledger.cancelled_receipt(self.customer, cancelled);
        }
        let receipt = self.ledger.receipt(self.customer, self.entries, self.front);
        self.front = self.front.saturating_add(1);
        receipt
    }

    fn last(mut self) -> Option<Self::Item> {
        // O(1): only the newest receipt is built.
        self.next_back()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self
            .back
            .saturating_sub(self.front)
            .saturating_add(self.cancelled_back.saturating_sub(self.cancelled_front));
        (remaining, Some(remaining))
    }
}

impl DoubleEndedIterator for History<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.back_is_cancelled()? {
            self.cancelled_back = self.cancelled_back.saturating_sub(1);
            let cancelled = self.cancelled.get(self.cancelled_back)?;
            return self.ledger.cancelled_receipt(self.customer, cancelled);
        }
        self.back = self.back.saturating_sub(1);
        self.ledger.receipt(self.customer, self.entries, self.back)
    }
}

impl ExactSizeIterator for History<'_> {}

impl FusedIterator for History<'_> {}

/// The change in force at `instant`: the last one effective at or before it.
fn in_force(entries: &[Entry], instant: Timestamp) -> Option<&Entry> {
    entries.get(count_in_force(entries, instant).checked_sub(1)?)
}

/// How many of `entries` took effect at or before `instant` (changes are in force from their
/// effective instant on, inclusive): a binary search, O(log n).
pub(super) fn count_in_force(entries: &[Entry], instant: Timestamp) -> usize {
    match entries.last() {
        // The most frequent question is "which level now?", when data is collected: the
        // latest change answers it without a search.
        Some(latest) if latest.effective <= instant => entries.len(),
        _ => entries.partition_point(|entry| entry.effective <= instant),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::tests::{at, change, customer, known, new_ledger, record_now};

    #[test]
    fn a_change_is_in_force_from_its_instant_on() {
        let mut ledger = new_ledger();
        let alice = customer(1);
        record_now(&mut ledger, change(alice, TrainingLevel::Shared, at(100))).unwrap();
        assert_eq!(ledger.level_at(alice, at(99)), TrainingLevel::None);
        assert_eq!(ledger.level_at(alice, at(100)), TrainingLevel::Shared);
        assert_eq!(ledger.level_at(alice, at(101)), TrainingLevel::Shared);
    }

    #[test]
    fn unknown_customer_is_default_off() {
        let ledger = new_ledger();
        assert_eq!(ledger.level_at(customer(9), at(0)), TrainingLevel::None);
        assert_eq!(ledger.change_in_force(customer(9), at(0)), None);
        assert_eq!(ledger.history(customer(9)).len(), 0);
        assert_eq!(ledger.latest_recorded(), None);
    }

    #[test]
    fn far_past_and_future_instants_are_stored_and_queried() {
        let mut ledger = new_ledger();
        let alice = customer(1);
        // The ends of the range of instants (1677 and 2262).
        let far_past = Timestamp::MIN;
        let far_future = Timestamp::MAX;
        record_now(&mut ledger, change(alice, TrainingLevel::Private, at(0))).unwrap();
        ledger
            .record(change(alice, TrainingLevel::Shared, far_future), at(1))
            .unwrap();
        assert_eq!(ledger.level_at(alice, far_past), TrainingLevel::None);
        assert_eq!(ledger.level_at(alice, at(1)), TrainingLevel::Private);
        assert_eq!(ledger.level_at(alice, far_future), TrainingLevel::Shared);
        let round_trip = ConsentLedger::from_json(&ledger.to_json().unwrap(), known()).unwrap();
        assert_eq!(round_trip, ledger);
    }

    #[test]
    fn strict_mode_reads_the_level_now() {
        let mut ledger = new_ledger();
        let alice = customer(1);
        record_now(&mut ledger, change(alice, TrainingLevel::OpenWeight, at(1))).unwrap();
        record_now(&mut ledger, change(alice, TrainingLevel::Private, at(10))).unwrap();
        let strict = ConsentMode::WithdrawalStopsProcessing;
        assert_eq!(
            ledger.effective_level(alice, at(5), at(20), ConsentMode::ForwardOnly),
            TrainingLevel::OpenWeight
        );
        assert_eq!(
            ledger.effective_level(alice, at(5), at(20), strict),
            TrainingLevel::Private
        );
        assert_eq!(
            ledger.effective_level(alice, at(5), at(9), strict),
            TrainingLevel::OpenWeight
        );
    }
}
