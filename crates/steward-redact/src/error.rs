//! The crate's one error type.

/// What went wrong in `steward-redact`. Messages never contain a secret or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedactError {
    /// A kind name that is not one of [`SecretKind::ALL`](crate::SecretKind::ALL).
    #[error("`{kind}` is not a known secret kind")]
    UnknownKind {
        /// The name given.
        kind: String,
    },
    /// A rule-set version of 0 (0 in a record header means "not scanned").
    #[error("a rule-set version must be at least 1")]
    InvalidRuleSetVersion,
    /// A rule of the scanner did not compile (a bug of this crate, reported rather than
    /// panicking).
    #[error("the `{kind}` rule does not compile")]
    Rule {
        /// The kind whose rule failed.
        kind: &'static str,
        /// What the matcher reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl RedactError {
    /// Whether the error is a refusal of input (rather than a broken build of the scanner).
    #[must_use]
    pub const fn is_refused(&self) -> bool {
        matches!(self, Self::UnknownKind { .. } | Self::InvalidRuleSetVersion)
    }
}
