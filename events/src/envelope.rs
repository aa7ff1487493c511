//! The envelope every backend stores and returns unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::domain::DomainEvent;
use crate::ids::{EventType, StreamId, SubjectId};
use crate::position::Position;

/// Who or what caused an event: `<kind>:<id>`, e.g. `user:alice`,
/// `integration:imap`, `planner:local`, `system:steward`.
pub type Actor = String;

/// What travels with an event besides its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Groups every event that one request or trigger led to.
    pub correlation_id: Uuid,
    /// The event or command that directly caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// The command that produced the event, so that a retried command is
    /// recognised and answered without being applied twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
    /// Who or what caused the event.
    pub actor: Actor,
    /// The people whose personal data the event's `personal` part carries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<SubjectId>,
}

impl Default for Metadata {
    fn default() -> Self {
        Self {
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            command_id: None,
            actor: "system:steward".to_owned(),
            subjects: Vec::new(),
        }
    }
}

/// The part of an event that is about people.
///
/// Writers hand the store [`Personal::Plain`]; the store keeps it
/// [`Personal::Sealed`] at rest and in transit (the bus carries it sealed), and
/// readers get it back `Plain`, or [`Personal::Erased`] once any of the event's
/// subjects has been erased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Personal {
    /// Readable personal data.
    Plain(Value),
    /// Encrypted under the event's subject keys.
    Sealed(SealedBox),
    /// A subject's key was destroyed: this data is gone for good.
    Erased,
}

impl Personal {
    /// The readable value, if there is one.
    pub fn plain(&self) -> Option<&Value> {
        match self {
            Personal::Plain(value) => Some(value),
            Personal::Sealed(_) | Personal::Erased => None,
        }
    }
}

/// Ciphertext with everything needed to open it except the keys.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(with = "String")]
pub struct SealedBox(pub Vec<u8>);

impl Serialize for SealedBox {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for SealedBox {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        BASE64
            .decode(text)
            .map(SealedBox)
            .map_err(serde::de::Error::custom)
    }
}

/// An event a writer wants to append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Chosen by the writer (UUIDv7); appending the same id again is a no-op.
    pub event_id: Uuid,
    /// What happened.
    pub event_type: EventType,
    /// The version of `data`'s shape for this event type.
    pub schema_version: u16,
    /// The facts, free of personal data.
    pub data: Value,
    /// The facts about people, sealed by the store under `metadata.subjects`.
    pub personal: Option<Personal>,
    /// Correlation, causation, command, actor and subjects.
    pub metadata: Metadata,
}

impl NewEvent {
    /// An event of `event_type` at schema version 1, with a fresh UUIDv7 and
    /// default metadata.
    pub fn new(event_type: EventType, data: Value) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type,
            schema_version: 1,
            data,
            personal: None,
            metadata: Metadata::default(),
        }
    }

    /// The event for a typed domain event, with its personal part split off.
    pub fn from_domain<E: DomainEvent>(event: &E) -> Result<Self, serde_json::Error> {
        let (data, personal) = event.to_parts()?;
        Ok(Self {
            schema_version: E::SCHEMA_VERSION,
            personal: personal.map(Personal::Plain),
            ..Self::new(E::event_type(), data)
        })
    }

    /// Sets the schema version.
    pub fn with_schema_version(mut self, schema_version: u16) -> Self {
        self.schema_version = schema_version;
        self
    }

    /// Attaches personal data about `subjects`.
    pub fn with_personal(mut self, personal: Value, subjects: Vec<SubjectId>) -> Self {
        self.personal = Some(Personal::Plain(personal));
        self.metadata.subjects = subjects;
        self
    }

    /// Replaces the metadata, keeping the subjects already given unless the
    /// new metadata names some.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        let subjects = std::mem::take(&mut self.metadata.subjects);
        self.metadata = metadata;
        if self.metadata.subjects.is_empty() {
            self.metadata.subjects = subjects;
        }
        self
    }

    /// Sets the event id (to make a retry idempotent).
    pub fn with_event_id(mut self, event_id: Uuid) -> Self {
        self.event_id = event_id;
        self
    }
}

/// An event as the store recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordedEvent {
    /// The writer's id for the event (UUIDv7).
    pub event_id: Uuid,
    /// The stream it belongs to.
    pub stream_id: StreamId,
    /// Its place in the stream, from 0.
    pub stream_version: u64,
    /// Its place in the global log, assigned at commit.
    pub global_position: Position,
    /// What happened.
    pub event_type: EventType,
    /// The version of `data`'s shape.
    pub schema_version: u16,
    /// The facts, free of personal data.
    pub data: Value,
    /// The facts about people: plain when read through the store, sealed in
    /// the log and on the bus, erased once a subject is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal: Option<Personal>,
    /// Correlation, causation, command, actor and subjects.
    pub metadata: Metadata,
    /// When the store recorded it (UTC); never decreases along the global order.
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// Reads the event as a typed domain event, personal part included.
    /// Fails if the type does not match or the personal part is erased.
    pub fn to_domain<E: DomainEvent>(&self) -> Result<E, crate::domain::DecodeError> {
        crate::domain::decode(self)
    }
}
