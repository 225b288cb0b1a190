//! Fuzzes the policy-file loader (docs/design.md section 3, invariant 9): any text, read as TOML
//! or as JSON, gives a policy or a typed error naming the file, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use steward::{Policy, PolicyError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for result in [
        Policy::from_toml_str(text, "fuzz.toml"),
        Policy::from_json_str(text, "fuzz.json"),
    ] {
        if let Err(error) = result {
            assert!(matches!(
                error,
                PolicyError::Malformed { .. } | PolicyError::Invalid { .. }
            ));
            assert!(error.to_string().starts_with("policy file `fuzz."));
        }
    }
});
