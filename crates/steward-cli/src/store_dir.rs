//! The store directory: the database, the key files, and opening the vault on them.

use std::{
    env::VarError,
    fs::{self, OpenOptions},
    io::{ErrorKind, Write},
    path::{Path, PathBuf},
};

use ring::rand::{SecureRandom, SystemRandom};
use steward::{
    Policy,
    logs::{CheckpointPublicKey, CheckpointSigner, MasterKeyId},
};
use steward_store::{
    SqliteStore, StoreKeys, StoreVault, open_vault,
    pg::{PgConfig, PgStore, PgVault, open_pg_vault},
};
use zeroize::Zeroizing;

use crate::error::CliError;

/// The database file in the store directory.
pub(crate) const DATABASE: &str = "steward.db";
/// The master key (32 bytes, hex), which wraps every customer's data keys.
pub(crate) const MASTER_KEY: &str = "master.key";
/// The audit key (32 bytes, hex), which keys the audit chain's HMAC.
pub(crate) const AUDIT_KEY: &str = "audit.key";
/// The Ed25519 key that signs audit checkpoints (PKCS#8, binary).
pub(crate) const CHECKPOINT_KEY: &str = "checkpoint.pk8";
/// The public key that verifies checkpoints (32 bytes, hex).
pub(crate) const CHECKPOINT_PUBLIC_KEY: &str = "checkpoint.pub";

/// The variable that may hold the master key instead of its file.
pub(crate) const MASTER_KEY_VAR: &str = "STEWARD_MASTER_KEY";
/// The variable that may hold the audit key instead of its file.
pub(crate) const AUDIT_KEY_VAR: &str = "STEWARD_AUDIT_KEY";

/// The length of the master key and of the audit key this command makes.
const KEY_LEN: usize = 32;

/// A directory holding one store and its keys.
#[derive(Debug, Clone)]
pub(crate) struct StoreDir {
    root: PathBuf,
}

/// A store opened with its keys, and the vault on it.
pub(crate) struct Session {
    /// The store.
    pub(crate) store: SqliteStore,
    /// The vault on the store, with the policy.
    pub(crate) vault: StoreVault,
}

/// A node's session on the shared PostgreSQL store (`audit ... --postgres`).
pub(crate) struct PgSession {
    /// The store.
    pub(crate) store: PgStore,
    /// This node's vault on it.
    pub(crate) vault: PgVault,
}

/// Which of the two symmetric keys.
#[derive(Debug, Clone, Copy)]
enum KeyKind {
    Master,
    Audit,
}

impl KeyKind {
    const fn what(self) -> &'static str {
        match self {
            Self::Master => "master key",
            Self::Audit => "audit key",
        }
    }

    const fn file(self) -> &'static str {
        match self {
            Self::Master => MASTER_KEY,
            Self::Audit => AUDIT_KEY,
        }
    }

    const fn hint(self) -> &'static str {
        match self {
            Self::Master => "restore it, or set `STEWARD_MASTER_KEY`",
            Self::Audit => "restore it, or set `STEWARD_AUDIT_KEY`",
        }
    }

    const fn variable(self) -> &'static str {
        match self {
            Self::Master => MASTER_KEY_VAR,
            Self::Audit => AUDIT_KEY_VAR,
        }
    }
}

/// What `init` wrote.
#[derive(Debug)]
pub(crate) struct Initialized {
    /// The files written, database first.
    pub(crate) files: Vec<PathBuf>,
    /// The keys taken from the environment instead of a new file.
    pub(crate) from_environment: Vec<&'static str>,
}

impl StoreDir {
    /// The store in `root`.
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// A file of the store.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Creates the store: a new database, master and audit keys (unless the environment
    /// holds them), and a checkpoint signing key with its public key. Refuses, before
    /// writing anything, if any of these files exists; removes what it wrote if a later step
    /// fails.
    pub(crate) fn init(&self, master_id: &MasterKeyId) -> Result<Initialized, CliError> {
        let names = [
            DATABASE,
            MASTER_KEY,
            AUDIT_KEY,
            CHECKPOINT_KEY,
            CHECKPOINT_PUBLIC_KEY,
        ];
        for name in names {
            let path = self.file(name);
            if path.exists() {
                return Err(CliError::AlreadyInitialized { path });
            }
        }
        fs::create_dir_all(&self.root).map_err(|source| CliError::Write {
            path: self.root.clone(),
            source,
        })?;
        let mut written = Vec::new();
        let result = self.write_new_store(master_id, &mut written);
        match result {
            Ok(from_environment) => Ok(Initialized {
                files: written,
                from_environment,
            }),
            Err(error) => {
                // Best effort: a half-made store directory must not pass for a store.
                for path in written.iter().rev() {
                    let _removed = fs::remove_file(path);
                }
                Err(error)
            }
        }
    }

