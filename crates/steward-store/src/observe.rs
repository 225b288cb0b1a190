//! Metrics and spans of the store (features `metrics` and `tracing`, off by default): without
//! them every function here is empty and inlined away. Labels are static words (a clause, an
//! outcome): never a customer, record id or body. docs/operations.md lists the names.

use steward_core::ClauseId;

/// Counts an entry the policy refused to log, by decisive clause.
#[inline]
pub(crate) fn ingest_refused(clause: ClauseId) {
    #[cfg(feature = "metrics")]
    metrics::counter!("steward_ingest_refused_total", "clause" => clause.as_str()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = clause;
}

/// Records how many sealed records wait for the writer.
#[inline]
pub(crate) fn ingest_queue_depth(depth: usize) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("steward_ingest_queue_depth").set(depth as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = depth;
}

/// A clock for a commit's latency (only read with the feature `metrics`).
pub(crate) struct Timer {
    #[cfg(feature = "metrics")]
    started: std::time::Instant,
}

/// Starts timing a commit.
#[inline]
pub(crate) fn timer() -> Timer {
    Timer {
        #[cfg(feature = "metrics")]
        started: std::time::Instant::now(),
    }
}

/// Records one batch: its size, how long it took to commit, and its records by outcome.
#[inline]
pub(crate) fn ingest_batch(timer: &Timer, size: usize, committed: u64, failed: u64) {
    #[cfg(feature = "metrics")]
    {
        metrics::histogram!("steward_ingest_batch_size").record(size as f64);
        metrics::histogram!("steward_ingest_commit_seconds")
            .record(timer.started.elapsed().as_secs_f64());
        metrics::counter!("steward_ingest_records_total", "outcome" => "committed")
            .increment(committed);
        if failed > 0 {
            metrics::counter!("steward_ingest_records_total", "outcome" => "failed")
                .increment(failed);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (timer, size, committed, failed);
}

/// Counts one record the sweep deleted, or refused to delete (`held`).
#[inline]
pub(crate) fn sweep_record(outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("steward_sweep_records_total", "outcome" => outcome).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// A span entered until the guard drops (with the feature `tracing`), or nothing.
#[cfg(feature = "tracing")]
pub(crate) type Entered = tracing::span::EnteredSpan;

/// Without the feature `tracing`: nothing.
#[cfg(not(feature = "tracing"))]
pub(crate) struct Entered;

/// The span of one batch commit: its size only.
#[inline]
pub(crate) fn commit_span(batch: usize) -> Entered {
    #[cfg(feature = "tracing")]
    {
        tracing::info_span!("steward.ingest.commit", batch).entered()
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = batch;
        Entered
    }
}

/// The span of one record deletion by the sweep.
#[inline]
pub(crate) fn sweep_span() -> Entered {
    #[cfg(feature = "tracing")]
    {
        tracing::debug_span!("steward.sweep.delete").entered()
    }
    #[cfg(not(feature = "tracing"))]
    {
        Entered
    }
}
