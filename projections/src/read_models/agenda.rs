//! The agenda: what is on the person's calendars (all of them) and their
//! confirmed appointments, by day in the person's time zone, and free/busy
//! over any range of time.
//!
//! Each event is stored with the UTC instants the calendar resolved it to
//! (so a flight leaving London at 09:00 and landing in New York at 12:00
//! local is one span of time) and indexed by the UTC days it touches. The
//! person's zone, given when the agenda is made, is applied when reading:
//! their day is midnight to midnight in their zone, so an event from 23:30
//! to 00:30 is on two of their days, and one moved past midnight changes
//! day. Keeping the zone out of the tables means a person who moves zone
//! reads the same tables at once, with no rebuild. A repeating event is
//! kept as its series (rule, first occurrence, length) and expanded in its
//! own zone when read, as the calendar expands it: a weekly 09:00 in London
//! stays at 09:00 London time across a change of clocks, whatever the
//! person's zone. Cancelled occurrences are skipped; cancelled events,
//! appointments called off and declined invitations are off the agenda and
//! never busy.
//!
//! Free/busy takes the person's calendars together, so a reader sees a
//! meeting on the work calendar overlapping a dentist appointment or a
//! flight on the home calendar: [`FreeBusy::double_bookings`].
//!
//! Attendees, organisers, locations, attendees' answers and everything
//! about an appointment but its time are personal: each is dropped when a
//! subject of the event that wrote it is erased.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{RRule, RRuleSet, Unvalidated};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use steward_events::RecordedEvent;
use steward_events::domain::appointments::AppointmentEvent;
use steward_events::domain::calendar::{
    CalendarAttendee, CalendarEvent, CalendarEventRescheduled, CalendarEventScheduled, Rsvp,
    Weekday, WeeklyHours,
};

use crate::db::{Dialect, ReadDb};
use crate::error::{ApplyError, ProjectionError};
use crate::projection::{ApplyContext, Projection};
use crate::read_models::sql::{
    day_text, decode_set, delete_where, erased_subject, flag, forget_row, forget_subject,
    from_json, from_name, instant, json_text, local, local_text, millis, name_of, personal,
    personal_readable, placeholders, remember_subjects, rows_of_subject, subjects_table,
};
use crate::tables::Tables;

/// The agenda projection, for a person in one time zone.
#[derive(Debug, Clone, Copy)]
pub struct Agenda {
    zone: Tz,
}

impl Agenda {
    /// The agenda of a person living in `zone`: its days are their days.
    pub fn new(zone: Tz) -> Self {
        Self { zone }
    }

    /// The person's time zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }
}

impl Default for Agenda {
    fn default() -> Self {
        Self::new(Tz::UTC)
    }
}

const ITEMS: &str = "agenda_items";
const DAYS: &str = "agenda_days";
const EXCEPTIONS: &str = "agenda_exceptions";
const RESPONSES: &str = "agenda_responses";
const CALENDARS: &str = "agenda_calendars";
const SUBJECTS: &str = "agenda_subjects";

/// Attendees, organiser and place of a calendar event.
const PART_EVENT: &str = "event";
/// An appointment's purpose and provider.
const PART_APPOINTMENT: &str = "appointment";
/// An attendee's answer.
const PART_RSVP: &str = "rsvp";

/// The most days one item is indexed under (a calendar event lasts at most
/// 31; this only bounds what a malformed event could cost).
const MAX_INDEXED_DAYS: usize = 400;

const KIND_CALENDAR: &str = "calendar_event";
const KIND_APPOINTMENT: &str = "appointment";

