//! Home: given events / when command / then events.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, TimeZone as _, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use steward_actors::home::{CapabilityInput, Home, HomeCommand, next_run, routines_triggered_by};
use steward_actors::testing::{default_now, given, live_and_replayed};
use steward_events::domain::home::{
    AttributeCondition, Capability, DesiredStateApplied, DesiredStateFailed, DesiredStateRequested,
    DeviceKind, DeviceMoved, DeviceRegistered, DeviceRemoved, DeviceStateReported, HomeEvent,
    RoutineDefined, RoutineDisabled, RoutineEnabled, RoutineRan, RoutineRemoved, RoutineTrigger,
    SceneAction, SceneActivated, SceneDefined, SceneRemoved, ValueSpec, Weekday,
};

fn now() -> DateTime<Utc> {
    default_now()
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("a valid instant")
}

fn attributes(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect()
}

fn percent() -> ValueSpec {
    ValueSpec::Number {
        min: 0.0,
        max: 100.0,
        unit: Some("%".into()),
    }
}

fn capability(attribute: &str, value: ValueSpec) -> Capability {
    Capability {
        attribute: attribute.into(),
        value,
        read_only: false,
    }
}

/// A dimmable lamp in the hall.
fn lamp() -> HomeEvent {
    HomeEvent::DeviceRegistered(DeviceRegistered {
        device_id: "hall_lamp".into(),
        kind: DeviceKind::Light,
        room: "hall".into(),
        capabilities: vec![
            capability("brightness", percent()),
            capability("power", ValueSpec::OnOff),
        ],
    })
}

/// A thermostat in the living room that reports its valve position.
fn thermostat() -> HomeEvent {
    HomeEvent::DeviceRegistered(DeviceRegistered {
        device_id: "thermostat".into(),
        kind: DeviceKind::Thermostat,
        room: "living room".into(),
        capabilities: vec![
            capability(
                "target_temperature",
                ValueSpec::Number {
                    min: 5.0,
                    max: 35.0,
                    unit: Some("°C".into()),
                },
            ),
            Capability {
                attribute: "valve".into(),
                value: percent(),
                read_only: true,
            },
        ],
    })
}

/// A motion sensor on the landing, with no capabilities.
fn sensor() -> HomeEvent {
    HomeEvent::DeviceRegistered(DeviceRegistered {
        device_id: "landing_motion".into(),
        kind: DeviceKind::Sensor,
        room: "landing".into(),
        capabilities: vec![],
    })
}

fn evening() -> HomeEvent {
    HomeEvent::SceneDefined(SceneDefined {
        scene_id: "evening".into(),
        name: "Evening".into(),
        actions: vec![
            SceneAction {
                device_id: "hall_lamp".into(),
                attributes: attributes(&[("power", json!("on")), ("brightness", json!(40))]),
            },
            SceneAction {
                device_id: "thermostat".into(),
                attributes: attributes(&[("target_temperature", json!(21))]),
            },
        ],
    })
}

fn weekday_mornings() -> RoutineTrigger {
    RoutineTrigger::TimeOfDay {
        time: NaiveTime::from_hms_opt(7, 30, 0).expect("a valid time"),
        weekdays: vec![
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
        ],
        zone: "Europe/Paris".into(),
    }
}

fn on_motion() -> RoutineTrigger {
    RoutineTrigger::Event {
        event_type: "DeviceStateReported".into(),
        device_id: Some("landing_motion".into()),
        attribute: Some(AttributeCondition {
            name: "motion".into(),
            equals: Some(json!(true)),
            above: None,
            below: None,
        }),
    }
}

/// Tuesday 2026-03-03 07:30 in Paris (UTC+1).
fn next_morning() -> DateTime<Utc> {
    utc(2026, 3, 3, 6, 30)
}

fn routine_defined(routine_id: &str, version: u32, trigger: RoutineTrigger) -> HomeEvent {
    let next_run_at = next_run(&trigger, now());
    HomeEvent::RoutineDefined(RoutineDefined {
        routine_id: routine_id.into(),
        name: "Routine".into(),
        version,
        trigger,
        scene_id: "evening".into(),
        next_run_at,
    })
}

fn define_routine(routine_id: &str, trigger: RoutineTrigger) -> HomeCommand {
    HomeCommand::DefineRoutine {
        routine_id: routine_id.into(),
        name: "Routine".into(),
        trigger,
        scene_id: "evening".into(),
    }
}

fn furnished() -> Vec<HomeEvent> {
    vec![lamp(), thermostat(), sensor(), evening()]
}

fn request(request_id: &str, device_id: &str, attrs: &[(&str, Value)]) -> HomeCommand {
    HomeCommand::RequestDeviceState {
        request_id: request_id.into(),
        device_id: device_id.into(),
        attributes: attributes(attrs),
    }
}

fn requested(request_id: &str, device_id: &str, attrs: &[(&str, Value)]) -> HomeEvent {
    HomeEvent::StateRequested(DesiredStateRequested {
        request_id: request_id.into(),
        device_id: device_id.into(),
        attributes: attributes(attrs),
        scene_id: None,
        at: now(),
    })
}

fn report(device_id: &str, attrs: &[(&str, Value)]) -> HomeCommand {
    HomeCommand::ReportDeviceState {
        device_id: device_id.into(),
        attributes: attributes(attrs),
    }
}

