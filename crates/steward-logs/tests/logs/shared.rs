//! Two custodies (two nodes) over one key store and one audit store, through the public API:
//! the first writer of a customer's key wins and every node seals under it, a shred or a
//! rotation made on one node is adopted by the other, and the trails of both nodes append one
//! chain (`KeyStore::put_data_key`'s `KeyAdmission`, `KeyStore::customer_keys` and
//! `AuditStore::lock_head`).
//!
//! The stores are in-memory doubles of a shared database: [`SharedKeys`] (compare-and-swap on
//! a customer's key version, tombstones raised to the newest stored version) and
//! [`SharedAudit`] (a unique sequence number, and an append lock held from `lock_head` to the
//! next `append`).

use std::{
    collections::BTreeMap,
    error::Error,
    fmt,
    sync::{Arc, Barrier, Condvar, Mutex, MutexGuard, PoisonError, mpsc},
    thread,
    time::Duration,
};

use steward_core::{CustomerId, ManualClock, RecordId, Timestamp, TrainingLevel, TrainingScope};
use steward_logs::{
    AuditError, AuditKey, AuditOutcome, AuditStore, BoxError, ChainHash, ChainedEntry, Custody,
    ExportCounts, ExportJobId, ExportPlan, KeyAdmission, KeyEpoch, KeyError, KeyStore, KeyVersion,
    Keyring, KeyringSnapshot, LogsError, OpenError, SealConfig, SealInput, SealedRecord,
    SharedHead, Tombstone, WrappedDataKey,
};

use crate::common::{
    AUDIT_KEY, START_SECONDS, TestResult, allow, custody_over, customer, instant, master_key,
    request,
};

/// How long a test waits for a node that should not be blocked before calling it stuck.
const STUCK: Duration = Duration::from_secs(10);

