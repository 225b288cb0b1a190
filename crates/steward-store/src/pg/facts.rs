//! The shared store's fact log: one totally ordered log of entries, appended under a lock on
//! its head and announced to the other nodes, and the follower that applies other nodes'
//! entries as they commit.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use postgres::{Client, GenericClient, fallible_iterator::FallibleIterator};
use steward::logs::{BoxError, ChainHash};

use super::{PgStore, PgVault, column};
use crate::{
    DurableFacts, StoreError,
    codec::to_i64,
    error::Doing,
    fact_log::{FactEvent, FactLog, StoredFact, entry_after},
    fact_snapshot::FactSnapshot,
};

const FACT_EVENTS: &str = "fact_events";
const SNAPSHOTS: &str = "fact_snapshots";

/// The facts of one node on the shared store, served from memory: see [`DurableFacts`].
/// A [`FactsFollower`] applies other nodes' entries as they commit.
pub type PgFacts = DurableFacts<PgStore>;

impl FactLog for PgStore {
    fn entries_after(&self, after: u64) -> Result<Vec<StoredFact>, StoreError> {
        let mut client = self.client()?;
        events_after(&mut *client, after)
    }

    fn append(
        &self,
        applied: u64,
        next: &mut dyn FnMut(u64, Vec<StoredFact>) -> Result<Vec<StoredFact>, StoreError>,
    ) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction().doing("starting a facts change")?;
        let length = lock_head(&mut tx)?;
        let missed = if length > applied {
            events_after(&mut tx, applied)?
        } else {
            Vec::new()
        };
        let entries = next(length, missed)?;
        store_entries(&mut tx, self, &entries)?;
        tx.commit().doing("committing a fact entry")
    }

    fn recorded_length(&self) -> Result<u64, StoreError> {
        let mut client = self.client()?;
        let length: i64 = column(
            &client
                .query_one("SELECT seq FROM facts_head WHERE singleton = 1", &[])
                .doing("reading the facts log's head")?,
            0,
            FACT_EVENTS,
        )?;
        u64::try_from(length)
            .map_err(|error| StoreError::corrupt(FACT_EVENTS, "the log's head", error))
    }

    fn entry_hash(&self, sequence: u64) -> Result<Option<ChainHash>, StoreError> {
        let sequence = to_i64(sequence, "a fact log position")?;
        let mut client = self.client()?;
        client
            .query_opt("SELECT hash FROM fact_events WHERE seq = $1", &[&sequence])
            .doing("reading a fact entry's hash")?
            .map(|row| hash_of(column(&row, 0, FACT_EVENTS)?, FACT_EVENTS))
            .transpose()
    }

    fn latest_snapshot(&self) -> Result<Option<FactSnapshot>, StoreError> {
        let mut client = self.client()?;
        client
            .query_opt(
                "SELECT sequence, head, body, mac FROM fact_snapshots \
                 ORDER BY sequence DESC LIMIT 1",
                &[],
            )
            .doing("reading the fact snapshot")?
            .map(|row| {
                let sequence: i64 = column(&row, 0, SNAPSHOTS)?;
                Ok(FactSnapshot::new(
                    u64::try_from(sequence)
                        .map_err(|error| StoreError::corrupt(SNAPSHOTS, "a position", error))?,
                    hash_of(column(&row, 1, SNAPSHOTS)?, SNAPSHOTS)?,
                    column(&row, 2, SNAPSHOTS)?,
                    hash_of(column(&row, 3, SNAPSHOTS)?, SNAPSHOTS)?,
                ))
            })
            .transpose()
    }

    fn put_snapshot(&self, snapshot: &FactSnapshot) -> Result<(), StoreError> {
        let sequence = to_i64(snapshot.sequence(), "a fact log position")?;
        let mut client = self.client()?;
        let mut tx = client.transaction().doing("starting a fact snapshot")?;
        tx.execute(
            "INSERT INTO fact_snapshots (sequence, head, body, mac) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sequence) DO NOTHING",
            &[
                &sequence,
                &snapshot.head().as_bytes().as_slice(),
                &snapshot.body(),
                &snapshot.mac().as_bytes().as_slice(),
            ],
        )
        .doing("storing a fact snapshot")?;
        tx.execute(
            "DELETE FROM fact_snapshots WHERE sequence < $1",
            &[&sequence],
        )
        .doing("dropping older fact snapshots")?;
        tx.commit().doing("committing a fact snapshot")
    }
}

/// Appends `event` to the fact log in `tx`, under the log's head lock, and announces it: for
/// the store's own writes, with their effect.
pub(super) fn append_in(
    tx: &mut postgres::Transaction<'_>,
    store: &PgStore,
    event: &FactEvent,
) -> Result<(), StoreError> {
    let length = lock_head(tx)?;
    let newest = match tx
        .query_opt(
            "SELECT hash FROM fact_events WHERE seq = $1",
            &[&to_i64(length, "a fact log position")?],
        )
        .doing("reading the fact log's newest entry")?
    {
        Some(row) => Some((length, hash_of(column(&row, 0, FACT_EVENTS)?, FACT_EVENTS)?)),
        None => None,
    };
    let entry = entry_after(store.fact_key(), newest, event)?;
    store_entries(tx, store, &[entry])
}

