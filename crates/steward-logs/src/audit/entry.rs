//! What the trail records: access attempts, roster changes and key events, and the canonical
//! bytes each entry's HMAC covers.

use serde::{Deserialize, Serialize};
use steward_core::{
    AdminId, CustomerId, Justification, Purpose, RecordId, StewardId, Timestamp, TrainingScope,
};
use steward_redact::RedactionCounts;

use super::chain::ChainHash;
use crate::{
    ExportCounts, ExportJobId, ExportPlan, KeyVersion, LogsError, MasterKeyId, OpenError,
    RecordDigest, SubjectRequest, SubjectRight, SubjectStage, Tombstone, access::Denial,
    record::RecordHeader,
};

/// One audited event and the instant the trail's clock gave it.
///
/// Never request content: entries hold ids, purposes, outcomes and key versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    at: Timestamp,
    event: AuditEvent,
}

impl AuditEntry {
    pub(crate) const fn new(at: Timestamp, event: AuditEvent) -> Self {
        Self { at, event }
    }

    /// When it happened, by the trail's clock (never by the caller's say-so).
    #[must_use]
    pub const fn at(&self) -> Timestamp {
        self.at
    }

    /// What happened.
    #[must_use]
    pub const fn event(&self) -> &AuditEvent {
        &self.event
    }

    /// The access attempt, if this entry records one.
    #[must_use]
    pub const fn access(&self) -> Option<&AccessEvent> {
        match &self.event {
            AuditEvent::Access(access) => Some(access),
            _ => None,
        }
    }
}

/// What an audit entry records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub enum AuditEvent {
    /// `logs.access`: an attempt to open a record, granted, refused or failed.
    Access(AccessEvent),
    /// `logs.access`: a steward was added to or removed from the roster.
    RosterChanged {
        /// Who was added or removed.
        change: RosterChange,
        /// The admin who made the change.
        by: AdminId,
    },
    /// A customer's data key was rotated; new records seal under `version`.
    DataKeyRotated {
        /// Whose key.
        customer: CustomerId,
        /// The new version.
        version: KeyVersion,
    },
    /// `logs.retention`: every data key of the customer was destroyed (crypto-shredding).
    /// Written by builds before [`CustomerShreddedThrough`](Self::CustomerShreddedThrough),
    /// which names the versions; read as a shred through no version.
    CustomerShredded {
        /// Whose keys.
        customer: CustomerId,
    },
    /// The master key was rotated: every data key is now wrapped under `to`.
    MasterKeyRotated {
        /// The new master key's id.
        to: MasterKeyId,
    },
    /// `training.*`: a training export job, as planned before anything was decrypted.
    TrainingExportPlanned(ExportPlan),
    /// `training.*`: a training export job ended: what it really exported and left out.
    TrainingExportFinished {
        /// The job.
        job: ExportJobId,
        /// Records exported and left out, by reason.
        counts: ExportCounts,
        /// The digest of the exported records' ids.
        digest: RecordDigest,
        /// Secrets redacted from the exported bodies, by kind (never the secrets); absent
        /// from entries of builds before export redaction, read as none.
        #[serde(default, skip_serializing_if = "RedactionCounts::is_empty")]
        redactions: RedactionCounts,
    },
    /// `logs.retention`: every data key of the customer, through version `through`, is
    /// destroyed (crypto-shredding). Written before the keys are deleted; if they were not
    /// (the process died in between), the next custody opened on the store completes the
    /// shred and writes [`ShredCompletedAtStartUp`](Self::ShredCompletedAtStartUp).
    CustomerShreddedThrough {
        /// Whose keys.
        customer: CustomerId,
        /// The newest version destroyed; `None` if the customer had no data key yet.
        through: Option<KeyVersion>,
    },
    /// `logs.retention`: a shred whose entry the trail holds but whose tombstone the key
    /// store did not (the process died, or the deletion failed, after the entry) was
    /// completed at start-up, before the vault served anything.
    ShredCompletedAtStartUp {
        /// Whose keys.
        customer: CustomerId,
        /// The newest version the completed shred destroys, as its entry named it.
        through: Option<KeyVersion>,
    },
    /// `law.access`, `law.erasure`: a data subject request, at one of its stages. Never the
    /// data: the customer, the request's reference, who verified the requester, and counts.
    SubjectRequest {
        /// Which right.
        right: SubjectRight,
        /// Whose, under which reference, verified by whom.
        request: SubjectRequest,
        /// Where it stood.
        stage: SubjectStage,
    },
}

