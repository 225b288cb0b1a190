//! `steward ingest`: seal request logs from JSON lines and store them durably.

use std::{
    io::Read,
    path::Path,
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    thread,
};

use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use steward::{
    CustomerId, DataCategory, RecordId, Timestamp, TrainingLevel, logs::MAX_BODY_LEN,
    redact::RedactionCounts,
};
use steward_store::{GroupCommitter, StoreVault};

use crate::{
    Context,
    cli::IngestArgs,
    error::{CliError, Exit},
    output::{Format, Table, note, print_json, progress},
};

/// How many records are sealed and handed to the group committer at once: records in flight
/// together share a transaction, so a large ingest pays one sync per group, not per record.
const IN_FLIGHT: usize = 16;

/// One line of input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    customer: CustomerId,
    #[serde(default)]
    at: Option<Timestamp>,
    body: Box<RawValue>,
}

/// A line checked and ready to seal.
#[derive(Debug)]
struct Planned {
    customer: CustomerId,
    at: Timestamp,
    body: Vec<u8>,
}

/// A record sealed and stored.
#[derive(Debug, Clone, Copy, Serialize)]
struct Ingested {
    record: RecordId,
    customer: CustomerId,
    collected_at: Timestamp,
    consent: TrainingLevel,
    /// Secrets replaced by markers before sealing, per kind (never the secrets).
    redacted: RedactionCounts,
}

/// `steward ingest [FILE]`
pub(crate) fn run(context: &Context, args: &IngestArgs) -> Result<Exit, CliError> {
    let input_name = args.input.display().to_string();
    let text = read_input(&args.input)?;
    let session = context.open()?;
    let planned = check_lines(&session.vault, &input_name, &text)?;
    let total = planned.len();

    let bar = progress(
        Some(u64::try_from(total).unwrap_or(u64::MAX)),
        "sealed",
        context.format,
    );
    let committer = GroupCommitter::new(&session.store)?;
    let (mut ingested, failure) = seal_all(&session.vault, &committer, &planned, &bar);
    bar.finish_and_clear();
    drop(committer);
    ingested.sort_by_key(|(index, _)| *index);
    let ingested: Vec<Ingested> = ingested.into_iter().map(|(_, record)| record).collect();

    // What was stored is printed even when a later record failed: those records exist.
    match context.format {
        Format::Json => print_json("the ingested records", &ingested)?,
        Format::Human => {
            let mut table = Table::new(&["RECORD", "CUSTOMER", "COLLECTED", "CONSENT"]);
            for record in &ingested {
                table.row(vec![
                    record.record.to_string(),
                    record.customer.to_string(),
                    record.collected_at.to_string(),
                    record.consent.to_string(),
                ]);
            }
            table.print()?;
            let mut redacted = RedactionCounts::default();
            for record in &ingested {
                redacted.add(&record.redacted);
            }
            if !redacted.is_empty() {
                note(format_args!(
                    "redacted {} secrets before sealing ({redacted}): each is a marker naming its \
                     kind and a keyed fingerprint",
                    redacted.total()
                ));
            }
            note(format_args!(
                "sealed and stored {} records under the consent in force when each was collected \
                 (logs.stored, logs.encrypted, training.forward-only)",
                ingested.len()
            ));
        }
    }
    match failure {
        Some(source) => Err(CliError::IngestStopped {
            stored: ingested.len(),
            total,
            source: Box::new(source),
        }),
        None => Ok(Exit::Success),
    }
}

fn read_input(path: &Path) -> Result<String, CliError> {
    let mut text = String::new();
    let read = if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .read_to_string(&mut text)
            .map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut file| file.read_to_string(&mut text).map(|_| ()))
    };
    read.map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text)
}

/// Checks every line before anything is sealed, so that bad input stores nothing.
fn check_lines(vault: &StoreVault, input: &str, text: &str) -> Result<Vec<Planned>, CliError> {
    let now = Timestamp::now();
    let facts = vault.facts()?;
    let mut planned = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index.saturating_add(1);
        let bad = |reason: String| CliError::IngestLine {
            input: input.to_owned(),
            line: number,
            reason,
        };
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(line).map_err(|error| {
            bad(format!(
                "not a request log line ({error}): write {{\"customer\": \"<uuid>\", \"at\": \
                 \"<RFC 3339>\", \"body\": \"...\"}}"
            ))
        })?;
        let at = parsed.at.unwrap_or(now);
        if at > now {
            return Err(bad(format!("`at` is in the future: `{at}`")));
        }
        if facts
            .relationships()?
            .containing(parsed.customer, at)
            .is_none()
        {
            return Err(bad(format!(
                "the customer has no relationship in force at `{at}`: start one with `steward \
                 customer start`"
            )));
        }
        // A string body is stored as its text; any other JSON value exactly as written.
        let raw = parsed.body.get();
        let body = if raw.starts_with('"') {
            serde_json::from_str::<String>(raw)
                .map_err(|error| bad(format!("invalid `body` ({error})")))?
                .into_bytes()
        } else {
            raw.as_bytes().to_vec()
        };
        // The record limit is checked here with the rest, so that an oversized body refuses
        // the whole input before anything is stored, as every other bad line does.
        if body.len() > MAX_BODY_LEN {
            return Err(bad(format!(
                "`body` is {} bytes, over the record limit of {MAX_BODY_LEN} bytes",
                body.len()
            )));
        }
        planned.push(Planned {
            customer: parsed.customer,
            at,
            body,
        });
    }
    Ok(planned)
}

/// Seals and stores every planned line, `IN_FLIGHT` at a time; stops at the first failure
/// and returns what was stored (with each line's index) and the failure.
fn seal_all(
    vault: &StoreVault,
    committer: &GroupCommitter,
    planned: &[Planned],
    bar: &ProgressBar,
) -> (Vec<(usize, Ingested)>, Option<CliError>) {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let workers = IN_FLIGHT.min(planned.len()).max(1);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut stored = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(line) = planned.get(index) else {
                            break;
                        };
                        match seal_one(vault, committer, line) {
                            Ok(record) => {
                                stored.push((index, record));
                                bar.inc(1);
                            }
                            Err(error) => {
                                stop.store(true, Ordering::Relaxed);
                                return (stored, Some(error));
                            }
                        }
                    }
                    (stored, None)
                })
            })
            .collect();
        let mut stored = Vec::with_capacity(planned.len());
        let mut failure = None;
        for handle in handles {
            let (records, error) = handle.join().unwrap_or_else(|_| {
                (
                    Vec::new(),
                    Some(CliError::Thread {
                        what: "a sealing thread",
                    }),
                )
            });
            stored.extend(records);
            failure = failure.or(error);
        }
        (stored, failure)
    })
}

fn seal_one(
    vault: &StoreVault,
    committer: &GroupCommitter,
    line: &Planned,
) -> Result<Ingested, CliError> {
    // training.forward-only: the vault seals under the level in force when it was collected.
    let sealed = vault.seal_counting(
        RecordId::generate_at(line.at),
        line.customer,
        line.at,
        &line.body,
    )?;
    let redacted = *sealed.redactions();
    let record = sealed.into_record();
    let (id, consent) = (record.header().record_id(), record.header().consent());
    committer.put(record, DataCategory::LlmRequestLog)?;
    Ok(Ingested {
        record: id,
        customer: line.customer,
        collected_at: line.at,
        consent,
        redacted,
    })
}
