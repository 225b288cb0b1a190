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
    /// Text holding a character a reader cannot see (a default-ignorable code point such as
    /// a zero-width space, soft hyphen, tag character or variation selector, a bidirectional
    /// control, a line separator): stored as is, it would differ from the text shown. The
    /// text itself is not quoted back, since the character would not show there either.
    #[error(
        "invalid {vocabulary}: {kind} U+{:04X} at character {position} is not allowed: a reader \
         cannot see it, so an audit viewer could show another text than the one stored",
        u32::from(*code_point)
    )]
    InvisibleCharacter {
        /// Which kind of text.
        vocabulary: Vocabulary,
        /// The refused character.
        code_point: char,
        /// Its position in the text as given, counted in characters from 1.
        position: usize,
        /// What kind of character it is, such as `bidirectional control`.
        kind: &'static str,
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
    /// [`crate::RequestReference`].
    RequestReference,
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
            Self::RequestReference => "request reference",
        })
    }
}
