//! Sagas: given a recorded event, then these commands; and the commands
//! are ones their target aggregates read and accept.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::{Value, json};
use steward_actors::actuations::{Actuation, ActuationCommand, PlanStepRef, ReplyRef};
use steward_actors::appointments::{Appointment, AppointmentCommand};
use steward_actors::calendar::{Calendar, CalendarCommand};
use steward_actors::goals::{Goal, GoalCommand};
use steward_actors::groceries::ShoppingList;
use steward_actors::home::{Home, HomeCommand};
use steward_actors::inbox::{Message, MessageCommand};
use steward_actors::maintenance::{Asset, AssetCommand};
use steward_actors::plans::{
    ApprovalPolicy, Autonomy, ModelLocation, Plan, PlanCommand, PlannerModel,
};
use steward_actors::saga::{
    ConfirmationEmails, LowStock, MaintenanceCalendar, PlanSteps, Reaction, ReplyMail, Saga,
    SagaConfig, Timers, TravelCalendar, steward_sagas,
};
use steward_actors::testing::{default_now, given, recorded};
use steward_actors::timers::Timer;
use steward_actors::travel::{ReservationStatus, Trip, TripCommand, parse_confirmations};
use steward_actors::{Aggregate, CommandEnvelope, Context};
use steward_events::domain::actuations::{
    ActuationEvent, ActuationFailed, ActuationSimulated, ActuationSucceeded,
};
use steward_events::domain::appointments::{AppointmentEvent, AppointmentRequested};
use steward_events::domain::calendar::{
    CalendarEvent, CalendarEventCancelled, CalendarEventScheduled, CalendarSettingsSet, WeeklyHours,
};
use steward_events::domain::goals::{
    GoalDeadlineAdjusted, GoalDirection, GoalEvent, GoalMeasure, GoalSet,
};
use steward_events::domain::groceries::{
    ItemListed, ListedBecause, PantryEvent, ShoppingListEvent, StockRanLow,
};
use steward_events::domain::home::{
    HomeEvent, RoutineDefined, RoutineEnabled, RoutineRan, RoutineTrigger, Weekday as HomeWeekday,
};
use steward_events::domain::inbox::{
    Correspondent, MessageEvent, MessageReceived, MessageSnoozed, ReplySendRequested,
};
use steward_events::domain::maintenance::{
    AssetEvent, DueBecause, MaintenanceInterval, MaintenanceTaskAdded, MaintenanceTaskDone,
    MaintenanceTaskFellDue,
};
use steward_events::domain::plans::{PlanEvent, PlanProposed};
use steward_events::domain::timers::{TimerEvent, TimerFired, TimerScheduled};
use steward_events::domain::travel::{
    ReservationCancelled, ReservationConfirmed, ReservationKind, ReservationSchedule, TripEvent,
};
use steward_events::{Personal, RecordedEvent, StreamId};

// ----------------------------------------------------------------- helpers

fn at(value: &str) -> DateTime<Utc> {
    value.parse().expect("a UTC instant")
}

fn day(value: &str) -> NaiveDate {
    value.parse().expect("a day")
}

fn stream(value: &str) -> StreamId {
    StreamId::parse(value).expect("a stream id")
}

/// `event` as the store records it in `stream_id` at `recorded_at`.
fn recorded_in<A: Aggregate>(
    stream_id: &str,
    event: impl Into<A::Event>,
    recorded_at: DateTime<Utc>,
) -> RecordedEvent {
    let mut stored = recorded::<A>(&event.into(), 3);
    stored.stream_id = stream(stream_id);
    stored.recorded_at = recorded_at;
    stored
}

/// The same event once its personal part was erased.
fn erased(mut event: RecordedEvent) -> RecordedEvent {
    assert!(event.personal.is_some(), "the event has a personal part");
    event.personal = Some(Personal::Erased);
    event
}

/// What `saga` answers `event` with, checking that it reacts to its type,
/// answers the same twice, and keys its reactions apart.
#[track_caller]
fn react(saga: &dyn Saga, event: &RecordedEvent) -> Vec<Reaction> {
    assert!(
        saga.reacts_to().contains(&event.event_type.as_str()),
        "{} does not react to {}",
        saga.name(),
        event.event_type
    );
    let first = saga.react(event);
    assert_eq!(
        first,
        saga.react(event),
        "a reaction depends on the event only"
    );
    let keys: BTreeSet<&str> = first.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), first.len(), "keys tell the reactions apart");
    first
}

/// The envelope the runner sends a reaction in.
fn envelope(saga: &dyn Saga, trigger: &RecordedEvent, reaction: &Reaction) -> CommandEnvelope {
    CommandEnvelope {
        command_id: reaction.command_id(saga.name(), trigger),
        stream_id: reaction.stream_id.clone(),
        command_type: reaction.command_type.clone(),
        data: reaction.data.clone(),
        correlation_id: None,
        causation_id: None,
        actor: format!("saga:{}", saga.name()),
    }
}

/// The reaction as its target aggregate's typed command.
#[track_caller]
fn command<A: Aggregate>(
    saga: &dyn Saga,
    trigger: &RecordedEvent,
    reaction: &Reaction,
) -> A::Command {
    assert_eq!(reaction.stream_id.category(), A::CATEGORY);
    envelope(saga, trigger, reaction)
        .typed::<A>()
        .unwrap_or_else(|error| panic!("{reaction:?} is no {} command: {error}", A::CATEGORY))
}

/// The command a timer's `Schedule` will send, as its target's typed
/// command.
#[track_caller]
fn timer_command<A: Aggregate>(schedule: &Reaction) -> A::Command {
    let data = &schedule.data;
    let envelope = CommandEnvelope {
        command_id: "timer:test".into(),
        stream_id: serde_json::from_value(data["target"].clone()).expect("a target stream"),
        command_type: data["command_type"]
            .as_str()
            .expect("a command type")
            .into(),
        data: data["data"].clone(),
        correlation_id: None,
        causation_id: None,
        actor: "timer".into(),
    };
    assert_eq!(envelope.stream_id.category(), A::CATEGORY);
    envelope.typed::<A>().expect("the timer's command")
}

/// A `Schedule` reaction as `given::<Timer>([])` records it.
fn timer_scheduled(schedule: &Reaction) -> TimerEvent {
    let data = &schedule.data;
    TimerEvent::Scheduled(TimerScheduled {
        timer_id: "test".into(),
        due_at: serde_json::from_value(data["due_at"].clone()).expect("a due instant"),
        target: serde_json::from_value(data["target"].clone()).expect("a target"),
        command_type: data["command_type"].as_str().expect("a command").into(),
        data: data["data"].clone(),
    })
}

/// Asserts a timer takes the `Schedule` reaction as a new timer.
#[track_caller]
fn assert_timer_accepts(saga: &dyn Saga, trigger: &RecordedEvent, schedule: &Reaction) {
    let expected = timer_scheduled(schedule);
    given::<Timer>([])
        .when(command::<Timer>(saga, trigger, schedule))
        .then([expected]);
}

