//! Streaming import of the JSON export (`from_json`, `from_json_reader` and the serde seed):
//! the ledger is built while the file is read, so an import needs little more memory than the
//! ledger itself, and every rule `record` enforces is checked on the way.
//!
//! serde's errors are text; to hand callers a typed [`ConsentError`] the visitors keep the
//! first rule violation aside in a slot and return serde a message built from it.

use std::{fmt, num::NonZeroU32};

use serde::{
    Deserialize,
    de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor},
};
use steward_core::{CustomerId, PolicyVersion, Timestamp};

use super::{
    ADMIN_LIMIT, AdminBasis, Cancelled, ConsentLedger, EXPORT_FORMAT, Entry, admin_table_full,
    level_before,
};
use crate::{Channel, ConsentActor, ConsentError, KnownPolicyVersions, TrainingLevel};

impl ConsentLedger {
    /// Imports a ledger exported by [`to_json`](Self::to_json) into a ledger that knows
    /// `known_versions`, validating everything [`record`](Self::record) guarantees. The ledger
    /// is built while the text is read, so the import needs little memory beyond the ledger
    /// itself.
    ///
    /// # Errors
    ///
    /// No ledger is built on any error.
    /// - [`ConsentError::MalformedLedger`]: not JSON of the export format, or a value that
    ///   does not parse (an unknown level or channel, an actor that is unknown or an admin
    ///   without a basis, a malformed id or instant).
    /// - [`ConsentError::UnsupportedFormat`]: another format or version.
    /// - [`ConsentError::InvalidLedger`], naming where: a policy version outside
    ///   `known_versions`, a change effective before it was recorded, changes of a customer
    ///   not strictly increasing in time or receipt number, a customer listed twice or
    ///   without changes, too many admins.
    /// - [`ConsentError::DuplicateReceipt`]: a receipt number used twice.
    /// - [`ConsentError::RecordedOutOfOrder`]: recording instants that decrease as receipt
    ///   numbers increase (the clock went backwards).
    pub fn from_json(
        text: &str,
        known_versions: KnownPolicyVersions,
    ) -> Result<Self, ConsentError> {
        Self::import(serde_json::Deserializer::from_str(text), known_versions)
    }

    /// Imports a ledger from JSON read from `reader` (wrap files in a `BufReader`), without
    /// holding the text in memory.
    ///
    /// # Errors
    ///
    /// As [`from_json`](Self::from_json); read errors are [`ConsentError::MalformedLedger`].
    pub fn from_json_reader<R: std::io::Read>(
        reader: R,
        known_versions: KnownPolicyVersions,
    ) -> Result<Self, ConsentError> {
        Self::import(
            serde_json::Deserializer::from_reader(reader),
            known_versions,
        )
    }

    /// Builds the ledger while reading; on failure returns the typed rule violation if there
    /// was one, else the parser's error.
    fn import<'de, R: serde_json::de::Read<'de>>(
        mut deserializer: serde_json::Deserializer<R>,
        known_versions: KnownPolicyVersions,
    ) -> Result<Self, ConsentError> {
        use serde::de::DeserializeSeed;

        let mut error = None;
        let result = LedgerSeed {
            known_versions,
            error: &mut error,
        }
        .deserialize(&mut deserializer)
        .and_then(|ledger| deserializer.end().map(|()| ledger));
        result.map_err(|parse_error| error.unwrap_or_else(|| malformed(parse_error)))
    }
}

/// Reads a ledger with serde from any self-describing format, validating exactly as
/// [`ConsentLedger::from_json`] does. The ledger needs its [`KnownPolicyVersions`] to check
/// the changes it reads, so it is read through this seed rather than `Deserialize`.
///
/// ```
/// use serde::de::DeserializeSeed;
/// use steward_consent::{ConsentLedger, ConsentLedgerSeed, KnownPolicyVersions};
///
/// let known = KnownPolicyVersions::new("2025-03-05".parse()?);
/// let value = serde_json::to_value(ConsentLedger::new(known.clone()))?;
/// let ledger = ConsentLedgerSeed::new(known).deserialize(value)?;
/// assert!(ledger.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConsentLedgerSeed {
    known_versions: KnownPolicyVersions,
}

