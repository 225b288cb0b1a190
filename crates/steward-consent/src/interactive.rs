//! The customer's choice to take part in interactive features (`use.purposes`: "interactive
//! features of our Service when you choose to do so"): recorded with a receipt like a training
//! preference, withdrawable, with its history.

use std::{fmt, num::NonZeroU32};

use serde::{Deserialize, Serialize};
use steward_core::{ClauseId, CustomerId, CustomerMap, PolicyVersion, Timestamp};

use crate::{Channel, ConsentActor, ConsentError, KnownPolicyVersions, ReceiptId};

/// Whether a customer takes part in interactive features.
///
/// [`OptedOut`](Self::OptedOut) is also where every customer starts: use for interactive
/// features needs the customer's own choice (`use.purposes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum InteractiveChoice {
    /// The customer chose to take part.
    OptedIn,
    /// The customer never chose to, or withdrew.
    OptedOut,
}

impl InteractiveChoice {
    /// Whether this choice lets data serve interactive features.
    #[must_use]
    pub const fn is_opted_in(self) -> bool {
        matches!(self, Self::OptedIn)
    }
}

impl fmt::Display for InteractiveChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OptedIn => "opted-in",
            Self::OptedOut => "opted-out",
        })
    }
}

/// A choice about interactive features to record: whose, which, from when, who made it,
/// through which channel, and the policy version in force (`policy.versioned`). When it is
/// recorded is not part of the change: [`InteractiveLedger::record`] takes it from the caller.
///
/// ```
/// use steward_consent::{Channel, ConsentActor, InteractiveChange, InteractiveChoice};
///
/// let change = InteractiveChange::new(
///     "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?,
///     InteractiveChoice::OptedIn,
///     "2025-06-01T09:30:00Z".parse()?,
///     ConsentActor::Customer,
///     Channel::AccountSettings,
///     "2025-03-05".parse()?,
/// );
/// assert!(change.choice.is_opted_in());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct InteractiveChange {
    /// Whose choice.
    pub customer: CustomerId,
    /// The choice.
    pub choice: InteractiveChoice,
    /// From which instant on it is in force (inclusive); not before it is recorded.
    pub effective: Timestamp,
    /// Who made it.
    pub actor: ConsentActor,
    /// Through which channel it came.
    pub channel: Channel,
    /// The policy version in force when it was made; one of the ledger's known versions.
    pub policy_version: PolicyVersion,
}

impl InteractiveChange {
    /// `customer`'s `choice`, in force from `effective` on.
    #[must_use]
    pub const fn new(
        customer: CustomerId,
        choice: InteractiveChoice,
        effective: Timestamp,
        actor: ConsentActor,
        channel: Channel,
        policy_version: PolicyVersion,
    ) -> Self {
        Self {
            customer,
            choice,
            effective,
            actor,
            channel,
            policy_version,
        }
    }
}

/// Proof of one recorded choice about interactive features: who chose what, when it was
/// recorded and from when it is in force, how, under which policy version, and which choices
/// scheduled after it it cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct InteractiveReceipt {
    /// The receipt number, unique within the ledger.
    pub receipt: ReceiptId,
    /// Whose choice.
    pub customer: CustomerId,
    /// The choice from [`effective`](Self::effective) on.
    pub choice: InteractiveChoice,
    /// The choice in force just before `effective` (opted out before any choice).
    pub previous_choice: InteractiveChoice,
    /// When the ledger recorded it.
    pub recorded_at: Timestamp,
    /// From which instant on it is in force (inclusive); at or after `recorded_at`.
    pub effective: Timestamp,
    /// Who made it.
    pub actor: ConsentActor,
    /// Through which channel it came.
    pub channel: Channel,
    /// The policy version in force when it was made (`policy.versioned`).
    pub policy_version: PolicyVersion,
    /// The choices recorded earlier but scheduled to take effect after this one, which this
    /// one cancelled: the newest decision of the customer wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancels: Vec<ReceiptId>,
}

impl InteractiveReceipt {
    /// The clause the choice concerns: `use.purposes`.
    #[must_use]
    pub const fn clause(&self) -> ClauseId {
        ClauseId::UsePurposes
    }
}

/// One choice in a customer's history, and the later choice that cancelled it before it took
/// effect, if one did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InteractiveEntry {
    /// The receipt of the choice.
    pub receipt: InteractiveReceipt,
    /// The receipt of the choice that cancelled it, if any: a cancelled choice never took
    /// effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<ReceiptId>,
}

