//! The facts `check()` reads, shared by every node: one totally ordered log of changes,
//! applied in memory by each node.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use postgres::{Client, GenericClient, fallible_iterator::FallibleIterator};
use serde::{Deserialize, Serialize};
use steward::{
    AuditedRosterChange, BoxError, ConsentChange, ConsentReceipt, Facts, Policy, RosterFacts,
    TrainingLevel,
    consent::ConsentLedger,
    logs::{RosterChange, StewardRoster},
    retention::{
        HoldEvent, HoldId, HoldRegister, HoldSource, LegalHold, Relationship, RelationshipBook,
    },
};
use steward_core::{CustomerId, Justification, StewardId, Timestamp};

use super::{PgStore, PgVault, column};
use crate::{
    StoreError,
    codec::json_text,
    durable::{date_consent_change, replay_receipt},
    error::Doing,
};

const FACT_EVENTS: &str = "fact_events";

/// One change to the facts, as the log keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum FactEvent {
    Consent { receipt: ConsentReceipt },
    RelationshipStarted { customer: CustomerId, at: Timestamp },
    RelationshipEnded { customer: CustomerId, at: Timestamp },
    Hold { event: HoldEvent },
    StewardAdded { steward: StewardId },
    StewardRemoved { steward: StewardId },
}

/// The facts of one node on the shared store, served from memory.
///
/// Every change, on any node, is one event in the store's log; a node applies every event it
/// has not seen before it writes its own (under the log's lock, so its change is validated
/// against everything before it), and a [`FactsFollower`] applies other nodes' events as they
/// commit. So `check()` reads memory (no allocation, no I/O) and what it reads is at most a
/// bounded time behind the database.
///
/// Fails closed: if a commit fails after memory took a change, or the follower could not
/// catch up within [`PgConfig::facts_max_staleness`](super::PgConfig::facts_max_staleness),
/// every decision denies and every change is refused until the facts catch up (or, after a
/// failed commit, the vault is opened again).
pub struct PgFacts {
    store: PgStore,
    consent: ConsentLedger,
    relationships: RelationshipBook,
    holds: HoldRegister,
    roster: StewardRoster,
    /// The sequence number of the newest event applied.
    applied: i64,
    diverged: bool,
    freshness: Arc<Freshness>,
}

/// When the facts last caught up with the log, and whether that is longer ago than the
/// bound: read on every decision (one atomic load), and kept by a watchdog thread that does
/// no I/O, so the facts go stale on time even while the database does not answer and every
/// call into it hangs.
#[derive(Debug)]
pub(super) struct Freshness {
    origin: Instant,
    /// Nanoseconds after `origin` of the last catch-up.
    caught_up: AtomicU64,
    stale: AtomicBool,
}

impl Freshness {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            caught_up: AtomicU64::new(0),
            stale: AtomicBool::new(false),
        }
    }

    fn elapsed_nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The facts have just caught up with the log.
    fn caught_up(&self) {
        self.caught_up
            .store(self.elapsed_nanos(), Ordering::Release);
        self.stale.store(false, Ordering::Release);
    }

    /// Marks the facts stale if they last caught up longer than `bound` ago.
    fn check(&self, bound: Duration) {
        let since = self
            .elapsed_nanos()
            .saturating_sub(self.caught_up.load(Ordering::Acquire));
        if u128::from(since) > bound.as_nanos() {
            self.stale.store(true, Ordering::Release);
        }
    }

    fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Acquire)
    }
}

impl PgFacts {
    /// Loads every fact event from `store`, replaying and checking each.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if the log cannot be read; [`StoreError::Corrupt`] if an
    /// event does not decode or a receipt does not follow from the ones before it;
    /// [`StoreError::Consent`], [`StoreError::Retention`] or [`StoreError::Logs`] if an event
    /// does not replay.
    pub fn load(store: &PgStore, policy: &Policy) -> Result<Self, StoreError> {
        let mut facts = Self {
            store: store.clone(),
            consent: ConsentLedger::new(policy.known_versions().clone()),
            relationships: RelationshipBook::new(),
            holds: HoldRegister::new(),
            roster: StewardRoster::new(policy.max_stewards()),
            applied: 0,
            diverged: false,
            freshness: Arc::new(Freshness::new()),
        };
        let mut client = store.client()?;
        let events = events_after(&mut *client, 0)?;
        facts.apply_all(events)?;
        facts.freshness.caught_up();
        Ok(facts)
    }

