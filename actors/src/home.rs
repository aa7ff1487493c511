//! Home: a household's devices, the states they report and the states asked
//! of them, scenes and routines (`home-<household>`).
//!
//! - A device is registered with its capabilities: the attributes that can
//!   be set (`power`, `brightness`, `target_temperature`…), each with the
//!   values it takes. The well-known ones ([`well_known_value`]) need no
//!   value spec.
//! - A device's report ([`DeviceStateReported`]) may carry its capabilities
//!   and the read-only sensor readings of [`SENSOR_ATTRIBUTES`], which any
//!   device may report. Reported values are recorded as reported (a report
//!   is a fact; ranges bound only what may be asked). A report that changes
//!   nothing of the known state is a repeat and records nothing.
//! - A desired state ([`DesiredStateRequested`]) must fit the device's
//!   writable capabilities; it stays pending until the actuator settles it
//!   with `RecordStateApplied` or `RecordStateFailed`.
//! - Activating a scene records [`SceneActivated`] and one desired state per
//!   device, with the request id `<activation_id>/<device_id>`.
//! - A routine activates a scene at a time of day in an IANA time zone, or
//!   when an event happens (a saga asks [`routines_triggered_by`]). For a
//!   time of day, its definition, enabling and every run record the next
//!   instant it is due (`next_run_at`, see [`next_run`]) for the timer.
//!   `RunRoutine` carries the definition version it was scheduled for, so a
//!   trigger of an older definition (or of a disabled or removed routine, or
//!   a repeat of a run) does nothing.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Datelike as _, Days, Duration, TimeZone as _, Utc};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_events::EventType;
use steward_events::domain::DomainEvent as _;
use steward_events::domain::home::{
    AttributeCondition, Capability, DesiredStateApplied, DesiredStateFailed, DesiredStateRequested,
    DeviceKind, DeviceMoved, DeviceRegistered, DeviceRemoved, DeviceStateReported, HomeEvent,
    RoutineDefined, RoutineDisabled, RoutineEnabled, RoutineRan, RoutineRemoved, RoutineTrigger,
    SceneAction, SceneActivated, SceneDefined, SceneRemoved, ValueSpec,
};

use crate::aggregate::{Aggregate, Context, Rejection, ensure, is_snake_name, short_text};
use crate::catalog::Visitor;

/// Shows the domain's aggregates to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Home>();
}

/// Read-only sensor readings any device may report without declaring them.
pub const SENSOR_ATTRIBUTES: &[&str] = &[
    "temperature",
    "humidity",
    "illuminance",
    "motion",
    "contact",
    "occupancy",
    "battery",
    "power_draw",
    "energy",
    "co2",
    "online",
];

/// How many settled request ids the home remembers, to recognise an
/// actuator's repeated settlement (older ones are forgotten so the state
/// stays small).
pub const REMEMBERED_SETTLEMENTS: usize = 500;

/// How many activation ids (and run ids per routine) the home remembers, to
/// recognise a repeated activation or a timer firing twice.
pub const REMEMBERED_ACTIVATIONS: usize = 200;

/// How early a timer may send `RunRoutine` and still count as the run that
/// was due (so the next run is the one after it, not the same again).
pub const EARLY_RUN_TOLERANCE: Duration = Duration::minutes(5);

/// The value spec of a well-known capability, used when a registration
/// gives none: `power` on/off, `brightness` and `position` 0–100 %,
/// `colour_temp` 1500–9000 K, `target_temperature` 5–35 °C, `lock`
/// locked/unlocked.
pub fn well_known_value(attribute: &str) -> Option<ValueSpec> {
    let number = |min: f64, max: f64, unit: &str| ValueSpec::Number {
        min,
        max,
        unit: Some(unit.to_owned()),
    };
    match attribute {
        "power" => Some(ValueSpec::OnOff),
        "brightness" | "position" => Some(number(0.0, 100.0, "%")),
        "colour_temp" => Some(number(1500.0, 9000.0, "K")),
        "target_temperature" => Some(number(5.0, 35.0, "°C")),
        "lock" => Some(ValueSpec::Choice {
            options: vec!["locked".to_owned(), "unlocked".to_owned()],
        }),
        _ => None,
    }
}

/// Whether `value` is one of the values `spec` allows.
pub fn accepts(spec: &ValueSpec, value: &Value) -> bool {
    match spec {
        ValueSpec::OnOff => matches!(value.as_str(), Some("on" | "off")),
        ValueSpec::Boolean => value.is_boolean(),
        ValueSpec::Number { min, max, .. } => value
            .as_f64()
            .is_some_and(|number| number >= *min && number <= *max),
        ValueSpec::Choice { options } => value
            .as_str()
            .is_some_and(|text| options.iter().any(|option| option == text)),
    }
}

