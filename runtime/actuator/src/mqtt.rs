//! The MQTT integration: device commands out as publishes (zigbee2mqtt's
//! `<base>/<device>/set`, Home Assistant's command topics).
//!
//! An action is `{"topic": "...", "payload": ..., "qos": 1, "retain":
//! false}`: a string payload is sent as it is, any other JSON value as its
//! JSON text. QoS 1 (the default) succeeds once the broker's PUBACK for the
//! message arrives; QoS 0 once the message is written.
//!
//! Publishes go one at a time over one session, so the packet id the event
//! loop gives a publish, and the PUBACK that answers it, are certainly the
//! current action's. The session is taken out for the publish and put back
//! only when it succeeded: a publish that fails, times out or is abandoned
//! takes its session with it, and the next one starts a clean session, so a
//! message the old one would have re-sent is never taken for the new one's.
//! MQTT 3.1.1 carries no idempotency key: a retried publish may arrive
//! twice, which leaves a device that is sent a state (`{"state": "OFF"}`)
//! as once, but not one sent a change (`TOGGLE`, a brightness step).

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use crate::{Integration, IntegrationError, Outcome};

/// How long a publish may wait for the broker when not configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the session waits before reconnecting after the connection
/// dropped while idle.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// Reports the session keeps for the publisher; older ones, from while no
/// publish was waiting, are of no use and are dropped.
const EVENT_BUFFER: usize = 64;

/// Where the broker is and how to sign in.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// Host name or address.
    pub host: String,
    /// Port (1883).
    pub port: u16,
    /// User name and password, if the broker wants them.
    pub credentials: Option<(String, String)>,
    /// How long a publish may wait for the broker.
    pub timeout: Duration,
}

impl MqttConfig {
    /// A broker at `host:port` without sign-in, with the default timeout.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            credentials: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// A broker named by an `mqtt://host[:port]` URL (port 1883 if none).
    /// Sign-in belongs in the credential vault, not in the URL: a URL with
    /// a user name or password is refused, as is any other scheme (TLS,
    /// `mqtts://`, is not supported yet). Errors never quote the URL, which
    /// may hold a secret.
    pub fn from_url(endpoint: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(endpoint).map_err(|e| format!("not a URL: {e}"))?;
        if parsed.scheme() != "mqtt" {
            return Err(format!(
                "`{}://`: only mqtt:// brokers are supported",
                parsed.scheme()
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(
                "put the user name and password in the credential vault, not the URL".to_owned(),
            );
        }
        let host = parsed
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| "the URL names no host".to_owned())?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(Self::new(host, parsed.port().unwrap_or(1883)))
    }
}

/// A publish as an action asks for it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishAction {
    topic: String,
    #[serde(default)]
    payload: Value,
    #[serde(default = "default_qos")]
    qos: u8,
    #[serde(default)]
    retain: bool,
}

fn default_qos() -> u8 {
    1
}

/// A checked publish: what goes on the wire.
#[derive(Debug, Clone, PartialEq)]
struct Publish {
    topic: String,
    payload: Vec<u8>,
    qos: QoS,
    retain: bool,
}

impl Publish {
    fn from_action(action: &Value) -> Result<Self, IntegrationError> {
        let action: PublishAction = serde_json::from_value(action.clone())
            .map_err(|e| IntegrationError::BadAction(e.to_string()))?;
        // Wildcards subscribe; a publish names one topic.
        if action.topic.is_empty()
            || action.topic.contains(['+', '#', '\0'])
            || action.topic.len() > usize::from(u16::MAX)
        {
            return Err(IntegrationError::BadAction(format!(
                "`{}` is not a topic to publish to",
                action.topic
            )));
        }
        let qos = match action.qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            other => {
                return Err(IntegrationError::BadAction(format!(
                    "QoS {other}: publishes use QoS 0 or 1"
                )));
            }
        };
        let payload = match action.payload {
            Value::String(text) => text.into_bytes(),
            Value::Null => Vec::new(),
            other => other.to_string().into_bytes(),
        };
        Ok(Self {
            topic: action.topic,
            payload,
            qos,
            retain: action.retain,
        })
    }

    fn describe(&self) -> Value {
        json!({
            "topic": self.topic,
            "payload": String::from_utf8_lossy(&self.payload),
            "qos": self.qos as u8,
            "retain": self.retain,
        })
    }
}

/// What the session's event loop reports to the publisher.
#[derive(Debug)]
enum SessionEvent {
    Published(u16),
    Acknowledged(u16),
    Dropped(String),
}

/// One connection to the broker: the client, the task polling its event
/// loop, and what that task reports.
struct Session {
    client: AsyncClient,
    events: mpsc::Receiver<SessionEvent>,
    driver: JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Session {
    fn open(config: &MqttConfig) -> Self {
        let client_id = format!("steward-actuator-{}", uuid::Uuid::now_v7().simple());
        let mut options = MqttOptions::new(client_id, config.host.clone(), config.port);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_clean_session(true);
        if let Some((username, password)) = &config.credentials {
            options.set_credentials(username.clone(), password.clone());
        }
        let (client, event_loop) = AsyncClient::new(options, 8);
        let (sender, events) = mpsc::channel(EVENT_BUFFER);
        let driver = tokio::spawn(drive(event_loop, sender));
        Self {
            client,
            events,
            driver,
        }
    }
}

/// Polls the event loop (which connects, reconnects and keeps the
/// connection alive) and reports publishes, acknowledgements and drops.
async fn drive(mut event_loop: EventLoop, events: mpsc::Sender<SessionEvent>) {
    // A full buffer means nobody is waiting for these reports: drop them.
    let report = |event| match events.try_send(event) {
        Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    };
    loop {
        let event = match event_loop.poll().await {
            Ok(Event::Outgoing(Outgoing::Publish(packet_id))) => SessionEvent::Published(packet_id),
            Ok(Event::Incoming(Packet::PubAck(ack))) => SessionEvent::Acknowledged(ack.pkid),
            Ok(_) => continue,
            Err(error) => {
                if !report(SessionEvent::Dropped(error.to_string())) {
                    return;
                }
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        if !report(event) {
            return;
        }
    }
}

/// Publishes actions to one MQTT broker.
pub struct MqttIntegration {
    config: MqttConfig,
    session: Mutex<Option<Session>>,
}

impl std::fmt::Debug for MqttIntegration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttIntegration")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .finish_non_exhaustive()
    }
}

impl MqttIntegration {
    /// An integration for the broker; it connects on its first publish.
    pub fn new(config: MqttConfig) -> Self {
        Self {
            config,
            session: Mutex::new(None),
        }
    }