    fn write_new_store(
        &self,
        master_id: &MasterKeyId,
        written: &mut Vec<PathBuf>,
    ) -> Result<Vec<&'static str>, CliError> {
        let mut from_environment = Vec::new();
        let master = self.new_key(KeyKind::Master, written, &mut from_environment)?;
        let audit = self.new_key(KeyKind::Audit, written, &mut from_environment)?;
        let store_keys = StoreKeys::new(master_id.clone(), &master, &audit)?;

        let pkcs8 = CheckpointSigner::generate_pkcs8()?;
        let signer = CheckpointSigner::from_pkcs8(&pkcs8)?;
        let signer_path = self.file(CHECKPOINT_KEY);
        write_new(&signer_path, &pkcs8, Mode::Secret)?;
        written.push(signer_path);
        let public_path = self.file(CHECKPOINT_PUBLIC_KEY);
        let public = format!("{}\n", hex_encode(signer.public_key().as_bytes()));
        write_new(&public_path, public.as_bytes(), Mode::Public)?;
        written.push(public_path);

        let database = self.file(DATABASE);
        let store = SqliteStore::create(&database, &store_keys)?;
        drop(store);
        written.insert(0, database);
        Ok(from_environment)
    }

    /// A key for a new store: the one in the kind's variable if set, else a new random one
    /// written to the kind's file.
    fn new_key(
        &self,
        kind: KeyKind,
        written: &mut Vec<PathBuf>,
        from_environment: &mut Vec<&'static str>,
    ) -> Result<Zeroizing<Vec<u8>>, CliError> {
        if let Some(key) = key_from_environment(kind)? {
            from_environment.push(kind.variable());
            return Ok(key);
        }
        let key = random_key()?;
        let path = self.file(kind.file());
        let text = Zeroizing::new(format!("{}\n", hex_encode(&key)));
        write_new(&path, text.as_bytes(), Mode::Secret)?;
        written.push(path);
        Ok(key)
    }

    /// Opens the store with its keys and the vault on it under `policy`.
    pub(crate) fn open(
        &self,
        master_id: &MasterKeyId,
        policy: Policy,
    ) -> Result<Session, CliError> {
        let database = self.file(DATABASE);
        if !database.is_file() {
            return Err(CliError::NoStore { path: database });
        }
        let master = self.key(KeyKind::Master)?;
        let audit = self.key(KeyKind::Audit)?;
        let keys = StoreKeys::new(master_id.clone(), &master, &audit)?;
        let store = SqliteStore::open(&database, &keys)?;
        let vault = open_vault(&store, &keys, policy)?;
        Ok(Session { store, vault })
    }

    /// The shared PostgreSQL store at `config` (checked against this directory's keys) and a
    /// vault on it under `policy`: the audit chain verified, facts loaded.
    pub(crate) fn open_postgres(
        &self,
        master_id: &MasterKeyId,
        policy: Policy,
        config: &PgConfig,
    ) -> Result<PgSession, CliError> {
        let master = self.key(KeyKind::Master)?;
        let audit = self.key(KeyKind::Audit)?;
        let keys = StoreKeys::new(master_id.clone(), &master, &audit)?;
        let store = PgStore::open_existing(config, &keys)?;
        let vault = open_pg_vault(&store, &keys, policy)?;
        Ok(PgSession { store, vault })
    }

    /// The checkpoint signer, from `checkpoint.pk8`.
    pub(crate) fn signer(&self) -> Result<CheckpointSigner, CliError> {
        let path = self.file(CHECKPOINT_KEY);
        let pkcs8 = Zeroizing::new(read_key_file(&path, "checkpoint signing key")?);
        CheckpointSigner::from_pkcs8(&pkcs8).map_err(|_| CliError::InvalidKey {
            what: "checkpoint signing key",
            from: path.display().to_string(),
            reason: "not an Ed25519 PKCS#8 document",
        })
    }

    /// The checkpoint public key, from `checkpoint.pub`.
    pub(crate) fn public_key(&self) -> Result<CheckpointPublicKey, CliError> {
        let path = self.file(CHECKPOINT_PUBLIC_KEY);
        let text = read_key_file(&path, "checkpoint public key")?;
        let bytes = std::str::from_utf8(&text)
            .map_err(|_| "not hex text")
            .and_then(hex_decode)
            .map_err(|reason| CliError::InvalidKey {
                what: "checkpoint public key",
                from: path.display().to_string(),
                reason,
            })?;
        let bytes: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CliError::InvalidKey {
                what: "checkpoint public key",
                from: path.display().to_string(),
                reason: "not 32 bytes",
            })?;
        Ok(CheckpointPublicKey::from_bytes(bytes))
    }

    /// A symmetric key: from its variable if set, else from its file.
    fn key(&self, kind: KeyKind) -> Result<Zeroizing<Vec<u8>>, CliError> {
        if let Some(key) = key_from_environment(kind)? {
            return Ok(key);
        }
        let path = self.file(kind.file());
        let text = Zeroizing::new(fs::read(&path).map_err(|source| {
            if source.kind() == ErrorKind::NotFound {
                CliError::MissingKeyFile {
                    what: kind.what(),
                    path: path.clone(),
                    hint: kind.hint(),
                }
            } else {
                CliError::Read {
                    path: path.clone(),
                    source,
                }
            }
        })?);
        parse_key(&text).map_err(|reason| CliError::InvalidKey {
            what: kind.what(),
            from: path.display().to_string(),
            reason,
        })
    }
}

