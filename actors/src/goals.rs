//! Goals: a metric to move to a target by a deadline (`goal-<id>`).
//!
//! - Progress is recorded per day (UTC calendar days). For an
//!   [`Absolute`](GoalMeasure::Absolute) metric a record is the measure that
//!   day and the latest day's measure is the current value (a late record
//!   for an earlier day is kept but does not replace a later one); for a
//!   [`Cumulative`](GoalMeasure::Cumulative) one a record is an amount
//!   (above zero) added to the baseline, or taken from it when the goal is to
//!   decrease. Reaching the target records [`GoalTargetReached`] once per
//!   target.
//! - Pace, checked by the timer's daily `CheckPace`: the observed pace is
//!   the progress since the start divided by the days since then; the needed
//!   pace is what remains divided by the days left. The goal is at risk
//!   ([`GoalAtRisk`]) when the needed pace exceeds the observed one by more
//!   than [`AT_RISK_MARGIN`] (or the deadline passed short of the target),
//!   and back on track ([`GoalBackOnTrack`]) once the observed pace meets
//!   the needed one; the gap between the two keeps it from flapping. Each is
//!   recorded once per change. Nothing is judged on the start day.
//! - A habit's streak is its run of consecutive days with progress; it is
//!   alive while its last day is today or yesterday. A record that grows it
//!   records [`GoalStreakExtended`] (back-filling a missed day can join two
//!   runs); a day passing without progress ends it ([`GoalStreakBroken`]),
//!   seen by `CheckPace` or the next record. Goals that are not habits keep
//!   no streak.

use std::collections::BTreeSet;

use chrono::{Days, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_events::domain::goals::{
    GoalAbandoned, GoalAtRisk, GoalBackOnTrack, GoalCompleted, GoalDeadlineAdjusted, GoalDirection,
    GoalEvent, GoalMeasure, GoalProgressRecorded, GoalSet, GoalStreakBroken, GoalStreakExtended,
    GoalTargetAdjusted, GoalTargetReached,
};

use crate::aggregate::{Aggregate, Context, Rejection, ensure, short_text};
use crate::catalog::Visitor;

/// Shows the domain's aggregates to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Goal>();
}

/// How far the needed pace may exceed the observed one before a goal is at
/// risk: 0.1 means the deadline needs more than 110 % of the pace so far.
pub const AT_RISK_MARGIN: f64 = 0.1;

fn number(value: f64, what: &str) -> Result<f64, Rejection> {
    ensure(value.is_finite(), "value_invalid", || {
        format!("the {what} must be a number, not {value}")
    })?;
    Ok(value)
}

fn sign(direction: GoalDirection) -> f64 {
    match direction {
        GoalDirection::Increase => 1.0,
        GoalDirection::Decrease => -1.0,
    }
}

fn target_beyond(baseline: f64, target: f64, direction: GoalDirection) -> Result<(), Rejection> {
    ensure(
        (target - baseline) * sign(direction) > 0.0,
        "target_not_beyond_baseline",
        || {
            let way = match direction {
                GoalDirection::Increase => "above",
                GoalDirection::Decrease => "below",
            };
            format!("the target {target} must be {way} the baseline {baseline}")
        },
    )
}

// ---------------------------------------------------------------- commands

/// Commands to a goal (`goal-<id>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum GoalCommand {
    /// Set the goal.
    SetGoal {
        /// What the goal is.
        title: String,
        /// The metric (`distance`, `weight`).
        metric: String,
        /// Its unit (`km`, `kg`; empty for a count).
        #[serde(default)]
        unit: String,
        /// The metric's value at the start (0 for most cumulative goals).
        #[serde(default)]
        baseline: f64,
        /// The value to reach.
        target: f64,
        /// Which way the metric must move.
        direction: GoalDirection,
        /// What progress records mean (default: absolute measures).
        #[serde(default = "absolute")]
        measure: GoalMeasure,
        /// The first day (default: today).
        #[serde(default)]
        start: Option<NaiveDate>,
        /// The last day to reach the target.
        deadline: NaiveDate,
        /// Whether it is a daily habit with a streak.
        #[serde(default)]
        habit: bool,
    },
    /// Record progress for a day.
    RecordProgress {
        /// A measure or an amount, as the goal's measure says.
        value: f64,
        /// The day (default: today).
        #[serde(default)]
        on: Option<NaiveDate>,
    },
    /// Change the target.
    AdjustTarget {
        /// The new target.
        target: f64,
    },
    /// Change the deadline.
    AdjustDeadline {
        /// The new deadline.
        deadline: NaiveDate,
    },
    /// Give the goal up.
    AbandonGoal {
        /// Why.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Declare the goal done (whether or not the target was reached).
    CompleteGoal {},
    /// Check the pace and the streak (sent by the timer daily).
    CheckPace {},
}

