//! Identifiers: customers, stewards, records and policy versions.

use std::{
    borrow::Cow,
    fmt,
    hash::{Hash, Hasher},
    str::FromStr,
};

use uuid::Uuid;

use crate::{CoreError, Timestamp, Vocabulary};

/// A customer of the service: the data subject whose data, consent and logs Steward guards.
///
/// A UUID that is not nil. Services with other customer keys map them to a UUID once
/// (for example a v5 UUID over their own id) and keep the mapping.
///
/// ```
/// use steward_core::CustomerId;
///
/// let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// assert_eq!(customer.to_string(), "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10");
/// assert!("00000000-0000-0000-0000-000000000000".parse::<CustomerId>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CustomerId(Uuid);

impl Hash for CustomerId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // One 128-bit word rather than a length-prefixed byte slice: the customer-id hasher
        // (`IdHasher`) then mixes two machine words instead of looping over bytes.
        state.write_u128(self.0.as_u128());
    }
}

impl CustomerId {
    /// Wraps a UUID.
    ///
    /// # Errors
    ///
    /// [`CoreError::InvalidId`] if the UUID is nil: a nil id is what an unset field looks like.
    pub fn new(uuid: Uuid) -> Result<Self, CoreError> {
        if uuid.is_nil() {
            return Err(CoreError::invalid_id(
                Vocabulary::CustomerId,
                &uuid.to_string(),
                "the nil UUID names no customer",
            ));
        }
        Ok(Self(uuid))
    }

    /// The UUID inside.
    #[must_use]
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The 16 bytes of the UUID, as bound into sealed records and key wraps.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomerId({})", self.0)
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for CustomerId {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let uuid = Uuid::parse_str(text)
            .map_err(|_| CoreError::invalid_id(Vocabulary::CustomerId, text, "not a UUID"))?;
        Self::new(uuid)
    }
}

/// Declares a staff handle type: 1 to 64 characters of ASCII letters, digits, `.`, `-`, `_`
/// or `@`, such as a directory user name. Handles are written into audit entries and consent
/// receipts, so they must never be free text.
macro_rules! staff_handle {
    ($(#[$meta:meta])* $name:ident, $vocabulary:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Box<str>);

        impl $name {
            /// Longest accepted handle, in bytes.
            pub const MAX_LEN: usize = 64;

            /// The handle.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = CoreError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                let invalid = |reason| CoreError::invalid_id(Vocabulary::$vocabulary, text, reason);
                if text.is_empty() {
                    return Err(invalid("empty"));
                }
                if text.len() > Self::MAX_LEN {
                    return Err(invalid("longer than 64 characters"));
                }
                let allowed =
                    |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@');
                if !text.chars().all(allowed) {
                    return Err(invalid(
                        "only ASCII letters, digits, `.`, `-`, `_` and `@` are allowed",
                    ));
                }
                Ok(Self(text.into()))
            }
        }
    };
}

staff_handle!(
    /// A data steward: one of the select few people who may open log records (`logs.access`).
    ///
    /// A short handle (1 to 64 characters of ASCII letters, digits, `.`, `-`, `_` or `@`), such
    /// as a directory user name. It is written into audit entries, so it must not be free text.
    ///
    /// ```
    /// use steward_core::StewardId;
    ///
    /// let steward: StewardId = "alice.ops".parse()?;
    /// assert_eq!(steward.as_str(), "alice.ops");
    /// assert!("".parse::<StewardId>().is_err());
    /// assert!("alice; drop table".parse::<StewardId>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    StewardId,
    StewardId
);

staff_handle!(
    /// An administrator who records a preference change on a customer's behalf, for example
    /// after a support request (`policy.versioned`: consent receipts name who made a change).
    ///
    /// The same handle shape as [`StewardId`]; a distinct type, because acting for a customer
    /// grants no access to logs.
    ///
    /// ```
    /// use steward_core::AdminId;
    ///
    /// let admin: AdminId = "dana.support".parse()?;
    /// assert_eq!(admin.as_str(), "dana.support");
    /// assert!("dana support".parse::<AdminId>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    AdminId,
    AdminId
);

/// The id of one stored record: a UUID version 7, so ids sort by creation time.
///
/// ```
/// use steward_core::RecordId;
///
/// let id = RecordId::generate();
/// let parsed: RecordId = id.to_string().parse()?;
/// assert_eq!(parsed, id);
/// // A version 4 UUID is not a record id.
/// assert!("3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e".parse::<RecordId>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(Uuid);

