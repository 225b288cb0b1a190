//! One function per fuzz target: the bytes in, the properties asserted (a panic is a finding).

use std::{
    error::Error,
    sync::{Mutex, OnceLock},
};

use steward::{MemoryFacts, Policy, PolicyError, logs::MAX_BODY_LEN};
use steward_cli::{
    InputError,
    lines::{Plan, PlannedLine, StoredRecords, plan_with_body_limit},
    request::{Question, justification},
};
use steward_consent::{ConsentLedger, KnownPolicyVersions};
use steward_core::{CustomerId, PolicyVersion, Purpose, RecordId, Timestamp, TrainingLevel};
use steward_logs::{
    AccessRequest, AuditError, AuditKey, AuditTrail, ChainHash, ChainedEntry, Checkpoint, Custody,
    Denial, HEADER_LEN, KeyError, KeyMaterial, Keyring, KeyringSnapshot, LogsError,
    MemoryAuditStore, OpenQuery, RecordError, RecordHeader, SealInput, SealedRecord, TAG_LEN,
    WrappedDataKey,
};
use steward_redact::{FingerprintKey, MAX_MARKER_LEN, Redactor, Scanner, redacted_len_bound};
use steward_store::{
    StoreError, StoreKeys, StoredFact,
    test_support::{reencode_fact_event, replay_fact_rows},
};

use crate::fixture::{self, Fixture, MASTER_ID, NewestOnly, RETIRED_MASTER_ID, audit_key, fixture};

/// A target: the bytes in, its properties asserted.
pub type Target = fn(&[u8]);

/// Every target, by the name of its binary and seed directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("record_parser", record_parser),
    ("policy_file", policy_file),
    ("consent_ledger", consent_ledger),
    ("audit_chain", audit_chain),
    ("fact_log", fact_log),
    ("key_rows", key_rows),
    ("record_header", record_header),
    ("key_file", key_file),
    ("redact", redact),
    ("ingest_lines", ingest_lines),
    ("check_request", check_request),
    ("consent_receipt", consent_receipt),
];

type Harnessed<T> = OnceLock<Mutex<Option<T>>>;

/// Runs `body` with the harness `init` built once, if it could be built.
fn with_harness<T>(cell: &'static Harnessed<T>, init: fn() -> Option<T>, body: impl FnOnce(&T)) {
    let Ok(guard) = cell.get_or_init(|| Mutex::new(init())).lock() else {
        return;
    };
    if let Some(harness) = guard.as_ref() {
        body(harness);
    }
}

/// A custody over the fixture's keyring, restored as a store restores it.
fn fixture_custody() -> Option<Custody<NewestOnly>> {
    let fixture = fixture()?;
    let keyring = Keyring::restore(fixture::master().ok()?, [], fixture.keyring.clone()).ok()?;
    let trail = AuditTrail::new(audit_key().ok()?, NewestOnly::default()).ok()?;
    Some(Custody::new(keyring, trail))
}

/// A request the gate below lets through.
fn request() -> Option<AccessRequest> {
    Some(AccessRequest::with_justification_text(
        "fuzz.steward".parse().ok()?,
        Purpose::Troubleshooting,
        "FUZZ-1",
    ))
}

/// Allows every request: only the record's own integrity stands between it and plaintext.
#[expect(
    clippy::unnecessary_wraps,
    reason = "the gate's signature is the custody's"
)]
fn allow(_query: &OpenQuery<'_>) -> Result<(), Denial> {
    Ok(())
}

/// The sealed-record parser and the open path (docs/design.md section 3, invariant 9):
/// whatever parses keeps its bytes and agrees with the header-only parse; a record opens
/// (key commitment and AEAD, through a gate that allows everything) only if the harness's
/// keys really sealed it, and then to the body sealed.
pub fn record_parser(data: &[u8]) {
    static CUSTODY: Harnessed<Custody<NewestOnly>> = OnceLock::new();
    let Ok(record) = SealedRecord::from_bytes(data) else {
        return;
    };
    assert_eq!(
        record.as_bytes(),
        data,
        "a parsed record must keep its bytes"
    );
    assert_eq!(
        record.header().body_len() + HEADER_LEN + TAG_LEN,
        data.len()
    );
    let prefix = RecordHeader::from_prefix(data).ok();
    assert!(prefix.is_some_and(|header| same_claims(&header, record.header())));
    with_harness(&CUSTODY, fixture_custody, |custody| {
        let Some(request) = request() else { return };
        let opened = custody.dangerous_open_with_gate(&record, &request, allow);
        let genuine = fixture().and_then(|fixture| {
            fixture
                .records
                .iter()
                .find(|(sealed, _)| sealed.as_slice() == data)
        });
        match (opened, genuine) {
            (Ok(plaintext), Some((_, body))) => assert_eq!(plaintext.as_bytes(), body.as_slice()),
            (Ok(_), None) => panic!("a record the harness never sealed opened"),
            (Err(error), _) => assert!(matches!(
                error,
                LogsError::Open(_) | LogsError::Key(_) | LogsError::Record(_)
            )),
        }
    });
}

