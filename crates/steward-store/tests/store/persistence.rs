//! steward-store: every table survives close and reopen, wrong keys and foreign files are
//! refused at open, a shred is final on disk, and the record scans stream in order.

use std::{path::Path, sync::Arc};

use crate::common::*;
use rusqlite::Connection;
use steward_core::{CustomerId, DataCategory, RecordId, Timestamp, TrainingLevel};
use steward_logs::{
    AuditStore, AuditTrail, BoxError, CheckpointSigner, Custody, KeyAdmission, KeyStore,
    KeyVersion, Keyring, MasterKey, RecordHeader, SealInput, SealedRecord, Tombstone,
    WrappedDataKey,
};
use steward_retention::{RecordMeta, RecordStore, Removal};
use steward_store::{
    RecordScan, SCHEMA_VERSION, SqliteStore, StoreError, StoreKeys, StoredRecord, WalCheckpoint,
};

/// Seals `body` for `customer` at `at`, collected with no training consent.
fn seal(
    custody: &Custody<SqliteStore>,
    customer: CustomerId,
    at: Timestamp,
    body: &[u8],
) -> SealedRecord {
    let input = SealInput::new(RecordId::generate_at(at), customer, at, TrainingLevel::None);
    custody.seal(&input, body).unwrap()
}

/// A custody over `store`: its keyring restored from the store, its audit trail kept there,
/// and every key change written ahead to it.
fn new_custody(store: &SqliteStore, keys: &StoreKeys) -> Custody<SqliteStore> {
    let keyring = Keyring::restore(
        keys.master_key().unwrap(),
        [],
        store.keyring_snapshot().unwrap(),
    )
    .unwrap();
    let trail = AuditTrail::new(keys.audit_key().unwrap(), store.clone()).unwrap();
    Custody::new(keyring, trail).with_key_store(Arc::new(store.clone()))
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Every byte the store has on disk: the database file and its write-ahead log.
fn bytes_on_disk(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if let Ok(log) = std::fs::read(wal) {
        bytes.extend_from_slice(&log);
    }
    bytes
}

/// The store's own error inside the boxed error a steward-logs trait method returns.
fn store_error(error: BoxError) -> StoreError {
    *error.downcast::<StoreError>().unwrap()
}

/// The customer's tombstone as stored (what a restored keyring would hold).
fn tombstone_of(store: &SqliteStore, customer: CustomerId) -> Option<Tombstone> {
    store
        .keyring_snapshot()
        .unwrap()
        .shredded()
        .iter()
        .find(|(shredded, _)| *shredded == customer)
        .map(|(_, tombstone)| *tombstone)
}

/// The ciphertext of a wrapped key, from its documented serde form.
fn wrapped_ciphertext(key: &WrappedDataKey) -> Vec<u8> {
    let value = serde_json::to_value(key).unwrap();
    let text = value.get("ciphertext").and_then(|v| v.as_str()).unwrap();
    text.as_bytes()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

// --- opening ------------------------------------------------------------------------------

#[test]
fn create_refuses_an_existing_file_and_open_a_missing_one() {
    let dir = TempDir::new("exists");
    let path = dir.db();
    assert!(matches!(
        SqliteStore::open(&path, &keys()),
        Err(StoreError::Open { .. })
    ));
    assert!(!path.exists(), "open must not create a file");

    std::fs::write(&path, b"precious").unwrap();
    let error = SqliteStore::create(&path, &keys()).unwrap_err();
    assert!(matches!(error, StoreError::AlreadyExists { .. }), "{error}");
    assert!(error.to_string().contains("already exists"), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
}

#[test]
fn the_file_holds_no_key_bytes() {
    let dir = TempDir::new("no-key-bytes");
    let path = dir.db();
    let store = SqliteStore::create(&path, &keys()).unwrap();
    stored_facts(&store)
        .start_relationship(customer(1), ahead(0))
        .unwrap();
    drop(store);
    let bytes = bytes_on_disk(&path);
    assert!(!contains(&bytes, &MASTER[..16]));
    assert!(!contains(&bytes, &AUDIT[..16]));
}

/// The database, its write-ahead log and shared memory, and the audit lock are the owner's
/// alone (0600), whatever the umask lets a plain `create` do.
#[cfg(unix)]
#[test]
fn the_database_and_its_companions_are_private() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = TempDir::new("private");
    let path = dir.db();
    let store = SqliteStore::create(&path, &keys()).unwrap();
    stored_facts(&store)
        .start_relationship(customer(1), ahead(0))
        .unwrap();
    let mut files = vec![path.clone()];
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.clone().into_os_string();
        companion.push(suffix);
        files.push(companion.into());
    }
    for file in &files {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}: {mode:o}", file.display());
    }
    drop(store);
}