/// Whether two JSON values are the same, numbers compared as numbers.
fn same_value(left: &Value, right: &Value) -> bool {
    match (left.as_f64(), right.as_f64()) {
        (Some(left), Some(right)) => left == right,
        _ => left == right,
    }
}

/// The ids of the enabled routines an event of `event_type` with `data`
/// triggers, in id order. The saga that watches events sends each a
/// `RunRoutine` with the routine's current version.
pub fn routines_triggered_by(home: &Home, event_type: &str, data: &Value) -> Vec<String> {
    home.routines
        .iter()
        .filter(|(_, routine)| routine.enabled && !routine.removed)
        .filter(|(_, routine)| match &routine.trigger {
            RoutineTrigger::Event {
                event_type: wanted,
                device_id,
                attribute,
            } => {
                wanted == event_type
                    && device_id
                        .as_ref()
                        .is_none_or(|id| data.get("device_id") == Some(&Value::from(id.as_str())))
                    && attribute
                        .as_ref()
                        .is_none_or(|condition| condition_holds(condition, data))
            }
            RoutineTrigger::TimeOfDay { .. } => false,
        })
        .map(|(id, _)| id.clone())
        .collect()
}

fn condition_holds(condition: &AttributeCondition, data: &Value) -> bool {
    let value = data
        .get("attributes")
        .and_then(|attributes| attributes.get(&condition.name))
        .or_else(|| data.get(&condition.name));
    let Some(value) = value else {
        return false;
    };
    let number = value.as_f64();
    condition
        .equals
        .as_ref()
        .is_none_or(|wanted| same_value(value, wanted))
        && condition
            .above
            .is_none_or(|bound| number.is_some_and(|n| n > bound))
        && condition
            .below
            .is_none_or(|bound| number.is_some_and(|n| n < bound))
}

// ------------------------------------------------------------- validation

fn identifier(value: &str, what: &str) -> Result<String, Rejection> {
    let value = value.trim();
    ensure(
        !value.is_empty()
            && value.chars().count() <= 100
            && !value.chars().any(|c| c.is_whitespace() || c.is_control()),
        "id_invalid",
        || format!("a {what} is 1 to 100 characters without white space, not `{value}`"),
    )?;
    Ok(value.to_owned())
}

fn attribute_name(name: &str) -> Result<String, Rejection> {
    let valid = name.chars().count() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && is_snake_name(name);
    ensure(valid, "capability_invalid", || {
        format!(
            "an attribute name is lower-case letters, digits and `_` (like `colour_temp`), not `{name}`"
        )
    })?;
    Ok(name.to_owned())
}

fn value_spec(attribute: &str, spec: ValueSpec) -> Result<ValueSpec, Rejection> {
    let valid = match &spec {
        ValueSpec::OnOff | ValueSpec::Boolean => true,
        ValueSpec::Number { min, max, .. } => min.is_finite() && max.is_finite() && min <= max,
        ValueSpec::Choice { options } => {
            !options.is_empty() && options.iter().all(|o| !o.trim().is_empty())
        }
    };
    ensure(valid, "capability_range_invalid", || {
        format!("`{attribute}` needs a range from a least to a greatest number, or some options")
    })?;
    Ok(spec)
}

fn zone(zone: &str) -> Result<String, Rejection> {
    let zone = zone.trim();
    ensure(zone.parse::<Tz>().is_ok(), "zone_invalid", || {
        format!("a time zone is an IANA name like `Europe/Paris` or `UTC`, not `{zone}`")
    })?;
    Ok(zone.to_owned())
}

/// The first instant strictly after `after` at which a time-of-day trigger
/// is due; `None` for an event trigger (or a zone that does not parse,
/// which a recorded trigger never has).
///
/// A local time that does not exist that day (it falls in the spring-forward
/// gap) runs an hour later; one that exists twice (autumn) runs at the
/// first.
pub fn next_run(trigger: &RoutineTrigger, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let RoutineTrigger::TimeOfDay {
        time,
        weekdays,
        zone,
    } = trigger
    else {
        return None;
    };
    let zone: Tz = zone.parse().ok()?;
    let today = after.with_timezone(&zone).date_naive();
    // Eight days cover a weekly trigger whose day is today but whose time
    // has passed.
    (0..=7)
        .filter_map(|offset| today.checked_add_days(Days::new(offset)))
        .filter(|day| {
            weekdays
                .iter()
                .any(|weekday| chrono::Weekday::from(*weekday) == day.weekday())
        })
        .filter_map(|day| {
            let local = day.and_time(*time);
            zone.from_local_datetime(&local).earliest().or_else(|| {
                zone.from_local_datetime(&(local + Duration::hours(1)))
                    .earliest()
            })
        })
        .map(|instant| instant.with_timezone(&Utc))
        .find(|instant| *instant > after)
}

