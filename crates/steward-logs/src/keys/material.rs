//! Secret key material as configuration holds it: loaded from hex text, an environment variable
//! or a file, or generated for a new key file, before it becomes a [`MasterKey`] or an
//! [`AuditKey`].
//!
//! [`MasterKey`]: super::MasterKey
//! [`AuditKey`]: crate::AuditKey

use std::{env::VarError, fmt, path::Path};

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::KEY_LEN;
use crate::{KeyError, LogsError, hex};

/// Secret key material: at least 32 bytes, zeroized on drop, never printed.
///
/// The one way keys get from configuration into the process. Hex text (64 digits, surrounding
/// whitespace ignored) is decoded in constant time (see [`hex`](crate::hex)), and every copy
/// of the bytes or their text is wiped, on success and on every error. Build the keys with
/// [`MasterKey::from_material`](super::MasterKey::from_material) and
/// [`AuditKey::from_material`](crate::AuditKey::from_material), as often as needed: one
/// `KeyMaterial` can build a key for a store's start-up check and another for its keyring.
///
/// Not `Clone`; `Debug` shows only the length.
///
/// ```
/// use steward_logs::{AuditKey, KeyMaterial, MasterKey};
///
/// // A new key file: random material, written as hex (keep the file private).
/// let material = KeyMaterial::generate()?;
/// let text = material.expose_hex();
/// assert_eq!(text.len(), 64);
///
/// // Loading it back, whitespace and case aside, gives the same key.
/// let loaded = KeyMaterial::from_hex(&format!("{}\n", text.to_uppercase()))?;
/// let check = MasterKey::from_material("kek-1".parse()?, &material)?.check_value()?;
/// let master = MasterKey::from_material("kek-1".parse()?, &loaded)?;
/// assert!(master.verify_check(&check).is_ok());
/// assert!(AuditKey::from_material(&loaded).is_ok());
///
/// assert!(KeyMaterial::from_hex("abcd").is_err());
/// assert!(!format!("{loaded:?}").contains(&text[..8]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeyMaterial(Zeroizing<Vec<u8>>);

impl KeyMaterial {
    /// Length of generated and hex-loaded material, in bytes.
    pub const LEN: usize = KEY_LEN;

    /// 32 bytes from the system's random source, for a new key file.
    ///
    /// # Errors
    ///
    /// [`KeyError::Random`] if the random source fails.
    pub fn generate() -> Result<Self, LogsError> {
        let mut bytes = Zeroizing::new(vec![0_u8; KEY_LEN]);
        SystemRandom::new()
            .fill(bytes.as_mut_slice())
            .map_err(|_| LogsError::Key(KeyError::Random))?;
        Ok(Self(bytes))
    }

    /// Material from raw bytes (copied; the caller wipes its own copy).
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidKey`] for fewer than 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LogsError> {
        if bytes.len() < KEY_LEN {
            return Err(LogsError::Key(KeyError::InvalidKey {
                reason: "a key is at least 32 bytes",
            }));
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// 32 bytes from 64 hex digits, either case; surrounding whitespace is ignored.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidKey`] unless the text is 64 characters long (once trimmed);
    /// [`KeyError::InvalidHex`] if one of them is not a hex digit.
    pub fn from_hex(text: &str) -> Result<Self, LogsError> {
        let text = text.trim();
        // The length is public: refusing it early says more than "wrong length".
        if text.len() != KEY_LEN.saturating_mul(2) {
            return Err(LogsError::Key(KeyError::InvalidKey {
                reason: "a key is 32 bytes, written as 64 hex digits",
            }));
        }
        let bytes = Zeroizing::new(hex::decode::<KEY_LEN>(text, "key")?);
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// The material in an environment variable holding 64 hex digits, or `None` if the
    /// variable is not set (so a caller can fall back to a file).
    ///
    /// # Errors
    ///
    /// [`KeyError::MissingEnv`] if the variable is set but not valid Unicode; as
    /// [`from_hex`](Self::from_hex) if its value is not a key.
    pub fn from_env(variable: &str) -> Result<Option<Self>, LogsError> {
        match std::env::var(variable) {
            Ok(text) => Self::from_hex(&Zeroizing::new(text)).map(Some),
            Err(VarError::NotPresent) => Ok(None),
            // The value is dropped inside the error, unwiped: std gives no way to wipe an
            // `OsString`. It is not valid text, so it is not a key this crate would accept.
            Err(VarError::NotUnicode(_)) => Err(LogsError::Key(KeyError::MissingEnv {
                name: variable.chars().take(64).collect(),
            })),
        }
    }

    /// The material in a file holding 64 hex digits (surrounding whitespace ignored), the
    /// form [`expose_hex`](Self::expose_hex) writes.
    ///
    /// # Errors
    ///
    /// [`KeyError::KeyFile`] if the file cannot be read (its `source` says whether it is
    /// missing); [`KeyError::InvalidKey`] if it is not text; as [`from_hex`](Self::from_hex)
    /// if it is not a key.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, LogsError> {
        let contents = read_file(path.as_ref())?;
        Self::from_hex(as_text(&contents)?)
    }

    /// As [`from_file`](Self::from_file), but a file of exactly 32 bytes is taken as the raw
    /// key (for example `head -c 32 /dev/urandom > master.key`): the forms
    /// [`MasterKey::from_file`](super::MasterKey::from_file) accepts.
    ///
    /// # Errors
    ///
    /// As [`from_file`](Self::from_file), for a file that is not 32 bytes long.
    pub fn from_hex_or_raw_file(path: impl AsRef<Path>) -> Result<Self, LogsError> {
        let contents = read_file(path.as_ref())?;
        if contents.len() == KEY_LEN {
            return Self::from_bytes(&contents);
        }
        Self::from_hex(as_text(&contents)?)
    }

    /// The material as lowercase hex, to write a new key file. Whoever holds the text holds
    /// the key: keep it out of logs and messages, and write it only to a private file.
    #[must_use]
    pub fn expose_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(&self.0))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("len", &self.0.len())
            .finish_non_exhaustive()
    }
}

