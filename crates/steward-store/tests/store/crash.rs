//! Crash safety: this test binary runs itself as a child process that works on a store
//! (sealing and storing records, opening them, changing consent, rotating and shredding keys)
//! and prints a line after each step it got an answer for; the parent kills it with SIGKILL
//! after a chosen number of lines, reopens the store and checks that whatever the child was
//! told had happened still holds:
//!
//! - every acknowledged record is stored and opens, with its body, unless its customer was
//!   shredded after it (then it fails as shredded, and its key version is destroyed);
//! - the audit chain verifies, and holds an `opened` entry for every plaintext the child got;
//! - every acknowledged shred holds, and was audited; so does every shred whose entry the chain
//!   holds, which the reopening completes (and audits) if the child died before its deletion;
//! - every acknowledged consent change is stored, and the level in force is the last one.
//!
//! The step the child was in when it died may or may not have happened; the checks allow
//! both. The child runs ahead of the parent's reading (its lines wait in the pipe), and every
//! line left in the pipe after the kill is an acknowledgement too, so the kill lands at a
//! point of the child's work no test chooses: the assertions must hold for any. A second
//! thread in the child seals for a customer of its own meanwhile, so records of both threads
//! share group commits when the kill comes.
//!
//! Run the child alone: `STEWARD_CRASH_STORE=<existing store> cargo test -p steward-store
//! --test store -- --exact crash::crash_child --ignored --nocapture` (it never stops).

use std::{
    collections::HashMap,
    fs::File,
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use steward::{
    Policy,
    consent::{Channel, ConsentActor, ConsentChange},
    logs::{AccessRequest, AuditEvent, AuditOutcome, BoxError, LogsError, OpenError, SealedRecord},
    vocabulary::{CustomerId, DataCategory, Purpose, RecordId, Timestamp, TrainingLevel},
};
use steward_store::{GroupCommitter, SqliteStore, StoreVault, open_vault};

use crate::common::*;

/// The store the child works on; without it, the child test does nothing.
const STORE_VAR: &str = "STEWARD_CRASH_STORE";
/// The seed of the child's mix of steps.
const SEED_VAR: &str = "STEWARD_CRASH_SEED";
/// The child's main thread works for `customer(0..CUSTOMERS)`.
const CUSTOMERS: u8 = 4;
/// The child's second thread only seals for this customer, who is never shredded.
const BACKGROUND: u8 = 9;
/// A child that is never killed stops after this many steps (and the parent then fails).
const MAX_STEPS: u64 = 100_000;

/// Where a fresh store's child is killed: after this many lines of its main thread. Small
/// numbers land in the first steps (a customer's first data key, the first audit entries);
/// the larger ones after shreds, rotations and returning customers.
const KILL_POINTS: [usize; 15] = [1, 2, 3, 4, 6, 8, 11, 15, 20, 26, 33, 41, 50, 60, 72];
/// Further kills at points drawn from a fixed seed, each after a pause of its own once its
/// line was read, so that kills land anywhere inside a step too (a step takes about a
/// millisecond here), not only just after a line was printed.
const DRAWN_KILLS: u64 = 15;
const MAX_PAUSE_MICROS: u64 = 2_000;

#[test]
fn nothing_acknowledged_is_lost_or_undone_wherever_the_process_dies() {
    let mut kills: Vec<Kill> = (1..)
        .zip(KILL_POINTS)
        .map(|(seed, after_lines)| Kill {
            seed,
            after_lines,
            pause: Duration::ZERO,
        })
        .collect();
    let mut dice = Dice::new(0x5eed_c0de);
    for seed in 100..100 + DRAWN_KILLS {
        kills.push(Kill {
            seed,
            after_lines: 1 + usize::try_from(dice.below(80)).unwrap(),
            pause: Duration::from_micros(dice.below(MAX_PAUSE_MICROS)),
        });
    }
    let mut checked = 0;
    for kill in kills {
        let dir = TempDir::new("crash");
        prepare(&dir.db());
        let mut seen = Acknowledged::default();
        let run = run_child(&dir, &kill);
        seen.absorb(&run);
        checked += verify(&dir.db(), &seen, &run);
    }
    // Kills after the first lines may come before any record; the later ones must not.
    assert!(
        checked >= 50,
        "only {checked} acknowledged records were checked"
    );
}

#[test]
fn a_store_recovers_from_one_crash_after_another() {
    let dir = TempDir::new("crash-chain");
    prepare(&dir.db());
    let mut seen = Acknowledged::default();
    // Each child continues on what the crash before left (and the parent's checks wrote).
    for (seed, after_lines) in [(201, 9), (202, 3), (203, 25), (204, 14), (205, 40)] {
        let kill = Kill {
            seed,
            after_lines,
            pause: Duration::ZERO,
        };
        let run = run_child(&dir, &kill);
        seen.absorb(&run);
        let checked = verify(&dir.db(), &seen, &run);
        assert_eq!(checked, seen.records().count());
    }
    assert!(
        seen.records().count() > 10,
        "the chained runs acknowledged too few records to mean anything"
    );
}

/// The child: works on the store named by [`STORE_VAR`] until it is killed, printing a line
/// after every step that returned (see [`Line`]). Does nothing when the variable is unset,
/// so `--include-ignored` runs are unaffected.
#[test]
#[ignore = "the child process of the crash tests: they run it with STEWARD_CRASH_STORE set"]
fn crash_child() -> Result<(), BoxError> {
    let Some(path) = std::env::var_os(STORE_VAR) else {
        return Ok(());
    };
    let seed: u64 = std::env::var(SEED_VAR)?.parse()?;
    let keys = keys();
    let store = SqliteStore::open(&path, &keys)?;
    let vault = Arc::new(open_vault(&store, &keys, Policy::coder_model())?);
    let committer = Arc::new(GroupCommitter::new(&store)?);
    // The harness has printed `test crash::crash_child ... ` without a line break: end its
    // line, so that the first step's line stands on its own.
    say("")?;
    let stop = Arc::new(AtomicBool::new(false));
    let background = {
        let (vault, committer, stop) = (vault.clone(), committer.clone(), stop.clone());
        thread::spawn(move || -> Result<(), BoxError> {
            let owner = customer(BACKGROUND);
            let mut count = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let tag = format!("bg-{seed}-{count}");
                let id = seal_and_put(&vault, &committer, owner, &tag)?;
                say(&format!("ACK background {id} {BACKGROUND} {tag}"))?;
                count += 1;
            }
            Ok(())
        })
    };
    let worked = work(&store, &vault, &committer, seed);
    stop.store(true, Ordering::Relaxed);
    background
        .join()
        .map_err(|_| "the background sealer panicked")??;
    worked
}

