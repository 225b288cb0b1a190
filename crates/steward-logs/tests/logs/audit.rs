//! The audit chain (docs/design.md section 3, invariant 8): tamper detection and checkpoints.

use proptest::prelude::*;
use serde_json::{Value, json};
use steward_core::Purpose;
use steward_logs::{
    AccessRequest, AuditError, AuditKey, AuditTrail, ChainedEntry, Checkpoint, CheckpointSigner,
    LogsError, MemoryAuditStore, RosterChange, SealConfig, SealedRecord,
};

use crate::common::{
    AUDIT_KEY, STEWARD, TestResult, allow, audit_key, clock, custody, custody_over, customer,
    instant, meta, policy_gate, request, restored_keyring, roster,
};

/// How many kinds of entry [`chain`] makes.
const KINDS: u8 = 7;

/// A chain of one entry per kind, made through a custody as a service makes it: opens
/// decided by the model of the logs clauses (allowed, off the roster, a purpose that is not
/// for logs, no justification), the allowed open of a tampered record, a data key rotation
/// and a roster change.
fn chain(kinds: &[u8]) -> TestResult<Vec<ChainedEntry>> {
    let custody = custody()?;
    let roster = roster()?;
    let gate = policy_gate(&roster);
    let owner = customer(1)?;
    let record = custody.seal(&meta(owner, instant(0)?)?, b"body")?;
    let mut bytes = record.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last ^= 1;
    }
    let tampered = SealedRecord::from_bytes(&bytes)?;
    for (index, kind) in kinds.iter().enumerate() {
        let ask = |steward: &str, purpose, justification: &str| -> TestResult<AccessRequest> {
            Ok(AccessRequest::with_justification_text(
                steward.parse()?,
                purpose,
                justification,
            ))
        };
        // Refused and failed opens are entries too: only the entry count matters here.
        match kind % KINDS {
            0 => {
                let _ = custody.dangerous_open_with_gate(
                    &record,
                    &ask(STEWARD, Purpose::Troubleshooting, "T-1")?,
                    &gate,
                );
            }
            1 => {
                let _ = custody.dangerous_open_with_gate(
                    &record,
                    &ask("mallory", Purpose::CustomerSupport, "T-2")?,
                    &gate,
                );
            }
            2 => {
                let _ = custody.dangerous_open_with_gate(
                    &record,
                    &ask(STEWARD, Purpose::Marketing, "T-3")?,
                    &gate,
                );
            }
            3 => {
                let _ = custody.dangerous_open_with_gate(
                    &record,
                    &ask(STEWARD, Purpose::Reliability, " ")?,
                    &gate,
                );
            }
            4 => {
                let _ = custody.dangerous_open_with_gate(&tampered, &request()?, allow);
            }
            5 => {
                custody.rotate_data_key(owner)?;
            }
            _ => custody.audit_roster_change(
                RosterChange::Added(format!("steward-{index}").parse()?),
                "dana.admin".parse()?,
            )?,
        }
    }
    let entries = custody.audit()?.store().as_slice().to_vec();
    if entries.len() != kinds.len() {
        return Err(format!("{} entries for {} events", entries.len(), kinds.len()).into());
    }
    Ok(entries)
}

fn new_signer() -> Result<CheckpointSigner, LogsError> {
    CheckpointSigner::from_pkcs8(&CheckpointSigner::generate_pkcs8()?)
}

#[derive(Debug, Clone)]
enum Tamper {
    /// Change one field of one entry, as someone with database access would.
    Edit { index: usize, field: usize },
    /// Remove one entry.
    Delete { index: usize },
    /// Insert a copy of entry `from` at `index`.
    Insert { index: usize, from: usize },
    /// Swap two entries.
    Swap { a: usize, b: usize },
    /// Remove the newest `count` entries.
    Truncate { count: usize },
}

