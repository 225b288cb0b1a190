//! Training data leaves custody without secrets and encrypted (issue 20): every exported body
//! is redacted whatever the record's redaction at sealing, the counts reach the outcome, the
//! audit entry and the manifest, and the records can be encrypted to the pipeline's age
//! recipients, which the manifest names.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests: a failed setup step must fail the test"
)]

use std::{
    error::Error,
    io::{Read, Write},
    sync::{Arc, Mutex},
};

use steward::logs::{
    AuditEvent, AuditKey, AuditStore, AuditTrail, ChainedEntry, Custody, Keyring, MasterKey,
    SealConfig, SecretRedaction,
};
use steward::redact::SecretKind;
use steward::{consent::*, logs::*, vocabulary::*, *};

use crate::common::*;

/// A format-valid fake OpenAI legacy key (never issued).
const KEY: &str = "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";

#[derive(Debug, Clone, Default)]
struct SharedStore(Arc<Mutex<Vec<ChainedEntry>>>);

impl AuditStore for SharedStore {
    fn append(&mut self, entry: ChainedEntry) -> Result<(), Box<dyn Error + Send + Sync>> {
        self.0.lock().unwrap().push(entry);
        Ok(())
    }

    fn last(&self) -> Result<Option<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        Ok(self.0.lock().unwrap().last().cloned())
    }

    fn entries(&self) -> Result<Vec<ChainedEntry>, Box<dyn Error + Send + Sync>> {
        Ok(self.0.lock().unwrap().clone())
    }
}

/// A vault that seals with `redaction`, over Alice opted in to shared training, and the
/// records of `bodies` sealed for her.
fn sealed_with(
    redaction: SecretRedaction,
    bodies: &[&str],
) -> (Vault<MemoryFacts, SharedStore>, SharedStore, Vec<Vec<u8>>) {
    let policy = Policy::coder_model();
    let mut facts = MemoryFacts::new(&policy);
    facts.relationships.start(alice(), day(0)).unwrap();
    let change = ConsentChange::new(
        alice(),
        TrainingLevel::Shared,
        day(0),
        ConsentActor::Customer,
        Channel::AccountSettings,
        policy.version().clone(),
    );
    facts.consent.record(change, day(0)).unwrap();
    let store = SharedStore::default();
    let trail = AuditTrail::new(
        AuditKey::from_bytes(b"steward test key 17, not secret!").unwrap(),
        store.clone(),
    )
    .unwrap();
    let master = MasterKey::from_bytes(
        "kek-test".parse().unwrap(),
        b"steward test key 42, not secret!",
    )
    .unwrap();
    let config = SealConfig::default().with_secret_redaction(redaction);
    let custody = Custody::with_config(Keyring::new(master), trail, config);
    let vault = Vault::with_custody(policy, facts, custody).unwrap();
    let stored = bodies
        .iter()
        .map(|body| {
            let at = Timestamp::now();
            vault
                .seal(RecordId::generate_at(at), alice(), at, body.as_bytes())
                .unwrap()
                .into_bytes()
        })
        .collect();
    (vault, store, stored)
}

fn export_bodies(
    vault: &Vault<MemoryFacts, SharedStore>,
    stored: &[Vec<u8>],
) -> (Vec<String>, ExportOutcome) {
    let mut bodies = Vec::new();
    let outcome = vault
        .export_training(
            TrainingScope::Shared,
            |_pass| stored.iter().cloned().map(Ok::<_, BoxError>),
            |record| {
                bodies.push(String::from_utf8(record.body().to_vec()).unwrap());
                Ok(())
            },
        )
        .unwrap();
    (bodies, outcome)
}

