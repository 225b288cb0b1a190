//! Why a person needs access right now: the justification every log opening must carry.

use std::{fmt, str::FromStr};

use crate::{CoreError, Vocabulary};

/// The reason given for an access, such as a ticket reference (`logs.access`: only when
/// necessary), and the stated reason of a legal hold or of an admin's consent change. It is
/// written into the audit trail, so it must say something a reader can see, and exactly what
/// the reader sees: blank or whitespace-only text is no justification, neither is text made
/// only of invisible characters, and no invisible character may hide anywhere in it.
///
/// Surrounding whitespace is trimmed; the rest must be 1 to 512 characters without control
/// characters, must hold at least one visible letter or digit (any script), and must hold no
/// character a reader cannot see: no Unicode default-ignorable code point (zero-width spaces
/// and joiners, the byte order mark, soft hyphens, bidi marks, embeddings, overrides and
/// isolates, variation selectors, tag characters, Hangul fillers, ...), no line or paragraph
/// separator, no blank Braille pattern and no interlinear annotation control. The error names
/// the character (`U+200B`) and its position. It must not contain request content or
/// personal data: it is an audit field.
///
/// A policy may ask for more (at least a few letters or digits, a ticket-id pattern): see
/// `steward::JustificationRule`, which the vault applies wherever it takes a justification.
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
/// // An invisible character inside a visible ticket number, named with its position.
/// let hidden = "TICKET-47\u{200B}11".parse::<Justification>().unwrap_err();
/// assert!(hidden.to_string().contains("U+200B at character 10"), "{hidden}");
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

    /// How many letters and digits (any script) the text holds: what a policy's minimum
    /// counts.
    #[must_use]
    pub fn letters_or_digits(&self) -> usize {
        self.0.chars().filter(|c| c.is_alphanumeric()).count()
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
        visible_text(
            text,
            Vocabulary::Justification,
            Self::MAX_CHARS,
            "blank: no visible letters or digits; state the reason, e.g. a ticket reference",
        )
        .map(|trimmed| Self(trimmed.into()))
    }
}

/// The reference of a data subject's request (`law.access`, `law.erasure`): the ticket or
/// case number under which the request was received and the requester's identity verified.
/// It is written into the audit trail with the request, so it follows the rules of a
/// [`Justification`]: trimmed, 1 to 128 characters, at least one visible letter or digit, no
/// control character and no character a reader cannot see.
///
/// ```
/// use steward_core::RequestReference;
///
/// let reference: RequestReference = " DSR-2026-0042 ".parse()?;
/// assert_eq!(reference.as_str(), "DSR-2026-0042");
/// assert!("".parse::<RequestReference>().is_err());
/// assert!("DSR-\u{200B}42".parse::<RequestReference>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestReference(Box<str>);

impl RequestReference {
    /// Longest accepted reference, in characters.
    pub const MAX_CHARS: usize = 128;

    /// The trimmed text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RequestReference {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        visible_text(
            text,
            Vocabulary::RequestReference,
            Self::MAX_CHARS,
            "blank: no visible letters or digits; give the request's ticket or case number",
        )
        .map(|trimmed| Self(trimmed.into()))
    }
}

crate::serde_via_string!(RequestReference);

/// `text` trimmed, if a reader of the audit trail sees exactly it: at least one visible letter
/// or digit, at most `max_chars` characters, no control character, no invisible one.
fn visible_text<'t>(
    text: &'t str,
    vocabulary: Vocabulary,
    max_chars: usize,
    blank: &'static str,
) -> Result<&'t str, CoreError> {
    let trimmed = text.trim();
    let invalid = |reason| CoreError::invalid_id(vocabulary, text, reason);
    // One message for empty, whitespace-only and invisible-only text: to a reader of the
    // audit trail they are all the same missing reason.
    if !trimmed.chars().any(is_visible_letter_or_digit) {
        return Err(invalid(blank));
    }
    if trimmed.chars().count() > max_chars {
        return Err(invalid(if max_chars == Justification::MAX_CHARS {
            "longer than 512 characters"
        } else {
            "longer than 128 characters"
        }));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(invalid("control characters are not allowed"));
    }
    // Positions count in the text as given, so that the caller finds the character where
    // they wrote it (trimmed whitespace is never invisible, so nothing is missed).
    if let Some((index, c, kind)) = text
        .chars()
        .enumerate()
        .find_map(|(index, c)| invisible_kind(c).map(|kind| (index, c, kind)))
    {
        return Err(CoreError::InvisibleCharacter {
            vocabulary,
            code_point: c,
            position: index.saturating_add(1),
            kind,
        });
    }
    Ok(trimmed)
}

