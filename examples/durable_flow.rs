//! The main demo: the whole story on the embedded store, with a restart in the middle.
//! Customers send LLM requests through a proxy; each is sealed and stored durably; a steward
//! opens one for troubleshooting (allowed, audited) and tries marketing (refused, audited);
//! the service restarts and finds everything where it was; a shared-model training job reads
//! exactly the records whose consent at collection allows it; a relationship ends and the
//! retention sweep deletes the records and shreds the keys, durably; the audit chain verifies
//! against a signed checkpoint.
//!
//! Run: `cargo run -p steward-examples --example durable_flow` (no server to install: the
//! store is one SQLite file in a temporary directory).

use std::error::Error;

use steward::logs::{AuditEvent, CheckpointSigner};
use steward::retention::Sweep;
use steward::{consent::*, logs::*, vocabulary::*, *};
use steward_store::{
    Effective, GroupCommitter, RecordScan, SqliteStore, StoreKeys, StoreVault, open_vault,
};

/// The proxy's logging side: seal under the consent in force, store durably.
fn log(
    vault: &StoreVault,
    committer: &GroupCommitter,
    who: &str,
    customer: CustomerId,
    prompt: &str,
) -> Result<SealedRecord, Box<dyn Error>> {
    let now = Timestamp::now();
    // The vault seals under the level in force now (training.forward-only).
    let record = vault.seal(RecordId::generate_at(now), customer, now, prompt.as_bytes())?;
    let level = record.header().consent();
    committer.put(record.clone(), DataCategory::LlmRequestLog)?;
    println!(
        "  sealed and stored {who}'s request under consent `{level}` ({} bytes)",
        record.as_bytes().len()
    );
    Ok(record)
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("steward-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("steward.db");
    // In production the key bytes come from files, the environment or a KMS; never the db.
    let keys = StoreKeys::new(
        "kek-demo-1".parse()?,
        b"steward test key 5a, not secret!",
        b"steward test key 17, not secret!",
    )?;
    let policy = Policy::coder_model();
    println!("== Steward on the embedded store: {} ==\n", path.display());

    let store = SqliteStore::create(&path, &keys)?;
    let vault = open_vault(&store, &keys, policy.clone())?;
    let committer = GroupCommitter::new(&store)?;
    let steward: StewardId = "sam.steward".parse()?;
    vault.add_steward(steward.clone(), "dana.admin".parse()?)?;
    println!("dana.admin put {steward} on the roster (audited, stored).");

    let ada: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01".parse()?;
    let ben: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a02".parse()?;
    vault.update_facts(|facts| {
        // Relationships start now: no fact change takes effect before it is recorded.
        facts.start_relationship(ada, Effective::Now)?;
        facts.start_relationship(ben, Effective::Now)?;
        // Ada opts in to shared training today (the store dates the receipt by its clock:
        // no change takes effect before it is recorded); Ben keeps the default.
        facts.record_consent(ConsentChange::new(
            ada,
            TrainingLevel::Shared,
            Timestamp::now(),
            ConsentActor::Customer,
            Channel::AccountSettings,
            policy.version().clone(),
        ))
    })??;
    println!("Ada and Ben became customers; Ada opted in to shared training.\n");

    println!("Requests pass the proxy (logs.stored, logs.encrypted):");
    log(
        &vault,
        &committer,
        "Ada",
        ada,
        "Refactor my parser to use iterators",
    )?;
    let bens = log(
        &vault,
        &committer,
        "Ben",
        ben,
        "Why does my build fail with E0502?",
    )?;
    log(
        &vault,
        &committer,
        "Ada",
        ada,
        "Write tests for the tokenizer",
    )?;

    println!("\n{steward} opens Ben's log (logs.access, logs.purposes):");
    for purpose in [Purpose::Troubleshooting, Purpose::Marketing] {
        let request = AccessRequest::with_justification_text(
            steward.clone(),
            purpose,
            "INC-2041 Ben reports timeouts",
        );
        match vault.open(&bens, &request) {
            Ok(body) => println!(
                "  for `{purpose}`: opened after its audit entry was stored: {:?}",
                String::from_utf8_lossy(body.as_bytes())
            ),
            Err(error) => println!("  for `{purpose}`: refused (audited): {error}"),
        }
    }

    println!("\nThe service restarts.");
    drop((vault, committer, store));
    let store = SqliteStore::open(&path, &keys)?;
    let vault = open_vault(&store, &keys, policy.clone())?;
    let committer = GroupCommitter::new(&store)?;
    let audit_entries = vault.audit()?.verify()?.entries();
    println!(
        "  reopened: {audit_entries} audit entries verified, roster {:?}, Ada's consent `{}`",
        vault
            .facts()?
            .roster()?
            .iter()
            .map(StewardId::as_str)
            .collect::<Vec<_>>(),
        vault.facts()?.consent()?.level_at(ada, Timestamp::now())
    );
    log(
        &vault,
        &committer,
        "Ben",
        ben,
        "Explain lifetimes in this function",
    )?;
    drop(committer);

    println!("\nA shared-model training job reads the store (training.shared, forward-only):");
    let mut manifest = TrainingManifest::new(Vec::new());
    let outcome = vault.export_training(
        TrainingScope::Shared,
        |pass| store.stream_records(RecordScan::All, pass),
        |record| {
            println!("  trains on {:?}", String::from_utf8_lossy(record.body()));
            manifest.record(record.header()).map_err(BoxError::from)
        },
    )?;
    println!(
        "  {} exported, {} left out for consent; job {} is in the audit trail",
        outcome.counts.exported, outcome.counts.consent, outcome.plan.job
    );
    let manifest = String::from_utf8(manifest.finish(&outcome)?)?;
    println!("  manifest: {} lines", manifest.lines().count());

    println!("\nAda's contract ends (logs.retention): her logs are due at once, and the sweep");
    println!("deletes them now (at the latest by the end of the deletion window):");
    let ended = Timestamp::now();
    vault.update_facts(|facts| facts.end_relationship(ada, ended))??;
    let report = {
        let facts = vault.facts()?;
        let sweep = Sweep::new(policy.retention(), facts.relationships()?, facts.holds()?);
        let records = store
            .record_metas(RecordScan::All)
            .collect::<Result<Vec<_>, _>>()?;
        let plan = sweep.plan(records, Timestamp::now());
        let mut stored = steward_store::SweepRecords::new(store.clone(), &*facts);
        // Deletions and shreds are irreversible: they run at the clock's now.
        sweep.execute(
            &plan,
            &mut stored,
            &mut VaultShredder::new(&vault, &*facts),
            &SystemClock,
        )
    };
    println!(
        "  {} records deleted from the store, keys shredded for {} customer(s); durable now",
        report.deleted().len(),
        report.shredded().len()
    );

    let signer = CheckpointSigner::from_pkcs8(&CheckpointSigner::generate_pkcs8()?)?;
    let checkpoint = vault.audit()?.checkpoint(&signer)?;
    store.put_checkpoint(&checkpoint)?;
    let head = vault
        .audit()?
        .verify_against(&checkpoint, &signer.public_key())?;
    println!(
        "\nAudit trail: {} entries, HMAC chain and signed checkpoint verified:",
        head.entries()
    );
    for chained in vault.audit()?.store().audit_entries()? {
        let entry = chained.entry();
        let what = match entry.event() {
            AuditEvent::Access(access) => format!(
                "{} {} {:?}",
                access.steward(),
                access.purpose(),
                access.outcome()
            ),
            AuditEvent::RosterChanged { change, by } => format!("{change:?} by {by}"),
            AuditEvent::TrainingExportPlanned(plan) => {
                format!("training export planned: {} records", plan.counts.exported)
            }
            AuditEvent::TrainingExportFinished { counts, .. } => {
                format!("training export finished: {} exported", counts.exported)
            }
            other => format!("{other:?}"),
        };
        println!("  #{} {}  {what}", chained.sequence(), entry.at());
    }
    drop((vault, store));
    steward_store::remove_store_files(&path)?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
