//! Wrapped data keys and the tombstones crypto-shredding leaves.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use steward_core::CustomerId;
use steward_logs::{
    BoxError, KeyAdmission, KeyEpoch, KeyStore, KeyVersion, KeyringSnapshot, MasterKeyId,
    Tombstone, WrappedDataKey,
};

use crate::{
    SqliteStore, StoreError,
    codec::Columns,
    error::Doing,
    fact_log::FactEvent,
    sqlite::WriteTx,
    sqlite::{has_wrapped_keys, is_registered, read_meta, set_current_master_key},
};

const WRAPPED: &str = "wrapped_keys";
const TOMBSTONES: &str = "key_tombstones";

impl WriteTx<'_> {
    /// Stores a newly issued data key. Storing the same key again is harmless.
    ///
    /// # Errors
    ///
    /// [`StoreError::WrappedUnderOtherKey`] unless it is wrapped under the store's current
    /// master key; [`StoreError::DataKeyShredded`] if its version is at or below the
    /// customer's tombstone; [`StoreError::DataKeyConflict`] if a different key of that
    /// customer and version is stored; [`StoreError::Sqlite`] if it cannot be stored.
    pub(crate) fn put_data_key(&self, key: &WrappedDataKey) -> Result<(), StoreError> {
        let conn = self.conn();
        let current = read_meta(conn)?.current_master_key;
        if *key.master_key() != current {
            // Every stored key is wrapped under the current master key; only a store with
            // none may switch to another (registered) one.
            if has_wrapped_keys(conn)? {
                return Err(StoreError::WrappedUnderOtherKey {
                    found: key.master_key().clone(),
                    expected: current,
                });
            }
            if !is_registered(conn, key.master_key())? {
                return Err(StoreError::UnknownMasterKey {
                    id: key.master_key().clone(),
                });
            }
            set_current_master_key(conn, key.master_key())?;
        }
        let customer = key.customer();
        if let Some(tombstone) = tombstone(conn, customer)?
            && tombstone.covers(key.version())
        {
            return Err(StoreError::DataKeyShredded {
                version: key.version(),
                tombstone,
            });
        }
        let inserted = conn
            .prepare_cached(
                "INSERT INTO wrapped_keys (customer, version, master_key, nonce, ciphertext) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (customer, version) DO NOTHING",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    customer.as_bytes(),
                    key.version().get(),
                    key.master_key().as_str(),
                    key.nonce().as_slice(),
                    key.ciphertext().as_slice()
                ])
            })
            .doing("storing a data key")?;
        if inserted == 1 {
            // The key's proof, with it: a key row deleted outside a shred is found at start-up.
            let version = key.version();
            return super::facts::append_in(self, &FactEvent::KeyStored { customer, version });
        }
        let stored = conn
            .query_row(
                "SELECT customer, version, master_key, nonce, ciphertext FROM wrapped_keys \
                 WHERE customer = ?1 AND version = ?2",
                params![customer.as_bytes(), key.version().get()],
                |row| Ok(decode_wrapped(&Columns::new(row, WRAPPED))),
            )
            .doing("reading a data key")??;
        if stored == *key {
            Ok(())
        } else {
            Err(StoreError::DataKeyConflict {
                version: key.version(),
            })
        }
    }

    /// Crypto-shreds `customer`: deletes every stored data key of theirs and records the
    /// tombstone, which is raised to cover every deleted version and never lowered (so a
    /// returning customer's new keys cannot reuse a destroyed version number). Returns the
    /// tombstone as stored.
    ///
    /// The rows are overwritten on deletion (`secure_delete`); older copies may remain in the
    /// write-ahead log until [`SqliteStore::checkpoint_wal`], which [`KeyStore::shred`]
    /// runs after its commit.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if it cannot be stored.
    pub(crate) fn shred(
        &self,
        customer: CustomerId,
        tombstone: Tombstone,
    ) -> Result<Tombstone, StoreError> {
        let conn = self.conn();
        let newest: Option<u32> = conn
            .query_row(
                "SELECT max(version) FROM wrapped_keys WHERE customer = ?1",
                [customer.as_bytes()],
                |row| row.get(0),
            )
            .doing("reading a customer's data keys")?;
        conn.execute(
            "DELETE FROM wrapped_keys WHERE customer = ?1",
            [customer.as_bytes()],
        )
        .doing("deleting a customer's data keys")?;
        let stored = tombstone_number(self::tombstone(conn, customer)?);
        let through = tombstone_number(Some(tombstone))
            .max(newest.unwrap_or(0))
            .max(stored);
        conn.execute(
            "INSERT INTO key_tombstones (customer, through) VALUES (?1, ?2) \
             ON CONFLICT (customer) DO UPDATE SET through = max(through, excluded.through)",
            params![customer.as_bytes(), through],
        )
        .doing("recording a tombstone")?;
        Ok(tombstone_from(through))
    }

    /// Replaces every stored data key by its rewrap under a new master key, and makes that
    /// key the current one. `keys` must hold exactly the stored customers and versions, all
    /// wrapped under one master key: a missing one would be destroyed silently, so that is
    /// refused. An empty rewrap (nothing stored) changes nothing: the next data key stored,
    /// or the next open, names the master key.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownMasterKey`] unless their master key was registered with
    /// [`SqliteStore::register_master_key`]; [`StoreError::WrappedUnderOtherKey`] if they
    /// are not all wrapped under one master key; [`StoreError::RewrapMismatch`] unless
    /// `keys` are exactly the stored keys; [`StoreError::Sqlite`] if they cannot be stored.
    pub(crate) fn rewrap(&self, keys: &[WrappedDataKey]) -> Result<(), StoreError> {
        let conn = self.conn();
        let stored: i64 = conn
            .query_row("SELECT count(*) FROM wrapped_keys", [], |row| row.get(0))
            .doing("counting the data keys")?;
        let mismatch = || StoreError::RewrapMismatch {
            stored: u64::try_from(stored).unwrap_or(0),
            given: u64::try_from(keys.len()).unwrap_or(u64::MAX),
        };
        if usize::try_from(stored).ok() != Some(keys.len()) {
            return Err(mismatch());
        }
        let Some(master) = keys.first().map(WrappedDataKey::master_key) else {
            return Ok(());
        };
        if !is_registered(conn, master)? {
            return Err(StoreError::UnknownMasterKey { id: master.clone() });
        }
        let mut update = conn
            .prepare_cached(
                "UPDATE wrapped_keys SET master_key = ?3, nonce = ?4, ciphertext = ?5 \
                 WHERE customer = ?1 AND version = ?2",
            )
            .doing("rewrapping the data keys")?;
        for key in keys {
            if key.master_key() != master {
                return Err(StoreError::WrappedUnderOtherKey {
                    found: key.master_key().clone(),
                    expected: master.clone(),
                });
            }
            let updated = update
                .execute(params![
                    key.customer().as_bytes(),
                    key.version().get(),
                    master.as_str(),
                    key.nonce().as_slice(),
                    key.ciphertext().as_slice()
                ])
                .doing("rewrapping the data keys")?;
            if updated != 1 {
                return Err(mismatch());
            }
        }
        // As many keys as rows, each updated: unless one was given twice, every row is now
        // wrapped under `master`. Count the others to rule the duplicate out.
        let others: i64 = conn
            .query_row(
                "SELECT count(*) FROM wrapped_keys WHERE master_key != ?1",
                [master.as_str()],
                |row| row.get(0),
            )
            .doing("checking the rewrap")?;
        if others != 0 {
            return Err(mismatch());
        }
        set_current_master_key(conn, master)
    }
}

