//! The `snapshots` table: one row per stream, the newest kept.

use sqlx::{PgPool, Row as _};
use steward_events::{StoreError, StreamId, SubjectId};
use steward_store_core::SnapshotRow;

use crate::error::{PostgresError, query_failed};

fn corrupt(stream: &StreamId, reason: impl std::fmt::Display) -> StoreError {
    PostgresError::Unexpected(format!("the snapshot of `{stream}` is corrupt: {reason}")).into()
}

pub(crate) async fn save(pool: &PgPool, snapshot: SnapshotRow) -> Result<bool, StoreError> {
    let subjects: Vec<String> = snapshot
        .subjects
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let version =
        i64::try_from(snapshot.stream_version).map_err(|e| corrupt(&snapshot.stream_id, e))?;
    let state_version =
        i32::try_from(snapshot.state_version).map_err(|e| corrupt(&snapshot.stream_id, e))?;
    sqlx::query(
        "INSERT INTO snapshots \
           (stream_id, stream_version, state_version, snapshot_id, subjects, state, taken_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (stream_id) DO UPDATE SET \
           stream_version = excluded.stream_version, state_version = excluded.state_version, \
           snapshot_id = excluded.snapshot_id, subjects = excluded.subjects, \
           state = excluded.state, taken_at = excluded.taken_at \
         WHERE excluded.stream_version >= snapshots.stream_version",
    )
    .bind(snapshot.stream_id.as_str())
    .bind(version)
    .bind(state_version)
    .bind(snapshot.snapshot_id)
    .bind(subjects)
    .bind(snapshot.state)
    .bind(snapshot.taken_at)
    .execute(pool)
    .await
    .map_err(query_failed)?;
    Ok(true)
}

pub(crate) async fn load(
    pool: &PgPool,
    stream: &StreamId,
) -> Result<Option<SnapshotRow>, StoreError> {
    let Some(row) = sqlx::query(
        "SELECT stream_version, state_version, snapshot_id, subjects, state, taken_at \
         FROM snapshots WHERE stream_id = $1",
    )
    .bind(stream.as_str())
    .fetch_optional(pool)
    .await
    .map_err(query_failed)?
    else {
        return Ok(None);
    };
    let version: i64 = row.try_get("stream_version").map_err(query_failed)?;
    let state_version: i32 = row.try_get("state_version").map_err(query_failed)?;
    let subjects: Vec<String> = row.try_get("subjects").map_err(query_failed)?;
    let subjects = subjects
        .into_iter()
        .map(SubjectId::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(stream, e))?;
    Ok(Some(SnapshotRow {
        stream_id: stream.clone(),
        stream_version: u64::try_from(version).map_err(|e| corrupt(stream, e))?,
        state_version: u32::try_from(state_version).map_err(|e| corrupt(stream, e))?,
        snapshot_id: row.try_get("snapshot_id").map_err(query_failed)?,
        subjects,
        state: row.try_get("state").map_err(query_failed)?,
        taken_at: row.try_get("taken_at").map_err(query_failed)?,
    }))
}
