//! `meeting_briefing`: a lead time before each meeting with other people
//! in it, a briefing names the inbox threads with them.
//!
//! Three steps, each in the log, so the audit trail shows why each was
//! taken:
//!
//! 1. **A timer.** On `CalendarEventScheduled` with attendees (or an
//!    organiser) and on `CalendarEventRescheduled`, in `calendar-<c>`, it
//!    sets the timer `brief-<c>.<event>-<start, Unix seconds>` (key
//!    `timer`) to send `RequestBriefing {event_id, starts_at}` to the
//!    calendar [`BriefingConfig::lead`] before the start (at once, if that
//!    has passed). A repeating event's timer is for its first occurrence
//!    after the event was recorded.
//! 2. **The calendar's say.** The calendar records
//!    `CalendarBriefingRequested` only while the event still starts then, so
//!    the timer of a meeting since moved, or cancelled, briefs nothing (its
//!    `TimerFired` records the refusal); a moved meeting has a new timer.
//!    A repeating event's request names its next occurrence, whose timer
//!    this saga sets then (key `timer`).
//! 3. **The briefing.** On `CalendarBriefingRequested` it asks the inbox
//!    read model ([`Lookup::InboxThreads`]) for the threads with a message
//!    from the attendees or the organiser within [`BriefingConfig::lookback`]
//!    of the start, at most [`BriefingConfig::max_threads`], and sends
//!    `PrepareBriefing` with them (key `prepare`) to
//!    `briefing-<c>.<event>-<start, Unix seconds>` ([`MeetingBriefing::brief`],
//!    a pure function of the request and the threads). No thread is a
//!    briefing too: it says there is nothing to catch up on.
//!
//! Ids are tokens as in the [`timers`](super::timers) saga. A series moved
//! so that its first occurrence has already started gets no more briefings
//! (the moved event does not say how it repeats); scheduling it again
//! does. "Now" is the event's `recorded_at`: sagas are pure.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use steward_events::domain::DomainEvent as _;
use steward_events::domain::calendar::{
    BriefingThread, CalendarAttendee, CalendarBriefingRequested, CalendarEventRescheduled,
    CalendarEventScheduled,
};
use steward_events::{RecordedEvent, StreamId};

use super::ids::{bounded, token};
use super::timers::schedule;
use super::{Answer, InboxThread, Lookup, Reaction, Saga, ThreadsQuery, decode};
use crate::aggregate::Aggregate as _;
use crate::calendar::{Briefing, Calendar, CalendarEntry};

/// The longest stream id (the store's limit).
const MAX_STREAM_ID_CHARS: usize = 255;

/// When and how widely the briefings look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BriefingConfig {
    /// How long before a meeting its briefing is prepared: 18 hours by
    /// default, the afternoon before a morning meeting.
    pub lead: TimeDelta,
    /// How far back before the meeting the inbox is searched: 30 days by
    /// default.
    pub lookback: TimeDelta,
    /// The most threads a briefing names, newest first: 10 by default.
    pub max_threads: usize,
}

impl Default for BriefingConfig {
    fn default() -> Self {
        Self {
            lead: TimeDelta::hours(18),
            lookback: TimeDelta::days(30),
            max_threads: 10,
        }
    }
}

/// Prepares a briefing before each meeting with other people in it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeetingBriefing {
    config: BriefingConfig,
}

impl MeetingBriefing {
    /// The saga, briefing as `config` says.
    pub fn new(config: BriefingConfig) -> Self {
        Self { config }
    }

    /// The timer asking calendar `calendar_id` for a briefing on event
    /// `event_id`'s occurrence starting at `starts_at`.
    pub fn timer_id(calendar_id: &str, event_id: &str, starts_at: DateTime<Utc>) -> String {
        format!(
            "brief-{}.{}-{}",
            token(calendar_id),
            token(event_id),
            starts_at.timestamp()
        )
    }

    /// The briefing on event `event_id`'s occurrence starting at
    /// `starts_at`, on calendar `calendar_id`.
    pub fn briefing_stream(
        calendar_id: &str,
        event_id: &str,
        starts_at: DateTime<Utc>,
    ) -> Option<StreamId> {
        let id = bounded(
            &format!(
                "{}.{}-{}",
                token(calendar_id),
                token(event_id),
                starts_at.timestamp()
            ),
            MAX_STREAM_ID_CHARS - Briefing::CATEGORY.len() - 1,
        );
        StreamId::new(Briefing::CATEGORY, id).ok()
    }

