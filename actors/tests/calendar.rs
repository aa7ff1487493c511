//! Calendar: given events / when command / then events, busy times, clashes
//! and the scheduler.

use chrono::{DateTime, Datelike, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use steward_actors::CommandEnvelope;
use steward_actors::calendar::{
    Buffers, Calendar, CalendarCommand, EventDetails, FocusPolicy, Participant, SlotRequest, Span,
    clashes, conflicts, find_free_slots, parse_time_zone, resolve_local,
};
use steward_actors::testing::{default_now, given, live_and_replayed};
use steward_events::StreamId;
use steward_events::domain::DomainEvent as _;
use steward_events::domain::calendar::{
    CalendarAttendee, CalendarEvent, CalendarEventCancelled, CalendarEventRescheduled,
    CalendarEventScheduled, CalendarInviteResponded, CalendarOccurrenceCancelled,
    CalendarRsvpRecorded, CalendarSettingsSet, Rsvp, Weekday, WeeklyHours,
};

// ----------------------------------------------------------------- helpers

fn local(value: &str) -> NaiveDateTime {
    value.parse().expect("a local date-time")
}

fn utc(value: &str) -> DateTime<Utc> {
    value.parse().expect("a UTC instant")
}

fn hm(value: &str) -> NaiveTime {
    NaiveTime::parse_from_str(value, "%H:%M").expect("a time of day")
}

fn hours(day: Weekday, start: &str, end: &str) -> WeeklyHours {
    WeeklyHours {
        day,
        start: hm(start),
        end: hm(end),
    }
}

fn weekdays(start: &str, end: &str) -> Vec<WeeklyHours> {
    let hours = hours(Weekday::Monday, start, end);
    WeeklyHours::weekdays(hours.start, hours.end)
}

fn settings(zone: &str, before: u32, after: u32) -> CalendarEvent {
    CalendarEvent::SettingsSet(CalendarSettingsSet {
        name: "Work".into(),
        time_zone: zone.into(),
        working_hours: weekdays("09:00", "17:00"),
        buffer_before_minutes: before,
        buffer_after_minutes: after,
        focus_blocks: Vec::new(),
    })
}

fn london() -> CalendarEvent {
    settings("Europe/London", 0, 0)
}

/// A one-off event in London in early March, when London keeps UTC.
fn meeting(id: &str, start: &str, end: &str) -> CalendarEventScheduled {
    CalendarEventScheduled {
        event_id: id.into(),
        title: format!("Meeting {id}"),
        start: local(start),
        end: local(end),
        time_zone: "Europe/London".into(),
        end_time_zone: "Europe/London".into(),
        starts_at: local(start).and_utc(),
        ends_at: local(end).and_utc(),
        recurrence: None,
        attendees: Vec::new(),
        location: None,
        organizer: None,
        invitation: false,
        tentative: false,
        source: None,
        double_booked_with: Vec::new(),
    }
}

fn scheduled(event: CalendarEventScheduled) -> CalendarEvent {
    CalendarEvent::Scheduled(event)
}

fn schedule(id: &str, start: &str, end: &str) -> CalendarCommand {
    schedule_with(id, start, end, |_| {})
}

/// `schedule` with some of its details changed.
fn schedule_with(
    id: &str,
    start: &str,
    end: &str,
    change: impl FnOnce(&mut EventDetails),
) -> CalendarCommand {
    let mut details = EventDetails {
        event_id: id.into(),
        title: format!("Meeting {id}"),
        start: local(start),
        end: local(end),
        ..EventDetails::default()
    };
    change(&mut details);
    CalendarCommand::ScheduleEvent(details)
}

fn attendee(email: &str, name: Option<&str>) -> CalendarAttendee {
    CalendarAttendee {
        email: email.into(),
        name: name.map(str::to_owned),
    }
}

fn set_settings(zone: &str) -> CalendarCommand {
    CalendarCommand::SetCalendarSettings {
        name: " Work ".into(),
        time_zone: zone.into(),
        working_hours: weekdays("09:00", "17:00"),
        buffer_before_minutes: 0,
        buffer_after_minutes: 0,
        focus_blocks: Vec::new(),
    }
}

fn weekly_standup() -> CalendarEventScheduled {
    CalendarEventScheduled {
        recurrence: Some("FREQ=WEEKLY;BYDAY=MO".into()),
        title: "Stand-up".into(),
        ..meeting("standup", "2026-03-02T10:00:00", "2026-03-02T10:30:00")
    }
}

fn invitation(id: &str, start: &str, end: &str) -> CalendarEventScheduled {
    CalendarEventScheduled {
        organizer: Some("boss@example.com".into()),
        invitation: true,
        ..meeting(id, start, end)
    }
}

// ------------------------------------------------------ SetCalendarSettings

#[test]
fn setting_the_settings_records_them_sorted() {
    given::<Calendar>([])
        .when(CalendarCommand::SetCalendarSettings {
            name: " Work ".into(),
            time_zone: "Europe/London".into(),
            working_hours: vec![
                hours(Weekday::Tuesday, "09:00", "17:00"),
                hours(Weekday::Monday, "13:00", "17:00"),
                hours(Weekday::Monday, "09:00", "12:00"),
            ],
            buffer_before_minutes: 5,
            buffer_after_minutes: 10,
            focus_blocks: vec![hours(Weekday::Friday, "09:00", "12:00")],
        })
        .then([CalendarEvent::SettingsSet(CalendarSettingsSet {
            name: "Work".into(),
            time_zone: "Europe/London".into(),
            working_hours: vec![
                hours(Weekday::Monday, "09:00", "12:00"),
                hours(Weekday::Monday, "13:00", "17:00"),
                hours(Weekday::Tuesday, "09:00", "17:00"),
            ],
            buffer_before_minutes: 5,
            buffer_after_minutes: 10,
            focus_blocks: vec![hours(Weekday::Friday, "09:00", "12:00")],
        })]);
}

#[test]
fn setting_the_same_settings_again_changes_nothing() {
    given::<Calendar>([london()])
        .when(set_settings("Europe/London"))
        .then([]);
}

#[test]
fn settings_need_a_name_a_known_zone_sane_hours_and_buffers() {
    let settings = |name: &str, zone: &str, after: u32, working: Vec<WeeklyHours>, focus| {
        CalendarCommand::SetCalendarSettings {
            name: name.into(),
            time_zone: zone.into(),
            working_hours: working,
            buffer_before_minutes: 0,
            buffer_after_minutes: after,
            focus_blocks: focus,
        }
    };
    let office = || weekdays("09:00", "17:00");
    let cases = [
        (
            settings("  ", "Europe/London", 0, office(), vec![]),
            "name_required",
        ),
        (
            settings(&"x".repeat(101), "Europe/London", 0, office(), vec![]),
            "name_too_long",
        ),
        (
            settings("Work", "Europe/Atlantis", 0, office(), vec![]),
            "unknown_time_zone",
        ),
        (
            settings("Work", "Europe/London", 481, office(), vec![]),
            "buffer_too_long",
        ),
        (
            settings(
                "Work",
                "Europe/London",
                0,
                vec![hours(Weekday::Monday, "17:00", "09:00")],
                vec![],
            ),
            "hours_invalid",
        ),
        (
            settings(
                "Work",
                "Europe/London",
                0,
                office(),
                vec![
                    hours(Weekday::Monday, "09:00", "11:00"),
                    hours(Weekday::Monday, "10:00", "12:00"),
                ],
            ),
            "hours_overlap",
        ),
    ];
    for (command, rule) in cases {
        given::<Calendar>([]).when(command).then_rejected(rule);
    }
}

// ------------------------------------------------------------ ScheduleEvent

#[test]
fn scheduling_resolves_local_times_in_the_calendar_zone() {
    // New York keeps UTC-5 in early March (summer time starts on the 8th).
    let state = given::<Calendar>([settings("America/New_York", 0, 0)])
        .when(schedule_with(
            "dentist",
            "2026-03-04T09:00:00",
            "2026-03-04T10:00:00",
            |f| {
                f.title = " Dentist ".into();
                f.attendees = vec![
                    attendee(" Ana@Example.com ", Some(" Ana ")),
                    attendee("ana@example.com", Some("Twice")),
                ];
                f.location = Some(" Main St 1 ".into());
                f.source = Some("appointments:dentist".into());
            },
        ))
        .then([scheduled(CalendarEventScheduled {
            title: "Dentist".into(),
            time_zone: "America/New_York".into(),
            end_time_zone: "America/New_York".into(),
            starts_at: utc("2026-03-04T14:00:00Z"),
            ends_at: utc("2026-03-04T15:00:00Z"),
            attendees: vec![attendee("ana@example.com", Some("Ana"))],
            location: Some("Main St 1".into()),
            source: Some("appointments:dentist".into()),
            ..meeting("dentist", "2026-03-04T09:00:00", "2026-03-04T10:00:00")
        })]);
    assert_eq!(state.events["dentist"].title(), "Dentist");
}

#[test]
fn a_flight_ends_in_another_zone() {
    given::<Calendar>([london()])
        .when(schedule_with(
            "flight",
            "2026-03-04T10:00:00",
            "2026-03-04T13:00:00",
            |f| {
                f.end_time_zone = Some("America/New_York".into());
                f.source = Some("travel:nyc/ba117".into());
            },
        ))
        .then([scheduled(CalendarEventScheduled {
            end_time_zone: "America/New_York".into(),
            ends_at: utc("2026-03-04T18:00:00Z"),
            source: Some("travel:nyc/ba117".into()),
            ..meeting("flight", "2026-03-04T10:00:00", "2026-03-04T13:00:00")
        })]);
}

#[test]
fn scheduling_the_same_event_again_changes_nothing() {
    given::<Calendar>([
        london(),
        scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
    ])
    .when(schedule("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00"))
    .then([]);
}

#[test]
fn the_same_event_again_is_a_no_op_even_after_it_moved() {
    given::<Calendar>([
        london(),
        scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
        CalendarEvent::Rescheduled(CalendarEventRescheduled {
            event_id: "a".into(),
            start: local("2026-03-05T10:00:00"),
            end: local("2026-03-05T11:00:00"),
            time_zone: "Europe/London".into(),
            end_time_zone: "Europe/London".into(),
            starts_at: utc("2026-03-05T10:00:00Z"),
            ends_at: utc("2026-03-05T11:00:00Z"),
            double_booked_with: Vec::new(),
        }),
    ])
    .when(schedule("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00"))
    .then([]);
}

#[test]
fn another_event_under_a_taken_id_is_refused() {
    given::<Calendar>([
        london(),
        scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
    ])
    .when(schedule("a", "2026-03-06T10:00:00", "2026-03-06T11:00:00"))
    .then_rejected("event_id_taken");
}

#[test]
fn the_same_source_twice_is_refused() {
    given::<Calendar>([
        london(),
        scheduled(CalendarEventScheduled {
            source: Some("travel:nyc/ba117".into()),
            ..meeting("flight", "2026-03-04T10:00:00", "2026-03-04T13:00:00")
        }),
    ])
    .when(schedule_with(
        "flight-2",
        "2026-03-10T10:00:00",
        "2026-03-10T13:00:00",
        |f| f.source = Some("travel:nyc/ba117".into()),
    ))
    .then_rejected("source_taken");
}

#[test]
fn double_booking_is_refused_naming_the_other_event() {
    let message = given::<Calendar>([
        london(),
        scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
    ])
    .when(schedule("b", "2026-03-04T10:30:00", "2026-03-04T11:30:00"))
    .then_rejected("double_booked");
    assert!(message.contains("Meeting a"), "{message}");
}

#[test]
fn back_to_back_is_fine_without_buffers() {
    given::<Calendar>([
        london(),
        scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
    ])
    .when(schedule("b", "2026-03-04T11:00:00", "2026-03-04T12:00:00"))
    .then([scheduled(meeting(
        "b",
        "2026-03-04T11:00:00",
        "2026-03-04T12:00:00",
    ))]);
}

#[test]
fn buffers_count_as_busy() {
    // 10 minutes after each meeting: the next may start at 11:10.
    let events = || {
        [
            settings("Europe/London", 0, 10),
            scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
        ]
    };
    given::<Calendar>(events())
        .when(schedule("b", "2026-03-04T11:05:00", "2026-03-04T12:00:00"))
        .then_rejected("double_booked");
    given::<Calendar>(events())
        .when(schedule("b", "2026-03-04T09:00:00", "2026-03-04T09:55:00"))
        .then_rejected("double_booked");
    given::<Calendar>(events())
        .when(schedule("b", "2026-03-04T11:10:00", "2026-03-04T12:00:00"))
        .then([scheduled(meeting(
            "b",
            "2026-03-04T11:10:00",
            "2026-03-04T12:00:00",
        ))]);
}

#[test]
fn forcing_a_double_booking_records_whom_it_overlaps() {
    given::<Calendar>([
        london(),
        scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
    ])
    .when(schedule_with(
        "b",
        "2026-03-04T10:30:00",
        "2026-03-04T11:30:00",
        |f| {
            f.force = true;
            f.tentative = true;
        },
    ))
    .then([scheduled(CalendarEventScheduled {
        tentative: true,
        double_booked_with: vec!["a".into()],
        ..meeting("b", "2026-03-04T10:30:00", "2026-03-04T11:30:00")
    })]);
}

#[test]
fn an_invitation_is_recorded_whatever_it_overlaps() {
    given::<Calendar>([
        london(),
        scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
    ])
    .when(schedule_with(
        "invite",
        "2026-03-04T10:30:00",
        "2026-03-04T11:30:00",
        |f| f.organizer = Some("Boss@Example.com".into()),
    ))
    .then([scheduled(CalendarEventScheduled {
        double_booked_with: vec!["a".into()],
        ..invitation("invite", "2026-03-04T10:30:00", "2026-03-04T11:30:00")
    })]);
}

#[test]
fn a_recurring_event_clashes_with_a_later_occurrence() {
    // The stand-up repeats every Monday; a meeting three Mondays later clashes.
    let message = given::<Calendar>([london(), scheduled(weekly_standup())])
        .when(schedule(
            "review",
            "2026-03-23T10:15:00",
            "2026-03-23T11:00:00",
        ))
        .then_rejected("double_booked");
    assert!(message.contains("Stand-up"), "{message}");
    // And a new weekly series clashes with an existing one-off.
    given::<Calendar>([
        london(),
        scheduled(meeting(
            "offsite",
            "2026-04-13T09:00:00",
            "2026-04-13T17:00:00",
        )),
    ])
    .when(schedule_with(
        "standup",
        "2026-03-02T10:00:00",
        "2026-03-02T10:30:00",
        |f| f.recurrence = Some("RRULE:FREQ=WEEKLY;BYDAY=MO".into()),
    ))
    .then_rejected("double_booked");
}

#[test]
fn a_weekly_event_keeps_its_local_time_across_summer_time() {
    let state = given::<Calendar>([london()])
        .when(schedule_with(
            "standup",
            "2026-03-02T10:00:00",
            "2026-03-02T10:30:00",
            |f| {
                f.title = "Stand-up".into();
                f.recurrence = Some(" RRULE:FREQ=WEEKLY;BYDAY=MO ".into());
            },
        ))
        .then([scheduled(weekly_standup())]);
    let busy = state.busy_between(utc("2026-03-20T00:00:00Z"), utc("2026-04-07T00:00:00Z"));
    let starts: Vec<_> = busy.iter().map(|b| b.start).collect();
    // 10:00 GMT, then 10:00 BST = 09:00 UTC after 29 March.
    assert_eq!(
        starts,
        vec![
            utc("2026-03-23T10:00:00Z"),
            utc("2026-03-30T09:00:00Z"),
            utc("2026-04-06T09:00:00Z"),
        ]
    );
    assert!(
        busy.iter()
            .all(|b| b.end - b.start == TimeDelta::minutes(30))
    );
}

#[test]
fn a_repeated_local_time_means_its_earlier_instant() {
    // 01:30 happens twice in London on 25 October 2026: first in BST.
    given::<Calendar>([london()])
        .when(schedule(
            "night",
            "2026-10-25T01:30:00",
            "2026-10-25T02:30:00",
        ))
        .then([scheduled(CalendarEventScheduled {
            starts_at: utc("2026-10-25T00:30:00Z"),
            ends_at: utc("2026-10-25T02:30:00Z"),
            ..meeting("night", "2026-10-25T01:30:00", "2026-10-25T02:30:00")
        })]);
}

#[test]
fn a_skipped_local_time_is_refused() {
    // London jumps from 01:00 to 02:00 on 29 March 2026.
    given::<Calendar>([london()])
        .when(schedule(
            "night",
            "2026-03-29T01:30:00",
            "2026-03-29T03:00:00",
        ))
        .then_rejected("nonexistent_local_time");
}

#[test]
fn scheduling_checks_times_and_zones() {
    let cases = [
        (
            schedule("a", "2026-03-04T10:00:00", "2026-03-04T10:00:00"),
            "end_not_after_start",
        ),
        (
            schedule("a", "2026-03-04T10:00:00", "2026-04-14T10:00:00"),
            "event_too_long",
        ),
        (
            schedule_with("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00", |f| {
                f.time_zone = Some("Mars/Olympus".into());
            }),
            "unknown_time_zone",
        ),
        (
            // 11:00 in New York is 16:00 UTC: after the 15:00 UTC end.
            schedule_with("a", "2026-03-04T11:00:00", "2026-03-04T15:00:00", |f| {
                f.time_zone = Some("America/New_York".into());
                f.end_time_zone = Some("UTC".into());
            }),
            "end_not_after_start",
        ),
    ];
    for (command, rule) in cases {
        given::<Calendar>([london()])
            .when(command)
            .then_rejected(rule);
    }
    given::<Calendar>([])
        .when(schedule("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00"))
        .then_rejected("time_zone_required");
}

#[test]
fn scheduling_without_settings_takes_the_given_zone() {
    given::<Calendar>([])
        .when(schedule_with(
            "a",
            "2026-03-04T10:00:00",
            "2026-03-04T11:00:00",
            |f| f.time_zone = Some("Europe/London".into()),
        ))
        .then([scheduled(meeting(
            "a",
            "2026-03-04T10:00:00",
            "2026-03-04T11:00:00",
        ))]);
}

#[test]
fn scheduling_checks_ids_titles_and_addresses() {
    let cases = [
        (
            schedule("has space", "2026-03-04T10:00:00", "2026-03-04T11:00:00"),
            "event_id_invalid",
        ),
        (
            schedule(" ", "2026-03-04T10:00:00", "2026-03-04T11:00:00"),
            "event_id_invalid",
        ),
        (
            schedule_with("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00", |f| {
                f.title = "  ".into();
            }),
            "title_required",
        ),
        (
            schedule_with("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00", |f| {
                f.title = "x".repeat(301);
            }),
            "title_too_long",
        ),
        (
            schedule_with("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00", |f| {
                f.attendees = vec![attendee("not an address", None)];
            }),
            "invalid_email",
        ),
        (
            schedule_with("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00", |f| {
                f.organizer = Some("nobody".into());
            }),
            "invalid_email",
        ),
    ];
    for (command, rule) in cases {
        given::<Calendar>([london()])
            .when(command)
            .then_rejected(rule);
    }
}

#[test]
fn scheduling_checks_recurrence_rules() {
    let with_rule = |rule: &str| {
        let rule = rule.to_owned();
        schedule_with(
            "a",
            "2026-03-02T10:00:00",
            "2026-03-02T11:00:00",
            move |f| {
                f.recurrence = Some(rule);
            },
        )
    };
    let cases = [
        ("FREQ=SOMETIMES", "invalid_recurrence"),
        ("FREQ=DAILY\nRRULE:FREQ=WEEKLY", "invalid_recurrence"),
        // UNTIL must be in UTC when the start has a zone.
        ("FREQ=DAILY;UNTIL=20260401T000000", "invalid_recurrence"),
        ("FREQ=HOURLY;BYMINUTE=0", "recurrence_too_frequent"),
        // 2 March 2026 is a Monday, not a Tuesday.
        ("FREQ=WEEKLY;BYDAY=TU", "recurrence_not_matching_start"),
    ];
    for (rule, expected) in cases {
        given::<Calendar>([london()])
            .when(with_rule(rule))
            .then_rejected(expected);
    }
    given::<Calendar>([london()])
        .when(with_rule("FREQ=DAILY;COUNT=3"))
        .then_matches(|events| {
            let [CalendarEvent::Scheduled(event)] = events else {
                panic!("expected one scheduled event, got {events:?}");
            };
            assert_eq!(event.recurrence.as_deref(), Some("FREQ=DAILY;COUNT=3"));
        });
}

// ---------------------------------------------------------- RescheduleEvent

fn reschedule(id: &str, start: &str, end: &str) -> CalendarCommand {
    CalendarCommand::RescheduleEvent {
        event_id: id.into(),
        start: local(start),
        end: local(end),
        time_zone: None,
        end_time_zone: None,
        force: false,
    }
}

fn rescheduled(id: &str, start: &str, end: &str, clashing: &[&str]) -> CalendarEvent {
    CalendarEvent::Rescheduled(CalendarEventRescheduled {
        event_id: id.into(),
        start: local(start),
        end: local(end),
        time_zone: "Europe/London".into(),
        end_time_zone: "Europe/London".into(),
        starts_at: local(start).and_utc(),
        ends_at: local(end).and_utc(),
        double_booked_with: clashing.iter().map(|id| (*id).to_owned()).collect(),
    })
}

#[test]
fn rescheduling_moves_the_event_and_resets_answers() {
    let state = given::<Calendar>([
        london(),
        scheduled(CalendarEventScheduled {
            attendees: vec![attendee("ana@example.com", None)],
            ..meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")
        }),
        CalendarEvent::RsvpRecorded(CalendarRsvpRecorded {
            event_id: "a".into(),
            email: "ana@example.com".into(),
            response: Rsvp::Accepted,
        }),
    ])
    .when(reschedule(
        "a",
        "2026-03-04T10:30:00",
        "2026-03-04T11:30:00",
    ))
    .then([rescheduled(
        "a",
        "2026-03-04T10:30:00",
        "2026-03-04T11:30:00",
        &[],
    )]);
    let entry = &state.events["a"];
    assert_eq!(entry.starts_at, utc("2026-03-04T10:30:00Z"));
    assert!(entry.responses.is_empty());
}

#[test]
fn rescheduling_into_another_zone() {
    given::<Calendar>([
        london(),
        scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
    ])
    .when(CalendarCommand::RescheduleEvent {
        event_id: "a".into(),
        start: local("2026-03-04T10:00:00"),
        end: local("2026-03-04T11:00:00"),
        time_zone: Some("Asia/Tokyo".into()),
        end_time_zone: None,
        force: false,
    })
    .then([CalendarEvent::Rescheduled(CalendarEventRescheduled {
        event_id: "a".into(),
        start: local("2026-03-04T10:00:00"),
        end: local("2026-03-04T11:00:00"),
        time_zone: "Asia/Tokyo".into(),
        end_time_zone: "Asia/Tokyo".into(),
        starts_at: utc("2026-03-04T01:00:00Z"),
        ends_at: utc("2026-03-04T02:00:00Z"),
        double_booked_with: Vec::new(),
    })]);
}

#[test]
fn rescheduling_to_the_same_time_changes_nothing() {
    given::<Calendar>([
        london(),
        scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
    ])
    .when(reschedule(
        "a",
        "2026-03-04T10:00:00",
        "2026-03-04T11:00:00",
    ))
    .then([]);
}

#[test]
fn rescheduling_onto_another_event_is_refused_unless_forced() {
    let events = || {
        [
            london(),
            scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
            scheduled(meeting("b", "2026-03-04T12:00:00", "2026-03-04T13:00:00")),
        ]
    };
    given::<Calendar>(events())
        .when(reschedule(
            "b",
            "2026-03-04T10:30:00",
            "2026-03-04T11:30:00",
        ))
        .then_rejected("double_booked");
    given::<Calendar>(events())
        .when(CalendarCommand::RescheduleEvent {
            event_id: "b".into(),
            start: local("2026-03-04T10:30:00"),
            end: local("2026-03-04T11:30:00"),
            time_zone: None,
            end_time_zone: None,
            force: true,
        })
        .then([rescheduled(
            "b",
            "2026-03-04T10:30:00",
            "2026-03-04T11:30:00",
            &["a"],
        )]);
    // Overlapping its own old time is no clash.
    given::<Calendar>(events())
        .when(reschedule(
            "a",
            "2026-03-04T10:30:00",
            "2026-03-04T11:30:00",
        ))
        .then([rescheduled(
            "a",
            "2026-03-04T10:30:00",
            "2026-03-04T11:30:00",
            &[],
        )]);
}

#[test]
fn rescheduling_what_is_not_there_or_cancelled_is_refused() {
    given::<Calendar>([london()])
        .when(reschedule(
            "a",
            "2026-03-04T10:00:00",
            "2026-03-04T11:00:00",
        ))
        .then_rejected("unknown_event");
    given::<Calendar>([
        london(),
        scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
        CalendarEvent::Cancelled(CalendarEventCancelled {
            event_id: "a".into(),
        }),
    ])
    .when(reschedule(
        "a",
        "2026-03-05T10:00:00",
        "2026-03-05T11:00:00",
    ))
    .then_rejected("event_cancelled");
}

#[test]
fn rescheduling_checks_the_new_times_and_the_rule() {
    let events = || [london(), scheduled(weekly_standup())];
    given::<Calendar>(events())
        .when(reschedule(
            "standup",
            "2026-03-03T10:00:00",
            "2026-03-03T10:30:00",
        ))
        .then_rejected("recurrence_not_matching_start");
    given::<Calendar>(events())
        .when(reschedule(
            "standup",
            "2026-03-02T10:00:00",
            "2026-03-02T09:30:00",
        ))
        .then_rejected("end_not_after_start");
}

#[test]
fn moving_a_series_moves_its_cancelled_occurrences() {
    let state = given::<Calendar>([
        london(),
        scheduled(weekly_standup()),
        CalendarEvent::OccurrenceCancelled(CalendarOccurrenceCancelled {
            event_id: "standup".into(),
            occurrence_start: local("2026-03-09T10:00:00"),
            starts_at: utc("2026-03-09T10:00:00Z"),
        }),
    ])
    .when(reschedule(
        "standup",
        "2026-03-02T11:00:00",
        "2026-03-02T11:30:00",
    ))
    .then([rescheduled(
        "standup",
        "2026-03-02T11:00:00",
        "2026-03-02T11:30:00",
        &[],
    )]);
    let busy = state.busy_between(utc("2026-03-01T00:00:00Z"), utc("2026-03-17T00:00:00Z"));
    let starts: Vec<_> = busy.iter().map(|b| b.start).collect();
    assert_eq!(
        starts,
        vec![utc("2026-03-02T11:00:00Z"), utc("2026-03-16T11:00:00Z")]
    );
}

// -------------------------------------------------------------- CancelEvent

#[test]
fn cancelling_frees_the_time_once() {
    let events = || {
        [
            london(),
            scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
        ]
    };
    let state = given::<Calendar>(events())
        .when(CalendarCommand::CancelEvent {
            event_id: "a".into(),
            occurrence_start: None,
        })
        .then([CalendarEvent::Cancelled(CalendarEventCancelled {
            event_id: "a".into(),
        })]);
    assert!(
        state
            .busy_between(utc("2026-03-04T00:00:00Z"), utc("2026-03-05T00:00:00Z"))
            .is_empty()
    );
    let mut cancelled = events().to_vec();
    cancelled.push(CalendarEvent::Cancelled(CalendarEventCancelled {
        event_id: "a".into(),
    }));
    given::<Calendar>(cancelled.clone())
        .when(CalendarCommand::CancelEvent {
            event_id: "a".into(),
            occurrence_start: None,
        })
        .then([]);
    // Its time is free for another event.
    given::<Calendar>(cancelled)
        .when(schedule("b", "2026-03-04T10:00:00", "2026-03-04T11:00:00"))
        .then([scheduled(meeting(
            "b",
            "2026-03-04T10:00:00",
            "2026-03-04T11:00:00",
        ))]);
}

#[test]
fn cancelling_an_unknown_event_is_refused() {
    given::<Calendar>([london()])
        .when(CalendarCommand::CancelEvent {
            event_id: "a".into(),
            occurrence_start: None,
        })
        .then_rejected("unknown_event");
}

#[test]
fn cancelling_one_occurrence_keeps_the_series() {
    let cancel_one = || CalendarCommand::CancelEvent {
        event_id: "standup".into(),
        // After the change of clocks: 10:00 BST is 09:00 UTC.
        occurrence_start: Some(local("2026-03-30T10:00:00")),
    };
    let occurrence_cancelled = CalendarEvent::OccurrenceCancelled(CalendarOccurrenceCancelled {
        event_id: "standup".into(),
        occurrence_start: local("2026-03-30T10:00:00"),
        starts_at: utc("2026-03-30T09:00:00Z"),
    });
    let state = given::<Calendar>([london(), scheduled(weekly_standup())])
        .when(cancel_one())
        .then([occurrence_cancelled.clone()]);
    let busy = state.busy_between(utc("2026-03-23T00:00:00Z"), utc("2026-04-07T00:00:00Z"));
    let starts: Vec<_> = busy.iter().map(|b| b.start).collect();
    assert_eq!(
        starts,
        vec![utc("2026-03-23T10:00:00Z"), utc("2026-04-06T09:00:00Z")]
    );
    given::<Calendar>([london(), scheduled(weekly_standup()), occurrence_cancelled])
        .when(cancel_one())
        .then([]);
}

#[test]
fn cancelling_an_occurrence_needs_a_series_and_an_occurrence() {
    given::<Calendar>([
        london(),
        scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
    ])
    .when(CalendarCommand::CancelEvent {
        event_id: "a".into(),
        occurrence_start: Some(local("2026-03-04T10:00:00")),
    })
    .then_rejected("not_recurring");
    given::<Calendar>([london(), scheduled(weekly_standup())])
        .when(CalendarCommand::CancelEvent {
            event_id: "standup".into(),
            occurrence_start: Some(local("2026-03-10T10:00:00")),
        })
        .then_rejected("not_an_occurrence");
}

// --------------------------------------------------------------- RecordRsvp

fn with_ana() -> [CalendarEvent; 2] {
    [
        london(),
        scheduled(CalendarEventScheduled {
            attendees: vec![attendee("ana@example.com", Some("Ana"))],
            ..meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")
        }),
    ]
}

fn rsvp(email: &str, response: Rsvp) -> CalendarCommand {
    CalendarCommand::RecordRsvp {
        event_id: "a".into(),
        email: email.into(),
        response,
    }
}

#[test]
fn an_attendees_answer_is_recorded() {
    let state = given::<Calendar>(with_ana())
        .when(rsvp(" ANA@example.com", Rsvp::Tentative))
        .then([CalendarEvent::RsvpRecorded(CalendarRsvpRecorded {
            event_id: "a".into(),
            email: "ana@example.com".into(),
            response: Rsvp::Tentative,
        })]);
    assert_eq!(
        state.events["a"].responses.get("ana@example.com"),
        Some(&Rsvp::Tentative)
    );
}

#[test]
fn the_same_answer_again_changes_nothing() {
    let mut events = with_ana().to_vec();
    events.push(CalendarEvent::RsvpRecorded(CalendarRsvpRecorded {
        event_id: "a".into(),
        email: "ana@example.com".into(),
        response: Rsvp::Declined,
    }));
    given::<Calendar>(events)
        .when(rsvp("ana@example.com", Rsvp::Declined))
        .then([]);
}

#[test]
fn answers_come_from_attendees_of_open_events() {
    given::<Calendar>(with_ana())
        .when(rsvp("bob@example.com", Rsvp::Accepted))
        .then_rejected("not_an_attendee");
    given::<Calendar>(with_ana())
        .when(rsvp("bob", Rsvp::Accepted))
        .then_rejected("invalid_email");
    let mut cancelled = with_ana().to_vec();
    cancelled.push(CalendarEvent::Cancelled(CalendarEventCancelled {
        event_id: "a".into(),
    }));
    given::<Calendar>(cancelled)
        .when(rsvp("ana@example.com", Rsvp::Accepted))
        .then_rejected("event_cancelled");
    given::<Calendar>([london()])
        .when(rsvp("ana@example.com", Rsvp::Accepted))
        .then_rejected("unknown_event");
}

// ---------------------------------------------------------- RespondToInvite

fn respond(id: &str, response: Rsvp, force: bool) -> CalendarCommand {
    CalendarCommand::RespondToInvite {
        event_id: id.into(),
        response,
        force,
    }
}

fn responded(id: &str, response: Rsvp, clashing: &[&str]) -> CalendarEvent {
    CalendarEvent::InviteResponded(CalendarInviteResponded {
        event_id: id.into(),
        response,
        double_booked_with: clashing.iter().map(|id| (*id).to_owned()).collect(),
    })
}

#[test]
fn accepting_an_invitation_records_it() {
    let state = given::<Calendar>([
        london(),
        scheduled(invitation(
            "invite",
            "2026-03-04T10:00:00",
            "2026-03-04T11:00:00",
        )),
    ])
    .when(respond("invite", Rsvp::Accepted, false))
    .then([responded("invite", Rsvp::Accepted, &[])]);
    assert_eq!(state.events["invite"].own_response, Some(Rsvp::Accepted));
}

#[test]
fn declining_an_invitation_frees_the_time() {
    let state = given::<Calendar>([
        london(),
        scheduled(invitation(
            "invite",
            "2026-03-04T10:00:00",
            "2026-03-04T11:00:00",
        )),
    ])
    .when(respond("invite", Rsvp::Declined, false))
    .then([responded("invite", Rsvp::Declined, &[])]);
    assert!(
        state
            .busy_between(utc("2026-03-04T00:00:00Z"), utc("2026-03-05T00:00:00Z"))
            .is_empty()
    );
}

#[test]
fn accepting_a_clashing_invitation_is_refused_unless_forced() {
    let events = || {
        [
            london(),
            scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
            scheduled(CalendarEventScheduled {
                double_booked_with: vec!["a".into()],
                ..invitation("invite", "2026-03-04T10:30:00", "2026-03-04T11:30:00")
            }),
        ]
    };
    given::<Calendar>(events())
        .when(respond("invite", Rsvp::Tentative, false))
        .then_rejected("double_booked");
    given::<Calendar>(events())
        .when(respond("invite", Rsvp::Accepted, true))
        .then([responded("invite", Rsvp::Accepted, &["a"])]);
    given::<Calendar>(events())
        .when(respond("invite", Rsvp::Declined, false))
        .then([responded("invite", Rsvp::Declined, &[])]);
}

#[test]
fn answering_needs_an_open_invitation_and_a_new_answer() {
    given::<Calendar>([
        london(),
        scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
    ])
    .when(respond("a", Rsvp::Accepted, false))
    .then_rejected("not_an_invite");
    given::<Calendar>([london()])
        .when(respond("invite", Rsvp::Accepted, false))
        .then_rejected("unknown_event");
    let answered = || {
        vec![
            london(),
            scheduled(invitation(
                "invite",
                "2026-03-04T10:00:00",
                "2026-03-04T11:00:00",
            )),
            responded("invite", Rsvp::Accepted, &[]),
        ]
    };
    given::<Calendar>(answered())
        .when(respond("invite", Rsvp::Accepted, false))
        .then([]);
    let mut cancelled = answered();
    cancelled.push(CalendarEvent::Cancelled(CalendarEventCancelled {
        event_id: "invite".into(),
    }));
    given::<Calendar>(cancelled)
        .when(respond("invite", Rsvp::Declined, false))
        .then_rejected("event_cancelled");
}

// -------------------------------------------------------------- ProposeSlot

fn propose(id: &str, not_before: &str, not_after: &str) -> CalendarCommand {
    CalendarCommand::ProposeSlot {
        event_id: id.into(),
        title: "Maintenance: service (boiler)".into(),
        duration_minutes: 60,
        not_before: utc(not_before),
        not_after: utc(not_after),
        source: Some("maintenance:boiler/service/2026-03-03".into()),
    }
}

/// The tentative event a proposal puts in London, where March keeps UTC.
fn proposed(id: &str, start: &str, end: &str) -> CalendarEvent {
    scheduled(CalendarEventScheduled {
        title: "Maintenance: service (boiler)".into(),
        tentative: true,
        source: Some("maintenance:boiler/service/2026-03-03".into()),
        ..meeting(id, start, end)
    })
}

#[test]
fn a_proposed_slot_is_the_best_free_hour_held_tentatively() {
    // Tuesday 3 March, busy 10:00–12:00: 09:00 sits on the edge of the
    // working day, so the hour after the meeting ranks first.
    let state = given::<Calendar>([
        london(),
        scheduled(meeting("a", "2026-03-03T10:00:00", "2026-03-03T12:00:00")),
    ])
    .when(propose(
        "service",
        "2026-03-03T00:00:00Z",
        "2026-03-06T00:00:00Z",
    ))
    .then([proposed(
        "service",
        "2026-03-03T12:00:00",
        "2026-03-03T13:00:00",
    )]);
    assert!(state.events["service"].scheduled.tentative);
}

#[test]
fn a_proposed_slot_starts_no_earlier_than_the_decision() {
    // Decided Monday 13:20: the search starts then, not at midnight, and
    // ranks times near its start as near the start of a working day.
    given::<Calendar>([london()])
        .at(utc("2026-03-02T13:20:00Z"))
        .when(propose(
            "service",
            "2026-03-02T00:00:00Z",
            "2026-03-06T00:00:00Z",
        ))
        .then([proposed(
            "service",
            "2026-03-02T14:30:00",
            "2026-03-02T15:30:00",
        )]);
}

#[test]
fn without_working_hours_a_proposal_keeps_to_the_usual_week_in_the_calendar_zone() {
    let mut no_hours = CalendarSettingsSet {
        name: "Home".into(),
        time_zone: "America/New_York".into(),
        working_hours: Vec::new(),
        buffer_before_minutes: 0,
        buffer_after_minutes: 0,
        focus_blocks: Vec::new(),
    };
    // From Saturday 7 March: Monday 9 March, New York now on summer time
    // (UTC-4); 10:00 is the first hour clear of the day's edge.
    let state = given::<Calendar>([CalendarEvent::SettingsSet(no_hours.clone())])
        .when(propose(
            "service",
            "2026-03-07T00:00:00Z",
            "2026-03-12T00:00:00Z",
        ))
        .then_matches(|events| {
            let [CalendarEvent::Scheduled(event)] = events else {
                panic!("expected one scheduled event, got {events:?}");
            };
            assert_eq!(event.start, local("2026-03-09T10:00:00"));
            assert_eq!(event.time_zone, "America/New_York");
            assert_eq!(event.starts_at, utc("2026-03-09T14:00:00Z"));
            assert!(event.tentative);
        });
    assert_eq!(state.events.len(), 1);
    // Working hours of its own bound it instead: Sundays only.
    no_hours.working_hours = vec![hours(Weekday::Sunday, "12:00", "14:00")];
    given::<Calendar>([CalendarEvent::SettingsSet(no_hours)])
        .when(propose(
            "service",
            "2026-03-07T00:00:00Z",
            "2026-03-12T00:00:00Z",
        ))
        .then_matches(|events| {
            let [CalendarEvent::Scheduled(event)] = events else {
                panic!("expected one scheduled event, got {events:?}");
            };
            assert_eq!(event.start.date(), local("2026-03-08T00:00:00").date());
        });
}

#[test]
fn a_busy_window_has_no_free_slot() {
    given::<Calendar>([
        london(),
        scheduled(meeting(
            "all-day",
            "2026-03-03T09:00:00",
            "2026-03-03T17:00:00",
        )),
    ])
    .when(propose(
        "service",
        "2026-03-03T00:00:00Z",
        "2026-03-04T00:00:00Z",
    ))
    .then_rejected("no_free_slot");
    // A window that passed before the decision has none either.
    given::<Calendar>([london()])
        .when(propose(
            "service",
            "2026-02-23T00:00:00Z",
            "2026-02-28T00:00:00Z",
        ))
        .then_rejected("no_free_slot");
}

#[test]
fn proposing_the_same_event_again_changes_nothing() {
    let first = proposed("service", "2026-03-03T12:00:00", "2026-03-03T13:00:00");
    given::<Calendar>([london(), first.clone()])
        .when(propose(
            "service",
            "2026-03-10T00:00:00Z",
            "2026-03-13T00:00:00Z",
        ))
        .then([]);
    // Nor once the person cancelled it.
    given::<Calendar>([
        london(),
        first,
        CalendarEvent::Cancelled(CalendarEventCancelled {
            event_id: "service".into(),
        }),
    ])
    .when(propose(
        "service",
        "2026-03-03T00:00:00Z",
        "2026-03-06T00:00:00Z",
    ))
    .then([]);
}

#[test]
fn a_proposal_needs_a_duration_a_window_a_zone_and_a_free_source() {
    let with = |change: &dyn Fn(&mut CalendarCommand)| {
        let mut command = propose("service", "2026-03-03T00:00:00Z", "2026-03-06T00:00:00Z");
        change(&mut command);
        command
    };
    given::<Calendar>([london()])
        .when(with(&|c| {
            if let CalendarCommand::ProposeSlot {
                duration_minutes, ..
            } = c
            {
                *duration_minutes = 0;
            }
        }))
        .then_rejected("duration_invalid");
    given::<Calendar>([london()])
        .when(with(&|c| {
            if let CalendarCommand::ProposeSlot {
                not_after,
                not_before,
                ..
            } = c
            {
                *not_after = *not_before;
            }
        }))
        .then_rejected("window_invalid");
    given::<Calendar>([london()])
        .when(with(&|c| {
            if let CalendarCommand::ProposeSlot { title, .. } = c {
                *title = " ".into();
            }
        }))
        .then_rejected("title_required");
    given::<Calendar>([london()])
        .when(with(&|c| {
            if let CalendarCommand::ProposeSlot { event_id, .. } = c {
                *event_id = "a b".into();
            }
        }))
        .then_rejected("event_id_invalid");
    given::<Calendar>([])
        .when(with(&|_| {}))
        .then_rejected("time_zone_required");
    given::<Calendar>([
        london(),
        proposed("other", "2026-03-03T12:00:00", "2026-03-03T13:00:00"),
    ])
    .when(with(&|_| {}))
    .then_rejected("source_taken");
}

#[test]
fn a_proposal_arrives_as_an_envelope() {
    let envelope: CommandEnvelope = serde_json::from_value(serde_json::json!({
        "command_id": "saga:maintenance_calendar:x:propose",
        "stream_id": "calendar-main",
        "command_type": "ProposeSlot",
        "data": {
            "event_id": "service",
            "title": "Maintenance: service (boiler)",
            "duration_minutes": 60,
            "not_before": "2026-03-03T00:00:00Z",
            "not_after": "2026-03-06T00:00:00Z",
            "source": "maintenance:boiler/service/2026-03-03"
        },
        "actor": "saga:maintenance_calendar"
    }))
    .expect("an envelope");
    assert_eq!(
        envelope.typed::<Calendar>().expect("a calendar command"),
        propose("service", "2026-03-03T00:00:00Z", "2026-03-06T00:00:00Z")
    );
}

// ---------------------------------------------------------- time and clashes

#[test]
fn local_times_resolve_with_the_zone_database() {
    let new_york = parse_time_zone("America/New_York").expect("a zone");
    // 8 March 2026: 02:00 jumps to 03:00; 1 November: 01:00–02:00 twice.
    assert_eq!(
        resolve_local(local("2026-03-08T02:30:00"), new_york)
            .expect_err("skipped")
            .rule,
        "nonexistent_local_time"
    );
    assert_eq!(
        resolve_local(local("2026-11-01T01:30:00"), new_york).expect("resolves"),
        utc("2026-11-01T05:30:00Z")
    );
    assert_eq!(
        parse_time_zone("Nowhere/Special")
            .expect_err("unknown")
            .rule,
        "unknown_time_zone"
    );
}

#[test]
fn clashes_are_found_across_calendars_with_their_buffers() {
    let work = given::<Calendar>([
        settings("Europe/London", 0, 15),
        scheduled(meeting("a", "2026-03-04T10:00:00", "2026-03-04T11:00:00")),
    ])
    .state()
    .clone();
    let home = given::<Calendar>([settings("Europe/London", 0, 0), scheduled(weekly_standup())])
        .state()
        .clone();
    let calendars = [("work", &work), ("home", &home)];
    // 11:10 falls into the 15 minutes kept after `a`.
    let found = clashes(
        calendars,
        Span::new(utc("2026-03-04T11:10:00Z"), utc("2026-03-04T12:00:00Z")),
        Buffers::default(),
    );
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].calendar.as_str(), found[0].event_id.as_str()),
        ("work", "a")
    );
    // The stand-up's occurrence on 9 March.
    let found = clashes(
        calendars,
        Span::new(utc("2026-03-09T09:00:00Z"), utc("2026-03-09T10:05:00Z")),
        Buffers::default(),
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].event_id, "standup");
    assert_eq!(found[0].start, utc("2026-03-09T10:00:00Z"));
    // Ending at 10:00 is fine without a buffer, not with 5 minutes after.
    let before = Span::new(utc("2026-03-09T09:00:00Z"), utc("2026-03-09T10:00:00Z"));
    assert!(clashes(calendars, before, Buffers::default()).is_empty());
    assert_eq!(clashes(calendars, before, Buffers::minutes(0, 5)).len(), 1);
}

