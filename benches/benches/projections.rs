//! The projections benchmark: rebuilding every read model from a large
//! realistic log, and the live lag under a steady stream of appends, on
//! PostgreSQL and SQLite, each beside its baseline in the same run.
//!
//! ```sh
//! cargo bench -p steward-benches --bench projections
//! ```
//!
//! The log is decided by the domains' own aggregates (messages, shopping
//! lists, pantries, devices, goals, calendars; see `workload`). Baselines:
//! for a rebuild, reading the same log with `read_all` and nothing else (the
//! ceiling for anything built from it); for the live lag, the time from an
//! append to its delivery by `subscribe_all`.
//!
//! `STEWARD_BENCH_SCALE` (default 1) scales the log (1,000,000 events at 1);
//! `STEWARD_BENCH_PG_URL` names the server; `STEWARD_BENCH_PROJECTIONS`
//! (comma-separated names) runs only those projections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt as _;
use steward_benches::workload::scenario;
use steward_benches::{BenchDatabase, Row, percentile, postgres_store, print_table, thousands};
use steward_events::{EventStore, ExpectedVersion, Position};
use steward_projections::read_models::steward_projections;
use steward_projections::{ProjectionRunner, ReadDb, RunnerOptions, SharedReads, catalog};
use steward_store_core::{MasterKey, Store};
use steward_testkit::SqliteDir;
use tokio_util::sync::CancellationToken;

const WRITERS: usize = 8;
/// Appends per second while measuring the live lag (about five events each).
const LIVE_APPENDS_PER_SECOND: u64 = 200;
const LIVE_SECONDS: u64 = 10;

/// The projections measured: all, or those `STEWARD_BENCH_PROJECTIONS` names.
fn chosen() -> Vec<Arc<dyn steward_projections::Projection>> {
    let only = std::env::var("STEWARD_BENCH_PROJECTIONS").unwrap_or_default();
    steward_projections()
        .into_iter()
        .filter(|p| only.is_empty() || only.split(',').any(|name| name.trim() == p.name()))
        .collect()
}

fn scaled(n: usize) -> usize {
    steward_benches::scaled(n, 1_000)
}

/// Fills the store with scenarios until it holds at least `events` events.
async fn fill(store: &Store, events: usize) -> anyhow::Result<usize> {
    let started = Instant::now();
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut appended = 0;
            let mut n = writer;
            while appended < events / WRITERS {
                let (stream, batch) = scenario(n)?;
                appended += batch.len();
                store
                    .append(&stream, ExpectedVersion::NoStream, batch)
                    .await?;
                n += WRITERS;
            }
            anyhow::Ok(appended)
        }));
    }
    let mut total = 0;
    for writer in writers {
        total += writer.await??;
    }
    eprintln!(
        "  {} events appended in {:.0} s",
        thousands(total as f64),
        started.elapsed().as_secs_f64()
    );
    Ok(total)
}

/// Events per second read by `read_all` alone.
async fn read_everything(store: &Store) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut after = Position::ORIGIN;
    let mut read = 0usize;
    loop {
        let page = store.read_all(after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.global_position;
        read += page.len();
    }
    Ok(read as f64 / started.elapsed().as_secs_f64())
}

/// Events per second to build every read model from the beginning, the
/// projections running side by side as `serve` runs them.
async fn rebuild_all(store: &Store, db: &ReadDb, events: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let shared: Arc<dyn EventStore> = Arc::new(SharedReads::new(Arc::new(store.clone())));
    let mut runners = Vec::new();
    for projection in chosen() {
        let name = projection.name();
        let runner = ProjectionRunner::new(
            db.clone(),
            Arc::clone(&shared),
            projection,
            RunnerOptions::default(),
        );
        runners.push(tokio::spawn(async move {
            let generation = runner.catch_up().await;
            (name, started.elapsed(), generation)
        }));
    }
    for runner in runners {
        let (name, took, generation) = runner.await?;
        let generation = generation?;
        anyhow::ensure!(generation.failure.is_none(), "{:?}", generation.failure);
        eprintln!("  {name}: caught up after {:.1} s", took.as_secs_f64());
    }
    Ok(events as f64 / started.elapsed().as_secs_f64())
}

