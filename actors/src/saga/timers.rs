//! `timers`: every due instant a domain records becomes a timer that sends
//! the domain's timer command then.
//!
//! Each reaction is a `Schedule` (key `timer`) to `timer-<timer id>`, the
//! id derived from the event so that the same due instant sets the same
//! timer (a repeat changes nothing). Ids are ASCII letters, digits, `-` and
//! `_`: the aggregate ids in them are tokens (letters, digits and `-` kept,
//! anything else escaped as `_<hex>_`).
//!
//! | event (stream) | timer id | at | command to the stream |
//! |---|---|---|---|
//! | `MessageSnoozed` (`message-<m>`) | `snooze-<m>-<until, Unix seconds>` | `until` | `EndSnooze {until}` |
//! | `RoutineDefined`, `RoutineEnabled`, `RoutineRan` (`home-<h>`) with `next_run_at` | `routine-<h>.<routine>-<Unix seconds>` | `next_run_at` | `RunRoutine {routine_id, version, run_id: <routine>@<instant>}` |
//! | `MaintenanceTaskAdded`, `MaintenanceTaskDone` with `due_on`; `MaintenanceTaskFellDue` (its `overdue_on`) (`asset-<a>`) | `due-<a>-<yyyymmdd>` | 00:00 UTC that day | `CheckDue {}` |
//! | `AppointmentRequested` with `respond_by` (`appointment-<p>`) | `expire-<p>-<Unix seconds>` | `respond_by` | `ExpireRequest {}` |
//! | `GoalSet`, `GoalDeadlineAdjusted` (`goal-<g>`) | `pace-<g>-<yyyymmdd>-<deadline yyyymmdd>` | the next 00:00 UTC | `CheckPace {}` |
//! | `TimerFired` of a pace timer | the next day's pace timer | the next 00:00 UTC | `CheckPace {}` |
//! | `PlanProposed` that asks, with `expires_at` (`plan-<p>`) | `approval-<p>-<Unix seconds>` | `expires_at` | `ExpireApproval {}` |
//!
//! - **Routines.** A redefinition due at the same instant moves the pending
//!   timer to the new version (the id leaves the version out). The home does
//!   nothing for a trigger of an older version, a disabled routine or a run
//!   it already made. A routine switched on again (`RoutineEnabled`) gets a
//!   timer for its next run too.
//! - **Maintenance.** One timer per asset and day: `CheckDue` checks all of
//!   the asset's tasks, so tasks due the same day share it.
//! - **Goals.** `TimerFired` carries only the timer's id, so the pace timer's
//!   id holds the goal and its deadline, and each check sets the next day's
//!   until the day after the deadline (which finds a deadline passed short
//!   of the target); a new deadline starts a chain of its own. The chain
//!   stops when a check was rejected, and cannot go on for a goal id too long
//!   to read back from a token (over about 100 characters). A check of a
//!   goal that closed changes nothing.
//!
//! "Now" is the event's `recorded_at`: sagas are pure.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Value, json};
use steward_events::domain::DomainEvent as _;
use steward_events::domain::appointments::AppointmentRequested;
use steward_events::domain::goals::{GoalDeadlineAdjusted, GoalSet};
use steward_events::domain::home::{RoutineDefined, RoutineEnabled, RoutineRan};
use steward_events::domain::inbox::MessageSnoozed;
use steward_events::domain::maintenance::{
    MaintenanceTaskAdded, MaintenanceTaskDone, MaintenanceTaskFellDue,
};
use steward_events::domain::plans::{Autonomy, PlanProposed};
use steward_events::domain::timers::TimerFired;
use steward_events::{RecordedEvent, StreamId};

use super::ids::{
    bounded, day_token, next_midnight_after, parse_day_token, start_of, token, untoken,
};
use super::{Reaction, Saga, decode};
use crate::aggregate::Aggregate as _;
use crate::appointments::Appointment;
use crate::goals::Goal;
use crate::home::Home;
use crate::inbox::Message;
use crate::maintenance::Asset;
use crate::plans::Plan;
use crate::timers::Timer;

/// The longest run id a home takes.
const MAX_RUN_ID_CHARS: usize = 100;

/// Sets the timers that domains' due instants call for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timers;

impl Timers {
    /// The timer ending the snooze of message `message_id` until `until`.
    pub fn snooze_timer_id(message_id: &str, until: DateTime<Utc>) -> String {
        format!("snooze-{}-{}", token(message_id), until.timestamp())
    }

