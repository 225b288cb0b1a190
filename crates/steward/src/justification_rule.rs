//! What a policy asks of a justification beyond the floor every justification meets.

use std::fmt;

use regex::{Regex, RegexBuilder};
use steward_core::Justification;

use crate::StewardError;

/// What the policy asks of every justification the vault takes (`logs.access`: only when
/// necessary): the reason to open a log ([`Vault::open`](crate::Vault::open)) and the reason of
/// a legal hold or its release.
///
/// Every [`Justification`] already holds a visible letter or digit and no invisible character;
/// the rule asks for more:
///
/// - at least [`min_letters_or_digits`](Self::min_letters_or_digits) letters or digits (any
///   script), so that `--ticket x` is no reason. The bundled policy asks for
///   [`CODER_MODEL_MIN_LETTERS_OR_DIGITS`](Self::CODER_MODEL_MIN_LETTERS_OR_DIGITS) (4): a
///   ticket reference such as `INC-42` has them, a placeholder such as `x`, `n/a` or `.` does
///   not;
/// - optionally, a [`pattern`](Self::pattern): a regular expression the text must match, such
///   as a ticket-id pattern `^[A-Z]+-[0-9]+`. It matches anywhere in the text unless anchored
///   (`^`, `$`). Matching takes time linear in the text (the `regex` crate has no
///   backtracking), so a hostile justification cannot stall the vault.
///
/// A policy file sets both in its `[justification]` table (`min-letters-or-digits`,
/// `pattern`); without the table it gets the bundled rule.
///
/// ```
/// use steward::{JustificationRule, Policy};
///
/// let rule = Policy::coder_model().justification_rule().clone();
/// assert_eq!(rule.min_letters_or_digits(), 4);
/// assert!(rule.check(&"INC-42 latency spike".parse()?).is_ok());
/// assert!(rule.check(&"x".parse()?).is_err());
///
/// let tickets = JustificationRule::new(2, Some("^[A-Z]+-[0-9]+"))?;
/// assert!(tickets.check(&"INC-42".parse()?).is_ok());
/// let refused = tickets.check(&"because I said so".parse()?).unwrap_err();
/// assert!(refused.to_string().contains("^[A-Z]+-[0-9]+"), "{refused}");
/// assert!(JustificationRule::new(4, Some("[A-Z")).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JustificationRule {
    min_letters_or_digits: usize,
    pattern: Option<JustificationPattern>,
}

impl JustificationRule {
    /// The bundled policy's minimum of letters and digits.
    pub const CODER_MODEL_MIN_LETTERS_OR_DIGITS: usize = 4;

    /// The bundled policy's rule: at least 4 letters or digits, no pattern.
    #[must_use]
    pub const fn coder_model() -> Self {
        Self {
            min_letters_or_digits: Self::CODER_MODEL_MIN_LETTERS_OR_DIGITS,
            pattern: None,
        }
    }

    /// A rule asking for at least `min_letters_or_digits` letters or digits and, if given,
    /// text that matches `pattern`.
    ///
    /// # Errors
    ///
    /// [`StewardError::InvalidJustificationRule`] naming what is wrong: a minimum of 0 or above
    /// [`Justification::MAX_CHARS`], or a pattern that is not a regular expression (or
    /// compiles to more than 1 MiB), naming the pattern.
    pub fn new(min_letters_or_digits: usize, pattern: Option<&str>) -> Result<Self, StewardError> {
        if min_letters_or_digits == 0 || min_letters_or_digits > Justification::MAX_CHARS {
            return Err(StewardError::InvalidJustificationRule {
                problem: format!(
                    "min-letters-or-digits `{min_letters_or_digits}` is not between 1 and 512"
                ),
            });
        }
        let pattern = pattern.map(JustificationPattern::new).transpose()?;
        Ok(Self {
            min_letters_or_digits,
            pattern,
        })
    }

    /// The fewest letters or digits a justification must hold.
    #[must_use]
    pub const fn min_letters_or_digits(&self) -> usize {
        self.min_letters_or_digits
    }

    /// The regular expression a justification must match, as the policy wrote it.
    #[must_use]
    pub fn pattern(&self) -> Option<&str> {
        self.pattern.as_ref().map(JustificationPattern::as_str)
    }

