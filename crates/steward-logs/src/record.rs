//! The sealed record: its byte format (version 2, reading version 1 too; see
//! docs/record-format.md) and parser.
//!
//! `logs.encrypted`: a record is an authenticated header followed by the AEAD ciphertext of
//! the request body; the header bytes are the AAD, so no header field can be changed unseen.

use std::fmt;

use steward_core::{CustomerId, RecordId, Timestamp, TrainingLevel};
use steward_redact::RuleSetVersion;
use uuid::Uuid;

use crate::{KeyVersion, LogsError, RecordError};

/// The first four bytes of every record.
pub const MAGIC: [u8; 4] = *b"STWL";
/// The record format version this build writes. Version 2 gave the reserved byte 7 a meaning:
/// whether the body was scanned for secrets, and by which rule set ([`Redaction`]).
pub const FORMAT_VERSION: u8 = 2;
/// The oldest record format version this build still reads: version 1 records (byte 7 zero,
/// sealed before redaction existed) open as [`Redaction::NotScanned`].
pub const OLDEST_FORMAT_VERSION: u8 = 1;
/// Length of the header (both versions), which is the AEAD's associated data. A multiple of 16, so
/// the ciphertext starts 16-byte aligned relative to the record (copies of it stay fast).
pub const HEADER_LEN: usize = 128;
/// Length of the AEAD authentication tag that ends every record.
pub const TAG_LEN: usize = 16;
/// The largest body a record may carry (16 MiB); larger declared lengths are rejected before
/// anything is allocated.
pub const MAX_BODY_LEN: usize = 16 * 1024 * 1024;

pub(crate) const SALT_LEN: usize = 32;
const CONSENT_AT: usize = 6;
const REDACTION_AT: usize = 7;
const RECORD_ID_AT: usize = 8;
const CUSTOMER_AT: usize = 24;
const KEY_VERSION_AT: usize = 40;
const CREATED_AT_AT: usize = 44;
const SALT_AT: usize = 52;
const NONCE_AT: usize = 84;
const COMMITMENT_AT: usize = 96;
pub(crate) const NONCE_LEN: usize = 12;
pub(crate) const COMMITMENT_LEN: usize = 32;

/// The AEAD that encrypts a record body.
///
/// ```
/// use steward_logs::Algorithm;
///
/// assert_eq!(Algorithm::default(), Algorithm::Aes256Gcm);
/// assert_eq!("chacha20-poly1305".parse::<Algorithm>()?, Algorithm::ChaCha20Poly1305);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// AES-256-GCM, the default (fastest where the CPU has AES instructions).
    #[default]
    Aes256Gcm,
    /// ChaCha20-Poly1305, for CPUs without AES instructions.
    ChaCha20Poly1305,
}

impl Algorithm {
    /// The stable string form: `aes-256-gcm` or `chacha20-poly1305`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "aes-256-gcm",
            Self::ChaCha20Poly1305 => "chacha20-poly1305",
        }
    }

    /// The byte code in the record header: 1 or 2.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Aes256Gcm => 1,
            Self::ChaCha20Poly1305 => 2,
        }
    }

    fn from_code(code: u8) -> Result<Self, LogsError> {
        match code {
            1 => Ok(Self::Aes256Gcm),
            2 => Ok(Self::ChaCha20Poly1305),
            _ => Err(LogsError::Record(RecordError::InvalidHeader {
                field: "algorithm",
                reason: "is not a known algorithm code (1 or 2)",
            })),
        }
    }

    pub(crate) fn ring(self) -> &'static ring::aead::Algorithm {
        match self {
            Self::Aes256Gcm => &ring::aead::AES_256_GCM,
            Self::ChaCha20Poly1305 => &ring::aead::CHACHA20_POLY1305,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = LogsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Self::Aes256Gcm, Self::ChaCha20Poly1305]
            .into_iter()
            .find(|algorithm| algorithm.as_str() == text)
            .ok_or_else(|| {
                LogsError::Record(RecordError::InvalidHeader {
                    field: "algorithm",
                    reason: "is not `aes-256-gcm` or `chacha20-poly1305`",
                })
            })
    }
}

