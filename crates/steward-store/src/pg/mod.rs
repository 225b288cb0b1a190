//! The PostgreSQL store (feature `postgres`): the same persistence as [`SqliteStore`], on a
//! server that several proxy nodes share.
//!
//! Each node opens its own vault on one database ([`open_vault`](crate::open_vault), as on
//! SQLite) and they behave as one: data keys created by compare-and-swap and read before use
//! (so a shred on one node holds on all; a record sealed under a key shredded elsewhere is
//! refused with [`StoreError::DataKeyShredded`] and [`PgStore::seal_durable`] seals it
//! again), one audit chain, and the facts as one ordered log that a [`FactsFollower`] brings
//! to every node, failing closed when it falls behind. How and why, when to move from SQLite,
//! and what this does not cover: `docs/operations.md`, "Several nodes: the PostgreSQL store"
//! (in the facade's `steward::_documentation::operations`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use steward::{Policy, vocabulary::{DataCategory, RecordId, Timestamp}};
//! use steward_store::{StoreKeys, open_vault, pg::{FactsFollower, PgConfig, PgStore}};
//!
//! let config = PgConfig::new("host=127.0.0.1 user=postgres dbname=test")?;
//! // The same keys on every node; a wrong one is refused here.
//! let keys = StoreKeys::new("kek-1".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
//! let store = PgStore::create(&config, &keys)?;
//! let vault = Arc::new(open_vault(&store, &keys, Policy::coder_model())?);
//! // Other nodes' consent, relationship, hold and roster changes reach this one.
//! let _follower = FactsFollower::start(Arc::clone(&vault), &store)?;
//!
//! // Per proxied request: seal at the consent level in force, return once committed.
//! let customer = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
//! let now = Timestamp::now();
//! let id = RecordId::generate_at(now);
//! store.seal_durable(&vault, id, customer, now, b"{\"prompt\":\"...\"}", DataCategory::LlmRequestLog)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`SqliteStore`]: crate::SqliteStore

mod audit;
mod error;
mod facts;
mod keys;
mod lineage;
mod records;
mod vault;

use std::{
    collections::HashMap,
    fmt,
    str::FromStr,
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use postgres::{Client, NoTls, Statement};
use steward_logs::{FactLogKey, MasterKeyId, SealConfig};

pub use self::{
    audit::PgAuditStore,
    error::PgError,
    facts::{FactsFollower, PgFacts},
    records::PgRecordMetas,
    vault::PgVault,
};
use crate::{StoreError, StoreKeys, error::Doing, key_check::stored_master_check};

/// Whether starting may create the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    CreateIfMissing,
    ExistingOnly,
}

/// The schema version this build writes and reads.
const PG_SCHEMA_VERSION: i32 = 3;

/// Serializes schema creation and key checks of nodes starting at once (an arbitrary
/// constant; advisory locks are per database).
const SCHEMA_LOCK: i64 = 0x5354_4557_4152_4431;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long sent data may stay unacknowledged before the connection is dropped (Linux).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
/// Probes of an idle connection: after 5 s idle, every 2 s, dropped after 3 unanswered.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
const KEEPALIVE_RETRIES: u32 = 3;

/// What a refused configuration was being checked for.
const CHECKING_CONFIG: &str = "checking the store's configuration";

/// Pooled connections a store handle (and its clones) opens at most, by default.
const POOL_MAX: usize = 16;

/// How to reach the database, and the bounds the nodes share.
///
/// ```
/// use std::time::Duration;
/// use steward_store::pg::PgConfig;
///
/// let config = PgConfig::new("host=127.0.0.1 user=postgres dbname=test")?
///     .with_schema("steward_eu")?
///     .with_facts_poll(Duration::from_millis(250))?;
/// assert_eq!(config.schema(), "steward_eu");
/// assert!(PgConfig::new("host=127.0.0.1")?.with_schema("eu; DROP TABLE records").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PgConfig {
    client: postgres::Config,
    schema: String,
    facts_poll: Duration,
    facts_max_staleness: Duration,
    max_connections: usize,
    vault: SealConfig,
}

impl PgConfig {
    /// A configuration from a libpq-style connection string (`host=… user=… dbname=…`) or
    /// URL (`postgresql://…`), in schema `steward`, with facts polled every second and
    /// refused after ten seconds without a successful catch-up.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if the connection string does not parse (its text is not
    /// repeated: it may hold a password).
    pub fn new(connection: &str) -> Result<Self, StoreError> {
        let mut client =
            postgres::Config::from_str(connection).doing("parsing the connection string")?;
        // A database that stops answering must fail calls within seconds, not hang them:
        // the audit lock and the pool count on it. Values the connection string sets are
        // kept.
        if client.get_connect_timeout().is_none() {
            client.connect_timeout(CONNECT_TIMEOUT);
        }
        if client.get_tcp_user_timeout().is_none() {
            client.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        client
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES);
        Ok(Self {
            client,
            schema: "steward".to_owned(),
            facts_poll: Duration::from_secs(1),
            facts_max_staleness: Duration::from_secs(10),
            max_connections: POOL_MAX,
            vault: SealConfig::default(),
        })
    }

