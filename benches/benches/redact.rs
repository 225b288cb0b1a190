//! steward-redact: scanning prompt text for secrets, and sealing with redaction against sealing
//! without it, in the same run (issue 20's targets, docs/benchmarks.md).
//!
//! Run with `cargo bench -p steward-benches --bench redact`. Three groups:
//!
//! - `redact/scan/secret-free`: about 1 MiB of prompt text without secrets, code (Rust,
//!   Python, shell, a `.env` of placeholders) and prose, mentioning tokens, passwords and auth
//!   as prompts do, so the prefilter's keywords hit and the rules run on those lines. Target:
//!   at least 500 MB/s per core.
//! - `redact/scan/dense`: about 1 MiB where every line carries a fake secret of a rotating kind
//!   (a secret per ~120 bytes). Target: at least 100 MB/s.
//! - `redact/seal-4KiB`: `Custody::seal` of a 4 KiB prompt with `SecretRedaction::Redact` (the
//!   default) and with `DangerousKeepSecrets`, for the keyword-heavy text above and for plain
//!   text without keywords. Target: redacting at least 50% of not.

use std::{error::Error, hint::black_box, time::Duration};

use criterion::{BenchmarkId, Criterion, Throughput};
use steward_core::{CustomerId, RecordId, Timestamp, TrainingLevel};
use steward_logs::{
    AuditKey, AuditStore, AuditTrail, ChainedEntry, Custody, Keyring, MasterKey, SealConfig,
    SealInput, SecretRedaction,
};
use steward_redact::{FingerprintKey, Redactor, Scanner};

/// Text a coding assistant's prompts are made of: code and prose, no secret.
const SECRET_FREE: &[&str] = &[
    "Why does the borrow checker reject this? I pass the token to the parser and keep a\n\
     reference to the buffer while the auth middleware runs.\n",
    "fn parse(input: &str) -> Result<Vec<Token>, ParseError> {\n    let mut tokens = Vec::new();\n    \
     for (index, ch) in input.char_indices() {\n        if ch.is_whitespace() { continue; }\n        \
     tokens.push(Token::new(index, ch));\n    }\n    Ok(tokens)\n}\n",
    "def load_config(path):\n    with open(path) as f:\n        data = yaml.safe_load(f)\n    \
     password = os.environ.get('DB_PASSWORD')\n    return Config(data, password=password)\n",
    "# .env.example\nDATABASE_URL=postgres://user:password@localhost:5432/app\nAPI_KEY=your-api-key-here\n\
     SECRET_KEY=changeme\n",
    "The service retries failed requests three times with exponential backoff; after that it\n\
     returns a 503 and logs the request id so support can find it. Latency at p99 is 240 ms.\n",
    "$ cargo build --release\n   Compiling serde v1.0.219\nerror[E0502]: cannot borrow `self.items` \
     as mutable because it is also borrowed as immutable\n",
    "See https://docs.rs/regex/latest/regex/ and https://github.com/rust-lang/rust/issues/12345 \
     for the discussion; the fix landed in commit da39a3ee5e6b4b0d3255bfef95601890afd80709.\n",
    "SELECT id, customer_id, collected_at FROM records WHERE collected_at < $1 ORDER BY id LIMIT 100;\n",
    "Our users authenticate with OAuth; the access token expires after an hour and the refresh\n\
     flow asks for a new one. How should I store the session on the client?\n",
];

/// Prompt text without any of the scanner's keywords: what most prompts are (the prefilter
/// alone runs over it).
const PLAIN: &[&str] = &[
    "Why does the borrow checker reject this? I keep a reference to the buffer while the\n\
     parser runs, and the compiler says the value is moved in the loop.\n",
    "fn parse(input: &str) -> Result<Vec<Item>, ParseError> {\n    let mut items = Vec::new();\n    \
     for (index, ch) in input.char_indices() {\n        if ch.is_whitespace() { continue; }\n        \
     items.push(Item::new(index, ch));\n    }\n    Ok(items)\n}\n",
    "The service retries failed requests three times with exponential backoff; after that it\n\
     returns a 503 and logs the request id so support can find it. Latency at p99 is 240 ms.\n",
    "SELECT id, customer_id, collected_at FROM records WHERE collected_at < $1 ORDER BY id LIMIT 100;\n",
];