#[async_trait]
impl Projection for Agenda {
    fn name(&self) -> &'static str {
        "agenda"
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &[ITEMS, DAYS, EXCEPTIONS, RESPONSES, CALENDARS, SUBJECTS]
    }

    fn create(&self, _dialect: Dialect, tables: &Tables) -> Vec<String> {
        let items = tables.name(ITEMS);
        let days = tables.name(DAYS);
        let mut statements = vec![
            format!(
                "CREATE TABLE {items} (
                    item_key TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    calendar TEXT,
                    item_id TEXT NOT NULL,
                    title TEXT,
                    starts_at_ms BIGINT NOT NULL,
                    ends_at_ms BIGINT NOT NULL,
                    start_local TEXT,
                    time_zone TEXT,
                    recurrence TEXT,
                    tentative BIGINT NOT NULL,
                    invitation BIGINT NOT NULL,
                    own_response TEXT,
                    attendees TEXT,
                    location TEXT,
                    organizer TEXT,
                    provider TEXT,
                    source TEXT,
                    double_booked_with TEXT NOT NULL
                )"
            ),
            format!(
                "CREATE INDEX {} ON {items} (recurrence, starts_at_ms)",
                tables.name(&format!("{ITEMS}_series"))
            ),
            format!(
                "CREATE TABLE {days} (
                    day TEXT NOT NULL,
                    item_key TEXT NOT NULL,
                    PRIMARY KEY (day, item_key)
                )"
            ),
            format!(
                "CREATE INDEX {} ON {days} (item_key)",
                tables.name(&format!("{DAYS}_item"))
            ),
            format!(
                "CREATE TABLE {} (
                    item_key TEXT NOT NULL,
                    occurrence_local TEXT NOT NULL,
                    PRIMARY KEY (item_key, occurrence_local)
                )",
                tables.name(EXCEPTIONS)
            ),
            format!(
                "CREATE TABLE {responses} (
                    response_key TEXT PRIMARY KEY,
                    item_key TEXT NOT NULL,
                    email TEXT NOT NULL,
                    response TEXT NOT NULL
                )",
                responses = tables.name(RESPONSES)
            ),
            format!(
                "CREATE INDEX {} ON {} (item_key)",
                tables.name(&format!("{RESPONSES}_item")),
                tables.name(RESPONSES)
            ),
            format!(
                "CREATE TABLE {} (
                    calendar TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    time_zone TEXT NOT NULL
                )",
                tables.name(CALENDARS)
            ),
        ];
        statements.extend(subjects_table(tables, SUBJECTS));
        statements
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError> {
        if let Some(subject) = erased_subject(event)? {
            return forget(connection, cx.tables, &subject).await;
        }
        if let Some(calendar_event) = decode_set::<CalendarEvent>(event)? {
            return self
                .apply_calendar(connection, cx, event, calendar_event)
                .await;
        }
        if let Some(appointment_event) = decode_set::<AppointmentEvent>(event)? {
            return self
                .apply_appointment(connection, cx, event, appointment_event)
                .await;
        }
        Ok(())
    }
}

