//! Sagas: process managers that connect the domains.
//!
//! A saga reads the global log and answers some events with commands to
//! other aggregates (a confirmed reservation goes on the calendar, low stock
//! onto the shopping list). Its reaction is a pure function of the event,
//! tested like an aggregate: given event, then commands. The saga runner in
//! `runtime/` sends each reaction as a command whose id is derived from the
//! saga, the triggering event and the reaction's key (so a reaction sent
//! again after a restart is recognised), with the triggering event as its
//! causation, and records what it did in the saga's own stream, so the audit
//! trail shows why every command was sent.
//!
//! Steward's sagas ([`steward_sagas`]):
//! - [`travel_calendar`]: confirmed reservations onto the calendar, and off
//!   it when cancelled;
//! - [`confirmation_emails`]: a confirmation e-mail becomes a trip with its
//!   reservations;
//! - [`low_stock`]: a pantry item running low goes on the shopping list;
//! - [`maintenance_calendar`]: a maintenance task falling due gets a
//!   tentative slot on the calendar;
//! - [`timers`]: every due instant a domain records becomes a timer that
//!   sends the domain's timer command then;
//! - [`plan_steps`]: what the actuator did for a plan's step goes back to
//!   the plan;
//! - [`reply_mail`]: a reply asked to be sent goes to the actuator as a
//!   mail, and whether it went goes back to the message;
//! - [`meeting_briefing`]: a lead time before each meeting with other
//!   people in it, a briefing names the inbox threads with them (not in
//!   [`steward_sagas`]: it reads the inbox, so its runner needs the read
//!   models).
//!
//! A reaction depends on nothing but the event, so what a saga needs must
//! be in the event; where an event lacks it, the saga does what it can
//! without it (see each saga's documentation). A saga that needs what only
//! a read model knows asks for it with [`Saga::lookup`]: the runner answers
//! the [`Lookup`] and hands the [`Answer`] to [`Saga::react_with`], which
//! stays a pure function of the event and the answer. Erased personal fields read
//! as their defaults. Reactions may carry personal data on to the aggregate
//! that keeps it (a reservation's travellers and address, an event's
//! location), so whoever records a reaction keeps its data sealed or leaves
//! it out.

use chrono::{DateTime, Utc};
use serde_json::Value;
use steward_events::domain::{DecodeError, DomainEvent, decode_tolerant};
use steward_events::{RecordedEvent, StreamId};

mod ids;

pub mod confirmation_emails;
pub mod low_stock;
pub mod maintenance_calendar;
pub mod meeting_briefing;
pub mod plan_steps;
pub mod reply_mail;
pub mod timers;
pub mod travel_calendar;

pub use confirmation_emails::ConfirmationEmails;
pub use low_stock::LowStock;
pub use maintenance_calendar::MaintenanceCalendar;
pub use meeting_briefing::{BriefingConfig, MeetingBriefing};
pub use plan_steps::PlanSteps;
pub use reply_mail::ReplyMail;
pub use timers::Timers;
pub use travel_calendar::TravelCalendar;

/// One command a saga sends in answer to an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    /// Tells apart the reactions to one event (`list`, `plan`, `leg-0`);
    /// part of the command id, so it must not depend on anything but the
    /// event.
    pub key: String,
    /// The aggregate to command.
    pub stream_id: StreamId,
    /// The command.
    pub command_type: String,
    /// Its data.
    pub data: Value,
}

impl Reaction {
    /// A reaction under `key`.
    pub fn new(
        key: impl Into<String>,
        stream_id: StreamId,
        command_type: impl Into<String>,
        data: Value,
    ) -> Self {
        Self {
            key: key.into(),
            stream_id,
            command_type: command_type.into(),
            data,
        }
    }

    /// The command id the runner sends the reaction under.
    pub fn command_id(&self, saga: &str, trigger: &RecordedEvent) -> String {
        format!("saga:{saga}:{}:{}", trigger.event_id, self.key)
    }
}

