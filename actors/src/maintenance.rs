//! Maintenance: assets and their recurring tasks (`asset-<id>`).
//!
//! A task recurs every so many days or months, every so much usage, or by
//! both, whichever comes first. Its next due point counts from when it was
//! last done (or from when it was added, unless a first due point is given):
//! days with [`NaiveDate::checked_add_days`], months with
//! [`NaiveDate::checked_add_months`], which clamps to the end of a shorter
//! month (done 31 January, monthly: due 28 February, then 28 March, since
//! each cycle counts from the day it was done).
//!
//! Due dates are calendar days in UTC. A task falls due
//! ([`MaintenanceTaskFellDue`]) on its due day or when a usage reading
//! reaches its due reading, once per cycle, and becomes overdue
//! ([`MaintenanceTaskOverdue`]) `grace_days` (default 7) after it fell due,
//! once. Every command that can make a task due checks at once; the timer
//! sends `CheckDue` at the start of each `due_on` and `overdue_on` day.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Days, Months, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_events::domain::maintenance::{
    AssetEvent, AssetRegistered, AssetRetired, AssetUsageRecorded, DueBecause, MaintenanceInterval,
    MaintenanceTaskAdded, MaintenanceTaskDone, MaintenanceTaskFellDue, MaintenanceTaskOverdue,
    MaintenanceTaskRemoved,
};

use crate::aggregate::{Aggregate, Context, Rejection, ensure, short_text};
use crate::catalog::Visitor;

/// Shows the domain's aggregates to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Asset>();
}

/// Days past due before a task counts as overdue, unless the task says.
pub const DEFAULT_GRACE_DAYS: u32 = 7;

/// The longest grace a task may have, in days.
pub const MAX_GRACE_DAYS: u32 = 365;

/// Text that may be left out (blank counts as left out).
fn optional_text(value: Option<String>, what: &str) -> Result<Option<String>, Rejection> {
    let Some(value) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    ensure(value.chars().count() <= 200, "too_long", || {
        format!("a {what} has at most 200 characters")
    })?;
    Ok(Some(value))
}

fn reading(value: f64) -> Result<f64, Rejection> {
    ensure(value.is_finite() && value >= 0.0, "reading_invalid", || {
        format!("a usage reading is a number of zero or more, not {value}")
    })?;
    Ok(value)
}

fn out_of_range() -> Rejection {
    Rejection::new(
        "due_date_out_of_range",
        "the next due date falls beyond the calendar",
    )
}

/// The day a time interval next falls due after `from`, if it has one.
fn next_due_on(
    interval: &MaintenanceInterval,
    from: NaiveDate,
) -> Result<Option<NaiveDate>, Rejection> {
    let next = match (interval.every_days, interval.every_months) {
        (Some(days), _) => from.checked_add_days(Days::new(u64::from(days))),
        (None, Some(months)) => from.checked_add_months(Months::new(months)),
        (None, None) => return Ok(None),
    };
    next.map(Some).ok_or_else(out_of_range)
}

