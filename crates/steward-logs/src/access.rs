//! Who may open log records, and why: the steward roster and the access request.
//!
//! `logs.access`: only a select few data stewards decrypt logs, and only when necessary;
//! `logs.purposes`: only for troubleshooting, customer support, reliability and performance,
//! or detecting and preventing misuse.

use std::{collections::BTreeSet, fmt, num::NonZeroUsize};

use serde::{Deserialize, Serialize};
use steward_core::{ClauseId, Justification, Purpose, StewardId};

use crate::{ConfigError, LogsError};

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
    /// [`ConfigError::InvalidRoster`] for zero: a roster nobody can be on would make every log
    /// unreadable, which is shredding, not access control.
    pub fn new(max_stewards: usize) -> Result<Self, LogsError> {
        NonZeroUsize::new(max_stewards).map(Self).ok_or_else(|| {
            LogsError::Config(ConfigError::InvalidRoster {
                reason: "the maximum number of stewards must be at least 1",
            })
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
/// use steward_logs::{ConfigError, LogsError, RosterCapacity, StewardRoster};
///
/// let mut roster = StewardRoster::new(RosterCapacity::new(1)?);
/// roster.add("alice.ops".parse()?)?;
/// assert!(roster.contains(&"alice.ops".parse()?));
/// let full = roster.add("bob".parse()?);
/// assert!(matches!(full, Err(LogsError::Config(ConfigError::RosterFull { max: 1 }))));
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
    /// [`ConfigError::RosterFull`] (`logs.access`) if the roster is at its capacity.
    pub fn add(&mut self, steward: StewardId) -> Result<(), LogsError> {
        if self.stewards.contains(&steward) {
            return Ok(());
        }
        if self.stewards.len() >= self.capacity.get() {
            return Err(LogsError::Config(ConfigError::RosterFull {
                max: self.capacity.get(),
            }));
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
            return Err(LogsError::Config(ConfigError::InvalidRoster {
                reason: "more stewards than the roster's capacity",
            }));
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

/// A steward's request to open a record: who, why, and on what grounds.
///
/// It carries no instant: the vault dates every attempt by its own clock. The purpose may be
/// any [`Purpose`] and the justification may be missing: such a request is not rejected at
/// construction but refused when the record is opened, and the refusal is audited.
/// (steward-core's [`Justification`] cannot be blank, so a blank one arrives here as `None`;
/// [`AccessRequest::with_justification_text`] does that parsing.)
///
/// ```
/// use steward_logs::AccessRequest;
///
/// let request = AccessRequest::with_justification_text(
///     "alice.ops".parse()?,
///     "troubleshooting".parse()?,
///     "TICKET-4711",
/// );
/// assert!(request.justification().is_some());
/// let blank = AccessRequest::with_justification_text(
///     "alice.ops".parse()?,
///     "troubleshooting".parse()?,
///     "\u{200B}",
/// );
/// assert!(blank.justification().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    steward: StewardId,
    purpose: Purpose,
    justification: Option<Justification>,
}

impl AccessRequest {
    /// A request from its parts.
    #[must_use]
    pub const fn new(
        steward: StewardId,
        purpose: Purpose,
        justification: Option<Justification>,
    ) -> Self {
        Self {
            steward,
            purpose,
            justification,
        }
    }

    /// A request whose justification is raw text: text without visible content, over-long
    /// or with control characters counts as missing, and is refused (and audited) when the
    /// record is opened.
    #[must_use]
    pub fn with_justification_text(
        steward: StewardId,
        purpose: Purpose,
        justification: &str,
    ) -> Self {
        Self::new(steward, purpose, justification.parse().ok())
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
}

/// Why an access request was refused, as the audit trail records it. Each denial cites the
/// clause it enforces.
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
    /// `logs.purposes`: the policy in force does not let logs serve this purpose.
    PurposeNotAllowedByPolicy {
        /// The purpose asked for.
        purpose: Purpose,
    },
    /// `logs.access`: no justification with visible content was given ("only when
    /// necessary").
    MissingJustification,
    /// `logs.retention`: the record is past its retention and serves nothing.
    RetentionEnded,
    /// `logs.retention`: the record is kept only by a legal hold, which permits no opening.
    KeptOnlyByLegalHold,
    /// The request could not be evaluated (the policy fails closed), or was refused for a
    /// reason this build of the trail has no name for; `clause` says which promise.
    Refused {
        /// The clause that decided.
        clause: ClauseId,
    },
}

impl Denial {
    /// The clause the request broke.
    #[must_use]
    pub const fn clause(self) -> ClauseId {
        match self {
            Self::NotOnRoster | Self::MissingJustification => ClauseId::LogsAccess,
            Self::PurposeNotForLogs { .. } | Self::PurposeNotAllowedByPolicy { .. } => {
                ClauseId::LogsPurposes
            }
            Self::RetentionEnded | Self::KeptOnlyByLegalHold => ClauseId::LogsRetention,
            Self::Refused { clause } => clause,
        }
    }

    /// The purpose the denial names, if it names one.
    #[must_use]
    pub const fn purpose(self) -> Option<Purpose> {
        match self {
            Self::PurposeNotForLogs { purpose } | Self::PurposeNotAllowedByPolicy { purpose } => {
                Some(purpose)
            }
            _ => None,
        }
    }

    /// The stable code the audit encoding uses (the serde tag).
    pub(crate) const fn code(self) -> &'static str {
        match self {
            Self::NotOnRoster => "not-on-roster",
            Self::PurposeNotForLogs { .. } => "purpose-not-for-logs",
            Self::PurposeNotAllowedByPolicy { .. } => "purpose-not-allowed-by-policy",
            Self::MissingJustification => "missing-justification",
            Self::RetentionEnded => "retention-ended",
            Self::KeptOnlyByLegalHold => "kept-only-by-legal-hold",
            Self::Refused { .. } => "refused",
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
            Self::PurposeNotAllowedByPolicy { purpose } => {
                write!(f, "the policy does not let logs serve purpose `{purpose}`")
            }
            Self::MissingJustification => f.write_str("no justification given"),
            Self::RetentionEnded => {
                f.write_str("the record is past its retention and serves nothing")
            }
            Self::KeptOnlyByLegalHold => {
                f.write_str("the record is kept only by a legal hold, which permits no opening")
            }
            Self::Refused { clause } => write!(f, "refused by the policy under `{clause}`"),
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

    #[test]
    fn roster_refuses_past_capacity_but_accepts_duplicates() {
        let mut roster = roster(&["a", "b", "c"]);
        roster.add("a".parse().unwrap()).unwrap();
        assert!(matches!(
            roster.add("d".parse().unwrap()),
            Err(LogsError::Config(ConfigError::RosterFull { max: 3 }))
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
    fn every_denial_cites_its_clause_and_has_a_distinct_code() {
        let denials = [
            Denial::NotOnRoster,
            Denial::PurposeNotForLogs {
                purpose: Purpose::Marketing,
            },
            Denial::PurposeNotAllowedByPolicy {
                purpose: Purpose::Reliability,
            },
            Denial::MissingJustification,
            Denial::RetentionEnded,
            Denial::KeptOnlyByLegalHold,
            Denial::Refused {
                clause: ClauseId::UsePurposes,
            },
        ];
        let codes: BTreeSet<_> = denials.iter().map(|denial| denial.code()).collect();
        assert_eq!(codes.len(), denials.len());
        for denial in denials {
            let json = serde_json::to_value(denial).unwrap();
            assert_eq!(json["denial"], denial.code(), "{denial}");
        }
        assert_eq!(Denial::MissingJustification.clause(), ClauseId::LogsAccess);
        assert_eq!(Denial::RetentionEnded.clause(), ClauseId::LogsRetention);
    }
}
