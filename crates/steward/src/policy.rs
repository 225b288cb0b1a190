//! The policy: the bundled Coder Model policy, or one loaded from a TOML or JSON file.

use std::{num::NonZeroUsize, path::Path};

use chrono::NaiveDate;
use serde::Deserialize;
use steward_consent::{ConsentMode, KnownPolicyVersions};
use steward_core::{ClauseId, DataCategory, PolicyVersion, Purpose, PurposeGroup, UniqueMap};
use steward_logs::RosterCapacity;
use steward_retention::{
    Anchor, DeletionMethod, DeletionWindow, RetentionPeriod, RetentionRule, RetentionSchedule,
};

use crate::{Decision, Facts, JustificationRule, Request, StewardError, error::PolicyError};

/// The privacy policy as Steward enforces it: its version (and the earlier versions consent
/// records may still name), who may open logs, how consent changes apply, how long data is
/// kept, and which purposes each category of data serves.
///
/// Build it once, share it everywhere: it is immutable, `Send + Sync`, and
/// [`check`](Policy::check) only reads it.
///
/// ```
/// use steward::Policy;
///
/// let bundled = Policy::coder_model();
/// assert_eq!(bundled.version().as_str(), "2025-03-05");
///
/// let from_file = Policy::from_toml_str(
///     include_str!("../../../examples/coder-model.toml"),
///     "coder-model.toml",
/// )?;
/// assert_eq!(from_file, bundled);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    version: PolicyVersion,
    known_versions: KnownPolicyVersions,
    published: NaiveDate,
    max_stewards: RosterCapacity,
    consent_mode: ConsentMode,
    retention: RetentionSchedule,
    purposes: PurposeTable,
    justification: JustificationRule,
}

/// The deletion window of the bundled policy: the operational time to carry out a deletion
/// once data is due (sweeps, backup rotation).
const CODER_MODEL_WINDOW: DeletionWindow =
    DeletionWindow::new(RetentionPeriod::from_whole_days(30));

/// How long the bundled policy keeps consent receipts after the relationship ends, as proof
/// of what the customer agreed to (GDPR Art. 7(1)): 3 years (1095 days; periods have no
/// years, docs/retention.md).
const CODER_MODEL_CONSENT_PROOF: RetentionPeriod = RetentionPeriod::from_whole_days(1095);

/// How many data stewards the bundled policy allows: "a select few" (1 + 2).
const CODER_MODEL_MAX_STEWARDS: RosterCapacity =
    RosterCapacity::from_nonzero(NonZeroUsize::MIN.saturating_add(2));

/// The version of the bundled policy: its "last updated" date.
// Evaluated at compile time: an invalid literal fails the build, never a request.
const CODER_MODEL_VERSION: PolicyVersion =
    PolicyVersion::from_static("2025-03-05").expect("the bundled version literal is valid");

/// The publication date of the bundled policy: "Last updated: March 5, 2025".
// Evaluated at compile time: an invalid literal fails the build, never a request.
const CODER_MODEL_PUBLISHED: NaiveDate = match NaiveDate::from_ymd_opt(2025, 3, 5) {
    Some(date) => date,
    None => panic!("the bundled policy date literal is invalid"),
};

impl Policy {
    /// The Coder Model privacy policy of March 5, 2025, as bundled with Steward.
    ///
    /// - `use.purposes`: email, name and every usage-data category serve the seven listed
    ///   purposes; consent records serve providing the service and customer care.
    /// - `logs.purposes`: LLM request logs serve the four log purposes, and training where
    ///   consent permits; logs are never used outside steward access.
    /// - `logs.access`: at most 3 stewards.
    /// - `logs.retention`: everything is due when the relationship ends, deleted within a
    ///   30-day window; logs by crypto-shredding. Consent records alone are kept for a
    ///   proof period of 3 years after the end ([`consent_proof_period`](Self::consent_proof_period)),
    ///   serving only as proof (`policy.versioned`).
    /// - `training.forward-only`: the consent level at collection governs.
    /// - `logs.access` ("only when necessary"): a justification holds at least 4 letters or
    ///   digits ([`JustificationRule::coder_model`]).
    #[must_use]
    pub fn coder_model() -> Self {
        Self {
            version: CODER_MODEL_VERSION,
            known_versions: KnownPolicyVersions::new(CODER_MODEL_VERSION),
            published: CODER_MODEL_PUBLISHED,
            max_stewards: CODER_MODEL_MAX_STEWARDS,
            consent_mode: ConsentMode::ForwardOnly,
            retention: schedule_with_consent_proof(CODER_MODEL_WINDOW, CODER_MODEL_CONSENT_PROOF),
            purposes: PurposeTable::coder_model(),
            justification: JustificationRule::coder_model(),
        }
    }

