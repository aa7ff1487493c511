//! Trips: given events / when command / then events; the itinerary check;
//! reading confirmation e-mails.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use proptest::prelude::*;
use steward_actors::Aggregate as _;
use steward_actors::testing::{default_now, given, live_and_replayed};
use steward_actors::travel::{
    ReservationDraft, ReservationStatus, Trip, TripCommand, itinerary_issues, parse_confirmation,
    parse_confirmations,
};
use steward_events::domain::EventSet as _;
use steward_events::domain::travel::{
    ItineraryIssue, ItineraryIssueFound, ItineraryIssueResolved, MinimumConnectionSet, NightSpan,
    ReservationAdded, ReservationCancelled, ReservationConfirmed, ReservationKind,
    ReservationSchedule, TripCancelled, TripEvent, TripPlanned,
};

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("a valid RFC 3339 time")
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a valid date")
}

fn plan() -> TripPlanned {
    TripPlanned {
        title: "Spring in London".into(),
        destination: "London".into(),
        starts_on: day("2026-05-04"),
        ends_on: day("2026-05-07"),
    }
}

fn planned() -> TripEvent {
    TripEvent::Planned(plan())
}

fn leg(id: &str, from: &str, to: &str, departs: &str, arrives: &str) -> ReservationAdded {
    ReservationAdded {
        reservation_id: id.into(),
        kind: ReservationKind::Flight,
        provider: "Lufthansa".into(),
        number: Some("LH 902".into()),
        schedule: ReservationSchedule::Transport {
            from: from.into(),
            to: to.into(),
            departs_at: at(departs),
            arrives_at: at(arrives),
        },
        confirmation_code: Some("LH7QX2".into()),
        address: None,
        travellers: vec!["Eva Green".into()],
    }
}

fn hotel(id: &str, check_in: &str, check_out: &str) -> ReservationAdded {
    ReservationAdded {
        reservation_id: id.into(),
        kind: ReservationKind::Hotel,
        provider: "The Strand Palace".into(),
        number: None,
        schedule: ReservationSchedule::Stay {
            check_in: day(check_in),
            check_out: day(check_out),
        },
        confirmation_code: Some("SP-448812".into()),
        address: Some("372 Strand, WC2R 0JJ London, GB".into()),
        travellers: vec![],
    }
}

/// Outbound Monday 4 May, FRA → LHR.
fn outbound() -> ReservationAdded {
    leg(
        "out",
        "FRA",
        "LHR",
        "2026-05-04T09:05:00+02:00",
        "2026-05-04T09:50:00+01:00",
    )
}

/// Back Thursday 7 May, LHR → FRA.
fn back() -> ReservationAdded {
    leg(
        "back",
        "LHR",
        "FRA",
        "2026-05-07T18:40:00+01:00",
        "2026-05-07T21:15:00+02:00",
    )
}

fn added(reservation: &ReservationAdded) -> TripEvent {
    TripEvent::ReservationAdded(reservation.clone())
}

fn confirmed_event(reservation: &ReservationAdded) -> TripEvent {
    TripEvent::ReservationConfirmed(ReservationConfirmed {
        reservation_id: reservation.reservation_id.clone(),
        kind: reservation.kind,
        provider: reservation.provider.clone(),
        number: reservation.number.clone(),
        schedule: reservation.schedule.clone(),
        confirmation_code: reservation.confirmation_code.clone(),
        address: reservation.address.clone(),
        travellers: reservation.travellers.clone(),
    })
}

fn cancelled(id: &str, was_confirmed: bool) -> TripEvent {
    TripEvent::ReservationCancelled(ReservationCancelled {
        reservation_id: id.into(),
        was_confirmed,
    })
}

fn found(issue: ItineraryIssue) -> TripEvent {
    TripEvent::IssueFound(ItineraryIssueFound {
        key: issue.key(),
        issue,
    })
}

fn resolved(issue: &ItineraryIssue) -> TripEvent {
    TripEvent::IssueResolved(ItineraryIssueResolved { key: issue.key() })
}

/// `AddReservation` saying what `reservation` says.
fn add(reservation: &ReservationAdded, confirmed: bool) -> TripCommand {
    let (from, to, departs_at, arrives_at, check_in, check_out) = match &reservation.schedule {
        ReservationSchedule::Transport {
            from,
            to,
            departs_at,
            arrives_at,
        } => (
            Some(from.clone()),
            Some(to.clone()),
            Some(*departs_at),
            Some(*arrives_at),
            None,
            None,
        ),
        ReservationSchedule::Stay {
            check_in,
            check_out,
        } => (None, None, None, None, Some(*check_in), Some(*check_out)),
    };
    TripCommand::AddReservation {
        reservation_id: reservation.reservation_id.clone(),
        kind: reservation.kind,
        provider: reservation.provider.clone(),
        number: reservation.number.clone(),
        from,
        to,
        departs_at,
        arrives_at,
        check_in,
        check_out,
        address: reservation.address.clone(),
        confirmation_code: reservation.confirmation_code.clone(),
        travellers: reservation.travellers.clone(),
        confirmed,
    }
}

