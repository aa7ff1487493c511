//! What the actuator's tests share: unique topics and a subscriber to see
//! what reached a broker (free ports and brokers of their own come from
//! the testkit).

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};

/// The Mosquitto every machine of this project runs.
pub const SHARED_BROKER: (&str, u16) = ("127.0.0.1", 1883);

/// A topic no other test publishes to.
pub fn unique_topic() -> String {
    format!("steward-test/{}/set", uuid::Uuid::now_v7().simple())
}

/// A subscriber to one topic, to see what reached the broker.
pub struct Subscriber {
    _client: AsyncClient,
    events: EventLoop,
}

impl Subscriber {
    /// Subscribed (SUBACK received) to `topic` on the broker at `port`.
    pub async fn on(port: u16, topic: &str) -> Self {
        let id = format!("steward-test-{}", uuid::Uuid::now_v7().simple());
        let (client, mut events) = AsyncClient::new(MqttOptions::new(id, "127.0.0.1", port), 8);
        client
            .subscribe(topic, QoS::AtLeastOnce)
            .await
            .expect("subscribe queued");
        loop {
            match tokio::time::timeout(Duration::from_secs(10), events.poll()).await {
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => break,
                Ok(Ok(_)) => {}
                other => panic!("subscribing to {topic}: {other:?}"),
            }
        }
        Self {
            _client: client,
            events,
        }
    }

    /// The next message within `wait`, if any.
    pub async fn next_payload(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.events.poll()).await {
                Ok(Ok(Event::Incoming(Packet::Publish(publish)))) => {
                    return Some(String::from_utf8(publish.payload.to_vec()).expect("UTF-8"));
                }
                Ok(Ok(_)) => {}
                Ok(Err(error)) => panic!("subscriber: {error}"),
                Err(_) => return None,
            }
        }
    }

    /// The next message, which must come within ten seconds.
    pub async fn expect_payload(&mut self) -> String {
        self.next_payload(Duration::from_secs(10))
            .await
            .expect("a message within 10 s")
    }
}

/// The Radicale user's calendar collection on `server`, made with
/// MKCALENDAR: its URL.
pub async fn calendar_collection(server: &steward_testkit::Radicale) -> String {
    use steward_testkit::{RADICALE_PASSWORD, RADICALE_USER};
    let collection = format!("{}{RADICALE_USER}/calendar/", server.url());
    let made = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(b"MKCALENDAR").expect("a method"),
            &collection,
        )
        .basic_auth(RADICALE_USER, Some(RADICALE_PASSWORD))
        .send()
        .await
        .expect("MKCALENDAR answered");
    assert_eq!(made.status(), 201, "MKCALENDAR: {}", server.log());
    collection
}
