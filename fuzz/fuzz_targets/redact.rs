//! Fuzzes the secret scanner (issue 20): arbitrary bytes, UTF-8 or not, must be scanned without
//! panicking; the output is never longer than `redacted_len_bound` of the input, and redacting
//! it again changes nothing.

#![no_main]

use libfuzzer_sys::fuzz_target;
use steward_redact::{FingerprintKey, MAX_MARKER_LEN, Redactor, Scanner, redacted_len_bound};

fuzz_target!(|data: &[u8]| {
    let Ok(scanner) = Scanner::standard() else {
        return;
    };
    let key = FingerprintKey::from_bytes(&[0x5a; 32]);
    let redacted = scanner.redact(data, &key);
    assert!(redacted.body().len() <= redacted_len_bound(data.len()).max(data.len()));
    let total = usize::try_from(redacted.counts().total()).unwrap_or(usize::MAX);
    assert!(redacted.body().len() <= data.len().saturating_add(total.saturating_mul(MAX_MARKER_LEN)));
    assert!(
        scanner.redact(redacted.body(), &key).is_unchanged(),
        "redacting a redacted body changed it"
    );
});
