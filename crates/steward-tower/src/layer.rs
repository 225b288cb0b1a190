//! The layer and its service.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, request::Parts};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use steward::{
    logs::BoxError,
    vocabulary::{CustomerId, RecordId, Timestamp},
};
use tower::{Layer, Service};

use crate::{Admission, Exchange, LayerError, RequestLog, StewardBody};

/// The response header naming the record a response is logged under.
pub const RECORD_HEADER: &str = "steward-record";
/// The response header set on a response that passed without being logged (a route set to
/// [`OnStoreDown::DangerousProxyUnlogged`] while the store was down): `unlogged`.
pub const UNLOGGED_HEADER: &str = "steward-log";
/// The response header naming why the layer refused ([`LayerError::kind`]).
pub const ERROR_HEADER: &str = "steward-error";

/// The request bodies the layer buffers at most, unless set: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;
/// The response bytes a record keeps at most, unless set: 4 MiB.
pub const DEFAULT_CAPTURE_LIMIT: usize = 4 << 20;

/// What a route does when the log store cannot take its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnStoreDown {
    /// Refuse with 503 (fail closed, the default): nothing passes unlogged (`logs.stored`).
    #[default]
    Refuse,
    /// Proxy without logging, marked with the `steward-log: unlogged` response header. This
    /// breaks the promise of `logs.stored` for as long as the store is down: choose it only
    /// for a route whose availability matters more, and watch for the header.
    ///
    /// It applies only to a store that cannot be reached when the request arrives: a
    /// customer the resolver cannot name, a refusal of the policy and a body over the limit
    /// are refused on every route.
    DangerousProxyUnlogged,
}

/// The layer: wrap a service (an axum router, a hyper service) with it.
///
/// ```
/// use std::sync::Arc;
///
/// use bytes::Bytes;
/// use http::{Request, Response, StatusCode};
/// use http_body_util::{BodyExt, Full};
/// use steward::{
///     MemoryFacts, Policy, Vault,
///     logs::{AuditKey, AuditTrail, Keyring, MasterKey, MemoryAuditStore},
/// };
/// use steward_tower::{MemoryLog, StewardLayer};
/// use tower::{Layer, Service, service_fn};
///
/// // The vault and its facts, as a service keeps them (here in memory).
/// let policy = Policy::coder_model();
/// let mut facts = MemoryFacts::new(&policy);
/// let ada = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01".parse()?;
/// facts.relationships.start(ada, "2025-01-01T00:00:00Z".parse()?)?;
/// let master = MasterKey::from_bytes("kek-1".parse()?, b"steward test key 42, not secret!")?;
/// let trail = AuditTrail::new(AuditKey::from_bytes(b"steward test key 17, not secret!")?, MemoryAuditStore::new())?;
/// let vault = Arc::new(Vault::new(policy, facts, Keyring::new(master), trail)?);
/// let log = Arc::new(MemoryLog::new(vault));
///
/// // The customer is named by a header your authentication set.
/// let layer = StewardLayer::new(log.clone(), |parts: &http::request::Parts| {
///     let value = parts.headers.get("x-customer").ok_or("no x-customer header")?;
///     Ok::<_, steward::logs::BoxError>(value.to_str()?.parse()?)
/// });
/// let upstream = service_fn(|request: Request<Full<Bytes>>| async move {
///     let prompt = request.into_body().collect().await?.to_bytes();
///     Ok::<_, std::convert::Infallible>(Response::new(Full::new(prompt)))
/// });
/// let mut proxy = layer.layer(upstream);
///
/// futures_executor::block_on(async {
///     let request = Request::post("/v1/chat/completions")
///         .header("x-customer", "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01")
///         .body(Full::new(Bytes::from_static(b"{\"prompt\":\"hi\"}")))?;
///     let response = proxy.call(request).await?;
///     assert_eq!(response.status(), StatusCode::OK);
///     assert!(response.headers().contains_key("steward-record"));
///     // The record is sealed once the body has been read to its end.
///     response.into_body().collect().await?;
///     assert_eq!(log.len(), 1);
///
///     let stranger = Request::post("/v1/chat/completions")
///         .header("x-customer", "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a02")
///         .body(Full::new(Bytes::new()))?;
///     let refused = proxy.call(stranger).await?;
///     assert_eq!(refused.status(), StatusCode::FORBIDDEN);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StewardLayer {
    shared: Arc<Shared>,
}

/// The user's function naming a request's customer, its error boxed.
type Resolver = Arc<dyn Fn(&Parts) -> Result<CustomerId, BoxError> + Send + Sync>;

#[derive(Clone)]
struct Shared {
    sink: Arc<dyn RequestLog>,
    resolver: Resolver,
    body_limit: usize,
    capture_limit: usize,
    /// Path prefixes with their setting; the longest matching prefix wins.
    routes: Vec<(String, OnStoreDown)>,
}

