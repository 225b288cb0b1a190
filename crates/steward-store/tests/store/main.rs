//! steward-store's integration tests, one binary.
//!
//! - `persistence`: every table survives close and reopen, wrong keys and foreign files are
//!   refused at open, a shred is final on disk, the record scans stream in order.
//! - `vault`: the facade's vault on the store survives a restart, shares it between threads,
//!   commits records in groups and sweeps durably.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed setup step must fail the test"
)]

mod common;
mod persistence;
mod vault;
