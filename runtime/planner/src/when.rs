//! [`resolve_when`]: a request's `date` and `time` slots ("tomorrow
//! morning", "half past two", "the 22nd", "next week") as a point or a
//! stretch of time in the person's time zone.
//!
//! The calendar arithmetic (weekdays, month names, "in two weeks", "2 days
//! ago", clock times) is `interim`'s; this module puts what people say into
//! the forms it reads and adds what it leaves out: ordinals ("the 3rd"),
//! clock words ("quarter to nine"), parts of the day, stretches ("this
//! weekend", "next month"), a bare hour's half of the day, and a preference
//! for the future ("jan 15" said in December is next January).

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, Months, NaiveDate, NaiveTime, TimeZone,
    Timelike, Weekday,
};
use chrono_tz::Tz;
use interim::{Dialect, parse_date_string};
use serde::Serialize;

/// When something is, in the person's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum When {
    /// A point in time: "tomorrow at 9", "friday 3:30pm".
    At {
        /// The moment.
        at: DateTime<Tz>,
    },
    /// A stretch without a chosen point: "tomorrow morning", "next week",
    /// "after 5pm"; `end` is excluded.
    Within {
        /// Its first moment.
        start: DateTime<Tz>,
        /// The moment after it.
        end: DateTime<Tz>,
    },
}

impl When {
    /// Where it starts.
    pub fn start(&self) -> DateTime<Tz> {
        match *self {
            When::At { at } => at,
            When::Within { start, .. } => start,
        }
    }
}

/// Words that could not be read as a date or time; the planner asks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot tell when {text:?} is")]
pub struct UnclearWhen {
    /// The words, as said.
    pub text: String,
}

/// The parts of a day people name, as hours `[start, end)`.
const PARTS_OF_DAY: [(&str, u32, u32); 6] = [
    ("first thing", 8, 9),
    ("morning", 8, 12),
    ("afternoon", 12, 17),
    ("evening", 17, 21),
    ("tonight", 19, 23),
    ("night", 19, 23),
];

/// Typed short forms and slips of the planner's data, as interim reads them.
const SPELLINGS: [(&str, &str); 6] = [
    ("tmrw", "tomorrow"),
    ("tmr", "tomorrow"),
    ("tomoro", "tomorrow"),
    ("tommorow", "tomorrow"),
    ("weds", "wed"),
    ("thurs", "thu"),
];

const NUMBER_WORDS: [(&str, u32); 12] = [
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
];

/// Resolves a `date` and a `time` slot, either of which may be absent,
/// relative to `now` (in the person's zone). A date alone is its whole day
/// (or the part named); a time alone is its next occurrence.
pub fn resolve_when(
    date: Option<&str>,
    time: Option<&str>,
    now: DateTime<Tz>,
) -> Result<Option<When>, UnclearWhen> {
    let day = date.map(|text| read_date(text, now)).transpose()?;
    let clock = time.map(read_time).transpose()?;
    let zone = now.timezone();
    Ok(match (day, clock) {
        (None, None) => None,
        (Some(day), None) => Some(day.when(zone)?),
        (Some(day), Some(clock)) => {
            let date = day.first;
            let hour = clock.hour_on(day.part);
            Some(clock.when(zone, date, hour)?)
        }
        (None, Some(clock)) => {
            // The next time the clock shows it: today if still ahead.
            let today = now.date_naive();
            let hour = clock.hour_after(now);
            let date = if local(zone, today, hour, clock.minute)? > now {
                today
            } else {
                today + Days::new(1)
            };
            Some(clock.when(zone, date, hour)?)
        }
    })
}

/// Days (and perhaps a part of the day) a date slot names.
#[derive(Debug, Clone, Copy)]
struct DaySpan {
    first: NaiveDate,
    /// Days covered: 1 for a day, 2 for a weekend, 7 for a week.
    days: u64,
    /// The part of the day named, as hours.
    part: Option<(u32, u32)>,
}

impl DaySpan {
    fn day(first: NaiveDate) -> Self {
        Self {
            first,
            days: 1,
            part: None,
        }
    }

    fn when(self, zone: Tz) -> Result<When, UnclearWhen> {
        let (from, to) = self.part.unwrap_or((0, 24));
        let start = local(zone, self.first, from, 0)?;
        let last = self.first + Days::new(self.days - 1);
        let end = if to == 24 {
            local(zone, last + Days::new(1), 0, 0)?
        } else {
            local(zone, last, to, 0)?
        };
        Ok(When::Within { start, end })
    }
}

