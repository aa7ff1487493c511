//! Meeting briefings: the calendar's `RequestBriefing`, the briefing
//! aggregate, and the `meeting_briefing` saga, given events / when command /
//! then events, and given event (and the inbox's answer) / then commands.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde_json::json;
use steward_actors::calendar::{Briefing, BriefingCommand, Calendar, CalendarCommand};
use steward_actors::saga::{
    Answer, BriefingConfig, InboxThread, Lookup, MeetingBriefing, Reaction, Saga, ThreadsQuery,
};
use steward_actors::testing::{given, recorded};
use steward_actors::timers::Timer;
use steward_actors::{Aggregate, CommandEnvelope};
use steward_events::domain::calendar::{
    BriefingEvent, BriefingPrepared, BriefingThread, CalendarAttendee, CalendarBriefingRequested,
    CalendarEvent, CalendarEventCancelled, CalendarEventRescheduled, CalendarEventScheduled,
    CalendarInviteResponded, CalendarOccurrenceCancelled, Rsvp,
};
use steward_events::domain::timers::{TimerEvent, TimerScheduled};
use steward_events::{Personal, RecordedEvent, StreamId};

// ----------------------------------------------------------------- helpers

fn local(value: &str) -> NaiveDateTime {
    value.parse().expect("a local date-time")
}

fn utc(value: &str) -> DateTime<Utc> {
    value.parse().expect("a UTC instant")
}

fn stream(value: &str) -> StreamId {
    StreamId::parse(value).expect("a stream id")
}

fn attendee(email: &str, name: Option<&str>) -> CalendarAttendee {
    CalendarAttendee {
        email: email.into(),
        name: name.map(str::to_owned),
    }
}

/// Tomorrow's 10:00 meeting in London (which keeps UTC in early March)
/// with Jane; scenarios run on Monday 2026-03-02 09:00 UTC.
fn meeting_with_jane() -> CalendarEventScheduled {
    CalendarEventScheduled {
        event_id: "kickoff".into(),
        title: "Project kick-off".into(),
        start: local("2026-03-03T10:00:00"),
        end: local("2026-03-03T11:00:00"),
        time_zone: "Europe/London".into(),
        end_time_zone: "Europe/London".into(),
        starts_at: utc("2026-03-03T10:00:00Z"),
        ends_at: utc("2026-03-03T11:00:00Z"),
        recurrence: None,
        attendees: vec![attendee("jane@example.org", Some("Jane Doe"))],
        location: None,
        organizer: None,
        invitation: false,
        tentative: false,
        source: None,
        double_booked_with: Vec::new(),
    }
}

/// A weekly Monday 1:1 with Jane from 2026-03-09 on.
fn weekly_one_to_one() -> CalendarEventScheduled {
    CalendarEventScheduled {
        event_id: "one-to-one".into(),
        title: "1:1".into(),
        start: local("2026-03-09T10:00:00"),
        end: local("2026-03-09T10:30:00"),
        starts_at: utc("2026-03-09T10:00:00Z"),
        ends_at: utc("2026-03-09T10:30:00Z"),
        recurrence: Some("FREQ=WEEKLY;BYDAY=MO".into()),
        ..meeting_with_jane()
    }
}

fn request(event_id: &str, starts_at: &str) -> CalendarCommand {
    CalendarCommand::RequestBriefing {
        event_id: event_id.into(),
        starts_at: utc(starts_at),
    }
}

fn kickoff_requested() -> CalendarBriefingRequested {
    CalendarBriefingRequested {
        event_id: "kickoff".into(),
        title: "Project kick-off".into(),
        starts_at: utc("2026-03-03T10:00:00Z"),
        attendees: vec![attendee("jane@example.org", Some("Jane Doe"))],
        organizer: None,
        next_starts_at: None,
    }
}

fn thread(id: &str, last: &str, awaiting_reply: bool) -> BriefingThread {
    BriefingThread {
        account: "personal".into(),
        thread_id: id.into(),
        subject: Some(format!("About {id}")),
        correspondents: vec!["jane@example.org".into()],
        messages: 2,
        last_message_at: utc(last),
        awaiting_reply,
    }
}

