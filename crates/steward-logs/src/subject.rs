//! Data subject requests (`law.access`, `law.erasure`): the audited decryption of one
//! customer's records for a copy of their data, and the trail entries of both rights.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};
use steward_core::{AdminId, ClauseId, CustomerId, RequestReference, Timestamp};

use crate::{
    AuditEntry, AuditStore, Custody, LogsError, Plaintext, RecordDigest, RecordDigester,
    SealedRecord, audit::AuditEvent,
};

/// A data subject's request as received: whose data, under which reference (the ticket or
/// case number), and who verified that the requester is that customer. Every entry of the
/// request in the audit trail names all three.
///
/// ```
/// use steward_logs::SubjectRequest;
///
/// let request = SubjectRequest::new(
///     "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?,
///     "DSR-2026-0042".parse()?,
///     "dana.privacy".parse()?,
/// );
/// assert_eq!(request.reference().as_str(), "DSR-2026-0042");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectRequest {
    customer: CustomerId,
    reference: RequestReference,
    verified_by: AdminId,
}

impl SubjectRequest {
    /// The request of `customer`, received under `reference`, the requester's identity
    /// verified by `verified_by`.
    #[must_use]
    pub const fn new(
        customer: CustomerId,
        reference: RequestReference,
        verified_by: AdminId,
    ) -> Self {
        Self {
            customer,
            reference,
            verified_by,
        }
    }

    /// Whose data.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// The request's ticket or case number.
    #[must_use]
    pub const fn reference(&self) -> &RequestReference {
        &self.reference
    }

    /// Who verified the requester's identity.
    #[must_use]
    pub const fn verified_by(&self) -> &AdminId {
        &self.verified_by
    }
}

/// Which right a data subject exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SubjectRight {
    /// A copy of their data, machine-readable (GDPR Art. 15, 20): `law.access`.
    Access,
    /// Erasure of their data (GDPR Art. 17): `law.erasure`.
    Erasure,
}

impl SubjectRight {
    /// The clause the right stands on.
    #[must_use]
    pub const fn clause(self) -> ClauseId {
        match self {
            Self::Access => ClauseId::LawAccess,
            Self::Erasure => ClauseId::LawErasure,
        }
    }

    /// Its name in reports: `access` or `erasure`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Erasure => "erasure",
        }
    }
}

impl fmt::Display for SubjectRight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a data subject request stood when the trail recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub enum SubjectStage {
    /// The request is being acted on: written before any record is decrypted (access) or
    /// anything is deleted or shredded (erasure).
    Started,
    /// An access request's copy is complete.
    Exported {
        /// Records decrypted into the copy.
        records: u64,
        /// Records of the customer that did not open (shredded or altered), left out.
        unreadable: u64,
        /// The digest of the decrypted records' ids, in the order given.
        digest: RecordDigest,
    },
    /// An erasure waits: legal holds of the customer stand (their ids), so nothing was
    /// deleted. The request stays pending until it is repeated after their release.
    Held {
        /// The standing holds, by id.
        holds: Vec<u64>,
    },
    /// An erasure is done: the customer's keys are shredded and their records deleted.
    Erased {
        /// Records deleted by this erasure.
        records: u64,
    },
    /// An erasure found nothing left to erase: the keys were shredded and the records
    /// deleted before.
    AlreadyErased,
}

impl fmt::Display for SubjectStage {
    /// A few words for tables: `started`, `exported 12 records (0 unreadable)`,
    /// `held by hold-3, hold-4: pending`, `erased 12 records`, `already erased`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Started => f.write_str("started"),
            Self::Exported {
                records,
                unreadable,
                ..
            } => write!(f, "exported {records} records ({unreadable} unreadable)"),
            Self::Held { holds } => {
                f.write_str("held by ")?;
                for (index, hold) in holds.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "hold-{hold}")?;
                }
                f.write_str(": pending")
            }
            Self::Erased { records } => write!(f, "erased {records} records"),
            Self::AlreadyErased => f.write_str("already erased"),
        }
    }
}

