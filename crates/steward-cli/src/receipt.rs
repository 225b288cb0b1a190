//! `steward receipt ...`: consent receipts (training consent and interactive features) the
//! customer keeps, signed with the store's
//! receipt key and verified offline (docs/receipts.md).

use std::{
    fs::{self},
    path::Path,
};

use serde_json::json;
use steward::{
    CustomerReceipt, FactLogPosition, StewardError, logs::ReceiptPublicKey, verify_receipts,
    vocabulary::Timestamp,
};
use steward_store::receipts_logged;

use crate::{
    Context,
    audit::StoreChoice,
    cli::{ReceiptCommand, ReceiptIssueArgs, ReceiptVerifyArgs},
    consent::{describe_interactive, describe_receipt},
    error::{CliError, Exit},
    output::{Format, counted, note, print, print_json, println, render},
    store_dir::{self, RECEIPT_PUBLIC_KEY},
};

/// `steward receipt ...`
pub(crate) fn run(context: &Context, command: ReceiptCommand) -> Result<Exit, CliError> {
    match command {
        ReceiptCommand::Issue(args) => issue(context, args)?,
        ReceiptCommand::PublicKey => public_key(context)?,
        ReceiptCommand::Verify(args) => verify(context, &args)?,
    }
    Ok(Exit::Success)
}

/// `steward receipt issue`
fn issue(
    context: &Context,
    ReceiptIssueArgs {
        customer,
        out,
        shared,
    }: ReceiptIssueArgs,
) -> Result<(), CliError> {
    let master_id = context.master_key_id();
    // The receipts as the fact log holds them, the log verified up to each under the audit
    // key: what is signed is what the store recorded, with its place.
    let logged = match shared.choice()? {
        StoreChoice::Embedded => {
            let (store, keys) = context.dir.open_store(master_id)?;
            receipts_logged(&store, &keys.audit_key()?.fact_log_key(), customer)?
        }
        #[cfg(feature = "postgres")]
        StoreChoice::Shared(config) => {
            let (store, keys) = context.dir.open_postgres_store(master_id, &config)?;
            receipts_logged(&store, &keys.audit_key()?.fact_log_key(), customer)?
        }
    };
    if logged.is_empty() {
        return Err(CliError::NoReceipts { customer });
    }
    let signer = context.dir.receipt_signer()?;
    let issued_at = Timestamp::now();
    let count = logged.len();
    let mut documents = Vec::with_capacity(count);
    for entry in logged {
        let position = FactLogPosition::new(entry.entry, entry.hash);
        let document = entry
            .receipt
            .sign_to_json(Some(position), issued_at, &signer)
            .map_err(StewardError::from)?;
        documents.push(document);
    }
    // Each document as the facade writes it, fields in their documented order (docs/receipts.md).
    let text = format!("[\n{}\n]\n", documents.join(",\n"));
    let key_id = signer.public_key().key_id().to_string();
    match out {
        None => print(&text),
        Some(path) => {
            write_receipts(&path, text.as_bytes())?;
            render(
                context.format,
                "the issued receipts",
                &json!({ "file": path, "receipts": count, "key_id": key_id }),
                || {
                    println(&format!(
                        "{} of customer {customer} in `{}` (key {key_id})",
                        counted(count, "signed receipt", "signed receipts"),
                        path.display()
                    ))
                },
            )
        }
    }
}

/// `steward receipt public-key`
fn public_key(context: &Context) -> Result<(), CliError> {
    let key = context.dir.receipt_public_key()?;
    let value = json!({ "public_key": key.to_hex(), "key_id": key.key_id().to_string() });
    render(context.format, "the receipt public key", &value, || {
        println(&key.to_hex())?;
        note(format_args!("key id {}", key.key_id()));
        Ok(())
    })
}

/// `steward receipt verify`
fn verify(context: &Context, args: &ReceiptVerifyArgs) -> Result<(), CliError> {
    let text = fs::read_to_string(&args.file).map_err(|source| CliError::Read {
        path: args.file.clone(),
        source,
    })?;
    let key = match &args.public_key {
        Some(given) => key_given(given)?,
        None => {
            let path = context.dir.file(RECEIPT_PUBLIC_KEY);
            if !path.is_file() {
                return Err(CliError::MissingKeyFile {
                    what: "receipt public key",
                    path,
                    hint: "give the key with `--public-key`",
                });
            }
            context.dir.receipt_public_key()?
        }
    };
    let receipts = verify_receipts(&text, &key).map_err(|source| CliError::Receipt {
        path: args.file.clone(),
        source,
    })?;
    match context.format {
        Format::Json => print_json(
            "the verified receipts",
            &json!({
                "file": args.file,
                "key_id": key.key_id().to_string(),
                "verified": receipts.len(),
                "receipts": receipts,
            }),
        ),
        Format::Human => {
            for receipt in &receipts {
                println(&match receipt {
                    CustomerReceipt::Consent(receipt) => describe_receipt(receipt),
                    CustomerReceipt::Interactive(receipt) => describe_interactive(receipt),
                    // A kind this build does not describe is still verified, and counted.
                    _ => format!("receipt of customer {}", receipt.customer()),
                })?;
            }
            note(format_args!(
                "{} verified under key {}",
                counted(receipts.len(), "receipt", "receipts"),
                key.key_id()
            ));
            Ok(())
        }
    }
}

/// The key given with `--public-key`: 64 hex digits, or a file holding them.
fn key_given(given: &str) -> Result<ReceiptPublicKey, CliError> {
    if let Ok(key) = given.parse() {
        return Ok(key);
    }
    let path = Path::new(given);
    if !path.is_file() {
        return Err(CliError::InvalidKey {
            what: "receipt public key",
            from: "--public-key".to_owned(),
            reason: "neither 64 hex digits nor a file holding them",
        });
    }
    let text = fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    text.parse().map_err(|_| CliError::InvalidKey {
        what: "receipt public key",
        from: path.display().to_string(),
        reason: "a public key is 32 bytes, written as 64 hex digits",
    })
}

/// Writes the receipts to a new file, readable by the owner only: they name the customer.
fn write_receipts(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    store_dir::write_new_file(path, bytes, store_dir::Mode::Secret)
}
