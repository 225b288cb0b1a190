//! Wrapped data keys on PostgreSQL: compare-and-swap creation, shreds every node sees.

use postgres::{GenericClient, ToStatement};
use steward_core::CustomerId;
use steward_logs::{
    BoxError, KeyAdmission, KeyStore, KeyVersion, KeyringSnapshot, Tombstone, WrappedDataKey,
};

use super::{PgStore, column, snapshot};
use crate::{StoreError, error::Doing, fact_log::FactEvent, key_check};

const DATA_KEYS: &str = "data_keys";

/// The [`KeyStore`] writes, with the store's own error type (the trait boxes it). Private:
/// the custody calls them through the trait, around its audit entries.
impl PgStore {
    /// Stores a new data key unless its customer already has a key of that version, or a
    /// tombstone at or above it (both in one transaction, under the customer's lock): the
    /// first node wins, and the others get the stored keys back to adopt.
    ///
    /// # Errors
    ///
    /// [`StoreError::WrappedUnderOtherKey`] unless it is wrapped under the store's current
    /// master key; [`StoreError::Postgres`] if it cannot be stored.
    fn admit_data_key(&self, key: &WrappedDataKey) -> Result<KeyAdmission, StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction().doing("starting a data key write")?;
        let customer = key.customer();
        lock_customer(&mut tx, customer)?;
        let current: String = tx
            // Shared: a rewrap (which locks the row exclusively) waits for this key, or this
            // key for the rewrap, so no key is left wrapped under the old master key.
            .query_one("SELECT current_master_key FROM meta FOR SHARE", &[])
            .doing("reading the current master key")?
            .get(0);
        if key.master_key().as_str() != current {
            return Err(StoreError::WrappedUnderOtherKey {
                found: key.master_key().clone(),
                expected: current
                    .parse()
                    .map_err(|error| StoreError::corrupt("meta", "invalid master key id", error))?,
            });
        }
        let covered =
            tombstone(&mut tx, customer)?.is_some_and(|tombstone| tombstone.covers(key.version()));
        let inserted = !covered
            && tx
                .execute(
                    "INSERT INTO data_keys (customer, version, master_key, wrapped) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (customer, version) DO NOTHING",
                    &[
                        &customer.as_bytes().as_slice(),
                        &i64::from(key.version().get()),
                        &key.master_key().as_str(),
                        &json(key)?,
                    ],
                )
                .doing("storing a data key")?
                == 1;
        let admission = if inserted {
            // The key's proof, with it: a key row deleted outside a shred is found at start-up.
            let version = key.version();
            super::facts::append_in(&mut tx, self, &FactEvent::KeyStored { customer, version })?;
            KeyAdmission::Stored
        } else {
            KeyAdmission::Superseded(customer_view(&mut tx, CUSTOMER_VIEW, customer)?)
        };
        tx.commit().doing("committing a data key")?;
        Ok(admission)
    }

    /// Destroys the customer's wrapped keys and raises their tombstone to `tombstone`, or to
    /// their newest stored version if another node issued a later one.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if it cannot be stored (nothing is shredded then).
    fn shred_keys(&self, customer: CustomerId, tombstone: Tombstone) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction().doing("starting a shred")?;
        lock_customer(&mut tx, customer)?;
        let newest: Option<i64> = tx
            .query_one(
                "SELECT max(version) FROM data_keys WHERE customer = $1",
                &[&customer.as_bytes().as_slice()],
            )
            .doing("reading the customer's keys")?
            .get(0);
        let through = newest
            .unwrap_or(0)
            .max(i64::from(tombstone.through().map_or(0, KeyVersion::get)));
        tx.execute(
            "INSERT INTO key_tombstones (customer, through) VALUES ($1, $2) \
             ON CONFLICT (customer) DO UPDATE \
             SET through = greatest(key_tombstones.through, excluded.through)",
            &[&customer.as_bytes().as_slice(), &through],
        )
        .doing("recording a tombstone")?;
        // Deleting the rows takes their locks: a record being stored under one of these keys
        // commits first, or finds its key gone.
        tx.execute(
            "DELETE FROM data_keys WHERE customer = $1 AND version <= $2",
            &[&customer.as_bytes().as_slice(), &through],
        )
        .doing("destroying the customer's keys")?;
        // The shred's proof, with its effect.
        let through = u32::try_from(through)
            .ok()
            .and_then(|through| KeyVersion::new(through).ok());
        super::facts::append_in(
            &mut tx,
            self,
            &FactEvent::KeysShredded { customer, through },
        )?;
        tx.commit().doing("committing a shred")
    }

    /// Replaces every wrapped key by its rewrap under a new master key (registered with
    /// [`register_master_key`](PgStore::register_master_key)), all or nothing. Run it with the
    /// other nodes stopped: they hold only the old master key.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownMasterKey`] for an unregistered master key;
    /// [`StoreError::RewrapMismatch`] unless `keys` are exactly the stored keys;
    /// [`StoreError::Postgres`] if it cannot be stored.
    fn rewrap_keys(&self, keys: &[WrappedDataKey]) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction().doing("starting a rewrap")?;
        // Exclusive: no data key is stored while the keys are counted and rewrapped.
        tx.execute("SELECT 1 FROM meta FOR UPDATE", &[])
            .doing("locking the master key")?;
        let stored: i64 = tx
            .query_one("SELECT count(*) FROM data_keys", &[])
            .doing("counting the data keys")?
            .get(0);
        let given = keys.len();
        if usize::try_from(stored).ok() != Some(given) {
            return Err(StoreError::RewrapMismatch {
                stored: u64::try_from(stored).unwrap_or_default(),
                given: u64::try_from(given).unwrap_or(u64::MAX),
            });
        }
        let Some(first) = keys.first() else {
            return tx.commit().doing("committing a rewrap");
        };
        let master = first.master_key();
        let registered = tx
            .query_opt(
                "SELECT 1 FROM master_keys WHERE id = $1",
                &[&master.as_str()],
            )
            .doing("reading a master key")?
            .is_some();
        if !registered {
            return Err(StoreError::UnknownMasterKey { id: master.clone() });
        }
        for key in keys {
            let updated = tx
                .execute(
                    "UPDATE data_keys SET master_key = $3, wrapped = $4 \
                     WHERE customer = $1 AND version = $2",
                    &[
                        &key.customer().as_bytes().as_slice(),
                        &i64::from(key.version().get()),
                        &key.master_key().as_str(),
                        &json(key)?,
                    ],
                )
                .doing("rewrapping a data key")?;
            if updated != 1 || key.master_key() != master {
                return Err(StoreError::RewrapMismatch {
                    stored: u64::try_from(stored).unwrap_or_default(),
                    given: u64::try_from(given).unwrap_or(u64::MAX),
                });
            }
        }
        tx.execute(
            "UPDATE meta SET current_master_key = $1",
            &[&master.as_str()],
        )
        .doing("switching the master key")?;
        tx.commit().doing("committing a rewrap")
    }

    /// Records the check value of a new master key, before a rotation's rewrap
    /// (`Vault::rotate_master_key`, audited, through [`KeyStore::rewrap`]). Registering the
    /// same key again is harmless.
    ///
    /// Public: a rotation needs it first, and it changes no data key (a registered key that
    /// no rewrap made current opens nothing).
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidKey`] unless `master` is 32 bytes; [`StoreError::WrongMasterKey`]
    /// if another key is registered under `id`; [`StoreError::Postgres`] if it cannot be
    /// stored.
    pub fn register_master_key(
        &self,
        id: &steward_logs::MasterKeyId,
        master: &[u8],
    ) -> Result<(), StoreError> {
        let master = key_check::master_key(id, master)?;
        let check = master.check_value()?;
        let mut client = self.client()?;
        let inserted = client
            .execute(
                "INSERT INTO master_keys (id, check_nonce, check_sealed) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING",
                &[
                    &id.as_str(),
                    &check.nonce().as_slice(),
                    &check.sealed().as_slice(),
                ],
            )
            .doing("registering a master key")?;
        if inserted == 0 {
            let row = client
                .query_one(
                    "SELECT check_nonce, check_sealed FROM master_keys WHERE id = $1",
                    &[&id.as_str()],
                )
                .doing("reading a master key check")?;
            let nonce: Vec<u8> = column(&row, 0, "master_keys")?;
            let sealed: Vec<u8> = column(&row, 1, "master_keys")?;
            key_check::verify_master(
                &master,
                &key_check::stored_master_check("master_keys", &nonce, &sealed)?,
            )?;
        }
        Ok(())
    }

    /// Every wrapped data key and tombstone: what `Keyring::restore` rebuilds a node's
    /// keyring from at start-up.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if the store cannot be read; [`StoreError::Corrupt`] if a row
    /// does not decode.
    pub fn keyring_snapshot(&self) -> Result<KeyringSnapshot, StoreError> {
        let mut client = self.client()?;
        let mut tx = snapshot(&mut client)?;
        let keys = tx
            .query(
                "SELECT wrapped FROM data_keys ORDER BY customer, version",
                &[],
            )
            .doing("reading the data keys")?
            .iter()
            .map(|row| decode_wrapped(column(row, 0, DATA_KEYS)?))
            .collect::<Result<Vec<_>, _>>()?;
        let tombstones = tx
            .query(
                "SELECT customer, through FROM key_tombstones ORDER BY customer",
                &[],
            )
            .doing("reading the tombstones")?
            .iter()
            .map(|row| {
                Ok((
                    decode_customer(column(row, 0, "key_tombstones")?)?,
                    decode_tombstone(column(row, 1, "key_tombstones")?)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        tx.commit().doing("ending a keyring read")?;
        KeyringSnapshot::new(keys, tombstones).map_err(|error| {
            StoreError::corrupt(
                DATA_KEYS,
                "the keys and tombstones do not fit together",
                error,
            )
        })
    }

    /// The customer's stored keys and tombstone.
    ///
    /// # Errors
    ///
    /// As [`keyring_snapshot`](Self::keyring_snapshot).
    pub fn customer_keys(&self, customer: CustomerId) -> Result<KeyringSnapshot, StoreError> {
        let mut client = self.client()?;
        let statement = client.prepared(CUSTOMER_VIEW)?;
        customer_view(&mut *client, &statement, customer)
    }
}

/// Serializes key writes of one customer across nodes: a transaction-scoped advisory lock on
/// the customer id folded to 64 bits (both halves, since UUIDv7 ids of one millisecond share
/// the first); a rare collision only serializes two customers.
fn lock_customer(tx: &mut impl GenericClient, customer: CustomerId) -> Result<(), StoreError> {
    let bits = customer.as_uuid().as_u128();
    #[expect(
        clippy::cast_possible_truncation,
        reason = "folding 128 bits to 64 keeps the low half on purpose"
    )]
    let folded = ((bits >> 64) ^ bits) as u64;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&i64::from_ne_bytes(folded.to_ne_bytes())],
    )
    .doing("locking the customer's keys")?;
    Ok(())
}

/// The customer's keys and tombstone, in one statement (one consistent view).
const CUSTOMER_VIEW: &str = "SELECT wrapped, NULL::bigint FROM data_keys WHERE customer = $1 \
     UNION ALL SELECT NULL, through FROM key_tombstones WHERE customer = $1";

/// Runs [`CUSTOMER_VIEW`] (as text, or prepared) for `customer`.
fn customer_view<Q: ToStatement + ?Sized>(
    client: &mut impl GenericClient,
    query: &Q,
    customer: CustomerId,
) -> Result<KeyringSnapshot, StoreError> {
    let rows = client
        .query(query, &[&customer.as_bytes().as_slice()])
        .doing("reading the customer's keys")?;
    let mut keys = Vec::new();
    let mut shredded = Vec::new();
    for row in rows {
        match (
            column::<Option<String>>(&row, 0, DATA_KEYS)?,
            column::<Option<i64>>(&row, 1, DATA_KEYS)?,
        ) {
            (Some(wrapped), None) => keys.push(decode_wrapped(wrapped)?),
            (None, Some(through)) => shredded.push((customer, decode_tombstone(through)?)),
            _ => {
                return Err(StoreError::corrupt_row(
                    DATA_KEYS,
                    "a key row without its key",
                ));
            }
        }
    }
    keys.sort_by_key(WrappedDataKey::version);
    KeyringSnapshot::new(keys, shredded).map_err(|error| {
        StoreError::corrupt(
            DATA_KEYS,
            "the keys and tombstone do not fit together",
            error,
        )
    })
}

pub(super) fn tombstone(
    client: &mut impl GenericClient,
    customer: CustomerId,
) -> Result<Option<Tombstone>, StoreError> {
    client
        .query_opt(
            "SELECT through FROM key_tombstones WHERE customer = $1",
            &[&customer.as_bytes().as_slice()],
        )
        .doing("reading a tombstone")?
        .map(|row| decode_tombstone(column(&row, 0, "key_tombstones")?))
        .transpose()
}

pub(super) fn decode_tombstone(through: i64) -> Result<Tombstone, StoreError> {
    let through = u32::try_from(through)
        .map_err(|error| StoreError::corrupt("key_tombstones", "tombstone out of range", error))?;
    Ok(match through {
        0 => Tombstone::new(None),
        version => Tombstone::new(Some(KeyVersion::new(version).map_err(|error| {
            StoreError::corrupt("key_tombstones", "tombstone out of range", error)
        })?)),
    })
}

pub(super) fn decode_customer(bytes: Vec<u8>) -> Result<CustomerId, StoreError> {
    let bytes: [u8; 16] = bytes
        .try_into()
        .map_err(|_| StoreError::corrupt_row(DATA_KEYS, "a customer id is not 16 bytes"))?;
    CustomerId::new(uuid::Uuid::from_bytes(bytes))
        .map_err(|error| StoreError::corrupt(DATA_KEYS, "invalid customer id", error))
}

fn decode_wrapped(text: String) -> Result<WrappedDataKey, StoreError> {
    serde_json::from_str(&text)
        .map_err(|error| StoreError::corrupt(DATA_KEYS, "invalid wrapped data key", error))
}

fn json(key: &WrappedDataKey) -> Result<String, StoreError> {
    crate::codec::json_text(key, "a wrapped data key")
}

/// The custody's key store on a shared database: every node's custody writes ahead here, and
/// reads a customer's stored keys before a sealing session and before an open.
///
/// **These methods write no audit entry of their own**: the custody does, around them (a
/// shred's entry before its tombstone, a rotation's after its rewrap). A shred writes its
/// fact-log entry (`keys_shredded`) with the tombstone, which start-up checks the stored
/// tombstones against. Calling
/// [`shred`](KeyStore::shred), [`rewrap`](KeyStore::rewrap) or
/// [`put_data_key`](KeyStore::put_data_key) directly changes keys past the audit trail, and
/// the nodes' vaults keep their keyrings until they next read the customer's keys. Services
/// shred through `Vault::shred` or the sweep's `VaultShredder`, and rotate through
/// `Vault::rotate_data_key` and `Vault::rotate_master_key`.
impl KeyStore for PgStore {
    /// Stores a new data key unless its customer already has a key of that version, or a
    /// tombstone at or above it: the first node wins, and the others get the stored keys
    /// back to adopt.
    fn put_data_key(&self, key: &WrappedDataKey) -> Result<KeyAdmission, BoxError> {
        Ok(off_runtime(|| self.admit_data_key(key))?)
    }

    /// Destroys the customer's wrapped keys and raises their tombstone to `tombstone`, or to
    /// their newest stored version if another node issued a later one.
    fn shred(&self, customer: CustomerId, tombstone: Tombstone) -> Result<(), BoxError> {
        Ok(off_runtime(|| self.shred_keys(customer, tombstone))?)
    }

    /// Replaces every wrapped key by its rewrap under a registered master key, all or
    /// nothing. Run it with the other nodes stopped: they hold only the old master key.
    fn rewrap(&self, keys: &[WrappedDataKey]) -> Result<(), BoxError> {
        Ok(off_runtime(|| self.rewrap_keys(keys))?)
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn customer_keys(&self, customer: CustomerId) -> Result<Option<KeyringSnapshot>, BoxError> {
        Ok(Some(off_runtime(|| Self::customer_keys(self, customer))?))
    }
}

/// Runs `work`, which uses the blocking PostgreSQL client, on this thread, or on a scoped
/// thread of its own when this one belongs to a tokio runtime: the client blocks on a runtime
/// of its own, which tokio refuses (with a panic) inside another runtime's context. Sealing
/// reaches the key store on its caller's thread, and in an async server that thread may be a
/// runtime's worker; the hop costs a thread start, on a customer's first seal or a key change
/// only.
fn off_runtime<T: Send>(
    work: impl FnOnce() -> Result<T, StoreError> + Send,
) -> Result<T, StoreError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("steward-pg-keys".to_owned())
            .spawn_scoped(scope, work)
            .map_err(|source| StoreError::Thread { source })?;
        worker.join().unwrap_or_else(|_| {
            Err(StoreError::Thread {
                source: std::io::Error::other("the key store's thread panicked"),
            })
        })
    })
}
