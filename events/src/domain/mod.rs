//! Steward's typed domain events, one module per domain.
//!
//! A domain event is a plain serde struct with a type name and a schema
//! version. Fields listed in [`DomainEvent::PERSONAL_FIELDS`] travel in the
//! sealed `personal` part; everything else is `data`. When a shape changes, the
//! version goes up and an upcaster (registered in [`upcasters`]) converts the
//! old shape on every read; a JSON fixture of the old shape keeps it honest.

pub mod home;
pub mod subject;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::envelope::{Personal, RecordedEvent};
use crate::ids::EventType;
use crate::upcast::Upcasters;

/// A typed domain event.
pub trait DomainEvent: Serialize + DeserializeOwned + JsonSchema {
    /// The event type name (letters, digits and `_`).
    const EVENT_TYPE: &'static str;
    /// The current schema version of this shape.
    const SCHEMA_VERSION: u16;
    /// Top-level fields that hold personal data and are sealed.
    const PERSONAL_FIELDS: &'static [&'static str] = &[];

    /// The event type as a validated name.
    fn event_type() -> EventType {
        EventType::from_static(Self::EVENT_TYPE)
    }

    /// Splits the event into its data and its personal part.
    fn to_parts(&self) -> Result<(Value, Option<Value>), serde_json::Error> {
        let mut data = serde_json::to_value(self)?;
        let mut personal = Map::new();
        if let Value::Object(fields) = &mut data {
            for name in Self::PERSONAL_FIELDS {
                if let Some(value) = fields.remove(*name).filter(|v| !v.is_null()) {
                    personal.insert((*name).to_owned(), value);
                }
            }
        }
        Ok((
            data,
            (!personal.is_empty()).then_some(Value::Object(personal)),
        ))
    }
}

/// Why a recorded event could not be read as a typed domain event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// It is of another type.
    #[error("expected a {expected} event, found {found}")]
    WrongType {
        /// The type asked for.
        expected: &'static str,
        /// The type recorded.
        found: String,
    },
    /// It was not upcast to the current version.
    #[error("expected {event_type} v{expected}, found v{found}: upcast it first")]
    WrongVersion {
        /// The type.
        event_type: &'static str,
        /// The version asked for.
        expected: u16,
        /// The version recorded.
        found: u16,
    },
    /// Its personal part is sealed or erased and the type needs it.
    #[error("{event_type} needs its personal part, which is {state}")]
    PersonalUnavailable {
        /// The type.
        event_type: &'static str,
        /// `sealed` or `erased`.
        state: &'static str,
    },
    /// The JSON did not fit the type.
    #[error("{event_type} does not decode: {source}")]
    Json {
        /// The type.
        event_type: &'static str,
        /// The serde error.
        source: serde_json::Error,
    },
}

pub(crate) fn decode<E: DomainEvent>(event: &RecordedEvent) -> Result<E, DecodeError> {
    if event.event_type.as_str() != E::EVENT_TYPE {
        return Err(DecodeError::WrongType {
            expected: E::EVENT_TYPE,
            found: event.event_type.to_string(),
        });
    }
    if event.schema_version != E::SCHEMA_VERSION {
        return Err(DecodeError::WrongVersion {
            event_type: E::EVENT_TYPE,
            expected: E::SCHEMA_VERSION,
            found: event.schema_version,
        });
    }
    let mut whole = event.data.clone();
    let unavailable = |state| DecodeError::PersonalUnavailable {
        event_type: E::EVENT_TYPE,
        state,
    };
    match (&event.personal, &mut whole) {
        (Some(Personal::Plain(Value::Object(personal))), Value::Object(fields)) => {
            fields.extend(personal.clone());
        }
        (Some(Personal::Sealed(_)), _) if !E::PERSONAL_FIELDS.is_empty() => {
            return Err(unavailable("sealed"));
        }
        (Some(Personal::Erased), _) if !E::PERSONAL_FIELDS.is_empty() => {
            return Err(unavailable("erased"));
        }
        _ => {}
    }
    serde_json::from_value(whole).map_err(|source| DecodeError::Json {
        event_type: E::EVENT_TYPE,
        source,
    })
}

/// Every upcaster of Steward's domain events.
pub fn upcasters() -> Upcasters {
    Upcasters::new().register(
        home::DeviceStateReported::EVENT_TYPE,
        1,
        home::upcast_device_state_reported_v1,
    )
}

/// The JSON Schema of every domain event type, named `<EventType>.v<N>`.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    fn entry<E: DomainEvent>() -> (String, schemars::Schema) {
        (
            format!("{}.v{}", E::EVENT_TYPE, E::SCHEMA_VERSION),
            schemars::schema_for!(E),
        )
    }
    vec![
        entry::<home::DeviceStateReported>(),
        entry::<subject::SubjectErased>(),
    ]
}
