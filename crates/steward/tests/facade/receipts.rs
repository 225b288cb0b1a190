//! Signed consent receipts (docs/receipts.md): verified offline with the public key alone,
//! and any change to what was signed, or the wrong key, fails with an error naming why.

use proptest::prelude::*;
use steward::logs::{ChainHash, ReceiptSigner};
use steward::{consent::*, *};

use crate::common::*;

fn signer() -> ReceiptSigner {
    ReceiptSigner::from_pkcs8(&ReceiptSigner::generate_pkcs8().unwrap()).unwrap()
}

/// Alice's receipts: an opt-in to `level` by the customer, then a withdrawal by an admin.
fn receipts(level: TrainingLevel, channel: Channel) -> Vec<ConsentReceipt> {
    let policy = Policy::coder_model();
    let mut ledger = ConsentLedger::new(policy.known_versions().clone());
    let first = ConsentChange::new(
        alice(),
        level,
        at("2025-03-01T00:00:00Z"),
        ConsentActor::Customer,
        channel,
        policy.version().clone(),
    );
    let second = ConsentChange::new(
        alice(),
        TrainingLevel::None,
        at("2025-04-01T00:00:00Z"),
        ConsentActor::Admin {
            admin: admin(),
            basis: "SUP-12 customer asked by mail".parse().unwrap(),
        },
        Channel::SupportRequest,
        policy.version().clone(),
    );
    vec![
        ledger.record(first, at("2025-03-01T00:00:00Z")).unwrap(),
        ledger.record(second, at("2025-04-01T00:00:00Z")).unwrap(),
    ]
}

fn signed(receipt: &ConsentReceipt, signer: &ReceiptSigner) -> serde_json::Value {
    let position = FactLogPosition::new(7, ChainHash::from_bytes([0xab; 32]));
    let document = SignedConsentReceipt::sign(
        receipt.clone(),
        Some(position),
        at("2025-06-01T12:00:00Z"),
        signer,
    )
    .unwrap()
    .to_json()
    .unwrap();
    serde_json::from_str(&document).unwrap()
}

#[test]
fn a_signed_receipt_names_every_field_and_verifies_with_the_public_key_alone() {
    let signer = signer();
    let receipts = receipts(TrainingLevel::Shared, Channel::AccountSettings);
    let documents: Vec<_> = receipts.iter().map(|r| signed(r, &signer)).collect();
    let first = &documents[0];
    assert_eq!(first["format"], "steward-consent-receipt");
    assert_eq!(first["version"], 1);
    assert_eq!(first["key_id"], signer.public_key().key_id().to_string());
    assert_eq!(first["issued_at"], "2025-06-01T12:00:00Z");
    assert_eq!(first["fact_log"]["entry"], 7);
    assert_eq!(first["receipt"]["customer"], ALICE);
    assert_eq!(first["receipt"]["level"], "shared");
    assert_eq!(first["receipt"]["previous_level"], "none");
    assert_eq!(first["receipt"]["effective"], "2025-03-01T00:00:00Z");
    assert_eq!(first["receipt"]["recorded_at"], "2025-03-01T00:00:00Z");
    assert_eq!(first["receipt"]["channel"], "account-settings");
    assert_eq!(first["receipt"]["policy_version"], "2025-03-05");
    assert_eq!(first["signature"].as_str().unwrap().len(), 128);

    let file = serde_json::to_string_pretty(&documents).unwrap();
    let public = signer.public_key().to_hex().parse().unwrap();
    assert_eq!(verify_consent_receipts(&file, &public).unwrap(), receipts);
    let one = serde_json::to_string(first).unwrap();
    assert_eq!(
        verify_consent_receipts(&one, &public).unwrap(),
        receipts[..1]
    );
}

#[test]
fn a_receipt_verified_against_another_key_names_both_keys() {
    let (signer, other) = (signer(), signer());
    let receipt = &receipts(TrainingLevel::Private, Channel::Api)[0];
    let text = signed(receipt, &signer).to_string();
    let error = verify_consent_receipts(&text, &other.public_key()).unwrap_err();
    assert!(
        matches!(error, ReceiptError::KeyMismatch { .. }),
        "{error:?}"
    );
    assert!(error.is_not_authentic());
    let message = error.to_string();
    assert!(
        message.contains(&signer.public_key().key_id().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&other.public_key().key_id().to_string()),
        "{message}"
    );
    // A key id changed to the other key's does not help: the signature covers it.
    let mut forged = signed(receipt, &signer);
    forged["key_id"] = other.public_key().key_id().to_string().into();
    let error = verify_consent_receipts(&forged.to_string(), &other.public_key()).unwrap_err();
    assert!(matches!(error, ReceiptError::BadSignature), "{error:?}");
}

#[test]
fn unknown_versions_formats_and_malformed_documents_are_named() {
    let signer = signer();
    let receipt = &receipts(TrainingLevel::Private, Channel::Api)[0];
    let key = signer.public_key();
    let mut document = signed(receipt, &signer);
    document["version"] = 2.into();
    let error = verify_consent_receipts(&document.to_string(), &key).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown consent receipt version `2`: this build reads version 1"
    );
    let mut document = signed(receipt, &signer);
    document["format"] = "kantara-cr-1.1".into();
    let error = verify_consent_receipts(&document.to_string(), &key).unwrap_err();
    assert!(
        matches!(error, ReceiptError::UnknownFormat { .. }),
        "{error:?}"
    );
    let mut document = signed(receipt, &signer);
    document["extra"] = true.into();
    let error = verify_consent_receipts(&document.to_string(), &key).unwrap_err();
    assert!(matches!(error, ReceiptError::Malformed { .. }), "{error:?}");
    assert!(error.to_string().contains("extra"), "{error}");
    let mut document = signed(receipt, &signer);
    document["signature"] = "00".into();
    let error = verify_consent_receipts(&document.to_string(), &key).unwrap_err();
    assert!(error.to_string().contains("`signature`"), "{error}");
    for text in ["", "[]", "{", "42", "\"receipt\""] {
        let error = verify_consent_receipts(text, &key).unwrap_err();
        assert!(!error.is_not_authentic(), "{text}: {error}");
    }
    // In a file of several, the failing one is named by its position.
    let good = signed(receipt, &signer);
    let mut bad = good.clone();
    bad["receipt"]["level"] = "open-weight".into();
    let file = serde_json::Value::Array(vec![good, bad]).to_string();
    let error = verify_consent_receipts(&file, &key).unwrap_err();
    assert!(
        matches!(error, ReceiptError::InFile { index: 1, .. }),
        "{error:?}"
    );
    assert!(error.is_not_authentic());
}

