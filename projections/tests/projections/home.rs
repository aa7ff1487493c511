//! The home: devices and their reported state, requests settling, scenes,
//! removals; erasure has nothing to drop.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use steward_events::domain::home::{
    Capability, DesiredStateApplied, DesiredStateFailed, DesiredStateRequested, DeviceKind,
    DeviceMoved, DeviceRegistered, DeviceRemoved, DeviceStateReported, SceneAction, SceneActivated,
    SceneDefined, SceneRemoved, ValueSpec,
};
use steward_events::{EventType, NewEvent};
use steward_projections::read_models::home::{
    self, Device, DeviceFilter, DeviceRequest, Home, RequestStatus, Scene,
};

use crate::read_model_support::{OWNER, at, catch_up, erase, millis, rebuild, record, tables};
use crate::support::{Fixture, on_both_backends};

on_both_backends!(
    devices_show_their_reported_state_and_last_request,
    a_removed_device_disappears_and_leaves_its_scenes,
    an_old_switch_report_reads_as_power_and_erasure_changes_nothing,
);

async fn all_devices(f: &Fixture, filter: DeviceFilter) -> Vec<Device> {
    catch_up(f, Arc::new(Home)).await;
    let tables = tables(f, "home").await;
    home::devices(&f.db, &tables, &filter)
        .await
        .expect("devices")
}

async fn all_scenes(f: &Fixture) -> Vec<Scene> {
    catch_up(f, Arc::new(Home)).await;
    let tables = tables(f, "home").await;
    home::scenes(&f.db, &tables, Some("main"))
        .await
        .expect("scenes")
}

fn attributes(value: Value) -> BTreeMap<String, Value> {
    serde_json::from_value(value).expect("attributes")
}

fn power() -> Capability {
    Capability {
        attribute: "power".to_owned(),
        value: ValueSpec::OnOff,
        read_only: false,
    }
}

fn brightness() -> Capability {
    Capability {
        attribute: "brightness".to_owned(),
        value: ValueSpec::Number {
            min: 0.0,
            max: 100.0,
            unit: Some("%".to_owned()),
        },
        read_only: false,
    }
}

fn lamp(id: &str, room: &str) -> DeviceRegistered {
    DeviceRegistered {
        device_id: id.to_owned(),
        kind: DeviceKind::Light,
        room: room.to_owned(),
        capabilities: vec![power(), brightness()],
    }
}

fn reported(id: &str, value: Value) -> DeviceStateReported {
    DeviceStateReported {
        device_id: id.to_owned(),
        attributes: attributes(value),
    }
}

fn requested(request_id: &str, device_id: &str, value: Value) -> DesiredStateRequested {
    DesiredStateRequested {
        request_id: request_id.to_owned(),
        device_id: device_id.to_owned(),
        attributes: attributes(value),
        scene_id: None,
        at: at("2026-03-10T18:00:00Z"),
    }
}

async fn devices_show_their_reported_state_and_last_request(f: Fixture) {
    record(&f, "home-main", &lamp("hall_lamp", "hall")).await;
    record(&f, "home-main", &lamp("desk_lamp", "office")).await;
    record(
        &f,
        "home-main",
        &reported("hall_lamp", json!({"power": "on", "brightness": 40})),
    )
    .await;
    let last_report = record(
        &f,
        "home-main",
        &reported("hall_lamp", json!({"brightness": 80})),
    )
    .await;
    // A device the home does not know reports nothing here.
    record(&f, "home-main", &reported("ghost", json!({"power": "on"}))).await;
    record(
        &f,
        "home-main",
        &requested("r1", "hall_lamp", json!({"power": "off"})),
    )
    .await;
    record(
        &f,
        "home-main",
        &requested("r2", "hall_lamp", json!({"power": "on", "brightness": 10})),
    )
    .await;
    // A late answer to the older request changes nothing.
    record(
        &f,
        "home-main",
        &DesiredStateFailed {
            request_id: "r1".to_owned(),
            device_id: "hall_lamp".to_owned(),
            reason: "timeout".to_owned(),
        },
    )
    .await;
    record(
        &f,
        "home-main",
        &requested("r3", "desk_lamp", json!({"power": "on"})),
    )
    .await;
    record(
        &f,
        "home-main",
        &DesiredStateFailed {
            request_id: "r3".to_owned(),
            device_id: "desk_lamp".to_owned(),
            reason: "unreachable".to_owned(),
        },
    )
    .await;
    record(
        &f,
        "home-main",
        &DeviceMoved {
            device_id: "desk_lamp".to_owned(),
            room: "bedroom".to_owned(),
        },
    )
    .await;

    let hall = Device {
        household: "main".to_owned(),
        device_id: "hall_lamp".to_owned(),
        kind: DeviceKind::Light,
        room: "hall".to_owned(),
        capabilities: vec![power(), brightness()],
        state: attributes(json!({"power": "on", "brightness": 80})),
        reported_at: Some(millis(last_report.recorded_at)),
        last_request: Some(DeviceRequest {
            request_id: "r2".to_owned(),
            attributes: attributes(json!({"power": "on", "brightness": 10})),
            scene_id: None,
            requested_at: at("2026-03-10T18:00:00Z"),
            status: RequestStatus::Pending,
            failure: None,
        }),
    };
    let desk = Device {
        household: "main".to_owned(),
        device_id: "desk_lamp".to_owned(),
        kind: DeviceKind::Light,
        room: "bedroom".to_owned(),
        capabilities: vec![power(), brightness()],
        state: BTreeMap::new(),
        reported_at: None,
        last_request: Some(DeviceRequest {
            request_id: "r3".to_owned(),
            attributes: attributes(json!({"power": "on"})),
            scene_id: None,
            requested_at: at("2026-03-10T18:00:00Z"),
            status: RequestStatus::Failed,
            failure: Some("unreachable".to_owned()),
        }),
    };
    assert_eq!(
        all_devices(&f, DeviceFilter::default()).await,
        [desk.clone(), hall.clone()]
    );
    let in_hall = DeviceFilter {
        household: Some("main".to_owned()),
        room: Some("hall".to_owned()),
    };
    assert_eq!(all_devices(&f, in_hall).await, std::slice::from_ref(&hall));
    let elsewhere = DeviceFilter {
        household: Some("cottage".to_owned()),
        room: None,
    };
    assert!(all_devices(&f, elsewhere).await.is_empty());

    record(
        &f,
        "home-main",
        &DesiredStateApplied {
            request_id: "r2".to_owned(),
            device_id: "hall_lamp".to_owned(),
        },
    )
    .await;
    let applied = all_devices(&f, DeviceFilter::default()).await;
    assert_eq!(
        applied[1].last_request.as_ref().map(|r| r.status),
        Some(RequestStatus::Applied)
    );
}