fn schedule_reaction(
    timer_id: &str,
    due_at: &str,
    target: &str,
    command: &str,
    data: Value,
) -> Reaction {
    Reaction::new(
        "timer",
        stream(&format!("timer-{timer_id}")),
        "Schedule",
        json!({
            "due_at": due_at,
            "target": target,
            "command_type": command,
            "data": data,
        }),
    )
}

// ------------------------------------------------------------ the sagas

#[test]
fn steward_runs_seven_sagas_with_stream_safe_names() {
    let sagas = steward_sagas(&SagaConfig::default());
    let names: Vec<&str> = sagas.iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        [
            "travel_calendar",
            "confirmation_emails",
            "low_stock",
            "maintenance_calendar",
            "timers",
            "plan_steps",
            "reply_mail"
        ]
    );
    for name in names {
        StreamId::new("saga", name).expect("a saga names its stream");
    }
    assert_eq!(SagaConfig::default().calendar, stream("calendar-main"));
}

#[test]
fn sagas_react_to_event_types_that_exist() {
    let known: BTreeSet<String> = steward_events::domain::schemas()
        .into_iter()
        .filter_map(|(name, _)| name.split_once(".v").map(|(t, _)| t.to_owned()))
        .collect();
    for saga in steward_sagas(&SagaConfig::default()) {
        assert!(!saga.reacts_to().is_empty());
        for event_type in saga.reacts_to() {
            assert!(
                known.contains(*event_type),
                "{} reacts to unknown {event_type}",
                saga.name()
            );
        }
    }
}

#[test]
fn sagas_answer_only_the_event_types_they_react_to() {
    let samples = [
        confirmed_flight(),
        received("msg-1", "flight_jsonld.eml"),
        ran_low(3.5),
        fell_due(day("2026-03-02"), day("2026-03-09"), default_now()),
        snoozed(),
        goal_set(),
    ];
    for saga in steward_sagas(&SagaConfig::default()) {
        for event in &samples {
            if !saga.reacts_to().contains(&event.event_type.as_str()) {
                assert_eq!(
                    saga.react(event),
                    [],
                    "{} answered {}",
                    saga.name(),
                    event.event_type
                );
            }
        }
    }
}

#[test]
fn an_event_in_a_stream_of_another_category_gets_no_answer() {
    let mut stray = confirmed_flight();
    stray.stream_id = stream("calendar-spring");
    assert_eq!(
        TravelCalendar::new(stream("calendar-main")).react(&stray),
        []
    );
    let mut stray = ran_low(1.0);
    stray.stream_id = stream("home-flat");
    assert_eq!(LowStock.react(&stray), []);
}

// ------------------------------------------------------- travel_calendar

fn travel() -> TravelCalendar {
    TravelCalendar::new(stream("calendar-main"))
}

fn flight() -> ReservationConfirmed {
    ReservationConfirmed {
        reservation_id: "lh902".into(),
        kind: ReservationKind::Flight,
        provider: "Lufthansa".into(),
        number: Some("LH 902".into()),
        schedule: ReservationSchedule::Transport {
            from: "FRA".into(),
            to: "LHR".into(),
            departs_at: "2026-05-04T09:05:00+02:00".parse().expect("a local time"),
            arrives_at: "2026-05-04T09:50:00+01:00".parse().expect("a local time"),
        },
        confirmation_code: Some("LH7QX2".into()),
        address: None,
        travellers: Vec::new(),
    }
}

fn confirmed_flight() -> RecordedEvent {
    recorded_in::<Trip>(
        "trip-spring-london",
        TripEvent::ReservationConfirmed(flight()),
        default_now(),
    )
}

fn hotel() -> RecordedEvent {
    recorded_in::<Trip>(
        "trip-spring-london",
        TripEvent::ReservationConfirmed(ReservationConfirmed {
            reservation_id: "strand".into(),
            kind: ReservationKind::Hotel,
            provider: "The Strand Palace".into(),
            number: None,
            schedule: ReservationSchedule::Stay {
                check_in: day("2026-05-04"),
                check_out: day("2026-05-07"),
            },
            confirmation_code: Some("SP-1".into()),
            address: Some("372 Strand, London".into()),
            travellers: Vec::new(),
        }),
        default_now(),
    )
}

fn on_calendar(
    id: &str,
    title: &str,
    start: &str,
    end: &str,
    source: &str,
) -> CalendarEventScheduled {
    CalendarEventScheduled {
        event_id: id.into(),
        title: title.into(),
        start: start.parse().expect("a local time"),
        end: end.parse().expect("a local time"),
        time_zone: "UTC".into(),
        end_time_zone: "UTC".into(),
        starts_at: at(&format!("{start}Z")),
        ends_at: at(&format!("{end}Z")),
        recurrence: None,
        attendees: Vec::new(),
        location: None,
        organizer: None,
        invitation: false,
        tentative: false,
        source: Some(source.into()),
        double_booked_with: Vec::new(),
    }
}

#[test]
fn a_confirmed_flight_goes_on_the_calendar_in_utc_even_over_a_meeting() {
    let saga = travel();
    let event = confirmed_flight();
    let reactions = react(&saga, &event);
    assert_eq!(
        reactions,
        [Reaction::new(
            "schedule",
            stream("calendar-main"),
            "ScheduleEvent",
            json!({
                "event_id": "trip-spring-london:lh902",
                "title": "Flight LH 902 (Lufthansa): FRA → LHR",
                "start": "2026-05-04T07:05:00",
                "end": "2026-05-04T08:50:00",
                "time_zone": "UTC",
                "end_time_zone": "UTC",
                "tentative": false,
                "force": true,
                "source": "travel:spring-london/lh902",
            }),
        )]
    );
    let expected = on_calendar(
        "trip-spring-london:lh902",
        "Flight LH 902 (Lufthansa): FRA → LHR",
        "2026-05-04T07:05:00",
        "2026-05-04T08:50:00",
        "travel:spring-london/lh902",
    );
    given::<Calendar>([])
        .when(command::<Calendar>(&saga, &event, &reactions[0]))
        .then([CalendarEvent::Scheduled(expected.clone())]);
    // Forced: a meeting at the time does not keep the flight off.
    let standup = CalendarEventScheduled {
        source: None,
        ..on_calendar(
            "standup",
            "Standup",
            "2026-05-04T08:00:00",
            "2026-05-04T08:15:00",
            "-",
        )
    };
    given::<Calendar>([CalendarEvent::Scheduled(standup)])
        .when(command::<Calendar>(&saga, &event, &reactions[0]))
        .then([CalendarEvent::Scheduled(CalendarEventScheduled {
            double_booked_with: vec!["standup".into()],
            ..expected.clone()
        })]);
    // Confirmed again (a new booking code): the same command, no change.
    given::<Calendar>([CalendarEvent::Scheduled(expected)])
        .when(command::<Calendar>(&saga, &event, &reactions[0]))
        .then([]);
}

