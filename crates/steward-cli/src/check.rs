//! `steward check`: ask the policy one question over the store's facts.

use std::{io::Read, str::FromStr};

use serde::Deserialize;
use steward::{
    Action, Actor, CustomerId, DataCategory, DataRef, Justification, Purpose, RecordId, Request,
    StewardId, Timestamp, TrainingLevel, TrainingScope,
};

use crate::{
    Context,
    cli::CheckArgs,
    error::{CliError, Exit},
    output::{Format, print_json, println},
};

/// Who acts, as written on the command line: `service`, `pipeline`, `steward:<id>` or
/// `customer:<uuid>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ActorArg {
    /// A company service or staff member (`use.purposes`).
    Service,
    /// A model-training pipeline (`training.*`).
    Pipeline,
    /// A data steward (`logs.access`).
    Steward(StewardId),
    /// The customer, acting on their own preferences.
    Customer(CustomerId),
}

impl FromStr for ActorArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "service" => return Ok(Self::Service),
            "pipeline" => return Ok(Self::Pipeline),
            _ => {}
        }
        if let Some(id) = text.strip_prefix("steward:") {
            return id
                .parse()
                .map(Self::Steward)
                .map_err(|error| error.to_string());
        }
        if let Some(id) = text.strip_prefix("customer:") {
            return id
                .parse()
                .map(Self::Customer)
                .map_err(|error| error.to_string());
        }
        Err(format!(
            "unknown actor `{text}`: write `service`, `pipeline`, `steward:<id>` or \
             `customer:<uuid>`"
        ))
    }
}

/// What the actor wants, as written on the command line: `use:<purpose>`, `open:<purpose>`,
/// `train:<scope>` or `keep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActionArg {
    /// Use the data for a purpose.
    Use(Purpose),
    /// Open a log record for a purpose.
    Open(Purpose),
    /// Train at a scope.
    Train(TrainingScope),
    /// Keep storing the data.
    Keep,
}

impl FromStr for ActionArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "keep" {
            return Ok(Self::Keep);
        }
        let parsed = match text.split_once(':') {
            Some(("use", purpose)) => purpose.parse().map(Self::Use),
            Some(("open", purpose)) => purpose.parse().map(Self::Open),
            Some(("train", scope)) => scope.parse().map(Self::Train),
            _ => {
                return Err(format!(
                    "unknown action `{text}`: write `use:<purpose>`, `open:<purpose>`, \
                     `train:<scope>` or `keep`"
                ));
            }
        };
        parsed.map_err(|error| error.to_string())
    }
}

/// The request as JSON (`--request`), with the flags' string forms.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRequest {
    actor: String,
    action: String,
    category: DataCategory,
    owner: CustomerId,
    collected: Timestamp,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    consent_at_collection: Option<TrainingLevel>,
    #[serde(default)]
    record: Option<RecordId>,
    #[serde(default)]
    at: Option<Timestamp>,
}

/// One question, parsed.
#[derive(Debug)]
struct Question {
    actor: ActorArg,
    action: ActionArg,
    category: DataCategory,
    owner: CustomerId,
    collected: Timestamp,
    justification: Option<Justification>,
    consent_at_collection: Option<TrainingLevel>,
    record: Option<RecordId>,
    at: Timestamp,
}

/// `steward check ...`
pub(crate) fn run(context: &Context, args: CheckArgs) -> Result<Exit, CliError> {
    let question = question(args)?;
    let session = context.open()?;
    let mut data = DataRef::new(question.category, question.owner, question.collected);
    if let Some(record) = question.record {
        data = data.with_record(record);
    }
    if let Some(level) = question.consent_at_collection {
        data = data.with_consent_at_collection(level);
    }
    let actor = match &question.actor {
        ActorArg::Service => Actor::Service,
        ActorArg::Pipeline => Actor::TrainingPipeline,
        ActorArg::Steward(steward) => Actor::Steward(steward),
        ActorArg::Customer(customer) => Actor::Customer(*customer),
    };
    let action = match question.action {
        ActionArg::Use(purpose) => Action::Use { purpose },
        ActionArg::Open(purpose) => Action::OpenLog {
            purpose,
            justification: question.justification.as_ref(),
        },
        ActionArg::Train(scope) => Action::Train { scope },
        ActionArg::Keep => Action::Keep,
    };
    let request = Request {
        actor,
        action,
        data,
        now: question.at,
    };
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
    let justification = |text: Option<String>| text.and_then(|text| text.parse().ok());
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
            at: args.at.unwrap_or_else(Timestamp::now),
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
    let request: JsonRequest = serde_json::from_str(&text).map_err(|error| CliError::Request {
        reason: error.to_string(),
    })?;
    let bad = |reason: String| CliError::Request { reason };
    Ok(Question {
        actor: request.actor.parse().map_err(bad)?,
        action: request.action.parse().map_err(bad)?,
        category: request.category,
        owner: request.owner,
        collected: request.collected,
        justification: justification(request.justification),
        consent_at_collection: request.consent_at_collection,
        record: request.record,
        at: request.at.unwrap_or_else(Timestamp::now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_parse_and_name_what_is_wrong() {
        assert_eq!("service".parse::<ActorArg>(), Ok(ActorArg::Service));
        assert_eq!(
            "steward:sam.steward".parse::<ActorArg>(),
            Ok(ActorArg::Steward("sam.steward".parse().unwrap()))
        );
        let error = "robot".parse::<ActorArg>().unwrap_err();
        assert!(error.starts_with("unknown actor `robot`"), "{error}");
        let error = "customer:nope".parse::<ActorArg>().unwrap_err();
        assert!(error.contains("`nope`"), "{error}");
    }

    #[test]
    fn actions_parse_and_name_what_is_wrong() {
        assert_eq!(
            "open:troubleshooting".parse::<ActionArg>(),
            Ok(ActionArg::Open(Purpose::Troubleshooting))
        );
        assert_eq!(
            "train:shared".parse::<ActionArg>(),
            Ok(ActionArg::Train(TrainingScope::Shared))
        );
        assert_eq!("keep".parse::<ActionArg>(), Ok(ActionArg::Keep));
        let error = "use:resale".parse::<ActionArg>().unwrap_err();
        assert!(error.contains("`resale`"), "{error}");
        let error = "delete".parse::<ActionArg>().unwrap_err();
        assert!(error.starts_with("unknown action `delete`"), "{error}");
    }
}
