//! The embedded store (steward-store), each figure against the in-memory vault in the same
//! run:
//!
//! - `store/seal`: records per second sealed and made durable (`Vault::seal`, then
//!   `GroupCommitter::put`, which returns once the record is committed with `synchronous=FULL`)
//!   by 1, 2 and 8 threads, against `Vault::seal` alone on a
//!   `Vault<MemoryFacts, MemoryAuditStore>` by 1 and 2 threads. Each thread seals for
//!   customers of its own, round-robin, with bodies of 1 KiB; every customer's first data key
//!   is issued (and stored) before the timing.
//! - `store/open`: `Vault::open` of a 256 B record, whose audit entry is committed to the
//!   store before the plaintext is returned, against the same open on the in-memory vault
//!   (a fresh one every 100,000 opens, so that its audit trail stays small).
//! - With the `postgres` feature and a PostgreSQL server (`STEWARD_POSTGRES`: a connection
//!   string; without it, a notice and these are left out), the same seals
//!   and opens on the shared store, in the same groups: `postgres` seals with
//!   `PgStore::seal_durable` (each record its own transaction, committed before it returns)
//!   by 1, 2 and 8 threads of one node, and `postgres-2-nodes` by 4 threads on each of two
//!   vaults; `postgres-audit` opens on one node, and `postgres-audit-2-nodes` on two nodes at
//!   once (one thread each; appends per second over both). Every open is one append to the
//!   one chain, under its head-row lock. The store lives in a schema of its own, dropped after.
//! - After those, a one-shot memory report: a store of 1,000,000 customers (a relationship,
//!   one consent change and one wrapped data key each) is written, then fresh processes (this
//!   binary, run again) measure the resident memory that `open_vault` adds while it loads the
//!   keyring and the facts, and what the keyring and the facts take alone.
//!
//! Run with `cargo bench -p steward-benches --bench store` (the SQLite figures), or with
//! `--features postgres` and `STEWARD_POSTGRES` set for the PostgreSQL ones beside them.
//! `STEWARD_BENCH_STORE_CUSTOMERS` sets another customer count for the memory report.

use std::{
    error::Error,
    hint::black_box,
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU64, Ordering},
    thread,
    time::{Duration, Instant},
};

use criterion::{BenchmarkId, Criterion, Throughput};
use steward::{
    MemoryFacts, Policy, Vault,
    consent::{Channel, ConsentActor, ConsentChange},
    logs::{
        AccessRequest, AuditKey, AuditTrail, Keyring, MasterKey, MemoryAuditStore, SealedRecord,
    },
    vocabulary::{CustomerId, DataCategory, Purpose, RecordId, Timestamp, TrainingLevel},
};
#[cfg(feature = "postgres")]
use steward_store::pg::{PgConfig, PgStore, PgVault};
use steward_store::{
    Effective, GroupCommitter, SqliteStore, StoreFacts, StoreKeys, StoreVault, open_vault,
};

const SEAL_BODY: usize = 1024;
const OPEN_BODY: usize = 256;
/// Customers each sealing thread seals for, round-robin.
const CUSTOMERS_PER_THREAD: u64 = 64;
const DURABLE_THREADS: [u64; 3] = [1, 2, 8];
const MEMORY_THREADS: [u64; 2] = [1, 2];
/// Opens per in-memory vault before a fresh one takes over.
const OPEN_BATCH: u64 = 100_000;

const MEMORY_CUSTOMERS: u64 = 1_000_000;
/// Overrides [`MEMORY_CUSTOMERS`].
const CUSTOMERS_VAR: &str = "STEWARD_BENCH_STORE_CUSTOMERS";
/// Set in the child processes of the memory report: what to load (`vault`, `keyring` or
/// `facts`) from the store at [`MEMORY_STORE_VAR`].
const MEMORY_LOAD_VAR: &str = "STEWARD_BENCH_STORE_LOAD";
const MEMORY_STORE_VAR: &str = "STEWARD_BENCH_STORE_PATH";
/// The PostgreSQL server of the shared-store figures (feature `postgres`).
#[cfg(feature = "postgres")]
const PG_VAR: &str = "STEWARD_POSTGRES";
/// Customers written per transaction while the memory report's store is built.
const BUILD_CHUNK: u64 = 50_000;