// --------------------------------------------------------------- scheduling

fn calendar_of(events: impl IntoIterator<Item = CalendarEvent>) -> Calendar {
    given::<Calendar>(events).state().clone()
}

#[test]
fn slots_fit_london_and_new_york_working_hours() {
    // Wednesday 4 March: London 09–17 UTC, New York 14–22 UTC.
    let work = calendar_of([
        london(),
        scheduled(meeting("a", "2026-03-04T14:00:00", "2026-03-04T15:00:00")),
    ]);
    let request = SlotRequest {
        max_results: 10,
        ..SlotRequest::new(
            TimeDelta::minutes(30),
            utc("2026-03-04T00:00:00Z"),
            utc("2026-03-05T00:00:00Z"),
        )
        .with(Participant::new("America/New_York").expect("a zone"))
    };
    let slots = find_free_slots(&request, &[&work]);
    let spans: Vec<_> = slots.iter().map(|s| (s.start, s.end)).collect();
    // Only 15:00–17:00 UTC is left: four half hours.
    let mut sorted = spans.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            (utc("2026-03-04T15:00:00Z"), utc("2026-03-04T15:30:00Z")),
            (utc("2026-03-04T15:30:00Z"), utc("2026-03-04T16:00:00Z")),
            (utc("2026-03-04T16:00:00Z"), utc("2026-03-04T16:30:00Z")),
            (utc("2026-03-04T16:30:00Z"), utc("2026-03-04T17:00:00Z")),
        ]
    );
    // Right after the meeting, an hour into New York's day and two before
    // London's end, packs best.
    assert_eq!(spans[0].0, utc("2026-03-04T15:00:00Z"));
    assert!(slots.windows(2).all(|w| w[0].penalty <= w[1].penalty));
}

