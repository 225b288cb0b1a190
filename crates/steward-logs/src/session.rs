//! Sealing sessions: the nonce and key scheme of record format version 1.
//!
//! A session is one (customer, data key version, random 256-bit salt). Its record key and key
//! commitment come from HKDF-SHA256 over the data key, so a session costs one key schedule and
//! no record costs a system call: within the session the 96-bit nonce is a counter. Session
//! keys are distinct with overwhelming probability (a 256-bit salt collides with probability
//! about s^2 / 2^257 after s sessions), and the counter never repeats within a session, so no
//! (key, nonce) pair is ever used twice. See docs/record-format.md for why.

use ring::{aead, hkdf, rand::SecureRandom};
use steward_core::CustomerId;
use zeroize::Zeroize;

use crate::{
    Algorithm, KeyError, KeyVersion, LogsError, OpenError, RecordError, SealInput,
    custody::Plaintext,
    keys::DataKey,
    record::{
        COMMITMENT_LEN, HEADER_LEN, HeaderTemplate, MAX_BODY_LEN, NONCE_LEN, SALT_LEN,
        SealedRecord, TAG_LEN,
    },
};

const RECORD_KEY_LABEL: &[u8] = b"steward-logs/v1/record-key";
const COMMITMENT_LABEL: &[u8] = b"steward-logs/v1/key-commitment";

/// The derived keys of one session: the AEAD key and the commitment to it.
pub(crate) struct SessionKeys {
    key: aead::LessSafeKey,
    commitment: [u8; COMMITMENT_LEN],
}

struct OkmLen(usize);

impl hkdf::KeyType for OkmLen {
    fn len(&self) -> usize {
        self.0
    }
}

impl SessionKeys {
    /// HKDF-SHA256: PRK = Extract(salt, data key); record key = Expand(PRK, label || binding);
    /// commitment = Expand(PRK, other label || binding), binding = algorithm || customer ||
    /// version. The commitment is a collision-resistant function of the data key, salt and
    /// binding, so a record cannot be made to open under two different keys.
    pub(crate) fn derive(
        data_key: &DataKey,
        salt: &[u8; SALT_LEN],
        algorithm: Algorithm,
        customer: CustomerId,
        version: KeyVersion,
    ) -> Result<Self, LogsError> {
        let failed = || {
            LogsError::Key(KeyError::InvalidKey {
                reason: "session key derivation failed",
            })
        };
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(data_key.as_bytes());
        let version_bytes = version.to_be_bytes();
        let algorithm_code = [algorithm.code()];
        let record_info: [&[u8]; 4] = [
            RECORD_KEY_LABEL,
            &algorithm_code,
            customer.as_bytes(),
            &version_bytes,
        ];
        let commitment_info: [&[u8]; 4] = [
            COMMITMENT_LABEL,
            &algorithm_code,
            customer.as_bytes(),
            &version_bytes,
        ];

        let mut key_bytes = [0u8; 32];
        prk.expand(&record_info, OkmLen(key_bytes.len()))
            .and_then(|okm| okm.fill(&mut key_bytes))
            .map_err(|_| failed())?;
        let unbound = aead::UnboundKey::new(algorithm.ring(), &key_bytes);
        key_bytes.zeroize();
        let key = aead::LessSafeKey::new(unbound.map_err(|_| failed())?);

        let mut commitment = [0u8; COMMITMENT_LEN];
        prk.expand(&commitment_info, OkmLen(COMMITMENT_LEN))
            .and_then(|okm| okm.fill(&mut commitment))
            .map_err(|_| failed())?;
        Ok(Self { key, commitment })
    }

    /// Seals `body` under this session with an explicit nonce: the one place records are
    /// encrypted. The caller guarantees the nonce is fresh for this session.
    pub(crate) fn seal(
        &self,
        template: &HeaderTemplate,
        meta: &SealInput,
        nonce: [u8; NONCE_LEN],
        body: &[u8],
    ) -> Result<SealedRecord, LogsError> {
        let too_large = || {
            LogsError::Record(RecordError::TooLarge {
                declared: body.len() as u64,
                limit: MAX_BODY_LEN,
            })
        };
        if meta.customer() != template.customer() {
            return Err(LogsError::Record(RecordError::InvalidHeader {
                field: "customer id",
                reason: "does not match the sealing session",
            }));
        }
        let body_len = u32::try_from(body.len())
            .ok()
            .filter(|len| *len as usize <= MAX_BODY_LEN)
            .ok_or_else(too_large)?;
        let (aad, header) = template.fill(meta, &nonce, body_len);
        let mut bytes = Vec::with_capacity(HEADER_LEN + body.len() + TAG_LEN);
        bytes.extend_from_slice(&aad);
        bytes.extend_from_slice(body);
        let in_out = bytes.get_mut(HEADER_LEN..).ok_or_else(too_large)?;
        let tag = self
            .key
            .seal_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(&aad),
                in_out,
            )
            .map_err(|_| too_large())?;
        bytes.extend_from_slice(tag.as_ref());
        Ok(SealedRecord::from_parts(header, bytes))
    }

    /// Opens a record of this session: the key commitment is checked (in constant time)
    /// before the AEAD is attempted.
    pub(crate) fn open(&self, record: &SealedRecord) -> Result<Plaintext, LogsError> {
        // The commitment is not secret (every header carries it); the constant-time compare is
        // defence in depth.
        if !crate::ct::bytes_equal(&record.commitment(), &self.commitment) {
            return Err(LogsError::Open(OpenError::KeyCommitmentMismatch));
        }
        let parts = record.parts()?;
        let mut plaintext = Plaintext::with_capacity(parts.ciphertext.len(), *record.header());
        let buffer = plaintext.buffer_mut();
        buffer.extend_from_slice(parts.ciphertext);
        self.key
            .open_in_place_separate_tag(
                aead::Nonce::assume_unique_for_key(record.nonce()),
                aead::Aad::from(parts.aad),
                aead::Tag::from(parts.tag),
                buffer.as_mut_slice(),
                0..,
            )
            .map_err(|_| LogsError::Open(OpenError::AuthenticationFailed))?;
        Ok(plaintext)
    }
}

