//! steward-retention's integration tests, one binary: periods, the retention properties
//! (invariant 7) and the sweep scenarios.

mod period_properties;
mod relationship_properties;
mod retention_properties;
mod retention_scenarios;
