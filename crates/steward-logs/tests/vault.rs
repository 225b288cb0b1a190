//! Behaviour of the vault through the public API: sealing, keys, access and audit ordering.

mod common;

use common::{ProbeStore, STEWARD, TestResult, customer, instant, meta, request, trail, vault};
use steward_core::{ClauseId, Purpose, RecordId};
use steward_logs::{
    AccessRequest, Algorithm, AuditKey, AuditOutcome, AuditTrail, ConsentAtCollection, Denial,
    KeyVersion, Keyring, LogsError, MasterKey, OpenFailure, RecordMeta, RosterCapacity,
    SealedRecord, StewardRoster, Vault, VaultConfig,
};

#[test]
fn sealed_record_opens_after_a_byte_round_trip() -> TestResult {
    let mut vault = vault()?;
    let mut audit = trail()?;
    let at = instant(1_750_000_000)?;
    let meta = RecordMeta::new(
        customer(7)?,
        RecordId::generate_at(at),
        at,
        ConsentAtCollection::OpenWeight,
    );
    let sealed = vault.seal(&meta, b"hello")?;
    let parsed = SealedRecord::try_from(sealed.clone().into_bytes())?;
    assert_eq!(parsed, sealed);
    let header = parsed.header();
    assert_eq!(header.customer(), meta.customer());
    assert_eq!(header.record_id(), meta.record_id());
    assert_eq!(header.created_at(), at);
    assert_eq!(header.consent(), ConsentAtCollection::OpenWeight);
    assert_eq!(header.key_version(), KeyVersion::FIRST);
    assert_eq!(header.algorithm(), Algorithm::Aes256Gcm);
    assert_eq!(header.body_len(), 5);
    let body = vault.open(&parsed, &request(at)?, &mut audit)?;
    assert_eq!(body.as_bytes(), b"hello");
    Ok(())
}

#[test]
fn ciphertext_does_not_contain_the_body() -> TestResult {
    let mut vault = vault()?;
    let body = b"my secret prompt, repeated: my secret prompt";
    let sealed = vault.seal(&meta(customer(1)?, instant(0)?)?, body)?;
    assert!(!sealed.as_bytes().windows(9).any(|w| w == b"my secret"));
    Ok(())
}

#[test]
fn chacha_records_open_and_both_algorithms_coexist() -> TestResult {
    let mut vault = vault()?;
    let mut audit = trail()?;
    let at = instant(10)?;
    let aes = vault.seal(&meta(customer(1)?, at)?, b"aes")?;
    let master = MasterKey::from_bytes("kek-1".parse()?, &[0x42; 32])?;
    let keyring = Keyring::restore(master, [], vault.keyring().snapshot())?;
    let mut roster = StewardRoster::new(RosterCapacity::new(1)?);
    roster.add(STEWARD.parse()?)?;
    let config = VaultConfig::default().with_algorithm(Algorithm::ChaCha20Poly1305);
    let mut chacha_vault = Vault::with_config(keyring, roster, config);
    let chacha = chacha_vault.seal(&meta(customer(1)?, at)?, b"chacha")?;
    assert_eq!(chacha.header().algorithm(), Algorithm::ChaCha20Poly1305);
    let request = request(at)?;
    assert_eq!(
        chacha_vault.open(&aes, &request, &mut audit)?.as_bytes(),
        b"aes"
    );
    assert_eq!(
        vault.open(&chacha, &request, &mut audit)?.as_bytes(),
        b"chacha"
    );
    Ok(())
}

#[test]
fn rotation_seals_with_the_new_version_and_old_records_still_open() -> TestResult {
    let mut vault = vault()?;
    let mut audit = trail()?;
    let at = instant(100)?;
    let customer = customer(3)?;
    let old = vault.seal(&meta(customer, at)?, b"old")?;
    assert_eq!(vault.rotate_data_key(customer)?.get(), 2);
    let new = vault.seal(&meta(customer, at)?, b"new")?;
    assert_eq!(old.header().key_version().get(), 1);
    assert_eq!(new.header().key_version().get(), 2);
    let request = request(at)?;
    assert_eq!(vault.open(&old, &request, &mut audit)?.as_bytes(), b"old");
    assert_eq!(vault.open(&new, &request, &mut audit)?.as_bytes(), b"new");
    Ok(())
}

