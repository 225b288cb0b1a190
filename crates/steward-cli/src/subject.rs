//! `steward subject ...`: data subject requests (`law.access`, `law.erasure`): a copy of a
//! customer's data as one JSON bundle, erasure on request, and the erasures pending behind
//! legal holds.

use std::{fs, io::BufWriter, path::Path};

use serde_json::json;
use steward::{
    EncryptedExport, ErasureOutcome, SUBJECT_BUNDLE_FORMAT, SubjectFacts,
    logs::{
        AuditError, AuditStore, BoxError, LogsError, SubjectAccessOutcome, SubjectRequest,
        pending_erasures,
    },
    retention::Removal,
};
use steward_store::{LineageStore, RecordScan, SweepRecords};

use crate::{
    Context,
    cli::{SubjectCommand, SubjectExportArgs, SubjectRequestArgs},
    error::{CliError, Exit},
    export::{Protection, RecordsOut, create_new, finish_file, recipient_strings},
    output::{Format, counted, note, print_json, println},
    store_dir::Session,
};

/// `steward subject ...`
pub(crate) fn run(context: &Context, command: SubjectCommand) -> Result<Exit, CliError> {
    match command {
        SubjectCommand::Export(args) => export(context, args),
        SubjectCommand::Erase(args) => erase(context, args),
        SubjectCommand::List => list(context),
    }
}

fn request_of(args: SubjectRequestArgs) -> SubjectRequest {
    SubjectRequest::new(args.customer, args.request, args.verified_by)
}

/// `steward subject export`
fn export(context: &Context, args: SubjectExportArgs) -> Result<Exit, CliError> {
    let protection = Protection::from_flags(args.dangerous_plaintext, &args.recipient)?;
    let request = request_of(args.request);
    let session = context.open()?;
    // Never overwrites: an existing file is refused before the request is audited.
    let file = create_new(&args.out)?;
    let written = write_bundle(&session, &request, &protection, file, &args.out);
    let outcome = match written {
        Ok(outcome) => outcome,
        Err(error) => {
            // The request's outcome is in the audit trail; a partial bundle must not pass
            // for a copy.
            let _removed = fs::remove_file(&args.out);
            return Err(error);
        }
    };
    let encrypted = matches!(protection, Protection::Encrypted(_));
    match context.format {
        Format::Json => print_json(
            "the subject export",
            &json!({
                "format": SUBJECT_BUNDLE_FORMAT,
                "customer": request.customer(),
                "request": request.reference(),
                "records": outcome.records,
                "unreadable": outcome.unreadable,
                "digest": outcome.digest,
                "out": args.out,
                "encrypted": encrypted,
                "recipients": recipient_strings(&protection),
            }),
        )?,
        Format::Human => {
            println(&format!(
                "subject access `{}` for customer {} [law.access]: {} written to `{}`",
                request.reference(),
                request.customer(),
                counted(outcome.records, "record", "records"),
                args.out.display()
            ))?;
            if outcome.unreadable > 0 {
                println(&format!(
                    "{} of theirs did not open (shredded or altered) and are not in it",
                    counted(outcome.unreadable, "record", "records")
                ))?;
            }
            if encrypted {
                println(&format!(
                    "encrypted (age) to {}",
                    recipient_strings(&protection).join(", ")
                ))?;
            } else {
                note(
                    "written as plaintext (--dangerous-plaintext): the bundle sits on this \
                     host's disk until the file is deleted",
                );
            }
            println("the request and its outcome are in the audit trail")?;
        }
    }
    Ok(Exit::Success)
}

