//! The training data path: an audited export of exactly the records a training scope may use.

use std::{fmt, io::Write, str::FromStr, sync::mpsc, thread};

use serde::Serialize;
use steward_core::{DataCategory, RecordId, Timestamp, TrainingLevel, TrainingScope};
use steward_logs::{
    AuditStore, BoxError, ExportCounts, ExportJobId, ExportOutcome, ExportPlan, PlannedRecords,
    RecordDigester, RecordHeader, SealedRecord, SkipReason,
};
use zeroize::{Zeroize, Zeroizing};

use crate::{DataRef, DenyReason, Request, RosterFacts, StewardError, Vault};

/// Which of its two passes a training export asks its source for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExportPass {
    /// Planning reads only headers: the source may give each record's first
    /// [`HEADER_LEN`](steward_logs::HEADER_LEN) bytes (or whole records).
    Plan,
    /// Running decrypts: the source gives whole records, the same ones in the same order.
    Run,
}

/// One record a training export yields: its authenticated header and its body, redacted of
/// secrets. The body is zeroized once the sink returns.
#[derive(Debug, Clone, Copy)]
pub struct ExportedRecord<'a> {
    header: &'a RecordHeader,
    body: &'a [u8],
}

impl<'a> ExportedRecord<'a> {
    /// The record's header, authenticated by the decryption that produced the body.
    #[must_use]
    pub const fn header(&self) -> &'a RecordHeader {
        self.header
    }

    /// The request body, as logged, with every secret the standard scanner's current rules
    /// find replaced by a marker (`[REDACTED:<kind>:<fingerprint>]`), at sealing or at
    /// export, whatever the record's redaction at sealing was.
    #[must_use]
    pub const fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The consent level sealed at collection, which permitted the export.
    #[must_use]
    pub fn consent_at_collection(&self) -> TrainingLevel {
        self.header.consent()
    }
}

