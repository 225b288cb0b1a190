//! The append-only consent ledger: every preference change, who made it, when it was recorded
//! and when it takes effect, through which channel and under which policy version, and the
//! level in force at any instant.
//!
//! The ledger type and how a change is recorded live here; `history` answers which level was
//! in force when, `export` writes the JSON export and `import` reads it back.

use std::{fmt, num::NonZeroU32};

use serde::{Deserialize, Serialize};
use steward_core::{
    AdminId, ClauseId, CustomerId, CustomerMap, Justification, PolicyVersion, Timestamp,
};

use crate::{
    Channel, ConsentActor, ConsentError, KnownPolicyVersions, TrainingLevel,
    intern::{Interner, hash_table_bytes},
};

mod export;
mod history;
mod import;

pub use self::{export::EXPORT_FORMAT, history::History, import::ConsentLedgerSeed};

/// The number of a consent receipt, unique within a ledger.
///
/// The ledger numbers changes 1, 2, 3, ... (up to 2^32 - 2 per ledger) in the order it records
/// them, so within one customer's history receipts increase with the effective instants, and
/// across the ledger with the recording instants.
/// Serialized as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReceiptId(NonZeroU32);

impl ReceiptId {
    /// The receipt numbered `number`: for the ledgers of this crate.
    pub(crate) const fn from_number(number: NonZeroU32) -> Self {
        Self(number)
    }

    /// The receipt number.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for ReceiptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A preference change to record: the customer, the new level, the instant it takes effect,
/// who made it, through which channel, and the policy version in force (`policy.versioned`).
/// When it is recorded is not part of the change: [`ConsentLedger::record`] takes it from the
/// caller's clock.
///
/// ```
/// use steward_consent::{Channel, ConsentActor, ConsentChange, TrainingLevel};
///
/// let change = ConsentChange::new(
///     "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?,
///     TrainingLevel::Private,
///     "2025-06-01T09:30:00Z".parse()?,
///     ConsentActor::Customer,
///     Channel::AccountSettings,
///     "2025-03-05".parse()?,
/// );
/// assert_eq!(change.level, TrainingLevel::Private);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConsentChange {
    /// Whose preference changes.
    pub customer: CustomerId,
    /// The new level.
    pub level: TrainingLevel,
    /// From which instant on the new level is in force (inclusive); not before it is recorded.
    pub effective: Timestamp,
    /// Who made the change (an admin always with a stated basis).
    pub actor: ConsentActor,
    /// Through which channel the change came.
    pub channel: Channel,
    /// The version of the privacy policy in force when the change was made; one of the
    /// ledger's [`KnownPolicyVersions`].
    pub policy_version: PolicyVersion,
}

impl ConsentChange {
    /// A change of `customer`'s level to `level`, in force from `effective` on.
    #[must_use]
    pub const fn new(
        customer: CustomerId,
        level: TrainingLevel,
        effective: Timestamp,
        actor: ConsentActor,
        channel: Channel,
        policy_version: PolicyVersion,
    ) -> Self {
        Self {
            customer,
            level,
            effective,
            actor,
            channel,
            policy_version,
        }
    }
}

/// Proof of one recorded preference change: what GDPR Art. 7(1) asks a controller to be able
/// to show (who consented, to what, when, how, and on the basis of which policy text).
///
/// Returned by [`ConsentLedger::record`] and yielded by [`ConsentLedger::history`];
/// serializable so it can be shown to the customer or handed to an auditor. It holds two
/// instants: when the ledger recorded the change, and when the change takes effect, never
/// before the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConsentReceipt {
    /// The receipt number, unique within the ledger.
    pub receipt: ReceiptId,
    /// Whose preference changed.
    pub customer: CustomerId,
    /// The level from [`effective`](Self::effective) on.
    pub level: TrainingLevel,
    /// The level in force just before (`none` for the first change, `training.default-off`).
    pub previous_level: TrainingLevel,
    /// When the ledger recorded the change.
    pub recorded_at: Timestamp,
    /// From which instant on the level is in force (inclusive); at or after
    /// [`recorded_at`](Self::recorded_at).
    pub effective: Timestamp,
    /// Who made the change (an admin with the stated basis).
    pub actor: ConsentActor,
    /// Through which channel the change came.
    pub channel: Channel,
    /// The policy version in force when the change was made (`policy.versioned`).
    pub policy_version: PolicyVersion,
    /// The receipt of the change that cancelled this one before it took effect (a lower
    /// level recorded now cancels every change scheduled after it); `None` for a change
    /// that was never cancelled. A cancelled change never takes effect, and its receipt
    /// stays in the history as proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<ReceiptId>,
}