/// A process manager.
pub trait Saga: Send + Sync + 'static {
    /// Its name (`low_stock`), which names its stream (`saga-low_stock`)
    /// and its worker's lease.
    fn name(&self) -> &'static str;

    /// The event types it answers; the runner hands it no others.
    fn reacts_to(&self) -> &'static [&'static str];

    /// The commands that answer `event` (none if it needs no answer). An
    /// event that does not decode gets none; the runner records that.
    fn react(&self, event: &RecordedEvent) -> Vec<Reaction>;

    /// What the saga must know beyond `event` before it reacts to it, if
    /// anything (most sagas: nothing). The runner answers it from the read
    /// models and calls [`Saga::react_with`] instead of [`Saga::react`].
    fn lookup(&self, _event: &RecordedEvent) -> Option<Lookup> {
        None
    }

    /// The commands that answer `event`, given the answer to its
    /// [`Saga::lookup`].
    fn react_with(&self, event: &RecordedEvent, _answer: &Answer) -> Vec<Reaction> {
        self.react(event)
    }
}

/// A question a saga asks of the read models before it reacts.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The inbox threads with any of some correspondents.
    InboxThreads(ThreadsQuery),
}

/// Which inbox threads to find: those with a message from one of
/// `correspondents` received from `since` on.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadsQuery {
    /// The addresses, lower-cased.
    pub correspondents: Vec<String>,
    /// The earliest message that counts.
    pub since: DateTime<Utc>,
    /// The most threads wanted, newest first.
    pub limit: usize,
}

/// The read models' answer to a [`Lookup`].
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The threads found, newest first.
    InboxThreads(Vec<InboxThread>),
}

/// One inbox conversation, as the inbox read model knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxThread {
    /// The mailbox it is in.
    pub account: String,
    /// The conversation.
    pub thread_id: String,
    /// The subject line of its newest message, unless erased.
    pub subject: Option<String>,
    /// The addresses its messages (since the query's `since`) came from,
    /// lower-cased; erased ones left out.
    pub correspondents: Vec<String>,
    /// How many of its messages arrived since the query's `since`.
    pub messages: u32,
    /// When its newest message arrived.
    pub last_message_at: DateTime<Utc>,
    /// Whether its newest message was triaged as needing a reply (or
    /// urgent) and no reply to it was sent.
    pub awaiting_reply: bool,
}

/// Where the sagas send what they send.
#[derive(Debug, Clone, PartialEq)]
pub struct SagaConfig {
    /// The calendar that travel and maintenance go on (`calendar-main`).
    pub calendar: StreamId,
}

impl Default for SagaConfig {
    fn default() -> Self {
        Self {
            // A stream id is only ever made by parsing; this one is a
            // constant that parses (a test says so), so the error arm
            // cannot be reached.
            calendar: StreamId::new("calendar", "main")
                .unwrap_or_else(|_| unreachable!("`calendar-main` is a valid stream id")),
        }
    }
}

/// Every saga of Steward, configured.
pub fn steward_sagas(config: &SagaConfig) -> Vec<Box<dyn Saga>> {
    vec![
        Box::new(TravelCalendar::new(config.calendar.clone())),
        Box::new(ConfirmationEmails),
        Box::new(LowStock),
        Box::new(MaintenanceCalendar::new(config.calendar.clone())),
        Box::new(Timers),
        Box::new(PlanSteps),
        Box::new(ReplyMail),
    ]
}

/// Reads `event` as `E`. Personal parts arrive plain; one that was erased
/// (or is still sealed) leaves the personal fields at their defaults, so a
/// saga still does what it can without them.
pub(crate) fn decode<E: DomainEvent>(event: &RecordedEvent) -> Option<E> {
    match event.to_domain::<E>() {
        Ok(decoded) => Some(decoded),
        Err(DecodeError::PersonalUnavailable { .. }) => decode_tolerant::<E>(event).ok(),
        Err(_) => None,
    }
}