impl SqliteStore {
    /// Everything a `Keyring::restore` needs: the wrapped data keys (by customer and version)
    /// and every tombstone, read in one transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the store cannot be read; [`StoreError::Corrupt`] if a row
    /// does not decode or the keys contradict the tombstones.
    pub fn keyring_snapshot(&self) -> Result<KeyringSnapshot, StoreError> {
        // A connection of its own: a million rows are read without holding up the shared
        // connection, and without its per-call mutex (a reader is single-threaded).
        let conn = self.reader()?;
        let tx = conn.unchecked_transaction().doing("reading the keyring")?;
        let data_keys = wrapped_keys(&tx)?;
        let shredded = tombstones(&tx)?;
        drop(tx);
        KeyringSnapshot::new(data_keys, shredded).map_err(|error| {
            StoreError::corrupt(WRAPPED, "the data keys contradict the tombstones", error)
        })
    }

    /// Copies the write-ahead log into the database file and truncates the log, so that no
    /// older copy of a deleted row (a shredded key, a deleted record) stays in it. Waits for
    /// nobody: if a reader still needs older pages it returns [`WalCheckpoint::Busy`], and
    /// the log is truncated by a later checkpoint.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the checkpoint fails.
    pub fn checkpoint_wal(&self) -> Result<WalCheckpoint, StoreError> {
        self.read(|conn| {
            // Holding the shared connection: never wait on a reader while writers queue up.
            conn.busy_timeout(Duration::ZERO)
                .doing("checkpointing the log")?;
            let busy = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                row.get::<_, i64>(0)
            });
            conn.busy_timeout(crate::sqlite::BUSY_TIMEOUT)
                .doing("checkpointing the log")?;
            match busy {
                Ok(0) => Ok(WalCheckpoint::Truncated),
                Ok(_) => Ok(WalCheckpoint::Busy),
                Err(error)
                    if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) =>
                {
                    Ok(WalCheckpoint::Busy)
                }
                Err(source) => Err(StoreError::Sqlite {
                    doing: "checkpointing the log",
                    source,
                }),
            }
        })
    }
}

