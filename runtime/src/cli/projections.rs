//! `steward projections`: the read models' status, rebuilds, retries and
//! replays as of a point of the log.

use std::sync::Arc;

use std::io::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use clap::Subcommand;
use serde_json::{Map, Value};
use steward_events::{EventStore as _, Position};
use steward_host::workers::run_once_under_lease;
use steward_projections::{
    AsOf, Projection, ProjectionRunner, ReadDb, Request, State, catalog, find, live_tables, replay,
    status, table_rows, tidy_replays,
};

use super::Failure;
use crate::config::Config;
use crate::open::Opened;
use crate::read_models::{lease_name, open_read_models, projections, runner_options};

/// What to do with the read models.
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Show each projection's state, position and lag.
    Status {
        /// One JSON object per projection instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Bring projections up to date with the log now, then exit (each under
    /// its lease: refused while `steward serve` runs it).
    Run {
        /// Only these projections (default: all).
        names: Vec<String>,
    },
    /// Print a projection's live rows as JSON lines (`{"table": …, …columns}`).
    Show {
        /// The projection.
        name: String,
        /// Only this table (its logical name).
        #[arg(long)]
        table: Option<String>,
    },
    /// Rebuild a projection from the beginning of the log beside its live
    /// tables, which keep serving until the swap. The process that runs it
    /// (`steward serve`, or the next `steward projections run`) does it.
    Rebuild {
        /// The projection.
        name: String,
    },
    /// Try again the event a failed projection stopped at.
    Retry {
        /// The projection.
        name: String,
    },
    /// Build a projection as of a position or instant into temporary tables,
    /// print their rows as JSON lines (`{"table": …, …columns}`), drop them.
    Replay {
        /// The projection.
        name: String,
        /// A global position (`42`, or `42:40` on KurrentDB) or an RFC 3339
        /// instant (`2026-11-30T18:00:00Z`).
        #[arg(long)]
        as_of: String,
        /// Only this table (its logical name).
        #[arg(long)]
        table: Option<String>,
    },
}

/// Runs a `steward projections` command.
pub(super) async fn run(
    command: ProjectionsCommand,
    config: &Config,
    opened: Opened,
) -> Result<(), Failure> {
    let db = open_read_models(config)
        .await
        .map_err(|e| Failure::Other(e.into()))?;
    let all = projections(config).map_err(|e| Failure::Input(e.to_string()))?;
    let named = |name: &str| find(&all, name).map_err(|e| Failure::Input(e.to_string()));
    match command {
        ProjectionsCommand::Status { json } => print_status(&db, &opened, &all, json).await,
        ProjectionsCommand::Run { names } => {
            let chosen = if names.is_empty() {
                all.clone()
            } else {
                names
                    .iter()
                    .map(|name| named(name))
                    .collect::<Result<_, _>>()?
            };
            catch_up(config, &db, &opened, chosen).await
        }
        ProjectionsCommand::Show { name, table } => {
            let projection = named(&name)?;
            check_table(projection.as_ref(), table.as_deref())?;
            let tables = live_tables(&db, projection.name())
                .await
                .map_err(|e| Failure::Input(e.to_string()))?;
            print_tables(&db, projection.as_ref(), &tables, table.as_deref()).await
        }
        ProjectionsCommand::Rebuild { name } => {
            let projection = named(&name)?;
            catalog::request(&db, projection.name(), Request::Rebuild)
                .await
                .map_err(|e| Failure::Other(e.into()))?;
            println!(
                "rebuild of {name} requested: `steward serve` (or `steward projections run {name}`) \
                 builds it beside the live tables and swaps when it has caught up"
            );
            Ok(())
        }
        ProjectionsCommand::Retry { name } => {
            let projection = named(&name)?;
            catalog::request(&db, projection.name(), Request::Retry)
                .await
                .map_err(|e| Failure::Other(e.into()))?;
            println!("retry of {name} requested");
            Ok(())
        }
        ProjectionsCommand::Replay { name, as_of, table } => {
            let projection = named(&name)?;
            let as_of = parse_as_of(&as_of)?;
            check_table(projection.as_ref(), table.as_deref())?;
            // Replays a killed `replay` left behind (with whatever personal
            // data they held) go first.
            tidy_replays(&db, &all, Utc::now() - TimeDelta::minutes(10))
                .await
                .map_err(|e| Failure::Other(e.into()))?;
            print_replay(&db, &opened, projection, as_of, table.as_deref()).await
        }
    }
}

/// Refuses a table the projection does not have, naming those it has.
fn check_table(projection: &dyn Projection, table: Option<&str>) -> Result<(), Failure> {
    match table {
        Some(table) if !projection.tables().contains(&table) => Err(Failure::Input(format!(
            "{} has no table {table:?} (it has: {})",
            projection.name(),
            projection.tables().join(", ")
        ))),
        _ => Ok(()),
    }
}

