//! The vault on a store, whichever the backend: one way to open it, over the few things
//! both stores offer for it.

use std::{sync::Arc, thread};

use steward::{
    Policy, Vault,
    vocabulary::{Clock, SystemClock},
};
use steward_logs::{
    AuditKey, AuditStore, AuditTrail, ChainedEntry, Checkpoint, Custody, KeyStore, Keyring,
    KeyringSnapshot, SealConfig,
};

use crate::{DurableFacts, FactLog, StoreError, StoreKeys, fact_log::key_store_error};

/// The vault [`open_vault`] opens on a store `S`: [`StoreVault`](crate::StoreVault) on the
/// embedded store, `pg::PgVault` on PostgreSQL.
pub type VaultOn<S> = Vault<DurableFacts<S>, <S as VaultStore>::Audit>;

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::SqliteStore {}
    #[cfg(feature = "postgres")]
    impl Sealed for crate::pg::PgStore {}
}

/// What [`open_vault`] reads from a store, the one job both backends do for it: the stored
/// keyring, the audit chain and its newest checkpoint, the audit store a trail appends to,
/// and how the vault seals. Sealed: the stores are [`SqliteStore`](crate::SqliteStore) and
/// `pg::PgStore`; each method is the store's inherent method of the same name.
pub trait VaultStore: sealed::Sealed + FactLog + KeyStore {
    /// Where the vault's audit trail appends: the store itself on SQLite, a connection of
    /// its own on PostgreSQL.
    type Audit: AuditStore;

    /// The stored wrapped keys and tombstones, which `Keyring::restore` rebuilds the keyring
    /// from.
    ///
    /// # Errors
    ///
    /// If the store cannot be read, or holds what is not a keyring.
    fn keyring_snapshot(&self) -> Result<KeyringSnapshot, StoreError>;

    /// The whole audit chain, oldest entry first.
    ///
    /// # Errors
    ///
    /// If the store cannot be read, or a row is not an entry.
    fn audit_entries(&self) -> Result<Vec<ChainedEntry>, StoreError>;

    /// The newest stored checkpoint, if any.
    ///
    /// # Errors
    ///
    /// If the store cannot be read, or the row is not a checkpoint.
    fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError>;

    /// The audit store a new trail appends to.
    ///
    /// # Errors
    ///
    /// If it cannot be set up (on PostgreSQL, its connection).
    fn audit_store(&self) -> Result<Self::Audit, StoreError>;

    /// How the vault seals: the AEAD, sessions and records per data key version.
    fn seal_config(&self) -> SealConfig;
}

/// Opens the vault on `store`, either backend: restores the keyring from the stored wrapped
/// keys and tombstones (on a second thread, while this one reads the rest), verifies the
/// whole audit chain and that it still reaches the newest stored checkpoint (so that a chain
/// cut short is found at start-up), continues the chain after its newest entry, seals with
/// the store's [`SealConfig`] (`SqliteStore::with_seal_config`,
/// `pg::PgConfig::with_seal_config`), makes the store the custody's key store (every key
/// change written ahead), completes every shred the chain records but the tombstones do not
/// (audited, see `Custody::complete_pending_shreds`), and loads the facts from the fact log
/// (every entry verified, and the log checked against the same checkpoint).
///
/// On PostgreSQL, start a `pg::FactsFollower` on the vault so that other nodes' fact changes
/// reach it; on SQLite, a [`StoreFactsFollower`](crate::StoreFactsFollower) does the same for
/// other processes on the file.
///
/// # Errors
///
/// [`StoreError::Logs`] if the audit chain does not verify (or no longer reaches its
/// checkpoint), the keyring does not restore, or a pending shred cannot be completed;
/// [`StoreError::ChainShorterThanCheckpoint`] if the chain ends before the checkpoint; as
/// [`DurableFacts::load`] otherwise ([`StoreError::FactLogBroken`] for a fact log that does
/// not verify); what kept the store from being read.
pub fn open_vault<S: VaultStore>(
    store: &S,
    keys: &StoreKeys,
    policy: Policy,
) -> Result<VaultOn<S>, StoreError> {
    open_vault_with_clock(store, keys, policy, SystemClock)
}

