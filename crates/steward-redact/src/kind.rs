//! The kinds of secret the scanner knows, and counts of them.

use std::{fmt, str::FromStr};

use serde::{
    Deserialize, Serialize,
    de::{MapAccess, Visitor},
    ser::SerializeMap,
};

use crate::RedactError;

/// The kind of a secret found in a body: the name a marker carries
/// (`[REDACTED:<kind>:<fingerprint>]`), and what counts are kept by.
///
/// ```
/// use steward_redact::SecretKind;
///
/// assert_eq!(SecretKind::GithubToken.as_str(), "github-token");
/// assert_eq!("private-key".parse::<SecretKind>()?, SecretKind::PrivateKey);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SecretKind {
    /// An AWS access key id (`AKIA…` long-term, `ASIA…` temporary).
    AwsAccessKeyId,
    /// An AWS secret access key (40 characters), recognised next to a name saying so.
    AwsSecretAccessKey,
    /// A Google API key (`AIza…`).
    GoogleApiKey,
    /// A GitHub classic token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`).
    GithubToken,
    /// A GitHub fine-grained personal access token (`github_pat_…`).
    GithubFineGrainedToken,
    /// A GitLab personal access token (`glpat-…`).
    GitlabToken,
    /// An OpenAI project key (`sk-proj-…`).
    OpenAiProjectKey,
    /// An OpenAI legacy user key (`sk-` and 48 characters).
    OpenAiKey,
    /// An Anthropic API key (`sk-ant-…`).
    AnthropicKey,
    /// A Hugging Face access token (`hf_…`).
    HuggingFaceToken,
    /// A Stripe live secret or restricted key (`sk_live_`, `rk_live_`).
    StripeKey,
    /// A Slack token (`xoxb-`, `xoxa-`, `xoxp-`, `xoxr-`, `xoxs-`).
    SlackToken,
    /// A SendGrid API key (`SG.….…`).
    SendgridKey,
    /// An npm access token (`npm_…`).
    NpmToken,
    /// A PyPI API token (`pypi-AgEIcHlwaS5vcmc…`).
    PypiToken,
    /// A signed JSON Web Token (`eyJ….eyJ….…`).
    Jwt,
    /// A PEM or OpenSSH private key block, from its BEGIN line to its END line (or to the end
    /// of the body when the block is not terminated).
    PrivateKey,
    /// The password of a URL (`scheme://user:password@host`), such as a connection string.
    UrlPassword,
    /// A high-entropy value assigned to a secret-ish name (`api_key = "…"`, `TOKEN=…`).
    GenericSecret,
}

impl SecretKind {
    /// Every kind, in the order of the counts.
    pub const ALL: [Self; KIND_COUNT] = [
        Self::AwsAccessKeyId,
        Self::AwsSecretAccessKey,
        Self::GoogleApiKey,
        Self::GithubToken,
        Self::GithubFineGrainedToken,
        Self::GitlabToken,
        Self::OpenAiProjectKey,
        Self::OpenAiKey,
        Self::AnthropicKey,
        Self::HuggingFaceToken,
        Self::StripeKey,
        Self::SlackToken,
        Self::SendgridKey,
        Self::NpmToken,
        Self::PypiToken,
        Self::Jwt,
        Self::PrivateKey,
        Self::UrlPassword,
        Self::GenericSecret,
    ];

    /// The stable name a marker carries (lowercase, hyphenated, at most 25 bytes).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AwsAccessKeyId => "aws-access-key-id",
            Self::AwsSecretAccessKey => "aws-secret-access-key",
            Self::GoogleApiKey => "google-api-key",
            Self::GithubToken => "github-token",
            Self::GithubFineGrainedToken => "github-fine-grained-token",
            Self::GitlabToken => "gitlab-token",
            Self::OpenAiProjectKey => "openai-project-key",
            Self::OpenAiKey => "openai-key",
            Self::AnthropicKey => "anthropic-key",
            Self::HuggingFaceToken => "hugging-face-token",
            Self::StripeKey => "stripe-key",
            Self::SlackToken => "slack-token",
            Self::SendgridKey => "sendgrid-key",
            Self::NpmToken => "npm-token",
            Self::PypiToken => "pypi-token",
            Self::Jwt => "jwt",
            Self::PrivateKey => "private-key",
            Self::UrlPassword => "url-password",
            Self::GenericSecret => "generic-secret",
        }
    }

    /// The kind's place in [`ALL`](Self::ALL).
    const fn index(self) -> usize {
        self as usize
    }
}

