//! The proxy's stores: one trait over memory, SQLite and PostgreSQL, and the sink each gives
//! the layer.

use std::{path::Path, sync::Arc};

use serde_json::{Value, json};
use steward::{
    AccessRequest, BoxError, Channel, ConsentActor, ConsentChange, CustomerId, DataCategory,
    DataRef, Facts, MemoryFacts, Policy, Purpose, RecordId, Request, RosterFacts, SealedRecord,
    StewardId, SystemClock, Timestamp, TrainingLevel, TrainingScope, Vault, VaultShredder,
    logs::{AuditKey, AuditStore, AuditTrail, Keyring, MasterKey, MemoryAuditStore},
    retention::{RecordMeta, Sweep},
};
use steward_store::{
    DurableFacts, Effective, FactLog, GroupCommitter, RecordScan, SqliteStore, StoreKeys,
    StoreVault, SweepRecords, open_vault,
};
use steward_tower::{Admission, Exchange, LogFuture, MemoryLog, RequestLog, SinkError, admission};

use crate::StoreMode;

/// What the proxy's endpoints ask of a store. Every call blocks: the handlers run it on
/// tokio's blocking pool.
pub(crate) trait Backend: Send + Sync {
    /// The layer's sink (called inside the runtime).
    fn sink(&self) -> Arc<dyn RequestLog>;
    fn start(&self, customer: CustomerId) -> Result<(), BoxError>;
    fn end(&self, customer: CustomerId) -> Result<(), BoxError>;
    fn consent(&self, customer: CustomerId, level: TrainingLevel) -> Result<u64, BoxError>;
    fn add_steward(&self, steward: StewardId) -> Result<(), BoxError>;
    fn open(
        &self,
        steward: StewardId,
        purpose: Purpose,
        justification: &str,
        record: RecordId,
    ) -> Result<Vec<u8>, BoxError>;
    fn export(&self, scope: TrainingScope) -> Result<Value, BoxError>;
    fn sweep(&self) -> Result<Value, BoxError>;
    fn has_record(&self, record: RecordId) -> Result<bool, BoxError>;
    fn shutdown(&self) -> Result<(), BoxError>;
}

/// Demo keys: fixed bytes so that two proxies and the checker agree. Never with real data.
fn demo_keys() -> Result<StoreKeys, BoxError> {
    Ok(StoreKeys::new(
        "kek-proxy-demo".parse()?,
        b"steward test key 42, not secret!",
        b"steward test key 17, not secret!",
    )?)
}

/// The admin who changes the roster in this example.
fn admin() -> Result<steward::AdminId, BoxError> {
    Ok("proxy.admin".parse()?)
}

pub(crate) fn open(
    mode: &StoreMode,
    create: bool,
    schema: &str,
    policy: Policy,
) -> Result<Option<Arc<dyn Backend>>, BoxError> {
    Ok(match mode {
        StoreMode::None => None,
        StoreMode::Memory => Some(Arc::new(MemoryBackend::new(policy)?)),
        StoreMode::Sqlite(path) => Some(Arc::new(SqliteBackend::open(path, create, policy)?)),
        StoreMode::Postgres(connection) => Some(postgres(connection, create, schema, policy)?),
    })
}

#[cfg(feature = "postgres")]
fn postgres(
    connection: &str,
    create: bool,
    schema: &str,
    policy: Policy,
) -> Result<Arc<dyn Backend>, BoxError> {
    Ok(Arc::new(pg::PgBackend::open(
        connection, create, schema, policy,
    )?))
}

#[cfg(not(feature = "postgres"))]
fn postgres(_: &str, _: bool, _: &str, _: Policy) -> Result<Arc<dyn Backend>, BoxError> {
    Err("this proxy was built without the feature `postgres`".into())
}

/// The layer's sink over a vault whose store writes block: admission from the facts in
/// memory, and each record sealed and written on tokio's blocking pool.
struct BlockingLog<F, S> {
    vault: Arc<Vault<F, S>>,
    put: Arc<dyn Fn(&Exchange) -> Result<(), BoxError> + Send + Sync>,
    runtime: tokio::runtime::Handle,
}

impl<F, S> BlockingLog<F, S> {
    fn spawn(&self, exchange: Exchange) -> tokio::task::JoinHandle<Result<RecordId, BoxError>> {
        let put = Arc::clone(&self.put);
        // Started now, not when polled: a detached record is written all the same.
        self.runtime.spawn_blocking(move || {
            put(&exchange)?;
            Ok(exchange.record())
        })
    }
}