impl ConsentReceipt {
    /// The clause the new level stands on: `training.default-off` for `none`, otherwise the
    /// opt-in clause of the level.
    #[must_use]
    pub const fn clause(&self) -> ClauseId {
        self.level.clause()
    }
}

/// The append-only ledger of training preferences of every customer.
///
/// - [`new`](Self::new) takes the [`KnownPolicyVersions`]: a change naming another version is
///   refused (`policy.versioned`).
/// - [`record`](Self::record) appends a change, recorded at the instant the caller gives, and
///   returns its [`ConsentReceipt`]. Refused, leaving the ledger as it was: a change that
///   would take effect before it is recorded (no backdating), one recorded before the
///   ledger's newest recording instant (the clock went backwards), one effective at or before
///   the customer's latest change, or one naming an unknown policy version. One exception:
///   a level lower than the level in force or than a scheduled one, taking effect at its
///   recording instant, takes effect now and cancels every change of the customer scheduled
///   after it; their receipts stay in the [`history`](Self::history), marked
///   [`cancelled_by`](ConsentReceipt::cancelled_by) it.
/// - [`level_at`](Self::level_at) answers which level was in force at an instant, in
///   O(log n) of that customer's history; before any change it is
///   [`TrainingLevel::None`] (`training.default-off`). A change is in force from its
///   effective instant on, inclusive.
/// - [`effective_level`](Self::effective_level) applies a [`ConsentMode`] to a record's
///   collection instant (`training.forward-only`).
/// - [`history`](Self::history) replays a customer's receipts; [`to_json`](Self::to_json) and
///   [`from_json`](Self::from_json) export and import the whole ledger (serde through
///   [`ConsentLedgerSeed`]).
///
/// The ledger reads no clock: the caller passes the recording instant, so that tests and
/// replays decide what "now" is.
///
/// Queries take `&self` and do not lock: the ledger is `Send + Sync`, so share it behind an
/// `Arc` (with an `RwLock` if it keeps changing) and query from any number of threads.
///
/// [`ConsentMode`]: crate::ConsentMode
#[derive(Clone)]
pub struct ConsentLedger {
    customers: CustomerMap<Vec<Entry>>,
    known_versions: KnownPolicyVersions,
    admins: Interner<AdminBasis>,
    next_receipt: NonZeroU32,
    change_count: usize,
    /// The newest recording instant of any change; recording instants never decrease.
    latest_recorded: Option<Timestamp>,
    /// Changes cancelled before they took effect, per customer, in receipt order (rare: kept
    /// apart so that the histories `level_at` searches stay sorted and dense).
    cancelled: CustomerMap<Vec<Cancelled>>,
}

/// A change cancelled before it took effect, with what its receipt said.
#[derive(Debug, Clone, Copy)]
struct Cancelled {
    entry: Entry,
    previous_level: TrainingLevel,
    by: NonZeroU32,
}

/// One stored change, 32 bytes: the two instants, the receipt number, and small indexes into
/// the tables of admins and policy versions instead of the strings themselves, so a change
/// costs no heap allocation of its own.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Kept as the `Timestamp` itself (8 bytes): comparing it is one integer comparison.
    effective: Timestamp,
    recorded_at: Timestamp,
    receipt: NonZeroU32,
    /// 0 for the customer, `k` for `admins[k - 1]` (the admin and their stated basis).
    actor: u32,
    /// Index into the known policy versions.
    policy: u16,
    level: TrainingLevel,
    channel: Channel,
}

const _: () = assert!(
    size_of::<Entry>() == 32,
    "keep the per-change record compact"
);

/// An admin and the basis they stated, interned together: an admin change is rare, so a
/// table entry per distinct basis costs little.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AdminBasis {
    admin: AdminId,
    basis: Justification,
}

/// At most this many distinct admin actors (admin and basis): their index plus one is stored
/// as a `u32`.
const ADMIN_LIMIT: usize = (u32::MAX - 1) as usize;
/// Histories shorter than this grow one slot at a time, so the common short history carries
/// no spare capacity; longer ones grow geometrically to keep appends amortized O(1).
const EXACT_GROWTH_BELOW: usize = 16;

