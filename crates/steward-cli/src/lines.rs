//! `steward ingest` input: JSON lines, each checked into a [`PlannedLine`] before anything is
//! sealed, so that bad input stores nothing.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value, value::RawValue};
use steward::{
    logs::MAX_BODY_LEN,
    vocabulary::{CustomerId, RecordId, Timestamp},
};

use crate::InputError;

/// What planning asks of the store: whose record an id names, and whether a customer has a
/// relationship in force at an instant.
pub trait StoredRecords {
    /// Why the store could not answer.
    type Error;

    /// The customer whose record is stored under `id`, if one is.
    ///
    /// # Errors
    ///
    /// If the store cannot answer.
    fn record_owner(&self, id: RecordId) -> Result<Option<CustomerId>, Self::Error>;

    /// Whether `customer` has a relationship in force at `at` (`collect.personal`).
    ///
    /// # Errors
    ///
    /// If the store cannot answer.
    fn relationship_in_force(
        &self,
        customer: CustomerId,
        at: Timestamp,
    ) -> Result<bool, Self::Error>;
}

/// A line checked and ready to seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedLine {
    line: usize,
    id: Option<RecordId>,
    customer: CustomerId,
    at: Timestamp,
    body: String,
}

impl PlannedLine {
    /// The line's number in the input, from 1.
    #[must_use]
    pub const fn line(&self) -> usize {
        self.line
    }

    /// The record's id, if the line chose one (what makes a rerun skip the line).
    #[must_use]
    pub const fn id(&self) -> Option<RecordId> {
        self.id
    }

    /// The customer the record belongs to.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// When it was collected: the line's `at`, or the planning instant.
    #[must_use]
    pub const fn at(&self) -> Timestamp {
        self.at
    }

    /// The body to seal: a string body's text, any other JSON value exactly as written.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        self.body.as_bytes()
    }

    /// The line as the command reads it, with `at` written out and the body as a JSON
    /// string: planning it again gives an equal line (its number aside).
    #[must_use]
    pub fn to_json_line(&self) -> String {
        let mut object = Map::new();
        if let Some(id) = self.id {
            object.insert("id".to_owned(), Value::String(id.to_string()));
        }
        object.insert(
            "customer".to_owned(),
            Value::String(self.customer.to_string()),
        );
        object.insert("at".to_owned(), Value::String(self.at.to_string()));
        object.insert("body".to_owned(), Value::String(self.body.clone()));
        Value::Object(object).to_string()
    }
}

/// What an input asks: the lines to seal, and how many name a record already stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The lines to seal, in input order.
    pub planned: Vec<PlannedLine>,
    /// How many lines carry an id whose record is already stored for their customer.
    pub skipped: usize,
}

/// Checks every line of `text` at `now`, before anything is sealed: the JSON, the `id` (once
/// per input, not another customer's record; a record stored for the same customer skips
/// the line before the other checks, as it was checked when it was stored), `at` (not after
/// `now`, within a relationship in force), and the body (decodable, within the record limit
/// [`MAX_BODY_LEN`] that sealing enforces). Blank lines are ignored.
///
/// # Errors
///
/// The outer error is the store's, when it cannot answer; the inner one names the first bad
/// line ([`InputError::line`]).
pub fn plan<S: StoredRecords>(
    text: &str,
    now: Timestamp,
    stored: &S,
) -> Result<Result<Plan, InputError>, S::Error> {
    plan_with_body_limit(text, now, stored, MAX_BODY_LEN)
}