/// `AddReservation` of `reservation` after `change` (to break one rule).
fn add_changed(
    reservation: &ReservationAdded,
    change: impl FnOnce(&mut TripCommand),
) -> TripCommand {
    let mut command = add(reservation, false);
    change(&mut command);
    command
}

fn nights_uncovered(first: &str, last: &str) -> ItineraryIssue {
    ItineraryIssue::NightsUncovered {
        arriving: "out".into(),
        departing: "back".into(),
        nights: vec![NightSpan {
            first: day(first),
            last: day(last),
        }],
    }
}

// --------------------------------------------------------------- PlanTrip

fn plan_trip(title: &str, destination: &str, starts_on: &str, ends_on: &str) -> TripCommand {
    TripCommand::PlanTrip {
        title: title.into(),
        destination: destination.into(),
        starts_on: day(starts_on),
        ends_on: day(ends_on),
    }
}

#[test]
fn planning_a_trip_records_its_plan() {
    let trip = given::<Trip>([])
        .when(plan_trip(
            " Spring in London ",
            "London",
            "2026-05-04",
            "2026-05-07",
        ))
        .then([planned()]);
    assert_eq!(trip.plan, Some(plan()));
    assert_eq!(trip.minimum_connection_minutes, 45);
}

#[test]
fn planning_the_same_again_changes_nothing_and_a_new_plan_replaces_it() {
    given::<Trip>([planned()])
        .when(plan_trip(
            "Spring in London",
            "London",
            "2026-05-04",
            "2026-05-07",
        ))
        .then([]);
    given::<Trip>([planned()])
        .when(plan_trip(
            "Spring in London",
            "London",
            "2026-05-04",
            "2026-05-08",
        ))
        .then([TripEvent::Planned(TripPlanned {
            ends_on: day("2026-05-08"),
            ..plan()
        })]);
}

#[test]
fn a_plan_needs_a_title_a_destination_and_dates_in_order() {
    given::<Trip>([])
        .when(plan_trip(" ", "London", "2026-05-04", "2026-05-07"))
        .then_rejected("title_required");
    given::<Trip>([])
        .when(plan_trip("Spring", "", "2026-05-04", "2026-05-07"))
        .then_rejected("destination_required");
    given::<Trip>([])
        .when(plan_trip("Spring", "London", "2026-05-07", "2026-05-04"))
        .then_rejected("trip_dates_reversed");
    given::<Trip>([])
        .when(plan_trip(
            &"x".repeat(201),
            "London",
            "2026-05-04",
            "2026-05-07",
        ))
        .then_rejected("text_too_long");
}

#[test]
fn a_cancelled_trip_cannot_be_planned_again() {
    given::<Trip>([
        planned(),
        TripEvent::Cancelled(TripCancelled {
            cancelled_at: default_now(),
        }),
    ])
    .when(plan_trip("Again", "London", "2026-05-04", "2026-05-07"))
    .then_rejected("trip_cancelled");
}

// --------------------------------------------------------- AddReservation

#[test]
fn adding_a_flight_records_it_pending() {
    let trip = given::<Trip>([planned()])
        .when(add(&outbound(), false))
        .then([added(&outbound())]);
    assert_eq!(trip.reservations["out"].status, ReservationStatus::Pending);
    assert!(trip.issues.is_empty());
}

#[test]
fn adding_a_hotel_and_a_hire_car_records_them() {
    let stay = hotel("h1", "2026-05-04", "2026-05-07");
    given::<Trip>([planned()])
        .when(add(&stay, false))
        .then([added(&stay)]);
    let car = ReservationAdded {
        reservation_id: "car".into(),
        kind: ReservationKind::Car,
        provider: "Hertz".into(),
        number: None,
        address: Some("18 Rue de Dunkerque, 75010 Paris".into()),
        ..leg(
            "car",
            "Paris Gare du Nord",
            "Paris Gare du Nord",
            "2026-05-05T13:00:00+02:00",
            "2026-05-06T13:00:00+02:00",
        )
    };
    given::<Trip>([planned()])
        .when(add(&car, false))
        .then([added(&car)]);
}

#[test]
fn adding_a_confirmed_reservation_confirms_it_at_once() {
    let trip = given::<Trip>([planned()])
        .when(add(&outbound(), true))
        .then([added(&outbound()), confirmed_event(&outbound())]);
    assert_eq!(
        trip.reservations["out"].status,
        ReservationStatus::Confirmed
    );
}

#[test]
fn adding_the_same_reservation_again_changes_nothing() {
    given::<Trip>([planned(), added(&outbound())])
        .when(add(&outbound(), false))
        .then([]);
    given::<Trip>([planned(), added(&outbound()), confirmed_event(&outbound())])
        .when(add(&outbound(), true))
        .then([]);
    // A retry after the trip was called off is no error either.
    given::<Trip>([
        planned(),
        added(&outbound()),
        cancelled("out", false),
        TripEvent::Cancelled(TripCancelled {
            cancelled_at: default_now(),
        }),
    ])
    .when(add(&outbound(), true))
    .then([]);
}

