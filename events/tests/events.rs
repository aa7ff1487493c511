//! The event model seen from outside: old shapes upcast, typed events round
//! trip through the envelope, and the committed JSON Schemas match the code.

use std::path::PathBuf;

use serde_json::json;
use steward_events::domain::actuations::ActuationRequested;
use steward_events::domain::home::DeviceStateReported;
use steward_events::domain::travel::ReservationConfirmed;
use steward_events::domain::{self, DomainEvent};
use steward_events::{EventType, NewEvent, Personal, RecordedEvent, Upcasters, schema_files};

fn fixture(name: &str) -> RecordedEvent {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture is a recorded event")
}

#[test]
fn a_v1_device_report_reads_as_v2() {
    let mut event = fixture("DeviceStateReported.v1.json");
    Upcasters::steward().upcast(&mut event).expect("v1 upcasts");

    assert_eq!(event.schema_version, 2);
    let report: DeviceStateReported = event.to_domain().expect("decodes as v2");
    assert_eq!(report.device_id, "hallway_lamp");
    assert_eq!(report.attributes.get("power"), Some(&json!("on")));
}

#[test]
fn a_v1_event_without_upcasting_is_refused_by_the_typed_reader() {
    let event = fixture("DeviceStateReported.v1.json");
    let error = event
        .to_domain::<DeviceStateReported>()
        .expect_err("v1 is not v2");
    assert!(error.to_string().contains("upcast"), "{error}");
}

#[test]
fn a_broken_v1_names_what_is_wrong() {
    let mut event = fixture("DeviceStateReported.v1.json");
    event.data = json!({ "device_id": "hallway_lamp", "on": "yes" });
    let error = Upcasters::steward()
        .upcast(&mut event)
        .expect_err("`on` must be a boolean");
    assert_eq!(error.from_version, 1);
    assert!(
        error.to_string().contains("`on` is not a boolean"),
        "{error}"
    );
}

#[test]
fn current_events_are_left_alone() {
    let mut event = fixture("DeviceStateReported.v1.json");
    event.schema_version = 2;
    event.data = json!({ "device_id": "x", "attributes": { "power": "off" } });
    let before = event.clone();
    Upcasters::steward()
        .upcast(&mut event)
        .expect("nothing to do");
    assert_eq!(event, before);
}

/// An event with personal fields keeps them out of `data`.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
struct Greeting {
    room: String,
    name: String,
}

impl DomainEvent for Greeting {
    const EVENT_TYPE: &'static str = "Greeting";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["name"];
}

#[test]
fn personal_fields_travel_in_the_personal_part() {
    let greeting = Greeting {
        room: "hall".into(),
        name: "Dana".into(),
    };
    let new = NewEvent::from_domain(&greeting).expect("serialises");
    assert_eq!(new.data, json!({ "room": "hall" }));
    assert_eq!(
        new.personal,
        Some(Personal::Plain(json!({ "name": "Dana" })))
    );

    let mut recorded = fixture("DeviceStateReported.v1.json");
    recorded.event_type = Greeting::event_type();
    recorded.data = new.data.clone();
    recorded.personal = new.personal.clone();
    assert_eq!(recorded.to_domain::<Greeting>().expect("decodes"), greeting);

    recorded.personal = Some(Personal::Erased);
    let error = recorded.to_domain::<Greeting>().expect_err("erased");
    assert!(error.to_string().contains("erased"), "{error}");
}

#[test]
fn domain_event_types_are_valid() {
    for (name, _) in domain::schemas() {
        let event_type = name.split_once(".v").expect("named <type>.v<N>").0;
        EventType::parse(event_type).expect("a valid event type");
    }
}

/// The committed schemas under `schemas/events/` are generated from the Rust
/// types. Run with `STEWARD_UPDATE_SCHEMAS=1` to regenerate after a change.
#[test]
fn committed_json_schemas_match_the_code() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/events");
    let mut expected: Vec<(String, schemars::Schema)> = domain::schemas()
        .into_iter()
        .map(|(name, schema)| (format!("{name}.json"), schema))
        .collect();
    expected.push((
        "envelope.json".to_owned(),
        schemars::schema_for!(RecordedEvent),
    ));
    let (drifted, stale) = schema_files::compare(&dir, &expected).expect("schemas/events reads");
    assert!(
        drifted.is_empty() && stale.is_empty(),
        "schemas/events is out of date (drifted: {drifted:?}, stale: {stale:?}); \
         regenerate with STEWARD_UPDATE_SCHEMAS=1 cargo test -p steward-events"
    );
}

#[test]
fn a_v1_reservation_confirmation_reads_as_v2_naming_no_traveller() {
    let mut event = fixture("ReservationConfirmed.v1.json");
    Upcasters::steward().upcast(&mut event).expect("v1 upcasts");
    assert_eq!(event.schema_version, 2);
    let confirmed: ReservationConfirmed = event.to_domain().expect("decodes as v2");
    assert_eq!(confirmed.reservation_id, "out");
    assert_eq!(confirmed.confirmation_code.as_deref(), Some("ABC123"));
    assert!(confirmed.travellers.is_empty());
}

#[test]
fn a_reservation_confirmation_is_about_its_travellers() {
    let mut event = fixture("ReservationConfirmed.v1.json");
    Upcasters::steward().upcast(&mut event).expect("v1 upcasts");
    let mut confirmed: ReservationConfirmed = event.to_domain().expect("decodes");
    confirmed.travellers = vec!["Dana".to_owned(), "Sam Lee".to_owned()];
    let subjects: Vec<String> = confirmed
        .subjects()
        .iter()
        .map(|subject| subject.as_str().to_owned())
        .collect();
    assert_eq!(subjects, ["contact:dana", "contact:sam-lee"]);
    let new = domain::new_event(&confirmed).expect("serialises");
    assert_eq!(new.metadata.subjects, confirmed.subjects());
    let personal = new
        .personal
        .as_ref()
        .and_then(Personal::plain)
        .expect("plain");
    assert_eq!(personal["travellers"], json!(["Dana", "Sam Lee"]));
    assert!(new.data.get("travellers").is_none(), "names are personal");
}

#[test]
fn a_mail_actuation_is_about_its_recipients_and_other_actions_about_no_one() {
    let mail = ActuationRequested {
        integration: "smtp".to_owned(),
        action: json!({
            "account": "me@example.org",
            "to": [{"address": "Dana@Example.org", "name": "Dana"}],
            "cc": [{"address": "lee@example.org"}, {"address": "dana@example.org"}],
            "bcc": [{"address": "kim@example.org"}],
            "subject": "Re: Lunch",
        }),
        plan_step: None,
        reply: None,
        dry_run: false,
        max_attempts: 5,
        requested_at: "2026-03-01T09:00:00Z".parse().expect("an instant"),
    };
    let subjects: Vec<String> = mail
        .subjects()
        .iter()
        .map(|subject| subject.as_str().to_owned())
        .collect();
    assert_eq!(
        subjects,
        [
            "contact:dana@example.org",
            "contact:kim@example.org",
            "contact:lee@example.org"
        ]
    );
    let new = domain::new_event(&mail).expect("serialises");
    assert!(new.data.get("action").is_none(), "the mail is personal");

    let publish = ActuationRequested {
        integration: "mqtt".to_owned(),
        action: json!({"topic": "zigbee2mqtt/lamp/set", "to": [{"address": "x@y.z"}]}),
        ..mail
    };
    assert_eq!(publish.subjects(), []);
}
