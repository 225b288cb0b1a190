//! Training scopes: which models a record may train.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{ClauseId, CoreError, CustomerId, Vocabulary};

/// The reach of a training job: whose models it trains.
///
/// Scopes widen in the order private, shared, open-weight. A private scope names the
/// customer whose own models are trained; it may read only that customer's data
/// (`training.private`).
///
/// String form: `private:<customer uuid>`, `shared`, `open-weight`.
///
/// ```
/// use steward_core::{ClauseId, TrainingScope};
///
/// let scope: TrainingScope = "private:0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// assert_eq!(scope.clause(), ClauseId::TrainingPrivate);
/// assert_eq!("open-weight".parse::<TrainingScope>()?, TrainingScope::OpenWeight);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub enum TrainingScope {
    /// Models owned by one customer and used only by them.
    Private {
        /// The customer whose private models are trained.
        owner: CustomerId,
    },
    /// Models that benefit all customers of the service.
    Shared,
    /// Publicly released open-weight models.
    OpenWeight,
}

impl TrainingScope {
    /// The clause that governs training at this scope.
    #[must_use]
    pub const fn clause(self) -> ClauseId {
        match self {
            Self::Private { .. } => ClauseId::TrainingPrivate,
            Self::Shared => ClauseId::TrainingShared,
            Self::OpenWeight => ClauseId::TrainingOpenWeight,
        }
    }

    /// Steward's fideslang data use for this scope, a child of `train_ai_system`.
    #[must_use]
    pub const fn fideslang_key(self) -> &'static str {
        match self {
            Self::Private { .. } => "train_ai_system.private",
            Self::Shared => "train_ai_system.shared",
            Self::OpenWeight => "train_ai_system.open_weight",
        }
    }
}

impl fmt::Display for TrainingScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Private { owner } => write!(f, "private:{owner}"),
            Self::Shared => f.write_str("shared"),
            Self::OpenWeight => f.write_str("open-weight"),
        }
    }
}

impl FromStr for TrainingScope {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "shared" => Ok(Self::Shared),
            "open-weight" => Ok(Self::OpenWeight),
            _ => match text.strip_prefix("private:") {
                Some(owner) => Ok(Self::Private {
                    owner: owner.parse()?,
                }),
                None => Err(CoreError::unknown(Vocabulary::TrainingScope, text)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_scope_serializes_with_its_owner() {
        let owner: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse().unwrap();
        let scope = TrainingScope::Private { owner };
        let json = serde_json::to_string(&scope).unwrap();
        assert_eq!(
            json,
            r#"{"scope":"private","owner":"0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10"}"#
        );
        assert_eq!(serde_json::from_str::<TrainingScope>(&json).unwrap(), scope);
        assert_eq!(scope.to_string().parse::<TrainingScope>().unwrap(), scope);
    }

    #[test]
    fn unknown_scope_names_the_value() {
        let error = "everyone".parse::<TrainingScope>().unwrap_err();
        assert_eq!(error.to_string(), "unknown training scope `everyone`");
    }
}