/// Lag from append to the timeline's checkpoint passing the event, while
/// appends arrive steadily; and from append to `subscribe_all` delivery.
async fn live_lag(store: &Store, db: &ReadDb) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let stop = CancellationToken::new();
    let mut running = Vec::new();
    for projection in chosen() {
        let runner = ProjectionRunner::new(
            db.clone(),
            Arc::new(store.clone()),
            projection,
            RunnerOptions::default(),
        );
        let stop = stop.clone();
        running.push(tokio::spawn(async move { runner.run(stop).await }));
    }
    let head = store.head().await?.unwrap_or(Position::ORIGIN);
    // Subscriber baseline.
    let mut subscription = store.subscribe_all(head);
    let delivered = tokio::spawn(async move {
        let mut lags = Vec::new();
        while let Some(Ok(event)) = subscription.next().await {
            let lag = (Utc::now() - event.recorded_at)
                .to_std()
                .unwrap_or_default();
            lags.push((event.global_position, lag));
            if lags.len() >= (LIVE_APPENDS_PER_SECOND * LIVE_SECONDS) as usize * 4 {
                break;
            }
        }
        lags
    });
    // Appender: steady pace, recording each append's last position.
    let appender = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut appended = Vec::new();
            let mut tick =
                tokio::time::interval(Duration::from_micros(1_000_000 / LIVE_APPENDS_PER_SECOND));
            for n in 0..(LIVE_APPENDS_PER_SECOND * LIVE_SECONDS) as usize {
                tick.tick().await;
                let (stream, batch) = scenario(10_000_000 + n)?;
                let result = store
                    .append(&stream, ExpectedVersion::NoStream, batch)
                    .await?;
                appended.push((result.last_position, Instant::now()));
            }
            anyhow::Ok(appended)
        })
    };
    // Watch the timeline's checkpoint.
    let mut seen: Vec<(Position, Instant)> = Vec::new();
    while !appender.is_finished() {
        note_checkpoint(db, &mut seen).await?;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let appended = appender.await??;
    let last = appended.last().map(|(p, _)| *p).unwrap_or(head);
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.last().is_none_or(|(p, _)| *p < last) && Instant::now() < deadline {
        note_checkpoint(db, &mut seen).await?;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    stop.cancel();
    for runner in running {
        runner.await??;
    }
    let mut lags: Vec<Duration> = appended
        .iter()
        .filter_map(|(position, at)| {
            seen.iter()
                .find(|(p, _)| p >= position)
                .map(|(_, when)| when.saturating_duration_since(*at))
        })
        .collect();
    lags.sort();
    delivered.abort();
    let mut subscriber: Vec<Duration> = delivered
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(_, lag)| lag)
        .collect();
    subscriber.sort();
    Ok((lags, subscriber))
}

/// Records when the timeline's checkpoint is first seen at each position.
async fn note_checkpoint(db: &ReadDb, seen: &mut Vec<(Position, Instant)>) -> anyhow::Result<()> {
    if let Some(live) = catalog::live(db, "timeline").await?
        && seen.last().is_none_or(|(p, _)| *p < live.position)
    {
        seen.push((live.position, Instant::now()));
    }
    Ok(())
}

async fn backend(
    name: &str,
    store: &Store,
    db: &ReadDb,
    events: usize,
    rebuild_target: &str,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    eprintln!("{name}: filling the log");
    let events = fill(store, events).await?;
    eprintln!("{name}: reading it all (baseline)");
    let read = read_everything(store).await?;
    eprintln!("{name}: rebuilding every read model");
    let rebuilt = rebuild_all(store, db, events).await?;
    rows.push(Row {
        measure: format!(
            "{name}: rebuild {} read models from {} events (events/s)",
            chosen().len(),
            thousands(events as f64)
        ),
        steward: thousands(rebuilt),
        baseline: format!("read_all alone {}", thousands(read)),
        ratio: format!("{:.2}×", rebuilt / read),
        target: rebuild_target.to_owned(),
    });
    eprintln!("{name}: live lag");
    let (lags, subscriber) = live_lag(store, db).await?;
    rows.push(Row {
        measure: format!(
            "{name}: live lag, append → timeline checkpoint, ~{} events/s",
            LIVE_APPENDS_PER_SECOND * 5
        ),
        steward: format!(
            "p50 {:.1} ms · p99 {:.1} ms",
            ms(percentile(&lags, 0.50)),
            ms(percentile(&lags, 0.99))
        ),
        baseline: format!(
            "subscribe_all p50 {:.1} ms · p99 {:.1} ms",
            ms(percentile(&subscriber, 0.50)),
            ms(percentile(&subscriber, 0.99))
        ),
        ratio: format!(
            "{:.1}× at p99",
            ms(percentile(&lags, 0.99)) / ms(percentile(&subscriber, 0.99)).max(0.001)
        ),
        target: "p99 < 50 ms".to_owned(),
    });
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events = scaled(1_000_000);
    let mut rows = Vec::new();

    let database = BenchDatabase::create("projections").await?;
    let store = postgres_store(&database.url(), MasterKey::generate()?).await?;
    let db = ReadDb::connect(&database.url()).await?;
    backend("PostgreSQL", &store, &db, events, "≥ 50,000/s", &mut rows).await?;
    drop((store, db));
    database.drop_now().await?;

    let dir = SqliteDir::create();
    let store = dir.store(MasterKey::generate()?).await;
    let url = format!("sqlite://{}", dir.path().join("read-models.db").display());
    let db = ReadDb::connect(&url).await?;
    backend("SQLite", &store, &db, events, "—", &mut rows).await?;

    print_table("Projections", &rows);
    Ok(())
}
