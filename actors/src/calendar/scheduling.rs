//! Finding a time for a meeting: [`find_free_slots`].
//!
//! A pure function of the request and the states of the calendars to
//! consult. It works on spans, not minutes: every participant's working
//! hours become UTC spans (in their own zone, across changes of clocks),
//! which are intersected; every calendar's busy times, widened by the
//! buffers, are merged and taken away; what is left is cut into candidate
//! starts on a grid (every 15 minutes by default), scored and ranked. Its
//! cost grows with the number of events and of candidates, not with the
//! length of the window in minutes.
//!
//! **Constraints (hard).** A proposed slot lies inside the window; it lies
//! inside the working hours of every participant of the request (default
//! Monday to Friday, 09:00–17:00 in their zone) and of every calendar that
//! has working hours set; neither it nor the kept time around it (the
//! request's buffers) overlaps a busy time of any calendar, nor does it
//! fall into the kept time of one (that calendar's buffers), as
//! [`conflicts`](super::conflicts) says. With [`FocusPolicy::Exclude`],
//! focus time is busy too. Proposed slots do not overlap each other.
//!
//! **Ranking (soft).** Each slot gets a penalty, lowest first, and ties go
//! to the earlier slot; [`SlotScore`] shows the parts:
//! - twice the minutes it overlaps focus time of any calendar;
//! - for each participant and calendar with working hours, the minutes it
//!   comes within an hour of the start or end of their working day (an
//!   hour inside everyone's day is comfortable);
//! - 30 for each side where it leaves a scrap of free time shorter than 30
//!   minutes before the next busy time (fragmentation);
//! - one per hour after the start of the window (sooner is better).

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use steward_events::domain::calendar::WeeklyHours;

use super::Calendar;
use super::time::{self, Buffers, Span};
use crate::aggregate::Rejection;

/// The longest window searched; a longer one is cut to it.
pub const MAX_WINDOW_DAYS: i64 = 92;
/// The default spacing of candidate starts.
pub const DEFAULT_STEP_MINUTES: i64 = 15;

const COMFORT: TimeDelta = TimeDelta::minutes(60);
const SCRAP: TimeDelta = TimeDelta::minutes(30);
const SCRAP_PENALTY: i64 = 30;
const FOCUS_WEIGHT: i64 = 2;

/// What to do about the calendars' focus time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FocusPolicy {
    /// Propose it only when nothing better fits (a ranking penalty).
    #[default]
    Avoid,
    /// Never propose it: focus time is busy.
    Exclude,
}

/// Someone the meeting must suit: their zone and working hours.
#[derive(Debug, Clone, PartialEq)]
pub struct Participant {
    /// Their time zone.
    pub time_zone: Tz,
    /// When they work, local to `time_zone`.
    pub working_hours: Vec<WeeklyHours>,
}

impl Participant {
    /// Someone in `time_zone` (an IANA name) working Monday to Friday,
    /// 09:00–17:00 local time.
    pub fn new(time_zone: &str) -> Result<Self, Rejection> {
        Ok(Self::in_zone(time::parse_time_zone(time_zone)?))
    }

    /// Someone in `time_zone` working Monday to Friday, 09:00–17:00.
    pub fn in_zone(time_zone: Tz) -> Self {
        let (Some(nine), Some(five)) = (
            chrono::NaiveTime::from_hms_opt(9, 0, 0),
            chrono::NaiveTime::from_hms_opt(17, 0, 0),
        ) else {
            return Self {
                time_zone,
                working_hours: Vec::new(),
            };
        };
        let working_hours = WeeklyHours::weekdays(nine, five);
        Self {
            time_zone,
            working_hours,
        }
    }

    /// The same person working `hours` instead.
    pub fn working(mut self, hours: Vec<WeeklyHours>) -> Self {
        self.working_hours = hours;
        self
    }
}