#[test]
fn slots_keep_the_buffers_and_avoid_focus_time() {
    let work = calendar_of([
        CalendarEvent::SettingsSet(CalendarSettingsSet {
            name: "Work".into(),
            time_zone: "Europe/London".into(),
            working_hours: weekdays("09:00", "17:00"),
            buffer_before_minutes: 0,
            buffer_after_minutes: 15,
            focus_blocks: vec![hours(Weekday::Wednesday, "09:00", "12:00")],
        }),
        scheduled(meeting("a", "2026-03-04T12:00:00", "2026-03-04T13:00:00")),
    ]);
    let request = SlotRequest {
        max_results: 40,
        ..SlotRequest::new(
            TimeDelta::minutes(60),
            utc("2026-03-04T00:00:00Z"),
            utc("2026-03-05T00:00:00Z"),
        )
    };
    let slots = find_free_slots(&request, &[&work]);
    assert!(!slots.is_empty());
    for slot in &slots {
        assert!(
            slot.end <= utc("2026-03-04T12:00:00Z") || slot.start >= utc("2026-03-04T13:15:00Z"),
            "{slot:?} is within the meeting or its buffer"
        );
    }
    // The afternoon ranks before the focus morning.
    assert!(slots[0].start >= utc("2026-03-04T13:15:00Z"), "{slots:?}");
    assert!(slots.iter().any(|s| s.score.focus_minutes > 0));
    // Excluded, focus time is never proposed.
    let strict = SlotRequest {
        focus: FocusPolicy::Exclude,
        ..request
    };
    let slots = find_free_slots(&strict, &[&work]);
    assert!(!slots.is_empty());
    assert!(slots.iter().all(|s| s.start >= utc("2026-03-04T12:00:00Z")));
}

