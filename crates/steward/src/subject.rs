//! Data subject requests (`law.access`, `law.erasure`): a copy of one customer's data as a
//! streamed JSON bundle, and erasure on request. The schema is `docs/subject-requests.md`.

use std::{fmt, io::Write};

use serde::Serialize;
use steward_consent::{ConsentLedger, ConsentReceipt, InteractiveEntry, InteractiveLedger};
use steward_core::{CustomerId, PolicyVersion, RecordId, Timestamp, TrainingLevel};
use steward_logs::{
    AuditStore, BoxError, RecordHeader, SealedRecord, SubjectAccessOutcome, SubjectRequest,
    SubjectRight, SubjectStage,
};
use steward_retention::{
    HoldId, HoldRegister, HoldScope, LegalHold, RecordStore, Relationship, RelationshipBook,
    Removal, SweepBatch,
};

use crate::{Facts, RosterFacts, StewardError, Vault};

/// The format name written into every subject bundle (`format`); a reader refuses others.
pub const SUBJECT_BUNDLE_FORMAT: &str = "steward-subject-export/1";

/// What the store knows about one customer besides their log records, for a subject access
/// bundle: their relationships, every consent receipt (cancelled ones included, as proof),
/// every interactive-features choice, and the legal holds that concern them, without other
/// parties' details (a hold's stated reason and the person who placed it are left out: they
/// may name a case, counsel or another party).
///
/// ```
/// use steward::{MemoryFacts, Policy, SubjectFacts};
///
/// let policy = Policy::coder_model();
/// let mut facts = MemoryFacts::new(&policy);
/// let ada = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// facts.relationships.start(ada, "2025-01-01T00:00:00Z".parse()?)?;
/// let gathered = SubjectFacts::gather(
///     ada, &facts.consent, &facts.interactive, &facts.relationships, &facts.holds,
/// );
/// assert_eq!(gathered.relationships().len(), 1);
/// assert!(gathered.consent().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectFacts {
    relationships: Vec<Relationship>,
    consent: Vec<ConsentReceipt>,
    interactive: Vec<InteractiveEntry>,
    holds: Vec<SubjectHold>,
}

/// A legal hold as its subject sees it: which of their data it covers, when it was placed,
/// its review date and its release. Never its reason or who placed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SubjectHold {
    /// The hold.
    pub id: HoldId,
    /// What it covers (the customer's data, a category of it, or one record).
    pub scope: HoldScope,
    /// When it was placed.
    pub placed_at: Timestamp,
    /// The date by which it is to be reviewed (it stands past it until released).
    pub review_at: Timestamp,
    /// When it was released, if it was.
    pub released_at: Option<Timestamp>,
}

impl SubjectHold {
    fn of(hold: &LegalHold) -> Self {
        Self {
            id: hold.id(),
            scope: *hold.scope(),
            placed_at: hold.placed_at(),
            review_at: hold.review_at(),
            released_at: hold.released_at(),
        }
    }
}

impl SubjectFacts {
    /// Everything the ledgers hold about `customer`, and nothing about anyone else.
    #[must_use]
    pub fn gather(
        customer: CustomerId,
        consent: &ConsentLedger,
        interactive: &InteractiveLedger,
        relationships: &RelationshipBook,
        holds: &HoldRegister,
    ) -> Self {
        Self {
            relationships: relationships.relationships(customer).to_vec(),
            consent: consent.history(customer).collect(),
            interactive: interactive.history(customer).to_vec(),
            holds: holds
                .holds()
                .filter(|hold| hold.scope().customer() == customer)
                .map(SubjectHold::of)
                .collect(),
        }
    }

    /// The customer's relationships, oldest first.
    #[must_use]
    pub fn relationships(&self) -> &[Relationship] {
        &self.relationships
    }

    /// Their consent receipts, oldest first.
    #[must_use]
    pub fn consent(&self) -> &[ConsentReceipt] {
        &self.consent
    }

    /// Their interactive-features choices, oldest first.
    #[must_use]
    pub fn interactive(&self) -> &[InteractiveEntry] {
        &self.interactive
    }