impl AuditEvent {
    /// The customer and the tombstone a shred event asks for: `Some` for
    /// [`CustomerShredded`](Self::CustomerShredded) (through no version) and
    /// [`CustomerShreddedThrough`](Self::CustomerShreddedThrough), `None` for any other
    /// event (a completion included: it follows a shred entry, which is what asks).
    #[must_use]
    pub const fn shred_request(&self) -> Option<(CustomerId, Tombstone)> {
        match self {
            Self::CustomerShredded { customer } => Some((*customer, Tombstone::new(None))),
            Self::CustomerShreddedThrough { customer, through } => {
                Some((*customer, Tombstone::new(*through)))
            }
            _ => None,
        }
    }
}

/// A change of the steward roster.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RosterChange {
    /// The steward joined the roster.
    Added(StewardId),
    /// The steward left the roster.
    Removed(StewardId),
}

impl RosterChange {
    /// The steward the change is about.
    #[must_use]
    pub const fn steward(&self) -> &StewardId {
        match self {
            Self::Added(steward) | Self::Removed(steward) => steward,
        }
    }
}

/// One access attempt: who, why, on what grounds, which record, and how it ended.
///
/// The record id, customer and key version are taken from the record's header; for a refused
/// or failed attempt they are as claimed by the (possibly forged) record, since it was never
/// authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessEvent {
    steward: StewardId,
    purpose: Purpose,
    justification: Option<Justification>,
    record: RecordId,
    customer: CustomerId,
    key_version: KeyVersion,
    outcome: AuditOutcome,
}

impl AccessEvent {
    pub(crate) fn new(
        steward: &StewardId,
        purpose: Purpose,
        justification: Option<&Justification>,
        header: &RecordHeader,
        outcome: AuditOutcome,
    ) -> Self {
        Self {
            steward: steward.clone(),
            purpose,
            justification: justification.cloned(),
            record: header.record_id(),
            customer: header.customer(),
            key_version: header.key_version(),
            outcome,
        }
    }

    /// Who asked.
    #[must_use]
    pub const fn steward(&self) -> &StewardId {
        &self.steward
    }

    /// Why.
    #[must_use]
    pub const fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// On what grounds, if any were given.
    #[must_use]
    pub const fn justification(&self) -> Option<&Justification> {
        self.justification.as_ref()
    }

    /// The record asked for.
    #[must_use]
    pub const fn record(&self) -> RecordId {
        self.record
    }

    /// The record's customer.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// The record's data key version.
    #[must_use]
    pub const fn key_version(&self) -> KeyVersion {
        self.key_version
    }

    /// How the attempt ended.
    #[must_use]
    pub const fn outcome(&self) -> AuditOutcome {
        self.outcome
    }
}

/// How an access attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AuditOutcome {
    /// The plaintext was returned to the steward.
    Opened,
    /// The request was refused by the policy; nothing was decrypted.
    Denied(Denial),
    /// The request was allowed but the record did not open.
    Failed(OpenFailure),
}

/// Why an allowed request still did not open the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum OpenFailure {
    /// The customer was crypto-shredded.
    Shredded,
    /// The record names a data key version the keyring does not hold.
    UnknownKeyVersion,
    /// The key commitment or the AEAD tag did not verify: the record was altered.
    Tampered,
    /// The data key could not be unwrapped or derived.
    KeyUnavailable,
}

