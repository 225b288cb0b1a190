//! Records of processing activities (GDPR Art. 30), generated from the policy and the store.

use std::fmt::Write as _;

use serde::Serialize;
use steward_core::{ClauseId, DataCategory, PolicyVersion, Purpose, PurposeGroup, StewardId};
use steward_logs::{Algorithm, SecretRedaction};
use steward_retention::{Anchor, DeletionMethod};

use crate::Policy;

/// The version of the JSON schema of [`Ropa`]; it grows when a field changes meaning or goes
/// away (a new field does not change it).
pub const ROPA_SCHEMA_VERSION: u32 = 1;

/// Whether the records name the stewards on the roster, or give only their number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StewardNames {
    /// Only the roster's size (the default: the records are often shared).
    #[default]
    Withheld,
    /// The stewards' ids too.
    Shown,
}

/// What the store knows that the records of processing report: the roster, the customers'
/// relationships, the audit chain and how records are sealed.
///
/// ```
/// use steward::ProcessingFacts;
///
/// let facts = ProcessingFacts::new(vec!["sam.steward".parse()?])
///     .with_relationships(12, 3)
///     .with_audit(40, Some(38));
/// assert_eq!(facts.stewards().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessingFacts {
    stewards: Vec<StewardId>,
    active_relationships: u64,
    ended_relationships: u64,
    audit_entries: u64,
    checkpoint_entries: Option<u64>,
    algorithm: Algorithm,
    redaction: SecretRedaction,
}

impl ProcessingFacts {
    /// Facts with this roster, no relationships, an empty audit chain, and the default
    /// sealing (AES-256-GCM, secrets redacted).
    #[must_use]
    pub fn new(stewards: Vec<StewardId>) -> Self {
        Self {
            stewards,
            active_relationships: 0,
            ended_relationships: 0,
            audit_entries: 0,
            checkpoint_entries: None,
            algorithm: Algorithm::default(),
            redaction: SecretRedaction::default(),
        }
    }

    /// How many customers have a relationship in force (or scheduled), and how many only
    /// ended ones.
    #[must_use]
    pub const fn with_relationships(mut self, active: u64, ended: u64) -> Self {
        self.active_relationships = active;
        self.ended_relationships = ended;
        self
    }

    /// How many entries the verified audit chain holds, and how many the newest signed
    /// checkpoint covers (`None`: no checkpoint yet).
    #[must_use]
    pub const fn with_audit(mut self, entries: u64, checkpoint: Option<u64>) -> Self {
        self.audit_entries = entries;
        self.checkpoint_entries = checkpoint;
        self
    }

    /// The AEAD records are sealed with, and whether secrets are redacted before sealing.
    #[must_use]
    pub const fn with_sealing(mut self, algorithm: Algorithm, redaction: SecretRedaction) -> Self {
        self.algorithm = algorithm;
        self.redaction = redaction;
        self
    }

    /// The stewards on the roster.
    #[must_use]
    pub fn stewards(&self) -> &[StewardId] {
        &self.stewards
    }
}

/// The records of processing activities (GDPR Art. 30(1)) of one policy on one store: the
/// categories of data and of data subjects, the purposes with their clause ids, who may
/// access what (roles and their number; names only if asked), retention per category and the
/// security measures (Art. 32) in place. Render it with [`to_markdown`](Self::to_markdown),
/// or serialize it (JSON) with serde.
///
/// The JSON schema, version [`ROPA_SCHEMA_VERSION`]:
///
/// ```text
/// {
///   "schema_version": 1,
///   "policy": { "version": "2025-03-05", "published": "2025-03-05" },
///   "data_subjects": [ { "category": "customers", "description": "...",
///                        "active_relationships": 12, "ended_relationships": 3 } ],
///   "data_categories": [ { "category": "email", "clause": "collect.personal",
///                          "fideslang": "user.contact.email",
///                          "purposes": ["service-provision", ...],
///                          "retention": { "anchor": "relationship-end",
///                                         "maximum": "PT0S", "minimum": null,
///                                         "deletion_window": "P30D",
///                                         "method": "delete", "clause": "use.purposes" } } ],
///   "purposes": [ { "purpose": "troubleshooting", "clause": "logs.purposes",
///                   "categories": ["llm-request-log"] } ],
///   "access": [ { "role": "data-steward", "clause": "logs.access",
///                 "purposes": [...], "count": 1, "limit": 3, "names": null } ],
///   "security": [ { "measure": "encryption-at-rest", "clause": "logs.encrypted",
///                   "description": "..." } ]
/// }
/// ```
///
/// `count` and `limit` are `null` where the store does not know them; `names` is `null`
/// unless [`StewardNames::Shown`]. Purposes the policy never allows (marketing, advertising,
/// sale of data) appear nowhere.
///
/// ```
/// use steward::{Policy, ProcessingFacts, Ropa, StewardNames};
///
/// let policy = Policy::coder_model();
/// let facts = ProcessingFacts::new(vec!["sam.steward".parse()?]).with_relationships(2, 1);
/// let ropa = Ropa::new(&policy, &facts, StewardNames::Withheld);
/// let markdown = ropa.to_markdown();
/// assert!(markdown.contains("Records of processing activities"));
/// assert!(!markdown.contains("sam.steward"));
/// let json = serde_json::to_value(&ropa)?;
/// assert_eq!(json["schema_version"], 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ropa {
    schema_version: u32,
    policy: PolicyRef,
    data_subjects: Vec<SubjectCategory>,
    data_categories: Vec<CategoryRecord>,
    purposes: Vec<PurposeRecord>,
    access: Vec<AccessRole>,
    security: Vec<SecurityMeasure>,
}