    /// The holds that concern them.
    #[must_use]
    pub fn holds(&self) -> &[SubjectHold] {
        &self.holds
    }
}

/// One record of a subject access copy: its authenticated header and its body as stored
/// (redacted as it was at sealing). The body is zeroized once the sink returns.
#[derive(Debug, Clone, Copy)]
pub struct SubjectRecord<'a> {
    header: &'a RecordHeader,
    body: &'a [u8],
}

impl<'a> SubjectRecord<'a> {
    /// The record's header, authenticated by the decryption that produced the body.
    #[must_use]
    pub const fn header(&self) -> &'a RecordHeader {
        self.header
    }

    /// The request body as stored: secrets the scanner found at sealing are markers.
    #[must_use]
    pub const fn body(&self) -> &'a [u8] {
        self.body
    }
}

/// What an erasure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErasureOutcome {
    /// The customer's keys are shredded and their records deleted, now.
    Erased {
        /// Records deleted by this erasure.
        records: u64,
        /// Whether this erasure shredded the keys, or found them shredded before.
        keys: Removal,
    },
    /// Nothing was left: keys shredded and records deleted before (an erasure repeated).
    AlreadyErased,
}

impl<F: RosterFacts, S: AuditStore> Vault<F, S> {
    /// A copy of one customer's log records for their access or portability request
    /// (`law.access`, GDPR Art. 15 and 20): a legal obligation, not a steward's open, so no
    /// `logs.purposes` purpose, roster or retention rule applies, and the trail says which
    /// request it served.
    ///
    /// 1. Refused for a customer the facts have no relationship on record for.
    /// 2. The request (customer, reference, who verified the requester) is written to the
    ///    audit trail before anything is decrypted.
    /// 3. `records` is consumed one record at a time: each record of the customer is
    ///    decrypted (which authenticates its header) and handed to `sink` as stored, then its
    ///    plaintext zeroized; a record of another customer is never decrypted, and one that
    ///    does not open (shredded, altered) is counted as unreadable. Nothing is collected:
    ///    memory stays bounded whatever the number of records.
    /// 4. The outcome (records, unreadable, digest of the ids) is written to the trail, also
    ///    when `records` or `sink` fail midway.
    ///
    /// [`write_subject_bundle`](Self::write_subject_bundle) writes the documented JSON bundle
    /// around it.
    ///
    /// # Errors
    ///
    /// [`StewardError::UnknownCustomer`] (nothing is written);
    /// [`ConfigError::FactsReplaced`](steward_logs::ConfigError::FactsReplaced) once the facts
    /// were replaced; [`StewardError::Logs`] if the
    /// trail could not be written; [`StewardError::Subject`] if `records` or `sink` failed.
    ///
    /// ```
    /// use steward::{MemoryFacts, Policy, Vault, vocabulary::{RecordId, Timestamp}, logs::SubjectRequest};
    /// use steward::logs::{AuditKey, AuditTrail, Keyring, MasterKey, MemoryAuditStore};
    ///
    /// let policy = Policy::coder_model();
    /// let mut facts = MemoryFacts::new(&policy);
    /// let ada = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
    /// facts.relationships.start(ada, "2025-01-01T00:00:00Z".parse()?)?;
    /// let master = MasterKey::from_bytes("kek-1".parse()?, b"steward test key 42, not secret!")?;
    /// let trail = AuditTrail::new(AuditKey::from_bytes(b"steward test key 17, not secret!")?, MemoryAuditStore::new())?;
    /// let vault = Vault::new(policy, facts, Keyring::new(master), trail)?;
    /// let at = Timestamp::now();
    /// let stored = vec![vault.seal(RecordId::generate_at(at), ada, at, b"my prompt")?.into_bytes()];
    ///
    /// let request = SubjectRequest::new(ada, "DSR-2026-0042".parse()?, "dana.privacy".parse()?);
    /// let mut bodies = Vec::new();
    /// let outcome = vault.export_subject(
    ///     &request,
    ///     stored.into_iter().map(Ok),
    ///     |record| Ok(bodies.push(record.body().to_vec())),
    /// )?;
    /// assert_eq!((outcome.records, bodies), (1, vec![b"my prompt".to_vec()]));
    /// // The request's start and its end are in the trail.
    /// assert_eq!(vault.audit()?.verify()?.entries(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn export_subject(
        &self,
        request: &SubjectRequest,
        records: impl IntoIterator<Item = Result<Vec<u8>, BoxError>>,
        mut sink: impl FnMut(SubjectRecord<'_>) -> Result<(), BoxError>,
    ) -> Result<SubjectAccessOutcome, StewardError> {
        // Facts replaced past the audit decide nothing, and serve no copy either.
        self.guard_replaced()?;
        let customer = request.customer();
        if !self.facts()?.has_relationship_on_record(customer) {
            return Err(StewardError::UnknownCustomer { customer });
        }
        let mut grant = self.custody().begin_subject_access(request.clone())?;
        let mut failure = None;
        for item in records {
            let bytes = match item {
                Ok(bytes) => bytes,
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            };
            // A record that no longer parses is theirs if its header still says so: counted
            // as unreadable, so the copy says it is incomplete.
            let named = RecordHeader::from_prefix(&bytes).map(|header| header.customer());
            let record = match (SealedRecord::from_vec(bytes), named) {
                (Ok(record), _) => record,
                (Err(_), Ok(owner)) if owner == customer => {
                    grant.skip_unreadable();
                    continue;
                }
                (Err(_), _) => continue,
            };
            if record.header().customer() != customer {
                continue;
            }
            let Ok(plaintext) = self.custody().open_for_subject(&mut grant, &record) else {
                continue;
            };
            let copied = SubjectRecord {
                header: plaintext.header(),
                body: plaintext.as_bytes(),
            };
            if let Err(error) = sink(copied) {
                failure = Some(error);
                break;
            }
        }
        let outcome = self.custody().finish_subject_access(grant)?;
        match failure {
            Some(source) => Err(StewardError::Subject { source }),
            None => Ok(outcome),
        }
    }

