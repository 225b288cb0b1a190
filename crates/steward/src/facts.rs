//! What `check()` needs to know about the world, behind one small trait.

use std::sync::atomic::{AtomicU64, Ordering};

use steward_consent::{ConsentLedger, InteractiveChoice, InteractiveLedger, TrainingLevel};
use steward_core::{CustomerId, StewardId, Timestamp};
use steward_logs::{BoxError, RosterChange, StewardRoster};
use steward_retention::{HoldRegister, HoldSource, LegalHold, Relationship, RelationshipBook};

/// The state [`crate::Policy::check`] reads: consent history, customer relationships, the
/// steward roster and legal holds.
///
/// Implement it over your own stores (a database, a cache); [`MemoryFacts`] is the reference
/// implementation over the in-memory types of Steward. `check()` calls these methods on its
/// hot path, so they should not allocate or block for long.
pub trait Facts {
    /// The training level in force for `customer` at `instant` (`training.default-off`
    /// before any change).
    fn training_level_at(&self, customer: CustomerId, instant: Timestamp) -> TrainingLevel;

    /// The relationship of `customer` whose `[started_at, ended_at)` contains `instant`.
    fn relationship_containing(
        &self,
        customer: CustomerId,
        instant: Timestamp,
    ) -> Option<Relationship>;

    /// Whether `customer` has any relationship on record, ended or not. A customer without
    /// one is no customer of the policy's: `check()` denies use of their data with
    /// [`DenyReason::NoRelationship`](crate::DenyReason::NoRelationship), not as data past its
    /// retention.
    fn has_relationship_on_record(&self, customer: CustomerId) -> bool;

    /// The customer's choice about interactive features in force at `instant`
    /// (`use.purposes`: "when you choose to do so"). The default answers
    /// [`InteractiveChoice::OptedOut`] for everyone, so facts that keep no such choices deny
    /// every use for interactive features (fail closed).
    fn interactive_choice_at(&self, customer: CustomerId, instant: Timestamp) -> InteractiveChoice {
        let _ = (customer, instant);
        InteractiveChoice::OptedOut
    }

    /// Whether `steward` is on the roster of data stewards (`logs.access`).
    fn is_on_roster(&self, steward: &StewardId) -> bool;

    /// Calls `visit` with every legal hold that may cover data of `customer` (more is
    /// fine; a standing hold must not be left out).
    fn visit_holds(&self, customer: CustomerId, visit: &mut dyn FnMut(&LegalHold));

    /// The newest instant at which a fact change was recorded, if the facts know it: a
    /// [`Vault`](crate::Vault) never decides (nor dates an audit entry) before it, so a
    /// clock set back after a relationship ended cannot open its logs "before" the end.
    /// The default knows none.
    fn newest_fact_instant(&self) -> Option<Timestamp> {
        None
    }
}

/// [`Facts`] whose steward roster a [`Vault`](crate::Vault) maintains.
///
/// `logs.access`: the roster decides who may see plaintext, so it changes only through
/// [`Vault::add_steward`](crate::Vault::add_steward) and
/// [`Vault::remove_steward`](crate::Vault::remove_steward), which audit each change before
/// applying it. An [`AuditedRosterChange`] can only be made by the vault, so an
/// implementation cannot be handed a change that skipped the trail.
pub trait RosterFacts: Facts {
    /// How many stewards are on the roster.
    fn roster_len(&self) -> usize;

    /// This facts value's identity: made with [`FactsIdentity::new`] when the value is built,
    /// and anew for each clone. The vault compares it around
    /// [`Vault::update_facts`](crate::Vault::update_facts), so that a change that replaced the
    /// whole value (and with it the roster, past the audit) is found, and the vault fails
    /// closed.
    fn identity(&self) -> FactsIdentity;

    /// Applies a roster change the vault has audited (and, for facts kept in a store, makes
    /// it durable before it applies in memory).
    ///
    /// # Errors
    ///
    /// Whatever kept the change from being stored; nothing changed then.
    fn apply_roster_change(&mut self, change: &AuditedRosterChange) -> Result<(), BoxError>;

    /// Brings the roster up to date before the vault decides a roster change on it (whether
    /// the steward is on it, whether it is full). Facts shared by several nodes read the
    /// changes other nodes made, and refuse when they cannot answer (the store out of reach,
    /// memory known to differ from it), so that a change is never decided on a stale roster
    /// or reported as needless when it was not. The default does nothing: facts kept by one
    /// process are up to date.
    ///
    /// # Errors
    ///
    /// Whatever kept the roster from being brought up to date; the vault then changes
    /// nothing.
    fn refresh_roster(&mut self) -> Result<(), BoxError> {
        Ok(())
    }

    /// Tells the facts the instant the vault's audit trail would date its next entry, before
    /// the vault lets a change through [`Vault::update_facts`](crate::Vault::update_facts):
    /// facts that date their changes themselves record them no earlier. The default ignores
    /// it (facts changed by hand are dated by whoever changes them).
    fn observe_audit_instant(&mut self, instant: Timestamp) {
        let _unused = instant;
    }
}

/// Which facts value a vault holds: unique to one value (a clone gets its own), so that
/// replacing the value inside [`Vault::update_facts`](crate::Vault::update_facts) is found.
///
/// ```
/// use steward::FactsIdentity;
///
/// assert_ne!(FactsIdentity::new(), FactsIdentity::new());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FactsIdentity(u64);

