//! Secrets are never needed for any log purpose (docs/design.md, issue 20): `Vault::seal`
//! redacts them before sealing, and what a steward opens carries only the markers.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed setup step must fail the test"
)]

use steward::logs::Redaction;
use steward::redact::SecretKind;
use steward::{logs::*, vocabulary::*, *};

use crate::common::*;

/// A format-valid fake OpenAI legacy key and a connection string's password (never issued).
const KEY: &str = "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";
const PASSWORD: &str = "Zk8pQ2vX9mRt";

#[test]
fn vault_seal_redacts_secrets_so_an_opened_record_holds_only_markers() {
    let policy = Policy::coder_model();
    let vault = vault(&policy);
    let collected = at("2025-06-01T10:00:00Z");
    let body = format!(
        "OPENAI_API_KEY={KEY}\nDATABASE_URL=postgres://app:{PASSWORD}@db:5432/orders\nwhy 401?"
    );
    let sealed = vault
        .seal_counting(
            RecordId::generate_at(collected),
            alice(),
            collected,
            body.as_bytes(),
        )
        .unwrap();
    assert_eq!(sealed.redactions().get(SecretKind::OpenAiKey), 1);
    assert_eq!(sealed.redactions().get(SecretKind::UrlPassword), 1);
    assert!(matches!(
        sealed.record().header().redaction(),
        Redaction::Scanned { .. }
    ));
    let request = AccessRequest::new(steward(), Purpose::Troubleshooting, Some(ticket()));
    let opened = vault.open(sealed.record(), &request).unwrap();
    let text = String::from_utf8(opened.as_bytes().to_vec()).unwrap();
    assert!(!text.contains(KEY) && !text.contains(PASSWORD), "{text}");
    assert!(
        text.starts_with("OPENAI_API_KEY=[REDACTED:openai-key:"),
        "{text}"
    );
    assert!(
        text.contains("postgres://app:[REDACTED:url-password:"),
        "{text}"
    );
    assert!(text.ends_with("]@db:5432/orders\nwhy 401?"), "{text}");

    // Vault::seal redacts the same way.
    let again = vault
        .seal(
            RecordId::generate_at(collected),
            alice(),
            collected,
            body.as_bytes(),
        )
        .unwrap();
    let reopened = vault.open(&again, &request).unwrap();
    assert_eq!(reopened.as_bytes(), opened.as_bytes());
}
