//! Restores: events written exactly as recorded elsewhere, and subject keys
//! written as stored.
//!
//! An import takes the append gate exclusively for its transaction, so no
//! append runs beside it, inserts each event with its own position and
//! moves `steward_event_position` past the last one, so later appends
//! continue after the restored log.

use sqlx::postgres::PgPool;
use steward_events::envelope::SealedBox;
use steward_events::{Personal, RecordedEvent, StoreError, SubjectId};
use steward_store_core::StoredKey;

use crate::error::query_failed;

fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Inserts `events` in one transaction, keeping every column.
pub(crate) async fn import_events(
    pool: &PgPool,
    events: &[RecordedEvent],
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(query_failed)?;
    sqlx::query("SELECT pg_advisory_xact_lock(1398036292, 1)")
        .execute(&mut *tx)
        .await
        .map_err(query_failed)?;
    for event in events {
        let personal = match &event.personal {
            None => None,
            Some(Personal::Sealed(SealedBox(bytes))) => Some(bytes.as_slice()),
            Some(Personal::Plain(_) | Personal::Erased) => {
                return Err(StoreError::Corrupt {
                    event_id: event.event_id,
                    reason: "an imported personal part must be sealed".into(),
                });
            }
        };
        let subjects: Vec<&str> = event
            .metadata
            .subjects
            .iter()
            .map(SubjectId::as_str)
            .collect();
        sqlx::query(
            "INSERT INTO events (position, event_id, stream_id, stream_version, event_type, \
             schema_version, data, personal, correlation_id, causation_id, command_id, actor, \
             subjects, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(int(event.global_position.sequence_floor()))
        .bind(event.event_id)
        .bind(event.stream_id.as_str())
        .bind(int(event.stream_version))
        .bind(event.event_type.as_str())
        .bind(i32::from(event.schema_version))
        .bind(&event.data)
        .bind(personal)
        .bind(event.metadata.correlation_id)
        .bind(event.metadata.causation_id)
        .bind(event.metadata.command_id.as_deref())
        .bind(&event.metadata.actor)
        .bind(subjects)
        .bind(event.recorded_at)
        .execute(&mut *tx)
        .await
        .map_err(query_failed)?;
    }
    sqlx::query(
        "SELECT setval('steward_event_position', \
         GREATEST((SELECT max(position) FROM events), 1), \
         (SELECT max(position) FROM events) IS NOT NULL)",
    )
    .execute(&mut *tx)
    .await
    .map_err(query_failed)?;
    tx.commit().await.map_err(query_failed)
}

/// Inserts `keys` as stored, in one transaction; existing keys stay.
pub(crate) async fn import_keys(
    pool: &PgPool,
    keys: &[(SubjectId, StoredKey)],
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(query_failed)?;
    for (subject, key) in keys {
        let wrapped = match key {
            StoredKey::Wrapped(bytes) => Some(bytes.as_slice()),
            StoredKey::Erased => None,
        };
        sqlx::query(
            "INSERT INTO subject_keys (subject_id, wrapped_key, erased_at) \
             VALUES ($1, $2, CASE WHEN $2 IS NULL THEN now() END) \
             ON CONFLICT (subject_id) DO NOTHING",
        )
        .bind(subject.as_str())
        .bind(wrapped)
        .execute(&mut *tx)
        .await
        .map_err(query_failed)?;
    }
    tx.commit().await.map_err(query_failed)
}
