//! Export lineage in the SQLite store (schema version 3).

use rusqlite::params;
use steward_core::CustomerId;
use steward_logs::ExportJobId;

use crate::{
    SqliteStore, StoreError,
    error::Doing,
    lineage::{self, ExportLineage, LineageStore},
};

impl LineageStore for SqliteStore {
    fn record_export(&self, lineage: &ExportLineage) -> Result<(), StoreError> {
        let recipients = lineage::encode_recipients(&lineage.recipients)?;
        self.write(|tx| {
            let conn = tx.conn();
            let added = conn
                .execute(
                    "INSERT OR IGNORE INTO export_jobs (job, scope, at_nanos, recipients) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        lineage.job.as_bytes(),
                        lineage.scope.to_string(),
                        lineage.at.unix_nanos(),
                        recipients
                    ],
                )
                .doing("recording an export job")?;
            if added == 0 {
                return Ok(());
            }
            for entry in &lineage.customers {
                let records = i64::try_from(entry.records).unwrap_or(i64::MAX);
                conn.execute(
                    "INSERT INTO export_customers (job, customer, records) VALUES (?1, ?2, ?3)",
                    params![lineage.job.as_bytes(), entry.customer.as_bytes(), records],
                )
                .doing("recording an export job's customers")?;
            }
            Ok::<(), StoreError>(())
        })
    }

    fn exports(&self) -> Result<Vec<ExportLineage>, StoreError> {
        self.read(|conn| {
            let jobs = conn
                .prepare(
                    "SELECT job, scope, at_nanos, recipients FROM export_jobs \
                     ORDER BY at_nanos, job",
                )
                .and_then(|mut stmt| {
                    stmt.query_map([], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .doing("reading the export jobs")?;
            let customers = conn
                .prepare("SELECT job, customer, records FROM export_customers")
                .and_then(|mut stmt| {
                    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .doing("reading the export jobs' customers")?;
            lineage::assemble(jobs, customers)
        })
    }

    fn exports_holding(&self, customer: CustomerId) -> Result<Vec<ExportJobId>, StoreError> {
        let ids: Vec<Vec<u8>> = self.read(|conn| {
            conn.prepare(
                "SELECT j.job FROM export_customers c JOIN export_jobs j ON j.job = c.job \
                 WHERE c.customer = ?1 ORDER BY j.at_nanos, j.job",
            )
            .and_then(|mut stmt| {
                stmt.query_map([customer.as_bytes()], |row| row.get(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .doing("reading the exports that hold a customer's records")
        })?;
        ids.iter()
            .map(|id| lineage::decode_id(id, lineage::EXPORT_JOBS).map(ExportJobId::from_bytes))
            .collect()
    }
}
