//! Appends: one call of `steward_append` (or, for a single event,
//! `steward_append_one`), and what a refusal means.
//!
//! The batch travels as one array per column. The function takes the gate
//! lock, checks the stream's version, allocates positions and a timestamp
//! under a short session-level lock and inserts the events (see
//! `schemas/postgres/0001_event_store.sql`). It raises `SW001` on a version
//! conflict and `SW002` when an event id or a version it meant to take was
//! taken first (an `any` append that lost such a race goes again), neither of
//! them while the session lock is held; after any other error the connection is closed
//! rather than returned to the pool, so a session lock left behind by a
//! failure half-way can never block other appenders. The call runs in its own
//! task so that a caller dropping the append future cannot return the
//! connection to the pool in the middle of it either.
//!
//! A refusal may be a retry of an append that already succeeded: then the
//! stored events are reported with `already_appended`.

use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::{PgDatabaseError, PgPool};
use steward_events::envelope::SealedBox;
use steward_events::{
    AppendResult, ExpectedVersion, NewEvent, Personal, Position, StoreError, StreamId,
};
use steward_store_core::retry::{ExistingEvent, resolve_refused};
use uuid::Uuid;

use crate::error::{PostgresError, query_failed};

/// SQLSTATE raised by `steward_append` when the stream is not at the
/// expected version; the DETAIL holds the actual version (empty: no stream).
const WRONG_VERSION: &str = "SW001";
/// SQLSTATE raised by `steward_append` when an event id is already stored.
const TAKEN: &str = "SW002";

const APPEND: &str = "SELECT o_first_version, o_first_position, o_last_position \
     FROM steward_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// The same for a batch of one, with scalar parameters: most appends are of
/// one event, and the batch function's arrays cost a third of their time.
const APPEND_ONE: &str = "SELECT o_first_version, o_first_position, o_last_position \
     FROM steward_append_one($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// A batch as the function's column arrays, in batch order.
#[derive(Debug, Default, Clone)]
struct Columns {
    event_ids: Vec<Uuid>,
    types: Vec<String>,
    schema_versions: Vec<i32>,
    data: Vec<Value>,
    personal: Vec<Option<Vec<u8>>>,
    correlation_ids: Vec<Uuid>,
    causation_ids: Vec<Option<Uuid>>,
    command_ids: Vec<Option<String>>,
    actors: Vec<String>,
    subjects: Vec<Value>,
}

impl Columns {
    /// Splits a validated, sealed batch into columns, refusing personal parts
    /// that are not sealed.
    fn from_events(events: Vec<NewEvent>) -> Result<Self, StoreError> {
        let mut columns = Columns::default();
        for (index, event) in events.into_iter().enumerate() {
            let invalid = |reason: &str| StoreError::InvalidEvent {
                index,
                event_id: event.event_id,
                reason: reason.to_owned(),
            };
            let personal = match &event.personal {
                None => None,
                Some(Personal::Sealed(SealedBox(bytes))) => Some(bytes.clone()),
                Some(Personal::Plain(_) | Personal::Erased) => {
                    return Err(invalid("the log stores only sealed personal parts"));
                }
            };
            // NUL, which PostgreSQL cannot store, was refused by the store's
            // validation before the batch reached the log.
            let metadata = &event.metadata;
            columns.event_ids.push(event.event_id);
            columns.types.push(event.event_type.as_str().to_owned());
            columns
                .schema_versions
                .push(i32::from(event.schema_version));
            columns.personal.push(personal);
            columns.correlation_ids.push(metadata.correlation_id);
            columns.causation_ids.push(metadata.causation_id);
            columns.command_ids.push(metadata.command_id.clone());
            columns.actors.push(metadata.actor.clone());
            columns.subjects.push(Value::Array(
                metadata
                    .subjects
                    .iter()
                    .map(|s| Value::String(s.as_str().to_owned()))
                    .collect(),
            ));
            columns.data.push(event.data);
        }
        Ok(columns)
    }
}

/// The function's encoding of an expected version; `None` for a version no
/// stream can have.
fn expected_code(expected: ExpectedVersion) -> Option<i64> {
    match expected {
        ExpectedVersion::Any => Some(-1),
        ExpectedVersion::NoStream => Some(-2),
        ExpectedVersion::StreamExists => Some(-3),
        ExpectedVersion::Exact(version) => i64::try_from(version).ok(),
    }
}

/// What one call of `steward_append` did.
enum Called {
    Appended(AppendResult),
    WrongVersion {
        actual: Option<u64>,
    },
    /// An event id or a version was taken by another append first.
    Taken,
}