fn write_bundle(
    session: &Session,
    request: &SubjectRequest,
    protection: &Protection,
    file: fs::File,
    path: &Path,
) -> Result<SubjectAccessOutcome, CliError> {
    let customer = request.customer();
    let facts = {
        let facts = session.vault.facts()?;
        SubjectFacts::gather(
            customer,
            facts.consent()?,
            facts.interactive()?,
            facts.relationships()?,
            facts.holds()?,
        )
    };
    let out = match protection {
        Protection::Encrypted(recipients) => {
            RecordsOut::Encrypted(EncryptedExport::new(recipients, BufWriter::new(file))?)
        }
        Protection::DangerousPlaintext => RecordsOut::Plain(BufWriter::new(file)),
    };
    // One customer's records, streamed from the store a few hundred at a time.
    let records = session
        .store
        .stream_records(RecordScan::Customer(customer), steward::ExportPass::Run);
    let (outcome, out) = session
        .vault
        .write_subject_bundle(request, &facts, records, out)?;
    finish_file(out.finish()?, path)?;
    Ok(outcome)
}

/// `steward subject erase`
fn erase(context: &Context, args: SubjectRequestArgs) -> Result<Exit, CliError> {
    let request = request_of(args);
    let customer = request.customer();
    let session = context.open()?;
    let erased = {
        // Held (shared) for the whole erasure: no hold can be placed meanwhile.
        let facts = session.vault.facts()?;
        let mut records = SweepRecords::new(session.store.clone(), &*facts);
        let ids = session
            .store
            .record_metas(RecordScan::Customer(customer))
            .map(|meta| meta.map(|meta| meta.id()).map_err(BoxError::from));
        session
            .vault
            .erase_subject(&*facts, &request, &mut records, ids)
    };
    let outcome = erased?;
    // The copies that left custody: an erasure cannot reach them, their holders must.
    let exports = session.store.exports_holding(customer)?;
    let (status, records, keys) = match outcome {
        ErasureOutcome::Erased { records, keys } => (
            "erased",
            records,
            if keys == Removal::Removed {
                "shredded now"
            } else {
                "shredded before"
            },
        ),
        _ => ("already-erased", 0, "shredded before"),
    };
    match context.format {
        Format::Json => print_json(
            "the erasure",
            &json!({
                "customer": customer,
                "request": request.reference(),
                "outcome": status,
                "records_deleted": records,
                "keys": keys,
                "consent_receipts": "kept as proof",
                "exports_holding_their_data": exports,
            }),
        )?,
        Format::Human => {
            if status == "erased" {
                println(&format!(
                    "erasure `{}` of customer {} [law.erasure]: keys {keys}, {} deleted; consent \
                     receipts kept as proof",
                    request.reference(),
                    customer,
                    counted(records, "record", "records")
                ))?;
            } else {
                println(&format!(
                    "erasure `{}` of customer {} [law.erasure]: already erased, nothing left \
                     to delete",
                    request.reference(),
                    customer
                ))?;
            }
            if exports.is_empty() {
                println("no training export holds their records")?;
            } else {
                println(&format!(
                    "{} still {} their records; purge them where they went:",
                    counted(exports.len(), "training export", "training exports"),
                    if exports.len() == 1 { "holds" } else { "hold" }
                ))?;
                for job in &exports {
                    println(&format!("  {job}"))?;
                }
            }
        }
    }
    Ok(Exit::Success)
}

/// `steward subject list`
fn list(context: &Context) -> Result<Exit, CliError> {
    let session = context.open()?;
    let entries = {
        let trail = session.vault.audit()?;
        let entries = trail.store().entries().map_err(|source| {
            CliError::Logs(LogsError::Audit(AuditError::Unavailable { source }))
        })?;
        // The chain read is a prefix of the chain verified now, from its first entry.
        trail.verify()?;
        entries
    };
    let pending = pending_erasures(entries.iter().map(|chained| chained.entry()));
    match context.format {
        Format::Json => print_json("the pending erasures", &pending)?,
        Format::Human => {
            if pending.is_empty() {
                println("no erasure pending")?;
            }
            for erasure in &pending {
                println(&format!(
                    "{} customer {} request `{}` verified by {}: pending behind {}",
                    erasure.at,
                    erasure.request.customer(),
                    erasure.request.reference(),
                    erasure.request.verified_by(),
                    erasure
                        .holds
                        .iter()
                        .map(|hold| format!("hold-{hold}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))?;
            }
        }
    }
    Ok(Exit::Success)
}
