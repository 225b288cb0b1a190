//! The error type of steward-core.

use std::fmt;

/// Longest piece of user input quoted back in an error message; longer input is cut so that
/// a hostile value cannot blow up logs.
const QUOTE_LIMIT: usize = 64;

/// What could not be parsed or computed in the shared vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// A string that names none of the values of a vocabulary.
    #[error("unknown {vocabulary} `{value}`")]
    Unknown {
        /// Which vocabulary was asked.
        vocabulary: Vocabulary,
        /// The rejected input, shortened to at most 64 characters.
        value: String,
    },
    /// An identifier that does not have the required shape.
    #[error("invalid {vocabulary} `{value}`: {reason}")]
    InvalidId {
        /// Which kind of identifier.
        vocabulary: Vocabulary,
        /// The rejected input, shortened to at most 64 characters.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A string that is not an instant Steward can represent.
    #[error("invalid instant `{value}`: {reason}")]
    InvalidInstant {
        /// The rejected input, shortened to at most 64 characters.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An instant outside the range that can be represented.
    #[error("instant out of range: {what}")]
    InstantOutOfRange {
        /// Which computation left the range.
        what: &'static str,
    },
}

impl CoreError {
    pub(crate) fn unknown(vocabulary: Vocabulary, value: &str) -> Self {
        Self::Unknown {
            vocabulary,
            value: quote(value),
        }
    }

    pub(crate) fn invalid_instant(value: &str, reason: &'static str) -> Self {
        Self::InvalidInstant {
            value: quote(value),
            reason,
        }
    }

    pub(crate) fn invalid_id(vocabulary: Vocabulary, value: &str, reason: &'static str) -> Self {
        Self::InvalidId {
            vocabulary,
            value: quote(value),
            reason,
        }
    }
}

fn quote(value: &str) -> String {
    value.chars().take(QUOTE_LIMIT).collect()
}

/// The vocabularies and identifier kinds of steward-core, as named in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Vocabulary {
    /// [`crate::Purpose`].
    Purpose,
    /// [`crate::DataCategory`].
    DataCategory,
    /// [`crate::ClauseId`].
    ClauseId,
    /// [`crate::TrainingScope`].
    TrainingScope,
    /// [`crate::TrainingLevel`].
    TrainingLevel,
    /// [`crate::CustomerId`].
    CustomerId,
    /// [`crate::StewardId`].
    StewardId,
    /// [`crate::AdminId`].
    AdminId,
    /// [`crate::RecordId`].
    RecordId,
    /// [`crate::PolicyVersion`].
    PolicyVersion,
    /// [`crate::Justification`].
    Justification,
}

impl fmt::Display for Vocabulary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Purpose => "purpose",
            Self::DataCategory => "data category",
            Self::ClauseId => "clause id",
            Self::TrainingScope => "training scope",
            Self::TrainingLevel => "training level",
            Self::CustomerId => "customer id",
            Self::StewardId => "steward id",
            Self::AdminId => "admin id",
            Self::RecordId => "record id",
            Self::PolicyVersion => "policy version",
            Self::Justification => "justification",
        })
    }
}
