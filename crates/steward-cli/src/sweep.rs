//! `steward sweep`: the retention sweep, planned or executed (logs.retention).

use std::collections::BTreeSet;

use serde_json::{Value, json};
use steward::{
    logs::ExportJobId,
    retention::{
        Disposition, HoldId, KeepReason, Sweep, SweepBatch, SweepPlan, SweepProgress, SweepReport,
        Target, WithheldShred,
    },
    vocabulary::{Clock, CustomerId, RecordId, Timestamp},
};
use steward_store::{LineageStore, ReceiptDisposition, RecordScan, SqliteStore, StoreSweep};

use crate::{
    Context,
    cli::SweepArgs,
    error::{CliError, Exit},
    output::{Format, counted, note, print, print_json, println, progress},
};

/// What the sweep does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Print the plan, change nothing.
    Plan,
    /// Delete and shred what is due.
    Execute,
}

/// `steward sweep --plan [--at TIME] | --execute`
pub(crate) fn run(context: &Context, args: &SweepArgs) -> Result<Exit, CliError> {
    let mode = if args.execute {
        Mode::Execute
    } else {
        Mode::Plan
    };
    // Deleting and shredding cannot be undone: they happen at now, when they are due, never
    // at an instant the caller names. A plan may look ahead.
    if mode == Mode::Execute && args.at.is_some() {
        return Err(CliError::Usage {
            reason: "`sweep --execute` runs at now and takes no `--at`: deletions and key \
                     shreds happen only once they are due; use `sweep --plan --at TIME` to look \
                     ahead",
        });
    }
    let session = context.open()?;
    let vault = &session.vault;
    // Never before the newest entry of the trail or the fact log: a clock set back must not
    // make a sweep see an ended relationship as still running, or a hold as not yet placed.
    let floor = vault.decision_instant()?;
    let at = args.at.unwrap_or(floor);
    let records = session
        .store
        .record_metas(RecordScan::All)
        .collect::<Result<Vec<_>, _>>()?;
    let (plan, customers, receipts) = {
        // Held for planning only: the execution takes the facts one step at a time.
        let facts = vault.facts()?;
        let plan = Sweep::new(
            vault.policy().retention(),
            facts.relationships()?,
            facts.holds()?,
        )
        .plan(records, at);
        let customers: Vec<CustomerId> = facts.relationships()?.customers().collect();
        // Consent receipts are facts, not records: the plan says whose are due at `at`.
        let mut receipts = Receipts::default();
        if mode == Mode::Plan {
            for customer in &customers {
                receipts.note(
                    *customer,
                    facts.receipt_disposition(*customer, vault.policy(), at)?,
                );
            }
        }
        (plan, customers, receipts)
    };
    if mode == Mode::Plan {
        match context.format {
            Format::Json => {
                let mut json = plan_json(&plan);
                receipts.add_to(&mut json, "due");
                print_json("the sweep plan", &json)?;
            }
            Format::Human => {
                print(&plan.to_string())?;
                receipts.print("due")?;
            }
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
    // In short steps, each one store transaction under the facts, so that a server on the
    // same file (or this process's own vault) is held up by one step at most.
    let clock = NotBefore(floor);
    let mut sweep = StoreSweep::new(
        vault,
        session.store.clone(),
        &plan,
        &clock,
        SweepBatch::DEFAULT,
    );
    while sweep.step()? == SweepProgress::More {
        bar.set_position(u64::try_from(actions(sweep.report())).unwrap_or(u64::MAX));
    }
    let report = sweep.into_report();
    bar.finish_and_clear();
    // policy.versioned: consent receipts past their proof period go too, each customer's as
    // one entry of the fact log, decided again at the facts' own now (never a hold's data).
    let mut receipts = Receipts::default();
    for customer in customers {
        let disposition = vault
            .update_facts(|facts| facts.delete_due_consent_receipts(customer, vault.policy()))??;
        receipts.note(customer, disposition);
    }
    let in_exports = still_in_exports(&session.store, &plan, &report)?;
    match context.format {
        Format::Json => {
            let mut json = report_json(&plan, &report);
            if let Some(object) = json.as_object_mut() {
                let listed: Vec<Value> = in_exports
                    .iter()
                    .map(|(customer, jobs)| json!({ "customer": customer, "exports": jobs }))
                    .collect();
                object.insert("still_in_exports".to_owned(), Value::Array(listed));
            }
            receipts.add_to(&mut json, "deleted");
            print_json("the sweep report", &json)?;
        }
        Format::Human => {
            print_report(&plan, &report)?;
            receipts.print("deleted")?;
            for (customer, jobs) in &in_exports {
                let jobs: Vec<String> = jobs.iter().map(ToString::to_string).collect();
                let exports = if jobs.len() == 1 { "export" } else { "exports" };
                println(&format!(
                    "  records of customer {customer} are still in {exports} {}: purge them \
                     (see `steward export list`)",
                    jobs.join(", ")
                ))?;
            }
        }
    }
    match report.failures().len() {
        0 => Ok(Exit::Success),
        failures => Err(CliError::SweepFailures { failures }),
    }
}

/// The customers whose records the sweep deleted or whose keys it shredded, with the export
/// jobs that still hold records of theirs: copies that left custody, which no deletion here
/// reaches.
fn still_in_exports(
    store: &SqliteStore,
    plan: &SweepPlan,
    report: &SweepReport,
) -> Result<Vec<(CustomerId, Vec<ExportJobId>)>, CliError> {
    let deleted: BTreeSet<RecordId> = report.deleted().iter().copied().collect();
    let mut customers: BTreeSet<CustomerId> = plan
        .deletions()
        .filter(|deletion| deleted.contains(&deletion.record().id()))
        .map(|deletion| deletion.record().customer())
        .collect();
    customers.extend(report.shredded().iter().copied());
    let mut listed = Vec::new();
    for customer in customers {
        let jobs = store.exports_holding(customer)?;
        if !jobs.is_empty() {
            listed.push((customer, jobs));
        }
    }
    Ok(listed)
}

/// What the sweep found of customers' consent receipts: whose are due (or were deleted), and
/// whose a hold keeps past their proof period.
#[derive(Default)]
struct Receipts {
    due: Vec<CustomerId>,
    held: Vec<(CustomerId, HoldId)>,
}

impl Receipts {
    fn note(&mut self, customer: CustomerId, disposition: ReceiptDisposition) {
        match disposition {
            ReceiptDisposition::Due { .. } => self.due.push(customer),
            ReceiptDisposition::Held { hold } => self.held.push((customer, hold)),
            _ => {}
        }
    }

    /// Adds `consent_receipts` to a plan's or report's JSON; `due` names the list of due
    /// customers (`due` in a plan, `deleted` in a report).
    fn add_to(&self, json: &mut Value, due: &str) {
        if let Some(object) = json.as_object_mut() {
            let held: Vec<Value> = self
                .held
                .iter()
                .map(|(customer, hold)| json!({ "customer": customer, "hold": hold }))
                .collect();
            object.insert(
                "consent_receipts".to_owned(),
                json!({ due: self.due, "held": held, "clause": "policy.versioned" }),
            );
        }
    }

    fn print(&self, due: &str) -> Result<(), CliError> {
        if self.due.is_empty() && self.held.is_empty() {
            return Ok(());
        }
        println(&format!(
            "consent receipts past their proof period: {} {due}, {} kept by legal holds \
             [policy.versioned]",
            counted(self.due.len(), "customer", "customers"),
            self.held.len()
        ))?;
        for customer in &self.due {
            println(&format!("  {due}: receipts of customer {customer}"))?;
        }
        for (customer, hold) in &self.held {
            println(&format!(
                "  kept: receipts of customer {customer}, by hold {hold}"
            ))?;
        }
        Ok(())
    }
}

/// The system clock, but never before the instant the vault decided at when the sweep began.
struct NotBefore(Timestamp);

impl Clock for NotBefore {
    fn now(&self) -> Timestamp {
        Timestamp::now().max(self.0)
    }
}

/// How many planned actions a report accounts for: the progress of a sweep.
fn actions(report: &SweepReport) -> usize {
    [
        report.deleted().len(),
        report.already_absent().len(),
        report.now_kept().len(),
        report.shredded().len(),
        report.already_shredded().len(),
        report.failures().len(),
    ]
    .iter()
    .sum()
}

fn withheld_json(withheld: &WithheldShred) -> Value {
    json!({
        "customer": withheld.customer(),
        "hold": withheld.hold(),
        "reason": withheld.reason().to_string(),
    })
}

fn holds_json(plan: &SweepPlan) -> (Value, Value) {
    let kept: Vec<Value> = plan
        .kept_by_holds()
        .iter()
        .map(|(hold, records)| json!({ "hold": hold, "records": records }))
        .collect();
    let reviews: Vec<Value> = plan
        .reviews_due()
        .map(|due| {
            json!({
                "hold": due.hold(),
                "customer": due.customer(),
                "review_at": due.review_at(),
                "status": format!("standing, review due since {}", due.review_at()),
            })
        })
        .collect();
    (Value::from(kept), Value::from(reviews))
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
    let withheld: Vec<Value> = plan.withheld_shreds().iter().map(withheld_json).collect();
    let (kept_by_holds, reviews_due) = holds_json(plan);
    json!({
        "planned_at": plan.planned_at(),
        "evaluated": plan.evaluated(),
        "kept": plan.kept(),
        "held": plan.held(),
        "deletions": deletions,
        "shreds": shreds,
        "shreds_withheld": withheld,
        "kept_by_holds": kept_by_holds,
        "holds_due_for_review": reviews_due,
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

fn report_json(plan: &SweepPlan, report: &SweepReport) -> Value {
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
    let withheld: Vec<Value> = report.shreds_withheld().iter().map(withheld_json).collect();
    let (kept_by_holds, reviews_due) = holds_json(plan);
    json!({
        "at": report.executed_at(),
        "deleted": report.deleted(),
        "already_absent": report.already_absent(),
        "now_kept": now_kept,
        "kept_by_holds": kept_by_holds,
        "shredded": report.shredded(),
        "already_shredded": report.already_shredded(),
        "shreds_withheld": withheld,
        "holds_due_for_review": reviews_due,
        "failures": failures,
    })
}

/// Why a planned deletion was kept at execution, in words.
fn kept_because(disposition: &Disposition) -> String {
    match disposition {
        Disposition::Keep {
            reason: KeepReason::Hold(hold),
            ..
        } => format!("legal hold {hold} stands"),
        Disposition::Keep { .. } => "not due now".to_owned(),
        _ => "undecided".to_owned(),
    }
}

fn print_report(plan: &SweepPlan, report: &SweepReport) -> Result<(), CliError> {
    let held: u64 = plan.kept_by_holds().values().sum();
    println(&format!(
        "retention sweep at {}: {} deleted, {} already absent, {} kept by legal holds, {} kept \
         after all, keys shredded for {}, {} withheld, {} [logs.retention]",
        report.executed_at(),
        counted(report.deleted().len(), "record", "records"),
        report.already_absent().len(),
        held,
        report.now_kept().len(),
        counted(report.shredded().len(), "customer", "customers"),
        counted(report.shreds_withheld().len(), "shred", "shreds"),
        counted(report.failures().len(), "failure", "failures")
    ))?;
    for record in report.deleted() {
        println(&format!("  deleted record {record}"))?;
    }
    for (hold, records) in plan.kept_by_holds() {
        println(&format!(
            "  kept {}: legal hold {hold} stands",
            counted(*records, "record", "records")
        ))?;
    }
    for (record, disposition) in report.now_kept() {
        println(&format!(
            "  kept record {record}: {}",
            kept_because(disposition)
        ))?;
    }
    for customer in report.shredded() {
        println(&format!(
            "  shredded the data keys of customer {customer}: every copy of their logs, backups \
             included, is unreadable"
        ))?;
    }
    for withheld in report.shreds_withheld() {
        println(&format!(
            "  withheld the key shred of customer {}: {}",
            withheld.customer(),
            withheld.reason()
        ))?;
    }
    for due in plan.reviews_due() {
        println(&format!(
            "  {} stands, review due since {}: release it or set a new review date",
            due.hold(),
            due.review_at()
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
