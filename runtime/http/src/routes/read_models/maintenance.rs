//! Maintenance: the tasks of the assets in service, overdue first.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use steward_events::domain::access::Scope;
use steward_projections::read_models::maintenance::{self, MaintenanceTask, TaskFilter};
use utoipa::{IntoParams, ToSchema};

use super::{flag, live, name_of, text};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

/// Which tasks.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskParams {
    /// One asset (`boiler` for the stream `asset-boiler`).
    pub asset_id: Option<String>,
    /// `true`: only tasks due or overdue.
    pub due_only: Option<String>,
}

/// A maintenance task, as of now.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    /// The asset.
    pub asset_id: String,
    /// The asset's name.
    pub asset_name: String,
    /// What sort of thing the asset is.
    pub asset_kind: String,
    /// Where the asset is, if said.
    pub location: Option<String>,
    /// The task.
    pub task_id: String,
    /// What to do.
    pub title: String,
    /// `overdue`, `due` or `upcoming`.
    pub status: String,
    /// The day it is (next) due, for a time interval.
    pub due_on: Option<NaiveDate>,
    /// The reading at which it is (next) due, for a usage interval.
    pub due_usage: Option<f64>,
    /// The asset's last usage reading.
    pub reading: Option<f64>,
    /// The unit of readings.
    pub usage_unit: Option<String>,
    /// `date` or `usage`: what made it due, once recorded.
    pub due_because: Option<String>,
    /// The day it has been due from, when due or overdue.
    pub due_since: Option<NaiveDate>,
    /// The day it becomes (or became) overdue, when known.
    pub overdue_on: Option<NaiveDate>,
    /// When it was last done.
    pub last_done_at: Option<DateTime<Utc>>,
}

fn task_view(task: MaintenanceTask) -> TaskView {
    TaskView {
        asset_id: task.asset_id,
        asset_name: task.asset_name,
        asset_kind: task.asset_kind,
        location: task.location,
        task_id: task.task_id,
        title: task.title,
        status: name_of(&task.status),
        due_on: task.due_on,
        due_usage: task.due_usage,
        reading: task.reading,
        usage_unit: task.usage_unit,
        due_because: task.due_because.as_ref().map(name_of),
        due_since: task.due_since,
        overdue_on: task.overdue_on,
        last_done_at: task.last_done_at,
    }
}

/// The tasks of the assets in service as of now: overdue, then due, then
/// upcoming, each by the day it is due from.
#[utoipa::path(get, path = "/api/v1/maintenance/tasks", operation_id = "maintenance_tasks", tag = "read models",
    params(TaskParams),
    responses(
        (status = 200, description = "The tasks", body = Vec<TaskView>),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The maintenance read model is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/maintenance/tasks")]
pub(crate) async fn tasks(
    state: web::Data<ApiState>,
    caller: Caller,
    params: web::Query<TaskParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    caller.require_domain("maintenance")?;
    let filter = TaskFilter {
        asset_id: text(params.asset_id.as_deref()),
        due_only: flag("due_only", params.due_only.as_deref())?,
    };
    let tables = live(&state, "maintenance").await?;
    let found = maintenance::tasks(state.read_models(), &tables, state.now(), &filter).await?;
    let views: Vec<TaskView> = found.into_iter().map(task_view).collect();
    Ok(HttpResponse::Ok().json(views))
}