/// The child's main thread: a deterministic mix of steps, each announced (`DO ...`) and,
/// once it returned, acknowledged.
fn work(
    store: &SqliteStore,
    vault: &StoreVault,
    committer: &GroupCommitter,
    seed: u64,
) -> Result<(), BoxError> {
    let mut dice = Dice::new(seed);
    // Consent instants must increase across the store (the ledger refuses a clock going
    // backwards), also after a restart on a store an earlier child wrote.
    let mut latest = crate::common::stored_receipts(store)
        .iter()
        .map(|receipt| receipt.effective.max(receipt.recorded_at))
        .max()
        .unwrap_or(Timestamp::MIN);
    // This child's records, by customer index, and whether a shred came after each.
    let mut records: Vec<(RecordId, u8, bool)> = Vec::new();
    for step in 0..MAX_STEPS {
        let who = u8::try_from(dice.below(u64::from(CUSTOMERS)))?;
        let owner = customer(who);
        match dice.below(100) {
            roll if roll < 45 || (roll < 65 && records.is_empty()) => {
                say(&format!("DO seal {who}"))?;
                let tag = format!("{seed}-{step}");
                let id = seal_and_put(vault, committer, owner, &tag)?;
                records.push((id, who, false));
                say(&format!("ACK record {id} {who} {tag}"))?;
            }
            roll if roll < 65 => {
                let index = usize::try_from(dice.below(u64::try_from(records.len())?))?;
                let &(id, _, shredded) = records.get(index).ok_or("no such record")?;
                say(&format!("DO open {id}"))?;
                let bytes = store
                    .record(id)?
                    .ok_or("an acknowledged record is missing")?;
                let record = SealedRecord::from_vec(bytes)?;
                match (vault.open(&record, &steward_request()), shredded) {
                    (Ok(_plaintext), false) => say(&format!("OPENED {id}"))?,
                    (Err(LogsError::Open(OpenError::Shredded)), true) => {
                        say(&format!("REFUSED {id}"))?;
                    }
                    (Ok(_), true) => return Err("a shredded customer's record opened".into()),
                    (Err(error), _) => return Err(error.into()),
                }
            }
            roll if roll < 80 => {
                let level = [
                    TrainingLevel::None,
                    TrainingLevel::Private,
                    TrainingLevel::Shared,
                    TrainingLevel::OpenWeight,
                ]
                .get(usize::try_from(dice.below(4))?)
                .copied()
                .ok_or("no such level")?;
                say(&format!("DO consent {who} {level}"))?;
                let at = Timestamp::now().max(Timestamp::from_unix_nanos(latest.unix_nanos() + 1));
                latest = at;
                let change = ConsentChange::new(
                    owner,
                    level,
                    at,
                    ConsentActor::Customer,
                    Channel::AccountSettings,
                    vault.policy().version().clone(),
                );
                let receipt = vault.update_facts(|facts| facts.record_consent(change))??;
                say(&format!(
                    "ACK consent {who} {level} {}",
                    receipt.receipt.get()
                ))?;
            }
            roll if roll < 88 => {
                say(&format!("DO rotate {who}"))?;
                let version = vault.rotate_data_key(owner)?;
                say(&format!("ACK rotate {who} {}", version.get()))?;
            }
            _ => {
                say(&format!("DO shred {who}"))?;
                vault.shred(owner)?;
                for record in records.iter_mut().filter(|record| record.1 == who) {
                    record.2 = true;
                }
                say(&format!("ACK shred {who}"))?;
            }
        }
    }
    Ok(())
}

