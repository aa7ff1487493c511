//! Appointments: given events / when command / then events.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use steward_actors::appointments::{
    Appointment, AppointmentCommand, AppointmentStatus, TimeWindow,
};
use steward_actors::testing::{default_now, given, live_and_replayed};
use steward_events::domain::EventSet as _;
use steward_events::domain::appointments::{
    AppointmentCancelled, AppointmentConfirmed, AppointmentDeclined, AppointmentEvent,
    AppointmentRequestExpired, AppointmentRequested, AppointmentTimeProposed,
};

fn now() -> DateTime<Utc> {
    default_now()
}

/// `hours` after now.
fn later(hours: i64) -> DateTime<Utc> {
    now() + Duration::hours(hours)
}

fn window(from_hours: i64, to_hours: i64) -> TimeWindow {
    TimeWindow {
        starts_at: later(from_hours),
        ends_at: later(to_hours),
    }
}

/// Tomorrow 09:00–12:00 and the day after 14:00–17:00 (now is 09:00).
fn windows() -> Vec<TimeWindow> {
    vec![window(24, 27), window(53, 56)]
}

fn request_command(
    windows: Vec<TimeWindow>,
    respond_by: Option<DateTime<Utc>>,
) -> AppointmentCommand {
    AppointmentCommand::RequestAppointment {
        provider_name: " Dr. Meyer's practice ".into(),
        provider_contact: Some("Praxis@Meyer.example".into()),
        purpose: "check-up".into(),
        preferred_windows: windows,
        duration_minutes: 30,
        respond_by,
    }
}

fn request() -> AppointmentRequested {
    AppointmentRequested {
        provider_name: "Dr. Meyer's practice".into(),
        provider_contact: Some("Praxis@Meyer.example".into()),
        purpose: "check-up".into(),
        preferred_windows: windows(),
        duration_minutes: 30,
        respond_by: Some(later(48)),
        requested_at: now(),
    }
}

fn requested() -> AppointmentEvent {
    AppointmentEvent::Requested(request())
}

fn proposed(hours: i64, fits: bool) -> AppointmentEvent {
    AppointmentEvent::TimeProposed(AppointmentTimeProposed {
        starts_at: later(hours),
        ends_at: later(hours) + Duration::minutes(30),
        fits_preferences: fits,
    })
}

fn confirmed(hours: i64, fits: bool) -> AppointmentEvent {
    AppointmentEvent::Confirmed(AppointmentConfirmed {
        starts_at: later(hours),
        ends_at: later(hours) + Duration::minutes(30),
        fits_preferences: fits,
        provider_name: "Dr. Meyer's practice".into(),
        provider_contact: Some("Praxis@Meyer.example".into()),
        purpose: "check-up".into(),
    })
}

fn declined() -> AppointmentEvent {
    AppointmentEvent::Declined(AppointmentDeclined {
        reason: "fully booked".into(),
    })
}

fn cancelled(was_confirmed: bool) -> AppointmentEvent {
    AppointmentEvent::Cancelled(AppointmentCancelled {
        reason: None,
        was_confirmed,
    })
}

fn expired() -> AppointmentEvent {
    AppointmentEvent::RequestExpired(AppointmentRequestExpired {
        respond_by: later(48),
    })
}

fn propose(hours: i64) -> AppointmentCommand {
    AppointmentCommand::ProposeTime {
        starts_at: later(hours),
    }
}

fn confirm(hours: Option<i64>) -> AppointmentCommand {
    AppointmentCommand::ConfirmAppointment {
        starts_at: hours.map(later),
    }
}

fn cancel() -> AppointmentCommand {
    AppointmentCommand::CancelAppointment { reason: None }
}

// ----------------------------------------------------- RequestAppointment

#[test]
fn requesting_records_the_request_with_its_windows_in_order() {
    let state = given::<Appointment>([])
        .when(request_command(
            vec![window(53, 56), window(24, 27)],
            Some(later(48)),
        ))
        .then([requested()]);
    assert_eq!(state.status, AppointmentStatus::Requested);
}

