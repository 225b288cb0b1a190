//! Opening: the gate, the audit entry, then the plaintext.

use std::sync::Arc;

use steward_core::{CustomerId, Timestamp};

use super::{Custody, Plaintext, poisoned};
use crate::{
    Algorithm, KeyVersion, LogsError, OpenError, RecordHeader, SealedRecord,
    access::{AccessRequest, Denial},
    audit::{AccessEvent, AuditEvent, AuditOutcome, AuditStore, OpenFailure},
    session::SessionKeys,
};

/// Opened sessions kept for later opens; on overflow the cache is emptied and refills from
/// use. Only sessions that opened a record get in, so forged salts cannot fill it.
const OPEN_CACHE_CAPACITY: usize = 4096;

/// A derived session kept for opening, with the binding it was derived for. Indexed by the
/// session salt alone (random, so distinct per session); the binding is compared on lookup.
pub(super) struct OpenSession {
    pub(super) customer: CustomerId,
    version: KeyVersion,
    algorithm: Algorithm,
    keys: SessionKeys,
}

/// What a gate decides on: the request, the record's header as it claims itself (it is
/// authenticated only by the decryption that follows an allow), and the instant the trail
/// will date the attempt.
#[derive(Debug, Clone, Copy)]
pub struct OpenQuery<'a> {
    request: &'a AccessRequest,
    header: &'a RecordHeader,
    now: Timestamp,
}

impl<'a> OpenQuery<'a> {
    /// The steward's request.
    #[must_use]
    pub const fn request(&self) -> &'a AccessRequest {
        self.request
    }

    /// The record's header, unauthenticated until the record opens: decide on it, and a
    /// forged header still cannot yield plaintext, since it fails to authenticate.
    #[must_use]
    pub const fn header(&self) -> &'a RecordHeader {
        self.header
    }

    /// The instant of the attempt, from the trail's clock.
    #[must_use]
    pub const fn now(&self) -> Timestamp {
        self.now
    }
}