#[test]
fn adding_the_same_reservation_confirmed_confirms_it() {
    given::<Trip>([planned(), added(&outbound())])
        .when(add(&outbound(), true))
        .then([confirmed_event(&outbound())]);
}

#[test]
fn the_same_id_with_other_details_is_refused() {
    let later = leg(
        "out",
        "FRA",
        "LHR",
        "2026-05-04T11:05:00+02:00",
        "2026-05-04T11:50:00+01:00",
    );
    given::<Trip>([planned(), added(&outbound())])
        .when(add(&later, false))
        .then_rejected("reservation_exists");
    // The same instant at another local offset is another local time.
    let elsewhere = leg(
        "out",
        "FRA",
        "LHR",
        "2026-05-04T07:05:00+00:00",
        "2026-05-04T09:50:00+01:00",
    );
    given::<Trip>([planned(), added(&outbound())])
        .when(add(&elsewhere, false))
        .then_rejected("reservation_exists");
}

#[test]
fn a_reservation_needs_a_planned_trip_that_is_not_cancelled() {
    given::<Trip>([])
        .when(add(&outbound(), false))
        .then_rejected("trip_not_planned");
    given::<Trip>([
        planned(),
        TripEvent::Cancelled(TripCancelled {
            cancelled_at: default_now(),
        }),
    ])
    .when(add(&outbound(), false))
    .then_rejected("trip_cancelled");
}

#[test]
fn a_reservation_needs_a_valid_id_and_a_provider() {
    for id in ["", "has space", "a:b", &"x".repeat(101)] {
        given::<Trip>([planned()])
            .when(add_changed(&outbound(), |command| {
                if let TripCommand::AddReservation { reservation_id, .. } = command {
                    *reservation_id = id.to_owned();
                }
            }))
            .then_rejected("reservation_id_invalid");
    }
    given::<Trip>([planned()])
        .when(add_changed(&outbound(), |command| {
            if let TripCommand::AddReservation { provider, .. } = command {
                *provider = "  ".into();
            }
        }))
        .then_rejected("provider_required");
    given::<Trip>([planned()])
        .when(add_changed(&outbound(), |command| {
            if let TripCommand::AddReservation {
                confirmation_code, ..
            } = command
            {
                *confirmation_code = Some("X".repeat(201));
            }
        }))
        .then_rejected("text_too_long");
}

#[test]
fn a_journey_needs_its_places_and_times_in_order() {
    given::<Trip>([planned()])
        .when(add_changed(&outbound(), |command| {
            if let TripCommand::AddReservation { arrives_at, .. } = command {
                *arrives_at = None;
            }
        }))
        .then_rejected("transport_details_required");
    given::<Trip>([planned()])
        .when(add_changed(&outbound(), |command| {
            if let TripCommand::AddReservation { from, .. } = command {
                *from = Some(" ".into());
            }
        }))
        .then_rejected("transport_details_required");
    given::<Trip>([planned()])
        .when(add_changed(&outbound(), |command| {
            if let TripCommand::AddReservation { arrives_at, .. } = command {
                *arrives_at = Some(at("2026-05-04T08:05:00+01:00"));
            }
        }))
        .then_rejected("arrival_not_after_departure");
    given::<Trip>([planned()])
        .when(add_changed(&outbound(), |command| {
            if let TripCommand::AddReservation { check_in, .. } = command {
                *check_in = Some(day("2026-05-04"));
            }
        }))
        .then_rejected("details_do_not_fit_kind");
}

#[test]
fn a_stay_needs_its_days_in_order() {
    let stay = hotel("h1", "2026-05-04", "2026-05-07");
    given::<Trip>([planned()])
        .when(add_changed(&stay, |command| {
            if let TripCommand::AddReservation { check_out, .. } = command {
                *check_out = None;
            }
        }))
        .then_rejected("stay_dates_required");
    given::<Trip>([planned()])
        .when(add_changed(&stay, |command| {
            if let TripCommand::AddReservation { check_out, .. } = command {
                *check_out = Some(day("2026-05-04"));
            }
        }))
        .then_rejected("check_out_not_after_check_in");
    given::<Trip>([planned()])
        .when(add_changed(&stay, |command| {
            if let TripCommand::AddReservation { departs_at, .. } = command {
                *departs_at = Some(at("2026-05-04T09:05:00+02:00"));
            }
        }))
        .then_rejected("details_do_not_fit_kind");
}

// ----------------------------------------------------- ConfirmReservation

fn confirm(id: &str, code: Option<&str>) -> TripCommand {
    TripCommand::ConfirmReservation {
        reservation_id: id.into(),
        confirmation_code: code.map(str::to_owned),
    }
}