#[test]
fn a_confirmed_hotel_spans_check_in_afternoon_to_check_out_morning_at_its_address() {
    let saga = travel();
    let event = hotel();
    let reactions = react(&saga, &event);
    assert_eq!(
        reactions,
        [Reaction::new(
            "schedule",
            stream("calendar-main"),
            "ScheduleEvent",
            json!({
                "event_id": "trip-spring-london:strand",
                "title": "Hotel: The Strand Palace",
                "start": "2026-05-04T15:00:00",
                "end": "2026-05-07T11:00:00",
                "time_zone": "UTC",
                "end_time_zone": "UTC",
                "tentative": false,
                "force": true,
                "source": "travel:spring-london/strand",
                "location": "372 Strand, London",
            }),
        )]
    );
    given::<Calendar>([])
        .when(command::<Calendar>(&saga, &event, &reactions[0]))
        .then([CalendarEvent::Scheduled(CalendarEventScheduled {
            location: Some("372 Strand, London".into()),
            ..on_calendar(
                "trip-spring-london:strand",
                "Hotel: The Strand Palace",
                "2026-05-04T15:00:00",
                "2026-05-07T11:00:00",
                "travel:spring-london/strand",
            )
        })]);
}

#[test]
fn an_erased_address_leaves_the_stay_without_a_place() {
    let event = erased(hotel());
    let reactions = react(&travel(), &event);
    assert_eq!(reactions.len(), 1);
    assert_eq!(reactions[0].data.get("location"), None);
    assert_eq!(reactions[0].data["title"], "Hotel: The Strand Palace");
}

#[test]
fn trains_and_hire_cars_are_titled_by_their_route() {
    let saga = travel();
    let departs = "2026-05-05T13:00:00+02:00".parse().expect("a local time");
    let returns = "2026-05-06T13:00:00+02:00".parse().expect("a local time");
    let car = ReservationConfirmed {
        reservation_id: "car".into(),
        kind: ReservationKind::Car,
        provider: "Hertz".into(),
        number: None,
        schedule: ReservationSchedule::Transport {
            from: "Paris Nord".into(),
            to: "Paris Nord".into(),
            departs_at: departs,
            arrives_at: returns,
        },
        confirmation_code: None,
        address: None,
        travellers: Vec::new(),
    };
    let train = ReservationConfirmed {
        reservation_id: "es9014".into(),
        kind: ReservationKind::Train,
        provider: "Eurostar".into(),
        number: Some("ES 9014".into()),
        schedule: ReservationSchedule::Transport {
            from: "London St Pancras".into(),
            to: "Paris Nord".into(),
            departs_at: departs,
            arrives_at: returns,
        },
        ..car.clone()
    };
    let title = |confirmed: ReservationConfirmed| {
        let event = recorded_in::<Trip>(
            "trip-paris",
            TripEvent::ReservationConfirmed(confirmed),
            default_now(),
        );
        react(&saga, &event)[0].data["title"].clone()
    };
    assert_eq!(title(car), "Car hire (Hertz): Paris Nord");
    assert_eq!(
        title(train),
        "Train ES 9014 (Eurostar): London St Pancras → Paris Nord"
    );
}

#[test]
fn a_cancelled_confirmed_reservation_comes_off_the_calendar() {
    let saga = travel();
    let event = recorded_in::<Trip>(
        "trip-spring-london",
        TripEvent::ReservationCancelled(ReservationCancelled {
            reservation_id: "lh902".into(),
            was_confirmed: true,
        }),
        default_now(),
    );
    let reactions = react(&saga, &event);
    assert_eq!(
        reactions,
        [Reaction::new(
            "cancel",
            stream("calendar-main"),
            "CancelEvent",
            json!({ "event_id": "trip-spring-london:lh902" }),
        )]
    );
    let on_it = on_calendar(
        "trip-spring-london:lh902",
        "Flight LH 902 (Lufthansa): FRA → LHR",
        "2026-05-04T07:05:00",
        "2026-05-04T08:50:00",
        "travel:spring-london/lh902",
    );
    given::<Calendar>([CalendarEvent::Scheduled(on_it)])
        .when(command::<Calendar>(&saga, &event, &reactions[0]))
        .then([CalendarEvent::Cancelled(CalendarEventCancelled {
            event_id: "trip-spring-london:lh902".into(),
        })]);
}

#[test]
fn a_cancelled_pending_reservation_was_never_on_the_calendar() {
    let event = recorded_in::<Trip>(
        "trip-spring-london",
        TripEvent::ReservationCancelled(ReservationCancelled {
            reservation_id: "lh902".into(),
            was_confirmed: false,
        }),
        default_now(),
    );
    assert_eq!(react(&travel(), &event), []);
}

#[test]
fn travel_goes_on_the_configured_calendar_under_ids_it_can_hold() {
    let sagas = steward_sagas(&SagaConfig {
        calendar: stream("calendar-family"),
    });
    let reactions = react(sagas[0].as_ref(), &confirmed_flight());
    assert_eq!(reactions[0].stream_id, stream("calendar-family"));
    let long_trip = "t".repeat(240);
    let id = TravelCalendar::event_id(&long_trip, "lh902");
    assert_eq!(id.chars().count(), 200);
    assert_ne!(id, TravelCalendar::event_id(&long_trip, "lh903"));
    // Dashes in trip and reservation ids do not run together.
    assert_ne!(
        TravelCalendar::event_id("a-b", "c"),
        TravelCalendar::event_id("a", "b-c")
    );
}

// --------------------------------------------------- confirmation_emails

/// A fixture: `Subject: …`, a blank line, the body.
fn fixture(name: &str) -> (String, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/travel")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("the fixture reads");
    let (head, body) = text.split_once("\n\n").expect("a subject line and a body");
    let subject = head.strip_prefix("Subject: ").expect("a subject line");
    (subject.to_owned(), body.to_owned())
}

fn received(message_id: &str, fixture_name: &str) -> RecordedEvent {
    let (subject, body_text) = fixture(fixture_name);
    recorded_in::<Message>(
        &format!("message-{message_id}"),
        MessageEvent::Received(MessageReceived {
            message_id: message_id.into(),
            account: "personal".into(),
            thread_id: "t-1".into(),
            from: Correspondent::address("bookings@example.com"),
            to: vec![Correspondent::address("owner@example.org")],
            cc: Vec::new(),
            subject,
            body_text,
            received_at: default_now(),
            has_list_unsubscribe: false,
            size_bytes: 4096,
            internet_message_id: None,
        }),
        default_now(),
    )
}

/// Runs `commands` on one trip in order, as the runner sends them, and
/// returns the events each decided.
#[track_caller]
fn run_on_trip(trip: &mut Trip, commands: Vec<TripCommand>) -> Vec<Vec<TripEvent>> {
    let context = Context::new("mail-test", default_now());
    commands
        .into_iter()
        .map(|command| {
            let events = trip
                .decide(command.clone(), &context)
                .unwrap_or_else(|rejection| panic!("{command:?} was refused: {rejection}"));
            for event in &events {
                trip.apply(event);
            }
            events
        })
        .collect()
}

