//! Timers: a command to send to an aggregate at a time, event-sourced so
//! that a timer set before a restart still fires after it (at least once;
//! the command id the worker sends it under makes a repeat harmless).
//!
//! The timer worker in `runtime/` keeps the pending timers, sends each
//! command when it falls due and then tells the timer `Fire`. Sagas set
//! timers with `Schedule`, choosing the timer id so that setting one twice
//! changes nothing.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_events::StreamId;
use steward_events::domain::timers::{TimerCancelled, TimerEvent, TimerFired, TimerScheduled};

use crate::aggregate::{Aggregate, Context, Rejection, ensure};
use crate::catalog::Visitor;

/// Shows the timer aggregate to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Timer>();
}

/// Commands to a timer (`timer-<timer_id>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum TimerCommand {
    /// Set the timer, or move it while it has not fired. Setting it again
    /// as it is changes nothing.
    Schedule {
        /// When it falls due.
        due_at: DateTime<Utc>,
        /// The aggregate to send the command to.
        target: StreamId,
        /// The command.
        command_type: String,
        /// Its data.
        #[serde(default)]
        data: Value,
    },
    /// The worker sent the command; records what came of it. Firing a timer
    /// that fired or was cancelled, or that was moved to another time than
    /// `due_at`, changes nothing.
    Fire {
        /// What became of the command.
        outcome: String,
        /// The due time the worker fired (default: whatever is pending).
        #[serde(default)]
        due_at: Option<DateTime<Utc>>,
    },
    /// Call the timer off; nothing happens if it already fired.
    Cancel {},
}

/// Where a timer stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum TimerState {
    /// Never set.
    #[default]
    Unset,
    /// Set and waiting.
    Pending(TimerScheduled),
    /// Fired.
    Fired(TimerFired),
    /// Called off.
    Cancelled,
}

/// One timer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    /// Where it stands.
    pub state: TimerState,
}

impl Aggregate for Timer {
    const CATEGORY: &'static str = "timer";
    const DOMAIN: &'static str = "system";
    const STATE_VERSION: u32 = 1;
    type Command = TimerCommand;
    type Event = TimerEvent;

    fn decide(
        &self,
        command: TimerCommand,
        context: &Context,
    ) -> Result<Vec<TimerEvent>, Rejection> {
        match command {
            TimerCommand::Schedule {
                due_at,
                target,
                command_type,
                data,
            } => {
                ensure(
                    !command_type.trim().is_empty(),
                    "command_type_required",
                    || "name the command the timer sends".to_owned(),
                )?;
                let scheduled = TimerScheduled {
                    timer_id: context.id.clone(),
                    due_at,
                    target,
                    command_type,
                    data,
                };
                match &self.state {
                    TimerState::Pending(current) if *current == scheduled => Ok(Vec::new()),
                    TimerState::Unset | TimerState::Pending(_) => {
                        Ok(vec![TimerEvent::Scheduled(scheduled)])
                    }
                    TimerState::Fired(fired) if fired.due_at == scheduled.due_at => Ok(Vec::new()),
                    TimerState::Fired(_) => Err(Rejection::new(
                        "timer_fired",
                        "the timer has fired; set a new one under another id",
                    )),
                    TimerState::Cancelled => Err(Rejection::new(
                        "timer_cancelled",
                        "the timer was called off; set a new one under another id",
                    )),
                }
            }
            TimerCommand::Fire { outcome, due_at } => match &self.state {
                TimerState::Pending(pending) if due_at.is_some_and(|d| d != pending.due_at) => {
                    Ok(Vec::new())
                }
                TimerState::Pending(pending) => {
                    ensure(pending.due_at <= context.now, "timer_not_due", || {
                        format!("the timer is due at {}", pending.due_at)
                    })?;
                    Ok(vec![TimerEvent::Fired(TimerFired {
                        timer_id: context.id.clone(),
                        due_at: pending.due_at,
                        fired_at: context.now,
                        outcome,
                    })])
                }
                TimerState::Fired(_) | TimerState::Cancelled => Ok(Vec::new()),
                TimerState::Unset => Err(Rejection::new("unknown_timer", "no such timer is set")),
            },
            TimerCommand::Cancel {} => match &self.state {
                TimerState::Pending(_) => Ok(vec![TimerEvent::Cancelled(TimerCancelled {
                    timer_id: context.id.clone(),
                })]),
                TimerState::Fired(_) | TimerState::Cancelled => Ok(Vec::new()),
                TimerState::Unset => Err(Rejection::new("unknown_timer", "no such timer is set")),
            },
        }
    }

    fn apply(&mut self, event: &TimerEvent) {
        self.state = match event {
            TimerEvent::Scheduled(e) => TimerState::Pending(e.clone()),
            TimerEvent::Fired(e) => TimerState::Fired(e.clone()),
            TimerEvent::Cancelled(_) => TimerState::Cancelled,
        };
    }
}
