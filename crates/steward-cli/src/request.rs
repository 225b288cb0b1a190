//! `steward check`'s question: the flags' string forms of an actor and an action, and the
//! whole request as JSON (`--request`), parsed into a [`Question`] that gives a [`Request`].

use std::{fmt, str::FromStr};

use serde::Deserialize;
use steward::{
    Action, Actor, DataRef, Request,
    vocabulary::{
        CustomerId, DataCategory, Justification, Purpose, RecordId, StewardId, Timestamp,
        TrainingLevel, TrainingScope,
    },
};

use crate::InputError;

/// Who acts, as written on the command line: `service`, `pipeline`, `steward:<id>` or
/// `customer:<uuid>`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActorArg {
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
    type Err = InputError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "service" => return Ok(Self::Service),
            "pipeline" => return Ok(Self::Pipeline),
            _ => {}
        }
        let name = |problem| InputError::Name { problem };
        if let Some(id) = text.strip_prefix("steward:") {
            return id.parse().map(Self::Steward).map_err(name);
        }
        if let Some(id) = text.strip_prefix("customer:") {
            return id.parse().map(Self::Customer).map_err(name);
        }
        Err(InputError::UnknownActor {
            text: text.to_owned(),
        })
    }
}

impl fmt::Display for ActorArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Service => f.write_str("service"),
            Self::Pipeline => f.write_str("pipeline"),
            Self::Steward(steward) => write!(f, "steward:{steward}"),
            Self::Customer(customer) => write!(f, "customer:{customer}"),
        }
    }
}

/// What the actor wants, as written on the command line: `use:<purpose>`, `open:<purpose>`,
/// `train:<scope>` or `keep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActionArg {
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
    type Err = InputError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "keep" {
            return Ok(Self::Keep);
        }
        let parsed = match text.split_once(':') {
            Some(("use", purpose)) => purpose.parse().map(Self::Use),
            Some(("open", purpose)) => purpose.parse().map(Self::Open),
            Some(("train", scope)) => scope.parse().map(Self::Train),
            _ => {
                return Err(InputError::UnknownAction {
                    text: text.to_owned(),
                });
            }
        };
        parsed.map_err(|problem| InputError::Name { problem })
    }
}

impl fmt::Display for ActionArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Use(purpose) => write!(f, "use:{purpose}"),
            Self::Open(purpose) => write!(f, "open:{purpose}"),
            Self::Train(scope) => write!(f, "train:{scope}"),
            Self::Keep => f.write_str("keep"),
        }
    }
}

/// One question for `check()`, from the flags or from the JSON of `--request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Who acts.
    pub actor: ActorArg,
    /// What they want.
    pub action: ActionArg,
    /// The data's category.
    pub category: DataCategory,
    /// The customer the data belongs to.
    pub owner: CustomerId,
    /// When the data was collected.
    pub collected: Timestamp,
    /// Why access is necessary (for an open); text the justification rules refuse is
    /// dropped, so the open is decided as one without a justification.
    pub justification: Option<Justification>,
    /// The training level in force at collection, as the caller knows it.
    pub consent_at_collection: Option<TrainingLevel>,
    /// The stored record the data is.
    pub record: Option<RecordId>,
    /// The instant of the request (now if not given).
    pub at: Option<Timestamp>,
}

impl Question {
    /// The question in the JSON of `--request`: the flags' names (`consent_at_collection`
    /// with an underscore) and string forms, `actor`, `action`, `category`, `owner` and
    /// `collected` required, no other fields.
    ///
    /// # Errors
    ///
    /// [`InputError::MalformedRequest`] for JSON that is not a request (the parser names the
    /// field), [`InputError::RequestField`] for an actor or action that does not parse.
    pub fn from_json(text: &str) -> Result<Self, InputError> {
        let request: JsonRequest =
            serde_json::from_str(text).map_err(|error| InputError::MalformedRequest {
                detail: error.to_string(),
            })?;
        let field = |field| {
            move |problem| InputError::RequestField {
                field,
                problem: Box::new(problem),
            }
        };
        Ok(Self {
            actor: request.actor.parse().map_err(field("actor"))?,
            action: request.action.parse().map_err(field("action"))?,
            category: request.category,
            owner: request.owner,
            collected: request.collected,
            justification: justification(request.justification),
            consent_at_collection: request.consent_at_collection,
            record: request.record,
            at: request.at,
        })
    }

