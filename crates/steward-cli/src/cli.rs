//! The command line: every command, argument and help text (clap derive).

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};
use steward::{
    consent::{Channel, ConsentActor},
    logs::{EntryKind, MasterKeyId},
    retention::HoldId,
    vocabulary::{
        AdminId, CustomerId, DataCategory, Justification, Purpose, RecordId, RequestReference,
        StewardId, Timestamp, TrainingLevel, TrainingScope,
    },
};

use crate::check::{ActionArg, ActorArg};

const ABOUT: &str = "Steward on its embedded store: stewards open logs, operators keep consent, \
                     holds and retention, all audited";

const LONG_ABOUT: &str = "\
Steward on its embedded store: one directory holding the SQLite store and its keys, no server.

Stewards open log records with a purpose and a ticket (audited before any plaintext is shown); \
operators keep the roster, customer relationships, training consent and legal holds, run the \
retention sweep, export training data and verify the audit trail. Every decision names the \
clauses of the privacy policy behind it.";

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  failure: the store, the keys, the file system, or an audit trail that does not verify
  2  bad input: an argument, file or line that does not parse, names nothing that exists,
     or asks for a change the records refuse
  3  denied by the policy: a refused open or roster change, a check that denies

Environment:
  STEWARD_STORE          the store directory, as --store
  STEWARD_MASTER_KEY     the master key as 64 hex digits, instead of DIR/master.key
  STEWARD_AUDIT_KEY      the audit key as 64 hex digits, instead of DIR/audit.key
  STEWARD_MASTER_KEY_ID  the master key's id, as --master-key-id

The key files suit a demo or a laptop. In a real deployment keep the keys out of the store \
directory: set STEWARD_MASTER_KEY and STEWARD_AUDIT_KEY from a secret manager (`init` then \
writes no file for them), and keep checkpoint.pub where the store's operators cannot edit it.";

/// The `steward` command.
#[derive(Debug, Parser)]
#[command(
    name = "steward",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub(crate) struct Cli {
    /// Options of every command.
    #[command(flatten)]
    pub(crate) global: Global,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options of every command.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The store directory: steward.db, master.key, audit.key, checkpoint.pk8, checkpoint.pub.
    #[arg(
        long,
        global = true,
        env = "STEWARD_STORE",
        default_value = "steward-data",
        value_name = "DIR"
    )]
    pub(crate) store: PathBuf,
    /// A policy file (.toml or .json) instead of the bundled Coder Model policy.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Print JSON on standard output instead of tables, and draw no progress bars.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// The id the store knows its master key by.
    #[arg(
        long,
        global = true,
        env = "STEWARD_MASTER_KEY_ID",
        default_value = "master-1",
        value_name = "ID"
    )]
    pub(crate) master_key_id: MasterKeyId,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a new store and its keys in the store directory; refuses if any file exists.
    ///
    /// Writes steward.db, master.key and audit.key (32 random bytes each, as hex, readable by
    /// the owner only), checkpoint.pk8 (the Ed25519 key that signs audit checkpoints) and
    /// checkpoint.pub. A key whose variable (STEWARD_MASTER_KEY, STEWARD_AUDIT_KEY) is set is
    /// taken from it, and no file is written for it.
    Init,
    /// The data stewards who may open log records (logs.access).
    #[command(subcommand)]
    Roster(RosterCommand),
    /// Customer relationships: logs are kept only while one lasts (logs.retention).
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// Training consent: one level per customer, applying to data collected after a change
    /// (training.*).
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Legal holds: explicit, reasoned postponements of deletion that stand until released.
    #[command(subcommand)]
    Hold(HoldCommand),
    /// Seal request logs from JSON lines and store them (for demos and migrations).
    ///
    /// Each line is `{"id": "<uuid v7>", "customer": "<uuid>", "at": "<RFC 3339>", "body":
    /// "..."}`; `id` is optional (a new id), `at` optional (now), `body` a string (sealed as
    /// its text) or any JSON value (sealed exactly as written). Every line is checked before
    /// anything is sealed: the customer must have a relationship in force at `at`, and `at`
    /// must not be in the future. Each record is sealed under the consent in force at `at`
    /// and stored durably; the record ids are printed.
    ///
    /// Reruns: a line with an `id` whose record is already stored (for that customer) is
    /// skipped, not stored twice, and the command reports "N lines already stored, skipped".
    /// So give every line an id, and a rerun after a crash or kill completes the file without
    /// duplicates. A line without an id gets a new id each run: rerunning it stores it again.
    /// An id stored for another customer, or on two lines, is bad input.
    ///
    /// Progress: every 100 records committed, standard error says how many are stored and the
    /// line up to which every line is stored ("committed 400 of 4106 records; every line up
    /// to line 403 is stored"), so a killed run tells how far it got.
    Ingest(IngestArgs),
    /// Open a log record as a steward: the plaintext goes to standard output, and only after
    /// the audit entry is stored (logs.access, logs.purposes).
    ///
    /// A refusal (exit 3) names the clause; it is in the audit trail too.
    Open(OpenArgs),
    /// Audited exports.
    #[command(subcommand)]
    Export(ExportCommand),
    /// The retention sweep: plan, or execute, the deletions and key shreds that are due
    /// (logs.retention).
    Sweep(SweepArgs),
    /// The audit trail: an HMAC chain with signed checkpoints.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Ask the policy one question and print the decision: the clause that decided, those
    /// supporting it, and the reason or obligations (exit 3 on deny).
    ///
    /// From flags, or as JSON with --request: {"actor": "...", "action": "...", "category":
    /// "...", "owner": "...", "collected": "...", "justification": "...",
    /// "consent_at_collection": "...", "record": "...", "at": "..."}, with the same string
    /// forms as the flags; the last five are optional.
    Check(CheckArgs),
    /// Records of processing activities (GDPR Art. 30) from the policy and the store:
    /// categories of data and of data subjects, purposes with their clauses, who may access
    /// (roles and numbers), retention and security measures; Markdown, or JSON with --json.
    Ropa(RopaArgs),
    /// Data subject requests (GDPR Art. 15, 17, 20): a copy of a customer's data, erasure on
    /// request, and the erasures a legal hold keeps pending (law.access, law.erasure).
    #[command(subcommand)]
    Subject(SubjectCommand),
    /// Consent receipts the customer keeps: signed with the store's receipt key (Ed25519,
    /// receipt.pk8, made on first use) and verified offline with its public key
    /// (docs/receipts.md).
    #[command(subcommand)]
    Receipt(ReceiptCommand),
}

