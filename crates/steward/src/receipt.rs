//! Receipts the customer keeps: a [`ConsentReceipt`] (training consent) or an
//! [`InteractiveReceipt`] (interactive features) signed with the store's receipt-signing key
//! (Ed25519), as a JSON document anyone verifies offline with the published public key.
//! docs/receipts.md gives the shape, field by field, and how it maps to the Kantara
//! Initiative's Consent Receipt Specification.

use std::fmt;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use steward_consent::{ConsentReceipt, InteractiveReceipt};
use steward_core::Timestamp;
use steward_logs::{ChainHash, ReceiptKeyId, ReceiptPublicKey, ReceiptSignature, ReceiptSigner};

/// The `format` every signed consent receipt names.
pub const RECEIPT_FORMAT: &str = "steward-consent-receipt";

/// The `format` every signed interactive-features receipt names.
pub const INTERACTIVE_RECEIPT_FORMAT: &str = "steward-interactive-receipt";

mod sealed {
    pub trait Sealed {}
    impl Sealed for steward_consent::ConsentReceipt {}
    impl Sealed for steward_consent::InteractiveReceipt {}
}

/// A receipt the customer can be given signed: a training-consent receipt
/// ([`ConsentReceipt`]) or an interactive-features one ([`InteractiveReceipt`]). Each kind
/// has a `format` of its own, which the signature covers, so a signed receipt of one kind can
/// never pass for the other.
pub trait SignableReceipt:
    sealed::Sealed + Serialize + DeserializeOwned + Clone + fmt::Debug + PartialEq
{
    /// The `format` its signed documents name.
    const FORMAT: &'static str;
    /// What it is, for error messages (`consent receipt`).
    const WHAT: &'static str;
}

impl SignableReceipt for ConsentReceipt {
    const FORMAT: &'static str = RECEIPT_FORMAT;
    const WHAT: &'static str = "consent receipt";
}

impl SignableReceipt for InteractiveReceipt {
    const FORMAT: &'static str = INTERACTIVE_RECEIPT_FORMAT;
    const WHAT: &'static str = "interactive-features receipt";
}

/// One receipt of a customer, of either kind: what a file of signed receipts holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CustomerReceipt {
    /// A training-consent change (`training.*` clauses).
    Consent(ConsentReceipt),
    /// A choice about interactive features (`use.purposes`).
    Interactive(InteractiveReceipt),
}

impl CustomerReceipt {
    /// Whose receipt it is.
    #[must_use]
    pub const fn customer(&self) -> steward_core::CustomerId {
        match self {
            Self::Consent(receipt) => receipt.customer,
            Self::Interactive(receipt) => receipt.customer,
        }
    }

    /// The receipt signed under `signer`, as the JSON document
    /// [`SignedReceipt::to_json`] writes.
    ///
    /// # Errors
    ///
    /// As [`SignedReceipt::sign`] and [`SignedReceipt::to_json`].
    pub fn sign_to_json(
        self,
        fact_log: Option<FactLogPosition>,
        issued_at: Timestamp,
        signer: &ReceiptSigner,
    ) -> Result<String, ReceiptError> {
        match self {
            Self::Consent(receipt) => {
                SignedReceipt::sign(receipt, fact_log, issued_at, signer)?.to_json()
            }
            Self::Interactive(receipt) => {
                SignedReceipt::sign(receipt, fact_log, issued_at, signer)?.to_json()
            }
        }
    }
}

/// The `version` of the document this build writes, and the only one it verifies.
pub const RECEIPT_VERSION: u64 = 1;

/// Where the receipt sits in the store's MAC-chained fact log: the entry that recorded it and
/// that entry's chain hash. The customer cannot check the hash (it is keyed), but it binds the
/// receipt to one entry of a log the store can show an auditor, and the signature covers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FactLogPosition {
    /// The entry's place in the fact log, from 1.
    pub entry: u64,
    /// The entry's chain hash.
    pub hash: ChainHash,
}

impl FactLogPosition {
    /// The position of the entry at `entry` with chain hash `hash`.
    #[must_use]
    pub const fn new(entry: u64, hash: ChainHash) -> Self {
        Self { entry, hash }
    }
}

