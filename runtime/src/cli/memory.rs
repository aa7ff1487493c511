//! `steward memory search`: the vector memory searched by meaning, from the
//! index persisted under `data_dir/memory-index/`, brought up to date with
//! the memory read model first and saved again after.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use steward_events::Position;
use steward_projections::ProjectionError;
use steward_projections::memory::MEMORY_PROJECTION;
use steward_projections::memory::{MemoryHit, MemoryIndex, MemoryQuery, SearchError};

use super::Failure;
use crate::config::Config;
use crate::read_models::{load_embedder, open_read_models};

/// What to do with the vector memory.
#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Find the memories nearest in meaning to TEXT, with their sources.
    Search {
        /// What to look for, in words.
        text: String,
        /// At most this many memories.
        #[arg(long, default_value_t = 5)]
        k: usize,
        /// Only memories of this domain (inbox, calendar, appointments, goals,
        /// maintenance, groceries, travel).
        #[arg(long)]
        domain: Option<String>,
        /// Only memories recorded at or after this RFC 3339 instant.
        #[arg(long)]
        from: Option<String>,
        /// Only memories recorded before this RFC 3339 instant.
        #[arg(long)]
        until: Option<String>,
        /// Only memories of events at or before this global position
        /// (`42`, or `42:40` on KurrentDB): what was known then.
        #[arg(long)]
        as_of: Option<String>,
        /// One JSON object per memory instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `steward memory` command.
pub(super) async fn run(command: MemoryCommand, config: &Config) -> Result<(), Failure> {
    match command {
        MemoryCommand::Search {
            text,
            k,
            domain,
            from,
            until,
            as_of,
            json,
        } => {
            let query = MemoryQuery {
                text,
                k,
                domain,
                from: from.as_deref().map(|t| instant("from", t)).transpose()?,
                until: until.as_deref().map(|t| instant("until", t)).transpose()?,
                as_of: as_of
                    .as_deref()
                    .map(|p| {
                        p.parse::<Position>()
                            .map_err(|e| Failure::Input(format!("--as-of: {e}")))
                    })
                    .transpose()?,
            };
            let hits = search(config, &query).await?;
            print_hits(&hits, json)
        }
    }
}

/// Refreshes the persisted index from the read model, searches, saves it.
async fn search(config: &Config, query: &MemoryQuery) -> Result<Vec<MemoryHit>, Failure> {
    if !config.memory {
        return Err(Failure::Input(
            "the vector memory is off (`memory = false` in the configuration)".to_owned(),
        ));
    }
    let embedder = load_embedder(config)
        .map_err(|e| Failure::Input(e.to_string()))?
        .ok_or_else(|| Failure::Input("the vector memory is off".to_owned()))?;
    let db = open_read_models(config)
        .await
        .map_err(|e| Failure::Other(e.into()))?;
    let index = MemoryIndex::new(db, Arc::clone(&embedder), Some(config.memory_index_dir()));
    index.refresh().await.map_err(search_failure)?;
    let hits = index.search(query).await.map_err(search_failure)?;
    index.persist().map_err(search_failure)?;
    Ok(hits)
}

fn search_failure(error: SearchError) -> Failure {
    match error {
        SearchError::Projection(ProjectionError::NotBuilt { .. }) => Failure::Input(format!(
            "the memory is not built yet: run `steward projections run {MEMORY_PROJECTION}` \
             (or `steward serve`) first"
        )),
        other => Failure::Other(other.into()),
    }
}

fn instant(flag: &str, text: &str) -> Result<DateTime<Utc>, Failure> {
    DateTime::parse_from_rfc3339(text)
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|e| Failure::Input(format!("--{flag} `{text}` is not an RFC 3339 instant: {e}")))
}

fn print_hits(hits: &[MemoryHit], json: bool) -> Result<(), Failure> {
    if json {
        for hit in hits {
            let line = serde_json::to_string(hit).map_err(|e| Failure::Other(e.into()))?;
            println!("{line}");
        }
        return Ok(());
    }
    if hits.is_empty() {
        println!("no memories found");
        return Ok(());
    }
    println!(
        "{:<6} {:<10} {:<12} {:<24} {:<20} TEXT",
        "SCORE", "POSITION", "DOMAIN", "STREAM", "RECORDED"
    );
    for hit in hits {
        println!(
            "{:<6.3} {:<10} {:<12} {:<24} {:<20} {}",
            hit.score,
            hit.position.to_string(),
            hit.domain,
            hit.stream_id,
            hit.recorded_at.format("%Y-%m-%d %H:%M:%S"),
            one_line(&hit.text, 80)
        );
    }
    Ok(())
}

/// `text` on one line, cut to `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        flat
    }
}