/// Whether two headers claim the same record (the body length aside).
fn same_claims(a: &RecordHeader, b: &RecordHeader) -> bool {
    a.algorithm() == b.algorithm()
        && a.record_id() == b.record_id()
        && a.customer() == b.customer()
        && a.key_version() == b.key_version()
        && a.collected_at() == b.collected_at()
        && a.consent() == b.consent()
}

/// The header-only parse that plans exports: it reads exactly the first [`HEADER_LEN`]
/// bytes, refuses fewer as truncated, claims a body of 0 bytes, and agrees with the full
/// parse wherever that succeeds.
pub fn record_header(data: &[u8]) {
    let parsed = RecordHeader::from_prefix(data);
    let Some(head) = data.get(..HEADER_LEN) else {
        assert!(matches!(
            parsed,
            Err(LogsError::Record(RecordError::Truncated { needed, actual }))
                if needed == HEADER_LEN && actual == data.len()
        ));
        return;
    };
    let alone = RecordHeader::from_prefix(head);
    match (&parsed, &alone) {
        (Ok(a), Ok(b)) => assert!(a == b),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("the header parse read past the header"),
    }
    match &parsed {
        Ok(header) => assert_eq!(header.body_len(), 0),
        Err(error) => assert!(matches!(error, LogsError::Record(_))),
    }
    if let Ok(record) = SealedRecord::from_bytes(data) {
        assert!(
            parsed
                .as_ref()
                .is_ok_and(|header| same_claims(header, record.header()))
        );
    }
}

/// The policy-file loader (docs/design.md section 3, invariant 9): any text, read as TOML
/// or as JSON, gives a policy or a typed error naming the file, never a panic.
pub fn policy_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for result in [
        Policy::from_toml_str(text, "fuzz.toml"),
        Policy::from_json_str(text, "fuzz.json"),
    ] {
        if let Err(error) = result {
            assert!(matches!(
                error,
                PolicyError::Malformed { .. } | PolicyError::Invalid { .. }
            ));
            assert!(error.to_string().starts_with("policy file `fuzz."));
        }
    }
}

/// The versions the consent harness knows: the bundled policy's and one later version, so
/// that files naming either import and files naming anything else are refused.
#[must_use]
pub fn known_versions() -> Option<KnownPolicyVersions> {
    let current = PolicyVersion::from_static("2025-03-05")?;
    KnownPolicyVersions::new(current)
        .with(PolicyVersion::from_static("2025-09-01")?)
        .ok()
}

/// The consent-ledger import (docs/design.md section 3, invariant 9): any text gives a
/// ledger or a typed error, never a panic, and whatever imports exports to a ledger that
/// imports equal (no information is lost in a round trip).
pub fn consent_ledger(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(known) = known_versions() else {
        return;
    };
    let Ok(ledger) = ConsentLedger::from_json(text, known.clone()) else {
        return;
    };
    let Ok(exported) = ledger.to_json() else {
        return;
    };
    assert_eq!(
        ConsentLedger::from_json(&exported, known).ok(),
        Some(ledger)
    );
}

