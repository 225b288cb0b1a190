//! An LLM proxy with Steward in front, as a backend engineer would build one: axum serves,
//! hyper forwards to the upstream (streamed responses pass through as they come), and the
//! `steward-tower` layer refuses what the policy refuses and logs every request with its
//! response as one sealed record.
//!
//! ```sh
//! cargo run --release -p steward-proxy-example --bin steward-upstream -- --listen 127.0.0.1:9000 &
//! cargo run --release -p steward-proxy-example --bin steward-proxy -- \
//!     --store sqlite:/tmp/steward-proxy.db --create --upstream http://127.0.0.1:9000
//! curl -s -XPOST 127.0.0.1:8080/customers -d '{"customer":"0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01"}'
//! curl -si -XPOST 127.0.0.1:8080/v1/chat/completions \
//!     -H 'x-customer: 0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01' -d '{"stream":true,"prompt":"hi"}'
//! ```
//!
//! Routes: `POST /v1/chat/completions` (through the layer), `POST /customers` and
//! `/customers/end` (relationships), `POST /consent` (training level), `POST /stewards`
//! (roster), `POST /steward/open` (a steward opens a record with a purpose and a
//! justification), `POST /export` (which records a training scope may take), `POST
//! /admin/sweep` (the retention sweep in short steps, SQLite only), `GET /metrics` (Prometheus
//! text: the layer's, the ingest handle's and the facade's counters and histograms). The
//! customer is the `x-customer` header: in production it comes from your API-key lookup,
//! never from the body.
//!
//! The store keys are fixed demo bytes: never run this with real data.

use std::{
    net::SocketAddr,
    path::PathBuf,
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Body,
    extract::{Request, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    serve::ListenerExt,
};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::{Value, json};
use steward::{logs::BoxError, vocabulary::CustomerId};
use steward_tower::{OnStoreDown, StewardLayer};
use tower::{Layer, service_fn};

mod backend;

use backend::Backend;

/// The example proxy's arguments.
#[derive(Parser)]
struct Args {
    /// Where to listen (loopback only in the load test).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The upstream LLM API (`steward-upstream` for a local echo).
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    upstream: String,
    /// `none` (no layer), `memory`, `sqlite:PATH` or `postgres:CONNECTION` (feature
    /// `postgres`; several proxies may share one database).
    #[arg(long, default_value = "memory")]
    store: StoreMode,
    /// Make the store first (SQLite: a new file; PostgreSQL: the schema, once).
    #[arg(long)]
    create: bool,
    /// The PostgreSQL schema.
    #[arg(long, default_value = "steward_proxy")]
    schema: String,
    /// A policy file instead of the bundled policy.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The request bodies the layer buffers at most, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    body_limit: usize,
    /// Check that every record id in this file (one a line) is in the store, then exit
    /// (the load test's check after a kill -9).
    #[arg(long)]
    verify_ids: Option<PathBuf>,
}

/// Where records go.
#[derive(Clone)]
enum StoreMode {
    None,
    Memory,
    Sqlite(PathBuf),
    Postgres(String),
}

impl FromStr for StoreMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            None if text == "none" => Ok(Self::None),
            None if text == "memory" => Ok(Self::Memory),
            Some(("sqlite", path)) => Ok(Self::Sqlite(path.into())),
            Some(("postgres", connection)) => Ok(Self::Postgres(connection.into())),
            _ => Err(format!(
                "unknown store `{text}`: none, memory, sqlite:PATH or postgres:CONNECTION"
            )),
        }
    }
}

#[derive(Clone)]
struct App {
    backend: Option<Arc<dyn Backend>>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: Arc<str>,
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let policy = match &args.policy {
        Some(path) => steward::Policy::load(path)?,
        None => steward::Policy::coder_model(),
    };
    let backend = backend::open(&args.store, args.create, &args.schema, policy)?;
    if let Some(path) = &args.verify_ids {
        let backend = backend.ok_or("`--verify-ids` needs a store")?;
        return verify(&*backend, path);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args, backend))
}

async fn serve(args: Args, backend: Option<Arc<dyn Backend>>) -> Result<(), BoxError> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector);
    // Every counter and histogram of the store and the facade (names in docs/operations.md).
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
    let app = App {
        backend: backend.clone(),
        metrics,
        client,
        upstream: args.upstream.trim_end_matches('/').into(),
    };
    let chat = match &backend {
        None => Router::new().route("/v1/chat/completions", post(unlogged_chat)),
        Some(backend) => {
            let forwarder = {
                let app = app.clone();
                service_fn(move |request: http::Request<Full<Bytes>>| {
                    let app = app.clone();
                    async move { Ok::<_, std::convert::Infallible>(forward(&app, request).await) }
                })
            };
            let layer = StewardLayer::new(backend.sink(), customer_of)
                .body_limit(args.body_limit)
                // A health route may answer while the store is down; chat never does.
                .on_store_down("/healthz", OnStoreDown::DangerousProxyUnlogged);
            Router::new().route_service("/v1/chat/completions", layer.layer(forwarder))
        }
    };
    let router = chat
        .route("/customers", post(start_customer))
        .route("/customers/end", post(end_customer))
        .route("/consent", post(consent))
        .route("/stewards", post(add_steward))
        .route("/steward/open", post(steward_open))
        .route("/export", post(export))
        .route("/admin/sweep", post(sweep))
        .route("/metrics", get(prometheus))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await?
        // Responses go out in several writes (headers, then the body when the record is
        // durable): without this, Nagle's algorithm holds the second behind a delayed ACK.
        .tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
    eprintln!("steward-proxy listening on {}", args.listen);
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    if let Some(backend) = backend {
        tokio::task::spawn_blocking(move || backend.shutdown()).await??;
    }
    Ok(())
}

