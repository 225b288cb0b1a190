//! Property tests: every value of the vocabulary survives its string and serde forms, and
//! no string outside the vocabulary is accepted (docs/design.md invariant 9).

use proptest::prelude::*;
use steward_core::{
    ClauseId, CustomerId, DataCategory, Purpose, RecordId, StewardId, Timestamp, TrainingScope,
};
use uuid::Uuid;

fn customer() -> impl Strategy<Value = CustomerId> {
    (1..=u128::MAX).prop_filter_map("customer ids are never nil", |n| {
        CustomerId::new(Uuid::from_u128(n)).ok()
    })
}

fn scope() -> impl Strategy<Value = TrainingScope> {
    prop_oneof![
        customer().prop_map(|owner| TrainingScope::Private { owner }),
        Just(TrainingScope::Shared),
        Just(TrainingScope::OpenWeight),
    ]
}

proptest! {
    #[test]
    fn purposes_round_trip(index in 0..Purpose::ALL.len()) {
        let purpose = Purpose::ALL[index];
        prop_assert_eq!(purpose.as_str().parse::<Purpose>().unwrap(), purpose);
        let json = serde_json::to_string(&purpose).unwrap();
        prop_assert_eq!(serde_json::from_str::<Purpose>(&json).unwrap(), purpose);
    }

    #[test]
    fn categories_round_trip(index in 0..DataCategory::ALL.len()) {
        let category = DataCategory::ALL[index];
        let json = serde_json::to_string(&category).unwrap();
        prop_assert_eq!(serde_json::from_str::<DataCategory>(&json).unwrap(), category);
    }

    #[test]
    fn clauses_round_trip(index in 0..ClauseId::ALL.len()) {
        let clause = ClauseId::ALL[index];
        let json = serde_json::to_string(&clause).unwrap();
        prop_assert_eq!(serde_json::from_str::<ClauseId>(&json).unwrap(), clause);
    }

    #[test]
    fn scopes_round_trip(scope in scope()) {
        prop_assert_eq!(scope.to_string().parse::<TrainingScope>().unwrap(), scope);
        let json = serde_json::to_string(&scope).unwrap();
        prop_assert_eq!(serde_json::from_str::<TrainingScope>(&json).unwrap(), scope);
    }

    #[test]
    fn ids_round_trip(customer in customer(), millis in 0i64..(1 << 43)) {
        prop_assert_eq!(customer.to_string().parse::<CustomerId>().unwrap(), customer);
        let record = RecordId::generate_at(Timestamp::from_unix_nanos(millis * 1_000_000));
        let json = serde_json::to_string(&record).unwrap();
        prop_assert_eq!(serde_json::from_str::<RecordId>(&json).unwrap(), record);
    }

    #[test]
    fn timestamps_round_trip(nanos in any::<i64>()) {
        let instant = Timestamp::from_unix_nanos(nanos);
        let json = serde_json::to_string(&instant).unwrap();
        prop_assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), instant);
        prop_assert_eq!(instant.to_string().parse::<Timestamp>().unwrap(), instant);
    }

    #[test]
    fn unknown_strings_are_rejected_by_name(text in "\\PC{0,80}") {
        let known = Purpose::ALL.iter().any(|p| p.as_str() == text);
        match text.parse::<Purpose>() {
            Ok(purpose) => prop_assert!(known && purpose.as_str() == text),
            Err(error) => {
                prop_assert!(!known);
                let shown: String = text.chars().take(64).collect();
                prop_assert!(error.to_string().contains(&shown));
            }
        }
    }

    #[test]
    fn steward_ids_accept_exactly_the_documented_alphabet(text in "[a-zA-Z0-9._@ -]{0,70}") {
        let valid = !text.is_empty()
            && text.len() <= StewardId::MAX_LEN
            && text.chars().all(|c| c.is_ascii_alphanumeric() || ".-_@".contains(c));
        prop_assert_eq!(text.parse::<StewardId>().is_ok(), valid);
    }
}
