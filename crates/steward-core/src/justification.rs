//! Why a person needs access right now: the justification every log opening must carry.

use std::{fmt, str::FromStr};

use crate::{CoreError, Vocabulary};

/// The reason given for an access, such as a ticket reference (`logs.access`: only when
/// necessary), and the stated reason of a legal hold or of an admin's consent change. It is written into the audit trail, so it must say something a reader can see:
/// blank or whitespace-only text is no justification, and neither is text made only of
/// invisible characters (zero-width spaces and joiners, the byte order mark, soft hyphens,
/// bidi controls, Hangul fillers, the blank Braille pattern, ...).
///
/// Surrounding whitespace is trimmed; the rest must be 1 to 512 characters without control
/// characters, and must hold at least one visible letter or digit (any script). It must not
/// contain request content or personal data: it is an audit field.
///
/// ```
/// use steward_core::Justification;
///
/// let reason: Justification = "  TICKET-4711 latency spike ".parse()?;
/// assert_eq!(reason.as_str(), "TICKET-4711 latency spike");
/// assert!("工单 42".parse::<Justification>().is_ok());
///
/// // Nothing to read: blank, or only zero-width space, byte order mark and a bidi control.
/// assert!("   ".parse::<Justification>().is_err());
/// assert!("\u{200B}\u{FEFF}\u{202E}".parse::<Justification>().is_err());
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
        // One message for empty, whitespace-only and invisible-only text: to a reader of the
        // audit trail they are all the same missing reason.
        if !trimmed.chars().any(is_visible_letter_or_digit) {
            return Err(invalid(
                "blank: no visible letters or digits; state the reason, e.g. a ticket reference",
            ));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(invalid("longer than 512 characters"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(invalid("control characters are not allowed"));
        }
        if trimmed.chars().any(reorders_or_breaks_lines) {
            return Err(invalid(
                "bidirectional controls and line separators are not allowed: they can make an \
                 audit viewer show another text than the one stored",
            ));
        }
        Ok(Self(trimmed.into()))
    }
}

crate::serde_via_string!(Justification);

/// Whether `c` reorders the text around it when displayed (bidirectional embeddings,
/// overrides and isolates) or breaks a line without being a control character (U+2028,
/// U+2029): in an audit field either lets one reason display as another.
const fn reorders_or_breaks_lines(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
    )
}

/// Whether `c` is a letter or digit that shows when printed.
///
/// `char::is_alphanumeric` alone is not enough: the Hangul fillers are letters (category Lo)
/// that render as nothing, so text made of them would pass as a reason while saying nothing.
/// The other invisible characters (zero-width, format and bidi controls, the blank Braille
/// pattern) are not letters or digits at all.
fn is_visible_letter_or_digit(c: char) -> bool {
    c.is_alphanumeric() && !INVISIBLE_LETTERS.contains(&c)
}