fn remember(list: &mut VecDeque<String>, id: &str, limit: usize) {
    list.push_back(id.to_owned());
    while list.len() > limit {
        list.pop_front();
    }
}

// ---------------------------------------------------------------- commands

/// One capability of a device being registered.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapabilityInput {
    /// The attribute (`power`, `brightness`, `colour_temp`,
    /// `target_temperature`, `position`, `lock` or any other).
    pub attribute: String,
    /// The values it takes; may be left out for the well-known attributes.
    #[serde(default)]
    pub value: Option<ValueSpec>,
    /// Whether the device only reports it.
    #[serde(default)]
    pub read_only: bool,
}

/// Commands to a home (`home-<household>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum HomeCommand {
    /// A device joins the home.
    RegisterDevice {
        /// Its id, as the integration names it.
        device_id: String,
        /// What sort of device it is.
        kind: DeviceKind,
        /// The room it is in.
        room: String,
        /// What can be asked of it (none for a sensor).
        #[serde(default)]
        capabilities: Vec<CapabilityInput>,
    },
    /// A device moved to another room.
    MoveDevice {
        /// The device.
        device_id: String,
        /// Its new room.
        room: String,
    },
    /// A device leaves the home (and every scene).
    RemoveDevice {
        /// The device.
        device_id: String,
    },
    /// A device reports its state (sent by the integration).
    ReportDeviceState {
        /// The device.
        device_id: String,
        /// Its attributes: capabilities or sensor readings.
        attributes: BTreeMap<String, Value>,
    },
    /// Ask a device for a state; the actuator carries it out.
    RequestDeviceState {
        /// The request's id, chosen by the caller.
        request_id: String,
        /// The device.
        device_id: String,
        /// The attributes to set.
        attributes: BTreeMap<String, Value>,
    },
    /// The actuator carried out a request.
    RecordStateApplied {
        /// The request.
        request_id: String,
    },
    /// The actuator could not carry out a request.
    RecordStateFailed {
        /// The request.
        request_id: String,
        /// What went wrong.
        #[serde(default)]
        reason: String,
    },
    /// Define a scene, or redefine it as a whole.
    DefineScene {
        /// Its id.
        scene_id: String,
        /// Its name.
        name: String,
        /// What each device is asked for, one action per device.
        actions: Vec<SceneAction>,
    },
    /// Remove a scene no routine uses.
    RemoveScene {
        /// The scene.
        scene_id: String,
    },
    /// Activate a scene: ask each of its devices for its state.
    ActivateScene {
        /// The scene.
        scene_id: String,
        /// The activation's id, chosen by the caller; activating again with
        /// the same id does nothing.
        activation_id: String,
    },
    /// Define a routine, or redefine it (its version goes up).
    DefineRoutine {
        /// Its id.
        routine_id: String,
        /// Its name.
        name: String,
        /// When it runs.
        trigger: RoutineTrigger,
        /// The scene it activates.
        scene_id: String,
    },
    /// Switch a routine on.
    EnableRoutine {
        /// The routine.
        routine_id: String,
    },
    /// Switch a routine off.
    DisableRoutine {
        /// The routine.
        routine_id: String,
    },
    /// Remove a routine.
    RemoveRoutine {
        /// The routine.
        routine_id: String,
    },
    /// Run a routine (sent by the timer or the event saga); does nothing
    /// when it is disabled, removed, or redefined since `version`.
    RunRoutine {
        /// The routine.
        routine_id: String,
        /// The definition version the trigger was scheduled for.
        version: u32,
        /// The run, named by the sender (the local time it fired for, or
        /// the triggering event's id); a repeat does nothing.
        run_id: String,
    },
}

// ------------------------------------------------------------------- state

/// What the home knows of one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// What sort of device it is.
    pub kind: DeviceKind,
    /// Its room.
    pub room: String,
    /// Its capabilities, by attribute.
    pub capabilities: BTreeMap<String, Capability>,
    /// The last reported value of each attribute.
    pub reported: BTreeMap<String, Value>,
}

/// A scene: what each device is asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    /// Its name.
    pub name: String,
    /// Its actions, one per device still in the home.
    pub actions: Vec<SceneAction>,
}

