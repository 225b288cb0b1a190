//! The record store the retention sweep deletes from: a store, and the facts its vault
//! decides on, whose legal holds every deletion checks in its own transaction.

use steward::{
    Timestamp,
    retention::{HoldId, HoldSource, RecordMeta, Removal, RetentionError},
};

use crate::{DurableFacts, StoreError};

/// The retention sweep's [`RecordStore`](steward::retention::RecordStore) over a store
/// (SQLite, or PostgreSQL with the feature `postgres`), the one way a service deletes records:
/// pass it to `Sweep::execute`.
///
/// Each deletion reads the record's customer and category in its own transaction, and
/// refuses with [`RetentionError::Held`] (as [`StoreError::Retention`]) naming the hold while
/// a standing legal hold covers the record, whatever the sweep decided; otherwise it deletes
/// the record with its fact-log entry (`record_deleted`). The holds are those of `facts`, the
/// facts proven from the store's fact log that the vault decides on (the guard of
/// `vault.facts()` the sweep holds), so a hold placed through the vault meanwhile waits for
/// the sweep, and facts that cannot answer (diverged, stale) refuse every deletion.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("steward-store-sweep-records-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let keys = steward_store::StoreKeys::new("kek-2025-03".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
/// use steward::{Policy, SystemClock, Timestamp, VaultShredder, retention::Sweep};
/// use steward_store::{RecordScan, SqliteStore, SweepRecords, open_vault};
///
/// let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
/// let vault = open_vault(&store, &keys, Policy::coder_model())?;
/// let facts = vault.facts()?;
/// let sweep = Sweep::new(vault.policy().retention(), facts.relationships()?, facts.holds()?);
/// let metas = store.record_metas(RecordScan::All).collect::<Result<Vec<_>, _>>()?;
/// let plan = sweep.plan(metas, Timestamp::now());
/// let report = sweep.execute(
///     &plan,
///     &mut SweepRecords::new(store.clone(), &*facts),
///     &mut VaultShredder::new(&vault, &*facts),
///     &SystemClock,
/// );
/// assert!(report.deleted().is_empty());
/// # drop(facts);
/// # drop(vault);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), steward::BoxError>(())
/// ```
#[derive(Debug)]
pub struct SweepRecords<'a, L> {
    pub(crate) store: L,
    pub(crate) facts: &'a DurableFacts<L>,
}

impl<'a, L> SweepRecords<'a, L> {
    /// Deletes from `store`, checking the holds of `facts`: the facts of the vault opened on
    /// that store.
    #[must_use]
    pub const fn new(store: L, facts: &'a DurableFacts<L>) -> Self {
        Self { store, facts }
    }
}

/// Counts a deletion's outcome for the sweep's progress metric, and passes it on.
pub(crate) fn observed(removal: Result<Removal, StoreError>) -> Result<Removal, StoreError> {
    crate::observe::sweep_record(match &removal {
        Ok(Removal::Removed) => "deleted",
        Ok(_) => "absent",
        Err(StoreError::Retention(RetentionError::Held { .. })) => "held",
        Err(_) => "failed",
    });
    removal
}

/// The refusal of a deletion while hold `hold` covers the record.
pub(crate) const fn held(hold: HoldId) -> StoreError {
    StoreError::Retention(RetentionError::Held {
        hold,
        what: "deleting the record",
    })
}

/// The standing hold that covers `record` now (the lowest id), if any.
pub(crate) fn covering_hold<H: HoldSource + ?Sized>(
    holds: &H,
    record: &RecordMeta,
) -> Option<HoldId> {
    let now = Timestamp::now();
    let mut covering: Option<HoldId> = None;
    holds.visit_holds(record.customer(), &mut |hold| {
        if hold.keeps(record, now) {
            covering = Some(covering.map_or(hold.id(), |other| other.min(hold.id())));
        }
    });
    covering
}
