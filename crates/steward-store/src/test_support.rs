//! Set-up hooks for tests and benchmarks, compiled only with the `test-support` feature,
//! which only dev-dependencies enable. Hidden from the docs and not part of the API.
//!
//! Each hook writes past the audit trail: a service never calls one. A test that wants a
//! state a vault would make should make it through the vault; these exist for states too
//! large to make that way (a million data keys in one transaction for the start-up bench).

use steward_logs::WrappedDataKey;

use crate::{SqliteStore, StoreError};

/// Stores `keys` in one transaction, **unaudited**, as a custody would store them one by one
/// when it issues them (each refused as the store refuses it then: a key under another
/// master key, a version taken by another key or covered by a tombstone). Returns how many
/// were given.
///
/// # Errors
///
/// The first key's refusal, or [`StoreError::Sqlite`]; then none is stored.
pub fn put_data_keys_unaudited<'k>(
    store: &SqliteStore,
    keys: impl IntoIterator<Item = &'k WrappedDataKey>,
) -> Result<usize, StoreError> {
    store.write(|tx| {
        let mut count = 0_usize;
        for key in keys {
            tx.put_data_key(key)?;
            count = count.saturating_add(1);
        }
        Ok(count)
    })
}
