//! Measures what a retention sweep costs the requests a service serves meanwhile (issue 19,
//! "no stalls"): the latency of a logged request (check, seal, durable store) while a
//! 20,000-record sweep runs and consent changes arrive, against the same load without the
//! sweep, on the embedded store.
//!
//! Four runs on one store, each with the same request threads and a consent change every
//! 10 ms:
//! - `no sweep`: the baseline, for as long as the stepped sweep took;
//! - `stepped sweep`: [`StoreSweep`], the facts taken for one batch (`SweepBatch::DEFAULT`) at a time;
//! - `one guard`: the same plan executed under one facts guard held for the whole sweep, as
//!   services ran it before (`Sweep::execute` with `vault.facts()` held);
//! - `export`: no sweep, but a training export of as many records (shared scope, decrypted).
//!
//! Run: `cargo run --release -p steward-examples --example sweep_stalls [RECORDS [BATCH]]`
//! (default 20000 records, `SweepBatch::DEFAULT`). Figures are in docs/benchmarks.md, "Requests during a sweep".

use std::{
    error::Error,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use steward::{
    DataRef, Policy, Request, VaultShredder,
    consent::{Channel, ConsentActor, ConsentChange},
    retention::{Sweep, SweepBatch, SweepPlan, SweepProgress},
    vocabulary::{
        CustomerId, DataCategory, ManualClock, RecordId, Timestamp, TrainingLevel, TrainingScope,
    },
};
use steward_store::{
    RecordScan, SqliteStore, StoreKeys, StoreSweep, StoreVault, SweepRecords, open_vault,
};

/// Threads that log requests, as a proxy's workers would.
const REQUEST_THREADS: usize = 2;
/// Customers whose relationships ended, their records swept.
const ENDED: usize = 4;

fn main() -> Result<(), Box<dyn Error>> {
    let records: usize = std::env::args()
        .nth(1)
        .map(|arg| arg.parse())
        .transpose()?
        .unwrap_or(20_000);
    let batch = match std::env::args().nth(2) {
        Some(size) => SweepBatch::new(size.parse()?),
        None => SweepBatch::DEFAULT,
    };
    let dir = std::env::temp_dir().join(format!("steward-sweep-stalls-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = measure(&dir, records, batch);
    std::fs::remove_dir_all(&dir)?;
    result
}

fn measure(dir: &std::path::Path, records: usize, batch: SweepBatch) -> Result<(), Box<dyn Error>> {
    let keys = StoreKeys::new(
        "kek-2025-03".parse()?,
        b"steward test key 42, not secret!",
        b"steward test key 17, not secret!",
    )?;
    let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
    let vault = Arc::new(open_vault(&store, &keys, Policy::coder_model())?);
    let live: Vec<CustomerId> = (0..8).map(customer).collect::<Result<_, _>>()?;
    let start = Timestamp::now();
    for customer in &live {
        vault.update_facts(|facts| facts.start_relationship(*customer, start))??;
        change_consent(&vault, *customer, TrainingLevel::Private)?;
    }

    println!(
        "requests during a sweep of {records} records: {REQUEST_THREADS} request threads (check, seal, store), a consent change every 10 ms"
    );
    println!(
        "{:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "run", "requests", "p50 µs", "p99 µs", "max µs", "sweep ms", "max/base"
    );
    // The stepped sweep first: its duration is the baseline's.
    let plan = seed(&store, &vault, records)?;
    let mut longest = (Duration::ZERO, 0_usize);
    let (stepped, took) = under_load(&vault, &store, &live, || {
        let clock = ManualClock::new(past_the_window());
        let mut sweep = StoreSweep::new(&vault, store.clone(), &plan, &clock, batch);
        loop {
            let began = Instant::now();
            let shredded = sweep.report().shredded().len();
            let progress = sweep.step()?;
            let step = began.elapsed();
            if step > longest.0 {
                longest = (step, sweep.report().shredded().len() - shredded);
            }
            if progress == SweepProgress::Done {
                return Ok(());
            }
        }
    })?;
    let (base, _) = under_load(&vault, &store, &live, || {
        thread::sleep(took);
        Ok(())
    })?;
    let plan = seed(&store, &vault, records)?;
    let (guarded, guarded_took) = under_load(&vault, &store, &live, || {
        let facts = vault.facts()?;
        let sweep = Sweep::new(
            vault.policy().retention(),
            facts.relationships()?,
            facts.holds()?,
        );
        let mut records = SweepRecords::new(store.clone(), &*facts);
        let mut shredder = VaultShredder::new(&*vault, &*facts);
        let clock = ManualClock::new(past_the_window());
        sweep.execute(&plan, &mut records, &mut shredder, &clock);
        Ok(())
    })?;
    // The same load while a training export decrypts `records` records of customers who
    // opted in to shared training: it reads a snapshot and takes the facts per record only.
    shared_records(&store, &vault, records)?;
    let (exporting, export_took) = under_load(&vault, &store, &live, || {
        let outcome = vault.export_training(
            TrainingScope::Shared,
            |pass| store.stream_records(RecordScan::All, pass),
            |record| {
                std::hint::black_box(record.body());
                Ok(())
            },
        )?;
        if outcome.counts.exported < u64::try_from(records)? {
            return Err(format!("only {} records exported", outcome.counts.exported).into());
        }
        Ok(())
    })?;
    let base_max = base.max().max(1);
    for (name, run, took) in [
        ("no sweep", &base, took),
        ("stepped sweep", &stepped, took),
        ("one guard", &guarded, guarded_took),
        ("export", &exporting, export_took),
    ] {
        println!(
            "{name:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9.1}x",
            run.count(),
            run.quantile(0.5),
            run.quantile(0.99),
            run.max(),
            took.as_millis(),
            f64::from(run.max()) / f64::from(base_max),
        );
    }
    println!(
        "longest step of the stepped sweep: {} µs ({} key shreds in it)",
        longest.0.as_micros(),
        longest.1
    );
    Ok(())
}

/// An instant past every ended relationship's deletion window.
fn past_the_window() -> Timestamp {
    Timestamp::from_unix_nanos(Timestamp::now().unix_nanos() + 31 * 86_400 * 1_000_000_000)
}

fn customer(n: usize) -> Result<CustomerId, Box<dyn Error>> {
    Ok(format!("0192f1f0-6b2a-7cc3-9a4e-{n:012x}").parse()?)
}

fn change_consent(
    vault: &StoreVault,
    customer: CustomerId,
    level: TrainingLevel,
) -> Result<(), Box<dyn Error>> {
    let now = Timestamp::now();
    vault.update_facts(|facts| {
        facts.record_consent(ConsentChange::new(
            customer,
            level,
            now,
            ConsentActor::Customer,
            Channel::Api,
            Policy::coder_model().version().clone(),
        ))
    })??;
    Ok(())
}

/// Stores `records` records of fresh customers whose relationships then end, and plans the
/// sweep that deletes them all.
fn seed(
    store: &SqliteStore,
    vault: &StoreVault,
    records: usize,
) -> Result<SweepPlan, Box<dyn Error>> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0x100);
    let ended: Vec<CustomerId> = (0..ENDED)
        .map(|_| customer(NEXT.fetch_add(1, Ordering::Relaxed)))
        .collect::<Result<_, _>>()?;
    let start = Timestamp::now();
    for customer in &ended {
        vault.update_facts(|facts| facts.start_relationship(*customer, start))??;
    }
    let mut sealed = Vec::with_capacity(1000);
    for n in 0..records {
        let now = Timestamp::now();
        let customer = ended.get(n % ENDED).copied().ok_or("no customer")?;
        sealed.push(vault.seal(RecordId::generate_at(now), customer, now, &[b'x'; 1024])?);
        if sealed.len() == 1000 || n + 1 == records {
            store.put_records(
                sealed
                    .iter()
                    .map(|record| (record, DataCategory::LlmRequestLog)),
            )?;
            sealed.clear();
        }
    }
    let end = Timestamp::now();
    for customer in &ended {
        vault.update_facts(|facts| facts.end_relationship(*customer, end))??;
    }
    let mut metas = Vec::new();
    for customer in &ended {
        metas.extend(
            store
                .record_metas(RecordScan::Customer(*customer))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    let facts = vault.facts()?;
    let plan = Sweep::new(
        vault.policy().retention(),
        facts.relationships()?,
        facts.holds()?,
    )
    .plan(metas, past_the_window());
    Ok(plan)
}

/// Stores `records` records of fresh customers who opted in to shared training first.
fn shared_records(
    store: &SqliteStore,
    vault: &StoreVault,
    records: usize,
) -> Result<(), Box<dyn Error>> {
    let customers: Vec<CustomerId> = (0x1000..0x1000 + ENDED)
        .map(customer)
        .collect::<Result<_, _>>()?;
    let start = Timestamp::now();
    for customer in &customers {
        vault.update_facts(|facts| facts.start_relationship(*customer, start))??;
        change_consent(vault, *customer, TrainingLevel::Shared)?;
    }
    let mut sealed = Vec::with_capacity(1000);
    for n in 0..records {
        let now = Timestamp::now();
        let customer = customers.get(n % ENDED).copied().ok_or("no customer")?;
        sealed.push(vault.seal(RecordId::generate_at(now), customer, now, &[b'x'; 1024])?);
        if sealed.len() == 1000 || n + 1 == records {
            store.put_records(
                sealed
                    .iter()
                    .map(|record| (record, DataCategory::LlmRequestLog)),
            )?;
            sealed.clear();
        }
    }
    Ok(())
}

/// Runs `work` on this thread while request threads log and a consent writer changes consent;
/// returns the requests' latencies and how long `work` took.
fn under_load(
    vault: &Arc<StoreVault>,
    store: &SqliteStore,
    live: &[CustomerId],
    work: impl FnOnce() -> Result<(), Box<dyn Error>>,
) -> Result<(Latencies, Duration), Box<dyn Error>> {
    let stop = Arc::new(AtomicBool::new(false));
    let requests: Vec<_> = (0..REQUEST_THREADS)
        .map(|n| {
            let (vault, store, stop) = (Arc::clone(vault), store.clone(), Arc::clone(&stop));
            let customer = live.get(n % live.len()).copied();
            thread::spawn(move || -> Result<Vec<u32>, String> {
                let customer = customer.ok_or("no customer")?;
                let mut micros = Vec::new();
                while !stop.load(Ordering::Acquire) {
                    let began = Instant::now();
                    request(&vault, &store, customer).map_err(|error| error.to_string())?;
                    micros.push(u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
                Ok(micros)
            })
        })
        .collect();
    let consent = {
        let (vault, stop) = (Arc::clone(vault), Arc::clone(&stop));
        let live = live.to_vec();
        thread::spawn(move || -> Result<(), String> {
            let levels = [TrainingLevel::Shared, TrainingLevel::Private];
            for (customer, level) in live.iter().cycle().zip(levels.iter().cycle()) {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                change_consent(&vault, *customer, *level).map_err(|error| error.to_string())?;
                thread::sleep(Duration::from_millis(10));
            }
            Ok(())
        })
    };
    // Warm up before the work starts.
    thread::sleep(Duration::from_millis(200));
    let began = Instant::now();
    let worked = work();
    let took = began.elapsed();
    stop.store(true, Ordering::Release);
    let mut all = Vec::new();
    for thread in requests {
        all.extend(thread.join().map_err(|_| "a request thread panicked")??);
    }
    consent
        .join()
        .map_err(|_| "the consent thread panicked")??;
    worked?;
    all.sort_unstable();
    Ok((Latencies(all), took))
}

/// One logged request: may it be logged (and trained on, for the decision's sake), sealed
/// under the consent in force, stored durably.
fn request(
    vault: &StoreVault,
    store: &SqliteStore,
    customer: CustomerId,
) -> Result<(), Box<dyn Error>> {
    let now = Timestamp::now();
    let decision = vault.check(&Request::train(
        TrainingScope::Private { owner: customer },
        DataRef::new(DataCategory::LlmRequestLog, customer, now),
        now,
    ));
    std::hint::black_box(decision.is_allowed());
    let record = vault.seal(RecordId::generate_at(now), customer, now, &[b'p'; 1024])?;
    store.put_record(&record, DataCategory::LlmRequestLog)?;
    Ok(())
}

/// Latencies in microseconds, sorted.
struct Latencies(Vec<u32>);

impl Latencies {
    fn count(&self) -> usize {
        self.0.len()
    }

    fn max(&self) -> u32 {
        self.0.last().copied().unwrap_or(0)
    }

    fn quantile(&self, q: f64) -> u32 {
        let len = self.0.len();
        if len == 0 {
            return 0;
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index into a list of latencies: far below 2^52, and q is within 0..=1"
        )]
        let index = ((len - 1) as f64 * q).round() as usize;
        self.0.get(index).copied().unwrap_or(0)
    }
}
