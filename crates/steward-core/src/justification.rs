//! Why a person needs access right now: the justification every log opening must carry.

use std::{fmt, str::FromStr};

use crate::{CoreError, Vocabulary};

/// The reason given for an access, such as a ticket reference (`logs.access`: only when
/// necessary). It is written into the audit trail, so it must say something: blank or
/// whitespace-only text is no justification.
///
/// Surrounding whitespace is trimmed; the rest must be 1 to 512 characters without control
/// characters. It must not contain request content or personal data: it is an audit field.
///
/// ```
/// use steward_core::Justification;
///
/// let reason: Justification = "  TICKET-4711 latency spike ".parse()?;
/// assert_eq!(reason.as_str(), "TICKET-4711 latency spike");
/// assert!("   ".parse::<Justification>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Justification(Box<str>);

impl Justification {
    /// Longest accepted justification, in characters.
    pub const MAX_CHARS: usize = 512;

    /// The trimmed text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Justification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Justification {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let invalid = |reason| CoreError::invalid_id(Vocabulary::Justification, text, reason);
        if trimmed.is_empty() {
            return Err(invalid(
                "blank: say why access is necessary, e.g. a ticket reference",
            ));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(invalid("longer than 512 characters"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(invalid("control characters are not allowed"));
        }
        Ok(Self(trimmed.into()))
    }
}

crate::serde_via_string!(Justification);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_only_is_missing() {
        for blank in ["", " ", "\t\n", "\u{2003}"] {
            let error = blank.parse::<Justification>().unwrap_err();
            assert!(error.to_string().contains("blank"), "{error}");
        }
    }

    #[test]
    fn control_characters_are_rejected() {
        assert!("TICKET-1\u{0}".parse::<Justification>().is_err());
        assert!("line one\nline two".parse::<Justification>().is_err());
    }

    #[test]
    fn deserializing_blank_fails() {
        assert!(serde_json::from_str::<Justification>("\"  \"").is_err());
    }
}
