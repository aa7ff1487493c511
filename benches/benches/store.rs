//! The event store benchmark: PostgreSQL appends, `read_all` and
//! append-to-subscriber latency, each beside its baseline in the same run.
//!
//! ```sh
//! cargo bench -p steward-benches --bench store
//! ```
//!
//! Baselines, on the same server: a raw sqlx `INSERT` of the same rows into an
//! equivalent table with no checks (the ceiling for the store's own logic); a
//! raw `SELECT` of the same rows; and `postgres-es` (cqrs-es) doing the same
//! appends (its own crate, `benches/peer-postgres-es`, since it needs sqlx
//! 0.8). Each measurement is repeated in alternation with its baseline and the
//! median is reported.
//!
//! `STEWARD_BENCH_SCALE` (default 1) scales every event count;
//! `STEWARD_BENCH_READ_EVENTS` (default 1,000,000) sizes the `read_all` log;
//! `STEWARD_BENCH_PG_URL` names the server (default the local one).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use serde_json::{Value, json};
use sqlx::{PgPool, Row as _};
use steward_benches::{BenchDatabase, Row, median, percentile, print_table, thousands};
use steward_events::{
    EventStore, EventType, ExpectedVersion, Metadata, NewEvent, Position, StreamId, SubjectId,
};
use steward_store_core::{MasterKey, Store, StoreOptions};
use steward_store_postgres::{PostgresOptions, PostgresStore};
use uuid::Uuid;

const ROUNDS: usize = 3;
const WRITERS: usize = 8;
const STREAMS: usize = 1_000;

fn scaled(n: usize) -> usize {
    steward_benches::scaled(n, WRITERS * 100)
}

fn data(n: usize) -> Value {
    json!({ "n": n, "text": "pick up the dry cleaning before six", "list": "errands" })
}

fn metadata() -> Metadata {
    Metadata {
        actor: "user:bench".into(),
        ..Metadata::default()
    }
}

fn event(n: usize, personal: Option<&str>) -> NewEvent {
    let event =
        NewEvent::new(EventType::parse("Noted").expect("valid"), data(n)).with_metadata(metadata());
    match personal {
        None => event,
        Some(subject) => event.with_personal(
            json!({ "from": "Dana Quill <dana@example.org>", "body": "Can we move lunch to Thursday?" }),
            vec![SubjectId::parse(subject).expect("valid")],
        ),
    }
}

struct Bench {
    store: Store,
    master: MasterKey,
    url: String,
    raw: PgPool,
    peer_url: String,
}

const RAW_TABLE: &str = "CREATE TABLE raw_events (
    position bigserial PRIMARY KEY, event_id uuid NOT NULL, stream_id text NOT NULL,
    stream_version bigint NOT NULL, event_type text NOT NULL, schema_version integer NOT NULL,
    data jsonb NOT NULL, personal bytea, correlation_id uuid NOT NULL, causation_id uuid,
    command_id text, actor text NOT NULL, subjects text[] NOT NULL DEFAULT '{}',
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp())";

const RAW_INSERT: &str = "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, \
     schema_version, data, correlation_id, actor) VALUES ($1, $2, $3, 'Noted', 1, $4, $5, 'user:bench')";

const RAW_INSERT_BATCH: &str = "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, \
     schema_version, data, correlation_id, actor) \
     SELECT id, $2, v, 'Noted', 1, d, $4, 'user:bench' FROM unnest($1::uuid[], $3::bigint[], $5::jsonb[]) AS t(id, v, d)";

impl Bench {
    // --- one stream, single-event appends, one writer ---
    async fn steward_one_stream(&self, round: usize, n: usize) -> anyhow::Result<f64> {
        let stream = StreamId::parse(format!("one-{round}"))?;
        let started = Instant::now();
        for i in 0..n {
            let expected = if i == 0 {
                ExpectedVersion::NoStream
            } else {
                ExpectedVersion::Exact(i as u64 - 1)
            };
            self.store
                .append(&stream, expected, vec![event(i, None)])
                .await?;
        }
        Ok(n as f64 / started.elapsed().as_secs_f64())
    }

    async fn raw_one_stream(&self, round: usize, n: usize) -> anyhow::Result<f64> {
        let stream = format!("one-{round}");
        let started = Instant::now();
        for i in 0..n {
            sqlx::query(RAW_INSERT)
                .bind(Uuid::now_v7())
                .bind(&stream)
                .bind(i as i64)
                .bind(data(i))
                .bind(Uuid::now_v7())
                .execute(&self.raw)
                .await?;
        }
        Ok(n as f64 / started.elapsed().as_secs_f64())
    }

