//! Instants: when data was collected, a preference changed, a relationship ended.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::CoreError;

/// An instant in UTC, with nanosecond precision.
///
/// A thin, `Copy` wrapper over chrono's `DateTime<Utc>` so that every crate agrees on one
/// representation; arithmetic is checked and fails with a typed error instead of wrapping.
/// Serialized as RFC 3339 (`2025-03-05T00:00:00Z`). With the `time` feature, converts from
/// and to `time::OffsetDateTime`.
///
/// ```
/// use chrono::TimeDelta;
/// use steward_core::Timestamp;
///
/// let collected: Timestamp = "2025-03-05T12:00:00Z".parse()?;
/// let due = collected.checked_add(TimeDelta::days(30))?;
/// assert_eq!(due.to_string(), "2025-04-04T12:00:00Z");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current instant from the system clock.
    #[must_use]
    pub fn now() -> Self {
        Self(Utc::now())
    }

    /// The instant `seconds` after the Unix epoch.
    ///
    /// # Errors
    ///
    /// [`CoreError::InstantOutOfRange`] beyond chrono's range (about ±262,000 years).
    pub fn from_unix_seconds(seconds: i64) -> Result<Self, CoreError> {
        DateTime::from_timestamp(seconds, 0)
            .map(Self)
            .ok_or(CoreError::InstantOutOfRange {
                what: "unix seconds",
            })
    }

    /// Seconds since the Unix epoch, rounded towards the past.
    #[must_use]
    pub fn unix_seconds(self) -> i64 {
        self.0.timestamp()
    }

    /// Nanoseconds since the Unix epoch, for compact binary encodings.
    ///
    /// # Errors
    ///
    /// [`CoreError::InstantOutOfRange`] outside about the years 1677 to 2262, the range of
    /// an `i64` in nanoseconds.
    pub fn unix_nanos(self) -> Result<i64, CoreError> {
        self.0
            .timestamp_nanos_opt()
            .ok_or(CoreError::InstantOutOfRange {
                what: "nanoseconds since the epoch",
            })
    }

    /// The instant `nanos` nanoseconds after the Unix epoch; every `i64` is in range.
    #[must_use]
    pub fn from_unix_nanos(nanos: i64) -> Self {
        Self(DateTime::from_timestamp_nanos(nanos))
    }

    /// The chrono value inside.
    #[must_use]
    pub const fn as_datetime(self) -> DateTime<Utc> {
        self.0
    }

    /// This instant moved forward by `delta` (which may be negative).
    ///
    /// # Errors
    ///
    /// [`CoreError::InstantOutOfRange`] if the result leaves chrono's range.
    pub fn checked_add(self, delta: TimeDelta) -> Result<Self, CoreError> {
        self.0
            .checked_add_signed(delta)
            .map(Self)
            .ok_or(CoreError::InstantOutOfRange {
                what: "adding a duration",
            })
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(datetime: DateTime<Utc>) -> Self {
        Self(datetime)
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(timestamp: Timestamp) -> Self {
        timestamp.0
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

impl std::str::FromStr for Timestamp {
    type Err = chrono::ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DateTime::parse_from_rfc3339(text).map(|datetime| Self(datetime.with_timezone(&Utc)))
    }
}

#[cfg(feature = "time")]
mod time_interop {
    use chrono::DateTime;

    use super::Timestamp;
    use crate::CoreError;

    impl From<time::OffsetDateTime> for Timestamp {
        fn from(datetime: time::OffsetDateTime) -> Self {
            // time's range (years -9999..=9999) lies inside chrono's, so this cannot fail; the
            // fallback only keeps the conversion total without a panic path.
            let datetime = datetime.to_offset(time::UtcOffset::UTC);
            DateTime::from_timestamp(datetime.unix_timestamp(), datetime.nanosecond())
                .map_or_else(|| Self::from_unix_nanos(0), Self)
        }
    }

    impl TryFrom<Timestamp> for time::OffsetDateTime {
        type Error = CoreError;

        fn try_from(timestamp: Timestamp) -> Result<Self, Self::Error> {
            let datetime = timestamp.as_datetime();
            let seconds =
                time::OffsetDateTime::from_unix_timestamp(datetime.timestamp()).map_err(|_| {
                    CoreError::InstantOutOfRange {
                        what: "converting to time::OffsetDateTime",
                    }
                })?;
            seconds
                .replace_nanosecond(datetime.timestamp_subsec_nanos())
                .map_err(|_| CoreError::InstantOutOfRange {
                    what: "converting to time::OffsetDateTime",
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflowing_addition_is_an_error() {
        let end = Timestamp::from(DateTime::<Utc>::MAX_UTC);
        assert_eq!(
            end.checked_add(TimeDelta::seconds(1)),
            Err(CoreError::InstantOutOfRange {
                what: "adding a duration"
            })
        );
    }

    #[test]
    fn serializes_as_rfc3339() {
        let instant = Timestamp::from_unix_seconds(1_741_132_800).unwrap();
        assert_eq!(
            serde_json::to_string(&instant).unwrap(),
            "\"2025-03-05T00:00:00Z\""
        );
        let back: Timestamp = serde_json::from_str("\"2025-03-05T00:00:00Z\"").unwrap();
        assert_eq!(back, instant);
    }

    #[test]
    fn nanosecond_round_trip() {
        let instant = Timestamp::from_unix_nanos(1_741_132_800_123_456_789);
        assert_eq!(instant.unix_nanos(), Ok(1_741_132_800_123_456_789));
    }

    #[cfg(feature = "time")]
    #[test]
    fn converts_from_and_to_time() {
        let odt = time::OffsetDateTime::from_unix_timestamp_nanos(1_741_132_800_123_456_789)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        let instant = Timestamp::from(odt);
        assert_eq!(instant.unix_nanos(), Ok(1_741_132_800_123_456_789));
        let back = time::OffsetDateTime::try_from(instant).unwrap();
        assert_eq!(back, odt);
    }

    #[cfg(feature = "time")]
    #[test]
    fn instants_beyond_time_range_fail_to_convert() {
        let far = Timestamp::from(DateTime::<Utc>::MAX_UTC);
        assert!(time::OffsetDateTime::try_from(far).is_err());
    }
}
