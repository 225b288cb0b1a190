//! Credential redaction for Steward: secrets in request bodies become markers before sealing.
//!
//! Secrets are never needed for any log purpose or for training (docs/design.md, issue 20):
//! a prompt that carries an `OPENAI_API_KEY=…` line, a connection string or a pasted private
//! key is sealed with each secret replaced by a marker naming its kind and a keyed fingerprint,
//! `[REDACTED:github-token:3f9a1c2b]`. Two requests that carried the same secret show the same
//! fingerprint, so a steward can tell without seeing it; without the store's key, a guess
//! at a secret cannot be tested against a marker.
//!
//! ```
//! use steward_redact::{FingerprintKey, Redactor, Scanner, SecretKind};
//!
//! let scanner = Scanner::standard()?;
//! let key = FingerprintKey::from_bytes(&[0x42; 32]);
//! let body = b"DATABASE_URL=postgres://app:Zk8pQ2vX9mRt@db.internal:5432/orders";
//! let redacted = scanner.redact(body, &key);
//! let text = std::str::from_utf8(redacted.body())?;
//! assert!(text.starts_with("DATABASE_URL=postgres://app:[REDACTED:url-password:"));
//! assert!(text.ends_with("]@db.internal:5432/orders"));
//! assert_eq!(redacted.counts().get(SecretKind::UrlPassword), 1);
//!
//! // Text without secrets comes back as it was, borrowed.
//! let clean = scanner.redact(b"fn main() { println!(\"hello\"); }", &key);
//! assert!(clean.is_unchanged());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is caught
//!
//! [`SecretKind`] lists the formats, each written from its provider's published format
//! (`scanner.rs` cites them). Near misses survive: identifiers, git SHAs and other hashes,
//! base64 images, public keys and certificates, placeholders (`sk-...`, `YOUR_API_KEY`,
//! `ghp_xxxx…`), and the example keys providers publish in their documentation (AWS's
//! `AKIAIOSFODNN7EXAMPLE`, jwt.io's token): those grant nothing and are what prompts about the
//! provider quote, so they are left as written. Generic `name = value` assignments are caught
//! when the name says secret and the value reaches [`GENERIC_MIN_ENTROPY`].
//!
//! # Bytes, not text
//!
//! Bodies are scanned as bytes: one that is not UTF-8 is scanned the same way, with no panic
//! and no skip. Output is at most [`redacted_len_bound`] of the input's length, and redacting
//! a redacted body changes nothing (markers match no rule).
//!
//! # Speed
//!
//! One Teddy pass (aho-corasick's SIMD searcher) finds every rule's keywords; each rule runs
//! only at its keywords, as a DFA anchored there. docs/benchmarks.md has the figures (issue
//! 20's targets: 500 MB/s secret-free, 100 MB/s dense with secrets).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::{borrow::Cow, fmt, num::NonZeroU8, ops::Range};

mod error;
mod key;
mod kind;
mod scanner;

pub use crate::{
    error::RedactError,
    key::{FINGERPRINT_HEX_LEN, Fingerprint, FingerprintKey},
    kind::{RedactionCounts, SecretKind},
    scanner::{GENERIC_MIN_ENTROPY, Scanner, shannon_entropy},
};

/// What a marker starts with; a finding that starts with it is a marker already, not a secret.
pub const MARKER_PREFIX: &[u8] = b"[REDACTED:";

/// The longest marker: `[REDACTED:` (10), a kind of at most 25 bytes, `:`, the fingerprint
/// (8) and `]`.
pub const MAX_MARKER_LEN: usize = MARKER_PREFIX.len() + 25 + 1 + FINGERPRINT_HEX_LEN + 1;

/// The most a body of `input_len` bytes can grow to when redacted: every replaced secret is at
/// least one byte and its marker at most [`MAX_MARKER_LEN`], so `input_len * MAX_MARKER_LEN`
/// (and never less than the input). In practice secrets are longer than their markers except
/// short URL passwords, so redacted bodies are about as long as their input.
#[must_use]
pub const fn redacted_len_bound(input_len: usize) -> usize {
    input_len.saturating_mul(MAX_MARKER_LEN)
}

/// The version of a rule set, recorded in each sealed record's header: which rules scanned it.
/// 0 is not a version (a header's 0 means "not scanned").
///
/// ```
/// use steward_redact::{Redactor, RuleSetVersion, Scanner};
///
/// assert_eq!(Scanner::standard()?.rule_set(), RuleSetVersion::new(1)?);
/// assert!(RuleSetVersion::new(0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleSetVersion(NonZeroU8);

impl RuleSetVersion {
    /// The version `version`.
    ///
    /// # Errors
    ///
    /// [`RedactError::InvalidRuleSetVersion`] for 0.
    pub const fn new(version: u8) -> Result<Self, RedactError> {
        match NonZeroU8::new(version) {
            Some(version) => Ok(Self(version)),
            None => Err(RedactError::InvalidRuleSetVersion),
        }
    }

    /// A version known to be non-zero.
    pub(crate) const fn of(version: u8) -> Self {
        match NonZeroU8::new(version) {
            Some(version) => Self(version),
            None => Self(NonZeroU8::MIN),
        }
    }

    /// The version number (at least 1).
    #[must_use]
    pub const fn get(self) -> u8 {
        self.0.get()
    }
}

impl fmt::Display for RuleSetVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A secret found in a body: its kind and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    kind: SecretKind,
    range: Range<usize>,
}

