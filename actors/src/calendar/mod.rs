//! Calendar: a person's calendars, what is on them, who comes, and when a
//! new meeting fits.
//!
//! The [`Calendar`] aggregate (`calendar-<id>`: `calendar-work`,
//! `calendar-home`), one stream per calendar. It holds its settings (time
//! zone, working hours, buffers, focus time) and its events: the owner's
//! own, and invitations they received (`organizer` given). Beside it, the
//! [`Briefing`] on each occurrence of a meeting (`briefing-<id>`).
//!
//! **Times.** Commands give start and end as local date-times
//! (`2026-03-30T09:00:00`, seconds included) in an IANA zone
//! (`time_zone`, default the calendar's; `end_time_zone`, default the
//! start's, for a flight landing elsewhere). A local time the clocks skip
//! (spring forward) is refused under `nonexistent_local_time`; one that
//! happens twice (fall back) means its earlier instant. The events keep the
//! local times and zones, and the UTC instants they were resolved to.
//!
//! **Recurrence.** An RFC 5545 `RRULE` value (`FREQ=WEEKLY;BYDAY=MO,WE`,
//! `UNTIL` in UTC), daily or less often, expanded in the event's own zone
//! by the `rrule` crate: a weekly 09:00 stays at 09:00 local across a
//! change of clocks; an occurrence falling into a gap moves forward by the
//! gap. Every occurrence lasts as long as the first. The event starts on
//! the rule's first occurrence. One occurrence can be cancelled; moving an
//! event moves the whole series.
//!
//! **Busy.** Every event counts as busy (tentative holds and unanswered
//! invitations too) except cancelled ones, cancelled occurrences and
//! invitations the owner declined. [`Calendar::busy_between`] expands
//! recurrences.
//!
//! **Double booking.** With the calendar's buffers kept free around every
//! meeting, a new or moved event (or an accepted invitation) that falls
//! into another event or its kept time is refused under `double_booked`,
//! naming the other, unless `force` is set; then the event records whom it
//! overlaps (`double_booked_with`). A recurring event is checked over its
//! first [`CLASH_HORIZON_DAYS`] days. Invitations received are facts and
//! are recorded whatever they overlap. This checks one calendar; across a
//! person's calendars the runtime calls [`clashes`] on the other
//! calendars' states (their read models) before sending the command.
//!
//! **Idempotency.** The caller chooses `event_id`; a saga derives it from
//! what it mirrors (and sets `source`, e.g. `travel:<trip>/<reservation>`).
//! Scheduling the same event again with the same content changes nothing;
//! other content under a taken id is refused.
//!
//! **Scheduling.** [`find_free_slots`] (in [`scheduling`]) proposes ranked
//! slots for a meeting across several calendars and attendees' working
//! hours; it is a pure function of the calendars' states.
//! [`CalendarCommand::ProposeSlot`] runs it on the calendar's own state
//! (its working hours, else Monday to Friday 09:00–17:00 in its zone) and
//! holds the best slot tentatively, or is refused under `no_free_slot`.
//!
//! **Briefings.** [`CalendarCommand::RequestBriefing`], sent by the meeting
//! briefing saga's timer a lead time before an occurrence of an event with
//! other people in it, records `CalendarBriefingRequested` while the event
//! still starts then; a moved or cancelled meeting refuses it, so a stale
//! timer briefs nothing. The [`briefing`] aggregate (`briefing-<id>`) keeps
//! what the inbox says about each occurrence.

pub mod briefing;
pub mod scheduling;
pub mod time;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_events::domain::calendar::{
    CalendarAttendee, CalendarBriefingRequested, CalendarEvent, CalendarEventCancelled,
    CalendarEventRescheduled, CalendarEventScheduled, CalendarInviteResponded,
    CalendarOccurrenceCancelled, CalendarRsvpRecorded, CalendarSettingsSet, Rsvp, WeeklyHours,
};

use crate::aggregate::{Aggregate, Context, Rejection, ensure};
use crate::catalog::Visitor;

pub use briefing::{Briefing, BriefingCommand};
pub use scheduling::{FocusPolicy, Participant, Slot, SlotRequest, SlotScore, find_free_slots};
pub use time::{Buffers, Span, conflicts, parse_time_zone, resolve_local};

/// Shows the domain's aggregates to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Calendar>();
    visitor.visit::<Briefing>();
}

/// How far ahead a recurring event is checked for double booking.
pub const CLASH_HORIZON_DAYS: i64 = 366;
/// The longest one event (or occurrence) may last.
pub const MAX_EVENT_DAYS: i64 = 31;
/// The longest buffer a calendar keeps, in minutes.
pub const MAX_BUFFER_MINUTES: u32 = 480;

const MAX_TITLE_CHARS: usize = 300;
const MAX_NAME_CHARS: usize = 100;
const MAX_ID_CHARS: usize = 200;

// --------------------------------------------------------------- commands

