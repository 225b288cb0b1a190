//! Start-up of a vault on a large embedded store (docs/design.md section 4: a store of 1M
//! customers and 3M fact events opens in at most 2 s).
//!
//! A store of `STEWARD_BENCH_STARTUP_CUSTOMERS` customers (default 1,000,000) is written: per
//! customer a relationship start, a consent change and one wrapped data key, each a fact
//! entry (three per customer). Then fresh processes (this binary, run again, so that no page cache of
//! ours and no freed memory helps) time `open_vault`: once right after the writes (every
//! entry verified and replayed one by one, and a snapshot written), then from the snapshot;
//! and, as the baseline in the same run, reading the same rows without verifying or
//! replaying them.
//!
//! Run with `cargo bench -p steward-benches --bench startup`; `STEWARD_BENCH_STARTUP_KEEP=1`
//! keeps the store and prints where it is.

use std::{
    error::Error,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use steward::{
    Policy,
    consent::{Channel, ConsentActor, ConsentChange},
    vocabulary::{CustomerId, Timestamp, TrainingLevel},
};
use steward_store::{Effective, FactLog, SqliteStore, StoreFacts, StoreKeys, open_vault};

type BoxError = Box<dyn Error + Send + Sync>;

const CUSTOMERS: u64 = 1_000_000;
const CUSTOMERS_VAR: &str = "STEWARD_BENCH_STARTUP_CUSTOMERS";
/// Set in the child processes: what to time (`open` or `rows`) on the store at [`STORE_VAR`].
const CHILD_VAR: &str = "STEWARD_BENCH_STARTUP_CHILD";
const STORE_VAR: &str = "STEWARD_BENCH_STARTUP_STORE";
/// Set to keep the store after the run (for a profiler).
const KEEP_VAR: &str = "STEWARD_BENCH_STARTUP_KEEP";
/// Customers written per transaction.
const CHUNK: u64 = 50_000;
/// Runs of each child; the report gives the fastest and the slowest.
const RUNS: usize = 3;

fn main() {
    let result = match (std::env::var(CHILD_VAR), std::env::var(STORE_VAR)) {
        (Ok(child), Ok(path)) => child_run(&child, Path::new(&path)),
        _ => report(),
    };
    if let Err(error) = result {
        eprintln!("startup bench failed: {error}");
        std::process::exit(1);
    }
}

fn report() -> Result<(), BoxError> {
    let customers = match std::env::var(CUSTOMERS_VAR) {
        Ok(count) => count.parse()?,
        Err(_) => CUSTOMERS,
    };
    let dir = std::env::temp_dir().join(format!("steward-startup-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("steward.db");
    let started = Instant::now();
    let entries = build(&path, customers)?;
    println!(
        "startup: wrote {customers} customers, {entries} fact entries and {customers} wrapped \
         data keys in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let rows = child_times("rows", &path)?;
    // The first start after the writes replays every entry one by one and leaves a snapshot;
    // the starts after it replay the snapshot.
    let first = child_time("open", &path)?;
    println!(
        "startup: first open_vault after the writes (every entry verified and replayed, a \
         snapshot written) {:.2} s",
        first.as_secs_f64()
    );
    let open = child_times("open", &path)?;
    let facts = child_times("facts", &path)?;
    let keyring = child_times("keyring", &path)?;
    println!(
        "startup: of which the facts {:.2} s and the keyring {:.2} s (fastest of {RUNS} each)",
        min(&facts).as_secs_f64(),
        min(&keyring).as_secs_f64()
    );
    let (fastest_rows, fastest_open) = (min(&rows), min(&open));
    println!(
        "startup: open_vault {:.2} s (fastest of {RUNS}; slowest {:.2} s); reading the same \
         rows unverified {:.2} s; ratio {:.1}x",
        fastest_open.as_secs_f64(),
        max(&open).as_secs_f64(),
        fastest_rows.as_secs_f64(),
        fastest_open.as_secs_f64() / fastest_rows.as_secs_f64().max(f64::EPSILON)
    );
    if std::env::var_os(KEEP_VAR).is_some() {
        println!("startup: kept the store at {}", path.display());
    } else {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

fn min(times: &[Duration]) -> Duration {
    times.iter().copied().min().unwrap_or_default()
}

fn max(times: &[Duration]) -> Duration {
    times.iter().copied().max().unwrap_or_default()
}

/// Runs the `what` child [`RUNS`] times and returns the durations it printed.
fn child_times(what: &str, path: &Path) -> Result<Vec<Duration>, BoxError> {
    (0..RUNS).map(|_| child_time(what, path)).collect()
}

/// Runs the `what` child once and returns the duration it printed.
fn child_time(what: &str, path: &Path) -> Result<Duration, BoxError> {
    let output = Command::new(std::env::current_exe()?)
        .env(CHILD_VAR, what)
        .env(STORE_VAR, path)
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "the `{what}` child failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let nanos: u64 = String::from_utf8(output.stdout)?.trim().parse()?;
    Ok(Duration::from_nanos(nanos))
}

/// In a fresh process: times `what` and prints the nanoseconds it took.
fn child_run(what: &str, path: &Path) -> Result<(), BoxError> {
    let keys = store_keys()?;
    let store = SqliteStore::open(path, &keys)?;
    let started = Instant::now();
    match what {
        "open" => {
            let vault = open_vault(&store, &keys, Policy::coder_model())?;
            let took = started.elapsed();
            if vault.facts()?.consent()?.customer_count() == 0 {
                return Err("the vault loaded no customers".into());
            }
            println!("{}", took.as_nanos());
        }
        "facts" => {
            let checkpoint = store.latest_checkpoint()?;
            let facts = StoreFacts::load(
                &store,
                &keys.audit_key()?,
                &Policy::coder_model(),
                checkpoint.as_ref(),
            )?;
            let took = started.elapsed();
            if facts.applied() == 0 {
                return Err("no facts".into());
            }
            println!("{}", took.as_nanos());
        }
        "keyring" => {
            let keyring =
                steward::logs::Keyring::restore(keys.master_key()?, [], store.keyring_snapshot()?)?;
            let took = started.elapsed();
            drop(keyring);
            println!("{}", took.as_nanos());
        }
        "rows" => {
            let entries = store.entries_after(0)?;
            let keys = store.keyring_snapshot()?;
            let took = started.elapsed();
            if entries.is_empty() || keys.data_keys().is_empty() {
                return Err("the store holds nothing".into());
            }
            println!("{}", took.as_nanos());
        }
        other => return Err(format!("unknown child `{other}`").into()),
    }
    Ok(())
}

/// Writes the store: per customer a relationship, a consent change and a data key.
fn build(path: &Path, customers: u64) -> Result<u64, BoxError> {
    let keys = store_keys()?;
    let store = SqliteStore::create(path, &keys)?;
    let policy = Policy::coder_model();
    let mut facts = StoreFacts::load(&store, &keys.audit_key()?, &policy, None)?;
    // Seconds after the change is written (per customer: the whole build takes longer than
    // any fixed offset, and a change cannot take effect before it is recorded).
    let later = |seconds: i64| {
        Timestamp::from_unix_nanos(Timestamp::now().unix_nanos() + seconds * 1_000_000_000)
    };
    let mut first = 0;
    while first < customers {
        let last = customers.min(first + CHUNK);
        let owners = (first..last).map(customer).collect::<Result<Vec<_>, _>>()?;
        facts.in_one_commit(|batch| {
            for owner in &owners {
                batch.start_relationship(*owner, Effective::Now)?;
                batch.record_consent(ConsentChange::new(
                    *owner,
                    TrainingLevel::Shared,
                    later(3600),
                    ConsentActor::Customer,
                    Channel::AccountSettings,
                    policy.version().clone(),
                ))?;
            }
            Ok(())
        })?;
        let mut keyring = steward::logs::Keyring::new(keys.master_key()?);
        for owner in &owners {
            keyring.ensure_data_key(*owner)?;
        }
        let snapshot = keyring.snapshot();
        // One transaction for the batch's keys: a custody stores each as it issues it (one
        // sync a key), which at a million customers would be the whole set-up's time.
        steward_store::test_support::put_data_keys_unaudited(&store, snapshot.data_keys())?;
        first = last;
    }
    // The keys' entries were appended by the store itself: the facts learn of them here.
    facts.catch_up()?;
    Ok(facts.applied())
}

fn store_keys() -> Result<StoreKeys, BoxError> {
    Ok(StoreKeys::new(
        "kek-bench".parse()?,
        b"steward test key 42, not secret!",
        b"steward test key 17, not secret!",
    )?)
}

fn customer(n: u64) -> Result<CustomerId, steward::vocabulary::CoreError> {
    format!("0192f1f0-6b2a-7cc3-9a4e-{:012x}", n + 1).parse()
}