impl Finding {
    /// A secret of `kind` at `range` of the body (for [`Redactor`] implementations).
    #[must_use]
    pub const fn new(kind: SecretKind, range: Range<usize>) -> Self {
        Self { kind, range }
    }

    /// The kind of secret.
    #[must_use]
    pub const fn kind(&self) -> SecretKind {
        self.kind
    }

    /// Where its bytes are in the body scanned.
    #[must_use]
    pub fn range(&self) -> Range<usize> {
        self.range.clone()
    }
}

/// Finds secrets in bodies: the default is [`Scanner`]; a deployment may bring its own rules.
///
/// Implementors provide [`find`](Self::find) and [`rule_set`](Self::rule_set);
/// [`redact`](Self::redact) replaces what was found with markers.
pub trait Redactor: Send + Sync {
    /// The version of the rules, recorded in each sealed record's header.
    fn rule_set(&self) -> RuleSetVersion;

    /// Appends the secrets in `input` to `findings`, in order of position, not overlapping.
    /// Must not panic on any input.
    fn find(&self, input: &[u8], findings: &mut Vec<Finding>);

    /// As [`find`](Self::find), saying also whether a second pass over the redacted body
    /// could find more (see [`redact`](Self::redact)). The default says it could; a redactor
    /// that can tell otherwise saves the second pass.
    fn find_settling(&self, input: &[u8], findings: &mut Vec<Finding>) -> Rescan {
        self.find(input, findings);
        Rescan::Needed
    }

    /// `input` with every secret [`find`](Self::find) reports replaced by
    /// `[REDACTED:<kind>:<fingerprint>]` (fingerprint under `key`), and counts per kind.
    /// Findings out of order, overlapping, empty, out of bounds or already a marker are
    /// skipped, so the output never exceeds [`redacted_len_bound`] whatever `find` reports.
    ///
    /// When something was replaced and [`find_settling`](Self::find_settling) says a second
    /// pass could find more, the output is scanned again (at most [`MAX_PASSES`] in all): a
    /// secret can end where another began (`glpat-…` run into a `-----BEGIN` line), and only
    /// once the other is a marker does its end show. So redacting the output again changes
    /// nothing. Text without secrets costs one pass.
    fn redact<'a>(&self, input: &'a [u8], key: &FingerprintKey) -> Redacted<'a> {
        let mut findings = Vec::new();
        let mut rescan = self.find_settling(input, &mut findings);
        let mut redacted = apply(input, &findings, key);
        for _ in 1..MAX_PASSES {
            if redacted.is_unchanged() || rescan == Rescan::NotNeeded {
                break;
            }
            findings.clear();
            rescan = self.find_settling(redacted.body(), &mut findings);
            let again = apply(redacted.body(), &findings, key);
            if again.is_unchanged() {
                break;
            }
            let mut counts = redacted.counts;
            counts.add(&again.counts);
            redacted = Redacted {
                body: Cow::Owned(again.body.into_owned()),
                counts,
            };
        }
        redacted
    }
}

/// Whether a second pass over a redacted body could find more secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rescan {
    /// It could: scan the output again.
    Needed,
    /// It could not: every finding is settled.
    NotNeeded,
}

/// The most passes [`Redactor::redact`] makes over one body. Each pass after the first only
/// runs when the one before replaced something, and each replaces at least one secret; two
/// suffice for every input the tests and fuzzing found.
pub const MAX_PASSES: usize = 4;

/// Replaces `findings` in `input` by markers.
fn apply<'a>(input: &'a [u8], findings: &[Finding], key: &FingerprintKey) -> Redacted<'a> {
    let mut counts = RedactionCounts::default();
    if findings.is_empty() {
        return Redacted {
            body: Cow::Borrowed(input),
            counts,
        };
    }
    let mut out = Vec::with_capacity(input.len());
    let mut copied = 0usize;
    for finding in findings {
        let Range { start, end } = finding.range;
        let (Some(kept), Some(secret)) = (input.get(copied..start), input.get(start..end)) else {
            continue;
        };
        if secret.is_empty() || secret.starts_with(MARKER_PREFIX) {
            continue;
        }
        out.extend_from_slice(kept);
        out.extend_from_slice(MARKER_PREFIX);
        out.extend_from_slice(finding.kind.as_str().as_bytes());
        out.push(b':');
        out.extend_from_slice(&key.fingerprint(secret).hex());
        out.push(b']');
        counts.record(finding.kind);
        copied = end;
    }
    if counts.is_empty() {
        return Redacted {
            body: Cow::Borrowed(input),
            counts,
        };
    }
    out.extend_from_slice(input.get(copied..).unwrap_or_default());
    Redacted {
        body: Cow::Owned(out),
        counts,
    }
}

/// A redacted body and what was replaced in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted<'a> {
    body: Cow<'a, [u8]>,
    counts: RedactionCounts,
}

impl<'a> Redacted<'a> {
    /// The body with markers in place of secrets.
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// How many secrets of each kind were replaced.
    #[must_use]
    pub const fn counts(&self) -> &RedactionCounts {
        &self.counts
    }

    /// Whether nothing was replaced (the body is the input, not copied).
    #[must_use]
    pub fn is_unchanged(&self) -> bool {
        matches!(self.body, Cow::Borrowed(_))
    }

    /// The body with markers in place of secrets, by value: the input itself if nothing was
    /// replaced, else the copy the scan made (for a caller that must zeroize it).
    #[must_use]
    pub fn into_body(self) -> Cow<'a, [u8]> {
        self.body
    }
}
