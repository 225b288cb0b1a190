//! The layer against mock upstreams, driven by a plain executor (no runtime).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failed setup step must fail the test"
)]

use std::{
    collections::VecDeque,
    convert::Infallible,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    task::{Context, Poll, Waker},
};

use bytes::Bytes;
use futures_executor::block_on;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use proptest::prelude::*;
use steward::{
    MemoryFacts, Policy, Vault,
    logs::{
        AccessRequest, AuditKey, AuditTrail, Keyring, MasterKey, MemoryAuditStore, SealedRecord,
    },
    vocabulary::{CustomerId, RecordId, Timestamp},
};
use steward_tower::{
    Admission, Ending, Exchange, LogFuture, MemoryLog, OnStoreDown, RequestLog, SinkError,
    StewardLayer,
};
use tower::{Layer, Service, ServiceExt, service_fn};

const ADA: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01";
const BEN: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a02";
const GONE: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a03";

type Log = MemoryLog<MemoryFacts, MemoryAuditStore>;

/// A vault where Ada's relationship is active, Gone's has ended and Ben has none.
fn memory_log() -> Arc<Log> {
    let policy = Policy::coder_model();
    let mut facts = MemoryFacts::new(&policy);
    let start: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
    facts
        .relationships
        .start(ADA.parse().unwrap(), start)
        .unwrap();
    let gone: CustomerId = GONE.parse().unwrap();
    facts.relationships.start(gone, start).unwrap();
    facts
        .relationships
        .end(gone, "2025-02-01T00:00:00Z".parse().unwrap())
        .unwrap();
    let master = MasterKey::from_bytes(
        "kek-1".parse().unwrap(),
        b"steward test key 42, not secret!",
    )
    .unwrap();
    let trail = AuditTrail::new(
        AuditKey::from_bytes(b"steward test key 17, not secret!").unwrap(),
        MemoryAuditStore::new(),
    )
    .unwrap();
    let vault = Vault::new(policy, facts, Keyring::new(master), trail).unwrap();
    vault
        .add_steward(
            "sam.steward".parse().unwrap(),
            "dana.admin".parse().unwrap(),
        )
        .unwrap();
    Arc::new(MemoryLog::new(Arc::new(vault)))
}

fn resolver(parts: &http::request::Parts) -> Result<CustomerId, steward::logs::BoxError> {
    let value = parts
        .headers
        .get("x-customer")
        .ok_or("no x-customer header")?;
    Ok(value.to_str()?.parse()?)
}

fn request(customer: Option<&str>, path: &str, body: &'static [u8]) -> Request<Full<Bytes>> {
    let mut builder = Request::post(path);
    if let Some(customer) = customer {
        builder = builder.header("x-customer", customer);
    }
    builder.body(Full::new(Bytes::from_static(body))).unwrap()
}

/// Opens the record `id` as a steward and parses its document.
fn open(log: &Log, id: RecordId) -> serde_json::Value {
    let (_, bytes) = log
        .records()
        .into_iter()
        .find(|(record, _)| *record == id)
        .expect("the record is stored");
    let record = SealedRecord::from_bytes(&bytes).unwrap();
    let request = AccessRequest::with_justification_text(
        "sam.steward".parse().unwrap(),
        "troubleshooting".parse().unwrap(),
        "INC-1 test",
    );
    let plain = log.vault().open(&record, &request).unwrap();
    serde_json::from_slice(plain.as_bytes()).unwrap()
}

fn record_id<B>(response: &Response<B>) -> RecordId {
    response.headers()["steward-record"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// An upstream that answers with the request body, counting its calls.
fn echo(
    calls: Arc<AtomicUsize>,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    service_fn(move |request: Request<Full<Bytes>>| {
        let calls = Arc::clone(&calls);
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let mut reply = b"echo: ".to_vec();
            reply.extend_from_slice(&body);
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(reply))))
        }
    })
}

/// Sends `request` through `service` once it is ready.
async fn send<S>(service: &mut S, request: Request<Full<Bytes>>) -> S::Response
where
    S: Service<Request<Full<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    service.ready().await.unwrap().call(request).await.unwrap()
}

