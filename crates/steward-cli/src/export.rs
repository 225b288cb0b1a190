//! `steward export training`: the audited training export, redacted, to JSON lines encrypted
//! to the pipeline's age recipients (or, explicitly, plaintext) and a manifest.

use std::{
    collections::BTreeMap,
    ffi::OsString,
    fs::{self, File, OpenOptions},
    io::{BufWriter, ErrorKind, Write},
    path::{Path, PathBuf},
};

use serde::Serialize;
use serde_json::json;
use steward::{
    EncryptedExport, ExportedRecord, TrainingManifest, TrainingRecipients,
    logs::{BoxError, ExportOutcome},
    vocabulary::{CustomerId, RecordId, Timestamp, TrainingLevel, TrainingScope},
};
use steward_store::{CustomerRecords, ExportLineage, LineageStore, RecordScan};

use crate::{
    Context,
    cli::{ExportCommand, ExportTrainingArgs},
    error::{CliError, Exit},
    output::{Format, counted, note, print_json, println, progress},
    store_dir::Session,
};

/// `steward export ...`
pub(crate) fn run(context: &Context, command: ExportCommand) -> Result<Exit, CliError> {
    match command {
        ExportCommand::Training(args) => training(context, args),
        ExportCommand::List => list(context),
    }
}

/// How the records file leaves the host.
pub(crate) enum Protection {
    /// An age file to the pipeline's recipients.
    Encrypted(TrainingRecipients),
    /// Plaintext, asked for with `--dangerous-plaintext`.
    DangerousPlaintext,
}

impl Protection {
    /// From `--dangerous-plaintext` and `--recipient`: refused before anything is read or
    /// created if a recipient is not age X25519.
    pub(crate) fn from_flags(
        dangerous_plaintext: bool,
        recipients: &[String],
    ) -> Result<Self, CliError> {
        if dangerous_plaintext {
            return Ok(Self::DangerousPlaintext);
        }
        TrainingRecipients::parse_all(recipients.iter().map(String::as_str))
            .map(Self::Encrypted)
            .map_err(|problem| CliError::BadRecipient { problem })
    }
}

fn training(context: &Context, args: ExportTrainingArgs) -> Result<Exit, CliError> {
    let protection = Protection::from_flags(args.dangerous_plaintext, &args.recipient)?;
    let manifest_path = args
        .manifest
        .unwrap_or_else(|| default_manifest_path(&args.out));
    if manifest_path == args.out {
        return Err(CliError::OutputExists { path: args.out });
    }
    let session = context.open()?;
    let (records_file, manifest_file) = create_outputs(&args.out, &manifest_path)?;
    let written = write_export(
        context,
        &session,
        (args.scope, &protection),
        (records_file, &args.out),
        (manifest_file, &manifest_path),
    );
    let outcome = match written {
        Ok(outcome) => outcome,
        Err(error) => {
            // The job's outcome is in the audit trail; a partial file must not pass for an
            // export, so both go.
            let _removed = fs::remove_file(&args.out);
            let _removed = fs::remove_file(&manifest_path);
            return Err(error);
        }
    };
    match context.format {
        Format::Json => print_json(
            "the export",
            &json!({
                "outcome": outcome,
                "matches_plan": outcome.matches_plan(),
                "out": args.out,
                "manifest": manifest_path,
                "encrypted": matches!(protection, Protection::Encrypted(_)),
                "recipients": recipient_strings(&protection),
            }),
        )?,
        Format::Human => {
            let counts = outcome.counts;
            println(&format!(
                "training export {} at scope `{}` [{}]: {} exported to `{}`",
                outcome.plan.job,
                args.scope,
                args.scope.clause(),
                counted(counts.exported, "record", "records"),
                args.out.display()
            ))?;
            println(&format!(
                "left out: {} for consent at collection, {} due for deletion, {} kept only by a \
                 legal hold, {} without a relationship on record, {} that could not be \
                 evaluated, {} shredded, {} tampered, {} not in the plan",
                counts.consent,
                counts.retention_due,
                counts.legal_hold_only,
                counts.no_relationship,
                counts.cannot_evaluate,
                counts.shredded,
                counts.tampered,
                counts.not_planned
            ))?;
            println(&format!(
                "secrets redacted before export: {}",
                outcome.redactions
            ))?;
            match &protection {
                Protection::Encrypted(_) => println(&format!(
                    "encrypted (age) to {}",
                    recipient_strings(&protection).join(", ")
                ))?,
                Protection::DangerousPlaintext => note(
                    "written as plaintext (--dangerous-plaintext): the records sit on this \
                     host's disk until the file is deleted",
                ),
            }
            if !outcome.not_exported.is_empty() {
                println(&format!(
                    "planned but not exported: {}",
                    counted(outcome.not_exported.len(), "record", "records")
                ))?;
                for left_out in &outcome.not_exported {
                    println(&format!("  {} ({})", left_out.record, left_out.reason))?;
                }
            }
            println(&format!(
                "manifest `{}`; the job's plan and outcome are in the audit trail",
                manifest_path.display()
            ))?;
            if !outcome.matches_plan() {
                note("the export differs from its plan: see the counts above and the audit trail");
            }
        }
    }
    Ok(Exit::Success)
}

