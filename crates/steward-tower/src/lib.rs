//! A [tower] layer that puts Steward in front of an LLM API: every request that passes is
//! logged with its response as one sealed record (`logs.stored`), and a request the policy
//! will not let be logged does not pass.
//!
//! See [`StewardLayer`] for a runnable example; `examples/proxy` in the repository is a
//! whole LLM proxy built on it (axum, hyper, streamed responses, consent, steward opens,
//! exports and metrics).
//!
//! # What the layer does, per request
//!
//! 1. Names the customer with the resolver you supply (`Fn(&Parts) -> Result<CustomerId, _>`;
//!    take it from your authentication). None: **401**.
//! 2. Asks the [`RequestLog`] whether this customer's request may be logged now
//!    ([`admission`]: an active relationship, `logs.retention`). Refused: **403**, with the
//!    reason and clause in the body. The store cannot answer: **503** (fail closed), or,
//!    on a route set to [`OnStoreDown::DangerousProxyUnlogged`], passes unlogged with the
//!    `steward-log: unlogged` header.
//! 3. Buffers the request body, bounded by [`StewardLayer::body_limit`]. Over it: **413**.
//! 4. Calls the inner service and streams its response through [`StewardBody`], which
//!    captures it and logs the [`Exchange`] when the response ends (server-sent events
//!    included), holding the end back until the record is durable; a client that
//!    disconnects gets its partial response logged when the body is dropped.
//!
//! Every refusal carries the `steward-error` header ([`LayerError::kind`]) and a body naming
//! what is wrong. A logged response carries `steward-record: <record id>`.
//!
//! # Plug in a store
//!
//! [`RequestLog`] is the extension point: [`MemoryLog`] is the reference implementation, and
//! `IngestLog` (feature `ingest`) logs through `steward-store`'s batched `Ingest` handle
//! to SQLite, PostgreSQL or memory, acknowledging once durable.
//!
//! The crate needs no async runtime: its futures run on any executor.
//!
//! # Observe it
//!
//! With the feature `metrics`, the layer counts through the `metrics` facade:
//! `steward_layer_refused_total{kind}` (the [`LayerError::kind`] of each refusal),
//! `steward_layer_unlogged_total` (requests a route let pass unlogged while the store was
//! down: alert on it) and `steward_layer_log_failed_total` (responses whose record could not
//! be stored, whose end was withheld).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod body;
mod error;
#[cfg(feature = "ingest")]
mod ingest;
mod layer;
mod observe;
mod sink;

pub use crate::{
    body::StewardBody,
    error::{BodyError, LayerError},
    layer::{
        DEFAULT_BODY_LIMIT, DEFAULT_CAPTURE_LIMIT, ERROR_HEADER, OnStoreDown, RECORD_HEADER,
        ResponseFuture, StewardLayer, StewardService, UNLOGGED_HEADER,
    },
    sink::{
        Admission, Ending, Exchange, LogFuture, MemoryLog, Refusal, RequestLog, SinkError,
        Truncation, admission,
    },
};

#[cfg(feature = "ingest")]
pub use crate::ingest::IngestLog;
