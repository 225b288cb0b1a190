//! `steward ingest`: seal request logs from JSON lines and store them durably.

use std::{
    io::Read,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread,
};

use indicatif::ProgressBar;
use serde::Serialize;
use steward::{
    redact::RedactionCounts,
    vocabulary::{CustomerId, RecordId, Timestamp, TrainingLevel},
};
use steward_cli::lines::{Plan, PlannedLine, StoredRecords, plan};
use steward_store::{
    Ingest, IngestConfig, IngestError, LogEntry, SqliteStore, StoreError, StoreFacts, StoreVault,
};

use crate::{
    Context,
    cli::IngestArgs,
    error::{CliError, Exit},
    output::{Format, Table, counted, note, print_json, progress},
};

/// How many records are sealed and handed to the ingest writer at once: records in flight
/// together share a transaction, so a large ingest pays one sync per group, not per record.
const IN_FLIGHT: usize = 16;

/// Every this many committed records, standard error says how far the ingest got.
const PROGRESS_EVERY: usize = 100;

/// What became of one planned line.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// Sealed and stored now.
    Stored(Ingested),
    /// Its id was stored meanwhile (another run of the same input): nothing stored twice.
    AlreadyStored,
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
    let Plan { planned, skipped } =
        check_lines(&session.vault, &session.store, &input_name, &text)?;
    let store = session.store;
    // The server's path: `logs.stored` checked again, sealed here, committed in batches.
    let ingest = Ingest::sqlite(
        Arc::new(session.vault),
        store.clone(),
        IngestConfig::default(),
    )?;
    let total = planned.len();

    let bar = progress(
        Some(u64::try_from(total).unwrap_or(u64::MAX)),
        "sealed",
        context.format,
    );
    let progress = Progress::new(&planned);
    let (mut outcomes, failure) = seal_all(&ingest, &store, &planned, &progress, &bar);
    bar.finish_and_clear();
    let _drained = ingest.shutdown_blocking();
    outcomes.sort_by_key(|(index, _)| *index);
    let raced = outcomes
        .iter()
        .filter(|(_, outcome)| matches!(outcome, Outcome::AlreadyStored))
        .count();
    let skipped = skipped.saturating_add(raced);
    let ingested: Vec<Ingested> = outcomes
        .into_iter()
        .filter_map(|(_, outcome)| match outcome {
            Outcome::Stored(record) => Some(record),
            Outcome::AlreadyStored => None,
        })
        .collect();

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
                    "redacted {} before sealing ({redacted}): each is a marker naming its kind \
                     and a keyed fingerprint",
                    counted(redacted.total(), "secret", "secrets")
                ));
            }
            note(format_args!(
                "sealed and stored {} under the consent in force when each was collected \
                 (logs.stored, logs.encrypted, training.forward-only)",
                counted(ingested.len(), "record", "records")
            ));
        }
    }
    if skipped > 0 {
        note(format_args!(
            "{} already stored, skipped (the `id` names a stored record)",
            counted(skipped, "line", "lines")
        ));
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

/// How far an ingest got, reported on standard error as records commit: how many are
/// stored, and the input line up to which every line is (the committed lines form no prefix
/// while several are in flight, so the count alone would not say where to resume).
struct Progress<'p> {
    planned: &'p [PlannedLine],
    state: Mutex<ProgressState>,
}

struct ProgressState {
    committed: Vec<bool>,
    count: usize,
    /// How many planned lines, from the first, are all committed.
    prefix: usize,
}

impl<'p> Progress<'p> {
    fn new(planned: &'p [PlannedLine]) -> Self {
        Self {
            planned,
            state: Mutex::new(ProgressState {
                committed: vec![false; planned.len()],
                count: 0,
                prefix: 0,
            }),
        }
    }

    /// Notes that planned line `index` is stored, and reports every `PROGRESS_EVERY` records.
    fn committed(&self, index: usize, bar: &ProgressBar) {
        // A poisoned lock only loses progress reports, never records: carry on without them.
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let Some(slot) = state.committed.get_mut(index) {
            *slot = true;
        }
        state.count = state.count.saturating_add(1);
        while state.committed.get(state.prefix).copied().unwrap_or(false) {
            state.prefix = state.prefix.saturating_add(1);
        }
        if state.count % PROGRESS_EVERY != 0 {
            return;
        }
        let upto = state
            .prefix
            .checked_sub(1)
            .and_then(|last| self.planned.get(last))
            .map_or_else(
                || "no line is stored in order yet".to_owned(),
                |line| format!("every line up to line {} is stored", line.line()),
            );
        let report = format!(
            "committed {} of {} records; {upto}",
            state.count,
            self.planned.len()
        );
        bar.suspend(|| note(report));
    }
}