/// The number of distinct edits [`edit`] knows.
const FIELDS: usize = 15;

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<usize>(), 0..FIELDS).prop_map(|(index, field)| Tamper::Edit { index, field }),
        any::<usize>().prop_map(|index| Tamper::Delete { index }),
        (any::<usize>(), any::<usize>()).prop_map(|(index, from)| Tamper::Insert { index, from }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::Swap { a, b }),
        (1usize..4).prop_map(|count| Tamper::Truncate { count }),
    ]
}

/// How to change a JSON value.
type Change = Box<dyn Fn(&Value) -> Value>;

/// A different, still well-formed value for a field of an entry, in its JSON form. Fields the
/// entry's event does not have are left alone.
fn edit(chained: &mut Value, field: usize) {
    let flip_hex = |value: &Value| {
        let mut chars: Vec<char> = value.as_str().unwrap_or("").chars().collect();
        if let Some(first) = chars.first_mut() {
            *first = if *first == '0' { '1' } else { '0' };
        }
        json!(chars.into_iter().collect::<String>())
    };
    let access =
        |field: &'static str| -> Vec<&'static str> { vec!["entry", "event", "access", field] };
    let (path, change): (Vec<&str>, Change) = match field {
        0 => (
            vec!["sequence"],
            Box::new(|v| json!(v.as_u64().unwrap_or(0) + 1)),
        ),
        1 => (vec!["previous"], Box::new(flip_hex)),
        2 => (vec!["hash"], Box::new(flip_hex)),
        3 => (
            vec!["entry", "at"],
            Box::new(|_| json!("2001-01-01T00:00:00Z")),
        ),
        4 => (
            access("steward"),
            Box::new(|v| json!(format!("{}x", v.as_str().unwrap_or("")))),
        ),
        5 => (
            access("purpose"),
            Box::new(|v| {
                json!(if *v == json!("reliability") {
                    "troubleshooting"
                } else {
                    "reliability"
                })
            }),
        ),
        6 => (
            access("justification"),
            Box::new(|_| json!("EDITED-TICKET")),
        ),
        7 => (
            access("record"),
            Box::new(|_| json!("01936f0e-8f2a-7b3c-9d4e-000000000000")),
        ),
        8 => (
            access("customer"),
            Box::new(|_| json!("00000000-0000-4000-8000-0000000000ff")),
        ),
        9 => (access("key_version"), Box::new(|_| json!(77))),
        10 => (
            access("outcome"),
            Box::new(|v| {
                if *v == json!("opened") {
                    json!({"failed": "tampered"})
                } else {
                    json!("opened")
                }
            }),
        ),
        11 => (
            vec!["entry", "event", "data-key-rotated", "version"],
            Box::new(|_| json!(77)),
        ),
        12 => (
            vec!["entry", "event", "roster-changed", "by"],
            Box::new(|_| json!("eve.admin")),
        ),
        13 => (
            vec!["entry", "event", "roster-changed", "change"],
            Box::new(|_| json!({"removed": "mallory"})),
        ),
        _ => (
            vec!["entry", "event"],
            Box::new(
                |_| json!({"customer-shredded": {"customer": "00000000-0000-4000-8000-0000000000ff"}}),
            ),
        ),
    };
    let mut slot = Some(chained);
    for key in path {
        slot = slot.and_then(|value| value.get_mut(key));
    }
    if let Some(slot) = slot {
        *slot = change(slot);
    }
}

