//! Goals: each goal with its progress towards the target, its pace as of a
//! given day, and a habit's streak.
//!
//! Pace is judged as the goals domain judges it (days are UTC calendar
//! days): the observed pace is the progress since the start divided by the
//! days since then, the needed pace what remains divided by the days left.
//! A goal is behind when the needed pace exceeds the observed one by more
//! than [`AT_RISK_MARGIN`], on track otherwise; nothing is judged before
//! its second day; past its deadline short of the target it is missed. The
//! domain's own verdict (its last `GoalAtRisk` or `GoalBackOnTrack`, which
//! its daily check records) is kept beside it.
//!
//! The reason a goal was given up is personal (it may tell of health or
//! money): it is dropped when a subject of that event is erased.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use steward_events::RecordedEvent;
use steward_events::domain::goals::{GoalDirection, GoalEvent, GoalMeasure};

use crate::db::{Dialect, ReadDb};
use crate::error::{ApplyError, ProjectionError};
use crate::projection::{ApplyContext, Projection};
use crate::read_models::sql::{
    Conditions, day, day_opt, day_text, decode_set, erased_subject, flag, forget_subject,
    from_name, instant_opt, millis, name_of, personal, remember_subjects, rows_of_subject,
    subjects_table,
};
use crate::tables::Tables;

/// How far the needed pace may exceed the observed one before a goal is
/// behind: the goals domain's margin (0.1: the deadline needs more than
/// 110 % of the pace so far).
pub const AT_RISK_MARGIN: f64 = 0.1;

/// The goals projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Goals;

const GOALS: &str = "goals_goals";
const SUBJECTS: &str = "goals_subjects";

/// Why a goal was given up.
const PART_ABANDONED: &str = "abandoned";

