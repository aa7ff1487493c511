//! `confirmation_emails`: a booking confirmation e-mail becomes a trip
//! holding its reservations.
//!
//! On [`MessageReceived`] in `message-<id>` it reads the subject and body
//! with [`parse_confirmations`]. An e-mail holding reservations becomes the
//! trip `trip-mail-<message id>` ([`ConfirmationEmails::trip_stream`]):
//! first `PlanTrip` (key `plan`), then, for the `i`-th reservation,
//! `AddReservation` under the id `mail-<i>`, confirmed (key
//! `reservation-<i>`). The runner sends them in that order, so the trip is
//! planned before its reservations arrive.
//!
//! The plan is a function of the reservations alone, so a repeat is the
//! same `PlanTrip`, which the trip takes as no change: it goes to the
//! `to` of the earliest departure (else the first hotel), is titled
//! `Trip to <destination>`, and spans the earliest to the latest local day
//! of its reservations. Each e-mail makes its own trip; joining the
//! outbound and return e-mails of one journey is left to the person.
//!
//! The subject and body are personal: once erased, the e-mail reads as
//! empty and nothing is sent.

use chrono::NaiveDate;
use serde_json::{Map, Value, json};
use steward_events::domain::DomainEvent as _;
use steward_events::domain::inbox::MessageReceived;
use steward_events::{RecordedEvent, StreamId};

use super::ids::token;
use super::{Reaction, Saga, decode};
use crate::aggregate::Aggregate as _;
use crate::inbox::Message;
use crate::travel::{
    ReservationDraft, ReservationSchedule, Trip, TripCommand, parse_confirmations,
};

/// The longest title or destination a trip takes.
const MAX_TEXT_CHARS: usize = 200;

/// Turns confirmation e-mails into trips.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConfirmationEmails;

impl ConfirmationEmails {
    /// The trip an e-mail's reservations go to: `trip-mail-<message id>`,
    /// the id made safe as a token (letters, digits, `-` and escapes).
    pub fn trip_stream(message_id: &str) -> Option<StreamId> {
        StreamId::new(Trip::CATEGORY, format!("mail-{}", token(message_id))).ok()
    }

    /// The reservation id of the `index`-th reservation of an e-mail.
    pub fn reservation_id(index: usize) -> String {
        format!("mail-{index}")
    }
}

impl Saga for ConfirmationEmails {
    fn name(&self) -> &'static str {
        "confirmation_emails"
    }

    fn reacts_to(&self) -> &'static [&'static str] {
        &[MessageReceived::EVENT_TYPE]
    }

    fn react(&self, event: &RecordedEvent) -> Vec<Reaction> {
        if event.stream_id.category() != Message::CATEGORY {
            return Vec::new();
        }
        let Some(received) = decode::<MessageReceived>(event) else {
            return Vec::new();
        };
        let drafts = parse_confirmations(&received.subject, &received.body_text);
        let (Some(trip), Some(plan)) = (Self::trip_stream(event.stream_id.id()), plan_of(&drafts))
        else {
            return Vec::new();
        };
        let mut reactions = vec![Reaction::new("plan", trip.clone(), "PlanTrip", plan)];
        for (index, draft) in drafts.into_iter().enumerate() {
            let command = draft.into_command(Self::reservation_id(index));
            if let Some(data) = add_reservation_data(command) {
                reactions.push(Reaction::new(
                    format!("reservation-{index}"),
                    trip.clone(),
                    "AddReservation",
                    data,
                ));
            }
        }
        reactions
    }
}

/// The `PlanTrip` data of the reservations, if there are any.
fn plan_of(drafts: &[ReservationDraft]) -> Option<Value> {
    let mut days: Vec<NaiveDate> = Vec::new();
    for draft in drafts {
        match &draft.schedule {
            ReservationSchedule::Transport {
                departs_at,
                arrives_at,
                ..
            } => days.extend([departs_at.date_naive(), arrives_at.date_naive()]),
            ReservationSchedule::Stay {
                check_in,
                check_out,
            } => days.extend([*check_in, *check_out]),
        }
    }
    let starts_on = days.iter().min()?;
    let ends_on = days.iter().max()?;
    let first_journey = drafts
        .iter()
        .filter_map(|draft| match &draft.schedule {
            ReservationSchedule::Transport { to, departs_at, .. } => Some((departs_at, to)),
            ReservationSchedule::Stay { .. } => None,
        })
        .min_by_key(|(departs_at, _)| **departs_at);
    let destination = match first_journey {
        Some((_, to)) => to.clone(),
        None => drafts.first()?.provider.clone(),
    };
    let destination = cut(destination.trim());
    Some(json!({
        "title": cut(&format!("Trip to {destination}")),
        "destination": destination,
        "starts_on": starts_on,
        "ends_on": ends_on,
    }))
}

/// The data of an `AddReservation`, without the fields it leaves out.
fn add_reservation_data(command: TripCommand) -> Option<Value> {
    let TripCommand::AddReservation {
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
    } = command
    else {
        return None;
    };
    let data = json!({
        "reservation_id": reservation_id,
        "kind": kind,
        "provider": provider,
        "number": number,
        "from": from,
        "to": to,
        "departs_at": departs_at,
        "arrives_at": arrives_at,
        "check_in": check_in,
        "check_out": check_out,
        "address": address,
        "confirmation_code": confirmation_code,
        "travellers": travellers,
        "confirmed": confirmed,
    });
    let Value::Object(fields) = data else {
        return None;
    };
    let given: Map<String, Value> = fields
        .into_iter()
        .filter(|(_, value)| !value.is_null())
        .collect();
    Some(Value::Object(given))
}

/// `text` cut to what a trip takes.
fn cut(text: &str) -> String {
    text.chars().take(MAX_TEXT_CHARS).collect()
}
