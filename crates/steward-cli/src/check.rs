//! `steward check`: ask the policy one question over the store's facts. The question's
//! parsing lives in the library (`steward_cli::request`), where it is tested and fuzzed.

use std::io::Read;

use steward::vocabulary::Timestamp;
pub(crate) use steward_cli::request::{ActionArg, ActorArg};
use steward_cli::request::{Question, justification};

use crate::{
    Context,
    cli::CheckArgs,
    error::{CliError, Exit},
    output::{Format, print_json, println},
};

/// `steward check ...`
pub(crate) fn run(context: &Context, args: CheckArgs) -> Result<Exit, CliError> {
    let question = question(args)?;
    let session = context.open()?;
    let request = question.request(Timestamp::now());
    let decision = session.vault.check(&request);
    match context.format {
        Format::Json => print_json("the decision", &decision)?,
        Format::Human => println(&decision.to_string())?,
    }
    Ok(if decision.is_allowed() {
        Exit::Success
    } else {
        Exit::Denied
    })
}

/// The question from the flags, or from `--request`.
fn question(args: CheckArgs) -> Result<Question, CliError> {
    let Some(json) = args.request else {
        let missing = |flag: &str| CliError::Request {
            reason: format!("`{flag}` is required without `--request`"),
        };
        return Ok(Question {
            actor: args.actor.ok_or_else(|| missing("--actor"))?,
            action: args.action.ok_or_else(|| missing("--action"))?,
            category: args.category.ok_or_else(|| missing("--category"))?,
            owner: args.owner.ok_or_else(|| missing("--owner"))?,
            collected: args.collected.ok_or_else(|| missing("--collected"))?,
            justification: justification(args.justification),
            consent_at_collection: args.consent_at_collection,
            record: args.record,
            at: args.at,
        });
    };
    let text = if json == "-" {
        let mut text = String::new();
        std::io::stdin()
            .lock()
            .read_to_string(&mut text)
            .map_err(|source| CliError::Read {
                path: "-".into(),
                source,
            })?;
        text
    } else {
        json
    };
    Question::from_json(&text).map_err(|problem| CliError::Input { problem })
}
