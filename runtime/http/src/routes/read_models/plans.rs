//! Plans and the approvals queue.
//!
//! A plan belongs to the domain of its intent (`home` for `home.lock_door`),
//! not to the planner: a member sees the plans of the domains they are
//! granted, and only those, in lists and one by one.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_events::domain::access::Scope;
use steward_projections::read_models::plans::{self, PlanQuery, PlanRow, PlanStatus, StepSummary};
use utoipa::{IntoParams, ToSchema};

use super::{choice, json_of, live, name_of};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::routes::events::page_size;
use crate::state::ApiState;

const PLANS: &str = "plans";
const DEFAULT_PAGE: usize = 50;
const STATUSES: &str =
    "proposed, awaiting_approval, approved, rejected, expired, running, completed, failed";

/// Which plans.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PlansParams {
    /// Only plans in this status now: `proposed`, `awaiting_approval`,
    /// `approved`, `rejected`, `expired`, `running`, `completed` or
    /// `failed`.
    pub status: Option<String>,
    /// Plans per page, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// The `next_offset` of the previous page.
    pub offset: Option<String>,
}

/// Which page of the queue.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApprovalsParams {
    /// Plans per page, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// The `next_offset` of the previous page.
    pub offset: Option<String>,
}

/// One step of a plan, as the approval screen shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    /// What it does, in words.
    pub summary: String,
    /// Who carries it out: `{"by": "domain"}` or `{"by": "actuator",
    /// "integration": "mqtt"}`.
    #[schema(value_type = Object)]
    pub executor: Value,
    /// The stream its command goes to.
    pub stream_id: String,
    /// Its command type.
    pub command_type: String,
}

/// A plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    /// The plan (`p1` for the stream `plan-p1`).
    pub plan_id: String,
    /// Where it stands now: `proposed`, `awaiting_approval`, `approved`,
    /// `rejected`, `expired`, `running`, `completed` or `failed`.
    pub status: String,
    /// The recognised intent, `<domain>.<action>`.
    pub intent: String,
    /// The intent's domain: who may see the plan.
    pub domain: String,
    /// The classifier's probability for the intent, 0 to 1.
    pub confidence: f64,
    /// What the person asked; absent for an event's plan, or once erased.
    pub request: Option<String>,
    /// The event it answers, for an event's plan: `event_id`, `stream_id`,
    /// `event_type`.
    #[schema(value_type = Option<Object>)]
    pub trigger: Option<Value>,
    /// Why these steps; absent if not said, or once erased.
    pub rationale: Option<String>,
    /// How many steps it has.
    pub step_count: u32,
    /// Its steps in order; absent once erased.
    pub steps: Option<Vec<StepView>>,
    /// `suggest`, `ask` or `act`.
    pub autonomy: String,
    /// The users who may answer it; empty: any owner.
    pub approvers: Vec<String>,
    /// When an unanswered approval lapses.
    pub expires_at: Option<DateTime<Utc>>,
    /// Why the policy asks, if a rule said.
    pub policy_reason: Option<String>,
    /// Who approved it: `{"by": "user", "user_id": …}` or `{"by": "policy"}`.
    #[schema(value_type = Option<Object>)]
    pub approved_by: Option<Value>,
    /// When.
    pub approved_at: Option<DateTime<Utc>>,
    /// The user who rejected it.
    pub rejected_by: Option<String>,
    /// When.
    pub rejected_at: Option<DateTime<Utc>>,
    /// Why it was rejected, if said and not erased.
    pub reason: Option<String>,
    /// When its approval lapsed, once recorded.
    pub expired_at: Option<DateTime<Utc>>,
    /// How many steps were issued.
    pub steps_issued: u32,
    /// How many steps were carried out.
    pub steps_succeeded: u32,
    /// The step that failed, if one did.
    pub failed_step: Option<u32>,
    /// What went wrong with it; absent once erased.
    pub step_error: Option<String>,
    /// Some step was only simulated (a dry run): the plan did not act.
    pub simulated: bool,
    /// When it was proposed.
    pub proposed_at: DateTime<Utc>,
    /// When the log recorded its last change.
    pub updated_at: DateTime<Utc>,
    /// The correlation id of its proposal (`GET /api/v1/events?correlation_id=`).
    pub correlation_id: String,
}

/// A page of plans.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlansPage {
    /// The plans.
    pub plans: Vec<PlanView>,
    /// Pass as `offset` for the next page; absent on the last.
    pub next_offset: Option<usize>,
}

fn step_view(step: StepSummary) -> Result<StepView, ApiError> {
    Ok(StepView {
        summary: step.summary,
        executor: json_of(&step.executor)?,
        stream_id: step.stream_id,
        command_type: step.command_type,
    })
}