#[test]
fn requesting_the_same_again_changes_nothing_and_another_is_refused() {
    given::<Appointment>([requested()])
        .at(later(1))
        .when(request_command(windows(), Some(later(48))))
        .then([]);
    // A retry after the first window began is still the same request.
    given::<Appointment>([requested()])
        .at(later(25))
        .when(request_command(
            vec![window(53, 56), window(24, 27)],
            Some(later(48)),
        ))
        .then([]);
    given::<Appointment>([requested()])
        .when(request_command(vec![window(24, 27)], Some(later(48))))
        .then_rejected("appointment_exists");
}

#[test]
fn a_request_needs_a_provider_a_purpose_and_a_sane_duration() {
    let with = |change: fn(&mut AppointmentCommand)| {
        let mut command = request_command(windows(), None);
        change(&mut command);
        command
    };
    given::<Appointment>([])
        .when(with(|c| {
            if let AppointmentCommand::RequestAppointment { provider_name, .. } = c {
                *provider_name = " ".into();
            }
        }))
        .then_rejected("provider_required");
    given::<Appointment>([])
        .when(with(|c| {
            if let AppointmentCommand::RequestAppointment { purpose, .. } = c {
                *purpose = String::new();
            }
        }))
        .then_rejected("purpose_required");
    given::<Appointment>([])
        .when(with(|c| {
            if let AppointmentCommand::RequestAppointment { purpose, .. } = c {
                *purpose = "x".repeat(501);
            }
        }))
        .then_rejected("text_too_long");
    for minutes in [0, 1441] {
        given::<Appointment>([])
            .when({
                let mut command = request_command(windows(), None);
                if let AppointmentCommand::RequestAppointment {
                    duration_minutes, ..
                } = &mut command
                {
                    *duration_minutes = minutes;
                }
                command
            })
            .then_rejected("duration_invalid");
    }
}

#[test]
fn a_request_needs_future_windows_that_hold_it_and_do_not_overlap() {
    let when_windows =
        |windows: Vec<TimeWindow>| given::<Appointment>([]).when(request_command(windows, None));
    when_windows(vec![]).then_rejected("window_required");
    when_windows(
        (0..51)
            .map(|day| window(24 * day + 1, 24 * day + 2))
            .collect(),
    )
    .then_rejected("too_many_windows");
    when_windows(vec![window(27, 24)]).then_rejected("window_invalid");
    when_windows(vec![window(-1, 2)]).then_rejected("window_in_past");
    when_windows(vec![TimeWindow {
        starts_at: later(24),
        ends_at: later(24) + Duration::minutes(20),
    }])
    .then_rejected("window_shorter_than_duration");
    when_windows(vec![window(24, 27), window(26, 30)]).then_rejected("windows_overlap");
    // Windows that touch do not overlap.
    when_windows(vec![window(24, 27), window(27, 30)]).then_matches(|events| {
        assert_eq!(events.len(), 1);
    });
}

#[test]
fn a_deadline_must_lie_ahead() {
    given::<Appointment>([])
        .when(request_command(windows(), Some(now())))
        .then_rejected("respond_by_in_past");
}

// ------------------------------------------------------------ ProposeTime

#[test]
fn a_proposal_records_whether_it_fits_the_windows() {
    let state = given::<Appointment>([requested()])
        .when(propose(25))
        .then([proposed(25, true)]);
    assert_eq!(state.status, AppointmentStatus::Proposed);
    // 11:45 + 30 minutes runs past the window's end at 12:00.
    given::<Appointment>([requested()])
        .when(AppointmentCommand::ProposeTime {
            starts_at: later(26) + Duration::minutes(45),
        })
        .then([AppointmentEvent::TimeProposed(AppointmentTimeProposed {
            starts_at: later(26) + Duration::minutes(45),
            ends_at: later(27) + Duration::minutes(15),
            fits_preferences: false,
        })]);
}

#[test]
fn a_new_proposal_replaces_the_last_and_the_same_changes_nothing() {
    given::<Appointment>([requested(), proposed(25, true)])
        .when(propose(30))
        .then([proposed(30, false)]);
    given::<Appointment>([requested(), proposed(25, true)])
        .when(propose(25))
        .then([]);
}