    /// [`export_subject`](Self::export_subject) into a [`SubjectBundle`] on `out`: the
    /// documented JSON bundle (`docs/subject-requests.md`), written as the records are
    /// decrypted. `facts` is what [`SubjectFacts::gather`] found about the customer; nothing
    /// reaches `out` before the request is in the trail. Returns the outcome and `out`.
    ///
    /// # Errors
    ///
    /// As [`export_subject`](Self::export_subject); [`StewardError::Subject`] if `out` failed.
    pub fn write_subject_bundle<W: Write>(
        &self,
        request: &SubjectRequest,
        facts: &SubjectFacts,
        records: impl IntoIterator<Item = Result<Vec<u8>, BoxError>>,
        out: W,
    ) -> Result<(SubjectAccessOutcome, W), StewardError> {
        let at = self.decision_instant()?;
        let mut bundle = SubjectBundle::new(out, request, at, self.policy().version(), facts);
        let outcome = self.export_subject(request, records, |record| {
            bundle.record(record).map_err(Into::into)
        })?;
        let out = bundle.finish(&outcome)?;
        Ok((outcome, out))
    }

    /// Erases one customer's data on their request (`law.erasure`, GDPR Art. 17), now, by
    /// the trusted clock (the vault's decision instant), unless a legal hold of theirs
    /// stands:
    ///
    /// 1. Refused for a customer the facts have no relationship on record for.
    /// 2. If any hold of the customer stands, nothing is deleted or shredded: the request is
    ///    written to the trail as held ([`SubjectStage::Held`], naming the holds), stays
    ///    pending ([`pending_erasures`](steward_logs::pending_erasures)), and the error
    ///    names the holds. Repeat it once they are released.
    /// 3. Otherwise the request is written to the trail, then the customer's data keys are
    ///    shredded (audited; every copy of their records, backups included, becomes
    ///    unreadable) and each record `ids` names is deleted from `records`, then the outcome
    ///    is written to the trail. Consent receipts stay: they are the proof of consent
    ///    (GDPR Art. 7(1)), used for nothing else.
    /// 4. Repeated after it completed, it finds nothing left and says so
    ///    ([`ErasureOutcome::AlreadyErased`], in the trail too).
    ///
    /// `facts` is the guard of [`facts`](Self::facts) the caller holds (as for
    /// [`VaultShredder`](crate::VaultShredder)): the holds are checked in it and no hold can
    /// be placed until the erasure is done. `records` deletes (steward-store's
    /// `SweepRecords`, which checks the holds again); `ids` are the customer's record ids.
    ///
    /// # Errors
    ///
    /// [`StewardError::UnknownCustomer`]; [`StewardError::ErasureHeld`] naming the holds;
    /// [`ConfigError::FactsReplaced`](steward_logs::ConfigError::FactsReplaced) for `facts`
    /// that are not this vault's, or once they were replaced (nothing is written);
    /// [`StewardError::Logs`] if the trail could not be written (nothing was deleted before
    /// the request's entry); [`StewardError::Subject`] if `ids` or a deletion failed (the keys
    /// are shredded by then: repeat the erasure to delete the rest).
    ///
    /// ```
    /// use steward::{
    ///     ErasureOutcome,
    ///     MemoryFacts,
    ///     Policy,
    ///     Vault,
    ///     retention::{MemoryRecordStore, RecordMeta},
    ///     vocabulary::{DataCategory, RecordId, Timestamp},
    ///     logs::{AuditKey, AuditTrail, Keyring, MasterKey, MemoryAuditStore, SubjectRequest},
    /// };
    ///
    /// let policy = Policy::coder_model();
    /// let mut facts = MemoryFacts::new(&policy);
    /// let ada = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
    /// facts.relationships.start(ada, "2025-01-01T00:00:00Z".parse()?)?;
    /// let master = MasterKey::from_bytes("kek-1".parse()?, b"steward test key 42, not secret!")?;
    /// let trail = AuditTrail::new(AuditKey::from_bytes(b"steward test key 17, not secret!")?, MemoryAuditStore::new())?;
    /// let vault = Vault::new(policy, facts, Keyring::new(master), trail)?;
    /// let at = Timestamp::now();
    /// let id = RecordId::generate_at(at);
    /// let sealed = vault.seal(id, ada, at, b"my prompt")?;
    /// let mut store = MemoryRecordStore::new();
    /// store.insert(RecordMeta::new(id, ada, DataCategory::LlmRequestLog, at));
    ///
    /// let request = SubjectRequest::new(ada, "DSR-2026-0043".parse()?, "dana.privacy".parse()?);
    /// let facts = vault.facts()?;
    /// let outcome = vault.erase_subject(&*facts, &request, &mut store, [Ok(id)])?;
    /// assert!(matches!(outcome, ErasureOutcome::Erased { records: 1, .. }));
    /// // The keys are gone: no copy of the record opens, for anyone.
    /// assert!(vault.keyring()?.is_shredded(ada));
    /// // Repeated, it finds nothing left, and says so.
    /// let again = vault.erase_subject(&*facts, &request, &mut store, [Ok(id)])?;
    /// assert_eq!(again, ErasureOutcome::AlreadyErased);
    /// # let _ = sealed;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn erase_subject<R: RecordStore>(
        &self,
        facts: &F,
        request: &SubjectRequest,
        records: &mut R,
        ids: impl IntoIterator<Item = Result<RecordId, BoxError>>,
    ) -> Result<ErasureOutcome, StewardError> {
        // Holds are checked in the vault's own facts, or nowhere.
        self.check_own_facts(facts)?;
        let customer = request.customer();
        if !facts.has_relationship_on_record(customer) {
            return Err(StewardError::UnknownCustomer { customer });
        }
        // The trusted clock: never before the trail's newest entry or the newest fact.
        let now = self.custody().audit_instant()?;
        let now = facts
            .newest_fact_instant()
            .map_or(now, |newest| now.max(newest));
        let holds = standing_holds(facts, customer, now);
        if !holds.is_empty() {
            let stage = SubjectStage::Held {
                holds: holds.iter().map(|hold| hold.get()).collect(),
            };
            self.custody()
                .audit_subject_request(SubjectRight::Erasure, request, stage)?;
            return Err(StewardError::ErasureHeld { customer, holds });
        }
        self.custody().audit_subject_request(
            SubjectRight::Erasure,
            request,
            SubjectStage::Started,
        )?;
        let shredded_before = self.keyring()?.is_shredded(customer);
        let keys = if shredded_before {
            Removal::AlreadyAbsent
        } else {
            self.shred_with(facts, customer)?;
            Removal::Removed
        };
        let (deleted, failure) = delete_in_steps(records, ids);
        let (stage, outcome) = if deleted == 0 && keys == Removal::AlreadyAbsent {
            (SubjectStage::AlreadyErased, ErasureOutcome::AlreadyErased)
        } else {
            (
                SubjectStage::Erased { records: deleted },
                ErasureOutcome::Erased {
                    records: deleted,
                    keys,
                },
            )
        };
        self.custody()
            .audit_subject_request(SubjectRight::Erasure, request, stage)?;
        match failure {
            Some(source) => Err(StewardError::Subject { source }),
            None => Ok(outcome),
        }
    }
}

