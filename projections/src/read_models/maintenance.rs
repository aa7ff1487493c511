//! Maintenance: assets and their recurring tasks, and which are due or
//! overdue as of a given instant.
//!
//! Due dates are calendar days in UTC, as the maintenance domain keeps
//! them. As of an instant, a task is:
//! - **overdue** once it fell due and its grace days ran out (the day of
//!   `since` plus its grace), or once the asset said so;
//! - **due** from the day it fell due ([`MaintenanceTaskFellDue`]), or from
//!   its due day, or once the asset's reading reached its due reading, even
//!   before the asset's timer has recorded it;
//! - **upcoming** otherwise.
//!
//! Doing a task starts its next cycle; a removed task, and every task of a
//! retired asset, disappears. Maintenance events carry no personal data,
//! so an erasure changes nothing here.
//!
//! [`MaintenanceTaskFellDue`]: steward_events::domain::maintenance::MaintenanceTaskFellDue

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use steward_events::RecordedEvent;
use steward_events::domain::maintenance::{AssetEvent, DueBecause};

use crate::db::{Dialect, ReadDb};
use crate::error::{ApplyError, ProjectionError};
use crate::projection::{ApplyContext, Projection};
use crate::read_models::sql::{
    Bind, Conditions, day_opt, day_text, decode_set, flag, from_name, instant_opt, millis, name_of,
    unprepared,
};
use crate::tables::Tables;

/// The maintenance projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Maintenance;

const ASSETS: &str = "maintenance_assets";
const TASKS: &str = "maintenance_tasks";