#[async_trait]
impl Projection for Goals {
    fn name(&self) -> &'static str {
        "goals"
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &[GOALS, SUBJECTS]
    }

    fn create(&self, _dialect: Dialect, tables: &Tables) -> Vec<String> {
        let goals = tables.name(GOALS);
        let mut statements = vec![
            format!(
                "CREATE TABLE {goals} (
                    goal_key TEXT PRIMARY KEY,
                    goal_id TEXT NOT NULL,
                    title TEXT NOT NULL,
                    metric TEXT NOT NULL,
                    unit TEXT NOT NULL,
                    baseline DOUBLE PRECISION NOT NULL,
                    target DOUBLE PRECISION NOT NULL,
                    direction TEXT NOT NULL,
                    measure TEXT NOT NULL,
                    start_on TEXT NOT NULL,
                    deadline TEXT NOT NULL,
                    habit BIGINT NOT NULL,
                    current_value DOUBLE PRECISION NOT NULL,
                    latest_on TEXT,
                    status TEXT NOT NULL,
                    target_reached_on TEXT,
                    at_risk BIGINT NOT NULL,
                    current_streak BIGINT NOT NULL,
                    streak_through TEXT,
                    longest_streak BIGINT NOT NULL,
                    closed_at_ms BIGINT,
                    abandon_reason TEXT
                )"
            ),
            format!(
                "CREATE INDEX {} ON {goals} (status, deadline)",
                tables.name(&format!("{GOALS}_status"))
            ),
        ];
        statements.extend(subjects_table(tables, SUBJECTS));
        statements
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError> {
        let goals = cx.tables.name(GOALS);
        let subjects = cx.tables.name(SUBJECTS);
        if let Some(subject) = erased_subject(event)? {
            return forget_subject(
                connection,
                &subjects,
                &subject,
                &[format!(
                    "UPDATE {goals} SET abandon_reason = NULL WHERE goal_key {}",
                    rows_of_subject(&subjects, PART_ABANDONED)
                )],
            )
            .await;
        }
        let Some(goal_event) = decode_set::<GoalEvent>(event)? else {
            return Ok(());
        };
        let key = event.stream_id.as_str();
        let update =
            |assignments: &str| format!("UPDATE {goals} SET {assignments} WHERE goal_key = $1");
        match goal_event {
            GoalEvent::Set(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {goals} (goal_key, goal_id, title, metric, unit, baseline, target,
                        direction, measure, start_on, deadline, habit, current_value, status,
                        at_risk, current_streak, longest_streak)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $6, $13, 0, 0, 0)
                     ON CONFLICT (goal_key) DO UPDATE SET title = excluded.title,
                        metric = excluded.metric, unit = excluded.unit,
                        baseline = excluded.baseline, target = excluded.target,
                        direction = excluded.direction, measure = excluded.measure,
                        start_on = excluded.start_on, deadline = excluded.deadline,
                        habit = excluded.habit, current_value = excluded.current_value,
                        status = excluded.status"
                )))
                .bind(key)
                .bind(event.stream_id.id())
                .bind(&e.title)
                .bind(&e.metric)
                .bind(&e.unit)
                .bind(e.baseline)
                .bind(e.target)
                .bind(name_of(&e.direction)?)
                .bind(name_of(&e.measure)?)
                .bind(day_text(e.start))
                .bind(day_text(e.deadline))
                .bind(flag(e.habit))
                .bind(name_of(&GoalStatus::Active)?)
                .execute(&mut *connection)
                .await?;
            }
            GoalEvent::ProgressRecorded(e) => {
                sqlx::query(AssertSqlSafe(update(
                    "current_value = $2,
                     latest_on = CASE WHEN latest_on IS NULL OR latest_on < $3 THEN $3
                        ELSE latest_on END",
                )))
                .bind(key)
                .bind(e.current)
                .bind(day_text(e.on))
                .execute(&mut *connection)
                .await?;
            }
            GoalEvent::TargetReached(e) => {
                sqlx::query(AssertSqlSafe(update("target_reached_on = $2")))
                    .bind(key)
                    .bind(day_text(e.on))
                    .execute(&mut *connection)
                    .await?;
            }
            GoalEvent::TargetAdjusted(e) => {
                sqlx::query(AssertSqlSafe(update(
                    "target = $2, target_reached_on = NULL",
                )))
                .bind(key)
                .bind(e.target)
                .execute(&mut *connection)
                .await?;
            }
            GoalEvent::DeadlineAdjusted(e) => {
                sqlx::query(AssertSqlSafe(update("deadline = $2")))
                    .bind(key)
                    .bind(day_text(e.deadline))
                    .execute(&mut *connection)
                    .await?;
            }
            GoalEvent::Abandoned(e) => {
                sqlx::query(AssertSqlSafe(update(
                    "status = $2, closed_at_ms = $3, abandon_reason = $4",
                )))
                .bind(key)
                .bind(name_of(&GoalStatus::Abandoned)?)
                .bind(millis(e.at))
                .bind(personal(event, e.reason.clone()).flatten())
                .execute(&mut *connection)
                .await?;
                remember_subjects(connection, &subjects, PART_ABANDONED, key, event).await?;
            }
            GoalEvent::Completed(e) => {
                sqlx::query(AssertSqlSafe(update(
                    "status = $2, closed_at_ms = $3, current_value = $4",
                )))
                .bind(key)
                .bind(name_of(&GoalStatus::Completed)?)
                .bind(millis(e.at))
                .bind(e.current)
                .execute(&mut *connection)
                .await?;
            }
            GoalEvent::AtRisk(_) => {
                sqlx::query(AssertSqlSafe(update("at_risk = 1")))
                    .bind(key)
                    .execute(&mut *connection)
                    .await?;
            }
            GoalEvent::BackOnTrack(_) => {
                sqlx::query(AssertSqlSafe(update("at_risk = 0")))
                    .bind(key)
                    .execute(&mut *connection)
                    .await?;
            }
            GoalEvent::StreakExtended(e) => {
                sqlx::query(AssertSqlSafe(update(
                    "current_streak = $2, streak_through = $3,
                     longest_streak = CASE WHEN longest_streak < $2 THEN $2
                        ELSE longest_streak END",
                )))
                .bind(key)
                .bind(i64::from(e.length))
                .bind(day_text(e.through))
                .execute(&mut *connection)
                .await?;
            }
            GoalEvent::StreakBroken(_) => {
                sqlx::query(AssertSqlSafe(update(
                    "current_streak = 0, streak_through = NULL",
                )))
                .bind(key)
                .execute(&mut *connection)
                .await?;
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------------ readers

/// Where a goal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalStatus {
    /// Being worked on.
    Active,
    /// Declared done.
    Completed,
    /// Given up.
    Abandoned,
}

/// How a goal's pace compares with what its deadline needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaceState {
    /// Nothing to judge yet: before or on its first day.
    NotStarted,
    /// Keeping up with what the deadline needs.
    OnTrack,
    /// Slower than the deadline needs (beyond the margin).
    Behind,
    /// The target is reached.
    Reached,
    /// The deadline passed short of the target.
    Missed,
}

/// A goal's pace on a day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pace {
    /// The verdict.
    pub state: PaceState,
    /// Progress per day since the start (towards the target).
    pub observed_per_day: f64,
    /// Progress per day needed from now to reach the target in time (0
    /// once reached).
    pub needed_per_day: f64,
    /// Days until the deadline (negative once it passed).
    pub days_left: i64,
    /// The share of the goal's time gone, from 0 on its first day to 1 on
    /// its deadline.
    pub time_elapsed: f64,
}

/// A habit's streak of days with progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Streak {
    /// Its current length in days (0 when broken).
    pub current: i64,
    /// The last day of the current streak.
    pub through: Option<NaiveDate>,
    /// The longest it has been.
    pub longest: i64,
}

