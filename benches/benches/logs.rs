//! steward-logs: sealing and opening records through the public API, against raw `ring`
//! AES-256-GCM on the same bytes in the same run (docs/design.md section 4).
//!
//! Run with `cargo bench -p steward-benches --bench logs`. Both sides allocate their output
//! buffer per operation (a sealed record or a plaintext must be owned by someone), lay the
//! ciphertext out at the same offset, and use a fresh counter nonce per operation, as
//! custody does. Opening through `Custody` (with a gate that allows every request, so the
//! policy's cost is left to `benches/check.rs`) includes the HMAC-chained audit entry, dated
//! by the trail's clock, that must be stored before plaintext is returned; `logs/audit`
//! measures that fixed cost alone. `open/steward-vault` is the facade's `Vault::open`: the
//! same plus `Policy::check` of the request over the bundled policy and in-memory facts,
//! which is what a service pays.

use std::{error::Error, hint::black_box, time::Duration};

use criterion::{BenchmarkId, Criterion, Throughput};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use steward_core::{CustomerId, Purpose, RecordId, Timestamp, TrainingLevel};
use steward_logs::{
    AccessRequest, AuditKey, AuditStore, AuditTrail, ChainedEntry, Custody, Denial, HEADER_LEN,
    Keyring, MasterKey, OpenQuery, SealConfig, SealInput, SecretRedaction,
};

const SIZES: [usize; 3] = [256, 4 * 1024, 64 * 1024];

/// An audit store that keeps only the newest entry, as a service that ships entries to an
/// external log would; keeps memory flat over millions of iterations.
#[derive(Default)]
struct ShippingStore {
    last: Option<ChainedEntry>,
}

impl AuditStore for ShippingStore {
    fn append(&mut self, entry: ChainedEntry) -> Result<(), Box<dyn Error + Send + Sync>> {
        self.last = Some(entry);
        Ok(())
    }

    fn last(&self) -> Result<Option<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        Ok(self.last.clone())
    }

    fn entries(&self) -> Result<Vec<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        Ok(self.last.iter().cloned().collect())
    }
}

struct Fixture {
    custody: Custody<ShippingStore>,
    /// The facade's vault over the bundled policy: every open is `check()` plus custody.
    vault: steward::Vault<steward::MemoryFacts, ShippingStore>,
    meta: SealInput,
    request: AccessRequest,
    ring_key: LessSafeKey,
}

/// The policy's answer, given: every request is allowed.
fn allow(_query: &OpenQuery<'_>) -> Result<(), Denial> {
    Ok(())
}

/// The policy's answer, given: every request is refused.
fn deny(query: &OpenQuery<'_>) -> Result<(), Denial> {
    Err(Denial::PurposeNotForLogs {
        purpose: query.request().purpose(),
    })
}

fn fixture() -> Result<Fixture, Box<dyn Error>> {
    let master = MasterKey::from_bytes("kek-bench".parse()?, b"steward test key 42, not secret!")?;
    let trail = AuditTrail::new(
        AuditKey::from_bytes(b"steward test key 17, not secret!")?,
        ShippingStore::default(),
    )?;
    // The AEAD path against raw ring, as before issue 20: the secret scan before sealing is
    // measured in benches/redact.rs.
    let config = SealConfig::default().with_secret_redaction(SecretRedaction::DangerousKeepSecrets);
    let custody = Custody::with_config(Keyring::new(master), trail, config);
    let at: Timestamp = "2025-06-01T09:30:00Z".parse()?;
    let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
    let meta = SealInput::new(RecordId::generate_at(at), customer, at, TrainingLevel::None);
    let request = AccessRequest::with_justification_text(
        "alice.ops".parse()?,
        Purpose::Troubleshooting,
        "TICKET-4711",
    );
    let ring_key =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[0x24; 32]).map_err(|_| "ring key")?);
    let policy = steward::Policy::coder_model();
    let mut facts = steward::MemoryFacts::new(&policy);
    facts
        .relationships
        .start(customer, "2025-01-01T00:00:00Z".parse()?)?;
    let vault_master =
        MasterKey::from_bytes("kek-bench".parse()?, b"steward test key 43, not secret!")?;
    let vault_trail = AuditTrail::new(
        AuditKey::from_bytes(b"steward test key 18, not secret!")?,
        ShippingStore::default(),
    )?;
    let vault = steward::Vault::new(policy, facts, Keyring::new(vault_master), vault_trail)?;
    vault.add_steward("alice.ops".parse()?, "dana.admin".parse()?)?;
    Ok(Fixture {
        custody,
        vault,
        meta,
        request,
        ring_key,
    })
}

fn counter_nonce(counter: &mut u64) -> Nonce {
    *counter = counter.wrapping_add(1);
    Nonce::assume_unique_for_key(nonce_bytes(*counter))
}

