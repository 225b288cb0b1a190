//! Where the layer sends what it logs: the [`RequestLog`] trait, the [`Exchange`] it seals,
//! the admission rule, and [`MemoryLog`], the reference implementation over a vault.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use bytes::Bytes;
use steward::{
    DataRef, DenyReason, Facts, Policy, Request, RosterFacts, Vault,
    logs::{AuditStore, BoxError},
    vocabulary::{ClauseId, CustomerId, DataCategory, RecordId, Timestamp},
};

/// The store the layer logs to: it answers whether a customer's request may be logged now,
/// and takes each finished [`Exchange`] to seal and keep.
///
/// Implement it over your store; [`MemoryLog`] is the reference implementation (a vault and a
/// list in memory). The example proxy (`examples/proxy`) implements it over the durable
/// stores.
///
/// [`log`](Self::log) must hand the exchange over when it is called, not when its future is
/// first polled: the layer logs the partial response of a client that disconnected from a
/// destructor, through [`log_detached`](Self::log_detached), and a future dropped unpolled
/// must not lose a record.
pub trait RequestLog: Send + Sync + 'static {
    /// Whether a request of `customer` arriving at `now` may be logged (`logs.stored`,
    /// `logs.retention`). [`admission`] is the rule over any [`Facts`].
    ///
    /// # Errors
    ///
    /// [`SinkError::Unavailable`] when the facts cannot be read; the layer then refuses with
    /// 503 (fail closed) unless the route is set to proxy unlogged.
    fn admit(&self, customer: CustomerId, now: Timestamp) -> Result<Admission, SinkError>;

    /// Seals and stores `exchange`; the future resolves once the record is durable (or, for a
    /// sink that says so in its docs, accepted).
    fn log(&self, exchange: Exchange) -> LogFuture;

    /// Seals and stores `exchange` without anyone waiting: a client that disconnected. A
    /// failure here has no caller to report to, so the sink counts or traces it itself.
    fn log_detached(&self, exchange: Exchange);
}

/// The answer of [`RequestLog::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Admission {
    /// The request may pass and is logged.
    Log,
    /// The request is refused, and why.
    Refuse(Refusal),
}

/// Why a request was refused by the policy: the clause that decided and the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    clause: ClauseId,
    reason: DenyReason,
}

impl Refusal {
    /// A refusal citing `clause` for `reason`.
    #[must_use]
    pub const fn new(clause: ClauseId, reason: DenyReason) -> Self {
        Self { clause, reason }
    }

    /// The clause that decided.
    #[must_use]
    pub const fn clause(&self) -> ClauseId {
        self.clause
    }

    /// Why.
    #[must_use]
    pub const fn reason(&self) -> DenyReason {
        self.reason
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.clause)
    }
}

/// Whether a request of `customer` at `now` may be logged, over `facts`.
///
/// `logs.stored` logs every request that passes, and `logs.retention` keeps logs only while
/// the customer relationship lasts, so a request passes only for a customer whose
/// relationship is active at `now`: a customer without one on record is refused with
/// [`DenyReason::NoRelationship`], one whose relationship ended with
/// [`DenyReason::RetentionEnded`], both citing `logs.retention`. Otherwise the policy's own
/// answer to keeping an LLM request log collected now decides (`Request::keep`).
#[must_use]
pub fn admission<F: Facts + ?Sized>(
    policy: &Policy,
    facts: &F,
    customer: CustomerId,
    now: Timestamp,
) -> Admission {
    if !facts.has_relationship_on_record(customer) {
        return Admission::Refuse(Refusal::new(
            ClauseId::LogsRetention,
            DenyReason::NoRelationship,
        ));
    }
    if facts.relationship_containing(customer, now).is_none() {
        return Admission::Refuse(Refusal::new(
            ClauseId::LogsRetention,
            DenyReason::RetentionEnded,
        ));
    }
    let data = DataRef::new(DataCategory::LlmRequestLog, customer, now);
    let decision = policy.check(&Request::keep(data, now), facts);
    match decision.reason() {
        None if decision.is_allowed() => Admission::Log,
        reason => Admission::Refuse(Refusal::new(
            decision.decisive(),
            reason.unwrap_or(DenyReason::RetentionEnded),
        )),
    }
}