/// Whether a record's body was scanned for secrets before sealing, as its header says (byte 7;
/// `docs/record-format.md`). Secrets are never needed for any log purpose (issue 20): by
/// default every body is scanned and each secret replaced by a marker before it is sealed.
///
/// ```
/// use steward_logs::Redaction;
/// use steward_redact::RuleSetVersion;
///
/// let scanned = Redaction::Scanned { rule_set: RuleSetVersion::new(1)? };
/// assert_eq!(scanned.to_string(), "scanned by rule set 1");
/// assert_eq!(Redaction::NotScanned.to_string(), "not scanned");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Redaction {
    /// Sealed as given: the deployment turned redaction off
    /// ([`SecretRedaction::DangerousKeepSecrets`](crate::SecretRedaction)), or the record is
    /// of format version 1, sealed before redaction existed.
    NotScanned,
    /// Scanned by the rules of `rule_set`, every secret found replaced by its marker.
    Scanned {
        /// The version of the rules that scanned it.
        rule_set: RuleSetVersion,
    },
}

impl Redaction {
    /// The header byte: 0 not scanned, else the rule set's version.
    const fn code(self) -> u8 {
        match self {
            Self::NotScanned => 0,
            Self::Scanned { rule_set } => rule_set.get(),
        }
    }

    fn from_code(code: u8) -> Self {
        RuleSetVersion::new(code).map_or(Self::NotScanned, |rule_set| Self::Scanned { rule_set })
    }
}

impl fmt::Display for Redaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotScanned => f.write_str("not scanned"),
            Self::Scanned { rule_set } => write!(f, "scanned by rule set {rule_set}"),
        }
    }
}

/// What the caller says about a record when sealing it (`logs.stored`): the record's id, the
/// customer, when the request was collected, and the training level in force then
/// (`training.forward-only`).
///
/// The arguments of [`new`](Self::new) come in the order of the retention sweep's record
/// metadata (`steward_retention::RecordMeta`): id first, then customer.
///
/// ```
/// use steward_core::{CustomerId, RecordId, Timestamp, TrainingLevel};
/// use steward_logs::SealInput;
///
/// let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// let now = Timestamp::now();
/// let input = SealInput::new(RecordId::generate_at(now), customer, now, TrainingLevel::None);
/// assert_eq!(input.customer(), customer);
/// assert_eq!(input.consent(), TrainingLevel::None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealInput {
    record_id: RecordId,
    customer: CustomerId,
    collected_at: Timestamp,
    consent: TrainingLevel,
    /// Set by custody from what it did, never by the caller.
    redaction: Redaction,
}

impl SealInput {
    /// The input to seal record `record_id` of `customer`, collected at `collected_at` under
    /// training level `level`. Every [`Timestamp`] fits the header's nanosecond field.
    #[must_use]
    pub const fn new(
        record_id: RecordId,
        customer: CustomerId,
        collected_at: Timestamp,
        level: TrainingLevel,
    ) -> Self {
        Self {
            record_id,
            customer,
            collected_at,
            consent: level,
            redaction: Redaction::NotScanned,
        }
    }

    /// The same input, its header to say `redaction` (custody, after scanning the body).
    pub(crate) const fn with_redaction(mut self, redaction: Redaction) -> Self {
        self.redaction = redaction;
        self
    }

    /// The customer whose request this is.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// The record's id (UUID v7).
    #[must_use]
    pub const fn record_id(&self) -> RecordId {
        self.record_id
    }

    /// When the request was collected.
    #[must_use]
    pub const fn collected_at(&self) -> Timestamp {
        self.collected_at
    }

    /// The training consent level in force at collection (`training.forward-only`).
    #[must_use]
    pub const fn consent(&self) -> TrainingLevel {
        self.consent
    }
}

