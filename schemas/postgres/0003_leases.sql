-- Leases: which process runs a background worker (the timers, each saga,
-- the relay) now. A holder renews its lease well before it expires; a
-- holder that dies lets it expire, and another takes it over. Expiry is by
-- the database's clock, so the nodes' clocks need not agree.
CREATE TABLE leases (
    name        text        PRIMARY KEY,
    holder      text        NOT NULL,
    expires_at  timestamptz NOT NULL
);
