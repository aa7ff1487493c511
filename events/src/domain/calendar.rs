//! Events of the calendar domain: a person's calendars, what is on them and
//! who comes.
//!
//! One aggregate, the calendar (`calendar-<id>`, e.g. `calendar-work`): its
//! settings (time zone, working hours, buffers, focus time) and its events
//! (meetings, appointments, flights put there by a saga, invitations
//! received).
//!
//! Times are kept as the person said them, a local date-time in an IANA
//! time zone, so that a weekly 09:00 meeting in London stays at 09:00 across
//! the change to summer time; beside them every event carries the UTC
//! instants they were resolved to when decided, so read models need no time
//! zone database.
//!
//! A second aggregate, the briefing (`briefing-<id>`), holds what the inbox
//! says about one occurrence of a meeting, prepared before it.
//!
//! Attendees' and organisers' e-mail addresses and names, and locations,
//! are personal data: they travel in the sealed part and read back empty
//! once erased.

use chrono::{DateTime, NaiveDateTime, NaiveTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DomainEvent;
use crate::ids::SubjectId;

/// A day of the week.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl From<Weekday> for chrono::Weekday {
    fn from(day: Weekday) -> Self {
        match day {
            Weekday::Monday => chrono::Weekday::Mon,
            Weekday::Tuesday => chrono::Weekday::Tue,
            Weekday::Wednesday => chrono::Weekday::Wed,
            Weekday::Thursday => chrono::Weekday::Thu,
            Weekday::Friday => chrono::Weekday::Fri,
            Weekday::Saturday => chrono::Weekday::Sat,
            Weekday::Sunday => chrono::Weekday::Sun,
        }
    }
}

impl From<chrono::Weekday> for Weekday {
    fn from(day: chrono::Weekday) -> Self {
        match day {
            chrono::Weekday::Mon => Weekday::Monday,
            chrono::Weekday::Tue => Weekday::Tuesday,
            chrono::Weekday::Wed => Weekday::Wednesday,
            chrono::Weekday::Thu => Weekday::Thursday,
            chrono::Weekday::Fri => Weekday::Friday,
            chrono::Weekday::Sat => Weekday::Saturday,
            chrono::Weekday::Sun => Weekday::Sunday,
        }
    }
}

/// A span of local time on one day of every week (`monday 09:00–17:00`),
/// for working hours and focus time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    /// The day.
    pub day: Weekday,
    /// When it starts, local time (`09:00`).
    pub start: NaiveTime,
    /// When it ends, local time, after `start` on the same day (`17:00`).
    pub end: NaiveTime,
}

impl WeeklyHours {
    /// The same hours Monday to Friday.
    pub fn weekdays(start: NaiveTime, end: NaiveTime) -> Vec<WeeklyHours> {
        [
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
        ]
        .into_iter()
        .map(|day| WeeklyHours { day, start, end })
        .collect()
    }
}

/// A calendar's settings were set (all of them at once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettingsSet {
    /// What the person calls the calendar (`Work`).
    pub name: String,
    /// Its IANA time zone (`Europe/London`): the zone of its working hours
    /// and focus time, and of events scheduled without one.
    pub time_zone: String,
    /// When the person works, in the calendar's zone; none means the
    /// calendar does not limit when things are scheduled.
    pub working_hours: Vec<WeeklyHours>,
    /// Minutes kept free before each event.
    pub buffer_before_minutes: u32,
    /// Minutes kept free after each event.
    pub buffer_after_minutes: u32,
    /// Time kept for focused work, in the calendar's zone; the scheduler
    /// avoids it.
    pub focus_blocks: Vec<WeeklyHours>,
}

impl DomainEvent for CalendarSettingsSet {
    const EVENT_TYPE: &'static str = "CalendarSettingsSet";
    const SCHEMA_VERSION: u16 = 1;
}

/// Someone invited to an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarAttendee {
    /// Their e-mail address, lower-cased: how their answers are matched.
    pub email: String,
    /// Their name, if known.
    pub name: Option<String>,
}

/// A person's answer to an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rsvp {
    /// They come.
    Accepted,
    /// They do not.
    Declined,
    /// They might.
    Tentative,
}

