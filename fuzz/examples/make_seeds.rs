//! Writes `fuzz/fixture/` (what the harness keys genuinely made) and `fuzz/seeds/<target>/`
//! (inputs that reach each target's deep paths). Run after a change to a stored format:
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example make_seeds
//! ```
//!
//! Data keys, record ids, instants and the checkpoint signing key are fresh on every run, so
//! the files change; commit them together (the targets check inputs against the fixture).

use std::{
    error::Error,
    fs,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use steward::{FactLogPosition, Policy, SignedConsentReceipt, SignedInteractiveReceipt, retention::{HoldId, HoldScope, LegalHold}, consent::{Channel, ConsentActor, ConsentChange, InteractiveChange, InteractiveChoice}, vocabulary::{DataCategory, TrainingScope}};
use steward_consent::{ConsentLedger, InteractiveLedger};
use steward_core::{CustomerId, PolicyVersion, Purpose, RecordId, Timestamp, TrainingLevel};
use steward_fuzz::{
    fixture::{self, AUDIT_KEY, MASTER_ID, MASTER_KEY, hex_encode},
    targets::{SMALL_BODY_LIMIT, STORED_RECORD, known_versions},
};
use steward_logs::{
    AccessRequest, AuditTrail, BoxError, ChainHead, ChainedEntry, CheckpointSigner, Custody,
    Denial, ExportCounts, ExportJobId, ExportPlan, KeyAdmission, KeyStore, Keyring,
    MemoryAuditStore, OpenQuery, PlannedRecords, ReceiptSigner, RosterChange, SealInput,
    SealedRecord, Tombstone, WrappedDataKey,
};
use steward_store::{FactLog, GroupCommitter, SqliteStore, StoreKeys, StoredFact, open_vault};

type Result<T = ()> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// A key store whose shreds fail while `dead` is set: the process died between a shred's
/// audit entry and the deletion of the keys, which the next start completes.
#[derive(Debug, Default)]
struct DiesInShred {
    dead: AtomicBool,
}

impl KeyStore for DiesInShred {
    fn put_data_key(&self, _key: &WrappedDataKey) -> std::result::Result<KeyAdmission, BoxError> {
        Ok(KeyAdmission::Stored)
    }

    fn shred(
        &self,
        _customer: CustomerId,
        _tombstone: Tombstone,
    ) -> std::result::Result<(), BoxError> {
        if self.dead.load(Ordering::SeqCst) {
            return Err("died before the keys were deleted".into());
        }
        Ok(())
    }

    fn rewrap(&self, _keys: &[WrappedDataKey]) -> std::result::Result<(), BoxError> {
        Ok(())
    }
}

fn allow(_query: &OpenQuery<'_>) -> std::result::Result<(), Denial> {
    Ok(())
}

fn refuse(_query: &OpenQuery<'_>) -> std::result::Result<(), Denial> {
    Err(Denial::NotOnRoster)
}

/// What the custody part made.
struct Custodied {
    keyring: String,
    /// Records that open under the fixture's keyring, with their bodies.
    records: Vec<(SealedRecord, Vec<u8>)>,
    /// Records of shredded customers (parse, never open).
    shredded: Vec<SealedRecord>,
    chain: Vec<ChainedEntry>,
    checkpoints: Vec<String>,
    checkpoint_key: String,
}

fn seal(
    custody: &Custody<MemoryAuditStore>,
    customer: CustomerId,
    level: TrainingLevel,
    body: &[u8],
) -> Result<SealedRecord> {
    let at = Timestamp::now();
    let meta = SealInput::new(RecordId::generate_at(at), customer, at, level);
    Ok(custody.seal(&meta, body)?)
}

/// A custody under the retired master key, then rotated to the current one, writing every
/// kind of audit entry a custody writes.
fn custody_part(facts_head: ChainHead) -> Result<Custodied> {
    let store = Arc::new(DiesInShred::default());
    let custody = Custody::new(
        Keyring::new(fixture::retired_master()?),
        AuditTrail::new(fixture::audit_key()?, MemoryAuditStore::new())?,
    )
    .with_key_store(store.clone());
    let signer = CheckpointSigner::from_pkcs8(&CheckpointSigner::generate_pkcs8()?)?;
    let customer = fixture::customer()?;
    let other: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a11".parse()?;
    let third: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a12".parse()?;
    let steward = "sam.steward".parse()?;
    let admin = || "dana.admin".parse();
    let request = AccessRequest::with_justification_text(
        "sam.steward".parse()?,
        Purpose::Troubleshooting,
        "INC-2041 timeouts",
    );
    let mut checkpoints = Vec::new();

    let first_body = br#"{"model":"coder-1","prompt":"why does my build fail?"}"#.to_vec();
    let first = seal(&custody, customer, TrainingLevel::Shared, &first_body)?;
    custody.audit_roster_change(RosterChange::Added(steward), admin()?)?;
    custody.dangerous_open_with_gate(&first, &request, allow)?;
    let refused = custody.dangerous_open_with_gate(&first, &request, refuse);
    assert!(refused.is_err());
    let mut tampered = first.as_bytes().to_vec();
    if let Some(last) = tampered.last_mut() {
        *last ^= 1;
    }
    let tampered = SealedRecord::from_vec(tampered)?;
    assert!(
        custody
            .dangerous_open_with_gate(&tampered, &request, allow)
            .is_err()
    );
    checkpoints.push(custody.audit()?.checkpoint(&signer)?);

    custody.rotate_data_key(customer)?;
    let second_body = br#"{"model":"coder-1","prompt":"rename this function"}"#.to_vec();
    let second = seal(&custody, customer, TrainingLevel::Shared, &second_body)?;
    custody.rotate_master_key(fixture::master()?)?;

    let mut planned = PlannedRecords::new();
    planned.add(second.header().record_id());
    let mut counts = ExportCounts::default();
    counts.take();
    let plan = ExportPlan {
        job: ExportJobId::generate_at(Timestamp::now()),
        scope: TrainingScope::Shared,
        policy_version: PolicyVersion::from_static("2025-03-05").ok_or("policy version")?,
        at: custody.audit_instant()?,
        counts,
        digest: planned.digest(),
    };
    let mut grant = custody.begin_export(plan, planned)?;
    custody.open_for_export(&mut grant, &second)?;
    custody.finish_export(grant)?;

    let gone = seal(&custody, other, TrainingLevel::None, b"shredded")?;
    custody.shred(other)?;
    let pending = seal(&custody, third, TrainingLevel::Private, b"shred pending")?;
    store.dead.store(true, Ordering::SeqCst);
    assert!(custody.shred(third).is_err());
    store.dead.store(false, Ordering::SeqCst);
    let entries = custody.audit()?.store().as_slice().to_vec();
    assert_eq!(custody.complete_pending_shreds(&entries)?, [third]);
    custody.audit_roster_change(RosterChange::Removed("sam.steward".parse()?), admin()?)?;
    checkpoints.push(custody.audit()?.checkpoint(&signer)?);
    checkpoints.push(
        custody
            .audit()?
            .checkpoint_with_facts(&signer, facts_head)?,
    );

    let chain = custody.audit()?.store().as_slice().to_vec();
    let kinds: std::collections::BTreeSet<String> = chain
        .iter()
        .filter_map(|chained| {
            let value = serde_json::to_value(chained.entry().event()).ok()?;
            Some(match value {
                serde_json::Value::Object(map) => map.keys().next()?.clone(),
                other => other.to_string(),
            })
        })
        .collect();
    // Every kind but the legacy `customer-shredded`, which no build writes any more.
    assert_eq!(kinds.len(), 8, "audit kinds: {kinds:?}");
    Ok(Custodied {
        keyring: serde_json::to_string(&custody.keyring()?.snapshot())?,
        records: vec![(first, first_body), (second, second_body)],
        shredded: vec![gone, pending],
        chain,
        checkpoints: checkpoints
            .iter()
            .map(serde_json::to_string)
            .collect::<std::result::Result<_, _>>()?,
        checkpoint_key: signer.public_key().to_hex(),
    })
}

/// A SQLite store under the fixture's keys whose fact log holds every kind of event a store
/// writes (a record's deletion aside, which only the sweep writes); returns its rows.
fn facts_part(dir: &Path) -> Result<Vec<StoredFact>> {
    let keys = StoreKeys::new(MASTER_ID.parse()?, &MASTER_KEY, &AUDIT_KEY)?;
    let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
    let vault = open_vault(&store, &keys, Policy::coder_model())?;
    let committer = GroupCommitter::new(&store)?;
    let customer = fixture::customer()?;
    let version = vault.policy().version().clone();
    let consent = |level| {
        ConsentChange::new(
            customer,
            level,
            Timestamp::now(),
            ConsentActor::Customer,
            Channel::AccountSettings,
            version.clone(),
        )
    };
    vault.update_facts(|facts| facts.start_relationship(customer, Timestamp::now()))??;
    vault.update_facts(|facts| facts.record_consent(consent(TrainingLevel::Shared)))??;
    let at = Timestamp::now();
    let record = vault.seal(
        RecordId::generate_at(at),
        customer,
        at,
        b"{\"prompt\":\"hi\"}",
    )?;
    committer.put(record, DataCategory::LlmRequestLog)?;
    vault.update_facts(|facts| facts.record_consent(consent(TrainingLevel::None)))??;
    vault.add_steward("sam.steward".parse()?, "dana.admin".parse()?)?;
    vault.remove_steward(&"sam.steward".parse()?, "dana.admin".parse()?)?;
    let now = Timestamp::now();
    let expires = Timestamp::from_unix_nanos(now.unix_nanos() + 365 * 86_400 * 1_000_000_000);
    let hold = LegalHold::place(
        HoldId::new(17),
        HoldScope::Customer { customer },
        "CASE-2026-17 litigation hold".parse()?,
        "counsel.kim".parse()?,
        now,
        expires,
    )?;
    vault.update_facts(|facts| facts.place_hold(hold))??;
    let (counsel, settled) = ("counsel.kim".parse()?, "CASE-2026-17 settled".parse()?);
    vault.update_facts(|facts| {
        facts.release_hold(HoldId::new(17), counsel, Timestamp::now(), settled)
    })??;
    vault.update_facts(|facts| facts.end_relationship(customer, Timestamp::now()))??;
    vault.shred(customer)?;
    drop(committer);
    Ok(store.entries_after(0)?)
}

/// Writes `files` into `fuzz/seeds/<target>/`, replacing what the directory held.
fn seeds(target: &str, files: &[(&str, Vec<u8>)]) -> Result {
    let dir = fixture::seeds_dir().join(target);
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    for (name, bytes) in files {
        fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}

fn lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text.into_bytes()
}

fn main() -> Result {
    let scratch = std::env::temp_dir().join(format!("steward-make-seeds-{}", std::process::id()));
    fs::create_dir_all(&scratch)?;
    let facts = facts_part(&scratch);
    fs::remove_dir_all(&scratch)?;
    let facts = facts?;
    let facts_head = ChainHead::new(
        u64::try_from(facts.len())?,
        facts.last().ok_or("an empty fact log")?.hash(),
    );
    let custodied = custody_part(facts_head)?;

    // The fixture.
    let dir = fixture::dir();
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("keyring.json"), format!("{}\n", custodied.keyring))?;
    let records: Vec<String> = custodied
        .records
        .iter()
        .map(|(record, body)| format!("{} {}", hex_encode(record.as_bytes()), hex_encode(body)))
        .collect();
    fs::write(
        dir.join("records.txt"),
        lines(records.iter().map(String::as_str)),
    )?;
    let chain: Vec<String> = custodied
        .chain
        .iter()
        .map(serde_json::to_string)
        .collect::<std::result::Result<_, _>>()?;
    fs::write(
        dir.join("audit.jsonl"),
        lines(chain.iter().map(String::as_str)),
    )?;
    fs::write(
        dir.join("checkpoints.jsonl"),
        lines(custodied.checkpoints.iter().map(String::as_str)),
    )?;
    fs::write(
        dir.join("checkpoint.pub"),
        format!("{}\n", custodied.checkpoint_key),
    )?;
    let rows: Vec<String> = facts.iter().map(fixture::fact_line).collect();
    fs::write(
        dir.join("facts.tsv"),
        lines(rows.iter().map(String::as_str)),
    )?;

    // record_parser and record_header: records that open, records of shredded customers,
    // a tampered one, and headers alone.
    let mut records = Vec::new();
    let mut headers = Vec::new();
    for (n, (record, _)) in custodied.records.iter().enumerate() {
        records.push((format!("open-{n}"), record.as_bytes().to_vec()));
        headers.push((
            format!("header-{n}"),
            record.as_bytes().get(..128).unwrap_or_default().to_vec(),
        ));
        headers.push((format!("record-{n}"), record.as_bytes().to_vec()));
        let mut tampered = record.as_bytes().to_vec();
        if let Some(byte) = tampered.get_mut(140) {
            *byte ^= 0x20;
        }
        records.push((format!("tampered-{n}"), tampered));
    }
    for (n, record) in custodied.shredded.iter().enumerate() {
        records.push((format!("shredded-{n}"), record.as_bytes().to_vec()));
    }
    let named = |files: &[(String, Vec<u8>)]| -> Vec<(String, Vec<u8>)> { files.to_vec() };
    write_named("record_parser", &named(&records))?;
    write_named("record_header", &named(&headers))?;

    // audit_chain: the whole chain with its checkpoints, prefixes, each entry alone.
    let mut audit = vec![
        (
            "chain-and-checkpoints".to_owned(),
            lines(
                chain
                    .iter()
                    .chain(&custodied.checkpoints)
                    .map(String::as_str),
            ),
        ),
        ("chain".to_owned(), lines(chain.iter().map(String::as_str))),
        (
            "prefix-3-and-first-checkpoint".to_owned(),
            lines(
                chain
                    .iter()
                    .take(3)
                    .chain(custodied.checkpoints.iter().take(1))
                    .map(String::as_str),
            ),
        ),
        (
            "checkpoints".to_owned(),
            lines(custodied.checkpoints.iter().map(String::as_str)),
        ),
    ];
    for (n, entry) in chain.iter().enumerate() {
        audit.push((format!("entry-{n:02}"), lines([entry.as_str()])));
    }
    write_named("audit_chain", &audit)?;

    // fact_log: stored rows (form 0), event texts chained by the harness (form 1).
    let events: Vec<&str> = facts.iter().map(StoredFact::event).collect();
    let deleted = format!(
        r#"{{"kind":"record_deleted","record":"{}"}}"#,
        RecordId::generate_at(Timestamp::now())
    );
    let mut fact_seeds = vec![
        (
            "rows".to_owned(),
            [vec![0], lines(rows.iter().map(String::as_str))].concat(),
        ),
        (
            "rows-half".to_owned(),
            [
                vec![0],
                lines(rows.iter().take(rows.len() / 2).map(String::as_str)),
            ]
            .concat(),
        ),
        (
            "events".to_owned(),
            [vec![1], lines(events.iter().copied())].concat(),
        ),
        (
            "record-deleted".to_owned(),
            [vec![1], lines([deleted.as_str()])].concat(),
        ),
    ];
    for (n, event) in events.iter().enumerate() {
        fact_seeds.push((format!("event-{n:02}"), [vec![1], lines([*event])].concat()));
    }
    write_named("fact_log", &fact_seeds)?;

    // key_rows: the keyring, one under a master key the restore is not given, an empty one.
    write_named(
        "key_rows",
        &[
            ("keyring".to_owned(), custodied.keyring.clone().into_bytes()),
            (
                "unknown-master".to_owned(),
                custodied
                    .keyring
                    .replace(MASTER_ID, "kek-nobody")
                    .into_bytes(),
            ),
            (
                "empty".to_owned(),
                br#"{"data_keys":[],"shredded":[]}"#.to_vec(),
            ),
        ],
    )?;

    // key_file: the forms a key file takes, and near misses.
    let hex = hex_encode(&AUDIT_KEY);
    seeds(
        "key_file",
        &[
            ("hex-newline", format!("{hex}\n").into_bytes()),
            ("raw-32", MASTER_KEY.to_vec()),
            (
                "upper-spaced",
                format!("  {}\r\n", hex.to_uppercase()).into_bytes(),
            ),
            (
                "short",
                hex.get(..63).unwrap_or_default().as_bytes().to_vec(),
            ),
        ],
    )?;

    // policy_file: the example policies.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut policies = Vec::new();
    for entry in fs::read_dir(&examples)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "toml")
            && let Some(name) = path.file_name().and_then(|name| name.to_str())
            && name != "Cargo.toml"
        {
            policies.push((name.to_owned(), fs::read(&path)?));
        }
    }
    policies.sort();
    write_named("policy_file", &policies)?;

    // consent_ledger: a ledger with changes under both known versions, by both actors.
    let known = known_versions().ok_or("known versions")?;
    let mut ledger = ConsentLedger::new(known);
    let customer = fixture::customer()?;
    let t = |seconds| Timestamp::from_unix_seconds(seconds);
    let change = |level, at, actor, channel, version: &'static str| -> Result<ConsentChange> {
        Ok(ConsentChange::new(
            customer,
            level,
            at,
            actor,
            channel,
            PolicyVersion::from_static(version)
                .ok_or("version")?
                .to_owned(),
        ))
    };
    ledger.record(
        change(
            TrainingLevel::Private,
            t(1_750_000_000)?,
            ConsentActor::Customer,
            Channel::AccountSettings,
            "2025-03-05",
        )?,
        t(1_750_000_000)?,
    )?;
    ledger.record(
        change(
            TrainingLevel::OpenWeight,
            t(1_760_000_000)?,
            ConsentActor::Customer,
            Channel::Api,
            "2025-09-01",
        )?,
        t(1_760_000_000)?,
    )?;
    let admin = ConsentActor::Admin {
        admin: "dana.admin".parse()?,
        basis: "SUP-77 customer asked by mail".parse()?,
    };
    ledger.record(
        change(
            TrainingLevel::None,
            t(1_770_000_000)?,
            admin,
            Channel::SupportRequest,
            "2025-09-01",
        )?,
        t(1_770_000_000)?,
    )?;
    seeds(
        "consent_ledger",
        &[
            ("three-changes", ledger.to_json()?.into_bytes()),
            (
                "empty",
                ConsentLedger::new(known_versions().ok_or("known versions")?)
                    .to_json()?
                    .into_bytes(),
            ),
        ],
    )?;
    // ingest_lines: lines the harness's store plans (string and JSON bodies, ids, a line whose
    // record is stored, blank lines), one over the small body limit after a good one, and
    // each kind of bad line.
    let customer = fixture::CUSTOMER;
    let stranger = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a11";
    let id = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a20";
    let line = |fields: &str| format!(r#"{{"customer":"{customer}",{fields}}}"#);
    let good = [
        line(r#""at":"2025-06-01T12:00:00Z","body":"why does my build fail?""#),
        String::new(),
        line(&format!(
            r#""id":"{id}","at":"2026-02-03T04:05:06.789Z","body":{{"model":"coder-1","prompt":"rename \u00e9"}}"#
        )),
        line(r#""body":[1,2.5,null,true]"#),
        line(&format!(
            r#""id":"{STORED_RECORD}","body":"stored already""#
        )),
    ];
    let long_body = "x".repeat(SMALL_BODY_LIMIT + 1);
    let ingest = vec![
        ("lines", lines(good.iter().map(String::as_str))),
        (
            "over-small-limit",
            lines([
                good[0].as_str(),
                line(&format!(r#""body":"{long_body}""#)).as_str(),
            ]),
        ),
        ("not-json", lines([good[0].as_str(), "{\"customer\":"])),
        (
            "unknown-field",
            lines([line(r#""body":"","extra":1"#).as_str()]),
        ),
        (
            "future",
            lines([line(r#""at":"2030-01-01T00:00:00Z","body":"""#).as_str()]),
        ),
        (
            "no-relationship",
            lines([format!(r#"{{"customer":"{stranger}","body":"hi"}}"#).as_str()]),
        ),
        (
            "before-relationship",
            lines([line(r#""at":"2020-01-01T00:00:00Z","body":"hi""#).as_str()]),
        ),
        ("duplicate-id", lines([good[2].as_str(), good[2].as_str()])),
        (
            "stored-for-another",
            lines([
                format!(r#"{{"id":"{STORED_RECORD}","customer":"{stranger}","body":"x"}}"#)
                    .as_str(),
            ]),
        ),
        ("invalid-body", lines([line(r#""body":"\ud800""#).as_str()])),
    ];
    write_named(
        "ingest_lines",
        &ingest
            .into_iter()
            .map(|(name, bytes)| (name.to_owned(), bytes))
            .collect::<Vec<_>>(),
    )?;

    // check_request: one request of each actor and action on the harness's customer, with
    // and without the optional fields, and near misses.
    let request = |fields: &str| {
        format!(
            r#"{{{fields},"owner":"{customer}","collected":"2025-01-02T00:00:00Z","at":"2025-06-01T00:00:00Z"}}"#
        )
        .into_bytes()
    };
    let record = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a21";
    write_named(
        "check_request",
        &[
            (
                "use-customer-care",
                request(r#""actor":"service","action":"use:customer-care","category":"email""#),
            ),
            (
                "use-marketing",
                request(r#""actor":"service","action":"use:marketing","category":"email""#),
            ),
            (
                "open-with-justification",
                request(&format!(
                    r#""actor":"steward:sam.steward","action":"open:troubleshooting","category":"llm-request-log","justification":"INC-2041 timeouts","record":"{record}""#
                )),
            ),
            (
                "train-shared",
                request(
                    r#""actor":"pipeline","action":"train:shared","category":"llm-request-log","consent_at_collection":"shared""#,
                ),
            ),
            (
                "customer-keep",
                request(&format!(
                    r#""actor":"customer:{customer}","action":"keep","category":"llm-request-log""#
                )),
            ),
            (
                "unknown-actor",
                request(r#""actor":"robot","action":"keep","category":"email""#),
            ),
            (
                "unknown-field",
                request(r#""actor":"service","action":"keep","category":"email","when":"now""#),
            ),
        ]
        .map(|(name, bytes)| (name.to_owned(), bytes)),
    )?;

    write_consent_receipts()?;

    println!(
        "wrote {} and {}",
        dir.display(),
        fixture::seeds_dir().display()
    );
    Ok(())
}

/// consent_receipt: a fresh receipt key's public key, then a file of two signed receipts
/// (a customer's opt-in and an admin's withdrawal), one alone, one changed after signing, one
/// of a version to come, and a file with an interactive-features receipt beside a consent one.
fn write_consent_receipts() -> Result {
    let policy = Policy::coder_model();
    let mut ledger = ConsentLedger::new(policy.known_versions().clone());
    let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a31".parse()?;
    let at: Timestamp = "2025-06-01T12:00:00Z".parse()?;
    let change = |level, actor| {
        ConsentChange::new(
            customer,
            level,
            at,
            actor,
            Channel::AccountSettings,
            policy.version().clone(),
        )
    };
    let opt_in = ledger.record(change(TrainingLevel::Shared, ConsentActor::Customer), at)?;
    let later: Timestamp = "2025-07-01T12:00:00Z".parse()?;
    let admin = ConsentActor::Admin {
        admin: "dana.admin".parse()?,
        basis: "SUP-7 customer asked by mail".parse()?,
    };
    let withdrawal = ledger.record(
        ConsentChange::new(
            customer,
            TrainingLevel::None,
            later,
            admin,
            Channel::SupportRequest,
            policy.version().clone(),
        ),
        later,
    )?;
    let signer = ReceiptSigner::from_pkcs8(&ReceiptSigner::generate_pkcs8()?)?;
    let position = Some(FactLogPosition::new(3, ChainHead::EMPTY.hash()));
    let sign = |receipt: &steward::consent::ConsentReceipt| {
        SignedConsentReceipt::sign(receipt.clone(), position, later, &signer)?.to_json()
    };
    let (first, second) = (sign(&opt_in)?, sign(&withdrawal)?);
    let mut interactive_ledger = InteractiveLedger::new(policy.known_versions().clone());
    let interactive = interactive_ledger.record(
        InteractiveChange::new(
            customer,
            InteractiveChoice::OptedIn,
            at,
            ConsentActor::Customer,
            Channel::Api,
            policy.version().clone(),
        ),
        at,
    )?;
    let third = SignedInteractiveReceipt::sign(interactive, position, later, &signer)?.to_json()?;
    let key = signer.public_key().to_hex();
    let file = |body: &str| format!("{key}\n{body}").into_bytes();
    seeds(
        "consent_receipt",
        &[
            ("two", file(&format!("[\n{first},\n{second}\n]\n"))),
            ("one", file(&first)),
            ("changed", file(&first.replace("\"shared\"", "\"open-weight\""))),
            ("version-2", file(&first.replace("\"version\": 1", "\"version\": 2"))),
            ("with-interactive", file(&format!("[\n{first},\n{third}\n]\n"))),
        ],
    )
}

fn write_named(target: &str, files: &[(String, Vec<u8>)]) -> Result {
    let files: Vec<(&str, Vec<u8>)> = files
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.clone()))
        .collect();
    seeds(target, &files)
}