/// Commands to a calendar (`calendar-<id>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum CalendarCommand {
    /// Sets all of the calendar's settings at once.
    SetCalendarSettings {
        /// What the person calls it (`Work`).
        name: String,
        /// Its IANA time zone (`Europe/London`).
        time_zone: String,
        /// When the person works, local to `time_zone`; none: no limit.
        #[serde(default)]
        working_hours: Vec<WeeklyHours>,
        /// Minutes kept free before each event (at most 480).
        #[serde(default)]
        buffer_before_minutes: u32,
        /// Minutes kept free after each event (at most 480).
        #[serde(default)]
        buffer_after_minutes: u32,
        /// Time kept for focused work, local to `time_zone`.
        #[serde(default)]
        focus_blocks: Vec<WeeklyHours>,
    },
    /// Puts an event on the calendar: the owner's own, or an invitation
    /// they received (`organizer` given).
    ScheduleEvent(EventDetails),
    /// Moves an event (a whole series, if it repeats); the attendees'
    /// answers no longer hold.
    RescheduleEvent {
        /// The event.
        event_id: String,
        /// Its new start, local time.
        start: NaiveDateTime,
        /// Its new end, local time.
        end: NaiveDateTime,
        /// The IANA zone of `start` (default: the event's).
        #[serde(default)]
        time_zone: Option<String>,
        /// The IANA zone of `end` (default: `time_zone` if given, else the
        /// event's).
        #[serde(default)]
        end_time_zone: Option<String>,
        /// Move it even though it double-books.
        #[serde(default)]
        force: bool,
    },
    /// Cancels an event, or one occurrence of a repeating one.
    CancelEvent {
        /// The event.
        event_id: String,
        /// The occurrence to cancel, by its local start; the whole event
        /// when absent.
        #[serde(default)]
        occurrence_start: Option<NaiveDateTime>,
    },
    /// Records an attendee's answer to the owner's invitation.
    RecordRsvp {
        /// The event.
        event_id: String,
        /// The attendee's e-mail address.
        email: String,
        /// Their answer.
        response: Rsvp,
    },
    /// The owner answers an invitation they received.
    RespondToInvite {
        /// The invitation.
        event_id: String,
        /// The answer.
        response: Rsvp,
        /// Accept even though it double-books.
        #[serde(default)]
        force: bool,
    },
    /// Asks for a briefing on the occurrence of an event that starts at
    /// `starts_at` (the meeting briefing saga's timer sends it a lead time
    /// before). Refused when the event was cancelled (`event_cancelled`),
    /// no longer starts then (`meeting_moved`: it moved, or that occurrence
    /// was cancelled), is an invitation the owner declined
    /// (`invite_declined`), or has started (`meeting_started`). An event
    /// with no one but the owner in it needs no briefing, and asking again
    /// changes nothing.
    RequestBriefing {
        /// The event.
        event_id: String,
        /// When the occurrence to brief starts.
        starts_at: DateTime<Utc>,
    },
    /// Finds the best free time for an event within a window and puts it
    /// on the calendar, held tentatively for the owner to keep or move (a
    /// saga proposing when to service the boiler). The time lies within the
    /// owner's working hours (the calendar's, else Monday to Friday
    /// 09:00–17:00 in its zone) and clear of its events and buffers, ranked
    /// as [`find_free_slots`] ranks. The same `event_id` again changes
    /// nothing, wherever the first went (even if since cancelled).
    ProposeSlot {
        /// Chosen by the caller; the same id again changes nothing.
        event_id: String,
        /// What it is.
        title: String,
        /// How long it lasts, in minutes (1 to 31 days' worth).
        duration_minutes: u32,
        /// The earliest it may start; the time of the decision, if later.
        not_before: DateTime<Utc>,
        /// The latest it may end.
        not_after: DateTime<Utc>,
        /// What it mirrors (`maintenance:<asset>/<task>/<day>`).
        #[serde(default)]
        source: Option<String>,
    },
}

/// What [`CalendarCommand::ProposeSlot`] asks for.
struct SlotProposal {
    event_id: String,
    title: String,
    duration_minutes: u32,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    source: Option<String>,
}

/// What [`CalendarCommand::ScheduleEvent`] carries. Sagas build it with
/// `..EventDetails::default()` for the parts they do not know.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventDetails {
    /// Chosen by the caller; the same event sent again changes nothing.
    pub event_id: String,
    /// What it is.
    pub title: String,
    /// When it starts, local time (`2026-03-30T09:00:00`).
    pub start: NaiveDateTime,
    /// When it ends, local time.
    pub end: NaiveDateTime,
    /// The IANA zone of `start` (default: the calendar's).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The IANA zone of `end` (default: `time_zone`).
    #[serde(default)]
    pub end_time_zone: Option<String>,
    /// An RFC 5545 RRULE value (`FREQ=WEEKLY;BYDAY=MO`), if it repeats.
    #[serde(default)]
    pub recurrence: Option<String>,
    /// Who is invited.
    #[serde(default)]
    pub attendees: Vec<CalendarAttendee>,
    /// Where.
    #[serde(default)]
    pub location: Option<String>,
    /// Who invited the owner, when this is an invitation received.
    #[serde(default)]
    pub organizer: Option<String>,
    /// Hold it tentatively (it still counts as busy).
    #[serde(default)]
    pub tentative: bool,
    /// Schedule it even though it double-books.
    #[serde(default)]
    pub force: bool,
    /// What it mirrors (`travel:<trip>/<reservation>`).
    #[serde(default)]
    pub source: Option<String>,
}

// ------------------------------------------------------------------ state

/// One event on a calendar, as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarEntry {
    /// The event as first scheduled: what a repeated schedule is compared
    /// with, and its title, attendees, place and source.
    pub scheduled: CalendarEventScheduled,
    /// Its start now, local time in `time_zone`.
    pub start: NaiveDateTime,
    /// Its end now, local time in `end_time_zone`.
    pub end: NaiveDateTime,
    /// The IANA zone of `start` and of the recurrence.
    pub time_zone: String,
    /// The IANA zone of `end`.
    pub end_time_zone: String,
    /// Its start now (of the first occurrence, if it repeats).
    pub starts_at: DateTime<Utc>,
    /// Its end now.
    pub ends_at: DateTime<Utc>,
    /// The attendees' answers, by e-mail address.
    pub responses: BTreeMap<String, Rsvp>,
    /// The owner's answer, for an invitation (none yet: needs action).
    pub own_response: Option<Rsvp>,
    /// Whether it was cancelled.
    pub cancelled: bool,
    /// The cancelled occurrences of a repeating event, by local start.
    pub cancelled_occurrences: BTreeSet<NaiveDateTime>,
    /// The start of the last occurrence a briefing was asked for.
    #[serde(default)]
    pub briefed_for: Option<DateTime<Utc>>,
}