#[test]
fn an_empty_request_proposes_nothing() {
    let work = calendar_of([london()]);
    let window = (utc("2026-03-04T00:00:00Z"), utc("2026-03-05T00:00:00Z"));
    let nothing = [
        SlotRequest::new(TimeDelta::zero(), window.0, window.1),
        SlotRequest::new(
            TimeDelta::hours(2),
            window.0,
            window.0 + TimeDelta::hours(1),
        ),
        SlotRequest {
            max_results: 0,
            ..SlotRequest::new(TimeDelta::hours(1), window.0, window.1)
        },
        // Tokyo's working day ends before London's starts.
        SlotRequest::new(TimeDelta::hours(1), window.0, window.1)
            .with(Participant::new("Asia/Tokyo").expect("a zone")),
    ];
    for request in nothing {
        assert!(
            find_free_slots(&request, &[&work]).is_empty(),
            "{request:?}"
        );
    }
}

// ------------------------------------------------------------- properties

const ZONES: [&str; 4] = [
    "Europe/London",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
];

fn zone_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(ZONES.to_vec())
}

/// Around the 2026 changes of clocks: Sydney's on 5 April and 4 October,
/// London's on 29 March and 25 October, New York's on 8 March and
/// 1 November.
fn around_a_change() -> impl Strategy<Value = NaiveDateTime> {
    let starts = prop::sample::select(vec![
        local("2026-03-05T00:00:00"),
        local("2026-03-26T00:00:00"),
        local("2026-04-02T00:00:00"),
        local("2026-10-01T00:00:00"),
        local("2026-10-22T00:00:00"),
        local("2026-10-29T00:00:00"),
    ]);
    (starts, 0i64..(7 * 96)).prop_map(|(start, quarters)| start + TimeDelta::minutes(15 * quarters))
}

