//! The vault: custody of log records behind the policy, the one gate where plaintext comes
//! out.

use std::{
    fmt,
    sync::{
        MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use steward_core::{AdminId, CustomerId, RecordId, StewardId, Timestamp};
use steward_logs::{
    AccessRequest, AuditStore, AuditTrail, ConfigError, Custody, Denial, KeyVersion, LogsError,
    MasterKey, Plaintext, RosterChange, SealInput, SealedRecord,
};
use steward_retention::{HoldId, KeyShredder, Removal, RetentionError};

use crate::{
    AuditedRosterChange, DataRef, Decision, DenyReason, Facts, FactsIdentity, Policy, Request,
    RosterFacts, StewardError,
};

/// How long a fact change tries for the facts lock without queueing (see
/// `Vault::write_facts`): longer than a sweep's step or an open's sync usually takes.
const WRITE_PATIENCE: Duration = Duration::from_millis(500);

/// How long a fact change waits between two tries for the facts lock.
const WRITE_RETRY: Duration = Duration::from_micros(50);

/// Sealed log records, their keys, their audit trail and the facts the policy decides on, in
/// one place: every decrypting path asks [`Policy::check`] over the same [`Facts`](crate::Facts) that
/// services ask, and writes its audit entry before plaintext comes out.
///
/// - [`open`](Self::open) decides `Request::open_log` with `check()` (purpose table, roster,
///   justification, retention, holds) at the instant of the vault's own audit clock, audits
///   the decision, and decrypts only an allowed record.
/// - The roster lives in the facts and changes only through
///   [`add_steward`](Self::add_steward) and [`remove_steward`](Self::remove_steward), bounded
///   by the policy's `max_stewards` and audited.
/// - Key rotations and shreds are audited too. A shred is refused while any legal hold of the
///   customer stands: it would make every record of theirs unreadable.
///
/// `&self` throughout and `Send + Sync` for `Send + Sync` facts and stores: share one vault
/// (in an `Arc`) between the threads of a server. Decisions read the facts under a shared
/// lock; [`update_facts`](Self::update_facts) takes it exclusively. A change that finds the
/// facts read by another thread (a sweep's step, an open) tries again every 50 µs for up to
/// half a second before it queues for the lock, because a queued writer makes every new
/// reader wait behind it: decisions go on beside a long reader, and wait only while a change
/// applies. Seals never wait for an open or an audit write (see [`Custody`]).
///
/// Locks are taken in one order: the facts, then the audit trail, then custody's own (see
/// [`Custody`]). Holding a [`facts`](Self::facts) guard while shredding (the retention sweep
/// does, through [`VaultShredder`](crate::VaultShredder)) follows it. Do not call
/// [`open`](Self::open), [`check`](Self::check), [`update_facts`](Self::update_facts) or a
/// roster change while holding a facts guard on the same thread: they take the facts lock
/// again, which waits behind any writer.
///
/// ```
/// use steward::{
///     MemoryFacts,
///     Policy,
///     Vault,
///     logs::{AuditKey, AuditTrail, Keyring, MasterKey, MemoryAuditStore, AccessRequest, SealInput, SealedRecord},
///     vocabulary::{RecordId, Timestamp, TrainingLevel},
/// };
///
/// let policy = Policy::coder_model();
/// let mut facts = MemoryFacts::new(&policy);
/// let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// facts.relationships.start(customer, "2025-01-01T00:00:00Z".parse()?)?;
///
/// let master = MasterKey::from_bytes("kek-2025-03".parse()?, b"steward test key 42, not secret!")?;
/// let trail = AuditTrail::new(AuditKey::from_bytes(b"steward test key 17, not secret!")?, MemoryAuditStore::new())?;
/// let vault = Vault::new(policy, facts, Keyring::new(master), trail)?;
/// vault.add_steward("alice.ops".parse()?, "dana.admin".parse()?)?;
///
/// let now = Timestamp::now();
/// let id = RecordId::generate_at(now);
/// let bytes = vault.seal(id, customer, now, b"{\"prompt\":\"fix my build\"}")?.into_bytes();
///
/// let record = SealedRecord::from_bytes(&bytes)?;
/// let ask = |steward: &str, purpose: &str| -> Result<AccessRequest, Box<dyn std::error::Error>> {
///     Ok(AccessRequest::with_justification_text(steward.parse()?, purpose.parse()?, "TICKET-4711"))
/// };
/// let body = vault.open(&record, &ask("alice.ops", "troubleshooting")?)?;
/// assert_eq!(body.as_bytes(), b"{\"prompt\":\"fix my build\"}");
///
/// // Not on the roster: refused, and the refusal is in the trail too.
/// assert!(vault.open(&record, &ask("mallory", "troubleshooting")?).is_err());
/// assert_eq!(vault.audit()?.verify()?.entries(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Vault<F, S> {
    policy: Policy,
    facts: RwLock<F>,
    /// The identity of the facts value the vault was built over: a shredder handed other
    /// facts to check holds against is refused.
    identity: FactsIdentity,
    custody: Custody<S>,
    /// Set once a change through `update_facts` replaced the facts value: the roster may then
    /// hold stewards no audited change put there, and nothing is decided any more.
    replaced: AtomicBool,
    /// Fact changes trying for the facts lock now; background readers step aside for them.
    changes_waiting: AtomicUsize,
}

impl<F: RosterFacts, S: AuditStore> Vault<F, S> {
    /// A vault over `facts`, sealing with `keyring` and auditing to `trail`, which it owns
    /// from now on.
    ///
    /// # Errors
    ///
    /// [`ConfigError::RosterFull`] if the facts' roster already holds more stewards than the
    /// policy allows (`logs.access`: a select few).
    pub fn new(
        policy: Policy,
        facts: F,
        keyring: steward_logs::Keyring,
        trail: AuditTrail<S>,
    ) -> Result<Self, LogsError> {
        Self::with_custody(policy, facts, Custody::new(keyring, trail))
    }

    /// A vault over a configured [`Custody`] (another AEAD, other record limits, a key store).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_custody(policy: Policy, facts: F, custody: Custody<S>) -> Result<Self, LogsError> {
        let max = policy.max_stewards().get();
        if facts.roster_len() > max {
            return Err(LogsError::Config(ConfigError::RosterFull { max }));
        }
        Ok(Self {
            policy,
            identity: facts.identity(),
            facts: RwLock::new(facts),
            custody,
            replaced: AtomicBool::new(false),
            changes_waiting: AtomicUsize::new(0),
        })
    }

    /// Seals a request body (`logs.stored`, `logs.encrypted`) as record `record` of
    /// `customer`, collected at `collected_at`, under the consent level in force for them then
    /// (`training.forward-only`), which the vault reads from its facts: a caller cannot seal a
    /// wider consent into a record than was given. See [`Custody::seal`].
    ///
    /// # Errors
    ///
    /// [`ConfigError::FactsReplaced`] once the facts were replaced; as [`Custody::seal`]
    /// otherwise.
    pub fn seal(
        &self,
        record: RecordId,
        customer: CustomerId,
        collected_at: Timestamp,
        body: &[u8],
    ) -> Result<SealedRecord, LogsError> {
        let _span = crate::observe::seal_span(body.len());
        self.guard_replaced()?;
        let level = self
            .facts
            .read()
            .map_err(poisoned)?
            .training_level_at(customer, collected_at);
        let input = SealInput::new(record, customer, collected_at, level);
        self.custody.seal(&input, body)
    }

    /// As [`seal`](Self::seal), returning also how many secrets of each kind were redacted
    /// from the body before sealing (for reports; never the secrets). See
    /// [`Custody::seal_counting`].
    ///
    /// # Errors
    ///
    /// As [`seal`](Self::seal).
    pub fn seal_counting(
        &self,
        record: RecordId,
        customer: CustomerId,
        collected_at: Timestamp,
        body: &[u8],
    ) -> Result<steward_logs::Sealed, LogsError> {
        let _span = crate::observe::seal_span(body.len());
        self.guard_replaced()?;
        let level = self
            .facts
            .read()
            .map_err(poisoned)?
            .training_level_at(customer, collected_at);
        let input = SealInput::new(record, customer, collected_at, level);
        self.custody.seal_counting(&input, body)
    }

    /// Opens a record for a steward, if the policy allows it now.
    ///
    /// The decision is `check()` of `Request::open_log` on the record's header, at the
    /// instant of the vault's audit clock (never the caller's), over this vault's policy and
    /// facts: `logs.access` (roster, justification: one the policy's
    /// [`JustificationRule`](crate::JustificationRule) refuses counts as none, and is denied
    /// as missing), `logs.purposes` (the purpose table of
    /// this policy), `logs.retention` (nothing due or held only by a legal hold opens). The
    /// attempt is audited whatever the outcome, and plaintext comes out only after its entry
    /// is stored.
    ///
    /// # Errors
    ///
    /// [`LogsError::Open`] naming the [`Denial`] and its clause, or why the record did not
    /// open; as [`Custody::dangerous_open_with_gate`] otherwise.
    pub fn open(
        &self,
        record: &SealedRecord,
        request: &AccessRequest,
    ) -> Result<Plaintext, LogsError> {
        let _span = crate::observe::open_span(request.purpose());
        // Facts before the trail, as everywhere (see the lock order in the type's docs); a
        // panic that poisoned the facts denies rather than opening on half-changed facts.
        let facts = self.facts.read();
        let mut allowed = None;
        // The clock never runs backwards for a decision: not before the newest fact change.
        let not_before = facts
            .as_ref()
            .ok()
            .and_then(|facts| facts.newest_fact_instant());
        let opened = self.custody.dangerous_open_with_gate_not_before(
            record,
            request,
            not_before,
            |query| {
                let data = DataRef::of_sealed_record(query.header());
                let ask = Request {
                    actor: crate::Actor::Steward(request.steward()),
                    action: crate::Action::OpenLog {
                        purpose: request.purpose(),
                        // logs.access: a justification the policy's rule refuses (too few
                        // letters or digits, no match of its pattern) is no justification.
                        justification: request
                            .justification()
                            .filter(|reason| self.policy.justification_rule().accepts(reason)),
                    },
                    data,
                    now: query.now(),
                };
                let decision = match &facts {
                    Ok(facts) if !self.replaced.load(Ordering::Acquire) => {
                        self.policy.check(&ask, &**facts)
                    }
                    _ => Decision::cannot_evaluate(crate::EvaluationProblem::FactsUnavailable),
                };
                crate::observe::decision(&ask, &decision);
                allowed = Some(decision.is_allowed());
                denial_of(&decision)
            },
        );
        crate::observe::open(match (&opened, allowed) {
            (Ok(_), _) => "opened",
            (Err(_), Some(false)) => "denied",
            (Err(_), _) => "failed",
        });
        opened
    }

    /// Adds `steward` to the roster, on `admin`'s authority: audited, then applied.
    ///
    /// # Errors
    ///
    /// [`ConfigError::RosterFull`] (`logs.access`) if the roster holds the policy's maximum;
    /// [`AuditError::Unavailable`](steward_logs::AuditError::Unavailable) if the entry could
    /// not be written (nothing changed); [`ConfigError::RosterUnavailable`] if the facts could
    /// not bring the roster up to date (nothing changed) or store the change (the trail then
    /// holds an entry for a change that did not apply).
    pub fn add_steward(&self, steward: StewardId, admin: AdminId) -> Result<(), LogsError> {
        // One write guard for the check, the entry and the change: two additions at once
        // cannot both pass the bound.
        self.guard_replaced()?;
        let mut facts = self.write_facts()?;
        refresh_roster(&mut *facts)?;
        if facts.is_on_roster(&steward) {
            return Ok(());
        }
        let max = self.policy.max_stewards().get();
        if facts.roster_len() >= max {
            return Err(LogsError::Config(ConfigError::RosterFull { max }));
        }
        self.change_roster(&mut *facts, RosterChange::Added(steward), admin)
    }

    /// Removes `steward` from the roster, on `admin`'s authority: audited, then applied.
    /// Returns whether they were on it (removing an absent steward writes nothing).
    ///
    /// # Errors
    ///
    /// As [`add_steward`](Self::add_steward), but for a full roster.
    pub fn remove_steward(&self, steward: &StewardId, admin: AdminId) -> Result<bool, LogsError> {
        self.guard_replaced()?;
        let mut facts = self.write_facts()?;
        refresh_roster(&mut *facts)?;
        if !facts.is_on_roster(steward) {
            return Ok(false);
        }
        self.change_roster(&mut *facts, RosterChange::Removed(steward.clone()), admin)?;
        Ok(true)
    }

    fn change_roster(
        &self,
        facts: &mut F,
        change: RosterChange,
        admin: AdminId,
    ) -> Result<(), LogsError> {
        self.custody.audit_roster_change(change.clone(), admin)?;
        facts
            .apply_roster_change(&AuditedRosterChange::new(change))
            .map_err(|source| LogsError::Config(ConfigError::RosterUnavailable { source }))
    }

    /// Rotates the customer's data key (audited); see [`Custody::rotate_data_key`].
    ///
    /// # Errors
    ///
    /// As [`Custody::rotate_data_key`].
    pub fn rotate_data_key(&self, customer: CustomerId) -> Result<KeyVersion, LogsError> {
        self.custody.rotate_data_key(customer)
    }

    /// Rotates the master key (audited); see [`Custody::rotate_master_key`].
    ///
    /// # Errors
    ///
    /// As [`Custody::rotate_master_key`].
    pub fn rotate_master_key(&self, new: MasterKey) -> Result<(), LogsError> {
        self.custody.rotate_master_key(new)
    }

    /// Adopts a shared key store's current view of the customer's keys (several nodes on one
    /// database); see [`Custody::refresh_customer`].
    ///
    /// # Errors
    ///
    /// As [`Custody::refresh_customer`].
    pub fn refresh_customer(&self, customer: CustomerId) -> Result<(), LogsError> {
        self.custody.refresh_customer(customer)
    }

    /// Crypto-shreds the customer now (audited first), unless a legal hold of theirs stands;
    /// see [`Custody::shred`]. Any standing hold refuses it, whatever it covers: a shred
    /// makes every record of the customer unreadable, backups included, and cannot be undone.
    /// The facts stay locked (shared) until the shred is done, so a hold placed meanwhile
    /// waits for it.
    ///
    /// # Errors
    ///
    /// [`RetentionError::Held`] naming the hold, while one stands (nothing is shredded);
    /// [`ConfigError::FactsReplaced`] once the facts were replaced; as [`Custody::shred`]
    /// otherwise.
    pub fn shred(&self, customer: CustomerId) -> Result<(), StewardError> {
        self.guard_replaced()?;
        let facts = self.facts.read().map_err(poisoned)?;
        self.shred_with(&*facts, customer)
    }

    /// Refuses `facts` that are not this vault's own (the guard of [`facts`](Self::facts)), or
    /// any once the facts were replaced.
    pub(crate) fn check_own_facts(&self, facts: &F) -> Result<(), LogsError> {
        if facts.identity() != self.identity || self.replaced.load(Ordering::Acquire) {
            return Err(LogsError::Config(ConfigError::FactsReplaced));
        }
        Ok(())
    }

    /// Shreds under `facts`, which the caller holds read from this vault.
    pub(crate) fn shred_with(&self, facts: &F, customer: CustomerId) -> Result<(), StewardError> {
        self.check_own_facts(facts)?;
        if let Some(hold) = standing_hold_of(facts, customer, Timestamp::now()) {
            return Err(RetentionError::Held {
                hold,
                what: "shredding the customer's keys",
            }
            .into());
        }
        Ok(self.custody.shred(customer)?)
    }

    /// The instant the vault decides at now: the later of its audit trail's next instant
    /// (the clock, or just after the newest audit entry) and the newest recorded fact
    /// change. Work that decides many records at once (an export, a sweep) decides them all
    /// at this instant, which is never before anything the trail or the facts recorded.
    ///
    /// # Errors
    ///
    /// As [`Custody::audit_instant`](steward_logs::Custody::audit_instant);
    /// [`LogsError::Poisoned`] if a thread panicked while changing the facts.
    pub fn decision_instant(&self) -> Result<Timestamp, LogsError> {
        let facts = self.facts.read().map_err(poisoned)?;
        let trail = self.custody.audit_instant()?;
        Ok(facts
            .newest_fact_instant()
            .map_or(trail, |newest| trail.max(newest)))
    }

    /// Decides `request` over this vault's policy and facts. Facts left unreadable by a
    /// panic in another thread deny (the policy fails closed).
    #[must_use]
    pub fn check(&self, request: &Request<'_>) -> Decision {
        let decision = match self.facts.read() {
            Ok(facts) if !self.replaced.load(Ordering::Acquire) => {
                self.policy.check(request, &*facts)
            }
            _ => Decision::cannot_evaluate(crate::EvaluationProblem::FactsUnavailable),
        };
        crate::observe::decision(request, &decision);
        decision
    }

    /// The policy.
    #[must_use]
    pub const fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Reads the facts, for services that call [`Policy::check`] themselves; writers wait
    /// while the guard lives.
    ///
    /// # Errors
    ///
    /// [`LogsError::Poisoned`] if a thread panicked while changing them.
    pub fn facts(&self) -> Result<RwLockReadGuard<'_, F>, LogsError> {
        self.facts.read().map_err(poisoned)
    }

    /// Reads the facts for background work that runs in many short steps (a sweep's step):
    /// as [`facts`](Self::facts), but first lets any fact change that is trying for the
    /// facts go ahead (waiting at most as long as a change's patience), so that steps taken
    /// back to back never keep a consent change or a hold waiting.
    ///
    /// # Errors
    ///
    /// [`LogsError::Poisoned`] if a thread panicked while changing them.
    pub fn facts_after_changes(&self) -> Result<RwLockReadGuard<'_, F>, LogsError> {
        let began = Instant::now();
        while self.changes_waiting.load(Ordering::Acquire) > 0 && began.elapsed() < WRITE_PATIENCE {
            thread::sleep(WRITE_RETRY);
        }
        self.facts()
    }

    /// Changes the facts (consent, relationships, holds) under the vault's write lock;
    /// `check()` and opens wait meanwhile. The roster cannot be changed this way (see
    /// [`RosterFacts`]): a change that replaces the whole facts value (`*facts = other`,
    /// and with it the roster, past the audit) is found by the value's
    /// [`identity`](RosterFacts::identity), and the vault then decides nothing any more.
    ///
    /// # Errors
    ///
    /// [`LogsError::Poisoned`] if a thread panicked while changing them;
    /// [`ConfigError::FactsReplaced`] if `change` replaced them, or did so before (every
    /// decision denies from then on, every seal and roster change is refused).
    pub fn update_facts<R>(&self, change: impl FnOnce(&mut F) -> R) -> Result<R, LogsError> {
        self.guard_replaced()?;
        let mut facts = self.write_facts()?;
        // Facts that date their changes record them no earlier than the trail's newest entry.
        facts.observe_audit_instant(self.custody.audit_instant()?);
        let identity = facts.identity();
        let result = change(&mut *facts);
        self.check_identity(&*facts, identity)?;
        Ok(result)
    }

    /// As [`update_facts`](Self::update_facts), but only if the facts are free now: `None`
    /// (and `change` not called) if a check, an open or another change holds them. For
    /// background work that can try again, such as applying other nodes' changes: a writer
    /// that waits for the lock makes every later `check()` wait behind it.
    ///
    /// # Errors
    ///
    /// [`LogsError::Poisoned`] if a thread panicked while changing them.
    pub fn try_update_facts<R>(
        &self,
        change: impl FnOnce(&mut F) -> R,
    ) -> Result<Option<R>, LogsError> {
        self.guard_replaced()?;
        match self.facts.try_write() {
            Ok(mut facts) => {
                let identity = facts.identity();
                let result = change(&mut *facts);
                self.check_identity(&*facts, identity)?;
                Ok(Some(result))
            }
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Poisoned(_)) => Err(LogsError::Poisoned),
        }
    }

    /// The audit trail, to verify it and sign checkpoints; opens wait while the guard lives.
    ///
    /// # Errors
    ///
    /// As [`Custody::audit`].
    pub fn audit(&self) -> Result<MutexGuard<'_, AuditTrail<S>>, LogsError> {
        self.custody.audit()
    }

    /// The keyring, for persisting its snapshot or asking about a customer's keys.
    ///
    /// # Errors
    ///
    /// As [`Custody::keyring`].
    pub fn keyring(&self) -> Result<RwLockReadGuard<'_, steward_logs::Keyring>, LogsError> {
        self.custody.keyring()
    }

    pub(crate) const fn custody(&self) -> &Custody<S> {
        &self.custody
    }

    /// The facts, exclusively. A writer that waits on the lock makes every new reader wait
    /// behind it (the standard library's lock lets no reader past a waiting writer), so while
    /// a long reader holds the facts (a sweep's step, an open's disk sync) a change tries
    /// again every few microseconds instead of queueing, and decisions go on meanwhile. After
    /// `WRITE_PATIENCE` it queues as usual, so that no change waits forever behind readers.
    fn write_facts(&self) -> Result<RwLockWriteGuard<'_, F>, LogsError> {
        let began = Instant::now();
        self.changes_waiting.fetch_add(1, Ordering::AcqRel);
        let facts = self.try_write_facts(began);
        self.changes_waiting.fetch_sub(1, Ordering::AcqRel);
        facts
    }

    /// The loop of [`write_facts`](Self::write_facts), while it counts as waiting.
    fn try_write_facts(&self, began: Instant) -> Result<RwLockWriteGuard<'_, F>, LogsError> {
        loop {
            match self.facts.try_write() {
                Ok(facts) => return Ok(facts),
                Err(TryLockError::Poisoned(_)) => return Err(LogsError::Poisoned),
                Err(TryLockError::WouldBlock) if began.elapsed() >= WRITE_PATIENCE => {
                    return self.facts.write().map_err(poisoned);
                }
                Err(TryLockError::WouldBlock) => thread::sleep(WRITE_RETRY),
            }
        }
    }

    /// Refuses once the facts were replaced.
    pub(crate) fn guard_replaced(&self) -> Result<(), LogsError> {
        if self.replaced.load(Ordering::Acquire) {
            return Err(LogsError::Config(ConfigError::FactsReplaced));
        }
        Ok(())
    }

    /// Fails the vault closed if `facts` are not the value whose identity was `before`.
    fn check_identity(&self, facts: &F, before: FactsIdentity) -> Result<(), LogsError> {
        if facts.identity() != before {
            self.replaced.store(true, Ordering::Release);
            return Err(LogsError::Config(ConfigError::FactsReplaced));
        }
        Ok(())
    }
}

