//! steward-store's integration tests, one binary.
//!
//! - `backend`: the conformance suite, mounted once per backend (`on_sqlite`, `on_postgres`):
//!   facts round trip and rebuild, fact-log tampering refused, keys and shreds survive
//!   reopen, records stored, swapped, swept and exported, the audit chain and checkpoints.
//! - `persistence`: what only the embedded store does: schema migration, foreign files, key
//!   checks, a shred final on disk, record scans, corrupt rows, a single audit writer.
//! - `vault`: the facade's vault on the embedded store shared between threads, records
//!   committed in groups, and seals, opens, consent changes and a sweep all at once.
//! - `pg` (feature `postgres`): several vaults on one PostgreSQL database share one key
//!   per customer and version, see each other's shreds, write one audit chain and see each
//!   other's facts within the bound.
//! - `fact_log`: facts rebuilt from the fact log equal the facts that wrote it, and any
//!   single edit, deletion, insertion or reordering of an entry keeps the store from serving.
//! - `instants`: under a clock that jumps forwards and backwards, fact changes are recorded
//!   in order and never backdated, and the vault never decides before the newest fact.
//! - `processes`: a child process (this binary, re-run) serves a vault on the same file as
//!   the test's: each opens the other's new records, sees its customers and consent changes,
//!   and both write one audit chain that verifies.
//! - `crash`: a child process (this binary, re-run) is killed at many points while it seals,
//!   opens, changes consent and shreds; what it was told had happened still holds on reopen.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed setup step must fail the test"
)]

mod backend;
mod common;
mod crash;
mod fact_log;
mod instants;
mod persistence;
#[cfg(feature = "postgres")]
mod pg;
mod processes;
mod vault;
