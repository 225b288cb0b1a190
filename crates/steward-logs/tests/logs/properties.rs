//! Property tests of DESIGN.md section 3, invariants 4, 5, 6 and 9 (records and access).

mod common;

use common::{ProbeStore, STEWARD, customer, instant, meta, request, trail, vault};
use proptest::prelude::*;
use steward_core::{Justification, Purpose, PurposeGroup, RecordId, StewardId, Timestamp};
use steward_logs::{
    AccessRequest, Algorithm, AuditKey, AuditOutcome, AuditTrail, ConsentAtCollection, Keyring,
    LogsError, MasterKey, RecordMeta, RosterCapacity, SealedRecord, StewardRoster, Vault,
    VaultConfig,
};

fn consent() -> impl Strategy<Value = ConsentAtCollection> {
    prop::sample::select(ConsentAtCollection::ALL.to_vec())
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(vec![Algorithm::Aes256Gcm, Algorithm::ChaCha20Poly1305])
}

fn purpose() -> impl Strategy<Value = Purpose> {
    prop::sample::select(Purpose::ALL.to_vec())
}

fn vault_with(algorithm: Algorithm) -> Result<Vault, LogsError> {
    let master = MasterKey::from_bytes("kek-1".parse()?, &[0x42; 32])?;
    let mut roster = StewardRoster::new(RosterCapacity::new(2)?);
    roster.add(STEWARD.parse()?)?;
    let config = VaultConfig::default().with_algorithm(algorithm);
    Ok(Vault::with_config(Keyring::new(master), roster, config))
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
        let mut vault = vault_with(algorithm).unwrap();
        let mut audit = trail().unwrap();
        let at = instant(seconds).unwrap();
        let meta = RecordMeta::new(
            customer(customer_bits).unwrap(), RecordId::generate_at(at), at, consent,
        );
        let bytes = vault.seal(&meta, &body).unwrap().into_bytes();
        let record = SealedRecord::from_bytes(&bytes).unwrap();
        prop_assert_eq!(record.header().customer(), meta.customer());
        prop_assert_eq!(record.header().consent(), consent);
        prop_assert_eq!(record.header().created_at(), at);
        let opened = vault.open(&record, &request(Timestamp::now()).unwrap(), &mut audit).unwrap();
        prop_assert_eq!(opened.as_bytes(), body.as_slice());
    }

    /// Invariant 5: flipping any bit of any byte fails with a typed error (parse or open),
    /// never wrong plaintext, never a panic.
    #[test]
    fn flipping_any_bit_fails_to_open(
        body in prop::collection::vec(any::<u8>(), 0..256),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
        algorithm in algorithm(),
    ) {
        let mut vault = vault_with(algorithm).unwrap();
        let mut audit = trail().unwrap();
        let at = instant(1_000).unwrap();
        let mut bytes = vault.seal(&meta(customer(1).unwrap(), at).unwrap(), &body).unwrap().into_bytes();
        let index = position.index(bytes.len());
        bytes[index] ^= 1 << bit;
        match SealedRecord::from_bytes(&bytes) {
            Err(_) => {}
            Ok(record) => {
                let result = vault.open(&record, &request(Timestamp::now()).unwrap(), &mut audit);
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
        let mut vault = vault_with(Algorithm::Aes256Gcm).unwrap();
        let mut audit = trail().unwrap();
        let at = instant(1_000).unwrap();
        let owner = customer(1).unwrap();
        let other = customer(other_bits).unwrap();
        let mut bytes = vault.seal(&meta(owner, at).unwrap(), &body).unwrap().into_bytes();
        // The other customer and a second version of the owner's key both exist.
        vault.seal(&meta(other, at).unwrap(), b"other").unwrap();
        vault.rotate_data_key(owner).unwrap();
        match field {
            0 => bytes[CUSTOMER].copy_from_slice(other.as_bytes()),
            1 => bytes[RECORD_ID].copy_from_slice(RecordId::generate_at(at).as_bytes()),
            _ => bytes[KEY_VERSION].copy_from_slice(&2u32.to_be_bytes()),
        }
        let record = SealedRecord::from_bytes(&bytes).unwrap();
        let error = vault.open(&record, &request(Timestamp::now()).unwrap(), &mut audit).unwrap_err();
        prop_assert!(
            matches!(error, LogsError::KeyCommitmentMismatch | LogsError::AuthenticationFailed),
            "{}", error
        );
    }

    /// Invariant 6: after shredding, no record of a shredded customer opens, and every other
    /// customer's records still do.
    #[test]
    fn after_shredding_nothing_of_the_customer_opens(
        records in prop::collection::vec((0u128..6, prop::collection::vec(any::<u8>(), 0..64)), 1..16),
        shredded in prop::collection::btree_set(0u128..6, 1..4),
        rotate_first in any::<bool>(),
    ) {
        let mut vault = vault_with(Algorithm::Aes256Gcm).unwrap();
        let mut audit = trail().unwrap();
        let at = instant(1_000).unwrap();
        let mut sealed = Vec::new();
        for (index, (who, body)) in records.iter().enumerate() {
            let who = customer(*who + 1).unwrap();
            if rotate_first && index % 3 == 2 {
                vault.rotate_data_key(who).unwrap();
            }
            sealed.push((who, body.clone(), vault.seal(&meta(who, at).unwrap(), body).unwrap()));
        }
        for who in &shredded {
            vault.shred(customer(*who + 1).unwrap());
        }
        for (who, body, record) in &sealed {
            let result = vault.open(record, &request(Timestamp::now()).unwrap(), &mut audit);
            if shredded.iter().any(|s| customer(*s + 1).unwrap() == *who) {
                prop_assert!(matches!(result, Err(LogsError::Shredded)));
            } else {
                let opened = result.unwrap();
                prop_assert_eq!(opened.as_bytes(), body.as_slice());
            }
        }
    }

    /// Invariant 4: every open writes exactly one audit entry while the store works; plaintext
    /// comes back only for a roster steward with a log purpose and a justification, and only
    /// if its entry (outcome `opened`) was stored; a failing store means nothing comes back.
    #[test]
    fn every_successful_open_has_exactly_one_audit_entry_written_first(
        attempts in prop::collection::vec(
            (any::<bool>(), purpose(), any::<bool>(), any::<bool>()),
            1..24,
        ),
    ) {
        let mut vault = vault_with(Algorithm::Aes256Gcm).unwrap();
        let store = ProbeStore::default();
        let mut audit =
            AuditTrail::new(AuditKey::from_bytes(&common::AUDIT_KEY).unwrap(), store.clone())
                .unwrap();
        let at = instant(1_000).unwrap();
        let record = vault.seal(&meta(customer(1).unwrap(), at).unwrap(), b"body").unwrap();
        for (index, (on_roster, purpose, justified, store_fails)) in attempts.into_iter().enumerate() {
            let steward: StewardId = if on_roster { STEWARD } else { "mallory" }.parse().unwrap();
            let justification: Option<Justification> =
                justified.then(|| "TICKET-1".parse().unwrap());
            let when = Timestamp::from_unix_nanos(1_000_000_000_000 + index as i64);
            let request = AccessRequest::new(steward, purpose, justification, when);
            store.set_failing(store_fails);
            let before = store.len();
            let result = vault.open(&record, &request, &mut audit);
            let written = store.len() - before;
            let allowed = on_roster && purpose.group() == PurposeGroup::Logs && justified;
            prop_assert_eq!(written, usize::from(!store_fails));
            prop_assert_eq!(result.is_ok(), allowed && !store_fails);
            if let Ok(body) = result {
                prop_assert_eq!(body.as_bytes(), b"body");
                let last = store.last().unwrap();
                prop_assert_eq!(last.entry().outcome(), AuditOutcome::Opened);
                prop_assert_eq!(last.entry().at(), when);
            } else if !store_fails {
                let outcome = store.last().unwrap().entry().outcome();
                prop_assert!(matches!(outcome, AuditOutcome::Denied(_)));
            }
        }
        prop_assert_eq!(audit.verify().unwrap().entries(), store.len() as u64);
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
            let mut vault = vault().unwrap();
            let mut audit = trail().unwrap();
            let at = instant(1_000).unwrap();
            prop_assert!(vault.open(&record, &request(at).unwrap(), &mut audit).is_err());
        }
    }
}
