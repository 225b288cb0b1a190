//! The audit trail: an HMAC-keyed hash chain with Ed25519-signed checkpoints.
//!
//! `logs.access`: every attempt to open a record (granted, refused or failed), every roster
//! change and every key event is written here, by the vault that owns the trail, before its
//! effect is visible. Each entry's hash is HMAC-SHA256, under a key the database does not
//! hold, over its sequence number, the previous entry's hash and the entry, so an edit,
//! deletion, insertion or reordering breaks [`AuditKey::verify_chain`]. Deleting the newest
//! entries leaves a valid shorter chain; a [`Checkpoint`] (sequence and head, signed with
//! Ed25519 and shipped elsewhere) detects that. Entries hold ids, purposes and outcomes,
//! never request content.
//!
//! Instants come from the trail's own [`Clock`], never from a caller, and strictly increase:
//! an entry is dated one nanosecond after its predecessor if the clock has not moved on (or
//! went backwards), so a wrong clock can neither block the trail nor reorder it.

mod chain;
mod entry;
mod fact_chain;
mod report;
mod store;

use std::{fmt, sync::Arc};

use chrono::TimeDelta;
use steward_core::{Clock, SystemClock, Timestamp};

pub use self::{
    chain::{
        AuditKey, ChainHash, ChainHead, ChainedEntry, Checkpoint, CheckpointPublicKey,
        CheckpointSigner,
    },
    entry::{AccessEvent, AuditEntry, AuditEvent, AuditOutcome, OpenFailure, RosterChange},
    fact_chain::FactLogKey,
    report::{
        Anomaly, AuditFilter, AuditReport, EntryKind, ExportEvent, ExportStage, KeyEvent,
        OPENS_FACTOR, OPENS_MINIMUM, OpenCount, Period, REFUSALS_IN_A_ROW, Refusal, RosterEvent,
        ShredEvent, SubjectRequestEvent, customer_of, steward_of,
    },
    store::{AuditStore, MemoryAuditStore, SharedHead},
};
use crate::{AuditError, LogsError};

/// The audit trail: the chain key, a store and a clock, appending chained entries.
///
/// Built once and handed to the vault, which is then the only writer: there is no public way
/// to append, so no caller can route an access past it or date an entry.
///
/// ```
/// use steward_logs::{AuditKey, AuditTrail, CheckpointSigner, MemoryAuditStore};
///
/// let trail = AuditTrail::new(AuditKey::from_bytes(b"steward test key 09, not secret!")?, MemoryAuditStore::new())?;
/// let pkcs8 = CheckpointSigner::generate_pkcs8()?;
/// let signer = CheckpointSigner::from_pkcs8(&pkcs8)?;
/// let checkpoint = trail.checkpoint(&signer)?;
/// assert_eq!(checkpoint.entries(), 0);
/// trail.verify_against(&checkpoint, &signer.public_key())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AuditTrail<S> {
    key: AuditKey,
    store: S,
    clock: Arc<dyn Clock>,
    head: ChainHead,
    last_at: Option<Timestamp>,
    /// A store reported a failure the trail could not resolve: the entry may or may not have
    /// been stored, so the head is re-read before the next entry.
    head_uncertain: bool,
    /// A shared store's append lock is held (see [`AuditStore::lock_head`]).
    head_locked: bool,
}

impl<S: AuditStore> AuditTrail<S> {
    /// A trail over `store`, continuing after its newest entry, dated by the system clock.
    ///
    /// Only the newest entry is read; call [`verify`](Self::verify) (or
    /// [`verify_against`](Self::verify_against)) at startup to check the whole chain.
    ///
    /// # Errors
    ///
    /// [`AuditError::Unavailable`] if the store cannot be read;
    /// [`AuditError::ChainBroken`] if its newest entry's hash is not valid under `key` (a
    /// wrong audit key, or a tampered newest entry).
    pub fn new(key: AuditKey, store: S) -> Result<Self, LogsError> {
        Self::with_clock(key, store, SystemClock)
    }

