//! Key versions, and the tombstone a crypto-shred leaves of them.

use std::{fmt, num::NonZeroU32};

use serde::{Deserialize, Serialize};

use crate::{KeyError, LogsError};

/// The version of a customer's data key: 1 for the first key, one more per rotation.
///
/// The newest version seals; older versions only open.
///
/// ```
/// use steward_logs::KeyVersion;
///
/// let first = KeyVersion::FIRST;
/// assert_eq!(first.next()?.get(), 2);
/// assert!(KeyVersion::new(0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyVersion(NonZeroU32);

impl KeyVersion {
    /// The first version of every customer's data key.
    pub const FIRST: Self = Self(NonZeroU32::MIN);

    /// The version numbered `version`.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidKey`] for 0: versions start at 1.
    pub fn new(version: u32) -> Result<Self, LogsError> {
        NonZeroU32::new(version).map(Self).ok_or_else(|| {
            LogsError::Key(KeyError::InvalidKey {
                reason: "key version 0 does not exist, versions start at 1",
            })
        })
    }

    /// The version number.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// The version after this one.
    ///
    /// # Errors
    ///
    /// [`KeyError::KeyVersionOverflow`] after `u32::MAX`.
    pub fn next(self) -> Result<Self, LogsError> {
        self.0
            .checked_add(1)
            .map(Self)
            .ok_or_else(|| LogsError::Key(KeyError::KeyVersionOverflow))
    }

    pub(crate) const fn to_be_bytes(self) -> [u8; 4] {
        self.0.get().to_be_bytes()
    }
}

impl fmt::Debug for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyVersion({})", self.0)
    }
}

impl fmt::Display for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// What crypto-shredding leaves of a customer's keys: the newest data key version it destroyed.
///
/// A shred is final for everything sealed before it: every version up to and including the
/// tombstone's is destroyed, and records sealed under those versions fail with
/// [`OpenError::Shredded`](crate::OpenError::Shredded) forever. A customer who comes back (a new
/// relationship under the same [`CustomerId`](steward_core::CustomerId)) gets a new generation of
/// data keys that starts at the version after the tombstone, so no version number is ever issued
/// twice to one customer. A customer shredded before any data key was issued has a tombstone
/// "through v0": [`through`](Self::through) is `None`.
///
/// ```
/// use steward_logs::{KeyVersion, Tombstone};
///
/// let tombstone = Tombstone::new(Some(KeyVersion::new(3)?));
/// assert!(tombstone.covers(KeyVersion::new(3)?));
/// assert!(!tombstone.covers(KeyVersion::new(4)?));
/// assert_eq!(tombstone.next_version()?.get(), 4);
/// assert_eq!(Tombstone::new(None).next_version()?, KeyVersion::FIRST);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tombstone(Option<KeyVersion>);

impl Tombstone {
    /// The tombstone of a shred that destroyed every version up to and including `through`,
    /// or, for `None`, of a shred before the customer had any data key.
    #[must_use]
    pub const fn new(through: Option<KeyVersion>) -> Self {
        Self(through)
    }

    /// The newest version destroyed; `None` if the customer had no data key yet.
    #[must_use]
    pub const fn through(self) -> Option<KeyVersion> {
        self.0
    }

    /// Whether `version` was destroyed, that is, is at or below the tombstone.
    #[must_use]
    pub const fn covers(self, version: KeyVersion) -> bool {
        match self.0 {
            Some(through) => version.get() <= through.get(),
            None => false,
        }
    }

    /// The first version of the customer's next key generation.
    ///
    /// # Errors
    ///
    /// [`KeyError::KeyVersionOverflow`] for a tombstone through `u32::MAX`.
    pub fn next_version(self) -> Result<KeyVersion, LogsError> {
        match self.0 {
            Some(through) => through.next(),
            None => Ok(KeyVersion::FIRST),
        }
    }

    /// The version number destroyed through, 0 before the first version (the stored form).
    pub(super) const fn number(self) -> u32 {
        match self.0 {
            Some(through) => through.get(),
            None => 0,
        }
    }

    pub(super) const fn from_number(number: u32) -> Self {
        match NonZeroU32::new(number) {
            Some(version) => Self(Some(KeyVersion(version))),
            None => Self(None),
        }
    }
}

impl fmt::Debug for Tombstone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tombstone(through v{})", self.number())
    }
}

impl fmt::Display for Tombstone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "through v{}", self.number())
    }
}