/// Audit entries and checkpoints as stored (JSON, one a line, as both backends keep them):
/// each decoded one re-encodes to an equal one; a chain verifies under the audit key only if
/// it is a prefix of the chain the key really wrote; a checkpoint verifies only if its signer
/// made it; a store verifies against a checkpoint only if both are genuine and the chain
/// reaches it.
pub fn audit_chain(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut entries: Vec<ChainedEntry> = Vec::new();
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    for line in text.lines() {
        if let Ok(entry) = serde_json::from_str::<ChainedEntry>(line) {
            entries.push(entry);
        } else if let Ok(checkpoint) = serde_json::from_str::<Checkpoint>(line) {
            checkpoints.push(checkpoint);
        }
    }
    for entry in &entries {
        let text = serde_json::to_string(entry).ok();
        let back = text.and_then(|text| serde_json::from_str::<ChainedEntry>(&text).ok());
        assert_eq!(
            back.as_ref(),
            Some(entry),
            "an entry must survive a round trip"
        );
    }
    for checkpoint in &checkpoints {
        let text = serde_json::to_string(checkpoint).ok();
        let back = text.and_then(|text| serde_json::from_str::<Checkpoint>(&text).ok());
        assert_eq!(
            back.as_ref(),
            Some(checkpoint),
            "a checkpoint must survive a round trip"
        );
    }
    let (Some(fixture), Ok(key)) = (fixture(), audit_key()) else {
        return;
    };
    let genuine_prefix = is_prefix(&entries, &fixture.chain);
    match key.verify_chain(&entries) {
        Ok(head) => {
            assert!(genuine_prefix, "a chain the audit key never wrote verified");
            assert_eq!(usize::try_from(head.entries()).ok(), Some(entries.len()));
            let newest = entries
                .last()
                .map_or(ChainHash::GENESIS, ChainedEntry::hash);
            assert_eq!(head.hash(), newest);
        }
        Err(error) => {
            assert!(!genuine_prefix, "a genuine chain did not verify: {error}");
            assert!(matches!(
                error,
                LogsError::Audit(AuditError::ChainBroken { .. }) | LogsError::Overflow { .. }
            ));
        }
    }
    for checkpoint in &checkpoints {
        match fixture.checkpoint_key.verify(checkpoint) {
            Ok(()) => assert!(
                fixture.checkpoints.contains(checkpoint),
                "a checkpoint its signer never made verified"
            ),
            Err(error) => {
                assert!(!fixture.checkpoints.contains(checkpoint));
                assert!(matches!(
                    error,
                    LogsError::Audit(AuditError::CheckpointSignature)
                ));
            }
        }
    }
    let Some(checkpoint) = checkpoints.first() else {
        return;
    };
    let Ok(key) = audit_key() else { return };
    // A trail refuses a store whose newest entry does not verify: nothing to check then.
    let Ok(trail) = AuditTrail::new(key, MemoryAuditStore::from(entries.clone())) else {
        return;
    };
    if trail
        .verify_against(checkpoint, &fixture.checkpoint_key)
        .is_ok()
    {
        assert!(genuine_prefix && fixture.checkpoints.contains(checkpoint));
        assert!(u64::try_from(entries.len()).is_ok_and(|len| len >= checkpoint.entries()));
    }
}

/// Whether `part` is a prefix of `whole`.
fn is_prefix<T: PartialEq>(part: &[T], whole: &[T]) -> bool {
    whole.get(..part.len()).is_some_and(|head| head == part)
}

/// Fact rows and their replay, on the path both backends' rows take (SQLite's `fact_log`
/// and PostgreSQL's `fact_events` hold the same event text and hash; both become
/// [`StoredFact`]s replayed by one implementation). The first byte picks the input's form:
///
/// - even: rows as a store holds them (`sequence<TAB>hash<TAB>event` lines), written by
///   someone with database access but without the audit key: the log replays only if it is
///   a prefix of the log the key really wrote, and a genuine prefix always replays;
/// - odd: event texts (one a line) chained under the key here, as a writer holding the key
///   would: every entry's place and hash verify, so replay fails only on an event this build
///   does not know or a change the facts refuse, with a typed error, and the snapshot of the
///   replayed facts gives back the events replayed.
///
/// Every event text that decodes re-encodes to a fixed point.
pub fn fact_log(data: &[u8]) {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(key) = audit_key() else { return };
    let keyed = form % 2 == 1;
    let rows: Vec<StoredFact> = if keyed {
        chain_events(&key, text.lines())
    } else {
        let Some(rows) = text.lines().map(fixture::fact_row).collect() else {
            return;
        };
        rows
    };
    for row in &rows {
        if let Ok(canonical) = reencode_fact_event(row.event()) {
            assert_eq!(
                reencode_fact_event(&canonical).ok().as_ref(),
                Some(&canonical)
            );
        }
    }
    let policy = POLICY.get_or_init(Policy::coder_model);
    let genuine = fixture().is_some_and(|fixture| is_prefix(&rows, &fixture.facts));
    match replay_fact_rows(&key, policy, &rows) {
        Ok(replay) => {
            assert!(
                keyed || genuine,
                "a fact log the audit key never wrote replayed"
            );
            assert_eq!(
                usize::try_from(replay.head.entries()).ok(),
                Some(rows.len())
            );
            assert_eq!(replay.events, replay.from_snapshot);
        }
        Err(error) => {
            assert!(!genuine, "a genuine fact log did not replay: {error}");
            if keyed && let StoreError::FactLogBroken { reason, .. } = &error {
                assert!(
                    reason.contains("unknown to this build"),
                    "a log chained under the key broke: {reason}"
                );
            }
        }
    }
}

