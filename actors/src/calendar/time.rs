//! Time zones, local times, recurrence rules and spans of time: the parts of
//! the calendar that know about clocks.
//!
//! - A local time that the clocks skip (the spring-forward gap) is refused
//!   when a person gives it ([`resolve_local`]); one that happens twice (the
//!   fall-back hour) is read as its earlier instant.
//! - Working hours and focus time are read leniently instead
//!   ([`weekly_spans`]): a span edge in a gap moves forward by the gap, as
//!   the clocks do.
//! - Recurrence rules are RFC 5545 `RRULE` values, expanded by the `rrule`
//!   crate in the event's own zone; an occurrence that falls into a gap
//!   moves forward by the gap.

use std::str::FromStr;

use chrono::{DateTime, Datelike, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{Frequency, RRule, RRuleSet, Unvalidated};
use steward_events::domain::calendar::{Weekday, WeeklyHours};

use crate::aggregate::Rejection;

/// A half-open span of time, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// The first instant in it.
    pub start: DateTime<Utc>,
    /// The first instant after it.
    pub end: DateTime<Utc>,
}

impl Span {
    /// The span from `start` to `end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Self { start, end }
    }

    /// Whether the two share any instant (touching ends do not).
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `other` lies wholly inside this span.
    pub fn contains(&self, other: &Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// How long it lasts.
    pub fn duration(&self) -> TimeDelta {
        self.end - self.start
    }

    /// The span with `buffers` kept free around it.
    pub fn held(&self, buffers: Buffers) -> Span {
        Span::new(self.start - buffers.before, self.end + buffers.after)
    }
}

/// Time kept free around a meeting: before it (to get there, to prepare)
/// and after it (to wrap up).
///
/// Two meetings clash when either falls into the other's kept time: with
/// 10 minutes after each meeting, the next may start 10 minutes after the
/// previous ends. See [`conflicts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Buffers {
    /// Kept free before.
    pub before: TimeDelta,
    /// Kept free after.
    pub after: TimeDelta,
}

impl Buffers {
    /// Buffers of whole minutes.
    pub fn minutes(before: u32, after: u32) -> Self {
        Self {
            before: TimeDelta::minutes(i64::from(before)),
            after: TimeDelta::minutes(i64::from(after)),
        }
    }

    /// The larger of each side.
    pub fn max(self, other: Buffers) -> Buffers {
        Buffers {
            before: self.before.max(other.before),
            after: self.after.max(other.after),
        }
    }

    /// The longer of the two sides.
    pub fn longest(&self) -> TimeDelta {
        self.before.max(self.after)
    }
}

/// Whether meeting `a` (keeping `a_buffers` free around it) and meeting
/// `b` (keeping `b_buffers`) clash: one of them falls into the other's
/// span or kept time.
pub fn conflicts(a: &Span, a_buffers: Buffers, b: &Span, b_buffers: Buffers) -> bool {
    a.held(a_buffers).overlaps(b) || a.overlaps(&b.held(b_buffers))
}

/// The span around a busy `b` (keeping `b_buffers`) that a meeting keeping
/// `a_buffers` must stay out of: `conflicts(a, a_buffers, b, b_buffers)`
/// exactly when `a` overlaps it.
pub(crate) fn blocked_by(b: &Span, b_buffers: Buffers, a_buffers: Buffers) -> Span {
    Span::new(
        b.start - b_buffers.before.max(a_buffers.after),
        b.end + b_buffers.after.max(a_buffers.before),
    )
}

/// Reads an IANA time zone name (`Europe/London`), refusing unknown ones
/// under `unknown_time_zone`.
pub fn parse_time_zone(name: &str) -> Result<Tz, Rejection> {
    Tz::from_str(name.trim()).map_err(|_| {
        Rejection::new(
            "unknown_time_zone",
            format!(
                "`{name}` is not an IANA time zone (try `Europe/London` or `America/New_York`)"
            ),
        )
    })
}

/// The instant a person means by `local` in `zone`: a time the clocks skip
/// (spring forward) is refused under `nonexistent_local_time`; a time that
/// happens twice (fall back) is its earlier instant.
pub fn resolve_local(local: NaiveDateTime, zone: Tz) -> Result<DateTime<Utc>, Rejection> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(instant) => Ok(instant.with_timezone(&Utc)),
        ambiguous @ LocalResult::Ambiguous(..) => ambiguous
            .earliest()
            .map(|instant| instant.with_timezone(&Utc))
            .ok_or_else(|| nonexistent(local, zone)),
        LocalResult::None => Err(nonexistent(local, zone)),
    }
}

