//! Snapshots of the fact log: its first entries re-encoded compactly and MAC'd once, so that
//! start-up replays them without a JSON parse and an HMAC per entry, and checks only the
//! entries after them one by one.
//!
//! The body is the log's events in order, each a tag and its fields: consent receipts and
//! relationship changes (nearly every entry of a large store) in a fixed binary layout, the
//! rare rest (holds, roster) as their JSON. Replaying the body is replaying the log, so the
//! facts a snapshot rebuilds are the facts its entries made.

use steward::{
    consent::{Channel, ConsentActor, ConsentChange, ConsentReceipt, KnownPolicyVersions},
    logs::{ChainHash, KeyVersion},
    vocabulary::TrainingLevel,
};
use steward_core::{AdminId, CustomerId, Justification, PolicyVersion, Timestamp};
use uuid::Uuid;

use crate::{StoreError, fact_log::FactEvent};

const TABLE: &str = "fact_snapshots";
/// Names the layout; a body that does not start with it is not one this build reads. Codes
/// of levels, channels and actors are positions in their declaration order (`ALL`): a
/// reordering is a new layout.
const MAGIC: &[u8] = b"steward-fact-snapshot/v1\n";
/// After the magic: how many relationship starts and consent changes the body holds (two
/// big-endian u64s), so that a load sizes its maps once.
const COUNTS_LEN: usize = 16;

const CONSENT: u8 = 1;
const RELATIONSHIP_STARTED: u8 = 2;
const RELATIONSHIP_ENDED: u8 = 3;
const OTHER: u8 = 4;
const KEY_STORED: u8 = 5;
/// A relationship start or end with its recording instant (tags 2 and 3 are those written
/// before changes carried one, and still read).
const RELATIONSHIP_STARTED_RECORDED: u8 = 6;
const RELATIONSHIP_ENDED_RECORDED: u8 = 7;
const BY_CUSTOMER: u8 = 0;
const BY_ADMIN: u8 = 1;

/// A snapshot as a store keeps it: the facts as the log's first `sequence` entries made
/// them, the newest entry's hash, and the MAC over both and the body.
#[derive(Clone, PartialEq, Eq)]
pub struct FactSnapshot {
    sequence: u64,
    head: ChainHash,
    body: Vec<u8>,
    mac: ChainHash,
}

impl FactSnapshot {
    /// A snapshot as read back from a store (unverified until its MAC is checked).
    #[must_use]
    pub const fn new(sequence: u64, head: ChainHash, body: Vec<u8>, mac: ChainHash) -> Self {
        Self {
            sequence,
            head,
            body,
            mac,
        }
    }

    /// How many entries of the log it covers.
    #[must_use]
    pub const fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The hash of the newest entry it covers.
    #[must_use]
    pub const fn head(&self) -> ChainHash {
        self.head
    }

    /// The encoded events.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The MAC over its place and body.
    #[must_use]
    pub const fn mac(&self) -> ChainHash {
        self.mac
    }

    pub(crate) fn into_body(self) -> Vec<u8> {
        self.body
    }
}

