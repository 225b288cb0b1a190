//! Data subject requests on the embedded store (`law.access`, `law.erasure`; issue 21): Ada
//! asks for a copy of her data, then for its erasure. The copy is one JSON bundle (schema in
//! docs/subject-requests.md) holding her relationship, consent receipts and records, and
//! nothing of Ben's; the request is audited before anything is decrypted. Her erasure first
//! waits behind a legal hold (nothing deleted, the request pending), then completes once the
//! hold is released: keys shredded, records deleted, consent receipts kept as proof. Asked
//! again, it says there is nothing left.
//!
//! Run: `cargo run -p steward-examples --example subject_requests` (the store is one SQLite
//! file in a temporary directory).

use steward::logs::AuditStore;
use steward::retention::{HoldId, HoldScope, LegalHold};
use steward::{consent::*, logs::*, vocabulary::*, *};
use steward_store::{
    Effective, GroupCommitter, LineageStore, RecordScan, SqliteStore, StoreKeys, StoreVault,
    SweepRecords, open_vault,
};

fn log(
    vault: &StoreVault,
    committer: &GroupCommitter,
    customer: CustomerId,
    prompt: &str,
) -> Result<(), BoxError> {
    let now = Timestamp::now();
    let record = vault.seal(RecordId::generate_at(now), customer, now, prompt.as_bytes())?;
    committer.put(record, DataCategory::LlmRequestLog)?;
    Ok(())
}

/// Ada's erasure request, run as `steward subject erase` runs it.
fn erase(
    store: &SqliteStore,
    vault: &StoreVault,
    request: &SubjectRequest,
) -> Result<ErasureOutcome, StewardError> {
    // The facts stay locked (shared) for the whole erasure: no hold is placed meanwhile.
    let facts = vault.facts()?;
    let mut records = SweepRecords::new(store.clone(), &*facts);
    let ids = store
        .record_metas(RecordScan::Customer(request.customer()))
        .map(|meta| meta.map(|meta| meta.id()).map_err(BoxError::from));
    vault.erase_subject(&*facts, request, &mut records, ids)
}

fn main() -> Result<(), BoxError> {
    let dir = std::env::temp_dir().join(format!("steward-subject-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let keys = StoreKeys::new(
        "kek-demo-1".parse()?,
        b"steward test key 5a, not secret!",
        b"steward test key 17, not secret!",
    )?;
    let policy = Policy::coder_model();
    let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
    let vault = open_vault(&store, &keys, policy.clone())?;
    let committer = GroupCommitter::new(&store)?;

    let ada: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01".parse()?;
    let ben: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a02".parse()?;
    vault.update_facts(|facts| {
        facts.start_relationship(ada, Effective::Now)?;
        facts.start_relationship(ben, Effective::Now)?;
        facts.record_consent(ConsentChange::new(
            ada,
            TrainingLevel::Shared,
            Timestamp::now(),
            ConsentActor::Customer,
            Channel::AccountSettings,
            policy.version().clone(),
        ))
    })??;
    log(&vault, &committer, ada, "refactor this parser")?;
    log(&vault, &committer, ada, "write tests for the tokenizer")?;
    log(&vault, &committer, ben, "Ben's own prompt")?;
    println!("Ada and Ben are customers; Ada opted in to shared training; 3 requests logged.\n");

    // 1. Access (GDPR Art. 15, 20). The privacy team verified Ada's identity under ticket
    //    DSR-2026-0042; the bundle is written as the records are decrypted.
    let access = SubjectRequest::new(ada, "DSR-2026-0042".parse()?, "dana.privacy".parse()?);
    let gathered = {
        let facts = vault.facts()?;
        SubjectFacts::gather(
            ada,
            facts.consent()?,
            facts.interactive()?,
            facts.relationships()?,
            facts.holds()?,
        )
    };
    let records = store.stream_records(RecordScan::Customer(ada), ExportPass::Run);
    let (outcome, bundle) = vault.write_subject_bundle(&access, &gathered, records, Vec::new())?;
    let value: serde_json::Value = serde_json::from_slice(&bundle)?;
    println!(
        "Access `{}` [law.access]: {} records, {} consent receipt(s), format `{}`",
        access.reference(),
        outcome.records,
        value
            .get("consent")
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len),
        value
            .get("format")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
    );
    let records = value.get("records").and_then(serde_json::Value::as_array);
    for record in records.into_iter().flatten() {
        let field = |name| record.get(name).cloned().unwrap_or_default();
        println!("  {}: {}", field("record"), field("body"));
    }
    let text = String::from_utf8(bundle)?;
    assert!(!text.contains("Ben's own prompt") && !text.contains(&ben.to_string()));
    println!("  nothing of Ben's is in it\n");

    // 2. Erasure (Art. 17), while counsel holds Ada's data for a case: nothing is deleted.
    let now = Timestamp::now();
    let review = Timestamp::from_unix_nanos(now.unix_nanos() + 90 * 86_400 * 1_000_000_000);
    let hold = LegalHold::place(
        HoldId::new(1),
        HoldScope::Customer { customer: ada },
        "CASE-2026-7 litigation hold".parse()?,
        "counsel.kim".parse()?,
        now,
        review,
    )?;
    vault.update_facts(|facts| facts.place_hold(hold))??;
    let erasure = SubjectRequest::new(ada, "DSR-2026-0043".parse()?, "dana.privacy".parse()?);
    match erase(&store, &vault, &erasure) {
        Err(error @ StewardError::ErasureHeld { .. }) => println!("Erasure refused: {error}"),
        other => return Err(format!("expected the hold to stop the erasure: {other:?}").into()),
    }
    let pending = pending_erasures(
        vault
            .audit()?
            .store()
            .entries()?
            .iter()
            .map(|chained| chained.entry()),
    );
    println!("  pending erasures: {}\n", pending.len());

    // 3. The case settles; the same request, run again, completes now.
    let (counsel, settled) = ("counsel.kim".parse()?, "CASE-2026-7 settled".parse()?);
    vault.update_facts(|facts| {
        facts.release_hold(HoldId::new(1), counsel, Timestamp::now(), settled)
    })??;
    let erased = erase(&store, &vault, &erasure)?;
    println!(
        "Erasure `{}` [law.erasure]: {erased:?}",
        erasure.reference()
    );
    println!(
        "  Ada's records left in the store: {}; her keys shredded: {}",
        store
            .record_metas(RecordScan::Customer(ada))
            .collect::<Result<Vec<_>, _>>()?
            .len(),
        vault.keyring()?.is_shredded(ada)
    );
    println!(
        "  her consent receipts, kept as proof: {}",
        vault.facts()?.consent()?.history(ada).count()
    );
    println!(
        "  training exports still holding her records: {}",
        store.exports_holding(ada)?.len()
    );
    println!("Asked again: {:?}", erase(&store, &vault, &erasure)?);

    let verified = vault.audit()?.verify()?;
    println!(
        "\nThe audit chain verifies: {} entries.",
        verified.entries()
    );
    drop((committer, vault, store));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
