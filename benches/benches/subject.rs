//! A subject access export (`law.access`, issue 21) of one customer with 100k records on the
//! embedded store: records per second from the store's stream through `Vault::export_subject`
//! (decrypt, zeroize) into the JSON bundle, as plaintext and through age to a recipient, as
//! `steward subject export` writes it; beside the bare store stream in the same run, which
//! shows what the store alone costs. Before the timed runs, one export reports its peak
//! resident memory above the start: the export streams, so it stays flat whatever the count
//! (the facade test `a_subject_copy_streams_one_record_at_a_time` asserts the streaming itself).
//! Beside them, `training-age-2-threads`: a training export of the whole store (both customers
//! opted in, 110k records) through age on a second thread, as `steward export training
//! --recipient` runs it on the embedded store (its two passes each stream the store).
//!
//! Run with `cargo bench -p steward-benches --bench subject`.

use std::{
    error::Error,
    hint::black_box,
    io::{self, BufWriter, Write},
    path::Path,
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput};
use steward::{
    EncryptedExport, ExportPass, Policy, SubjectFacts, TrainingRecipients,
    consent::{Channel, ConsentActor, ConsentChange},
    logs::SubjectRequest,
    vocabulary::{CustomerId, DataCategory, RecordId, Timestamp, TrainingLevel, TrainingScope},
};
use steward_store::{RecordScan, SqliteStore, StoreKeys, StoreVault, open_vault};

const RECORDS: usize = 100_000;
/// Records of another customer in the same store, which the export never reads.
const OTHERS: usize = 10_000;
const BODY: usize = 1024;
const BATCH: usize = 5_000;

fn customer(n: u8) -> Result<CustomerId, Box<dyn Error>> {
    Ok(format!("0192f1f0-6b2a-7cc3-9a4e-0000000000{n:02x}").parse()?)
}

/// A store holding `RECORDS` records of customer 1 and `OTHERS` of customer 2.
fn store(dir: &Path) -> Result<(SqliteStore, StoreVault), Box<dyn Error>> {
    let keys = StoreKeys::new(
        "kek-bench".parse()?,
        b"steward test key 42, not secret!",
        b"steward test key 17, not secret!",
    )?;
    let store = SqliteStore::create(dir.join("steward.db"), &keys)?;
    let vault = open_vault(&store, &keys, Policy::coder_model())?;
    let now = Timestamp::now();
    for (n, count) in [(1, RECORDS), (2, OTHERS)] {
        let owner = customer(n)?;
        vault.update_facts(|facts| facts.start_relationship(owner, now))??;
        // Opted in, so that the training export row has every record to export.
        let opt_in = ConsentChange::new(
            owner,
            TrainingLevel::Shared,
            now,
            ConsentActor::Customer,
            Channel::AccountSettings,
            Policy::coder_model().version().clone(),
        );
        vault.update_facts(|facts| facts.record_consent(opt_in))??;
        let body = vec![b'a'; BODY];
        let mut left = count;
        while left > 0 {
            let batch = left.min(BATCH);
            let sealed = (0..batch)
                .map(|_| {
                    let at = Timestamp::now();
                    vault.seal(RecordId::generate_at(at), owner, at, &body)
                })
                .collect::<Result<Vec<_>, _>>()?;
            store.put_records(
                sealed
                    .iter()
                    .map(|record| (record, DataCategory::LlmRequestLog)),
            )?;
            left -= batch;
        }
    }
    Ok((store, vault))
}

fn request() -> Result<SubjectRequest, Box<dyn Error>> {
    Ok(SubjectRequest::new(
        customer(1)?,
        "DSR-BENCH-1".parse()?,
        "dana.privacy".parse()?,
    ))
}

fn facts(vault: &StoreVault) -> Result<SubjectFacts, Box<dyn Error>> {
    let facts = vault.facts()?;
    Ok(SubjectFacts::gather(
        customer(1)?,
        facts.consent()?,
        facts.interactive()?,
        facts.relationships()?,
        facts.holds()?,
    ))
}

/// One bundle, plaintext, to nowhere: the records it holds.
fn bundle_plain(store: &SqliteStore, vault: &StoreVault) -> Result<u64, Box<dyn Error>> {
    let records = store.stream_records(RecordScan::Customer(customer(1)?), ExportPass::Run);
    let out = BufWriter::new(io::sink());
    let (outcome, out) = vault.write_subject_bundle(&request()?, &facts(vault)?, records, out)?;
    black_box(out);
    Ok(outcome.records)
}

