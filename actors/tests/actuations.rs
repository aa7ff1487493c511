//! Actuations: given events / when command / then events.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use steward_actors::actuations::{
    Actuation, ActuationCommand, ActuationStatus, PlanStepRef, retry_delay,
};
use steward_actors::testing::{default_now, given, live_and_replayed};
use steward_events::domain::actuations::{
    ActuationEvent, ActuationFailed, ActuationRequested, ActuationSimulated, ActuationStarted,
    ActuationSucceeded,
};

fn now() -> DateTime<Utc> {
    default_now()
}

fn action() -> serde_json::Value {
    json!({"topic": "zigbee2mqtt/living_room/set", "payload": {"state": "OFF"}})
}

fn step() -> PlanStepRef {
    PlanStepRef {
        plan_id: "p1".into(),
        step: 0,
    }
}

fn request(dry_run: bool, max_attempts: Option<u32>) -> ActuationCommand {
    ActuationCommand::RequestActuation {
        integration: " mqtt ".into(),
        action: action(),
        plan_step: Some(step()),
        reply: None,
        dry_run,
        max_attempts,
    }
}

fn requested(dry_run: bool, max_attempts: u32) -> ActuationEvent {
    ActuationEvent::Requested(ActuationRequested {
        integration: "mqtt".into(),
        action: action(),
        plan_step: Some(step()),
        reply: None,
        dry_run,
        max_attempts,
        requested_at: now(),
    })
}

fn started(attempt: u32) -> ActuationEvent {
    ActuationEvent::Started(ActuationStarted {
        attempt,
        started_at: now(),
    })
}

fn failed(attempt: u32, retry_at: Option<DateTime<Utc>>) -> ActuationEvent {
    ActuationEvent::Failed(ActuationFailed {
        attempt,
        plan_step: Some(step()),
        reply: None,
        error: "connection refused".into(),
        retry_at,
        latency_ms: 3,
    })
}

fn fail(attempt: u32, transient: bool) -> ActuationCommand {
    ActuationCommand::RecordAttemptFailed {
        attempt,
        error: " connection refused ".into(),
        transient,
        latency_ms: 3,
    }
}

#[test]
fn an_actuation_is_requested_once() {
    let actuation: Actuation = given([])
        .when(request(false, None))
        .then([requested(false, 5)]);
    assert_eq!(actuation.status, ActuationStatus::Pending);
    given::<Actuation>([requested(false, 5)])
        .when(request(false, None))
        .then([]);
    given::<Actuation>([requested(false, 5)])
        .when(request(true, None))
        .then_rejected("actuation_exists");
    given::<Actuation>([])
        .when(request(false, Some(0)))
        .then_rejected("bad_max_attempts");
    given::<Actuation>([])
        .when(ActuationCommand::RequestActuation {
            integration: "mqtt".into(),
            action: json!("off"),
            plan_step: None,
            reply: None,
            dry_run: false,
            max_attempts: None,
        })
        .then_rejected("bad_action");
}

#[test]
fn a_successful_attempt_finishes_it() {
    given::<Actuation>([requested(false, 5)])
        .when(ActuationCommand::StartAttempt {})
        .then([started(1)]);
    let success = ActuationEvent::Succeeded(ActuationSucceeded {
        attempt: 1,
        plan_step: Some(step()),
        reply: None,
        result: json!({"packet_id": 7}),
        latency_ms: 4,
    });
    let actuation = given::<Actuation>([requested(false, 5), started(1)])
        .when(ActuationCommand::RecordAttemptSucceeded {
            attempt: 1,
            result: json!({"packet_id": 7}),
            latency_ms: 4,
        })
        .then([success.clone()]);
    assert_eq!(actuation.status, ActuationStatus::Succeeded);

    let done = [requested(false, 5), started(1), success];
    given::<Actuation>(done.clone())
        .when(ActuationCommand::RecordAttemptSucceeded {
            attempt: 1,
            result: json!({}),
            latency_ms: 1,
        })
        .then([]);
    given::<Actuation>(done)
        .when(ActuationCommand::StartAttempt {})
        .then_rejected("actuation_finished");
}

