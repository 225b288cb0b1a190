//! The audit chain (DESIGN.md section 3, invariant 8): tamper detection and checkpoints.

mod common;

use common::{STEWARD, TestResult, customer, instant, meta, vault};
use proptest::prelude::*;
use serde_json::{Value, json};
use steward_core::{Purpose, Timestamp};
use steward_logs::{
    AccessRequest, AuditKey, AuditTrail, ChainedEntry, Checkpoint, CheckpointSigner, LogsError,
    MemoryAuditStore,
};

const KEY: [u8; 32] = common::AUDIT_KEY;

fn key() -> Result<AuditKey, LogsError> {
    AuditKey::from_bytes(&KEY)
}

/// A chain of `kinds.len()` entries, made by real opens: allowed, off-roster, wrong purpose,
/// missing justification.
fn chain(kinds: &[u8]) -> Result<Vec<ChainedEntry>, Box<dyn std::error::Error>> {
    let mut vault = vault()?;
    let mut audit = AuditTrail::new(key()?, MemoryAuditStore::new())?;
    let record = vault.seal(&meta(customer(1)?, instant(0)?)?, b"body")?;
    for (index, kind) in kinds.iter().enumerate() {
        let at = Timestamp::from_unix_nanos(1_000_000_000_000 + i64::try_from(index)? * 1_000);
        let (steward, purpose, justification) = match kind % 4 {
            0 => (STEWARD, Purpose::Troubleshooting, "T-1"),
            1 => ("mallory", Purpose::CustomerSupport, "T-2"),
            2 => (STEWARD, Purpose::Marketing, "T-3"),
            _ => (STEWARD, Purpose::Reliability, " "),
        };
        let request =
            AccessRequest::with_justification_text(steward.parse()?, purpose, justification, at);
        let _ = vault.open(&record, &request, &mut audit);
    }
    Ok(audit.store().as_slice().to_vec())
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

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<usize>(), 0usize..11).prop_map(|(index, field)| Tamper::Edit { index, field }),
        any::<usize>().prop_map(|index| Tamper::Delete { index }),
        (any::<usize>(), any::<usize>()).prop_map(|(index, from)| Tamper::Insert { index, from }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::Swap { a, b }),
        (1usize..4).prop_map(|count| Tamper::Truncate { count }),
    ]
}

/// How to change a JSON value.
type Change = Box<dyn Fn(&Value) -> Value>;

