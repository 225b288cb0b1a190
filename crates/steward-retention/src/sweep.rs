//! The sweep: from record metadata to a plan of deletions and key shreds, and its execution.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    convert::Infallible,
    error::Error,
    fmt,
    num::NonZeroUsize,
    ops::Bound,
};

use steward_core::{ClauseId, Clock, CustomerId, RecordId, Timestamp};

use crate::{
    DeletionMethod, Disposition, DueReason, HoldId, HoldSource, NoHolds, RecordMeta, Relationship,
    RelationshipBook, RetentionError, RetentionSchedule,
};

/// What a deletion or shred found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Removal {
    /// It existed and is gone now.
    Removed,
    /// It was already gone: repeating a deletion is harmless.
    AlreadyAbsent,
}

/// The record store the sweep deletes from. The facade implements it over the real store;
/// [`MemoryRecordStore`] is the reference implementation.
pub trait RecordStore {
    /// Why a deletion failed.
    type Error: Error + Send + Sync + 'static;

    /// Deletes a record. Deleting a record that is not there must return
    /// [`Removal::AlreadyAbsent`], not an error, so that executing a plan twice is harmless.
    ///
    /// # Errors
    ///
    /// The store could not delete; the sweep reports it and carries on.
    fn delete(&mut self, record: RecordId) -> Result<Removal, Self::Error>;

    /// Deletes several records at once, in order, as one step (a store makes them one
    /// transaction: one disk sync for the batch rather than one per record), each with its
    /// own outcome. The provided method deletes them one by one.
    ///
    /// # Errors
    ///
    /// `Err` if the batch as a whole failed and nothing of it was deleted (a transaction
    /// that did not commit): the sweep then deletes each record on its own, so that every
    /// failure is reported against its record.
    fn delete_batch(
        &mut self,
        records: &[RecordId],
    ) -> Result<Vec<Result<Removal, Self::Error>>, Self::Error> {
        Ok(records.iter().map(|record| self.delete(*record)).collect())
    }
}

/// How much one step of a sweep ([`Sweep::execute_step`]) does at most: this many planned
/// deletions, a planned key shred counting as one. A store makes each step's deletions one
/// transaction, and a service takes its facts lock for one step at a time, so the size bounds
/// how long a fact change or a write waits behind a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SweepBatch(NonZeroUsize);

impl SweepBatch {
    /// 64 deletions a step: on the embedded store, one disk sync and the work of 64 deletions
    /// with their fact-log entries (docs/benchmarks.md, "Requests during a sweep", compares
    /// sizes).
    pub const DEFAULT: Self = match NonZeroUsize::new(64) {
        Some(size) => Self(size),
        None => Self(NonZeroUsize::MIN),
    };

    /// Steps of at most `size` deletions.
    #[must_use]
    pub const fn new(size: NonZeroUsize) -> Self {
        Self(size)
    }

    /// The size.
    #[must_use]
    pub const fn get(self) -> usize {
        self.0.get()
    }
}

impl Default for SweepBatch {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Whether a sweep run has more to do: what [`Sweep::execute_step`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SweepProgress {
    /// Planned actions remain: run another step.
    More,
    /// Every planned action was carried out (or found kept, withheld or failed).
    Done,
}

/// A plan being carried out step by step ([`Sweep::execute_step`]): where the run stands
/// and what it did so far. It borrows only the plan, not the facts, so that a service can
/// release its facts between steps and build the next step's [`Sweep`] from the facts as they
/// are then: a hold placed or a relationship changed between two steps decides the next one.
///
/// ```
/// use std::num::NonZeroUsize;
/// use steward_core::{DataCategory, ManualClock, RecordId, Timestamp};
/// use steward_retention::{
///     DeletionWindow, HoldRegister, MemoryKeyShredder, MemoryRecordStore, RecordMeta,
///     RelationshipBook, RetentionSchedule, Sweep, SweepBatch, SweepProgress, SweepRun,
/// };
///
/// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// let mut book = RelationshipBook::new();
/// book.start(customer, "2025-01-01T00:00:00Z".parse()?)?;
/// book.end(customer, "2025-03-01T00:00:00Z".parse()?)?;
/// let records = (1..=3).map(|day| {
///     let collected: Timestamp = format!("2025-02-0{day}T00:00:00Z").parse()?;
///     Ok(RecordMeta::new(RecordId::generate_at(collected), customer, DataCategory::LlmRequestLog, collected))
/// }).collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
/// let mut store: MemoryRecordStore = records.into_iter().collect();
/// let mut keys = MemoryKeyShredder::new();
/// let schedule = RetentionSchedule::bundled(DeletionWindow::from_days(30)?);
/// let holds = HoldRegister::new();
/// let clock = ManualClock::new("2025-03-05T00:00:00Z".parse()?);
/// let plan = Sweep::new(&schedule, &book, &holds).plan(store.records(), clock.now());
///
/// let mut run = SweepRun::new(&plan, &clock);
/// let batch = SweepBatch::new(NonZeroUsize::new(2).ok_or("zero")?);
/// // Each step reads the facts anew: here the same book and holds.
/// let mut steps = 1;
/// while Sweep::new(&schedule, &book, &holds).execute_step(&mut run, &mut store, &mut keys, &clock, batch)
///     == SweepProgress::More
/// {
///     steps += 1;
/// }
/// assert_eq!((steps, run.report().deleted().len()), (2, 3));
/// assert!(store.is_empty());
/// # use steward_core::Clock;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SweepRun<'p> {
    plan: &'p SweepPlan,
    /// The customer whose planned actions come next; `None` once the run is done.
    next_customer: Option<CustomerId>,
    /// How many of that customer's planned deletions earlier steps decided.
    next_deletion: usize,
    /// Whether a planned deletion of that customer turned into a keep (or could not be
    /// decided) in an earlier step: their shred is then withheld.
    customer_kept: bool,
    report: SweepReport,
}

impl<'p> SweepRun<'p> {
    /// A run of `plan`, beginning now at `clock`'s instant (the report's
    /// [`executed_at`](SweepReport::executed_at)); every step decides again at the clock's
    /// instant when it runs.
    pub fn new<C: Clock + ?Sized>(plan: &'p SweepPlan, clock: &C) -> Self {
        Self {
            plan,
            next_customer: plan.customers.keys().next().copied(),
            next_deletion: 0,
            customer_kept: false,
            report: SweepReport {
                executed_at: clock.now(),
                deleted: Vec::new(),
                already_absent: Vec::new(),
                now_kept: Vec::new(),
                shredded: Vec::new(),
                already_shredded: Vec::new(),
                // What the plan withheld stays withheld: execution never adds a shred.
                shreds_withheld: plan.withheld_shreds.clone(),
                failures: Vec::new(),
            },
        }
    }