/// A refusal or failure of a store double.
#[derive(Debug)]
struct Refused(&'static str);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Error for Refused {}

/// The rows of the shared key table.
#[derive(Debug, Default)]
struct KeyRows {
    keys: BTreeMap<(CustomerId, KeyVersion), WrappedDataKey>,
    tombstones: BTreeMap<CustomerId, Tombstone>,
    /// Every tombstone a custody handed to `shred`, as handed.
    shreds_asked: Vec<(CustomerId, Tombstone)>,
    /// `put_data_key` calls answered `Superseded`.
    superseded: usize,
    /// `customer_keys` fails (the database is unreachable for reads).
    reads_fail: bool,
    /// `customer_keys` answers `None`, as a store written by one custody does: a node then
    /// learns of another's keys only when `put_data_key` supersedes its own.
    reads_off: bool,
    /// `shred` records the tombstone it is handed as it is (and destroys every key of the
    /// customer), as `KeyStore::shred` documents, instead of raising it to the newest stored
    /// version.
    literal_tombstones: bool,
    /// The key epoch, if the store keeps one (`SharedKeys::with_epoch`): moved by every
    /// stored key, shred and rewrap.
    epoch: Option<i64>,
    /// `customer_keys` calls answered.
    key_reads: usize,
}

impl KeyRows {
    /// What the store holds for `customer`: live wrapped keys and tombstone.
    fn view(&self, customer: CustomerId) -> Result<KeyringSnapshot, LogsError> {
        let keys = self
            .keys
            .range((customer, KeyVersion::FIRST)..)
            .take_while(|((owner, _), _)| *owner == customer)
            .map(|(_, key)| key.clone())
            .collect();
        let shredded = self
            .tombstones
            .get(&customer)
            .map(|&tombstone| (customer, tombstone))
            .into_iter()
            .collect();
        KeyringSnapshot::new(keys, shredded)
    }

    /// Moves the epoch, if kept: a key or tombstone changed.
    fn key_changed(&mut self) {
        if let Some(epoch) = &mut self.epoch {
            *epoch += 1;
        }
    }

    fn newest(&self, customer: CustomerId) -> Option<KeyVersion> {
        self.versions(customer).last().copied()
    }

    fn versions(&self, customer: CustomerId) -> Vec<KeyVersion> {
        self.keys
            .keys()
            .filter(|(owner, _)| *owner == customer)
            .map(|&(_, version)| version)
            .collect()
    }
}

/// A key table shared by every node: each node's custody holds a clone.
#[derive(Debug, Clone, Default)]
struct SharedKeys(Arc<Mutex<KeyRows>>);

impl SharedKeys {
    /// A key table that keeps a key epoch, as the SQLite store does.
    fn with_epoch() -> Self {
        let keys = Self::default();
        keys.rows().epoch = Some(0);
        keys
    }

    /// How many times a custody read a customer's keys.
    fn key_reads(&self) -> usize {
        self.rows().key_reads
    }

    fn rows(&self) -> MutexGuard<'_, KeyRows> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The customer's stored key versions, oldest first.
    fn versions(&self, customer: CustomerId) -> Vec<KeyVersion> {
        self.rows().versions(customer)
    }

    fn tombstone(&self, customer: CustomerId) -> Option<Tombstone> {
        self.rows().tombstones.get(&customer).copied()
    }
}

impl KeyStore for SharedKeys {
    fn put_data_key(&self, key: &WrappedDataKey) -> Result<KeyAdmission, BoxError> {
        let mut rows = self.rows();
        let customer = key.customer();
        let slot = (customer, key.version());
        let below_tombstone = rows
            .tombstones
            .get(&customer)
            .is_some_and(|tombstone| tombstone.covers(key.version()));
        if below_tombstone || rows.keys.contains_key(&slot) {
            rows.superseded += 1;
            return Ok(KeyAdmission::Superseded(rows.view(customer)?));
        }
        rows.keys.insert(slot, key.clone());
        rows.key_changed();
        Ok(KeyAdmission::Stored)
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn customer_keys(&self, customer: CustomerId) -> Result<Option<KeyringSnapshot>, BoxError> {
        let mut rows = self.rows();
        if rows.reads_fail {
            return Err(Box::new(Refused("key table unreachable")));
        }
        if rows.reads_off {
            return Ok(None);
        }
        rows.key_reads += 1;
        Ok(Some(rows.view(customer)?))
    }

    fn key_epoch(&self) -> Result<Option<KeyEpoch>, BoxError> {
        Ok(self.rows().epoch.map(KeyEpoch::new))
    }

    fn shred(&self, customer: CustomerId, tombstone: Tombstone) -> Result<(), BoxError> {
        let mut rows = self.rows();
        rows.shreds_asked.push((customer, tombstone));
        rows.key_changed();
        // Through the newest stored version, whatever the shredding node knew of, and never
        // below an earlier shred.
        if rows.literal_tombstones {
            rows.keys.retain(|&(owner, _), _| owner != customer);
            rows.tombstones.insert(customer, tombstone);
            return Ok(());
        }
        let mut raised = tombstone.max(Tombstone::new(rows.newest(customer)));
        if let Some(&earlier) = rows.tombstones.get(&customer) {
            raised = raised.max(earlier);
        }
        rows.keys
            .retain(|&(owner, version), _| owner != customer || !raised.covers(version));
        rows.tombstones.insert(customer, raised);
        Ok(())
    }

    fn rewrap(&self, keys: &[WrappedDataKey]) -> Result<(), BoxError> {
        let mut rows = self.rows();
        for key in keys {
            rows.keys
                .insert((key.customer(), key.version()), key.clone());
        }
        rows.key_changed();
        Ok(())
    }
}

/// The append lock of a shared audit table: whether some trail holds it.
#[derive(Debug, Default)]
struct AppendLock {
    held: Mutex<bool>,
    freed: Condvar,
}

impl AppendLock {
    fn take(&self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        while *held {
            held = self
                .freed
                .wait(held)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *held = true;
    }

    fn free(&self) {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.freed.notify_one();
    }
}

/// An audit table shared by every node, with a unique sequence number and an append lock.
/// Each trail owns its own handle ([`handle`](Self::handle)), which knows whether it holds
/// the lock.
#[derive(Debug)]
struct SharedAudit {
    entries: Arc<Mutex<Vec<ChainedEntry>>>,
    lock: Arc<AppendLock>,
    /// Implements `lock_head`; without it the table answers `NotShared` and relies on its
    /// unique sequence number alone.
    locking: bool,
    /// This handle holds the append lock.
    holding: bool,
}

impl SharedAudit {
    /// A table whose trails take its append lock.
    fn locking() -> Self {
        Self::new(true)
    }

    /// A table that only refuses a sequence number already taken.
    fn unlocked() -> Self {
        Self::new(false)
    }

    fn new(locking: bool) -> Self {
        Self {
            entries: Arc::default(),
            lock: Arc::default(),
            locking,
            holding: false,
        }
    }

    /// Another node's handle on the same table.
    fn handle(&self) -> Self {
        Self {
            entries: Arc::clone(&self.entries),
            lock: Arc::clone(&self.lock),
            locking: self.locking,
            holding: false,
        }
    }

    fn rows(&self) -> MutexGuard<'_, Vec<ChainedEntry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stored(&self) -> Vec<ChainedEntry> {
        self.rows().clone()
    }

    fn len(&self) -> usize {
        self.rows().len()
    }

    fn release(&mut self) {
        if self.holding {
            self.holding = false;
            self.lock.free();
        }
    }

    fn insert(&self, entry: ChainedEntry) -> Result<(), BoxError> {
        if self.locking && !self.holding {
            return Err(Box::new(Refused("append without the append lock")));
        }
        let mut rows = self.rows();
        let expected = u64::try_from(rows.len())?;
        if entry.sequence() != expected {
            return Err(Box::new(Refused("sequence number already taken")));
        }
        let previous = rows.last().map_or(ChainHash::GENESIS, ChainedEntry::hash);
        if entry.previous() != previous {
            return Err(Box::new(Refused("entry does not follow the newest one")));
        }
        rows.push(entry);
        Ok(())
    }
}

impl AuditStore for SharedAudit {
    fn append(&mut self, entry: ChainedEntry) -> Result<(), BoxError> {
        let stored = self.insert(entry);
        // Held until the append returns, stored or not.
        self.release();
        stored
    }

    fn last(&self) -> Result<Option<ChainedEntry>, BoxError> {
        Ok(self.rows().last().cloned())
    }

    fn entries(&self) -> Result<Vec<ChainedEntry>, BoxError> {
        Ok(self.stored())
    }

    fn lock_head(&mut self) -> Result<SharedHead, BoxError> {
        if !self.locking {
            return Ok(SharedHead::NotShared);
        }
        if self.holding {
            return Err(Box::new(Refused("append lock taken twice by one trail")));
        }
        self.lock.take();
        self.holding = true;
        Ok(SharedHead::Locked(
            self.rows().last().cloned().map(Box::new),
        ))
    }

    fn unlock_head(&mut self) {
        self.release();
    }
}

impl Drop for SharedAudit {
    fn drop(&mut self) {
        self.release();
    }
}

/// A node: a custody with its own keyring (same master key) and trail (same audit key) over
/// the shared tables, dated by `clock`.
fn node(
    keys: &SharedKeys,
    audit: &SharedAudit,
    clock: ManualClock,
) -> TestResult<Custody<SharedAudit>> {
    let custody = custody_over(
        Keyring::new(master_key()?),
        audit.handle(),
        clock,
        SealConfig::default(),
    )?;
    Ok(custody.with_key_store(Arc::new(keys.clone())))
}

fn clock_at(seconds: i64) -> TestResult<ManualClock> {
    Ok(ManualClock::new(instant(seconds)?))
}

fn input(owner: CustomerId) -> TestResult<SealInput> {
    let at = instant(START_SECONDS)?;
    Ok(SealInput::new(
        RecordId::generate_at(at),
        owner,
        at,
        TrainingLevel::Shared,
    ))
}

fn version(n: u32) -> TestResult<KeyVersion> {
    Ok(KeyVersion::new(n)?)
}

fn through(n: u32) -> TestResult<Tombstone> {
    Ok(Tombstone::new(Some(version(n)?)))
}

/// Opens `record` on `custody` with an allowing gate, expecting `body`.
fn opens(custody: &Custody<SharedAudit>, record: &SealedRecord, body: &[u8]) -> TestResult {
    let plaintext = custody.dangerous_open_with_gate(record, &request()?, allow)?;
    assert_eq!(plaintext.as_bytes(), body);
    Ok(())
}

/// Opens `record` on `custody`, expecting it shredded.
fn is_shredded(custody: &Custody<SharedAudit>, record: &SealedRecord) -> TestResult {
    match custody.dangerous_open_with_gate(record, &request()?, allow) {
        Err(LogsError::Open(OpenError::Shredded)) => Ok(()),
        Err(other) => Err(format!("expected Shredded, got {other}").into()),
        Ok(_) => Err("a shredded record opened".into()),
    }
}

/// Verifies the shared chain and returns it.
fn verified_chain(audit: &SharedAudit) -> TestResult<Vec<ChainedEntry>> {
    let entries = audit.stored();
    AuditKey::from_bytes(&AUDIT_KEY)?.verify_chain(&entries)?;
    Ok(entries)
}

/// (a) Two nodes seal the first record of the same new customers at the same instant: one
/// key per customer ends up stored, both nodes seal under it, and every record opens on both.
#[test]
fn concurrent_first_seals_on_two_nodes_share_one_key_per_customer() -> TestResult {
    const CUSTOMERS: u128 = 64;
    let keys = SharedKeys::default();
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let owners: Vec<CustomerId> = (1..=CUSTOMERS).map(customer).collect::<TestResult<_>>()?;
    let inputs_a: Vec<SealInput> = owners
        .iter()
        .map(|&o| input(o))
        .collect::<TestResult<_>>()?;
    let inputs_b: Vec<SealInput> = owners
        .iter()
        .map(|&o| input(o))
        .collect::<TestResult<_>>()?;
    let barrier = Barrier::new(2);
    // Every seal is attempted (no early return), so neither node is left at the barrier.
    let seal_all = |custody: &Custody<SharedAudit>, inputs: &[SealInput], body: &'static [u8]| {
        inputs
            .iter()
            .map(|meta| {
                barrier.wait();
                custody.seal(meta, body)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .collect::<Result<Vec<_>, LogsError>>()
    };
    let (sealed_a, sealed_b) = thread::scope(|scope| {
        let on_a = scope.spawn(|| seal_all(&a, &inputs_a, b"from a"));
        let on_b = scope.spawn(|| seal_all(&b, &inputs_b, b"from b"));
        (on_a.join(), on_b.join())
    });
    let sealed_a = sealed_a.map_err(|_| "node a panicked")??;
    let sealed_b = sealed_b.map_err(|_| "node b panicked")??;

    for &owner in &owners {
        assert_eq!(keys.versions(owner), [KeyVersion::FIRST], "{owner:?}");
    }
    for (records, body) in [(&sealed_a, b"from a"), (&sealed_b, b"from b")] {
        for record in records {
            assert_eq!(record.header().key_version(), KeyVersion::FIRST);
            opens(&a, record, body)?;
            opens(&b, record, body)?;
        }
    }
    // Both keyrings hold the stored key and nothing else.
    let stored = keys.rows().keys.values().cloned().collect::<Vec<_>>();
    for custody in [&a, &b] {
        assert_eq!(custody.keyring()?.snapshot().data_keys(), stored.as_slice());
    }
    let entries = verified_chain(&audit)?;
    assert_eq!(entries.len(), 4 * owners.len());
    Ok(())
}

/// (a) The race made deterministic: node b does not read the table before issuing (its reads
/// answer `None`), so its first key for a customer node a already has is superseded, and b
/// adopts a's key instead of sealing under its own.
#[test]
fn a_first_key_stored_by_another_node_supersedes_this_nodes_own() -> TestResult {
    let keys = SharedKeys::default();
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let owner = customer(11)?;
    let first = a.seal(&input(owner)?, b"a first")?;
    keys.rows().reads_off = true;
    let second = b.seal(&input(owner)?, b"b second")?;
    keys.rows().reads_off = false;
    assert_eq!(keys.rows().superseded, 1);
    assert_eq!(keys.versions(owner), [KeyVersion::FIRST]);
    assert_eq!(second.header().key_version(), KeyVersion::FIRST);
    assert_eq!(
        a.keyring()?.snapshot().data_keys(),
        b.keyring()?.snapshot().data_keys()
    );
    for custody in [&a, &b] {
        opens(custody, &first, b"a first")?;
        opens(custody, &second, b"b second")?;
    }
    Ok(())
}

/// (b) A shred on node a reaches node b: b's records and cached opening keys from before the
/// shred no longer open anywhere, and b's next record starts a generation above the tombstone
/// that opens on a.
#[test]
fn a_shred_on_one_node_is_honoured_by_the_other() -> TestResult {
    let keys = SharedKeys::default();
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let owner = customer(21)?;
    let on_a = a.seal(&input(owner)?, b"sealed on a")?;
    let on_b = b.seal(&input(owner)?, b"sealed on b")?;
    // Warm both nodes' opening caches with both records.
    for custody in [&a, &b] {
        opens(custody, &on_a, b"sealed on a")?;
        opens(custody, &on_b, b"sealed on b")?;
    }

    a.shred(owner)?;
    assert_eq!(keys.tombstone(owner), Some(through(1)?));
    assert!(keys.versions(owner).is_empty());
    for custody in [&b, &a] {
        is_shredded(custody, &on_a)?;
        is_shredded(custody, &on_b)?;
    }
    assert!(b.keyring()?.is_version_shredded(owner, KeyVersion::FIRST));

    let returned = b.seal(&input(owner)?, b"after the shred")?;
    assert_eq!(returned.header().key_version(), version(2)?);
    assert_eq!(keys.versions(owner), [version(2)?]);
    opens(&a, &returned, b"after the shred")?;
    opens(&b, &returned, b"after the shred")?;
    for custody in [&a, &b] {
        is_shredded(custody, &on_a)?;
    }
    verified_chain(&audit)?;
    Ok(())
}

/// A store that keeps a key epoch: a node's opens of one customer read her keys once while the
/// epoch holds, and again once any node changed a key; a shred on the other node still holds
/// at the very next open. Without an epoch, every open reads the keys.
#[test]
fn with_a_key_epoch_opens_read_the_keys_again_only_after_a_change() -> TestResult {
    let keys = SharedKeys::with_epoch();
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let owner = customer(21)?;
    let first = a.seal(&input(owner)?, b"first")?;
    let second = a.seal(&input(owner)?, b"second")?;

    let before = keys.key_reads();
    for (record, body) in [
        (&first, &b"first"[..]),
        (&second, b"second"),
        (&first, b"first"),
    ] {
        opens(&b, record, body)?;
    }
    assert_eq!(keys.key_reads() - before, 1, "three opens at one epoch");

    a.rotate_data_key(owner)?;
    let before = keys.key_reads();
    opens(&b, &second, b"second")?;
    opens(&b, &first, b"first")?;
    assert_eq!(
        keys.key_reads() - before,
        1,
        "a rotation elsewhere: read once again"
    );

    a.shred(owner)?;
    is_shredded(&b, &second)?;
    is_shredded(&b, &first)?;
    assert!(b.keyring()?.is_version_shredded(owner, KeyVersion::FIRST));

    let without = SharedKeys::default();
    let c = node(&without, &audit, clock_at(START_SECONDS)?)?;
    let record = c.seal(&input(customer(22)?)?, b"no epoch")?;
    let before = without.key_reads();
    for _ in 0..3 {
        opens(&c, &record, b"no epoch")?;
    }
    assert_eq!(without.key_reads() - before, 3, "no epoch: a read per open");
    verified_chain(&audit)?;
    Ok(())
}

/// (b) A node sealing when another shreds: its running session is not re-read per record
/// (documented: `refresh_customer` is the caller's when the records store refuses such a
/// record), but what it seals under the shredded key opens on no node, and after a refresh it
/// seals above the tombstone.
#[test]
fn a_session_running_through_a_shred_elsewhere_seals_nothing_readable() -> TestResult {
    let keys = SharedKeys::default();
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let owner = customer(22)?;
    b.seal(&input(owner)?, b"before")?;
    a.shred(owner)?;
    let late = b.seal(&input(owner)?, b"late")?;
    if late.header().key_version() == KeyVersion::FIRST {
        for custody in [&a, &b] {
            is_shredded(custody, &late)?;
        }
    }
    b.refresh_customer(owner)?;
    let fresh = b.seal(&input(owner)?, b"fresh")?;
    assert_eq!(fresh.header().key_version(), version(2)?);
    opens(&a, &fresh, b"fresh")?;
    Ok(())
}

/// (c) A rotation on node a is used by node b's next session once b refreshes the customer;
/// records of both versions open on both nodes.
#[test]
fn a_rotation_on_one_node_seals_on_the_other_after_a_refresh() -> TestResult {
    let keys = SharedKeys::default();
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let owner = customer(31)?;
    a.seal(&input(owner)?, b"v1 on a")?;
    let old = b.seal(&input(owner)?, b"v1")?;
    assert_eq!(old.header().key_version(), KeyVersion::FIRST);
    assert_eq!(a.rotate_data_key(owner)?, version(2)?);
    assert_eq!(keys.versions(owner), [KeyVersion::FIRST, version(2)?]);

    b.refresh_customer(owner)?;
    assert_eq!(b.keyring()?.current_version(owner), Some(version(2)?));
    let new = b.seal(&input(owner)?, b"v2")?;
    assert_eq!(new.header().key_version(), version(2)?);
    for custody in [&a, &b] {
        opens(custody, &old, b"v1")?;
        opens(custody, &new, b"v2")?;
    }
    // No third key: b sealed under a's v2.
    assert_eq!(keys.versions(owner), [KeyVersion::FIRST, version(2)?]);
    Ok(())
}

/// (c) A rotation retires the key that sealed until now, so it must issue a version above
/// every stored one. On a node whose keyring has not caught up with the store, the key it
/// prepares is superseded and it hands back the stored newest version instead: a node that
/// never served the customer "rotates" to the existing v1, and a node that missed another's
/// rotation to that node's v2, auditing `DataKeyRotated` for a key that is not new.
#[test]
fn a_rotation_on_a_stale_node_issues_a_new_version() -> TestResult {
    let keys = SharedKeys::default();
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let owner = customer(32)?;
    b.seal(&input(owner)?, b"v1")?;
    // a never sealed or opened for the customer.
    let rotated = a.rotate_data_key(owner)?;
    assert_eq!(
        (rotated, keys.versions(owner)),
        (version(2)?, vec![KeyVersion::FIRST, version(2)?]),
        "a's first rotation issued no new key"
    );
    // b has not seen a's rotation.
    let rotated = b.rotate_data_key(owner)?;
    assert_eq!(
        (rotated, keys.versions(owner)),
        (
            version(3)?,
            vec![KeyVersion::FIRST, version(2)?, version(3)?]
        ),
        "b's rotation issued no new key"
    );
    Ok(())
}

/// (d) Both nodes open records at once (and rotate keys meanwhile): the shared table holds
/// one verified chain with one entry per open and rotation, in strictly increasing instants,
/// although node b's clock is an hour behind node a's.
#[test]
fn concurrent_opens_on_two_nodes_append_one_chain() -> TestResult {
    const OPENS: usize = 60;
    let keys = SharedKeys::default();
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = node(&keys, &audit, clock_at(START_SECONDS - 3_600)?)?;
    let owners = [customer(41)?, customer(42)?, customer(43)?];
    let mut records = Vec::new();
    for (n, &owner) in owners.iter().enumerate() {
        let custody = if n % 2 == 0 { &a } else { &b };
        records.push(custody.seal(&input(owner)?, b"body")?);
    }
    let request = request()?;
    let barrier = Barrier::new(2);
    let work = |custody: &Custody<SharedAudit>, rotate: CustomerId| -> Result<usize, LogsError> {
        barrier.wait();
        let mut events = 0;
        for round in 0..OPENS {
            let record = &records[round % records.len()];
            let body = custody.dangerous_open_with_gate(record, &request, allow)?;
            assert_eq!(body.as_bytes(), b"body");
            events += 1;
            if round % 20 == 10 {
                custody.rotate_data_key(rotate)?;
                events += 1;
            }
        }
        Ok(events)
    };
    let (on_a, on_b) = thread::scope(|scope| {
        let on_a = scope.spawn(|| work(&a, owners[0]));
        let on_b = scope.spawn(|| work(&b, owners[1]));
        (on_a.join(), on_b.join())
    });
    let events = on_a.map_err(|_| "node a panicked")?? + on_b.map_err(|_| "node b panicked")??;
    assert_eq!(events, 2 * OPENS + 6);

    let entries = verified_chain(&audit)?;
    assert_eq!(entries.len(), events);
    let opened = entries
        .iter()
        .filter(|chained| {
            chained
                .entry()
                .access()
                .is_some_and(|access| access.outcome() == AuditOutcome::Opened)
        })
        .count();
    assert_eq!(opened, 2 * OPENS);
    for (n, chained) in entries.iter().enumerate() {
        assert_eq!(chained.sequence(), u64::try_from(n)?);
    }
    for pair in entries.windows(2) {
        assert!(pair[1].entry().at() > pair[0].entry().at(), "{pair:?}");
    }
    // Each node's trail reads the whole shared chain and continues after its head.
    for custody in [&a, &b] {
        assert_eq!(custody.audit()?.verify()?.entries(), u64::try_from(events)?);
    }
    opens(&b, &records[0], b"body")?;
    opens(&a, &records[1], b"body")?;
    assert_eq!(verified_chain(&audit)?.len(), events + 2);
    Ok(())
}

/// (d) The append lock is held from the instant an open is decided at to its entry: while
/// node a's gate decides, node b's open waits, and its entry follows a's although b's clock
/// is behind.
#[test]
fn a_nodes_open_waits_while_another_node_decides() -> TestResult {
    let keys = SharedKeys::default();
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = node(&keys, &audit, clock_at(START_SECONDS - 60)?)?;
    let record = a.seal(&input(customer(51)?)?, b"body")?;
    let request = request()?;
    let (entered, in_gate) = mpsc::channel();
    let (release, go) = mpsc::channel::<()>();
    let (a, b, record, request) = (&a, &b, &record, &request);
    thread::scope(|scope| -> TestResult {
        let on_a = scope.spawn(move || {
            a.dangerous_open_with_gate(record, request, |query| {
                let _sent = entered.send(query.now());
                let _released = go.recv();
                Ok(())
            })
            .map(|plaintext| plaintext.len())
        });
        let decided_at = in_gate.recv_timeout(STUCK)?;
        let on_b = scope.spawn(move || {
            b.dangerous_open_with_gate(record, request, allow)
                .map(|plaintext| plaintext.len())
        });
        thread::sleep(Duration::from_millis(100));
        assert_eq!(
            audit.len(),
            0,
            "b appended while a's open was being decided"
        );
        assert!(!on_b.is_finished());
        release.send(())?;
        assert_eq!(on_a.join().map_err(|_| "node a panicked")??, 4);
        assert_eq!(on_b.join().map_err(|_| "node b panicked")??, 4);
        let entries = verified_chain(&audit)?;
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].entry().at(), decided_at);
        assert!(entries[1].entry().at() > decided_at);
        Ok(())
    })?;
    Ok(())
}

/// An open whose keys cannot be read (the key table out of reach) is audited as failed, as
/// any other attempt, and releases the append lock: the other node's next open is not
/// blocked.
#[test]
fn an_open_whose_keys_cannot_be_read_is_audited_and_releases_the_append_lock() -> TestResult {
    let keys = SharedKeys::default();
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = Arc::new(node(&keys, &audit, clock_at(START_SECONDS)?)?);
    let record = a.seal(&input(customer(52)?)?, b"body")?;
    keys.rows().reads_fail = true;
    assert!(matches!(
        a.dangerous_open_with_gate(&record, &request()?, allow),
        Err(LogsError::Key(KeyError::StoreUnavailable { .. }))
    ));
    keys.rows().reads_fail = false;
    let opened = open_elsewhere(&b, &record)?;
    assert_eq!(opened, b"body");
    let entries = verified_chain(&audit)?;
    assert_eq!(entries.len(), 2);
    assert_eq!(
        entries[0].entry().access().map(|access| access.outcome()),
        Some(AuditOutcome::Failed(
            steward_logs::OpenFailure::KeyUnavailable
        ))
    );
    opens(&a, &record, b"body")?;
    Ok(())
}

/// An open that fails before its entry because the next instant does not exist (the trail's
/// newest entry is at the last representable instant) releases the append lock too.
#[test]
fn an_open_failing_on_its_instant_releases_the_append_lock() -> TestResult {
    let keys = SharedKeys::default();
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, ManualClock::new(Timestamp::MAX))?;
    let b = Arc::new(node(&keys, &audit, clock_at(START_SECONDS)?)?);
    let record = a.seal(&input(customer(53)?)?, b"body")?;
    opens(&a, &record, b"body")?;
    assert!(
        a.dangerous_open_with_gate(&record, &request()?, allow)
            .is_err()
    );
    // b cannot date an entry after Timestamp::MAX either, but must get as far as failing.
    let (done, finished) = mpsc::channel();
    let on_b = Arc::clone(&b);
    thread::spawn(move || {
        let request = request().map_err(|error| error.to_string());
        let outcome = request.map(|request| {
            on_b.dangerous_open_with_gate(&record, &request, allow)
                .map(|_| ())
                .map_err(|error| error.to_string())
        });
        let _sent = done.send(outcome);
    });
    match finished.recv_timeout(STUCK) {
        Ok(_) => Ok(()),
        Err(_) => Err("node b is blocked on the append lock node a kept".into()),
    }
}

