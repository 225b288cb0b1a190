//! Fuzzes the consent-ledger import (DESIGN.md section 3, invariant 9): any text gives a
//! ledger or a typed error, never a panic, and whatever imports exports to a ledger that
//! imports equal (no information is lost in a round trip).

#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_consent::ConsentLedger;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(ledger) = ConsentLedger::from_json(text) else {
        return;
    };
    let Ok(exported) = ledger.to_json() else {
        return;
    };
    assert_eq!(ConsentLedger::from_json(&exported).ok(), Some(ledger));
});