    /// Whether every planned action was carried out.
    #[must_use]
    pub const fn is_done(&self) -> bool {
        self.next_customer.is_none()
    }

    /// What the run did so far.
    #[must_use]
    pub const fn report(&self) -> &SweepReport {
        &self.report
    }

    /// What the run did: the report.
    #[must_use]
    pub fn into_report(self) -> SweepReport {
        self.report
    }

    /// Moves the cursor past `customer`.
    fn finish_customer(&mut self, customer: CustomerId) {
        self.next_customer = self
            .plan
            .customers
            .range((Bound::Excluded(customer), Bound::Unbounded))
            .next()
            .map(|(next, _)| *next);
        self.next_deletion = 0;
        self.customer_kept = false;
    }
}

/// Destroys a customer's data keys, making every copy of their encrypted records unreadable.
/// The facade implements it over the steward-logs keyring; [`MemoryKeyShredder`] is the
/// reference implementation.
pub trait KeyShredder {
    /// Why a shred failed.
    type Error: Error + Send + Sync + 'static;

    /// Destroys every data key of `customer`. Shredding twice must return
    /// [`Removal::AlreadyAbsent`].
    ///
    /// # Errors
    ///
    /// The keys could not be destroyed; the sweep reports it.
    fn shred_customer(&mut self, customer: CustomerId) -> Result<Removal, Self::Error>;
}

/// Record metadata in a map: the reference [`RecordStore`].
#[derive(Debug, Clone, Default)]
pub struct MemoryRecordStore {
    records: HashMap<RecordId, RecordMeta>,
}

impl MemoryRecordStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a record (replacing one with the same id).
    pub fn insert(&mut self, record: RecordMeta) {
        self.records.insert(record.id(), record);
    }

    /// Whether the record is stored.
    #[must_use]
    pub fn contains(&self, record: RecordId) -> bool {
        self.records.contains_key(&record)
    }

    /// How many records are stored.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the store is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every stored record, in no particular order: the input of a sweep.
    pub fn records(&self) -> impl Iterator<Item = RecordMeta> + '_ {
        self.records.values().copied()
    }
}

impl FromIterator<RecordMeta> for MemoryRecordStore {
    fn from_iter<I: IntoIterator<Item = RecordMeta>>(iter: I) -> Self {
        let mut store = Self::new();
        iter.into_iter().for_each(|record| store.insert(record));
        store
    }
}

impl RecordStore for MemoryRecordStore {
    type Error = Infallible;

    fn delete(&mut self, record: RecordId) -> Result<Removal, Infallible> {
        Ok(match self.records.remove(&record) {
            Some(_) => Removal::Removed,
            None => Removal::AlreadyAbsent,
        })
    }
}

/// The set of customers whose keys still exist: the reference [`KeyShredder`].
#[derive(Debug, Clone, Default)]
pub struct MemoryKeyShredder {
    live: HashSet<CustomerId>,
}

impl MemoryKeyShredder {
    /// No keys at all.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives `customer` keys.
    pub fn add_customer(&mut self, customer: CustomerId) {
        self.live.insert(customer);
    }

    /// Whether `customer` still has keys.
    #[must_use]
    pub fn has_keys(&self, customer: CustomerId) -> bool {
        self.live.contains(&customer)
    }
}

