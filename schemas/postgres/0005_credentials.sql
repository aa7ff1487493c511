-- Integration credentials, sealed under the master key and bound to their
-- name; never in the log.
CREATE TABLE credentials (
    name       text        PRIMARY KEY,
    sealed     bytea       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
