//! Travel: trips, their reservations, and what is wrong with an itinerary.
//!
//! A [`Trip`] (`trip-<trip_id>`) holds reservations (flights, trains,
//! hotels, hire cars), each under an id its caller chooses. Journeys carry
//! their local times as RFC 3339 timestamps with offsets (`2026-05-01T09:00:00+02:00`),
//! which keep the time a traveller reads and the instant together without a
//! time-zone database.
//!
//! After every change the trip runs [`itinerary_issues`] on its new state and
//! records the difference: issues that appeared or changed
//! ([`ItineraryIssueFound`]) and issues that went away
//! ([`ItineraryIssueResolved`]). The check orders the legs (flights and
//! trains not cancelled) by departure and finds:
//! - legs that overlap;
//! - connections (an arrival to the next departure) shorter than the
//!   trip's minimum, 45 minutes unless set;
//! - nights between two legs that no hotel covers: arriving Monday and
//!   departing Thursday needs the nights of Monday, Tuesday and Wednesday,
//!   by the local dates of arrival and departure. A stopover shorter than
//!   [`SHORTEST_STAY_HOURS`] is a connection and needs no bed.
//!
//! [`parse_confirmation`] reads a confirmation e-mail into a
//! [`ReservationDraft`], which a saga turns into `AddReservation` with
//! [`ReservationDraft::into_command`]; [`parse_confirmations`] gives every
//! reservation of an e-mail (a return flight holds two). They read schema.org JSON-LD
//! (`<script type="application/ld+json">` with `FlightReservation`,
//! `TrainReservation`, `LodgingReservation` or `RentalCarReservation`,
//! alone, in an array or in an `@graph`) and, when there is none, this
//! plain-text form, one `Key: value` per line, keys in any case:
//!
//! ```text
//! Confirmation: ABC123        (or Confirmation code / Confirmation number / Booking reference)
//! Flight: LH 1234             (or Train: ICE 578, Hotel: <name>, Car: <hire company>)
//! Airline: Lufthansa          (or Operator / Provider; default: the number's first word)
//! From: FRA                   (pick-up place for a car)
//! To: LHR                     (drop-off place for a car)
//! Departs: 2026-05-01T09:00+02:00   (or Pick-up; seconds optional, offset required)
//! Arrives: 2026-05-01T09:45+01:00   (or Drop-off)
//! Check-in: 2026-05-01        (hotel; a date-time counts by its date)
//! Check-out: 2026-05-04
//! Address: 1 Strand, London   (hotel or car desk)
//! Traveller: Eva Green        (or Traveler / Passenger / Guest; one per line)
//! ```
//!
//! The form needs a confirmation line and a kind line (the first kind line
//! decides); a `Status:` line or subject saying cancelled makes it no
//! confirmation. JSON-LD reservations whose `reservationStatus` is
//! `ReservationCancelled`, or whose times lack an offset, are skipped.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
pub use steward_events::domain::travel::{
    ItineraryIssue, NightSpan, ReservationKind, ReservationSchedule,
};
use steward_events::domain::travel::{
    ItineraryIssueFound, ItineraryIssueResolved, MinimumConnectionSet, ReservationAdded,
    ReservationCancelled, ReservationConfirmed, TripCancelled, TripEvent, TripPlanned,
};

use crate::aggregate::{Aggregate, Context, Rejection, ensure};
use crate::catalog::Visitor;

/// Shows the domain's aggregates to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Trip>();
}

/// The minimum connection of a trip that never set one, in minutes.
pub const DEFAULT_MINIMUM_CONNECTION_MINUTES: u32 = 45;

/// The longest minimum connection accepted: a day, in minutes.
pub const MAX_MINIMUM_CONNECTION_MINUTES: u32 = 24 * 60;

/// A stopover between two legs shorter than this is a connection, not a
/// stay, and needs no hotel even when it spans midnight.
pub const SHORTEST_STAY_HOURS: i64 = 6;

/// The longest name, title or place accepted, in characters.
const MAX_TEXT_CHARS: usize = 200;

/// The longest reservation id accepted.
const MAX_RESERVATION_ID_LEN: usize = 100;

// ------------------------------------------------------------------ trip