impl KeyShredder for MemoryKeyShredder {
    type Error = Infallible;

    fn shred_customer(&mut self, customer: CustomerId) -> Result<Removal, Infallible> {
        Ok(if self.live.remove(&customer) {
            Removal::Removed
        } else {
            Removal::AlreadyAbsent
        })
    }
}

/// The inputs of a sweep: the schedule, the relationships and the holds, as they are now.
///
/// [`Sweep::plan`] is the dry run: it decides and deletes nothing, and the plan prints; it
/// may look ahead to any instant. [`Sweep::execute`] carries a plan out *now*, at the instant
/// of the [`Clock`] it is given, never at one the caller names (deleting and shredding are
/// irreversible): every planned deletion and shred is decided again at that instant, so a
/// hold placed after planning wins, and a plan made for a later instant deletes only what is
/// due already. Nothing is deleted that a standing hold covers, and no key of a customer is
/// shredded while any hold of theirs stands.
///
/// ```
/// use steward_core::{DataCategory, ManualClock, RecordId, Timestamp};
/// use steward_retention::{
///     DeletionWindow, HoldRegister, MemoryKeyShredder, MemoryRecordStore, RecordMeta,
///     RelationshipBook, RetentionSchedule, Sweep,
/// };
///
/// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// let mut book = RelationshipBook::new();
/// book.start(customer, "2025-01-01T00:00:00Z".parse()?)?;
/// book.end(customer, "2025-03-01T00:00:00Z".parse()?)?;
/// let collected: Timestamp = "2025-02-01T00:00:00Z".parse()?;
/// let record = RecordMeta::new(
///     RecordId::generate_at(collected), customer, DataCategory::LlmRequestLog, collected,
/// );
/// let mut store: MemoryRecordStore = [record].into_iter().collect();
/// let mut keys = MemoryKeyShredder::new();
/// keys.add_customer(customer);
///
/// let schedule = RetentionSchedule::bundled(DeletionWindow::from_days(30)?);
/// let holds = HoldRegister::new();
/// let sweep = Sweep::new(&schedule, &book, &holds);
/// // The trusted clock: `SystemClock` in a deployment.
/// let clock = ManualClock::new("2025-03-05T00:00:00Z".parse()?);
/// let plan = sweep.plan(store.records(), "2025-03-05T00:00:00Z".parse()?);
/// println!("{plan}"); // the dry run
/// let report = sweep.execute(&plan, &mut store, &mut keys, &clock);
/// assert_eq!(report.deleted().len(), 1);
/// assert!(store.is_empty() && !keys.has_keys(customer));
/// // Executing again changes nothing.
/// let again = sweep.execute(&plan, &mut store, &mut keys, &clock);
/// assert!(again.deleted().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Sweep<'a, H: ?Sized> {
    schedule: &'a RetentionSchedule,
    book: &'a RelationshipBook,
    holds: &'a H,
}

// By hand: derived impls would demand `H: Clone`, but only a reference to `H` is copied.
impl<H: ?Sized> Clone for Sweep<'_, H> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<H: ?Sized> Copy for Sweep<'_, H> {}

impl<'a, H: HoldSource + ?Sized> Sweep<'a, H> {
    /// A sweep over these inputs.
    #[must_use]
    pub const fn new(
        schedule: &'a RetentionSchedule,
        book: &'a RelationshipBook,
        holds: &'a H,
    ) -> Self {
        Self {
            schedule,
            book,
            holds,
        }
    }