    async fn publish(&self, publish: Publish) -> Result<Value, IntegrationError> {
        let mut slot = self.session.lock().await;
        // Taken out: if this future is dropped mid-publish, the session
        // goes with it rather than stay with a publish in flight.
        let mut session = slot.take().unwrap_or_else(|| Session::open(&self.config));
        // Whatever happened while idle (a drop the event loop recovered
        // from) is not about this publish.
        while session.events.try_recv().is_ok() {}

        let outcome = tokio::time::timeout(self.config.timeout, async {
            session
                .client
                .publish(
                    publish.topic.clone(),
                    publish.qos,
                    publish.retain,
                    publish.payload.clone(),
                )
                .await
                .map_err(|e| IntegrationError::Unavailable(e.to_string()))?;
            let mut packet_id = None;
            while let Some(event) = session.events.recv().await {
                match event {
                    SessionEvent::Published(id) if packet_id.is_none() => {
                        if publish.qos == QoS::AtMostOnce {
                            return Ok(json!({ "topic": publish.topic, "qos": 0 }));
                        }
                        packet_id = Some(id);
                    }
                    SessionEvent::Acknowledged(id) if Some(id) == packet_id => {
                        return Ok(json!({ "topic": publish.topic, "qos": 1, "packet_id": id }));
                    }
                    SessionEvent::Dropped(error) => {
                        return Err(IntegrationError::Unavailable(format!(
                            "the broker at {}:{}: {error}",
                            self.config.host, self.config.port
                        )));
                    }
                    _ => {}
                }
            }
            Err(IntegrationError::Unavailable(
                "the MQTT session ended".to_owned(),
            ))
        })
        .await
        .unwrap_or_else(|_| {
            Err(IntegrationError::Unavailable(format!(
                "no answer from the broker at {}:{} within {:?}",
                self.config.host, self.config.port, self.config.timeout
            )))
        });
        // After a failure the session is dropped: a clean one next time,
        // so nothing of this one is re-sent.
        if outcome.is_ok() {
            *slot = Some(session);
        }
        outcome
    }
}

#[async_trait::async_trait]
impl Integration for MqttIntegration {
    fn name(&self) -> &str {
        "mqtt"
    }

    fn describe(&self, action: &Value) -> Result<Value, IntegrationError> {
        Ok(Publish::from_action(action)?.describe())
    }

    async fn execute(
        &self,
        action: &Value,
        _idempotency_key: &str,
    ) -> Result<Outcome, IntegrationError> {
        let publish = Publish::from_action(action)?;
        let started = Instant::now();
        let result = self.publish(publish).await?;
        Ok(Outcome {
            result,
            latency: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broker_is_named_by_an_mqtt_url_without_secrets() {
        let config = MqttConfig::from_url("mqtt://broker.home:1884").expect("a broker");
        assert_eq!((config.host.as_str(), config.port), ("broker.home", 1884));
        let config = MqttConfig::from_url("mqtt://[::1]").expect("a broker");
        assert_eq!((config.host.as_str(), config.port), ("::1", 1883));
        for bad in [
            "mqtts://broker.home",
            "http://broker.home",
            "mqtt://user:secret@broker.home",
            "mqtt://",
            "broker.home:1883",
        ] {
            assert!(MqttConfig::from_url(bad).is_err(), "{bad}");
        }
        let refused = MqttConfig::from_url("mqtt://user:secret@broker.home").expect_err("secrets");
        assert!(
            !refused.contains("secret@"),
            "the secret is not echoed: {refused}"
        );
    }

    #[test]
    fn actions_become_publishes_and_bad_ones_are_refused() {
        let publish = Publish::from_action(&json!({
            "topic": "zigbee2mqtt/lamp/set", "payload": {"state": "OFF"}
        }))
        .expect("a publish");
        assert_eq!(publish.payload, br#"{"state":"OFF"}"#);
        assert_eq!((publish.qos, publish.retain), (QoS::AtLeastOnce, false));
        let text = Publish::from_action(&json!({"topic": "t", "payload": "ON", "qos": 0}))
            .expect("a publish");
        assert_eq!(
            (text.payload.as_slice(), text.qos),
            (&b"ON"[..], QoS::AtMostOnce)
        );

        for bad in [
            json!({"payload": "ON"}),
            json!({"topic": ""}),
            json!({"topic": "home/+/set"}),
            json!({"topic": "home/#"}),
            json!({"topic": "t", "qos": 2}),
            json!({"topic": "t", "colour": "red"}),
            json!("t"),
        ] {
            let error = Publish::from_action(&bad).expect_err("refused");
            assert!(!error.is_transient(), "{bad}: {error}");
        }
    }
}
