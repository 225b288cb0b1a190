//! Policy files: the bundled file equals the bundled policy, and every kind of bad file is
//! refused with an error naming the file, the field and what is wrong (invariant 9).

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed setup step must fail the test"
)]

use steward::{consent::*, vocabulary::*, *};

const BUNDLED: &str = include_str!("../../../../examples/coder-model.toml");

fn load_toml(text: &str) -> Result<Policy, PolicyError> {
    Policy::from_toml_str(text, "test.toml")
}

fn error_of(text: &str) -> String {
    load_toml(text).unwrap_err().to_string()
}

#[test]
fn bundled_file_is_the_bundled_policy() {
    assert_eq!(load_toml(BUNDLED).unwrap(), Policy::coder_model());
}

#[test]
fn bundled_file_loads_from_disk_by_extension() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/coder-model.toml"
    );
    assert_eq!(Policy::load(path).unwrap(), Policy::coder_model());
}

#[test]
fn json_policy_loads_like_toml() {
    let json = r#"{
        "version": "2025-03-05", "published": "2025-03-05", "max-stewards": 2,
        "consent-mode": "withdrawal-stops-processing", "deletion-window": "P7D",
        "purposes": {"email": ["customer-care"]}
    }"#;
    let policy = Policy::from_json_str(json, "policy.json").unwrap();
    assert_eq!(policy.max_stewards().get(), 2);
    assert_eq!(
        policy.consent_mode(),
        ConsentMode::WithdrawalStopsProcessing
    );
    assert!(policy.allows_purpose(DataCategory::Email, Purpose::CustomerCare));
    assert!(!policy.allows_purpose(DataCategory::Email, Purpose::NotifyChanges));
}

#[test]
fn unknown_purpose_is_named_with_its_position() {
    let text = BUNDLED.replace(
        r#"consent-record = ["provide-service""#,
        r#"consent-record = ["resale""#,
    );
    let message = error_of(&text);
    assert!(message.starts_with("policy file `test.toml`"), "{message}");
    assert!(message.contains("unknown purpose `resale`"), "{message}");
    assert!(message.contains("line"), "{message}");
}

fn with_earlier_versions(list: &str) -> String {
    BUNDLED.replace(
        r#"version = "2025-03-05""#,
        &format!("version = \"2025-09-01\"\nearlier-versions = {list}"),
    )
}

