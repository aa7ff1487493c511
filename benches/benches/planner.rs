//! The planner and actuator benchmark: intent recognition latency and
//! throughput with the real models, planning (intent, slots, decision) and
//! proposing a plan to a real store, and MQTT actuations per second against
//! the local Mosquitto, each beside its baseline in the same run.
//!
//! ```sh
//! source ops/dev/models.sh && steward_ensure_models
//! cargo bench -p steward-benches --bench planner
//! ```
//!
//! Baselines: for recognition and planning, embedding the request alone
//! (the part of the work the heads and the decision add to); for proposing,
//! planning without the store; for the actuator, a bare rumqttc
//! client publishing at QoS 1 and waiting for each PUBACK, one message at
//! a time, as the integration does.
//!
//! The requests are the planner's evaluation set (430 requests people
//! would type). `STEWARD_BENCH_SCALE` (default 1) scales the counts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_actors::saga::PlanSteps;
use steward_actuator::Integration as _;
use steward_actuator::mqtt::{MqttConfig, MqttIntegration};
use steward_actuator::{ActuatorOptions, ActuatorWorker, ExecutorOptions, PlanExecutor};
use steward_benches::{Row, percentile, print_table, thousands};
use steward_events::EventStore;
use steward_events::domain::home::DeviceKind;
use steward_host::Host;
use steward_host::workers::SagaWorker;
use steward_planner::evaluation::read_labelled;
use steward_planner::{
    IntentClassifier, KnownDevice, KnownMessage, KnownScene, PlanRequest, Planner, PlannerSettings,
    PlanningContext, Recognizer, decide,
};
use steward_projections::memory::{Embedder, EmbedderConfig};
use steward_projections::read_models::home::Home;
use steward_projections::{ProjectionRunner, ReadDb, RunnerOptions};
use steward_store_core::MasterKey;
use steward_testkit::SqliteDir;
use tokio_util::sync::CancellationToken;

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn sorted(mut samples: Vec<Duration>) -> Vec<Duration> {
    samples.sort();
    samples
}

/// A latency row: `samples` (sorted) beside embedding alone (sorted),
/// against the planning target of p50 < 15 ms.
fn against_embedding(measure: String, samples: &[Duration], embedding: &[Duration]) -> Row {
    let (p50, p99) = (percentile(samples, 50.0), percentile(samples, 99.0));
    let (base_p50, base_p99) = (percentile(embedding, 50.0), percentile(embedding, 99.0));
    Row {
        measure,
        steward: format!("{} / {}", ms(p50), ms(p99)),
        baseline: format!("embedding alone: {} / {}", ms(base_p50), ms(base_p99)),
        ratio: format!(
            "{:.2}× the embedding's p50",
            p50.as_secs_f64() / base_p50.as_secs_f64()
        ),
        target: format!("p50 < 15 ms: {}", met(p50 < Duration::from_millis(15))),
    }
}

