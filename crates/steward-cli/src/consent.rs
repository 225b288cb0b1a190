//! `steward consent ...`: customers' training consent, recorded in the ledger.

use serde_json::json;
use steward::{
    consent::{
        ConsentChange, ConsentReceipt, InteractiveChange, InteractiveChoice, InteractiveReceipt,
    },
    vocabulary::Timestamp,
};

use crate::{
    Context,
    cli::{ConsentCommand, ConsentInteractiveArgs, ConsentSetArgs, ConsentShowArgs, CustomerArg},
    error::{CliError, Exit},
    output::{Table, note, println, render},
};

/// `steward consent ...`
pub(crate) fn run(context: &Context, command: ConsentCommand) -> Result<Exit, CliError> {
    match command {
        ConsentCommand::Set(args) => set(context, args)?,
        ConsentCommand::Show(args) => show(context, args)?,
        ConsentCommand::History(args) => history(context, args)?,
        ConsentCommand::Interactive(args) => interactive(context, args)?,
        ConsentCommand::InteractiveHistory(args) => interactive_history(context, args)?,
    }
    Ok(Exit::Success)
}

/// `steward consent set`
fn set(context: &Context, args: ConsentSetArgs) -> Result<(), CliError> {
    let ConsentSetArgs {
        customer,
        level,
        effective,
        actor,
        channel,
    } = args;
    let session = context.open()?;
    let vault = &session.vault;
    // One instant for both: recorded now, in force from now unless asked for later.
    let now = Timestamp::now();
    let change = ConsentChange::new(
        customer,
        level,
        effective.unwrap_or(now),
        actor,
        channel,
        vault.policy().version().clone(),
    );
    let receipt = vault
        .update_facts(|facts| facts.record_consent(change))?
        .map_err(|error| CliError::from_change("the consent change", error))?;
    render(context.format, "the consent receipt", &receipt, || {
        println(&describe_receipt(&receipt))
    })
}

/// `steward consent show`
fn show(
    context: &Context,
    ConsentShowArgs { customer, at }: ConsentShowArgs,
) -> Result<(), CliError> {
    let session = context.open()?;
    let at = at.unwrap_or_else(Timestamp::now);
    let facts = session.vault.facts()?;
    let level = facts.consent()?.level_at(customer, at);
    let latest = facts.consent()?.latest_level(customer);
    let value = json!({
        "customer": customer,
        "at": at,
        "level": level,
        "clause": level.clause(),
        "latest_level": latest,
    });
    render(context.format, "the consent level", &value, || {
        println(&format!(
            "customer {customer}: `{level}` in force at {at} [{}]",
            level.clause()
        ))?;
        if latest != level {
            note(format_args!(
                "a later change to `{latest}` is recorded and takes effect after {at}"
            ));
        }
        Ok(())
    })
}

/// `steward consent history`
fn history(context: &Context, CustomerArg { customer }: CustomerArg) -> Result<(), CliError> {
    let session = context.open()?;
    let facts = session.vault.facts()?;
    let receipts: Vec<ConsentReceipt> = facts.consent()?.history(customer).collect();
    render(context.format, "the consent history", &receipts, || {
        let mut table = Table::new(&[
            "RECEIPT",
            "RECORDED",
            "EFFECTIVE",
            "LEVEL",
            "PREVIOUS",
            "ACTOR",
            "CHANNEL",
            "POLICY",
            "CANCELLED BY",
        ]);
        for receipt in &receipts {
            table.row(vec![
                receipt.receipt.get().to_string(),
                receipt.recorded_at.to_string(),
                receipt.effective.to_string(),
                receipt.level.to_string(),
                receipt.previous_level.to_string(),
                receipt.actor.to_string(),
                receipt.channel.to_string(),
                receipt.policy_version.to_string(),
                // A change cancelled before it took effect, by a lower level recorded later.
                receipt
                    .cancelled_by
                    .map_or_else(|| "-".to_owned(), |by| format!("receipt {by}")),
            ]);
        }
        table.print()?;
        if table.is_empty() {
            note("no changes recorded: `none` (training.default-off)");
        }
        Ok(())
    })
}