    /// Applies the events other nodes committed since this node last looked.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if the log cannot be read (the facts stay as they were);
    /// [`StoreError::FactsDiverged`] once an event failed to apply.
    pub fn catch_up(&mut self) -> Result<usize, StoreError> {
        self.guard_diverged()?;
        let mut client = self.store.client()?;
        let events = events_after(&mut *client, self.applied)?;
        drop(client);
        self.apply_fetched(events)
    }

    /// The sequence number of the newest event applied here.
    #[must_use]
    pub const fn applied(&self) -> i64 {
        self.applied
    }

    /// Marks the facts stale, as the follower's watchdog does when they could not catch up
    /// within the bound: every decision denies until a catch-up succeeds.
    pub fn mark_stale(&mut self) {
        self.freshness.stale.store(true, Ordering::Release);
    }

    /// Whether the facts are stale.
    #[must_use]
    pub fn is_stale(&self) -> bool {
        self.freshness.is_stale()
    }

    /// Records a training-preference change, dated by the system clock (as the SQLite
    /// store's `StoreFacts::record_consent` does).
    ///
    /// # Errors
    ///
    /// [`StoreError::Consent`] if the ledger refuses it; [`StoreError::Postgres`] if it could
    /// not be stored; [`StoreError::FactsDiverged`] or [`StoreError::FactsStale`] while the
    /// facts fail closed.
    pub fn record_consent(&mut self, change: ConsentChange) -> Result<ConsentReceipt, StoreError> {
        self.write_event(|facts| {
            let (change, recorded_at) = date_consent_change(&facts.consent, change);
            let receipt = facts.consent.record(change, recorded_at)?;
            let event = FactEvent::Consent {
                receipt: receipt.clone(),
            };
            Ok((receipt, event))
        })
    }

    /// Starts a relationship.
    ///
    /// # Errors
    ///
    /// As `RelationshipBook::start` ([`StoreError::Retention`]), or as
    /// [`record_consent`](Self::record_consent) for the store.
    pub fn start_relationship(
        &mut self,
        customer: CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write_event(|facts| {
            facts.relationships.start(customer, at)?;
            Ok(((), FactEvent::RelationshipStarted { customer, at }))
        })
    }

    /// Ends a relationship.
    ///
    /// # Errors
    ///
    /// As `RelationshipBook::end` ([`StoreError::Retention`]), or as
    /// [`record_consent`](Self::record_consent) for the store.
    pub fn end_relationship(
        &mut self,
        customer: CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write_event(|facts| {
            facts.relationships.end(customer, at)?;
            Ok(((), FactEvent::RelationshipEnded { customer, at }))
        })
    }

    /// Places a legal hold.
    ///
    /// # Errors
    ///
    /// As `HoldRegister::place` ([`StoreError::Retention`]), or as
    /// [`record_consent`](Self::record_consent) for the store.
    pub fn place_hold(&mut self, hold: LegalHold) -> Result<(), StoreError> {
        self.hold_change(|holds| holds.place(hold))
    }

    /// Extends a legal hold.
    ///
    /// # Errors
    ///
    /// As `HoldRegister::extend`, or as [`record_consent`](Self::record_consent) for the
    /// store.
    pub fn extend_hold(
        &mut self,
        id: HoldId,
        by: StewardId,
        at: Timestamp,
        expires_at: Timestamp,
        reason: Justification,
    ) -> Result<(), StoreError> {
        self.hold_change(|holds| holds.extend(id, by, at, expires_at, reason))
    }

    /// Releases a legal hold.
    ///
    /// # Errors
    ///
    /// As `HoldRegister::release`, or as [`record_consent`](Self::record_consent) for the
    /// store.
    pub fn release_hold(
        &mut self,
        id: HoldId,
        by: StewardId,
        at: Timestamp,
        reason: Justification,
    ) -> Result<(), StoreError> {
        self.hold_change(|holds| holds.release(id, by, at, reason))
    }

    /// The consent ledger.
    ///
    /// # Errors
    ///
    /// [`StoreError::FactsDiverged`] or [`StoreError::FactsStale`] while the facts fail
    /// closed: nothing may be decided from them then.
    pub fn consent(&self) -> Result<&ConsentLedger, StoreError> {
        self.guard()?;
        Ok(&self.consent)
    }

    /// The relationships.
    ///
    /// # Errors
    ///
    /// As [`consent`](Self::consent).
    pub fn relationships(&self) -> Result<&RelationshipBook, StoreError> {
        self.guard()?;
        Ok(&self.relationships)
    }

    /// The legal holds.
    ///
    /// # Errors
    ///
    /// As [`consent`](Self::consent).
    pub fn holds(&self) -> Result<&HoldRegister, StoreError> {
        self.guard()?;
        Ok(&self.holds)
    }

