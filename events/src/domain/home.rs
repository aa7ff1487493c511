//! Events of the home domain: devices and what they report, the states the
//! household asks of them, scenes and routines.
//!
//! One aggregate per household (`home-<household>`). Devices are registered
//! with their capabilities (the attributes that can be set, each with the
//! values it takes); a device reports its state ([`DeviceStateReported`]);
//! a person, a scene or a routine asks for a state
//! ([`DesiredStateRequested`]), which the actuator carries out and then
//! settles ([`DesiredStateApplied`] or [`DesiredStateFailed`]). A routine
//! activates a scene at a time of day or when an event happens.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, Utc};
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

// ---------------------------------------------------------------- devices

/// What sort of device it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// A lamp or light strip.
    Light,
    /// A wall or relay switch.
    Switch,
    /// A thermostat or radiator valve.
    Thermostat,
    /// A sensor that only reports (motion, temperature, door contact…).
    Sensor,
    /// A door lock.
    Lock,
    /// A blind, shutter or curtain.
    Blind,
    /// A smart plug.
    Plug,
    /// Anything else.
    Other,
}

/// The values an attribute takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ValueSpec {
    /// The strings `"on"` or `"off"` (as `power` is reported).
    OnOff,
    /// `true` or `false`.
    Boolean,
    /// A number from `min` to `max`, both included.
    Number {
        /// The least value.
        min: f64,
        /// The greatest value.
        max: f64,
        /// The unit (`%`, `K`, `°C`), for people.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
    /// One of a few strings.
    Choice {
        /// The strings allowed.
        options: Vec<String>,
    },
}

/// One attribute of a device and the values it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capability {
    /// The attribute (`power`, `brightness`, `target_temperature`…).
    pub attribute: String,
    /// The values it takes.
    pub value: ValueSpec,
    /// Whether the device only reports it (it cannot be asked for).
    #[serde(default)]
    pub read_only: bool,
}

/// A device joined the home.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRegistered {
    /// The device's id, as the integration names it (`hallway_lamp`).
    pub device_id: String,
    /// What sort of device it is.
    pub kind: DeviceKind,
    /// The room it is in.
    pub room: String,
    /// What it can do, by attribute name in order.
    pub capabilities: Vec<Capability>,
}

impl DomainEvent for DeviceRegistered {
    const EVENT_TYPE: &'static str = "DeviceRegistered";
    const SCHEMA_VERSION: u16 = 1;
}

/// A device moved to another room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceMoved {
    /// The device.
    pub device_id: String,
    /// The room it is in now.
    pub room: String,
}

impl DomainEvent for DeviceMoved {
    const EVENT_TYPE: &'static str = "DeviceMoved";
    const SCHEMA_VERSION: u16 = 1;
}

/// A device left the home; it also leaves every scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRemoved {
    /// The device.
    pub device_id: String,
}

impl DomainEvent for DeviceRemoved {
    const EVENT_TYPE: &'static str = "DeviceRemoved";
    const SCHEMA_VERSION: u16 = 1;
}

// --------------------------------------------------------- desired states

/// The household asked a device for a state; the actuator carries it out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DesiredStateRequested {
    /// The request, as the actuator settles it.
    pub request_id: String,
    /// The device.
    pub device_id: String,
    /// The attributes to set and their values.
    pub attributes: BTreeMap<String, Value>,
    /// The scene whose activation asked, if one did.
    pub scene_id: Option<String>,
    /// When it was asked.
    pub at: DateTime<Utc>,
}

impl DomainEvent for DesiredStateRequested {
    const EVENT_TYPE: &'static str = "DesiredStateRequested";
    const SCHEMA_VERSION: u16 = 1;
}

/// The actuator carried out a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DesiredStateApplied {
    /// The request.
    pub request_id: String,
    /// Its device.
    pub device_id: String,
}

