//! How the vault seals.

use crate::{Algorithm, ConfigError, LogsError, session::MAX_RECORDS_PER_SESSION};

/// Whether custody scans each body for secrets before sealing it (issue 20: secrets are never
/// needed for any log purpose). Redacting is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SecretRedaction {
    /// Every secret the default scanner ([`steward_redact::Scanner`]) finds becomes a marker
    /// naming its kind and a keyed fingerprint (`[REDACTED:github-token:3f9a1c2b]`), and the
    /// record's header names the rule set.
    #[default]
    Redact,
    /// Bodies are sealed as given, credentials included; headers say "not scanned". For a
    /// deployment that redacts upstream, or must keep bodies byte-exact.
    DangerousKeepSecrets,
}

/// How the vault seals: the AEAD, the limits that keep (key, nonce) pairs unique, and whether
/// secrets are redacted first.
///
/// ```
/// use steward_logs::{Algorithm, SealConfig, SecretRedaction};
///
/// let config = SealConfig::default()
///     .with_algorithm(Algorithm::ChaCha20Poly1305)
///     .with_records_per_key_version(1_000_000)?;
/// assert_eq!(config.algorithm(), Algorithm::ChaCha20Poly1305);
/// assert_eq!(config.secret_redaction(), SecretRedaction::Redact);
/// let raw = config.with_secret_redaction(SecretRedaction::DangerousKeepSecrets);
/// assert_eq!(raw.secret_redaction(), SecretRedaction::DangerousKeepSecrets);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealConfig {
    pub(super) algorithm: Algorithm,
    pub(super) records_per_session: u64,
    pub(super) records_per_key_version: u64,
    pub(super) secret_redaction: SecretRedaction,
}

impl Default for SealConfig {
    /// AES-256-GCM, sessions of 2^32 records, 2^48 records per data key version, secrets
    /// redacted.
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Aes256Gcm,
            records_per_session: MAX_RECORDS_PER_SESSION,
            records_per_key_version: 1 << 48,
            secret_redaction: SecretRedaction::Redact,
        }
    }
}

impl SealConfig {
    /// The largest session: 2^32 records (NIST SP 800-38D's bound per key).
    pub const MAX_RECORDS_PER_SESSION: u64 = MAX_RECORDS_PER_SESSION;

    /// Seals with `algorithm` (records of either algorithm always open).
    #[must_use]
    pub const fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Starts a new session (fresh salt, fresh derived key) after `records` records.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidConfig`] for 0 or more than 2^32.
    pub const fn with_records_per_session(mut self, records: u64) -> Result<Self, LogsError> {
        if records == 0 || records > MAX_RECORDS_PER_SESSION {
            return Err(LogsError::Config(ConfigError::InvalidConfig {
                reason: "records per session must be between 1 and 2^32",
            }));
        }
        self.records_per_session = records;
        Ok(self)
    }

    /// Refuses to seal more than `records` records under one data key version; sealing then
    /// fails with [`KeyError::DataKeyExhausted`](crate::KeyError::DataKeyExhausted) until the customer's key is rotated.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidConfig`] for 0.
    pub const fn with_records_per_key_version(mut self, records: u64) -> Result<Self, LogsError> {
        if records == 0 {
            return Err(LogsError::Config(ConfigError::InvalidConfig {
                reason: "records per key version must be at least 1",
            }));
        }
        self.records_per_key_version = records;
        Ok(self)
    }

    /// Redacts secrets before sealing, or not ([`SecretRedaction`]).
    #[must_use]
    pub const fn with_secret_redaction(mut self, redaction: SecretRedaction) -> Self {
        self.secret_redaction = redaction;
        self
    }

    /// Whether secrets are redacted before sealing.
    #[must_use]
    pub const fn secret_redaction(&self) -> SecretRedaction {
        self.secret_redaction
    }

    /// The AEAD new records are sealed with.
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Records per session.
    #[must_use]
    pub const fn records_per_session(&self) -> u64 {
        self.records_per_session
    }

    /// Records per data key version.
    #[must_use]
    pub const fn records_per_key_version(&self) -> u64 {
        self.records_per_key_version
    }
}