    /// The stewards.
    ///
    /// # Errors
    ///
    /// As [`consent`](Self::consent).
    pub fn roster(&self) -> Result<&StewardRoster, StoreError> {
        self.guard()?;
        Ok(&self.roster)
    }

    fn hold_change(
        &mut self,
        change: impl FnOnce(&mut HoldRegister) -> Result<(), steward::retention::RetentionError>,
    ) -> Result<(), StoreError> {
        self.write_event(|facts| {
            change(&mut facts.holds)?;
            let event = facts
                .holds
                .events()
                .last()
                .cloned()
                .ok_or(StoreError::Unsupported {
                    what: "a hold change without its event",
                })?;
            Ok(((), FactEvent::Hold { event }))
        })
    }

    /// One change, on every node: under the log's lock, applies what other nodes wrote
    /// first, then `change` validates and applies it in memory (a refusal writes nothing)
    /// and returns its event, which is stored and announced in the same transaction. If the
    /// commit then fails, memory is ahead of the log and the facts fail closed.
    fn write_event<T>(
        &mut self,
        change: impl FnOnce(&mut Self) -> Result<(T, FactEvent), StoreError>,
    ) -> Result<T, StoreError> {
        self.guard()?;
        let store = self.store.clone();
        let mut client = store.client()?;
        let mut tx = client.transaction().doing("starting a facts change")?;
        let head: i64 = tx
            .query_one(
                "SELECT seq FROM facts_head WHERE singleton = 1 FOR UPDATE",
                &[],
            )
            .doing("locking the facts log")?
            .get(0);
        if head > self.applied {
            let missed = events_after(&mut tx, self.applied)?;
            self.apply_all(missed)?;
        }
        if head != self.applied {
            // The log's head names events that are not stored, or fewer than this node has
            // applied: the log was cut or edited.
            self.diverged = true;
            return Err(StoreError::corrupt_row(
                FACT_EVENTS,
                "the log's head does not match its events",
            ));
        }
        let (value, event) = change(self)?;
        let next = head + 1;
        let written = (|| {
            tx.execute(
                "INSERT INTO fact_events (seq, event) VALUES ($1, $2)",
                &[&next, &json_text(&event, "a fact event")?],
            )
            .doing("storing a fact event")?;
            tx.execute(
                "UPDATE facts_head SET seq = $1 WHERE singleton = 1",
                &[&next],
            )
            .doing("moving the facts log's head")?;
            tx.execute(
                "SELECT pg_notify($1, $2)",
                &[&store.facts_channel(), &next.to_string()],
            )
            .doing("announcing a fact event")?;
            tx.commit().doing("committing a fact event")
        })();
        match written {
            Ok(()) => {
                self.applied = next;
                self.freshness.caught_up();
                Ok(value)
            }
            Err(error) => {
                self.diverged = true;
                Err(error)
            }
        }
    }

    /// Applies events read after `applied`, skipping any already applied (a follower and a
    /// writer may both have read them).
    fn apply_fetched(&mut self, events: Vec<(i64, FactEvent)>) -> Result<usize, StoreError> {
        let fresh: Vec<_> = events
            .into_iter()
            .filter(|(seq, _)| *seq > self.applied)
            .collect();
        let count = fresh.len();
        self.apply_all(fresh)?;
        self.freshness.caught_up();
        Ok(count)
    }

    /// Applies events in order; one that does not apply leaves the facts failing closed.
    fn apply_all(&mut self, events: Vec<(i64, FactEvent)>) -> Result<(), StoreError> {
        for (seq, event) in events {
            if seq != self.applied + 1 {
                self.diverged = true;
                return Err(StoreError::corrupt_row(
                    FACT_EVENTS,
                    "the fact events are not consecutive",
                ));
            }
            if let Err(error) = self.apply(event) {
                self.diverged = true;
                return Err(error);
            }
            self.applied = seq;
        }
        Ok(())
    }

    fn apply(&mut self, event: FactEvent) -> Result<(), StoreError> {
        match event {
            FactEvent::Consent { receipt } => {
                replay_receipt(&mut self.consent, &receipt, FACT_EVENTS)?;
            }
            FactEvent::RelationshipStarted { customer, at } => {
                self.relationships.start(customer, at)?;
            }
            FactEvent::RelationshipEnded { customer, at } => {
                self.relationships.end(customer, at)?;
            }
            FactEvent::Hold { event } => self.holds.replay(event)?,
            FactEvent::StewardAdded { steward } => self.roster.add(steward)?,
            FactEvent::StewardRemoved { steward } => {
                self.roster.remove(&steward);
            }
        }
        Ok(())
    }