impl DomainEvent for DesiredStateApplied {
    const EVENT_TYPE: &'static str = "DesiredStateApplied";
    const SCHEMA_VERSION: u16 = 1;
}

/// The actuator could not carry out a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DesiredStateFailed {
    /// The request.
    pub request_id: String,
    /// Its device.
    pub device_id: String,
    /// What went wrong, as the actuator says it.
    pub reason: String,
}

impl DomainEvent for DesiredStateFailed {
    const EVENT_TYPE: &'static str = "DesiredStateFailed";
    const SCHEMA_VERSION: u16 = 1;
}

// ------------------------------------------------------------------ scenes

/// One device's part in a scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SceneAction {
    /// The device.
    pub device_id: String,
    /// The state it is asked for.
    pub attributes: BTreeMap<String, Value>,
}

/// A scene was defined, or redefined as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SceneDefined {
    /// The scene's id.
    pub scene_id: String,
    /// Its name (`Evening`, `Movie night`).
    pub name: String,
    /// What each device is asked for, one action per device.
    pub actions: Vec<SceneAction>,
}

impl DomainEvent for SceneDefined {
    const EVENT_TYPE: &'static str = "SceneDefined";
    const SCHEMA_VERSION: u16 = 1;
}

/// A scene was removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SceneRemoved {
    /// The scene.
    pub scene_id: String,
}

impl DomainEvent for SceneRemoved {
    const EVENT_TYPE: &'static str = "SceneRemoved";
    const SCHEMA_VERSION: u16 = 1;
}

/// A scene was activated; one [`DesiredStateRequested`] per device follows
/// it, with the request id `<activation_id>/<device_id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SceneActivated {
    /// The scene.
    pub scene_id: String,
    /// The activation, chosen by the caller (a routine's run makes it
    /// `routine:<routine_id>:<run_id>`).
    pub activation_id: String,
    /// The routine that activated it, if one did.
    pub routine_id: Option<String>,
    /// The requests it made, one per device.
    pub request_ids: Vec<String>,
}

impl DomainEvent for SceneActivated {
    const EVENT_TYPE: &'static str = "SceneActivated";
    const SCHEMA_VERSION: u16 = 1;
}

// ---------------------------------------------------------------- routines

/// A day of the week.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl From<Weekday> for chrono::Weekday {
    fn from(day: Weekday) -> Self {
        match day {
            Weekday::Monday => Self::Mon,
            Weekday::Tuesday => Self::Tue,
            Weekday::Wednesday => Self::Wed,
            Weekday::Thursday => Self::Thu,
            Weekday::Friday => Self::Fri,
            Weekday::Saturday => Self::Sat,
            Weekday::Sunday => Self::Sun,
        }
    }
}

/// A test on one attribute of a triggering event. The attribute is read
/// from the event's `attributes` object (as [`DeviceStateReported`] has
/// it), or else from its top-level field of that name. With no test given
/// the attribute only has to be there; with several, all must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeCondition {
    /// The attribute (`motion`, `contact`, `temperature`).
    pub name: String,
    /// It equals this value (numbers compare as numbers: `1` equals `1.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    /// It is a number above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<f64>,
    /// It is a number below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<f64>,
}

/// When a routine runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RoutineTrigger {
    /// At a time of day on some days of the week, in a time zone. The home
    /// records the next such instant (`next_run_at`) and the timer sends
    /// `RunRoutine` then.
    TimeOfDay {
        /// The local time (`07:30`).
        time: NaiveTime,
        /// The days it runs on, in week order.
        weekdays: Vec<Weekday>,
        /// The IANA time zone (`Europe/Paris`, `UTC`).
        zone: String,
    },
    /// When an event of a type happens, with optional conditions on its
    /// data; a saga finds the routines with `routines_triggered_by`.
    Event {
        /// The event type (`DeviceStateReported`).
        event_type: String,
        /// The event's `device_id` equals this.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device_id: Option<String>,
        /// A condition on one of its attributes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attribute: Option<AttributeCondition>,
    },
}

