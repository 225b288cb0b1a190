//! The JSON export of the ledger: customers in id order, each change with its receipt, both
//! instants, level, actor, channel and policy version, so that exporting the same ledger twice
//! gives the same text.

use std::{fmt, num::NonZeroU32};

use serde::Serialize;
use steward_core::{CustomerId, PolicyVersion, Timestamp};

use super::{AdminBasis, Cancelled, ConsentLedger, Entry};
use crate::{Channel, ConsentError, TrainingLevel};

/// The name and version of the export format, written into and checked in every export.
///
/// Version 2 added each change's `recorded_at` and the basis of admin changes
/// (`admin:<admin id>:<basis>`); a version 1 file has neither, so it cannot be read as if it
/// met the rules of version 2. A change cancelled before it took effect is listed in receipt
/// order with `cancelled_by`, the receipt of the change that cancelled it (absent otherwise,
/// so every file written before cancellations existed still reads).
pub const EXPORT_FORMAT: &str = "steward-consent-ledger/2";

impl ConsentLedger {
    /// Exports the whole ledger as JSON (format [`EXPORT_FORMAT`]), customers ordered by id,
    /// so exporting the same ledger twice gives the same text.
    ///
    /// # Errors
    ///
    /// [`ConsentError::ExportFailed`] if serialization fails, which only an internal
    /// inconsistency could cause.
    pub fn to_json(&self) -> Result<String, ConsentError> {
        serde_json::to_string(self).map_err(|error| ConsentError::ExportFailed {
            detail: error.to_string(),
        })
    }

    /// Writes the JSON export of [`to_json`](Self::to_json) to `writer` without building it
    /// in memory first (wrap files in a `BufWriter`).
    ///
    /// # Errors
    ///
    /// [`ConsentError::ExportFailed`] if writing fails.
    pub fn to_json_writer<W: std::io::Write>(&self, writer: W) -> Result<(), ConsentError> {
        serde_json::to_writer(writer, self).map_err(|error| ConsentError::ExportFailed {
            detail: error.to_string(),
        })
    }
}

impl Serialize for ConsentLedger {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;

        let mut customers: Vec<(&CustomerId, &Vec<Entry>)> = self.customers.iter().collect();
        customers.sort_unstable_by_key(|(customer, _)| **customer);
        let mut out = serializer.serialize_struct("ConsentLedger", 2)?;
        out.serialize_field("format", EXPORT_FORMAT)?;
        out.serialize_field(
            "customers",
            &CustomersOut {
                ledger: self,
                customers: &customers,
            },
        )?;
        out.end()
    }
}

struct CustomersOut<'a> {
    ledger: &'a ConsentLedger,
    customers: &'a [(&'a CustomerId, &'a Vec<Entry>)],
}

impl Serialize for CustomersOut<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.customers.iter().map(|(customer, entries)| {
            CustomerOut {
                customer,
                changes: ChangesOut {
                    ledger: self.ledger,
                    entries,
                    cancelled: self
                        .ledger
                        .cancelled
                        .get(*customer)
                        .map_or(&[][..], Vec::as_slice),
                },
            }
        }))
    }
}

#[derive(Serialize)]
struct CustomerOut<'a> {
    customer: &'a CustomerId,
    changes: ChangesOut<'a>,
}

struct ChangesOut<'a> {
    ledger: &'a ConsentLedger,
    entries: &'a [Entry],
    cancelled: &'a [Cancelled],
}

impl Serialize for ChangesOut<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};

        let dangling = || S::Error::custom("internal error: dangling table index");
        let mut out = serializer.serialize_seq(Some(self.entries.len() + self.cancelled.len()))?;
        // Both lists are in receipt order: merged, every change in receipt order.
        let mut cancelled = self.cancelled.iter().peekable();
        for entry in self.entries {
            while let Some(gone) = cancelled.next_if(|gone| gone.entry.receipt < entry.receipt) {
                out.serialize_element(&ChangeOut {
                    receipt: gone.entry.receipt,
                    recorded_at: gone.entry.recorded_at,
                    effective: gone.entry.effective,
                    level: gone.entry.level,
                    actor: ActorOut(self.ledger.admin(&gone.entry).ok_or_else(dangling)?),
                    channel: gone.entry.channel,
                    policy_version: self
                        .ledger
                        .policy_version(&gone.entry)
                        .ok_or_else(dangling)?,
                    cancelled_by: Some(gone.by),
                })?;
            }
            out.serialize_element(&ChangeOut {
                receipt: entry.receipt,
                recorded_at: entry.recorded_at,
                effective: entry.effective,
                level: entry.level,
                actor: ActorOut(self.ledger.admin(entry).ok_or_else(dangling)?),
                channel: entry.channel,
                policy_version: self.ledger.policy_version(entry).ok_or_else(dangling)?,
                cancelled_by: None,
            })?;
        }
        // A cancelled change always precedes the change that cancelled it.
        if cancelled.next().is_some() {
            return Err(dangling());
        }
        out.end()
    }
}

#[derive(Serialize)]
struct ChangeOut<'a> {
    receipt: NonZeroU32,
    recorded_at: Timestamp,
    effective: Timestamp,
    level: TrainingLevel,
    actor: ActorOut<'a>,
    channel: Channel,
    policy_version: &'a PolicyVersion,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancelled_by: Option<NonZeroU32>,
}

/// An actor by reference, written in the string form of [`ConsentActor`](crate::ConsentActor).
struct ActorOut<'a>(Option<&'a AdminBasis>);

impl Serialize for ActorOut<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => serializer.serialize_str("customer"),
            Some(actor) => serializer.collect_str(actor),
        }
    }
}

impl fmt::Display for AdminBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::actor::write_admin(f, &self.admin, &self.basis)
    }
}
