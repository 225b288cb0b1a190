//! The ingest handle (`steward_store::Ingest`), each figure against a baseline measured in the
//! same run:
//!
//! - `ingest/request-path/1024B`: what a request pays on its own task, one caller: the
//!   `logs.stored` check, redaction and sealing of a 1 KiB body, and queueing
//!   (`Ingest::log_blocking` under `Acknowledge::OnEnqueue`, on a handle whose writer keeps
//!   records in memory), against `Vault::seal` alone on the same in-memory vault. The
//!   in-memory store is kept small (its writer refuses records past 10,000, which costs the
//!   caller nothing), so that the run's memory stays bounded.
//! - `ingest/committed/1024B`: records per second acknowledged as durable by 1, 8 and 64
//!   concurrent callers (threads, `log_blocking` under `Acknowledge::Durable`) on the embedded
//!   SQLite store (one transaction per batch, `synchronous=FULL`), against the same callers on
//!   the in-memory handle.
//!
//! Run with `cargo bench -p steward-benches --bench ingest`; docs/benchmarks.md has the
//! figures and ratios.

use std::{
    error::Error,
    hint::black_box,
    num::NonZeroUsize,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use criterion::{BenchmarkId, Criterion, Throughput};
use steward::{
    MemoryFacts, Policy, Vault,
    logs::{AuditKey, AuditTrail, Keyring, MasterKey, MemoryAuditStore},
    vocabulary::{CustomerId, RecordId, Timestamp},
};
use steward_store::{
    Acknowledge, Effective, Ingest, IngestConfig, IngestError, LogEntry, SqliteStore, StoreError,
    StoreKeys, open_vault,
};

const BODY: usize = 1024;
const CALLERS: [u64; 3] = [1, 8, 64];
/// Customers, round-robin over the calls.
const CUSTOMERS: u64 = 64;
/// Records an in-memory handle of the committed figures keeps (about 1.1 GiB at most);
/// past it, calls are refused as full and counted apart.
const MEMORY_RECORDS: usize = 1_000_000;

type MemoryVault = Vault<MemoryFacts, MemoryAuditStore>;
type BoxError = Box<dyn Error + Send + Sync>;

// `criterion_main!` by hand: `criterion_group!` generates an undocumented `pub fn`.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    if let Err(error) = bench_ingest(&mut criterion) {
        eprintln!("ingest bench failed: {error}");
    }
    criterion.final_summary();
}