/// Commands to a trip (`trip-<trip_id>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum TripCommand {
    /// Plan the trip, or change its plan.
    PlanTrip {
        /// What the trip is called.
        title: String,
        /// Where it goes.
        destination: String,
        /// Its first day.
        starts_on: NaiveDate,
        /// Its last day (on or after the first).
        ends_on: NaiveDate,
    },
    /// Add a reservation. Sending the same reservation again changes
    /// nothing (a saga may retry); the same id with other details is
    /// refused.
    AddReservation {
        /// The caller's id for it within the trip: 1 to 100 ASCII letters,
        /// digits, `-`, `_` or `.`.
        reservation_id: String,
        /// What is reserved.
        kind: ReservationKind,
        /// The airline, rail company, hotel or car hire firm.
        provider: String,
        /// The flight or train number (`LH 1234`).
        #[serde(default)]
        number: Option<String>,
        /// Flight, train, car: where it starts (the pick-up place).
        #[serde(default)]
        from: Option<String>,
        /// Flight, train, car: where it ends (the drop-off place).
        #[serde(default)]
        to: Option<String>,
        /// Flight, train, car: departure (pick-up), RFC 3339 with the local
        /// offset (`2026-05-01T09:00:00+02:00`).
        #[serde(default)]
        departs_at: Option<DateTime<FixedOffset>>,
        /// Flight, train, car: arrival (drop-off), RFC 3339 with the local
        /// offset.
        #[serde(default)]
        arrives_at: Option<DateTime<FixedOffset>>,
        /// Hotel: the day of check-in.
        #[serde(default)]
        check_in: Option<NaiveDate>,
        /// Hotel: the day of check-out.
        #[serde(default)]
        check_out: Option<NaiveDate>,
        /// The hotel's or pick-up desk's address.
        #[serde(default)]
        address: Option<String>,
        /// The provider's booking code.
        #[serde(default)]
        confirmation_code: Option<String>,
        /// Who travels, by name.
        #[serde(default)]
        travellers: Vec<String>,
        /// Whether the provider already confirmed it (a confirmation
        /// e-mail): confirms it at once.
        #[serde(default)]
        confirmed: bool,
    },
    /// The provider confirmed a reservation.
    ConfirmReservation {
        /// The reservation.
        reservation_id: String,
        /// The booking code, if it came only now or changed.
        #[serde(default)]
        confirmation_code: Option<String>,
    },
    /// Cancel a reservation.
    CancelReservation {
        /// The reservation.
        reservation_id: String,
    },
    /// The shortest connection the traveller accepts.
    SetMinimumConnection {
        /// Minutes from an arrival to the next departure (0 to 1440).
        minutes: u32,
    },
    /// Call the trip off, cancelling its reservations.
    CancelTrip {},
}

/// Where a reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// Added, not yet confirmed by its provider.
    Pending,
    /// Confirmed by its provider.
    Confirmed,
    /// Cancelled.
    Cancelled,
}

/// One reservation of a trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    /// What is reserved.
    pub kind: ReservationKind,
    /// Who provides it.
    pub provider: String,
    /// The flight or train number.
    pub number: Option<String>,
    /// When and where it holds.
    pub schedule: ReservationSchedule,
    /// The booking code.
    pub confirmation_code: Option<String>,
    /// The hotel's or pick-up desk's address.
    pub address: Option<String>,
    /// Who travels on it.
    pub travellers: Vec<String>,
    /// Where it stands.
    pub status: ReservationStatus,
}

impl Reservation {
    /// Whether it still holds (not cancelled).
    pub fn is_active(&self) -> bool {
        self.status != ReservationStatus::Cancelled
    }

    /// Whether `added` says the same as this reservation did when added
    /// (local times compared with their offsets, not only as instants).
    fn is_same_as(&self, added: &ReservationAdded) -> bool {
        self.kind == added.kind
            && self.provider == added.provider
            && self.number == added.number
            && same_schedule(&self.schedule, &added.schedule)
            && self.confirmation_code == added.confirmation_code
            && self.address == added.address
            && self.travellers == added.travellers
    }
}

fn same_schedule(a: &ReservationSchedule, b: &ReservationSchedule) -> bool {
    let same_local =
        |x: &DateTime<FixedOffset>, y: &DateTime<FixedOffset>| x == y && x.offset() == y.offset();
    match (a, b) {
        (
            ReservationSchedule::Transport {
                from,
                to,
                departs_at,
                arrives_at,
            },
            ReservationSchedule::Transport {
                from: other_from,
                to: other_to,
                departs_at: other_departs,
                arrives_at: other_arrives,
            },
        ) => {
            from == other_from
                && to == other_to
                && same_local(departs_at, other_departs)
                && same_local(arrives_at, other_arrives)
        }
        _ => a == b,
    }
}

/// A trip: its plan, reservations and open itinerary issues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trip {
    /// The plan, once planned.
    pub plan: Option<TripPlanned>,
    /// The reservations, by id.
    pub reservations: BTreeMap<String, Reservation>,
    /// The shortest connection accepted, in minutes.
    pub minimum_connection_minutes: u32,
    /// The itinerary issues recorded as open, by key.
    pub issues: BTreeMap<String, ItineraryIssue>,
    /// Whether the trip was called off.
    pub cancelled: bool,
}

impl Default for Trip {
    fn default() -> Self {
        Self {
            plan: None,
            reservations: BTreeMap::new(),
            minimum_connection_minutes: DEFAULT_MINIMUM_CONNECTION_MINUTES,
            issues: BTreeMap::new(),
            cancelled: false,
        }
    }
}

impl Trip {
    fn planned(&self) -> Result<&TripPlanned, Rejection> {
        self.plan
            .as_ref()
            .ok_or_else(|| Rejection::new("trip_not_planned", "plan the trip before anything else"))
    }

    fn not_cancelled(&self) -> Result<(), Rejection> {
        ensure(!self.cancelled, "trip_cancelled", || {
            "the trip was called off".to_owned()
        })
    }

    fn reservation(&self, reservation_id: &str) -> Result<&Reservation, Rejection> {
        self.reservations.get(reservation_id).ok_or_else(|| {
            Rejection::new(
                "unknown_reservation",
                format!("the trip has no reservation `{reservation_id}`"),
            )
        })
    }

