//! Export lineage in the PostgreSQL store (schema version 3).

use steward_core::CustomerId;
use steward_logs::ExportJobId;

use super::{PgStore, column};
use crate::{
    StoreError,
    error::Doing,
    lineage::{self, EXPORT_JOBS, ExportLineage, LineageStore},
};

impl LineageStore for PgStore {
    fn record_export(&self, lineage: &ExportLineage) -> Result<(), StoreError> {
        let recipients = lineage::encode_recipients(&lineage.recipients)?;
        let mut client = self.client()?;
        let mut tx = client.transaction().doing("starting an export record")?;
        let added = tx
            .execute(
                "INSERT INTO export_jobs (job, scope, at_nanos, recipients) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (job) DO NOTHING",
                &[
                    &lineage.job.as_bytes().as_slice(),
                    &lineage.scope.to_string(),
                    &lineage.at.unix_nanos(),
                    &recipients,
                ],
            )
            .doing("recording an export job")?;
        if added == 0 {
            return Ok(());
        }
        for entry in &lineage.customers {
            let records = i64::try_from(entry.records).unwrap_or(i64::MAX);
            tx.execute(
                "INSERT INTO export_customers (job, customer, records) VALUES ($1, $2, $3)",
                &[
                    &lineage.job.as_bytes().as_slice(),
                    &entry.customer.as_bytes().as_slice(),
                    &records,
                ],
            )
            .doing("recording an export job's customers")?;
        }
        tx.commit().doing("committing an export record")
    }

    fn exports(&self) -> Result<Vec<ExportLineage>, StoreError> {
        let mut client = self.client()?;
        let mut tx = super::snapshot(&mut client)?;
        let jobs = tx
            .query(
                "SELECT job, scope, at_nanos, recipients FROM export_jobs ORDER BY at_nanos, job",
                &[],
            )
            .doing("reading the export jobs")?
            .iter()
            .map(|row| {
                Ok((
                    column(row, 0, EXPORT_JOBS)?,
                    column(row, 1, EXPORT_JOBS)?,
                    column(row, 2, EXPORT_JOBS)?,
                    column(row, 3, EXPORT_JOBS)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let customers = tx
            .query("SELECT job, customer, records FROM export_customers", &[])
            .doing("reading the export jobs' customers")?
            .iter()
            .map(|row| {
                Ok((
                    column(row, 0, "export_customers")?,
                    column(row, 1, "export_customers")?,
                    column(row, 2, "export_customers")?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        tx.commit().doing("ending a snapshot read")?;
        lineage::assemble(jobs, customers)
    }

    fn exports_holding(&self, customer: CustomerId) -> Result<Vec<ExportJobId>, StoreError> {
        let mut client = self.client()?;
        let rows = client
            .query(
                "SELECT j.job FROM export_customers c JOIN export_jobs j ON j.job = c.job \
                 WHERE c.customer = $1 ORDER BY j.at_nanos, j.job",
                &[&customer.as_bytes().as_slice()],
            )
            .doing("reading the exports that hold a customer's records")?;
        rows.iter()
            .map(|row| {
                let id: Vec<u8> = column(row, 0, EXPORT_JOBS)?;
                lineage::decode_id(&id, EXPORT_JOBS).map(ExportJobId::from_bytes)
            })
            .collect()
    }
}
