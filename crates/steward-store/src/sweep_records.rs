//! The record store the retention sweep deletes from: a store, and the facts its vault
//! decides on, whose legal holds every deletion checks in its own transaction.

use std::fmt;

use steward::{
    Facts, VaultShredder,
    retention::{
        HoldId, HoldSource, RecordMeta, RecordStore, Removal, RetentionError, Sweep, SweepBatch,
        SweepPlan, SweepProgress, SweepReport, SweepRun,
    },
    vocabulary::{Clock, Timestamp},
};

use crate::{DurableFacts, StoreError, VaultOn, VaultStore};

/// The retention sweep of a vault's store, carried out in short steps so that it stalls
/// nothing: the way a service runs `logs.retention` while it serves.
///
/// Each [`step`](Self::step) takes the vault's facts (shared) for one [`SweepBatch`] only:
/// it builds the [`Sweep`] from the facts as they are then, decides the step's planned
/// deletions again at the clock's now (never before the newest fact change), deletes them in
/// one store transaction with their fact-log entries, shreds (audited, through
/// [`VaultShredder`]) the customers whose last planned deletion it made, and lets go. A
/// consent change, a hold or a steward open waits for one step at most, and whatever it
/// recorded decides the next step: a hold placed between two steps keeps every record it
/// covers, and withholds its customer's shred. Stop between steps at any time (drop the
/// value): what was deleted stays deleted and proven, and planning again and running finds
/// the rest.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("steward-store-store-sweep-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let keys = steward_store::StoreKeys::new("kek-2025-03".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
/// use steward::{Policy, retention::{Sweep, SweepBatch, SweepProgress}, vocabulary::SystemClock};
/// use steward_store::{RecordScan, SqliteStore, StoreSweep, open_vault};
///
/// let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
/// let vault = open_vault(&store, &keys, Policy::coder_model())?;
/// let at = vault.decision_instant()?;
/// let metas = store.record_metas(RecordScan::All).collect::<Result<Vec<_>, _>>()?;
/// let plan = {
///     let facts = vault.facts()?; // for planning only
///     Sweep::new(vault.policy().retention(), facts.relationships()?, facts.holds()?).plan(metas, at)
/// };
/// let mut sweep = StoreSweep::new(&vault, store.clone(), &plan, &SystemClock, SweepBatch::DEFAULT);
/// while sweep.step()? == SweepProgress::More {
///     // the facts are free here: decisions, consent changes and opens go ahead
/// }
/// assert!(sweep.into_report().deleted().is_empty());
/// # drop(vault);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), steward::logs::BoxError>(())
/// ```
pub struct StoreSweep<'a, S: VaultStore> {
    vault: &'a VaultOn<S>,
    store: S,
    clock: &'a dyn Clock,
    batch: SweepBatch,
    run: SweepRun<'a>,
}

impl<'a, S> StoreSweep<'a, S>
where
    S: VaultStore,
    for<'f> SweepRecords<'f, S>: RecordStore<Error = StoreError>,
{
    /// A run of `plan` on `store`, the store `vault` was opened on, at `clock`'s instants
    /// (the trusted clock: [`SystemClock`](steward::vocabulary::SystemClock)), `batch` planned actions a
    /// step.
    pub fn new(
        vault: &'a VaultOn<S>,
        store: S,
        plan: &'a SweepPlan,
        clock: &'a dyn Clock,
        batch: SweepBatch,
    ) -> Self {
        Self {
            vault,
            store,
            clock,
            batch,
            run: SweepRun::new(plan, clock),
        }
    }

    /// Carries out the next step; see the type's docs. Deletions and shreds that fail are in
    /// the report, and the run goes on.
    ///
    /// # Errors
    ///
    /// [`StoreError::Logs`] if the facts are unreadable (a thread panicked while changing
    /// them); [`StoreError::FactsDiverged`] or [`StoreError::FactsStale`] if the facts cannot
    /// answer: nothing of the step was done, and the next step tries again.
    pub fn step(&mut self) -> Result<SweepProgress, StoreError> {
        if self.run.is_done() {
            return Ok(SweepProgress::Done);
        }
        // Steps run back to back: each lets a waiting consent change or hold in first.
        let facts = self.vault.facts_after_changes()?;
        let sweep = Sweep::new(
            self.vault.policy().retention(),
            facts.relationships()?,
            facts.holds()?,
        );
        // Never before a change the facts recorded: a hold placed a moment ago stands.
        let clock = NotBefore {
            clock: self.clock,
            floor: facts.newest_fact_instant(),
        };
        let mut records = SweepRecords::new(self.store.clone(), &*facts);
        let mut shredder = VaultShredder::new(self.vault, &*facts);
        Ok(sweep.execute_step(
            &mut self.run,
            &mut records,
            &mut shredder,
            &clock,
            self.batch,
        ))
    }

    /// Runs every remaining step, and returns the report.
    ///
    /// # Errors
    ///
    /// As [`step`](Self::step); the report of what was done is then lost, but not the
    /// deletions (plan again to see what remains).
    pub fn run(mut self) -> Result<SweepReport, StoreError> {
        while self.step()? == SweepProgress::More {}
        Ok(self.into_report())
    }

    /// What the run did so far.
    #[must_use]
    pub const fn report(&self) -> &SweepReport {
        self.run.report()
    }

    /// Whether every planned action was carried out.
    #[must_use]
    pub const fn is_done(&self) -> bool {
        self.run.is_done()
    }

    /// What the run did: the report.
    #[must_use]
    pub fn into_report(self) -> SweepReport {
        self.run.into_report()
    }
}

impl<S: VaultStore> fmt::Debug for StoreSweep<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSweep")
            .field("batch", &self.batch)
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

/// A clock never before `floor`.
struct NotBefore<'c> {
    clock: &'c dyn Clock,
    floor: Option<Timestamp>,
}

impl Clock for NotBefore<'_> {
    fn now(&self) -> Timestamp {
        let now = self.clock.now();
        self.floor.map_or(now, |floor| now.max(floor))
    }
}

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
/// use steward::{Policy, VaultShredder, retention::Sweep, vocabulary::{SystemClock, Timestamp}};
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
/// # Ok::<(), steward::logs::BoxError>(())
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
