//! Events of the travel domain: trips, their reservations and what is wrong
//! with their itinerary.
//!
//! One aggregate, the trip (`trip-<trip_id>`). Journeys (flight, train, car
//! hire) keep their local times as RFC 3339 timestamps with the offset of
//! the place, so a time reads as the traveller sees it and still names one
//! instant. Confirmation codes, addresses and traveller names are personal.
//! After every change the trip re-checks its itinerary and records which
//! issues appeared ([`ItineraryIssueFound`]) and which went away
//! ([`ItineraryIssueResolved`]).

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DomainEvent;
use crate::ids::SubjectId;
use crate::upcast::{Payload, UpcastError};

/// A trip was planned, or its plan changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TripPlanned {
    /// What the trip is called (`Spring in London`).
    pub title: String,
    /// Where it goes (`London`).
    pub destination: String,
    /// Its first day.
    pub starts_on: NaiveDate,
    /// Its last day.
    pub ends_on: NaiveDate,
}

impl DomainEvent for TripPlanned {
    const EVENT_TYPE: &'static str = "TripPlanned";
    const SCHEMA_VERSION: u16 = 1;
}

/// What is reserved.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReservationKind {
    /// A seat on a flight.
    Flight,
    /// A seat on a train.
    Train,
    /// A room in a hotel (or any lodging).
    Hotel,
    /// A hire car, from pick-up to drop-off.
    Car,
}

impl ReservationKind {
    /// Whether it takes the traveller from one place to another at set
    /// times (a flight or a train): the legs the itinerary check orders.
    pub fn is_leg(self) -> bool {
        matches!(self, Self::Flight | Self::Train)
    }
}

/// When and where a reservation holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ReservationSchedule {
    /// A journey or a car hire: from one place at a local time to another.
    Transport {
        /// Where it starts (an airport or station code or name; the pick-up
        /// place of a car).
        from: String,
        /// Where it ends (the drop-off place of a car).
        to: String,
        /// Departure (pick-up), local time with its offset.
        departs_at: DateTime<FixedOffset>,
        /// Arrival (drop-off), local time with its offset.
        arrives_at: DateTime<FixedOffset>,
    },
    /// A stay: the nights from check-in up to the day of check-out.
    Stay {
        /// The day of check-in (its night is the first covered).
        check_in: NaiveDate,
        /// The day of check-out (its night is not covered).
        check_out: NaiveDate,
    },
}

/// A reservation was added to the trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationAdded {
    /// The reservation, as the caller names it within the trip.
    pub reservation_id: String,
    /// What is reserved.
    pub kind: ReservationKind,
    /// Who provides it: the airline, rail company, hotel or car hire firm.
    pub provider: String,
    /// The flight or train number (`LH 1234`), if any.
    pub number: Option<String>,
    /// When and where it holds.
    pub schedule: ReservationSchedule,
    /// The provider's booking code (personal).
    #[serde(default)]
    pub confirmation_code: Option<String>,
    /// The hotel's or pick-up desk's address (personal).
    #[serde(default)]
    pub address: Option<String>,
    /// Who travels on it, by name (personal).
    #[serde(default)]
    pub travellers: Vec<String>,
}

impl DomainEvent for ReservationAdded {
    const EVENT_TYPE: &'static str = "ReservationAdded";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] =
        &["confirmation_code", "address", "travellers"];

    fn subjects(&self) -> Vec<SubjectId> {
        contacts(&self.travellers)
    }
}

/// A reservation was confirmed by its provider. It carries what a calendar
/// needs (kind, provider, number, schedule, address), so that the saga
/// putting its times on the calendar reads nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationConfirmed {
    /// The reservation.
    pub reservation_id: String,
    /// What is reserved.
    pub kind: ReservationKind,
    /// Who provides it.
    pub provider: String,
    /// The flight or train number, if any.
    pub number: Option<String>,
    /// When and where it holds.
    pub schedule: ReservationSchedule,
    /// The booking code (personal).
    #[serde(default)]
    pub confirmation_code: Option<String>,
    /// The hotel's or pick-up desk's address (personal).
    #[serde(default)]
    pub address: Option<String>,
    /// Who travels on it, by name (personal): the booking code and address
    /// are about them too, so erasing one of them erases this copy.
    #[serde(default)]
    pub travellers: Vec<String>,
}

impl DomainEvent for ReservationConfirmed {
    const EVENT_TYPE: &'static str = "ReservationConfirmed";
    const SCHEMA_VERSION: u16 = 2;
    const PERSONAL_FIELDS: &'static [&'static str] =
        &["confirmation_code", "address", "travellers"];

    fn subjects(&self) -> Vec<SubjectId> {
        contacts(&self.travellers)
    }
}

/// v1 named no travellers (its personal part was sealed under the owner's
/// key alone); it reads as v2 with none: the data itself is unchanged.
pub(crate) fn upcast_reservation_confirmed_v1(payload: Payload<'_>) -> Result<(), UpcastError> {
    if payload.data.is_object() {
        Ok(())
    } else {
        Err(UpcastError::new("data is not an object"))
    }
}