    /// Loads a policy from a `.toml` or `.json` file.
    ///
    /// # Errors
    ///
    /// [`PolicyError`] naming the file, and the field and what is wrong with it: an
    /// unreadable file, an unknown extension, malformed syntax, an unknown purpose or
    /// category, zero stewards, a negative window, a duplicate rule or earlier version, a
    /// purpose the policy never allows, a justification pattern that is not a regular
    /// expression (named) or a minimum of letters or digits out of range. Nothing is
    /// half-loaded: an error yields no policy.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PolicyError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let parse = match path.extension().and_then(|extension| extension.to_str()) {
            Some("toml") => Self::from_toml_str,
            Some("json") => Self::from_json_str,
            _ => return Err(PolicyError::UnknownFormat { path: name }),
        };
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: name.clone(),
            source,
        })?;
        parse(&text, &name)
    }

    /// Parses a policy written in TOML; `source_name` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`Policy::load`].
    pub fn from_toml_str(text: &str, source_name: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|error| PolicyError::Malformed {
            source_name: source_name.to_owned(),
            message: error.to_string().trim_end().to_owned(),
        })?;
        file.validate(source_name)
    }

    /// Parses a policy written in JSON; `source_name` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`Policy::load`].
    pub fn from_json_str(text: &str, source_name: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile =
            serde_json::from_str(text).map_err(|error| PolicyError::Malformed {
                source_name: source_name.to_owned(),
                message: error.to_string(),
            })?;
        file.validate(source_name)
    }

    /// Decides whether `request` may proceed, given `facts`.
    ///
    /// Deny by default: only a rule of the policy allows. Every decision names the clause that
    /// decided it first ([`Decision::decisive`]: for a deny the rule that failed, for an
    /// allow the clause that grants it), and the clauses that support it apart
    /// ([`Decision::supporting`]). A request that cannot be evaluated (data dated after the
    /// request, a deadline out of range) is denied with [`crate::DenyReason::CannotEvaluate`].
    /// Pure (reads no clock: the request carries `now`) and allocation-free.
    ///
    /// Allows, by action (decisive clause; supporting clauses):
    /// - use: `use.purposes`; the clause of the data's category
    ///   ([`DataCategory::clause`](crate::vocabulary::DataCategory::clause): `collect.personal`,
    ///   `collect.usage`, or `policy.versioned` for consent records);
    /// - open a log: `logs.access`; `logs.purposes`, `logs.encrypted`;
    /// - train: the opt-in of the scope (`training.private`, `training.shared`,
    ///   `training.open-weight`); `training.forward-only`;
    /// - keep: `logs.retention`; the category's retention rule clause when it is another
    ///   (`use.purposes` for personal and usage data in the bundled policy).
    ///
    /// Denies, by [`DenyReason`](crate::DenyReason) (decisive clause):
    /// - `ActorMayNotAct`: the clause of the action: `use.purposes` (use), `logs.access` (open
    ///   a log), `training.default-off` (train), the clause of the data's category (keep:
    ///   keeping is the company's act of storing what it collected);
    /// - `PurposeNotListed`, `PurposeNotAllowedForCategory`: `use.purposes` (use),
    ///   `logs.purposes` (open a log), `training.default-off` (train data the policy never
    ///   lets train);
    /// - `WrongPathForCategory`, `NotOnRoster`, `MissingJustification`: `logs.access`;
    /// - `ConsentDoesNotPermit`: `training.default-off` at level `none`, else the opt-in of the
    ///   scope asked for; supported by `training.forward-only`;
    /// - `PrivateScopeOfAnotherCustomer`: `training.private`;
    /// - `ConsentUnverified`: `training.forward-only`;
    /// - `InteractiveNotOptedIn`: `use.purposes` (use for interactive features while the
    ///   customer's opt-in is not in force at the request instant, see
    ///   [`Facts::interactive_choice_at`](crate::Facts::interactive_choice_at));
    /// - `RetentionEnded`, `KeptOnlyByLegalHold`: `logs.retention`, supported by the
    ///   category's retention rule clause when it is another;
    /// - `KeptOnlyAsProof`: `use.purposes`, supported by `policy.versioned` (a use of a consent
    ///   record whose relationship has ended: it is kept only as proof, see
    ///   [`Policy::consent_proof_period`]);
    /// - `NoRelationship`: the clause of the action, as for `ActorMayNotAct` (the customer has
    ///   no relationship on record at all: nothing ended, so not `logs.retention`);
    /// - `CannotEvaluate`: `logs.retention`.
    ///
    /// The checks run in this order, so a request that fails several names the first: who
    /// may take which action for which purpose, then retention, then consent.
    ///
    /// ```
    /// use steward::{
    ///     DataRef,
    ///     MemoryFacts,
    ///     Policy,
    ///     Request,
    ///     vocabulary::{ClauseId, DataCategory, Purpose, Timestamp},
    /// };
    ///
    /// let policy = Policy::coder_model();
    /// let mut facts = MemoryFacts::new(&policy);
    /// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
    /// facts.relationships.start(customer, "2025-01-01T00:00:00Z".parse()?)?;
    ///
    /// let now: Timestamp = "2025-06-01T12:00:00Z".parse()?;
    /// let email = DataRef::new(DataCategory::Email, customer, "2025-01-02T00:00:00Z".parse()?);
    /// let support = policy.check(&Request::use_data(Purpose::CustomerCare, email, now), &facts);
    /// assert!(support.is_allowed());
    /// let marketing = policy.check(&Request::use_data(Purpose::Marketing, email, now), &facts);
    /// assert!(!marketing.is_allowed());
    /// assert_eq!(marketing.decisive(), ClauseId::UsePurposes);
    /// assert_eq!(support.clauses().to_string(), "use.purposes (supporting: collect.personal)");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn check<F: Facts + ?Sized>(&self, request: &Request<'_>, facts: &F) -> Decision {
        crate::check::evaluate(self, request, facts)
    }

    /// The version of the policy (`policy.versioned`); consent records name it.
    #[must_use]
    pub const fn version(&self) -> &PolicyVersion {
        &self.version
    }

    /// The versions a consent record may name (`policy.versioned`): this policy's
    /// [`version`](Self::version), and the earlier versions a policy file lists under
    /// `earlier-versions` (consent given under them still stands). The bundled policy knows
    /// only its own. [`crate::MemoryFacts::new`] builds its consent ledger with these.
    ///
    /// ```
    /// use steward::{Policy, consent::ConsentLedger};
    ///
    /// let policy = Policy::coder_model();
    /// assert!(policy.known_versions().contains(policy.version()));
    /// assert_eq!(policy.known_versions().iter().count(), 1);
    ///
    /// // A ledger restored from a backup accepts exactly these versions.
    /// let backup = ConsentLedger::new(policy.known_versions().clone()).to_json()?;
    /// let restored = ConsentLedger::from_json(&backup, policy.known_versions().clone())?;
    /// assert!(restored.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn known_versions(&self) -> &KnownPolicyVersions {
        &self.known_versions
    }

    /// The date the policy was published.
    #[must_use]
    pub const fn published(&self) -> NaiveDate {
        self.published
    }

    /// The most data stewards the roster may hold (`logs.access`: "a select few").
    #[must_use]
    pub const fn max_stewards(&self) -> RosterCapacity {
        self.max_stewards
    }

    /// How a change of training preference applies to earlier data (`training.forward-only`).
    #[must_use]
    pub const fn consent_mode(&self) -> ConsentMode {
        self.consent_mode
    }

    /// The retention rules per data category (`logs.retention`).
    #[must_use]
    pub const fn retention(&self) -> &RetentionSchedule {
        &self.retention
    }

    /// How long consent receipts are kept after the relationship they were recorded in ends:
    /// the minimum of the `consent-record` retention rule, set in a policy file as
    /// `consent-proof-period` (3 years when absent, as in the bundled policy). Until then they
    /// serve only as proof of what the customer agreed to (GDPR Art. 7(1), cited as
    /// `policy.versioned`): [`check`](Self::check) denies every use of a consent record once
    /// its relationship has ended ([`crate::DenyReason::KeptOnlyAsProof`]) and allows keeping
    /// it until the period has passed; then it is due.
    ///
    /// ```
    /// use steward::Policy;
    ///
    /// assert_eq!(Policy::coder_model().consent_proof_period().to_string(), "P1095D");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn consent_proof_period(&self) -> RetentionPeriod {
        self.retention
            .rule(DataCategory::ConsentRecord)
            .ok()
            .and_then(|rule| rule.minimum())
            .unwrap_or(RetentionPeriod::ZERO)
    }

    /// What the policy asks of a justification (`logs.access`: only when necessary): the
    /// vault applies it wherever it takes one ([`Vault::open`](crate::Vault::open), legal
    /// holds). Set in a policy file's `[justification]` table; the bundled rule otherwise.
    #[must_use]
    pub const fn justification_rule(&self) -> &JustificationRule {
        &self.justification
    }

    /// Whether the policy lets `category` serve `purpose`.
    #[must_use]
    pub fn allows_purpose(&self, category: DataCategory, purpose: Purpose) -> bool {
        self.purposes.allows(category, purpose)
    }

    /// This policy with another consent mode, for services that choose the strict mode
    /// (see the design FAQ: when to choose it).
    #[must_use]
    pub fn with_consent_mode(mut self, mode: ConsentMode) -> Self {
        self.consent_mode = mode;
        self
    }
}