/// One bundle through age to a recipient, to nowhere.
fn bundle_age(
    store: &SqliteStore,
    vault: &StoreVault,
    recipients: &TrainingRecipients,
) -> Result<u64, Box<dyn Error>> {
    let records = store.stream_records(RecordScan::Customer(customer(1)?), ExportPass::Run);
    let out = EncryptedExport::new(recipients, BufWriter::new(io::sink()))?;
    let (outcome, out) = vault.write_subject_bundle(&request()?, &facts(vault)?, records, out)?;
    black_box(out.finish()?);
    Ok(outcome.records)
}

/// The store's stream alone: the sealed bytes of the customer's records, not decrypted.
fn stream_only(store: &SqliteStore) -> Result<u64, Box<dyn Error>> {
    let mut count = 0_u64;
    for record in store.stream_records(RecordScan::Customer(customer(1)?), ExportPass::Run) {
        black_box(record.map_err(|error| error.to_string())?);
        count += 1;
    }
    Ok(count)
}

/// A training export of the whole store (both customers) through age on a second thread, as
/// `steward export training --recipient` runs it, to nowhere: the records it exported.
fn training_age(
    store: &SqliteStore,
    vault: &StoreVault,
    recipients: &TrainingRecipients,
) -> Result<u64, Box<dyn Error>> {
    let mut out = EncryptedExport::on_own_thread(recipients, io::sink())?;
    let outcome = vault.export_training(
        TrainingScope::Shared,
        |pass| store.stream_records(RecordScan::All, pass),
        |record| {
            out.write_all(record.body())?;
            Ok(())
        },
    )?;
    black_box(out.finish()?);
    Ok(outcome.counts.exported)
}
/// Kibibytes of a `/proc/self/status` field.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn memory_report(store: &SqliteStore, vault: &StoreVault) -> Result<(), Box<dyn Error>> {
    // Reset the peak so it measures the export alone (Linux: clear_refs value 5).
    std::fs::write("/proc/self/clear_refs", "5")?;
    let before = status_kib("VmRSS:").ok_or("no VmRSS")?;
    let started = Instant::now();
    let exported = bundle_plain(store, vault)?;
    let elapsed = started.elapsed();
    let peak = status_kib("VmHWM:").ok_or("no VmHWM")?;
    println!(
        "subject/memory: {exported} records of {BODY} B in one bundle in {:.2} s; peak resident \
         {} KiB above the {} KiB at the start",
        elapsed.as_secs_f64(),
        peak.saturating_sub(before),
        before
    );
    Ok(())
}

fn bench_subject(c: &mut Criterion) -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("steward-subject-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (store, vault) = store(&dir)?;
    if bundle_plain(&store, &vault)? != u64::try_from(RECORDS)? {
        return Err("the export did not hold every record of the customer".into());
    }
    memory_report(&store, &vault)?;
    let recipients = TrainingRecipients::parse_all([
        "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
    ])?;
    if training_age(&store, &vault, &recipients)? != u64::try_from(RECORDS + OTHERS)? {
        return Err("the training export did not export every record".into());
    }

    let mut group = c.benchmark_group(format!("subject/{RECORDS}x{BODY}B"));
    group.throughput(Throughput::Elements(u64::try_from(RECORDS)?));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("store-stream-only", |b| {
        b.iter(|| stream_only(&store).unwrap_or_default())
    });
    group.bench_function("bundle-plaintext", |b| {
        b.iter(|| bundle_plain(&store, &vault).unwrap_or_default())
    });
    group.bench_function("bundle-age", |b| {
        b.iter(|| bundle_age(&store, &vault, &recipients).unwrap_or_default())
    });
    group.bench_function("training-age-2-threads", |b| {
        b.iter(|| training_age(&store, &vault, &recipients).unwrap_or_default())
    });
    group.finish();
    drop((vault, store));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

// `criterion_main!` by hand: `criterion_group!` generates an undocumented `pub fn`.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    if let Err(error) = bench_subject(&mut criterion) {
        eprintln!("subject bench failed: {error}");
    }
    criterion.final_summary();
}