#[test]
fn confirming_a_reservation_carries_what_the_calendar_needs() {
    let trip = given::<Trip>([planned(), added(&outbound())])
        .when(confirm("out", None))
        .then([confirmed_event(&outbound())]);
    assert_eq!(
        trip.reservations["out"].status,
        ReservationStatus::Confirmed
    );
}

#[test]
fn confirming_again_changes_nothing_unless_the_code_changes() {
    let given_events = || [planned(), added(&outbound()), confirmed_event(&outbound())];
    given::<Trip>(given_events())
        .when(confirm("out", None))
        .then([]);
    given::<Trip>(given_events())
        .when(confirm("out", Some("LH7QX2")))
        .then([]);
    let trip = given::<Trip>(given_events())
        .when(confirm("out", Some(" NEW999 ")))
        .then([TripEvent::ReservationConfirmed(ReservationConfirmed {
            confirmation_code: Some("NEW999".into()),
            ..match confirmed_event(&outbound()) {
                TripEvent::ReservationConfirmed(e) => e,
                other => panic!("expected a confirmation, got {other:?}"),
            }
        })]);
    assert_eq!(
        trip.reservations["out"].confirmation_code.as_deref(),
        Some("NEW999")
    );
}

#[test]
fn confirming_what_is_unknown_or_cancelled_is_refused() {
    given::<Trip>([])
        .when(confirm("out", None))
        .then_rejected("trip_not_planned");
    given::<Trip>([planned()])
        .when(confirm("out", None))
        .then_rejected("unknown_reservation");
    given::<Trip>([planned(), added(&outbound()), cancelled("out", false)])
        .when(confirm("out", None))
        .then_rejected("reservation_cancelled");
}

// ------------------------------------------------------ CancelReservation

fn cancel(id: &str) -> TripCommand {
    TripCommand::CancelReservation {
        reservation_id: id.into(),
    }
}

#[test]
fn cancelling_a_reservation_says_whether_it_was_confirmed() {
    given::<Trip>([planned(), added(&outbound())])
        .when(cancel("out"))
        .then([cancelled("out", false)]);
    let trip = given::<Trip>([planned(), added(&outbound()), confirmed_event(&outbound())])
        .when(cancel("out"))
        .then([cancelled("out", true)]);
    assert_eq!(
        trip.reservations["out"].status,
        ReservationStatus::Cancelled
    );
}

#[test]
fn cancelling_twice_changes_nothing_and_an_unknown_one_is_refused() {
    given::<Trip>([planned(), added(&outbound()), cancelled("out", false)])
        .when(cancel("out"))
        .then([]);
    given::<Trip>([planned()])
        .when(cancel("out"))
        .then_rejected("unknown_reservation");
    given::<Trip>([])
        .when(cancel("out"))
        .then_rejected("trip_not_planned");
}

// --------------------------------------------------- SetMinimumConnection

fn minimum(minutes: u32) -> TripCommand {
    TripCommand::SetMinimumConnection { minutes }
}

#[test]
fn setting_the_minimum_connection_records_it() {
    let trip =
        given::<Trip>([planned()])
            .when(minimum(90))
            .then([TripEvent::MinimumConnectionSet(MinimumConnectionSet {
                minutes: 90,
            })]);
    assert_eq!(trip.minimum_connection_minutes, 90);
    given::<Trip>([planned()]).when(minimum(45)).then([]);
}

#[test]
fn a_minimum_connection_is_at_most_a_day_on_a_live_trip() {
    given::<Trip>([planned()])
        .when(minimum(1441))
        .then_rejected("minimum_connection_invalid");
    given::<Trip>([])
        .when(minimum(30))
        .then_rejected("trip_not_planned");
    given::<Trip>([
        planned(),
        TripEvent::Cancelled(TripCancelled {
            cancelled_at: default_now(),
        }),
    ])
    .when(minimum(30))
    .then_rejected("trip_cancelled");
}

// -------------------------------------------------------------- CancelTrip

#[test]
fn cancelling_a_trip_cancels_its_reservations_and_clears_its_issues() {
    let uncovered = nights_uncovered("2026-05-04", "2026-05-06");
    let trip = given::<Trip>([
        planned(),
        added(&outbound()),
        confirmed_event(&outbound()),
        added(&back()),
        found(uncovered.clone()),
        added(&hotel("gone", "2026-05-04", "2026-05-05")),
        cancelled("gone", false),
    ])
    .when(TripCommand::CancelTrip {})
    .then([
        cancelled("back", false),
        cancelled("out", true),
        TripEvent::Cancelled(TripCancelled {
            cancelled_at: default_now(),
        }),
        resolved(&uncovered),
    ]);
    assert!(trip.cancelled);
    assert!(trip.issues.is_empty());
}

#[test]
fn cancelling_a_trip_twice_changes_nothing_and_needs_a_plan() {
    given::<Trip>([
        planned(),
        TripEvent::Cancelled(TripCancelled {
            cancelled_at: default_now(),
        }),
    ])
    .when(TripCommand::CancelTrip {})
    .then([]);
    given::<Trip>([])
        .when(TripCommand::CancelTrip {})
        .then_rejected("trip_not_planned");
}