fn prepare(threads: Vec<BriefingThread>) -> BriefingCommand {
    BriefingCommand::PrepareBriefing {
        calendar: stream("calendar-main"),
        event_id: "kickoff".into(),
        title: "Project kick-off".into(),
        starts_at: utc("2026-03-03T10:00:00Z"),
        since: utc("2026-02-01T10:00:00Z"),
        attendees: vec![attendee("jane@example.org", Some("Jane Doe"))],
        threads,
    }
}

fn prepared(threads: Vec<BriefingThread>, awaiting: u32) -> BriefingEvent {
    BriefingEvent::Prepared(BriefingPrepared {
        calendar: "calendar-main".into(),
        event_id: "kickoff".into(),
        title: "Project kick-off".into(),
        starts_at: utc("2026-03-03T10:00:00Z"),
        since: utc("2026-02-01T10:00:00Z"),
        attendees: vec![attendee("jane@example.org", Some("Jane Doe"))],
        thread_count: u32::try_from(threads.len()).expect("few"),
        awaiting_replies: awaiting,
        threads,
    })
}

/// `event` as the store records it in `calendar-main` at `recorded_at`.
fn on_calendar(event: impl Into<CalendarEvent>, recorded_at: &str) -> RecordedEvent {
    let mut stored = recorded::<Calendar>(&event.into(), 4);
    stored.stream_id = stream("calendar-main");
    stored.recorded_at = utc(recorded_at);
    stored
}

fn saga() -> MeetingBriefing {
    MeetingBriefing::new(BriefingConfig::default())
}

/// The reaction as its target's typed command.
#[track_caller]
fn typed<A: Aggregate>(trigger: &RecordedEvent, reaction: &Reaction) -> A::Command {
    assert_eq!(reaction.stream_id.category(), A::CATEGORY);
    CommandEnvelope {
        command_id: reaction.command_id("meeting_briefing", trigger),
        stream_id: reaction.stream_id.clone(),
        command_type: reaction.command_type.clone(),
        data: reaction.data.clone(),
        correlation_id: None,
        causation_id: None,
        actor: "saga:meeting_briefing".into(),
    }
    .typed::<A>()
    .unwrap_or_else(|error| panic!("{reaction:?} is no {} command: {error}", A::CATEGORY))
}

/// The command a timer's `Schedule` will send, as the calendar's.
#[track_caller]
fn timer_sends(schedule: &Reaction) -> CalendarCommand {
    let data = &schedule.data;
    assert_eq!(data["target"], "calendar-main");
    CommandEnvelope {
        command_id: "timer:test".into(),
        stream_id: stream("calendar-main"),
        command_type: data["command_type"].as_str().expect("a command").into(),
        data: data["data"].clone(),
        correlation_id: None,
        causation_id: None,
        actor: "system:timers".into(),
    }
    .typed::<Calendar>()
    .expect("the timer's command is the calendar's")
}

/// Asserts `reaction` sets the timer `timer_id` to ask the calendar for a
/// briefing on `event_id` at `starts_at`, due at `due_at`, and that the
/// timer takes it.
#[track_caller]
fn assert_briefing_timer(
    trigger: &RecordedEvent,
    reaction: &Reaction,
    timer_id: &str,
    event_id: &str,
    starts_at: &str,
    due_at: &str,
) {
    assert_eq!(reaction.key, "timer");
    assert_eq!(reaction.stream_id, stream(&format!("timer-{timer_id}")));
    assert_eq!(
        timer_sends(reaction),
        request(event_id, starts_at),
        "the timer asks for the briefing"
    );
    given::<Timer>([])
        .when(typed::<Timer>(trigger, reaction))
        .then([TimerEvent::Scheduled(TimerScheduled {
            timer_id: "test".into(),
            due_at: utc(due_at),
            target: stream("calendar-main"),
            command_type: "RequestBriefing".into(),
            data: json!({ "event_id": event_id, "starts_at": utc(starts_at) }),
        })]);
}

fn jane_thread() -> InboxThread {
    InboxThread {
        account: "personal".into(),
        thread_id: "thread-budget".into(),
        subject: Some("Budget for the kick-off".into()),
        correspondents: vec!["jane@example.org".into()],
        messages: 3,
        last_message_at: utc("2026-03-01T17:00:00Z"),
        awaiting_reply: true,
    }
}

// --------------------------------------------------------- RequestBriefing

#[test]
fn a_meeting_with_people_is_briefed_on_request() {
    given::<Calendar>([CalendarEvent::Scheduled(meeting_with_jane())])
        .when(request("kickoff", "2026-03-03T10:00:00Z"))
        .then([CalendarEvent::BriefingRequested(kickoff_requested())]);
}

