//! An event's columns as the SQL backends store them, checked into an envelope.

use chrono::{DateTime, Utc};
use serde_json::Value;
use steward_events::envelope::SealedBox;
use steward_events::{
    EventType, Metadata, Personal, Position, RecordedEvent, StoreError, StreamId, SubjectId,
};
use uuid::Uuid;

/// One stored event, column by column, before its values are checked. Each
/// SQL backend reads its own column types into this; [`EventRow::into_recorded`]
/// holds the checks they share.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// The global position (one integer on the SQL backends).
    pub position: i64,
    /// The event id.
    pub event_id: Uuid,
    /// The stream, unchecked.
    pub stream_id: String,
    /// The version in the stream.
    pub stream_version: i64,
    /// The event type, unchecked.
    pub event_type: String,
    /// The schema version.
    pub schema_version: i64,
    /// The data.
    pub data: Value,
    /// The sealed personal part's bytes.
    pub personal: Option<Vec<u8>>,
    /// Correlation id.
    pub correlation_id: Uuid,
    /// Causation id.
    pub causation_id: Option<Uuid>,
    /// Command id.
    pub command_id: Option<String>,
    /// Actor.
    pub actor: String,
    /// Subject ids, unchecked.
    pub subjects: Vec<String>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

impl EventRow {
    /// The envelope, or [`StoreError::Corrupt`] naming the value that is not
    /// what the store ever writes.
    pub fn into_recorded(self) -> Result<RecordedEvent, StoreError> {
        let event_id = self.event_id;
        let corrupt = |reason: String| StoreError::Corrupt { event_id, reason };
        let unsigned = |value: i64, what: &str| {
            u64::try_from(value).map_err(|_| corrupt(format!("negative {what} {value}")))
        };
        Ok(RecordedEvent {
            event_id,
            stream_id: StreamId::parse(self.stream_id).map_err(|e| corrupt(e.to_string()))?,
            stream_version: unsigned(self.stream_version, "stream version")?,
            global_position: Position::sequence(unsigned(self.position, "position")?),
            event_type: EventType::parse(self.event_type).map_err(|e| corrupt(e.to_string()))?,
            schema_version: u16::try_from(self.schema_version).map_err(|_| {
                corrupt(format!(
                    "schema version {} is out of range",
                    self.schema_version
                ))
            })?,
            data: self.data,
            personal: self
                .personal
                .map(|bytes| Personal::Sealed(SealedBox(bytes))),
            metadata: Metadata {
                correlation_id: self.correlation_id,
                causation_id: self.causation_id,
                command_id: self.command_id,
                actor: self.actor,
                subjects: self
                    .subjects
                    .into_iter()
                    .map(SubjectId::parse)
                    .collect::<Result<_, _>>()
                    .map_err(|e| corrupt(e.to_string()))?,
            },
            recorded_at: self.recorded_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> EventRow {
        EventRow {
            position: 7,
            event_id: Uuid::now_v7(),
            stream_id: "inbox-1".into(),
            stream_version: 0,
            event_type: "MessageReceived".into(),
            schema_version: 1,
            data: serde_json::json!({}),
            personal: Some(vec![1, 2, 3]),
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            command_id: None,
            actor: "user:a".into(),
            subjects: vec!["person-1".into()],
            recorded_at: Utc::now(),
        }
    }

    #[test]
    fn a_stored_row_becomes_an_envelope_with_its_personal_part_sealed() {
        let event = row().into_recorded().expect("valid row");
        assert_eq!(event.global_position, Position::sequence(7));
        assert_eq!(
            event.personal,
            Some(Personal::Sealed(SealedBox(vec![1, 2, 3])))
        );
    }

    #[test]
    fn values_the_store_never_writes_are_corrupt() {
        let bad_rows = [
            EventRow {
                position: -1,
                ..row()
            },
            EventRow {
                stream_id: "nodash".into(),
                ..row()
            },
            EventRow {
                schema_version: 70_000,
                ..row()
            },
            EventRow {
                subjects: vec!["has space".into()],
                ..row()
            },
        ];
        for bad in bad_rows {
            assert!(matches!(
                bad.into_recorded(),
                Err(StoreError::Corrupt { .. })
            ));
        }
    }
}
