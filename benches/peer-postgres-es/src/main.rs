//! Appends with `postgres-es` (cqrs-es), for comparison with Steward's store.
//!
//! `peer-postgres-es <database-url> <scenario> <events>` creates cqrs-es's
//! `events` table in that (fresh) database, appends `<events>` events the way
//! the scenario says and prints `events_per_second=<n>` on one line.
//! Scenarios: `one-stream` (single-event appends to one stream),
//! `streams-8-writers` (1,000 streams, 8 concurrent writers), `batches-100`.

use std::time::Instant;

use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use postgres_es::PostgresEventRepository;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Errand;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Noted;

impl DomainEvent for Noted {
    fn event_type(&self) -> String {
        "Noted".into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

#[derive(Debug)]
struct Never;

impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("never")
    }
}

impl std::error::Error for Never {}

impl Aggregate for Errand {
    const TYPE: &'static str = "errand";
    type Command = ();
    type Event = Noted;
    type Error = Never;
    type Services = ();

    async fn handle(&mut self, _: (), _: &(), _: &EventSink<Self>) -> Result<(), Never> {
        Ok(())
    }

    fn apply(&mut self, _: Noted) {}
}

fn event(stream: usize, sequence: usize, n: usize) -> SerializedEvent {
    SerializedEvent::new(
        format!("{stream}"),
        sequence,
        "errand".into(),
        "Noted".into(),
        "1".into(),
        json!({ "n": n, "text": "pick up the dry cleaning before six" }),
        json!({ "correlation_id": "019ab2f0-52a4-7c61-a1a2-5d3e8f0000aa", "actor": "user:bench" }),
    )
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS events (
    aggregate_type text NOT NULL, aggregate_id text NOT NULL,
    sequence bigint CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL,
    event_version text NOT NULL, payload json NOT NULL, metadata json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence))";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, scenario, events] = args.as_slice() else {
        return Err("usage: peer-postgres-es <database-url> <scenario> <events>".into());
    };
    let events: usize = events.parse()?;
    let pool = PgPoolOptions::new().max_connections(10).connect(url).await?;
    sqlx::query(SCHEMA).execute(&pool).await?;
    sqlx::query("TRUNCATE events").execute(&pool).await?;
    let repo = PostgresEventRepository::new(pool.clone());
    let started = Instant::now();
    match scenario.as_str() {
        "one-stream" => {
            for n in 0..events {
                repo.persist::<Errand>(&[event(0, n + 1, n)], None).await?;
            }
        }
        "batches-100" => {
            for batch in 0..events / 100 {
                let batch: Vec<_> = (0..100).map(|n| event(batch, n + 1, n)).collect();
                repo.persist::<Errand>(&batch, None).await?;
            }
        }
        "streams-8-writers" => {
            let mut writers = Vec::new();
            for writer in 0..8 {
                let repo = PostgresEventRepository::new(pool.clone());
                writers.push(tokio::spawn(async move {
                    for n in 0..events / 8 {
                        // Writer w owns streams w, w+8, …: 125 streams each.
                        let stream = writer + 8 * (n % 125);
                        let sequence = n / 125 + 1;
                        repo.persist::<Errand>(&[event(stream, sequence, n)], None)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    Ok::<(), String>(())
                }));
            }
            for writer in writers {
                writer.await??;
            }
        }
        other => return Err(format!("unknown scenario {other}").into()),
    }
    let seconds = started.elapsed().as_secs_f64();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool).await?;
    if stored as usize != events - events % 100 * usize::from(scenario == "batches-100") {
        return Err(format!("stored {stored} events, expected {events}").into());
    }
    println!("events_per_second={:.1}", events as f64 / seconds);
    Ok(())
}