impl ConsentLedgerSeed {
    /// A seed for a ledger that knows `known_versions`.
    #[must_use]
    pub const fn new(known_versions: KnownPolicyVersions) -> Self {
        Self { known_versions }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for ConsentLedgerSeed {
    type Value = ConsentLedger;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        let mut error = None;
        LedgerSeed {
            known_versions: self.known_versions,
            error: &mut error,
        }
        .deserialize(deserializer)
    }
}

fn malformed(error: serde_json::Error) -> ConsentError {
    ConsentError::MalformedLedger {
        detail: error.to_string(),
    }
}

/// Reads a whole ledger export into a ledger that knows `known_versions`. Rule violations are
/// also stored in `error`.
pub(super) struct LedgerSeed<'a> {
    pub(super) known_versions: KnownPolicyVersions,
    pub(super) error: &'a mut Option<ConsentError>,
}

impl<'de> DeserializeSeed<'de> for LedgerSeed<'_> {
    type Value = ConsentLedger;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_struct("ConsentLedger", &["format", "customers"], self)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum LedgerField {
    Format,
    Customers,
}

impl<'de> Visitor<'de> for LedgerSeed<'_> {
    type Value = ConsentLedger;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a consent ledger export")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut format_seen = false;
        let mut builder: Option<Builder> = None;
        // Moved into the ledger when the customers are read, which happens at most once.
        let mut known_versions = Some(self.known_versions);
        while let Some(field) = map.next_key::<LedgerField>()? {
            match field {
                LedgerField::Format => {
                    if format_seen {
                        return Err(de::Error::duplicate_field("format"));
                    }
                    let found: String = map.next_value()?;
                    if found != EXPORT_FORMAT {
                        return Err(fail(
                            self.error,
                            ConsentError::UnsupportedFormat {
                                found: crate::error::quote(&found),
                                expected: EXPORT_FORMAT,
                            },
                        ));
                    }
                    format_seen = true;
                }
                LedgerField::Customers => {
                    let Some(known_versions) = known_versions.take() else {
                        return Err(de::Error::duplicate_field("customers"));
                    };
                    builder = Some(map.next_value_seed(CustomersSeed {
                        known_versions,
                        error: &mut *self.error,
                    })?);
                }
            }
        }
        if !format_seen {
            return Err(de::Error::missing_field("format"));
        }
        let builder = builder.ok_or_else(|| de::Error::missing_field("customers"))?;
        builder.finish().map_err(|error| fail(self.error, error))
    }
}

/// The ledger under construction; dropped whole on any error, so it may change as it goes.
struct Builder {
    ledger: ConsentLedger,
    /// Every change's receipt and recording instant, to check across customers at the end.
    receipts: Vec<(NonZeroU32, Timestamp)>,
}

impl Builder {
    /// Checks what can only be checked across customers (unique receipts, recording instants
    /// that never decrease in receipt order), and numbers on after the last receipt.
    fn finish(mut self) -> Result<ConsentLedger, ConsentError> {
        self.receipts.sort_unstable_by_key(|&(receipt, _)| receipt);
        for pair in self.receipts.windows(2) {
            let [(previous, previous_recorded_at), (receipt, recorded_at)] = *pair else {
                continue;
            };
            if receipt == previous {
                return Err(ConsentError::DuplicateReceipt {
                    receipt: receipt.get(),
                });
            }
            if recorded_at < previous_recorded_at {
                return Err(ConsentError::RecordedOutOfOrder {
                    receipt: receipt.get(),
                    recorded_at,
                    previous: previous.get(),
                    previous_recorded_at,
                });
            }
        }
        if let Some(&(last, recorded_at)) = self.receipts.last() {
            self.ledger.next_receipt =
                last.checked_add(1).ok_or(ConsentError::ReceiptsExhausted)?;
            self.ledger.latest_recorded = Some(recorded_at);
        }
        Ok(self.ledger)
    }
}

struct CustomersSeed<'a> {
    known_versions: KnownPolicyVersions,
    error: &'a mut Option<ConsentError>,
}