/// A routine and whether it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Routine {
    /// Its name.
    pub name: String,
    /// Its definition's version.
    pub version: u32,
    /// When it runs.
    pub trigger: RoutineTrigger,
    /// The scene it activates.
    pub scene_id: String,
    /// Whether it is switched on.
    pub enabled: bool,
    /// Whether it was removed (kept so a later definition's version goes
    /// on from this one).
    pub removed: bool,
    /// Its latest run ids, to recognise a trigger firing twice.
    pub recent_runs: VecDeque<String>,
    /// When a time-of-day routine is due next.
    pub next_run_at: Option<DateTime<Utc>>,
}

/// A household's home.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Home {
    /// The devices, by id.
    pub devices: BTreeMap<String, Device>,
    /// Devices that were removed (and not registered again).
    pub removed_devices: BTreeSet<String>,
    /// Requests the actuator has not settled, by request id.
    pub pending: BTreeMap<String, DesiredStateRequested>,
    /// The latest settled request ids.
    pub settled: VecDeque<String>,
    /// The scenes, by id.
    pub scenes: BTreeMap<String, Scene>,
    /// The routines, by id (removed ones included).
    pub routines: BTreeMap<String, Routine>,
    /// The latest scene activation ids.
    pub activations: VecDeque<String>,
}

impl Home {
    fn device(&self, device_id: &str) -> Result<&Device, Rejection> {
        self.devices.get(device_id.trim()).ok_or_else(|| {
            Rejection::new(
                "unknown_device",
                format!("the home has no device `{}`", device_id.trim()),
            )
        })
    }

    fn scene(&self, scene_id: &str) -> Result<&Scene, Rejection> {
        self.scenes.get(scene_id.trim()).ok_or_else(|| {
            Rejection::new(
                "unknown_scene",
                format!("the home has no scene `{}`", scene_id.trim()),
            )
        })
    }

    /// A routine that was defined and not removed.
    fn live_routine(&self, routine_id: &str) -> Result<&Routine, Rejection> {
        self.routines
            .get(routine_id.trim())
            .filter(|routine| !routine.removed)
            .ok_or_else(|| {
                Rejection::new(
                    "unknown_routine",
                    format!("the home has no routine `{}`", routine_id.trim()),
                )
            })
    }

    /// Checks a desired state against the device's writable capabilities.
    fn check_desired(
        &self,
        device_id: &str,
        attributes: &BTreeMap<String, Value>,
    ) -> Result<(), Rejection> {
        let device = self.device(device_id)?;
        ensure(!attributes.is_empty(), "attributes_required", || {
            format!("say what to set on `{device_id}`")
        })?;
        for (name, value) in attributes {
            let capability = device.capabilities.get(name).ok_or_else(|| {
                Rejection::new(
                    "attribute_not_supported",
                    format!("`{device_id}` has no `{name}`"),
                )
            })?;
            ensure(!capability.read_only, "attribute_read_only", || {
                format!("`{device_id}` only reports `{name}`; it cannot be set")
            })?;
            ensure(
                accepts(&capability.value, value),
                "value_out_of_range",
                || {
                    format!(
                        "`{name}` of `{device_id}` takes {}, not {value}",
                        describe(&capability.value)
                    )
                },
            )?;
        }
        Ok(())
    }

    /// The activation of `scene` under `activation_id`.
    fn activation(
        scene_id: &str,
        scene: &Scene,
        activation_id: &str,
        routine_id: Option<&str>,
        context: &Context,
    ) -> Vec<HomeEvent> {
        let requests: Vec<DesiredStateRequested> = scene
            .actions
            .iter()
            .map(|action| DesiredStateRequested {
                request_id: format!("{activation_id}/{}", action.device_id),
                device_id: action.device_id.clone(),
                attributes: action.attributes.clone(),
                scene_id: Some(scene_id.to_owned()),
                at: context.now,
            })
            .collect();
        let mut events = vec![HomeEvent::SceneActivated(SceneActivated {
            scene_id: scene_id.to_owned(),
            activation_id: activation_id.to_owned(),
            routine_id: routine_id.map(str::to_owned),
            request_ids: requests.iter().map(|r| r.request_id.clone()).collect(),
        })];
        events.extend(requests.into_iter().map(HomeEvent::StateRequested));
        events
    }

