//! The whole story of Steward in memory, printed step by step: customers with different
//! training preferences send LLM requests through a proxy; each request is sealed; a steward
//! opens one for troubleshooting (allowed, audited) and tries one for marketing (denied,
//! audited); a training job collects only the records whose consent at collection allows its
//! scope, before and after a customer changes preference; a relationship ends; the retention
//! sweep shreds that customer's keys; their records no longer open; the audit trail verifies.
//!
//! Run: `cargo run -p steward-examples --example proxy_flow`

use std::error::Error;

use steward::logs::{
    AuditEvent, AuditKey, AuditTrail, CheckpointSigner, Keyring, LogsError, MasterKey,
    MemoryAuditStore,
};
use steward::retention::{MemoryRecordStore, RecordMeta, Sweep};
use steward::{consent::*, logs::*, vocabulary::*, *};

/// One stored log record: the sealed bytes, as a database or object store would hold them.
struct StoredLog {
    who: &'static str,
    bytes: Vec<u8>,
}

/// The proxy's logging side: seals every request under the consent in force (logs.stored,
/// logs.encrypted, training.forward-only) and tells the retention store about it.
struct Proxy {
    vault: Vault<MemoryFacts, MemoryAuditStore>,
    /// The vault's audit clock: this demo moves it along its story's timeline.
    clock: ManualClock,
    logs: Vec<StoredLog>,
    store: MemoryRecordStore,
}

