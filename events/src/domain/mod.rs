//! Steward's typed domain events, one module per domain.
//!
//! A domain event is a plain serde struct with a type name and a schema
//! version. Fields listed in [`DomainEvent::PERSONAL_FIELDS`] travel in the
//! sealed `personal` part; everything else is `data`. When a shape changes, the
//! version goes up and an upcaster (registered in [`upcasters`]) converts the
//! old shape on every read; a JSON fixture of the old shape keeps it honest.

pub mod access;
pub mod actuations;
pub mod appointments;
pub mod calendar;
pub mod credentials;
pub mod egress;
pub mod goals;
pub mod groceries;
pub mod home;
pub mod inbox;
pub mod maintenance;
pub mod plans;
pub mod policies;
pub mod saga;
pub mod subject;
pub mod timers;
pub mod travel;
pub mod webhooks;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::envelope::{NewEvent, Personal, RecordedEvent};
use crate::ids::{EventType, SubjectId};
use crate::upcast::Upcasters;

pub use crate::domain_events;

/// A typed domain event.
pub trait DomainEvent: Serialize + DeserializeOwned + JsonSchema {
    /// The event type name (letters, digits and `_`).
    const EVENT_TYPE: &'static str;
    /// The current schema version of this shape.
    const SCHEMA_VERSION: u16;
    /// Top-level fields that hold personal data and are sealed.
    const PERSONAL_FIELDS: &'static [&'static str] = &[];

    /// The people other than the owner whose personal data the event
    /// carries (its correspondents, attendees, contacts). The owner's own
    /// subject is added by whoever appends the event.
    fn subjects(&self) -> Vec<SubjectId> {
        Vec::new()
    }

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

/// The events of one aggregate as one enum (see [`domain_events!`]), so
/// that a stream can be written and read as a whole.
pub trait EventSet: Sized + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    /// The event types of the set.
    const EVENT_TYPES: &'static [&'static str];

    /// The event as the store takes it: data, personal part and the subjects
    /// of [`DomainEvent::subjects`].
    fn to_new_event(&self) -> Result<NewEvent, serde_json::Error>;

    /// Reads a recorded event of the set. An event whose personal part was
    /// erased reads with its personal fields at their defaults, so that an
    /// aggregate still rehydrates after an erasure.
    fn from_recorded(event: &RecordedEvent) -> Result<Self, DecodeError>;

    /// The JSON Schema of every event type of the set.
    fn schemas() -> Vec<(String, schemars::Schema)>;
}

/// `<EventType>.v<N>` and the JSON Schema of a domain event type.
pub fn schema_entry<E: DomainEvent>() -> (String, schemars::Schema) {
    (
        format!("{}.v{}", E::EVENT_TYPE, E::SCHEMA_VERSION),
        schemars::schema_for!(E),
    )
}

/// A domain event as the store takes it, with its subjects.
pub fn new_event<E: DomainEvent>(event: &E) -> Result<NewEvent, serde_json::Error> {
    let mut new = NewEvent::from_domain(event)?;
    if new.personal.is_some() {
        new.metadata.subjects = event.subjects();
    }
    Ok(new)
}

/// Reads a recorded event as `E`; a personal part that is erased (or still
/// sealed) leaves the personal fields out, so `E` must give them defaults.
pub fn decode_tolerant<E: DomainEvent>(event: &RecordedEvent) -> Result<E, DecodeError> {
    match &event.personal {
        Some(Personal::Erased | Personal::Sealed(_)) => {
            let mut data_only = event.clone();
            data_only.personal = None;
            decode(&data_only)
        }
        _ => decode(event),
    }
}

/// Declares an aggregate's events as one enum implementing [`EventSet`],
/// with a `From` conversion from each event type.
///
/// ```
/// use steward_events::domain::home::DeviceStateReported;
/// use steward_events::domain_events;
///
/// domain_events! {
///     /// What a device stream holds.
///     pub enum DeviceEvent {
///         /// It reported its state.
///         Reported(DeviceStateReported),
///     }
/// }
/// ```
#[macro_export]
macro_rules! domain_events {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident($event:ty) ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant($event) ),+
        }

        impl $crate::domain::EventSet for $name {
            const EVENT_TYPES: &'static [&'static str] =
                &[$( <$event as $crate::domain::DomainEvent>::EVENT_TYPE ),+];

            fn to_new_event(&self) -> ::std::result::Result<$crate::NewEvent, $crate::__private::serde_json::Error> {
                match self {
                    $( Self::$variant(event) => $crate::domain::new_event(event), )+
                }
            }

            fn from_recorded(
                event: &$crate::RecordedEvent,
            ) -> ::std::result::Result<Self, $crate::domain::DecodeError> {
                let found = event.event_type.as_str();
                $(
                    if found == <$event as $crate::domain::DomainEvent>::EVENT_TYPE {
                        return $crate::domain::decode_tolerant::<$event>(event).map(Self::$variant);
                    }
                )+
                Err($crate::domain::DecodeError::WrongType {
                    expected: stringify!($name),
                    found: found.to_owned(),
                })
            }

            fn schemas() -> ::std::vec::Vec<(::std::string::String, $crate::__private::schemars::Schema)> {
                vec![$( $crate::domain::schema_entry::<$event>() ),+]
            }
        }

        $(
            impl ::std::convert::From<$event> for $name {
                fn from(event: $event) -> Self {
                    Self::$variant(event)
                }
            }
        )+
    };
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

/// A person known by name as a data subject: `contact:<name>`, lowercased,
/// with each run of white space as one `-` ("Sam  Lee" is `contact:sam-lee`,
/// what `steward erase` takes to erase them). `None` for an empty name.
pub fn named_subject(name: &str) -> Option<SubjectId> {
    let name = name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .to_lowercase();
    if name.is_empty() {
        return None;
    }
    SubjectId::parse(format!("contact:{name}")).ok()
}

/// Every upcaster of Steward's domain events.
pub fn upcasters() -> Upcasters {
    Upcasters::new()
        .register(
            home::DeviceStateReported::EVENT_TYPE,
            1,
            home::upcast_device_state_reported_v1,
        )
        .register(
            travel::ReservationConfirmed::EVENT_TYPE,
            1,
            travel::upcast_reservation_confirmed_v1,
        )
}

/// The JSON Schema of every domain event type, named `<EventType>.v<N>`.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    let mut schemas = vec![schema_entry::<subject::SubjectErased>()];
    schemas.extend(access::schemas());
    schemas.extend(appointments::schemas());
    schemas.extend(calendar::schemas());
    schemas.extend(goals::schemas());
    schemas.extend(groceries::schemas());
    schemas.extend(home::schemas());
    schemas.extend(inbox::schemas());
    schemas.extend(maintenance::schemas());
    schemas.extend(saga::schemas());
    schemas.extend(timers::schemas());
    schemas.extend(travel::schemas());
    schemas.extend(webhooks::schemas());
    schemas.extend(credentials::schemas());
    schemas.extend(plans::schemas());
    schemas.extend(policies::schemas());
    schemas.extend(actuations::schemas());
    schemas.extend(egress::schemas());
    schemas
}