#[test]
fn earlier_versions_are_known_versions() {
    let policy = load_toml(&with_earlier_versions(r#"["2025-03-05", "2024-11-01"]"#)).unwrap();
    for version in ["2025-09-01", "2025-03-05", "2024-11-01"] {
        assert!(
            policy.known_versions().contains(&version.parse().unwrap()),
            "{version}"
        );
    }
    assert!(
        !policy
            .known_versions()
            .contains(&"2024-01-01".parse().unwrap())
    );
    // Without the field a policy knows only its own version.
    assert_eq!(
        Policy::coder_model().known_versions(),
        &KnownPolicyVersions::new("2025-03-05".parse().unwrap())
    );
}

#[test]
fn the_policy_own_version_among_earlier_versions_is_refused() {
    let message = error_of(&with_earlier_versions(r#"["2025-03-05", "2025-09-01"]"#));
    assert_eq!(
        message,
        "policy file `test.toml`, field `earlier-versions[1]`: `2025-09-01` is the policy's own \
         version, not an earlier one"
    );
}

#[test]
fn duplicate_earlier_version_is_refused() {
    let message = error_of(&with_earlier_versions(r#"["2025-03-05", "2025-03-05"]"#));
    assert_eq!(
        message,
        "policy file `test.toml`, field `earlier-versions[1]`: duplicate version `2025-03-05`"
    );
}

#[test]
fn malformed_earlier_version_is_refused() {
    let message = error_of(&with_earlier_versions(r#"[" padded"]"#));
    assert!(message.contains("surrounding whitespace"), "{message}");
    assert!(message.contains("earlier-versions"), "{message}");
}

#[test]
fn zero_stewards_is_refused() {
    let message = error_of(&BUNDLED.replace("max-stewards = 3", "max-stewards = 0"));
    assert!(message.contains("field `max-stewards`"), "{message}");
}

#[test]
fn negative_stewards_is_refused() {
    let message = error_of(&BUNDLED.replace("max-stewards = 3", "max-stewards = -1"));
    assert!(message.contains("max-stewards"), "{message}");
}

#[test]
fn negative_window_is_refused() {
    let message = error_of(&BUNDLED.replace(
        r#"deletion-window = "P30D""#,
        r#"deletion-window = "-P30D""#,
    ));
    assert!(message.contains("-P30D"), "{message}");
    assert!(message.contains("deletion-window"), "{message}");
}

#[test]
fn duplicate_rule_is_refused() {
    let rule = r#"
[[retention]]
category = "llm-request-log"
anchor = "relationship-end"
maximum = "PT0S"
window = "P30D"
method = "crypto-shred"
clause = "logs.retention"
"#;
    let message = error_of(&format!("{BUNDLED}{rule}"));
    assert!(message.contains("field `retention[1]`"), "{message}");
    assert!(
        message.contains("duplicate rule for category `llm-request-log`"),
        "{message}"
    );
}

#[test]
fn duplicate_purpose_is_refused() {
    let text = BUNDLED.replace(
        r#"consent-record = ["provide-service", "customer-care"]"#,
        r#"consent-record = ["customer-care", "customer-care"]"#,
    );
    let message = error_of(&text);
    assert!(
        message.contains("field `purposes.consent-record`"),
        "{message}"
    );
    assert!(
        message.contains("duplicate purpose `customer-care`"),
        "{message}"
    );
}

#[test]
fn prohibited_purpose_is_refused_citing_use_purposes() {
    let text = BUNDLED.replace(
        r#"consent-record = ["provide-service", "customer-care"]"#,
        r#"consent-record = ["marketing"]"#,
    );
    let message = error_of(&text);
    assert!(
        message.contains("`marketing` is never allowed"),
        "{message}"
    );
    assert!(message.contains("use.purposes"), "{message}");
}

#[test]
fn log_purpose_on_personal_data_is_refused() {
    let text = BUNDLED.replace(
        r#"consent-record = ["provide-service", "customer-care"]"#,
        r#"consent-record = ["troubleshooting"]"#,
    );
    assert!(error_of(&text).contains("serves only `llm-request-log`"));
}

#[test]
fn keeping_logs_past_the_relationship_is_refused() {
    let text = BUNDLED.replace(r#"maximum = "PT0S""#, r#"maximum = "P90D""#);
    let message = error_of(&text);
    assert!(message.contains("field `retention[0]`"), "{message}");
    assert!(message.contains("logs.retention"), "{message}");
}

#[test]
fn unknown_field_is_refused() {
    let message = error_of(&format!("retention-forever = true\n{BUNDLED}"));
    assert!(message.contains("retention-forever"), "{message}");
}

#[test]
fn missing_file_and_unknown_extension_are_named() {
    let missing = Policy::load("/nonexistent/policy.toml").unwrap_err();
    assert!(matches!(missing, PolicyError::Read { .. }));
    assert!(missing.to_string().contains("/nonexistent/policy.toml"));
    let markdown = Policy::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
    assert!(matches!(markdown, Err(PolicyError::UnknownFormat { .. })));
    let not_a_policy = Policy::load(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
    assert!(matches!(not_a_policy, Err(PolicyError::Malformed { .. })));
}

#[test]
fn training_on_personal_data_is_refused() {
    let text = BUNDLED.replace(
        r#"consent-record = ["provide-service", "customer-care"]"#,
        r#"consent-record = ["model-training"]"#,
    );
    let message = error_of(&text);
    assert!(
        message.contains("field `purposes.consent-record`"),
        "{message}"
    );
    assert!(
        message.contains("only `llm-request-log` data may serve `model-training`"),
        "{message}"
    );
}

#[test]
fn log_rule_window_beyond_the_deletion_window_is_refused() {
    let text = BUNDLED.replace("window = \"P30D\"\nmethod", "window = \"P3650D\"\nmethod");
    let message = error_of(&text);
    assert!(message.contains("field `retention[0]`"), "{message}");
    assert!(
        message.contains("may not exceed the policy's `deletion-window`"),
        "{message}"
    );
}

#[test]
fn log_rule_must_crypto_shred_and_cite_logs_retention() {
    let plain_delete = BUNDLED.replace(r#"method = "crypto-shred""#, r#"method = "delete""#);
    assert!(error_of(&plain_delete).contains("`crypto-shred`"));
    let other_clause = BUNDLED.replace(
        r#"clause = "logs.retention""#,
        r#"clause = "training.shared""#,
    );
    assert!(error_of(&other_clause).contains("must cite `logs.retention`"));
}

#[test]
fn repeated_json_key_is_refused_not_overwritten() {
    let json = r#"{
        "version": "2025-03-05", "published": "2025-03-05", "max-stewards": 2,
        "deletion-window": "P7D",
        "purposes": {"email": ["customer-care"], "email": ["provide-service"]}
    }"#;
    let error = Policy::from_json_str(json, "policy.json").unwrap_err();
    assert!(matches!(error, PolicyError::Malformed { .. }));
    assert!(
        error.to_string().contains("duplicate key `email`"),
        "{error}"
    );
}

mod arbitrary_input {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Invariant 9: any text, as TOML or JSON, loads or is refused with an error naming
        /// the file; nothing panics.
        #[test]
        fn arbitrary_text_never_panics_the_loaders(text in "\\PC{0,200}") {
            for result in [
                Policy::from_toml_str(&text, "fuzz.toml"),
                Policy::from_json_str(&text, "fuzz.json"),
            ] {
                if let Err(error) = result {
                    prop_assert!(error.to_string().starts_with("policy file `fuzz."));
                }
            }
        }

        /// Invariant 9 near valid input: the bundled file with one line dropped or one
        /// character changed either loads or names the file in its error, and what loads
        /// still never lets personal data serve a purpose outside `use.purposes`.
        #[test]
        fn mutated_bundled_file_loads_or_is_refused_cleanly(
            line in 0usize..60,
            position in 0usize..4_000,
            replacement in prop::char::range(' ', '~'),
        ) {
            let lines: Vec<&str> = BUNDLED.lines().collect();
            let without_line: String = lines
                .iter()
                .enumerate()
                .filter(|(index, _)| *index != line % lines.len())
                .map(|(_, text)| format!("{text}\n"))
                .collect();
            let mut changed: Vec<char> = BUNDLED.chars().collect();
            let at = position % changed.len();
            changed[at] = replacement;
            let changed: String = changed.into_iter().collect();
            for text in [without_line, changed] {
                match load_toml(&text) {
                    Ok(policy) => {
                        for category in [DataCategory::Email, DataCategory::IpAddress] {
                            for purpose in [Purpose::Marketing, Purpose::ModelTraining] {
                                prop_assert!(!policy.allows_purpose(category, purpose));
                            }
                        }
                    }
                    Err(error) => {
                        prop_assert!(error.to_string().starts_with("policy file `test.toml`"));
                    }
                }
            }
        }
    }
}

#[test]
fn the_justification_table_sets_the_rule_and_a_missing_table_takes_the_bundled_one() {
    let text = BUNDLED.replace(
        "min-letters-or-digits = 4",
        "min-letters-or-digits = 6\npattern = \"^(INC|CHG)-[0-9]+\"",
    );
    let policy = load_toml(&text).unwrap();
    assert_eq!(policy.justification_rule().min_letters_or_digits(), 6);
    assert_eq!(
        policy.justification_rule().pattern(),
        Some("^(INC|CHG)-[0-9]+")
    );
    let without = BUNDLED.replace("[justification]\nmin-letters-or-digits = 4\n", "");
    assert_ne!(without, BUNDLED);
    assert_eq!(
        load_toml(&without).unwrap().justification_rule(),
        &JustificationRule::coder_model()
    );
}

#[test]
fn a_justification_pattern_that_is_not_a_regular_expression_is_named() {
    let text = BUNDLED.replace(
        "min-letters-or-digits = 4",
        "min-letters-or-digits = 4\npattern = \"^(INC-[0-9]+\"",
    );
    let error = load_toml(&text).unwrap_err();
    assert!(
        matches!(error, PolicyError::Invalid { ref field, .. } if field == "justification.pattern")
    );
    let message = error.to_string();
    assert!(
        message.contains("field `justification.pattern`"),
        "{message}"
    );
    assert!(message.contains("`^(INC-[0-9]+`"), "{message}");
    assert!(
        message.contains("not a valid regular expression"),
        "{message}"
    );
    for bad in ["0", "513"] {
        let text = BUNDLED.replace(
            "min-letters-or-digits = 4",
            &format!("min-letters-or-digits = {bad}"),
        );
        let message = error_of(&text);
        assert!(
            message.contains("justification.min-letters-or-digits"),
            "{message}"
        );
    }
    let unknown = BUNDLED.replace("min-letters-or-digits = 4", "minimum = 4");
    assert!(error_of(&unknown).contains("minimum"));
}

#[test]
fn a_file_without_a_consent_proof_period_keeps_receipts_the_bundled_three_years() {
    let without = BUNDLED.replace("consent-proof-period = \"P1095D\"\n", "");
    assert_ne!(without, BUNDLED);
    let policy = load_toml(&without).unwrap();
    assert_eq!(policy.consent_proof_period().to_string(), "P1095D");
    assert_eq!(policy, Policy::coder_model());
}

#[test]
fn the_consent_proof_period_sets_the_consent_record_rule() {
    let text = BUNDLED.replace(
        "consent-proof-period = \"P1095D\"",
        "consent-proof-period = \"P3650D\"",
    );
    let policy = load_toml(&text).unwrap();
    assert_eq!(policy.consent_proof_period().to_string(), "P3650D");
    let rule = policy
        .retention()
        .rule(DataCategory::ConsentRecord)
        .unwrap();
    assert_eq!(
        rule.minimum().map(|period| period.to_string()).as_deref(),
        Some("P3650D")
    );
    assert_eq!(rule.clause(), ClauseId::PolicyVersioned);
    let message = error_of(&BUNDLED.replace(
        "consent-proof-period = \"P1095D\"",
        "consent-proof-period = \"P3Y\"",
    ));
    assert!(message.contains("P3Y"), "{message}");
}

#[test]
fn a_consent_record_rule_beside_a_consent_proof_period_is_refused_as_ambiguous() {
    let text = format!(
        "{BUNDLED}\n[[retention]]\ncategory = \"consent-record\"\nanchor = \"relationship-end\"\n\
         minimum = \"P365D\"\nmaximum = \"PT0S\"\nwindow = \"P30D\"\nmethod = \"delete\"\n\
         clause = \"policy.versioned\"\n"
    );
    let message = error_of(&text);
    assert!(message.contains("retention[1]"), "{message}");
    assert!(message.contains("consent-proof-period"), "{message}");
    // Without the setting, the file's own rule decides.
    let own = load_toml(&text.replace("consent-proof-period = \"P1095D\"\n", "")).unwrap();
    assert_eq!(own.consent_proof_period().to_string(), "P365D");
}