fn reported(device_id: &str, attrs: &[(&str, Value)]) -> HomeEvent {
    HomeEvent::StateReported(DeviceStateReported {
        device_id: device_id.into(),
        attributes: attributes(attrs),
    })
}

fn input(attribute: &str, value: Option<ValueSpec>) -> CapabilityInput {
    CapabilityInput {
        attribute: attribute.into(),
        value,
        read_only: false,
    }
}

fn register(device_id: &str, room: &str, capabilities: Vec<CapabilityInput>) -> HomeCommand {
    HomeCommand::RegisterDevice {
        device_id: device_id.into(),
        kind: DeviceKind::Light,
        room: room.into(),
        capabilities,
    }
}

// --------------------------------------------------------- RegisterDevice

#[test]
fn registering_a_device_fills_in_well_known_capabilities() {
    let state = given::<Home>([])
        .when(register(
            " hall_lamp ",
            " hall ",
            vec![input("power", None), input("brightness", None)],
        ))
        .then([lamp()]);
    assert_eq!(state.devices["hall_lamp"].room, "hall");
    assert_eq!(state.devices["hall_lamp"].capabilities.len(), 2);
}

#[test]
fn registering_the_same_device_again_changes_nothing_but_a_different_one_is_refused() {
    given::<Home>([lamp()])
        .when(register(
            "hall_lamp",
            "hall",
            vec![input("brightness", None), input("power", None)],
        ))
        .then([]);
    given::<Home>([lamp()])
        .when(register("hall_lamp", "kitchen", vec![input("power", None)]))
        .then_rejected("device_already_registered");
}

#[test]
fn a_registration_needs_an_id_a_room_and_sound_capabilities() {
    given::<Home>([])
        .when(register("hall lamp", "hall", vec![]))
        .then_rejected("id_invalid");
    given::<Home>([])
        .when(register("lamp", "  ", vec![]))
        .then_rejected("room_required");
    given::<Home>([])
        .when(register("lamp", &"x".repeat(201), vec![]))
        .then_rejected("too_long");
    given::<Home>([])
        .when(register("lamp", "hall", vec![input("Colour Temp", None)]))
        .then_rejected("capability_invalid");
    given::<Home>([])
        .when(register(
            "lamp",
            "hall",
            vec![input("power", None), input("power", None)],
        ))
        .then_rejected("capability_repeated");
    given::<Home>([])
        .when(register("lamp", "hall", vec![input("hue", None)]))
        .then_rejected("capability_value_required");
    given::<Home>([])
        .when(register(
            "lamp",
            "hall",
            vec![input(
                "hue",
                Some(ValueSpec::Number {
                    min: 360.0,
                    max: 0.0,
                    unit: None,
                }),
            )],
        ))
        .then_rejected("capability_range_invalid");
    given::<Home>([])
        .when(register(
            "lamp",
            "hall",
            vec![input("effect", Some(ValueSpec::Choice { options: vec![] }))],
        ))
        .then_rejected("capability_range_invalid");
}

#[test]
fn a_removed_device_can_be_registered_again() {
    given::<Home>([
        lamp(),
        HomeEvent::DeviceRemoved(DeviceRemoved {
            device_id: "hall_lamp".into(),
        }),
    ])
    .when(register(
        "hall_lamp",
        "hall",
        vec![input("power", None), input("brightness", None)],
    ))
    .then([lamp()]);
}

// ------------------------------------------------------------- MoveDevice

#[test]
fn moving_a_device_records_its_new_room() {
    let state = given::<Home>([lamp()])
        .when(HomeCommand::MoveDevice {
            device_id: "hall_lamp".into(),
            room: "Study".into(),
        })
        .then([HomeEvent::DeviceMoved(DeviceMoved {
            device_id: "hall_lamp".into(),
            room: "Study".into(),
        })]);
    assert_eq!(state.devices["hall_lamp"].room, "Study");
}

#[test]
fn moving_a_device_to_its_room_changes_nothing_and_an_unknown_one_is_refused() {
    given::<Home>([lamp()])
        .when(HomeCommand::MoveDevice {
            device_id: "hall_lamp".into(),
            room: "hall".into(),
        })
        .then([]);
    given::<Home>([])
        .when(HomeCommand::MoveDevice {
            device_id: "hall_lamp".into(),
            room: "hall".into(),
        })
        .then_rejected("unknown_device");
    given::<Home>([lamp()])
        .when(HomeCommand::MoveDevice {
            device_id: "hall_lamp".into(),
            room: "".into(),
        })
        .then_rejected("room_required");
}

// ----------------------------------------------------------- RemoveDevice

#[test]
fn removing_a_device_takes_it_out_of_every_scene() {
    let state = given::<Home>(furnished())
        .when(HomeCommand::RemoveDevice {
            device_id: "hall_lamp".into(),
        })
        .then([HomeEvent::DeviceRemoved(DeviceRemoved {
            device_id: "hall_lamp".into(),
        })]);
    assert!(!state.devices.contains_key("hall_lamp"));
    let scene = &state.scenes["evening"];
    assert_eq!(scene.actions.len(), 1);
    assert_eq!(scene.actions[0].device_id, "thermostat");
}

