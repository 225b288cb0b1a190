//! What `check()` answers: allow or deny, the clauses that decided, and the obligations.

use std::fmt;

use serde::{Serialize, Serializer, ser::SerializeSeq};
use steward_core::{ClauseId, DataCategory, Purpose, Timestamp, TrainingScope};

use steward_core::TrainingLevel;

/// The answer to one request: whether it may proceed, the policy clauses behind the answer,
/// and what the caller must do if it proceeds.
///
/// Every decision names the one clause that decided it ([`decisive`](Self::decisive)): for a
/// deny the rule that failed, for an allow the clause that grants it. Clauses that support the
/// answer without deciding it ([`supporting`](Self::supporting)) are listed apart, so an audit
/// trail or a person reading the answer sees the reason first. A deny also carries a
/// [`DenyReason`]; an allow carries its [`Obligation`]s. [`Policy::check`](crate::Policy::check)
/// says which clause decides each kind of allow and deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Decision {
    effect: Effect,
    decisive: ClauseId,
    supporting: ClauseSet,
    obligations: Obligations,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<DenyReason>,
}

impl Decision {
    pub(crate) fn allow(citations: Citations, obligations: Obligations) -> Self {
        Self {
            effect: Effect::Allow,
            decisive: citations.decisive,
            supporting: citations.supporting,
            obligations,
            reason: None,
        }
    }

    pub(crate) fn deny(clause: ClauseId, reason: DenyReason) -> Self {
        Self::deny_citing(Citations::decided_by(clause), reason)
    }

    pub(crate) fn deny_citing(citations: Citations, reason: DenyReason) -> Self {
        Self {
            effect: Effect::Deny,
            decisive: citations.decisive,
            supporting: citations.supporting,
            obligations: Obligations::NONE,
            reason: Some(reason),
        }
    }

    /// A deny of a request that could not be evaluated (the policy fails closed).
    pub(crate) fn cannot_evaluate(problem: crate::EvaluationProblem) -> Self {
        // logs.retention: what cannot be placed in time cannot be shown to be within retention.
        Self::deny(
            ClauseId::LogsRetention,
            DenyReason::CannotEvaluate { problem },
        )
    }

    /// Whether the request may proceed.
    #[must_use]
    pub const fn effect(&self) -> Effect {
        self.effect
    }

    /// `true` if the request may proceed (with its obligations).
    #[must_use]
    pub const fn is_allowed(&self) -> bool {
        matches!(self.effect, Effect::Allow)
    }

    /// The clause that decided: for a deny, the rule the request failed; for an allow, the
    /// clause that grants it. Audit entries and the `steward` command cite this one.
    #[must_use]
    pub const fn decisive(&self) -> ClauseId {
        self.decisive
    }

    /// The clauses that support the decision without deciding it (the category's collection
    /// clause beside `use.purposes`, `training.forward-only` beside a training opt-in, ...);
    /// never the [`decisive`](Self::decisive) clause. Often empty.
    #[must_use]
    pub const fn supporting(&self) -> ClauseSet {
        self.supporting
    }

    /// Every clause the decision cites: the [`decisive`](Self::decisive) one first, then the
    /// [`supporting`](Self::supporting) ones.
    #[must_use]
    pub const fn clauses(&self) -> Citations {
        Citations {
            decisive: self.decisive,
            supporting: self.supporting,
        }
    }

    /// What the caller must do when it acts on an allow; empty for a deny.
    pub fn obligations(&self) -> impl Iterator<Item = Obligation> + '_ {
        self.obligations.iter()
    }

    /// Why the request was denied; `None` for an allow.
    #[must_use]
    pub const fn reason(&self) -> Option<DenyReason> {
        self.reason
    }
}

impl fmt::Display for Decision {
    /// `allow [logs.access] (supporting: logs.purposes, logs.encrypted); must audit this
    /// access`, or `deny [use.purposes]: purpose `marketing` is not listed for this action`:
    /// the decisive clause in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.effect {
            Effect::Allow => f.write_str("allow")?,
            Effect::Deny => f.write_str("deny")?,
        }
        write!(f, " [{}]", self.decisive)?;
        write_supporting(f, self.supporting)?;
        if let Some(reason) = self.reason {
            write!(f, ": {reason}")?;
        }
        for obligation in self.obligations() {
            write!(f, "; must {obligation}")?;
        }
        Ok(())
    }
}

