//! The facts `Policy::check` decides on: consent receipts, relationships, legal holds and
//! the steward roster, each change one row, written as it happens.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};
use steward_consent::{ConsentActor, ConsentReceipt};
use steward_core::{CustomerId, StewardId, Timestamp};
use steward_retention::{HoldEvent, HoldId, LegalHold, Relationship, Removal};

use crate::{
    SqliteStore, StoreError, WriteTx,
    codec::{Columns, json_text, json_value, to_i64, to_u64},
    error::Doing,
};

const CONSENT: &str = "consent_changes";
const RELATIONSHIPS: &str = "relationships";
const HOLDS: &str = "legal_holds";
const HOLD_EVENTS: &str = "hold_events";
const ROSTER: &str = "roster";

impl WriteTx<'_> {
    /// Stores a consent receipt, as `ConsentLedger::record` returned it. Storing the same
    /// receipt again is harmless.
    ///
    /// # Errors
    ///
    /// [`StoreError::ConsentReceiptRefused`] if its number is not above every stored one (a
    /// ledger that diverged from the store); [`StoreError::Unsupported`] for an actor kind
    /// this build does not know; [`StoreError::Sqlite`] if it cannot be stored.
    pub fn insert_consent_change(&self, receipt: &ConsentReceipt) -> Result<(), StoreError> {
        let conn = self.conn();
        let number = receipt.receipt.get();
        let newest: Option<u32> = conn
            .query_row("SELECT max(receipt) FROM consent_changes", [], |row| {
                row.get(0)
            })
            .doing("reading the newest consent receipt")?;
        if newest.is_some_and(|newest| number <= newest) {
            return match consent_change(conn, number)? {
                Some(stored) if stored == *receipt => Ok(()),
                Some(_) => Err(StoreError::ConsentReceiptRefused {
                    receipt: number,
                    reason: "is stored already, with other content",
                }),
                None => Err(StoreError::ConsentReceiptRefused {
                    receipt: number,
                    reason: "is not newer than the newest stored receipt",
                }),
            };
        }
        let (actor, admin, basis) = match &receipt.actor {
            ConsentActor::Customer => ("customer", None, None),
            ConsentActor::Admin { admin, basis } => {
                ("admin", Some(admin.as_str()), Some(basis.as_str()))
            }
            _ => {
                return Err(StoreError::Unsupported {
                    what: "a consent change by this kind of actor",
                });
            }
        };
        conn.prepare_cached(
            "INSERT INTO consent_changes (receipt, customer, level, previous_level, effective, \
             recorded_at, actor, admin, basis, channel, policy_version) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                number,
                receipt.customer.as_bytes(),
                receipt.level.to_string(),
                receipt.previous_level.to_string(),
                receipt.effective.unix_nanos(),
                receipt.recorded_at.unix_nanos(),
                actor,
                admin,
                basis,
                receipt.channel.to_string(),
                receipt.policy_version.as_str(),
            ])
        })
        .doing("storing a consent change")?;
        Ok(())
    }

    /// Records the start of a customer relationship at `at`.
    ///
    /// # Errors
    ///
    /// [`StoreError::RelationshipRefused`] if the customer's last relationship is still open
    /// or ended after `at`; [`StoreError::Sqlite`] if it cannot be stored.
    pub fn start_relationship(
        &self,
        customer: CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        // The newest relationship: open, or ended (at or after its start, a CHECK).
        let last: Option<Option<i64>> = conn
            .query_row(
                "SELECT ended_at FROM relationships WHERE customer = ?1 \
                 ORDER BY started_at DESC LIMIT 1",
                [customer.as_bytes()],
                |row| row.get(0),
            )
            .optional()
            .doing("reading a relationship")?;
        match last {
            Some(None) => {
                return Err(StoreError::RelationshipRefused {
                    reason: "the customer's relationship is still open",
                });
            }
            // Half-open intervals: starting at the instant the last one ended is fine.
            Some(Some(ended)) if at.unix_nanos() < ended => {
                return Err(StoreError::RelationshipRefused {
                    reason: "it would start before the customer's previous relationship ended",
                });
            }
            _ => {}
        }
        conn.execute(
            "INSERT INTO relationships (customer, started_at) VALUES (?1, ?2)",
            params![customer.as_bytes(), at.unix_nanos()],
        )
        .doing("storing a relationship")?;
        Ok(())
    }

    /// Records the end of the customer's open relationship at `at`.
    ///
    /// # Errors
    ///
    /// [`StoreError::RelationshipRefused`] if the customer has no open relationship, or it
    /// started after `at`; [`StoreError::Sqlite`] if it cannot be stored.
    pub fn end_relationship(&self, customer: CustomerId, at: Timestamp) -> Result<(), StoreError> {
        let conn = self.conn();
        let started: Option<i64> = conn
            .query_row(
                "SELECT started_at FROM relationships WHERE customer = ?1 AND ended_at IS NULL",
                [customer.as_bytes()],
                |row| row.get(0),
            )
            .optional()
            .doing("reading a relationship")?;
        let Some(started) = started else {
            return Err(StoreError::RelationshipRefused {
                reason: "the customer has no open relationship",
            });
        };
        if at.unix_nanos() < started {
            return Err(StoreError::RelationshipRefused {
                reason: "it would end before it started",
            });
        }
        conn.execute(
            "UPDATE relationships SET ended_at = ?3 WHERE customer = ?1 AND started_at = ?2",
            params![customer.as_bytes(), started, at.unix_nanos()],
        )
        .doing("ending a relationship")?;
        Ok(())
    }

    /// Records a change to the legal holds, as `HoldRegister` recorded it, and applies it to
    /// the stored state of the hold.
    ///
    /// # Errors
    ///
    /// [`StoreError::HoldEventRefused`] for a hold placed twice, or an extension or release of
    /// a hold that is unknown or released, or an extension that does not move the expiry
    /// later; [`StoreError::Unsupported`] for a kind of event this build does not know;
    /// [`StoreError::Sqlite`] if it cannot be stored.
    pub fn insert_hold_event(&self, event: &HoldEvent) -> Result<(), StoreError> {
        let conn = self.conn();
        let id = match event {
            HoldEvent::Placed { hold } => {
                place_hold(conn, hold)?;
                hold.id()
            }
            HoldEvent::Extended { id, expires_at, .. } => {
                let current = standing_expiry(conn, *id)?;
                if expires_at.unix_nanos() <= current {
                    return Err(StoreError::HoldEventRefused {
                        id: *id,
                        reason: "the extension does not move the expiry later",
                    });
                }
                conn.execute(
                    "UPDATE legal_holds SET expires_at = ?2 WHERE id = ?1",
                    params![hold_key(*id)?, expires_at.unix_nanos()],
                )
                .doing("extending a hold")?;
                *id
            }
            HoldEvent::Released { id, at, .. } => {
                standing_expiry(conn, *id)?;
                conn.execute(
                    "UPDATE legal_holds SET released_at = ?2 WHERE id = ?1",
                    params![hold_key(*id)?, at.unix_nanos()],
                )
                .doing("releasing a hold")?;
                *id
            }
            _ => {
                return Err(StoreError::Unsupported {
                    what: "a hold event of this kind",
                });
            }
        };
        conn.execute(
            "INSERT INTO hold_events (hold, at, event) VALUES (?1, ?2, ?3)",
            params![
                hold_key(id)?,
                event.at().unix_nanos(),
                json_text(event, "a hold event")?
            ],
        )
        .doing("storing a hold event")?;
        Ok(())
    }

    /// Adds a steward to the roster. Adding one who is on it already is harmless.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if it cannot be stored.
    pub fn add_steward(&self, steward: &StewardId) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO roster (steward) VALUES (?1) ON CONFLICT (steward) DO NOTHING",
                [steward.as_str()],
            )
            .doing("adding a steward")?;
        Ok(())
    }

    /// Removes a steward from the roster.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if it cannot be stored.
    pub fn remove_steward(&self, steward: &StewardId) -> Result<Removal, StoreError> {
        let removed = self
            .conn()
            .execute("DELETE FROM roster WHERE steward = ?1", [steward.as_str()])
            .doing("removing a steward")?;
        Ok(if removed == 0 {
            Removal::AlreadyAbsent
        } else {
            Removal::Removed
        })
    }
}