impl ConsentLedger {
    /// An empty ledger that accepts changes naming one of `known_versions`: every customer is
    /// at [`TrainingLevel::None`] (`training.default-off`).
    #[must_use]
    pub fn new(known_versions: KnownPolicyVersions) -> Self {
        Self {
            customers: CustomerMap::default(),
            known_versions,
            admins: Interner::default(),
            next_receipt: NonZeroU32::MIN,
            change_count: 0,
            latest_recorded: None,
            cancelled: CustomerMap::default(),
        }
    }

    /// An empty ledger with room for `customers` customers before its table grows, for
    /// services that load a known population (growing the table later briefly holds both the
    /// old and the new table).
    #[must_use]
    pub fn with_capacity(known_versions: KnownPolicyVersions, customers: usize) -> Self {
        Self {
            customers: CustomerMap::with_capacity_and_hasher(customers, Default::default()),
            ..Self::new(known_versions)
        }
    }

    /// The policy versions a change may name.
    #[must_use]
    pub const fn known_versions(&self) -> &KnownPolicyVersions {
        &self.known_versions
    }

    /// The newest instant at which a change was recorded, if any: the next change must be
    /// recorded at or after it.
    #[must_use]
    pub const fn latest_recorded(&self) -> Option<Timestamp> {
        self.latest_recorded
    }

    /// Appends a preference change, recorded at `recorded_at`, and returns its receipt.
    ///
    /// `recorded_at` is the caller's "now" (the facade passes its clock's instant; the ledger
    /// reads no clock). The change is in force from its effective instant on (inclusive),
    /// which may be later than `recorded_at` (a scheduled change) but never earlier, and
    /// records the policy version in force (`policy.versioned`).
    ///
    /// # Errors
    ///
    /// The ledger is unchanged after any error.
    /// - [`ConsentError::UnknownPolicyVersion`] if the change names a version outside the
    ///   ledger's [`KnownPolicyVersions`].
    /// - [`ConsentError::ClockWentBackwards`] if `recorded_at` is before the newest recording
    ///   instant in the ledger.
    /// - [`ConsentError::Backdated`] if the change would take effect before `recorded_at`.
    /// - [`ConsentError::NotAfterLatest`] if the change is effective at or before the
    ///   customer's latest change: history is append-only and strictly ordered in time. A
    ///   level lower than the one in force at `recorded_at` or than one scheduled after it,
    ///   effective at `recorded_at` itself and after the change in force, is the exception:
    ///   it cancels every change scheduled after it (training.opt-out: a withdrawal now is
    ///   never refused for an opt-in scheduled later).
    /// - [`ConsentError::TableFull`] past about four billion distinct admin actors, and
    ///   [`ConsentError::ReceiptsExhausted`] after 2^32 - 2 receipts (changes) in one ledger.
    pub fn record(
        &mut self,
        change: ConsentChange,
        recorded_at: Timestamp,
    ) -> Result<ConsentReceipt, ConsentError> {
        let policy = self
            .known_versions
            .index_of(&change.policy_version)
            .ok_or_else(|| ConsentError::UnknownPolicyVersion {
                version: change.policy_version.clone(),
            })?;
        if let Some(latest_recorded) = self.latest_recorded
            && recorded_at < latest_recorded
        {
            return Err(ConsentError::ClockWentBackwards {
                recorded_at,
                latest_recorded,
            });
        }
        let effective = change.effective;
        if effective < recorded_at {
            return Err(ConsentError::Backdated {
                effective,
                recorded_at,
            });
        }
        let history = self
            .customers
            .get(&change.customer)
            .map_or(&[][..], Vec::as_slice);
        let latest = history.last();
        // Where the changes this one cancels begin, if it cancels any.
        let mut cancel_from = None;
        if let Some(latest) = latest
            && effective <= latest.effective
        {
            let in_force = history::count_in_force(history, recorded_at);
            if !cancels_scheduled(history, in_force, &change, recorded_at) {
                return Err(ConsentError::NotAfterLatest {
                    effective,
                    latest: latest.effective,
                });
            }
            cancel_from = Some(in_force);
        }
        let previous_level = match cancel_from {
            Some(in_force) => level_before(history, in_force),
            None => latest.map_or(TrainingLevel::None, |entry| entry.level),
        };
        let receipt = self.next_receipt;
        let next_receipt = receipt
            .checked_add(1)
            .ok_or(ConsentError::ReceiptsExhausted)?;
        let admin = AdminBasis::of(&change.actor);
        let admin_slot = admin
            .as_ref()
            .map(|admin| self.admins.prepare(admin, ADMIN_LIMIT, "admins"))
            .transpose()?;
        let actor = match &admin_slot {
            None => 0,
            Some(slot) => slot.index.checked_add(1).ok_or_else(admin_table_full)?,
        };

        // Every check has passed: from here on nothing fails, so a rejected change can never
        // leave a half-written ledger behind.
        if let (Some(slot), Some(admin)) = (admin_slot, &admin) {
            self.admins.commit(slot, admin);
        }
        let entries = self
            .customers
            .entry(change.customer)
            .or_insert_with(|| Vec::with_capacity(1));
        if let Some(from) = cancel_from {
            let cancelled = self.cancelled.entry(change.customer).or_default();
            let mut previous_level = level_before(entries, from);
            for entry in entries.drain(from..) {
                cancelled.push(Cancelled {
                    entry,
                    previous_level,
                    by: receipt,
                });
                previous_level = entry.level;
            }
        }
        if entries.len() == entries.capacity() && entries.len() < EXACT_GROWTH_BELOW {
            entries.reserve_exact(1);
        }
        entries.push(Entry {
            effective,
            recorded_at,
            receipt,
            actor,
            policy,
            level: change.level,
            channel: change.channel,
        });
        self.next_receipt = next_receipt;
        self.change_count = self.change_count.saturating_add(1);
        self.latest_recorded = Some(recorded_at);

        Ok(ConsentReceipt {
            receipt: ReceiptId(receipt),
            customer: change.customer,
            level: change.level,
            previous_level,
            recorded_at,
            effective,
            actor: change.actor,
            channel: change.channel,
            policy_version: change.policy_version,
            cancelled_by: None,
        })
    }

