//! Reading the trail: filtering its entries ([`AuditFilter`]) and summing them up for the
//! privacy officer ([`AuditReport`]).
//!
//! Both work on entries the caller has verified (with [`AuditKey::verify_chain`] or
//! [`AuditTrail::verify_against`]): a figure read from a chain that does not verify proves
//! nothing, so a report is only worth what its chain's verification is worth.
//!
//! [`AuditKey::verify_chain`]: crate::AuditKey::verify_chain
//! [`AuditTrail::verify_against`]: crate::AuditTrail::verify_against

use std::{collections::BTreeMap, fmt, str::FromStr};

use serde::Serialize;
use steward_core::{AdminId, ClauseId, CustomerId, Purpose, RecordId, StewardId, Timestamp};

use super::{
    chain::ChainedEntry,
    entry::{AuditEntry, AuditEvent, AuditOutcome, RosterChange},
};
use crate::{
    ExportCounts, ExportJobId, KeyVersion, LogsError, MasterKeyId, SubjectRequest, SubjectRight,
    SubjectStage,
};

/// The kind of an audit entry, as `steward audit log --kind` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EntryKind {
    /// `logs.access`: an attempt to open a record.
    Access,
    /// `logs.access`: a roster change.
    Roster,
    /// A data key or the master key rotated.
    Key,
    /// `logs.retention`: a customer's keys destroyed, or such a shred completed at start-up.
    Shred,
    /// `training.*`: a training export planned or finished.
    Export,
    /// `law.access`, `law.erasure`: a data subject request, at one of its stages.
    Subject,
}

impl EntryKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [Self; 6] = [
        Self::Access,
        Self::Roster,
        Self::Key,
        Self::Shred,
        Self::Export,
        Self::Subject,
    ];

    /// The kind of `event`.
    #[must_use]
    pub const fn of(event: &AuditEvent) -> Self {
        match event {
            AuditEvent::Access(_) => Self::Access,
            AuditEvent::RosterChanged { .. } => Self::Roster,
            AuditEvent::DataKeyRotated { .. } | AuditEvent::MasterKeyRotated { .. } => Self::Key,
            AuditEvent::CustomerShredded { .. }
            | AuditEvent::CustomerShreddedThrough { .. }
            | AuditEvent::ShredCompletedAtStartUp { .. } => Self::Shred,
            AuditEvent::TrainingExportPlanned(_) | AuditEvent::TrainingExportFinished { .. } => {
                Self::Export
            }
            AuditEvent::SubjectRequest { .. } => Self::Subject,
        }
    }

    /// The name `--kind` takes.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Roster => "roster",
            Self::Key => "key",
            Self::Shred => "shred",
            Self::Export => "export",
            Self::Subject => "subject",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntryKind {
    type Err = LogsError;

    /// ```
    /// use steward_logs::EntryKind;
    ///
    /// assert_eq!("shred".parse::<EntryKind>()?, EntryKind::Shred);
    /// assert!("opens".parse::<EntryKind>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| LogsError::UnknownEntryKind {
                kind: text.to_owned(),
            })
    }
}

/// A stretch of the trail's time: from `since` (inclusive) to `until` (exclusive), either
/// end open when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Period {
    since: Option<Timestamp>,
    until: Option<Timestamp>,
}

impl Period {
    /// The whole trail.
    pub const ALL: Self = Self {
        since: None,
        until: None,
    };

    /// From `since` up to, not including, `until`.
    ///
    /// # Errors
    ///
    /// [`LogsError::PeriodReversed`] if `since` is after `until`.
    pub fn new(since: Option<Timestamp>, until: Option<Timestamp>) -> Result<Self, LogsError> {
        if let (Some(since), Some(until)) = (since, until)
            && since > until
        {
            return Err(LogsError::PeriodReversed { since, until });
        }
        Ok(Self { since, until })
    }

    /// Where it starts, if it does.
    #[must_use]
    pub const fn since(&self) -> Option<Timestamp> {
        self.since
    }

    /// Where it ends (exclusive), if it does.
    #[must_use]
    pub const fn until(&self) -> Option<Timestamp> {
        self.until
    }

    /// Whether `at` lies in it.
    #[must_use]
    pub fn contains(&self, at: Timestamp) -> bool {
        self.since.is_none_or(|since| at >= since) && self.until.is_none_or(|until| at < until)
    }
}