    /// Keeps the store in `schema` (created if missing): lower-case ASCII letters, digits
    /// and underscores, starting with a letter, at most 63 bytes. Several deployments (or
    /// tests) can share a database in schemas of their own.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] ([`PgError::InvalidConfig`]) for any other name.
    pub fn with_schema(mut self, schema: &str) -> Result<Self, StoreError> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema.starts_with(|c: char| c.is_ascii_lowercase())
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(PgError::InvalidConfig {
                reason: "a schema name is 1 to 63 lower-case ASCII letters, digits or underscores, starting with a letter",
            }
            .doing(CHECKING_CONFIG));
        }
        schema.clone_into(&mut self.schema);
        Ok(self)
    }

    /// How long a [`FactsFollower`] waits for a notification before it polls anyway: the
    /// staleness bound when a notification is lost.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] ([`PgError::InvalidConfig`]) for zero, or for more than the
    /// maximum staleness.
    pub fn with_facts_poll(mut self, poll: Duration) -> Result<Self, StoreError> {
        if poll.is_zero() || poll > self.facts_max_staleness {
            return Err(PgError::InvalidConfig {
                reason: "the facts poll interval must be above zero and at most the maximum staleness",
            }
            .doing(CHECKING_CONFIG));
        }
        self.facts_poll = poll;
        Ok(self)
    }

    /// How long a node's facts may go without a successful catch-up (the database out of
    /// reach) before they stop answering: every decision then denies until they catch up.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] ([`PgError::InvalidConfig`]) if it is below the poll interval.
    pub fn with_facts_max_staleness(mut self, bound: Duration) -> Result<Self, StoreError> {
        if bound < self.facts_poll {
            return Err(PgError::InvalidConfig {
                reason: "the maximum staleness must be at least the facts poll interval",
            }
            .doing(CHECKING_CONFIG));
        }
        self.facts_max_staleness = bound;
        Ok(self)
    }

    /// Opens at most `max` pooled connections (16 by default); a call that finds them all
    /// in use waits for one, for up to the connect timeout. Each node also keeps one
    /// connection for its audit trail and one for its facts follower: size the server's
    /// `max_connections` for the nodes times (`max` + 2).
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] ([`PgError::InvalidConfig`]) for zero.
    pub fn with_max_connections(mut self, max: usize) -> Result<Self, StoreError> {
        if max == 0 {
            return Err(PgError::InvalidConfig {
                reason: "a store needs at least one pooled connection",
            }
            .doing(CHECKING_CONFIG));
        }
        self.max_connections = max;
        Ok(self)
    }

    /// Seals with `config`; its records-per-key-version limit is enforced by the database
    /// across all nodes (give every node the same).
    #[must_use]
    pub const fn with_seal_config(mut self, config: SealConfig) -> Self {
        self.vault = config;
        self
    }

    /// The schema the store lives in.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The facts poll interval.
    #[must_use]
    pub const fn facts_poll(&self) -> Duration {
        self.facts_poll
    }

    /// The facts staleness bound.
    #[must_use]
    pub const fn facts_max_staleness(&self) -> Duration {
        self.facts_max_staleness
    }

    /// How the nodes' vaults seal: see [`with_seal_config`](Self::with_seal_config).
    #[must_use]
    pub const fn seal_config(&self) -> &SealConfig {
        &self.vault
    }
}

impl fmt::Debug for PgConfig {
    /// The connection string may carry a password: only the schema and bounds are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("schema", &self.schema)
            .field("facts_poll", &self.facts_poll)
            .field("facts_max_staleness", &self.facts_max_staleness)
            .finish_non_exhaustive()
    }
}

/// The PostgreSQL store: a handle on one database schema shared by several nodes.
///
/// Cheap to clone and `Send + Sync`; clones share a small pool of connections. Every write
/// is one transaction, committed (durable, under the server's `synchronous_commit`) before
/// the call returns.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: PgConfig,
    pool: Mutex<Pool>,
    /// Signalled when a pooled connection is given back.
    returned: Condvar,
    /// Chains the fact-log entries the store writes with their effect (key shreds, record
    /// deletions), in the same transaction.
    fact_key: FactLogKey,
}

