//! The keys a store is opened with, and how it recognises them at start-up without ever
//! holding either key in its tables.
//!
//! The check values and their computation belong to steward-logs
//! ([`MasterKey::check_value`], [`AuditKey::check_value`]): the store only keeps them in its
//! tables (`master_keys`, `meta`) and asks steward-logs to verify them against the keys it is
//! given. Key material is steward-logs' [`KeyMaterial`] too: loaded from hex text, a file or
//! the environment by its constant-time decoder, zeroized on drop.

use std::{fmt, path::Path};

use steward_logs::{
    AuditKey, AuditKeyCheck, KEY_LEN, KeyMaterial, LogsError, MasterKey, MasterKeyCheck,
    MasterKeyId,
};

use crate::StoreError;

/// The key material a store checks at start-up: the master key (with its id) and the audit
/// key, as the service loaded them from its configuration.
///
/// The store never writes the keys anywhere: it stores check values computed from them (see
/// the crate docs, "Integrity at start-up"). Build the steward-logs keys from the same
/// material with [`master_key`](Self::master_key) and [`audit_key`](Self::audit_key), as
/// often as needed. Not `Clone`; the material is zeroized on drop; `Debug` shows only the
/// master key id.
///
/// Load the keys from the environment or from private key files (mode 0600, 64 hex digits each,
/// as [`KeyMaterial::expose_hex`] writes them, see [`KeyMaterial::from_file`]):
///
/// ```
/// use steward_logs::KeyMaterial;
/// use steward_store::StoreKeys;
///
/// let dir = std::env::temp_dir().join(format!("steward-store-keys-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let (master_file, audit_file) = (dir.join("master.key"), dir.join("audit.key"));
/// for file in [&master_file, &audit_file] {
///     std::fs::write(file, format!("{}\n", KeyMaterial::generate()?.expose_hex().as_str()))?;
///     # #[cfg(unix)]
///     # std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
/// }
///
/// let keys = StoreKeys::from_files("kek-2025-03".parse()?, &master_file, &audit_file)?;
/// assert_eq!(keys.master_key_id().as_str(), "kek-2025-03");
/// assert_eq!(keys.master_key()?.id().as_str(), "kek-2025-03");
///
/// // Unset variables are an error naming the variable, never a key.
/// let missing = StoreKeys::from_env("kek-1".parse()?, "MY_SERVICE_NO_MASTER", "MY_SERVICE_NO_AUDIT");
/// assert!(missing.unwrap_err().to_string().contains("MY_SERVICE_NO_MASTER"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Or from bytes the service holds already:
///
/// ```
/// use steward_store::StoreKeys;
///
/// let keys = StoreKeys::new("kek-2025-03".parse()?, b"steward test key 42, not secret!", b"steward test key 17, not secret!")?;
/// assert_eq!(keys.master_key_id().as_str(), "kek-2025-03");
/// assert!(!format!("{keys:?}").contains("test key"));
/// // Trivially weak keys are refused: all zeros, a repeated byte or pattern, counting bytes.
/// assert!(StoreKeys::new("kek-1".parse()?, &[0; 32], b"steward test key 17, not secret!").is_err());
/// assert!(StoreKeys::new("kek-1".parse()?, &[0x42; 31], b"steward test key 17, not secret!").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StoreKeys {
    master_id: MasterKeyId,
    master: KeyMaterial,
    audit: KeyMaterial,
}

impl StoreKeys {
    /// Keys from the master key's id and 32 bytes, and the audit key's bytes (at least 32).
    /// The bytes are copied; the caller wipes its own copy.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidKey`] for a master key of another length than 32 bytes or an
    /// audit key shorter than 32 bytes; [`StoreError::Logs`] with
    /// [`KeyError::WeakKey`](steward_logs::KeyError::WeakKey) for a trivially weak key (the
    /// rule: [`KeyMaterial`]'s docs).
    pub fn new(master_id: MasterKeyId, master: &[u8], audit: &[u8]) -> Result<Self, StoreError> {
        if master.len() != KEY_LEN {
            return Err(invalid_master());
        }
        if audit.len() < AuditKey::MIN_LEN {
            return Err(invalid_audit());
        }
        Self::from_material(
            master_id,
            KeyMaterial::from_bytes(master).map_err(|_| invalid_master())?,
            KeyMaterial::from_bytes(audit).map_err(|_| invalid_audit())?,
        )
    }

