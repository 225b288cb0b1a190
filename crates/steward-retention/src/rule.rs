//! Retention rules per data category, event-based as in Purview and Google Cloud Storage.

use serde::{Deserialize, Serialize};
use steward_core::{ClauseId, DataCategory, UniqueMap};

use crate::{DeletionWindow, RetentionError, RetentionPeriod};

/// The event a rule counts its periods from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Anchor {
    /// The instant the record was collected.
    CollectedAt,
    /// The end of the customer relationship the record was collected in. While that
    /// relationship is active no period has started, so the record is kept.
    RelationshipEnd,
}

/// How due data is disposed of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DeletionMethod {
    /// Delete the records from the store.
    Delete,
    /// Delete the records and, once all of the customer's data under crypto-shred rules is
    /// due and no hold stands, destroy the customer's keys, so that every copy (backups
    /// included) becomes unreadable.
    CryptoShred,
}

/// When data of one category may be kept, and how it goes when it may not.
///
/// - `anchor`: the event the periods count from.
/// - `minimum` (optional): kept at least until `anchor + minimum`, even past the maximum.
/// - `maximum`: due at `anchor + maximum`.
/// - `window`: the deletion must be carried out before `anchor + maximum + window`.
/// - `method`: delete, or crypto-shred the customer's keys.
/// - `clause`: the clause cited by every disposition under this rule.
///
/// ```
/// use steward_core::ClauseId;
/// use steward_retention::{Anchor, DeletionMethod, DeletionWindow, RetentionPeriod, RetentionRule};
///
/// let logs = RetentionRule::logs(DeletionWindow::from_days(30)?);
/// assert_eq!(logs.anchor(), Anchor::RelationshipEnd);
/// assert_eq!(logs.maximum(), RetentionPeriod::ZERO);
/// assert_eq!(logs.clause(), ClauseId::LogsRetention);
///
/// let ip = RetentionRule::new(
///     Anchor::CollectedAt,
///     RetentionPeriod::from_days(90)?,
///     DeletionWindow::from_days(7)?,
///     DeletionMethod::Delete,
///     ClauseId::UsePurposes,
/// )?;
/// assert_eq!(ip.minimum(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RetentionRule {
    anchor: Anchor,
    minimum: Option<RetentionPeriod>,
    maximum: RetentionPeriod,
    window: DeletionWindow,
    method: DeletionMethod,
    clause: ClauseId,
}

impl RetentionRule {
    /// A rule without a minimum.
    ///
    /// # Errors
    ///
    /// [`RetentionError::ShredNeedsRelationshipEnd`] for [`DeletionMethod::CryptoShred`]
    /// with [`Anchor::CollectedAt`]: a customer's keys cover all their records, so shredding
    /// them when the oldest record is due would destroy younger records that are not.
    pub fn new(
        anchor: Anchor,
        maximum: RetentionPeriod,
        window: DeletionWindow,
        method: DeletionMethod,
        clause: ClauseId,
    ) -> Result<Self, RetentionError> {
        if method == DeletionMethod::CryptoShred && anchor != Anchor::RelationshipEnd {
            return Err(RetentionError::ShredNeedsRelationshipEnd);
        }
        Ok(Self {
            anchor,
            minimum: None,
            maximum,
            window,
            method,
            clause,
        })
    }

    /// The bundled rule for LLM request logs (`logs.retention`): anchored at the relationship
    /// end, maximum zero, the policy's deletion window, disposed of by crypto-shredding.
    #[must_use]
    pub const fn logs(window: DeletionWindow) -> Self {
        Self {
            anchor: Anchor::RelationshipEnd,
            minimum: None,
            maximum: RetentionPeriod::ZERO,
            window,
            method: DeletionMethod::CryptoShred,
            clause: ClauseId::LogsRetention,
        }
    }

    /// The default for the other categories: like the logs rule (nothing is kept past the
    /// relationship, `use.purposes` has no purpose left then) but disposed of by deletion,
    /// citing `use.purposes`.
    #[must_use]
    pub const fn end_of_relationship(window: DeletionWindow) -> Self {
        Self {
            anchor: Anchor::RelationshipEnd,
            minimum: None,
            maximum: RetentionPeriod::ZERO,
            window,
            method: DeletionMethod::Delete,
            clause: ClauseId::UsePurposes,
        }
    }

    /// This rule with a minimum retention, counted from the same anchor. A minimum longer
    /// than the maximum wins over it (an obligation to keep beats a promise to delete).
    #[must_use]
    pub const fn with_minimum(self, minimum: RetentionPeriod) -> Self {
        Self {
            minimum: Some(minimum),
            ..self
        }
    }

    /// The event the periods count from.
    #[must_use]
    pub const fn anchor(&self) -> Anchor {
        self.anchor
    }