#[async_trait]
impl Projection for Maintenance {
    fn name(&self) -> &'static str {
        "maintenance"
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &[ASSETS, TASKS]
    }

    fn create(&self, _dialect: Dialect, tables: &Tables) -> Vec<String> {
        let tasks = tables.name(TASKS);
        vec![
            format!(
                "CREATE TABLE {} (
                    asset_key TEXT PRIMARY KEY,
                    asset_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    location TEXT,
                    usage_unit TEXT,
                    reading DOUBLE PRECISION,
                    retired_at_ms BIGINT
                )",
                tables.name(ASSETS)
            ),
            format!(
                "CREATE TABLE {tasks} (
                    task_key TEXT PRIMARY KEY,
                    asset_key TEXT NOT NULL,
                    task_id TEXT NOT NULL,
                    title TEXT NOT NULL,
                    grace_days BIGINT NOT NULL,
                    due_on TEXT,
                    due_usage DOUBLE PRECISION,
                    last_done_at_ms BIGINT,
                    due_since TEXT,
                    overdue_on TEXT,
                    due_because TEXT,
                    overdue BIGINT NOT NULL
                )"
            ),
            format!(
                "CREATE INDEX {} ON {tasks} (asset_key)",
                tables.name(&format!("{TASKS}_asset"))
            ),
        ]
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError> {
        let Some(asset_event) = decode_set::<AssetEvent>(event)? else {
            return Ok(());
        };
        let assets = cx.tables.name(ASSETS);
        let tasks = cx.tables.name(TASKS);
        let asset = event.stream_id.as_str();
        match asset_event {
            AssetEvent::Registered(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {assets} (asset_key, asset_id, name, kind, location, usage_unit)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (asset_key) DO UPDATE SET name = excluded.name,
                        kind = excluded.kind, location = excluded.location,
                        usage_unit = excluded.usage_unit"
                )))
                .bind(asset)
                .bind(event.stream_id.id())
                .bind(&e.name)
                .bind(&e.kind)
                .bind(e.location.clone())
                .bind(e.usage_unit.clone())
                .execute(&mut *connection)
                .await?;
            }
            AssetEvent::TaskAdded(e) => {
                unprepared(format!(
                    "INSERT INTO {tasks} (task_key, asset_key, task_id, title, grace_days, due_on,
                        due_usage, overdue)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 0)
                     ON CONFLICT (task_key) DO UPDATE SET title = excluded.title,
                        grace_days = excluded.grace_days, due_on = excluded.due_on,
                        due_usage = excluded.due_usage, last_done_at_ms = NULL,
                        due_since = NULL, overdue_on = NULL, due_because = NULL, overdue = 0"
                ))
                .bind(task_key(asset, &e.task_id))
                .bind(asset)
                .bind(&e.task_id)
                .bind(&e.title)
                .bind(i64::from(e.grace_days))
                .bind(e.due_on.map(day_text))
                .bind(e.due_usage)
                .execute(&mut *connection)
                .await?;
            }
            AssetEvent::TaskDone(e) => {
                if let Some(reading) = e.usage_reading {
                    record_reading(connection, &assets, asset, reading).await?;
                }
                unprepared(format!(
                    "UPDATE {tasks} SET last_done_at_ms = $2, due_on = $3, due_usage = $4,
                        due_since = NULL, overdue_on = NULL, due_because = NULL, overdue = 0
                     WHERE task_key = $1"
                ))
                .bind(task_key(asset, &e.task_id))
                .bind(millis(e.at))
                .bind(e.due_on.map(day_text))
                .bind(e.due_usage)
                .execute(&mut *connection)
                .await?;
            }
            AssetEvent::UsageRecorded(e) => {
                record_reading(connection, &assets, asset, e.reading).await?;
            }
            AssetEvent::TaskFellDue(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {tasks} SET due_since = $2, overdue_on = $3, due_because = $4
                     WHERE task_key = $1"
                )))
                .bind(task_key(asset, &e.task_id))
                .bind(day_text(e.since))
                .bind(day_text(e.overdue_on))
                .bind(name_of(&e.because)?)
                .execute(&mut *connection)
                .await?;
            }
            AssetEvent::TaskOverdue(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {tasks} SET due_since = $2, overdue_on = $3, overdue = $4
                     WHERE task_key = $1"
                )))
                .bind(task_key(asset, &e.task_id))
                .bind(day_text(e.since))
                .bind(day_text(e.overdue_on))
                .bind(flag(true))
                .execute(&mut *connection)
                .await?;
            }
            AssetEvent::TaskRemoved(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {tasks} WHERE task_key = $1"
                )))
                .bind(task_key(asset, &e.task_id))
                .execute(&mut *connection)
                .await?;
            }
            AssetEvent::Retired(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {assets} SET retired_at_ms = $2 WHERE asset_key = $1"
                )))
                .bind(asset)
                .bind(millis(e.at))
                .execute(&mut *connection)
                .await?;
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {tasks} WHERE asset_key = $1"
                )))
                .bind(asset)
                .execute(&mut *connection)
                .await?;
            }
        }
        Ok(())
    }
}

fn task_key(asset: &str, task_id: &str) -> String {
    format!("{asset}/{task_id}")
}

async fn record_reading(
    connection: &mut AnyConnection,
    assets: &str,
    asset: &str,
    reading: f64,
) -> Result<(), ApplyError> {
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {assets} SET reading = $2 WHERE asset_key = $1"
    )))
    .bind(asset)
    .bind(reading)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

// ------------------------------------------------------------------ readers

/// Where a task stands as of an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Past due and past its grace days.
    Overdue,
    /// Due.
    Due,
    /// Not due yet.
    Upcoming,
}

/// A maintenance task of an asset, as of an instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaintenanceTask {
    /// The asset (`boiler` for the stream `asset-boiler`).
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
    /// Where it stands.
    pub status: TaskStatus,
    /// The day it is (next) due, for a time interval.
    pub due_on: Option<NaiveDate>,
    /// The reading at which it is (next) due, for a usage interval.
    pub due_usage: Option<f64>,
    /// The asset's last usage reading.
    pub reading: Option<f64>,
    /// The unit of readings.
    pub usage_unit: Option<String>,
    /// What made it due, once the asset recorded it.
    pub due_because: Option<DueBecause>,
    /// The day it has been due from, when due or overdue.
    pub due_since: Option<NaiveDate>,
    /// The day it becomes (or became) overdue, when known.
    pub overdue_on: Option<NaiveDate>,
    /// When it was last done.
    pub last_done_at: Option<DateTime<Utc>>,
}