#[test]
fn master_rotation_reencrypts_no_record() -> TestResult {
    let mut vault = vault()?;
    let mut audit = trail()?;
    let at = instant(100)?;
    let record = vault.seal(&meta(customer(3)?, at)?, b"kept")?;
    vault.rotate_master_key(MasterKey::from_bytes("kek-2".parse()?, &[0x43; 32])?)?;
    // A fresh vault over the persisted snapshot and only the new master key still opens it.
    let snapshot = vault.keyring().snapshot();
    assert!(
        snapshot
            .data_keys()
            .iter()
            .all(|k| k.master_key().as_str() == "kek-2")
    );
    let master = MasterKey::from_bytes("kek-2".parse()?, &[0x43; 32])?;
    let mut restored = Vault::new(
        Keyring::restore(master, [], snapshot)?,
        vault.roster().clone(),
    );
    assert_eq!(
        restored
            .open(&record, &request(at)?, &mut audit)?
            .as_bytes(),
        b"kept"
    );
    Ok(())
}

#[test]
fn shredded_customer_never_opens_again_even_after_restore() -> TestResult {
    let mut vault = vault()?;
    let mut audit = trail()?;
    let at = instant(100)?;
    let victim = customer(5)?;
    let bystander = customer(6)?;
    let record = vault.seal(&meta(victim, at)?, b"gone")?;
    let other = vault.seal(&meta(bystander, at)?, b"stays")?;
    // Warm the opening cache first: shredding must empty it too.
    vault.open(&record, &request(at)?, &mut audit)?;
    vault.shred(victim);
    let error = vault.open(&record, &request(at)?, &mut audit).unwrap_err();
    assert!(matches!(error, LogsError::Shredded), "{error}");
    assert_eq!(error.clause(), Some(ClauseId::LogsEncrypted));
    // A customer who comes back seals under a new key generation; the shred still holds for
    // everything sealed before it.
    let returned = vault.seal(&meta(victim, at)?, b"new")?;
    assert_eq!(
        vault.open(&returned, &request(at)?, &mut audit)?.as_bytes(),
        b"new"
    );
    assert_eq!(
        vault.open(&other, &request(at)?, &mut audit)?.as_bytes(),
        b"stays"
    );
    let master = MasterKey::from_bytes("kek-1".parse()?, &[0x42; 32])?;
    let mut restored = Vault::new(
        Keyring::restore(master, [], vault.keyring().snapshot())?,
        vault.roster().clone(),
    );
    assert!(matches!(
        restored.open(&record, &request(at)?, &mut audit),
        Err(LogsError::Shredded)
    ));
    let last = audit.store().as_slice().last().unwrap().entry().outcome();
    assert_eq!(last, AuditOutcome::Failed(OpenFailure::Shredded));
    Ok(())
}