/// The day `days` after `from`, held at the calendar's end.
fn days_after(from: NaiveDate, days: u32) -> NaiveDate {
    from.checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

// ---------------------------------------------------------------- commands

/// Commands to an asset (`asset-<id>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum AssetCommand {
    /// Register the asset.
    RegisterAsset {
        /// Its name.
        name: String,
        /// What sort of thing it is (`boiler`, `car`, `smoke alarm`).
        kind: String,
        /// Where it is.
        #[serde(default)]
        location: Option<String>,
        /// The unit of its usage meter (`km`, `h`), if it has one.
        #[serde(default)]
        usage_unit: Option<String>,
    },
    /// Add a recurring task.
    AddMaintenanceTask {
        /// The task's id, chosen by the caller.
        task_id: String,
        /// What to do.
        title: String,
        /// How often.
        interval: MaintenanceInterval,
        /// The day it is first due (default: the interval from today).
        #[serde(default)]
        first_due: Option<NaiveDate>,
        /// The reading at which it is first due (default: the interval
        /// from the current reading).
        #[serde(default)]
        first_due_usage: Option<f64>,
        /// Days past due before it is overdue (default 7).
        #[serde(default)]
        grace_days: Option<u32>,
    },
    /// A task was done; its next due point counts from then.
    RecordTaskDone {
        /// The task.
        task_id: String,
        /// When it was done (default: now).
        #[serde(default)]
        at: Option<DateTime<Utc>>,
        /// The usage reading then, if read.
        #[serde(default)]
        usage_reading: Option<f64>,
    },
    /// The usage meter was read.
    RecordUsage {
        /// The reading; never below the last one.
        reading: f64,
    },
    /// Check which tasks fell due or became overdue (sent by the timer).
    CheckDue {},
    /// Remove a task.
    RemoveTask {
        /// The task.
        task_id: String,
    },
    /// Retire the asset: its tasks end.
    RetireAsset {},
}

/// The fields of `AddMaintenanceTask`.
struct NewTask {
    task_id: String,
    title: String,
    interval: MaintenanceInterval,
    first_due: Option<NaiveDate>,
    first_due_usage: Option<f64>,
    grace_days: Option<u32>,
}

// ------------------------------------------------------------------- state

/// What an asset knows of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceTask {
    /// What to do.
    pub title: String,
    /// How often.
    pub interval: MaintenanceInterval,
    /// Days past due before it is overdue.
    pub grace_days: u32,
    /// The day it is next due.
    pub due_on: Option<NaiveDate>,
    /// The reading at which it is next due.
    pub due_usage: Option<f64>,
    /// When it was last done.
    pub last_done: Option<DateTime<Utc>>,
    /// The day it is due from, once it fell due in this cycle.
    pub due_since: Option<NaiveDate>,
    /// Whether it was reported overdue in this cycle.
    pub overdue: bool,
}

/// When a task is next due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NextDue {
    /// The day, for a time interval.
    pub on: Option<NaiveDate>,
    /// The reading, for a usage interval.
    pub usage: Option<f64>,
}

/// An asset and its tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    /// What was registered, once it was.
    pub registered: Option<AssetRegistered>,
    /// Whether it was retired.
    pub retired: bool,
    /// The last usage reading.
    pub reading: Option<f64>,
    /// The tasks, by id.
    pub tasks: BTreeMap<String, MaintenanceTask>,
    /// Tasks that were removed (and not added again).
    pub removed_tasks: BTreeSet<String>,
}

impl Asset {
    /// When the task is next due, if the asset has it.
    pub fn next_due(&self, task_id: &str) -> Option<NextDue> {
        self.tasks.get(task_id).map(|task| NextDue {
            on: task.due_on,
            usage: task.due_usage,
        })
    }

    /// The registration, if the asset is registered and not retired.
    fn active(&self) -> Result<&AssetRegistered, Rejection> {
        let registered = self
            .registered
            .as_ref()
            .ok_or_else(|| Rejection::new("asset_not_registered", "register the asset first"))?;
        ensure(!self.retired, "asset_retired", || {
            format!("`{}` is retired", registered.name)
        })?;
        Ok(registered)
    }

    fn task(&self, task_id: &str) -> Result<&MaintenanceTask, Rejection> {
        self.tasks.get(task_id.trim()).ok_or_else(|| {
            Rejection::new(
                "unknown_task",
                format!("the asset has no task `{}`", task_id.trim()),
            )
        })
    }

    fn usage_unit(&self) -> Result<(), Rejection> {
        let metered = self
            .registered
            .as_ref()
            .is_some_and(|registered| registered.usage_unit.is_some());
        ensure(metered, "no_usage_meter", || {
            "the asset has no usage meter (register it with a usage unit)".to_owned()
        })
    }