    // --- 1,000 streams, 8 concurrent writers ---
    async fn steward_streams(&self, round: usize, n: usize, personal: bool) -> anyhow::Result<f64> {
        let started = Instant::now();
        let mut writers = Vec::new();
        for writer in 0..WRITERS {
            let store = self.store.clone();
            writers.push(tokio::spawn(async move {
                let own = STREAMS / WRITERS;
                let mut versions = vec![None::<u64>; own];
                for i in 0..n / WRITERS {
                    let k = i % own;
                    let stream_no = writer + WRITERS * k;
                    let stream =
                        StreamId::parse(format!("many{round}{}-{stream_no}", u8::from(personal)))?;
                    let expected =
                        versions[k].map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
                    let subject = format!("person-{stream_no}");
                    let batch = vec![event(i, personal.then_some(subject.as_str()))];
                    let appended = store.append(&stream, expected, batch).await?;
                    versions[k] = Some(appended.last_version);
                }
                anyhow::Ok(())
            }));
        }
        for writer in writers {
            writer.await??;
        }
        Ok(n as f64 / started.elapsed().as_secs_f64())
    }

    async fn raw_streams(&self, round: usize, n: usize) -> anyhow::Result<f64> {
        let started = Instant::now();
        let mut writers = Vec::new();
        for writer in 0..WRITERS {
            let pool = self.raw.clone();
            writers.push(tokio::spawn(async move {
                let own = STREAMS / WRITERS;
                for i in 0..n / WRITERS {
                    let k = i % own;
                    sqlx::query(RAW_INSERT)
                        .bind(Uuid::now_v7())
                        .bind(format!("many{round}-{}", writer + WRITERS * k))
                        .bind((i / own) as i64)
                        .bind(data(i))
                        .bind(Uuid::now_v7())
                        .execute(&pool)
                        .await?;
                }
                anyhow::Ok(())
            }));
        }
        for writer in writers {
            writer.await??;
        }
        Ok(n as f64 / started.elapsed().as_secs_f64())
    }

    // --- batches of 100 ---
    async fn steward_batches(&self, round: usize, n: usize) -> anyhow::Result<f64> {
        let started = Instant::now();
        for b in 0..n / 100 {
            let stream = StreamId::parse(format!("batch{round}-{b}"))?;
            let batch = (0..100).map(|i| event(i, None)).collect();
            self.store
                .append(&stream, ExpectedVersion::NoStream, batch)
                .await?;
        }
        Ok((n / 100 * 100) as f64 / started.elapsed().as_secs_f64())
    }

    async fn raw_batches(&self, round: usize, n: usize) -> anyhow::Result<f64> {
        let started = Instant::now();
        for b in 0..n / 100 {
            let ids: Vec<Uuid> = (0..100).map(|_| Uuid::now_v7()).collect();
            let versions: Vec<i64> = (0..100).collect();
            let datas: Vec<Value> = (0..100).map(data).collect();
            sqlx::query(RAW_INSERT_BATCH)
                .bind(ids)
                .bind(format!("batch{round}-{b}"))
                .bind(versions)
                .bind(Uuid::now_v7())
                .bind(datas)
                .execute(&self.raw)
                .await?;
        }
        Ok((n / 100 * 100) as f64 / started.elapsed().as_secs_f64())
    }

    // --- the peer crate, in its own process ---
    fn peer(&self, scenario: &str, n: usize) -> anyhow::Result<f64> {
        let output = std::process::Command::new(peer_binary())
            .args([&self.peer_url, scenario, &n.to_string()])
            .output()
            .context("running peer-postgres-es")?;
        if !output.status.success() {
            bail!(
                "peer-postgres-es failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let value = text
            .trim()
            .strip_prefix("events_per_second=")
            .with_context(|| format!("unexpected peer output {text}"))?;
        Ok(value.parse()?)
    }
}

fn peer_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/peer-postgres-es"))
}

/// Under the workspace's target directory (never inside the clone's sources).
fn peer_target() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(
            || Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")).to_path_buf(),
            std::path::PathBuf::from,
        )
        .join("peer-postgres-es")
}

fn peer_binary() -> std::path::PathBuf {
    peer_target().join("release/peer-postgres-es")
}