/// A clock time, with the half of the day still open for a bare hour.
#[derive(Debug, Clone, Copy)]
struct Clock {
    hour: u32,
    minute: u32,
    /// "11", "half past two": am or pm is for the context to say.
    bare: bool,
    /// "after lunch", "after 5pm": from then to the end of the day.
    after: bool,
}

impl Clock {
    /// A bare hour on a day: within the part of the day named if any, else
    /// 7 to 11 in the morning and 12 to 6 in the afternoon or evening.
    fn hour_on(self, part: Option<(u32, u32)>) -> u32 {
        if !self.bare || self.hour > 12 {
            return self.hour;
        }
        let pm = self.hour % 12 + 12;
        match part {
            Some((from, _)) if from >= 12 => pm,
            Some(_) => self.hour % 12,
            None if (7..=11).contains(&self.hour) => self.hour,
            None => pm,
        }
    }

    /// A bare hour said today: the next of its two times.
    fn hour_after(self, now: DateTime<Tz>) -> u32 {
        if !self.bare || self.hour > 12 {
            return self.hour;
        }
        let (am, pm) = (self.hour % 12, self.hour % 12 + 12);
        let minutes_now = now.time().signed_duration_since(NaiveTime::MIN);
        let at = |hour: u32| Duration::minutes(i64::from(hour * 60 + self.minute));
        if at(am) > minutes_now || at(pm) <= minutes_now {
            am
        } else {
            pm
        }
    }

    fn when(self, zone: Tz, date: NaiveDate, hour: u32) -> Result<When, UnclearWhen> {
        let at = local(zone, date, hour, self.minute)?;
        if self.after {
            let end = local(zone, date + Days::new(1), 0, 0)?;
            Ok(When::Within { start: at, end })
        } else {
            Ok(When::At { at })
        }
    }
}

fn local(zone: Tz, date: NaiveDate, hour: u32, minute: u32) -> Result<DateTime<Tz>, UnclearWhen> {
    let unclear = || UnclearWhen {
        text: format!("{date} {hour:02}:{minute:02}"),
    };
    let naive = date.and_hms_opt(hour, minute, 0).ok_or_else(unclear)?;
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(at) => Ok(at),
        // The clocks went back: the earlier of the two.
        LocalResult::Ambiguous(earlier, _) => Ok(earlier),
        // The clocks went forward over it: an hour later is the same wall
        // clock reading people mean.
        LocalResult::None => zone
            .from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
            .ok_or_else(unclear),
    }
}

/// Lower case, single spaces, known slips spelled out, filler dropped.
fn normalise(text: &str) -> String {
    let lower = text.to_lowercase().replace(['?', '!', ','], " ");
    let words: Vec<&str> = lower
        .split_whitespace()
        .map(|word| {
            SPELLINGS
                .iter()
                .find(|(typed, _)| *typed == word)
                .map_or(word, |(_, meant)| meant)
        })
        .collect();
    let mut text = words.join(" ");
    for filler in ["on ", "at ", "around ", "by ", "about ", "for "] {
        if let Some(rest) = text.strip_prefix(filler) {
            text = rest.to_owned();
        }
    }
    text
}

fn number(word: &str) -> Option<u32> {
    word.parse().ok().or_else(|| {
        NUMBER_WORDS
            .iter()
            .find(|(name, _)| *name == word)
            .map(|(_, n)| *n)
    })
}