#[test]
fn a_flight_confirmation_becomes_a_planned_trip_with_its_flights() {
    let saga = ConfirmationEmails;
    let event = received("0042@mail.example", "flight_jsonld.eml");
    let reactions = react(&saga, &event);
    let trip = stream("trip-mail-0042_40_mail_2e_example");
    assert_eq!(
        reactions,
        [
            Reaction::new(
                "plan",
                trip.clone(),
                "PlanTrip",
                json!({
                    "title": "Trip to LHR",
                    "destination": "LHR",
                    "starts_on": "2026-05-04",
                    "ends_on": "2026-05-07",
                }),
            ),
            Reaction::new(
                "reservation-0",
                trip.clone(),
                "AddReservation",
                json!({
                    "reservation_id": "mail-0",
                    "kind": "flight",
                    "provider": "Lufthansa",
                    "number": "LH 902",
                    "from": "FRA",
                    "to": "LHR",
                    "departs_at": "2026-05-04T09:05:00+02:00",
                    "arrives_at": "2026-05-04T09:50:00+01:00",
                    "confirmation_code": "LH7QX2",
                    "travellers": ["Eva Green"],
                    "confirmed": true,
                }),
            ),
            Reaction::new(
                "reservation-1",
                trip,
                "AddReservation",
                json!({
                    "reservation_id": "mail-1",
                    "kind": "flight",
                    "provider": "Lufthansa",
                    "number": "LH 915",
                    "from": "LHR",
                    "to": "FRA",
                    "departs_at": "2026-05-07T18:40:00+01:00",
                    "arrives_at": "2026-05-07T21:15:00+02:00",
                    "confirmation_code": "LH7QX2",
                    "travellers": ["Eva Green"],
                    "confirmed": true,
                }),
            ),
        ]
    );
    // The reservations are the parser's drafts, under the saga's ids.
    let (subject, body) = fixture("flight_jsonld.eml");
    let drafts: Vec<TripCommand> = parse_confirmations(&subject, &body)
        .into_iter()
        .enumerate()
        .map(|(i, draft)| draft.into_command(ConfirmationEmails::reservation_id(i)))
        .collect();
    let typed: Vec<TripCommand> = reactions
        .iter()
        .map(|r| command::<Trip>(&saga, &event, r))
        .collect();
    assert_eq!(typed[1..], drafts[..]);
}

#[test]
fn every_confirmation_fixture_is_accepted_in_order_by_an_empty_trip_and_again_as_a_repeat() {
    let saga = ConfirmationEmails;
    for name in [
        "flight_jsonld.eml",
        "lodging_jsonld.eml",
        "graph_jsonld.eml",
        "plain_flight.txt",
        "plain_hotel.txt",
    ] {
        let event = received("m-1", name);
        let reactions = react(&saga, &event);
        assert!(reactions.len() >= 2, "{name} holds a reservation");
        let commands: Vec<TripCommand> = reactions
            .iter()
            .map(|r| command::<Trip>(&saga, &event, r))
            .collect();
        let mut trip = Trip::default();
        let decided = run_on_trip(&mut trip, commands.clone());
        assert!(
            decided.iter().all(|events| !events.is_empty()),
            "{name}: {decided:#?}"
        );
        assert!(trip.plan.is_some());
        assert_eq!(trip.reservations.len(), reactions.len() - 1, "{name}");
        assert!(
            trip.reservations
                .values()
                .all(|r| r.status == ReservationStatus::Confirmed),
            "{name}"
        );
        // The runner sending them all again changes nothing.
        let repeated = run_on_trip(&mut trip, commands);
        assert!(repeated.iter().all(Vec::is_empty), "{name}: {repeated:#?}");
    }
}

#[test]
fn a_hotel_confirmation_plans_a_trip_to_the_hotel() {
    let event = received("m-2", "plain_hotel.txt");
    let reactions = react(&ConfirmationEmails, &event);
    assert_eq!(
        reactions[0].data,
        json!({
            "title": "Trip to Hotel Adler",
            "destination": "Hotel Adler",
            "starts_on": "2026-06-12",
            "ends_on": "2026-06-14",
        })
    );
    assert_eq!(reactions[1].data["check_in"], "2026-06-12");
    assert_eq!(reactions[1].data["address"], "Marktplatz 3, 79098 Freiburg");
}

#[test]
fn mail_without_a_reservation_or_with_its_text_erased_plans_nothing() {
    for name in [
        "newsletter.eml",
        "cancelled_jsonld.eml",
        "plain_cancelled.txt",
    ] {
        assert_eq!(
            react(&ConfirmationEmails, &received("m-3", name)),
            [],
            "{name}"
        );
    }
    let event = erased(received("m-4", "flight_jsonld.eml"));
    assert_eq!(react(&ConfirmationEmails, &event), []);
}

// -------------------------------------------------------------- low_stock

fn ran_low(buy: f64) -> RecordedEvent {
    recorded_in::<steward_actors::groceries::Pantry>(
        "pantry-flat-12",
        PantryEvent::RanLow(StockRanLow {
            item: "oat milk".into(),
            left: 0.5,
            unit: "l".into(),
            days_left: Some(2.0),
            buy,
        }),
        default_now(),
    )
}

#[test]
fn an_item_running_low_goes_on_the_households_list() {
    let event = ran_low(3.5);
    let reactions = react(&LowStock, &event);
    assert_eq!(
        reactions,
        [Reaction::new(
            "list",
            stream("shoppinglist-flat-12"),
            "ListItem",
            json!({
                "item": "oat milk",
                "quantity": 3.5,
                "unit": "l",
                "because": "low_stock",
            }),
        )]
    );
    given::<ShoppingList>([])
        .when(command::<ShoppingList>(&LowStock, &event, &reactions[0]))
        .then([ShoppingListEvent::Listed(ItemListed {
            item: "oat milk".into(),
            quantity: Some(3.5),
            unit: Some("l".into()),
            because: ListedBecause::LowStock,
        })]);
}

#[test]
fn nothing_to_buy_lists_the_item_without_an_amount() {
    let event = ran_low(0.0);
    let reactions = react(&LowStock, &event);
    assert_eq!(
        reactions[0].data,
        json!({ "item": "oat milk", "because": "low_stock" })
    );
    given::<ShoppingList>([])
        .when(command::<ShoppingList>(&LowStock, &event, &reactions[0]))
        .then([ShoppingListEvent::Listed(ItemListed {
            item: "oat milk".into(),
            quantity: None,
            unit: None,
            because: ListedBecause::LowStock,
        })]);
}

// --------------------------------------------------- maintenance_calendar

fn fell_due(since: NaiveDate, overdue_on: NaiveDate, recorded_at: DateTime<Utc>) -> RecordedEvent {
    recorded_in::<Asset>(
        "asset-boiler",
        AssetEvent::TaskFellDue(MaintenanceTaskFellDue {
            task_id: "service".into(),
            because: DueBecause::Date,
            since,
            overdue_on,
            reading: None,
        }),
        recorded_at,
    )
}

fn maintenance() -> MaintenanceCalendar {
    MaintenanceCalendar::new(stream("calendar-main"))
}

fn london_work_week() -> CalendarEvent {
    let nine = NaiveTime::from_hms_opt(9, 0, 0).expect("a time");
    let five = NaiveTime::from_hms_opt(17, 0, 0).expect("a time");
    CalendarEvent::SettingsSet(CalendarSettingsSet {
        name: "Main".into(),
        time_zone: "Europe/London".into(),
        working_hours: WeeklyHours::weekdays(nine, five),
        buffer_before_minutes: 0,
        buffer_after_minutes: 0,
        focus_blocks: Vec::new(),
    })
}

