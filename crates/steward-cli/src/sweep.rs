//! `steward sweep`: the retention sweep, planned or executed (logs.retention).

use indicatif::ProgressBar;
use serde_json::{Value, json};
use steward::{
    CustomerId, RecordId, Timestamp, VaultShredder,
    retention::{KeyShredder, RecordStore, Removal, Sweep, SweepPlan, SweepReport, Target},
};
use steward_store::RecordScan;

use crate::{
    Context,
    cli::SweepArgs,
    error::{CliError, Exit},
    output::{Format, note, print, print_json, println, progress},
};

/// What the sweep does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Print the plan, change nothing.
    Plan,
    /// Delete and shred what is due.
    Execute,
}

/// `steward sweep --plan | --execute [--at TIME]`
pub(crate) fn run(context: &Context, args: &SweepArgs) -> Result<Exit, CliError> {
    let mode = if args.execute {
        Mode::Execute
    } else {
        Mode::Plan
    };
    let at = args.at.unwrap_or_else(Timestamp::now);
    let session = context.open()?;
    let vault = &session.vault;
    let records = session
        .store
        .record_metas(RecordScan::All)
        .collect::<Result<Vec<_>, _>>()?;
    let facts = vault.facts()?;
    let sweep = Sweep::new(
        vault.policy().retention(),
        facts.relationships()?,
        facts.holds()?,
    );
    let plan = sweep.plan(records, at);
    if mode == Mode::Plan {
        match context.format {
            Format::Json => print_json("the sweep plan", &plan_json(&plan))?,
            Format::Human => print(&plan.to_string())?,
        }
        return Ok(Exit::Success);
    }

    let steps = plan
        .deletions()
        .count()
        .saturating_add(plan.shreds().count());
    let bar = progress(
        Some(u64::try_from(steps).unwrap_or(u64::MAX)),
        "swept",
        context.format,
    );
    let mut store = Counted {
        inner: session.store.clone(),
        bar: &bar,
    };
    let mut shredder = Counted {
        inner: VaultShredder::new(vault),
        bar: &bar,
    };
    let report = sweep.execute(&plan, &mut store, &mut shredder, at);
    bar.finish_and_clear();
    let report = report?;
    match context.format {
        Format::Json => print_json("the sweep report", &report_json(&report, at))?,
        Format::Human => print_report(&report, at)?,
    }
    match report.failures().len() {
        0 => Ok(Exit::Success),
        failures => Err(CliError::SweepFailures { failures }),
    }
}

/// A record store or key shredder that moves the progress bar at each step.
struct Counted<'a, T> {
    inner: T,
    bar: &'a ProgressBar,
}

impl<T: RecordStore> RecordStore for Counted<'_, T> {
    type Error = T::Error;

    fn delete(&mut self, record: RecordId) -> Result<Removal, Self::Error> {
        let removed = self.inner.delete(record);
        self.bar.inc(1);
        removed
    }
}

impl<T: KeyShredder> KeyShredder for Counted<'_, T> {
    type Error = T::Error;

    fn shred_customer(&mut self, customer: CustomerId) -> Result<Removal, Self::Error> {
        let shredded = self.inner.shred_customer(customer);
        self.bar.inc(1);
        shredded
    }
}

fn plan_json(plan: &SweepPlan) -> Value {
    let deletions: Vec<Value> = plan
        .deletions()
        .map(|planned| json!({ "record": planned.record(), "disposition": planned.disposition() }))
        .collect();
    let shreds: Vec<Value> = plan
        .shreds()
        .map(|shred| {
            json!({
                "customer": shred.customer(),
                "relationship_ended": shred.last_end(),
                "clause": shred.clause(),
            })
        })
        .collect();
    let skipped: Vec<Value> = plan
        .skipped()
        .iter()
        .map(|skipped| json!({ "record": skipped.record(), "error": skipped.error().to_string() }))
        .collect();
    json!({
        "planned_at": plan.planned_at(),
        "evaluated": plan.evaluated(),
        "kept": plan.kept(),
        "held": plan.held(),
        "deletions": deletions,
        "shreds": shreds,
        "skipped": skipped,
    })
}

fn target(target: Target) -> String {
    match target {
        Target::Record(record) => format!("record {record}"),
        Target::Customer(customer) => format!("keys of customer {customer}"),
        _ => "a target unknown to this build".to_owned(),
    }
}

fn report_json(report: &SweepReport, at: Timestamp) -> Value {
    let now_kept: Vec<Value> = report
        .now_kept()
        .iter()
        .map(|(record, disposition)| json!({ "record": record, "disposition": disposition }))
        .collect();
    let failures: Vec<Value> = report
        .failures()
        .iter()
        .map(|failure| {
            json!({ "target": target(failure.target()), "error": failure.error().to_string() })
        })
        .collect();
    json!({
        "at": at,
        "deleted": report.deleted(),
        "already_absent": report.already_absent(),
        "now_kept": now_kept,
        "shredded": report.shredded(),
        "already_shredded": report.already_shredded(),
        "shreds_withheld": report.shreds_withheld(),
        "failures": failures,
    })
}

fn print_report(report: &SweepReport, at: Timestamp) -> Result<(), CliError> {
    println(&format!(
        "retention sweep at {at}: {} records deleted, {} already absent, {} kept after all, keys \
         shredded for {} customer(s), {} shreds withheld, {} failures [logs.retention]",
        report.deleted().len(),
        report.already_absent().len(),
        report.now_kept().len(),
        report.shredded().len(),
        report.shreds_withheld().len(),
        report.failures().len()
    ))?;
    for record in report.deleted() {
        println(&format!("  deleted record {record}"))?;
    }
    for customer in report.shredded() {
        println(&format!(
            "  shredded the data keys of customer {customer}: every copy of their logs, backups \
             included, is unreadable"
        ))?;
    }
    for customer in report.shreds_withheld() {
        println(&format!(
            "  withheld the key shred of customer {customer}: some of their data is still kept"
        ))?;
    }
    for failure in report.failures() {
        note(format_args!(
            "  failed: {}: {}",
            target(failure.target()),
            failure.error()
        ));
    }
    Ok(())
}