impl SqliteStore {
    /// Stores a consent receipt in a transaction of its own; see
    /// [`WriteTx::insert_consent_change`].
    ///
    /// # Errors
    ///
    /// As [`WriteTx::insert_consent_change`].
    pub fn insert_consent_change(&self, receipt: &ConsentReceipt) -> Result<(), StoreError> {
        self.write(|tx| tx.insert_consent_change(receipt))
    }

    /// Every consent receipt, in receipt order: replaying them with `ConsentLedger::record`
    /// (the change and its `recorded_at`) into an empty ledger rebuilds it, receipt numbers
    /// included.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the store cannot be read; [`StoreError::Corrupt`] if a row
    /// does not decode.
    pub fn consent_changes(&self) -> Result<Vec<ConsentReceipt>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {CONSENT_COLUMNS} FROM consent_changes ORDER BY receipt"
                ))
                .doing("reading the consent changes")?;
            let mut rows = stmt.query([]).doing("reading the consent changes")?;
            let mut receipts = Vec::new();
            while let Some(row) = rows.next().doing("reading the consent changes")? {
                receipts.push(decode_receipt(&Columns::new(row, CONSENT))?);
            }
            Ok(receipts)
        })
    }

    /// Records the start of a relationship in a transaction of its own; see
    /// [`WriteTx::start_relationship`].
    ///
    /// # Errors
    ///
    /// As [`WriteTx::start_relationship`].
    pub fn start_relationship(
        &self,
        customer: CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(|tx| tx.start_relationship(customer, at))
    }

    /// Records the end of a relationship in a transaction of its own; see
    /// [`WriteTx::end_relationship`].
    ///
    /// # Errors
    ///
    /// As [`WriteTx::end_relationship`].
    pub fn end_relationship(&self, customer: CustomerId, at: Timestamp) -> Result<(), StoreError> {
        self.write(|tx| tx.end_relationship(customer, at))
    }

    /// Every relationship, by customer and start: what `RelationshipBook::insert` rebuilds
    /// the book from.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the store cannot be read; [`StoreError::Corrupt`] if a row
    /// does not decode.
    pub fn relationships(&self) -> Result<Vec<Relationship>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT customer, started_at, ended_at FROM relationships \
                     ORDER BY customer, started_at",
                )
                .doing("reading the relationships")?;
            let mut rows = stmt.query([]).doing("reading the relationships")?;
            let mut relationships = Vec::new();
            while let Some(row) = rows.next().doing("reading the relationships")? {
                let columns = Columns::new(row, RELATIONSHIPS);
                let open = Relationship::start(columns.customer(0)?, columns.timestamp(1)?);
                let relationship = match columns.opt_timestamp(2)? {
                    None => open,
                    Some(ended) => open.end(ended).map_err(|error| {
                        StoreError::corrupt(RELATIONSHIPS, "ends before it starts", error)
                    })?,
                };
                relationships.push(relationship);
            }
            Ok(relationships)
        })
    }

    /// Records a hold event in a transaction of its own; see [`WriteTx::insert_hold_event`].
    ///
    /// # Errors
    ///
    /// As [`WriteTx::insert_hold_event`].
    pub fn insert_hold_event(&self, event: &HoldEvent) -> Result<(), StoreError> {
        self.write(|tx| tx.insert_hold_event(event))
    }

    /// Every hold event, in the order recorded: replaying them into an empty
    /// `HoldRegister` (`place`, `extend`, `release`) rebuilds it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the store cannot be read; [`StoreError::Corrupt`] if a row
    /// does not decode.
    pub fn hold_events(&self) -> Result<Vec<HoldEvent>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare("SELECT event FROM hold_events ORDER BY seq")
                .doing("reading the hold events")?;
            let mut rows = stmt.query([]).doing("reading the hold events")?;
            let mut events = Vec::new();
            while let Some(row) = rows.next().doing("reading the hold events")? {
                events.push(Columns::new(row, HOLD_EVENTS).json(0, "invalid hold event")?);
            }
            Ok(events)
        })
    }

    /// Every legal hold as it stands now (extensions and releases applied), by id.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the store cannot be read; [`StoreError::Corrupt`] if a row
    /// does not decode.
    pub fn legal_holds(&self) -> Result<Vec<LegalHold>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT id, scope, reason, placed_by, placed_at, expires_at, released_at \
                     FROM legal_holds ORDER BY id",
                )
                .doing("reading the legal holds")?;
            let mut rows = stmt.query([]).doing("reading the legal holds")?;
            let mut holds = Vec::new();
            while let Some(row) = rows.next().doing("reading the legal holds")? {
                holds.push(decode_hold(&Columns::new(row, HOLDS))?);
            }
            Ok(holds)
        })
    }

    /// Adds a steward in a transaction of its own; see [`WriteTx::add_steward`].
    ///
    /// # Errors
    ///
    /// As [`WriteTx::add_steward`].
    pub fn add_steward(&self, steward: &StewardId) -> Result<(), StoreError> {
        self.write(|tx| tx.add_steward(steward))
    }

    /// Removes a steward in a transaction of its own; see [`WriteTx::remove_steward`].
    ///
    /// # Errors
    ///
    /// As [`WriteTx::remove_steward`].
    pub fn remove_steward(&self, steward: &StewardId) -> Result<Removal, StoreError> {
        self.write(|tx| tx.remove_steward(steward))
    }

    /// The stewards on the roster, sorted.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the store cannot be read; [`StoreError::Corrupt`] if a row
    /// does not decode.
    pub fn roster(&self) -> Result<Vec<StewardId>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare("SELECT steward FROM roster ORDER BY steward")
                .doing("reading the roster")?;
            let mut rows = stmt.query([]).doing("reading the roster")?;
            let mut roster = Vec::new();
            while let Some(row) = rows.next().doing("reading the roster")? {
                roster.push(Columns::new(row, ROSTER).parsed(0, "invalid steward id")?);
            }
            Ok(roster)
        })
    }
}

