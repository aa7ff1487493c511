//! The MQTT integration's other half: the home as the broker tells it,
//! turned into the home's events.
//!
//! - **Home Assistant discovery** (`<prefix>/<component>/[<node>/]<object>/config`,
//!   retained by whoever publishes it) registers devices: a light, switch,
//!   lock, cover, climate or sensor entity becomes a device of that kind
//!   with the capabilities its configuration shows, in its suggested area.
//!   zigbee2mqtt describes one device as several entities (the light, its
//!   link quality, its update sensor…) that share its state topic; they are
//!   gathered for a moment and registered as one device of the most capable
//!   kind. A device the home already has is left as it is: a person's
//!   changes (its room) win over the broker's.
//! - **zigbee2mqtt state** (`<base>/<device>`, a JSON object) is reported
//!   as the device's attributes, in Steward's terms ([`crate::zigbee2mqtt`]);
//!   `<base>/<device>/availability` as its `online` reading.
//!
//! Device ids are zigbee2mqtt's friendly names, so that what the planner
//! publishes to `<base>/<device>/set` reaches the device: a name that is
//! not a valid device id (white space) is skipped with a warning naming it,
//! and an entity whose state is not under the base topic (a Tasmota or
//! ESPHome device) is left out, since Steward could not command it.
//! The session is clean: after a restart, retained configurations and
//! states bring the home up to date; a report that changes nothing records
//! nothing. Malformed messages, unknown devices and refused reports are
//! logged and skipped; they never stop the ingest.

use std::collections::BTreeMap;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Map, Value, json};
use steward_actors::CommandEnvelope;
use steward_actors::home::Home;
use steward_events::StreamId;
use steward_events::domain::home::DeviceKind;
use steward_host::{Host, HostError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::mqtt::MqttConfig;
use crate::zigbee2mqtt;

/// Who the ingest's commands are from.
const ACTOR: &str = "integration:mqtt";

/// How long after a device's last discovery message it is registered.
const SETTLE: Duration = Duration::from_millis(750);

/// How long the ingest waits before reconnecting to the broker.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// The room of a discovered device with no suggested area.
const UNASSIGNED_ROOM: &str = "unassigned";

/// What the ingest listens to, and for which home.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// The broker.
    pub broker: MqttConfig,
    /// zigbee2mqtt's base topic (`zigbee2mqtt`).
    pub base_topic: String,
    /// Home Assistant's discovery prefix (`homeassistant`); `None` turns
    /// discovery off.
    pub discovery_prefix: Option<String>,
    /// The home the devices belong to (`home-<household>`).
    pub household: String,
}

/// A broker message, as the ingest reads it.
#[derive(Debug, Clone, PartialEq)]
enum Message {
    /// A device's state.
    State {
        device_id: String,
        state: Map<String, Value>,
    },
    /// Whether a device can be reached.
    Availability { device_id: String, online: bool },
    /// One entity of a device, from discovery.
    Discovered(Entity),
    /// Nothing for the home (a `set` Steward sent, the bridge's news).
    Ignored,
}

/// One discovered entity: the device it belongs to and what it adds.
#[derive(Debug, Clone, PartialEq)]
struct Entity {
    device_id: String,
    kind: DeviceKind,
    room: Option<String>,
    capabilities: Vec<&'static str>,
}

/// A device being gathered from its entities.
#[derive(Debug, Clone)]
struct Gathering {
    kind: DeviceKind,
    room: Option<String>,
    capabilities: Vec<&'static str>,
    due: Instant,
}

/// Reads the broker into the home's events.
pub struct MqttIngest {
    host: Host,
    config: IngestConfig,
}

impl MqttIngest {
    /// The lease one ingest at a time holds.
    pub const LEASE: &'static str = "mqtt-ingest";

    /// An ingest for `config.household`'s home on `host`.
    pub fn new(host: Host, config: IngestConfig) -> Self {
        Self { host, config }
    }