/// The fields of a signed receipt, with a value of the right shape to put in each.
fn changes() -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    vec![
        ("/issued_at", json!("2025-06-01T12:00:01Z")),
        ("/fact_log/entry", json!(8)),
        ("/fact_log/hash", json!("cd".repeat(32))),
        ("/receipt/receipt", json!(9)),
        ("/receipt/customer", json!(BOB)),
        ("/receipt/level", json!("open-weight")),
        ("/receipt/level", json!("none")),
        ("/receipt/previous_level", json!("shared")),
        ("/receipt/recorded_at", json!("2025-02-28T00:00:00Z")),
        ("/receipt/effective", json!("2025-03-02T00:00:00Z")),
        ("/receipt/channel", json!("support-request")),
        ("/receipt/channel", json!("api")),
        ("/receipt/policy_version", json!("2024-01-01")),
    ]
}

/// Alice's interactive-features opt-in.
fn interactive_receipt() -> InteractiveReceipt {
    let policy = Policy::coder_model();
    let mut ledger = InteractiveLedger::new(policy.known_versions().clone());
    let change = InteractiveChange::new(
        alice(),
        InteractiveChoice::OptedIn,
        at("2025-03-02T00:00:00Z"),
        ConsentActor::Customer,
        Channel::Api,
        policy.version().clone(),
    );
    ledger.record(change, at("2025-03-02T00:00:00Z")).unwrap()
}

#[test]
fn interactive_receipts_are_signed_as_their_own_kind_and_verify_beside_consent_ones() {
    let signer = signer();
    let consent = receipts(TrainingLevel::Shared, Channel::AccountSettings);
    let interactive = interactive_receipt();
    let position = FactLogPosition::new(8, ChainHash::from_bytes([0xcd; 32]));
    let document = SignedInteractiveReceipt::sign(
        interactive.clone(),
        Some(position),
        at("2025-06-01T12:00:00Z"),
        &signer,
    )
    .unwrap()
    .to_json()
    .unwrap();
    let value: serde_json::Value = serde_json::from_str(&document).unwrap();
    assert_eq!(value["format"], "steward-interactive-receipt");
    assert_eq!(value["receipt"]["choice"], "opted-in");
    assert_eq!(value["receipt"]["previous_choice"], "opted-out");
    assert_eq!(value["fact_log"]["entry"], 8);

    // A file of both kinds verifies to both, in order, each as its kind.
    let file = serde_json::to_string(&[signed(&consent[0], &signer), value.clone()]).unwrap();
    let public = signer.public_key();
    assert_eq!(
        verify_receipts(&file, &public).unwrap(),
        [
            CustomerReceipt::Consent(consent[0].clone()),
            CustomerReceipt::Interactive(interactive.clone()),
        ]
    );
    // The consent-only reader refuses the interactive one, naming it.
    let error = verify_consent_receipts(&file, &public).unwrap_err();
    assert!(
        error.to_string().contains("receipt 1 of the file")
            && with_sources(&error).contains("not a steward consent receipt"),
        "{}",
        with_sources(&error)
    );
    // The format is signed: a consent receipt relabelled interactive (or back) fails.
    let mut relabelled = signed(&consent[0], &signer);
    relabelled["format"] = "steward-interactive-receipt".into();
    assert!(verify_receipts(&relabelled.to_string(), &public).is_err());
    let mut relabelled = value;
    relabelled["format"] = "steward-consent-receipt".into();
    assert!(verify_receipts(&relabelled.to_string(), &public).is_err());
    // Signed in one step from either kind, as `steward receipt issue` does.
    let text = CustomerReceipt::Interactive(interactive.clone())
        .sign_to_json(None, at("2025-06-01T12:00:00Z"), &signer)
        .unwrap();
    assert_eq!(
        verify_receipts(&text, &public).unwrap(),
        [CustomerReceipt::Interactive(interactive)]
    );
}

proptest! {
    /// Any change to a signed receipt's fields fails verification, with an error that says
    /// the receipt is not authentic (never a receipt, never a panic).
    #[test]
    fn any_change_to_a_signed_receipt_fails_verification(
        level in prop::sample::select(LEVELS.to_vec()),
        channel in prop::sample::select(vec![Channel::AccountSettings, Channel::Api, Channel::SupportRequest]),
        which in 0usize..2,
        change in prop::sample::select(changes()),
    ) {
        let signer = signer();
        let receipt = &receipts(level, channel)[which];
        let original = signed(receipt, &signer);
        let mut document = original.clone();
        let (pointer, value) = change;
        *document.pointer_mut(pointer).unwrap() = value;
        prop_assume!(document != original);
        let result = verify_consent_receipts(&document.to_string(), &signer.public_key());
        let error = result.unwrap_err();
        prop_assert!(error.is_not_authentic(), "{}", error);
    }
}