/// Weekly hours from 04:00 on: every change of clocks in [`ZONES`] happens
/// between 01:00 and 03:00, and a span edge the clocks skip has no single
/// reading to check against.
fn weekly_hours() -> impl Strategy<Value = Vec<WeeklyHours>> {
    let day = prop::sample::select(vec![
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ]);
    prop::collection::vec((day, 4u32..20, 1u32..10), 0..8).prop_map(|spans| {
        spans
            .into_iter()
            .filter_map(|(day, start, length)| {
                let end = (start + length).min(23);
                (end > start).then(|| WeeklyHours {
                    day,
                    start: NaiveTime::from_hms_opt(start, 0, 0).expect("an hour"),
                    end: NaiveTime::from_hms_opt(end, 30, 0).expect("an hour"),
                })
            })
            .collect()
    })
}

fn calendar_command() -> impl Strategy<Value = CalendarCommand> {
    let id = prop::sample::select(vec!["a", "b", "c", "standup"]);
    let rule = prop::option::of(prop::sample::select(vec![
        "FREQ=DAILY;COUNT=5",
        "FREQ=WEEKLY",
        "FREQ=WEEKLY;BYDAY=MO,WE",
        "FREQ=MONTHLY",
    ]));
    let response = prop::sample::select(vec![Rsvp::Accepted, Rsvp::Declined, Rsvp::Tentative]);
    let email = prop::sample::select(vec!["ana@example.com", "bob@example.com"]);
    prop_oneof![
        (
            zone_name(),
            0u32..30,
            0u32..30,
            weekly_hours(),
            weekly_hours()
        )
            .prop_map(|(zone, before, after, working_hours, focus_blocks)| {
                CalendarCommand::SetCalendarSettings {
                    name: "Work".into(),
                    time_zone: zone.into(),
                    working_hours,
                    buffer_before_minutes: before,
                    buffer_after_minutes: after,
                    focus_blocks,
                }
            }),
        (
            id.clone(),
            around_a_change(),
            1i64..12,
            prop::option::of(zone_name()),
            rule,
            prop::option::of(email.clone()),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(id, start, quarters, zone, rule, organizer, force, invited)| {
                    CalendarCommand::ScheduleEvent(EventDetails {
                        event_id: id.into(),
                        title: format!("Event {id}"),
                        start,
                        end: start + TimeDelta::minutes(15 * quarters),
                        time_zone: zone.map(str::to_owned),
                        recurrence: rule.map(str::to_owned),
                        attendees: vec![attendee("ana@example.com", Some("Ana"))],
                        location: Some("Room 1".into()),
                        organizer: organizer.filter(|_| invited).map(str::to_owned),
                        force,
                        ..EventDetails::default()
                    })
                }
            ),
        (id.clone(), around_a_change(), 1i64..12, any::<bool>()).prop_map(
            |(id, start, quarters, force)| CalendarCommand::RescheduleEvent {
                event_id: id.into(),
                start,
                end: start + TimeDelta::minutes(15 * quarters),
                time_zone: None,
                end_time_zone: None,
                force,
            }
        ),
        (id.clone(), prop::option::of(around_a_change())).prop_map(|(id, occurrence)| {
            CalendarCommand::CancelEvent {
                event_id: id.into(),
                occurrence_start: occurrence,
            }
        }),
        (id.clone(), email, response.clone()).prop_map(|(id, email, response)| {
            CalendarCommand::RecordRsvp {
                event_id: id.into(),
                email: email.into(),
                response,
            }
        }),
        (id.clone(), response, any::<bool>()).prop_map(|(id, response, force)| {
            CalendarCommand::RespondToInvite {
                event_id: id.into(),
                response,
                force,
            }
        }),
        (id, around_a_change(), 1u32..12, 1i64..5).prop_map(|(id, from, quarters, days)| {
            let not_before = from.and_utc();
            CalendarCommand::ProposeSlot {
                event_id: id.into(),
                title: format!("Proposed {id}"),
                duration_minutes: 15 * quarters,
                not_before,
                not_after: not_before + TimeDelta::days(days),
                source: None,
            }
        }),
    ]
}

