//! The response body the layer returns: the inner body passed through frame by frame, with
//! its record sealed when it ends or when it is dropped.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use steward::logs::BoxError;

use crate::{BodyError, Ending, Exchange, LogFuture, RequestLog, Truncation};

/// The body of every response that passes the layer.
///
/// - A logged response streams the inner body through unchanged and captures it (up to the
///   layer's capture limit). When the inner body ends, the exchange is logged and the end of
///   the stream is held back until the record is durable: a client that saw the whole
///   response knows its record exists. A response of known length holds back its last
///   bytes instead (a client that has them all would not wait for the end).
/// - Dropped before its end (the client disconnected), it logs what was sent so far, marked
///   [`Ending::ClientGone`].
/// - A refusal of the layer is a short text body; a response on a route that proxies
///   unlogged passes through untouched.
pub struct StewardBody<B> {
    state: State<B>,
}

enum State<B> {
    Text(Option<Bytes>),
    Unlogged(Pin<Box<B>>),
    Logged(Box<Logged<B>>),
}

struct Logged<B> {
    inner: Pin<Box<B>>,
    sink: Arc<dyn RequestLog>,
    /// Taken when the log starts: still here on drop means nobody logged it yet.
    exchange: Option<Exchange>,
    status: http::StatusCode,
    capture: Vec<u8>,
    capture_limit: usize,
    truncated: Truncation,
    /// The response's length, when the inner body tells it exactly.
    expected: Option<u64>,
    seen: u64,
    /// The last frame, held back until the record is durable.
    held: Option<Frame<Bytes>>,
    pending: Option<LogFuture>,
    phase: Phase,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Streaming,
    Logging,
    Releasing,
    Done,
}

impl<B> StewardBody<B> {
    pub(crate) fn text(text: String) -> Self {
        Self {
            state: State::Text(Some(Bytes::from(text))),
        }
    }

    pub(crate) fn unlogged(inner: B) -> Self {
        Self {
            state: State::Unlogged(Box::pin(inner)),
        }
    }

    pub(crate) fn logged(
        inner: B,
        sink: Arc<dyn RequestLog>,
        exchange: Exchange,
        status: http::StatusCode,
        capture_limit: usize,
    ) -> Self
    where
        B: Body,
    {
        let expected = inner.size_hint().exact();
        let capacity = expected
            .and_then(|len| usize::try_from(len).ok())
            .unwrap_or(0)
            .min(capture_limit);
        Self {
            state: State::Logged(Box::new(Logged {
                inner: Box::pin(inner),
                sink,
                exchange: Some(exchange),
                status,
                capture: Vec::with_capacity(capacity),
                capture_limit,
                truncated: Truncation::Whole,
                expected,
                seen: 0,
                held: None,
                pending: None,
                phase: Phase::Streaming,
            })),
        }
    }
}

impl<B> Logged<B> {
    fn capture(&mut self, data: &Bytes) {
        let room = self.capture_limit.saturating_sub(self.capture.len());
        if data.len() > room {
            self.truncated = Truncation::Truncated;
        }
        self.capture
            .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        self.seen = self
            .seen
            .saturating_add(u64::try_from(data.len()).unwrap_or(u64::MAX));
    }

    fn finished_exchange(&mut self, ending: Ending) -> Option<Exchange> {
        let exchange = self.exchange.take()?;
        let body = Bytes::from(std::mem::take(&mut self.capture));
        Some(exchange.with_response(Some(self.status), body, self.truncated, ending))
    }

    fn start_log(&mut self) {
        if let Some(exchange) = self.finished_exchange(Ending::Complete) {
            self.pending = Some(self.sink.log(exchange));
        }
        self.phase = Phase::Logging;
    }
}

impl<B> Body for StewardBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.get_mut().state {
            State::Text(text) => Poll::Ready(text.take().map(|text| Ok(Frame::data(text)))),
            State::Unlogged(inner) => inner
                .as_mut()
                .poll_frame(cx)
                .map_err(|error| BodyError::Upstream(error.into())),
            State::Logged(logged) => poll_logged(logged, cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            State::Text(text) => text.is_none(),
            State::Unlogged(inner) => inner.is_end_stream(),
            State::Logged(logged) => logged.phase == Phase::Done,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            State::Text(text) => {
                SizeHint::with_exact(text.as_ref().map_or(0, |text| text.len() as u64))
            }
            State::Unlogged(inner) => inner.size_hint(),
            State::Logged(logged) => logged.inner.size_hint(),
        }
    }
}

fn poll_logged<B>(
    logged: &mut Logged<B>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame<Bytes>, BodyError>>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    loop {
        match logged.phase {
            Phase::Done => return Poll::Ready(None),
            Phase::Releasing => {
                return match logged.held.take() {
                    Some(frame) => Poll::Ready(Some(Ok(frame))),
                    None => {
                        logged.phase = Phase::Done;
                        Poll::Ready(None)
                    }
                };
            }
            Phase::Logging => {
                let Some(pending) = logged.pending.as_mut() else {
                    logged.phase = Phase::Releasing;
                    continue;
                };
                match Pin::new(pending).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(_)) => {
                        logged.pending = None;
                        logged.phase = Phase::Releasing;
                    }
                    Poll::Ready(Err(error)) => {
                        crate::observe::log_failed();
                        logged.pending = None;
                        logged.held = None;
                        logged.phase = Phase::Done;
                        return Poll::Ready(Some(Err(BodyError::NotLogged(error))));
                    }
                }
            }
            Phase::Streaming => match logged.inner.as_mut().poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => logged.start_log(),
                Poll::Ready(Some(Ok(frame))) => {
                    let Some(data) = frame.data_ref() else {
                        // Trailers come last: hold them until the record is durable.
                        logged.held = Some(frame);
                        logged.start_log();
                        continue;
                    };
                    logged.capture(data);
                    if logged
                        .expected
                        .is_some_and(|expected| logged.seen >= expected)
                    {
                        logged.held = Some(frame);
                        logged.start_log();
                        continue;
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Poll::Ready(Some(Err(error))) => {
                    if let Some(exchange) = logged.finished_exchange(Ending::UpstreamFailed) {
                        logged.sink.log_detached(exchange);
                    }
                    logged.phase = Phase::Done;
                    return Poll::Ready(Some(Err(BodyError::Upstream(error.into()))));
                }
            },
        }
    }
}

impl<B> Drop for StewardBody<B> {
    fn drop(&mut self) {
        if let State::Logged(logged) = &mut self.state {
            // The client went away before the end (or a server dropped the body): what was
            // sent is still a request that passed the proxy (logs.stored).
            if let Some(exchange) = logged.finished_exchange(Ending::ClientGone) {
                logged.sink.log_detached(exchange);
            }
        }
    }
}

impl<B> fmt::Debug for StewardBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Text(_) => "text",
            State::Unlogged(_) => "unlogged",
            State::Logged(_) => "logged",
        };
        f.debug_struct("StewardBody")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
