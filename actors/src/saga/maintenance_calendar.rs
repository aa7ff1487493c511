//! `maintenance_calendar`: a maintenance task falling due gets a tentative
//! hour on the calendar, for the person to keep or move.
//!
//! On [`MaintenanceTaskFellDue`] in `asset-<asset>` it sends `ProposeSlot`
//! to the configured calendar (key `propose`): 60 minutes within the
//! owner's working hours, from the start of the day it fell due (or when it
//! was recorded, if later) to the start of its `overdue_on` day, when it
//! becomes overdue. A window shorter than a day (no grace days, or a task
//! recorded due late) becomes [`DEFAULT_GRACE_DAYS`] days from its start, so
//! that the task still finds a time. The event id
//! ([`MaintenanceCalendar::event_id`]) names the asset, the task and the
//! day it fell due, so each cycle of a task gets its own slot and a repeat
//! of the same cycle changes nothing.
//!
//! The event carries ids only, not the task's title or the asset's name, so
//! the slot is titled `Maintenance: <task id> (<asset id>)`.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use serde_json::json;
use steward_events::domain::DomainEvent as _;
use steward_events::domain::maintenance::MaintenanceTaskFellDue;
use steward_events::{RecordedEvent, StreamId};

use super::ids::{bounded, day_token, start_of, token};
use super::{Reaction, Saga, decode};
use crate::aggregate::Aggregate as _;
use crate::maintenance::{Asset, DEFAULT_GRACE_DAYS};

/// How long a proposed maintenance slot lasts, in minutes.
pub const SLOT_MINUTES: u32 = 60;
/// The longest calendar event id (the calendar's limit).
const MAX_EVENT_ID_CHARS: usize = 200;
/// The longest calendar event title (the calendar's limit).
const MAX_TITLE_CHARS: usize = 300;

/// Proposes calendar time for maintenance that fell due.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceCalendar {
    calendar: StreamId,
}

impl MaintenanceCalendar {
    /// The saga, proposing time on `calendar`.
    pub fn new(calendar: StreamId) -> Self {
        Self { calendar }
    }

    /// The calendar event id of a task's cycle that fell due on `since`:
    /// `maintenance-<asset>.<task>-<yyyymmdd>`, the ids as tokens (letters,
    /// digits, `-` and escapes, so the `.` parts them), cut to 200
    /// characters.
    pub fn event_id(asset_id: &str, task_id: &str, since: NaiveDate) -> String {
        bounded(
            &format!(
                "maintenance-{}.{}-{}",
                token(asset_id),
                token(task_id),
                day_token(since)
            ),
            MAX_EVENT_ID_CHARS,
        )
    }

    /// When the slot may be: see the module's documentation.
    fn window(
        due: &MaintenanceTaskFellDue,
        recorded_at: DateTime<Utc>,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        let not_before = start_of(due.since).max(recorded_at);
        let overdue = start_of(due.overdue_on);
        let not_after = if overdue - not_before >= TimeDelta::days(1) {
            overdue
        } else {
            not_before
                .checked_add_days(Days::new(u64::from(DEFAULT_GRACE_DAYS)))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        };
        (not_before, not_after)
    }
}

impl Saga for MaintenanceCalendar {
    fn name(&self) -> &'static str {
        "maintenance_calendar"
    }

    fn reacts_to(&self) -> &'static [&'static str] {
        &[MaintenanceTaskFellDue::EVENT_TYPE]
    }

    fn react(&self, event: &RecordedEvent) -> Vec<Reaction> {
        if event.stream_id.category() != Asset::CATEGORY {
            return Vec::new();
        }
        let Some(due) = decode::<MaintenanceTaskFellDue>(event) else {
            return Vec::new();
        };
        let asset_id = event.stream_id.id();
        let (not_before, not_after) = Self::window(&due, event.recorded_at);
        let title: String = format!("Maintenance: {} ({asset_id})", due.task_id)
            .chars()
            .take(MAX_TITLE_CHARS)
            .collect();
        let data = json!({
            "event_id": Self::event_id(asset_id, &due.task_id, due.since),
            "title": title,
            "duration_minutes": SLOT_MINUTES,
            "not_before": not_before,
            "not_after": not_after,
            "source": format!("maintenance:{asset_id}/{}/{}", due.task_id, due.since),
        });
        vec![Reaction::new(
            "propose",
            self.calendar.clone(),
            "ProposeSlot",
            data,
        )]
    }
}