fn nonexistent(local: NaiveDateTime, zone: Tz) -> Rejection {
    Rejection::new(
        "nonexistent_local_time",
        format!(
            "{} does not exist in {}: the clocks skip it for daylight saving time; pick a time outside the gap",
            local.format("%Y-%m-%d %H:%M"),
            zone.name()
        ),
    )
}

/// `local` in `zone`, never failing: the earlier instant of a repeated
/// time, and a skipped time moved forward by the gap.
pub fn lenient_local(local: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
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

/// The spans of `hours` (weekly, local to `zone`) that overlap `within`,
/// clipped to it, sorted and merged.
pub fn weekly_spans(hours: &[WeeklyHours], zone: Tz, within: Span) -> Vec<Span> {
    if hours.is_empty() || within.end <= within.start {
        return Vec::new();
    }
    let first_day = within.start.with_timezone(&zone).date_naive() - TimeDelta::days(1);
    let last_day = within.end.with_timezone(&zone).date_naive() + TimeDelta::days(1);
    let mut spans = Vec::new();
    for day in first_day.iter_days().take_while(|day| *day <= last_day) {
        let weekday = Weekday::from(day.weekday());
        for span in hours.iter().filter(|span| span.day == weekday) {
            let start = lenient_local(day.and_time(span.start), zone).max(within.start);
            let end = lenient_local(day.and_time(span.end), zone).min(within.end);
            if start < end {
                spans.push(Span::new(start, end));
            }
        }
    }
    merge(spans)
}

/// Sorts `spans` and joins those that overlap or touch.
pub fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_unstable();
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// The instants in both lists (each sorted and disjoint).
pub fn intersect(a: &[Span], b: &[Span]) -> Vec<Span> {
    let (mut i, mut j) = (0, 0);
    let mut both = Vec::new();
    while i < a.len() && j < b.len() {
        let start = a[i].start.max(b[j].start);
        let end = a[i].end.min(b[j].end);
        if start < end {
            both.push(Span::new(start, end));
        }
        if a[i].end <= b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    both
}

/// The instants of `from` (sorted, disjoint) outside `taken` (sorted,
/// disjoint).
pub fn subtract(from: &[Span], taken: &[Span]) -> Vec<Span> {
    let mut left = Vec::new();
    let mut j = 0;
    for span in from {
        let mut cursor = span.start;
        while j < taken.len() && taken[j].end <= cursor {
            j += 1;
        }
        let mut k = j;
        while k < taken.len() && taken[k].start < span.end {
            if taken[k].start > cursor {
                left.push(Span::new(cursor, taken[k].start));
            }
            cursor = cursor.max(taken[k].end);
            k += 1;
        }
        if cursor < span.end {
            left.push(Span::new(cursor, span.end));
        }
    }
    left
}

/// A recurrence rule as kept in events: trimmed, without an `RRULE:`
/// prefix.
pub fn normalize_rule(rule: &str) -> String {
    let rule = rule.trim();
    let rule = match rule.get(..6) {
        Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &rule[6..],
        _ => rule,
    };
    rule.trim().to_owned()
}

/// Parses `rule` for a series starting at `start` (local to `zone`): it
/// must be one valid RRULE, repeating daily or less often, whose first
/// occurrence is `start` itself.
pub fn recurrence(rule: &str, start: DateTime<Utc>, zone: Tz) -> Result<RRuleSet, Rejection> {
    let invalid = |why: String| {
        Rejection::new(
            "invalid_recurrence",
            format!("`{rule}` is not a recurrence rule this calendar takes: {why}"),
        )
    };
    if rule.is_empty() || rule.contains(['\n', '\r']) {
        return Err(invalid(
            "give one RRULE value, like `FREQ=WEEKLY;BYDAY=MO`".to_owned(),
        ));
    }
    let parsed: RRule<Unvalidated> = rule.parse().map_err(|e| invalid(format!("{e}")))?;
    if !matches!(
        parsed.get_freq(),
        Frequency::Daily | Frequency::Weekly | Frequency::Monthly | Frequency::Yearly
    ) {
        return Err(Rejection::new(
            "recurrence_too_frequent",
            format!("`{rule}` repeats more often than daily; calendar events repeat at most daily"),
        ));
    }
    let first = start.with_timezone(&rrule::Tz::Tz(zone));
    let validated = parsed
        .validate(first)
        .map_err(|e| invalid(format!("{e} (UNTIL is written in UTC, ending in Z)")))?;
    let series = RRuleSet::new(first).rrule(validated).limit();
    let matches_start = (&series).into_iter().next().is_some_and(|at| at == first);
    if !matches_start {
        return Err(Rejection::new(
            "recurrence_not_matching_start",
            format!(
                "`{rule}` does not repeat on the event's own start {}: start the event on its first occurrence",
                first.format("%Y-%m-%d %H:%M")
            ),
        ));
    }
    Ok(series)
}
