//! The actuator's worker over a real store (SQLite in a temporary
//! directory, and a PostgreSQL database of its own), publishing to real
//! Mosquitto brokers, on a `ManualClock` the tests move.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use steward_actors::CommandEnvelope;
use steward_actors::saga::PlanSteps;
use steward_actuator::mqtt::{MqttConfig, MqttIntegration};
use steward_actuator::{ActuatorOptions, ActuatorWorker};
use steward_events::{Direction, EventStore, RecordedEvent, StreamId};
use steward_host::workers::SagaWorker;
use steward_host::{Host, HostOptions, ManualClock};
use steward_store_core::{MasterKey, Store};
use tokio_util::sync::CancellationToken;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .expect("valid")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("an address")
        .port()
}

fn stream(name: &str) -> StreamId {
    StreamId::parse(name).expect("valid")
}

async fn events(store: &Store, name: &str) -> Vec<RecordedEvent> {
    store
        .read_stream(&stream(name), 0, Direction::Forward, 1_000)
        .await
        .expect("reads")
}

fn types(events: &[RecordedEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

/// Waits until `name` holds an event of type `event_type`.
async fn wait_for(store: &Store, name: &str, event_type: &str) -> Vec<RecordedEvent> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = events(store, name).await;
        if found.iter().any(|e| e.event_type.as_str() == event_type) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} holds {:?}, no {event_type}",
            types(&found)
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn count(events: &[RecordedEvent], event_type: &str) -> usize {
    events
        .iter()
        .filter(|e| e.event_type.as_str() == event_type)
        .count()
}

struct Subscriber {
    _client: AsyncClient,
    events: EventLoop,
}

impl Subscriber {
    async fn on(port: u16, topic: &str) -> Self {
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
    async fn next_payload(&mut self, wait: Duration) -> Option<String> {
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
}

/// A store, a host on a manual clock, and the workers under test.
struct Fixture {
    store: Store,
    host: Host,
    clock: ManualClock,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Fixture {
    fn new(store: Store) -> Self {
        let clock = ManualClock::new(t0());
        let host = Host::builder(Arc::new(store.clone()))
            .options(HostOptions {
                arbiters: 1,
                ..HostOptions::default()
            })
            .clock(Arc::new(clock.clone()))
            .steward_domains()
            .start()
            .expect("host starts");
        Self {
            store,
            host,
            clock,
            stop: CancellationToken::new(),
            tasks: Vec::new(),
        }
    }

    fn start_actuator(&mut self, port: u16, options: ActuatorOptions) {
        let mut config = MqttConfig::new("127.0.0.1", port);
        config.timeout = Duration::from_secs(2);
        let worker = ActuatorWorker::new(self.host.clone(), self.store.clone(), options)
            .with(Arc::new(MqttIntegration::new(config)));
        let stop = self.stop.clone();
        self.tasks.push(tokio::spawn(async move {
            worker.run(stop).await.expect("the actuator runs");
        }));
    }

    fn start_plan_steps(&mut self) {
        let saga = SagaWorker::new(Arc::new(PlanSteps), self.host.clone(), self.store.clone())
            .expect("saga worker");
        let stop = self.stop.clone();
        self.tasks.push(tokio::spawn(async move {
            saga.run(stop).await.expect("the saga runs");
        }));
    }

    async fn execute(&self, stream_id: &str, command_type: &str, data: Value) {
        self.host
            .execute(CommandEnvelope::new(
                stream(stream_id),
                command_type,
                data,
                "user:ann",
            ))
            .await
            .unwrap_or_else(|error| panic!("{command_type} on {stream_id}: {error}"));
    }

    /// An approved one-step plan (`act`), its step issued as the
    /// actuation `actuation-<plan>.0` publishing `payload` to `topic`.
    async fn approved_plan(&self, plan: &str, topic: &str, payload: Value, dry_run: bool) {
        self.execute(
            &format!("plan-{plan}"),
            "ProposePlan",
            json!({
                "request": "turn off the living room lights",
                "intent": "home.set_device",
                "confidence": 0.93,
                "steps": [{
                    "stream_id": format!("actuation-{plan}.0"),
                    "command_type": "RequestActuation",
                    "data": {},
                    "executor": { "by": "actuator", "integration": "mqtt" },
                    "summary": "Turn off the living room lights",
                }],
                "model": { "name": "steward-intent", "version": "1", "location": { "ran": "local" } },
                "approval": { "autonomy": "act" },
            }),
        )
        .await;
        self.execute(
            &format!("plan-{plan}"),
            "RecordStepIssued",
            json!({ "step": 0, "command_id": format!("actuation-{plan}.0") }),
        )
        .await;
        self.execute(
            &format!("actuation-{plan}.0"),
            "RequestActuation",
            json!({
                "integration": "mqtt",
                "action": { "topic": topic, "payload": payload },
                "plan_step": { "plan_id": plan, "step": 0 },
                "dry_run": dry_run,
                "max_attempts": 3,
            }),
        )
        .await;
    }

    async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            task.await.expect("joins");
        }
    }
}

fn unique_topic() -> String {
    format!("steward-test/{}/set", uuid::Uuid::now_v7().simple())
}

enum Backend {
    Sqlite(steward_testkit::SqliteDir),
    Postgres(Box<steward_testkit::PgDatabase>),
}

impl Backend {
    async fn store(&self) -> Store {
        let master = MasterKey::generate().expect("key");
        match self {
            Backend::Sqlite(dir) => dir.store(master).await,
            Backend::Postgres(database) => database.store(master).await,
        }
    }
}

macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite(steward_testkit::SqliteDir::create())).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let database = steward_testkit::PgDatabase::create().await;
                    super::$name(super::Backend::Postgres(Box::new(database))).await;
                }
            )+
        }
    };
}

