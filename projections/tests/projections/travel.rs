//! Travel: trips, itineraries in order with their issues, cancellations,
//! erasure of travellers and booking details.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use steward_events::domain::travel::{
    ItineraryIssue, ItineraryIssueFound, ItineraryIssueResolved, MinimumConnectionSet,
    ReservationAdded, ReservationCancelled, ReservationConfirmed, ReservationKind,
    ReservationSchedule, TripCancelled, TripPlanned,
};
use steward_projections::read_models::travel::{
    self, Itinerary, ReservationState, Segment, Travel, Trip, TripFilter,
};

use crate::read_model_support::{OWNER, at, catch_up, day, erase, rebuild, record, tables};
use crate::support::{Fixture, on_both_backends};

on_both_backends!(
    an_itinerary_lists_reservations_in_order_with_its_issues,
    erasing_a_traveller_drops_their_name_and_the_booking_details_about_them,
);

async fn itinerary(f: &Fixture, trip: &str) -> Option<Itinerary> {
    catch_up(f, Arc::new(Travel)).await;
    let tables = tables(f, "travel").await;
    travel::itinerary(&f.db, &tables, trip)
        .await
        .expect("itinerary")
}

async fn trips(f: &Fixture, filter: TripFilter) -> Vec<Trip> {
    catch_up(f, Arc::new(Travel)).await;
    let tables = tables(f, "travel").await;
    travel::trips(&f.db, &tables, &filter).await.expect("trips")
}

fn offset(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).expect("an RFC 3339 time")
}

fn flight(from: &str, to: &str, departs: &str, arrives: &str) -> ReservationSchedule {
    ReservationSchedule::Transport {
        from: from.to_owned(),
        to: to.to_owned(),
        departs_at: offset(departs),
        arrives_at: offset(arrives),
    }
}

fn hotel_stay() -> ReservationSchedule {
    ReservationSchedule::Stay {
        check_in: day("2026-04-10"),
        check_out: day("2026-04-14"),
    }
}

fn added(
    id: &str,
    kind: ReservationKind,
    provider: &str,
    schedule: ReservationSchedule,
    code: &str,
) -> ReservationAdded {
    ReservationAdded {
        reservation_id: id.to_owned(),
        kind,
        provider: provider.to_owned(),
        number: kind.is_leg().then(|| format!("{provider} 1")),
        schedule,
        confirmation_code: Some(code.to_owned()),
        address: (kind == ReservationKind::Hotel).then(|| "1 Bloom Street".to_owned()),
        travellers: vec!["dana".to_owned()],
    }
}

fn out_flight() -> ReservationSchedule {
    flight(
        "FRA",
        "LHR",
        "2026-04-10T08:00:00+02:00",
        "2026-04-10T09:00:00+01:00",
    )
}

fn back_flight() -> ReservationSchedule {
    flight(
        "LHR",
        "FRA",
        "2026-04-14T18:00:00+01:00",
        "2026-04-14T20:40:00+02:00",
    )
}

async fn plan_spring(f: &Fixture) {
    record(
        f,
        "trip-spring",
        &TripPlanned {
            title: "Spring in London".to_owned(),
            destination: "London".to_owned(),
            starts_on: day("2026-04-10"),
            ends_on: day("2026-04-14"),
        },
    )
    .await;
    // Added out of order: the itinerary orders them.
    record(
        f,
        "trip-spring",
        &added(
            "back",
            ReservationKind::Flight,
            "LH",
            back_flight(),
            "BACK1",
        ),
    )
    .await;
    record(
        f,
        "trip-spring",
        &added(
            "bloom",
            ReservationKind::Hotel,
            "Hotel Bloom",
            hotel_stay(),
            "HB1",
        ),
    )
    .await;
    record(
        f,
        "trip-spring",
        &added("out", ReservationKind::Flight, "LH", out_flight(), "OUT1"),
    )
    .await;
    record(
        f,
        "trip-spring",
        &ReservationConfirmed {
            reservation_id: "out".to_owned(),
            kind: ReservationKind::Flight,
            provider: "LH".to_owned(),
            number: Some("LH 1".to_owned()),
            schedule: out_flight(),
            confirmation_code: Some("OUT2".to_owned()),
            address: None,
            travellers: vec!["dana".to_owned()],
        },
    )
    .await;
}

fn segment(
    id: &str,
    kind: ReservationKind,
    provider: &str,
    schedule: ReservationSchedule,
) -> Segment {
    Segment {
        reservation_id: id.to_owned(),
        kind,
        provider: provider.to_owned(),
        number: kind.is_leg().then(|| format!("{provider} 1")),
        schedule,
        state: ReservationState::Pending,
        confirmation_code: None,
        address: None,
        travellers: Vec::new(),
    }
}

fn spring(reservations: i64, issues: i64) -> Trip {
    Trip {
        trip_id: "spring".to_owned(),
        title: "Spring in London".to_owned(),
        destination: "London".to_owned(),
        starts_on: day("2026-04-10"),
        ends_on: day("2026-04-14"),
        minimum_connection_minutes: None,
        cancelled_at: None,
        reservations,
        issues,
    }
}

