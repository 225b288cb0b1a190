//! Retention dispositions per second over 10 million record metadata entries in memory
//! (docs/design.md section 4: at least 10 million per second per core), single-threaded.
//!
//! - `retention/disposition`: the pure evaluator of the facade's hot path over 10M records,
//!   with each record's relationship and its customer's holds (a slice) already at hand.
//! - `retention/sweep-dispositions-store-order`: what a sweep does per record
//!   (`Sweep::dispositions`) over 10M records in store order (grouped by customer): look up the
//!   customer's relationships in a `RelationshipBook` and holds in a `HoldRegister` once per
//!   run of their records, find the relationship containing each record, evaluate.
//! - `retention/sweep-dispositions-random-order`: the same over 2M records in random customer
//!   order (lookups on every record, most of them cache misses), for contrast.
//! - `retention/sweep-plan-1m`: planning a sweep (allocating the plan) over 1M records in
//!   store order.
//!
//! Run: `cargo bench -p steward-benches --bench retention`.

use std::{error::Error, hint::black_box, time::Duration};

use criterion::{Criterion, Throughput};
use steward_core::{CustomerId, DataCategory, RecordId, Timestamp};
use steward_retention::{
    DeletionWindow, HoldId, HoldRegister, HoldScope, LegalHold, RecordMeta, Relationship,
    RelationshipBook, RetentionSchedule, Sweep,
};

const RECORDS: usize = 10_000_000;
const CUSTOMERS: usize = 100_000;
const HOLDS: usize = 1_000;
const DAY_NANOS: i64 = 86_400 * 1_000_000_000;
/// 2026-01-01T00:00:00Z, the bench's "now".
const NOW_NANOS: i64 = 1_767_225_600 * 1_000_000_000;

/// A small deterministic generator, so every run measures the same data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    fn days(&mut self, bound: u64) -> i64 {
        i64::try_from(self.below(bound)).unwrap_or(0) * DAY_NANOS
    }
}

struct Fixture {
    schedule: RetentionSchedule,
    book: RelationshipBook,
    register: HoldRegister,
    /// Records in store order: grouped by customer, then by collection instant.
    records: Vec<RecordMeta>,
    /// The first 2M records as generated: random customer order.
    random: Vec<RecordMeta>,
    /// Per record (store order): its relationship, resolved once.
    relationships: Vec<Option<Relationship>>,
    /// Per record (store order): its customer's index into `holds_by_customer`.
    customer_index: Vec<u32>,
    holds_by_customer: Vec<Vec<LegalHold>>,
    now: Timestamp,
}