/// The clauses a [`Decision`] cites: the one that decided, then those that support it.
///
/// ```
/// use steward::{DataRef, MemoryFacts, Policy, Request, vocabulary::{ClauseId, DataCategory, Purpose}};
///
/// let policy = Policy::coder_model();
/// let mut facts = MemoryFacts::new(&policy);
/// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// facts.relationships.start(customer, "2025-01-01T00:00:00Z".parse()?)?;
/// let email = DataRef::new(DataCategory::Email, customer, "2025-01-02T00:00:00Z".parse()?);
/// let request = Request::use_data(Purpose::CustomerCare, email, "2025-06-01T12:00:00Z".parse()?);
///
/// let cited = policy.check(&request, &facts).clauses();
/// assert_eq!(cited.decisive(), ClauseId::UsePurposes);
/// assert_eq!(
///     cited.iter().collect::<Vec<_>>(),
///     [ClauseId::UsePurposes, ClauseId::CollectPersonal]
/// );
/// assert_eq!(cited.to_string(), "use.purposes (supporting: collect.personal)");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Citations {
    decisive: ClauseId,
    /// Never holds `decisive`.
    supporting: ClauseSet,
}

impl Citations {
    /// Cites `decisive` alone.
    pub(crate) const fn decided_by(decisive: ClauseId) -> Self {
        Self {
            decisive,
            supporting: ClauseSet::EMPTY,
        }
    }

    /// These citations with `clauses` supporting too; the decisive clause stays decisive.
    pub(crate) const fn supported_by(self, clauses: ClauseSet) -> Self {
        Self {
            decisive: self.decisive,
            supporting: self.supporting.union(clauses).without(self.decisive),
        }
    }

    /// The clause that decided.
    #[must_use]
    pub const fn decisive(self) -> ClauseId {
        self.decisive
    }

    /// The clauses that support the decision, without the decisive one.
    #[must_use]
    pub const fn supporting(self) -> ClauseSet {
        self.supporting
    }

    /// Whether `clause` is cited, decisive or supporting.
    #[must_use]
    pub fn contains(self, clause: ClauseId) -> bool {
        self.decisive == clause || self.supporting.contains(clause)
    }

    /// The decisive clause, then the supporting ones in [`ClauseId::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = ClauseId> {
        std::iter::once(self.decisive).chain(self.supporting.iter())
    }
}

impl fmt::Debug for Citations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl fmt::Display for Citations {
    /// `logs.access (supporting: logs.purposes, logs.encrypted)`, or the decisive clause alone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.decisive.as_str())?;
        write_supporting(f, self.supporting)
    }
}

fn write_supporting(f: &mut fmt::Formatter<'_>, supporting: ClauseSet) -> fmt::Result {
    if supporting.is_empty() {
        return Ok(());
    }
    write!(f, " (supporting: {supporting})")
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// The request may proceed, with the decision's obligations.
    Allow,
    /// The request must not proceed.
    Deny,
}

/// A set of policy clauses, stored as a bit set so that building a decision never allocates.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClauseSet(u32);

impl ClauseSet {
    /// The empty set.
    pub const EMPTY: Self = Self(0);

    /// The set holding one clause.
    #[must_use]
    pub const fn of(clause: ClauseId) -> Self {
        Self::EMPTY.with(clause)
    }

    /// This set plus `clause`.
    #[must_use]
    pub const fn with(self, clause: ClauseId) -> Self {
        Self(self.0 | bit(clause))
    }

    /// Every clause in either set.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// This set without `clause`.
    pub(crate) const fn without(self, clause: ClauseId) -> Self {
        Self(self.0 & !bit(clause))
    }

    /// Whether `clause` is in the set.
    #[must_use]
    pub const fn contains(self, clause: ClauseId) -> bool {
        self.0 & bit(clause) != 0
    }