    fn register_device(
        &self,
        device_id: &str,
        kind: DeviceKind,
        room: &str,
        inputs: Vec<CapabilityInput>,
    ) -> Result<Vec<HomeEvent>, Rejection> {
        let device_id = identifier(device_id, "device id")?;
        let room = short_text(room, "room_required", "room")?;
        let mut capabilities: BTreeMap<String, Capability> = BTreeMap::new();
        for input in inputs {
            let attribute = attribute_name(input.attribute.trim())?;
            ensure(
                !capabilities.contains_key(&attribute),
                "capability_repeated",
                || format!("`{attribute}` is listed twice"),
            )?;
            let value = input
                .value
                .or_else(|| well_known_value(&attribute))
                .ok_or_else(|| {
                    Rejection::new(
                        "capability_value_required",
                        format!("say which values `{attribute}` takes"),
                    )
                })?;
            let value = value_spec(&attribute, value)?;
            capabilities.insert(
                attribute.clone(),
                Capability {
                    attribute,
                    value,
                    read_only: input.read_only,
                },
            );
        }
        if let Some(existing) = self.devices.get(&device_id) {
            let same = existing.kind == kind
                && existing.room == room
                && existing.capabilities == capabilities;
            ensure(same, "device_already_registered", || {
                format!("`{device_id}` is registered already; remove it first to change it")
            })?;
            return Ok(Vec::new());
        }
        Ok(vec![HomeEvent::DeviceRegistered(DeviceRegistered {
            device_id,
            kind,
            room,
            capabilities: capabilities.into_values().collect(),
        })])
    }

    fn report_state(
        &self,
        device_id: &str,
        attributes: BTreeMap<String, Value>,
    ) -> Result<Vec<HomeEvent>, Rejection> {
        let device_id = device_id.trim();
        let device = self.device(device_id)?;
        ensure(!attributes.is_empty(), "attributes_required", || {
            format!("a report of `{device_id}` carries at least one attribute")
        })?;
        for name in attributes.keys() {
            ensure(
                device.capabilities.contains_key(name)
                    || SENSOR_ATTRIBUTES.contains(&name.as_str()),
                "attribute_not_supported",
                || format!("`{device_id}` has no `{name}` and it is no sensor reading"),
            )?;
        }
        let changes = attributes
            .iter()
            .any(|(name, value)| device.reported.get(name) != Some(value));
        if !changes {
            return Ok(Vec::new());
        }
        Ok(vec![HomeEvent::StateReported(DeviceStateReported {
            device_id: device_id.to_owned(),
            attributes,
        })])
    }

    fn request_state(
        &self,
        request_id: &str,
        device_id: &str,
        attributes: BTreeMap<String, Value>,
        context: &Context,
    ) -> Result<Vec<HomeEvent>, Rejection> {
        let request_id = identifier(request_id, "request id")?;
        let device_id = device_id.trim();
        self.check_desired(device_id, &attributes)?;
        if let Some(pending) = self.pending.get(&request_id) {
            ensure(
                pending.device_id == device_id && pending.attributes == attributes,
                "request_id_taken",
                || format!("request `{request_id}` asks something else already"),
            )?;
            return Ok(Vec::new());
        }
        ensure(
            !self.settled.contains(&request_id),
            "request_id_taken",
            || format!("request `{request_id}` was settled already; use a new id"),
        )?;
        Ok(vec![HomeEvent::StateRequested(DesiredStateRequested {
            request_id,
            device_id: device_id.to_owned(),
            attributes,
            scene_id: None,
            at: context.now,
        })])
    }

    /// The pending request, `None` when it was settled already.
    fn unsettled(&self, request_id: &str) -> Result<Option<&DesiredStateRequested>, Rejection> {
        let request_id = request_id.trim();
        if let Some(pending) = self.pending.get(request_id) {
            return Ok(Some(pending));
        }
        ensure(
            self.settled.iter().any(|id| id == request_id),
            "unknown_request",
            || format!("no request `{request_id}` is waiting for the actuator"),
        )?;
        Ok(None)
    }

    fn define_scene(
        &self,
        scene_id: &str,
        name: &str,
        actions: Vec<SceneAction>,
    ) -> Result<Vec<HomeEvent>, Rejection> {
        let scene_id = identifier(scene_id, "scene id")?;
        let name = short_text(name, "name_required", "scene's name")?;
        ensure(!actions.is_empty(), "scene_empty", || {
            format!("scene `{scene_id}` asks no device for anything")
        })?;
        let mut seen = BTreeSet::new();
        let mut normalised = Vec::with_capacity(actions.len());
        for action in actions {
            let device_id = action.device_id.trim().to_owned();
            ensure(
                seen.insert(device_id.clone()),
                "scene_device_repeated",
                || format!("`{device_id}` appears twice in scene `{scene_id}`"),
            )?;
            self.check_desired(&device_id, &action.attributes)?;
            normalised.push(SceneAction {
                device_id,
                attributes: action.attributes,
            });
        }
        if let Some(existing) = self.scenes.get(&scene_id)
            && existing.name == name
            && existing.actions == normalised
        {
            return Ok(Vec::new());
        }
        Ok(vec![HomeEvent::SceneDefined(SceneDefined {
            scene_id,
            name,
            actions: normalised,
        })])
    }