/// A reservation was cancelled (on its own, or with its trip).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationCancelled {
    /// The reservation.
    pub reservation_id: String,
    /// Whether it had been confirmed (its times may be on the calendar).
    pub was_confirmed: bool,
}

impl DomainEvent for ReservationCancelled {
    const EVENT_TYPE: &'static str = "ReservationCancelled";
    const SCHEMA_VERSION: u16 = 1;
}

/// The shortest connection the traveller accepts between two legs changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MinimumConnectionSet {
    /// Minutes from one leg's arrival to the next one's departure.
    pub minutes: u32,
}

impl DomainEvent for MinimumConnectionSet {
    const EVENT_TYPE: &'static str = "MinimumConnectionSet";
    const SCHEMA_VERSION: u16 = 1;
}

/// The trip was called off; its reservations were cancelled before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TripCancelled {
    /// When.
    pub cancelled_at: DateTime<Utc>,
}

impl DomainEvent for TripCancelled {
    const EVENT_TYPE: &'static str = "TripCancelled";
    const SCHEMA_VERSION: u16 = 1;
}

/// Nights in a row, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NightSpan {
    /// The first night (by the date it begins).
    pub first: NaiveDate,
    /// The last night.
    pub last: NaiveDate,
}

/// Something wrong with a trip's itinerary. Legs are flights and trains
/// that are not cancelled, in order of departure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ItineraryIssue {
    /// A leg departs before the one before it arrives.
    OverlappingLegs {
        /// The leg departing first.
        first: String,
        /// The leg departing while `first` is under way.
        second: String,
    },
    /// Less time between an arrival and the next departure than the
    /// traveller's minimum connection.
    ShortConnection {
        /// The leg arriving.
        arriving: String,
        /// The next leg.
        departing: String,
        /// Minutes between the two.
        minutes: i64,
        /// The minimum, in minutes.
        minimum: u32,
    },
    /// Nights between two legs that no hotel covers.
    NightsUncovered {
        /// The leg arriving.
        arriving: String,
        /// The next leg.
        departing: String,
        /// The nights without a hotel.
        nights: Vec<NightSpan>,
    },
}

impl ItineraryIssue {
    /// A key that names the issue for as long as it lasts: its kind and the
    /// reservations it is about (`short_connection:lh1:ba2`). Its details
    /// (minutes, nights) may change under the same key.
    pub fn key(&self) -> String {
        let (kind, a, b) = match self {
            Self::OverlappingLegs { first, second } => ("overlapping_legs", first, second),
            Self::ShortConnection {
                arriving,
                departing,
                ..
            } => ("short_connection", arriving, departing),
            Self::NightsUncovered {
                arriving,
                departing,
                ..
            } => ("nights_uncovered", arriving, departing),
        };
        format!("{kind}:{a}:{b}")
    }
}

/// An itinerary issue appeared, or its details changed (a later event under
/// the same key replaces an earlier one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItineraryIssueFound {
    /// The issue's key ([`ItineraryIssue::key`]).
    pub key: String,
    /// What is wrong.
    pub issue: ItineraryIssue,
}

impl DomainEvent for ItineraryIssueFound {
    const EVENT_TYPE: &'static str = "ItineraryIssueFound";
    const SCHEMA_VERSION: u16 = 1;
}

/// An itinerary issue went away (a reservation was cancelled or added, or
/// the minimum connection changed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItineraryIssueResolved {
    /// The issue's key.
    pub key: String,
}

impl DomainEvent for ItineraryIssueResolved {
    const EVENT_TYPE: &'static str = "ItineraryIssueResolved";
    const SCHEMA_VERSION: u16 = 1;
}

/// The subjects of people named in an event (`contact:<name lowercased>`);
/// names that do not make a subject id (with white space) are left out.
fn contacts(names: &[String]) -> Vec<SubjectId> {
    names
        .iter()
        .filter_map(|name| super::named_subject(name))
        .collect()
}

crate::domain_events! {
    /// What a trip stream holds.
    pub enum TripEvent {
        /// The trip was planned or re-planned.
        Planned(TripPlanned),
        /// A reservation was added.
        ReservationAdded(ReservationAdded),
        /// A reservation was confirmed.
        ReservationConfirmed(ReservationConfirmed),
        /// A reservation was cancelled.
        ReservationCancelled(ReservationCancelled),
        /// The minimum connection changed.
        MinimumConnectionSet(MinimumConnectionSet),
        /// The trip was called off.
        Cancelled(TripCancelled),
        /// An itinerary issue appeared or changed.
        IssueFound(ItineraryIssueFound),
        /// An itinerary issue went away.
        IssueResolved(ItineraryIssueResolved),
    }
}

/// The JSON Schema of every event type of the domain.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    use super::EventSet as _;
    TripEvent::schemas()
}