#[test]
fn an_export_redacts_secrets_of_records_sealed_with_redaction_off() {
    let body = format!("OPENAI_API_KEY={KEY}\nwhy 401?");
    let (vault, store, stored) = sealed_with(
        SecretRedaction::DangerousKeepSecrets,
        &[&body, "no secret here"],
    );
    let (bodies, outcome) = export_bodies(&vault, &stored);
    assert_eq!(bodies.len(), 2);
    assert!(!bodies[0].contains(KEY), "{}", bodies[0]);
    assert!(
        bodies[0].starts_with("OPENAI_API_KEY=[REDACTED:openai-key:"),
        "{}",
        bodies[0]
    );
    assert_eq!(bodies[1], "no secret here");
    assert_eq!(outcome.redactions.get(SecretKind::OpenAiKey), 1);
    assert_eq!(outcome.redactions.total(), 1);
    // The job's audit entry counts the kinds too, and holds no secret.
    let entries = store.entries().unwrap();
    let last = entries.last().unwrap().entry().event();
    assert!(
        matches!(last, AuditEvent::TrainingExportFinished { redactions, .. }
            if redactions.get(SecretKind::OpenAiKey) == 1),
        "{last:?}"
    );
    assert!(!format!("{last:?}").contains(KEY));
}

#[test]
fn an_export_of_records_redacted_at_sealing_counts_nothing_more() {
    let body = format!("OPENAI_API_KEY={KEY}");
    let (vault, _store, stored) = sealed_with(SecretRedaction::Redact, &[&body]);
    let (bodies, outcome) = export_bodies(&vault, &stored);
    assert!(bodies[0].starts_with("OPENAI_API_KEY=[REDACTED:openai-key:"));
    // The markers are not secrets: scanning again finds nothing.
    assert!(outcome.redactions.is_empty(), "{}", outcome.redactions);
}

#[test]
fn the_manifest_names_the_recipients_and_counts_the_redactions() {
    let body = format!("key {KEY}");
    let (vault, _store, stored) = sealed_with(SecretRedaction::DangerousKeepSecrets, &[&body]);
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let recipients = TrainingRecipients::parse_all([public.as_str()]).unwrap();
    let mut manifest = TrainingManifest::new(Vec::new()).with_recipients(&recipients);
    let outcome = vault
        .export_training(
            TrainingScope::Shared,
            |_pass| stored.iter().cloned().map(Ok::<_, BoxError>),
            |record| {
                manifest.record(record.header())?;
                Ok(())
            },
        )
        .unwrap();
    let text = String::from_utf8(manifest.finish(&outcome).unwrap()).unwrap();
    assert!(!text.contains(KEY));
    let job: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(job["format"], MANIFEST_FORMAT);
    assert_eq!(job["recipients"], serde_json::json!([public]));
    assert_eq!(job["redactions"], serde_json::json!({"openai-key": 1}));
}

#[test]
fn encrypted_export_decrypts_with_the_recipients_identity_to_the_written_bytes() {
    let identities = [
        age::x25519::Identity::generate(),
        age::x25519::Identity::generate(),
    ];
    let publics: Vec<String> = identities
        .iter()
        .map(|identity| identity.to_public().to_string())
        .collect();
    let recipients = TrainingRecipients::parse_all(publics.iter().map(String::as_str)).unwrap();
    let plaintext = b"{\"record\":1,\"body\":\"why 401?\"}\n".repeat(5000);
    let mut out = EncryptedExport::new(&recipients, Vec::new()).unwrap();
    out.write_all(&plaintext).unwrap();
    let file = out.finish().unwrap();
    assert!(file.starts_with(b"age-encryption.org/v1"));
    assert!(!file.windows(8).any(|window| window == b"why 401?"));
    // Either recipient decrypts it; another identity does not.
    for identity in &identities {
        let decryptor = age::Decryptor::new(file.as_slice()).unwrap();
        let mut reader = decryptor
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .unwrap();
        let mut back = Vec::new();
        reader.read_to_end(&mut back).unwrap();
        assert_eq!(back, plaintext);
    }
    let stranger = age::x25519::Identity::generate();
    let decryptor = age::Decryptor::new(file.as_slice()).unwrap();
    assert!(
        decryptor
            .decrypt(std::iter::once(&stranger as &dyn age::Identity))
            .is_err()
    );
}

/// A writer whose bytes the test can read after the export has moved it to another thread.
#[derive(Debug, Clone, Default)]
struct SharedFile(Arc<Mutex<Vec<u8>>>);

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A writer that takes `room` bytes, then fails.
#[derive(Debug)]
struct FullDisk {
    room: usize,
}

