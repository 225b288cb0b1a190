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

/// A fact log replayed by [`replay_fact_rows`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactReplay {
    /// The log's head after the rows.
    pub head: steward_logs::ChainHead,
    /// Each replayed event, canonically encoded (a consent change as the snapshot keeps it).
    pub events: Vec<String>,
    /// Each event as the snapshot of the replayed facts gave it back, encoded the same way.
    pub from_snapshot: Vec<String>,
}

/// Replays `rows` (a fact log as either backend returns it: SQLite's `fact_log` and
/// PostgreSQL's `fact_events` rows both become [`StoredFact`](crate::StoredFact)s of the same
/// event text) from the first entry, with the checks and replay of a start-up: each row's
/// place and hash under `audit_key`, its event's decoding, and the facts' refusal of a change
/// that does not follow. Then writes the replayed events to a snapshot body and decodes it
/// again. For the fuzz targets.
///
/// # Errors
///
/// As [`DurableFacts::load`](crate::DurableFacts::load) for a log without snapshot, and
/// [`StoreError::Corrupt`] if the snapshot written does not decode.
pub fn replay_fact_rows(
    audit_key: &steward_logs::AuditKey,
    policy: &steward::Policy,
    rows: &[crate::StoredFact],
) -> Result<FactReplay, StoreError> {
    let (head, events, from_snapshot) = crate::durable_facts::replay_rows(audit_key, policy, rows)?;
    Ok(FactReplay {
        head,
        events,
        from_snapshot,
    })
}

/// Decodes one fact event text as the replay does, and encodes it as a store writes it.
/// For the fuzz targets.
///
/// # Errors
///
/// [`StoreError::FactLogBroken`] if the text is not an event this build knows.
pub fn reencode_fact_event(text: &str) -> Result<String, StoreError> {
    crate::durable_facts::reencode_event(text)
}