#[test]
fn a_passed_request_is_one_record_with_its_response() {
    let log = memory_log();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut proxy = StewardLayer::new(log.clone(), resolver).layer(echo(calls.clone()));
    block_on(async {
        let response = send(
            &mut proxy,
            request(Some(ADA), "/v1/chat/completions?key=secret", b"{\"q\":1}"),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let id = record_id(&response);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"echo: {\"q\":1}");
        assert_eq!(log.len(), 1);
        let doc = open(&log, id);
        assert_eq!(doc["request"], "{\"q\":1}");
        assert_eq!(doc["response"], "echo: {\"q\":1}");
        assert_eq!(doc["status"], 200);
        assert_eq!(doc["ending"], "complete");
        // The query string (which may carry credentials) is not kept.
        assert_eq!(doc["path"], "/v1/chat/completions");
    });
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn refusals_have_distinct_statuses_and_never_reach_the_upstream() {
    let log = memory_log();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut proxy = StewardLayer::new(log.clone(), resolver)
        .body_limit(8)
        .layer(echo(calls.clone()));
    block_on(async {
        for (customer, body, status, kind, text) in [
            (
                None,
                &b"{}"[..],
                StatusCode::UNAUTHORIZED,
                "unknown-customer",
                "no x-customer header",
            ),
            (
                Some("not-a-uuid"),
                b"{}",
                StatusCode::UNAUTHORIZED,
                "unknown-customer",
                "names no customer",
            ),
            (
                Some(BEN),
                b"{}",
                StatusCode::FORBIDDEN,
                "refused",
                "logs.retention",
            ),
            (
                Some(GONE),
                b"{}",
                StatusCode::FORBIDDEN,
                "refused",
                "retention",
            ),
            (
                Some(ADA),
                b"0123456789",
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "limit of 8 bytes",
            ),
        ] {
            let response = send(&mut proxy, request(customer, "/v1/chat/completions", body)).await;
            assert_eq!(response.status(), status, "{customer:?}");
            assert_eq!(response.headers()["steward-error"], kind);
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8(bytes.to_vec()).unwrap();
            assert!(body.contains(text), "{body}");
        }
    });
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(log.is_empty());
}

/// A sink whose store is down.
struct DownLog;

impl RequestLog for DownLog {
    fn admit(&self, _: CustomerId, _: Timestamp) -> Result<Admission, SinkError> {
        Err(SinkError::Unavailable("connection refused".into()))
    }
    fn log(&self, _: Exchange) -> LogFuture {
        LogFuture::ready(Err(SinkError::Unavailable("connection refused".into())))
    }
    fn log_detached(&self, _: Exchange) {}
}

#[test]
fn a_store_that_is_down_refuses_unless_the_route_proxies_unlogged() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut proxy = StewardLayer::new(Arc::new(DownLog), resolver)
        .on_store_down("/health", OnStoreDown::DangerousProxyUnlogged)
        .layer(echo(calls.clone()));
    block_on(async {
        let refused = send(
            &mut proxy,
            request(Some(ADA), "/v1/chat/completions", b"{}"),
        )
        .await;
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()["steward-error"], "store-unavailable");
        let text = refused.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&text).contains("connection refused"));
        assert_eq!(calls.load(Ordering::SeqCst), 0);

        let passed = send(&mut proxy, request(Some(ADA), "/health/deep", b"{}")).await;
        assert_eq!(passed.status(), StatusCode::OK);
        assert_eq!(passed.headers()["steward-log"], "unlogged");
        assert!(!passed.headers().contains_key("steward-record"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    });
}

/// A streamed body: frames handed out one per poll, as an SSE upstream sends events.
struct Stream(VecDeque<Bytes>);

impl Body for Stream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|data| Ok(Frame::data(data))))
    }
}

fn sse(
    events: Vec<String>,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<Stream>,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    service_fn(move |_: Request<Full<Bytes>>| {
        let frames = events
            .iter()
            .map(|event| Bytes::from(event.clone()))
            .collect();
        async move {
            let mut response = Response::new(Stream(frames));
            response
                .headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
            Ok::<_, Infallible>(response)
        }
    })
}

fn events(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("data: token {i}\n\n")).collect()
}