impl Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.room {
            return Err(std::io::Error::other("no space left on the test disk"));
        }
        self.room -= buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn decrypted(file: &[u8], identity: &age::x25519::Identity) -> Result<Vec<u8>, Box<dyn Error>> {
    let decryptor = age::Decryptor::new(file)?;
    let mut reader = decryptor.decrypt(std::iter::once(identity as &dyn age::Identity))?;
    let mut back = Vec::new();
    reader.read_to_end(&mut back)?;
    Ok(back)
}

/// The length of an age file after its header (which ends with the `---` MAC line).
fn payload_len(file: &[u8]) -> usize {
    let mac = file
        .windows(5)
        .position(|window| window == b"\n--- ")
        .unwrap();
    let end = file
        .get(mac + 1..)
        .unwrap()
        .iter()
        .position(|byte| *byte == b'\n')
        .unwrap();
    file.len() - (mac + 1 + end + 1)
}

/// The encrypting thread writes the file the inline writer writes: every length around age's
/// 64 KiB chunks decrypts to exactly the bytes written, in writes of any size.
#[test]
fn an_export_encrypted_on_its_own_thread_decrypts_to_the_written_bytes() {
    let identity = age::x25519::Identity::generate();
    let recipients =
        TrainingRecipients::parse_all([identity.to_public().to_string().as_str()]).unwrap();
    const CHUNK: usize = 64 * 1024;
    // Forty chunks: the thread hands emptied chunks back to be filled again, many times over.
    for len in [
        0,
        1,
        CHUNK - 1,
        CHUNK,
        CHUNK + 1,
        3 * CHUNK,
        5 * CHUNK + 17,
        40 * CHUNK + 3,
    ] {
        let plaintext: Vec<u8> = (0..len).map(|index| (index % 251) as u8).collect();
        let mut out = EncryptedExport::on_own_thread(&recipients, Vec::new()).unwrap();
        // Writes of uneven sizes, some larger than a chunk.
        for piece in plaintext.chunks(CHUNK / 3 * 4 + 5) {
            let (small, rest) = piece.split_at(piece.len().min(7));
            out.write_all(small).unwrap();
            out.write_all(rest).unwrap();
        }
        out.flush().unwrap();
        let file = out.finish().unwrap();
        assert_eq!(
            decrypted(&file, &identity).unwrap(),
            plaintext,
            "{len} bytes"
        );
        // The same chunks as inline (the headers differ: age adds random grease stanzas).
        let inline = {
            let mut inline = EncryptedExport::new(&recipients, Vec::new()).unwrap();
            inline.write_all(&plaintext).unwrap();
            inline.finish().unwrap()
        };
        assert_eq!(payload_len(&file), payload_len(&inline), "{len} bytes");
    }
}

/// A failing output on the encrypting thread surfaces as an error of the export, from a
/// write or from finishing, never as a finished file.
#[test]
fn an_encrypting_thread_whose_output_fails_fails_the_export() {
    let identity = age::x25519::Identity::generate();
    let recipients =
        TrainingRecipients::parse_all([identity.to_public().to_string().as_str()]).unwrap();
    // Room for the header and a little of the first chunk.
    let mut out = EncryptedExport::on_own_thread(&recipients, FullDisk { room: 1024 }).unwrap();
    let block = vec![b'x'; 16 * 1024];
    let mut write_failed = false;
    for _ in 0..64 {
        if let Err(error) = out.write_all(&block) {
            assert!(error.to_string().contains("no space left"), "{error}");
            write_failed = true;
            break;
        }
    }
    let finished = out.finish();
    assert!(
        matches!(finished, Err(StewardError::Export { .. })),
        "{finished:?}"
    );
    assert!(write_failed, "1 MiB went to a writer with room for 1 KiB");
}

