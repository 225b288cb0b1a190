//! `steward ingest` lines: the properties are `steward_fuzz::targets::ingest_lines`'s
//! (fuzz/src/targets.rs), which `fuzz/tests/replay.rs` also runs over the seeds and regressions.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| steward_fuzz::targets::ingest_lines(data));
