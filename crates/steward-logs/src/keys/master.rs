//! Master keys (key-encryption keys) and their ids: loading, and wrapping data keys.

use std::{fmt, path::Path, str::FromStr, sync::Arc};

use ring::{
    aead,
    rand::{SecureRandom, SystemRandom},
};
use steward_core::CustomerId;
use zeroize::Zeroizing;

use super::{
    KEY_LEN, KeyMaterial, KeyVersion,
    check::{MASTER_CHECK_LABEL, MasterKeyCheck},
    strength::weakness,
    wrapped::{DataKey, WRAP_NONCE_LEN, WRAPPED_LEN, WrappedDataKey},
};
use crate::{KeyError, LogsError};

const WRAP_LABEL: &[u8] = b"steward-logs/v1/wrap\0";

/// The id of a master key, bound into every data key it wraps.
///
/// 1 to 64 ASCII letters, digits, `.`, `-`, `_` or `:` (for example `kek-2025-03` or a KMS
/// key alias).
///
/// ```
/// use steward_logs::MasterKeyId;
///
/// let id: MasterKeyId = "kek-2025-03".parse()?;
/// assert_eq!(id.as_str(), "kek-2025-03");
/// assert!("".parse::<MasterKeyId>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Cloning is cheap (the text is shared): every wrapped data key names its master key, so a
/// keyring of a million customers holds a million copies of one id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MasterKeyId(Arc<str>);

impl MasterKeyId {
    /// Longest accepted id, in bytes.
    pub const MAX_LEN: usize = 64;

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MasterKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKeyId({})", self.0)
    }
}