impl<F: RosterFacts, S: AuditStore> Vault<F, S> {
    /// Exports, for a training job at `scope`, exactly the records whose authenticated
    /// consent at collection permits it now, and nothing else (`training.*`).
    ///
    /// `source` is called twice, once per [`ExportPass`], and should give the same sealed
    /// records both times; for [`ExportPass::Plan`] the records' headers suffice. It may
    /// stream them: the job holds only the planned ids (16 bytes each), never the records.
    /// Whatever the source gives, the job exports only records its audited plan names: one
    /// that arrived between the passes is counted as [`SkipReason::NotPlanned`], never
    /// decrypted, and a planned one the run did not export is listed in
    /// [`ExportOutcome::not_exported`] with its reason ([`SkipReason::Missing`] if the run
    /// never gave it) and counted in the trail.
    ///
    /// 1. Plan, decrypting nothing: every record is decided with [`Policy::check`] for
    ///    [`Actor::TrainingPipeline`](crate::Actor::TrainingPipeline) at one instant (the
    ///    vault's audit clock), on the level its header claims. Left out, with a counted
    ///    reason: consent ([`SkipReason::Consent`], including a private job meeting another
    ///    customer's record, and, in the strict consent mode, a later downgrade), retention
    ///    due, kept only by a legal hold, no relationship on record, cannot be evaluated
    ///    ([`SkipReason::CannotEvaluate`], never counted as retention), shredded, malformed.
    /// 2. The plan (scope, instant, policy version, counts, and a digest of the planned
    ///    record ids) is written to the audit trail, before any plaintext exists.
    /// 3. Run: each planned record is decrypted, which authenticates its header, so the
    ///    level that decided is the sealed one: a record whose header was altered fails to
    ///    authenticate and is counted as tampered, never yielded. Its body has then passed
    ///    the standard scanner's current rule set, always (secrets serve no training): a
    ///    record sealed with redaction off, before redaction existed or under an older rule
    ///    set is scanned now; one whose authenticated header says the current rule set
    ///    scanned it at sealing is not scanned twice, since redaction is idempotent
    ///    ([`Custody::redact_for_export`](crate::logs::Custody::redact_for_export)). `sink` receives each exported
    ///    record; its body is zeroized when `sink` returns.
    /// 4. The outcome (what was really exported, the digest of those ids, and the secrets
    ///    redacted, counted by kind) is written to the trail, also when `source` or `sink`
    ///    fails midway.
    ///
    /// [`Policy::check`]: crate::Policy::check
    ///
    /// # Errors
    ///
    /// [`StewardError::Logs`] if the trail could not be written (no plaintext is produced
    /// before the plan is in the trail); [`StewardError::Export`] if `source` or `sink`
    /// failed (the job's outcome is in the trail up to that point).
    ///
    /// ```
    /// use steward::{
    ///     Facts,
    ///     MemoryFacts,
    ///     Policy,
    ///     Vault,
    ///     consent::{Channel, ConsentActor, ConsentChange},
    ///     vocabulary::{RecordId, Timestamp, TrainingLevel, TrainingScope},
    ///     logs::{AuditKey, AuditTrail, Keyring, MasterKey, MemoryAuditStore, SealInput},
    /// };
    ///
    /// let policy = Policy::coder_model();
    /// let mut facts = MemoryFacts::new(&policy);
    /// let (ada, ben) = (
    ///     "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?,
    ///     "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a11".parse()?,
    /// );
    /// let joined = "2025-01-01T00:00:00Z".parse()?;
    /// facts.relationships.start(ada, joined)?;
    /// facts.relationships.start(ben, joined)?;
    /// // Ada opts in to shared training; Ben keeps the default.
    /// let opt_in = ConsentChange::new(
    ///     ada,
    ///     TrainingLevel::Shared,
    ///     joined,
    ///     ConsentActor::Customer,
    ///     Channel::AccountSettings,
    ///     policy.version().clone(),
    /// );
    /// facts.consent.record(opt_in, joined)?;
    /// let master = MasterKey::from_bytes("kek-1".parse()?, b"steward test key 42, not secret!")?;
    /// let trail = AuditTrail::new(AuditKey::from_bytes(b"steward test key 17, not secret!")?, MemoryAuditStore::new())?;
    /// let vault = Vault::new(policy, facts, Keyring::new(master), trail)?;
    ///
    /// // The proxy seals each request under the level in force at its collection.
    /// let mut stored = Vec::new();
    /// for (customer, prompt) in [(ada, "share me"), (ben, "keep me")] {
    ///     let at = Timestamp::now();
    ///     let record = vault.seal(RecordId::generate_at(at), customer, at, prompt.as_bytes())?;
    ///     stored.push(record.into_bytes());
    /// }
    ///
    /// let mut bodies = Vec::new();
    /// let outcome = vault.export_training(
    ///     TrainingScope::Shared,
    ///     |_pass| stored.iter().cloned().map(Ok),
    ///     |record| {
    ///         bodies.push(record.body().to_vec());
    ///         Ok(())
    ///     },
    /// )?;
    /// assert_eq!(bodies, [b"share me".to_vec()]);
    /// assert_eq!((outcome.counts.exported, outcome.counts.consent), (1, 1));
    /// assert!(outcome.matches_plan());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn export_training<I>(
        &self,
        scope: TrainingScope,
        mut source: impl FnMut(ExportPass) -> I,
        mut sink: impl FnMut(ExportedRecord<'_>) -> Result<(), BoxError>,
    ) -> Result<ExportOutcome, StewardError>
    where
        I: IntoIterator<Item = Result<Vec<u8>, BoxError>>,
    {
        let at = self.decision_instant()?;
        let mut counts = ExportCounts::default();
        let mut planned = PlannedRecords::new();
        for item in source(ExportPass::Plan) {
            let bytes = item.map_err(|source| StewardError::Export { source })?;
            match RecordHeader::from_prefix(&bytes) {
                Err(_) => counts.skip(SkipReason::Tampered),
                Ok(header) => match self.training_decision(&header, scope, at) {
                    Err(reason) => counts.skip(reason),
                    Ok(()) => {
                        counts.take();
                        planned.add(header.record_id());
                    }
                },
            }
        }
        let plan = ExportPlan {
            job: ExportJobId::generate_at(at),
            scope,
            policy_version: self.policy().version().clone(),
            at,
            counts,
            digest: planned.digest(),
        };
        let mut grant = self.custody().begin_export(plan, planned)?;
        let mut failure = None;
        for item in source(ExportPass::Run) {
            let bytes = match item {
                Ok(bytes) => bytes,
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            };
            // A planned record that no longer parses is reported as such, by the id its
            // header still names.
            let named = RecordHeader::from_prefix(&bytes).map(|header| header.record_id());
            let record = match (SealedRecord::from_vec(bytes), named) {
                (Ok(record), _) => record,
                (Err(_), Ok(id)) => {
                    grant.leave_out(id, SkipReason::Tampered);
                    continue;
                }
                (Err(_), Err(_)) => {
                    grant.skip(SkipReason::Tampered);
                    continue;
                }
            };
            let id = record.header().record_id();
            let decided = self.training_decision(record.header(), scope, at);
            // Exactly what the audited plan names: a record the plan left out is counted
            // for its reason, one it never saw (arrived after it) as not planned, and
            // neither is decrypted.
            if !grant.is_pending(id) {
                grant.skip(decided.err().unwrap_or(SkipReason::NotPlanned));
                continue;
            }
            if let Err(reason) = decided {
                grant.leave_out(id, reason);
                continue;
            }
            // Decrypting authenticates the header the decision read: a record whose claimed
            // level was altered fails here and is never yielded.
            let Ok(plaintext) = self.custody().open_for_export(&mut grant, &record) else {
                continue;
            };
            // Secrets never leave custody for training, whatever the record's redaction at
            // sealing: a scanner that cannot be built stops the job.
            let plaintext = match self.custody().redact_for_export(&mut grant, plaintext) {
                Ok(plaintext) => plaintext,
                Err(error) => {
                    failure = Some(error.into());
                    break;
                }
            };
            let exported = ExportedRecord {
                header: plaintext.header(),
                body: plaintext.as_bytes(),
            };
            if let Err(error) = sink(exported) {
                failure = Some(error);
                break;
            }
        }
        let outcome = self.custody().finish_export(grant)?;
        match failure {
            Some(source) => Err(StewardError::Export { source }),
            None => Ok(outcome),
        }
    }

