//! How values become columns and back: ids as their 16 bytes, instants as Unix nanoseconds,
//! version numbers as integers, and the few upstream types that only serde can build.

use std::str::FromStr;

use rusqlite::Row;
use steward_core::{CustomerId, RecordId, Timestamp};
use steward_logs::KeyVersion;
use uuid::Uuid;

use crate::{StoreError, error::Doing};

/// One column of a row, decoded, or [`StoreError::Corrupt`] naming the table.
pub(crate) struct Columns<'r, 's> {
    row: &'r Row<'s>,
    table: &'static str,
}

impl<'r, 's> Columns<'r, 's> {
    pub(crate) const fn new(row: &'r Row<'s>, table: &'static str) -> Self {
        Self { row, table }
    }

    pub(crate) const fn table(&self) -> &'static str {
        self.table
    }

    pub(crate) fn i64(&self, index: usize) -> Result<i64, StoreError> {
        self.row
            .get_ref(index)
            .doing("reading a row")?
            .as_i64()
            .map_err(|error| {
                StoreError::corrupt(self.table, "an integer column holds no integer", error)
            })
    }

    pub(crate) fn text(&self, index: usize) -> Result<&'r str, StoreError> {
        self.row
            .get_ref(index)
            .doing("reading a row")?
            .as_str()
            .map_err(|error| StoreError::corrupt(self.table, "a text column holds no text", error))
    }

    pub(crate) fn blob(&self, index: usize) -> Result<&'r [u8], StoreError> {
        self.row
            .get_ref(index)
            .doing("reading a row")?
            .as_blob()
            .map_err(|error| StoreError::corrupt(self.table, "a blob column holds no blob", error))
    }

    pub(crate) fn timestamp(&self, index: usize) -> Result<Timestamp, StoreError> {
        self.i64(index).map(Timestamp::from_unix_nanos)
    }

    pub(crate) fn customer(&self, index: usize) -> Result<CustomerId, StoreError> {
        let uuid = self.uuid(index)?;
        CustomerId::new(uuid)
            .map_err(|error| StoreError::corrupt(self.table, "invalid customer id", error))
    }

    pub(crate) fn record_id(&self, index: usize) -> Result<RecordId, StoreError> {
        let uuid = self.uuid(index)?;
        RecordId::new(uuid)
            .map_err(|error| StoreError::corrupt(self.table, "invalid record id", error))
    }

    fn uuid(&self, index: usize) -> Result<Uuid, StoreError> {
        Uuid::from_slice(self.blob(index)?)
            .map_err(|error| StoreError::corrupt(self.table, "an id is not 16 bytes", error))
    }

    pub(crate) fn key_version(&self, index: usize) -> Result<KeyVersion, StoreError> {
        let number = u32::try_from(self.i64(index)?)
            .map_err(|error| StoreError::corrupt(self.table, "key version out of range", error))?;
        KeyVersion::new(number)
            .map_err(|error| StoreError::corrupt(self.table, "key version out of range", error))
    }

    /// A value from its string form (`FromStr`).
    pub(crate) fn parsed<T>(&self, index: usize, what: &'static str) -> Result<T, StoreError>
    where
        T: FromStr,
        T::Err: std::error::Error + Send + Sync + 'static,
    {
        self.text(index)?
            .parse()
            .map_err(|error| StoreError::corrupt(self.table, what, error))
    }

    /// A value from the JSON text in a column.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(
        &self,
        index: usize,
        what: &'static str,
    ) -> Result<T, StoreError> {
        serde_json::from_str(self.text(index)?)
            .map_err(|error| StoreError::corrupt(self.table, what, error))
    }
}

/// A `u64` as SQLite's signed 64-bit integer.
pub(crate) fn to_i64(value: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange { what })
}

/// A stored integer back as a `u64`.
pub(crate) fn to_u64(
    value: i64,
    table: &'static str,
    what: &'static str,
) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|error| StoreError::corrupt(table, what, error))
}

/// JSON text of a value.
pub(crate) fn json_text<T: serde::Serialize + ?Sized>(
    value: &T,
    what: &'static str,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|source| StoreError::Encode { what, source })
}