#[test]
fn asking_again_for_the_same_occurrence_changes_nothing() {
    given::<Calendar>([
        CalendarEvent::Scheduled(meeting_with_jane()),
        CalendarEvent::BriefingRequested(kickoff_requested()),
    ])
    .when(request("kickoff", "2026-03-03T10:00:00Z"))
    .then([]);
}

#[test]
fn a_meeting_moved_since_the_timer_was_set_is_not_briefed_then() {
    let moved = CalendarEventRescheduled {
        event_id: "kickoff".into(),
        start: local("2026-03-04T10:00:00"),
        end: local("2026-03-04T11:00:00"),
        time_zone: "Europe/London".into(),
        end_time_zone: "Europe/London".into(),
        starts_at: utc("2026-03-04T10:00:00Z"),
        ends_at: utc("2026-03-04T11:00:00Z"),
        double_booked_with: Vec::new(),
    };
    let history = [
        CalendarEvent::Scheduled(meeting_with_jane()),
        CalendarEvent::Rescheduled(moved),
    ];
    given::<Calendar>(history.clone())
        .when(request("kickoff", "2026-03-03T10:00:00Z"))
        .then_rejected("meeting_moved");
    given::<Calendar>(history)
        .when(request("kickoff", "2026-03-04T10:00:00Z"))
        .then([CalendarEvent::BriefingRequested(
            CalendarBriefingRequested {
                starts_at: utc("2026-03-04T10:00:00Z"),
                ..kickoff_requested()
            },
        )]);
}

#[test]
fn a_cancelled_meeting_is_not_briefed() {
    given::<Calendar>([
        CalendarEvent::Scheduled(meeting_with_jane()),
        CalendarEvent::Cancelled(CalendarEventCancelled {
            event_id: "kickoff".into(),
        }),
    ])
    .when(request("kickoff", "2026-03-03T10:00:00Z"))
    .then_rejected("event_cancelled");
}

#[test]
fn a_meeting_that_started_is_too_late_to_brief() {
    given::<Calendar>([CalendarEvent::Scheduled(meeting_with_jane())])
        .at(utc("2026-03-03T10:00:00Z"))
        .when(request("kickoff", "2026-03-03T10:00:00Z"))
        .then_rejected("meeting_started");
}

#[test]
fn an_unknown_event_is_refused() {
    given::<Calendar>([])
        .when(request("nothing", "2026-03-03T10:00:00Z"))
        .then_rejected("unknown_event");
}

#[test]
fn a_declined_invitation_is_not_briefed() {
    let invitation = CalendarEventScheduled {
        attendees: Vec::new(),
        organizer: Some("boss@example.com".into()),
        invitation: true,
        ..meeting_with_jane()
    };
    given::<Calendar>([
        CalendarEvent::Scheduled(invitation),
        CalendarEvent::InviteResponded(CalendarInviteResponded {
            event_id: "kickoff".into(),
            response: Rsvp::Declined,
            double_booked_with: Vec::new(),
        }),
    ])
    .when(request("kickoff", "2026-03-03T10:00:00Z"))
    .then_rejected("invite_declined");
}

#[test]
fn an_invitation_is_briefed_with_its_organiser() {
    let invitation = CalendarEventScheduled {
        attendees: Vec::new(),
        organizer: Some("boss@example.com".into()),
        invitation: true,
        ..meeting_with_jane()
    };
    given::<Calendar>([CalendarEvent::Scheduled(invitation)])
        .when(request("kickoff", "2026-03-03T10:00:00Z"))
        .then([CalendarEvent::BriefingRequested(
            CalendarBriefingRequested {
                attendees: Vec::new(),
                organizer: Some("boss@example.com".into()),
                ..kickoff_requested()
            },
        )]);
}

#[test]
fn the_owners_own_time_needs_no_briefing() {
    let alone = CalendarEventScheduled {
        attendees: Vec::new(),
        ..meeting_with_jane()
    };
    given::<Calendar>([CalendarEvent::Scheduled(alone)])
        .when(request("kickoff", "2026-03-03T10:00:00Z"))
        .then([]);
}