const CONSENT_COLUMNS: &str = "receipt, customer, level, previous_level, effective, recorded_at, \
                               actor, admin, basis, channel, policy_version";

fn consent_change(conn: &Connection, receipt: u32) -> Result<Option<ConsentReceipt>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {CONSENT_COLUMNS} FROM consent_changes WHERE receipt = ?1"
        ))
        .doing("reading a consent change")?;
    let mut rows = stmt.query([receipt]).doing("reading a consent change")?;
    rows.next()
        .doing("reading a consent change")?
        .map(|row| decode_receipt(&Columns::new(row, CONSENT)))
        .transpose()
}

/// A receipt from a row of [`CONSENT_COLUMNS`].
///
/// `ConsentReceipt` is `#[non_exhaustive]` and `ReceiptId` has no public constructor, so the
/// receipt is built through its serde form, which validates every field as an import would.
fn decode_receipt(columns: &Columns<'_, '_>) -> Result<ConsentReceipt, StoreError> {
    let actor = match (columns.text(6)?, columns.opt_text(7)?, columns.opt_text(8)?) {
        ("customer", None, None) => ConsentActor::Customer,
        ("admin", Some(admin), Some(basis)) => ConsentActor::Admin {
            admin: admin
                .parse()
                .map_err(|error| StoreError::corrupt(CONSENT, "invalid admin id", error))?,
            basis: basis
                .parse()
                .map_err(|error| StoreError::corrupt(CONSENT, "invalid admin basis", error))?,
        },
        _ => return Err(StoreError::corrupt_row(CONSENT, "invalid actor")),
    };
    let value = json!({
        "receipt": columns.i64(0)?,
        "customer": columns.customer(1)?,
        "level": columns.text(2)?,
        "previous_level": columns.text(3)?,
        "effective": columns.timestamp(4)?,
        "recorded_at": columns.timestamp(5)?,
        "actor": json_value(&actor, "a consent actor")?,
        "channel": columns.text(9)?,
        "policy_version": columns.text(10)?,
    });
    serde_json::from_value(value)
        .map_err(|error| StoreError::corrupt(CONSENT, "invalid consent receipt", error))
}