/// The policy the records describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRef {
    /// Its version (`policy.versioned`).
    pub version: PolicyVersion,
    /// Its publication date.
    pub published: String,
}

/// A category of data subjects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectCategory {
    /// Its name.
    pub category: &'static str,
    /// Who they are.
    pub description: &'static str,
    /// Subjects with a relationship in force or scheduled.
    pub active_relationships: u64,
    /// Subjects whose relationships have all ended.
    pub ended_relationships: u64,
}

/// One category of personal data: why it is collected, what it serves, how long it is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryRecord {
    /// The category.
    pub category: DataCategory,
    /// The clause it is collected or kept under.
    pub clause: ClauseId,
    /// Its fideslang key.
    pub fideslang: &'static str,
    /// The purposes the policy lets it serve.
    pub purposes: Vec<Purpose>,
    /// Its retention rule, if the policy has one for it.
    pub retention: Option<RetentionRecord>,
}

/// A retention rule, as the records state it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionRecord {
    /// The event the periods count from.
    pub anchor: Anchor,
    /// Due at `anchor + maximum` (ISO 8601 duration).
    pub maximum: String,
    /// Kept at least `anchor + minimum`, if set (ISO 8601 duration).
    pub minimum: Option<String>,
    /// The deletion is complete before `anchor + maximum + window` (ISO 8601 duration).
    pub deletion_window: String,
    /// Deletion, or crypto-shredding.
    pub method: DeletionMethod,
    /// The clause the rule enforces.
    pub clause: ClauseId,
}

/// A purpose of processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurposeRecord {
    /// The purpose.
    pub purpose: Purpose,
    /// The clause that lists it.
    pub clause: ClauseId,
    /// The categories of data it may use.
    pub categories: Vec<DataCategory>,
}

/// Who may access data, in what role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRole {
    /// The role.
    pub role: &'static str,
    /// The clause that sets who holds it.
    pub clause: ClauseId,
    /// What the role does, and under which condition.
    pub description: &'static str,
    /// The purposes it may act for.
    pub purposes: Vec<Purpose>,
    /// How many hold it, where the store knows.
    pub count: Option<u64>,
    /// The most who may hold it, where the policy sets a limit.
    pub limit: Option<u64>,
    /// Who holds it, only if asked ([`StewardNames::Shown`]).
    pub names: Option<Vec<StewardId>>,
}

/// A technical or organisational security measure (Art. 32).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityMeasure {
    /// A short name.
    pub measure: &'static str,
    /// The clause it serves.
    pub clause: ClauseId,
    /// What is in place.
    pub description: String,
}