fn apply(
    entries: &[ChainedEntry],
    tamper: &Tamper,
) -> Result<Vec<ChainedEntry>, serde_json::Error> {
    let mut out = entries.to_vec();
    let len = out.len().max(1);
    match *tamper {
        Tamper::Edit { index, field } => {
            if let Some(entry) = out.get_mut(index % len) {
                let mut value = serde_json::to_value(&*entry)?;
                edit(&mut value, field);
                *entry = serde_json::from_value(value)?;
            }
        }
        Tamper::Delete { index } => {
            out.remove(index % len);
        }
        Tamper::Insert { index, from } => {
            if let Some(copy) = out.get(from % len).cloned() {
                out.insert(index % (len + 1), copy);
            }
        }
        Tamper::Swap { a, b } => {
            let (a, b) = (a % len, b % len);
            let b = if a == b { (b + 1) % len } else { b };
            out.swap(a, b);
        }
        Tamper::Truncate { count } => out.truncate(len.saturating_sub(count)),
    }
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Invariant 8: any edit, deletion, insertion or reordering fails `verify`; removing the
    /// newest entries fails against the last signed checkpoint.
    #[test]
    fn any_tampering_with_the_chain_is_detected(
        kinds in prop::collection::vec(0..KINDS, 2..10),
        tamper in tamper(),
    ) {
        let entries = chain(&kinds).unwrap();
        let key = audit_key().unwrap();
        let head = key.verify_chain(&entries).unwrap();
        prop_assert_eq!(head.entries(), entries.len() as u64);
        let signer = new_signer().unwrap();
        let trail = AuditTrail::new(key, MemoryAuditStore::from(entries.clone())).unwrap();
        let checkpoint = trail.checkpoint(&signer).unwrap();

        let tampered = apply(&entries, &tamper).unwrap();
        prop_assume!(tampered != entries);
        let removes_only_newest = tampered.len() < entries.len()
            && entries.starts_with(&tampered);
        let key = AuditKey::from_bytes(&AUDIT_KEY).unwrap();
        if !removes_only_newest {
            prop_assert!(key.verify_chain(&tampered).is_err(), "{:?} went unnoticed", tamper);
        }
        let tampered_trail = AuditTrail::new(key, MemoryAuditStore::from(tampered));
        if let Ok(tampered_trail) = tampered_trail {
            prop_assert!(
                tampered_trail.verify_against(&checkpoint, &signer.public_key()).is_err(),
                "{:?} went unnoticed against the checkpoint", tamper
            );
        }
    }
}

#[test]
fn every_edit_of_the_tamper_test_changes_some_entry() -> TestResult {
    // The property skips edits that change nothing (a field the entry's event lacks); each
    // edit must still apply to one kind of entry, or it would test nothing.
    let entries = chain(&(0..KINDS).collect::<Vec<_>>())?;
    for field in 0..FIELDS {
        let changed = (0..entries.len())
            .map(|index| apply(&entries, &Tamper::Edit { index, field }))
            .collect::<Result<Vec<_>, _>>()?
            .iter()
            .any(|tampered| *tampered != entries);
        assert!(changed, "edit {field} changes no entry");
    }
    Ok(())
}

#[test]
fn truncating_the_newest_entries_is_detected_only_by_the_checkpoint() -> TestResult {
    let entries = chain(&[0, 1, 5, 6, 0])?;
    let signer = new_signer()?;
    let trail = AuditTrail::new(audit_key()?, MemoryAuditStore::from(entries.clone()))?;
    let checkpoint = trail.checkpoint(&signer)?;
    assert_eq!(checkpoint.entries(), 5);
    assert_eq!(
        trail
            .verify_against(&checkpoint, &signer.public_key())?
            .entries(),
        5
    );

    let truncated = AuditTrail::new(audit_key()?, MemoryAuditStore::from(entries[..3].to_vec()))?;
    assert_eq!(
        truncated.verify()?.entries(),
        3,
        "a prefix is a valid chain on its own"
    );
    let error = truncated
        .verify_against(&checkpoint, &signer.public_key())
        .unwrap_err();
    assert!(
        matches!(
            error,
            LogsError::Audit(AuditError::CheckpointMismatch { checkpoint: 5, .. })
        ),
        "{error}"
    );
    Ok(())
}