/// The retention sweep's [`KeyShredder`] over a [`Vault`]: crypto-shreds a customer by
/// destroying every version of their data keys (`logs.retention`), each shred audited, and
/// refuses while a legal hold of the customer stands (as [`Vault::shred`] does).
///
/// It checks holds in the facts the sweep already holds read from the vault
/// ([`Vault::facts`]), so that the sweep does not take the facts lock a second time; facts
/// that are not the vault's own are refused.
pub struct VaultShredder<'a, F, S> {
    vault: &'a Vault<F, S>,
    facts: &'a F,
}

impl<'a, F, S> VaultShredder<'a, F, S> {
    /// A shredder over `vault`, checking holds in `facts`: the guard of [`Vault::facts`] the
    /// sweep holds.
    #[must_use]
    pub const fn new(vault: &'a Vault<F, S>, facts: &'a F) -> Self {
        Self { vault, facts }
    }
}

impl<F: RosterFacts, S: AuditStore> KeyShredder for VaultShredder<'_, F, S> {
    type Error = StewardError;

    fn shred_customer(&mut self, customer: CustomerId) -> Result<Removal, Self::Error> {
        if self.vault.keyring()?.is_shredded(customer) {
            return Ok(Removal::AlreadyAbsent);
        }
        self.vault.shred_with(self.facts, customer)?;
        Ok(Removal::Removed)
    }
}

