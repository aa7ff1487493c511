//! `travel_calendar`: a confirmed reservation goes on the calendar, and
//! comes off it when cancelled.
//!
//! On [`ReservationConfirmed`] in `trip-<trip>` it sends `ScheduleEvent` to
//! the configured calendar under the event id [`TravelCalendar::event_id`]
//! with `source` `travel:<trip>/<reservation>`; on [`ReservationCancelled`]
//! of a reservation that had been confirmed, `CancelEvent` of that id.
//! A reservation confirmed again (a new booking code) sends the same
//! `ScheduleEvent`, which the calendar takes as a repeat.
//!
//! - **Times.** Journeys (flights, trains, car hire) carry local times with
//!   their offsets; the saga sends their UTC instants as local times in
//!   `UTC`, so the calendar holds the right instants and shows them in the
//!   reader's zone. A hotel stay has days but no times and no zone: the
//!   saga sends check-in day 15:00 to check-out day 11:00, in `UTC`. That is
//!   a simplification: the hotel's own zone would need its address looked up
//!   (and a time-zone database); the span still covers the nights and reads
//!   as the stay on a calendar in or near UTC.
//! - **Double booking.** Travel is a fact the person committed to: it is
//!   scheduled with `force`, so it shows even where it overlaps meetings (the
//!   calendar records whom it overlaps), and is not held tentatively.
//! - **Personal data.** The address is the event's location; once erased,
//!   the reservation goes on without one.

use chrono::{NaiveDateTime, NaiveTime};
use serde_json::{Value, json};
use steward_events::domain::DomainEvent as _;
use steward_events::domain::travel::{
    ReservationCancelled, ReservationConfirmed, ReservationKind, ReservationSchedule,
};
use steward_events::{RecordedEvent, StreamId};

use super::ids::bounded;
use super::{Reaction, Saga, decode};
use crate::aggregate::Aggregate as _;
use crate::travel::Trip;

/// The longest calendar event id (the calendar's limit).
const MAX_EVENT_ID_CHARS: usize = 200;
/// The longest calendar event title (the calendar's limit).
const MAX_TITLE_CHARS: usize = 300;

/// Puts confirmed reservations on a calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct TravelCalendar {
    calendar: StreamId,
}

impl TravelCalendar {
    /// The saga, putting reservations on `calendar`.
    pub fn new(calendar: StreamId) -> Self {
        Self { calendar }
    }

    /// The calendar event id of a reservation: `trip-<trip>:<reservation>`,
    /// cut (with a hash) to the calendar's 200 characters. A colon, not a
    /// dash, parts the two: trip and reservation ids may hold dashes, and
    /// reservation ids never a colon, so no two reservations share an id.
    pub fn event_id(trip_id: &str, reservation_id: &str) -> String {
        bounded(
            &format!("trip-{trip_id}:{reservation_id}"),
            MAX_EVENT_ID_CHARS,
        )
    }

    fn schedule(&self, trip_id: &str, confirmed: &ReservationConfirmed) -> Option<Reaction> {
        let (start, end) = span_of(&confirmed.schedule)?;
        let mut data = json!({
            "event_id": Self::event_id(trip_id, &confirmed.reservation_id),
            "title": title_of(confirmed),
            "start": start,
            "end": end,
            "time_zone": "UTC",
            "end_time_zone": "UTC",
            "tentative": false,
            "force": true,
            "source": format!("travel:{trip_id}/{}", confirmed.reservation_id),
        });
        if let (Some(address), Value::Object(fields)) = (&confirmed.address, &mut data) {
            fields.insert("location".to_owned(), Value::from(address.as_str()));
        }
        Some(Reaction::new(
            "schedule",
            self.calendar.clone(),
            "ScheduleEvent",
            data,
        ))
    }

    fn cancel(&self, trip_id: &str, cancelled: &ReservationCancelled) -> Option<Reaction> {
        cancelled.was_confirmed.then(|| {
            Reaction::new(
                "cancel",
                self.calendar.clone(),
                "CancelEvent",
                json!({ "event_id": Self::event_id(trip_id, &cancelled.reservation_id) }),
            )
        })
    }
}

impl Saga for TravelCalendar {
    fn name(&self) -> &'static str {
        "travel_calendar"
    }

    fn reacts_to(&self) -> &'static [&'static str] {
        &[
            ReservationConfirmed::EVENT_TYPE,
            ReservationCancelled::EVENT_TYPE,
        ]
    }

    fn react(&self, event: &RecordedEvent) -> Vec<Reaction> {
        if event.stream_id.category() != Trip::CATEGORY {
            return Vec::new();
        }
        let trip_id = event.stream_id.id();
        let reaction = match event.event_type.as_str() {
            ReservationConfirmed::EVENT_TYPE => decode::<ReservationConfirmed>(event)
                .and_then(|confirmed| self.schedule(trip_id, &confirmed)),
            ReservationCancelled::EVENT_TYPE => decode::<ReservationCancelled>(event)
                .and_then(|cancelled| self.cancel(trip_id, &cancelled)),
            _ => None,
        };
        reaction.into_iter().collect()
    }
}

/// Start and end as UTC local times (see the module's documentation).
fn span_of(schedule: &ReservationSchedule) -> Option<(NaiveDateTime, NaiveDateTime)> {
    match schedule {
        ReservationSchedule::Transport {
            departs_at,
            arrives_at,
            ..
        } => Some((departs_at.naive_utc(), arrives_at.naive_utc())),
        ReservationSchedule::Stay {
            check_in,
            check_out,
        } => Some((
            check_in.and_time(NaiveTime::from_hms_opt(15, 0, 0)?),
            check_out.and_time(NaiveTime::from_hms_opt(11, 0, 0)?),
        )),
    }
}

/// What the calendar shows: `Flight LH 902 (Lufthansa): FRA → LHR`,
/// `Car hire (Sixt): FRA`, `Hotel: Hotel Adler`.
fn title_of(confirmed: &ReservationConfirmed) -> String {
    let kind = match confirmed.kind {
        ReservationKind::Flight => "Flight",
        ReservationKind::Train => "Train",
        ReservationKind::Car => "Car hire",
        ReservationKind::Hotel => "Hotel",
    };
    let title = match &confirmed.schedule {
        ReservationSchedule::Stay { .. } => format!("{kind}: {}", confirmed.provider),
        ReservationSchedule::Transport { from, to, .. } => {
            let what = match &confirmed.number {
                Some(number) => format!("{kind} {number}"),
                None => kind.to_owned(),
            };
            let route = if from == to {
                from.clone()
            } else {
                format!("{from} → {to}")
            };
            format!("{what} ({}): {route}", confirmed.provider)
        }
    };
    title.chars().take(MAX_TITLE_CHARS).collect()
}
