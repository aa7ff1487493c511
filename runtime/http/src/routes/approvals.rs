//! Answering a plan: `POST /api/v1/plans/{plan_id}/approve` and `…/reject`.
//!
//! The approver is whoever is signed in (the session's user, or the
//! token's), never a name in the body: `POST /api/v1/commands` refuses plan
//! streams for that reason, and these routes are the only way in. The
//! answer goes to the plan's actor as `ApprovePlan` or `RejectPlan`
//! through the host, like any command: a repeated `command_id` returns the
//! first outcome, and the correlation and causation given are recorded.
//!
//! The plan itself says who may answer and until when; its refusals come
//! back as problems of their own type: `/problems/not-an-approver` (403),
//! `/problems/approval-expired` and `/problems/plan-closed` (409).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use serde_json::{Value, json};
use steward_actors::plans::Plan;
use steward_actors::{CommandEnvelope, Rejection};
use steward_events::StreamId;
use steward_events::domain::access::Scope;
use steward_host::HostError;
use steward_projections::read_models::plans::domain_of;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::extract::JsonBody;
use crate::problem::{ApiError, Problem};
use crate::routes::commands::{CommandOutcome, caller_command_id};
use crate::state::ApiState;

/// An approval.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// Chosen by the caller; sending the same id again returns the first
    /// result and changes nothing. A new one when absent.
    pub command_id: Option<String>,
    /// Groups everything this answer leads to; a new one when absent.
    pub correlation_id: Option<Uuid>,
    /// What caused this answer, if anything.
    pub causation_id: Option<Uuid>,
}

/// A rejection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Why, if said (at most 4,000 characters; sealed as personal data).
    pub reason: Option<String>,
    /// Chosen by the caller; sending the same id again returns the first
    /// result and changes nothing. A new one when absent.
    pub command_id: Option<String>,
    /// Groups everything this answer leads to; a new one when absent.
    pub correlation_id: Option<Uuid>,
    /// What caused this answer, if anything.
    pub causation_id: Option<Uuid>,
}

/// What every answer carries besides its command.
struct Answer {
    command_type: &'static str,
    data: Value,
    command_id: Option<String>,
    correlation_id: Option<Uuid>,
    causation_id: Option<Uuid>,
}

/// Sends `answer` to the plan `plan_id` as the caller.
async fn answer(
    state: &ApiState,
    caller: &Caller,
    plan_id: &str,
    answer: Answer,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ApprovalsWrite)?;
    let command_id = caller_command_id(answer.command_id)?;
    let stream = StreamId::new("plan", plan_id)
        .map_err(|_| ApiError::NotFound(format!("no plan `{plan_id}` was proposed")))?;
    let (plan, _) = state.host().load::<Plan>(&stream, true).await?;
    let proposal = plan
        .proposal
        .as_ref()
        .ok_or_else(|| ApiError::NotFound(format!("no plan `{plan_id}` was proposed")))?;
    caller.require_domain(domain_of(&proposal.intent))?;
    // A plan naming no approvers is for any owner: the aggregate knows no
    // roles, so the rule is kept here.
    if proposal.approval.approvers.is_empty() && !caller.is_owner() {
        return Err(refused(Rejection::new(
            "not_an_approver",
            format!(
                "{} may not answer this plan; it names no approvers, so only an owner may",
                caller.user.user_id
            ),
        )));
    }
    let mut envelope =
        CommandEnvelope::new(stream, answer.command_type, answer.data, caller.actor());
    if let Some(command_id) = command_id {
        envelope.command_id = command_id;
    }
    envelope.correlation_id = answer.correlation_id;
    envelope.causation_id = answer.causation_id;
    let outcome = state
        .host()
        .execute(envelope)
        .await
        .map_err(|error| match error {
            HostError::Rejected(rejection) => refused(rejection),
            other => ApiError::from(other),
        })?;
    Ok(HttpResponse::Ok().json(CommandOutcome::from(outcome)))
}

/// The problem for a plan's refusal.
fn refused(rejection: Rejection) -> ApiError {
    let (status, kind) = match rejection.rule {
        "not_an_approver" => (StatusCode::FORBIDDEN, "not-an-approver"),
        "approval_expired" => (StatusCode::CONFLICT, "approval-expired"),
        "plan_closed" => (StatusCode::CONFLICT, "plan-closed"),
        "text_too_long" => return ApiError::invalid("reason", rejection.message),
        _ => {
            return ApiError::Rejected {
                rule: rejection.rule.to_owned(),
                message: rejection.message,
            };
        }
    };
    ApiError::Refused {
        status,
        kind,
        rule: rejection.rule,
        message: rejection.message,
    }
}

/// Approves a plan as the signed-in user: one of its approvers, before it
/// lapses.
#[utoipa::path(post, path = "/api/v1/plans/{plan_id}/approve", operation_id = "approve_plan", tag = "approvals",
    params(("plan_id" = String, Path, description = "The plan (`p1` for the stream `plan-p1`)")),
    request_body = ApproveRequest,
    responses(
        (status = 200, description = "Approved (or had been, by the same user: no events)", body = CommandOutcome),
        (status = 400, description = "The body is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `approvals:write`, the plan's domain is not the caller's, or the caller is not its approver (`/problems/not-an-approver`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan was proposed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The approval lapsed (`/problems/approval-expired`) or the plan was answered (`/problems/plan-closed`)", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["approvals:write"])))]
#[post("/api/v1/plans/{plan_id}/approve")]
pub(crate) async fn approve(
    state: web::Data<ApiState>,
    caller: Caller,
    plan_id: web::Path<String>,
    body: JsonBody<ApproveRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    answer(
        &state,
        &caller,
        &plan_id,
        Answer {
            command_type: "ApprovePlan",
            data: json!({ "user_id": caller.user.user_id }),
            command_id: request.command_id,
            correlation_id: request.correlation_id,
            causation_id: request.causation_id,
        },
    )
    .await
}

/// Rejects a plan as the signed-in user, on the same terms as approving.
#[utoipa::path(post, path = "/api/v1/plans/{plan_id}/reject", operation_id = "reject_plan", tag = "approvals",
    params(("plan_id" = String, Path, description = "The plan (`p1` for the stream `plan-p1`)")),
    request_body = RejectRequest,
    responses(
        (status = 200, description = "Rejected (or had been, by the same user: no events)", body = CommandOutcome),
        (status = 400, description = "The body is not valid (`field` names it)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `approvals:write`, the plan's domain is not the caller's, or the caller is not its approver (`/problems/not-an-approver`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan was proposed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The approval lapsed (`/problems/approval-expired`) or the plan was answered (`/problems/plan-closed`)", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["approvals:write"])))]
#[post("/api/v1/plans/{plan_id}/reject")]
pub(crate) async fn reject(
    state: web::Data<ApiState>,
    caller: Caller,
    plan_id: web::Path<String>,
    body: JsonBody<RejectRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    answer(
        &state,
        &caller,
        &plan_id,
        Answer {
            command_type: "RejectPlan",
            data: json!({ "user_id": caller.user.user_id, "reason": request.reason }),
            command_id: request.command_id,
            correlation_id: request.correlation_id,
            causation_id: request.causation_id,
        },
    )
    .await
}
