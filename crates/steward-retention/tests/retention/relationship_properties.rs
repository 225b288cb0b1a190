//! Properties of relationship changes with a recording instant (issue 18 item 3), on random
//! sequences of changes and clock readings that move forwards and backwards.

use proptest::prelude::*;
use steward_core::{CustomerId, Timestamp};
use steward_retention::{RelationshipBook, RelationshipChange, RetentionError};

const BASE_SECONDS: i64 = 1_750_000_000;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos((BASE_SECONDS + seconds) * 1_000_000_000)
}

fn customers() -> Vec<CustomerId> {
    (0..3u8)
        .filter_map(|n| {
            format!("0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a{n:02x}")
                .parse()
                .ok()
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Start,
    End,
    Correct,
    Cancel,
}

fn steps() -> impl Strategy<Value = Vec<(i64, u8, Kind, i64)>> {
    prop::collection::vec(
        (
            -100i64..100,
            0u8..3,
            prop::sample::select(vec![Kind::Start, Kind::End, Kind::Correct, Kind::Cancel]),
            -50i64..200,
        ),
        1..60,
    )
}

proptest! {
    /// Recorded at the later of the clock and the newest recording: recording instants never
    /// decrease; a change is refused as backdated exactly when it would take effect before
    /// it is recorded; an end in force at the newest recorded change is never changed
    /// afterwards, whatever the clock says; a customer's relationships never overlap.
    #[test]
    fn relationship_changes_are_recorded_in_order_never_backdated_and_ends_in_force_are_final(
        steps in steps(),
    ) {
        let customers = customers();
        prop_assert_eq!(customers.len(), 3);
        let fallback = customers.first().copied();
        let customer = |n: u8| {
            customers
                .get(usize::from(n))
                .copied()
                .or(fallback)
                .unwrap_or_else(|| unreachable!("three customers were parsed"))
        };
        let mut book = RelationshipBook::new();
        let mut clock = 1_000_i64;
        let mut latest: Option<Timestamp> = None;
        // Ends seen in force: (customer, index of the relationship, end).
        let mut final_ends: Vec<(u8, usize, Timestamp)> = Vec::new();
        for (tick, who, kind, offset) in steps {
            clock += tick;
            let recorded_at = latest.map_or(at(clock), |latest| latest.max(at(clock)));
            let effective = Timestamp::from_unix_nanos(recorded_at.unix_nanos() + offset * 1_000_000_000);
            let change = match kind {
                Kind::Start => RelationshipChange::Start { effective },
                Kind::End => RelationshipChange::End { effective },
                Kind::Correct => RelationshipChange::CorrectEnd { effective },
                Kind::Cancel => RelationshipChange::CancelEnd,
            };
            let before = book.relationships(customer(who)).to_vec();
            let result = book.record(customer(who), recorded_at, change);
            let backdated = !matches!(kind, Kind::Cancel) && effective < recorded_at;
            prop_assert_eq!(
                matches!(result, Err(RetentionError::Backdated { .. })),
                backdated,
                "{:?}", result
            );
            match result {
                Ok(()) => {
                    prop_assert!(latest.is_none_or(|latest| recorded_at >= latest));
                    prop_assert_eq!(book.latest_recorded(), Some(recorded_at));
                    latest = Some(recorded_at);
                }
                Err(_) => prop_assert_eq!(book.relationships(customer(who)), &before[..]),
            }
            for n in 0..3u8 {
                let history = book.relationships(customer(n));
                for (index, relationship) in history.iter().enumerate() {
                    // In force at the newest recorded change: what the trail has seen.
                    if let Some(end) = relationship.ended_at()
                        && latest.is_some_and(|latest| end <= latest)
                        && !final_ends.iter().any(|&(c, i, _)| c == n && i == index)
                    {
                        final_ends.push((n, index, end));
                    }
                }
                for pair in history.windows(2) {
                    prop_assert!(pair[0].ended_at().is_some_and(|end| end <= pair[1].started_at()));
                }
            }
            for &(n, index, end) in &final_ends {
                prop_assert_eq!(
                    book.relationships(customer(n)).get(index).and_then(|r| r.ended_at()),
                    Some(end)
                );
            }
        }
    }
}