impl Ropa {
    /// The records of `policy` on a store with `facts`; stewards named only with
    /// [`StewardNames::Shown`].
    #[must_use]
    pub fn new(policy: &Policy, facts: &ProcessingFacts, names: StewardNames) -> Self {
        let allowed = |category: DataCategory| -> Vec<Purpose> {
            Purpose::ALL
                .iter()
                .copied()
                .filter(|purpose| policy.allows_purpose(category, *purpose))
                .collect()
        };
        let data_categories = DataCategory::ALL
            .iter()
            .map(|&category| CategoryRecord {
                category,
                clause: category.clause(),
                fideslang: category.fideslang_key(),
                purposes: allowed(category),
                retention: policy
                    .retention()
                    .rule(category)
                    .ok()
                    .map(|rule| RetentionRecord {
                        anchor: rule.anchor(),
                        maximum: rule.maximum().to_string(),
                        minimum: rule.minimum().map(|minimum| minimum.to_string()),
                        deletion_window: rule.window().period().to_string(),
                        method: rule.method(),
                        clause: rule.clause(),
                    }),
            })
            .collect();
        let purposes = Purpose::ALL
            .iter()
            .filter_map(|&purpose| {
                let categories: Vec<DataCategory> = DataCategory::ALL
                    .iter()
                    .copied()
                    .filter(|category| policy.allows_purpose(*category, purpose))
                    .collect();
                (!categories.is_empty()).then(|| PurposeRecord {
                    purpose,
                    clause: purpose.clause(),
                    categories,
                })
            })
            .collect();
        let in_group = |group: PurposeGroup| -> Vec<Purpose> {
            Purpose::ALL
                .iter()
                .copied()
                .filter(|purpose| {
                    purpose.group() == group
                        && DataCategory::ALL
                            .iter()
                            .any(|category| policy.allows_purpose(*category, *purpose))
                })
                .collect()
        };
        let stewards = u64::try_from(facts.stewards.len()).unwrap_or(u64::MAX);
        let limit = u64::try_from(policy.max_stewards().get()).unwrap_or(u64::MAX);
        let access = vec![
            AccessRole {
                role: "data-steward",
                clause: ClauseId::LogsAccess,
                description: "opens LLM request logs, one record at a time, only for a log \
                              purpose, with a justification, audited before any plaintext is \
                              shown; never once the customer's relationship has ended",
                purposes: in_group(PurposeGroup::Logs),
                count: Some(stewards),
                limit: Some(limit),
                names: match names {
                    StewardNames::Shown => Some(facts.stewards.clone()),
                    StewardNames::Withheld => None,
                },
            },
            AccessRole {
                role: "company-services-and-staff",
                clause: ClauseId::UsePurposes,
                description: "use personal and usage data for the listed purposes only; never \
                              log records",
                purposes: in_group(PurposeGroup::Service),
                count: None,
                limit: None,
                names: None,
            },
            AccessRole {
                role: "training-pipeline",
                clause: ClauseId::TrainingDefaultOff,
                description: "receives log records only where the customer opted in to the \
                              scope, secrets always redacted",
                purposes: in_group(PurposeGroup::Training),
                count: None,
                limit: None,
                names: None,
            },
        ];
        let checkpoint = match facts.checkpoint_entries {
            Some(entries) => format!(
                "Ed25519-signed checkpoints of both chains' heads, to keep outside the store; \
                 the newest covers {entries} audit entries"
            ),
            None => "Ed25519-signed checkpoints of both chains' heads are supported; none is \
                     stored yet (`steward audit checkpoint`)"
                .to_owned(),
        };
        let security = vec![
            SecurityMeasure {
                measure: "encryption-at-rest",
                clause: ClauseId::LogsEncrypted,
                description: format!(
                    "every log record sealed with {} under a per-customer data key, the \
                     authenticated header binding it to its customer, with a key commitment",
                    facts.algorithm.as_str()
                ),
            },
            SecurityMeasure {
                measure: "key-custody",
                clause: ClauseId::LogsRetention,
                description: "envelope encryption: a master key outside the database wraps one \
                              random data key per customer and version; stewards never hold \
                              key material; a customer's keys are destroyed when their data is \
                              due (crypto-shredding), which makes every copy unreadable"
                    .to_owned(),
            },
            SecurityMeasure {
                measure: "access-gate",
                clause: ClauseId::LogsAccess,
                description: format!(
                    "opening is decided by the policy check (roster of at most {limit} \
                     stewards, log purposes, justification, retention) and audited before \
                     any plaintext exists"
                ),
            },
            SecurityMeasure {
                measure: "audit-chain",
                clause: ClauseId::LogsAccess,
                description: format!(
                    "every access attempt, roster change, key event, shred and export in an \
                     HMAC-SHA256 chain under a key the database does not hold ({} entries); \
                     every fact a decision reads in a second chained log",
                    facts.audit_entries
                ),
            },
            SecurityMeasure {
                measure: "checkpoints",
                clause: ClauseId::LogsAccess,
                description: checkpoint,
            },
            SecurityMeasure {
                measure: "secret-redaction",
                clause: ClauseId::LogsPurposes,
                description: match facts.redaction {
                    SecretRedaction::DangerousKeepSecrets => "secrets in request bodies are \
                         kept as given when sealing (redaction turned off); always redacted \
                         before a training export"
                        .to_owned(),
                    _ => "credentials in request bodies are redacted before sealing, leaving \
                          a marker with the secret's kind and a keyed fingerprint; always \
                          before a training export"
                        .to_owned(),
                },
            },
        ];
        Self {
            schema_version: ROPA_SCHEMA_VERSION,
            policy: PolicyRef {
                version: policy.version().clone(),
                published: policy.published().to_string(),
            },
            data_subjects: vec![SubjectCategory {
                category: "customers",
                description: "the service's customers: account holders whose personal data, \
                              usage data and LLM requests the service processes",
                active_relationships: facts.active_relationships,
                ended_relationships: facts.ended_relationships,
            }],
            data_categories,
            purposes,
            access,
            security,
        }
    }

