-- Appends ONE event: steward_append for a batch of one, with scalar
-- parameters. The batch function's twelve arrays (decoded, checked and
-- unnested on every call) cost about a third of a single append's time
-- under concurrency; most appends are of one event. Same locks, same
-- checks, same SQLSTATEs ('SW001' wrong version, 'SW002' taken) and the
-- same reasons for each as in steward_append (0001_event_store.sql).
CREATE FUNCTION steward_append_one(
    p_stream          text,
    p_expected        bigint,
    p_event_id        uuid,
    p_type            text,
    p_schema_version  integer,
    p_data            jsonb,
    p_personal        bytea,
    p_correlation_id  uuid,
    p_causation_id    uuid,
    p_command_id      text,
    p_actor           text,
    p_subjects        text[],
    OUT o_first_version  bigint,
    OUT o_first_position bigint,
    OUT o_last_position  bigint
)
LANGUAGE plpgsql
AS $$
DECLARE
    v_current     bigint;
    v_position    bigint;
    v_recorded_at timestamptz;
    v_inserted    integer;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1398036292, 1);

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

    PERFORM pg_advisory_lock(1398036292, 2);
    v_position := nextval('steward_event_position');
    v_recorded_at := clock_timestamp();
    PERFORM pg_advisory_unlock(1398036292, 2);

    INSERT INTO events (
        position, event_id, stream_id, stream_version, event_type, schema_version,
        data, personal, correlation_id, causation_id, command_id, actor, subjects,
        recorded_at
    )
    VALUES (
        v_position, p_event_id, p_stream, o_first_version, p_type, p_schema_version,
        p_data, p_personal, p_correlation_id, p_causation_id, p_command_id, p_actor,
        coalesce(p_subjects, '{}'), v_recorded_at
    )
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_inserted = ROW_COUNT;
    IF v_inserted < 1 THEN
        RAISE EXCEPTION 'the event id or the version was taken by another append'
            USING ERRCODE = 'SW002';
    END IF;
    o_first_position := v_position;
    o_last_position := v_position;
END;
$$;
