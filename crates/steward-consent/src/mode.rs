//! Consent modes: what a later downgrade means for data collected earlier.

use steward_core::ClauseId;

use crate::TrainingLevel;

/// How a record's training level follows later preference changes (docs/design.md section 1).
///
/// - [`ForwardOnly`](Self::ForwardOnly), the default, is what the policy promises
///   (`training.forward-only`): a record keeps the level in force when it was collected, so
///   later changes, upgrades and downgrades alike, only affect data collected after them.
/// - [`WithdrawalStopsProcessing`](Self::WithdrawalStopsProcessing) is a stricter policy
///   setting, off by default: a record's level is the lower of its level at collection and
///   the customer's level now. An upgrade still never reaches back (forward-only holds for
///   widening), but a downgrade or withdrawal also stops *future* training on earlier data.
///   Turn it on to follow GDPR Art. 7(3) and the EDPB guidance on withdrawal as they are
///   commonly read: processing before withdrawal stays lawful, further processing stops.
///
/// In neither mode are models trained before a downgrade affected: the ledger answers what
/// may be trained from now on, it cannot untrain a model.
///
/// String forms: `forward-only`, `withdrawal-stops-processing`.
///
/// ```
/// use steward_consent::{ConsentMode, TrainingLevel};
///
/// let (then, now) = (TrainingLevel::Shared, TrainingLevel::None);
/// assert_eq!(ConsentMode::default(), ConsentMode::ForwardOnly);
/// assert_eq!(ConsentMode::ForwardOnly.effective_level(then, now), TrainingLevel::Shared);
/// assert_eq!(
///     ConsentMode::WithdrawalStopsProcessing.effective_level(then, now),
///     TrainingLevel::None
/// );
/// assert_eq!("withdrawal-stops-processing".parse::<ConsentMode>()?,
///     ConsentMode::WithdrawalStopsProcessing);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConsentMode {
    /// A record's level is the level in force when it was collected (the policy's promise).
    #[default]
    ForwardOnly,
    /// A record's level is the lower of its level at collection and the level now.
    WithdrawalStopsProcessing,
}

steward_core::string_forms!(
    ConsentMode,
    crate::ConsentError,
    |other: &str| crate::ConsentError::UnknownMode {
        value: crate::error::quote(other),
    },
    {
        ForwardOnly => "forward-only",
        WithdrawalStopsProcessing => "withdrawal-stops-processing",
    }
);

impl ConsentMode {
    /// The level that governs a record collected under `at_collection` when the customer's
    /// level is now `now`.
    ///
    /// Never more permissive than `at_collection` in any mode (`training.forward-only`).
    #[must_use]
    pub fn effective_level(
        self,
        at_collection: TrainingLevel,
        now: TrainingLevel,
    ) -> TrainingLevel {
        match self {
            Self::ForwardOnly => at_collection,
            Self::WithdrawalStopsProcessing => at_collection.min(now),
        }
    }

    /// The clause both modes implement: `training.forward-only` (the strict mode tightens it
    /// for downgrades, it never widens it).
    #[must_use]
    pub const fn clause(self) -> ClauseId {
        ClauseId::TrainingForwardOnly
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_after_collection_never_widens_a_record_in_either_mode() {
        for mode in ConsentMode::ALL {
            assert_eq!(
                mode.effective_level(TrainingLevel::Private, TrainingLevel::OpenWeight),
                TrainingLevel::Private
            );
        }
    }

    #[test]
    fn unknown_mode_is_named() {
        let error = "strict".parse::<ConsentMode>().unwrap_err();
        assert_eq!(error.to_string(), "unknown consent mode `strict`");
    }

    #[test]
    fn modes_serialize_as_their_string_forms() {
        let json = serde_json::to_string(&ConsentMode::WithdrawalStopsProcessing).unwrap();
        assert_eq!(json, "\"withdrawal-stops-processing\"");
    }
}
