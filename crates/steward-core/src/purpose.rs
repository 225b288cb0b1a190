//! Why data is touched: the purposes the policy allows, and the ones it names only to refuse.

use crate::{ClauseId, vocabulary::string_enum};

string_enum! {
    /// A purpose for which data may be used.
    ///
    /// The seven service purposes of `use.purposes`, the four log purposes of `logs.purposes`,
    /// model training, and a few purposes the policy never allows, named so that a request
    /// for them can be refused with a reason instead of failing to parse.
    ///
    /// ```
    /// use steward_core::{Purpose, PurposeGroup};
    ///
    /// let purpose: Purpose = "troubleshooting".parse()?;
    /// assert_eq!(purpose.group(), PurposeGroup::Logs);
    /// assert_eq!(purpose.fideslang_key(), "essential.service.operations");
    /// assert!("marketing".parse::<Purpose>()?.group() == PurposeGroup::Prohibited);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub enum Purpose in Purpose {
        /// `use.purposes`: to provide and maintain the service.
        ProvideService => "provide-service",
        /// `use.purposes`: to notify the user about changes to the service.
        NotifyChanges => "notify-changes",
        /// `use.purposes`: interactive features the user chooses to take part in.
        InteractiveFeatures => "interactive-features",
        /// `use.purposes`: customer care and support.
        CustomerCare => "customer-care",
        /// `use.purposes`: analysis or valuable information to improve the service.
        ServiceAnalysis => "service-analysis",
        /// `use.purposes`: monitoring the usage of the service.
        UsageMonitoring => "usage-monitoring",
        /// `use.purposes`: detecting, preventing and addressing technical issues.
        TechnicalIssues => "technical-issues",
        /// `logs.purposes`: troubleshooting technical issues.
        Troubleshooting => "troubleshooting",
        /// `logs.purposes`: providing customer support.
        CustomerSupport => "customer-support",
        /// `logs.purposes`: improving service reliability and performance.
        Reliability => "reliability",
        /// `logs.purposes`: detecting and preventing misuse of the service.
        MisusePrevention => "misuse-prevention",
        /// `training.*`: training a model, allowed only as the customer's consent level permits.
        ModelTraining => "model-training",
        /// Never allowed: marketing to the user.
        Marketing => "marketing",
        /// Never allowed: advertising, first or third party.
        Advertising => "advertising",
        /// Never allowed: selling or renting data to third parties.
        SaleOfData => "sale-of-data",
    }
}

/// The family a [`Purpose`] belongs to, which decides who may act for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PurposeGroup {
    /// One of the seven `use.purposes`: company services and staff using personal and usage data.
    Service,
    /// One of the four `logs.purposes`: roster stewards opening log records.
    Logs,
    /// Model training, governed by the `training.*` clauses.
    Training,
    /// A purpose outside every list of the policy: always refused.
    Prohibited,
}

impl Purpose {
    /// The family of this purpose.
    #[must_use]
    pub const fn group(self) -> PurposeGroup {
        match self {
            Self::ProvideService
            | Self::NotifyChanges
            | Self::InteractiveFeatures
            | Self::CustomerCare
            | Self::ServiceAnalysis
            | Self::UsageMonitoring
            | Self::TechnicalIssues => PurposeGroup::Service,
            Self::Troubleshooting
            | Self::CustomerSupport
            | Self::Reliability
            | Self::MisusePrevention => PurposeGroup::Logs,
            Self::ModelTraining => PurposeGroup::Training,
            Self::Marketing | Self::Advertising | Self::SaleOfData => PurposeGroup::Prohibited,
        }
    }

    /// The policy clause that lists (or, for prohibited purposes, omits) this purpose.
    #[must_use]
    pub const fn clause(self) -> ClauseId {
        match self.group() {
            PurposeGroup::Service | PurposeGroup::Prohibited => ClauseId::UsePurposes,
            PurposeGroup::Logs => ClauseId::LogsPurposes,
            PurposeGroup::Training => ClauseId::TrainingDefaultOff,
        }
    }

    /// The matching data use of the fideslang taxonomy (version 2), for export to privacy
    /// tooling. Training uses Steward's own child of `train_ai_system`; the scope-specific
    /// keys are on [`crate::TrainingScope::fideslang_key`].
    #[must_use]
    pub const fn fideslang_key(self) -> &'static str {
        match self {
            Self::ProvideService => "essential.service",
            Self::NotifyChanges => "essential.service.notifications",
            Self::InteractiveFeatures => "functional.service",
            Self::CustomerCare => "essential.service.operations.support",
            Self::ServiceAnalysis => "functional.service.improve",
            Self::UsageMonitoring => "analytics.reporting.system",
            Self::TechnicalIssues => "essential.service.security",
            Self::Troubleshooting => "essential.service.operations",
            Self::CustomerSupport => "essential.service.operations.support",
            Self::Reliability => "essential.service.operations.improve",
            Self::MisusePrevention => "essential.fraud_detection",
            Self::ModelTraining => "train_ai_system",
            Self::Marketing => "marketing.communications",
            Self::Advertising => "marketing.advertising",
            Self::SaleOfData => "third_party_sharing.data_selling",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_lists_seven_service_and_four_log_purposes() {
        let count = |group| Purpose::ALL.iter().filter(|p| p.group() == group).count();
        assert_eq!(count(PurposeGroup::Service), 7);
        assert_eq!(count(PurposeGroup::Logs), 4);
        assert_eq!(count(PurposeGroup::Training), 1);
    }

    #[test]
    fn prohibited_purposes_cite_use_purposes() {
        for purpose in [
            Purpose::Marketing,
            Purpose::Advertising,
            Purpose::SaleOfData,
        ] {
            assert_eq!(purpose.group(), PurposeGroup::Prohibited);
            assert_eq!(purpose.clause(), ClauseId::UsePurposes);
        }
    }

    #[test]
    fn unknown_purpose_is_rejected_with_its_name() {
        let error = "resale".parse::<Purpose>().unwrap_err();
        assert_eq!(error.to_string(), "unknown purpose `resale`");
    }
}