impl<F, S> fmt::Debug for VaultShredder<'_, F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultShredder")
            .field("vault", self.vault)
            .finish_non_exhaustive()
    }
}

/// The standing hold of `customer` with the lowest id, whatever it covers.
fn standing_hold_of<F: Facts + ?Sized>(
    facts: &F,
    customer: CustomerId,
    now: Timestamp,
) -> Option<HoldId> {
    let mut held: Option<HoldId> = None;
    facts.visit_holds(customer, &mut |hold| {
        if hold.stands_at(now) && hold.scope().customer() == customer {
            held = Some(held.map_or(hold.id(), |other| other.min(hold.id())));
        }
    });
    held
}

/// Brings the roster up to date before a roster change is decided on it.
fn refresh_roster<F: RosterFacts>(facts: &mut F) -> Result<(), LogsError> {
    facts
        .refresh_roster()
        .map_err(|source| LogsError::Config(ConfigError::RosterUnavailable { source }))
}

/// A lock whose holder panicked: fail closed.
fn poisoned<T>(_: T) -> LogsError {
    LogsError::Poisoned
}

/// The audit trail's name for a policy deny.
fn denial_of(decision: &Decision) -> Result<(), Denial> {
    let Some(reason) = decision.reason() else {
        return Ok(());
    };
    Err(match reason {
        DenyReason::NotOnRoster => Denial::NotOnRoster,
        DenyReason::MissingJustification => Denial::MissingJustification,
        DenyReason::PurposeNotListed { purpose } => Denial::PurposeNotForLogs { purpose },
        DenyReason::PurposeNotAllowedForCategory { purpose, .. } => {
            Denial::PurposeNotAllowedByPolicy { purpose }
        }
        DenyReason::RetentionEnded => Denial::RetentionEnded,
        DenyReason::KeptOnlyByLegalHold => Denial::KeptOnlyByLegalHold,
        // The clause that decided, never a supporting one: the trail gives the reason.
        _ => Denial::Refused {
            clause: decision.decisive(),
        },
    })
}

impl<F, S> fmt::Debug for Vault<F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("policy", &self.policy.version())
            .field("custody", &self.custody)
            .finish_non_exhaustive()
    }
}
