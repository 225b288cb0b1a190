//! Bad ledger files (invariant 9): each gives a typed error naming what is wrong, and no
//! ledger.

use serde::de::DeserializeSeed;
use steward_consent::{
    Channel, ConsentActor, ConsentChange, ConsentError, ConsentLedger, ConsentLedgerSeed,
    KnownPolicyVersions, TrainingLevel,
};
use steward_core::{CustomerId, Timestamp};

const ALICE: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10";
const BOB: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a11";

fn file(customers: &str) -> String {
    format!(r#"{{"format":"steward-consent-ledger/2","customers":[{customers}]}}"#)
}

/// A change by the customer, recorded at the instant it takes effect.
fn change(receipt: u64, effective: &str, level: &str) -> String {
    change_with(
        receipt,
        effective,
        effective,
        level,
        "customer",
        "2025-03-05",
    )
}

fn change_with(
    receipt: u64,
    recorded_at: &str,
    effective: &str,
    level: &str,
    actor: &str,
    version: &str,
) -> String {
    format!(
        r#"{{"receipt":{receipt},"recorded_at":"{recorded_at}","effective":"{effective}","level":"{level}","actor":"{actor}","channel":"api","policy_version":"{version}"}}"#
    )
}

#[expect(
    clippy::unwrap_used,
    reason = "test fixture: a bad literal must fail the test loudly"
)]
fn known() -> KnownPolicyVersions {
    KnownPolicyVersions::new("2025-03-05".parse().unwrap())
}

fn import(text: &str) -> Result<ConsentLedger, ConsentError> {
    ConsentLedger::from_json(text, known())
}

fn customer(id: &str, changes: &[String]) -> String {
    format!(r#"{{"customer":"{id}","changes":[{}]}}"#, changes.join(","))
}

#[test]
fn well_formed_file_imports() {
    let text = file(&customer(
        ALICE,
        &[
            change(1, "2025-06-01T00:00:00Z", "shared"),
            change(3, "2025-07-01T00:00:00Z", "none"),
        ],
    ));
    let ledger = import(&text).unwrap();
    let alice: CustomerId = ALICE.parse().unwrap();
    let june: Timestamp = "2025-06-15T00:00:00Z".parse().unwrap();
    assert_eq!(ledger.level_at(alice, june), TrainingLevel::Shared);
    assert_eq!(ledger.to_json().unwrap(), text);
}

#[test]
fn imported_ledger_continues_numbering_after_the_highest_receipt() {
    let text = file(&customer(
        ALICE,
        &[change(7, "2025-06-01T00:00:00Z", "shared")],
    ));
    let mut ledger = import(&text).unwrap();
    let june_2: Timestamp = "2025-06-02T00:00:00Z".parse().unwrap();
    let receipt = ledger
        .record(
            ConsentChange::new(
                BOB.parse().unwrap(),
                TrainingLevel::Private,
                june_2,
                ConsentActor::Customer,
                Channel::Api,
                "2025-03-05".parse().unwrap(),
            ),
            june_2,
        )
        .unwrap();
    assert_eq!(receipt.receipt.get(), 8);
}

#[test]
fn unknown_level_in_file_is_named() {
    let text = file(&customer(
        ALICE,
        &[change(1, "2025-06-01T00:00:00Z", "everything")],
    ));
    let error = import(&text).unwrap_err();
    assert!(matches!(error, ConsentError::MalformedLedger { .. }));
    assert!(
        error
            .to_string()
            .contains("unknown training level `everything`"),
        "{error}"
    );
}

#[test]
fn out_of_order_changes_are_located() {
    let text = file(&format!(
        "{},{}",
        customer(BOB, &[change(1, "2025-06-01T00:00:00Z", "shared")]),
        customer(
            ALICE,
            &[
                change(2, "2025-07-01T00:00:00Z", "shared"),
                change(3, "2025-06-01T00:00:00Z", "none"),
            ],
        )
    ));
    let error = import(&text).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid ledger file at `customers[1].changes[1]`: change effective at \
         `2025-06-01T00:00:00Z` is not after the latest change at `2025-07-01T00:00:00Z`"
    );
}