#[test]
fn a_proposal_needs_an_open_request_and_a_future_time() {
    given::<Appointment>([])
        .when(propose(25))
        .then_rejected("not_requested");
    given::<Appointment>([requested()])
        .when(propose(-1))
        .then_rejected("time_in_past");
    for closed in [confirmed(25, true), declined(), cancelled(false), expired()] {
        given::<Appointment>([requested(), closed])
            .when(propose(30))
            .then_rejected("not_awaiting_answer");
    }
}

// ----------------------------------------------------- ConfirmAppointment

#[test]
fn confirming_a_time_agrees_the_appointment() {
    let state = given::<Appointment>([requested()])
        .when(confirm(Some(54)))
        .then([confirmed(54, true)]);
    assert_eq!(state.status, AppointmentStatus::Confirmed);
}

#[test]
fn confirming_without_a_time_accepts_the_proposal() {
    given::<Appointment>([requested(), proposed(30, false)])
        .when(confirm(None))
        .then([confirmed(30, false)]);
    given::<Appointment>([requested()])
        .when(confirm(None))
        .then_rejected("time_required");
}

#[test]
fn confirming_again_changes_nothing_but_another_time_is_refused() {
    given::<Appointment>([requested(), confirmed(25, true)])
        .when(confirm(None))
        .then([]);
    given::<Appointment>([requested(), confirmed(25, true)])
        .when(confirm(Some(25)))
        .then([]);
    given::<Appointment>([requested(), confirmed(25, true)])
        .when(confirm(Some(26)))
        .then_rejected("already_confirmed");
}

#[test]
fn confirming_needs_an_open_request_and_a_future_time() {
    given::<Appointment>([])
        .when(confirm(Some(25)))
        .then_rejected("not_requested");
    given::<Appointment>([requested()])
        .when(confirm(Some(0)))
        .then_rejected("time_in_past");
    // A proposal that has passed cannot be accepted.
    given::<Appointment>([requested(), proposed(25, true)])
        .at(later(26))
        .when(confirm(None))
        .then_rejected("time_in_past");
    given::<Appointment>([requested(), declined()])
        .when(confirm(Some(25)))
        .then_rejected("not_awaiting_answer");
    given::<Appointment>([requested(), confirmed(25, true), cancelled(true)])
        .when(confirm(Some(25)))
        .then_rejected("not_awaiting_answer");
}

// ----------------------------------------------------- DeclineAppointment

#[test]
fn the_provider_declining_closes_the_request() {
    let state = given::<Appointment>([requested(), proposed(25, true)])
        .when(AppointmentCommand::DeclineAppointment {
            reason: " fully booked ".into(),
        })
        .then([declined()]);
    assert_eq!(state.status, AppointmentStatus::Declined);
    given::<Appointment>([requested(), declined()])
        .when(AppointmentCommand::DeclineAppointment {
            reason: "fully booked".into(),
        })
        .then([]);
}

#[test]
fn declining_needs_an_open_request() {
    given::<Appointment>([])
        .when(AppointmentCommand::DeclineAppointment {
            reason: String::new(),
        })
        .then_rejected("not_requested");
    given::<Appointment>([requested(), confirmed(25, true)])
        .when(AppointmentCommand::DeclineAppointment {
            reason: String::new(),
        })
        .then_rejected("not_awaiting_answer");
}

// ------------------------------------------------------ CancelAppointment

#[test]
fn cancelling_a_request_or_an_appointment_says_which() {
    given::<Appointment>([requested()])
        .when(AppointmentCommand::CancelAppointment {
            reason: Some(" feeling better ".into()),
        })
        .then([AppointmentEvent::Cancelled(AppointmentCancelled {
            reason: Some("feeling better".into()),
            was_confirmed: false,
        })]);
    let state = given::<Appointment>([requested(), confirmed(25, true)])
        .when(cancel())
        .then([cancelled(true)]);
    assert_eq!(state.status, AppointmentStatus::Cancelled);
    given::<Appointment>([requested(), cancelled(false)])
        .when(cancel())
        .then([]);
}

#[test]
fn what_is_closed_or_over_cannot_be_cancelled() {
    given::<Appointment>([])
        .when(cancel())
        .then_rejected("not_requested");
    given::<Appointment>([requested(), declined()])
        .when(cancel())
        .then_rejected("appointment_closed");
    given::<Appointment>([requested(), expired()])
        .when(cancel())
        .then_rejected("appointment_closed");
    given::<Appointment>([requested(), confirmed(25, true)])
        .at(later(26))
        .when(cancel())
        .then_rejected("appointment_past");
}