    fn define_routine(
        &self,
        routine_id: &str,
        name: &str,
        trigger: RoutineTrigger,
        scene_id: &str,
        context: &Context,
    ) -> Result<Vec<HomeEvent>, Rejection> {
        let routine_id = identifier(routine_id, "routine id")?;
        let name = short_text(name, "name_required", "routine's name")?;
        let scene_id = scene_id.trim().to_owned();
        self.scene(&scene_id)?;
        let trigger = self.trigger(trigger)?;
        let existing = self.routines.get(&routine_id);
        if let Some(routine) = existing.filter(|routine| !routine.removed)
            && routine.name == name
            && routine.trigger == trigger
            && routine.scene_id == scene_id
        {
            return Ok(Vec::new());
        }
        Ok(vec![HomeEvent::RoutineDefined(RoutineDefined {
            routine_id,
            name,
            version: existing.map_or(1, |routine| routine.version.saturating_add(1)),
            next_run_at: next_run(&trigger, context.now),
            trigger,
            scene_id,
        })])
    }

    fn trigger(&self, trigger: RoutineTrigger) -> Result<RoutineTrigger, Rejection> {
        match trigger {
            RoutineTrigger::TimeOfDay {
                time,
                mut weekdays,
                zone: zone_name,
            } => {
                ensure(!weekdays.is_empty(), "weekdays_required", || {
                    "say on which days of the week it runs".to_owned()
                })?;
                weekdays.sort();
                weekdays.dedup();
                Ok(RoutineTrigger::TimeOfDay {
                    time,
                    weekdays,
                    zone: zone(&zone_name)?,
                })
            }
            RoutineTrigger::Event {
                event_type,
                device_id,
                attribute,
            } => {
                let event_type = event_type.trim().to_owned();
                ensure(
                    EventType::parse(&event_type).is_ok(),
                    "event_type_invalid",
                    || format!("`{event_type}` is no event type name"),
                )?;
                let device_id = device_id
                    .map(|id| identifier(&id, "device id"))
                    .transpose()?;
                if event_type == DeviceStateReported::EVENT_TYPE
                    && let Some(device_id) = &device_id
                {
                    self.device(device_id)?;
                }
                let attribute = attribute
                    .map(|condition| -> Result<AttributeCondition, Rejection> {
                        let name = attribute_name(condition.name.trim())?;
                        ensure(
                            condition.above.is_none_or(f64::is_finite)
                                && condition.below.is_none_or(f64::is_finite),
                            "condition_invalid",
                            || format!("the bounds on `{name}` must be numbers"),
                        )?;
                        Ok(AttributeCondition { name, ..condition })
                    })
                    .transpose()?;
                Ok(RoutineTrigger::Event {
                    event_type,
                    device_id,
                    attribute,
                })
            }
        }
    }

    fn run_routine(
        &self,
        routine_id: &str,
        version: u32,
        run_id: &str,
        context: &Context,
    ) -> Result<Vec<HomeEvent>, Rejection> {
        let routine_id = routine_id.trim();
        let run_id = identifier(run_id, "run id")?;
        let routine = self.routines.get(routine_id).ok_or_else(|| {
            Rejection::new(
                "unknown_routine",
                format!("the home has no routine `{routine_id}`"),
            )
        })?;
        // Timers fire at least once and may outlive the definition they
        // were set for: every such trigger is a harmless no-op.
        if routine.removed
            || !routine.enabled
            || routine.version != version
            || routine.recent_runs.contains(&run_id)
        {
            return Ok(Vec::new());
        }
        // A timer firing a little early must not schedule the same instant
        // again: near its due time, the next run comes after that one.
        let after = routine
            .next_run_at
            .filter(|due| *due - context.now <= EARLY_RUN_TOLERANCE)
            .map_or(context.now, |due| due.max(context.now));
        let mut events = vec![HomeEvent::RoutineRan(RoutineRan {
            routine_id: routine_id.to_owned(),
            version,
            run_id: run_id.clone(),
            at: context.now,
            next_run_at: next_run(&routine.trigger, after),
        })];
        if let Some(scene) = self.scenes.get(&routine.scene_id)
            && !scene.actions.is_empty()
        {
            let activation_id = format!("routine:{routine_id}:{run_id}");
            events.extend(Self::activation(
                &routine.scene_id,
                scene,
                &activation_id,
                Some(routine_id),
                context,
            ));
        }
        Ok(events)
    }

    fn settle(&mut self, request_id: &str) {
        if self.pending.remove(request_id).is_some() {
            remember(&mut self.settled, request_id, REMEMBERED_SETTLEMENTS);
        }
    }
}