/// Deletes the records `ids` names, [`SweepBatch::DEFAULT`] at a time (a store makes each
/// step one transaction: one disk sync per step, not per record, and a writer waits behind
/// one step at most). A step that fails as a whole is retried a record at a time, so that a
/// failure names its record, as in a sweep. Stops after the first step with a failure (a
/// failed id, a record the store refused): the rest of that step is still deleted and
/// counted. Returns how many records were deleted, and the first failure if any.
fn delete_in_steps<R: RecordStore>(
    records: &mut R,
    ids: impl IntoIterator<Item = Result<RecordId, BoxError>>,
) -> (u64, Option<BoxError>) {
    let step = SweepBatch::DEFAULT.get();
    let mut deleted = 0_u64;
    let mut failure: Option<BoxError> = None;
    let mut ids = ids.into_iter();
    let mut batch = Vec::with_capacity(step);
    while failure.is_none() {
        batch.clear();
        // An id that could not be read ends the erasure after the ids before it.
        let mut unreadable = None;
        for id in ids.by_ref() {
            match id {
                Ok(id) => batch.push(id),
                Err(error) => {
                    unreadable = Some(error);
                    break;
                }
            }
            if batch.len() == step {
                break;
            }
        }
        if batch.is_empty() {
            return (deleted, unreadable);
        }
        let outcomes = records
            .delete_batch(&batch)
            .unwrap_or_else(|_| batch.iter().map(|id| records.delete(*id)).collect());
        for outcome in outcomes {
            match outcome {
                Ok(Removal::Removed) => deleted = deleted.saturating_add(1),
                Ok(_) => {}
                Err(error) => {
                    failure.get_or_insert_with(|| BoxError::from(error));
                }
            }
        }
        if failure.is_none() {
            failure = unreadable;
        }
        if batch.len() < step {
            break;
        }
    }
    (deleted, failure)
}

