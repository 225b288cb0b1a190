//! Sealed records on PostgreSQL, counted against their key version; the sweep's metadata
//! and the export's streams.

use std::collections::{BTreeMap, VecDeque};

use postgres::{GenericClient, Row, types::ToSql};
use steward::ExportPass;
use steward_core::{CustomerId, DataCategory, RecordId, Timestamp};
use steward_logs::{KeyError, KeyVersion, LogsError, SealedRecord, Tombstone};
use steward_retention::{RecordMeta, RecordStore, Removal};

use super::{
    PgStore, Pooled, column,
    keys::{decode_customer, tombstone},
    snapshot,
};
use crate::{
    RecordScan, RecordStream, StoreError, StoredRecord, error::Doing, fact_log::FactEvent,
    sqlite::records::check_fetched,
};

const RECORDS: &str = "records";
/// Rows per query of [`PgRecordMetas`].
const META_CHUNK: i64 = 4096;
/// Rows fetched per round trip while a scan streams.
const SCAN_FETCH: i32 = 256;

impl PgStore {
    /// Stores sealed records in one transaction. Each record's data key row is locked and
    /// its count raised: a record whose key another node shredded, or whose key version
    /// reached the configured limit, is refused, and then none of the batch is stored.
    /// Storing the same record again is harmless (and not counted twice). New records under
    /// live keys, the usual case, are stored by one statement whatever their number.
    ///
    /// # Errors
    ///
    /// [`StoreError::DataKeyShredded`] if a record's key is no longer stored (adopt the shred
    /// with `Vault::refresh_customer` and seal again); [`StoreError::Logs`] with
    /// `KeyError::DataKeyExhausted` if a key version is full (rotate it and seal again);
    /// [`StoreError::RecordConflict`] if a different record is stored under an id;
    /// [`StoreError::Postgres`] if they cannot be stored.
    pub fn put_records<'r>(
        &self,
        records: impl IntoIterator<Item = (&'r SealedRecord, DataCategory)>,
    ) -> Result<usize, StoreError> {
        let records: Vec<_> = records.into_iter().collect();
        let limit = i64::try_from(self.config().seal_config().records_per_key_version())
            .unwrap_or(i64::MAX);
        let mut client = self.client()?;
        if put_batch(&mut client, &records, limit)? {
            return Ok(records.len());
        }
        // Not every record could be stored as a new one (a key shredded or full, an id seen
        // before): record by record, to store what may be and name what may not.
        let mut tx = client.transaction().doing("starting a record write")?;
        let mut inserted_per_key: BTreeMap<(CustomerId, KeyVersion), i64> = BTreeMap::new();
        for (record, category) in &records {
            let header = record.header();
            let inserted = tx
                .execute(
                    "INSERT INTO records (id, customer, created_at, key_version, category, sealed) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                    &[
                        &header.record_id().as_bytes().as_slice(),
                        &header.customer().as_bytes().as_slice(),
                        &header.collected_at().unix_nanos(),
                        &i64::from(header.key_version().get()),
                        &category.as_str(),
                        &record.as_bytes(),
                    ],
                )
                .doing("storing a record")?;
            if inserted == 1 {
                *inserted_per_key
                    .entry((header.customer(), header.key_version()))
                    .or_default() += 1;
            } else {
                stored_already(&mut tx, record, *category)?;
            }
        }
        // In key order, so that two nodes storing records of the same customers lock their
        // key rows in one order and cannot deadlock.
        for ((customer, version), count) in inserted_per_key {
            let counted = tx
                .query_opt(
                    "UPDATE data_keys SET sealed = sealed + $3 \
                     WHERE customer = $1 AND version = $2 RETURNING sealed",
                    &[
                        &customer.as_bytes().as_slice(),
                        &i64::from(version.get()),
                        &count,
                    ],
                )
                .doing("counting records under a key")?;
            match counted {
                Some(row) if column::<i64>(&row, 0, "data_keys")? <= limit => {}
                _ => return Err(refusal(&mut tx, customer, version)?),
            }
        }
        tx.commit().doing("committing records")?;
        Ok(records.len())
    }

    /// Stores one sealed record in one statement (one round trip, committed when it
    /// returns): its key row is counted, and the record stored only if that key is still
    /// stored and below the version's limit. What [`seal_durable`](Self::seal_durable) uses.
    ///
    /// Storing the same record again is harmless, but counts it again (the count then runs
    /// ahead by one, which can only make the key rotate sooner).
    ///
    /// # Errors
    ///
    /// As [`put_records`](Self::put_records).
    pub fn put_record(
        &self,
        record: &SealedRecord,
        category: DataCategory,
    ) -> Result<(), StoreError> {
        let header = record.header();
        let limit = i64::try_from(self.config().seal_config().records_per_key_version())
            .unwrap_or(i64::MAX);
        let (customer, version) = (header.customer(), header.key_version());
        let mut client = self.client()?;
        let statement = client.prepared(PUT_RECORD)?;
        let row = client
            .query_one(
                &statement,
                &[
                    &header.record_id().as_bytes().as_slice(),
                    &customer.as_bytes().as_slice(),
                    &header.collected_at().unix_nanos(),
                    &i64::from(version.get()),
                    &category.as_str(),
                    &record.as_bytes(),
                    &limit,
                ],
            )
            .doing("storing a record")?;
        match (
            column::<i64>(&row, 0, RECORDS)?,
            column::<i64>(&row, 1, RECORDS)?,
        ) {
            (1, 1) => Ok(()),
            (0, _) => Err(refusal(&mut *client, customer, version)?),
            _ => stored_already(&mut *client, record, category),
        }
    }

    /// The customer whose record is stored under `id`, if one is, as
    /// [`SqliteStore::record_owner`](crate::SqliteStore::record_owner): how a writer that
    /// chose the id itself finds its record already stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if the row's customer does not decode; [`StoreError::Postgres`]
    /// if the store cannot be read.
    pub fn record_owner(&self, id: RecordId) -> Result<Option<CustomerId>, StoreError> {
        let mut client = self.client()?;
        let Some(row) = client
            .query_opt(
                "SELECT customer FROM records WHERE id = $1",
                &[&id.as_bytes().as_slice()],
            )
            .doing("reading a record's owner")?
        else {
            return Ok(None);
        };
        Ok(Some(decode_customer(column(&row, 0, RECORDS)?)?))
    }

    /// The sealed bytes of record `id`, if stored, checked against the id asked for as
    /// [`SqliteStore::record`](crate::SqliteStore::record) does.
    ///
    /// # Errors
    ///
    /// [`StoreError::RecordMismatch`] if the bytes stored under `id` are sealed as another
    /// record; [`StoreError::Corrupt`] if the row does not decode; [`StoreError::Postgres`] if
    /// the store cannot be read.
    pub fn record(&self, id: RecordId) -> Result<Option<Vec<u8>>, StoreError> {
        let mut client = self.client()?;
        let Some(row) = client
            .query_opt(
                "SELECT customer, sealed FROM records WHERE id = $1",
                &[&id.as_bytes().as_slice()],
            )
            .doing("reading a record")?
        else {
            return Ok(None);
        };
        let customer = decode_customer(column(&row, 0, RECORDS)?)?;
        let sealed: Vec<u8> = column(&row, 1, RECORDS)?;
        check_fetched(id, customer, &sealed)?;
        Ok(Some(sealed))
    }
}