/// The authenticated header of a sealed record, as parsed (the session salt, nonce and key
/// commitment stay in the record's bytes).
///
/// Before the record is opened, these fields are only claims: they are authenticated (as the
/// AAD) when the record opens. An audit entry of a refused access records them as claimed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub(crate) format_version: u8,
    pub(crate) redaction: Redaction,
    pub(crate) algorithm: Algorithm,
    pub(crate) consent: TrainingLevel,
    pub(crate) record_id: RecordId,
    pub(crate) customer: CustomerId,
    pub(crate) key_version: KeyVersion,
    pub(crate) collected_at_nanos: i64,
    /// Not written: implied by the record's length, and authenticated by the AEAD (GCM and
    /// Poly1305 both cover the ciphertext length).
    pub(crate) body_len: u32,
}

impl RecordHeader {
    /// The record format version (1 or 2).
    #[must_use]
    pub const fn format_version(&self) -> u8 {
        self.format_version
    }

    /// Whether the body was scanned for secrets before sealing, and by which rule set.
    #[must_use]
    pub const fn redaction(&self) -> Redaction {
        self.redaction
    }

    /// The AEAD of the body.
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The record id.
    #[must_use]
    pub const fn record_id(&self) -> RecordId {
        self.record_id
    }

    /// The customer whose request this is.
    #[must_use]
    pub const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// The version of the customer's data key that sealed the record.
    #[must_use]
    pub const fn key_version(&self) -> KeyVersion {
        self.key_version
    }

    /// When the request was collected (nanosecond precision).
    #[must_use]
    pub fn collected_at(&self) -> Timestamp {
        Timestamp::from_unix_nanos(self.collected_at_nanos)
    }

    /// The training consent level in force at collection (`training.forward-only`).
    #[must_use]
    pub const fn consent(&self) -> TrainingLevel {
        self.consent
    }

    /// The length of the plaintext body, in bytes.
    #[must_use]
    pub const fn body_len(&self) -> usize {
        self.body_len as usize
    }

    /// Parses the header at the start of `bytes` (the first [`HEADER_LEN`] bytes of a
    /// record, or the whole record), for work that reads only headers, such as planning a
    /// training export. The body's length is unknown from the header alone, so
    /// [`body_len`](Self::body_len) is 0; nothing here is authenticated.
    ///
    /// # Errors
    ///
    /// [`RecordError::Truncated`] for fewer than [`HEADER_LEN`] bytes; otherwise as
    /// [`SealedRecord::from_bytes`] for the header's fields.
    pub fn from_prefix(bytes: &[u8]) -> Result<Self, LogsError> {
        let header = bytes
            .get(..HEADER_LEN)
            .ok_or(LogsError::Record(RecordError::Truncated {
                needed: HEADER_LEN,
                actual: bytes.len(),
            }))?;
        Self::decode(header, 0)
    }

    /// Parses a header; `bytes` must hold at least the header. `body_len` comes from the
    /// record's length.
    fn decode(bytes: &[u8], body_len: u32) -> Result<Self, LogsError> {
        let mut reader = Reader(bytes);
        let format_version = read_magic_and_version(&mut reader)?;
        let [algorithm, consent, redaction] = reader.take()?;
        let algorithm = Algorithm::from_code(algorithm)?;
        let consent = level_from_code(consent)?;
        // Version 1 reserved byte 7 (zero); version 2 records the redaction there.
        if format_version == OLDEST_FORMAT_VERSION && redaction != 0 {
            return Err(LogsError::Record(RecordError::InvalidHeader {
                field: "reserved",
                reason: "is not zero",
            }));
        }
        let redaction = Redaction::from_code(redaction);
        let record_id = RecordId::new(Uuid::from_bytes(reader.take()?)).map_err(|_| {
            LogsError::Record(RecordError::InvalidHeader {
                field: "record id",
                reason: "is not a version 7 UUID",
            })
        })?;
        let customer = CustomerId::new(Uuid::from_bytes(reader.take()?)).map_err(|_| {
            LogsError::Record(RecordError::InvalidHeader {
                field: "customer id",
                reason: "is the nil UUID",
            })
        })?;
        let key_version = KeyVersion::new(u32::from_be_bytes(reader.take()?)).map_err(|_| {
            LogsError::Record(RecordError::InvalidHeader {
                field: "key version",
                reason: "is zero",
            })
        })?;
        let collected_at_nanos = i64::from_be_bytes(reader.take()?);
        // Salt, nonce and commitment are read from the record's bytes when it is opened.
        Ok(Self {
            format_version,
            redaction,
            algorithm,
            consent,
            record_id,
            customer,
            key_version,
            collected_at_nanos,
            body_len,
        })
    }
}

