//! The HTTP load benchmark: timeline queries and command posts through
//! Steward's API on PostgreSQL, driven by `wrk` over loopback, beside a
//! trivial actix-web handler on the same machine in the same run (the
//! ceiling of what any handler here can answer).
//!
//! ```sh
//! apt-get install wrk        # Debian's package
//! cargo bench -p steward-benches --bench http
//! ```
//!
//! Each load runs `STEWARD_BENCH_HTTP_SECONDS` (default 10) with 2 threads
//! and 32 connections; the three loads alternate `STEWARD_BENCH_ROUNDS`
//! times (default 3) and the medians are reported, so that drift on a
//! shared machine hits all alike. `STEWARD_BENCH_SCALE` scales the log the
//! timeline is queried over (20,000 events at 1).

use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context as _;
use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_benches::{BenchDatabase, Row, median, postgres_store, print_table, thousands};
use steward_events::EventStore;
use steward_host::Host;
use steward_http::{ApiState, access_stream, new_token};
use steward_projections::read_models::steward_projections;
use steward_projections::{ProjectionRunner, ReadDb, RunnerOptions};
use steward_store_core::MasterKey;
use tokio_util::sync::CancellationToken;

const THREADS: usize = 2;
const CONNECTIONS: usize = 32;

/// What `wrk` measured.
#[derive(Debug, Clone, Copy)]
struct Load {
    requests_per_second: f64,
    p99_ms: f64,
    errors: u64,
}