/// A receipt signed for the customer to keep: the receipt, its place in the fact log (where
/// the issuer knows it), when it was issued, the id of the key that signed it, and an Ed25519
/// signature over all of these and the receipt's `format`. [`SignedConsentReceipt`] and
/// [`SignedInteractiveReceipt`] name its two kinds.
///
/// Build one with [`sign`](Self::sign), write it with [`to_json`](Self::to_json); read one with
/// [`from_json`](Self::from_json) and check it with [`verify`](Self::verify), or do both with
/// [`verify_consent_receipts`]. No store is needed to verify, only the public key.
///
/// ```
/// use steward::{
///     Policy,
///     SignedConsentReceipt,
///     logs::ReceiptSigner,
///     verify_consent_receipts,
///     consent::{Channel, ConsentActor, ConsentChange, ConsentLedger},
///     vocabulary::TrainingLevel,
/// };
///
/// let policy = Policy::coder_model();
/// let mut ledger = ConsentLedger::new(policy.known_versions().clone());
/// let now = "2025-06-01T12:00:00Z".parse()?;
/// let receipt = ledger.record(
///     ConsentChange::new(
///         "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?,
///         TrainingLevel::Shared,
///         now,
///         ConsentActor::Customer,
///         Channel::AccountSettings,
///         policy.version().clone(),
///     ),
///     now,
/// )?;
///
/// let signer = ReceiptSigner::from_pkcs8(&ReceiptSigner::generate_pkcs8()?)?;
/// let signed = SignedConsentReceipt::sign(receipt.clone(), None, now, &signer)?;
/// let document = signed.to_json()?;
///
/// // The customer, offline, with the published public key:
/// let verified = verify_consent_receipts(&document, &signer.public_key())?;
/// assert_eq!(verified, [receipt]);
///
/// // Any change to what was signed fails, naming why.
/// let changed = document.replace("\"shared\"", "\"open-weight\"");
/// let error = verify_consent_receipts(&changed, &signer.public_key()).unwrap_err();
/// assert!(error.to_string().contains("signature does not verify"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReceipt<R: SignableReceipt> {
    receipt: R,
    fact_log: Option<FactLogPosition>,
    issued_at: Timestamp,
    key_id: ReceiptKeyId,
    signature: ReceiptSignature,
}

/// A signed training-consent receipt (`steward-consent-receipt`).
pub type SignedConsentReceipt = SignedReceipt<ConsentReceipt>;

/// A signed interactive-features receipt (`steward-interactive-receipt`).
pub type SignedInteractiveReceipt = SignedReceipt<InteractiveReceipt>;

impl<R: SignableReceipt> SignedReceipt<R> {
    /// Signs `receipt` under `signer`, with its place in the fact log if known, issued at
    /// `issued_at`.
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Malformed`] if the receipt cannot be written as JSON (not expected:
    /// every receipt the ledger makes can).
    pub fn sign(
        receipt: R,
        fact_log: Option<FactLogPosition>,
        issued_at: Timestamp,
        signer: &ReceiptSigner,
    ) -> Result<Self, ReceiptError> {
        let key_id = signer.public_key().key_id();
        let body = signed_bytes(&receipt, fact_log.as_ref(), issued_at, key_id)?;
        let signature = signer.sign(&body);
        Ok(Self {
            receipt,
            fact_log,
            issued_at,
            key_id,
            signature,
        })
    }

    /// Reads a signed receipt (one JSON document), unverified: its format and version are
    /// checked, its signature is not (see [`verify`](Self::verify)).
    ///
    /// # Errors
    ///
    /// [`ReceiptError::UnknownFormat`] or [`ReceiptError::UnknownVersion`] for a document
    /// that is not a version-1 Steward receipt of this kind; [`ReceiptError::Malformed`]
    /// naming what is wrong with one that claims to be but does not parse.
    pub fn from_json(text: &str) -> Result<Self, ReceiptError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|error| ReceiptError::Malformed {
                problem: error.to_string(),
            })?;
        Self::from_value(value)
    }

    fn from_value(value: serde_json::Value) -> Result<Self, ReceiptError> {
        let format = value.get("format").and_then(serde_json::Value::as_str);
        if format != Some(R::FORMAT) {
            return Err(ReceiptError::UnknownFormat {
                format: format.map_or_else(|| "(none)".to_owned(), str::to_owned),
                expected: R::WHAT,
            });
        }
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(RECEIPT_VERSION) => {}
            other => {
                return Err(ReceiptError::UnknownVersion {
                    expected: R::WHAT,
                    version: other.map_or_else(
                        || {
                            value
                                .get("version")
                                .map_or_else(|| "(none)".to_owned(), ToString::to_string)
                        },
                        |version| version.to_string(),
                    ),
                });
            }
        }
        let wire: Wire<R> =
            serde_json::from_value(value).map_err(|error| ReceiptError::Malformed {
                problem: error.to_string(),
            })?;
        let malformed = |field: &str| ReceiptError::Malformed {
            problem: format!("`{field}` is not valid hex of the right length"),
        };
        Ok(Self {
            receipt: wire.receipt,
            fact_log: wire.fact_log,
            issued_at: wire.issued_at,
            key_id: wire.key_id.parse().map_err(|_| malformed("key_id"))?,
            signature: wire.signature.parse().map_err(|_| malformed("signature"))?,
        })
    }

    /// The document as pretty-printed JSON (docs/receipts.md).
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Malformed`] if it cannot be written (not expected).
    pub fn to_json(&self) -> Result<String, ReceiptError> {
        serde_json::to_string_pretty(&self.wire()).map_err(|error| ReceiptError::Malformed {
            problem: error.to_string(),
        })
    }

    /// Checks the signature under `key` and returns the receipt it covers.
    ///
    /// # Errors
    ///
    /// [`ReceiptError::KeyMismatch`] if the receipt names another key than `key`;
    /// [`ReceiptError::BadSignature`] if the signature does not verify (a field was changed
    /// after signing, or the key id was changed to match another key).
    pub fn verify(&self, key: &ReceiptPublicKey) -> Result<&R, ReceiptError> {
        if key.key_id() != self.key_id {
            return Err(ReceiptError::KeyMismatch {
                receipt_key: self.key_id.to_string(),
                given_key: key.key_id().to_string(),
            });
        }
        let body = signed_bytes(
            &self.receipt,
            self.fact_log.as_ref(),
            self.issued_at,
            self.key_id,
        )?;
        key.verify(&body, &self.signature)
            .map_err(|_| ReceiptError::BadSignature)?;
        Ok(&self.receipt)
    }

    /// The id of the key that signed it (as the document says, unverified).
    #[must_use]
    pub const fn key_id(&self) -> ReceiptKeyId {
        self.key_id
    }

    /// When it was issued (as the document says: verify first).
    #[must_use]
    pub const fn issued_at(&self) -> Timestamp {
        self.issued_at
    }

    /// Its place in the fact log, if the issuer knew it (as the document says: verify first).
    #[must_use]
    pub const fn fact_log(&self) -> Option<FactLogPosition> {
        self.fact_log
    }

    fn wire(&self) -> Wire<R> {
        Wire {
            format: R::FORMAT.to_owned(),
            version: RECEIPT_VERSION,
            key_id: self.key_id.to_string(),
            issued_at: self.issued_at,
            fact_log: self.fact_log,
            receipt: self.receipt.clone(),
            signature: self.signature.to_string(),
        }
    }
}

