//! Who may open log records, and why: the steward roster and the access request.
//!
//! `logs.access`: only a select few data stewards decrypt logs, and only when necessary;
//! `logs.purposes`: only for troubleshooting, customer support, reliability and performance,
//! or detecting and preventing misuse.

use std::{collections::BTreeSet, fmt, num::NonZeroUsize};

use serde::{Deserialize, Serialize};
use steward_core::{ClauseId, Justification, Purpose, PurposeGroup, StewardId, Timestamp};

use crate::LogsError;

/// The most stewards a roster may hold ("a select few", `logs.access`), from configuration.
///
/// ```
/// use steward_logs::RosterCapacity;
///
/// assert_eq!(RosterCapacity::new(5)?.get(), 5);
/// assert!(RosterCapacity::new(0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RosterCapacity(NonZeroUsize);

impl RosterCapacity {
    /// A capacity of `max_stewards`.
    ///
    /// # Errors
    ///
    /// [`LogsError::InvalidRoster`] for zero: a roster nobody can be on would make every log
    /// unreadable, which is shredding, not access control.
    pub fn new(max_stewards: usize) -> Result<Self, LogsError> {
        NonZeroUsize::new(max_stewards)
            .map(Self)
            .ok_or_else(|| LogsError::InvalidRoster {
                reason: "the maximum number of stewards must be at least 1",
            })
    }

    /// A capacity of a maximum known to be non-zero, usable in constants.
    #[must_use]
    pub const fn from_nonzero(max_stewards: NonZeroUsize) -> Self {
        Self(max_stewards)
    }

    /// The maximum number of stewards.
    #[must_use]
    pub const fn get(self) -> usize {
        self.0.get()
    }
}

/// The data stewards who may open log records (`logs.access`), at most a configured number.
///
/// ```
/// use steward_logs::{LogsError, RosterCapacity, StewardRoster};
///
/// let mut roster = StewardRoster::new(RosterCapacity::new(1)?);
/// roster.add("alice.ops".parse()?)?;
/// assert!(roster.contains(&"alice.ops".parse()?));
/// assert!(matches!(roster.add("bob".parse()?), Err(LogsError::RosterFull { max: 1 })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RosterRepr", into = "RosterRepr")]
pub struct StewardRoster {
    capacity: RosterCapacity,
    stewards: BTreeSet<StewardId>,
}

impl StewardRoster {
    /// An empty roster that holds at most `capacity` stewards.
    #[must_use]
    pub const fn new(capacity: RosterCapacity) -> Self {
        Self {
            capacity,
            stewards: BTreeSet::new(),
        }
    }

    /// Adds a steward; adding one who is already on the roster changes nothing.
    ///
    /// # Errors
    ///
    /// [`LogsError::RosterFull`] (`logs.access`) if the roster is at its capacity.
    pub fn add(&mut self, steward: StewardId) -> Result<(), LogsError> {
        if self.stewards.contains(&steward) {
            return Ok(());
        }
        if self.stewards.len() >= self.capacity.get() {
            return Err(LogsError::RosterFull {
                max: self.capacity.get(),
            });
        }
        self.stewards.insert(steward);
        Ok(())
    }

    /// Removes a steward; returns whether they were on the roster.
    pub fn remove(&mut self, steward: &StewardId) -> bool {
        self.stewards.remove(steward)
    }

    /// Whether `steward` is on the roster.
    #[must_use]
    pub fn contains(&self, steward: &StewardId) -> bool {
        self.stewards.contains(steward)
    }

    /// The stewards, in order.
    pub fn iter(&self) -> impl Iterator<Item = &StewardId> {
        self.stewards.iter()
    }

    /// How many stewards are on the roster.
    #[must_use]
    pub fn len(&self) -> usize {
        self.stewards.len()
    }

    /// Whether the roster is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.stewards.is_empty()
    }

    /// The configured maximum.
    #[must_use]
    pub const fn capacity(&self) -> RosterCapacity {
        self.capacity
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RosterRepr {
    capacity: RosterCapacity,
    stewards: BTreeSet<StewardId>,
}

impl TryFrom<RosterRepr> for StewardRoster {
    type Error = LogsError;

    fn try_from(repr: RosterRepr) -> Result<Self, Self::Error> {
        if repr.stewards.len() > repr.capacity.get() {
            return Err(LogsError::InvalidRoster {
                reason: "more stewards than the roster's capacity",
            });
        }
        Ok(Self {
            capacity: repr.capacity,
            stewards: repr.stewards,
        })
    }
}

impl From<StewardRoster> for RosterRepr {
    fn from(roster: StewardRoster) -> Self {
        Self {
            capacity: roster.capacity,
            stewards: roster.stewards,
        }
    }
}

/// A steward's request to open a record: who, why, on what grounds, and when.
///
/// The purpose may be any [`Purpose`], and the justification may be missing: a request
/// outside `logs.purposes` or without a justification is not rejected at construction but
/// refused by [`Vault::open`](crate::Vault::open), which writes the refusal to the audit trail.
/// (steward-core's [`Justification`] cannot be blank, so a blank one arrives here as `None`;
/// [`AccessRequest::with_justification_text`] does that parsing.)
///
/// ```
/// use steward_core::Timestamp;
/// use steward_logs::AccessRequest;
///
/// let request = AccessRequest::with_justification_text(
///     "alice.ops".parse()?,
///     "troubleshooting".parse()?,
///     "TICKET-4711",
///     Timestamp::now(),
/// );
/// assert!(request.justification().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    steward: StewardId,
    purpose: Purpose,
    justification: Option<Justification>,
    at: Timestamp,
}

