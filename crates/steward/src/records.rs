//! Glue between the inner crates: sealed log records as policy data, and the sweep's key
//! shredder over the vault.

use steward_core::{CustomerId, DataCategory};
use steward_logs::{AuditStore, LogsError, Plaintext, RecordHeader};
use steward_retention::{KeyShredder, Removal};

use crate::{CollectionConsent, DataRef, RosterFacts, Vault};

impl DataRef {
    /// The data of a sealed log record, as its (not yet authenticated) header claims it:
    /// category `llm-request-log`, owner, collection instant, record id, and the training
    /// level sealed at collection as [`CollectionConsent::Unverified`].
    ///
    /// The header is authenticated as the record's associated data, so a record whose header
    /// was altered fails to open: deciding an open on the claim is safe, since a forged claim
    /// cannot yield plaintext. Training is not: a flipped consent byte would change the
    /// answer without anything being opened, so training on an unverified level is denied.
    /// Decide training on [`of_opened_record`](Self::of_opened_record).
    #[must_use]
    pub fn of_sealed_record(header: &RecordHeader) -> Self {
        let mut data = Self::of_header(header);
        data.consent_at_collection = CollectionConsent::Unverified(header.consent());
        data
    }

    /// The data of a record that opened: its header authenticated, so the training level
    /// sealed at collection is [`CollectionConsent::Known`].
    #[must_use]
    pub fn of_opened_record(opened: &Plaintext) -> Self {
        Self::of_header(opened.header()).with_consent_at_collection(opened.header().consent())
    }

    fn of_header(header: &RecordHeader) -> Self {
        Self::new(
            DataCategory::LlmRequestLog,
            header.customer(),
            header.created_at(),
        )
        .with_record(header.record_id())
    }
}

/// The retention sweep's [`KeyShredder`] over a [`Vault`]: crypto-shreds a customer by
/// destroying every version of their data keys (`logs.retention`), each shred audited.
#[derive(Debug)]
pub struct VaultShredder<'a, F, S>(&'a Vault<F, S>);

impl<'a, F, S> VaultShredder<'a, F, S> {
    /// A shredder over `vault`.
    #[must_use]
    pub const fn new(vault: &'a Vault<F, S>) -> Self {
        Self(vault)
    }
}

impl<F: RosterFacts, S: AuditStore> KeyShredder for VaultShredder<'_, F, S> {
    type Error = LogsError;

    fn shred_customer(&mut self, customer: CustomerId) -> Result<Removal, Self::Error> {
        if self.0.keyring()?.is_shredded(customer) {
            return Ok(Removal::AlreadyAbsent);
        }
        self.0.shred(customer)?;
        Ok(Removal::Removed)
    }
}