/// `steward subject ...`
#[derive(Debug, Subcommand)]
pub(crate) enum SubjectCommand {
    /// Write one machine-readable JSON bundle of everything the store holds about the
    /// customer (docs/subject-requests.md): relationships, consent receipts, interactive
    /// choices, the holds that concern them and every log record of theirs, decrypted as
    /// stored. The request is audited (law.access) before anything is decrypted; the bundle
    /// is encrypted to an age recipient, or written 0600 with --dangerous-plaintext. Never
    /// overwrites a file.
    Export(SubjectExportArgs),
    /// Erase the customer's data now: shred their keys and delete their records, keeping the
    /// consent receipts as proof (law.erasure). While a legal hold of theirs stands nothing
    /// is deleted: the command names the hold, and the request stays pending until it is
    /// run again after the release. Names the training exports that still hold their data.
    Erase(SubjectRequestArgs),
    /// The erasures pending behind legal holds, from the audit trail.
    List,
}

/// Who asks, under which reference, verified by whom.
#[derive(Debug, Args)]
pub(crate) struct SubjectRequestArgs {
    /// The customer's id (a UUID).
    #[arg(long, value_name = "UUID")]
    pub(crate) customer: CustomerId,
    /// The request's ticket or case number (written to the audit trail; visible letters or
    /// digits, no invisible characters).
    #[arg(long, value_name = "REF")]
    pub(crate) request: RequestReference,
    /// Who verified that the requester is the customer (written to the audit trail).
    #[arg(long, value_name = "ID")]
    pub(crate) verified_by: AdminId,
}