#[test]
fn same_instant_changes_are_rejected() {
    let text = file(&customer(
        ALICE,
        &[
            change(1, "2025-06-01T00:00:00Z", "shared"),
            change(2, "2025-06-01T00:00:00Z", "none"),
        ],
    ));
    let error = import(&text).unwrap_err();
    assert!(matches!(
        error,
        ConsentError::InvalidLedger { ref reason, .. }
            if matches!(**reason, ConsentError::NotAfterLatest { .. })
    ));
}

#[test]
fn receipts_out_of_order_within_a_customer_are_rejected() {
    let text = file(&customer(
        ALICE,
        &[
            change(5, "2025-06-01T00:00:00Z", "shared"),
            change(4, "2025-07-01T00:00:00Z", "none"),
        ],
    ));
    let error = import(&text).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("receipt `4` is not after the previous receipt `5`"),
        "{error}"
    );
}

#[test]
fn duplicate_receipts_across_customers_are_rejected() {
    let text = file(&format!(
        "{},{}",
        customer(ALICE, &[change(1, "2025-06-01T00:00:00Z", "shared")]),
        customer(BOB, &[change(1, "2025-06-02T00:00:00Z", "private")])
    ));
    let error = import(&text).unwrap_err();
    assert_eq!(error, ConsentError::DuplicateReceipt { receipt: 1 });
}

#[test]
fn duplicate_customer_is_located() {
    let text = file(&format!(
        "{},{}",
        customer(ALICE, &[change(1, "2025-06-01T00:00:00Z", "shared")]),
        customer(ALICE, &[change(2, "2025-06-02T00:00:00Z", "private")])
    ));
    let error = import(&text).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid ledger file at `customers[1]`: customer appears more than once"
    );
}

#[test]
fn customer_without_changes_is_rejected() {
    let text = file(&customer(ALICE, &[]));
    let error = import(&text).unwrap_err();
    assert!(
        error.to_string().contains("customer has no changes"),
        "{error}"
    );
}

#[test]
fn other_format_is_rejected_by_name() {
    let text = r#"{"format":"steward-consent-ledger/9","customers":[]}"#;
    let error = import(text).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unsupported ledger format `steward-consent-ledger/9` (expected `steward-consent-ledger/2`)"
    );
}

// Version 1 files have no recording instants and no bases for admin changes, so nothing in
// them could be checked against the rules of version 2: they are refused, by name.
#[test]
fn version_1_file_is_refused_by_name() {
    let text = r#"{"format":"steward-consent-ledger/1","customers":[]}"#;
    assert_eq!(
        import(text).unwrap_err(),
        ConsentError::UnsupportedFormat {
            found: "steward-consent-ledger/1".to_owned(),
            expected: "steward-consent-ledger/2",
        }
    );
}

#[test]
fn truncated_file_is_malformed() {
    let text = file(&customer(
        ALICE,
        &[change(1, "2025-06-01T00:00:00Z", "shared")],
    ));
    let cut = &text[..text.len() / 2];
    assert!(matches!(
        import(cut),
        Err(ConsentError::MalformedLedger { .. })
    ));
}

#[test]
fn unknown_field_is_malformed() {
    let text = r#"{"format":"steward-consent-ledger/2","customers":[],"extra":1}"#;
    let error = import(text).unwrap_err();
    assert!(
        error.to_string().contains("unknown field `extra`"),
        "{error}"
    );
}

#[test]
fn zero_receipt_is_malformed() {
    let text = file(&customer(
        ALICE,
        &[change(0, "2025-06-01T00:00:00Z", "shared")],
    ));
    assert!(matches!(
        import(&text),
        Err(ConsentError::MalformedLedger { .. })
    ));
}

#[test]
fn receipt_beyond_the_ledger_range_is_malformed() {
    let text = file(&customer(
        ALICE,
        &[change(4_294_967_296, "2025-06-01T00:00:00Z", "shared")],
    ));
    assert!(matches!(
        import(&text),
        Err(ConsentError::MalformedLedger { .. })
    ));
}

