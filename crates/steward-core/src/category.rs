//! What data is touched: the categories the policy says are collected.

use crate::{ClauseId, vocabulary::string_enum};

string_enum! {
    /// A category of data the service holds about a customer.
    ///
    /// ```
    /// use steward_core::{ClauseId, DataCategory};
    ///
    /// let category: DataCategory = "ip-address".parse()?;
    /// assert_eq!(category.clause(), ClauseId::CollectUsage);
    /// assert_eq!(category.fideslang_key(), "user.device.ip_address");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub enum DataCategory in DataCategory {
        /// `collect.personal`: email address.
        Email => "email",
        /// `collect.personal`: first and last name.
        Name => "name",
        /// `collect.usage`: Internet Protocol address.
        IpAddress => "ip-address",
        /// `collect.usage`: browser type.
        BrowserType => "browser-type",
        /// `collect.usage`: browser version.
        BrowserVersion => "browser-version",
        /// `collect.usage`: pages of the service visited.
        PagesVisited => "pages-visited",
        /// `collect.usage`: time and date of a visit.
        VisitTime => "visit-time",
        /// `collect.usage`: time spent on pages.
        TimeOnPages => "time-on-pages",
        /// `collect.usage`: unique device identifiers.
        DeviceId => "device-id",
        /// `collect.usage`: other diagnostic data.
        Diagnostics => "diagnostics",
        /// `logs.stored`: a logged LLM request that passed the proxy.
        LlmRequestLog => "llm-request-log",
        /// `policy.versioned`: a record of a consent change, kept to demonstrate consent.
        ConsentRecord => "consent-record",
    }
}

impl DataCategory {
    /// The clause under which the policy collects or keeps this category.
    #[must_use]
    pub const fn clause(self) -> ClauseId {
        match self {
            Self::Email | Self::Name => ClauseId::CollectPersonal,
            Self::IpAddress
            | Self::BrowserType
            | Self::BrowserVersion
            | Self::PagesVisited
            | Self::VisitTime
            | Self::TimeOnPages
            | Self::DeviceId
            | Self::Diagnostics => ClauseId::CollectUsage,
            Self::LlmRequestLog => ClauseId::LogsStored,
            Self::ConsentRecord => ClauseId::PolicyVersioned,
        }
    }

    /// The matching data category of the fideslang taxonomy (version 2).
    #[must_use]
    pub const fn fideslang_key(self) -> &'static str {
        match self {
            Self::Email => "user.contact.email",
            Self::Name => "user.name",
            Self::IpAddress => "user.device.ip_address",
            Self::BrowserType | Self::BrowserVersion => "user.device",
            Self::PagesVisited => "user.behavior.browsing_history",
            Self::VisitTime | Self::TimeOnPages => "user.behavior",
            Self::DeviceId => "user.device.device_id",
            Self::Diagnostics => "system.operations",
            Self::LlmRequestLog => "user.content",
            Self::ConsentRecord => "user.privacy_preferences",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_cites_a_collection_clause() {
        for category in DataCategory::ALL {
            assert!(matches!(
                category.clause(),
                ClauseId::CollectPersonal
                    | ClauseId::CollectUsage
                    | ClauseId::LogsStored
                    | ClauseId::PolicyVersioned
            ));
        }
    }

    #[test]
    fn unknown_category_is_rejected_with_its_name() {
        let error = "shoe-size".parse::<DataCategory>().unwrap_err();
        assert_eq!(error.to_string(), "unknown data category `shoe-size`");
    }
}