/// A position (`42`, `42:40`) or an RFC 3339 instant.
fn parse_as_of(text: &str) -> Result<AsOf, Failure> {
    if let Ok(position) = text.parse::<Position>() {
        return Ok(AsOf::Position(position));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|instant| AsOf::Time(instant.with_timezone(&Utc)))
        .map_err(|_| {
            Failure::Input(format!(
                "--as-of {text:?} is neither a position (42, 42:40) nor an RFC 3339 instant \
                 (2026-11-30T18:00:00Z)"
            ))
        })
}

async fn print_status(
    db: &ReadDb,
    opened: &Opened,
    all: &[Arc<dyn Projection>],
    json: bool,
) -> Result<(), Failure> {
    let statuses = status(db, &opened.store, all)
        .await
        .map_err(|e| Failure::Other(e.into()))?;
    if json {
        for status in &statuses {
            let line = serde_json::to_string(status).map_err(|e| Failure::Other(e.into()))?;
            println!("{line}");
        }
        return Ok(());
    }
    println!(
        "{:<14} {:<12} {:>10} {:>10} {:>9}  detail",
        "projection", "state", "position", "lag", "lag (s)"
    );
    for status in &statuses {
        let state = serde_json::to_value(status.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let detail = match (&status.failure, &status.rebuild) {
            (Some(failure), _) => format!(
                "failed at {} (event {}): {}",
                failure.position, failure.event_id, failure.message
            ),
            (None, Some(rebuild)) => format!(
                "rebuilding generation {} (v{}) at {}",
                rebuild.generation, rebuild.version, rebuild.position
            ),
            (None, None) if status.state == State::NotBuilt => "not built yet".to_owned(),
            (None, None) => format!("generation {}", status.generation.unwrap_or_default()),
        };
        println!(
            "{:<14} {:<12} {:>10} {:>10} {:>9.1}  {detail}",
            status.name,
            state,
            status.position.to_string(),
            status.lag_events,
            status.lag_seconds
        );
    }
    Ok(())
}

async fn catch_up(
    config: &Config,
    db: &ReadDb,
    opened: &Opened,
    chosen: Vec<Arc<dyn Projection>>,
) -> Result<(), Failure> {
    let mut failed = Vec::new();
    for projection in chosen {
        let name = projection.name();
        let runner = ProjectionRunner::new(
            db.clone(),
            Arc::new(opened.store.clone()),
            projection.clone(),
            runner_options(config),
        );
        let ran = run_once_under_lease(
            &opened.store,
            &lease_name(projection.as_ref()),
            &config.lease_options(),
            |lost| async move { runner.catch_up_until(&lost).await },
        )
        .await
        .map_err(|e| Failure::Other(e.into()))?;
        let generation = match ran {
            None => {
                return Err(Failure::Conflict(format!(
                    "{name} is being run by another process (`steward serve`?): leave it to that one"
                )));
            }
            Some(result) => result.map_err(|e| Failure::Other(e.into()))?,
        };
        match &generation.failure {
            Some(failure) => {
                println!(
                    "{name}: stopped at {} (event {}): {}",
                    failure.position, failure.event_id, failure.message
                );
                failed.push(name);
            }
            None => println!(
                "{name}: at {} ({} events applied, generation {})",
                generation.position, generation.events_applied, generation.generation
            ),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Other(anyhow::anyhow!(
            "stopped at an event it cannot apply: {}",
            failed.join(", ")
        )))
    }
}

async fn print_replay(
    db: &ReadDb,
    opened: &Opened,
    projection: Arc<dyn Projection>,
    as_of: AsOf,
    only: Option<&str>,
) -> Result<(), Failure> {
    let head = opened.store.head().await?;
    let replayed = replay(db, &opened.store, projection.clone(), as_of)
        .await
        .map_err(|e| Failure::Other(e.into()))?;
    eprintln!(
        "{} as of {}: {} (log head {})",
        projection.name(),
        match as_of {
            AsOf::Position(position) => position.to_string(),
            AsOf::Time(instant) => instant.to_rfc3339(),
        },
        replayed.reached().map_or_else(
            || "no events yet".to_owned(),
            |p| format!("through position {p}")
        ),
        head.map_or_else(|| "empty".to_owned(), |p| p.to_string()),
    );
    let printed = print_tables(db, projection.as_ref(), replayed.tables(), only).await;
    let dropped = replayed.discard().await;
    printed?;
    dropped.map_err(|e| Failure::Other(e.into()))
}

async fn print_tables(
    db: &ReadDb,
    projection: &dyn Projection,
    tables: &steward_projections::Tables,
    only: Option<&str>,
) -> Result<(), Failure> {
    for table in projection.tables() {
        if only.is_some_and(|only| only != *table) {
            continue;
        }
        let rows = table_rows(db, tables, table)
            .await
            .map_err(|e| Failure::Other(e.into()))?;
        let mut out = std::io::stdout().lock();
        for row in rows {
            let mut object = Map::new();
            object.insert("table".to_owned(), Value::from(*table));
            object.extend(row);
            // A closed pipe (`| head`) ends the output, not the process:
            // a replay's tables must still be dropped.
            writeln!(out, "{}", Value::Object(object))
                .map_err(|e| Failure::Other(anyhow::Error::from(e).context("writing rows")))?;
        }
    }
    Ok(())
}
