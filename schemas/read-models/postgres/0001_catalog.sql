-- What the projection runner knows about each projection. A projection's
-- read-model tables live in generations (`<table>__g<n>`): the live one
-- serves readers while a newer one is built; positions are the event log's.
CREATE TABLE projection_generations (
    projection          TEXT    NOT NULL,
    generation          BIGINT  NOT NULL,
    -- The projection's code version that builds this generation.
    version             BIGINT  NOT NULL,
    -- 'building', 'live' or 'retired'.
    state               TEXT    NOT NULL,
    -- The checkpoint: the last event applied, and when it was recorded (ms).
    position_commit     BIGINT  NOT NULL DEFAULT 0,
    position_prepare    BIGINT  NOT NULL DEFAULT 0,
    last_recorded_at_ms BIGINT,
    events_applied      BIGINT  NOT NULL DEFAULT 0,
    -- Set while the projection is stopped at an event it cannot apply.
    failed_position     TEXT,
    failed_event_id     TEXT,
    failed_message      TEXT,
    failed_at_ms        BIGINT,
    created_at_ms       BIGINT  NOT NULL,
    updated_at_ms       BIGINT  NOT NULL,
    PRIMARY KEY (projection, generation)
);

CREATE UNIQUE INDEX projection_generations_one_live
    ON projection_generations (projection) WHERE state = 'live';

-- Asks the process running a projection to rebuild it, or to retry after a failure.
CREATE TABLE projection_requests (
    projection      TEXT   NOT NULL,
    request         TEXT   NOT NULL,
    requested_at_ms BIGINT NOT NULL,
    PRIMARY KEY (projection, request)
);

-- Temporary builds "as of" a point of the log, dropped when done (or, if
-- their process died, by the next one that tidies up).
CREATE TABLE projection_replays (
    suffix        TEXT   PRIMARY KEY,
    projection    TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL
);