impl StewardLayer {
    /// A layer logging to `sink`, naming each request's customer with `resolver` (from the
    /// request's method, URI, headers and extensions: take it from your authentication,
    /// never from the body).
    pub fn new<R, E>(sink: Arc<dyn RequestLog>, resolver: R) -> Self
    where
        R: Fn(&Parts) -> Result<CustomerId, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        Self {
            shared: Arc::new(Shared {
                sink,
                resolver: Arc::new(move |parts| resolver(parts).map_err(Into::into)),
                body_limit: DEFAULT_BODY_LIMIT,
                capture_limit: DEFAULT_CAPTURE_LIMIT,
                routes: Vec::new(),
            }),
        }
    }

    /// Buffers request bodies up to `bytes` (413 past it).
    #[must_use]
    pub fn body_limit(self, bytes: usize) -> Self {
        self.map(|shared| shared.body_limit = bytes)
    }

    /// Keeps at most `bytes` of each response in its record (the client gets the whole
    /// response; the record says it was truncated).
    #[must_use]
    pub fn capture_limit(self, bytes: usize) -> Self {
        self.map(|shared| shared.capture_limit = bytes)
    }

    /// What requests whose path starts with `prefix` do when the store is down (the longest
    /// matching prefix wins; every other route refuses).
    #[must_use]
    pub fn on_store_down(self, prefix: &str, setting: OnStoreDown) -> Self {
        let prefix = prefix.to_owned();
        self.map(|shared| shared.routes.push((prefix, setting)))
    }

    fn map(mut self, change: impl FnOnce(&mut Shared)) -> Self {
        // A layer already cloned keeps its settings; this one gets its own copy.
        change(Arc::make_mut(&mut self.shared));
        self
    }
}

impl Clone for StewardLayer {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl fmt::Debug for StewardLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StewardLayer")
            .field("body_limit", &self.shared.body_limit)
            .field("capture_limit", &self.shared.capture_limit)
            .field("routes", &self.shared.routes)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for StewardLayer {
    type Service = StewardService<S>;

    fn layer(&self, inner: S) -> StewardService<S> {
        StewardService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Shared {
    fn on_store_down(&self, path: &str) -> OnStoreDown {
        self.routes
            .iter()
            .filter(|(prefix, _)| path.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(OnStoreDown::Refuse, |(_, setting)| *setting)
    }
}

/// The service [`StewardLayer`] wraps around an inner service. The inner service gets the
/// request with its body buffered ([`Full`]).
pub struct StewardService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Clone> Clone for StewardService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> fmt::Debug for StewardService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StewardService").finish_non_exhaustive()
    }
}

/// The future of [`StewardService::call`].
pub struct ResponseFuture<R, E>(Pin<Box<dyn Future<Output = Result<R, E>> + Send>>);

impl<R, E> Future for ResponseFuture<R, E> {
    type Output = Result<R, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl<R, E> fmt::Debug for ResponseFuture<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for StewardService<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send + 'static,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<StewardBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone that was made ready is the one that serves (tower's usual swap).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        ResponseFuture(Box::pin(serve(shared, inner, request)))
    }
}

async fn serve<S, ReqBody, ResBody>(
    shared: Arc<Shared>,
    mut inner: S,
    request: Request<ReqBody>,
) -> Result<Response<StewardBody<ResBody>>, S::Error>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>>,
    ReqBody: Body,
    ReqBody::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes>,
{
    let now = Timestamp::now();
    let (parts, body) = request.into_parts();
    let customer = match (shared.resolver)(&parts) {
        Ok(customer) => customer,
        Err(cause) => return Ok(refuse(&LayerError::UnknownCustomer(cause))),
    };
    // logs.stored: the request passes only if it can be logged (fail closed), unless its
    // route chose otherwise for a store that is down.
    let logged = match shared.sink.admit(customer, now) {
        Ok(Admission::Log) => true,
        Ok(Admission::Refuse(refusal)) => return Ok(refuse(&LayerError::Refused(refusal))),
        Err(error) => match shared.on_store_down(parts.uri.path()) {
            OnStoreDown::DangerousProxyUnlogged => false,
            OnStoreDown::Refuse => return Ok(refuse(&LayerError::StoreUnavailable(error))),
        },
    };
    let bytes = match Limited::new(body, shared.body_limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => {
            return Ok(refuse(&LayerError::BodyTooLarge {
                limit: shared.body_limit,
            }));
        }
        Err(error) => return Ok(refuse(&LayerError::BodyUnreadable(error))),
    };
    if !logged {
        let response = inner
            .call(Request::from_parts(parts, Full::new(bytes)))
            .await?;
        let (mut head, body) = response.into_parts();
        head.headers
            .insert(UNLOGGED_HEADER, HeaderValue::from_static("unlogged"));
        crate::observe::unlogged();
        return Ok(Response::from_parts(head, StewardBody::unlogged(body)));
    }
    let record = RecordId::generate_at(now);
    let exchange = Exchange::new(
        record,
        customer,
        now,
        parts.method.clone(),
        parts.uri.path(),
        bytes.clone(),
    );
    let response = match inner
        .call(Request::from_parts(parts, Full::new(bytes)))
        .await
    {
        Ok(response) => response,
        Err(error) => {
            // The request reached the upstream (or tried to): it is logged without a response.
            shared.sink.log_detached(exchange);
            return Err(error);
        }
    };
    let (mut head, body) = response.into_parts();
    if let Ok(value) = HeaderValue::from_str(&record.to_string()) {
        head.headers.insert(RECORD_HEADER, value);
    }
    let status = head.status;
    let body = StewardBody::logged(
        body,
        Arc::clone(&shared.sink),
        exchange,
        status,
        shared.capture_limit,
    );
    Ok(Response::from_parts(head, body))
}

fn refuse<B>(error: &LayerError) -> Response<StewardBody<B>> {
    crate::observe::refused(error.kind());
    let mut response = Response::new(StewardBody::text(error.text()));
    *response.status_mut() = error.status();
    let headers = response.headers_mut();
    headers.insert(ERROR_HEADER, HeaderValue::from_static(error.kind()));
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
