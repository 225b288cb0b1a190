//! `steward customer ...`: customer relationships, which start and end retention periods.

use serde_json::json;
use steward::{CustomerId, Timestamp};

use crate::{
    Context,
    cli::{CustomerCommand, RelationshipArgs},
    error::{CliError, Exit},
    output::{Table, println, render},
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
    let at = at.unwrap_or_else(Timestamp::now);
    session
        .vault
        .update_facts(|facts| facts.start_relationship(customer, at))?
        .map_err(|error| CliError::from_change("starting the relationship", error))?;
    report(context, customer, "started", at)
}

/// `steward customer end`
fn end(
    context: &Context,
    RelationshipArgs { customer, at }: RelationshipArgs,
) -> Result<(), CliError> {
    let session = context.open()?;
    let at = at.unwrap_or_else(Timestamp::now);
    session
        .vault
        .update_facts(|facts| facts.end_relationship(customer, at))?
        .map_err(|error| CliError::from_change("ending the relationship", error))?;
    report(context, customer, "ended", at)
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
    customer: CustomerId,
    change: &'static str,
    at: Timestamp,
) -> Result<(), CliError> {
    let value = json!({ "customer": customer, "relationship": change, "at": at });
    render(context.format, "the relationship change", &value, || {
        println(&format!(
            "customer {customer}: relationship {change} at {at}"
        ))
    })
}
