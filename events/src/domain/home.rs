//! Events of the home domain: devices and what they report.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::DomainEvent;
use crate::upcast::{Payload, UpcastError};

/// A device reported its state (v2).
///
/// v1 knew only switches: `{"device_id": "lamp-1", "on": true}`. v2 carries
/// any attributes a device reports; a v1 event reads as
/// `{"device_id": "lamp-1", "attributes": {"power": "on"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceStateReported {
    /// The device, as the home domain names it.
    pub device_id: String,
    /// What the device reported: `power`, `brightness`, `temperature`…
    pub attributes: BTreeMap<String, Value>,
}

impl DomainEvent for DeviceStateReported {
    const EVENT_TYPE: &'static str = "DeviceStateReported";
    const SCHEMA_VERSION: u16 = 2;
}

/// v1 `{"device_id", "on": bool}` → v2 `{"device_id", "attributes": {"power": "on"|"off"}}`.
pub(crate) fn upcast_device_state_reported_v1(payload: Payload<'_>) -> Result<(), UpcastError> {
    let Value::Object(fields) = payload.data else {
        return Err(UpcastError::new("data is not an object"));
    };
    let on = fields
        .remove("on")
        .ok_or_else(|| UpcastError::new("field `on` is missing"))?
        .as_bool()
        .ok_or_else(|| UpcastError::new("field `on` is not a boolean"))?;
    let power = if on { "on" } else { "off" };
    fields.insert(
        "attributes".to_owned(),
        serde_json::json!({ "power": power }),
    );
    Ok(())
}

/// The JSON Schema of every event type of the domain.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    vec![super::schema_entry::<DeviceStateReported>()]
}
