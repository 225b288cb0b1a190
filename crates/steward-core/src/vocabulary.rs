//! The macros behind every closed vocabulary and string-backed type: one stable string per
//! value, parsed strictly, with serde through the same string.

/// Gives a fieldless enum its string forms: `ALL`, `as_str`, `Display`, `FromStr` and serde
/// through the same strings, so that the wire form and the parser can never disagree.
///
/// `$unknown` is a function (or closure) from the rejected text to the error `FromStr`
/// returns, so every crate names unknown values in its own error type. Used by steward-core's
/// vocabularies and by steward-consent's; not a public extension point.
#[doc(hidden)]
#[macro_export]
macro_rules! string_forms {
    ($name:ident, $error:ty, $unknown:expr, { $( $variant:ident => $text:literal, )+ }) => {
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$( Self::$variant, )+];

            /// The stable string form, as written in policy files and serialized data.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $( $text => Ok(Self::$variant), )+
                    other => Err(($unknown)(other)),
                }
            }
        }

        $crate::serde_via_string!($name);
    };
}

/// Implements serde through a type's `Display` and `FromStr`, so that the wire form is the
/// string form and deserializing validates exactly as parsing does. Used across Steward's
/// crates; not a public extension point.
#[doc(hidden)]
#[macro_export]
macro_rules! serde_via_string {
    ($($name:ty),+ $(,)?) => {$(
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }
    )+};
}

/// Declares a fieldless, non-exhaustive vocabulary enum of steward-core with its string forms;
/// an unknown string is a [`crate::CoreError::Unknown`] naming the vocabulary and the value.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident in $vocabulary:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        $crate::string_forms!(
            $name,
            $crate::CoreError,
            |other: &str| $crate::CoreError::unknown($crate::Vocabulary::$vocabulary, other),
            { $( $variant => $text, )+ }
        );
    };
}

pub(crate) use string_enum;