impl FactsIdentity {
    /// An identity no other value in this process has.
    #[must_use]
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl Default for FactsIdentity {
    fn default() -> Self {
        Self::new()
    }
}

/// A roster change that is already in the audit trail; only a [`Vault`](crate::Vault)
/// makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditedRosterChange(RosterChange);

impl AuditedRosterChange {
    pub(crate) const fn new(change: RosterChange) -> Self {
        Self(change)
    }

    /// The change.
    #[must_use]
    pub const fn change(&self) -> &RosterChange {
        &self.0
    }
}

/// [`Facts`] held in memory: a consent ledger, a relationship book, a steward roster, a
/// hold register and the choices about interactive features.
///
/// Consent, relationships and holds are public fields (each keeps its own history); the
/// roster is read-only here and changes through the [`Vault`](crate::Vault) that owns these
/// facts, which audits every change.
#[derive(Debug)]
pub struct MemoryFacts {
    /// Training preferences, append-only.
    pub consent: ConsentLedger,
    /// Customer relationships.
    pub relationships: RelationshipBook,
    /// Legal holds, with their history.
    pub holds: HoldRegister,
    /// Choices about interactive features, append-only (`use.purposes`).
    pub interactive: InteractiveLedger,
    roster: StewardRoster,
    identity: FactsIdentity,
}

impl Clone for MemoryFacts {
    /// A copy with an identity of its own: a vault holding the original does not take the
    /// copy for its own facts (see [`RosterFacts::identity`]).
    fn clone(&self) -> Self {
        Self {
            consent: self.consent.clone(),
            relationships: self.relationships.clone(),
            holds: self.holds.clone(),
            interactive: self.interactive.clone(),
            roster: self.roster.clone(),
            identity: FactsIdentity::new(),
        }
    }
}

impl MemoryFacts {
    /// Empty facts: a consent ledger that accepts the policy's
    /// [known versions](crate::Policy::known_versions), and an empty roster of at most the
    /// policy's number of stewards.
    #[must_use]
    pub fn new(policy: &crate::Policy) -> Self {
        Self {
            consent: ConsentLedger::new(policy.known_versions().clone()),
            relationships: RelationshipBook::new(),
            holds: HoldRegister::new(),
            interactive: InteractiveLedger::new(policy.known_versions().clone()),
            roster: StewardRoster::new(policy.max_stewards()),
            identity: FactsIdentity::new(),
        }
    }

    /// The data stewards.
    #[must_use]
    pub const fn roster(&self) -> &StewardRoster {
        &self.roster
    }
}

impl RosterFacts for MemoryFacts {
    fn roster_len(&self) -> usize {
        self.roster.len()
    }

    fn identity(&self) -> FactsIdentity {
        self.identity
    }

    fn apply_roster_change(&mut self, change: &AuditedRosterChange) -> Result<(), BoxError> {
        match change.change() {
            // The vault checked the policy's bound before auditing; the roster's own capacity
            // is the same bound, so this is refused only for a roster built smaller.
            RosterChange::Added(steward) => self.roster.add(steward.clone())?,
            RosterChange::Removed(steward) => {
                self.roster.remove(steward);
            }
            // As the stores do: a change this build cannot apply is refused, never audited
            // and then silently ignored.
            _ => return Err("a kind of roster change this build does not know".into()),
        }
        Ok(())
    }
}

impl Facts for MemoryFacts {
    fn training_level_at(&self, customer: CustomerId, instant: Timestamp) -> TrainingLevel {
        self.consent.level_at(customer, instant)
    }

    fn relationship_containing(
        &self,
        customer: CustomerId,
        instant: Timestamp,
    ) -> Option<Relationship> {
        self.relationships.containing(customer, instant).copied()
    }

    fn has_relationship_on_record(&self, customer: CustomerId) -> bool {
        !self.relationships.relationships(customer).is_empty()
    }

    fn interactive_choice_at(&self, customer: CustomerId, instant: Timestamp) -> InteractiveChoice {
        self.interactive.choice_at(customer, instant)
    }

    fn is_on_roster(&self, steward: &StewardId) -> bool {
        self.roster.contains(steward)
    }

    fn visit_holds(&self, customer: CustomerId, visit: &mut dyn FnMut(&LegalHold)) {
        self.holds.visit_holds(customer, visit);
    }

    fn newest_fact_instant(&self) -> Option<Timestamp> {
        self.consent
            .latest_recorded()
            .max(self.relationships.latest_recorded())
    }
}

impl<T: Facts + ?Sized> Facts for &T {
    fn training_level_at(&self, customer: CustomerId, instant: Timestamp) -> TrainingLevel {
        (**self).training_level_at(customer, instant)
    }

    fn relationship_containing(
        &self,
        customer: CustomerId,
        instant: Timestamp,
    ) -> Option<Relationship> {
        (**self).relationship_containing(customer, instant)
    }

    fn has_relationship_on_record(&self, customer: CustomerId) -> bool {
        (**self).has_relationship_on_record(customer)
    }

    fn interactive_choice_at(&self, customer: CustomerId, instant: Timestamp) -> InteractiveChoice {
        (**self).interactive_choice_at(customer, instant)
    }

    fn is_on_roster(&self, steward: &StewardId) -> bool {
        (**self).is_on_roster(steward)
    }

    fn visit_holds(&self, customer: CustomerId, visit: &mut dyn FnMut(&LegalHold)) {
        (**self).visit_holds(customer, visit);
    }

    fn newest_fact_instant(&self) -> Option<Timestamp> {
        (**self).newest_fact_instant()
    }
}