    /// The timer running routine `routine_id` of home `home_id` at `at`.
    pub fn routine_timer_id(home_id: &str, routine_id: &str, at: DateTime<Utc>) -> String {
        format!(
            "routine-{}.{}-{}",
            token(home_id),
            token(routine_id),
            at.timestamp()
        )
    }

    /// The run id of routine `routine_id`'s run due at `at`.
    pub fn routine_run_id(routine_id: &str, at: DateTime<Utc>) -> String {
        bounded(
            &format!(
                "{routine_id}@{}",
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            MAX_RUN_ID_CHARS,
        )
    }

    /// The timer checking asset `asset_id`'s tasks at the start of `day`.
    pub fn due_timer_id(asset_id: &str, day: NaiveDate) -> String {
        format!("due-{}-{}", token(asset_id), day_token(day))
    }

    /// The timer letting appointment request `appointment_id` lapse at `at`.
    pub fn expiry_timer_id(appointment_id: &str, at: DateTime<Utc>) -> String {
        format!("expire-{}-{}", token(appointment_id), at.timestamp())
    }

    /// The timer letting plan `plan_id`'s approval lapse at `at`.
    pub fn approval_timer_id(plan_id: &str, at: DateTime<Utc>) -> String {
        format!("approval-{}-{}", token(plan_id), at.timestamp())
    }

    /// The timer checking goal `goal_id`'s pace at the start of `day`, for
    /// a goal whose deadline is `deadline`.
    pub fn pace_timer_id(goal_id: &str, day: NaiveDate, deadline: NaiveDate) -> String {
        format!(
            "pace-{}-{}-{}",
            token(goal_id),
            day_token(day),
            day_token(deadline)
        )
    }

    /// The goal id, day and deadline of a pace timer's id, if it is one and
    /// its goal id reads back.
    pub fn parse_pace_timer_id(timer_id: &str) -> Option<(String, NaiveDate, NaiveDate)> {
        let rest = timer_id.strip_prefix("pace-")?;
        let mut parts = rest.rsplitn(3, '-');
        let deadline = parse_day_token(parts.next()?)?;
        let day = parse_day_token(parts.next()?)?;
        let goal_id = untoken(parts.next()?)?;
        (!goal_id.is_empty()).then_some((goal_id, day, deadline))
    }

    fn snoozed(event: &RecordedEvent) -> Option<Reaction> {
        let snoozed = decode::<MessageSnoozed>(event)?;
        schedule(
            &Self::snooze_timer_id(event.stream_id.id(), snoozed.until),
            snoozed.until,
            &event.stream_id,
            "EndSnooze",
            json!({ "until": snoozed.until }),
        )
    }

    fn routine_due(
        event: &RecordedEvent,
        routine_id: &str,
        version: u32,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Option<Reaction> {
        let at = next_run_at?;
        schedule(
            &Self::routine_timer_id(event.stream_id.id(), routine_id, at),
            at,
            &event.stream_id,
            "RunRoutine",
            json!({
                "routine_id": routine_id,
                "version": version,
                "run_id": Self::routine_run_id(routine_id, at),
            }),
        )
    }

    fn check_due(event: &RecordedEvent, day: Option<NaiveDate>) -> Option<Reaction> {
        let day = day?;
        schedule(
            &Self::due_timer_id(event.stream_id.id(), day),
            start_of(day),
            &event.stream_id,
            "CheckDue",
            json!({}),
        )
    }

    fn requested(event: &RecordedEvent) -> Option<Reaction> {
        let respond_by = decode::<AppointmentRequested>(event)?.respond_by?;
        schedule(
            &Self::expiry_timer_id(event.stream_id.id(), respond_by),
            respond_by,
            &event.stream_id,
            "ExpireRequest",
            json!({}),
        )
    }

    fn proposed(event: &RecordedEvent) -> Option<Reaction> {
        let approval = decode::<PlanProposed>(event)?.approval;
        if approval.autonomy != Autonomy::Ask {
            return None;
        }
        let expires_at = approval.expires_at?;
        schedule(
            &Self::approval_timer_id(event.stream_id.id(), expires_at),
            expires_at,
            &event.stream_id,
            "ExpireApproval",
            json!({}),
        )
    }

    /// The next day's pace check of `goal` after `now`, while the deadline
    /// allows.
    fn next_pace_check(
        goal: &StreamId,
        deadline: NaiveDate,
        now: DateTime<Utc>,
    ) -> Option<Reaction> {
        let at = next_midnight_after(now)?;
        let day = at.date_naive();
        if day > deadline.succ_opt()? {
            return None;
        }
        schedule(
            &Self::pace_timer_id(goal.id(), day, deadline),
            at,
            goal,
            "CheckPace",
            json!({}),
        )
    }

    fn fired(event: &RecordedEvent) -> Option<Reaction> {
        let fired = decode::<TimerFired>(event)?;
        if fired.outcome.starts_with("rejected") {
            return None;
        }
        let (goal_id, _, deadline) = Self::parse_pace_timer_id(&fired.timer_id)?;
        let goal = StreamId::new(Goal::CATEGORY, goal_id).ok()?;
        Self::next_pace_check(&goal, deadline, event.recorded_at)
    }
}

/// `Schedule` of the timer `timer_id`: at `due_at`, send `command_type`
/// with `data` to `target`.
pub(super) fn schedule(
    timer_id: &str,
    due_at: DateTime<Utc>,
    target: &StreamId,
    command_type: &str,
    data: Value,
) -> Option<Reaction> {
    let timer = StreamId::new(Timer::CATEGORY, timer_id).ok()?;
    Some(Reaction::new(
        "timer",
        timer,
        "Schedule",
        json!({
            "due_at": due_at,
            "target": target,
            "command_type": command_type,
            "data": data,
        }),
    ))
}

impl Saga for Timers {
    fn name(&self) -> &'static str {
        "timers"
    }

    fn reacts_to(&self) -> &'static [&'static str] {
        &[
            MessageSnoozed::EVENT_TYPE,
            RoutineDefined::EVENT_TYPE,
            RoutineEnabled::EVENT_TYPE,
            RoutineRan::EVENT_TYPE,
            MaintenanceTaskAdded::EVENT_TYPE,
            MaintenanceTaskDone::EVENT_TYPE,
            MaintenanceTaskFellDue::EVENT_TYPE,
            AppointmentRequested::EVENT_TYPE,
            GoalSet::EVENT_TYPE,
            GoalDeadlineAdjusted::EVENT_TYPE,
            TimerFired::EVENT_TYPE,
            PlanProposed::EVENT_TYPE,
        ]
    }