#[test]
fn removing_a_removed_device_changes_nothing_and_an_unknown_one_is_refused() {
    given::<Home>([
        lamp(),
        HomeEvent::DeviceRemoved(DeviceRemoved {
            device_id: "hall_lamp".into(),
        }),
    ])
    .when(HomeCommand::RemoveDevice {
        device_id: "hall_lamp".into(),
    })
    .then([]);
    given::<Home>([])
        .when(HomeCommand::RemoveDevice {
            device_id: "ghost".into(),
        })
        .then_rejected("unknown_device");
}

// ------------------------------------------------------ ReportDeviceState

#[test]
fn a_report_records_capabilities_and_sensor_readings() {
    let state = given::<Home>([lamp()])
        .when(report(
            "hall_lamp",
            &[("power", json!("on")), ("power_draw", json!(6.5))],
        ))
        .then([reported(
            "hall_lamp",
            &[("power", json!("on")), ("power_draw", json!(6.5))],
        )]);
    assert_eq!(state.devices["hall_lamp"].reported["power"], json!("on"));
}

#[test]
fn a_report_may_carry_read_only_capabilities_and_values_out_of_range() {
    // A report is a fact: the range only bounds what may be asked.
    given::<Home>([thermostat()])
        .when(report(
            "thermostat",
            &[("valve", json!(30)), ("target_temperature", json!(40))],
        ))
        .then([reported(
            "thermostat",
            &[("valve", json!(30)), ("target_temperature", json!(40))],
        )]);
}

#[test]
fn a_report_that_changes_nothing_records_nothing() {
    given::<Home>([
        lamp(),
        reported(
            "hall_lamp",
            &[("power", json!("on")), ("brightness", json!(40))],
        ),
    ])
    .when(report("hall_lamp", &[("power", json!("on"))]))
    .then([]);
}

#[test]
fn a_report_of_an_unknown_device_or_attribute_is_refused() {
    given::<Home>([])
        .when(report("hall_lamp", &[("power", json!("on"))]))
        .then_rejected("unknown_device");
    given::<Home>([lamp()])
        .when(report("hall_lamp", &[("colour_temp", json!(2700))]))
        .then_rejected("attribute_not_supported");
    given::<Home>([lamp()])
        .when(report("hall_lamp", &[]))
        .then_rejected("attributes_required");
}

// ----------------------------------------------------- RequestDeviceState

#[test]
fn requesting_a_state_records_it_as_pending() {
    let state = given::<Home>([lamp()])
        .when(request(
            "r-1",
            "hall_lamp",
            &[("power", json!("on")), ("brightness", json!(80))],
        ))
        .then([requested(
            "r-1",
            "hall_lamp",
            &[("power", json!("on")), ("brightness", json!(80))],
        )]);
    assert!(state.pending.contains_key("r-1"));
}

#[test]
fn a_requested_state_must_fit_the_capabilities() {
    given::<Home>([])
        .when(request("r-1", "hall_lamp", &[("power", json!("on"))]))
        .then_rejected("unknown_device");
    given::<Home>([lamp()])
        .when(request("r-1", "hall_lamp", &[]))
        .then_rejected("attributes_required");
    given::<Home>([lamp()])
        .when(request("r-1", "hall_lamp", &[("colour_temp", json!(3000))]))
        .then_rejected("attribute_not_supported");
    given::<Home>([thermostat()])
        .when(request("r-1", "thermostat", &[("valve", json!(50))]))
        .then_rejected("attribute_read_only");
    given::<Home>([lamp()])
        .when(request("r-1", "hall_lamp", &[("brightness", json!(120))]))
        .then_rejected("value_out_of_range");
    given::<Home>([lamp()])
        .when(request("r-1", "hall_lamp", &[("power", json!(true))]))
        .then_rejected("value_out_of_range");
    given::<Home>([lamp()])
        .when(request("", "hall_lamp", &[("power", json!("on"))]))
        .then_rejected("id_invalid");
}

#[test]
fn a_request_id_is_used_once() {
    let pending = [
        lamp(),
        requested("r-1", "hall_lamp", &[("power", json!("on"))]),
    ];
    given::<Home>(pending.clone())
        .when(request("r-1", "hall_lamp", &[("power", json!("on"))]))
        .then([]);
    given::<Home>(pending.clone())
        .when(request("r-1", "hall_lamp", &[("power", json!("off"))]))
        .then_rejected("request_id_taken");
    let mut settled = pending.to_vec();
    settled.push(HomeEvent::StateApplied(DesiredStateApplied {
        request_id: "r-1".into(),
        device_id: "hall_lamp".into(),
    }));
    given::<Home>(settled)
        .when(request("r-1", "hall_lamp", &[("power", json!("on"))]))
        .then_rejected("request_id_taken");
}

// ------------------------------------------- RecordStateApplied / Failed

#[test]
fn the_actuator_settles_a_request_once() {
    let pending = vec![
        lamp(),
        requested("r-1", "hall_lamp", &[("power", json!("on"))]),
    ];
    let applied = HomeEvent::StateApplied(DesiredStateApplied {
        request_id: "r-1".into(),
        device_id: "hall_lamp".into(),
    });
    let state = given::<Home>(pending.clone())
        .when(HomeCommand::RecordStateApplied {
            request_id: "r-1".into(),
        })
        .then([applied.clone()]);
    assert!(state.pending.is_empty());
    let mut settled = pending;
    settled.push(applied);
    given::<Home>(settled.clone())
        .when(HomeCommand::RecordStateApplied {
            request_id: "r-1".into(),
        })
        .then([]);
    given::<Home>(settled)
        .when(HomeCommand::RecordStateFailed {
            request_id: "r-1".into(),
            reason: "late".into(),
        })
        .then([]);
}