/// What a sink could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The store cannot be reached or failed (the layer answers 503).
    #[error("the log store is unavailable")]
    Unavailable(#[source] BoxError),
    /// The store refused the record under the policy (the relationship ended meanwhile).
    #[error("the record was refused: {0}")]
    Refused(Refusal),
    /// The store was shut down.
    #[error("the log store is shut down")]
    Closed,
}

impl SinkError {
    /// Whether the policy refused (rather than the store failing).
    #[must_use]
    pub const fn is_refused(&self) -> bool {
        matches!(self, Self::Refused(_))
    }
}

/// The future of [`RequestLog::log`]: the id of the stored record, once it is durable.
pub struct LogFuture(Pin<Box<dyn Future<Output = Result<RecordId, SinkError>> + Send + 'static>>);

impl LogFuture {
    /// A future over `future`.
    pub fn new(future: impl Future<Output = Result<RecordId, SinkError>> + Send + 'static) -> Self {
        Self(Box::pin(future))
    }

    /// A future that is already done (a sink that stores synchronously).
    #[must_use]
    pub fn ready(result: Result<RecordId, SinkError>) -> Self {
        Self::new(std::future::ready(result))
    }
}

impl Future for LogFuture {
    type Output = Result<RecordId, SinkError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for LogFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogFuture")
    }
}

/// How the response of a logged exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ending {
    /// The whole response went to the client.
    Complete,
    /// The client went away before the response ended: the record holds what was sent.
    ClientGone,
    /// The upstream failed (no response, or its body broke off).
    UpstreamFailed,
}

impl Ending {
    /// The name the record uses.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::ClientGone => "client-gone",
            Self::UpstreamFailed => "upstream-failed",
        }
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One proxied request with its response: what the layer seals as one record
/// (`logs.stored`).
///
/// Headers are not kept (they carry the caller's credentials), nor the query string; the
/// request body is kept whole (the layer bounds it), the response up to the layer's capture
/// limit, marked as truncated past it.
#[derive(Clone, PartialEq, Eq)]
pub struct Exchange {
    record: RecordId,
    customer: CustomerId,
    at: Timestamp,
    method: http::Method,
    path: String,
    request: Bytes,
    status: Option<http::StatusCode>,
    response: Bytes,
    response_truncated: bool,
    ending: Ending,
}

impl Exchange {
    /// The exchange of record `record`: `customer`'s request `method path` with `request` as
    /// its body, which arrived at `at`; no response yet.
    #[must_use]
    pub fn new(
        record: RecordId,
        customer: CustomerId,
        at: Timestamp,
        method: http::Method,
        path: &str,
        request: Bytes,
    ) -> Self {
        Self {
            record,
            customer,
            at,
            method,
            path: path.to_owned(),
            request,
            status: None,
            response: Bytes::new(),
            response_truncated: false,
            ending: Ending::UpstreamFailed,
        }
    }

    /// This exchange with its response: `status`, the captured `body`, whether the capture
    /// was cut at the limit, and how the response ended.
    #[must_use]
    pub fn with_response(
        mut self,
        status: Option<http::StatusCode>,
        body: Bytes,
        truncated: Truncation,
        ending: Ending,
    ) -> Self {
        self.status = status;
        self.response = body;
        self.response_truncated = truncated == Truncation::Truncated;
        self.ending = ending;
        self
    }

    /// The id the record is stored under (the layer sends it in the `steward-record`
    /// response header).
    #[must_use]
    pub const fn record(&self) -> RecordId {
        self.record
    }

    /// Whose request it was.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// When the request arrived: the record's collection instant.
    #[must_use]
    pub const fn at(&self) -> Timestamp {
        self.at
    }

    /// The request's body.
    #[must_use]
    pub const fn request(&self) -> &Bytes {
        &self.request
    }

    /// The captured response body.
    #[must_use]
    pub const fn response(&self) -> &Bytes {
        &self.response
    }

    /// The response status, if a response came.
    #[must_use]
    pub const fn status(&self) -> Option<http::StatusCode> {
        self.status
    }

    /// How the response ended.
    #[must_use]
    pub const fn ending(&self) -> Ending {
        self.ending
    }