/// The append-only ledger of every customer's choices about interactive features.
///
/// - [`record`](Self::record) appends a choice recorded at the caller's instant. Refused,
///   leaving the ledger as it was: a choice that would take effect before it is recorded, one
///   recorded before the ledger's newest recording (the clock went backwards), one naming an
///   unknown policy version.
/// - A choice recorded now cancels every earlier choice of the customer scheduled to take
///   effect after it (a withdrawal now also stops an opt-in scheduled for next week), with the
///   cancellation in both receipts' history.
/// - [`choice_at`](Self::choice_at) answers which choice is in force at an instant, without
///   allocating; before any choice a customer is [`InteractiveChoice::OptedOut`].
///
/// ```
/// use steward_consent::{
///     Channel, ConsentActor, InteractiveChange, InteractiveChoice, InteractiveLedger,
///     KnownPolicyVersions,
/// };
///
/// let version: steward_core::PolicyVersion = "2025-03-05".parse()?;
/// let mut ledger = InteractiveLedger::new(KnownPolicyVersions::new(version.clone()));
/// let alice = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// let june = "2025-06-01T00:00:00Z".parse()?;
/// let choice = |choice, at| {
///     let actor = ConsentActor::Customer;
///     InteractiveChange::new(alice, choice, at, actor, Channel::Api, version.clone())
/// };
/// ledger.record(choice(InteractiveChoice::OptedIn, june), june)?;
/// assert!(ledger.choice_at(alice, june).is_opted_in());
/// assert!(!ledger.choice_at(alice, "2025-05-31T00:00:00Z".parse()?).is_opted_in());
///
/// let july = "2025-07-01T00:00:00Z".parse()?;
/// ledger.record(choice(InteractiveChoice::OptedOut, july), july)?;
/// assert_eq!(ledger.choice_at(alice, july), InteractiveChoice::OptedOut);
/// assert_eq!(ledger.history(alice).len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct InteractiveLedger {
    customers: CustomerMap<Vec<InteractiveEntry>>,
    known_versions: KnownPolicyVersions,
    next_receipt: NonZeroU32,
    latest_recorded: Option<Timestamp>,
}

impl InteractiveLedger {
    /// An empty ledger accepting choices that name one of `known_versions`: every customer is
    /// opted out.
    #[must_use]
    pub fn new(known_versions: KnownPolicyVersions) -> Self {
        Self {
            customers: CustomerMap::default(),
            known_versions,
            next_receipt: NonZeroU32::MIN,
            latest_recorded: None,
        }
    }

    /// The newest instant at which a choice was recorded, if any.
    #[must_use]
    pub const fn latest_recorded(&self) -> Option<Timestamp> {
        self.latest_recorded
    }

    /// Appends a choice recorded at `recorded_at` and returns its receipt.
    ///
    /// # Errors
    ///
    /// The ledger is unchanged after any error.
    /// - [`ConsentError::UnknownPolicyVersion`] if the choice names an unknown version.
    /// - [`ConsentError::ClockWentBackwards`] if `recorded_at` is before the newest recording.
    /// - [`ConsentError::Backdated`] if the choice would take effect before `recorded_at`.
    /// - [`ConsentError::ReceiptsExhausted`] after 2^32 - 2 receipts.
    pub fn record(
        &mut self,
        change: InteractiveChange,
        recorded_at: Timestamp,
    ) -> Result<InteractiveReceipt, ConsentError> {
        if !self.known_versions.contains(&change.policy_version) {
            return Err(ConsentError::UnknownPolicyVersion {
                version: change.policy_version,
            });
        }
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
        let receipt = self.next_receipt;
        let next_receipt = receipt
            .checked_add(1)
            .ok_or(ConsentError::ReceiptsExhausted)?;
        let id = ReceiptId::from_number(receipt);
        let entries = self.customers.entry(change.customer).or_default();
        let previous_choice = in_force(entries, effective);
        let mut cancels = Vec::new();
        for entry in entries.iter_mut() {
            if entry.cancelled_by.is_none() && entry.receipt.effective > effective {
                entry.cancelled_by = Some(id);
                cancels.push(entry.receipt.receipt);
            }
        }
        let issued = InteractiveReceipt {
            receipt: id,
            customer: change.customer,
            choice: change.choice,
            previous_choice,
            recorded_at,
            effective,
            actor: change.actor,
            channel: change.channel,
            policy_version: change.policy_version,
            cancels,
        };
        entries.push(InteractiveEntry {
            receipt: issued.clone(),
            cancelled_by: None,
        });
        self.next_receipt = next_receipt;
        self.latest_recorded = Some(recorded_at);
        Ok(issued)
    }

