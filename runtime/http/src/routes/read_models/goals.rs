//! Goals: progress, pace as of today, whether the domain finds them at
//! risk, and a habit's streak.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use steward_events::domain::access::Scope;
use steward_projections::read_models::goals::{self, GoalView, Pace, Streak};
use utoipa::{IntoParams, ToSchema};

use super::{flag, live, name_of};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

/// Which goals.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GoalParams {
    /// `true`: completed and abandoned goals too (default: active ones).
    pub include_closed: Option<String>,
}

/// A goal's pace today.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaceView {
    /// `not_started`, `on_track`, `behind`, `reached` or `missed`.
    pub state: String,
    /// Progress per day since the start.
    pub observed_per_day: f64,
    /// Progress per day needed from now to reach the target in time.
    pub needed_per_day: f64,
    /// Days until the deadline (negative once it passed).
    pub days_left: i64,
    /// The share of the goal's time gone, 0 to 1.
    pub time_elapsed: f64,
}

/// A habit's streak of days with progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreakView {
    /// Its current length in days (0 when broken).
    pub current: i64,
    /// The last day of the current streak.
    pub through: Option<NaiveDate>,
    /// The longest it has been.
    pub longest: i64,
}

/// A goal, as of today (UTC).
#[derive(Debug, Serialize, ToSchema)]
pub struct GoalProgressView {
    /// The goal (`run-500` for the stream `goal-run-500`).
    pub goal_id: String,
    /// What it is.
    pub title: String,
    /// The metric.
    pub metric: String,
    /// Its unit.
    pub unit: String,
    /// Its value at the start.
    pub baseline: f64,
    /// The value to reach.
    pub target: f64,
    /// Its value now.
    pub current: f64,
    /// `increase` or `decrease`.
    pub direction: String,
    /// What progress records mean (`absolute`, `cumulative`…).
    pub measure: String,
    /// The first day.
    pub start: NaiveDate,
    /// The last day to reach the target.
    pub deadline: NaiveDate,
    /// `active`, `completed` or `abandoned`.
    pub status: String,
    /// The share of the way from baseline to target covered (1 at the
    /// target).
    pub progress: f64,
    /// The day the target was reached, if it was.
    pub target_reached_on: Option<NaiveDate>,
    /// The latest day progress was recorded for.
    pub latest_progress_on: Option<NaiveDate>,
    /// Its pace, while active.
    pub pace: Option<PaceView>,
    /// Whether the goals domain last found it at risk.
    pub at_risk: bool,
    /// A habit's streak.
    pub streak: Option<StreakView>,
    /// When it was completed or given up.
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it was given up, if said; absent once erased.
    pub abandon_reason: Option<String>,
}

fn pace_view(pace: Pace) -> PaceView {
    PaceView {
        state: name_of(&pace.state),
        observed_per_day: pace.observed_per_day,
        needed_per_day: pace.needed_per_day,
        days_left: pace.days_left,
        time_elapsed: pace.time_elapsed,
    }
}

fn streak_view(streak: Streak) -> StreakView {
    StreakView {
        current: streak.current,
        through: streak.through,
        longest: streak.longest,
    }
}

fn goal_view(goal: GoalView) -> GoalProgressView {
    GoalProgressView {
        goal_id: goal.goal_id,
        title: goal.title,
        metric: goal.metric,
        unit: goal.unit,
        baseline: goal.baseline,
        target: goal.target,
        current: goal.current,
        direction: name_of(&goal.direction),
        measure: name_of(&goal.measure),
        start: goal.start,
        deadline: goal.deadline,
        status: name_of(&goal.status),
        progress: goal.progress,
        target_reached_on: goal.target_reached_on,
        latest_progress_on: goal.latest_progress_on,
        pace: goal.pace.map(pace_view),
        at_risk: goal.at_risk,
        streak: goal.streak.map(streak_view),
        closed_at: goal.closed_at,
        abandon_reason: goal.abandon_reason,
    }
}

/// The goals as of today (a UTC day), by deadline, with progress and pace.
#[utoipa::path(get, path = "/api/v1/goals", operation_id = "goals", tag = "read models",
    params(GoalParams),
    responses(
        (status = 200, description = "The goals", body = Vec<GoalProgressView>),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The goals read model is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/goals")]
pub(crate) async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    params: web::Query<GoalParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    caller.require_domain("goals")?;
    let include_closed = flag("include_closed", params.include_closed.as_deref())?;
    let tables = live(&state, "goals").await?;
    let today = state.now().date_naive();
    let found = goals::goals(state.read_models(), &tables, today, include_closed).await?;
    let views: Vec<GoalProgressView> = found.into_iter().map(goal_view).collect();
    Ok(HttpResponse::Ok().json(views))
}