#[test]
fn chain_keeps_growing_after_a_checkpoint_and_across_restarts() -> TestResult {
    let custody = custody()?;
    let signer = new_signer()?;
    let record = custody.seal(&meta(customer(1)?, instant(0)?)?, b"body")?;
    custody.dangerous_open_with_gate(&record, &request()?, allow)?;
    let checkpoint = custody.audit().unwrap().checkpoint(&signer)?;
    // Restart: a new custody over the same store continues the chain.
    let custody = custody_over(
        restored_keyring(&custody)?,
        custody.audit().unwrap().store().clone(),
        clock()?,
        SealConfig::default(),
    )?;
    assert_eq!(custody.audit().unwrap().head().entries(), 1);
    custody.dangerous_open_with_gate(&record, &request()?, allow)?;
    custody.dangerous_open_with_gate(&record, &request()?, allow)?;
    assert_eq!(
        custody
            .audit()?
            .verify_against(&checkpoint, &signer.public_key())?
            .entries(),
        3
    );
    // Restarting over a store whose newest entry was edited is refused.
    let mut entries = custody.audit().unwrap().store().as_slice().to_vec();
    let mut value = serde_json::to_value(&entries[2])?;
    value["entry"]["event"]["access"]["justification"] = json!("rewritten");
    entries[2] = serde_json::from_value(value)?;
    assert!(matches!(
        AuditTrail::new(audit_key()?, MemoryAuditStore::from(entries)),
        Err(LogsError::Audit(AuditError::ChainBroken {
            sequence: 2,
            ..
        }))
    ));
    Ok(())
}

#[test]
fn checkpoint_from_another_signer_or_edited_is_rejected() -> TestResult {
    let entries = chain(&[0, 0])?;
    let trail = AuditTrail::new(audit_key()?, MemoryAuditStore::from(entries))?;
    let signer = new_signer()?;
    let impostor = new_signer()?;
    let checkpoint = trail.checkpoint(&impostor)?;
    assert!(matches!(
        trail.verify_against(&checkpoint, &signer.public_key()),
        Err(LogsError::Audit(AuditError::CheckpointSignature))
    ));
    let genuine = trail.checkpoint(&signer)?;
    let mut value = serde_json::to_value(genuine)?;
    value["entries"] = json!(1);
    let edited: Checkpoint = serde_json::from_value(value)?;
    assert!(matches!(
        signer.public_key().verify(&edited),
        Err(LogsError::Audit(AuditError::CheckpointSignature))
    ));
    Ok(())
}

#[test]
fn checkpoints_and_entries_round_trip_through_json() -> TestResult {
    let entries = chain(&(0..KINDS).collect::<Vec<_>>())?;
    let json = serde_json::to_string(&entries)?;
    assert!(!json.contains("body"), "entries never hold request content");
    let back: Vec<ChainedEntry> = serde_json::from_str(&json)?;
    assert_eq!(back, entries);
    let trail = AuditTrail::new(audit_key()?, MemoryAuditStore::from(back))?;
    let signer = new_signer()?;
    let checkpoint = trail.checkpoint(&signer)?;
    let exported = serde_json::to_string(&checkpoint)?;
    let imported: Checkpoint = serde_json::from_str(&exported)?;
    assert_eq!(imported, checkpoint);
    let public = serde_json::to_string(&signer.public_key())?;
    let public = serde_json::from_str(&public)?;
    assert_eq!(
        trail.verify_against(&imported, &public)?.entries(),
        u64::from(KINDS)
    );
    Ok(())
}

#[test]
fn a_chain_under_another_key_does_not_verify() -> TestResult {
    let entries = chain(&[0, 1])?;
    let other = AuditKey::from_bytes(b"steward test key 99, not secret!")?;
    assert!(matches!(
        other.verify_chain(&entries),
        Err(LogsError::Audit(AuditError::ChainBroken {
            sequence: 0,
            ..
        }))
    ));
    assert!(AuditKey::from_bytes(&[1; 31]).is_err());
    Ok(())
}

#[test]
fn trivially_weak_audit_keys_are_refused() {
    let counting: Vec<u8> = (0..40).collect();
    let repeated: Vec<u8> = b"placeholder!".repeat(4);
    for weak in [
        [0; 32].as_slice(),
        &[0x17; 32],
        &[0xff; 64],
        &counting,
        &repeated,
    ] {
        assert!(
            matches!(
                AuditKey::from_bytes(weak),
                Err(LogsError::Key(steward_logs::KeyError::WeakKey {
                    what: "audit key",
                    ..
                }))
            ),
            "{weak:02x?}"
        );
    }
}