/// Which purposes each data category may serve, as one bit set of purposes per category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PurposeTable([u32; CATEGORY_SLOTS]);

/// Slots for data categories; steward-core has 12, room is left for growth.
const CATEGORY_SLOTS: usize = 16;

// Every category has its slot and every purpose its bit: a vocabulary that outgrew the table
// would otherwise be denied everything, or allowed the wrong purposes, without a word. A
// value's discriminant is its position in `ALL` (the test below checks it).
const _: () = assert!(DataCategory::ALL.len() <= CATEGORY_SLOTS);
const _: () = assert!(Purpose::ALL.len() <= u32::BITS as usize);

impl PurposeTable {
    const EMPTY: Self = Self([0; CATEGORY_SLOTS]);

    fn coder_model() -> Self {
        let service_purposes = Purpose::ALL
            .iter()
            .filter(|purpose| purpose.group() == PurposeGroup::Service);
        let log_purposes = Purpose::ALL
            .iter()
            .filter(|purpose| purpose.group() == PurposeGroup::Logs);
        let mut table = Self::EMPTY;
        for category in DataCategory::ALL {
            match category.clause() {
                ClauseId::CollectPersonal | ClauseId::CollectUsage => {
                    for purpose in service_purposes.clone() {
                        table = table.with(*category, *purpose);
                    }
                }
                ClauseId::LogsStored => {
                    for purpose in log_purposes.clone() {
                        table = table.with(*category, *purpose);
                    }
                    table = table.with(*category, Purpose::ModelTraining);
                }
                _ => {
                    table = table
                        .with(*category, Purpose::ProvideService)
                        .with(*category, Purpose::CustomerCare);
                }
            }
        }
        table
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "every category has a slot, asserted at compile time"
    )]
    fn with(mut self, category: DataCategory, purpose: Purpose) -> Self {
        // INVARIANT: `category as usize` is below DataCategory::ALL.len() <= CATEGORY_SLOTS.
        self.0[category as usize] |= purpose_bit(purpose);
        self
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "every category has a slot, asserted at compile time"
    )]
    fn allows(&self, category: DataCategory, purpose: Purpose) -> bool {
        // INVARIANT: as in `with`.
        self.0[category as usize] & purpose_bit(purpose) != 0
    }
}