/// The holds of `customer` standing at `now`, whatever they cover, by id.
fn standing_holds<F: Facts + ?Sized>(
    facts: &F,
    customer: CustomerId,
    now: Timestamp,
) -> Vec<HoldId> {
    let mut held = Vec::new();
    facts.visit_holds(customer, &mut |hold| {
        if hold.stands_at(now) && hold.scope().customer() == customer {
            held.push(hold.id());
        }
    });
    held.sort_unstable();
    held.dedup();
    held
}

/// A subject access bundle, streamed: one JSON object (schema in `docs/subject-requests.md`)
/// whose `records` array is written a record at a time, so a bundle of any size takes
/// constant memory. Nothing reaches the writer before the first record or
/// [`finish`](Self::finish): the vault calls them only once the request is in the trail.
///
/// ```
/// use steward::{MemoryFacts, Policy, SubjectBundle, SubjectFacts, logs::SubjectRequest, vocabulary::Timestamp};
///
/// let policy = Policy::coder_model();
/// let facts = MemoryFacts::new(&policy);
/// let ada = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// let gathered = SubjectFacts::gather(ada, &facts.consent, &facts.interactive, &facts.relationships, &facts.holds);
/// let request = SubjectRequest::new(ada, "DSR-1".parse()?, "dana.privacy".parse()?);
/// let bundle = SubjectBundle::new(Vec::new(), &request, Timestamp::now(), policy.version(), &gathered);
/// // bundle.record(record)? for each record, in export_subject's sink; then
/// // bundle.finish(&outcome)?.
/// # let _ = bundle;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SubjectBundle<'f, W> {
    out: W,
    head: Option<BundleHead<'f>>,
    first: bool,
}