    /// Discards every receipt of `customer`, cancelled ones included, once they are no
    /// longer needed as proof (the policy's consent proof period after the relationship
    /// ended, docs/retention.md): the customer is then at [`TrainingLevel::None`] at every
    /// instant, as one who never chose (`training.default-off`). Receipt numbers are not
    /// reused. Returns how many receipts were discarded.
    ///
    /// ```
    /// use steward_consent::{Channel, ConsentActor, ConsentChange, ConsentLedger, KnownPolicyVersions};
    /// use steward_core::{CustomerId, TrainingLevel};
    ///
    /// let version = "2025-03-05".parse()?;
    /// let mut ledger = ConsentLedger::new(KnownPolicyVersions::new(version));
    /// let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
    /// let at = "2025-03-01T00:00:00Z".parse()?;
    /// let change = ConsentChange::new(
    ///     customer, TrainingLevel::Shared, at, ConsentActor::Customer,
    ///     Channel::AccountSettings, "2025-03-05".parse()?,
    /// );
    /// ledger.record(change, at)?;
    /// assert_eq!(ledger.discard_customer(customer), 1);
    /// assert_eq!(ledger.level_at(customer, at), TrainingLevel::None);
    /// assert_eq!(ledger.history(customer).count(), 0);
    /// assert_eq!(ledger.discard_customer(customer), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn discard_customer(&mut self, customer: CustomerId) -> usize {
        let kept = self
            .customers
            .remove(&customer)
            .map_or(0, |entries| entries.len());
        let cancelled = self
            .cancelled
            .remove(&customer)
            .map_or(0, |entries| entries.len());
        let discarded = kept.saturating_add(cancelled);
        self.change_count = self.change_count.saturating_sub(discarded);
        discarded
    }

    /// How many customers have at least one recorded change.
    #[must_use]
    pub fn customer_count(&self) -> usize {
        self.customers.len()
    }

    /// How many changes the ledger holds, over all customers.
    #[must_use]
    pub const fn change_count(&self) -> usize {
        self.change_count
    }

    /// Whether the ledger holds no change at all.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.change_count == 0
    }

    /// An estimate of the heap memory the ledger holds, in bytes: the hash table, every
    /// history's buffer and the interned tables, computed from their capacities. The
    /// allocator's own bookkeeping comes on top.
    #[must_use]
    pub fn approximate_heap_bytes(&self) -> usize {
        let table = hash_table_bytes(
            self.customers.capacity(),
            size_of::<(CustomerId, Vec<Entry>)>(),
        );
        let histories = self
            .customers
            .values()
            .map(|entries| entries.capacity().saturating_mul(size_of::<Entry>()))
            .fold(0_usize, usize::saturating_add);
        let policies = self.known_versions.approximate_heap_bytes();
        let admins = self.admins.approximate_heap_bytes(|actor| {
            actor
                .admin
                .as_str()
                .len()
                .saturating_add(actor.basis.as_str().len())
        });
        let cancelled = self
            .cancelled
            .values()
            .map(|entries| entries.capacity().saturating_mul(size_of::<Cancelled>()))
            .fold(0_usize, usize::saturating_add);
        table
            .saturating_add(histories)
            .saturating_add(cancelled)
            .saturating_add(policies)
            .saturating_add(admins)
    }

    // The two lookups below return `None` only if an index were dangling, which cannot
    // happen: indexes are created only by `Interner::commit`, and tables never shrink.

    fn policy_version(&self, entry: &Entry) -> Option<&PolicyVersion> {
        self.known_versions.version(entry.policy)
    }

    fn admin(&self, entry: &Entry) -> Option<Option<&AdminBasis>> {
        match entry.actor.checked_sub(1) {
            None => Some(None),
            Some(index) => self
                .admins
                .values
                .get(usize::try_from(index).ok()?)
                .map(Some),
        }
    }

    fn actor(&self, entry: &Entry) -> Option<ConsentActor> {
        Some(match self.admin(entry)? {
            None => ConsentActor::Customer,
            Some(AdminBasis { admin, basis }) => ConsentActor::Admin {
                admin: admin.clone(),
                basis: basis.clone(),
            },
        })
    }
}

