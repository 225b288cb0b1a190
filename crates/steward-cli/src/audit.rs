//! `steward audit`: verify the audit chain and the fact log, sign checkpoints of both, and
//! read and report the verified trail.

use std::{
    fs::OpenOptions,
    io::{ErrorKind, Write},
    path::Path,
};

use serde_json::json;
use steward::{
    logs::{
        Anomaly, AuditEvent, AuditFilter, AuditOutcome, AuditReport, AuditStore, AuditTrail,
        ChainHead, ChainedEntry, Checkpoint, CheckpointPublicKey, CheckpointSigner, EntryKind,
        KeyEvent, Period, customer_of, steward_of,
    },
    retention::Relationship,
    vocabulary::{CustomerId, Timestamp},
};
#[cfg(feature = "postgres")]
use steward_store::pg::{PgAuditStore, PgConfig, PgStore};
use steward_store::{SqliteStore, StoreKeys, VaultStore, verify_fact_log};

#[cfg(feature = "postgres")]
use crate::store_dir::PgSession;
use crate::{
    Context,
    cli::{
        AuditCheckpointArgs, AuditCommand, AuditLogArgs, AuditReportArgs, AuditVerifyArgs,
        SharedStoreArgs,
    },
    error::{CliError, Exit},
    output::{Format, Table, counted, print, print_json, println},
    store_dir::{CHECKPOINT_PUBLIC_KEY, Session},
};

/// `steward audit ...`
pub(crate) fn run(context: &Context, command: AuditCommand) -> Result<Exit, CliError> {
    match command {
        AuditCommand::Verify(args) => verify(context, &args),
        AuditCommand::Checkpoint(args) => checkpoint(context, &args),
        AuditCommand::Log(args) => log(context, &args),
        AuditCommand::Report(args) => report(context, &args),
    }
}

/// Which store a command works on.
pub(crate) enum StoreChoice {
    /// The store directory's embedded one.
    Embedded,
    /// The PostgreSQL store several nodes share (`--postgres`).
    #[cfg(feature = "postgres")]
    Shared(Box<PgConfig>),
}

impl SharedStoreArgs {
    /// The store these arguments name: the embedded one unless `--postgres` names a shared
    /// one (always the embedded one without the `postgres` feature).
    pub(crate) fn choice(&self) -> Result<StoreChoice, CliError> {
        #[cfg(feature = "postgres")]
        if let Some(connection) = &self.postgres {
            let config = PgConfig::new(connection)?.with_schema(&self.pg_schema)?;
            return Ok(StoreChoice::Shared(Box::new(config)));
        }
        Ok(StoreChoice::Embedded)
    }
}

/// The store whose chains a command works on: the directory's embedded one, or the
/// PostgreSQL store several nodes share (`--postgres`).
enum ChainStore {
    Embedded(Box<Session>),
    #[cfg(feature = "postgres")]
    Shared(Box<PgSession>),
}

impl ChainStore {
    /// Opens the store and a vault on it, which verifies both chains and that they reach the
    /// newest stored checkpoint.
    fn open(context: &Context, shared: &SharedStoreArgs) -> Result<Self, CliError> {
        Ok(match shared.choice()? {
            StoreChoice::Embedded => Self::Embedded(Box::new(context.open()?)),
            #[cfg(feature = "postgres")]
            StoreChoice::Shared(config) => Self::Shared(Box::new(context.dir.open_postgres(
                context.master_key_id(),
                context.policy()?,
                &config,
            )?)),
        })
    }

    /// Signs the audit chain's head and the fact log's, as the vault has them.
    fn checkpoint(&self, signer: &CheckpointSigner) -> Result<Checkpoint, CliError> {
        Ok(match self {
            Self::Embedded(session) => {
                let facts = session.vault.facts()?.head();
                session
                    .vault
                    .audit()?
                    .checkpoint_with_facts(signer, facts)?
            }
            #[cfg(feature = "postgres")]
            Self::Shared(session) => {
                let facts = session.vault.facts()?.head();
                session
                    .vault
                    .audit()?
                    .checkpoint_with_facts(signer, facts)?
            }
        })
    }

