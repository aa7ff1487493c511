//! `steward command`: one command envelope to one aggregate, without a
//! server. The same envelope the HTTP API, the planner and the sagas send.

use clap::Args;
use serde_json::Value;
use steward_actors::CommandEnvelope;
use steward_events::{ErrorClass, Personal, StreamId};
use steward_host::{HostError, Outcome};
use uuid::Uuid;

use super::Failure;
use crate::config::Config;
use crate::open::Opened;

/// `steward command <stream-id> <command-type> --data JSON`.
#[derive(Debug, Args)]
pub struct CommandArgs {
    /// The target aggregate's stream, `<category>-<id>` (e.g. `shoppinglist-home`).
    stream: String,
    /// The command type (e.g. `ListItem`); `schemas/commands/` lists them.
    command_type: String,
    /// The command's data, a JSON object.
    #[arg(long, default_value = "{}")]
    data: String,
    /// The command id; give the same one to make a retry idempotent.
    #[arg(long)]
    command_id: Option<String>,
    /// Who asks, as `<kind>:<id>`.
    #[arg(long, default_value = "user:cli")]
    actor: String,
    /// Correlation id (UUID); a new one by default.
    #[arg(long)]
    correlation_id: Option<String>,
    /// Causation id (UUID): the event or command that led to this one.
    #[arg(long)]
    causation_id: Option<String>,
    /// Print the outcome as one JSON object.
    #[arg(long)]
    json: bool,
}

fn uuid_arg(name: &str, value: Option<String>) -> Result<Option<Uuid>, Failure> {
    value
        .map(|v| {
            Uuid::parse_str(&v)
                .map_err(|e| Failure::Input(format!("--{name} `{v}` is not a UUID: {e}")))
        })
        .transpose()
}

/// Sends the command and prints its outcome.
pub(super) async fn run(args: CommandArgs, config: &Config, opened: Opened) -> Result<(), Failure> {
    let stream_id = StreamId::parse(&args.stream)
        .map_err(|e| Failure::Input(format!("stream `{}`: {e}", args.stream)))?;
    let data: Value = serde_json::from_str(&args.data)
        .map_err(|e| Failure::Input(format!("--data is not JSON: {e}")))?;
    if !data.is_object() {
        return Err(Failure::Input("--data must be a JSON object".into()));
    }
    let mut envelope = CommandEnvelope::new(stream_id, args.command_type, data, args.actor);
    if let Some(id) = args.command_id {
        envelope.command_id = id;
    }
    envelope.correlation_id = uuid_arg("correlation-id", args.correlation_id)?;
    envelope.causation_id = uuid_arg("causation-id", args.causation_id)?;

    let host = super::serve::start_host(config, &opened, 1, &prometheus::Registry::new())?;
    let outcome = host.execute(envelope).await.map_err(failure)?;
    if args.json {
        let json = serde_json::to_string(&outcome).map_err(|e| Failure::Other(e.into()))?;
        println!("{json}");
    } else {
        print_outcome(&outcome);
    }
    Ok(())
}

/// The failure a host error earns, with its exit code.
pub(super) fn failure(error: HostError) -> Failure {
    match (&error, error.class()) {
        (HostError::Rejected(rejection), _) => Failure::Rejected(format!(
            "rejected ({}): {}",
            rejection.rule, rejection.message
        )),
        (_, ErrorClass::InvalidInput) => Failure::Input(error.to_string()),
        (_, ErrorClass::Conflict) => Failure::Conflict(error.to_string()),
        (_, ErrorClass::Failure) => Failure::Other(error.into()),
    }
}

fn print_outcome(outcome: &Outcome) {
    if outcome.duplicate {
        println!(
            "command {} was already handled; its events:",
            outcome.command_id
        );
    } else if outcome.events.is_empty() {
        println!("nothing to do: {} already holds", outcome.stream_id);
    }
    for event in &outcome.events {
        let personal = match &event.personal {
            Some(Personal::Plain(value)) => format!(" personal={value}"),
            Some(Personal::Erased) => " personal=<erased>".to_owned(),
            Some(Personal::Sealed(_)) => " personal=<sealed>".to_owned(),
            None => String::new(),
        };
        println!(
            "{}@{} {} {}{personal}",
            outcome.stream_id, event.stream_version, event.event_type, event.data
        );
    }
}
