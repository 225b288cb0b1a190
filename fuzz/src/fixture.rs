//! The harnesses' keys and what they genuinely made (`fuzz/fixture/`, written by
//! `examples/make_seeds.rs`).

use std::{
    error::Error,
    fs,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use steward_core::CustomerId;
use steward_logs::{
    AuditKey, AuditStore, ChainHash, ChainedEntry, Checkpoint, CheckpointPublicKey,
    KeyringSnapshot, MasterKey,
};
use steward_store::StoredFact;

/// The id of the master key that wraps the fixture's data keys.
pub const MASTER_ID: &str = "kek-fuzz";
/// The master key (fixed, random-looking: the harnesses must restore what the seeds hold).
pub const MASTER_KEY: [u8; 32] = [
    0x14, 0xf0, 0x7e, 0x9f, 0x2a, 0x16, 0x02, 0x1f, 0x31, 0xf7, 0x3b, 0xf9, 0x97, 0x09, 0x27, 0x0b,
    0x59, 0xde, 0x0f, 0xf0, 0xb3, 0xf9, 0xe5, 0xa6, 0xc2, 0xf1, 0x77, 0x3d, 0x00, 0x63, 0x41, 0x0e,
];
/// The id of the master key the fixture's keyring was first wrapped under (then rotated).
pub const RETIRED_MASTER_ID: &str = "kek-fuzz-old";
/// The retired master key.
pub const RETIRED_MASTER_KEY: [u8; 32] = [
    0xf8, 0xe5, 0x96, 0x12, 0xe9, 0x1e, 0xce, 0x0d, 0xdd, 0x7b, 0x4e, 0x69, 0x10, 0x8c, 0x22, 0x59,
    0xb6, 0x2f, 0x48, 0x7d, 0x2c, 0x7e, 0x00, 0xd7, 0x86, 0x6d, 0x62, 0x7a, 0x0e, 0xe7, 0x60, 0x2a,
];
/// The audit key: chains the audit trail and (derived) the fact log.
pub const AUDIT_KEY: [u8; 32] = [
    0x85, 0x22, 0xfc, 0x25, 0x33, 0xcb, 0xc3, 0x18, 0xfa, 0x9a, 0xfe, 0x5a, 0xaa, 0x2b, 0xa2, 0x5a,
    0x19, 0x47, 0xa1, 0xd7, 0x91, 0x14, 0x62, 0x07, 0x4f, 0x6f, 0x22, 0xfe, 0x38, 0x9a, 0x59, 0x11,
];
/// The customer whose records the fixture holds and the record harness opens.
pub const CUSTOMER: &str = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10";

/// What the keys above genuinely made.
#[derive(Debug)]
pub struct Fixture {
    /// The keyring, wrapped under [`MASTER_ID`].
    pub keyring: KeyringSnapshot,
    /// Sealed records and their bodies.
    pub records: Vec<(Vec<u8>, Vec<u8>)>,
    /// The audit chain, with every kind of entry the custody writes.
    pub chain: Vec<ChainedEntry>,
    /// Checkpoints of the chain.
    pub checkpoints: Vec<Checkpoint>,
    /// The key that verifies the checkpoints.
    pub checkpoint_key: CheckpointPublicKey,
    /// A fact log as the store wrote it, with every kind of event.
    pub facts: Vec<StoredFact>,
}

/// `fuzz/fixture/`.
#[must_use]
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixture")
}

/// `fuzz/seeds/`.
#[must_use]
pub fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds")
}

/// `fuzz/regressions/`.
#[must_use]
pub fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions")
}

/// The fixture, loaded once; `None` if `fuzz/fixture/` is missing or unreadable (the
/// targets then check only what needs no fixture, and the replay test fails).
pub fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(|| load(&dir()).ok()).as_ref()
}