#[test]
fn a_task_falling_due_gets_a_tentative_hour_before_it_is_overdue() {
    let saga = maintenance();
    // Due from Monday 2 March, recorded at 09:00 that day.
    let event = fell_due(day("2026-03-02"), day("2026-03-09"), default_now());
    let reactions = react(&saga, &event);
    assert_eq!(
        reactions,
        [Reaction::new(
            "propose",
            stream("calendar-main"),
            "ProposeSlot",
            json!({
                "event_id": "maintenance-boiler.service-20260302",
                "title": "Maintenance: service (boiler)",
                "duration_minutes": 60,
                "not_before": "2026-03-02T09:00:00Z",
                "not_after": "2026-03-09T00:00:00Z",
                "source": "maintenance:boiler/service/2026-03-02",
            }),
        )]
    );
    let command = command::<Calendar>(&saga, &event, &reactions[0]);
    assert!(matches!(command, CalendarCommand::ProposeSlot { .. }));
    let state = given::<Calendar>([london_work_week()])
        .when(command.clone())
        .then_matches(|events| {
            let [CalendarEvent::Scheduled(slot)] = events else {
                panic!("expected one scheduled slot, got {events:?}");
            };
            assert!(slot.tentative);
            assert_eq!(slot.starts_at, at("2026-03-02T10:00:00Z"));
            assert_eq!(slot.ends_at, at("2026-03-02T11:00:00Z"));
            assert_eq!(
                slot.source.as_deref(),
                Some("maintenance:boiler/service/2026-03-02")
            );
        });
    // The same cycle again: already proposed.
    let context = Context::new("main", default_now());
    assert_eq!(state.decide(command, &context), Ok(Vec::new()));
}

#[test]
fn a_task_due_from_midnight_may_be_slotted_from_the_start_of_its_day() {
    let recorded_at = at("2026-02-27T18:00:00Z");
    let event = fell_due(day("2026-03-02"), day("2026-03-09"), recorded_at);
    let reactions = react(&maintenance(), &event);
    assert_eq!(reactions[0].data["not_before"], "2026-03-02T00:00:00Z");
    assert_eq!(reactions[0].data["not_after"], "2026-03-09T00:00:00Z");
}

#[test]
fn without_a_day_of_grace_left_the_slot_may_be_within_a_week() {
    // No grace days.
    let event = fell_due(day("2026-03-02"), day("2026-03-02"), default_now());
    let reactions = react(&maintenance(), &event);
    assert_eq!(reactions[0].data["not_before"], "2026-03-02T09:00:00Z");
    assert_eq!(reactions[0].data["not_after"], "2026-03-09T09:00:00Z");
    // Recorded after its grace ran out.
    let event = fell_due(day("2026-02-20"), day("2026-02-27"), default_now());
    let reactions = react(&maintenance(), &event);
    assert_eq!(reactions[0].data["not_before"], "2026-03-02T09:00:00Z");
    assert_eq!(reactions[0].data["not_after"], "2026-03-09T09:00:00Z");
    assert_eq!(
        reactions[0].data["event_id"],
        "maintenance-boiler.service-20260220"
    );
}

// ------------------------------------------------------------------ timers

fn snoozed() -> RecordedEvent {
    recorded_in::<Message>(
        "message-0042@mail.example",
        MessageEvent::Snoozed(MessageSnoozed {
            until: at("2026-03-03T08:00:00Z"),
            at: default_now(),
        }),
        default_now(),
    )
}

#[test]
fn a_snooze_sets_a_timer_to_end_it() {
    let event = snoozed();
    let reactions = react(&Timers, &event);
    assert_eq!(
        reactions,
        [schedule_reaction(
            "snooze-0042_40_mail_2e_example-1772524800",
            "2026-03-03T08:00:00Z",
            "message-0042@mail.example",
            "EndSnooze",
            json!({ "until": "2026-03-03T08:00:00Z" }),
        )]
    );
    assert_timer_accepts(&Timers, &event, &reactions[0]);
    assert_eq!(
        timer_command::<Message>(&reactions[0]),
        MessageCommand::EndSnooze {
            until: at("2026-03-03T08:00:00Z")
        }
    );
}

fn wake_up(next_run_at: Option<DateTime<Utc>>) -> RoutineDefined {
    RoutineDefined {
        routine_id: "wake-up".into(),
        name: "Wake up".into(),
        version: 2,
        trigger: RoutineTrigger::TimeOfDay {
            time: NaiveTime::from_hms_opt(7, 30, 0).expect("a time"),
            weekdays: vec![HomeWeekday::Monday, HomeWeekday::Tuesday],
            zone: "Europe/Paris".into(),
        },
        scene_id: "morning".into(),
        next_run_at,
    }
}

#[test]
fn a_routine_defined_or_run_sets_a_timer_for_its_next_run() {
    let defined = recorded_in::<Home>(
        "home-flat-12",
        HomeEvent::RoutineDefined(wake_up(Some(at("2026-03-03T06:30:00Z")))),
        default_now(),
    );
    let reactions = react(&Timers, &defined);
    assert_eq!(
        reactions,
        [schedule_reaction(
            "routine-flat-12.wake-up-1772519400",
            "2026-03-03T06:30:00Z",
            "home-flat-12",
            "RunRoutine",
            json!({
                "routine_id": "wake-up",
                "version": 2,
                "run_id": "wake-up@2026-03-03T06:30:00Z",
            }),
        )]
    );
    assert_timer_accepts(&Timers, &defined, &reactions[0]);
    assert_eq!(
        timer_command::<Home>(&reactions[0]),
        HomeCommand::RunRoutine {
            routine_id: "wake-up".into(),
            version: 2,
            run_id: "wake-up@2026-03-03T06:30:00Z".into(),
        }
    );

    let ran = recorded_in::<Home>(
        "home-flat-12",
        HomeEvent::RoutineRan(RoutineRan {
            routine_id: "wake-up".into(),
            version: 2,
            run_id: "wake-up@2026-03-03T06:30:00Z".into(),
            at: at("2026-03-03T06:30:01Z"),
            next_run_at: Some(at("2026-03-09T06:30:00Z")),
        }),
        at("2026-03-03T06:30:01Z"),
    );
    let reactions = react(&Timers, &ran);
    assert_eq!(reactions.len(), 1);
    assert_eq!(
        reactions[0].stream_id,
        stream(&format!(
            "timer-routine-flat-12.wake-up-{}",
            at("2026-03-09T06:30:00Z").timestamp()
        ))
    );
    assert_eq!(
        reactions[0].data["data"]["run_id"],
        "wake-up@2026-03-09T06:30:00Z"
    );
}