/// Runs wrk against `url` (with `script` when given) and reads its report.
fn wrk(url: &str, seconds: u64, script: Option<&std::path::Path>) -> anyhow::Result<Load> {
    let mut command = Command::new("wrk");
    command.args([
        "-t",
        &THREADS.to_string(),
        "-c",
        &CONNECTIONS.to_string(),
        "-d",
        &format!("{seconds}s"),
        "--latency",
    ]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = command
        .arg(url)
        .output()
        .context("running wrk (install it: apt-get install wrk)")?;
    let report = String::from_utf8_lossy(&output.stdout).to_string();
    let requests_per_second = report
        .lines()
        .find_map(|line| line.trim().strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse().ok())
        .with_context(|| format!("wrk printed no Requests/sec:\n{report}"))?;
    let p99_ms = report
        .lines()
        .find_map(|line| line.trim().strip_prefix("99%"))
        .map(str::trim)
        .and_then(milliseconds)
        .with_context(|| format!("wrk printed no 99% latency:\n{report}"))?;
    let count_after = |label: &str| -> u64 {
        report
            .lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .map(|rest| {
                rest.split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0)
    };
    let errors = count_after("Non-2xx or 3xx responses:") + count_after("Socket errors:");
    Ok(Load {
        requests_per_second,
        p99_ms,
        errors,
    })
}

/// `1.23ms`, `850.00us`, `1.02s` in milliseconds.
fn milliseconds(value: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = value.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.trim().parse::<f64>().ok().map(|n| n * factor)
}

fn row(measure: &str, steward: &[Load], ceiling: &[Load], target_ratio: f64) -> Row {
    let rps = median(steward.iter().map(|l| l.requests_per_second).collect());
    let p99 = median(steward.iter().map(|l| l.p99_ms).collect());
    let errors: u64 = steward.iter().map(|l| l.errors).sum();
    let top = median(ceiling.iter().map(|l| l.requests_per_second).collect());
    let ratio = rps / top;
    let met = ratio >= target_ratio && p99 < 50.0 && errors == 0;
    Row {
        measure: measure.to_owned(),
        steward: format!(
            "{} req/s · p99 {p99:.1} ms · {errors} errors",
            thousands(rps)
        ),
        baseline: format!("trivial handler {} req/s", thousands(top)),
        ratio: format!("{ratio:.2}×"),
        target: format!(
            "≥ {target_ratio}×, p99 < 50 ms, 0 errors: {}",
            if met { "met" } else { "**NOT met**" }
        ),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("STEWARD_BENCH_HTTP_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rounds: usize = std::env::var("STEWARD_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let events = steward_benches::scaled(20_000, 1_000);

    let database = BenchDatabase::create("http").await?;
    let store = postgres_store(&database.url(), MasterKey::generate()?).await?;
    let host = Host::builder(Arc::new(store.clone()))
        .steward_domains()
        .start()?;
    let db = ReadDb::connect(&database.url()).await?;

    // A log to query: shopping lists of many households.
    for n in 0..events {
        host.execute(CommandEnvelope::new(
            format!("shoppinglist-h{}", n % 500).parse()?,
            "ListItem",
            json!({ "item": format!("item {n}") }),
            "user:bench",
        ))
        .await?;
    }
    let token = new_token()?;
    host.execute(CommandEnvelope::new(
        access_stream(),
        "CreateToken",
        json!({ "token_id": "bench", "name": "bench", "scopes": ["admin"], "sha256": token.sha256 }),
        "user:bench",
    ))
    .await?;
    let projections = steward_projections();
    let events_store: Arc<dyn EventStore> = Arc::new(store.clone());
    for projection in &projections {
        ProjectionRunner::new(
            db.clone(),
            Arc::clone(&events_store),
            Arc::clone(projection),
            RunnerOptions::default(),
        )
        .catch_up()
        .await?;
    }

    let state = ApiState::builder(Arc::new(store.clone()), host.clone(), db)
        .projections(projections)
        .build()?;
    let api = TcpListener::bind("127.0.0.1:0")?;
    let api_port = api.local_addr()?.port();
    let shutdown = CancellationToken::new();
    let served = tokio::spawn(steward_http::serve(api, state, 2, shutdown.clone()));

    // The ceiling: a handler that answers a constant, on the same runtime
    // and worker count.
    let trivial = TcpListener::bind("127.0.0.1:0")?;
    let trivial_port = trivial.local_addr()?.port();
    let ceiling = HttpServer::new(|| {
        App::new().route(
            "/",
            web::get().to(|| async { HttpResponse::Ok().json(json!({ "ok": true })) }),
        )
    })
    .workers(2)
    .disable_signals()
    .listen(trivial)?
    .run();
    let ceiling_handle = ceiling.handle();
    tokio::spawn(ceiling);

    let dir = tempfile::tempdir()?;
    let timeline_script = dir.path().join("timeline.lua");
    std::fs::write(
        &timeline_script,
        format!(
            "wrk.headers[\"Authorization\"] = \"Bearer {secret}\"\n\
             local n = 0\n\
             request = function()\n\
               n = n + 1\n\
               return wrk.format(\"GET\", \"/api/v1/events?category=shoppinglist&limit=50&stream=shoppinglist-h\" .. (n % 500))\n\
             end\n",
            secret = token.secret
        ),
    )?;
    let command_script = dir.path().join("commands.lua");
    std::fs::write(
        &command_script,
        format!(
            "wrk.method = \"POST\"\n\
             wrk.headers[\"Authorization\"] = \"Bearer {secret}\"\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n\
             local thread_id = 0\n\
             local counter = 0\n\
             setup = function(thread) thread_id = thread_id + 1; thread:set(\"id\", thread_id) end\n\
             request = function()\n\
               counter = counter + 1\n\
               local body = '{{\"stream_id\":\"shoppinglist-w' .. (id or 0) .. '-' .. (counter % 1000) .. \
             '\",\"command_type\":\"ListItem\",\"data\":{{\"item\":\"thing ' .. counter .. '\"}}}}'\n\
               return wrk.format(nil, \"/api/v1/commands\", nil, body)\n\
             end\n",
            secret = token.secret
        ),
    )?;

    let (mut timeline, mut commands, mut top) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        top.push(wrk(
            &format!("http://127.0.0.1:{trivial_port}/"),
            seconds,
            None,
        )?);
        timeline.push(wrk(
            &format!("http://127.0.0.1:{api_port}"),
            seconds,
            Some(&timeline_script),
        )?);
        commands.push(wrk(
            &format!("http://127.0.0.1:{api_port}"),
            seconds,
            Some(&command_script),
        )?);
    }
    print_table(
        &format!(
            "HTTP load on PostgreSQL ({} events in the log; wrk -t{THREADS} -c{CONNECTIONS}, {seconds} s × {rounds} rounds, medians)",
            thousands(events as f64)
        ),
        &[
            row(
                "timeline page (50, one stream's category)",
                &timeline,
                &top,
                0.3,
            ),
            row(
                "command posts (ListItem, new streams)",
                &commands,
                &top,
                0.1,
            ),
        ],
    );

    shutdown.cancel();
    ceiling_handle.stop(true).await;
    let _ = served.await;
    database.drop_now().await?;
    Ok(())
}