/// Loads the fixture from `dir`.
///
/// # Errors
///
/// If a file is missing or does not decode.
pub fn load(dir: &Path) -> Result<Fixture, Box<dyn Error + Send + Sync>> {
    let text = |name: &str| fs::read_to_string(dir.join(name));
    let keyring = serde_json::from_str(&text("keyring.json")?)?;
    let mut records = Vec::new();
    for line in text("records.txt")?.lines() {
        let (record, body) = line
            .split_once(' ')
            .ok_or("a record line is `record body`")?;
        records.push((hex_decode(record)?, hex_decode(body)?));
    }
    let chain = text("audit.jsonl")?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let checkpoints = text("checkpoints.jsonl")?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let checkpoint_key = CheckpointPublicKey::from_hex(text("checkpoint.pub")?.trim())?;
    let facts = text("facts.tsv")?
        .lines()
        .map(|line| fact_row(line).ok_or("a fact row is `sequence<TAB>hash<TAB>event`"))
        .collect::<Result<_, _>>()?;
    Ok(Fixture {
        keyring,
        records,
        chain,
        checkpoints,
        checkpoint_key,
        facts,
    })
}

/// A fact row as the fixture and the `fact_log` target write it: sequence, hash (hex) and
/// event text, separated by tabs (JSON escapes tabs inside strings).
#[must_use]
pub fn fact_row(line: &str) -> Option<StoredFact> {
    let (sequence, rest) = line.split_once('\t')?;
    let (hash, event) = rest.split_once('\t')?;
    let hash: [u8; 32] = hex_decode(hash).ok()?.try_into().ok()?;
    Some(StoredFact::new(
        sequence.parse().ok()?,
        event.to_owned(),
        ChainHash::from_bytes(hash),
    ))
}

/// The line [`fact_row`] reads.
#[must_use]
pub fn fact_line(row: &StoredFact) -> String {
    format!("{}\t{}\t{}", row.sequence(), row.hash(), row.event())
}

/// The master key.
///
/// # Errors
///
/// If steward-logs refuses it.
pub fn master() -> Result<MasterKey, Box<dyn Error + Send + Sync>> {
    Ok(MasterKey::from_bytes(MASTER_ID.parse()?, &MASTER_KEY)?)
}

/// The retired master key.
///
/// # Errors
///
/// If steward-logs refuses it.
pub fn retired_master() -> Result<MasterKey, Box<dyn Error + Send + Sync>> {
    Ok(MasterKey::from_bytes(
        RETIRED_MASTER_ID.parse()?,
        &RETIRED_MASTER_KEY,
    )?)
}

/// The audit key.
///
/// # Errors
///
/// If steward-logs refuses it.
pub fn audit_key() -> Result<AuditKey, Box<dyn Error + Send + Sync>> {
    Ok(AuditKey::from_bytes(&AUDIT_KEY)?)
}

/// The fixture's customer.
///
/// # Errors
///
/// Never, unless [`CUSTOMER`] stops being a customer id.
pub fn customer() -> Result<CustomerId, Box<dyn Error + Send + Sync>> {
    Ok(CUSTOMER.parse()?)
}

/// Lowercase hex.
#[must_use]
pub fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Bytes from hex digits.
///
/// # Errors
///
/// If the text is not pairs of hex digits.
pub fn hex_decode(text: &str) -> Result<Vec<u8>, Box<dyn Error + Send + Sync>> {
    if !text.len().is_multiple_of(2) {
        return Err("odd number of hex digits".into());
    }
    (0..text.len())
        .step_by(2)
        .map(|at| {
            text.get(at..at + 2)
                .ok_or_else(|| "not ASCII".into())
                .and_then(|pair| u8::from_str_radix(pair, 16).map_err(Into::into))
        })
        .collect()
}

/// An audit store that keeps only the newest entry, so that memory stays flat over millions
/// of inputs (every open attempt is an entry).
#[derive(Debug, Default)]
pub struct NewestOnly {
    last: Option<ChainedEntry>,
}

impl AuditStore for NewestOnly {
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