impl<F, S> RequestLog for BlockingLog<F, S>
where
    F: RosterFacts + 'static,
    S: AuditStore + 'static,
    Vault<F, S>: Send + Sync,
{
    fn admit(&self, customer: CustomerId, now: Timestamp) -> Result<Admission, SinkError> {
        let facts = self
            .vault
            .facts()
            .map_err(|error| SinkError::Unavailable(error.into()))?;
        Ok(admission(self.vault.policy(), &*facts, customer, now))
    }

    fn log(&self, exchange: Exchange) -> LogFuture {
        let handle = self.spawn(exchange);
        LogFuture::new(async move {
            match handle.await {
                Ok(Ok(record)) => Ok(record),
                Ok(Err(error)) => Err(SinkError::Unavailable(error)),
                Err(error) => Err(SinkError::Unavailable(error.into())),
            }
        })
    }

    fn log_detached(&self, exchange: Exchange) {
        drop(self.spawn(exchange));
    }
}

/// Which records of the store a training job at `scope` may take now, decided on the
/// consent ledger's level at each record's collection (`training.*`).
fn export_plan<F: Facts + ?Sized>(
    policy: &Policy,
    facts: &F,
    scope: TrainingScope,
    records: impl Iterator<Item = (RecordId, CustomerId, Timestamp)>,
) -> Value {
    let now = Timestamp::now();
    let (mut taken, mut refused) = (0_u64, 0_u64);
    for (record, customer, at) in records {
        let data = DataRef::new(DataCategory::LlmRequestLog, customer, at).with_record(record);
        if policy
            .check(&Request::train(scope, data, now), facts)
            .is_allowed()
        {
            taken += 1;
        } else {
            refused += 1;
        }
    }
    json!({ "scope": scope.to_string(), "taken": taken, "refused": refused })
}

fn consent_change(
    policy: &Policy,
    customer: CustomerId,
    level: TrainingLevel,
    now: Timestamp,
) -> ConsentChange {
    ConsentChange::new(
        customer,
        level,
        now,
        ConsentActor::Customer,
        Channel::AccountSettings,
        policy.version().clone(),
    )
}

fn open_bytes<F: RosterFacts, S: AuditStore>(
    vault: &Vault<F, S>,
    bytes: Vec<u8>,
    steward: StewardId,
    purpose: Purpose,
    justification: &str,
) -> Result<Vec<u8>, BoxError> {
    let record = SealedRecord::from_vec(bytes)?;
    let request = AccessRequest::with_justification_text(steward, purpose, justification);
    Ok(vault.open(&record, &request)?.as_bytes().to_vec())
}

// ---- memory ----

type MemoryVault = Vault<MemoryFacts, MemoryAuditStore>;

struct MemoryBackend {
    log: Arc<MemoryLog<MemoryFacts, MemoryAuditStore>>,
}

impl MemoryBackend {
    fn new(policy: Policy) -> Result<Self, BoxError> {
        let facts = MemoryFacts::new(&policy);
        let master = MasterKey::from_bytes(
            "kek-proxy-demo".parse()?,
            b"steward test key 42, not secret!",
        )?;
        let trail = AuditTrail::new(
            AuditKey::from_bytes(b"steward test key 17, not secret!")?,
            MemoryAuditStore::new(),
        )?;
        let vault: MemoryVault = Vault::new(policy, facts, Keyring::new(master), trail)?;
        Ok(Self {
            log: Arc::new(MemoryLog::new(Arc::new(vault))),
        })
    }

    fn vault(&self) -> &MemoryVault {
        self.log.vault()
    }
}

impl Backend for MemoryBackend {
    fn sink(&self) -> Arc<dyn RequestLog> {
        Arc::clone(&self.log) as Arc<dyn RequestLog>
    }

    fn start(&self, customer: CustomerId) -> Result<(), BoxError> {
        Ok(self
            .vault()
            .update_facts(|facts| facts.relationships.start(customer, Timestamp::now()))??)
    }

    fn end(&self, customer: CustomerId) -> Result<(), BoxError> {
        Ok(self
            .vault()
            .update_facts(|facts| facts.relationships.end(customer, Timestamp::now()))??)
    }

    fn consent(&self, customer: CustomerId, level: TrainingLevel) -> Result<u64, BoxError> {
        let now = Timestamp::now();
        let change = consent_change(self.vault().policy(), customer, level, now);
        let receipt = self
            .vault()
            .update_facts(|facts| facts.consent.record(change, now))??;
        Ok(u64::from(receipt.receipt.get()))
    }

    fn add_steward(&self, steward: StewardId) -> Result<(), BoxError> {
        Ok(self.vault().add_steward(steward, admin()?)?)
    }

    fn open(
        &self,
        steward: StewardId,
        purpose: Purpose,
        justification: &str,
        record: RecordId,
    ) -> Result<Vec<u8>, BoxError> {
        let bytes = self
            .log
            .records()
            .into_iter()
            .find(|(id, _)| *id == record)
            .map(|(_, bytes)| bytes)
            .ok_or("no such record")?;
        open_bytes(self.vault(), bytes, steward, purpose, justification)
    }