/// `steward subject export`
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("protection")
        .required(true)
        .args(["recipient", "dangerous_plaintext"])
))]
pub(crate) struct SubjectExportArgs {
    /// Whose data, under which request.
    #[command(flatten)]
    pub(crate) request: SubjectRequestArgs,
    /// The bundle to write; refused if it exists.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Encrypt the bundle to this age X25519 recipient (`age1...`), the customer's or the
    /// privacy team's public key; repeat for several. No plaintext touches this host's disk.
    #[arg(long, value_name = "AGE_RECIPIENT")]
    pub(crate) recipient: Vec<String>,
    /// Write the bundle as plaintext (mode 0600) instead of encrypting it: it then sits on
    /// this host's disk, readable by whoever can read the file.
    #[arg(long)]
    pub(crate) dangerous_plaintext: bool,
}

/// `steward receipt ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ReceiptCommand {
    /// Sign every receipt of a customer (training consent and interactive features), each
    /// with its place in the fact log, and write them as a JSON array, in the log's order, to
    /// --out (created 0600; an existing file is refused) or to standard output.
    Issue(ReceiptIssueArgs),
    /// Print the public key that verifies receipts (64 hex digits) and its key id: publish it.
    PublicKey,
    /// Verify a file of signed receipts offline: with --public-key no store is read. Exit 1 if
    /// a receipt is not authentic (changed after signing, or another key's), 2 if the file is
    /// not a receipt file.
    Verify(ReceiptVerifyArgs),
}

/// `steward receipt issue`
#[derive(Debug, Args)]
pub(crate) struct ReceiptIssueArgs {
    /// The customer's id (a UUID).
    #[arg(long, value_name = "UUID")]
    pub(crate) customer: CustomerId,
    /// Write the receipts to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Read the receipts from the shared store, instead of the directory's embedded one (the
    /// receipt key stays the directory's).
    #[command(flatten)]
    pub(crate) shared: SharedStoreArgs,
}

/// `steward receipt verify`
#[derive(Debug, Args)]
pub(crate) struct ReceiptVerifyArgs {
    /// The file of signed receipts (one document or an array).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// The public key: 64 hex digits, or a file holding them. By default the store
    /// directory's receipt.pub.
    #[arg(long, value_name = "KEY")]
    pub(crate) public_key: Option<String>,
}

/// `steward ropa`
#[derive(Debug, Args)]
pub(crate) struct RopaArgs {
    /// Name the stewards on the roster (by default only their number is given).
    #[arg(long)]
    pub(crate) names: bool,
}

/// `steward roster ...`
#[derive(Debug, Subcommand)]
pub(crate) enum RosterCommand {
    /// Put a steward on the roster, on an admin's authority (audited; at most the policy's
    /// maximum, exit 3 beyond it).
    Add(RosterChangeArgs),
    /// Take a steward off the roster, on an admin's authority (audited).
    Remove(RosterChangeArgs),
    /// List the stewards.
    List,
}

/// Who changes the roster, and whom.
#[derive(Debug, Args)]
pub(crate) struct RosterChangeArgs {
    /// The steward's handle.
    #[arg(long, value_name = "ID")]
    pub(crate) steward: StewardId,
    /// The admin on whose authority the roster changes (written to the audit trail).
    #[arg(long, value_name = "ID")]
    pub(crate) admin: AdminId,
}

/// `steward customer ...`
#[derive(Debug, Subcommand)]
pub(crate) enum CustomerCommand {
    /// Start a customer relationship, recorded now: in force now, or from --at on (a later
    /// time schedules the start; an earlier one is refused, as nothing takes effect before
    /// it is recorded).
    Start(RelationshipArgs),
    /// End the customer's relationship, recorded now.
    ///
    /// Without --at it ends now: from then on their logs serve nothing, and the sweep deletes
    /// them within the policy's window; an end in force is final. With --at a later time the
    /// end is scheduled: until then the relationship is active (its logs serve and are
    /// collected as before), and while the end still lies in the future it can be moved with
    /// --correct-to or withdrawn with --cancel, each recorded as its own change. An earlier
    /// --at is refused (no backdating).
    End(EndArgs),
    /// List the relationships.
    List,
}

/// A relationship start.
#[derive(Debug, Args)]
pub(crate) struct RelationshipArgs {
    /// The customer's id (a UUID).
    #[arg(long, value_name = "UUID")]
    pub(crate) customer: CustomerId,
    /// When it takes effect (RFC 3339): now if not given, never earlier.
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<Timestamp>,
}