/// Which entries `steward audit log` shows: every condition given must hold.
///
/// A steward, customer or purpose condition keeps only the entries that name one: a steward
/// is named by its access attempts and roster changes, a customer by access attempts, key
/// rotations and shreds, a purpose by access attempts.
///
/// ```
/// use steward_logs::{AuditFilter, EntryKind, Period};
///
/// let filter = AuditFilter::new(Period::ALL)
///     .with_steward("sam.steward".parse()?)
///     .with_kind(EntryKind::Access);
/// assert_eq!(filter.kinds(), &[EntryKind::Access]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditFilter {
    period: Period,
    steward: Option<StewardId>,
    customer: Option<CustomerId>,
    purpose: Option<Purpose>,
    kinds: Vec<EntryKind>,
}

impl AuditFilter {
    /// Every entry in `period`.
    #[must_use]
    pub fn new(period: Period) -> Self {
        Self {
            period,
            ..Self::default()
        }
    }

    /// Only entries naming `steward`.
    #[must_use]
    pub fn with_steward(mut self, steward: StewardId) -> Self {
        self.steward = Some(steward);
        self
    }

    /// Only entries naming `customer`.
    #[must_use]
    pub const fn with_customer(mut self, customer: CustomerId) -> Self {
        self.customer = Some(customer);
        self
    }

    /// Only access attempts for `purpose`.
    #[must_use]
    pub const fn with_purpose(mut self, purpose: Purpose) -> Self {
        self.purpose = Some(purpose);
        self
    }

    /// Also entries of `kind` (with no kind given, every kind).
    #[must_use]
    pub fn with_kind(mut self, kind: EntryKind) -> Self {
        if !self.kinds.contains(&kind) {
            self.kinds.push(kind);
        }
        self
    }

    /// The kinds asked for; empty means every kind.
    #[must_use]
    pub fn kinds(&self) -> &[EntryKind] {
        &self.kinds
    }

    /// Whether `entry` passes.
    #[must_use]
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        let event = entry.event();
        self.period.contains(entry.at())
            && (self.kinds.is_empty() || self.kinds.contains(&EntryKind::of(event)))
            && self
                .steward
                .as_ref()
                .is_none_or(|steward| steward_of(event) == Some(steward))
            && self
                .customer
                .is_none_or(|customer| customer_of(event) == Some(customer))
            && self.purpose.is_none_or(|purpose| {
                entry.access().map(super::entry::AccessEvent::purpose) == Some(purpose)
            })
    }

    /// The entries of `entries` that pass, in chain order.
    pub fn apply<'a>(
        &'a self,
        entries: &'a [ChainedEntry],
    ) -> impl Iterator<Item = &'a ChainedEntry> + 'a {
        entries
            .iter()
            .filter(move |chained| self.matches(chained.entry()))
    }
}

/// The steward an event names, if any.
#[must_use]
pub fn steward_of(event: &AuditEvent) -> Option<&StewardId> {
    match event {
        AuditEvent::Access(access) => Some(access.steward()),
        AuditEvent::RosterChanged { change, .. } => Some(change.steward()),
        _ => None,
    }
}

/// The customer an event names, if any.
#[must_use]
pub const fn customer_of(event: &AuditEvent) -> Option<CustomerId> {
    match event {
        AuditEvent::Access(access) => Some(access.customer()),
        AuditEvent::DataKeyRotated { customer, .. }
        | AuditEvent::CustomerShredded { customer }
        | AuditEvent::CustomerShreddedThrough { customer, .. }
        | AuditEvent::ShredCompletedAtStartUp { customer, .. } => Some(*customer),
        AuditEvent::SubjectRequest { request, .. } => Some(request.customer()),
        _ => None,
    }
}

/// How many refused attempts of one steward in a row, with no granted open between, make an
/// anomaly.
pub const REFUSALS_IN_A_ROW: u64 = 3;
/// A steward whose opens exceed this many times the median of the stewards' opens...
pub const OPENS_FACTOR: u64 = 3;
/// ...and reach at least this many, is an anomaly.
pub const OPENS_MINIMUM: u64 = 10;