impl OpenFailure {
    pub(crate) const fn from_error(error: &LogsError) -> Self {
        match error {
            LogsError::Open(OpenError::Shredded) => Self::Shredded,
            LogsError::Open(OpenError::UnknownKeyVersion { .. }) => Self::UnknownKeyVersion,
            LogsError::Open(OpenError::AuthenticationFailed | OpenError::KeyCommitmentMismatch) => {
                Self::Tampered
            }
            _ => Self::KeyUnavailable,
        }
    }

    const fn code(self) -> u8 {
        match self {
            Self::Shredded => 1,
            Self::UnknownKeyVersion => 2,
            Self::Tampered => 3,
            Self::KeyUnavailable => 4,
        }
    }
}

/// Where the canonical bytes of an entry go.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// An entry's bytes on the stack while they fit (a typical entry is about 120 bytes), on
/// the heap beyond: one `update` of the HMAC instead of one per field, and no allocation.
pub(crate) struct EntryBuffer {
    inline: [u8; Self::INLINE],
    len: usize,
    spilled: Vec<u8>,
}

impl EntryBuffer {
    const INLINE: usize = 256;

    pub(crate) const fn new() -> Self {
        Self {
            inline: [0; Self::INLINE],
            len: 0,
            spilled: Vec::new(),
        }
    }

    #[expect(clippy::indexing_slicing, reason = "len never exceeds INLINE, see put")]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        if self.spilled.is_empty() {
            // INVARIANT: put only advances len within the inline array.
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }
}

impl Sink for EntryBuffer {
    #[expect(
        clippy::indexing_slicing,
        reason = "len never exceeds INLINE, see below"
    )]
    fn put(&mut self, bytes: &[u8]) {
        if self.spilled.is_empty() {
            let end = self.len.saturating_add(bytes.len());
            if let Some(slot) = self.inline.get_mut(self.len..end) {
                slot.copy_from_slice(bytes);
                self.len = end;
                return;
            }
            // INVARIANT: len only ever becomes an `end` whose slot fit the inline array, just
            // above; an empty copy here would drop the entry's first bytes from its HMAC.
            self.spilled.extend_from_slice(&self.inline[..self.len]);
        }
        self.spilled.extend_from_slice(bytes);
    }
}

