-- The PostgreSQL store of Steward, shared by several proxy nodes. Created if missing by
-- PgStore::connect, under an advisory lock, in the schema the configuration names. Customer
-- and record ids are their 16 UUID bytes; instants are Unix nanoseconds; enums are their
-- string forms; entries, checkpoints, wrapped keys and fact events are their serde JSON.

-- Master keys the store knows, by id: only a check value each, never key bytes.
CREATE TABLE IF NOT EXISTS master_keys (
    id text PRIMARY KEY,
    check_nonce bytea NOT NULL CHECK (length(check_nonce) = 12),
    check_sealed bytea NOT NULL
);

-- One row: the schema version, the master key data keys are wrapped under, the audit key's
-- check value.
CREATE TABLE IF NOT EXISTS meta (
    singleton int PRIMARY KEY CHECK (singleton = 1),
    schema_version int NOT NULL,
    current_master_key text NOT NULL REFERENCES master_keys (id),
    audit_key_check bytea NOT NULL CHECK (length(audit_key_check) = 32)
);

-- Wrapped data keys, one per customer and version: the primary key is the compare-and-swap
-- (the first node to insert a version wins). `sealed` counts the records stored under the
-- version, so the per-version limit holds across nodes and restarts.
CREATE TABLE IF NOT EXISTS data_keys (
    customer bytea NOT NULL CHECK (length(customer) = 16),
    version bigint NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
    master_key text NOT NULL REFERENCES master_keys (id),
    wrapped text NOT NULL,
    sealed bigint NOT NULL DEFAULT 0 CHECK (sealed >= 0),
    PRIMARY KEY (customer, version)
);

-- What a shred left: every version up to `through` is destroyed (0: none had been issued).
CREATE TABLE IF NOT EXISTS key_tombstones (
    customer bytea PRIMARY KEY CHECK (length(customer) = 16),
    through bigint NOT NULL CHECK (through BETWEEN 0 AND 4294967295)
);

-- The head of the one audit chain: appends lock this row, check the entry follows it and
-- move it, in one transaction (hash NULL: the chain is empty).
CREATE TABLE IF NOT EXISTS audit_head (
    singleton int PRIMARY KEY CHECK (singleton = 1),
    entries bigint NOT NULL CHECK (entries >= 0),
    hash bytea CHECK (length(hash) = 32)
);

CREATE TABLE IF NOT EXISTS audit_entries (
    sequence bigint PRIMARY KEY CHECK (sequence >= 0),
    entry text NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_checkpoints (
    entries bigint PRIMARY KEY CHECK (entries >= 0),
    checkpoint text NOT NULL
);

CREATE TABLE IF NOT EXISTS records (
    id bytea PRIMARY KEY CHECK (length(id) = 16),
    customer bytea NOT NULL CHECK (length(customer) = 16),
    created_at bigint NOT NULL,
    key_version bigint NOT NULL CHECK (key_version BETWEEN 1 AND 4294967295),
    category text NOT NULL,
    sealed bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_customer_time ON records (customer, created_at, id);

-- Every change to the facts check() reads (consent receipts, relationships, hold events,
-- roster changes), in one total order: writers lock facts_head, so `seq` is also commit
-- order and a node that applied up to n has seen every change up to n. Each entry's hash
-- chains it under the audit key (src/fact_log.rs): an edited row is found at open.
CREATE TABLE IF NOT EXISTS fact_events (
    seq bigint PRIMARY KEY CHECK (seq >= 1),
    event text NOT NULL,
    hash bytea NOT NULL CHECK (length(hash) = 32)
);

-- Snapshots of the facts as the log's first `sequence` entries made them (src/fact_snapshot.rs):
-- a node starting replays the newest one, checked by its MAC, and the entries after it.
CREATE TABLE IF NOT EXISTS fact_snapshots (
    sequence bigint PRIMARY KEY CHECK (sequence >= 1),
    head bytea NOT NULL CHECK (length(head) = 32),
    body bytea NOT NULL,
    mac bytea NOT NULL CHECK (length(mac) = 32)
);

CREATE TABLE IF NOT EXISTS facts_head (
    singleton int PRIMARY KEY CHECK (singleton = 1),
    seq bigint NOT NULL CHECK (seq >= 0)
);

-- Export lineage (schema version 3, issue 20): which training export jobs included which
-- customers' records, ids and counts only. Not a fact the policy reads: not in the fact log.
CREATE TABLE IF NOT EXISTS export_jobs (
    job bytea PRIMARY KEY CHECK (length(job) = 16),
    scope text NOT NULL,
    at_nanos bigint NOT NULL,
    recipients text NOT NULL
);

CREATE TABLE IF NOT EXISTS export_customers (
    job bytea NOT NULL REFERENCES export_jobs (job),
    customer bytea NOT NULL CHECK (length(customer) = 16),
    records bigint NOT NULL CHECK (records >= 1),
    PRIMARY KEY (job, customer)
);

CREATE INDEX IF NOT EXISTS export_customers_by_customer ON export_customers (customer);
