-- Leases: which process runs a background worker (the timers, each saga,
-- the relay) now. A holder renews its lease well before it expires; a
-- holder that dies lets it expire, and another takes it over.
CREATE TABLE leases (
    name        TEXT    PRIMARY KEY,
    holder      TEXT    NOT NULL,
    -- Milliseconds since the Unix epoch, UTC.
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
