//! Training export at the custody level: one audit entry per job, written before the first
//! plaintext, and decryption only under the job's grant.
//!
//! The policy decides which records a job may read (`steward::Vault::export_training` asks
//! `Policy::check` for each); this module makes sure that whatever is decrypted for training
//! is covered by a job entry in the trail that names the scope, the counts and a digest of
//! the records planned, and that the job's end is recorded with what was really exported.

use std::fmt;

use ring::digest;
use serde::{Deserialize, Serialize};
use steward_core::{PolicyVersion, RecordId, Timestamp, TrainingScope};
use steward_redact::{RedactionCounts, Redactor, Scanner};

use crate::{
    AuditStore, ConfigError, Custody, LogsError, Plaintext, SealedRecord, audit::AuditEvent,
};

/// The id of one training export job: a UUID v7, so jobs sort by their start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExportJobId(uuid::Uuid);

impl ExportJobId {
    /// A fresh id for a job starting at `at`.
    #[must_use]
    pub fn generate_at(at: Timestamp) -> Self {
        // A clock before 1970 would be broken; the id then carries the epoch, and stays
        // unique by its random bits.
        let seconds = u64::try_from(at.unix_seconds()).unwrap_or_default();
        // INVARIANT: rem_euclid(1e9) lies in 0..1e9, which fits a u32.
        #[expect(clippy::expect_used, reason = "rem_euclid(1e9) is in 0..1e9")]
        let nanos = u32::try_from(at.unix_nanos().rem_euclid(1_000_000_000))
            .expect("sub-second nanoseconds fit a u32");
        let timestamp = uuid::Timestamp::from_unix(uuid::NoContext, seconds, nanos);
        Self(uuid::Uuid::new_v7(timestamp))
    }

    /// The 16 bytes of the UUID.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// The id whose UUID is these 16 bytes (as [`as_bytes`](Self::as_bytes) gave them).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Uuid::from_bytes(bytes))
    }
}

impl fmt::Display for ExportJobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// SHA-256 over the ids of a job's records (16 bytes each, in the order the source gave
/// them): what a model card cites, and what the trail compares between plan and outcome.
/// Serialized as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordDigest([u8; 32]);

impl RecordDigest {
    /// The 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for RecordDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordDigest({})", crate::hex::encode(&self.0))
    }
}

impl fmt::Display for RecordDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::hex::encode(&self.0))
    }
}

impl Serialize for RecordDigest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for RecordDigest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        crate::hex::decode(&text, "record digest")
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// A running [`RecordDigest`]: record ids in, one digest out, in constant memory.
#[derive(Clone)]
pub struct RecordDigester(digest::Context);

impl RecordDigester {
    /// An empty digester.
    #[must_use]
    pub fn new() -> Self {
        Self(digest::Context::new(&digest::SHA256))
    }

    /// Adds one record id.
    pub fn add(&mut self, record: RecordId) {
        self.0.update(record.as_bytes());
    }

    /// The digest of every id added, in order.
    #[must_use]
    pub fn finish(self) -> RecordDigest {
        let mut bytes = [0u8; 32];
        let digest = self.0.finish();
        if let Some(out) = digest.as_ref().first_chunk::<32>() {
            bytes = *out;
        }
        RecordDigest(bytes)
    }
}

impl Default for RecordDigester {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RecordDigester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordDigester").finish_non_exhaustive()
    }
}

/// Why a record was left out of a training export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SkipReason {
    /// The consent in force at collection does not permit the job's scope (or, in the
    /// strict mode, a later downgrade withdrew it; or a private job met another customer's
    /// record).
    Consent,
    /// The record is past its retention and serves nothing.
    RetentionDue,
    /// The record is kept only by a legal hold, which permits no use.
    LegalHoldOnly,
    /// The customer's key for the record was crypto-shredded.
    Shredded,
    /// The record did not parse or did not authenticate (altered, or no key for it).
    Tampered,
    /// The record could not be evaluated (dated after the job's instant, a deadline out of
    /// range, ...): left out because the policy fails closed, not for retention.
    CannotEvaluate,
    /// The record's customer has no relationship on record at all.
    NoRelationship,
    /// The record is not one the job's audited plan names, though nothing else keeps it out
    /// (it arrived after the plan, or came twice): a job exports only what its plan names.
    NotPlanned,
    /// The plan names the record, but the run never exported or left it out for another
    /// reason: the source no longer gave it (deleted between plan and run), or its keys
    /// could not be read.
    Missing,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Consent => "consent",
            Self::RetentionDue => "retention-due",
            Self::LegalHoldOnly => "legal-hold-only",
            Self::Shredded => "shredded",
            Self::Tampered => "tampered",
            Self::CannotEvaluate => "cannot-evaluate",
            Self::NoRelationship => "no-relationship",
            Self::NotPlanned => "not-planned",
            Self::Missing => "missing",
        })
    }
}