    /// Plans the sweep at `now`, which may lie ahead (a plan changes nothing): every due
    /// record becomes a planned deletion, grouped per customer; a customer gets a planned key
    /// shred when [`Sweep::may_shred`] allows it and none of their records under a
    /// crypto-shred rule was kept or failed in this sweep; a shred due but withheld is listed
    /// with why ([`SweepPlan::withheld_shreds`], naming the hold), and so are the holds due
    /// for review ([`SweepPlan::reviews_due`]).
    /// A record whose disposition fails is listed as skipped and never deleted.
    pub fn plan<I: IntoIterator<Item = RecordMeta>>(
        &self,
        records: I,
        now: Timestamp,
    ) -> SweepPlan {
        let mut plan = SweepPlan {
            planned_at: now,
            customers: BTreeMap::new(),
            skipped: Vec::new(),
            withheld_shreds: Vec::new(),
            reviews_due: BTreeMap::new(),
            kept_by_holds: BTreeMap::new(),
            evaluated: 0,
            kept: 0,
            held: 0,
        };
        // Customers with a record under a crypto-shred rule that is kept or undecided.
        let mut shred_blocked = BTreeSet::new();
        // Stores usually yield a customer's records together: the maps are touched once per
        // run of one customer's records, not once per record.
        let mut cursor = CustomerCursor::default();
        let mut deletions = Vec::new();
        let mut blocked = false;
        for record in records {
            plan.evaluated += 1;
            if cursor.customer != Some(record.customer()) {
                flush(
                    &mut plan,
                    &mut shred_blocked,
                    &cursor,
                    &mut deletions,
                    blocked,
                );
                blocked = false;
                cursor = self.cursor(record.customer());
                if cursor.has_holds {
                    self.note_reviews_due(&mut plan, record.customer(), now);
                }
            }
            match self.decide_with(&cursor, &record, now) {
                Ok(disposition) if disposition.is_due() => {
                    // A record from outside every relationship may be the first sign of a
                    // relationship the book does not know yet (a returning customer whose
                    // start event is late): delete it, but shred no keys on that evidence.
                    blocked |= matches!(
                        disposition,
                        Disposition::DeleteNow {
                            reason: DueReason::OutsideRelationship,
                            method: DeletionMethod::CryptoShred,
                            ..
                        }
                    );
                    deletions.push(PlannedDeletion {
                        record,
                        disposition,
                    });
                }
                Ok(disposition) => {
                    plan.kept += 1;
                    if let Some(hold) = disposition.held_by() {
                        plan.held += 1;
                        let count = plan.kept_by_holds.entry(hold).or_default();
                        *count = count.saturating_add(1);
                    }
                    blocked |= self
                        .schedule
                        .rule(record.category())
                        .is_ok_and(|rule| rule.method() == DeletionMethod::CryptoShred);
                }
                Err(error) => {
                    blocked = true;
                    plan.skipped.push(SkippedRecord { record, error });
                }
            }
        }
        flush(
            &mut plan,
            &mut shred_blocked,
            &cursor,
            &mut deletions,
            blocked,
        );
        for customer in self.book.customers() {
            self.note_reviews_due(&mut plan, customer, now);
            // Only a customer whose shred is due otherwise is reported as withheld.
            let Some(shred) = self.shred_due(customer, now) else {
                continue;
            };
            if let Some(hold) = self.shred_held_by(customer, now) {
                plan.withheld_shreds.push(WithheldShred {
                    customer,
                    reason: WithholdReason::Hold(hold),
                });
            } else if shred_blocked.contains(&customer) {
                plan.withheld_shreds.push(WithheldShred {
                    customer,
                    reason: WithholdReason::RecordsKept,
                });
            } else {
                plan.customers.entry(customer).or_default().shred = Some(shred);
            }
        }
        plan
    }

    /// Notes in `plan` every hold of `customer` that stands at `now` past its review date.
    fn note_reviews_due(&self, plan: &mut SweepPlan, customer: CustomerId, now: Timestamp) {
        self.holds.visit_holds(customer, &mut |hold| {
            if hold.scope().customer() == customer && hold.is_review_due(now) {
                plan.reviews_due.insert(
                    hold.id(),
                    ReviewDue {
                        hold: hold.id(),
                        customer,
                        review_at: hold.review_at(),
                    },
                );
            }
        });
    }

    /// The disposition of every record at `now`, in input order, without building a plan:
    /// for reports and metrics. Same decisions as [`Sweep::plan`] makes.
    pub fn dispositions<I: IntoIterator<Item = RecordMeta>>(
        &self,
        records: I,
        now: Timestamp,
    ) -> impl Iterator<Item = (RecordMeta, Result<Disposition, RetentionError>)> {
        let mut cursor = CustomerCursor::default();
        records.into_iter().map(move |record| {
            if cursor.customer != Some(record.customer()) {
                cursor = self.cursor(record.customer());
            }
            (record, self.decide_with(&cursor, &record, now))
        })
    }