    fn export(&self, scope: TrainingScope) -> Result<Value, BoxError> {
        let mut records = Vec::new();
        for (_, bytes) in self.log.records() {
            let header = *SealedRecord::from_bytes(&bytes)?.header();
            records.push((header.record_id(), header.customer(), header.created_at()));
        }
        let facts = self.vault().facts()?;
        Ok(export_plan(
            self.vault().policy(),
            &*facts,
            scope,
            records.into_iter(),
        ))
    }

    fn sweep(&self) -> Result<Value, BoxError> {
        Err("the sweep runs on the durable stores (`--store sqlite:PATH`)".into())
    }

    fn has_record(&self, record: RecordId) -> Result<bool, BoxError> {
        Ok(self.log.records().iter().any(|(id, _)| *id == record))
    }

    fn shutdown(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

// ---- the durable stores' facts (SQLite and PostgreSQL share them) ----

fn durable_start<L: FactLog, A: AuditStore>(
    vault: &Vault<DurableFacts<L>, A>,
    customer: CustomerId,
) -> Result<(), BoxError> {
    Ok(vault.update_facts(|facts| facts.start_relationship(customer, Effective::Now))??)
}

fn durable_end<L: FactLog, A: AuditStore>(
    vault: &Vault<DurableFacts<L>, A>,
    customer: CustomerId,
) -> Result<(), BoxError> {
    Ok(vault.update_facts(|facts| facts.end_relationship(customer, Effective::Now))??)
}

fn durable_consent<L: FactLog, A: AuditStore>(
    vault: &Vault<DurableFacts<L>, A>,
    customer: CustomerId,
    level: TrainingLevel,
) -> Result<u64, BoxError> {
    let change = consent_change(vault.policy(), customer, level, Timestamp::now());
    let receipt = vault.update_facts(|facts| facts.record_consent(change))??;
    Ok(u64::from(receipt.receipt.get()))
}

// ---- SQLite ----

struct SqliteBackend {
    store: SqliteStore,
    vault: Arc<StoreVault>,
    committer: Arc<GroupCommitter>,
}

impl SqliteBackend {
    fn open(path: &Path, create: bool, policy: Policy) -> Result<Self, BoxError> {
        let keys = demo_keys()?;
        let store = if create {
            SqliteStore::create(path, &keys)?
        } else {
            SqliteStore::open(path, &keys)?
        };
        let vault = Arc::new(open_vault(&store, &keys, policy)?);
        let committer = Arc::new(GroupCommitter::new(&store)?);
        Ok(Self {
            store,
            vault,
            committer,
        })
    }
}

impl Backend for SqliteBackend {
    fn sink(&self) -> Arc<dyn RequestLog> {
        let (vault, committer) = (Arc::clone(&self.vault), Arc::clone(&self.committer));
        Arc::new(BlockingLog {
            vault: Arc::clone(&self.vault),
            put: Arc::new(move |exchange: &Exchange| {
                let record = vault.seal(
                    exchange.record(),
                    exchange.customer(),
                    exchange.at(),
                    &exchange.document(),
                )?;
                committer.put(record, DataCategory::LlmRequestLog)?;
                Ok(())
            }),
            runtime: tokio::runtime::Handle::current(),
        })
    }

    fn start(&self, customer: CustomerId) -> Result<(), BoxError> {
        durable_start(&self.vault, customer)
    }

    fn end(&self, customer: CustomerId) -> Result<(), BoxError> {
        durable_end(&self.vault, customer)
    }

    fn consent(&self, customer: CustomerId, level: TrainingLevel) -> Result<u64, BoxError> {
        durable_consent(&self.vault, customer, level)
    }

    fn add_steward(&self, steward: StewardId) -> Result<(), BoxError> {
        Ok(self.vault.add_steward(steward, admin()?)?)
    }

    fn open(
        &self,
        steward: StewardId,
        purpose: Purpose,
        justification: &str,
        record: RecordId,
    ) -> Result<Vec<u8>, BoxError> {
        let bytes = self.store.record(record)?.ok_or("no such record")?;
        open_bytes(&self.vault, bytes, steward, purpose, justification)
    }

    fn export(&self, scope: TrainingScope) -> Result<Value, BoxError> {
        let metas = self
            .store
            .record_metas(RecordScan::All)
            .collect::<Result<Vec<RecordMeta>, _>>()?;
        let facts = self.vault.facts()?;
        Ok(export_plan(
            self.vault.policy(),
            &*facts,
            scope,
            metas
                .iter()
                .map(|meta| (meta.id(), meta.customer(), meta.collected_at())),
        ))
    }

    fn sweep(&self) -> Result<Value, BoxError> {
        // As `steward sweep --execute`: at now, never before the newest fact.
        let floor = self.vault.decision_instant()?;
        let records = self
            .store
            .record_metas(RecordScan::All)
            .collect::<Result<Vec<_>, _>>()?;
        let scanned = records.len();
        let facts = self.vault.facts()?;
        let sweep = Sweep::new(
            self.vault.policy().retention(),
            facts.relationships()?,
            facts.holds()?,
        );
        let plan = sweep.plan(records, floor);
        let mut store = SweepRecords::new(self.store.clone(), &*facts);
        let mut shredder = VaultShredder::new(&*self.vault, &*facts);
        let report = sweep.execute(&plan, &mut store, &mut shredder, &SystemClock);
        Ok(json!({
            "scanned": scanned,
            "deleted": report.deleted().len(),
            "shredded": report.shredded().len(),
            "failures": report.failures().len(),
        }))
    }

    fn has_record(&self, record: RecordId) -> Result<bool, BoxError> {
        Ok(self.store.record(record)?.is_some())
    }

    fn shutdown(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

// ---- PostgreSQL ----

#[cfg(feature = "postgres")]
mod pg {
    use std::{sync::Arc, time::Duration};

    use serde_json::Value;
    use steward::{
        BoxError, CustomerId, DataCategory, Policy, Purpose, RecordId, StewardId, TrainingLevel,
        TrainingScope,
    };
    use steward_store::{
        StoreKeys, open_vault,
        pg::{FactsFollower, PgConfig, PgStore, PgVault},
    };
    use steward_tower::{Exchange, RequestLog};

    use super::{
        Backend, BlockingLog, admin, demo_keys, durable_consent, durable_end, durable_start,
        open_bytes,
    };

    pub(super) struct PgBackend {
        store: PgStore,
        vault: Arc<PgVault>,
        _follower: FactsFollower,
    }

    impl PgBackend {
        pub(super) fn open(
            connection: &str,
            create: bool,
            schema: &str,
            policy: Policy,
        ) -> Result<Self, BoxError> {
            let keys: StoreKeys = demo_keys()?;
            let config = PgConfig::new(connection)?
                .with_schema(schema)?
                .with_facts_poll(Duration::from_millis(250))?;
            let store = if create {
                PgStore::create(&config, &keys)?
            } else {
                PgStore::open(&config, &keys)?
            };
            let vault = Arc::new(open_vault(&store, &keys, policy)?);
            let follower = FactsFollower::start(Arc::clone(&vault), &store)?;
            Ok(Self {
                store,
                vault,
                _follower: follower,
            })
        }
    }

    impl Backend for PgBackend {
        fn sink(&self) -> Arc<dyn RequestLog> {
            // The store's handle is Send but not Sync: each write takes a clone of its own.
            let store = std::sync::Mutex::new(self.store.clone());
            let vault = Arc::clone(&self.vault);
            Arc::new(BlockingLog {
                vault: Arc::clone(&self.vault),
                put: Arc::new(move |exchange: &Exchange| {
                    let store = store.lock().map_err(|_| "poisoned")?.clone();
                    store.seal_durable(
                        &vault,
                        exchange.record(),
                        exchange.customer(),
                        exchange.at(),
                        &exchange.document(),
                        DataCategory::LlmRequestLog,
                    )?;
                    Ok(())
                }),
                runtime: tokio::runtime::Handle::current(),
            })
        }

        fn start(&self, customer: CustomerId) -> Result<(), BoxError> {
            durable_start(&self.vault, customer)
        }

        fn end(&self, customer: CustomerId) -> Result<(), BoxError> {
            durable_end(&self.vault, customer)
        }

        fn consent(&self, customer: CustomerId, level: TrainingLevel) -> Result<u64, BoxError> {
            durable_consent(&self.vault, customer, level)
        }

        fn add_steward(&self, steward: StewardId) -> Result<(), BoxError> {
            Ok(self.vault.add_steward(steward, admin()?)?)
        }

        fn open(
            &self,
            steward: StewardId,
            purpose: Purpose,
            justification: &str,
            record: RecordId,
        ) -> Result<Vec<u8>, BoxError> {
            let bytes = self.store.record(record)?.ok_or("no such record")?;
            open_bytes(&self.vault, bytes, steward, purpose, justification)
        }

        fn export(&self, _: TrainingScope) -> Result<Value, BoxError> {
            Err("the export plan runs on SQLite and memory in this example".into())
        }

        fn sweep(&self) -> Result<Value, BoxError> {
            Err("the sweep runs on SQLite in this example".into())
        }

        fn has_record(&self, record: RecordId) -> Result<bool, BoxError> {
            Ok(self.store.record(record)?.is_some())
        }

        fn shutdown(&self) -> Result<(), BoxError> {
            Ok(())
        }
    }
}
