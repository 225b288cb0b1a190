//! `steward open`: a steward opens one log record; plaintext only after its audit entry.

use std::io::{self, Write};

use serde_json::json;
use steward::{
    logs::{AccessRequest, Denial, LogsError, OpenError, SealedRecord},
    vocabulary::Justification,
};
use steward_store::StoreError;

use crate::{
    Context,
    cli::OpenArgs,
    error::{CliError, Exit},
    output::{Format, note},
};

/// `steward open --record ID --purpose P --ticket T --steward S`
pub(crate) fn run(context: &Context, args: OpenArgs) -> Result<Exit, CliError> {
    let session = context.open()?;
    // The store checks the bytes against the id asked for: swapped rows would otherwise
    // open another record, audited and printed under this id.
    let bytes = match session.store.record(args.record) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Err(CliError::RecordNotFound { id: args.record }),
        Err(source @ StoreError::RecordMismatch { .. }) => {
            return Err(CliError::RecordCorrupt {
                id: args.record,
                source,
            });
        }
        Err(other) => return Err(other.into()),
    };
    let record = SealedRecord::from_vec(bytes)?;
    // A ticket without visible content counts as none: the vault refuses it, audited
    // (logs.access: only when necessary).
    let request =
        AccessRequest::with_justification_text(args.steward.clone(), args.purpose, &args.ticket);
    // The vault decides with check() at its own clock, writes the audit entry, and only then
    // decrypts: nothing below runs before the entry is durable.
    let plaintext = match session.vault.open(&record, &request) {
        Ok(plaintext) => plaintext,
        Err(LogsError::Open(OpenError::Denied { denial })) => {
            // A ticket refused as no justification says why: invisible characters, or what
            // the policy's rule asks for (logs.access: only when necessary).
            let why = match denial {
                Denial::MissingJustification => args
                    .ticket
                    .parse::<Justification>()
                    .map_err(|error| error.to_string())
                    .and_then(|ticket| {
                        session
                            .vault
                            .policy()
                            .justification_rule()
                            .check(&ticket)
                            .map_err(|error| error.to_string())
                    })
                    .err()
                    .map(|why| format!(" ({why})"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            return Err(CliError::Denied {
                action: "open",
                reason: format!("{denial}{why}; the refusal is in the audit trail"),
                clause: denial.clause(),
            });
        }
        Err(other) => return Err(other.into()),
    };
    let mut out = io::stdout().lock();
    out.write_all(plaintext.as_bytes())
        .and_then(|()| out.flush())
        .map_err(CliError::stdout)?;
    drop(out);
    match context.format {
        Format::Json => note(json!({
            "record": args.record,
            "steward": args.steward,
            "purpose": args.purpose,
            "audited": true,
        })),
        Format::Human => note(format_args!(
            "\n(opened record {} for `{}` as {} under logs.access; the access is in the audit \
             trail)",
            args.record, args.purpose, args.steward
        )),
    }
    Ok(Exit::Success)
}
