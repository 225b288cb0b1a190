//! `steward`: the command line of Steward, on its embedded store.
//!
//! Stewards open log records with a purpose and a ticket; operators keep the roster, customer
//! relationships, training consent and legal holds, run the retention sweep, export training
//! data and verify the audit trail; demos and migrations seal request logs from JSON lines.
//! Everything runs on one store directory, with no server. `scripts/demo.sh` runs the whole
//! story:
//!
//! ```text
//! steward init
//! steward roster add --steward sam.steward --admin dana.admin
//! steward customer start --customer 0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01
//! steward consent set --customer 0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01 --level shared \
//!     --actor customer --channel account-settings
//! steward ingest requests.jsonl
//! steward open --record <id> --purpose troubleshooting --ticket INC-2041 --steward sam.steward
//! steward export training --scope shared --out shared.jsonl
//! steward customer end --customer 0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01
//! steward sweep --execute --at 2030-01-01T00:00:00Z
//! steward audit checkpoint && steward audit verify
//! steward audit report --since 2026-01-01T00:00:00Z
//! steward ropa
//! steward subject export --customer 0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01 --request DSR-42 \
//!     --verified-by dana.privacy --recipient age1... --out ada.bundle.age
//! steward subject erase --customer 0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01 --request DSR-43 \
//!     --verified-by dana.privacy
//! steward receipt issue --customer 0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01 --out receipts.json
//! steward receipt verify receipts.json --public-key "$(steward receipt public-key --json | jq -r .public_key)"
//! ```
//!
//! # The store directory
//!
//! `--store DIR` (or `STEWARD_STORE`; `./steward-data` by default) holds `steward.db` (the
//! SQLite store: wrapped data keys, the audit chain and its checkpoints, sealed records,
//! consent receipts, relationships, legal holds and the roster), `master.key` and
//! `audit.key` (32 random bytes each, as hex, mode 0600), `checkpoint.pk8` (the Ed25519 key
//! that signs audit checkpoints, mode 0600) and `checkpoint.pub`, `receipt.pk8` (the Ed25519
//! key that signs consent receipts, mode 0600; made on first use in older stores) and
//! `receipt.pub`. `steward init` writes them
//! and refuses if any exists; `steward.db` and its `-wal` and `-shm` files are 0600 too. A
//! key file that its group or others may read, that holds 32 raw bytes instead of 64 hex
//! digits, or that holds a trivially weak key (all zeros, a repeated pattern) is refused as
//! bad input, naming the fix (`chmod 600`, `xxd -p -c 32`, a random key). In a real deployment the two symmetric keys come from
//! `STEWARD_MASTER_KEY` and `STEWARD_AUDIT_KEY` (64 hex digits each) instead of files.
//!
//! # The policy
//!
//! The bundled Coder Model policy of March 5, 2025, or the `.toml` or `.json` file given with
//! `--policy FILE` (a file that does not load is bad input, named with its field). Consent
//! changes record the version of the policy in force.
//!
//! # Who acts, and when
//!
//! There is no ambient identity: `--admin` names who changes the roster, `--steward` who
//! opens a record, `--by` who places or releases a hold; each lands in the audit trail or
//! the hold's history. The vault's clock is the system clock. Commands that take an instant
//! (`customer start --at`, `customer end --at`, `consent set --effective`, `sweep --at`)
//! accept RFC 3339 and default to now; relationship and consent changes are recorded now and
//! take effect now or later, never earlier. `customer end --at` a later time schedules the
//! end (the relationship is active until then), which `--correct-to` moves and `--cancel`
//! withdraws while it lies in the future; an end in force is final. A lower consent level in
//! force now cancels every change scheduled after it. Nothing is decided or audited before
//! the newest recorded change, whatever the clock says.
//!
//! # Output
//!
//! Tables for people on standard output, or JSON with `--json`; notes and progress bars on
//! standard error (bars only on a terminal, never with `--json`). `open` writes the record's
//! plaintext, raw, to standard output, and everything else to standard error.
//!
//! # Exit codes
//!
//! - `0`: success.
//! - `1`: failure: the store, the keys, the file system, or an audit trail that does not
//!   verify.
//! - `2`: bad input: an argument, file or line that does not parse, names nothing that
//!   exists, or asks for a change the records refuse (clap's usage errors exit 2 too).
//! - `3`: denied by the policy: a refused open or roster change, a `check` that denies.
//!
//! Every error names what is wrong, in one line on standard error.

#![forbid(unsafe_code)]

mod audit;
mod check;
mod cli;
mod consent;
mod customer;
mod error;
mod export;
mod hold;
mod ingest;
mod init;
mod open;
mod output;
mod receipt;
mod ropa;
mod roster;
mod store_dir;
mod subject;
mod sweep;

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use steward::{Policy, logs::MasterKeyId};

use crate::{
    cli::{Cli, Command},
    error::{Chain, CliError, Exit},
    output::Format,
    store_dir::{Session, StoreDir},
};

fn main() -> ExitCode {
    // Usage errors exit 2 here, which is this command's code for bad input too.
    let cli = Cli::parse();
    match run(cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(error) => {
            output::note(format_args!("error: {}", Chain(&error)));
            ExitCode::from(error.exit().code())
        }
    }
}

/// What every command is given: the store directory, the policy and the output format.
#[derive(Debug)]
pub(crate) struct Context {
    /// The store directory.
    pub(crate) dir: StoreDir,
    /// Tables or JSON.
    pub(crate) format: Format,
    master_key_id: MasterKeyId,
    policy: Option<PathBuf>,
}

impl Context {
    /// The policy: the file given with `--policy`, or the bundled one.
    pub(crate) fn policy(&self) -> Result<Policy, CliError> {
        match &self.policy {
            Some(path) => Ok(Policy::load(path)?),
            None => Ok(Policy::coder_model()),
        }
    }

    /// Opens the store and the vault on it.
    pub(crate) fn open(&self) -> Result<Session, CliError> {
        self.dir.open(&self.master_key_id, self.policy()?)
    }

    /// The master key's id.
    pub(crate) const fn master_key_id(&self) -> &MasterKeyId {
        &self.master_key_id
    }
}

fn run(cli: Cli) -> Result<Exit, CliError> {
    let context = Context {
        dir: StoreDir::new(cli.global.store),
        format: if cli.global.json {
            Format::Json
        } else {
            Format::Human
        },
        master_key_id: cli.global.master_key_id,
        policy: cli.global.policy,
    };
    match cli.command {
        Command::Init => init::run(&context),
        Command::Roster(command) => roster::run(&context, command),
        Command::Customer(command) => customer::run(&context, command),
        Command::Consent(command) => consent::run(&context, command),
        Command::Hold(command) => hold::run(&context, command),
        Command::Ingest(args) => ingest::run(&context, &args),
        Command::Open(args) => open::run(&context, args),
        Command::Export(command) => export::run(&context, command),
        Command::Sweep(args) => sweep::run(&context, &args),
        Command::Audit(command) => audit::run(&context, command),
        Command::Check(args) => check::run(&context, args),
        Command::Ropa(args) => ropa::run(&context, &args),
        Command::Subject(command) => subject::run(&context, command),
        Command::Receipt(command) => receipt::run(&context, command),
    }
}
