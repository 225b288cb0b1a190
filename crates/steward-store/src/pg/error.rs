//! What the PostgreSQL store refuses on its own account, as the source of
//! [`StoreError::Postgres`].

use crate::StoreError;

/// A refusal of the PostgreSQL store itself, not of the client or server: the source of a
/// [`StoreError::Postgres`] (whose other sources are `postgres::Error`s). Reach it with
/// [`downcast_ref`](std::error::Error#method.downcast_ref) on that source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The configuration is unusable.
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Every pooled connection stayed in use for the whole connect timeout.
    #[error(
        "all {max} pooled connections stayed in use: raise PgConfig::with_max_connections, or find what holds them"
    )]
    PoolExhausted {
        /// The pool's size.
        max: usize,
    },
    /// The schema holds no Steward store: opened with
    /// [`PgStore::open`](super::PgStore::open), which does not create one.
    #[error(
        "no Steward store in schema `{schema}`: check the schema name, or create the store by starting a node on it"
    )]
    StoreMissing {
        /// The schema looked in.
        schema: String,
    },
}

impl PgError {
    /// This refusal as the store's error, saying what the store was doing.
    pub(crate) fn doing(self, doing: &'static str) -> StoreError {
        StoreError::Postgres {
            doing,
            source: Box::new(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::PgError;
    use crate::{StoreError, pg::PgConfig};

    #[test]
    fn a_refused_configuration_is_a_postgres_error_whose_source_says_why() {
        let error = PgConfig::new("host=127.0.0.1")
            .unwrap()
            .with_max_connections(0)
            .unwrap_err();
        assert!(matches!(error, StoreError::Postgres { .. }));
        assert_eq!(
            error.to_string(),
            "PostgreSQL error while checking the store's configuration"
        );
        let source = error.source().unwrap();
        assert!(matches!(
            source.downcast_ref::<PgError>(),
            Some(PgError::InvalidConfig { .. })
        ));
        assert_eq!(
            source.to_string(),
            "invalid configuration: a store needs at least one pooled connection"
        );
    }
}