/// What [`SqliteStore::checkpoint_wal`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WalCheckpoint {
    /// The log was copied into the database and truncated to zero bytes.
    Truncated,
    /// A reader or writer still used the log: it was not (fully) truncated.
    Busy,
}

/// The custody's key store (`Custody::with_key_store`): each method returns once its change
/// is committed, so the custody's write-ahead order holds across a crash or power loss.
///
/// Shared, as PostgreSQL's is: several processes may hold a custody on one file. A new key
/// is stored only if no key of its customer and version is stored and no tombstone covers
/// it (compare-and-swap under SQLite's write lock); otherwise the custody gets the stored
/// keys back and adopts them. Before a sealing session and before an open, the custody reads
/// the customer's stored keys ([`SqliteStore::customer_keys`]), so a key issued or a shred
/// made by another process is used here too.
///
/// **These methods write no audit entry of their own**: the custody does, around them (a
/// shred's entry before its tombstone, a rotation's after its rewrap). A shred writes its
/// fact-log entry (`keys_shredded`) with the tombstone, which start-up checks the stored
/// tombstones against. Calling
/// [`shred`](KeyStore::shred), [`rewrap`](KeyStore::rewrap) or
/// [`put_data_key`](KeyStore::put_data_key) directly changes keys past the audit trail, and a
/// running vault keeps its own keyring until it next reads the customer's keys. Services
/// shred through `Vault::shred` or the sweep's `VaultShredder`, and rotate through
/// `Vault::rotate_data_key` and `Vault::rotate_master_key`.
impl KeyStore for SqliteStore {
    /// Stores a newly issued data key (storing the same key again is harmless), or answers
    /// with the customer's keys as stored now if another process stored that version first
    /// or a tombstone covers it.
    fn put_data_key(&self, key: &WrappedDataKey) -> Result<KeyAdmission, BoxError> {
        Ok(self.write(|tx| tx.admit_data_key(key))?)
    }

    /// Crypto-shreds `customer` (the wrapped rows deleted, the tombstone raised to cover
    /// every deleted version, never lowered), durable when it returns, then checkpoints the
    /// write-ahead log so that no older copy of the deleted keys stays in it (best effort: see
    /// [`SqliteStore::checkpoint_wal`]; a failed checkpoint is not an error, the shred is
    /// done).
    fn shred(&self, customer: CustomerId, tombstone: Tombstone) -> Result<(), BoxError> {
        self.write(|tx| {
            let through = tx.shred(customer, tombstone)?.through();
            // The shred's proof, with its effect: a key stored again or a tombstone deleted
            // behind the store's back disagrees with the log at the next start.
            super::facts::append_in(tx, &FactEvent::KeysShredded { customer, through })
        })?;
        let _purged = self.checkpoint_wal();
        Ok(())
    }

