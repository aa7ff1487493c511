//! zigbee2mqtt's words and Steward's, both ways: the payload a device's
//! `<base>/<device>/set` takes for a desired attribute, and the attributes a
//! device's state message (`<base>/<device>`) reports.
//!
//! Steward's home speaks in its own attributes (`power` is `"on"`/`"off"`,
//! `brightness` a percentage, `colour_temp` kelvin); zigbee2mqtt in the
//! device's (`state` is `"ON"`, `brightness` 0–254, `color_temp` mireds,
//! `power` watts). Keeping both directions here keeps them inverse.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use steward_actors::home::{Device, SENSOR_ATTRIBUTES};

/// zigbee2mqtt's full brightness.
const FULL_BRIGHTNESS: f64 = 254.0;

/// What `<base>/<device>/set` takes to put `attribute` at `value`.
pub fn set_payload(attribute: &str, value: &Value) -> Value {
    match (attribute, value.as_str()) {
        ("power", Some(state)) => json!({ "state": state.to_uppercase() }),
        // Only an explicit "unlocked" opens; anything else locks, the safe
        // way to be wrong about a door.
        ("lock", Some("unlocked")) => json!({ "state": "UNLOCK" }),
        ("lock", _) => json!({ "state": "LOCK" }),
        ("brightness", _) => {
            let percent = value.as_f64().unwrap_or(0.0).clamp(0.0, 100.0);
            json!({ "brightness": (percent * FULL_BRIGHTNESS / 100.0).round() as i64 })
        }
        ("colour_temp", _) => match value.as_f64().filter(|kelvin| *kelvin > 0.0) {
            Some(kelvin) => json!({ "color_temp": (1e6 / kelvin).round() as i64 }),
            None => json!({ "color_temp": value }),
        },
        ("target_temperature", _) => json!({ "current_heating_setpoint": value }),
        _ => json!({ attribute: value }),
    }
}

/// The attributes of `device` a state message reports, in Steward's terms.
/// What the device has no capability for and is no sensor reading
/// (`linkquality`, `update`…) is left out, so one unknown field does not
/// cost the rest of the report.
pub fn reported_attributes(device: &Device, state: &Map<String, Value>) -> BTreeMap<String, Value> {
    let mut attributes = BTreeMap::new();
    for (key, value) in state {
        let Some((attribute, value)) = reading(device, key, value) else {
            continue;
        };
        let known = device.capabilities.contains_key(&attribute)
            || SENSOR_ATTRIBUTES.contains(&attribute.as_str());
        if known {
            attributes.insert(attribute, value);
        }
    }
    attributes
}

/// One field of a state message as Steward's attribute, if it maps to one.
fn reading(device: &Device, key: &str, value: &Value) -> Option<(String, Value)> {
    let reading = match key {
        "state" => {
            let state = value.as_str()?.to_ascii_uppercase();
            if device.capabilities.contains_key("lock") {
                let locked = match state.as_str() {
                    "LOCK" | "LOCKED" => "locked",
                    "UNLOCK" | "UNLOCKED" => "unlocked",
                    _ => return None,
                };
                ("lock", json!(locked))
            } else {
                let power = match state.as_str() {
                    "ON" => "on",
                    "OFF" => "off",
                    _ => return None,
                };
                ("power", json!(power))
            }
        }
        "brightness" => {
            let level = value.as_f64()?;
            let percent = (level * 100.0 / FULL_BRIGHTNESS).round().clamp(0.0, 100.0);
            ("brightness", json!(percent as i64))
        }
        "color_temp" => {
            let mireds = value.as_f64().filter(|mireds| *mireds > 0.0)?;
            ("colour_temp", json!((1e6 / mireds).round() as i64))
        }
        "current_heating_setpoint" => ("target_temperature", value.clone()),
        "local_temperature" => ("temperature", value.clone()),
        "illuminance_lux" => ("illuminance", value.clone()),
        // zigbee2mqtt's `power` is watts; Steward's is on or off.
        "power" => ("power_draw", value.clone()),
        other => (other, value.clone()),
    };
    Some((reading.0.to_owned(), reading.1))
}