async fn an_itinerary_lists_reservations_in_order_with_its_issues(f: Fixture) {
    plan_spring(&f).await;
    record(
        &f,
        "trip-spring",
        &added(
            "car",
            ReservationKind::Car,
            "Hire Co",
            flight(
                "LHR",
                "LHR",
                "2026-04-10T10:00:00+01:00",
                "2026-04-11T10:00:00+01:00",
            ),
            "CAR1",
        ),
    )
    .await;
    record(
        &f,
        "trip-spring",
        &ReservationCancelled {
            reservation_id: "car".to_owned(),
            was_confirmed: false,
        },
    )
    .await;
    record(&f, "trip-spring", &MinimumConnectionSet { minutes: 90 }).await;
    let short = ItineraryIssue::ShortConnection {
        arriving: "out".to_owned(),
        departing: "back".to_owned(),
        minutes: 30,
        minimum: 90,
    };
    let overlapping = ItineraryIssue::OverlappingLegs {
        first: "out".to_owned(),
        second: "back".to_owned(),
    };
    for issue in [&short, &overlapping] {
        record(
            &f,
            "trip-spring",
            &ItineraryIssueFound {
                key: issue.key(),
                issue: issue.clone(),
            },
        )
        .await;
    }
    record(
        &f,
        "trip-spring",
        &ItineraryIssueResolved {
            key: overlapping.key(),
        },
    )
    .await;

    let expected = Itinerary {
        trip: Trip {
            minimum_connection_minutes: Some(90),
            ..spring(3, 1)
        },
        segments: vec![
            Segment {
                state: ReservationState::Confirmed,
                confirmation_code: Some("OUT2".to_owned()),
                travellers: vec!["dana".to_owned()],
                ..segment("out", ReservationKind::Flight, "LH", out_flight())
            },
            Segment {
                confirmation_code: Some("HB1".to_owned()),
                address: Some("1 Bloom Street".to_owned()),
                travellers: vec!["dana".to_owned()],
                ..segment("bloom", ReservationKind::Hotel, "Hotel Bloom", hotel_stay())
            },
            Segment {
                confirmation_code: Some("BACK1".to_owned()),
                travellers: vec!["dana".to_owned()],
                ..segment("back", ReservationKind::Flight, "LH", back_flight())
            },
        ],
        issues: vec![short],
    };
    assert_eq!(itinerary(&f, "spring").await, Some(expected));
    assert_eq!(itinerary(&f, "autumn").await, None);

    // Trips: by first day; past and cancelled ones left out on request.
    record(
        &f,
        "trip-winter",
        &TripPlanned {
            title: "Winter".to_owned(),
            destination: "Oslo".to_owned(),
            starts_on: day("2026-01-10"),
            ends_on: day("2026-01-12"),
        },
    )
    .await;
    record(
        &f,
        "trip-summer",
        &TripPlanned {
            title: "Summer".to_owned(),
            destination: "Lisbon".to_owned(),
            starts_on: day("2026-07-01"),
            ends_on: day("2026-07-10"),
        },
    )
    .await;
    record(
        &f,
        "trip-summer",
        &TripCancelled {
            cancelled_at: at("2026-05-01T12:00:00Z"),
        },
    )
    .await;
    let ids = |trips: Vec<Trip>| -> Vec<String> { trips.into_iter().map(|t| t.trip_id).collect() };
    assert_eq!(
        ids(trips(&f, TripFilter::default()).await),
        ["winter", "spring"]
    );
    let upcoming = TripFilter {
        ending_on_or_after: Some(day("2026-03-01")),
        include_cancelled: true,
    };
    let listed = trips(&f, upcoming).await;
    assert_eq!(
        listed,
        [
            Trip {
                minimum_connection_minutes: Some(90),
                ..spring(3, 1)
            },
            Trip {
                trip_id: "summer".to_owned(),
                title: "Summer".to_owned(),
                destination: "Lisbon".to_owned(),
                starts_on: day("2026-07-01"),
                ends_on: day("2026-07-10"),
                minimum_connection_minutes: None,
                cancelled_at: Some(at("2026-05-01T12:00:00Z")),
                reservations: 0,
                issues: 0,
            },
        ]
    );
}

async fn erasing_a_traveller_drops_their_name_and_the_booking_details_about_them(f: Fixture) {
    plan_spring(&f).await;
    erase(&f, "contact:dana").await;
    // Dana's name is gone everywhere, and the codes and address that came
    // with her, the confirmation's own copy of the out flight's code too.
    let without_dana = Itinerary {
        trip: spring(3, 0),
        segments: vec![
            Segment {
                state: ReservationState::Confirmed,
                ..segment("out", ReservationKind::Flight, "LH", out_flight())
            },
            segment("bloom", ReservationKind::Hotel, "Hotel Bloom", hotel_stay()),
            segment("back", ReservationKind::Flight, "LH", back_flight()),
        ],
        issues: Vec::new(),
    };
    assert_eq!(itinerary(&f, "spring").await, Some(without_dana.clone()));
    rebuild(&f, Arc::new(Travel)).await;
    assert_eq!(itinerary(&f, "spring").await, Some(without_dana.clone()));

    erase(&f, OWNER).await;
    let without_owner = Itinerary {
        segments: vec![
            Segment {
                state: ReservationState::Confirmed,
                ..segment("out", ReservationKind::Flight, "LH", out_flight())
            },
            without_dana.segments[1].clone(),
            without_dana.segments[2].clone(),
        ],
        ..without_dana
    };
    assert_eq!(itinerary(&f, "spring").await, Some(without_owner.clone()));
    rebuild(&f, Arc::new(Travel)).await;
    assert_eq!(itinerary(&f, "spring").await, Some(without_owner));
}
