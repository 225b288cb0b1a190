//! steward-store's integration tests, one binary.
//!
//! - `persistence`: every table survives close and reopen, wrong keys and foreign files are
//!   refused at open, a shred is final on disk, the record scans stream in order.
//! - `vault`: the facade's vault on the store survives a restart, shares it between threads,
//!   commits records in groups and sweeps durably.
//! - `pg` (feature `postgres`): several vaults on one PostgreSQL database share one key
//!   per customer and version, see each other's shreds, write one audit chain and see each
//!   other's facts within the bound.
//! - `fact_log`: facts rebuilt from the fact log equal the facts that wrote it, and any
//!   single edit, deletion, insertion or reordering of an entry keeps the store from serving.
//! - `processes`: a child process (this binary, re-run) serves a vault on the same file as
//!   the test's: each opens the other's new records, sees its customers and consent changes,
//!   and both write one audit chain that verifies.
//! - `crash`: a child process (this binary, re-run) is killed at many points while it seals,
//!   opens, changes consent and shreds; what it was told had happened still holds on reopen.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed setup step must fail the test"
)]

mod common;
mod crash;
mod fact_log;
mod persistence;
#[cfg(feature = "postgres")]
mod pg;
mod processes;
mod vault;
