//! Benchmarks of Steward; the bench targets live in `benches/benches/` and are run with
//! `cargo bench -p steward-benches`. Results and how to read them: `docs/benchmarks.md`.

#![forbid(unsafe_code)]