/// How many records a job took and left out, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportCounts {
    /// Records taken (planned, or really exported: see where the counts come from).
    pub exported: u64,
    /// Left out: consent does not permit the scope.
    pub consent: u64,
    /// Left out: past retention.
    pub retention_due: u64,
    /// Left out: kept only by a legal hold.
    pub legal_hold_only: u64,
    /// Left out: crypto-shredded.
    pub shredded: u64,
    /// Left out: did not parse or authenticate.
    pub tampered: u64,
    /// Left out: could not be evaluated. (Absent from entries of earlier builds: zero.)
    #[serde(default)]
    pub cannot_evaluate: u64,
    /// Left out: the customer has no relationship on record.
    #[serde(default)]
    pub no_relationship: u64,
    /// Left out while running: not named by the plan.
    #[serde(default)]
    pub not_planned: u64,
    /// Named by the plan but never met while running.
    #[serde(default)]
    pub missing: u64,
}

impl ExportCounts {
    /// Counts one skipped record.
    pub fn skip(&mut self, reason: SkipReason) {
        let slot = match reason {
            SkipReason::Consent => &mut self.consent,
            SkipReason::RetentionDue => &mut self.retention_due,
            SkipReason::LegalHoldOnly => &mut self.legal_hold_only,
            SkipReason::Shredded => &mut self.shredded,
            SkipReason::Tampered => &mut self.tampered,
            SkipReason::CannotEvaluate => &mut self.cannot_evaluate,
            SkipReason::NoRelationship => &mut self.no_relationship,
            SkipReason::NotPlanned => &mut self.not_planned,
            SkipReason::Missing => &mut self.missing,
        };
        *slot = slot.saturating_add(1);
    }

    /// Counts one record taken.
    pub fn take(&mut self) {
        self.exported = self.exported.saturating_add(1);
    }

    /// Every record seen (the [`missing`](Self::missing) ones were not).
    #[must_use]
    pub const fn seen(&self) -> u64 {
        self.exported
            .saturating_add(self.consent)
            .saturating_add(self.retention_due)
            .saturating_add(self.legal_hold_only)
            .saturating_add(self.shredded)
            .saturating_add(self.tampered)
            .saturating_add(self.cannot_evaluate)
            .saturating_add(self.no_relationship)
            .saturating_add(self.not_planned)
    }

    /// The counts entries of earlier builds did not have, in their canonical order: all zero
    /// in an entry that an earlier build could have written.
    #[must_use]
    pub(crate) const fn later_counts(&self) -> [u64; 4] {
        [
            self.cannot_evaluate,
            self.no_relationship,
            self.not_planned,
            self.missing,
        ]
    }
}

/// The records a job's plan names, in the order the source gave them: what its grant may
/// decrypt, and the digest its plan entry carries. Holds 16 bytes per planned record.
#[derive(Debug, Clone, Default)]
pub struct PlannedRecords {
    ids: Vec<RecordId>,
    digest: RecordDigester,
}

impl PlannedRecords {
    /// No record yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Names one more record.
    pub fn add(&mut self, record: RecordId) {
        self.ids.push(record);
        self.digest.add(record);
    }

    /// How many records are named.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The digest of the named ids, in order: the plan's.
    #[must_use]
    pub fn digest(&self) -> RecordDigest {
        self.digest.clone().finish()
    }
}

/// A planned record the job did not export, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotExported {
    /// The record.
    pub record: RecordId,
    /// Why it was not exported.
    pub reason: SkipReason,
}

/// Where one planned record stands in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Planned {
    Pending,
    Exported,
    LeftOut(SkipReason),
    /// A later place of a record the plan names more than once: the record stands at its
    /// first place only.
    Repeat,
}