    /// `events`, then what falls due or becomes overdue after them.
    fn with_due_check(&self, events: Vec<AssetEvent>, context: &Context) -> Vec<AssetEvent> {
        let mut after = self.clone();
        for event in &events {
            after.apply(event);
        }
        let mut events = events;
        let today = context.now.date_naive();
        for (task_id, task) in &after.tasks {
            let mut since = task.due_since;
            if since.is_none() {
                let by_date = task.due_on.filter(|due| *due <= today);
                let by_usage = task
                    .due_usage
                    .zip(after.reading)
                    .is_some_and(|(due, reading)| reading >= due);
                let fell = match (by_date, by_usage) {
                    (Some(due), _) => Some((DueBecause::Date, due)),
                    (None, true) => Some((DueBecause::Usage, today)),
                    (None, false) => None,
                };
                if let Some((because, from)) = fell {
                    events.push(AssetEvent::TaskFellDue(MaintenanceTaskFellDue {
                        task_id: task_id.clone(),
                        because,
                        since: from,
                        overdue_on: days_after(from, task.grace_days),
                        reading: after.reading,
                    }));
                    since = Some(from);
                }
            }
            if let Some(since) = since
                && !task.overdue
            {
                let overdue_on = days_after(since, task.grace_days);
                if overdue_on <= today {
                    events.push(AssetEvent::TaskOverdue(MaintenanceTaskOverdue {
                        task_id: task_id.clone(),
                        since,
                        overdue_on,
                    }));
                }
            }
        }
        events
    }

    fn register(
        &self,
        name: &str,
        kind: &str,
        location: Option<String>,
        usage_unit: Option<String>,
        context: &Context,
    ) -> Result<Vec<AssetEvent>, Rejection> {
        let name = short_text(name, "name_required", "asset")?;
        let kind = short_text(kind, "kind_required", "kind of asset")?.to_lowercase();
        let location = optional_text(location, "location")?;
        let usage_unit = optional_text(usage_unit, "usage unit")?;
        if let Some(existing) = &self.registered {
            ensure(!self.retired, "asset_retired", || {
                format!("`{}` is retired", existing.name)
            })?;
            let same = existing.name == name
                && existing.kind == kind
                && existing.location == location
                && existing.usage_unit == usage_unit;
            ensure(same, "asset_already_registered", || {
                format!("the asset is registered already as `{}`", existing.name)
            })?;
            return Ok(Vec::new());
        }
        Ok(vec![AssetEvent::Registered(AssetRegistered {
            name,
            kind,
            location,
            usage_unit,
            at: context.now,
        })])
    }

    fn add_task(&self, task: NewTask, context: &Context) -> Result<Vec<AssetEvent>, Rejection> {
        let NewTask {
            task_id,
            title,
            interval,
            first_due,
            first_due_usage,
            grace_days,
        } = task;
        self.active()?;
        let task_id = task_id.trim().to_owned();
        ensure(
            !task_id.is_empty()
                && task_id.chars().count() <= 100
                && !task_id.chars().any(char::is_whitespace),
            "id_invalid",
            || format!("a task id is 1 to 100 characters without white space, not `{task_id}`"),
        )?;
        let title = short_text(&title, "title_required", "task")?;
        let interval = checked_interval(interval)?;
        let grace_days = grace_days.unwrap_or(DEFAULT_GRACE_DAYS);
        ensure(grace_days <= MAX_GRACE_DAYS, "grace_invalid", || {
            format!("a grace period is at most {MAX_GRACE_DAYS} days")
        })?;
        if let Some(existing) = self.tasks.get(&task_id) {
            let same = existing.title == title
                && existing.interval == interval
                && existing.grace_days == grace_days;
            ensure(same, "task_exists", || {
                format!("the asset has a task `{task_id}` already")
            })?;
            return Ok(Vec::new());
        }
        let timed = interval.every_days.is_some() || interval.every_months.is_some();
        ensure(first_due.is_none() || timed, "interval_invalid", || {
            "a first due day needs an interval in days or months".to_owned()
        })?;
        ensure(
            first_due_usage.is_none() || interval.every_usage.is_some(),
            "interval_invalid",
            || "a first due reading needs a usage interval".to_owned(),
        )?;
        let due_on = match first_due {
            Some(day) => Some(day),
            None => next_due_on(&interval, context.now.date_naive())?,
        };
        let due_usage = match (interval.every_usage, first_due_usage) {
            (None, _) => None,
            (Some(_), first) => {
                self.usage_unit()?;
                match (first, self.reading) {
                    (Some(first), _) => Some(reading(first)?),
                    (None, Some(current)) => interval.every_usage.map(|every| current + every),
                    (None, None) => {
                        return Err(Rejection::new(
                            "usage_reading_required",
                            "read the usage meter first, or say at which reading it is first due",
                        ));
                    }
                }
            }
        };
        Ok(self.with_due_check(
            vec![AssetEvent::TaskAdded(MaintenanceTaskAdded {
                task_id,
                title,
                interval,
                grace_days,
                due_on,
                due_usage,
            })],
            context,
        ))
    }