    fn guard_diverged(&self) -> Result<(), StoreError> {
        if self.diverged {
            return Err(StoreError::FactsDiverged);
        }
        Ok(())
    }

    fn guard(&self) -> Result<(), StoreError> {
        self.guard_diverged()?;
        if self.freshness.is_stale() {
            return Err(StoreError::FactsStale);
        }
        Ok(())
    }

    /// Whether decisions may be made from memory.
    fn answering(&self) -> bool {
        !self.diverged && !self.freshness.is_stale()
    }
}

/// Reads the events after `applied`, in order.
fn events_after(
    client: &mut impl GenericClient,
    applied: i64,
) -> Result<Vec<(i64, FactEvent)>, StoreError> {
    client
        .query(
            "SELECT seq, event FROM fact_events WHERE seq > $1 ORDER BY seq",
            &[&applied],
        )
        .doing("reading the fact events")?
        .iter()
        .map(|row| {
            let event = serde_json::from_str(column(row, 1, FACT_EVENTS)?)
                .map_err(|error| StoreError::corrupt(FACT_EVENTS, "invalid fact event", error))?;
            Ok((column(row, 0, FACT_EVENTS)?, event))
        })
        .collect()
}

impl Facts for PgFacts {
    fn training_level_at(&self, customer: CustomerId, instant: Timestamp) -> TrainingLevel {
        if !self.answering() {
            return TrainingLevel::None;
        }
        self.consent.level_at(customer, instant)
    }

    fn relationship_containing(
        &self,
        customer: CustomerId,
        instant: Timestamp,
    ) -> Option<Relationship> {
        if !self.answering() {
            return None;
        }
        self.relationships.containing(customer, instant).copied()
    }

    fn is_on_roster(&self, steward: &StewardId) -> bool {
        self.answering() && self.roster.contains(steward)
    }

    fn visit_holds(&self, customer: CustomerId, visit: &mut dyn FnMut(&LegalHold)) {
        if self.answering() {
            self.holds.visit_holds(customer, visit);
        }
    }
}

impl RosterFacts for PgFacts {
    fn roster_len(&self) -> usize {
        self.roster.len()
    }

    /// Applies the roster (and every other) change other nodes made, and refuses while the
    /// facts fail closed: a node behind the others, or cut off from the store, must not
    /// report a steward absent who is on the roster everywhere else.
    fn refresh_roster(&mut self) -> Result<(), BoxError> {
        self.catch_up()?;
        self.guard()?;
        Ok(())
    }