#[derive(Serialize)]
struct BundleHead<'f> {
    format: &'static str,
    customer: CustomerId,
    request: &'f SubjectRequest,
    clause: &'static str,
    generated_at: Timestamp,
    policy_version: &'f PolicyVersion,
    #[serde(flatten)]
    facts: &'f SubjectFacts,
}

#[derive(Serialize)]
struct BundleRecord<'a> {
    record: RecordId,
    collected_at: Timestamp,
    consent_at_collection: TrainingLevel,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_hex: Option<String>,
}

#[derive(Serialize)]
struct BundleSummary<'a> {
    records: u64,
    unreadable: u64,
    digest: &'a steward_logs::RecordDigest,
}

impl<'f, W: Write> SubjectBundle<'f, W> {
    /// A bundle for `request` to `out`, generated at `at` under `policy_version`, with the
    /// customer's `facts`.
    pub fn new(
        out: W,
        request: &'f SubjectRequest,
        at: Timestamp,
        policy_version: &'f PolicyVersion,
        facts: &'f SubjectFacts,
    ) -> Self {
        Self {
            out,
            head: Some(BundleHead {
                format: SUBJECT_BUNDLE_FORMAT,
                customer: request.customer(),
                request,
                clause: SubjectRight::Access.clause().as_str(),
                generated_at: at,
                policy_version,
                facts,
            }),
            first: true,
        }
    }

    /// Writes one record: its id, collection instant, consent at collection and body (as
    /// text, or as hex if it is not UTF-8).
    ///
    /// # Errors
    ///
    /// [`StewardError::Subject`] if the writer failed.
    pub fn record(&mut self, record: SubjectRecord<'_>) -> Result<(), StewardError> {
        self.write_head()?;
        if !self.first {
            self.write(b",")?;
        }
        self.first = false;
        let header = record.header();
        let text = std::str::from_utf8(record.body()).ok();
        let line = BundleRecord {
            record: header.record_id(),
            collected_at: header.collected_at(),
            consent_at_collection: header.consent(),
            body: text,
            body_hex: text
                .is_none()
                .then(|| steward_logs::hex::encode(record.body())),
        };
        serde_json::to_writer(&mut self.out, &line).map_err(export)?;
        self.write(b"\n")
    }

    /// Closes the records and writes the summary (records, unreadable, digest of the ids,
    /// as in the trail), and returns the writer.
    ///
    /// # Errors
    ///
    /// [`StewardError::Subject`] if the writer failed.
    pub fn finish(mut self, outcome: &SubjectAccessOutcome) -> Result<W, StewardError> {
        self.write_head()?;
        self.write(b"],\"summary\":")?;
        let summary = BundleSummary {
            records: outcome.records,
            unreadable: outcome.unreadable,
            digest: &outcome.digest,
        };
        serde_json::to_writer(&mut self.out, &summary).map_err(export)?;
        self.write(b"}\n")?;
        self.out.flush().map_err(export)?;
        Ok(self.out)
    }

    /// The head (everything but the records), once: an object left open at `"records":[`.
    fn write_head(&mut self) -> Result<(), StewardError> {
        let Some(head) = self.head.take() else {
            return Ok(());
        };
        let mut text = serde_json::to_vec(&head).map_err(export)?;
        // INVARIANT: an object serializes ending in `}`, which is replaced to leave it open.
        if text.pop() != Some(b'}') {
            return Err(StewardError::Subject {
                source: "the bundle's head did not serialize as an object".into(),
            });
        }
        text.extend_from_slice(b",\"records\":[\n");
        self.write(&text)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), StewardError> {
        self.out.write_all(bytes).map_err(export)
    }
}

impl<W> fmt::Debug for SubjectBundle<'_, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectBundle").finish_non_exhaustive()
    }
}

fn export(error: impl Into<BoxError>) -> StewardError {
    StewardError::Subject {
        source: error.into(),
    }
}