    /// `events`, followed by the itinerary issues they make appear, change
    /// or go away.
    fn with_itinerary_check(&self, mut events: Vec<TripEvent>) -> Vec<TripEvent> {
        if events.is_empty() {
            return events;
        }
        let mut after = self.clone();
        for event in &events {
            after.apply(event);
        }
        let current: BTreeMap<String, ItineraryIssue> = itinerary_issues(&after)
            .into_iter()
            .map(|issue| (issue.key(), issue))
            .collect();
        for key in after.issues.keys() {
            if !current.contains_key(key) {
                events.push(TripEvent::IssueResolved(ItineraryIssueResolved {
                    key: key.clone(),
                }));
            }
        }
        for (key, issue) in current {
            if after.issues.get(&key) != Some(&issue) {
                events.push(TripEvent::IssueFound(ItineraryIssueFound { key, issue }));
            }
        }
        events
    }
}

impl Aggregate for Trip {
    const CATEGORY: &'static str = "trip";
    const DOMAIN: &'static str = "travel";
    const STATE_VERSION: u32 = 1;
    type Command = TripCommand;
    type Event = TripEvent;

    fn decide(&self, command: TripCommand, context: &Context) -> Result<Vec<TripEvent>, Rejection> {
        let events = match command {
            TripCommand::PlanTrip {
                title,
                destination,
                starts_on,
                ends_on,
            } => {
                let plan = TripPlanned {
                    title: required_text(&title, "title_required", "title the trip")?,
                    destination: required_text(
                        &destination,
                        "destination_required",
                        "say where the trip goes",
                    )?,
                    starts_on,
                    ends_on,
                };
                ensure(ends_on >= starts_on, "trip_dates_reversed", || {
                    format!("the trip cannot end ({ends_on}) before it starts ({starts_on})")
                })?;
                if self.plan.as_ref() == Some(&plan) {
                    return Ok(Vec::new());
                }
                self.not_cancelled()?;
                vec![TripEvent::Planned(plan)]
            }
            TripCommand::AddReservation {
                reservation_id,
                kind,
                provider,
                number,
                from,
                to,
                departs_at,
                arrives_at,
                check_in,
                check_out,
                address,
                confirmation_code,
                travellers,
                confirmed,
            } => {
                self.planned()?;
                let added = ReservationAdded {
                    reservation_id: reservation_id_of(&reservation_id)?,
                    kind,
                    provider: required_text(
                        &provider,
                        "provider_required",
                        "name the airline, rail company, hotel or car hire firm",
                    )?,
                    number: optional_text(number)?,
                    schedule: schedule_of(
                        kind, from, to, departs_at, arrives_at, check_in, check_out,
                    )?,
                    confirmation_code: optional_text(confirmation_code)?,
                    address: optional_text(address)?,
                    travellers: travellers
                        .into_iter()
                        .filter_map(|name| optional_text(Some(name)).transpose())
                        .collect::<Result<_, _>>()?,
                };
                if let Some(existing) = self.reservations.get(&added.reservation_id) {
                    ensure(existing.is_same_as(&added), "reservation_exists", || {
                        format!(
                            "the trip already has a reservation `{}` with other details; \
                             add this one under another id",
                            added.reservation_id
                        )
                    })?;
                    // A retry: only a confirmation it brings can be new.
                    if !confirmed || existing.status != ReservationStatus::Pending {
                        return Ok(Vec::new());
                    }
                    vec![TripEvent::ReservationConfirmed(confirmation_of(
                        &added.reservation_id,
                        existing,
                        None,
                    ))]
                } else {
                    self.not_cancelled()?;
                    let confirmation = confirmed.then(|| ReservationConfirmed {
                        reservation_id: added.reservation_id.clone(),
                        kind: added.kind,
                        provider: added.provider.clone(),
                        number: added.number.clone(),
                        schedule: added.schedule.clone(),
                        confirmation_code: added.confirmation_code.clone(),
                        address: added.address.clone(),
                        travellers: added.travellers.clone(),
                    });
                    std::iter::once(TripEvent::ReservationAdded(added))
                        .chain(confirmation.map(TripEvent::ReservationConfirmed))
                        .collect()
                }
            }
            TripCommand::ConfirmReservation {
                reservation_id,
                confirmation_code,
            } => {
                self.planned()?;
                let existing = self.reservation(&reservation_id)?;
                ensure(existing.is_active(), "reservation_cancelled", || {
                    format!("reservation `{reservation_id}` was cancelled")
                })?;
                let code = optional_text(confirmation_code)?;
                let new_code = code.is_some() && code != existing.confirmation_code;
                if existing.status == ReservationStatus::Confirmed && !new_code {
                    return Ok(Vec::new());
                }
                vec![TripEvent::ReservationConfirmed(confirmation_of(
                    &reservation_id,
                    existing,
                    code,
                ))]
            }
            TripCommand::CancelReservation { reservation_id } => {
                self.planned()?;
                let existing = self.reservation(&reservation_id)?;
                if !existing.is_active() {
                    return Ok(Vec::new());
                }
                vec![TripEvent::ReservationCancelled(ReservationCancelled {
                    reservation_id,
                    was_confirmed: existing.status == ReservationStatus::Confirmed,
                })]
            }
            TripCommand::SetMinimumConnection { minutes } => {
                self.planned()?;
                self.not_cancelled()?;
                ensure(
                    minutes <= MAX_MINIMUM_CONNECTION_MINUTES,
                    "minimum_connection_invalid",
                    || {
                        format!(
                            "a minimum connection is 0 to {MAX_MINIMUM_CONNECTION_MINUTES} minutes, not {minutes}"
                        )
                    },
                )?;
                if minutes == self.minimum_connection_minutes {
                    return Ok(Vec::new());
                }
                vec![TripEvent::MinimumConnectionSet(MinimumConnectionSet {
                    minutes,
                })]
            }
            TripCommand::CancelTrip {} => {
                self.planned()?;
                if self.cancelled {
                    return Ok(Vec::new());
                }
                let mut events: Vec<TripEvent> = self
                    .reservations
                    .iter()
                    .filter(|(_, reservation)| reservation.is_active())
                    .map(|(id, reservation)| {
                        TripEvent::ReservationCancelled(ReservationCancelled {
                            reservation_id: id.clone(),
                            was_confirmed: reservation.status == ReservationStatus::Confirmed,
                        })
                    })
                    .collect();
                events.push(TripEvent::Cancelled(TripCancelled {
                    cancelled_at: context.now,
                }));
                events
            }
        };
        Ok(self.with_itinerary_check(events))
    }