impl Agenda {
    async fn apply_calendar(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        event: &RecordedEvent,
        calendar_event: CalendarEvent,
    ) -> Result<(), ApplyError> {
        let calendar = event.stream_id.as_str();
        let items = cx.tables.name(ITEMS);
        let subjects = cx.tables.name(SUBJECTS);
        match calendar_event {
            CalendarEvent::SettingsSet(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {} (calendar, name, time_zone) VALUES ($1, $2, $3)
                     ON CONFLICT (calendar) DO UPDATE SET name = excluded.name,
                        time_zone = excluded.time_zone",
                    cx.tables.name(CALENDARS)
                )))
                .bind(calendar)
                .bind(&e.name)
                .bind(&e.time_zone)
                .execute(&mut *connection)
                .await?;
            }
            CalendarEvent::Scheduled(e) => {
                let key = item_key(calendar, &e.event_id);
                remove_item(connection, cx.tables, &key).await?;
                insert_scheduled(connection, cx.tables, calendar, &key, event, &e).await?;
                remember_subjects(connection, &subjects, PART_EVENT, &key, event).await?;
                if e.recurrence.is_none() {
                    index_days(connection, cx.tables, &key, e.starts_at, e.ends_at).await?;
                }
            }
            CalendarEvent::Rescheduled(e) => {
                let key = item_key(calendar, &e.event_id);
                self.reschedule(connection, cx.tables, &key, &e).await?;
            }
            CalendarEvent::Cancelled(e) => {
                remove_item(connection, cx.tables, &item_key(calendar, &e.event_id)).await?;
            }
            CalendarEvent::OccurrenceCancelled(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {} (item_key, occurrence_local) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    cx.tables.name(EXCEPTIONS)
                )))
                .bind(item_key(calendar, &e.event_id))
                .bind(local_text(e.occurrence_start))
                .execute(&mut *connection)
                .await?;
            }
            CalendarEvent::RsvpRecorded(e) => {
                let email = e.email.trim().to_lowercase();
                if !personal_readable(event) || email.is_empty() {
                    return Ok(());
                }
                let key = item_key(calendar, &e.event_id);
                let response_key = format!("{key} {email}");
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {} (response_key, item_key, email, response)
                     SELECT $1, $2, $3, $4 WHERE EXISTS
                        (SELECT 1 FROM {items} WHERE item_key = $2)
                     ON CONFLICT (response_key) DO UPDATE SET response = excluded.response",
                    cx.tables.name(RESPONSES)
                )))
                .bind(&response_key)
                .bind(&key)
                .bind(&email)
                .bind(name_of(&e.response)?)
                .execute(&mut *connection)
                .await?;
                remember_subjects(connection, &subjects, PART_RSVP, &response_key, event).await?;
            }
            CalendarEvent::InviteResponded(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {items} SET own_response = $2, double_booked_with = $3
                     WHERE item_key = $1"
                )))
                .bind(item_key(calendar, &e.event_id))
                .bind(name_of(&e.response)?)
                .bind(json_text(&e.double_booked_with)?)
                .execute(&mut *connection)
                .await?;
            }
            // A briefing asked for changes nothing on the agenda.
            CalendarEvent::BriefingRequested(_) => {}
        }
        Ok(())
    }

    async fn apply_appointment(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        event: &RecordedEvent,
        appointment_event: AppointmentEvent,
    ) -> Result<(), ApplyError> {
        let key = event.stream_id.as_str();
        match appointment_event {
            AppointmentEvent::Confirmed(e) => {
                remove_item(connection, cx.tables, key).await?;
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {} (item_key, kind, item_id, title, starts_at_ms, ends_at_ms,
                        tentative, invitation, provider, double_booked_with)
                     VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7, '[]')",
                    cx.tables.name(ITEMS)
                )))
                .bind(key)
                .bind(KIND_APPOINTMENT)
                .bind(event.stream_id.id())
                .bind(personal(event, e.purpose.clone()))
                .bind(millis(e.starts_at))
                .bind(millis(e.ends_at))
                .bind(personal(event, e.provider_name.clone()))
                .execute(&mut *connection)
                .await?;
                remember_subjects(
                    connection,
                    &cx.tables.name(SUBJECTS),
                    PART_APPOINTMENT,
                    key,
                    event,
                )
                .await?;
                index_days(connection, cx.tables, key, e.starts_at, e.ends_at).await?;
            }
            AppointmentEvent::Cancelled(_)
            | AppointmentEvent::Declined(_)
            | AppointmentEvent::RequestExpired(_) => {
                remove_item(connection, cx.tables, key).await?;
            }
            AppointmentEvent::Requested(_) | AppointmentEvent::TimeProposed(_) => {}
        }
        Ok(())
    }

    /// Moves an event (a whole series): its times, its days, its cancelled
    /// occurrences with it; the attendees' and the owner's answers no longer
    /// hold.
    async fn reschedule(
        &self,
        connection: &mut AnyConnection,
        tables: &Tables,
        key: &str,
        e: &CalendarEventRescheduled,
    ) -> Result<(), ApplyError> {
        let items = tables.name(ITEMS);
        let exceptions = tables.name(EXCEPTIONS);
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT start_local, recurrence FROM {items} WHERE item_key = $1"
        )))
        .bind(key)
        .fetch_optional(&mut *connection)
        .await?;
        let Some(row) = row else {
            return Ok(());
        };
        let old_start: Option<String> = row.try_get("start_local")?;
        let recurrence: Option<String> = row.try_get("recurrence")?;
        if let Some(old_start) = old_start {
            let shift = e.start - local(&old_start)?;
            let moved: Vec<String> = sqlx::query(AssertSqlSafe(format!(
                "SELECT occurrence_local FROM {exceptions} WHERE item_key = $1"
            )))
            .bind(key)
            .fetch_all(&mut *connection)
            .await?
            .iter()
            .map(|row| row.try_get::<String, _>("occurrence_local"))
            .collect::<Result<_, _>>()?;
            delete_where(connection, &exceptions, "item_key", key).await?;
            for occurrence in moved {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {exceptions} (item_key, occurrence_local) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING"
                )))
                .bind(key)
                .bind(local_text(local(&occurrence)? + shift))
                .execute(&mut *connection)
                .await?;
            }
        }
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {items} SET starts_at_ms = $2, ends_at_ms = $3, start_local = $4,
                time_zone = $5, own_response = NULL, double_booked_with = $6
             WHERE item_key = $1"
        )))
        .bind(key)
        .bind(millis(e.starts_at))
        .bind(millis(e.ends_at))
        .bind(local_text(e.start))
        .bind(&e.time_zone)
        .bind(json_text(&e.double_booked_with)?)
        .execute(&mut *connection)
        .await?;
        remove_responses(connection, tables, key).await?;
        delete_where(connection, &tables.name(DAYS), "item_key", key).await?;
        if recurrence.is_none() {
            index_days(connection, tables, key, e.starts_at, e.ends_at).await?;
        }
        Ok(())
    }
}

