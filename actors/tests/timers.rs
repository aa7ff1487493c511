//! Timers: given events / when command / then events.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::json;
use steward_actors::testing::{default_now, given, live_and_replayed};
use steward_actors::timers::{Timer, TimerCommand};
use steward_events::StreamId;
use steward_events::domain::timers::{TimerCancelled, TimerEvent, TimerFired, TimerScheduled};

fn due() -> DateTime<Utc> {
    default_now() + Duration::hours(1)
}

fn schedule(at: DateTime<Utc>) -> TimerCommand {
    TimerCommand::Schedule {
        due_at: at,
        target: StreamId::parse("message-m1").expect("valid"),
        command_type: "EndSnooze".into(),
        data: json!({ "until": at }),
    }
}

fn scheduled(at: DateTime<Utc>) -> TimerEvent {
    TimerEvent::Scheduled(TimerScheduled {
        timer_id: "test".into(),
        due_at: at,
        target: StreamId::parse("message-m1").expect("valid"),
        command_type: "EndSnooze".into(),
        data: json!({ "until": at }),
    })
}

fn fired(at: DateTime<Utc>, outcome: &str) -> TimerEvent {
    TimerEvent::Fired(TimerFired {
        timer_id: "test".into(),
        due_at: at,
        fired_at: at,
        outcome: outcome.into(),
    })
}

fn fire(due_at: Option<DateTime<Utc>>) -> TimerCommand {
    TimerCommand::Fire {
        outcome: "appended 1".into(),
        due_at,
    }
}

#[test]
fn scheduling_sets_moves_and_repeats_harmlessly() {
    given::<Timer>([])
        .when(schedule(due()))
        .then([scheduled(due())]);
    given::<Timer>([scheduled(due())])
        .when(schedule(due()))
        .then([]);
    let later = due() + Duration::hours(2);
    given::<Timer>([scheduled(due())])
        .when(schedule(later))
        .then([scheduled(later)]);
    given::<Timer>([])
        .when(TimerCommand::Schedule {
            due_at: due(),
            target: StreamId::parse("message-m1").expect("valid"),
            command_type: " ".into(),
            data: json!({}),
        })
        .then_rejected("command_type_required");
}

#[test]
fn a_timer_fires_once_when_due() {
    given::<Timer>([scheduled(due())])
        .when(fire(None))
        .then_rejected("timer_not_due");
    given::<Timer>([scheduled(due())])
        .at(due())
        .when(fire(Some(due())))
        .then([fired(due(), "appended 1")]);
    given::<Timer>([scheduled(due()), fired(due(), "appended 1")])
        .at(due())
        .when(fire(Some(due())))
        .then([]);
    given::<Timer>([])
        .when(fire(None))
        .then_rejected("unknown_timer");
}

#[test]
fn a_firing_for_a_time_the_timer_was_moved_from_changes_nothing() {
    let moved = due() + Duration::hours(3);
    given::<Timer>([scheduled(due()), scheduled(moved)])
        .at(moved)
        .when(fire(Some(due())))
        .then([]);
}

#[test]
fn a_fired_or_cancelled_timer_is_not_set_again() {
    let fired_timer = [scheduled(due()), fired(due(), "unchanged")];
    given::<Timer>(fired_timer.clone())
        .when(schedule(due()))
        .then([]);
    given::<Timer>(fired_timer)
        .when(schedule(due() + Duration::days(1)))
        .then_rejected("timer_fired");
    let cancelled = [
        scheduled(due()),
        TimerEvent::Cancelled(TimerCancelled {
            timer_id: "test".into(),
        }),
    ];
    given::<Timer>(cancelled.clone())
        .when(schedule(due()))
        .then_rejected("timer_cancelled");
    given::<Timer>(cancelled.clone())
        .when(TimerCommand::Cancel {})
        .then([]);
    given::<Timer>(cancelled)
        .at(due())
        .when(fire(None))
        .then([]);
}

#[test]
fn cancelling_calls_a_pending_timer_off() {
    given::<Timer>([scheduled(due())])
        .when(TimerCommand::Cancel {})
        .then([TimerEvent::Cancelled(TimerCancelled {
            timer_id: "test".into(),
        })]);
    given::<Timer>([])
        .when(TimerCommand::Cancel {})
        .then_rejected("unknown_timer");
}

proptest! {
    #[test]
    fn a_replayed_timer_equals_the_live_one(steps in prop::collection::vec(0u8..4, 0..20)) {
        let commands = steps.into_iter().enumerate().map(|(i, step)| {
            let at = default_now() + Duration::minutes(i as i64 * 20);
            let command = match step {
                0 => schedule(at + Duration::minutes(30)),
                1 => fire(None),
                2 => fire(Some(at)),
                _ => TimerCommand::Cancel {},
            };
            (command, at)
        });
        let (live, replayed) = live_and_replayed::<Timer>(commands);
        prop_assert_eq!(live, replayed);
    }
}