/// `events` chained under `key` from the first entry, as a writer holding the key would.
#[must_use]
pub fn chain_events<'t>(key: &AuditKey, events: impl Iterator<Item = &'t str>) -> Vec<StoredFact> {
    let fact_key = key.fact_log_key();
    let mut previous = ChainHash::GENESIS;
    let mut rows = Vec::new();
    for (sequence, event) in (1_u64..).zip(events) {
        let hash = fact_key.chain(sequence, &previous, event.as_bytes());
        rows.push(StoredFact::new(sequence, event.to_owned(), hash));
        previous = hash;
    }
    rows
}

/// Key rows into the keyring restore: a keyring snapshot as stored (serde JSON) re-encodes to
/// an equal one and equals the snapshot rebuilt from its rows (as the stores rebuild it); the
/// restore accepts it only if every key names a master key it was given, and then
/// snapshots back to it; a restored data key seals only if the master key really wrapped it
/// for that customer and version, and then the record opens to what was sealed.
pub fn key_rows(data: &[u8]) {
    let Ok(snapshot) = serde_json::from_slice::<KeyringSnapshot>(data) else {
        return;
    };
    let text = serde_json::to_string(&snapshot).ok();
    let back = text.and_then(|text| serde_json::from_str::<KeyringSnapshot>(&text).ok());
    assert_eq!(back.as_ref(), Some(&snapshot));
    let rows: Result<Vec<WrappedDataKey>, _> = snapshot
        .data_keys()
        .iter()
        .map(|key| {
            WrappedDataKey::from_parts(
                key.master_key().clone(),
                key.customer(),
                key.version(),
                key.nonce(),
                key.ciphertext(),
            )
        })
        .collect();
    let rebuilt = rows.and_then(|rows| KeyringSnapshot::new(rows, snapshot.shredded().to_vec()));
    assert_eq!(rebuilt.ok().as_ref(), Some(&snapshot));
    let known = snapshot
        .data_keys()
        .iter()
        .all(|key| matches!(key.master_key().as_str(), MASTER_ID | RETIRED_MASTER_ID));
    let (Ok(master), Ok(retired)) = (fixture::master(), fixture::retired_master()) else {
        return;
    };
    let keyring = match Keyring::restore(master, [retired], snapshot.clone()) {
        Ok(keyring) => keyring,
        Err(error) => {
            assert!(
                !known,
                "a snapshot under known master keys was refused: {error}"
            );
            assert!(matches!(error, LogsError::Key(_)));
            return;
        }
    };
    assert!(known, "a key under an unknown master key was restored");
    assert_eq!(keyring.snapshot(), snapshot);
    let mut customers: Vec<CustomerId> = snapshot
        .data_keys()
        .iter()
        .map(WrappedDataKey::customer)
        .collect();
    customers.dedup();
    customers.truncate(3);
    let (Ok(trail), Some(fixture)) = (
        audit_key().and_then(|key| Ok(AuditTrail::new(key, NewestOnly::default())?)),
        fixture(),
    ) else {
        return;
    };
    let custody = Custody::new(keyring, trail);
    for customer in customers {
        seal_with_restored_key(&custody, &snapshot, fixture, customer);
    }
}