#[test]
fn an_empty_file_migrates_to_the_current_schema() {
    let dir = TempDir::new("v0");
    let path = dir.db();
    std::fs::File::create(&path).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);

    let store = SqliteStore::open(&path, &keys()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    stored_facts(&store)
        .start_relationship(customer(1), ahead(0))
        .unwrap();
    drop(store);
    // Initialized as create would: the keys are checked from now on.
    let wrong = StoreKeys::new(
        "kek-1".parse().unwrap(),
        b"steward test key 00, not secret!",
        &AUDIT,
    )
    .unwrap();
    assert!(matches!(
        SqliteStore::open(&path, &wrong),
        Err(StoreError::WrongMasterKey { .. })
    ));
    let version: u32 = raw(&path)
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn a_file_from_a_newer_build_is_refused_untouched() {
    let dir = TempDir::new("future");
    let path = dir.db();
    drop(SqliteStore::create(&path, &keys()).unwrap());
    let future = SCHEMA_VERSION + 1;
    raw(&path)
        .pragma_update(None, "user_version", future)
        .unwrap();

    let error = SqliteStore::open(&path, &keys()).unwrap_err();
    assert!(
        matches!(error, StoreError::SchemaTooNew { found, supported }
            if found == future && supported == SCHEMA_VERSION),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains(&format!("`{future}`")) && text.contains(&format!("`{SCHEMA_VERSION}`")),
        "{text}"
    );
    let version: u32 = raw(&path)
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, future);
}

#[test]
fn another_applications_database_is_refused() {
    let dir = TempDir::new("foreign");
    let path = dir.db();
    raw(&path)
        .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        .unwrap();
    let error = SqliteStore::open(&path, &keys()).unwrap_err();
    assert!(matches!(error, StoreError::NotAStore { .. }), "{error}");

    std::fs::write(
        dir.0.join("text.db"),
        b"not a database at all, just some text",
    )
    .unwrap();
    let error = SqliteStore::open(dir.0.join("text.db"), &keys()).unwrap_err();
    assert!(matches!(error, StoreError::Open { .. }), "{error}");
    assert!(error.to_string().contains("text.db"), "{error}");
}

// --- audit --------------------------------------------------------------------------------

#[test]
fn a_checkpoint_stored_twice_is_listed_once() {
    // The suite (backend::audit) covers entries and checkpoints across reopen on both
    // backends; listing every checkpoint is the embedded store's own.
    let dir = TempDir::new("audit");
    let keys = keys();
    let store = SqliteStore::create(dir.db(), &keys).unwrap();
    let signer =
        CheckpointSigner::from_pkcs8(&CheckpointSigner::generate_pkcs8().unwrap()).unwrap();
    let custody = new_custody(&store, &keys);
    custody.rotate_data_key(customer(1)).unwrap();
    let checkpoint = custody.audit().unwrap().checkpoint(&signer).unwrap();
    store.put_checkpoint(&checkpoint).unwrap();
    store.put_checkpoint(&checkpoint).unwrap();
    drop((custody, store));
    let store = SqliteStore::open(dir.db(), &keys).unwrap();
    assert_eq!(store.checkpoints().unwrap(), [checkpoint]);
}