// -------------------------------------------------------- itinerary check

#[test]
fn overlapping_legs_are_found_and_resolved_by_cancelling_one() {
    let first = leg(
        "a",
        "FRA",
        "MUC",
        "2026-05-04T09:00:00+02:00",
        "2026-05-04T11:00:00+02:00",
    );
    let second = leg(
        "b",
        "MUC",
        "VIE",
        "2026-05-04T10:00:00+02:00",
        "2026-05-04T11:10:00+02:00",
    );
    let overlap = ItineraryIssue::OverlappingLegs {
        first: "a".into(),
        second: "b".into(),
    };
    let trip = given::<Trip>([planned(), added(&first)])
        .when(add(&second, false))
        .then([added(&second), found(overlap.clone())]);
    assert_eq!(trip.issues.len(), 1);
    given::<Trip>([
        planned(),
        added(&first),
        added(&second),
        found(overlap.clone()),
    ])
    .when(cancel("b"))
    .then([cancelled("b", false), resolved(&overlap)]);
}

#[test]
fn a_short_connection_is_found_and_follows_the_minimum() {
    let first = leg(
        "a",
        "FRA",
        "MUC",
        "2026-05-04T09:00:00+02:00",
        "2026-05-04T11:00:00+02:00",
    );
    // Departs 09:30 UTC: 30 minutes after the arrival at 09:00 UTC.
    let second = leg(
        "b",
        "MUC",
        "VIE",
        "2026-05-04T09:30:00+00:00",
        "2026-05-04T12:30:00+02:00",
    );
    let short = |minimum| ItineraryIssue::ShortConnection {
        arriving: "a".into(),
        departing: "b".into(),
        minutes: 30,
        minimum,
    };
    given::<Trip>([planned(), added(&first)])
        .when(add(&second, false))
        .then([added(&second), found(short(45))]);
    let with_issue = || [planned(), added(&first), added(&second), found(short(45))];
    // A lower minimum resolves it.
    given::<Trip>(with_issue()).when(minimum(30)).then([
        TripEvent::MinimumConnectionSet(MinimumConnectionSet { minutes: 30 }),
        resolved(&short(45)),
    ]);
    // A higher one finds it again under the same key, with the new minimum.
    let trip = given::<Trip>(with_issue()).when(minimum(60)).then([
        TripEvent::MinimumConnectionSet(MinimumConnectionSet { minutes: 60 }),
        found(short(60)),
    ]);
    assert_eq!(trip.issues[&short(45).key()], short(60));
}

#[test]
fn nights_no_hotel_covers_are_found_narrowed_and_resolved() {
    // Arrive Monday, leave Thursday: Monday, Tuesday and Wednesday nights.
    given::<Trip>([planned(), added(&outbound())])
        .when(add(&back(), false))
        .then([
            added(&back()),
            found(nights_uncovered("2026-05-04", "2026-05-06")),
        ]);
    let first_hotel = hotel("h1", "2026-05-04", "2026-05-06");
    let with_gap = || {
        [
            planned(),
            added(&outbound()),
            added(&back()),
            found(nights_uncovered("2026-05-04", "2026-05-06")),
        ]
    };
    // Two nights covered: only Wednesday is left.
    given::<Trip>(with_gap())
        .when(add(&first_hotel, false))
        .then([
            added(&first_hotel),
            found(nights_uncovered("2026-05-06", "2026-05-06")),
        ]);
    let second_hotel = hotel("h2", "2026-05-06", "2026-05-07");
    let mut narrowed = with_gap().to_vec();
    narrowed.extend([
        added(&first_hotel),
        found(nights_uncovered("2026-05-06", "2026-05-06")),
    ]);
    let trip = given::<Trip>(narrowed.clone())
        .when(add(&second_hotel, false))
        .then([
            added(&second_hotel),
            resolved(&nights_uncovered("2026-05-06", "2026-05-06")),
        ]);
    assert!(trip.issues.is_empty());
    // Cancelling a hotel opens the gap again.
    narrowed.extend([
        added(&second_hotel),
        resolved(&nights_uncovered("2026-05-06", "2026-05-06")),
    ]);
    given::<Trip>(narrowed).when(cancel("h1")).then([
        cancelled("h1", false),
        found(nights_uncovered("2026-05-04", "2026-05-05")),
    ]);
}

#[test]
fn the_check_finds_gaps_between_and_around_hotels() {
    let mut trip = Trip::default();
    for reservation in [
        outbound(),
        back(),
        hotel("h1", "2026-05-05", "2026-05-06"),
        hotel("h2", "2026-05-01", "2026-05-02"),
    ] {
        trip.apply(&added(&reservation));
    }
    assert_eq!(
        itinerary_issues(&trip),
        [ItineraryIssue::NightsUncovered {
            arriving: "out".into(),
            departing: "back".into(),
            nights: vec![
                NightSpan {
                    first: day("2026-05-04"),
                    last: day("2026-05-04"),
                },
                NightSpan {
                    first: day("2026-05-06"),
                    last: day("2026-05-06"),
                },
            ],
        }]
    );
}