    fn apply(&mut self, event: &TripEvent) {
        match event {
            TripEvent::Planned(e) => self.plan = Some(e.clone()),
            TripEvent::ReservationAdded(e) => {
                self.reservations.insert(
                    e.reservation_id.clone(),
                    Reservation {
                        kind: e.kind,
                        provider: e.provider.clone(),
                        number: e.number.clone(),
                        schedule: e.schedule.clone(),
                        confirmation_code: e.confirmation_code.clone(),
                        address: e.address.clone(),
                        travellers: e.travellers.clone(),
                        status: ReservationStatus::Pending,
                    },
                );
            }
            TripEvent::ReservationConfirmed(e) => {
                if let Some(reservation) = self.reservations.get_mut(&e.reservation_id) {
                    reservation.status = ReservationStatus::Confirmed;
                    if e.confirmation_code.is_some() {
                        reservation
                            .confirmation_code
                            .clone_from(&e.confirmation_code);
                    }
                }
            }
            TripEvent::ReservationCancelled(e) => {
                if let Some(reservation) = self.reservations.get_mut(&e.reservation_id) {
                    reservation.status = ReservationStatus::Cancelled;
                }
            }
            TripEvent::MinimumConnectionSet(e) => self.minimum_connection_minutes = e.minutes,
            TripEvent::Cancelled(_) => self.cancelled = true,
            TripEvent::IssueFound(e) => {
                self.issues.insert(e.key.clone(), e.issue.clone());
            }
            TripEvent::IssueResolved(e) => {
                self.issues.remove(&e.key);
            }
        }
    }
}

/// The confirmation of `existing`, with `code` if given, else the one it has.
fn confirmation_of(
    reservation_id: &str,
    existing: &Reservation,
    code: Option<String>,
) -> ReservationConfirmed {
    ReservationConfirmed {
        reservation_id: reservation_id.to_owned(),
        kind: existing.kind,
        provider: existing.provider.clone(),
        number: existing.number.clone(),
        schedule: existing.schedule.clone(),
        confirmation_code: code.or_else(|| existing.confirmation_code.clone()),
        address: existing.address.clone(),
        travellers: existing.travellers.clone(),
    }
}

fn reservation_id_of(id: &str) -> Result<String, Rejection> {
    let valid = !id.is_empty()
        && id.len() <= MAX_RESERVATION_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    ensure(valid, "reservation_id_invalid", || {
        format!(
            "a reservation id is 1 to {MAX_RESERVATION_ID_LEN} ASCII letters, digits, `-`, `_` or `.`, not `{id}`"
        )
    })?;
    Ok(id.to_owned())
}

fn required_text(value: &str, rule: &'static str, ask: &str) -> Result<String, Rejection> {
    let text = value.trim();
    ensure(!text.is_empty(), rule, || ask.to_owned())?;
    within_limit(text)
}

/// Trimmed, `None` when blank.
fn optional_text(value: Option<String>) -> Result<Option<String>, Rejection> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(within_limit)
        .transpose()
}

fn within_limit(text: &str) -> Result<String, Rejection> {
    ensure(
        text.chars().count() <= MAX_TEXT_CHARS,
        "text_too_long",
        || format!("a name, title, code or place has at most {MAX_TEXT_CHARS} characters"),
    )?;
    Ok(text.to_owned())
}