/// The pooled connections not in use, and how many are.
#[derive(Default)]
struct Pool {
    idle: Vec<Conn>,
    in_use: usize,
}

/// A pooled connection and the statements prepared on it: a hot statement is parsed once per
/// connection, and then costs one round trip instead of two.
struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl PgStore {
    /// Creates the store in the configured schema if it holds none (schema, tables and the
    /// check values of `keys`), or else opens it as [`open`](Self::open) does: checks `keys`
    /// against the check values stored by the first node and migrates the tables to this
    /// build's version.
    ///
    /// Unlike [`SqliteStore::create`](crate::SqliteStore::create), which refuses a file that
    /// exists, this does not refuse a store that exists: several nodes start at once against
    /// one database, and no node can know it is the first. The setup runs under an advisory
    /// lock, in one transaction, so exactly one of them creates the tables and the others
    /// open them.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] if the server cannot be reached or the schema cannot be
    /// created; [`StoreError::SchemaTooNew`] for a schema written by a newer build (nothing
    /// is changed in it); [`StoreError::WrongMasterKey`], [`StoreError::MasterKeyNotCurrent`]
    /// or [`StoreError::WrongAuditKey`] for keys that are not the database's.
    pub fn create(config: &PgConfig, keys: &StoreKeys) -> Result<Self, StoreError> {
        Self::start(config, keys, Setup::CreateIfMissing)
    }

    /// Opens the store in the configured schema, as
    /// [`SqliteStore::open`](crate::SqliteStore::open) opens a file: checks `keys` against
    /// the stored check values and migrates the tables to this build's version, and refuses a
    /// schema that holds no store instead of creating one. For tools, such as the operator's
    /// `steward audit verify --postgres`, that must not take a mistyped schema name for an
    /// empty chain.
    ///
    /// # Errors
    ///
    /// [`StoreError::Postgres`] ([`PgError::StoreMissing`]) if the schema holds no store; as
    /// [`create`](Self::create) otherwise.
    pub fn open(config: &PgConfig, keys: &StoreKeys) -> Result<Self, StoreError> {
        Self::start(config, keys, Setup::ExistingOnly)
    }

    fn start(config: &PgConfig, keys: &StoreKeys, setup: Setup) -> Result<Self, StoreError> {
        let store = Self {
            inner: Arc::new(Inner {
                config: config.clone(),
                pool: Mutex::new(Pool::default()),
                returned: Condvar::new(),
                fact_key: keys.audit_key()?.fact_log_key(),
            }),
        };
        let mut client = store.client()?;
        let mut tx = client.transaction().doing("starting the schema setup")?;
        // Before anything else, so that nodes starting at once create the schema once.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .doing("locking the schema setup")?;
        let exists: bool = tx
            .query_one("SELECT to_regclass('meta') IS NOT NULL", &[])
            .doing("looking for the store")?
            .try_get(0)
            .doing("looking for the store")?;
        if exists {
            let row = tx
                .query_one(
                    "SELECT schema_version, current_master_key, audit_key_check FROM meta",
                    &[],
                )
                .doing("reading the store's metadata")?;
            let version: i32 = row.try_get(0).doing("reading the schema version")?;
            if version > PG_SCHEMA_VERSION {
                return Err(StoreError::SchemaTooNew {
                    found: u32::try_from(version).unwrap_or(u32::MAX),
                    supported: PG_SCHEMA_VERSION.unsigned_abs(),
                });
            }
            let current: String = row.try_get(1).doing("reading the master key id")?;
            let audit_check: Vec<u8> = row.try_get(2).doing("reading the audit key check")?;
            verify_keys(&mut tx, keys, &current, &audit_check)?;
            if version < 2 {
                migrate_to_chained_facts(&mut tx)?;
            }
            if version < 3 {
                migrate_to_export_lineage(&mut tx)?;
            }
        } else {
            if setup == Setup::ExistingOnly {
                return Err(PgError::StoreMissing {
                    schema: config.schema.clone(),
                }
                .doing("opening the store"));
            }
            tx.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS \"{schema}\"",
                schema = config.schema
            ))
            .doing("creating the schema")?;
            tx.batch_execute(include_str!("schema.sql"))
                .doing("creating the tables")?;
            initialize(&mut tx, keys)?;
        }
        tx.commit().doing("committing the schema setup")?;
        drop(client);
        Ok(store)
    }

    /// The key that chains the fact-log entries the store writes itself.
    pub(crate) fn fact_key(&self) -> &FactLogKey {
        &self.inner.fact_key
    }

    /// The channel fact changes are announced on: the schema's name, so that deployments in
    /// other schemas of the database are not woken by them.
    pub(crate) fn facts_channel(&self) -> &str {
        &self.inner.config.schema
    }

    /// The configuration this store was created or opened with.
    #[must_use]
    pub fn config(&self) -> &PgConfig {
        &self.inner.config
    }

    /// A new connection of its own (not pooled), with the store's schema on its search path.
    pub(crate) fn connect_client(&self) -> Result<Client, StoreError> {
        let mut client = self
            .inner
            .config
            .client
            .connect(NoTls)
            .doing("connecting to PostgreSQL")?;
        // Every transaction here is written for READ COMMITTED (a locking read sees the newest
        // committed row; a later statement sees what committed meanwhile), whatever the
        // database or role defaults to.
        client
            .batch_execute(&format!(
                "SET search_path TO \"{schema}\"; \
                 SET default_transaction_isolation TO 'read committed'",
                schema = self.inner.config.schema
            ))
            .doing("configuring a connection")?;
        Ok(client)
    }

    /// A pooled connection, returned to the pool when dropped (unless it broke). Waits for
    /// one while all are in use, for up to the connect timeout.
    pub(crate) fn client(&self) -> Result<Pooled<'_>, StoreError> {
        let max = self.inner.config.max_connections;
        let deadline = std::time::Instant::now() + CONNECT_TIMEOUT;
        let mut pool = self.lock_pool();
        loop {
            while let Some(conn) = pool.idle.pop() {
                // A connection the server closed is dropped here, not handed out.
                if !conn.client.is_closed() {
                    pool.in_use += 1;
                    return Ok(Pooled {
                        store: self,
                        conn: Some(conn),
                    });
                }
            }
            if pool.in_use < max {
                pool.in_use += 1;
                drop(pool);
                return match self.connect_client() {
                    Ok(client) => Ok(Pooled {
                        store: self,
                        conn: Some(Conn {
                            client,
                            statements: HashMap::new(),
                        }),
                    }),
                    Err(error) => {
                        self.lock_pool().in_use -= 1;
                        self.inner.returned.notify_one();
                        Err(error)
                    }
                };
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(PgError::PoolExhausted { max }.doing("waiting for a pooled connection"));
            }
            pool = self
                .inner
                .returned
                .wait_timeout(pool, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn lock_pool(&self) -> MutexGuard<'_, Pool> {
        // The pool holds no invariant a panic could break half-way.
        self.inner
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.inner.config.schema)
            .finish_non_exhaustive()
    }
}

