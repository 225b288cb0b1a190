//! The store: one SQLite file, its connection, start-up checks and write transactions.

mod audit;
mod facts;
mod follower;
mod keys;
mod lineage;
pub(crate) mod records;
mod schema;
mod vault;

use std::{
    fmt,
    fs::OpenOptions,
    io::ErrorKind,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use steward_core::Timestamp;
use steward_logs::{FactLogKey, MasterKey, MasterKeyCheck, MasterKeyId, SealConfig};

use crate::{
    StoreError, StoreKeys,
    codec::Columns,
    error::Doing,
    key_check::{self, stored_master_check, verify_master},
    sqlite::audit::AuditLock,
    sqlite::schema::Found,
};

pub use self::{
    follower::{FOLLOWER_MAX_STALENESS, FOLLOWER_POLL, StoreFactsFollower},
    keys::WalCheckpoint,
    records::{RecordMetas, RecordScan, StoredRecord},
    schema::SCHEMA_VERSION,
    vault::{StoreFacts, StoreVault},
};

/// How long a write waits for another connection's write lock before it fails.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The embedded store: one SQLite file holding everything Steward persists.
///
/// - [`create`](Self::create) makes a new file (and refuses an existing one);
///   [`open`](Self::open) opens one. Both check the master key and the audit key against the
///   check values stored at creation, so a wrong key is reported at start-up as
///   [`StoreError::WrongMasterKey`] or [`StoreError::WrongAuditKey`], never later as
///   tampering.
/// - Every write is one transaction, committed before the call returns. The journal is a
///   write-ahead log with `synchronous=FULL`: the log is synced to disk at every commit, so
///   **a write that returned `Ok` survives a crash or a power loss** (given a disk that honours
///   flushes). Deleted content is overwritten (`secure_delete`), and foreign keys are enforced.
/// - The handle is cheap to clone and `Send + Sync`: clones share one connection behind a
///   mutex (SQLite runs one write at a time anyway). Scans of record bytes read through
///   connections of their own, so a long export does not hold up writes.
///
/// ```
/// use steward_store::{SqliteStore, StoreKeys};
///
/// let path = std::env::temp_dir().join(format!("steward-store-doc-{}.db", std::process::id()));
/// let keys = StoreKeys::new("kek-1".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
/// let store = SqliteStore::create(&path, &keys)?;
/// assert_eq!(store.master_key_id()?.as_str(), "kek-1");
/// drop(store);
///
/// // A wrong key is refused at open, before anything is read.
/// let wrong = StoreKeys::new("kek-1".parse()?, b"steward test key 43, not secret!", b"steward test key 17, not secret!")?;
/// assert!(matches!(
///     SqliteStore::open(&path, &wrong),
///     Err(steward_store::StoreError::WrongMasterKey { .. })
/// ));
/// let store = SqliteStore::open(&path, &keys)?;
/// # drop(store);
/// # steward_store::remove_store_files(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
    /// This handle's hold on the audit chain's append lock (a clone holds none: each trail
    /// locks on its own handle, see [`AuditLock`]).
    pub(crate) audit_lock: AuditLock,
    /// How a vault opened on this handle seals.
    vault: SealConfig,
}

struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// Chains the fact-log entries the store writes with their effect (key shreds, record
    /// deletions), in the same transaction.
    fact_key: FactLogKey,
}

