//! The agenda: days in the person's zone across calendars and
//! appointments, repeating events, moves and cancellations, free/busy and
//! double bookings, erasure.

use std::sync::Arc;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use steward_events::domain::appointments::{AppointmentCancelled, AppointmentConfirmed};
use steward_events::domain::calendar::{
    CalendarAttendee, CalendarEventCancelled, CalendarEventRescheduled, CalendarEventScheduled,
    CalendarInviteResponded, CalendarOccurrenceCancelled, CalendarRsvpRecorded,
    CalendarSettingsSet, Rsvp, WeeklyHours,
};
use steward_projections::read_models::agenda::{
    Agenda, AgendaAttendee, AgendaEntry, AgendaKind, BusyBlock, BusyItem, DoubleBooking, FreeSlot,
};

use crate::read_model_support::{at, catch_up, day, erase, local, rebuild, record, tables};
use crate::support::{Fixture, on_both_backends};

on_both_backends!(
    a_day_holds_every_calendar_and_appointment_in_the_persons_zone,
    a_repeating_event_keeps_its_local_time_and_skips_cancelled_occurrences,
    a_move_across_midnight_changes_day_and_a_cancellation_removes_it,
    free_busy_merges_calendars_and_finds_double_bookings,
    erasing_an_attendee_drops_attendees_place_and_answers,
);

const BERLIN: Tz = chrono_tz::Europe::Berlin;
const LONDON: Tz = chrono_tz::Europe::London;

fn agenda() -> Agenda {
    Agenda::new(BERLIN)
}

async fn day_of(f: &Fixture, agenda: Agenda, on: &str) -> Vec<AgendaEntry> {
    catch_up(f, Arc::new(agenda)).await;
    let tables = tables(f, "agenda").await;
    agenda.day(&f.db, &tables, day(on)).await.expect("day")
}

async fn titles(f: &Fixture, on: &str) -> Vec<String> {
    day_of(f, agenda(), on)
        .await
        .into_iter()
        .map(|entry| entry.title.unwrap_or_default())
        .collect()
}

fn in_zone(zone: Tz, local_text: &str) -> DateTime<Utc> {
    zone.from_local_datetime(&local(local_text))
        .earliest()
        .expect("a local time")
        .with_timezone(&Utc)
}