impl CalendarEntry {
    /// The entry an event starts as when scheduled.
    pub fn from_scheduled(event: &CalendarEventScheduled) -> Self {
        Self {
            scheduled: event.clone(),
            start: event.start,
            end: event.end,
            time_zone: event.time_zone.clone(),
            end_time_zone: event.end_time_zone.clone(),
            starts_at: event.starts_at,
            ends_at: event.ends_at,
            responses: BTreeMap::new(),
            own_response: None,
            cancelled: false,
            cancelled_occurrences: BTreeSet::new(),
            briefed_for: None,
        }
    }

    /// Its title.
    pub fn title(&self) -> &str {
        &self.scheduled.title
    }

    /// Its recurrence rule, if it repeats.
    pub fn recurrence(&self) -> Option<&str> {
        self.scheduled.recurrence.as_deref()
    }

    /// Whether it is an invitation the owner received.
    pub fn is_invitation(&self) -> bool {
        self.scheduled.invitation
    }

    /// Whether it takes the owner's time: not cancelled, not a declined
    /// invitation.
    pub fn is_busy(&self) -> bool {
        !self.cancelled && self.own_response != Some(Rsvp::Declined)
    }

    /// Whether anyone but the owner is in it: attendees, or the organiser
    /// of an invitation.
    pub fn has_other_people(&self) -> bool {
        !self.scheduled.attendees.is_empty() || self.scheduled.organizer.is_some()
    }

    /// The occurrence starting exactly at `starts_at`, unless cancelled.
    pub fn occurrence_at(&self, starts_at: DateTime<Utc>) -> Option<Occurrence> {
        let instant = Span::new(starts_at, starts_at + TimeDelta::seconds(1));
        self.occurrences(instant)
            .into_iter()
            .find(|occurrence| occurrence.span.start == starts_at)
    }

    /// The first occurrence starting after `after` (within the clash
    /// horizon), unless cancelled.
    pub fn next_occurrence_after(&self, after: DateTime<Utc>) -> Option<Occurrence> {
        let ahead = Span::new(after, after + TimeDelta::days(CLASH_HORIZON_DAYS));
        self.occurrences(ahead)
            .into_iter()
            .find(|occurrence| occurrence.span.start > after)
    }

    /// How long each occurrence lasts.
    pub fn duration(&self) -> TimeDelta {
        self.ends_at - self.starts_at
    }

    /// Its occurrences overlapping `within` (the event itself if it does
    /// not repeat), by start, skipping cancelled occurrences but not
    /// looking at whether the event is busy.
    pub fn occurrences(&self, within: Span) -> Vec<Occurrence> {
        let first = Occurrence {
            local_start: self.start,
            span: Span::new(self.starts_at, self.ends_at),
        };
        let first_only = || {
            if first.span.overlaps(&within) {
                vec![first]
            } else {
                Vec::new()
            }
        };
        let Some(rule) = self.recurrence() else {
            return first_only();
        };
        // Rules were checked when decided; one the time zone database no
        // longer reads leaves the first occurrence alone.
        let series = time::parse_time_zone(&self.time_zone)
            .and_then(|zone| time::recurrence(rule, self.starts_at, zone));
        let Ok(series) = series else {
            return first_only();
        };
        let duration = first.span.duration();
        let mut found = Vec::new();
        for at in &series {
            let start = at.with_timezone(&Utc);
            if start >= within.end {
                break;
            }
            let span = Span::new(start, start + duration);
            let local_start = at.naive_local();
            if span.end > within.start && !self.cancelled_occurrences.contains(&local_start) {
                found.push(Occurrence { local_start, span });
            }
        }
        found
    }
}

/// One occurrence of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// Its start, local time in the event's zone.
    pub local_start: NaiveDateTime,
    /// When it takes place.
    pub span: Span,
}

/// A time an event takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusyInterval {
    /// The event.
    pub event_id: String,
    /// Its title.
    pub title: String,
    /// When this occurrence starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
    /// Whether it is only held tentatively.
    pub tentative: bool,
}

impl BusyInterval {
    /// The span it takes.
    pub fn span(&self) -> Span {
        Span::new(self.start, self.end)
    }
}

/// An event another meeting would clash with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clash {
    /// The calendar it is on, as the caller named it.
    pub calendar: String,
    /// The event.
    pub event_id: String,
    /// Its title.
    pub title: String,
    /// When the clashing occurrence starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
}

/// One calendar of a person.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Calendar {
    /// Its settings, once set.
    pub settings: Option<CalendarSettingsSet>,
    /// Its events (cancelled ones too), by id.
    pub events: BTreeMap<String, CalendarEntry>,
}

impl Calendar {
    /// Its time zone, once set.
    pub fn time_zone(&self) -> Option<Tz> {
        let settings = self.settings.as_ref()?;
        time::parse_time_zone(&settings.time_zone).ok()
    }

    /// The time it keeps free around each of its events.
    pub fn buffers(&self) -> Buffers {
        self.settings
            .as_ref()
            .map(|s| Buffers::minutes(s.buffer_before_minutes, s.buffer_after_minutes))
            .unwrap_or_default()
    }