fn absolute() -> GoalMeasure {
    GoalMeasure::Absolute
}

// ------------------------------------------------------------------- state

/// Where a goal stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum GoalStatus {
    /// Not set yet.
    #[default]
    Unset,
    /// Being worked on.
    Active,
    /// Declared done.
    Completed,
    /// Given up.
    Abandoned,
}

/// A goal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    /// Where it stands.
    pub status: GoalStatus,
    /// Its definition, with the target and deadline as last adjusted.
    pub definition: Option<GoalSet>,
    /// The metric's current value.
    pub current: f64,
    /// The latest day an absolute measure is for.
    pub latest_on: Option<NaiveDate>,
    /// The days with progress.
    pub progress_days: BTreeSet<NaiveDate>,
    /// Whether the current target was reached.
    pub target_reached: bool,
    /// Whether it is at risk.
    pub at_risk: bool,
    /// A habit's current streak, in days.
    pub current_streak: u32,
    /// The last day of the current streak.
    pub streak_through: Option<NaiveDate>,
    /// A habit's longest streak, in days.
    pub longest_streak: u32,
}

/// The run of consecutive days in `days` ending today or yesterday: its
/// length and last day.
fn alive_run(days: &BTreeSet<NaiveDate>, today: NaiveDate) -> Option<(u32, NaiveDate)> {
    let last = *days.range(..=today).next_back()?;
    let yesterday = today.checked_sub_days(Days::new(1))?;
    if last < yesterday {
        return None;
    }
    let mut length = 1;
    let mut day = last;
    while let Some(before) = day.checked_sub_days(Days::new(1))
        && days.contains(&before)
    {
        length += 1;
        day = before;
    }
    Some((length, last))
}

/// The measured pace of a goal on a day.
struct Pace {
    at_risk: bool,
    on_track: bool,
    needed_per_day: f64,
    observed_per_day: f64,
    days_left: i64,
}

impl Goal {
    fn active(&self) -> Result<&GoalSet, Rejection> {
        let goal = self
            .definition
            .as_ref()
            .ok_or_else(|| Rejection::new("goal_not_set", "set the goal first"))?;
        ensure(self.status == GoalStatus::Active, "goal_closed", || {
            format!("`{}` is closed", goal.title)
        })?;
        Ok(goal)
    }

    /// What is left to reach the target (zero or less once reached).
    fn remaining(&self, goal: &GoalSet) -> f64 {
        (goal.target - self.current) * sign(goal.direction)
    }

    /// The pace on `today`, unless there is nothing to judge yet.
    fn pace(&self, goal: &GoalSet, today: NaiveDate) -> Option<Pace> {
        let elapsed = (today - goal.start).num_days();
        if elapsed < 0 {
            return None;
        }
        let days_left = (goal.deadline - today).num_days();
        let remaining = self.remaining(goal);
        let progress = (self.current - goal.baseline) * sign(goal.direction);
        let observed_per_day = if elapsed > 0 {
            progress / elapsed as f64
        } else {
            0.0
        };
        if remaining <= 0.0 {
            return Some(Pace {
                at_risk: false,
                on_track: true,
                needed_per_day: 0.0,
                observed_per_day,
                days_left,
            });
        }
        let needed_per_day = remaining / days_left.max(1) as f64;
        if days_left < 0 {
            return Some(Pace {
                at_risk: true,
                on_track: false,
                needed_per_day,
                observed_per_day,
                days_left,
            });
        }
        if elapsed == 0 {
            return None;
        }
        Some(Pace {
            at_risk: needed_per_day > observed_per_day * (1.0 + AT_RISK_MARGIN),
            on_track: needed_per_day <= observed_per_day,
            needed_per_day,
            observed_per_day,
            days_left,
        })
    }

