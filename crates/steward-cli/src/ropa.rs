//! `steward ropa`: the records of processing activities (GDPR Art. 30), generated from the
//! policy and the store.

use steward::{
    ProcessingFacts, Ropa, StewardNames,
    vocabulary::{Clock, SystemClock},
};

use crate::{
    Context,
    cli::RopaArgs,
    error::{CliError, Exit},
    output::{Format, print, print_json},
};

/// `steward ropa`
pub(crate) fn run(context: &Context, args: &RopaArgs) -> Result<Exit, CliError> {
    // Opening the vault verifies both chains against the newest stored checkpoint: the
    // figures below come from a store that verifies.
    let session = context.open()?;
    let facts = session.vault.facts()?;
    let stewards = facts.roster()?.iter().cloned().collect();
    let book = facts.relationships()?;
    let (mut active, mut ended) = (0_u64, 0_u64);
    // Now by the clock, never before the newest recorded change (as every decision).
    let now = facts
        .newest_recorded()
        .map_or_else(|| SystemClock.now(), |newest| newest.max(SystemClock.now()));
    for customer in book.customers() {
        let relationships = book.relationships(customer);
        if relationships
            .iter()
            .any(|relationship| relationship.is_active_at(now))
        {
            active = active.saturating_add(1);
        } else if !relationships.is_empty() {
            ended = ended.saturating_add(1);
        }
    }
    drop(facts);
    let audit_entries = session.vault.audit()?.head().entries();
    let checkpoint = session
        .store
        .latest_checkpoint()?
        .map(|checkpoint| checkpoint.entries());
    let processing = ProcessingFacts::new(stewards)
        .with_relationships(active, ended)
        .with_audit(audit_entries, checkpoint);
    let names = if args.names {
        StewardNames::Shown
    } else {
        StewardNames::Withheld
    };
    let ropa = Ropa::new(&context.policy()?, &processing, names);
    match context.format {
        Format::Json => print_json("the records of processing", &ropa)?,
        Format::Human => print(&ropa.to_markdown())?,
    }
    Ok(Exit::Success)
}