    /// An event by id.
    pub fn event(&self, event_id: &str) -> Option<&CalendarEntry> {
        self.events.get(event_id)
    }

    /// The times its events take between `from` and `to`, recurrences
    /// expanded, sorted by start: every occurrence overlapping the range,
    /// whole (not clipped).
    pub fn busy_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<BusyInterval> {
        self.busy_except(Span::new(from, to), None)
    }

    fn busy_except(&self, within: Span, except: Option<&str>) -> Vec<BusyInterval> {
        let mut busy = Vec::new();
        if within.end <= within.start {
            return busy;
        }
        for (event_id, entry) in &self.events {
            if !entry.is_busy() || except == Some(event_id.as_str()) {
                continue;
            }
            for occurrence in entry.occurrences(within) {
                busy.push(BusyInterval {
                    event_id: event_id.clone(),
                    title: entry.title().to_owned(),
                    start: occurrence.span.start,
                    end: occurrence.span.end,
                    tentative: entry.scheduled.tentative,
                });
            }
        }
        busy.sort_by(|a, b| (a.start, a.end, &a.event_id).cmp(&(b.start, b.end, &b.event_id)));
        busy
    }

    /// The events that `spans` (sorted by start, each keeping `buffers`
    /// free around it) clash with, but `except`, one per clashing
    /// occurrence.
    fn clashes_of(
        &self,
        spans: &[Span],
        buffers: Buffers,
        except: Option<&str>,
    ) -> Vec<BusyInterval> {
        let (Some(first), Some(last)) = (spans.first(), spans.iter().map(|s| s.end).max()) else {
            return Vec::new();
        };
        let own = self.buffers();
        let reach = own.longest().max(buffers.longest());
        let busy = self.busy_except(Span::new(first.start - reach, last + reach), except);
        let longest = busy
            .iter()
            .map(|b| b.end - b.start)
            .max()
            .unwrap_or_default();
        let mut found: Vec<BusyInterval> = Vec::new();
        for span in spans {
            // Busy times starting this early end before `span` and its
            // buffers, however long they are.
            let from = busy.partition_point(|b| b.start < span.start - reach - longest);
            for interval in &busy[from..] {
                if interval.start >= span.end + reach {
                    break;
                }
                if conflicts(span, buffers, &interval.span(), own) && !found.contains(interval) {
                    found.push(interval.clone());
                }
            }
        }
        found
    }

    fn entry(&self, event_id: &str) -> Result<&CalendarEntry, Rejection> {
        self.events.get(event_id.trim()).ok_or_else(|| {
            Rejection::new(
                "unknown_event",
                format!("the calendar has no event `{}`", event_id.trim()),
            )
        })
    }

    fn open_entry(&self, event_id: &str) -> Result<&CalendarEntry, Rejection> {
        let entry = self.entry(event_id)?;
        ensure(!entry.cancelled, "event_cancelled", || {
            format!("`{}` was cancelled", entry.title())
        })?;
        Ok(entry)
    }
}

/// The events on `calendars` (each named by the caller, e.g. by its stream
/// id) that a meeting over `span` keeping `buffers` free around it would
/// clash with, each calendar's events keeping that calendar's buffers;
/// sorted by start. The runtime checks a new event against a person's
/// other calendars with it (their read models), the aggregate checks its
/// own calendar.
pub fn clashes<'a>(
    calendars: impl IntoIterator<Item = (&'a str, &'a Calendar)>,
    span: Span,
    buffers: Buffers,
) -> Vec<Clash> {
    let mut found: Vec<Clash> = calendars
        .into_iter()
        .flat_map(|(name, calendar)| {
            calendar
                .clashes_of(&[span], buffers, None)
                .into_iter()
                .map(move |busy| Clash {
                    calendar: name.to_owned(),
                    event_id: busy.event_id,
                    title: busy.title,
                    start: busy.start,
                    end: busy.end,
                })
        })
        .collect();
    found.sort_by(|a, b| {
        (a.start, &a.calendar, &a.event_id).cmp(&(b.start, &b.calendar, &b.event_id))
    });
    found
}

// ------------------------------------------------------------- validation

fn event_id(value: &str) -> Result<String, Rejection> {
    let id = value.trim();
    ensure(
        !id.is_empty()
            && id.chars().count() <= MAX_ID_CHARS
            && !id.chars().any(|c| c.is_whitespace() || c.is_control()),
        "event_id_invalid",
        || format!("an event id is 1 to {MAX_ID_CHARS} characters without spaces, not `{id}`"),
    )?;
    Ok(id.to_owned())
}

fn title(value: &str) -> Result<String, Rejection> {
    let title = value.trim();
    ensure(!title.is_empty(), "title_required", || {
        "give the event a title".to_owned()
    })?;
    ensure(
        title.chars().count() <= MAX_TITLE_CHARS,
        "title_too_long",
        || format!("a title has at most {MAX_TITLE_CHARS} characters"),
    )?;
    Ok(title.to_owned())
}

fn email(value: &str) -> Result<String, Rejection> {
    let email = value.trim().to_lowercase();
    let valid = email
        .split_once('@')
        .is_some_and(|(user, host)| !user.is_empty() && !host.is_empty() && !host.contains('@'))
        && email.chars().count() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    ensure(valid, "invalid_email", || {
        format!("`{}` is not an e-mail address", value.trim())
    })?;
    Ok(email)
}

/// The zone a command names, if it names one.
fn given_zone(name: Option<&str>) -> Result<Option<Tz>, Rejection> {
    name.map(str::trim)
        .filter(|name| !name.is_empty())
        .map(parse_time_zone)
        .transpose()
}