/// What a job plans to export, decided before anything is decrypted: written to the trail
/// by [`Custody::begin_export`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportPlan {
    /// The job.
    pub job: ExportJobId,
    /// Whose models the job trains.
    pub scope: TrainingScope,
    /// The policy version the decisions were made under.
    pub policy_version: PolicyVersion,
    /// The instant every decision of the job is made at.
    pub at: Timestamp,
    /// Records planned (as `exported`) and left out, by reason.
    pub counts: ExportCounts,
    /// The digest of the planned records' ids.
    pub digest: RecordDigest,
}

/// The right to decrypt records for one job, given once its plan is in the trail.
///
/// Not `Clone`: one job, one grant. It counts and digests what it decrypts, and
/// [`Custody::finish_export`] writes that to the trail.
pub struct ExportGrant {
    plan: ExportPlan,
    exported: RecordDigester,
    counts: ExportCounts,
    /// Secrets redacted from exported bodies, by kind.
    redactions: RedactionCounts,
    /// The planned ids in plan order, each with where it stands in the run.
    planned: Vec<(RecordId, Planned)>,
    /// Each planned id with its first place in `planned`, sorted by id.
    by_id: Vec<(RecordId, usize)>,
    /// The place in `planned` after the last record the run met: a source gives the run its
    /// records in plan order, so most records are found here without a search (a binary
    /// search of 100k ids in random order was a fifth of an export's time, mostly cache
    /// misses).
    next: usize,
}

impl ExportGrant {
    /// The plan the grant was given for.
    #[must_use]
    pub const fn plan(&self) -> &ExportPlan {
        &self.plan
    }

    /// Counts a record left out while running the job that has no id to name (it did not
    /// parse); the custody counts the ones it decrypts, and the ones that fail to
    /// authenticate.
    pub fn skip(&mut self, reason: SkipReason) {
        self.counts.skip(reason);
    }

    /// Whether `record` is one the plan names that the run has not met yet: anything else
    /// is never decrypted under this grant.
    #[must_use]
    pub fn is_pending(&self, record: RecordId) -> bool {
        self.slot(record)
            .is_some_and(|index| matches!(self.state(index), Some(Planned::Pending)))
    }

    /// Leaves `record` out of the run for `reason`, and counts it. A record the plan does
    /// not name (or one already met) is counted as [`SkipReason::NotPlanned`] instead;
    /// a planned one is reported in the outcome's [`ExportOutcome::not_exported`].
    pub fn leave_out(&mut self, record: RecordId, reason: SkipReason) {
        match self.pending_slot(record) {
            Some(index) => {
                self.set(index, Planned::LeftOut(reason));
                self.counts.skip(reason);
            }
            None => self.counts.skip(SkipReason::NotPlanned),
        }
    }

    /// The record's place in `planned` (its first, if the plan names it more than once).
    fn slot(&self, record: RecordId) -> Option<usize> {
        if let Some((id, state)) = self.planned.get(self.next)
            && *id == record
            && *state != Planned::Repeat
        {
            return Some(self.next);
        }
        let index = self
            .by_id
            .binary_search_by_key(&record, |(id, _)| *id)
            .ok()?;
        self.by_id.get(index).map(|(_, place)| *place)
    }

    fn pending_slot(&self, record: RecordId) -> Option<usize> {
        self.slot(record)
            .filter(|index| matches!(self.state(*index), Some(Planned::Pending)))
    }

    fn state(&self, index: usize) -> Option<Planned> {
        self.planned.get(index).map(|(_, state)| *state)
    }

    fn set(&mut self, index: usize, state: Planned) {
        if let Some(slot) = self.planned.get_mut(index) {
            slot.1 = state;
            self.next = index.saturating_add(1);
        }
    }
}

impl fmt::Debug for ExportGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportGrant")
            .field("job", &self.plan.job)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

/// How a job ended, as [`Custody::finish_export`] wrote it to the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportOutcome {
    /// The plan.
    pub plan: ExportPlan,
    /// Records really exported and left out, by reason.
    pub counts: ExportCounts,
    /// The digest of the exported records' ids.
    pub digest: RecordDigest,
    /// Every record the plan names that the job did not export, in plan order, with why
    /// (the trail counts them by reason).
    #[serde(default)]
    pub not_exported: Vec<NotExported>,
    /// Secrets redacted from the exported bodies, by kind (never the secrets); absent from
    /// outcomes of builds before export redaction, read as none.
    #[serde(default)]
    pub redactions: RedactionCounts,
}