#[test]
fn a_second_trail_from_a_stale_head_continues_the_chain() {
    let dir = TempDir::new("audit-fork");
    let keys = keys();
    let store = SqliteStore::create(dir.db(), &keys).unwrap();
    // Two trails over one store, both starting from the empty chain: the second takes the
    // chain's lock and continues after the first's entry rather than forking the chain.
    let first = new_custody(&store, &keys);
    let second = new_custody(&store, &keys);
    first.rotate_data_key(customer(1)).unwrap();
    second.rotate_data_key(customer(2)).unwrap();
    let entries = store.audit_entries().unwrap();
    assert_eq!(entries.len(), 2);
    keys.audit_key().unwrap().verify_chain(&entries).unwrap();

    // A raw append of a taken number is refused by the store itself.
    let entry = store.audit_entries().unwrap().swap_remove(0);

    let mut trait_view = store.clone();
    let error = store_error(AuditStore::append(&mut trait_view, entry).unwrap_err());
    assert!(
        matches!(error, StoreError::SequenceTaken { sequence: 0 }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "audit sequence number `0` is already taken"
    );
    assert_eq!(store.audit_entries().unwrap().len(), 2);
}

// --- keys ---------------------------------------------------------------------------------

#[test]
fn a_data_key_is_stored_once_and_never_under_another_master_key() {
    let dir = TempDir::new("put-key");
    let keys = keys();
    let store = SqliteStore::create(dir.db(), &keys).unwrap();
    let mut keyring = Keyring::new(keys.master_key().unwrap());
    keyring.ensure_data_key(customer(1)).unwrap();
    let key = keyring.snapshot().data_keys()[0].clone();
    assert!(matches!(
        KeyStore::put_data_key(&store, &key).unwrap(),
        KeyAdmission::Stored
    ));
    assert!(matches!(
        KeyStore::put_data_key(&store, &key).unwrap(),
        KeyAdmission::Stored
    ));

    // The same customer and version, wrapped again: a different key, not stored; the stored
    // one comes back to adopt (the raw writer's `DataKeyConflict` is a unit test in keys.rs).
    let mut other = Keyring::new(keys.master_key().unwrap());
    other.ensure_data_key(customer(1)).unwrap();
    let admission = KeyStore::put_data_key(&store, &other.snapshot().data_keys()[0]).unwrap();
    assert!(
        matches!(&admission, KeyAdmission::Superseded(stored) if stored.data_keys() == [key.clone()]),
        "{admission:?}"
    );

    let mut foreign = Keyring::new(
        MasterKey::from_bytes(
            "kek-9".parse().unwrap(),
            b"steward test key 09, not secret!",
        )
        .unwrap(),
    );
    foreign.ensure_data_key(customer(2)).unwrap();
    let error = store_error(
        KeyStore::put_data_key(&store, &foreign.snapshot().data_keys()[0]).unwrap_err(),
    );
    assert!(
        matches!(error, StoreError::WrappedUnderOtherKey { .. }),
        "{error}"
    );
    assert_eq!(store.keyring_snapshot().unwrap().data_keys(), [key]);
}

/// The key epoch a custody compares before it skips reading a customer's keys: it changes with
/// every change to the keys or tombstones (a key issued, a rotation, a shred, a row deleted
/// behind the store's back) and with nothing else.
#[test]
fn the_key_epoch_changes_with_every_key_change_and_only_then() {
    let dir = TempDir::new("key-epoch");
    let path = dir.db();
    let keys = keys();
    let store = SqliteStore::create(&path, &keys).unwrap();
    let epoch = || KeyStore::key_epoch(&store).unwrap().unwrap();
    let mut seen = vec![epoch()];
    let changed = |seen: &mut Vec<_>, what: &str| {
        let now = epoch();
        assert!(!seen.contains(&now), "the epoch did not change: {what}");
        seen.push(now);
    };
    assert_eq!(epoch(), seen[0], "read twice without a change");

    let custody = new_custody(&store, &keys);
    let record = seal(&custody, customer(1), at(0), b"a request");
    changed(&mut seen, "a first key issued");
    store
        .put_records([(&record, DataCategory::LlmRequestLog)])
        .unwrap();
    seal(&custody, customer(1), at(1), b"under the same key");
    assert_eq!(epoch(), *seen.last().unwrap(), "records stored, no key");
    custody.rotate_data_key(customer(1)).unwrap();
    changed(&mut seen, "a rotation");
    custody.shred(customer(1)).unwrap();
    changed(&mut seen, "a shred");
    seal(&custody, customer(2), at(2), b"another customer");
    changed(&mut seen, "another customer's first key");
    raw(&path)
        .execute("UPDATE wrapped_keys SET nonce = nonce", [])
        .unwrap();
    changed(&mut seen, "a key row updated behind the store's back");
    raw(&path)
        .execute(
            "DELETE FROM wrapped_keys WHERE customer = ?1",
            [customer(2).as_bytes()],
        )
        .unwrap();
    changed(&mut seen, "a key row deleted behind the store's back");
    raw(&path)
        .execute("UPDATE key_tombstones SET through = through + 1", [])
        .unwrap();
    changed(&mut seen, "a tombstone updated behind the store's back");
    raw(&path)
        .execute("DELETE FROM key_tombstones", [])
        .unwrap();
    changed(&mut seen, "a tombstone deleted behind the store's back");
}

/// The six triggers that move the key epoch exist at the current schema version, so that a
/// later migration rebuilding the key tables cannot drop them unnoticed; and a version 3 file
/// holding keys migrates to them, its records still opening.
#[test]
fn a_version_3_file_with_keys_migrates_to_the_key_epoch_triggers() {
    let dir = TempDir::new("v3-keys");
    let path = dir.db();
    let keys = keys();
    let store = SqliteStore::create(&path, &keys).unwrap();
    let custody = new_custody(&store, &keys);
    let record = seal(&custody, customer(1), at(0), b"sealed at version 3");
    drop((custody, store));
    let triggers = |conn: &Connection| -> Vec<String> {
        let mut stmt = conn
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'trigger' \
                 AND sql LIKE '%UPDATE key_epoch SET epoch = random()%' ORDER BY name",
            )
            .unwrap();
        stmt.query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let expected = [
        "key_epoch_after_key_delete",
        "key_epoch_after_key_insert",
        "key_epoch_after_key_update",
        "key_epoch_after_tombstone_delete",
        "key_epoch_after_tombstone_insert",
        "key_epoch_after_tombstone_update",
    ];
    assert_eq!(triggers(&raw(&path)), expected);
    // Back to version 3, as a file written by the build before this one.
    raw(&path)
        .execute_batch(
            "DROP TRIGGER key_epoch_after_key_delete; DROP TRIGGER key_epoch_after_key_insert; \
             DROP TRIGGER key_epoch_after_key_update; DROP TRIGGER key_epoch_after_tombstone_delete; \
             DROP TRIGGER key_epoch_after_tombstone_insert; \
             DROP TRIGGER key_epoch_after_tombstone_update; DROP TABLE key_epoch; \
             PRAGMA user_version = 3;",
        )
        .unwrap();
    assert!(triggers(&raw(&path)).is_empty());

    let store = SqliteStore::open(&path, &keys).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(triggers(&raw(&path)), expected);
    let epoch = KeyStore::key_epoch(&store).unwrap().unwrap();
    let custody = new_custody(&store, &keys);
    let plaintext = custody
        .dangerous_open_with_gate(&record, &crate::backend::steward_request(), |_| Ok(()))
        .unwrap();
    assert_eq!(plaintext.as_bytes(), b"sealed at version 3");
    assert_eq!(KeyStore::key_epoch(&store).unwrap(), Some(epoch));
    custody.rotate_data_key(customer(1)).unwrap();
    assert_ne!(KeyStore::key_epoch(&store).unwrap(), Some(epoch));
}

#[test]
fn a_shred_deletes_the_wrapped_keys_for_good_and_keeps_the_tombstone() {
    let dir = TempDir::new("shred");
    let path = dir.db();
    let keys = keys();
    let store = SqliteStore::create(&path, &keys).unwrap();
    let mut keyring = Keyring::new(keys.master_key().unwrap());
    keyring.ensure_data_key(customer(1)).unwrap();
    keyring.rotate_data_key(customer(1)).unwrap();
    keyring.ensure_data_key(customer(2)).unwrap();
    for key in keyring.snapshot().data_keys() {
        KeyStore::put_data_key(&store, key).unwrap();
    }
    let shredded: Vec<Vec<u8>> = keyring
        .snapshot()
        .data_keys()
        .iter()
        .filter(|key| key.customer() == customer(1))
        .map(wrapped_ciphertext)
        .collect();
    assert_eq!(shredded.len(), 2);
    // The test can fail: before the shred, the wrapped bytes are on disk.
    assert!(shredded.iter().all(|c| contains(&bytes_on_disk(&path), c)));

    keyring.shred(customer(1));
    let tombstone = keyring.shredded_through(customer(1)).unwrap();
    KeyStore::shred(&store, customer(1), tombstone).unwrap();

    let count: i64 = raw(&path)
        .query_row(
            "SELECT count(*) FROM wrapped_keys WHERE customer = ?1",
            [customer(1).as_bytes()],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(count, 0);
    let through: i64 = raw(&path)
        .query_row(
            "SELECT through FROM key_tombstones WHERE customer = ?1",
            [customer(1).as_bytes()],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(through, 2);
    // Overwritten, and the log that held the older pages truncated: gone from the disk.
    assert_eq!(store.checkpoint_wal().unwrap(), WalCheckpoint::Truncated);
    let disk = bytes_on_disk(&path);
    for ciphertext in &shredded {
        assert!(
            !contains(&disk, ciphertext),
            "a shredded wrapped key is still on disk"
        );
    }
    drop(store);

    let store = SqliteStore::open(&path, &keys).unwrap();
    let snapshot = store.keyring_snapshot().unwrap();
    assert_eq!(snapshot, keyring.snapshot());
    assert_eq!(snapshot.shredded(), [(customer(1), tombstone)]);
    // A destroyed version can never come back; the customer's next generation can.
    let mut restored = Keyring::restore(keys.master_key().unwrap(), [], snapshot).unwrap();
    assert!(restored.is_shredded(customer(1)));
    let v3 = restored.ensure_data_key(customer(1)).unwrap();
    assert_eq!(v3.get(), 3);
    for key in restored.snapshot().data_keys() {
        KeyStore::put_data_key(&store, key).unwrap();
    }
    let mut stale = Keyring::new(keys.master_key().unwrap());
    stale.rotate_data_key(customer(1)).unwrap();
    stale.rotate_data_key(customer(1)).unwrap();
    let v2 = stale
        .snapshot()
        .data_keys()
        .iter()
        .find(|key| key.version() == KeyVersion::new(2).unwrap())
        .unwrap()
        .clone();
    // Not stored: the tombstone that destroyed it comes back to adopt (the raw writer's
    // `DataKeyShredded` is a unit test in keys.rs).
    let admission = KeyStore::put_data_key(&store, &v2).unwrap();
    assert!(
        matches!(&admission, KeyAdmission::Superseded(stored)
            if stored.shredded() == [(customer(1), tombstone)]
                && stored.data_keys().iter().all(|key| key.version() == v3)),
        "{admission:?}"
    );
    assert!(
        store
            .keyring_snapshot()
            .unwrap()
            .data_keys()
            .iter()
            .all(|key| key.version() != v2.version())
    );
}

#[test]
fn a_tombstone_covers_every_deleted_version_and_never_goes_down() {
    let dir = TempDir::new("tombstone");
    let keys = keys();
    let store = SqliteStore::create(dir.db(), &keys).unwrap();
    let mut keyring = Keyring::new(keys.master_key().unwrap());
    keyring.ensure_data_key(customer(1)).unwrap();
    keyring.rotate_data_key(customer(1)).unwrap();
    keyring.rotate_data_key(customer(1)).unwrap();
    for key in keyring.snapshot().data_keys() {
        KeyStore::put_data_key(&store, key).unwrap();
    }
    // A caller whose tombstone is too low still cannot free versions 2 and 3 for reuse.
    let low = Tombstone::new(Some(KeyVersion::FIRST));
    let three = Tombstone::new(KeyVersion::new(3).ok());
    KeyStore::shred(&store, customer(1), low).unwrap();
    assert_eq!(tombstone_of(&store, customer(1)), Some(three));
    KeyStore::shred(&store, customer(1), Tombstone::new(None)).unwrap();
    assert_eq!(tombstone_of(&store, customer(1)), Some(three));
    // A customer shredded before any key: through v0.
    KeyStore::shred(&store, customer(2), Tombstone::new(None)).unwrap();
    assert_eq!(
        tombstone_of(&store, customer(2)),
        Some(Tombstone::new(None))
    );
    assert_eq!(
        store.keyring_snapshot().unwrap().shredded(),
        [
            (customer(1), Tombstone::new(KeyVersion::new(3).ok())),
            (customer(2), Tombstone::new(None))
        ]
    );
}

#[test]
fn a_rewrap_replaces_every_key_or_none() {
    let dir = TempDir::new("rewrap");
    let path = dir.db();
    let keys = keys();
    let store = SqliteStore::create(&path, &keys).unwrap();
    let mut keyring = Keyring::new(keys.master_key().unwrap());
    for n in 1..=3 {
        keyring.ensure_data_key(customer(n)).unwrap();
    }
    for key in keyring.snapshot().data_keys() {
        KeyStore::put_data_key(&store, key).unwrap();
    }
    let new_bytes = *b"steward test key 55, not secret!";
    let new_id = "kek-2".parse().unwrap();
    keyring
        .rotate_master_key(MasterKey::from_bytes("kek-2".parse().unwrap(), &new_bytes).unwrap())
        .unwrap();
    let rewrapped = keyring.snapshot().data_keys().to_vec();

    let error = store_error(KeyStore::rewrap(&store, &rewrapped).unwrap_err());
    assert!(
        matches!(error, StoreError::UnknownMasterKey { .. }),
        "{error}"
    );
    store.register_master_key(&new_id, &new_bytes).unwrap();
    store.register_master_key(&new_id, &new_bytes).unwrap();
    assert!(matches!(
        store.register_master_key(&new_id, b"steward test key 56, not secret!"),
        Err(StoreError::WrongMasterKey { .. })
    ));
    // Leaving a key out would destroy it: refused, and nothing changes.
    let error = store_error(KeyStore::rewrap(&store, &rewrapped[..2]).unwrap_err());
    assert!(
        matches!(
            error,
            StoreError::RewrapMismatch {
                stored: 3,
                given: 2
            }
        ),
        "{error}"
    );
    let twice = [
        rewrapped[0].clone(),
        rewrapped[0].clone(),
        rewrapped[1].clone(),
    ];
    assert!(matches!(
        store_error(KeyStore::rewrap(&store, &twice).unwrap_err()),
        StoreError::RewrapMismatch { .. }
    ));
    assert_eq!(store.master_key_id().unwrap().as_str(), "kek-1");
    assert!(
        store
            .keyring_snapshot()
            .unwrap()
            .data_keys()
            .iter()
            .all(|key| key.master_key().as_str() == "kek-1")
    );

    // Under two master keys at once: refused.
    let mut mixed = rewrapped.clone();
    mixed[2] = keyring_under_old_key_for(&keys, customer(3));
    assert!(matches!(
        store_error(KeyStore::rewrap(&store, &mixed).unwrap_err()),
        StoreError::WrappedUnderOtherKey { .. } | StoreError::RewrapMismatch { .. }
    ));

    KeyStore::rewrap(&store, &rewrapped).unwrap();
    assert_eq!(store.master_key_id().unwrap(), new_id);
    drop(store);

    let error = SqliteStore::open(&path, &keys).unwrap_err();
    assert!(
        matches!(error, StoreError::MasterKeyNotCurrent { .. }),
        "{error}"
    );
    let new_keys = StoreKeys::new(new_id, &new_bytes, &AUDIT).unwrap();
    let store = SqliteStore::open(&path, &new_keys).unwrap();
    let snapshot = store.keyring_snapshot().unwrap();
    assert_eq!(snapshot, keyring.snapshot());
    Keyring::restore(new_keys.master_key().unwrap(), [], snapshot).unwrap();
}

/// A data key of `customer`, version 1, wrapped under the test's first master key.
fn keyring_under_old_key_for(keys: &StoreKeys, customer: CustomerId) -> WrappedDataKey {
    let mut keyring = Keyring::new(keys.master_key().unwrap());
    keyring.ensure_data_key(customer).unwrap();
    keyring.snapshot().data_keys().first().unwrap().clone()
}

#[test]
fn an_empty_store_follows_a_master_key_rotation() {
    let dir = TempDir::new("rotate-empty");
    let path = dir.db();
    let keys = keys();
    let store = SqliteStore::create(&path, &keys).unwrap();
    let new_id = "kek-2".parse().unwrap();
    let new_bytes = *b"steward test key 55, not secret!";
    let new_keys = StoreKeys::new(new_id, &new_bytes, &AUDIT).unwrap();
    // A rotation with no data keys: registered, nothing to rewrap.
    store
        .register_master_key(new_keys.master_key_id(), &new_bytes)
        .unwrap();
    KeyStore::rewrap(&store, &[]).unwrap();
    drop(store);
    let store = SqliteStore::open(&path, &new_keys).unwrap();
    assert_eq!(store.master_key_id().unwrap(), *new_keys.master_key_id());
    // The first data key under the new master key makes it the only one that opens.
    let mut keyring = Keyring::new(new_keys.master_key().unwrap());
    keyring.ensure_data_key(customer(1)).unwrap();
    KeyStore::put_data_key(&store, &keyring.snapshot().data_keys()[0]).unwrap();
    drop(store);
    let error = SqliteStore::open(&path, &keys).unwrap_err();
    assert!(
        matches!(error, StoreError::MasterKeyNotCurrent { .. }),
        "{error}"
    );
    // An unregistered key is refused too, even with nothing at stake.
    let unknown = StoreKeys::new(
        "kek-3".parse().unwrap(),
        b"steward test key 66, not secret!",
        &AUDIT,
    )
    .unwrap();
    assert!(matches!(
        SqliteStore::open(&path, &unknown),
        Err(StoreError::MasterKeyNotCurrent { .. })
    ));
}

// --- records ------------------------------------------------------------------------------

/// Seals records for three customers at shuffled instants (two share an instant), stores
/// them out of order, and returns them with their sort key.
fn stored_records(store: &SqliteStore, keys: &StoreKeys) -> Vec<SealedRecord> {
    let custody = new_custody(store, keys);
    let mut records = Vec::new();
    for (n, second) in [
        (3, 5),
        (1, 9),
        (2, 1),
        (1, 2),
        (3, 0),
        (1, 2),
        (2, 7),
        (1, 4),
    ] {
        let body = format!("request of customer {n} at {second}");
        records.push(seal(&custody, customer(n), at(second), body.as_bytes()));
    }
    for record in &records {
        store
            .put_record(record, DataCategory::LlmRequestLog)
            .unwrap();
    }
    records
}

fn sort_key(header: &RecordHeader) -> (CustomerId, Timestamp, RecordId) {
    (header.customer(), header.collected_at(), header.record_id())
}

fn meta_key(meta: &RecordMeta) -> (CustomerId, Timestamp, RecordId) {
    (meta.customer(), meta.collected_at(), meta.id())
}

#[test]
fn the_record_scan_streams_in_customer_and_time_order() {
    let dir = TempDir::new("scan");
    let path = dir.db();
    let keys = keys();
    let store = SqliteStore::create(&path, &keys).unwrap();
    let records = stored_records(&store, &keys);
    drop(store);
    let store = SqliteStore::open(&path, &keys).unwrap();
    let mut expected: Vec<_> = records.iter().map(|r| sort_key(r.header())).collect();
    expected.sort();

    let mut seen = Vec::new();
    let visited = store
        .scan_records(RecordScan::All, |record: StoredRecord<'_>| {
            let sealed = SealedRecord::from_bytes(record.bytes()).map_err(StoreError::from)?;
            assert_eq!(sort_key(sealed.header()), meta_key(record.meta()));
            assert_eq!(sealed.header().key_version(), record.key_version());
            assert_eq!(record.meta().category(), DataCategory::LlmRequestLog);
            seen.push(meta_key(record.meta()));
            Ok::<(), StoreError>(())
        })
        .unwrap();
    assert_eq!(visited, 8);
    assert_eq!(seen, expected);

    // Headers only: 128 bytes, which parse as the record header.
    let mut headers = Vec::new();
    store
        .scan_headers(RecordScan::All, |record| {
            assert_eq!(record.bytes().len(), 128);
            let header = RecordHeader::from_prefix(record.bytes()).map_err(StoreError::from)?;
            headers.push(sort_key(&header));
            Ok::<(), StoreError>(())
        })
        .unwrap();
    assert_eq!(headers, expected);

    // One customer's records, in time order.
    let mut one = Vec::new();
    store
        .scan_records(RecordScan::Customer(customer(1)), |record| {
            one.push(meta_key(record.meta()));
            Ok::<(), StoreError>(())
        })
        .unwrap();
    let mut expected_one: Vec<_> = expected
        .iter()
        .filter(|k| k.0 == customer(1))
        .copied()
        .collect();
    expected_one.sort();
    assert_eq!(one, expected_one);

    // The visitor is called row by row: its error stops the scan at once.
    let mut calls = 0;
    let error = store
        .scan_records(RecordScan::All, |_| {
            calls += 1;
            Err(StoreError::RecordConflict)
        })
        .unwrap_err();
    assert!(matches!(error, StoreError::RecordConflict));
    assert_eq!(calls, 1);

    let metas: Vec<RecordMeta> = store
        .record_metas(RecordScan::All)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(metas.iter().map(meta_key).collect::<Vec<_>>(), expected);
    let metas: Vec<RecordMeta> = store
        .record_metas(RecordScan::Customer(customer(2)))
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(metas.len() == 2 && metas.iter().all(|m| m.customer() == customer(2)));
}

#[test]
fn a_scan_does_not_hold_up_writes_and_sees_the_store_as_it_began() {
    let dir = TempDir::new("scan-write");
    let keys = keys();
    let store = SqliteStore::create(dir.db(), &keys).unwrap();
    let records = stored_records(&store, &keys);
    let mut deleted = Vec::new();
    let facts = stored_facts(&store);
    let mut sweep_view = steward_store::SweepRecords::new(store.clone(), &facts);
    let visited = store
        .scan_records(RecordScan::All, |record| {
            // Writing from inside the scan would wait forever if the scan held the store.
            RecordStore::delete(&mut sweep_view, record.meta().id())?;
            deleted.push(record.meta().id());
            Ok::<(), StoreError>(())
        })
        .unwrap();
    assert_eq!(visited, 8);
    assert_eq!(deleted.len(), records.len());
    assert_eq!(store.record_metas(RecordScan::All).count(), 0);
}

#[test]
fn record_metadata_pages_through_chunks_in_order() {
    let dir = TempDir::new("metas");
    let keys = keys();
    let store = SqliteStore::create(dir.db(), &keys).unwrap();
    let custody = new_custody(&store, &keys);
    // More than one chunk of 4096, with many records sharing an instant.
    let records: Vec<SealedRecord> = (0..9000_u32)
        .map(|i| {
            let n = u8::try_from(i % 3).unwrap();
            seal(&custody, customer(n + 1), at(i64::from(i / 7)), b"x")
        })
        .collect();
    store
        .put_records(records.iter().map(|r| (r, DataCategory::LlmRequestLog)))
        .unwrap();
    let mut expected: Vec<_> = records.iter().map(|r| sort_key(r.header())).collect();
    expected.sort();
    let metas: Vec<RecordMeta> = store
        .record_metas(RecordScan::All)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(metas.iter().map(meta_key).collect::<Vec<_>>(), expected);
    let metas: Vec<RecordMeta> = store
        .record_metas(RecordScan::Customer(customer(2)))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(metas.len(), 3000);
    assert!(metas.windows(2).all(|w| meta_key(&w[0]) < meta_key(&w[1])));
}

#[test]
fn records_are_stored_once_and_deleted_by_the_sweep() {
    let dir = TempDir::new("records");
    let path = dir.db();
    let keys = keys();
    let store = SqliteStore::create(&path, &keys).unwrap();
    let custody = new_custody(&store, &keys);
    let record = seal(&custody, customer(1), at(0), b"body");
    let id = record.header().record_id();
    store
        .put_record(&record, DataCategory::LlmRequestLog)
        .unwrap();
    store
        .put_record(&record, DataCategory::LlmRequestLog)
        .unwrap();
    let error = store
        .put_record(&record, DataCategory::Diagnostics)
        .unwrap_err();
    assert!(matches!(error, StoreError::RecordConflict), "{error}");

    // A batch is all or nothing.
    let fresh = seal(&custody, customer(1), at(1), b"fresh");
    let clash = SealedRecord::from_bytes(record.as_bytes()).unwrap();
    assert!(
        store
            .put_records([
                (&fresh, DataCategory::LlmRequestLog),
                (&clash, DataCategory::Email)
            ])
            .is_err()
    );
    assert_eq!(store.record(fresh.header().record_id()).unwrap(), None);

    let facts = stored_facts(&store);
    let mut sweep_view = steward_store::SweepRecords::new(store.clone(), &facts);
    assert_eq!(
        RecordStore::delete(&mut sweep_view, id).unwrap(),
        Removal::Removed
    );
    assert_eq!(
        RecordStore::delete(&mut sweep_view, id).unwrap(),
        Removal::AlreadyAbsent
    );
    assert_eq!(store.record(id).unwrap(), None);
    store.checkpoint_wal().unwrap();
    assert!(!contains(&bytes_on_disk(&path), record.as_bytes()));
}

// --- facts: the suite (backend::facts) covers the round trips on both backends ----------

#[test]
fn a_corrupt_row_is_a_typed_error_naming_its_table() {
    let dir = TempDir::new("corrupt");
    let path = dir.db();
    let keys = keys();
    let store = SqliteStore::create(&path, &keys).unwrap();
    stored_records(&store, &keys);
    new_custody(&store, &keys)
        .rotate_data_key(customer(1))
        .unwrap();

    let edit = raw(&path);
    edit.execute(
        "UPDATE records SET category = 'mind-reading' WHERE rowid = 3",
        [],
    )
    .unwrap();
    edit.execute(
        "UPDATE audit_entries SET entry = replace(entry, '\"sequence\":0', '\"sequence\":5')",
        [],
    )
    .unwrap();
    drop(edit);

    let corrupt_in = |error: StoreError| match error {
        StoreError::Corrupt { table, .. } => {
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("corrupt row in table `{table}`"))
            );
            table
        }
        other => panic!("not a corrupt row: {other}"),
    };
    let error = store
        .record_metas(RecordScan::All)
        .find_map(Result::err)
        .unwrap();
    // The error does not quote the stored value; its source does, for a debugger.
    assert!(!error.to_string().contains("mind-reading"));
    assert!(
        std::error::Error::source(&error)
            .unwrap()
            .to_string()
            .contains("mind-reading")
    );
    assert_eq!(corrupt_in(error), "records");
    assert_eq!(
        corrupt_in(store.audit_entries().unwrap_err()),
        "audit_entries"
    );
}