impl<'de> DeserializeSeed<'de> for CustomersSeed<'_> {
    type Value = Builder;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CustomersSeed<'_> {
    type Value = Builder;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of customers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut builder = Builder {
            ledger: ConsentLedger::new(self.known_versions),
            receipts: Vec::new(),
        };
        let mut position = 0_usize;
        while seq
            .next_element_seed(CustomerSeed {
                builder: &mut builder,
                position,
                error: &mut *self.error,
            })?
            .is_some()
        {
            position = position.saturating_add(1);
        }
        Ok(builder)
    }
}

struct CustomerSeed<'a> {
    builder: &'a mut Builder,
    position: usize,
    error: &'a mut Option<ConsentError>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum CustomerField {
    Customer,
    Changes,
}

impl<'de> DeserializeSeed<'de> for CustomerSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_struct("Customer", &["customer", "changes"], self)
    }
}

impl<'de> Visitor<'de> for CustomerSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a customer with their changes")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let position = self.position;
        let mut customer: Option<CustomerId> = None;
        let mut entries: Option<(Vec<Entry>, Vec<Cancelled>)> = None;
        while let Some(field) = map.next_key::<CustomerField>()? {
            match field {
                CustomerField::Customer => {
                    if customer.is_some() {
                        return Err(de::Error::duplicate_field("customer"));
                    }
                    customer = Some(map.next_value()?);
                }
                CustomerField::Changes => {
                    if entries.is_some() {
                        return Err(de::Error::duplicate_field("changes"));
                    }
                    entries = Some(map.next_value_seed(ChangesSeed {
                        ledger: &mut self.builder.ledger,
                        position,
                        error: &mut *self.error,
                    })?);
                }
            }
        }
        let customer = customer.ok_or_else(|| de::Error::missing_field("customer"))?;
        let (entries, cancelled) = entries.ok_or_else(|| de::Error::missing_field("changes"))?;
        let at_customer = |reason| ConsentError::InvalidLedger {
            location: format!("customers[{position}]"),
            reason: Box::new(reason),
        };
        if entries.is_empty() {
            return Err(fail(self.error, at_customer(ConsentError::EmptyHistory)));
        }
        let builder = self.builder;
        if builder.ledger.customers.contains_key(&customer) {
            return Err(fail(
                self.error,
                at_customer(ConsentError::DuplicateCustomer),
            ));
        }
        builder.receipts.extend(
            entries
                .iter()
                .chain(cancelled.iter().map(|gone| &gone.entry))
                .map(|entry| (entry.receipt, entry.recorded_at)),
        );
        builder.ledger.change_count = builder
            .ledger
            .change_count
            .saturating_add(entries.len())
            .saturating_add(cancelled.len());
        builder.ledger.customers.insert(customer, entries);
        if !cancelled.is_empty() {
            builder.ledger.cancelled.insert(customer, cancelled);
        }
        Ok(())
    }
}

struct ChangesSeed<'a> {
    ledger: &'a mut ConsentLedger,
    position: usize,
    error: &'a mut Option<ConsentError>,
}