type MemoryVault = Vault<MemoryFacts, MemoryAuditStore>;
type BoxError = Box<dyn Error + Send + Sync>;

// `criterion_main!` by hand: `criterion_group!` generates an undocumented `pub fn`.
fn main() {
    if let (Some(load), Some(path)) = (
        std::env::var_os(MEMORY_LOAD_VAR),
        std::env::var_os(MEMORY_STORE_VAR),
    ) {
        if let Err(error) = memory_child(&load.to_string_lossy(), Path::new(&path)) {
            eprintln!("store memory child failed: {error}");
            std::process::exit(1);
        }
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    if let Err(error) = bench_store(&mut criterion) {
        eprintln!("store bench failed: {error}");
    }
    criterion.final_summary();
}

fn bench_store(c: &mut Criterion) -> Result<(), BoxError> {
    let dir = std::env::temp_dir().join(format!("steward-store-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // The memory report last: building and loading 1M customers leaves the machine busy
    // (page writeback, freeing gigabytes) for a while, which would disturb the timings.
    #[cfg(not(feature = "postgres"))]
    eprintln!(
        "store bench: the shared-store figures need `--features postgres` and STEWARD_POSTGRES"
    );
    let setup = Setup {
        dir,
        #[cfg(feature = "postgres")]
        shared: SharedBench::connect()?,
    };
    let result = bench_seal(c, &setup)
        .and_then(|()| bench_open(c, &setup))
        .and_then(|()| memory_report(&setup.dir));
    std::fs::remove_dir_all(&setup.dir)?;
    result
}

/// Where the figures are measured.
struct Setup {
    /// The directory of the SQLite stores.
    dir: PathBuf,
    /// The shared store, when a server is configured.
    #[cfg(feature = "postgres")]
    shared: Option<SharedBench>,
}

/// The PostgreSQL side of the run: a store in a schema of its own, dropped on drop.
#[cfg(feature = "postgres")]
struct SharedBench {
    connection: String,
    config: PgConfig,
}

#[cfg(feature = "postgres")]
impl SharedBench {
    /// `None`, after a notice, when no server is configured.
    fn connect() -> Result<Option<Self>, BoxError> {
        let Ok(connection) = std::env::var(PG_VAR) else {
            eprintln!(
                "store bench: set {PG_VAR} to a PostgreSQL connection string for the shared-store figures"
            );
            return Ok(None);
        };
        let schema = format!("steward_bench_{}", std::process::id());
        let config = PgConfig::new(&connection)?.with_schema(&schema)?;
        Ok(Some(Self { connection, config }))
    }

    /// A fresh schema's store with `customers` in a relationship and a steward on the
    /// roster, and two nodes' vaults on it.
    fn nodes(&self, customers: u64) -> Result<(PgStore, [PgVault; 2]), BoxError> {
        self.drop_schema()?;
        let keys = store_keys()?;
        let store = PgStore::create(&self.config, &keys)?;
        let first = open_vault(&store, &keys, Policy::coder_model())?;
        first.add_steward("alice.ops".parse()?, "dana.admin".parse()?)?;
        first.update_facts(|facts| {
            (0..customers).try_for_each(|n| -> Result<(), BoxError> {
                Ok(facts.start_relationship(customer(n)?, Effective::Now)?)
            })
        })??;
        let second = open_vault(&store, &keys, Policy::coder_model())?;
        Ok((store, [first, second]))
    }

    fn drop_schema(&self) -> Result<(), BoxError> {
        let mut admin = postgres::Client::connect(&self.connection, postgres::NoTls)?;
        admin.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            self.config.schema()
        ))?;
        Ok(())
    }
}

#[cfg(feature = "postgres")]
impl Drop for SharedBench {
    fn drop(&mut self) {
        if let Err(error) = self.drop_schema() {
            eprintln!("store bench: could not drop the bench schema: {error}");
        }
    }
}

/// What a proxy node on the shared store does per request: seal, and return once the record
/// is committed.
#[cfg(feature = "postgres")]
fn pg_seal(
    store: &PgStore,
    vault: &PgVault,
    owner: CustomerId,
    body: &[u8],
) -> Result<SealedRecord, BoxError> {
    let now = Timestamp::now();
    Ok(store.seal_durable(
        vault,
        RecordId::generate_at(now),
        owner,
        now,
        body,
        DataCategory::LlmRequestLog,
    )?)
}

fn bench_seal(c: &mut Criterion, setup: &Setup) -> Result<(), BoxError> {
    let most = DURABLE_THREADS.iter().chain(&MEMORY_THREADS).max().copied();
    let customers = CUSTOMERS_PER_THREAD * most.unwrap_or(1);
    let durable = durable_vault(&setup.dir.join("seal.db"), customers)?;
    let memory = memory_vault(customers)?;
    #[cfg(feature = "postgres")]
    let pg = (setup.shared.as_ref())
        .map(|shared| shared.nodes(customers))
        .transpose()?;
    let body = vec![0x5a_u8; SEAL_BODY];
    // Every customer's first data key, issued (and for the store, made durable) untimed.
    for n in 0..customers {
        durable.seal_and_put(customer(n)?, &body)?;
        seal_now(&memory, customer(n)?, &body)?;
        #[cfg(feature = "postgres")]
        if let Some((store, vaults)) = &pg {
            for vault in vaults {
                pg_seal(store, vault, customer(n)?, &body)?;
            }
        }
    }
    let failures = AtomicU64::new(0);

    let mut group = c.benchmark_group(format!("store/seal/{SEAL_BODY}B"));
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    // In-memory first: durable runs leave the kernel writing pages back for a while after.
    for threads in MEMORY_THREADS {
        group.bench_function(BenchmarkId::new("in-memory", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &failures, |owner| {
                    black_box(seal_now(&memory, owner, &body)?);
                    Ok(())
                })
            })
        });
    }
    for threads in DURABLE_THREADS {
        group.bench_function(BenchmarkId::new("durable-group-commit", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &failures, |owner| {
                    durable.seal_and_put(owner, &body).map(drop)
                })
            })
        });
    }
    #[cfg(feature = "postgres")]
    if let Some((store, vaults)) = &pg {
        let [first, second] = vaults;
        for threads in DURABLE_THREADS {
            group.bench_function(BenchmarkId::new("postgres", threads), |b| {
                b.iter_custom(|iters| {
                    on_threads(threads, iters, &failures, |owner| {
                        pg_seal(store, first, owner, &body).map(drop)
                    })
                })
            });
        }
        // Two nodes, four threads each: threads of even index on the first vault.
        group.bench_function(BenchmarkId::new("postgres-2-nodes", 8), |b| {
            b.iter_custom(|iters| {
                on_threads(8, iters, &failures, |owner| {
                    let vault =
                        if owner.as_uuid().as_u128() / u128::from(CUSTOMERS_PER_THREAD) % 2 == 0 {
                            first
                        } else {
                            second
                        };
                    pg_seal(store, vault, owner, &body).map(drop)
                })
            })
        });
    }
    group.finish();
    match failures.into_inner() {
        0 => Ok(()),
        failed => Err(format!("{failed} seals failed during the timing").into()),
    }
}