/// What the trail says about one period: opens per steward and purpose, refusals with their
/// reasons, roster, key, shred and export events, and the anomalies worth a look.
///
/// Built from verified entries ([`AuditReport::build`]); entries outside the period count for
/// nothing. Anomalies, each a rule:
///
/// - [`Anomaly::RefusalsInARow`]: a steward's access attempts were refused
///   [`REFUSALS_IN_A_ROW`] times or more in a row (no granted open between).
/// - [`Anomaly::OpensFarAboveOthers`]: a steward opened more than [`OPENS_FACTOR`] times the
///   median of the opens of every steward who opened anything in the period (the upper median
///   for an even count), and at least [`OPENS_MINIMUM`] records.
/// - [`Anomaly::AfterRelationshipEnded`]: an attempt on a record of a customer whose
///   relationship had ended at that instant (as the caller's `ended` says, or as a refusal
///   citing `retention-ended` shows), whatever its outcome.
///
/// ```
/// use steward_logs::{AuditKey, AuditReport, AuditTrail, MemoryAuditStore, Period};
/// use steward_logs::AuditStore;
///
/// let trail = AuditTrail::new(
///     AuditKey::from_bytes(b"steward test key 09, not secret!")?,
///     MemoryAuditStore::new(),
/// )?;
/// trail.verify()?;
/// let entries = trail.store().entries().map_err(|error| error.to_string())?;
/// let report = AuditReport::build(&entries, Period::ALL, |_customer, _at| false);
/// assert_eq!(report.entries(), 0);
/// assert!(report.anomalies().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    period: Period,
    entries: u64,
    opens: Vec<OpenCount>,
    failed_opens: u64,
    refusals: Vec<Refusal>,
    roster: Vec<RosterEvent>,
    keys: Vec<KeyEvent>,
    shreds: Vec<ShredEvent>,
    exports: Vec<ExportEvent>,
    subject_requests: Vec<SubjectRequestEvent>,
    anomalies: Vec<Anomaly>,
}

/// How many records one steward opened for one purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenCount {
    /// Who.
    pub steward: StewardId,
    /// Why.
    pub purpose: Purpose,
    /// How many records were opened (granted and decrypted).
    pub opens: u64,
}

/// A refused access attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// When.
    pub at: Timestamp,
    /// Who asked.
    pub steward: StewardId,
    /// For what.
    pub purpose: Purpose,
    /// Whose record.
    pub customer: CustomerId,
    /// Which record.
    pub record: RecordId,
    /// The clause that refused.
    pub clause: ClauseId,
    /// The reason, as the trail's code names it (`not-on-roster`, `retention-ended`, ...).
    pub reason: &'static str,
}

/// A roster change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterEvent {
    /// When.
    pub at: Timestamp,
    /// Added or removed, and who.
    pub change: RosterChange,
    /// The admin who made it.
    pub by: AdminId,
}

/// A key event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum KeyEvent {
    /// A customer's data key rotated.
    DataKeyRotated {
        /// When.
        at: Timestamp,
        /// Whose.
        customer: CustomerId,
        /// The new version.
        version: KeyVersion,
    },
    /// The master key rotated.
    MasterKeyRotated {
        /// When.
        at: Timestamp,
        /// The new master key.
        to: MasterKeyId,
    },
}

/// A customer's keys destroyed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShredEvent {
    /// When.
    pub at: Timestamp,
    /// Whose.
    pub customer: CustomerId,
    /// The newest version destroyed, if the trail names one.
    pub through: Option<KeyVersion>,
    /// Completed at start-up, after the process died between the entry and the deletion.
    pub completed_at_start_up: bool,
}

/// A training export, planned or finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportEvent {
    /// When.
    pub at: Timestamp,
    /// The job.
    pub job: ExportJobId,
    /// Planned (before anything was decrypted) or finished.
    pub stage: ExportStage,
    /// Records taken and left out.
    pub counts: ExportCounts,
}

/// Where a training export was when the trail recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ExportStage {
    /// Planned before anything was decrypted.
    Planned,
    /// Ended: what it really exported.
    Finished,
}

/// A data subject request (GDPR Art. 15, 17, 20) at one of its stages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectRequestEvent {
    /// When.
    pub at: Timestamp,
    /// Which right (`law.access`, `law.erasure`).
    pub right: SubjectRight,
    /// Whose, under which reference, verified by whom.
    pub request: SubjectRequest,
    /// Where it stood.
    pub stage: SubjectStage,
}