#[test]
fn the_actuator_reports_a_failure() {
    let state = given::<Home>([
        lamp(),
        requested("r-1", "hall_lamp", &[("power", json!("on"))]),
    ])
    .when(HomeCommand::RecordStateFailed {
        request_id: "r-1".into(),
        reason: " device offline ".into(),
    })
    .then([HomeEvent::StateFailed(DesiredStateFailed {
        request_id: "r-1".into(),
        device_id: "hall_lamp".into(),
        reason: "device offline".into(),
    })]);
    assert!(state.pending.is_empty());
}

#[test]
fn settling_an_unknown_request_is_refused() {
    given::<Home>([lamp()])
        .when(HomeCommand::RecordStateApplied {
            request_id: "r-9".into(),
        })
        .then_rejected("unknown_request");
    given::<Home>([lamp()])
        .when(HomeCommand::RecordStateFailed {
            request_id: "r-9".into(),
            reason: String::new(),
        })
        .then_rejected("unknown_request");
}

// ------------------------------------------------------------ DefineScene

fn define_evening() -> HomeCommand {
    HomeCommand::DefineScene {
        scene_id: "evening".into(),
        name: " Evening ".into(),
        actions: vec![
            SceneAction {
                device_id: "hall_lamp".into(),
                attributes: attributes(&[("power", json!("on")), ("brightness", json!(40))]),
            },
            SceneAction {
                device_id: " thermostat".into(),
                attributes: attributes(&[("target_temperature", json!(21))]),
            },
        ],
    }
}

#[test]
fn defining_a_scene_records_it() {
    given::<Home>([lamp(), thermostat()])
        .when(define_evening())
        .then([evening()]);
    given::<Home>([lamp(), thermostat(), evening()])
        .when(define_evening())
        .then([]);
}

#[test]
fn a_scene_needs_a_name_known_devices_once_each_and_fitting_states() {
    let scene = |name: &str, actions: Vec<SceneAction>| HomeCommand::DefineScene {
        scene_id: "s".into(),
        name: name.into(),
        actions,
    };
    let on = |device: &str| SceneAction {
        device_id: device.into(),
        attributes: attributes(&[("power", json!("on"))]),
    };
    given::<Home>([lamp()])
        .when(scene("", vec![on("hall_lamp")]))
        .then_rejected("name_required");
    given::<Home>([lamp()])
        .when(scene("S", vec![]))
        .then_rejected("scene_empty");
    given::<Home>([lamp()])
        .when(scene("S", vec![on("hall_lamp"), on("hall_lamp")]))
        .then_rejected("scene_device_repeated");
    given::<Home>([lamp()])
        .when(scene("S", vec![on("porch_lamp")]))
        .then_rejected("unknown_device");
    given::<Home>([lamp()])
        .when(scene(
            "S",
            vec![SceneAction {
                device_id: "hall_lamp".into(),
                attributes: attributes(&[("brightness", json!(-5))]),
            }],
        ))
        .then_rejected("value_out_of_range");
}

// ------------------------------------------------------------ RemoveScene

#[test]
fn removing_a_scene_no_routine_uses() {
    let state = given::<Home>(furnished())
        .when(HomeCommand::RemoveScene {
            scene_id: "evening".into(),
        })
        .then([HomeEvent::SceneRemoved(SceneRemoved {
            scene_id: "evening".into(),
        })]);
    assert!(state.scenes.is_empty());
}

#[test]
fn a_scene_a_routine_uses_or_an_unknown_one_cannot_be_removed() {
    let mut events = furnished();
    events.push(routine_defined("mornings", 1, weekday_mornings()));
    given::<Home>(events)
        .when(HomeCommand::RemoveScene {
            scene_id: "evening".into(),
        })
        .then_rejected("scene_in_use");
    given::<Home>([])
        .when(HomeCommand::RemoveScene {
            scene_id: "evening".into(),
        })
        .then_rejected("unknown_scene");
}

// ---------------------------------------------------------- ActivateScene

fn activation_events(activation_id: &str, routine_id: Option<&str>) -> Vec<HomeEvent> {
    let request = |device: &str, attrs: &[(&str, Value)]| {
        HomeEvent::StateRequested(DesiredStateRequested {
            request_id: format!("{activation_id}/{device}"),
            device_id: device.into(),
            attributes: attributes(attrs),
            scene_id: Some("evening".into()),
            at: now(),
        })
    };
    vec![
        HomeEvent::SceneActivated(SceneActivated {
            scene_id: "evening".into(),
            activation_id: activation_id.into(),
            routine_id: routine_id.map(str::to_owned),
            request_ids: vec![
                format!("{activation_id}/hall_lamp"),
                format!("{activation_id}/thermostat"),
            ],
        }),
        request(
            "hall_lamp",
            &[("power", json!("on")), ("brightness", json!(40))],
        ),
        request("thermostat", &[("target_temperature", json!(21))]),
    ]
}

#[test]
fn activating_a_scene_asks_each_device_for_its_state() {
    let state = given::<Home>(furnished())
        .when(HomeCommand::ActivateScene {
            scene_id: "evening".into(),
            activation_id: "a-1".into(),
        })
        .then(activation_events("a-1", None));
    assert_eq!(
        state.pending.keys().collect::<Vec<_>>(),
        ["a-1/hall_lamp", "a-1/thermostat"]
    );
}