#[cfg(test)]
mod tests {
    use steward_events::domain::home::{Capability, DeviceKind};

    use super::*;

    fn device(kind: DeviceKind, attributes: &[&str]) -> Device {
        Device {
            kind,
            room: "hall".to_owned(),
            capabilities: attributes
                .iter()
                .map(|attribute| {
                    let capability = Capability {
                        attribute: (*attribute).to_owned(),
                        value: steward_actors::home::well_known_value(attribute)
                            .expect("well known"),
                        read_only: false,
                    };
                    ((*attribute).to_owned(), capability)
                })
                .collect(),
            reported: BTreeMap::new(),
        }
    }

    fn reported(device: &Device, state: Value) -> BTreeMap<String, Value> {
        reported_attributes(device, state.as_object().expect("an object"))
    }

    #[test]
    fn a_lamps_state_reads_as_its_attributes_and_noise_is_left_out() {
        let lamp = device(DeviceKind::Light, &["power", "brightness", "colour_temp"]);
        let attributes = reported(
            &lamp,
            json!({"state": "ON", "brightness": 127, "color_temp": 370,
                   "linkquality": 81, "update": {"state": "idle"}, "power": 7.5}),
        );
        assert_eq!(
            attributes,
            BTreeMap::from([
                ("power".to_owned(), json!("on")),
                ("brightness".to_owned(), json!(50)),
                ("colour_temp".to_owned(), json!(2703)),
                ("power_draw".to_owned(), json!(7.5)),
            ])
        );
    }

    #[test]
    fn a_locks_state_is_its_lock_and_a_thermostats_setpoint_its_target() {
        let lock = device(DeviceKind::Lock, &["lock"]);
        assert_eq!(
            reported(&lock, json!({"state": "UNLOCK", "battery": 88})),
            BTreeMap::from([
                ("lock".to_owned(), json!("unlocked")),
                ("battery".to_owned(), json!(88)),
            ])
        );
        let thermostat = device(DeviceKind::Thermostat, &["target_temperature"]);
        assert_eq!(
            reported(
                &thermostat,
                json!({"current_heating_setpoint": 21, "local_temperature": 19.5})
            ),
            BTreeMap::from([
                ("target_temperature".to_owned(), json!(21)),
                ("temperature".to_owned(), json!(19.5)),
            ])
        );
        let sensor = device(DeviceKind::Sensor, &[]);
        assert!(reported(&sensor, json!({"state": "ON", "brightness": 3})).is_empty());
    }

    #[test]
    fn a_lock_opens_only_when_asked_to_be_unlocked() {
        assert_eq!(
            set_payload("lock", &json!("unlocked")),
            json!({"state": "UNLOCK"})
        );
        for other in [json!("locked"), json!("open"), json!(true), Value::Null] {
            assert_eq!(
                set_payload("lock", &other),
                json!({"state": "LOCK"}),
                "{other}"
            );
        }
    }

    #[test]
    fn what_is_set_reads_back_as_the_same_attribute() {
        let lamp = device(DeviceKind::Light, &["power", "brightness", "colour_temp"]);
        let lock = device(DeviceKind::Lock, &["lock"]);
        let thermostat = device(DeviceKind::Thermostat, &["target_temperature"]);
        for (device, attribute, value) in [
            (&lamp, "power", json!("off")),
            (&lamp, "power", json!("on")),
            (&lamp, "brightness", json!(40)),
            (&lamp, "colour_temp", json!(2500)),
            (&lock, "lock", json!("locked")),
            (&lock, "lock", json!("unlocked")),
            (&thermostat, "target_temperature", json!(20.5)),
        ] {
            let payload = set_payload(attribute, &value);
            let back = reported(device, payload.clone());
            assert_eq!(
                back.get(attribute),
                Some(&value),
                "{attribute} = {value} sent as {payload}"
            );
        }
    }
}