    /// Every relationship the fact log holds, per customer.
    fn relationships(&self) -> Result<Vec<(CustomerId, Vec<Relationship>)>, CliError> {
        fn collect(
            book: &steward::retention::RelationshipBook,
        ) -> Vec<(CustomerId, Vec<Relationship>)> {
            book.customers()
                .map(|customer| (customer, book.relationships(customer).to_vec()))
                .collect()
        }
        Ok(match self {
            Self::Embedded(session) => collect(session.vault.facts()?.relationships()?),
            #[cfg(feature = "postgres")]
            Self::Shared(session) => collect(session.vault.facts()?.relationships()?),
        })
    }

    fn put_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), CliError> {
        match self {
            Self::Embedded(session) => session.store.put_checkpoint(checkpoint)?,
            #[cfg(feature = "postgres")]
            Self::Shared(session) => session.store.put_checkpoint(checkpoint)?,
        }
        Ok(())
    }
}

/// The store `audit verify` reads, with no vault: a vault refuses to open on logs that do
/// not verify, and saying where they break is this command's job.
enum VerifiedStore {
    Embedded(SqliteStore, StoreKeys),
    #[cfg(feature = "postgres")]
    Shared(PgStore, StoreKeys),
}

/// Both chains, verified.
struct Heads {
    audit: ChainHead,
    facts: ChainHead,
}

impl VerifiedStore {
    fn open(context: &Context, shared: &SharedStoreArgs) -> Result<Self, CliError> {
        let master_id = context.master_key_id();
        Ok(match shared.choice()? {
            StoreChoice::Embedded => {
                let (store, keys) = context.dir.open_store(master_id)?;
                Self::Embedded(store, keys)
            }
            #[cfg(feature = "postgres")]
            StoreChoice::Shared(config) => {
                let (store, keys) = context.dir.open_postgres_store(master_id, &config)?;
                Self::Shared(store, keys)
            }
        })
    }

    fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, CliError> {
        Ok(match self {
            Self::Embedded(store, _) => store.latest_checkpoint()?,
            #[cfg(feature = "postgres")]
            Self::Shared(store, _) => store.latest_checkpoint()?,
        })
    }

    /// Every entry of the audit chain, oldest first, verified again as read (the chain may
    /// have grown since [`verify`](Self::verify); what is read is what is reported).
    fn entries(&self) -> Result<Vec<ChainedEntry>, CliError> {
        let (entries, keys) = match self {
            Self::Embedded(store, keys) => (AuditStore::entries(store), keys),
            #[cfg(feature = "postgres")]
            Self::Shared(store, keys) => (PgAuditStore::new(store)?.entries(), keys),
        };
        let entries = entries.map_err(|source| {
            steward::logs::LogsError::Audit(steward::logs::AuditError::Unavailable { source })
        })?;
        keys.audit_key()?.verify_chain(&entries)?;
        Ok(entries)
    }

    /// Verifies the audit chain and the fact log, each from its first entry, and against
    /// `checkpoint` if given: the first entry that does not verify is the error.
    fn verify(
        &self,
        checkpoint: Option<(&Checkpoint, &CheckpointPublicKey)>,
    ) -> Result<Heads, CliError> {
        match self {
            Self::Embedded(store, keys) => {
                let trail = AuditTrail::new(keys.audit_key()?, store.clone())?;
                verify_both(&trail, store, keys, checkpoint)
            }
            #[cfg(feature = "postgres")]
            Self::Shared(store, keys) => {
                let trail = AuditTrail::new(keys.audit_key()?, PgAuditStore::new(store)?)?;
                verify_both(&trail, store, keys, checkpoint)
            }
        }
    }
}

