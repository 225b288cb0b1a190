//! [`IngestLog`]: the layer's sink over `steward-store`'s batched [`Ingest`] handle
//! (feature `ingest`).

use std::{fmt, sync::Arc};

use steward::{
    DenyReason, RosterFacts, Vault,
    logs::AuditStore,
    vocabulary::{CustomerId, Timestamp},
};
use steward_store::{Ingest, IngestError, LogEntry};

use crate::{Admission, Exchange, LogFuture, Refusal, RequestLog, SinkError, admission};

/// The layer's sink over an [`Ingest`] handle: admission from the vault's facts in memory,
/// each exchange sealed on the caller's task and committed in batches; [`RequestLog::log`]
/// resolves when the handle acknowledges (once durable, by default).
///
/// A client that disconnected is logged with [`Ingest::try_log`] (queued at once, its
/// commit not awaited); when the queue is full, a short-lived thread waits for room with
/// [`Ingest::log_blocking`], so that the record is neither dropped nor blocks the server's
/// async workers.
///
/// ```
/// use std::sync::Arc;
///
/// use steward::{Policy, vocabulary::Timestamp};
/// use steward_store::{Ingest, IngestConfig, SqliteStore, StoreKeys, open_vault};
/// use steward_tower::{IngestLog, RequestLog, StewardLayer};
///
/// # let dir = std::env::temp_dir().join(format!("steward-tower-ingest-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let keys = StoreKeys::new("kek-1".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
/// let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
/// let vault = Arc::new(open_vault(&store, &keys, Policy::coder_model())?);
/// let ingest = Ingest::sqlite(Arc::clone(&vault), store, IngestConfig::default())?;
/// let sink: Arc<dyn RequestLog> = Arc::new(IngestLog::new(ingest.clone(), vault));
/// let layer = StewardLayer::new(sink, |parts: &http::request::Parts| {
///     Ok::<_, steward::logs::BoxError>(parts.headers.get("x-customer").ok_or("no customer")?.to_str()?.parse()?)
/// });
/// # drop(layer);
/// // At shutdown, after the server has stopped: commit what is queued.
/// let report = ingest.shutdown_blocking();
/// assert_eq!(report.failed(), 0);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct IngestLog<F, S> {
    ingest: Ingest,
    vault: Arc<Vault<F, S>>,
}

impl<F, S> IngestLog<F, S> {
    /// A sink logging through `ingest`, admitting over the facts of `vault` (the vault the
    /// handle seals with).
    #[must_use]
    pub const fn new(ingest: Ingest, vault: Arc<Vault<F, S>>) -> Self {
        Self { ingest, vault }
    }

    /// The handle.
    #[must_use]
    pub const fn ingest(&self) -> &Ingest {
        &self.ingest
    }
}

fn entry(exchange: &Exchange) -> LogEntry {
    LogEntry::new(exchange.customer(), exchange.at(), exchange.document())
        .with_record_id(exchange.record())
}

fn sink_error(error: IngestError) -> SinkError {
    match error {
        IngestError::Refused { decision } => SinkError::Refused(Refusal::new(
            decision.decisive(),
            decision.reason().unwrap_or(DenyReason::RetentionEnded),
        )),
        IngestError::ShutDown => SinkError::Closed,
        other => SinkError::Unavailable(other.into()),
    }
}

impl<F, S> RequestLog for IngestLog<F, S>
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
        // `log` checks and seals now; the queueing happens when polled, which the layer
        // does at once.
        let logging = self.ingest.log(entry(&exchange));
        LogFuture::new(async move {
            logging
                .await
                .map(|logged| logged.record())
                .map_err(sink_error)
        })
    }

    fn log_detached(&self, exchange: Exchange) {
        match self.ingest.try_log(entry(&exchange)) {
            // Queued: the writer commits it; nobody waits for the answer.
            Ok(queued) => drop(queued),
            Err(IngestError::QueueFull { .. }) => {
                let ingest = self.ingest.clone();
                let entry = entry(&exchange);
                // A full queue drains within a batch's commit: wait for room off the
                // server's workers. If no thread can be started the record is lost, and
                // that is the only way it can be.
                let _ = std::thread::Builder::new()
                    .name("steward-detached-log".into())
                    .spawn(move || ingest.log_blocking(entry));
            }
            // Refused, shut down or unsealable: there is nobody to tell; the handle's
            // reports and metrics count it.
            Err(_) => {}
        }
    }
}

impl<F, S> fmt::Debug for IngestLog<F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IngestLog")
            .field("ingest", &self.ingest)
            .finish_non_exhaustive()
    }
}