fn bench_ingest(c: &mut Criterion) -> Result<(), BoxError> {
    let dir = std::env::temp_dir().join(format!("steward-ingest-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = request_path(c).and_then(|()| committed(c, &dir));
    std::fs::remove_dir_all(&dir)?;
    result
}

fn request_path(c: &mut Criterion) -> Result<(), BoxError> {
    let owners = customers()?;
    let vault = memory_vault(&owners)?;
    let config = IngestConfig::default()
        .with_acknowledge(Acknowledge::OnEnqueue)
        .with_memory_capacity(NonZeroUsize::new(10_000).ok_or("zero")?);
    let ingest = Ingest::memory(Arc::clone(&vault), config)?;
    let body = vec![0x5a_u8; BODY];
    // Every customer's first data key, issued untimed.
    for owner in &owners {
        ingest.log_blocking(LogEntry::new(*owner, Timestamp::now(), body.clone()))?;
    }
    let failures = AtomicU64::new(0);
    let mut group = c.benchmark_group(format!("ingest/request-path/{BODY}B"));
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    let mut next = 0_usize;
    group.bench_function("vault-seal", |b| {
        b.iter(|| {
            next = next.wrapping_add(1);
            let owner = owners.get(next % owners.len()).copied();
            let now = Timestamp::now();
            match owner.map(|owner| vault.seal(RecordId::generate_at(now), owner, now, &body)) {
                Some(Ok(record)) => drop(black_box(record)),
                _ => drop(failures.fetch_add(1, Ordering::Relaxed)),
            }
        });
    });
    group.bench_function("check-seal-enqueue", |b| {
        b.iter(|| {
            next = next.wrapping_add(1);
            let owner = owners.get(next % owners.len()).copied();
            // The body is copied into the entry, as a server hands over its buffer.
            match owner.map(|owner| {
                ingest.log_blocking(LogEntry::new(owner, Timestamp::now(), body.as_slice()))
            }) {
                Some(Ok(logged)) => drop(black_box(logged)),
                _ => drop(failures.fetch_add(1, Ordering::Relaxed)),
            }
        });
    });
    group.finish();
    let report = ingest.shutdown_blocking();
    eprintln!(
        "request path: {} records committed, {} refused by the full in-memory store \
         (acknowledged on enqueue)",
        report.committed(),
        report.failed()
    );
    match failures.into_inner() {
        0 => Ok(()),
        failed => Err(format!("{failed} calls failed during the timing").into()),
    }
}

fn committed(c: &mut Criterion, dir: &Path) -> Result<(), BoxError> {
    let owners = customers()?;
    let body = vec![0x5a_u8; BODY];
    let durable = sqlite_ingest(&dir.join("ingest.db"), &owners)?;
    for owner in &owners {
        durable.log_blocking(LogEntry::new(*owner, Timestamp::now(), body.clone()))?;
    }
    let vault = memory_vault(&owners)?;
    let failures = AtomicU64::new(0);
    let full = AtomicU64::new(0);
    let mut group = c.benchmark_group(format!("ingest/committed/{BODY}B"));
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for callers in CALLERS {
        // A fresh in-memory handle per figure, so that the records it keeps stay bounded.
        let memory = Ingest::memory(
            Arc::clone(&vault),
            IngestConfig::default()
                .with_memory_capacity(NonZeroUsize::new(MEMORY_RECORDS).ok_or("zero")?),
        )?;
        group.bench_function(BenchmarkId::new("in-memory", callers), |b| {
            b.iter_custom(|iters| {
                on_callers(callers, iters, &memory, &owners, &body, &failures, &full)
            });
        });
    }
    for callers in CALLERS {
        group.bench_function(BenchmarkId::new("sqlite", callers), |b| {
            b.iter_custom(|iters| {
                on_callers(callers, iters, &durable, &owners, &body, &failures, &full)
            });
        });
    }
    group.finish();
    let report = durable.shutdown_blocking();
    eprintln!(
        "committed: sqlite {} records committed, {} failed; in-memory refused {} past its \
         capacity",
        report.committed(),
        report.failed(),
        full.load(Ordering::Relaxed)
    );
    match failures.into_inner() {
        0 => Ok(()),
        failed => Err(format!("{failed} calls failed during the timing").into()),
    }
}

/// `iters` durable logs spread over `callers` threads; the wall time.
fn on_callers(
    callers: u64,
    iters: u64,
    ingest: &Ingest,
    owners: &[CustomerId],
    body: &[u8],
    failures: &AtomicU64,
    full: &AtomicU64,
) -> Duration {
    let start = Instant::now();
    thread::scope(|scope| {
        for caller in 0..callers {
            let share = iters / callers + u64::from(caller < iters % callers);
            scope.spawn(move || {
                for i in 0..share {
                    let index = usize::try_from(caller.wrapping_add(i * callers)).unwrap_or(0);
                    let Some(owner) = owners.get(index % owners.len()) else {
                        continue;
                    };
                    let entry = LogEntry::new(*owner, Timestamp::now(), body);
                    match ingest.log_blocking(entry) {
                        Ok(_) => {}
                        Err(IngestError::Commit {
                            source: StoreError::MemoryFull { .. },
                        }) => drop(full.fetch_add(1, Ordering::Relaxed)),
                        Err(_) => drop(failures.fetch_add(1, Ordering::Relaxed)),
                    }
                }
            });
        }
    });
    start.elapsed()
}

fn sqlite_ingest(path: &Path, owners: &[CustomerId]) -> Result<Ingest, BoxError> {
    let keys = StoreKeys::new(
        "kek-bench".parse()?,
        b"steward test key 42, not secret!",
        b"steward test key 17, not secret!",
    )?;
    let store = SqliteStore::create(path, &keys)?;
    let vault = open_vault(&store, &keys, Policy::coder_model())?;
    vault.update_facts(|facts| {
        facts.in_one_commit(|batch| {
            for owner in owners {
                batch.start_relationship(*owner, Effective::Now)?;
            }
            Ok(())
        })
    })??;
    Ok(Ingest::sqlite(
        Arc::new(vault),
        store,
        IngestConfig::default(),
    )?)
}

fn memory_vault(owners: &[CustomerId]) -> Result<Arc<MemoryVault>, BoxError> {
    let policy = Policy::coder_model();
    let mut facts = MemoryFacts::new(&policy);
    for owner in owners {
        facts
            .relationships
            .start(*owner, "2025-01-01T00:00:00Z".parse()?)?;
    }
    let master = MasterKey::from_bytes("kek-bench".parse()?, b"steward test key 42, not secret!")?;
    let trail = AuditTrail::new(
        AuditKey::from_bytes(b"steward test key 17, not secret!")?,
        MemoryAuditStore::new(),
    )?;
    Ok(Arc::new(Vault::new(
        policy,
        facts,
        Keyring::new(master),
        trail,
    )?))
}

fn customers() -> Result<Vec<CustomerId>, BoxError> {
    (0..CUSTOMERS)
        .map(|n| Ok(format!("0192f1f0-6b2a-7cc3-9a4e-{:012x}", n + 1).parse()?))
        .collect()
}