/// As [`open_vault`], with `clock` as the trusted clock of both the audit trail and the
/// facts (a [`ManualClock`](steward::vocabulary::ManualClock) in tests of a clock set back): entries and
/// fact changes are dated by it, never before the newest entry of either.
///
/// # Errors
///
/// As [`open_vault`].
pub fn open_vault_with_clock<S: VaultStore>(
    store: &S,
    keys: &StoreKeys,
    policy: Policy,
    clock: impl Clock + Clone + 'static,
) -> Result<VaultOn<S>, StoreError> {
    // The keyring's rows are read on the second core while this one verifies the chain and
    // loads the facts: at a million customers each takes a good part of a second, and
    // neither needs the other. The keys are checked against the log before the keyring is
    // restored from them.
    let (stored_keys, (entries, audit_key, facts)) = thread::scope(|scope| {
        let restoring = thread::Builder::new()
            .name("steward-keyring-read".into())
            .spawn_scoped(scope, || store.keyring_snapshot());
        let loaded = load_facts(store, keys, &policy);
        let stored_keys = match restoring {
            Ok(restoring) => match restoring.join() {
                Ok(stored_keys) => stored_keys,
                // A panic is passed on, as `thread::scope` would pass it on unjoined.
                Err(panic) => std::panic::resume_unwind(panic),
            },
            // No second thread to be had: read it here.
            Err(_) => store.keyring_snapshot(),
        };
        Ok::<_, StoreError>((stored_keys?, loaded?))
    })?;
    facts.check_keys(&stored_keys, |customer| {
        store.customer_keys(customer).map_err(key_store_error)
    })?;
    let keyring = Keyring::restore(keys.master_key()?, [], stored_keys)?;
    let facts = facts.with_clock(clock.clone());
    let trail = AuditTrail::with_clock(audit_key, store.audit_store()?, clock)?;
    let custody = Custody::with_config(keyring, trail, store.seal_config())
        .with_key_store(Arc::new(store.clone()));
    // A shred whose entry was written but whose keys a crash kept: done before serving.
    custody.complete_pending_shreds(&entries)?;
    Ok(Vault::with_custody(policy, facts, custody)?)
}

/// What start-up reads besides the keyring: the audit chain (verified against the newest
/// checkpoint), the audit key and the facts (the fact log checked against that checkpoint).
fn load_facts<S: VaultStore>(
    store: &S,
    keys: &StoreKeys,
    policy: &Policy,
) -> Result<(Vec<ChainedEntry>, AuditKey, DurableFacts<S>), StoreError> {
    let checkpoint = store.latest_checkpoint()?;
    let entries = store.audit_entries()?;
    verify_chain_at_start(keys, &entries, checkpoint)?;
    let audit_key = keys.audit_key()?;
    let facts = DurableFacts::load(store, &audit_key, policy, checkpoint.as_ref())?;
    Ok((entries, audit_key, facts))
}

/// Verifies the whole chain, read once at start-up, and that it still reaches the newest
/// stored checkpoint. (The checkpoint's signature is checked by whoever holds the public key,
/// the operator's `audit verify`; here the chain must still reach the head it names.)
fn verify_chain_at_start(
    keys: &StoreKeys,
    entries: &[ChainedEntry],
    checkpoint: Option<Checkpoint>,
) -> Result<(), StoreError> {
    keys.audit_key()?.verify_chain(entries)?;
    if let Some(checkpoint) = checkpoint {
        let reaches = usize::try_from(checkpoint.entries())
            .ok()
            .and_then(|count| count.checked_sub(1))
            .and_then(|last| entries.get(last))
            .is_some_and(|entry| entry.hash() == checkpoint.head());
        if checkpoint.entries() > 0 && !reaches {
            return Err(StoreError::ChainShorterThanCheckpoint {
                checkpoint: checkpoint.entries(),
            });
        }
    }
    Ok(())
}
