//! Sealed records: their bytes, and the metadata the sweep and exports select on.

use std::collections::VecDeque;

use rusqlite::{Connection, OptionalExtension, params};
use steward_core::{CustomerId, DataCategory, RecordId};
use steward_logs::{HEADER_LEN, KeyVersion, RecordHeader, SealedRecord};
use steward_retention::{RecordMeta, RecordStore, Removal};

use crate::{
    SqliteStore, StoreError, codec::Columns, error::Doing, fact_log::FactEvent, sqlite::WriteTx,
};

const RECORDS: &str = "records";
// The header scans cut at 128 bytes, written into their SQL.
const _: () = assert!(HEADER_LEN == 128);
// The scans: every statement reads `customer, created_at, id, category` first (decode_meta),
// in the order of the index `records_by_customer_time`.
const METAS_ALL_FIRST: &str = "SELECT customer, created_at, id, category FROM records \
    ORDER BY customer, created_at, id LIMIT ?1";
const METAS_ALL_NEXT: &str = "SELECT customer, created_at, id, category FROM records \
    WHERE (customer, created_at, id) > (?1, ?2, ?3) ORDER BY customer, created_at, id LIMIT ?4";
const METAS_ONE_FIRST: &str = "SELECT customer, created_at, id, category FROM records \
    WHERE customer = ?1 ORDER BY created_at, id LIMIT ?2";
const METAS_ONE_NEXT: &str = "SELECT customer, created_at, id, category FROM records \
    WHERE customer = ?1 AND (created_at, id) > (?2, ?3) ORDER BY created_at, id LIMIT ?4";
/// Every record, or one customer's, with the sealed bytes.
const SCAN_SEALED: [&str; 2] = [
    "SELECT customer, created_at, id, category, key_version, sealed FROM records \
     ORDER BY customer, created_at, id",
    "SELECT customer, created_at, id, category, key_version, sealed FROM records \
     WHERE customer = ?1 ORDER BY created_at, id",
];
/// As [`SCAN_SEALED`], with the first `HEADER_LEN` (128) bytes only.
const SCAN_HEADERS: [&str; 2] = [
    "SELECT customer, created_at, id, category, key_version, substr(sealed, 1, 128) \
     FROM records ORDER BY customer, created_at, id",
    "SELECT customer, created_at, id, category, key_version, substr(sealed, 1, 128) \
     FROM records WHERE customer = ?1 ORDER BY created_at, id",
];
/// Rows per query of [`RecordMetas`]: large enough to amortise a query, small enough that the
/// shared connection is never held for long.
const META_CHUNK: usize = 4096;

/// Which records a scan visits, always in (customer, created-at, record id) order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordScan {
    /// Every record (a sweep, a shared or open-weight training export).
    All,
    /// One customer's records (a private training export, a data export for the customer).
    Customer(CustomerId),
}

/// A record visited by [`SqliteStore::scan_records`]: its metadata and sealed bytes.
#[derive(Debug, Clone, Copy)]
pub struct StoredRecord<'a> {
    meta: RecordMeta,
    key_version: KeyVersion,
    bytes: &'a [u8],
}

impl<'a> StoredRecord<'a> {
    /// A visited record, as a scan of PostgreSQL builds it (SQLite's builds it in place).
    #[cfg(feature = "postgres")]
    pub(crate) const fn new(meta: RecordMeta, key_version: KeyVersion, bytes: &'a [u8]) -> Self {
        Self {
            meta,
            key_version,
            bytes,
        }
    }

    /// Id, customer, category and creation instant.
    #[must_use]
    pub const fn meta(&self) -> &RecordMeta {
        &self.meta
    }

    /// The data key version it was sealed under.
    #[must_use]
    pub const fn key_version(&self) -> KeyVersion {
        self.key_version
    }