/// What a meeting needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotRequest {
    /// How long it lasts.
    pub duration: TimeDelta,
    /// The earliest it may start.
    pub window_start: DateTime<Utc>,
    /// The latest it may end.
    pub window_end: DateTime<Utc>,
    /// Who must be able to come (zones and working hours).
    pub participants: Vec<Participant>,
    /// Time kept free around the meeting; `None`: the largest of the
    /// calendars' buffers, so that the slot passes their own check.
    pub buffers: Option<Buffers>,
    /// How many slots to propose at most.
    pub max_results: usize,
    /// The spacing of candidate starts, on a grid from the Unix epoch (so
    /// on the quarter hours by default).
    pub step: TimeDelta,
    /// What to do about focus time.
    pub focus: FocusPolicy,
}

impl SlotRequest {
    /// A meeting of `duration` between `window_start` and `window_end`,
    /// with no participants yet, the calendars' buffers, five results,
    /// a 15-minute grid and focus time avoided.
    pub fn new(
        duration: TimeDelta,
        window_start: DateTime<Utc>,
        window_end: DateTime<Utc>,
    ) -> Self {
        Self {
            duration,
            window_start,
            window_end,
            participants: Vec::new(),
            buffers: None,
            max_results: 5,
            step: TimeDelta::minutes(DEFAULT_STEP_MINUTES),
            focus: FocusPolicy::Avoid,
        }
    }

    /// The same request with `participant` too.
    pub fn with(mut self, participant: Participant) -> Self {
        self.participants.push(participant);
        self
    }
}

/// How a slot ranks: the parts of its penalty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SlotScore {
    /// Minutes of focus time it takes.
    pub focus_minutes: i64,
    /// Minutes it comes within an hour of a working day's edge, summed
    /// over participants and calendars.
    pub edge_minutes: i64,
    /// Sides where it leaves a scrap shorter than 30 minutes.
    pub scraps: i64,
    /// Whole hours after the start of the window.
    pub hours_from_window_start: i64,
}

impl SlotScore {
    /// The penalty: lower ranks first.
    pub fn penalty(&self) -> i64 {
        FOCUS_WEIGHT * self.focus_minutes
            + self.edge_minutes
            + SCRAP_PENALTY * self.scraps
            + self.hours_from_window_start
    }
}

/// A proposed time for the meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
    /// Its penalty (lower is better).
    pub penalty: i64,
    /// Why it ranks where it does.
    pub score: SlotScore,
}

impl Slot {
    /// The span it takes.
    pub fn span(&self) -> Span {
        Span::new(self.start, self.end)
    }
}