/// The canonical bytes an entry's HMAC covers (encoding v2): the place in the chain, the
/// instant, then the event, each variable-length field prefixed with its length, so no two
/// entries encode alike. The domain label is in the key derivation (see `AuditKey`), not in
/// every message: each 64 bytes saved is one SHA-256 block less per entry.
///
/// Streamed into the sink field by field, so chaining an entry allocates nothing.
pub(crate) fn encode_entry(
    out: &mut impl Sink,
    sequence: u64,
    previous: &ChainHash,
    entry: &AuditEntry,
) -> Result<(), LogsError> {
    out.put(&sequence.to_be_bytes());
    out.put(previous.as_bytes());
    out.put(&entry.at.unix_nanos().to_be_bytes());
    match &entry.event {
        AuditEvent::Access(access) => {
            out.put(&[1]);
            put_short(out, access.steward.as_str().as_bytes())?;
            out.put(&[purpose_code(access.purpose)?]);
            match &access.justification {
                None => out.put(&[0]),
                Some(justification) => {
                    out.put(&[1]);
                    put_long(out, justification.as_str().as_bytes())?;
                }
            }
            out.put(access.record.as_bytes());
            out.put(access.customer.as_bytes());
            out.put(&access.key_version.to_be_bytes());
            match access.outcome {
                AuditOutcome::Opened => out.put(&[1]),
                AuditOutcome::Denied(denial) => {
                    out.put(&[2]);
                    put_short(out, denial.code().as_bytes())?;
                    // The code names the clause, except for a catch-all refusal.
                    if let Denial::Refused { clause } = denial {
                        put_short(out, clause.as_str().as_bytes())?;
                    }
                    if let Some(purpose) = denial.purpose() {
                        out.put(&[purpose_code(purpose)?]);
                    }
                }
                AuditOutcome::Failed(failure) => out.put(&[3, failure.code()]),
            }
        }
        AuditEvent::RosterChanged { change, by } => {
            out.put(&[2]);
            out.put(match change {
                RosterChange::Added(_) => &[1],
                RosterChange::Removed(_) => &[2],
            });
            put_short(out, change.steward().as_str().as_bytes())?;
            put_short(out, by.as_str().as_bytes())?;
        }
        AuditEvent::DataKeyRotated { customer, version } => {
            out.put(&[3]);
            out.put(customer.as_bytes());
            out.put(&version.to_be_bytes());
        }
        AuditEvent::CustomerShredded { customer } => {
            out.put(&[4]);
            out.put(customer.as_bytes());
        }
        AuditEvent::MasterKeyRotated { to } => {
            out.put(&[5]);
            put_short(out, to.as_str().as_bytes())?;
        }
        AuditEvent::TrainingExportPlanned(plan) => {
            // Counts earlier builds did not have change the code, and follow the others:
            // an entry an earlier build wrote encodes exactly as it did.
            out.put(&[if has_later_counts(&plan.counts) {
                10
            } else {
                6
            }]);
            out.put(plan.job.as_bytes());
            put_scope(out, plan.scope)?;
            put_short(out, plan.policy_version.as_str().as_bytes())?;
            out.put(&plan.at.unix_nanos().to_be_bytes());
            put_counts(out, &plan.counts);
            out.put(plan.digest.as_bytes());
        }
        AuditEvent::TrainingExportFinished {
            job,
            counts,
            digest,
            redactions,
        } if !redactions.is_empty() => {
            // Redaction counts are new: their own code, every count, then each kind that
            // occurred by name; entries without them encode exactly as before.
            out.put(&[12]);
            out.put(job.as_bytes());
            put_all_counts(out, counts);
            out.put(digest.as_bytes());
            put_redactions(out, redactions)?;
        }
        AuditEvent::TrainingExportFinished {
            job,
            counts,
            digest,
            ..
        } => {
            out.put(&[if has_later_counts(counts) { 11 } else { 7 }]);
            out.put(job.as_bytes());
            put_counts(out, counts);
            out.put(digest.as_bytes());
        }
        AuditEvent::CustomerShreddedThrough { customer, through } => {
            out.put(&[8]);
            out.put(customer.as_bytes());
            out.put(&version_number(*through).to_be_bytes());
        }
        AuditEvent::ShredCompletedAtStartUp { customer, through } => {
            out.put(&[9]);
            out.put(customer.as_bytes());
            out.put(&version_number(*through).to_be_bytes());
        }
        AuditEvent::SubjectRequest {
            right,
            request,
            stage,
        } => {
            out.put(&[13]);
            out.put(match right {
                SubjectRight::Access => &[1],
                SubjectRight::Erasure => &[2],
            });
            out.put(request.customer().as_bytes());
            put_long(out, request.reference().as_str().as_bytes())?;
            put_short(out, request.verified_by().as_str().as_bytes())?;
            put_subject_stage(out, stage)?;
        }
    }
    Ok(())
}

/// A subject request's stage: a code, then its fields.
fn put_subject_stage(out: &mut impl Sink, stage: &SubjectStage) -> Result<(), LogsError> {
    match stage {
        SubjectStage::Started => out.put(&[1]),
        SubjectStage::Exported {
            records,
            unreadable,
            digest,
        } => {
            out.put(&[2]);
            out.put(&records.to_be_bytes());
            out.put(&unreadable.to_be_bytes());
            out.put(digest.as_bytes());
        }
        SubjectStage::Held { holds } => {
            out.put(&[3]);
            let count = u32::try_from(holds.len()).map_err(|_| LogsError::Overflow {
                what: "audit subject request holds",
            })?;
            out.put(&count.to_be_bytes());
            for hold in holds {
                out.put(&hold.to_be_bytes());
            }
        }
        SubjectStage::Erased { records } => {
            out.put(&[4]);
            out.put(&records.to_be_bytes());
        }
        SubjectStage::AlreadyErased => out.put(&[5]),
    }
    Ok(())
}

