//! Rows of `events` as [`RecordedEvent`]s.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;
use steward_events::{RecordedEvent, StoreError};
use steward_store_core::row::EventRow;
use uuid::Uuid;

use crate::error::query_failed;

/// `SELECT <every column of events> FROM events <rest>`, as a `&'static str`.
macro_rules! select_events {
    ($rest:literal) => {
        concat!(
            "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, \
             data, personal, correlation_id, causation_id, command_id, actor, subjects, \
             recorded_at FROM events ",
            $rest
        )
    };
}
pub(crate) use select_events;

/// The global position of a row selected with [`select_events!`].
pub(crate) fn position(row: &PgRow) -> Result<i64, StoreError> {
    row.try_get("position").map_err(query_failed)
}

/// Decodes a row selected with [`select_events!`].
pub(crate) fn recorded_event(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    let event_id: Uuid = row.try_get("event_id").map_err(query_failed)?;
    let corrupt = |reason: String| StoreError::Corrupt { event_id, reason };
    let get = |e: sqlx::Error| corrupt(e.to_string());

    let position: i64 = row.try_get("position").map_err(get)?;
    let stream_id: String = row.try_get("stream_id").map_err(get)?;
    let stream_version: i64 = row.try_get("stream_version").map_err(get)?;
    let event_type: String = row.try_get("event_type").map_err(get)?;
    let schema_version: i32 = row.try_get("schema_version").map_err(get)?;
    let data: Value = row.try_get("data").map_err(get)?;
    let personal: Option<Vec<u8>> = row.try_get("personal").map_err(get)?;
    let correlation_id: Uuid = row.try_get("correlation_id").map_err(get)?;
    let causation_id: Option<Uuid> = row.try_get("causation_id").map_err(get)?;
    let command_id: Option<String> = row.try_get("command_id").map_err(get)?;
    let actor: String = row.try_get("actor").map_err(get)?;
    let subjects: Vec<String> = row.try_get("subjects").map_err(get)?;
    let recorded_at: DateTime<Utc> = row.try_get("recorded_at").map_err(get)?;

    EventRow {
        position,
        event_id,
        stream_id,
        stream_version,
        event_type,
        schema_version: i64::from(schema_version),
        data,
        personal,
        correlation_id,
        causation_id,
        command_id,
        actor,
        subjects,
        recorded_at,
    }
    .into_recorded()
}

/// Decodes every row.
pub(crate) fn recorded_events(rows: &[PgRow]) -> Result<Vec<RecordedEvent>, StoreError> {
    rows.iter().map(recorded_event).collect()
}