impl PgStore {
    /// The metadata of the records `scan` selects, in (customer, created-at, record id)
    /// order, a chunk at a time (keyset pagination over the index): the input of a retention
    /// sweep, as [`SqliteStore::record_metas`](crate::SqliteStore::record_metas).
    #[must_use]
    pub fn record_metas(&self, scan: RecordScan) -> PgRecordMetas {
        PgRecordMetas {
            store: self.clone(),
            scan,
            buffer: VecDeque::new(),
            last: None,
            exhausted: false,
        }
    }

    /// Visits every record `scan` selects with its sealed bytes, in (customer, created-at,
    /// record id) order, and returns how many were visited: one read-only snapshot,
    /// streamed from the server a few hundred rows at a time.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if the store cannot be read; [`StoreError::Corrupt`] for a
    /// row that does not decode; whatever `visit` returns.
    pub fn scan_records<E: From<StoreError>>(
        &self,
        scan: RecordScan,
        visit: impl FnMut(StoredRecord<'_>) -> Result<(), E>,
    ) -> Result<u64, E> {
        self.scan(scan, "sealed", visit)
    }

    /// As [`scan_records`](Self::scan_records), with only the record headers: the planning
    /// pass of a training export.
    ///
    /// # Errors
    ///
    /// As [`scan_records`](Self::scan_records).
    pub fn scan_headers<E: From<StoreError>>(
        &self,
        scan: RecordScan,
        visit: impl FnMut(StoredRecord<'_>) -> Result<(), E>,
    ) -> Result<u64, E> {
        self.scan(scan, "substring(sealed FROM 1 FOR 128)", visit)
    }

    /// Streams the records `scan` selects for a training export, whole for
    /// [`ExportPass::Run`] and only their headers for [`ExportPass::Plan`], as
    /// [`SqliteStore::stream_records`](crate::SqliteStore::stream_records) does.
    #[must_use]
    pub fn stream_records(&self, scan: RecordScan, pass: ExportPass) -> RecordStream {
        let store = self.clone();
        RecordStream::spawn(move |forward| match pass {
            ExportPass::Plan => store.scan_headers(scan, forward),
            _ => store.scan_records(scan, forward),
        })
    }

    fn scan<E: From<StoreError>>(
        &self,
        scan: RecordScan,
        bytes: &str,
        mut visit: impl FnMut(StoredRecord<'_>) -> Result<(), E>,
    ) -> Result<u64, E> {
        const DOING: &str = "scanning the records";
        let mut client = self.client()?;
        let mut tx = snapshot(&mut client)?;
        let customer;
        let (filter, params): (&str, Vec<&(dyn ToSql + Sync)>) = match scan {
            RecordScan::Customer(owner) => {
                customer = owner.as_bytes().to_vec();
                ("WHERE customer = $1", vec![&customer])
            }
            _ => ("", Vec::new()),
        };
        let sql = format!(
            "SELECT customer, created_at, id, category, key_version, {bytes} FROM records \
             {filter} ORDER BY customer, created_at, id"
        );
        let statement = tx.prepare(&sql).doing(DOING)?;
        let portal = tx.bind(&statement, &params).doing(DOING)?;
        let mut visited = 0_u64;
        loop {
            let rows = tx.query_portal(&portal, SCAN_FETCH).doing(DOING)?;
            let fetched = rows.len();
            for row in &rows {
                let sealed: &[u8] = row.try_get(5).doing(DOING)?;
                visit(StoredRecord::new(
                    decode_meta(row)?,
                    decode_key_version(row.try_get(4).doing(DOING)?)?,
                    sealed,
                ))?;
                visited = visited.saturating_add(1);
            }
            if fetched < usize::try_from(SCAN_FETCH).unwrap_or(usize::MAX) {
                break;
            }
        }
        tx.commit().doing(DOING)?;
        Ok(visited)
    }
}

/// The record store the retention sweep deletes from (`Sweep::execute`, which decides every
/// deletion again against the policy, relationships and holds before it makes it).
///
/// Every deletion writes a fact-log entry (`record_deleted`) in its own transaction, so the
/// log proves which records were deleted and when; it writes no audit entry, and calling
/// [`delete`](RecordStore::delete) directly skips the sweep's decision (though never a
/// standing hold: see [`SweepRecords`](crate::SweepRecords)). Services delete
/// records only by running the sweep (`steward sweep --execute`), with the vault's
/// `VaultShredder` as its key shredder, so that the shreds it makes are audited.
impl RecordStore for crate::SweepRecords<'_, PgStore> {
    type Error = StoreError;

    /// Deletes a record in a transaction of its own, with its fact-log entry, unless a
    /// standing hold covers it (the row is locked while the holds are checked).
    fn delete(&mut self, record: RecordId) -> Result<Removal, StoreError> {
        let _span = crate::observe::sweep_span();
        crate::sweep_records::observed(self.delete_record(record))
    }

    /// Deletes the records in one transaction, each as [`delete`](RecordStore::delete) would (the
    /// rows locked while the holds are checked; a held record refused on its own), with a
    /// few statements for the whole batch rather than a few per record.
    fn delete_batch(
        &mut self,
        records: &[RecordId],
    ) -> Result<Vec<Result<Removal, StoreError>>, StoreError> {
        let holds = self.facts.holds()?;
        let mut client = self.store.client()?;
        let mut tx = client.transaction().doing("starting a deletion")?;
        let ids: Vec<&[u8]> = records
            .iter()
            .map(|record| record.as_bytes().as_slice())
            .collect();
        let mut present = BTreeMap::new();
        for row in tx
            .query(
                "SELECT customer, created_at, id, category FROM records WHERE id = ANY($1) \
                 FOR UPDATE",
                &[&ids],
            )
            .doing("reading records' metadata")?
        {
            let meta = decode_meta(&row)?;
            present.insert(meta.id(), meta);
        }
        let mut outcomes = Vec::with_capacity(records.len());
        let mut deleting: Vec<&[u8]> = Vec::new();
        let mut events = Vec::new();
        for record in records {
            let outcome = match present.remove(record) {
                // Absent, or named twice in the batch and deleted by its first mention.
                None => Ok(Removal::AlreadyAbsent),
                Some(meta) => match crate::sweep_records::covering_hold(holds, &meta) {
                    Some(hold) => Err(crate::sweep_records::held(hold)),
                    None => {
                        deleting.push(record.as_bytes().as_slice());
                        events.push(FactEvent::RecordDeleted { record: *record });
                        Ok(Removal::Removed)
                    }
                },
            };
            outcomes.push(outcome);
        }
        if !deleting.is_empty() {
            tx.execute("DELETE FROM records WHERE id = ANY($1)", &[&deleting])
                .doing("deleting records")?;
            super::facts::append_all_in(&mut tx, &self.store, &events)?;
        }
        tx.commit().doing("committing a deletion")?;
        Ok(outcomes)
    }
}

impl crate::SweepRecords<'_, PgStore> {
    /// [`RecordStore::delete`], unobserved.
    fn delete_record(&mut self, record: RecordId) -> Result<Removal, StoreError> {
        let holds = self.facts.holds()?;
        let mut client = self.store.client()?;
        let mut tx = client.transaction().doing("starting a deletion")?;
        let row = tx
            .query_opt(
                "SELECT customer, created_at, id, category FROM records WHERE id = $1 FOR UPDATE",
                &[&record.as_bytes().as_slice()],
            )
            .doing("reading a record's metadata")?;
        let Some(row) = row else {
            return Ok(Removal::AlreadyAbsent);
        };
        let meta = decode_meta(&row)?;
        if let Some(hold) = crate::sweep_records::covering_hold(holds, &meta) {
            return Err(crate::sweep_records::held(hold));
        }
        let deleted = tx
            .execute(
                "DELETE FROM records WHERE id = $1",
                &[&record.as_bytes().as_slice()],
            )
            .doing("deleting a record")?;
        if deleted == 0 {
            return Ok(Removal::AlreadyAbsent);
        }
        super::facts::append_in(&mut tx, &self.store, &FactEvent::RecordDeleted { record })?;
        tx.commit().doing("committing a deletion")?;
        Ok(Removal::Removed)
    }
}

/// The metadata of stored records, a chunk at a time: see [`PgStore::record_metas`].
///
/// Yields `Err` once if the store cannot be read or a row does not decode, then ends.
#[derive(Debug)]
pub struct PgRecordMetas {
    store: PgStore,
    scan: RecordScan,
    buffer: VecDeque<RecordMeta>,
    last: Option<RecordMeta>,
    exhausted: bool,
}

impl PgRecordMetas {
    fn fetch(&mut self) -> Result<(), StoreError> {
        const COLUMNS: &str = "SELECT customer, created_at, id, category FROM records";
        const DOING: &str = "reading record metadata";
        let mut client = self.store.client()?;
        let last = self.last.map(|last| {
            (
                last.customer().as_bytes().to_vec(),
                last.collected_at().unix_nanos(),
                last.id().as_bytes().to_vec(),
            )
        });
        let owner = match self.scan {
            RecordScan::Customer(customer) => Some(customer.as_bytes().to_vec()),
            _ => None,
        };
        let rows = match (&owner, &last) {
            (None, None) => client.query(
                &format!("{COLUMNS} ORDER BY customer, created_at, id LIMIT $1"),
                &[&META_CHUNK],
            ),
            (None, Some((customer, at, id))) => client.query(
                &format!(
                    "{COLUMNS} WHERE (customer, created_at, id) > ($1, $2, $3) \
                     ORDER BY customer, created_at, id LIMIT $4"
                ),
                &[customer, at, id, &META_CHUNK],
            ),
            (Some(owner), None) => client.query(
                &format!("{COLUMNS} WHERE customer = $1 ORDER BY created_at, id LIMIT $2"),
                &[owner, &META_CHUNK],
            ),
            (Some(owner), Some((_, at, id))) => client.query(
                &format!(
                    "{COLUMNS} WHERE customer = $1 AND (created_at, id) > ($2, $3) \
                     ORDER BY created_at, id LIMIT $4"
                ),
                &[owner, at, id, &META_CHUNK],
            ),
        }
        .doing(DOING)?;
        if i64::try_from(rows.len()).unwrap_or(i64::MAX) < META_CHUNK {
            self.exhausted = true;
        }
        for row in &rows {
            let meta = decode_meta(row)?;
            self.last = Some(meta);
            self.buffer.push_back(meta);
        }
        Ok(())
    }
}

impl Iterator for PgRecordMetas {
    type Item = Result<RecordMeta, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty()
            && !self.exhausted
            && let Err(error) = self.fetch()
        {
            self.exhausted = true;
            return Some(Err(error));
        }
        self.buffer.pop_front().map(Ok)
    }
}