/// A relationship end, scheduled end, correction or cancellation.
#[derive(Debug, Args)]
pub(crate) struct EndArgs {
    /// The customer's id (a UUID).
    #[arg(long, value_name = "UUID")]
    pub(crate) customer: CustomerId,
    /// When the end takes effect (RFC 3339): now if not given; a later time schedules it.
    #[arg(long, value_name = "TIME", conflicts_with_all = ["correct_to", "cancel"])]
    pub(crate) at: Option<Timestamp>,
    /// Move the scheduled end, which must still lie in the future, to TIME (now or later).
    #[arg(long, value_name = "TIME", conflicts_with = "cancel")]
    pub(crate) correct_to: Option<Timestamp>,
    /// Withdraw the scheduled end, which must still lie in the future: the relationship
    /// stays open.
    #[arg(long)]
    pub(crate) cancel: bool,
}

/// `steward consent ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ConsentCommand {
    /// Record a change of the customer's training level, recorded now and in force from
    /// --effective on (never earlier: no backdating). A lower level in force now cancels
    /// every change scheduled after it (shown in `consent history`).
    Set(ConsentSetArgs),
    /// Show the level in force for the customer.
    Show(ConsentShowArgs),
    /// List the receipts of the customer's changes, oldest first.
    History(CustomerArg),
    /// Record the customer's choice about interactive features (use.purposes: only "when you
    /// choose to do so"): --opt-in or --withdraw, recorded now and in force from --effective
    /// on (never earlier). Who acted and through which channel are stated, never defaulted.
    Interactive(ConsentInteractiveArgs),
    /// List the receipts of the customer's choices about interactive features, oldest
    /// first, with the choices a later one cancelled before they took effect.
    InteractiveHistory(CustomerArg),
}

/// `steward consent interactive`
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("choice").required(true).args(["opt_in", "withdraw"])))]
pub(crate) struct ConsentInteractiveArgs {
    /// The customer's id (a UUID).
    #[arg(long, value_name = "UUID")]
    pub(crate) customer: CustomerId,
    /// The customer chooses to take part in interactive features.
    #[arg(long)]
    pub(crate) opt_in: bool,
    /// The customer withdraws from interactive features.
    #[arg(long)]
    pub(crate) withdraw: bool,
    /// From when the choice is in force (RFC 3339, not before now); now if not given.
    #[arg(long, value_name = "TIME")]
    pub(crate) effective: Option<Timestamp>,
    /// Who made the choice: `customer`, or `admin:<id>:<basis>` (required).
    #[arg(long, value_name = "ACTOR")]
    pub(crate) actor: ConsentActor,
    /// Through which channel: account-settings, api or support-request (required).
    #[arg(long, value_name = "CHANNEL")]
    pub(crate) channel: Channel,
}

/// `steward consent set`
#[derive(Debug, Args)]
pub(crate) struct ConsentSetArgs {
    /// The customer's id (a UUID).
    #[arg(long, value_name = "UUID")]
    pub(crate) customer: CustomerId,
    /// The new level: none, private, shared or open-weight.
    #[arg(long, value_name = "LEVEL")]
    pub(crate) level: TrainingLevel,
    /// From when the level is in force (RFC 3339, not before now); now if not given.
    #[arg(long, value_name = "TIME")]
    pub(crate) effective: Option<Timestamp>,
    /// Who made the change: `customer` (the customer's own choice), or `admin:<id>:<basis>`
    /// (an operator, on a stated basis such as a ticket). Required: the receipt names who
    /// acted, so it is stated, never assumed.
    #[arg(long, value_name = "ACTOR")]
    pub(crate) actor: ConsentActor,
    /// Through which channel the change came: account-settings, api or support-request.
    /// Required, as the actor: the receipt names it.
    #[arg(long, value_name = "CHANNEL")]
    pub(crate) channel: Channel,
}

/// `steward consent show`
#[derive(Debug, Args)]
pub(crate) struct ConsentShowArgs {
    /// The customer's id (a UUID).
    #[arg(long, value_name = "UUID")]
    pub(crate) customer: CustomerId,
    /// The instant to ask about (RFC 3339); now if not given.
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<Timestamp>,
}

/// One customer.
#[derive(Debug, Args)]
pub(crate) struct CustomerArg {
    /// The customer's id (a UUID).
    #[arg(long, value_name = "UUID")]
    pub(crate) customer: CustomerId,
}

