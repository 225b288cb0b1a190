//! The suite's PostgreSQL backend: a schema of its own on the server `STEWARD_POSTGRES`
//! names, dropped when the test ends.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use steward::{
    logs::SealedRecord,
    vocabulary::{CustomerId, DataCategory, ManualClock, RecordId, Timestamp},
};
use steward_store::{
    StoreError, StoreKeys, open_vault, open_vault_with_clock,
    pg::{PgAuditStore, PgConfig, PgStore},
};

use super::{Backend, BackendVault, FactRow};
use crate::common::keys;

/// A schema of its own, and a connection of the test's own to tamper through.
pub(crate) struct Postgres {
    config: PgConfig,
    admin: Mutex<postgres::Client>,
}

impl Postgres {
    /// Runs `sql` on the test's own connection, with `{schema}` replaced by the schema.
    fn execute(&self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> u64 {
        let sql = sql.replace("{schema}", self.config.schema());
        self.admin.lock().unwrap().execute(&sql, params).unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Ok(admin) = self.admin.get_mut() {
            let _ = admin.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                self.config.schema()
            ));
        }
    }
}

impl Backend for Postgres {
    type Store = PgStore;
    type Audit = PgAuditStore;

    fn fresh(_test: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let connection = std::env::var("STEWARD_POSTGRES").unwrap();
        let schema = format!(
            "steward_suite_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let config = PgConfig::new(&connection)
            .unwrap()
            .with_schema(&schema)
            .unwrap()
            .with_facts_poll(Duration::from_millis(200))
            .unwrap();
        let admin = postgres::Client::connect(&connection, postgres::NoTls).unwrap();
        Self {
            config,
            admin: Mutex::new(admin),
        }
    }

    fn open_with(&self, keys: &StoreKeys) -> Result<PgStore, StoreError> {
        PgStore::create(&self.config, keys)
    }

    fn vault(store: &PgStore) -> Result<BackendVault<Self>, StoreError> {
        open_vault(store, &keys(), super::policy())
    }

    fn vault_with_clock(
        store: &PgStore,
        clock: ManualClock,
    ) -> Result<BackendVault<Self>, StoreError> {
        open_vault_with_clock(store, &keys(), super::policy(), clock)
    }

    fn ingest(
        store: &PgStore,
        vault: std::sync::Arc<BackendVault<Self>>,
        config: steward_store::IngestConfig,
    ) -> steward_store::Ingest {
        steward_store::Ingest::postgres(vault, store.clone(), config).unwrap()
    }

    fn audit_store(store: &PgStore) -> PgAuditStore {
        PgAuditStore::new(store).unwrap()
    }

    fn seal_stored(
        store: &PgStore,
        vault: &BackendVault<Self>,
        id: RecordId,
        customer: CustomerId,
        at: Timestamp,
        body: &[u8],
    ) -> SealedRecord {
        store
            .seal_durable(vault, id, customer, at, body, DataCategory::LlmRequestLog)
            .unwrap()
    }

    fn fact_rows(&self) -> Vec<FactRow> {
        let sql = format!(
            "SELECT seq, event, hash FROM {}.fact_events ORDER BY seq",
            self.config.schema()
        );
        self.admin
            .lock()
            .unwrap()
            .query(&sql, &[])
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect()
    }

    fn rewrite_fact_log(&self, rows: &[FactRow]) {
        let schema = self.config.schema();
        let mut admin = self.admin.lock().unwrap();
        let mut tx = admin.transaction().unwrap();
        tx.execute(&format!("DELETE FROM {schema}.fact_events"), &[])
            .unwrap();
        for (sequence, event, hash) in rows {
            tx.execute(
                &format!("INSERT INTO {schema}.fact_events (seq, event, hash) VALUES ($1, $2, $3)"),
                &[sequence, event, hash],
            )
            .unwrap();
        }
        let newest = rows.iter().map(|row| row.0).max().unwrap_or(0);
        tx.execute(
            &format!("UPDATE {schema}.facts_head SET seq = $1"),
            &[&newest],
        )
        .unwrap();
        tx.commit().unwrap();
    }

    fn swap_sealed(&self, a: RecordId, b: RecordId) {
        // One statement swaps the two blobs (PostgreSQL reads the rows as they were before).
        let swapped = self.execute(
            "UPDATE {schema}.records r SET sealed = o.sealed FROM {schema}.records o \
             WHERE (r.id, o.id) IN (($1, $2), ($2, $1))",
            &[&a.as_bytes().as_slice(), &b.as_bytes().as_slice()],
        );
        assert_eq!(swapped, 2);
    }

    fn delete_newest_audit_entry(&self) {
        let deleted = self.execute(
            "DELETE FROM {schema}.audit_entries \
             WHERE sequence = (SELECT max(sequence) FROM {schema}.audit_entries)",
            &[],
        );
        assert_eq!(deleted, 1);
    }
}
