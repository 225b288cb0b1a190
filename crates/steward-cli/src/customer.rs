//! `steward customer ...`: customer relationships, which start and end retention periods.

use serde_json::json;
use steward::vocabulary::{CustomerId, Timestamp};
use steward_store::Effective;

use crate::{
    Context,
    cli::{CustomerCommand, EndArgs, RelationshipArgs},
    error::{CliError, Exit},
    output::{Table, println, render},
    store_dir::Session,
};

/// `steward customer ...`
pub(crate) fn run(context: &Context, command: CustomerCommand) -> Result<Exit, CliError> {
    match command {
        CustomerCommand::Start(args) => start(context, args)?,
        CustomerCommand::End(args) => end(context, args)?,
        CustomerCommand::List => list(context)?,
    }
    Ok(Exit::Success)
}

/// `steward customer start`
fn start(
    context: &Context,
    RelationshipArgs { customer, at }: RelationshipArgs,
) -> Result<(), CliError> {
    let session = context.open()?;
    let at = at.map_or(Effective::Now, Effective::At);
    session
        .vault
        .update_facts(|facts| facts.start_relationship(customer, at))?
        .map_err(|error| CliError::from_change("starting the relationship", error))?;
    report(context, &session, customer, "started")
}

/// What `steward customer end` does.
enum EndChange {
    /// Ends now, or schedules the end.
    End(Effective),
    /// Moves the scheduled end.
    Correct(Timestamp),
    /// Withdraws the scheduled end.
    Cancel,
}

/// `steward customer end`
fn end(context: &Context, args: EndArgs) -> Result<(), CliError> {
    let change = match (args.at, args.correct_to, args.cancel) {
        (_, _, true) => EndChange::Cancel,
        (_, Some(to), false) => EndChange::Correct(to),
        (at, None, false) => EndChange::End(at.map_or(Effective::Now, Effective::At)),
    };
    let customer = args.customer;
    let session = context.open()?;
    let (action, done) = match change {
        EndChange::End(_) => ("ending the relationship", "ended"),
        EndChange::Correct(_) => ("correcting the relationship's end", "end corrected"),
        EndChange::Cancel => ("cancelling the relationship's end", "end cancelled"),
    };
    session
        .vault
        .update_facts(|facts| match change {
            EndChange::End(at) => facts.end_relationship(customer, at),
            EndChange::Correct(to) => facts.correct_relationship_end(customer, to),
            EndChange::Cancel => facts.cancel_relationship_end(customer),
        })?
        .map_err(|error| CliError::from_change(action, error))?;
    report(context, &session, customer, done)
}

/// `steward customer list`
fn list(context: &Context) -> Result<(), CliError> {
    let session = context.open()?;
    let facts = session.vault.facts()?;
    let book = facts.relationships()?;
    let mut relationships: Vec<_> = book
        .customers()
        .flat_map(|customer| book.relationships(customer).iter().copied())
        .collect();
    relationships.sort_by_key(|relationship| (relationship.customer(), relationship.started_at()));
    render(context.format, "the relationships", &relationships, || {
        let mut table = Table::new(&["CUSTOMER", "STARTED", "ENDED"]);
        for relationship in &relationships {
            table.row(vec![
                relationship.customer().to_string(),
                relationship.started_at().to_string(),
                relationship
                    .ended_at()
                    .map_or_else(|| "-".to_owned(), |end| end.to_string()),
            ]);
        }
        table.print()
    })
}

fn report(
    context: &Context,
    session: &Session,
    customer: CustomerId,
    change: &'static str,
) -> Result<(), CliError> {
    let facts = session.vault.facts()?;
    let recorded_at = facts.newest_recorded();
    let relationship = facts
        .relationships()?
        .relationships(customer)
        .last()
        .copied();
    drop(facts);
    let started_at = relationship.map(|r| r.started_at());
    let ended_at = relationship.and_then(|r| r.ended_at());
    let scheduled = matches!((ended_at, recorded_at), (Some(end), Some(now)) if end > now);
    let change = if change == "ended" && scheduled {
        "end scheduled"
    } else {
        change
    };
    let value = json!({
        "customer": customer,
        "relationship": change,
        "recorded_at": recorded_at,
        "started_at": started_at,
        "ended_at": ended_at,
    });
    render(context.format, "the relationship change", &value, || {
        let when = match (change, ended_at) {
            ("started", _) => started_at.map(|at| format!(" from {at}")),
            (_, Some(end)) => Some(format!(" at {end}")),
            _ => None,
        }
        .unwrap_or_default();
        println(&format!(
            "customer {customer}: relationship {change}{when} (recorded {})",
            recorded_at.map_or_else(|| "-".to_owned(), |at| at.to_string())
        ))
    })
}
