//! `steward export`: events as NDJSON with their personal parts opened, for
//! a person to take their own data elsewhere.
//!
//! Each line is one event in global order: its facts, its personal part in
//! plain JSON (or `null` with `"personal_erased": true` once one of its
//! subjects was erased), its metadata and when it was recorded.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;
use serde_json::Value;
use steward_events::{EventStore, Metadata, Personal, Position, RecordedEvent, SubjectId};
use uuid::Uuid;

use super::Failure;
use crate::open::Opened;

const PAGE: usize = 500;

/// `steward export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only events about this subject (repeat for several; any matches).
    /// Default: every event.
    #[arg(long)]
    subject: Vec<String>,
    /// Only events of this stream category (`message`, repeat for several).
    #[arg(long)]
    category: Vec<String>,
    /// Only events recorded at or after this instant (RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// Write to this file (made owner-only, never overwritten) instead of
    /// standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// One exported event.
#[derive(Debug, Serialize)]
struct ExportedEvent<'a> {
    position: String,
    event_id: Uuid,
    stream_id: &'a str,
    stream_version: u64,
    event_type: &'a str,
    schema_version: u16,
    recorded_at: DateTime<Utc>,
    data: &'a Value,
    personal: Option<&'a Value>,
    personal_erased: bool,
    metadata: &'a Metadata,
}

impl<'a> ExportedEvent<'a> {
    fn of(event: &'a RecordedEvent) -> Self {
        let (personal, personal_erased) = match &event.personal {
            Some(Personal::Plain(value)) => (Some(value), false),
            // The store opens every part it can; what it cannot is erased.
            Some(Personal::Erased | Personal::Sealed(_)) => (None, true),
            None => (None, false),
        };
        Self {
            position: event.global_position.to_string(),
            event_id: event.event_id,
            stream_id: event.stream_id.as_str(),
            stream_version: event.stream_version,
            event_type: event.event_type.as_str(),
            schema_version: event.schema_version,
            recorded_at: event.recorded_at,
            data: &event.data,
            personal,
            personal_erased,
            metadata: &event.metadata,
        }
    }
}

struct Filter {
    subjects: Vec<SubjectId>,
    categories: Vec<String>,
    from: Option<DateTime<Utc>>,
}

impl Filter {
    fn keeps(&self, event: &RecordedEvent) -> bool {
        (self.subjects.is_empty()
            || event
                .metadata
                .subjects
                .iter()
                .any(|s| self.subjects.contains(s)))
            && (self.categories.is_empty()
                || self
                    .categories
                    .iter()
                    .any(|c| c == event.stream_id.category()))
            && self.from.is_none_or(|from| event.recorded_at >= from)
    }
}

fn open_output(path: &PathBuf) -> Result<std::fs::File, Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(|error| {
        Failure::Input(format!(
            "--output {}: {error}{}",
            path.display(),
            if error.kind() == std::io::ErrorKind::AlreadyExists {
                " (export never overwrites a file)"
            } else {
                ""
            }
        ))
    })
}

/// Runs `steward export`.
pub(super) async fn run(args: ExportArgs, opened: &Opened) -> Result<(), Failure> {
    let filter = Filter {
        subjects: args
            .subject
            .into_iter()
            .map(SubjectId::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| Failure::Input(format!("--subject: {e}")))?,
        categories: args.category,
        from: args
            .from
            .as_deref()
            .map(|text| {
                DateTime::parse_from_rfc3339(text)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(|e| Failure::Input(format!("--from is not an RFC 3339 instant: {e}")))
            })
            .transpose()?,
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(open_output(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let store = &opened.store;
    let Some(head) = store.head().await? else {
        return Ok(());
    };
    let mut after = Position::ORIGIN;
    let mut exported = 0u64;
    while after < head {
        let page = store.read_all(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.global_position;
        for event in page.iter().filter(|e| e.global_position <= head) {
            if !filter.keeps(event) {
                continue;
            }
            let line = serde_json::to_string(&ExportedEvent::of(event))
                .map_err(|e| Failure::Other(e.into()))?;
            match writeln!(out, "{line}") {
                Ok(()) => exported += 1,
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(error) => return Err(Failure::Other(error.into())),
            }
        }
    }
    match out.flush() {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(error) => return Err(Failure::Other(error.into())),
    }
    if let Some(path) = &args.output {
        eprintln!("exported {exported} events to {}", path.display());
    }
    Ok(())
}