/// Whether `slot` lies inside the working `hours`, read in `zone` the way
/// a person would: its start and end on the same local day, covered by the
/// hours of that weekday (spans that touch join up).
fn inside_working_hours(slot: &Span, zone: Tz, hours: &[WeeklyHours]) -> bool {
    let start = slot.start.with_timezone(&zone);
    let end = slot.end.with_timezone(&zone);
    if start.date_naive() != end.date_naive() {
        return false;
    }
    let day = Weekday::from(start.weekday());
    let mut spans: Vec<&WeeklyHours> = hours.iter().filter(|span| span.day == day).collect();
    spans.sort_by_key(|span| span.start);
    let mut covered_until = start.time();
    let mut inside = false;
    for span in spans {
        if span.start <= covered_until && covered_until < span.end {
            covered_until = span.end;
            inside = true;
        }
    }
    inside && end.time() <= covered_until
}

/// A scheduling problem near a change of clocks: calendars whose events
/// (forced, so they pile up) fall into the window, participants in several
/// zones, and a request.
#[derive(Debug)]
struct SchedulingCase {
    calendars: Vec<Calendar>,
    participants: Vec<Participant>,
    request: SlotRequest,
}

fn near(anchor: NaiveDateTime) -> impl Strategy<Value = NaiveDateTime> {
    (0i64..(8 * 96)).prop_map(move |quarters| anchor + TimeDelta::minutes(15 * quarters))
}

