//! Fuzzes the consent-ledger import (docs/design.md section 3, invariant 9): any text gives a
//! ledger or a typed error, never a panic, and whatever imports exports to a ledger that
//! imports equal (no information is lost in a round trip).

#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_consent::{ConsentLedger, KnownPolicyVersions};
use steward_core::PolicyVersion;

/// The versions the imported ledger knows: the bundled policy's and one later version, so
/// that files naming either import and files naming anything else are refused.
fn known() -> Option<KnownPolicyVersions> {
    let current = PolicyVersion::from_static("2025-03-05")?;
    KnownPolicyVersions::new(current)
        .with(PolicyVersion::from_static("2025-09-01")?)
        .ok()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(known) = known() else {
        return;
    };
    let Ok(ledger) = ConsentLedger::from_json(text, known.clone()) else {
        return;
    };
    let Ok(exported) = ledger.to_json() else {
        return;
    };
    assert_eq!(ConsentLedger::from_json(&exported, known).ok(), Some(ledger));
});
