//! The audit chain: entries and checkpoints survive reopen, a taken sequence number and a
//! second checkpoint for the same length are refused, and a chain cut short of its stored
//! checkpoint keeps the vault from opening.

use std::sync::Arc;

use steward::{
    logs::{AccessRequest, AuditStore, AuditTrail, CheckpointSigner, Custody, Keyring, SealInput},
    vocabulary::{RecordId, TrainingLevel},
};
use steward_store::StoreError;

use super::Db;
use crate::{backend::Backend, common::*};

/// A custody over `store`: its keyring restored from the store, its audit trail kept there,
/// and every key change written ahead to it.
fn new_custody(store: &<Db as Backend>::Store) -> Custody<<Db as Backend>::Audit> {
    let keys = keys();
    let keyring = Keyring::restore(
        keys.master_key().unwrap(),
        [],
        store.keyring_snapshot().unwrap(),
    )
    .unwrap();
    let trail = AuditTrail::new(keys.audit_key().unwrap(), Db::audit_store(store)).unwrap();
    Custody::new(keyring, trail).with_key_store(Arc::new(store.clone()))
}

fn signer() -> CheckpointSigner {
    CheckpointSigner::from_pkcs8(&CheckpointSigner::generate_pkcs8().unwrap()).unwrap()
}

pub(crate) fn entries_and_checkpoints_survive_reopen() {
    let db = Db::fresh("audit");
    let store = db.store();
    let signer = signer();
    let custody = new_custody(&store);
    custody.rotate_data_key(customer(1)).unwrap();
    custody.rotate_data_key(customer(1)).unwrap();
    let input = SealInput::new(
        RecordId::generate_at(at(0)),
        customer(1),
        at(0),
        TrainingLevel::None,
    );
    let record = custody.seal(&input, b"body").unwrap();
    let request = AccessRequest::with_justification_text(
        "alice.ops".parse().unwrap(),
        "troubleshooting".parse().unwrap(),
        "TICKET-1",
    );
    custody
        .dangerous_open_with_gate(&record, &request, |_| Ok(()))
        .unwrap();
    let checkpoint = custody.audit().unwrap().checkpoint(&signer).unwrap();
    store.put_checkpoint(&checkpoint).unwrap();
    // The same checkpoint again is harmless.
    store.put_checkpoint(&checkpoint).unwrap();
    custody.shred(customer(1)).unwrap();
    let written = store.audit_entries().unwrap();
    assert_eq!(written.len(), 4);
    drop((custody, store));

    let store = db.store();
    assert_eq!(store.audit_entries().unwrap(), written);
    assert_eq!(store.last_audit_entry().unwrap().as_ref(), written.last());
    let latest = store.latest_checkpoint().unwrap().unwrap();
    assert_eq!(latest, checkpoint);
    let trail = AuditTrail::new(keys().audit_key().unwrap(), Db::audit_store(&store)).unwrap();
    let head = trail.verify_against(&latest, &signer.public_key()).unwrap();
    assert_eq!(head.entries(), 4);
}

pub(crate) fn a_taken_sequence_number_is_refused() {
    let db = Db::fresh("audit-fork");
    let store = db.store();
    let first = new_custody(&store);
    first.rotate_data_key(customer(1)).unwrap();
    assert_eq!(store.audit_entries().unwrap().len(), 1);

    // A writer replaying the first entry (a taken sequence number) is refused, and the chain
    // is unchanged.
    let entry = store.last_audit_entry().unwrap().unwrap();
    let error = Db::audit_store(&store).append(entry).unwrap_err();
    let error = error.downcast_ref::<StoreError>().unwrap();
    assert!(
        matches!(error, StoreError::SequenceTaken { sequence: 0 }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "audit sequence number `0` is already taken"
    );
    assert_eq!(store.audit_entries().unwrap().len(), 1);
    // The chain goes on from its real head, and verifies.
    first.rotate_data_key(customer(1)).unwrap();
    keys()
        .audit_key()
        .unwrap()
        .verify_chain(&store.audit_entries().unwrap())
        .unwrap();
}

pub(crate) fn a_different_checkpoint_for_the_same_length_is_a_conflict() {
    let db = Db::fresh("checkpoint-fork");
    let store = db.store();
    let custody = new_custody(&store);
    custody.rotate_data_key(customer(1)).unwrap();
    let (signer, other) = (signer(), signer());
    store
        .put_checkpoint(&custody.audit().unwrap().checkpoint(&signer).unwrap())
        .unwrap();
    let error = store
        .put_checkpoint(&custody.audit().unwrap().checkpoint(&other).unwrap())
        .unwrap_err();
    assert!(
        matches!(error, StoreError::CheckpointConflict { entries: 1 }),
        "{error}"
    );
}

pub(crate) fn a_chain_cut_short_of_its_stored_checkpoint_is_refused_at_start_up() {
    let db = Db::fresh("vault-checkpoint");
    let store = db.store();
    {
        let vault = Db::vault(&store).unwrap();
        vault
            .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
            .unwrap();
        vault
            .add_steward("bob.ops".parse().unwrap(), "dana.admin".parse().unwrap())
            .unwrap();
        let checkpoint = vault.audit().unwrap().checkpoint(&signer()).unwrap();
        store.put_checkpoint(&checkpoint).unwrap();
    }
    drop(store);
    // Someone with write access to the database removes the newest entry: the rest still
    // chains.
    db.delete_newest_audit_entry();
    let store = db.store();
    let refused = Db::vault(&store);
    assert!(
        matches!(
            refused,
            Err(StoreError::ChainShorterThanCheckpoint { checkpoint: 2 })
        ),
        "{:?}",
        refused.map(|_| ())
    );
}
