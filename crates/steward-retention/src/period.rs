//! Non-negative durations: retention periods and deletion windows.

use std::{fmt, str::FromStr};

use chrono::TimeDelta;

use crate::RetentionError;

const SECONDS_PER_MINUTE: u64 = 60;
const SECONDS_PER_HOUR: u64 = 60 * SECONDS_PER_MINUTE;
const SECONDS_PER_DAY: u64 = 24 * SECONDS_PER_HOUR;
const SECONDS_PER_WEEK: u64 = 7 * SECONDS_PER_DAY;

/// How long something is kept, counted from an anchor: a non-negative whole number of
/// seconds, at most [`RetentionPeriod::MAX_DAYS`] days.
///
/// A negative period cannot be built. The bound keeps every sum of two periods far inside
/// the range of an instant computation, so only the final `anchor + period` can overflow.
/// Instants span the years 1677 to 2262, so a period of centuries yields
/// [`RetentionError::InstantOutOfRange`] for every record it governs: reported by the sweep,
/// never a deletion.
///
/// # String form
///
/// A subset of ISO 8601 durations with fixed-length units only: `P30D`, `P2W`, `PT12H`,
/// `P1DT12H30M`, `PT0S`. Years and months are rejected because their length varies; write
/// days (`P365D`). Serde uses the same form, so a schedule file reads `"window": "P30D"`.
///
/// ```
/// use steward_retention::RetentionPeriod;
///
/// let period: RetentionPeriod = "P1DT12H".parse()?;
/// assert_eq!(period.as_seconds(), 36 * 3600);
/// assert_eq!(period.to_string(), "P1DT12H");
/// assert_eq!(RetentionPeriod::from_days(30)?.to_string(), "P30D");
/// assert!("-P1D".parse::<RetentionPeriod>().is_err());
/// assert!("P1Y".parse::<RetentionPeriod>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RetentionPeriod {
    seconds: u64,
}

impl RetentionPeriod {
    /// Nothing: due at the anchor itself.
    pub const ZERO: Self = Self { seconds: 0 };

    /// Longest accepted period in days: 10,000 years of 365.25 days.
    pub const MAX_DAYS: u64 = 3_652_500;

    /// The longest accepted period.
    pub const MAX: Self = Self {
        seconds: Self::MAX_DAYS * SECONDS_PER_DAY,
    };

    /// A period of whole seconds.
    ///
    /// # Errors
    ///
    /// [`RetentionError::InvalidPeriod`] beyond [`RetentionPeriod::MAX_DAYS`] days.
    pub fn from_seconds(seconds: u64) -> Result<Self, RetentionError> {
        if seconds > Self::MAX.seconds {
            return Err(RetentionError::invalid_period(
                &seconds.to_string(),
                "longer than 10,000 years",
            ));
        }
        Ok(Self { seconds })
    }

    /// A period of whole days of 86,400 seconds.
    ///
    /// # Errors
    ///
    /// [`RetentionError::InvalidPeriod`] beyond [`RetentionPeriod::MAX_DAYS`] days.
    pub fn from_days(days: u64) -> Result<Self, RetentionError> {
        days.checked_mul(SECONDS_PER_DAY)
            .ok_or_else(|| RetentionError::invalid_period(&days.to_string(), "too many days"))
            .and_then(Self::from_seconds)
    }

    /// A period of whole days, usable in constants: any `u16` number of days is far inside
    /// [`RetentionPeriod::MAX_DAYS`], so this cannot fail.
    #[must_use]
    pub const fn from_whole_days(days: u16) -> Self {
        Self {
            seconds: days as u64 * SECONDS_PER_DAY,
        }
    }

    /// The length in seconds.
    #[must_use]
    pub const fn as_seconds(self) -> u64 {
        self.seconds
    }