/// A routine was defined, or redefined (its version goes up, so triggers
/// scheduled for an older definition are recognised as stale).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutineDefined {
    /// The routine's id.
    pub routine_id: String,
    /// Its name (`Wake up`).
    pub name: String,
    /// The definition's version, from 1.
    pub version: u32,
    /// When it runs.
    pub trigger: RoutineTrigger,
    /// The scene it activates.
    pub scene_id: String,
    /// When a time-of-day routine runs next (the timer sends `RunRoutine`
    /// then); `None` for an event-triggered one.
    pub next_run_at: Option<DateTime<Utc>>,
}

impl DomainEvent for RoutineDefined {
    const EVENT_TYPE: &'static str = "RoutineDefined";
    const SCHEMA_VERSION: u16 = 1;
}

/// A routine was switched on again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutineEnabled {
    /// The routine.
    pub routine_id: String,
    /// The routine's definition version, which its timer's `RunRoutine`
    /// names (0 in events recorded before it was carried: no timer is set
    /// for those).
    #[serde(default)]
    pub version: u32,
    /// When a time-of-day routine runs next; `None` for an event-triggered
    /// one.
    pub next_run_at: Option<DateTime<Utc>>,
}

impl DomainEvent for RoutineEnabled {
    const EVENT_TYPE: &'static str = "RoutineEnabled";
    const SCHEMA_VERSION: u16 = 1;
}

/// A routine was switched off: its triggers do nothing until enabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutineDisabled {
    /// The routine.
    pub routine_id: String,
}

impl DomainEvent for RoutineDisabled {
    const EVENT_TYPE: &'static str = "RoutineDisabled";
    const SCHEMA_VERSION: u16 = 1;
}

/// A routine was removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutineRemoved {
    /// The routine.
    pub routine_id: String,
}

impl DomainEvent for RoutineRemoved {
    const EVENT_TYPE: &'static str = "RoutineRemoved";
    const SCHEMA_VERSION: u16 = 1;
}

/// A routine ran; its scene's activation follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutineRan {
    /// The routine.
    pub routine_id: String,
    /// The definition that ran.
    pub version: u32,
    /// The run, as the timer or saga named it.
    pub run_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// When a time-of-day routine runs next; `None` for an event-triggered
    /// one.
    pub next_run_at: Option<DateTime<Utc>>,
}

impl DomainEvent for RoutineRan {
    const EVENT_TYPE: &'static str = "RoutineRan";
    const SCHEMA_VERSION: u16 = 1;
}

crate::domain_events! {
    /// What a home stream holds.
    pub enum HomeEvent {
        /// A device joined.
        DeviceRegistered(DeviceRegistered),
        /// A device changed rooms.
        DeviceMoved(DeviceMoved),
        /// A device left.
        DeviceRemoved(DeviceRemoved),
        /// A device reported its state.
        StateReported(DeviceStateReported),
        /// A state was asked of a device.
        StateRequested(DesiredStateRequested),
        /// The actuator carried out a request.
        StateApplied(DesiredStateApplied),
        /// The actuator could not.
        StateFailed(DesiredStateFailed),
        /// A scene was defined.
        SceneDefined(SceneDefined),
        /// A scene was removed.
        SceneRemoved(SceneRemoved),
        /// A scene was activated.
        SceneActivated(SceneActivated),
        /// A routine was defined.
        RoutineDefined(RoutineDefined),
        /// A routine was switched on.
        RoutineEnabled(RoutineEnabled),
        /// A routine was switched off.
        RoutineDisabled(RoutineDisabled),
        /// A routine was removed.
        RoutineRemoved(RoutineRemoved),
        /// A routine ran.
        RoutineRan(RoutineRan),
    }
}

/// The JSON Schema of every event type of the domain.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    use super::EventSet as _;
    HomeEvent::schemas()
}
