//! Consent lookups at a past instant (docs/design.md section 4: O(log n) in the customer's
//! history, 1M customers in memory without trouble).
//!
//! Builds one ledger of 1,000,000 customers with 3 changes each, reports its memory (the
//! ledger's own estimate from capacities, and the growth of the process's resident set), then
//! adds customers with 1, 10 and 1,000 changes and times `level_at` on them, with the million
//! others in the same hash table.
//!
//! Run: `cargo bench -p steward-benches --bench consent`.

use std::{collections::HashMap, hint::black_box, time::Duration, time::Instant};

use criterion::{BenchmarkId, Criterion};
use steward_consent::{
    AdminId, Channel, ConsentActor, ConsentChange, ConsentLedger, ConsentMode, Justification,
    KnownPolicyVersions, TrainingLevel,
};
use steward_core::{CustomerId, PolicyVersion, Timestamp};

/// 2025-03-05T00:00:00Z in nanoseconds.
const BASE_NANOS: i64 = 1_741_132_800_000_000_000;
const DAY_NANOS: i64 = 86_400_000_000_000;
const BACKGROUND_CUSTOMERS: u64 = 1_000_000;
const CHANGES_PER_BACKGROUND_CUSTOMER: i64 = 3;
const HISTORY_LENGTHS: [u32; 3] = [1, 10, 1_000];
/// Query instants per measured customer, cycled through so lookups land all over the history.
const QUERIES: usize = 1_024;

const LEVELS: [TrainingLevel; 4] = [
    TrainingLevel::None,
    TrainingLevel::Private,
    TrainingLevel::Shared,
    TrainingLevel::OpenWeight,
];

fn customer(n: u64) -> Option<CustomerId> {
    let high = n >> 48;
    let low = n & 0xffff_ffff_ffff;
    format!("{high:08x}-0000-7000-8000-{low:012x}").parse().ok()
}

/// A deterministic spread of instants (a 64-bit LCG), so queries do not follow memory order.
fn spread(seed: u64, count: usize, span_nanos: i64) -> Vec<Timestamp> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let offset = i64::try_from(state >> 33).unwrap_or(0) % span_nanos.max(1);
            Timestamp::from_unix_nanos(BASE_NANOS + offset)
        })
        .collect()
}

struct Fixture {
    ledger: ConsentLedger,
    /// The same customers in a plain map to their latest level: the cost of a bare hash
    /// lookup with no history, measured in the same run as a baseline.
    baseline: HashMap<CustomerId, TrainingLevel>,
    /// Customer with its history length, and the instants to query it at.
    measured: Vec<(u32, CustomerId, Vec<Timestamp>)>,
}

/// A memory figure of this process from `/proc/self/status` in KiB (`VmRSS`: resident now,
/// `VmHWM`: peak resident so far); `None` off Linux.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn resident_kib() -> Option<u64> {
    status_kib("VmRSS:")
}

/// Times a JSON export and import of the ledger and reports the peak memory of the import.
fn report_round_trip(ledger: &ConsentLedger) -> Option<()> {
    let started = Instant::now();
    let json = ledger.to_json().ok()?;
    let export = started.elapsed();
    let peak_before = status_kib("VmHWM:");
    let started = Instant::now();
    let back = ConsentLedger::from_json(&json, ledger.known_versions().clone()).ok()?;
    let import = started.elapsed();
    let peak_after = status_kib("VmHWM:");
    println!(
        "  JSON export: {} B in {:.2} s; import (validating) in {:.2} s; round trip equal: {}",
        json.len(),
        export.as_secs_f64(),
        import.as_secs_f64(),
        back == *ledger,
    );
    if let (Some(before), Some(after)) = (peak_before, peak_after) {
        println!(
            "  peak resident set grew by {:.1} MiB during import (text and ledgers held too)",
            after.saturating_sub(before) as f64 / 1024.0,
        );
    }
    Some(())
}