fn busy_calendar(anchor: NaiveDateTime) -> impl Strategy<Value = Calendar> {
    let working = prop_oneof![
        Just(Vec::new()),
        Just(weekdays("08:00", "18:00")),
        Just(weekdays("06:00", "22:00")),
    ];
    let rule = prop::option::weighted(
        0.3,
        prop::sample::select(vec![
            "FREQ=DAILY",
            "FREQ=DAILY;COUNT=3",
            "FREQ=WEEKLY",
            "FREQ=MONTHLY",
        ]),
    );
    let event = (
        near(anchor - TimeDelta::days(1)),
        1i64..16,
        prop::option::of(zone_name()),
        rule,
        any::<bool>(),
    );
    (
        zone_name(),
        0u32..30,
        0u32..30,
        working,
        weekly_hours(),
        prop::collection::vec(event, 0..30),
        prop::collection::vec((0usize..30, any::<bool>()), 0..4),
    )
        .prop_map(
            move |(zone, before, after, working_hours, focus_blocks, events, undo)| {
                let mut commands = vec![CalendarCommand::SetCalendarSettings {
                    name: "Work".into(),
                    time_zone: zone.into(),
                    working_hours,
                    buffer_before_minutes: before,
                    buffer_after_minutes: after,
                    focus_blocks,
                }];
                for (n, (start, quarters, zone, rule, invited)) in events.into_iter().enumerate() {
                    commands.push(CalendarCommand::ScheduleEvent(EventDetails {
                        event_id: format!("e{n}"),
                        title: format!("Event {n}"),
                        start,
                        end: start + TimeDelta::minutes(15 * quarters),
                        time_zone: zone.map(str::to_owned),
                        recurrence: rule.map(str::to_owned),
                        organizer: invited.then(|| "boss@example.com".to_owned()),
                        force: true,
                        ..EventDetails::default()
                    }));
                }
                // Cancelled events and declined invitations free their time.
                for (n, cancel) in undo {
                    commands.push(if cancel {
                        CalendarCommand::CancelEvent {
                            event_id: format!("e{n}"),
                            occurrence_start: None,
                        }
                    } else {
                        CalendarCommand::RespondToInvite {
                            event_id: format!("e{n}"),
                            response: Rsvp::Declined,
                            force: false,
                        }
                    });
                }
                live_and_replayed::<Calendar>(commands.into_iter().map(|c| (c, default_now()))).0
            },
        )
}