/// Indexes a one-off item under every UTC day it touches.
async fn index_days(
    connection: &mut AnyConnection,
    tables: &Tables,
    key: &str,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<(), ApplyError> {
    for day in utc_days_touched(starts_at, ends_at) {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {} (day, item_key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            tables.name(DAYS)
        )))
        .bind(day_text(day))
        .bind(key)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

/// The UTC days a span touches, from its start's to its last instant's; an
/// empty span is on the day of its start.
fn utc_days_touched(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Vec<NaiveDate> {
    let last_instant = if ends_at > starts_at {
        ends_at - TimeDelta::milliseconds(1)
    } else {
        starts_at
    };
    let last = last_instant.date_naive();
    starts_at
        .date_naive()
        .iter_days()
        .take_while(|day| *day <= last)
        .take(MAX_INDEXED_DAYS)
        .collect()
}

fn item_key(calendar: &str, event_id: &str) -> String {
    format!("{calendar}/{event_id}")
}

async fn insert_scheduled(
    connection: &mut AnyConnection,
    tables: &Tables,
    calendar: &str,
    key: &str,
    event: &RecordedEvent,
    e: &CalendarEventScheduled,
) -> Result<(), ApplyError> {
    let attendees = match personal(event, &e.attendees) {
        Some(attendees) => Some(json_text(attendees)?),
        None => None,
    };
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {} (item_key, kind, calendar, item_id, title, starts_at_ms, ends_at_ms,
            start_local, time_zone, recurrence, tentative, invitation, attendees, location,
            organizer, source, double_booked_with)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        tables.name(ITEMS)
    )))
    .bind(key)
    .bind(KIND_CALENDAR)
    .bind(calendar)
    .bind(&e.event_id)
    .bind(&e.title)
    .bind(millis(e.starts_at))
    .bind(millis(e.ends_at))
    .bind(local_text(e.start))
    .bind(&e.time_zone)
    .bind(e.recurrence.clone())
    .bind(flag(e.tentative))
    .bind(flag(e.invitation))
    .bind(attendees)
    .bind(personal(event, e.location.clone()).flatten())
    .bind(personal(event, e.organizer.clone()).flatten())
    .bind(e.source.clone())
    .bind(json_text(&e.double_booked_with)?)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Takes an item off the agenda with everything hanging from it.
async fn remove_item(
    connection: &mut AnyConnection,
    tables: &Tables,
    key: &str,
) -> Result<(), ApplyError> {
    delete_where(connection, &tables.name(ITEMS), "item_key", key).await?;
    delete_where(connection, &tables.name(DAYS), "item_key", key).await?;
    delete_where(connection, &tables.name(EXCEPTIONS), "item_key", key).await?;
    remove_responses(connection, tables, key).await?;
    let subjects = tables.name(SUBJECTS);
    forget_row(connection, &subjects, PART_EVENT, key).await?;
    forget_row(connection, &subjects, PART_APPOINTMENT, key).await?;
    Ok(())
}

async fn remove_responses(
    connection: &mut AnyConnection,
    tables: &Tables,
    key: &str,
) -> Result<(), ApplyError> {
    let responses = tables.name(RESPONSES);
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM {} WHERE part = '{PART_RSVP}' AND row_key IN
            (SELECT response_key FROM {responses} WHERE item_key = $1)",
        tables.name(SUBJECTS)
    )))
    .bind(key)
    .execute(&mut *connection)
    .await?;
    delete_where(connection, &responses, "item_key", key).await
}

/// Drops the personal data of `subject` from every item and answer.
async fn forget(
    connection: &mut AnyConnection,
    tables: &Tables,
    subject: &str,
) -> Result<(), ApplyError> {
    let items = tables.name(ITEMS);
    let subjects = tables.name(SUBJECTS);
    let of = |part| rows_of_subject(&subjects, part);
    forget_subject(
        connection,
        &subjects,
        subject,
        &[
            format!(
                "UPDATE {items} SET attendees = NULL, location = NULL, organizer = NULL
                 WHERE item_key {}",
                of(PART_EVENT)
            ),
            format!(
                "UPDATE {items} SET title = NULL, provider = NULL WHERE item_key {}",
                of(PART_APPOINTMENT)
            ),
            format!(
                "DELETE FROM {} WHERE response_key {}",
                tables.name(RESPONSES),
                of(PART_RSVP)
            ),
        ],
    )
    .await
}

// ------------------------------------------------------------------ readers

/// What an agenda item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgendaKind {
    /// An event on one of the person's calendars.
    CalendarEvent,
    /// A confirmed appointment with a provider.
    Appointment,
}

/// Someone invited to an event, and their answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgendaAttendee {
    /// Their e-mail address.
    pub email: String,
    /// Their name, if known.
    pub name: Option<String>,
    /// Their answer, if they gave one since the event last moved.
    pub response: Option<Rsvp>,
}

