-- Schema version 1 of the Steward store. Every table is STRICT: SQLite refuses a value of
-- the wrong type instead of storing it. Customer and record ids are their 16 UUID bytes;
-- instants are Unix nanoseconds (steward_core::Timestamp); enums are their string forms.

-- Master keys the store knows, by id: only a check value each, never key bytes.
CREATE TABLE master_keys (
    id TEXT PRIMARY KEY,
    check_nonce BLOB NOT NULL CHECK (length(check_nonce) = 12),
    check_sealed BLOB NOT NULL
) STRICT;

-- One row: the master key the data keys are wrapped under, and the audit key's check value.
CREATE TABLE meta (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    current_master_key TEXT NOT NULL REFERENCES master_keys (id),
    audit_key_check BLOB NOT NULL CHECK (length(audit_key_check) = 32),
    created_at INTEGER NOT NULL
) STRICT;

-- Wrapped data keys. A rowid table on purpose: the interior pages of a rowid table hold only
-- rowids, while those of a WITHOUT ROWID table may keep copies of deleted rows as divider
-- keys, which secure_delete does not wipe. Wrapped bytes live only in leaf cells.
CREATE TABLE wrapped_keys (
    customer BLOB NOT NULL CHECK (length(customer) = 16),
    version INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
    master_key TEXT NOT NULL REFERENCES master_keys (id),
    nonce BLOB NOT NULL CHECK (length(nonce) = 12),
    ciphertext BLOB NOT NULL CHECK (length(ciphertext) = 48),
    UNIQUE (customer, version)
) STRICT;

-- What a shred left: every version up to `through` is destroyed (0: none had been issued).
CREATE TABLE key_tombstones (
    customer BLOB PRIMARY KEY CHECK (length(customer) = 16),
    through INTEGER NOT NULL CHECK (through BETWEEN 0 AND 4294967295)
) STRICT, WITHOUT ROWID;

-- The audit chain: the sequence number is the key, so a taken number is refused.
CREATE TABLE audit_entries (
    sequence INTEGER PRIMARY KEY CHECK (sequence >= 0),
    at INTEGER NOT NULL,
    entry TEXT NOT NULL
) STRICT;

-- Signed checkpoints, by the number of entries they cover.
CREATE TABLE audit_checkpoints (
    entries INTEGER PRIMARY KEY CHECK (entries >= 0),
    checkpoint TEXT NOT NULL
) STRICT;

-- Sealed records: the bytes as sealed, and the header fields the sweep and exports select on.
CREATE TABLE records (
    id BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
    customer BLOB NOT NULL CHECK (length(customer) = 16),
    created_at INTEGER NOT NULL,
    key_version INTEGER NOT NULL CHECK (key_version BETWEEN 1 AND 4294967295),
    category TEXT NOT NULL,
    sealed BLOB NOT NULL
) STRICT;
-- Covers the sweep's metadata scan: it never reads the table, whose rows carry the bytes.
CREATE INDEX records_by_customer_time ON records (customer, created_at, id, category, key_version);

-- Consent receipts (steward_consent::ConsentReceipt), in receipt order.
CREATE TABLE consent_changes (
    receipt INTEGER PRIMARY KEY CHECK (receipt BETWEEN 1 AND 4294967295),
    customer BLOB NOT NULL CHECK (length(customer) = 16),
    level TEXT NOT NULL,
    previous_level TEXT NOT NULL,
    effective INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    actor TEXT NOT NULL CHECK (actor IN ('customer', 'admin')),
    admin TEXT,
    basis TEXT,
    channel TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    CHECK ((actor = 'admin') = (admin IS NOT NULL)),
    CHECK ((admin IS NULL) = (basis IS NULL)),
    CHECK (effective >= recorded_at)
) STRICT;
CREATE INDEX consent_changes_by_customer ON consent_changes (customer, effective);

-- Customer relationships [started_at, ended_at); at most one open per customer.
CREATE TABLE relationships (
    customer BLOB NOT NULL CHECK (length(customer) = 16),
    started_at INTEGER NOT NULL,
    ended_at INTEGER CHECK (ended_at IS NULL OR ended_at >= started_at),
    PRIMARY KEY (customer, started_at)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX relationships_one_open ON relationships (customer) WHERE ended_at IS NULL;

-- Legal holds as they stand now; hold_events is their history.
CREATE TABLE legal_holds (
    id INTEGER PRIMARY KEY CHECK (id >= 0),
    customer BLOB NOT NULL CHECK (length(customer) = 16),
    scope TEXT NOT NULL,
    reason TEXT NOT NULL,
    placed_by TEXT NOT NULL,
    placed_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL CHECK (expires_at > placed_at),
    released_at INTEGER CHECK (released_at IS NULL OR released_at >= placed_at)
) STRICT;
CREATE INDEX legal_holds_by_customer ON legal_holds (customer);

-- Every placing, extension and release (steward_retention::HoldEvent), in recording order.
CREATE TABLE hold_events (
    seq INTEGER PRIMARY KEY,
    hold INTEGER NOT NULL REFERENCES legal_holds (id),
    at INTEGER NOT NULL,
    event TEXT NOT NULL
) STRICT;
CREATE INDEX hold_events_by_hold ON hold_events (hold);

-- The stewards who may open log records (logs.access).
CREATE TABLE roster (
    steward TEXT PRIMARY KEY
) STRICT, WITHOUT ROWID;
