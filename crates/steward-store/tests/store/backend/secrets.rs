//! Secrets are redacted before sealing on the store's durable path too (issue 20): what is
//! stored holds only markers, and their fingerprints, keyed by the store's audit key, agree
//! across restarts and nodes.

use steward::{
    logs::Redaction,
    redact::FingerprintKey,
    vocabulary::{RecordId, Timestamp},
};

use super::Db;
use crate::{
    backend::{Backend, BackendVault, steward_request},
    common::*,
};

/// A format-valid fake Slack bot token (never issued).
const TOKEN: &str = "xoxb-482915736201-7730193584621-Kq3Zr8Wm2Tn6Yp0Xs5VbLc4H";

pub(crate) fn stored_records_hold_markers_not_secrets_and_fingerprints_survive_a_restart() {
    let db = Db::fresh("secrets");
    let ada = customer(1);
    let body = format!("SLACK_BOT_TOKEN={TOKEN}\nthe bot cannot post");
    let marker = {
        let key: FingerprintKey = keys().audit_key().unwrap().redaction_key();
        format!(
            "[REDACTED:slack-token:{}]",
            key.fingerprint(TOKEN.as_bytes())
        )
    };
    let seal = |store: &<Db as Backend>::Store, vault: &BackendVault<Db>| {
        let now = Timestamp::now();
        Db::seal_stored(
            store,
            vault,
            RecordId::generate_at(now),
            ada,
            now,
            body.as_bytes(),
        )
    };
    let first = {
        let store = db.store();
        let vault = Db::vault(&store).unwrap();
        vault
            .update_facts(|facts| facts.start_relationship(ada, Timestamp::now()))
            .unwrap()
            .unwrap();
        vault
            .add_steward("alice.ops".parse().unwrap(), "dana.admin".parse().unwrap())
            .unwrap();
        seal(&store, &vault)
    };
    assert!(matches!(
        first.header().redaction(),
        Redaction::Scanned { .. }
    ));

    // After a restart, the stored bytes open to the marker, and a new seal marks alike.
    let store = db.store();
    let vault = Db::vault(&store).unwrap();
    let stored = store.record(first.header().record_id()).unwrap().unwrap();
    let stored = steward::logs::SealedRecord::from_bytes(&stored).unwrap();
    assert_eq!(stored.header().redaction(), first.header().redaction());
    let opened = vault.open(&stored, &steward_request()).unwrap();
    let text = String::from_utf8(opened.as_bytes().to_vec()).unwrap();
    assert_eq!(
        text,
        format!("SLACK_BOT_TOKEN={marker}\nthe bot cannot post")
    );
    let second = seal(&store, &vault);
    let reopened = vault.open(&second, &steward_request()).unwrap();
    assert_eq!(reopened.as_bytes(), opened.as_bytes());
}