fn plan_view(plan: PlanRow) -> Result<PlanView, ApiError> {
    Ok(PlanView {
        plan_id: plan.plan_id,
        status: name_of(&plan.status),
        intent: plan.intent,
        domain: plan.domain,
        confidence: plan.confidence,
        request: plan.request,
        trigger: plan.trigger.as_ref().map(json_of).transpose()?,
        rationale: plan.rationale,
        step_count: plan.step_count,
        steps: plan
            .steps
            .map(|steps| steps.into_iter().map(step_view).collect())
            .transpose()?,
        autonomy: name_of(&plan.autonomy),
        approvers: plan.approvers,
        expires_at: plan.expires_at,
        policy_reason: plan.policy_reason,
        approved_by: plan.approved_by.as_ref().map(json_of).transpose()?,
        approved_at: plan.approved_at,
        rejected_by: plan.rejected_by,
        rejected_at: plan.rejected_at,
        reason: plan.reason,
        expired_at: plan.expired_at,
        steps_issued: plan.steps_issued,
        steps_succeeded: plan.steps_succeeded,
        failed_step: plan.failed_step,
        step_error: plan.step_error,
        simulated: plan.simulated,
        proposed_at: plan.proposed_at,
        updated_at: plan.updated_at,
        correlation_id: plan.correlation_id,
    })
}

/// The domains whose plans the caller sees: `None` for all (the owner).
fn visible_domains(caller: &Caller) -> Option<Vec<String>> {
    (!caller.is_owner()).then(|| caller.user.domains.clone())
}

fn offset(value: Option<&str>) -> Result<usize, ApiError> {
    value
        .map(|value| {
            value.parse::<usize>().map_err(|_| {
                ApiError::invalid(
                    "offset",
                    format!("`offset` is a whole number from 0, not {value:?}"),
                )
            })
        })
        .transpose()
        .map(Option::unwrap_or_default)
}

/// One page of what `query` asks for, now.
async fn page(state: &ApiState, mut query: PlanQuery) -> Result<PlansPage, ApiError> {
    let limit = query.limit;
    // One more than a page says whether another follows.
    query.limit = limit + 1;
    let tables = live(state, PLANS).await?;
    let mut found = plans::plans(state.read_models(), &tables, &query, state.now()).await?;
    let next_offset = (found.len() > limit).then(|| query.offset + limit);
    found.truncate(limit);
    Ok(PlansPage {
        plans: found.into_iter().map(plan_view).collect::<Result<_, _>>()?,
        next_offset,
    })
}

/// The plans of the domains the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/plans", operation_id = "plans", tag = "read models",
    params(PlansParams),
    responses(
        (status = 200, description = "A page of plans", body = PlansPage),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The plans read model is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/plans")]
pub(crate) async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    params: web::Query<PlansParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    let query = PlanQuery {
        status: choice::<PlanStatus>("status", params.status.as_deref(), STATUSES)?,
        domains: visible_domains(&caller),
        oldest_first: false,
        limit: page_size(params.limit.as_deref(), DEFAULT_PAGE)?,
        offset: offset(params.offset.as_deref())?,
    };
    Ok(HttpResponse::Ok().json(page(&state, query).await?))
}

/// The approvals queue: plans waiting for an answer now (their approval not
/// lapsed), oldest first.
#[utoipa::path(get, path = "/api/v1/approvals", operation_id = "approvals", tag = "read models",
    params(ApprovalsParams),
    responses(
        (status = 200, description = "A page of the queue", body = PlansPage),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The plans read model is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/approvals")]
pub(crate) async fn approvals(
    state: web::Data<ApiState>,
    caller: Caller,
    params: web::Query<ApprovalsParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    let query = PlanQuery::approvals(
        visible_domains(&caller),
        page_size(params.limit.as_deref(), DEFAULT_PAGE)?,
        offset(params.offset.as_deref())?,
    );
    Ok(HttpResponse::Ok().json(page(&state, query).await?))
}

/// One plan.
#[utoipa::path(get, path = "/api/v1/plans/{plan_id}", operation_id = "plan", tag = "read models",
    params(("plan_id" = String, Path, description = "The plan (`p1` for the stream `plan-p1`)")),
    responses(
        (status = 200, description = "The plan", body = PlanView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`, or the plan's domain is not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan was proposed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The plans read model is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/plans/{plan_id}")]
pub(crate) async fn read(
    state: web::Data<ApiState>,
    caller: Caller,
    plan_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    let tables = live(&state, PLANS).await?;
    let found = plans::plan(state.read_models(), &tables, &plan_id, state.now())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no plan `{plan_id}` was proposed")))?;
    caller.require_domain(&found.domain)?;
    Ok(HttpResponse::Ok().json(plan_view(found)?))
}