#[test]
fn receipt_number_the_ledger_never_hands_out_is_rejected() {
    let text = file(&customer(
        ALICE,
        &[change(4_294_967_295, "2025-06-01T00:00:00Z", "shared")],
    ));
    assert_eq!(import(&text).unwrap_err(), ConsentError::ReceiptsExhausted);
}

#[test]
fn serde_deserialize_validates_like_from_json() {
    let text = file(&customer(
        ALICE,
        &[
            change(2, "2025-07-01T00:00:00Z", "shared"),
            change(3, "2025-06-01T00:00:00Z", "none"),
        ],
    ));
    let error = ConsentLedgerSeed::new(known())
        .deserialize(&mut serde_json::Deserializer::from_str(&text))
        .unwrap_err();
    assert!(
        error.to_string().contains("is not after the latest change"),
        "{error}"
    );
}

#[test]
fn ledger_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ConsentLedger>();
}

#[test]
fn reader_import_matches_text_import() {
    let text = file(&format!(
        "{},{}",
        customer(ALICE, &[change(1, "2025-06-01T00:00:00Z", "shared")]),
        customer(BOB, &[change(2, "2025-06-02T00:00:00Z", "private")])
    ));
    let from_reader = ConsentLedger::from_json_reader(text.as_bytes(), known()).unwrap();
    assert_eq!(from_reader, import(&text).unwrap());
    assert_eq!(from_reader.customer_count(), 2);
}

#[test]
fn reader_import_reports_rule_violations_typed() {
    let text = file(&format!(
        "{},{}",
        customer(ALICE, &[change(1, "2025-06-01T00:00:00Z", "shared")]),
        customer(BOB, &[change(1, "2025-06-02T00:00:00Z", "private")])
    ));
    assert_eq!(
        ConsentLedger::from_json_reader(text.as_bytes(), known()).unwrap_err(),
        ConsentError::DuplicateReceipt { receipt: 1 }
    );
}

#[test]
fn field_order_does_not_matter() {
    let text = format!(
        r#"{{"customers":[{{"changes":[{}],"customer":"{ALICE}"}}],"format":"steward-consent-ledger/2"}}"#,
        change(1, "2025-06-01T00:00:00Z", "open-weight")
    );
    let ledger = import(&text).unwrap();
    assert_eq!(ledger.change_count(), 1);
}

#[test]
fn missing_format_is_malformed() {
    let error = import(r#"{"customers":[]}"#).unwrap_err();
    assert!(
        error.to_string().contains("missing field `format`"),
        "{error}"
    );
}

#[test]
fn trailing_text_after_the_ledger_is_malformed() {
    let text = format!("{} extra", file(""));
    assert!(matches!(
        import(&text),
        Err(ConsentError::MalformedLedger { .. })
    ));
}

#[test]
fn empty_ledger_round_trips() {
    let ledger = ConsentLedger::new(known());
    let text = ledger.to_json().unwrap();
    assert_eq!(text, file(""));
    assert_eq!(import(&text).unwrap(), ledger);
}

#[test]
fn unknown_policy_version_in_file_is_located() {
    let text = file(&customer(
        ALICE,
        &[
            change(1, "2025-06-01T00:00:00Z", "shared"),
            change_with(
                2,
                "2025-07-01T00:00:00Z",
                "2025-07-01T00:00:00Z",
                "none",
                "customer",
                "2099-01-01",
            ),
        ],
    ));
    let error = import(&text).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid ledger file at `customers[0].changes[1]`: unknown policy version `2099-01-01`"
    );
    // The same file imports into a ledger that knows that version.
    let both = known().with("2099-01-01".parse().unwrap()).unwrap();
    assert_eq!(
        ConsentLedger::from_json(&text, both)
            .unwrap()
            .change_count(),
        2
    );
}

