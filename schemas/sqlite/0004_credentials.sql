-- Integration credentials, sealed under the master key and bound to their
-- name; never in the log.
CREATE TABLE credentials (
    name       TEXT PRIMARY KEY,
    sealed     BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
