//! `steward audit`: verify the audit chain, and sign checkpoints of it.

use std::{
    fs::OpenOptions,
    io::{ErrorKind, Write},
    path::Path,
};

use serde_json::json;
use steward::logs::Checkpoint;

use crate::{
    Context,
    cli::{AuditCheckpointArgs, AuditCommand, AuditVerifyArgs},
    error::{CliError, Exit},
    output::{Format, print_json, println},
    store_dir::CHECKPOINT_PUBLIC_KEY,
};

/// `steward audit ...`
pub(crate) fn run(context: &Context, command: AuditCommand) -> Result<Exit, CliError> {
    match command {
        AuditCommand::Verify(args) => verify(context, &args),
        AuditCommand::Checkpoint(args) => checkpoint(context, &args),
    }
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
    // Opening the vault verifies the chain already, and that it reaches the newest stored
    // checkpoint; what is left is the signature, and a checkpoint kept elsewhere.
    let session = context.open()?;
    let against = match &args.checkpoint {
        Some(path) => Against::File(read_checkpoint(path)?),
        None => match session.store.latest_checkpoint()? {
            Some(checkpoint) => Against::Stored(checkpoint),
            None => Against::Nothing,
        },
    };
    let trail = session.vault.audit()?;
    let head = match &against {
        Against::Nothing => trail.verify()?,
        Against::Stored(checkpoint) | Against::File(checkpoint) => {
            trail.verify_against(checkpoint, &context.dir.public_key()?)?
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
                "entries": head.entries(),
                "head": head.hash(),
                "checkpoint": checkpoint.map(|checkpoint| json!({
                    "entries": checkpoint.entries(),
                    "head": checkpoint.head(),
                    "from": source,
                })),
            }),
        )?,
        Format::Human => {
            println(&format!(
                "audit chain verified: {} entries, HMAC chain intact, head {}",
                head.entries(),
                head.hash()
            ))?;
            match (checkpoint, source) {
                (Some(checkpoint), Some(source)) => println(&format!(
                    "it reaches the checkpoint at {} entries from {source}, signed by the key in \
                     {CHECKPOINT_PUBLIC_KEY}",
                    checkpoint.entries()
                ))?,
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
    let session = context.open()?;
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
    let checkpoint = session.vault.audit()?.checkpoint(&signer)?;
    // A signing key that checkpoint.pub does not match would make every later verify fail:
    // say so now, before storing the checkpoint.
    public_key
        .verify(&checkpoint)
        .map_err(|_| CliError::BadFile {
            path: context.dir.file(CHECKPOINT_PUBLIC_KEY),
            reason: "not the public key of the checkpoint signing key".to_owned(),
        })?;
    session.store.put_checkpoint(&checkpoint)?;
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
                "signed checkpoint at {} entries, head {}; stored in the store",
                checkpoint.entries(),
                checkpoint.head()
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
