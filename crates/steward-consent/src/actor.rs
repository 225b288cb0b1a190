//! Who changed a preference, and through which channel.

use std::{fmt, str::FromStr};

use steward_core::{AdminId, Justification};

use crate::{ConsentError, error::quote};

/// Who made a preference change: the customer, or an admin acting for them on a stated basis.
///
/// An admin changes someone else's preference, so the receipt must say why (a support
/// ticket, a written request): an admin actor cannot be built without a [`Justification`],
/// which is never blank or invisible.
///
/// String form: `customer` or `admin:<admin id>:<basis>`. The admin id holds no `:`, so the
/// basis is everything after the second colon and may contain colons itself.
///
/// ```
/// use steward_consent::ConsentActor;
///
/// let actor = ConsentActor::Admin {
///     admin: "dana.support".parse()?,
///     basis: "TICKET-88: customer asked by phone".parse()?,
/// };
/// assert_eq!(actor.to_string(), "admin:dana.support:TICKET-88: customer asked by phone");
/// assert_eq!(actor.to_string().parse::<ConsentActor>()?, actor);
/// assert_eq!("customer".parse::<ConsentActor>()?, ConsentActor::Customer);
///
/// // No basis, no admin change.
/// assert!("admin:dana.support".parse::<ConsentActor>().is_err());
/// assert!("admin:dana.support:\u{200B}".parse::<ConsentActor>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConsentActor {
    /// The customer changed their own preference.
    Customer,
    /// An admin recorded the change on the customer's behalf.
    Admin {
        /// Who recorded the change.
        admin: AdminId,
        /// Why: the customer's request it carries out, such as a support ticket.
        basis: Justification,
    },
}

impl ConsentActor {
    /// The admin, if an admin made the change.
    #[must_use]
    pub const fn admin(&self) -> Option<&AdminId> {
        match self {
            Self::Customer => None,
            Self::Admin { admin, .. } => Some(admin),
        }
    }

    /// The stated basis, if an admin made the change.
    #[must_use]
    pub const fn basis(&self) -> Option<&Justification> {
        match self {
            Self::Customer => None,
            Self::Admin { basis, .. } => Some(basis),
        }
    }
}

impl fmt::Display for ConsentActor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Customer => f.write_str("customer"),
            Self::Admin { admin, basis } => write_admin(f, admin, basis),
        }
    }
}

impl FromStr for ConsentActor {
    type Err = ConsentError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "customer" {
            return Ok(Self::Customer);
        }
        let Some(rest) = text.strip_prefix("admin:") else {
            return Err(ConsentError::UnknownActor { value: quote(text) });
        };
        let Some((admin, basis)) = rest.split_once(':') else {
            // Parse the id first, so that a malformed one is named as such.
            let admin: AdminId = rest.parse().map_err(ConsentError::InvalidAdminId)?;
            return Err(ConsentError::MissingBasis {
                admin: quote(admin.as_str()),
            });
        };
        Ok(Self::Admin {
            admin: admin.parse().map_err(ConsentError::InvalidAdminId)?,
            basis: basis.parse().map_err(ConsentError::InvalidBasis)?,
        })
    }
}

/// Writes the string form of an admin actor; the ledger export writes it from its tables.
pub(crate) fn write_admin(
    f: &mut fmt::Formatter<'_>,
    admin: &AdminId,
    basis: &Justification,
) -> fmt::Result {
    write!(f, "admin:{admin}:{basis}")
}

/// Through which channel a preference change reached the company.
///
/// String forms: `account-settings`, `api`, `support-request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum Channel {
    /// The account settings page of the website or desktop application.
    AccountSettings,
    /// The public API, called by the customer's own tooling.
    Api,
    /// A support request, carried out by an admin.
    SupportRequest,
}

steward_core::string_forms!(
    Channel,
    crate::ConsentError,
    |other: &str| crate::ConsentError::UnknownChannel {
        value: crate::error::quote(other),
    },
    {
        AccountSettings => "account-settings",
        Api => "api",
        SupportRequest => "support-request",
    }
);

steward_core::serde_via_string!(ConsentActor);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_string_forms_round_trip() {
        for text in [
            "customer",
            "admin:dana.support:TICKET-1",
            "admin:x@example.com:written request of 2025-06-01: opt out",
            "admin:dana:工单 42",
        ] {
            let actor: ConsentActor = text.parse().unwrap();
            assert_eq!(actor.to_string(), text);
            let json = serde_json::to_string(&actor).unwrap();
            assert_eq!(serde_json::from_str::<ConsentActor>(&json).unwrap(), actor);
        }
    }

    #[test]
    fn the_basis_is_everything_after_the_admin_id() {
        let actor: ConsentActor = "admin:dana:re: TICKET-7".parse().unwrap();
        assert_eq!(actor.admin().map(AdminId::as_str), Some("dana"));
        assert_eq!(
            actor.basis().map(Justification::as_str),
            Some("re: TICKET-7")
        );
        assert_eq!(ConsentActor::Customer.basis(), None);
    }

    #[test]
    fn malformed_actor_names_the_problem() {
        let error = "robot".parse::<ConsentActor>().unwrap_err();
        assert_eq!(error.to_string(), "unknown actor `robot`");
        let error = "admin:".parse::<ConsentActor>().unwrap_err();
        assert_eq!(error.to_string(), "invalid admin id ``: empty");
        let error = "admin::TICKET-1".parse::<ConsentActor>().unwrap_err();
        assert_eq!(error.to_string(), "invalid admin id ``: empty");
        assert!(serde_json::from_str::<ConsentActor>("\"admin:a b:TICKET-1\"").is_err());
    }

    #[test]
    fn an_admin_without_a_basis_is_refused() {
        let error = "admin:dana.support".parse::<ConsentActor>().unwrap_err();
        assert_eq!(
            error,
            ConsentError::MissingBasis {
                admin: "dana.support".to_owned()
            }
        );
        assert_eq!(
            error.to_string(),
            "admin change by `dana.support` states no basis: write `admin:<admin id>:<basis>`"
        );
        assert!(serde_json::from_str::<ConsentActor>("\"admin:dana\"").is_err());
    }

    #[test]
    fn a_blank_or_invisible_basis_is_refused() {
        for text in [
            "admin:dana:",
            "admin:dana:   ",
            "admin:dana:\u{200B}\u{FEFF}",
            "admin:dana:\u{3164}",
        ] {
            let error = text.parse::<ConsentActor>().unwrap_err();
            assert!(matches!(error, ConsentError::InvalidBasis(_)), "{text:?}");
            assert!(error.to_string().contains("blank"), "{error}");
        }
    }

    #[test]
    fn unknown_channel_is_named() {
        let error = "carrier-pigeon".parse::<Channel>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown consent channel `carrier-pigeon`"
        );
    }

    #[test]
    fn overlong_admin_id_is_rejected() {
        let long = "a".repeat(AdminId::MAX_LEN + 1);
        assert!(long.parse::<AdminId>().is_err());
        assert!(long[..AdminId::MAX_LEN].parse::<AdminId>().is_ok());
    }
}