impl fmt::Display for MasterKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for MasterKeyId {
    type Err = LogsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| {
            LogsError::Key(KeyError::InvalidKeyId {
                id: text.chars().take(64).collect(),
                reason,
            })
        };
        if text.is_empty() {
            return Err(invalid("empty"));
        }
        if text.len() > Self::MAX_LEN {
            return Err(invalid("longer than 64 characters"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
        if !text.chars().all(allowed) {
            return Err(invalid(
                "only ASCII letters, digits, `.`, `-`, `_` and `:` are allowed",
            ));
        }
        Ok(Self(text.into()))
    }
}

steward_core::serde_via_string!(MasterKeyId);

/// A master key (key-encryption key): AES-256-GCM, used only to wrap and unwrap data keys.
///
/// Loaded from bytes, hex text, an environment variable or a file; never generated here,
/// because a master key that exists only in this process could not be loaded again. Not
/// `Clone`; `Debug` shows only the id and algorithm. The raw bytes are zeroized as soon as
/// ring's key schedule is built; ring's expanded key schedule cannot be zeroized (see
/// docs/record-format.md).
pub struct MasterKey {
    pub(super) id: MasterKeyId,
    key: aead::LessSafeKey,
}

impl MasterKey {
    /// A master key from its 32 raw bytes.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidKey`] unless `bytes` is exactly 32 bytes long;
    /// [`KeyError::WeakKey`] for a trivially weak key (all zeros, a repeated byte or pattern,
    /// a counting sequence: the rule is in [`KeyMaterial`]'s docs).
    pub fn from_bytes(id: MasterKeyId, bytes: &[u8]) -> Result<Self, LogsError> {
        if bytes.len() != KEY_LEN {
            return Err(LogsError::Key(KeyError::InvalidKey {
                reason: "a master key is exactly 32 bytes",
            }));
        }
        if let Some(reason) = weakness(bytes) {
            return Err(LogsError::Key(KeyError::WeakKey {
                what: "master key",
                reason,
            }));
        }
        let key = aead::UnboundKey::new(&aead::AES_256_GCM, bytes).map_err(|_| {
            LogsError::Key(KeyError::InvalidKey {
                reason: "a master key is exactly 32 bytes",
            })
        })?;
        Ok(Self {
            id,
            key: aead::LessSafeKey::new(key),
        })
    }

    /// A master key from loaded [`KeyMaterial`].
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidKey`] unless the material is exactly 32 bytes.
    pub fn from_material(id: MasterKeyId, material: &KeyMaterial) -> Result<Self, LogsError> {
        Self::from_bytes(id, material.as_bytes())
    }

    /// A master key from 64 hex digits (surrounding whitespace ignored).
    ///
    /// # Errors
    ///
    /// As [`KeyMaterial::from_hex`].
    pub fn from_hex(id: MasterKeyId, text: &str) -> Result<Self, LogsError> {
        Self::from_material(id, &KeyMaterial::from_hex(text)?)
    }

    /// A master key from an environment variable holding 64 hex digits.
    ///
    /// # Errors
    ///
    /// [`KeyError::MissingEnv`] if the variable is unset or not Unicode; as
    /// [`KeyMaterial::from_hex`] if its value is not 64 hex digits.
    pub fn from_env(id: MasterKeyId, variable: &str) -> Result<Self, LogsError> {
        let material = KeyMaterial::from_env(variable)?.ok_or_else(|| {
            LogsError::Key(KeyError::MissingEnv {
                name: variable.chars().take(64).collect(),
            })
        })?;
        Self::from_material(id, &material)
    }

    /// A master key from a private file holding 64 hex digits (see
    /// [`KeyMaterial::from_file`]).
    ///
    /// # Errors
    ///
    /// As [`KeyMaterial::from_file`], and as [`from_bytes`](Self::from_bytes).
    pub fn from_file(id: MasterKeyId, path: impl AsRef<Path>) -> Result<Self, LogsError> {
        Self::from_material(id, &KeyMaterial::from_file(path.as_ref())?)
    }

    /// A new check value of this key: a fixed label sealed under it (AES-256-GCM, a random
    /// nonce, the key id as associated data), for a store to keep beside its data and
    /// recognise the key at start-up with [`verify_check`](Self::verify_check) without ever
    /// holding it. Known plaintext reveals nothing about an AES key.
    ///
    /// ```
    /// use steward_logs::{MasterKey, MasterKeyCheck};
    ///
    /// let key = MasterKey::from_bytes("kek-1".parse()?, b"steward test key 42, not secret!")?;
    /// let check = key.check_value()?;
    /// // Stored as its two parts, and read back.
    /// let stored = MasterKeyCheck::from_parts(check.nonce(), check.sealed())?;
    /// assert!(key.verify_check(&stored).is_ok());
    /// let other = MasterKey::from_bytes("kek-1".parse()?, b"steward test key 43, not secret!")?;
    /// assert!(other.verify_check(&stored).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeyError::Random`] if the system random source fails.
    pub fn check_value(&self) -> Result<MasterKeyCheck, LogsError> {
        let mut nonce = [0_u8; MasterKeyCheck::NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| LogsError::Key(KeyError::Random))?;
        let mut sealed = [0_u8; MasterKeyCheck::SEALED_LEN];
        let (body, tag_slot) = sealed.split_at_mut(MASTER_CHECK_LABEL.len());
        body.copy_from_slice(MASTER_CHECK_LABEL);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(self.id.as_str().as_bytes()),
                body,
            )
            .map_err(|_| LogsError::Overflow {
                what: "sealing a master key check",
            })?;
        tag_slot.copy_from_slice(tag.as_ref());
        Ok(MasterKeyCheck { nonce, sealed })
    }

    /// Whether this key, under its id, made `check` (see [`check_value`](Self::check_value)).
    /// The tag is compared in constant time, inside ring.
    ///
    /// # Errors
    ///
    /// [`KeyError::CheckMismatch`] if it did not: another key, or another id.
    pub fn verify_check(&self, check: &MasterKeyCheck) -> Result<(), LogsError> {
        let mismatch = || LogsError::Key(KeyError::CheckMismatch { what: "master key" });
        let mut buffer = check.sealed;
        let opened = self
            .key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(check.nonce),
                aead::Aad::from(self.id.as_str().as_bytes()),
                &mut buffer,
            )
            .map_err(|_| mismatch())?;
        // The label is public: an ordinary comparison leaks nothing.
        if opened == MASTER_CHECK_LABEL {
            Ok(())
        } else {
            Err(mismatch())
        }
    }