fn verify_both<A: AuditStore>(
    trail: &AuditTrail<A>,
    log: &impl VaultStore,
    keys: &StoreKeys,
    checkpoint: Option<(&Checkpoint, &CheckpointPublicKey)>,
) -> Result<Heads, CliError> {
    let audit = match checkpoint {
        None => trail.verify()?,
        Some((checkpoint, key)) => trail.verify_against(checkpoint, key)?,
    };
    let facts = verify_fact_log(
        log,
        &keys.audit_key()?.fact_log_key(),
        checkpoint.map(|(checkpoint, _)| checkpoint),
    )?;
    Ok(Heads { audit, facts })
}

/// Which checkpoint the chain was verified against.
enum Against {
    /// None is stored and none was given.
    Nothing,
    /// The newest one stored in the store.
    Stored(Checkpoint),
    /// One from a file, kept outside the store.
    File(Checkpoint),
}

fn verify(context: &Context, args: &AuditVerifyArgs) -> Result<Exit, CliError> {
    let store = VerifiedStore::open(context, &args.shared)?;
    let against = match &args.checkpoint {
        Some(path) => Against::File(read_checkpoint(path)?),
        None => match store.latest_checkpoint()? {
            Some(checkpoint) => Against::Stored(checkpoint),
            None => Against::Nothing,
        },
    };
    let heads = match &against {
        Against::Nothing => store.verify(None)?,
        Against::Stored(checkpoint) | Against::File(checkpoint) => {
            store.verify(Some((checkpoint, &context.dir.public_key()?)))?
        }
    };
    let (checkpoint, source) = match &against {
        Against::Nothing => (None, None),
        Against::Stored(checkpoint) => (Some(checkpoint), Some("the store".to_owned())),
        Against::File(checkpoint) => (
            Some(checkpoint),
            args.checkpoint
                .as_ref()
                .map(|path| path.display().to_string()),
        ),
    };
    match context.format {
        Format::Json => print_json(
            "the verification",
            &json!({
                "verified": true,
                "entries": heads.audit.entries(),
                "head": heads.audit.hash(),
                "facts": {
                    "entries": heads.facts.entries(),
                    "head": heads.facts.hash(),
                },
                "checkpoint": checkpoint.map(|checkpoint| json!({
                    "entries": checkpoint.entries(),
                    "head": checkpoint.head(),
                    "facts": checkpoint.facts().map(|facts| json!({
                        "entries": facts.entries(),
                        "head": facts.hash(),
                    })),
                    "from": source,
                })),
            }),
        )?,
        Format::Human => {
            println(&format!(
                "audit chain verified: {} entries, HMAC chain intact, head {}",
                heads.audit.entries(),
                heads.audit.hash()
            ))?;
            println(&format!(
                "fact log verified: {} entries (consent, relationships, holds, roster, policy adopted, keys \
                 stored and shredded, records deleted, interactive-feature choices, consent \
                 receipts deleted), HMAC \
                 chain intact, head {}",
                heads.facts.entries(),
                heads.facts.hash()
            ))?;
            match (checkpoint, source) {
                (Some(checkpoint), Some(source)) => println(&match checkpoint.facts() {
                    Some(facts) => format!(
                        "both reach the checkpoint from {source} (audit chain at {} entries, \
                         fact log at {} entries), signed by the key in {CHECKPOINT_PUBLIC_KEY}",
                        checkpoint.entries(),
                        facts.entries()
                    ),
                    None => format!(
                        "the audit chain reaches the checkpoint at {} entries from {source}, \
                         signed by the key in {CHECKPOINT_PUBLIC_KEY}; it does not cover the \
                         fact log: `steward audit checkpoint` signs one that does",
                        checkpoint.entries()
                    ),
                })?,
                _ => println(
                    "no checkpoint yet: `steward audit checkpoint` signs the head, so that \
                     removing the newest entries is detected too",
                )?,
            }
        }
    }
    Ok(Exit::Success)
}

fn read_checkpoint(path: &Path) -> Result<Checkpoint, CliError> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|error| CliError::BadFile {
        path: path.to_path_buf(),
        reason: format!("not a checkpoint ({error})"),
    })
}