    /// The document that is sealed: one JSON object with `v` (format, 1), `method`, `path`,
    /// `status` (or null), `ending`, `response_truncated`, and the bodies as `request` and
    /// `response` (strings when they are UTF-8, else lowercase hex under `request_hex` and
    /// `response_hex`).
    #[must_use]
    pub fn document(&self) -> Vec<u8> {
        let mut doc = serde_json::Map::new();
        doc.insert("v".into(), 1.into());
        doc.insert("method".into(), self.method.as_str().into());
        doc.insert("path".into(), self.path.as_str().into());
        doc.insert(
            "status".into(),
            self.status
                .map_or(serde_json::Value::Null, |status| status.as_u16().into()),
        );
        doc.insert("ending".into(), self.ending.as_str().into());
        doc.insert("response_truncated".into(), self.response_truncated.into());
        for (name, body) in [("request", &self.request), ("response", &self.response)] {
            match std::str::from_utf8(body) {
                Ok(text) => doc.insert(name.into(), text.into()),
                Err(_) => doc.insert(format!("{name}_hex"), hex(body).into()),
            };
        }
        // A map of strings, numbers and booleans always serializes.
        serde_json::to_vec(&serde_json::Value::Object(doc)).unwrap_or_default()
    }
}

impl fmt::Debug for Exchange {
    // Bodies are personal data: lengths only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("record", &self.record)
            .field("customer", &self.customer)
            .field("at", &self.at)
            .field("method", &self.method)
            .field("status", &self.status)
            .field("request_len", &self.request.len())
            .field("response_len", &self.response.len())
            .field("ending", &self.ending)
            .finish_non_exhaustive()
    }
}

/// Whether a captured response was cut at the capture limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Truncation {
    /// The capture holds the whole response.
    Whole,
    /// The capture stopped at the limit; the client still got everything.
    Truncated,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// The reference [`RequestLog`]: seals each exchange with a [`Vault`] and keeps the sealed
/// bytes in memory, in arrival order. For tests, demos and the load test's in-memory mode;
/// nothing survives the process.
pub struct MemoryLog<F, S> {
    vault: Arc<Vault<F, S>>,
    records: Mutex<Vec<(RecordId, Vec<u8>)>>,
}

impl<F, S> MemoryLog<F, S> {
    /// A log sealing with `vault`.
    #[must_use]
    pub fn new(vault: Arc<Vault<F, S>>) -> Self {
        Self {
            vault,
            records: Mutex::new(Vec::new()),
        }
    }

    /// The vault.
    #[must_use]
    pub fn vault(&self) -> &Arc<Vault<F, S>> {
        &self.vault
    }

    /// The sealed records so far, with their ids.
    #[must_use]
    pub fn records(&self) -> Vec<(RecordId, Vec<u8>)> {
        self.records
            .lock()
            .map(|records| records.clone())
            .unwrap_or_default()
    }

    /// How many records are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records
            .lock()
            .map(|records| records.len())
            .unwrap_or(0)
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<F, S> MemoryLog<F, S>
where
    F: RosterFacts,
    S: AuditStore,
{
    fn store(&self, exchange: &Exchange) -> Result<RecordId, SinkError> {
        let sealed = self
            .vault
            .seal(
                exchange.record,
                exchange.customer,
                exchange.at,
                &exchange.document(),
            )
            .map_err(|error| SinkError::Unavailable(error.into()))?;
        self.records
            .lock()
            .map_err(|_| SinkError::Unavailable("the record list is poisoned".into()))?
            .push((exchange.record, sealed.into_bytes()));
        Ok(exchange.record)
    }
}

impl<F, S> RequestLog for MemoryLog<F, S>
where
    F: RosterFacts + 'static,
    S: AuditStore + 'static,
    Vault<F, S>: Send + Sync,
{
    fn admit(&self, customer: CustomerId, now: Timestamp) -> Result<Admission, SinkError> {
        let facts = self
            .vault
            .facts()
            .map_err(|error| SinkError::Unavailable(error.into()))?;
        Ok(admission(self.vault.policy(), &*facts, customer, now))
    }

    fn log(&self, exchange: Exchange) -> LogFuture {
        LogFuture::ready(self.store(&exchange))
    }

    fn log_detached(&self, exchange: Exchange) {
        // Nobody waits: a failure is visible as a missing record, and in memory the only
        // failure is a vault that no longer seals.
        let _ = self.store(&exchange);
    }
}

impl<F, S> fmt::Debug for MemoryLog<F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryLog")
            .field("records", &self.len())
            .finish_non_exhaustive()
    }
}