fn main() -> anyhow::Result<()> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime/planner/data/eval.jsonl");
    let requests: Vec<String> = read_labelled(&data)?
        .into_iter()
        .map(|request| request.text)
        .collect();
    let texts: Vec<&str> = requests.iter().map(String::as_str).collect();
    let embedder = Arc::new(Embedder::load(&EmbedderConfig::from_env()?)?);
    let classifier = IntentClassifier::load(Arc::clone(&embedder))?;
    let rounds = steward_benches::scaled(5, 1);
    let mut rows = Vec::new();

    // Warm both up: the first runs allocate and fault pages in.
    classifier.classify_many(&texts)?;

    let mut embed_only = Vec::new();
    let mut recognised = Vec::new();
    for _ in 0..rounds {
        for text in &texts {
            let started = Instant::now();
            embedder.embed_one(text)?;
            embed_only.push(started.elapsed());
            let started = Instant::now();
            classifier.classify(text)?;
            recognised.push(started.elapsed());
        }
    }
    let (embed_only, recognised) = (sorted(embed_only), sorted(recognised));
    rows.push(against_embedding(
        format!(
            "one request's intent, p50 / p99 ({} requests)",
            recognised.len()
        ),
        &recognised,
        &embed_only,
    ));

    let started = Instant::now();
    for _ in 0..rounds {
        classifier.classify_many(&texts)?;
    }
    let batch_rate = (rounds * texts.len()) as f64 / started.elapsed().as_secs_f64();
    let one_rate = recognised.len() as f64 / recognised.iter().sum::<Duration>().as_secs_f64();
    rows.push(Row {
        measure: "intents recognised per second, one thread".into(),
        steward: format!("batches of {}: {}/s", texts.len(), thousands(batch_rate)),
        baseline: format!("one at a time: {}/s", thousands(one_rate)),
        ratio: format!("{:.2}×", batch_rate / one_rate),
        target: "-".into(),
    });

    // Planning: what `POST /api/v1/requests` does before it writes.
    let recognizer = Recognizer::load(Arc::clone(&embedder))?;
    let context = home_context();
    let mut planned = Vec::new();
    let mut embedded = Vec::new();
    for _ in 0..rounds {
        for (i, text) in texts.iter().enumerate() {
            let started = Instant::now();
            embedder.embed_one(text)?;
            embedded.push(started.elapsed());
            let started = Instant::now();
            let recognition = recognizer.recognize(text)?;
            std::hint::black_box(decide(&format!("bench-{i}"), &recognition, &context));
            planned.push(started.elapsed());
        }
    }
    let (embedded, planned) = (sorted(embedded), sorted(planned));
    rows.push(against_embedding(
        format!(
            "planning one request: intent, slots, decision; p50 / p99 ({})",
            planned.len()
        ),
        &planned,
        &embedded,
    ));

    let runtime = tokio::runtime::Runtime::new()?;
    rows.extend(runtime.block_on(actuations(steward_benches::scaled(2_000, 100)))?);
    rows.extend(runtime.block_on(request_to_mqtt(
        Arc::new(recognizer),
        steward_benches::scaled(200, 20),
    ))?);
    print_table("Planner and actuator", &rows);
    Ok(())
}

/// MQTT actuations per second through the integration, and through a bare
/// client doing the same (QoS 1, one at a time, each acknowledged).
async fn actuations(count: usize) -> anyhow::Result<Vec<Row>> {
    let topic = format!("steward-bench/{}/set", uuid::Uuid::now_v7().simple());
    let mqtt = MqttIntegration::new(MqttConfig::new("127.0.0.1", 1883));
    let action = json!({"topic": topic, "payload": {"state": "ON"}});
    mqtt.execute(&action, "warm-up")
        .await
        .context("the local Mosquitto on 1883")?;
    let mut latencies = Vec::with_capacity(count);
    let started = Instant::now();
    for i in 0..count {
        let one = Instant::now();
        mqtt.execute(&action, &format!("bench-{i}")).await?;
        latencies.push(one.elapsed());
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();

    let id = format!("steward-bench-{}", uuid::Uuid::now_v7().simple());
    let (client, mut events) = AsyncClient::new(MqttOptions::new(id, "127.0.0.1", 1883), 8);
    let payload = br#"{"state":"ON"}"#.to_vec();
    let mut bare = Vec::with_capacity(count);
    let started = Instant::now();
    for _ in 0..=count {
        let one = Instant::now();
        client
            .publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone())
            .await?;
        loop {
            if let Event::Incoming(Packet::PubAck(_)) = events.poll().await? {
                break;
            }
        }
        bare.push(one.elapsed());
    }
    // The first one also connected.
    bare.remove(0);
    let bare_rate = count as f64 / (started.elapsed().as_secs_f64());
    let (latencies, bare) = (sorted(latencies), sorted(bare));
    Ok(vec![
        Row {
            measure: format!("MQTT actuations per second, QoS 1, one at a time ({count})"),
            steward: format!("{}/s", thousands(rate)),
            baseline: format!("bare rumqttc client: {}/s", thousands(bare_rate)),
            ratio: format!("{:.2}×", rate / bare_rate),
            target: "-".into(),
        },
        Row {
            measure: "one MQTT actuation until its PUBACK, p50 / p99".into(),
            steward: format!(
                "{} / {}",
                ms(percentile(&latencies, 50.0)),
                ms(percentile(&latencies, 99.0))
            ),
            baseline: format!(
                "bare client: {} / {}",
                ms(percentile(&bare, 50.0)),
                ms(percentile(&bare, 99.0))
            ),
            ratio: format!(
                "{:.2}× the bare p50",
                percentile(&latencies, 50.0).as_secs_f64() / percentile(&bare, 50.0).as_secs_f64()
            ),
            target: "-".into(),
        },
    ])
}