impl fmt::Debug for RecordHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordHeader")
            .field("format_version", &self.format_version)
            .field("redaction", &self.redaction)
            .field("algorithm", &self.algorithm)
            .field("record_id", &self.record_id)
            .field("customer", &self.customer)
            .field("key_version", &self.key_version)
            .field("collected_at", &self.collected_at())
            .field("consent", &self.consent)
            .field("body_len", &self.body_len)
            .finish_non_exhaustive()
    }
}

/// The header bytes every record of one sealing session shares; per record, the consent,
/// redaction, record id, creation instant and nonce are filled in. This is the one place headers are
/// written (docs/record-format.md, "Layout").
pub(crate) struct HeaderTemplate {
    bytes: [u8; HEADER_LEN],
    algorithm: Algorithm,
    customer: CustomerId,
    version: KeyVersion,
}

impl HeaderTemplate {
    pub(crate) fn new(
        algorithm: Algorithm,
        customer: CustomerId,
        version: KeyVersion,
        salt: &[u8; SALT_LEN],
        commitment: &[u8; COMMITMENT_LEN],
    ) -> Self {
        let mut bytes = [0u8; HEADER_LEN];
        put(&mut bytes, 0, &MAGIC);
        // Format version, algorithm, then consent and redaction (both per record).
        put(
            &mut bytes,
            MAGIC.len(),
            &[FORMAT_VERSION, algorithm.code(), 0, 0],
        );
        put(&mut bytes, CUSTOMER_AT, customer.as_bytes());
        put(&mut bytes, KEY_VERSION_AT, &version.to_be_bytes());
        put(&mut bytes, SALT_AT, salt);
        put(&mut bytes, COMMITMENT_AT, commitment);
        Self {
            bytes,
            algorithm,
            customer,
            version,
        }
    }

    pub(crate) const fn customer(&self) -> CustomerId {
        self.customer
    }

    /// The header bytes of one record, and the header as parsed.
    pub(crate) fn fill(
        &self,
        meta: &SealInput,
        nonce: &[u8; NONCE_LEN],
        body_len: u32,
    ) -> ([u8; HEADER_LEN], RecordHeader) {
        let mut bytes = self.bytes;
        put(&mut bytes, CONSENT_AT, &[level_code(meta.consent)]);
        put(&mut bytes, REDACTION_AT, &[meta.redaction.code()]);
        put(&mut bytes, RECORD_ID_AT, meta.record_id.as_bytes());
        put(
            &mut bytes,
            CREATED_AT_AT,
            &meta.collected_at.unix_nanos().to_be_bytes(),
        );
        put(&mut bytes, NONCE_AT, nonce);
        let header = RecordHeader {
            format_version: FORMAT_VERSION,
            redaction: meta.redaction,
            algorithm: self.algorithm,
            consent: meta.consent,
            record_id: meta.record_id,
            customer: self.customer,
            key_version: self.version,
            collected_at_nanos: meta.collected_at.unix_nanos(),
            body_len,
        };
        (bytes, header)
    }
}

