//! Custody through the public API: sealing, keys, the gate, and the audit entry that comes
//! before any plaintext (docs/design.md section 3, invariants 4, 5 and 6).

use std::{
    collections::{BTreeMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
};

use proptest::strategy::Strategy as _;
use steward_core::{
    ClauseId, CustomerId, ManualClock, Purpose, RecordId, StewardId, Timestamp, TrainingLevel,
};
use steward_logs::{
    AccessRequest, Algorithm, AuditError, AuditEvent, AuditOutcome, BoxError, ConfigError, Custody,
    Denial, KeyAdmission, KeyError, KeyStore, KeyVersion, Keyring, LogsError, MasterKey,
    MemoryAuditStore, OpenError, OpenFailure, RosterChange, SealConfig, SealInput, SealedRecord,
    Tombstone, WrappedDataKey,
};

use crate::common::{
    Fault, ProbeStore, START_SECONDS, STEWARD, TestResult, allow, clock, custody, custody_over,
    custody_with, customer, instant, master_key, meta, policy_gate, refuse, request,
    restored_keyring, roster,
};

/// The instant `nanos` nanoseconds after `at`.
fn plus_nanos(at: Timestamp, nanos: i64) -> Timestamp {
    Timestamp::from_unix_nanos(at.unix_nanos() + nanos)
}

/// The instants of the entries in `custody`'s trail, oldest first.
fn instants(custody: &Custody<MemoryAuditStore>) -> TestResult<Vec<Timestamp>> {
    Ok(custody
        .audit()?
        .store()
        .as_slice()
        .iter()
        .map(|chained| chained.entry().at())
        .collect())
}

#[test]
fn sealed_record_opens_after_a_byte_round_trip() -> TestResult {
    let custody = custody()?;
    let at = instant(1_750_000_000)?;
    let meta = SealInput::new(
        RecordId::generate_at(at),
        customer(7)?,
        at,
        TrainingLevel::OpenWeight,
    );
    let sealed = custody.seal(&meta, b"hello")?;
    let parsed = SealedRecord::try_from(sealed.clone().into_bytes())?;
    assert_eq!(parsed, sealed);
    let header = parsed.header();
    assert_eq!(header.customer(), meta.customer());
    assert_eq!(header.record_id(), meta.record_id());
    assert_eq!(header.collected_at(), at);
    assert_eq!(header.consent(), TrainingLevel::OpenWeight);
    assert_eq!(header.key_version(), KeyVersion::FIRST);
    assert_eq!(header.algorithm(), Algorithm::Aes256Gcm);
    assert_eq!(header.body_len(), 5);
    let body = custody.dangerous_open_with_gate(&parsed, &request()?, allow)?;
    assert_eq!(body.as_bytes(), b"hello");
    assert_eq!(body.header().consent(), TrainingLevel::OpenWeight);
    Ok(())
}

#[test]
fn ciphertext_does_not_contain_the_body() -> TestResult {
    let custody = custody()?;
    let body = b"my secret prompt, repeated: my secret prompt";
    let sealed = custody.seal(&meta(customer(1)?, instant(0)?)?, body)?;
    assert!(!sealed.as_bytes().windows(9).any(|w| w == b"my secret"));
    Ok(())
}

#[test]
fn chacha_records_open_and_both_algorithms_coexist() -> TestResult {
    let custody = custody()?;
    let at = instant(10)?;
    let aes = custody.seal(&meta(customer(1)?, at)?, b"aes")?;
    let config = SealConfig::default().with_algorithm(Algorithm::ChaCha20Poly1305);
    let chacha_custody = custody_over(
        restored_keyring(&custody)?,
        MemoryAuditStore::new(),
        clock()?,
        config,
    )?;
    let chacha = chacha_custody.seal(&meta(customer(1)?, at)?, b"chacha")?;
    assert_eq!(chacha.header().algorithm(), Algorithm::ChaCha20Poly1305);
    let request = request()?;
    assert_eq!(
        chacha_custody
            .dangerous_open_with_gate(&aes, &request, allow)?
            .as_bytes(),
        b"aes"
    );
    assert_eq!(
        custody
            .dangerous_open_with_gate(&chacha, &request, allow)?
            .as_bytes(),
        b"chacha"
    );
    Ok(())
}

#[test]
fn rotation_seals_with_the_new_version_and_old_records_still_open() -> TestResult {
    let custody = custody()?;
    let at = instant(100)?;
    let customer = customer(3)?;
    let old = custody.seal(&meta(customer, at)?, b"old")?;
    assert_eq!(custody.rotate_data_key(customer)?.get(), 2);
    let new = custody.seal(&meta(customer, at)?, b"new")?;
    assert_eq!(old.header().key_version().get(), 1);
    assert_eq!(new.header().key_version().get(), 2);
    let request = request()?;
    assert_eq!(
        custody
            .dangerous_open_with_gate(&old, &request, allow)?
            .as_bytes(),
        b"old"
    );
    assert_eq!(
        custody
            .dangerous_open_with_gate(&new, &request, allow)?
            .as_bytes(),
        b"new"
    );
    Ok(())
}

#[test]
fn master_rotation_reencrypts_no_record() -> TestResult {
    let custody = custody()?;
    let at = instant(100)?;
    let record = custody.seal(&meta(customer(3)?, at)?, b"kept")?;
    custody.rotate_master_key(MasterKey::from_bytes(
        "kek-2".parse()?,
        b"steward test key 43, not secret!",
    )?)?;
    // A fresh custody over the persisted snapshot and only the new master key still opens it.
    let snapshot = custody.keyring().unwrap().snapshot();
    assert!(
        snapshot
            .data_keys()
            .iter()
            .all(|k| k.master_key().as_str() == "kek-2")
    );
    let master = MasterKey::from_bytes("kek-2".parse()?, b"steward test key 43, not secret!")?;
    let restored = custody_over(
        Keyring::restore(master, [], snapshot)?,
        MemoryAuditStore::new(),
        clock()?,
        SealConfig::default(),
    )?;
    assert_eq!(
        restored
            .dangerous_open_with_gate(&record, &request()?, allow)?
            .as_bytes(),
        b"kept"
    );
    Ok(())
}

#[test]
fn shredded_customer_never_opens_again_even_after_restore() -> TestResult {
    let custody = custody()?;
    let at = instant(100)?;
    let victim = customer(5)?;
    let bystander = customer(6)?;
    let record = custody.seal(&meta(victim, at)?, b"gone")?;
    let other = custody.seal(&meta(bystander, at)?, b"stays")?;
    // Warm the opening cache first: shredding must empty it too.
    custody.dangerous_open_with_gate(&record, &request()?, allow)?;
    custody.shred(victim)?;
    // Even a gate that allows everything gets nothing.
    let error = custody
        .dangerous_open_with_gate(&record, &request()?, allow)
        .unwrap_err();
    assert!(
        matches!(error, LogsError::Open(OpenError::Shredded)),
        "{error}"
    );
    assert_eq!(error.clause(), Some(ClauseId::LogsEncrypted));
    assert_eq!(
        custody
            .dangerous_open_with_gate(&other, &request()?, allow)?
            .as_bytes(),
        b"stays"
    );
    // A customer who comes back seals under a new key generation; the shred still holds for
    // everything sealed before it.
    let returned = custody.seal(&meta(victim, at)?, b"new")?;
    assert_eq!(
        custody
            .dangerous_open_with_gate(&returned, &request()?, allow)?
            .as_bytes(),
        b"new"
    );
    assert!(matches!(
        custody.dangerous_open_with_gate(&record, &request()?, allow),
        Err(LogsError::Open(OpenError::Shredded))
    ));
    let events: Vec<AuditEvent> = custody
        .audit()
        .unwrap()
        .store()
        .as_slice()
        .iter()
        .map(|chained| chained.entry().event().clone())
        .collect();
    assert_eq!(
        events.get(1),
        Some(&AuditEvent::CustomerShreddedThrough {
            customer: victim,
            through: Some(KeyVersion::FIRST)
        })
    );
    let outcome = custody.audit().unwrap().store().as_slice().to_vec()[2]
        .entry()
        .access()
        .unwrap()
        .outcome();
    assert_eq!(outcome, AuditOutcome::Failed(OpenFailure::Shredded));

    let restored = custody_over(
        restored_keyring(&custody)?,
        MemoryAuditStore::new(),
        clock()?,
        SealConfig::default(),
    )?;
    assert!(matches!(
        restored.dangerous_open_with_gate(&record, &request()?, allow),
        Err(LogsError::Open(OpenError::Shredded))
    ));
    assert_eq!(
        restored
            .dangerous_open_with_gate(&returned, &request()?, allow)?
            .as_bytes(),
        b"new"
    );
    assert!(matches!(
        restored.dangerous_open_with_gate(&record, &request()?, allow),
        Err(LogsError::Open(OpenError::Shredded))
    ));
    let entries = restored.audit().unwrap().store().as_slice().to_vec();
    let last = entries.last().unwrap().entry();
    assert_eq!(
        last.access().unwrap().outcome(),
        AuditOutcome::Failed(OpenFailure::Shredded)
    );
    Ok(())
}

#[test]
fn key_version_limit_is_enforced_until_rotation() -> TestResult {
    let config = SealConfig::default()
        .with_records_per_session(2)?
        .with_records_per_key_version(5)?;
    let custody = custody_with(config)?;
    let customer = customer(9)?;
    let at = instant(0)?;
    for _ in 0..5 {
        custody.seal(&meta(customer, at)?, b"x")?;
    }
    assert!(matches!(
        custody.seal(&meta(customer, at)?, b"x"),
        Err(LogsError::Key(KeyError::DataKeyExhausted { version })) if version == KeyVersion::FIRST
    ));
    custody.rotate_data_key(customer)?;
    assert_eq!(
        custody
            .seal(&meta(customer, at)?, b"x")?
            .header()
            .key_version()
            .get(),
        2
    );
    Ok(())
}

#[test]
fn sessions_roll_over_to_a_fresh_salt_and_every_nonce_is_unique() -> TestResult {
    let config = SealConfig::default().with_records_per_session(3)?;
    let custody = custody_with(config)?;
    let at = instant(0)?;
    let mut seen = HashSet::new();
    let mut salts = HashSet::new();
    for _ in 0..10 {
        let record = custody.seal(&meta(customer(1)?, at)?, b"x")?;
        // Bytes 52..84 are the salt and 84..96 the nonce (docs/record-format.md).
        let bytes = record.as_bytes();
        salts.insert(bytes[52..84].to_vec());
        assert!(
            seen.insert(bytes[52..96].to_vec()),
            "a (salt, nonce) pair repeated"
        );
    }
    assert_eq!(
        salts.len(),
        4,
        "3 records per session: 10 records use 4 sessions"
    );
    Ok(())
}

#[test]
fn denials_are_typed_cite_their_clause_and_are_audited() -> TestResult {
    let custody = custody()?;
    let roster = roster()?;
    let model = policy_gate(&roster);
    let at = instant(100)?;
    let record = custody.seal(&meta(customer(1)?, at)?, b"body")?;
    let ask = |steward: &str, purpose, justification: &str| -> TestResult<AccessRequest> {
        Ok(AccessRequest::with_justification_text(
            steward.parse()?,
            purpose,
            justification,
        ))
    };
    // (request, a refusal the gate returns whatever the request, or `None` to ask the model
    // of the logs clauses, the denial expected, its clause)
    let cases = [
        (
            ask("mallory", Purpose::Troubleshooting, "T-1")?,
            None,
            Denial::NotOnRoster,
            ClauseId::LogsAccess,
        ),
        (
            ask(STEWARD, Purpose::Marketing, "T-1")?,
            None,
            Denial::PurposeNotForLogs {
                purpose: Purpose::Marketing,
            },
            ClauseId::LogsPurposes,
        ),
        (
            ask(STEWARD, Purpose::ServiceAnalysis, "T-1")?,
            None,
            Denial::PurposeNotForLogs {
                purpose: Purpose::ServiceAnalysis,
            },
            ClauseId::LogsPurposes,
        ),
        (
            ask(STEWARD, Purpose::CustomerSupport, "  \t ")?,
            None,
            Denial::MissingJustification,
            ClauseId::LogsAccess,
        ),
        (
            request()?,
            Some(Denial::PurposeNotAllowedByPolicy {
                purpose: Purpose::Troubleshooting,
            }),
            Denial::PurposeNotAllowedByPolicy {
                purpose: Purpose::Troubleshooting,
            },
            ClauseId::LogsPurposes,
        ),
        (
            request()?,
            Some(Denial::RetentionEnded),
            Denial::RetentionEnded,
            ClauseId::LogsRetention,
        ),
        (
            request()?,
            Some(Denial::KeptOnlyByLegalHold),
            Denial::KeptOnlyByLegalHold,
            ClauseId::LogsRetention,
        ),
        (
            request()?,
            Some(Denial::Refused {
                clause: ClauseId::PolicyVersioned,
            }),
            Denial::Refused {
                clause: ClauseId::PolicyVersioned,
            },
            ClauseId::PolicyVersioned,
        ),
    ];
    for (index, (request, refusal, expected, clause)) in cases.into_iter().enumerate() {
        let result = match refusal {
            Some(denial) => custody.dangerous_open_with_gate(&record, &request, refuse(denial)),
            None => custody.dangerous_open_with_gate(&record, &request, &model),
        };
        let error = result.unwrap_err();
        match &error {
            LogsError::Open(OpenError::Denied { denial }) => assert_eq!(*denial, expected),
            other => panic!("expected a denial, got {other}"),
        }
        assert_eq!(error.clause(), Some(clause));
        assert!(error.to_string().contains(clause.as_str()), "{error}");
        let entries = custody.audit().unwrap().store().as_slice().to_vec();
        assert_eq!(entries.len(), index + 1);
        let access = entries[index].entry().access().unwrap();
        assert_eq!(access.outcome(), AuditOutcome::Denied(expected));
        assert_eq!(access.steward(), request.steward());
        assert_eq!(access.purpose(), request.purpose());
        assert_eq!(access.record(), record.header().record_id());
    }
    // The model allows its steward: the gate, not custody, decided the refusals above.
    assert_eq!(
        custody
            .dangerous_open_with_gate(&record, &request()?, &model)?
            .as_bytes(),
        b"body"
    );
    custody.audit().unwrap().verify()?;
    Ok(())
}

#[test]
fn a_refused_request_never_reaches_decryption() -> TestResult {
    let custody = custody()?;
    let record = custody.seal(&meta(customer(1)?, instant(5)?)?, b"body")?;
    let mut bytes = record.into_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = SealedRecord::from_bytes(&bytes)?;
    // Refused before decryption: the outcome is the gate's denial, not a failed open.
    let error = custody
        .dangerous_open_with_gate(&tampered, &request()?, refuse(Denial::NotOnRoster))
        .unwrap_err();
    assert!(
        matches!(
            error,
            LogsError::Open(OpenError::Denied {
                denial: Denial::NotOnRoster
            })
        ),
        "{error}"
    );
    let outcome = custody.audit().unwrap().store().as_slice().to_vec()[0]
        .entry()
        .access()
        .unwrap()
        .outcome();
    assert_eq!(outcome, AuditOutcome::Denied(Denial::NotOnRoster));
    Ok(())
}

#[test]
fn the_gate_decides_on_the_request_the_claimed_header_and_the_trail_instant() -> TestResult {
    let custody = custody()?;
    let owner = customer(3)?;
    let record = custody.seal(&meta(owner, instant(5)?)?, b"body")?;
    let request = request()?;
    let mut seen = None;
    custody.dangerous_open_with_gate(&record, &request, |query| {
        seen = Some((
            query.request().clone(),
            query.header().record_id(),
            query.header().customer(),
            query.now(),
        ));
        Ok(())
    })?;
    let (asked, record_id, customer, now) = seen.unwrap();
    assert_eq!(asked, request);
    assert_eq!(record_id, record.header().record_id());
    assert_eq!(customer, owner);
    let entries = custody.audit().unwrap().store().as_slice().to_vec();
    let entry = entries[0].entry();
    assert_eq!(entry.at(), now, "the gate decided at another instant");
    assert_eq!(entry.access().unwrap().record(), record_id);
    Ok(())
}

#[test]
fn a_failed_audit_write_returns_no_plaintext() -> TestResult {
    let store = ProbeStore::default();
    let custody = custody_over(
        Keyring::new(master_key()?),
        store.clone(),
        clock()?,
        SealConfig::default(),
    )?;
    let record = custody.seal(&meta(customer(1)?, instant(100)?)?, b"body")?;

    let body = custody.dangerous_open_with_gate(&record, &request()?, allow)?;
    // The entry is in the store while the plaintext is held: it was written first.
    assert_eq!(store.len(), 1);
    assert_eq!(body.as_bytes(), b"body");
    let newest = store.newest().unwrap();
    let access = newest.entry().access().unwrap();
    assert_eq!(access.outcome(), AuditOutcome::Opened);
    assert_eq!(access.customer(), record.header().customer());
    assert_eq!(access.key_version(), KeyVersion::FIRST);
    assert_eq!(access.justification().unwrap().as_str(), "TICKET-4711");
    drop(body);

    store.set_fault(Fault::RefuseAppends);
    let error = custody
        .dangerous_open_with_gate(&record, &request()?, allow)
        .unwrap_err();
    assert!(
        matches!(error, LogsError::Audit(AuditError::Unavailable { .. })),
        "{error}"
    );
    assert_eq!(store.len(), 1);
    // A refusal that cannot be audited is still refused.
    assert!(
        custody
            .dangerous_open_with_gate(&record, &request()?, refuse(Denial::NotOnRoster))
            .is_err()
    );

    store.set_fault(Fault::Healthy);
    custody.dangerous_open_with_gate(&record, &request()?, allow)?;
    assert_eq!(store.len(), 2);
    assert_eq!(custody.audit().unwrap().verify()?.entries(), 2);
    Ok(())
}

/// Replaces `clock_going_backwards_refuses_the_entry_and_the_plaintext`: requests carry no
/// instant any more, and a clock that goes back neither blocks the trail nor reorders it.
#[test]
fn a_caller_cannot_supply_the_audit_trail_or_its_instants() -> TestResult {
    let start = instant(START_SECONDS)?;
    let clock = clock()?;
    let custody = custody_over(
        Keyring::new(master_key()?),
        MemoryAuditStore::new(),
        clock.clone(),
        SealConfig::default(),
    )?;
    let owner = customer(1)?;
    let record = custody.seal(&meta(owner, start)?, b"body")?;
    custody.dangerous_open_with_gate(&record, &request()?, allow)?;

    // The clock falls back to 1970: every entry is still dated after the one before it.
    clock.set(instant(0)?);
    let mut seen = None;
    let body = custody.dangerous_open_with_gate(&record, &request()?, |query| {
        seen = Some(query.now());
        Ok(())
    })?;
    assert_eq!(body.as_bytes(), b"body");
    assert!(
        custody
            .dangerous_open_with_gate(&record, &request()?, refuse(Denial::NotOnRoster))
            .is_err()
    );
    custody.rotate_data_key(owner)?;
    let expected: Vec<Timestamp> = (0..4).map(|n| plus_nanos(start, n)).collect();
    assert_eq!(instants(&custody)?, expected);
    assert_eq!(seen, Some(plus_nanos(start, 1)));

    // A clock that moves on again is followed to the nanosecond.
    let later = instant(START_SECONDS + 3_600)?;
    clock.set(later);
    custody.shred(owner)?;
    assert_eq!(instants(&custody)?.last(), Some(&later));
    assert_eq!(custody.audit().unwrap().verify()?.entries(), 5);

    // A restart over the same store, with a clock still in 1970, continues after the newest
    // entry rather than before it.
    let restarted = custody_over(
        restored_keyring(&custody)?,
        custody.audit().unwrap().store().clone(),
        ManualClock::new(instant(0)?),
        SealConfig::default(),
    )?;
    assert!(matches!(
        restarted.dangerous_open_with_gate(&record, &request()?, allow),
        Err(LogsError::Open(OpenError::Shredded))
    ));
    assert_eq!(instants(&restarted)?.last(), Some(&plus_nanos(later, 1)));
    assert_eq!(restarted.audit()?.verify()?.entries(), 6);
    Ok(())
}

#[test]
fn an_ambiguous_store_failure_never_reuses_a_sequence_number() -> TestResult {
    let store = ProbeStore::default();
    let custody = custody_over(
        Keyring::new(master_key()?),
        store.clone(),
        clock()?,
        SealConfig::default(),
    )?;
    let record = custody.seal(&meta(customer(1)?, instant(100)?)?, b"body")?;
    custody.dangerous_open_with_gate(&record, &request()?, allow)?;

    // Committed but reported failed: fail closed, and continue after the stored entry.
    store.set_fault(Fault::LoseNextAck);
    let error = custody
        .dangerous_open_with_gate(&record, &request()?, allow)
        .unwrap_err();
    assert!(
        matches!(error, LogsError::Audit(AuditError::Unavailable { .. })),
        "{error}"
    );
    assert_eq!(store.len(), 2, "the store kept the entry it reported lost");
    assert_eq!(
        custody
            .dangerous_open_with_gate(&record, &request()?, allow)?
            .as_bytes(),
        b"body"
    );

    // Committed, reported failed, and the store then unreachable: the trail cannot learn its
    // head at once, and must not guess it.
    store.set_fault(Fault::LoseNextAckThenGoDown);
    assert!(matches!(
        custody.dangerous_open_with_gate(&record, &request()?, allow),
        Err(LogsError::Audit(AuditError::Unavailable { .. }))
    ));
    assert!(matches!(
        custody.dangerous_open_with_gate(&record, &request()?, allow),
        Err(LogsError::Audit(AuditError::Unavailable { .. }))
    ));
    assert_eq!(store.len(), 4);
    store.set_fault(Fault::Healthy);
    assert_eq!(
        custody
            .dangerous_open_with_gate(&record, &request()?, allow)?
            .as_bytes(),
        b"body"
    );

    let stored = store.stored();
    let sequences: Vec<u64> = stored.iter().map(|chained| chained.sequence()).collect();
    assert_eq!(sequences, [0, 1, 2, 3, 4]);
    assert_eq!(custody.audit().unwrap().verify()?.entries(), 5);
    assert_eq!(custody.audit().unwrap().head().entries(), 5);
    Ok(())
}

#[test]
fn a_store_that_fails_then_recovers_continues_one_chain() -> TestResult {
    let store = ProbeStore::default();
    let custody = custody_over(
        Keyring::new(master_key()?),
        store.clone(),
        clock()?,
        SealConfig::default(),
    )?;
    let owner = customer(1)?;
    let record = custody.seal(&meta(owner, instant(100)?)?, b"body")?;
    custody.dangerous_open_with_gate(&record, &request()?, allow)?;

    store.set_fault(Fault::Down);
    for _ in 0..3 {
        assert!(matches!(
            custody.dangerous_open_with_gate(&record, &request()?, allow),
            Err(LogsError::Audit(AuditError::Unavailable { .. }))
        ));
    }
    // A shred that cannot be audited shreds nothing.
    assert!(matches!(
        custody.shred(owner),
        Err(LogsError::Audit(AuditError::Unavailable { .. }))
    ));
    assert!(matches!(
        custody.audit().unwrap().verify(),
        Err(LogsError::Audit(AuditError::Unavailable { .. }))
    ));
    assert_eq!(store.len(), 1);

    store.set_fault(Fault::Healthy);
    assert_eq!(
        custody
            .dangerous_open_with_gate(&record, &request()?, allow)?
            .as_bytes(),
        b"body"
    );
    custody.shred(owner)?;
    assert!(matches!(
        custody.dangerous_open_with_gate(&record, &request()?, allow),
        Err(LogsError::Open(OpenError::Shredded))
    ));
    let sequences: Vec<u64> = store
        .stored()
        .iter()
        .map(|chained| chained.sequence())
        .collect();
    assert_eq!(sequences, [0, 1, 2, 3]);
    assert_eq!(custody.audit().unwrap().verify()?.entries(), 4);
    Ok(())
}

#[test]
fn concurrent_opens_on_a_shared_custody_are_each_audited_in_one_chain() -> TestResult {
    const THREADS: usize = 4;
    const OPENS: usize = 50;
    let clock = clock()?;
    let custody = custody_over(
        Keyring::new(master_key()?),
        MemoryAuditStore::new(),
        clock.clone(),
        SealConfig::default(),
    )?;
    let record = Arc::new(custody.seal(&meta(customer(1)?, instant(100)?)?, b"body")?);
    // Shared by reference: no lock around the custody.
    let custody = Arc::new(custody);
    let mut handles = Vec::new();
    for thread in 0..THREADS {
        let steward: StewardId = format!("steward-{thread}").parse()?;
        let request = AccessRequest::new(steward, Purpose::Reliability, Some("INC-7".parse()?));
        let (custody, record, clock) = (Arc::clone(&custody), Arc::clone(&record), clock.clone());
        handles.push(thread::spawn(move || -> Result<(), LogsError> {
            for open in 0..OPENS {
                // Each thread moves the shared clock to its own idea of now, backwards as
                // often as not: the instants callers would have supplied.
                let offset = i64::try_from(THREADS * (OPENS - open) + thread).unwrap_or(0);
                clock.set(Timestamp::from_unix_nanos(
                    START_SECONDS * 1_000_000_000 + offset * 1_000,
                ));
                let body = custody.dangerous_open_with_gate(&record, &request, allow)?;
                assert_eq!(body.as_bytes(), b"body");
            }
            Ok(())
        }));
    }
    for handle in handles {
        handle.join().unwrap()?;
    }

    let entries = custody.audit().unwrap().store().as_slice().to_vec();
    assert_eq!(entries.len(), THREADS * OPENS);
    let mut per_steward = BTreeMap::new();
    for chained in &entries {
        let access = chained.entry().access().unwrap();
        assert_eq!(access.outcome(), AuditOutcome::Opened);
        *per_steward.entry(access.steward().clone()).or_insert(0) += 1;
    }
    assert_eq!(per_steward.len(), THREADS);
    assert!(per_steward.values().all(|opens| *opens == OPENS));
    assert!(
        entries
            .windows(2)
            .all(|pair| pair[0].entry().at() < pair[1].entry().at())
    );
    assert_eq!(
        custody.audit().unwrap().verify()?.entries(),
        u64::try_from(THREADS * OPENS)?
    );
    Ok(())
}

/// A key store whose shreds fail while `dead` is set (the process died between a shred's
/// audit entry and the deletion of the keys), and keep nothing otherwise.
#[derive(Debug, Default)]
struct DiesInShred {
    dead: AtomicBool,
}

impl KeyStore for DiesInShred {
    fn put_data_key(&self, _key: &WrappedDataKey) -> Result<KeyAdmission, BoxError> {
        Ok(KeyAdmission::Stored)
    }

    fn shred(&self, _customer: CustomerId, _tombstone: Tombstone) -> Result<(), BoxError> {
        if self.dead.load(Ordering::SeqCst) {
            return Err("died before the keys were deleted".into());
        }
        Ok(())
    }

    fn rewrap(&self, _keys: &[WrappedDataKey]) -> Result<(), BoxError> {
        Ok(())
    }
}

#[test]
fn a_shred_entry_above_its_tombstone_is_completed_once_and_audited() -> TestResult {
    let store = Arc::new(DiesInShred::default());
    let custody = custody()?.with_key_store(store.clone());
    let (victim, bystander) = (customer(7)?, customer(8)?);
    let at = instant(100)?;
    // A first shred completes (tombstone v1); the customer returns under v2 and is shredded
    // again, and that shred dies after its entry.
    custody.seal(&meta(victim, at)?, b"first generation")?;
    custody.shred(victim)?;
    let second = custody.seal(&meta(victim, at)?, b"second generation")?;
    let other = custody.seal(&meta(bystander, at)?, b"stays")?;
    store.dead.store(true, Ordering::SeqCst);
    assert!(matches!(
        custody.shred(victim),
        Err(LogsError::Key(KeyError::StoreUnavailable { .. }))
    ));
    // The next start: the key store works again.
    store.dead.store(false, Ordering::SeqCst);

    let entries = custody.audit()?.store().as_slice().to_vec();
    let v2 = KeyVersion::new(2)?;
    assert_eq!(custody.complete_pending_shreds(&entries)?, [victim]);
    assert!(matches!(
        custody.dangerous_open_with_gate(&second, &request()?, allow),
        Err(LogsError::Open(OpenError::Shredded))
    ));
    assert_eq!(
        custody
            .dangerous_open_with_gate(&other, &request()?, allow)?
            .as_bytes(),
        b"stays"
    );
    let completions: Vec<AuditEvent> = custody
        .audit()?
        .store()
        .as_slice()
        .iter()
        .map(|chained| chained.entry().event().clone())
        .filter(|event| matches!(event, AuditEvent::ShredCompletedAtStartUp { .. }))
        .collect();
    // Only the second shred was pending: the first one's tombstone covers what it asked.
    assert_eq!(
        completions,
        [AuditEvent::ShredCompletedAtStartUp {
            customer: victim,
            through: Some(v2)
        }]
    );
    custody.audit()?.verify()?;
    let entries = custody.audit()?.store().as_slice().to_vec();
    assert!(custody.complete_pending_shreds(&entries)?.is_empty());
    Ok(())
}

#[test]
fn a_shred_entry_chained_under_another_key_shreds_nothing() -> TestResult {
    let custody = custody()?;
    let victim = customer(9)?;
    let record = custody.seal(&meta(victim, instant(100)?)?, b"body")?;
    let forger = Custody::new(
        Keyring::new(master_key()?),
        steward_logs::AuditTrail::new(
            steward_logs::AuditKey::from_bytes(b"steward test key 99, not secret!")?,
            MemoryAuditStore::new(),
        )?,
    );
    forger.shred(victim)?;
    let forged = forger.audit()?.store().as_slice().to_vec();
    assert!(matches!(
        custody.complete_pending_shreds(&forged),
        Err(LogsError::Audit(AuditError::ChainBroken { .. }))
    ));
    assert_eq!(
        custody
            .dangerous_open_with_gate(&record, &request()?, allow)?
            .as_bytes(),
        b"body"
    );
    Ok(())
}

#[test]
fn key_events_and_roster_changes_are_audited_in_one_chain() -> TestResult {
    let custody = custody()?;
    let owner = customer(4)?;
    let record = custody.seal(&meta(owner, instant(5)?)?, b"body")?;
    let admin = "dana.admin".parse()?;
    custody.audit_roster_change(RosterChange::Added(STEWARD.parse()?), admin)?;
    let version = custody.rotate_data_key(owner)?;
    custody.rotate_master_key(MasterKey::from_bytes(
        "kek-2".parse()?,
        b"steward test key 43, not secret!",
    )?)?;
    custody.dangerous_open_with_gate(&record, &request()?, allow)?;
    custody.audit_roster_change(
        RosterChange::Removed(STEWARD.parse()?),
        "dana.admin".parse()?,
    )?;
    custody.shred(owner)?;
    let events: Vec<AuditEvent> = custody
        .audit()
        .unwrap()
        .store()
        .as_slice()
        .iter()
        .map(|chained| chained.entry().event().clone())
        .collect();
    assert_eq!(events.len(), 6);
    assert_eq!(
        events[0],
        AuditEvent::RosterChanged {
            change: RosterChange::Added(STEWARD.parse()?),
            by: "dana.admin".parse()?,
        }
    );
    assert_eq!(
        events[1],
        AuditEvent::DataKeyRotated {
            customer: owner,
            version
        }
    );
    assert_eq!(
        events[2],
        AuditEvent::MasterKeyRotated {
            to: "kek-2".parse()?
        }
    );
    assert!(matches!(events[3], AuditEvent::Access(_)));
    assert!(matches!(
        &events[4],
        AuditEvent::RosterChanged {
            change: RosterChange::Removed(_),
            ..
        }
    ));
    assert_eq!(
        events[5],
        AuditEvent::CustomerShreddedThrough {
            customer: owner,
            through: Some(version)
        }
    );
    assert_eq!(custody.audit().unwrap().verify()?.entries(), 6);
    Ok(())
}

#[test]
fn tampered_record_is_audited_as_a_failure() -> TestResult {
    let custody = custody()?;
    let record = custody.seal(&meta(customer(1)?, instant(5)?)?, b"body")?;
    let mut bytes = record.into_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = SealedRecord::from_bytes(&bytes)?;
    let error = custody
        .dangerous_open_with_gate(&tampered, &request()?, allow)
        .unwrap_err();
    assert!(
        matches!(error, LogsError::Open(OpenError::AuthenticationFailed)),
        "{error}"
    );
    let outcome = custody.audit().unwrap().store().as_slice().to_vec()[0]
        .entry()
        .access()
        .unwrap()
        .outcome();
    assert_eq!(outcome, AuditOutcome::Failed(OpenFailure::Tampered));
    Ok(())
}

#[test]
fn record_of_an_unknown_version_is_a_typed_error() -> TestResult {
    let custody = custody()?;
    let record = custody.seal(&meta(customer(1)?, instant(5)?)?, b"body")?;
    let mut bytes = record.into_bytes();
    bytes[43] = 9; // key version 9 (bytes 40..44)
    let forged = SealedRecord::from_bytes(&bytes)?;
    assert!(matches!(
        custody.dangerous_open_with_gate(&forged, &request()?, allow),
        Err(LogsError::Open(OpenError::UnknownKeyVersion { version })) if version.get() == 9
    ));
    let outcome = custody.audit().unwrap().store().as_slice().to_vec()[0]
        .entry()
        .access()
        .unwrap()
        .outcome();
    assert_eq!(
        outcome,
        AuditOutcome::Failed(OpenFailure::UnknownKeyVersion)
    );
    Ok(())
}

#[test]
fn debug_output_reveals_no_secrets() -> TestResult {
    let custody = custody()?;
    let record = custody.seal(&meta(customer(1)?, instant(5)?)?, b"super secret body")?;
    let body = custody.dangerous_open_with_gate(&record, &request()?, allow)?;
    for text in [
        format!("{custody:?}"),
        format!("{body:?}"),
        format!("{record:?}"),
        format!("{:?}", custody.audit()),
        format!("{:?}", custody.keyring().unwrap().snapshot()),
    ] {
        assert!(!text.contains("super secret"), "{text}");
        // The master and audit keys, in hex and as byte lists (8 hex digits: a chain hash in
        // the output holds a shorter run by chance now and then).
        assert!(!text.contains("42424242"), "{text}");
        assert!(!text.contains("66, 66, 66"), "{text}");
        assert!(!text.contains("17171717"), "{text}");
        assert!(!text.contains("23, 23, 23"), "{text}");
    }
    Ok(())
}

#[test]
fn every_single_bit_flip_of_a_record_is_rejected() -> TestResult {
    // Exhaustive companion of the proptest: all 8 bits of all bytes of one record.
    let custody = custody()?;
    let bytes = custody
        .seal(&meta(customer(1)?, instant(5)?)?, b"short body")?
        .into_bytes();
    let request = request()?;
    for index in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[index] ^= 1 << bit;
            if let Ok(record) = SealedRecord::from_bytes(&flipped) {
                assert!(
                    custody
                        .dangerous_open_with_gate(&record, &request, allow)
                        .is_err(),
                    "byte {index} bit {bit} opened"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn out_of_range_limits_are_configuration_errors() {
    for records in [0, SealConfig::MAX_RECORDS_PER_SESSION + 1] {
        assert!(matches!(
            SealConfig::default().with_records_per_session(records),
            Err(LogsError::Config(ConfigError::InvalidConfig { .. }))
        ));
    }
    assert!(
        SealConfig::default()
            .with_records_per_session(SealConfig::MAX_RECORDS_PER_SESSION)
            .is_ok()
    );
    assert!(matches!(
        SealConfig::default().with_records_per_key_version(0),
        Err(LogsError::Config(ConfigError::InvalidConfig { .. }))
    ));
}

/// Many threads seal for many customers while others open, rotate and shred, all on one
/// shared custody: every sealed record of a customer not shredded opens, nothing sealed for
/// the shredded one before the shred opens, no (session, nonce) pair repeats, and the audit
/// chain verifies.
#[test]
fn concurrent_seals_opens_rotations_and_a_shred_keep_nonces_unique() -> TestResult {
    const SEALERS: u128 = 4;
    const CUSTOMERS_PER_SEALER: u128 = 6;
    const RECORDS: usize = 150;
    let custody = Arc::new(custody()?);
    let victim = customer(1)?;
    let first = custody.seal(&meta(victim, instant(100)?)?, b"before the shred")?;

    let mut sealers = Vec::new();
    for sealer in 0..SEALERS {
        let custody = Arc::clone(&custody);
        sealers.push(thread::spawn(
            move || -> Result<Vec<SealedRecord>, LogsError> {
                let mut sealed = Vec::new();
                for index in 0..RECORDS {
                    let n =
                        10 + sealer * CUSTOMERS_PER_SEALER + (index as u128 % CUSTOMERS_PER_SEALER);
                    let owner = customer(n).map_err(|_| LogsError::Poisoned)?;
                    let at =
                        Timestamp::from_unix_seconds(1_750_000_000).map_err(LogsError::from)?;
                    let record = custody.seal(
                        &SealInput::new(RecordId::generate_at(at), owner, at, TrainingLevel::None),
                        &index.to_be_bytes(),
                    )?;
                    sealed.push(record);
                }
                Ok(sealed)
            },
        ));
    }
    let rotator = {
        let custody = Arc::clone(&custody);
        thread::spawn(move || -> Result<(), LogsError> {
            for round in 0..20u128 {
                let owner = customer(10 + round % (SEALERS * CUSTOMERS_PER_SEALER))
                    .map_err(|_| LogsError::Poisoned)?;
                custody.rotate_data_key(owner)?;
            }
            Ok(())
        })
    };
    let opener = {
        let custody = Arc::clone(&custody);
        let first = first.clone();
        thread::spawn(move || -> Result<usize, LogsError> {
            let request = AccessRequest::with_justification_text(
                STEWARD.parse().map_err(LogsError::from)?,
                Purpose::Troubleshooting,
                "INC-9",
            );
            let mut opened = 0;
            for _ in 0..50 {
                if custody
                    .dangerous_open_with_gate(&first, &request, allow)
                    .is_ok()
                {
                    opened += 1;
                }
            }
            Ok(opened)
        })
    };
    custody.shred(victim)?;
    let mut all = Vec::new();
    for sealer in sealers {
        all.extend(sealer.join().unwrap()?);
    }
    rotator.join().unwrap()?;
    let _opened_before_the_shred = opener.join().unwrap()?;

    let mut pairs = HashSet::new();
    for record in &all {
        let bytes = record.as_bytes();
        // The session salt (bytes 52..84) names the session key; the nonce is bytes 84..96.
        assert!(
            pairs.insert((bytes[52..84].to_vec(), bytes[84..96].to_vec())),
            "a (session, nonce) pair repeated"
        );
        let opened = custody.dangerous_open_with_gate(record, &request()?, allow)?;
        assert_eq!(opened.header().record_id(), record.header().record_id());
    }
    assert_eq!(all.len(), SEALERS as usize * RECORDS);
    assert!(matches!(
        custody.dangerous_open_with_gate(&first, &request()?, allow),
        Err(LogsError::Open(OpenError::Shredded))
    ));
    custody.audit().unwrap().verify()?;
    Ok(())
}

/// A shred racing opens (while another thread seals for the same customer): once the
/// shred's entry is in the trail, no open of that customer's records is audited as opened,
/// and none returns plaintext after the shred returned.
#[test]
fn no_open_is_audited_as_opened_after_a_racing_shred() -> TestResult {
    for _round in 0..10 {
        let custody = Arc::new(custody()?);
        let victim = customer(7)?;
        let record = custody.seal(&meta(victim, instant(100)?)?, &[0x5a; 4096])?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sealer = {
            let (custody, stop) = (Arc::clone(&custody), Arc::clone(&stop));
            thread::spawn(move || -> Result<(), LogsError> {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let at =
                        Timestamp::from_unix_seconds(1_750_000_000).map_err(LogsError::from)?;
                    let input =
                        SealInput::new(RecordId::generate_at(at), victim, at, TrainingLevel::None);
                    custody.seal(&input, &[0x11; 16_384])?;
                }
                Ok(())
            })
        };
        let opener = {
            let (custody, record, stop) = (Arc::clone(&custody), record.clone(), Arc::clone(&stop));
            thread::spawn(move || {
                let request = AccessRequest::with_justification_text(
                    "alice.ops".parse().unwrap(),
                    Purpose::Troubleshooting,
                    "INC-1",
                );
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = custody.dangerous_open_with_gate(&record, &request, allow);
                }
            })
        };
        thread::sleep(std::time::Duration::from_millis(5));
        custody.shred(victim)?;
        assert!(matches!(
            custody.dangerous_open_with_gate(&record, &request()?, allow),
            Err(LogsError::Open(OpenError::Shredded))
        ));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        sealer.join().unwrap()?;
        opener.join().unwrap();
        let entries = custody.audit()?.store().as_slice().to_vec();
        let shred_at = entries
            .iter()
            .position(|chained| {
                chained
                    .entry()
                    .event()
                    .shred_request()
                    .is_some_and(|(customer, _)| customer == victim)
            })
            .unwrap();
        assert!(
            entries[shred_at..].iter().all(|chained| {
                chained
                    .entry()
                    .access()
                    .is_none_or(|access| access.outcome() != AuditOutcome::Opened)
            }),
            "an open was audited as opened after the shred's entry"
        );
    }
    Ok(())
}

/// Custody's export path checks the authenticated level against the job's scope itself: a
/// grant for a shared job does not open a record sealed without consent, whatever the caller
/// decided.
#[test]
fn an_export_grant_opens_only_what_the_authenticated_level_permits() -> TestResult {
    let custody = custody()?;
    let owner = customer(3)?;
    let at = instant(100)?;
    let none = custody.seal(
        &SealInput::new(RecordId::generate_at(at), owner, at, TrainingLevel::None),
        b"never for training",
    )?;
    let shared = custody.seal(
        &SealInput::new(RecordId::generate_at(at), owner, at, TrainingLevel::Shared),
        b"shared",
    )?;
    let (plan, planned) = plan_naming(at, &[&none, &shared])?;
    let mut grant = custody.begin_export(plan, planned)?;
    assert!(custody.open_for_export(&mut grant, &none).is_err());
    assert_eq!(
        custody.open_for_export(&mut grant, &shared)?.as_bytes(),
        b"shared"
    );
    let outcome = custody.finish_export(grant)?;
    assert_eq!((outcome.counts.exported, outcome.counts.consent), (1, 1));
    // The planned record it did not export is reported, with why.
    assert_eq!(
        outcome.not_exported,
        [steward_logs::NotExported {
            record: none.header().record_id(),
            reason: steward_logs::SkipReason::Consent,
        }]
    );
    Ok(())
}

/// A shared-scope plan at `at` naming exactly `records`, and the ids it names.
fn plan_naming(
    at: Timestamp,
    records: &[&SealedRecord],
) -> TestResult<(steward_logs::ExportPlan, steward_logs::PlannedRecords)> {
    let mut planned = steward_logs::PlannedRecords::new();
    for record in records {
        planned.add(record.header().record_id());
    }
    let plan = steward_logs::ExportPlan {
        job: steward_logs::ExportJobId::generate_at(at),
        scope: steward_core::TrainingScope::Shared,
        policy_version: "2025-03-05".parse()?,
        at,
        counts: steward_logs::ExportCounts {
            exported: u64::try_from(planned.len())?,
            ..steward_logs::ExportCounts::default()
        },
        digest: planned.digest(),
    };
    Ok((plan, planned))
}

/// A grant decrypts exactly the records its audited plan names: one that arrived after the
/// plan is refused and counted, never decrypted, and a planned one the run never met is
/// reported missing, in the outcome and in the trail's counts.
#[test]
fn an_export_grant_opens_only_the_records_its_plan_names_and_reports_the_missing() -> TestResult {
    let custody = custody()?;
    let owner = customer(4)?;
    let at = instant(100)?;
    let seal = |body: &[u8]| {
        custody.seal(
            &SealInput::new(RecordId::generate_at(at), owner, at, TrainingLevel::Shared),
            body,
        )
    };
    let (planned_one, planned_two, arrived_later) = (seal(b"one")?, seal(b"two")?, seal(b"late")?);
    let (plan, planned) = plan_naming(at, &[&planned_one, &planned_two])?;
    let mut grant = custody.begin_export(plan, planned)?;
    assert!(custody.open_for_export(&mut grant, &arrived_later).is_err());
    assert_eq!(
        custody
            .open_for_export(&mut grant, &planned_one)?
            .as_bytes(),
        b"one"
    );
    // Met twice: exported once.
    assert!(custody.open_for_export(&mut grant, &planned_one).is_err());
    let outcome = custody.finish_export(grant)?;
    assert_eq!(outcome.counts.exported, 1);
    assert_eq!(outcome.counts.not_planned, 2);
    assert_eq!(outcome.counts.missing, 1);
    assert!(!outcome.matches_plan());
    assert_eq!(
        outcome.not_exported,
        [steward_logs::NotExported {
            record: planned_two.header().record_id(),
            reason: steward_logs::SkipReason::Missing,
        }]
    );
    Ok(())
}

/// What a run step does with a record: decrypt it, or leave it out for consent.
#[derive(Debug, Clone, Copy)]
enum RunStep {
    Open(usize),
    LeaveOut(usize),
}

/// The grant against a naive model: whatever order and repeats the plan and the run have,
/// the grant opens a record exactly once, if its plan names it, and reports every planned
/// record it did not export once, at its first place in the plan, with its reason.
fn a_grant_matches_its_model(plan: &[usize], run: &[RunStep]) -> TestResult {
    let custody = custody()?;
    let owner = customer(6)?;
    let at = instant(100)?;
    let pool = (0..6)
        .map(|index| {
            custody.seal(
                &SealInput::new(RecordId::generate_at(at), owner, at, TrainingLevel::Shared),
                format!("record {index}").as_bytes(),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pick = |index: usize| pool.get(index).ok_or("no such record");
    let planned_records = plan
        .iter()
        .map(|index| pick(*index))
        .collect::<Result<Vec<_>, _>>()?;
    let (plan_entry, planned) = plan_naming(at, &planned_records)?;
    let mut grant = custody.begin_export(plan_entry, planned)?;

    // The model: where each planned record stands, by its index in the pool.
    let mut state: BTreeMap<usize, Option<steward_logs::SkipReason>> = BTreeMap::new();
    let mut met = HashSet::new();
    let (mut exported, mut not_planned, mut consent) = (0, 0, 0);
    let mut exported_ids = steward_logs::RecordDigester::new();
    for step in run {
        let (index, reason) = match *step {
            RunStep::Open(index) => (index, None),
            RunStep::LeaveOut(index) => (index, Some(steward_logs::SkipReason::Consent)),
        };
        let record = pick(index)?;
        let pending = plan.contains(&index) && met.insert(index);
        assert_eq!(grant.is_pending(record.header().record_id()), pending);
        match reason {
            None => {
                let opened = custody.open_for_export(&mut grant, record);
                assert_eq!(opened.is_ok(), pending, "{step:?}");
                if pending {
                    exported += 1;
                    exported_ids.add(record.header().record_id());
                } else {
                    not_planned += 1;
                }
            }
            Some(reason) => {
                grant.leave_out(record.header().record_id(), reason);
                if pending {
                    consent += 1;
                    state.insert(index, Some(reason));
                } else {
                    not_planned += 1;
                }
            }
        }
    }
    let mut reported = HashSet::new();
    let mut not_exported = Vec::new();
    let mut missing = 0;
    for index in plan {
        if !reported.insert(*index) {
            continue;
        }
        let reason = match state.get(index) {
            Some(Some(reason)) => *reason,
            _ if met.contains(index) => continue,
            _ => {
                missing += 1;
                steward_logs::SkipReason::Missing
            }
        };
        not_exported.push(steward_logs::NotExported {
            record: pick(*index)?.header().record_id(),
            reason,
        });
    }
    let outcome = custody.finish_export(grant)?;
    assert_eq!(
        (
            outcome.counts.exported,
            outcome.counts.not_planned,
            outcome.counts.consent,
            outcome.counts.missing
        ),
        (exported, not_planned, consent, missing)
    );
    assert_eq!(outcome.not_exported, not_exported);
    assert_eq!(outcome.digest, exported_ids.finish());
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Plans and runs in any order, with repeats and strangers (pool indices the plan does
    /// not name).
    #[test]
    fn an_export_grant_opens_each_planned_record_once_whatever_the_order(
        plan in proptest::collection::vec(0..5_usize, 0..8),
        run in proptest::collection::vec(
            proptest::prop_oneof![
                3 => (0..6_usize).prop_map(RunStep::Open),
                1 => (0..6_usize).prop_map(RunStep::LeaveOut),
            ],
            0..10,
        ),
    ) {
        let checked = a_grant_matches_its_model(&plan, &run);
        proptest::prop_assert!(checked.is_ok(), "{checked:?}");
    }
}

/// A grant is given only for the records the plan's digest and count name.
#[test]
fn an_export_plan_whose_records_differ_from_its_digest_is_refused() -> TestResult {
    let custody = custody()?;
    let owner = customer(5)?;
    let at = instant(100)?;
    let record = custody.seal(
        &SealInput::new(RecordId::generate_at(at), owner, at, TrainingLevel::Shared),
        b"one",
    )?;
    let (plan, _) = plan_naming(at, &[&record])?;
    let refused = custody.begin_export(plan, steward_logs::PlannedRecords::new());
    assert!(
        matches!(refused, Err(LogsError::PlanMismatch)),
        "{refused:?}"
    );
    Ok(())
}