/// One occurrence on the agenda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgendaEntry {
    /// What it is.
    pub kind: AgendaKind,
    /// The calendar it is on (`calendar-work`), for a calendar event.
    pub calendar: Option<String>,
    /// The calendar's name, once its settings were set.
    pub calendar_name: Option<String>,
    /// The calendar event's id, or the appointment's.
    pub item_id: String,
    /// The event's title, or the appointment's purpose (`None` once erased).
    pub title: Option<String>,
    /// When this occurrence starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
    /// Its start in the person's time zone.
    pub local_start: NaiveDateTime,
    /// Its end in the person's time zone.
    pub local_end: NaiveDateTime,
    /// For a repeating event: this occurrence's start, local time in the
    /// event's own zone (what cancelling one occurrence names).
    pub occurrence_start: Option<NaiveDateTime>,
    /// Held tentatively (still busy).
    pub tentative: bool,
    /// An invitation the owner received.
    pub invitation: bool,
    /// The owner's answer to an invitation, if given since it last moved.
    pub own_response: Option<Rsvp>,
    /// Where (`None` if not said, or erased).
    pub location: Option<String>,
    /// Who sent the invitation (`None` if not one, or erased).
    pub organizer: Option<String>,
    /// Who is invited, in the invitation's order, then anyone else who
    /// answered; empty once the invitation's personal part is erased.
    pub attendees: Vec<AgendaAttendee>,
    /// The appointment's provider (`None` for an event, or once erased).
    pub provider: Option<String>,
    /// What a calendar event mirrors (`travel:<trip>/<reservation>`).
    pub source: Option<String>,
    /// The events of its calendar it was knowingly booked over.
    pub double_booked_with: Vec<String>,
}

/// One occurrence taking the person's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusyItem {
    /// What it is.
    pub kind: AgendaKind,
    /// Its calendar, for a calendar event.
    pub calendar: Option<String>,
    /// The calendar event's or appointment's id.
    pub item_id: String,
    /// Its title (`None` once erased).
    pub title: Option<String>,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
    /// Held tentatively.
    pub tentative: bool,
}

/// A stretch of busy time: occurrences that overlap or follow each other
/// without a gap, merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusyBlock {
    /// Its start, within the range asked about.
    pub starts_at: DateTime<Utc>,
    /// Its end, within the range asked about.
    pub ends_at: DateTime<Utc>,
    /// What makes it busy, by start.
    pub items: Vec<BusyItem>,
}

/// A free stretch of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FreeSlot {
    /// Its start.
    pub starts_at: DateTime<Utc>,
    /// Its end.
    pub ends_at: DateTime<Utc>,
}

/// Two occurrences taking the same time, on one calendar or across them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoubleBooking {
    /// The one starting first.
    pub first: BusyItem,
    /// The one starting while `first` is under way.
    pub second: BusyItem,
}

/// Free and busy time over a range, across all the person's calendars and
/// appointments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FreeBusy {
    /// Busy time, merged, in order.
    pub busy: Vec<BusyBlock>,
    /// Free time within the working hours asked about, in order.
    pub free: Vec<FreeSlot>,
    /// Occurrences that overlap each other, by start.
    pub double_bookings: Vec<DoubleBooking>,
}

/// An item as stored.
struct Item {
    key: String,
    kind: AgendaKind,
    calendar: Option<String>,
    calendar_name: Option<String>,
    item_id: String,
    title: Option<String>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    time_zone: Option<String>,
    recurrence: Option<String>,
    tentative: bool,
    invitation: bool,
    own_response: Option<Rsvp>,
    attendees: Option<String>,
    location: Option<String>,
    organizer: Option<String>,
    provider: Option<String>,
    source: Option<String>,
    double_booked_with: Vec<String>,
}

impl Item {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let kind: String = row.try_get("kind")?;
        let own_response: Option<String> = row.try_get("own_response")?;
        let double_booked_with: String = row.try_get("double_booked_with")?;
        Ok(Self {
            key: row.try_get("item_key")?,
            kind: from_name(&kind)?,
            calendar: row.try_get("calendar")?,
            calendar_name: row.try_get("calendar_name")?,
            item_id: row.try_get("item_id")?,
            title: row.try_get("title")?,
            starts_at: instant(row.try_get("starts_at_ms")?),
            ends_at: instant(row.try_get("ends_at_ms")?),
            time_zone: row.try_get("time_zone")?,
            recurrence: row.try_get("recurrence")?,
            tentative: row.try_get::<i64, _>("tentative")? != 0,
            invitation: row.try_get::<i64, _>("invitation")? != 0,
            own_response: own_response.as_deref().map(from_name).transpose()?,
            attendees: row.try_get("attendees")?,
            location: row.try_get("location")?,
            organizer: row.try_get("organizer")?,
            provider: row.try_get("provider")?,
            source: row.try_get("source")?,
            double_booked_with: from_json(&double_booked_with)?,
        })
    }

    /// Whether it takes the person's time at all.
    fn is_busy(&self) -> bool {
        self.own_response != Some(Rsvp::Declined)
    }

    /// Its occurrences overlapping `from..to`: start, end and, for a
    /// series, the local start in its zone. A rule or zone that no longer
    /// reads leaves the first occurrence alone, as the calendar does.
    fn occurrences(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cancelled: &HashSet<NaiveDateTime>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>, Option<NaiveDateTime>)> {
        let duration = self.ends_at - self.starts_at;
        let overlaps = |start: DateTime<Utc>| start < to && start + duration > from;
        let first_only = || {
            if overlaps(self.starts_at) {
                vec![(self.starts_at, self.ends_at, None)]
            } else {
                Vec::new()
            }
        };
        let Some(rule) = &self.recurrence else {
            return first_only();
        };
        let Some(zone) = self
            .time_zone
            .as_deref()
            .and_then(|zone| Tz::from_str(zone.trim()).ok())
        else {
            return first_only();
        };
        let first = self.starts_at.with_timezone(&rrule::Tz::Tz(zone));
        let Some(series) = rule
            .parse::<RRule<Unvalidated>>()
            .ok()
            .and_then(|rule| rule.validate(first).ok())
            .map(|rule| RRuleSet::new(first).rrule(rule).limit())
        else {
            return first_only();
        };
        let mut found = Vec::new();
        for at in &series {
            let start = at.with_timezone(&Utc);
            if start >= to {
                break;
            }
            let local_start = at.naive_local();
            if overlaps(start) && !cancelled.contains(&local_start) {
                found.push((start, start + duration, Some(local_start)));
            }
        }
        found
    }
}