/// Seals a record of `owner` whose body names `tag`, stores it, and returns its id once it is
/// durable.
fn seal_and_put(
    vault: &StoreVault,
    committer: &GroupCommitter,
    owner: CustomerId,
    tag: &str,
) -> Result<RecordId, BoxError> {
    let now = Timestamp::now();
    let id = RecordId::generate_at(now);
    let record = vault.seal(id, owner, now, body(tag).as_bytes())?;
    committer.put(record, DataCategory::LlmRequestLog)?;
    Ok(id)
}

fn body(tag: &str) -> String {
    format!("prompt {tag}")
}

/// One line on stdout, flushed at once: the parent reads it as soon as it is written. Written
/// to the stream directly, so no test-harness capture holds it back.
fn say(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

fn steward_request() -> AccessRequest {
    AccessRequest::with_justification_text(
        "alice.ops".parse().unwrap(),
        Purpose::Troubleshooting,
        "INC-42",
    )
}

/// A new store with the steward and every customer's relationship, as the child expects.
fn prepare(db: &Path) {
    let store = SqliteStore::create(db, &keys()).unwrap();
    let vault = open_vault(&store, &keys(), Policy::coder_model()).unwrap();
    vault
        .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
        .unwrap();
    vault
        .update_facts(|facts| {
            for who in (0..CUSTOMERS).chain([BACKGROUND]) {
                facts.start_relationship(customer(who), Timestamp::now())?;
            }
            Ok::<_, steward_store::StoreError>(())
        })
        .unwrap()
        .unwrap();
}

/// What one child printed, parsed, and the step it was in when it died.
struct Run {
    lines: Vec<Line>,
    in_flight: Option<Step>,
}

/// A line of the child's protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// `DO <step>`: the main thread starts a step.
    Do(Step),
    /// `ACK record <id> <customer> <tag>` (main thread) or `ACK background ...` (the other):
    /// the record is durable.
    Record {
        id: RecordId,
        customer: u8,
        tag: String,
    },
    /// `OPENED <id>`: the child got the plaintext.
    Opened(RecordId),
    /// `REFUSED <id>`: the record failed as shredded, as the child expected.
    Refused,
    /// `ACK consent <customer> <level> <receipt>`.
    Consent {
        customer: u8,
        level: TrainingLevel,
        receipt: u32,
    },
    /// `ACK rotate <customer> <version>`.
    Rotated,
    /// `ACK shred <customer>`.
    Shredded(u8),
}

/// A step the main thread announced.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Seal,
    Open,
    Consent { customer: u8, level: TrainingLevel },
    Rotate,
    Shred(u8),
}

