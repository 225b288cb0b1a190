//! A node's vault on the shared database.

use steward::{
    Vault,
    logs::{
        ChainedEntry, Checkpoint, KeyError, KeyringSnapshot, LogsError, SealConfig, SealedRecord,
    },
};
use steward_core::{CustomerId, DataCategory, RecordId, Timestamp};

use super::{PgAuditStore, PgFacts, PgStore};
use crate::{StoreError, VaultStore};

/// The vault of one node on the shared PostgreSQL store, as [`open_vault`](crate::open_vault)
/// opens it.
pub type PgVault = Vault<PgFacts, PgAuditStore>;

/// Attempts of [`PgStore::seal_durable`]: a first seal, and one more after adopting a shred
/// or rotating a full key version (each a rare event; a third means the keys keep changing
/// under this node, and the caller should hear of it).
const SEAL_ATTEMPTS: usize = 3;

impl VaultStore for PgStore {
    type Audit = PgAuditStore;

    fn keyring_snapshot(&self) -> Result<KeyringSnapshot, StoreError> {
        Self::keyring_snapshot(self)
    }

    fn audit_entries(&self) -> Result<Vec<ChainedEntry>, StoreError> {
        Self::audit_entries(self)
    }

    fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        Self::latest_checkpoint(self)
    }

    /// A connection of the trail's own, which holds the chain's head row locked while it
    /// appends.
    fn audit_store(&self) -> Result<PgAuditStore, StoreError> {
        PgAuditStore::new(self)
    }

    /// [`PgConfig::with_seal_config`](super::PgConfig::with_seal_config): the records
    /// per key version are counted in the database, across nodes and restarts.
    fn seal_config(&self) -> SealConfig {
        *self.config().seal_config()
    }
}

impl PgStore {
    /// Seals `body` with `vault` as record `id` of `customer`, collected at `collected_at`
    /// (under the consent in force then, which the vault reads), and stores the record,
    /// returning it once it is committed.
    ///
    /// If another node shredded the customer since this node last read their keys, the
    /// store refuses the record; the vault then adopts the shred and seals again, under the
    /// customer's new key generation. If the key version is full, the vault rotates it
    /// (compare-and-swap: a rotation another node made first is adopted) and seals again.
    ///
    /// Each record is one statement on a pooled connection, committed on its own: the
    /// server shares the flush of concurrent commits, so threads sealing at once need no
    /// group commit of ours (one was measured, and was slower: docs/benchmarks.md).
    ///
    /// # Errors
    ///
    /// As [`Vault::seal`] (`StoreError::Logs`) and [`put_record`](Self::put_record).
    pub fn seal_durable(
        &self,
        vault: &PgVault,
        id: RecordId,
        customer: CustomerId,
        collected_at: Timestamp,
        body: &[u8],
        category: DataCategory,
    ) -> Result<SealedRecord, StoreError> {
        let mut attempt = 1;
        loop {
            let record = vault.seal(id, customer, collected_at, body)?;
            match self.put_record(&record, category) {
                Ok(()) => return Ok(record),
                Err(StoreError::DataKeyShredded { .. }) if attempt < SEAL_ATTEMPTS => {
                    vault.refresh_customer(customer)?;
                }
                Err(StoreError::Logs(LogsError::Key(KeyError::DataKeyExhausted { .. })))
                    if attempt < SEAL_ATTEMPTS =>
                {
                    vault.rotate_data_key(customer)?;
                }
                Err(error) => return Err(error),
            }
            attempt += 1;
        }
    }
}