    /// Keys from material loaded with steward-logs ([`KeyMaterial::from_env`],
    /// [`KeyMaterial::from_file`], [`KeyMaterial::from_hex`]), for a service that finds each
    /// key in a place of its own.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidKey`] unless the master key is 32 bytes (the audit key, at least
    /// 32, always is); [`StoreError::Logs`] with
    /// [`KeyError::WeakKey`](steward_logs::KeyError::WeakKey) for a trivially weak key.
    pub fn from_material(
        master_id: MasterKeyId,
        master: KeyMaterial,
        audit: KeyMaterial,
    ) -> Result<Self, StoreError> {
        let keys = Self {
            master_id,
            master,
            audit,
        };
        // Both key types accept what they will be built from later, or nothing is built.
        keys.master_key()
            .map_err(|error| weak_or(error, invalid_master()))?;
        keys.audit_key()
            .map_err(|error| weak_or(error, invalid_audit()))?;
        Ok(keys)
    }

    /// Keys from two environment variables holding 64 hex digits each (surrounding
    /// whitespace ignored).
    ///
    /// # Errors
    ///
    /// [`StoreError::Logs`] naming the variable if one is unset, not Unicode or not a key.
    pub fn from_env(
        master_id: MasterKeyId,
        master_variable: &str,
        audit_variable: &str,
    ) -> Result<Self, StoreError> {
        let load = |variable: &str| {
            KeyMaterial::from_env(variable)?.ok_or_else(|| {
                LogsError::Key(steward_logs::KeyError::MissingEnv {
                    name: variable.chars().take(64).collect(),
                })
            })
        };
        Self::from_material(master_id, load(master_variable)?, load(audit_variable)?)
    }

    /// Keys from two private files holding exactly 64 hex digits each, and at most a line
    /// break ([`KeyMaterial::from_file`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Logs`] naming the file if one cannot be read, may be read by its group or
    /// others (`chmod 600` it), holds 32 raw bytes (the message says how to convert them) or
    /// holds no key; as [`from_material`](Self::from_material).
    pub fn from_files(
        master_id: MasterKeyId,
        master_path: impl AsRef<Path>,
        audit_path: impl AsRef<Path>,
    ) -> Result<Self, StoreError> {
        Self::from_material(
            master_id,
            KeyMaterial::from_file(master_path)?,
            KeyMaterial::from_file(audit_path)?,
        )
    }

    /// The master key's id.
    #[must_use]
    pub const fn master_key_id(&self) -> &MasterKeyId {
        &self.master_id
    }

    /// The master key, for a `Keyring`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Logs`] if steward-logs refuses the key (it accepts what
    /// [`new`](Self::new) accepted).
    pub fn master_key(&self) -> Result<MasterKey, StoreError> {
        Ok(MasterKey::from_material(
            self.master_id.clone(),
            &self.master,
        )?)
    }

    /// The audit key, for an `AuditTrail`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Logs`] if steward-logs refuses the key (it accepts what
    /// [`new`](Self::new) accepted).
    pub fn audit_key(&self) -> Result<AuditKey, StoreError> {
        Ok(AuditKey::from_material(&self.audit)?)
    }

    /// A new check value of the master key, to store under its id.
    #[cfg(any(feature = "postgres", test))]
    pub(crate) fn master_check(&self) -> Result<MasterKeyCheck, StoreError> {
        Ok(self.master_key()?.check_value()?)
    }

    /// Whether the master key made `check`.
    pub(crate) fn verify_master(&self, check: &MasterKeyCheck) -> Result<(), StoreError> {
        verify_master(&self.master_key()?, check)
    }

    /// The audit key's check value, to store.
    pub(crate) fn audit_check(&self) -> Result<AuditKeyCheck, StoreError> {
        Ok(self.audit_key()?.check_value())
    }

    /// Whether the audit key made the stored check value `stored`.
    pub(crate) fn verify_audit(&self, stored: &[u8]) -> Result<(), StoreError> {
        let check = AuditKeyCheck::from_bytes(stored)
            .map_err(|error| StoreError::corrupt("meta", "invalid audit key check", error))?;
        self.audit_key()?
            .verify_check(&check)
            .map_err(|_| StoreError::WrongAuditKey)
    }
}

impl fmt::Debug for StoreKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreKeys")
            .field("master_key_id", &self.master_id)
            .finish_non_exhaustive()
    }
}

/// A master key to register, from the bytes a rotation was given.
pub(crate) fn master_key(id: &MasterKeyId, bytes: &[u8]) -> Result<MasterKey, StoreError> {
    MasterKey::from_bytes(id.clone(), bytes)
        .map_err(|error| weak_or(error.into(), invalid_master()))
}

/// A weak key's own error (it says which rule it breaks), else `otherwise`.
fn weak_or(error: StoreError, otherwise: StoreError) -> StoreError {
    match error {
        StoreError::Logs(LogsError::Key(weak @ steward_logs::KeyError::WeakKey { .. })) => {
            StoreError::Logs(LogsError::Key(weak))
        }
        _ => otherwise,
    }
}

