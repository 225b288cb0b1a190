//! The operators' commands: `init`, and the facts `check()` reads (roster, relationships,
//! consent, legal holds), each change stored before it is reported.

use serde_json::json;
use steward::{
    ConsentChange, ConsentReceipt, StewardId, Timestamp,
    logs::{ConfigError, LogsError},
    retention::{HoldId, HoldScope, LegalHold},
};
use steward_store::StoreError;

use crate::{
    Context,
    cli::{
        ConsentCommand, ConsentSetArgs, ConsentShowArgs, CustomerArg, CustomerCommand, HoldCommand,
        HoldPlaceArgs, HoldReleaseArgs, RelationshipArgs, RosterChangeArgs, RosterCommand,
    },
    error::{CliError, Exit},
    output::{Format, Table, note, print_json, println},
    store_dir::{AUDIT_KEY, CHECKPOINT_KEY, CHECKPOINT_PUBLIC_KEY, DATABASE, MASTER_KEY},
};

/// `steward init`
pub(crate) fn init(context: &Context) -> Result<Exit, CliError> {
    // A policy file that does not load is reported before anything is written.
    context.policy()?;
    let initialized = context.dir.init(context.master_key_id())?;
    let files: Vec<String> = initialized
        .files
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    match context.format {
        Format::Json => print_json(
            "the new store",
            &json!({
                "store": context.dir.file(DATABASE),
                "files": files,
                "keys_from_environment": initialized.from_environment,
                "master_key_id": context.master_key_id().as_str(),
            }),
        )?,
        Format::Human => {
            let mut table = Table::new(&["FILE", "HOLDS"]);
            for path in &initialized.files {
                let name = path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let holds = match name.as_str() {
                    DATABASE => "the store: keys (wrapped), audit chain, records, facts",
                    MASTER_KEY => "the master key: back it up, keep it secret (mode 0600)",
                    AUDIT_KEY => "the audit key: back it up, keep it secret (mode 0600)",
                    CHECKPOINT_KEY => "the key that signs audit checkpoints (mode 0600)",
                    CHECKPOINT_PUBLIC_KEY => "the key that verifies them: keep a copy elsewhere",
                    _ => "",
                };
                table.row(vec![path.display().to_string(), holds.to_owned()]);
            }
            table.print()?;
            for variable in &initialized.from_environment {
                note(format_args!(
                    "took a key from `{variable}`: no file written for it"
                ));
            }
        }
    }
    Ok(Exit::Success)
}

/// `steward roster ...`
pub(crate) fn roster(context: &Context, command: RosterCommand) -> Result<Exit, CliError> {
    let session = context.open()?;
    let vault = &session.vault;
    match command {
        RosterCommand::Add(RosterChangeArgs { steward, admin }) => {
            let change = if vault.facts()?.roster()?.contains(&steward) {
                Change::Unchanged
            } else {
                Change::Changed
            };
            vault
                .add_steward(steward.clone(), admin.clone())
                .map_err(roster_denied)?;
            report_roster_change(context, &steward, "added", change, admin.as_str())?;
        }
        RosterCommand::Remove(RosterChangeArgs { steward, admin }) => {
            let change = if vault.remove_steward(&steward, admin.clone())? {
                Change::Changed
            } else {
                Change::Unchanged
            };
            report_roster_change(context, &steward, "removed", change, admin.as_str())?;
        }
        RosterCommand::List => {
            let facts = vault.facts()?;
            let stewards: Vec<&StewardId> = facts.roster()?.iter().collect();
            let max = vault.policy().max_stewards().get();
            match context.format {
                Format::Json => print_json(
                    "the roster",
                    &json!({ "stewards": stewards, "max_stewards": max }),
                )?,
                Format::Human => {
                    let mut table = Table::new(&["STEWARD"]);
                    for steward in &stewards {
                        table.row(vec![steward.to_string()]);
                    }
                    table.print()?;
                    note(format_args!(
                        "{} of at most {max} stewards (logs.access)",
                        stewards.len()
                    ));
                }
            }
        }
    }
    Ok(Exit::Success)
}