fn bench_open(c: &mut Criterion, setup: &Setup) -> Result<(), BoxError> {
    let owner = customer(0)?;
    let body = vec![0x5a_u8; OPEN_BODY];
    let durable = durable_vault(&setup.dir.join("open.db"), 1)?;
    let durable_record = durable.seal_and_put(owner, &body)?;
    let request = steward_request()?;
    // A bench of refusals would time the wrong thing: both sides must open.
    if durable.vault.open(&durable_record, &request)?.as_bytes() != body.as_slice() {
        return Err("the stored record did not open to its body".into());
    }
    #[cfg(feature = "postgres")]
    let pg = match &setup.shared {
        Some(shared) => {
            let (store, vaults) = shared.nodes(1)?;
            let record = pg_seal(&store, vaults.first().ok_or("no node")?, owner, &body)?;
            for vault in &vaults {
                if vault.open(&record, &request)?.as_bytes() != body.as_slice() {
                    return Err("the shared record did not open to its body".into());
                }
            }
            Some((store, vaults, record))
        }
        None => None,
    };
    let failures = AtomicU64::new(0);

    let mut group = c.benchmark_group(format!("store/open/{OPEN_BODY}B"));
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("in-memory", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = left.min(OPEN_BATCH);
                let Ok((vault, record)) = memory_open_fixture(owner, &body) else {
                    failures.fetch_add(1, Ordering::Relaxed);
                    return timed;
                };
                let started = Instant::now();
                for _ in 0..batch {
                    if black_box(vault.open(black_box(&record), &request)).is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                timed += started.elapsed();
                left -= batch;
            }
            timed
        })
    });
    group.bench_function("durable-audit", |b| {
        b.iter(|| {
            let opened = durable.vault.open(black_box(&durable_record), &request);
            if opened.is_err() {
                failures.fetch_add(1, Ordering::Relaxed);
            }
            opened
        })
    });
    #[cfg(feature = "postgres")]
    if let Some((_, vaults, record)) = &pg {
        let [first, _] = vaults;
        group.bench_function("postgres-audit", |b| {
            b.iter(|| {
                let opened = first.open(black_box(record), &request);
                if opened.is_err() {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                opened
            })
        });
        // One thread per node, both appending to the one chain; a timed call is one open on
        // each node, so the figure is per two appends.
        group.throughput(Throughput::Elements(2));
        group.bench_function("postgres-audit-2-nodes", |b| {
            b.iter_custom(|iters| {
                let started = Instant::now();
                thread::scope(|scope| {
                    for vault in vaults {
                        let (failures, request) = (&failures, &request);
                        scope.spawn(move || {
                            for _ in 0..iters {
                                if vault.open(black_box(record), request).is_err() {
                                    failures.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        });
                    }
                });
                started.elapsed()
            })
        });
    }
    group.finish();
    let entries = durable.vault.audit()?.verify()?.entries();
    println!("store/open: the durable audit chain holds {entries} entries and verifies");
    #[cfg(feature = "postgres")]
    if let Some((_, [_, second], _)) = &pg {
        let entries = second.audit()?.verify()?.entries();
        println!("store/open: the shared audit chain holds {entries} entries and verifies");
    }
    match failures.into_inner() {
        0 => Ok(()),
        failed => Err(format!("{failed} opens failed during the timing").into()),
    }
}

/// A vault on a new store at `path` with a steward on the roster and `customers` customers
/// in a relationship, and a group committer.
struct Durable {
    vault: StoreVault,
    committer: GroupCommitter,
}

impl Durable {
    /// What a proxy does per request: seal, then return once the record is durable.
    fn seal_and_put(&self, owner: CustomerId, body: &[u8]) -> Result<SealedRecord, BoxError> {
        let record = seal_now(&self.vault, owner, body)?;
        self.committer
            .put(record.clone(), DataCategory::LlmRequestLog)?;
        Ok(record)
    }
}

fn durable_vault(path: &Path, customers: u64) -> Result<Durable, BoxError> {
    let keys = store_keys()?;
    let store = SqliteStore::create(path, &keys)?;
    let owners = (0..customers)
        .map(customer)
        .collect::<Result<Vec<_>, _>>()?;
    let vault = open_vault(&store, &keys, Policy::coder_model())?;
    vault.update_facts(|facts| {
        facts.in_one_commit(|batch| {
            for owner in &owners {
                batch.start_relationship(*owner, Effective::Now)?;
            }
            Ok(())
        })
    })??;
    vault.add_steward("alice.ops".parse()?, "dana.admin".parse()?)?;
    let committer = GroupCommitter::new(&store)?;
    Ok(Durable { vault, committer })
}

fn memory_vault(customers: u64) -> Result<MemoryVault, BoxError> {
    let policy = Policy::coder_model();
    let mut facts = MemoryFacts::new(&policy);
    for n in 0..customers {
        facts.relationships.start(customer(n)?, joined()?)?;
    }
    let master = MasterKey::from_bytes("kek-bench".parse()?, b"steward test key 42, not secret!")?;
    let trail = AuditTrail::new(
        AuditKey::from_bytes(b"steward test key 17, not secret!")?,
        MemoryAuditStore::new(),
    )?;
    let vault = Vault::new(policy, facts, Keyring::new(master), trail)?;
    vault.add_steward("alice.ops".parse()?, "dana.admin".parse()?)?;
    Ok(vault)
}

/// A fresh in-memory vault and a 256 B record of `owner` sealed in it.
fn memory_open_fixture(
    owner: CustomerId,
    body: &[u8],
) -> Result<(MemoryVault, SealedRecord), BoxError> {
    let vault = memory_vault(1)?;
    let record = seal_now(&vault, owner, body)?;
    Ok((vault, record))
}

/// Runs `iters` calls of `work` spread over `threads` threads, each thread over customers of
/// its own, and returns the wall time. A failed call is counted in `failures`.
fn on_threads(
    threads: u64,
    iters: u64,
    failures: &AtomicU64,
    work: impl Fn(CustomerId) -> Result<(), BoxError> + Sync,
) -> Duration {
    let started = Instant::now();
    thread::scope(|scope| {
        for index in 0..threads {
            let share = iters / threads + u64::from(index < iters % threads);
            let work = &work;
            scope.spawn(move || {
                for call in 0..share {
                    let owner =
                        customer(index * CUSTOMERS_PER_THREAD + call % CUSTOMERS_PER_THREAD);
                    if owner.map_err(BoxError::from).and_then(work).is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    started.elapsed()
}

/// One memory figure of this process from `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Builds a store of many customers, then measures in fresh processes what loading it adds to
/// the resident memory (a fresh process, so that memory this one freed cannot be reused and
/// hide the growth).
fn memory_report(dir: &Path) -> Result<(), BoxError> {
    let customers = match std::env::var(CUSTOMERS_VAR) {
        Ok(count) => count.parse()?,
        Err(_) => MEMORY_CUSTOMERS,
    };
    let path = dir.join("customers.db");
    let started = Instant::now();
    build_customers(&path, customers)?;
    let size = store_bytes(&path);
    println!(
        "store/memory: wrote {customers} customers (a relationship, a consent change and a \
         wrapped data key each) in {:.1} s; the store takes {:.1} MiB on disk",
        started.elapsed().as_secs_f64(),
        size as f64 / (1024.0 * 1024.0)
    );
    for load in ["vault", "keyring", "facts"] {
        let output = Command::new(std::env::current_exe()?)
            .env(CUSTOMERS_VAR, customers.to_string())
            .env(MEMORY_LOAD_VAR, load)
            .env(MEMORY_STORE_VAR, &path)
            .output()?;
        if !output.status.success() {
            return Err(format!(
                "the memory child for `{load}` failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        print!("{}", String::from_utf8_lossy(&output.stdout));
    }
    Ok(())
}

/// The database file and its write-ahead log, in bytes.
fn store_bytes(path: &Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path.to_path_buf(), PathBuf::from(wal)]
        .iter()
        .filter_map(|file| std::fs::metadata(file).ok())
        .map(|meta| meta.len())
        .sum()
}

/// A store of `customers` customers: a relationship, one consent change and one wrapped data
/// key each, written in large transactions.
fn build_customers(path: &Path, customers: u64) -> Result<(), BoxError> {
    let keys = store_keys()?;
    let store = SqliteStore::create(path, &keys)?;
    let policy = Policy::coder_model();
    let mut facts = StoreFacts::load(&store, &keys.audit_key()?, &policy, None)?;
    let levels = [
        TrainingLevel::None,
        TrainingLevel::Private,
        TrainingLevel::Shared,
        TrainingLevel::OpenWeight,
    ];
    let mut first = 0;
    while first < customers {
        let last = customers.min(first + BUILD_CHUNK);
        // A keyring per chunk issues the data keys; only their wrapped forms are kept.
        let mut keyring = Keyring::new(keys.master_key()?);
        let mut changes = Vec::new();
        for n in first..last {
            let owner = customer(n)?;
            keyring.ensure_data_key(owner)?;
            let level = levels
                .get(usize::try_from(n % 4)?)
                .copied()
                .unwrap_or_default();
            // Consent takes effect when it is recorded, never earlier.
            changes.push(ConsentChange::new(
                owner,
                level,
                Timestamp::now(),
                ConsentActor::Customer,
                Channel::AccountSettings,
                policy.version().clone(),
            ));
        }
        facts.in_one_commit(|batch| {
            for change in changes {
                batch.start_relationship(change.customer, Effective::Now)?;
                batch.record_consent(change)?;
            }
            Ok(())
        })?;
        let snapshot = keyring.snapshot();
        // One transaction for the batch's keys: a custody stores each as it issues it (one
        // sync a key), which at a million customers would be the whole set-up's time.
        steward_store::test_support::put_data_keys_unaudited(&store, snapshot.data_keys())?;
        first = last;
    }
    Ok(())
}

/// In a fresh process: loads `what` from the store and prints the resident memory it added,
/// measured while what it loaded is alive.
fn memory_child(what: &str, path: &Path) -> Result<(), BoxError> {
    let customers: usize = std::env::var(CUSTOMERS_VAR)?.parse()?;
    let keys = store_keys()?;
    let policy = Policy::coder_model();
    let store = SqliteStore::open(path, &keys)?;
    // Reset the peak, so that it covers the load alone (Linux: clear_refs value 5).
    std::fs::write("/proc/self/clear_refs", "5")?;
    let before = status_kib("VmRSS:").ok_or("no VmRSS")?;
    let started = Instant::now();
    let (label, loaded) = match what {
        "vault" => {
            let vault = open_vault(&store, &keys, policy)?;
            let took = started.elapsed();
            let loaded = vault.facts()?.consent()?.customer_count();
            report(
                "open_vault (keyring, facts, audit trail)",
                loaded,
                before,
                took,
            );
            ("open_vault", loaded)
        }
        "keyring" => {
            let keyring = Keyring::restore(keys.master_key()?, [], store.keyring_snapshot()?)?;
            report(
                "the keyring alone (Keyring::restore)",
                customers,
                before,
                started.elapsed(),
            );
            let loaded = usize::from(keyring.current_version(customer(0)?).is_some()) * customers;
            ("the keyring", loaded)
        }
        "facts" => {
            let checkpoint = store.latest_checkpoint()?;
            let facts = StoreFacts::load(&store, &keys.audit_key()?, &policy, checkpoint.as_ref())?;
            let took = started.elapsed();
            let loaded = facts.consent()?.customer_count();
            report("the facts alone (StoreFacts::load)", loaded, before, took);
            ("the facts", loaded)
        }
        other => return Err(format!("unknown load `{other}`").into()),
    };
    if loaded != customers {
        return Err(format!("{label} loaded {loaded} customers, not {customers}").into());
    }
    Ok(())
}

/// Prints the resident memory added since `before` (KiB), now and at the peak.
fn report(label: &str, customers: usize, before: u64, took: Duration) {
    let after = status_kib("VmRSS:").unwrap_or(0);
    let peak = status_kib("VmHWM:").unwrap_or(0);
    let mib = |kib: u64| kib as f64 / 1024.0;
    let per_customer = |kib: u64| (kib * 1024) as f64 / customers.max(1) as f64;
    let (grown, peaked) = (after.saturating_sub(before), peak.saturating_sub(before));
    println!(
        "store/memory: {label}, {customers} customers: loaded in {:.1} s; resident +{:.1} MiB \
         ({:.0} B per customer), peak +{:.1} MiB ({:.0} B per customer)",
        took.as_secs_f64(),
        mib(grown),
        per_customer(grown),
        mib(peaked),
        per_customer(peaked),
    );
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

fn joined() -> Result<Timestamp, BoxError> {
    Ok("2025-01-01T00:00:00Z".parse()?)
}

/// Seals `body` for `owner`, collected now (under the level in force, which the vault reads).
fn seal_now<F: steward::RosterFacts, S: steward::logs::AuditStore>(
    vault: &Vault<F, S>,
    owner: CustomerId,
    body: &[u8],
) -> Result<SealedRecord, steward::logs::LogsError> {
    let now = Timestamp::now();
    vault.seal(RecordId::generate_at(now), owner, now, body)
}

fn steward_request() -> Result<AccessRequest, BoxError> {
    Ok(AccessRequest::with_justification_text(
        "alice.ops".parse()?,
        Purpose::Troubleshooting,
        "TICKET-4711",
    ))
}