/// A home of 24 devices in 6 rooms and 4 scenes, as the home read model
/// would list it.
fn home_context() -> PlanningContext {
    let rooms = [
        "living room",
        "kitchen",
        "bedroom",
        "office",
        "hall",
        "garage",
    ];
    let kinds = [
        ("lamp", DeviceKind::Light),
        ("plug", DeviceKind::Plug),
        ("thermostat", DeviceKind::Thermostat),
        ("blind", DeviceKind::Blind),
    ];
    let devices = rooms
        .iter()
        .flat_map(|room| {
            kinds.iter().map(move |(name, kind)| KnownDevice {
                device_id: format!("{}_{name}", room.replace(' ', "_")),
                kind: *kind,
                room: (*room).to_owned(),
                attributes: vec!["power".to_owned()],
            })
        })
        .collect();
    let scenes = ["movie night", "good morning", "away", "dinner"]
        .iter()
        .map(|name| KnownScene {
            scene_id: name.replace(' ', "_"),
            name: (*name).to_owned(),
        })
        .collect();
    PlanningContext {
        now: Utc::now().with_timezone(&chrono_tz::Europe::Paris),
        household: "main".to_owned(),
        devices,
        scenes,
        mqtt_base_topic: "zigbee2mqtt".to_owned(),
        caldav: false,
        // A full page of the inbox, as the planner reads it for a reply.
        messages: (0..200)
            .map(|n| {
                let senders = [
                    "Dana Smith",
                    "Marcus Lee",
                    "the council",
                    "Amazon",
                    "my landlord",
                ];
                let sender = senders[n % senders.len()];
                KnownMessage {
                    message_id: format!("m{n}"),
                    from_address: Some(format!("{}@example.org", sender.replace(' ', "."))),
                    from_name: Some(sender.to_owned()),
                    subject: Some(format!("Subject {n}: the budget and the offer")),
                }
            })
            .collect(),
    }
}