    /// The minimum retention, if any.
    #[must_use]
    pub const fn minimum(&self) -> Option<RetentionPeriod> {
        self.minimum
    }

    /// The maximum retention.
    #[must_use]
    pub const fn maximum(&self) -> RetentionPeriod {
        self.maximum
    }

    /// The deletion window.
    #[must_use]
    pub const fn window(&self) -> DeletionWindow {
        self.window
    }

    /// How due data is disposed of.
    #[must_use]
    pub const fn method(&self) -> DeletionMethod {
        self.method
    }

    /// The clause cited by dispositions under this rule.
    #[must_use]
    pub const fn clause(&self) -> ClauseId {
        self.clause
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    anchor: Anchor,
    #[serde(default)]
    minimum: Option<RetentionPeriod>,
    maximum: RetentionPeriod,
    window: DeletionWindow,
    method: DeletionMethod,
    clause: ClauseId,
}

impl<'de> Deserialize<'de> for RetentionRule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawRule::deserialize(deserializer)?;
        let rule = Self::new(raw.anchor, raw.maximum, raw.window, raw.method, raw.clause)
            .map_err(serde::de::Error::custom)?;
        Ok(match raw.minimum {
            Some(minimum) => rule.with_minimum(minimum),
            None => rule,
        })
    }
}

/// One rule per data category.
///
/// [`RetentionSchedule::bundled`] is the policy's schedule: LLM request logs under
/// [`RetentionRule::logs`], every other category under
/// [`RetentionRule::end_of_relationship`]; [`RetentionSchedule::with_rule`] configures a
/// category. Serialized as a map from category to rule; categories missing from a file keep
/// the bundled rule for the file's `window`.
///
/// ```
/// use steward_core::{ClauseId, DataCategory};
/// use steward_retention::{DeletionWindow, RetentionPeriod, RetentionSchedule};
///
/// let window = DeletionWindow::from_days(30)?;
/// let schedule = RetentionSchedule::bundled(window);
/// let rule = schedule.rule(DataCategory::LlmRequestLog)?;
/// assert_eq!(rule.clause(), ClauseId::LogsRetention);
///
/// // Consent records must be kept three years after the relationship to show consent.
/// let consent = schedule
///     .rule(DataCategory::ConsentRecord)?
///     .with_minimum(RetentionPeriod::from_days(3 * 365)?);
/// let schedule = schedule.with_rule(DataCategory::ConsentRecord, consent);
/// assert!(schedule.rule(DataCategory::ConsentRecord)?.minimum().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionSchedule {
    window: DeletionWindow,
    rules: [RetentionRule; CATEGORY_COUNT],
}

/// The number of data categories steward-core knows; a category added there without a
/// slot here has no rule and fails closed with [`RetentionError::NoRule`].
const CATEGORY_COUNT: usize = 12;

/// The slot of a category in [`RetentionSchedule::rules`].
const fn slot(category: DataCategory) -> Option<usize> {
    Some(match category {
        DataCategory::Email => 0,
        DataCategory::Name => 1,
        DataCategory::IpAddress => 2,
        DataCategory::BrowserType => 3,
        DataCategory::BrowserVersion => 4,
        DataCategory::PagesVisited => 5,
        DataCategory::VisitTime => 6,
        DataCategory::TimeOnPages => 7,
        DataCategory::DeviceId => 8,
        DataCategory::Diagnostics => 9,
        DataCategory::LlmRequestLog => 10,
        DataCategory::ConsentRecord => 11,
        _ => return None,
    })
}

impl RetentionSchedule {
    /// The policy's schedule with the given deletion window.
    #[must_use]
    pub fn bundled(window: DeletionWindow) -> Self {
        let mut rules = [RetentionRule::end_of_relationship(window); CATEGORY_COUNT];
        if let Some(logs) = slot(DataCategory::LlmRequestLog).and_then(|i| rules.get_mut(i)) {
            *logs = RetentionRule::logs(window);
        }
        Self { window, rules }
    }

    /// This schedule with `rule` for `category`. A category steward-core added after this
    /// crate was written is ignored here and stays without a rule.
    #[must_use]
    pub fn with_rule(mut self, category: DataCategory, rule: RetentionRule) -> Self {
        if let Some(existing) = slot(category).and_then(|i| self.rules.get_mut(i)) {
            *existing = rule;
        }
        self
    }

    /// The deletion window the schedule was bundled with.
    #[must_use]
    pub const fn window(&self) -> DeletionWindow {
        self.window
    }