/// An event was put on the calendar: one the owner organises, or an
/// invitation they received (`invitation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarEventScheduled {
    /// Chosen by the caller; a saga derives it from what it mirrors.
    pub event_id: String,
    /// What it is (`Team sync`).
    pub title: String,
    /// When it starts, local time in `time_zone`.
    pub start: NaiveDateTime,
    /// When it ends, local time in `end_time_zone`.
    pub end: NaiveDateTime,
    /// The IANA zone of `start` (and of the recurrence).
    pub time_zone: String,
    /// The IANA zone of `end` (a flight lands in another zone).
    pub end_time_zone: String,
    /// `start` as a UTC instant (a fall-back hour read as its earlier one).
    pub starts_at: DateTime<Utc>,
    /// `end` as a UTC instant.
    pub ends_at: DateTime<Utc>,
    /// The RFC 5545 recurrence rule (`FREQ=WEEKLY;BYDAY=MO`), if it repeats;
    /// every occurrence lasts as long as the first.
    pub recurrence: Option<String>,
    /// Who is invited (personal).
    #[serde(default)]
    pub attendees: Vec<CalendarAttendee>,
    /// Where (personal).
    #[serde(default)]
    pub location: Option<String>,
    /// Who sent the invitation, when it is one (personal).
    #[serde(default)]
    pub organizer: Option<String>,
    /// Whether it is an invitation the owner received rather than an event
    /// they organise.
    pub invitation: bool,
    /// Held tentatively (still counts as busy).
    pub tentative: bool,
    /// What it mirrors, for sagas (`travel:<trip>/<reservation>`).
    pub source: Option<String>,
    /// The events it overlaps, buffers included, when it was forced (or is
    /// an invitation) despite them.
    pub double_booked_with: Vec<String>,
}

impl DomainEvent for CalendarEventScheduled {
    const EVENT_TYPE: &'static str = "CalendarEventScheduled";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["attendees", "location", "organizer"];

    fn subjects(&self) -> Vec<SubjectId> {
        let emails = self
            .attendees
            .iter()
            .map(|attendee| attendee.email.as_str())
            .chain(self.organizer.as_deref());
        contacts(emails)
    }
}

/// An event (a whole series, if it repeats) moved. The attendees' answers
/// no longer hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarEventRescheduled {
    /// The event.
    pub event_id: String,
    /// Its new start, local time in `time_zone`.
    pub start: NaiveDateTime,
    /// Its new end, local time in `end_time_zone`.
    pub end: NaiveDateTime,
    /// The IANA zone of `start`.
    pub time_zone: String,
    /// The IANA zone of `end`.
    pub end_time_zone: String,
    /// `start` as a UTC instant.
    pub starts_at: DateTime<Utc>,
    /// `end` as a UTC instant.
    pub ends_at: DateTime<Utc>,
    /// The events it now overlaps, when it was forced despite them.
    pub double_booked_with: Vec<String>,
}

impl DomainEvent for CalendarEventRescheduled {
    const EVENT_TYPE: &'static str = "CalendarEventRescheduled";
    const SCHEMA_VERSION: u16 = 1;
}

/// An event (a whole series, if it repeats) was cancelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarEventCancelled {
    /// The event.
    pub event_id: String,
}

impl DomainEvent for CalendarEventCancelled {
    const EVENT_TYPE: &'static str = "CalendarEventCancelled";
    const SCHEMA_VERSION: u16 = 1;
}

/// One occurrence of a repeating event was cancelled; the series goes on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarOccurrenceCancelled {
    /// The repeating event.
    pub event_id: String,
    /// The occurrence's start, local time in the event's zone.
    pub occurrence_start: NaiveDateTime,
    /// The same as a UTC instant.
    pub starts_at: DateTime<Utc>,
}

impl DomainEvent for CalendarOccurrenceCancelled {
    const EVENT_TYPE: &'static str = "CalendarOccurrenceCancelled";
    const SCHEMA_VERSION: u16 = 1;
}

/// An attendee answered the owner's invitation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarRsvpRecorded {
    /// The event.
    pub event_id: String,
    /// The attendee's e-mail address, lower-cased (personal).
    #[serde(default)]
    pub email: String,
    /// Their answer.
    pub response: Rsvp,
}

impl DomainEvent for CalendarRsvpRecorded {
    const EVENT_TYPE: &'static str = "CalendarRsvpRecorded";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["email"];

    fn subjects(&self) -> Vec<SubjectId> {
        contacts([self.email.as_str()])
    }
}

/// The owner answered an invitation they received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarInviteResponded {
    /// The invitation.
    pub event_id: String,
    /// The owner's answer.
    pub response: Rsvp,
    /// The events it overlaps, when accepted despite them.
    pub double_booked_with: Vec<String>,
}

impl DomainEvent for CalendarInviteResponded {
    const EVENT_TYPE: &'static str = "CalendarInviteResponded";
    const SCHEMA_VERSION: u16 = 1;
}