/// The customer: the `x-customer` header, standing in for your authentication.
fn customer_of(parts: &http::request::Parts) -> Result<CustomerId, BoxError> {
    let value = parts
        .headers
        .get("x-customer")
        .ok_or("no `x-customer` header")?;
    Ok(value.to_str()?.parse()?)
}

/// Sends the request to the upstream and streams its answer back.
async fn forward(app: &App, request: http::Request<Full<Bytes>>) -> Response {
    let (parts, body) = request.into_parts();
    let uri = format!("{}{}", app.upstream, parts.uri.path());
    let mut upstream = http::Request::builder().method(parts.method).uri(uri);
    if let Some(kind) = parts.headers.get(http::header::CONTENT_TYPE) {
        upstream = upstream.header(http::header::CONTENT_TYPE, kind);
    }
    let request = match upstream.body(body) {
        Ok(request) => request,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    match app.client.request(request).await {
        Ok(response) => response.map(Body::new),
        Err(error) => (StatusCode::BAD_GATEWAY, format!("upstream: {error}\n")).into_response(),
    }
}

/// The baseline: the same proxy without Steward (it buffers the body as the layer does).
async fn unlogged_chat(State(app): State<App>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    match body.collect().await {
        Ok(body) => {
            forward(
                &app,
                http::Request::from_parts(parts, Full::new(body.to_bytes())),
            )
            .await
        }
        Err(error) => (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    }
}

/// Runs a blocking store call off the async workers and shapes its answer.
async fn blocking(
    app: &App,
    call: impl FnOnce(&dyn Backend) -> Result<Value, BoxError> + Send + 'static,
) -> Response {
    let Some(backend) = app.backend.clone() else {
        return (
            StatusCode::NOT_FOUND,
            "no store: started with `--store none`\n",
        )
            .into_response();
    };
    match tokio::task::spawn_blocking(move || call(&*backend)).await {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(error)) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{error}\n")).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response(),
    }
}

fn field<T: FromStr>(body: &Value, name: &str) -> Result<T, BoxError>
where
    T::Err: Into<BoxError>,
{
    let text = body
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing field `{name}`"))?;
    text.parse().map_err(Into::into)
}

async fn start_customer(State(app): State<App>, Json(body): Json<Value>) -> Response {
    blocking(&app, move |backend| {
        backend.start(field(&body, "customer")?)?;
        Ok(json!({"started": true}))
    })
    .await
}

async fn end_customer(State(app): State<App>, Json(body): Json<Value>) -> Response {
    blocking(&app, move |backend| {
        backend.end(field(&body, "customer")?)?;
        Ok(json!({"ended": true}))
    })
    .await
}

async fn consent(State(app): State<App>, Json(body): Json<Value>) -> Response {
    blocking(&app, move |backend| {
        let receipt = backend.consent(field(&body, "customer")?, field(&body, "level")?)?;
        Ok(json!({ "receipt": receipt }))
    })
    .await
}

async fn add_steward(State(app): State<App>, Json(body): Json<Value>) -> Response {
    blocking(&app, move |backend| {
        backend.add_steward(field(&body, "steward")?)?;
        Ok(json!({"added": true}))
    })
    .await
}

async fn steward_open(State(app): State<App>, Json(body): Json<Value>) -> Response {
    blocking(&app, move |backend| {
        let justification: String = field(&body, "justification")?;
        let plain = backend.open(
            field(&body, "steward")?,
            field(&body, "purpose")?,
            &justification,
            field(&body, "record")?,
        )?;
        Ok(serde_json::from_slice(&plain).unwrap_or_else(|_| json!({ "bytes": plain.len() })))
    })
    .await
}

async fn export(State(app): State<App>, Json(body): Json<Value>) -> Response {
    blocking(&app, move |backend| backend.export(field(&body, "scope")?)).await
}

async fn sweep(State(app): State<App>) -> Response {
    blocking(&app, move |backend| {
        let started = Instant::now();
        let mut report = backend.sweep()?;
        if let Some(object) = report.as_object_mut() {
            object.insert(
                "millis".into(),
                u64::try_from(started.elapsed().as_millis())
                    .unwrap_or(u64::MAX)
                    .into(),
            );
        }
        Ok(report)
    })
    .await
}

/// Prometheus text: decisions, refusals, ingest queue depth, batch sizes, commit latency,
/// sweep progress (labels carry clause ids and outcomes, never customers or content).
async fn prometheus(State(app): State<App>) -> Response {
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

fn verify(backend: &dyn Backend, path: &std::path::Path) -> Result<(), BoxError> {
    let ids = std::fs::read_to_string(path)?;
    let (mut found, mut missing) = (0_u64, 0_u64);
    for line in ids.lines().filter(|line| !line.trim().is_empty()) {
        if backend.has_record(line.trim().parse()?)? {
            found += 1;
        } else {
            missing += 1;
            eprintln!("missing: {line}");
        }
    }
    println!(
        "{}",
        json!({ "acknowledged": found + missing, "found": found, "missing": missing })
    );
    if missing > 0 {
        return Err(format!("{missing} acknowledged records are missing").into());
    }
    Ok(())
}