    /// What the sweep looks up once per customer.
    fn cursor(&self, customer: CustomerId) -> CustomerCursor<'a> {
        let mut has_holds = false;
        self.holds.visit_holds(customer, &mut |_| has_holds = true);
        CustomerCursor {
            customer: Some(customer),
            history: self.book.relationships(customer),
            has_holds,
        }
    }

    fn decide_with(
        &self,
        cursor: &CustomerCursor<'a>,
        record: &RecordMeta,
        now: Timestamp,
    ) -> Result<Disposition, RetentionError> {
        if cursor.has_holds {
            self.schedule
                .decide(cursor.history, self.holds, record, now)
        } else {
            self.schedule.decide(cursor.history, &NoHolds, record, now)
        }
    }

    /// Whether `customer`'s keys may be crypto-shredded at `now`, judged from relationships
    /// and holds alone: every relationship has ended, the data under every crypto-shred rule
    /// is due (last end plus the longer of minimum and maximum has passed), and no hold of
    /// the customer stands, whatever it covers: a shred makes every record of theirs
    /// unreadable, so a hold on one record or one category withholds it too.
    ///
    /// Shredding waits for nothing more: the deletion window is the latest, not the
    /// earliest, moment to act, and backups stay readable until the keys are gone.
    #[must_use]
    pub fn may_shred(&self, customer: CustomerId, now: Timestamp) -> Option<PlannedShred> {
        if self.shred_held_by(customer, now).is_some() {
            return None;
        }
        self.shred_due(customer, now)
    }

    /// The hold that withholds a shred of `customer`'s keys at `now`: the standing hold of
    /// theirs with the lowest id, whatever it covers; `None` if none stands.
    #[must_use]
    pub fn shred_held_by(&self, customer: CustomerId, now: Timestamp) -> Option<HoldId> {
        let mut held: Option<HoldId> = None;
        self.holds.visit_holds(customer, &mut |hold| {
            if hold.stands_at(now) && hold.scope().customer() == customer {
                held = Some(held.map_or(hold.id(), |other| other.min(hold.id())));
            }
        });
        held
    }

    /// The shred of `customer`'s keys that is due at `now` from relationships and the
    /// schedule alone, holds not considered.
    fn shred_due(&self, customer: CustomerId, now: Timestamp) -> Option<PlannedShred> {
        let relationships = self.book.relationships(customer);
        let mut last_end: Option<Timestamp> = None;
        for relationship in relationships {
            let end = relationship.ended_at().filter(|end| *end <= now)?;
            last_end = Some(last_end.map_or(end, |last| last.max(end)));
        }
        let last_end = last_end?;
        let mut clause: Option<ClauseId> = None;
        for (_, rule) in self.schedule.rules() {
            if rule.method() != DeletionMethod::CryptoShred {
                continue;
            }
            let kept_for = rule
                .minimum()
                .map_or(rule.maximum(), |minimum| minimum.max(rule.maximum()));
            let due_at = last_end.checked_add(kept_for.as_time_delta()).ok()?;
            if now < due_at {
                return None;
            }
            clause.get_or_insert(rule.clause());
        }
        let clause = clause?;
        Some(PlannedShred {
            customer,
            last_end,
            clause,
        })
    }

    /// Carries out `plan` now: at `clock`'s instant, never one the caller names, because a
    /// deletion and a shred cannot be undone. Pass the trusted clock (`SystemClock`, or the
    /// clock the vault audits with).
    ///
    /// Each planned deletion is decided again at that instant; only a record due then is
    /// deleted. A record kept then (a hold placed after planning, or a plan made for a later
    /// instant whose deadline has not come) is left alone and listed as kept. A planned shred
    /// happens only if no hold of the customer stands, [`Sweep::may_shred`] allows it now,
    /// and no planned deletion of theirs turned into a keep; otherwise it is listed as withheld
    /// with the reason (naming the hold). Store and shredder failures are listed and the sweep
    /// goes on; running the same plan again is harmless.
    pub fn execute<S, K, C>(
        &self,
        plan: &SweepPlan,
        store: &mut S,
        shredder: &mut K,
        clock: &C,
    ) -> SweepReport
    where
        S: RecordStore + ?Sized,
        K: KeyShredder + ?Sized,
        C: Clock + ?Sized,
    {
        let mut run = SweepRun::new(plan, clock);
        while self.execute_step(&mut run, store, shredder, clock, SweepBatch::DEFAULT)
            == SweepProgress::More
        {}
        run.into_report()
    }

    /// Carries out the next step of `run`, as [`execute`](Self::execute) carries out a whole
    /// plan: at most `batch` planned deletions (in one [`RecordStore::delete_batch`]), and
    /// the planned shreds of the customers whose last planned deletion the step decided, each
    /// decided again at `clock`'s instant now over this sweep's relationships and holds.
    ///
    /// Build the sweep of each step from the facts as they are when it runs, and release them
    /// between steps: a fact change recorded between two steps then waits for one step only,
    /// and decides the next. A customer's shred is withheld if a planned deletion of theirs
    /// turned into a keep in any step of the run. An interrupted run is harmless: planning
    /// again and executing finds what was deleted already gone.
    pub fn execute_step<S, K, C>(
        &self,
        run: &mut SweepRun<'_>,
        store: &mut S,
        shredder: &mut K,
        clock: &C,
        batch: SweepBatch,
    ) -> SweepProgress
    where
        S: RecordStore + ?Sized,
        K: KeyShredder + ?Sized,
        C: Clock + ?Sized,
    {
        let now = clock.now();
        let plan = run.plan;
        let mut budget = batch.get();
        let mut due: Vec<RecordId> = Vec::new();
        // Customers whose planned deletions this step finished, with whether one was kept.
        let mut finished: Vec<(CustomerId, bool)> = Vec::new();
        while budget > 0
            && let Some(customer) = run.next_customer
        {
            let deletions = plan
                .customers
                .get(&customer)
                .map_or(&[][..], |customer_plan| customer_plan.deletions.as_slice());
            let rest = deletions.get(run.next_deletion..).unwrap_or_default();
            let chunk = rest.get(..budget.min(rest.len())).unwrap_or_default();
            for planned in chunk {
                let record = planned.record;
                match self
                    .schedule
                    .disposition_in(self.book, self.holds, &record, now)
                {
                    Ok(disposition) if disposition.is_due() => due.push(record.id()),
                    Ok(disposition) => {
                        run.customer_kept = true;
                        run.report.now_kept.push((record.id(), disposition));
                    }
                    Err(error) => {
                        run.customer_kept = true;
                        run.report.failures.push(Failure {
                            target: Target::Record(record.id()),
                            error: Box::new(error),
                        });
                    }
                }
            }
            budget = budget.saturating_sub(chunk.len());
            run.next_deletion = run.next_deletion.saturating_add(chunk.len());
            if run.next_deletion < deletions.len() {
                break;
            }
            let has_shred = plan
                .customers
                .get(&customer)
                .is_some_and(|customer_plan| customer_plan.shred.is_some());
            if has_shred {
                budget = budget.saturating_sub(1);
                finished.push((customer, run.customer_kept));
            }
            run.finish_customer(customer);
        }
        delete_all(store, &due, &mut run.report);
        for (customer, kept) in finished {
            self.shred_now(customer, kept, shredder, now, &mut run.report);
        }
        if run.is_done() {
            SweepProgress::Done
        } else {
            SweepProgress::More
        }
    }

    /// Shreds `customer`'s keys at `now`, unless a hold of theirs stands, the shred is not
    /// due, or a planned deletion of theirs was `kept`.
    fn shred_now<K: KeyShredder + ?Sized>(
        &self,
        customer: CustomerId,
        kept: bool,
        shredder: &mut K,
        now: Timestamp,
        report: &mut SweepReport,
    ) {
        let withheld = if let Some(hold) = self.shred_held_by(customer, now) {
            Some(WithholdReason::Hold(hold))
        } else if self.shred_due(customer, now).is_none() {
            Some(WithholdReason::NotDue)
        } else if kept {
            Some(WithholdReason::RecordsKept)
        } else {
            None
        };
        if let Some(reason) = withheld {
            report
                .shreds_withheld
                .push(WithheldShred { customer, reason });
            return;
        }
        match shredder.shred_customer(customer) {
            Ok(Removal::Removed) => report.shredded.push(customer),
            Ok(Removal::AlreadyAbsent) => report.already_shredded.push(customer),
            Err(error) => report.failures.push(Failure {
                target: Target::Customer(customer),
                error: Box::new(error),
            }),
        }
    }
}

