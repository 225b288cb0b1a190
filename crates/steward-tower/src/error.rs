//! Why the layer answered instead of the inner service, and why a response body broke off.

use http::StatusCode;
use steward::logs::BoxError;

use crate::{Refusal, SinkError};

/// Why the layer refused a request itself: each has its own status, and the response body
/// is this error's text with its causes (`refused: ...`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// The resolver could not name the request's customer: 401.
    #[error("the request names no customer")]
    UnknownCustomer(#[source] BoxError),
    /// The policy refuses to log this customer's request, so it does not pass: 403.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// The request body is larger than the layer buffers: 413.
    #[error("the request body is over the limit of {limit} bytes")]
    BodyTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The request body could not be read: 400.
    #[error("the request body could not be read")]
    BodyUnreadable(#[source] BoxError),
    /// The log store cannot take the record, and the route fails closed: 503.
    #[error("the request cannot be logged, so it is not proxied")]
    StoreUnavailable(#[source] SinkError),
}

impl LayerError {
    /// The status the layer answers with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnknownCustomer(_) => StatusCode::UNAUTHORIZED,
            Self::Refused(_) => StatusCode::FORBIDDEN,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyUnreadable(_) => StatusCode::BAD_REQUEST,
            Self::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A short name for the `steward-error` response header and for metrics labels.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::UnknownCustomer(_) => "unknown-customer",
            Self::Refused(_) => "refused",
            Self::BodyTooLarge { .. } => "body-too-large",
            Self::BodyUnreadable(_) => "body-unreadable",
            Self::StoreUnavailable(_) => "store-unavailable",
        }
    }

    /// Whether the policy refused (rather than the request or the store being at fault).
    #[must_use]
    pub const fn is_refused(&self) -> bool {
        matches!(self, Self::Refused(_))
    }

    /// The response body: this error and its causes, one line.
    #[must_use]
    pub fn text(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text.push('\n');
        text
    }
}

/// Why a logged response body stopped: the client sees its stream end with this error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The upstream's body failed (the partial response is logged).
    #[error("the upstream response broke off")]
    Upstream(#[source] BoxError),
    /// The response ended, but its record could not be stored, so the end is withheld from
    /// the client (fail closed: no acknowledged response without its record).
    #[error("the response could not be logged")]
    NotLogged(#[source] SinkError),
}