/// Something in the period worth a look (see [`AuditReport`] for the rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Anomaly {
    /// A steward was refused this many times in a row.
    RefusalsInARow {
        /// Who.
        steward: StewardId,
        /// How many refusals in the run.
        refusals: u64,
        /// The first refusal of the run.
        from: Timestamp,
        /// The last.
        to: Timestamp,
    },
    /// A steward opened far more records than the others.
    OpensFarAboveOthers {
        /// Who.
        steward: StewardId,
        /// Their opens.
        opens: u64,
        /// The median of every opening steward's opens.
        median: u64,
    },
    /// An attempt on a record whose customer's relationship had ended.
    AfterRelationshipEnded {
        /// When.
        at: Timestamp,
        /// Who asked.
        steward: StewardId,
        /// Whose record.
        customer: CustomerId,
        /// Which record.
        record: RecordId,
        /// Whether it opened.
        opened: bool,
    },
}

impl AuditReport {
    /// Sums up the entries of `entries` that lie in `period`. `ended(customer, at)` says
    /// whether `customer`'s relationship had ended at `at` (from the fact log; the trail
    /// does not hold relationships).
    #[must_use]
    pub fn build(
        entries: &[ChainedEntry],
        period: Period,
        ended: impl Fn(CustomerId, Timestamp) -> bool,
    ) -> Self {
        let mut report = Self {
            period,
            entries: 0,
            opens: Vec::new(),
            failed_opens: 0,
            refusals: Vec::new(),
            roster: Vec::new(),
            keys: Vec::new(),
            shreds: Vec::new(),
            exports: Vec::new(),
            subject_requests: Vec::new(),
            anomalies: Vec::new(),
        };
        let mut opens: BTreeMap<(StewardId, Purpose), u64> = BTreeMap::new();
        // A steward's current run of refusals: its length, first and last instant.
        let mut runs: BTreeMap<StewardId, (u64, Timestamp, Timestamp)> = BTreeMap::new();
        for entry in entries.iter().map(ChainedEntry::entry) {
            let at = entry.at();
            if !period.contains(at) {
                continue;
            }
            report.entries = report.entries.saturating_add(1);
            match entry.event() {
                AuditEvent::Access(access) => {
                    let steward = access.steward();
                    let outcome = access.outcome();
                    let retention_refused =
                        matches!(outcome, AuditOutcome::Denied(crate::Denial::RetentionEnded));
                    if ended(access.customer(), at) || retention_refused {
                        report.anomalies.push(Anomaly::AfterRelationshipEnded {
                            at,
                            steward: steward.clone(),
                            customer: access.customer(),
                            record: access.record(),
                            opened: outcome == AuditOutcome::Opened,
                        });
                    }
                    match outcome {
                        AuditOutcome::Opened => {
                            let count = opens
                                .entry((steward.clone(), access.purpose()))
                                .or_insert(0);
                            *count = count.saturating_add(1);
                            if let Some(run) = runs.remove(steward) {
                                report.push_run(steward.clone(), run);
                            }
                        }
                        AuditOutcome::Denied(denial) => {
                            report.refusals.push(Refusal {
                                at,
                                steward: steward.clone(),
                                purpose: access.purpose(),
                                customer: access.customer(),
                                record: access.record(),
                                clause: denial.clause(),
                                reason: denial.code(),
                            });
                            let run = runs.entry(steward.clone()).or_insert((0, at, at));
                            run.0 = run.0.saturating_add(1);
                            run.2 = at;
                        }
                        AuditOutcome::Failed(_) => {
                            report.failed_opens = report.failed_opens.saturating_add(1);
                        }
                    }
                }
                AuditEvent::RosterChanged { change, by } => report.roster.push(RosterEvent {
                    at,
                    change: change.clone(),
                    by: by.clone(),
                }),
                AuditEvent::DataKeyRotated { customer, version } => {
                    report.keys.push(KeyEvent::DataKeyRotated {
                        at,
                        customer: *customer,
                        version: *version,
                    });
                }
                AuditEvent::MasterKeyRotated { to } => {
                    report
                        .keys
                        .push(KeyEvent::MasterKeyRotated { at, to: to.clone() });
                }
                AuditEvent::CustomerShredded { customer } => report.shreds.push(ShredEvent {
                    at,
                    customer: *customer,
                    through: None,
                    completed_at_start_up: false,
                }),
                AuditEvent::CustomerShreddedThrough { customer, through } => {
                    report.shreds.push(ShredEvent {
                        at,
                        customer: *customer,
                        through: *through,
                        completed_at_start_up: false,
                    });
                }
                AuditEvent::ShredCompletedAtStartUp { customer, through } => {
                    report.shreds.push(ShredEvent {
                        at,
                        customer: *customer,
                        through: *through,
                        completed_at_start_up: true,
                    });
                }
                AuditEvent::TrainingExportPlanned(plan) => report.exports.push(ExportEvent {
                    at,
                    job: plan.job,
                    stage: ExportStage::Planned,
                    counts: plan.counts,
                }),
                AuditEvent::TrainingExportFinished { job, counts, .. } => {
                    report.exports.push(ExportEvent {
                        at,
                        job: *job,
                        stage: ExportStage::Finished,
                        counts: *counts,
                    });
                }
                AuditEvent::SubjectRequest {
                    right,
                    request,
                    stage,
                } => report.subject_requests.push(SubjectRequestEvent {
                    at,
                    right: *right,
                    request: request.clone(),
                    stage: stage.clone(),
                }),
            }
        }
        for (steward, run) in runs {
            report.push_run(steward, run);
        }
        report.opens = opens
            .into_iter()
            .map(|((steward, purpose), opens)| OpenCount {
                steward,
                purpose,
                opens,
            })
            .collect();
        report.flag_heavy_openers();
        report
    }