async fn a_removed_device_disappears_and_leaves_its_scenes(f: Fixture) {
    record(&f, "home-main", &lamp("hall_lamp", "hall")).await;
    record(&f, "home-main", &lamp("desk_lamp", "office")).await;
    record(
        &f,
        "home-main",
        &reported("hall_lamp", json!({"power": "on"})),
    )
    .await;
    let evening_actions = vec![
        SceneAction {
            device_id: "hall_lamp".to_owned(),
            attributes: attributes(json!({"power": "on", "brightness": 30})),
        },
        SceneAction {
            device_id: "desk_lamp".to_owned(),
            attributes: attributes(json!({"power": "off"})),
        },
    ];
    record(
        &f,
        "home-main",
        &SceneDefined {
            scene_id: "evening".to_owned(),
            name: "Evening".to_owned(),
            actions: evening_actions.clone(),
        },
    )
    .await;
    record(
        &f,
        "home-main",
        &SceneDefined {
            scene_id: "away".to_owned(),
            name: "Away".to_owned(),
            actions: vec![evening_actions[1].clone()],
        },
    )
    .await;
    let activation = record(
        &f,
        "home-main",
        &SceneActivated {
            scene_id: "evening".to_owned(),
            activation_id: "a1".to_owned(),
            routine_id: Some("dusk".to_owned()),
            request_ids: vec!["a1/hall_lamp".to_owned(), "a1/desk_lamp".to_owned()],
        },
    )
    .await;
    assert_eq!(
        all_scenes(&f).await,
        [
            Scene {
                household: "main".to_owned(),
                scene_id: "away".to_owned(),
                name: "Away".to_owned(),
                actions: vec![evening_actions[1].clone()],
                activated_at: None,
                activation_id: None,
                activated_by_routine: None,
            },
            Scene {
                household: "main".to_owned(),
                scene_id: "evening".to_owned(),
                name: "Evening".to_owned(),
                actions: evening_actions.clone(),
                activated_at: Some(millis(activation.recorded_at)),
                activation_id: Some("a1".to_owned()),
                activated_by_routine: Some("dusk".to_owned()),
            },
        ]
    );

    record(
        &f,
        "home-main",
        &DeviceRemoved {
            device_id: "desk_lamp".to_owned(),
        },
    )
    .await;
    record(
        &f,
        "home-main",
        &SceneRemoved {
            scene_id: "away".to_owned(),
        },
    )
    .await;
    let ids: Vec<_> = all_devices(&f, DeviceFilter::default())
        .await
        .into_iter()
        .map(|d| d.device_id)
        .collect();
    assert_eq!(ids, ["hall_lamp"]);
    assert_eq!(
        all_scenes(&f).await,
        [Scene {
            household: "main".to_owned(),
            scene_id: "evening".to_owned(),
            name: "Evening".to_owned(),
            actions: vec![evening_actions[0].clone()],
            activated_at: Some(millis(activation.recorded_at)),
            activation_id: Some("a1".to_owned()),
            activated_by_routine: Some("dusk".to_owned()),
        }]
    );

    // Registered again, a device starts with no reported state.
    record(&f, "home-main", &lamp("hall_lamp", "landing")).await;
    let again = all_devices(&f, DeviceFilter::default()).await;
    assert_eq!(again[0].room, "landing");
    assert!(again[0].state.is_empty());
    assert_eq!(again[0].reported_at, None);
}

async fn an_old_switch_report_reads_as_power_and_erasure_changes_nothing(f: Fixture) {
    record(&f, "home-main", &lamp("hall_lamp", "hall")).await;
    // A v1 report, as switches wrote them before attributes.
    let v1 = f
        .append_event(
            "home-main",
            NewEvent::new(
                EventType::parse("DeviceStateReported").expect("type"),
                json!({"device_id": "hall_lamp", "on": true}),
            ),
        )
        .await;
    let before = all_devices(&f, DeviceFilter::default()).await;
    assert_eq!(before[0].state, attributes(json!({"power": "on"})));
    assert_eq!(before[0].reported_at, Some(millis(v1.recorded_at)));

    erase(&f, OWNER).await;
    assert_eq!(all_devices(&f, DeviceFilter::default()).await, before);
    rebuild(&f, Arc::new(Home)).await;
    assert_eq!(all_devices(&f, DeviceFilter::default()).await, before);
}