impl std::fmt::Debug for FactSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactSnapshot")
            .field("sequence", &self.sequence)
            .field("head", &self.head)
            .field("bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// A snapshot body being written: events appended in log order.
pub(crate) struct SnapshotWriter {
    body: Vec<u8>,
}

impl SnapshotWriter {
    /// A body that continues `previous` (an earlier snapshot's, already verified), or a new
    /// one.
    pub(crate) fn continuing(previous: Option<Vec<u8>>) -> Self {
        let body = previous.unwrap_or_else(|| {
            let mut body = MAGIC.to_vec();
            body.extend_from_slice(&[0; COUNTS_LEN]);
            body
        });
        Self { body }
    }

    /// Adds one to the count at `offset` in the header.
    fn count(&mut self, offset: usize) -> Result<(), StoreError> {
        let at = MAGIC.len() + offset;
        let field = self
            .body
            .get_mut(at..at + 8)
            .ok_or_else(|| corrupt("a snapshot without its counts"))?;
        let mut count = [0; 8];
        count.copy_from_slice(field);
        let count = u64::from_be_bytes(count)
            .checked_add(1)
            .ok_or(StoreError::OutOfRange {
                what: "a snapshot's counts",
            })?;
        field.copy_from_slice(&count.to_be_bytes());
        Ok(())
    }

    pub(crate) fn push(&mut self, event: &FactEvent) -> Result<(), StoreError> {
        match event {
            FactEvent::Consent { receipt } => self.consent(receipt),
            FactEvent::RelationshipStarted {
                customer,
                at,
                recorded_at,
            } => {
                self.count(0)?;
                self.relationship(
                    [RELATIONSHIP_STARTED, RELATIONSHIP_STARTED_RECORDED],
                    *customer,
                    *at,
                    *recorded_at,
                );
                Ok(())
            }
            FactEvent::RelationshipEnded {
                customer,
                at,
                recorded_at,
            } => {
                self.relationship(
                    [RELATIONSHIP_ENDED, RELATIONSHIP_ENDED_RECORDED],
                    *customer,
                    *at,
                    *recorded_at,
                );
                Ok(())
            }
            FactEvent::KeyStored { customer, version } => {
                self.body.push(KEY_STORED);
                self.customer(*customer);
                self.body.extend_from_slice(&version.get().to_be_bytes());
                Ok(())
            }
            other => {
                self.body.push(OTHER);
                let text = serde_json::to_string(other).map_err(|source| StoreError::Encode {
                    what: "a fact event",
                    source,
                })?;
                self.text(&text)
            }
        }
    }

    fn consent(&mut self, receipt: &ConsentReceipt) -> Result<(), StoreError> {
        self.count(8)?;
        self.body.push(CONSENT);
        self.body
            .extend_from_slice(&receipt.receipt.get().to_be_bytes());
        self.customer(receipt.customer);
        self.body.push(code_of(TrainingLevel::ALL, receipt.level)?);
        self.body
            .push(code_of(TrainingLevel::ALL, receipt.previous_level)?);
        self.instant(receipt.recorded_at);
        self.instant(receipt.effective);
        match &receipt.actor {
            ConsentActor::Customer => self.body.push(BY_CUSTOMER),
            ConsentActor::Admin { admin, basis } => {
                self.body.push(BY_ADMIN);
                self.text(admin.as_str())?;
                self.text(basis.as_str())?;
            }
            _ => {
                return Err(StoreError::Unsupported {
                    what: "a kind of consent actor in a snapshot",
                });
            }
        }
        self.body.push(code_of(Channel::ALL, receipt.channel)?);
        let version = receipt.policy_version.as_str();
        let len = u8::try_from(version.len()).map_err(|_| StoreError::OutOfRange {
            what: "a policy version in a snapshot",
        })?;
        self.body.push(len);
        self.body.extend_from_slice(version.as_bytes());
        Ok(())
    }

    /// A relationship start or end: the first tag without a recording instant, the second
    /// with one.
    fn relationship(
        &mut self,
        [unrecorded, recorded]: [u8; 2],
        customer: CustomerId,
        at: Timestamp,
        recorded_at: Option<Timestamp>,
    ) {
        self.body.push(if recorded_at.is_some() {
            recorded
        } else {
            unrecorded
        });
        self.customer(customer);
        self.instant(at);
        if let Some(recorded_at) = recorded_at {
            self.instant(recorded_at);
        }
    }

    fn customer(&mut self, customer: CustomerId) {
        self.body.extend_from_slice(customer.as_uuid().as_bytes());
    }

    fn instant(&mut self, at: Timestamp) {
        self.body.extend_from_slice(&at.unix_nanos().to_be_bytes());
    }

    fn text(&mut self, text: &str) -> Result<(), StoreError> {
        let len = u32::try_from(text.len()).map_err(|_| StoreError::OutOfRange {
            what: "a text in a snapshot",
        })?;
        self.body.extend_from_slice(&len.to_be_bytes());
        self.body.extend_from_slice(text.as_bytes());
        Ok(())
    }

    pub(crate) fn into_body(self) -> Vec<u8> {
        self.body
    }
}

/// One event read back from a snapshot body.
pub(crate) enum SnapshotEvent {
    /// A consent change with what its receipt said, to be replayed and compared.
    Consent {
        change: ConsentChange,
        recorded_at: Timestamp,
        receipt: u32,
        previous_level: TrainingLevel,
    },
    /// Any other event.
    Event(FactEvent),
}

/// Reads the events of a (verified) body in order.
pub(crate) struct SnapshotReader<'b> {
    rest: &'b [u8],
    known: &'b KnownPolicyVersions,
    /// The policy version the last change named, and its bytes: nearly every change names
    /// the same one, which is then neither parsed nor looked up again.
    version: Option<(&'b [u8], PolicyVersion)>,
    /// Relationship starts and consent changes in the body.
    counts: (u64, u64),
}

impl<'b> SnapshotReader<'b> {
    /// A reader of `body`, whose consent changes name versions of `known`.
    pub(crate) fn new(body: &'b [u8], known: &'b KnownPolicyVersions) -> Result<Self, StoreError> {
        let rest = body
            .strip_prefix(MAGIC)
            .ok_or_else(|| corrupt("a snapshot of a layout this build does not know"))?;
        let mut reader = Self {
            rest,
            known,
            version: None,
            counts: (0, 0),
        };
        reader.counts = (
            u64::from_be_bytes(reader.array()?),
            u64::from_be_bytes(reader.array()?),
        );
        Ok(reader)
    }

    /// How many relationship starts and consent changes the body holds.
    pub(crate) const fn counts(&self) -> (u64, u64) {
        self.counts
    }

    /// The next event, or `None` at the end.
    pub(crate) fn next_event(&mut self) -> Result<Option<SnapshotEvent>, StoreError> {
        let Some((&tag, rest)) = self.rest.split_first() else {
            return Ok(None);
        };
        self.rest = rest;
        let event = match tag {
            CONSENT => self.consent()?,
            RELATIONSHIP_STARTED => SnapshotEvent::Event(FactEvent::RelationshipStarted {
                customer: self.customer()?,
                at: self.instant()?,
                recorded_at: None,
            }),
            RELATIONSHIP_ENDED => SnapshotEvent::Event(FactEvent::RelationshipEnded {
                customer: self.customer()?,
                at: self.instant()?,
                recorded_at: None,
            }),
            RELATIONSHIP_STARTED_RECORDED => SnapshotEvent::Event(FactEvent::RelationshipStarted {
                customer: self.customer()?,
                at: self.instant()?,
                recorded_at: Some(self.instant()?),
            }),
            RELATIONSHIP_ENDED_RECORDED => SnapshotEvent::Event(FactEvent::RelationshipEnded {
                customer: self.customer()?,
                at: self.instant()?,
                recorded_at: Some(self.instant()?),
            }),
            KEY_STORED => SnapshotEvent::Event(FactEvent::KeyStored {
                customer: self.customer()?,
                version: KeyVersion::new(u32::from_be_bytes(self.array()?))
                    .map_err(|error| StoreError::corrupt(TABLE, "a key version", error))?,
            }),
            OTHER => {
                SnapshotEvent::Event(serde_json::from_str(self.text()?).map_err(|error| {
                    StoreError::corrupt(TABLE, "an event does not decode", error)
                })?)
            }
            _ => return Err(corrupt("an event of a kind this build does not know")),
        };
        Ok(Some(event))
    }

    fn consent(&mut self) -> Result<SnapshotEvent, StoreError> {
        let receipt = u32::from_be_bytes(self.array()?);
        let customer = self.customer()?;
        let level = decoded(TrainingLevel::ALL, self.byte()?)?;
        let previous_level = decoded(TrainingLevel::ALL, self.byte()?)?;
        let recorded_at = self.instant()?;
        let effective = self.instant()?;
        let actor = match self.byte()? {
            BY_CUSTOMER => ConsentActor::Customer,
            BY_ADMIN => ConsentActor::Admin {
                admin: self.parsed::<AdminId>("an admin")?,
                basis: self.parsed::<Justification>("a basis")?,
            },
            _ => return Err(corrupt("a consent actor this build does not know")),
        };
        let channel = decoded(Channel::ALL, self.byte()?)?;
        let policy_version = self.policy_version()?;
        Ok(SnapshotEvent::Consent {
            change: ConsentChange::new(customer, level, effective, actor, channel, policy_version),
            recorded_at,
            receipt,
            previous_level,
        })
    }

    fn policy_version(&mut self) -> Result<PolicyVersion, StoreError> {
        let len = usize::from(self.byte()?);
        let bytes = self.take(len)?;
        if let Some((last, version)) = &self.version
            && *last == bytes
        {
            return Ok(version.clone());
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|error| StoreError::corrupt(TABLE, "a text is not UTF-8", error))?;
        // The policy's own value, when it knows the version: cloning it is free for the
        // bundled policy's versions, where parsing would allocate.
        let version = match self.known.iter().find(|known| known.as_str() == text) {
            Some(known) => known.clone(),
            None => text
                .parse()
                .map_err(|error| StoreError::corrupt(TABLE, "a policy version", error))?,
        };
        self.version = Some((bytes, version.clone()));
        Ok(version)
    }

    fn byte(&mut self) -> Result<u8, StoreError> {
        let (&byte, rest) = self
            .rest
            .split_first()
            .ok_or_else(|| corrupt("a snapshot ends inside an event"))?;
        self.rest = rest;
        Ok(byte)
    }

    fn take(&mut self, len: usize) -> Result<&'b [u8], StoreError> {
        if self.rest.len() < len {
            return Err(corrupt("a snapshot ends inside an event"));
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        self.take(N)?
            .try_into()
            .map_err(|_| corrupt("a snapshot ends inside an event"))
    }

    fn customer(&mut self) -> Result<CustomerId, StoreError> {
        CustomerId::new(Uuid::from_bytes(self.array()?))
            .map_err(|error| StoreError::corrupt(TABLE, "a customer id", error))
    }

    fn instant(&mut self) -> Result<Timestamp, StoreError> {
        Ok(Timestamp::from_unix_nanos(i64::from_be_bytes(
            self.array()?,
        )))
    }

    fn text(&mut self) -> Result<&'b str, StoreError> {
        let len = u32::from_be_bytes(self.array()?);
        let len = usize::try_from(len).map_err(|_| corrupt("a text longer than memory"))?;
        std::str::from_utf8(self.take(len)?)
            .map_err(|error| StoreError::corrupt(TABLE, "a text is not UTF-8", error))
    }

    fn parsed<T>(&mut self, what: &'static str) -> Result<T, StoreError>
    where
        T: std::str::FromStr,
        T::Err: std::error::Error + Send + Sync + 'static,
    {
        self.text()?
            .parse()
            .map_err(|error| StoreError::corrupt(TABLE, what, error))
    }
}

/// The code of `value`: its position in `all`.
fn code_of<T: PartialEq + Copy>(all: &[T], value: T) -> Result<u8, StoreError> {
    all.iter()
        .position(|candidate| *candidate == value)
        .and_then(|position| u8::try_from(position).ok())
        .ok_or(StoreError::Unsupported {
            what: "a value without a code in a snapshot",
        })
}

/// The value whose code is `code`.
fn decoded<T: Copy>(all: &[T], code: u8) -> Result<T, StoreError> {
    all.get(usize::from(code))
        .copied()
        .ok_or_else(|| corrupt("a code this build does not know"))
}

fn corrupt(reason: &'static str) -> StoreError {
    StoreError::corrupt_row(TABLE, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADA: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10";

    fn text(event: &FactEvent) -> String {
        serde_json::to_string(event).unwrap()
    }

    #[test]
    fn relationship_entries_without_a_recording_instant_still_decode_and_reencode_alike() {
        // As builds before recording instants wrote them.
        for old in [
            format!(
                r#"{{"kind":"relationship_started","customer":"{ADA}","at":"2025-01-01T00:00:00Z"}}"#
            ),
            format!(
                r#"{{"kind":"relationship_ended","customer":"{ADA}","at":"2025-02-01T00:00:00Z"}}"#
            ),
        ] {
            let event: FactEvent = serde_json::from_str(&old).unwrap();
            assert!(matches!(
                event,
                FactEvent::RelationshipStarted {
                    recorded_at: None,
                    ..
                } | FactEvent::RelationshipEnded {
                    recorded_at: None,
                    ..
                }
            ));
            assert_eq!(text(&event), old);
        }
    }

    #[test]
    fn snapshots_keep_relationship_changes_with_and_without_their_recording_instant() {
        let customer: CustomerId = ADA.parse().unwrap();
        let at = |text: &str| text.parse::<Timestamp>().unwrap();
        let events = [
            FactEvent::RelationshipStarted {
                customer,
                at: at("2025-01-01T00:00:00Z"),
                recorded_at: None,
            },
            FactEvent::RelationshipEnded {
                customer,
                at: at("2025-02-01T00:00:00Z"),
                recorded_at: None,
            },
            FactEvent::RelationshipStarted {
                customer,
                at: at("2026-01-01T00:00:00Z"),
                recorded_at: Some(at("2026-01-01T00:00:00Z")),
            },
            FactEvent::RelationshipEnded {
                customer,
                at: at("2026-06-01T00:00:00Z"),
                recorded_at: Some(at("2026-02-01T00:00:00Z")),
            },
            FactEvent::RelationshipEndCorrected {
                customer,
                at: at("2026-07-01T00:00:00Z"),
                recorded_at: at("2026-03-01T00:00:00Z"),
            },
            FactEvent::RelationshipEndCancelled {
                customer,
                recorded_at: at("2026-04-01T00:00:00Z"),
            },
        ];
        let mut writer = SnapshotWriter::continuing(None);
        for event in &events {
            writer.push(event).unwrap();
        }
        let body = writer.into_body();
        let known = KnownPolicyVersions::new("2025-03-05".parse().unwrap());
        let mut reader = SnapshotReader::new(&body, &known).unwrap();
        assert_eq!(reader.counts(), (2, 0));
        for event in &events {
            let Some(SnapshotEvent::Event(read)) = reader.next_event().unwrap() else {
                panic!("expected {event:?}");
            };
            assert_eq!(text(&read), text(event));
        }
        assert!(reader.next_event().unwrap().is_none());
    }
}