/// Seals a record for `customer` under its newest restored data key.
fn seal_with_restored_key(
    custody: &Custody<NewestOnly>,
    snapshot: &KeyringSnapshot,
    fixture: &Fixture,
    customer: CustomerId,
) {
    let Some(newest) = snapshot
        .data_keys()
        .iter()
        .rfind(|key| key.customer() == customer)
    else {
        return;
    };
    let (Ok(at), Some(request)) = (Timestamp::from_unix_seconds(1_750_000_000), request()) else {
        return;
    };
    let meta = SealInput::new(RecordId::generate_at(at), customer, at, TrainingLevel::None);
    match custody.seal(&meta, b"probe") {
        Ok(record) => {
            assert!(
                fixture.keyring.data_keys().contains(newest),
                "a data key the master key never wrapped sealed a record"
            );
            assert_eq!(record.header().key_version(), newest.version());
            let opened = custody.dangerous_open_with_gate(&record, &request, allow);
            assert_eq!(
                opened.ok().as_ref().map(|plain| plain.as_bytes()),
                Some(&b"probe"[..])
            );
        }
        Err(error) => {
            assert!(!fixture.keyring.data_keys().contains(newest), "{error}");
            assert!(matches!(error, LogsError::Key(_)));
        }
    }
}

/// Key files (steward-logs' `KeyMaterial`, which `StoreKeys::from_files` and the CLI's store
/// directory read): a private file loads only if it is exactly 64 hex digits and at most one
/// line break, and then to those digits; a file of 32 raw bytes is refused as raw, a file
/// others may read as exposed; anything else is a typed key error whose message never
/// repeats the file's contents.
pub fn key_file(data: &[u8]) {
    // A memory file system where there is one: a disk's truncating writes cost 100x.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("steward-fuzz-key-{}", std::process::id()));
    if std::fs::write(&path, data).is_err() || make_private(&path).is_err() {
        return;
    }
    let digits = data
        .strip_suffix(b"\r\n")
        .or_else(|| data.strip_suffix(b"\n"))
        .unwrap_or(data);
    let hex = std::str::from_utf8(digits)
        .ok()
        .filter(|text| text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase);
    match KeyMaterial::from_file(&path) {
        Ok(material) => assert_eq!(Some(material.expose_hex().to_string()), hex),
        Err(error) => {
            assert!(hex.is_none(), "64 hex digits refused: {error:?}");
            if data.len() == 32 && hex.is_none() {
                assert!(
                    matches!(error, LogsError::Key(KeyError::RawKeyFile { .. })),
                    "{error:?}"
                );
            }
            assert_typed_and_silent(&error, data);
            return;
        }
    }
    // The store's keys from the file (as master and audit key): key checks and derivations
    // run only for material that loads, which keeps the target fast.
    if let Ok(id) = MASTER_ID.parse() {
        let loaded = StoreKeys::from_files(id, &path, &path);
        if let Err(error) = loaded {
            assert!(!error.to_string().is_empty());
            if let Some(secret) = secret_like(data) {
                assert!(!error.to_string().contains(secret));
            }
        }
    }
}

/// A key error whose message does not repeat `data`.
fn assert_typed_and_silent(error: &LogsError, data: &[u8]) {
    assert!(matches!(error, LogsError::Key(_)), "{error:?}");
    if let Some(secret) = secret_like(data) {
        assert!(
            !error.to_string().contains(secret),
            "a key error repeats the file's contents"
        );
    }
}

/// The file's trimmed text, if it looks like key material (12 or more hex digits).
fn secret_like(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data)
        .ok()
        .map(str::trim)
        .filter(|text| text.len() >= 12 && text.bytes().all(|byte| byte.is_ascii_hexdigit()))
}

/// Runs every file of `fuzz/seeds/<target>` and `fuzz/regressions/<target>` through the
/// target's properties; returns how many files ran.
///
/// # Errors
///
/// If a directory cannot be read (a missing one counts as empty).
pub fn replay(name: &str, target: Target) -> Result<usize, Box<dyn Error + Send + Sync>> {
    let mut count = 0;
    for dir in [fixture::seeds_dir(), fixture::regressions_dir()] {
        let dir = dir.join(name);
        if !dir.exists() {
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_file() {
                target(&std::fs::read(&path)?);
                count += 1;
            }
        }
    }
    Ok(count)
}