/// What the ingest handle reported, as the command reports it.
fn ingest_error(error: IngestError) -> CliError {
    match error {
        IngestError::Refused { decision } => CliError::Denied {
            action: "logging the request",
            reason: decision
                .reason()
                .map_or_else(String::new, |reason| reason.to_string()),
            clause: decision.decisive(),
        },
        IngestError::Commit { source } => source.into(),
        IngestError::Seal { source } => source.into(),
        _ => CliError::Thread {
            what: "the ingest writer",
        },
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

/// Checks every line before anything is sealed, so that bad input stores nothing
/// (`steward_cli::lines::plan`, which says what is checked), against the store's records and
/// relationships as they are now.
fn check_lines(
    vault: &StoreVault,
    store: &SqliteStore,
    input: &str,
    text: &str,
) -> Result<Plan, CliError> {
    let stored = Stored {
        facts: vault.facts()?,
        store,
    };
    plan(text, Timestamp::now(), &stored)?.map_err(|problem| CliError::IngestLine {
        input: input.to_owned(),
        problem,
    })
}

/// The store's answers to planning's questions.
struct Stored<'s, F> {
    facts: F,
    store: &'s SqliteStore,
}

impl<F: std::ops::Deref<Target = StoreFacts>> StoredRecords for Stored<'_, F> {
    type Error = CliError;

    fn record_owner(&self, id: RecordId) -> Result<Option<CustomerId>, CliError> {
        Ok(self.store.record_owner(id)?)
    }

    fn relationship_in_force(&self, customer: CustomerId, at: Timestamp) -> Result<bool, CliError> {
        Ok(self
            .facts
            .relationships()?
            .containing(customer, at)
            .is_some())
    }
}

/// Seals and stores every planned line, `IN_FLIGHT` at a time; stops at the first failure
/// and returns what became of each line handled (with its index) and the failure.
fn seal_all(
    ingest: &Ingest,
    store: &SqliteStore,
    planned: &[PlannedLine],
    progress: &Progress<'_>,
    bar: &ProgressBar,
) -> (Vec<(usize, Outcome)>, Option<CliError>) {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let workers = IN_FLIGHT.min(planned.len()).max(1);
    thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut handled = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(line) = planned.get(index) else {
                            break;
                        };
                        match seal_one(ingest, store, line) {
                            Ok(outcome) => {
                                handled.push((index, outcome));
                                bar.inc(1);
                                progress.committed(index, bar);
                            }
                            Err(error) => {
                                stop.store(true, Ordering::Relaxed);
                                return (handled, Some(error));
                            }
                        }
                    }
                    (handled, None)
                })
            })
            .collect();
        let mut handled = Vec::with_capacity(planned.len());
        let mut failure = None;
        for handle in handles {
            let (outcomes, error) = handle.join().unwrap_or_else(|_| {
                (
                    Vec::new(),
                    Some(CliError::Thread {
                        what: "a sealing thread",
                    }),
                )
            });
            handled.extend(outcomes);
            failure = failure.or(error);
        }
        (handled, failure)
    })
}

fn seal_one(ingest: &Ingest, store: &SqliteStore, line: &PlannedLine) -> Result<Outcome, CliError> {
    let id = line
        .id()
        .unwrap_or_else(|| RecordId::generate_at(line.at()));
    // training.forward-only: the vault seals under the level in force when it was collected.
    let entry = LogEntry::new(line.customer(), line.at(), line.body()).with_record_id(id);
    let logged = match ingest.log_blocking(entry) {
        Ok(logged) => logged,
        // Another run of the same input stored this line's record since it was checked: it
        // is stored once, and this line is skipped as the checked ones are.
        Err(IngestError::Commit {
            source: StoreError::RecordConflict,
        }) if line.id().is_some() && store.record_owner(id)? == Some(line.customer()) => {
            return Ok(Outcome::AlreadyStored);
        }
        Err(error) => return Err(ingest_error(error)),
    };
    let (redacted, consent) = (*logged.redacted(), logged.consent());
    Ok(Outcome::Stored(Ingested {
        record: id,
        customer: line.customer(),
        collected_at: line.at(),
        consent,
        redacted,
    }))
}
