//! The MQTT ingest against a real Mosquitto of the test's own: Home
//! Assistant discovery registers devices, zigbee2mqtt state reports them,
//! and what cannot be read is skipped without stopping the ingest.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use steward_actors::CommandEnvelope;
use steward_actuator::mqtt::MqttConfig;
use steward_actuator::mqtt_ingest::{IngestConfig, MqttIngest};
use steward_events::{Direction, EventStore, RecordedEvent, StreamId};
use steward_host::Host;
use steward_store_core::{MasterKey, Store};
use steward_testkit::{Mosquitto, SqliteDir, free_port};
use tokio_util::sync::CancellationToken;

/// A broker, a store and host over SQLite, and the ingest once started.
struct Fixture {
    broker: Mosquitto,
    _dir: SqliteDir,
    store: Store,
    host: Host,
    stop: CancellationToken,
    publisher: AsyncClient,
}

impl Fixture {
    async fn new() -> Self {
        let broker = Mosquitto::anonymous(free_port());
        let dir = SqliteDir::create();
        let store = dir.store(MasterKey::generate().expect("key")).await;
        let host = Host::builder(Arc::new(store.clone()))
            .steward_domains()
            .start()
            .expect("host starts");
        let id = format!("steward-test-{}", uuid::Uuid::now_v7().simple());
        let (publisher, mut events) =
            AsyncClient::new(MqttOptions::new(id, "127.0.0.1", broker.port()), 16);
        tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Disconnect)) | Err(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Ok(_) => {}
                }
            }
        });
        Self {
            broker,
            _dir: dir,
            store,
            host,
            stop: CancellationToken::new(),
            publisher,
        }
    }

    fn start_ingest(&self) {
        let ingest = MqttIngest::new(
            self.host.clone(),
            IngestConfig {
                broker: MqttConfig::new("127.0.0.1", self.broker.port()),
                base_topic: "zigbee2mqtt".to_owned(),
                discovery_prefix: Some("homeassistant".to_owned()),
                household: "main".to_owned(),
            },
        );
        let stop = self.stop.clone();
        tokio::spawn(async move { ingest.run(stop).await.expect("the ingest runs") });
    }

    async fn publish(&self, topic: &str, payload: &str, retain: bool) {
        self.publisher
            .publish(topic, QoS::AtLeastOnce, retain, payload.as_bytes().to_vec())
            .await
            .expect("publish queued");
    }

    async fn home(&self) -> Vec<RecordedEvent> {
        self.store
            .read_stream(
                &StreamId::parse("home-main").expect("valid"),
                0,
                Direction::Forward,
                1_000,
            )
            .await
            .expect("reads")
    }

    /// The home's events once it holds `count` of `event_type`.
    async fn wait_for(&self, event_type: &str, count: usize) -> Vec<RecordedEvent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let home = self.home().await;
            if of_type(&home, event_type).len() >= count {
                return home;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the home holds {:?}, not {count} {event_type}",
                home.iter()
                    .map(|e| e.event_type.as_str())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn of_type<'a>(events: &'a [RecordedEvent], event_type: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e.event_type.as_str() == event_type)
        .map(|e| &e.data)
        .collect()
}