impl Line {
    fn parse(text: &str) -> Option<Self> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let customer = |word: &str| word.parse::<u8>().ok();
        Some(match words.as_slice() {
            ["DO", "seal", _] => Self::Do(Step::Seal),
            ["DO", "open", _] => Self::Do(Step::Open),
            ["DO", "consent", who, level] => Self::Do(Step::Consent {
                customer: customer(who)?,
                level: level.parse().ok()?,
            }),
            ["DO", "rotate", _] => Self::Do(Step::Rotate),
            ["DO", "shred", who] => Self::Do(Step::Shred(customer(who)?)),
            ["ACK", "record" | "background", id, who, tag] => Self::Record {
                id: id.parse().ok()?,
                customer: customer(who)?,
                tag: (*tag).to_owned(),
            },
            ["OPENED", id] => Self::Opened(id.parse().ok()?),
            ["REFUSED", _] => Self::Refused,
            ["ACK", "consent", who, level, receipt] => Self::Consent {
                customer: customer(who)?,
                level: level.parse().ok()?,
                receipt: receipt.parse().ok()?,
            },
            ["ACK", "rotate", _, _] => Self::Rotated,
            ["ACK", "shred", who] => Self::Shredded(customer(who)?),
            _ => return None,
        })
    }

    /// Whether the child's main thread wrote it (the kill point counts only those).
    fn is_main(&self) -> bool {
        !matches!(self, Self::Record { customer, .. } if *customer == BACKGROUND)
    }
}

/// When to kill a child: once its main thread printed `after_lines` lines and `pause` passed.
struct Kill {
    /// The seed of the child's steps.
    seed: u64,
    after_lines: usize,
    pause: Duration,
}

/// Runs a child on the store in `dir`, kills it as `kill` says, and returns every line it
/// printed before it died.
fn run_child(dir: &TempDir, kill: &Kill) -> Run {
    let &Kill {
        seed,
        after_lines,
        pause,
    } = kill;
    let stderr_path = dir.0.join(format!("child-{seed}.stderr"));
    // Stderr goes to a file: a pipe nobody reads could fill up and stop the child.
    let stderr = File::create(&stderr_path).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash::crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(STORE_VAR, dir.db())
        .env(SEED_VAR, seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    let mut other = Vec::new();
    let mut main_lines = 0;
    let mut killed = false;
    // Read line by line; after the kill, drain what the child wrote before it died.
    for text in BufReader::new(stdout).lines() {
        let text = text.unwrap();
        match Line::parse(&text) {
            Some(line) => {
                main_lines += usize::from(line.is_main());
                lines.push(line);
            }
            None => {
                // A protocol line that did not parse would hide a step from the checks.
                assert!(
                    !["DO ", "ACK ", "OPENED ", "REFUSED "]
                        .iter()
                        .any(|word| text.contains(word)),
                    "the child (seed {seed}) printed a line the parent cannot read: {text}"
                );
                other.push(text);
            }
        }
        if !killed && main_lines >= after_lines {
            thread::sleep(pause);
            kill_now(&mut child);
            killed = true;
        }
    }
    let stopped_by_itself = (!killed).then(|| {
        let status = child.wait().unwrap();
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        format!("{status}\n{stderr}")
    });
    assert!(
        stopped_by_itself.is_none(),
        "the child (seed {seed}) stopped by itself after {main_lines} lines, before the kill \
         point {after_lines}:\n{}\n{}",
        other.join("\n"),
        stopped_by_itself.unwrap_or_default()
    );
    assert!(
        !other.iter().any(|text| text.contains("FAILED")),
        "the child (seed {seed}) failed:\n{}",
        other.join("\n")
    );
    let mut in_flight = None;
    for line in &lines {
        match line {
            Line::Do(step) => in_flight = Some(step.clone()),
            line if line.is_main() => in_flight = None,
            _ => {}
        }
    }
    Run { lines, in_flight }
}

fn kill_now(child: &mut Child) {
    // SIGKILL: no destructor, no flush, no rollback runs in the child.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed, not finished");
}

/// Everything the children were told, in the order they were told it, across runs on one
/// store.
#[derive(Default)]
struct Acknowledged {
    events: Vec<Event>,
}

enum Event {
    /// A record was acknowledged (durable).
    Record {
        id: RecordId,
        customer: u8,
        tag: String,
    },
    /// The child got a record's plaintext.
    Opened(RecordId),
    /// A consent change; without a receipt if the child died in it (it may have happened).
    Consent {
        customer: u8,
        level: TrainingLevel,
        receipt: Option<u32>,
    },
    /// A shred; not acknowledged if the child died in it (it may have happened).
    Shred { customer: u8, acknowledged: bool },
}

/// What a record must do when the parent opens it after the crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Opens,
    Shredded,
    /// A shred of its customer was in flight when the child died.
    OpensOrShredded,
}