const ITEM_COLUMNS: &str = "i.item_key, i.kind, i.calendar, c.name AS calendar_name, i.item_id,
    i.title, i.starts_at_ms, i.ends_at_ms, i.time_zone, i.recurrence, i.tentative, i.invitation,
    i.own_response, i.attendees, i.location, i.organizer, i.provider, i.source,
    i.double_booked_with";

/// An occurrence of an item.
struct Occurrence<'a> {
    item: &'a Item,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    local_start: Option<NaiveDateTime>,
}

impl Agenda {
    /// What is on the agenda on `day` (midnight to midnight in the person's
    /// zone): every occurrence overlapping it, by start. Declined
    /// invitations are left out.
    pub async fn day(
        &self,
        db: &ReadDb,
        tables: &Tables,
        day: NaiveDate,
    ) -> Result<Vec<AgendaEntry>, ProjectionError> {
        let from = self.midnight(day);
        let to = self.midnight(day + TimeDelta::days(1));
        let items = self.items_between(db, tables, from, to).await?;
        let cancelled = cancelled_occurrences(db, tables, &items).await?;
        let responses = responses_of(db, tables, &items).await?;
        let mut entries = Vec::new();
        for occurrence in occurrences(&items, &cancelled, from, to) {
            let item = occurrence.item;
            let answers = responses.get(&item.key).cloned().unwrap_or_default();
            entries.push(AgendaEntry {
                kind: item.kind,
                calendar: item.calendar.clone(),
                calendar_name: item.calendar_name.clone(),
                item_id: item.item_id.clone(),
                title: item.title.clone(),
                starts_at: occurrence.starts_at,
                ends_at: occurrence.ends_at,
                local_start: occurrence.starts_at.with_timezone(&self.zone).naive_local(),
                local_end: occurrence.ends_at.with_timezone(&self.zone).naive_local(),
                occurrence_start: occurrence.local_start,
                tentative: item.tentative,
                invitation: item.invitation,
                own_response: item.own_response,
                location: item.location.clone(),
                organizer: item.organizer.clone(),
                attendees: attendees(item.attendees.as_deref(), answers)?,
                provider: item.provider.clone(),
                source: item.source.clone(),
                double_booked_with: item.double_booked_with.clone(),
            });
        }
        Ok(entries)
    }

