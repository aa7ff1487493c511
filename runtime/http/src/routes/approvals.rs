//! Answering a plan: `POST /api/v1/plans/{plan_id}/approve` and `…/reject`;
//! and undoing a completed one: `POST /api/v1/plans/{plan_id}/undo`.
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
use steward_actors::plans::{Plan, PlanStep};
use steward_actors::{CommandEnvelope, Rejection};
use steward_events::StreamId;
use steward_events::domain::access::Scope;
use steward_host::HostError;
use steward_planner::undo::{UndoRefusal, status_name};
use steward_planner::undoing::{UndoError, UndoOutcome, UndoRequest, propose_undo};
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

/// An undo.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UndoBody {
    /// Work the steps out and answer with them; propose nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What an undo did.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct UndoAnswer {
    /// The plan that undoes it (`undo-<plan_id>`).
    pub plan_id: String,
    /// The plan it undoes.
    pub undoes: String,
    /// Whether it was proposed now (false for a dry run, or when it had
    /// been proposed before).
    pub proposed: bool,
    /// Where the undo plan stands, when it had been proposed before.
    pub status: Option<String>,
    /// Its steps, in order.
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<PlanStep>,
    /// The proposal's events, when proposed now.
    pub proposal: Option<CommandOutcome>,
}

/// Undoes a completed plan as the signed-in user: its inverse steps are
/// proposed as the plan `undo-<plan_id>`, approved at once (a person asked
/// by name) and carried out like any plan. The caller must be one who may
/// approve the original (one of its approvers, or an owner).
#[utoipa::path(post, path = "/api/v1/plans/{plan_id}/undo", operation_id = "undo_plan", tag = "approvals",
    params(("plan_id" = String, Path, description = "The completed plan (`p1` for the stream `plan-p1`)")),
    request_body = UndoBody,
    responses(
        (status = 201, description = "The undo plan was proposed and approved", body = UndoAnswer),
        (status = 200, description = "A dry run, or an undo proposed before (nothing new)", body = UndoAnswer),
        (status = 400, description = "The body or the plan id is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `approvals:write`, the plan's domain is not the caller's, or the caller may not approve it (`/problems/not-an-approver`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan was proposed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The plan is not completed (`/problems/plan-not-completed`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "It cannot be undone (a step with no inverse, a device's earlier state unknown, erased steps): `rule` is `cannot_undo`", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["approvals:write"])))]
#[post("/api/v1/plans/{plan_id}/undo")]
pub(crate) async fn undo(
    state: web::Data<ApiState>,
    caller: Caller,
    plan_id: web::Path<String>,
    body: JsonBody<UndoBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ApprovalsWrite)?;
    let plan_id = plan_id.into_inner();
    let stream = StreamId::new("plan", &plan_id)
        .map_err(|_| ApiError::NotFound(format!("no plan `{plan_id}` was proposed")))?;
    let (plan, _) = state.host().load::<Plan>(&stream, true).await?;
    let proposal = plan
        .proposal
        .as_ref()
        .ok_or_else(|| ApiError::NotFound(format!("no plan `{plan_id}` was proposed")))?;
    caller.require_domain(domain_of(&proposal.intent))?;
    // The undo is approved as it is proposed, so only one who could have
    // approved the original may ask for it.
    if !caller.is_owner() && !proposal.approval.approvers.contains(&caller.user.user_id) {
        return Err(refused(Rejection::new(
            "not_an_approver",
            format!(
                "{} may not undo this plan: only its approvers or an owner may",
                caller.user.user_id
            ),
        )));
    }
    let request = UndoRequest {
        plan_id: plan_id.clone(),
        actor: caller.actor(),
        by: "the API".to_owned(),
        dry_run: body.0.dry_run,
    };
    let answer = |undo_id: String, proposed: bool, steps: Vec<PlanStep>| UndoAnswer {
        plan_id: undo_id,
        undoes: plan_id.clone(),
        proposed,
        status: None,
        steps,
        proposal: None,
    };
    match propose_undo(state.host(), state.store(), request).await {
        Ok(UndoOutcome::DryRun(compensation)) => {
            Ok(HttpResponse::Ok().json(answer(compensation.plan_id, false, compensation.steps)))
        }
        Ok(UndoOutcome::Already {
            plan_id: undo_id,
            status,
            steps,
        }) => Ok(HttpResponse::Ok().json(UndoAnswer {
            status: Some(status_name(status).to_owned()),
            ..answer(undo_id, false, steps)
        })),
        Ok(UndoOutcome::Proposed {
            compensation,
            outcome,
        }) => {
            let proposed = !outcome.duplicate;
            let body = UndoAnswer {
                proposal: Some(CommandOutcome::from(outcome)),
                ..answer(compensation.plan_id, proposed, compensation.steps)
            };
            Ok(if proposed {
                HttpResponse::Created().json(body)
            } else {
                HttpResponse::Ok().json(body)
            })
        }
        Err(UndoError::Refused(refusal)) => Err(match refusal {
            UndoRefusal::UnknownPlan { .. } => ApiError::NotFound(refusal.to_string()),
            UndoRefusal::BadId { .. } => ApiError::invalid("plan_id", refusal.to_string()),
            UndoRefusal::NotCompleted { .. } => ApiError::Refused {
                status: StatusCode::CONFLICT,
                kind: "plan-not-completed",
                rule: "plan_not_completed",
                message: refusal.to_string(),
            },
            other => ApiError::Rejected {
                rule: "cannot_undo".to_owned(),
                message: other.to_string(),
            },
        }),
        Err(UndoError::Host(HostError::Rejected(rejection))) => Err(refused(rejection)),
        Err(UndoError::Host(other)) => Err(ApiError::from(other)),
        Err(other) => Err(ApiError::internal(other)),
    }
}