// ---------------------------------------------------------- ExpireRequest

#[test]
fn an_unanswered_request_expires_at_its_deadline() {
    let state = given::<Appointment>([requested()])
        .at(later(48))
        .when(AppointmentCommand::ExpireRequest {})
        .then([expired()]);
    assert_eq!(state.status, AppointmentStatus::Expired);
}

#[test]
fn the_expiry_timer_changes_nothing_when_it_no_longer_applies() {
    let fire = |events: Vec<AppointmentEvent>, hours: i64| {
        given::<Appointment>(events)
            .at(later(hours))
            .when(AppointmentCommand::ExpireRequest {})
            .then([]);
    };
    fire(vec![], 48);
    fire(vec![requested()], 47);
    fire(vec![requested(), proposed(25, true)], 49);
    fire(vec![requested(), confirmed(25, true)], 49);
    fire(vec![requested(), cancelled(false)], 49);
    fire(vec![requested(), expired()], 49);
    let no_deadline = AppointmentEvent::Requested(AppointmentRequested {
        respond_by: None,
        ..request()
    });
    fire(vec![no_deadline], 500);
}

// --------------------------------------------------------------- privacy

#[test]
fn the_provider_is_a_subject_by_e_mail_and_their_details_are_personal() {
    let new = requested().to_new_event().expect("encodes");
    let subjects: Vec<String> = new
        .metadata
        .subjects
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(subjects, ["contact:praxis@meyer.example"]);
    assert!(new.data.get("provider_name").is_none());
    assert!(new.data.get("purpose").is_none());
    let new = confirmed(25, true).to_new_event().expect("encodes");
    assert_eq!(new.metadata.subjects.len(), 1);
}

// ------------------------------------------------------------- properties

fn appointment_command() -> impl Strategy<Value = AppointmentCommand> {
    let hours = 1i64..80;
    prop_oneof![
        (prop::option::of(20i64..60), 10u32..200).prop_map(|(deadline, minutes)| {
            let mut command = request_command(windows(), deadline.map(later));
            if let AppointmentCommand::RequestAppointment {
                duration_minutes, ..
            } = &mut command
            {
                *duration_minutes = minutes;
            }
            command
        }),
        hours.clone().prop_map(propose),
        prop::option::of(hours).prop_map(confirm),
        Just(AppointmentCommand::DeclineAppointment {
            reason: "no".into()
        }),
        Just(cancel()),
        Just(AppointmentCommand::ExpireRequest {}),
    ]
}

proptest! {
    #[test]
    fn a_replayed_appointment_equals_the_live_one(
        commands in prop::collection::vec((appointment_command(), 0i64..12), 0..30)
    ) {
        let mut at = now();
        let timed = commands.into_iter().map(|(command, hours)| {
            at += Duration::hours(hours);
            (command, at)
        });
        let (live, replayed) = live_and_replayed::<Appointment>(timed);
        prop_assert_eq!(live, replayed);
    }
}

// ---------------------------------------------------------------- envelope

#[test]
fn an_appointment_takes_its_commands_as_json() {
    use steward_actors::command::{CommandEnvelope, command_types};
    assert_eq!(
        command_types::<Appointment>(),
        [
            "RequestAppointment",
            "ProposeTime",
            "ConfirmAppointment",
            "DeclineAppointment",
            "CancelAppointment",
            "ExpireRequest",
        ]
    );
    let envelope = |command_type: &str, data: serde_json::Value| {
        CommandEnvelope::new(
            steward_events::StreamId::parse("appointment-dentist-1").expect("valid"),
            command_type,
            data,
            "timer",
        )
    };
    assert_eq!(
        envelope("ExpireRequest", serde_json::json!({})).typed::<Appointment>(),
        Ok(AppointmentCommand::ExpireRequest {})
    );
    assert_eq!(
        envelope("ConfirmAppointment", serde_json::json!({})).typed::<Appointment>(),
        Ok(confirm(None))
    );
}
