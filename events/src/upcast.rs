//! Upcasters turn an old event shape into the current one on every read, so
//! that the log is never rewritten and code only knows the newest shapes.

use std::collections::HashMap;

use serde_json::Value;

use crate::envelope::{Personal, RecordedEvent};

/// The parts of an event an upcaster may reshape.
#[derive(Debug)]
pub struct Payload<'a> {
    /// The event's data.
    pub data: &'a mut Value,
    /// Its readable personal part; `None` when it has none or it is sealed or
    /// erased (an upcaster must then leave it alone).
    pub personal: Option<&'a mut Value>,
}

/// Turns one `(event_type, schema_version)` into `schema_version + 1`.
pub type Upcaster = fn(Payload<'_>) -> Result<(), UpcastError>;

/// An old event that its upcaster could not convert.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot upcast {event_type} v{from_version}: {reason}")]
pub struct UpcastError {
    /// The event type.
    pub event_type: String,
    /// The version being converted.
    pub from_version: u16,
    /// What was wrong with the old shape.
    pub reason: String,
}

impl UpcastError {
    /// An error naming what is wrong with the old shape; the store fills in
    /// the type and version.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            event_type: String::new(),
            from_version: 0,
            reason: reason.into(),
        }
    }
}

/// The registry of upcasters, keyed by the `(event_type, schema_version)`
/// they convert from.
#[derive(Debug, Default, Clone)]
pub struct Upcasters {
    steps: HashMap<(String, u16), Upcaster>,
}

impl Upcasters {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every upcaster of Steward's domain events.
    pub fn steward() -> Self {
        crate::domain::upcasters()
    }

    /// Registers the step from `from_version` to `from_version + 1`.
    pub fn register(mut self, event_type: &str, from_version: u16, step: Upcaster) -> Self {
        self.steps
            .insert((event_type.to_owned(), from_version), step);
        self
    }

    /// Brings an event to the newest schema version of its type.
    pub fn upcast(&self, event: &mut RecordedEvent) -> Result<(), UpcastError> {
        while let Some(step) = self
            .steps
            .get(&(event.event_type.as_str().to_owned(), event.schema_version))
        {
            let personal = match event.personal.as_mut() {
                Some(Personal::Plain(value)) => Some(value),
                _ => None,
            };
            step(Payload {
                data: &mut event.data,
                personal,
            })
            .map_err(|error| UpcastError {
                event_type: event.event_type.to_string(),
                from_version: event.schema_version,
                reason: error.reason,
            })?;
            event.schema_version += 1;
        }
        Ok(())
    }
}
