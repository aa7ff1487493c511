//! The MQTT integration against real Mosquitto brokers: the shared one on
//! 127.0.0.1:1883 and ones the tests start and stop.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use steward_actuator::Integration;
use steward_actuator::mqtt::{MqttConfig, MqttIntegration};
use steward_testkit::{Mosquitto, free_port};
use support::{SHARED_BROKER, Subscriber, unique_topic};

#[tokio::test]
async fn a_publish_reaches_the_broker_and_succeeds_on_its_acknowledgement() {
    let topic = unique_topic();
    let mut subscriber = Subscriber::on(SHARED_BROKER.1, &topic).await;
    let mqtt = MqttIntegration::new(MqttConfig::new(SHARED_BROKER.0, SHARED_BROKER.1));

    let first = mqtt
        .execute(
            &json!({"topic": topic, "payload": {"state": "OFF"}}),
            "cmd-1",
        )
        .await
        .expect("published");
    assert_eq!(first.result["qos"], 1);
    assert!(
        first.result["packet_id"].as_u64().is_some(),
        "{:?}",
        first.result
    );
    assert_eq!(subscriber.expect_payload().await, r#"{"state":"OFF"}"#);

    // The session is kept: the next publish goes over it.
    let second = mqtt
        .execute(&json!({"topic": topic, "payload": "ON", "qos": 0}), "cmd-2")
        .await
        .expect("published");
    assert_eq!(second.result, json!({"topic": topic, "qos": 0}));
    assert_eq!(subscriber.expect_payload().await, "ON");
}

#[tokio::test]
async fn a_bad_action_is_refused_for_good_and_nothing_is_sent() {
    let topic = unique_topic();
    let mqtt = MqttIntegration::new(MqttConfig::new(SHARED_BROKER.0, SHARED_BROKER.1));
    let error = mqtt
        .execute(
            &json!({"topic": format!("{topic}/#"), "payload": "ON"}),
            "cmd-1",
        )
        .await
        .expect_err("a wildcard topic");
    assert!(!error.is_transient(), "{error}");
    assert!(error.to_string().contains('#'), "{error}");
}

#[tokio::test]
async fn a_dry_run_describes_the_publish_without_a_broker() {
    let nowhere = MqttIntegration::new(MqttConfig::new("127.0.0.1", free_port()));
    let described = nowhere
        .describe(&json!({"topic": "zigbee2mqtt/lamp/set", "payload": {"brightness": 40}}))
        .expect("described");
    assert_eq!(
        described,
        json!({"topic": "zigbee2mqtt/lamp/set", "payload": "{\"brightness\":40}", "qos": 1, "retain": false})
    );
}

#[tokio::test]
async fn a_broker_that_is_down_is_a_transient_failure_and_the_next_attempt_reconnects() {
    let port = free_port();
    let topic = unique_topic();
    let action: Value = json!({"topic": topic, "payload": {"state": "ON"}});
    let mut config = MqttConfig::new("127.0.0.1", port);
    config.timeout = Duration::from_secs(2);
    let mqtt = MqttIntegration::new(config);

    // Nothing listens yet.
    let error = mqtt.execute(&action, "cmd-1").await.expect_err("no broker");
    assert!(error.is_transient(), "{error}");

    let broker = Mosquitto::anonymous(port);
    let mut subscriber = Subscriber::on(port, &topic).await;
    mqtt.execute(&action, "cmd-1")
        .await
        .expect("the broker is up");
    assert_eq!(subscriber.expect_payload().await, r#"{"state":"ON"}"#);

    drop(subscriber);
    drop(broker);
    let error = mqtt
        .execute(&action, "cmd-2")
        .await
        .expect_err("the broker went down");
    assert!(error.is_transient(), "{error}");

    let _broker = Mosquitto::anonymous(port);
    let mut subscriber = Subscriber::on(port, &topic).await;
    mqtt.execute(&action, "cmd-2")
        .await
        .expect("the broker is back");
    assert_eq!(subscriber.expect_payload().await, r#"{"state":"ON"}"#);
}

#[tokio::test]
async fn an_abandoned_publish_is_never_sent_with_the_next_one() {
    let port = free_port();
    let topic = unique_topic();
    let mqtt = MqttIntegration::new(MqttConfig::new("127.0.0.1", port));

    // Something takes the connection and never answers; the caller gives
    // up on A meanwhile (as the worker's own attempt timeout does).
    let silent = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port");
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let abandoned = tokio::time::timeout(
        Duration::from_millis(300),
        mqtt.execute(&json!({"topic": topic, "payload": "A"}), "cmd-a"),
    )
    .await;
    assert!(abandoned.is_err(), "A was still waiting: {abandoned:?}");
    holder.abort();
    let _ = holder.await;

    let _broker = Mosquitto::anonymous(port);
    let mut subscriber = Subscriber::on(port, &topic).await;
    mqtt.execute(&json!({"topic": topic, "payload": "B"}), "cmd-b")
        .await
        .expect("B published");
    assert_eq!(subscriber.expect_payload().await, "B");
    let more = subscriber.next_payload(Duration::from_millis(500)).await;
    assert_eq!(more, None, "A was sent after all");
}
