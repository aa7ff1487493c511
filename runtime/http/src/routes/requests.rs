//! Asking Steward in plain language: `POST /api/v1/requests`.
//!
//! The planner recognises the request and either proposes a plan (to
//! `plan-<id>`, as the signed-in user, under the household's policies: it
//! then waits in the approvals queue or, where a policy lets it act, runs),
//! or answers with a question to settle first, the read model that answers
//! a question about Steward's records, or why it does nothing.

use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_events::domain::access::Scope;
use steward_host::HostError;
use steward_planner::{Decision, Domain, PlanRequest, PlannerError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::extract::JsonBody;
use crate::problem::{ApiError, Problem};
use crate::routes::commands::CommandOutcome;
use crate::state::ApiState;

/// The longest request the planner reads.
const MAX_TEXT: usize = 2_000;

/// A request in plain language.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlainRequest {
    /// What the person asks ("turn off the living room lights").
    pub text: String,
    /// The plan's id, if the caller chooses it (letters, digits, `_`, `.`,
    /// `-`); asking again with the same id proposes nothing new.
    pub plan_id: Option<String>,
    /// Groups everything the plan leads to; a new one when absent.
    pub correlation_id: Option<Uuid>,
}

/// What the planner made of a request.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestAnswer {
    /// `plan` (proposed: see `proposal`), `ask`, `answer` or `decline`.
    pub outcome: String,
    /// The plan's id; a plan exists only when `outcome` is `plan`.
    pub plan_id: String,
    /// The recognised intent, `<domain>.<action>`.
    pub intent: String,
    /// Its probability.
    pub confidence: f32,
    /// The slots as found in the text: name, text, offsets, confidence.
    #[schema(value_type = Vec<Object>)]
    pub slots: Value,
    /// The decision in full: the plan's steps and rationale, the question
    /// and its choices, the read model's path, or the reason to decline.
    #[schema(value_type = Object)]
    pub decision: Value,
    /// The proposal's events, when a plan was proposed.
    pub proposal: Option<CommandOutcome>,
}

/// Plans a request in plain language as the signed-in user.
#[utoipa::path(post, path = "/api/v1/requests", operation_id = "plan_request", tag = "planner",
    request_body = PlainRequest,
    responses(
        (status = 201, description = "A plan was proposed (`outcome` is `plan`)", body = RequestAnswer),
        (status = 200, description = "Nothing proposed: a question (`ask`), where the answer is (`answer`) or why not (`decline`)", body = RequestAnswer),
        (status = 400, description = "The body is not valid (`field` names it)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `commands:write`, or the request is in a domain the caller may not use", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`plan_id` holds a plan for another request, or a conflict that retries did not resolve", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The plan aggregate refused the proposal; `rule` names the rule", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The planner is off (its models are not configured), or what it reads is still being built", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["commands:write"])))]
#[post("/api/v1/requests")]
pub(crate) async fn plan_request(
    state: web::Data<ApiState>,
    caller: Caller,
    body: JsonBody<PlainRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::CommandsWrite)?;
    let request = body.0;
    let text = request.text.trim();
    if text.is_empty() {
        return Err(ApiError::invalid("text", "say what you would like done"));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(ApiError::invalid(
            "text",
            format!("at most {MAX_TEXT} characters"),
        ));
    }
    if let Some(plan_id) = &request.plan_id
        && steward_events::StreamId::new("plan", plan_id).is_err()
    {
        return Err(ApiError::invalid(
            "plan_id",
            "letters, digits, `_`, `.` and `-` only",
        ));
    }
    let planner = state.planner().ok_or_else(|| {
        ApiError::Unavailable(
            "the planner is off: its models are not configured (see README, Intent recognition)"
                .to_owned(),
        )
    })?;

    // The request's domain must be the caller's before anything is read or
    // written for it.
    let recognition = planner.recognize(text).await.map_err(planner_error)?;
    let intent = recognition.intents.intent();
    if intent.domain() != Domain::OutOfScope {
        caller.require_domain(intent.domain().as_str())?;
    }
    let planned = planner
        .plan(PlanRequest {
            text: text.to_owned(),
            actor: caller.actor(),
            plan_id: request.plan_id,
            correlation_id: request.correlation_id,
        })
        .await
        .map_err(planner_error)?;
    let outcome = match &planned.decision {
        Decision::Plan(_) => "plan",
        Decision::Ask(_) => "ask",
        Decision::Answer(_) => "answer",
        Decision::Decline(_) => "decline",
    };
    let answer = RequestAnswer {
        outcome: outcome.to_owned(),
        plan_id: planned.plan_id.clone(),
        intent: planned.recognition.intents.intent().label().to_owned(),
        confidence: planned.recognition.intents.confidence(),
        slots: serde_json::to_value(&planned.recognition.slots).map_err(ApiError::internal)?,
        decision: serde_json::to_value(&planned.decision).map_err(ApiError::internal)?,
        proposal: planned.proposal.map(CommandOutcome::from),
    };
    Ok(if answer.proposal.is_some() {
        HttpResponse::Created().json(answer)
    } else {
        HttpResponse::Ok().json(answer)
    })
}

fn planner_error(error: PlannerError) -> ApiError {
    match error {
        PlannerError::Host(HostError::Rejected(rejection)) => ApiError::Rejected {
            rule: rejection.rule.to_owned(),
            message: rejection.message,
        },
        PlannerError::Host(other) => ApiError::from(other),
        PlannerError::Request(message) => ApiError::invalid("plan_id", message),
        taken @ PlannerError::PlanTaken { .. } => ApiError::Conflict(taken.to_string()),
        PlannerError::ReadModel(error) => ApiError::from(error),
        other => ApiError::internal(other),
    }
}