fn read_time(text: &str) -> Result<Clock, UnclearWhen> {
    let unclear = || UnclearWhen {
        text: text.to_owned(),
    };
    let mut said = normalise(text);
    let after = said.starts_with("after ");
    if let Some(rest) = said.strip_prefix("after ").or(said.strip_prefix("before ")) {
        said = rest.to_owned();
    }
    let clock = |hour: u32, minute: u32, bare: bool| Clock {
        hour,
        minute,
        bare,
        after,
    };
    match said.as_str() {
        "noon" | "midday" => return Ok(clock(12, 0, false)),
        "midnight" => return Ok(clock(0, 0, false)),
        "lunch" => return Ok(clock(13, 0, false)),
        "first thing" => return Ok(clock(8, 0, false)),
        _ => {}
    }
    let words: Vec<&str> = said.split(' ').collect();
    // "half past two", "quarter to nine", "ten past six"
    if let [minutes, relation @ ("past" | "to"), hour] = words.as_slice() {
        let minutes = match *minutes {
            "half" => 30,
            "quarter" => 15,
            other => number(other).filter(|m| *m < 60).ok_or_else(unclear)?,
        };
        let hour = number(hour)
            .filter(|h| (1..=12).contains(h))
            .ok_or_else(unclear)?;
        return Ok(if *relation == "past" {
            clock(hour, minutes, true)
        } else {
            clock(if hour == 1 { 12 } else { hour - 1 }, 60 - minutes, true)
        });
    }
    // "4 o'clock", "3 in the afternoon", "11", "seven"
    let hour_word = |word: &str| number(word).filter(|h| (1..=12).contains(h));
    match words.as_slice() {
        [hour] | [hour, "o'clock" | "oclock"] if hour_word(hour).is_some() => {
            return hour_word(hour)
                .map(|h| clock(h, 0, true))
                .ok_or_else(unclear);
        }
        [hour, "in", "the", part] if hour_word(hour).is_some() => {
            let h = hour_word(hour).ok_or_else(unclear)?;
            let pm = matches!(*part, "afternoon" | "evening");
            return Ok(clock(if pm { h % 12 + 12 } else { h % 12 }, 0, false));
        }
        _ => {}
    }
    // Clock readings interim knows: "10am", "2:15 pm", "16:00", "9:30".
    let zone = Tz::UTC;
    let base = zone
        .with_ymd_and_hms(2000, 1, 3, 0, 0, 0)
        .single()
        .ok_or_else(unclear)?;
    let parsed = parse_date_string(&said, base, Dialect::Us).map_err(|_| unclear())?;
    if parsed.date_naive() != base.date_naive() {
        return Err(unclear());
    }
    // "9:30" could be either half of the day; "9:30am" and "16:00" cannot.
    let names_half = said.contains("am") || said.contains("pm");
    let bare = !names_half && (1..=12).contains(&parsed.hour());
    Ok(clock(parsed.hour(), parsed.minute(), bare))
}

fn read_date(text: &str, now: DateTime<Tz>) -> Result<DaySpan, UnclearWhen> {
    let unclear = || UnclearWhen {
        text: text.to_owned(),
    };
    let said = normalise(text);
    let today = now.date_naive();

    // A part of the day, before or after the day: "tomorrow morning",
    // "this evening", "first thing tomorrow", "tonight".
    let (mut rest, mut part) = (said.clone(), None);
    for (name, from, to) in PARTS_OF_DAY {
        if said == name {
            return Ok(DaySpan {
                part: Some((from, to)),
                ..DaySpan::day(today)
            });
        }
        if let Some(day) = said
            .strip_suffix(name)
            .or_else(|| said.strip_prefix(name))
            .map(str::trim)
        {
            rest = day.to_owned();
            part = Some((from, to));
            break;
        }
    }
    let rest = rest.strip_prefix("this ").map_or(rest.as_str(), |r| r);
    let rest = if rest.is_empty() { "today" } else { rest };
    let mut span = read_days(rest, now).ok_or_else(unclear)?;
    if part.is_some() {
        span.part = part;
        span.days = 1;
    }
    if span.first < today - Days::new(400) {
        return Err(unclear());
    }
    Ok(span)
}