/// A goal as of a day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalView {
    /// The goal (`run-500` for the stream `goal-run-500`).
    pub goal_id: String,
    /// What the goal is.
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
    /// Which way it must move.
    pub direction: GoalDirection,
    /// What progress records mean.
    pub measure: GoalMeasure,
    /// The first day.
    pub start: NaiveDate,
    /// The last day to reach the target.
    pub deadline: NaiveDate,
    /// Where it stands.
    pub status: GoalStatus,
    /// The share of the way from the baseline to the target covered: 1 at
    /// the target, above it beyond, below 0 if the metric went the wrong way.
    pub progress: f64,
    /// The day the current target was reached, if it was.
    pub target_reached_on: Option<NaiveDate>,
    /// The latest day progress was recorded for.
    pub latest_progress_on: Option<NaiveDate>,
    /// Its pace, while active.
    pub pace: Option<Pace>,
    /// Whether the goals domain last found it at risk.
    pub at_risk: bool,
    /// A habit's streak.
    pub streak: Option<Streak>,
    /// When it was completed or given up.
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it was given up, if said (`None` once erased).
    pub abandon_reason: Option<String>,
}

/// The goals as of `today` (a UTC calendar day): the active ones, or all
/// with `include_closed`; by deadline.
pub async fn goals(
    db: &ReadDb,
    tables: &Tables,
    today: NaiveDate,
    include_closed: bool,
) -> Result<Vec<GoalView>, ProjectionError> {
    let mut conditions = Conditions::default();
    if !include_closed {
        conditions.add(&format!("status = '{}'", name_of(&GoalStatus::Active)?), []);
    }
    let sql = format!(
        "SELECT goal_id, title, metric, unit, baseline, target, direction, measure, start_on,
            deadline, habit, current_value, latest_on, status, target_reached_on, at_risk,
            current_streak, streak_through, longest_streak, closed_at_ms, abandon_reason
         FROM {} {} ORDER BY deadline, goal_id",
        tables.name(GOALS),
        conditions.where_clause()
    );
    let mut found = Vec::new();
    for row in conditions.query(sql).fetch_all(db.pool()).await? {
        let direction: GoalDirection = from_name(&row.try_get::<String, _>("direction")?)?;
        let measure: GoalMeasure = from_name(&row.try_get::<String, _>("measure")?)?;
        let status: GoalStatus = from_name(&row.try_get::<String, _>("status")?)?;
        let start = day(&row.try_get::<String, _>("start_on")?)?;
        let deadline = day(&row.try_get::<String, _>("deadline")?)?;
        let baseline: f64 = row.try_get("baseline")?;
        let target: f64 = row.try_get("target")?;
        let current: f64 = row.try_get("current_value")?;
        let span = target - baseline;
        let progress = if span == 0.0 {
            1.0
        } else {
            (current - baseline) / span
        };
        let habit = row.try_get::<i64, _>("habit")? != 0;
        let goal = GoalNumbers {
            baseline,
            target,
            current,
            direction,
            start,
            deadline,
        };
        found.push(GoalView {
            goal_id: row.try_get("goal_id")?,
            title: row.try_get("title")?,
            metric: row.try_get("metric")?,
            unit: row.try_get("unit")?,
            baseline,
            target,
            current,
            direction,
            measure,
            start,
            deadline,
            status,
            progress,
            target_reached_on: day_opt(row.try_get("target_reached_on")?)?,
            latest_progress_on: day_opt(row.try_get("latest_on")?)?,
            pace: (status == GoalStatus::Active).then(|| goal.pace(today)),
            at_risk: row.try_get::<i64, _>("at_risk")? != 0,
            streak: if habit {
                Some(Streak {
                    current: row.try_get("current_streak")?,
                    through: day_opt(row.try_get("streak_through")?)?,
                    longest: row.try_get("longest_streak")?,
                })
            } else {
                None
            },
            closed_at: instant_opt(row.try_get("closed_at_ms")?),
            abandon_reason: row.try_get("abandon_reason")?,
        });
    }
    Ok(found)
}

/// What a goal's pace is judged from.
struct GoalNumbers {
    baseline: f64,
    target: f64,
    current: f64,
    direction: GoalDirection,
    start: NaiveDate,
    deadline: NaiveDate,
}

impl GoalNumbers {
    fn pace(&self, today: NaiveDate) -> Pace {
        let sign = match self.direction {
            GoalDirection::Increase => 1.0,
            GoalDirection::Decrease => -1.0,
        };
        let elapsed = (today - self.start).num_days();
        let total = (self.deadline - self.start).num_days();
        let days_left = (self.deadline - today).num_days();
        let remaining = (self.target - self.current) * sign;
        let progress = (self.current - self.baseline) * sign;
        let observed_per_day = if elapsed > 0 {
            progress / elapsed as f64
        } else {
            0.0
        };
        let time_elapsed = if total > 0 {
            (elapsed as f64 / total as f64).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let needed_per_day = if remaining <= 0.0 {
            0.0
        } else {
            remaining / days_left.max(1) as f64
        };
        let state = if remaining <= 0.0 {
            PaceState::Reached
        } else if days_left < 0 {
            PaceState::Missed
        } else if elapsed <= 0 {
            PaceState::NotStarted
        } else if needed_per_day > observed_per_day * (1.0 + AT_RISK_MARGIN) {
            PaceState::Behind
        } else {
            PaceState::OnTrack
        };
        Pace {
            state,
            observed_per_day,
            needed_per_day,
            days_left,
            time_elapsed,
        }
    }
}