fn optional_text(value: Option<String>) -> Option<String> {
    value
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}

fn attendees(given: Vec<CalendarAttendee>) -> Result<Vec<CalendarAttendee>, Rejection> {
    let mut attendees: Vec<CalendarAttendee> = Vec::with_capacity(given.len());
    for attendee in given {
        let email = email(&attendee.email)?;
        // The same person listed twice is invited once, under the first name.
        if attendees.iter().all(|a| a.email != email) {
            attendees.push(CalendarAttendee {
                email,
                name: optional_text(attendee.name),
            });
        }
    }
    Ok(attendees)
}

/// When an event takes place, resolved.
struct Timing {
    start: NaiveDateTime,
    end: NaiveDateTime,
    zone: Tz,
    end_zone: Tz,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

impl Timing {
    fn resolve(
        start: NaiveDateTime,
        end: NaiveDateTime,
        zone: Tz,
        end_zone: Tz,
    ) -> Result<Self, Rejection> {
        let starts_at = resolve_local(start, zone)?;
        let ends_at = resolve_local(end, end_zone)?;
        ensure(ends_at > starts_at, "end_not_after_start", || {
            format!(
                "the event ends ({} {}) before or when it starts ({} {})",
                end.format("%Y-%m-%d %H:%M"),
                end_zone.name(),
                start.format("%Y-%m-%d %H:%M"),
                zone.name()
            )
        })?;
        ensure(
            ends_at - starts_at <= TimeDelta::days(MAX_EVENT_DAYS),
            "event_too_long",
            || format!("an event lasts at most {MAX_EVENT_DAYS} days"),
        )?;
        Ok(Self {
            start,
            end,
            zone,
            end_zone,
            starts_at,
            ends_at,
        })
    }