    fn record_done(
        &self,
        task_id: &str,
        at: Option<DateTime<Utc>>,
        usage_reading: Option<f64>,
        context: &Context,
    ) -> Result<Vec<AssetEvent>, Rejection> {
        self.active()?;
        let task_id = task_id.trim();
        let task = self.task(task_id)?;
        let at = at.unwrap_or(context.now);
        ensure(at <= context.now, "done_in_future", || {
            format!("`{}` cannot be done later than now", task.title)
        })?;
        let usage_reading = usage_reading.map(reading).transpose()?;
        if let Some(new) = usage_reading {
            self.usage_unit()?;
            self.not_below_last(new)?;
        }
        let due_on = next_due_on(&task.interval, at.date_naive())?;
        let due_usage = match task.interval.every_usage {
            None => None,
            Some(every) => {
                let base = usage_reading.or(self.reading).ok_or_else(|| {
                    Rejection::new(
                        "usage_reading_required",
                        format!(
                            "`{}` recurs by usage: give the reading it was done at",
                            task.title
                        ),
                    )
                })?;
                Some(base + every)
            }
        };
        Ok(self.with_due_check(
            vec![AssetEvent::TaskDone(MaintenanceTaskDone {
                task_id: task_id.to_owned(),
                at,
                usage_reading,
                due_on,
                due_usage,
            })],
            context,
        ))
    }

    fn not_below_last(&self, new: f64) -> Result<(), Rejection> {
        let last = self.reading.unwrap_or(0.0);
        ensure(new >= last, "usage_decreased", || {
            format!("the meter read {last} already; a reading never goes down, not to {new}")
        })
    }
}

fn checked_interval(interval: MaintenanceInterval) -> Result<MaintenanceInterval, Rejection> {
    let MaintenanceInterval {
        every_days,
        every_months,
        every_usage,
    } = &interval;
    ensure(
        every_days.is_some() || every_months.is_some() || every_usage.is_some(),
        "interval_required",
        || "say how often: every so many days, months or units of usage".to_owned(),
    )?;
    ensure(
        !(every_days.is_some() && every_months.is_some()),
        "interval_invalid",
        || "recur either by days or by months, not both".to_owned(),
    )?;
    ensure(
        every_days.is_none_or(|days| days > 0)
            && every_months.is_none_or(|months| months > 0)
            && every_usage.is_none_or(|usage| usage.is_finite() && usage > 0.0),
        "interval_invalid",
        || "an interval is above zero".to_owned(),
    )?;
    Ok(interval)
}

impl Aggregate for Asset {
    const CATEGORY: &'static str = "asset";
    const DOMAIN: &'static str = "maintenance";
    const STATE_VERSION: u32 = 1;
    type Command = AssetCommand;
    type Event = AssetEvent;