/// `steward export list`
fn list(context: &Context) -> Result<Exit, CliError> {
    let session = context.open()?;
    let jobs = session.store.exports()?;
    match context.format {
        Format::Json => print_json("the export jobs", &jobs)?,
        Format::Human => {
            if jobs.is_empty() {
                println("no training export jobs")?;
            }
            for job in &jobs {
                let records: u64 = job
                    .customers
                    .iter()
                    .fold(0, |sum, entry| sum.saturating_add(entry.records));
                let recipients = if job.recipients.is_empty() {
                    "plaintext".to_owned()
                } else {
                    format!("encrypted to {}", job.recipients.join(", "))
                };
                println(&format!(
                    "{} at {} scope `{}`: {} of {}, {}",
                    job.job,
                    job.at,
                    job.scope,
                    counted(records, "record", "records"),
                    counted(job.customers.len(), "customer", "customers"),
                    recipients
                ))?;
                for entry in &job.customers {
                    println(&format!(
                        "  customer {}: {}",
                        entry.customer,
                        counted(entry.records, "record", "records")
                    ))?;
                }
            }
        }
    }
    Ok(Exit::Success)
}

/// The recipients' public strings, none for a plaintext export.
pub(crate) fn recipient_strings(protection: &Protection) -> Vec<String> {
    match protection {
        Protection::Encrypted(recipients) => recipients.iter().map(ToString::to_string).collect(),
        Protection::DangerousPlaintext => Vec::new(),
    }
}

/// `FILE.manifest.jsonl` beside `FILE`.
fn default_manifest_path(out: &Path) -> PathBuf {
    let mut name = OsString::from(out.as_os_str());
    name.push(".manifest.jsonl");
    PathBuf::from(name)
}

/// Creates both output files, refusing existing ones; creates neither if one fails.
fn create_outputs(out: &Path, manifest: &Path) -> Result<(File, File), CliError> {
    let records = create_new(out)?;
    match create_new(manifest) {
        Ok(manifest) => Ok((records, manifest)),
        Err(error) => {
            drop(records);
            let _removed = fs::remove_file(out);
            Err(error)
        }
    }
}