fn fixture() -> Result<Fixture, Box<dyn Error>> {
    let mut rng = SplitMix(0x5EED);
    let now = Timestamp::from_unix_nanos(NOW_NANOS);
    let customers: Vec<CustomerId> = (1..=CUSTOMERS)
        .map(|n| format!("0192f1f0-6b2a-7cc3-9a4e-{n:012x}").parse())
        .collect::<Result<_, _>>()?;
    // Relationships: started up to two years ago; half ended, a third of those returned.
    let mut book = RelationshipBook::new();
    let mut first_start = Vec::with_capacity(CUSTOMERS);
    for customer in &customers {
        let start = Timestamp::from_unix_nanos(NOW_NANOS - rng.days(730) - DAY_NANOS);
        first_start.push(start);
        book.start(*customer, start)?;
        if rng.below(2) == 0 {
            let span = (NOW_NANOS - start.unix_nanos()).max(1);
            let end = Timestamp::from_unix_nanos(
                start.unix_nanos() + i64::try_from(rng.below(span.unsigned_abs()))?,
            );
            book.end(*customer, end)?;
            if rng.below(3) == 0 {
                let back = end.unix_nanos() + rng.days(60);
                book.start(*customer, Timestamp::from_unix_nanos(back.min(NOW_NANOS)))?;
            }
        }
    }
    // Holds on a thousand customers, most standing.
    let mut register = HoldRegister::new();
    let mut holds_by_customer: Vec<Vec<LegalHold>> = vec![Vec::new(); CUSTOMERS];
    let placed = Timestamp::from_unix_nanos(NOW_NANOS - 100 * DAY_NANOS);
    for n in 0..HOLDS {
        let index = usize::try_from(rng.below(CUSTOMERS as u64))?;
        let customer = customers.get(index).copied().ok_or("customer index")?;
        let expires = Timestamp::from_unix_nanos(NOW_NANOS + rng.days(200) - 20 * DAY_NANOS);
        let hold = LegalHold::place(
            HoldId::new(u64::try_from(n)?),
            HoldScope::Customer { customer },
            "CASE-BENCH litigation hold".parse()?,
            "counsel.bench".parse()?,
            placed,
            expires.max(Timestamp::from_unix_nanos(NOW_NANOS - 99 * DAY_NANOS)),
        )?;
        register.place(hold.clone())?;
        holds_by_customer
            .get_mut(index)
            .ok_or("customer index")?
            .push(hold);
    }
    // Records: mostly logs, collected between the customer's first start and now.
    let categories = [
        DataCategory::LlmRequestLog,
        DataCategory::LlmRequestLog,
        DataCategory::LlmRequestLog,
        DataCategory::IpAddress,
        DataCategory::Email,
    ];
    let mut generated: Vec<(u32, RecordMeta)> = Vec::with_capacity(RECORDS);
    for _ in 0..RECORDS {
        let index = usize::try_from(rng.below(CUSTOMERS as u64))?;
        let customer = customers.get(index).copied().ok_or("customer index")?;
        let start = first_start.get(index).copied().ok_or("start index")?;
        let span = (NOW_NANOS - start.unix_nanos()).max(1);
        let collected = Timestamp::from_unix_nanos(
            start.unix_nanos() + i64::try_from(rng.below(span.unsigned_abs()))?,
        );
        let category = categories
            .get(usize::try_from(rng.below(categories.len() as u64))?)
            .copied()
            .ok_or("category index")?;
        let record = RecordMeta::new(
            RecordId::generate_at(collected),
            customer,
            category,
            collected,
        );
        generated.push((u32::try_from(index)?, record));
    }
    let random: Vec<RecordMeta> = generated.iter().take(2_000_000).map(|(_, r)| *r).collect();
    generated.sort_unstable_by_key(|(index, record)| (*index, record.collected_at()));
    let relationships = generated
        .iter()
        .map(|(_, r)| book.containing(r.customer(), r.collected_at()).copied())
        .collect();
    let customer_index = generated.iter().map(|(index, _)| *index).collect();
    let records = generated.into_iter().map(|(_, record)| record).collect();
    Ok(Fixture {
        schedule: RetentionSchedule::bundled(DeletionWindow::from_days(30)?),
        book,
        register,
        records,
        random,
        relationships,
        customer_index,
        holds_by_customer,
        now,
    })
}

fn retention(c: &mut Criterion) {
    let fixture = match fixture() {
        Ok(fixture) => fixture,
        Err(error) => {
            eprintln!("retention bench fixture failed: {error}");
            return;
        }
    };
    let mut group = c.benchmark_group("retention");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));

    group.throughput(Throughput::Elements(fixture.records.len() as u64));
    group.bench_function("disposition", |b| {
        b.iter(|| {
            let mut due = 0_u64;
            let rows = fixture
                .records
                .iter()
                .zip(&fixture.relationships)
                .zip(&fixture.customer_index);
            for ((record, relationship), index) in rows {
                let holds = fixture
                    .holds_by_customer
                    .get(*index as usize)
                    .map_or(&[][..], Vec::as_slice);
                let result = fixture.schedule.disposition(
                    black_box(record),
                    relationship.as_ref(),
                    holds,
                    fixture.now,
                );
                due += u64::from(result.is_ok_and(|d| d.is_due()));
            }
            black_box(due)
        });
    });

    let sweep = Sweep::new(&fixture.schedule, &fixture.book, &fixture.register);
    let with_lookup = |records: &[RecordMeta]| {
        let due = sweep
            .dispositions(records.iter().copied(), fixture.now)
            .filter(|(_, result)| result.as_ref().is_ok_and(|d| d.is_due()))
            .count();
        black_box(due)
    };
    group.bench_function("sweep-dispositions-store-order", |b| {
        b.iter(|| with_lookup(&fixture.records));
    });
    group.throughput(Throughput::Elements(fixture.random.len() as u64));
    group.bench_function("sweep-dispositions-random-order", |b| {
        b.iter(|| with_lookup(&fixture.random));
    });

    let million = fixture.records.get(..1_000_000).unwrap_or(&fixture.records);
    group.throughput(Throughput::Elements(million.len() as u64));
    group.bench_function("sweep-plan-1m", |b| {
        b.iter(|| black_box(sweep.plan(million.iter().copied(), fixture.now)));
    });
    group.finish();
}

// What `criterion_group!`/`criterion_main!` expand to, written out because the macro's
// generated `pub fn` has no docs and the workspace denies missing docs.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    retention(&mut criterion);
    criterion.final_summary();
}
