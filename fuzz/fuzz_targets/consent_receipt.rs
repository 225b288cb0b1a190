//! Signed consent receipts: the properties are `steward_fuzz::targets::consent_receipt`'s
//! (fuzz/src/targets.rs), which `fuzz/tests/replay.rs` also runs over the seeds and
//! regressions.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| steward_fuzz::targets::consent_receipt(data));