/// Free slots for the meeting `request` describes across `calendars`,
/// best first (see the module documentation for the rules and ranking).
/// An empty list when nothing fits or the request is empty (no duration,
/// an empty window, no results asked for).
pub fn find_free_slots(request: &SlotRequest, calendars: &[&Calendar]) -> Vec<Slot> {
    let duration = request.duration;
    let step = if request.step > TimeDelta::zero() {
        request.step
    } else {
        TimeDelta::minutes(DEFAULT_STEP_MINUTES)
    };
    let window_end = request
        .window_end
        .min(request.window_start + TimeDelta::days(MAX_WINDOW_DAYS));
    let window = Span::new(request.window_start, window_end);
    if duration <= TimeDelta::zero() || window.duration() < duration || request.max_results == 0 {
        return Vec::new();
    }

    // Working hours: every participant's, and every calendar's that has some.
    let mut working: Vec<Vec<Span>> = request
        .participants
        .iter()
        .map(|p| time::weekly_spans(&p.working_hours, p.time_zone, window))
        .collect();
    for calendar in calendars {
        if let (Some(settings), Some(zone)) = (&calendar.settings, calendar.time_zone())
            && !settings.working_hours.is_empty()
        {
            working.push(time::weekly_spans(&settings.working_hours, zone, window));
        }
    }
    let mut available = vec![window];
    for spans in &working {
        available = time::intersect(&available, spans);
    }

    // Busy times, widened so that a slot overlapping none of them keeps
    // clear of every event and its buffers.
    let buffers = request.buffers.unwrap_or_else(|| {
        calendars
            .iter()
            .fold(Buffers::default(), |all, c| all.max(c.buffers()))
    });
    let mut focus = Vec::new();
    let mut blocked = Vec::new();
    for calendar in calendars {
        let own = calendar.buffers();
        let reach = own.longest().max(buffers.longest());
        let wide = Span::new(window.start - reach, window.end + reach);
        for busy in calendar.busy_between(wide.start, wide.end) {
            blocked.push(time::blocked_by(&busy.span(), own, buffers));
        }
        if let (Some(settings), Some(zone)) = (&calendar.settings, calendar.time_zone()) {
            focus.extend(time::weekly_spans(&settings.focus_blocks, zone, window));
        }
    }
    let focus = time::merge(focus);
    if request.focus == FocusPolicy::Exclude {
        blocked.extend(focus.iter().copied());
    }
    let free = time::subtract(&available, &time::merge(blocked));

    let mut candidates = Vec::new();
    for gap in &free {
        let mut start = on_grid(gap.start, step);
        while let Some(start_at) = start {
            let span = Span::new(start_at, start_at + duration);
            if span.end > gap.end {
                break;
            }
            let score = SlotScore {
                focus_minutes: overlap(&focus, &span).num_minutes(),
                edge_minutes: working
                    .iter()
                    .map(|spans| edge(spans, &span).num_minutes())
                    .sum(),
                scraps: i64::from(is_scrap(span.start - gap.start))
                    + i64::from(is_scrap(gap.end - span.end)),
                hours_from_window_start: (span.start - window.start).num_hours(),
            };
            candidates.push(Slot {
                start: span.start,
                end: span.end,
                penalty: score.penalty(),
                score,
            });
            start = start_at.checked_add_signed(step);
        }
    }

    candidates.sort_by_key(|slot| (slot.penalty, slot.start));
    let mut chosen: Vec<Slot> = Vec::new();
    for slot in candidates {
        if chosen.len() >= request.max_results {
            break;
        }
        if chosen.iter().all(|c| !c.span().overlaps(&slot.span())) {
            chosen.push(slot);
        }
    }
    chosen
}

/// The first instant on the grid of `step` at or after `at`.
fn on_grid(at: DateTime<Utc>, step: TimeDelta) -> Option<DateTime<Utc>> {
    let step_seconds = step.num_seconds().max(1);
    let seconds = at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0);
    let remainder = seconds.rem_euclid(step_seconds);
    let aligned = if remainder == 0 {
        seconds
    } else {
        seconds + (step_seconds - remainder)
    };
    DateTime::from_timestamp(aligned, 0)
}

/// How much of `span` the sorted, disjoint `spans` cover.
fn overlap(spans: &[Span], span: &Span) -> TimeDelta {
    let from = spans.partition_point(|s| s.end <= span.start);
    spans[from..]
        .iter()
        .take_while(|s| s.start < span.end)
        .map(|s| s.end.min(span.end) - s.start.max(span.start))
        .sum()
}

/// How far `span` comes within [`COMFORT`] of the edges of the working
/// span (of the sorted, disjoint `spans`) that holds it.
fn edge(spans: &[Span], span: &Span) -> TimeDelta {
    let index = spans.partition_point(|s| s.end < span.end);
    let Some(day) = spans.get(index).filter(|day| day.contains(span)) else {
        return TimeDelta::zero();
    };
    let early = (COMFORT - (span.start - day.start)).max(TimeDelta::zero());
    let late = (COMFORT - (day.end - span.end)).max(TimeDelta::zero());
    early + late
}

fn is_scrap(gap: TimeDelta) -> bool {
    gap > TimeDelta::zero() && gap < SCRAP
}