    /// The streak events that bring the recorded streak to the days of
    /// `after` as of `today`.
    fn streak_events(&self, after: &Goal, today: NaiveDate) -> Vec<GoalEvent> {
        let mut events = Vec::new();
        let alive = alive_run(&after.progress_days, today);
        let continues = match (self.streak_through, alive) {
            (Some(through), Some((length, last))) => {
                let first = last
                    .checked_sub_days(Days::new(u64::from(length)))
                    .unwrap_or(NaiveDate::MIN);
                through > first && through <= last
            }
            _ => false,
        };
        let mut base = self.current_streak;
        if self.current_streak > 0
            && !continues
            && let Some(last_day) = self.streak_through
        {
            events.push(GoalEvent::StreakBroken(GoalStreakBroken {
                length: self.current_streak,
                last_day,
            }));
            base = 0;
        }
        if let Some((length, through)) = alive
            && length > base
        {
            events.push(GoalEvent::StreakExtended(GoalStreakExtended {
                length,
                through,
            }));
        }
        events
    }

    fn set(&self, goal: GoalSet) -> Result<Vec<GoalEvent>, Rejection> {
        let title = short_text(&goal.title, "title_required", "goal")?;
        let metric = short_text(&goal.metric, "metric_required", "metric")?;
        let unit = goal.unit.trim().to_owned();
        ensure(unit.chars().count() <= 200, "too_long", || {
            "a unit has at most 200 characters".to_owned()
        })?;
        let baseline = number(goal.baseline, "baseline")?;
        let target = number(goal.target, "target")?;
        target_beyond(baseline, target, goal.direction)?;
        ensure(
            goal.deadline > goal.start,
            "deadline_not_after_start",
            || {
                format!(
                    "the deadline {} must come after the start {}",
                    goal.deadline, goal.start
                )
            },
        )?;
        let goal = GoalSet {
            title,
            metric,
            unit,
            baseline,
            target,
            ..goal
        };
        if let Some(existing) = &self.definition {
            ensure(existing == &goal, "goal_already_set", || {
                format!("the goal is set already as `{}`", existing.title)
            })?;
            return Ok(Vec::new());
        }
        Ok(vec![GoalEvent::Set(goal)])
    }

    fn record(
        &self,
        value: f64,
        on: Option<NaiveDate>,
        context: &Context,
    ) -> Result<Vec<GoalEvent>, Rejection> {
        let goal = self.active()?;
        let today = context.now.date_naive();
        let value = number(value, "value")?;
        let on = on.unwrap_or(today);
        ensure(on >= goal.start, "progress_before_start", || {
            format!("the goal starts on {}, after {on}", goal.start)
        })?;
        ensure(on <= today, "progress_in_future", || {
            format!("{on} has not come yet")
        })?;
        let current = match goal.measure {
            GoalMeasure::Absolute => {
                if self.latest_on.is_none_or(|latest| on >= latest) {
                    value
                } else {
                    self.current
                }
            }
            GoalMeasure::Cumulative => {
                ensure(value > 0.0, "value_invalid", || {
                    format!("an amount of progress is above zero, not {value}")
                })?;
                self.current + value * sign(goal.direction)
            }
        };
        let mut events = vec![GoalEvent::ProgressRecorded(GoalProgressRecorded {
            value,
            on,
            current,
            at: context.now,
        })];
        let mut after = self.clone();
        after.apply(&events[0]);
        if !self.target_reached && after.remaining(goal) <= 0.0 {
            events.push(GoalEvent::TargetReached(GoalTargetReached { current, on }));
        }
        if goal.habit {
            events.extend(self.streak_events(&after, today));
        }
        Ok(events)
    }

    fn check_pace(&self, context: &Context) -> Vec<GoalEvent> {
        let Ok(goal) = self.active() else {
            // The timer may fire after the goal closed: nothing to check.
            return Vec::new();
        };
        let today = context.now.date_naive();
        let mut events = Vec::new();
        if let Some(pace) = self.pace(goal, today) {
            if !self.at_risk && pace.at_risk {
                events.push(GoalEvent::AtRisk(GoalAtRisk {
                    on: today,
                    current: self.current,
                    needed_per_day: pace.needed_per_day,
                    observed_per_day: pace.observed_per_day,
                    days_left: pace.days_left,
                }));
            } else if self.at_risk && pace.on_track {
                events.push(GoalEvent::BackOnTrack(GoalBackOnTrack {
                    on: today,
                    current: self.current,
                    needed_per_day: pace.needed_per_day,
                    observed_per_day: pace.observed_per_day,
                    days_left: pace.days_left,
                }));
            }
        }
        if goal.habit {
            events.extend(self.streak_events(self, today));
        }
        events
    }
}