/// A connection borrowed from the pool.
pub(crate) struct Pooled<'s> {
    store: &'s PgStore,
    conn: Option<Conn>,
}

impl Pooled<'_> {
    /// `sql` prepared on this connection: parsed by the server the first time only.
    pub(crate) fn prepared(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        let conn = self.conn_mut();
        if let Some(statement) = conn.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = conn.client.prepare(sql).doing("preparing a statement")?;
        conn.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    fn conn_mut(&mut self) -> &mut Conn {
        // INVARIANT: `conn` is `Some` until drop.
        #[expect(clippy::unwrap_used, reason = "the connection is taken only in drop")]
        self.conn.as_mut().unwrap()
    }
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        #[expect(clippy::unwrap_used, reason = "the connection is taken only in drop")]
        &self.conn.as_ref().unwrap().client
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.conn_mut().client
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let mut pool = self.store.lock_pool();
        pool.in_use = pool.in_use.saturating_sub(1);
        if let Some(conn) = self.conn.take()
            && !conn.client.is_closed()
        {
            pool.idle.push(conn);
        }
        drop(pool);
        self.store.inner.returned.notify_one();
    }
}

/// Column `index` of `row`, refused as corrupt (never a panic) if it does not hold the type
/// the store's schema gives it: a table of the same name made by something else.
/// Schema version 2 chains the fact log under the audit key. Version 1's entries carry no
/// hash, and chaining them now would bless whatever was edited into them: a version 1 store
/// with facts is refused, untouched; an empty one gains the column.
fn migrate_to_chained_facts(tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
    let any: bool = column(
        &tx.query_one("SELECT EXISTS (SELECT 1 FROM fact_events)", &[])
            .doing("checking the version 1 fact log")?,
        0,
        "fact_events",
    )?;
    if any {
        return Err(StoreError::UnprovenFacts {
            table: "fact_events",
        });
    }
    tx.batch_execute(
        "ALTER TABLE fact_events ADD COLUMN hash bytea NOT NULL CHECK (length(hash) = 32); \
         CREATE TABLE fact_snapshots ( \
             sequence bigint PRIMARY KEY CHECK (sequence >= 1), \
             head bytea NOT NULL CHECK (length(head) = 32), \
             body bytea NOT NULL, \
             mac bytea NOT NULL CHECK (length(mac) = 32)); \
         UPDATE meta SET schema_version = 2 WHERE singleton = 1;",
    )
    .doing("migrating to schema version 2")
}