/// Opens `record` on `custody` in another thread, failing rather than hanging if the open
/// does not finish in time (a leaked append lock).
fn open_elsewhere(
    custody: &Arc<Custody<SharedAudit>>,
    record: &SealedRecord,
) -> TestResult<Vec<u8>> {
    let (done, finished) = mpsc::channel();
    let custody = Arc::clone(custody);
    let record = record.clone();
    let request = request()?;
    thread::spawn(move || {
        let outcome = custody
            .dangerous_open_with_gate(&record, &request, allow)
            .map(|plaintext| plaintext.as_bytes().to_vec())
            .map_err(|error| error.to_string());
        let _sent = done.send(outcome);
    });
    match finished.recv_timeout(STUCK) {
        Ok(outcome) => Ok(outcome?),
        Err(_) => Err("the open is blocked on an append lock nobody releases".into()),
    }
}

/// (e) Without `lock_head`, a table that refuses a taken sequence number keeps two trails
/// from forking the chain: the stale trail's entry is refused (and nothing opened), the chain
/// still verifies, and the stale trail continues after the stored head on its next entry.
#[test]
fn without_the_append_lock_a_taken_sequence_is_refused_not_forked() -> TestResult {
    let keys = SharedKeys::default();
    let audit = SharedAudit::unlocked();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let record = a.seal(&input(customer(61)?)?, b"body")?;
    opens(&a, &record, b"body")?;
    assert!(matches!(
        b.dangerous_open_with_gate(&record, &request()?, allow),
        Err(LogsError::Audit(AuditError::Unavailable { .. }))
    ));
    let entries = verified_chain(&audit)?;
    assert_eq!(entries.len(), 1);
    // b re-read the head after the refusal, and continues the one chain; now a's head is
    // stale, and a's next entry is refused in turn, then a continues after b's.
    opens(&b, &record, b"body")?;
    assert!(matches!(
        a.dangerous_open_with_gate(&record, &request()?, allow),
        Err(LogsError::Audit(AuditError::Unavailable { .. }))
    ));
    opens(&a, &record, b"body")?;
    let entries = verified_chain(&audit)?;
    assert_eq!(entries.len(), 3);
    for (n, chained) in entries.iter().enumerate() {
        assert_eq!(chained.sequence(), u64::try_from(n)?);
    }
    Ok(())
}