fn participant() -> impl Strategy<Value = Participant> {
    let custom = (4u32..12, 4u32..12).prop_map(|(start, length)| {
        let end = (start + length).min(23);
        weekdays(&format!("{start:02}:00"), &format!("{end:02}:30"))
    });
    (zone_name(), prop::option::of(custom)).prop_map(|(zone, hours)| {
        let participant = Participant::new(zone).expect("a zone");
        match hours {
            Some(hours) => participant.working(hours),
            None => participant,
        }
    })
}

fn scheduling_case() -> impl Strategy<Value = SchedulingCase> {
    let anchors = prop::sample::select(vec![
        local("2026-03-05T00:00:00"),
        local("2026-03-26T00:00:00"),
        local("2026-04-02T00:00:00"),
        local("2026-10-01T00:00:00"),
        local("2026-10-22T00:00:00"),
        local("2026-10-29T00:00:00"),
    ]);
    anchors.prop_flat_map(|anchor| {
        (
            prop::collection::vec(busy_calendar(anchor), 1..4),
            prop::collection::vec(participant(), 0..3),
            0i64..96,
            1i64..8,
            1i64..9,
            prop::option::of((0u32..45, 0u32..45)),
            any::<bool>(),
        )
            .prop_map(
                move |(calendars, participants, quarters, days, duration, buffers, exclude)| {
                    let window_start = (anchor + TimeDelta::minutes(15 * quarters)).and_utc();
                    let request = SlotRequest {
                        duration: TimeDelta::minutes(15 * duration),
                        window_start,
                        window_end: window_start + TimeDelta::days(days),
                        participants: participants.clone(),
                        buffers: buffers.map(|(before, after)| Buffers::minutes(before, after)),
                        max_results: 20,
                        step: TimeDelta::minutes(15),
                        focus: if exclude {
                            FocusPolicy::Exclude
                        } else {
                            FocusPolicy::Avoid
                        },
                    };
                    SchedulingCase {
                        calendars,
                        participants,
                        request,
                    }
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_replayed_calendar_equals_the_live_one(
        commands in prop::collection::vec(calendar_command(), 0..30)
    ) {
        let (live, replayed) =
            live_and_replayed::<Calendar>(commands.into_iter().map(|c| (c, default_now())));
        prop_assert_eq!(live, replayed);
    }

    #[test]
    fn the_scheduler_never_proposes_a_busy_or_unworkable_slot(case in scheduling_case()) {
        let SchedulingCase { calendars, participants, request } = case;
        let exclude_focus = request.focus == FocusPolicy::Exclude;
        let refs: Vec<&Calendar> = calendars.iter().collect();
        let slots = find_free_slots(&request, &refs);
        let kept = request.buffers.unwrap_or_else(|| {
            calendars.iter().fold(Buffers::default(), |all, c| all.max(c.buffers()))
        });
        for (i, slot) in slots.iter().enumerate() {
            let span = slot.span();
            prop_assert_eq!(span.duration(), request.duration);
            prop_assert!(request.window_start <= span.start && span.end <= request.window_end);
            for other in &slots[i + 1..] {
                prop_assert!(!span.overlaps(&other.span()), "{:?} overlaps {:?}", slot, other);
            }
            for calendar in &calendars {
                let own = calendar.buffers();
                let wide = TimeDelta::days(1);
                for busy in calendar.busy_between(span.start - wide, span.end + wide) {
                    prop_assert!(
                        !conflicts(&span, kept, &busy.span(), own),
                        "{:?} clashes with {:?}", slot, busy
                    );
                }
                if let (Some(settings), Some(zone)) = (&calendar.settings, calendar.time_zone()) {
                    if !settings.working_hours.is_empty() {
                        prop_assert!(
                            inside_working_hours(&span, zone, &settings.working_hours),
                            "{:?} is outside the calendar's working hours in {}", slot, zone
                        );
                    }
                    if exclude_focus && !settings.focus_blocks.is_empty() {
                        prop_assert!(
                            !inside_any(&span, zone, &settings.focus_blocks),
                            "{:?} takes focus time", slot
                        );
                    }
                }
            }
            for participant in &participants {
                prop_assert!(
                    inside_working_hours(&span, participant.time_zone, &participant.working_hours),
                    "{:?} is outside working hours in {}", slot, participant.time_zone
                );
            }
            // The ranking is what the penalties say.
            if let Some(next) = slots.get(i + 1) {
                prop_assert!(slot.penalty <= next.penalty);
            }
        }
    }
}

/// Whether `slot` starts or ends inside a span of `hours` in `zone`.
fn inside_any(slot: &Span, zone: Tz, hours: &[WeeklyHours]) -> bool {
    let mut at = slot.start;
    while at < slot.end {
        let local = at.with_timezone(&zone);
        let day = Weekday::from(local.weekday());
        if hours
            .iter()
            .any(|span| span.day == day && span.start <= local.time() && local.time() < span.end)
        {
            return true;
        }
        at += TimeDelta::minutes(5);
    }
    false
}

#[test]
fn the_scheduler_finds_slots_across_three_zones_around_the_changes_of_clocks() {
    // Not vacuous: London, New York and Tokyo overlap nowhere in 09–17, so
    // with hours stretched to 07–23 they share a little each weekday.
    let stretched = weekdays("07:00", "23:00");
    let participants = ["Europe/London", "America/New_York", "Asia/Tokyo"]
        .into_iter()
        .map(|zone| {
            Participant::new(zone)
                .expect("a zone")
                .working(stretched.clone())
        })
        .collect::<Vec<_>>();
    for start in [
        "2026-03-23T00:00:00Z",
        "2026-10-19T00:00:00Z",
        "2026-10-28T00:00:00Z",
    ] {
        let start = utc(start);
        let request = SlotRequest {
            participants: participants.clone(),
            max_results: 50,
            ..SlotRequest::new(TimeDelta::minutes(30), start, start + TimeDelta::days(7))
        };
        let slots = find_free_slots(&request, &[]);
        assert!(!slots.is_empty(), "nothing found from {start}");
        for slot in &slots {
            for participant in &participants {
                assert!(inside_working_hours(
                    &slot.span(),
                    participant.time_zone,
                    &participant.working_hours
                ));
            }
        }
    }
}

// ----------------------------------------------------------- wire shapes

#[test]
fn a_schedule_command_reads_from_json() {
    let envelope = CommandEnvelope::new(
        StreamId::parse("calendar-work").expect("a stream id"),
        "ScheduleEvent",
        serde_json::json!({
            "event_id": "flight-ba117",
            "title": "BA117 to New York",
            "start": "2026-03-04T10:00:00",
            "end": "2026-03-04T13:00:00",
            "end_time_zone": "America/New_York",
            "source": "travel:nyc/ba117"
        }),
        "saga:travel",
    );
    assert_eq!(
        envelope.typed::<Calendar>().expect("a calendar command"),
        schedule_with(
            "flight-ba117",
            "2026-03-04T10:00:00",
            "2026-03-04T13:00:00",
            |f| {
                f.title = "BA117 to New York".into();
                f.end_time_zone = Some("America/New_York".into());
                f.source = Some("travel:nyc/ba117".into());
            }
        )
    );
    let unknown_field = CommandEnvelope::new(
        StreamId::parse("calendar-work").expect("a stream id"),
        "ScheduleEvent",
        serde_json::json!({
            "event_id": "a",
            "title": "A",
            "start": "2026-03-04T10:00:00",
            "end": "2026-03-04T11:00:00",
            "colour": "red"
        }),
        "user:me",
    );
    assert!(unknown_field.typed::<Calendar>().is_err());
}

#[test]
fn attendees_and_organisers_are_the_subjects_of_an_event() {
    let event = CalendarEventScheduled {
        attendees: vec![
            attendee("ana@example.com", Some("Ana")),
            attendee("bob@example.com", None),
        ],
        ..invitation("invite", "2026-03-04T10:00:00", "2026-03-04T11:00:00")
    };
    let subjects: Vec<String> = event.subjects().iter().map(ToString::to_string).collect();
    assert_eq!(
        subjects,
        vec![
            "contact:ana@example.com",
            "contact:bob@example.com",
            "contact:boss@example.com"
        ]
    );
}