impl AccessRequest {
    /// A request from its parts.
    #[must_use]
    pub const fn new(
        steward: StewardId,
        purpose: Purpose,
        justification: Option<Justification>,
        at: Timestamp,
    ) -> Self {
        Self {
            steward,
            purpose,
            justification,
            at,
        }
    }

    /// A request whose justification is raw text: blank, over-long or control-character
    /// text counts as missing, and is refused (and audited) when the record is opened.
    #[must_use]
    pub fn with_justification_text(
        steward: StewardId,
        purpose: Purpose,
        justification: &str,
        at: Timestamp,
    ) -> Self {
        Self::new(steward, purpose, justification.parse().ok(), at)
    }

    /// Who asks.
    #[must_use]
    pub const fn steward(&self) -> &StewardId {
        &self.steward
    }

    /// Why.
    #[must_use]
    pub const fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// On what grounds, if any were given.
    #[must_use]
    pub const fn justification(&self) -> Option<&Justification> {
        self.justification.as_ref()
    }

    /// When.
    #[must_use]
    pub const fn at(&self) -> Timestamp {
        self.at
    }

    /// The access decision: the first rule the request breaks, if any.
    pub(crate) fn check(&self, roster: &StewardRoster) -> Result<(), Denial> {
        if !roster.contains(&self.steward) {
            return Err(Denial::NotOnRoster);
        }
        if self.purpose.group() != PurposeGroup::Logs {
            return Err(Denial::PurposeNotForLogs {
                purpose: self.purpose,
            });
        }
        if self.justification.is_none() {
            return Err(Denial::MissingJustification);
        }
        Ok(())
    }
}

/// Why an access request was refused. Each denial cites its clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "denial", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Denial {
    /// `logs.access`: the actor is not on the steward roster.
    NotOnRoster,
    /// `logs.purposes`: the purpose is not one of the four log purposes.
    PurposeNotForLogs {
        /// The purpose asked for.
        purpose: Purpose,
    },
    /// `logs.access`: no justification was given ("only when necessary").
    MissingJustification,
}

impl Denial {
    /// The clause the request broke.
    #[must_use]
    pub const fn clause(self) -> ClauseId {
        match self {
            Self::NotOnRoster | Self::MissingJustification => ClauseId::LogsAccess,
            Self::PurposeNotForLogs { .. } => ClauseId::LogsPurposes,
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotOnRoster => f.write_str("the actor is not on the steward roster"),
            Self::PurposeNotForLogs { purpose } => {
                write!(f, "purpose `{purpose}` is not a log purpose")
            }
            Self::MissingJustification => f.write_str("no justification given"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster(names: &[&str]) -> StewardRoster {
        let mut roster = StewardRoster::new(RosterCapacity::new(3).unwrap());
        for name in names {
            roster.add(name.parse().unwrap()).unwrap();
        }
        roster
    }

    fn request(steward: &str, purpose: &str, justification: &str) -> AccessRequest {
        AccessRequest::with_justification_text(
            steward.parse().unwrap(),
            purpose.parse().unwrap(),
            justification,
            Timestamp::from_unix_seconds(1_750_000_000).unwrap(),
        )
    }

    #[test]
    fn roster_refuses_past_capacity_but_accepts_duplicates() {
        let mut roster = roster(&["a", "b", "c"]);
        roster.add("a".parse().unwrap()).unwrap();
        assert!(matches!(
            roster.add("d".parse().unwrap()),
            Err(LogsError::RosterFull { max: 3 })
        ));
        assert!(roster.remove(&"a".parse().unwrap()));
        roster.add("d".parse().unwrap()).unwrap();
        assert_eq!(roster.len(), 3);
    }

    #[test]
    fn zero_capacity_is_rejected() {
        assert!(RosterCapacity::new(0).is_err());
        assert!(serde_json::from_str::<RosterCapacity>("0").is_err());
    }

    #[test]
    fn deserializing_an_overfull_roster_fails() {
        let json = r#"{"capacity":1,"stewards":["a","b"]}"#;
        assert!(serde_json::from_str::<StewardRoster>(json).is_err());
        let json = r#"{"capacity":2,"stewards":["a","b"]}"#;
        assert_eq!(
            serde_json::from_str::<StewardRoster>(json).unwrap().len(),
            2
        );
    }

    #[test]
    fn each_broken_rule_is_its_own_denial_with_its_clause() {
        let roster = roster(&["alice"]);
        assert_eq!(
            request("alice", "troubleshooting", "T-1").check(&roster),
            Ok(())
        );
        assert_eq!(
            request("mallory", "troubleshooting", "T-1").check(&roster),
            Err(Denial::NotOnRoster)
        );
        let wrong = request("alice", "marketing", "T-1")
            .check(&roster)
            .unwrap_err();
        assert_eq!(wrong.clause(), ClauseId::LogsPurposes);
        let service = request("alice", "usage-monitoring", "T-1").check(&roster);
        assert!(matches!(service, Err(Denial::PurposeNotForLogs { .. })));
        let blank = request("alice", "troubleshooting", "   ").check(&roster);
        assert_eq!(blank, Err(Denial::MissingJustification));
        assert_eq!(Denial::MissingJustification.clause(), ClauseId::LogsAccess);
    }

    #[test]
    fn every_log_purpose_is_allowed() {
        let roster = roster(&["alice"]);
        for purpose in Purpose::ALL {
            let request = AccessRequest::new(
                "alice".parse().unwrap(),
                *purpose,
                Some("T-1".parse().unwrap()),
                Timestamp::from_unix_seconds(0).unwrap(),
            );
            assert_eq!(
                request.check(&roster).is_ok(),
                purpose.group() == PurposeGroup::Logs,
                "{purpose}"
            );
        }
    }
}