    /// The bytes as sealed (for `SealedRecord::from_bytes`). With
    /// [`SqliteStore::scan_headers`], only the first `HEADER_LEN` bytes, the record header
    /// (for `RecordHeader::from_prefix`).
    #[must_use]
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl WriteTx<'_> {
    /// Stores a sealed record of `category`. Storing the same record again is harmless.
    ///
    /// # Errors
    ///
    /// [`StoreError::RecordConflict`] if a different record is stored under its id;
    /// [`StoreError::Sqlite`] if it cannot be stored.
    pub(crate) fn put_record(
        &self,
        record: &SealedRecord,
        category: DataCategory,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        let header = record.header();
        let id = header.record_id();
        let inserted = conn
            .prepare_cached(
                "INSERT INTO records (id, customer, created_at, key_version, category, sealed) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    id.as_bytes(),
                    header.customer().as_bytes(),
                    header.collected_at().unix_nanos(),
                    header.key_version().get(),
                    category.as_str(),
                    record.as_bytes()
                ])
            })
            .doing("storing a record")?;
        if inserted == 1 {
            return Ok(());
        }
        let same: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM records WHERE id = ?1 AND category = ?2 AND sealed = ?3",
                params![id.as_bytes(), category.as_str(), record.as_bytes()],
                |row| row.get(0),
            )
            .optional()
            .doing("reading a record")?;
        match same {
            Some(_) => Ok(()),
            None => Err(StoreError::RecordConflict),
        }
    }

    /// The metadata of a stored record, read in this transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if it cannot be read; [`StoreError::Corrupt`] for a row that
    /// does not decode.
    pub(crate) fn record_meta(&self, id: RecordId) -> Result<Option<RecordMeta>, StoreError> {
        let doing = "reading a record's metadata";
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT customer, created_at, id, category FROM records WHERE id = ?1")
            .doing(doing)?;
        let mut rows = stmt.query([id.as_bytes()]).doing(doing)?;
        match rows.next().doing(doing)? {
            Some(row) => decode_meta(&Columns::new(row, RECORDS)).map(Some),
            None => Ok(None),
        }
    }

    /// Deletes a record; its bytes are overwritten (`secure_delete`).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if it cannot be deleted.
    pub(crate) fn delete_record(&self, id: RecordId) -> Result<Removal, StoreError> {
        let deleted = self
            .conn()
            .prepare_cached("DELETE FROM records WHERE id = ?1")
            .and_then(|mut stmt| stmt.execute([id.as_bytes()]))
            .doing("deleting a record")?;
        Ok(if deleted == 0 {
            Removal::AlreadyAbsent
        } else {
            Removal::Removed
        })
    }
}

impl SqliteStore {
    /// Stores one sealed record in a transaction of its own: durable when it returns.
    /// Storing the same record again is harmless.
    ///
    /// Adds only: a record stored under its id is never replaced, and nothing is deleted
    /// here (deletion is the retention sweep's, through [`SweepRecords`](crate::SweepRecords)). This is the write
    /// [`GroupCommitter::put`](crate::GroupCommitter::put) makes, which a service uses; the
    /// record is sealed by the vault, and a fetch checks it against its id.
    ///
    /// # Errors
    ///
    /// [`StoreError::RecordConflict`] if a different record is stored under its id;
    /// [`StoreError::Sqlite`] if it cannot be stored.
    pub fn put_record(
        &self,
        record: &SealedRecord,
        category: DataCategory,
    ) -> Result<(), StoreError> {
        self.write(|tx| tx.put_record(record, category))
    }

    /// Stores many sealed records in one transaction (group commit: one disk sync for all of
    /// them), all or none. Returns how many were given.
    ///
    /// On the reference machine (2 vCPU, ext4 on a virtual disk), one commit of a 4 KiB
    /// record took about 190 µs, nearly all of it the sync; in batches of 100, 36 µs a
    /// record, and of 1000, 25 µs.
    ///
    /// # Errors
    ///
    /// As [`put_record`](Self::put_record), for the first record that fails; then none is
    /// stored.
    pub fn put_records<'r>(
        &self,
        records: impl IntoIterator<Item = (&'r SealedRecord, DataCategory)>,
    ) -> Result<usize, StoreError> {
        self.write(|tx| {
            let mut count = 0_usize;
            for (record, category) in records {
                tx.put_record(record, category)?;
                count = count.saturating_add(1);
            }
            Ok(count)
        })
    }