    /// The request this question asks, at its `at` or else at `now`.
    #[must_use]
    pub fn request(&self, now: Timestamp) -> Request<'_> {
        let mut data = DataRef::new(self.category, self.owner, self.collected);
        if let Some(record) = self.record {
            data = data.with_record(record);
        }
        if let Some(level) = self.consent_at_collection {
            data = data.with_consent_at_collection(level);
        }
        let actor = match &self.actor {
            ActorArg::Service => Actor::Service,
            ActorArg::Pipeline => Actor::TrainingPipeline,
            ActorArg::Steward(steward) => Actor::Steward(steward),
            ActorArg::Customer(customer) => Actor::Customer(*customer),
        };
        let action = match self.action {
            ActionArg::Use(purpose) => Action::Use { purpose },
            ActionArg::Open(purpose) => Action::OpenLog {
                purpose,
                justification: self.justification.as_ref(),
            },
            ActionArg::Train(scope) => Action::Train { scope },
            ActionArg::Keep => Action::Keep,
        };
        Request {
            actor,
            action,
            data,
            now: self.at.unwrap_or(now),
        }
    }
}

/// A justification as `--justification` or the JSON gives it: text the rules refuse is
/// dropped (the policy then decides an open without one).
#[must_use]
pub fn justification(text: Option<String>) -> Option<Justification> {
    text.and_then(|text| text.parse().ok())
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
        let error = "robot".parse::<ActorArg>().unwrap_err().to_string();
        assert!(error.starts_with("unknown actor `robot`"), "{error}");
        let error = "customer:nope".parse::<ActorArg>().unwrap_err().to_string();
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
        let error = "use:resale".parse::<ActionArg>().unwrap_err().to_string();
        assert!(error.contains("`resale`"), "{error}");
        let error = "delete".parse::<ActionArg>().unwrap_err().to_string();
        assert!(error.starts_with("unknown action `delete`"), "{error}");
    }

    #[test]
    fn actors_and_actions_display_as_they_parse() {
        for text in [
            "service",
            "pipeline",
            "steward:sam.steward",
            "customer:0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01",
        ] {
            assert_eq!(text.parse::<ActorArg>().unwrap().to_string(), text);
        }
        for text in [
            "use:customer-care",
            "open:troubleshooting",
            "train:shared",
            "keep",
        ] {
            assert_eq!(text.parse::<ActionArg>().unwrap().to_string(), text);
        }
    }

    const OPEN: &str = r#"{"actor": "steward:sam.steward", "action": "open:troubleshooting",
        "category": "llm-request-log", "owner": "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01",
        "collected": "2025-01-02T00:00:00Z", "justification": "INC-2041 timeouts",
        "consent_at_collection": "shared", "at": "2025-06-01T00:00:00Z"}"#;

    #[test]
    fn a_json_request_gives_the_request_its_fields_name() {
        let question = Question::from_json(OPEN).unwrap();
        let steward: StewardId = "sam.steward".parse().unwrap();
        let justification: Justification = "INC-2041 timeouts".parse().unwrap();
        let request = question.request("2030-01-01T00:00:00Z".parse().unwrap());
        assert_eq!(request.actor, Actor::Steward(&steward));
        assert_eq!(
            request.action,
            Action::OpenLog {
                purpose: Purpose::Troubleshooting,
                justification: Some(&justification)
            }
        );
        assert_eq!(request.now.to_string(), "2025-06-01T00:00:00Z");
        assert_eq!(
            request.data,
            DataRef::new(
                DataCategory::LlmRequestLog,
                "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01".parse().unwrap(),
                "2025-01-02T00:00:00Z".parse().unwrap()
            )
            .with_consent_at_collection(TrainingLevel::Shared)
        );
    }

    #[test]
    fn a_bad_json_request_names_the_field() {
        let error = Question::from_json(&OPEN.replace("steward:sam.steward", "robot")).unwrap_err();
        assert!(
            matches!(error, InputError::RequestField { field: "actor", .. }),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .starts_with("invalid request: unknown actor `robot`"),
            "{error}"
        );
        let error =
            Question::from_json(&OPEN.replace("open:troubleshooting", "use:resale")).unwrap_err();
        assert!(
            matches!(
                error,
                InputError::RequestField {
                    field: "action",
                    ..
                }
            ),
            "{error}"
        );
        let error = Question::from_json(&OPEN.replace("\"at\"", "\"when\"")).unwrap_err();
        assert!(
            matches!(error, InputError::MalformedRequest { .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains("unknown field `when`"),
            "{error}"
        );
        let error = Question::from_json("{}").unwrap_err();
        assert!(
            error.to_string().contains("missing field `actor`"),
            "{error}"
        );
        assert_eq!(error.line(), None);
    }

    #[test]
    fn a_justification_the_rules_refuse_is_dropped() {
        let question = Question::from_json(&OPEN.replace("INC-2041 timeouts", "  ")).unwrap();
        assert_eq!(question.justification, None);
    }
}