    /// The id of this master key.
    #[must_use]
    pub const fn id(&self) -> &MasterKeyId {
        &self.id
    }

    pub(super) fn wrap(
        &self,
        rng: &SystemRandom,
        customer: CustomerId,
        version: KeyVersion,
        data_key: &DataKey,
    ) -> Result<WrappedDataKey, LogsError> {
        // A random nonce is safe here: wraps are rare (one per data key and master rotation),
        // far below the 2^32 random-nonce limit of NIST SP 800-38D.
        let mut nonce = [0u8; WRAP_NONCE_LEN];
        rng.fill(&mut nonce)
            .map_err(|_| LogsError::Key(KeyError::Random))?;
        let mut ciphertext = [0u8; WRAPPED_LEN];
        let (body, tag_slot) = ciphertext.split_at_mut(KEY_LEN);
        body.copy_from_slice(data_key.as_bytes());
        let aad = wrap_aad(&self.id, customer, version);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(&aad),
                body,
            )
            .map_err(|_| LogsError::Overflow {
                what: "wrapping a data key",
            })?;
        tag_slot.copy_from_slice(tag.as_ref());
        Ok(WrappedDataKey {
            master_key: self.id.clone(),
            customer,
            version,
            nonce,
            ciphertext,
        })
    }

    pub(super) fn unwrap(&self, wrapped: &WrappedDataKey) -> Result<DataKey, LogsError> {
        let failed = || {
            LogsError::Key(KeyError::UnwrapFailed {
                version: wrapped.version,
            })
        };
        let aad = wrap_aad(&self.id, wrapped.customer, wrapped.version);
        let mut buffer = Zeroizing::new(wrapped.ciphertext);
        let plain = self
            .key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(wrapped.nonce),
                aead::Aad::from(&aad),
                buffer.as_mut_slice(),
            )
            .map_err(|_| failed())?;
        // Copy straight into the zeroizing buffer: no unwiped copy of the key on the stack.
        let mut bytes = Zeroizing::new([0_u8; KEY_LEN]);
        if plain.len() != KEY_LEN {
            return Err(failed());
        }
        bytes.copy_from_slice(plain);
        Ok(DataKey(bytes))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .field("algorithm", &"AES-256-GCM")
            .finish_non_exhaustive()
    }
}

// The length prefix of the wrap AAD is one byte: an id that could outgrow it fails the build.
const _: () = assert!(MasterKeyId::MAX_LEN <= u8::MAX as usize);