/// A one-off event of the owner's, local to `zone`.
fn scheduled(id: &str, title: &str, zone: Tz, start: &str, end: &str) -> CalendarEventScheduled {
    CalendarEventScheduled {
        event_id: id.to_owned(),
        title: title.to_owned(),
        start: local(start),
        end: local(end),
        time_zone: zone.name().to_owned(),
        end_time_zone: zone.name().to_owned(),
        starts_at: in_zone(zone, start),
        ends_at: in_zone(zone, end),
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

fn rescheduled(id: &str, zone: Tz, start: &str, end: &str) -> CalendarEventRescheduled {
    CalendarEventRescheduled {
        event_id: id.to_owned(),
        start: local(start),
        end: local(end),
        time_zone: zone.name().to_owned(),
        end_time_zone: zone.name().to_owned(),
        starts_at: in_zone(zone, start),
        ends_at: in_zone(zone, end),
        double_booked_with: Vec::new(),
    }
}

fn attendee(email: &str, name: &str) -> CalendarAttendee {
    CalendarAttendee {
        email: email.to_owned(),
        name: Some(name.to_owned()),
    }
}

fn appointment(starts_at: &str, ends_at: &str) -> AppointmentConfirmed {
    AppointmentConfirmed {
        starts_at: at(starts_at),
        ends_at: at(ends_at),
        fits_preferences: true,
        provider_name: "Dr Molar".to_owned(),
        provider_contact: Some("molar@example.org".to_owned()),
        purpose: "Check-up".to_owned(),
    }
}

fn settings(name: &str, zone: Tz) -> CalendarSettingsSet {
    CalendarSettingsSet {
        name: name.to_owned(),
        time_zone: zone.name().to_owned(),
        working_hours: Vec::new(),
        buffer_before_minutes: 0,
        buffer_after_minutes: 0,
        focus_blocks: Vec::new(),
    }
}

/// An entry with nothing but its times and title, to be completed.
fn entry(kind: AgendaKind, item_id: &str, title: &str, starts: &str, ends: &str) -> AgendaEntry {
    AgendaEntry {
        kind,
        calendar: None,
        calendar_name: None,
        item_id: item_id.to_owned(),
        title: Some(title.to_owned()),
        starts_at: at(starts),
        ends_at: at(ends),
        local_start: at(starts).with_timezone(&BERLIN).naive_local(),
        local_end: at(ends).with_timezone(&BERLIN).naive_local(),
        occurrence_start: None,
        tentative: false,
        invitation: false,
        own_response: None,
        location: None,
        organizer: None,
        attendees: Vec::new(),
        provider: None,
        source: None,
        double_booked_with: Vec::new(),
    }
}

async fn a_day_holds_every_calendar_and_appointment_in_the_persons_zone(f: Fixture) {
    record(&f, "calendar-work", &settings("Work", BERLIN)).await;
    let sync = CalendarEventScheduled {
        attendees: vec![
            attendee("dana@example.org", "Dana"),
            attendee("carol@example.org", "Carol"),
        ],
        location: Some("Room 4".to_owned()),
        double_booked_with: vec!["focus".to_owned()],
        ..scheduled(
            "sync",
            "Team sync",
            BERLIN,
            "2026-03-10T09:00:00",
            "2026-03-10T09:30:00",
        )
    };
    record(&f, "calendar-work", &sync).await;
    record(
        &f,
        "calendar-work",
        &CalendarRsvpRecorded {
            event_id: "sync".to_owned(),
            email: "dana@example.org".to_owned(),
            response: Rsvp::Accepted,
        },
    )
    .await;
    // 23:30 to 00:30 Berlin: on the 10th and the 11th.
    record(
        &f,
        "calendar-work",
        &scheduled(
            "late",
            "Call with New York",
            BERLIN,
            "2026-03-10T23:30:00",
            "2026-03-11T00:30:00",
        ),
    )
    .await;
    // 00:30 Berlin is still the 10th in UTC, but the 11th for the person.
    record(
        &f,
        "calendar-work",
        &scheduled(
            "night",
            "Night release",
            BERLIN,
            "2026-03-11T00:30:00",
            "2026-03-11T01:00:00",
        ),
    )
    .await;
    // A calendar in another zone, without settings.
    let flight = CalendarEventScheduled {
        end_time_zone: "America/New_York".to_owned(),
        ends_at: at("2026-03-10T17:00:00Z"),
        end: local("2026-03-10T13:00:00"),
        tentative: true,
        source: Some("travel:trip-1/lh1".to_owned()),
        ..scheduled(
            "lh1",
            "Flight LH 400",
            LONDON,
            "2026-03-10T10:00:00",
            "2026-03-10T10:00:00",
        )
    };
    record(&f, "calendar-home", &flight).await;
    record(
        &f,
        "appointment-dentist",
        &appointment("2026-03-10T14:00:00Z", "2026-03-10T14:45:00Z"),
    )
    .await;

    let tenth = day_of(&f, agenda(), "2026-03-10").await;
    assert_eq!(
        tenth,
        [
            AgendaEntry {
                calendar: Some("calendar-work".to_owned()),
                calendar_name: Some("Work".to_owned()),
                location: Some("Room 4".to_owned()),
                attendees: vec![
                    AgendaAttendee {
                        email: "dana@example.org".to_owned(),
                        name: Some("Dana".to_owned()),
                        response: Some(Rsvp::Accepted),
                    },
                    AgendaAttendee {
                        email: "carol@example.org".to_owned(),
                        name: Some("Carol".to_owned()),
                        response: None,
                    },
                ],
                double_booked_with: vec!["focus".to_owned()],
                ..entry(
                    AgendaKind::CalendarEvent,
                    "sync",
                    "Team sync",
                    "2026-03-10T08:00:00Z",
                    "2026-03-10T08:30:00Z",
                )
            },
            AgendaEntry {
                calendar: Some("calendar-home".to_owned()),
                tentative: true,
                source: Some("travel:trip-1/lh1".to_owned()),
                ..entry(
                    AgendaKind::CalendarEvent,
                    "lh1",
                    "Flight LH 400",
                    "2026-03-10T10:00:00Z",
                    "2026-03-10T17:00:00Z",
                )
            },
            AgendaEntry {
                provider: Some("Dr Molar".to_owned()),
                ..entry(
                    AgendaKind::Appointment,
                    "dentist",
                    "Check-up",
                    "2026-03-10T14:00:00Z",
                    "2026-03-10T14:45:00Z",
                )
            },
            AgendaEntry {
                calendar: Some("calendar-work".to_owned()),
                calendar_name: Some("Work".to_owned()),
                ..entry(
                    AgendaKind::CalendarEvent,
                    "late",
                    "Call with New York",
                    "2026-03-10T22:30:00Z",
                    "2026-03-10T23:30:00Z",
                )
            },
        ]
    );
    assert_eq!(tenth[3].local_end, local("2026-03-11T00:30:00"));
    assert_eq!(
        titles(&f, "2026-03-11").await,
        ["Call with New York", "Night release"]
    );
    assert!(titles(&f, "2026-03-12").await.is_empty());

    // The same tables read for a person in London: the night release is on
    // the 10th there.
    let london = Agenda::new(LONDON);
    let in_london: Vec<_> = day_of(&f, london, "2026-03-10")
        .await
        .into_iter()
        .map(|entry| (entry.item_id, entry.local_start))
        .collect();
    assert_eq!(
        in_london,
        [
            ("sync".to_owned(), local("2026-03-10T08:00:00")),
            ("lh1".to_owned(), local("2026-03-10T10:00:00")),
            ("dentist".to_owned(), local("2026-03-10T14:00:00")),
            ("late".to_owned(), local("2026-03-10T22:30:00")),
            ("night".to_owned(), local("2026-03-10T23:30:00")),
        ]
    );

    record(
        &f,
        "appointment-dentist",
        &AppointmentCancelled {
            reason: Some("Feeling better".to_owned()),
            was_confirmed: true,
        },
    )
    .await;
    assert_eq!(
        titles(&f, "2026-03-10").await,
        ["Team sync", "Flight LH 400", "Call with New York"]
    );
}

async fn a_repeating_event_keeps_its_local_time_and_skips_cancelled_occurrences(f: Fixture) {
    // Weekly on Mondays at 09:00 London; the clocks go forward on 29 March.
    let standup = CalendarEventScheduled {
        recurrence: Some("FREQ=WEEKLY;BYDAY=MO".to_owned()),
        ..scheduled(
            "standup",
            "Standup",
            LONDON,
            "2026-03-23T09:00:00",
            "2026-03-23T09:15:00",
        )
    };
    record(&f, "calendar-work", &standup).await;
    record(
        &f,
        "calendar-work",
        &CalendarOccurrenceCancelled {
            event_id: "standup".to_owned(),
            occurrence_start: local("2026-04-06T09:00:00"),
            starts_at: at("2026-04-06T08:00:00Z"),
        },
    )
    .await;

    let london = Agenda::new(LONDON);
    let occurrence = |on: &'static str| {
        let f = &f;
        async move {
            day_of(f, london, on)
                .await
                .into_iter()
                .map(|e| (e.starts_at, e.local_start, e.occurrence_start))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        occurrence("2026-03-23").await,
        [(
            at("2026-03-23T09:00:00Z"),
            local("2026-03-23T09:00:00"),
            Some(local("2026-03-23T09:00:00"))
        )]
    );
    // Summer time: still 09:00 in London, an hour earlier in UTC.
    assert_eq!(
        occurrence("2026-03-30").await,
        [(
            at("2026-03-30T08:00:00Z"),
            local("2026-03-30T09:00:00"),
            Some(local("2026-03-30T09:00:00"))
        )]
    );
    assert!(occurrence("2026-03-31").await.is_empty());
    assert!(occurrence("2026-04-06").await.is_empty());
    assert_eq!(occurrence("2026-04-13").await.len(), 1);
    // Before the series starts there is nothing.
    assert!(occurrence("2026-03-16").await.is_empty());

    // Moving the series an hour later moves its cancelled occurrence too.
    record(
        &f,
        "calendar-work",
        &rescheduled(
            "standup",
            LONDON,
            "2026-03-23T10:00:00",
            "2026-03-23T10:15:00",
        ),
    )
    .await;
    assert!(occurrence("2026-04-06").await.is_empty());
    assert_eq!(
        occurrence("2026-04-13").await,
        [(
            at("2026-04-13T09:00:00Z"),
            local("2026-04-13T10:00:00"),
            Some(local("2026-04-13T10:00:00"))
        )]
    );
    // For a person in Berlin the same occurrence is at 11:00.
    let berlin: Vec<_> = day_of(&f, agenda(), "2026-04-13")
        .await
        .into_iter()
        .map(|e| e.local_start)
        .collect();
    assert_eq!(berlin, [local("2026-04-13T11:00:00")]);
}

async fn a_move_across_midnight_changes_day_and_a_cancellation_removes_it(f: Fixture) {
    let review = CalendarEventScheduled {
        attendees: vec![attendee("dana@example.org", "Dana")],
        ..scheduled(
            "review",
            "Review",
            BERLIN,
            "2026-03-10T22:00:00",
            "2026-03-10T23:00:00",
        )
    };
    record(&f, "calendar-work", &review).await;
    record(
        &f,
        "calendar-work",
        &CalendarRsvpRecorded {
            event_id: "review".to_owned(),
            email: "dana@example.org".to_owned(),
            response: Rsvp::Declined,
        },
    )
    .await;
    let invitation = CalendarEventScheduled {
        invitation: true,
        organizer: Some("erin@example.org".to_owned()),
        ..scheduled(
            "offsite",
            "Offsite",
            BERLIN,
            "2026-03-11T09:00:00",
            "2026-03-11T17:00:00",
        )
    };
    record(&f, "calendar-work", &invitation).await;
    assert_eq!(titles(&f, "2026-03-10").await, ["Review"]);
    assert_eq!(titles(&f, "2026-03-11").await, ["Offsite"]);

    record(
        &f,
        "calendar-work",
        &rescheduled(
            "review",
            BERLIN,
            "2026-03-11T00:30:00",
            "2026-03-11T01:30:00",
        ),
    )
    .await;
    assert!(titles(&f, "2026-03-10").await.is_empty());
    let eleventh = day_of(&f, agenda(), "2026-03-11").await;
    assert_eq!(
        eleventh[0],
        AgendaEntry {
            calendar: Some("calendar-work".to_owned()),
            // Moved: Dana's answer no longer holds.
            attendees: vec![AgendaAttendee {
                email: "dana@example.org".to_owned(),
                name: Some("Dana".to_owned()),
                response: None,
            }],
            ..entry(
                AgendaKind::CalendarEvent,
                "review",
                "Review",
                "2026-03-10T23:30:00Z",
                "2026-03-11T00:30:00Z",
            )
        }
    );
    assert_eq!(eleventh[1].organizer.as_deref(), Some("erin@example.org"));
    assert!(eleventh[1].invitation);

    // A declined invitation leaves the agenda; a cancelled event too.
    record(
        &f,
        "calendar-work",
        &CalendarInviteResponded {
            event_id: "offsite".to_owned(),
            response: Rsvp::Declined,
            double_booked_with: Vec::new(),
        },
    )
    .await;
    assert_eq!(titles(&f, "2026-03-11").await, ["Review"]);
    record(
        &f,
        "calendar-work",
        &CalendarEventCancelled {
            event_id: "review".to_owned(),
        },
    )
    .await;
    assert!(titles(&f, "2026-03-11").await.is_empty());
}

async fn free_busy_merges_calendars_and_finds_double_bookings(f: Fixture) {
    // Tuesday 10 March 2026, Berlin (UTC+1).
    record(
        &f,
        "calendar-work",
        &scheduled(
            "planning",
            "Planning",
            BERLIN,
            "2026-03-10T09:00:00",
            "2026-03-10T10:00:00",
        ),
    )
    .await;
    record(
        &f,
        "appointment-dentist",
        &appointment("2026-03-10T08:30:00Z", "2026-03-10T09:30:00Z"),
    )
    .await;
    record(
        &f,
        "calendar-home",
        &scheduled(
            "call",
            "Call the bank",
            BERLIN,
            "2026-03-10T11:00:00",
            "2026-03-10T11:30:00",
        ),
    )
    .await;
    let declined = CalendarEventScheduled {
        invitation: true,
        ..scheduled(
            "allhands",
            "All hands",
            BERLIN,
            "2026-03-10T13:00:00",
            "2026-03-10T14:00:00",
        )
    };
    record(&f, "calendar-work", &declined).await;
    record(
        &f,
        "calendar-work",
        &CalendarInviteResponded {
            event_id: "allhands".to_owned(),
            response: Rsvp::Declined,
            double_booked_with: Vec::new(),
        },
    )
    .await;
    let hold = CalendarEventScheduled {
        tentative: true,
        ..scheduled(
            "hold",
            "Hold",
            BERLIN,
            "2026-03-10T15:00:00",
            "2026-03-10T16:00:00",
        )
    };
    record(&f, "calendar-work", &hold).await;
    // The evening, outside working hours.
    record(
        &f,
        "calendar-home",
        &scheduled(
            "dinner",
            "Dinner",
            BERLIN,
            "2026-03-10T19:00:00",
            "2026-03-10T21:00:00",
        ),
    )
    .await;

    let agenda = agenda();
    catch_up(&f, Arc::new(agenda)).await;
    let tables = tables(&f, "agenda").await;
    let working = WeeklyHours::weekdays(
        NaiveTime::from_hms_opt(9, 0, 0).expect("time"),
        NaiveTime::from_hms_opt(17, 0, 0).expect("time"),
    );
    let from = at("2026-03-10T00:00:00+01:00");
    let to = at("2026-03-11T00:00:00+01:00");
    let free_busy = agenda
        .free_busy(&f.db, &tables, from, to, &working)
        .await
        .expect("free/busy");

    let busy_item =
        |kind, calendar: Option<&str>, id: &str, title: &str, s: &str, e: &str| BusyItem {
            kind,
            calendar: calendar.map(str::to_owned),
            item_id: id.to_owned(),
            title: Some(title.to_owned()),
            starts_at: at(s),
            ends_at: at(e),
            tentative: false,
        };
    let dentist = busy_item(
        AgendaKind::Appointment,
        None,
        "dentist",
        "Check-up",
        "2026-03-10T08:30:00Z",
        "2026-03-10T09:30:00Z",
    );
    let planning = busy_item(
        AgendaKind::CalendarEvent,
        Some("calendar-work"),
        "planning",
        "Planning",
        "2026-03-10T08:00:00Z",
        "2026-03-10T09:00:00Z",
    );
    let call = busy_item(
        AgendaKind::CalendarEvent,
        Some("calendar-home"),
        "call",
        "Call the bank",
        "2026-03-10T10:00:00Z",
        "2026-03-10T10:30:00Z",
    );
    let hold = BusyItem {
        tentative: true,
        ..busy_item(
            AgendaKind::CalendarEvent,
            Some("calendar-work"),
            "hold",
            "Hold",
            "2026-03-10T14:00:00Z",
            "2026-03-10T15:00:00Z",
        )
    };
    let dinner = busy_item(
        AgendaKind::CalendarEvent,
        Some("calendar-home"),
        "dinner",
        "Dinner",
        "2026-03-10T18:00:00Z",
        "2026-03-10T20:00:00Z",
    );
    let block = |s: &str, e: &str, items: Vec<BusyItem>| BusyBlock {
        starts_at: at(s),
        ends_at: at(e),
        items,
    };
    assert_eq!(
        free_busy.busy,
        [
            block(
                "2026-03-10T08:00:00Z",
                "2026-03-10T09:30:00Z",
                vec![planning.clone(), dentist.clone()]
            ),
            block("2026-03-10T10:00:00Z", "2026-03-10T10:30:00Z", vec![call]),
            block("2026-03-10T14:00:00Z", "2026-03-10T15:00:00Z", vec![hold]),
            block("2026-03-10T18:00:00Z", "2026-03-10T20:00:00Z", vec![dinner]),
        ]
    );
    let slot = |s: &str, e: &str| FreeSlot {
        starts_at: at(s),
        ends_at: at(e),
    };
    assert_eq!(
        free_busy.free,
        [
            slot("2026-03-10T09:30:00Z", "2026-03-10T10:00:00Z"),
            slot("2026-03-10T10:30:00Z", "2026-03-10T14:00:00Z"),
            slot("2026-03-10T15:00:00Z", "2026-03-10T16:00:00Z"),
        ]
    );
    assert_eq!(
        free_busy.double_bookings,
        [DoubleBooking {
            first: planning,
            second: dentist,
        }]
    );

    // Without working hours the whole range counts, clipped busy blocks too.
    let evening = agenda
        .free_busy(
            &f.db,
            &tables,
            at("2026-03-10T19:00:00Z"),
            at("2026-03-10T22:00:00Z"),
            &[],
        )
        .await
        .expect("free/busy");
    assert_eq!(evening.busy.len(), 1);
    assert_eq!(
        (evening.busy[0].starts_at, evening.busy[0].ends_at),
        (at("2026-03-10T19:00:00Z"), at("2026-03-10T20:00:00Z"))
    );
    assert_eq!(
        evening.free,
        [slot("2026-03-10T20:00:00Z", "2026-03-10T22:00:00Z")]
    );
}

async fn erasing_an_attendee_drops_attendees_place_and_answers(f: Fixture) {
    let sync = CalendarEventScheduled {
        attendees: vec![
            attendee("dana@example.org", "Dana"),
            attendee("carol@example.org", "Carol"),
        ],
        location: Some("Dana's office".to_owned()),
        ..scheduled(
            "sync",
            "Team sync",
            BERLIN,
            "2026-03-10T09:00:00",
            "2026-03-10T09:30:00",
        )
    };
    record(&f, "calendar-work", &sync).await;
    for (email, response) in [
        ("dana@example.org", Rsvp::Accepted),
        ("carol@example.org", Rsvp::Tentative),
    ] {
        record(
            &f,
            "calendar-work",
            &CalendarRsvpRecorded {
                event_id: "sync".to_owned(),
                email: email.to_owned(),
                response,
            },
        )
        .await;
    }
    record(
        &f,
        "appointment-dentist",
        &appointment("2026-03-10T14:00:00Z", "2026-03-10T14:45:00Z"),
    )
    .await;
    let before = day_of(&f, agenda(), "2026-03-10").await;
    assert_eq!(before[0].attendees.len(), 2);
    assert_eq!(before[1].provider.as_deref(), Some("Dr Molar"));

    erase(&f, "contact:dana@example.org").await;
    erase(&f, "contact:molar@example.org").await;
    let forgotten = [
        AgendaEntry {
            calendar: Some("calendar-work".to_owned()),
            title: Some("Team sync".to_owned()),
            // The invitation's list is gone with Dana; Carol's own answer
            // is still hers to give.
            attendees: vec![AgendaAttendee {
                email: "carol@example.org".to_owned(),
                name: None,
                response: Some(Rsvp::Tentative),
            }],
            location: None,
            ..entry(
                AgendaKind::CalendarEvent,
                "sync",
                "Team sync",
                "2026-03-10T08:00:00Z",
                "2026-03-10T08:30:00Z",
            )
        },
        AgendaEntry {
            title: None,
            provider: None,
            ..entry(
                AgendaKind::Appointment,
                "dentist",
                "",
                "2026-03-10T14:00:00Z",
                "2026-03-10T14:45:00Z",
            )
        },
    ];
    assert_eq!(day_of(&f, agenda(), "2026-03-10").await, forgotten);

    rebuild(&f, Arc::new(agenda())).await;
    assert_eq!(day_of(&f, agenda(), "2026-03-10").await, forgotten);
}