/// Inserts the stored state of a newly placed hold.
fn place_hold(conn: &Connection, hold: &LegalHold) -> Result<(), StoreError> {
    let inserted = conn
        .execute(
            "INSERT INTO legal_holds \
             (id, customer, scope, reason, placed_by, placed_at, expires_at, released_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
            params![
                hold_key(hold.id())?,
                hold.scope().customer().as_bytes(),
                json_text(hold.scope(), "a hold scope")?,
                hold.reason().as_str(),
                hold.placed_by().as_str(),
                hold.placed_at().unix_nanos(),
                hold.expires_at().unix_nanos(),
                hold.released_at().map(Timestamp::unix_nanos),
            ],
        )
        .doing("placing a hold")?;
    if inserted == 0 {
        return Err(StoreError::HoldEventRefused {
            id: hold.id(),
            reason: "a hold with this id was placed before",
        });
    }
    Ok(())
}

/// The expiry of a hold that may still change: known and not released.
fn standing_expiry(conn: &Connection, id: HoldId) -> Result<i64, StoreError> {
    let row: Option<(i64, Option<i64>)> = conn
        .query_row(
            "SELECT expires_at, released_at FROM legal_holds WHERE id = ?1",
            [hold_key(id)?],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .doing("reading a hold")?;
    match row {
        None => Err(StoreError::HoldEventRefused {
            id,
            reason: "no hold with this id was placed",
        }),
        Some((_, Some(_))) => Err(StoreError::HoldEventRefused {
            id,
            reason: "the hold was released",
        }),
        Some((expires_at, None)) => Ok(expires_at),
    }
}

fn hold_key(id: HoldId) -> Result<i64, StoreError> {
    to_i64(id.get(), "a hold id")
}

/// A hold from a row of `id, scope, reason, placed_by, placed_at, expires_at, released_at`,
/// through its serde form, which checks the expiry and release as placing one does.
fn decode_hold(columns: &Columns<'_, '_>) -> Result<LegalHold, StoreError> {
    let scope: Value = columns.json(1, "invalid hold scope")?;
    let value = json!({
        "id": to_u64(columns.i64(0)?, HOLDS, "negative hold id")?,
        "scope": scope,
        "reason": columns.text(2)?,
        "placed_by": columns.text(3)?,
        "placed_at": columns.timestamp(4)?,
        "expires_at": columns.timestamp(5)?,
        "released_at": columns.opt_timestamp(6)?,
    });
    serde_json::from_value(value)
        .map_err(|error| StoreError::corrupt(HOLDS, "invalid legal hold", error))
}