/// Whether `master` made `check`; [`StoreError::WrongMasterKey`] if not.
pub(crate) fn verify_master(master: &MasterKey, check: &MasterKeyCheck) -> Result<(), StoreError> {
    // A mismatch is the only way verifying fails: another key, or another id.
    master
        .verify_check(check)
        .map_err(|_| StoreError::WrongMasterKey {
            id: master.id().clone(),
        })
}

/// A stored master key check from its two columns.
pub(crate) fn stored_master_check(
    table: &'static str,
    nonce: &[u8],
    sealed: &[u8],
) -> Result<MasterKeyCheck, StoreError> {
    MasterKeyCheck::from_parts(nonce, sealed)
        .map_err(|error| StoreError::corrupt(table, "invalid master key check", error))
}

const fn invalid_master() -> StoreError {
    StoreError::InvalidKey {
        reason: "a master key is exactly 32 bytes",
    }
}

const fn invalid_audit() -> StoreError {
    StoreError::InvalidKey {
        reason: "an audit key is at least 32 bytes",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> MasterKeyId {
        text.parse().unwrap()
    }

    #[test]
    fn the_master_check_recognises_only_its_key_and_id() {
        let keys = StoreKeys::new(
            id("kek-1"),
            b"steward test key 01, not secret!",
            b"steward test key 03, not secret!",
        )
        .unwrap();
        let check = keys.master_check().unwrap();
        keys.verify_master(&check).unwrap();
        let other = StoreKeys::new(
            id("kek-1"),
            b"steward test key 02, not secret!",
            b"steward test key 03, not secret!",
        )
        .unwrap();
        assert!(matches!(
            other.verify_master(&check),
            Err(StoreError::WrongMasterKey { .. })
        ));
        let renamed = StoreKeys::new(
            id("kek-2"),
            b"steward test key 01, not secret!",
            b"steward test key 03, not secret!",
        )
        .unwrap();
        assert!(matches!(
            renamed.verify_master(&check),
            Err(StoreError::WrongMasterKey { .. })
        ));
    }

    #[test]
    fn the_audit_check_recognises_only_its_key() {
        let keys = StoreKeys::new(
            id("kek-1"),
            b"steward test key 01, not secret!",
            b"steward test key 03, not secret!",
        )
        .unwrap();
        let stored = keys.audit_check().unwrap().as_bytes().to_vec();
        keys.verify_audit(&stored).unwrap();
        let other = StoreKeys::new(
            id("kek-1"),
            b"steward test key 01, not secret!",
            b"steward test key 04, not secret!",
        )
        .unwrap();
        assert!(matches!(
            other.verify_audit(&stored),
            Err(StoreError::WrongAuditKey)
        ));
        assert!(matches!(
            keys.verify_audit(&stored[1..]),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn keys_of_the_wrong_length_are_refused() {
        for (master, audit) in [(31, 32), (33, 32), (32, 31)] {
            assert!(matches!(
                StoreKeys::new(id("k"), &vec![1; master], &vec![2; audit]),
                Err(StoreError::InvalidKey { .. })
            ));
        }
        let audit_64 = b"steward test key 01, not secret! and 32 more bytes of audit key.";
        assert!(StoreKeys::new(id("k"), b"steward test key 01, not secret!", audit_64).is_ok());
        let long = KeyMaterial::from_bytes(&[1; 33]).unwrap();
        assert!(matches!(
            StoreKeys::from_material(id("k"), long, KeyMaterial::generate().unwrap()),
            Err(StoreError::InvalidKey { .. })
        ));
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let keys = StoreKeys::new(
            id("kek-1"),
            b"steward test key ab, not secret!",
            b"steward test audit key cd, 40 bytes long",
        )
        .unwrap();
        let text = format!("{keys:?}");
        assert!(text.contains("kek-1"));
        assert!(!text.contains("test key") && !text.contains("115"));
        assert!(keys.master_key().is_ok() && keys.audit_key().is_ok());
    }

    #[test]
    fn trivially_weak_keys_are_refused_naming_the_key() {
        let good = b"steward test key 01, not secret!";
        let counting: Vec<u8> = (0..32).collect();
        for weak in [[0; 32].as_slice(), &[0x42; 32], &counting] {
            let master = StoreKeys::new(id("k"), weak, good).unwrap_err().to_string();
            assert!(master.contains("master key is trivially weak"), "{master}");
            let audit = StoreKeys::new(id("k"), good, weak).unwrap_err().to_string();
            assert!(audit.contains("audit key is trivially weak"), "{audit}");
        }
        let zeros = KeyMaterial::from_hex(&"00".repeat(32)).unwrap();
        assert!(matches!(
            StoreKeys::from_material(id("k"), zeros, KeyMaterial::generate().unwrap()),
            Err(StoreError::Logs(LogsError::Key(
                steward_logs::KeyError::WeakKey { .. }
            )))
        ));
    }
}