#[test]
fn activating_again_under_the_same_id_changes_nothing() {
    let mut events = furnished();
    events.extend(activation_events("a-1", None));
    given::<Home>(events)
        .when(HomeCommand::ActivateScene {
            scene_id: "evening".into(),
            activation_id: "a-1".into(),
        })
        .then([]);
}

#[test]
fn activating_an_unknown_or_emptied_scene_is_refused() {
    given::<Home>([])
        .when(HomeCommand::ActivateScene {
            scene_id: "evening".into(),
            activation_id: "a-1".into(),
        })
        .then_rejected("unknown_scene");
    let mut events = furnished();
    for device in ["hall_lamp", "thermostat"] {
        events.push(HomeEvent::DeviceRemoved(DeviceRemoved {
            device_id: device.into(),
        }));
    }
    given::<Home>(events)
        .when(HomeCommand::ActivateScene {
            scene_id: "evening".into(),
            activation_id: "a-1".into(),
        })
        .then_rejected("scene_empty");
}

// ---------------------------------------------------------- DefineRoutine

#[test]
fn defining_a_time_routine_records_when_it_runs_next() {
    let state = given::<Home>(furnished())
        .when(HomeCommand::DefineRoutine {
            routine_id: "mornings".into(),
            name: "Routine".into(),
            trigger: RoutineTrigger::TimeOfDay {
                time: NaiveTime::from_hms_opt(7, 30, 0).expect("a valid time"),
                // Out of order and repeated: kept in week order, once.
                weekdays: vec![
                    Weekday::Friday,
                    Weekday::Monday,
                    Weekday::Tuesday,
                    Weekday::Wednesday,
                    Weekday::Thursday,
                    Weekday::Monday,
                ],
                zone: " Europe/Paris ".into(),
            },
            scene_id: "evening".into(),
        })
        .then([routine_defined("mornings", 1, weekday_mornings())]);
    let routine = &state.routines["mornings"];
    assert!(routine.enabled);
    // Monday 10:00 in Paris now: Tuesday 07:30 is next.
    assert_eq!(routine.next_run_at, Some(next_morning()));
}

#[test]
fn defining_an_event_routine_has_no_next_run() {
    let state = given::<Home>(furnished())
        .when(define_routine("landing", on_motion()))
        .then([routine_defined("landing", 1, on_motion())]);
    assert_eq!(state.routines["landing"].next_run_at, None);
}

#[test]
fn redefining_a_routine_raises_its_version_and_keeps_its_switch() {
    let events = {
        let mut events = furnished();
        events.push(routine_defined("mornings", 1, weekday_mornings()));
        events.push(HomeEvent::RoutineDisabled(RoutineDisabled {
            routine_id: "mornings".into(),
        }));
        events
    };
    given::<Home>(events.clone())
        .when(define_routine("mornings", weekday_mornings()))
        .then([]);
    let state = given::<Home>(events)
        .when(define_routine("mornings", on_motion()))
        .then([routine_defined("mornings", 2, on_motion())]);
    assert!(!state.routines["mornings"].enabled);
}

#[test]
fn a_removed_routine_defined_again_goes_on_from_its_last_version() {
    let mut events = furnished();
    events.push(routine_defined("mornings", 3, weekday_mornings()));
    events.push(HomeEvent::RoutineRemoved(RoutineRemoved {
        routine_id: "mornings".into(),
    }));
    let state = given::<Home>(events)
        .when(define_routine("mornings", weekday_mornings()))
        .then([routine_defined("mornings", 4, weekday_mornings())]);
    assert!(state.routines["mornings"].enabled);
    assert!(!state.routines["mornings"].removed);
}

#[test]
fn a_routine_needs_a_scene_and_a_sound_trigger() {
    let time_trigger = |weekdays: Vec<Weekday>, zone: &str| RoutineTrigger::TimeOfDay {
        time: NaiveTime::from_hms_opt(7, 0, 0).expect("a valid time"),
        weekdays,
        zone: zone.into(),
    };
    given::<Home>(furnished())
        .when(HomeCommand::DefineRoutine {
            routine_id: "r".into(),
            name: "R".into(),
            trigger: on_motion(),
            scene_id: "party".into(),
        })
        .then_rejected("unknown_scene");
    given::<Home>(furnished())
        .when(HomeCommand::DefineRoutine {
            routine_id: "r".into(),
            name: " ".into(),
            trigger: on_motion(),
            scene_id: "evening".into(),
        })
        .then_rejected("name_required");
    given::<Home>(furnished())
        .when(define_routine("r", time_trigger(vec![], "UTC")))
        .then_rejected("weekdays_required");
    given::<Home>(furnished())
        .when(define_routine(
            "r",
            time_trigger(vec![Weekday::Monday], "Mars/Olympus_Mons"),
        ))
        .then_rejected("zone_invalid");
    given::<Home>(furnished())
        .when(define_routine(
            "r",
            RoutineTrigger::Event {
                event_type: "device state reported".into(),
                device_id: None,
                attribute: None,
            },
        ))
        .then_rejected("event_type_invalid");
    given::<Home>(furnished())
        .when(define_routine(
            "r",
            RoutineTrigger::Event {
                event_type: "DeviceStateReported".into(),
                device_id: Some("attic_motion".into()),
                attribute: None,
            },
        ))
        .then_rejected("unknown_device");
    given::<Home>(furnished())
        .when(define_routine(
            "r",
            RoutineTrigger::Event {
                event_type: "DeviceStateReported".into(),
                device_id: None,
                attribute: Some(AttributeCondition {
                    name: "temperature".into(),
                    equals: None,
                    above: Some(f64::INFINITY),
                    below: None,
                }),
            },
        ))
        .then_rejected("condition_invalid");
}