/// A version that may be absent as four bytes: versions start at 1, so 0 is unambiguous.
fn version_number(version: Option<KeyVersion>) -> u32 {
    version.map_or(0, KeyVersion::get)
}

fn put_scope(out: &mut impl Sink, scope: TrainingScope) -> Result<(), LogsError> {
    match scope {
        TrainingScope::Private { owner } => {
            out.put(&[1]);
            out.put(owner.as_bytes());
        }
        TrainingScope::Shared => out.put(&[2]),
        TrainingScope::OpenWeight => out.put(&[3]),
        _ => {
            return Err(LogsError::Overflow {
                what: "audit training scope code",
            });
        }
    }
    Ok(())
}

fn put_counts(out: &mut impl Sink, counts: &ExportCounts) {
    for count in [
        counts.exported,
        counts.consent,
        counts.retention_due,
        counts.legal_hold_only,
        counts.shredded,
        counts.tampered,
    ] {
        out.put(&count.to_be_bytes());
    }
    if has_later_counts(counts) {
        for count in counts.later_counts() {
            out.put(&count.to_be_bytes());
        }
    }
}

/// Every count, the later ones included whatever their value.
fn put_all_counts(out: &mut impl Sink, counts: &ExportCounts) {
    for count in [
        counts.exported,
        counts.consent,
        counts.retention_due,
        counts.legal_hold_only,
        counts.shredded,
        counts.tampered,
    ]
    .into_iter()
    .chain(counts.later_counts())
    {
        out.put(&count.to_be_bytes());
    }
}

/// The kinds that occurred, as their count, then each kind's name and count.
fn put_redactions(out: &mut impl Sink, redactions: &RedactionCounts) -> Result<(), LogsError> {
    let kinds = u8::try_from(redactions.iter().count()).map_err(|_| LogsError::Overflow {
        what: "audit redaction kinds",
    })?;
    out.put(&[kinds]);
    for (kind, count) in redactions.iter() {
        put_short(out, kind.as_str().as_bytes())?;
        out.put(&count.to_be_bytes());
    }
    Ok(())
}

/// Whether `counts` hold a count that entries of earlier builds could not (then the entry
/// encodes under its own code, with those counts after the others).
fn has_later_counts(counts: &ExportCounts) -> bool {
    counts.later_counts().iter().any(|count| *count != 0)
}

/// A purpose as one byte: its position in `Purpose::ALL`, which only ever grows at the end
/// (a test pins the order). One byte instead of the name keeps a typical access entry within
/// two SHA-256 blocks.
fn purpose_code(purpose: Purpose) -> Result<u8, LogsError> {
    Purpose::ALL
        .iter()
        .position(|listed| *listed == purpose)
        .and_then(|index| u8::try_from(index).ok())
        .ok_or(LogsError::Overflow {
            what: "audit purpose code",
        })
}

/// A field of at most 255 bytes, prefixed with its length. Ids and purposes are at most 64
/// bytes by construction; a longer one is an error, never cut short.
fn put_short(out: &mut impl Sink, bytes: &[u8]) -> Result<(), LogsError> {
    let len = u8::try_from(bytes.len()).map_err(|_| LogsError::Overflow {
        what: "audit entry field length",
    })?;
    out.put(&[len]);
    out.put(bytes);
    Ok(())
}

