//! The suite's SQLite backend: a store file in a temp directory of its own.

use rusqlite::{Connection, params};
use steward::{
    logs::SealedRecord,
    vocabulary::{CustomerId, DataCategory, ManualClock, RecordId, Timestamp},
};
use steward_store::{SqliteStore, StoreError, StoreKeys, open_vault, open_vault_with_clock};

use super::{Backend, BackendVault, FactRow};
use crate::common::{TempDir, keys};

/// `steward.db` in a temp directory of its own.
pub(crate) struct Sqlite(TempDir);

impl Sqlite {
    /// A raw connection to the file, behind the store's back.
    fn raw(&self) -> Connection {
        Connection::open(self.0.db()).unwrap()
    }
}

impl Backend for Sqlite {
    type Store = SqliteStore;
    type Audit = SqliteStore;

    fn fresh(test: &str) -> Self {
        Self(TempDir::new(test))
    }

    fn open_with(&self, keys: &StoreKeys) -> Result<SqliteStore, StoreError> {
        let path = self.0.db();
        if path.exists() {
            SqliteStore::open(path, keys)
        } else {
            SqliteStore::create(path, keys)
        }
    }

    fn vault(store: &SqliteStore) -> Result<BackendVault<Self>, StoreError> {
        open_vault(store, &keys(), super::policy())
    }

    fn vault_with_clock(
        store: &SqliteStore,
        clock: ManualClock,
    ) -> Result<BackendVault<Self>, StoreError> {
        open_vault_with_clock(store, &keys(), super::policy(), clock)
    }

    fn ingest(
        store: &SqliteStore,
        vault: std::sync::Arc<BackendVault<Self>>,
        config: steward_store::IngestConfig,
    ) -> steward_store::Ingest {
        steward_store::Ingest::sqlite(vault, store.clone(), config).unwrap()
    }

    fn audit_store(store: &SqliteStore) -> SqliteStore {
        store.clone()
    }

    fn seal_stored(
        store: &SqliteStore,
        vault: &BackendVault<Self>,
        id: RecordId,
        customer: CustomerId,
        at: Timestamp,
        body: &[u8],
    ) -> SealedRecord {
        let record = vault.seal(id, customer, at, body).unwrap();
        store
            .put_record(&record, DataCategory::LlmRequestLog)
            .unwrap();
        record
    }

    fn fact_rows(&self) -> Vec<FactRow> {
        let conn = self.raw();
        let mut statement = conn
            .prepare("SELECT sequence, event, hash FROM fact_log ORDER BY sequence")
            .unwrap();
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn rewrite_fact_log(&self, rows: &[FactRow]) {
        let mut conn = self.raw();
        let tx = conn.transaction().unwrap();
        tx.execute("DELETE FROM fact_log", []).unwrap();
        for (sequence, event, hash) in rows {
            tx.execute(
                "INSERT INTO fact_log (sequence, event, hash) VALUES (?1, ?2, ?3)",
                params![sequence, event, hash],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }

    fn swap_sealed(&self, a: RecordId, b: RecordId) {
        let conn = self.raw();
        let sealed = |id: RecordId| -> Vec<u8> {
            conn.query_row(
                "SELECT sealed FROM records WHERE id = ?1",
                [id.as_bytes()],
                |row| row.get(0),
            )
            .unwrap()
        };
        let (of_a, of_b) = (sealed(a), sealed(b));
        for (id, bytes) in [(a, of_b), (b, of_a)] {
            let updated = conn
                .execute(
                    "UPDATE records SET sealed = ?2 WHERE id = ?1",
                    params![id.as_bytes(), bytes],
                )
                .unwrap();
            assert_eq!(updated, 1);
        }
    }

    fn delete_newest_audit_entry(&self) {
        let deleted = self
            .raw()
            .execute(
                "DELETE FROM audit_entries \
                 WHERE sequence = (SELECT max(sequence) FROM audit_entries)",
                [],
            )
            .unwrap();
        assert_eq!(deleted, 1);
    }
}
