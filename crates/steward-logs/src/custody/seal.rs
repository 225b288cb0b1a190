//! Sealing: per-customer sessions, sharded by customer.

use std::{
    collections::{HashMap, VecDeque, hash_map::Entry},
    hash::{Hash, Hasher},
    sync::Mutex,
};

use steward_core::CustomerId;
use steward_redact::{RedactionCounts, Redactor, Scanner};

use super::{Custody, SecretRedaction, poisoned};
use crate::{
    ConfigError, KeyAdmission, KeyEpoch, KeyError, KeyVersion, LogsError, Redaction, SealInput,
    SealedRecord, audit::AuditStore, session::SealSession,
};

/// Sealing sessions kept at once (about 0.8 KiB each, so about 50 MiB at most). A customer
/// whose session is evicted simply starts a new one (fresh salt) on their next record.
/// Unit tests use a capacity of 4 to exercise eviction.
pub(super) const SEALING_CAPACITY: usize = if cfg!(test) { 4 } else { 65_536 };

/// Entries of the eviction queue allowed beyond twice the open sessions before it is compacted.
pub(super) const SEALING_ORDER_SLACK: usize = 64;

/// Attempts at issuing a data key to a shared key store that keeps answering that another
/// node changed the customer's keys first; each answer is adopted, so more than a couple of
/// attempts means the store is not converging.
const KEY_ISSUE_ATTEMPTS: usize = 4;

/// Shards of the sealing state: a customer's sessions always live in one shard, so seals of
/// different customers rarely wait for each other, and a shred or rotation of a customer
/// locks only that customer's shard. Unit tests use one shard to exercise eviction.
pub(super) const SHARDS: usize = if cfg!(test) { 1 } else { 16 };

/// The sealing state of the customers of one shard.
#[derive(Default)]
pub(super) struct SealingShard {
    pub(super) sessions: HashMap<CustomerId, SealSession>,
    /// Customers in the order their sealing session started, oldest first, so that eviction
    /// ends the oldest session. May hold customers whose session already ended; those are
    /// skipped when evicting and dropped when the queue outgrows the sessions.
    pub(super) order: VecDeque<CustomerId>,
    /// Records sealed per (customer, key version) by sessions that ended (spent or evicted),
    /// so the per-version limit survives session turnover.
    pub(super) sealed_before: HashMap<(CustomerId, KeyVersion), u64>,
    /// The customer of this shard whose keys `Custody::refresh_customer` last read from a
    /// shared key store, and the store's epoch read just before: her opens skip the read
    /// while the epoch is unchanged. One per shard, so that opens alternating between
    /// customers of different shards keep theirs.
    pub(super) keys_read: Option<(CustomerId, KeyEpoch)>,
}

impl SealingShard {
    /// Ends the customer's sealing session, keeping its per-version count.
    pub(super) fn end_session(&mut self, customer: CustomerId) {
        if let Some(session) = self.sessions.remove(&customer) {
            self.sealed_before
                .insert((customer, session.version()), session.version_sealed());
        }
    }

    /// Ends the oldest sealing session still open.
    fn evict_one_session(&mut self) {
        while let Some(customer) = self.order.pop_front() {
            if self.sessions.contains_key(&customer) {
                self.end_session(customer);
                return;
            }
        }
    }

    /// Forgets everything sealed for the customer (a shred).
    pub(super) fn forget(&mut self, customer: CustomerId) {
        self.sessions.remove(&customer);
        self.sealed_before
            .retain(|(owner, _), _| *owner != customer);
    }
}

/// A record just sealed, and what redaction replaced in its body (counts per kind, never the
/// secrets): for reports such as `steward ingest`'s.
#[derive(Debug)]
pub struct Sealed {
    record: SealedRecord,
    redactions: RedactionCounts,
}

impl Sealed {
    /// The sealed record.
    #[must_use]
    pub const fn record(&self) -> &SealedRecord {
        &self.record
    }

    /// The sealed record, to store.
    #[must_use]
    pub fn into_record(self) -> SealedRecord {
        self.record
    }

    /// The secrets replaced by markers before sealing, per kind (none when redaction is off).
    #[must_use]
    pub const fn redactions(&self) -> &RedactionCounts {
        &self.redactions
    }
}

impl<S: AuditStore> Custody<S> {
    /// Seals a request body (`logs.stored`, `logs.encrypted`) under the customer's newest data
    /// key, creating their first data key if they have none (for a customer shredded before,
    /// the first key of a new generation: see [`Keyring::ensure_data_key`](crate::Keyring::ensure_data_key)).
    ///
    /// Unless the configuration says [`SecretRedaction::DangerousKeepSecrets`], the body is
    /// scanned first and every secret found is sealed as a marker
    /// (`[REDACTED:<kind>:<fingerprint>]`, fingerprint keyed by the audit key); the header
    /// says which rule set scanned it ([`RecordHeader::redaction`](crate::RecordHeader::redaction)).
    /// [`seal_counting`](Self::seal_counting) also returns what was replaced.
    ///
    /// The first record of a session draws a salt and derives the session key; later ones
    /// cost one AEAD pass, with a counter nonce.
    ///
    /// # Errors
    ///
    /// [`KeyError::DataKeyExhausted`] when the key version reached its limit;
    /// [`RecordError::TooLarge`](crate::RecordError::TooLarge) for a body over
    /// [`MAX_BODY_LEN`](crate::MAX_BODY_LEN) (after redaction); [`KeyError::Random`] if the
    /// system RNG fails; [`KeyError::StoreUnavailable`] if a new data key could not be made
    /// durable; [`ConfigError::InvalidConfig`](crate::ConfigError::InvalidConfig) if
    /// redaction is on and the scanner could not be built (nothing is sealed unscanned).
    pub fn seal(&self, meta: &SealInput, body: &[u8]) -> Result<SealedRecord, LogsError> {
        self.seal_counting(meta, body).map(Sealed::into_record)
    }