#[test]
fn a_routine_switched_on_again_sets_a_timer_for_its_next_run() {
    let enabled = recorded_in::<Home>(
        "home-flat-12",
        HomeEvent::RoutineEnabled(RoutineEnabled {
            routine_id: "wake-up".into(),
            version: 2,
            next_run_at: Some(at("2026-03-09T06:30:00Z")),
        }),
        default_now(),
    );
    let reactions = react(&Timers, &enabled);
    assert_eq!(reactions.len(), 1);
    assert_eq!(
        timer_command::<Home>(&reactions[0]),
        HomeCommand::RunRoutine {
            routine_id: "wake-up".into(),
            version: 2,
            run_id: "wake-up@2026-03-09T06:30:00Z".into(),
        }
    );
    // Recorded before the event carried the version: no timer it could name.
    let unversioned = recorded_in::<Home>(
        "home-flat-12",
        HomeEvent::RoutineEnabled(RoutineEnabled {
            routine_id: "wake-up".into(),
            version: 0,
            next_run_at: Some(at("2026-03-09T06:30:00Z")),
        }),
        default_now(),
    );
    assert_eq!(react(&Timers, &unversioned), []);
}

#[test]
fn a_routine_without_a_next_run_sets_no_timer() {
    let defined = recorded_in::<Home>(
        "home-flat-12",
        HomeEvent::RoutineDefined(wake_up(None)),
        default_now(),
    );
    assert_eq!(react(&Timers, &defined), []);
}

#[test]
fn maintenance_due_days_set_a_check_at_the_start_of_the_day() {
    let added = recorded_in::<Asset>(
        "asset-boiler",
        AssetEvent::TaskAdded(MaintenanceTaskAdded {
            task_id: "service".into(),
            title: "Annual service".into(),
            interval: MaintenanceInterval {
                every_days: None,
                every_months: Some(12),
                every_usage: None,
            },
            grace_days: 7,
            due_on: Some(day("2026-04-01")),
            due_usage: None,
        }),
        default_now(),
    );
    let reactions = react(&Timers, &added);
    assert_eq!(
        reactions,
        [schedule_reaction(
            "due-boiler-20260401",
            "2026-04-01T00:00:00Z",
            "asset-boiler",
            "CheckDue",
            json!({}),
        )]
    );
    assert_timer_accepts(&Timers, &added, &reactions[0]);
    assert_eq!(
        timer_command::<Asset>(&reactions[0]),
        AssetCommand::CheckDue {}
    );

    let done = recorded_in::<Asset>(
        "asset-boiler",
        AssetEvent::TaskDone(MaintenanceTaskDone {
            task_id: "service".into(),
            at: default_now(),
            usage_reading: None,
            due_on: Some(day("2027-03-02")),
            due_usage: None,
        }),
        default_now(),
    );
    assert_eq!(
        react(&Timers, &done)[0].stream_id,
        stream("timer-due-boiler-20270302")
    );
    let due = fell_due(day("2026-03-02"), day("2026-03-09"), default_now());
    let reactions = react(&Timers, &due);
    assert_eq!(reactions[0].stream_id, stream("timer-due-boiler-20260309"));
    assert_eq!(reactions[0].data["due_at"], "2026-03-09T00:00:00Z");

    // A task due by usage only has no day to wait for.
    let by_usage = recorded_in::<Asset>(
        "asset-car",
        AssetEvent::TaskDone(MaintenanceTaskDone {
            task_id: "oil".into(),
            at: default_now(),
            usage_reading: Some(12_000.0),
            due_on: None,
            due_usage: Some(27_000.0),
        }),
        default_now(),
    );
    assert_eq!(react(&Timers, &by_usage), []);
}

fn requested(respond_by: Option<DateTime<Utc>>) -> RecordedEvent {
    recorded_in::<Appointment>(
        "appointment-dentist",
        AppointmentEvent::Requested(AppointmentRequested {
            provider_name: "Example Practice".into(),
            provider_contact: Some("desk@practice.example".into()),
            purpose: "check-up".into(),
            preferred_windows: Vec::new(),
            duration_minutes: 30,
            respond_by,
            requested_at: default_now(),
        }),
        default_now(),
    )
}

#[test]
fn a_request_with_a_deadline_sets_a_timer_to_let_it_lapse() {
    let event = requested(Some(at("2026-03-05T17:00:00Z")));
    let reactions = react(&Timers, &event);
    assert_eq!(
        reactions,
        [schedule_reaction(
            "expire-dentist-1772730000",
            "2026-03-05T17:00:00Z",
            "appointment-dentist",
            "ExpireRequest",
            json!({}),
        )]
    );
    assert_timer_accepts(&Timers, &event, &reactions[0]);
    assert_eq!(
        timer_command::<Appointment>(&reactions[0]),
        AppointmentCommand::ExpireRequest {}
    );
    // The deadline is no personal data: the timer survives an erasure.
    assert_eq!(react(&Timers, &erased(event)), reactions);
    assert_eq!(react(&Timers, &requested(None)), []);
}

fn goal_set() -> RecordedEvent {
    recorded_in::<Goal>(
        "goal-run-500",
        GoalEvent::Set(GoalSet {
            title: "Run 500 km".into(),
            metric: "distance".into(),
            unit: "km".into(),
            baseline: 0.0,
            target: 500.0,
            direction: GoalDirection::Increase,
            measure: GoalMeasure::Cumulative,
            start: day("2026-03-02"),
            deadline: day("2026-03-31"),
            habit: false,
        }),
        default_now(),
    )
}

fn pace_fired(timer_id: &str, due_at: &str, outcome: &str) -> RecordedEvent {
    let fired_at = at(due_at) + chrono::TimeDelta::seconds(5);
    recorded_in::<Timer>(
        &format!("timer-{timer_id}"),
        TimerEvent::Fired(TimerFired {
            timer_id: timer_id.into(),
            due_at: at(due_at),
            fired_at,
            outcome: outcome.into(),
        }),
        fired_at,
    )
}

#[test]
fn a_goal_set_checks_its_pace_from_the_next_midnight() {
    let event = goal_set();
    let reactions = react(&Timers, &event);
    assert_eq!(
        reactions,
        [schedule_reaction(
            "pace-run-500-20260303-20260331",
            "2026-03-03T00:00:00Z",
            "goal-run-500",
            "CheckPace",
            json!({}),
        )]
    );
    assert_timer_accepts(&Timers, &event, &reactions[0]);
    assert_eq!(
        timer_command::<Goal>(&reactions[0]),
        GoalCommand::CheckPace {}
    );
}

#[test]
fn each_pace_check_sets_the_next_days_until_the_day_after_the_deadline() {
    let fired = pace_fired(
        "pace-run-500-20260303-20260331",
        "2026-03-03T00:00:00Z",
        "done",
    );
    let reactions = react(&Timers, &fired);
    assert_eq!(
        reactions,
        [schedule_reaction(
            "pace-run-500-20260304-20260331",
            "2026-03-04T00:00:00Z",
            "goal-run-500",
            "CheckPace",
            json!({}),
        )]
    );
    assert_timer_accepts(&Timers, &fired, &reactions[0]);
    // On the deadline, one more check the day after sees it pass.
    let last_day = pace_fired(
        "pace-run-500-20260331-20260331",
        "2026-03-31T00:00:00Z",
        "unchanged",
    );
    assert_eq!(
        react(&Timers, &last_day)[0].stream_id,
        stream("timer-pace-run-500-20260401-20260331")
    );
    let after = pace_fired(
        "pace-run-500-20260401-20260331",
        "2026-04-01T00:00:00Z",
        "done",
    );
    assert_eq!(react(&Timers, &after), []);
    // A check that was refused ends the chain.
    let refused = pace_fired(
        "pace-run-500-20260310-20260331",
        "2026-03-10T00:00:00Z",
        "rejected: unknown_goal",
    );
    assert_eq!(react(&Timers, &refused), []);
}