crate::serde_via_string!(Justification);

/// What kind of character a reader cannot see `c` is, if it is one.
///
/// The default-ignorable code points are those of `Default_Ignorable_Code_Point` in Unicode
/// 15.1.0's DerivedCoreProperties.txt (the list has not changed since 14.0, when U+180F was
/// added). They include the bidi controls (U+061C, U+200E-200F, U+202A-202E, U+2066-2069),
/// the variation selectors (U+180B-180F, U+FE00-FE0F, U+E0100-E01EF) and the tag characters
/// (U+E0000-E007F), named here by kind. Beyond the property: line and paragraph separators
/// (which break a line without being control characters), the blank Braille pattern and the
/// interlinear annotation controls.
fn invisible_kind(c: char) -> Option<&'static str> {
    match c {
        '\u{061C}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => Some("bidirectional control"),
        '\u{180B}'..='\u{180D}'
        | '\u{180F}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{E0100}'..='\u{E01EF}' => Some("variation selector"),
        '\u{E0000}'..='\u{E007F}' => Some("tag character"),
        '\u{2028}' | '\u{2029}' => Some("line or paragraph separator"),
        '\u{2800}' | '\u{FFF9}'..='\u{FFFB}' => Some("invisible character"),
        _ if is_default_ignorable(c) => Some("invisible (default-ignorable) character"),
        _ => None,
    }
}

/// `Default_Ignorable_Code_Point`, Unicode 15.1.0 (DerivedCoreProperties.txt), as inclusive
/// ranges in code point order.
const DEFAULT_IGNORABLE: [(char, char); 17] = [
    ('\u{00AD}', '\u{00AD}'),   // SOFT HYPHEN
    ('\u{034F}', '\u{034F}'),   // COMBINING GRAPHEME JOINER
    ('\u{061C}', '\u{061C}'),   // ARABIC LETTER MARK
    ('\u{115F}', '\u{1160}'),   // HANGUL CHOSEONG FILLER..HANGUL JUNGSEONG FILLER
    ('\u{17B4}', '\u{17B5}'),   // KHMER VOWEL INHERENT AQ..KHMER VOWEL INHERENT AA
    ('\u{180B}', '\u{180F}'),   // MONGOLIAN FREE VARIATION SELECTORS, VOWEL SEPARATOR
    ('\u{200B}', '\u{200F}'),   // ZERO WIDTH SPACE..RIGHT-TO-LEFT MARK
    ('\u{202A}', '\u{202E}'),   // LEFT-TO-RIGHT EMBEDDING..RIGHT-TO-LEFT OVERRIDE
    ('\u{2060}', '\u{206F}'),   // WORD JOINER..NOMINAL DIGIT SHAPES (U+2065 reserved)
    ('\u{3164}', '\u{3164}'),   // HANGUL FILLER
    ('\u{FE00}', '\u{FE0F}'),   // VARIATION SELECTOR-1..16
    ('\u{FEFF}', '\u{FEFF}'),   // ZERO WIDTH NO-BREAK SPACE (byte order mark)
    ('\u{FFA0}', '\u{FFA0}'),   // HALFWIDTH HANGUL FILLER
    ('\u{FFF0}', '\u{FFF8}'),   // reserved
    ('\u{1BCA0}', '\u{1BCA3}'), // SHORTHAND FORMAT LETTER OVERLAP..UP STEP
    ('\u{1D173}', '\u{1D17A}'), // MUSICAL SYMBOL BEGIN BEAM..END PHRASE
    ('\u{E0000}', '\u{E0FFF}'), // LANGUAGE TAG, TAG SPACE..CANCEL TAG, VARIATION SELECTOR-17..256, reserved
];