impl fmt::Debug for ConsentLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Counts only: a debug print of a million histories helps nobody, and the ids are
        // personal data.
        f.debug_struct("ConsentLedger")
            .field("customers", &self.customers.len())
            .field("changes", &self.change_count)
            .field("known_policy_versions", &self.known_versions.iter().len())
            .field("admins", &self.admins.values.len())
            .finish()
    }
}

/// Two ledgers are equal when they know the same policy versions and hold the same changes
/// with the same receipts, whatever the order in which their tables were filled.
impl PartialEq for ConsentLedger {
    fn eq(&self, other: &Self) -> bool {
        self.change_count == other.change_count
            && self.next_receipt == other.next_receipt
            && self.latest_recorded == other.latest_recorded
            && self.known_versions == other.known_versions
            && self.customers.len() == other.customers.len()
            && self.customers.iter().all(|(customer, entries)| {
                other.customers.get(customer).is_some_and(|others| {
                    entries.len() == others.len()
                        && entries
                            .iter()
                            .zip(others)
                            .all(|(mine, theirs)| self.same_change(mine, other, theirs))
                })
            })
            && self.cancelled.len() == other.cancelled.len()
            && self.cancelled.iter().all(|(customer, entries)| {
                other.cancelled.get(customer).is_some_and(|others| {
                    entries.len() == others.len()
                        && entries.iter().zip(others).all(|(mine, theirs)| {
                            mine.by == theirs.by
                                && mine.previous_level == theirs.previous_level
                                && self.same_change(&mine.entry, other, &theirs.entry)
                        })
                })
            })
    }
}

impl Eq for ConsentLedger {}

impl ConsentLedger {
    fn same_change(&self, mine: &Entry, other: &Self, theirs: &Entry) -> bool {
        mine.effective == theirs.effective
            && mine.recorded_at == theirs.recorded_at
            && mine.receipt == theirs.receipt
            && mine.level == theirs.level
            && mine.channel == theirs.channel
            && self.policy_version(mine) == other.policy_version(theirs)
            && self.admin(mine) == other.admin(theirs)
    }
}

/// Whether `change`, recorded at `recorded_at`, cancels the changes of `history` scheduled
/// after it (those after the first `in_force`): it takes effect at its recording instant,
/// after the change in force, and lowers the level in force or a scheduled one.
fn cancels_scheduled(
    history: &[Entry],
    in_force: usize,
    change: &ConsentChange,
    recorded_at: Timestamp,
) -> bool {
    let Some(scheduled) = history.get(in_force..).filter(|rest| !rest.is_empty()) else {
        return false;
    };
    let current = in_force.checked_sub(1).and_then(|index| history.get(index));
    let after_current = current.is_none_or(|entry| entry.effective < change.effective);
    let lowers = change.level < current.map_or(TrainingLevel::None, |entry| entry.level)
        || scheduled.iter().any(|entry| change.level < entry.level);
    change.effective == recorded_at && after_current && lowers
}

/// The level of `history[..index]`'s newest change (`none` without one).
fn level_before(history: &[Entry], index: usize) -> TrainingLevel {
    index
        .checked_sub(1)
        .and_then(|previous| history.get(previous))
        .map_or(TrainingLevel::None, |entry| entry.level)
}