/// The byte code of a training level in the header: `0` none, `1` private, `2` shared, `3`
/// open-weight (docs/record-format.md). The codes are part of format version 1: none may ever
/// change meaning, so a new level would be a new format version, not a silent addition.
const fn level_code(level: TrainingLevel) -> u8 {
    match level {
        TrainingLevel::None => 0,
        TrainingLevel::Private => 1,
        TrainingLevel::Shared => 2,
        TrainingLevel::OpenWeight => 3,
    }
}

/// The training level with this byte code; see [`level_code`].
const fn level_from_code(code: u8) -> Result<TrainingLevel, LogsError> {
    match code {
        0 => Ok(TrainingLevel::None),
        1 => Ok(TrainingLevel::Private),
        2 => Ok(TrainingLevel::Shared),
        3 => Ok(TrainingLevel::OpenWeight),
        _ => Err(LogsError::Record(RecordError::InvalidHeader {
            field: "consent",
            reason: "is not a known consent level code (0 to 3)",
        })),
    }
}

/// Copies `value` into `header` at `offset`.
#[expect(
    clippy::indexing_slicing,
    reason = "every field ends inside the header, see the INVARIANT"
)]
fn put(header: &mut [u8; HEADER_LEN], offset: usize, value: &[u8]) {
    // INVARIANT: every call passes one of the layout's constant offsets with a value of that
    // field's fixed length, all inside HEADER_LEN (docs/record-format.md, "Layout"); the test
    // `header_layout_fills_exactly_128_bytes` writes every field. A write that dropped a field
    // instead would seal a record whose header is not what it claims.
    header[offset..offset + value.len()].copy_from_slice(value);
}

/// A sealed log record: header, ciphertext and tag, as stored at rest (`logs.encrypted`).
///
/// Built by [`Custody::seal`](crate::Custody::seal) or parsed from bytes. Parsing checks the
/// structure only (magic, version, field ranges, exact length); authenticity is checked when
/// the record is opened.
///
/// ```
/// use steward_logs::{LogsError, RecordError, SealedRecord};
///
/// let short = SealedRecord::from_bytes(b"STWL");
/// assert!(matches!(short, Err(LogsError::Record(RecordError::Truncated { .. }))));
/// let other = SealedRecord::from_bytes(b"nope, not a record");
/// assert!(matches!(other, Err(LogsError::Record(RecordError::NotARecord))));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SealedRecord {
    header: RecordHeader,
    bytes: Vec<u8>,
}