    /// The customer whose record is stored under `id`, if one is (only the row's customer
    /// column is read, never the sealed bytes).
    ///
    /// A writer that chooses its record ids itself, such as `steward ingest` for lines that
    /// carry an `id`, asks this before sealing: a record already stored is skipped, so a
    /// rerun after a crash stores nothing twice. (Storing under a taken id is refused
    /// anyway, as [`StoreError::RecordConflict`]: a new seal never has the stored bytes.)
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if the row's customer does not decode; [`StoreError::Sqlite`]
    /// if the store cannot be read.
    pub fn record_owner(&self, id: RecordId) -> Result<Option<CustomerId>, StoreError> {
        let row = self.read(|conn| {
            conn.prepare_cached("SELECT customer FROM records WHERE id = ?1")
                .and_then(|mut stmt| {
                    stmt.query_row([id.as_bytes()], |row| {
                        Ok(Columns::new(row, RECORDS).customer(0))
                    })
                    .optional()
                })
                .doing("reading a record's owner")
        })?;
        row.transpose()
    }

    /// The sealed bytes of a record, if it is stored, checked against the id asked for: the
    /// record's header must name this id and the row's customer.
    ///
    /// # Errors
    ///
    /// [`StoreError::RecordMismatch`] if the bytes stored under `id` are sealed as another
    /// record (rows edited outside this crate: nothing is served from them);
    /// [`StoreError::Corrupt`] if they hold no record header; [`StoreError::Sqlite`] if the
    /// store cannot be read.
    pub fn record(&self, id: RecordId) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self.read(|conn| {
            conn.prepare_cached("SELECT customer, sealed FROM records WHERE id = ?1")
                .and_then(|mut stmt| {
                    stmt.query_row([id.as_bytes()], |row| {
                        let columns = Columns::new(row, RECORDS);
                        Ok(columns
                            .customer(0)
                            .and_then(|customer| Ok((customer, columns.blob(1)?.to_vec()))))
                    })
                    .optional()
                })
                .doing("reading a record")
        })?;
        let Some((customer, sealed)) = row.transpose()? else {
            return Ok(None);
        };
        check_fetched(id, customer, &sealed)?;
        Ok(Some(sealed))
    }

    /// The metadata of the records `scan` selects, in (customer, created-at, record id)
    /// order: the input of a retention sweep.
    ///
    /// Read from the covering index alone (never the rows with their bytes), a chunk at a
    /// time, so memory stays bounded and writers are held up for one chunk at most. Records
    /// written during the iteration may or may not be seen; the sweep decides again at
    /// execution, so that is harmless.
    ///
    /// ```
    /// # use steward_store::{SqliteStore, StoreKeys};
    /// # let path = std::env::temp_dir().join(format!("steward-store-metas-{}.db", std::process::id()));
    /// # let store = SqliteStore::create(&path, &StoreKeys::new("k".parse()?, b"steward test key 01, not secret!", b"steward test key 02, not secret!")?)?;
    /// use steward_store::RecordScan;
    ///
    /// // Collect (stopping at the first error) before planning a sweep over the records.
    /// let records = store
    ///     .record_metas(RecordScan::All)
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// assert!(records.is_empty());
    /// # drop(store);
    /// # steward_store::remove_store_files(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn record_metas(&self, scan: RecordScan) -> RecordMetas {
        RecordMetas {
            store: self.clone(),
            scan,
            buffer: VecDeque::new(),
            last: None,
            state: State::More,
        }
    }

    /// Visits every record `scan` selects with its sealed bytes, in (customer, created-at,
    /// record id) order, and returns how many were visited.
    ///
    /// Streams: one row in memory at a time, read through a connection of its own, which
    /// sees the store as of the first row and does not hold up writers. An error from `visit`
    /// stops the scan and is returned.
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`] or [`StoreError::Sqlite`] if the store cannot be read;
    /// [`StoreError::Corrupt`] for a row that does not decode; whatever `visit` returns.
    pub fn scan_records<E: From<StoreError>>(
        &self,
        scan: RecordScan,
        visit: impl FnMut(StoredRecord<'_>) -> Result<(), E>,
    ) -> Result<u64, E> {
        self.scan(scan, &SCAN_SEALED, visit)
    }

    /// As [`scan_records`](Self::scan_records), with only the record headers (the first
    /// `HEADER_LEN` bytes): the planning pass of a training export, which decides from the
    /// headers which records it may use before anything is decrypted.
    ///
    /// # Errors
    ///
    /// As [`scan_records`](Self::scan_records).
    pub fn scan_headers<E: From<StoreError>>(
        &self,
        scan: RecordScan,
        visit: impl FnMut(StoredRecord<'_>) -> Result<(), E>,
    ) -> Result<u64, E> {
        self.scan(scan, &SCAN_HEADERS, visit)
    }

    fn scan<E: From<StoreError>>(
        &self,
        scan: RecordScan,
        sql: &[&str; 2],
        mut visit: impl FnMut(StoredRecord<'_>) -> Result<(), E>,
    ) -> Result<u64, E> {
        let doing = "scanning the records";
        let conn = self.reader()?;
        let [all, one] = sql;
        let mut stmt;
        let mut rows = match scan {
            RecordScan::All => {
                stmt = conn.prepare(all).doing(doing)?;
                stmt.query([])
            }
            RecordScan::Customer(customer) => {
                stmt = conn.prepare(one).doing(doing)?;
                stmt.query([customer.as_bytes()])
            }
        }
        .doing(doing)?;
        let mut visited = 0_u64;
        while let Some(row) = rows.next().doing(doing)? {
            let columns = Columns::new(row, RECORDS);
            let record = StoredRecord {
                meta: decode_meta(&columns)?,
                key_version: columns.key_version(4)?,
                bytes: columns.blob(5)?,
            };
            visit(record)?;
            visited = visited.saturating_add(1);
        }
        Ok(visited)
    }
}

/// The record store the retention sweep deletes from (`Sweep::execute`, which decides every
/// deletion again against the policy, relationships and holds before it makes it): see
/// [`SweepRecords`](crate::SweepRecords).
///
/// Every deletion checks the legal holds and writes a fact-log entry (`record_deleted`) in
/// its own transaction, so a held record is never deleted and the log proves which records
/// were deleted and when; it writes no audit entry. Services delete records only by running
/// the sweep (`steward sweep --execute`), with the vault's `VaultShredder` as its key
/// shredder, so that the shreds it makes are audited.
impl RecordStore for crate::SweepRecords<'_, SqliteStore> {
    type Error = StoreError;

    /// Deletes a record in a transaction of its own, unless a standing hold covers it; its
    /// bytes are overwritten (`secure_delete`).
    fn delete(&mut self, record: RecordId) -> Result<Removal, StoreError> {
        let _span = crate::observe::sweep_span();
        let holds = self.facts.holds()?;
        let removal = self.store.write(|tx| {
            let Some(meta) = tx.record_meta(record)? else {
                // Already absent: deleted before.
                return Ok(Removal::AlreadyAbsent);
            };
            if let Some(hold) = crate::sweep_records::covering_hold(holds, &meta) {
                return Err(crate::sweep_records::held(hold));
            }
            let removal = tx.delete_record(record)?;
            // The deletion's proof, with it.
            if removal == Removal::Removed {
                super::facts::append_in(tx, &FactEvent::RecordDeleted { record })?;
            }
            Ok(removal)
        });
        crate::sweep_records::observed(removal)
    }

    /// Deletes the records in one transaction (one disk sync), each as
    /// [`delete`](Self::delete) would: a record a standing hold covers is refused on its own,
    /// and the others are deleted with their fact-log entries.
    fn delete_batch(
        &mut self,
        records: &[RecordId],
    ) -> Result<Vec<Result<Removal, StoreError>>, StoreError> {
        let holds = self.facts.holds()?;
        self.store.write(|tx| {
            records
                .iter()
                .map(|record| {
                    let Some(meta) = tx.record_meta(*record)? else {
                        return Ok(Ok(Removal::AlreadyAbsent));
                    };
                    if let Some(hold) = crate::sweep_records::covering_hold(holds, &meta) {
                        return Ok(Err(crate::sweep_records::held(hold)));
                    }
                    let removal = tx.delete_record(*record)?;
                    if removal == Removal::Removed {
                        super::facts::append_in(tx, &FactEvent::RecordDeleted { record: *record })?;
                    }
                    Ok(Ok(removal))
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
    }
}

/// The metadata of stored records, a chunk at a time: see [`SqliteStore::record_metas`].
///
/// Yields `Err` once if the store cannot be read or a row does not decode, then ends.
#[derive(Debug)]
pub struct RecordMetas {
    store: SqliteStore,
    scan: RecordScan,
    buffer: VecDeque<RecordMeta>,
    /// The last record read: the next chunk starts after it.
    last: Option<RecordMeta>,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    More,
    Exhausted,
}

impl RecordMetas {
    fn fetch(&mut self) -> Result<(), StoreError> {
        let scan = self.scan;
        let last = self.last;
        let chunk = self.store.read(|conn| fetch_metas(conn, scan, last))?;
        if chunk.len() < META_CHUNK {
            self.state = State::Exhausted;
        }
        self.last = chunk.last().copied().or(self.last);
        self.buffer.extend(chunk);
        Ok(())
    }
}

impl Iterator for RecordMetas {
    type Item = Result<RecordMeta, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty()
            && self.state == State::More
            && let Err(error) = self.fetch()
        {
            self.state = State::Exhausted;
            return Some(Err(error));
        }
        self.buffer.pop_front().map(Ok)
    }
}

impl std::iter::FusedIterator for RecordMetas {}

/// The next chunk of metadata after `last` (keyset pagination over the covering index).
fn fetch_metas(
    conn: &Connection,
    scan: RecordScan,
    last: Option<RecordMeta>,
) -> Result<Vec<RecordMeta>, StoreError> {
    let doing = "reading record metadata";
    let limit = i64::try_from(META_CHUNK).unwrap_or(i64::MAX);
    let mut stmt;
    let mut rows = match (scan, last) {
        (RecordScan::All, None) => {
            stmt = conn.prepare_cached(METAS_ALL_FIRST).doing(doing)?;
            stmt.query(params![limit])
        }
        (RecordScan::All, Some(last)) => {
            stmt = conn.prepare_cached(METAS_ALL_NEXT).doing(doing)?;
            stmt.query(params![
                last.customer().as_bytes(),
                last.collected_at().unix_nanos(),
                last.id().as_bytes(),
                limit
            ])
        }
        (RecordScan::Customer(customer), None) => {
            stmt = conn.prepare_cached(METAS_ONE_FIRST).doing(doing)?;
            stmt.query(params![customer.as_bytes(), limit])
        }
        (RecordScan::Customer(customer), Some(last)) => {
            stmt = conn.prepare_cached(METAS_ONE_NEXT).doing(doing)?;
            stmt.query(params![
                customer.as_bytes(),
                last.collected_at().unix_nanos(),
                last.id().as_bytes(),
                limit
            ])
        }
    }
    .doing(doing)?;
    let mut chunk = Vec::with_capacity(META_CHUNK);
    while let Some(row) = rows.next().doing(doing)? {
        chunk.push(decode_meta(&Columns::new(row, RECORDS))?);
    }
    Ok(chunk)
}

/// Checks that `sealed`, fetched by `id` from a row of `customer`, is that record: its header
/// must name both. Each sealed record authenticates only itself, so bytes swapped between two
/// rows would otherwise open as the other record under this id.
pub(crate) fn check_fetched(
    id: RecordId,
    customer: CustomerId,
    sealed: &[u8],
) -> Result<(), StoreError> {
    let header = RecordHeader::from_prefix(sealed)
        .map_err(|error| StoreError::corrupt(RECORDS, "a sealed record has no header", error))?;
    if header.record_id() == id && header.customer() == customer {
        Ok(())
    } else {
        Err(StoreError::RecordMismatch { id })
    }
}

/// Metadata from the first four columns: `customer, created_at, id, category`.
/// (The column `created_at` holds the record's collection instant, the header's
/// `collected_at`; it keeps its first name because stored databases have it.)
fn decode_meta(columns: &Columns<'_, '_>) -> Result<RecordMeta, StoreError> {
    Ok(RecordMeta::new(
        columns.record_id(2)?,
        columns.customer(0)?,
        columns.parsed(3, "unknown data category")?,
        columns.timestamp(1)?,
    ))
}
