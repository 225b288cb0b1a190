//! One conformance suite for both backends, mounted once per backend as rustls mounts its API
//! tests once per crypto provider (`rustls-test/tests/api.rs`).
//!
//! - [`Backend`]: what a test needs of a backend beyond the store itself: a fresh store of its
//!   own, the vault on it, a record sealed and stored, and raw SQL for tampering. `sqlite.rs`
//!   and `postgres.rs` implement it.
//! - The behaviour modules (`audit`, `facts`, `fact_log`, `ingest`, `keys`, `records`, `secrets`, `sweep`) are compiled once
//!   per mount, with `Db` naming that mount's backend. They call the stores' methods by name:
//!   both stores offer the same verbs, so a test that compiles for one and not the other has
//!   found a difference between them.
//! - [`conformance_suite!`] lists the tests; each mount runs every one, the PostgreSQL mount
//!   only when `STEWARD_POSTGRES` names a server (ignored otherwise). A suite function
//!   left out of the list is dead code, which the lints refuse.

use std::sync::Arc;

use steward::{
    Policy, Vault,
    logs::{AccessRequest, AuditStore, KeyStore, SealedRecord},
    vocabulary::{CustomerId, ManualClock, Purpose, RecordId, Timestamp},
};
use steward_store::{
    DurableFacts, FactLog, Ingest, IngestConfig, LineageStore, StoreError, StoreKeys,
};

#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;

/// One row of a fact log as stored: sequence (from 1), event text, chain hash.
pub(crate) type FactRow = (i64, String, Vec<u8>);

/// The vault a backend opens on its store.
pub(crate) type BackendVault<B> = Vault<DurableFacts<<B as Backend>::Store>, <B as Backend>::Audit>;

/// A backend under test: one store of its own, removed when the value is dropped.
pub(crate) trait Backend: Sized {
    /// The store: its fact log, key store and the inherent methods the suite calls by name.
    type Store: FactLog + KeyStore + LineageStore + Clone;
    /// Where a vault's audit trail appends.
    type Audit: AuditStore;

    /// An empty store of its own, named after `test`.
    fn fresh(test: &str) -> Self;

    /// A handle on the store under `keys`: created on first use, opened after.
    ///
    /// # Errors
    ///
    /// Whatever the backend refuses at open: wrong keys, a broken store.
    fn open_with(&self, keys: &StoreKeys) -> Result<Self::Store, StoreError>;

    /// A handle on the store under the test keys.
    fn store(&self) -> Self::Store {
        self.open_with(&crate::common::keys()).unwrap()
    }

    /// The vault on `store`, under the test keys and the bundled policy.
    ///
    /// # Errors
    ///
    /// What the backend's `open_vault` refuses: a broken chain or fact log, a pending shred
    /// that cannot be completed.
    fn vault(store: &Self::Store) -> Result<BackendVault<Self>, StoreError>;

    /// As [`vault`](Self::vault), with `clock` as the trusted clock of its audit trail and
    /// facts.
    ///
    /// # Errors
    ///
    /// As [`vault`](Self::vault).
    fn vault_with_clock(
        store: &Self::Store,
        clock: ManualClock,
    ) -> Result<BackendVault<Self>, StoreError>;

    /// The ingest handle on `store`, as the backend's services build it.
    fn ingest(store: &Self::Store, vault: Arc<BackendVault<Self>>, config: IngestConfig) -> Ingest;

    /// An audit store on `store`, for a custody or trail of the test's own.
    fn audit_store(store: &Self::Store) -> Self::Audit;

    /// Seals `body` with `vault` as record `id` of `customer`, collected at `at` (under the
    /// consent in force then), and stores the record, as the backend's services do.
    fn seal_stored(
        store: &Self::Store,
        vault: &BackendVault<Self>,
        id: RecordId,
        customer: CustomerId,
        at: Timestamp,
        body: &[u8],
    ) -> SealedRecord;

    /// The fact log's rows, oldest first, read behind the store's back.
    fn fact_rows(&self) -> Vec<FactRow>;

    /// Replaces the fact log with `rows`, behind the store's back (as someone with write
    /// access to the database could, keeping any head row in step).
    fn rewrite_fact_log(&self, rows: &[FactRow]);

    /// Swaps the sealed bytes of two stored records, behind the store's back.
    fn swap_sealed(&self, a: steward::vocabulary::RecordId, b: steward::vocabulary::RecordId);

    /// Deletes the newest audit entry, behind the store's back.
    fn delete_newest_audit_entry(&self);
}

/// The bundled policy every vault in the suite decides by.
pub(crate) fn policy() -> Policy {
    Policy::coder_model()
}

/// A request of `alice.ops`, a roster steward in the suite's tests, for troubleshooting.
pub(crate) fn steward_request() -> AccessRequest {
    AccessRequest::with_justification_text(
        "alice.ops".parse().unwrap(),
        Purpose::Troubleshooting,
        "INC-42",
    )
}

/// Seals a request of `customer` collected now (the vault's clock is the system clock) at the
/// consent level in force, and stores it.
pub(crate) fn log<B: Backend>(
    store: &B::Store,
    vault: &BackendVault<B>,
    customer: CustomerId,
) -> SealedRecord {
    let now = Timestamp::now();
    B::seal_stored(
        store,
        vault,
        RecordId::generate_at(now),
        customer,
        now,
        b"a prompt",
    )
}

