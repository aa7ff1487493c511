//! Events of the maintenance domain: assets (the boiler, the car, the smoke
//! alarms) and their recurring tasks.
//!
//! One aggregate per asset (`asset-<id>`). A task recurs every so many days
//! or months, every so much usage (km, running hours), or whichever of a
//! time and a usage interval comes first. Due dates are calendar days (UTC):
//! the timer sends `CheckDue` at the start of a task's `due_on` day, and of
//! its `overdue_on` day once it fell due.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DomainEvent;

/// How often a task recurs: a time interval (days or months), a usage
/// interval, or both (whichever comes first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceInterval {
    /// Every so many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_days: Option<u32>,
    /// Every so many calendar months (a due date past the end of a shorter
    /// month falls on its last day: done 31 January, monthly, is due 28 or
    /// 29 February).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_months: Option<u32>,
    /// Every so much usage, in the asset's usage unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_usage: Option<f64>,
}

/// An asset was registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetRegistered {
    /// Its name (`Boiler`, `Family car`).
    pub name: String,
    /// What sort of thing it is (`boiler`, `car`, `smoke alarm`).
    pub kind: String,
    /// Where it is, if said (`garage`, `landing`).
    pub location: Option<String>,
    /// The unit its usage is read in (`km`, `h`), if it has a meter.
    pub usage_unit: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

impl DomainEvent for AssetRegistered {
    const EVENT_TYPE: &'static str = "AssetRegistered";
    const SCHEMA_VERSION: u16 = 1;
}

/// A recurring task was added to an asset, with its first due point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceTaskAdded {
    /// The task's id.
    pub task_id: String,
    /// What to do (`Annual service`, `Test the alarm`).
    pub title: String,
    /// How often.
    pub interval: MaintenanceInterval,
    /// Days past due before it counts as overdue.
    pub grace_days: u32,
    /// The day it first falls due, for a time interval.
    pub due_on: Option<NaiveDate>,
    /// The reading at which it first falls due, for a usage interval.
    pub due_usage: Option<f64>,
}

impl DomainEvent for MaintenanceTaskAdded {
    const EVENT_TYPE: &'static str = "MaintenanceTaskAdded";
    const SCHEMA_VERSION: u16 = 1;
}

/// A task was done; it is next due at the given day or reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceTaskDone {
    /// The task.
    pub task_id: String,
    /// When it was done.
    pub at: DateTime<Utc>,
    /// The asset's usage reading then, if read (it becomes the asset's
    /// reading).
    pub usage_reading: Option<f64>,
    /// The day it is next due, for a time interval.
    pub due_on: Option<NaiveDate>,
    /// The reading at which it is next due, for a usage interval.
    pub due_usage: Option<f64>,
}

impl DomainEvent for MaintenanceTaskDone {
    const EVENT_TYPE: &'static str = "MaintenanceTaskDone";
    const SCHEMA_VERSION: u16 = 1;
}

/// The asset's usage meter was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetUsageRecorded {
    /// The reading, in the asset's usage unit; never below the last one.
    pub reading: f64,
    /// When it was read.
    pub at: DateTime<Utc>,
}

impl DomainEvent for AssetUsageRecorded {
    const EVENT_TYPE: &'static str = "AssetUsageRecorded";
    const SCHEMA_VERSION: u16 = 1;
}

/// What made a task fall due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueBecause {
    /// Its due day came.
    Date,
    /// The usage reading reached its due reading.
    Usage,
}

/// A task fell due (once per cycle: until it is done).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceTaskFellDue {
    /// The task.
    pub task_id: String,
    /// What made it due.
    pub because: DueBecause,
    /// The day it is due from: its due day, or the day its usage was
    /// reached.
    pub since: NaiveDate,
    /// The day it becomes overdue (`since` plus its grace days); the timer
    /// sends `CheckDue` then.
    pub overdue_on: NaiveDate,
    /// The asset's reading when it fell due, if one is known.
    pub reading: Option<f64>,
}

impl DomainEvent for MaintenanceTaskFellDue {
    const EVENT_TYPE: &'static str = "MaintenanceTaskFellDue";
    const SCHEMA_VERSION: u16 = 1;
}

/// A task that fell due was still not done after its grace days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceTaskOverdue {
    /// The task.
    pub task_id: String,
    /// The day it was due from.
    pub since: NaiveDate,
    /// The day it became overdue.
    pub overdue_on: NaiveDate,
}

impl DomainEvent for MaintenanceTaskOverdue {
    const EVENT_TYPE: &'static str = "MaintenanceTaskOverdue";
    const SCHEMA_VERSION: u16 = 1;
}

/// A task was removed from an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceTaskRemoved {
    /// The task.
    pub task_id: String,
}

impl DomainEvent for MaintenanceTaskRemoved {
    const EVENT_TYPE: &'static str = "MaintenanceTaskRemoved";
    const SCHEMA_VERSION: u16 = 1;
}

/// The asset was retired: sold, scrapped or replaced. Its tasks end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetRetired {
    /// When.
    pub at: DateTime<Utc>,
}

impl DomainEvent for AssetRetired {
    const EVENT_TYPE: &'static str = "AssetRetired";
    const SCHEMA_VERSION: u16 = 1;
}

crate::domain_events! {
    /// What an asset stream holds.
    pub enum AssetEvent {
        /// The asset was registered.
        Registered(AssetRegistered),
        /// A task was added.
        TaskAdded(MaintenanceTaskAdded),
        /// A task was done.
        TaskDone(MaintenanceTaskDone),
        /// The usage meter was read.
        UsageRecorded(AssetUsageRecorded),
        /// A task fell due.
        TaskFellDue(MaintenanceTaskFellDue),
        /// A task became overdue.
        TaskOverdue(MaintenanceTaskOverdue),
        /// A task was removed.
        TaskRemoved(MaintenanceTaskRemoved),
        /// The asset was retired.
        Retired(AssetRetired),
    }
}

/// The JSON Schema of every event type of the domain.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    use super::EventSet as _;
    AssetEvent::schemas()
}