fn checkpoint(context: &Context, args: &AuditCheckpointArgs) -> Result<Exit, CliError> {
    let store = ChainStore::open(context, &args.shared)?;
    let signer = context.dir.signer()?;
    let public_key = context.dir.public_key()?;
    // Refuse an existing output file before anything is signed or stored.
    let out = match &args.out {
        Some(path) => Some((
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|source| match source.kind() {
                    ErrorKind::AlreadyExists => CliError::OutputExists { path: path.clone() },
                    _ => CliError::Write {
                        path: path.clone(),
                        source,
                    },
                })?,
            path,
        )),
        None => None,
    };
    let checkpoint = store.checkpoint(&signer)?;
    // A signing key that checkpoint.pub does not match would make every later verify fail:
    // say so now, before storing the checkpoint.
    public_key
        .verify(&checkpoint)
        .map_err(|_| CliError::BadFile {
            path: context.dir.file(CHECKPOINT_PUBLIC_KEY),
            reason: "not the public key of the checkpoint signing key".to_owned(),
        })?;
    store.put_checkpoint(&checkpoint)?;
    if let Some((mut file, path)) = out {
        let text = serde_json::to_string_pretty(&checkpoint).map_err(|source| CliError::Json {
            what: "the checkpoint",
            source,
        })?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .map_err(|source| CliError::Write {
                path: path.clone(),
                source,
            })?;
    }
    match context.format {
        Format::Json => print_json("the checkpoint", &checkpoint)?,
        Format::Human => {
            println(&format!(
                "signed checkpoint at {} audit entries (head {}) and {} fact log entries; \
                 stored in the store",
                checkpoint.entries(),
                checkpoint.head(),
                checkpoint.facts().map_or(0, |facts| facts.entries())
            ))?;
            if let Some(path) = &args.out {
                println(&format!(
                    "written to `{}`: keep it outside the store, and verify with `steward audit \
                     verify --checkpoint {}`",
                    path.display(),
                    path.display()
                ))?;
            }
        }
    }
    Ok(Exit::Success)
}

/// The trail as `audit log` and `audit report` read it: verified (against the newest stored
/// checkpoint, if any) before anything is read from it.
struct VerifiedTrail {
    entries: Vec<ChainedEntry>,
    /// The checkpoint the chain reaches, if one is stored.
    checkpoint: Option<Checkpoint>,
}

impl VerifiedTrail {
    fn read(context: &Context, shared: &SharedStoreArgs) -> Result<Self, CliError> {
        let store = VerifiedStore::open(context, shared)?;
        let checkpoint = store.latest_checkpoint()?;
        match &checkpoint {
            None => store.verify(None)?,
            Some(checkpoint) => store.verify(Some((checkpoint, &context.dir.public_key()?)))?,
        };
        let entries = store.entries()?;
        Ok(Self {
            entries,
            checkpoint,
        })
    }

    /// Up to where the chain is verified, for people.
    fn sentence(&self) -> String {
        match &self.checkpoint {
            Some(checkpoint) => format!(
                "chain verified: {} entries, reaching the signed checkpoint at {} entries \
                 (head {})",
                self.entries.len(),
                checkpoint.entries(),
                checkpoint.head()
            ),
            None => format!(
                "chain verified: {} entries, HMAC chain intact; no checkpoint yet, so a removal \
                 of the newest entries would not show (`steward audit checkpoint`)",
                self.entries.len()
            ),
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "entries": self.entries.len(),
            "checkpoint": self.checkpoint.as_ref().map(|checkpoint| json!({
                "entries": checkpoint.entries(),
                "head": checkpoint.head(),
            })),
        })
    }
}