/// `steward hold ...`
#[derive(Debug, Subcommand)]
pub(crate) enum HoldCommand {
    /// Place a legal hold on a customer's data (all of it, one category, or one record).
    ///
    /// The hold stands until it is released: nothing it covers is deleted, and no key of
    /// the customer is shredded, meanwhile. Its date is a review date, not an expiry: past
    /// it the hold still stands and is listed as due for review.
    Place(HoldPlaceArgs),
    /// Record a review that keeps a hold, with its next review date.
    Review(HoldReviewArgs),
    /// Release a legal hold: from now on it keeps nothing.
    Release(HoldReleaseArgs),
    /// List the holds.
    List(HoldListArgs),
}

/// `steward hold list`
#[derive(Debug, Args)]
pub(crate) struct HoldListArgs {
    /// Only the holds past their review date (they still stand).
    #[arg(long)]
    pub(crate) due: bool,
}

/// `steward hold review`
#[derive(Debug, Args)]
pub(crate) struct HoldReviewArgs {
    /// The hold: `hold-<n>` or `<n>`.
    #[arg(long, value_name = "HOLD", value_parser = parse_hold_id)]
    pub(crate) id: HoldId,
    /// Who reviewed it.
    #[arg(long, value_name = "ID")]
    pub(crate) by: StewardId,
    /// Why it is kept.
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: Justification,
    /// The next review date (RFC 3339, after now).
    #[arg(long, value_name = "TIME")]
    pub(crate) review_by: Timestamp,
}

/// `steward hold place`
#[derive(Debug, Args)]
pub(crate) struct HoldPlaceArgs {
    /// The customer whose data the hold keeps (a UUID).
    #[arg(long, value_name = "UUID")]
    pub(crate) customer: CustomerId,
    /// Keep only this category of the customer's data.
    #[arg(long, value_name = "CATEGORY", conflicts_with = "record")]
    pub(crate) category: Option<DataCategory>,
    /// Keep only this record of the customer's.
    #[arg(long, value_name = "ID")]
    pub(crate) record: Option<RecordId>,
    /// Why: a case or ticket reference.
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: Justification,
    /// Who places it (a steward or counsel handle).
    #[arg(long, value_name = "ID")]
    pub(crate) by: StewardId,
    /// When it is to be reviewed (RFC 3339, after now). The hold does not lapse then: it
    /// stands until released, and is listed as due for review. (`--expires` is the old name.)
    #[arg(long, alias = "expires", value_name = "TIME")]
    pub(crate) review_by: Timestamp,
}

/// `steward hold release`
#[derive(Debug, Args)]
pub(crate) struct HoldReleaseArgs {
    /// The hold: `hold-<n>` or `<n>`.
    #[arg(long, value_name = "HOLD", value_parser = parse_hold_id)]
    pub(crate) id: HoldId,
    /// Who releases it.
    #[arg(long, value_name = "ID")]
    pub(crate) by: StewardId,
    /// Why.
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: Justification,
}

/// `steward ingest`
#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    /// The JSON lines file; `-` (the default) reads standard input.
    #[arg(default_value = "-", value_name = "FILE")]
    pub(crate) input: PathBuf,
}

/// `steward open`
#[derive(Debug, Args)]
pub(crate) struct OpenArgs {
    /// The record's id.
    #[arg(long, value_name = "ID")]
    pub(crate) record: RecordId,
    /// Why: troubleshooting, customer-support, reliability or misuse-prevention.
    #[arg(long, value_name = "PURPOSE")]
    pub(crate) purpose: Purpose,
    /// The ticket or incident that makes the access necessary.
    #[arg(long, value_name = "TEXT")]
    pub(crate) ticket: String,
    /// The steward who opens it (must be on the roster).
    #[arg(long, value_name = "ID")]
    pub(crate) steward: StewardId,
}

/// `steward export ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {
    /// Export, for a training job, exactly the records whose consent at collection permits
    /// its scope, every secret redacted: JSON lines to --out, encrypted to the --recipient
    /// keys (age), the manifest beside it (audited; nothing overwritten).
    Training(ExportTrainingArgs),
    /// List the training export jobs the store remembers: when, at which scope, to whom they
    /// were encrypted, and how many records of which customers each holds (ids only).
    List,
}