/// A whole key file, in a zeroizing buffer.
fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, LogsError> {
    std::fs::read(path).map(Zeroizing::new).map_err(|source| {
        LogsError::Key(KeyError::KeyFile {
            path: path.to_path_buf(),
            source,
        })
    })
}

fn as_text(contents: &[u8]) -> Result<&str, LogsError> {
    std::str::from_utf8(contents).map_err(|_| {
        LogsError::Key(KeyError::InvalidKey {
            reason: "not hex text",
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "steward-logs-material-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn hex_round_trips_through_expose_hex() {
        let material = KeyMaterial::generate().unwrap();
        let text = material.expose_hex();
        assert_eq!(text.len(), 64);
        let loaded = KeyMaterial::from_hex(&format!("  {}\n", text.as_str())).unwrap();
        assert_eq!(loaded.as_bytes(), material.as_bytes());
        let upper = KeyMaterial::from_hex(&text.to_uppercase()).unwrap();
        assert_eq!(upper.as_bytes(), material.as_bytes());
    }

    #[test]
    fn two_generated_keys_differ() {
        let a = KeyMaterial::generate().unwrap();
        let b = KeyMaterial::generate().unwrap();
        assert_ne!(a.as_bytes(), b.as_bytes());
    }

    #[test]
    fn hex_of_the_wrong_length_or_with_a_bad_digit_is_refused() {
        for text in [
            "",
            "ab",
            &"ab".repeat(31),
            &"ab".repeat(33),
            &format!("{}a", "ab".repeat(32)),
        ] {
            assert!(
                matches!(
                    KeyMaterial::from_hex(text),
                    Err(LogsError::Key(KeyError::InvalidKey {
                        reason: "a key is 32 bytes, written as 64 hex digits"
                    }))
                ),
                "{} digits",
                text.len()
            );
        }
        let bad = format!("{}zz", "ab".repeat(31));
        assert!(matches!(
            KeyMaterial::from_hex(&bad),
            Err(LogsError::Key(KeyError::InvalidHex {
                reason: "not a hex digit",
                ..
            }))
        ));
        // Whitespace inside the digits is not surrounding whitespace.
        let spaced = format!("{} {}", "ab".repeat(16), "ab".repeat(15));
        assert!(KeyMaterial::from_hex(&format!("{spaced}a")).is_err());
    }

    #[test]
    fn short_raw_material_is_refused() {
        assert!(KeyMaterial::from_bytes(&[7; 31]).is_err());
        assert_eq!(
            KeyMaterial::from_bytes(&[7; 40]).unwrap().as_bytes(),
            [7; 40]
        );
    }

    #[test]
    fn files_hold_hex_and_raw_files_only_where_accepted() {
        let dir = temp_dir("files");
        let hexfile = dir.join("hex.key");
        std::fs::write(&hexfile, format!("{}\n", "5a".repeat(32))).unwrap();
        assert_eq!(
            KeyMaterial::from_file(&hexfile).unwrap().as_bytes(),
            [0x5a; 32]
        );
        let raw = dir.join("raw.key");
        std::fs::write(&raw, [0xc3; 32]).unwrap();
        // Not UTF-8, so not hex text; the master key loader takes it as the raw key.
        assert!(matches!(
            KeyMaterial::from_file(&raw),
            Err(LogsError::Key(KeyError::InvalidKey {
                reason: "not hex text"
            }))
        ));
        assert_eq!(
            KeyMaterial::from_hex_or_raw_file(&raw).unwrap().as_bytes(),
            [0xc3; 32]
        );
        match KeyMaterial::from_file(dir.join("missing.key")) {
            Err(LogsError::Key(KeyError::KeyFile { source, .. })) => {
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected a key file error, got {other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unset_variable_is_none() {
        assert!(
            KeyMaterial::from_env("STEWARD_LOGS_TEST_UNSET_MATERIAL")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn debug_and_errors_never_show_key_material() {
        let material = KeyMaterial::from_bytes(&[0xab; 32]).unwrap();
        assert_eq!(format!("{material:?}"), "KeyMaterial { len: 32, .. }");
        let secret = format!("{}zz", "ab".repeat(31));
        let error = KeyMaterial::from_hex(&secret).unwrap_err().to_string();
        assert!(!error.contains("abab"), "{error}");
    }
}