    fn push_run(&mut self, steward: StewardId, (refusals, from, to): (u64, Timestamp, Timestamp)) {
        if refusals >= REFUSALS_IN_A_ROW {
            self.anomalies.push(Anomaly::RefusalsInARow {
                steward,
                refusals,
                from,
                to,
            });
        }
    }

    fn flag_heavy_openers(&mut self) {
        let mut per_steward: BTreeMap<&StewardId, u64> = BTreeMap::new();
        for count in &self.opens {
            let total = per_steward.entry(&count.steward).or_insert(0);
            *total = total.saturating_add(count.opens);
        }
        let mut totals: Vec<u64> = per_steward.values().copied().collect();
        totals.sort_unstable();
        let Some(&median) = totals.get(totals.len() / 2) else {
            return;
        };
        let flagged: Vec<Anomaly> = per_steward
            .into_iter()
            .filter(|&(_, opens)| {
                opens >= OPENS_MINIMUM && opens > median.saturating_mul(OPENS_FACTOR)
            })
            .map(|(steward, opens)| Anomaly::OpensFarAboveOthers {
                steward: steward.clone(),
                opens,
                median,
            })
            .collect();
        self.anomalies.extend(flagged);
    }

    /// The period it covers.
    #[must_use]
    pub const fn period(&self) -> Period {
        self.period
    }

    /// How many entries of the chain lie in the period.
    #[must_use]
    pub const fn entries(&self) -> u64 {
        self.entries
    }

    /// Records opened, per steward and purpose (sorted).
    #[must_use]
    pub fn opens(&self) -> &[OpenCount] {
        &self.opens
    }

    /// Attempts that were allowed but did not open (shredded, tampered, key unavailable).
    #[must_use]
    pub const fn failed_opens(&self) -> u64 {
        self.failed_opens
    }

    /// Refused attempts, in chain order.
    #[must_use]
    pub fn refusals(&self) -> &[Refusal] {
        &self.refusals
    }

    /// Roster changes, in chain order.
    #[must_use]
    pub fn roster(&self) -> &[RosterEvent] {
        &self.roster
    }

    /// Key rotations, in chain order.
    #[must_use]
    pub fn keys(&self) -> &[KeyEvent] {
        &self.keys
    }

    /// Shreds, in chain order.
    #[must_use]
    pub fn shreds(&self) -> &[ShredEvent] {
        &self.shreds
    }

    /// Training exports, in chain order.
    #[must_use]
    pub fn exports(&self) -> &[ExportEvent] {
        &self.exports
    }

    /// Data subject requests, each stage, in chain order.
    #[must_use]
    pub fn subject_requests(&self) -> &[SubjectRequestEvent] {
        &self.subject_requests
    }

    /// The anomalies worth a look.
    #[must_use]
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use serde_json::{Value, json};

    use super::*;

    const ADA: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01";
    const BEN: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a02";
    const RECORD: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a99";