    fn decide(
        &self,
        command: AssetCommand,
        context: &Context,
    ) -> Result<Vec<AssetEvent>, Rejection> {
        match command {
            AssetCommand::RegisterAsset {
                name,
                kind,
                location,
                usage_unit,
            } => self.register(&name, &kind, location, usage_unit, context),
            AssetCommand::AddMaintenanceTask {
                task_id,
                title,
                interval,
                first_due,
                first_due_usage,
                grace_days,
            } => self.add_task(
                NewTask {
                    task_id,
                    title,
                    interval,
                    first_due,
                    first_due_usage,
                    grace_days,
                },
                context,
            ),
            AssetCommand::RecordTaskDone {
                task_id,
                at,
                usage_reading,
            } => self.record_done(&task_id, at, usage_reading, context),
            AssetCommand::RecordUsage { reading: new } => {
                self.active()?;
                self.usage_unit()?;
                let new = reading(new)?;
                self.not_below_last(new)?;
                if self.reading == Some(new) {
                    return Ok(Vec::new());
                }
                Ok(self.with_due_check(
                    vec![AssetEvent::UsageRecorded(AssetUsageRecorded {
                        reading: new,
                        at: context.now,
                    })],
                    context,
                ))
            }
            AssetCommand::CheckDue {} => {
                // A timer may fire after the asset was retired (or before
                // it was registered): nothing to check then.
                if self.registered.is_none() || self.retired {
                    return Ok(Vec::new());
                }
                Ok(self.with_due_check(Vec::new(), context))
            }
            AssetCommand::RemoveTask { task_id } => {
                self.active()?;
                let task_id = task_id.trim();
                if self.removed_tasks.contains(task_id) {
                    return Ok(Vec::new());
                }
                self.task(task_id)?;
                Ok(vec![AssetEvent::TaskRemoved(MaintenanceTaskRemoved {
                    task_id: task_id.to_owned(),
                })])
            }
            AssetCommand::RetireAsset {} => {
                if self.retired {
                    return Ok(Vec::new());
                }
                self.active()?;
                Ok(vec![AssetEvent::Retired(AssetRetired { at: context.now })])
            }
        }
    }

    fn apply(&mut self, event: &AssetEvent) {
        match event {
            AssetEvent::Registered(e) => self.registered = Some(e.clone()),
            AssetEvent::TaskAdded(e) => {
                self.removed_tasks.remove(&e.task_id);
                self.tasks.insert(
                    e.task_id.clone(),
                    MaintenanceTask {
                        title: e.title.clone(),
                        interval: e.interval.clone(),
                        grace_days: e.grace_days,
                        due_on: e.due_on,
                        due_usage: e.due_usage,
                        last_done: None,
                        due_since: None,
                        overdue: false,
                    },
                );
            }
            AssetEvent::TaskDone(e) => {
                if let Some(reading) = e.usage_reading {
                    self.reading = Some(reading);
                }
                if let Some(task) = self.tasks.get_mut(&e.task_id) {
                    task.last_done = Some(e.at);
                    task.due_on = e.due_on;
                    task.due_usage = e.due_usage;
                    task.due_since = None;
                    task.overdue = false;
                }
            }
            AssetEvent::UsageRecorded(e) => self.reading = Some(e.reading),
            AssetEvent::TaskFellDue(e) => {
                if let Some(task) = self.tasks.get_mut(&e.task_id) {
                    task.due_since = Some(e.since);
                }
            }
            AssetEvent::TaskOverdue(e) => {
                if let Some(task) = self.tasks.get_mut(&e.task_id) {
                    task.overdue = true;
                }
            }
            AssetEvent::TaskRemoved(e) => {
                if self.tasks.remove(&e.task_id).is_some() {
                    self.removed_tasks.insert(e.task_id.clone());
                }
            }
            AssetEvent::Retired(_) => self.retired = true,
        }
    }
}