    /// Whether `justification` meets the rule.
    ///
    /// # Errors
    ///
    /// [`StewardError::JustificationRefused`] saying what it lacks: letters or digits, or a
    /// match of the pattern (named).
    pub fn check(&self, justification: &Justification) -> Result<(), StewardError> {
        let refused = |problem| StewardError::JustificationRefused {
            justification: justification.as_str().chars().take(64).collect(),
            problem,
        };
        let found = justification.letters_or_digits();
        if found < self.min_letters_or_digits {
            return Err(refused(format!(
                "it holds {found} letters or digits, the policy asks for at least {}; state \
                 the reason, e.g. a ticket reference",
                self.min_letters_or_digits
            )));
        }
        if let Some(pattern) = &self.pattern
            && !pattern.regex.is_match(justification.as_str())
        {
            return Err(refused(format!(
                "it does not match the policy's justification pattern `{}`",
                pattern.as_str()
            )));
        }
        Ok(())
    }

    /// Whether `justification` meets the rule (see [`check`](Self::check)).
    #[must_use]
    pub fn accepts(&self, justification: &Justification) -> bool {
        self.check(justification).is_ok()
    }
}

impl Default for JustificationRule {
    fn default() -> Self {
        Self::coder_model()
    }
}

/// A compiled justification pattern, compared and shown by the text the policy wrote.
#[derive(Clone)]
struct JustificationPattern {
    regex: Regex,
}

/// The most memory a compiled pattern may take: a policy file is configuration, but a typo
/// such as `\w{1000}{1000}` should fail to load, not take the process's memory.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

impl JustificationPattern {
    fn new(text: &str) -> Result<Self, StewardError> {
        let regex = RegexBuilder::new(text)
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
            .map_err(|error| StewardError::InvalidJustificationRule {
                problem: format!(
                    "pattern `{}` is not a valid regular expression: {}",
                    text.chars().take(128).collect::<String>(),
                    error.to_string().lines().last().unwrap_or("invalid").trim()
                ),
            })?;
        Ok(Self { regex })
    }

    fn as_str(&self) -> &str {
        self.regex.as_str()
    }
}

impl PartialEq for JustificationPattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for JustificationPattern {}

impl fmt::Debug for JustificationPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JustificationPattern")
            .field(&self.as_str())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> Justification {
        text.parse().unwrap()
    }

    #[test]
    fn the_bundled_rule_refuses_placeholders_and_accepts_ticket_references() {
        let rule = JustificationRule::coder_model();
        for placeholder in ["x", "n/a", "ok!", "a.b.c", "T-1", "工单"] {
            let error = rule.check(&reason(placeholder)).unwrap_err();
            assert!(
                matches!(error, StewardError::JustificationRefused { .. }),
                "{placeholder}: {error}"
            );
            assert!(error.to_string().contains("at least 4"), "{error}");
        }
        for enough in ["INC-42", "TICKET-4711 latency spike", "工单 4711", "abcd"] {
            assert!(rule.check(&reason(enough)).is_ok(), "{enough}");
        }
    }

    #[test]
    fn a_pattern_must_match_and_is_named_when_it_does_not() {
        let rule = JustificationRule::new(1, Some("^[A-Z]+-[0-9]+")).unwrap();
        assert!(rule.accepts(&reason("INC-4711 disk full")));
        let error = rule.check(&reason("disk full, see INC-4711")).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("`^[A-Z]+-[0-9]+`"), "{message}");
        assert!(message.contains("disk full"), "{message}");
        // Unanchored patterns match anywhere.
        let anywhere = JustificationRule::new(1, Some("[A-Z]+-[0-9]+")).unwrap();
        assert!(anywhere.accepts(&reason("disk full, see INC-4711")));
    }

    #[test]
    fn bad_rules_are_typed_errors_naming_the_pattern() {
        for bad in ["[A-Z", "(unclosed", "a{2,1}", "\\"] {
            let error = JustificationRule::new(4, Some(bad)).unwrap_err();
            assert!(
                matches!(error, StewardError::InvalidJustificationRule { .. }),
                "{error}"
            );
            assert!(error.to_string().contains(&format!("`{bad}`")), "{error}");
        }
        let huge = JustificationRule::new(4, Some(r"\w{1000}{1000}")).unwrap_err();
        assert!(
            huge.to_string().contains("not a valid regular expression"),
            "{huge}"
        );
        assert!(JustificationRule::new(0, None).is_err());
        assert!(JustificationRule::new(513, None).is_err());
        assert!(JustificationRule::new(512, None).is_ok());
    }

    #[test]
    fn matching_a_long_hostile_justification_is_quick() {
        // A pattern that backtracking engines take exponential time on.
        let rule = JustificationRule::new(1, Some("^(a+)+$")).unwrap();
        let hostile = reason(&format!("{}!", "a".repeat(500)));
        let started = std::time::Instant::now();
        assert!(!rule.accepts(&hostile));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
