//! The clauses of the privacy policy, each with a stable id that code, docs and tests cite.

use crate::vocabulary::string_enum;

string_enum! {
    /// One promise of the privacy policy (docs/design.md section 1).
    ///
    /// Every decision Steward makes names the clause that decided it and those that support
    /// it, and `docs/policy-map.md` maps each clause to the API that enforces it and the test
    /// that proves it.
    ///
    /// ```
    /// use steward_core::ClauseId;
    ///
    /// let clause: ClauseId = "training.forward-only".parse()?;
    /// assert_eq!(clause, ClauseId::TrainingForwardOnly);
    /// assert!(clause.promise().contains("collected after"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub enum ClauseId in ClauseId {
        /// `collect.personal`: the personal data collected.
        CollectPersonal => "collect.personal",
        /// `collect.usage`: the usage data collected.
        CollectUsage => "collect.usage",
        /// `use.purposes`: the only purposes personal and usage data serve.
        UsePurposes => "use.purposes",
        /// `logs.stored`: every LLM request through the proxy is logged.
        LogsStored => "logs.stored",
        /// `logs.retention`: logs are kept only while the customer relationship lasts.
        LogsRetention => "logs.retention",
        /// `logs.purposes`: the only purposes logs serve.
        LogsPurposes => "logs.purposes",
        /// `logs.encrypted`: logs are encrypted at rest.
        LogsEncrypted => "logs.encrypted",
        /// `logs.access`: only a select few data stewards decrypt logs, and only when necessary.
        LogsAccess => "logs.access",
        /// `training.default-off`: by default no data trains any model.
        TrainingDefaultOff => "training.default-off",
        /// `training.private`: opt-in training of the customer's own private models only.
        TrainingPrivate => "training.private",
        /// `training.shared`: opt-in training of models that benefit all customers.
        TrainingShared => "training.shared",
        /// `training.open-weight`: opt-in contribution to public open-weight models.
        TrainingOpenWeight => "training.open-weight",
        /// `training.forward-only`: a preference change applies only to later data.
        TrainingForwardOnly => "training.forward-only",
        /// `policy.versioned`: the policy has a version; consent records name it.
        PolicyVersioned => "policy.versioned",
        /// `law.access`: the data subject's right of access and portability (GDPR Art. 15,
        /// 20), a legal obligation above the policy, never a log purpose.
        LawAccess => "law.access",
        /// `law.erasure`: the data subject's right to erasure (GDPR Art. 17), a legal
        /// obligation above the policy.
        LawErasure => "law.erasure",
    }
}

impl ClauseId {
    /// The promise of the clause in one line, paraphrasing the policy text.
    #[must_use]
    pub const fn promise(self) -> &'static str {
        match self {
            Self::CollectPersonal => {
                "personal data collected: email address, first and last name, usage data"
            }
            Self::CollectUsage => {
                "usage data: IP address, browser type and version, pages visited, time and date \
                 of visit, time on pages, device identifiers, diagnostics"
            }
            Self::UsePurposes => {
                "personal and usage data serve only: provide and maintain the service; notify of \
                 changes; interactive features the user opts into; customer care and support; \
                 analysis to improve the service; monitor usage; detect, prevent and address \
                 technical issues"
            }
            Self::LogsStored => "every LLM request that passes the proxy is logged",
            Self::LogsRetention => "logs are kept only while the customer relationship lasts",
            Self::LogsPurposes => {
                "logs serve only: troubleshooting; customer support; reliability and performance; \
                 detecting and preventing misuse"
            }
            Self::LogsEncrypted => "logs are encrypted at rest",
            Self::LogsAccess => {
                "only a select few data stewards can decrypt logs, and only when necessary for a \
                 logs.purposes purpose"
            }
            Self::TrainingDefaultOff => "by default no data trains any model",
            Self::TrainingPrivate => {
                "opt-in: the customer's data may train only that customer's own private models"
            }
            Self::TrainingShared => "opt-in: the data may train models that benefit all customers",
            Self::TrainingOpenWeight => {
                "opt-in: the data may contribute to public open-weight models"
            }
            Self::TrainingForwardOnly => {
                "a change of preference applies only to data collected after it; data keeps the \
                 preference that was in force when it was collected"
            }
            Self::PolicyVersioned => {
                "the policy has a version and date; consent records name the version in force"
            }
            Self::LawAccess => {
                "the law above the policy: a data subject gets a copy of their data, in a \
                 machine-readable form, on a verified request (GDPR Art. 15, 20)"
            }
            Self::LawErasure => {
                "the law above the policy: a data subject's data is erased on a verified request, \
                 unless a legal hold stands (GDPR Art. 17)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clause_round_trips_through_its_string_form() {
        for clause in ClauseId::ALL {
            assert_eq!(clause.as_str().parse::<ClauseId>(), Ok(*clause));
            assert!(!clause.promise().is_empty());
        }
        assert_eq!(ClauseId::ALL.len(), 16);
    }

    #[test]
    fn unknown_clause_names_the_value() {
        let error = "logs.forever".parse::<ClauseId>().unwrap_err();
        assert_eq!(error.to_string(), "unknown clause id `logs.forever`");
    }
}