impl Acknowledged {
    fn absorb(&mut self, run: &Run) {
        for line in &run.lines {
            match line {
                Line::Record { id, customer, tag } => self.events.push(Event::Record {
                    id: *id,
                    customer: *customer,
                    tag: tag.clone(),
                }),
                Line::Opened(id) => self.events.push(Event::Opened(*id)),
                Line::Consent {
                    customer,
                    level,
                    receipt,
                } => self.events.push(Event::Consent {
                    customer: *customer,
                    level: *level,
                    receipt: Some(*receipt),
                }),
                Line::Shredded(customer) => self.events.push(Event::Shred {
                    customer: *customer,
                    acknowledged: true,
                }),
                Line::Do(_) | Line::Refused | Line::Rotated => {}
            }
        }
        match run.in_flight {
            Some(Step::Shred(customer)) => self.events.push(Event::Shred {
                customer,
                acknowledged: false,
            }),
            Some(Step::Consent { customer, level }) => self.events.push(Event::Consent {
                customer,
                level,
                receipt: None,
            }),
            Some(Step::Seal | Step::Open | Step::Rotate) | None => {}
        }
    }

    /// Every acknowledged record with what it must do now.
    fn records(&self) -> impl Iterator<Item = (RecordId, u8, &str, Expect)> + '_ {
        self.events.iter().enumerate().filter_map(|(index, event)| {
            let Event::Record { id, customer, tag } = event else {
                return None;
            };
            let mut expect = Expect::Opens;
            for later in self.events.iter().skip(index + 1) {
                match later {
                    Event::Shred {
                        customer: shredded,
                        acknowledged: true,
                    } if shredded == customer => expect = Expect::Shredded,
                    Event::Shred {
                        customer: shredded,
                        acknowledged: false,
                    } if shredded == customer && expect == Expect::Opens => {
                        expect = Expect::OpensOrShredded;
                    }
                    _ => {}
                }
            }
            Some((*id, *customer, tag.as_str(), expect))
        })
    }
}

