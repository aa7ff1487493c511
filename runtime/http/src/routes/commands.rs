//! `POST /api/v1/commands`: one command envelope to one aggregate.

use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_actors::CommandEnvelope;
use steward_actors::catalog;
use steward_events::domain::access::Scope;
use steward_events::{Personal, StreamId};
use steward_host::{Outcome, OutcomeEvent};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::extract::JsonBody;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

/// A command, as the actors issue's `CommandEnvelope` without `actor`: the
/// API records the caller's token as the actor.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// Chosen by the caller; sending the same id again returns the first
    /// result and changes nothing. A new one when absent.
    pub command_id: Option<String>,
    /// The target aggregate's stream, `<category>-<id>`.
    pub stream_id: String,
    /// The command type (`ListItem`); `schemas/commands/` lists them.
    pub command_type: String,
    /// The command's fields.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub data: Value,
    /// Groups everything this request leads to; a new one when absent.
    pub correlation_id: Option<Uuid>,
    /// What caused this command, if anything.
    pub causation_id: Option<Uuid>,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// What a command led to.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandOutcome {
    /// The aggregate's stream.
    pub stream_id: String,
    /// The command's id.
    pub command_id: String,
    /// The correlation id its events carry.
    pub correlation_id: Uuid,
    /// True when the command had been handled before: these are the events
    /// it produced then, and nothing new was appended.
    pub duplicate: bool,
    /// The stream's version after the command, if it has events.
    pub version: Option<u64>,
    /// The events it produced, in stream order; empty when it changed
    /// nothing.
    pub events: Vec<ProducedEvent>,
}

/// One event a command produced.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProducedEvent {
    /// Its id.
    pub event_id: Uuid,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its type.
    pub event_type: String,
    /// Its data.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Its personal part, when it has one that was not erased.
    #[schema(value_type = Option<Object>)]
    pub personal: Option<Value>,
}

impl From<OutcomeEvent> for ProducedEvent {
    fn from(event: OutcomeEvent) -> Self {
        Self {
            event_id: event.event_id,
            stream_version: event.stream_version,
            event_type: event.event_type,
            data: event.data,
            personal: match event.personal {
                Some(Personal::Plain(value)) => Some(value),
                _ => None,
            },
        }
    }
}

impl From<Outcome> for CommandOutcome {
    fn from(outcome: Outcome) -> Self {
        Self {
            stream_id: outcome.stream_id.to_string(),
            command_id: outcome.command_id,
            correlation_id: outcome.correlation_id,
            duplicate: outcome.duplicate,
            version: outcome.version,
            events: outcome
                .events
                .into_iter()
                .map(ProducedEvent::from)
                .collect(),
        }
    }
}

/// The scope a command to `stream` needs: `admin` for the access and
/// system domains (tokens, users, webhooks, timers) and for categories no
/// aggregate lives in; `commands:write` for every life domain.
fn scope_for(stream: &StreamId) -> Scope {
    match catalog::find(stream.category()) {
        // Tokens, users and webhooks are administration; timers can send
        // any command later as the system, so setting one is too.
        Some(category) if matches!(category.domain, "access" | "system") => Scope::Admin,
        Some(_) => Scope::CommandsWrite,
        None => Scope::Admin,
    }
}

/// Sends a command to an aggregate and answers with the events it led to.
#[utoipa::path(post, path = "/api/v1/commands", tag = "commands",
    request_body = CommandRequest,
    responses(
        (status = 200, description = "The command was handled (or had been: `duplicate`)", body = CommandOutcome),
        (status = 400, description = "The envelope or its data is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A conflict that retries did not resolve, or a command id reused", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The domain refused the command; `rule` names the rule", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["commands:write"])))]
#[post("/api/v1/commands")]
pub(crate) async fn send(
    state: web::Data<ApiState>,
    caller: Caller,
    body: JsonBody<CommandRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let stream = StreamId::parse(request.stream_id.clone()).map_err(|error| {
        ApiError::invalid(
            "stream_id",
            format!("`stream_id` {:?}: {error}", request.stream_id),
        )
    })?;
    caller.require(scope_for(&stream))?;
    caller.require_category(stream.category())?;
    if let Some(message) = written_elsewhere(stream.category()) {
        return Err(ApiError::invalid("stream_id", message));
    }
    // Nor by a timer set to send the command later.
    if stream.category() == "timer"
        && let Some(target) = request.data.get("target").and_then(|t| t.as_str())
        && let Some(message) = StreamId::parse(target)
            .ok()
            .and_then(|target| written_elsewhere(target.category()))
    {
        return Err(ApiError::invalid("data.target", message));
    }
    if !request.data.is_object() {
        return Err(ApiError::invalid("data", "`data` must be a JSON object"));
    }
    let mut envelope =
        CommandEnvelope::new(stream, request.command_type, request.data, caller.actor());
    if let Some(command_id) = caller_command_id(request.command_id)? {
        envelope.command_id = command_id;
    }
    envelope.correlation_id = request.correlation_id;
    envelope.causation_id = request.causation_id;
    let outcome = state.host().execute(envelope).await?;
    Ok(HttpResponse::Ok().json(CommandOutcome::from(outcome)))
}

/// A command id a caller chose, checked: 1 to 200 characters without `:`.
/// Ids with `:` are the system's (`saga:…`, `timer:…`): a caller who took
/// one first would silently turn a saga's reaction away.
pub(crate) fn caller_command_id(command_id: Option<String>) -> Result<Option<String>, ApiError> {
    match command_id {
        Some(id) if id.contains(':') || id.is_empty() || id.len() > 200 => Err(ApiError::invalid(
            "command_id",
            "`command_id` is 1 to 200 characters without `:` (those ids are the system's)",
        )),
        other => Ok(other),
    }
}

/// Why a stream's commands are not taken here, for streams only their own
/// component writes: the vault's endpoints change the vault with the
/// credentials' events, a plan's approver is the authenticated user (never
/// a name in a command's data), and only an approved plan acts on the
/// world.
fn written_elsewhere(category: &str) -> Option<&'static str> {
    match category {
        "credentials" => Some(
            "credentials are set, tested and removed at /api/v1/credentials/{integration}, \
             not by command",
        ),
        "plan" => Some(
            "plans are written by the planner, and answered at \
             /api/v1/plans/{plan_id}/approve or /reject, not by command",
        ),
        "actuation" => {
            Some("actuations are written by the actuator for approved plans, not by command")
        }
        _ => None,
    }
}
