//! Glue between the inner crates: sealed log records as policy data, and the sweep's key
//! shredder over the vault.

use std::convert::Infallible;

use steward_consent::TrainingLevel;
use steward_core::{CustomerId, DataCategory};
use steward_logs::{ConsentAtCollection, RecordHeader, Vault};
use steward_retention::{KeyShredder, Removal};

use crate::DataRef;

impl DataRef {
    /// The data of a sealed log record, as its header states it: category
    /// `llm-request-log`, owner, collection instant, record id and the training level
    /// sealed at collection.
    ///
    /// Until the record is opened the header is only a claim; it is authenticated as the
    /// record's associated data, so a record whose header was altered fails to open. Decide
    /// on the header, then open: a forged claim cannot yield plaintext.
    #[must_use]
    pub fn of_sealed_record(header: &RecordHeader) -> Self {
        Self::new(
            DataCategory::LlmRequestLog,
            header.customer(),
            header.created_at(),
        )
        .with_record(header.record_id())
        .with_consent_at_collection(training_level(header.consent()))
    }
}

/// The level to seal into a record collected under `level` (`training.forward-only`).
#[must_use]
pub const fn consent_at_collection(level: TrainingLevel) -> ConsentAtCollection {
    match level {
        TrainingLevel::None => ConsentAtCollection::None,
        TrainingLevel::Private => ConsentAtCollection::Private,
        TrainingLevel::Shared => ConsentAtCollection::Shared,
        TrainingLevel::OpenWeight => ConsentAtCollection::OpenWeight,
    }
}

/// The training level a record was sealed under.
#[must_use]
pub const fn training_level(sealed: ConsentAtCollection) -> TrainingLevel {
    match sealed {
        ConsentAtCollection::None => TrainingLevel::None,
        ConsentAtCollection::Private => TrainingLevel::Private,
        ConsentAtCollection::Shared => TrainingLevel::Shared,
        ConsentAtCollection::OpenWeight => TrainingLevel::OpenWeight,
    }
}

/// The retention sweep's [`KeyShredder`] over a [`Vault`]: crypto-shreds a customer by
/// destroying every version of their data keys (`logs.retention`).
#[derive(Debug)]
pub struct VaultShredder<'a>(&'a mut Vault);

impl<'a> VaultShredder<'a> {
    /// A shredder over `vault`.
    #[must_use]
    pub fn new(vault: &'a mut Vault) -> Self {
        Self(vault)
    }
}

impl KeyShredder for VaultShredder<'_> {
    type Error = Infallible;

    fn shred_customer(&mut self, customer: CustomerId) -> Result<Removal, Self::Error> {
        if self.0.keyring().is_shredded(customer) {
            return Ok(Removal::AlreadyAbsent);
        }
        self.0.shred(customer);
        Ok(Removal::Removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_both_ways() {
        for level in [
            TrainingLevel::None,
            TrainingLevel::Private,
            TrainingLevel::Shared,
            TrainingLevel::OpenWeight,
        ] {
            assert_eq!(training_level(consent_at_collection(level)), level);
        }
    }
}
