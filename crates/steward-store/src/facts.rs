//! The SQLite store's fact log: one row per entry, appended under SQLite's write lock.

use rusqlite::params;
use steward::logs::ChainHash;

use crate::{
    SqliteStore, StoreError,
    codec::{Columns, to_i64, to_u64},
    error::Doing,
    fact_log::{FactLog, StoredFact},
};

const FACT_LOG: &str = "fact_log";

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
            let mut insert = conn
                .prepare_cached("INSERT INTO fact_log (sequence, event, hash) VALUES (?1, ?2, ?3)")
                .doing("storing a fact entry")?;
            for entry in &entries {
                insert
                    .execute(params![
                        to_i64(entry.sequence(), "a fact log position")?,
                        entry.event(),
                        entry.hash().as_bytes().as_slice()
                    ])
                    .doing("storing a fact entry")?;
            }
            Ok(())
        })
    }
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
        let hash: [u8; 32] = columns
            .blob(2)?
            .try_into()
            .map_err(|_| StoreError::corrupt_row(FACT_LOG, "a hash is not 32 bytes"))?;
        entries.push(StoredFact::new(
            to_u64(columns.i64(0)?, FACT_LOG, "a fact log position")?,
            columns.text(1)?.to_owned(),
            ChainHash::from_bytes(hash),
        ));
    }
    Ok(entries)
}