    /// Its occurrences over the clash horizon: the event itself, or the
    /// series' (checked against `rule`).
    fn occurrences(&self, rule: Option<&str>) -> Result<Vec<Span>, Rejection> {
        let first = Span::new(self.starts_at, self.ends_at);
        let Some(rule) = rule else {
            return Ok(vec![first]);
        };
        let series = time::recurrence(rule, self.starts_at, self.zone)?;
        let horizon = self.starts_at + TimeDelta::days(CLASH_HORIZON_DAYS);
        let duration = first.duration();
        Ok((&series)
            .into_iter()
            .map(|at| at.with_timezone(&Utc))
            .take_while(|start| *start < horizon)
            .map(|start| Span::new(start, start + duration))
            .collect())
    }
}

fn weekly(hours: Vec<WeeklyHours>, what: &str) -> Result<Vec<WeeklyHours>, Rejection> {
    let mut hours = hours;
    hours.sort();
    hours.dedup();
    for span in &hours {
        ensure(span.start < span.end, "hours_invalid", || {
            format!(
                "{what} on {:?} must end after they start ({}–{})",
                span.day,
                span.start.format("%H:%M"),
                span.end.format("%H:%M")
            )
        })?;
    }
    for pair in hours.windows(2) {
        ensure(
            pair[0].day != pair[1].day || pair[0].end <= pair[1].start,
            "hours_overlap",
            || format!("{what} on {:?} overlap each other", pair[0].day),
        )?;
    }
    Ok(hours)
}

fn double_booked(clash: &BusyInterval, total: usize) -> Rejection {
    let others = match total {
        0 | 1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    Rejection::new(
        "double_booked",
        format!(
            "it clashes with `{}` ({}) at {}{others}, buffers included; force it to double-book",
            clash.title,
            clash.event_id,
            clash.start.format("%Y-%m-%d %H:%M UTC")
        ),
    )
}

fn ids_of(clashing: &[BusyInterval]) -> Vec<String> {
    let ids: BTreeSet<&str> = clashing.iter().map(|b| b.event_id.as_str()).collect();
    ids.into_iter().map(str::to_owned).collect()
}

// -------------------------------------------------------------- decisions

impl Calendar {
    fn set_settings(&self, settings: CalendarSettingsSet) -> Result<Vec<CalendarEvent>, Rejection> {
        let name = settings.name.trim().to_owned();
        ensure(!name.is_empty(), "name_required", || {
            "name the calendar".to_owned()
        })?;
        ensure(
            name.chars().count() <= MAX_NAME_CHARS,
            "name_too_long",
            || format!("a calendar name has at most {MAX_NAME_CHARS} characters"),
        )?;
        let zone = parse_time_zone(&settings.time_zone)?;
        for (minutes, side) in [
            (settings.buffer_before_minutes, "before"),
            (settings.buffer_after_minutes, "after"),
        ] {
            ensure(minutes <= MAX_BUFFER_MINUTES, "buffer_too_long", || {
                format!(
                    "a buffer {side} events is at most {MAX_BUFFER_MINUTES} minutes, not {minutes}"
                )
            })?;
        }
        let settings = CalendarSettingsSet {
            name,
            time_zone: zone.name().to_owned(),
            working_hours: weekly(settings.working_hours, "working hours")?,
            focus_blocks: weekly(settings.focus_blocks, "focus blocks")?,
            ..settings
        };
        if self.settings.as_ref() == Some(&settings) {
            return Ok(Vec::new());
        }
        Ok(vec![CalendarEvent::SettingsSet(settings)])
    }

    fn schedule(&self, details: EventDetails) -> Result<Vec<CalendarEvent>, Rejection> {
        let EventDetails {
            event_id,
            title,
            start,
            end,
            time_zone,
            end_time_zone,
            recurrence,
            attendees,
            location,
            organizer,
            tentative,
            force,
            source,
        } = details;
        let event_id = self::event_id(&event_id)?;
        let title = self::title(&title)?;
        let zone = match given_zone(time_zone.as_deref())? {
            Some(zone) => zone,
            None => self.time_zone().ok_or_else(|| {
                Rejection::new(
                    "time_zone_required",
                    "the calendar has no time zone yet: give the event's, or set the calendar's",
                )
            })?,
        };
        let end_zone = given_zone(end_time_zone.as_deref())?.unwrap_or(zone);
        let timing = Timing::resolve(start, end, zone, end_zone)?;
        let recurrence = recurrence
            .map(|rule| time::normalize_rule(&rule))
            .filter(|rule| !rule.is_empty());
        let occurrences = timing.occurrences(recurrence.as_deref())?;
        let organizer = organizer
            .filter(|o| !o.trim().is_empty())
            .map(|o| email(&o))
            .transpose()?;
        let source = optional_text(source);
        let candidate = CalendarEventScheduled {
            event_id: event_id.clone(),
            title,
            start: timing.start,
            end: timing.end,
            time_zone: timing.zone.name().to_owned(),
            end_time_zone: timing.end_zone.name().to_owned(),
            starts_at: timing.starts_at,
            ends_at: timing.ends_at,
            recurrence,
            attendees: self::attendees(attendees)?,
            location: optional_text(location),
            invitation: organizer.is_some(),
            organizer,
            tentative,
            source,
            double_booked_with: Vec::new(),
        };
        if let Some(existing) = self.events.get(&event_id) {
            let first = CalendarEventScheduled {
                double_booked_with: Vec::new(),
                ..existing.scheduled.clone()
            };
            ensure(first == candidate, "event_id_taken", || {
                format!(
                    "`{event_id}` is already `{}` with other details; choose another id or reschedule it",
                    existing.title()
                )
            })?;
            return Ok(Vec::new());
        }
        if let Some(source) = &candidate.source
            && let Some((other, _)) = self
                .events
                .iter()
                .find(|(_, e)| !e.cancelled && e.scheduled.source.as_ref() == Some(source))
        {
            return Err(Rejection::new(
                "source_taken",
                format!("`{source}` is already on the calendar as `{other}`"),
            ));
        }
        let clashing = self.clashes_of(&occurrences, self.buffers(), None);
        if let Some(first) = clashing.first()
            && !force
            && !candidate.invitation
        {
            return Err(double_booked(first, clashing.len()));
        }
        Ok(vec![CalendarEvent::Scheduled(CalendarEventScheduled {
            double_booked_with: ids_of(&clashing),
            ..candidate
        })])
    }

    fn reschedule(
        &self,
        event_id: &str,
        start: NaiveDateTime,
        end: NaiveDateTime,
        time_zone: Option<String>,
        end_time_zone: Option<String>,
        force: bool,
    ) -> Result<Vec<CalendarEvent>, Rejection> {
        let entry = self.open_entry(event_id)?;
        let event_id = entry.scheduled.event_id.clone();
        let start_zone = given_zone(time_zone.as_deref())?;
        let zone = match start_zone {
            Some(zone) => zone,
            None => parse_time_zone(&entry.time_zone)?,
        };
        let end_zone = match (given_zone(end_time_zone.as_deref())?, start_zone) {
            (Some(end_zone), _) => end_zone,
            (None, Some(zone)) => zone,
            (None, None) => parse_time_zone(&entry.end_time_zone)?,
        };
        let timing = Timing::resolve(start, end, zone, end_zone)?;
        let unchanged = timing.start == entry.start
            && timing.end == entry.end
            && timing.zone.name() == entry.time_zone
            && timing.end_zone.name() == entry.end_time_zone;
        if unchanged {
            return Ok(Vec::new());
        }
        let occurrences = timing.occurrences(entry.recurrence())?;
        let clashing = self.clashes_of(&occurrences, self.buffers(), Some(&event_id));
        if let Some(first) = clashing.first()
            && !force
            && !entry.is_invitation()
        {
            return Err(double_booked(first, clashing.len()));
        }
        Ok(vec![CalendarEvent::Rescheduled(CalendarEventRescheduled {
            event_id,
            start: timing.start,
            end: timing.end,
            time_zone: timing.zone.name().to_owned(),
            end_time_zone: timing.end_zone.name().to_owned(),
            starts_at: timing.starts_at,
            ends_at: timing.ends_at,
            double_booked_with: ids_of(&clashing),
        })])
    }

    fn cancel(
        &self,
        event_id: &str,
        occurrence_start: Option<NaiveDateTime>,
    ) -> Result<Vec<CalendarEvent>, Rejection> {
        let entry = self.entry(event_id)?;
        let event_id = entry.scheduled.event_id.clone();
        if entry.cancelled {
            return Ok(Vec::new());
        }
        let Some(local_start) = occurrence_start else {
            return Ok(vec![CalendarEvent::Cancelled(CalendarEventCancelled {
                event_id,
            })]);
        };
        ensure(entry.recurrence().is_some(), "not_recurring", || {
            format!(
                "`{}` does not repeat: cancel the whole event",
                entry.title()
            )
        })?;
        if entry.cancelled_occurrences.contains(&local_start) {
            return Ok(Vec::new());
        }
        // An occurrence starts within a day of its local time in any zone.
        let zone = parse_time_zone(&entry.time_zone)?;
        let around = time::lenient_local(local_start, zone);
        let within = Span::new(around - TimeDelta::days(2), around + TimeDelta::days(2));
        let occurrence = entry
            .occurrences(within)
            .into_iter()
            .find(|o| o.local_start == local_start)
            .ok_or_else(|| {
                Rejection::new(
                    "not_an_occurrence",
                    format!(
                        "`{}` has no occurrence starting {}",
                        entry.title(),
                        local_start.format("%Y-%m-%d %H:%M")
                    ),
                )
            })?;
        Ok(vec![CalendarEvent::OccurrenceCancelled(
            CalendarOccurrenceCancelled {
                event_id,
                occurrence_start: local_start,
                starts_at: occurrence.span.start,
            },
        )])
    }

    fn record_rsvp(
        &self,
        event_id: &str,
        email: &str,
        response: Rsvp,
    ) -> Result<Vec<CalendarEvent>, Rejection> {
        let entry = self.open_entry(event_id)?;
        let email = self::email(email)?;
        ensure(
            entry.scheduled.attendees.iter().any(|a| a.email == email),
            "not_an_attendee",
            || format!("{email} is not invited to `{}`", entry.title()),
        )?;
        if entry.responses.get(&email) == Some(&response) {
            return Ok(Vec::new());
        }
        Ok(vec![CalendarEvent::RsvpRecorded(CalendarRsvpRecorded {
            event_id: entry.scheduled.event_id.clone(),
            email,
            response,
        })])
    }

    fn respond(
        &self,
        event_id: &str,
        response: Rsvp,
        force: bool,
    ) -> Result<Vec<CalendarEvent>, Rejection> {
        let entry = self.open_entry(event_id)?;
        let event_id = entry.scheduled.event_id.clone();
        ensure(entry.is_invitation(), "not_an_invite", || {
            format!(
                "`{}` is the owner's own event, not an invitation to answer",
                entry.title()
            )
        })?;
        if entry.own_response == Some(response) {
            return Ok(Vec::new());
        }
        let clashing = if response == Rsvp::Declined {
            Vec::new()
        } else {
            let within = Span::new(
                entry.starts_at,
                entry.starts_at + TimeDelta::days(CLASH_HORIZON_DAYS),
            );
            let occurrences: Vec<Span> = entry
                .occurrences(within)
                .into_iter()
                .map(|o| o.span)
                .collect();
            self.clashes_of(&occurrences, self.buffers(), Some(&event_id))
        };
        if let Some(first) = clashing.first()
            && !force
        {
            return Err(double_booked(first, clashing.len()));
        }
        Ok(vec![CalendarEvent::InviteResponded(
            CalendarInviteResponded {
                event_id,
                response,
                double_booked_with: ids_of(&clashing),
            },
        )])
    }
}

impl Calendar {
    fn request_briefing(
        &self,
        event_id: &str,
        starts_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<CalendarEvent>, Rejection> {
        let entry = self.open_entry(event_id)?;
        if !entry.has_other_people() {
            // The owner's own time needs no briefing: nothing to do.
            return Ok(Vec::new());
        }
        ensure(
            entry.own_response != Some(Rsvp::Declined),
            "invite_declined",
            || format!("the owner declined `{}`", entry.title()),
        )?;
        ensure(
            entry.occurrence_at(starts_at).is_some(),
            "meeting_moved",
            || {
                format!(
                    "`{}` no longer starts at {}: it moved or that occurrence was cancelled",
                    entry.title(),
                    starts_at.format("%Y-%m-%d %H:%M UTC")
                )
            },
        )?;
        if entry.briefed_for == Some(starts_at) {
            return Ok(Vec::new());
        }
        ensure(starts_at > now, "meeting_started", || {
            format!(
                "`{}` started at {}: too late for a briefing",
                entry.title(),
                starts_at.format("%Y-%m-%d %H:%M UTC")
            )
        })?;
        let next_starts_at = entry
            .recurrence()
            .and_then(|_| entry.next_occurrence_after(starts_at))
            .map(|next| next.span.start);
        Ok(vec![CalendarEvent::BriefingRequested(
            CalendarBriefingRequested {
                event_id: entry.scheduled.event_id.clone(),
                title: entry.title().to_owned(),
                starts_at,
                attendees: entry.scheduled.attendees.clone(),
                organizer: entry.scheduled.organizer.clone(),
                next_starts_at,
            },
        )])
    }

    fn propose_slot(
        &self,
        proposal: SlotProposal,
        now: DateTime<Utc>,
    ) -> Result<Vec<CalendarEvent>, Rejection> {
        let SlotProposal {
            event_id,
            title,
            duration_minutes,
            not_before,
            not_after,
            source,
        } = proposal;
        let event_id = self::event_id(&event_id)?;
        if self.events.contains_key(&event_id) {
            return Ok(Vec::new());
        }
        let title = self::title(&title)?;
        let longest = MAX_EVENT_DAYS * 24 * 60;
        ensure(
            duration_minutes > 0 && i64::from(duration_minutes) <= longest,
            "duration_invalid",
            || format!("an event lasts 1 to {longest} minutes, not {duration_minutes}"),
        )?;
        ensure(not_after > not_before, "window_invalid", || {
            format!(
                "the window ends ({}) before or when it starts ({})",
                not_after.format("%Y-%m-%d %H:%M UTC"),
                not_before.format("%Y-%m-%d %H:%M UTC")
            )
        })?;
        let zone = self.time_zone().ok_or_else(|| {
            Rejection::new(
                "time_zone_required",
                "the calendar has no time zone yet: set its settings, so that working hours mean a time",
            )
        })?;
        let duration = TimeDelta::minutes(i64::from(duration_minutes));
        let mut request = SlotRequest::new(duration, not_before.max(now), not_after);
        let own_hours = self
            .settings
            .as_ref()
            .is_some_and(|settings| !settings.working_hours.is_empty());
        if !own_hours {
            // The scheduler bounds by a calendar's own working hours when it
            // has some; otherwise the owner works the usual week.
            request = request.with(Participant::in_zone(zone));
        }
        // A slot whose local times do not name it again (the repeated hour
        // when clocks fall back reads as its earlier instant) cannot be
        // written down as local times: the next best one is taken.
        let chosen = find_free_slots(&request, &[self])
            .into_iter()
            .find_map(|slot| {
                let start = slot.start.with_timezone(&zone).naive_local();
                let end = slot.end.with_timezone(&zone).naive_local();
                let exact = resolve_local(start, zone).ok() == Some(slot.start)
                    && resolve_local(end, zone).ok() == Some(slot.end);
                exact.then_some((start, end))
            });
        let Some((start, end)) = chosen else {
            return Err(Rejection::new(
                "no_free_slot",
                format!(
                    "no {duration_minutes} free minutes within working hours between {} and {}",
                    not_before.max(now).format("%Y-%m-%d %H:%M UTC"),
                    not_after.format("%Y-%m-%d %H:%M UTC")
                ),
            ));
        };
        self.schedule(EventDetails {
            event_id,
            title,
            start,
            end,
            time_zone: Some(zone.name().to_owned()),
            tentative: true,
            source,
            ..EventDetails::default()
        })
    }
}

impl Aggregate for Calendar {
    const CATEGORY: &'static str = "calendar";
    const DOMAIN: &'static str = "calendar";
    // 2: entries remember the occurrence last briefed.
    const STATE_VERSION: u32 = 2;
    type Command = CalendarCommand;
    type Event = CalendarEvent;

    fn decide(
        &self,
        command: CalendarCommand,
        context: &Context,
    ) -> Result<Vec<CalendarEvent>, Rejection> {
        match command {
            CalendarCommand::SetCalendarSettings {
                name,
                time_zone,
                working_hours,
                buffer_before_minutes,
                buffer_after_minutes,
                focus_blocks,
            } => self.set_settings(CalendarSettingsSet {
                name,
                time_zone,
                working_hours,
                buffer_before_minutes,
                buffer_after_minutes,
                focus_blocks,
            }),
            CalendarCommand::ScheduleEvent(details) => self.schedule(details),
            CalendarCommand::RescheduleEvent {
                event_id,
                start,
                end,
                time_zone,
                end_time_zone,
                force,
            } => self.reschedule(&event_id, start, end, time_zone, end_time_zone, force),
            CalendarCommand::CancelEvent {
                event_id,
                occurrence_start,
            } => self.cancel(&event_id, occurrence_start),
            CalendarCommand::RecordRsvp {
                event_id,
                email,
                response,
            } => self.record_rsvp(&event_id, &email, response),
            CalendarCommand::RespondToInvite {
                event_id,
                response,
                force,
            } => self.respond(&event_id, response, force),
            CalendarCommand::RequestBriefing {
                event_id,
                starts_at,
            } => self.request_briefing(&event_id, starts_at, context.now),
            CalendarCommand::ProposeSlot {
                event_id,
                title,
                duration_minutes,
                not_before,
                not_after,
                source,
            } => self.propose_slot(
                SlotProposal {
                    event_id,
                    title,
                    duration_minutes,
                    not_before,
                    not_after,
                    source,
                },
                context.now,
            ),
        }
    }

    fn apply(&mut self, event: &CalendarEvent) {
        match event {
            CalendarEvent::SettingsSet(e) => self.settings = Some(e.clone()),
            CalendarEvent::Scheduled(e) => {
                self.events
                    .insert(e.event_id.clone(), CalendarEntry::from_scheduled(e));
            }
            CalendarEvent::Rescheduled(e) => {
                if let Some(entry) = self.events.get_mut(&e.event_id) {
                    // Cancelled occurrences move with the series.
                    let shift = e.start - entry.start;
                    entry.cancelled_occurrences = entry
                        .cancelled_occurrences
                        .iter()
                        .map(|local| *local + shift)
                        .collect();
                    entry.start = e.start;
                    entry.end = e.end;
                    entry.time_zone.clone_from(&e.time_zone);
                    entry.end_time_zone.clone_from(&e.end_time_zone);
                    entry.starts_at = e.starts_at;
                    entry.ends_at = e.ends_at;
                    // A moved event is a new question to everyone.
                    entry.responses.clear();
                    entry.own_response = None;
                }
            }
            CalendarEvent::Cancelled(e) => {
                if let Some(entry) = self.events.get_mut(&e.event_id) {
                    entry.cancelled = true;
                }
            }
            CalendarEvent::OccurrenceCancelled(e) => {
                if let Some(entry) = self.events.get_mut(&e.event_id) {
                    entry.cancelled_occurrences.insert(e.occurrence_start);
                }
            }
            CalendarEvent::RsvpRecorded(e) => {
                if let Some(entry) = self.events.get_mut(&e.event_id)
                    && !e.email.is_empty()
                {
                    entry.responses.insert(e.email.clone(), e.response);
                }
            }
            CalendarEvent::InviteResponded(e) => {
                if let Some(entry) = self.events.get_mut(&e.event_id) {
                    entry.own_response = Some(e.response);
                }
            }
            CalendarEvent::BriefingRequested(e) => {
                if let Some(entry) = self.events.get_mut(&e.event_id) {
                    entry.briefed_for = Some(e.starts_at);
                }
            }
        }
    }
}
