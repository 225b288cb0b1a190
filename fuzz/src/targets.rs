//! One function per fuzz target: the bytes in, the properties asserted (a panic is a finding).

use std::{
    error::Error,
    sync::{Mutex, OnceLock},
};

use steward::{Policy, PolicyError};
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
        && a.created_at() == b.created_at()
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