impl AdminBasis {
    /// The admin and basis of `actor`, if an admin acted.
    fn of(actor: &ConsentActor) -> Option<Self> {
        Some(Self {
            admin: actor.admin()?.clone(),
            basis: actor.basis()?.clone(),
        })
    }
}

fn admin_table_full() -> ConsentError {
    ConsentError::TableFull {
        what: "admins",
        limit: ADMIN_LIMIT as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn customer(last: u8) -> CustomerId {
        format!("0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a{last:02x}")
            .parse()
            .unwrap()
    }

    pub(super) fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(1_741_132_800 + seconds).unwrap()
    }

    pub(super) fn known() -> KnownPolicyVersions {
        KnownPolicyVersions::new("2025-03-05".parse().unwrap())
            .with("2025-09-01".parse().unwrap())
            .unwrap()
    }

    pub(super) fn new_ledger() -> ConsentLedger {
        ConsentLedger::new(known())
    }

    pub(super) fn change(who: CustomerId, level: TrainingLevel, when: Timestamp) -> ConsentChange {
        ConsentChange::new(
            who,
            level,
            when,
            ConsentActor::Customer,
            Channel::AccountSettings,
            "2025-03-05".parse().unwrap(),
        )
    }

    pub(super) fn admin(name: &str, basis: &str) -> ConsentActor {
        ConsentActor::Admin {
            admin: name.parse().unwrap(),
            basis: basis.parse().unwrap(),
        }
    }

    #[test]
    fn a_withdrawal_now_while_an_opt_in_is_scheduled_takes_effect_now_and_cancels_it() {
        let mut ledger = new_ledger();
        let ada = customer(1);
        let private = ledger
            .record(change(ada, TrainingLevel::Private, at(0)), at(0))
            .unwrap();
        let scheduled = ledger
            .record(change(ada, TrainingLevel::Shared, at(100)), at(10))
            .unwrap();
        let withdrawal = ledger
            .record(change(ada, TrainingLevel::None, at(20)), at(20))
            .unwrap();
        assert_eq!(withdrawal.previous_level, TrainingLevel::Private);
        assert_eq!(ledger.level_at(ada, at(20)), TrainingLevel::None);
        // The opt-in never takes effect.
        assert_eq!(ledger.level_at(ada, at(100)), TrainingLevel::None);
        assert_eq!(ledger.latest_level(ada), TrainingLevel::None);
        let history: Vec<_> = ledger.history(ada).collect();
        assert_eq!(
            history
                .iter()
                .map(|r| (r.receipt, r.cancelled_by))
                .collect::<Vec<_>>(),
            [
                (private.receipt, None),
                (scheduled.receipt, Some(withdrawal.receipt)),
                (withdrawal.receipt, None),
            ]
        );
        assert_eq!(ledger.change_count(), 3);
        // Later changes follow the withdrawal, as any change.
        ledger
            .record(change(ada, TrainingLevel::Private, at(50)), at(30))
            .unwrap();
        assert_eq!(ledger.level_at(ada, at(100)), TrainingLevel::Private);
        assert_eq!(ledger.history(ada).rev().count(), 4);
        let back = ConsentLedger::from_json(&ledger.to_json().unwrap(), known()).unwrap();
        assert_eq!(back, ledger);
        assert!(back.history(ada).eq(ledger.history(ada)));
    }

    #[test]
    fn a_change_now_that_lowers_nothing_is_still_refused_while_one_is_scheduled() {
        let mut ledger = new_ledger();
        let ada = customer(1);
        ledger
            .record(change(ada, TrainingLevel::Private, at(100)), at(0))
            .unwrap();
        // Not lower than the scheduled level nor the one in force: refused as before.
        for level in [TrainingLevel::Private, TrainingLevel::Shared] {
            assert!(matches!(
                ledger.record(change(ada, level, at(20)), at(20)),
                Err(ConsentError::NotAfterLatest { .. })
            ));
        }
        // Lower, but scheduled rather than now: refused too.
        assert!(matches!(
            ledger.record(change(ada, TrainingLevel::None, at(50)), at(20)),
            Err(ConsentError::NotAfterLatest { .. })
        ));
        assert_eq!(ledger.level_at(ada, at(100)), TrainingLevel::Private);
    }

    #[test]
    fn an_import_with_a_cancellation_no_change_makes_is_refused() {
        let mut ledger = new_ledger();
        let ada = customer(1);
        ledger
            .record(change(ada, TrainingLevel::Shared, at(100)), at(0))
            .unwrap();
        ledger
            .record(change(ada, TrainingLevel::None, at(10)), at(10))
            .unwrap();
        let mut value: serde_json::Value =
            serde_json::from_str(&ledger.to_json().unwrap()).unwrap();
        assert_eq!(value["customers"][0]["changes"][0]["cancelled_by"], 2);
        // Marked cancelled by a receipt that does not exist: never imported.
        value["customers"][0]["changes"][0]["cancelled_by"] = 7.into();
        let error = ConsentLedger::from_json(&value.to_string(), known()).unwrap_err();
        assert!(
            matches!(error, ConsentError::InvalidLedger { .. }),
            "{error}"
        );
        // Marked cancelled by the receipt before it: never imported either.
        value["customers"][0]["changes"][0]["cancelled_by"] = 1.into();
        let error = ConsentLedger::from_json(&value.to_string(), known()).unwrap_err();
        assert!(
            error.to_string().contains("cancelled by receipt 1"),
            "{error}"
        );
        // The mark removed, the withdrawal is not after the scheduled change.
        value["customers"][0]["changes"][0]
            .as_object_mut()
            .unwrap()
            .remove("cancelled_by");
        assert!(ConsentLedger::from_json(&value.to_string(), known()).is_err());
    }

    /// Records `change` as in force at once: recorded at its effective instant.
    pub(super) fn record_now(
        ledger: &mut ConsentLedger,
        change: ConsentChange,
    ) -> Result<ConsentReceipt, ConsentError> {
        let now = change.effective;
        ledger.record(change, now)
    }

    #[test]
    fn same_instant_change_is_rejected_and_names_both_instants() {
        let mut ledger = new_ledger();
        let alice = customer(1);
        record_now(&mut ledger, change(alice, TrainingLevel::Shared, at(100))).unwrap();
        let error =
            record_now(&mut ledger, change(alice, TrainingLevel::None, at(100))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "change effective at `2025-03-05T00:01:40Z` is not after the latest change at \
             `2025-03-05T00:01:40Z`"
        );
        assert_eq!(ledger.change_count(), 1);
    }

    #[test]
    fn receipts_name_previous_level_policy_version_and_both_instants() {
        let mut ledger = new_ledger();
        let alice = customer(1);
        let first = record_now(&mut ledger, change(alice, TrainingLevel::Shared, at(1))).unwrap();
        let second = ledger
            .record(
                ConsentChange::new(
                    alice,
                    TrainingLevel::Private,
                    at(5),
                    admin("dana", "TICKET-12 customer asked by phone"),
                    Channel::SupportRequest,
                    "2025-09-01".parse().unwrap(),
                ),
                at(2),
            )
            .unwrap();
        assert_eq!(first.previous_level, TrainingLevel::None);
        assert_eq!(second.previous_level, TrainingLevel::Shared);
        assert_eq!(second.policy_version.as_str(), "2025-09-01");
        assert_eq!((second.recorded_at, second.effective), (at(2), at(5)));
        assert_eq!(
            second.actor.basis().map(Justification::as_str),
            Some("TICKET-12 customer asked by phone")
        );
        assert!(second.receipt > first.receipt);
        let history: Vec<_> = ledger.history(alice).collect();
        assert_eq!(history, vec![first, second.clone()]);
        assert_eq!(ledger.history(alice).next_back(), Some(second));
        assert_eq!(ledger.latest_recorded(), Some(at(2)));
    }

    #[test]
    fn a_first_change_backdated_by_an_admin_to_open_weight_is_refused() {
        let mut ledger = new_ledger();
        let alice = customer(1);
        let backdated = ConsentChange::new(
            alice,
            TrainingLevel::OpenWeight,
            at(10),
            admin("dana", "TICKET-9 customer said they agreed last month"),
            Channel::SupportRequest,
            "2025-03-05".parse().unwrap(),
        );
        let error = ledger.record(backdated, at(100)).unwrap_err();
        assert_eq!(
            error,
            ConsentError::Backdated {
                effective: at(10),
                recorded_at: at(100)
            }
        );
        assert_eq!(
            error.to_string(),
            "change effective at `2025-03-05T00:00:10Z` is before it was recorded at \
             `2025-03-05T00:01:40Z`: a change cannot take effect before it is recorded"
        );
        assert_eq!(ledger, new_ledger());
        // Data collected in between stays untrainable (training.default-off).
        assert_eq!(ledger.level_at(alice, at(50)), TrainingLevel::None);
    }

    #[test]
    fn a_change_scheduled_for_later_is_accepted() {
        let mut ledger = new_ledger();
        let alice = customer(1);
        let receipt = ledger
            .record(change(alice, TrainingLevel::Shared, at(500)), at(100))
            .unwrap();
        assert_eq!(receipt.recorded_at, at(100));
        assert_eq!(ledger.level_at(alice, at(499)), TrainingLevel::None);
        assert_eq!(ledger.level_at(alice, at(500)), TrainingLevel::Shared);
    }

    #[test]
    fn a_change_recorded_before_the_newest_recording_is_refused_as_a_clock_error() {
        let mut ledger = new_ledger();
        record_now(
            &mut ledger,
            change(customer(1), TrainingLevel::Shared, at(100)),
        )
        .unwrap();
        let before = ledger.clone();
        // Another customer, so only the ledger-wide recording order is at stake.
        let error = ledger
            .record(change(customer(2), TrainingLevel::Shared, at(200)), at(99))
            .unwrap_err();
        assert_eq!(
            error,
            ConsentError::ClockWentBackwards {
                recorded_at: at(99),
                latest_recorded: at(100)
            }
        );
        assert!(
            error.to_string().contains("the clock went backwards"),
            "{error}"
        );
        assert_eq!(ledger, before);
        // The same instant is not backwards.
        ledger
            .record(change(customer(2), TrainingLevel::Shared, at(200)), at(100))
            .unwrap();
    }

    #[test]
    fn a_change_under_an_unknown_policy_version_is_refused() {
        let mut ledger = new_ledger();
        let mut unknown = change(customer(1), TrainingLevel::Shared, at(1));
        unknown.policy_version = "2024-01-01".parse().unwrap();
        let error = record_now(&mut ledger, unknown).unwrap_err();
        assert_eq!(
            error,
            ConsentError::UnknownPolicyVersion {
                version: "2024-01-01".parse().unwrap()
            }
        );
        assert_eq!(error.to_string(), "unknown policy version `2024-01-01`");
        assert_eq!(ledger, new_ledger());
    }

    #[test]
    fn admin_bases_are_kept_per_change_and_exported() {
        let mut ledger = new_ledger();
        let alice = customer(1);
        for (n, basis) in [(1, "TICKET-1"), (2, "TICKET-2"), (3, "TICKET-1")] {
            ledger
                .record(
                    ConsentChange::new(
                        alice,
                        TrainingLevel::Private,
                        at(n),
                        admin("dana", basis),
                        Channel::SupportRequest,
                        "2025-03-05".parse().unwrap(),
                    ),
                    at(n),
                )
                .unwrap();
        }
        assert_eq!(ledger.admins.values.len(), 2);
        let bases: Vec<_> = ledger
            .history(alice)
            .map(|receipt| receipt.actor.to_string())
            .collect();
        assert_eq!(
            bases,
            [
                "admin:dana:TICKET-1",
                "admin:dana:TICKET-2",
                "admin:dana:TICKET-1"
            ]
        );
        let json = ledger.to_json().unwrap();
        assert!(json.contains(r#""actor":"admin:dana:TICKET-2""#), "{json}");
        assert_eq!(ConsentLedger::from_json(&json, known()).unwrap(), ledger);
    }

    #[test]
    fn heap_estimate_grows_with_changes() {
        let mut ledger = new_ledger();
        let empty = ledger.approximate_heap_bytes();
        for n in 1..=50 {
            record_now(
                &mut ledger,
                change(customer(n), TrainingLevel::Shared, at(1)),
            )
            .unwrap();
        }
        assert!(ledger.approximate_heap_bytes() > empty + 50 * size_of::<Entry>());
    }

    #[test]
    fn presized_ledger_does_not_grow_its_table() {
        let mut ledger = ConsentLedger::with_capacity(known(), 100);
        let capacity = ledger.customers.capacity();
        for n in 1..=100 {
            record_now(
                &mut ledger,
                change(customer(n), TrainingLevel::Private, at(1)),
            )
            .unwrap();
        }
        assert_eq!(ledger.customers.capacity(), capacity);
        assert_eq!(ledger.customer_count(), 100);
    }

    #[test]
    fn debug_shows_counts_not_customers() {
        let mut ledger = new_ledger();
        record_now(
            &mut ledger,
            change(customer(1), TrainingLevel::Shared, at(1)),
        )
        .unwrap();
        let debug = format!("{ledger:?}");
        assert!(debug.contains("changes: 1"), "{debug}");
        assert!(!debug.contains("0192f1f0"), "{debug}");
    }
}