impl Aggregate for Goal {
    const CATEGORY: &'static str = "goal";
    const DOMAIN: &'static str = "goals";
    const STATE_VERSION: u32 = 1;
    type Command = GoalCommand;
    type Event = GoalEvent;

    fn decide(&self, command: GoalCommand, context: &Context) -> Result<Vec<GoalEvent>, Rejection> {
        match command {
            GoalCommand::SetGoal {
                title,
                metric,
                unit,
                baseline,
                target,
                direction,
                measure,
                start,
                deadline,
                habit,
            } => self.set(GoalSet {
                title,
                metric,
                unit,
                baseline,
                target,
                direction,
                measure,
                start: start.unwrap_or(context.now.date_naive()),
                deadline,
                habit,
            }),
            GoalCommand::RecordProgress { value, on } => self.record(value, on, context),
            GoalCommand::AdjustTarget { target } => {
                let goal = self.active()?;
                let target = number(target, "target")?;
                target_beyond(goal.baseline, target, goal.direction)?;
                if target == goal.target {
                    return Ok(Vec::new());
                }
                let mut events = vec![GoalEvent::TargetAdjusted(GoalTargetAdjusted { target })];
                // A target lowered to what was already reached is reached.
                if (target - self.current) * sign(goal.direction) <= 0.0 {
                    events.push(GoalEvent::TargetReached(GoalTargetReached {
                        current: self.current,
                        on: context.now.date_naive(),
                    }));
                }
                Ok(events)
            }
            GoalCommand::AdjustDeadline { deadline } => {
                let goal = self.active()?;
                ensure(deadline > goal.start, "deadline_not_after_start", || {
                    format!(
                        "the deadline {deadline} must come after the start {}",
                        goal.start
                    )
                })?;
                ensure(
                    deadline >= context.now.date_naive(),
                    "deadline_in_past",
                    || format!("{deadline} has passed"),
                )?;
                if deadline == goal.deadline {
                    return Ok(Vec::new());
                }
                Ok(vec![GoalEvent::DeadlineAdjusted(GoalDeadlineAdjusted {
                    deadline,
                })])
            }
            GoalCommand::AbandonGoal { reason } => {
                if self.status == GoalStatus::Abandoned {
                    return Ok(Vec::new());
                }
                self.active()?;
                let reason = reason
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty());
                ensure(
                    reason.as_ref().is_none_or(|r| r.chars().count() <= 2_000),
                    "too_long",
                    || "a reason has at most 2000 characters".to_owned(),
                )?;
                Ok(vec![GoalEvent::Abandoned(GoalAbandoned {
                    at: context.now,
                    reason,
                })])
            }
            GoalCommand::CompleteGoal {} => {
                if self.status == GoalStatus::Completed {
                    return Ok(Vec::new());
                }
                self.active()?;
                Ok(vec![GoalEvent::Completed(GoalCompleted {
                    at: context.now,
                    current: self.current,
                    target_reached: self.target_reached,
                })])
            }
            GoalCommand::CheckPace {} => Ok(self.check_pace(context)),
        }
    }

    fn apply(&mut self, event: &GoalEvent) {
        match event {
            GoalEvent::Set(e) => {
                self.status = GoalStatus::Active;
                self.current = e.baseline;
                self.definition = Some(e.clone());
            }
            GoalEvent::ProgressRecorded(e) => {
                self.current = e.current;
                self.latest_on = Some(self.latest_on.map_or(e.on, |latest| latest.max(e.on)));
                self.progress_days.insert(e.on);
            }
            GoalEvent::TargetReached(_) => self.target_reached = true,
            GoalEvent::TargetAdjusted(e) => {
                if let Some(goal) = &mut self.definition {
                    goal.target = e.target;
                }
                self.target_reached = false;
            }
            GoalEvent::DeadlineAdjusted(e) => {
                if let Some(goal) = &mut self.definition {
                    goal.deadline = e.deadline;
                }
            }
            GoalEvent::Abandoned(_) => self.status = GoalStatus::Abandoned,
            GoalEvent::Completed(_) => self.status = GoalStatus::Completed,
            GoalEvent::AtRisk(_) => self.at_risk = true,
            GoalEvent::BackOnTrack(_) => self.at_risk = false,
            GoalEvent::StreakExtended(e) => {
                self.current_streak = e.length;
                self.streak_through = Some(e.through);
                self.longest_streak = self.longest_streak.max(e.length);
            }
            GoalEvent::StreakBroken(_) => {
                self.current_streak = 0;
                self.streak_through = None;
            }
        }
    }
}
