//! Instants: when data was collected, a preference changed, a relationship ended.

use std::{
    fmt,
    time::{SystemTime, UNIX_EPOCH},
};

use chrono::{DateTime, TimeDelta, Utc};

use crate::CoreError;

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// An instant in UTC, with nanosecond precision, from 1677-09-21 to 2262-04-11.
///
/// Stored as nanoseconds since the Unix epoch in an `i64`, so that comparing instants and
/// adding periods, which `check()` and the retention sweep do for every record, are integer
/// operations; chrono's `DateTime<Utc>` is the calendar face of the API. Every constructor
/// and every addition is checked: an instant outside the range is a typed error, never a
/// wrapped value. Serialized as RFC 3339 (`2025-03-05T00:00:00Z`). With the `time` feature,
/// converts from and to `time::OffsetDateTime`.
///
/// ```
/// use chrono::TimeDelta;
/// use steward_core::Timestamp;
///
/// let collected: Timestamp = "2025-03-05T12:00:00Z".parse()?;
/// let due = collected.checked_add(TimeDelta::days(30))?;
/// assert_eq!(due.to_string(), "2025-04-04T12:00:00Z");
/// assert!("2300-01-01T00:00:00Z".parse::<Timestamp>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest instant: 1677-09-21T00:12:43.145224192Z.
    pub const MIN: Self = Self(i64::MIN);

    /// The latest instant: 2262-04-11T23:47:16.854775807Z.
    pub const MAX: Self = Self(i64::MAX);

    /// The current instant from the system clock (which is inside the range until 2262).
    #[must_use]
    pub fn now() -> Self {
        // Straight from the system clock's nanoseconds: no calendar conversion on a path the
        // audit trail takes for every entry. A clock before 1970 or past 2262 saturates.
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_nanos()).map_or(Self::MAX, Self),
            Err(before) => i64::try_from(before.duration().as_nanos())
                .ok()
                .and_then(i64::checked_neg)
                .map_or(Self::MIN, Self),
        }
    }

    /// The instant `seconds` after the Unix epoch.
    ///
    /// # Errors
    ///
    /// [`CoreError::InstantOutOfRange`] outside the years 1677 to 2262.
    pub fn from_unix_seconds(seconds: i64) -> Result<Self, CoreError> {
        seconds
            .checked_mul(NANOS_PER_SECOND)
            .map(Self)
            .ok_or(CoreError::InstantOutOfRange {
                what: "unix seconds",
            })
    }

    /// Seconds since the Unix epoch, rounded towards the past.
    #[must_use]
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SECOND)
    }

    /// Nanoseconds since the Unix epoch.
    #[must_use]
    pub const fn unix_nanos(self) -> i64 {
        self.0
    }

    /// The instant `nanos` nanoseconds after the Unix epoch; every `i64` is in range.
    #[must_use]
    pub const fn from_unix_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// The instant as chrono's `DateTime<Utc>`.
    #[must_use]
    pub const fn as_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.0)
    }

    /// This instant moved forward by `delta` (which may be negative).
    ///
    /// # Errors
    ///
    /// [`CoreError::InstantOutOfRange`] if the result leaves the range.
    pub fn checked_add(self, delta: TimeDelta) -> Result<Self, CoreError> {
        delta
            .num_nanoseconds()
            .and_then(|nanos| self.0.checked_add(nanos))
            .map(Self)
            .ok_or(CoreError::InstantOutOfRange {
                what: "adding a duration",
            })
    }
}

impl TryFrom<DateTime<Utc>> for Timestamp {
    type Error = CoreError;

    fn try_from(datetime: DateTime<Utc>) -> Result<Self, Self::Error> {
        datetime
            .timestamp_nanos_opt()
            .map(Self)
            .ok_or(CoreError::InstantOutOfRange {
                what: "converting from a date and time outside the years 1677 to 2262",
            })
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(timestamp: Timestamp) -> Self {
        timestamp.as_datetime()
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .as_datetime()
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        )
    }
}

