//! Where the chain is kept: the store trait and its in-memory reference implementation.

use super::chain::ChainedEntry;
use crate::BoxError;

/// Where the audit chain is kept. Implement it over your database; [`MemoryAuditStore`] is
/// the reference implementation.
///
/// The chain's integrity does not depend on the store: [`AuditKey::verify_chain`] detects
/// what a store (or anyone with access to it) changed.
///
/// One [`AuditTrail`] writes to a store: the trail keeps the sequence number and the head in
/// memory. An implementation over a shared database should refuse an entry whose sequence
/// number is already taken (a unique key), so that two writers cannot fork the chain.
///
/// A store that several trails append to (several nodes on one database) also implements
/// [`lock_head`](Self::lock_head): the trail then takes the store's append lock before it
/// fixes the instant of an entry and continues after the newest stored entry, so every
/// node's entries form one totally ordered chain.
///
/// [`AuditKey::verify_chain`]: crate::AuditKey::verify_chain
/// [`AuditTrail`]: crate::AuditTrail
pub trait AuditStore {
    /// Appends `entry` after the newest one. Must return `Ok` only once the entry is
    /// durable: the vault returns plaintext only after this returned `Ok`.
    ///
    /// An error may be ambiguous (the entry was stored but the acknowledgement was lost):
    /// the trail then re-reads [`last`](Self::last) before its next entry, so a sequence
    /// number is never used twice.
    ///
    /// # Errors
    ///
    /// Whatever kept the entry from being stored; the access then fails closed.
    fn append(&mut self, entry: ChainedEntry) -> Result<(), BoxError>;

    /// The newest entry, if any.
    ///
    /// # Errors
    ///
    /// Whatever kept the store from being read.
    fn last(&self) -> Result<Option<ChainedEntry>, BoxError>;

    /// Every entry, oldest first.
    ///
    /// # Errors
    ///
    /// Whatever kept the store from being read.
    fn entries(&self) -> Result<Vec<ChainedEntry>, BoxError>;

    /// For a store shared by several trails: takes the store's append lock (held until the
    /// next [`append`](Self::append) returns, whether it stored the entry or not, or until
    /// [`unlock_head`](Self::unlock_head)) and returns the newest entry, which the trail's
    /// next entry then follows. A store with one trail returns [`SharedHead::NotShared`]
    /// (the default), and the trail's head in memory is the truth.
    ///
    /// # Errors
    ///
    /// Whatever kept the lock from being taken or the head from being read (no lock is held
    /// then).
    fn lock_head(&mut self) -> Result<SharedHead, BoxError> {
        Ok(SharedHead::NotShared)
    }

    /// Releases the append lock taken by [`lock_head`](Self::lock_head) without appending
    /// (the trail refused its entry before storing it). The default does nothing.
    fn unlock_head(&mut self) {}
}

/// What [`AuditStore::lock_head`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SharedHead {
    /// The store has one trail: nothing was locked or read.
    NotShared,
    /// The store's append lock is held by this trail; the newest stored entry (`None` for an
    /// empty chain).
    Locked(Option<Box<ChainedEntry>>),
}

/// An audit store in memory: for tests, examples and services that ship entries elsewhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryAuditStore {
    entries: Vec<ChainedEntry>,
}

impl MemoryAuditStore {
    /// An empty store.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// The stored entries, oldest first.
    #[must_use]
    pub fn as_slice(&self) -> &[ChainedEntry] {
        &self.entries
    }
}

impl From<Vec<ChainedEntry>> for MemoryAuditStore {
    /// A store holding these entries as they are (unverified; call
    /// [`AuditTrail::verify`](crate::AuditTrail::verify)).
    fn from(entries: Vec<ChainedEntry>) -> Self {
        Self { entries }
    }
}

impl AuditStore for MemoryAuditStore {
    fn append(&mut self, entry: ChainedEntry) -> Result<(), BoxError> {
        self.entries.push(entry);
        Ok(())
    }

    fn last(&self) -> Result<Option<ChainedEntry>, BoxError> {
        Ok(self.entries.last().cloned())
    }

    fn entries(&self) -> Result<Vec<ChainedEntry>, BoxError> {
        Ok(self.entries.clone())
    }
}