/// Deletes `due` as one batch, and each on its own if the batch as a whole failed.
fn delete_all<S: RecordStore + ?Sized>(store: &mut S, due: &[RecordId], report: &mut SweepReport) {
    if due.is_empty() {
        return;
    }
    let outcomes = match store.delete_batch(due) {
        Ok(outcomes) if outcomes.len() == due.len() => outcomes,
        // A store that answered for other records than it was given, or failed the batch:
        // whatever it did, deleting again is harmless and reports each record's outcome.
        Ok(_) | Err(_) => due.iter().map(|record| store.delete(*record)).collect(),
    };
    for (record, outcome) in due.iter().zip(outcomes) {
        match outcome {
            Ok(Removal::Removed) => report.deleted.push(*record),
            Ok(Removal::AlreadyAbsent) => report.already_absent.push(*record),
            Err(error) => report.failures.push(Failure {
                target: Target::Record(*record),
                error: Box::new(error),
            }),
        }
    }
}

/// The per-customer lookups of a sweep, reused while records of one customer follow each other.
#[derive(Debug, Default)]
struct CustomerCursor<'a> {
    customer: Option<CustomerId>,
    history: &'a [Relationship],
    has_holds: bool,
}

/// Moves the planned deletions of the cursor's customer into the plan.
fn flush(
    plan: &mut SweepPlan,
    shred_blocked: &mut BTreeSet<CustomerId>,
    cursor: &CustomerCursor<'_>,
    deletions: &mut Vec<PlannedDeletion>,
    blocked: bool,
) {
    let Some(customer) = cursor.customer else {
        return;
    };
    if blocked {
        shred_blocked.insert(customer);
    }
    if !deletions.is_empty() {
        plan.customers
            .entry(customer)
            .or_default()
            .deletions
            .append(deletions);
    }
}

/// A dry run: what a sweep at one instant would delete and shred. Printing it (`Display`)
/// lists every planned action with its deadline and clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepPlan {
    planned_at: Timestamp,
    customers: BTreeMap<CustomerId, CustomerPlan>,
    skipped: Vec<SkippedRecord>,
    withheld_shreds: Vec<WithheldShred>,
    reviews_due: BTreeMap<HoldId, ReviewDue>,
    kept_by_holds: BTreeMap<HoldId, u64>,
    evaluated: u64,
    kept: u64,
    held: u64,
}

impl SweepPlan {
    /// The instant the plan was made at.
    #[must_use]
    pub const fn planned_at(&self) -> Timestamp {
        self.planned_at
    }

    /// The planned actions per customer, ordered by customer id.
    #[must_use]
    pub const fn customers(&self) -> &BTreeMap<CustomerId, CustomerPlan> {
        &self.customers
    }