/// Signed receipts of both kinds (docs/receipts.md): the first line is a public key, the rest
/// a receipt file as `steward receipt verify` reads it. Verification never panics; a file that
/// verifies holds one receipt per document, and each document, read as its kind and written
/// again, verifies to the same receipt; an error is typed (not authentic, or unreadable).
pub fn consent_receipt(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some((key, file)) = text.split_once('\n') else {
        return;
    };
    let Ok(key) = key.parse::<steward_logs::ReceiptPublicKey>() else {
        return;
    };
    let receipts = match steward::verify_receipts(file, &key) {
        Ok(receipts) => receipts,
        Err(error) => {
            assert!(!error.to_string().is_empty());
            return;
        }
    };
    assert!(!receipts.is_empty());
    let documents = match serde_json::from_str(file) {
        Ok(serde_json::Value::Array(documents)) => documents,
        Ok(document) => vec![document],
        Err(error) => panic!("a verified file is JSON: {error}"),
    };
    assert_eq!(documents.len(), receipts.len());
    for (document, receipt) in documents.iter().zip(&receipts) {
        let text = document.to_string();
        let rewritten = match receipt {
            steward::CustomerReceipt::Consent(_) => {
                steward::SignedConsentReceipt::from_json(&text).and_then(|signed| signed.to_json())
            }
            steward::CustomerReceipt::Interactive(_) => {
                steward::SignedInteractiveReceipt::from_json(&text)
                    .and_then(|signed| signed.to_json())
            }
            other => panic!("a kind this target does not know: {other:?}"),
        };
        let again = rewritten.and_then(|text| steward::verify_receipts(&text, &key));
        assert!(
            again
                .as_ref()
                .is_ok_and(|again| again.as_slice() == std::slice::from_ref(receipt)),
            "a verified receipt rewritten does not verify to itself: {again:?}"
        );
    }
}