    /// Listens until `stop`; reconnects when the broker goes away. Fails
    /// only when the store does: the caller's supervisor starts it again.
    pub async fn run(&self, stop: CancellationToken) -> Result<(), HostError> {
        let home_stream = StreamId::new("home", &self.config.household)
            .map_err(|e| HostError::Store(e.into()))?;
        let broker = &self.config.broker;
        let mut options = MqttOptions::new(
            format!("steward-ingest-{}", uuid::Uuid::now_v7().simple()),
            broker.host.clone(),
            broker.port,
        );
        options.set_clean_session(true);
        options.set_keep_alive(Duration::from_secs(30));
        if let Some((user, password)) = &broker.credentials {
            options.set_credentials(user.clone(), password.clone());
        }
        let (client, mut events) = AsyncClient::new(options, 64);
        let mut home = Ingested::new(self.host.clone(), home_stream);
        let mut gathering: BTreeMap<String, Gathering> = BTreeMap::new();

        loop {
            let next_due = gathering.values().map(|device| device.due).min();
            tokio::select! {
                () = stop.cancelled() => break,
                () = sleep_until(next_due) => {
                    let now = Instant::now();
                    let due: Vec<String> = gathering
                        .iter()
                        .filter(|(_, device)| device.due <= now)
                        .map(|(id, _)| id.clone())
                        .collect();
                    for device_id in due {
                        if let Some(device) = gathering.remove(&device_id) {
                            home.register(&device_id, device).await?;
                        }
                    }
                }
                polled = events.poll() => match polled {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        // A clean session forgets its subscriptions.
                        for filter in self.filters() {
                            if let Err(error) = client.subscribe(filter, QoS::AtLeastOnce).await {
                                tracing::warn!(%error, "subscribing to the broker");
                            }
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        match read_topic(&self.config, &publish.topic, &publish.payload) {
                            Ok(Message::State { device_id, state }) => {
                                home.report(&device_id, &state).await?;
                            }
                            Ok(Message::Availability { device_id, online }) => {
                                let state = Map::from_iter([("online".to_owned(), json!(online))]);
                                home.report(&device_id, &state).await?;
                            }
                            Ok(Message::Discovered(entity)) => gather(&mut gathering, entity),
                            Ok(Message::Ignored) => {}
                            Err(problem) => {
                                tracing::warn!(topic = %publish.topic, %problem, "skipped an MQTT message");
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "the MQTT broker is unreachable; reconnecting");
                        tokio::select! {
                            () = stop.cancelled() => break,
                            () = tokio::time::sleep(RECONNECT_DELAY) => {}
                        }
                    }
                },
            }
        }
        // Nothing is waiting on the broker's answer; a failed goodbye is
        // of no consequence.
        let _ = client.disconnect().await;
        Ok(())
    }

    fn filters(&self) -> Vec<String> {
        let mut filters = vec![format!("{}/#", self.config.base_topic)];
        if let Some(prefix) = &self.config.discovery_prefix {
            filters.push(format!("{prefix}/#"));
        }
        filters
    }
}

/// What a message on `topic` says, or why it cannot be read.
fn read_topic(config: &IngestConfig, topic: &str, payload: &[u8]) -> Result<Message, String> {
    if let Some(prefix) = &config.discovery_prefix
        && let Some(rest) = topic
            .strip_prefix(prefix.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
    {
        return read_discovery(rest, payload, &config.base_topic);
    }
    let Some(rest) = topic
        .strip_prefix(config.base_topic.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
    else {
        return Ok(Message::Ignored);
    };
    if rest.starts_with("bridge/") || rest.ends_with("/set") || rest.ends_with("/get") {
        return Ok(Message::Ignored);
    }
    if let Some(device_id) = rest.strip_suffix("/availability") {
        return read_availability(device_id, payload);
    }
    if payload.is_empty() {
        // A retained state being cleared.
        return Ok(Message::Ignored);
    }
    let state = match serde_json::from_slice(payload) {
        Ok(Value::Object(state)) => state,
        Ok(_) => return Err("a device's state is a JSON object".to_owned()),
        Err(error) => return Err(format!("not JSON: {error}")),
    };
    Ok(Message::State {
        device_id: device_id(rest)?,
        state,
    })
}

/// `payload` is `online`/`offline`, or `{"state": "online"}`.
fn read_availability(name: &str, payload: &[u8]) -> Result<Message, String> {
    let said = match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(object)) => object
            .get("state")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_default(),
        _ => String::from_utf8_lossy(payload).trim().to_owned(),
    };
    let online = match said.as_str() {
        "online" => true,
        "offline" => false,
        other => return Err(format!("availability is online or offline, not `{other}`")),
    };
    Ok(Message::Availability {
        device_id: device_id(name)?,
        online,
    })
}

/// A discovery message: `rest` is `<component>/[<node>/]<object>/config`.
fn read_discovery(rest: &str, payload: &[u8], base_topic: &str) -> Result<Message, String> {
    let parts: Vec<&str> = rest.split('/').collect();
    let (component, object_id) = match parts.as_slice() {
        [component, object, "config"] | [component, _, object, "config"] => (*component, *object),
        _ => return Ok(Message::Ignored),
    };
    if payload.is_empty() {
        // An entity being removed; the device stays until a person removes it.
        return Ok(Message::Ignored);
    }
    let config: Map<String, Value> = match serde_json::from_slice(payload) {
        Ok(Value::Object(config)) => config,
        Ok(_) => return Err("a discovery configuration is a JSON object".to_owned()),
        Err(error) => return Err(format!("not JSON: {error}")),
    };
    let Some((kind, capabilities)) = kind_of(component, &config) else {
        return Ok(Message::Ignored);
    };
    // Steward commands devices at `<base>/<device>/set` and reads them at
    // `<base>/<device>`: only an entity whose state topic is there is a
    // device it can serve. Others (Tasmota, ESPHome) are left out rather
    // than registered to be sent commands they never receive.
    let Some(friendly_name) = field(&config, "state_topic", "stat_t").and_then(|topic| {
        let topic = expand(&config, topic);
        topic
            .strip_prefix(base_topic)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(str::to_owned)
    }) else {
        tracing::debug!(
            component,
            object_id,
            "a discovered entity outside the base topic"
        );
        return Ok(Message::Ignored);
    };
    let device_id = device_id(&friendly_name)?;
    let room = config
        .get("device")
        .or_else(|| config.get("dev"))
        .and_then(|device| {
            field_in(device, "suggested_area", "sa")
                .map(str::trim)
                .filter(|area| !area.is_empty())
                .map(str::to_owned)
        });
    Ok(Message::Discovered(Entity {
        device_id,
        kind,
        room,
        capabilities,
    }))
}

/// The device kind and capabilities an entity of `component` shows.
fn kind_of(
    component: &str,
    config: &Map<String, Value>,
) -> Option<(DeviceKind, Vec<&'static str>)> {
    let has = |long: &str, short: &str| field(config, long, short).is_some();
    let flag = |name: &str| config.get(name).and_then(Value::as_bool) == Some(true);
    let color_modes: Vec<&str> = config
        .get("supported_color_modes")
        .or_else(|| config.get("sup_clrm"))
        .and_then(Value::as_array)
        .map(|modes| modes.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Some(match component {
        "light" => {
            let mut capabilities = vec!["power"];
            let dims = flag("brightness")
                || has("brightness_command_topic", "bri_cmd_t")
                || color_modes.iter().any(|mode| *mode != "onoff");
            if dims {
                capabilities.push("brightness");
            }
            if flag("color_temp") || color_modes.contains(&"color_temp") {
                capabilities.push("colour_temp");
            }
            (DeviceKind::Light, capabilities)
        }
        "switch" => (DeviceKind::Switch, vec!["power"]),
        "lock" => (DeviceKind::Lock, vec!["lock"]),
        "cover" => {
            let positions =
                has("position_topic", "pos_t") || has("set_position_topic", "set_pos_t");
            (
                DeviceKind::Blind,
                if positions { vec!["position"] } else { vec![] },
            )
        }
        "climate" => (DeviceKind::Thermostat, vec!["target_temperature"]),
        "sensor" | "binary_sensor" => (DeviceKind::Sensor, vec![]),
        _ => return None,
    })
}

/// How much a kind says about a device: an entity that acts outranks one
/// that only senses.
fn rank(kind: DeviceKind) -> u8 {
    match kind {
        DeviceKind::Sensor => 0,
        DeviceKind::Plug | DeviceKind::Switch => 1,
        DeviceKind::Light | DeviceKind::Blind => 2,
        DeviceKind::Thermostat | DeviceKind::Lock => 3,
        _ => 1,
    }
}

fn gather(gathering: &mut BTreeMap<String, Gathering>, entity: Entity) {
    let due = Instant::now() + SETTLE;
    let device = gathering
        .entry(entity.device_id)
        .or_insert_with(|| Gathering {
            kind: entity.kind,
            room: None,
            capabilities: Vec::new(),
            due,
        });
    if rank(entity.kind) > rank(device.kind) {
        device.kind = entity.kind;
    }
    if device.room.is_none() {
        device.room = entity.room;
    }
    for capability in entity.capabilities {
        if !device.capabilities.contains(&capability) {
            device.capabilities.push(capability);
        }
    }
    device.due = due;
}

/// A config field by its long name or its abbreviation.
fn field<'a>(config: &'a Map<String, Value>, long: &str, short: &str) -> Option<&'a str> {
    config
        .get(long)
        .or_else(|| config.get(short))
        .and_then(Value::as_str)
}