/// A shred on a node that has not seen another node's newer key: the store raises the
/// tombstone through every stored version, and every node treats the newer key's records as
/// shredded.
#[test]
fn a_shred_on_a_stale_node_destroys_keys_it_did_not_know() -> TestResult {
    let keys = SharedKeys::default();
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let owner = customer(71)?;
    let v1 = a.seal(&input(owner)?, b"v1")?;
    // b knows the customer's v1 (a stale node's rotation is another bug).
    b.seal(&input(owner)?, b"v1 on b")?;
    assert_eq!(b.rotate_data_key(owner)?, version(2)?);
    let v2 = b.seal(&input(owner)?, b"v2 on b")?;
    assert_eq!(v2.header().key_version(), version(2)?);
    opens(&b, &v2, b"v2 on b")?;
    a.shred(owner)?;
    assert_eq!(keys.tombstone(owner), Some(through(2)?));
    assert!(keys.versions(owner).is_empty());
    for custody in [&a, &b] {
        is_shredded(custody, &v1)?;
        is_shredded(custody, &v2)?;
    }
    let returned = a.seal(&input(owner)?, b"v3")?;
    assert_eq!(returned.header().key_version(), version(3)?);
    opens(&b, &returned, b"v3")?;
    Ok(())
}

/// The same shred over a store that records the tombstone it is handed, as `KeyStore::shred`
/// documents ("destroys every wrapped data key of `customer` and records `tombstone`"): the
/// stale node hands it a tombstone through v1 only, so the v2 record fails as an unknown key
/// version instead of as shredded, and node b's next key reuses the number v2 (a version
/// number issued twice to one customer).
#[test]
fn a_shred_on_a_stale_node_over_a_literal_store_still_destroys_every_version() -> TestResult {
    let keys = SharedKeys::default();
    keys.rows().literal_tombstones = true;
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let owner = customer(72)?;
    a.seal(&input(owner)?, b"v1")?;
    // b knows the customer's v1 (a stale node's rotation is another bug).
    b.seal(&input(owner)?, b"v1 on b")?;
    assert_eq!(b.rotate_data_key(owner)?, version(2)?);
    let v2 = b.seal(&input(owner)?, b"v2 on b")?;
    opens(&b, &v2, b"v2 on b")?;
    a.shred(owner)?;
    for custody in [&b, &a] {
        is_shredded(custody, &v2)?;
    }
    let returned = b.seal(&input(owner)?, b"returned")?;
    assert_eq!(returned.header().key_version(), version(3)?);
    assert_eq!(
        keys.rows().shreds_asked,
        [(owner, through(2)?)],
        "the shredding node asked for a tombstone below a stored version"
    );
    Ok(())
}

/// An export on a node that has not opened or sealed for a customer since another node
/// shredded them: the export must not decrypt the shredded customer's records.
#[test]
fn an_export_on_another_node_honours_a_shred() -> TestResult {
    let keys = SharedKeys::default();
    let audit = SharedAudit::locking();
    let a = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let b = node(&keys, &audit, clock_at(START_SECONDS)?)?;
    let owner = customer(81)?;
    let record = b.seal(&input(owner)?, b"shared for training")?;
    a.shred(owner)?;
    let at = b.audit_instant()?;
    let mut planned = steward_logs::PlannedRecords::new();
    planned.add(record.header().record_id());
    let plan = ExportPlan {
        job: ExportJobId::generate_at(at),
        scope: TrainingScope::Shared,
        policy_version: "2025-03-05".parse()?,
        at,
        counts: ExportCounts {
            exported: 1,
            ..ExportCounts::default()
        },
        digest: planned.digest(),
    };
    let mut grant = b.begin_export(plan, planned)?;
    let exported = b.open_for_export(&mut grant, &record);
    assert!(
        matches!(exported, Err(LogsError::Open(OpenError::Shredded))),
        "{exported:?}"
    );
    Ok(())
}