fn read_days(said: &str, now: DateTime<Tz>) -> Option<DaySpan> {
    let today = now.date_naive();
    let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    let saturday = monday + Days::new(5);
    let first_of_month = today.with_day(1)?;
    let stretch = |first: NaiveDate, days: u64| DaySpan {
        first,
        days,
        part: None,
    };
    match said {
        "today" | "earlier today" | "later today" => return Some(DaySpan::day(today)),
        "day after tomorrow" | "the day after tomorrow" => {
            return Some(DaySpan::day(today + Days::new(2)));
        }
        "weekend" | "the weekend" => {
            let first = if today.weekday() == Weekday::Sun {
                today
            } else {
                saturday.max(today)
            };
            let days = if first.weekday() == Weekday::Sun {
                1
            } else {
                2
            };
            return Some(stretch(first, days));
        }
        "next weekend" => return Some(stretch(saturday + Days::new(7), 2)),
        "last weekend" => return Some(stretch(saturday - Days::new(7), 2)),
        "week" | "later this week" => {
            let days = 7 - u64::from(today.weekday().num_days_from_monday());
            return Some(stretch(today, days));
        }
        "next week" => return Some(stretch(monday + Days::new(7), 7)),
        "last week" => return Some(stretch(monday - Days::new(7), 7)),
        "end of the week" | "the end of the week" | "end of week" => {
            return Some(DaySpan::day((monday + Days::new(4)).max(today)));
        }
        "month" | "later this month" => {
            let next = first_of_month.checked_add_months(Months::new(1))?;
            return Some(stretch(today, (next - today).num_days() as u64));
        }
        "next month" => {
            let first = first_of_month.checked_add_months(Months::new(1))?;
            let after = first.checked_add_months(Months::new(1))?;
            return Some(stretch(first, (after - first).num_days() as u64));
        }
        "last month" => {
            let first = first_of_month.checked_sub_months(Months::new(1))?;
            return Some(stretch(first, (first_of_month - first).num_days() as u64));
        }
        _ => {}
    }
    let words: Vec<&str> = said.split(' ').collect();
    // "the 3rd", "the 22nd": the next such day of a month.
    if let ["the", ordinal] | [ordinal] = words.as_slice()
        && let Some(day) = ordinal_day(ordinal)
    {
        let this_month = today.with_day(day);
        return match this_month {
            Some(date) if date >= today => Some(DaySpan::day(date)),
            _ => (1..=12)
                .filter_map(|m| first_of_month.checked_add_months(Months::new(m)))
                .find_map(|first| first.with_day(day))
                .map(DaySpan::day),
        };
    }
    // "in a week", "in two weeks", "two days ago": numbers as interim reads them.
    let relative: Vec<String> = words
        .iter()
        .filter(|word| **word != "in")
        .map(|word| match *word {
            "a" | "an" => "1".to_owned(),
            other => number(other).map_or_else(|| other.to_owned(), |n| n.to_string()),
        })
        .collect();
    // "march 3rd": interim reads "march 3".
    let relative: Vec<String> = relative
        .into_iter()
        .map(|word| ordinal_day(&word).map_or(word, |day| day.to_string()))
        .collect();
    let spoken = relative.join(" ");
    let parsed = parse_date_string(&spoken, now, Dialect::Us).ok()?;
    let mut date = parsed.date_naive();
    // A month and day already past this year is next year's, unless the
    // words look back ("last", "ago", "yesterday").
    let looks_back = ["last", "ago", "yesterday"]
        .iter()
        .any(|word| spoken.contains(word));
    let names_month = relative.iter().any(|word| is_month(word));
    if names_month && !looks_back && date < today {
        date = date.checked_add_months(Months::new(12))?;
    }
    Some(DaySpan::day(date))
}

fn ordinal_day(word: &str) -> Option<u32> {
    let digits = word
        .strip_suffix("st")
        .or_else(|| word.strip_suffix("nd"))
        .or_else(|| word.strip_suffix("rd"))
        .or_else(|| word.strip_suffix("th"))?;
    digits.parse().ok().filter(|day| (1..=31).contains(day))
}