impl std::iter::FusedIterator for PgRecordMetas {}

/// Counts a record against its key row (if the key is still stored and below `$7`) and
/// stores it if counted, in one statement; answers (counted, stored).
const PUT_RECORD: &str = "WITH counted AS (UPDATE data_keys SET sealed = sealed + 1 \
       WHERE customer = $2 AND version = $4 AND sealed < $7 RETURNING 1), \
     stored AS (INSERT INTO records (id, customer, created_at, key_version, category, sealed) \
       SELECT $1, $2, $3, $4, $5, $6 FROM counted ON CONFLICT (id) DO NOTHING RETURNING 1) \
     SELECT (SELECT count(*) FROM counted), (SELECT count(*) FROM stored)";

/// [`PUT_RECORD`] for a batch given as arrays; answers whether every key row counted its
/// records (all stored, none full) and every record was new.
const PUT_BATCH: &str = "WITH batch AS (SELECT * FROM unnest($1::bytea[], $2::bytea[], \
       $3::int8[], $4::int8[], $5::text[], $6::bytea[]) \
       AS b(id, customer, created_at, key_version, category, sealed)), \
     per_key AS (SELECT customer, key_version, count(*) AS n FROM batch \
       GROUP BY customer, key_version), \
     counted AS (UPDATE data_keys d SET sealed = d.sealed + k.n FROM per_key k \
       WHERE d.customer = k.customer AND d.version = k.key_version \
       AND d.sealed + k.n <= $7 RETURNING d.customer, d.version), \
     stored AS (INSERT INTO records (id, customer, created_at, key_version, category, sealed) \
       SELECT b.id, b.customer, b.created_at, b.key_version, b.category, b.sealed \
       FROM batch b JOIN counted c ON c.customer = b.customer AND c.version = b.key_version \
       ON CONFLICT (id) DO NOTHING RETURNING 1) \
     SELECT (SELECT count(*) FROM per_key) = (SELECT count(*) FROM counted) \
       AND (SELECT count(*) FROM stored) = (SELECT count(*) FROM batch)";

