-- Steward's event store on SQLite: the embedded default.
--
-- One writer at a time (BEGIN IMMEDIATE), so positions are assigned in
-- commit order and a reader never sees a hole that fills later.

CREATE TABLE events (
    -- The global position: a rowid alias, assigned inside the write transaction.
    position        INTEGER PRIMARY KEY,
    event_id        TEXT    NOT NULL UNIQUE,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    data            TEXT    NOT NULL,
    -- The sealed personal part (never plaintext).
    personal        BLOB,
    correlation_id  TEXT    NOT NULL,
    causation_id    TEXT,
    command_id      TEXT,
    actor           TEXT    NOT NULL,
    -- JSON array of subject ids.
    subjects        TEXT    NOT NULL,
    -- Microseconds since the Unix epoch, UTC; never decreasing along `position`.
    recorded_at     INTEGER NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_by_command ON events (command_id) WHERE command_id IS NOT NULL;

-- Per-subject keys, wrapped under the master key. An erased subject keeps a
-- row with no key, so no new key can ever be made for them.
CREATE TABLE subject_keys (
    subject_id  TEXT PRIMARY KEY,
    wrapped_key BLOB,
    created_at  INTEGER NOT NULL,
    erased_at   INTEGER
) WITHOUT ROWID;

CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