impl<'de> DeserializeSeed<'de> for ChangesSeed<'_> {
    type Value = (Vec<Entry>, Vec<Cancelled>);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ChangesSeed<'_> {
    type Value = (Vec<Entry>, Vec<Cancelled>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of changes")
    }

    /// Replays the changes in receipt order as `record` made them: a change marked cancelled
    /// stays in the history until the change that cancelled it, which must then take effect
    /// at its recording instant, before every change it cancels.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut entries: Vec<Entry> = Vec::new();
        // Beside each entry: the receipt it is marked cancelled by, if any.
        let mut marks: Vec<Option<NonZeroU32>> = Vec::new();
        let mut cancelled: Vec<Cancelled> = Vec::new();
        let mut last_receipt: Option<NonZeroU32> = None;
        let mut index = 0_usize;
        while let Some(change) = seq.next_element::<ChangeImport>()? {
            let position = self.position;
            let error = &mut *self.error;
            let mut invalid = |reason| {
                fail(
                    error,
                    ConsentError::InvalidLedger {
                        location: format!("customers[{position}].changes[{index}]"),
                        reason: Box::new(reason),
                    },
                )
            };
            if let Some(previous) = last_receipt
                && change.receipt <= previous
            {
                return Err(invalid(ConsentError::ReceiptOutOfOrder {
                    receipt: change.receipt.get(),
                    previous: previous.get(),
                }));
            }
            if let Some(by) = change.cancelled_by
                && by <= change.receipt
            {
                return Err(invalid(ConsentError::CancellationUnmatched {
                    receipt: change.receipt.get(),
                    by: by.get(),
                }));
            }
            let from = marks
                .iter()
                .position(|mark| *mark == Some(change.receipt))
                .unwrap_or(entries.len());
            let (kept, gone) = entries.split_at(from);
            let cancels_them = change.effective == change.recorded_at
                && marks
                    .iter()
                    .skip(from)
                    .all(|mark| *mark == Some(change.receipt))
                && gone.iter().all(|entry| entry.effective > change.effective)
                && kept
                    .last()
                    .is_none_or(|entry| entry.effective < change.effective);
            if let Some(first) = gone.first()
                && !cancels_them
            {
                return Err(invalid(ConsentError::CancellationUnmatched {
                    receipt: first.receipt.get(),
                    by: change.receipt.get(),
                }));
            }
            let mut previous_level = level_before(&entries, from);
            for entry in entries.drain(from..) {
                cancelled.push(Cancelled {
                    entry,
                    previous_level,
                    by: change.receipt,
                });
                previous_level = entry.level;
            }
            marks.truncate(from);
            let entry = self
                .ledger
                .import_change(&change, entries.last())
                .map_err(&mut invalid)?;
            entries.push(entry);
            marks.push(change.cancelled_by);
            last_receipt = Some(change.receipt);
            index = index.saturating_add(1);
        }
        if let Some((entry, Some(by))) = entries.iter().zip(&marks).find(|(_, mark)| mark.is_some())
        {
            return Err(fail(
                &mut *self.error,
                ConsentError::InvalidLedger {
                    location: format!("customers[{}].changes", self.position),
                    reason: Box::new(ConsentError::CancellationUnmatched {
                        receipt: entry.receipt.get(),
                        by: by.get(),
                    }),
                },
            ));
        }
        // Exactly sized, as `record` keeps short histories.
        entries.shrink_to_fit();
        Ok((entries, cancelled))
    }
}

/// One change as written in the export.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeImport {
    receipt: NonZeroU32,
    recorded_at: Timestamp,
    effective: Timestamp,
    level: TrainingLevel,
    actor: ConsentActor,
    channel: Channel,
    policy_version: PolicyVersion,
    /// The receipt of the change that cancelled it before it took effect.
    #[serde(default)]
    cancelled_by: Option<NonZeroU32>,
}

impl ConsentLedger {
    /// Validates one imported change as `record` would, against the one before it, and
    /// interns its strings. Recording order across customers is checked at the end
    /// ([`Builder::finish`]), when every receipt is known.
    fn import_change(
        &mut self,
        change: &ChangeImport,
        previous: Option<&Entry>,
    ) -> Result<Entry, ConsentError> {
        let policy = self
            .known_versions
            .index_of(&change.policy_version)
            .ok_or_else(|| ConsentError::UnknownPolicyVersion {
                version: change.policy_version.clone(),
            })?;
        if change.effective < change.recorded_at {
            return Err(ConsentError::Backdated {
                effective: change.effective,
                recorded_at: change.recorded_at,
            });
        }
        if let Some(previous) = previous {
            if change.effective <= previous.effective {
                return Err(ConsentError::NotAfterLatest {
                    effective: change.effective,
                    latest: previous.effective,
                });
            }
            if change.receipt <= previous.receipt {
                return Err(ConsentError::ReceiptOutOfOrder {
                    receipt: change.receipt.get(),
                    previous: previous.receipt.get(),
                });
            }
        }
        let actor = match AdminBasis::of(&change.actor) {
            None => 0,
            Some(admin) => self
                .admins
                .intern(&admin, ADMIN_LIMIT, "admins")
                .and_then(|index| index.checked_add(1).ok_or_else(admin_table_full))?,
        };
        Ok(Entry {
            effective: change.effective,
            recorded_at: change.recorded_at,
            receipt: change.receipt,
            actor,
            policy,
            level: change.level,
            channel: change.channel,
        })
    }
}

/// Keeps the first typed error and gives serde its message.
fn fail<E: de::Error>(slot: &mut Option<ConsentError>, error: ConsentError) -> E {
    let message = error.to_string();
    if slot.is_none() {
        *slot = Some(error);
    }
    E::custom(message)
}