/// `master key id length || master key id || customer || version`, after a domain label.
#[expect(
    clippy::expect_used,
    reason = "a master key id is at most MAX_LEN (64) bytes, so its length fits a byte"
)]
fn wrap_aad(id: &MasterKeyId, customer: CustomerId, version: KeyVersion) -> Vec<u8> {
    let id = id.as_str().as_bytes();
    let mut aad = Vec::with_capacity(WRAP_LABEL.len() + 1 + id.len() + 16 + 4);
    aad.extend_from_slice(WRAP_LABEL);
    // INVARIANT: `MasterKeyId::from_str`, its only constructor (serde goes through it too),
    // refuses ids longer than MAX_LEN bytes, and MAX_LEN fits a byte (asserted above). A
    // clamped length would bind the wrap to a different id, so there is no fallback.
    let id_len = u8::try_from(id.len()).expect("a master key id is at most 64 bytes");
    aad.push(id_len);
    aad.extend_from_slice(id);
    aad.extend_from_slice(customer.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;
    use crate::keys::{
        Keyring,
        test_support::{customer, master, test_key},
    };

    #[test]
    fn wrap_is_bound_to_customer_and_version() {
        let mut keyring = Keyring::new(master("kek-1", 1));
        let version = keyring.ensure_data_key(customer(1)).unwrap();
        let snapshot = keyring.snapshot();
        let wrapped = snapshot.data_keys().first().unwrap().clone();
        let moved = WrappedDataKey {
            customer: customer(2),
            ..wrapped.clone()
        };
        let bumped = WrappedDataKey {
            version: version.next().unwrap(),
            ..wrapped.clone()
        };
        let master = master("kek-1", 1);
        assert!(master.unwrap(&wrapped).is_ok());
        assert!(matches!(
            master.unwrap(&moved),
            Err(LogsError::Key(KeyError::UnwrapFailed { .. }))
        ));
        assert!(matches!(
            master.unwrap(&bumped),
            Err(LogsError::Key(KeyError::UnwrapFailed { .. }))
        ));
    }

    #[test]
    fn the_wrap_aad_prefixes_the_longest_id_with_its_length() {
        let longest = "k".repeat(MasterKeyId::MAX_LEN);
        let id: MasterKeyId = longest.parse().unwrap();
        let aad = wrap_aad(&id, customer(1), KeyVersion::FIRST);
        assert_eq!(aad.get(WRAP_LABEL.len()), Some(&64));
        assert_eq!(aad.len(), WRAP_LABEL.len() + 1 + 64 + 16 + 4);
        assert!(format!("{longest}k").parse::<MasterKeyId>().is_err());
    }

    #[test]
    fn debug_never_shows_key_material() {
        let master = MasterKey::from_bytes("kek-1".parse().unwrap(), &test_key(0xab)).unwrap();
        let text = format!("{master:?}");
        assert!(text.contains("kek-1") && text.contains("AES-256-GCM"));
        assert!(!text.contains("test key"));
        assert!(!text.contains("115"));
    }

    #[test]
    fn trivially_weak_master_keys_are_refused() {
        let counting: Vec<u8> = (0..32).collect();
        let pattern: Vec<u8> = b"0123456789abcdef".repeat(2);
        for weak in [
            [0; 32].as_slice(),
            &[0x42; 32],
            &[0xff; 32],
            &counting,
            &pattern,
        ] {
            let error = MasterKey::from_bytes("kek-1".parse().unwrap(), weak).unwrap_err();
            assert!(
                matches!(
                    error,
                    LogsError::Key(KeyError::WeakKey {
                        what: "master key",
                        ..
                    })
                ),
                "{error:?}"
            );
            assert!(error.to_string().contains("trivially weak"), "{error}");
        }
        assert!(MasterKey::from_bytes("kek-1".parse().unwrap(), &test_key(0)).is_ok());
    }

    #[test]
    fn key_loaders_accept_private_hex_files_only() {
        let dir = std::env::temp_dir().join(format!("steward-logs-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let private = |path: &std::path::Path, contents: &[u8]| {
            std::fs::write(path, contents).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
        };
        let raw = dir.join("raw.key");
        private(&raw, &test_key(5));
        let hexfile = dir.join("hex.key");
        private(
            &hexfile,
            format!("{}\n", hex::encode(&test_key(5))).as_bytes(),
        );
        let weak = dir.join("weak.key");
        private(&weak, format!("{}\n", "00".repeat(32)).as_bytes());
        assert!(matches!(
            MasterKey::from_file("a".parse().unwrap(), &raw),
            Err(LogsError::Key(KeyError::RawKeyFile { .. }))
        ));
        assert!(matches!(
            MasterKey::from_file("a".parse().unwrap(), &weak),
            Err(LogsError::Key(KeyError::WeakKey { .. }))
        ));
        let a = MasterKey::from_bytes("a".parse().unwrap(), &test_key(5)).unwrap();
        let b = MasterKey::from_file("a".parse().unwrap(), &hexfile).unwrap();
        let mut keyring = Keyring::new(a);
        keyring.ensure_data_key(customer(1)).unwrap();
        let restored = Keyring::restore(b, [], keyring.snapshot()).unwrap();
        assert!(restored.data_key(customer(1), KeyVersion::FIRST).is_ok());
        assert!(matches!(
            MasterKey::from_file("a".parse().unwrap(), dir.join("missing")),
            Err(LogsError::Key(KeyError::KeyFile { .. }))
        ));
        assert!(matches!(
            MasterKey::from_env("a".parse().unwrap(), "STEWARD_LOGS_TEST_UNSET_VARIABLE"),
            Err(LogsError::Key(KeyError::MissingEnv { .. }))
        ));
        assert!(MasterKey::from_bytes("a".parse().unwrap(), &[1; 31]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