const fn purpose_bit(purpose: Purpose) -> u32 {
    // Purpose has 15 values: every discriminant has its own bit in a u32 (asserted above).
    1 << (purpose as u32)
}

/// The policy file as written; [`PolicyFile::validate`] turns it into a [`Policy`] or names
/// the first thing wrong with it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PolicyFile {
    version: PolicyVersion,
    #[serde(default)]
    earlier_versions: Vec<PolicyVersion>,
    published: NaiveDate,
    max_stewards: u64,
    #[serde(default)]
    consent_mode: ConsentMode,
    deletion_window: DeletionWindow,
    /// Absent in files written before the setting existed: they mean the bundled period.
    #[serde(default)]
    consent_proof_period: Option<RetentionPeriod>,
    purposes: UniqueMap<DataCategory, Vec<Purpose>>,
    #[serde(default)]
    retention: Vec<RuleEntry>,
    #[serde(default)]
    justification: Option<JustificationFile>,
}

/// The `[justification]` table of a policy file; a missing field takes the bundled value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct JustificationFile {
    min_letters_or_digits: Option<u64>,
    pattern: Option<String>,
}

/// One retention rule in a policy file: the category it governs, then the rule.
#[derive(Deserialize)]
struct RuleEntry {
    category: DataCategory,
    #[serde(flatten)]
    rule: RetentionRule,
}