/// The key in the kind's variable, if it is set.
fn key_from_environment(kind: KeyKind) -> Result<Option<Zeroizing<Vec<u8>>>, CliError> {
    let invalid = |reason| CliError::InvalidKey {
        what: kind.what(),
        from: kind.variable().to_owned(),
        reason,
    };
    match std::env::var(kind.variable()) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            parse_key(text.as_bytes()).map(Some).map_err(invalid)
        }
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => Err(invalid("not valid Unicode")),
    }
}

/// A key written as hex: exactly 32 bytes, surrounding whitespace ignored.
fn parse_key(text: &[u8]) -> Result<Zeroizing<Vec<u8>>, &'static str> {
    let text = std::str::from_utf8(text).map_err(|_| "not hex text")?;
    let bytes = Zeroizing::new(hex_decode(text)?);
    if bytes.len() != KEY_LEN {
        return Err("a key is 32 bytes, written as 64 hex digits");
    }
    Ok(bytes)
}

/// A whole key file, or which file is missing.
fn read_key_file(path: &Path, what: &'static str) -> Result<Vec<u8>, CliError> {
    fs::read(path).map_err(|source| {
        if source.kind() == ErrorKind::NotFound {
            CliError::MissingKeyFile {
                what,
                path: path.to_path_buf(),
                hint: "restore it from the backup of the store directory",
            }
        } else {
            CliError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// 32 bytes from the system's random source.
fn random_key() -> Result<Zeroizing<Vec<u8>>, CliError> {
    let mut key = Zeroizing::new(vec![0_u8; KEY_LEN]);
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| CliError::InvalidKey {
            what: "new key",
            from: "the system random source".to_owned(),
            reason: "the random source failed",
        })?;
    Ok(key)
}

/// Who may read a file `init` writes.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Only the owner (0600 on unix): keys.
    Secret,
    /// Anyone the directory lets in: the public key.
    Public,
}

/// Writes a new file, refusing an existing one (atomically: `create_new`).
fn write_new(path: &Path, bytes: &[u8], mode: Mode) -> Result<(), CliError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(match mode {
            Mode::Secret => 0o600,
            Mode::Public => 0o644,
        });
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == ErrorKind::AlreadyExists {
            CliError::AlreadyInitialized {
                path: path.to_path_buf(),
            }
        } else {
            CliError::Write {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|source| CliError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// Lowercase hex.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().saturating_mul(2));
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            // A nibble is below 16, so it is always a hex digit.
            text.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
        }
    }
    text
}

/// Hex to bytes; surrounding whitespace is ignored, either case accepted.
pub(crate) fn hex_decode(text: &str) -> Result<Vec<u8>, &'static str> {
    let text = text.trim().as_bytes();
    if !text.len().is_multiple_of(2) {
        return Err("an odd number of hex digits");
    }
    text.chunks_exact(2)
        .map(|pair| match pair {
            [high, low] => Ok((digit(*high)? << 4) | digit(*low)?),
            _ => Err("an odd number of hex digits"),
        })
        .collect()
}

fn digit(byte: u8) -> Result<u8, &'static str> {
    match byte {
        b'0'..=b'9' => Ok(byte - b'0'),
        b'a'..=b'f' => Ok(byte - b'a' + 10),
        b'A'..=b'F' => Ok(byte - b'A' + 10),
        _ => Err("not hex: only the digits 0-9 and a-f are allowed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_non_hex() {
        let bytes = [0x00, 0x0f, 0xa5, 0xff];
        assert_eq!(hex_encode(&bytes), "000fa5ff");
        assert_eq!(hex_decode(" 000FA5ff\n").unwrap(), bytes);
        assert_eq!(hex_decode("abc"), Err("an odd number of hex digits"));
        assert!(hex_decode("zz").is_err());
    }

    #[test]
    fn a_key_is_exactly_32_bytes() {
        assert!(parse_key("ab".repeat(32).as_bytes()).is_ok());
        assert!(parse_key("ab".repeat(31).as_bytes()).is_err());
        assert!(parse_key("ab".repeat(33).as_bytes()).is_err());
    }
}