/// One line with a fake secret of kind `n` (rotating), never issued.
fn dense_line(n: usize) -> String {
    let random = |len: usize| -> String {
        const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut state = (n as u64)
            .wrapping_add(len as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (0..len)
            .map(|_| {
                // splitmix64
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                let index = usize::try_from(z % BASE62.len() as u64).unwrap_or(0);
                char::from(BASE62.get(index).copied().unwrap_or(b'a'))
            })
            .collect()
    };
    match n % 8 {
        0 => format!("export GITHUB_TOKEN=ghp_{} # ci\n", random(36)),
        1 => format!(
            "aws_access_key_id = AKIA{}\n",
            random(16).to_uppercase().replace(['0', '1', '8', '9'], "Q")
        ),
        2 => format!("OPENAI_API_KEY=sk-proj-{}\n", random(120)),
        3 => format!(
            "DATABASE_URL=postgres://app:{}@db:5432/orders\n",
            random(14)
        ),
        4 => format!("client_secret = \"{}7a\"\n", random(30)),
        5 => format!(
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJ{}.{}\n",
            random(40),
            random(43)
        ),
        6 => format!("SLACK_BOT_TOKEN=xoxb-123456789012-{}\n", random(24)),
        _ => format!("HF_TOKEN=hf_{} why 401?\n", random(34)),
    }
}

fn corpus(lines: impl Fn(usize) -> String, size: usize) -> Vec<u8> {
    let mut text = Vec::with_capacity(size + 4096);
    let mut n = 0;
    while text.len() < size {
        text.extend_from_slice(lines(n).as_bytes());
        n += 1;
    }
    text
}

/// An audit store that keeps only the newest entry (seals write none; custody needs one).
#[derive(Default)]
struct NewestOnly {
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

fn custody(redaction: SecretRedaction) -> Result<Custody<NewestOnly>, Box<dyn Error>> {
    let master = MasterKey::from_bytes("kek-bench".parse()?, b"steward test key 42, not secret!")?;
    let trail = AuditTrail::new(
        AuditKey::from_bytes(b"steward test key 17, not secret!")?,
        NewestOnly::default(),
    )?;
    let config = SealConfig::default().with_secret_redaction(redaction);
    Ok(Custody::with_config(Keyring::new(master), trail, config))
}

fn bench_redact(c: &mut Criterion) -> Result<(), Box<dyn Error>> {
    let scanner = Scanner::standard()?;
    let key = FingerprintKey::from_bytes(&[7; 32]);
    let clean = corpus(
        |n| {
            SECRET_FREE
                .get(n % SECRET_FREE.len())
                .copied()
                .unwrap_or("")
                .to_owned()
        },
        1 << 20,
    );
    let dense = corpus(dense_line, 1 << 20);
    // The corpora are what they claim: nothing in the clean one, a secret per line in the other.
    if !scanner.redact(&clean, &key).is_unchanged() {
        return Err("the secret-free corpus has a secret".into());
    }
    let found = scanner.redact(&dense, &key).counts().total();
    let lines = dense.iter().filter(|byte| **byte == b'\n').count() as u64;
    if found != lines {
        return Err(
            format!("the dense corpus has {lines} lines but {found} secrets were found").into(),
        );
    }

    let mut group = c.benchmark_group("redact/scan");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for (name, text) in [("secret-free", &clean), ("dense", &dense)] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(BenchmarkId::new(name, "1MiB"), |b| {
            b.iter(|| scanner.redact(black_box(text), &key).counts().total())
        });
    }
    group.finish();

    let four_kib = |lines: &[&str]| {
        let body = corpus(
            |n| lines.get(n % lines.len()).copied().unwrap_or("").to_owned(),
            4096,
        );
        body.get(..4096).unwrap_or(&body).to_vec()
    };
    let bodies = [
        ("keywords", four_kib(SECRET_FREE)),
        ("plain", four_kib(PLAIN)),
    ];
    let at: Timestamp = "2025-06-01T09:30:00Z".parse()?;
    let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
    let meta = SealInput::new(RecordId::generate_at(at), customer, at, TrainingLevel::None);
    let mut group = c.benchmark_group("redact/seal-4KiB");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Bytes(4096));
    for (name, redaction) in [
        ("redact", SecretRedaction::Redact),
        ("keep-secrets", SecretRedaction::DangerousKeepSecrets),
    ] {
        let custody = custody(redaction)?;
        for (text, body) in &bodies {
            group.bench_function(BenchmarkId::new(name, text), |b| {
                b.iter(|| custody.seal(&meta, black_box(body)))
            });
        }
    }
    group.finish();
    Ok(())
}

// `criterion_main!` by hand: `criterion_group!` generates an undocumented `pub fn`.
fn main() -> Result<(), Box<dyn Error>> {
    let mut criterion = Criterion::default().configure_from_args();
    bench_redact(&mut criterion)?;
    criterion.final_summary();
    Ok(())
}
