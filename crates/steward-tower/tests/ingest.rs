//! The layer over steward-store's batched ingest handle on SQLite: acknowledged responses
//! are durable, and a disconnected client's partial response is stored too.

#![cfg(feature = "ingest")]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed setup step must fail the test"
)]

use std::{
    convert::Infallible,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_executor::block_on;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use steward::{
    Policy,
    vocabulary::{RecordId, Timestamp},
};
use steward_store::{Ingest, IngestConfig, SqliteStore, StoreKeys, open_vault};
use steward_tower::{IngestLog, StewardLayer};
use tower::{Layer, Service, ServiceExt, service_fn};

const ADA: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01";

#[test]
fn acknowledged_and_abandoned_responses_are_both_in_the_store() {
    let dir = std::env::temp_dir().join(format!("steward-tower-ingest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keys = StoreKeys::new(
        "kek-1".parse().unwrap(),
        b"steward test key 42, not secret!",
        b"steward test key 17, not secret!",
    )
    .unwrap();
    let store = SqliteStore::create(dir.join("steward.db"), &keys).unwrap();
    let vault = Arc::new(open_vault(&store, &keys, Policy::coder_model()).unwrap());
    vault
        .update_facts(|facts| facts.start_relationship(ADA.parse().unwrap(), Timestamp::now()))
        .unwrap()
        .unwrap();
    let ingest =
        Ingest::sqlite(Arc::clone(&vault), store.clone(), IngestConfig::default()).unwrap();
    let sink = Arc::new(IngestLog::new(ingest.clone(), vault));
    let upstream = service_fn(|_: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(events()))
    });
    let mut proxy = StewardLayer::new(sink, |parts: &http::request::Parts| {
        Ok::<_, steward::logs::BoxError>(parts.headers["x-customer"].to_str()?.parse()?)
    })
    .layer(upstream);
    let mut send = || {
        let request = Request::post("/v1/chat/completions")
            .header("x-customer", ADA)
            .body(Full::new(Bytes::from_static(b"{\"stream\":true}")))
            .unwrap();
        block_on(async {
            ServiceExt::<Request<Full<Bytes>>>::ready(&mut proxy)
                .await
                .unwrap()
                .call(request)
                .await
                .unwrap()
        })
    };
    let whole = send();
    let acknowledged: RecordId = whole.headers()["steward-record"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    block_on(whole.into_body().collect()).unwrap();
    // Acknowledged means durable: the record is in the store now.
    assert!(store.record(acknowledged).unwrap().is_some());

    let mut abandoned = send();
    let dropped: RecordId = abandoned.headers()["steward-record"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    block_on(abandoned.body_mut().frame()).unwrap().unwrap();
    drop(abandoned);
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.record(dropped).unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        store.record(dropped).unwrap().is_some(),
        "the partial response is stored"
    );
    let report = ingest.shutdown_blocking();
    assert_eq!((report.committed(), report.failed()), (2, 0));
    drop((send, store));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Three SSE events, one frame per poll.
struct Events(std::collections::VecDeque<Bytes>);

impl http_body::Body for Events {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        std::task::Poll::Ready(
            self.0
                .pop_front()
                .map(|data| Ok(http_body::Frame::data(data))),
        )
    }
}

fn events() -> Events {
    Events(
        (0..3)
            .map(|i| Bytes::from(format!("data: {i}\n\n")))
            .collect(),
    )
}
