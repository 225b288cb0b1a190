//! `steward hold ...`: legal holds, which keep data past its retention period.

use serde_json::json;
use steward::{
    retention::{HoldId, HoldScope, LegalHold},
    vocabulary::{Justification, Timestamp},
};
use steward_store::{StoreError, StoreVault};

use crate::{
    Context,
    cli::{HoldCommand, HoldListArgs, HoldPlaceArgs, HoldReleaseArgs, HoldReviewArgs},
    error::{CliError, Exit},
    output::{Table, println, render},
};

/// `steward hold ...`
pub(crate) fn run(context: &Context, command: HoldCommand) -> Result<Exit, CliError> {
    match command {
        HoldCommand::Place(args) => place(context, args)?,
        HoldCommand::Review(args) => review(context, args)?,
        HoldCommand::Release(args) => release(context, args)?,
        HoldCommand::List(args) => list(context, &args)?,
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
        review_by,
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
    let hold = LegalHold::place(id, scope, reason, by, Timestamp::now(), review_by)
        .map_err(|error| CliError::from_change("placing the hold", StoreError::Retention(error)))?;
    vault
        .update_facts(|facts| facts.place_hold(hold.clone()))?
        .map_err(|error| CliError::from_change("placing the hold", error))?;
    render(context.format, "the hold", &hold, || {
        println(&format!(
            "{} placed by {} on {}: kept until released, review by {} [logs.retention]",
            hold.id(),
            hold.placed_by(),
            describe_scope(hold.scope()),
            hold.review_at()
        ))
    })
}

/// `steward hold review`
fn review(
    context: &Context,
    HoldReviewArgs {
        id,
        by,
        reason,
        review_by,
    }: HoldReviewArgs,
) -> Result<(), CliError> {
    let session = context.open()?;
    let vault = &session.vault;
    if vault.facts()?.holds()?.hold(id).is_none() {
        return Err(CliError::HoldNotFound { id });
    }
    let at = Timestamp::now();
    vault
        .update_facts(|facts| facts.change_hold_review_date(id, by.clone(), at, review_by, reason))?
        .map_err(|error| CliError::from_change("reviewing the hold", error))?;
    let value = json!({ "hold": id, "reviewed_by": by, "reviewed_at": at, "review_at": review_by });
    render(context.format, "the review", &value, || {
        println(&format!(
            "{id} reviewed by {by} at {at}: it stands until released, next review by {review_by}"
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

/// `steward hold list [--due]`
fn list(context: &Context, args: &HoldListArgs) -> Result<(), CliError> {
    let session = context.open()?;
    let now = Timestamp::now();
    let facts = session.vault.facts()?;
    let holds: Vec<&LegalHold> = if args.due {
        facts.holds()?.due_for_review(now).collect()
    } else {
        facts.holds()?.holds().collect()
    };
    let listed: Vec<_> = holds
        .iter()
        .map(|hold| {
            json!({
                "hold": hold,
                "standing": hold.stands_at(now),
                "review_due": hold.is_review_due(now),
                "status": status(hold, now),
            })
        })
        .collect();
    render(context.format, "the holds", &listed, || {
        let mut table = Table::new(&[
            "HOLD",
            "COVERS",
            "REASON",
            "BY",
            "PLACED",
            "REVIEW BY",
            "STATUS",
        ]);
        for hold in &holds {
            table.row(vec![
                hold.id().to_string(),
                describe_scope(hold.scope()),
                hold.reason().to_string(),
                hold.placed_by().to_string(),
                hold.placed_at().to_string(),
                hold.review_at().to_string(),
                status(hold, now),
            ]);
        }
        table.print()
    })
}

/// A hold's status at `now`: it stands until released, and is due for review past its date.
fn status(hold: &LegalHold, now: Timestamp) -> String {
    match hold.released_at() {
        Some(at) if at <= now => format!("released {at}"),
        _ if hold.is_review_due(now) => {
            format!("standing, review due since {}", hold.review_at())
        }
        _ => "standing".to_owned(),
    }
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