    /// Replaces every stored data key by its rewrap under a new master key, registered first
    /// with [`SqliteStore::register_master_key`], all or nothing, then checkpoints the log as
    /// [`shred`](KeyStore::shred) does.
    fn rewrap(&self, keys: &[WrappedDataKey]) -> Result<(), BoxError> {
        self.write(|tx| tx.rewrap(keys))?;
        let _purged = self.checkpoint_wal();
        Ok(())
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn customer_keys(&self, customer: CustomerId) -> Result<Option<KeyringSnapshot>, BoxError> {
        Ok(Some(Self::customer_keys(self, customer)?))
    }

    /// The epoch the schema's triggers draw again with every change to the data keys or
    /// tombstones: one row, read in a statement of its own.
    fn key_epoch(&self) -> Result<Option<KeyEpoch>, BoxError> {
        Ok(Some(self.read(|conn| {
            conn.prepare_cached("SELECT epoch FROM key_epoch WHERE singleton = 1")
                .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
                .map(KeyEpoch::new)
                .doing("reading the key epoch")
        })?))
    }
}

impl WriteTx<'_> {
    /// Stores a new data key as [`put_data_key`](Self::put_data_key) does, but answers a key
    /// another process stored first, or a tombstone that covers it, with the customer's keys
    /// as stored now ([`KeyAdmission::Superseded`]) for the custody to adopt.
    ///
    /// # Errors
    ///
    /// As [`put_data_key`](Self::put_data_key), except the two answered above.
    pub(crate) fn admit_data_key(&self, key: &WrappedDataKey) -> Result<KeyAdmission, StoreError> {
        match self.put_data_key(key) {
            Ok(()) => Ok(KeyAdmission::Stored),
            Err(StoreError::DataKeyConflict { .. } | StoreError::DataKeyShredded { .. }) => Ok(
                KeyAdmission::Superseded(customer_view(self.conn(), key.customer())?),
            ),
            Err(error) => Err(error),
        }
    }
}

impl SqliteStore {
    /// The customer's wrapped data keys and tombstone as stored now, read in one
    /// transaction: what a custody adopts before it seals or opens for them, so that keys
    /// another process issued or shredded are used here too.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the store cannot be read; [`StoreError::Corrupt`] if a row
    /// does not decode or the keys contradict the tombstone.
    pub fn customer_keys(&self, customer: CustomerId) -> Result<KeyringSnapshot, StoreError> {
        self.read(|conn| {
            let tx = conn
                .unchecked_transaction()
                .doing("reading a customer's keys")?;
            let snapshot = customer_view(&tx, customer);
            drop(tx);
            snapshot
        })
    }
}

/// The customer's keys and tombstone, as a snapshot to adopt.
fn customer_view(conn: &Connection, customer: CustomerId) -> Result<KeyringSnapshot, StoreError> {
    let doing = "reading a customer's keys";
    let mut stmt = conn
        .prepare_cached(
            "SELECT customer, version, master_key, nonce, ciphertext FROM wrapped_keys \
             WHERE customer = ?1 ORDER BY version",
        )
        .doing(doing)?;
    let mut rows = stmt.query([customer.as_bytes()]).doing(doing)?;
    let mut keys = Vec::new();
    while let Some(row) = rows.next().doing(doing)? {
        keys.push(decode_wrapped(&Columns::new(row, WRAPPED))?);
    }
    let shredded = tombstone(conn, customer)?
        .map(|tombstone| (customer, tombstone))
        .into_iter()
        .collect();
    KeyringSnapshot::new(keys, shredded).map_err(|error| {
        StoreError::corrupt(WRAPPED, "the data keys contradict the tombstone", error)
    })
}

