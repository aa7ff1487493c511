//! Rows to envelopes and back.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use steward_events::{RecordedEvent, StoreError};
use steward_store_core::row::EventRow;
use uuid::Uuid;

/// The columns every event query selects, in [`decode`]'s order.
pub(crate) const COLUMNS: &str = "position, event_id, stream_id, stream_version, event_type, \
     schema_version, data, personal, correlation_id, causation_id, command_id, actor, subjects, \
     recorded_at";

pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// The instant [`micros`] stored.
pub(crate) fn from_micros(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| {
        StoreError::backend(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{micros} is not a time in microseconds"),
        ))
    })
}

fn corrupt(event_id: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        event_id: Uuid::parse_str(event_id).unwrap_or_default(),
        reason: reason.to_string(),
    }
}

pub(crate) fn decode(row: &SqliteRow) -> Result<RecordedEvent, StoreError> {
    let get_err = |e: sqlx::Error| StoreError::backend(e);
    let event_id: String = row.try_get("event_id").map_err(get_err)?;
    let bad = |what: &str, e: &dyn std::fmt::Display| corrupt(&event_id, format!("{what}: {e}"));
    let position: i64 = row.try_get("position").map_err(get_err)?;
    let stream_id: String = row.try_get("stream_id").map_err(get_err)?;
    let stream_version: i64 = row.try_get("stream_version").map_err(get_err)?;
    let event_type: String = row.try_get("event_type").map_err(get_err)?;
    let schema_version: i64 = row.try_get("schema_version").map_err(get_err)?;
    let data: String = row.try_get("data").map_err(get_err)?;
    let personal: Option<Vec<u8>> = row.try_get("personal").map_err(get_err)?;
    let correlation_id: String = row.try_get("correlation_id").map_err(get_err)?;
    let causation_id: Option<String> = row.try_get("causation_id").map_err(get_err)?;
    let command_id: Option<String> = row.try_get("command_id").map_err(get_err)?;
    let actor: String = row.try_get("actor").map_err(get_err)?;
    let subjects: String = row.try_get("subjects").map_err(get_err)?;
    let recorded_at: i64 = row.try_get("recorded_at").map_err(get_err)?;

    EventRow {
        position,
        event_id: Uuid::parse_str(&event_id).map_err(|e| bad("event_id", &e))?,
        stream_id,
        stream_version,
        event_type,
        schema_version,
        data: serde_json::from_str(&data).map_err(|e| bad("data", &e))?,
        personal,
        correlation_id: Uuid::parse_str(&correlation_id).map_err(|e| bad("correlation_id", &e))?,
        causation_id: causation_id
            .map(|id| Uuid::parse_str(&id))
            .transpose()
            .map_err(|e| bad("causation_id", &e))?,
        command_id,
        actor,
        subjects: serde_json::from_str(&subjects).map_err(|e| bad("subjects", &e))?,
        recorded_at: DateTime::from_timestamp_micros(recorded_at)
            .ok_or_else(|| bad("recorded_at", &recorded_at))?,
    }
    .into_recorded()
}
