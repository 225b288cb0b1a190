//! The parsers of the `steward` command's input, as a library so that they can be tested and
//! fuzzed (`fuzz/`, targets `ingest_lines` and `check_request`) without a store or a process.
//!
//! Text goes in; a typed value or an [`InputError`] naming the line or field comes out. The
//! command (`src/main.rs`) adds what needs its store: it answers the [`lines::StoredRecords`]
//! questions and seals what was planned. Nothing here is an API for users of Steward: the
//! modules are hidden from the docs, and the formats they read are the command's, documented
//! in its `--help`.
//!
//! ```
//! use steward::vocabulary::Timestamp;
//! use steward_cli::request::Question;
//!
//! let question = Question::from_json(
//!     r#"{"actor": "service", "action": "use:customer-care", "category": "email",
//!         "owner": "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01",
//!         "collected": "2025-01-02T00:00:00Z"}"#,
//! )?;
//! let request = question.request("2025-06-01T00:00:00Z".parse::<Timestamp>()?);
//! assert_eq!(request.now.to_string(), "2025-06-01T00:00:00Z");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[doc(hidden)]
pub mod lines;
#[doc(hidden)]
pub mod request;

use steward::vocabulary::{CoreError, RecordId, Timestamp};

/// Input of the command that does not parse or cannot be planned: a line of `steward ingest`
/// input (naming the line, from 1) or a `steward check` request (naming the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// A line that is not a JSON object with the fields of a request log line.
    #[error(
        "line {line}: not a request log line ({detail}): write {{\"id\": \"<uuid v7>\", \
         \"customer\": \"<uuid>\", \"at\": \"<RFC 3339>\", \"body\": \"...\"}} (`id` and `at` \
         optional)"
    )]
    NotALine {
        /// The line number, from 1.
        line: usize,
        /// What the JSON parser said.
        detail: String,
    },
    /// A record id given on two lines.
    #[error("line {line}: `id` `{id}` is on line {first} too: each record has its own id")]
    DuplicateId {
        /// The line number, from 1.
        line: usize,
        /// The id.
        id: RecordId,
        /// The line that gave it first.
        first: usize,
    },
    /// A record id under which another customer's record is stored.
    #[error(
        "line {line}: record `{id}` is already stored for another customer: an `id` names one \
         record"
    )]
    IdOfAnotherCustomer {
        /// The line number, from 1.
        line: usize,
        /// The id.
        id: RecordId,
    },
    /// A collection instant after now: nothing is recorded ahead of the clock.
    #[error("line {line}: `at` is in the future: `{at}`")]
    FutureCollection {
        /// The line number, from 1.
        line: usize,
        /// The instant given.
        at: Timestamp,
    },
    /// A customer without a relationship in force at the collection instant
    /// (`collect.personal`).
    #[error(
        "line {line}: the customer has no relationship in force at `{at}`: start one with \
         `steward customer start`"
    )]
    NoRelationship {
        /// The line number, from 1.
        line: usize,
        /// The collection instant.
        at: Timestamp,
    },
    /// A string body that does not decode.
    #[error("line {line}: invalid `body` ({detail})")]
    InvalidBody {
        /// The line number, from 1.
        line: usize,
        /// What the JSON parser said.
        detail: String,
    },
    /// A body over the record limit, which sealing would refuse.
    #[error("line {line}: `body` is {len} bytes, over the record limit of {limit} bytes")]
    BodyTooLarge {
        /// The line number, from 1.
        line: usize,
        /// The body's length.
        len: usize,
        /// The limit ([`steward::logs::MAX_BODY_LEN`] for the command).
        limit: usize,
    },
    /// An actor that is none of the four forms.
    #[error(
        "unknown actor `{text}`: write `service`, `pipeline`, `steward:<id>` or \
         `customer:<uuid>`"
    )]
    UnknownActor {
        /// What was written.
        text: String,
    },
    /// An action that is none of the four forms.
    #[error(
        "unknown action `{text}`: write `use:<purpose>`, `open:<purpose>`, `train:<scope>` or \
         `keep`"
    )]
    UnknownAction {
        /// What was written.
        text: String,
    },
    /// A name in an actor or action (a steward, customer, purpose or scope) that does not
    /// parse.
    #[error("{problem}")]
    Name {
        /// What the vocabulary said.
        problem: CoreError,
    },
    /// A `check` request that is not the JSON of a request.
    #[error("invalid request: {detail}")]
    MalformedRequest {
        /// What the JSON parser said (it names the field).
        detail: String,
    },
    /// A field of a `check` request that does not parse.
    #[error("invalid request: {problem}")]
    RequestField {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: Box<InputError>,
    },
}

impl InputError {
    /// The input line the error is about, from 1 (`None` for a `check` request).
    #[must_use]
    pub const fn line(&self) -> Option<usize> {
        match self {
            Self::NotALine { line, .. }
            | Self::DuplicateId { line, .. }
            | Self::IdOfAnotherCustomer { line, .. }
            | Self::FutureCollection { line, .. }
            | Self::NoRelationship { line, .. }
            | Self::InvalidBody { line, .. }
            | Self::BodyTooLarge { line, .. } => Some(*line),
            Self::UnknownActor { .. }
            | Self::UnknownAction { .. }
            | Self::Name { .. }
            | Self::MalformedRequest { .. }
            | Self::RequestField { .. } => None,
        }
    }
}