#[test]
fn a_streamed_response_is_sealed_when_it_ends() {
    let log = memory_log();
    let mut proxy = StewardLayer::new(log.clone(), resolver).layer(sse(events(5)));
    block_on(async {
        let response = send(
            &mut proxy,
            request(Some(ADA), "/v1/chat/completions", b"{\"stream\":true}"),
        )
        .await;
        let id = record_id(&response);
        let mut body = response.into_body();
        for _ in 0..5 {
            let frame = body.frame().await.unwrap().unwrap();
            assert!(frame.is_data());
            assert!(log.is_empty(), "not sealed before the stream ends");
        }
        assert!(body.frame().await.is_none());
        assert_eq!(log.len(), 1);
        let doc = open(&log, id);
        assert_eq!(doc["response"], events(5).concat());
        assert_eq!(doc["ending"], "complete");
    });
}

#[test]
fn a_client_that_disconnects_mid_stream_gets_its_partial_response_logged() {
    let log = memory_log();
    let mut proxy = StewardLayer::new(log.clone(), resolver).layer(sse(events(5)));
    block_on(async {
        let response = send(
            &mut proxy,
            request(Some(ADA), "/v1/chat/completions", b"{\"stream\":true}"),
        )
        .await;
        let id = record_id(&response);
        let mut body = response.into_body();
        body.frame().await.unwrap().unwrap();
        body.frame().await.unwrap().unwrap();
        assert!(log.is_empty());
        drop(body);
        assert_eq!(log.len(), 1);
        let doc = open(&log, id);
        assert_eq!(doc["response"], events(2).concat());
        assert_eq!(doc["ending"], Ending::ClientGone.as_str());
    });
}

/// A sink whose writes become durable only when the test says so.
struct SlowLog {
    inner: Arc<Log>,
    durable: Arc<AtomicBool>,
}

impl RequestLog for SlowLog {
    fn admit(&self, customer: CustomerId, now: Timestamp) -> Result<Admission, SinkError> {
        self.inner.admit(customer, now)
    }
    fn log(&self, exchange: Exchange) -> LogFuture {
        let record = exchange.record();
        self.inner.log_detached(exchange);
        let durable = Arc::clone(&self.durable);
        LogFuture::new(std::future::poll_fn(move |_| {
            if durable.load(Ordering::SeqCst) {
                Poll::Ready(Ok(record))
            } else {
                Poll::Pending
            }
        }))
    }
    fn log_detached(&self, exchange: Exchange) {
        self.inner.log_detached(exchange);
    }
}

/// One poll of a body's next frame.
type Polled<B> = Poll<Option<Result<Frame<<B as Body>::Data>, <B as Body>::Error>>>;

