//! The actuator's worker over a real store (SQLite in a temporary
//! directory, and a PostgreSQL database of its own), publishing to real
//! Mosquitto brokers and writing to a real Radicale calendar, on a
//! `ManualClock` the tests move.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use serde_json::{Value, json};
use steward_actors::CommandEnvelope;
use steward_actors::saga::PlanSteps;
use steward_actuator::caldav::{CalDavConfig, CalDavIntegration};
use steward_actuator::mqtt::{MqttConfig, MqttIntegration};
use steward_actuator::{
    ActuatorOptions, ActuatorWorker, ExecutorOptions, Integration, PlanExecutor,
};
use steward_events::{Direction, EventStore, RecordedEvent, StreamId};
use steward_host::workers::SagaWorker;
use steward_host::{Host, HostOptions, ManualClock};
use steward_store_core::{MasterKey, Store};
use steward_testkit::{RADICALE_PASSWORD, RADICALE_USER, Radicale, free_port};
use support::{Subscriber, unique_topic};
use tokio_util::sync::CancellationToken;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .expect("valid")
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

/// Waits until `name` holds `at_least` events of type `event_type`.
async fn wait_for_count(store: &Store, name: &str, event_type: &str, at_least: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(&events(store, name).await, event_type) < at_least {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} holds fewer than {at_least} {event_type}"
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
        self.start_actuator_with(Arc::new(MqttIntegration::new(config)), options);
    }

    fn start_actuator_with(&mut self, integration: Arc<dyn Integration>, options: ActuatorOptions) {
        let worker =
            ActuatorWorker::new(self.host.clone(), self.store.clone(), options).with(integration);
        let stop = self.stop.clone();
        self.tasks.push(tokio::spawn(async move {
            worker.run(stop).await.expect("the actuator runs");
        }));
    }

    fn start_executor(&mut self, dry_run: bool) {
        let executor = PlanExecutor::new(
            self.host.clone(),
            self.store.clone(),
            ExecutorOptions { dry_run },
        );
        let stop = self.stop.clone();
        self.tasks.push(tokio::spawn(async move {
            executor.run(stop).await.expect("the executor runs");
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

    /// A plan proposed with `steps`, under `autonomy`.
    async fn propose(&self, plan: &str, steps: Value, autonomy: &str) {
        self.execute(
            &format!("plan-{plan}"),
            "ProposePlan",
            json!({
                "request": "turn off the living room lights",
                "intent": "home.set_device",
                "confidence": 0.93,
                "steps": steps,
                "model": { "name": "steward-intent", "version": "2", "location": { "ran": "local" } },
                "approval": {
                    "autonomy": autonomy,
                    "expires_at": t0() + chrono::Duration::hours(1),
                },
            }),
        )
        .await;
    }

    /// An approved (`act`) one-step plan publishing `payload` to `topic`.
    async fn approved_plan(&self, plan: &str, topic: &str, payload: Value) {
        self.propose(plan, json!([publish_step(topic, payload)]), "act")
            .await;
    }

    async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            task.await.expect("joins");
        }
    }
}

/// A plan step for the actuator: publish `payload` to `topic` over MQTT.
fn publish_step(topic: &str, payload: Value) -> Value {
    json!({
        "stream_id": "home-main",
        "command_type": "Publish",
        "data": { "topic": topic, "payload": payload },
        "executor": { "by": "actuator", "integration": "mqtt" },
        "summary": "Tell the device",
    })
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
    a_plan_runs_only_once_approved_and_its_steps_in_order,
    a_step_the_domain_refuses_fails_the_plan_and_later_steps_never_run,
    a_broker_that_is_down_is_retried_until_the_circuit_opens_and_the_plan_fails,
    a_dry_run_records_what_would_be_sent_and_publishes_nothing,
    an_action_no_integration_can_carry_out_fails_its_plan_without_an_attempt,
    an_attempt_lost_when_the_actuator_stopped_is_recorded_and_made_again,
    an_approved_calendar_step_writes_the_event_and_completes_its_plan,
);

async fn an_approved_step_is_published_once_and_completes_its_plan(backend: Backend) {
    let mut fixture = Fixture::new(backend.store().await);
    let topic = unique_topic();
    let mut subscriber = Subscriber::on(1883, &topic).await;
    fixture.start_executor(false);
    fixture.start_actuator(1883, ActuatorOptions::default());
    fixture.start_plan_steps();
    fixture
        .approved_plan("lights", &topic, json!({"state": "OFF"}))
        .await;

    assert_eq!(subscriber.expect_payload().await, r#"{"state":"OFF"}"#);
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
    fixture.start_executor(false);
    fixture.start_plan_steps();
    fixture
        .approved_plan("heating", &unique_topic(), json!({"temperature": 19}))
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
    wait_for_count(&fixture.store, "actuation-heating.0", "ActuationFailed", 2).await;
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

    // Each time it closes, one attempt probes the broker, fails and opens
    // it again, until the five attempts are spent and the plan fails.
    for attempt in 3..=5 {
        fixture.clock.advance(chrono::Duration::minutes(10));
        wait_for_count(
            &fixture.store,
            "actuation-heating.0",
            "ActuationFailed",
            attempt,
        )
        .await;
        assert_eq!(
            count(
                &events(&fixture.store, "actuation-heating.0").await,
                "ActuationStarted"
            ),
            attempt,
            "one attempt per time the circuit closes"
        );
    }
    let plan = wait_for(&fixture.store, "plan-heating", "PlanFailed").await;
    let actuation = events(&fixture.store, "actuation-heating.0").await;
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
    fixture.start_executor(true);
    fixture.start_actuator(1883, ActuatorOptions::default());
    fixture.start_plan_steps();
    fixture.approved_plan("garage", &topic, json!("OPEN")).await;

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
    let plan = wait_for(&fixture.store, "plan-garage", "PlanCompleted").await;
    let completed = plan.last().expect("the completion");
    assert_eq!(
        completed.data["simulated"], true,
        "a dry run's plan says so"
    );
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
    fixture.start_executor(false);
    fixture
        .approved_plan("blinds", &topic, json!({"position": 40}))
        .await;
    wait_for(&fixture.store, "actuation-blinds.0", "ActuationRequested").await;
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
    assert_eq!(subscriber.expect_payload().await, r#"{"position":40}"#);
    fixture.stop().await;
}

async fn a_plan_runs_only_once_approved_and_its_steps_in_order(backend: Backend) {
    let mut fixture = Fixture::new(backend.store().await);
    let topic = unique_topic();
    let mut subscriber = Subscriber::on(1883, &topic).await;
    fixture.start_executor(false);
    fixture.start_actuator(1883, ActuatorOptions::default());
    fixture.start_plan_steps();
    let list_milk = json!({
        "stream_id": "shoppinglist-home",
        "command_type": "ListItem",
        "data": { "item": "oat milk" },
        "executor": { "by": "domain" },
        "summary": "Put oat milk on the list",
    });
    fixture
        .propose(
            "evening",
            json!([list_milk, publish_step(&topic, json!({"state": "OFF"}))]),
            "ask",
        )
        .await;

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        events(&fixture.store, "shoppinglist-home").await.is_empty(),
        "not approved yet"
    );
    assert_eq!(
        subscriber.next_payload(Duration::from_millis(100)).await,
        None
    );

    fixture
        .execute(
            "plan-evening",
            "ApprovePlan",
            json!({ "user_id": "user-ann" }),
        )
        .await;
    let plan = wait_for(&fixture.store, "plan-evening", "PlanCompleted").await;
    assert_eq!(
        types(&plan),
        [
            "PlanProposed",
            "PlanApproved",
            "PlanStepIssued",
            "PlanStepSucceeded",
            "PlanStepIssued",
            "PlanStepSucceeded",
            "PlanCompleted"
        ]
    );
    assert_eq!(plan[2].data["command_id"], "plan:evening:0");
    assert_eq!(plan[4].data["command_id"], "actuation-evening.1");
    let list = events(&fixture.store, "shoppinglist-home").await;
    assert_eq!(types(&list), ["ItemListed"]);
    assert_eq!(
        list[0].metadata.causation_id,
        Some(plan[1].event_id),
        "caused by the approval"
    );
    assert_eq!(subscriber.expect_payload().await, r#"{"state":"OFF"}"#);
    // The actuation carried out exactly the approved step's data.
    let actuation = events(&fixture.store, "actuation-evening.1").await;
    let action = actuation[0]
        .personal
        .as_ref()
        .and_then(steward_events::Personal::plain)
        .expect("the action");
    assert_eq!(
        action["action"],
        json!({ "topic": topic, "payload": { "state": "OFF" } })
    );
    fixture.stop().await;
}

async fn a_step_the_domain_refuses_fails_the_plan_and_later_steps_never_run(backend: Backend) {
    let mut fixture = Fixture::new(backend.store().await);
    let topic = unique_topic();
    let mut subscriber = Subscriber::on(1883, &topic).await;
    fixture.start_executor(false);
    fixture.start_actuator(1883, ActuatorOptions::default());
    fixture.start_plan_steps();
    let check_off_bread = json!({
        "stream_id": "shoppinglist-home",
        "command_type": "CheckOff",
        "data": { "item": "bread" },
        "executor": { "by": "domain" },
        "summary": "Tick bread off",
    });
    fixture
        .propose(
            "bread",
            json!([check_off_bread, publish_step(&topic, json!("ON"))]),
            "act",
        )
        .await;
    let plan = wait_for(&fixture.store, "plan-bread", "PlanFailed").await;
    assert_eq!(
        types(&plan),
        [
            "PlanProposed",
            "PlanApproved",
            "PlanStepIssued",
            "PlanStepFailed",
            "PlanFailed"
        ]
    );
    let error = plan[3]
        .personal
        .as_ref()
        .and_then(steward_events::Personal::plain)
        .expect("the error");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("not_on_list")),
        "{error}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(events(&fixture.store, "actuation-bread.1").await.is_empty());
    assert_eq!(
        subscriber.next_payload(Duration::from_millis(100)).await,
        None
    );
    fixture.stop().await;
}

async fn an_action_no_integration_can_carry_out_fails_its_plan_without_an_attempt(
    backend: Backend,
) {
    let store = backend.store().await;
    for (dry_run, plan_id) in [(true, "wild-dry"), (false, "wild")] {
        let mut fixture = Fixture::new(store.clone());
        fixture.start_executor(dry_run);
        fixture.start_actuator(1883, ActuatorOptions::default());
        fixture.start_plan_steps();
        // A wildcard is no topic to publish to, dry run or not.
        fixture
            .approved_plan(plan_id, "home/+/set", json!("ON"))
            .await;
        let plan = wait_for(&fixture.store, &format!("plan-{plan_id}"), "PlanFailed").await;
        assert_eq!(count(&plan, "PlanStepFailed"), 1);
        let actuation = events(&fixture.store, &format!("actuation-{plan_id}.0")).await;
        assert_eq!(
            types(&actuation),
            ["ActuationRequested", "ActuationFailed"],
            "dry run {dry_run}"
        );
        assert_eq!(actuation[1].data["attempt"], 0);
        fixture.stop().await;
    }
}

async fn an_approved_calendar_step_writes_the_event_and_completes_its_plan(backend: Backend) {
    let server = Radicale::start(free_port());
    let collection = support::calendar_collection(&server).await;
    let http = reqwest::Client::new();
    let mut config = CalDavConfig::from_url(&collection).expect("a collection");
    config.credentials = Some((RADICALE_USER.to_owned(), RADICALE_PASSWORD.to_owned()));

    let mut fixture = Fixture::new(backend.store().await);
    fixture.start_executor(false);
    fixture.start_actuator_with(
        Arc::new(CalDavIntegration::new(config).expect("a client")),
        ActuatorOptions::default(),
    );
    fixture.start_plan_steps();
    let step = json!({
        "stream_id": "calendar-main",
        "command_type": "PutEvent",
        "data": {
            "action": "put_event",
            "uid": "dentist@steward.test",
            "summary": "Dentist",
            "start": "2026-03-05T09:00:00",
            "end": "2026-03-05T09:45:00",
            "time_zone": "Europe/Paris",
        },
        "executor": { "by": "actuator", "integration": "caldav" },
        "summary": "Put the dentist in the calendar",
    });
    fixture.propose("dentist", json!([step]), "act").await;

    let actuation = wait_for(&fixture.store, "actuation-dentist.0", "ActuationSucceeded").await;
    assert_eq!(
        types(&actuation),
        [
            "ActuationRequested",
            "ActuationStarted",
            "ActuationSucceeded"
        ]
    );
    wait_for(&fixture.store, "plan-dentist", "PlanCompleted").await;
    let stored = http
        .get(format!("{collection}dentist@steward.test.ics"))
        .basic_auth(RADICALE_USER, Some(RADICALE_PASSWORD))
        .send()
        .await
        .expect("GET answered");
    assert_eq!(stored.status(), 200);
    let text = stored.text().await.expect("a body");
    assert!(
        text.contains("DTSTART;TZID=Europe/Paris:20260305T090000"),
        "{text}"
    );
    fixture.stop().await;
}
