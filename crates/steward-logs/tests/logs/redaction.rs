//! Secrets are redacted before sealing, by default (issue 20; docs/design.md: secrets are never
//! needed for any log purpose), and the header says so.

use steward_logs::{AuditKey, Redaction, SealConfig, SecretRedaction};
use steward_redact::{RuleSetVersion, SecretKind};

use crate::common::{TestResult, allow, custody, custody_with, customer, instant, meta, request};

/// A format-valid fake GitHub token (never issued).
const TOKEN: &str = "ghp_R8u2kFq7ZcW1mN4pT6yV9bX3sD5gH0jL2aQe";

fn body() -> String {
    format!("my build fails with GITHUB_TOKEN={TOKEN}, why?")
}

#[test]
fn sealing_redacts_secrets_by_default_and_the_header_names_the_rule_set() -> TestResult {
    let custody = custody()?;
    let sealed = custody.seal_counting(&meta(customer(1)?, instant(10)?)?, body().as_bytes())?;
    assert_eq!(sealed.redactions().get(SecretKind::GithubToken), 1);
    assert_eq!(sealed.redactions().total(), 1);
    let record = sealed.into_record();
    assert_eq!(
        record.header().redaction(),
        Redaction::Scanned {
            rule_set: RuleSetVersion::new(1)?
        }
    );
    assert_eq!(record.header().format_version(), 2);
    let opened = custody.dangerous_open_with_gate(&record, &request()?, allow)?;
    let text = std::str::from_utf8(opened.as_bytes())?;
    let fingerprint = AuditKey::from_bytes(&crate::common::AUDIT_KEY)?
        .redaction_key()
        .fingerprint(TOKEN.as_bytes());
    assert_eq!(
        text,
        format!("my build fails with GITHUB_TOKEN=[REDACTED:github-token:{fingerprint}], why?")
    );
    assert_eq!(opened.header().redaction(), record.header().redaction());
    Ok(())
}

#[test]
fn a_secret_free_body_is_sealed_as_given_and_still_marked_scanned() -> TestResult {
    let custody = custody()?;
    let sealed = custody.seal_counting(&meta(customer(2)?, instant(10)?)?, b"fix my build")?;
    assert!(sealed.redactions().is_empty());
    assert!(matches!(
        sealed.record().header().redaction(),
        Redaction::Scanned { .. }
    ));
    let opened = custody.dangerous_open_with_gate(sealed.record(), &request()?, allow)?;
    assert_eq!(opened.as_bytes(), b"fix my build");
    Ok(())
}

#[test]
fn dangerous_keep_secrets_seals_bodies_as_given_and_the_header_says_not_scanned() -> TestResult {
    let config = SealConfig::default().with_secret_redaction(SecretRedaction::DangerousKeepSecrets);
    let custody = custody_with(config)?;
    let sealed = custody.seal_counting(&meta(customer(3)?, instant(10)?)?, body().as_bytes())?;
    assert!(sealed.redactions().is_empty());
    assert_eq!(sealed.record().header().redaction(), Redaction::NotScanned);
    let opened = custody.dangerous_open_with_gate(sealed.record(), &request()?, allow)?;
    assert_eq!(opened.as_bytes(), body().as_bytes());
    Ok(())
}

#[test]
fn two_requests_with_the_same_secret_carry_the_same_marker() -> TestResult {
    let custody = custody()?;
    let request = request()?;
    let mut markers = Vec::new();
    for (n, text) in [format!("token {TOKEN}"), format!("again: {TOKEN}!")]
        .iter()
        .enumerate()
    {
        let record = custody.seal(
            &meta(customer(4)?, instant(10 + i64::try_from(n)?)?)?,
            text.as_bytes(),
        )?;
        let opened = custody.dangerous_open_with_gate(&record, &request, allow)?;
        let text = String::from_utf8(opened.as_bytes().to_vec())?;
        let start = text.find("[REDACTED:").ok_or("no marker")?;
        let end = start
            + text
                .get(start..)
                .and_then(|t| t.find(']'))
                .ok_or("no end")?;
        markers.push(text.get(start..=end).ok_or("no marker")?.to_owned());
    }
    assert_eq!(markers.first(), markers.get(1));
    Ok(())
}

#[test]
fn the_redaction_key_is_derived_from_the_audit_key_and_never_shown() -> TestResult {
    let key = AuditKey::from_bytes(b"steward test key 17, not secret!")?.redaction_key();
    let other = AuditKey::from_bytes(b"steward test key 18, not secret!")?.redaction_key();
    assert_ne!(key.fingerprint(b"hunter2"), other.fingerprint(b"hunter2"));
    // Not the fact log key either: a fingerprint is never a chain hash.
    assert_eq!(
        format!("{key:?}"),
        "FingerprintKey { algorithm: \"HMAC-SHA256\", .. }"
    );
    Ok(())
}