#[test]
fn a_timer_late_by_days_sets_the_check_after_it_fired() {
    let late = pace_fired(
        "pace-run-500-20260303-20260331",
        "2026-03-06T10:00:00Z",
        "done",
    );
    assert_eq!(
        react(&Timers, &late)[0].data["due_at"],
        "2026-03-07T00:00:00Z"
    );
}

#[test]
fn other_timers_firing_set_nothing() {
    let fired = pace_fired(
        "snooze-0042_40_mail_2e_example-1772524800",
        "2026-03-03T08:00:00Z",
        "done",
    );
    assert_eq!(react(&Timers, &fired), []);
}

#[test]
fn a_new_deadline_starts_a_chain_of_its_own() {
    let event = recorded_in::<Goal>(
        "goal-run-500",
        GoalEvent::DeadlineAdjusted(GoalDeadlineAdjusted {
            deadline: day("2026-04-30"),
        }),
        at("2026-03-10T12:00:00Z"),
    );
    let reactions = react(&Timers, &event);
    assert_eq!(
        reactions[0].stream_id,
        stream("timer-pace-run-500-20260311-20260430")
    );
    assert_eq!(reactions[0].data["due_at"], "2026-03-11T00:00:00Z");
}

#[test]
fn pace_timer_ids_carry_the_goal_and_its_deadline() {
    for goal in ["run-500", "Q1/run 500", "ziel-ä.b_c", "-"] {
        let id = Timers::pace_timer_id(goal, day("2026-03-03"), day("2026-12-31"));
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
            "{id}"
        );
        StreamId::new("timer", &id).expect("a timer stream");
        assert_eq!(
            Timers::parse_pace_timer_id(&id),
            Some((goal.to_owned(), day("2026-03-03"), day("2026-12-31")))
        );
    }
    assert_eq!(Timers::parse_pace_timer_id("due-boiler-20260309"), None);
    assert_eq!(Timers::parse_pace_timer_id("pace-x-2026033-20260331"), None);
}

#[test]
fn timer_ids_are_stream_safe_whatever_the_ids_in_them() {
    let odd = "a b/ü:c.d_e";
    let long = "x".repeat(300);
    let now = default_now();
    for id in [
        Timers::snooze_timer_id(odd, now),
        Timers::snooze_timer_id(&long, now),
        Timers::routine_timer_id(odd, &long, now),
        Timers::due_timer_id(odd, day("2026-03-09")),
        Timers::expiry_timer_id(&long, now),
        Timers::pace_timer_id(&long, day("2026-03-03"), day("2026-03-31")),
    ] {
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
            "{id}"
        );
        StreamId::new("timer", &id).expect("a timer stream");
    }
    // Two ids in one timer id stay apart.
    assert_ne!(
        Timers::routine_timer_id("a.b", "c", now),
        Timers::routine_timer_id("a", "b.c", now)
    );
    assert!(Timers::routine_run_id(&long, now).chars().count() <= 100);
}

// ------------------------------------------------------- plans and actuations

fn plan_proposed(autonomy: Autonomy, expires_at: Option<DateTime<Utc>>) -> RecordedEvent {
    recorded_in::<Plan>(
        "plan-lights-1",
        PlanEvent::Proposed(PlanProposed {
            request: Some("lights off".into()),
            trigger: None,
            intent: "home.set_device".into(),
            confidence: 0.9,
            slots: Default::default(),
            steps: Vec::new(),
            step_count: 1,
            rationale: String::new(),
            model: PlannerModel {
                name: "steward-intent".into(),
                version: "1".into(),
                location: ModelLocation::Local {},
            },
            memory_items: Vec::new(),
            approval: ApprovalPolicy {
                autonomy,
                approvers: Vec::new(),
                expires_at,
                reason: None,
            },
            proposed_at: default_now(),
        }),
        default_now(),
    )
}

#[test]
fn a_plan_that_asks_sets_a_timer_to_let_its_approval_lapse() {
    let event = plan_proposed(Autonomy::Ask, Some(at("2026-03-02T10:00:00Z")));
    let reactions = react(&Timers, &event);
    assert_eq!(
        reactions,
        [schedule_reaction(
            "approval-lights-1-1772445600",
            "2026-03-02T10:00:00Z",
            "plan-lights-1",
            "ExpireApproval",
            json!({}),
        )]
    );
    assert_timer_accepts(&Timers, &event, &reactions[0]);
    assert_eq!(
        timer_command::<Plan>(&reactions[0]),
        PlanCommand::ExpireApproval {}
    );
    assert_eq!(react(&Timers, &erased(event)), reactions);
    assert_eq!(react(&Timers, &plan_proposed(Autonomy::Act, None)), []);
    assert_eq!(react(&Timers, &plan_proposed(Autonomy::Suggest, None)), []);
}

fn in_actuation(event: ActuationEvent) -> RecordedEvent {
    recorded_in::<Actuation>("actuation-plan-lights-1.0", event, default_now())
}

fn plan_step() -> Option<PlanStepRef> {
    Some(PlanStepRef {
        plan_id: "lights-1".into(),
        step: 0,
    })
}

#[test]
fn an_actuations_outcome_goes_back_to_its_plan_step() {
    let succeeded = in_actuation(ActuationEvent::Succeeded(ActuationSucceeded {
        attempt: 2,
        plan_step: plan_step(),
        reply: None,
        result: json!({"packet_id": 3}),
        latency_ms: 4,
    }));
    let reactions = react(&PlanSteps, &succeeded);
    assert_eq!(
        reactions,
        [Reaction::new(
            "step",
            stream("plan-lights-1"),
            "RecordStepSucceeded",
            json!({"step": 0})
        )]
    );
    assert_eq!(
        command::<Plan>(&PlanSteps, &succeeded, &reactions[0]),
        PlanCommand::RecordStepSucceeded {
            step: 0,
            simulated: false
        }
    );

    let simulated = in_actuation(ActuationEvent::Simulated(ActuationSimulated {
        plan_step: plan_step(),
        reply: None,
        would: json!({"topic": "t"}),
    }));
    let reactions = react(&PlanSteps, &simulated);
    assert_eq!(
        command::<Plan>(&PlanSteps, &simulated, &reactions[0]),
        PlanCommand::RecordStepSucceeded {
            step: 0,
            simulated: true
        }
    );

    let failed = |retry_at: Option<DateTime<Utc>>| {
        in_actuation(ActuationEvent::Failed(ActuationFailed {
            attempt: 5,
            plan_step: plan_step(),
            reply: None,
            error: "connection refused".into(),
            retry_at,
            latency_ms: 2,
        }))
    };
    assert_eq!(
        react(&PlanSteps, &failed(Some(default_now()))),
        [],
        "it will be retried"
    );
    let final_failure = failed(None);
    let reactions = react(&PlanSteps, &final_failure);
    assert_eq!(
        command::<Plan>(&PlanSteps, &final_failure, &reactions[0]),
        PlanCommand::RecordStepFailed {
            step: 0,
            error: "connection refused".into()
        }
    );
    // The error erased, the plan still hears that the step failed.
    let reactions = react(&PlanSteps, &erased(final_failure.clone()));
    assert_eq!(
        command::<Plan>(&PlanSteps, &final_failure, &reactions[0]),
        PlanCommand::RecordStepFailed {
            step: 0,
            error: "the actuation failed at attempt 5".into()
        }
    );

    // An actuation no plan asked for reports to none.
    let alone = in_actuation(ActuationEvent::Succeeded(ActuationSucceeded {
        attempt: 1,
        plan_step: None,
        reply: None,
        result: json!({}),
        latency_ms: 1,
    }));
    assert_eq!(react(&PlanSteps, &alone), []);
}

