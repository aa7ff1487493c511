//! The runner's bookkeeping in the read-model database: each projection's
//! generations with their checkpoints and failures, requests to rebuild or
//! retry, and temporary replays.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use steward_events::{Position, RecordedEvent};

use crate::db::{ReadDb, from_sql_int, instant, sql_int};
use crate::error::ProjectionError;
use crate::tables::Tables;

/// What a generation is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationState {
    /// Being built from the beginning of the log; not yet read.
    Building,
    /// The one readers use.
    Live,
    /// Replaced; dropped after a grace period for readers still on it.
    Retired,
}

impl GenerationState {
    fn as_str(self) -> &'static str {
        match self {
            GenerationState::Building => "building",
            GenerationState::Live => "live",
            GenerationState::Retired => "retired",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "live" => GenerationState::Live,
            "retired" => GenerationState::Retired,
            _ => GenerationState::Building,
        }
    }
}

/// Where a projection stopped because it could not apply an event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The event's global position.
    pub position: String,
    /// The event's id.
    pub event_id: String,
    /// Why it could not be applied.
    pub message: String,
    /// When that happened.
    pub at: DateTime<Utc>,
}

/// One copy of a projection's tables and its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// The projection.
    pub projection: String,
    /// Which copy.
    pub generation: i64,
    /// The code version that builds it.
    pub version: i64,
    /// What it is for.
    pub state: GenerationState,
    /// The last event applied.
    pub position: Position,
    /// When that event was recorded.
    pub last_recorded_at: Option<DateTime<Utc>>,
    /// How many events it has applied.
    pub events_applied: i64,
    /// Set while stopped at an event it cannot apply.
    pub failure: Option<Failure>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Generation {
    /// Its tables.
    pub fn tables(&self) -> Tables {
        Tables::generation(self.generation)
    }
}

/// A request to the process running a projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Build it again from the beginning, then swap.
    Rebuild,
    /// Try again the event it failed at.
    Retry,
}

impl Request {
    fn as_str(self) -> &'static str {
        match self {
            Request::Rebuild => "rebuild",
            Request::Retry => "retry",
        }
    }
}

const COLUMNS: &str = "projection, generation, version, state, position_commit, position_prepare, \
    last_recorded_at_ms, events_applied, failed_position, failed_event_id, failed_message, \
    failed_at_ms, updated_at_ms";

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn generation_from_row(row: &AnyRow) -> Result<Generation, sqlx::Error> {
    let failure = match row.try_get::<Option<String>, _>("failed_position")? {
        Some(position) => Some(Failure {
            position,
            event_id: row
                .try_get::<Option<String>, _>("failed_event_id")?
                .unwrap_or_default(),
            message: row
                .try_get::<Option<String>, _>("failed_message")?
                .unwrap_or_default(),
            at: instant(row.try_get::<Option<i64>, _>("failed_at_ms")?.unwrap_or(0)),
        }),
        None => None,
    };
    Ok(Generation {
        projection: row.try_get("projection")?,
        generation: row.try_get("generation")?,
        version: row.try_get("version")?,
        state: GenerationState::parse(&row.try_get::<String, _>("state")?),
        position: Position::commit_prepare(
            from_sql_int(row.try_get("position_commit")?),
            from_sql_int(row.try_get("position_prepare")?),
        ),
        last_recorded_at: row
            .try_get::<Option<i64>, _>("last_recorded_at_ms")?
            .map(instant),
        events_applied: row.try_get("events_applied")?,
        failure,
        updated_at: instant(row.try_get("updated_at_ms")?),
    })
}

/// Every generation of a projection, oldest first.
pub async fn generations(
    db: &ReadDb,
    projection: &str,
) -> Result<Vec<Generation>, ProjectionError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM projection_generations WHERE projection = $1 ORDER BY generation"
    )))
    .bind(projection)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(generation_from_row)
        .collect::<Result<_, _>>()?)
}

/// The generation readers use, if one is built.
pub async fn live(db: &ReadDb, projection: &str) -> Result<Option<Generation>, ProjectionError> {
    Ok(generations(db, projection)
        .await?
        .into_iter()
        .find(|generation| generation.state == GenerationState::Live))
}