#[test]
fn a_repeating_meeting_names_its_next_occurrence_and_skips_cancelled_ones() {
    let requested = CalendarBriefingRequested {
        event_id: "one-to-one".into(),
        title: "1:1".into(),
        starts_at: utc("2026-03-09T10:00:00Z"),
        next_starts_at: Some(utc("2026-03-16T10:00:00Z")),
        ..kickoff_requested()
    };
    given::<Calendar>([CalendarEvent::Scheduled(weekly_one_to_one())])
        .when(request("one-to-one", "2026-03-09T10:00:00Z"))
        .then([CalendarEvent::BriefingRequested(requested)]);
    given::<Calendar>([
        CalendarEvent::Scheduled(weekly_one_to_one()),
        CalendarEvent::OccurrenceCancelled(CalendarOccurrenceCancelled {
            event_id: "one-to-one".into(),
            occurrence_start: local("2026-03-16T10:00:00"),
            starts_at: utc("2026-03-16T10:00:00Z"),
        }),
    ])
    .when(request("one-to-one", "2026-03-16T10:00:00Z"))
    .then_rejected("meeting_moved");
}

// --------------------------------------------------------- PrepareBriefing

#[test]
fn a_briefing_names_its_threads_newest_first_and_counts_those_awaiting_a_reply() {
    let older = thread("older", "2026-02-20T08:00:00Z", false);
    let newer = thread("newer", "2026-03-01T08:00:00Z", true);
    given::<Briefing>([])
        .when(prepare(vec![older.clone(), newer.clone()]))
        .then([prepared(vec![newer, older], 1)]);
}

#[test]
fn a_meeting_without_related_threads_still_gets_a_short_briefing() {
    given::<Briefing>([])
        .when(prepare(Vec::new()))
        .then([prepared(Vec::new(), 0)]);
}

#[test]
fn preparing_the_same_briefing_again_changes_nothing_and_new_threads_replace_it() {
    let first = thread("first", "2026-02-20T08:00:00Z", false);
    given::<Briefing>([prepared(vec![first.clone()], 0)])
        .when(prepare(vec![first.clone()]))
        .then([]);
    let second = thread("second", "2026-03-01T08:00:00Z", true);
    given::<Briefing>([prepared(vec![first.clone()], 0)])
        .when(prepare(vec![first.clone(), second.clone()]))
        .then([prepared(vec![second, first], 1)]);
}

#[test]
fn a_briefing_stream_is_for_one_meeting() {
    let other = BriefingCommand::PrepareBriefing {
        calendar: stream("calendar-main"),
        event_id: "another".into(),
        title: "Another".into(),
        starts_at: utc("2026-03-03T10:00:00Z"),
        since: utc("2026-02-01T10:00:00Z"),
        attendees: Vec::new(),
        threads: Vec::new(),
    };
    given::<Briefing>([prepared(Vec::new(), 0)])
        .when(other)
        .then_rejected("other_meeting");
}

#[test]
fn a_briefing_refuses_threads_it_cannot_tell_apart_and_a_window_after_the_meeting() {
    let same = thread("same", "2026-02-20T08:00:00Z", false);
    given::<Briefing>([])
        .when(prepare(vec![same.clone(), same]))
        .then_rejected("duplicate_thread");
    given::<Briefing>([])
        .when(prepare(vec![thread(" ", "2026-02-20T08:00:00Z", false)]))
        .then_rejected("thread_id_required");
    let many = (0..51)
        .map(|n| thread(&format!("t{n}"), "2026-02-20T08:00:00Z", false))
        .collect();
    given::<Briefing>([])
        .when(prepare(many))
        .then_rejected("too_many_threads");
    let BriefingCommand::PrepareBriefing {
        calendar,
        event_id,
        title,
        starts_at,
        attendees,
        threads,
        ..
    } = prepare(Vec::new());
    given::<Briefing>([])
        .when(BriefingCommand::PrepareBriefing {
            calendar: calendar.clone(),
            event_id: event_id.clone(),
            title: title.clone(),
            starts_at,
            since: starts_at + TimeDelta::days(1),
            attendees: attendees.clone(),
            threads: threads.clone(),
        })
        .then_rejected("window_invalid");
    given::<Briefing>([])
        .when(BriefingCommand::PrepareBriefing {
            calendar,
            event_id,
            title: "  ".into(),
            starts_at,
            since: starts_at,
            attendees,
            threads,
        })
        .then_rejected("title_required");
}

// ---------------------------------------------------------------- the saga

