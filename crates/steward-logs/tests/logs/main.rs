//! Integration tests of steward-logs through its public API, in one test binary: custody
//! (sealing, keys, the gate and the audit ordering), the audit chain, and the property tests
//! of docs/design.md section 3 (invariants 4, 5, 6, 8 and 9).

mod audit;
mod common;
mod custody;
mod properties;
mod redaction;
mod shared;