/// Stores `records` as new records in one transaction of three round trips, whatever their
/// number: one statement counts them against their key rows and inserts them. Commits and
/// returns `true` only if every key row was there and below the limit and every record was
/// new; otherwise rolls back and returns `false`, for the caller to go record by record.
fn put_batch(
    client: &mut Pooled<'_>,
    records: &[(&SealedRecord, DataCategory)],
    limit: i64,
) -> Result<bool, StoreError> {
    const DOING: &str = "storing records";
    let mut columns = BatchColumns::default();
    for (record, category) in records {
        let header = record.header();
        columns.ids.push(header.record_id().as_bytes().to_vec());
        columns
            .customers
            .push(header.customer().as_bytes().to_vec());
        columns.created.push(header.collected_at().unix_nanos());
        columns.versions.push(i64::from(header.key_version().get()));
        columns.categories.push(category.as_str());
        columns.sealed.push(record.as_bytes());
    }
    let statement = client.prepared(PUT_BATCH)?;
    let mut tx = client.transaction().doing(DOING)?;
    let row = tx
        .query_one(
            &statement,
            &[
                &columns.ids,
                &columns.customers,
                &columns.created,
                &columns.versions,
                &columns.categories,
                &columns.sealed,
                &limit,
            ],
        )
        .doing(DOING)?;
    let clean: bool = row.try_get(0).doing(DOING)?;
    if clean {
        tx.commit().doing(DOING)?;
    } else {
        tx.rollback().doing(DOING)?;
    }
    Ok(clean)
}