#[test]
fn a_store_whose_creation_died_before_its_key_checks_opens_and_records_them() {
    let dir = TempDir::new("half-created");
    drop(SqliteStore::create(dir.db(), &keys()).unwrap());
    // What a crash between the schema and the key checks leaves: the schema, no rows.
    raw(&dir.db())
        .execute_batch("DELETE FROM meta; DELETE FROM master_keys;")
        .unwrap();
    let store = SqliteStore::open(dir.db(), &keys()).unwrap();
    drop(store);
    // The checks are recorded now: another master key is refused as before.
    let other = StoreKeys::new(
        "kek-1".parse().unwrap(),
        b"steward test key 43, not secret!",
        &AUDIT,
    )
    .unwrap();
    assert!(matches!(
        SqliteStore::open(dir.db(), &other),
        Err(StoreError::WrongMasterKey { .. })
    ));
}

#[test]
fn missing_key_checks_beside_stored_data_are_not_replaced() {
    let dir = TempDir::new("checks-removed");
    let store = SqliteStore::create(dir.db(), &keys()).unwrap();
    stored_facts(&store)
        .start_relationship(customer(1), ahead(0))
        .unwrap();
    drop(store);
    raw(&dir.db())
        .execute_batch("DELETE FROM meta; DELETE FROM master_keys;")
        .unwrap();
    // With data stored, missing checks are tampering, not a crash: any key would pass if
    // they were recorded afresh.
    let other = StoreKeys::new(
        "kek-1".parse().unwrap(),
        b"steward test key 43, not secret!",
        &AUDIT,
    )
    .unwrap();
    assert!(SqliteStore::open(dir.db(), &other).is_err());
}
