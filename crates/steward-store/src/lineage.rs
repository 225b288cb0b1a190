//! Export lineage: which training export jobs included which customers' records (issue 20).
//!
//! Ids and counts only, never content. It is not a fact the policy reads, so it is not in the
//! fact log (docs/operations.md says so): it serves an operator who must purge the copies a
//! sweep or an erasure cannot reach, because they left custody.

use std::collections::BTreeMap;

use serde::Serialize;
use steward_core::{CustomerId, Timestamp, TrainingScope};
use steward_logs::ExportJobId;

use crate::StoreError;

/// One export job as the store remembers it: when, at which scope, to whom it was encrypted,
/// and how many records of each customer it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportLineage {
    /// The job (as in its audit entries and manifest).
    pub job: ExportJobId,
    /// Whose models the job trains.
    pub scope: TrainingScope,
    /// The instant the job decided at.
    pub at: Timestamp,
    /// The age recipients the records were encrypted to (public strings); empty for a
    /// plaintext export.
    pub recipients: Vec<String>,
    /// The customers whose records the job exported, with how many, ordered by customer id.
    pub customers: Vec<CustomerRecords>,
}

/// How many records of one customer an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CustomerRecords {
    /// The customer.
    pub customer: CustomerId,
    /// Records of theirs in the export (at least one).
    pub records: u64,
}

impl ExportLineage {
    /// The lineage of job `job`, counting `customers` (one entry per exported record, in any
    /// order).
    #[must_use]
    pub fn new(
        job: ExportJobId,
        scope: TrainingScope,
        at: Timestamp,
        recipients: Vec<String>,
        customers: impl IntoIterator<Item = CustomerId>,
    ) -> Self {
        let mut counts = BTreeMap::<CustomerId, u64>::new();
        for customer in customers {
            let count = counts.entry(customer).or_default();
            *count = count.saturating_add(1);
        }
        Self {
            job,
            scope,
            at,
            recipients,
            customers: counts
                .into_iter()
                .map(|(customer, records)| CustomerRecords { customer, records })
                .collect(),
        }
    }
}

/// Where export lineage is kept: both stores implement it, and the conformance suite runs
/// against each.
pub trait LineageStore {
    /// Remembers an export job and the customers whose records it holds. A job recorded
    /// twice keeps its first record.
    ///
    /// # Errors
    ///
    /// A store error if it cannot be written (then nothing of the job is).
    fn record_export(&self, lineage: &ExportLineage) -> Result<(), StoreError>;

    /// Every export job remembered, oldest first.
    ///
    /// # Errors
    ///
    /// A store error if it cannot be read, or [`StoreError::Corrupt`] for a row that does
    /// not decode.
    fn exports(&self) -> Result<Vec<ExportLineage>, StoreError>;

    /// The export jobs that hold records of `customer`, oldest first.
    ///
    /// # Errors
    ///
    /// As [`exports`](Self::exports).
    fn exports_holding(&self, customer: CustomerId) -> Result<Vec<ExportJobId>, StoreError>;
}

pub(crate) const EXPORT_JOBS: &str = "export_jobs";

/// The recipients column: a JSON array of strings.
pub(crate) fn encode_recipients(recipients: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(recipients)
        .map_err(|error| StoreError::corrupt(EXPORT_JOBS, "recipients do not encode", error))
}

pub(crate) fn decode_recipients(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text)
        .map_err(|error| StoreError::corrupt(EXPORT_JOBS, "recipients do not decode", error))
}

pub(crate) fn decode_scope(text: &str) -> Result<TrainingScope, StoreError> {
    text.parse()
        .map_err(|error| StoreError::corrupt(EXPORT_JOBS, "a scope does not parse", error))
}

pub(crate) fn decode_id(bytes: &[u8], table: &'static str) -> Result<[u8; 16], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::corrupt_row(table, "an id is not 16 bytes"))
}

pub(crate) fn decode_customer(bytes: &[u8], table: &'static str) -> Result<CustomerId, StoreError> {
    CustomerId::new(uuid::Uuid::from_bytes(decode_id(bytes, table)?))
        .map_err(|error| StoreError::corrupt(table, "invalid customer id", error))
}

/// Builds the jobs from `(job, scope, at, recipients)` rows, oldest first, and
/// `(job, customer, records)` rows.
pub(crate) fn assemble(
    jobs: Vec<(Vec<u8>, String, i64, String)>,
    customers: Vec<(Vec<u8>, Vec<u8>, i64)>,
) -> Result<Vec<ExportLineage>, StoreError> {
    let mut by_job = BTreeMap::<[u8; 16], Vec<CustomerRecords>>::new();
    for (job, customer, records) in customers {
        let records = u64::try_from(records)
            .map_err(|_| StoreError::corrupt_row("export_customers", "a negative count"))?;
        by_job
            .entry(decode_id(&job, "export_customers")?)
            .or_default()
            .push(CustomerRecords {
                customer: decode_customer(&customer, "export_customers")?,
                records,
            });
    }
    jobs.into_iter()
        .map(|(job, scope, at, recipients)| {
            let id = decode_id(&job, EXPORT_JOBS)?;
            let mut customers = by_job.remove(&id).unwrap_or_default();
            customers.sort_by_key(|entry| entry.customer);
            Ok(ExportLineage {
                job: ExportJobId::from_bytes(id),
                scope: decode_scope(&scope)?,
                at: Timestamp::from_unix_nanos(at),
                recipients: decode_recipients(&recipients)?,
                customers,
            })
        })
        .collect()
}