/// Only the owner may read or write `path` (key files others may read are refused).
fn make_private(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The secret scanner (issue 20): bytes, UTF-8 or not, are scanned without a panic; the
/// output is never longer than `redacted_len_bound` of the input, nor than the input plus
/// one marker per secret found; redacting the output again changes nothing.
pub fn redact(data: &[u8]) {
    let Ok(scanner) = Scanner::standard() else {
        return;
    };
    let key = FingerprintKey::from_bytes(b"fuzz fingerprint key, not secret");
    let redacted = scanner.redact(data, &key);
    assert!(redacted.body().len() <= redacted_len_bound(data.len()).max(data.len()));
    let total = usize::try_from(redacted.counts().total()).unwrap_or(usize::MAX);
    assert!(
        redacted.body().len()
            <= data
                .len()
                .saturating_add(total.saturating_mul(MAX_MARKER_LEN))
    );
    assert!(
        scanner.redact(redacted.body(), &key).is_unchanged(),
        "redacting a redacted body changed it"
    );
}

/// The instant the ingest harness plans at (2027-01-15): `at` after it is in the future.
pub const INGEST_NOW: i64 = 1_800_000_000;

/// From this instant (2023-11-14) on, the fixture's customer has a relationship in force in
/// the ingest and check harnesses; nobody else has one.
pub const RELATIONSHIP_FROM: i64 = 1_700_000_000;

/// The record id the ingest harness's store holds, for the fixture's customer.
pub const STORED_RECORD: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a99";

/// The body limit of the ingest target's second planning: small enough for the fuzzer to
/// cross (the real one, 16 MiB, is beyond its inputs).
pub const SMALL_BODY_LIMIT: usize = 64;

/// The store the ingest harness plans against: [`STORED_RECORD`] is the fixture customer's
/// record, and the fixture customer has a relationship from [`RELATIONSHIP_FROM`] on.
#[derive(Debug)]
pub struct IngestStore {
    customer: CustomerId,
    stored: RecordId,
    from: Timestamp,
}

impl IngestStore {
    /// The harness's store, if its constants parse.
    #[must_use]
    pub fn new() -> Option<Self> {
        Some(Self {
            customer: fixture::customer().ok()?,
            stored: STORED_RECORD.parse().ok()?,
            from: Timestamp::from_unix_seconds(RELATIONSHIP_FROM).ok()?,
        })
    }
}

impl StoredRecords for IngestStore {
    type Error = std::convert::Infallible;

    fn record_owner(&self, id: RecordId) -> Result<Option<CustomerId>, Self::Error> {
        Ok((id == self.stored).then_some(self.customer))
    }

    fn relationship_in_force(
        &self,
        customer: CustomerId,
        at: Timestamp,
    ) -> Result<bool, Self::Error> {
        Ok(customer == self.customer && at >= self.from)
    }
}

/// Plans `text` against the harness's store at [`INGEST_NOW`] under `limit`.
///
/// # Errors
///
/// The first bad line, as the command reports it.
pub fn plan_ingest(
    text: &str,
    store: &IngestStore,
    limit: usize,
) -> Option<Result<Plan, InputError>> {
    let now = Timestamp::from_unix_seconds(INGEST_NOW).ok()?;
    match plan_with_body_limit(text, now, store, limit) {
        Ok(result) => Some(result),
        Err(never) => match never {},
    }
}

/// A planned line without its number: what it asks to seal.
fn sealed_as(line: &PlannedLine) -> (Option<RecordId>, CustomerId, Timestamp, &[u8]) {
    (line.id(), line.customer(), line.at(), line.body())
}

/// `steward ingest` lines (`steward_cli::lines`, the checks the command runs on every line
/// before it stores anything), against a store holding one record and one relationship.
/// A plan's lines are within the record limit, not after now, inside a relationship, with
/// distinct ids, numbered in order and naming non-blank lines; written out again
/// (`to_json_line`) they plan to the same records. A refusal names a non-blank line, with
/// every line before it planning on its own. A smaller body limit refuses exactly the first
/// planned line over it, naming it and its length, and changes nothing else.
pub fn ingest_lines(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (Some(store), Ok(now)) = (IngestStore::new(), Timestamp::from_unix_seconds(INGEST_NOW))
    else {
        return;
    };
    let Some(result) = plan_ingest(text, &store, MAX_BODY_LEN) else {
        return;
    };
    let pieces: Vec<&str> = text.split_inclusive('\n').collect();
    match &result {
        Ok(plan) => {
            let mut ids = std::collections::HashSet::new();
            let mut previous = 0;
            for line in &plan.planned {
                assert!(line.body().len() <= MAX_BODY_LEN);
                assert!(line.at() <= now, "a line collected after now was planned");
                assert_eq!(
                    store.relationship_in_force(line.customer(), line.at()),
                    Ok(true)
                );
                if let Some(id) = line.id() {
                    assert!(ids.insert(id), "two planned lines share an id");
                    assert_ne!(id, store.stored, "a stored record was planned again");
                }
                assert!(line.line() > previous, "planned lines out of order");
                previous = line.line();
                let written = pieces.get(line.line() - 1).map(|piece| piece.trim());
                assert!(written.is_some_and(|piece| !piece.is_empty()));
            }
            let again: String = plan
                .planned
                .iter()
                .map(|line| line.to_json_line() + "\n")
                .collect();
            let replanned = plan_ingest(&again, &store, MAX_BODY_LEN);
            let Some(Ok(replanned)) = replanned else {
                panic!("planned lines written out did not plan: {replanned:?}");
            };
            assert_eq!(replanned.skipped, 0);
            assert_eq!(
                replanned.planned.iter().map(sealed_as).collect::<Vec<_>>(),
                plan.planned.iter().map(sealed_as).collect::<Vec<_>>(),
                "planned lines written out planned to other records"
            );
        }
        Err(error) => {
            let Some(number) = error.line() else {
                panic!("an ingest error names no line: {error}");
            };
            assert!(error.to_string().starts_with(&format!("line {number}: ")));
            let written = pieces.get(number - 1).map(|piece| piece.trim());
            assert!(
                written.is_some_and(|piece| !piece.is_empty()),
                "an error names a blank or missing line: {error}"
            );
            let before: String = pieces.iter().take(number - 1).copied().collect();
            let earlier = plan_ingest(&before, &store, MAX_BODY_LEN);
            assert!(
                matches!(earlier, Some(Ok(_))),
                "the lines before the one named do not plan: {earlier:?}"
            );
        }
    }
    let small = plan_ingest(text, &store, SMALL_BODY_LIMIT);
    match (&result, &small) {
        (Ok(plan), Some(small)) => {
            match plan
                .planned
                .iter()
                .find(|line| line.body().len() > SMALL_BODY_LIMIT)
            {
                None => assert_eq!(small.as_ref().ok(), Some(plan)),
                Some(over) => assert_eq!(
                    small.as_ref().err(),
                    Some(&InputError::BodyTooLarge {
                        line: over.line(),
                        len: over.body().len(),
                        limit: SMALL_BODY_LIMIT,
                    })
                ),
            }
        }
        (Err(error), Some(Ok(_))) => panic!("a smaller limit accepted what was refused: {error}"),
        _ => {}
    }
}

/// The facts the check harness decides over: the fixture's customer has a relationship
/// from [`RELATIONSHIP_FROM`] on and gave consent to shared training then.
#[must_use]
pub fn check_facts() -> Option<(Policy, MemoryFacts)> {
    let policy = Policy::coder_model();
    let mut facts = MemoryFacts::new(&policy);
    let customer = fixture::customer().ok()?;
    let from = Timestamp::from_unix_seconds(RELATIONSHIP_FROM).ok()?;
    facts.relationships.start(customer, from).ok()?;
    let change = steward::consent::ConsentChange::new(
        customer,
        TrainingLevel::Shared,
        from,
        steward::consent::ConsentActor::Customer,
        steward::consent::Channel::AccountSettings,
        policy.version().clone(),
    );
    facts.consent.record(change, from).ok()?;
    Some((policy, facts))
}

/// A question as the JSON of `--request`, every field in its flag's string form.
#[must_use]
pub fn question_json(question: &Question) -> String {
    use serde_json::{Map, Value};
    let mut object = Map::new();
    let mut put = |field: &str, value: String| {
        object.insert(field.to_owned(), Value::String(value));
    };
    put("actor", question.actor.to_string());
    put("action", question.action.to_string());
    put("category", question.category.to_string());
    put("owner", question.owner.to_string());
    put("collected", question.collected.to_string());
    if let Some(text) = &question.justification {
        put("justification", text.to_string());
    }
    if let Some(level) = question.consent_at_collection {
        put("consent_at_collection", level.to_string());
    }
    if let Some(record) = question.record {
        put("record", record.to_string());
    }
    if let Some(at) = question.at {
        put("at", at.to_string());
    }
    Value::Object(object).to_string()
}

/// The question the flags give when each is written as `question` holds it, parsed as clap
/// parses them (each type's `FromStr`), or `None` if one does not parse.
fn from_flags(question: &Question) -> Option<Question> {
    Some(Question {
        actor: question.actor.to_string().parse().ok()?,
        action: question.action.to_string().parse().ok()?,
        category: question.category.to_string().parse().ok()?,
        owner: question.owner.to_string().parse().ok()?,
        collected: question.collected.to_string().parse().ok()?,
        justification: justification(question.justification.as_ref().map(ToString::to_string)),
        consent_at_collection: match question.consent_at_collection {
            Some(level) => Some(level.to_string().parse().ok()?),
            None => None,
        },
        record: match question.record {
            Some(record) => Some(record.to_string().parse().ok()?),
            None => None,
        },
        at: match question.at {
            Some(at) => Some(at.to_string().parse().ok()?),
            None => None,
        },
    })
}

/// `steward check --request` JSON (`steward_cli::request`): text that is not a request is a
/// typed error naming no line, starting `invalid request: `; a request that parses is the
/// question its flags' form gives (every field written as its flag and parsed as clap
/// parses it), which `check()` decides the same; written back as JSON it parses equal.
pub fn check_request(data: &[u8]) {
    static FACTS: Harnessed<(Policy, MemoryFacts)> = OnceLock::new();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let question = match Question::from_json(text) {
        Ok(question) => question,
        Err(error) => {
            assert!(
                matches!(
                    error,
                    InputError::MalformedRequest { .. } | InputError::RequestField { .. }
                ),
                "{error:?}"
            );
            assert_eq!(error.line(), None);
            assert!(error.to_string().starts_with("invalid request: "));
            return;
        }
    };
    let flags = from_flags(&question);
    assert_eq!(
        flags.as_ref(),
        Some(&question),
        "the flags' form of a request asks another question"
    );
    let json = question_json(&question);
    assert_eq!(
        Question::from_json(&json).ok().as_ref(),
        Some(&question),
        "a request written back as JSON parses to another question: {json}"
    );
    let Ok(now) = Timestamp::from_unix_seconds(INGEST_NOW) else {
        return;
    };
    with_harness(&FACTS, check_facts, |(policy, facts)| {
        let decision = policy.check(&question.request(now), facts);
        if let Some(flags) = &flags {
            assert_eq!(policy.check(&flags.request(now), facts), decision);
        }
    });
}