#[test]
fn a_stopover_over_midnight_needs_no_hotel_and_cars_are_no_legs() {
    let late = leg(
        "a",
        "JFK",
        "LHR",
        "2026-05-04T18:00:00-04:00",
        "2026-05-04T23:30:00+01:00",
    );
    let early = leg(
        "b",
        "LHR",
        "FRA",
        "2026-05-05T02:00:00+01:00",
        "2026-05-05T04:30:00+02:00",
    );
    let car = ReservationAdded {
        kind: ReservationKind::Car,
        ..leg(
            "car",
            "LHR",
            "LHR",
            "2026-05-04T20:00:00+01:00",
            "2026-05-06T20:00:00+01:00",
        )
    };
    let mut trip = Trip::default();
    for reservation in [late, early, car] {
        trip.apply(&added(&reservation));
    }
    assert_eq!(itinerary_issues(&trip), []);
}

// ------------------------------------------------------ confirmation e-mails

/// A fixture: `Subject: …`, a blank line, the body.
fn email(name: &str) -> (String, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/travel")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("the fixture reads");
    let (head, body) = text.split_once("\n\n").expect("a subject line and a body");
    let subject = head.strip_prefix("Subject: ").expect("a subject line");
    (subject.to_owned(), body.to_owned())
}

fn parse(name: &str) -> Option<ReservationDraft> {
    let (subject, body) = email(name);
    parse_confirmation(&subject, &body)
}

#[test]
fn a_json_ld_flight_confirmation_reads_as_its_flights() {
    let (subject, body) = email("flight_jsonld.eml");
    let drafts = parse_confirmations(&subject, &body);
    assert_eq!(
        drafts,
        [
            ReservationDraft {
                kind: ReservationKind::Flight,
                provider: "Lufthansa".into(),
                number: Some("LH 902".into()),
                schedule: ReservationSchedule::Transport {
                    from: "FRA".into(),
                    to: "LHR".into(),
                    departs_at: at("2026-05-04T09:05:00+02:00"),
                    arrives_at: at("2026-05-04T09:50:00+01:00"),
                },
                confirmation_code: Some("LH7QX2".into()),
                address: None,
                travellers: vec!["Eva Green".into()],
            },
            ReservationDraft {
                kind: ReservationKind::Flight,
                provider: "Lufthansa".into(),
                number: Some("LH 915".into()),
                schedule: ReservationSchedule::Transport {
                    from: "LHR".into(),
                    to: "FRA".into(),
                    departs_at: at("2026-05-07T18:40:00+01:00"),
                    arrives_at: at("2026-05-07T21:15:00+02:00"),
                },
                confirmation_code: Some("LH7QX2".into()),
                address: None,
                travellers: vec!["Eva Green".into()],
            },
        ]
    );
    assert_eq!(parse("flight_jsonld.eml").as_ref(), drafts.first());
    // The local time keeps its offset.
    let ReservationSchedule::Transport { departs_at, .. } = &drafts[0].schedule else {
        panic!("a flight is a journey");
    };
    assert_eq!(departs_at.to_rfc3339(), "2026-05-04T09:05:00+02:00");
}

#[test]
fn a_json_ld_lodging_confirmation_reads_as_a_stay() {
    assert_eq!(
        parse("lodging_jsonld.eml"),
        Some(ReservationDraft {
            kind: ReservationKind::Hotel,
            provider: "The Strand Palace".into(),
            number: None,
            schedule: ReservationSchedule::Stay {
                check_in: day("2026-05-04"),
                check_out: day("2026-05-07"),
            },
            confirmation_code: Some("SP-448812".into()),
            address: Some("372 Strand, WC2R 0JJ London, GB".into()),
            travellers: vec!["Eva Green".into()],
        })
    );
}

#[test]
fn a_json_ld_graph_reads_as_its_train_and_car() {
    let (subject, body) = email("graph_jsonld.eml");
    assert_eq!(
        parse_confirmations(&subject, &body),
        [
            ReservationDraft {
                kind: ReservationKind::Train,
                provider: "Eurostar".into(),
                number: Some("ES 9014".into()),
                schedule: ReservationSchedule::Transport {
                    from: "London St Pancras".into(),
                    to: "Paris Nord".into(),
                    departs_at: at("2026-05-05T09:01:00+01:00"),
                    arrives_at: at("2026-05-05T12:20:00+02:00"),
                },
                confirmation_code: Some("QRT9K1".into()),
                address: None,
                travellers: vec!["Eva Green".into(), "Sam Green".into()],
            },
            ReservationDraft {
                kind: ReservationKind::Car,
                provider: "Hertz".into(),
                number: None,
                schedule: ReservationSchedule::Transport {
                    from: "Paris Gare du Nord".into(),
                    to: "Paris Gare du Nord".into(),
                    departs_at: at("2026-05-05T13:00:00+02:00"),
                    arrives_at: at("2026-05-06T13:00:00+02:00"),
                },
                confirmation_code: Some("HZ-20931".into()),
                address: Some("18 Rue de Dunkerque, 75010 Paris, FR".into()),
                travellers: vec!["Eva Green".into()],
            },
        ]
    );
}