/// Letters (category Lo) that render as blank space.
const INVISIBLE_LETTERS: [char; 4] = [
    '\u{115F}', // HANGUL CHOSEONG FILLER
    '\u{1160}', // HANGUL JUNGSEONG FILLER
    '\u{3164}', // HANGUL FILLER
    '\u{FFA0}', // HALFWIDTH HANGUL FILLER
];

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn whitespace_only_is_missing() {
        for blank in ["", " ", "\t\n", "\u{2003}"] {
            let error = blank.parse::<Justification>().unwrap_err();
            assert!(error.to_string().contains("blank"), "{error}");
        }
    }

    #[test]
    fn bidi_controls_and_line_separators_are_rejected_even_beside_letters() {
        for text in [
            "TICKET-1 \u{202E}1-TEKCIT",
            "INC-7\u{2066}hidden\u{2069}",
            "line one\u{2028}line two",
            "para\u{2029}graph",
        ] {
            let error = text.parse::<Justification>().unwrap_err();
            assert!(error.to_string().contains("bidirectional"), "{error}");
        }
        assert!(
            "TICKET-1 \u{200B}zero-width"
                .parse::<Justification>()
                .is_ok()
        );
    }

    #[test]
    fn control_characters_are_rejected() {
        assert!("TICKET-1\u{0}".parse::<Justification>().is_err());
        assert!("line one\nline two".parse::<Justification>().is_err());
    }

    #[test]
    fn deserializing_blank_fails() {
        assert!(serde_json::from_str::<Justification>("\"  \"").is_err());
        assert!(serde_json::from_str::<Justification>("\"\\u200b\"").is_err());
    }

    /// Characters that show nothing: zero-width space, non-joiner, joiner, LRM and RLM; bidi
    /// embeddings and overrides; word joiner and invisible operators; bidi isolates; byte
    /// order mark; soft hyphen; combining grapheme joiner; Arabic letter mark; Mongolian
    /// vowel separator; Hangul fillers; blank Braille pattern.
    const INVISIBLE: &[char] = &[
        '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}',
        '\u{202C}', '\u{202D}', '\u{202E}', '\u{2060}', '\u{2061}', '\u{2062}', '\u{2063}',
        '\u{2064}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{FEFF}', '\u{00AD}',
        '\u{034F}', '\u{061C}', '\u{180E}', '\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}',
        '\u{2800}',
    ];

    fn refused_as_blank(text: &str) {
        let error = text.parse::<Justification>().unwrap_err();
        let message = error.to_string();
        assert!(message.contains("blank"), "{text:?}: {message}");
        assert!(
            message.contains("no visible letters or digits"),
            "{text:?}: {message}"
        );
    }

    #[test]
    fn each_invisible_character_alone_is_refused() {
        for &c in INVISIBLE {
            refused_as_blank(&c.to_string());
            refused_as_blank(&format!("{c}{c}{c}"));
        }
    }

    #[test]
    fn invisible_characters_combined_are_refused() {
        refused_as_blank(&INVISIBLE.iter().collect::<String>());
        refused_as_blank(&INVISIBLE.iter().rev().collect::<String>());
        refused_as_blank("\u{200B}\u{FEFF}\u{202E}\u{2066}\u{3164}");
    }

    #[test]
    fn invisible_characters_with_whitespace_are_refused() {
        for &c in INVISIBLE {
            refused_as_blank(&format!("  {c} \u{2003}"));
            refused_as_blank(&format!("{c}   {c}"));
        }
        let spaced: String = INVISIBLE.iter().flat_map(|&c| [c, ' ']).collect();
        refused_as_blank(&spaced);
    }

    #[test]
    fn one_visible_letter_or_digit_is_enough() {
        for text in [
            "T\u{200B}-1",
            "工单 42",
            "\u{FEFF}7",
            "\u{3164}x\u{3164}",
            "Привет",
            "٣",
        ] {
            let reason: Justification = text.parse().unwrap();
            assert_eq!(reason.as_str(), text.trim());
        }
    }

    proptest! {
        /// Any text made only of invisible characters and whitespace is refused, however
        /// long and in whatever order.
        #[test]
        fn invisible_and_whitespace_only_text_is_refused(
            text in prop::collection::vec(
                prop_oneof![prop::sample::select(INVISIBLE), prop::sample::select(WHITESPACE)],
                0..40,
            )
            .prop_map(|chars| chars.into_iter().collect::<String>())
        ) {
            let error = text.parse::<Justification>().unwrap_err();
            prop_assert!(error.to_string().contains("blank"), "{}", error);
        }

        /// The same text with one visible letter or digit anywhere in it is accepted, unless
        /// it holds a bidirectional control, which is refused whatever else is there.
        #[test]
        fn one_visible_character_among_invisible_ones_is_accepted(
            before in prop::collection::vec(prop::sample::select(INVISIBLE), 0..10),
            visible in prop::sample::select(&['a', 'Z', '7', 'é', '工', 'ж', '٣'][..]),
            after in prop::collection::vec(prop::sample::select(INVISIBLE), 0..10),
        ) {
            let text: String = before.into_iter().chain([visible]).chain(after).collect();
            let reorders = text.chars().any(reorders_or_breaks_lines);
            prop_assert_eq!(text.parse::<Justification>().is_ok(), !reorders, "{:?}", text);
        }
    }

    /// Whitespace that `str::trim` removes, mixed into the invisible catalogue.
    const WHITESPACE: &[char] = &[' ', '\u{00A0}', '\u{2003}', '\u{3000}', '\u{2028}'];

    #[test]
    fn punctuation_alone_is_refused() {
        refused_as_blank("-");
        refused_as_blank("...?!");
        refused_as_blank("\u{200B}#\u{200B}");
    }
}
