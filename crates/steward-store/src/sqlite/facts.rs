//! The SQLite store's fact log: one row per entry, appended under SQLite's write lock.

use rusqlite::{OptionalExtension, params};
use steward::logs::ChainHash;

use crate::{
    SqliteStore, StoreError,
    codec::{Columns, to_i64, to_u64},
    error::Doing,
    fact_log::{FactEvent, FactLog, StoredFact, entry_after},
    fact_snapshot::FactSnapshot,
    sqlite::WriteTx,
};

const FACT_LOG: &str = "fact_log";
const SNAPSHOTS: &str = "fact_snapshots";

impl FactLog for SqliteStore {
    fn entries_after(&self, after: u64) -> Result<Vec<StoredFact>, StoreError> {
        let after = to_i64(after, "a fact log position")?;
        self.read(|conn| entries_after(conn, after))
    }

    fn append(
        &self,
        applied: u64,
        next: &mut dyn FnMut(u64, Vec<StoredFact>) -> Result<Vec<StoredFact>, StoreError>,
    ) -> Result<(), StoreError> {
        // The write transaction takes SQLite's write lock at once (IMMEDIATE), so no other
        // connection, in this process or another, appends between the read and the insert.
        self.write(|tx| {
            let conn = tx.conn();
            let length: i64 = conn
                .query_row(
                    "SELECT coalesce(max(sequence), 0) FROM fact_log",
                    [],
                    |row| row.get(0),
                )
                .doing("reading the fact log's length")?;
            let missed = entries_after(conn, to_i64(applied, "a fact log position")?)?;
            let entries = next(to_u64(length, FACT_LOG, "the fact log's length")?, missed)?;
            store_entries(conn, &entries)
        })
    }

    fn recorded_length(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            let length: i64 = conn
                .query_row(
                    "SELECT coalesce(max(sequence), 0) FROM fact_log",
                    [],
                    |row| row.get(0),
                )
                .doing("reading the fact log's length")?;
            to_u64(length, FACT_LOG, "the fact log's length")
        })
    }

    fn entry_hash(&self, sequence: u64) -> Result<Option<ChainHash>, StoreError> {
        let sequence = to_i64(sequence, "a fact log position")?;
        self.read(|conn| {
            conn.query_row(
                "SELECT hash FROM fact_log WHERE sequence = ?1",
                [sequence],
                |row| row.get::<_, Vec<u8>>(0),
            )
            .optional()
            .doing("reading a fact entry's hash")?
            .map(|hash| hash_of(&hash, FACT_LOG))
            .transpose()
        })
    }

    fn latest_snapshot(&self) -> Result<Option<FactSnapshot>, StoreError> {
        // A connection of its own: reading a large snapshot does not hold up the keyring's
        // rows, which start-up reads at the same time.
        let conn = self.reader()?;
        {
            let mut statement = conn
                .prepare(
                    "SELECT sequence, head, body, mac FROM fact_snapshots \
                     ORDER BY sequence DESC LIMIT 1",
                )
                .doing("reading the fact snapshot")?;
            let mut rows = statement.query([]).doing("reading the fact snapshot")?;
            let Some(row) = rows.next().doing("reading the fact snapshot")? else {
                return Ok(None);
            };
            let columns = Columns::new(row, SNAPSHOTS);
            Ok(Some(FactSnapshot::new(
                to_u64(columns.i64(0)?, SNAPSHOTS, "a fact log position")?,
                hash_of(columns.blob(1)?, SNAPSHOTS)?,
                columns.blob(2)?.to_vec(),
                hash_of(columns.blob(3)?, SNAPSHOTS)?,
            )))
        }
    }

    fn put_snapshot(&self, snapshot: &FactSnapshot) -> Result<(), StoreError> {
        let sequence = to_i64(snapshot.sequence(), "a fact log position")?;
        self.write(|tx| {
            tx.conn()
                .execute(
                    "INSERT INTO fact_snapshots (sequence, head, body, mac) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sequence) DO NOTHING",
                    params![
                        sequence,
                        snapshot.head().as_bytes().as_slice(),
                        snapshot.body(),
                        snapshot.mac().as_bytes().as_slice()
                    ],
                )
                .doing("storing a fact snapshot")?;
            tx.conn()
                .execute("DELETE FROM fact_snapshots WHERE sequence < ?1", [sequence])
                .doing("dropping older fact snapshots")?;
            Ok(())
        })
    }
}

/// Appends `event` to the fact log in the transaction `tx` holds (SQLite's write lock, so
/// no other writer appends in between): for the store's own writes, with their effect.
pub(crate) fn append_in(tx: &WriteTx<'_>, event: &FactEvent) -> Result<(), StoreError> {
    let conn = tx.conn();
    let newest = conn
        .query_row(
            "SELECT sequence, hash FROM fact_log ORDER BY sequence DESC LIMIT 1",
            [],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)),
        )
        .optional()
        .doing("reading the fact log's newest entry")?
        .map(|(sequence, hash): (i64, Vec<u8>)| {
            Ok::<_, StoreError>((
                to_u64(sequence, FACT_LOG, "a fact log position")?,
                hash_of(&hash, FACT_LOG)?,
            ))
        })
        .transpose()?;
    let entry = entry_after(tx.fact_key(), newest, event)?;
    store_entries(conn, &[entry])
}

/// Stores `entries` in the write transaction `conn` is in.
fn store_entries(conn: &rusqlite::Connection, entries: &[StoredFact]) -> Result<(), StoreError> {
    let mut insert = conn
        .prepare_cached("INSERT INTO fact_log (sequence, event, hash) VALUES (?1, ?2, ?3)")
        .doing("storing a fact entry")?;
    for entry in entries {
        insert
            .execute(params![
                to_i64(entry.sequence(), "a fact log position")?,
                entry.event(),
                entry.hash().as_bytes().as_slice()
            ])
            .doing("storing a fact entry")?;
    }
    Ok(())
}

/// A stored 32-byte hash.
fn hash_of(bytes: &[u8], table: &'static str) -> Result<ChainHash, StoreError> {
    let hash: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::corrupt_row(table, "a hash is not 32 bytes"))?;
    Ok(ChainHash::from_bytes(hash))
}

pub(crate) fn entries_after(
    conn: &rusqlite::Connection,
    after: i64,
) -> Result<Vec<StoredFact>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT sequence, event, hash FROM fact_log WHERE sequence > ?1 ORDER BY sequence",
        )
        .doing("reading the fact log")?;
    let mut rows = statement.query([after]).doing("reading the fact log")?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next().doing("reading the fact log")? {
        let columns = Columns::new(row, FACT_LOG);
        entries.push(StoredFact::new(
            to_u64(columns.i64(0)?, FACT_LOG, "a fact log position")?,
            columns.text(1)?.to_owned(),
            hash_of(columns.blob(2)?, FACT_LOG)?,
        ));
    }
    Ok(entries)
}
