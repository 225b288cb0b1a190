//! What `check()` is asked: who wants to do what with which data, and when.

use steward_core::{
    CustomerId, DataCategory, Justification, Purpose, RecordId, StewardId, Timestamp, TrainingScope,
};

use steward_logs::{Plaintext, RecordHeader};

use steward_core::TrainingLevel;

/// One question for [`crate::Policy::check`]: may `actor` take `action` on `data` at `now`?
///
/// Building a request never allocates; it borrows what it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// Who acts.
    pub actor: Actor<'a>,
    /// What they want to do.
    pub action: Action<'a>,
    /// The data it touches.
    pub data: DataRef,
    /// The instant of the request; evaluation never reads the clock itself.
    pub now: Timestamp,
}

/// Who acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Actor<'a> {
    /// The customer: acts on their own preferences, never as a user of data.
    Customer(CustomerId),
    /// A data steward, who may open log records if on the roster (`logs.access`).
    Steward(&'a StewardId),
    /// A company service or staff member using personal and usage data (`use.purposes`).
    Service,
    /// A model-training pipeline, the only actor that trains (`training.*`).
    TrainingPipeline,
}

/// What the actor wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action<'a> {
    /// Use personal or usage data for a purpose (`use.purposes`).
    Use {
        /// Why.
        purpose: Purpose,
    },
    /// Decrypt and read a log record (`logs.access`, `logs.purposes`).
    OpenLog {
        /// Why: one of the four `logs.purposes`.
        purpose: Purpose,
        /// The reason access is necessary now, such as a ticket reference.
        justification: Option<&'a Justification>,
    },
    /// Train a model at a scope (`training.*`).
    Train {
        /// Whose models.
        scope: TrainingScope,
    },
    /// Keep storing the data (`logs.retention`).
    Keep,
}

/// The data a request touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataRef {
    /// What kind of data.
    pub category: DataCategory,
    /// The customer it belongs to.
    pub owner: CustomerId,
    /// When it was collected.
    pub collected_at: Timestamp,
    /// Where the training level in force at collection comes from.
    pub consent_at_collection: CollectionConsent,
    /// The stored record, where the data is one (a legal hold may cover a single record).
    pub record: Option<RecordId>,
}

impl DataRef {
    /// Data of `category` owned by `owner`, collected at `collected_at`.
    #[must_use]
    pub const fn new(category: DataCategory, owner: CustomerId, collected_at: Timestamp) -> Self {
        Self {
            category,
            owner,
            collected_at,
            consent_at_collection: CollectionConsent::FromFacts,
            record: None,
        }
    }

    /// The same data, naming the stored record it is.
    #[must_use]
    pub const fn with_record(mut self, record: RecordId) -> Self {
        self.record = Some(record);
        self
    }

    /// The same data, carrying the training level in force at its collection, as the
    /// caller knows it (from its own records, or from a record that authenticated).
    #[must_use]
    pub const fn with_consent_at_collection(mut self, level: TrainingLevel) -> Self {
        self.consent_at_collection = CollectionConsent::Known(level);
        self
    }

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
            header.collected_at(),
        )
        .with_record(header.record_id())
    }
}

/// Where the training level in force at a datum's collection comes from
/// (`training.forward-only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CollectionConsent {
    /// Ask [`crate::Facts`] for the level in force at the collection instant.
    FromFacts,
    /// The level, as the caller knows it or as an authenticated record states it.
    Known(TrainingLevel),
    /// The level as the header of a sealed record claims it, before the record has
    /// authenticated. Anyone who can write the store can flip it, so it never decides
    /// training: `check()` denies training with
    /// [`DenyReason::ConsentUnverified`](crate::DenyReason::ConsentUnverified).
    Unverified(TrainingLevel),
}

impl<'a> Request<'a> {
    /// A service using `data` for `purpose`.
    #[must_use]
    pub const fn use_data(purpose: Purpose, data: DataRef, now: Timestamp) -> Self {
        Self {
            actor: Actor::Service,
            action: Action::Use { purpose },
            data,
            now,
        }
    }

    /// A steward opening the log record `data` for `purpose`, with a justification.
    #[must_use]
    pub const fn open_log(
        steward: &'a StewardId,
        purpose: Purpose,
        justification: &'a Justification,
        data: DataRef,
        now: Timestamp,
    ) -> Self {
        Self {
            actor: Actor::Steward(steward),
            action: Action::OpenLog {
                purpose,
                justification: Some(justification),
            },
            data,
            now,
        }
    }

    /// A training pipeline training at `scope` on `data`.
    #[must_use]
    pub const fn train(scope: TrainingScope, data: DataRef, now: Timestamp) -> Self {
        Self {
            actor: Actor::TrainingPipeline,
            action: Action::Train { scope },
            data,
            now,
        }
    }

    /// A service asking whether `data` may still be stored.
    #[must_use]
    pub const fn keep(data: DataRef, now: Timestamp) -> Self {
        Self {
            actor: Actor::Service,
            action: Action::Keep,
            data,
            now,
        }
    }
}
