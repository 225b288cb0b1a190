//! The fact log proves what steers the gate: facts rebuilt from it equal the facts that
//! wrote it, and any single edit, deletion, insertion or reordering of a stored entry (the
//! newest included, against a checkpoint) keeps the store from serving.

#![expect(
    clippy::indexing_slicing,
    reason = "tampering picks entries by index modulo the log's length, which is at least one"
)]

use proptest::prelude::*;
use rusqlite::{Connection, params};
use steward::{
    Policy,
    consent::{Channel, ConsentActor, ConsentChange},
    logs::CheckpointSigner,
    vocabulary::{StewardId, Timestamp, TrainingLevel},
};
use steward_core::AdminId;
use steward_store::{
    FactLog, SqliteStore, StoreError, StoreKeys, StoreVault, open_vault, verify_fact_log,
};

use crate::common::*;

#[derive(Debug, Clone)]
enum Change {
    Start(u8),
    End(u8),
    Consent(u8, TrainingLevel),
    AddSteward(u8),
    RemoveSteward(u8),
}

fn change() -> impl Strategy<Value = Change> {
    let who = 0u8..4;
    let level = prop_oneof![
        Just(TrainingLevel::None),
        Just(TrainingLevel::Private),
        Just(TrainingLevel::Shared),
        Just(TrainingLevel::OpenWeight),
    ];
    prop_oneof![
        who.clone().prop_map(Change::Start),
        who.clone().prop_map(Change::End),
        (who.clone(), level).prop_map(|(who, level)| Change::Consent(who, level)),
        who.clone().prop_map(Change::AddSteward),
        who.prop_map(Change::RemoveSteward),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Tamper {
    /// The event text of entry `i` changed (still valid JSON of the same event).
    EditEvent(usize),
    /// A byte of entry `i`'s hash flipped.
    EditHash(usize, usize),
    Delete(usize),
    /// A copy of entry `j` inserted before entry `i`, the rest renumbered.
    Insert(usize, usize),
    /// A copy of entry `j` appended after the newest.
    Append(usize),
    Swap(usize, usize),
}

fn tamper() -> impl Strategy<Value = Tamper> {
    let at = 0usize..64;
    prop_oneof![
        at.clone().prop_map(Tamper::EditEvent),
        (at.clone(), 0usize..32).prop_map(|(i, byte)| Tamper::EditHash(i, byte)),
        at.clone().prop_map(Tamper::Delete),
        (at.clone(), at.clone()).prop_map(|(i, j)| Tamper::Insert(i, j)),
        at.clone().prop_map(Tamper::Append),
        (at.clone(), at).prop_map(|(i, j)| Tamper::Swap(i, j)),
    ]
}

/// Seals a prompt of `who`, collected now; the vault issues and stores their data key.
fn seal_for(
    vault: &StoreVault,
    who: steward::vocabulary::CustomerId,
) -> steward::logs::SealedRecord {
    let now = Timestamp::now();
    let id = steward::vocabulary::RecordId::generate_at(now);
    vault.seal(id, who, now, b"a prompt").unwrap()
}

fn steward(n: u8) -> StewardId {
    format!("steward-{n}.ops").parse().unwrap()
}

fn admin() -> AdminId {
    "dana.admin".parse().unwrap()
}

/// Applies `changes` through a vault on `store` (refused ones write nothing) and returns
/// what the facts hold afterwards.
fn apply(vault: &StoreVault, changes: &[Change]) {
    let now = Timestamp::now();
    for (step, change) in changes.iter().enumerate() {
        let step = i64::try_from(step).unwrap();
        let _accepted_or_refused = match change {
            Change::Start(who) => vault
                .update_facts(|facts| facts.start_relationship(customer(*who), ahead(step)))
                .unwrap()
                .is_ok(),
            Change::End(who) => vault
                .update_facts(|facts| facts.end_relationship(customer(*who), ahead(step)))
                .unwrap()
                .is_ok(),
            Change::Consent(who, level) => vault
                .update_facts(|facts| {
                    facts.record_consent(ConsentChange::new(
                        customer(*who),
                        *level,
                        Timestamp::from_unix_nanos(now.unix_nanos() + (step + 1) * 1_000_000_000),
                        ConsentActor::Customer,
                        Channel::AccountSettings,
                        Policy::coder_model().version().clone(),
                    ))
                })
                .unwrap()
                .is_ok(),
            Change::AddSteward(n) => vault.add_steward(steward(*n), admin()).is_ok(),
            Change::RemoveSteward(n) => vault.remove_steward(&steward(*n), admin()).is_ok(),
        };
    }
}

/// What the facts say, in a form two loads can be compared by.
fn facts_seen(vault: &StoreVault) -> (String, Vec<String>, Vec<String>, u64) {
    let facts = vault.facts().unwrap();
    let consent = facts.consent().unwrap().to_json().unwrap();
    let mut roster: Vec<String> = facts
        .roster()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    roster.sort();
    let relationships = (0..4)
        .map(|who| {
            format!(
                "{:?}",
                facts.relationships().unwrap().relationships(customer(who))
            )
        })
        .collect();
    (consent, roster, relationships, facts.applied())
}

/// The stored entries, as rows.
fn rows(conn: &Connection) -> Vec<(i64, String, Vec<u8>)> {
    let mut statement = conn
        .prepare("SELECT sequence, event, hash FROM fact_log ORDER BY sequence")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Rewrites the log as `entries`, numbered from 1 in their order.
fn rewrite(conn: &Connection, entries: &[(i64, String, Vec<u8>)]) {
    conn.execute("DELETE FROM fact_log", []).unwrap();
    for (sequence, event, hash) in entries {
        conn.execute(
            "INSERT INTO fact_log (sequence, event, hash) VALUES (?1, ?2, ?3)",
            params![sequence, event, hash],
        )
        .unwrap();
    }
}

/// Applies `tamper` to the stored log, which holds `entries.len()` entries.
fn apply_tamper(conn: &Connection, tamper: Tamper) {
    let mut entries = rows(conn);
    let n = entries.len();
    let pick = |i: usize| i % n;
    match tamper {
        Tamper::EditEvent(i) => {
            // Insignificant to JSON, significant to the hash.
            entries[pick(i)].1.push(' ');
        }
        Tamper::EditHash(i, byte) => entries[pick(i)].2[byte] ^= 0x01,
        Tamper::Delete(i) => {
            entries.remove(pick(i));
        }
        Tamper::Insert(i, j) => {
            let copy = entries[pick(j)].clone();
            entries.insert(pick(i), copy);
            renumber(&mut entries);
        }
        Tamper::Append(j) => {
            let copy = entries[pick(j)].clone();
            entries.push(copy);
            renumber(&mut entries);
        }
        Tamper::Swap(i, j) => {
            let (i, j) = (pick(i), pick(j));
            let j = if i == j { (j + 1) % n } else { j };
            entries.swap(i, j);
            renumber(&mut entries);
        }
    }
    rewrite(conn, &entries);
}

fn renumber(entries: &mut [(i64, String, Vec<u8>)]) {
    for (place, entry) in entries.iter_mut().enumerate() {
        entry.0 = i64::try_from(place).unwrap() + 1;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn facts_rebuilt_from_the_log_equal_the_facts_that_wrote_it_and_any_tampering_is_refused(
        changes in prop::collection::vec(change(), 1..12),
        tampering in tamper(),
    ) {
        let dir = TempDir::new("fact-log-property");
        let keys = keys();
        let store = SqliteStore::create(dir.db(), &keys).unwrap();
        let vault = open_vault(&store, &keys, Policy::coder_model()).unwrap();
        // At least two entries, so that there is something to tamper with and to swap.
        apply(&vault, &[Change::AddSteward(9), Change::Start(9)]);
        apply(&vault, &changes);
        let written = facts_seen(&vault);
        // A checkpoint covering both chains, as `steward audit checkpoint` signs it.
        let signer =
            CheckpointSigner::from_pkcs8(&CheckpointSigner::generate_pkcs8().unwrap()).unwrap();
        let head = vault.facts().unwrap().head();
        let checkpoint = vault.audit().unwrap().checkpoint_with_facts(&signer, head).unwrap();
        store.put_checkpoint(&checkpoint).unwrap();
        drop(vault);

        let reopened = open_vault(&store, &keys, Policy::coder_model()).unwrap();
        prop_assert_eq!(facts_seen(&reopened), written);
        drop(reopened);

        apply_tamper(&Connection::open(dir.db()).unwrap(), tampering);
        let refused = open_vault(&store, &keys, Policy::coder_model());
        prop_assert!(
            matches!(refused, Err(StoreError::FactLogBroken { .. })),
            "{:?} opened: {:?}", tampering, refused.map(|_| ())
        );
        let key = keys.audit_key().unwrap().fact_log_key();
        let verified = verify_fact_log(&store, &key, Some(&checkpoint));
        prop_assert!(
            matches!(verified, Err(StoreError::FactLogBroken { .. })),
            "{:?} verified: {:?}", tampering, verified
        );
    }
}

#[test]
fn removing_the_newest_entry_is_found_only_against_a_checkpoint() {
    let dir = TempDir::new("fact-log-newest");
    let keys: StoreKeys = keys();
    let store = SqliteStore::create(dir.db(), &keys).unwrap();
    let vault = open_vault(&store, &keys, Policy::coder_model()).unwrap();
    apply(&vault, &[Change::AddSteward(1), Change::Start(1)]);
    drop(vault);
    let conn = Connection::open(dir.db()).unwrap();
    // The policy's adoption, the steward, the relationship: the newest one goes.
    assert_eq!(store.entries_after(0).unwrap().len(), 3);
    conn.execute("DELETE FROM fact_log WHERE sequence = 3", [])
        .unwrap();
    // Without a checkpoint a shorter log is a valid log: this is what checkpoints are for.
    let key = keys.audit_key().unwrap().fact_log_key();
    assert_eq!(verify_fact_log(&store, &key, None).unwrap().entries(), 2);
}

fn many_customers(count: u32) -> Vec<steward::vocabulary::CustomerId> {
    (1..=count)
        .map(|n| format!("0192f1f0-6b2a-7cc3-9a4e-{n:012x}").parse().unwrap())
        .collect()
}

/// A store whose log is long enough that loading it writes a snapshot, with a consent
/// change, a hold and a roster change among the entries.
fn snapshotted_store(dir: &TempDir) -> SqliteStore {
    let keys = keys();
    let store = SqliteStore::create(dir.db(), &keys).unwrap();
    let vault = open_vault(&store, &keys, Policy::coder_model()).unwrap();
    vault.add_steward(steward(1), admin()).unwrap();
    let customers = many_customers(10_050);
    vault
        .update_facts(|facts| {
            facts.in_one_commit(|batch| {
                for (n, customer) in customers.iter().enumerate() {
                    batch.start_relationship(*customer, ahead(i64::try_from(n).unwrap()))?;
                }
                Ok(())
            })
        })
        .unwrap()
        .unwrap();
    apply(
        &vault,
        &[
            Change::Consent(1, TrainingLevel::Shared),
            Change::End(1),
            Change::AddSteward(2),
        ],
    );
    drop(vault);
    store
}

#[test]
fn a_long_replay_leaves_a_snapshot_and_loading_from_it_equals_a_full_replay() {
    let dir = TempDir::new("fact-snapshot");
    let keys = keys();
    let store = snapshotted_store(&dir);
    assert!(store.latest_snapshot().unwrap().is_none());
    let replayed = facts_seen(&open_vault(&store, &keys, Policy::coder_model()).unwrap());
    let snapshot = store
        .latest_snapshot()
        .unwrap()
        .expect("a snapshot after a long replay");
    assert_eq!(snapshot.sequence(), replayed.3);

    // More entries after the snapshot: the next load restores it and replays only them.
    let vault = open_vault(&store, &keys, Policy::coder_model()).unwrap();
    assert_eq!(facts_seen(&vault), replayed);
    apply(
        &vault,
        &[
            Change::Consent(2, TrainingLevel::OpenWeight),
            Change::RemoveSteward(1),
        ],
    );
    let written = facts_seen(&vault);
    drop(vault);
    let restored = facts_seen(&open_vault(&store, &keys, Policy::coder_model()).unwrap());
    assert_eq!(restored, written);

    // Without the snapshot, the full replay agrees.
    Connection::open(dir.db())
        .unwrap()
        .execute("DELETE FROM fact_snapshots", [])
        .unwrap();
    let full = facts_seen(&open_vault(&store, &keys, Policy::coder_model()).unwrap());
    assert_eq!(full, written);
}

/// A choice about interactive features among the entries a snapshot covers is restored
/// from the snapshot as the full replay rebuilds it, and the full verification accepts it.
#[test]
fn interactive_choices_in_a_snapshot_are_restored_as_the_log_wrote_them() {
    let dir = TempDir::new("fact-snapshot-interactive");
    let keys = keys();
    let store = SqliteStore::create(dir.db(), &keys).unwrap();
    let vault = open_vault(&store, &keys, Policy::coder_model()).unwrap();
    let now = Timestamp::now();
    let choice = steward::consent::InteractiveChange::new(
        customer(1),
        steward::consent::InteractiveChoice::OptedIn,
        now,
        ConsentActor::Customer,
        Channel::Api,
        Policy::coder_model().version().clone(),
    );
    let receipt = vault
        .update_facts(|facts| facts.record_interactive(choice))
        .unwrap()
        .unwrap();
    let customers = many_customers(10_050);
    vault
        .update_facts(|facts| {
            facts.in_one_commit(|batch| {
                for (n, customer) in customers.iter().enumerate() {
                    batch.start_relationship(*customer, ahead(i64::try_from(n).unwrap()))?;
                }
                Ok(())
            })
        })
        .unwrap()
        .unwrap();
    drop(vault);
    // The first load replays one by one and leaves a snapshot; the second restores from it.
    drop(open_vault(&store, &keys, Policy::coder_model()).unwrap());
    assert!(store.latest_snapshot().unwrap().is_some());
    let restored = open_vault(&store, &keys, Policy::coder_model()).unwrap();
    let facts = restored.facts().unwrap();
    let history = facts.interactive().unwrap().history(customer(1));
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].receipt, receipt);
    assert!(
        facts
            .interactive()
            .unwrap()
            .choice_at(customer(1), receipt.effective)
            .is_opted_in()
    );
    drop(facts);
    verify_fact_log(&store, &keys.audit_key().unwrap().fact_log_key(), None).unwrap();
}

#[test]
fn an_edited_or_misplaced_snapshot_keeps_the_store_from_serving() {
    let dir = TempDir::new("fact-snapshot-edit");
    let keys = keys();
    let store = snapshotted_store(&dir);
    drop(open_vault(&store, &keys, Policy::coder_model()).unwrap());
    let conn = Connection::open(dir.db()).unwrap();
    let sequence: i64 = conn
        .query_row("SELECT sequence FROM fact_snapshots", [], |row| row.get(0))
        .unwrap();

    // A byte of the body changed: a fact edited inside the snapshot.
    let mut body: Vec<u8> = conn
        .query_row("SELECT body FROM fact_snapshots", [], |row| row.get(0))
        .unwrap();
    let middle = body.len() / 2;
    body[middle] ^= 0x01;
    conn.execute("UPDATE fact_snapshots SET body = ?1", [&body])
        .unwrap();
    let refused = open_vault(&store, &keys, Policy::coder_model());
    assert!(
        matches!(refused, Err(StoreError::FactLogBroken { sequence: s, .. }) if s == sequence.unsigned_abs()),
        "{:?}",
        refused.map(|_| ())
    );

    // The snapshot moved to another place in the log (its MAC binds its place).
    conn.execute("DELETE FROM fact_snapshots", []).unwrap();
    drop(open_vault(&store, &keys, Policy::coder_model()).unwrap());
    conn.execute("UPDATE fact_snapshots SET sequence = sequence - 1", [])
        .unwrap();
    let refused = open_vault(&store, &keys, Policy::coder_model());
    assert!(
        matches!(refused, Err(StoreError::FactLogBroken { .. })),
        "{:?}",
        refused.map(|_| ())
    );
}

#[test]
fn an_entry_a_snapshot_covers_edited_is_found_by_the_full_verification() {
    let dir = TempDir::new("fact-snapshot-covered");
    let keys = keys();
    let store = snapshotted_store(&dir);
    drop(open_vault(&store, &keys, Policy::coder_model()).unwrap());
    Connection::open(dir.db())
        .unwrap()
        .execute(
            "UPDATE fact_log SET event = event || ' ' WHERE sequence = 5",
            [],
        )
        .unwrap();
    // Start-up trusts the snapshot's MAC for the entries it covers (their facts come from
    // it, not from the edited row), so it opens; the full verification finds the edit.
    let vault = open_vault(&store, &keys, Policy::coder_model()).unwrap();
    drop(vault);
    let key = keys.audit_key().unwrap().fact_log_key();
    assert!(matches!(
        verify_fact_log(&store, &key, None),
        Err(StoreError::FactLogBroken { sequence: 5, .. })
    ));
}

#[test]
fn keys_brought_back_after_a_shred_keep_the_store_from_serving() {
    let dir = TempDir::new("fact-log-shred");
    let keys = keys();
    let store = SqliteStore::create(dir.db(), &keys).unwrap();
    let vault = open_vault(&store, &keys, Policy::coder_model()).unwrap();
    let ada = customer(1);
    seal_for(&vault, ada);
    let conn = Connection::open(dir.db()).unwrap();
    // What a backup holds: the customer's wrapped key.
    let backup: (Vec<u8>, i64, String, Vec<u8>, Vec<u8>) = conn
        .query_row(
            "SELECT customer, version, master_key, nonce, ciphertext FROM wrapped_keys",
            [],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            },
        )
        .unwrap();
    vault.shred(ada).unwrap();
    drop(vault);
    let shreds: i64 = conn
        .query_row(
            "SELECT count(*) FROM fact_log WHERE event LIKE '%\"kind\":\"keys_shredded\"%'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(shreds, 1);
    drop(open_vault(&store, &keys, Policy::coder_model()).unwrap());

    // The key restored from the backup and the tombstone deleted: the shred undone behind
    // the store's back, which the keys alone cannot tell.
    conn.execute("DELETE FROM key_tombstones", []).unwrap();
    conn.execute(
        "INSERT INTO wrapped_keys (customer, version, master_key, nonce, ciphertext) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![backup.0, backup.1, backup.2, backup.3, backup.4],
    )
    .unwrap();
    let refused = open_vault(&store, &keys, Policy::coder_model());
    assert!(
        matches!(refused, Err(StoreError::FactLogBroken { .. })),
        "{:?}",
        refused.map(|_| ())
    );
}

#[test]
fn a_record_deletion_is_an_entry_of_the_log() {
    use steward_retention::RecordStore;

    let dir = TempDir::new("fact-log-deletion");
    let keys = keys();
    let store = SqliteStore::create(dir.db(), &keys).unwrap();
    let vault = open_vault(&store, &keys, Policy::coder_model()).unwrap();
    let record = seal_for(&vault, customer(1));
    let id = record.header().record_id();
    store
        .put_record(&record, steward::vocabulary::DataCategory::LlmRequestLog)
        .unwrap();
    let before = store.entries_after(0).unwrap().len();
    let facts = vault.facts().unwrap();
    let mut sweep_view = steward_store::SweepRecords::new(store.clone(), &*facts);
    assert_eq!(
        sweep_view.delete(id).unwrap(),
        steward_retention::Removal::Removed
    );
    assert_eq!(
        sweep_view.delete(id).unwrap(),
        steward_retention::Removal::AlreadyAbsent
    );
    drop(facts);
    let entries = store.entries_after(0).unwrap();
    assert_eq!(entries.len(), before + 1);
    assert!(entries.last().unwrap().event().contains(&id.to_string()));
    drop(vault);
    // The entry is chained like any other: the store opens and verifies.
    drop(open_vault(&store, &keys, Policy::coder_model()).unwrap());
}

#[test]
fn a_key_row_deleted_outside_a_shred_keeps_the_store_from_serving() {
    let dir = TempDir::new("fact-log-key-deleted");
    let keys = keys();
    let store = SqliteStore::create(dir.db(), &keys).unwrap();
    let vault = open_vault(&store, &keys, Policy::coder_model()).unwrap();
    seal_for(&vault, customer(1));
    drop(vault);
    let conn = Connection::open(dir.db()).unwrap();
    let stored: i64 = conn
        .query_row(
            "SELECT count(*) FROM fact_log WHERE event LIKE '%\"kind\":\"key_stored\"%'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(stored, 1);
    drop(open_vault(&store, &keys, Policy::coder_model()).unwrap());

    // A shred nobody audited: the key row deleted by hand, no tombstone, no entry.
    conn.execute("DELETE FROM wrapped_keys", []).unwrap();
    let refused = open_vault(&store, &keys, Policy::coder_model());
    assert!(
        matches!(refused, Err(StoreError::FactLogBroken { .. })),
        "{:?}",
        refused.map(|_| ())
    );
}

/// The bundled policy under another version, which also knows the bundled one.
fn next_policy_version() -> Policy {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/custom-policy.toml"
    ))
    .unwrap();
    Policy::from_toml_str(&text, "custom-policy.toml").unwrap()
}

#[test]
fn a_snapshot_written_by_a_load_that_adopts_a_new_policy_holds_every_entry_it_is_bound_to() {
    let dir = TempDir::new("fact-snapshot-adopt");
    let keys = keys();
    let store = snapshotted_store(&dir);
    let policy = next_policy_version();
    assert_ne!(policy.version(), Policy::coder_model().version());
    let audit_key = keys.audit_key().unwrap();
    // This load replays the long tail, writes a snapshot, and adopts the new version.
    let first = steward_store::StoreFacts::load(&store, &audit_key, &policy, None).unwrap();
    let adopted = first.applied();
    assert_eq!(first.adopted_policy(), Some(policy.version()));
    drop(first);
    // The next load restores the snapshot and the adoption after it: nothing to write.
    let second = steward_store::StoreFacts::load(&store, &audit_key, &policy, None).unwrap();
    assert_eq!(second.applied(), adopted);
    assert_eq!(second.adopted_policy(), Some(policy.version()));
}

#[test]
fn a_batch_refused_half_way_fails_the_facts_closed_and_a_refused_change_does_not() {
    let dir = TempDir::new("fact-batch-refused");
    let store = SqliteStore::create(dir.db(), &keys()).unwrap();
    let mut facts = stored_facts(&store);
    let mut other = stored_facts(&store);
    facts.start_relationship(customer(1), ahead(0)).unwrap();
    // Another writer's entry is applied before this refused change: memory still matches the
    // log, and the facts keep answering.
    assert!(other.end_relationship(customer(2), ahead(1)).is_err());
    assert!(other.relationships().is_ok());
    assert!(
        other
            .relationships()
            .unwrap()
            .containing(customer(1), ahead(1))
            .is_some()
    );
    // A batch whose second change is refused changed memory with its first: nothing is
    // stored, and the facts stop answering rather than answer what the log does not say.
    let refused = facts.in_one_commit(|batch| {
        batch.start_relationship(customer(3), ahead(0))?;
        batch.end_relationship(customer(4), ahead(1))
    });
    assert!(refused.is_err());
    assert!(matches!(
        facts.relationships(),
        Err(StoreError::FactsDiverged)
    ));
    use steward::Facts;
    assert!(
        facts
            .relationship_containing(customer(3), ahead(1))
            .is_none()
    );
    assert!(
        stored_facts(&store)
            .relationships()
            .unwrap()
            .containing(customer(3), ahead(1))
            .is_none()
    );
}

#[test]
fn the_full_verification_checks_the_snapshot_and_the_stored_keys_too() {
    let dir = TempDir::new("fact-verify-all");
    let keys = keys();
    let store = snapshotted_store(&dir);
    let vault = open_vault(&store, &keys, Policy::coder_model()).unwrap();
    seal_for(&vault, customer(1));
    drop(vault);
    let key = keys.audit_key().unwrap().fact_log_key();
    assert!(store.latest_snapshot().unwrap().is_some());
    verify_fact_log(&store, &key, None).unwrap();

    // A snapshot that is not the entries before it, though its MAC holds (as one written by
    // a build that left entries out would be).
    let conn = Connection::open(dir.db()).unwrap();
    let (sequence, body): (i64, Vec<u8>) = conn
        .query_row("SELECT sequence, body FROM fact_snapshots", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    let mut short = body.clone();
    short.truncate(body.len() - 21);
    let head: Vec<u8> = conn
        .query_row("SELECT head FROM fact_snapshots", [], |row| row.get(0))
        .unwrap();
    let head = steward::logs::ChainHash::from_bytes(head.try_into().unwrap());
    let mac = key.snapshot_mac(sequence.unsigned_abs(), &head, &short);
    conn.execute(
        "UPDATE fact_snapshots SET body = ?1, mac = ?2",
        rusqlite::params![short, mac.as_bytes().as_slice()],
    )
    .unwrap();
    assert!(matches!(
        verify_fact_log(&store, &key, None),
        Err(StoreError::FactLogBroken { sequence: s, .. }) if s == sequence.unsigned_abs()
    ));
    conn.execute(
        "UPDATE fact_snapshots SET body = ?1, mac = ?2",
        rusqlite::params![
            body,
            key.snapshot_mac(sequence.unsigned_abs(), &head, &body)
                .as_bytes()
                .as_slice()
        ],
    )
    .unwrap();
    verify_fact_log(&store, &key, None).unwrap();

    // A key row deleted by hand: the verification names it as start-up would.
    conn.execute("DELETE FROM wrapped_keys", []).unwrap();
    assert!(matches!(
        verify_fact_log(&store, &key, None),
        Err(StoreError::FactLogBroken { .. })
    ));
}