fn build_peer() -> anyhow::Result<()> {
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(peer_dir().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", peer_target())
            .status()
            .context("building peer-postgres-es")?;
    if !status.success() {
        bail!("building peer-postgres-es failed");
    }
    Ok(())
}

fn appends_row(measure: &str, steward: f64, raw: f64, peer: f64, ahead_of_peer: bool) -> Row {
    let (raw_ratio, peer_ratio) = (steward / raw, steward / peer);
    let peer_ok = if ahead_of_peer {
        peer_ratio > 1.0
    } else {
        peer_ratio >= 1.0
    };
    let met = raw_ratio >= 0.7 && peer_ok;
    Row {
        measure: format!("appends/s, {measure}"),
        steward: thousands(steward),
        baseline: format!(
            "raw INSERT {} · postgres-es {}",
            thousands(raw),
            thousands(peer)
        ),
        ratio: format!("{raw_ratio:.2}× raw · {peer_ratio:.2}× peer"),
        target: format!(
            "≥ 0.7× raw, {} peer: {}",
            if ahead_of_peer { ">" } else { "≥" },
            if met { "met" } else { "NOT met" }
        ),
    }
}

async fn read_everything(store: &Store) -> anyhow::Result<(usize, f64)> {
    let started = Instant::now();
    let mut after = Position::ORIGIN;
    let mut count = 0;
    loop {
        let page = store.read_all(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.global_position;
        count += page.len();
    }
    Ok((count, count as f64 / started.elapsed().as_secs_f64()))
}

/// A raw `SELECT` of the same rows, decoded into plain Rust values.
async fn raw_read_everything(pool: &PgPool) -> anyhow::Result<(usize, f64)> {
    let started = Instant::now();
    let mut after = 0i64;
    let mut count = 0;
    loop {
        let rows = sqlx::query(
            "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, data, \
             personal, correlation_id, causation_id, command_id, actor, subjects, recorded_at \
             FROM events WHERE position > $1 ORDER BY position LIMIT 1000",
        )
        .bind(after)
        .fetch_all(pool)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("position")?;
        for row in &rows {
            let decoded: (i64, Uuid, String, i64, String, i32, Value, Option<Vec<u8>>) = (
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
                row.try_get(5)?,
                row.try_get(6)?,
                row.try_get(7)?,
            );
            let rest: (
                Uuid,
                Option<Uuid>,
                Option<String>,
                String,
                Vec<String>,
                sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc>,
            ) = (
                row.try_get(8)?,
                row.try_get(9)?,
                row.try_get(10)?,
                row.try_get(11)?,
                row.try_get(12)?,
                row.try_get(13)?,
            );
            std::hint::black_box((decoded, rest));
        }
        count += rows.len();
    }
    Ok((count, count as f64 / started.elapsed().as_secs_f64()))
}

async fn fill(store: &Store, total: usize) -> anyhow::Result<()> {
    let have = store.head().await?.map_or(0, |p| p.commit() as usize);
    let mut writers = Vec::new();
    let per_writer = total.saturating_sub(have) / 1000 / 4;
    for writer in 0..4 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for b in 0..per_writer {
                let stream = StreamId::parse(format!("fill{writer}-{b}"))?;
                let batch = (0..1000).map(|i| event(i, None)).collect();
                store
                    .append(&stream, ExpectedVersion::NoStream, batch)
                    .await?;
            }
            anyhow::Ok(())
        }));
    }
    for writer in writers {
        writer.await??;
    }
    Ok(())
}