// ------------------------------------- EnableRoutine / DisableRoutine

fn with_mornings() -> Vec<HomeEvent> {
    let mut events = furnished();
    events.push(routine_defined("mornings", 1, weekday_mornings()));
    events
}

#[test]
fn disabling_and_enabling_a_routine() {
    let disabled = HomeEvent::RoutineDisabled(RoutineDisabled {
        routine_id: "mornings".into(),
    });
    let state = given::<Home>(with_mornings())
        .when(HomeCommand::DisableRoutine {
            routine_id: "mornings".into(),
        })
        .then([disabled.clone()]);
    assert!(!state.routines["mornings"].enabled);

    let mut events = with_mornings();
    events.push(disabled);
    given::<Home>(events.clone())
        .when(HomeCommand::DisableRoutine {
            routine_id: "mornings".into(),
        })
        .then([]);
    // Enabled on Thursday evening: Friday morning is next.
    let state = given::<Home>(events)
        .at(utc(2026, 3, 5, 20, 0))
        .when(HomeCommand::EnableRoutine {
            routine_id: "mornings".into(),
        })
        .then([HomeEvent::RoutineEnabled(RoutineEnabled {
            routine_id: "mornings".into(),
            version: 1,
            next_run_at: Some(utc(2026, 3, 6, 6, 30)),
        })]);
    assert!(state.routines["mornings"].enabled);
}

#[test]
fn enabling_an_enabled_routine_changes_nothing_and_an_unknown_one_is_refused() {
    given::<Home>(with_mornings())
        .when(HomeCommand::EnableRoutine {
            routine_id: "mornings".into(),
        })
        .then([]);
    given::<Home>(furnished())
        .when(HomeCommand::EnableRoutine {
            routine_id: "mornings".into(),
        })
        .then_rejected("unknown_routine");
    given::<Home>(furnished())
        .when(HomeCommand::DisableRoutine {
            routine_id: "mornings".into(),
        })
        .then_rejected("unknown_routine");
}

// ---------------------------------------------------------- RemoveRoutine

#[test]
fn removing_a_routine_frees_its_scene() {
    let removed = HomeEvent::RoutineRemoved(RoutineRemoved {
        routine_id: "mornings".into(),
    });
    given::<Home>(with_mornings())
        .when(HomeCommand::RemoveRoutine {
            routine_id: "mornings".into(),
        })
        .then([removed.clone()]);
    let mut events = with_mornings();
    events.push(removed);
    given::<Home>(events.clone())
        .when(HomeCommand::RemoveRoutine {
            routine_id: "mornings".into(),
        })
        .then([]);
    given::<Home>(events.clone())
        .when(HomeCommand::EnableRoutine {
            routine_id: "mornings".into(),
        })
        .then_rejected("unknown_routine");
    given::<Home>(events)
        .when(HomeCommand::RemoveScene {
            scene_id: "evening".into(),
        })
        .then([HomeEvent::SceneRemoved(SceneRemoved {
            scene_id: "evening".into(),
        })]);
    given::<Home>(furnished())
        .when(HomeCommand::RemoveRoutine {
            routine_id: "mornings".into(),
        })
        .then_rejected("unknown_routine");
}

// ------------------------------------------------------------- RunRoutine

fn run(version: u32, run_id: &str) -> HomeCommand {
    HomeCommand::RunRoutine {
        routine_id: "mornings".into(),
        version,
        run_id: run_id.into(),
    }
}

#[test]
fn running_a_routine_activates_its_scene_and_schedules_the_next_run() {
    let at = next_morning();
    let mut expected = vec![HomeEvent::RoutineRan(RoutineRan {
        routine_id: "mornings".into(),
        version: 1,
        run_id: "2026-03-03T07:30".into(),
        at,
        next_run_at: Some(utc(2026, 3, 4, 6, 30)),
    })];
    expected.extend(
        activation_events("routine:mornings:2026-03-03T07:30", Some("mornings"))
            .into_iter()
            .map(|event| match event {
                HomeEvent::StateRequested(request) => {
                    HomeEvent::StateRequested(DesiredStateRequested { at, ..request })
                }
                other => other,
            }),
    );
    let state = given::<Home>(with_mornings())
        .at(at)
        .when(run(1, "2026-03-03T07:30"))
        .then(expected);
    assert_eq!(
        state.routines["mornings"].next_run_at,
        Some(utc(2026, 3, 4, 6, 30))
    );
}

#[test]
fn a_timer_firing_early_does_not_schedule_the_same_run_again() {
    given::<Home>(with_mornings())
        .at(next_morning() - Duration::seconds(2))
        .when(run(1, "2026-03-03T07:30"))
        .then_matches(|events| {
            let HomeEvent::RoutineRan(ran) = &events[0] else {
                panic!("expected the run first, got {events:?}");
            };
            assert_eq!(ran.next_run_at, Some(utc(2026, 3, 4, 6, 30)));
        });
}