#[test]
fn transient_failures_are_retried_with_a_growing_back_off_until_attempts_run_out() {
    assert_eq!(retry_delay(1), Duration::seconds(2));
    assert_eq!(retry_delay(2), Duration::seconds(4));
    assert_eq!(retry_delay(4), Duration::seconds(16));
    assert_eq!(retry_delay(30), Duration::minutes(5));

    let actuation = given::<Actuation>([requested(false, 3), started(1)])
        .when(fail(1, true))
        .then([failed(1, Some(now() + Duration::seconds(2)))]);
    assert_eq!(actuation.status, ActuationStatus::Pending);

    let waiting = [
        requested(false, 3),
        started(1),
        failed(1, Some(now() + Duration::seconds(2))),
    ];
    given::<Actuation>(waiting.clone())
        .at(now() + Duration::seconds(1))
        .when(ActuationCommand::StartAttempt {})
        .then_rejected("retry_not_due");
    given::<Actuation>(waiting.clone())
        .at(now() + Duration::seconds(2))
        .when(ActuationCommand::StartAttempt {})
        .then([ActuationEvent::Started(ActuationStarted {
            attempt: 2,
            started_at: now() + Duration::seconds(2),
        })]);

    // The last attempt's failure is final, transient or not.
    let actuation = given::<Actuation>([
        requested(false, 3),
        started(1),
        failed(1, Some(now())),
        started(2),
        failed(2, Some(now())),
        started(3),
    ])
    .when(fail(3, true))
    .then([failed(3, None)]);
    assert_eq!(actuation.status, ActuationStatus::Failed);
}

#[test]
fn a_permanent_failure_is_final_at_once() {
    let actuation = given::<Actuation>([requested(false, 5), started(1)])
        .when(fail(1, false))
        .then([failed(1, None)]);
    assert_eq!(actuation.status, ActuationStatus::Failed);
    given::<Actuation>([requested(false, 5), started(1), failed(1, None)])
        .when(ActuationCommand::StartAttempt {})
        .then_rejected("actuation_finished");
}

#[test]
fn an_attempt_without_an_outcome_must_be_recorded_before_the_next_starts() {
    // The process died after starting attempt 1.
    given::<Actuation>([requested(false, 5), started(1)])
        .when(ActuationCommand::StartAttempt {})
        .then_rejected("attempt_running");
    // Recorded as lost, it is retried like any transient failure.
    given::<Actuation>([requested(false, 5), started(1)])
        .when(fail(1, true))
        .then([failed(1, Some(now() + Duration::seconds(2)))]);
    // A report of another attempt than the current one is refused.
    given::<Actuation>([requested(false, 5), started(1)])
        .when(ActuationCommand::RecordAttemptSucceeded {
            attempt: 2,
            result: json!({}),
            latency_ms: 1,
        })
        .then_rejected("not_current_attempt");
    given::<Actuation>([requested(false, 1), started(1), failed(1, None)])
        .when(ActuationCommand::StartAttempt {})
        .then_rejected("actuation_finished");
}

#[test]
fn a_dry_run_is_simulated_and_never_attempted() {
    given::<Actuation>([requested(true, 5)])
        .when(ActuationCommand::StartAttempt {})
        .then_rejected("dry_run");
    let would = json!({"topic": "zigbee2mqtt/living_room/set", "payload": "{\"state\":\"OFF\"}"});
    let actuation = given::<Actuation>([requested(true, 5)])
        .when(ActuationCommand::RecordSimulation {
            would: would.clone(),
        })
        .then([ActuationEvent::Simulated(ActuationSimulated {
            plan_step: Some(step()),
            reply: None,
            would: would.clone(),
        })]);
    assert_eq!(actuation.status, ActuationStatus::Simulated);
    given::<Actuation>([requested(false, 5)])
        .when(ActuationCommand::RecordSimulation { would })
        .then_rejected("not_a_dry_run");
}

#[test]
fn an_action_that_cannot_be_carried_out_is_refused_without_an_attempt() {
    let refused = ActuationEvent::Failed(ActuationFailed {
        attempt: 0,
        plan_step: Some(step()),
        reply: None,
        error: "no integration named `zigbee` is configured".into(),
        retry_at: None,
        latency_ms: 0,
    });
    let refuse = || ActuationCommand::RefuseActuation {
        error: " no integration named `zigbee` is configured ".into(),
    };
    for dry_run in [true, false] {
        let actuation = given::<Actuation>([requested(dry_run, 5)])
            .when(refuse())
            .then([refused.clone()]);
        assert_eq!(actuation.status, ActuationStatus::Failed);
    }
    given::<Actuation>([requested(false, 5), refused])
        .when(refuse())
        .then([]);
    given::<Actuation>([requested(false, 5), started(1)])
        .when(refuse())
        .then_rejected("attempt_running");
}

#[test]
fn live_and_replayed_actuations_agree() {
    let (live, replayed) = live_and_replayed::<Actuation>([
        (request(false, Some(2)), now()),
        (ActuationCommand::StartAttempt {}, now()),
        (fail(1, true), now()),
        (
            ActuationCommand::StartAttempt {},
            now() + Duration::seconds(3),
        ),
    ]);
    assert_eq!(live, replayed);
    assert_eq!((live.status, live.attempts), (ActuationStatus::Running, 2));
}