#[test]
fn backdated_change_in_file_is_located() {
    let text = file(&customer(
        ALICE,
        &[change_with(
            1,
            "2025-06-01T00:00:00Z",
            "2025-01-01T00:00:00Z",
            "open-weight",
            "admin:dana:TICKET-1",
            "2025-03-05",
        )],
    ));
    let error = import(&text).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid ledger file at `customers[0].changes[0]`: change effective at \
         `2025-01-01T00:00:00Z` is before it was recorded at `2025-06-01T00:00:00Z`: a change \
         cannot take effect before it is recorded"
    );
}

#[test]
fn scheduled_change_in_file_imports() {
    let text = file(&customer(
        ALICE,
        &[change_with(
            1,
            "2025-06-01T00:00:00Z",
            "2025-07-01T00:00:00Z",
            "shared",
            "customer",
            "2025-03-05",
        )],
    ));
    let ledger = import(&text).unwrap();
    let receipt = ledger.history(ALICE.parse().unwrap()).next().unwrap();
    assert_eq!(receipt.recorded_at.to_string(), "2025-06-01T00:00:00Z");
    assert_eq!(ledger.to_json().unwrap(), text);
}

#[test]
fn recording_instants_decreasing_across_customers_are_refused() {
    // Bob's change has the higher receipt, so it was recorded later, yet says earlier.
    let text = file(&format!(
        "{},{}",
        customer(ALICE, &[change(1, "2025-06-02T00:00:00Z", "shared")]),
        customer(BOB, &[change(2, "2025-06-01T00:00:00Z", "private")])
    ));
    let error = import(&text).unwrap_err();
    assert!(matches!(
        error,
        ConsentError::RecordedOutOfOrder {
            receipt: 2,
            previous: 1,
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "receipt `2` recorded at `2025-06-01T00:00:00Z` is before receipt `1` recorded at \
         `2025-06-02T00:00:00Z`: the clock went backwards"
    );
}

#[test]
fn an_imported_ledger_keeps_its_clock_for_new_changes() {
    let text = file(&customer(
        ALICE,
        &[change(1, "2025-06-02T00:00:00Z", "shared")],
    ));
    let mut ledger = import(&text).unwrap();
    let june_1: Timestamp = "2025-06-01T00:00:00Z".parse().unwrap();
    let late = ConsentChange::new(
        BOB.parse().unwrap(),
        TrainingLevel::Private,
        "2025-07-01T00:00:00Z".parse().unwrap(),
        ConsentActor::Customer,
        Channel::Api,
        "2025-03-05".parse().unwrap(),
    );
    assert!(matches!(
        ledger.record(late, june_1),
        Err(ConsentError::ClockWentBackwards { .. })
    ));
}

#[test]
fn admin_change_without_a_basis_in_file_is_malformed() {
    let text = file(&customer(
        ALICE,
        &[change_with(
            1,
            "2025-06-01T00:00:00Z",
            "2025-06-01T00:00:00Z",
            "none",
            "admin:dana",
            "2025-03-05",
        )],
    ));
    let error = import(&text).unwrap_err();
    assert!(matches!(error, ConsentError::MalformedLedger { .. }));
    assert!(
        error
            .to_string()
            .contains("admin change by `dana` states no basis"),
        "{error}"
    );
}

#[test]
fn admin_change_with_an_invisible_basis_in_file_is_malformed() {
    let text = file(&customer(
        ALICE,
        &[change_with(
            1,
            "2025-06-01T00:00:00Z",
            "2025-06-01T00:00:00Z",
            "none",
            "admin:dana:\\u200b\\ufeff",
            "2025-03-05",
        )],
    ));
    let error = import(&text).unwrap_err();
    assert!(matches!(error, ConsentError::MalformedLedger { .. }));
    assert!(error.to_string().contains("blank"), "{error}");
}

#[test]
fn change_without_a_recording_instant_is_malformed() {
    let text = file(&customer(
        ALICE,
        &[r#"{"receipt":1,"effective":"2025-06-01T00:00:00Z","level":"shared","actor":"customer","channel":"api","policy_version":"2025-03-05"}"#.to_owned()],
    ));
    let error = import(&text).unwrap_err();
    assert!(
        error.to_string().contains("missing field `recorded_at`"),
        "{error}"
    );
}
