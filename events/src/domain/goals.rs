//! Events of the goals domain: a goal with a metric, a target and a
//! deadline, the progress towards it, its pace and (for habits) its streak.
//!
//! One aggregate per goal (`goal-<id>`). Dates are calendar days in UTC.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DomainEvent;

/// Which way the metric must move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoalDirection {
    /// Up to the target (savings, distance run).
    Increase,
    /// Down to the target (weight, debt).
    Decrease,
}

/// What a progress record's value means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoalMeasure {
    /// The metric as measured that day (a weight, a balance); the latest
    /// day's measure is the current value.
    Absolute,
    /// An amount of progress made that day (km run, money paid off), added
    /// to the baseline (or taken from it for a decrease).
    Cumulative,
}

/// A goal was set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalSet {
    /// What the goal is (`Run 500 km this year`).
    pub title: String,
    /// The metric (`distance`, `weight`, `sessions`).
    pub metric: String,
    /// Its unit (`km`, `kg`; may be empty for a count).
    pub unit: String,
    /// The metric's value at the start.
    pub baseline: f64,
    /// The value to reach.
    pub target: f64,
    /// Which way the metric must move.
    pub direction: GoalDirection,
    /// What progress records mean.
    pub measure: GoalMeasure,
    /// The first day of the goal.
    pub start: NaiveDate,
    /// The last day to reach the target.
    pub deadline: NaiveDate,
    /// Whether it is a daily habit, whose streak of days with progress is
    /// kept.
    pub habit: bool,
}

impl DomainEvent for GoalSet {
    const EVENT_TYPE: &'static str = "GoalSet";
    const SCHEMA_VERSION: u16 = 1;
}

/// Progress was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalProgressRecorded {
    /// The value recorded (a measure or an amount, as the goal says).
    pub value: f64,
    /// The day it is for.
    pub on: NaiveDate,
    /// The metric's current value after it.
    pub current: f64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

impl DomainEvent for GoalProgressRecorded {
    const EVENT_TYPE: &'static str = "GoalProgressRecorded";
    const SCHEMA_VERSION: u16 = 1;
}

/// The metric reached the target (once per target).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalTargetReached {
    /// The metric's value.
    pub current: f64,
    /// The day.
    pub on: NaiveDate,
}

impl DomainEvent for GoalTargetReached {
    const EVENT_TYPE: &'static str = "GoalTargetReached";
    const SCHEMA_VERSION: u16 = 1;
}

/// The target changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalTargetAdjusted {
    /// The new target.
    pub target: f64,
}

impl DomainEvent for GoalTargetAdjusted {
    const EVENT_TYPE: &'static str = "GoalTargetAdjusted";
    const SCHEMA_VERSION: u16 = 1;
}

/// The deadline changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalDeadlineAdjusted {
    /// The new deadline.
    pub deadline: NaiveDate,
}

impl DomainEvent for GoalDeadlineAdjusted {
    const EVENT_TYPE: &'static str = "GoalDeadlineAdjusted";
    const SCHEMA_VERSION: u16 = 1;
}

/// The goal was given up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalAbandoned {
    /// When.
    pub at: DateTime<Utc>,
    /// Why, in the person's words (personal: it may tell of health or
    /// money).
    #[serde(default)]
    pub reason: Option<String>,
}

impl DomainEvent for GoalAbandoned {
    const EVENT_TYPE: &'static str = "GoalAbandoned";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["reason"];
}

/// The goal was declared done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalCompleted {
    /// When.
    pub at: DateTime<Utc>,
    /// The metric's value then.
    pub current: f64,
    /// Whether the target was reached.
    pub target_reached: bool,
}

impl DomainEvent for GoalCompleted {
    const EVENT_TYPE: &'static str = "GoalCompleted";
    const SCHEMA_VERSION: u16 = 1;
}

/// The pace the deadline needs is above the pace so far (by the margin the
/// goals domain documents): the goal is at risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalAtRisk {
    /// The day of the check.
    pub on: NaiveDate,
    /// The metric's value.
    pub current: f64,
    /// Progress per day needed from now to reach the target in time.
    pub needed_per_day: f64,
    /// Progress per day since the start.
    pub observed_per_day: f64,
    /// Days until the deadline (negative once it passed).
    pub days_left: i64,
}

impl DomainEvent for GoalAtRisk {
    const EVENT_TYPE: &'static str = "GoalAtRisk";
    const SCHEMA_VERSION: u16 = 1;
}

/// A goal at risk is on track again: the pace so far meets the pace needed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalBackOnTrack {
    /// The day of the check.
    pub on: NaiveDate,
    /// The metric's value.
    pub current: f64,
    /// Progress per day needed from now (0 once the target is reached).
    pub needed_per_day: f64,
    /// Progress per day since the start.
    pub observed_per_day: f64,
    /// Days until the deadline.
    pub days_left: i64,
}

impl DomainEvent for GoalBackOnTrack {
    const EVENT_TYPE: &'static str = "GoalBackOnTrack";
    const SCHEMA_VERSION: u16 = 1;
}

/// A habit's streak of consecutive days with progress grew.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalStreakExtended {
    /// The streak's length in days.
    pub length: u32,
    /// Its last day.
    pub through: NaiveDate,
}

impl DomainEvent for GoalStreakExtended {
    const EVENT_TYPE: &'static str = "GoalStreakExtended";
    const SCHEMA_VERSION: u16 = 1;
}

/// A habit's streak ended: a whole day passed without progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalStreakBroken {
    /// The length it reached.
    pub length: u32,
    /// Its last day with progress.
    pub last_day: NaiveDate,
}

impl DomainEvent for GoalStreakBroken {
    const EVENT_TYPE: &'static str = "GoalStreakBroken";
    const SCHEMA_VERSION: u16 = 1;
}

crate::domain_events! {
    /// What a goal stream holds.
    pub enum GoalEvent {
        /// The goal was set.
        Set(GoalSet),
        /// Progress was recorded.
        ProgressRecorded(GoalProgressRecorded),
        /// The target was reached.
        TargetReached(GoalTargetReached),
        /// The target changed.
        TargetAdjusted(GoalTargetAdjusted),
        /// The deadline changed.
        DeadlineAdjusted(GoalDeadlineAdjusted),
        /// The goal was given up.
        Abandoned(GoalAbandoned),
        /// The goal was declared done.
        Completed(GoalCompleted),
        /// The goal fell behind its pace.
        AtRisk(GoalAtRisk),
        /// The goal caught up.
        BackOnTrack(GoalBackOnTrack),
        /// A habit's streak grew.
        StreakExtended(GoalStreakExtended),
        /// A habit's streak ended.
        StreakBroken(GoalStreakBroken),
    }
}

/// The JSON Schema of every event type of the domain.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    use super::EventSet as _;
    GoalEvent::schemas()
}
