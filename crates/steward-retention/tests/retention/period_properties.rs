//! The period parser: every period round-trips through its string form, and no input panics
//! or yields a negative or oversized period.

use proptest::prelude::*;
use steward_retention::{DeletionWindow, RetentionPeriod};

proptest! {
    #[test]
    fn every_period_round_trips_through_its_string_form(
        seconds in 0..=RetentionPeriod::MAX.as_seconds(),
    ) {
        let period = RetentionPeriod::from_seconds(seconds).unwrap();
        let text = period.to_string();
        prop_assert_eq!(text.parse::<RetentionPeriod>(), Ok(period));
        let json = serde_json::to_string(&DeletionWindow::new(period)).unwrap();
        prop_assert_eq!(
            serde_json::from_str::<DeletionWindow>(&json).unwrap().period(),
            period
        );
    }

    #[test]
    fn arbitrary_text_parses_to_a_bounded_period_or_an_error(text in "\\PC{0,24}") {
        if let Ok(period) = text.parse::<RetentionPeriod>() {
            prop_assert!(period <= RetentionPeriod::MAX);
            prop_assert!(text.starts_with('P'));
        }
    }

    #[test]
    fn duration_shaped_text_never_panics(text in "-?P([0-9]{0,22}[YMWD]){0,3}(T([0-9]{0,22}[HMS]){0,3})?") {
        let _ = text.parse::<RetentionPeriod>();
    }
}