/// The records a session seals before a fresh salt starts a new one (2^32, the NIST SP
/// 800-38D invocation bound per key).
pub(crate) const MAX_RECORDS_PER_SESSION: u64 = 1 << 32;

/// The sealing state of one customer: the current session and the count for its key version.
pub(crate) struct SealSession {
    keys: SessionKeys,
    template: HeaderTemplate,
    version: KeyVersion,
    next_counter: u64,
    session_limit: u64,
    /// Records sealed under `version` by this vault, across sessions.
    version_sealed: u64,
}

impl SealSession {
    /// Starts a session: draws a fresh salt (the one system call) and derives its keys.
    pub(crate) fn start(
        rng: &dyn SecureRandom,
        data_key: &DataKey,
        algorithm: Algorithm,
        customer: CustomerId,
        version: KeyVersion,
        session_limit: u64,
        version_sealed: u64,
    ) -> Result<Self, LogsError> {
        let mut salt = [0u8; SALT_LEN];
        rng.fill(&mut salt)
            .map_err(|_| LogsError::Key(KeyError::Random))?;
        let keys = SessionKeys::derive(data_key, &salt, algorithm, customer, version)?;
        let template = HeaderTemplate::new(algorithm, customer, version, &salt, &keys.commitment);
        Ok(Self {
            keys,
            template,
            version,
            next_counter: 0,
            session_limit: session_limit.min(MAX_RECORDS_PER_SESSION),
            version_sealed,
        })
    }

    pub(crate) const fn version(&self) -> KeyVersion {
        self.version
    }

    pub(crate) const fn version_sealed(&self) -> u64 {
        self.version_sealed
    }

    /// Whether the session has used its last nonce.
    pub(crate) const fn is_spent(&self) -> bool {
        self.next_counter >= self.session_limit
    }

    /// Seals one record with the next counter nonce; the counter advances even if sealing
    /// fails afterwards, so a nonce is never reused.
    pub(crate) fn seal(
        &mut self,
        meta: &SealInput,
        body: &[u8],
        version_limit: u64,
    ) -> Result<SealedRecord, LogsError> {
        let spent = || LogsError::Overflow {
            what: "session nonce counter",
        };
        if self.version_sealed >= version_limit {
            return Err(LogsError::Key(KeyError::DataKeyExhausted {
                version: self.version,
            }));
        }
        if self.is_spent() {
            return Err(spent());
        }
        let counter = self.next_counter;
        self.next_counter = counter.checked_add(1).ok_or_else(spent)?;
        self.version_sealed = self.version_sealed.saturating_add(1);
        self.keys
            .seal(&self.template, meta, counter_nonce(counter), body)
    }
}

/// The nonce for counter value `counter`: four zero bytes, then the counter big-endian.
pub(crate) fn counter_nonce(counter: u64) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    let (_, low) = nonce.split_at_mut(4);
    low.copy_from_slice(&counter.to_be_bytes());
    nonce
}

#[cfg(test)]
mod tests {
    use steward_core::{RecordId, Timestamp, TrainingLevel};

    use super::*;
    use crate::hex;

    #[derive(serde::Deserialize)]
    struct Vectors {
        format_version: u8,
        vectors: Vec<Vector>,
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        name: String,
        algorithm: Algorithm,
        data_key: String,
        salt: String,
        customer: CustomerId,
        record_id: RecordId,
        key_version: u32,
        collected_at_nanos: i64,
        consent: TrainingLevel,
        counter: u64,
        /// Byte 7 of version 2 (absent from version 1 vectors).
        #[serde(default)]
        redaction: u8,
        body: String,
        commitment: String,
        record: String,
    }

