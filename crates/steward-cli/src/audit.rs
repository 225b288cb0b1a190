//! `steward audit`: verify the audit chain and the fact log, and sign checkpoints of both.

use std::{
    fs::OpenOptions,
    io::{ErrorKind, Write},
    path::Path,
};

use serde_json::json;
use steward::logs::{
    AuditStore, AuditTrail, ChainHead, Checkpoint, CheckpointPublicKey, CheckpointSigner,
};
#[cfg(feature = "postgres")]
use steward_store::pg::{PgAuditStore, PgConfig, PgStore};
use steward_store::{SqliteStore, StoreKeys, VaultStore, verify_fact_log};

#[cfg(feature = "postgres")]
use crate::store_dir::PgSession;
use crate::{
    Context,
    cli::{AuditCheckpointArgs, AuditCommand, AuditVerifyArgs, SharedStoreArgs},
    error::{CliError, Exit},
    output::{Format, print_json, println},
    store_dir::{CHECKPOINT_PUBLIC_KEY, Session},
};

/// `steward audit ...`
pub(crate) fn run(context: &Context, command: AuditCommand) -> Result<Exit, CliError> {
    match command {
        AuditCommand::Verify(args) => verify(context, &args),
        AuditCommand::Checkpoint(args) => checkpoint(context, &args),
    }
}

/// Which store a command works on.
enum StoreChoice {
    /// The store directory's embedded one.
    Embedded,
    /// The PostgreSQL store several nodes share (`--postgres`).
    #[cfg(feature = "postgres")]
    Shared(Box<PgConfig>),
}

impl SharedStoreArgs {
    /// The store these arguments name: the embedded one unless `--postgres` names a shared
    /// one (always the embedded one without the `postgres` feature).
    fn choice(&self) -> Result<StoreChoice, CliError> {
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
                 stored and shredded, records deleted, interactive-feature choices), HMAC \
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