/// Schema version 3 adds the export lineage tables (the same statements as `schema.sql`).
fn migrate_to_export_lineage(tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
    tx.batch_execute(&format!(
        "{LINEAGE_TABLES} UPDATE meta SET schema_version = 3 WHERE singleton = 1;"
    ))
    .doing("migrating to schema version 3")
}

/// The export lineage tables, as `schema.sql` creates them.
const LINEAGE_TABLES: &str = "\
    CREATE TABLE IF NOT EXISTS export_jobs ( \
        job bytea PRIMARY KEY CHECK (length(job) = 16), \
        scope text NOT NULL, \
        at_nanos bigint NOT NULL, \
        recipients text NOT NULL); \
    CREATE TABLE IF NOT EXISTS export_customers ( \
        job bytea NOT NULL REFERENCES export_jobs (job), \
        customer bytea NOT NULL CHECK (length(customer) = 16), \
        records bigint NOT NULL CHECK (records >= 1), \
        PRIMARY KEY (job, customer)); \
    CREATE INDEX IF NOT EXISTS export_customers_by_customer ON export_customers (customer);";

pub(crate) fn column<'r, T: postgres::types::FromSql<'r>>(
    row: &'r postgres::Row,
    index: usize,
    table: &'static str,
) -> Result<T, StoreError> {
    row.try_get(index).map_err(|error| {
        StoreError::corrupt(
            table,
            "a column does not hold the store schema's type",
            error,
        )
    })
}

/// A read-only transaction that sees one snapshot of the database throughout (a consistent
/// keyring, a scan that is not torn by concurrent writes).
pub(crate) fn snapshot(client: &mut Client) -> Result<postgres::Transaction<'_>, StoreError> {
    client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .doing("starting a snapshot read")
}

/// Records the key checks of a new database.
fn initialize(tx: &mut postgres::Transaction<'_>, keys: &StoreKeys) -> Result<(), StoreError> {
    let id = keys.master_key_id();
    let check = keys.master_check()?;
    tx.execute(
        "INSERT INTO master_keys (id, check_nonce, check_sealed) VALUES ($1, $2, $3)",
        &[
            &id.as_str(),
            &check.nonce().as_slice(),
            &check.sealed().as_slice(),
        ],
    )
    .doing("recording the master key check")?;
    tx.execute(
        "INSERT INTO meta (singleton, schema_version, current_master_key, audit_key_check) \
         VALUES (1, $1, $2, $3)",
        &[
            &PG_SCHEMA_VERSION,
            &id.as_str(),
            &keys.audit_check()?.as_bytes().as_slice(),
        ],
    )
    .doing("recording the store's metadata")?;
    tx.execute(
        "INSERT INTO audit_head (singleton, entries, hash) VALUES (1, 0, NULL)",
        &[],
    )
    .doing("starting the audit chain")?;
    tx.execute("INSERT INTO facts_head (singleton, seq) VALUES (1, 0)", &[])
        .doing("starting the facts log")?;
    Ok(())
}

/// Checks `keys` against the stored check values.
fn verify_keys(
    tx: &mut postgres::Transaction<'_>,
    keys: &StoreKeys,
    current: &str,
    audit_check: &[u8],
) -> Result<(), StoreError> {
    let id = keys.master_key_id();
    let row = tx
        .query_opt(
            "SELECT check_nonce, check_sealed FROM master_keys WHERE id = $1",
            &[&id.as_str()],
        )
        .doing("reading the master key check")?;
    let Some(row) = row else {
        return Err(StoreError::MasterKeyNotCurrent {
            current: parse_master_id(current)?,
            given: id.clone(),
        });
    };
    let nonce: Vec<u8> = column(&row, 0, "master_keys")?;
    let sealed: Vec<u8> = column(&row, 1, "master_keys")?;
    keys.verify_master(&stored_master_check("master_keys", &nonce, &sealed)?)?;
    if current != id.as_str() {
        return Err(StoreError::MasterKeyNotCurrent {
            current: parse_master_id(current)?,
            given: id.clone(),
        });
    }
    keys.verify_audit(audit_check)
}

fn parse_master_id(text: &str) -> Result<MasterKeyId, StoreError> {
    text.parse()
        .map_err(|error| StoreError::corrupt("meta", "invalid master key id", error))
}