    /// The number of clauses in the set.
    #[must_use]
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The clauses in [`ClauseId::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = ClauseId> {
        ClauseId::ALL
            .iter()
            .copied()
            .filter(move |clause| self.contains(*clause))
    }
}

const fn bit(clause: ClauseId) -> u32 {
    // ClauseId has 14 values, so every discriminant fits a u32 bit.
    1 << (clause as u32)
}

impl fmt::Debug for ClauseSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for ClauseSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, clause) in self.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            f.write_str(clause.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for ClauseSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for clause in self.iter() {
            seq.serialize_element(&clause)?;
        }
        seq.end()
    }
}

/// Something the caller must carry out when it acts on an allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "obligation", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Obligation {
    /// `logs.access`: write an audit entry for this access before any plaintext is used
    /// ([`Vault::open`](crate::Vault::open) does this itself).
    AuditAccess,
    /// `logs.retention`: the data must be deleted before this instant (exclusive deadline).
    DeleteBy {
        /// The instant at which the data is due.
        deadline: Timestamp,
    },
    /// `logs.retention`: the data must be deleted now; it may only be kept because a legal
    /// hold stands, and only until the hold ends.
    DeleteWhenHoldEnds,
}

impl fmt::Display for Obligation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuditAccess => f.write_str("audit this access"),
            Self::DeleteBy { deadline } => write!(f, "delete before {deadline}"),
            Self::DeleteWhenHoldEnds => f.write_str("delete when the legal hold ends"),
        }
    }
}

/// The obligations of a decision. Today at most one ever applies; a fixed-size value keeps
/// `check()` free of allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Obligations(Option<Obligation>);

impl Obligations {
    pub(crate) const NONE: Self = Self(None);

    pub(crate) const fn one(obligation: Obligation) -> Self {
        Self(Some(obligation))
    }

    fn iter(&self) -> impl Iterator<Item = Obligation> + '_ {
        self.0.iter().copied()
    }
}

impl Serialize for Obligations {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// Why a request was denied. The decision's clauses say which promise; this says what about
/// the request broke it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DenyReason {
    /// This kind of actor may not take this kind of action at all (a customer acts on their
    /// own preferences, not as a user of data; only a training pipeline trains; only
    /// stewards open logs).
    ActorMayNotAct,
    /// The purpose is not one the policy lists for this action.
    PurposeNotListed {
        /// The purpose asked for.
        purpose: Purpose,
    },
    /// The policy does not let this category of data serve this purpose.
    PurposeNotAllowedForCategory {
        /// The purpose asked for.
        purpose: Purpose,
        /// The category of the data.
        category: DataCategory,
    },
    /// Log records are opened only through steward access (`logs.access`), never used
    /// directly, and only log records can be opened that way.
    WrongPathForCategory {
        /// The category of the data.
        category: DataCategory,
    },
    /// The steward is not on the roster.
    NotOnRoster,
    /// No justification was given for opening a log.
    MissingJustification,
    /// The consent in force for this data does not permit this training scope.
    ConsentDoesNotPermit {
        /// The level that applies to the data.
        level: TrainingLevel,
        /// The scope asked for.
        scope: TrainingScope,
    },
    /// A private-scope job for one customer asked for another customer's data.
    PrivateScopeOfAnotherCustomer,
    /// The consent level comes from a sealed record's header that has not authenticated
    /// yet; decide again on the opened record.
    ConsentUnverified,
    /// The data is past its retention deadline or awaiting deletion: it serves nothing.
    RetentionEnded,
    /// The data is kept only by a legal hold, which permits no use by itself.
    KeptOnlyByLegalHold,
    /// A consent record whose relationship has ended (or recorded outside every relationship
    /// of its customer): kept for the policy's proof period
    /// ([`Policy::consent_proof_period`](crate::Policy::consent_proof_period)) only as proof
    /// of what the customer agreed to, never used for anything else.
    KeptOnlyAsProof,
    /// The data's customer has no relationship on record at all: nothing the policy grants
    /// its customers applies to it. Not a retention matter (no relationship ever ended), so
    /// the clause that would have granted the request is cited.
    NoRelationship,
    /// Use for interactive features, which the customer has not opted in to at the instant
    /// of the request (`use.purposes`: "when you choose to do so").
    InteractiveNotOptedIn,
    /// The request could not be evaluated; denied because the policy fails closed.
    CannotEvaluate {
        /// What could not be evaluated.
        problem: EvaluationProblem,
    },
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ActorMayNotAct => f.write_str("this actor may not take this action"),
            Self::PurposeNotListed { purpose } => {
                write!(f, "purpose `{purpose}` is not listed for this action")
            }
            Self::PurposeNotAllowedForCategory { purpose, category } => {
                write!(f, "`{category}` data may not serve purpose `{purpose}`")
            }
            Self::WrongPathForCategory { category } => write!(
                f,
                "`{category}` data is not reachable this way: logs open only through steward \
                 access"
            ),
            Self::NotOnRoster => f.write_str("the steward is not on the roster"),
            Self::MissingJustification => f.write_str("no justification given"),
            Self::ConsentDoesNotPermit { level, scope } => write!(
                f,
                "consent level `{level}` does not permit training at scope `{scope}`"
            ),
            Self::PrivateScopeOfAnotherCustomer => {
                f.write_str("a private model may train only on its owner's data")
            }
            Self::ConsentUnverified => f.write_str(
                "the consent level is read from a record that has not authenticated yet",
            ),
            Self::RetentionEnded => {
                f.write_str("the data is past its retention and serves nothing")
            }
            Self::KeptOnlyByLegalHold => {
                f.write_str("the data is kept only by a legal hold, which permits no use")
            }
            Self::KeptOnlyAsProof => {
                f.write_str("the consent record's relationship has ended: it is kept only as proof")
            }
            Self::NoRelationship => f.write_str(
                "the customer has no relationship on record: nothing the policy grants applies \
                 to their data",
            ),
            Self::InteractiveNotOptedIn => {
                f.write_str("the customer has not opted in to interactive features")
            }
            Self::CannotEvaluate { problem } => write!(f, "cannot evaluate: {problem}"),
        }
    }
}

/// What kept a request from being evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EvaluationProblem {
    /// The data claims to be collected after the instant of the request.
    CollectedInTheFuture,
    /// A deadline computed from the data's instants is out of range.
    InstantOutOfRange,
    /// The policy has no retention rule for the data's category.
    NoRetentionRule,
    /// The facts gave a relationship that is not the data owner's, or does not contain the
    /// instant the data was collected: a defect in the `Facts` implementation.
    RelationshipMismatch,
    /// The facts could not be read (a thread panicked while changing them).
    FactsUnavailable,
}

impl fmt::Display for EvaluationProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CollectedInTheFuture => "the data is dated after the request",
            Self::InstantOutOfRange => "a retention deadline is out of range",
            Self::NoRetentionRule => "no retention rule covers the data's category",
            Self::RelationshipMismatch => {
                "the facts gave a relationship that does not contain the data"
            }
            Self::FactsUnavailable => "the facts could not be read",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clause_set_iterates_in_declaration_order() {
        let set = ClauseSet::of(ClauseId::PolicyVersioned).with(ClauseId::CollectPersonal);
        let clauses: Vec<_> = set.iter().collect();
        assert_eq!(
            clauses,
            [ClauseId::CollectPersonal, ClauseId::PolicyVersioned]
        );
        assert_eq!(set.len(), 2);
        assert_eq!(set.to_string(), "collect.personal, policy.versioned");
    }

    #[test]
    fn every_clause_has_its_own_bit() {
        let all = ClauseId::ALL
            .iter()
            .fold(ClauseSet::EMPTY, |set, clause| set.with(*clause));
        assert_eq!(all.len(), ClauseId::ALL.len());
    }

    #[test]
    fn deny_serializes_with_its_decisive_clause_and_reason() {
        let decision = Decision::deny(ClauseId::LogsAccess, DenyReason::NotOnRoster);
        let json = serde_json::to_string(&decision).unwrap();
        assert_eq!(
            json,
            r#"{"effect":"deny","decisive":"logs.access","supporting":[],"obligations":[],"reason":{"reason":"not-on-roster"}}"#
        );
    }

    #[test]
    fn the_decisive_clause_is_never_listed_as_supporting_and_comes_first() {
        let cited = Citations::decided_by(ClauseId::UsePurposes)
            .supported_by(ClauseSet::of(ClauseId::CollectPersonal).with(ClauseId::UsePurposes));
        assert_eq!(cited.decisive(), ClauseId::UsePurposes);
        assert_eq!(cited.supporting(), ClauseSet::of(ClauseId::CollectPersonal));
        // collect.personal comes before use.purposes in ClauseId::ALL; the decisive one leads.
        assert_eq!(
            cited.iter().collect::<Vec<_>>(),
            [ClauseId::UsePurposes, ClauseId::CollectPersonal]
        );
        assert!(cited.contains(ClauseId::CollectPersonal));
        assert!(!cited.contains(ClauseId::LogsAccess));
        assert_eq!(
            cited.to_string(),
            "use.purposes (supporting: collect.personal)"
        );
        assert_eq!(format!("{cited:?}"), "[UsePurposes, CollectPersonal]");
    }

    #[test]
    fn display_names_the_decisive_clause_in_brackets_and_the_rest_as_supporting() {
        let allow = Decision::allow(
            Citations::decided_by(ClauseId::LogsAccess)
                .supported_by(ClauseSet::of(ClauseId::LogsPurposes).with(ClauseId::LogsEncrypted)),
            Obligations::one(Obligation::AuditAccess),
        );
        assert_eq!(
            allow.to_string(),
            "allow [logs.access] (supporting: logs.purposes, logs.encrypted); must audit this \
             access"
        );
        let deny = Decision::deny(ClauseId::LogsAccess, DenyReason::NotOnRoster);
        assert_eq!(
            deny.to_string(),
            "deny [logs.access]: the steward is not on the roster"
        );
    }
}