    /// A trail dated by `clock` (a [`ManualClock`](steward_core::ManualClock) in tests).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_clock(
        key: AuditKey,
        store: S,
        clock: impl Clock + 'static,
    ) -> Result<Self, LogsError> {
        let mut trail = Self {
            key,
            store,
            clock: Arc::new(clock),
            head: ChainHead::EMPTY,
            last_at: None,
            head_uncertain: false,
            head_locked: false,
        };
        trail.reload_head()?;
        Ok(trail)
    }

    /// The instant the next entry will carry: the clock's, or one nanosecond after the
    /// newest entry if the clock is not ahead of it.
    ///
    /// The vault decides a request at this instant and then appends at it, so the decision
    /// and its entry agree on the time.
    ///
    /// On a shared store this takes the store's append lock and continues after the newest
    /// stored entry; the lock is held until the entry is appended (or [`release`d](Self::release)).
    pub(crate) fn next_instant(&mut self) -> Result<Timestamp, LogsError> {
        self.lock_shared_head()?;
        let instant = self.instant_after_head();
        if instant.is_err() {
            self.release();
        }
        instant
    }

    /// The instant the next entry would carry after the head known here, without taking a
    /// shared store's lock: a decision instant for work that appends much later.
    pub(crate) fn instant_after_head(&mut self) -> Result<Timestamp, LogsError> {
        if self.head_uncertain {
            self.reload_head()?;
        }
        let now = self.clock.now();
        match self.last_at {
            Some(last) if now <= last => last
                .checked_add(TimeDelta::nanoseconds(1))
                .map_err(LogsError::from),
            _ => Ok(now),
        }
    }

    /// Appends `event`, dated by [`next_instant`](Self::next_instant).
    pub(crate) fn append(&mut self, event: AuditEvent) -> Result<ChainHead, LogsError> {
        let at = self.next_instant()?;
        self.append_at(at, event)
    }

    /// Chains `event` at `at` (from [`next_instant`](Self::next_instant), with nothing
    /// appended since) after the newest entry and stores it.
    pub(crate) fn append_at(
        &mut self,
        at: Timestamp,
        event: AuditEvent,
    ) -> Result<ChainHead, LogsError> {
        let chained = match self.chain_next(at, event) {
            Ok(chained) => chained,
            Err(error) => {
                self.release();
                return Err(error);
            }
        };
        let head = match chained.head_after() {
            Ok(head) => head,
            Err(error) => {
                self.release();
                return Err(error);
            }
        };
        // The store releases its append lock as the append returns, stored or not.
        self.head_locked = false;
        if let Err(source) = self.store.append(chained) {
            // The entry may have been stored all the same: learn the head from the store
            // rather than reuse its sequence number, now if the store answers, else before
            // the next entry.
            self.head_uncertain = true;
            let _reloaded = self.reload_head();
            return Err(LogsError::Audit(AuditError::Unavailable { source }));
        }
        self.head = head;
        self.last_at = Some(at);
        Ok(head)
    }

    /// Chains `event` at `at` after the head, refusing an instant not after the newest entry.
    fn chain_next(&mut self, at: Timestamp, event: AuditEvent) -> Result<ChainedEntry, LogsError> {
        if self.head_uncertain {
            self.reload_head()?;
        }
        if let Some(last) = self.last_at
            && at <= last
        {
            return Err(LogsError::Audit(AuditError::ClockWentBackwards {
                last,
                attempted: at,
            }));
        }
        let sequence = self.head.entries;
        self.key
            .chain(sequence, self.head.hash, entry::AuditEntry::new(at, event))
    }

    /// Takes a shared store's append lock, once, and continues after its newest entry.
    fn lock_shared_head(&mut self) -> Result<(), LogsError> {
        if self.head_locked {
            return Ok(());
        }
        let shared = self
            .store
            .lock_head()
            .map_err(|source| LogsError::Audit(AuditError::Unavailable { source }))?;
        if let SharedHead::Locked(newest) = shared {
            self.head_locked = true;
            if let Err(error) = self.continue_after(newest.map(|entry| *entry)) {
                self.release();
                return Err(error);
            }
        }
        Ok(())
    }

    /// Releases a shared store's append lock taken for an entry that will not be appended.
    pub(crate) fn release(&mut self) {
        if self.head_locked {
            self.store.unlock_head();
            self.head_locked = false;
        }
    }

    /// Re-reads the newest entry from the store and continues after it.
    fn reload_head(&mut self) -> Result<(), LogsError> {
        let last = self
            .store
            .last()
            .map_err(|source| LogsError::Audit(AuditError::Unavailable { source }))?;
        self.continue_after(last)
    }

    /// Continues after `last`, the store's newest entry, checked under the key; refuses a
    /// store that lost entries this trail knows of.
    fn continue_after(&mut self, last: Option<ChainedEntry>) -> Result<(), LogsError> {
        let (head, last_at) = match last {
            None => (ChainHead::EMPTY, None),
            Some(entry) => {
                self.key.verify_entry(&entry)?;
                (entry.head_after()?, Some(entry.entry().at()))
            }
        };
        if head.entries < self.head.entries {
            return Err(LogsError::Audit(AuditError::ChainBroken {
                sequence: head.entries,
                reason: "the store lost entries this trail had written",
            }));
        }
        self.head = head;
        self.last_at = last_at;
        self.head_uncertain = false;
        Ok(())
    }

    /// The key of redaction markers' fingerprints, derived from the trail's audit key.
    pub(crate) fn redaction_key(&self) -> steward_redact::FingerprintKey {
        self.key.redaction_key()
    }

    /// Checks one entry's hash under the trail's key (not its place in the chain).
    pub(crate) fn verify_entry(&self, chained: &ChainedEntry) -> Result<(), LogsError> {
        self.key.verify_entry(chained)
    }

    /// The head as last appended or read by this trail.
    #[must_use]
    pub const fn head(&self) -> &ChainHead {
        &self.head
    }

    /// Reads and verifies the whole chain in the store.
    ///
    /// # Errors
    ///
    /// [`AuditError::Unavailable`] if the store cannot be read; [`AuditError::ChainBroken`]
    /// if any entry was edited, deleted, inserted or reordered.
    pub fn verify(&self) -> Result<ChainHead, LogsError> {
        let entries = self
            .store
            .entries()
            .map_err(|source| LogsError::Audit(AuditError::Unavailable { source }))?;
        self.key.verify_chain(&entries)
    }

    /// Verifies the chain and that it still reaches `checkpoint`, signed by `public_key`:
    /// this detects the loss of the newest entries, which [`verify`](Self::verify) alone
    /// cannot.
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify), plus [`AuditError::CheckpointSignature`] if the checkpoint
    /// is not signed by `public_key`, and [`AuditError::CheckpointMismatch`] if the chain is
    /// shorter than the checkpoint or differs at its head.
    pub fn verify_against(
        &self,
        checkpoint: &Checkpoint,
        public_key: &CheckpointPublicKey,
    ) -> Result<ChainHead, LogsError> {
        public_key.verify(checkpoint)?;
        let entries = self
            .store
            .entries()
            .map_err(|source| LogsError::Audit(AuditError::Unavailable { source }))?;
        let head = self.key.verify_chain(&entries)?;
        checkpoint.check_reached_by(&entries)?;
        Ok(head)
    }

    /// Signs the current head, for shipping to a place the store's operators cannot edit.
    ///
    /// # Errors
    ///
    /// [`AuditError::CheckpointSignature`] if the signer produced no valid signature.
    pub fn checkpoint(&self, signer: &CheckpointSigner) -> Result<Checkpoint, LogsError> {
        Checkpoint::sign(&self.head, None, signer)
    }

    /// Signs the current head and `facts`, the head of the fact log kept beside this trail
    /// (as its store verified it): one checkpoint then detects the loss of the newest entries
    /// of either.
    ///
    /// # Errors
    ///
    /// As [`checkpoint`](Self::checkpoint).
    pub fn checkpoint_with_facts(
        &self,
        signer: &CheckpointSigner,
        facts: ChainHead,
    ) -> Result<Checkpoint, LogsError> {
        Checkpoint::sign(&self.head, Some(facts), signer)
    }

    /// The store.
    pub const fn store(&self) -> &S {
        &self.store
    }
}

impl<S> fmt::Debug for AuditTrail<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditTrail")
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}