/// The columns of a batch of records, as arrays for `unnest`.
#[derive(Default)]
struct BatchColumns<'r> {
    ids: Vec<Vec<u8>>,
    customers: Vec<Vec<u8>>,
    created: Vec<i64>,
    versions: Vec<i64>,
    categories: Vec<&'r str>,
    sealed: Vec<&'r [u8]>,
}

/// Checks that the record stored under `record`'s id is this one (storing it again is
/// harmless), not another.
fn stored_already(
    client: &mut impl GenericClient,
    record: &SealedRecord,
    category: DataCategory,
) -> Result<(), StoreError> {
    client
        .query_opt(
            "SELECT 1 FROM records WHERE id = $1 AND category = $2 AND sealed = $3",
            &[
                &record.header().record_id().as_bytes().as_slice(),
                &category.as_str(),
                &record.as_bytes(),
            ],
        )
        .doing("comparing a stored record")?
        .map(drop)
        .ok_or(StoreError::RecordConflict)
}

/// Why a record under `version` of `customer`'s key was not counted: the version is full, or
/// its key is no longer stored (shredded, by this node or another).
fn refusal(
    client: &mut impl GenericClient,
    owner: CustomerId,
    version: KeyVersion,
) -> Result<StoreError, StoreError> {
    let customer = owner.as_bytes().as_slice();
    let stored = client
        .query_opt(
            "SELECT 1 FROM data_keys WHERE customer = $1 AND version = $2",
            &[&customer, &i64::from(version.get())],
        )
        .doing("reading a data key")?;
    if stored.is_some() {
        return Ok(StoreError::Logs(LogsError::Key(
            KeyError::DataKeyExhausted { version },
        )));
    }
    let tombstone = tombstone(client, owner)?.unwrap_or(Tombstone::new(None));
    Ok(StoreError::DataKeyShredded { version, tombstone })
}