/// Starts a new generation (to be built) and creates its tables.
/// `statements` gives, for the new generation's tables, the statements that
/// drop and create them.
pub(crate) async fn create_generation(
    db: &ReadDb,
    projection: &str,
    version: u32,
    statements: impl FnOnce(&Tables) -> (Vec<String>, Vec<String>),
) -> Result<Generation, ProjectionError> {
    let mut tx = db.begin_write().await?;
    let next: i64 = sqlx::query(
        "SELECT COALESCE(MAX(generation), 0) + 1 AS next FROM projection_generations WHERE projection = $1",
    )
    .bind(projection)
    .fetch_one(&mut *tx)
    .await?
    .try_get("next")?;
    let (drop, create) = statements(&Tables::generation(next));
    // Left over from a crash between creating the tables and recording them?
    for statement in drop.iter().chain(&create) {
        sqlx::query(AssertSqlSafe(statement.as_str()))
            .execute(&mut *tx)
            .await?;
    }
    let now = now_ms();
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO projection_generations \
         (projection, generation, version, state, created_at_ms, updated_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING {COLUMNS}"
    )))
    .bind(projection)
    .bind(next)
    .bind(i64::from(version))
    .bind(GenerationState::Building.as_str())
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(generation_from_row(&row)?)
}

/// Claims a generation's checkpoint for the transaction about to apply
/// events after it: fails if it is no longer where this runner left it
/// (another process applied events meanwhile). On PostgreSQL the row stays
/// locked until the transaction ends, so a second writer waits here and
/// then fails, before it applies anything.
pub(crate) async fn claim(
    connection: &mut AnyConnection,
    generation: &Generation,
) -> Result<(), ProjectionError> {
    let claimed = sqlx::query(
        "UPDATE projection_generations SET updated_at_ms = $1 \
         WHERE projection = $2 AND generation = $3 AND position_commit = $4 AND position_prepare = $5",
    )
    .bind(now_ms())
    .bind(&generation.projection)
    .bind(generation.generation)
    .bind(sql_int(generation.position.commit()))
    .bind(sql_int(generation.position.prepare()))
    .execute(&mut *connection)
    .await?;
    if claimed.rows_affected() != 1 {
        return Err(ProjectionError::CheckpointMoved {
            projection: generation.projection.clone(),
            generation: generation.generation,
        });
    }
    Ok(())
}

/// Moves a generation's checkpoint from `generation.position` to the last
/// of `events`, inside the transaction that applied them. Fails if the
/// checkpoint is no longer where this runner left it.
pub(crate) async fn advance(
    connection: &mut AnyConnection,
    generation: &Generation,
    events: &[RecordedEvent],
) -> Result<Generation, ProjectionError> {
    let Some(last) = events.last() else {
        return Ok(generation.clone());
    };
    let applied = i64::try_from(events.len()).unwrap_or(i64::MAX);
    let moved = sqlx::query(
        "UPDATE projection_generations SET position_commit = $1, position_prepare = $2, \
         last_recorded_at_ms = $3, events_applied = events_applied + $4, \
         failed_position = NULL, failed_event_id = NULL, failed_message = NULL, failed_at_ms = NULL, \
         updated_at_ms = $5 \
         WHERE projection = $6 AND generation = $7 AND position_commit = $8 AND position_prepare = $9",
    )
    .bind(sql_int(last.global_position.commit()))
    .bind(sql_int(last.global_position.prepare()))
    .bind(last.recorded_at.timestamp_millis())
    .bind(applied)
    .bind(now_ms())
    .bind(&generation.projection)
    .bind(generation.generation)
    .bind(sql_int(generation.position.commit()))
    .bind(sql_int(generation.position.prepare()))
    .execute(&mut *connection)
    .await?;
    if moved.rows_affected() != 1 {
        return Err(ProjectionError::CheckpointMoved {
            projection: generation.projection.clone(),
            generation: generation.generation,
        });
    }
    Ok(Generation {
        position: last.global_position,
        last_recorded_at: Some(last.recorded_at),
        events_applied: generation.events_applied + applied,
        failure: None,
        ..generation.clone()
    })
}

/// Records that a generation stopped at `event`.
pub(crate) async fn record_failure(
    db: &ReadDb,
    generation: &Generation,
    event: &RecordedEvent,
    message: &str,
) -> Result<Generation, ProjectionError> {
    let now = Utc::now();
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE projection_generations SET failed_position = $1, failed_event_id = $2, \
         failed_message = $3, failed_at_ms = $4, updated_at_ms = $4 \
         WHERE projection = $5 AND generation = $6",
    )
    .bind(event.global_position.to_string())
    .bind(event.event_id.to_string())
    .bind(message)
    .bind(now.timestamp_millis())
    .bind(&generation.projection)
    .bind(generation.generation)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Generation {
        failure: Some(Failure {
            position: event.global_position.to_string(),
            event_id: event.event_id.to_string(),
            message: message.to_owned(),
            at: now,
        }),
        ..generation.clone()
    })
}

