//! The errors of the command and the exit code each one ends the process with.

use std::{error::Error, fmt, io, path::PathBuf};

use steward::{
    PolicyError, StewardError,
    logs::LogsError,
    retention::HoldId,
    retention::RetentionError,
    vocabulary::{ClauseId, RecordId},
};
use steward_cli::InputError;
use steward_store::StoreError;

/// How the process ends: the exit codes are part of the command's interface (scripts branch
/// on them), so each has one meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// `0`: the command did what it was asked.
    Success,
    /// `1`: the store, the keys, the file system or the audit trail failed, or the audit
    /// trail did not verify.
    Failure,
    /// `2`: bad input: an argument, a file or a line that does not parse, names nothing that
    /// exists, or asks for a change the records refuse (clap's usage errors exit 2 too).
    BadInput,
    /// `3`: denied by the policy: a refused open, a refused roster change, a `check` that
    /// denies.
    Denied,
}

impl Exit {
    /// The process exit code.
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::BadInput => 2,
            Self::Denied => 3,
        }
    }
}

/// Everything that can stop a command. Messages name the bad input in backticks and never
/// contain key material or request bodies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CliError {
    /// The store directory holds no store.
    #[error("no store at `{path}`: run `steward init` first, or name the store with `--store`")]
    NoStore {
        /// The database file looked for.
        path: PathBuf,
    },
    /// `init` found a file it would have written.
    #[error("`{path}` already exists: `steward init` never overwrites a store or its keys")]
    AlreadyInitialized {
        /// The existing file.
        path: PathBuf,
    },
    /// A key file is missing (and no variable holds the key instead).
    #[error("missing {what} file `{path}`: {hint}")]
    MissingKeyFile {
        /// Which key.
        what: &'static str,
        /// The file looked for.
        path: PathBuf,
        /// How to get it back.
        hint: &'static str,
    },
    /// A key file or variable that does not hold a key.
    #[error("invalid {what} in `{from}`: {reason}")]
    InvalidKey {
        /// Which key.
        what: &'static str,
        /// The file or variable it came from.
        from: String,
        /// What is wrong with it (never the key itself).
        reason: &'static str,
    },
    /// A key file or variable refused before use: readable by group or others, 32 raw bytes
    /// instead of hex, or a trivially weak key. The message names the file and the fix.
    #[error("{problem}")]
    KeyRefused {
        /// What steward-logs refused, and why.
        problem: LogsError,
    },
    /// A justification the policy's rule refuses (`logs.access`): too few letters or digits,
    /// or no match of the policy's pattern.
    #[error("{problem}")]
    JustificationRefused {
        /// What the rule said.
        problem: steward::StewardError,
    },
    /// A training export recipient that is not an age X25519 recipient.
    #[error("{problem}")]
    BadRecipient {
        /// What the facade said, naming the recipient.
        problem: steward::StewardError,
    },
    /// An input file could not be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: io::Error,
    },
    /// An output file could not be written.
    #[error("cannot write `{path}`")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: io::Error,
    },
    /// An input file that does not hold what it should.
    #[error("`{path}`: {reason}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An output file exists already.
    #[error("`{path}` already exists: choose another file, nothing is overwritten")]
    OutputExists {
        /// The file.
        path: PathBuf,
    },
    /// A line of `ingest` input that cannot be sealed (the problem names the line).
    #[error("`{input}` {problem}")]
    IngestLine {
        /// The input file, or `-` for standard input.
        input: String,
        /// What is wrong with which line.
        problem: InputError,
    },
    /// An ingest that failed after some records were stored.
    #[error("ingest stopped after {stored} of {total} records were stored")]
    IngestStopped {
        /// Records stored (and printed) before the failure.
        stored: usize,
        /// Records in the input.
        total: usize,
        /// The failure.
        #[source]
        source: Box<CliError>,
    },
    /// A record id that names no stored record.
    #[error("record `{id}` is not in the store: never stored, or deleted by a retention sweep")]
    RecordNotFound {
        /// The id given.
        id: RecordId,
    },
    /// A record id under which the store holds another record's bytes (rows swapped or
    /// copied outside Steward): nothing is opened.
    #[error("record `{id}` is not served: the store holds another record under its id")]
    RecordCorrupt {
        /// The id given.
        id: RecordId,
        /// What the store found.
        #[source]
        source: StoreError,
    },
    /// A hold id that names no hold.
    #[error("there is no legal hold `{id}`")]
    HoldNotFound {
        /// The id given.
        id: HoldId,
    },
    /// Arguments that parse but cannot go together, with why.
    #[error("{reason}")]
    Usage {
        /// What is wrong, and what to do instead.
        reason: &'static str,
    },
    /// A request for `check` that is incomplete.
    #[error("invalid request: {reason}")]
    Request {
        /// What is wrong with it.
        reason: String,
    },
    /// A request for `check` that does not parse (the problem names the field).
    #[error("{problem}")]
    Input {
        /// What is wrong with it.
        problem: InputError,
    },
    /// A change of the facts that the records refuse (a relationship that is not open, a
    /// backdated consent change, a hold that is already released).
    #[error("{action} refused")]
    Refused {
        /// What was asked.
        action: &'static str,
        /// Why the ledger, the relationships or the holds refused it.
        #[source]
        source: StoreError,
    },
    /// The policy refused what was asked.
    #[error("{action} denied by the policy [{clause}]: {reason}")]
    Denied {
        /// What was asked.
        action: &'static str,
        /// Why.
        reason: String,
        /// The clause that decided.
        clause: ClauseId,
    },
    /// A sweep that ran, with some of its deletions or shreds failing.
    #[error("{failures} of the sweep's deletions or key shreds failed; run the sweep again")]
    SweepFailures {
        /// How many failed.
        failures: usize,
    },
    /// Standard output or a progress bar could not be written.
    #[error("cannot write to standard output")]
    Stdout {
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// A worker thread stopped without an answer (it panicked).
    #[error("{what} stopped unexpectedly")]
    Thread {
        /// Which thread.
        what: &'static str,
    },
    /// JSON could not be written.
    #[error("cannot encode {what} as JSON")]
    Json {
        /// What was being written.
        what: &'static str,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// A file of signed consent receipts that does not verify.
    #[error("`{path}` does not verify")]
    Receipt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: steward::ReceiptError,
    },
    /// A customer with no receipt to issue (training consent or interactive features).
    #[error("customer `{customer}` has no consent receipts in the store")]
    NoReceipts {
        /// The customer given.
        customer: steward::vocabulary::CustomerId,
    },
    /// The policy file could not be loaded.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys, custody or the audit trail failed.
    #[error(transparent)]
    Logs(#[from] LogsError),
    /// The facade failed (a training export's source or sink).
    #[error(transparent)]
    Steward(#[from] StewardError),
    /// The retention sweep failed.
    #[error(transparent)]
    Retention(#[from] RetentionError),
}

impl CliError {
    /// The exit code this error ends the process with.
    pub(crate) fn exit(&self) -> Exit {
        match self {
            Self::NoStore { .. }
            | Self::AlreadyInitialized { .. }
            | Self::MissingKeyFile { .. }
            | Self::InvalidKey { .. }
            | Self::KeyRefused { .. }
            | Self::JustificationRefused { .. }
            | Self::BadRecipient { .. }
            | Self::Read { .. }
            | Self::BadFile { .. }
            | Self::OutputExists { .. }
            | Self::IngestLine { .. }
            | Self::RecordNotFound { .. }
            | Self::HoldNotFound { .. }
            | Self::Usage { .. }
            | Self::Request { .. }
            | Self::Input { .. }
            | Self::Refused { .. }
            | Self::NoReceipts { .. }
            | Self::Policy(_) => Exit::BadInput,
            // Not authentic is a failed verification, as an audit trail that does not verify;
            // a file that is no receipt file is bad input.
            Self::Receipt { source, .. } if source.is_not_authentic() => Exit::Failure,
            Self::Receipt { .. } => Exit::BadInput,
            // A change the records refuse is bad input wherever it surfaces, also where the
            // command did not name the action with `from_change`.
            Self::Store(error) if error.is_refused() => Exit::BadInput,
            Self::Logs(LogsError::PeriodReversed { .. } | LogsError::UnknownEntryKind { .. }) => {
                Exit::BadInput
            }
            // A subject request naming no customer, or an erasure a hold keeps pending.
            Self::Steward(
                StewardError::UnknownCustomer { .. } | StewardError::ErasureHeld { .. },
            ) => Exit::BadInput,
            Self::Denied { .. } => Exit::Denied,
            Self::IngestStopped { source, .. } => source.exit(),
            Self::Write { .. }
            | Self::RecordCorrupt { .. }
            | Self::SweepFailures { .. }
            | Self::Stdout { .. }
            | Self::Thread { .. }
            | Self::Json { .. }
            | Self::Store(_)
            | Self::Logs(_)
            | Self::Steward(_)
            | Self::Retention(_) => Exit::Failure,
        }
    }

    /// A change of the facts: refused by the records (bad input) if the ledger, the
    /// relationships or the holds said no, a store failure otherwise (a conflict with
    /// another writer included: the same command may succeed when run again).
    pub(crate) fn from_change(action: &'static str, error: StoreError) -> Self {
        if error.is_refused() {
            Self::Refused {
                action,
                source: error,
            }
        } else {
            Self::Store(error)
        }
    }

    /// A standard output failure.
    pub(crate) const fn stdout(source: io::Error) -> Self {
        Self::Stdout { source }
    }
}

/// The error and its causes on one line: `cannot read `x`: not found`. Each error of
/// Steward either displays its cause or returns it from `source()`, never both, so every
/// cause is printed once.
pub(crate) struct Chain<'a>(pub(crate) &'a CliError);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_each_cause_once() {
        let error = CliError::Read {
            path: "lines.jsonl".into(),
            source: io::Error::new(io::ErrorKind::NotFound, "no such file"),
        };
        assert_eq!(
            Chain(&error).to_string(),
            "cannot read `lines.jsonl`: no such file"
        );
        let nested = CliError::IngestStopped {
            stored: 1,
            total: 2,
            source: Box::new(error),
        };
        assert_eq!(
            Chain(&nested).to_string(),
            "ingest stopped after 1 of 2 records were stored: cannot read `lines.jsonl`: no such \
             file"
        );
        assert_eq!(nested.exit(), Exit::BadInput);
    }

    #[test]
    fn chain_prints_causes_through_transparent_wrappers_once() {
        // Store → audit trail → store: each level says what it was doing, and only the
        // innermost says what the file system reported.
        let store = StoreError::AuditLock {
            path: "store/steward.db.lock".into(),
            source: io::Error::other("no space left on device"),
        };
        let error = CliError::Logs(LogsError::Audit(steward::logs::AuditError::Unavailable {
            source: Box::new(store),
        }));
        assert_eq!(
            Chain(&error).to_string(),
            "audit trail unavailable, nothing was opened: cannot lock the audit chain with \
             `store/steward.db.lock`: no space left on device"
        );
    }

    #[test]
    fn exit_codes_are_distinct() {
        let codes = [Exit::Success, Exit::Failure, Exit::BadInput, Exit::Denied].map(Exit::code);
        assert_eq!(codes, [0, 1, 2, 3]);
    }
}