#[test]
fn the_plain_text_form_reads_as_a_flight() {
    assert_eq!(
        parse("plain_flight.txt"),
        Some(ReservationDraft {
            kind: ReservationKind::Flight,
            provider: "Lufthansa".into(),
            number: Some("LH 1234".into()),
            schedule: ReservationSchedule::Transport {
                from: "FRA".into(),
                to: "LHR".into(),
                departs_at: at("2026-05-01T09:00:00+02:00"),
                arrives_at: at("2026-05-01T09:45:00+01:00"),
            },
            confirmation_code: Some("ABC123".into()),
            address: None,
            travellers: vec!["Eva Green".into(), "Sam Green".into()],
        })
    );
}

#[test]
fn the_plain_text_form_reads_as_a_hotel() {
    assert_eq!(
        parse("plain_hotel.txt"),
        Some(ReservationDraft {
            kind: ReservationKind::Hotel,
            provider: "Hotel Adler".into(),
            number: None,
            schedule: ReservationSchedule::Stay {
                check_in: day("2026-06-12"),
                check_out: day("2026-06-14"),
            },
            confirmation_code: Some("HA-5521".into()),
            address: Some("Marktplatz 3, 79098 Freiburg".into()),
            travellers: vec!["Eva Green".into()],
        })
    );
}

#[test]
fn e_mails_that_confirm_nothing_read_as_none() {
    for name in [
        "newsletter.eml",
        "cancelled_jsonld.eml",
        "plain_cancelled.txt",
    ] {
        assert_eq!(parse(name), None, "{name}");
    }
    assert_eq!(parse_confirmation("Hello", "Lunch on Friday?"), None);
    // A JSON-LD time without an offset names no instant: skipped.
    let no_offset = r#"<script type="application/ld+json">{"@type": "FlightReservation",
        "reservationNumber": "X1", "reservationFor": {"flightNumber": "1",
        "airline": {"iataCode": "LH"}, "departureAirport": {"iataCode": "FRA"},
        "arrivalAirport": {"iataCode": "LHR"}, "departureTime": "2026-05-01T09:00:00",
        "arrivalTime": "2026-05-01T10:00:00"}}</script>"#;
    assert_eq!(parse_confirmation("Booking", no_offset), None);
    // Broken JSON is no confirmation either.
    assert_eq!(
        parse_confirmation(
            "Booking",
            r#"<script type="application/ld+json">{"@type": </script>"#
        ),
        None
    );
}

#[test]
fn a_draft_becomes_a_confirmed_reservation() {
    let draft = parse("plain_flight.txt").expect("a confirmation");
    given::<Trip>([planned()])
        .when(draft.into_command("lh1234"))
        .then_matches(|events| {
            let [
                TripEvent::ReservationAdded(added),
                TripEvent::ReservationConfirmed(confirmed),
            ] = events
            else {
                panic!("expected the reservation added and confirmed, got {events:?}");
            };
            assert_eq!(added.reservation_id, "lh1234");
            assert_eq!(added.confirmation_code.as_deref(), Some("ABC123"));
            assert_eq!(confirmed.schedule, added.schedule);
        });
    let stay = parse("lodging_jsonld.eml").expect("a confirmation");
    given::<Trip>([planned()])
        .when(stay.into_command("strand"))
        .then_matches(|events| assert_eq!(events.len(), 2));
}

#[test]
fn personal_parts_name_the_travellers() {
    let mut reservation = outbound();
    reservation.travellers = vec!["Eva".into(), "Eva Green".into()];
    let new = added(&reservation).to_new_event().expect("encodes");
    let personal = new.personal.expect("a personal part");
    assert!(
        personal
            .plain()
            .and_then(|p| p.get("confirmation_code"))
            .is_some()
    );
    assert!(new.data.get("confirmation_code").is_none());
    let subjects: Vec<String> = new
        .metadata
        .subjects
        .iter()
        .map(ToString::to_string)
        .collect();
    // A name with a space is a subject too, its spaces as dashes.
    assert_eq!(subjects, ["contact:eva", "contact:eva-green"]);
}

// ------------------------------------------------------------- properties

