//! The layer's counters (feature `metrics`): refusals by kind, requests passed unlogged, and
//! responses whose record failed. Labels are fixed kinds, never customers or content.

#[cfg(feature = "metrics")]
pub(crate) fn refused(kind: &'static str) {
    metrics::counter!("steward_layer_refused_total", "kind" => kind).increment(1);
}

#[cfg(not(feature = "metrics"))]
pub(crate) const fn refused(_: &'static str) {}

/// A request passed without a record (a route set to `DangerousProxyUnlogged` while the
/// store was down): the counter an operator alerts on.
#[cfg(feature = "metrics")]
pub(crate) fn unlogged() {
    metrics::counter!("steward_layer_unlogged_total").increment(1);
}

#[cfg(not(feature = "metrics"))]
pub(crate) const fn unlogged() {}

#[cfg(feature = "metrics")]
pub(crate) fn log_failed() {
    metrics::counter!("steward_layer_log_failed_total").increment(1);
}

#[cfg(not(feature = "metrics"))]
pub(crate) const fn log_failed() {}