/// Metadata from the first four columns: `customer, created_at, id, category`.
/// (The column `created_at` holds the record's collection instant, the header's
/// `collected_at`; it keeps its first name because stored databases have it.)
fn decode_meta(row: &Row) -> Result<RecordMeta, StoreError> {
    const DOING: &str = "decoding record metadata";
    let customer = decode_customer(row.try_get(0).doing(DOING)?)?;
    let collected_at = Timestamp::from_unix_nanos(row.try_get(1).doing(DOING)?);
    let id: Vec<u8> = row.try_get(2).doing(DOING)?;
    let id = <[u8; 16]>::try_from(id.as_slice())
        .map_err(|_| StoreError::corrupt_row(RECORDS, "a record id is not 16 bytes"))
        .and_then(|bytes| {
            RecordId::new(uuid::Uuid::from_bytes(bytes))
                .map_err(|error| StoreError::corrupt(RECORDS, "invalid record id", error))
        })?;
    let category: &str = row.try_get(3).doing(DOING)?;
    let category: DataCategory = category
        .parse()
        .map_err(|error| StoreError::corrupt(RECORDS, "unknown data category", error))?;
    Ok(RecordMeta::new(id, customer, category, collected_at))
}

fn decode_key_version(version: i64) -> Result<KeyVersion, StoreError> {
    u32::try_from(version)
        .ok()
        .and_then(|version| KeyVersion::new(version).ok())
        .ok_or(StoreError::corrupt_row(RECORDS, "key version out of range"))
}