impl<S: AuditStore> Custody<S> {
    /// Opens a record for a steward if `gate` allows it (`logs.access`, `logs.purposes`).
    ///
    /// **Hazard: `gate` decides alone.** The roster, the purpose table, the justification,
    /// retention and legal holds apply only if the gate checks them; a gate that returns
    /// `Ok(())` opens anything this custody holds keys for (the audit entry is still
    /// written). Services open through `steward::Vault::open`, whose gate is the policy's
    /// `check()` over the facts; this is the building block beneath it, for that vault and
    /// for tests.
    ///
    /// In order: the trail fixes the instant; `gate` decides on the request, the record's
    /// (claimed) header and that instant; a refusal is audited and returned; an allowed
    /// record is decrypted, which authenticates its header; the outcome is audited; only then
    /// is the plaintext returned. If the audit entry cannot be written, nothing is returned
    /// (fail closed) and the decrypted bytes are zeroized. Opens serialize on the trail.
    ///
    /// # Errors
    ///
    /// [`LogsError::Open`] with [`OpenError::Denied`] and the gate's [`Denial`], or why the
    /// record did not open (shredded, unknown key version, altered);
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) if the audit entry was not
    /// written.
    pub fn dangerous_open_with_gate<G>(
        &self,
        record: &SealedRecord,
        request: &AccessRequest,
        gate: G,
    ) -> Result<Plaintext, LogsError>
    where
        G: FnOnce(&OpenQuery<'_>) -> Result<(), Denial>,
    {
        self.dangerous_open_with_gate_not_before(record, request, None, gate)
    }

    /// As [`dangerous_open_with_gate`](Self::dangerous_open_with_gate) (the same hazard), but
    /// the attempt is decided and dated no earlier than `not_before`: the newest instant the
    /// facts the gate reads were changed at, so that a clock set back cannot decide before
    /// a change already recorded.
    ///
    /// # Errors
    ///
    /// As [`dangerous_open_with_gate`](Self::dangerous_open_with_gate).
    pub fn dangerous_open_with_gate_not_before<G>(
        &self,
        record: &SealedRecord,
        request: &AccessRequest,
        not_before: Option<Timestamp>,
        gate: G,
    ) -> Result<Plaintext, LogsError>
    where
        G: FnOnce(&OpenQuery<'_>) -> Result<(), Denial>,
    {
        let header = record.header();
        let mut trail = self.trail.lock().map_err(poisoned)?;
        let next = trail.next_instant()?;
        let now = not_before.map_or(next, |floor| next.max(floor));
        let query = OpenQuery {
            request,
            header,
            now,
        };
        let access = |outcome| {
            AuditEvent::Access(AccessEvent::new(
                request.steward(),
                request.purpose(),
                request.justification(),
                header,
                outcome,
            ))
        };
        // With a shared key store, a shred or key made by another node is adopted before the
        // record is decided and decrypted (the trail, and with it a shared store's append
        // lock, is held meanwhile). An attempt whose keys could not be read is audited as
        // failed, as any other.
        if let Err(error) = self.refresh_customer(header.customer) {
            let failure = OpenFailure::from_error(&error);
            trail.append_at(now, access(AuditOutcome::Failed(failure)))?;
            return Err(error);
        }
        if let Err(denial) = gate(&query) {
            trail.append_at(now, access(AuditOutcome::Denied(denial)))?;
            return Err(LogsError::denied(denial));
        }
        match self.decrypt(record) {
            Ok(plaintext) => {
                trail.append_at(now, access(AuditOutcome::Opened))?;
                Ok(plaintext)
            }
            Err(error) => {
                let failure = OpenFailure::from_error(&error);
                trail.append_at(now, access(AuditOutcome::Failed(failure)))?;
                Err(error)
            }
        }
    }

    pub(crate) fn decrypt(&self, record: &SealedRecord) -> Result<Plaintext, LogsError> {
        let header = record.header();
        let salt = record.salt();
        let cached = self.opening.lock().map_err(poisoned)?.get(&salt).cloned();
        if let Some(session) = cached
            && session.customer == header.customer
            && session.version == header.key_version
            && session.algorithm == header.algorithm
        {
            // A shred empties the cache of the customer, but this thread may have taken the
            // session just before: the keyring has the last word, and is held while the
            // record opens, so a shred either precedes this check or waits for the open.
            let keyring = self.keyring.read().map_err(poisoned)?;
            if keyring.is_version_shredded(header.customer, header.key_version) {
                return Err(LogsError::Open(OpenError::Shredded));
            }
            return session.keys.open(record);
        }
        let data_key = {
            let keyring = self.keyring.read().map_err(poisoned)?;
            if keyring.is_version_shredded(header.customer, header.key_version) {
                return Err(LogsError::Open(OpenError::Shredded));
            }
            keyring.data_key(header.customer, header.key_version)?
        };
        let keys = SessionKeys::derive(
            &data_key,
            &salt,
            header.algorithm,
            header.customer,
            header.key_version,
        )?;
        let plaintext = keys.open(record)?;
        // A shred may have run since the key was read (an export holds no trail): the
        // keyring decides again, held while the session is cached, so a shred (which purges
        // the cache under the keyring) cannot interleave.
        let keyring = self.keyring.read().map_err(poisoned)?;
        if keyring.is_version_shredded(header.customer, header.key_version) {
            return Err(LogsError::Open(OpenError::Shredded));
        }
        let mut opening = self.opening.lock().map_err(poisoned)?;
        if opening.len() >= OPEN_CACHE_CAPACITY {
            opening.clear();
        }
        opening.insert(
            salt,
            Arc::new(OpenSession {
                customer: header.customer,
                version: header.key_version,
                algorithm: header.algorithm,
                keys,
            }),
        );
        Ok(plaintext)
    }
}