/// The schedule of a reservation of `kind`: a journey for flights, trains
/// and cars, a stay for hotels, with nothing of the other kind given.
fn schedule_of(
    kind: ReservationKind,
    from: Option<String>,
    to: Option<String>,
    departs_at: Option<DateTime<FixedOffset>>,
    arrives_at: Option<DateTime<FixedOffset>>,
    check_in: Option<NaiveDate>,
    check_out: Option<NaiveDate>,
) -> Result<ReservationSchedule, Rejection> {
    let misfit = |what: &str| {
        Rejection::new(
            "details_do_not_fit_kind",
            format!("a {kind:?} reservation has no {what}").to_lowercase(),
        )
    };
    if kind == ReservationKind::Hotel {
        if from.is_some() || to.is_some() || departs_at.is_some() || arrives_at.is_some() {
            return Err(misfit("from, to, departure or arrival"));
        }
        let (Some(check_in), Some(check_out)) = (check_in, check_out) else {
            return Err(Rejection::new(
                "stay_dates_required",
                "a hotel reservation needs its check-in and check-out days",
            ));
        };
        ensure(check_out > check_in, "check_out_not_after_check_in", || {
            format!("check-out ({check_out}) must come after check-in ({check_in})")
        })?;
        return Ok(ReservationSchedule::Stay {
            check_in,
            check_out,
        });
    }
    if check_in.is_some() || check_out.is_some() {
        return Err(misfit("check-in or check-out"));
    }
    let (Some(from), Some(to), Some(departs_at), Some(arrives_at)) = (
        optional_text(from)?,
        optional_text(to)?,
        departs_at,
        arrives_at,
    ) else {
        return Err(Rejection::new(
            "transport_details_required",
            "a flight, train or car needs from, to, departs_at and arrives_at",
        ));
    };
    ensure(
        arrives_at > departs_at,
        "arrival_not_after_departure",
        || format!("arrival ({arrives_at}) must come after departure ({departs_at})"),
    )?;
    Ok(ReservationSchedule::Transport {
        from,
        to,
        departs_at,
        arrives_at,
    })
}

// ------------------------------------------------------- itinerary check

/// A leg of the itinerary: a flight or train not cancelled.
struct Leg<'a> {
    id: &'a str,
    departs_at: DateTime<FixedOffset>,
    arrives_at: DateTime<FixedOffset>,
}

/// What is wrong with the trip's itinerary now, in the order of the issues'
/// keys. Pure: the trip records the difference to the issues it holds.
pub fn itinerary_issues(trip: &Trip) -> Vec<ItineraryIssue> {
    let active = || {
        trip.reservations
            .iter()
            .filter(|(_, reservation)| reservation.is_active())
    };
    let mut legs: Vec<Leg<'_>> = active()
        .filter(|(_, reservation)| reservation.kind.is_leg())
        .filter_map(|(id, reservation)| match &reservation.schedule {
            ReservationSchedule::Transport {
                departs_at,
                arrives_at,
                ..
            } => Some(Leg {
                id,
                departs_at: *departs_at,
                arrives_at: *arrives_at,
            }),
            ReservationSchedule::Stay { .. } => None,
        })
        .collect();
    legs.sort_by(|a, b| a.departs_at.cmp(&b.departs_at).then_with(|| a.id.cmp(b.id)));
    let mut stays: Vec<(NaiveDate, NaiveDate)> = active()
        .filter_map(|(_, reservation)| match reservation.schedule {
            ReservationSchedule::Stay {
                check_in,
                check_out,
            } => Some((check_in, check_out)),
            ReservationSchedule::Transport { .. } => None,
        })
        .collect();
    stays.sort();

    let mut issues = Vec::new();
    for (index, first) in legs.iter().enumerate() {
        for second in &legs[index + 1..] {
            if second.departs_at < first.arrives_at {
                issues.push(ItineraryIssue::OverlappingLegs {
                    first: first.id.to_owned(),
                    second: second.id.to_owned(),
                });
            }
        }
    }
    for pair in legs.windows(2) {
        let [arriving, departing] = pair else {
            continue;
        };
        let on_the_ground = departing.departs_at - arriving.arrives_at;
        if on_the_ground < Duration::zero() {
            continue; // an overlap, reported above
        }
        let minutes = on_the_ground.num_minutes();
        if minutes < i64::from(trip.minimum_connection_minutes) {
            issues.push(ItineraryIssue::ShortConnection {
                arriving: arriving.id.to_owned(),
                departing: departing.id.to_owned(),
                minutes,
                minimum: trip.minimum_connection_minutes,
            });
        }
        if on_the_ground >= Duration::hours(SHORTEST_STAY_HOURS) {
            let nights = uncovered_nights(
                arriving.arrives_at.date_naive(),
                departing.departs_at.date_naive(),
                &stays,
            );
            if !nights.is_empty() {
                issues.push(ItineraryIssue::NightsUncovered {
                    arriving: arriving.id.to_owned(),
                    departing: departing.id.to_owned(),
                    nights,
                });
            }
        }
    }
    issues.sort_by_cached_key(ItineraryIssue::key);
    issues
}

/// The nights from `arrival` up to the night before `departure` that none
/// of `stays` (check-in, check-out; sorted by check-in) covers.
fn uncovered_nights(
    arrival: NaiveDate,
    departure: NaiveDate,
    stays: &[(NaiveDate, NaiveDate)],
) -> Vec<NightSpan> {
    let mut gaps = Vec::new();
    let mut gap = |first: NaiveDate, until: NaiveDate| {
        if let Some(last) = until.pred_opt()
            && first <= last
        {
            gaps.push(NightSpan { first, last });
        }
    };
    let mut next_needed = arrival;
    for &(check_in, check_out) in stays {
        if check_in >= departure {
            break;
        }
        if check_out <= next_needed {
            continue;
        }
        if check_in > next_needed {
            gap(next_needed, check_in);
        }
        next_needed = check_out;
    }
    if next_needed < departure {
        gap(next_needed, departure);
    }
    gaps
}

// --------------------------------------------------- confirmation e-mails