/// `steward audit log`
fn log(context: &Context, args: &AuditLogArgs) -> Result<Exit, CliError> {
    let mut filter = AuditFilter::new(Period::new(args.since, args.until)?);
    if let Some(steward) = &args.steward {
        filter = filter.with_steward(steward.clone());
    }
    if let Some(customer) = args.customer {
        filter = filter.with_customer(customer);
    }
    if let Some(purpose) = args.purpose {
        filter = filter.with_purpose(purpose);
    }
    for kind in &args.kind {
        filter = filter.with_kind(*kind);
    }
    let trail = VerifiedTrail::read(context, &args.shared)?;
    match context.format {
        Format::Json => {
            let mut out = String::new();
            for chained in filter.apply(&trail.entries) {
                let entry = chained.entry();
                let line = json!({
                    "sequence": chained.sequence(),
                    "at": entry.at(),
                    "kind": EntryKind::of(entry.event()),
                    "event": entry.event(),
                });
                out.push_str(&line.to_string());
                out.push('\n');
            }
            print(&out)?;
        }
        Format::Human => {
            let mut table = Table::new(&[
                "SEQ", "AT", "KIND", "STEWARD", "CUSTOMER", "PURPOSE", "WHAT",
            ]);
            for chained in filter.apply(&trail.entries) {
                let entry = chained.entry();
                let event = entry.event();
                table.row(vec![
                    chained.sequence().to_string(),
                    entry.at().to_string(),
                    EntryKind::of(event).to_string(),
                    steward_of(event).map_or_else(|| "-".to_owned(), ToString::to_string),
                    customer_of(event).map_or_else(|| "-".to_owned(), |c| c.to_string()),
                    entry
                        .access()
                        .map_or_else(|| "-".to_owned(), |access| access.purpose().to_string()),
                    what(event),
                ]);
            }
            table.print()?;
            crate::output::note(trail.sentence());
        }
    }
    Ok(Exit::Success)
}

/// One event in a few words, for the table.
fn what(event: &AuditEvent) -> String {
    match event {
        AuditEvent::Access(access) => match access.outcome() {
            AuditOutcome::Opened => format!("opened {}", access.record()),
            AuditOutcome::Denied(denial) => format!("refused ({})", denial.clause()),
            AuditOutcome::Failed(failure) => format!("failed ({failure:?})"),
            _ => "other outcome".to_owned(),
        },
        AuditEvent::RosterChanged { change, by } => match change {
            steward::logs::RosterChange::Added(_) => format!("added by {by}"),
            steward::logs::RosterChange::Removed(_) => format!("removed by {by}"),
            _ => format!("changed by {by}"),
        },
        AuditEvent::DataKeyRotated { version, .. } => format!("data key rotated to v{version}"),
        AuditEvent::MasterKeyRotated { to } => format!("master key rotated to {to}"),
        AuditEvent::CustomerShredded { .. }
        | AuditEvent::CustomerShreddedThrough { .. }
        | AuditEvent::ShredCompletedAtStartUp { .. } => "keys shredded".to_owned(),
        AuditEvent::TrainingExportPlanned(plan) => {
            format!("training export {} planned", plan.job)
        }
        AuditEvent::TrainingExportFinished { job, .. } => {
            format!("training export {job} finished")
        }
        AuditEvent::SubjectRequest {
            right,
            request,
            stage,
        } => format!(
            "subject {right} request `{}` ({}): {stage}",
            request.reference(),
            right.clause()
        ),
        _ => "other event".to_owned(),
    }
}

/// `steward audit report`
fn report(context: &Context, args: &AuditReportArgs) -> Result<Exit, CliError> {
    let period = Period::new(Some(args.since), args.until)?;
    let trail = VerifiedTrail::read(context, &args.shared)?;
    let relationships = ChainStore::open(context, &args.shared)?.relationships()?;
    let ended = |customer: CustomerId, at: Timestamp| {
        relationships
            .iter()
            .find(|(id, _)| *id == customer)
            .is_some_and(|(_, book)| {
                !book.is_empty()
                    && book
                        .iter()
                        .all(|relationship| !relationship.is_active_at(at))
            })
    };
    let report = AuditReport::build(&trail.entries, period, ended);
    match context.format {
        Format::Json => print_json(
            "the report",
            &json!({ "verified": trail.json(), "report": report }),
        )?,
        Format::Human => print_report(&trail, &report)?,
    }
    Ok(Exit::Success)
}

