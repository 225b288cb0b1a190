//! Two processes on one SQLite file behave like two nodes on one PostgreSQL database: this
//! test binary runs itself as a child "server" process that holds a vault on the store (with
//! a facts follower) and answers one command per line on its stdin; the test process holds a
//! vault of its own on the same file. Between them they seal, open, add customers and change
//! consent, and every answer must be the one a single process would give:
//!
//! - a record sealed by either opens in the other, also for a customer whose first data key
//!   the other issued after both started (the key is adopted, not refused as a conflict);
//! - a customer started and given consent by one is served by the other (the facts follow);
//! - a consent withdrawal made by one is in force in the other within the follower's poll;
//! - both append to one audit chain, which verifies, with every access of both in it.
//!
//! Run the child alone: `STEWARD_PROCESSES_STORE=<existing store> cargo test -p
//! steward-store --test store -- --exact processes::server_child --ignored --nocapture`.

use std::{
    io::{BufRead, BufReader, Lines, Write},
    path::Path,
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use steward::{
    Policy,
    consent::{Channel, ConsentActor, ConsentChange},
    logs::{AccessRequest, AuditEvent, AuditOutcome, BoxError, SealedRecord},
    vocabulary::{CustomerId, DataCategory, Purpose, RecordId, Timestamp, TrainingLevel},
};
use steward_store::{SqliteStore, StoreFactsFollower, StoreVault, open_vault};

use crate::common::*;

/// The store the child serves; without it, the child test does nothing.
const STORE_VAR: &str = "STEWARD_PROCESSES_STORE";

/// How long a change may take to reach the other process: the follower polls every 20 ms,
/// so this is generous, for a loaded test machine.
const FOLLOW_WITHIN: Duration = Duration::from_secs(5);

#[test]
fn each_process_opens_the_records_the_other_sealed_under_keys_it_issued_after_both_started() {
    let dir = TempDir::new("processes-keys");
    prepare(&dir.db(), &[1, 2]);
    let mut server = Server::start(&dir.db());
    let (store, vault, _follower) = open(&dir.db());

    // Customer 1's first data key is issued by the server, after this process opened.
    let by_server = server.ask("seal 1").parse::<RecordId>().unwrap();
    assert_eq!(open_here(&store, &vault, by_server).unwrap(), body(1));
    // This process seals for customer 1 too: it adopts the server's key instead of failing
    // on a conflicting one, and the server opens the record.
    let here = seal_here(&store, &vault, customer(1));
    assert_eq!(server.ask(&format!("open {here}")), body(1));
    assert_eq!(
        vault.keyring().unwrap().current_version(customer(1)),
        store
            .customer_keys(customer(1))
            .unwrap()
            .data_keys()
            .last()
            .map(|key| key.version()),
        "one key per customer and version, whoever issued it"
    );
    // And the other way round: customer 2's first key is issued here.
    let here = seal_here(&store, &vault, customer(2));
    assert_eq!(server.ask(&format!("open {here}")), body(2));
    let by_server = server.ask("seal 2").parse::<RecordId>().unwrap();
    assert_eq!(open_here(&store, &vault, by_server).unwrap(), body(2));
    server.quit();
}

#[test]
fn a_customer_started_and_a_consent_changed_in_one_process_are_in_force_in_the_other() {
    let dir = TempDir::new("processes-facts");
    prepare(&dir.db(), &[1]);
    let mut server = Server::start(&dir.db());
    let (store, vault, _follower) = open(&dir.db());

    // A new customer with shared consent, added by the server after this process opened.
    assert_eq!(server.ask("start 3"), "started");
    assert_eq!(server.ask("consent 3 shared"), "shared");
    eventually(|| level_here(&vault, customer(3)) == TrainingLevel::Shared);
    // This process seals for them at the level the server recorded and opens the server's
    // record for them (the relationship is in force here too).
    let here = seal_here(&store, &vault, customer(3));
    let record = SealedRecord::from_vec(store.record(here).unwrap().unwrap()).unwrap();
    assert_eq!(record.header().consent(), TrainingLevel::Shared);
    let by_server = server.ask("seal 3").parse::<RecordId>().unwrap();
    assert_eq!(open_here(&store, &vault, by_server).unwrap(), body(3));

    // A withdrawal here reaches the server: its next record is sealed with no consent.
    change_consent_here(&vault, customer(3), TrainingLevel::None);
    let deadline = Instant::now() + FOLLOW_WITHIN;
    while server.ask("level 3") != "none" {
        assert!(
            Instant::now() < deadline,
            "the server never saw the withdrawal"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let by_server = server.ask("seal 3").parse::<RecordId>().unwrap();
    let record = SealedRecord::from_vec(store.record(by_server).unwrap().unwrap()).unwrap();
    assert_eq!(record.header().consent(), TrainingLevel::None);
    server.quit();
}

#[test]
fn both_processes_append_to_one_audit_chain_that_verifies() {
    let dir = TempDir::new("processes-audit");
    prepare(&dir.db(), &[1]);
    let mut server = Server::start(&dir.db());
    let (store, vault, _follower) = open(&dir.db());
    let record = server.ask("seal 1").parse::<RecordId>().unwrap();
    // Opens alternate between the processes: each entry continues after the other's.
    let rounds = 10;
    for _ in 0..rounds {
        assert_eq!(open_here(&store, &vault, record).unwrap(), body(1));
        assert_eq!(server.ask(&format!("open {record}")), body(1));
    }
    server.quit();
    drop((vault, _follower));

    let entries = store.audit_entries().unwrap();
    keys().audit_key().unwrap().verify_chain(&entries).unwrap();
    let opened = entries
        .iter()
        .filter(|entry| {
            matches!(entry.entry().event(), AuditEvent::Access(access)
                if access.outcome() == AuditOutcome::Opened)
        })
        .count();
    assert_eq!(opened, 2 * rounds);
    // A vault opened afterwards continues the one chain.
    let (store, vault, _follower) = open(&dir.db());
    assert_eq!(open_here(&store, &vault, record).unwrap(), body(1));
}

/// The child: a vault on the store named by [`STORE_VAR`], with a follower, serving one
/// command per line on stdin and answering `OK <answer>` or `ERR <error>` on stdout.
#[test]
#[ignore = "run by the processes tests as a child process"]
fn server_child() -> Result<(), BoxError> {
    let Some(path) = std::env::var_os(STORE_VAR) else {
        return Ok(());
    };
    let (store, vault, _follower) = open(Path::new(&path));
    // The harness printed `test processes::server_child ... ` without a line break.
    say("\nREADY")?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer: Result<String, BoxError> = match words.as_slice() {
            ["seal", who] => Ok(seal_here(&store, &vault, customer(who.parse()?)).to_string()),
            ["open", id] => open_here(&store, &vault, id.parse()?),
            ["start", who] => {
                let owner = customer(who.parse()?);
                vault.update_facts(|facts| facts.start_relationship(owner, Timestamp::now()))??;
                Ok("started".to_owned())
            }
            ["consent", who, level] => {
                change_consent_here(&vault, customer(who.parse()?), level.parse()?);
                Ok((*level).to_owned())
            }
            ["level", who] => Ok(level_here(&vault, customer(who.parse()?)).to_string()),
            ["quit"] => return Ok(()),
            _ => Err(format!("unknown command `{line}`").into()),
        };
        match answer {
            Ok(answer) => say(&format!("OK {answer}"))?,
            Err(error) => say(&format!("ERR {error}"))?,
        }
    }
    Ok(())
}

/// The child process, answering commands.
struct Server {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Server {
    fn start(db: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "processes::server_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(STORE_VAR, db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut server = Self {
            child,
            stdin,
            lines,
        };
        server.read_until(|line| (line == "READY").then_some(()));
        server
    }

    /// Sends `command` and returns the server's answer; an `ERR` fails the test.
    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let answer = self.read_until(|line| {
            line.strip_prefix("OK ")
                .map(|answer| Ok(answer.to_owned()))
                .or_else(|| line.strip_prefix("ERR ").map(|error| Err(error.to_owned())))
        });
        answer
            .map_err(|error| format!("the server refused `{command}`: {error}"))
            .unwrap()
    }

    /// Reads lines until `wanted` picks one (the harness prints lines of its own).
    fn read_until<T>(&mut self, mut wanted: impl FnMut(&str) -> Option<T>) -> T {
        self.lines
            .find_map(|line| wanted(line.unwrap().trim()))
            .ok_or("the server stopped answering")
            .unwrap()
    }

    fn quit(mut self) {
        writeln!(self.stdin, "quit").unwrap();
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A failed test must not leave its child behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A store with the steward on the roster and the given customers' relationships.
fn prepare(db: &Path, customers: &[u8]) {
    let store = SqliteStore::create(db, &keys()).unwrap();
    let vault = open_vault(&store, &keys(), Policy::coder_model()).unwrap();
    vault
        .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
        .unwrap();
    vault
        .update_facts(|facts| {
            for who in customers {
                facts.start_relationship(customer(*who), Timestamp::now())?;
            }
            Ok::<_, steward_store::StoreError>(())
        })
        .unwrap()
        .unwrap();
}

fn open(db: &Path) -> (SqliteStore, Arc<StoreVault>, StoreFactsFollower) {
    let store = SqliteStore::open(db, &keys()).unwrap();
    let vault = Arc::new(open_vault(&store, &keys(), Policy::coder_model()).unwrap());
    let follower = StoreFactsFollower::start(Arc::clone(&vault), &store).unwrap();
    (store, vault, follower)
}

/// Seals a record for `owner` at the level in force, stores it and returns its id.
fn seal_here(store: &SqliteStore, vault: &StoreVault, owner: CustomerId) -> RecordId {
    let now = Timestamp::now();
    let id = RecordId::generate_at(now);
    let record = vault
        .seal(id, owner, now, body_of(owner).as_bytes())
        .unwrap();
    store
        .put_record(&record, DataCategory::LlmRequestLog)
        .unwrap();
    id
}

fn open_here(store: &SqliteStore, vault: &StoreVault, id: RecordId) -> Result<String, BoxError> {
    let bytes = store.record(id)?.ok_or("no such record")?;
    let record = SealedRecord::from_vec(bytes)?;
    let request = AccessRequest::with_justification_text(
        "alice.ops".parse()?,
        Purpose::Troubleshooting,
        "INC-42",
    );
    Ok(String::from_utf8(
        vault.open(&record, &request)?.as_bytes().to_vec(),
    )?)
}

fn change_consent_here(vault: &StoreVault, owner: CustomerId, level: TrainingLevel) {
    let change = ConsentChange::new(
        owner,
        level,
        Timestamp::now(),
        ConsentActor::Customer,
        Channel::AccountSettings,
        vault.policy().version().clone(),
    );
    vault
        .update_facts(|facts| facts.record_consent(change))
        .unwrap()
        .unwrap();
}

fn level_here(vault: &StoreVault, owner: CustomerId) -> TrainingLevel {
    vault
        .facts()
        .unwrap()
        .consent()
        .unwrap()
        .level_at(owner, Timestamp::now())
}

fn eventually(mut holds: impl FnMut() -> bool) {
    let deadline = Instant::now() + FOLLOW_WITHIN;
    while !holds() {
        assert!(
            Instant::now() < deadline,
            "the change never reached this process"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn body(n: u8) -> String {
    body_of(customer(n))
}

fn body_of(owner: CustomerId) -> String {
    format!("prompt for {owner}")
}

fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}