    /// The `PrepareBriefing` answering `request` on `calendar`, given the
    /// inbox `threads` with its people (newest first).
    pub fn brief(
        &self,
        calendar: &StreamId,
        request: &CalendarBriefingRequested,
        threads: &[InboxThread],
    ) -> Option<Reaction> {
        let stream = Self::briefing_stream(calendar.id(), &request.event_id, request.starts_at)?;
        let mut attendees = request.attendees.clone();
        if let Some(organizer) = &request.organizer
            && attendees
                .iter()
                .all(|a| !a.email.eq_ignore_ascii_case(organizer))
        {
            attendees.push(CalendarAttendee {
                email: organizer.clone(),
                name: None,
            });
        }
        let threads: Vec<BriefingThread> = threads
            .iter()
            .take(self.config.max_threads)
            .map(|thread| BriefingThread {
                account: thread.account.clone(),
                thread_id: thread.thread_id.clone(),
                subject: thread.subject.clone(),
                correspondents: thread.correspondents.clone(),
                messages: thread.messages,
                last_message_at: thread.last_message_at,
                awaiting_reply: thread.awaiting_reply,
            })
            .collect();
        Some(Reaction::new(
            "prepare",
            stream,
            "PrepareBriefing",
            json!({
                "calendar": calendar,
                "event_id": request.event_id,
                "title": request.title,
                "starts_at": request.starts_at,
                "since": self.since(request.starts_at),
                "attendees": attendees,
                "threads": threads,
            }),
        ))
    }

    /// The earliest message a briefing on a meeting at `starts_at` names.
    fn since(&self, starts_at: DateTime<Utc>) -> DateTime<Utc> {
        starts_at
            .checked_sub_signed(self.config.lookback)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The timer asking `calendar` for a briefing on `event_id` at
    /// `starts_at`.
    fn timer(
        &self,
        calendar: &StreamId,
        event_id: &str,
        starts_at: DateTime<Utc>,
    ) -> Option<Reaction> {
        let due_at = starts_at
            .checked_sub_signed(self.config.lead)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        schedule(
            &Self::timer_id(calendar.id(), event_id, starts_at),
            due_at,
            calendar,
            "RequestBriefing",
            json!({ "event_id": event_id, "starts_at": starts_at }),
        )
    }

    fn scheduled(&self, event: &RecordedEvent) -> Option<Reaction> {
        let scheduled = decode::<CalendarEventScheduled>(event)?;
        let entry = CalendarEntry::from_scheduled(&scheduled);
        if !entry.has_other_people() {
            return None;
        }
        // A series recorded after its first occurrence is briefed from the
        // next one on.
        let starts_at = if scheduled.starts_at > event.recorded_at {
            scheduled.starts_at
        } else {
            entry.next_occurrence_after(event.recorded_at)?.span.start
        };
        self.timer(&event.stream_id, &scheduled.event_id, starts_at)
    }

    fn rescheduled(&self, event: &RecordedEvent) -> Option<Reaction> {
        let moved = decode::<CalendarEventRescheduled>(event)?;
        // Whether anyone else is in it is not in the event: the calendar
        // records nothing for a meeting of the owner's alone.
        self.timer(&event.stream_id, &moved.event_id, moved.starts_at)
    }

    fn next(&self, event: &RecordedEvent) -> Option<Reaction> {
        let requested = decode::<CalendarBriefingRequested>(event)?;
        self.timer(
            &event.stream_id,
            &requested.event_id,
            requested.next_starts_at?,
        )
    }

    /// The people whose threads a briefing on `request` names, lower-cased.
    fn correspondents(request: &CalendarBriefingRequested) -> Vec<String> {
        let mut addresses: Vec<String> = request
            .attendees
            .iter()
            .map(|attendee| attendee.email.as_str())
            .chain(request.organizer.as_deref())
            .map(|address| address.trim().to_lowercase())
            .filter(|address| !address.is_empty())
            .collect();
        addresses.sort();
        addresses.dedup();
        addresses
    }
}

impl Saga for MeetingBriefing {
    fn name(&self) -> &'static str {
        "meeting_briefing"
    }

    fn reacts_to(&self) -> &'static [&'static str] {
        &[
            CalendarEventScheduled::EVENT_TYPE,
            CalendarEventRescheduled::EVENT_TYPE,
            CalendarBriefingRequested::EVENT_TYPE,
        ]
    }

    fn react(&self, event: &RecordedEvent) -> Vec<Reaction> {
        if event.stream_id.category() != Calendar::CATEGORY {
            return Vec::new();
        }
        let reaction = match event.event_type.as_str() {
            CalendarEventScheduled::EVENT_TYPE => self.scheduled(event),
            CalendarEventRescheduled::EVENT_TYPE => self.rescheduled(event),
            CalendarBriefingRequested::EVENT_TYPE => self.next(event),
            _ => None,
        };
        reaction.into_iter().collect()
    }

    fn lookup(&self, event: &RecordedEvent) -> Option<Lookup> {
        if event.stream_id.category() != Calendar::CATEGORY
            || event.event_type.as_str() != CalendarBriefingRequested::EVENT_TYPE
        {
            return None;
        }
        let requested = decode::<CalendarBriefingRequested>(event)?;
        Some(Lookup::InboxThreads(ThreadsQuery {
            correspondents: Self::correspondents(&requested),
            since: self.since(requested.starts_at),
            limit: self.config.max_threads,
        }))
    }

    fn react_with(&self, event: &RecordedEvent, answer: &Answer) -> Vec<Reaction> {
        let mut reactions = self.react(event);
        let Answer::InboxThreads(threads) = answer;
        if event.stream_id.category() == Calendar::CATEGORY
            && let Some(requested) = decode::<CalendarBriefingRequested>(event)
            && let Some(prepare) = self.brief(&event.stream_id, &requested, threads)
        {
            reactions.insert(0, prepare);
        }
        reactions
    }
}
