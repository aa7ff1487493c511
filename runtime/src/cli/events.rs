//! `steward events append|read|tail`.

use std::io::Write;

use clap::{Args, Subcommand};
use futures::StreamExt;
use serde_json::{Value, json};
use steward_events::{
    Direction, EventStore, EventType, ExpectedVersion, Metadata, NewEvent, Personal, Position,
    RecordedEvent, StreamId, SubjectId,
};
use uuid::Uuid;

use super::Failure;
use crate::open::Opened;

/// Event log commands.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Append one event to a stream.
    Append(Box<AppendArgs>),
    /// Print a stream's events.
    Read {
        /// The stream, `<category>-<id>`.
        stream: String,
        /// First version to read (with --backward: the highest).
        #[arg(long)]
        from: Option<u64>,
        /// Newest first.
        #[arg(long)]
        backward: bool,
        /// Most events to print.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// One JSON envelope per line.
        #[arg(long)]
        json: bool,
    },
    /// Follow the global log: events from a position on, then new ones live.
    Tail {
        /// First position to print (inclusive); default: only new events.
        #[arg(long)]
        from: Option<String>,
        /// One JSON envelope per line (NDJSON).
        #[arg(long)]
        json: bool,
    },
}

/// `steward events append`.
#[derive(Debug, Args)]
pub struct AppendArgs {
    /// The stream, `<category>-<id>`.
    stream: String,
    /// The event type (letters, digits and `_`).
    #[arg(long = "type")]
    event_type: String,
    /// The event's data, a JSON object.
    #[arg(long)]
    data: String,
    /// Personal data, a JSON object, sealed under the subjects' keys.
    #[arg(long, requires = "subject")]
    personal: Option<String>,
    /// A subject the personal data is about (repeat for several).
    #[arg(long)]
    subject: Vec<String>,
    /// `any`, `no-stream`, `stream-exists` or the stream's current version.
    #[arg(long, default_value = "any")]
    expected_version: String,
    /// Schema version of the data's shape.
    #[arg(long, default_value_t = 1)]
    schema_version: u16,
    /// Event id (UUID); give the same one to make a retry idempotent.
    #[arg(long)]
    event_id: Option<String>,
    /// Correlation id (UUID); a new one by default.
    #[arg(long)]
    correlation_id: Option<String>,
    /// Causation id (UUID).
    #[arg(long)]
    causation_id: Option<String>,
    /// The command this event answers.
    #[arg(long)]
    command_id: Option<String>,
    /// Who appends, as `<kind>:<id>`.
    #[arg(long, default_value = "user:cli")]
    actor: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn input(what: &str, error: impl std::fmt::Display) -> Failure {
    Failure::Input(format!("{what}: {error}"))
}

fn json_arg(flag: &str, text: &str) -> Result<Value, Failure> {
    serde_json::from_str(text).map_err(|e| input(&format!("{flag} is not valid JSON"), e))
}

fn uuid_arg(flag: &str, text: Option<&str>) -> Result<Option<Uuid>, Failure> {
    text.map(|t| Uuid::parse_str(t).map_err(|e| input(&format!("{flag} is not a UUID"), e)))
        .transpose()
}

fn stream_arg(text: &str) -> Result<StreamId, Failure> {
    StreamId::parse(text).map_err(|e| Failure::Input(e.to_string()))
}

impl AppendArgs {
    fn into_request(self) -> Result<(StreamId, ExpectedVersion, NewEvent, bool), Failure> {
        let stream = stream_arg(&self.stream)?;
        let event_type =
            EventType::parse(self.event_type).map_err(|e| Failure::Input(e.to_string()))?;
        let expected: ExpectedVersion = self
            .expected_version
            .parse()
            .map_err(|e| Failure::Input(format!("--expected-version: {e}")))?;
        let data = json_arg("--data", &self.data)?;
        let subjects = self
            .subject
            .into_iter()
            .map(SubjectId::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Failure::Input(e.to_string()))?;
        let metadata = Metadata {
            correlation_id: uuid_arg("--correlation-id", self.correlation_id.as_deref())?
                .unwrap_or_else(Uuid::now_v7),
            causation_id: uuid_arg("--causation-id", self.causation_id.as_deref())?,
            command_id: self.command_id,
            actor: self.actor,
            subjects: subjects.clone(),
        };
        let mut event = NewEvent::new(event_type, data)
            .with_schema_version(self.schema_version)
            .with_metadata(metadata);
        if let Some(personal) = self.personal {
            event = event.with_personal(json_arg("--personal", &personal)?, subjects);
        }
        if let Some(id) = uuid_arg("--event-id", self.event_id.as_deref())? {
            event = event.with_event_id(id);
        }
        Ok((stream, expected, event, self.json))
    }
}

/// Runs an events command.
pub(super) async fn run(command: EventsCommand, opened: &Opened) -> Result<(), Failure> {
    let store = &opened.store;
    match command {
        EventsCommand::Append(args) => {
            let (stream, expected, event, as_json) = (*args).into_request()?;
            let event_id = event.event_id;
            let appended = store.append(&stream, expected, vec![event]).await?;
            if as_json {
                print_line(&json!({
                    "stream_id": stream,
                    "event_id": event_id,
                    "stream_version": appended.last_version,
                    "global_position": appended.last_position,
                    "already_appended": appended.already_appended,
                }))
            } else {
                let verb = if appended.already_appended {
                    "was already appended"
                } else {
                    "appended"
                };
                print_text(&format!(
                    "{event_id} {verb} to {stream} at version {} (position {})",
                    appended.last_version, appended.last_position
                ))
            }
        }
        EventsCommand::Read {
            stream,
            from,
            backward,
            limit,
            json,
        } => {
            let stream = stream_arg(&stream)?;
            let (direction, from) = if backward {
                (Direction::Backward, from.unwrap_or(u64::MAX))
            } else {
                (Direction::Forward, from.unwrap_or(0))
            };
            for event in store.read_stream(&stream, from, direction, limit).await? {
                print_event(&event, json)?;
            }
            Ok(())
        }
        EventsCommand::Tail { from, json } => {
            let after = match from {
                Some(text) => {
                    let position: Position = text.parse().map_err(|e| input("--from", e))?;
                    position.predecessor()
                }
                None => store.head().await?.unwrap_or(Position::ORIGIN),
            };
            let mut events = store.subscribe_all(after);
            loop {
                tokio::select! {
                    next = events.next() => match next {
                        Some(Ok(event)) => print_event(&event, json)?,
                        Some(Err(error)) => tracing::warn!(%error, "tail: read failed; retrying"),
                        None => return Ok(()),
                    },
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                }
            }
        }
    }
}

fn print_event(event: &RecordedEvent, as_json: bool) -> Result<(), Failure> {
    if as_json {
        return print_line(event);
    }
    let personal = match &event.personal {
        None => String::new(),
        Some(Personal::Plain(value)) => format!(" personal={value}"),
        Some(Personal::Sealed(_)) => " personal=<sealed>".to_owned(),
        Some(Personal::Erased) => " personal=<erased>".to_owned(),
    };
    print_text(&format!(
        "{}\t{}@{}\t{} v{}\t{}\t{}{}",
        event.global_position,
        event.stream_id,
        event.stream_version,
        event.event_type,
        event.schema_version,
        event
            .recorded_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        event.data,
        personal,
    ))
}

fn print_line(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string(value).map_err(|e| Failure::Other(e.into()))?;
    print_text(&text)
}

/// Writes a line to standard output; a closed pipe (`| head`) ends quietly.
fn print_text(line: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(error) => Err(Failure::Other(error.into())),
    }
}