#[test]
fn a_meeting_with_people_sets_a_timer_for_its_briefing_the_lead_time_before() {
    let trigger = on_calendar(
        CalendarEvent::Scheduled(meeting_with_jane()),
        "2026-03-02T09:00:00Z",
    );
    let reactions = saga().react(&trigger);
    assert_eq!(reactions.len(), 1, "{reactions:?}");
    assert_briefing_timer(
        &trigger,
        &reactions[0],
        &MeetingBriefing::timer_id("main", "kickoff", utc("2026-03-03T10:00:00Z")),
        "kickoff",
        "2026-03-03T10:00:00Z",
        "2026-03-02T16:00:00Z",
    );
    assert_eq!(
        reactions[0].stream_id,
        stream("timer-brief-main.kickoff-1772532000")
    );
    assert_eq!(saga().lookup(&trigger), None, "scheduling reads nothing");
}

#[test]
fn the_owners_own_time_and_other_streams_set_no_timer() {
    let alone = CalendarEventScheduled {
        attendees: Vec::new(),
        ..meeting_with_jane()
    };
    assert!(
        saga()
            .react(&on_calendar(
                CalendarEvent::Scheduled(alone),
                "2026-03-02T09:00:00Z"
            ))
            .is_empty()
    );
    let mut elsewhere = on_calendar(
        CalendarEvent::Scheduled(meeting_with_jane()),
        "2026-03-02T09:00:00Z",
    );
    elsewhere.stream_id = stream("trip-lisbon");
    assert!(saga().react(&elsewhere).is_empty());
    // Its attendees erased, the event names no one to brief on.
    let mut erased = on_calendar(
        CalendarEvent::Scheduled(meeting_with_jane()),
        "2026-03-02T09:00:00Z",
    );
    erased.personal = Some(Personal::Erased);
    assert!(saga().react(&erased).is_empty());
}

#[test]
fn a_moved_meeting_gets_a_timer_for_its_new_time_and_the_lead_time_is_configurable() {
    let moved = CalendarEventRescheduled {
        event_id: "kickoff".into(),
        start: local("2026-03-05T14:00:00"),
        end: local("2026-03-05T15:00:00"),
        time_zone: "Europe/London".into(),
        end_time_zone: "Europe/London".into(),
        starts_at: utc("2026-03-05T14:00:00Z"),
        ends_at: utc("2026-03-05T15:00:00Z"),
        double_booked_with: Vec::new(),
    };
    let trigger = on_calendar(CalendarEvent::Rescheduled(moved), "2026-03-02T09:00:00Z");
    let early = MeetingBriefing::new(BriefingConfig {
        lead: TimeDelta::hours(24),
        ..BriefingConfig::default()
    });
    let reactions = early.react(&trigger);
    assert_eq!(reactions.len(), 1);
    assert_briefing_timer(
        &trigger,
        &reactions[0],
        &MeetingBriefing::timer_id("main", "kickoff", utc("2026-03-05T14:00:00Z")),
        "kickoff",
        "2026-03-05T14:00:00Z",
        "2026-03-04T14:00:00Z",
    );
}

#[test]
fn a_series_recorded_after_its_first_occurrence_is_briefed_from_the_next_one() {
    let trigger = on_calendar(
        CalendarEvent::Scheduled(weekly_one_to_one()),
        "2026-03-12T09:00:00Z",
    );
    let reactions = saga().react(&trigger);
    assert_eq!(reactions.len(), 1);
    assert_briefing_timer(
        &trigger,
        &reactions[0],
        &MeetingBriefing::timer_id("main", "one-to-one", utc("2026-03-16T10:00:00Z")),
        "one-to-one",
        "2026-03-16T10:00:00Z",
        "2026-03-15T16:00:00Z",
    );
}