/// The right to decrypt one customer's records for an access request, given once its
/// [`SubjectStage::Started`] entry is in the trail. Not `Clone`: one request, one grant.
pub struct SubjectGrant {
    request: SubjectRequest,
    digest: RecordDigester,
    records: u64,
    unreadable: u64,
}

impl SubjectGrant {
    /// The request the grant was given for.
    #[must_use]
    pub const fn request(&self) -> &SubjectRequest {
        &self.request
    }

    /// Counts a record of the customer that is too damaged to reach
    /// [`Custody::open_for_subject`] (it does not parse as a record, though its header names
    /// them): the copy's outcome says how many of theirs it could not include.
    pub const fn skip_unreadable(&mut self) {
        self.unreadable = self.unreadable.saturating_add(1);
    }
}

impl fmt::Debug for SubjectGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectGrant")
            .field("customer", &self.request.customer)
            .field("records", &self.records)
            .field("unreadable", &self.unreadable)
            .finish_non_exhaustive()
    }
}

/// How an access request's copy ended, as [`Custody::finish_subject_access`] wrote it to the
/// trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectAccessOutcome {
    /// The request.
    pub request: SubjectRequest,
    /// Records decrypted into the copy.
    pub records: u64,
    /// Records of the customer that did not open (shredded or altered).
    pub unreadable: u64,
    /// The digest of the decrypted records' ids.
    pub digest: RecordDigest,
}

impl<S: AuditStore> Custody<S> {
    /// Writes the start of an access request to the trail (`law.access`) and grants the
    /// decryption of the requesting customer's records, and of no one else's: no plaintext
    /// exists before the entry does.
    ///
    /// # Errors
    ///
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) if the entry could not be
    /// written (no grant then).
    pub fn begin_subject_access(&self, request: SubjectRequest) -> Result<SubjectGrant, LogsError> {
        self.audit_subject_request(SubjectRight::Access, &request, SubjectStage::Started)?;
        Ok(SubjectGrant {
            request,
            digest: RecordDigester::new(),
            records: 0,
            unreadable: 0,
        })
    }

    /// Decrypts `record` under `grant`, as stored (its body redacted as it was at sealing):
    /// only a record of the grant's customer, by its authenticated header. The grant counts
    /// and digests it; a record of theirs that does not open (shredded, altered) is counted
    /// as unreadable.
    ///
    /// # Errors
    ///
    /// [`OpenError::Denied`](crate::OpenError::Denied) citing `law.access` for another customer's record (never
    /// decrypted, not counted); as [`Custody::dangerous_open_with_gate`] for a record that does not open.
    pub fn open_for_subject(
        &self,
        grant: &mut SubjectGrant,
        record: &SealedRecord,
    ) -> Result<Plaintext, LogsError> {
        let customer = grant.request.customer;
        if record.header().customer() != customer {
            return Err(other_customer());
        }
        // On a shared store, a shred made by another node holds here too.
        self.refresh_customer(customer)?;
        match self.decrypt(record) {
            Ok(plaintext) if plaintext.header().customer() == customer => {
                grant.records = grant.records.saturating_add(1);
                grant.digest.add(plaintext.header().record_id());
                Ok(plaintext)
            }
            Ok(_) => Err(other_customer()),
            Err(error) => {
                grant.unreadable = grant.unreadable.saturating_add(1);
                Err(error)
            }
        }
    }

    /// Writes the end of an access request to the trail: how many records the copy holds,
    /// how many did not open, and the digest of the ids.
    ///
    /// # Errors
    ///
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) if the entry could not be
    /// written.
    pub fn finish_subject_access(
        &self,
        grant: SubjectGrant,
    ) -> Result<SubjectAccessOutcome, LogsError> {
        let SubjectGrant {
            request,
            digest,
            records,
            unreadable,
        } = grant;
        let digest = digest.finish();
        self.audit_subject_request(
            SubjectRight::Access,
            &request,
            SubjectStage::Exported {
                records,
                unreadable,
                digest,
            },
        )?;
        Ok(SubjectAccessOutcome {
            request,
            records,
            unreadable,
            digest,
        })
    }

    /// Writes one stage of a data subject request to the trail; an erasure writes
    /// [`SubjectStage::Started`] before it deletes or shreds anything.
    ///
    /// # Errors
    ///
    /// [`AuditError::Unavailable`](crate::AuditError::Unavailable) if the entry could not be
    /// written.
    pub fn audit_subject_request(
        &self,
        right: SubjectRight,
        request: &SubjectRequest,
        stage: SubjectStage,
    ) -> Result<(), LogsError> {
        self.audit()?.append(AuditEvent::SubjectRequest {
            right,
            request: request.clone(),
            stage,
        })?;
        Ok(())
    }
}

