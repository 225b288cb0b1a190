//! Errors of the facade: loading a policy, and those of the inner crates.

/// What went wrong loading a policy file. Each variant names the file; validation errors
/// name the field too.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy file `{path}`")]
    Read {
        /// The path given.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file name ends in neither `.toml` nor `.json`.
    #[error("policy file `{path}`: unknown format, expected a `.toml` or `.json` file")]
    UnknownFormat {
        /// The path given.
        path: String,
    },
    /// The file is not well-formed, or a value has the wrong type or an unknown name.
    #[error("policy file `{source_name}`: {message}")]
    Malformed {
        /// The file, or the name given for the text.
        source_name: String,
        /// What the parser said, with the position and field where it knows them.
        message: String,
    },
    /// The file is well-formed, but a field breaks the privacy policy or makes no sense.
    #[error("policy file `{source_name}`, field `{field}`: {problem}")]
    Invalid {
        /// The file, or the name given for the text.
        source_name: String,
        /// The field, as a path such as `purposes.email` or `retention[2]`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// Any error of Steward, for callers who want one type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StewardError {
    /// Loading a policy failed.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The shared vocabulary rejected a value.
    #[error(transparent)]
    Core(#[from] steward_core::CoreError),
    /// The consent ledger rejected a change or a file.
    #[error(transparent)]
    Consent(#[from] steward_consent::ConsentError),
    /// Sealing, opening, keys or the audit trail failed.
    #[error(transparent)]
    Logs(#[from] steward_logs::LogsError),
    /// A signed consent receipt that does not verify or does not parse.
    #[error(transparent)]
    Receipt(#[from] crate::ReceiptError),
    /// A retention computation or the sweep failed.
    #[error(transparent)]
    Retention(#[from] steward_retention::RetentionError),
    /// A justification that the policy's [`JustificationRule`](crate::JustificationRule)
    /// refuses: too few letters or digits, or no match of the policy's pattern.
    #[error("justification `{justification}` refused by the policy (logs.access): {problem}")]
    JustificationRefused {
        /// The refused justification, shortened to at most 64 characters.
        justification: String,
        /// What it lacks.
        problem: String,
    },
    /// A justification rule that cannot be built: a minimum out of range, or a pattern that
    /// is not a regular expression (named).
    #[error("invalid justification rule: {problem}")]
    InvalidJustificationRule {
        /// What is wrong with it.
        problem: String,
    },
    /// A training export recipient that is not an age X25519 recipient (`age1...`).
    #[error("`{recipient}` is not an age X25519 recipient (age1...)")]
    InvalidRecipient {
        /// The string given.
        recipient: String,
    },
    /// A training export encrypted to no recipient at all.
    #[error("a training export needs at least one recipient")]
    NoRecipients,
    /// A training export's record source, sink or manifest writer failed.
    #[error("training export failed")]
    Export {
        /// What the source, sink or writer reported.
        #[source]
        source: steward_logs::BoxError,
    },
    /// A data subject request names a customer the facts have no relationship on record for.
    #[error("unknown customer `{customer}`: no relationship on record")]
    UnknownCustomer {
        /// The customer named.
        customer: steward_core::CustomerId,
    },
    /// An erasure waits while legal holds of the customer stand (`law.erasure`): nothing was
    /// deleted, and the request is pending until they are released.
    #[error(
        "erasure of customer `{customer}` is pending: held by {} (law.erasure); nothing was \
         deleted, repeat the request once released",
        list_holds(holds)
    )]
    ErasureHeld {
        /// Whose.
        customer: steward_core::CustomerId,
        /// The standing holds, by id.
        holds: Vec<steward_retention::HoldId>,
    },
    /// A data subject request's record source, sink or writer failed, or a deletion did.
    #[error("subject request failed")]
    Subject {
        /// What the source, sink, writer or store reported.
        #[source]
        source: steward_logs::BoxError,
    },
}

/// Hold ids as `hold-3, hold-4`.
fn list_holds(holds: &[steward_retention::HoldId]) -> String {
    holds
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
