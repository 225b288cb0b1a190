//! The fact log, tampered with behind the store's back: an entry edited, deleted or moved is
//! found when the vault opens ([`StoreError::FactLogBroken`]), and nothing is served.

use steward::{
    consent::{Channel, ConsentActor, ConsentChange},
    vocabulary::{Timestamp, TrainingLevel},
};
use steward_store::StoreError;

use super::Db;
use crate::{
    backend::{Backend, FactRow, policy},
    common::*,
};

/// Writes four entries (the policy adopted, a steward added, a relationship started, a
/// consent change) through a vault, and returns the fixture with the store closed and the
/// rows as stored.
fn three_entries(test: &str) -> (Db, Vec<FactRow>) {
    let db = Db::fresh(test);
    let store = db.store();
    let vault = Db::vault(&store).unwrap();
    vault
        .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
        .unwrap();
    vault
        .update_facts(|facts| facts.start_relationship(customer(1), ahead(0)))
        .unwrap()
        .unwrap();
    vault
        .update_facts(|facts| {
            facts.record_consent(ConsentChange::new(
                customer(1),
                TrainingLevel::Shared,
                Timestamp::now(),
                ConsentActor::Customer,
                Channel::AccountSettings,
                policy().version().clone(),
            ))
        })
        .unwrap()
        .unwrap();
    drop((vault, store));
    let rows = db.fact_rows();
    assert_eq!(rows.len(), 4);
    // The test can fail: untouched, the log opens.
    Db::vault(&db.store()).unwrap();
    (db, rows)
}

/// Asserts that the vault refuses to open, naming entry `sequence`.
fn assert_refused_at(db: &Db, sequence: u64) {
    let refused = Db::vault(&db.store());
    assert!(
        matches!(refused, Err(StoreError::FactLogBroken { sequence: s, .. }) if s == sequence),
        "{:?}",
        refused.map(|_| ())
    );
}

pub(crate) fn an_edited_entry_is_refused_at_open() {
    let (db, mut rows) = three_entries("fact-log-edit");
    // Insignificant to JSON, significant to the hash.
    if let Some(row) = rows.get_mut(1) {
        row.1.push(' ');
    }
    db.rewrite_fact_log(&rows);
    assert_refused_at(&db, 2);
}

pub(crate) fn a_deleted_entry_is_refused_at_open() {
    let (db, mut rows) = three_entries("fact-log-delete");
    rows.remove(0);
    db.rewrite_fact_log(&rows);
    assert_refused_at(&db, 1);
}

pub(crate) fn swapped_entries_are_refused_at_open() {
    let (db, mut rows) = three_entries("fact-log-swap");
    // Each entry keeps its content and hash, and takes the other's place.
    rows.swap(1, 2);
    for (place, row) in (1..).zip(rows.iter_mut()) {
        row.0 = place;
    }
    db.rewrite_fact_log(&rows);
    assert_refused_at(&db, 2);
}

pub(crate) fn a_removed_consent_change_is_found_at_start_up() {
    let db = Db::fresh("vault-consent-rows");
    {
        let store = db.store();
        let vault = Db::vault(&store).unwrap();
        let ada = customer(1);
        for (offset, level) in [
            (1, TrainingLevel::Shared),
            (2, TrainingLevel::None),
            (3, TrainingLevel::Private),
        ] {
            // Scheduled a little ahead, so that the three follow each other.
            let effective =
                Timestamp::from_unix_nanos(Timestamp::now().unix_nanos() + offset * 1_000_000_000);
            vault
                .update_facts(|facts| {
                    facts.record_consent(ConsentChange::new(
                        ada,
                        level,
                        effective,
                        ConsentActor::Customer,
                        Channel::AccountSettings,
                        policy().version().clone(),
                    ))
                })
                .unwrap()
                .unwrap();
        }
    }
    // The withdrawal in the middle (after the policy's adoption and the first change) is
    // deleted outside Steward.
    let rows: Vec<FactRow> = db
        .fact_rows()
        .into_iter()
        .filter(|row| row.0 != 3)
        .collect();
    assert_eq!(rows.len(), 3);
    db.rewrite_fact_log(&rows);
    assert_refused_at(&db, 3);
}