    /// Whether this is the zero period.
    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.seconds == 0
    }

    /// The period as a chrono duration.
    #[must_use]
    pub fn as_time_delta(self) -> TimeDelta {
        // INVARIANT: seconds <= MAX (about 3.2e11), far inside i64 and TimeDelta's range
        // (about 9.2e15 s), so the fallback is never taken; it only avoids a panic path.
        i64::try_from(self.seconds)
            .ok()
            .and_then(TimeDelta::try_seconds)
            .unwrap_or(TimeDelta::MAX)
    }

    /// The sum of two periods, which may exceed [`RetentionPeriod::MAX`]: used only inside
    /// instant arithmetic, where twice the maximum still fits.
    pub(crate) fn sum_delta(self, other: Self) -> TimeDelta {
        // INVARIANT: both are at most MAX, so the sum fits; the fallback avoids a panic path.
        self.as_time_delta()
            .checked_add(&other.as_time_delta())
            .unwrap_or(TimeDelta::MAX)
    }
}

impl fmt::Display for RetentionPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seconds == 0 {
            return f.write_str("PT0S");
        }
        let days = self.seconds / SECONDS_PER_DAY;
        let rest = self.seconds % SECONDS_PER_DAY;
        f.write_str("P")?;
        if days > 0 {
            write!(f, "{days}D")?;
        }
        if rest > 0 {
            f.write_str("T")?;
            let (hours, rest) = (rest / SECONDS_PER_HOUR, rest % SECONDS_PER_HOUR);
            let (minutes, seconds) = (rest / SECONDS_PER_MINUTE, rest % SECONDS_PER_MINUTE);
            for (value, unit) in [(hours, 'H'), (minutes, 'M'), (seconds, 'S')] {
                if value > 0 {
                    write!(f, "{value}{unit}")?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for RetentionPeriod {
    type Err = RetentionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| RetentionError::invalid_period(text, reason);
        if text.starts_with('-') {
            return Err(invalid("a period cannot be negative"));
        }
        let body = text
            .strip_prefix('P')
            .ok_or_else(|| invalid("must start with `P`, as in `P30D`"))?;
        if body.is_empty() || body == "T" {
            return Err(invalid("no amount, write `PT0S` for zero"));
        }
        let (date_part, time_part) = match body.split_once('T') {
            Some((date, time)) => (date, Some(time)),
            None => (body, None),
        };
        let mut total: u64 = 0;
        let date_units: &[(char, u64)] = &[('W', SECONDS_PER_WEEK), ('D', SECONDS_PER_DAY)];
        let time_units: &[(char, u64)] =
            &[('H', SECONDS_PER_HOUR), ('M', SECONDS_PER_MINUTE), ('S', 1)];
        total = add_components(date_part, date_units, total).map_err(invalid)?;
        if let Some(time_part) = time_part {
            if time_part.is_empty() {
                return Err(invalid("`T` must be followed by hours, minutes or seconds"));
            }
            total = add_components(time_part, time_units, total).map_err(invalid)?;
        }
        if total > Self::MAX.seconds {
            return Err(invalid("longer than 10,000 years"));
        }
        Ok(Self { seconds: total })
    }
}

/// Adds the `<digits><unit>` components of one part of a duration, units in the given order.
fn add_components(
    mut part: &str,
    units: &[(char, u64)],
    mut total: u64,
) -> Result<u64, &'static str> {
    let mut next_unit = 0;
    while !part.is_empty() {
        let digits = part
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(part.len());
        if digits == 0 {
            return Err("expected a whole number before each unit");
        }
        let (number, rest) = part.split_at(digits);
        let mut chars = rest.chars();
        let unit = chars.next().ok_or("a number without a unit")?;
        part = chars.as_str();
        let position = units
            .iter()
            .skip(next_unit)
            .position(|(u, _)| *u == unit)
            .ok_or(match unit {
                'Y' => "years have no fixed length, use days",
                'M' => "months have no fixed length, use days",
                _ => "unknown or out-of-order unit",
            })?;
        let index = next_unit + position;
        next_unit = index + 1;
        let scale = units.get(index).map_or(1, |(_, scale)| *scale);
        let amount = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .ok_or("longer than 10,000 years")?;
        total = total
            .checked_add(amount)
            .ok_or("longer than 10,000 years")?;
    }
    Ok(total)
}

/// The operational time allowed to carry out a deletion once data is due: sweeps run
/// periodically and backups rotate, so deletion cannot be instant. Zero is allowed and
/// means the data is overdue the moment it is due.
///
/// The window comes from the policy (docs/design.md section 1). Deadlines are exclusive: data due
/// at `T` with window `W` must be gone before `T + W`; at `T + W` it is overdue. Same string
/// form and bounds as [`RetentionPeriod`].
///
/// ```
/// use steward_retention::DeletionWindow;
///
/// let window: DeletionWindow = "P30D".parse()?;
/// assert_eq!(window, DeletionWindow::from_days(30)?);
/// assert_eq!(serde_json::to_string(&window)?, "\"P30D\"");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DeletionWindow(RetentionPeriod);

impl DeletionWindow {
    /// No allowance: overdue as soon as due.
    pub const ZERO: Self = Self(RetentionPeriod::ZERO);

    /// A window of the given length.
    #[must_use]
    pub const fn new(period: RetentionPeriod) -> Self {
        Self(period)
    }

    /// A window of whole days.
    ///
    /// # Errors
    ///
    /// [`RetentionError::InvalidPeriod`] beyond [`RetentionPeriod::MAX_DAYS`] days.
    pub fn from_days(days: u64) -> Result<Self, RetentionError> {
        RetentionPeriod::from_days(days).map(Self)
    }

    /// The length of the window.
    #[must_use]
    pub const fn period(self) -> RetentionPeriod {
        self.0
    }
}

impl fmt::Display for DeletionWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for DeletionWindow {
    type Err = RetentionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse().map(Self)
    }
}