/// Verifies a file of signed consent receipts (one document, or a JSON array of them) under
/// `key`, offline, and returns the receipts, in order. Every one must verify: the first that
/// does not is the error, with its position. A file that may also hold interactive-features
/// receipts, as `steward receipt issue` writes, is read with [`verify_receipts`].
///
/// # Errors
///
/// As [`SignedReceipt::from_json`] and [`SignedReceipt::verify`];
/// [`ReceiptError::InFile`] naming the position of the document in an array;
/// [`ReceiptError::Malformed`] for an empty array (no receipt is not proof of anything).
pub fn verify_consent_receipts(
    text: &str,
    key: &ReceiptPublicKey,
) -> Result<Vec<ConsentReceipt>, ReceiptError> {
    verify_file(text, |document| verify_one::<ConsentReceipt>(document, key))
}

/// Verifies a file of signed receipts of both kinds (one document, or a JSON array of them as
/// `steward receipt issue` writes) under `key`, offline, and returns the receipts, in order,
/// each as the kind its document names. Every one must verify: the first that does not is the
/// error, with its position.
///
/// ```
/// use steward::{
///     CustomerReceipt, Policy,
///     consent::{Channel, ConsentActor, InteractiveChange, InteractiveChoice, InteractiveLedger},
///     logs::ReceiptSigner,
///     verify_receipts,
/// };
///
/// let policy = Policy::coder_model();
/// let mut ledger = InteractiveLedger::new(policy.known_versions().clone());
/// let now = "2025-06-01T12:00:00Z".parse()?;
/// let receipt = ledger.record(
///     InteractiveChange::new(
///         "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?,
///         InteractiveChoice::OptedIn,
///         now,
///         ConsentActor::Customer,
///         Channel::AccountSettings,
///         policy.version().clone(),
///     ),
///     now,
/// )?;
/// let signer = ReceiptSigner::from_pkcs8(&ReceiptSigner::generate_pkcs8()?)?;
/// let document = CustomerReceipt::Interactive(receipt.clone()).sign_to_json(None, now, &signer)?;
/// let verified = verify_receipts(&format!("[{document}]"), &signer.public_key())?;
/// assert_eq!(verified, [CustomerReceipt::Interactive(receipt)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// As [`verify_consent_receipts`], with [`ReceiptError::UnknownFormat`] for a document of
/// neither kind.
pub fn verify_receipts(
    text: &str,
    key: &ReceiptPublicKey,
) -> Result<Vec<CustomerReceipt>, ReceiptError> {
    verify_file(text, |document| {
        match document.get("format").and_then(serde_json::Value::as_str) {
            Some(INTERACTIVE_RECEIPT_FORMAT) => {
                verify_one::<InteractiveReceipt>(document, key).map(CustomerReceipt::Interactive)
            }
            Some(RECEIPT_FORMAT) => {
                verify_one::<ConsentReceipt>(document, key).map(CustomerReceipt::Consent)
            }
            other => Err(ReceiptError::UnknownFormat {
                format: other.map_or_else(|| "(none)".to_owned(), str::to_owned),
                expected: "receipt (consent or interactive features)",
            }),
        }
    })
}