fn field_in<'a>(object: &'a Value, long: &str, short: &str) -> Option<&'a str> {
    object
        .as_object()
        .and_then(|object| field(object, long, short))
}

/// A topic with Home Assistant's `~` (the config's base topic) spelled out.
fn expand(config: &Map<String, Value>, topic: &str) -> String {
    match config.get("~").and_then(Value::as_str) {
        Some(base) if topic.starts_with('~') => format!("{base}{}", &topic[1..]),
        Some(base) if topic.ends_with('~') => format!("{}{base}", &topic[..topic.len() - 1]),
        _ => topic.to_owned(),
    }
}

/// A friendly name as a device id, if it is one.
fn device_id(name: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.chars().count() <= 100
        && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "`{name}` cannot be a device id (1 to 100 characters without white space): rename it in zigbee2mqtt"
        ))
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

/// The home as the ingest last read it, and the commands it sends.
struct Ingested {
    host: Host,
    stream: StreamId,
    home: Option<Home>,
    read_at: Option<Instant>,
}

impl Ingested {
    /// How long an unknown device waits before the home is read again.
    const REREAD_AFTER: Duration = Duration::from_secs(1);

    fn new(host: Host, stream: StreamId) -> Self {
        Self {
            host,
            stream,
            home: None,
            read_at: None,
        }
    }

