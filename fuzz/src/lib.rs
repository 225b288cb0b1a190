//! The harnesses and properties of the fuzz targets (docs/fuzzing.md).
//!
//! Each target is one function here taking the fuzzer's bytes and asserting properties (round
//! trips, "verifies only if genuine", typed errors), so that the libFuzzer binaries
//! (`fuzz_targets/`), the replay of the seeds and regressions (`tests/replay.rs`, a plain
//! `cargo test`) and the seed writer (`examples/make_seeds.rs`) run the same checks.
//!
//! What is genuine comes from `fixture/`, written by the seed writer under the keys below:
//! the records, keyring, audit chain, checkpoints and fact log that these keys really made.
//! Whatever verifies under the keys must be one of them (or a prefix of the chain).

#![forbid(unsafe_code)]

pub mod fixture;
pub mod targets;

pub use targets::TARGETS;