    fn apply_roster_change(&mut self, change: &AuditedRosterChange) -> Result<(), BoxError> {
        match change.change() {
            RosterChange::Added(steward) => {
                let steward = steward.clone();
                self.write_event(|facts| {
                    facts.roster.add(steward.clone())?;
                    Ok(((), FactEvent::StewardAdded { steward }))
                })?;
            }
            RosterChange::Removed(steward) => {
                let steward = steward.clone();
                // An audited removal takes effect here whatever happens to its event: if the
                // event is not committed (whether the store failed before or at the commit),
                // this node's memory no longer matches the log, and its facts fail closed.
                let removed = self.write_event(|facts| {
                    facts.roster.remove(&steward);
                    Ok((
                        (),
                        FactEvent::StewardRemoved {
                            steward: steward.clone(),
                        },
                    ))
                });
                if removed.is_err() {
                    self.roster.remove(&steward);
                    self.diverged = true;
                }
                removed?;
            }
            _ => {
                return Err(StoreError::Unsupported {
                    what: "a kind of roster change",
                }
                .into());
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for PgFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgFacts")
            .field("store", &self.store)
            .field("applied", &self.applied)
            .field("stewards", &self.roster.len())
            .field("diverged", &self.diverged)
            .field("stale", &self.freshness.is_stale())
            .finish_non_exhaustive()
    }
}

/// Brings a node's facts up to date with the other nodes' changes: a thread that listens
/// for the store's change notifications and applies new events as they commit, and polls at
/// [`PgConfig::facts_poll`](super::PgConfig::facts_poll) in case a notification is lost.
/// A watchdog thread (no I/O) marks the facts stale once they have not caught up for
/// [`PgConfig::facts_max_staleness`](super::PgConfig::facts_max_staleness) (the database out
/// of reach, a connection hanging, the follower stopped), and every decision denies until
/// they catch up again.
///
/// Dropping the follower stops both threads; the follower's ends within one poll interval,
/// or when a call it is waiting on returns.
pub struct FactsFollower {
    stop: Arc<AtomicBool>,
    watchdog: Option<thread::JoinHandle<()>>,
}

impl FactsFollower {
    /// Starts following `store` for `vault`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if the listening connection cannot be opened;
    /// [`StoreError::Thread`] if a thread cannot be started; [`StoreError::Logs`] if the
    /// vault's facts are poisoned.
    pub fn start(vault: Arc<PgVault>, store: &PgStore) -> Result<Self, StoreError> {
        let mut listener = Listener::connect(store)?;
        let freshness = Arc::clone(&vault.facts()?.freshness);
        let stop = Arc::new(AtomicBool::new(false));
        let poll = store.config().facts_poll();
        let bound = store.config().facts_max_staleness();
        let watchdog = {
            let stopping = Arc::clone(&stop);
            // Often enough that the facts go stale within a quarter of the bound past it.
            let tick = poll.min(bound / 4);
            thread::Builder::new()
                .name("steward-facts-watchdog".into())
                .spawn(move || {
                    while !stopping.load(Ordering::Acquire) {
                        freshness.check(bound);
                        thread::sleep(tick);
                    }
                })
                .map_err(|source| StoreError::Thread { source })?
        };
        let stopping = Arc::clone(&stop);
        let store = store.clone();
        let follower = thread::Builder::new()
            .name("steward-facts-follower".into())
            .spawn(move || {
                while !stopping.load(Ordering::Acquire) {
                    listener.wait(&store, poll);
                    if stopping.load(Ordering::Acquire) {
                        break;
                    }
                    // A failed catch-up is retried at the next wake-up; the watchdog decides
                    // when the facts have been behind for too long.
                    let _caught_up = catch_up(&vault, &store, &stopping);
                }
            });
        if let Err(source) = follower {
            stop.store(true, Ordering::Release);
            return Err(StoreError::Thread { source });
        }
        // The follower is not joined on drop: it may be waiting on the database for as long
        // as the connection's timeouts allow, and it stops by itself.
        Ok(Self {
            stop,
            watchdog: Some(watchdog),
        })
    }
}

impl Drop for FactsFollower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(watchdog) = self.watchdog.take() {
            let _stopped = watchdog.join();
        }
    }
}

impl std::fmt::Debug for FactsFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactsFollower").finish_non_exhaustive()
    }
}

/// Reads new events without holding the facts, then applies them under the vault's write
/// lock, taken only when free: a writer queued behind an open would hold up every `check()`
/// on this node until the open ends, so the follower tries again a moment later instead.
fn catch_up(vault: &PgVault, store: &PgStore, stopping: &AtomicBool) -> Result<(), BoxError> {
    let applied = vault.facts()?.applied();
    let mut client = store.client()?;
    let mut events = Some(events_after(&mut *client, applied)?);
    drop(client);
    while !stopping.load(Ordering::Acquire) {
        let applied = vault
            .try_update_facts(|facts| facts.apply_fetched(events.take().unwrap_or_default()))?;
        match applied {
            Some(result) => return Ok(result.map(drop)?),
            None => thread::sleep(LOCK_RETRY),
        }
    }
    Ok(())
}

/// How long the follower waits before trying the facts' write lock again.
const LOCK_RETRY: Duration = Duration::from_millis(1);

/// The connection that listens for change notifications; opened again when it breaks.
struct Listener {
    client: Option<Client>,
}

impl Listener {
    fn connect(store: &PgStore) -> Result<Self, StoreError> {
        let mut client = store.connect_client()?;
        client
            .batch_execute(&format!("LISTEN \"{}\"", store.facts_channel()))
            .doing("listening for fact changes")?;
        Ok(Self {
            client: Some(client),
        })
    }

    /// Waits for a notification (draining any others) or for `poll` to pass.
    fn wait(&mut self, store: &PgStore, poll: Duration) {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            match Self::connect(store) {
                Ok(fresh) => *self = fresh,
                Err(_) => {
                    // The database is out of reach: wait a poll interval and try again; the
                    // staleness bound decides when the facts stop answering.
                    thread::sleep(poll);
                    return;
                }
            }
        }
        let Some(client) = self.client.as_mut() else {
            return;
        };
        let woke = client.notifications().timeout_iter(poll).next();
        let broken = match woke {
            Ok(Some(_)) => {
                // Later notifications are covered by the same catch-up.
                let mut notifications = client.notifications();
                while let Ok(Some(_)) = notifications.iter().next() {}
                false
            }
            Ok(None) => false,
            Err(_) => true,
        };
        if broken {
            self.client = None;
        }
    }
}
