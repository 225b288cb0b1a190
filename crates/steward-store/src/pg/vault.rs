//! A node's vault on the shared database.

use std::sync::Arc;

use steward::{
    Policy, Vault,
    logs::{AuditTrail, Custody, KeyError, Keyring, LogsError, SealInput, SealedRecord},
};
use steward_core::DataCategory;

use super::{PgAuditStore, PgFacts, PgStore};
use crate::{StoreError, StoreKeys, durable::verify_chain_at_start};

/// The vault of one node on the shared PostgreSQL store.
pub type PgVault = Vault<PgFacts, PgAuditStore>;

/// Attempts of [`PgStore::seal_durable`]: a first seal, and one more after adopting a shred
/// or rotating a full key version (each a rare event; a third means the keys keep changing
/// under this node, and the caller should hear of it).
const SEAL_ATTEMPTS: usize = 3;

/// Opens this node's vault on `store`: restores the keyring from the stored keys and
/// tombstones, verifies the whole audit chain (and that it reaches the newest checkpoint),
/// continues the chain after its newest entry, makes the store the custody's key store,
/// completes every shred the chain records but the tombstones do not (audited, see
/// `Custody::complete_pending_shreds`), and loads the facts. Start a
/// [`FactsFollower`](super::FactsFollower) on the vault so that other nodes' fact changes
/// reach it.
///
/// # Errors
///
/// [`StoreError::Logs`] if the chain does not verify, the keyring does not restore or a
/// pending shred cannot be completed;
/// [`StoreError::Postgres`] if the store cannot be read; as [`PgFacts::load`] otherwise.
pub fn open_pg_vault(
    store: &PgStore,
    keys: &StoreKeys,
    policy: Policy,
) -> Result<PgVault, StoreError> {
    let keyring = Keyring::restore(keys.master_key()?, [], store.keyring_snapshot()?)?;
    let checkpoint = store.latest_checkpoint()?;
    let entries = store.audit_entries()?;
    verify_chain_at_start(keys, &entries, checkpoint)?;
    let audit_key = keys.audit_key()?;
    let facts = PgFacts::load(store, &audit_key, &policy, checkpoint.as_ref())?;
    facts.check_keyring(&keyring)?;
    let trail = AuditTrail::new(audit_key, PgAuditStore::new(store)?)?;
    let custody = Custody::with_config(keyring, trail, *store.config().vault_config())
        .with_key_store(Arc::new(store.clone()));
    // A shred whose entry was written but whose keys a crashed node kept: done before serving.
    custody.complete_pending_shreds(&entries)?;
    Ok(Vault::with_custody(policy, facts, custody)?)
}

impl PgStore {
    /// Seals `body` with `vault` and stores the record, returning it once it is committed.
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
        meta: &SealInput,
        body: &[u8],
        category: DataCategory,
    ) -> Result<SealedRecord, StoreError> {
        let customer = meta.customer();
        let mut attempt = 1;
        loop {
            let record = vault.seal(meta, body)?;
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
