//! Property tests of docs/design.md section 3, invariants 4, 5, 6 and 9 (records and access).

use proptest::prelude::*;
use steward_core::{
    Justification, Purpose, PurposeGroup, RecordId, StewardId, Timestamp, TrainingLevel,
};
use steward_logs::{
    AccessRequest, Algorithm, AuditError, AuditOutcome, Custody, Keyring, LogsError,
    MemoryAuditStore, OpenError, SealConfig, SealInput, SealedRecord,
};

use crate::common::{
    Fault, ProbeStore, START_SECONDS, STEWARD, TestResult, allow, clock, custody, custody_over,
    custody_with, customer, instant, master_key, meta, policy_gate, request, roster,
};

fn consent() -> impl Strategy<Value = TrainingLevel> {
    prop::sample::select(TrainingLevel::ALL.to_vec())
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(vec![Algorithm::Aes256Gcm, Algorithm::ChaCha20Poly1305])
}

fn purpose() -> impl Strategy<Value = Purpose> {
    prop::sample::select(Purpose::ALL.to_vec())
}

/// How the audit store answers one append: mostly it works.
fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        3 => Just(Fault::Healthy),
        1 => Just(Fault::RefuseAppends),
        1 => Just(Fault::LoseNextAck),
    ]
}

fn custody_sealing_with(algorithm: Algorithm) -> TestResult<Custody<MemoryAuditStore>> {
    custody_with(SealConfig::default().with_algorithm(algorithm))
}