/// A reservation read from a confirmation e-mail, ready to become
/// `AddReservation` once the caller chooses its id.
#[derive(Debug, Clone, PartialEq)]
pub struct ReservationDraft {
    /// What is reserved.
    pub kind: ReservationKind,
    /// The airline, rail company, hotel or car hire firm.
    pub provider: String,
    /// The flight or train number.
    pub number: Option<String>,
    /// When and where it holds.
    pub schedule: ReservationSchedule,
    /// The booking code.
    pub confirmation_code: Option<String>,
    /// The hotel's or pick-up desk's address.
    pub address: Option<String>,
    /// Who travels, by name.
    pub travellers: Vec<String>,
}

impl ReservationDraft {
    /// `AddReservation` of the draft under `reservation_id`, confirmed (it
    /// came from the provider's confirmation).
    pub fn into_command(self, reservation_id: impl Into<String>) -> TripCommand {
        let (from, to, departs_at, arrives_at, check_in, check_out) = match self.schedule {
            ReservationSchedule::Transport {
                from,
                to,
                departs_at,
                arrives_at,
            } => (
                Some(from),
                Some(to),
                Some(departs_at),
                Some(arrives_at),
                None,
                None,
            ),
            ReservationSchedule::Stay {
                check_in,
                check_out,
            } => (None, None, None, None, Some(check_in), Some(check_out)),
        };
        TripCommand::AddReservation {
            reservation_id: reservation_id.into(),
            kind: self.kind,
            provider: self.provider,
            number: self.number,
            from,
            to,
            departs_at,
            arrives_at,
            check_in,
            check_out,
            address: self.address,
            confirmation_code: self.confirmation_code,
            travellers: self.travellers,
            confirmed: true,
        }
    }
}

/// The first reservation a confirmation e-mail holds, or `None` when it
/// holds none (see the module's documentation for what is read).
pub fn parse_confirmation(subject: &str, body: &str) -> Option<ReservationDraft> {
    parse_confirmations(subject, body).into_iter().next()
}

/// Every reservation a confirmation e-mail holds (a return flight holds
/// two), in the order they appear: from its JSON-LD if it has any, else
/// from the plain-text form.
pub fn parse_confirmations(subject: &str, body: &str) -> Vec<ReservationDraft> {
    let mut nodes = Vec::new();
    for block in json_ld_blocks(body) {
        if let Some(value) = json_of(block) {
            nodes.push(value);
        }
    }
    let mut reservations = Vec::new();
    for value in &nodes {
        collect_reservations(value, &mut reservations);
    }
    if reservations.is_empty() {
        return plain_text_confirmation(subject, body).into_iter().collect();
    }
    reservations.into_iter().flat_map(drafts_of).collect()
}

/// The contents of `<script type="application/ld+json">` blocks.
fn json_ld_blocks(body: &str) -> Vec<&str> {
    // ASCII lower-casing keeps every byte offset, so offsets found in
    // `lower` cut `body` at the same (ASCII) places.
    let lower = body.to_ascii_lowercase();
    let mut blocks = Vec::new();
    let mut at = 0;
    while let Some(open) = lower[at..].find("<script") {
        let start = at + open;
        let Some(tag_len) = lower[start..].find('>') else {
            break;
        };
        let content_start = start + tag_len + 1;
        let Some(content_len) = lower[content_start..].find("</script") else {
            break;
        };
        let content_end = content_start + content_len;
        if lower[start..content_start].contains("application/ld+json") {
            blocks.push(&body[content_start..content_end]);
        }
        at = content_end;
    }
    blocks
}

/// A JSON-LD block as JSON, also when a mail client escaped its quotes.
fn json_of(block: &str) -> Option<Value> {
    let block = block.trim();
    let block = block
        .strip_prefix("<!--")
        .and_then(|rest| rest.strip_suffix("-->"))
        .unwrap_or(block);
    serde_json::from_str(block).ok().or_else(|| {
        let unescaped = block
            .replace("&quot;", "\"")
            .replace("&#34;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        serde_json::from_str(&unescaped).ok()
    })
}

/// The schema.org type name of a node (`FlightReservation` also for
/// `http://schema.org/FlightReservation`), the first one it names.
fn type_of(node: &Value) -> Option<&str> {
    let name = match node.get("@type")? {
        Value::String(name) => name.as_str(),
        Value::Array(names) => names.iter().find_map(Value::as_str)?,
        _ => return None,
    };
    name.rsplit(['/', ':', '#']).next()
}

const RESERVATION_TYPES: [&str; 4] = [
    "FlightReservation",
    "TrainReservation",
    "LodgingReservation",
    "RentalCarReservation",
];

/// The reservation nodes in a JSON-LD value: itself, the items of an array,
/// the nodes of an `@graph`.
fn collect_reservations<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => {
            for item in items {
                collect_reservations(item, out);
            }
        }
        Value::Object(fields) => {
            if let Some(graph) = fields.get("@graph") {
                collect_reservations(graph, out);
            }
            if type_of(value).is_some_and(|kind| RESERVATION_TYPES.contains(&kind)) {
                out.push(value);
            }
        }
        _ => {}
    }
}

/// A node's value as trimmed text (numbers too), `None` when blank.
fn text_of(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::String(text) => text.trim().to_owned(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// A thing's name: the text itself, or its `name`.
fn name_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Object(fields) => text_of(fields.get("name")),
        other => text_of(Some(other)),
    }
}