fn print_report(trail: &VerifiedTrail, report: &AuditReport) -> Result<(), CliError> {
    let period = report.period();
    let bound = |at: Option<Timestamp>| {
        at.map_or_else(|| "the newest entry".to_owned(), |at| at.to_string())
    };
    println(&format!(
        "audit report from {} to {}: {} entries",
        bound(period.since()),
        bound(period.until()),
        report.entries()
    ))?;
    println(&trail.sentence())?;
    println("\nopens per steward and purpose:")?;
    let mut opens = Table::new(&["STEWARD", "PURPOSE", "OPENS"]);
    for count in report.opens() {
        opens.row(vec![
            count.steward.to_string(),
            count.purpose.to_string(),
            count.opens.to_string(),
        ]);
    }
    opens.print()?;
    println(&format!(
        "allowed but not opened (shredded, tampered, key unavailable): {}",
        report.failed_opens()
    ))?;
    println(&format!("\nrefused attempts: {}", report.refusals().len()))?;
    if !report.refusals().is_empty() {
        let mut refusals =
            Table::new(&["AT", "STEWARD", "PURPOSE", "CUSTOMER", "CLAUSE", "REASON"]);
        for refusal in report.refusals() {
            refusals.row(vec![
                refusal.at.to_string(),
                refusal.steward.to_string(),
                refusal.purpose.to_string(),
                refusal.customer.to_string(),
                refusal.clause.to_string(),
                refusal.reason.to_owned(),
            ]);
        }
        refusals.print()?;
    }
    println(&format!("\nroster changes: {}", report.roster().len()))?;
    for event in report.roster() {
        let (verb, steward) = match &event.change {
            steward::logs::RosterChange::Added(steward) => ("added", steward),
            steward::logs::RosterChange::Removed(steward) => ("removed", steward),
            other => ("changed", other.steward()),
        };
        println(&format!("  {} {steward} {verb} by {}", event.at, event.by))?;
    }
    println(&format!("key events: {}", report.keys().len()))?;
    for event in report.keys() {
        println(&match event {
            KeyEvent::DataKeyRotated {
                at,
                customer,
                version,
            } => format!("  {at} data key of {customer} rotated to v{version}"),
            KeyEvent::MasterKeyRotated { at, to } => format!("  {at} master key rotated to {to}"),
            _ => "  another key event".to_owned(),
        })?;
    }
    println(&format!("shreds: {}", report.shreds().len()))?;
    for shred in report.shreds() {
        println(&format!(
            "  {} keys of {} destroyed",
            shred.at, shred.customer
        ))?;
    }
    println(&format!("training exports: {}", report.exports().len()))?;
    for export in report.exports() {
        println(&format!(
            "  {} job {} {:?}: {}",
            export.at,
            export.job,
            export.stage,
            counted(export.counts.exported, "record", "records")
        ))?;
    }
    println(&format!(
        "subject requests: {}",
        report.subject_requests().len()
    ))?;
    for event in report.subject_requests() {
        println(&format!(
            "  {} {} of {} `{}` verified by {}: {}",
            event.at,
            event.right,
            event.request.customer(),
            event.request.reference(),
            event.request.verified_by(),
            event.stage
        ))?;
    }
    println(&format!("\nanomalies: {}", report.anomalies().len()))?;
    for anomaly in report.anomalies() {
        println(&match anomaly {
            Anomaly::RefusalsInARow {
                steward,
                refusals,
                from,
                to,
            } => format!("  {steward}: {refusals} refusals in a row, {from} to {to}"),
            Anomaly::OpensFarAboveOthers {
                steward,
                opens,
                median,
            } => format!("  {steward}: {opens} opens, more than 3x the median of {median}"),
            Anomaly::AfterRelationshipEnded {
                at,
                steward,
                customer,
                opened,
                ..
            } => format!(
                "  {at} {steward} {} a record of {customer}, whose relationship had ended",
                if *opened { "opened" } else { "tried to open" }
            ),
            _ => "  another anomaly".to_owned(),
        })?;
    }
    Ok(())
}
