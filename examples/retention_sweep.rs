//! An operator runs the retention sweep (`logs.retention`): a dry run first, then the real
//! thing, with a legal hold placed in between that must win.
//!
//! Run: `cargo run -p steward-examples --example retention_sweep`.

use std::error::Error;

use steward_core::{CustomerId, DataCategory, ManualClock, RecordId, Timestamp};
use steward_retention::{
    DeletionWindow, HoldId, HoldRegister, HoldScope, LegalHold, MemoryKeyShredder,
    MemoryRecordStore, RecordMeta, RelationshipBook, RetentionSchedule, Sweep,
};

fn log(customer: CustomerId, collected: &str) -> Result<RecordMeta, Box<dyn Error>> {
    let collected: Timestamp = collected.parse()?;
    Ok(RecordMeta::new(
        RecordId::generate_at(collected),
        customer,
        DataCategory::LlmRequestLog,
        collected,
    ))
}

fn main() -> Result<(), Box<dyn Error>> {
    let active: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-000000000001".parse()?;
    let left: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-000000000002".parse()?;
    let returned: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-000000000003".parse()?;
    let litigated: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-000000000004".parse()?;

    // The relationship lifecycle, as the billing system reports it.
    let mut book = RelationshipBook::new();
    book.start(active, "2025-01-01T00:00:00Z".parse()?)?;
    book.start(left, "2025-01-01T00:00:00Z".parse()?)?;
    book.end(left, "2025-05-31T00:00:00Z".parse()?)?;
    book.start(returned, "2025-01-01T00:00:00Z".parse()?)?;
    book.end(returned, "2025-03-31T00:00:00Z".parse()?)?;
    book.start(returned, "2025-05-15T00:00:00Z".parse()?)?;
    book.start(litigated, "2025-01-01T00:00:00Z".parse()?)?;
    book.end(litigated, "2025-04-30T00:00:00Z".parse()?)?;

    let records = [
        log(active, "2025-05-20T10:00:00Z")?,
        log(left, "2025-05-20T10:00:00Z")?,
        log(returned, "2025-02-10T10:00:00Z")?,
        log(returned, "2025-06-01T10:00:00Z")?,
        log(litigated, "2025-04-01T10:00:00Z")?,
    ];
    let mut store: MemoryRecordStore = records.into_iter().collect();
    let mut keys = MemoryKeyShredder::new();
    for customer in [active, left, returned, litigated] {
        keys.add_customer(customer);
    }

    let schedule = RetentionSchedule::bundled(DeletionWindow::from_days(30)?);
    let mut holds = HoldRegister::new();
    let now: Timestamp = "2025-06-10T00:00:00Z".parse()?;

    // 1. Dry run: print the plan for review. Nothing is deleted.
    let plan = Sweep::new(&schedule, &book, &holds).plan(store.records(), now);
    println!("{plan}");

    // 2. Legal asks to preserve one customer's data before the plan is executed.
    holds.place(LegalHold::place(
        HoldId::new(1),
        HoldScope::Customer {
            customer: litigated,
        },
        "CASE-2025-031 preservation request".parse()?,
        "counsel.kim".parse()?,
        "2025-06-10T08:00:00Z".parse()?,
        "2025-12-31T00:00:00Z".parse()?,
    )?)?;

    // 3. Execute at the clock's now (a `SystemClock` in a service; this example's clock stands
    //    at 09:00): every action is decided again against the holds of this moment.
    let clock = ManualClock::new("2025-06-10T09:00:00Z".parse()?);
    let sweep = Sweep::new(&schedule, &book, &holds);
    let report = sweep.execute(&plan, &mut store, &mut keys, &clock);
    println!("deleted {} records", report.deleted().len());
    for (record, disposition) in report.now_kept() {
        println!("kept since planning: {record} ({disposition:?})");
    }
    println!("keys shredded: {:?}", report.shredded());
    println!("shreds withheld: {:?}", report.shreds_withheld());
    println!("{} records remain", store.len());

    // Running the same plan again is harmless.
    let again = sweep.execute(&plan, &mut store, &mut keys, &clock);
    println!(
        "second run: {} deleted, {} already gone",
        again.deleted().len(),
        again.already_absent().len()
    );
    Ok(())
}
