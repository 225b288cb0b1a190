//! Training levels: how far a customer lets their data train models.

use crate::{ClauseId, CoreError, CustomerId, TrainingScope, Vocabulary};

/// A customer's training preference, one level per customer (docs/design.md section 1).
///
/// Levels are ordered `None < Private < Shared < OpenWeight` and cumulative: a level permits
/// training at its own scope and every narrower one. Whatever the level, private training
/// reads only the data of the customer who owns the models (`training.private`).
///
/// String forms: `none`, `private`, `shared`, `open-weight` (serde and [`FromStr`] accept
/// these and nothing else).
///
/// The enum is deliberately exhaustive: the four levels are the options the policy offers,
/// and a new one would change what every existing level means, so it should break matches.
///
/// ```
/// use steward_core::{ClauseId, CustomerId, TrainingLevel, TrainingScope};
///
/// let alice: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a10".parse()?;
/// let bob: CustomerId = "0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a11".parse()?;
/// let level: TrainingLevel = "shared".parse()?;
///
/// assert!(level.permits(TrainingScope::Shared, alice));
/// assert!(level.permits(TrainingScope::Private { owner: alice }, alice));
/// assert!(!level.permits(TrainingScope::Private { owner: bob }, alice));
/// assert!(!level.permits(TrainingScope::OpenWeight, alice));
/// assert_eq!(TrainingLevel::default(), TrainingLevel::None);
/// assert_eq!(TrainingLevel::None.clause(), ClauseId::TrainingDefaultOff);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`FromStr`]: std::str::FromStr
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TrainingLevel {
    /// No training at all: the default (`training.default-off`).
    #[default]
    None,
    /// The customer's own private models only (`training.private`).
    Private,
    /// Also models that benefit all customers (`training.shared`).
    Shared,
    /// Also public open-weight models (`training.open-weight`).
    OpenWeight,
}

crate::string_forms!(
    TrainingLevel,
    CoreError,
    |other: &str| CoreError::unknown(Vocabulary::TrainingLevel, other),
    {
        None => "none",
        Private => "private",
        Shared => "shared",
        OpenWeight => "open-weight",
    }
);

impl TrainingLevel {
    /// Whether data owned by `data_owner`, held at this level, may train at `scope`.
    ///
    /// A level permits its own scope and every narrower one. A private scope additionally
    /// requires that the models belong to the data owner: private training never reads
    /// another customer's data, whatever that customer's level (`training.private`).
    /// [`deciding_clause`](Self::deciding_clause) names the clause behind the answer.
    #[must_use]
    pub fn permits(self, scope: TrainingScope, data_owner: CustomerId) -> bool {
        // Exhaustive: the scopes live in this crate too, so a new scope does not compile here
        // until someone decides which level permits it.
        match scope {
            TrainingScope::Private { owner } => owner == data_owner && self >= Self::Private,
            TrainingScope::Shared => self >= Self::Shared,
            TrainingScope::OpenWeight => self >= Self::OpenWeight,
        }
    }

    /// The clause that makes this level what it is: `training.default-off` for
    /// [`None`](Self::None), else the opt-in clause of the level.
    #[must_use]
    pub const fn clause(self) -> ClauseId {
        match self {
            Self::None => ClauseId::TrainingDefaultOff,
            Self::Private => ClauseId::TrainingPrivate,
            Self::Shared => ClauseId::TrainingShared,
            Self::OpenWeight => ClauseId::TrainingOpenWeight,
        }
    }

    /// The clause that decides [`permits`](Self::permits) for this scope and data owner.
    ///
    /// - a private scope over another customer's data: `training.private` (refused);
    /// - level [`None`](Self::None): `training.default-off` (refused);
    /// - otherwise the clause of the scope (`training.private`, `training.shared`,
    ///   `training.open-weight`): the opt-in that was given, or that is missing.
    #[must_use]
    pub fn deciding_clause(self, scope: TrainingScope, data_owner: CustomerId) -> ClauseId {
        match scope {
            TrainingScope::Private { owner } if owner != data_owner => ClauseId::TrainingPrivate,
            _ if self == Self::None => ClauseId::TrainingDefaultOff,
            _ => scope.clause(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(last: u8) -> CustomerId {
        format!("0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b8a{last:02x}")
            .parse()
            .unwrap()
    }

    #[test]
    fn levels_are_ordered_from_none_to_open_weight() {
        assert!(TrainingLevel::None < TrainingLevel::Private);
        assert!(TrainingLevel::Private < TrainingLevel::Shared);
        assert!(TrainingLevel::Shared < TrainingLevel::OpenWeight);
    }

    #[test]
    fn string_forms_round_trip_and_unknown_is_named() {
        for level in TrainingLevel::ALL {
            assert_eq!(level.as_str().parse::<TrainingLevel>(), Ok(*level));
            let json = serde_json::to_string(level).unwrap();
            assert_eq!(
                serde_json::from_str::<TrainingLevel>(&json).unwrap(),
                *level
            );
        }
        let error = "public".parse::<TrainingLevel>().unwrap_err();
        assert_eq!(error.to_string(), "unknown training level `public`");
        let error = serde_json::from_str::<TrainingLevel>("\"Shared\"").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("unknown training level `Shared`")
        );
    }

    #[test]
    fn none_permits_nothing_not_even_own_private_models() {
        let owner = customer(1);
        assert!(!TrainingLevel::None.permits(TrainingScope::Private { owner }, owner));
        assert!(!TrainingLevel::None.permits(TrainingScope::Shared, owner));
        assert!(!TrainingLevel::None.permits(TrainingScope::OpenWeight, owner));
    }

    #[test]
    fn shared_permits_shared_and_own_private_but_not_open_weight() {
        let owner = customer(1);
        let shared = TrainingLevel::Shared;
        assert!(shared.permits(TrainingScope::Shared, owner));
        assert!(shared.permits(TrainingScope::Private { owner }, owner));
        assert!(!shared.permits(TrainingScope::OpenWeight, owner));
        assert!(!TrainingLevel::Private.permits(TrainingScope::Shared, owner));
    }

    #[test]
    fn open_weight_permits_every_scope_over_own_data() {
        let owner = customer(1);
        for scope in [
            TrainingScope::Private { owner },
            TrainingScope::Shared,
            TrainingScope::OpenWeight,
        ] {
            assert!(TrainingLevel::OpenWeight.permits(scope, owner), "{scope}");
        }
    }

    #[test]
    fn open_weight_never_permits_another_customers_private_models() {
        let (alice, bob) = (customer(1), customer(2));
        let scope = TrainingScope::Private { owner: bob };
        assert!(!TrainingLevel::OpenWeight.permits(scope, alice));
        assert_eq!(
            TrainingLevel::OpenWeight.deciding_clause(scope, alice),
            ClauseId::TrainingPrivate
        );
    }

    #[test]
    fn deciding_clause_names_default_off_for_none_and_the_scope_otherwise() {
        let owner = customer(1);
        assert_eq!(
            TrainingLevel::None.deciding_clause(TrainingScope::Shared, owner),
            ClauseId::TrainingDefaultOff
        );
        assert_eq!(
            TrainingLevel::Private.deciding_clause(TrainingScope::Shared, owner),
            ClauseId::TrainingShared
        );
        assert_eq!(
            TrainingLevel::OpenWeight.deciding_clause(TrainingScope::OpenWeight, owner),
            ClauseId::TrainingOpenWeight
        );
    }
}