fn describe(spec: &ValueSpec) -> String {
    match spec {
        ValueSpec::OnOff => "\"on\" or \"off\"".to_owned(),
        ValueSpec::Boolean => "true or false".to_owned(),
        ValueSpec::Number { min, max, unit } => {
            format!(
                "a number from {min} to {max}{}",
                unit.as_deref().unwrap_or("")
            )
        }
        ValueSpec::Choice { options } => format!("one of {}", options.join(", ")),
    }
}

impl Aggregate for Home {
    const CATEGORY: &'static str = "home";
    const DOMAIN: &'static str = "home";
    const STATE_VERSION: u32 = 1;
    type Command = HomeCommand;
    type Event = HomeEvent;

    fn decide(&self, command: HomeCommand, context: &Context) -> Result<Vec<HomeEvent>, Rejection> {
        match command {
            HomeCommand::RegisterDevice {
                device_id,
                kind,
                room,
                capabilities,
            } => self.register_device(&device_id, kind, &room, capabilities),
            HomeCommand::MoveDevice { device_id, room } => {
                let device_id = device_id.trim();
                let device = self.device(device_id)?;
                let room = short_text(&room, "room_required", "room")?;
                if device.room == room {
                    return Ok(Vec::new());
                }
                Ok(vec![HomeEvent::DeviceMoved(DeviceMoved {
                    device_id: device_id.to_owned(),
                    room,
                })])
            }
            HomeCommand::RemoveDevice { device_id } => {
                let device_id = device_id.trim();
                if self.removed_devices.contains(device_id) {
                    return Ok(Vec::new());
                }
                self.device(device_id)?;
                Ok(vec![HomeEvent::DeviceRemoved(DeviceRemoved {
                    device_id: device_id.to_owned(),
                })])
            }
            HomeCommand::ReportDeviceState {
                device_id,
                attributes,
            } => self.report_state(&device_id, attributes),
            HomeCommand::RequestDeviceState {
                request_id,
                device_id,
                attributes,
            } => self.request_state(&request_id, &device_id, attributes, context),
            HomeCommand::RecordStateApplied { request_id } => Ok(self
                .unsettled(&request_id)?
                .map_or_else(Vec::new, |pending| {
                    vec![HomeEvent::StateApplied(DesiredStateApplied {
                        request_id: pending.request_id.clone(),
                        device_id: pending.device_id.clone(),
                    })]
                })),
            HomeCommand::RecordStateFailed { request_id, reason } => Ok(self
                .unsettled(&request_id)?
                .map_or_else(Vec::new, |pending| {
                    vec![HomeEvent::StateFailed(DesiredStateFailed {
                        request_id: pending.request_id.clone(),
                        device_id: pending.device_id.clone(),
                        reason: reason.trim().to_owned(),
                    })]
                })),
            HomeCommand::DefineScene {
                scene_id,
                name,
                actions,
            } => self.define_scene(&scene_id, &name, actions),
            HomeCommand::RemoveScene { scene_id } => {
                let scene_id = scene_id.trim();
                self.scene(scene_id)?;
                let users: Vec<&str> = self
                    .routines
                    .iter()
                    .filter(|(_, routine)| !routine.removed && routine.scene_id == scene_id)
                    .map(|(id, _)| id.as_str())
                    .collect();
                ensure(users.is_empty(), "scene_in_use", || {
                    format!(
                        "routines {} activate scene `{scene_id}`; change or remove them first",
                        users.join(", ")
                    )
                })?;
                Ok(vec![HomeEvent::SceneRemoved(SceneRemoved {
                    scene_id: scene_id.to_owned(),
                })])
            }
            HomeCommand::ActivateScene {
                scene_id,
                activation_id,
            } => {
                let activation_id = identifier(&activation_id, "activation id")?;
                let scene_id = scene_id.trim();
                let scene = self.scene(scene_id)?;
                if self.activations.contains(&activation_id) {
                    return Ok(Vec::new());
                }
                ensure(!scene.actions.is_empty(), "scene_empty", || {
                    format!("every device of scene `{scene_id}` has left the home")
                })?;
                Ok(Self::activation(
                    scene_id,
                    scene,
                    &activation_id,
                    None,
                    context,
                ))
            }
            HomeCommand::DefineRoutine {
                routine_id,
                name,
                trigger,
                scene_id,
            } => self.define_routine(&routine_id, &name, trigger, &scene_id, context),
            HomeCommand::EnableRoutine { routine_id } => {
                let routine = self.live_routine(&routine_id)?;
                if routine.enabled {
                    return Ok(Vec::new());
                }
                Ok(vec![HomeEvent::RoutineEnabled(RoutineEnabled {
                    routine_id: routine_id.trim().to_owned(),
                    version: routine.version,
                    next_run_at: next_run(&routine.trigger, context.now),
                })])
            }
            HomeCommand::DisableRoutine { routine_id } => {
                let routine = self.live_routine(&routine_id)?;
                if !routine.enabled {
                    return Ok(Vec::new());
                }
                Ok(vec![HomeEvent::RoutineDisabled(RoutineDisabled {
                    routine_id: routine_id.trim().to_owned(),
                })])
            }
            HomeCommand::RemoveRoutine { routine_id } => {
                let routine_id = routine_id.trim();
                if self.routines.get(routine_id).is_some_and(|r| r.removed) {
                    return Ok(Vec::new());
                }
                self.live_routine(routine_id)?;
                Ok(vec![HomeEvent::RoutineRemoved(RoutineRemoved {
                    routine_id: routine_id.to_owned(),
                })])
            }
            HomeCommand::RunRoutine {
                routine_id,
                version,
                run_id,
            } => self.run_routine(&routine_id, version, &run_id, context),
        }
    }