    /// The home, read again if `device_id` is not in it and it was read a
    /// while ago (a person may have just registered it).
    async fn home_with(&mut self, device_id: &str) -> Result<&Home, HostError> {
        let known = self
            .home
            .as_ref()
            .is_some_and(|home| home.devices.contains_key(device_id));
        let stale = self
            .read_at
            .is_none_or(|read_at| read_at.elapsed() >= Self::REREAD_AFTER);
        if self.home.is_none() || (!known && stale) {
            let (home, _) = self.host.load::<Home>(&self.stream, true).await?;
            self.home = Some(home);
            self.read_at = Some(Instant::now());
        }
        Ok(self.home.get_or_insert_with(Home::default))
    }

    async fn report(
        &mut self,
        device_id: &str,
        state: &Map<String, Value>,
    ) -> Result<(), HostError> {
        let home = self.home_with(device_id).await?;
        let Some(device) = home.devices.get(device_id) else {
            tracing::debug!(device_id, "state of a device the home does not have");
            return Ok(());
        };
        let attributes = zigbee2mqtt::reported_attributes(device, state);
        if attributes.is_empty() {
            return Ok(());
        }
        self.send(
            "ReportDeviceState",
            json!({ "device_id": device_id, "attributes": attributes }),
        )
        .await
    }

    async fn register(&mut self, device_id: &str, device: Gathering) -> Result<(), HostError> {
        if self
            .home_with(device_id)
            .await?
            .devices
            .contains_key(device_id)
        {
            return Ok(());
        }
        let capabilities: Vec<Value> = device
            .capabilities
            .iter()
            .map(|attribute| json!({ "attribute": attribute }))
            .collect();
        self.send(
            "RegisterDevice",
            json!({
                "device_id": device_id,
                "kind": device.kind,
                "room": device.room.as_deref().unwrap_or(UNASSIGNED_ROOM),
                "capabilities": capabilities,
            }),
        )
        .await?;
        // The next message about it reads the home again.
        self.home = None;
        Ok(())
    }