/// [`plan`] with another body limit, so that tests and fuzzing reach the refusal with small
/// inputs.
///
/// # Errors
///
/// As [`plan`].
pub fn plan_with_body_limit<S: StoredRecords>(
    text: &str,
    now: Timestamp,
    stored: &S,
    body_limit: usize,
) -> Result<Result<Plan, InputError>, S::Error> {
    let mut planned = Vec::new();
    let mut skipped = 0_usize;
    let mut ids: HashMap<RecordId, usize> = HashMap::new();
    for (index, text) in text.lines().enumerate() {
        let line = index.saturating_add(1);
        if text.trim().is_empty() {
            continue;
        }
        let parsed: Line = match serde_json::from_str(text) {
            Ok(parsed) => parsed,
            Err(error) => {
                return Ok(Err(InputError::NotALine {
                    line,
                    detail: error.to_string(),
                }));
            }
        };
        if let Some(id) = parsed.id {
            if let Some(first) = ids.insert(id, line) {
                return Ok(Err(InputError::DuplicateId { line, id, first }));
            }
            match stored.record_owner(id)? {
                Some(owner) if owner == parsed.customer => {
                    skipped = skipped.saturating_add(1);
                    continue;
                }
                Some(_) => return Ok(Err(InputError::IdOfAnotherCustomer { line, id })),
                None => {}
            }
        }
        let at = parsed.at.unwrap_or(now);
        if at > now {
            return Ok(Err(InputError::FutureCollection { line, at }));
        }
        if !stored.relationship_in_force(parsed.customer, at)? {
            return Ok(Err(InputError::NoRelationship { line, at }));
        }
        // A string body is stored as its text; any other JSON value exactly as written.
        let raw = parsed.body.get();
        let body = if raw.starts_with('"') {
            match serde_json::from_str::<String>(raw) {
                Ok(body) => body,
                Err(error) => {
                    return Ok(Err(InputError::InvalidBody {
                        line,
                        detail: error.to_string(),
                    }));
                }
            }
        } else {
            raw.to_owned()
        };
        // The record limit is checked here with the rest, so that an oversized body refuses
        // the whole input before anything is stored, as every other bad line does.
        if body.len() > body_limit {
            return Ok(Err(InputError::BodyTooLarge {
                line,
                len: body.len(),
                limit: body_limit,
            }));
        }
        planned.push(PlannedLine {
            line,
            id: parsed.id,
            customer: parsed.customer,
            at,
            body,
        });
    }
    Ok(Ok(Plan { planned, skipped }))
}

/// One line of input, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(default)]
    id: Option<RecordId>,
    customer: CustomerId,
    #[serde(default)]
    at: Option<Timestamp>,
    body: Box<RawValue>,
}

#[cfg(test)]
mod tests {
    use std::{collections::HashSet, convert::Infallible};

    use super::*;

    const CUSTOMER: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01";
    const OTHER: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a02";

    /// Customer `CUSTOMER` has a relationship from 2025 on; `stored` records are theirs.
    struct Store {
        stored: HashSet<RecordId>,
    }

    impl StoredRecords for Store {
        type Error = Infallible;

        fn record_owner(&self, id: RecordId) -> Result<Option<CustomerId>, Infallible> {
            Ok(self.stored.contains(&id).then(|| CUSTOMER.parse().unwrap()))
        }

        fn relationship_in_force(
            &self,
            customer: CustomerId,
            at: Timestamp,
        ) -> Result<bool, Infallible> {
            Ok(customer.to_string() == CUSTOMER && at >= "2025-01-01T00:00:00Z".parse().unwrap())
        }
    }

    fn now() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn planned(text: &str, store: &Store) -> Result<Plan, InputError> {
        match plan(text, now(), store) {
            Ok(result) => result,
            Err(never) => match never {},
        }
    }

    fn empty() -> Store {
        Store {
            stored: HashSet::new(),
        }
    }