impl SealedRecord {
    /// Parses a record, copying the bytes.
    ///
    /// Never panics; copies only after the structure and the length (at most
    /// [`MAX_BODY_LEN`] of body) were checked.
    ///
    /// # Errors
    ///
    /// [`RecordError::Truncated`], [`RecordError::NotARecord`],
    /// [`RecordError::UnsupportedVersion`], [`RecordError::InvalidHeader`] or
    /// [`RecordError::TooLarge`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LogsError> {
        let header = Self::check(bytes)?;
        Ok(Self {
            header,
            bytes: bytes.to_vec(),
        })
    }

    /// Parses a record, taking ownership of the bytes (no copy): for records read from a
    /// store in bulk, such as a training export.
    ///
    /// # Errors
    ///
    /// As [`from_bytes`](Self::from_bytes).
    pub fn from_vec(bytes: Vec<u8>) -> Result<Self, LogsError> {
        let header = Self::check(&bytes)?;
        Ok(Self { header, bytes })
    }

    /// The parsed header.
    #[must_use]
    pub const fn header(&self) -> &RecordHeader {
        &self.header
    }

    /// The record's bytes, as stored.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The record's bytes, as stored.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The session salt (bytes 52..84).
    pub(crate) fn salt(&self) -> [u8; SALT_LEN] {
        self.field(SALT_AT)
    }

    /// The nonce (bytes 84..96).
    pub(crate) fn nonce(&self) -> [u8; NONCE_LEN] {
        self.field(NONCE_AT)
    }

    /// The key commitment (bytes 96..128).
    pub(crate) fn commitment(&self) -> [u8; COMMITMENT_LEN] {
        self.field(COMMITMENT_AT)
    }

    /// `N` header bytes at `offset`.
    #[expect(
        clippy::indexing_slicing,
        reason = "a record is never shorter than its header, see the INVARIANT"
    )]
    fn field<const N: usize>(&self, offset: usize) -> [u8; N] {
        // INVARIANT: `bytes` holds at least HEADER_LEN + TAG_LEN bytes (`check` refuses fewer
        // when parsing; the sealer writes header, body and tag), and the callers read the salt,
        // nonce and commitment, which end inside the header.
        let mut field = [0; N];
        field.copy_from_slice(&self.bytes[offset..offset + N]);
        field
    }

    /// Assembles a record whose bytes were just written by the sealer: header, body and tag,
    /// never fewer than HEADER_LEN + TAG_LEN bytes (which `field` relies on).
    pub(crate) const fn from_parts(header: RecordHeader, bytes: Vec<u8>) -> Self {
        Self { header, bytes }
    }

    /// The header bytes (the AAD), ciphertext and tag.
    pub(crate) fn parts(&self) -> Result<RecordParts<'_>, LogsError> {
        let truncated = || {
            LogsError::Record(RecordError::Truncated {
                needed: HEADER_LEN + TAG_LEN,
                actual: self.bytes.len(),
            })
        };
        let (aad, rest) = self
            .bytes
            .split_at_checked(HEADER_LEN)
            .ok_or_else(truncated)?;
        let (ciphertext, tag) = rest.split_last_chunk::<TAG_LEN>().ok_or_else(truncated)?;
        Ok(RecordParts {
            aad,
            ciphertext,
            tag: *tag,
        })
    }

    fn check(bytes: &[u8]) -> Result<RecordHeader, LogsError> {
        // Magic and version first, so that a record of a future version is reported as such
        // even if its layout differs.
        let prefix_len = MAGIC.len() + 1;
        if bytes.len() < prefix_len {
            return Err(LogsError::Record(RecordError::Truncated {
                needed: prefix_len,
                actual: bytes.len(),
            }));
        }
        if bytes.len() < HEADER_LEN + TAG_LEN {
            read_magic_and_version(&mut Reader(bytes))?;
            return Err(LogsError::Record(RecordError::Truncated {
                needed: HEADER_LEN + TAG_LEN,
                actual: bytes.len(),
            }));
        }
        // INVARIANT: at least HEADER_LEN + TAG_LEN bytes, checked above.
        let body_len = bytes.len() - HEADER_LEN - TAG_LEN;
        if body_len > MAX_BODY_LEN {
            return Err(LogsError::Record(RecordError::TooLarge {
                declared: body_len as u64,
                limit: MAX_BODY_LEN,
            }));
        }
        let body_len = u32::try_from(body_len).map_err(|_| {
            LogsError::Record(RecordError::TooLarge {
                declared: body_len as u64,
                limit: MAX_BODY_LEN,
            })
        })?;
        RecordHeader::decode(bytes, body_len)
    }
}

impl TryFrom<Vec<u8>> for SealedRecord {
    type Error = LogsError;

    /// Parses a record without copying it.
    fn try_from(bytes: Vec<u8>) -> Result<Self, Self::Error> {
        let header = Self::check(&bytes)?;
        Ok(Self { header, bytes })
    }
}

impl fmt::Debug for SealedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedRecord")
            .field("header", &self.header)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The three parts of a record's bytes.
pub(crate) struct RecordParts<'a> {
    pub(crate) aad: &'a [u8],
    pub(crate) ciphertext: &'a [u8],
    pub(crate) tag: [u8; TAG_LEN],
}

/// A bounds-checked reader over a byte slice: every read is a typed error, never a panic.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], LogsError> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or_else(|| {
            LogsError::Record(RecordError::Truncated {
                needed: HEADER_LEN + TAG_LEN,
                actual: 0,
            })
        })?;
        self.0 = rest;
        Ok(*head)
    }
}