/// A field of at most 65,535 bytes, prefixed with its length (a justification is at most 512
/// characters, so at most 2,048 bytes).
fn put_long(out: &mut impl Sink, bytes: &[u8]) -> Result<(), LogsError> {
    let len = u16::try_from(bytes.len()).map_err(|_| LogsError::Overflow {
        what: "audit entry field length",
    })?;
    out.put(&len.to_be_bytes());
    out.put(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chains written so far encode purposes by these positions: new purposes go at the end.
    #[test]
    fn purpose_codes_are_pinned() {
        let names: Vec<&str> = Purpose::ALL
            .iter()
            .map(|purpose| purpose.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "provide-service",
                "notify-changes",
                "interactive-features",
                "customer-care",
                "service-analysis",
                "usage-monitoring",
                "technical-issues",
                "troubleshooting",
                "customer-support",
                "reliability",
                "misuse-prevention",
                "model-training",
                "marketing",
                "advertising",
                "sale-of-data",
            ]
        );
        assert_eq!(purpose_code(Purpose::Troubleshooting).unwrap(), 7);
    }

    /// The encoding of the shred events is pinned byte for byte: entries already chained
    /// must verify under every later build.
    #[test]
    fn shred_events_encode_as_pinned() {
        let customer = CustomerId::new(uuid::Uuid::from_u128(
            0x0192_f1f0_6b2a_7cc3_9a4e_2f1d_5c3b_8a10,
        ))
        .unwrap();
        let at = Timestamp::from_unix_nanos(1_750_000_000_123_456_789);
        let encode = |event: AuditEvent| {
            let mut bytes = Vec::new();
            encode_entry(
                &mut bytes,
                3,
                &ChainHash::GENESIS,
                &AuditEntry::new(at, event),
            )
            .unwrap();
            bytes
        };
        let prefix = |tag: u8| {
            let mut bytes = 3_u64.to_be_bytes().to_vec();
            bytes.extend_from_slice(&[0; 32]);
            bytes.extend_from_slice(&1_750_000_000_123_456_789_i64.to_be_bytes());
            bytes.push(tag);
            bytes.extend_from_slice(customer.as_bytes());
            bytes
        };
        let v7 = KeyVersion::new(7).unwrap();
        let mut started = prefix(8);
        started.extend_from_slice(&[0, 0, 0, 7]);
        assert_eq!(
            encode(AuditEvent::CustomerShreddedThrough {
                customer,
                through: Some(v7)
            }),
            started
        );
        let mut none = prefix(8);
        none.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            encode(AuditEvent::CustomerShreddedThrough {
                customer,
                through: None
            }),
            none
        );
        let mut completed = prefix(9);
        completed.extend_from_slice(&[0, 0, 0, 7]);
        assert_eq!(
            encode(AuditEvent::ShredCompletedAtStartUp {
                customer,
                through: Some(v7)
            }),
            completed
        );
        // The event of earlier builds keeps its encoding, with no version.
        assert_eq!(encode(AuditEvent::CustomerShredded { customer }), prefix(4));
    }

    /// An export entry whose counts earlier builds could have written keeps their encoding
    /// (code 7, six counts), so entries already chained still verify; one with a count they
    /// did not have encodes under its own code, with those counts after the six.
    #[test]
    fn export_entries_keep_their_encoding_and_later_counts_get_their_own_code() {
        let at = Timestamp::from_unix_nanos(1_750_000_000_123_456_789);
        let job = ExportJobId::generate_at(at);
        let digest = crate::RecordDigester::new().finish();
        let encode = |counts: ExportCounts| {
            let mut bytes = Vec::new();
            let event = AuditEvent::TrainingExportFinished {
                job,
                counts,
                digest,
                redactions: RedactionCounts::default(),
            };
            encode_entry(
                &mut bytes,
                3,
                &ChainHash::GENESIS,
                &AuditEntry::new(at, event),
            )
            .unwrap();
            bytes
        };
        let expected = |tag: u8, counts: &[u64]| {
            let mut bytes = 3_u64.to_be_bytes().to_vec();
            bytes.extend_from_slice(&[0; 32]);
            bytes.extend_from_slice(&1_750_000_000_123_456_789_i64.to_be_bytes());
            bytes.push(tag);
            bytes.extend_from_slice(job.as_bytes());
            for count in counts {
                bytes.extend_from_slice(&count.to_be_bytes());
            }
            bytes.extend_from_slice(digest.as_bytes());
            bytes
        };
        let old = ExportCounts {
            exported: 2,
            consent: 1,
            tampered: 1,
            ..ExportCounts::default()
        };
        assert_eq!(encode(old), expected(7, &[2, 1, 0, 0, 0, 1]));
        let later = ExportCounts {
            cannot_evaluate: 4,
            missing: 1,
            ..old
        };
        assert_eq!(encode(later), expected(11, &[2, 1, 0, 0, 0, 1, 4, 0, 0, 1]));
        // An entry of an earlier build reads back with the later counts at zero.
        let json = r#"{"exported":2,"consent":1,"retention_due":0,"legal_hold_only":0,"shredded":0,"tampered":1}"#;
        assert_eq!(serde_json::from_str::<ExportCounts>(json).unwrap(), old);
    }

    /// An export entry with redaction counts has code 12: every count, the digest, then each
    /// kind by name with its count; the same entry without them keeps code 7, and an entry
    /// of an earlier build (no `redactions` field) reads back as none redacted.
    #[test]
    fn export_entries_with_redactions_get_their_own_code_and_old_ones_read_as_none() {
        let at = Timestamp::from_unix_nanos(1_750_000_000_123_456_789);
        let job = ExportJobId::generate_at(at);
        let digest = crate::RecordDigester::new().finish();
        let counts = ExportCounts {
            exported: 2,
            ..ExportCounts::default()
        };
        let mut redactions = RedactionCounts::default();
        redactions.record(steward_redact::SecretKind::Jwt);
        let event = |redactions| AuditEvent::TrainingExportFinished {
            job,
            counts,
            digest,
            redactions,
        };
        let encode = |event| {
            let mut bytes = Vec::new();
            encode_entry(
                &mut bytes,
                3,
                &ChainHash::GENESIS,
                &AuditEntry::new(at, event),
            )
            .unwrap();
            bytes
        };
        let mut expected = 3_u64.to_be_bytes().to_vec();
        expected.extend_from_slice(&[0; 32]);
        expected.extend_from_slice(&1_750_000_000_123_456_789_i64.to_be_bytes());
        expected.push(12);
        expected.extend_from_slice(job.as_bytes());
        for count in [2_u64, 0, 0, 0, 0, 0, 0, 0, 0, 0] {
            expected.extend_from_slice(&count.to_be_bytes());
        }
        expected.extend_from_slice(digest.as_bytes());
        expected.push(1);
        expected.push(3);
        expected.extend_from_slice(b"jwt");
        expected.extend_from_slice(&1_u64.to_be_bytes());
        assert_eq!(encode(event(redactions)), expected);
        assert_eq!(
            encode(event(RedactionCounts::default())).get(48),
            Some(&7),
            "no redactions: the earlier encoding"
        );
        let json = serde_json::to_string(&event(RedactionCounts::default())).unwrap();
        assert!(!json.contains("redactions"));
        assert_eq!(
            serde_json::from_str::<AuditEvent>(&json).unwrap(),
            event(RedactionCounts::default())
        );
        let json = serde_json::to_string(&event(redactions)).unwrap();
        assert_eq!(
            serde_json::from_str::<AuditEvent>(&json).unwrap(),
            event(redactions)
        );
    }

    /// A subject request entry encodes as pinned (code 13, the right, the customer, the
    /// reference and the verifier by length, then the stage), and each stage differently.
    #[test]
    fn subject_request_entries_encode_as_pinned() {
        let customer = CustomerId::new(uuid::Uuid::from_u128(7)).unwrap();
        let request = SubjectRequest::new(
            customer,
            "DSR-1".parse().unwrap(),
            "dana.privacy".parse().unwrap(),
        );
        let at = Timestamp::from_unix_nanos(1_750_000_000_123_456_789);
        let encode = |right, stage| {
            let mut bytes = Vec::new();
            let event = AuditEvent::SubjectRequest {
                right,
                request: request.clone(),
                stage,
            };
            encode_entry(
                &mut bytes,
                3,
                &ChainHash::GENESIS,
                &AuditEntry::new(at, event),
            )
            .unwrap();
            bytes
        };
        let mut expected = 3_u64.to_be_bytes().to_vec();
        expected.extend_from_slice(&[0; 32]);
        expected.extend_from_slice(&1_750_000_000_123_456_789_i64.to_be_bytes());
        expected.extend_from_slice(&[13, 2]);
        expected.extend_from_slice(customer.as_bytes());
        expected.extend_from_slice(&[0, 5]);
        expected.extend_from_slice(b"DSR-1");
        expected.push(12);
        expected.extend_from_slice(b"dana.privacy");
        let mut held = expected.clone();
        held.push(3);
        held.extend_from_slice(&2_u32.to_be_bytes());
        held.extend_from_slice(&4_u64.to_be_bytes());
        held.extend_from_slice(&9_u64.to_be_bytes());
        assert_eq!(
            encode(
                SubjectRight::Erasure,
                SubjectStage::Held { holds: vec![4, 9] }
            ),
            held
        );
        let mut erased = expected.clone();
        erased.push(4);
        erased.extend_from_slice(&17_u64.to_be_bytes());
        assert_eq!(
            encode(SubjectRight::Erasure, SubjectStage::Erased { records: 17 }),
            erased
        );
        let started = encode(SubjectRight::Access, SubjectStage::Started);
        assert_eq!(started.get(49), Some(&1), "the right's code");
        assert_ne!(
            started,
            encode(SubjectRight::Erasure, SubjectStage::Started)
        );
        assert_ne!(
            encode(SubjectRight::Erasure, SubjectStage::AlreadyErased),
            encode(SubjectRight::Erasure, SubjectStage::Started)
        );
    }

    #[test]
    fn a_typical_access_entry_fits_two_sha256_blocks() {
        let steward: StewardId = "alice.ops".parse().unwrap();
        let justification: Justification = "TICKET-4711".parse().unwrap();
        let header = crate::record::RecordHeader {
            format_version: crate::FORMAT_VERSION,
            redaction: crate::Redaction::NotScanned,
            algorithm: crate::Algorithm::Aes256Gcm,
            consent: steward_core::TrainingLevel::None,
            record_id: RecordId::MIN,
            customer: CustomerId::new(uuid::Uuid::from_u128(1)).unwrap(),
            key_version: KeyVersion::FIRST,
            collected_at_nanos: 0,
            body_len: 0,
        };
        let entry = AuditEntry::new(
            Timestamp::from_unix_seconds(1_750_000_000).unwrap(),
            AuditEvent::Access(AccessEvent::new(
                &steward,
                Purpose::Troubleshooting,
                Some(&justification),
                &header,
                AuditOutcome::Opened,
            )),
        );
        let mut bytes = Vec::new();
        encode_entry(&mut bytes, 7, &ChainHash::GENESIS, &entry).unwrap();
        // SHA-256 pads with at least 9 bytes: 119 bytes of message fill two blocks.
        assert!(bytes.len() <= 119, "{} bytes", bytes.len());
    }
}

#[cfg(test)]
mod buffer_tests {
    use super::{EntryBuffer, Sink};

    #[test]
    fn the_entry_buffer_keeps_every_byte_across_the_spill() {
        let mut buffer = EntryBuffer::new();
        let mut expected = Vec::new();
        for round in 0u8..100 {
            let piece = [round; 7];
            buffer.put(&piece);
            expected.extend_from_slice(&piece);
            assert_eq!(buffer.as_bytes(), expected.as_slice());
        }
    }
}