    /// Free and busy time from `from` to `to` across all calendars and
    /// appointments. Free time lies within `working_hours` (local to the
    /// person's zone; none: the whole range); busy blocks are clipped to
    /// the range, their items are whole.
    pub async fn free_busy(
        &self,
        db: &ReadDb,
        tables: &Tables,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        working_hours: &[WeeklyHours],
    ) -> Result<FreeBusy, ProjectionError> {
        if to <= from {
            return Ok(FreeBusy {
                busy: Vec::new(),
                free: Vec::new(),
                double_bookings: Vec::new(),
            });
        }
        let items = self.items_between(db, tables, from, to).await?;
        let cancelled = cancelled_occurrences(db, tables, &items).await?;
        let busy_items: Vec<BusyItem> = occurrences(&items, &cancelled, from, to)
            .into_iter()
            .map(|occurrence| BusyItem {
                kind: occurrence.item.kind,
                calendar: occurrence.item.calendar.clone(),
                item_id: occurrence.item.item_id.clone(),
                title: occurrence.item.title.clone(),
                starts_at: occurrence.starts_at,
                ends_at: occurrence.ends_at,
                tentative: occurrence.item.tentative,
            })
            .collect();
        let mut double_bookings = Vec::new();
        for (i, first) in busy_items.iter().enumerate() {
            for second in &busy_items[i + 1..] {
                if second.starts_at >= first.ends_at {
                    break;
                }
                double_bookings.push(DoubleBooking {
                    first: first.clone(),
                    second: second.clone(),
                });
            }
        }
        let mut busy: Vec<BusyBlock> = Vec::new();
        for item in busy_items {
            let (start, end) = (item.starts_at.max(from), item.ends_at.min(to));
            match busy.last_mut() {
                Some(block) if start <= block.ends_at => {
                    block.ends_at = block.ends_at.max(end);
                    block.items.push(item);
                }
                _ => busy.push(BusyBlock {
                    starts_at: start,
                    ends_at: end,
                    items: vec![item],
                }),
            }
        }
        let available = if working_hours.is_empty() {
            vec![(from, to)]
        } else {
            self.weekly_spans(working_hours, from, to)
        };
        let taken: Vec<(DateTime<Utc>, DateTime<Utc>)> = busy
            .iter()
            .map(|block| (block.starts_at, block.ends_at))
            .collect();
        let free = subtract(&available, &taken)
            .into_iter()
            .map(|(starts_at, ends_at)| FreeSlot { starts_at, ends_at })
            .collect();
        Ok(FreeBusy {
            busy,
            free,
            double_bookings,
        })
    }

    /// The items with an occurrence that may overlap `from..to`: one-off
    /// items indexed under the days of the range, and every series that
    /// started before its end. Declined invitations are left out.
    async fn items_between(
        &self,
        db: &ReadDb,
        tables: &Tables,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Item>, ProjectionError> {
        let items = tables.name(ITEMS);
        let calendars = tables.name(CALENDARS);
        let days = utc_days_touched(from, to);
        let (Some(first_day), Some(last_day)) = (days.first(), days.last()) else {
            return Ok(Vec::new());
        };
        let one_off = sqlx::query(AssertSqlSafe(format!(
            "SELECT DISTINCT {ITEM_COLUMNS}
             FROM {days} d JOIN {items} i ON i.item_key = d.item_key
                LEFT JOIN {calendars} c ON c.calendar = i.calendar
             WHERE d.day >= $1 AND d.day <= $2",
            days = tables.name(DAYS)
        )))
        .bind(day_text(*first_day))
        .bind(day_text(*last_day))
        .fetch_all(db.pool())
        .await?;
        let series = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS}
             FROM {items} i LEFT JOIN {calendars} c ON c.calendar = i.calendar
             WHERE i.recurrence IS NOT NULL AND i.starts_at_ms < $1"
        )))
        .bind(millis(to))
        .fetch_all(db.pool())
        .await?;
        let mut found = Vec::with_capacity(one_off.len() + series.len());
        for row in one_off.iter().chain(&series) {
            let item = Item::from_row(row)?;
            if item.is_busy() {
                found.push(item);
            }
        }
        Ok(found)
    }

    /// The first instant of `day` in the person's zone.
    fn midnight(&self, day: NaiveDate) -> DateTime<Utc> {
        lenient_local(day.and_time(NaiveTime::MIN), self.zone)
    }

    /// The spans of `hours` (weekly, in the person's zone) within
    /// `from..to`, in order.
    fn weekly_spans(
        &self,
        hours: &[WeeklyHours],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let first_day = from.with_timezone(&self.zone).date_naive() - TimeDelta::days(1);
        let last_day = to.with_timezone(&self.zone).date_naive() + TimeDelta::days(1);
        let mut spans = Vec::new();
        for day in first_day.iter_days().take_while(|day| *day <= last_day) {
            let weekday = Weekday::from(day.weekday());
            for span in hours.iter().filter(|span| span.day == weekday) {
                let start = lenient_local(day.and_time(span.start), self.zone).max(from);
                let end = lenient_local(day.and_time(span.end), self.zone).min(to);
                if start < end {
                    spans.push((start, end));
                }
            }
        }
        spans.sort_unstable();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(spans.len());
        for (start, end) in spans {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }
}

/// The occurrences of `items` overlapping `from..to`, by start (then end,
/// then item).
fn occurrences<'a>(
    items: &'a [Item],
    cancelled: &HashMap<String, HashSet<NaiveDateTime>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Occurrence<'a>> {
    let none = HashSet::new();
    let mut found: Vec<Occurrence<'a>> = items
        .iter()
        .flat_map(|item| {
            let cancelled = cancelled.get(&item.key).unwrap_or(&none);
            item.occurrences(from, to, cancelled).into_iter().map(
                move |(starts_at, ends_at, local_start)| Occurrence {
                    item,
                    starts_at,
                    ends_at,
                    local_start,
                },
            )
        })
        .collect();
    found.sort_by(|a, b| {
        (a.starts_at, a.ends_at, &a.item.key).cmp(&(b.starts_at, b.ends_at, &b.item.key))
    });
    found
}

