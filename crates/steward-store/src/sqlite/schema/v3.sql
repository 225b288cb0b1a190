-- Version 3: export lineage (issue 20). Which training export jobs included which customers'
-- records: ids and counts only, never content. Not a fact the policy reads, so not in the fact
-- log; the audit trail holds each job's plan and outcome.
CREATE TABLE export_jobs (
    job BLOB PRIMARY KEY CHECK (length(job) = 16),
    scope TEXT NOT NULL,
    at_nanos INTEGER NOT NULL,
    -- The age recipients' public strings, as a JSON array (empty: a plaintext export).
    recipients TEXT NOT NULL
) STRICT;

CREATE TABLE export_customers (
    job BLOB NOT NULL REFERENCES export_jobs (job),
    customer BLOB NOT NULL CHECK (length(customer) = 16),
    records INTEGER NOT NULL CHECK (records >= 1),
    PRIMARY KEY (job, customer)
) STRICT;

CREATE INDEX export_customers_by_customer ON export_customers (customer);
