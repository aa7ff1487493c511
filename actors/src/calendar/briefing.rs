//! The briefing on one occurrence of a meeting (`briefing-<id>`): what the
//! inbox holds about it, prepared before it for the planner to summarise.
//!
//! The meeting briefing saga names the stream after the calendar, the
//! event and the occurrence's start, so each occurrence has its own
//! briefing, and sends [`BriefingCommand::PrepareBriefing`] with the
//! related threads it found. Preparing the same briefing again changes
//! nothing; preparing it with other threads records it anew (the newer
//! one holds); a briefing on another meeting in the same stream is
//! refused.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_events::StreamId;
use steward_events::domain::calendar::{
    BriefingEvent, BriefingPrepared, BriefingThread, CalendarAttendee,
};

use crate::aggregate::{Aggregate, Context, Rejection, ensure};

/// The most threads one briefing names.
pub const MAX_THREADS: usize = 50;
/// The longest title a briefing takes (the calendar's limit).
const MAX_TITLE_CHARS: usize = 300;

/// Commands to a briefing (`briefing-<id>`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum BriefingCommand {
    /// Records the briefing on one occurrence of a meeting.
    PrepareBriefing {
        /// The calendar the meeting is on.
        calendar: StreamId,
        /// The meeting, as the calendar names it.
        event_id: String,
        /// What it is.
        title: String,
        /// When the occurrence starts.
        starts_at: DateTime<Utc>,
        /// How far back the inbox was searched.
        since: DateTime<Utc>,
        /// Who is in it.
        #[serde(default)]
        attendees: Vec<CalendarAttendee>,
        /// The related threads (at most 50), in any order.
        #[serde(default)]
        threads: Vec<BriefingThread>,
    },
}

/// One briefing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Briefing {
    /// The briefing as last prepared.
    pub prepared: Option<BriefingPrepared>,
}

impl Briefing {
    fn prepare(&self, candidate: BriefingPrepared) -> Result<Vec<BriefingEvent>, Rejection> {
        ensure(
            !candidate.event_id.trim().is_empty(),
            "event_id_required",
            || "name the meeting the briefing is for".to_owned(),
        )?;
        let title = candidate.title.trim();
        ensure(!title.is_empty(), "title_required", || {
            "give the meeting's title".to_owned()
        })?;
        ensure(
            title.chars().count() <= MAX_TITLE_CHARS,
            "title_too_long",
            || format!("a title has at most {MAX_TITLE_CHARS} characters"),
        )?;
        ensure(
            candidate.since <= candidate.starts_at,
            "window_invalid",
            || "the inbox is searched from before the meeting, not after it".to_owned(),
        )?;
        ensure(
            candidate.threads.len() <= MAX_THREADS,
            "too_many_threads",
            || format!("a briefing names at most {MAX_THREADS} threads"),
        )?;
        let mut threads = candidate.threads.clone();
        for thread in &mut threads {
            ensure(
                !thread.thread_id.trim().is_empty(),
                "thread_id_required",
                || "every thread has an id".to_owned(),
            )?;
            thread.correspondents = thread
                .correspondents
                .iter()
                .map(|address| address.trim().to_lowercase())
                .filter(|address| !address.is_empty())
                .collect();
            thread.correspondents.sort();
            thread.correspondents.dedup();
        }
        // Newest first; the same conversation named twice is a mistake of
        // the sender, not two conversations.
        threads.sort_by(|a, b| {
            (b.last_message_at, &a.account, &a.thread_id).cmp(&(
                a.last_message_at,
                &b.account,
                &b.thread_id,
            ))
        });
        let mut keys: Vec<(&str, &str)> = threads
            .iter()
            .map(|t| (t.account.as_str(), t.thread_id.as_str()))
            .collect();
        keys.sort_unstable();
        let named = keys.len();
        keys.dedup();
        ensure(keys.len() == named, "duplicate_thread", || {
            "a thread is named twice".to_owned()
        })?;
        if let Some(prepared) = &self.prepared {
            ensure(
                prepared.calendar == candidate.calendar
                    && prepared.event_id == candidate.event_id.trim()
                    && prepared.starts_at == candidate.starts_at,
                "other_meeting",
                || {
                    format!(
                        "this briefing is on `{}` at {}; brief another meeting in its own stream",
                        prepared.event_id,
                        prepared.starts_at.format("%Y-%m-%d %H:%M UTC")
                    )
                },
            )?;
        }
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let prepared = BriefingPrepared {
            event_id: candidate.event_id.trim().to_owned(),
            title: title.to_owned(),
            thread_count: count(threads.len()),
            awaiting_replies: count(threads.iter().filter(|t| t.awaiting_reply).count()),
            threads,
            ..candidate
        };
        if self.prepared.as_ref() == Some(&prepared) {
            return Ok(Vec::new());
        }
        Ok(vec![BriefingEvent::Prepared(prepared)])
    }
}

impl Aggregate for Briefing {
    const CATEGORY: &'static str = "briefing";
    const DOMAIN: &'static str = "calendar";
    const STATE_VERSION: u32 = 1;
    type Command = BriefingCommand;
    type Event = BriefingEvent;

    fn decide(
        &self,
        command: BriefingCommand,
        _context: &Context,
    ) -> Result<Vec<BriefingEvent>, Rejection> {
        match command {
            BriefingCommand::PrepareBriefing {
                calendar,
                event_id,
                title,
                starts_at,
                since,
                attendees,
                threads,
            } => self.prepare(BriefingPrepared {
                calendar: calendar.to_string(),
                event_id,
                title,
                starts_at,
                since,
                attendees,
                threads,
                thread_count: 0,
                awaiting_replies: 0,
            }),
        }
    }

    fn apply(&mut self, event: &BriefingEvent) {
        match event {
            BriefingEvent::Prepared(e) => self.prepared = Some(e.clone()),
        }
    }
}