/// The cancelled occurrences of the series among `items`.
async fn cancelled_occurrences(
    db: &ReadDb,
    tables: &Tables,
    items: &[Item],
) -> Result<HashMap<String, HashSet<NaiveDateTime>>, ProjectionError> {
    let keys: Vec<&str> = items
        .iter()
        .filter(|item| item.recurrence.is_some())
        .map(|item| item.key.as_str())
        .collect();
    let mut cancelled: HashMap<String, HashSet<NaiveDateTime>> = HashMap::new();
    if keys.is_empty() {
        return Ok(cancelled);
    }
    let mut statement = sqlx::query(AssertSqlSafe(format!(
        "SELECT item_key, occurrence_local FROM {} WHERE item_key IN ({})",
        tables.name(EXCEPTIONS),
        placeholders(1, keys.len())
    )));
    for key in &keys {
        statement = statement.bind(key.to_string());
    }
    for row in statement.fetch_all(db.pool()).await? {
        let occurrence: String = row.try_get("occurrence_local")?;
        cancelled
            .entry(row.try_get("item_key")?)
            .or_default()
            .insert(local(&occurrence)?);
    }
    Ok(cancelled)
}

/// The attendees' answers to `items`, by item, by e-mail address.
async fn responses_of(
    db: &ReadDb,
    tables: &Tables,
    items: &[Item],
) -> Result<HashMap<String, BTreeMap<String, Rsvp>>, ProjectionError> {
    let mut responses: HashMap<String, BTreeMap<String, Rsvp>> = HashMap::new();
    if items.is_empty() {
        return Ok(responses);
    }
    let mut statement = sqlx::query(AssertSqlSafe(format!(
        "SELECT item_key, email, response FROM {} WHERE item_key IN ({})",
        tables.name(RESPONSES),
        placeholders(1, items.len())
    )));
    for item in items {
        statement = statement.bind(item.key.clone());
    }
    for row in statement.fetch_all(db.pool()).await? {
        let response: String = row.try_get("response")?;
        responses
            .entry(row.try_get("item_key")?)
            .or_default()
            .insert(row.try_get("email")?, from_name(&response)?);
    }
    Ok(responses)
}

/// The invited attendees with their answers, then whoever else answered.
fn attendees(
    stored: Option<&str>,
    mut answers: BTreeMap<String, Rsvp>,
) -> Result<Vec<AgendaAttendee>, sqlx::Error> {
    let invited: Vec<CalendarAttendee> = match stored {
        Some(text) => from_json(text)?,
        None => Vec::new(),
    };
    let mut attendees: Vec<AgendaAttendee> = invited
        .into_iter()
        .map(|attendee| {
            let email = attendee.email.trim().to_lowercase();
            AgendaAttendee {
                response: answers.remove(&email),
                email: attendee.email,
                name: attendee.name,
            }
        })
        .collect();
    attendees.extend(answers.into_iter().map(|(email, response)| AgendaAttendee {
        email,
        name: None,
        response: Some(response),
    }));
    Ok(attendees)
}

/// `local` in `zone`, never failing: the earlier instant of a repeated
/// time, and a skipped time moved forward by the gap (as the calendar
/// reads working hours).
fn lenient_local(local: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    if let Some(instant) = zone.from_local_datetime(&local).earliest() {
        return instant.with_timezone(&Utc);
    }
    // No gap lasts three hours: three local hours earlier is a real time,
    // and three real hours after it is where the clocks put `local`.
    let earlier = local - TimeDelta::hours(3);
    match zone.from_local_datetime(&earlier).earliest() {
        Some(instant) => instant.with_timezone(&Utc) + TimeDelta::hours(3),
        None => local.and_utc(),
    }
}

/// The parts of `from` (sorted, disjoint) outside `taken` (sorted,
/// disjoint).
fn subtract(
    from: &[(DateTime<Utc>, DateTime<Utc>)],
    taken: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut left = Vec::new();
    let mut j = 0;
    for &(start, end) in from {
        let mut cursor = start;
        while j < taken.len() && taken[j].1 <= cursor {
            j += 1;
        }
        let mut k = j;
        while k < taken.len() && taken[k].0 < end {
            if taken[k].0 > cursor {
                left.push((cursor, taken[k].0));
            }
            cursor = cursor.max(taken[k].1);
            k += 1;
        }
        if cursor < end {
            left.push((cursor, end));
        }
    }
    left
}