fn trip_command() -> impl Strategy<Value = TripCommand> {
    let id = prop::sample::select(vec!["a", "b", "c", "h1", "h2"]);
    let offset = prop::sample::select(vec![0, 3600, 7200, -14400]);
    let journey = (
        id.clone(),
        prop::sample::select(vec![
            ReservationKind::Flight,
            ReservationKind::Train,
            ReservationKind::Car,
        ]),
        0i64..120,
        -1i64..12,
        offset,
        any::<bool>(),
    )
        .prop_map(|(id, kind, start_hours, hours, seconds, confirmed)| {
            let zone = FixedOffset::east_opt(seconds).expect("a valid offset");
            let departs =
                at("2026-05-04T06:00:00+00:00").with_timezone(&zone) + Duration::hours(start_hours);
            add(
                &ReservationAdded {
                    reservation_id: id.into(),
                    kind,
                    schedule: ReservationSchedule::Transport {
                        from: "FRA".into(),
                        to: "LHR".into(),
                        departs_at: departs,
                        arrives_at: departs + Duration::hours(hours),
                    },
                    ..outbound()
                },
                confirmed,
            )
        });
    let stay =
        (id.clone(), 0i64..6, 0i64..4, any::<bool>()).prop_map(|(id, start, nights, confirmed)| {
            let check_in = day("2026-05-03") + Duration::days(start);
            add(
                &ReservationAdded {
                    schedule: ReservationSchedule::Stay {
                        check_in,
                        check_out: check_in + Duration::days(nights),
                    },
                    ..hotel(id, "2026-05-04", "2026-05-05")
                },
                confirmed,
            )
        });
    prop_oneof![
        4 => journey,
        3 => stay,
        2 => (id.clone(), prop::option::of(prop::sample::select(vec!["C1", "C2"])))
            .prop_map(|(id, code)| confirm(id, code)),
        2 => id.prop_map(cancel),
        1 => prop::sample::select(vec![0u32, 30, 45, 120, 2000]).prop_map(minimum),
        1 => Just(plan_trip("Spring in London", "London", "2026-05-04", "2026-05-07")),
        1 => Just(TripCommand::CancelTrip {}),
    ]
}

proptest! {
    #[test]
    fn reading_any_e_mail_never_panics(
        noise in ".{0,200}",
        fixture in prop::sample::select(vec![
            "flight_jsonld.eml", "lodging_jsonld.eml", "graph_jsonld.eml", "plain_flight.txt",
        ]),
        cut in 0usize..4000,
    ) {
        let (subject, body) = email(fixture);
        let cut = (0..=cut.min(body.len())).rev().find(|at| body.is_char_boundary(*at));
        let truncated = &body[..cut.unwrap_or(0)];
        let mut trip = Trip::default();
        trip.apply(&planned());
        let context = steward_actors::Context::new("test", default_now());
        let mut drafts = parse_confirmations(&subject, &format!("{truncated}{noise}"));
        drafts.extend(parse_confirmations(&noise, &noise));
        // Whatever is read is a reservation the trip accepts.
        for draft in drafts {
            let decided = trip.decide(draft.clone().into_command("drafted"), &context);
            prop_assert!(decided.is_ok(), "{draft:?} was refused: {decided:?}");
        }
    }

    #[test]
    fn a_replayed_trip_equals_the_live_one_and_its_issues_are_current(
        commands in prop::collection::vec(trip_command(), 0..40)
    ) {
        let start = plan_trip("Spring", "London", "2026-05-04", "2026-05-07");
        let commands = std::iter::once(start)
            .chain(commands)
            .map(|command| (command, default_now()));
        let (live, replayed) = live_and_replayed::<Trip>(commands);
        let current: BTreeMap<String, ItineraryIssue> = itinerary_issues(&live)
            .into_iter()
            .map(|issue| (issue.key(), issue))
            .collect();
        prop_assert_eq!(&live.issues, &current);
        prop_assert_eq!(live, replayed);
    }
}

// ---------------------------------------------------------------- envelope

#[test]
fn a_trip_takes_its_commands_as_json() {
    use steward_actors::command::{CommandEnvelope, command_types};
    assert_eq!(
        command_types::<Trip>(),
        [
            "PlanTrip",
            "AddReservation",
            "ConfirmReservation",
            "CancelReservation",
            "SetMinimumConnection",
            "CancelTrip",
        ]
    );
    let envelope = |command_type: &str, data: serde_json::Value| {
        CommandEnvelope::new(
            steward_events::StreamId::parse("trip-london-2026").expect("valid"),
            command_type,
            data,
            "saga:travel-confirmations",
        )
    };
    let command = envelope(
        "AddReservation",
        serde_json::json!({
            "reservation_id": "out",
            "kind": "flight",
            "provider": "Lufthansa",
            "number": "LH 902",
            "from": "FRA",
            "to": "LHR",
            "departs_at": "2026-05-04T09:05:00+02:00",
            "arrives_at": "2026-05-04T09:50:00+01:00",
            "confirmation_code": "LH7QX2",
            "travellers": ["Eva Green"],
        }),
    )
    .typed::<Trip>()
    .expect("a valid command");
    assert_eq!(command, add(&outbound(), false));
    let cancel_trip = envelope("CancelTrip", serde_json::json!({}))
        .typed::<Trip>()
        .expect("a valid command");
    assert_eq!(cancel_trip, TripCommand::CancelTrip {});
}
