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
/// # Weak keys
///
/// [`MasterKey`](super::MasterKey) and [`AuditKey`](crate::AuditKey) refuse trivially weak
/// material ([`KeyError::WeakKey`]), the placeholders a template or a careless script leaves
/// and an attacker tries first. For key bytes `b[0..n]`, a key is weak if it has
///
/// 1. fewer than 16 distinct byte values (all zeros, one repeated byte, a few bytes mixed);
/// 2. a period: `b[i] == b[i + p]` for every `i`, for some `p <= n / 2` (a pattern repeated);
/// 3. one difference (mod 256) between all neighbouring bytes (`00 01 02 ..`, `ff fe fd ..`).
///
/// Random keys break none of these in practice: 32 random bytes hold about 30 distinct
/// values, and rules 2 and 3 each match with a probability below 2^-128.
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

    /// The material in a key file: exactly 64 hex digits, either case, optionally followed by
    /// one line break (the form [`expose_hex`](Self::expose_hex) writes, plus a newline).
    ///
    /// The file must be private, as ssh requires of its keys: on Unix, a file that its group
    /// or others may read or write (`mode & 0o077 != 0`) is refused, naming the file, its mode
    /// and `chmod 600`. A file of 32 raw bytes is refused with the command that converts it
    /// (`xxd -p -c 32 key.bin > key.hex`): raw bytes cannot be told from a 32-character text
    /// that was meant as something else, so only one form is accepted.
    ///
    /// # Errors
    ///
    /// [`KeyError::KeyFile`] if the file cannot be read (its `source` says whether it is
    /// missing); [`KeyError::KeyFileExposed`] if others may read it; [`KeyError::RawKeyFile`]
    /// for 32 raw bytes; [`KeyError::InvalidKey`] if it is not 64 hex digits and at most a
    /// line break; [`KeyError::InvalidHex`] for a character that is not a hex digit.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, LogsError> {
        let path = path.as_ref();
        let contents = read_private_file(path)?;
        let digits = contents
            .strip_suffix(b"\r\n")
            .or_else(|| contents.strip_suffix(b"\n"))
            .unwrap_or(&contents);
        if digits.len() != KEY_LEN.saturating_mul(2) {
            if contents.len() == KEY_LEN {
                return Err(LogsError::Key(KeyError::RawKeyFile {
                    path: path.to_path_buf(),
                }));
            }
            return Err(LogsError::Key(KeyError::InvalidKey {
                reason: "a key file holds exactly 64 hex digits and at most a line break",
            }));
        }
        Self::from_hex(as_text(digits)?)
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

/// A whole key file, in a zeroizing buffer, once its permissions are checked on the opened
/// file (so the file checked is the file read).
fn read_private_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, LogsError> {
    use std::io::Read as _;

    let unreadable = |source| {
        LogsError::Key(KeyError::KeyFile {
            path: path.to_path_buf(),
            source,
        })
    };
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;

        let mode = file.metadata().map_err(unreadable)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(LogsError::Key(KeyError::KeyFileExposed {
                path: path.to_path_buf(),
                mode,
            }));
        }
    }
    // Read into a buffer that is wiped, with room for a key and a line break: a key file is
    // never larger, so a reallocation (which would leave an unwiped copy) is rare.
    let mut contents = Zeroizing::new(Vec::with_capacity(
        KEY_LEN.saturating_mul(2).saturating_add(2),
    ));
    file.read_to_end(&mut contents).map_err(unreadable)?;
    Ok(contents)
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

    /// Writes a private key file (mode 0600), as `steward init` does.
    fn write_private(path: &std::path::Path, contents: impl AsRef<[u8]>) {
        std::fs::write(path, contents).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    #[test]
    fn key_files_hold_exactly_64_hex_digits_and_a_line_break() {
        let dir = temp_dir("files");
        let digits = "5a3c".repeat(16);
        for (name, contents) in [
            ("bare", digits.clone()),
            ("newline", format!("{digits}\n")),
            ("crlf", format!("{digits}\r\n")),
        ] {
            let file = dir.join(name);
            write_private(&file, contents);
            assert_eq!(
                KeyMaterial::from_file(&file).unwrap().as_bytes(),
                [0x5a, 0x3c].repeat(16),
                "{name}"
            );
        }
        for (name, contents) in [
            ("leading-space", format!(" {digits}")),
            ("two-newlines", format!("{digits}\n\n")),
            ("trailing-space", format!("{digits} \n")),
            ("short", digits[..62].to_owned()),
        ] {
            let file = dir.join(name);
            write_private(&file, contents);
            assert!(
                matches!(
                    KeyMaterial::from_file(&file),
                    Err(LogsError::Key(KeyError::InvalidKey { .. }))
                ),
                "{name}"
            );
        }
        match KeyMaterial::from_file(dir.join("missing.key")) {
            Err(LogsError::Key(KeyError::KeyFile { source, .. })) => {
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected a key file error, got {other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_raw_32_byte_key_file_is_refused_with_how_to_convert_it() {
        let dir = temp_dir("raw");
        let raw = dir.join("raw.key");
        write_private(&raw, b"steward test key c3, not secret!");
        let error = KeyMaterial::from_file(&raw).unwrap_err();
        assert!(
            matches!(&error, LogsError::Key(KeyError::RawKeyFile { path }) if *path == raw),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("xxd -p -c 32"), "{message}");
        assert!(message.contains("raw.key"), "{message}");
        // Binary bytes too, not only text of 32 characters.
        write_private(&raw, [0xc3, 0x01].repeat(16));
        assert!(matches!(
            KeyMaterial::from_file(&raw),
            Err(LogsError::Key(KeyError::RawKeyFile { .. }))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn key_files_readable_by_group_or_others_are_refused() {
        use std::os::unix::fs::PermissionsExt as _;

        let dir = temp_dir("mode");
        let file = dir.join("audit.key");
        write_private(&file, format!("{}\n", "5a3c".repeat(16)));
        assert!(KeyMaterial::from_file(&file).is_ok());
        for mode in [0o644, 0o640, 0o604, 0o660, 0o602, 0o620] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            let error = KeyMaterial::from_file(&file).unwrap_err();
            assert!(
                matches!(
                    &error,
                    LogsError::Key(KeyError::KeyFileExposed { path, mode: found })
                        if *path == file && *found == mode
                ),
                "{mode:o}: {error:?}"
            );
            let message = error.to_string();
            assert!(message.contains("chmod 600"), "{message}");
            assert!(message.contains(&format!("{mode:03o}")), "{message}");
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(KeyMaterial::from_file(&file).is_ok());
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
        // KeyMaterial holds any bytes; the keys built from it refuse weak ones.
        assert_eq!(format!("{material:?}"), "KeyMaterial { len: 32, .. }");
        let secret = format!("{}zz", "ab".repeat(31));
        let error = KeyMaterial::from_hex(&secret).unwrap_err().to_string();
        assert!(!error.contains("abab"), "{error}");
    }
}