/// The time came to brief the owner on one occurrence of an event with
/// other people in it: a timer set for the lead time before it fired, and
/// the event still starts then. The meeting briefing saga gathers the
/// related inbox threads for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarBriefingRequested {
    /// The event.
    pub event_id: String,
    /// What it is.
    pub title: String,
    /// When the occurrence to brief starts.
    pub starts_at: DateTime<Utc>,
    /// Who is invited (personal).
    #[serde(default)]
    pub attendees: Vec<CalendarAttendee>,
    /// Who sent the invitation, when it is one (personal).
    #[serde(default)]
    pub organizer: Option<String>,
    /// When the next occurrence starts, if the event repeats: the next
    /// briefing's timer is set from it.
    pub next_starts_at: Option<DateTime<Utc>>,
}

impl DomainEvent for CalendarBriefingRequested {
    const EVENT_TYPE: &'static str = "CalendarBriefingRequested";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["attendees", "organizer"];

    fn subjects(&self) -> Vec<SubjectId> {
        let emails = self
            .attendees
            .iter()
            .map(|attendee| attendee.email.as_str())
            .chain(self.organizer.as_deref());
        contacts(emails)
    }
}

// --------------------------------------------------------------- briefing

/// One inbox conversation a briefing names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BriefingThread {
    /// The mailbox it is in.
    pub account: String,
    /// The conversation.
    pub thread_id: String,
    /// The subject line of its newest message, if known.
    pub subject: Option<String>,
    /// The addresses its messages came from, lower-cased.
    pub correspondents: Vec<String>,
    /// How many of its messages the inbox holds within the briefing's
    /// window.
    pub messages: u32,
    /// When its newest message arrived.
    pub last_message_at: DateTime<Utc>,
    /// Whether its newest message asks for a reply that was not sent.
    pub awaiting_reply: bool,
}

/// A briefing for one occurrence of a meeting was prepared: the inbox
/// threads with its people, newest first (none is a briefing too: there is
/// nothing to catch up on). The planner summarises it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BriefingPrepared {
    /// The calendar the meeting is on (`calendar-main`).
    pub calendar: String,
    /// The meeting, as the calendar names it.
    pub event_id: String,
    /// What it is.
    pub title: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// The inbox was searched from this instant on.
    pub since: DateTime<Utc>,
    /// Who is in it: the attendees and the organiser (personal).
    #[serde(default)]
    pub attendees: Vec<CalendarAttendee>,
    /// The related threads, newest first (personal: subjects and
    /// correspondents).
    #[serde(default)]
    pub threads: Vec<BriefingThread>,
    /// How many threads it names (kept when the threads are erased).
    pub thread_count: u32,
    /// How many of them await a reply.
    pub awaiting_replies: u32,
}

impl DomainEvent for BriefingPrepared {
    const EVENT_TYPE: &'static str = "BriefingPrepared";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["attendees", "threads"];

    fn subjects(&self) -> Vec<SubjectId> {
        let emails = self
            .attendees
            .iter()
            .map(|attendee| attendee.email.as_str())
            .chain(
                self.threads
                    .iter()
                    .flat_map(|thread| thread.correspondents.iter().map(String::as_str)),
            );
        contacts(emails)
    }
}

/// `contact:<email>` subjects, skipping empty and unusable addresses.
fn contacts<'a>(emails: impl IntoIterator<Item = &'a str>) -> Vec<SubjectId> {
    let mut subjects: Vec<SubjectId> = Vec::new();
    for email in emails {
        let email = email.trim().to_lowercase();
        if email.is_empty() {
            continue;
        }
        if let Ok(subject) = SubjectId::parse(format!("contact:{email}"))
            && !subjects.contains(&subject)
        {
            subjects.push(subject);
        }
    }
    subjects
}

crate::domain_events! {
    /// What a calendar stream holds.
    pub enum CalendarEvent {
        /// The settings were set.
        SettingsSet(CalendarSettingsSet),
        /// An event was put on the calendar.
        Scheduled(CalendarEventScheduled),
        /// An event moved.
        Rescheduled(CalendarEventRescheduled),
        /// An event was cancelled.
        Cancelled(CalendarEventCancelled),
        /// One occurrence of a repeating event was cancelled.
        OccurrenceCancelled(CalendarOccurrenceCancelled),
        /// An attendee answered.
        RsvpRecorded(CalendarRsvpRecorded),
        /// The owner answered an invitation.
        InviteResponded(CalendarInviteResponded),
        /// The time came to brief the owner on a meeting.
        BriefingRequested(CalendarBriefingRequested),
    }
}

crate::domain_events! {
    /// What a briefing stream holds.
    pub enum BriefingEvent {
        /// The briefing was prepared (again, if the threads changed).
        Prepared(BriefingPrepared),
    }
}

/// The JSON Schema of every event type of the domain.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    use super::EventSet as _;
    let mut schemas = CalendarEvent::schemas();
    schemas.extend(BriefingEvent::schemas());
    schemas
}