/// Every stored data key, in the table's own order: `ORDER BY customer, version` would walk
/// the unique index and look each row up in the table (one b-tree descent a row, half of a
/// start-up's key reading at a million customers), while [`KeyringSnapshot::new`] puts keys
/// read in order, or nearly, in order in one pass.
fn wrapped_keys(conn: &Connection) -> Result<Vec<WrappedDataKey>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT customer, version, master_key, nonce, ciphertext FROM wrapped_keys")
        .doing("reading the data keys")?;
    let mut rows = stmt.query([]).doing("reading the data keys")?;
    let mut keys = Vec::new();
    // Every key names a master key, nearly always the one the key before named: parsed once.
    let mut master: Option<MasterKeyId> = None;
    while let Some(row) = rows.next().doing("reading the data keys")? {
        let columns = Columns::new(row, WRAPPED);
        // Compared as bytes: equal to a parsed id, they are that id's text.
        let id = row
            .get_ref(2)
            .doing("reading the data keys")?
            .as_bytes()
            .ok();
        let master = match master.as_ref() {
            Some(known) if Some(known.as_str().as_bytes()) == id => known.clone(),
            _ => master
                .insert(columns.parsed(2, "invalid master key id")?)
                .clone(),
        };
        keys.push(decode_wrapped_with(&columns, master)?);
    }
    Ok(keys)
}

fn tombstones(conn: &Connection) -> Result<Vec<(CustomerId, Tombstone)>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT customer, through FROM key_tombstones ORDER BY customer")
        .doing("reading the tombstones")?;
    let mut rows = stmt.query([]).doing("reading the tombstones")?;
    let mut tombstones = Vec::new();
    while let Some(row) = rows.next().doing("reading the tombstones")? {
        let columns = Columns::new(row, TOMBSTONES);
        let through = u32::try_from(columns.i64(1)?).map_err(|error| {
            StoreError::corrupt(TOMBSTONES, "tombstone version out of range", error)
        })?;
        tombstones.push((columns.customer(0)?, tombstone_from(through)));
    }
    Ok(tombstones)
}

fn tombstone(conn: &Connection, customer: CustomerId) -> Result<Option<Tombstone>, StoreError> {
    let through: Option<i64> = conn
        .query_row(
            "SELECT through FROM key_tombstones WHERE customer = ?1",
            [customer.as_bytes()],
            |row| row.get(0),
        )
        .optional()
        .doing("reading a tombstone")?;
    through
        .map(|through| {
            u32::try_from(through).map(tombstone_from).map_err(|error| {
                StoreError::corrupt(TOMBSTONES, "tombstone version out of range", error)
            })
        })
        .transpose()
}

/// The stored form of a tombstone: the newest destroyed version, 0 for none.
fn tombstone_number(tombstone: Option<Tombstone>) -> u32 {
    tombstone
        .and_then(Tombstone::through)
        .map_or(0, KeyVersion::get)
}

fn tombstone_from(through: u32) -> Tombstone {
    Tombstone::new(KeyVersion::new(through).ok())
}

/// A wrapped key from a row of `customer, version, master_key, nonce, ciphertext`;
/// steward-logs checks the lengths of the parts.
fn decode_wrapped(columns: &Columns<'_, '_>) -> Result<WrappedDataKey, StoreError> {
    decode_wrapped_with(columns, columns.parsed(2, "invalid master key id")?)
}

/// As [`decode_wrapped`], with the row's master key id already parsed.
fn decode_wrapped_with(
    columns: &Columns<'_, '_>,
    master: MasterKeyId,
) -> Result<WrappedDataKey, StoreError> {
    WrappedDataKey::from_parts(
        master,
        columns.customer(0)?,
        columns.key_version(1)?,
        columns.blob(3)?,
        columns.blob(4)?,
    )
    .map_err(|error| StoreError::corrupt(columns.table(), "invalid wrapped data key", error))
}

#[cfg(test)]
mod tests {
    //! The raw key writers' own refusals, which the [`KeyStore`] methods answer as an
    //! adoption (`KeyAdmission::Superseded`) rather than an error.

    use steward_logs::{Keyring, MasterKey};

    use super::*;
    use crate::{StoreKeys, remove_store_files};

    /// A new store in a file of its own, removed on drop.
    struct Scratch {
        path: std::path::PathBuf,
        store: Option<SqliteStore>,
        keys: StoreKeys,
    }