    /// Every planned deletion.
    pub fn deletions(&self) -> impl Iterator<Item = &PlannedDeletion> + '_ {
        self.customers
            .values()
            .flat_map(|plan| plan.deletions.iter())
    }

    /// Every planned key shred.
    pub fn shreds(&self) -> impl Iterator<Item = &PlannedShred> + '_ {
        self.customers
            .values()
            .filter_map(|plan| plan.shred.as_ref())
    }

    /// Records whose disposition failed: they are not deleted.
    #[must_use]
    pub fn skipped(&self) -> &[SkippedRecord] {
        &self.skipped
    }

    /// Key shreds that would be due but are withheld, with why: a standing hold of the
    /// customer (named), or records of theirs that are kept or undecided.
    #[must_use]
    pub fn withheld_shreds(&self) -> &[WithheldShred] {
        &self.withheld_shreds
    }

    /// How many records each legal hold keeps from deletion (the hold that decided each
    /// record, when several cover it), by hold id.
    #[must_use]
    pub const fn kept_by_holds(&self) -> &BTreeMap<HoldId, u64> {
        &self.kept_by_holds
    }

    /// The holds that stand at the plan's instant past their review date, by id: they still
    /// keep what they cover, and someone should release them or set a new review date.
    pub fn reviews_due(&self) -> impl Iterator<Item = &ReviewDue> + '_ {
        self.reviews_due.values()
    }

    /// How many records were evaluated.
    #[must_use]
    pub const fn evaluated(&self) -> u64 {
        self.evaluated
    }

    /// How many were kept (held ones included).
    #[must_use]
    pub const fn kept(&self) -> u64 {
        self.kept
    }

    /// How many were kept by a legal hold.
    #[must_use]
    pub const fn held(&self) -> u64 {
        self.held
    }
}

impl fmt::Display for SweepPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let deletions = self.deletions().count();
        let shreds = self.shreds().count();
        writeln!(
            f,
            "retention sweep plan at {}: {} evaluated, {deletions} to delete, {} kept ({} by \
             legal hold), {} skipped on error, {}",
            self.planned_at,
            Counted(self.evaluated, "record", "records"),
            self.kept,
            self.held,
            self.skipped.len(),
            Counted(shreds, "key shred", "key shreds"),
        )?;
        for (customer, plan) in &self.customers {
            writeln!(f, "customer {customer}:")?;
            for planned in &plan.deletions {
                let record = planned.record;
                write!(
                    f,
                    "  delete {} ({}, collected {}): ",
                    record.id(),
                    record.category(),
                    record.collected_at()
                )?;
                match planned.disposition {
                    Disposition::DeleteBy { deadline, .. } => {
                        write!(f, "due, deadline {deadline}")?
                    }
                    Disposition::DeleteNow {
                        overdue_since: Some(deadline),
                        ..
                    } => write!(f, "overdue since {deadline}")?,
                    Disposition::DeleteNow { .. } => {
                        write!(f, "collected outside every relationship")?;
                    }
                    Disposition::Keep { .. } => write!(f, "kept")?,
                }
                writeln!(f, " [{}]", planned.disposition.clause())?;
            }
            if let Some(shred) = &plan.shred {
                writeln!(
                    f,
                    "  shred keys: relationship ended {} [{}]",
                    shred.last_end, shred.clause
                )?;
            }
        }
        for (hold, records) in &self.kept_by_holds {
            writeln!(
                f,
                "legal hold {hold} keeps {} from deletion",
                Counted(*records, "record", "records")
            )?;
        }
        for withheld in &self.withheld_shreds {
            writeln!(
                f,
                "customer {}: key shred withheld: {}",
                withheld.customer, withheld.reason
            )?;
        }
        for due in self.reviews_due.values() {
            writeln!(
                f,
                "{} of customer {} stands, review due since {}",
                due.hold, due.customer, due.review_at
            )?;
        }
        for skipped in &self.skipped {
            writeln!(f, "skipped {}: {}", skipped.record.id(), skipped.error)?;
        }
        Ok(())
    }
}

/// A count with its noun agreeing: `1 record`, `3 records`.
struct Counted<'a, N>(N, &'a str, &'a str);

impl<N: Copy + PartialEq + From<u8> + fmt::Display> fmt::Display for Counted<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(count, one, many) = *self;
        let noun = if count == N::from(1) { one } else { many };
        write!(f, "{count} {noun}")
    }
}

/// Why a key shred that a plan would make is not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WithholdReason {
    /// A hold of the customer stands (whatever it covers: a shred makes all their records
    /// unreadable).
    Hold(HoldId),
    /// Some of the customer's records are kept, or could not be decided.
    RecordsKept,
    /// At execution the shred is not due: a relationship started again, or the plan looked
    /// ahead to an instant that has not come.
    NotDue,
}

impl fmt::Display for WithholdReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hold(hold) => write!(f, "legal hold {hold} stands"),
            Self::RecordsKept => f.write_str("some of their records are kept or undecided"),
            Self::NotDue => f.write_str("not due now"),
        }
    }
}

/// A key shred withheld, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WithheldShred {
    customer: CustomerId,
    reason: WithholdReason,
}

impl WithheldShred {
    /// The customer whose keys are kept.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// Why.
    #[must_use]
    pub const fn reason(&self) -> WithholdReason {
        self.reason
    }

