//! The training export: records per second through `Vault::export_training` (plan, audit,
//! decrypt, redact, yield) against raw `ring` AES-256-GCM decryption of records of the same
//! size and layout read the same way, in the same run (issue "training data path": at least
//! 80%); and the same export written as JSON lines through age encryption to a recipient, as
//! `steward export training --recipient` does (issue 20: at least 40% of raw).
//! The records are sealed with redaction on (the default), so the export does not scan them
//! again; `steward-vault-sealed-unscanned` exports the same records sealed with redaction off,
//! each body scanned at export. Records stream from a file on both sides, so the job runs in constant memory; before the
//! timed runs, one export of 1M records reports its peak resident memory above the start.
//!
//! `steward-vault-redact-age` encrypts on the exporting thread; `-2-threads` on a thread of its
//! own, as `steward export training --recipient` does (the raw baseline is one thread).
//!
//! Run with `cargo bench -p steward-benches --bench export`.

use std::{
    error::Error,
    fs::File,
    hint::black_box,
    io::{BufReader, BufWriter, Read, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use steward::{
    EncryptedExport, ExportPass, MemoryFacts, Policy, TrainingRecipients, Vault,
    consent::{Channel, ConsentActor, ConsentChange},
    logs::{
        AuditKey, AuditTrail, BoxError, Custody, HEADER_LEN, Keyring, MasterKey, MemoryAuditStore,
        SealConfig, SecretRedaction,
    },
    vocabulary::{CustomerId, RecordId, Timestamp, TrainingLevel, TrainingScope},
};

const CUSTOMERS: u128 = 100;
const TIMED_RECORDS: usize = 100_000;
const TIMED_BODY: usize = 1024;
const MEMORY_RECORDS: usize = 1_000_000;
const MEMORY_BODY: usize = 256;

type TestVault = Vault<MemoryFacts, MemoryAuditStore>;

fn customer(n: u128) -> Result<CustomerId, Box<dyn Error>> {
    Ok(format!("0192f1f0-6b2a-7cc3-9a4e-{:012x}", n + 1).parse()?)
}

/// A vault whose customers all opted in to shared training before their records, sealing
/// with redaction on (the default).
fn vault() -> Result<TestVault, Box<dyn Error>> {
    vault_with(SecretRedaction::Redact)
}

/// As [`vault`], sealing with `redaction`.
fn vault_with(redaction: SecretRedaction) -> Result<TestVault, Box<dyn Error>> {
    let policy = Policy::coder_model();
    let mut facts = MemoryFacts::new(&policy);
    let start: Timestamp = "2025-01-01T00:00:00Z".parse()?;
    for n in 0..CUSTOMERS {
        let id = customer(n)?;
        facts.relationships.start(id, start)?;
        let change = ConsentChange::new(
            id,
            TrainingLevel::Shared,
            start,
            ConsentActor::Customer,
            Channel::AccountSettings,
            policy.version().clone(),
        );
        facts.consent.record(change, start)?;
    }
    let master = MasterKey::from_bytes("kek-bench".parse()?, b"steward test key 42, not secret!")?;
    let trail = AuditTrail::new(
        AuditKey::from_bytes(b"steward test key 17, not secret!")?,
        MemoryAuditStore::new(),
    )?;
    let config = SealConfig::default().with_secret_redaction(redaction);
    Ok(Vault::with_custody(
        policy,
        facts,
        Custody::with_config(Keyring::new(master), trail, config),
    )?)
}

fn write_record(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(bytes)
}

/// Length-prefixed records from a file, one allocation each, as a store cursor gives them;
/// for the plan pass only each record's header, skipping its body in the buffer.
fn read_records(path: &Path, pass: ExportPass) -> impl Iterator<Item = Result<Vec<u8>, BoxError>> {
    let mut reader = File::open(path).map(|file| BufReader::with_capacity(1 << 16, file));
    std::iter::from_fn(move || {
        let reader = match &mut reader {
            Ok(reader) => reader,
            Err(error) => return Some(Err(BoxError::from(error.to_string()))),
        };
        let mut len = [0u8; 4];
        match reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(error) => return Some(Err(error.into())),
        }
        let len = u32::from_be_bytes(len) as usize;
        if pass == ExportPass::Plan && len > HEADER_LEN {
            let mut header = vec![0u8; HEADER_LEN];
            let skip = i64::try_from(len - HEADER_LEN).unwrap_or(i64::MAX);
            return Some(
                reader
                    .read_exact(&mut header)
                    .and_then(|()| reader.seek_relative(skip))
                    .map(|()| header)
                    .map_err(Into::into),
            );
        }
        let mut bytes = vec![0u8; len];
        Some(
            reader
                .read_exact(&mut bytes)
                .map(|()| bytes)
                .map_err(Into::into),
        )
    })
}

/// Seals `count` records of `body` bytes, round-robin over the customers, into a file.
fn seal_to_file(
    vault: &mut TestVault,
    count: usize,
    body: usize,
    path: &Path,
) -> Result<(), Box<dyn Error>> {
    let mut out = BufWriter::new(File::create(path)?);
    let collected: Timestamp = "2025-06-01T00:00:00Z".parse()?;
    let payload = vec![0x5a_u8; body];
    for index in 0..count {
        let owner = customer(u128::try_from(index)? % CUSTOMERS)?;
        let record = vault.seal(RecordId::generate_at(collected), owner, collected, &payload)?;
        write_record(&mut out, record.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// The raw side: the same sizes and layout (a 128-byte header, the ciphertext, the tag),
/// sealed with plain AES-256-GCM and a counter nonce stored where a record keeps its nonce.
fn raw_to_file(
    key: &LessSafeKey,
    count: usize,
    body: usize,
    path: &Path,
) -> Result<(), Box<dyn Error>> {
    let mut out = BufWriter::new(File::create(path)?);
    for counter in 0..count {
        let mut record = vec![0u8; HEADER_LEN];
        let nonce = nonce_bytes(u64::try_from(counter)?);
        record
            .get_mut(84..96)
            .ok_or("header")?
            .copy_from_slice(&nonce);
        record.extend_from_slice(&vec![0x5a_u8; body]);
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                record.get_mut(HEADER_LEN..).ok_or("body")?,
            )
            .map_err(|_| "raw seal")?;
        record.extend_from_slice(tag.as_ref());
        write_record(&mut out, &record)?;
    }
    out.flush()?;
    Ok(())
}

fn nonce_bytes(counter: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    for (slot, byte) in nonce.iter_mut().skip(4).zip(counter.to_be_bytes()) {
        *slot = byte;
    }
    nonce
}

/// Opens every raw record of the file; returns how many opened.
fn raw_pass(key: &LessSafeKey, path: &Path) -> usize {
    let mut opened = 0;
    for bytes in read_records(path, ExportPass::Run).flatten() {
        let Some(nonce) = bytes.get(84..96).and_then(|n| <[u8; 12]>::try_from(n).ok()) else {
            continue;
        };
        let mut body = bytes
            .get(HEADER_LEN..)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        if key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut body)
            .is_ok()
        {
            opened += 1;
        }
        black_box(&body);
    }
    opened
}

fn export_pass(vault: &mut TestVault, path: &Path) -> Result<u64, Box<dyn Error>> {
    let outcome = vault.export_training(
        TrainingScope::Shared,
        |pass| read_records(path, pass),
        |record| {
            black_box(record.body());
            Ok(())
        },
    )?;
    Ok(outcome.counts.exported)
}

/// Where the age export encrypts: on the exporting thread, or on a second one.
#[derive(Clone, Copy)]
enum Encrypting {
    Inline,
    OwnThread,
}

/// As [`export_pass`], each body written as a JSON line into an age file to one recipient
/// (discarded after encryption, as a file on disk would receive it).
fn export_age_pass(
    vault: &mut TestVault,
    path: &Path,
    recipients: &TrainingRecipients,
    threads: Encrypting,
) -> Result<u64, Box<dyn Error>> {
    let mut out = match threads {
        Encrypting::Inline => EncryptedExport::new(recipients, std::io::sink())?,
        Encrypting::OwnThread => EncryptedExport::on_own_thread(recipients, std::io::sink())?,
    };
    let outcome = vault.export_training(
        TrainingScope::Shared,
        |pass| read_records(path, pass),
        |record| {
            out.write_all(b"{\"body\":\"")?;
            out.write_all(record.body())?;
            out.write_all(b"\"}\n")?;
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

/// One export of 1M records: its peak resident memory above where it started.
fn memory_report(dir: &Path) -> Result<(), Box<dyn Error>> {
    let mut vault = vault()?;
    let path = dir.join("export-1m.records");
    seal_to_file(&mut vault, MEMORY_RECORDS, MEMORY_BODY, &path)?;
    // Reset the peak so it measures the export alone (Linux: clear_refs value 5).
    std::fs::write("/proc/self/clear_refs", "5")?;
    let before = status_kib("VmRSS:").ok_or("no VmRSS")?;
    let started = Instant::now();
    let exported = export_pass(&mut vault, &path)?;
    let elapsed = started.elapsed();
    let peak = status_kib("VmHWM:").ok_or("no VmHWM")?;
    println!(
        "export/memory: {exported} records of {MEMORY_BODY} B exported in {:.2} s; peak resident \
         {} KiB above the {} KiB at the start",
        elapsed.as_secs_f64(),
        peak.saturating_sub(before),
        before
    );
    std::fs::remove_file(&path)?;
    Ok(())
}

fn bench_export(c: &mut Criterion) -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("steward-export-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    memory_report(&dir)?;

    let mut vault = vault()?;
    let sealed: PathBuf = dir.join("export.records");
    seal_to_file(&mut vault, TIMED_RECORDS, TIMED_BODY, &sealed)?;
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[0x24; 32]).map_err(|_| "key")?);
    let raw: PathBuf = dir.join("raw.records");
    raw_to_file(&key, TIMED_RECORDS, TIMED_BODY, &raw)?;
    // The same records sealed with redaction off: the export scans each body.
    let mut unscanned_vault = vault_with(SecretRedaction::DangerousKeepSecrets)?;
    let unscanned: PathBuf = dir.join("unscanned.records");
    seal_to_file(&mut unscanned_vault, TIMED_RECORDS, TIMED_BODY, &unscanned)?;
    if raw_pass(&key, &raw) != TIMED_RECORDS
        || export_pass(&mut vault, &sealed)? != u64::try_from(TIMED_RECORDS)?
        || export_pass(&mut unscanned_vault, &unscanned)? != u64::try_from(TIMED_RECORDS)?
    {
        return Err("a pass did not open every record".into());
    }

    let mut group = c.benchmark_group(format!("export/{TIMED_RECORDS}x{TIMED_BODY}B"));
    group.throughput(Throughput::Elements(u64::try_from(TIMED_RECORDS)?));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("steward-vault", |b| {
        b.iter(|| export_pass(&mut vault, &sealed).unwrap_or_default())
    });
    group.bench_function("steward-vault-sealed-unscanned", |b| {
        b.iter(|| export_pass(&mut unscanned_vault, &unscanned).unwrap_or_default())
    });
    let recipients = TrainingRecipients::parse_all([
        "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
    ])?;
    group.bench_function("steward-vault-redact-age", |b| {
        b.iter(|| {
            export_age_pass(&mut vault, &sealed, &recipients, Encrypting::Inline)
                .unwrap_or_default()
        })
    });
    // As `steward export training --recipient` does since it encrypts on a second thread; the
    // raw baseline is one thread.
    group.bench_function("steward-vault-redact-age-2-threads", |b| {
        b.iter(|| {
            export_age_pass(&mut vault, &sealed, &recipients, Encrypting::OwnThread)
                .unwrap_or_default()
        })
    });
    group.bench_function("ring-raw", |b| b.iter(|| raw_pass(&key, &raw)));
    group.finish();
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

// `criterion_main!` by hand: `criterion_group!` generates an undocumented `pub fn`.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    if let Err(error) = bench_export(&mut criterion) {
        eprintln!("export bench failed: {error}");
    }
    criterion.final_summary();
}