/// A new file only its owner can read (0600 on Unix): the records, even encrypted, and the
/// manifest (customer ids) are no business of the host's other users.
pub(crate) fn create_new(path: &Path) -> Result<File, CliError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(|source| match source.kind() {
        ErrorKind::AlreadyExists => CliError::OutputExists {
            path: path.to_path_buf(),
        },
        _ => CliError::Write {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// The records file: encrypted as it is written, or plaintext.
pub(crate) enum RecordsOut {
    Encrypted(EncryptedExport<BufWriter<File>>),
    Plain(BufWriter<File>),
}

impl RecordsOut {
    pub(crate) fn finish(self) -> Result<BufWriter<File>, CliError> {
        match self {
            Self::Encrypted(out) => Ok(out.finish()?),
            Self::Plain(out) => Ok(out),
        }
    }
}

impl Write for RecordsOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Encrypted(out) => out.write(buf),
            Self::Plain(out) => out.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Encrypted(out) => out.flush(),
            Self::Plain(out) => out.flush(),
        }
    }
}

fn write_export(
    context: &Context,
    session: &Session,
    (scope, protection): (TrainingScope, &Protection),
    (records_file, records_path): (File, &Path),
    (manifest_file, manifest_path): (File, &Path),
) -> Result<ExportOutcome, CliError> {
    // A private job reads only its owner's records: it never even sees another customer's.
    let scan = match scope {
        TrainingScope::Private { owner } => RecordScan::Customer(owner),
        _ => RecordScan::All,
    };
    let mut manifest = TrainingManifest::new(BufWriter::new(manifest_file));
    let mut customers = BTreeMap::<CustomerId, u64>::new();
    let mut records = match protection {
        Protection::Encrypted(recipients) => {
            manifest = manifest.with_recipients(recipients);
            // Encrypting on a second thread lets the export decrypt and redact the next
            // records meanwhile; only ciphertext reaches the file either way.
            RecordsOut::Encrypted(EncryptedExport::on_own_thread(
                recipients,
                BufWriter::new(records_file),
            )?)
        }
        Protection::DangerousPlaintext => RecordsOut::Plain(BufWriter::new(records_file)),
    };
    let bar = progress(None, "exported", context.format);
    let exported = session.vault.export_training(
        scope,
        |pass| session.store.stream_records(scan, pass),
        |record| {
            write_record(&mut records, record)?;
            manifest.record(record.header())?;
            let count = customers.entry(record.header().customer()).or_default();
            *count = count.saturating_add(1);
            bar.inc(1);
            Ok(())
        },
    );
    bar.finish_and_clear();
    let outcome = exported?;
    finish_file(records.finish()?, records_path)?;
    finish_file(manifest.finish(&outcome)?, manifest_path)?;
    // The store remembers which customers' records left custody in this job, so a sweep can
    // name the exports still holding a deleted customer's records.
    let lineage = ExportLineage {
        job: outcome.plan.job,
        scope,
        at: outcome.plan.at,
        recipients: recipient_strings(protection),
        customers: customers
            .into_iter()
            .map(|(customer, records)| CustomerRecords { customer, records })
            .collect(),
    };
    session.store.record_export(&lineage)?;
    Ok(outcome)
}

/// Flushes a written file and syncs it to disk.
pub(crate) fn finish_file(writer: BufWriter<File>, path: &Path) -> Result<(), CliError> {
    let write_error = |source| CliError::Write {
        path: path.to_path_buf(),
        source,
    };
    let file = writer
        .into_inner()
        .map_err(|error| write_error(error.into_error()))?;
    file.sync_all().map_err(write_error)
}

/// One exported record as a JSON line: its header fields and its body (as text, or as hex
/// if it is not UTF-8).
#[derive(Serialize)]
struct ExportLine<'a> {
    record: RecordId,
    customer: CustomerId,
    collected_at: Timestamp,
    consent_at_collection: TrainingLevel,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_hex: Option<String>,
}

fn write_record(out: &mut impl Write, record: ExportedRecord<'_>) -> Result<(), BoxError> {
    let header = record.header();
    let text = std::str::from_utf8(record.body()).ok();
    let line = ExportLine {
        record: header.record_id(),
        customer: header.customer(),
        collected_at: header.collected_at(),
        consent_at_collection: record.consent_at_collection(),
        body: text,
        body_hex: text
            .is_none()
            .then(|| steward::logs::hex::encode(record.body())),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")?;
    Ok(())
}