    /// Whether a training job at `scope` may read the record with this header at `at`, on
    /// the level the header states: the caller decrypts before yielding, which authenticates
    /// exactly these header bytes.
    fn training_decision(
        &self,
        header: &RecordHeader,
        scope: TrainingScope,
        at: Timestamp,
    ) -> Result<(), SkipReason> {
        // A keyring left unreadable by a panic elsewhere decrypts nothing either: count the
        // record as shredded (unopenable) rather than guess.
        let shredded = self.keyring().map_or(true, |keyring| {
            keyring.is_version_shredded(header.customer(), header.key_version())
        });
        if shredded {
            return Err(SkipReason::Shredded);
        }
        let data = DataRef::new(
            DataCategory::LlmRequestLog,
            header.customer(),
            header.collected_at(),
        )
        .with_record(header.record_id())
        .with_consent_at_collection(header.consent());
        let decision = self.check(&Request::train(scope, data, at));
        match decision.reason() {
            None => Ok(()),
            Some(DenyReason::RetentionEnded) => Err(SkipReason::RetentionDue),
            // Not a retention matter: what cannot be evaluated is left out as such.
            Some(DenyReason::CannotEvaluate { .. }) => Err(SkipReason::CannotEvaluate),
            Some(DenyReason::NoRelationship) => Err(SkipReason::NoRelationship),
            Some(DenyReason::KeptOnlyByLegalHold) => Err(SkipReason::LegalHoldOnly),
            Some(_) => Err(SkipReason::Consent),
        }
    }
}