    fn unhex(text: &str) -> Vec<u8> {
        text.as_bytes()
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    /// The vectors come from tests/vectors/record_v2.py, an independent implementation of
    /// docs/record-format.md on Python's `cryptography`; any drift of the format fails here.
    #[test]
    fn known_answer_vectors_match_exactly() {
        let vectors: Vectors =
            serde_json::from_str(include_str!("../tests/vectors/record-v2.json")).unwrap();
        assert_eq!(vectors.format_version, crate::FORMAT_VERSION);
        assert_eq!(vectors.vectors.len(), 3);
        for vector in vectors.vectors {
            let name = &vector.name;
            let data_key = DataKey::from_array(hex::decode(&vector.data_key, "key").unwrap());
            let salt = hex::decode(&vector.salt, "salt").unwrap();
            let version = KeyVersion::new(vector.key_version).unwrap();
            let keys =
                SessionKeys::derive(&data_key, &salt, vector.algorithm, vector.customer, version)
                    .unwrap();
            assert_eq!(hex::encode(&keys.commitment), vector.commitment, "{name}");
            let redaction = match vector.redaction {
                0 => crate::Redaction::NotScanned,
                code => crate::Redaction::Scanned {
                    rule_set: steward_redact::RuleSetVersion::new(code).unwrap(),
                },
            };
            let meta = SealInput::new(
                vector.record_id,
                vector.customer,
                Timestamp::from_unix_nanos(vector.collected_at_nanos),
                vector.consent,
            )
            .with_redaction(redaction);
            let body = unhex(&vector.body);
            let template = HeaderTemplate::new(
                vector.algorithm,
                vector.customer,
                version,
                &salt,
                &keys.commitment,
            );
            let sealed = keys
                .seal(&template, &meta, counter_nonce(vector.counter), &body)
                .unwrap();
            assert_eq!(hex::encode(sealed.as_bytes()), vector.record, "{name}");
            let parsed = SealedRecord::from_bytes(&unhex(&vector.record)).unwrap();
            assert_eq!(parsed.header(), sealed.header(), "{name}");
            assert_eq!(
                keys.open(&parsed).unwrap().as_bytes(),
                body.as_slice(),
                "{name}"
            );
        }
    }

    /// Records sealed by earlier builds (format version 1, tests/vectors/record_v1.py) still
    /// parse and open, and read as not scanned for secrets.
    #[test]
    fn version_1_known_answer_records_still_open() {
        let vectors: Vectors =
            serde_json::from_str(include_str!("../tests/vectors/record-v1.json")).unwrap();
        assert_eq!(vectors.format_version, crate::OLDEST_FORMAT_VERSION);
        assert_eq!(vectors.vectors.len(), 3);
        for vector in vectors.vectors {
            let name = &vector.name;
            let data_key = DataKey::from_array(hex::decode(&vector.data_key, "key").unwrap());
            let salt = hex::decode(&vector.salt, "salt").unwrap();
            let version = KeyVersion::new(vector.key_version).unwrap();
            let keys =
                SessionKeys::derive(&data_key, &salt, vector.algorithm, vector.customer, version)
                    .unwrap();
            let parsed = SealedRecord::from_bytes(&unhex(&vector.record)).unwrap();
            assert_eq!(parsed.header().format_version(), 1, "{name}");
            assert_eq!(
                parsed.header().redaction(),
                crate::Redaction::NotScanned,
                "{name}"
            );
            assert_eq!(parsed.header().record_id(), vector.record_id, "{name}");
            assert_eq!(
                keys.open(&parsed).unwrap().as_bytes(),
                unhex(&vector.body).as_slice(),
                "{name}"
            );
        }
    }

    #[test]
    fn counter_nonce_is_big_endian_in_the_low_bytes() {
        assert_eq!(counter_nonce(0), [0; 12]);
        assert_eq!(counter_nonce(0x0102), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(counter_nonce(u64::MAX)[4..], [0xff; 8]);
    }

    #[test]
    fn commitments_compare_by_every_byte() {
        let a = [7u8; 32];
        for index in 0..32 {
            let mut b = a;
            b[index] ^= 1;
            assert!(!crate::ct::bytes_equal(&a, &b));
        }
        assert!(crate::ct::bytes_equal(&a, &a.clone()));
    }

    #[test]
    fn commitment_depends_on_salt_customer_version_and_algorithm() {
        let key = DataKey::from_array([1; 32]);
        let customer: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse().unwrap();
        let other: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a11".parse().unwrap();
        let v1 = KeyVersion::FIRST;
        let v2 = v1.next().unwrap();
        let base = SessionKeys::derive(&key, &[0; 32], Algorithm::Aes256Gcm, customer, v1)
            .unwrap()
            .commitment;
        let variants = [
            SessionKeys::derive(&key, &[1; 32], Algorithm::Aes256Gcm, customer, v1),
            SessionKeys::derive(&key, &[0; 32], Algorithm::ChaCha20Poly1305, customer, v1),
            SessionKeys::derive(&key, &[0; 32], Algorithm::Aes256Gcm, other, v1),
            SessionKeys::derive(&key, &[0; 32], Algorithm::Aes256Gcm, customer, v2),
            SessionKeys::derive(
                &DataKey::from_array([2; 32]),
                &[0; 32],
                Algorithm::Aes256Gcm,
                customer,
                v1,
            ),
        ];
        for variant in variants {
            assert_ne!(variant.unwrap().commitment, base);
        }
    }
}
