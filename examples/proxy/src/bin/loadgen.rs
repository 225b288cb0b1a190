//! The load generator of `scripts/loadtest.sh`: a fixed number of concurrent clients on
//! keep-alive connections send chat requests to one URL for a bounded time and count, and it
//! prints one JSON line: requests, errors, requests per second, p50, p99 and max latency.
//! With `--ack-file`, it appends the record id of every response it received whole (the
//! proxy's acknowledgement) to that file, for the check after a kill -9.

use std::{
    io::Write,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::json;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The load generator's arguments.
#[derive(Parser)]
struct Args {
    /// The chat URL (loopback only); several, comma-separated, share the clients round robin
    /// (client i sends to URL i mod n: two proxy processes on one database).
    #[arg(long, default_value = "http://127.0.0.1:8080/v1/chat/completions")]
    url: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Stop after this many requests in all.
    #[arg(long, default_value_t = 200_000)]
    max_requests: u64,
    /// Customers to send as (comma-separated ids), round robin.
    #[arg(long)]
    customers: String,
    /// Ask for a streamed (SSE) answer.
    #[arg(long)]
    stream: bool,
    /// The prompt's size in bytes.
    #[arg(long, default_value_t = 1024)]
    body_size: usize,
    /// Append the record id of every whole response here.
    #[arg(long)]
    ack_file: Option<std::path::PathBuf>,
    /// A label printed with the results.
    #[arg(long, default_value = "")]
    label: String,
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let loopback =
        |url: &str| url.starts_with("http://127.") || url.starts_with("http://localhost");
    if !args.url.split(',').all(loopback) {
        return Err("the load generator sends only to loopback addresses".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let customers: Arc<Vec<String>> = Arc::new(
        args.customers
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
    );
    if customers.is_empty() {
        return Err("no customers".into());
    }
    let filler = "x".repeat(args.body_size.saturating_sub(64));
    let body = Bytes::from(format!(
        "{{\"model\":\"echo\",\"stream\":{},\"prompt\":\"{filler}\"}}",
        args.stream
    ));
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.concurrency)
        .build(connector);
    let acks = match &args.ack_file {
        Some(path) => Some(Arc::new(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ))),
        None => None,
    };
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..args.concurrency {
        let (client, customers, body) = (client.clone(), Arc::clone(&customers), body.clone());
        let (sent, errors, acks) = (Arc::clone(&sent), Arc::clone(&errors), acks.clone());
        let urls: Vec<&str> = args.url.split(',').collect();
        let url = urls
            .get(worker % urls.len().max(1))
            .copied()
            .unwrap_or_default()
            .to_owned();
        let max = args.max_requests;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut turn = worker;
            while Instant::now() < deadline && sent.fetch_add(1, Ordering::Relaxed) < max {
                let Some(customer) = customers.get(turn % customers.len()) else {
                    break;
                };
                turn += 1;
                let request = http::Request::post(&url)
                    .header("x-customer", customer.as_str())
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()));
                let Ok(request) = request else { break };
                let began = Instant::now();
                let outcome = async {
                    let response = client.request(request).await?;
                    let ok = response.status().is_success();
                    let record = response.headers().get("steward-record").cloned();
                    response.into_body().collect().await?;
                    Ok::<_, BoxError>((ok, record))
                }
                .await;
                let elapsed = began.elapsed();
                match outcome {
                    Ok((true, record)) => {
                        latencies.push(elapsed);
                        if let (Some(acks), Some(record)) = (&acks, record)
                            && let Ok(mut file) = acks.lock()
                        {
                            let _ = writeln!(file, "{}", record.to_str().unwrap_or(""));
                        }
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies
            .get(index.min(latencies.len() - 1))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let line = json!({
        "label": args.label,
        "concurrency": args.concurrency,
        "requests": latencies.len(),
        "errors": errors.load(Ordering::Relaxed),
        "rps": (latencies.len() as f64 / elapsed).round(),
        "p50_ms": (at(0.50) * 1000.0).round() / 1000.0,
        "p99_ms": (at(0.99) * 1000.0).round() / 1000.0,
        "max_ms": (at(1.0) * 1000.0).round() / 1000.0,
    });
    println!("{line}");
    Ok(())
}