/// A manifest of a training export that a model card can cite: one JSON line per exported
/// record (id, customer, collection instant, consent at collection), one per planned record
/// the job did not export (id and `not_exported` reason), then one line with the job: its
/// id, scope, instant, policy version, counts and the digests of the planned and exported
/// ids, which match the job's two audit entries.
///
/// Streams to any writer, so a manifest of any size takes constant memory. Feed it from the
/// export's sink, then finish it with the outcome.
///
/// ```
/// use steward::{TrainingManifest, logs::RecordDigester};
///
/// let manifest = TrainingManifest::new(Vec::new());
/// // manifest.record(exported.header())? for each record, inside the export's sink; then
/// // manifest.finish(&outcome)?.
/// # let _ = manifest;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct TrainingManifest<W> {
    out: W,
    records: RecordDigester,
    recipients: Vec<String>,
}

/// The format name written into every manifest's last line.
pub const MANIFEST_FORMAT: &str = "steward-training-manifest/3";

#[derive(Serialize)]
struct ManifestRecord {
    record: RecordId,
    customer: steward_core::CustomerId,
    collected_at: Timestamp,
    consent_at_collection: TrainingLevel,
}

/// A planned record the job did not export, and why.
#[derive(Serialize)]
struct ManifestNotExported {
    record: RecordId,
    not_exported: SkipReason,
}

#[derive(Serialize)]
struct ManifestJob<'a> {
    format: &'static str,
    job: ExportJobId,
    scope: TrainingScope,
    policy_version: &'a steward_core::PolicyVersion,
    at: Timestamp,
    planned: ExportCounts,
    exported: ExportCounts,
    planned_digest: steward_logs::RecordDigest,
    exported_digest: steward_logs::RecordDigest,
    matches_plan: bool,
    /// Secrets redacted from the exported bodies, by kind.
    redactions: steward_redact::RedactionCounts,
    /// The age recipients the records were encrypted to; empty for a plaintext export.
    recipients: &'a [String],
}

impl<W: Write> TrainingManifest<W> {
    /// A manifest written to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            records: RecordDigester::new(),
            recipients: Vec::new(),
        }
    }

    /// Names, in the job line, the recipients the exported records were encrypted to (their
    /// public strings).
    #[must_use]
    pub fn with_recipients(mut self, recipients: &TrainingRecipients) -> Self {
        self.recipients = recipients.iter().map(ToString::to_string).collect();
        self
    }

    /// Lists one exported record.
    ///
    /// # Errors
    ///
    /// [`StewardError::Export`] if the writer failed.
    pub fn record(&mut self, header: &RecordHeader) -> Result<(), StewardError> {
        self.records.add(header.record_id());
        let line = ManifestRecord {
            record: header.record_id(),
            customer: header.customer(),
            collected_at: header.collected_at(),
            consent_at_collection: header.consent(),
        };
        self.line(&line)
    }

    /// Writes the job line and returns the writer.
    ///
    /// # Errors
    ///
    /// [`StewardError::Export`] if the writer failed, or if the records listed are not the
    /// ones the job exported (their digest differs from the outcome's).
    pub fn finish(mut self, outcome: &ExportOutcome) -> Result<W, StewardError> {
        let listed = std::mem::take(&mut self.records).finish();
        let recipients = std::mem::take(&mut self.recipients);
        if listed != outcome.digest {
            return Err(StewardError::Export {
                source: "the manifest lists other records than the job exported".into(),
            });
        }
        for left_out in &outcome.not_exported {
            self.line(&ManifestNotExported {
                record: left_out.record,
                not_exported: left_out.reason,
            })?;
        }
        let job = ManifestJob {
            format: MANIFEST_FORMAT,
            job: outcome.plan.job,
            scope: outcome.plan.scope,
            policy_version: &outcome.plan.policy_version,
            at: outcome.plan.at,
            planned: outcome.plan.counts,
            exported: outcome.counts,
            planned_digest: outcome.plan.digest,
            exported_digest: outcome.digest,
            matches_plan: outcome.matches_plan(),
            redactions: outcome.redactions,
            recipients: &recipients,
        };
        self.line(&job)?;
        self.out.flush().map_err(|error| StewardError::Export {
            source: error.into(),
        })?;
        Ok(self.out)
    }

    fn line(&mut self, value: &impl Serialize) -> Result<(), StewardError> {
        let export = |source: BoxError| StewardError::Export { source };
        serde_json::to_writer(&mut self.out, value).map_err(|error| export(error.into()))?;
        self.out
            .write_all(b"\n")
            .map_err(|error| export(error.into()))
    }
}

