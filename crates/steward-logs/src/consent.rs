//! The training consent level in force when a record was collected, as written in its header.

use std::{fmt, str::FromStr};

use crate::{LogsError, RecordError};

/// The customer's training consent level at the instant the request was collected
/// (`training.forward-only`: a record keeps the level in force when it was collected).
///
/// Mirrors steward-consent's `TrainingLevel` without depending on it; the facade converts.
/// The order is `None < Private < Shared < OpenWeight`. Each value has a stable string form
/// and a stable byte code in the record header; neither may ever change meaning.
///
/// | value | string | byte |
/// |---|---|---|
/// | `None` | `none` | 0 |
/// | `Private` | `private` | 1 |
/// | `Shared` | `shared` | 2 |
/// | `OpenWeight` | `open-weight` | 3 |
///
/// ```
/// use steward_logs::ConsentAtCollection;
///
/// let level: ConsentAtCollection = "open-weight".parse()?;
/// assert_eq!(level.code(), 3);
/// assert_eq!(ConsentAtCollection::from_code(0)?, ConsentAtCollection::None);
/// assert!(ConsentAtCollection::from_code(4).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
// Not `#[non_exhaustive]`: the byte codes are part of record format version 1, so a new level
// would be a new format version, not a silent addition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConsentAtCollection {
    /// `training.default-off`: no training.
    None,
    /// `training.private`: the customer's own private models only.
    Private,
    /// `training.shared`: models that benefit all customers.
    Shared,
    /// `training.open-weight`: public open-weight models.
    OpenWeight,
}

impl ConsentAtCollection {
    /// Every level, in ascending order.
    pub const ALL: [Self; 4] = [Self::None, Self::Private, Self::Shared, Self::OpenWeight];

    /// The stable string form.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Private => "private",
            Self::Shared => "shared",
            Self::OpenWeight => "open-weight",
        }
    }

    /// The byte code written in the record header.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Private => 1,
            Self::Shared => 2,
            Self::OpenWeight => 3,
        }
    }

    /// The level with this byte code.
    ///
    /// # Errors
    ///
    /// [`RecordError::InvalidHeader`] for a code above 3.
    pub const fn from_code(code: u8) -> Result<Self, LogsError> {
        match code {
            0 => Ok(Self::None),
            1 => Ok(Self::Private),
            2 => Ok(Self::Shared),
            3 => Ok(Self::OpenWeight),
            _ => Err(LogsError::Record(RecordError::InvalidHeader {
                field: "consent",
                reason: "is not a known consent level code (0 to 3)",
            })),
        }
    }
}

impl fmt::Display for ConsentAtCollection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConsentAtCollection {
    type Err = LogsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str() == text)
            .ok_or_else(|| {
                LogsError::Record(RecordError::UnknownConsentLevel {
                    value: text.chars().take(64).collect(),
                })
            })
    }
}

steward_core::serde_via_string!(ConsentAtCollection);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_strings_are_stable() {
        let expected = [
            (ConsentAtCollection::None, "none", 0),
            (ConsentAtCollection::Private, "private", 1),
            (ConsentAtCollection::Shared, "shared", 2),
            (ConsentAtCollection::OpenWeight, "open-weight", 3),
        ];
        for (level, text, code) in expected {
            assert_eq!(level.as_str(), text);
            assert_eq!(level.code(), code);
            assert_eq!(ConsentAtCollection::from_code(code).unwrap(), level);
            assert_eq!(text.parse::<ConsentAtCollection>().unwrap(), level);
        }
    }

    #[test]
    fn levels_are_ordered_from_none_to_open_weight() {
        assert!(ConsentAtCollection::None < ConsentAtCollection::Private);
        assert!(ConsentAtCollection::Private < ConsentAtCollection::Shared);
        assert!(ConsentAtCollection::Shared < ConsentAtCollection::OpenWeight);
    }

    #[test]
    fn unknown_level_names_the_value() {
        let error = "public".parse::<ConsentAtCollection>().unwrap_err();
        assert_eq!(error.to_string(), "unknown consent level `public`");
        assert!(serde_json::from_str::<ConsentAtCollection>("\"public\"").is_err());
    }
}