fn poll<B: Body + Unpin>(body: &mut B) -> Polled<B> {
    Pin::new(body).poll_frame(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn the_end_of_a_response_waits_until_its_record_is_durable() {
    let durable = Arc::new(AtomicBool::new(false));
    let slow = Arc::new(SlowLog {
        inner: memory_log(),
        durable: Arc::clone(&durable),
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let mut streamed = StewardLayer::new(slow.clone(), resolver).layer(sse(events(2)));
    let mut sized = StewardLayer::new(slow, resolver).layer(echo(calls));
    block_on(async {
        let response = send(
            &mut streamed,
            request(Some(ADA), "/v1/chat/completions", b"{}"),
        )
        .await;
        let mut body = response.into_body();
        assert!(matches!(poll(&mut body), Poll::Ready(Some(Ok(_)))));
        assert!(matches!(poll(&mut body), Poll::Ready(Some(Ok(_)))));
        // The stream's end is withheld until the record is durable.
        assert!(poll(&mut body).is_pending());
        assert!(!body.is_end_stream());

        // A response of known length: its last bytes are the acknowledgement, so they wait.
        let response = send(
            &mut sized,
            request(Some(ADA), "/v1/chat/completions", b"{}"),
        )
        .await;
        let mut sized_body = response.into_body();
        assert_eq!(sized_body.size_hint().exact(), Some(8));
        assert!(poll(&mut sized_body).is_pending());

        durable.store(true, Ordering::SeqCst);
        assert!(matches!(poll(&mut body), Poll::Ready(None)));
        assert!(body.is_end_stream());
        match poll(&mut sized_body) {
            Poll::Ready(Some(Ok(frame))) => assert_eq!(frame.into_data().unwrap(), "echo: {}"),
            _ => panic!("the held bytes come once the record is durable"),
        }
        assert!(matches!(poll(&mut sized_body), Poll::Ready(None)));
    });
}

/// A sink that fails every write after admitting.
struct FailingLog(Arc<Log>);

impl RequestLog for FailingLog {
    fn admit(&self, customer: CustomerId, now: Timestamp) -> Result<Admission, SinkError> {
        self.0.admit(customer, now)
    }
    fn log(&self, _: Exchange) -> LogFuture {
        LogFuture::ready(Err(SinkError::Unavailable("disk full".into())))
    }
    fn log_detached(&self, _: Exchange) {}
}

#[test]
fn a_response_whose_record_fails_ends_in_an_error_not_a_clean_end() {
    let mut proxy =
        StewardLayer::new(Arc::new(FailingLog(memory_log())), resolver).layer(sse(events(1)));
    block_on(async {
        let response = send(
            &mut proxy,
            request(Some(ADA), "/v1/chat/completions", b"{}"),
        )
        .await;
        let error = response.into_body().collect().await.unwrap_err();
        assert!(error.to_string().contains("could not be logged"), "{error}");
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the chunking, the client gets the upstream's bytes unchanged, and the record
    /// keeps them up to the capture limit, marked truncated past it.
    #[test]
    fn the_client_gets_every_byte_and_the_record_the_captured_prefix(
        chunks in proptest::collection::vec("[a-z ]{0,40}", 0..12),
        limit in 0usize..300,
    ) {
        let log = memory_log();
        let mut proxy = StewardLayer::new(log.clone(), resolver)
            .capture_limit(limit)
            .layer(sse(chunks.clone()));
        let whole = chunks.concat();
        block_on(async {
            let response = send(&mut proxy, request(Some(ADA), "/v1/chat/completions", b"{}")).await;
            let id = record_id(&response);
            let got = response.into_body().collect().await.unwrap().to_bytes();
            prop_assert_eq!(&got[..], whole.as_bytes());
            let doc = open(&log, id);
            let kept = &whole[..whole.len().min(limit)];
            prop_assert_eq!(doc["response"].as_str().unwrap(), kept);
            prop_assert_eq!(doc["response_truncated"].as_bool().unwrap(), whole.len() > limit);
            Ok(())
        })?;
    }
}

#[test]
fn a_setting_applies_to_the_layer_it_is_made_on_and_not_to_earlier_clones() {
    let log = memory_log();
    let calls = Arc::new(AtomicUsize::new(0));
    let base = StewardLayer::new(log, resolver);
    let strict = base.clone().body_limit(4);
    let mut loose = base.layer(echo(calls.clone()));
    let mut tight = strict.layer(echo(calls.clone()));
    block_on(async {
        let passed = send(&mut loose, request(Some(ADA), "/v1/chat", b"0123456789")).await;
        assert_eq!(passed.status(), StatusCode::OK);
        let refused = send(&mut tight, request(Some(ADA), "/v1/chat", b"0123456789")).await;
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    });
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[cfg(feature = "metrics")]
#[test]
fn refusals_and_unlogged_passes_are_counted_by_kind() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let calls = Arc::new(AtomicUsize::new(0));
    metrics::with_local_recorder(&recorder, || {
        let mut refusing = StewardLayer::new(memory_log(), resolver).layer(echo(calls.clone()));
        let mut down = StewardLayer::new(Arc::new(DownLog), resolver)
            .on_store_down("/health", OnStoreDown::DangerousProxyUnlogged)
            .layer(echo(calls.clone()));
        block_on(async {
            send(&mut refusing, request(Some(BEN), "/v1/chat", b"{}")).await;
            send(&mut refusing, request(None, "/v1/chat", b"{}")).await;
            send(&mut down, request(Some(ADA), "/health", b"{}")).await;
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let counter = |name: &str, kind: Option<&str>| -> u64 {
        snapshot
            .iter()
            .filter(|(key, ..)| {
                key.key().name() == name
                    && kind.is_none_or(|kind| {
                        key.key()
                            .labels()
                            .any(|label| label.key() == "kind" && label.value() == kind)
                    })
            })
            .map(|(.., value)| match value {
                DebugValue::Counter(n) => *n,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(counter("steward_layer_refused_total", Some("refused")), 1);
    assert_eq!(
        counter("steward_layer_refused_total", Some("unknown-customer")),
        1
    );
    assert_eq!(counter("steward_layer_unlogged_total", None), 1);
}