/// A full roster is the policy's `logs.access` bound: a denial, not a failure.
fn roster_denied(error: LogsError) -> CliError {
    match error {
        LogsError::Config(ConfigError::RosterFull { max }) => CliError::Denied {
            action: "roster add",
            reason: format!("the roster already holds the policy's maximum of {max} stewards"),
            clause: steward::ClauseId::LogsAccess,
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

fn report_roster_change(
    context: &Context,
    steward: &StewardId,
    what: &'static str,
    change: Change,
    admin: &str,
) -> Result<(), CliError> {
    let changed = change == Change::Changed;
    match context.format {
        Format::Json => print_json(
            "the roster change",
            &json!({ "steward": steward, "change": what, "changed": changed, "admin": admin }),
        ),
        Format::Human if changed => println(&format!(
            "{steward} {what} on {admin}'s authority (audited)"
        )),
        Format::Human => println(&format!("{steward}: nothing to change")),
    }
}

/// `steward customer ...`
pub(crate) fn customer(context: &Context, command: CustomerCommand) -> Result<Exit, CliError> {
    let session = context.open()?;
    let vault = &session.vault;
    match command {
        CustomerCommand::Start(RelationshipArgs { customer, at }) => {
            let at = at.unwrap_or_else(Timestamp::now);
            vault
                .update_facts(|facts| facts.start_relationship(customer, at))?
                .map_err(|error| CliError::from_change("starting the relationship", error))?;
            report_relationship(context, customer, "started", at)?;
        }
        CustomerCommand::End(RelationshipArgs { customer, at }) => {
            let at = at.unwrap_or_else(Timestamp::now);
            vault
                .update_facts(|facts| facts.end_relationship(customer, at))?
                .map_err(|error| CliError::from_change("ending the relationship", error))?;
            report_relationship(context, customer, "ended", at)?;
        }
        CustomerCommand::List => {
            let facts = vault.facts()?;
            let book = facts.relationships()?;
            let mut relationships: Vec<_> = book
                .customers()
                .flat_map(|customer| book.relationships(customer).iter().copied())
                .collect();
            relationships
                .sort_by_key(|relationship| (relationship.customer(), relationship.started_at()));
            match context.format {
                Format::Json => print_json("the relationships", &relationships)?,
                Format::Human => {
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
                    table.print()?;
                }
            }
        }
    }
    Ok(Exit::Success)
}

fn report_relationship(
    context: &Context,
    customer: steward::CustomerId,
    change: &'static str,
    at: Timestamp,
) -> Result<(), CliError> {
    match context.format {
        Format::Json => print_json(
            "the relationship change",
            &json!({ "customer": customer, "relationship": change, "at": at }),
        ),
        Format::Human => println(&format!(
            "customer {customer}: relationship {change} at {at}"
        )),
    }
}

/// `steward consent ...`
pub(crate) fn consent(context: &Context, command: ConsentCommand) -> Result<Exit, CliError> {
    let session = context.open()?;
    let vault = &session.vault;
    match command {
        ConsentCommand::Set(ConsentSetArgs {
            customer,
            level,
            effective,
            actor,
            channel,
        }) => {
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
            match context.format {
                Format::Json => print_json("the consent receipt", &receipt)?,
                Format::Human => println(&describe_receipt(&receipt))?,
            }
        }
        ConsentCommand::Show(ConsentShowArgs { customer, at }) => {
            let at = at.unwrap_or_else(Timestamp::now);
            let facts = vault.facts()?;
            let level = facts.consent()?.level_at(customer, at);
            let latest = facts.consent()?.latest_level(customer);
            match context.format {
                Format::Json => print_json(
                    "the consent level",
                    &json!({
                        "customer": customer,
                        "at": at,
                        "level": level,
                        "clause": level.clause(),
                        "latest_level": latest,
                    }),
                )?,
                Format::Human => {
                    println(&format!(
                        "customer {customer}: `{level}` in force at {at} [{}]",
                        level.clause()
                    ))?;
                    if latest != level {
                        note(format_args!(
                            "a later change to `{latest}` is recorded and takes effect after {at}"
                        ));
                    }
                }
            }
        }
        ConsentCommand::History(CustomerArg { customer }) => {
            let facts = vault.facts()?;
            let receipts: Vec<ConsentReceipt> = facts.consent()?.history(customer).collect();
            match context.format {
                Format::Json => print_json("the consent history", &receipts)?,
                Format::Human => {
                    let mut table = Table::new(&[
                        "RECEIPT",
                        "RECORDED",
                        "EFFECTIVE",
                        "LEVEL",
                        "PREVIOUS",
                        "ACTOR",
                        "CHANNEL",
                        "POLICY",
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
                        ]);
                    }
                    table.print()?;
                    if table.is_empty() {
                        note("no changes recorded: `none` (training.default-off)");
                    }
                }
            }
        }
    }
    Ok(Exit::Success)
}

fn describe_receipt(receipt: &ConsentReceipt) -> String {
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

/// `steward hold ...`
pub(crate) fn hold(context: &Context, command: HoldCommand) -> Result<Exit, CliError> {
    let session = context.open()?;
    let vault = &session.vault;
    match command {
        HoldCommand::Place(HoldPlaceArgs {
            customer,
            category,
            record,
            reason,
            by,
            expires,
        }) => {
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
            let hold = LegalHold::place(id, scope, reason, by, Timestamp::now(), expires).map_err(
                |error| CliError::from_change("placing the hold", StoreError::Retention(error)),
            )?;
            vault
                .update_facts(|facts| facts.place_hold(hold.clone()))?
                .map_err(|error| CliError::from_change("placing the hold", error))?;
            match context.format {
                Format::Json => print_json("the hold", &hold)?,
                Format::Human => println(&format!(
                    "{} placed by {} on {}: kept until {} unless released [logs.retention]",
                    hold.id(),
                    hold.placed_by(),
                    describe_scope(hold.scope()),
                    hold.expires_at()
                ))?,
            }
        }
        HoldCommand::Release(HoldReleaseArgs { id, by, reason }) => {
            if vault.facts()?.holds()?.hold(id).is_none() {
                return Err(CliError::HoldNotFound { id });
            }
            let at = Timestamp::now();
            vault
                .update_facts(|facts| facts.release_hold(id, by.clone(), at, reason))?
                .map_err(|error| CliError::from_change("releasing the hold", error))?;
            match context.format {
                Format::Json => print_json(
                    "the release",
                    &json!({ "hold": id, "released_by": by, "released_at": at }),
                )?,
                Format::Human => println(&format!("{id} released by {by} at {at}"))?,
            }
        }
        HoldCommand::List => {
            let now = Timestamp::now();
            let facts = vault.facts()?;
            let holds: Vec<&LegalHold> = facts.holds()?.holds().collect();
            match context.format {
                Format::Json => {
                    let listed: Vec<_> = holds
                        .iter()
                        .map(|hold| json!({ "hold": hold, "standing": hold.stands_at(now) }))
                        .collect();
                    print_json("the holds", &listed)?;
                }
                Format::Human => {
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
                    table.print()?;
                }
            }
        }
    }
    Ok(Exit::Success)
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