    /// The choice in force for `customer` at `instant`: the newest uncancelled choice in
    /// force from `instant` or earlier, or [`InteractiveChoice::OptedOut`]. Allocation-free.
    #[must_use]
    pub fn choice_at(&self, customer: CustomerId, instant: Timestamp) -> InteractiveChoice {
        self.customers
            .get(&customer)
            .map_or(InteractiveChoice::OptedOut, |entries| {
                in_force(entries, instant)
            })
    }

    /// `customer`'s choices in the order they were recorded, cancelled ones included.
    #[must_use]
    pub fn history(&self, customer: CustomerId) -> &[InteractiveEntry] {
        self.customers.get(&customer).map_or(&[], Vec::as_slice)
    }

    /// Discards every receipt of `customer` (as [`ConsentLedger::discard_customer`] does for
    /// training consent): the customer is then opted out at every instant. Returns how many
    /// receipts were discarded.
    ///
    /// [`ConsentLedger::discard_customer`]: crate::ConsentLedger::discard_customer
    pub fn discard_customer(&mut self, customer: CustomerId) -> usize {
        self.customers
            .remove(&customer)
            .map_or(0, |entries| entries.len())
    }

    /// How many customers made at least one choice.
    #[must_use]
    pub fn customer_count(&self) -> usize {
        self.customers.len()
    }
}

/// The choice in force at `instant` among `entries`: uncancelled entries take effect in the
/// order they were recorded (a choice cancels every earlier one scheduled after it), so the
/// newest one in force by `instant` decides.
fn in_force(entries: &[InteractiveEntry], instant: Timestamp) -> InteractiveChoice {
    entries
        .iter()
        .rev()
        .find(|entry| entry.cancelled_by.is_none() && entry.receipt.effective <= instant)
        .map_or(InteractiveChoice::OptedOut, |entry| entry.receipt.choice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn ledger() -> InteractiveLedger {
        InteractiveLedger::new(KnownPolicyVersions::new("2025-03-05".parse().unwrap()))
    }

    fn change(choice: InteractiveChoice, effective: &str) -> InteractiveChange {
        InteractiveChange::new(
            "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse().unwrap(),
            choice,
            at(effective),
            ConsentActor::Customer,
            Channel::AccountSettings,
            "2025-03-05".parse().unwrap(),
        )
    }

    #[test]
    fn nobody_is_opted_in_before_choosing() {
        let ledger = ledger();
        let alice = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse().unwrap();
        assert_eq!(
            ledger.choice_at(alice, at("2030-01-01T00:00:00Z")),
            InteractiveChoice::OptedOut
        );
        assert!(ledger.history(alice).is_empty());
    }

    #[test]
    fn a_withdrawal_now_cancels_an_opt_in_scheduled_later() {
        let mut ledger = ledger();
        let opt_in = ledger
            .record(
                change(InteractiveChoice::OptedIn, "2025-09-01T00:00:00Z"),
                at("2025-06-01T00:00:00Z"),
            )
            .unwrap();
        let withdrawal = ledger
            .record(
                change(InteractiveChoice::OptedOut, "2025-07-01T00:00:00Z"),
                at("2025-07-01T00:00:00Z"),
            )
            .unwrap();
        assert_eq!(withdrawal.cancels, [opt_in.receipt]);
        let alice = opt_in.customer;
        assert_eq!(
            ledger.choice_at(alice, at("2025-10-01T00:00:00Z")),
            InteractiveChoice::OptedOut
        );
        let history = ledger.history(alice);
        assert_eq!(history.len(), 2);
        assert_eq!(
            history.first().unwrap().cancelled_by,
            Some(withdrawal.receipt)
        );
    }

    #[test]
    fn a_backdated_choice_is_refused_and_changes_nothing() {
        let mut ledger = ledger();
        let refused = ledger.record(
            change(InteractiveChoice::OptedIn, "2025-05-01T00:00:00Z"),
            at("2025-06-01T00:00:00Z"),
        );
        assert!(matches!(refused, Err(ConsentError::Backdated { .. })));
        assert_eq!(ledger.customer_count(), 0);
    }

    #[test]
    fn receipts_record_the_previous_choice() {
        let mut ledger = ledger();
        let first = ledger
            .record(
                change(InteractiveChoice::OptedIn, "2025-06-01T00:00:00Z"),
                at("2025-06-01T00:00:00Z"),
            )
            .unwrap();
        assert_eq!(first.previous_choice, InteractiveChoice::OptedOut);
        let second = ledger
            .record(
                change(InteractiveChoice::OptedOut, "2025-06-02T00:00:00Z"),
                at("2025-06-02T00:00:00Z"),
            )
            .unwrap();
        assert_eq!(second.previous_choice, InteractiveChoice::OptedIn);
        assert!(second.receipt > first.receipt);
    }
}