    fn line(body: &str) -> String {
        format!(r#"{{"customer": "{CUSTOMER}", "at": "2025-06-01T00:00:00Z", "body": {body}}}"#)
    }

    #[test]
    fn string_bodies_are_their_text_and_others_are_kept_as_written() {
        let text = [
            line(r#""hello\nworld""#),
            String::new(),
            line(r#"{"a": [1, 2]}"#),
        ]
        .join("\n");
        let plan = planned(&text, &empty()).unwrap();
        assert_eq!(plan.skipped, 0);
        let bodies: Vec<&[u8]> = plan.planned.iter().map(PlannedLine::body).collect();
        assert_eq!(bodies, [&b"hello\nworld"[..], br#"{"a": [1, 2]}"#]);
        assert_eq!(
            plan.planned
                .iter()
                .map(PlannedLine::line)
                .collect::<Vec<_>>(),
            [1, 3]
        );
    }

    #[test]
    fn a_planned_line_written_out_plans_to_the_same_line() {
        let id = RecordId::generate_at(now());
        let text = [
            format!(r#"{{"id": "{id}", "customer": "{CUSTOMER}", "body": {{"x": "é\u0001"}}}}"#),
            line(r#""tab\there""#),
        ]
        .join("\n");
        let plan = planned(&text, &empty()).unwrap();
        let again: String = plan
            .planned
            .iter()
            .map(|line| line.to_json_line() + "\n")
            .collect();
        let replanned = planned(&again, &empty()).unwrap();
        assert_eq!(replanned.planned, plan.planned);
        assert_eq!(plan.planned[0].at(), now());
    }

    #[test]
    fn errors_name_the_first_bad_line() {
        let text = [line(r#""ok""#), String::new(), "{not json".to_owned()].join("\n");
        let error = planned(&text, &empty()).unwrap_err();
        assert_eq!(error.line(), Some(3));
        assert!(
            error
                .to_string()
                .starts_with("line 3: not a request log line ("),
            "{error}"
        );

        let unknown = format!(r#"{{"customer": "{CUSTOMER}", "body": "", "extra": 1}}"#);
        let error = planned(&unknown, &empty()).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `extra`"),
            "{error}"
        );

        let future =
            format!(r#"{{"customer": "{CUSTOMER}", "at": "2027-01-01T00:00:00Z", "body": ""}}"#);
        let error = planned(&future, &empty()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 1: `at` is in the future: `2027-01-01T00:00:00Z`"
        );

        let stranger = format!(r#"{{"customer": "{OTHER}", "body": ""}}"#);
        let error = planned(&stranger, &empty()).unwrap_err();
        assert!(
            matches!(error, InputError::NoRelationship { line: 1, .. }),
            "{error}"
        );
    }

    #[test]
    fn an_id_is_used_once_and_a_stored_one_skips_its_line() {
        let id = RecordId::generate_at(now());
        let with_id =
            |customer: &str| format!(r#"{{"id": "{id}", "customer": "{customer}", "body": ""}}"#);
        let twice = [with_id(CUSTOMER), with_id(CUSTOMER)].join("\n");
        let error = planned(&twice, &empty()).unwrap_err();
        assert_eq!(
            error,
            InputError::DuplicateId {
                line: 2,
                id,
                first: 1
            }
        );

        let store = Store {
            stored: HashSet::from([id]),
        };
        let plan = planned(&with_id(CUSTOMER), &store).unwrap();
        assert_eq!((plan.planned.len(), plan.skipped), (0, 1));
        let error = planned(&with_id(OTHER), &store).unwrap_err();
        assert_eq!(error, InputError::IdOfAnotherCustomer { line: 1, id });
    }

    #[test]
    fn a_body_over_the_limit_refuses_the_input() {
        let text = [line(r#""12345678""#), line(r#""123456789""#)].join("\n");
        let result = plan_with_body_limit(&text, now(), &empty(), 8).unwrap();
        assert_eq!(
            result.unwrap_err(),
            InputError::BodyTooLarge {
                line: 2,
                len: 9,
                limit: 8
            }
        );
        let error = InputError::BodyTooLarge {
            line: 2,
            len: MAX_BODY_LEN + 1,
            limit: MAX_BODY_LEN,
        };
        assert_eq!(
            error.to_string(),
            format!(
                "line 2: `body` is {} bytes, over the record limit of {MAX_BODY_LEN} bytes",
                MAX_BODY_LEN + 1
            )
        );
    }

    #[test]
    fn a_string_body_that_does_not_decode_is_named() {
        let error = planned(&line(r#""\ud800""#), &empty()).unwrap_err();
        assert!(
            matches!(error, InputError::InvalidBody { line: 1, .. }),
            "{error}"
        );
    }
}