impl SqliteStore {
    /// Creates a store in a new file at `path`, at the newest schema version, recording check
    /// values of `keys` (never the keys).
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] if there is a file at `path` (opening an existing store
    /// is [`open`](Self::open)'s job, so nothing is ever overwritten); [`StoreError::Create`]
    /// if the file cannot be created; [`StoreError::Sqlite`] or [`StoreError::Migration`] if
    /// the schema cannot be written, in which case the new file is removed again.
    pub fn create(path: impl AsRef<Path>, keys: &StoreKeys) -> Result<Self, StoreError> {
        let path = path.as_ref();
        // `create_new` refuses an existing file atomically: no window between a check and
        // the creation in which another process could create it.
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        // Owner only, like the key files: the database holds wrapped keys, sealed records and
        // the audit trail. SQLite creates the `-wal` and `-shm` files with the database's
        // mode, so they are private too.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_MODE);
        options.open(path).map_err(|source| match source.kind() {
            ErrorKind::AlreadyExists => StoreError::AlreadyExists {
                path: path.to_path_buf(),
            },
            _ => StoreError::Create {
                path: path.to_path_buf(),
                source,
            },
        })?;
        let created = Self::connect(path).and_then(|mut conn| {
            match schema::inspect(&conn, path)? {
                Found::Empty => initialize(&mut conn, keys)?,
                Found::Store(_) => {
                    return Err(StoreError::NotAStore {
                        path: path.to_path_buf(),
                        reason: "the new file already holds a schema",
                    });
                }
            }
            Ok(conn)
        });
        match created {
            Ok(conn) => Self::from_connection(path, conn, keys),
            Err(error) => {
                // Best effort: a half-created store must not be mistaken for one later.
                let _removed = remove_store_files(path);
                Err(error)
            }
        }
    }

    /// Opens the store at `path`: refuses a file from a newer build, migrates an older one,
    /// and checks `keys` against the values recorded at creation.
    ///
    /// An empty file (schema version 0) is initialized as [`create`](Self::create) would.
    ///
    /// # Errors
    ///
    /// - [`StoreError::Open`] if there is no file at `path` or it cannot be opened;
    ///   [`StoreError::NotAStore`] for another application's database.
    /// - [`StoreError::SchemaTooNew`] if the file was written by a newer build (it is not
    ///   touched); [`StoreError::Migration`] if a migration fails (the file stays at the
    ///   version before it).
    /// - [`StoreError::WrongMasterKey`] if the master key's bytes are not those the store
    ///   knows under its id; [`StoreError::MasterKeyNotCurrent`] if the data keys are wrapped
    ///   under another master key; [`StoreError::WrongAuditKey`] for the audit key.
    pub fn open(path: impl AsRef<Path>, keys: &StoreKeys) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let mut conn = Self::connect(path)?;
        match schema::inspect(&conn, path)? {
            Found::Empty => initialize(&mut conn, keys)?,
            Found::Store(_) => {
                configure(&conn)?;
                // Migrate first, so that the checks read the schema this build knows; a
                // migration changes only the schema, in its own transaction, so running it
                // for a caller with a wrong key exposes nothing.
                schema::migrate(&mut conn)?;
                if is_half_created(&conn)? {
                    // `create` died between the schema and the key checks: nothing was ever
                    // stored, so finishing the initialization with these keys loses nothing.
                    record_key_checks(&mut conn, keys)?;
                }
                verify_keys(&conn, keys)?;
            }
        }
        Self::from_connection(path, conn, keys)
    }

    /// Opens the file without creating it, with the settings that must hold before anything
    /// is read.
    fn connect(path: &Path) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(path, flags).map_err(|source| open_error(path, source))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|source| open_error(path, source))?;
        Ok(conn)
    }

    fn from_connection(
        path: &Path,
        conn: Connection,
        keys: &StoreKeys,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                conn: Mutex::new(conn),
                fact_key: keys.audit_key()?.fact_log_key(),
            }),
            audit_lock: AuditLock::new(path),
            vault: SealConfig::default(),
        })
    }

    /// Seals with `config` in a vault [`open_vault`](crate::open_vault) opens on this handle,
    /// as `pg::PgConfig::with_seal_config` does on PostgreSQL: the AEAD, the records per
    /// session and per data key version. The configuration is not stored in the file: give
    /// every process on it the same. Unlike PostgreSQL, which counts a key version's records
    /// in the database, the vault counts them in memory, from its start; the default bound
    /// (2^48 records per version) is far from what one process seals.
    #[must_use]
    pub const fn with_seal_config(mut self, config: SealConfig) -> Self {
        self.vault = config;
        self
    }

    /// How a vault opened on this handle seals: see
    /// [`with_seal_config`](Self::with_seal_config).
    #[must_use]
    pub const fn seal_config(&self) -> &SealConfig {
        &self.vault
    }

    /// The file the store lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The schema version of the file (after [`open`](Self::open): this build's,
    /// [`SCHEMA_VERSION`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the file cannot be read.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.read(|conn| {
            let version: i64 = conn
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .doing("reading the schema version")?;
            u32::try_from(version).map_err(|_| StoreError::OutOfRange {
                what: "the schema version",
            })
        })
    }

    /// The id of the master key the stored data keys are wrapped under.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] if the file cannot be read; [`StoreError::Corrupt`] if the
    /// `meta` table is damaged.
    pub fn master_key_id(&self) -> Result<MasterKeyId, StoreError> {
        self.read(|conn| Ok(read_meta(conn)?.current_master_key))
    }

    /// Records the check value of a new master key, before a master key rotation
    /// (`Vault::rotate_master_key`, audited): the rewrapped data keys are then stored through
    /// [`KeyStore::rewrap`](steward_logs::KeyStore::rewrap), which makes it the current one.
    /// Registering a key again under the same id is harmless.
    ///
    /// Public, as the rotation needs it first; it changes no data key, and a registered key
    /// that no rewrap made current opens nothing (the store refuses it at open).
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidKey`] unless `master` is 32 bytes; [`StoreError::WrongMasterKey`]
    /// if another key is registered under `id`; [`StoreError::Sqlite`] if it cannot be stored.
    pub fn register_master_key(&self, id: &MasterKeyId, master: &[u8]) -> Result<(), StoreError> {
        let master = key_check::master_key(id, master)?;
        self.write(|tx| register_master_key(tx.conn(), &master))
    }

    /// Runs `f` in one write transaction: everything it writes is committed together when it
    /// returns `Ok`, and nothing when it returns `Err` (or panics).
    ///
    /// Use it to make several rows one step, for example a shred's tombstone and the deletion
    /// of the keys it destroys. Inside `f`, use only the [`WriteTx`]: calling back into the
    /// store from `f` waits for the lock `f` holds, forever.
    ///
    /// Crate-private, as every raw writer is: a change to keys, facts or records reaches the
    /// store through the paved paths (the vault's custody through [`KeyStore`], the fact log
    /// through [`DurableFacts`](crate::DurableFacts), records through
    /// [`GroupCommitter`](crate::GroupCommitter)), each of which writes its audit or log entry.
    ///
    /// [`KeyStore`]: steward_logs::KeyStore
    ///
    /// # Errors
    ///
    /// What `f` returned, or [`StoreError::Sqlite`] if the transaction could not begin or
    /// commit (then nothing was written).
    pub(crate) fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&WriteTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.lock();
        // IMMEDIATE takes the write lock at once, so a transaction never fails half-way
        // because another process began writing after it read.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .doing("starting a write")?;
        let write = WriteTx {
            tx,
            fact_key: &self.inner.fact_key,
        };
        let value = f(&write)?;
        write.tx.commit().doing("committing a write")?;
        Ok(value)
    }

    /// Runs `f` on the shared connection (a read: one statement, or several in no
    /// transaction; callers that need a consistent view across statements use one).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&self.lock())
    }

    /// A connection of its own for a long read: it sees the store as of its first read, and
    /// does not hold up writers on the shared one.
    pub(crate) fn reader(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.inner.path, flags)
            .map_err(|source| open_error(&self.inner.path, source))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .doing("configuring a reader")?;
        conn.pragma_update(None, "trusted_schema", false)
            .doing("configuring a reader")?;
        Ok(conn)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held dropped its transaction, which rolled back: the
        // connection is in a clean state, so the poison carries no information.
        self.inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// An open write transaction: every writer of the store, to be combined in one
/// [`SqliteStore::write`]. Crate-private: see there.
pub(crate) struct WriteTx<'c> {
    tx: rusqlite::Transaction<'c>,
    fact_key: &'c FactLogKey,
}

impl WriteTx<'_> {
    pub(crate) fn conn(&self) -> &Connection {
        &self.tx
    }

    /// The key that chains the fact-log entries this transaction writes with its effect.
    pub(crate) const fn fact_key(&self) -> &FactLogKey {
        self.fact_key
    }
}

impl fmt::Debug for WriteTx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteTx").finish_non_exhaustive()
    }
}

/// The mode of every file the store creates: read and write for the owner only.
#[cfg(unix)]
pub(crate) const PRIVATE_MODE: u32 = 0o600;

/// Removes a store's file and its `-wal`, `-shm` and `-audit-lock` companions, for tests and
/// for a store whose creation failed. Files that are not there are not an error.
///
/// # Errors
///
/// [`StoreError::Remove`] if a file exists but cannot be removed.
pub fn remove_store_files(path: impl AsRef<Path>) -> Result<(), StoreError> {
    let path = path.as_ref();
    let mut companions = [
        path.as_os_str().to_owned(),
        path.as_os_str().to_owned(),
        path.as_os_str().to_owned(),
    ];
    let [wal, shm, lock] = &mut companions;
    wal.push("-wal");
    shm.push("-shm");
    lock.push(crate::sqlite::audit::LOCK_SUFFIX);
    for file in [
        path.as_os_str(),
        wal.as_os_str(),
        shm.as_os_str(),
        lock.as_os_str(),
    ] {
        match std::fs::remove_file(file) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::Remove {
                    path: PathBuf::from(file),
                    source,
                });
            }
        }
    }
    Ok(())
}

fn open_error(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Open {
        path: path.to_path_buf(),
        source,
    }
}

/// The settings every write connection runs with.
fn configure(conn: &Connection) -> Result<(), StoreError> {
    let doing = "configuring the connection";
    conn.pragma_update(None, "foreign_keys", true)
        .doing(doing)?;
    // Never run functions named by the schema itself with this connection's privileges.
    conn.pragma_update(None, "trusted_schema", false)
        .doing(doing)?;
    // Deleted rows are overwritten with zeros: a shredded key or a deleted record does not
    // linger in free pages.
    conn.pragma_update(None, "secure_delete", true)
        .doing(doing)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .doing(doing)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::JournalMode { mode });
    }
    // FULL in WAL mode syncs the log at every commit: an acknowledged write survives power
    // loss. (NORMAL would sync only at checkpoints, and could lose the newest commits.)
    conn.pragma_update(None, "synchronous", "FULL")
        .doing(doing)?;
    // On macOS, fsync does not reach the platter; F_FULLFSYNC does. A no-op elsewhere.
    conn.pragma_update(None, "fullfsync", true).doing(doing)?;
    Ok(())
}

/// Schema, master key check and audit key check of a new store.
fn initialize(conn: &mut Connection, keys: &StoreKeys) -> Result<(), StoreError> {
    configure(conn)?;
    schema::migrate(conn)?;
    record_key_checks(conn, keys)
}

/// Tables a store holds data in; all empty, and no key checks, is a half-created store.
const DATA_TABLES: [&str; 9] = [
    "master_keys",
    "meta",
    "wrapped_keys",
    "key_tombstones",
    "audit_entries",
    "audit_checkpoints",
    "records",
    "fact_log",
    "fact_snapshots",
];

/// Whether the schema is there but nothing else: not even the key checks. Any stored row
/// (a missing `meta` with data beside it is tampering, not a crash) makes it a store whose
/// missing checks are reported, not replaced.
fn is_half_created(conn: &Connection) -> Result<bool, StoreError> {
    for table in DATA_TABLES {
        // The table names are the constants above, never input.
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {table})");
        let any: bool = conn
            .query_row(&sql, [], |row| row.get(0))
            .doing("checking whether the store was fully created")?;
        if any {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Records the master key's and the audit key's check values, in one transaction.
fn record_key_checks(conn: &mut Connection, keys: &StoreKeys) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .doing("starting the initialization")?;
    register_master_key(&tx, &keys.master_key()?)?;
    tx.execute(
        "INSERT INTO meta (singleton, current_master_key, audit_key_check, created_at) \
         VALUES (1, ?1, ?2, ?3)",
        params![
            keys.master_key_id().as_str(),
            keys.audit_check()?.as_bytes(),
            Timestamp::now().unix_nanos()
        ],
    )
    .doing("recording the key checks")?;
    tx.commit().doing("committing the initialization")
}

/// The row of `meta`.
pub(crate) struct Meta {
    pub(crate) current_master_key: MasterKeyId,
    audit_key_check: Vec<u8>,
}

pub(crate) fn read_meta(conn: &Connection) -> Result<Meta, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT current_master_key, audit_key_check FROM meta WHERE singleton = 1")
        .doing("reading the store's key checks")?;
    let mut rows = stmt.query([]).doing("reading the store's key checks")?;
    let row = rows
        .next()
        .doing("reading the store's key checks")?
        .ok_or(StoreError::corrupt_row("meta", "the row is missing"))?;
    let columns = Columns::new(row, "meta");
    Ok(Meta {
        current_master_key: columns.parsed(0, "invalid master key id")?,
        audit_key_check: columns.blob(1)?.to_vec(),
    })
}

/// Checks the keys a store is opened with: the master key against the check stored under its
/// id, that the stored data keys are wrapped under it, and the audit key.
fn verify_keys(conn: &Connection, keys: &StoreKeys) -> Result<(), StoreError> {
    let meta = read_meta(conn)?;
    let given = keys.master_key_id();
    let not_current = || StoreError::MasterKeyNotCurrent {
        given: given.clone(),
        current: meta.current_master_key.clone(),
    };
    let check = master_check(conn, given)?.ok_or_else(not_current)?;
    keys.verify_master(&check)?;
    if *given != meta.current_master_key {
        // The wrapped keys decide: with none stored (a rotation of an empty keyring), any
        // registered master key whose check opens is the current one.
        if has_wrapped_keys(conn)? {
            return Err(not_current());
        }
        set_current_master_key(conn, given)?;
    }
    keys.verify_audit(&meta.audit_key_check)
}

/// Whether any wrapped data key is stored.
pub(crate) fn has_wrapped_keys(conn: &Connection) -> Result<bool, StoreError> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM wrapped_keys)", [], |row| {
        row.get(0)
    })
    .doing("reading the data keys")
}

/// Records `id` as the master key the data keys are wrapped under.
pub(crate) fn set_current_master_key(
    conn: &Connection,
    id: &MasterKeyId,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE meta SET current_master_key = ?1 WHERE singleton = 1",
        [id.as_str()],
    )
    .doing("recording the current master key")?;
    Ok(())
}

/// Whether a master key id is registered.
pub(crate) fn is_registered(conn: &Connection, id: &MasterKeyId) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM master_keys WHERE id = ?1)",
        [id.as_str()],
        |row| row.get(0),
    )
    .doing("reading the master keys")
}

/// The check stored for a master key id, if it is registered.
fn master_check(conn: &Connection, id: &MasterKeyId) -> Result<Option<MasterKeyCheck>, StoreError> {
    conn.query_row(
        "SELECT check_nonce, check_sealed FROM master_keys WHERE id = ?1",
        [id.as_str()],
        |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?)),
    )
    .optional()
    .doing("reading a master key check")?
    .map(|(nonce, sealed)| stored_master_check("master_keys", &nonce, &sealed))
    .transpose()
}

/// Stores the check of a master key, or verifies the one already stored under its id.
fn register_master_key(conn: &Connection, master: &MasterKey) -> Result<(), StoreError> {
    let id = master.id();
    if let Some(check) = master_check(conn, id)? {
        return verify_master(master, &check);
    }
    let check = master.check_value()?;
    conn.execute(
        "INSERT INTO master_keys (id, check_nonce, check_sealed) VALUES (?1, ?2, ?3)",
        params![
            id.as_str(),
            check.nonce().as_slice(),
            check.sealed().as_slice()
        ],
    )
    .doing("registering a master key")?;
    Ok(())
}