/// Which tasks to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Tasks of this asset (`boiler`).
    pub asset_id: Option<String>,
    /// Only tasks due or overdue.
    pub due_only: bool,
}

/// The tasks of assets in service as of `as_of`, overdue first, then due,
/// then upcoming; each by the day it is due from.
pub async fn tasks(
    db: &ReadDb,
    tables: &Tables,
    as_of: DateTime<Utc>,
    filter: &TaskFilter,
) -> Result<Vec<MaintenanceTask>, ProjectionError> {
    let mut conditions = Conditions::default();
    conditions.add("a.retired_at_ms IS NULL", []);
    if let Some(asset_id) = &filter.asset_id {
        conditions.add("a.asset_id = ?", [Bind::Text(asset_id.clone())]);
    }
    let sql = format!(
        "SELECT a.asset_id, a.name, a.kind, a.location, a.usage_unit, a.reading, t.task_id,
            t.title, t.grace_days, t.due_on, t.due_usage, t.last_done_at_ms, t.due_since,
            t.overdue_on, t.due_because, t.overdue
         FROM {} t JOIN {} a ON a.asset_key = t.asset_key {}",
        tables.name(TASKS),
        tables.name(ASSETS),
        conditions.where_clause()
    );
    let today = as_of.date_naive();
    let mut found = Vec::new();
    for row in conditions.query(sql).fetch_all(db.pool()).await? {
        let due_on = day_opt(row.try_get("due_on")?)?;
        let due_usage: Option<f64> = row.try_get("due_usage")?;
        let reading: Option<f64> = row.try_get("reading")?;
        let grace_days = u64::try_from(row.try_get::<i64, _>("grace_days")?).unwrap_or(0);
        let fell_due = day_opt(row.try_get("due_since")?)?;
        let recorded_overdue_on = day_opt(row.try_get("overdue_on")?)?;
        let marked_overdue = row.try_get::<i64, _>("overdue")? != 0;
        let due_because: Option<String> = row.try_get("due_because")?;
        let usage_reached = match (due_usage, reading) {
            (Some(due), Some(reading)) => reading >= due,
            _ => false,
        };
        let (status, due_since, overdue_on) = match fell_due {
            Some(since) if since <= today => {
                let overdue = marked_overdue || recorded_overdue_on.is_some_and(|d| d <= today);
                let status = if overdue {
                    TaskStatus::Overdue
                } else {
                    TaskStatus::Due
                };
                (status, Some(since), recorded_overdue_on)
            }
            Some(_) => (TaskStatus::Upcoming, None, None),
            None => match due_on.filter(|due| *due <= today) {
                Some(since) => {
                    let overdue_on = since.checked_add_days(Days::new(grace_days));
                    let status = if overdue_on.is_some_and(|d| d <= today) {
                        TaskStatus::Overdue
                    } else {
                        TaskStatus::Due
                    };
                    (status, Some(since), overdue_on)
                }
                None if usage_reached => (TaskStatus::Due, None, None),
                None => (TaskStatus::Upcoming, None, None),
            },
        };
        if filter.due_only && status == TaskStatus::Upcoming {
            continue;
        }
        found.push(MaintenanceTask {
            asset_id: row.try_get("asset_id")?,
            asset_name: row.try_get("name")?,
            asset_kind: row.try_get("kind")?,
            location: row.try_get("location")?,
            task_id: row.try_get("task_id")?,
            title: row.try_get("title")?,
            status,
            due_on,
            due_usage,
            reading,
            usage_unit: row.try_get("usage_unit")?,
            due_because: due_because.as_deref().map(from_name).transpose()?,
            due_since,
            overdue_on,
            last_done_at: instant_opt(row.try_get("last_done_at_ms")?),
        });
    }
    found.sort_by(|a, b| {
        let when = |t: &MaintenanceTask| t.due_since.or(t.due_on);
        (a.status, when(a), &a.asset_id, &a.task_id).cmp(&(
            b.status,
            when(b),
            &b.asset_id,
            &b.task_id,
        ))
    });
    Ok(found)
}
