//! The seeds and the kept crash inputs as a plain `cargo test`: every file of
//! `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/` runs through the target's
//! properties, and the fixture the harnesses check against must load and be what the keys
//! made. `cargo test --manifest-path fuzz/Cargo.toml` (scripts/fuzz.sh runs it first).

use steward_fuzz::{TARGETS, fixture, targets};

#[test]
fn the_fixture_loads_and_verifies_under_the_harness_keys() {
    let fixture = fixture::fixture().expect("fuzz/fixture/ loads (examples/make_seeds.rs)");
    let key = fixture::audit_key().unwrap();
    let head = key.verify_chain(&fixture.chain).unwrap();
    assert_eq!(head.entries(), u64::try_from(fixture.chain.len()).unwrap());
    for checkpoint in &fixture.checkpoints {
        fixture.checkpoint_key.verify(checkpoint).unwrap();
    }
    let events: Vec<&str> = fixture.facts.iter().map(|row| row.event()).collect();
    assert_eq!(
        targets::chain_events(&key, events.into_iter()),
        fixture.facts
    );
    assert!(!fixture.records.is_empty());
}

#[test]
fn every_seed_and_regression_keeps_its_target_properties() {
    for &(name, target) in TARGETS {
        let count = targets::replay(name, target).unwrap();
        assert!(count > 0, "no seeds for {name}: run examples/make_seeds.rs");
    }
}

/// The paths each target exists for are reached from its seeds alone: a seeded record opens
/// (key commitment and AEAD pass) and a seeded tampered one fails at the AEAD, after the
/// commitment; the seeded chain verifies entry by entry under the HMAC and reaches its
/// checkpoints; the seeded fact rows replay every event kind; the seeded keyring restores
/// and unwraps a data key to seal; the seeded ingest lines plan into records to seal (one
/// skipped as stored, one refused over the small body limit); the seeded check requests
/// parse into requests that `check()` decides, allowing one and denying another.
#[test]
fn the_seeds_reach_the_deep_paths() {
    use steward::{Policy, vocabulary::Purpose};
    use steward_logs::{
        AccessRequest, AuditTrail, Custody, Keyring, KeyringSnapshot, LogsError, MemoryAuditStore,
        OpenError, SealedRecord,
    };
    let seed = |target: &str, name: &str| {
        std::fs::read(fixture::seeds_dir().join(target).join(name)).unwrap()
    };
    let fixture = fixture::fixture().unwrap();
    let custody = || {
        let keyring =
            Keyring::restore(fixture::master().unwrap(), [], fixture.keyring.clone()).unwrap();
        let trail = AuditTrail::new(fixture::audit_key().unwrap(), MemoryAuditStore::new());
        Custody::new(keyring, trail.unwrap())
    };
    let request = AccessRequest::with_justification_text(
        "fuzz.steward".parse().unwrap(),
        Purpose::Troubleshooting,
        "FUZZ-1",
    );
    let allow = |_: &steward_logs::OpenQuery<'_>| Ok(());
    let custody = custody();
    let open = SealedRecord::from_vec(seed("record_parser", "open-0")).unwrap();
    assert!(
        custody
            .dangerous_open_with_gate(&open, &request, allow)
            .is_ok()
    );
    let tampered = SealedRecord::from_vec(seed("record_parser", "tampered-0")).unwrap();
    assert!(matches!(
        custody.dangerous_open_with_gate(&tampered, &request, allow),
        Err(LogsError::Open(OpenError::AuthenticationFailed))
    ));

    let text = String::from_utf8(seed("audit_chain", "chain-and-checkpoints")).unwrap();
    let entries: Vec<steward_logs::ChainedEntry> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert_eq!(entries, fixture.chain);
    let trail = AuditTrail::new(
        fixture::audit_key().unwrap(),
        MemoryAuditStore::from(entries),
    )
    .unwrap();
    for checkpoint in &fixture.checkpoints {
        trail
            .verify_against(checkpoint, &fixture.checkpoint_key)
            .unwrap();
    }

    let rows = seed("fact_log", "rows");
    let rows: Vec<_> = std::str::from_utf8(&rows[1..])
        .unwrap()
        .lines()
        .map(|line| fixture::fact_row(line).unwrap())
        .collect();
    let replay = steward_store::test_support::replay_fact_rows(
        &fixture::audit_key().unwrap(),
        &Policy::coder_model(),
        &rows,
    )
    .unwrap();
    let kinds: std::collections::BTreeSet<&str> = fixture
        .facts
        .iter()
        .filter_map(|row| row.event().split('"').nth(3))
        .collect();
    assert_eq!(replay.events.len(), rows.len());
    // Every kind a store writes but the sweep's record deletion (a seed of its own).
    assert_eq!(kinds.len(), 9, "{kinds:?}");

    let snapshot: KeyringSnapshot = serde_json::from_slice(&seed("key_rows", "keyring")).unwrap();
    assert_eq!(snapshot, fixture.keyring);
    targets::key_rows(&seed("key_rows", "keyring"));

    let store = targets::IngestStore::new().unwrap();
    let text = String::from_utf8(seed("ingest_lines", "lines")).unwrap();
    let plan = targets::plan_ingest(&text, &store, steward::logs::MAX_BODY_LEN)
        .unwrap()
        .unwrap();
    assert_eq!((plan.planned.len(), plan.skipped), (3, 1));
    assert_eq!(
        plan.planned.first().unwrap().body(),
        b"why does my build fail?"
    );
    let text = String::from_utf8(seed("ingest_lines", "over-small-limit")).unwrap();
    let refused = targets::plan_ingest(&text, &store, targets::SMALL_BODY_LIMIT).unwrap();
    assert!(matches!(
        refused,
        Err(steward_cli::InputError::BodyTooLarge { line: 2, .. })
    ));

    let now = steward::vocabulary::Timestamp::from_unix_seconds(targets::INGEST_NOW).unwrap();
    let (policy, facts) = targets::check_facts().unwrap();
    let decide = |name: &str| {
        let text = String::from_utf8(seed("check_request", name)).unwrap();
        let question = steward_cli::request::Question::from_json(&text).unwrap();
        policy.check(&question.request(now), &facts)
    };
    assert!(decide("use-customer-care").is_allowed());
    let marketing = decide("use-marketing");
    assert!(!marketing.is_allowed());
    assert_eq!(marketing.decisive(), steward::vocabulary::ClauseId::UsePurposes);
    assert!(decide("train-shared").is_allowed());
    targets::check_request(&seed("check_request", "open-with-justification"));
}

/// The consent receipt seeds reach the verified path: the file of two receipts verifies under
/// the key on its first line, and the one changed after signing does not.
#[test]
fn the_receipt_seeds_verify_and_a_changed_one_does_not() {
    let seed = |name: &str| {
        std::fs::read_to_string(fixture::seeds_dir().join("consent_receipt").join(name)).unwrap()
    };
    let verify = |text: &str| {
        let (key, file) = text.split_once('\n').unwrap();
        steward::verify_consent_receipts(file, &key.parse().unwrap())
    };
    assert_eq!(verify(&seed("two")).unwrap().len(), 2);
    assert_eq!(verify(&seed("one")).unwrap().len(), 1);
    assert!(verify(&seed("changed")).unwrap_err().is_not_authentic());
    assert!(!verify(&seed("version-2")).unwrap_err().is_not_authentic());
}