/// Creates `generation`'s deferred indexes and makes it the one readers
/// use, retiring the previous one and settling a pending rebuild request,
/// in one transaction: a reader sees either the old tables or the new ones,
/// indexed.
pub(crate) async fn promote(
    db: &ReadDb,
    generation: &Generation,
    indexes: Vec<String>,
) -> Result<Generation, ProjectionError> {
    let mut tx = db.begin_write().await?;
    for statement in &indexes {
        sqlx::query(AssertSqlSafe(statement.as_str()))
            .execute(&mut *tx)
            .await?;
    }
    let now = now_ms();
    sqlx::query(
        "UPDATE projection_generations SET state = $1, updated_at_ms = $2 \
         WHERE projection = $3 AND state = $4",
    )
    .bind(GenerationState::Retired.as_str())
    .bind(now)
    .bind(&generation.projection)
    .bind(GenerationState::Live.as_str())
    .execute(&mut *tx)
    .await?;
    let promoted = sqlx::query(
        "UPDATE projection_generations SET state = $1, updated_at_ms = $2 \
         WHERE projection = $3 AND generation = $4",
    )
    .bind(GenerationState::Live.as_str())
    .bind(now)
    .bind(&generation.projection)
    .bind(generation.generation)
    .execute(&mut *tx)
    .await?;
    if promoted.rows_affected() != 1 {
        // Discarded meanwhile: keep the old generation serving.
        tx.rollback().await?;
        return Err(ProjectionError::CheckpointMoved {
            projection: generation.projection.clone(),
            generation: generation.generation,
        });
    }
    // The rebuild asked for is done, in the same breath.
    sqlx::query("DELETE FROM projection_requests WHERE projection = $1 AND request = $2")
        .bind(&generation.projection)
        .bind(Request::Rebuild.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Generation {
        state: GenerationState::Live,
        updated_at: instant(now),
        ..generation.clone()
    })
}

/// Drops a generation's tables and forgets it.
pub(crate) async fn discard(
    db: &ReadDb,
    generation: &Generation,
    drop: Vec<String>,
) -> Result<(), ProjectionError> {
    let mut tx = db.begin_write().await?;
    for statement in &drop {
        sqlx::query(AssertSqlSafe(statement.as_str()))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM projection_generations WHERE projection = $1 AND generation = $2")
        .bind(&generation.projection)
        .bind(generation.generation)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Asks whoever runs `projection` to do `request`.
pub async fn request(
    db: &ReadDb,
    projection: &str,
    request: Request,
) -> Result<(), ProjectionError> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO projection_requests (projection, request, requested_at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (projection, request) DO UPDATE SET requested_at_ms = excluded.requested_at_ms",
    )
    .bind(projection)
    .bind(request.as_str())
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether `request` is pending for `projection`.
pub async fn is_requested(
    db: &ReadDb,
    projection: &str,
    request: Request,
) -> Result<bool, ProjectionError> {
    let row = sqlx::query(
        "SELECT 1 AS pending FROM projection_requests WHERE projection = $1 AND request = $2",
    )
    .bind(projection)
    .bind(request.as_str())
    .fetch_optional(db.pool())
    .await?;
    Ok(row.is_some())
}

/// When `request` was last made for `projection`, if it is pending.
pub(crate) async fn requested_at(
    db: &ReadDb,
    projection: &str,
    request: Request,
) -> Result<Option<DateTime<Utc>>, ProjectionError> {
    let row = sqlx::query(
        "SELECT requested_at_ms FROM projection_requests WHERE projection = $1 AND request = $2",
    )
    .bind(projection)
    .bind(request.as_str())
    .fetch_optional(db.pool())
    .await?;
    Ok(row
        .map(|row| row.try_get::<i64, _>("requested_at_ms"))
        .transpose()?
        .map(instant))
}

/// Marks `request` as done.
pub(crate) async fn clear_request(
    db: &ReadDb,
    projection: &str,
    request: Request,
) -> Result<(), ProjectionError> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM projection_requests WHERE projection = $1 AND request = $2")
        .bind(projection)
        .bind(request.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Records a replay before its tables exist, so that a crash leaves a trace
/// to tidy up.
pub(crate) async fn register_replay(
    db: &ReadDb,
    suffix: &str,
    projection: &str,
) -> Result<(), ProjectionError> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO projection_replays (suffix, projection, created_at_ms) VALUES ($1, $2, $3)",
    )
    .bind(suffix)
    .bind(projection)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Forgets a replay whose tables are dropped.
pub(crate) async fn forget_replay(db: &ReadDb, suffix: &str) -> Result<(), ProjectionError> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM projection_replays WHERE suffix = $1")
        .bind(suffix)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Replays started before `before`: (suffix, projection).
pub(crate) async fn replays_before(
    db: &ReadDb,
    before: DateTime<Utc>,
) -> Result<Vec<(String, String)>, ProjectionError> {
    let rows =
        sqlx::query("SELECT suffix, projection FROM projection_replays WHERE created_at_ms < $1")
            .bind(before.timestamp_millis())
            .fetch_all(db.pool())
            .await?;
    Ok(rows
        .iter()
        .map(|row| Ok((row.try_get("suffix")?, row.try_get("projection")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}