/// The items of a value that may be one item or an array of them.
fn items_of(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(value) => vec![value],
        None => Vec::new(),
    }
}

/// A postal address as one line: a text, or a `PostalAddress`.
fn address_of(value: Option<&Value>) -> Option<String> {
    let value = value?;
    if !value.is_object() {
        return text_of(Some(value));
    }
    let locality = [value.get("postalCode"), value.get("addressLocality")]
        .into_iter()
        .filter_map(text_of)
        .collect::<Vec<_>>()
        .join(" ");
    let parts: Vec<String> = [
        text_of(value.get("streetAddress")),
        (!locality.is_empty()).then_some(locality),
        text_of(value.get("addressRegion")),
        name_of(value.get("addressCountry")),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// A local time with its offset: RFC 3339, seconds optional, a space
/// allowed between date and time. Without an offset there is no instant.
fn local_time(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    let text = match (text.get(..10), text.get(10..11), text.get(11..)) {
        (Some(date), Some(" "), Some(time)) => format!("{date}T{time}"),
        _ => text.to_owned(),
    };
    if let Ok(time) = DateTime::parse_from_rfc3339(&text) {
        return Some(time);
    }
    let text = match text.strip_suffix(['Z', 'z']) {
        Some(rest) => format!("{rest}+00:00"),
        None => text,
    };
    [
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%dT%H:%M:%S%z",
    ]
    .iter()
    .find_map(|format| DateTime::parse_from_str(&text, format).ok())
}

/// A day: a date, or the local date of a date-time.
fn local_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim().get(..10)?, "%Y-%m-%d").ok()
}