/// How many kinds there are.
pub(crate) const KIND_COUNT: usize = 19;

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SecretKind {
    type Err = RedactError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| RedactError::UnknownKind {
                kind: text.to_owned(),
            })
    }
}

/// How many secrets of each kind one redaction (or many, [`add`](Self::add)ed up) replaced:
/// what reports and audit entries carry, never the secrets.
///
/// Serializes as a map from kind name to count, listing only kinds that occurred.
///
/// ```
/// use steward_redact::{RedactionCounts, SecretKind};
///
/// let mut counts = RedactionCounts::default();
/// counts.record(SecretKind::Jwt);
/// counts.record(SecretKind::Jwt);
/// assert_eq!(counts.get(SecretKind::Jwt), 2);
/// assert_eq!(counts.total(), 2);
/// assert_eq!(counts.to_string(), "jwt: 2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RedactionCounts {
    counts: [u64; KIND_COUNT],
}

impl RedactionCounts {
    /// Counts one more secret of `kind`.
    pub fn record(&mut self, kind: SecretKind) {
        if let Some(count) = self.counts.get_mut(kind.index()) {
            *count = count.saturating_add(1);
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine = mine.saturating_add(theirs);
        }
    }

    /// The count of `kind`.
    #[must_use]
    pub fn get(&self, kind: SecretKind) -> u64 {
        self.counts.get(kind.index()).copied().unwrap_or(0)
    }

    /// All secrets counted.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.counts
            .iter()
            .fold(0, |sum, count| sum.saturating_add(*count))
    }

    /// Whether nothing was redacted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// The kinds that occurred, with their counts, in the order of [`SecretKind::ALL`].
    pub fn iter(&self) -> impl Iterator<Item = (SecretKind, u64)> + '_ {
        SecretKind::ALL
            .into_iter()
            .zip(self.counts)
            .filter(|(_, count)| *count > 0)
    }
}

impl fmt::Display for RedactionCounts {
    /// `kind: n, kind: n`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (index, (kind, count)) in self.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{kind}: {count}")?;
        }
        Ok(())
    }
}

impl Serialize for RedactionCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (kind, count) in self.iter() {
            map.serialize_entry(kind.as_str(), &count)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RedactionCounts {
    /// The map [`Serialize`] writes (kind name to count); an unknown kind is refused.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountsVisitor;

        impl<'de> Visitor<'de> for CountsVisitor {
            type Value = RedactionCounts;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of secret kinds to counts")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut counts = RedactionCounts::default();
                while let Some((kind, count)) = map.next_entry::<String, u64>()? {
                    let kind = kind
                        .parse::<SecretKind>()
                        .map_err(serde::de::Error::custom)?;
                    if let Some(slot) = counts.counts.get_mut(kind.index()) {
                        *slot = slot.saturating_add(count);
                    }
                }
                Ok(counts)
            }
        }

        deserializer.deserialize_map(CountsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_trip_through_json_and_refuse_an_unknown_kind() {
        let mut counts = RedactionCounts::default();
        counts.record(SecretKind::Jwt);
        counts.record(SecretKind::AwsAccessKeyId);
        counts.record(SecretKind::Jwt);
        let json = serde_json::to_string(&counts).unwrap();
        assert_eq!(
            serde_json::from_str::<RedactionCounts>(&json).unwrap(),
            counts
        );
        assert!(serde_json::from_str::<RedactionCounts>(r#"{"no-such-kind":1}"#).is_err());
    }

    #[test]
    fn every_kind_has_its_index_and_a_round_tripping_name() {
        for (index, kind) in SecretKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), index);
            assert_eq!(kind.as_str().parse::<SecretKind>().unwrap(), kind);
            assert!(kind.as_str().len() <= 25, "{kind}");
        }
        assert!("nope".parse::<SecretKind>().is_err());
    }

    #[test]
    fn counts_serialize_only_kinds_that_occurred() {
        let mut counts = RedactionCounts::default();
        assert_eq!(serde_json::to_string(&counts).unwrap(), "{}");
        counts.record(SecretKind::PrivateKey);
        let mut more = RedactionCounts::default();
        more.record(SecretKind::PrivateKey);
        more.record(SecretKind::AwsAccessKeyId);
        counts.add(&more);
        assert_eq!(
            serde_json::to_string(&counts).unwrap(),
            r#"{"aws-access-key-id":1,"private-key":2}"#
        );
        assert_eq!(counts.to_string(), "aws-access-key-id: 1, private-key: 2");
    }
}