impl PolicyFile {
    fn validate(self, source_name: &str) -> Result<Policy, PolicyError> {
        let invalid = |field: String, problem: String| PolicyError::Invalid {
            source_name: source_name.to_owned(),
            field,
            problem,
        };
        let max_stewards = usize::try_from(self.max_stewards)
            .ok()
            .and_then(|max| RosterCapacity::new(max).ok())
            .ok_or_else(|| {
                invalid(
                    "max-stewards".to_owned(),
                    format!(
                        "`{}` is not a number of stewards: at least 1 is needed to ever open a log",
                        self.max_stewards
                    ),
                )
            })?;

        let mut known_versions = KnownPolicyVersions::new(self.version.clone());
        for (index, earlier) in self.earlier_versions.iter().enumerate() {
            let field = format!("earlier-versions[{index}]");
            if known_versions.contains(earlier) {
                let problem = if *earlier == self.version {
                    format!("`{earlier}` is the policy's own version, not an earlier one")
                } else {
                    format!("duplicate version `{earlier}`")
                };
                return Err(invalid(field, problem));
            }
            known_versions = known_versions
                .with(earlier.clone())
                .map_err(|error| invalid(field, error.to_string()))?;
        }

        let mut purposes = PurposeTable::EMPTY;
        for (category, listed) in self.purposes.as_map() {
            let field = format!("purposes.{category}");
            for (index, purpose) in listed.iter().enumerate() {
                if let Some(problem) = purpose_problem(*category, *purpose) {
                    return Err(invalid(field, problem));
                }
                if listed.iter().take(index).any(|before| before == purpose) {
                    return Err(invalid(field, format!("duplicate purpose `{purpose}`")));
                }
                purposes = purposes.with(*category, *purpose);
            }
        }

        let mut retention = schedule_with_consent_proof(
            self.deletion_window,
            self.consent_proof_period
                .unwrap_or(CODER_MODEL_CONSENT_PROOF),
        );
        for (index, entry) in self.retention.iter().enumerate() {
            let field = format!("retention[{index}]");
            if entry.category == DataCategory::ConsentRecord && self.consent_proof_period.is_some()
            {
                return Err(invalid(
                    field,
                    "a rule for `consent-record` and `consent-proof-period` both say how long \
                     consent receipts are kept: set one of them"
                        .to_owned(),
                ));
            }
            let mut earlier = self.retention.iter().take(index);
            if earlier.any(|other| other.category == entry.category) {
                return Err(invalid(
                    field,
                    format!("duplicate rule for category `{}`", entry.category),
                ));
            }
            if entry.category == DataCategory::LlmRequestLog {
                log_rule_problem(&entry.rule, self.deletion_window)
                    .map_or(Ok(()), |problem| Err(invalid(field, problem.to_owned())))?;
            }
            retention = retention.with_rule(entry.category, entry.rule);
        }

        let justification = match &self.justification {
            None => JustificationRule::coder_model(),
            Some(table) => {
                let min = table
                    .min_letters_or_digits
                    .unwrap_or(JustificationRule::CODER_MODEL_MIN_LETTERS_OR_DIGITS as u64);
                let min = usize::try_from(min)
                    .ok()
                    .filter(|min| (1..=steward_core::Justification::MAX_CHARS).contains(min))
                    .ok_or_else(|| {
                        invalid(
                            "justification.min-letters-or-digits".to_owned(),
                            format!("`{min}` is not between 1 and 512"),
                        )
                    })?;
                JustificationRule::new(min, table.pattern.as_deref()).map_err(|error| {
                    let problem = match error {
                        StewardError::InvalidJustificationRule { problem } => problem,
                        other => other.to_string(),
                    };
                    invalid("justification.pattern".to_owned(), problem)
                })?
            }
        };

        Ok(Policy {
            version: self.version,
            known_versions,
            published: self.published,
            max_stewards,
            consent_mode: self.consent_mode,
            retention,
            purposes,
            justification,
        })
    }
}

