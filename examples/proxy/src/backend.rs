//! The proxy's stores: one trait over memory, SQLite and PostgreSQL, and the sink each gives
//! the layer.

use std::{path::Path, sync::Arc};

use serde_json::{Value, json};
use steward::{
    DataRef, Facts, MemoryFacts, Policy, Request, RosterFacts, Vault,
    consent::{Channel, ConsentActor, ConsentChange},
    logs::{
        AccessRequest, AuditKey, AuditStore, AuditTrail, BoxError, Keyring, MasterKey,
        MemoryAuditStore, SealedRecord,
    },
    retention::{RecordMeta, Sweep, SweepBatch, SweepProgress},
    vocabulary::{
        CustomerId, DataCategory, Purpose, RecordId, StewardId, SystemClock, Timestamp,
        TrainingLevel, TrainingScope,
    },
};
use steward_store::{
    DurableFacts, Effective, FactLog, Ingest, IngestConfig, RecordScan, SqliteStore, StoreKeys,
    StoreSweep, StoreVault, open_vault,
};
use steward_tower::{IngestLog, RequestLog};

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
fn admin() -> Result<steward::vocabulary::AdminId, BoxError> {
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
    vault: Arc<MemoryVault>,
    ingest: Ingest,
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
        let vault = Arc::new(Vault::new(policy, facts, Keyring::new(master), trail)?);
        let ingest = Ingest::memory(Arc::clone(&vault), IngestConfig::default())?;
        Ok(Self { vault, ingest })
    }

    fn vault(&self) -> &MemoryVault {
        &self.vault
    }

    fn record(&self, record: RecordId) -> Option<Vec<u8>> {
        self.ingest.memory_records()?.record(record)
    }
}

impl Backend for MemoryBackend {
    fn sink(&self) -> Arc<dyn RequestLog> {
        Arc::new(IngestLog::new(self.ingest.clone(), Arc::clone(&self.vault)))
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
        let bytes = self.record(record).ok_or("no such record")?;
        open_bytes(self.vault(), bytes, steward, purpose, justification)
    }

    fn export(&self, scope: TrainingScope) -> Result<Value, BoxError> {
        let mut records = Vec::new();
        let ids = self
            .ingest
            .memory_records()
            .map(steward_store::MemoryRecords::ids)
            .unwrap_or_default();
        for bytes in ids.into_iter().filter_map(|id| self.record(id)) {
            let header = *SealedRecord::from_bytes(&bytes)?.header();
            records.push((header.record_id(), header.customer(), header.collected_at()));
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
        Ok(self.record(record).is_some())
    }

    fn shutdown(&self) -> Result<(), BoxError> {
        report(&self.ingest)
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
    ingest: Ingest,
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
        let ingest = Ingest::sqlite(Arc::clone(&vault), store.clone(), IngestConfig::default())?;
        Ok(Self {
            store,
            vault,
            ingest,
        })
    }
}

impl Backend for SqliteBackend {
    fn sink(&self) -> Arc<dyn RequestLog> {
        Arc::new(IngestLog::new(self.ingest.clone(), Arc::clone(&self.vault)))
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
        let plan = {
            // The facts are held for planning only; each step below takes them again for
            // one short batch, so chat requests, consent changes and opens go on meanwhile.
            let facts = self.vault.facts()?;
            Sweep::new(
                self.vault.policy().retention(),
                facts.relationships()?,
                facts.holds()?,
            )
            .plan(records, floor)
        };
        let mut sweep = StoreSweep::new(
            &self.vault,
            self.store.clone(),
            &plan,
            &SystemClock,
            SweepBatch::DEFAULT,
        );
        while sweep.step()? == SweepProgress::More {}
        let report = sweep.into_report();
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
        report(&self.ingest)
    }
}

/// Drains the ingest queue and says what it committed.
fn report(ingest: &Ingest) -> Result<(), BoxError> {
    let report = ingest.shutdown_blocking();
    eprintln!(
        "steward-proxy: ingest drained: {} committed, {} failed ({:?} acknowledgement)",
        report.committed(),
        report.failed(),
        report.acknowledge()
    );
    if report.failed() > 0 {
        return Err(format!("{} records failed to commit", report.failed()).into());
    }
    Ok(())
}

// ---- PostgreSQL ----

/// A sink whose `log` may block on I/O: `Ingest::log` seals on the caller's task, and sealing
/// on PostgreSQL may read a customer's keys through the blocking client, which must not run
/// on tokio's workers. Each exchange is handed to the blocking pool (started at once, so a
/// detached record is written all the same), which logs through the inner sink.
#[cfg(feature = "postgres")]
struct OffRuntime {
    inner: Arc<dyn RequestLog>,
    runtime: tokio::runtime::Handle,
}

#[cfg(feature = "postgres")]
impl RequestLog for OffRuntime {
    fn admit(
        &self,
        customer: CustomerId,
        now: Timestamp,
    ) -> Result<steward_tower::Admission, steward_tower::SinkError> {
        self.inner.admit(customer, now)
    }

    fn log(&self, exchange: steward_tower::Exchange) -> steward_tower::LogFuture {
        let inner = Arc::clone(&self.inner);
        let runtime = self.runtime.clone();
        let handle = self.runtime.spawn_blocking(move || {
            let logging = inner.log(exchange);
            runtime.block_on(logging)
        });
        steward_tower::LogFuture::new(async move {
            handle
                .await
                .map_err(|error| steward_tower::SinkError::Unavailable(error.into()))?
        })
    }

    fn log_detached(&self, exchange: steward_tower::Exchange) {
        let inner = Arc::clone(&self.inner);
        drop(
            self.runtime
                .spawn_blocking(move || inner.log_detached(exchange)),
        );
    }
}

#[cfg(feature = "postgres")]
mod pg {
    use std::{sync::Arc, time::Duration};

    use serde_json::Value;
    use steward::{
        Policy,
        logs::BoxError,
        vocabulary::{CustomerId, Purpose, RecordId, StewardId, TrainingLevel, TrainingScope},
    };
    use steward_store::{
        Ingest, IngestConfig, StoreKeys, open_vault,
        pg::{FactsFollower, PgConfig, PgStore, PgVault},
    };
    use steward_tower::{IngestLog, RequestLog};

    use super::{
        Backend, OffRuntime, admin, demo_keys, durable_consent, durable_end, durable_start,
        open_bytes, report,
    };

    pub(super) struct PgBackend {
        store: PgStore,
        vault: Arc<PgVault>,
        ingest: Ingest,
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
            let ingest =
                Ingest::postgres(Arc::clone(&vault), store.clone(), IngestConfig::default())?;
            Ok(Self {
                store,
                vault,
                ingest,
                _follower: follower,
            })
        }
    }

    impl Backend for PgBackend {
        fn sink(&self) -> Arc<dyn RequestLog> {
            Arc::new(OffRuntime {
                inner: Arc::new(IngestLog::new(self.ingest.clone(), Arc::clone(&self.vault))),
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
            report(&self.ingest)
        }
    }
}
