//! Keys: wrong keys are refused at open, keys and records survive reopen, what a vault
//! acknowledged survives a restart, and a shred whose keys outlived its audit entry is
//! completed before the next vault serves.

use std::sync::Arc;

use steward::{
    consent::{Channel, ConsentActor, ConsentChange},
    logs::{
        AccessRequest, AuditEvent, AuditTrail, BoxError, Custody, KeyAdmission, KeyError, KeyStore,
        KeyVersion, Keyring, KeyringSnapshot, LogsError, OpenError, SealInput, SealedRecord,
        Tombstone, WrappedDataKey,
    },
    vocabulary::{CustomerId, RecordId, Timestamp, TrainingLevel},
};
use steward_store::{StoreError, StoreKeys};

use super::Db;
use crate::{
    backend::{Backend, log, policy, steward_request},
    common::*,
};

pub(crate) fn a_wrong_master_key_or_audit_key_is_refused_at_open() {
    let db = Db::fresh("wrong-keys");
    drop(db.store());

    let wrong_master = StoreKeys::new(
        "kek-1".parse().unwrap(),
        b"steward test key 43, not secret!",
        &AUDIT,
    )
    .unwrap();
    let error = db.open_with(&wrong_master).unwrap_err();
    assert!(
        matches!(error, StoreError::WrongMasterKey { .. }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "wrong master key: the key given as `kek-1` is not the one this store knows by that id"
    );

    let wrong_audit = StoreKeys::new(
        "kek-1".parse().unwrap(),
        &MASTER,
        b"steward test key 18, not secret!",
    )
    .unwrap();
    let error = db.open_with(&wrong_audit).unwrap_err();
    assert!(matches!(error, StoreError::WrongAuditKey), "{error}");
    assert!(error.to_string().starts_with("wrong audit key"), "{error}");

    let other_id = StoreKeys::new("kek-2".parse().unwrap(), &MASTER, &AUDIT).unwrap();
    let error = db.open_with(&other_id).unwrap_err();
    assert!(
        matches!(&error, StoreError::MasterKeyNotCurrent { given, current }
            if given.as_str() == "kek-2" && current.as_str() == "kek-1"),
        "{error}"
    );

    // No message carries key material, in any form.
    for error in [
        db.open_with(&wrong_master).unwrap_err(),
        db.open_with(&wrong_audit).unwrap_err(),
    ] {
        let text = format!("{error} {error:?}");
        assert!(!text.contains("67") && !text.contains("0x43") && !text.contains("24, 24"));
    }
    db.open_with(&keys()).unwrap();
}

pub(crate) fn keys_and_records_survive_reopen_and_open_again() {
    let db = Db::fresh("restart");
    let store = db.store();
    let keys = keys();
    let keyring = Keyring::restore(
        keys.master_key().unwrap(),
        [],
        store.keyring_snapshot().unwrap(),
    )
    .unwrap();
    let trail = AuditTrail::new(keys.audit_key().unwrap(), Db::audit_store(&store)).unwrap();
    let custody = Custody::new(keyring, trail).with_key_store(Arc::new(store.clone()));
    let seal = |at, body: &[u8]| {
        let input = SealInput::new(
            RecordId::generate_at(at),
            customer(1),
            at,
            TrainingLevel::None,
        );
        custody.seal(&input, body).unwrap()
    };
    let first = seal(at(0), b"first request");
    custody.rotate_data_key(customer(1)).unwrap();
    let second = seal(at(1), b"second request");
    store
        .put_records([
            (&first, steward::vocabulary::DataCategory::LlmRequestLog),
            (&second, steward::vocabulary::DataCategory::LlmRequestLog),
        ])
        .unwrap();
    let snapshot = custody.keyring().unwrap().snapshot();
    drop((custody, store));

    let store = db.store();
    assert_eq!(store.keyring_snapshot().unwrap(), snapshot);
    let keyring = Keyring::restore(keys.master_key().unwrap(), [], snapshot).unwrap();
    let trail = AuditTrail::new(keys.audit_key().unwrap(), Db::audit_store(&store)).unwrap();
    let custody = Custody::new(keyring, trail).with_key_store(Arc::new(store.clone()));
    let request = AccessRequest::with_justification_text(
        "alice.ops".parse().unwrap(),
        "troubleshooting".parse().unwrap(),
        "TICKET-2",
    );
    for (record, body) in [
        (&first, &b"first request"[..]),
        (&second, b"second request"),
    ] {
        let bytes = store.record(record.header().record_id()).unwrap().unwrap();
        assert_eq!(bytes, record.as_bytes());
        let stored = SealedRecord::from_vec(bytes).unwrap();
        let plaintext = custody
            .dangerous_open_with_gate(&stored, &request, |_| Ok(()))
            .unwrap();
        assert_eq!(plaintext.as_bytes(), body);
    }
    assert_eq!(store.record(RecordId::generate_at(at(9))).unwrap(), None);
}

pub(crate) fn everything_a_vault_acknowledged_survives_a_restart() {
    let db = Db::fresh("vault-restart");
    let store = db.store();
    let (ada, ben) = (customer(1), customer(2));
    let kept;
    let shredded;
    let entries;
    {
        let vault = Db::vault(&store).unwrap();
        vault
            .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
            .unwrap();
        let start = Timestamp::now();
        vault
            .update_facts(|facts| {
                facts.start_relationship(ada, start)?;
                facts.start_relationship(ben, start)?;
                facts.record_consent(ConsentChange::new(
                    ada,
                    TrainingLevel::Shared,
                    Timestamp::now(),
                    ConsentActor::Customer,
                    Channel::AccountSettings,
                    policy().version().clone(),
                ))
            })
            .unwrap()
            .unwrap();
        kept = log::<Db>(&store, &vault, ada);
        shredded = log::<Db>(&store, &vault, ben);
        vault.open(&kept, &steward_request()).unwrap();
        vault.rotate_data_key(ada).unwrap();
        vault.shred(ben).unwrap();
        entries = vault.audit().unwrap().verify().unwrap().entries();
    }
    drop(store);

    let store = db.store();
    let vault = Db::vault(&store).unwrap();
    // The facts came back: roster, relationships, consent.
    let facts = vault.facts().unwrap();
    assert!(
        facts
            .roster()
            .unwrap()
            .contains(&"alice.ops".parse().unwrap())
    );
    assert_eq!(
        facts.consent().unwrap().level_at(ada, Timestamp::now()),
        TrainingLevel::Shared
    );
    assert!(
        facts
            .relationships()
            .unwrap()
            .containing(ada, Timestamp::now())
            .is_some()
    );
    drop(facts);
    // The audit chain continues where it stopped.
    assert_eq!(vault.audit().unwrap().verify().unwrap().entries(), entries);
    // The stored record opens; the shred held.
    let stored = store.record(kept.header().record_id()).unwrap().unwrap();
    let reopened = SealedRecord::from_vec(stored).unwrap();
    assert_eq!(
        vault
            .open(&reopened, &steward_request())
            .unwrap()
            .as_bytes(),
        b"a prompt"
    );
    assert!(matches!(
        vault.open(&shredded, &steward_request()),
        Err(LogsError::Open(OpenError::Shredded))
    ));
    assert_eq!(
        vault.audit().unwrap().verify().unwrap().entries(),
        entries + 2
    );
}

/// The store as key store, except that a shred fails: as if the process died between the
/// shred's audit entry and the deletion of the keys.
struct ShredDiesBeforeDeletion(<Db as Backend>::Store);

impl KeyStore for ShredDiesBeforeDeletion {
    fn put_data_key(&self, key: &WrappedDataKey) -> Result<KeyAdmission, BoxError> {
        KeyStore::put_data_key(&self.0, key)
    }

    fn is_shared(&self) -> bool {
        KeyStore::is_shared(&self.0)
    }

    fn customer_keys(&self, customer: CustomerId) -> Result<Option<KeyringSnapshot>, BoxError> {
        KeyStore::customer_keys(&self.0, customer)
    }

    fn shred(&self, _customer: CustomerId, _tombstone: Tombstone) -> Result<(), BoxError> {
        Err("the process died before the keys were deleted".into())
    }

    fn rewrap(&self, keys: &[WrappedDataKey]) -> Result<(), BoxError> {
        KeyStore::rewrap(&self.0, keys)
    }
}

pub(crate) fn a_shred_whose_keys_outlived_its_audit_entry_is_completed_at_the_next_open() {
    let db = Db::fresh("vault-pending-shred");
    let store = db.store();
    let (ada, ben) = (customer(1), customer(2));
    let (kept, victim);
    {
        let vault = Db::vault(&store).unwrap();
        vault
            .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
            .unwrap();
        vault
            .update_facts(|facts| {
                facts.start_relationship(ada, Timestamp::now())?;
                facts.start_relationship(ben, Timestamp::now())
            })
            .unwrap()
            .unwrap();
        kept = log::<Db>(&store, &vault, ada);
        victim = log::<Db>(&store, &vault, ben);
    }
    // A custody whose shred writes its entry and then dies before the keys are deleted.
    {
        let keyring = Keyring::restore(
            keys().master_key().unwrap(),
            [],
            store.keyring_snapshot().unwrap(),
        )
        .unwrap();
        let trail = AuditTrail::new(keys().audit_key().unwrap(), Db::audit_store(&store)).unwrap();
        let custody = Custody::new(keyring, trail)
            .with_key_store(Arc::new(ShredDiesBeforeDeletion(store.clone())));
        assert!(matches!(
            custody.shred(ben),
            Err(LogsError::Key(KeyError::StoreUnavailable { .. }))
        ));
    }
    let entries = store.audit_entries().unwrap();
    assert_eq!(
        entries.last().unwrap().entry().event(),
        &AuditEvent::CustomerShreddedThrough {
            customer: ben,
            through: Some(KeyVersion::FIRST)
        }
    );
    assert!(
        store
            .keyring_snapshot()
            .unwrap()
            .data_keys()
            .iter()
            .any(|key| key.customer() == ben),
        "the double should have kept the keys"
    );
    let before = entries.len();

    let vault = Db::vault(&store).unwrap();
    // Completed before the vault served: the record does not open, the bystander's does.
    assert!(matches!(
        vault.open(&victim, &steward_request()),
        Err(LogsError::Open(OpenError::Shredded))
    ));
    assert_eq!(
        vault.open(&kept, &steward_request()).unwrap().as_bytes(),
        b"a prompt"
    );
    let snapshot = store.keyring_snapshot().unwrap();
    assert!(snapshot.data_keys().iter().all(|key| key.customer() != ben));
    assert!(
        snapshot
            .shredded()
            .contains(&(ben, Tombstone::new(Some(KeyVersion::FIRST))))
    );
    // The completion is audited right after the shred's entry, before anything else, and
    // the chain still verifies.
    let entries = store.audit_entries().unwrap();
    assert_eq!(
        entries.get(before).unwrap().entry().event(),
        &AuditEvent::ShredCompletedAtStartUp {
            customer: ben,
            through: Some(KeyVersion::FIRST)
        }
    );
    let head = vault.audit().unwrap().verify().unwrap();
    assert_eq!(head.entries(), u64::try_from(entries.len()).unwrap());
    drop(vault);

    // Done once: the next open finds nothing pending and writes nothing.
    let reopened = Db::vault(&store).unwrap();
    assert_eq!(
        reopened.audit().unwrap().verify().unwrap().entries(),
        head.entries()
    );
}

/// Two vaults on one store, as two processes hold it. B opens a customer's records (on a store
/// that keeps a key epoch, its opens after the first read the epoch, not her keys); A shreds
/// her; B's next open of her records fails as shredded, while another customer's record still
/// opens on B.
pub(crate) fn a_shred_by_another_vault_holds_at_its_next_open_of_a_customer_it_just_opened() {
    let db = Db::fresh("shred-elsewhere");
    let (ada, ben) = (customer(1), customer(2));
    let store_a = db.store();
    let vault_a = Db::vault(&store_a).unwrap();
    vault_a
        .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
        .unwrap();
    let start = Timestamp::now();
    vault_a
        .update_facts(|facts| {
            facts.start_relationship(ada, start)?;
            facts.start_relationship(ben, start)
        })
        .unwrap()
        .unwrap();
    let first = log::<Db>(&store_a, &vault_a, ada);
    let second = log::<Db>(&store_a, &vault_a, ada);
    let other = log::<Db>(&store_a, &vault_a, ben);

    let store_b = db.store();
    let vault_b = Db::vault(&store_b).unwrap();
    for record in [&first, &second, &first] {
        let opened = vault_b.open(record, &steward_request()).unwrap();
        assert_eq!(opened.as_bytes(), b"a prompt");
    }

    vault_a.shred(ada).unwrap();
    for record in [&second, &first] {
        let refused = vault_b.open(record, &steward_request());
        assert!(
            matches!(refused, Err(LogsError::Open(OpenError::Shredded))),
            "{refused:?}"
        );
    }
    let opened = vault_b.open(&other, &steward_request()).unwrap();
    assert_eq!(opened.as_bytes(), b"a prompt");
}