    fn at(second: u32) -> String {
        format!("2026-01-01T00:00:{second:02}Z")
    }

    /// Entries as a store would hand them back (their hashes are not checked here: the
    /// report reads entries the caller verified).
    fn chain(events: &[(u32, Value)]) -> Vec<ChainedEntry> {
        events
            .iter()
            .enumerate()
            .map(|(sequence, (second, event))| {
                serde_json::from_value(json!({
                    "sequence": sequence,
                    "entry": { "at": at(*second), "event": event },
                    "previous": "00".repeat(32),
                    "hash": "00".repeat(32),
                }))
                .unwrap()
            })
            .collect()
    }

    fn access(steward: &str, customer: &str, outcome: Value) -> Value {
        json!({ "access": {
            "steward": steward,
            "purpose": "troubleshooting",
            "justification": "INC-1",
            "record": RECORD,
            "customer": customer,
            "key_version": 1,
            "outcome": outcome,
        }})
    }

    fn opened(steward: &str) -> Value {
        access(steward, ADA, json!("opened"))
    }

    fn refused(steward: &str) -> Value {
        access(
            steward,
            ADA,
            json!({ "denied": { "denial": "missing-justification" } }),
        )
    }

    fn never(_: CustomerId, _: Timestamp) -> bool {
        false
    }

    #[test]
    fn entry_kinds_parse_by_name_and_an_unknown_one_is_named() {
        for kind in EntryKind::ALL {
            assert_eq!(kind.as_str().parse::<EntryKind>().unwrap(), kind);
        }
        let error = "opens".parse::<EntryKind>().unwrap_err();
        assert!(error.to_string().contains("`opens`"), "{error}");
    }

    #[test]
    fn a_period_that_starts_after_it_ends_is_refused() {
        let since: Timestamp = at(5).parse().unwrap();
        let until: Timestamp = at(1).parse().unwrap();
        let error = Period::new(Some(since), Some(until)).unwrap_err();
        assert!(matches!(error, LogsError::PeriodReversed { .. }), "{error}");
        let period = Period::new(Some(until), Some(since)).unwrap();
        assert!(period.contains(until));
        assert!(!period.contains(since), "until is exclusive");
    }

    #[test]
    fn the_filter_keeps_only_entries_naming_the_steward_customer_purpose_and_kind() {
        let entries = chain(&[
            (1, opened("sam.steward")),
            (2, opened("kim.steward")),
            (3, access("sam.steward", BEN, json!("opened"))),
            (
                4,
                json!({ "customer-shredded-through": { "customer": ADA, "through": 1 } }),
            ),
            (
                5,
                json!({ "roster-changed": { "change": { "added": "sam.steward" }, "by": "dana.admin" } }),
            ),
        ]);
        let sequences = |filter: &AuditFilter| -> Vec<u64> {
            filter.apply(&entries).map(ChainedEntry::sequence).collect()
        };
        let sam: StewardId = "sam.steward".parse().unwrap();
        let ada: CustomerId = ADA.parse().unwrap();
        assert_eq!(
            sequences(&AuditFilter::new(Period::ALL).with_steward(sam.clone())),
            [0, 2, 4]
        );
        assert_eq!(
            sequences(&AuditFilter::new(Period::ALL).with_customer(ada)),
            [0, 1, 3]
        );
        assert_eq!(
            sequences(&AuditFilter::new(Period::ALL).with_kind(EntryKind::Shred)),
            [3]
        );
        assert_eq!(
            sequences(&AuditFilter::new(Period::ALL).with_purpose(Purpose::Troubleshooting)),
            [0, 1, 2]
        );
        let period = Period::new(Some(at(2).parse().unwrap()), Some(at(4).parse().unwrap()));
        assert_eq!(sequences(&AuditFilter::new(period.unwrap())), [1, 2]);
        assert_eq!(
            sequences(
                &AuditFilter::new(Period::ALL)
                    .with_steward(sam)
                    .with_customer(ada)
            ),
            [0]
        );
    }