impl Proxy {
    fn handle(
        &mut self,
        (who, customer): (&'static str, CustomerId),
        at: &str,
        prompt: &str,
    ) -> Result<(), Box<dyn Error>> {
        let now: Timestamp = at.parse()?;
        self.clock.set(now);
        let id = RecordId::generate_at(now);
        let sealed = self.vault.seal(id, customer, now, prompt.as_bytes())?;
        let level = sealed.header().consent();
        self.store.insert(RecordMeta::new(
            id,
            customer,
            DataCategory::LlmRequestLog,
            now,
        ));
        println!(
            "  sealed {who}'s request at {now} under consent `{level}` ({} bytes at rest)",
            sealed.as_bytes().len()
        );
        self.logs.push(StoredLog {
            who,
            bytes: sealed.into_bytes(),
        });
        Ok(())
    }

    /// The stored record at `index`, parsed (a record that fails to parse is an error).
    fn record(&self, index: usize) -> Result<SealedRecord, Box<dyn Error>> {
        let log = self.logs.get(index).ok_or("no such record")?;
        Ok(SealedRecord::from_bytes(&log.bytes)?)
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("== Steward proxy flow: one policy, enforced end to end ==\n");
    let policy = Policy::coder_model();
    println!(
        "Policy `{}` (published {}): at most {} stewards, consent mode `{}`.\n",
        policy.version(),
        policy.published(),
        policy.max_stewards().get(),
        policy.consent_mode(),
    );

    // --- Setup: keys and audit keys come from configuration in production (file, env, KMS).
    // This demo uses fixed bytes so that it runs anywhere; never do that with real data.
    let mut facts = MemoryFacts::new(&policy);
    let master = MasterKey::from_bytes("kek-demo-1".parse()?, b"steward test key 5a, not secret!")?;
    // The vault dates audit entries by its own clock; the demo's clock follows its story.
    let clock = ManualClock::new("2025-03-01T00:00:00Z".parse()?);
    let trail = AuditTrail::with_clock(
        AuditKey::from_bytes(b"steward test key 17, not secret!")?,
        MemoryAuditStore::new(),
        clock.clone(),
    )?;
    let signer = CheckpointSigner::from_pkcs8(&CheckpointSigner::generate_pkcs8()?)?;

    let ada: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a01".parse()?;
    let ben: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a02".parse()?;
    for customer in [ada, ben] {
        facts
            .relationships
            .start(customer, "2025-03-01T00:00:00Z".parse()?)?;
    }
    // Ada opts in to shared training; Ben keeps the default (training.default-off).
    // Recorded at the instant it takes effect; a service passes its clock's now.
    let opted_in: Timestamp = "2025-03-02T00:00:00Z".parse()?;
    facts.consent.record(
        ConsentChange::new(
            ada,
            TrainingLevel::Shared,
            opted_in,
            ConsentActor::Customer,
            Channel::AccountSettings,
            policy.version().clone(),
        ),
        opted_in,
    )?;
    println!("Ada opted in to shared training; Ben kept the default (no training).\n");

    // The vault owns the facts from here on: one roster, one policy for check() and open.
    let steward: StewardId = "sam.steward".parse()?;
    let vault = Vault::new(policy.clone(), facts, Keyring::new(master), trail)?;
    vault.add_steward(steward.clone(), "dana.admin".parse()?)?;
    println!("Admin dana.admin put {steward} on the roster (audited).\n");

    // --- logs.stored + logs.encrypted: the proxy seals every request as it passes.
    let (ada_, ben_) = (("Ada", ada), ("Ben", ben));
    let mut proxy = Proxy {
        vault,
        clock,
        logs: Vec::new(),
        store: MemoryRecordStore::new(),
    };
    println!("Requests pass the proxy (logs.stored, logs.encrypted):");
    proxy.handle(
        ada_,
        "2025-04-01T10:00:00Z",
        "Refactor my parser to use iterators",
    )?;
    proxy.handle(
        ben_,
        "2025-04-01T11:00:00Z",
        "Why does my build fail with E0502?",
    )?;
    proxy.handle(
        ada_,
        "2025-04-02T09:00:00Z",
        "Write tests for the tokenizer",
    )?;

    // --- logs.access + logs.purposes: a steward opens a log, with a purpose and a ticket.
    let ticket: Justification = "INC-2041 Ben reports timeouts".parse()?;
    let now: Timestamp = "2025-04-03T08:00:00Z".parse()?;
    proxy.clock.set(now);
    let bens_log = proxy.record(1)?;
    let data = DataRef::of_sealed_record(bens_log.header());
    println!("\nSteward {steward} opens Ben's log:");
    for purpose in [Purpose::Troubleshooting, Purpose::Marketing] {
        let decision = proxy
            .vault
            .check(&Request::open_log(&steward, purpose, &ticket, data, now));
        println!("  for `{purpose}`: policy says {decision}");
        // The vault's open asks the same check() itself and audits every attempt.
        let request = AccessRequest::new(steward.clone(), purpose, Some(ticket.clone()));
        match proxy.vault.open(&bens_log, &request) {
            Ok(body) => println!(
                "    vault opened it (audited first): {:?}",
                String::from_utf8_lossy(body.as_bytes())
            ),
            Err(error) => println!("    vault refused (audited): {error}"),
        }
    }

    // --- training.*: a shared-scope job takes only what consent at collection allows.
    // It decides on the consent ledger's level at collection: a header's level is only a
    // claim until the record authenticates (see the training_export example).
    let training_job = |facts: &MemoryFacts,
                        logs: &[StoredLog],
                        now: Timestamp|
     -> Result<Vec<String>, LogsError> {
        let mut taken = Vec::new();
        for (index, log) in logs.iter().enumerate() {
            let header = *SealedRecord::from_bytes(&log.bytes)?.header();
            let data = DataRef::new(
                DataCategory::LlmRequestLog,
                header.customer(),
                header.collected_at(),
            )
            .with_record(header.record_id());
            let decision = policy.check(&Request::train(TrainingScope::Shared, data, now), facts);
            println!("    R{} ({}): {decision}", index + 1, log.who);
            if decision.is_allowed() {
                taken.push(format!("R{}", index + 1));
            }
        }
        Ok(taken)
    };
    println!(
        "\nA shared-model training job on 2025-05-01 (training.shared, training.forward-only):"
    );
    let taken = training_job(
        &*proxy.vault.facts()?,
        &proxy.logs,
        "2025-05-01T00:00:00Z".parse()?,
    )?;
    println!("  the job trains on {taken:?}");

    println!("\nBen opts in to open-weight training on 2025-05-02; Ada withdraws on 2025-05-03.");
    for ((who, customer), level, at) in [
        (ben_, TrainingLevel::OpenWeight, "2025-05-02T00:00:00Z"),
        (ada_, TrainingLevel::None, "2025-05-03T00:00:00Z"),
    ] {
        let at: Timestamp = at.parse()?;
        let change = ConsentChange::new(
            customer,
            level,
            at,
            ConsentActor::Customer,
            Channel::AccountSettings,
            policy.version().clone(),
        );
        let receipt = proxy
            .vault
            .update_facts(|facts| facts.consent.record(change, at))??;
        println!(
            "  receipt #{} for {who}: {} -> {} under policy {}",
            receipt.receipt.get(),
            receipt.previous_level,
            receipt.level,
            receipt.policy_version
        );
    }
    proxy.handle(
        ben_,
        "2025-05-10T12:00:00Z",
        "Explain lifetimes in this function",
    )?;
    proxy.handle(ada_, "2025-05-11T12:00:00Z", "Port this module to async")?;
    println!(
        "\nThe same job on 2025-06-01: earlier data keeps the consent it was collected under:"
    );
    let taken = training_job(
        &*proxy.vault.facts()?,
        &proxy.logs,
        "2025-06-01T00:00:00Z".parse()?,
    )?;
    println!("  the job trains on {taken:?}");

    // --- logs.retention: Ada's relationship ends; the sweep shreds her keys after the window.
    let ended: Timestamp = "2025-06-30T00:00:00Z".parse()?;
    proxy
        .vault
        .update_facts(|facts| facts.relationships.end(ada, ended))??;
    println!("\nAda's contract ends on 2025-06-30 (logs.retention: kept only while it lasts).");
    let during_window: Timestamp = "2025-07-10T00:00:00Z".parse()?;
    let adas_log = proxy.record(0)?;
    let adas = DataRef::of_sealed_record(adas_log.header());
    println!(
        "  on {during_window}: keep her log? {}",
        proxy.vault.check(&Request::keep(adas, during_window))
    );
    println!(
        "  on {during_window}: open it for support? {}",
        proxy.vault.check(&Request::open_log(
            &steward,
            Purpose::CustomerSupport,
            &ticket,
            adas,
            during_window
        ))
    );
    let sweep_at: Timestamp = "2025-08-01T00:00:00Z".parse()?;
    proxy.clock.set(sweep_at);
    // The sweep holds the vault's facts (shared) while it runs, and its shredder checks the
    // holds in them; it executes at the vault's clock, never at an instant the caller names.
    {
        let facts = proxy.vault.facts()?;
        let sweep = Sweep::new(policy.retention(), &facts.relationships, &facts.holds);
        let plan = sweep.plan(proxy.store.records().collect::<Vec<_>>(), sweep_at);
        println!("\nDry run of the retention sweep:\n{plan}");
        let mut shredder = VaultShredder::new(&proxy.vault, &*facts);
        let report = sweep.execute(&plan, &mut proxy.store, &mut shredder, &proxy.clock);
        println!(
            "Executed: {} records deleted, keys shredded for {:?}; {} records remain.",
            report.deleted().len(),
            report
                .shredded()
                .iter()
                .map(|customer| if *customer == ada { "Ada" } else { "Ben" })
                .collect::<Vec<_>>(),
            proxy.store.len()
        );
        let again = sweep.execute(&plan, &mut proxy.store, &mut shredder, &proxy.clock);
        println!(
            "Executed again: {} deleted, {} already shredded (idempotent).",
            again.deleted().len(),
            again.already_shredded().len()
        );
    }

    // A backup copy of Ada's sealed bytes survives somewhere: it is unreadable now.
    let request = AccessRequest::new(steward.clone(), Purpose::CustomerSupport, Some(ticket));
    match proxy.vault.open(&adas_log, &request) {
        Ok(_) => println!("\nUNEXPECTED: a shredded record opened"),
        Err(error) => println!("\nOpening a backup copy of Ada's log: {error}"),
    }

    // --- The audit trail: every attempt above is in it, chained and checkpointed.
    let audit = proxy.vault.audit()?;
    let checkpoint = audit.checkpoint(&signer)?;
    let head = audit.verify_against(&checkpoint, &signer.public_key())?;
    println!(
        "\nAudit trail: {} entries, HMAC chain verified, signed checkpoint verified.",
        head.entries()
    );
    for chained in audit.store().as_slice() {
        let entry = chained.entry();
        match entry.event() {
            AuditEvent::Access(access) => println!(
                "  {}  {}  {:<17}  {}  {:?}",
                entry.at(),
                access.steward(),
                access.purpose().as_str(),
                access.record(),
                access.outcome()
            ),
            other => println!("  {}  {other:?}", entry.at()),
        }
    }
    Ok(())
}