/// Byte ranges of the header fields (docs/record-format.md).
const CUSTOMER: std::ops::Range<usize> = 24..40;
const RECORD_ID: std::ops::Range<usize> = 8..24;
const KEY_VERSION: std::ops::Range<usize> = 40..44;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Invariant 5 (positive half): any body of any customer opens to exactly itself.
    #[test]
    fn seal_open_round_trips_any_body_and_customer(
        body in prop::collection::vec(any::<u8>(), 0..4096),
        customer_bits in 1..u128::MAX,
        consent in consent(),
        algorithm in algorithm(),
        seconds in -2_000_000_000i64..8_000_000_000,
    ) {
        let custody = custody_sealing_with(algorithm).unwrap();
        let at = instant(seconds).unwrap();
        let meta = SealInput::new(
            RecordId::generate_at(at), customer(customer_bits).unwrap(), at, consent,
        );
        let bytes = custody.seal(&meta, &body).unwrap().into_bytes();
        let record = SealedRecord::from_bytes(&bytes).unwrap();
        prop_assert_eq!(record.header().customer(), meta.customer());
        prop_assert_eq!(record.header().consent(), consent);
        prop_assert_eq!(record.header().collected_at(), at);
        let opened = custody.dangerous_open_with_gate(&record, &request().unwrap(), allow).unwrap();
        prop_assert_eq!(opened.as_bytes(), body.as_slice());
        prop_assert_eq!(opened.header().consent(), consent);
    }

    /// Invariant 5: flipping any bit of any byte fails with a typed error (parse or open),
    /// never wrong plaintext, never a panic, even through a gate that allows everything.
    #[test]
    fn flipping_any_bit_fails_to_open(
        body in prop::collection::vec(any::<u8>(), 0..256),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
        algorithm in algorithm(),
    ) {
        let custody = custody_sealing_with(algorithm).unwrap();
        let at = instant(1_000).unwrap();
        let mut bytes = custody
            .seal(&meta(customer(1).unwrap(), at).unwrap(), &body)
            .unwrap()
            .into_bytes();
        let index = position.index(bytes.len());
        bytes[index] ^= 1 << bit;
        match SealedRecord::from_bytes(&bytes) {
            Err(_) => {}
            Ok(record) => {
                let result = custody.dangerous_open_with_gate(&record, &request().unwrap(), allow);
                prop_assert!(result.is_err(), "byte {} bit {} opened", index, bit);
            }
        }
    }

    /// Invariant 5: a record presented under another customer, record id or key version
    /// fails, even when that customer and version exist in the keyring.
    #[test]
    fn record_under_another_customer_id_or_version_fails(
        body in prop::collection::vec(any::<u8>(), 0..128),
        field in 0usize..3,
        other_bits in 2..u128::MAX,
    ) {
        let custody = custody_sealing_with(Algorithm::Aes256Gcm).unwrap();
        let at = instant(1_000).unwrap();
        let owner = customer(1).unwrap();
        let other = customer(other_bits).unwrap();
        let mut bytes = custody.seal(&meta(owner, at).unwrap(), &body).unwrap().into_bytes();
        // The other customer and a second version of the owner's key both exist.
        custody.seal(&meta(other, at).unwrap(), b"other").unwrap();
        custody.rotate_data_key(owner).unwrap();
        match field {
            0 => bytes[CUSTOMER].copy_from_slice(other.as_bytes()),
            1 => bytes[RECORD_ID].copy_from_slice(RecordId::generate_at(at).as_bytes()),
            _ => bytes[KEY_VERSION].copy_from_slice(&2u32.to_be_bytes()),
        }
        let record = SealedRecord::from_bytes(&bytes).unwrap();
        let error = custody.dangerous_open_with_gate(&record, &request().unwrap(), allow).unwrap_err();
        prop_assert!(
            matches!(
                error,
                LogsError::Open(OpenError::KeyCommitmentMismatch | OpenError::AuthenticationFailed)
            ),
            "{}", error
        );
    }

    /// Invariant 6: after shredding, no record of a shredded customer opens, for anyone (the
    /// gate allows everything), and every other customer's records still do.
    #[test]
    fn after_shredding_nothing_of_the_customer_opens(
        records in prop::collection::vec((0u128..6, prop::collection::vec(any::<u8>(), 0..64)), 1..16),
        shredded in prop::collection::btree_set(0u128..6, 1..4),
        rotate_first in any::<bool>(),
    ) {
        let custody = custody_sealing_with(Algorithm::Aes256Gcm).unwrap();
        let at = instant(1_000).unwrap();
        let mut sealed = Vec::new();
        for (index, (who, body)) in records.iter().enumerate() {
            let who = customer(*who + 1).unwrap();
            if rotate_first && index % 3 == 2 {
                custody.rotate_data_key(who).unwrap();
            }
            sealed.push((who, body.clone(), custody.seal(&meta(who, at).unwrap(), body).unwrap()));
        }
        for who in &shredded {
            custody.shred(customer(*who + 1).unwrap()).unwrap();
        }
        for (who, body, record) in &sealed {
            let result = custody.dangerous_open_with_gate(record, &request().unwrap(), allow);
            if shredded.iter().any(|s| customer(*s + 1).unwrap() == *who) {
                prop_assert!(matches!(result, Err(LogsError::Open(OpenError::Shredded))));
            } else {
                let opened = result.unwrap();
                prop_assert_eq!(opened.as_bytes(), body.as_slice());
            }
        }
        custody.audit().unwrap().verify().unwrap();
    }

    /// Invariant 4: plaintext comes back only if the gate (here a model of the logs clauses:
    /// roster, log purpose, justification) allowed the request and its entry (outcome
    /// `opened`) was stored and acknowledged; every attempt the store takes is exactly one
    /// entry, dated by the trail's clock, never before the entry it follows, whatever the
    /// clock does and whatever the store reported.
    #[test]
    fn every_successful_open_has_exactly_one_audit_entry_written_first(
        attempts in prop::collection::vec(
            (any::<bool>(), purpose(), any::<bool>(), fault(), -2_000i64..2_000),
            1..24,
        ),
    ) {
        let store = ProbeStore::default();
        let clock = clock().unwrap();
        let custody = custody_over(
            Keyring::new(master_key().unwrap()),
            store.clone(),
            clock.clone(),
            SealConfig::default(),
        )
        .unwrap();
        let roster = roster().unwrap();
        let gate = policy_gate(&roster);
        let record = custody
            .seal(&meta(customer(1).unwrap(), instant(1_000).unwrap()).unwrap(), b"body")
            .unwrap();
        let mut now = instant(START_SECONDS).unwrap().unix_nanos();
        let mut newest_at: Option<Timestamp> = None;
        for (on_roster, purpose, justified, fault, step) in attempts {
            let steward: StewardId = if on_roster { STEWARD } else { "mallory" }.parse().unwrap();
            let justification: Option<Justification> =
                justified.then(|| "TICKET-1".parse().unwrap());
            let request = AccessRequest::new(steward, purpose, justification);
            now += step;
            clock.set(Timestamp::from_unix_nanos(now));
            store.set_fault(fault);
            let before = store.len();
            let mut decided_at = None;
            let result = custody.dangerous_open_with_gate(&record, &request, |query| {
                decided_at = Some(query.now());
                gate(query)
            });
            store.set_fault(Fault::Healthy);
            let written = store.len() - before;

            // The model: the trail's instant, and what the store and the gate decide.
            let expected_at = match newest_at {
                Some(newest) if now <= newest.unix_nanos() => {
                    Timestamp::from_unix_nanos(newest.unix_nanos() + 1)
                }
                _ => Timestamp::from_unix_nanos(now),
            };
            let allowed = on_roster && purpose.group() == PurposeGroup::Logs && justified;
            prop_assert_eq!(decided_at, Some(expected_at));
            prop_assert_eq!(written, usize::from(fault != Fault::RefuseAppends));
            prop_assert_eq!(result.is_ok(), allowed && fault == Fault::Healthy);
            if written == 1 {
                newest_at = Some(expected_at);
                let newest = store.newest().unwrap();
                prop_assert_eq!(newest.entry().at(), expected_at);
                let outcome = newest.entry().access().unwrap().outcome();
                prop_assert_eq!(outcome == AuditOutcome::Opened, allowed);
            }
            match result {
                Ok(body) => prop_assert_eq!(body.as_bytes(), b"body"),
                Err(LogsError::Audit(AuditError::Unavailable { .. })) => {
                    prop_assert!(fault != Fault::Healthy);
                }
                Err(LogsError::Open(OpenError::Denied { .. })) => {
                    prop_assert!(!allowed && fault == Fault::Healthy);
                }
                Err(other) => prop_assert!(false, "unexpected error {}", other),
            }
        }
        prop_assert_eq!(custody.audit().unwrap().verify().unwrap().entries(), store.len() as u64);
    }

    /// Invariant 9: arbitrary bytes into the parser never panic.
    #[test]
    fn arbitrary_bytes_never_panic_the_parser(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = SealedRecord::from_bytes(&bytes);
        let _ = SealedRecord::try_from(bytes);
    }

    /// Invariant 9: bytes that start like a record (magic, version) but go astray anywhere
    /// after give typed errors, never a panic, and never open.
    #[test]
    fn record_shaped_garbage_is_rejected_without_panic(
        tail in prop::collection::vec(any::<u8>(), 0..400),
        algorithm in 0u8..4,
        consent in 0u8..5,
    ) {
        let mut bytes = vec![b'S', b'T', b'W', b'L', 1, algorithm, consent, 0];
        bytes.extend_from_slice(&tail);
        if let Ok(record) = SealedRecord::from_bytes(&bytes) {
            let custody = custody().unwrap();
            prop_assert!(custody.dangerous_open_with_gate(&record, &request().unwrap(), allow).is_err());
        }
    }
}
