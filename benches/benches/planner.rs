//! The planner and actuator benchmark: intent recognition latency and
//! throughput with the real models, and MQTT actuations per second against
//! the local Mosquitto, each beside its baseline in the same run.
//!
//! ```sh
//! source ops/dev/models.sh && steward_ensure_models
//! cargo bench -p steward-benches --bench planner
//! ```
//!
//! Baselines: for recognition, embedding the request alone (the part of
//! the work the classifier head adds to); for the actuator, a bare rumqttc
//! client publishing at QoS 1 and waiting for each PUBACK, one message at
//! a time, as the integration does.
//!
//! The requests are the planner's evaluation set (430 requests people
//! would type). `STEWARD_BENCH_SCALE` (default 1) scales the counts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use steward_actuator::Integration as _;
use steward_actuator::mqtt::{MqttConfig, MqttIntegration};
use steward_benches::{Row, percentile, print_table, thousands};
use steward_planner::IntentClassifier;
use steward_planner::evaluation::read_labelled;
use steward_projections::memory::{Embedder, EmbedderConfig};

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
    let (p50, p99) = (percentile(&recognised, 50.0), percentile(&recognised, 99.0));
    let (base_p50, base_p99) = (percentile(&embed_only, 50.0), percentile(&embed_only, 99.0));
    rows.push(Row {
        measure: format!(
            "one request's intent, p50 / p99 ({} requests)",
            recognised.len()
        ),
        steward: format!("{} / {}", ms(p50), ms(p99)),
        baseline: format!("embedding alone: {} / {}", ms(base_p50), ms(base_p99)),
        ratio: format!(
            "{:.2}× the embedding's p50",
            p50.as_secs_f64() / base_p50.as_secs_f64()
        ),
        target: format!("p50 < 15 ms: {}", met(p50 < Duration::from_millis(15))),
    });

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

    let runtime = tokio::runtime::Runtime::new()?;
    rows.extend(runtime.block_on(actuations(steward_benches::scaled(2_000, 100)))?);
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