/// The bundled schedule with `window`, and consent records kept for `proof` after the
/// relationship ends: a minimum beats the zero maximum, so they are due at `end + proof` and
/// deleted within the window. `policy.versioned` is the clause they prove (consent records
/// name the version in force).
fn schedule_with_consent_proof(
    window: DeletionWindow,
    proof: RetentionPeriod,
) -> RetentionSchedule {
    let rule = RetentionRule::new(
        Anchor::RelationshipEnd,
        RetentionPeriod::ZERO,
        window,
        DeletionMethod::Delete,
        ClauseId::PolicyVersioned,
    )
    // Only crypto-shredding has an anchor it refuses; this rule deletes.
    .unwrap_or(RetentionRule::end_of_relationship(window))
    .with_minimum(proof);
    RetentionSchedule::bundled(window).with_rule(DataCategory::ConsentRecord, rule)
}

/// Why `category` may never serve `purpose`, whatever a policy file says.
fn purpose_problem(category: DataCategory, purpose: Purpose) -> Option<String> {
    let is_log = category == DataCategory::LlmRequestLog;
    match purpose.group() {
        PurposeGroup::Prohibited => Some(format!(
            "purpose `{purpose}` is never allowed: it is not among the policy's purposes \
             (use.purposes)"
        )),
        PurposeGroup::Logs if !is_log => Some(format!(
            "purpose `{purpose}` is a log purpose and serves only `llm-request-log` \
             (logs.purposes)"
        )),
        PurposeGroup::Service if is_log => Some(format!(
            "logs serve only the four log purposes and training, not `{purpose}` \
             (logs.purposes)"
        )),
        PurposeGroup::Training if !is_log => Some(format!(
            "only `llm-request-log` data may serve `{purpose}`: personal and usage data serve \
             only the listed service purposes (use.purposes)"
        )),
        PurposeGroup::Service | PurposeGroup::Logs | PurposeGroup::Training => None,
        // A purpose group this version does not know is not one the policy lists.
        _ => Some(format!(
            "purpose `{purpose}` is not among the policy's purposes"
        )),
    }
}

/// Why a retention rule for LLM request logs breaks `logs.retention` ("only for the duration
/// of your customer relationship"): nothing may keep logs past the relationship but a hold.
fn log_rule_problem(rule: &RetentionRule, deletion_window: DeletionWindow) -> Option<&'static str> {
    if rule.anchor() != Anchor::RelationshipEnd {
        return Some(
            "logs are kept only while the relationship lasts: anchor must be `relationship-end` \
             (logs.retention)",
        );
    }
    if rule.maximum() != RetentionPeriod::ZERO || rule.minimum().is_some() {
        return Some(
            "logs are kept only while the relationship lasts: maximum must be `PT0S` and no \
             minimum may be set; use a legal hold to keep specific logs longer (logs.retention)",
        );
    }
    if rule.window() > deletion_window {
        return Some(
            "the log rule's window may not exceed the policy's `deletion-window`: it bounds how \
             late logs are deleted after the relationship ends (logs.retention)",
        );
    }
    if rule.method() != DeletionMethod::CryptoShred {
        return Some(
            "logs are disposed of by `crypto-shred`, so that backups become unreadable too \
             (logs.retention)",
        );
    }
    if rule.clause() != ClauseId::LogsRetention {
        return Some("the log rule must cite `logs.retention`");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The purpose table indexes by discriminant, which the compile-time bounds above cover
    /// only if each value's discriminant is its position in `ALL`.
    #[test]
    fn every_category_and_purpose_is_numbered_by_its_position() {
        for (position, category) in DataCategory::ALL.iter().enumerate() {
            assert_eq!(*category as usize, position, "{category}");
        }
        for (position, purpose) in Purpose::ALL.iter().enumerate() {
            assert_eq!(*purpose as usize, position, "{purpose}");
        }
    }
}