    /// The rule for `category`.
    ///
    /// # Errors
    ///
    /// [`RetentionError::NoRule`] for a category this crate has no slot for.
    pub fn rule(&self, category: DataCategory) -> Result<RetentionRule, RetentionError> {
        slot(category)
            .and_then(|i| self.rules.get(i))
            .copied()
            .ok_or(RetentionError::NoRule { category })
    }

    /// Every category with its rule.
    pub fn rules(&self) -> impl Iterator<Item = (DataCategory, RetentionRule)> + '_ {
        DataCategory::ALL
            .iter()
            .filter_map(|category| Some((*category, self.rule(*category).ok()?)))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    window: DeletionWindow,
    #[serde(default)]
    rules: UniqueMap<DataCategory, RetentionRule>,
}

impl Serialize for RetentionSchedule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawSchedule {
            window: self.window,
            rules: UniqueMap::from(self.rules().collect::<std::collections::BTreeMap<_, _>>()),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RetentionSchedule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawSchedule::deserialize(deserializer)?;
        Ok(raw
            .rules
            .into_map()
            .into_iter()
            .fold(Self::bundled(raw.window), |schedule, (category, rule)| {
                schedule.with_rule(category, rule)
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_category_has_a_bundled_rule() {
        let schedule = RetentionSchedule::bundled(DeletionWindow::ZERO);
        for category in DataCategory::ALL {
            assert!(schedule.rule(*category).is_ok(), "{category}");
        }
        assert_eq!(DataCategory::ALL.len(), CATEGORY_COUNT);
    }

    #[test]
    fn bundled_log_rule_is_crypto_shred_at_relationship_end() {
        let window = DeletionWindow::from_days(30).unwrap();
        let rule = RetentionSchedule::bundled(window)
            .rule(DataCategory::LlmRequestLog)
            .unwrap();
        assert_eq!(rule.method(), DeletionMethod::CryptoShred);
        assert_eq!(rule.maximum(), RetentionPeriod::ZERO);
        assert_eq!(rule.window(), window);
        assert_eq!(rule.clause(), ClauseId::LogsRetention);
    }

    #[test]
    fn crypto_shred_anchored_at_collection_is_rejected() {
        let result = RetentionRule::new(
            Anchor::CollectedAt,
            RetentionPeriod::ZERO,
            DeletionWindow::ZERO,
            DeletionMethod::CryptoShred,
            ClauseId::LogsRetention,
        );
        assert_eq!(result, Err(RetentionError::ShredNeedsRelationshipEnd));
        let json = r#"{"anchor":"collected-at","maximum":"P1D","window":"P1D",
            "method":"crypto-shred","clause":"logs.retention"}"#;
        assert!(serde_json::from_str::<RetentionRule>(json).is_err());
    }

    #[test]
    fn a_category_given_twice_is_refused_not_overwritten() {
        let rule = r#"{"anchor":"relationship-end","maximum":"PT0S","window":"P30D",
            "method":"delete","clause":"use.purposes"}"#;
        let with_minimum = r#"{"anchor":"relationship-end","minimum":"P1095D",
            "maximum":"PT0S","window":"P30D","method":"delete","clause":"use.purposes"}"#;
        let json =
            format!(r#"{{"window":"P30D","rules":{{"email":{with_minimum},"email":{rule}}}}}"#);
        let error = serde_json::from_str::<RetentionSchedule>(&json).unwrap_err();
        assert!(
            error.to_string().contains("duplicate key `email`"),
            "{error}"
        );
    }

    #[test]
    fn schedule_round_trips_through_json_and_rejects_unknown_categories() {
        let window = DeletionWindow::from_days(30).unwrap();
        let ip = RetentionRule::new(
            Anchor::CollectedAt,
            RetentionPeriod::from_days(90).unwrap(),
            window,
            DeletionMethod::Delete,
            ClauseId::UsePurposes,
        )
        .unwrap();
        let schedule = RetentionSchedule::bundled(window).with_rule(DataCategory::IpAddress, ip);
        let json = serde_json::to_string(&schedule).unwrap();
        let back: RetentionSchedule = serde_json::from_str(&json).unwrap();
        assert_eq!(back, schedule);
        let partial = r#"{"window":"P30D","rules":{"ip-address":{"anchor":"collected-at",
            "maximum":"P90D","window":"P30D","method":"delete","clause":"use.purposes"}}}"#;
        assert_eq!(
            serde_json::from_str::<RetentionSchedule>(partial).unwrap(),
            schedule
        );
        let unknown = r#"{"window":"P30D","rules":{"shoe-size":{"anchor":"collected-at",
            "maximum":"P90D","window":"P30D","method":"delete","clause":"use.purposes"}}}"#;
        let error = serde_json::from_str::<RetentionSchedule>(unknown).unwrap_err();
        assert!(error.to_string().contains("shoe-size"), "{error}");
    }
}