/// Reads one document as a signed receipt of kind `R` and verifies it under `key`.
fn verify_one<R: SignableReceipt>(
    document: serde_json::Value,
    key: &ReceiptPublicKey,
) -> Result<R, ReceiptError> {
    let signed = SignedReceipt::<R>::from_value(document)?;
    signed.verify(key)?;
    Ok(signed.receipt)
}

/// Verifies each document of a receipt file (one, or an array) with `verify`, in order.
fn verify_file<T>(
    text: &str,
    mut verify: impl FnMut(serde_json::Value) -> Result<T, ReceiptError>,
) -> Result<Vec<T>, ReceiptError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|error| ReceiptError::Malformed {
            problem: error.to_string(),
        })?;
    match value {
        serde_json::Value::Array(documents) => {
            if documents.is_empty() {
                return Err(ReceiptError::Malformed {
                    problem: "the file holds no receipt".to_owned(),
                });
            }
            documents
                .into_iter()
                .enumerate()
                .map(|(index, document)| {
                    verify(document).map_err(|error| ReceiptError::InFile {
                        index,
                        source: Box::new(error),
                    })
                })
                .collect()
        }
        document => verify(document).map(|receipt| vec![receipt]),
    }
}

/// What is wrong with a signed receipt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// Not JSON, or a field missing, unknown or of the wrong shape.
    #[error("malformed receipt: {problem}")]
    Malformed {
        /// What the parser said.
        problem: String,
    },
    /// The document's `format` is not the one of the receipts expected
    /// (`steward-consent-receipt`, `steward-interactive-receipt`).
    #[error("not a steward {expected}: format `{format}`")]
    UnknownFormat {
        /// The format the document names.
        format: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A version of the document this build does not know.
    #[error("unknown {expected} version `{version}`: this build reads version 1")]
    UnknownVersion {
        /// The version the document names.
        version: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The receipt was signed by another key than the one given.
    #[error("the receipt was signed by key `{receipt_key}`, not by the key given (`{given_key}`)")]
    KeyMismatch {
        /// The key id the receipt names.
        receipt_key: String,
        /// The id of the key given.
        given_key: String,
    },
    /// The signature does not verify: the receipt was changed after it was signed.
    #[error("the receipt's signature does not verify: it was changed after it was signed")]
    BadSignature,
    /// One document of an array failed.
    #[error("receipt {index} of the file (counting from 0)")]
    InFile {
        /// Its position in the array.
        index: usize,
        /// Why it failed.
        #[source]
        source: Box<ReceiptError>,
    },
}

impl ReceiptError {
    /// Whether the document is well-formed but its signature proves nothing under the key
    /// given (a changed receipt, or another key's), as opposed to unreadable.
    #[must_use]
    pub fn is_not_authentic(&self) -> bool {
        match self {
            Self::KeyMismatch { .. } | Self::BadSignature => true,
            Self::InFile { source, .. } => source.is_not_authentic(),
            _ => false,
        }
    }
}

/// The document as written: the signed fields in a fixed order, then the signature.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(bound(deserialize = "R: DeserializeOwned"))]
struct Wire<R> {
    format: String,
    version: u64,
    key_id: String,
    issued_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fact_log: Option<FactLogPosition>,
    receipt: R,
    signature: String,
}

/// What the signature covers: the document without its signature, as compact JSON in the
/// order of [`Wire`]. Verifying re-encodes the parsed fields, so two texts that read as the
/// same receipt verify alike, and any change to a value changes these bytes.
#[derive(Serialize)]
struct Signed<'a, R> {
    format: &'static str,
    version: u64,
    key_id: String,
    issued_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    fact_log: Option<&'a FactLogPosition>,
    receipt: &'a R,
}

fn signed_bytes<R: SignableReceipt>(
    receipt: &R,
    fact_log: Option<&FactLogPosition>,
    issued_at: Timestamp,
    key_id: ReceiptKeyId,
) -> Result<Vec<u8>, ReceiptError> {
    serde_json::to_vec(&Signed {
        format: R::FORMAT,
        version: RECEIPT_VERSION,
        key_id: key_id.to_string(),
        issued_at,
        fact_log,
        receipt,
    })
    .map_err(|error| ReceiptError::Malformed {
        problem: error.to_string(),
    })
}
