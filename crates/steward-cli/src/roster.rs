//! `steward roster ...`: the stewards who may open records (`logs.access`), each change
//! audited before it is applied.

use serde_json::json;
use steward::{
    logs::{ConfigError, LogsError},
    vocabulary::StewardId,
};

use crate::{
    Context,
    cli::{RosterChangeArgs, RosterCommand},
    error::{CliError, Exit},
    output::{Table, counted, note, println, render},
};

/// `steward roster ...`
pub(crate) fn run(context: &Context, command: RosterCommand) -> Result<Exit, CliError> {
    match command {
        RosterCommand::Add(args) => add(context, args)?,
        RosterCommand::Remove(args) => remove(context, args)?,
        RosterCommand::List => list(context)?,
    }
    Ok(Exit::Success)
}

/// `steward roster add`
fn add(
    context: &Context,
    RosterChangeArgs { steward, admin }: RosterChangeArgs,
) -> Result<(), CliError> {
    let session = context.open()?;
    let vault = &session.vault;
    let change = if vault.facts()?.roster()?.contains(&steward) {
        Change::Unchanged
    } else {
        Change::Changed
    };
    vault
        .add_steward(steward.clone(), admin.clone())
        .map_err(roster_denied)?;
    report(context, &steward, "added", change, admin.as_str())
}

/// `steward roster remove`
fn remove(
    context: &Context,
    RosterChangeArgs { steward, admin }: RosterChangeArgs,
) -> Result<(), CliError> {
    let session = context.open()?;
    let change = if session.vault.remove_steward(&steward, admin.clone())? {
        Change::Changed
    } else {
        Change::Unchanged
    };
    report(context, &steward, "removed", change, admin.as_str())
}

/// `steward roster list`
fn list(context: &Context) -> Result<(), CliError> {
    let session = context.open()?;
    let vault = &session.vault;
    let facts = vault.facts()?;
    let stewards: Vec<&StewardId> = facts.roster()?.iter().collect();
    let max = vault.policy().max_stewards().get();
    let value = json!({ "stewards": stewards, "max_stewards": max });
    render(context.format, "the roster", &value, || {
        let mut table = Table::new(&["STEWARD"]);
        for steward in &stewards {
            table.row(vec![steward.to_string()]);
        }
        table.print()?;
        note(format_args!(
            "{} of at most {max} (logs.access)",
            counted(stewards.len(), "steward", "stewards")
        ));
        Ok(())
    })
}

/// A full roster is the policy's `logs.access` bound: a denial, not a failure.
fn roster_denied(error: LogsError) -> CliError {
    match error {
        LogsError::Config(ConfigError::RosterFull { max }) => CliError::Denied {
            action: "roster add",
            reason: format!("the roster already holds the policy's maximum of {max} stewards"),
            clause: steward::vocabulary::ClauseId::LogsAccess,
        },
        other => CliError::Logs(other),
    }
}

/// Whether a roster change changed the roster (adding a steward already on it does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Changed,
    Unchanged,
}

fn report(
    context: &Context,
    steward: &StewardId,
    what: &'static str,
    change: Change,
    admin: &str,
) -> Result<(), CliError> {
    let changed = change == Change::Changed;
    let value = json!({ "steward": steward, "change": what, "changed": changed, "admin": admin });
    render(context.format, "the roster change", &value, || {
        if changed {
            println(&format!(
                "{steward} {what} on {admin}'s authority (audited)"
            ))
        } else {
            println(&format!("{steward}: nothing to change"))
        }
    })
}
