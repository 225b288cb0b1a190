//! Several nodes on one PostgreSQL database: one key per customer and version, shreds seen
//! everywhere, one audit chain, facts that reach every node within the bound.
//!
//! These tests need a server: they read its connection string from `STEWARD_POSTGRES`
//! (`.ci/run` sets it) and report "ignored" without it: `build.rs` turns on `cfg(pg_tests)`
//! when the variable is set. Each test works in a schema of its own, dropped at the end.

use std::{
    sync::{
        Arc, Barrier,
        atomic::{AtomicU32, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use steward::{
    Facts, Policy,
    consent::{Channel, ConsentActor, ConsentChange},
    logs::{
        AccessRequest, AuditKey, ChainHash, KeyError, LogsError, OpenError, SealConfig,
        SealedRecord,
    },
    vocabulary::{CustomerId, DataCategory, Purpose, RecordId, Timestamp, TrainingLevel},
};
use steward_store::{
    Ingest, IngestConfig, IngestError, LogEntry, StoreError, open_vault,
    pg::{FactsFollower, PgConfig, PgStore, PgVault},
};

use crate::common::*;

const ENV: &str = "STEWARD_POSTGRES";

/// The test server's connection string (the tests that call this are ignored without it).
fn connection() -> String {
    std::env::var(ENV).unwrap()
}

/// A schema of its own on the test server, dropped when the test ends.
struct TestSchema {
    config: PgConfig,
    admin: postgres::Client,
}

impl TestSchema {
    /// A schema named for this process on the server `STEWARD_POSTGRES` names.
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let connection = connection();
        let schema = format!(
            "steward_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let config = PgConfig::new(&connection)
            .unwrap()
            .with_schema(&schema)
            .unwrap()
            .with_facts_poll(Duration::from_millis(200))
            .unwrap();
        let admin = postgres::Client::connect(&connection, postgres::NoTls).unwrap();
        Self { config, admin }
    }

    fn store(&self) -> PgStore {
        PgStore::create(&self.config, &keys()).unwrap()
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            self.config.schema()
        ));
    }
}

fn node(store: &PgStore) -> PgVault {
    open_vault(store, &keys(), Policy::coder_model()).unwrap()
}

fn steward_request() -> AccessRequest {
    AccessRequest::with_justification_text(
        "alice.ops".parse().unwrap(),
        Purpose::Troubleshooting,
        "INC-42",
    )
}

/// Puts alice on the roster and starts the customers' relationships, on `vault`'s node.
fn set_up_facts(vault: &PgVault, customers: &[CustomerId]) {
    vault
        .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
        .unwrap();
    vault
        .update_facts(|facts| {
            for &customer in customers {
                facts
                    .start_relationship(customer, Timestamp::now())
                    .unwrap();
            }
        })
        .unwrap();
}

/// Two nodes on `store`; alice on the roster and `customers` in a relationship, written on
/// the first and applied on the second.
fn two_nodes(store: &PgStore, customers: &[CustomerId]) -> (PgVault, PgVault) {
    let (a, b) = (node(store), node(store));
    set_up_facts(&a, customers);
    catch_up(&b);
    (a, b)
}

fn catch_up(vault: &PgVault) {
    vault
        .update_facts(|facts| facts.catch_up())
        .unwrap()
        .unwrap();
}

/// Seals a record of `customer` at the consent level in force now on `vault`'s node, and
/// stores it.
fn seal(store: &PgStore, vault: &PgVault, customer: CustomerId, body: &[u8]) -> SealedRecord {
    let now = Timestamp::now();
    store
        .seal_durable(
            vault,
            RecordId::generate_at(now),
            customer,
            now,
            body,
            DataCategory::LlmRequestLog,
        )
        .unwrap()
}

fn customers(count: u32) -> Vec<CustomerId> {
    (0..count)
        .map(|n| {
            CustomerId::new(uuid::Uuid::from_u128(
                0x0192_f1f0_6b2a_7cc3_9a4e_0000_0000_0000 + u128::from(n),
            ))
            .unwrap()
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn concurrent_first_seals_of_one_customer_share_one_key() {
    let db = TestSchema::new();
    let store = db.store();
    let customers = customers(40);
    let (a, b) = two_nodes(&store, &customers);
    let barrier = Barrier::new(2);
    let run = |vault: &PgVault, body: &'static [u8]| {
        barrier.wait();
        customers
            .iter()
            .map(|&customer| seal(&store, vault, customer, body))
            .collect::<Vec<_>>()
    };
    let (from_a, from_b) = thread::scope(|scope| {
        let from_a = scope.spawn(|| run(&a, b"from a"));
        let from_b = scope.spawn(|| run(&b, b"from b"));
        (from_a.join().unwrap(), from_b.join().unwrap())
    });
    let snapshot = store.keyring_snapshot().unwrap();
    assert_eq!(
        snapshot.data_keys().len(),
        customers.len(),
        "a customer got two first keys"
    );
    // Every record opens on both nodes, and after a restart.
    let c = node(&store);
    for (record, body) in from_a
        .iter()
        .map(|r| (r, b"from a"))
        .chain(from_b.iter().map(|r| (r, b"from b")))
    {
        for vault in [&a, &b, &c] {
            let opened = vault.open(record, &steward_request()).unwrap();
            assert_eq!(opened.as_bytes(), body);
        }
    }
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn a_shred_on_one_node_holds_on_the_other_before_its_next_seal_and_open() {
    let db = TestSchema::new();
    let store = db.store();
    let ada = customers(1)[0];
    let (a, b) = two_nodes(&store, &[ada]);
    let before = seal(&store, &a, ada, b"before the shred");
    // Node B has a sealing session and a cached opening key for ada.
    let on_b = seal(&store, &b, ada, b"b's session");
    assert_eq!(on_b.header().key_version(), before.header().key_version());
    assert_eq!(
        b.open(&before, &steward_request()).unwrap().as_bytes(),
        b"before the shred"
    );

    a.shred(ada).unwrap();

    for record in [&before, &on_b] {
        let error = b.open(record, &steward_request()).unwrap_err();
        assert!(
            matches!(error, LogsError::Open(OpenError::Shredded)),
            "node b opened a shredded record: {error}"
        );
    }
    // B's session was under the shredded key: the store refuses that record, B adopts the
    // shred and seals under a new generation, which node A opens.
    let after = seal(&store, &b, ada, b"after the shred");
    assert!(after.header().key_version() > before.header().key_version());
    assert_eq!(
        a.open(&after, &steward_request()).unwrap().as_bytes(),
        b"after the shred"
    );
    let stored: Vec<_> = store
        .keyring_snapshot()
        .unwrap()
        .data_keys()
        .iter()
        .map(|key| key.version())
        .collect();
    assert_eq!(stored, [after.header().key_version()]);
    assert!(store.record(after.header().record_id()).unwrap().is_some());
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn an_ingest_record_refused_after_another_nodes_shred_fails_once_then_logs_under_a_new_key() {
    let db = TestSchema::new();
    let store = db.store();
    let ada = customers(1)[0];
    let (a, b) = two_nodes(&store, &[ada]);
    let b = Arc::new(b);
    let ingest = Ingest::postgres(Arc::clone(&b), store.clone(), IngestConfig::default()).unwrap();
    let entry = |body: &'static str| LogEntry::new(ada, Timestamp::now(), body);
    let before = ingest.log_blocking(entry("before the shred")).unwrap();

    a.shred(ada).unwrap();

    // B seals under the key A shredded: the store refuses the record, and B adopts the shred.
    assert!(matches!(
        ingest.log_blocking(entry("refused")),
        Err(IngestError::Commit {
            source: StoreError::DataKeyShredded { .. }
        })
    ));
    let after = ingest.log_blocking(entry("after the shred")).unwrap();
    let bytes = store.record(after.record()).unwrap().unwrap();
    let record = SealedRecord::from_vec(bytes).unwrap();
    let old = SealedRecord::from_vec(store.record(before.record()).unwrap().unwrap()).unwrap();
    assert!(record.header().key_version() > old.header().key_version());
    assert_eq!(
        a.open(&record, &steward_request()).unwrap().as_bytes(),
        b"after the shred"
    );
    let report = ingest.shutdown_blocking();
    assert_eq!((report.committed(), report.failed()), (2, 1));
}

/// An async service calls `Ingest::log` on a runtime's thread: a customer's first seal there
/// stores their new key through the blocking client (which tokio would stop with a panic on
/// that thread), and the record is logged under it.
#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn a_first_seal_from_an_async_task_stores_its_key_and_logs() {
    let db = TestSchema::new();
    let store = db.store();
    let ada = customers(1)[0];
    let (a, b) = two_nodes(&store, &[ada]);
    assert!(store.keyring_snapshot().unwrap().data_keys().is_empty());
    let ingest = Ingest::postgres(Arc::new(b), store.clone(), IngestConfig::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let logged = runtime
        .block_on(async {
            ingest
                .log(LogEntry::new(ada, Timestamp::now(), "from a task"))
                .await
        })
        .unwrap();
    assert_eq!(store.keyring_snapshot().unwrap().data_keys().len(), 1);
    let bytes = store.record(logged.record()).unwrap().unwrap();
    catch_up(&a);
    a.refresh_customer(ada).unwrap();
    let opened = a
        .open(&SealedRecord::from_vec(bytes).unwrap(), &steward_request())
        .unwrap();
    assert_eq!(opened.as_bytes(), b"from a task");
    let report = ingest.shutdown_blocking();
    assert_eq!((report.committed(), report.failed()), (1, 0));
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn concurrent_opens_from_two_nodes_form_one_verified_chain() {
    let db = TestSchema::new();
    let store = db.store();
    let customers = customers(4);
    let (a, b) = two_nodes(&store, &customers);
    let records: Vec<_> = customers
        .iter()
        .map(|&customer| seal(&store, &a, customer, b"prompt"))
        .collect();
    let before = store.audit_entries().unwrap().len();
    const OPENS: usize = 30;
    let barrier = Barrier::new(2);
    thread::scope(|scope| {
        for vault in [&a, &b] {
            let records = &records;
            let barrier = &barrier;
            scope.spawn(move || {
                barrier.wait();
                for n in 0..OPENS {
                    let record = &records[n % records.len()];
                    assert_eq!(
                        vault.open(record, &steward_request()).unwrap().as_bytes(),
                        b"prompt"
                    );
                }
            });
        }
    });
    let entries = store.audit_entries().unwrap();
    assert_eq!(entries.len(), before + 2 * OPENS);
    keys().audit_key().unwrap().verify_chain(&entries).unwrap();
    assert!(
        entries
            .windows(2)
            .all(|pair| pair[0].entry().at() < pair[1].entry().at()),
        "the chain's instants do not increase"
    );
    // Either node's trail verifies the whole chain, and a checkpoint of it is stored.
    let head = a.audit().unwrap().verify().unwrap();
    assert_eq!(head.entries(), entries.len() as u64);
    let signer = steward::logs::CheckpointSigner::from_pkcs8(
        &steward::logs::CheckpointSigner::generate_pkcs8().unwrap(),
    )
    .unwrap();
    let checkpoint = b.audit().unwrap().checkpoint(&signer).unwrap();
    store.put_checkpoint(&checkpoint).unwrap();
    assert_eq!(store.latest_checkpoint().unwrap(), Some(checkpoint));
    b.audit()
        .unwrap()
        .verify_against(&checkpoint, &signer.public_key())
        .unwrap();
    // A node started now continues the one chain.
    let c = node(&store);
    c.open(&records[0], &steward_request()).unwrap();
    keys()
        .audit_key()
        .unwrap()
        .verify_chain(&store.audit_entries().unwrap())
        .unwrap();
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn the_record_limit_per_key_version_is_kept_in_the_database() {
    let db = TestSchema::new();
    let config = SealConfig::default()
        .with_records_per_key_version(3)
        .unwrap();
    let store = PgStore::create(&db.config.clone().with_seal_config(config), &keys()).unwrap();
    let ada = customers(1)[0];
    {
        let a = node(&store);
        set_up_facts(&a, &[ada]);
        for _ in 0..2 {
            assert_eq!(seal(&store, &a, ada, b"x").header().key_version().get(), 1);
        }
    }
    // A restarted node and a second node share the count: the third record still fits, the
    // fourth goes under a rotated key.
    let (a, b) = (node(&store), node(&store));
    assert_eq!(seal(&store, &a, ada, b"x").header().key_version().get(), 1);
    let fourth = seal(&store, &b, ada, b"x");
    assert_eq!(fourth.header().key_version().get(), 2);
    // Node a has not looked since: its session still seals under v1, and storing that
    // record is refused, the version being full.
    let sealed_under_v1 = a
        .seal(
            RecordId::generate_at(Timestamp::now()),
            ada,
            Timestamp::now(),
            b"y",
        )
        .unwrap();
    assert_eq!(sealed_under_v1.header().key_version().get(), 1);
    let error = store
        .put_records([(&sealed_under_v1, DataCategory::LlmRequestLog)])
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Logs(LogsError::Key(KeyError::DataKeyExhausted { .. }))
        ),
        "{error}"
    );
    let id = sealed_under_v1.header().record_id();
    assert!(store.record(id).unwrap().is_none());
    // Opening a record of ada reads her keys: node a then seals under v2 too.
    assert_eq!(
        a.open(&fourth, &steward_request()).unwrap().as_bytes(),
        b"x"
    );
    assert_eq!(seal(&store, &a, ada, b"z").header().key_version().get(), 2);
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn facts_written_on_one_node_reach_the_other_within_the_bound() {
    let db = TestSchema::new();
    let store = db.store();
    let a = node(&store);
    let b = Arc::new(node(&store));
    let follower = FactsFollower::start(Arc::clone(&b), &store).unwrap();
    let customers = customers(5);
    let poll = db.config.facts_poll();
    let mut worst = Duration::ZERO;
    for &customer in &customers {
        a.update_facts(|facts| facts.start_relationship(customer, Timestamp::now()))
            .unwrap()
            .unwrap();
        let written = Instant::now();
        let change = ConsentChange::new(
            customer,
            TrainingLevel::Shared,
            Timestamp::now(),
            ConsentActor::Customer,
            Channel::AccountSettings,
            Policy::coder_model().version().clone(),
        );
        a.update_facts(|facts| facts.record_consent(change))
            .unwrap()
            .unwrap();
        // Bounded wait: the change must show in what node b's check() reads within the poll
        // interval (the bound without notifications) plus generous scheduling slack.
        let deadline = written + poll + Duration::from_secs(5);
        let seen = || {
            b.facts()
                .unwrap()
                .training_level_at(customer, Timestamp::now())
                == TrainingLevel::Shared
        };
        while !seen() {
            assert!(
                Instant::now() < deadline,
                "node b did not see the consent change within the bound"
            );
            thread::sleep(Duration::from_millis(1));
        }
        worst = worst.max(written.elapsed());
    }
    eprintln!(
        "facts staleness across nodes: worst {worst:?} over {} changes (poll {poll:?})",
        customers.len()
    );
    drop(follower);
    // A node that writes first applies what it missed: no change is validated against stale
    // facts (ending a relationship node b never saw start would otherwise be refused).
    let c = node(&store);
    let late = customers[0];
    a.update_facts(|facts| facts.end_relationship(late, Timestamp::now()))
        .unwrap()
        .unwrap();
    c.update_facts(|facts| facts.start_relationship(late, Timestamp::now()))
        .unwrap()
        .unwrap();
    assert_eq!(
        c.facts().unwrap().applied(),
        a.facts().unwrap().applied() + 1
    );
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn a_change_whose_notification_is_lost_arrives_by_polling_within_the_bound() {
    let mut db = TestSchema::new();
    let store = db.store();
    let b = Arc::new(node(&store));
    let _follower = FactsFollower::start(Arc::clone(&b), &store).unwrap();
    // A change committed without its NOTIFY, as if the notification were lost: written as
    // a node would, minus the announcement.
    let schema = db.config.schema().to_owned();
    // Chained as a node would chain it, under the audit key.
    let newest = db
        .admin
        .query_opt(
            &format!("SELECT seq, hash FROM {schema}.fact_events ORDER BY seq DESC LIMIT 1"),
            &[],
        )
        .unwrap();
    let (sequence, previous) = newest.map_or((1, ChainHash::GENESIS), |row| {
        let hash: Vec<u8> = row.get(1);
        (
            row.get::<_, i64>(0) + 1,
            ChainHash::from_bytes(hash.try_into().unwrap()),
        )
    });
    let event = r#"{"kind":"steward_added","steward":"bob.ops"}"#;
    let hash = AuditKey::from_bytes(&AUDIT).unwrap().fact_log_key().chain(
        sequence.unsigned_abs(),
        &previous,
        event.as_bytes(),
    );
    let written = Instant::now();
    let mut tx = db.admin.transaction().unwrap();
    tx.execute(
        &format!("UPDATE {schema}.facts_head SET seq = $1"),
        &[&sequence],
    )
    .unwrap();
    tx.execute(
        &format!("INSERT INTO {schema}.fact_events (seq, event, hash) VALUES ($1, $2, $3)"),
        &[&sequence, &event, &hash.as_bytes().as_slice()],
    )
    .unwrap();
    tx.commit().unwrap();
    let bob = "bob.ops".parse().unwrap();
    let poll = db.config.facts_poll();
    let deadline = written + poll + Duration::from_secs(5);
    while !b.facts().unwrap().is_on_roster(&bob) {
        assert!(
            Instant::now() < deadline,
            "the change did not arrive by polling within the bound"
        );
        thread::sleep(Duration::from_millis(5));
    }
    eprintln!(
        "facts by polling alone: arrived after {:?} (poll {poll:?})",
        written.elapsed()
    );
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn a_removal_whose_event_cannot_be_stored_still_takes_effect_and_the_facts_fail_closed() {
    let mut db = TestSchema::new();
    let store = db.store();
    let ada = customers(1)[0];
    let a = node(&store);
    set_up_facts(&a, &[ada]);
    let record = seal(&store, &a, ada, b"prompt");
    let schema = db.config.schema().to_owned();
    // The facts log out of reach: the removal is audited, but its event cannot be written.
    db.admin
        .batch_execute(&format!(
            "ALTER TABLE {schema}.facts_head RENAME TO facts_head_away"
        ))
        .unwrap();
    let alice = "alice.ops".parse().unwrap();
    assert!(
        a.remove_steward(&alice, "dana.admin".parse().unwrap())
            .is_err()
    );
    db.admin
        .batch_execute(&format!(
            "ALTER TABLE {schema}.facts_head_away RENAME TO facts_head"
        ))
        .unwrap();
    assert!(!a.facts().unwrap().is_on_roster(&alice));
    assert!(matches!(
        a.update_facts(|facts| facts.catch_up()).unwrap(),
        Err(StoreError::FactsDiverged)
    ));
    let error = a.open(&record, &steward_request()).unwrap_err();
    assert!(
        matches!(error, LogsError::Open(OpenError::Denied { .. })),
        "{error}"
    );
    // A node opened again reads the log, where alice was never removed: the audit trail
    // holds the removal, for the operator to repeat it.
    let reopened = node(&store);
    assert!(reopened.facts().unwrap().is_on_roster(&alice));
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn facts_go_stale_on_time_while_the_follower_hangs_on_the_store() {
    let mut db = TestSchema::new();
    let config = db
        .config
        .clone()
        .with_facts_max_staleness(Duration::from_secs(1))
        .unwrap();
    let store = PgStore::create(&config, &keys()).unwrap();
    let ada = customers(1)[0];
    let b = Arc::new(node(&store));
    set_up_facts(&b, &[ada]);
    let record = seal(&store, &b, ada, b"prompt");
    let _follower = FactsFollower::start(Arc::clone(&b), &store).unwrap();
    let schema = config.schema().to_owned();
    // Another session locks the log: the follower's next read waits for as long as the lock
    // is held, as a read would on a partitioned network.
    db.admin
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE {schema}.fact_events IN ACCESS EXCLUSIVE MODE"
        ))
        .unwrap();
    let locked = Instant::now();
    while !b.facts().unwrap().is_stale() {
        assert!(
            locked.elapsed() < Duration::from_secs(10),
            "the facts did not go stale while the follower hung"
        );
        thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "facts went stale {:?} after the follower hung (bound 1 s)",
        locked.elapsed()
    );
    let error = b.open(&record, &steward_request()).unwrap_err();
    assert!(
        matches!(error, LogsError::Open(OpenError::Denied { .. })),
        "{error}"
    );
    db.admin.batch_execute("ROLLBACK").unwrap();
    // The follower catches up once the store answers again, and the facts answer.
    let released = Instant::now();
    while b.facts().unwrap().is_stale() {
        assert!(
            released.elapsed() < Duration::from_secs(10),
            "the facts stayed stale after the store answered again"
        );
        thread::sleep(Duration::from_millis(20));
    }
    b.open(&record, &steward_request()).unwrap();
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn a_roster_change_on_a_node_behind_is_decided_on_the_roster_everyone_sees() {
    let db = TestSchema::new();
    let store = db.store();
    let (a, b) = two_nodes(&store, &[]);
    let bob: steward::vocabulary::StewardId = "bob.ops".parse().unwrap();
    a.add_steward(bob.clone(), "dana.admin".parse().unwrap())
        .unwrap();
    // Node b has not heard of bob: it catches up before deciding, and removes him.
    assert!(!b.facts().unwrap().is_on_roster(&bob));
    assert!(
        b.remove_steward(&bob, "dana.admin".parse().unwrap())
            .unwrap()
    );
    catch_up(&a);
    assert!(!a.facts().unwrap().is_on_roster(&bob));
    // A node whose facts cannot answer refuses, rather than reporting bob absent.
    b.update_facts(steward_store::pg::PgFacts::mark_stale)
        .unwrap();
    let mut admin = postgres::Client::connect(&connection(), postgres::NoTls).unwrap();
    let schema = db.config.schema().to_owned();
    admin
        .batch_execute(&format!("ALTER TABLE {schema}.fact_events RENAME TO away"))
        .unwrap();
    let refused = b.remove_steward(&"alice.ops".parse().unwrap(), "dana.admin".parse().unwrap());
    admin
        .batch_execute(&format!("ALTER TABLE {schema}.away RENAME TO fact_events"))
        .unwrap();
    assert!(
        matches!(
            refused,
            Err(LogsError::Config(
                steward::logs::ConfigError::RosterUnavailable { .. }
            ))
        ),
        "{refused:?}"
    );
    assert!(
        a.facts()
            .unwrap()
            .is_on_roster(&"alice.ops".parse().unwrap())
    );
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn stale_facts_deny_until_they_catch_up() {
    let db = TestSchema::new();
    let store = db.store();
    let a = node(&store);
    let ada = customers(1)[0];
    set_up_facts(&a, &[ada]);
    let record = seal(&store, &a, ada, b"prompt");
    a.open(&record, &steward_request()).unwrap();
    a.update_facts(steward_store::pg::PgFacts::mark_stale)
        .unwrap();
    let error = a.open(&record, &steward_request()).unwrap_err();
    assert!(
        matches!(error, LogsError::Open(OpenError::Denied { .. })),
        "{error}"
    );
    catch_up(&a);
    a.open(&record, &steward_request()).unwrap();
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn a_training_export_on_one_node_streams_every_nodes_records() {
    let db = TestSchema::new();
    let store = db.store();
    let (a, b) = (node(&store), node(&store));
    let mut people = customers(2).into_iter();
    let (ada, ben) = (people.next().unwrap(), people.next().unwrap());
    set_up_facts(&a, &[ada, ben]);
    a.update_facts(|facts| {
        facts.record_consent(ConsentChange::new(
            ada,
            TrainingLevel::Shared,
            Timestamp::now(),
            ConsentActor::Customer,
            Channel::AccountSettings,
            Policy::coder_model().version().clone(),
        ))
    })
    .unwrap()
    .unwrap();
    catch_up(&b);
    for _ in 0..150 {
        for vault in [&a, &b] {
            seal(&store, vault, ada, b"a prompt");
            seal(&store, vault, ben, b"a prompt");
        }
    }
    let mut exported = 0;
    let outcome = b
        .export_training(
            steward::vocabulary::TrainingScope::Shared,
            |pass| store.stream_records(steward_store::RecordScan::All, pass),
            |record| {
                assert_eq!(record.header().customer(), ada);
                exported += 1;
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(exported, 300);
    assert_eq!(outcome.counts.consent, 300);
    assert!(outcome.matches_plan());
    let metas: Vec<_> = store
        .record_metas(steward_store::RecordScan::Customer(ben))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(metas.len(), 300);
    assert!(metas.iter().all(|meta| meta.customer() == ben));
    assert!(
        metas
            .windows(2)
            .all(|pair| pair[0].collected_at() <= pair[1].collected_at())
    );
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn a_sweep_on_one_node_deletes_and_shreds_for_every_node() {
    let db = TestSchema::new();
    let store = db.store();
    let ada = customers(1)[0];
    let (a, b) = two_nodes(&store, &[ada]);
    let record = seal(&store, &b, ada, b"prompt");
    let ended = Timestamp::now();
    a.update_facts(|facts| facts.end_relationship(ada, ended))
        .unwrap()
        .unwrap();
    let later = Timestamp::from_unix_nanos(ended.unix_nanos() + 31 * 86_400 * 1_000_000_000);
    let report = {
        let facts = a.facts().unwrap();
        let sweep = steward::retention::Sweep::new(
            a.policy().retention(),
            facts.relationships().unwrap(),
            facts.holds().unwrap(),
        );
        let metas: Vec<_> = store
            .record_metas(steward_store::RecordScan::All)
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = sweep.plan(metas, later);
        let mut records = steward_store::SweepRecords::new(store.clone(), &*facts);
        // The test's clock stands at `later`: the sweep executes at its clock's now.
        sweep.execute(
            &plan,
            &mut records,
            &mut steward::VaultShredder::new(&a, &*facts),
            &steward::vocabulary::ManualClock::new(later),
        )
    };
    assert_eq!(report.deleted().len(), 1);
    assert_eq!(report.shredded(), [ada]);
    assert!(store.record(record.header().record_id()).unwrap().is_none());
    // Node b never heard of the sweep: its copy of the key is gone all the same.
    b.refresh_customer(ada).unwrap();
    assert!(b.keyring().unwrap().is_shredded(ada));
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn nodes_work_within_a_pool_of_one_connection() {
    let db = TestSchema::new();
    // One pooled connection per store handle: no path may need two at once (it would wait
    // for itself until the pool gives up), and threads take turns.
    let config = db.config.clone().with_max_connections(1).unwrap();
    let store = PgStore::create(&config, &keys()).unwrap();
    let customers = customers(4);
    let (a, b) = two_nodes(&store, &customers);
    let b = Arc::new(b);
    let _follower = FactsFollower::start(Arc::clone(&b), &store).unwrap();
    let records: Vec<SealedRecord> = thread::scope(|scope| {
        let sealers: Vec<_> = customers
            .iter()
            .enumerate()
            .map(|(n, &customer)| {
                let (store, vault) = (&store, if n % 2 == 0 { &a } else { &*b });
                scope.spawn(move || seal(store, vault, customer, b"prompt"))
            })
            .collect();
        sealers
            .into_iter()
            .map(|sealer| sealer.join().unwrap())
            .collect()
    });
    for record in &records {
        assert_eq!(
            b.open(record, &steward_request()).unwrap().as_bytes(),
            b"prompt"
        );
    }
    a.update_facts(|facts| facts.end_relationship(customers[0], Timestamp::now()))
        .unwrap()
        .unwrap();
    b.shred(customers[0]).unwrap();
    assert!(a.open(&records[0], &steward_request()).is_err());
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn a_batch_is_stored_whole_or_not_at_all_and_counted_once() {
    let db = TestSchema::new();
    // Two records per key version, so that a count taken twice shows as a rotation.
    let config = db.config.clone().with_seal_config(
        SealConfig::default()
            .with_records_per_key_version(2)
            .unwrap(),
    );
    let store = PgStore::create(&config, &keys()).unwrap();
    let customers = customers(4);
    let (a, b) = two_nodes(&store, &customers);
    let seal_on = |vault: &PgVault, customer| {
        let now = Timestamp::now();
        vault
            .seal(RecordId::generate_at(now), customer, now, b"batched")
            .unwrap()
    };
    // New records under live keys: one statement stores them all, each counted once.
    let batch: Vec<_> = customers.iter().map(|&c| seal_on(&a, c)).collect();
    let stored = store
        .put_records(batch.iter().map(|r| (r, DataCategory::LlmRequestLog)))
        .unwrap();
    assert_eq!(stored, customers.len());
    // Again: harmless, and not counted twice (the limit test relies on the counts).
    store
        .put_records(batch.iter().map(|r| (r, DataCategory::LlmRequestLog)))
        .unwrap();
    for record in &batch {
        assert_eq!(
            b.open(record, &steward_request()).unwrap().as_bytes(),
            b"batched"
        );
    }
    let second = seal(&store, &a, customers[2], b"second record of v1");
    assert_eq!(second.header().key_version().get(), 1, "counted twice");
    // A batch with one record under a key shredded elsewhere stores nothing, and names why.
    let doomed = customers[0];
    let stale = seal_on(&b, doomed);
    a.shred(doomed).unwrap();
    let fresh = seal_on(&b, customers[1]);
    let error = store
        .put_records([
            (&fresh, DataCategory::LlmRequestLog),
            (&stale, DataCategory::LlmRequestLog),
        ])
        .unwrap_err();
    assert!(
        matches!(error, StoreError::DataKeyShredded { .. }),
        "{error}"
    );
    assert!(store.record(fresh.header().record_id()).unwrap().is_none());
    assert!(store.record(stale.header().record_id()).unwrap().is_none());
}

#[test]
#[cfg_attr(
    not(pg_tests),
    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
)]
fn a_column_of_another_type_is_reported_corrupt_not_a_panic() {
    let mut db = TestSchema::new();
    let store = db.store();
    let a = node(&store);
    a.add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
        .unwrap();
    let schema = db.config.schema().to_owned();
    db.admin
        .batch_execute(&format!(
            "ALTER TABLE {schema}.audit_entries ALTER COLUMN entry TYPE bytea \
             USING convert_to(entry, 'UTF8')"
        ))
        .unwrap();
    let error = store.audit_entries().unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Corrupt {
                table: "audit_entries",
                ..
            }
        ),
        "{error}"
    );
}
