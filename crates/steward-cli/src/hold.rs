//! `steward hold ...`: legal holds, which keep data past its retention period.

use serde_json::json;
use steward::{
    Justification, Timestamp,
    retention::{HoldId, HoldScope, LegalHold},
};
use steward_store::{StoreError, StoreVault};

use crate::{
    Context,
    cli::{HoldCommand, HoldPlaceArgs, HoldReleaseArgs},
    error::{CliError, Exit},
    output::{Table, println, render},
};

/// `steward hold ...`
pub(crate) fn run(context: &Context, command: HoldCommand) -> Result<Exit, CliError> {
    match command {
        HoldCommand::Place(args) => place(context, args)?,
        HoldCommand::Release(args) => release(context, args)?,
        HoldCommand::List => list(context)?,
    }
    Ok(Exit::Success)
}

/// `steward hold place`
fn place(context: &Context, args: HoldPlaceArgs) -> Result<(), CliError> {
    let HoldPlaceArgs {
        customer,
        category,
        record,
        reason,
        by,
        expires,
    } = args;
    let session = context.open()?;
    let vault = &session.vault;
    justified(vault, &reason)?;
    let scope = match (category, record) {
        (Some(category), _) => HoldScope::Category { customer, category },
        (None, Some(record)) => HoldScope::Record { customer, record },
        (None, None) => HoldScope::Customer { customer },
    };
    let id = {
        let facts = vault.facts()?;
        let highest = facts.holds()?.holds().map(|hold| hold.id().get()).max();
        HoldId::new(highest.map_or(1, |id| id.saturating_add(1)))
    };
    let hold = LegalHold::place(id, scope, reason, by, Timestamp::now(), expires)
        .map_err(|error| CliError::from_change("placing the hold", StoreError::Retention(error)))?;
    vault
        .update_facts(|facts| facts.place_hold(hold.clone()))?
        .map_err(|error| CliError::from_change("placing the hold", error))?;
    render(context.format, "the hold", &hold, || {
        println(&format!(
            "{} placed by {} on {}: kept until {} unless released [logs.retention]",
            hold.id(),
            hold.placed_by(),
            describe_scope(hold.scope()),
            hold.expires_at()
        ))
    })
}

/// `steward hold release`
fn release(
    context: &Context,
    HoldReleaseArgs { id, by, reason }: HoldReleaseArgs,
) -> Result<(), CliError> {
    let session = context.open()?;
    let vault = &session.vault;
    justified(vault, &reason)?;
    if vault.facts()?.holds()?.hold(id).is_none() {
        return Err(CliError::HoldNotFound { id });
    }
    let at = Timestamp::now();
    vault
        .update_facts(|facts| facts.release_hold(id, by.clone(), at, reason))?
        .map_err(|error| CliError::from_change("releasing the hold", error))?;
    let value = json!({ "hold": id, "released_by": by, "released_at": at });
    render(context.format, "the release", &value, || {
        println(&format!("{id} released by {by} at {at}"))
    })
}

/// Whether the policy's justification rule accepts `reason` (logs.access: a hold's reason is
/// a justification like any other the vault takes).
fn justified(vault: &StoreVault, reason: &Justification) -> Result<(), CliError> {
    vault
        .policy()
        .justification_rule()
        .check(reason)
        .map_err(|problem| CliError::JustificationRefused { problem })
}

/// `steward hold list`
fn list(context: &Context) -> Result<(), CliError> {
    let session = context.open()?;
    let now = Timestamp::now();
    let facts = session.vault.facts()?;
    let holds: Vec<&LegalHold> = facts.holds()?.holds().collect();
    let listed: Vec<_> = holds
        .iter()
        .map(|hold| json!({ "hold": hold, "standing": hold.stands_at(now) }))
        .collect();
    render(context.format, "the holds", &listed, || {
        let mut table = Table::new(&[
            "HOLD", "COVERS", "REASON", "BY", "PLACED", "EXPIRES", "STATUS",
        ]);
        for hold in &holds {
            let status = match hold.released_at() {
                Some(at) => format!("released {at}"),
                None if hold.stands_at(now) => "standing".to_owned(),
                None => "expired".to_owned(),
            };
            table.row(vec![
                hold.id().to_string(),
                describe_scope(hold.scope()),
                hold.reason().to_string(),
                hold.placed_by().to_string(),
                hold.placed_at().to_string(),
                hold.expires_at().to_string(),
                status,
            ]);
        }
        table.print()
    })
}

fn describe_scope(scope: &HoldScope) -> String {
    match scope {
        HoldScope::Customer { customer } => format!("all data of customer {customer}"),
        HoldScope::Category { customer, category } => {
            format!("`{category}` data of customer {customer}")
        }
        HoldScope::Record { customer, record } => {
            format!("record {record} of customer {customer}")
        }
        _ => format!("data of customer {}", scope.customer()),
    }
}