/// One recipient of a training export: an age X25519 recipient (`age1...`), the training
/// pipeline's public key. Parsing refuses anything else, naming it.
///
/// ```
/// use steward::{StewardError, TrainingRecipient};
///
/// let bad = "ssh-ed25519 AAAA".parse::<TrainingRecipient>();
/// assert!(matches!(bad, Err(StewardError::InvalidRecipient { .. })));
/// ```
#[derive(Clone)]
pub struct TrainingRecipient(age::x25519::Recipient);

impl FromStr for TrainingRecipient {
    type Err = StewardError;

    fn from_str(recipient: &str) -> Result<Self, Self::Err> {
        recipient
            .parse::<age::x25519::Recipient>()
            .map(Self)
            .map_err(|_| StewardError::InvalidRecipient {
                recipient: recipient.to_owned(),
            })
    }
}

impl fmt::Display for TrainingRecipient {
    /// The public string, `age1...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for TrainingRecipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrainingRecipient({})", self.0)
    }
}

/// The recipients a training export is encrypted to: at least one.
#[derive(Debug, Clone)]
pub struct TrainingRecipients(Vec<TrainingRecipient>);

impl TrainingRecipients {
    /// The recipients given.
    ///
    /// # Errors
    ///
    /// [`StewardError::NoRecipients`] if there is none.
    pub fn new(recipients: Vec<TrainingRecipient>) -> Result<Self, StewardError> {
        if recipients.is_empty() {
            return Err(StewardError::NoRecipients);
        }
        Ok(Self(recipients))
    }

    /// Parses each string as a [`TrainingRecipient`], before anything is read or written.
    ///
    /// # Errors
    ///
    /// [`StewardError::InvalidRecipient`] naming the first string that is not an age X25519
    /// recipient; [`StewardError::NoRecipients`] if there is none.
    pub fn parse_all<'a>(
        recipients: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, StewardError> {
        let parsed = recipients
            .into_iter()
            .map(str::parse)
            .collect::<Result<Vec<TrainingRecipient>, _>>()?;
        Self::new(parsed)
    }

    /// The recipients, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &TrainingRecipient> {
        self.0.iter()
    }
}

/// A writer that encrypts what it is given to a training export's recipients, as an age file
/// (streaming: constant memory, and no plaintext reaches `out`). Call
/// [`finish`](Self::finish) at the end: without it the file is truncated and does not
/// decrypt.
///
/// [`new`](Self::new) encrypts on the calling thread; [`on_own_thread`](Self::on_own_thread)
/// hands the plaintext, in age's 64 KiB chunks, to a thread that encrypts and writes it, so
/// that an export decrypts and redacts its next records while the last ones are encrypted.
/// Both write the same age file.
///
/// ```
/// use std::io::Write;
/// use steward::{EncryptedExport, TrainingRecipients};
///
/// let recipients = TrainingRecipients::parse_all([
///     "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
/// ])?;
/// let mut out = EncryptedExport::new(&recipients, Vec::new())?;
/// out.write_all(b"{\"body\":\"...\"}\n")?;
/// let file = out.finish()?;
/// assert!(file.starts_with(b"age-encryption.org/v1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EncryptedExport<W: Write> {
    encrypting: Encrypting<W>,
}

/// Where an [`EncryptedExport`] encrypts.
enum Encrypting<W: Write> {
    Inline(age::stream::StreamWriter<W>),
    OwnThread(EncryptingThread<W>),
}

/// Chunks the caller may fill ahead of the encrypting thread: bounds the plaintext in
/// memory to a few of age's chunks, whatever the export's size.
const QUEUED_CHUNKS: usize = 4;

/// age's plaintext chunk, the unit the encrypting thread is handed.
const CHUNK_LEN: usize = 64 * 1024;