#[test]
fn a_stale_repeated_disabled_or_removed_trigger_does_nothing() {
    // A trigger of the first definition after a redefinition.
    let mut redefined = with_mornings();
    redefined.push(routine_defined("mornings", 2, weekday_mornings()));
    given::<Home>(redefined).when(run(1, "x")).then([]);

    // The same run twice (timers fire at least once).
    let mut ran = with_mornings();
    ran.push(HomeEvent::RoutineRan(RoutineRan {
        routine_id: "mornings".into(),
        version: 1,
        run_id: "x".into(),
        at: now(),
        next_run_at: Some(next_morning()),
    }));
    given::<Home>(ran).when(run(1, "x")).then([]);

    let mut disabled = with_mornings();
    disabled.push(HomeEvent::RoutineDisabled(RoutineDisabled {
        routine_id: "mornings".into(),
    }));
    given::<Home>(disabled).when(run(1, "y")).then([]);

    let mut removed = with_mornings();
    removed.push(HomeEvent::RoutineRemoved(RoutineRemoved {
        routine_id: "mornings".into(),
    }));
    given::<Home>(removed).when(run(1, "y")).then([]);
}

#[test]
fn running_an_unknown_routine_is_refused() {
    given::<Home>(furnished())
        .when(run(1, "x"))
        .then_rejected("unknown_routine");
    given::<Home>(with_mornings())
        .when(run(1, "two words"))
        .then_rejected("id_invalid");
}

#[test]
fn a_routine_whose_scene_lost_its_devices_runs_without_requests() {
    let mut events = with_mornings();
    for device in ["hall_lamp", "thermostat"] {
        events.push(HomeEvent::DeviceRemoved(DeviceRemoved {
            device_id: device.into(),
        }));
    }
    given::<Home>(events)
        .when(run(1, "x"))
        .then([HomeEvent::RoutineRan(RoutineRan {
            routine_id: "mornings".into(),
            version: 1,
            run_id: "x".into(),
            at: now(),
            next_run_at: Some(next_morning()),
        })]);
}

// ------------------------------------------------------ triggers and time

#[test]
fn an_event_triggers_the_routines_whose_conditions_hold() {
    let mut events = with_mornings();
    events.push(routine_defined("landing", 1, on_motion()));
    events.push(routine_defined(
        "warm",
        1,
        RoutineTrigger::Event {
            event_type: "DeviceStateReported".into(),
            device_id: None,
            attribute: Some(AttributeCondition {
                name: "temperature".into(),
                equals: None,
                above: None,
                below: Some(18.0),
            }),
        },
    ));
    let home = given::<Home>(events.clone()).state().clone();
    let motion = json!({ "device_id": "landing_motion", "attributes": { "motion": true } });
    assert_eq!(
        routines_triggered_by(&home, "DeviceStateReported", &motion),
        ["landing"]
    );
    let still = json!({ "device_id": "landing_motion", "attributes": { "motion": false } });
    assert!(routines_triggered_by(&home, "DeviceStateReported", &still).is_empty());
    let elsewhere = json!({ "device_id": "hall_lamp", "attributes": { "motion": true } });
    assert!(routines_triggered_by(&home, "DeviceStateReported", &elsewhere).is_empty());
    let cold = json!({ "device_id": "thermostat", "attributes": { "temperature": 16.5 } });
    assert_eq!(
        routines_triggered_by(&home, "DeviceStateReported", &cold),
        ["warm"]
    );
    assert!(routines_triggered_by(&home, "DeviceMoved", &motion).is_empty());

    // A disabled routine is not triggered.
    events.push(HomeEvent::RoutineDisabled(RoutineDisabled {
        routine_id: "landing".into(),
    }));
    let home = given::<Home>(events).state().clone();
    assert!(routines_triggered_by(&home, "DeviceStateReported", &motion).is_empty());
}

#[test]
fn numbers_match_as_numbers_in_conditions() {
    let mut events = furnished();
    events.push(routine_defined(
        "full",
        1,
        RoutineTrigger::Event {
            event_type: "DeviceStateReported".into(),
            device_id: Some("hall_lamp".into()),
            attribute: Some(AttributeCondition {
                name: "brightness".into(),
                equals: Some(json!(100)),
                above: None,
                below: None,
            }),
        },
    ));
    let home = given::<Home>(events).state().clone();
    let data = json!({ "device_id": "hall_lamp", "attributes": { "brightness": 100.0 } });
    assert_eq!(
        routines_triggered_by(&home, "DeviceStateReported", &data),
        ["full"]
    );
}

#[test]
fn the_next_run_skips_to_the_next_listed_day_and_handles_daylight_saving() {
    let weekends = RoutineTrigger::TimeOfDay {
        time: NaiveTime::from_hms_opt(2, 30, 0).expect("a valid time"),
        weekdays: vec![Weekday::Sunday],
        zone: "Europe/Paris".into(),
    };
    // Monday: the next Sunday, 02:30 at UTC+1.
    assert_eq!(next_run(&weekends, now()), Some(utc(2026, 3, 8, 1, 30)));
    // On 29 March 02:30 does not exist in Paris (clocks go 02:00 → 03:00):
    // it runs at 03:30 summer time.
    assert_eq!(
        next_run(&weekends, utc(2026, 3, 28, 12, 0)),
        Some(utc(2026, 3, 29, 1, 30))
    );
    // After that, 02:30 summer time (UTC+2).
    assert_eq!(
        next_run(&weekends, utc(2026, 3, 29, 2, 0)),
        Some(utc(2026, 4, 5, 0, 30))
    );
    assert_eq!(next_run(&on_motion(), now()), None);
}