/// A different value for a field of an entry, in its JSON form.
fn edit(chained: &mut Value, field: usize) {
    let flip_hex = |value: &Value| {
        let mut chars: Vec<char> = value.as_str().unwrap_or("").chars().collect();
        if let Some(first) = chars.first_mut() {
            *first = if *first == '0' { '1' } else { '0' };
        }
        json!(chars.into_iter().collect::<String>())
    };
    let (path, change): (&[&str], Change) = match field {
        0 => (
            &["sequence"],
            Box::new(|v| json!(v.as_u64().unwrap_or(0) + 1)),
        ),
        1 => (&["previous"], Box::new(flip_hex)),
        2 => (&["hash"], Box::new(flip_hex)),
        3 => (
            &["entry", "steward"],
            Box::new(|v| json!(format!("{}x", v.as_str().unwrap_or("")))),
        ),
        4 => (
            &["entry", "purpose"],
            Box::new(|v| {
                json!(if *v == json!("reliability") {
                    "troubleshooting"
                } else {
                    "reliability"
                })
            }),
        ),
        5 => (
            &["entry", "justification"],
            Box::new(|_| json!("EDITED-TICKET")),
        ),
        6 => (
            &["entry", "record"],
            Box::new(|_| json!("01936f0e-8f2a-7b3c-9d4e-000000000000")),
        ),
        7 => (
            &["entry", "customer"],
            Box::new(|_| json!("00000000-0000-4000-8000-0000000000ff")),
        ),
        8 => (&["entry", "key_version"], Box::new(|_| json!(77))),
        9 => (
            &["entry", "outcome"],
            Box::new(|v| {
                if *v == json!("opened") {
                    json!({"failed": "tampered"})
                } else {
                    json!("opened")
                }
            }),
        ),
        _ => (
            &["entry", "at"],
            Box::new(|_| json!("2001-01-01T00:00:00Z")),
        ),
    };
    let mut slot = Some(chained);
    for key in path {
        slot = slot.and_then(|value| value.get_mut(*key));
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
        kinds in prop::collection::vec(0u8..4, 2..10),
        tamper in tamper(),
    ) {
        let entries = chain(&kinds).unwrap();
        let key = key().unwrap();
        let head = key.verify_chain(&entries).unwrap();
        prop_assert_eq!(head.entries(), entries.len() as u64);
        let signer = new_signer().unwrap();
        let trail = AuditTrail::new(key, MemoryAuditStore::from(entries.clone())).unwrap();
        let checkpoint = trail.checkpoint(&signer).unwrap();

        let tampered = apply(&entries, &tamper).unwrap();
        prop_assume!(tampered != entries);
        let removes_only_newest = tampered.len() < entries.len()
            && entries.starts_with(&tampered);
        let key = AuditKey::from_bytes(&KEY).unwrap();
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
fn truncating_the_newest_entries_is_detected_only_by_the_checkpoint() -> TestResult {
    let entries = chain(&[0, 1, 2, 3, 0])?;
    let signer = new_signer()?;
    let trail = AuditTrail::new(key()?, MemoryAuditStore::from(entries.clone()))?;
    let checkpoint = trail.checkpoint(&signer)?;
    assert_eq!(checkpoint.entries(), 5);
    assert_eq!(
        trail
            .verify_against(&checkpoint, &signer.public_key())?
            .entries(),
        5
    );

    let truncated = AuditTrail::new(key()?, MemoryAuditStore::from(entries[..3].to_vec()))?;
    assert_eq!(
        truncated.verify()?.entries(),
        3,
        "a prefix is a valid chain on its own"
    );
    let error = truncated
        .verify_against(&checkpoint, &signer.public_key())
        .unwrap_err();
    assert!(
        matches!(error, LogsError::CheckpointMismatch { checkpoint: 5, .. }),
        "{error}"
    );
    Ok(())
}

#[test]
fn chain_keeps_growing_after_a_checkpoint_and_across_restarts() -> TestResult {
    let mut vault = vault()?;
    let signer = new_signer()?;
    let record = vault.seal(&meta(customer(1)?, instant(0)?)?, b"body")?;
    let mut trail = AuditTrail::new(key()?, MemoryAuditStore::new())?;
    vault.open(&record, &common::request(instant(10)?)?, &mut trail)?;
    let checkpoint = trail.checkpoint(&signer)?;
    // Restart: a new trail over the same store continues the chain.
    let mut trail = AuditTrail::new(key()?, trail.into_store())?;
    assert_eq!(trail.head().entries(), 1);
    vault.open(&record, &common::request(instant(11)?)?, &mut trail)?;
    vault.open(&record, &common::request(instant(12)?)?, &mut trail)?;
    assert_eq!(
        trail
            .verify_against(&checkpoint, &signer.public_key())?
            .entries(),
        3
    );
    // Restarting over a store whose newest entry was edited is refused.
    let mut entries = trail.store().as_slice().to_vec();
    let mut value = serde_json::to_value(&entries[2])?;
    value["entry"]["justification"] = json!("rewritten");
    entries[2] = serde_json::from_value(value)?;
    assert!(matches!(
        AuditTrail::new(key()?, MemoryAuditStore::from(entries)),
        Err(LogsError::ChainBroken { sequence: 2, .. })
    ));
    Ok(())
}

#[test]
fn checkpoint_from_another_signer_or_edited_is_rejected() -> TestResult {
    let entries = chain(&[0, 0])?;
    let trail = AuditTrail::new(key()?, MemoryAuditStore::from(entries))?;
    let signer = new_signer()?;
    let impostor = new_signer()?;
    let checkpoint = trail.checkpoint(&impostor)?;
    assert!(matches!(
        trail.verify_against(&checkpoint, &signer.public_key()),
        Err(LogsError::CheckpointSignature)
    ));
    let genuine = trail.checkpoint(&signer)?;
    let mut value = serde_json::to_value(genuine)?;
    value["entries"] = json!(1);
    let edited: Checkpoint = serde_json::from_value(value)?;
    assert!(matches!(
        signer.public_key().verify(&edited),
        Err(LogsError::CheckpointSignature)
    ));
    Ok(())
}

#[test]
fn checkpoints_and_entries_round_trip_through_json() -> TestResult {
    let entries = chain(&[0, 1, 2])?;
    let json = serde_json::to_string(&entries)?;
    assert!(!json.contains("body"), "entries never hold request content");
    let back: Vec<ChainedEntry> = serde_json::from_str(&json)?;
    assert_eq!(back, entries);
    let trail = AuditTrail::new(key()?, MemoryAuditStore::from(back))?;
    let signer = new_signer()?;
    let checkpoint = trail.checkpoint(&signer)?;
    let exported = serde_json::to_string(&checkpoint)?;
    let imported: Checkpoint = serde_json::from_str(&exported)?;
    assert_eq!(imported, checkpoint);
    let public = serde_json::to_string(&signer.public_key())?;
    let public = serde_json::from_str(&public)?;
    assert_eq!(trail.verify_against(&imported, &public)?.entries(), 3);
    Ok(())
}

#[test]
fn a_chain_under_another_key_does_not_verify() -> TestResult {
    let entries = chain(&[0, 1])?;
    let other = AuditKey::from_bytes(&[0x99; 32])?;
    assert!(matches!(
        other.verify_chain(&entries),
        Err(LogsError::ChainBroken { sequence: 0, .. })
    ));
    assert!(AuditKey::from_bytes(&[1; 31]).is_err());
    Ok(())
}
