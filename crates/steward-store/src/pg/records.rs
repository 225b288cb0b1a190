//! Sealed records on PostgreSQL, counted against their key version.

use std::collections::BTreeMap;

use steward_core::{CustomerId, DataCategory, RecordId};
use steward_logs::{KeyError, KeyVersion, LogsError, SealedRecord, Tombstone};

use super::{PgStore, keys::decode_tombstone};
use crate::{StoreError, error::Doing};

impl PgStore {
    /// Stores sealed records in one transaction. Each record's data key row is locked and
    /// its count raised: a record whose key another node shredded, or whose key version
    /// reached the configured limit, is refused, and then none of the batch is stored.
    /// Storing the same record again is harmless (and not counted twice).
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
        let limit = i64::try_from(self.config().vault_config().records_per_key_version())
            .unwrap_or(i64::MAX);
        let mut client = self.client()?;
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
                        &header.created_at().unix_nanos(),
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
                let same = tx
                    .query_opt(
                        "SELECT 1 FROM records WHERE id = $1 AND category = $2 AND sealed = $3",
                        &[
                            &header.record_id().as_bytes().as_slice(),
                            &category.as_str(),
                            &record.as_bytes(),
                        ],
                    )
                    .doing("comparing a stored record")?;
                if same.is_none() {
                    return Err(StoreError::RecordConflict);
                }
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
                Some(row) if row.get::<_, i64>(0) <= limit => {}
                Some(_) => {
                    return Err(StoreError::Logs(LogsError::Key(
                        KeyError::DataKeyExhausted { version },
                    )));
                }
                None => {
                    let tombstone = tx
                        .query_opt(
                            "SELECT through FROM key_tombstones WHERE customer = $1",
                            &[&customer.as_bytes().as_slice()],
                        )
                        .doing("reading a tombstone")?
                        .map(|row| decode_tombstone(row.get(0)))
                        .transpose()?
                        .unwrap_or(Tombstone::new(None));
                    return Err(StoreError::DataKeyShredded { version, tombstone });
                }
            }
        }
        tx.commit().doing("committing records")?;
        Ok(records.len())
    }

    /// The sealed bytes of record `id`, if stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if the store cannot be read.
    pub fn record(&self, id: RecordId) -> Result<Option<Vec<u8>>, StoreError> {
        let mut client = self.client()?;
        Ok(client
            .query_opt(
                "SELECT sealed FROM records WHERE id = $1",
                &[&id.as_bytes().as_slice()],
            )
            .doing("reading a record")?
            .map(|row| row.get(0)))
    }
}
