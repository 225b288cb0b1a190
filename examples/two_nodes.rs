//! Two proxy nodes on one PostgreSQL database, behaving as one vault: a new customer's first
//! records, sealed on both nodes at once, share one key; a consent change made on one node
//! reaches the other's `check()` within milliseconds; a steward opens records on either node
//! and both append to one audit chain; a shred on one node holds on the other before its next
//! seal and open; the chain verifies.
//!
//! Run: `STEWARD_POSTGRES="host=127.0.0.1 user=postgres dbname=test" cargo run -p
//! steward-examples --features postgres --example two_nodes`. It works in a schema of its own and drops it.
//! Without `STEWARD_POSTGRES` it says so and exits.

use std::{
    error::Error,
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

use steward::{consent::*, logs::*, vocabulary::*, *};
use steward_store::{
    StoreKeys, open_vault,
    pg::{FactsFollower, PgConfig, PgStore, PgVault},
};

/// A proxy node's logging side: seal under the consent in force, return once committed.
fn log(
    store: &PgStore,
    node: &PgVault,
    customer: CustomerId,
    prompt: &str,
) -> Result<SealedRecord, Box<dyn Error>> {
    let now = Timestamp::now();
    Ok(store.seal_durable(
        node,
        RecordId::generate_at(now),
        customer,
        now,
        prompt.as_bytes(),
        DataCategory::LlmRequestLog,
    )?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let Ok(connection) = std::env::var("STEWARD_POSTGRES") else {
        println!("Set STEWARD_POSTGRES to a PostgreSQL connection string to run this example.");
        return Ok(());
    };
    let schema = format!("steward_example_{}", std::process::id());
    let config = PgConfig::new(&connection)?
        .with_schema(&schema)?
        .with_facts_poll(Duration::from_millis(250))?;
    let result = run(&config);
    // The example's schema goes, whatever happened.
    let mut admin = postgres::Client::connect(&connection, postgres::NoTls)?;
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
    result
}

fn run(config: &PgConfig) -> Result<(), Box<dyn Error>> {
    // Every node gets the same keys (from files, the environment or a KMS).
    let keys = StoreKeys::new(
        "kek-demo-1".parse()?,
        b"steward test key 5a, not secret!",
        b"steward test key 17, not secret!",
    )?;
    println!(
        "== Two nodes on PostgreSQL, schema `{}` ==\n",
        config.schema()
    );
    let store = PgStore::create(config, &keys)?;
    let node_a = Arc::new(open_vault(&store, &keys, Policy::coder_model())?);
    let node_b = Arc::new(open_vault(&store, &keys, Policy::coder_model())?);
    let _follow_a = FactsFollower::start(Arc::clone(&node_a), &store)?;
    let _follow_b = FactsFollower::start(Arc::clone(&node_b), &store)?;

    let sam: StewardId = "sam.steward".parse()?;
    node_a.add_steward(sam.clone(), "dana.admin".parse()?)?;
    let ada: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01".parse()?;
    node_a.update_facts(|facts| facts.start_relationship(ada, Timestamp::now()))??;
    println!("node A: sam.steward on the roster, Ada's relationship started");

    println!("\n-- Ada's first requests arrive at both nodes at once --");
    let (on_a, on_b) = thread::scope(|scope| {
        let a =
            scope.spawn(|| log(&store, &node_a, ada, "fix my build").map_err(|e| e.to_string()));
        let b =
            scope.spawn(|| log(&store, &node_b, ada, "why is CI red").map_err(|e| e.to_string()));
        (a.join(), b.join())
    });
    let on_a = on_a.map_err(|_| "node A panicked")??;
    let on_b = on_b.map_err(|_| "node B panicked")??;
    println!(
        "  both sealed under key version {} and {}; the store holds {} key for Ada",
        on_a.header().key_version(),
        on_b.header().key_version(),
        store.customer_keys(ada)?.data_keys().len()
    );

    println!("\n-- Ada opts in to shared training on node A --");
    let changed = Instant::now();
    node_a.update_facts(|facts| {
        facts.record_consent(ConsentChange::new(
            ada,
            TrainingLevel::Shared,
            Timestamp::now(),
            ConsentActor::Customer,
            Channel::AccountSettings,
            Policy::coder_model().version().clone(),
        ))
    })??;
    while node_b.facts()?.training_level_at(ada, Timestamp::now()) != TrainingLevel::Shared {
        if changed.elapsed() > Duration::from_secs(5) {
            return Err("node B did not see the consent change".into());
        }
        thread::sleep(Duration::from_millis(1));
    }
    println!("  node B's check() sees it after {:?}", changed.elapsed());

    println!("\n-- sam.steward opens the records, one on each node --");
    let request = AccessRequest::with_justification_text(
        sam.clone(),
        Purpose::Troubleshooting,
        "INC-2041 timeouts",
    );
    let opened = node_b.open(&on_a, &request)?;
    println!(
        "  node B opened node A's record: {:?}",
        String::from_utf8_lossy(opened.as_bytes())
    );
    let opened = node_a.open(&on_b, &request)?;
    println!(
        "  node A opened node B's record: {:?}",
        String::from_utf8_lossy(opened.as_bytes())
    );

    println!("\n-- Ada is shredded on node A --");
    node_a.shred(ada)?;
    match node_b.open(&on_a, &request) {
        Err(error) => println!("  node B can no longer open her old record: {error}"),
        Ok(_) => return Err("node B opened a shredded record".into()),
    }
    let after = log(&store, &node_b, ada, "a new request")?;
    println!(
        "  node B seals her next request under a new key generation (version {})",
        after.header().key_version()
    );

    let head = node_a.audit()?.verify()?;
    println!(
        "\nThe one audit chain of both nodes verifies: {} entries, head {}",
        head.entries(),
        head.hash()
    );
    Ok(())
}