/// An erasure a legal hold keeps waiting: its newest [`SubjectStage::Held`] entry, with no
/// completed erasure of the customer after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingErasure {
    /// When the trail recorded it held.
    pub at: Timestamp,
    /// The request.
    pub request: SubjectRequest,
    /// The holds that stood then, by id.
    pub holds: Vec<u64>,
}

/// The erasures still pending in `entries` (a verified trail, oldest first), one per
/// customer, ordered by customer: a request held by a legal hold is pending until an erasure
/// of that customer completes ([`SubjectStage::Erased`] or [`SubjectStage::AlreadyErased`]).
///
/// ```
/// use steward_logs::{AuditKey, AuditStore, AuditTrail, MemoryAuditStore, pending_erasures};
///
/// let trail = AuditTrail::new(
///     AuditKey::from_bytes(b"steward test key 09, not secret!")?,
///     MemoryAuditStore::new(),
/// )?;
/// let entries = trail.store().entries().map_err(|error| error.to_string())?;
/// assert!(pending_erasures(entries.iter().map(|chained| chained.entry())).is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pending_erasures<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
) -> Vec<PendingErasure> {
    let mut pending = BTreeMap::<CustomerId, PendingErasure>::new();
    for entry in entries {
        let AuditEvent::SubjectRequest {
            right: SubjectRight::Erasure,
            request,
            stage,
        } = entry.event()
        else {
            continue;
        };
        match stage {
            SubjectStage::Held { holds } => {
                pending.insert(
                    request.customer(),
                    PendingErasure {
                        at: entry.at(),
                        request: request.clone(),
                        holds: holds.clone(),
                    },
                );
            }
            SubjectStage::Erased { .. } | SubjectStage::AlreadyErased => {
                pending.remove(&request.customer());
            }
            _ => {}
        }
    }
    pending.into_values().collect()
}

/// The refusal of a record that is not the requesting customer's.
fn other_customer() -> LogsError {
    LogsError::denied(crate::Denial::Refused {
        clause: ClauseId::LawAccess,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: i64, stage: SubjectStage, customer: u128) -> AuditEntry {
        let request = SubjectRequest::new(
            CustomerId::new(uuid::Uuid::from_u128(customer)).unwrap(),
            "DSR-1".parse().unwrap(),
            "dana.privacy".parse().unwrap(),
        );
        AuditEntry::new(
            Timestamp::from_unix_nanos(at),
            AuditEvent::SubjectRequest {
                right: SubjectRight::Erasure,
                request,
                stage,
            },
        )
    }

    #[test]
    fn an_erasure_is_pending_from_its_hold_until_one_completes() {
        let held = entry(1, SubjectStage::Held { holds: vec![3] }, 1);
        let other = entry(2, SubjectStage::Held { holds: vec![5] }, 2);
        let pending = pending_erasures([&held, &other]);
        assert_eq!(pending.len(), 2);
        assert_eq!(pending.first().unwrap().holds, [3]);
        let done = entry(3, SubjectStage::Erased { records: 4 }, 1);
        let pending = pending_erasures([&held, &other, &done]);
        assert_eq!(pending.len(), 1);
        assert_eq!(pending.first().unwrap().holds, [5]);
        // A start alone completes nothing.
        let started = entry(4, SubjectStage::Started, 2);
        assert_eq!(pending_erasures([&held, &other, &done, &started]).len(), 1);
        let again = entry(5, SubjectStage::AlreadyErased, 2);
        assert!(pending_erasures([&held, &other, &done, &started, &again]).is_empty());
    }
}