/// Reopens the store after a crash and checks everything the children were told.
fn verify(db: &Path, seen: &Acknowledged, run: &Run) -> usize {
    let store = SqliteStore::open(db, &keys()).unwrap();
    // open_vault verifies the chain and restores the keyring and the facts.
    let vault = open_vault(&store, &keys(), Policy::coder_model()).unwrap();
    let entries = store.audit_entries().unwrap();
    let head = vault.audit().unwrap().verify().unwrap();
    assert_eq!(head.entries(), u64::try_from(entries.len()).unwrap());

    // No plaintext without its entry: an `opened` entry for each plaintext the child got.
    let mut opened_entries: HashMap<RecordId, usize> = HashMap::new();
    let mut shred_entries: HashMap<CustomerId, usize> = HashMap::new();
    for entry in &entries {
        if let Some(access) = entry.entry().access()
            && access.outcome() == AuditOutcome::Opened
        {
            *opened_entries.entry(access.record()).or_default() += 1;
        }
        if let Some((customer, _)) = entry.entry().event().shred_request() {
            *shred_entries.entry(customer).or_default() += 1;
        }
    }
    let mut opened_lines: HashMap<RecordId, usize> = HashMap::new();
    let mut shred_lines: HashMap<CustomerId, usize> = HashMap::new();
    for event in &seen.events {
        match event {
            Event::Opened(id) => *opened_lines.entry(*id).or_default() += 1,
            Event::Shred {
                customer: who,
                acknowledged: true,
            } => *shred_lines.entry(customer(*who)).or_default() += 1,
            _ => {}
        }
    }
    for (id, count) in &opened_lines {
        assert!(
            opened_entries.get(id).copied().unwrap_or(0) >= *count,
            "plaintext of {id} came out {count} times without as many audit entries"
        );
    }
    // A shred is audited before it is done.
    for (who, count) in &shred_lines {
        assert!(shred_entries.get(who).copied().unwrap_or(0) >= *count);
    }

    // Every acknowledged record is stored; it opens, unless a shred came after it.
    let request = steward_request();
    let mut checked = 0;
    for (id, who, tag, expect) in seen.records() {
        let bytes = store.record(id).unwrap();
        assert!(bytes.is_some(), "acknowledged record {id} was lost");
        let record = SealedRecord::from_vec(bytes.unwrap()).unwrap();
        let version = record.header().key_version();
        let destroyed = vault
            .keyring()
            .unwrap()
            .is_version_shredded(customer(who), version);
        let outcome = vault.open(&record, &request);
        // A record opens with its body while its key lives; once its key version is destroyed
        // it fails as shredded (after an acknowledged shred it must be destroyed).
        let held = match (&outcome, expect) {
            (Ok(plaintext), Expect::Opens | Expect::OpensOrShredded) => {
                plaintext.as_bytes() == body(tag).as_bytes() && !destroyed
            }
            (
                Err(LogsError::Open(OpenError::Shredded)),
                Expect::Shredded | Expect::OpensOrShredded,
            ) => destroyed,
            _ => false,
        };
        assert!(
            held,
            "record {id} of customer {who}: expected {expect:?}, got {:?} with its key version \
             destroyed: {destroyed} (the child died in {:?})",
            outcome.map(|plaintext| plaintext.len()),
            run.in_flight
        );
        checked += 1;
    }
    // No wrapped key of a shredded version survives in the file.
    let snapshot = store.keyring_snapshot().unwrap();
    let keyring = vault.keyring().unwrap();
    for key in snapshot.data_keys() {
        assert!(!keyring.is_version_shredded(key.customer(), key.version()));
    }
    drop(keyring);
    // Every shred the chain records holds, even one the child died in after its entry: the
    // reopening completed it, and audited that after the shred's entry.
    for (index, entry) in entries.iter().enumerate() {
        let event = entry.entry().event();
        if let Some((who, asked)) = event.shred_request() {
            let stored = snapshot
                .shredded()
                .iter()
                .find(|(shredded, _)| *shredded == who)
                .map(|(_, tombstone)| *tombstone);
            assert!(
                stored.is_some_and(|stored| stored >= asked),
                "the chain shreds {who} {asked}, the store holds {stored:?} (the child died \
                 in {:?})",
                run.in_flight
            );
        }
        if let AuditEvent::ShredCompletedAtStartUp { customer: who, .. } = event {
            assert!(
                entries.iter().take(index).any(|before| before
                    .entry()
                    .event()
                    .shred_request()
                    .is_some_and(|(shredded, _)| shredded == *who)),
                "a completion without a shred entry before it"
            );
        }
    }

    // Every acknowledged consent change is stored; the level now is the last one told (or
    // one the child died telling).
    let stored = crate::common::stored_receipts(&store);
    let mut told = 0;
    let mut in_flight = 0;
    // Before any change, `none` (training.default-off).
    let mut possible: HashMap<u8, Vec<TrainingLevel>> = (0..CUSTOMERS)
        .map(|who| (who, vec![TrainingLevel::None]))
        .collect();
    for event in &seen.events {
        let Event::Consent {
            customer: who,
            level,
            receipt,
        } = event
        else {
            continue;
        };
        let levels = possible.entry(*who).or_default();
        match receipt {
            Some(receipt) => {
                told += 1;
                assert!(
                    stored.iter().any(|stored| stored.receipt.get() == *receipt
                        && stored.customer == customer(*who)
                        && stored.level == *level),
                    "acknowledged consent receipt {receipt} was lost"
                );
                // Whatever came before is superseded.
                levels.clear();
                levels.push(*level);
            }
            None => {
                in_flight += 1;
                levels.push(*level);
            }
        }
    }
    assert!(stored.len() >= told && stored.len() <= told + in_flight);
    let now = Timestamp::now();
    let facts = vault.facts().unwrap();
    for (who, levels) in &possible {
        let level = facts.consent().unwrap().level_at(customer(*who), now);
        assert!(
            levels.contains(&level),
            "customer {who}: level {level} in force, the children were told {levels:?}"
        );
    }
    checked
}

/// A deterministic xorshift64* generator: the child's mix of steps, by seed.
struct Dice(u64);

impl Dice {
    fn new(seed: u64) -> Self {
        // Never zero, the one state xorshift cannot leave.
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound.max(1)
    }
}
