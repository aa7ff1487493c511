-- Snapshots of aggregate state: one per stream, the newest kept. A state
-- holding personal data is sealed under its subjects' keys (see
-- steward_store_core::Snapshot), so an erasure makes it unreadable.
CREATE TABLE snapshots (
    stream_id      text        PRIMARY KEY,
    stream_version bigint      NOT NULL CHECK (stream_version >= 0),
    state_version  integer     NOT NULL,
    snapshot_id    uuid        NOT NULL,
    subjects       text[]      NOT NULL,
    state          bytea       NOT NULL,
    taken_at       timestamptz NOT NULL
);