    fn react(&self, event: &RecordedEvent) -> Vec<Reaction> {
        let category = event.stream_id.category();
        let reaction = match (category, event.event_type.as_str()) {
            (Message::CATEGORY, MessageSnoozed::EVENT_TYPE) => Self::snoozed(event),
            (Home::CATEGORY, RoutineDefined::EVENT_TYPE) => decode::<RoutineDefined>(event)
                .and_then(|e| Self::routine_due(event, &e.routine_id, e.version, e.next_run_at)),
            (Home::CATEGORY, RoutineEnabled::EVENT_TYPE) => decode::<RoutineEnabled>(event)
                .filter(|e| e.version > 0)
                .and_then(|e| Self::routine_due(event, &e.routine_id, e.version, e.next_run_at)),
            (Home::CATEGORY, RoutineRan::EVENT_TYPE) => decode::<RoutineRan>(event)
                .and_then(|e| Self::routine_due(event, &e.routine_id, e.version, e.next_run_at)),
            (Asset::CATEGORY, MaintenanceTaskAdded::EVENT_TYPE) => {
                decode::<MaintenanceTaskAdded>(event).and_then(|e| Self::check_due(event, e.due_on))
            }
            (Asset::CATEGORY, MaintenanceTaskDone::EVENT_TYPE) => {
                decode::<MaintenanceTaskDone>(event).and_then(|e| Self::check_due(event, e.due_on))
            }
            (Asset::CATEGORY, MaintenanceTaskFellDue::EVENT_TYPE) => {
                decode::<MaintenanceTaskFellDue>(event)
                    .and_then(|e| Self::check_due(event, Some(e.overdue_on)))
            }
            (Appointment::CATEGORY, AppointmentRequested::EVENT_TYPE) => Self::requested(event),
            (Goal::CATEGORY, GoalSet::EVENT_TYPE) => decode::<GoalSet>(event).and_then(|e| {
                Self::next_pace_check(&event.stream_id, e.deadline, event.recorded_at)
            }),
            (Goal::CATEGORY, GoalDeadlineAdjusted::EVENT_TYPE) => {
                decode::<GoalDeadlineAdjusted>(event).and_then(|e| {
                    Self::next_pace_check(&event.stream_id, e.deadline, event.recorded_at)
                })
            }
            (Timer::CATEGORY, TimerFired::EVENT_TYPE) => Self::fired(event),
            (Plan::CATEGORY, PlanProposed::EVENT_TYPE) => Self::proposed(event),
            _ => None,
        };
        reaction.into_iter().collect()
    }
}