#[test]
fn key_version_limit_is_enforced_until_rotation() -> TestResult {
    let master = MasterKey::from_bytes("kek-1".parse()?, &[0x42; 32])?;
    let config = VaultConfig::default()
        .with_records_per_session(2)?
        .with_records_per_key_version(5)?;
    let mut vault = Vault::with_config(
        Keyring::new(master),
        StewardRoster::new(RosterCapacity::new(1)?),
        config,
    );
    let customer = customer(9)?;
    let at = instant(0)?;
    for _ in 0..5 {
        vault.seal(&meta(customer, at)?, b"x")?;
    }
    assert!(matches!(
        vault.seal(&meta(customer, at)?, b"x"),
        Err(LogsError::DataKeyExhausted { version }) if version == KeyVersion::FIRST
    ));
    vault.rotate_data_key(customer)?;
    assert_eq!(
        vault
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
    let master = MasterKey::from_bytes("kek-1".parse()?, &[0x42; 32])?;
    let config = VaultConfig::default().with_records_per_session(3)?;
    let mut vault = Vault::with_config(
        Keyring::new(master),
        StewardRoster::new(RosterCapacity::new(1)?),
        config,
    );
    let at = instant(0)?;
    let mut seen = std::collections::HashSet::new();
    let mut salts = std::collections::HashSet::new();
    for _ in 0..10 {
        let record = vault.seal(&meta(customer(1)?, at)?, b"x")?;
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
    let mut vault = vault()?;
    let mut audit = trail()?;
    let at = instant(100)?;
    let record = vault.seal(&meta(customer(1)?, at)?, b"body")?;
    let cases = [
        (
            AccessRequest::with_justification_text(
                "mallory".parse()?,
                Purpose::Troubleshooting,
                "T-1",
                at,
            ),
            Denial::NotOnRoster,
            ClauseId::LogsAccess,
        ),
        (
            AccessRequest::with_justification_text(STEWARD.parse()?, Purpose::Marketing, "T-1", at),
            Denial::PurposeNotForLogs {
                purpose: Purpose::Marketing,
            },
            ClauseId::LogsPurposes,
        ),
        (
            AccessRequest::with_justification_text(
                STEWARD.parse()?,
                Purpose::ServiceAnalysis,
                "T-1",
                at,
            ),
            Denial::PurposeNotForLogs {
                purpose: Purpose::ServiceAnalysis,
            },
            ClauseId::LogsPurposes,
        ),
        (
            AccessRequest::with_justification_text(
                STEWARD.parse()?,
                Purpose::CustomerSupport,
                "  \t ",
                at,
            ),
            Denial::MissingJustification,
            ClauseId::LogsAccess,
        ),
    ];
    for (index, (request, expected, clause)) in cases.into_iter().enumerate() {
        let error = vault.open(&record, &request, &mut audit).unwrap_err();
        match &error {
            LogsError::Denied { denial } => assert_eq!(*denial, expected),
            other => panic!("expected a denial, got {other}"),
        }
        assert_eq!(error.clause(), Some(clause));
        assert!(error.to_string().contains(clause.as_str()), "{error}");
        let entries = audit.store().as_slice();
        assert_eq!(entries.len(), index + 1);
        let entry = entries[index].entry();
        assert_eq!(entry.outcome(), AuditOutcome::Denied(expected));
        assert_eq!(entry.steward(), request.steward());
        assert_eq!(entry.record(), record.header().record_id());
    }
    audit.verify()?;
    Ok(())
}

#[test]
fn open_writes_the_audit_entry_before_returning_and_fails_closed() -> TestResult {
    let mut vault = vault()?;
    let store = ProbeStore::default();
    let mut audit = AuditTrail::new(AuditKey::from_bytes(&common::AUDIT_KEY)?, store.clone())?;
    let at = instant(100)?;
    let record = vault.seal(&meta(customer(1)?, at)?, b"body")?;

    let body = vault.open(&record, &request(at)?, &mut audit)?;
    assert_eq!(body.as_bytes(), b"body");
    assert_eq!(store.len(), 1);
    let entry = store.last().unwrap();
    assert_eq!(entry.entry().outcome(), AuditOutcome::Opened);
    assert_eq!(entry.entry().customer(), record.header().customer());
    assert_eq!(entry.entry().key_version(), KeyVersion::FIRST);
    assert_eq!(
        entry.entry().justification().unwrap().as_str(),
        "TICKET-4711"
    );

    store.set_failing(true);
    let error = vault.open(&record, &request(at)?, &mut audit).unwrap_err();
    assert!(
        matches!(error, LogsError::AuditUnavailable { .. }),
        "{error}"
    );
    assert_eq!(store.len(), 1);
    // A denial that cannot be audited is still refused.
    let stranger = AccessRequest::with_justification_text(
        "mallory".parse()?,
        Purpose::Troubleshooting,
        "T-1",
        at,
    );
    assert!(vault.open(&record, &stranger, &mut audit).is_err());

    store.set_failing(false);
    vault.open(&record, &request(at)?, &mut audit)?;
    assert_eq!(store.len(), 2);
    audit.verify()?;
    Ok(())
}

#[test]
fn clock_going_backwards_refuses_the_entry_and_the_plaintext() -> TestResult {
    let mut vault = vault()?;
    let mut audit = trail()?;
    let record = vault.seal(&meta(customer(1)?, instant(0)?)?, b"body")?;
    vault.open(&record, &request(instant(200)?)?, &mut audit)?;
    let error = vault
        .open(&record, &request(instant(199)?)?, &mut audit)
        .unwrap_err();
    assert!(
        matches!(error, LogsError::ClockWentBackwards { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("clock went backwards"));
    assert_eq!(audit.store().as_slice().len(), 1);
    // The same instant is fine: entries may share an instant.
    vault.open(&record, &request(instant(200)?)?, &mut audit)?;
    assert_eq!(audit.verify()?.entries(), 2);
    Ok(())
}

#[test]
fn tampered_record_is_audited_as_a_failure() -> TestResult {
    let mut vault = vault()?;
    let mut audit = trail()?;
    let at = instant(5)?;
    let record = vault.seal(&meta(customer(1)?, at)?, b"body")?;
    let mut bytes = record.into_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = SealedRecord::from_bytes(&bytes)?;
    let error = vault
        .open(&tampered, &request(at)?, &mut audit)
        .unwrap_err();
    assert!(matches!(error, LogsError::AuthenticationFailed), "{error}");
    let outcome = audit.store().as_slice()[0].entry().outcome();
    assert_eq!(outcome, AuditOutcome::Failed(OpenFailure::Tampered));
    Ok(())
}

#[test]
fn record_of_an_unknown_version_is_a_typed_error() -> TestResult {
    let mut vault = vault()?;
    let mut audit = trail()?;
    let at = instant(5)?;
    let record = vault.seal(&meta(customer(1)?, at)?, b"body")?;
    let mut bytes = record.into_bytes();
    bytes[43] = 9; // key version 9 (bytes 40..44)
    let forged = SealedRecord::from_bytes(&bytes)?;
    assert!(matches!(
        vault.open(&forged, &request(at)?, &mut audit),
        Err(LogsError::UnknownKeyVersion { version }) if version.get() == 9
    ));
    Ok(())
}

#[test]
fn debug_output_reveals_no_secrets() -> TestResult {
    let mut vault = vault()?;
    let mut audit = trail()?;
    let at = instant(5)?;
    let record = vault.seal(&meta(customer(1)?, at)?, b"super secret body")?;
    let body = vault.open(&record, &request(at)?, &mut audit)?;
    for text in [
        format!("{vault:?}"),
        format!("{body:?}"),
        format!("{record:?}"),
        format!("{audit:?}"),
        format!("{:?}", vault.keyring().snapshot()),
    ] {
        assert!(!text.contains("super secret"), "{text}");
        assert!(!text.contains("4242"), "{text}");
        assert!(!text.contains("66, 66"), "{text}");
    }
    Ok(())
}

#[test]
fn every_single_bit_flip_of_a_record_is_rejected() -> TestResult {
    // Exhaustive companion of the proptest: all 8 bits of all bytes of one record.
    let mut vault = vault()?;
    let mut audit = trail()?;
    let at = instant(5)?;
    let bytes = vault
        .seal(&meta(customer(1)?, at)?, b"short body")?
        .into_bytes();
    let request = request(at)?;
    for index in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[index] ^= 1 << bit;
            if let Ok(record) = SealedRecord::from_bytes(&flipped) {
                assert!(
                    vault.open(&record, &request, &mut audit).is_err(),
                    "byte {index} bit {bit} opened"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn out_of_range_limits_are_configuration_errors() {
    for records in [0, VaultConfig::MAX_RECORDS_PER_SESSION + 1] {
        assert!(matches!(
            VaultConfig::default().with_records_per_session(records),
            Err(LogsError::InvalidConfig { .. })
        ));
    }
    assert!(
        VaultConfig::default()
            .with_records_per_session(VaultConfig::MAX_RECORDS_PER_SESSION)
            .is_ok()
    );
    assert!(matches!(
        VaultConfig::default().with_records_per_key_version(0),
        Err(LogsError::InvalidConfig { .. })
    ));
}