/// Appends a sealed batch (see [`steward_store_core::EventLog::append`]).
/// `already_appended` tells the caller whether anything was written.
pub(crate) async fn append(
    pool: &PgPool,
    stream: &StreamId,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendResult, StoreError> {
    if events.is_empty() {
        return Err(StoreError::EmptyBatch);
    }
    let columns = Columns::from_events(events)?;
    let ids = columns.event_ids.clone();
    let count = ids.len() as u64;
    let Some(code) = expected_code(expected) else {
        let actual = crate::read::stream_version(pool, stream).await?;
        return Err(StoreError::WrongExpectedVersion {
            stream: stream.clone(),
            expected,
            actual,
        });
    };
    let mut races = 0;
    loop {
        let task = tokio::spawn(call(
            pool.clone(),
            stream.as_str().to_owned(),
            code,
            columns.clone(),
            count,
        ));
        let (actual, taken) = match task.await.map_err(PostgresError::from)?? {
            Called::Appended(appended) => return Ok(appended),
            Called::WrongVersion { actual } => (actual, false),
            Called::Taken => (crate::read::stream_version(pool, stream).await?, true),
        };
        let existing = existing(pool, &ids).await?;
        // None of the ids is stored, so another append took the versions this
        // one read as free. Under `any` or `stream-exists` that is no conflict:
        // read the new last version and go again.
        let lost_race = taken
            && existing.is_empty()
            && matches!(
                expected,
                ExpectedVersion::Any | ExpectedVersion::StreamExists
            );
        if lost_race && races < MAX_RACES {
            races += 1;
            continue;
        }
        return resolve_refused(stream, expected, actual, &ids, &existing);
    }
}

/// How often an `any` append goes again after losing a race for a version
/// before it reports the contention as a conflict.
const MAX_RACES: usize = 32;

/// One call of `steward_append` on a connection of its own, closed after any
/// error the function does not raise on purpose.
async fn call(
    pool: PgPool,
    stream: String,
    expected: i64,
    columns: Columns,
    count: u64,
) -> Result<Called, StoreError> {
    let mut conn = pool.acquire().await.map_err(query_failed)?;
    let query = if count == 1 {
        let subjects: Vec<String> = columns
            .subjects
            .first()
            .and_then(Value::as_array)
            .map(|subjects| {
                subjects
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut columns = columns;
        sqlx::query(APPEND_ONE)
            .bind(stream)
            .bind(expected)
            .bind(columns.event_ids.pop())
            .bind(columns.types.pop())
            .bind(columns.schema_versions.pop())
            .bind(columns.data.pop())
            .bind(columns.personal.pop().flatten())
            .bind(columns.correlation_ids.pop())
            .bind(columns.causation_ids.pop().flatten())
            .bind(columns.command_ids.pop().flatten())
            .bind(columns.actors.pop())
            .bind(subjects)
    } else {
        sqlx::query(APPEND)
            .bind(stream)
            .bind(expected)
            .bind(columns.event_ids)
            .bind(columns.types)
            .bind(columns.schema_versions)
            .bind(columns.data)
            .bind(columns.personal)
            .bind(columns.correlation_ids)
            .bind(columns.causation_ids)
            .bind(columns.command_ids)
            .bind(columns.actors)
            .bind(columns.subjects)
    };
    let result = query.fetch_one(&mut *conn).await;
    let row = match result {
        Ok(row) => row,
        Err(error) => {
            let refusal = error
                .as_database_error()
                .and_then(|e| e.try_downcast_ref::<PgDatabaseError>())
                .and_then(|e| match e.code() {
                    WRONG_VERSION => Some(parse_actual(e.detail())),
                    TAKEN => Some(Ok(Called::Taken)),
                    _ => None,
                });
            return match refusal {
                Some(called) => called,
                None => {
                    // The error may have struck while the session-level alloc
                    // lock was held: never let this session serve again.
                    conn.close_on_drop();
                    drop(conn);
                    Err(query_failed(error))
                }
            };
        }
    };
    drop(conn);
    let get = |name: &str| -> Result<u64, StoreError> {
        let value: i64 = row.try_get(name).map_err(query_failed)?;
        u64::try_from(value)
            .map_err(|_| PostgresError::Unexpected(format!("{name} is {value}")).into())
    };
    let first_version = get("o_first_version")?;
    Ok(Called::Appended(AppendResult {
        first_version,
        last_version: first_version + (count - 1),
        first_position: Position::sequence(get("o_first_position")?),
        last_position: Position::sequence(get("o_last_position")?),
        already_appended: false,
    }))
}

/// The actual version in a `SW001` refusal's DETAIL.
fn parse_actual(detail: Option<&str>) -> Result<Called, StoreError> {
    match detail.unwrap_or_default() {
        "" => Ok(Called::WrongVersion { actual: None }),
        version => version
            .parse()
            .map(|v| Called::WrongVersion { actual: Some(v) })
            .map_err(|_| {
                PostgresError::Unexpected(format!("version conflict with detail `{version}`"))
                    .into()
            }),
    }
}

/// The stored events that carry any of a refused batch's ids.
async fn existing(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<ExistingEvent>, StoreError> {
    let rows = sqlx::query(
        "SELECT event_id, stream_id, stream_version, position FROM events WHERE event_id = ANY($1)",
    )
    .bind(ids.to_vec())
    .fetch_all(pool)
    .await
    .map_err(query_failed)?;
    let mut existing = Vec::with_capacity(rows.len());
    for row in &rows {
        let event_id: Uuid = row.try_get("event_id").map_err(query_failed)?;
        let corrupt = |reason: String| StoreError::Corrupt { event_id, reason };
        let stream_id: String = row.try_get("stream_id").map_err(query_failed)?;
        let version: i64 = row.try_get("stream_version").map_err(query_failed)?;
        let position: i64 = row.try_get("position").map_err(query_failed)?;
        existing.push(ExistingEvent {
            event_id,
            stream_id: StreamId::parse(stream_id).map_err(|e| corrupt(e.to_string()))?,
            stream_version: u64::try_from(version).map_err(|e| corrupt(e.to_string()))?,
            position: Position::sequence(
                u64::try_from(position).map_err(|e| corrupt(e.to_string()))?,
            ),
        });
    }
    Ok(existing)
}