steward_core::serde_via_string!(Algorithm);

/// Reads and checks the magic and the format version, the two fields every version shares;
/// returns the version (1 or 2: they share the layout).
fn read_magic_and_version(reader: &mut Reader<'_>) -> Result<u8, LogsError> {
    let magic: [u8; 4] = reader.take()?;
    if magic != MAGIC {
        return Err(LogsError::Record(RecordError::NotARecord));
    }
    let [version] = reader.take()?;
    if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(LogsError::Record(RecordError::UnsupportedVersion {
            version,
        }));
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> SealInput {
        SealInput::new(
            "01936f0e-8f2a-7b3c-9d4e-5f6a7b8c9d0e".parse().unwrap(),
            "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse().unwrap(),
            Timestamp::from_unix_nanos(1_741_132_800_123_456_789),
            TrainingLevel::Shared,
        )
    }

    /// The header bytes and parsed header of a record with a 5-byte body.
    fn encoded() -> (Vec<u8>, RecordHeader) {
        let template = HeaderTemplate::new(
            Algorithm::Aes256Gcm,
            meta().customer(),
            KeyVersion::new(3).unwrap(),
            &[0x11; SALT_LEN],
            &[0x33; COMMITMENT_LEN],
        );
        let (bytes, header) = template.fill(&meta(), &[0x22; NONCE_LEN], 5);
        (bytes.to_vec(), header)
    }

    fn header() -> RecordHeader {
        encoded().1
    }

    #[test]
    fn header_layout_fills_exactly_128_bytes() {
        let (bytes, header) = encoded();
        assert_eq!(bytes.len(), HEADER_LEN);
        assert_eq!(&bytes[..4], b"STWL");
        assert_eq!(bytes[4..8], [2, 1, 2, 0]);
        assert_eq!(bytes[8..24], *meta().record_id().as_bytes());
        assert_eq!(bytes[24..40], *meta().customer().as_bytes());
        assert_eq!(bytes[40..44], [0, 0, 0, 3]);
        assert_eq!(bytes[44..52], 1_741_132_800_123_456_789_i64.to_be_bytes());
        assert_eq!(bytes[52..84], [0x11; 32]);
        assert_eq!(bytes[84..96], [0x22; 12]);
        assert_eq!(bytes[96..128], [0x33; 32]);
        assert_eq!(RecordHeader::decode(&bytes, 5).unwrap(), header);
    }

    fn record_bytes() -> Vec<u8> {
        let mut bytes = encoded().0;
        bytes.extend_from_slice(&[0xaa; 5]);
        bytes.extend_from_slice(&[0xbb; TAG_LEN]);
        bytes
    }

    #[test]
    fn exact_length_parses_and_round_trips() {
        let bytes = record_bytes();
        let record = SealedRecord::from_bytes(&bytes).unwrap();
        assert_eq!(record.header(), &header());
        assert_eq!(record.as_bytes(), bytes.as_slice());
        assert_eq!(SealedRecord::try_from(bytes.clone()).unwrap(), record);
    }

    #[test]
    fn truncated_bytes_are_typed_errors() {
        let bytes = record_bytes();
        for cut in 0..HEADER_LEN + TAG_LEN {
            let error = SealedRecord::from_bytes(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(error, LogsError::Record(RecordError::Truncated { .. })),
                "{cut}: {error}"
            );
        }
    }

    #[test]
    fn unknown_version_is_reported_even_when_short() {
        let mut bytes = record_bytes();
        for version in [0, 3, u8::MAX] {
            bytes[4] = version;
            assert!(matches!(
                SealedRecord::from_bytes(&bytes),
                Err(LogsError::Record(RecordError::UnsupportedVersion { version: v })) if v == version
            ));
        }
        assert!(matches!(
            SealedRecord::from_bytes(b"STWL\x09"),
            Err(LogsError::Record(RecordError::UnsupportedVersion {
                version: 9
            }))
        ));
    }

    #[test]
    fn oversized_record_is_rejected_before_copying() {
        let mut bytes = encoded().0;
        bytes.resize(HEADER_LEN + MAX_BODY_LEN + TAG_LEN + 1, 0);
        assert!(matches!(
            SealedRecord::from_bytes(&bytes),
            Err(LogsError::Record(RecordError::TooLarge { .. }))
        ));
        bytes.pop();
        assert_eq!(
            SealedRecord::from_bytes(&bytes)
                .unwrap()
                .header()
                .body_len(),
            MAX_BODY_LEN
        );
    }

    #[test]
    fn level_codes_are_stable() {
        let expected = [
            (TrainingLevel::None, 0),
            (TrainingLevel::Private, 1),
            (TrainingLevel::Shared, 2),
            (TrainingLevel::OpenWeight, 3),
        ];
        for (level, code) in expected {
            assert_eq!(level_code(level), code);
            assert_eq!(level_from_code(code).unwrap(), level);
        }
        for code in 4..=u8::MAX {
            assert!(level_from_code(code).is_err(), "{code}");
        }
    }

    #[test]
    fn version_2_records_say_whether_and_by_which_rules_they_were_redacted() {
        let mut bytes = record_bytes();
        assert_eq!(
            SealedRecord::from_bytes(&bytes)
                .unwrap()
                .header()
                .redaction(),
            Redaction::NotScanned
        );
        for code in 1..=u8::MAX {
            bytes[REDACTION_AT] = code;
            let header = *SealedRecord::from_bytes(&bytes).unwrap().header();
            assert_eq!(header.format_version(), 2);
            assert_eq!(
                header.redaction(),
                Redaction::Scanned {
                    rule_set: RuleSetVersion::new(code).unwrap()
                }
            );
        }
        let template = HeaderTemplate::new(
            Algorithm::Aes256Gcm,
            meta().customer(),
            KeyVersion::new(3).unwrap(),
            &[0x11; SALT_LEN],
            &[0x33; COMMITMENT_LEN],
        );
        let scanned = Redaction::Scanned {
            rule_set: RuleSetVersion::new(1).unwrap(),
        };
        let (bytes, header) = template.fill(&meta().with_redaction(scanned), &[0x22; NONCE_LEN], 5);
        assert_eq!(bytes[REDACTION_AT], 1);
        assert_eq!(header.redaction(), scanned);
    }

    #[test]
    fn version_1_records_still_parse_as_not_scanned_and_keep_byte_7_reserved() {
        let mut bytes = record_bytes();
        bytes[4] = OLDEST_FORMAT_VERSION;
        let header = *SealedRecord::from_bytes(&bytes).unwrap().header();
        assert_eq!(header.format_version(), 1);
        assert_eq!(header.redaction(), Redaction::NotScanned);
        bytes[REDACTION_AT] = 1;
        let error = SealedRecord::from_bytes(&bytes).unwrap_err();
        assert!(error.to_string().contains("reserved"), "{error}");
    }

    #[test]
    fn invalid_fields_name_the_field() {
        let cases: [(usize, u8, &str); 3] = [
            (5, 9, "algorithm"),
            (6, 4, "consent"),
            (14, 0x40, "record id"),
        ];
        for (offset, value, field) in cases {
            let mut bytes = record_bytes();
            bytes[offset] = value;
            let error = SealedRecord::from_bytes(&bytes).unwrap_err();
            assert!(error.to_string().contains(field), "{error}");
        }
        let mut bytes = record_bytes();
        bytes[24..40].fill(0);
        assert!(
            SealedRecord::from_bytes(&bytes)
                .unwrap_err()
                .to_string()
                .contains("customer")
        );
        let mut bytes = record_bytes();
        bytes[40..44].fill(0);
        assert!(
            SealedRecord::from_bytes(&bytes)
                .unwrap_err()
                .to_string()
                .contains("key version")
        );
    }
}