    impl Scratch {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "steward-store-unit-{name}-{}.db",
                std::process::id()
            ));
            let _stale = remove_store_files(&path);
            let keys = StoreKeys::new(
                "kek-1".parse().unwrap(),
                b"steward test key 42, not secret!",
                b"steward test key 17, not secret!",
            )
            .unwrap();
            let store = SqliteStore::create(&path, &keys).unwrap();
            Self {
                path,
                store: Some(store),
                keys,
            }
        }

        fn store(&self) -> &SqliteStore {
            self.store.as_ref().unwrap()
        }

        fn keyring(&self) -> Keyring {
            Keyring::new(self.keys.master_key().unwrap())
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            self.store.take();
            let _removed = remove_store_files(&self.path);
        }
    }

    fn customer(n: u8) -> CustomerId {
        format!("0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a{n:02x}")
            .parse()
            .unwrap()
    }

    fn put(store: &SqliteStore, key: &WrappedDataKey) -> Result<(), StoreError> {
        store.write(|tx| tx.put_data_key(key))
    }

    #[test]
    fn a_data_key_is_stored_once_and_another_under_its_version_is_a_conflict() {
        let scratch = Scratch::new("put-key");
        let store = scratch.store();
        let mut keyring = scratch.keyring();
        keyring.ensure_data_key(customer(1)).unwrap();
        let key = keyring.snapshot().data_keys()[0].clone();
        put(store, &key).unwrap();
        put(store, &key).unwrap();

        // The same customer and version, wrapped again: a different key, refused.
        let mut other = scratch.keyring();
        other.ensure_data_key(customer(1)).unwrap();
        let error = put(store, &other.snapshot().data_keys()[0]).unwrap_err();
        assert!(
            matches!(error, StoreError::DataKeyConflict { .. }),
            "{error}"
        );
        // Admitted instead, the stored key comes back for the custody to adopt.
        let admission = store
            .write(|tx| tx.admit_data_key(&other.snapshot().data_keys()[0]))
            .unwrap();
        assert!(
            matches!(&admission, KeyAdmission::Superseded(stored) if stored.data_keys() == [key.clone()]),
            "{admission:?}"
        );

        let mut foreign = Keyring::new(
            MasterKey::from_bytes(
                "kek-9".parse().unwrap(),
                b"steward test key 09, not secret!",
            )
            .unwrap(),
        );
        foreign.ensure_data_key(customer(2)).unwrap();
        let error = put(store, &foreign.snapshot().data_keys()[0]).unwrap_err();
        assert!(
            matches!(error, StoreError::WrappedUnderOtherKey { .. }),
            "{error}"
        );
        assert_eq!(store.keyring_snapshot().unwrap().data_keys(), [key]);
    }

    #[test]
    fn a_destroyed_version_is_refused_as_destroyed() {
        let scratch = Scratch::new("destroyed");
        let store = scratch.store();
        let mut keyring = scratch.keyring();
        keyring.rotate_data_key(customer(1)).unwrap();
        keyring.rotate_data_key(customer(1)).unwrap();
        for key in keyring.snapshot().data_keys() {
            put(store, key).unwrap();
        }
        let stored = store
            .write(|tx| tx.shred(customer(1), Tombstone::new(None)))
            .unwrap();
        assert_eq!(stored, Tombstone::new(KeyVersion::new(2).ok()));
        let v2 = keyring.snapshot().data_keys()[1].clone();
        assert_eq!(v2.version().get(), 2);
        let error = put(store, &v2).unwrap_err();
        assert!(
            matches!(error, StoreError::DataKeyShredded { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("destroyed"), "{error}");
    }

    #[test]
    fn a_shred_returns_the_tombstone_as_stored_never_lower() {
        let scratch = Scratch::new("tombstone");
        let store = scratch.store();
        let mut keyring = scratch.keyring();
        for _ in 0..3 {
            keyring.rotate_data_key(customer(1)).unwrap();
        }
        for key in keyring.snapshot().data_keys() {
            put(store, key).unwrap();
        }
        // A caller whose tombstone is too low still cannot free versions 2 and 3 for reuse.
        let low = Tombstone::new(Some(KeyVersion::FIRST));
        let three = Tombstone::new(KeyVersion::new(3).ok());
        assert_eq!(store.write(|tx| tx.shred(customer(1), low)).unwrap(), three);
        assert_eq!(
            store
                .write(|tx| tx.shred(customer(1), Tombstone::new(None)))
                .unwrap(),
            three
        );
        // A customer shredded before any key: through v0.
        assert_eq!(
            store
                .write(|tx| tx.shred(customer(2), Tombstone::new(None)))
                .unwrap(),
            Tombstone::new(None)
        );
    }
}