/// The suite's tests, by module: `$mount` turns each name into a test of its backend.
macro_rules! conformance_suite {
    ($mount:ident) => {
        $mount! {
            audit:
                entries_and_checkpoints_survive_reopen,
                a_taken_sequence_number_is_refused,
                a_different_checkpoint_for_the_same_length_is_a_conflict,
                a_chain_cut_short_of_its_stored_checkpoint_is_refused_at_start_up;
            facts:
                consent_changes_rebuild_the_ledger_after_reopen,
                relationships_round_trip_and_refuse_what_the_book_would,
                legal_holds_and_their_history_round_trip,
                a_log_written_when_holds_expired_still_loads_and_its_holds_stand_past_the_date,
                the_roster_round_trips_and_a_failed_batch_changes_nothing,
                a_refused_fact_change_writes_nothing,
                fact_writers_in_several_handles_share_one_log,
                an_open_after_the_clock_was_set_back_past_an_end_is_decided_after_the_end,
                a_scheduled_end_is_corrected_and_cancelled_as_entries_of_the_log,
                a_backdated_relationship_change_is_refused_and_writes_nothing,
                fact_changes_are_recorded_no_earlier_than_the_newest_audit_entry,
                a_withdrawal_now_cancels_a_scheduled_opt_in_and_replays_from_the_log,
                interactive_choices_round_trip_and_decide_use_after_reopen,
                consent_receipts_are_deleted_after_the_proof_period_as_a_fact_log_entry;
            fact_log:
                an_edited_entry_is_refused_at_open,
                a_deleted_entry_is_refused_at_open,
                swapped_entries_are_refused_at_open,
                a_removed_consent_change_is_found_at_start_up;
            keys:
                a_wrong_master_key_or_audit_key_is_refused_at_open,
                keys_and_records_survive_reopen_and_open_again,
                everything_a_vault_acknowledged_survives_a_restart,
                a_shred_whose_keys_outlived_its_audit_entry_is_completed_at_the_next_open,
                a_shred_by_another_vault_holds_at_its_next_open_of_a_customer_it_just_opened;
            records:
                a_record_whose_stored_bytes_were_swapped_with_another_is_refused_by_id,
                the_sweep_deletes_stored_records_and_shreds_keys_durably,
                a_standing_hold_refuses_the_deletion_and_the_shred_naming_itself,
                a_training_export_streams_from_the_store,
                a_record_stored_under_a_chosen_id_is_found_and_never_stored_twice;
            secrets:
                stored_records_hold_markers_not_secrets_and_fingerprints_survive_a_restart;
            sweep:
                a_hold_placed_between_steps_keeps_its_records_and_the_log_proves_the_rest,
                an_interrupted_sweep_is_finished_by_planning_again,
                a_20k_record_sweep_interleaves_with_seals_decisions_and_consent_changes;
            lineage:
                export_lineage_survives_reopen_and_names_the_exports_holding_a_customer;
            ingest:
                concurrent_callers_are_acknowledged_once_durable_and_survive_a_reopen,
                a_customer_without_a_relationship_is_refused_before_anything_is_stored,
                a_record_the_store_refuses_fails_its_caller_and_the_writer_carries_on;
        }
    };
}

/// The suite on the embedded SQLite store.
#[path = "."]
mod on_sqlite {
    macro_rules! mount {
        ($($module:ident: $($test:ident),+;)+) => {
            $(mod $module {
                $(#[test]
                fn $test() {
                    super::suite::$module::$test();
                })+
            })+
        };
    }
    conformance_suite!(mount);

    #[path = "."]
    mod suite {
        use super::super::sqlite::Sqlite as Db;

        pub(super) mod audit;
        pub(super) mod fact_log;
        pub(super) mod facts;
        pub(super) mod ingest;
        pub(super) mod keys;
        pub(super) mod lineage;
        pub(super) mod records;
        pub(super) mod secrets;
        pub(super) mod sweep;
    }
}

/// The suite on PostgreSQL, when `STEWARD_POSTGRES` names a server.
#[cfg(feature = "postgres")]
#[path = "."]
#[expect(
    clippy::duplicate_mod,
    reason = "the suite's modules are compiled once per backend, as rustls compiles its API tests"
)]
mod on_postgres {
    macro_rules! mount {
        ($($module:ident: $($test:ident),+;)+) => {
            $(mod $module {
                $(#[test]
                #[cfg_attr(
                    not(pg_tests),
                    ignore = "needs STEWARD_POSTGRES: a PostgreSQL connection string"
                )]
                fn $test() {
                    super::suite::$module::$test();
                })+
            })+
        };
    }
    conformance_suite!(mount);

    #[path = "."]
    mod suite {
        use super::super::postgres::Postgres as Db;

        pub(super) mod audit;
        pub(super) mod fact_log;
        pub(super) mod facts;
        pub(super) mod ingest;
        pub(super) mod keys;
        pub(super) mod lineage;
        pub(super) mod records;
        pub(super) mod secrets;
        pub(super) mod sweep;
    }
}
