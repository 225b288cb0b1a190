//! The store directory: the database, the key files, and opening the vault on them.

use std::{
    fs::{self, OpenOptions},
    io::{ErrorKind, Write},
    path::{Path, PathBuf},
};

use steward::{
    Policy,
    logs::{
        CheckpointPublicKey, CheckpointSigner, KeyError, KeyMaterial, LogsError, MasterKeyId,
        ReceiptPublicKey, ReceiptSigner,
    },
};
#[cfg(feature = "postgres")]
use steward_store::pg::{PgConfig, PgStore, PgVault};
use steward_store::{SqliteStore, StoreError, StoreKeys, StoreVault, open_vault};
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

/// The Ed25519 key that signs the consent receipts customers keep (PKCS#8, binary): its own,
/// so that the key customers verify with never signs the audit trail.
pub(crate) const RECEIPT_KEY: &str = "receipt.pk8";
/// The public key that verifies consent receipts (32 bytes, hex): the one to publish.
pub(crate) const RECEIPT_PUBLIC_KEY: &str = "receipt.pub";

/// The variable that may hold the master key instead of its file.
pub(crate) const MASTER_KEY_VAR: &str = "STEWARD_MASTER_KEY";
/// The variable that may hold the audit key instead of its file.
pub(crate) const AUDIT_KEY_VAR: &str = "STEWARD_AUDIT_KEY";

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
#[cfg(feature = "postgres")]
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

    /// The key in the kind's variable, if it is set.
    fn in_environment(self) -> Result<Option<KeyMaterial>, CliError> {
        KeyMaterial::from_env(self.variable())
            .map_err(|error| self.error(self.variable().to_owned(), error))
    }

    /// What the command reports when steward-logs could not load this key from `from` (a
    /// file or a variable): a missing file names the way to get it back, and bad contents
    /// say what is wrong, never what they hold.
    fn error(self, from: String, error: LogsError) -> CliError {
        let invalid = |reason| CliError::InvalidKey {
            what: self.what(),
            from,
            reason,
        };
        match error {
            LogsError::Key(KeyError::KeyFile { path, source }) => {
                if source.kind() == ErrorKind::NotFound {
                    CliError::MissingKeyFile {
                        what: self.what(),
                        path,
                        hint: self.hint(),
                    }
                } else {
                    CliError::Read { path, source }
                }
            }
            LogsError::Key(
                KeyError::InvalidKey { reason } | KeyError::InvalidHex { reason, .. },
            ) => invalid(reason),
            // Set, but not text: `from_env` reports an unset variable as `None`.
            LogsError::Key(KeyError::MissingEnv { .. }) => invalid("not valid Unicode"),
            problem @ LogsError::Key(
                KeyError::KeyFileExposed { .. }
                | KeyError::RawKeyFile { .. }
                | KeyError::WeakKey { .. },
            ) => CliError::KeyRefused { problem },
            other => CliError::Logs(other),
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
            RECEIPT_KEY,
            RECEIPT_PUBLIC_KEY,
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
        let store_keys = store_keys(master_id, master, audit)?;

        let pkcs8 = CheckpointSigner::generate_pkcs8()?;
        let signer = CheckpointSigner::from_pkcs8(&pkcs8)?;
        let signer_path = self.file(CHECKPOINT_KEY);
        write_new(&signer_path, &pkcs8, Mode::Secret)?;
        written.push(signer_path);
        let public_path = self.file(CHECKPOINT_PUBLIC_KEY);
        let public = format!("{}\n", signer.public_key().to_hex());
        write_new(&public_path, public.as_bytes(), Mode::Public)?;
        written.push(public_path);
        self.new_receipt_key(written)?;

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
    ) -> Result<KeyMaterial, CliError> {
        if let Some(key) = kind.in_environment()? {
            from_environment.push(kind.variable());
            return Ok(key);
        }
        let key = KeyMaterial::generate().map_err(|_| CliError::InvalidKey {
            what: "new key",
            from: "the system random source".to_owned(),
            reason: "the random source failed",
        })?;
        let path = self.file(kind.file());
        let hex = key.expose_hex();
        // Sized up front: a growing string would leave unwiped copies of the key behind.
        let mut text = Zeroizing::new(String::with_capacity(hex.len().saturating_add(1)));
        text.push_str(&hex);
        text.push('\n');
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
        let (store, keys) = self.open_store(master_id)?;
        let vault = open_vault(&store, &keys, policy)?;
        Ok(Session { store, vault })
    }

    /// The embedded store alone, its keys checked, with no vault: for `audit verify`, which
    /// must read a store whose logs do not verify (a vault refuses to open on one).
    pub(crate) fn open_store(
        &self,
        master_id: &MasterKeyId,
    ) -> Result<(SqliteStore, StoreKeys), CliError> {
        let database = self.file(DATABASE);
        if !database.is_file() {
            return Err(CliError::NoStore { path: database });
        }
        let keys = self.store_keys(master_id)?;
        let store = SqliteStore::open(&database, &keys)?;
        Ok((store, keys))
    }

    /// The shared PostgreSQL store alone, its keys checked, with no vault (as
    /// [`open_store`](Self::open_store)).
    #[cfg(feature = "postgres")]
    pub(crate) fn open_postgres_store(
        &self,
        master_id: &MasterKeyId,
        config: &PgConfig,
    ) -> Result<(PgStore, StoreKeys), CliError> {
        let keys = self.store_keys(master_id)?;
        let store = PgStore::open(config, &keys)?;
        Ok((store, keys))
    }

    fn store_keys(&self, master_id: &MasterKeyId) -> Result<StoreKeys, CliError> {
        let master = self.key(KeyKind::Master)?;
        let audit = self.key(KeyKind::Audit)?;
        store_keys(master_id, master, audit)
    }

    /// The shared PostgreSQL store at `config` (checked against this directory's keys) and a
    /// vault on it under `policy`: the audit chain verified, facts loaded.
    #[cfg(feature = "postgres")]
    pub(crate) fn open_postgres(
        &self,
        master_id: &MasterKeyId,
        policy: Policy,
        config: &PgConfig,
    ) -> Result<PgSession, CliError> {
        let (store, keys) = self.open_postgres_store(master_id, config)?;
        let vault = open_vault(&store, &keys, policy)?;
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
        let invalid = |reason| CliError::InvalidKey {
            what: "checkpoint public key",
            from: path.display().to_string(),
            reason,
        };
        let text = std::str::from_utf8(&text).map_err(|_| invalid("not hex text"))?;
        CheckpointPublicKey::from_hex(text)
            .map_err(|_| invalid("a public key is 32 bytes, written as 64 hex digits"))
    }

    /// The receipt-signing key, from `receipt.pk8`; made on first use in a store made before
    /// receipts were signed (with `receipt.pub` beside it).
    pub(crate) fn receipt_signer(&self) -> Result<ReceiptSigner, CliError> {
        let path = self.file(RECEIPT_KEY);
        if !path.exists() {
            if !self.file(DATABASE).is_file() {
                return Err(CliError::NoStore {
                    path: self.file(DATABASE),
                });
            }
            match self.new_receipt_key(&mut Vec::new()) {
                Ok(signer) => return Ok(signer),
                // Another process made it first: use theirs.
                Err(CliError::AlreadyInitialized { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        let pkcs8 = Zeroizing::new(read_key_file(&path, "receipt signing key")?);
        ReceiptSigner::from_pkcs8(&pkcs8).map_err(|_| CliError::InvalidKey {
            what: "receipt signing key",
            from: path.display().to_string(),
            reason: "not an Ed25519 PKCS#8 document",
        })
    }

    /// The public key that verifies receipts: from `receipt.pub`, or from the signing key
    /// (made on first use) where that file is missing.
    pub(crate) fn receipt_public_key(&self) -> Result<ReceiptPublicKey, CliError> {
        let path = self.file(RECEIPT_PUBLIC_KEY);
        if !path.exists() {
            return Ok(self.receipt_signer()?.public_key());
        }
        let text = read_key_file(&path, "receipt public key")?;
        let invalid = |reason| CliError::InvalidKey {
            what: "receipt public key",
            from: path.display().to_string(),
            reason,
        };
        let text = std::str::from_utf8(&text).map_err(|_| invalid("not hex text"))?;
        text.parse()
            .map_err(|_| invalid("a public key is 32 bytes, written as 64 hex digits"))
    }

    /// A new receipt-signing key and its public key, written as `receipt.pk8` (0600) and
    /// `receipt.pub` (each added to `written` once it is).
    fn new_receipt_key(&self, written: &mut Vec<PathBuf>) -> Result<ReceiptSigner, CliError> {
        let pkcs8 = ReceiptSigner::generate_pkcs8()?;
        let signer = ReceiptSigner::from_pkcs8(&pkcs8)?;
        let signer_path = self.file(RECEIPT_KEY);
        write_new(&signer_path, &pkcs8, Mode::Secret)?;
        written.push(signer_path);
        let public_path = self.file(RECEIPT_PUBLIC_KEY);
        let public = format!("{}\n", signer.public_key().to_hex());
        // A public key file left from an earlier key would not verify this key's receipts.
        let _stale = fs::remove_file(&public_path);
        write_new(&public_path, public.as_bytes(), Mode::Public)?;
        written.push(public_path);
        Ok(signer)
    }

    /// A symmetric key: from its variable if set, else from its file.
    fn key(&self, kind: KeyKind) -> Result<KeyMaterial, CliError> {
        if let Some(key) = kind.in_environment()? {
            return Ok(key);
        }
        let path = self.file(kind.file());
        KeyMaterial::from_file(&path).map_err(|error| kind.error(path.display().to_string(), error))
    }
}

/// The store's keys; a trivially weak one is bad input, named (`master key` or `audit key`).
fn store_keys(
    master_id: &MasterKeyId,
    master: KeyMaterial,
    audit: KeyMaterial,
) -> Result<StoreKeys, CliError> {
    StoreKeys::from_material(master_id.clone(), master, audit).map_err(|error| match error {
        StoreError::Logs(problem @ LogsError::Key(KeyError::WeakKey { .. })) => {
            CliError::KeyRefused { problem }
        }
        other => other.into(),
    })
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

/// Who may read a file the CLI writes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// Only the owner (0600 on unix): keys, and files that name customers.
    Secret,
    /// Anyone the directory lets in: the public key.
    Public,
}

/// Writes a new file of the store directory, refusing an existing one: the store is then
/// initialized already.
fn write_new(path: &Path, bytes: &[u8], mode: Mode) -> Result<(), CliError> {
    write_new_file(path, bytes, mode).map_err(|error| match error {
        CliError::OutputExists { path } => CliError::AlreadyInitialized { path },
        other => other,
    })
}

/// Writes a new file and syncs it, refusing an existing one (atomically: `create_new`) with
/// [`CliError::OutputExists`].
pub(crate) fn write_new_file(path: &Path, bytes: &[u8], mode: Mode) -> Result<(), CliError> {
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
            CliError::OutputExists {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> StoreDir {
        let root = std::env::temp_dir().join(format!("steward-cli-{name}-{}", std::process::id()));
        fs::create_dir_all(&root).unwrap();
        StoreDir::new(root)
    }

    fn load(dir: &StoreDir, contents: &[u8]) -> Result<KeyMaterial, CliError> {
        let path = dir.file(AUDIT_KEY);
        fs::write(&path, contents).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        dir.key(KeyKind::Audit)
    }

    #[test]
    fn a_key_file_is_exactly_64_hex_digits_and_a_line_break() {
        let dir = dir("key-files");
        assert!(load(&dir, format!("{}\n", "aB".repeat(32)).as_bytes()).is_ok());
        for (contents, reason) in [
            (
                format!(" {}\n", "ab".repeat(32)),
                "a key file holds exactly 64 hex digits and at most a line break",
            ),
            (
                "ab".repeat(31),
                "a key file holds exactly 64 hex digits and at most a line break",
            ),
            (
                "ab".repeat(33),
                "a key file holds exactly 64 hex digits and at most a line break",
            ),
            (
                format!("{}a", "ab".repeat(32)),
                "a key file holds exactly 64 hex digits and at most a line break",
            ),
            (format!("{}zz", "ab".repeat(31)), "not a hex digit"),
        ] {
            match load(&dir, contents.as_bytes()) {
                Err(CliError::InvalidKey {
                    what: "audit key",
                    reason: found,
                    ..
                }) => assert_eq!(found, reason, "{} characters", contents.len()),
                other => panic!("expected an invalid key, got {other:?}"),
            }
        }
        // The raw 32 bytes are not a key file: the command writes and reads hex only, and
        // says how to convert them.
        let raw = load(&dir, b"steward test key c3, not secret!").unwrap_err();
        assert!(matches!(raw, CliError::KeyRefused { .. }), "{raw:?}");
        assert!(raw.to_string().contains("xxd -p -c 32"), "{raw}");
        assert_eq!(raw.exit(), crate::error::Exit::BadInput);
        fs::remove_file(dir.file(AUDIT_KEY)).unwrap();
        assert!(matches!(
            dir.key(KeyKind::Audit),
            Err(CliError::MissingKeyFile {
                what: "audit key",
                ..
            })
        ));
        fs::remove_dir_all(&dir.root).unwrap();
    }

    #[test]
    fn an_invalid_key_is_never_shown() {
        let dir = dir("key-secret");
        let secret = format!("{}zz", "5e".repeat(31));
        let error = load(&dir, secret.as_bytes()).unwrap_err().to_string();
        assert!(!error.contains("5e5e"), "{error}");
        assert!(error.contains("audit.key"), "{error}");
        fs::remove_dir_all(&dir.root).unwrap();
    }
}
