//! Projections: their status, and requests to rebuild one or retry a
//! failed one (the process running it picks the request up).

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use steward_events::domain::access::Scope;
use steward_projections::{ProjectionStatus, Request, catalog};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

/// Where one projection stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionView {
    /// Its name.
    pub name: String,
    /// The version of its code.
    pub code_version: u32,
    /// `not_built`, `live`, `catching_up`, `rebuilding` or `failed`.
    pub state: String,
    /// The last position it applied.
    pub position: String,
    /// The log's head.
    pub head: String,
    /// Events it trails the log by.
    pub lag_events: u64,
    /// Seconds it trails the log by.
    pub lag_seconds: f64,
    /// Events applied by its live generation.
    pub events_applied: i64,
    /// Where and why it stopped, when it failed.
    pub failure: Option<FailureView>,
}

/// The event a projection stopped at.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailureView {
    /// The event's position.
    pub position: String,
    /// The event's id.
    pub event_id: String,
    /// What went wrong.
    pub message: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl From<ProjectionStatus> for ProjectionView {
    fn from(status: ProjectionStatus) -> Self {
        Self {
            name: status.name,
            code_version: status.code_version,
            state: serde_json::to_value(status.state)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default(),
            position: status.position.to_string(),
            head: status.head.to_string(),
            lag_events: status.lag_events,
            lag_seconds: status.lag_seconds,
            events_applied: status.events_applied,
            failure: status.failure.map(|failure| FailureView {
                position: failure.position,
                event_id: failure.event_id,
                message: failure.message,
                at: failure.at,
            }),
        }
    }
}

/// A request was recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Requested {
    /// The projection.
    pub projection: String,
    /// `rebuild` or `retry`.
    pub request: &'static str,
}

/// The status of every projection.
#[utoipa::path(get, path = "/api/v1/projections", tag = "projections",
    responses(
        (status = 200, description = "Each projection's status", body = Vec<ProjectionView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/projections")]
pub(crate) async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    let statuses =
        steward_projections::status(state.read_models(), state.store(), state.projections())
            .await?;
    let views: Vec<ProjectionView> = statuses.into_iter().map(ProjectionView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

async fn ask(
    state: &ApiState,
    caller: &Caller,
    name: &str,
    request: Request,
    label: &'static str,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let projection = steward_projections::find(state.projections(), name)?;
    catalog::request(state.read_models(), projection.name(), request).await?;
    tracing::info!(projection = projection.name(), request = label, actor = %caller.actor(), "projection request recorded");
    Ok(HttpResponse::Accepted().json(Requested {
        projection: projection.name().to_owned(),
        request: label,
    }))
}

/// Asks for a projection to be rebuilt from the start beside the live one,
/// then swapped in.
#[utoipa::path(post, path = "/api/v1/projections/{name}/rebuild", tag = "projections",
    params(("name" = String, Path, description = "The projection")),
    responses(
        (status = 202, description = "The rebuild was requested", body = Requested),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such projection", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[post("/api/v1/projections/{name}/rebuild")]
pub(crate) async fn rebuild(
    state: web::Data<ApiState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    ask(&state, &caller, &name, Request::Rebuild, "rebuild").await
}

/// Asks a failed projection to try its failing event again.
#[utoipa::path(post, path = "/api/v1/projections/{name}/retry", tag = "projections",
    params(("name" = String, Path, description = "The projection")),
    responses(
        (status = 202, description = "The retry was requested", body = Requested),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such projection", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[post("/api/v1/projections/{name}/retry")]
pub(crate) async fn retry(
    state: web::Data<ApiState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    ask(&state, &caller, &name, Request::Retry, "retry").await
}