/// What the caller hands the encrypting thread.
enum Message {
    /// Plaintext to encrypt (zeroized when dropped, encrypted or not).
    Chunk(Zeroizing<Vec<u8>>),
    /// Flush the output.
    Flush,
    /// The last plaintext: encrypt it and the final chunk, and give the writer back.
    Finish(Zeroizing<Vec<u8>>),
}

/// The caller's side of an encrypting thread.
struct EncryptingThread<W> {
    /// Plaintext not yet handed over: less than a chunk.
    chunk: Zeroizing<Vec<u8>>,
    /// `None` once the thread was told to finish or found stopped.
    queue: Option<mpsc::SyncSender<Message>>,
    /// Chunks the thread has encrypted, wiped, to fill again: a chunk is allocated once per
    /// export rather than once per 64 KiB (at most `QUEUED_CHUNKS` + 3 exist: the one being
    /// filled, one waiting to be queued, the queued ones and the one being encrypted).
    spare: mpsc::Receiver<Zeroizing<Vec<u8>>>,
    /// `None` once joined.
    thread: Option<thread::JoinHandle<std::io::Result<W>>>,
}

impl<W: Write> EncryptedExport<W> {
    /// Starts an age file to `recipients` on `out` (its header is written now), encrypting on
    /// the calling thread.
    ///
    /// # Errors
    ///
    /// [`StewardError::Export`] if the file key could not be wrapped or `out` failed.
    pub fn new(recipients: &TrainingRecipients, out: W) -> Result<Self, StewardError> {
        Ok(Self {
            encrypting: Encrypting::Inline(stream_writer(recipients, out)?),
        })
    }

    /// Writes the last chunk and returns the writer, once the encrypting thread (if any) has
    /// written everything.
    ///
    /// # Errors
    ///
    /// [`StewardError::Export`] if the writer failed or the encrypting thread stopped.
    pub fn finish(self) -> Result<W, StewardError> {
        let finished = match self.encrypting {
            Encrypting::Inline(inner) => inner.finish(),
            Encrypting::OwnThread(mut own) => own.finish(),
        };
        finished.map_err(|error| StewardError::Export {
            source: error.into(),
        })
    }
}

impl<W: Write + Send + 'static> EncryptedExport<W> {
    /// Starts an age file to `recipients` on `out` (its header is written now), encrypted and
    /// written by a thread of its own: the caller's writes fill plaintext chunks, handed over
    /// through a queue of a few chunks (so the plaintext in memory stays bounded, and only
    /// ciphertext reaches `out`). The file is the same as [`new`](Self::new) writes. A
    /// failure of `out` is returned from the next write (or [`finish`](Self::finish)); an
    /// export dropped unfinished stops the thread and leaves the file truncated, as an
    /// inline one does.
    ///
    /// # Errors
    ///
    /// [`StewardError::Export`] if the file key could not be wrapped, `out` failed or the
    /// thread could not be started.
    pub fn on_own_thread(recipients: &TrainingRecipients, out: W) -> Result<Self, StewardError> {
        let inner = stream_writer(recipients, out)?;
        let (queue, chunks) = mpsc::sync_channel(QUEUED_CHUNKS);
        let (emptied, spare) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("steward-export-age".to_owned())
            .spawn(move || encrypt_queued(inner, &chunks, &emptied))
            .map_err(|error| StewardError::Export {
                source: error.into(),
            })?;
        Ok(Self {
            encrypting: Encrypting::OwnThread(EncryptingThread {
                chunk: Zeroizing::new(Vec::with_capacity(CHUNK_LEN)),
                queue: Some(queue),
                spare,
                thread: Some(thread),
            }),
        })
    }
}

impl<W: Write> Write for EncryptedExport<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.encrypting {
            Encrypting::Inline(inner) => inner.write(buf),
            Encrypting::OwnThread(own) => own.write(buf),
        }
    }

    /// Inline, flushes `out`; on its own thread, asks the thread to flush `out` once it has
    /// written what came before (a failure is returned from the next write). Either way the
    /// plaintext of an unfinished chunk stays until more comes or the export finishes: age
    /// encrypts whole chunks.
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.encrypting {
            Encrypting::Inline(inner) => inner.flush(),
            Encrypting::OwnThread(own) => own.send(Message::Flush),
        }
    }
}