    /// Sends a command to the home; a refusal is logged, not fatal.
    async fn send(&self, command_type: &str, data: Value) -> Result<(), HostError> {
        let envelope = CommandEnvelope::new(self.stream.clone(), command_type, data, ACTOR);
        match self.host.execute(envelope).await {
            Ok(_) => Ok(()),
            Err(HostError::Rejected(rejection)) => {
                tracing::warn!(command_type, rule = rejection.rule, %rejection.message, "the home refused what the broker said");
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingest_read(topic: &str, payload: &str) -> Result<Message, String> {
        let config = IngestConfig {
            broker: MqttConfig::new("127.0.0.1", 1883),
            base_topic: "zigbee2mqtt".to_owned(),
            discovery_prefix: Some("homeassistant".to_owned()),
            household: "main".to_owned(),
        };
        read_topic(&config, topic, payload.as_bytes())
    }

    #[test]
    fn state_availability_and_own_publishes_are_told_apart() {
        assert_eq!(
            ingest_read("zigbee2mqtt/hall_lamp", r#"{"state":"ON"}"#),
            Ok(Message::State {
                device_id: "hall_lamp".to_owned(),
                state: Map::from_iter([("state".to_owned(), json!("ON"))]),
            })
        );
        assert_eq!(
            ingest_read(
                "zigbee2mqtt/hall_lamp/availability",
                r#"{"state":"offline"}"#
            ),
            Ok(Message::Availability {
                device_id: "hall_lamp".to_owned(),
                online: false
            })
        );
        assert_eq!(
            ingest_read("zigbee2mqtt/hall_lamp/availability", "online"),
            Ok(Message::Availability {
                device_id: "hall_lamp".to_owned(),
                online: true
            })
        );
        for ignored in [
            "zigbee2mqtt/hall_lamp/set",
            "zigbee2mqtt/bridge/state",
            "other/x",
        ] {
            assert_eq!(
                ingest_read(ignored, r#"{"state":"ON"}"#),
                Ok(Message::Ignored)
            );
        }
        assert!(ingest_read("zigbee2mqtt/hall_lamp", "not json").is_err());
        assert!(ingest_read("zigbee2mqtt/hall_lamp", "[1]").is_err());
        let named = ingest_read("zigbee2mqtt/Hall Lamp", r#"{"state":"ON"}"#);
        assert!(named.is_err_and(|problem| problem.contains("Hall Lamp")));
    }

    #[test]
    fn discovery_reads_kind_capabilities_room_and_the_zigbee2mqtt_device() {
        let light = ingest_read(
            "homeassistant/light/0x00158d/light/config",
            r#"{"~":"zigbee2mqtt/hall_lamp","stat_t":"~","cmd_t":"~/set","schema":"json",
                "brightness":true,"supported_color_modes":["color_temp"],
                "dev":{"name":"Hall lamp","sa":"Hall"}}"#,
        );
        assert_eq!(
            light,
            Ok(Message::Discovered(Entity {
                device_id: "hall_lamp".to_owned(),
                kind: DeviceKind::Light,
                room: Some("Hall".to_owned()),
                capabilities: vec!["power", "brightness", "colour_temp"],
            }))
        );
        let switch = ingest_read(
            "homeassistant/switch/0x02/switch/config",
            r#"{"state_topic":"zigbee2mqtt/garden_pump","command_topic":"zigbee2mqtt/garden_pump/set"}"#,
        );
        assert_eq!(
            switch,
            Ok(Message::Discovered(Entity {
                device_id: "garden_pump".to_owned(),
                kind: DeviceKind::Switch,
                room: None,
                capabilities: vec!["power"],
            }))
        );
        // Steward could not command it where it listens.
        let elsewhere = ingest_read(
            "homeassistant/switch/garden_pump/config",
            r#"{"state_topic":"tasmota/pump/state","command_topic":"tasmota/pump/set"}"#,
        );
        assert_eq!(elsewhere, Ok(Message::Ignored));
        for ignored in [
            "homeassistant/device_automation/x/action/config",
            "homeassistant/light/x/state",
        ] {
            assert_eq!(ingest_read(ignored, "{}"), Ok(Message::Ignored));
        }
    }

    #[test]
    fn a_devices_entities_make_one_device_of_its_most_capable_kind() {
        let mut gathering = BTreeMap::new();
        for (kind, capabilities, room) in [
            (DeviceKind::Sensor, vec![], None),
            (DeviceKind::Light, vec!["power", "brightness"], Some("Hall")),
            (DeviceKind::Sensor, vec![], Some("Attic")),
        ] {
            gather(
                &mut gathering,
                Entity {
                    device_id: "hall_lamp".to_owned(),
                    kind,
                    room: room.map(str::to_owned),
                    capabilities,
                },
            );
        }
        let device = &gathering["hall_lamp"];
        assert_eq!(device.kind, DeviceKind::Light);
        assert_eq!(device.room.as_deref(), Some("Hall"));
        assert_eq!(device.capabilities, ["power", "brightness"]);
    }
}