/// Appends `events` to the fact log in `tx`, in order, under one take of the log's head
/// lock, and announces them: a batch of the store's own writes (a sweep's deletions).
pub(super) fn append_all_in(
    tx: &mut postgres::Transaction<'_>,
    store: &PgStore,
    events: &[FactEvent],
) -> Result<(), StoreError> {
    let length = lock_head(tx)?;
    let mut newest = match tx
        .query_opt(
            "SELECT hash FROM fact_events WHERE seq = $1",
            &[&to_i64(length, "a fact log position")?],
        )
        .doing("reading the fact log's newest entry")?
    {
        Some(row) => Some((length, hash_of(column(&row, 0, FACT_EVENTS)?, FACT_EVENTS)?)),
        None => None,
    };
    let mut entries = Vec::with_capacity(events.len());
    for event in events {
        let entry = entry_after(store.fact_key(), newest, event)?;
        newest = Some((entry.sequence(), entry.hash()));
        entries.push(entry);
    }
    store_entries(tx, store, &entries)
}

/// Locks the log's head row (writers take it, so `seq` is also commit order and a node that
/// applied up to n has seen every entry up to n) and returns the log's length.
fn lock_head(tx: &mut postgres::Transaction<'_>) -> Result<u64, StoreError> {
    let length: i64 = column(
        &tx.query_one(
            "SELECT seq FROM facts_head WHERE singleton = 1 FOR UPDATE",
            &[],
        )
        .doing("locking the facts log")?,
        0,
        FACT_EVENTS,
    )?;
    u64::try_from(length).map_err(|error| StoreError::corrupt(FACT_EVENTS, "the log's head", error))
}

/// Stores `entries` after the head `tx` locked, moves the head and announces the change.
fn store_entries(
    tx: &mut postgres::Transaction<'_>,
    store: &PgStore,
    entries: &[StoredFact],
) -> Result<(), StoreError> {
    let Some(newest) = entries.last() else {
        return Ok(());
    };
    // One statement for the lot: a sweep's batch appends hundreds.
    let sequences = entries
        .iter()
        .map(|entry| to_i64(entry.sequence(), "a fact log position"))
        .collect::<Result<Vec<_>, _>>()?;
    let texts: Vec<&str> = entries.iter().map(StoredFact::event).collect();
    let hashes: Vec<[u8; 32]> = entries
        .iter()
        .map(|entry| *entry.hash().as_bytes())
        .collect();
    let hashes: Vec<&[u8]> = hashes.iter().map(<[u8; 32]>::as_slice).collect();
    tx.execute(
        "INSERT INTO fact_events (seq, event, hash) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bytea[])",
        &[&sequences, &texts, &hashes],
    )
    .doing("storing fact entries")?;
    let newest = to_i64(newest.sequence(), "a fact log position")?;
    tx.execute(
        "UPDATE facts_head SET seq = $1 WHERE singleton = 1",
        &[&newest],
    )
    .doing("moving the facts log's head")?;
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&store.facts_channel(), &newest.to_string()],
    )
    .doing("announcing a fact entry")?;
    Ok(())
}

/// A stored 32-byte hash.
fn hash_of(bytes: Vec<u8>, table: &'static str) -> Result<ChainHash, StoreError> {
    let hash: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::corrupt_row(table, "a hash is not 32 bytes"))?;
    Ok(ChainHash::from_bytes(hash))
}

/// Reads the entries after the first `applied`, in order.
fn events_after(
    client: &mut impl GenericClient,
    applied: u64,
) -> Result<Vec<StoredFact>, StoreError> {
    let applied = to_i64(applied, "a fact log position")?;
    client
        .query(
            "SELECT seq, event, hash FROM fact_events WHERE seq > $1 ORDER BY seq",
            &[&applied],
        )
        .doing("reading the fact log")?
        .iter()
        .map(|row| {
            let sequence: i64 = column(row, 0, FACT_EVENTS)?;
            let event: String = column(row, 1, FACT_EVENTS)?;
            let hash: Vec<u8> = column(row, 2, FACT_EVENTS)?;
            let hash: [u8; 32] = hash
                .try_into()
                .map_err(|_| StoreError::corrupt_row(FACT_EVENTS, "a hash is not 32 bytes"))?;
            let sequence = u64::try_from(sequence)
                .map_err(|error| StoreError::corrupt(FACT_EVENTS, "a position", error))?;
            Ok(StoredFact::new(
                sequence,
                event,
                ChainHash::from_bytes(hash),
            ))
        })
        .collect()
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
        let freshness = vault.facts()?.freshness();
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
    let mut events = Some(store.entries_after(applied)?);
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