/// `steward export training`
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("protection")
        .required(true)
        .args(["recipient", "dangerous_plaintext"])
))]
pub(crate) struct ExportTrainingArgs {
    /// Whose models: `shared`, `open-weight` or `private:<customer uuid>`.
    #[arg(long, value_name = "SCOPE")]
    pub(crate) scope: TrainingScope,
    /// The records, as JSON lines (with --recipient: an age file of them).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Encrypt the records to this age X25519 recipient (`age1...`), the training
    /// pipeline's public key; repeat for several. No plaintext touches this host's disk.
    #[arg(long, value_name = "AGE_RECIPIENT")]
    pub(crate) recipient: Vec<String>,
    /// Write the records as plaintext (mode 0600) instead of encrypting them: they then sit
    /// on this host's disk, readable by whoever can read the file.
    #[arg(long)]
    pub(crate) dangerous_plaintext: bool,
    /// The manifest (one line per record, then the job); FILE.manifest.jsonl if not given.
    #[arg(long, value_name = "FILE")]
    pub(crate) manifest: Option<PathBuf>,
}

/// `steward sweep`
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("mode").required(true).args(["plan", "execute"])))]
pub(crate) struct SweepArgs {
    /// Print what is due: deletions and key shreds, with their clauses, the shreds legal
    /// holds withhold, and the holds due for review.
    #[arg(long)]
    pub(crate) plan: bool,
    /// Delete what is due now and shred the keys of customers whose window has passed, unless
    /// a legal hold of theirs stands. Runs at now: it takes no --at.
    #[arg(long)]
    pub(crate) execute: bool,
    /// With --plan: the instant to plan for (RFC 3339), to look ahead; now if not given.
    /// Deletions and shreds are irreversible, so --execute refuses it.
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<Timestamp>,
}

/// `steward audit ...`
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify the chain, and against the newest checkpoint with checkpoint.pub (exit 1 if it
    /// does not verify).
    Verify(AuditVerifyArgs),
    /// Sign the chain's head with checkpoint.pk8 and store the checkpoint.
    Checkpoint(AuditCheckpointArgs),
    /// Verify the chain, then print its entries that pass every filter given: a table, or
    /// JSON lines with --json (exit 1 if the chain does not verify).
    Log(AuditLogArgs),
    /// Verify the chain, then report a period: opens per steward and purpose, refusals with
    /// their reasons, roster, key, shred and export events, and anomalies worth a look (exit 1
    /// and no report if the chain does not verify).
    Report(AuditReportArgs),
}

/// `steward audit log`
#[derive(Debug, Args)]
pub(crate) struct AuditLogArgs {
    /// Only entries naming this steward (access attempts, roster changes).
    #[arg(long, value_name = "ID")]
    pub(crate) steward: Option<StewardId>,
    /// Only entries naming this customer (access attempts, key rotations, shreds).
    #[arg(long, value_name = "UUID")]
    pub(crate) customer: Option<CustomerId>,
    /// Only access attempts for this purpose.
    #[arg(long, value_name = "PURPOSE")]
    pub(crate) purpose: Option<Purpose>,
    /// Only entries of this kind: access, roster, key, shred or export (repeatable).
    #[arg(long, value_name = "KIND")]
    pub(crate) kind: Vec<EntryKind>,
    /// Only entries at or after this instant (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<Timestamp>,
    /// Only entries before this instant (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<Timestamp>,
    /// The shared store, instead of the directory's embedded one.
    #[command(flatten)]
    pub(crate) shared: SharedStoreArgs,
}

/// `steward audit report`
#[derive(Debug, Args)]
pub(crate) struct AuditReportArgs {
    /// The period starts at this instant (RFC 3339, inclusive).
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Timestamp,
    /// The period ends before this instant (RFC 3339); the newest entry if absent.
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<Timestamp>,
    /// The shared store, instead of the directory's embedded one.
    #[command(flatten)]
    pub(crate) shared: SharedStoreArgs,
}