/// zigbee2mqtt's discovery of a dimmable lamp: the light and a link
/// quality sensor, both on the lamp's state topic.
async fn discover_hall_lamp(fixture: &Fixture) {
    fixture
        .publish(
            "homeassistant/light/0x0017880103a1/light/config",
            r#"{"~":"zigbee2mqtt/hall_lamp","stat_t":"~","cmd_t":"~/set","schema":"json",
                "brightness":true,"dev":{"name":"hall_lamp","sa":"Hall"}}"#,
            true,
        )
        .await;
    fixture
        .publish(
            "homeassistant/sensor/0x0017880103a1/linkquality/config",
            r#"{"state_topic":"zigbee2mqtt/hall_lamp","value_template":"{{ value_json.linkquality }}",
                "device":{"name":"hall_lamp"}}"#,
            true,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_registers_devices_and_their_state_is_reported() {
    let fixture = Fixture::new().await;
    // Retained before Steward listens, as a running zigbee2mqtt leaves them.
    discover_hall_lamp(&fixture).await;
    fixture
        .publish(
            "homeassistant/lock/0x00124b00/lock/config",
            r#"{"state_topic":"zigbee2mqtt/front_door","command_topic":"zigbee2mqtt/front_door/set",
                "device":{"suggested_area":"Entrance"}}"#,
            true,
        )
        .await;
    fixture
        .publish(
            "homeassistant/switch/0x00aa/switch/config",
            r#"{"state_topic":"zigbee2mqtt/Garden Pump"}"#,
            true,
        )
        .await;
    fixture.start_ingest();

    let home = fixture.wait_for("DeviceRegistered", 2).await;
    let registered = of_type(&home, "DeviceRegistered");
    let lamp = registered
        .iter()
        .find(|d| d["device_id"] == "hall_lamp")
        .unwrap_or_else(|| panic!("the lamp among {registered:?}"));
    assert_eq!(lamp["kind"], "light", "{lamp}");
    assert_eq!(lamp["room"], "Hall", "{lamp}");
    let attributes: Vec<&str> = lamp["capabilities"]
        .as_array()
        .expect("capabilities")
        .iter()
        .filter_map(|c| c["attribute"].as_str())
        .collect();
    assert_eq!(attributes, ["brightness", "power"], "{lamp}");
    let door = registered
        .iter()
        .find(|d| d["device_id"] == "front_door")
        .unwrap_or_else(|| panic!("the door among {registered:?}"));
    assert_eq!(door["kind"], "lock", "{door}");
    assert_eq!(door["room"], "Entrance", "{door}");

    fixture
        .publish(
            "zigbee2mqtt/hall_lamp",
            r#"{"state":"ON","brightness":254,"linkquality":60}"#,
            false,
        )
        .await;
    let home = fixture.wait_for("DeviceStateReported", 1).await;
    assert_eq!(
        of_type(&home, "DeviceStateReported")[0],
        &json!({"device_id": "hall_lamp", "attributes": {"power": "on", "brightness": 100}})
    );

    // A repeat, a malformed message, a device the home does not have, and
    // Steward's own command: none records anything, and the ingest goes on.
    fixture
        .publish(
            "zigbee2mqtt/hall_lamp",
            r#"{"state":"ON","brightness":254,"linkquality":58}"#,
            false,
        )
        .await;
    fixture
        .publish("zigbee2mqtt/hall_lamp", "nope", false)
        .await;
    fixture
        .publish("zigbee2mqtt/ghost", r#"{"state":"ON"}"#, false)
        .await;
    fixture
        .publish("zigbee2mqtt/hall_lamp/set", r#"{"state":"OFF"}"#, false)
        .await;
    fixture
        .publish("zigbee2mqtt/front_door/availability", "offline", false)
        .await;
    fixture
        .publish("zigbee2mqtt/front_door", r#"{"state":"LOCK"}"#, false)
        .await;
    let home = fixture.wait_for("DeviceStateReported", 3).await;
    assert_eq!(
        of_type(&home, "DeviceStateReported"),
        [
            &json!({"device_id": "hall_lamp", "attributes": {"power": "on", "brightness": 100}}),
            &json!({"device_id": "front_door", "attributes": {"online": false}}),
            &json!({"device_id": "front_door", "attributes": {"lock": "locked"}}),
        ]
    );
    assert_eq!(
        of_type(&home, "DeviceRegistered").len(),
        2,
        "no Garden Pump"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_the_home_has_keeps_what_a_person_set() {
    let fixture = Fixture::new().await;
    fixture
        .host
        .execute(CommandEnvelope::new(
            StreamId::parse("home-main").expect("valid"),
            "RegisterDevice",
            json!({"device_id": "hall_lamp", "kind": "light", "room": "living room",
                   "capabilities": [{"attribute": "power"}]}),
            "user:ann",
        ))
        .await
        .expect("registered by a person");
    discover_hall_lamp(&fixture).await;
    fixture.start_ingest();
    // The ingest is listening once a retained state of it is reported.
    fixture
        .publish("zigbee2mqtt/hall_lamp", r#"{"state":"OFF"}"#, true)
        .await;
    let home = fixture.wait_for("DeviceStateReported", 1).await;
    // Past the moment discovery would have registered it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let home_now = fixture.home().await;
    assert_eq!(home_now.len(), home.len(), "nothing more was recorded");
    let registered = of_type(&home_now, "DeviceRegistered");
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0]["room"], "living room");
    assert_eq!(
        of_type(&home_now, "DeviceStateReported")[0]["attributes"],
        json!({"power": "off"})
    );
}
