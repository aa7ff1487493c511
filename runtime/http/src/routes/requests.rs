//! Asking Steward in plain language: `POST /api/v1/requests`.
//!
//! The planner recognises the request and either proposes a plan (to
//! `plan-<id>`, as the signed-in user, under the household's policies: it
//! then waits in the approvals queue or, where a policy lets it act, runs),
//! or answers with a question to settle first, the read model that answers
//! a question about Steward's records, or why it does nothing. What the
//! local models cannot read may go to a remote model if one is configured
//! and the request is not sensitive; the answer says which, and the egress
//! ledger has every call.

use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_events::domain::access::Scope;
use steward_events::domain::plans::ModelLocation;
use steward_host::HostError;
use steward_planner::{Decision, Domain, PlanRequest, PlannerError, check_plan_id};
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
    /// The plan's id, if the caller chooses it (1 to 64 letters, digits,
    /// `_`, `.`, `-`, not starting with `.`); asking again with the same id
    /// proposes nothing new.
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
    /// The request's privacy class: `ordinary`, or `health`, `finance`,
    /// `private_messages` (never sent to a remote model).
    pub privacy: String,
    /// Where the reading the decision rests on was made: `local`, or the
    /// remote model's endpoint.
    pub ran: String,
    /// The egress ledger's call id, when the request was sent to a remote
    /// model (`egress-<yyyy-mm>` has what was sent).
    pub egress_call: Option<String>,
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
    if let Some(plan_id) = &request.plan_id {
        check_plan_id(plan_id).map_err(|problem| ApiError::invalid("plan_id", problem))?;
    }
    let planner = state.planner().ok_or_else(|| {
        ApiError::Unavailable(
            "the planner is off: its models are not configured (see README, Intent recognition)"
                .to_owned(),
        )
    })?;

    let planned = planner
        .plan(PlanRequest {
            text: text.to_owned(),
            actor: caller.actor(),
            plan_id: request.plan_id,
            correlation_id: request.correlation_id,
            // The request's domain must be the caller's before anything is
            // sent out or proposed for it.
            domains: Some(
                Domain::ALL
                    .into_iter()
                    .filter(|domain| caller.may_use(domain.as_str()))
                    .collect(),
            ),
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
        privacy: planned.privacy.class().to_owned(),
        ran: match &planned.location {
            ModelLocation::Local {} => "local".to_owned(),
            ModelLocation::Remote { endpoint } => endpoint.clone(),
        },
        egress_call: planned.egress_call,
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
        PlannerError::DomainNotAllowed(domain) => ApiError::DomainForbidden {
            domain: domain.as_str().to_owned(),
        },
        taken @ PlannerError::PlanTaken { .. } => ApiError::Conflict(taken.to_string()),
        PlannerError::ReadModel(error) => ApiError::from(error),
        other => ApiError::internal(other),
    }
}