/// Whether `c` has the Unicode property `Default_Ignorable_Code_Point`.
fn is_default_ignorable(c: char) -> bool {
    DEFAULT_IGNORABLE
        .iter()
        .any(|(first, last)| (*first..=*last).contains(&c))
}

/// Whether `c` is a letter or digit that shows when printed.
///
/// `char::is_alphanumeric` alone is not enough: the Hangul fillers are letters (category Lo)
/// that render as nothing, so text made of them would pass as a reason while saying nothing.
/// The other invisible characters (zero-width, format and bidi controls, the blank Braille
/// pattern) are not letters or digits at all.
fn is_visible_letter_or_digit(c: char) -> bool {
    c.is_alphanumeric() && invisible_kind(c).is_none()
}

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
        for (text, named) in [
            (
                "TICKET-1 \u{202E}1-TEKCIT",
                "bidirectional control U+202E at character 10",
            ),
            (
                "INC-7\u{2066}hidden\u{2069}",
                "bidirectional control U+2066 at character 6",
            ),
            (
                "line one\u{2028}line two",
                "line or paragraph separator U+2028 at character 9",
            ),
            (
                "para\u{2029}graph",
                "line or paragraph separator U+2029 at character 5",
            ),
        ] {
            let error = text.parse::<Justification>().unwrap_err();
            assert!(error.to_string().contains(named), "{error}");
        }
    }

    /// Issue 18: zero-width characters, soft hyphens, tag characters or variation selectors
    /// inside a visible ticket number were accepted and stored as is.
    #[test]
    fn an_invisible_character_inside_visible_text_is_refused_naming_it_and_its_position() {
        for (text, code_point, position, kind) in [
            (
                "TICKET-1 \u{200B}zero-width",
                '\u{200B}',
                10,
                "invisible (default-ignorable)",
            ),
            (
                "INC-\u{00AD}4711",
                '\u{00AD}',
                5,
                "invisible (default-ignorable)",
            ),
            (
                "INC-4711\u{E0041}\u{E007F}",
                '\u{E0041}',
                9,
                "tag character",
            ),
            ("INC-47\u{FE0F}11", '\u{FE0F}', 7, "variation selector"),
            ("INC-47\u{E0100}11", '\u{E0100}', 7, "variation selector"),
            (
                "\u{FEFF}INC-4711",
                '\u{FEFF}',
                1,
                "invisible (default-ignorable)",
            ),
            (
                "  INC-4711\u{2060}",
                '\u{2060}',
                11,
                "invisible (default-ignorable)",
            ),
            ("T\u{3164}x", '\u{3164}', 2, "invisible (default-ignorable)"),
            ("INC 4711\u{2800}", '\u{2800}', 9, "invisible character"),
        ] {
            let error = text.parse::<Justification>().unwrap_err();
            assert_eq!(
                error,
                CoreError::InvisibleCharacter {
                    vocabulary: Vocabulary::Justification,
                    code_point,
                    position,
                    kind: match kind {
                        "invisible (default-ignorable)" =>
                            "invisible (default-ignorable) character",
                        other => other,
                    },
                },
                "{text:?}"
            );
            let message = error.to_string();
            let named = format!("U+{:04X} at character {position}", u32::from(code_point));
            assert!(message.contains(&named), "{message}");
        }
    }

    #[test]
    fn every_default_ignorable_range_is_refused_at_both_ends() {
        for (first, last) in DEFAULT_IGNORABLE {
            for c in [first, last] {
                let text = format!("INC-4711 {c}ok");
                let error = text.parse::<Justification>().unwrap_err();
                assert!(
                    matches!(error, CoreError::InvisibleCharacter { code_point, position: 10, .. } if code_point == c),
                    "U+{:04X}: {error}",
                    u32::from(c)
                );
            }
        }
        // Just outside the ranges: visible characters stay accepted.
        for c in [
            '\u{00AC}', '\u{00AE}', '\u{034E}', '\u{0350}', '\u{3163}', '\u{3165}',
        ] {
            assert!(
                format!("INC-4711 {c}").parse::<Justification>().is_ok(),
                "{c:?}"
            );
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
        assert!(serde_json::from_str::<Justification>("\"\\u200b\"").is_err());
    }

    /// Characters that show nothing: zero-width space, non-joiner, joiner, LRM and RLM; bidi
    /// embeddings and overrides; word joiner and invisible operators; bidi isolates; byte
    /// order mark; soft hyphen; combining grapheme joiner; Arabic letter mark; Mongolian
    /// vowel separator; Hangul fillers; blank Braille pattern; a variation selector and tag
    /// characters.
    const INVISIBLE: &[char] = &[
        '\u{200B}',
        '\u{200C}',
        '\u{200D}',
        '\u{200E}',
        '\u{200F}',
        '\u{202A}',
        '\u{202B}',
        '\u{202C}',
        '\u{202D}',
        '\u{202E}',
        '\u{2060}',
        '\u{2061}',
        '\u{2062}',
        '\u{2063}',
        '\u{2064}',
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        '\u{FEFF}',
        '\u{00AD}',
        '\u{034F}',
        '\u{061C}',
        '\u{180E}',
        '\u{115F}',
        '\u{1160}',
        '\u{3164}',
        '\u{FFA0}',
        '\u{2800}',
        '\u{FE0F}',
        '\u{E0041}',
        '\u{E007F}',
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
        for text in ["T-1", "工单 42", " 7", "x", "Привет", "٣"] {
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

        /// The same text with one visible letter or digit in it is still refused: no
        /// invisible character may hide beside visible ones.
        #[test]
        fn one_visible_character_among_invisible_ones_is_still_refused(
            before in prop::collection::vec(prop::sample::select(INVISIBLE), 0..10),
            visible in prop::sample::select(&['a', 'Z', '7', 'é', '工', 'ж', '٣'][..]),
            after in prop::collection::vec(prop::sample::select(INVISIBLE), 0..10),
        ) {
            let text: String = before.iter().chain([&visible]).chain(&after).collect();
            let accepted = text.parse::<Justification>().is_ok();
            prop_assert_eq!(accepted, before.is_empty() && after.is_empty(), "{:?}", text);
        }

        /// Inserting any default-ignorable code point (Unicode 15.1.0) anywhere in a valid
        /// justification makes it invalid, and the error names the code point and where it is.
        #[test]
        fn any_default_ignorable_code_point_anywhere_makes_a_justification_invalid(
            valid in "[A-Z]{2,6}-[0-9]{1,6}( [a-z0-9]{1,8}){0,4}",
            range in prop::sample::select(&DEFAULT_IGNORABLE[..]),
            offset in any::<u32>(),
            at in any::<prop::sample::Index>(),
        ) {
            prop_assert!(valid.parse::<Justification>().is_ok());
            let (first, last) = range;
            let span = u32::from(last) - u32::from(first) + 1;
            let c = char::from_u32(u32::from(first) + offset % span).unwrap();
            let mut chars: Vec<char> = valid.chars().collect();
            let index = at.index(chars.len() + 1);
            chars.insert(index, c);
            let text: String = chars.into_iter().collect();
            let error = text.parse::<Justification>().unwrap_err();
            prop_assert_eq!(
                &error,
                &CoreError::InvisibleCharacter {
                    vocabulary: Vocabulary::Justification,
                    code_point: c,
                    position: index + 1,
                    kind: invisible_kind(c).unwrap(),
                }
            );
            let named = format!("U+{:04X}", u32::from(c));
            prop_assert!(error.to_string().contains(&named), "{}", error);
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
