//! A local stand-in for an LLM API, for the example proxy and its load test: `POST
//! /v1/chat/completions` answers with a short JSON completion echoing the request's size, or,
//! when the body asks for `"stream":true`, with server-sent events (a few tokens, then
//! `[DONE]`), as LLM APIs stream. No model, no delay: it measures the proxy, not itself.

use std::{convert::Infallible, net::SocketAddr};

use axum::{
    Router,
    body::{Body, Bytes},
    http::header,
    response::{IntoResponse, Response},
    routing::post,
    serve::ListenerExt,
};
use clap::Parser;
use http_body_util::StreamBody;
use hyper::body::Frame;

/// The upstream's arguments.
#[derive(Parser)]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Tokens per streamed answer.
    #[arg(long, default_value_t = 8)]
    tokens: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let tokens = args.tokens;
        let router = Router::new().route(
            "/v1/chat/completions",
            post(move |body: Bytes| async move { complete(&body, tokens) }),
        );
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await?
            // Responses go out in several writes (headers, then the body when the record is
            // durable): without this, Nagle's algorithm holds the second behind a delayed ACK.
            .tap_io(|stream| {
                let _ = stream.set_nodelay(true);
            });
        eprintln!("steward-upstream listening on {}", args.listen);
        axum::serve(listener, router).await?;
        Ok(())
    })
}

fn complete(body: &[u8], tokens: usize) -> Response {
    let streamed = body
        .windows(b"\"stream\":true".len())
        .any(|window| window == b"\"stream\":true");
    if !streamed {
        let answer = format!(
            "{{\"choices\":[{{\"message\":{{\"role\":\"assistant\",\"content\":\"read {} bytes\"}}}}]}}",
            body.len()
        );
        return ([(header::CONTENT_TYPE, "application/json")], answer).into_response();
    }
    let events = (0..tokens)
        .map(|token| {
            Ok::<_, Infallible>(Frame::data(Bytes::from(format!(
                "data: {{\"choices\":[{{\"delta\":{{\"content\":\"token{token} \"}}}}]}}\n\n"
            ))))
        })
        .chain(std::iter::once(Ok(Frame::data(Bytes::from_static(
            b"data: [DONE]\n\n",
        )))));
    let stream = StreamBody::new(futures_util::stream::iter(events));
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::new(stream),
    )
        .into_response()
}