#[test]
fn a_briefing_request_asks_the_inbox_about_its_people_then_prepares_the_briefing() {
    let requested = CalendarBriefingRequested {
        attendees: vec![
            attendee("Jane@Example.org", Some("Jane Doe")),
            attendee("bob@example.org", None),
        ],
        organizer: Some("jane@example.org".into()),
        ..kickoff_requested()
    };
    let trigger = on_calendar(requested, "2026-03-02T16:00:00Z");
    let organiser_only = CalendarBriefingRequested {
        attendees: Vec::new(),
        organizer: Some("boss@example.com".into()),
        ..kickoff_requested()
    };
    let invited = saga().react_with(
        &on_calendar(organiser_only, "2026-03-02T16:00:00Z"),
        &Answer::InboxThreads(Vec::new()),
    );
    assert_eq!(invited[0].data["attendees"][0]["email"], "boss@example.com");
    assert_eq!(
        saga().lookup(&trigger),
        Some(Lookup::InboxThreads(ThreadsQuery {
            correspondents: vec!["bob@example.org".into(), "jane@example.org".into()],
            since: utc("2026-02-01T10:00:00Z"),
            limit: 10,
        }))
    );
    assert!(
        saga().react(&trigger).is_empty(),
        "without the inbox's answer, nothing"
    );
    let answer = Answer::InboxThreads(vec![jane_thread()]);
    let reactions = saga().react_with(&trigger, &answer);
    assert_eq!(reactions, saga().react_with(&trigger, &answer), "pure");
    assert_eq!(reactions.len(), 1, "{reactions:?}");
    let prepare = &reactions[0];
    assert_eq!(prepare.key, "prepare");
    assert_eq!(
        prepare.stream_id,
        stream("briefing-main.kickoff-1772532000")
    );
    let command = typed::<Briefing>(&trigger, prepare);
    given::<Briefing>([]).when(command).then_matches(|events| {
        let [BriefingEvent::Prepared(briefing)] = events else {
            panic!("one briefing: {events:?}");
        };
        assert_eq!(briefing.calendar, "calendar-main");
        assert_eq!(briefing.event_id, "kickoff");
        assert_eq!(briefing.starts_at, utc("2026-03-03T10:00:00Z"));
        assert_eq!(briefing.thread_count, 1);
        assert_eq!(briefing.awaiting_replies, 1);
        assert_eq!(briefing.threads[0].thread_id, "thread-budget");
        assert_eq!(
            briefing.threads[0].subject.as_deref(),
            Some("Budget for the kick-off")
        );
        let people: Vec<&str> = briefing
            .attendees
            .iter()
            .map(|a| a.email.as_str())
            .collect();
        assert_eq!(
            people,
            ["Jane@Example.org", "bob@example.org"],
            "the organiser is among the people once"
        );
    });
}

#[test]
fn no_related_thread_still_prepares_a_briefing_and_a_series_sets_its_next_timer() {
    let requested = CalendarBriefingRequested {
        event_id: "one-to-one".into(),
        title: "1:1".into(),
        starts_at: utc("2026-03-09T10:00:00Z"),
        next_starts_at: Some(utc("2026-03-16T10:00:00Z")),
        ..kickoff_requested()
    };
    let trigger = on_calendar(requested, "2026-03-08T16:00:00Z");
    let reactions = saga().react_with(&trigger, &Answer::InboxThreads(Vec::new()));
    assert_eq!(reactions.len(), 2, "{reactions:?}");
    given::<Briefing>([])
        .when(typed::<Briefing>(&trigger, &reactions[0]))
        .then_matches(|events| {
            let [BriefingEvent::Prepared(briefing)] = events else {
                panic!("one briefing: {events:?}");
            };
            assert_eq!(briefing.thread_count, 0);
            assert!(briefing.threads.is_empty());
        });
    assert_briefing_timer(
        &trigger,
        &reactions[1],
        &MeetingBriefing::timer_id("main", "one-to-one", utc("2026-03-16T10:00:00Z")),
        "one-to-one",
        "2026-03-16T10:00:00Z",
        "2026-03-15T16:00:00Z",
    );
}

#[test]
fn a_briefing_names_at_most_the_configured_threads() {
    let narrow = MeetingBriefing::new(BriefingConfig {
        max_threads: 1,
        ..BriefingConfig::default()
    });
    let trigger = on_calendar(kickoff_requested(), "2026-03-02T16:00:00Z");
    let Some(Lookup::InboxThreads(query)) = narrow.lookup(&trigger) else {
        panic!("a lookup of the inbox");
    };
    assert_eq!(query.limit, 1);
    let second = InboxThread {
        thread_id: "thread-other".into(),
        ..jane_thread()
    };
    let reactions = narrow.react_with(&trigger, &Answer::InboxThreads(vec![jane_thread(), second]));
    let threads = reactions[0].data["threads"].as_array().expect("threads");
    assert_eq!(threads.len(), 1);
}