impl std::str::FromStr for Timestamp {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let datetime = DateTime::parse_from_rfc3339(text)
            .map_err(|_| CoreError::invalid_instant(text, "not an RFC 3339 date and time"))?;
        Self::try_from(datetime.with_timezone(&Utc))
            .map_err(|_| CoreError::invalid_instant(text, "outside the years 1677 to 2262"))
    }
}

crate::serde_via_string!(Timestamp);

#[cfg(feature = "time")]
mod time_interop {
    use super::Timestamp;
    use crate::CoreError;

    impl TryFrom<time::OffsetDateTime> for Timestamp {
        type Error = CoreError;

        fn try_from(datetime: time::OffsetDateTime) -> Result<Self, Self::Error> {
            i64::try_from(datetime.unix_timestamp_nanos())
                .map(Self::from_unix_nanos)
                .map_err(|_| CoreError::InstantOutOfRange {
                    what: "converting from time::OffsetDateTime outside the years 1677 to 2262",
                })
        }
    }

    impl TryFrom<Timestamp> for time::OffsetDateTime {
        type Error = CoreError;

        fn try_from(timestamp: Timestamp) -> Result<Self, Self::Error> {
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(timestamp.unix_nanos()))
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
        assert_eq!(
            Timestamp::MAX.checked_add(TimeDelta::nanoseconds(1)),
            Err(CoreError::InstantOutOfRange {
                what: "adding a duration"
            })
        );
        assert!(
            Timestamp::MIN
                .checked_add(TimeDelta::nanoseconds(-1))
                .is_err()
        );
        assert!(Timestamp::MIN.checked_add(TimeDelta::MAX).is_err());
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
    fn instants_outside_the_range_are_refused_by_name() {
        let error = "2300-01-01T00:00:00Z".parse::<Timestamp>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid instant `2300-01-01T00:00:00Z`: outside the years 1677 to 2262"
        );
        let error = "yesterday".parse::<Timestamp>().unwrap_err();
        assert!(error.to_string().contains("not an RFC 3339"), "{error}");
        assert!(Timestamp::from_unix_seconds(i64::MAX / 1_000).is_err());
        assert!(Timestamp::try_from(DateTime::<Utc>::MAX_UTC).is_err());
    }

    #[test]
    fn range_ends_display_and_parse_back() {
        for end in [Timestamp::MIN, Timestamp::MAX] {
            assert_eq!(end.to_string().parse::<Timestamp>(), Ok(end));
        }
    }

    #[test]
    fn seconds_round_towards_the_past() {
        assert_eq!(Timestamp::from_unix_nanos(-1).unix_seconds(), -1);
        assert_eq!(Timestamp::from_unix_nanos(1_999_999_999).unix_seconds(), 1);
    }

    #[test]
    fn nanosecond_round_trip() {
        let instant = Timestamp::from_unix_nanos(1_741_132_800_123_456_789);
        assert_eq!(instant.unix_nanos(), 1_741_132_800_123_456_789);
        assert_eq!(Timestamp::try_from(instant.as_datetime()), Ok(instant));
    }

    #[cfg(feature = "time")]
    #[test]
    fn converts_from_and_to_time() {
        let odt = time::OffsetDateTime::from_unix_timestamp_nanos(1_741_132_800_123_456_789)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        let instant = Timestamp::try_from(odt).unwrap();
        assert_eq!(instant.unix_nanos(), 1_741_132_800_123_456_789);
        let back = time::OffsetDateTime::try_from(instant).unwrap();
        assert_eq!(back, odt);
    }

    #[cfg(feature = "time")]
    #[test]
    fn time_values_beyond_the_range_fail_to_convert() {
        let far = time::OffsetDateTime::from_unix_timestamp(20_000_000_000).unwrap();
        assert!(Timestamp::try_from(far).is_err());
    }
}