    #[test]
    fn the_report_counts_opens_per_steward_and_purpose_and_lists_refusals_with_reasons() {
        let entries = chain(&[
            (1, opened("sam.steward")),
            (2, opened("sam.steward")),
            (3, refused("kim.steward")),
            (
                4,
                json!({ "customer-shredded-through": { "customer": BEN, "through": 2 } }),
            ),
            (
                5,
                json!({ "roster-changed": { "change": { "removed": "kim.steward" }, "by": "dana.admin" } }),
            ),
            (
                6,
                access("sam.steward", ADA, json!({ "failed": "shredded" })),
            ),
            (9, opened("sam.steward")),
        ]);
        let period = Period::new(None, Some(at(9).parse().unwrap())).unwrap();
        let report = AuditReport::build(&entries, period, never);
        assert_eq!(report.entries(), 6);
        assert_eq!(report.opens().len(), 1);
        assert_eq!(
            report.opens()[0].opens,
            2,
            "the open at :09 lies outside the period"
        );
        assert_eq!(report.refusals().len(), 1);
        assert_eq!(report.refusals()[0].reason, "missing-justification");
        assert_eq!(report.refusals()[0].clause, ClauseId::LogsAccess);
        assert_eq!(report.failed_opens(), 1);
        assert_eq!(report.shreds().len(), 1);
        assert_eq!(report.roster().len(), 1);
        assert!(report.subject_requests().is_empty());
        assert!(report.anomalies().is_empty(), "{:?}", report.anomalies());
    }

    #[test]
    fn three_refusals_in_a_row_are_an_anomaly_but_an_open_between_resets_the_run() {
        let interrupted = chain(&[
            (1, refused("kim.steward")),
            (2, refused("kim.steward")),
            (3, opened("kim.steward")),
            (4, refused("kim.steward")),
        ]);
        let report = AuditReport::build(&interrupted, Period::ALL, never);
        assert!(report.anomalies().is_empty(), "{:?}", report.anomalies());

        let run = chain(&[
            (1, refused("kim.steward")),
            (2, opened("sam.steward")),
            (3, refused("kim.steward")),
            (4, refused("kim.steward")),
        ]);
        let report = AuditReport::build(&run, Period::ALL, never);
        assert_eq!(
            report.anomalies(),
            [Anomaly::RefusalsInARow {
                steward: "kim.steward".parse().unwrap(),
                refusals: 3,
                from: at(1).parse().unwrap(),
                to: at(4).parse().unwrap(),
            }]
        );
    }

    #[test]
    fn a_steward_opening_more_than_three_times_the_median_and_at_least_ten_is_an_anomaly() {
        let mut events = vec![(0, opened("ann.steward")), (0, opened("ann.steward"))];
        events.push((0, opened("bob.steward")));
        events.push((0, opened("bob.steward")));
        events.push((0, opened("bob.steward")));
        // Seven opens: more than three times the median of 2 or 3, but below ten.
        events.extend((0..7).map(|_| (1, opened("cat.steward"))));
        let report = AuditReport::build(&chain(&events), Period::ALL, never);
        assert!(report.anomalies().is_empty(), "{:?}", report.anomalies());

        events.extend((0..3).map(|_| (2, opened("cat.steward"))));
        let report = AuditReport::build(&chain(&events), Period::ALL, never);
        assert_eq!(
            report.anomalies(),
            [Anomaly::OpensFarAboveOthers {
                steward: "cat.steward".parse().unwrap(),
                opens: 10,
                median: 3,
            }]
        );
    }

    #[test]
    fn attempts_on_a_customer_whose_relationship_ended_are_anomalies() {
        let entries = chain(&[
            (1, opened("sam.steward")),
            (2, access("sam.steward", BEN, json!("opened"))),
            (
                3,
                access(
                    "sam.steward",
                    BEN,
                    json!({ "denied": { "denial": "retention-ended" } }),
                ),
            ),
        ]);
        let ben: CustomerId = BEN.parse().unwrap();
        let ended_at: Timestamp = at(2).parse().unwrap();
        let report = AuditReport::build(&entries, Period::ALL, |customer, at| {
            customer == ben && at >= ended_at
        });
        let flagged: Vec<(CustomerId, bool)> = report
            .anomalies()
            .iter()
            .filter_map(|anomaly| match anomaly {
                Anomaly::AfterRelationshipEnded {
                    customer, opened, ..
                } => Some((*customer, *opened)),
                _ => None,
            })
            .collect();
        assert_eq!(flagged, [(ben, true), (ben, false)]);
        // Without the fact log's word, the refusal citing retention still shows it.
        let report = AuditReport::build(&entries, Period::ALL, never);
        assert_eq!(report.anomalies().len(), 1);
    }
}
