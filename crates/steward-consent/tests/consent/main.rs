//! steward-consent's integration tests, one binary: the consent properties (invariants 2
//! and 3 at the ledger) and the import errors (invariant 9).

mod consent_properties;
mod import_errors;