    /// As [`seal`](Self::seal), returning also how many secrets of each kind were replaced.
    ///
    /// # Errors
    ///
    /// As [`seal`](Self::seal).
    pub fn seal_counting(&self, meta: &SealInput, body: &[u8]) -> Result<Sealed, LogsError> {
        // Scanned before any lock is taken: seals of one customer wait only for the AEAD.
        match self.config.secret_redaction {
            SecretRedaction::DangerousKeepSecrets => Ok(Sealed {
                record: self.seal_body(&meta.with_redaction(Redaction::NotScanned), body)?,
                redactions: RedactionCounts::default(),
            }),
            // A scanner that does not build refuses to seal rather than seal secrets.
            SecretRedaction::Redact => {
                let scanner = Scanner::standard().map_err(|_| {
                    LogsError::Config(ConfigError::InvalidConfig {
                        reason: "the secret scanner could not be built",
                    })
                })?;
                let redacted = scanner.redact(body, &self.redaction_key);
                let meta = meta.with_redaction(Redaction::Scanned {
                    rule_set: scanner.rule_set(),
                });
                Ok(Sealed {
                    record: self.seal_body(&meta, redacted.body())?,
                    redactions: *redacted.counts(),
                })
            }
        }
    }

    fn seal_body(&self, meta: &SealInput, body: &[u8]) -> Result<SealedRecord, LogsError> {
        let customer = meta.customer();
        let limit = self.config.records_per_key_version;
        let mut shard = self.shard(customer).lock().map_err(poisoned)?;
        if let Some(session) = shard.sessions.get_mut(&customer)
            && !session.is_spent()
        {
            return session.seal(meta, body, limit);
        }
        let session = self.start_session(&mut shard, customer)?;
        let capacity = (SEALING_CAPACITY / SHARDS).max(1);
        if !shard.sessions.contains_key(&customer) && shard.sessions.len() >= capacity {
            shard.evict_one_session();
        }
        // Sessions that ended (spent, rotated, shredded) leave their customer in the queue;
        // dropping those whenever the queue doubles keeps it proportional to open sessions.
        if shard.order.len() > 2 * shard.sessions.len() + SEALING_ORDER_SLACK {
            let SealingShard {
                sessions, order, ..
            } = &mut *shard;
            order.retain(|customer| sessions.contains_key(customer));
        }
        let SealingShard {
            sessions, order, ..
        } = &mut *shard;
        let session = match sessions.entry(customer) {
            Entry::Occupied(mut slot) => {
                slot.insert(session);
                slot.into_mut()
            }
            Entry::Vacant(slot) => {
                order.push_back(customer);
                slot.insert(session)
            }
        };
        session.seal(meta, body, limit)
    }

    pub(super) fn shard(&self, customer: CustomerId) -> &Mutex<SealingShard> {
        let mut hasher = steward_core::IdHasher::default();
        customer.hash(&mut hasher);
        let shards = self.shards.len().max(1);
        // The remainder is below the shard count, a usize: the conversion cannot fail.
        let index = usize::try_from(hasher.finish() % shards as u64).unwrap_or_default();
        // INVARIANT: index < shards.len().
        #[expect(
            clippy::indexing_slicing,
            reason = "the index is reduced modulo the length"
        )]
        &self.shards[index]
    }

    /// Issues the customer's next data key, durable before it is used. On a shared store
    /// another node may have issued this version first (or shredded the customer): its keys
    /// are adopted, and the stored key is used if it is at least the version asked for.
    pub(super) fn issue_next_key(&self, customer: CustomerId) -> Result<KeyVersion, LogsError> {
        let mut keyring = self.keyring.write().map_err(poisoned)?;
        for _ in 0..KEY_ISSUE_ATTEMPTS {
            let wrapped = keyring.prepare_next_version(customer)?;
            match self
                .key_store
                .put_data_key(&wrapped)
                .map_err(|source| LogsError::Key(KeyError::StoreUnavailable { source }))?
            {
                KeyAdmission::Stored => return Ok(keyring.insert_prepared(wrapped)),
                KeyAdmission::Superseded(stored) => {
                    self.adopt(&mut keyring, customer, &stored)?;
                    if let Some(version) = keyring.current_version(customer)
                        && version >= wrapped.version()
                    {
                        return Ok(version);
                    }
                }
            }
        }
        Err(LogsError::Key(KeyError::StoreUnavailable {
            source: "the shared key store kept superseding new data keys".into(),
        }))
    }

    fn start_session(
        &self,
        shard: &mut SealingShard,
        customer: CustomerId,
    ) -> Result<SealSession, LogsError> {
        self.refresh_in_shard(shard, customer)?;
        let current = self
            .keyring
            .read()
            .map_err(poisoned)?
            .current_version(customer);
        let version = match current {
            Some(version) => version,
            // The shard is held: no other thread issues this customer's key meanwhile.
            None => self.issue_next_key(customer)?,
        };
        // The session being replaced (spent, or of an older version) hands on its count.
        shard.end_session(customer);
        let sealed = shard
            .sealed_before
            .get(&(customer, version))
            .copied()
            .unwrap_or(0);
        if sealed >= self.config.records_per_key_version {
            return Err(LogsError::Key(KeyError::DataKeyExhausted { version }));
        }
        let data_key = self
            .keyring
            .read()
            .map_err(poisoned)?
            .data_key(customer, version)?;
        SealSession::start(
            &self.rng,
            &data_key,
            self.config.algorithm,
            customer,
            version,
            self.config.records_per_session,
            sealed,
        )
    }
}