impl RecordId {
    /// The smallest record id (timestamp zero, all random bits zero): a lower bound for range
    /// scans, and a stand-in where an id is structurally needed but none is known.
    pub const MIN: Self = Self(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0000));

    /// A fresh id for a record created now.
    #[must_use]
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// A fresh id for a record created at `instant` (the random bits still differ per call).
    #[must_use]
    pub fn generate_at(instant: Timestamp) -> Self {
        let datetime = instant.as_datetime();
        // Instants before 1970 have no v7 encoding; they clamp to the epoch rather than fail,
        // because the id only orders records and the authoritative time is stored beside it.
        let seconds = u64::try_from(datetime.timestamp()).unwrap_or(0);
        let ts =
            uuid::Timestamp::from_unix(uuid::NoContext, seconds, datetime.timestamp_subsec_nanos());
        Self(Uuid::new_v7(ts))
    }

    /// Wraps a UUID that must be version 7.
    ///
    /// # Errors
    ///
    /// [`CoreError::InvalidId`] if the UUID is not version 7.
    pub fn new(uuid: Uuid) -> Result<Self, CoreError> {
        if uuid.get_version_num() != 7 {
            return Err(CoreError::invalid_id(
                Vocabulary::RecordId,
                &uuid.to_string(),
                "not a version 7 UUID",
            ));
        }
        Ok(Self(uuid))
    }

    /// The UUID inside.
    #[must_use]
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The 16 bytes of the UUID, as written into sealed records.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({})", self.0)
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for RecordId {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let uuid = Uuid::parse_str(text)
            .map_err(|_| CoreError::invalid_id(Vocabulary::RecordId, text, "not a UUID"))?;
        Self::new(uuid)
    }
}

/// The version of the privacy policy in force, as named in consent records (`policy.versioned`).
///
/// Free-form but bounded: 1 to 64 printable characters without surrounding whitespace,
/// such as `2025-03-05`.
///
/// ```
/// use steward_core::PolicyVersion;
///
/// let version: PolicyVersion = "2025-03-05".parse()?;
/// assert_eq!(version.as_str(), "2025-03-05");
/// assert!(" ".parse::<PolicyVersion>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyVersion(Cow<'static, str>);

impl PolicyVersion {
    /// Longest accepted version label, in bytes.
    pub const MAX_LEN: usize = 64;

    /// A version label from a literal, usable in constants: `None` unless the label is 1 to
    /// 64 bytes of printable ASCII without surrounding spaces (stricter than [`FromStr`],
    /// which also takes other printable characters).
    ///
    /// ```
    /// use steward_core::PolicyVersion;
    ///
    /// const VERSION: Option<PolicyVersion> = PolicyVersion::from_static("2025-03-05");
    /// assert_eq!(VERSION.map(|v| v.to_string()).as_deref(), Some("2025-03-05"));
    /// assert!(PolicyVersion::from_static(" padded").is_none());
    /// ```
    #[must_use]
    pub const fn from_static(label: &'static str) -> Option<Self> {
        let bytes = label.as_bytes();
        let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
            return None;
        };
        if bytes.len() > Self::MAX_LEN || *first == b' ' || *last == b' ' {
            return None;
        }
        let mut remaining = bytes;
        while let [byte, rest @ ..] = remaining {
            if !(*byte == b' ' || byte.is_ascii_graphic()) {
                return None;
            }
            remaining = rest;
        }
        Some(Self(Cow::Borrowed(label)))
    }

    /// The version label.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PolicyVersion {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| CoreError::invalid_id(Vocabulary::PolicyVersion, text, reason);
        if text.trim().is_empty() {
            return Err(invalid("empty"));
        }
        if text.trim() != text {
            return Err(invalid("surrounding whitespace"));
        }
        if text.len() > Self::MAX_LEN {
            return Err(invalid("longer than 64 characters"));
        }
        if text.chars().any(char::is_control) {
            return Err(invalid("control characters are not allowed"));
        }
        Ok(Self(Cow::Owned(text.to_owned())))
    }
}

crate::serde_via_string!(CustomerId, StewardId, AdminId, RecordId, PolicyVersion);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nil_customer_id_is_rejected() {
        let error = CustomerId::new(Uuid::nil()).unwrap_err();
        assert!(error.to_string().contains("nil UUID"), "{error}");
    }

    #[test]
    fn malformed_customer_id_names_the_input() {
        let error = "cus_123".parse::<CustomerId>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid customer id `cus_123`: not a UUID"
        );
    }

    #[test]
    fn steward_id_rejects_overlong_handles() {
        let long = "a".repeat(StewardId::MAX_LEN + 1);
        assert!(long.parse::<StewardId>().is_err());
        assert!(long[..StewardId::MAX_LEN].parse::<StewardId>().is_ok());
    }

    #[test]
    fn min_record_id_is_a_valid_v7_id_and_sorts_first() {
        assert_eq!(RecordId::new(*RecordId::MIN.as_uuid()), Ok(RecordId::MIN));
        assert!(RecordId::MIN < RecordId::generate());
    }

    #[test]
    fn generated_record_ids_are_version_seven() {
        let id = RecordId::generate();
        assert_eq!(id.as_uuid().get_version_num(), 7);
        let at = Timestamp::from_unix_seconds(1_700_000_000).unwrap();
        assert_eq!(RecordId::generate_at(at).as_uuid().get_version_num(), 7);
    }

    #[test]
    fn deserializing_an_invalid_id_fails() {
        let result: Result<CustomerId, _> =
            serde_json::from_str("\"00000000-0000-0000-0000-000000000000\"");
        assert!(result.is_err());
        let result: Result<StewardId, _> = serde_json::from_str("\"bad handle\"");
        assert!(result.is_err());
    }
}