fn is_month(word: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    word.len() >= 3 && MONTHS.iter().any(|month| word.starts_with(month))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris() -> Tz {
        "Europe/Paris".parse().expect("a zone")
    }

    /// Wednesday 2 December 2026, 10:00 in Paris.
    fn now() -> DateTime<Tz> {
        paris()
            .with_ymd_and_hms(2026, 12, 2, 10, 0, 0)
            .single()
            .expect("a time")
    }

    fn at(day: u32, month: u32, hour: u32, minute: u32) -> DateTime<Tz> {
        let year = if month < 12 { 2027 } else { 2026 };
        paris()
            .with_ymd_and_hms(year, month, day, hour, minute, 0)
            .single()
            .expect("a time")
    }

    fn when(date: Option<&str>, time: Option<&str>) -> When {
        resolve_when(date, time, now())
            .unwrap_or_else(|e| panic!("{date:?} {time:?}: {e}"))
            .unwrap_or_else(|| panic!("{date:?} {time:?}: nothing"))
    }

    fn within(start: DateTime<Tz>, end: DateTime<Tz>) -> When {
        When::Within { start, end }
    }

    #[test]
    fn days_with_and_without_a_time() {
        assert_eq!(
            when(Some("tomorrow"), Some("9am")),
            When::At {
                at: at(3, 12, 9, 0)
            }
        );
        assert_eq!(
            when(Some("tmrw"), None),
            within(at(3, 12, 0, 0), at(4, 12, 0, 0))
        );
        assert_eq!(
            when(Some("on Monday"), Some("2:15 pm")),
            When::At {
                at: at(7, 12, 14, 15)
            }
        );
        assert_eq!(
            when(Some("the day after tomorrow"), Some("16:00")),
            When::At {
                at: at(4, 12, 16, 0)
            }
        );
        assert_eq!(when(Some("in two weeks"), None).start(), at(16, 12, 0, 0));
    }

    #[test]
    fn parts_of_the_day_are_stretches_and_place_a_bare_hour() {
        assert_eq!(
            when(Some("tomorrow morning"), None),
            within(at(3, 12, 8, 0), at(3, 12, 12, 0))
        );
        assert_eq!(
            when(Some("friday afternoon"), Some("3")),
            When::At {
                at: at(4, 12, 15, 0)
            }
        );
        assert_eq!(
            when(Some("tonight"), None),
            within(at(2, 12, 19, 0), at(2, 12, 23, 0))
        );
        assert_eq!(
            when(Some("first thing tomorrow"), None).start(),
            at(3, 12, 8, 0)
        );
    }

    #[test]
    fn clock_words_and_bare_hours() {
        assert_eq!(
            when(Some("today"), Some("quarter to nine")),
            When::At {
                at: at(2, 12, 8, 45)
            }
        );
        assert_eq!(
            when(Some("tomorrow"), Some("half past two")),
            When::At {
                at: at(3, 12, 14, 30)
            }
        );
        assert_eq!(
            when(Some("tomorrow"), Some("3 in the afternoon")),
            When::At {
                at: at(3, 12, 15, 0)
            }
        );
        assert_eq!(
            when(Some("tomorrow"), Some("4 o'clock")),
            When::At {
                at: at(3, 12, 16, 0)
            }
        );
        // Said at 10:00: "at 11" is this morning, "at 9" tonight.
        assert_eq!(
            when(None, Some("11")),
            When::At {
                at: at(2, 12, 11, 0)
            }
        );
        assert_eq!(
            when(None, Some("9")),
            When::At {
                at: at(2, 12, 21, 0)
            }
        );
        assert_eq!(
            when(None, Some("noon")),
            When::At {
                at: at(2, 12, 12, 0)
            }
        );
        assert_eq!(
            when(None, Some("8 pm")),
            When::At {
                at: at(2, 12, 20, 0)
            }
        );
        // 9:30 in the morning has passed: tomorrow's.
        assert_eq!(
            when(None, Some("7:45am")),
            When::At {
                at: at(3, 12, 7, 45)
            }
        );
    }

    #[test]
    fn after_a_time_is_the_rest_of_that_day() {
        assert_eq!(
            when(Some("tuesday"), Some("after 5pm")),
            within(at(8, 12, 17, 0), at(9, 12, 0, 0))
        );
        assert_eq!(
            when(Some("tomorrow"), Some("after lunch")),
            within(at(3, 12, 13, 0), at(4, 12, 0, 0))
        );
    }

    #[test]
    fn stretches_of_days() {
        assert_eq!(
            when(Some("next week"), None),
            within(at(7, 12, 0, 0), at(14, 12, 0, 0))
        );
        assert_eq!(
            when(Some("this weekend"), None),
            within(at(5, 12, 0, 0), at(7, 12, 0, 0))
        );
        assert_eq!(
            when(Some("next month"), None),
            within(at(1, 1, 0, 0), at(1, 2, 0, 0))
        );
        assert_eq!(when(Some("end of the week"), None).start(), at(4, 12, 0, 0));
    }

    #[test]
    fn dates_of_a_month_prefer_the_future() {
        assert_eq!(when(Some("the 22nd"), None).start(), at(22, 12, 0, 0));
        // The 1st of December has passed: January's.
        assert_eq!(when(Some("the 1st"), None).start(), at(1, 1, 0, 0));
        assert_eq!(when(Some("jan 15"), None).start(), at(15, 1, 0, 0));
        assert_eq!(when(Some("March 3rd"), None).start(), at(3, 3, 0, 0));
        assert_eq!(
            when(Some("two days ago"), None).start(),
            at(30, 11, 0, 0).with_year(2026).expect("a date")
        );
    }

    #[test]
    fn what_cannot_be_read_is_unclear_not_guessed() {
        for (date, time) in [
            (Some("whenever"), None),
            (Some("the 45th"), None),
            (None, Some("teatime-ish")),
            (None, Some("quarter to thirteen")),
        ] {
            assert!(
                resolve_when(date, time, now()).is_err(),
                "{date:?} {time:?}"
            );
        }
        assert_eq!(resolve_when(None, None, now()), Ok(None));
    }
}
