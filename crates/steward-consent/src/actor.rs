//! Who changed a preference, and through which channel.

use std::{fmt, str::FromStr};

use steward_core::AdminId;

use crate::{ConsentError, error::quote};

/// Who made a preference change: the customer, or an admin acting for them.
///
/// String form: `customer` or `admin:<admin id>`.
///
/// ```
/// use steward_consent::Actor;
///
/// let actor: Actor = "admin:dana.support".parse()?;
/// assert_eq!(actor.to_string(), "admin:dana.support");
/// assert_eq!("customer".parse::<Actor>()?, Actor::Customer);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Actor {
    /// The customer changed their own preference.
    Customer,
    /// An admin recorded the change on the customer's behalf.
    Admin(AdminId),
}

impl Actor {
    /// The admin, if an admin made the change.
    #[must_use]
    pub const fn admin(&self) -> Option<&AdminId> {
        match self {
            Self::Customer => None,
            Self::Admin(admin) => Some(admin),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Customer => f.write_str("customer"),
            Self::Admin(admin) => write!(f, "admin:{admin}"),
        }
    }
}

impl FromStr for Actor {
    type Err = ConsentError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "customer" {
            return Ok(Self::Customer);
        }
        match text.strip_prefix("admin:") {
            Some(admin) => Ok(Self::Admin(admin.parse()?)),
            None => Err(ConsentError::UnknownActor { value: quote(text) }),
        }
    }
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

steward_core::serde_via_string!(Actor);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_string_forms_round_trip() {
        for text in ["customer", "admin:dana.support", "admin:x@example.com"] {
            let actor: Actor = text.parse().unwrap();
            assert_eq!(actor.to_string(), text);
            let json = serde_json::to_string(&actor).unwrap();
            assert_eq!(serde_json::from_str::<Actor>(&json).unwrap(), actor);
        }
    }

    #[test]
    fn malformed_actor_names_the_problem() {
        let error = "robot".parse::<Actor>().unwrap_err();
        assert_eq!(error.to_string(), "unknown actor `robot`");
        let error = "admin:".parse::<Actor>().unwrap_err();
        assert_eq!(error.to_string(), "invalid admin id ``: empty");
        assert!(serde_json::from_str::<Actor>("\"admin:a b\"").is_err());
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