    /// The hold that withholds it, if a hold does.
    #[must_use]
    pub const fn hold(&self) -> Option<HoldId> {
        match self.reason {
            WithholdReason::Hold(hold) => Some(hold),
            _ => None,
        }
    }
}

/// A hold that stands past its review date, as a plan reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReviewDue {
    hold: HoldId,
    customer: CustomerId,
    review_at: Timestamp,
}

impl ReviewDue {
    /// The hold.
    #[must_use]
    pub const fn hold(&self) -> HoldId {
        self.hold
    }

    /// The customer whose data it keeps.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// The review date that has passed.
    #[must_use]
    pub const fn review_at(&self) -> Timestamp {
        self.review_at
    }
}

/// The planned actions for one customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerPlan {
    deletions: Vec<PlannedDeletion>,
    shred: Option<PlannedShred>,
}

impl CustomerPlan {
    /// The records to delete.
    #[must_use]
    pub fn deletions(&self) -> &[PlannedDeletion] {
        &self.deletions
    }

    /// The key shred, if planned.
    #[must_use]
    pub const fn shred(&self) -> Option<&PlannedShred> {
        self.shred.as_ref()
    }
}

/// One record to delete, with the disposition that made it due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedDeletion {
    record: RecordMeta,
    disposition: Disposition,
}

impl PlannedDeletion {
    /// The record.
    #[must_use]
    pub const fn record(&self) -> &RecordMeta {
        &self.record
    }

    /// Why it is due: [`Disposition::DeleteBy`] or [`Disposition::DeleteNow`].
    #[must_use]
    pub const fn disposition(&self) -> Disposition {
        self.disposition
    }
}

/// A planned crypto-shred of one customer's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedShred {
    customer: CustomerId,
    last_end: Timestamp,
    clause: ClauseId,
}

impl PlannedShred {
    /// The customer.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// The end of the customer's last relationship.
    #[must_use]
    pub const fn last_end(&self) -> Timestamp {
        self.last_end
    }

    /// The clause of the crypto-shred rule (`logs.retention` in the bundled schedule).
    #[must_use]
    pub const fn clause(&self) -> ClauseId {
        self.clause
    }
}

/// A record the plan could not decide about: it is not deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRecord {
    record: RecordMeta,
    error: RetentionError,
}

impl SkippedRecord {
    /// The record.
    #[must_use]
    pub const fn record(&self) -> &RecordMeta {
        &self.record
    }

    /// Why.
    #[must_use]
    pub const fn error(&self) -> &RetentionError {
        &self.error
    }
}

/// What a failure was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// Deleting a record.
    Record(RecordId),
    /// Shredding a customer's keys.
    Customer(CustomerId),
}

/// A deletion or shred that failed, or a record that could not be decided at execution.
#[derive(Debug)]
pub struct Failure {
    target: Target,
    error: Box<dyn Error + Send + Sync>,
}

impl Failure {
    /// What failed.
    #[must_use]
    pub const fn target(&self) -> Target {
        self.target
    }

    /// Why.
    #[must_use]
    pub fn error(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.error
    }
}

/// What an execution did.
#[derive(Debug)]
pub struct SweepReport {
    executed_at: Timestamp,
    deleted: Vec<RecordId>,
    already_absent: Vec<RecordId>,
    now_kept: Vec<(RecordId, Disposition)>,
    shredded: Vec<CustomerId>,
    already_shredded: Vec<CustomerId>,
    shreds_withheld: Vec<WithheldShred>,
    failures: Vec<Failure>,
}

impl SweepReport {
    /// The instant it ran at: the clock's, when execution began.
    #[must_use]
    pub const fn executed_at(&self) -> Timestamp {
        self.executed_at
    }

    /// Records deleted now.
    #[must_use]
    pub fn deleted(&self) -> &[RecordId] {
        &self.deleted
    }

    /// Planned records that were already gone.
    #[must_use]
    pub fn already_absent(&self) -> &[RecordId] {
        &self.already_absent
    }

    /// Planned records that are kept at execution (a hold placed meanwhile, a deadline that
    /// has not come), with why.
    #[must_use]
    pub fn now_kept(&self) -> &[(RecordId, Disposition)] {
        &self.now_kept
    }

    /// Customers whose keys were destroyed now.
    #[must_use]
    pub fn shredded(&self) -> &[CustomerId] {
        &self.shredded
    }

    /// Planned shreds whose keys were already gone.
    #[must_use]
    pub fn already_shredded(&self) -> &[CustomerId] {
        &self.already_shredded
    }

    /// Shreds not carried out, with why: those the plan withheld, then planned ones withheld
    /// at execution: a hold of the customer stands (named), the shred is not due now, or a
    /// deletion of theirs turned into a keep.
    #[must_use]
    pub fn shreds_withheld(&self) -> &[WithheldShred] {
        &self.shreds_withheld
    }

    /// Deletions and shreds that failed.
    #[must_use]
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }
}