/// Latency from just before `append` to delivery, for a subscriber in this
/// process (woken in process) and one on another connection pool (woken by
/// LISTEN/NOTIFY, as another process would be).
async fn subscriber_latency(
    bench: &Bench,
    events: usize,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let other_log = PostgresStore::connect(&bench.url, PostgresOptions::default()).await?;
    let other = Store::open(
        Arc::new(other_log.clone()),
        Arc::new(other_log),
        bench.master.clone(),
        StoreOptions::steward(),
    )
    .await?;
    let head = bench.store.head().await?.unwrap_or(Position::ORIGIN);
    let sent: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
    let collect = |store: &Store| {
        let mut subscription = store.subscribe_all(head);
        let sent = Arc::clone(&sent);
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(events);
            while latencies.len() < events {
                let event = subscription.next().await.context("subscription ended")??;
                let received = Instant::now();
                let started = sent
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .get(&event.event_id)
                    .copied();
                if let Some(started) = started {
                    latencies.push(received - started);
                }
            }
            latencies.sort();
            anyhow::Ok(latencies)
        })
    };
    let (here, there) = (collect(&bench.store), collect(&other));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stream = StreamId::parse("latency-1")?;
    let mut ticker = tokio::time::interval(Duration::from_millis(2));
    for i in 0..events {
        ticker.tick().await;
        let event = event(i, None);
        sent.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .insert(event.event_id, Instant::now());
        bench
            .store
            .append(&stream, ExpectedVersion::Any, vec![event])
            .await?;
    }
    let here = tokio::time::timeout(Duration::from_secs(60), here).await???;
    let there = tokio::time::timeout(Duration::from_secs(60), there).await???;
    Ok((here, there))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    build_peer()?;
    let database = BenchDatabase::create("store").await?;
    let peer_database = BenchDatabase::create("peer").await?;
    let url = database.url();
    let log = PostgresStore::connect(
        &url,
        PostgresOptions {
            max_connections: 16,
            ..PostgresOptions::default()
        },
    )
    .await?;
    let master = MasterKey::generate()?;
    let store = Store::open(
        Arc::new(log.clone()),
        Arc::new(log),
        master.clone(),
        StoreOptions::steward(),
    )
    .await?;
    let raw = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(&url)
        .await?;
    sqlx::query(RAW_TABLE).execute(&raw).await?;
    let bench = Bench {
        store,
        master,
        url,
        raw,
        peer_url: peer_database.url(),
    };

    let (one_n, many_n, batch_n) = (scaled(2_000), scaled(16_000), scaled(50_000));
    let mut results: HashMap<&str, Vec<f64>> = HashMap::new();
    for round in 0..ROUNDS {
        eprintln!("round {}/{ROUNDS}", round + 1);
        let mut push = |key, value: f64| {
            eprintln!("  {key}: {value:.0} events/s");
            results.entry(key).or_default().push(value);
        };
        push("one steward", bench.steward_one_stream(round, one_n).await?);
        push("one raw", bench.raw_one_stream(round, one_n).await?);
        push("one peer", bench.peer("one-stream", one_n)?);
        push(
            "many steward",
            bench.steward_streams(round, many_n, false).await?,
        );
        push("many raw", bench.raw_streams(round, many_n).await?);
        push("many peer", bench.peer("streams-8-writers", many_n)?);
        push(
            "many sealed",
            bench.steward_streams(round, many_n, true).await?,
        );
        push(
            "batch steward",
            bench.steward_batches(round, batch_n).await?,
        );
        push("batch raw", bench.raw_batches(round, batch_n).await?);
        push("batch peer", bench.peer("batches-100", batch_n)?);
    }
    let m = |key: &str| median(results.get(key).cloned().unwrap_or_default());
    let mut rows = vec![
        appends_row(
            "single events, one stream, 1 writer",
            m("one steward"),
            m("one raw"),
            m("one peer"),
            false,
        ),
        appends_row(
            "single events, 1,000 streams, 8 writers",
            m("many steward"),
            m("many raw"),
            m("many peer"),
            false,
        ),
        appends_row(
            "batches of 100",
            m("batch steward"),
            m("batch raw"),
            m("batch peer"),
            true,
        ),
    ];
    let sealed_ratio = m("many sealed") / m("many steward");
    rows.push(Row {
        measure: "appends/s with a sealed personal part (1,000 streams, 8 writers)".into(),
        steward: thousands(m("many sealed")),
        baseline: format!(
            "same without personal data {}",
            thousands(m("many steward"))
        ),
        ratio: format!(
            "{sealed_ratio:.2}× (cost {:.1}%)",
            (1.0 - sealed_ratio) * 100.0
        ),
        target: format!(
            "cost < 10%: {}",
            if sealed_ratio > 0.9 { "met" } else { "NOT met" }
        ),
    });

    let read_total: usize = std::env::var("STEWARD_BENCH_READ_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    eprintln!("filling the log to {read_total} events");
    fill(&bench.store, read_total).await?;
    let (mut steward_reads, mut raw_reads, mut counted) = (Vec::new(), Vec::new(), 0);
    for _ in 0..2 {
        let (count, rate) = read_everything(&bench.store).await?;
        steward_reads.push(rate);
        counted = count;
        raw_reads.push(raw_read_everything(&bench.raw).await?.1);
    }
    let (read_rate, raw_rate) = (median(steward_reads), median(raw_reads));
    rows.push(Row {
        measure: format!(
            "read_all events/s over {} events",
            thousands(counted as f64)
        ),
        steward: thousands(read_rate),
        baseline: format!("raw SELECT {}", thousands(raw_rate)),
        ratio: format!("{:.2}×", read_rate / raw_rate),
        target: format!(
            "≥ 0.5×: {}",
            if read_rate / raw_rate >= 0.5 {
                "met"
            } else {
                "NOT met"
            }
        ),
    });

    let (here, there) = subscriber_latency(&bench, 2_000).await?;
    for (name, latencies) in [
        ("same process", &here),
        ("another process (LISTEN/NOTIFY)", &there),
    ] {
        let (p50, p99) = (percentile(latencies, 50.0), percentile(latencies, 99.0));
        rows.push(Row {
            measure: format!("append-to-subscriber latency, {name}, 500 appends/s"),
            steward: format!(
                "p50 {:.2} ms · p99 {:.2} ms",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            ),
            baseline: "—".into(),
            ratio: "—".into(),
            target: format!(
                "p99 < 10 ms: {}",
                if p99 < Duration::from_millis(10) {
                    "met"
                } else {
                    "NOT met"
                }
            ),
        });
    }

    print_table(
        "Event store on PostgreSQL (medians of 3 alternating rounds)",
        &rows,
    );
    database.drop_now().await?;
    peer_database.drop_now().await?;
    Ok(())
}
