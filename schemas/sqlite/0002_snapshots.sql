-- Snapshots of aggregate state: one per stream, the newest kept. A state
-- holding personal data is sealed under its subjects' keys (see
-- steward_store_core::Snapshot), so an erasure makes it unreadable.
CREATE TABLE snapshots (
    stream_id      TEXT    PRIMARY KEY,
    stream_version INTEGER NOT NULL,
    state_version  INTEGER NOT NULL,
    snapshot_id    TEXT    NOT NULL,
    -- JSON array of subject ids.
    subjects       TEXT    NOT NULL,
    state          BLOB    NOT NULL,
    -- Microseconds since the Unix epoch, UTC.
    taken_at       INTEGER NOT NULL
) WITHOUT ROWID;
