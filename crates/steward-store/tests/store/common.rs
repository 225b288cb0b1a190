//! What the store's tests share: a temp directory of their own, keys, customers, instants.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
};

use steward_core::{CustomerId, Timestamp};
use steward_store::StoreKeys;

/// A directory of its own under the system temp dir, removed on drop: no `tempfile` crate.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "steward-store-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub(crate) fn db(&self) -> PathBuf {
        self.0.join("steward.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) const MASTER: [u8; 32] = *b"steward test key 42, not secret!";
pub(crate) const AUDIT: [u8; 32] = *b"steward test key 17, not secret!";

pub(crate) fn keys() -> StoreKeys {
    StoreKeys::new("kek-1".parse().unwrap(), &MASTER, &AUDIT).unwrap()
}

pub(crate) fn customer(n: u8) -> CustomerId {
    format!("0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a{n:02x}")
        .parse()
        .unwrap()
}

pub(crate) fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(1_750_000_000 + seconds).unwrap()
}

/// `seconds` after 2100-01-01: an instant still ahead of any clock the tests run under, for
/// fact changes, which take effect now or later, never earlier.
pub(crate) fn ahead(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(4_102_444_800 + seconds).unwrap()
}

/// The consent receipts in a store's fact log, oldest first, as stored (unverified: for
/// assertions about what was written).
pub(crate) fn stored_receipts(
    store: &impl steward_store::FactLog,
) -> Vec<steward::consent::ConsentReceipt> {
    store
        .entries_after(0)
        .unwrap()
        .iter()
        .filter_map(|entry| {
            let value: serde_json::Value = serde_json::from_str(entry.event()).unwrap();
            (value.get("kind")? == "consent")
                .then(|| serde_json::from_value(value.get("receipt")?.clone()).ok())
                .flatten()
        })
        .collect()
}

/// The facts a vault would load from `store`, under the test keys and the bundled policy.
pub(crate) fn stored_facts(store: &steward_store::SqliteStore) -> steward_store::StoreFacts {
    let keys = keys();
    let checkpoint = store.latest_checkpoint().unwrap();
    steward_store::StoreFacts::load(
        store,
        &keys.audit_key().unwrap(),
        &steward::Policy::coder_model(),
        checkpoint.as_ref(),
    )
    .unwrap()
}
