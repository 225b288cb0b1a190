-- Schema version 2: the facts check() reads (consent receipts, relationships, hold events,
-- roster changes) become one log, each entry chained under the audit key (src/fact_log.rs),
-- so a row edited, deleted, inserted or reordered outside Steward is found at open. The v1
-- tables that held them as plain rows are dropped; the migration refuses a file that still
-- holds any (see schema.rs).
CREATE TABLE fact_log (
    sequence INTEGER PRIMARY KEY CHECK (sequence >= 1),
    event TEXT NOT NULL,
    hash BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;

-- Snapshots of the facts as the log's first `sequence` entries made them (src/fact_snapshot.rs):
-- start-up replays the newest one, checked by its MAC, and the entries after it. Only the
-- newest is kept.
CREATE TABLE fact_snapshots (
    sequence INTEGER PRIMARY KEY CHECK (sequence >= 1),
    head BLOB NOT NULL CHECK (length(head) = 32),
    body BLOB NOT NULL,
    mac BLOB NOT NULL CHECK (length(mac) = 32)
) STRICT;

DROP TABLE roster;
DROP TABLE hold_events;
DROP TABLE legal_holds;
DROP TABLE relationships;
DROP TABLE consent_changes;