/// `steward audit verify`
#[derive(Debug, Args)]
pub(crate) struct AuditVerifyArgs {
    /// Verify against this checkpoint (JSON, as written by `audit checkpoint --out`) instead
    /// of the newest stored one: one kept outside the store shows entries removed with it.
    #[arg(long, value_name = "FILE")]
    pub(crate) checkpoint: Option<PathBuf>,
    /// The shared store, instead of the directory's embedded one.
    #[command(flatten)]
    pub(crate) shared: SharedStoreArgs,
}

/// `steward audit checkpoint`
#[derive(Debug, Args)]
pub(crate) struct AuditCheckpointArgs {
    /// Also write the checkpoint (JSON) to this new file, to keep outside the store.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// The shared store, instead of the directory's embedded one.
    #[command(flatten)]
    pub(crate) shared: SharedStoreArgs,
}

/// Where several nodes keep their one audit chain. The keys (and checkpoint keys) still come
/// from the store directory or the environment. Empty without the `postgres` feature: the
/// directory's embedded store is then the only one.
#[derive(Debug, Args)]
pub(crate) struct SharedStoreArgs {
    /// Work on the PostgreSQL store the nodes share: a connection string
    /// (`host=... user=... dbname=...` or `postgresql://...`).
    #[cfg(feature = "postgres")]
    #[arg(
        long,
        env = "STEWARD_POSTGRES",
        value_name = "CONNECTION",
        hide_env_values = true
    )]
    pub(crate) postgres: Option<String>,
    /// The schema the shared store lives in.
    #[cfg(feature = "postgres")]
    #[arg(
        long,
        default_value = "steward",
        value_name = "SCHEMA",
        requires = "postgres"
    )]
    pub(crate) pg_schema: String,
}

/// `steward check`
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The whole request as JSON, or `-` to read it from standard input.
    #[arg(
        long,
        value_name = "JSON",
        conflicts_with_all = [
            "actor", "action", "category", "owner", "collected", "justification",
            "consent_at_collection", "record", "at",
        ]
    )]
    pub(crate) request: Option<String>,
    /// Who acts: `service`, `pipeline`, `steward:<id>` or `customer:<uuid>`.
    #[arg(long, value_name = "ACTOR", required_unless_present = "request")]
    pub(crate) actor: Option<ActorArg>,
    /// What: `use:<purpose>`, `open:<purpose>`, `train:<scope>` or `keep`.
    #[arg(long, value_name = "ACTION", required_unless_present = "request")]
    pub(crate) action: Option<ActionArg>,
    /// The data's category, such as llm-request-log or email.
    #[arg(long, value_name = "CATEGORY", required_unless_present = "request")]
    pub(crate) category: Option<DataCategory>,
    /// The customer the data belongs to (a UUID).
    #[arg(long, value_name = "UUID", required_unless_present = "request")]
    pub(crate) owner: Option<CustomerId>,
    /// When the data was collected (RFC 3339).
    #[arg(long, value_name = "TIME", required_unless_present = "request")]
    pub(crate) collected: Option<Timestamp>,
    /// Why access is necessary (for `open:<purpose>`).
    #[arg(long, value_name = "TEXT")]
    pub(crate) justification: Option<String>,
    /// The training level in force at collection, if known; otherwise the consent ledger's.
    #[arg(long, value_name = "LEVEL")]
    pub(crate) consent_at_collection: Option<TrainingLevel>,
    /// The stored record the data is (a hold may cover one record).
    #[arg(long, value_name = "ID")]
    pub(crate) record: Option<RecordId>,
    /// The instant of the request (RFC 3339); now if not given.
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<Timestamp>,
}

/// A hold id: `hold-<n>` or `<n>`.
pub(crate) fn parse_hold_id(text: &str) -> Result<HoldId, String> {
    let digits = text.strip_prefix("hold-").unwrap_or(text);
    digits
        .parse::<u64>()
        .map(HoldId::new)
        .map_err(|_| format!("unknown hold `{text}`: write `hold-<n>` or `<n>`"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn hold_ids_parse_with_or_without_prefix() {
        assert_eq!(parse_hold_id("hold-7"), Ok(HoldId::new(7)));
        assert_eq!(parse_hold_id("7"), Ok(HoldId::new(7)));
        assert_eq!(
            parse_hold_id("seven"),
            Err("unknown hold `seven`: write `hold-<n>` or `<n>`".to_owned())
        );
    }
}