fn fixture() -> Option<Fixture> {
    let versions: Vec<PolicyVersion> = ["2025-03-05", "2025-09-01"]
        .iter()
        .filter_map(|text| text.parse().ok())
        .collect();
    let admins: Vec<AdminId> = ["dana", "erik.support", "ops@example.com"]
        .iter()
        .filter_map(|text| text.parse().ok())
        .collect();
    let (first_version, last_version) = (versions.first()?, versions.last()?);
    let known = KnownPolicyVersions::try_from_iter(versions.iter().cloned()).ok()?;
    // Every change is recorded when the fixture is built, at the base instant, and scheduled
    // for its own instant (never earlier): lookups only read the effective instants.
    let recorded_at = Timestamp::from_unix_nanos(BASE_NANOS);

    let rss_before = resident_kib();
    let started = Instant::now();
    let mut ledger = ConsentLedger::new(known);
    for n in 1..=BACKGROUND_CUSTOMERS {
        let who = customer(n)?;
        for k in 0..CHANGES_PER_BACKGROUND_CUSTOMER {
            let seed = usize::try_from(n)
                .ok()?
                .wrapping_add(usize::try_from(k).ok()?);
            // One change in ten is recorded by an admin after a support request, each with
            // its own ticket as the stated basis.
            let (actor, channel) = if n % 10 == 0 && k == 1 {
                let admin = admins.get(seed % admins.len())?.clone();
                let basis: Justification = format!("TICKET-{n}").parse().ok()?;
                (
                    ConsentActor::Admin { admin, basis },
                    Channel::SupportRequest,
                )
            } else {
                (ConsentActor::Customer, Channel::AccountSettings)
            };
            let change = ConsentChange::new(
                who,
                *LEVELS.get(seed % LEVELS.len())?,
                Timestamp::from_unix_nanos(BASE_NANOS + k * 30 * DAY_NANOS),
                actor,
                channel,
                if k == 2 { last_version } else { first_version }.clone(),
            );
            ledger.record(change, recorded_at).ok()?;
        }
    }
    let build = started.elapsed();
    let rss_after = resident_kib();
    let estimate = ledger.approximate_heap_bytes();
    let customers = ledger.customer_count();
    println!(
        "consent ledger memory: {customers} customers x {CHANGES_PER_BACKGROUND_CUSTOMER} \
         changes = {} changes, built in {:.2} s",
        ledger.change_count(),
        build.as_secs_f64(),
    );
    println!(
        "  approximate_heap_bytes: {estimate} B total = {:.1} MiB, {:.1} B per customer, \
         {:.1} B per change",
        estimate as f64 / 1_048_576.0,
        estimate as f64 / customers as f64,
        estimate as f64 / ledger.change_count() as f64,
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        let grown = after.saturating_sub(before) * 1024;
        println!(
            "  resident set growth (VmRSS, allocator overhead included): {grown} B = {:.1} MiB, \
             {:.1} B per customer",
            grown as f64 / 1_048_576.0,
            grown as f64 / customers as f64,
        );
    }

    if report_round_trip(&ledger).is_none() {
        println!("  JSON round trip failed");
    }

    // Built after the memory figures so that it does not count in them.
    let mut baseline = HashMap::new();
    for n in 1..=BACKGROUND_CUSTOMERS {
        let who = customer(n)?;
        baseline.insert(who, ledger.latest_level(who));
    }

    let mut measured = Vec::new();
    for (i, &length) in HISTORY_LENGTHS.iter().enumerate() {
        let who = customer(BACKGROUND_CUSTOMERS + 1 + u64::try_from(i).ok()?)?;
        for k in 0..length {
            let change = ConsentChange::new(
                who,
                *LEVELS.get(usize::try_from(k).ok()? % LEVELS.len())?,
                Timestamp::from_unix_nanos(BASE_NANOS + i64::from(k) * DAY_NANOS),
                ConsentActor::Customer,
                Channel::Api,
                first_version.clone(),
            );
            ledger.record(change, recorded_at).ok()?;
        }
        // Queries from before the first change to past the last one.
        let span = (i64::from(length) + 1) * DAY_NANOS;
        measured.push((length, who, spread(u64::from(length), QUERIES, span)));
        baseline.insert(who, ledger.latest_level(who));
    }
    Some(Fixture {
        ledger,
        baseline,
        measured,
    })
}

fn level_at(c: &mut Criterion) {
    let Some(Fixture {
        ledger,
        baseline,
        measured,
    }) = fixture()
    else {
        eprintln!("consent bench: could not build the fixture");
        return;
    };

    let mut group = c.benchmark_group("consent/level_at");
    for (length, who, instants) in &measured {
        group.bench_with_input(BenchmarkId::from_parameter(length), who, |b, &who| {
            let mut queries = instants.iter().cycle();
            b.iter(|| {
                let at = queries
                    .next()
                    .copied()
                    .unwrap_or(Timestamp::from_unix_nanos(0));
                black_box(ledger.level_at(black_box(who), black_box(at)))
            });
        });
    }
    if let Some((length, who, _)) = measured.last() {
        // After the latest change: the "level now" question asked when data is collected.
        let now = Timestamp::from_unix_nanos(BASE_NANOS + (i64::from(*length) + 1) * DAY_NANOS);
        group.bench_function(format!("{length}-now"), |b| {
            b.iter(|| black_box(ledger.level_at(black_box(*who), black_box(now))));
        });
    }
    if let Some((_, who, _)) = measured.first() {
        group.bench_function("hashmap-baseline", |b| {
            b.iter(|| black_box(baseline.get(black_box(who)).copied()));
        });
    }
    if let Some(unknown) = customer(u64::MAX >> 16) {
        let at = Timestamp::from_unix_nanos(BASE_NANOS);
        group.bench_function("unknown-customer", |b| {
            b.iter(|| black_box(ledger.level_at(black_box(unknown), black_box(at))));
        });
    }
    group.finish();

    let mut group = c.benchmark_group("consent/effective_level");
    if let Some((_, who, instants)) = measured.iter().find(|(length, ..)| *length == 10) {
        let now = Timestamp::from_unix_nanos(BASE_NANOS + 20 * DAY_NANOS);
        for mode in ConsentMode::ALL {
            group.bench_function(mode.as_str(), |b| {
                let mut queries = instants.iter().cycle();
                b.iter(|| {
                    let at = queries.next().copied().unwrap_or(now);
                    black_box(ledger.effective_level(black_box(*who), black_box(at), now, *mode))
                });
            });
        }
    }
    group.finish();
}

fn main() {
    // What `criterion_group!`/`criterion_main!` expand to, written out: short warm-up and
    // measurement keep the whole run well under two minutes on a shared 2-core machine.
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    level_at(&mut criterion);
    criterion.final_summary();
}
