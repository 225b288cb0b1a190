//! Other processes' fact changes, applied here: the embedded store's follower.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use rusqlite::Connection;
use steward::logs::BoxError;

use crate::{
    SqliteStore, StoreError, StoreVault, codec::to_i64, durable_facts::Freshness, error::Doing,
    sqlite::facts::entries_after,
};

/// How often the follower asks SQLite whether another connection committed: a read of
/// `PRAGMA data_version` (a counter in shared memory, no table read), so polling often is
/// cheap. Another process's fact change reaches this one's decisions within about this long.
pub const FOLLOWER_POLL: Duration = Duration::from_millis(20);

/// How long the facts may go without catching up before every decision denies (the
/// follower stopped, the file does not answer, the facts' lock is never free).
pub const FOLLOWER_MAX_STALENESS: Duration = Duration::from_secs(2);

/// Brings a vault's facts up to date with what other processes on the same file change, as
/// `pg::FactsFollower` does for nodes on PostgreSQL: a thread that polls
/// `PRAGMA data_version` on a connection of its own every [`FOLLOWER_POLL`] and, when another
/// connection committed, applies the new fact entries (each verified under the audit key
/// first). A watchdog thread (no I/O) marks the facts stale once they have not caught up for
/// [`FOLLOWER_MAX_STALENESS`], and every decision denies until they catch up again.
///
/// A process that serves (seals, opens, sweeps) beside another on one file starts one for
/// its vault; a command that opens the vault, does one thing and exits needs none, since
/// [`open_vault`](crate::open_vault) loads every fact appended before it. Changes this
/// process makes itself are in its facts at once, and every fact change first applies what
/// others appended, follower or not.
///
/// ```
/// use std::sync::Arc;
/// use steward::Policy;
/// use steward_store::{SqliteStore, StoreFactsFollower, StoreKeys, open_vault};
///
/// # let path = std::env::temp_dir().join(format!("steward-follow-{}.db", std::process::id()));
/// let keys = StoreKeys::new("kek-1".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
/// let store = SqliteStore::create(&path, &keys)?;
/// let vault = Arc::new(open_vault(&store, &keys, Policy::coder_model())?);
/// let follower = StoreFactsFollower::start(Arc::clone(&vault), &store)?;
/// // ... serve with `vault`; another process's consent changes reach it within 20 ms.
/// drop(follower);
/// # drop((vault, store));
/// # steward_store::remove_store_files(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Dropping the follower stops both threads and waits for them (within one poll interval).
pub struct StoreFactsFollower {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl StoreFactsFollower {
    /// Starts following `store` for `vault`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`] if the follower's connection cannot be opened;
    /// [`StoreError::Thread`] if a thread cannot be started; [`StoreError::Logs`] if the
    /// vault's facts are poisoned.
    pub fn start(vault: Arc<StoreVault>, store: &SqliteStore) -> Result<Self, StoreError> {
        let conn = store.reader()?;
        let freshness = vault.facts()?.freshness();
        let stop = Arc::new(AtomicBool::new(false));
        let mut follower = Self {
            stop: Arc::clone(&stop),
            threads: Vec::with_capacity(2),
        };
        let watchdog = {
            let stopping = Arc::clone(&stop);
            let freshness = Arc::clone(&freshness);
            // Often enough that the facts go stale within a quarter of the bound past it.
            let tick = FOLLOWER_POLL.min(FOLLOWER_MAX_STALENESS / 4);
            thread::Builder::new()
                .name("steward-facts-watchdog".into())
                .spawn(move || {
                    while !stopping.load(Ordering::Acquire) {
                        freshness.check(FOLLOWER_MAX_STALENESS);
                        thread::sleep(tick);
                    }
                })
                .map_err(|source| StoreError::Thread { source })?
        };
        follower.threads.push(watchdog);
        let stopping = Arc::clone(&stop);
        let poller = thread::Builder::new()
            .name("steward-facts-follower".into())
            .spawn(move || {
                let mut seen = None;
                while !stopping.load(Ordering::Acquire) {
                    // A failed round is retried at the next poll; the watchdog decides when
                    // the facts have been behind for too long.
                    let _followed = follow(&vault, &conn, &freshness, &mut seen, &stopping);
                    thread::sleep(FOLLOWER_POLL);
                }
            })
            .map_err(|source| StoreError::Thread { source })?;
        follower.threads.push(poller);
        Ok(follower)
    }
}

impl Drop for StoreFactsFollower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        for thread in self.threads.drain(..) {
            let _stopped = thread.join();
        }
    }
}

impl std::fmt::Debug for StoreFactsFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFactsFollower").finish_non_exhaustive()
    }
}

/// One round: if another connection committed since the last round that caught up, reads
/// the fact entries after the vault's head and applies them; if none did, the facts are as
/// current as they were then, which the freshness records.
fn follow(
    vault: &StoreVault,
    conn: &Connection,
    freshness: &Freshness,
    seen: &mut Option<i64>,
    stopping: &AtomicBool,
) -> Result<(), BoxError> {
    // Read before the entries: a commit after this read changes the counter again, so it is
    // caught by the next round, never skipped.
    let version: i64 = conn
        .query_row("PRAGMA data_version", [], |row| row.get(0))
        .doing("polling the store for changes")?;
    if *seen == Some(version) {
        freshness.caught_up();
        return Ok(());
    }
    let applied = vault.facts()?.applied();
    let mut entries = Some(entries_after(
        conn,
        to_i64(applied, "a fact log position")?,
    )?);
    while !stopping.load(Ordering::Acquire) {
        // The facts' write lock only when free: a writer queued behind an open would hold up
        // every decision in this process until the open ends.
        match vault
            .try_update_facts(|facts| facts.apply_fetched(entries.take().unwrap_or_default()))?
        {
            Some(result) => {
                result?;
                *seen = Some(version);
                return Ok(());
            }
            None => thread::sleep(LOCK_RETRY),
        }
    }
    Ok(())
}

/// How long the follower waits before trying the facts' write lock again.
const LOCK_RETRY: Duration = Duration::from_millis(1);