/// An export dropped before it finished leaves a file that does not decrypt, on its own
/// thread as inline.
#[test]
fn an_export_dropped_unfinished_does_not_decrypt() {
    let identity = age::x25519::Identity::generate();
    let recipients =
        TrainingRecipients::parse_all([identity.to_public().to_string().as_str()]).unwrap();
    let file = SharedFile::default();
    let mut out = EncryptedExport::on_own_thread(&recipients, file.clone()).unwrap();
    out.write_all(&vec![b'y'; 200 * 1024]).unwrap();
    drop(out);
    let written = file.0.lock().unwrap().clone();
    assert!(written.starts_with(b"age-encryption.org/v1"));
    assert!(decrypted(&written, &identity).is_err());
    let finished = SharedFile::default();
    let mut out = EncryptedExport::on_own_thread(&recipients, finished.clone()).unwrap();
    out.write_all(&vec![b'y'; 200 * 1024]).unwrap();
    out.finish().unwrap();
    let written = finished.0.lock().unwrap().clone();
    assert_eq!(
        decrypted(&written, &identity).unwrap(),
        vec![b'y'; 200 * 1024]
    );
}

#[test]
fn a_recipient_that_is_not_an_age_x25519_recipient_is_refused_naming_it() {
    let good = age::x25519::Identity::generate().to_public().to_string();
    for bad in [
        "age1notarecipient",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE",
        "",
        "AGE-SECRET-KEY-1QQQ",
    ] {
        let error = TrainingRecipients::parse_all([good.as_str(), bad]).unwrap_err();
        assert!(
            matches!(&error, StewardError::InvalidRecipient { recipient } if recipient == bad),
            "{error:?}"
        );
        assert!(error.to_string().contains(&format!("`{bad}`")), "{error}");
    }
    assert!(matches!(
        TrainingRecipients::parse_all([]),
        Err(StewardError::NoRecipients)
    ));
}

/// Pieces of prompts: fake secrets of several kinds (format-valid, never issued), near misses
/// and plain text, for bodies whose redaction at sealing and at export are compared.
const PIECES: &[&str] = &[
    KEY,
    "ghp_R8u2kFq7ZcW1mN4pT6yV9bX3sD5gH0jL2aQe",
    "glpat-Xk3Wq9Zr7Tm2Vn5Pb8Ld",
    "postgres://app:Zk8pQ2vX9mRt@db.internal:5432/orders",
    "API_TOKEN=\"9f3a7c1e5b2d8f4a6c0e1b3d5f7a9c2e\"",
    "AKIAIOSFODNN7EXAMPLE",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
    "-----BEGIN",
    "password: changeme",
    "the access token expires after an hour",
    "fn main() { println!(\"hello\"); }",
    "[REDACTED:openai-key:0011aabb]",
    "=",
    "-",
    "\n",
    " ",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// A record scanned at sealing by the current rule set is exported without a rescan
    /// (`Custody::redact_for_export`): what it yields is byte-identical to what scanning it
    /// at export yields (the same body sealed with redaction off, in a vault with the same
    /// audit key and so the same fingerprint key), and to the scanner's output on the
    /// original body.
    #[test]
    fn a_record_redacted_at_sealing_exports_byte_identical_to_a_rescan(
        picks in proptest::collection::vec(0..PIECES.len(), 0..10),
    ) {
        use steward::redact::{Redactor, Scanner};
        let body: String = picks.iter().map(|index| PIECES[*index]).collect();
        let (redacted_vault, _, redacted_stored) =
            sealed_with(SecretRedaction::Redact, &[&body]);
        let (raw_vault, _, raw_stored) =
            sealed_with(SecretRedaction::DangerousKeepSecrets, &[&body]);
        let (skipped, skipped_outcome) = export_bodies(&redacted_vault, &redacted_stored);
        let (rescanned, _) = export_bodies(&raw_vault, &raw_stored);
        proptest::prop_assert_eq!(&skipped, &rescanned);
        let key = AuditKey::from_bytes(b"steward test key 17, not secret!")
            .unwrap()
            .redaction_key();
        let expected = Scanner::standard().unwrap().redact(body.as_bytes(), &key);
        proptest::prop_assert_eq!(skipped[0].as_bytes(), expected.body());
        // Nothing is left for a scan at export to find, and none was counted.
        proptest::prop_assert!(Scanner::standard()
            .unwrap()
            .redact(skipped[0].as_bytes(), &key)
            .is_unchanged());
        proptest::prop_assert!(skipped_outcome.redactions.is_empty());
    }
}