// ------------------------------------------------------------- properties

fn home_command() -> impl Strategy<Value = HomeCommand> {
    let device = prop::sample::select(vec!["hall_lamp", "thermostat", "plug"]);
    let request_id = prop::sample::select(vec!["r-1", "r-2", "r-3"]);
    let routine = prop::sample::select(vec!["mornings", "landing"]);
    let power = prop::sample::select(vec!["on", "off"]);
    prop_oneof![
        (device.clone(), prop::sample::select(vec!["hall", "study"])).prop_map(|(device, room)| {
            register(
                device,
                room,
                vec![input("power", None), input("brightness", None)],
            )
        }),
        (device.clone(), prop::sample::select(vec!["hall", "study"])).prop_map(|(device, room)| {
            HomeCommand::MoveDevice {
                device_id: device.into(),
                room: room.into(),
            }
        }),
        device.clone().prop_map(|device| HomeCommand::RemoveDevice {
            device_id: device.into(),
        }),
        (device.clone(), power.clone(), 0u8..=100).prop_map(|(device, power, level)| report(
            device,
            &[("power", json!(power)), ("brightness", json!(level))]
        )),
        (request_id.clone(), device.clone(), power.clone())
            .prop_map(|(id, device, power)| request(id, device, &[("power", json!(power))])),
        request_id
            .clone()
            .prop_map(|id| HomeCommand::RecordStateApplied {
                request_id: id.into(),
            }),
        request_id.prop_map(|id| HomeCommand::RecordStateFailed {
            request_id: id.into(),
            reason: "offline".into(),
        }),
        (prop::collection::vec(device.clone(), 1..3), power).prop_map(|(devices, power)| {
            HomeCommand::DefineScene {
                scene_id: "evening".into(),
                name: "Evening".into(),
                actions: devices
                    .into_iter()
                    .map(|device| SceneAction {
                        device_id: device.into(),
                        attributes: attributes(&[("power", json!(power))]),
                    })
                    .collect(),
            }
        }),
        Just(HomeCommand::RemoveScene {
            scene_id: "evening".into(),
        }),
        (0u8..4).prop_map(|n| HomeCommand::ActivateScene {
            scene_id: "evening".into(),
            activation_id: format!("a-{n}"),
        }),
        (routine.clone(), any::<bool>()).prop_map(|(routine, timed)| define_routine(
            routine,
            if timed {
                weekday_mornings()
            } else {
                on_motion()
            }
        )),
        routine
            .clone()
            .prop_map(|routine| HomeCommand::EnableRoutine {
                routine_id: routine.into(),
            }),
        routine
            .clone()
            .prop_map(|routine| HomeCommand::DisableRoutine {
                routine_id: routine.into(),
            }),
        routine
            .clone()
            .prop_map(|routine| HomeCommand::RemoveRoutine {
                routine_id: routine.into(),
            }),
        (routine, 1u32..3, 0u8..4).prop_map(|(routine, version, n)| HomeCommand::RunRoutine {
            routine_id: routine.into(),
            version,
            run_id: format!("run-{n}"),
        }),
    ]
}

proptest! {
    #[test]
    fn a_replayed_home_equals_the_live_one(
        commands in prop::collection::vec((home_command(), 0i64..48), 0..60)
    ) {
        let mut at = now();
        let timed = commands.into_iter().map(|(command, hours)| {
            at += Duration::hours(hours);
            (command, at)
        });
        let (live, replayed) = live_and_replayed::<Home>(timed);
        prop_assert_eq!(live, replayed);
    }
}

// ------------------------------------------------------------- JSON shape

#[test]
fn commands_read_from_the_envelope_s_json() {
    use steward_actors::CommandEnvelope;
    use steward_events::StreamId;

    let envelope = |command_type: &str, data: Value| {
        CommandEnvelope::new(
            StreamId::parse("home-flat").expect("a valid stream id"),
            command_type,
            data,
            "user:alice",
        )
    };
    let register = envelope(
        "RegisterDevice",
        json!({
            "device_id": "hall_lamp",
            "kind": "light",
            "room": "hall",
            "capabilities": [
                { "attribute": "power" },
                { "attribute": "hue", "value": { "type": "number", "min": 0, "max": 360 } },
            ],
        }),
    )
    .typed::<Home>()
    .expect("a valid command");
    assert_eq!(
        register,
        register_with_hue(),
        "capabilities read with and without a value spec"
    );
    let routine = envelope(
        "DefineRoutine",
        json!({
            "routine_id": "mornings",
            "name": "Routine",
            "scene_id": "evening",
            "trigger": {
                "type": "time_of_day",
                "time": "07:30",
                "weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                "zone": "Europe/Paris",
            },
        }),
    )
    .typed::<Home>()
    .expect("a valid command");
    assert_eq!(routine, define_routine("mornings", weekday_mornings()));
}

fn register_with_hue() -> HomeCommand {
    register(
        "hall_lamp",
        "hall",
        vec![
            input("power", None),
            input(
                "hue",
                Some(ValueSpec::Number {
                    min: 0.0,
                    max: 360.0,
                    unit: None,
                }),
            ),
        ],
    )
}