// ------------------------------------------------------------- reply_mail

fn send_requested(internet_id: Option<&str>) -> RecordedEvent {
    recorded_in::<Message>(
        "message-m-1",
        MessageEvent::ReplySendRequested(ReplySendRequested {
            draft_id: "d1".into(),
            account: "me@example.org".into(),
            thread_id: "t-1".into(),
            in_reply_to: "m-1".into(),
            in_reply_to_internet_id: internet_id.map(Into::into),
            to: vec![Correspondent {
                address: "dana@example.org".into(),
                name: Some("Dana".into()),
            }],
            cc: vec![Correspondent::address("lee@example.org")],
            subject: "Re: Lunch".into(),
            body_text: "Thursday works.".into(),
            requested_at: default_now(),
        }),
        default_now(),
    )
}

fn reply() -> Option<ReplyRef> {
    Some(ReplyRef {
        message_id: "m-1".into(),
        draft_id: "d1".into(),
    })
}

#[test]
fn a_reply_asked_to_be_sent_becomes_a_mail_for_the_actuator_threaded_under_its_message() {
    let requested = send_requested(Some("lunch-1@example.org"));
    let reactions = react(&ReplyMail, &requested);
    assert_eq!(reactions.len(), 1);
    assert_eq!(
        reactions[0].stream_id.as_str(),
        format!("actuation-reply-{}", requested.event_id),
        "each send request is an actuation of its own"
    );
    assert_eq!(
        command::<Actuation>(&ReplyMail, &requested, &reactions[0]),
        ActuationCommand::RequestActuation {
            integration: "smtp".into(),
            action: json!({
                "account": "me@example.org",
                "to": [{"address": "dana@example.org", "name": "Dana"}],
                "cc": [{"address": "lee@example.org", "name": null}],
                "subject": "Re: Lunch",
                "body_text": "Thursday works.",
                "in_reply_to": "lunch-1@example.org",
                "references": ["lunch-1@example.org"],
            }),
            plan_step: None,
            reply: reply(),
            dry_run: false,
            max_attempts: None,
        }
    );

    // A message that came without a Message-ID threads under nothing.
    let unthreaded = send_requested(None);
    let reactions = react(&ReplyMail, &unthreaded);
    let action = &reactions[0].data["action"];
    assert_eq!(action["in_reply_to"], Value::Null);
    assert_eq!(action["references"], json!([]));

    // Erased before it was sent: no recipients left, which the mail
    // integration refuses, so nothing goes out to anyone.
    let reactions = react(&ReplyMail, &erased(requested));
    assert_eq!(reactions[0].data["action"]["to"], json!([]));
    assert_eq!(reactions[0].data["action"]["body_text"], json!(""));
}

fn in_reply_actuation(event: ActuationEvent) -> RecordedEvent {
    recorded_in::<Actuation>("actuation-reply-1", event, at("2026-03-01T09:30:00Z"))
}

#[test]
fn a_sent_or_failed_reply_goes_back_to_its_message() {
    let succeeded = in_reply_actuation(ActuationEvent::Succeeded(ActuationSucceeded {
        attempt: 1,
        plan_step: None,
        reply: reply(),
        result: json!({"message_id": "steward.abc@example.org"}),
        latency_ms: 12,
    }));
    let reactions = react(&ReplyMail, &succeeded);
    assert_eq!(
        command::<Message>(&ReplyMail, &succeeded, &reactions[0]),
        MessageCommand::RecordSent {
            draft_id: "d1".into(),
            sent_message_id: Some("steward.abc@example.org".into()),
            sent_at: at("2026-03-01T09:30:00Z"),
        }
    );
    assert_eq!(reactions[0].stream_id, stream("message-m-1"));

    let failed = |retry_at: Option<DateTime<Utc>>| {
        in_reply_actuation(ActuationEvent::Failed(ActuationFailed {
            attempt: 5,
            plan_step: None,
            reply: reply(),
            error: "the mail server is unreachable".into(),
            retry_at,
            latency_ms: 2,
        }))
    };
    assert_eq!(react(&ReplyMail, &failed(Some(default_now()))), []);
    let final_failure = failed(None);
    let reactions = react(&ReplyMail, &final_failure);
    assert_eq!(
        command::<Message>(&ReplyMail, &final_failure, &reactions[0]),
        MessageCommand::RecordSendFailed {
            draft_id: "d1".into(),
            reason: "the mail server is unreachable".into(),
        }
    );
    let reactions = react(&ReplyMail, &erased(final_failure.clone()));
    assert_eq!(
        command::<Message>(&ReplyMail, &final_failure, &reactions[0]),
        MessageCommand::RecordSendFailed {
            draft_id: "d1".into(),
            reason: "sending failed at attempt 5".into(),
        }
    );

    let simulated = in_reply_actuation(ActuationEvent::Simulated(ActuationSimulated {
        plan_step: None,
        reply: reply(),
        would: json!({}),
    }));
    let reactions = react(&ReplyMail, &simulated);
    assert!(matches!(
        command::<Message>(&ReplyMail, &simulated, &reactions[0]),
        MessageCommand::RecordSendFailed { .. }
    ));

    // Actuations that send no reply (a plan's MQTT step) are not its business.
    let plan_step = in_reply_actuation(ActuationEvent::Succeeded(ActuationSucceeded {
        attempt: 1,
        plan_step: plan_step(),
        reply: None,
        result: json!({}),
        latency_ms: 1,
    }));
    assert_eq!(react(&ReplyMail, &plan_step), []);
}

#[test]
fn a_reply_sent_twice_over_by_a_restarted_saga_is_one_actuation_and_one_sent_record() {
    // The runner sends each reaction under an id derived from the trigger:
    // the same request seen again is the same actuation command, which the
    // actuation takes as a repeat.
    let requested = send_requested(Some("lunch-1@example.org"));
    let reactions = react(&ReplyMail, &requested);
    let request = command::<Actuation>(&ReplyMail, &requested, &reactions[0]);
    let mut requested_events = Vec::new();
    given::<Actuation>([])
        .when(request.clone())
        .then_matches(|events| requested_events = events.to_vec());
    assert_eq!(requested_events.len(), 1);
    // Asked again the same, it changes nothing.
    given::<Actuation>(requested_events).when(request).then([]);
}