    fn apply(&mut self, event: &HomeEvent) {
        match event {
            HomeEvent::DeviceRegistered(e) => {
                self.removed_devices.remove(&e.device_id);
                self.devices.insert(
                    e.device_id.clone(),
                    Device {
                        kind: e.kind,
                        room: e.room.clone(),
                        capabilities: e
                            .capabilities
                            .iter()
                            .map(|c| (c.attribute.clone(), c.clone()))
                            .collect(),
                        reported: BTreeMap::new(),
                    },
                );
            }
            HomeEvent::DeviceMoved(e) => {
                if let Some(device) = self.devices.get_mut(&e.device_id) {
                    device.room.clone_from(&e.room);
                }
            }
            HomeEvent::DeviceRemoved(e) => {
                if self.devices.remove(&e.device_id).is_some() {
                    self.removed_devices.insert(e.device_id.clone());
                }
                for scene in self.scenes.values_mut() {
                    scene
                        .actions
                        .retain(|action| action.device_id != e.device_id);
                }
            }
            HomeEvent::StateReported(e) => {
                if let Some(device) = self.devices.get_mut(&e.device_id) {
                    device.reported.extend(e.attributes.clone());
                }
            }
            HomeEvent::StateRequested(e) => {
                self.pending.insert(e.request_id.clone(), e.clone());
            }
            HomeEvent::StateApplied(e) => self.settle(&e.request_id),
            HomeEvent::StateFailed(e) => self.settle(&e.request_id),
            HomeEvent::SceneDefined(e) => {
                self.scenes.insert(
                    e.scene_id.clone(),
                    Scene {
                        name: e.name.clone(),
                        actions: e.actions.clone(),
                    },
                );
            }
            HomeEvent::SceneRemoved(e) => {
                self.scenes.remove(&e.scene_id);
            }
            HomeEvent::SceneActivated(e) => {
                remember(
                    &mut self.activations,
                    &e.activation_id,
                    REMEMBERED_ACTIVATIONS,
                );
            }
            HomeEvent::RoutineDefined(e) => {
                let routine = self
                    .routines
                    .entry(e.routine_id.clone())
                    .or_insert_with(|| Routine {
                        name: String::new(),
                        version: 0,
                        trigger: e.trigger.clone(),
                        scene_id: String::new(),
                        enabled: true,
                        removed: false,
                        recent_runs: VecDeque::new(),
                        next_run_at: None,
                    });
                // A routine defined anew (or again after removal) starts
                // enabled; a redefinition keeps its switch.
                if routine.removed {
                    routine.enabled = true;
                    routine.removed = false;
                }
                routine.name.clone_from(&e.name);
                routine.version = e.version;
                routine.trigger = e.trigger.clone();
                routine.scene_id.clone_from(&e.scene_id);
                routine.next_run_at = e.next_run_at;
            }
            HomeEvent::RoutineEnabled(e) => {
                if let Some(routine) = self.routines.get_mut(&e.routine_id) {
                    routine.enabled = true;
                    routine.next_run_at = e.next_run_at;
                }
            }
            HomeEvent::RoutineDisabled(e) => {
                if let Some(routine) = self.routines.get_mut(&e.routine_id) {
                    routine.enabled = false;
                }
            }
            HomeEvent::RoutineRemoved(e) => {
                if let Some(routine) = self.routines.get_mut(&e.routine_id) {
                    routine.removed = true;
                    routine.enabled = false;
                }
            }
            HomeEvent::RoutineRan(e) => {
                if let Some(routine) = self.routines.get_mut(&e.routine_id) {
                    remember(&mut routine.recent_runs, &e.run_id, REMEMBERED_ACTIVATIONS);
                    routine.next_run_at = e.next_run_at;
                }
            }
        }
    }
}