on_both_backends!(
    an_approved_step_is_published_once_and_completes_its_plan,
    a_broker_that_is_down_is_retried_until_the_circuit_opens_and_the_plan_fails,
    a_dry_run_records_what_would_be_sent_and_publishes_nothing,
    an_attempt_lost_when_the_actuator_stopped_is_recorded_and_made_again,
);

async fn an_approved_step_is_published_once_and_completes_its_plan(backend: Backend) {
    let mut fixture = Fixture::new(backend.store().await);
    let topic = unique_topic();
    let mut subscriber = Subscriber::on(1883, &topic).await;
    fixture.start_actuator(1883, ActuatorOptions::default());
    fixture.start_plan_steps();
    fixture
        .approved_plan("lights", &topic, json!({"state": "OFF"}), false)
        .await;

    assert_eq!(
        subscriber
            .next_payload(Duration::from_secs(10))
            .await
            .as_deref(),
        Some(r#"{"state":"OFF"}"#)
    );
    let actuation = wait_for(&fixture.store, "actuation-lights.0", "ActuationSucceeded").await;
    assert_eq!(
        types(&actuation),
        [
            "ActuationRequested",
            "ActuationStarted",
            "ActuationSucceeded"
        ]
    );
    assert_eq!(actuation[1].metadata.actor, "system:actuator");
    assert_eq!(
        actuation[2].metadata.causation_id,
        Some(actuation[0].event_id)
    );
    assert_eq!(
        actuation[2].metadata.correlation_id,
        actuation[0].metadata.correlation_id
    );
    let plan = wait_for(&fixture.store, "plan-lights", "PlanCompleted").await;
    assert_eq!(
        types(&plan),
        [
            "PlanProposed",
            "PlanApproved",
            "PlanStepIssued",
            "PlanStepSucceeded",
            "PlanCompleted"
        ]
    );
    assert_eq!(
        subscriber.next_payload(Duration::from_millis(500)).await,
        None,
        "published once"
    );
    fixture.stop().await;
}

async fn a_broker_that_is_down_is_retried_until_the_circuit_opens_and_the_plan_fails(
    backend: Backend,
) {
    let mut fixture = Fixture::new(backend.store().await);
    let nowhere = free_port();
    fixture.start_actuator(
        nowhere,
        ActuatorOptions {
            breaker_threshold: 2,
            breaker_open_for: chrono::Duration::minutes(10),
            ..ActuatorOptions::default()
        },
    );
    fixture.start_plan_steps();
    fixture
        .approved_plan(
            "heating",
            &unique_topic(),
            json!({"temperature": 19}),
            false,
        )
        .await;

    // The first attempt fails at once and waits 2 s (by the clock) to retry.
    let first = wait_for(&fixture.store, "actuation-heating.0", "ActuationFailed").await;
    let failed = first.last().expect("a failure");
    assert_eq!(failed.data["attempt"], 1);
    assert_eq!(
        failed.data["retry_at"],
        json!(t0() + chrono::Duration::seconds(2))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        count(
            &events(&fixture.store, "actuation-heating.0").await,
            "ActuationStarted"
        ),
        1
    );

    // The second fails too, which opens the circuit for 10 minutes.
    fixture.clock.advance(chrono::Duration::seconds(2));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(
        &events(&fixture.store, "actuation-heating.0").await,
        "ActuationFailed",
    ) < 2
    {
        assert!(tokio::time::Instant::now() < deadline, "no second failure");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Its retry falls due (4 s), but the circuit holds the third attempt.
    fixture.clock.advance(chrono::Duration::seconds(5));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count(
            &events(&fixture.store, "actuation-heating.0").await,
            "ActuationStarted"
        ),
        2,
        "no attempt while the circuit is open"
    );

    // When it closes, the last attempt is made, fails, and fails the plan.
    fixture.clock.advance(chrono::Duration::minutes(10));
    let plan = wait_for(&fixture.store, "plan-heating", "PlanFailed").await;
    let actuation = events(&fixture.store, "actuation-heating.0").await;
    assert_eq!(count(&actuation, "ActuationStarted"), 3);
    let last = actuation.last().expect("events");
    assert_eq!(last.event_type.as_str(), "ActuationFailed");
    assert_eq!(last.data["retry_at"], Value::Null, "failed for good");
    assert_eq!(count(&plan, "PlanStepFailed"), 1);
    fixture.stop().await;
}

async fn a_dry_run_records_what_would_be_sent_and_publishes_nothing(backend: Backend) {
    let mut fixture = Fixture::new(backend.store().await);
    let topic = unique_topic();
    let mut subscriber = Subscriber::on(1883, &topic).await;
    fixture.start_actuator(1883, ActuatorOptions::default());
    fixture.start_plan_steps();
    fixture
        .approved_plan("garage", &topic, json!("OPEN"), true)
        .await;

    let actuation = wait_for(&fixture.store, "actuation-garage.0", "ActuationSimulated").await;
    assert_eq!(
        types(&actuation),
        ["ActuationRequested", "ActuationSimulated"]
    );
    let would = actuation[1]
        .personal
        .as_ref()
        .and_then(steward_events::Personal::plain)
        .expect("what it would have sent");
    assert_eq!(
        would["would"],
        json!({"topic": topic, "payload": "OPEN", "qos": 1, "retain": false})
    );
    wait_for(&fixture.store, "plan-garage", "PlanCompleted").await;
    assert_eq!(
        subscriber.next_payload(Duration::from_millis(500)).await,
        None
    );
    fixture.stop().await;
}

async fn an_attempt_lost_when_the_actuator_stopped_is_recorded_and_made_again(backend: Backend) {
    let mut fixture = Fixture::new(backend.store().await);
    let topic = unique_topic();
    let mut subscriber = Subscriber::on(1883, &topic).await;
    fixture
        .approved_plan("blinds", &topic, json!({"position": 40}), false)
        .await;
    // An actuator started attempt 1 and died before it reported.
    fixture
        .execute("actuation-blinds.0", "StartAttempt", json!({}))
        .await;

    fixture.start_actuator(1883, ActuatorOptions::default());
    let lost = wait_for(&fixture.store, "actuation-blinds.0", "ActuationFailed").await;
    let failure = lost.last().expect("the lost attempt");
    assert_eq!(failure.data["attempt"], 1);
    fixture.clock.advance(chrono::Duration::seconds(2));
    let actuation = wait_for(&fixture.store, "actuation-blinds.0", "ActuationSucceeded").await;
    assert_eq!(
        types(&actuation),
        [
            "ActuationRequested",
            "ActuationStarted",
            "ActuationFailed",
            "ActuationStarted",
            "ActuationSucceeded"
        ]
    );
    assert_eq!(actuation[4].data["attempt"], 2);
    assert_eq!(
        subscriber
            .next_payload(Duration::from_secs(10))
            .await
            .as_deref(),
        Some(r#"{"position":40}"#)
    );
    fixture.stop().await;
}