/// From a request in plain language to its device command on the broker:
/// `Planner::plan` on the embedded store (SQLite), a policy that lets
/// `home.set_device` act, and the plan executor, the `plan_steps` saga and
/// the actuator following the log as `steward serve` runs them. Baseline: a
/// message published and received through the same broker.
async fn request_to_mqtt(recognizer: Arc<Recognizer>, count: usize) -> anyhow::Result<Vec<Row>> {
    let dir = SqliteDir::create();
    let store = dir.store(MasterKey::generate()?).await;
    let host = Host::builder(Arc::new(store.clone()))
        .steward_domains()
        .start()?;
    let db = ReadDb::connect(&format!(
        "sqlite://{}",
        dir.path().join("read-models.db").display()
    ))
    .await?;
    let base = format!("steward-bench/{}", uuid::Uuid::now_v7().simple());
    let command = |stream: &str, command_type: &str, data: serde_json::Value| {
        CommandEnvelope::new(
            stream.parse().expect("a stream id"),
            command_type,
            data,
            "user:bench",
        )
    };
    host.execute(command(
        "home-main",
        "RegisterDevice",
        json!({"device_id": "kitchen_lamp", "kind": "light", "room": "kitchen",
               "capabilities": [{"attribute": "power"}]}),
    ))
    .await?;
    host.execute(command(
        "policies-main",
        "SetRule",
        json!({"scope": "home.set_device", "autonomy": "act"}),
    ))
    .await?;
    let events: Arc<dyn EventStore> = Arc::new(store.clone());
    ProjectionRunner::new(db.clone(), events, Arc::new(Home), RunnerOptions::default())
        .catch_up()
        .await?;

    let stop = CancellationToken::new();
    let executor = PlanExecutor::new(host.clone(), store.clone(), ExecutorOptions::default());
    let saga = SagaWorker::new(Arc::new(PlanSteps), host.clone(), store.clone())?;
    let actuator =
        ActuatorWorker::new(host.clone(), store.clone(), ActuatorOptions::default()).with(
            Arc::new(MqttIntegration::new(MqttConfig::new("127.0.0.1", 1883))),
        );
    let workers = [
        tokio::spawn({
            let stop = stop.clone();
            async move { executor.run(stop).await }
        }),
        tokio::spawn({
            let stop = stop.clone();
            async move { saga.run(stop).await }
        }),
        tokio::spawn({
            let stop = stop.clone();
            async move { actuator.run(stop).await }
        }),
    ];

    let id = format!("steward-bench-{}", uuid::Uuid::now_v7().simple());
    let (subscriber, mut incoming) = AsyncClient::new(MqttOptions::new(id, "127.0.0.1", 1883), 64);
    subscriber
        .subscribe(format!("{base}/#"), QoS::AtLeastOnce)
        .await?;
    let (received, mut arrivals) = tokio::sync::mpsc::unbounded_channel();
    let listener = tokio::spawn(async move {
        while let Ok(event) = incoming.poll().await {
            let arrived = match event {
                Event::Incoming(Packet::SubAck(_)) => None,
                Event::Incoming(Packet::Publish(publish)) => Some(publish.topic),
                _ => continue,
            };
            if received.send((arrived, Instant::now())).is_err() {
                break;
            }
        }
    });
    // Subscribed before anything is published.
    arrivals.recv().await.context("the subscription")?;

    let planner = Planner::new(
        recognizer,
        host.clone(),
        db,
        PlannerSettings {
            mqtt_base_topic: base.clone(),
            ..PlannerSettings::default()
        },
    );
    let wait = Duration::from_secs(30);
    let mut end_to_end = Vec::with_capacity(count);
    for i in 0..=count {
        let text = if i % 2 == 0 {
            "turn off the kitchen lamp"
        } else {
            "switch the kitchen lamp on"
        };
        let started = Instant::now();
        let planned = planner
            .plan(PlanRequest {
                text: text.to_owned(),
                actor: "user:bench".to_owned(),
                plan_id: Some(format!("bench-{i}")),
                correlation_id: None,
                domains: None,
            })
            .await?;
        anyhow::ensure!(
            planned.proposal.is_some(),
            "\"{text}\" was not planned: {:?}",
            planned.decision
        );
        let (_, arrived) = tokio::time::timeout(wait, arrivals.recv())
            .await
            .context("the device command did not reach the broker")?
            .context("the subscriber stopped")?;
        end_to_end.push(arrived - started);
    }
    // The first one also warmed the workers up.
    end_to_end.remove(0);

    // The baseline: the broker's own round trip, publisher to subscriber.
    let id = format!("steward-bench-{}", uuid::Uuid::now_v7().simple());
    let (publisher, mut publishes) = AsyncClient::new(MqttOptions::new(id, "127.0.0.1", 1883), 8);
    tokio::spawn(async move { while publishes.poll().await.is_ok() {} });
    let mut round_trips = Vec::with_capacity(count);
    for _ in 0..=count {
        let started = Instant::now();
        publisher
            .publish(
                format!("{base}/baseline/set"),
                QoS::AtLeastOnce,
                false,
                br#"{"state":"ON"}"#.to_vec(),
            )
            .await?;
        let (_, arrived) = tokio::time::timeout(wait, arrivals.recv())
            .await
            .context("the baseline message did not arrive")?
            .context("the subscriber stopped")?;
        round_trips.push(arrived - started);
    }
    round_trips.remove(0);

    stop.cancel();
    for worker in workers {
        worker.await??;
    }
    listener.abort();
    let (end_to_end, round_trips) = (sorted(end_to_end), sorted(round_trips));
    Ok(vec![Row {
        measure: format!("request in plain language until its MQTT message, p50 / p99 ({count})"),
        steward: format!(
            "{} / {}",
            ms(percentile(&end_to_end, 50.0)),
            ms(percentile(&end_to_end, 99.0))
        ),
        baseline: format!(
            "broker round trip: {} / {}",
            ms(percentile(&round_trips, 50.0)),
            ms(percentile(&round_trips, 99.0))
        ),
        ratio: format!(
            "{:.1}× the round trip's p99",
            percentile(&end_to_end, 99.0).as_secs_f64()
                / percentile(&round_trips, 99.0).as_secs_f64()
        ),
        target: "-".into(),
    }])
}