    /// The categories of data subjects.
    #[must_use]
    pub fn data_subjects(&self) -> &[SubjectCategory] {
        &self.data_subjects
    }

    /// The categories of personal data, with purposes and retention.
    #[must_use]
    pub fn data_categories(&self) -> &[CategoryRecord] {
        &self.data_categories
    }

    /// The purposes, with their clauses and categories.
    #[must_use]
    pub fn purposes(&self) -> &[PurposeRecord] {
        &self.purposes
    }

    /// Who may access what.
    #[must_use]
    pub fn access(&self) -> &[AccessRole] {
        &self.access
    }

    /// The security measures.
    #[must_use]
    pub fn security(&self) -> &[SecurityMeasure] {
        &self.security
    }

    /// The records as a Markdown document.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_markdown(&mut out);
        out
    }

    fn write_markdown(&self, out: &mut String) -> std::fmt::Result {
        let list = |items: &mut dyn Iterator<Item = String>| items.collect::<Vec<_>>().join(", ");
        writeln!(out, "# Records of processing activities (GDPR Art. 30)\n")?;
        writeln!(
            out,
            "Policy version {} of {}; schema version {}.\n",
            self.policy.version, self.policy.published, self.schema_version
        )?;
        writeln!(out, "## Categories of data subjects\n")?;
        for subject in &self.data_subjects {
            writeln!(
                out,
                "- **{}**: {} ({} with a relationship in force, {} whose relationship ended)",
                subject.category,
                subject.description,
                subject.active_relationships,
                subject.ended_relationships
            )?;
        }
        writeln!(out, "\n## Purposes\n")?;
        writeln!(out, "| purpose | clause | categories of data |")?;
        writeln!(out, "|---|---|---|")?;
        for purpose in &self.purposes {
            writeln!(
                out,
                "| {} | `{}` | {} |",
                purpose.purpose,
                purpose.clause,
                list(&mut purpose.categories.iter().map(ToString::to_string))
            )?;
        }
        writeln!(out, "\n## Categories of personal data and retention\n")?;
        writeln!(
            out,
            "| category | clause | purposes | retention | deletion window | method |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|")?;
        for category in &self.data_categories {
            let (retention, window, method) = match &category.retention {
                Some(rule) => (
                    format!(
                        "{} after {}{}",
                        rule.maximum,
                        match rule.anchor {
                            Anchor::CollectedAt => "collection",
                            _ => "the relationship ends",
                        },
                        rule.minimum
                            .as_ref()
                            .map_or_else(String::new, |minimum| format!(", at least {minimum}"))
                    ),
                    rule.deletion_window.clone(),
                    match rule.method {
                        DeletionMethod::CryptoShred => "crypto-shred",
                        _ => "delete",
                    }
                    .to_owned(),
                ),
                None => ("no rule".to_owned(), "-".to_owned(), "-".to_owned()),
            };
            writeln!(
                out,
                "| {} | `{}` | {} | {retention} | {window} | {method} |",
                category.category,
                category.clause,
                list(&mut category.purposes.iter().map(ToString::to_string))
            )?;
        }
        writeln!(out, "\n## Who may access\n")?;
        for role in &self.access {
            let count = match (role.count, role.limit) {
                (Some(count), Some(limit)) => format!(" ({count} of at most {limit})"),
                (Some(count), None) => format!(" ({count})"),
                _ => String::new(),
            };
            writeln!(
                out,
                "- **{}**{count}, `{}`: {}; purposes: {}",
                role.role,
                role.clause,
                role.description,
                list(&mut role.purposes.iter().map(ToString::to_string))
            )?;
            if let Some(names) = &role.names {
                writeln!(
                    out,
                    "  - {}",
                    list(&mut names.iter().map(ToString::to_string))
                )?;
            }
        }
        writeln!(out, "\n## Security measures (Art. 32)\n")?;
        for measure in &self.security {
            writeln!(
                out,
                "- **{}** (`{}`): {}",
                measure.measure, measure.clause, measure.description
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

    use super::*;

    fn facts() -> ProcessingFacts {
        ProcessingFacts::new(vec!["sam.steward".parse().unwrap()])
            .with_relationships(2, 1)
            .with_audit(7, Some(5))
    }

    #[test]
    fn the_records_name_stewards_only_when_asked() {
        let policy = Policy::coder_model();
        let withheld = Ropa::new(&policy, &facts(), StewardNames::Withheld);
        assert_eq!(withheld.access()[0].count, Some(1));
        assert_eq!(withheld.access()[0].limit, Some(3));
        assert_eq!(withheld.access()[0].names, None);
        assert!(!withheld.to_markdown().contains("sam.steward"));
        assert!(
            !serde_json::to_string(&withheld)
                .unwrap()
                .contains("sam.steward")
        );
        let shown = Ropa::new(&policy, &facts(), StewardNames::Shown);
        assert!(shown.to_markdown().contains("sam.steward"));
    }

    #[test]
    fn purposes_carry_their_clause_and_prohibited_ones_appear_nowhere() {
        let ropa = Ropa::new(&Policy::coder_model(), &facts(), StewardNames::Withheld);
        let troubleshooting = ropa
            .purposes()
            .iter()
            .find(|record| record.purpose == Purpose::Troubleshooting)
            .unwrap();
        assert_eq!(troubleshooting.clause, ClauseId::LogsPurposes);
        assert_eq!(troubleshooting.categories, [DataCategory::LlmRequestLog]);
        let json = serde_json::to_string(&ropa).unwrap();
        for prohibited in ["marketing", "advertising", "sale-of-data"] {
            assert!(!json.contains(prohibited), "{prohibited}");
        }
        assert!(
            ropa.purposes()
                .iter()
                .all(|record| record.purpose.group() != PurposeGroup::Prohibited)
        );
    }

    #[test]
    fn every_category_has_its_retention_and_logs_are_crypto_shredded() {
        let ropa = Ropa::new(&Policy::coder_model(), &facts(), StewardNames::Withheld);
        assert_eq!(ropa.data_categories().len(), DataCategory::ALL.len());
        let logs = ropa
            .data_categories()
            .iter()
            .find(|record| record.category == DataCategory::LlmRequestLog)
            .unwrap();
        let rule = logs.retention.as_ref().unwrap();
        assert_eq!(rule.method, DeletionMethod::CryptoShred);
        assert_eq!(rule.anchor, Anchor::RelationshipEnd);
        assert_eq!(rule.deletion_window, "P30D");
        assert_eq!(rule.clause, ClauseId::LogsRetention);
    }

    #[test]
    fn security_measures_follow_the_store() {
        let ropa = Ropa::new(&Policy::coder_model(), &facts(), StewardNames::Withheld);
        let markdown = ropa.to_markdown();
        assert!(markdown.contains("aes-256-gcm"), "{markdown}");
        assert!(
            markdown.contains("the newest covers 5 audit entries"),
            "{markdown}"
        );
        assert!(markdown.contains("redacted before sealing"), "{markdown}");
        let keeping = facts().with_audit(7, None).with_sealing(
            Algorithm::ChaCha20Poly1305,
            SecretRedaction::DangerousKeepSecrets,
        );
        let markdown =
            Ropa::new(&Policy::coder_model(), &keeping, StewardNames::Withheld).to_markdown();
        assert!(markdown.contains("chacha20-poly1305"), "{markdown}");
        assert!(markdown.contains("none is stored yet"), "{markdown}");
        assert!(markdown.contains("redaction turned off"), "{markdown}");
    }
}
