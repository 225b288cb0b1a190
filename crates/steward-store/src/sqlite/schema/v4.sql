-- Version 4: the key epoch. One value, drawn again at random by every change to the data keys
-- or the tombstones, in the change's own transaction, whichever process makes it: a custody
-- that read a customer's keys at one epoch and finds it unchanged need not read them again
-- before its next open (steward_logs::KeyStore::key_epoch). Triggers rather than the store's
-- code, so that every writer of these tables moves the epoch, older builds still running
-- included; only someone who also drops the triggers or disables them on their connection
-- changes a key unseen, and a later migration that rebuilds these tables must create them
-- again (a test checks they exist at the current version).
CREATE TABLE key_epoch (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    epoch INTEGER NOT NULL
) STRICT;

INSERT INTO key_epoch (singleton, epoch) VALUES (1, random());

CREATE TRIGGER key_epoch_after_key_insert AFTER INSERT ON wrapped_keys
BEGIN
    UPDATE key_epoch SET epoch = random();
END;

CREATE TRIGGER key_epoch_after_key_update AFTER UPDATE ON wrapped_keys
BEGIN
    UPDATE key_epoch SET epoch = random();
END;

CREATE TRIGGER key_epoch_after_key_delete AFTER DELETE ON wrapped_keys
BEGIN
    UPDATE key_epoch SET epoch = random();
END;

CREATE TRIGGER key_epoch_after_tombstone_insert AFTER INSERT ON key_tombstones
BEGIN
    UPDATE key_epoch SET epoch = random();
END;

CREATE TRIGGER key_epoch_after_tombstone_update AFTER UPDATE ON key_tombstones
BEGIN
    UPDATE key_epoch SET epoch = random();
END;

CREATE TRIGGER key_epoch_after_tombstone_delete AFTER DELETE ON key_tombstones
BEGIN
    UPDATE key_epoch SET epoch = random();
END;
