//! The `snapshots` table: one row per stream, the newest kept.

use chrono::DateTime;
use sqlx::{Row as _, SqlitePool};
use steward_events::{StoreError, StreamId, SubjectId};
use steward_store_core::SnapshotRow;
use uuid::Uuid;

use crate::codec::micros;

fn db(error: sqlx::Error) -> StoreError {
    StoreError::backend(error)
}

fn corrupt(stream: &StreamId, reason: impl std::fmt::Display) -> StoreError {
    StoreError::backend(std::io::Error::other(format!(
        "the snapshot of `{stream}` is corrupt: {reason}"
    )))
}

pub(crate) async fn save(pool: &SqlitePool, snapshot: SnapshotRow) -> Result<bool, StoreError> {
    let subjects = serde_json::to_string(&snapshot.subjects).map_err(StoreError::backend)?;
    let version = i64::try_from(snapshot.stream_version).map_err(StoreError::backend)?;
    sqlx::query(
        "INSERT INTO snapshots \
           (stream_id, stream_version, state_version, snapshot_id, subjects, state, taken_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (stream_id) DO UPDATE SET \
           stream_version = excluded.stream_version, state_version = excluded.state_version, \
           snapshot_id = excluded.snapshot_id, subjects = excluded.subjects, \
           state = excluded.state, taken_at = excluded.taken_at \
         WHERE excluded.stream_version >= snapshots.stream_version",
    )
    .bind(snapshot.stream_id.as_str())
    .bind(version)
    .bind(i64::from(snapshot.state_version))
    .bind(snapshot.snapshot_id.to_string())
    .bind(subjects)
    .bind(snapshot.state)
    .bind(micros(snapshot.taken_at))
    .execute(pool)
    .await
    .map_err(db)?;
    Ok(true)
}

pub(crate) async fn load(
    pool: &SqlitePool,
    stream: &StreamId,
) -> Result<Option<SnapshotRow>, StoreError> {
    let Some(row) = sqlx::query(
        "SELECT stream_version, state_version, snapshot_id, subjects, state, taken_at \
         FROM snapshots WHERE stream_id = ?",
    )
    .bind(stream.as_str())
    .fetch_optional(pool)
    .await
    .map_err(db)?
    else {
        return Ok(None);
    };
    let version: i64 = row.try_get("stream_version").map_err(db)?;
    let state_version: i64 = row.try_get("state_version").map_err(db)?;
    let snapshot_id: String = row.try_get("snapshot_id").map_err(db)?;
    let subjects: String = row.try_get("subjects").map_err(db)?;
    let taken_at: i64 = row.try_get("taken_at").map_err(db)?;
    let subjects: Vec<SubjectId> =
        serde_json::from_str(&subjects).map_err(|e| corrupt(stream, e))?;
    Ok(Some(SnapshotRow {
        stream_id: stream.clone(),
        stream_version: u64::try_from(version).map_err(|e| corrupt(stream, e))?,
        state_version: u32::try_from(state_version).map_err(|e| corrupt(stream, e))?,
        snapshot_id: Uuid::parse_str(&snapshot_id).map_err(|e| corrupt(stream, e))?,
        subjects,
        state: row.try_get("state").map_err(db)?,
        taken_at: DateTime::from_timestamp_micros(taken_at)
            .ok_or_else(|| corrupt(stream, "taken_at out of range"))?,
    }))
}