fn nonce_bytes(counter: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    for (slot, byte) in nonce.iter_mut().skip(4).zip(counter.to_be_bytes()) {
        *slot = byte;
    }
    nonce
}

/// Raw AES-256-GCM seal of `body` into a fresh buffer, with no AAD. The ciphertext goes at
/// the same offset of an equally sized buffer as in a sealed record (after 128 zero bytes),
/// so that allocator and memcpy-alignment effects hit both sides alike: with the ciphertext at
/// offset 0 of its own allocation, raw 64 KiB seals swung between 13 and 65 us from run to run
/// depending on where the allocator put the buffers.
fn ring_seal(key: &LessSafeKey, counter: &mut u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + 16);
    out.resize(HEADER_LEN, 0);
    out.extend_from_slice(body);
    let nonce = counter_nonce(counter);
    let tag = out.get_mut(HEADER_LEN..).and_then(|in_out| {
        key.seal_in_place_separate_tag(nonce, Aad::empty(), in_out)
            .ok()
    });
    if let Some(tag) = tag {
        out.extend_from_slice(tag.as_ref());
    }
    out
}

/// Raw AES-256-GCM open of what `ring_seal` wrote: the ciphertext and tag are copied into a
/// fresh buffer and opened in place, as custody does.
fn ring_open(key: &LessSafeKey, nonce: [u8; 12], sealed: &[u8]) -> Vec<u8> {
    let ciphertext = sealed.get(HEADER_LEN..).unwrap_or_default();
    let mut out = Vec::with_capacity(ciphertext.len());
    out.extend_from_slice(ciphertext);
    let len = key
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut out)
        .map_or(0, |plain| plain.len());
    out.truncate(len);
    out
}

fn bench_logs(c: &mut Criterion) {
    let fixture = match fixture() {
        Ok(fixture) => fixture,
        Err(error) => {
            eprintln!("bench fixture failed: {error}");
            return;
        }
    };
    for size in SIZES {
        let body = vec![0x5a_u8; size];
        let mut group = c.benchmark_group(format!("logs/{size}B"));
        group.throughput(Throughput::Bytes(size as u64));
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));

        group.bench_function(BenchmarkId::new("seal", "steward"), |b| {
            b.iter(|| {
                fixture
                    .custody
                    .seal(black_box(&fixture.meta), black_box(&body))
            })
        });
        let mut counter = 0u64;
        group.bench_function(BenchmarkId::new("seal", "ring-raw"), |b| {
            b.iter(|| ring_seal(&fixture.ring_key, &mut counter, black_box(&body)))
        });

        let record = match fixture.custody.seal(&fixture.meta, &body) {
            Ok(record) => record,
            Err(error) => {
                eprintln!("seal failed: {error}");
                return;
            }
        };
        group.bench_function(BenchmarkId::new("open", "steward"), |b| {
            b.iter(|| {
                fixture.custody.dangerous_open_with_gate(
                    black_box(&record),
                    &fixture.request,
                    allow,
                )
            })
        });
        let meta = &fixture.meta;
        match fixture.vault.seal(
            meta.record_id(),
            meta.customer(),
            meta.collected_at(),
            &body,
        ) {
            Ok(record) => {
                group.bench_function(BenchmarkId::new("open", "steward-vault"), |b| {
                    b.iter(|| fixture.vault.open(black_box(&record), &fixture.request))
                });
            }
            Err(error) => eprintln!("vault seal failed: {error}"),
        }
        let mut raw_counter = 0u64;
        let raw_sealed = ring_seal(&fixture.ring_key, &mut raw_counter, &body);
        let raw_nonce = nonce_bytes(raw_counter);
        if ring_open(&fixture.ring_key, raw_nonce, &raw_sealed) != body {
            eprintln!("raw ring baseline does not round-trip");
            return;
        }
        group.bench_function(BenchmarkId::new("open", "ring-raw"), |b| {
            b.iter(|| ring_open(&fixture.ring_key, raw_nonce, black_box(&raw_sealed)))
        });
        group.finish();
    }

    // The fixed cost of an audited decision, without decryption: a refused request is dated,
    // chained (HMAC-SHA256) and stored.
    let record = fixture.custody.seal(&fixture.meta, b"x");
    if let Ok(record) = record {
        let mut group = c.benchmark_group("logs/audit");
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        group.bench_function("denied-open (audit append)", |b| {
            b.iter(|| {
                fixture
                    .custody
                    .dangerous_open_with_gate(black_box(&record), &fixture.request, deny)
            })
        });
        group.finish();
    }
}

// `criterion_main!` by hand: `criterion_group!` generates an undocumented `pub fn`.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_logs(&mut criterion);
    criterion.final_summary();
}
