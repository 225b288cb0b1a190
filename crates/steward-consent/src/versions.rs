//! The versions of the privacy policy a consent change may name (`policy.versioned`).

use std::fmt;

use steward_core::PolicyVersion;

use crate::{ConsentError, intern::Interner};

/// The policy versions a [`ConsentLedger`](crate::ConsentLedger) accepts in a change: the
/// version of the policy in force, and any earlier versions it still answers for. Never empty.
///
/// A consent receipt names the policy text the customer agreed under (`policy.versioned`), so
/// a change naming a version the policy does not know is refused: a typo or a stale client
/// would otherwise leave a receipt that points at no text at all.
///
/// ```
/// use steward_consent::KnownPolicyVersions;
///
/// let known = KnownPolicyVersions::new("2025-09-01".parse()?).with("2025-03-05".parse()?)?;
/// assert!(known.contains(&"2025-03-05".parse()?));
/// assert!(!known.contains(&"2024-01-01".parse()?));
/// assert_eq!(known.iter().count(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct KnownPolicyVersions {
    // INVARIANT: at least one value; at most `LIMIT`, so every index fits a `u16`.
    table: Interner<PolicyVersion>,
}

impl KnownPolicyVersions {
    /// The most versions a set holds: a stored change names its version by a 16-bit index.
    pub const LIMIT: usize = 1 << 16;

    /// The set of one version, typically the version of the policy in force.
    #[must_use]
    pub fn new(version: PolicyVersion) -> Self {
        Self {
            table: Interner::single(version),
        }
    }

    /// This set with `version` added too (a version already known is fine).
    ///
    /// # Errors
    ///
    /// [`ConsentError::TableFull`] past [`LIMIT`](Self::LIMIT) versions.
    pub fn with(mut self, version: PolicyVersion) -> Result<Self, ConsentError> {
        self.table
            .intern(&version, Self::LIMIT, "policy versions")?;
        Ok(self)
    }

    /// The set of every version in `versions`, for example read from configuration.
    ///
    /// # Errors
    ///
    /// [`ConsentError::NoKnownPolicyVersions`] if `versions` is empty, and
    /// [`ConsentError::TableFull`] past [`LIMIT`](Self::LIMIT) distinct versions.
    pub fn try_from_iter(
        versions: impl IntoIterator<Item = PolicyVersion>,
    ) -> Result<Self, ConsentError> {
        let mut versions = versions.into_iter();
        let first = versions.next().ok_or(ConsentError::NoKnownPolicyVersions)?;
        versions.try_fold(Self::new(first), Self::with)
    }

    /// Whether a change may name `version`.
    #[must_use]
    pub fn contains(&self, version: &PolicyVersion) -> bool {
        self.table.get(version).is_some()
    }

    /// The versions, in the order they were added.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &PolicyVersion> + '_ {
        self.table.values.iter()
    }

    /// The index a stored change keeps for `version`, if it is known.
    pub(crate) fn index_of(&self, version: &PolicyVersion) -> Option<u16> {
        self.table
            .get(version)
            .and_then(|index| u16::try_from(index).ok())
    }

    /// The version behind an index from [`index_of`](Self::index_of).
    pub(crate) fn version(&self, index: u16) -> Option<&PolicyVersion> {
        self.table.values.get(usize::from(index))
    }

    pub(crate) fn approximate_heap_bytes(&self) -> usize {
        self.table
            .approximate_heap_bytes(|version| version.as_str().len())
    }
}

impl From<PolicyVersion> for KnownPolicyVersions {
    fn from(version: PolicyVersion) -> Self {
        Self::new(version)
    }
}

impl fmt::Debug for KnownPolicyVersions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Two sets are equal when they hold the same versions, in whatever order they were added.
impl PartialEq for KnownPolicyVersions {
    fn eq(&self, other: &Self) -> bool {
        self.iter().len() == other.iter().len() && self.iter().all(|v| other.contains(v))
    }
}

impl Eq for KnownPolicyVersions {}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> PolicyVersion {
        text.parse().unwrap()
    }

    #[test]
    fn an_empty_set_cannot_be_built() {
        assert_eq!(
            KnownPolicyVersions::try_from_iter([]).unwrap_err(),
            ConsentError::NoKnownPolicyVersions
        );
    }

    #[test]
    fn repeated_versions_are_kept_once_and_order_does_not_matter() {
        let one =
            KnownPolicyVersions::try_from_iter([version("a"), version("b"), version("a")]).unwrap();
        let other = KnownPolicyVersions::new(version("b"))
            .with(version("a"))
            .unwrap();
        assert_eq!(one.iter().len(), 2);
        assert_eq!(one, other);
        assert_eq!(
            format!("{one:?}"),
            r#"{PolicyVersion("a"), PolicyVersion("b")}"#
        );
    }

    #[test]
    fn indexes_name_their_version() {
        let known = KnownPolicyVersions::new(version("a"))
            .with(version("b"))
            .unwrap();
        let index = known.index_of(&version("b")).unwrap();
        assert_eq!(known.version(index), Some(&version("b")));
        assert_eq!(known.index_of(&version("c")), None);
    }

    #[test]
    fn more_versions_than_an_index_holds_are_refused() {
        let versions = (0..KnownPolicyVersions::LIMIT).map(|n| version(&format!("v{n}")));
        let known = KnownPolicyVersions::try_from_iter(versions).unwrap();
        assert!(known.contains(&version("v65535")));
        let error = known.clone().with(version("one-too-many")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "too many distinct policy versions (at most 65536)"
        );
        // A version already known is still fine.
        assert!(known.with(version("v7")).is_ok());
    }
}
