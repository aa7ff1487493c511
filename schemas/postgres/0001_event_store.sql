-- Steward's event store on PostgreSQL.
--
-- The global log is `events`, numbered by `steward_event_position`. Writers
-- append only through `steward_append` (one round trip, autocommit); readers
-- page through `events` by position and use `steward_gate_holders` to wait out
-- appends that may still fill a hole below a position they can already see.
--
-- Two advisory locks, both with the two-int key form (first key 1398036292,
-- "STWD", so they never collide with sqlx's own single-bigint migration lock):
--   (1398036292, 1) the gate:  taken SHARED, per transaction, by every append
--                              before it allocates positions; held to commit.
--   (1398036292, 2) the alloc: taken EXCLUSIVE, per session, around position
--                              and timestamp allocation only; released at once.

-- Global positions: 1, 2, 3, ... Holes appear only where an append rolled back
-- (or after a crash); CACHE 1 keeps values in allocation order across sessions.
CREATE SEQUENCE steward_event_position AS bigint START WITH 1 MINVALUE 1 CACHE 1;

CREATE TABLE events (
    position        bigint      PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version >= 0),
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL,
    data            jsonb       NOT NULL,
    -- The sealed personal part (`SealedBox` bytes), never plaintext.
    personal        bytea,
    correlation_id  uuid        NOT NULL,
    causation_id    uuid,
    command_id      text,
    actor           text        NOT NULL,
    subjects        text[]      NOT NULL DEFAULT '{}',
    recorded_at     timestamptz NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_command_id ON events (command_id) WHERE command_id IS NOT NULL;

-- Per-subject keys, wrapped by the master key. An erased subject keeps a
-- tombstone (wrapped_key NULL) so that no new key is ever made for them.
CREATE TABLE subject_keys (
    subject_id  text        PRIMARY KEY,
    wrapped_key bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    erased_at   timestamptz,
    CHECK ((wrapped_key IS NULL) = (erased_at IS NOT NULL))
);

-- Store-wide values, e.g. the master-key check value.
CREATE TABLE store_meta (
    key   text  PRIMARY KEY,
    value bytea NOT NULL
);

-- Appends a batch to a stream, or raises:
--   SQLSTATE 'SW001' when the stream is not at the expected version
--                    (DETAIL: the actual last version, or '' for no stream);
--   SQLSTATE 'SW002' when an event id of the batch, or one of the versions it
--                    was about to take, was taken by another append first.
-- p_expected: -1 any, -2 no stream, -3 stream exists, n >= 0 exactly n.
-- All arrays have one element per event, in batch order; p_subjects holds a
-- JSON array of subject ids per event.
--
-- A stream's versions are guarded by the unique (stream_id, stream_version)
-- index alone: two appends that read the same last version race on it, the
-- later one waits for the earlier to commit and then inserts nothing, and the
-- caller learns of it through SW002 (and retries, for `any`). Nothing is
-- raised while the session-level alloc lock is held.
CREATE FUNCTION steward_append(
    p_stream          text,
    p_expected        bigint,
    p_event_ids       uuid[],
    p_types           text[],
    p_schema_versions integer[],
    p_data            jsonb[],
    p_personal        bytea[],
    p_correlation_ids uuid[],
    p_causation_ids   uuid[],
    p_command_ids     text[],
    p_actors          text[],
    p_subjects        jsonb[],
    OUT o_first_version  bigint,
    OUT o_first_position bigint,
    OUT o_last_position  bigint
)
LANGUAGE plpgsql
AS $$
DECLARE
    v_count       integer := coalesce(cardinality(p_event_ids), 0);
    v_current     bigint;
    v_positions   bigint[];
    v_recorded_at timestamptz;
    v_inserted    integer;
BEGIN
    IF v_count = 0 THEN
        RAISE EXCEPTION 'steward_append: empty batch';
    END IF;
    IF cardinality(p_types) IS DISTINCT FROM v_count
        OR cardinality(p_schema_versions) IS DISTINCT FROM v_count
        OR cardinality(p_data) IS DISTINCT FROM v_count
        OR cardinality(p_personal) IS DISTINCT FROM v_count
        OR cardinality(p_correlation_ids) IS DISTINCT FROM v_count
        OR cardinality(p_causation_ids) IS DISTINCT FROM v_count
        OR cardinality(p_command_ids) IS DISTINCT FROM v_count
        OR cardinality(p_actors) IS DISTINCT FROM v_count
        OR cardinality(p_subjects) IS DISTINCT FROM v_count
    THEN
        RAISE EXCEPTION 'steward_append: the batch arrays differ in length';
    END IF;

    -- (a) The gate, held until this transaction ends: a reader that finds a
    -- hole waits for every append that held it when the reader looked.
    PERFORM pg_advisory_xact_lock_shared(1398036292, 1);

    -- (b) Optimistic concurrency: the stream's last version.
    SELECT e.stream_version INTO v_current
    FROM events e WHERE e.stream_id = p_stream
    ORDER BY e.stream_version DESC LIMIT 1;
    IF (p_expected = -2 AND v_current IS NOT NULL)
        OR (p_expected = -3 AND v_current IS NULL)
        OR (p_expected >= 0 AND v_current IS DISTINCT FROM p_expected)
    THEN
        RAISE EXCEPTION 'stream % is at version %', p_stream, coalesce(v_current::text, 'none')
            USING ERRCODE = 'SW001', DETAIL = coalesce(v_current::text, '');
    END IF;
    o_first_version := coalesce(v_current + 1, 0);

    -- (c) Positions and one timestamp, allocated together under the alloc
    -- lock, so that recorded_at never decreases along positions. The lock
    -- covers only the allocation; the rows are written after it.
    PERFORM pg_advisory_lock(1398036292, 2);
    v_positions := ARRAY(SELECT nextval('steward_event_position') FROM generate_series(1, v_count));
    v_recorded_at := clock_timestamp();
    PERFORM pg_advisory_unlock(1398036292, 2);

    -- Ids or versions already taken are found by ON CONFLICT, not by a lookup
    -- beforehand: PL/pgSQL caches a generic plan for such a lookup, planned
    -- while the table was small, and it became a scan of the whole log.
    INSERT INTO events (
        position, event_id, stream_id, stream_version, event_type, schema_version,
        data, personal, correlation_id, causation_id, command_id, actor, subjects,
        recorded_at
    )
    SELECT b.position, b.event_id, p_stream, o_first_version + b.ord - 1, b.event_type,
           b.schema_version, b.data, b.personal, b.correlation_id, b.causation_id,
           b.command_id, b.actor, ARRAY(SELECT jsonb_array_elements_text(b.subjects)),
           v_recorded_at
    FROM unnest(v_positions, p_event_ids, p_types, p_schema_versions, p_data, p_personal,
                p_correlation_ids, p_causation_ids, p_command_ids, p_actors, p_subjects)
         WITH ORDINALITY AS b(position, event_id, event_type, schema_version, data, personal,
                              correlation_id, causation_id, command_id, actor, subjects, ord)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_inserted = ROW_COUNT;
    IF v_inserted < v_count THEN
        RAISE EXCEPTION 'an event id or version of the batch was taken by another append'
            USING ERRCODE = 'SW002';
    END IF;
    o_first_position := v_positions[1];
    o_last_position := v_positions[v_count];
END;
$$;


-- The virtual transaction ids of the appends holding the gate right now.
CREATE FUNCTION steward_gate_holders() RETURNS text[]
LANGUAGE sql VOLATILE
AS $$
    SELECT coalesce(array_agg(l.virtualtransaction), '{}')
    FROM pg_locks l
    WHERE l.locktype = 'advisory'
      AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
      AND l.classid = 1398036292::oid
      AND l.objid = 1::oid
      AND l.objsubid = 2
      AND l.granted
$$;
