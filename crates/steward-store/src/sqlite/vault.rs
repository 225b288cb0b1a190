//! The vault on the embedded store: its facts and vault types, and what
//! [`open_vault`](crate::open_vault) reads from the file.

use steward::{
    Vault,
    logs::{ChainedEntry, Checkpoint, KeyringSnapshot, SealConfig},
};

use crate::{DurableFacts, SqliteStore, StoreError, VaultStore};

/// The facts of a service on the embedded store, served from memory: see [`DurableFacts`].
pub type StoreFacts = DurableFacts<SqliteStore>;

/// The vault of a service on the embedded store, as [`open_vault`](crate::open_vault) opens
/// it.
pub type StoreVault = Vault<StoreFacts, SqliteStore>;

impl VaultStore for SqliteStore {
    type Audit = Self;

    fn keyring_snapshot(&self) -> Result<KeyringSnapshot, StoreError> {
        Self::keyring_snapshot(self)
    }

    fn audit_entries(&self) -> Result<Vec<ChainedEntry>, StoreError> {
        Self::audit_entries(self)
    }

    fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        Self::latest_checkpoint(self)
    }

    /// A clone of the handle: it takes the chain's append lock on its own (see
    /// [`SqliteStore`]'s audit lock), so several processes on one file write one chain.
    fn audit_store(&self) -> Result<Self, StoreError> {
        Ok(self.clone())
    }

    /// [`SqliteStore::with_seal_config`].
    fn seal_config(&self) -> SealConfig {
        *Self::seal_config(self)
    }
}