steward_core::serde_via_string!(RetentionPeriod, DeletionWindow);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_combined_periods() {
        let cases = [
            ("PT0S", 0),
            ("P0D", 0),
            ("P30D", 30 * SECONDS_PER_DAY),
            ("P2W", 14 * SECONDS_PER_DAY),
            ("P1W2D", 9 * SECONDS_PER_DAY),
            ("PT90M", 90 * 60),
            ("P1DT1H1M1S", SECONDS_PER_DAY + 3661),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                text.parse::<RetentionPeriod>()
                    .map(RetentionPeriod::as_seconds),
                Ok(seconds),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_negative_variable_and_malformed_periods() {
        for text in [
            "", "P", "PT", "P1DT", "-P1D", "P-1D", "P1Y", "P1M", "30", "P1.5D", "PD", "P1H",
            "PT1D", "P1D1W", "PT1S1H", "P1D ",
        ] {
            assert!(text.parse::<RetentionPeriod>().is_err(), "{text}");
        }
        let error = "P1Y".parse::<RetentionPeriod>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid retention period `P1Y`: years have no fixed length, use days"
        );
    }

    #[test]
    fn rejects_periods_beyond_the_bound() {
        assert!("P3652500D".parse::<RetentionPeriod>().is_ok());
        assert!("P3652501D".parse::<RetentionPeriod>().is_err());
        assert!("P99999999999999999999D".parse::<RetentionPeriod>().is_err());
        assert!(RetentionPeriod::from_days(u64::MAX).is_err());
        assert!(RetentionPeriod::from_seconds(RetentionPeriod::MAX.as_seconds() + 1).is_err());
    }

    #[test]
    fn deserializing_a_negative_window_fails() {
        assert!(serde_json::from_str::<DeletionWindow>("\"-P1D\"").is_err());
        assert!(serde_json::from_str::<DeletionWindow>("-86400").is_err());
        let window: DeletionWindow = serde_json::from_str("\"P30D\"").unwrap();
        assert_eq!(window.period().as_seconds(), 30 * SECONDS_PER_DAY);
    }

    #[test]
    fn zero_displays_as_pt0s() {
        assert_eq!(RetentionPeriod::ZERO.to_string(), "PT0S");
        assert_eq!(DeletionWindow::ZERO.to_string(), "PT0S");
    }
}
