//! The facade's public API, through `use steward::*` only: one test binary (the
//! allocation-counting test keeps its own, since its allocator observes the whole process).
//!
//! - `clauses`: one test per clause of the policy (docs/design.md section 1).
//! - `invariants`: property tests of invariants 1 to 3 against a naive model.
//! - `one_gate`: the vault enforces the same policy and facts as `check()`.
//! - `training_export`: the audited training data path.
//! - `policy_files`: loading and validating policy files.
//! - `subject`: data subject requests, access and erasure (`law.access`, `law.erasure`).
//! - `receipts`: signed consent receipts, verified offline.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed setup step must fail the test"
)]

mod clauses;
mod common;
mod invariants;
mod one_gate;
mod policy_files;
mod receipts;
mod secrets;
mod subject;
mod training_custody;
mod training_export;