/// `steward consent interactive`
fn interactive(context: &Context, args: ConsentInteractiveArgs) -> Result<(), CliError> {
    let ConsentInteractiveArgs {
        customer,
        opt_in,
        withdraw: _,
        effective,
        actor,
        channel,
    } = args;
    // clap requires exactly one of --opt-in and --withdraw.
    let choice = if opt_in {
        InteractiveChoice::OptedIn
    } else {
        InteractiveChoice::OptedOut
    };
    let session = context.open()?;
    let vault = &session.vault;
    let change = InteractiveChange::new(
        customer,
        choice,
        effective.unwrap_or_else(Timestamp::now),
        actor,
        channel,
        vault.policy().version().clone(),
    );
    let receipt = vault
        .update_facts(|facts| facts.record_interactive(change))?
        .map_err(|error| CliError::from_change("the interactive-features choice", error))?;
    render(
        context.format,
        "the interactive-features receipt",
        &receipt,
        || println(&describe_interactive(&receipt)),
    )
}

/// `steward consent interactive-history`
fn interactive_history(
    context: &Context,
    CustomerArg { customer }: CustomerArg,
) -> Result<(), CliError> {
    let session = context.open()?;
    let facts = session.vault.facts()?;
    let entries = facts.interactive()?.history(customer);
    render(
        context.format,
        "the interactive-features history",
        &entries,
        || {
            let mut table = Table::new(&[
                "RECEIPT",
                "RECORDED",
                "EFFECTIVE",
                "CHOICE",
                "PREVIOUS",
                "ACTOR",
                "CHANNEL",
                "POLICY",
                "CANCELLED BY",
            ]);
            for entry in entries {
                let receipt = &entry.receipt;
                table.row(vec![
                    receipt.receipt.get().to_string(),
                    receipt.recorded_at.to_string(),
                    receipt.effective.to_string(),
                    receipt.choice.to_string(),
                    receipt.previous_choice.to_string(),
                    receipt.actor.to_string(),
                    receipt.channel.to_string(),
                    receipt.policy_version.to_string(),
                    entry
                        .cancelled_by
                        .map_or_else(|| "-".to_owned(), |by| by.get().to_string()),
                ]);
            }
            table.print()?;
            if table.is_empty() {
                note("no choices recorded: opted out of interactive features (use.purposes)");
            }
            Ok(())
        },
    )
}

pub(crate) fn describe_interactive(receipt: &InteractiveReceipt) -> String {
    let cancels = if receipt.cancels.is_empty() {
        String::new()
    } else {
        let numbers: Vec<String> = receipt
            .cancels
            .iter()
            .map(|cancelled| cancelled.get().to_string())
            .collect();
        format!("; cancels scheduled receipt {}", numbers.join(", "))
    };
    format!(
        "receipt {}: customer {} interactive features `{}` -> `{}` in force from {} (recorded \
         {}, by {} via {}, policy {}){cancels} [{}]",
        receipt.receipt.get(),
        receipt.customer,
        receipt.previous_choice,
        receipt.choice,
        receipt.effective,
        receipt.recorded_at,
        receipt.actor,
        receipt.channel,
        receipt.policy_version,
        receipt.clause()
    )
}

pub(crate) fn describe_receipt(receipt: &ConsentReceipt) -> String {
    format!(
        "receipt {}: customer {} `{}` -> `{}` in force from {} (recorded {}, by {} via {}, \
         policy {}) [{}]",
        receipt.receipt.get(),
        receipt.customer,
        receipt.previous_level,
        receipt.level,
        receipt.effective,
        receipt.recorded_at,
        receipt.actor,
        receipt.channel,
        receipt.policy_version,
        receipt.clause()
    )
}