/// The drafts of one reservation node (a flight reservation may hold
/// several flights).
fn drafts_of(node: &Value) -> Vec<ReservationDraft> {
    let cancelled = text_of(node.get("reservationStatus"))
        .is_some_and(|status| status.ends_with("ReservationCancelled"));
    if cancelled {
        return Vec::new();
    }
    let code =
        text_of(node.get("reservationNumber")).or_else(|| text_of(node.get("confirmationNumber")));
    let travellers: Vec<String> = items_of(node.get("underName"))
        .into_iter()
        .filter_map(|person| name_of(Some(person)))
        .collect();
    let draft = |kind, provider, number, schedule, address| ReservationDraft {
        kind,
        provider,
        number,
        schedule,
        confirmation_code: code.clone(),
        address,
        travellers: travellers.clone(),
    };
    let booked_with = name_of(node.get("provider")).or_else(|| name_of(node.get("broker")));
    match type_of(node) {
        Some("FlightReservation") => items_of(node.get("reservationFor"))
            .into_iter()
            .filter_map(|flight| {
                let airline = flight.get("airline");
                let carrier = airline.and_then(|a| text_of(a.get("iataCode")));
                let flight_number = text_of(flight.get("flightNumber"));
                let number = match (&carrier, flight_number) {
                    (Some(carrier), Some(number)) if number.chars().all(|c| c.is_ascii_digit()) => {
                        Some(format!("{carrier} {number}"))
                    }
                    (_, number) => number,
                };
                let provider = name_of(airline)
                    .or(carrier)
                    .or_else(|| booked_with.clone())
                    .or_else(|| number.clone())?;
                let schedule = journey(
                    place_of(flight.get("departureAirport")),
                    place_of(flight.get("arrivalAirport")),
                    flight.get("departureTime"),
                    flight.get("arrivalTime"),
                )?;
                Some(draft(
                    ReservationKind::Flight,
                    provider,
                    number,
                    schedule,
                    None,
                ))
            })
            .collect(),
        Some("TrainReservation") => items_of(node.get("reservationFor"))
            .into_iter()
            .filter_map(|train| {
                let number = text_of(train.get("trainNumber"));
                let provider = name_of(train.get("provider"))
                    .or_else(|| booked_with.clone())
                    .or_else(|| text_of(train.get("trainName")))
                    .or_else(|| number.clone())?;
                let schedule = journey(
                    name_of(train.get("departureStation")),
                    name_of(train.get("arrivalStation")),
                    train.get("departureTime"),
                    train.get("arrivalTime"),
                )?;
                Some(draft(
                    ReservationKind::Train,
                    provider,
                    number,
                    schedule,
                    None,
                ))
            })
            .collect(),
        Some("RentalCarReservation") => {
            let car = node.get("reservationFor");
            let provider = car
                .and_then(|car| name_of(car.get("rentalCompany")))
                .or_else(|| booked_with.clone())
                .or_else(|| car.and_then(|car| name_of(car.get("brand"))));
            let pick_up = node.get("pickupLocation");
            let drop_off = node.get("dropoffLocation");
            let schedule = journey(
                location_of(pick_up),
                location_of(drop_off),
                node.get("pickupTime"),
                node.get("dropoffTime"),
            );
            let address = pick_up.and_then(|place| address_of(place.get("address")));
            match (provider, schedule) {
                (Some(provider), Some(schedule)) => vec![draft(
                    ReservationKind::Car,
                    provider,
                    None,
                    schedule,
                    address,
                )],
                _ => Vec::new(),
            }
        }
        Some("LodgingReservation") => {
            let hotel = node.get("reservationFor");
            let provider = hotel.and_then(|hotel| name_of(hotel.get("name")));
            let address = hotel.and_then(|hotel| address_of(hotel.get("address")));
            let day = |time: &str, date: &str| {
                text_of(node.get(time))
                    .or_else(|| text_of(node.get(date)))
                    .and_then(|text| local_date(&text))
            };
            let stay = match (
                day("checkinTime", "checkinDate"),
                day("checkoutTime", "checkoutDate"),
            ) {
                (Some(check_in), Some(check_out)) if check_out > check_in => {
                    Some(ReservationSchedule::Stay {
                        check_in,
                        check_out,
                    })
                }
                _ => None,
            };
            match (provider, stay) {
                (Some(provider), Some(stay)) => {
                    vec![draft(ReservationKind::Hotel, provider, None, stay, address)]
                }
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// An airport or station: its IATA code, else its name.
fn place_of(value: Option<&Value>) -> Option<String> {
    value
        .and_then(|place| text_of(place.get("iataCode")))
        .or_else(|| name_of(value))
}

/// A car hire desk: its name, else its address.
fn location_of(value: Option<&Value>) -> Option<String> {
    name_of(value).or_else(|| value.and_then(|place| address_of(place.get("address"))))
}

/// A journey's schedule, when everything is there and arrival follows
/// departure.
fn journey(
    from: Option<String>,
    to: Option<String>,
    departs: Option<&Value>,
    arrives: Option<&Value>,
) -> Option<ReservationSchedule> {
    let departs_at = local_time(&text_of(departs)?)?;
    let arrives_at = local_time(&text_of(arrives)?)?;
    (arrives_at > departs_at).then_some(ReservationSchedule::Transport {
        from: from?,
        to: to?,
        departs_at,
        arrives_at,
    })
}

/// The plain-text form (see the module's documentation).
fn plain_text_confirmation(subject: &str, body: &str) -> Option<ReservationDraft> {
    let says_cancelled = |text: &str| {
        let text = text.to_lowercase();
        text.contains("cancelled") || text.contains("canceled") || text.starts_with("cancellation")
    };
    if says_cancelled(subject.trim()) {
        return None;
    }
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut kind_line = None;
    for line in body.lines() {
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        let key = key.trim().to_lowercase();
        let value = value.trim();
        // Longer than any name, code or place a trip takes: not a booking
        // detail (a quoted paragraph, or a line run together with others).
        if value.is_empty() || value.chars().count() > MAX_TEXT_CHARS {
            continue;
        }
        let kind = match key.as_str() {
            "flight" => Some(ReservationKind::Flight),
            "train" => Some(ReservationKind::Train),
            "hotel" => Some(ReservationKind::Hotel),
            "car" | "car hire" | "rental car" => Some(ReservationKind::Car),
            _ => None,
        };
        if let Some(kind) = kind {
            kind_line.get_or_insert((kind, value.to_owned()));
            continue;
        }
        fields.entry(key).or_default().push(value.to_owned());
    }
    let first = |keys: &[&str]| {
        keys.iter()
            .find_map(|key| fields.get(*key).and_then(|values| values.first().cloned()))
    };
    // A quoted e-mail header (`From: someone@example.com`) is no place.
    let place = |key: &str| {
        fields
            .get(key)
            .and_then(|values| values.iter().find(|value| !value.contains('@')).cloned())
    };
    if first(&["status"]).is_some_and(|status| says_cancelled(&status)) {
        return None;
    }
    let code = first(&[
        "confirmation",
        "confirmation code",
        "confirmation number",
        "booking reference",
    ])?;
    let (kind, named) = kind_line?;
    let travellers = ["traveller", "traveler", "passenger", "guest"]
        .iter()
        .flat_map(|key| fields.get(*key).cloned().unwrap_or_default())
        .collect();
    let address = first(&["address"]);
    let (provider, number, schedule) = match kind {
        ReservationKind::Hotel => {
            let check_in = local_date(&first(&["check-in", "checkin"])?)?;
            let check_out = local_date(&first(&["check-out", "checkout"])?)?;
            (check_out > check_in).then_some(())?;
            let stay = ReservationSchedule::Stay {
                check_in,
                check_out,
            };
            (named, None, stay)
        }
        ReservationKind::Car => {
            let schedule = plain_journey(place("from"), place("to"), &first)?;
            (named, None, schedule)
        }
        ReservationKind::Flight | ReservationKind::Train => {
            let schedule = plain_journey(place("from"), place("to"), &first)?;
            let provider = first(&["airline", "operator", "provider"])
                .or_else(|| named.split_whitespace().next().map(str::to_owned))
                .unwrap_or_else(|| named.clone());
            (provider, Some(named), schedule)
        }
    };
    Some(ReservationDraft {
        kind,
        provider,
        number,
        schedule,
        confirmation_code: Some(code),
        address,
        travellers,
    })
}

fn plain_journey(
    from: Option<String>,
    to: Option<String>,
    first: &impl Fn(&[&str]) -> Option<String>,
) -> Option<ReservationSchedule> {
    let departs_at = local_time(&first(&["departs", "departure", "pick-up", "pickup"])?)?;
    let arrives_at = local_time(&first(&["arrives", "arrival", "drop-off", "dropoff"])?)?;
    (arrives_at > departs_at).then_some(ReservationSchedule::Transport {
        from: from?,
        to: to?,
        departs_at,
        arrives_at,
    })
}