impl ExportOutcome {
    /// Whether the job exported exactly the records it planned, in the same order.
    #[must_use]
    pub fn matches_plan(&self) -> bool {
        self.digest == self.plan.digest && self.counts.exported == self.plan.counts.exported
    }
}

impl<S: AuditStore> Custody<S> {
    /// The instant the next audit entry will carry, for a job to decide all its records at.
    ///
    /// # Errors
    ///
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) if the trail must re-read its head and cannot.
    pub fn audit_instant(&self) -> Result<Timestamp, LogsError> {
        self.audit()?.instant_after_head()
    }

    /// Writes `plan` to the trail and grants decryption for it, and for exactly the records
    /// it names (`records`, whose digest and number the plan carries): no record is decrypted
    /// for training before its job is in the trail, nor any the plan does not name.
    ///
    /// # Errors
    ///
    /// [`LogsError::PlanMismatch`] if `records` are not the ones the plan's digest and count
    /// name (nothing is written); [`AuditError::Unavailable`](crate::AuditError::Unavailable)
    /// if the entry could not be written (no grant then).
    pub fn begin_export(
        &self,
        plan: ExportPlan,
        records: PlannedRecords,
    ) -> Result<ExportGrant, LogsError> {
        let count = u64::try_from(records.len()).unwrap_or(u64::MAX);
        if records.digest() != plan.digest || count != plan.counts.exported {
            return Err(LogsError::PlanMismatch);
        }
        let mut planned: Vec<(RecordId, Planned)> = records
            .ids
            .into_iter()
            .map(|id| (id, Planned::Pending))
            .collect();
        let mut by_id: Vec<(RecordId, usize)> = planned
            .iter()
            .enumerate()
            .map(|(place, (id, _))| (*id, place))
            .collect();
        // Sorted by id, then place: a record's first place comes first among its own.
        by_id.sort_unstable();
        // A record named twice is exported once: its later places are met as not planned.
        for pair in by_id.windows(2) {
            if let [(first, _), (again, place)] = pair
                && first == again
                && let Some(slot) = planned.get_mut(*place)
            {
                slot.1 = Planned::Repeat;
            }
        }
        by_id.dedup_by_key(|(id, _)| *id);
        self.audit()?
            .append(AuditEvent::TrainingExportPlanned(plan.clone()))?;
        Ok(ExportGrant {
            plan,
            exported: RecordDigester::new(),
            counts: ExportCounts::default(),
            redactions: RedactionCounts::default(),
            planned,
            by_id,
            next: 0,
        })
    }

    /// Decrypts `record` under `grant`: the grant counts it and adds its id to the digest of
    /// what the job exported. A record that does not authenticate is counted as
    /// [`SkipReason::Tampered`] and its error returned; a record whose authenticated consent
    /// level does not permit the job's scope is counted as [`SkipReason::Consent`] and
    /// refused. Nothing of either is returned. (The policy's other rules, retention and
    /// holds, are the caller's: `steward::Vault::export_training` asks `check()` first.)
    ///
    /// # Errors
    ///
    /// As [`Custody::dangerous_open_with_gate`] for a record that does not open.
    pub fn open_for_export(
        &self,
        grant: &mut ExportGrant,
        record: &SealedRecord,
    ) -> Result<Plaintext, LogsError> {
        let id = record.header().record_id();
        let Some(slot) = grant.pending_slot(id) else {
            // Not in the audited plan (or met already): never decrypted for this job.
            grant.counts.skip(SkipReason::NotPlanned);
            return Err(LogsError::denied(crate::Denial::Refused {
                clause: grant.plan.scope.clause(),
            }));
        };
        // On a shared store, a shred made by another node holds here too.
        // Unread, the record stays pending: the outcome reports it as missing.
        self.refresh_customer(record.header().customer)?;
        match self.decrypt(record) {
            Ok(plaintext) => {
                // The level is authenticated now: it must permit the job's scope, whatever
                // the caller decided on the claim.
                let header = plaintext.header();
                if !header
                    .consent()
                    .permits(grant.plan.scope, header.customer())
                {
                    grant.set(slot, Planned::LeftOut(SkipReason::Consent));
                    grant.counts.skip(SkipReason::Consent);
                    return Err(LogsError::denied(crate::Denial::Refused {
                        clause: grant.plan.scope.clause(),
                    }));
                }
                grant.set(slot, Planned::Exported);
                grant.counts.take();
                grant.exported.add(id);
                Ok(plaintext)
            }
            Err(error) => {
                let reason = if matches!(error, LogsError::Open(crate::OpenError::Shredded)) {
                    SkipReason::Shredded
                } else {
                    SkipReason::Tampered
                };
                grant.set(slot, Planned::LeftOut(reason));
                grant.counts.skip(reason);
                Err(error)
            }
        }
    }

    /// Makes sure the body of a record decrypted under `grant` has passed the standard
    /// scanner's current rule set before it leaves custody: every secret becomes a marker
    /// (`[REDACTED:<kind>:<fingerprint>]`, fingerprint keyed as at sealing), whatever the
    /// record's redaction at sealing was. The grant counts the secrets by kind for the job's
    /// outcome and its audit entry. The body given is zeroized; the one returned is too, when
    /// dropped.
    ///
    /// A record whose authenticated header says it was scanned at sealing by the current rule
    /// set ([`Redaction::Scanned`](crate::Redaction::Scanned) with
    /// [`Scanner::rule_set`](steward_redact::Redactor::rule_set)) is not scanned again: its
    /// body already passed these rules, redaction is idempotent (a rescan returns it
    /// byte-identical, with nothing counted), and the header is the AEAD's associated data,
    /// so it cannot be changed to claim a scan without the decryption failing. A record
    /// sealed with redaction off, before redaction existed (format version 1), or under an
    /// older rule set is scanned here.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidConfig`] if the scanner could not be built: nothing then leaves
    /// custody unscanned.
    pub fn redact_for_export(
        &self,
        grant: &mut ExportGrant,
        plaintext: Plaintext,
    ) -> Result<Plaintext, LogsError> {
        let scanner = Scanner::standard().map_err(|_| {
            LogsError::Config(ConfigError::InvalidConfig {
                reason: "the secret scanner could not be built",
            })
        })?;
        // Scanned at sealing by these very rules: a rescan would return the body unchanged.
        if plaintext.header().redaction()
            == (crate::Redaction::Scanned {
                rule_set: scanner.rule_set(),
            })
        {
            return Ok(plaintext);
        }
        let redacted = scanner.redact(plaintext.as_bytes(), &self.redaction_key);
        if redacted.is_unchanged() {
            return Ok(plaintext);
        }
        grant.redactions.add(redacted.counts());
        let body = redacted.into_body();
        let mut out = Plaintext::with_capacity(body.len(), *plaintext.header());
        out.buffer_mut().extend_from_slice(&body);
        if let std::borrow::Cow::Owned(mut copy) = body {
            zeroize::Zeroize::zeroize(copy.as_mut_slice());
        }
        Ok(out)
    }

    /// Writes the job's end to the trail: what it really exported and left out, and the
    /// digest of the exported ids, to compare with the plan's.
    ///
    /// # Errors
    ///
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) if the entry could not be written.
    pub fn finish_export(&self, grant: ExportGrant) -> Result<ExportOutcome, LogsError> {
        let ExportGrant {
            plan,
            exported,
            mut counts,
            redactions,
            planned,
            ..
        } = grant;
        let mut not_exported = Vec::new();
        for (id, state) in planned {
            let reason = match state {
                // Reported once, at its first place, however often the plan named it.
                Planned::Exported | Planned::Repeat => continue,
                Planned::LeftOut(reason) => reason,
                Planned::Pending => {
                    counts.skip(SkipReason::Missing);
                    SkipReason::Missing
                }
            };
            not_exported.push(NotExported { record: id, reason });
        }
        let outcome = ExportOutcome {
            plan,
            counts,
            digest: exported.finish(),
            not_exported,
            redactions,
        };
        self.audit()?.append(AuditEvent::TrainingExportFinished {
            job: outcome.plan.job,
            counts: outcome.counts,
            digest: outcome.digest,
            redactions: outcome.redactions,
        })?;
        Ok(outcome)
    }
}