impl<W: Write> fmt::Debug for EncryptedExport<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedExport").finish_non_exhaustive()
    }
}

/// An age stream to `recipients` on `out`, its header written.
fn stream_writer<W: Write>(
    recipients: &TrainingRecipients,
    out: W,
) -> Result<age::stream::StreamWriter<W>, StewardError> {
    let export = |source: BoxError| StewardError::Export { source };
    let encryptor = age::Encryptor::with_recipients(
        recipients
            .iter()
            .map(|recipient| &recipient.0 as &dyn age::Recipient),
    )
    .map_err(|error| export(error.into()))?;
    encryptor
        .wrap_output(out)
        .map_err(|error| export(error.into()))
}

/// The encrypting thread: encrypts what the queue brings, in order, until told to finish;
/// hands each chunk back wiped (its capacity kept) through `emptied`.
fn encrypt_queued<W: Write>(
    mut out: age::stream::StreamWriter<W>,
    chunks: &mpsc::Receiver<Message>,
    emptied: &mpsc::Sender<Zeroizing<Vec<u8>>>,
) -> std::io::Result<W> {
    for message in chunks {
        match message {
            Message::Chunk(mut chunk) => {
                out.write_all(&chunk)?;
                // The plaintext goes once encrypted, as a dropped chunk's would. Wiped as a
                // slice: zeroize's `Vec` impl writes byte by byte (volatile), several times
                // the cost of the slice's bulk fill.
                chunk.as_mut_slice().zeroize();
                chunk.clear();
                // A caller that is gone takes no more chunks: this one is zeroized here.
                let _unused = emptied.send(chunk);
            }
            Message::Flush => out.flush()?,
            Message::Finish(chunk) => {
                out.write_all(&chunk)?;
                return out.finish();
            }
        }
    }
    // The caller went away unfinished: no final chunk, so the file does not decrypt, as an
    // inline export dropped unfinished.
    Err(std::io::Error::other(
        "the export was dropped before it was finished",
    ))
}

impl<W> EncryptingThread<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK_LEN.saturating_sub(self.chunk.len());
        let taken = buf.get(..room).unwrap_or(buf);
        self.chunk.extend_from_slice(taken);
        if self.chunk.len() >= CHUNK_LEN {
            let next = self
                .spare
                .try_recv()
                .unwrap_or_else(|_| Zeroizing::new(Vec::with_capacity(CHUNK_LEN)));
            let full = std::mem::replace(&mut self.chunk, next);
            self.send(Message::Chunk(full))?;
        }
        Ok(taken.len())
    }

    fn finish(&mut self) -> std::io::Result<W> {
        let last = std::mem::replace(&mut self.chunk, Zeroizing::new(Vec::new()));
        self.send(Message::Finish(last))?;
        self.queue = None;
        self.join()
    }

    /// Queues `message`; if the thread has stopped, returns why.
    fn send(&mut self, message: Message) -> std::io::Result<()> {
        let Some(queue) = &self.queue else {
            return Err(std::io::Error::other("the encrypting thread has stopped"));
        };
        match queue.send(message) {
            Ok(()) => Ok(()),
            Err(mpsc::SendError(_unsent)) => {
                self.queue = None;
                // The thread stops only on a failure: that failure is this write's.
                Err(self
                    .join()
                    .err()
                    .unwrap_or_else(|| std::io::Error::other("the encrypting thread stopped")))
            }
        }
    }

    fn join(&mut self) -> std::io::Result<W> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the encrypting thread panicked"))),
            None => Err(std::io::Error::other("the encrypting thread has stopped")),
        }
    }
}

impl<W> Drop for EncryptingThread<W> {
    /// Stops the thread unfinished (the file stays truncated) and waits for it, so that
    /// nothing writes `out` after the export is gone.
    fn drop(&mut self) {
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            let _unfinished = thread.join();
        }
    }
}
