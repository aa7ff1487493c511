//! Travel: trips, and each trip's itinerary (its reservations in the order
//! they happen, with the issues the trip found in it).
//!
//! Reservations are ordered by the day they start (a journey's departure
//! day where it departs, a stay's check-in day), journeys before stays on
//! the same day (one arrives, then checks in), then by departure. A
//! cancelled reservation leaves the itinerary; a cancelled trip stays
//! listed, marked, unless left out.
//!
//! Confirmation codes, addresses and travellers' names are personal. The
//! names are dropped when a subject of the event that added the
//! reservation is erased; the code and address when a subject of the event
//! that last wrote them is: a confirmation carries its own copy of them,
//! under the owner alone (`ReservationConfirmed` names no travellers).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use steward_events::RecordedEvent;
use steward_events::domain::travel::{
    ItineraryIssue, ReservationKind, ReservationSchedule, TripEvent,
};

use crate::db::{Dialect, ReadDb};
use crate::error::{ApplyError, ProjectionError};
use crate::projection::{ApplyContext, Projection};
use crate::read_models::sql::{
    Bind, Conditions, day, day_text, decode_set, erased_subject, forget_row, forget_subject,
    from_json, from_name, instant_opt, json_text, millis, name_of, personal_readable,
    remember_subjects, rows_of_subject, subjects_table,
};
use crate::tables::Tables;

/// The travel projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Travel;

const TRIPS: &str = "travel_trips";
const RESERVATIONS: &str = "travel_reservations";
const ISSUES: &str = "travel_issues";
const SUBJECTS: &str = "travel_subjects";

/// The travellers' names, written when a reservation is added.
const PART_TRAVELLERS: &str = "travellers";
/// The confirmation code and address, written when added or confirmed.
const PART_BOOKING: &str = "booking";

#[async_trait]
impl Projection for Travel {
    fn name(&self) -> &'static str {
        "travel"
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TRIPS, RESERVATIONS, ISSUES, SUBJECTS]
    }

    fn create(&self, _dialect: Dialect, tables: &Tables) -> Vec<String> {
        let trips = tables.name(TRIPS);
        let reservations = tables.name(RESERVATIONS);
        let issues = tables.name(ISSUES);
        let mut statements = vec![
            format!(
                "CREATE TABLE {trips} (
                    trip_key TEXT PRIMARY KEY,
                    trip_id TEXT NOT NULL,
                    title TEXT NOT NULL,
                    destination TEXT NOT NULL,
                    starts_on TEXT NOT NULL,
                    ends_on TEXT NOT NULL,
                    minimum_connection_minutes BIGINT,
                    cancelled_at_ms BIGINT
                )"
            ),
            format!(
                "CREATE INDEX {} ON {trips} (starts_on)",
                tables.name(&format!("{TRIPS}_starts"))
            ),
            format!(
                "CREATE TABLE {reservations} (
                    reservation_key TEXT PRIMARY KEY,
                    trip_key TEXT NOT NULL,
                    reservation_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    number TEXT,
                    schedule TEXT NOT NULL,
                    confirmed BIGINT NOT NULL,
                    confirmation_code TEXT,
                    address TEXT,
                    travellers TEXT,
                    sort_day TEXT NOT NULL,
                    sort_rank BIGINT NOT NULL,
                    sort_ms BIGINT NOT NULL
                )"
            ),
            format!(
                "CREATE INDEX {} ON {reservations} (trip_key, sort_day, sort_rank, sort_ms)",
                tables.name(&format!("{RESERVATIONS}_order"))
            ),
            format!(
                "CREATE TABLE {issues} (
                    issue_key TEXT PRIMARY KEY,
                    trip_key TEXT NOT NULL,
                    issue TEXT NOT NULL
                )"
            ),
            format!(
                "CREATE INDEX {} ON {issues} (trip_key)",
                tables.name(&format!("{ISSUES}_trip"))
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
        let Some(trip_event) = decode_set::<TripEvent>(event)? else {
            return Ok(());
        };
        let trips = cx.tables.name(TRIPS);
        let reservations = cx.tables.name(RESERVATIONS);
        let issues = cx.tables.name(ISSUES);
        let subjects = cx.tables.name(SUBJECTS);
        let trip = event.stream_id.as_str();
        match trip_event {
            TripEvent::Planned(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {trips} (trip_key, trip_id, title, destination, starts_on, ends_on)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (trip_key) DO UPDATE SET title = excluded.title,
                        destination = excluded.destination, starts_on = excluded.starts_on,
                        ends_on = excluded.ends_on"
                )))
                .bind(trip)
                .bind(event.stream_id.id())
                .bind(&e.title)
                .bind(&e.destination)
                .bind(day_text(e.starts_on))
                .bind(day_text(e.ends_on))
                .execute(&mut *connection)
                .await?;
            }
            TripEvent::ReservationAdded(e) => {
                let key = child_key(trip, &e.reservation_id);
                let (sort_day, sort_rank, sort_ms) = sort_key(&e.schedule);
                let readable = personal_readable(event);
                let travellers = if readable {
                    Some(json_text(&e.travellers)?)
                } else {
                    None
                };
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {reservations} (reservation_key, trip_key, reservation_id, kind,
                        provider, number, schedule, confirmed, confirmation_code, address,
                        travellers, sort_day, sort_rank, sort_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11, $12, $13)
                     ON CONFLICT (reservation_key) DO UPDATE SET kind = excluded.kind,
                        provider = excluded.provider, number = excluded.number,
                        schedule = excluded.schedule, confirmed = 0,
                        confirmation_code = excluded.confirmation_code,
                        address = excluded.address, travellers = excluded.travellers,
                        sort_day = excluded.sort_day, sort_rank = excluded.sort_rank,
                        sort_ms = excluded.sort_ms"
                )))
                .bind(&key)
                .bind(trip)
                .bind(&e.reservation_id)
                .bind(name_of(&e.kind)?)
                .bind(&e.provider)
                .bind(e.number.clone())
                .bind(json_text(&e.schedule)?)
                .bind(e.confirmation_code.clone().filter(|_| readable))
                .bind(e.address.clone().filter(|_| readable))
                .bind(travellers)
                .bind(sort_day)
                .bind(sort_rank)
                .bind(sort_ms)
                .execute(&mut *connection)
                .await?;
                remember_subjects(connection, &subjects, PART_TRAVELLERS, &key, event).await?;
                remember_subjects(connection, &subjects, PART_BOOKING, &key, event).await?;
            }
            TripEvent::ReservationConfirmed(e) => {
                let key = child_key(trip, &e.reservation_id);
                let (sort_day, sort_rank, sort_ms) = sort_key(&e.schedule);
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {reservations} SET confirmed = 1, kind = $2, provider = $3,
                        number = $4, schedule = $5, sort_day = $6, sort_rank = $7, sort_ms = $8
                     WHERE reservation_key = $1"
                )))
                .bind(&key)
                .bind(name_of(&e.kind)?)
                .bind(&e.provider)
                .bind(e.number.clone())
                .bind(json_text(&e.schedule)?)
                .bind(sort_day)
                .bind(sort_rank)
                .bind(sort_ms)
                .execute(&mut *connection)
                .await?;
                // Its own copy of the code and address, when it carries one.
                let carries_booking = e.confirmation_code.is_some() || e.address.is_some();
                if personal_readable(event) && carries_booking {
                    sqlx::query(AssertSqlSafe(format!(
                        "UPDATE {reservations} SET
                            confirmation_code = COALESCE($2, confirmation_code),
                            address = COALESCE($3, address)
                         WHERE reservation_key = $1"
                    )))
                    .bind(&key)
                    .bind(e.confirmation_code.clone())
                    .bind(e.address.clone())
                    .execute(&mut *connection)
                    .await?;
                    remember_subjects(connection, &subjects, PART_BOOKING, &key, event).await?;
                }
            }
            TripEvent::ReservationCancelled(e) => {
                let key = child_key(trip, &e.reservation_id);
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {reservations} WHERE reservation_key = $1"
                )))
                .bind(&key)
                .execute(&mut *connection)
                .await?;
                forget_row(connection, &subjects, PART_TRAVELLERS, &key).await?;
                forget_row(connection, &subjects, PART_BOOKING, &key).await?;
            }
            TripEvent::MinimumConnectionSet(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {trips} SET minimum_connection_minutes = $2 WHERE trip_key = $1"
                )))
                .bind(trip)
                .bind(i64::from(e.minutes))
                .execute(&mut *connection)
                .await?;
            }
            TripEvent::Cancelled(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {trips} SET cancelled_at_ms = $2 WHERE trip_key = $1"
                )))
                .bind(trip)
                .bind(millis(e.cancelled_at))
                .execute(&mut *connection)
                .await?;
            }
            TripEvent::IssueFound(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {issues} (issue_key, trip_key, issue) VALUES ($1, $2, $3)
                     ON CONFLICT (issue_key) DO UPDATE SET issue = excluded.issue"
                )))
                .bind(child_key(trip, &e.key))
                .bind(trip)
                .bind(json_text(&e.issue)?)
                .execute(&mut *connection)
                .await?;
            }
            TripEvent::IssueResolved(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {issues} WHERE issue_key = $1"
                )))
                .bind(child_key(trip, &e.key))
                .execute(&mut *connection)
                .await?;
            }
        }
        Ok(())
    }
}

fn child_key(trip: &str, id: &str) -> String {
    format!("{trip}/{id}")
}

/// Where a reservation goes in its itinerary: the day it starts (local to
/// where it starts), journeys before stays, then the instant it starts.
fn sort_key(schedule: &ReservationSchedule) -> (String, i64, i64) {
    match schedule {
        ReservationSchedule::Transport { departs_at, .. } => (
            day_text(departs_at.date_naive()),
            0,
            departs_at.timestamp_millis(),
        ),
        ReservationSchedule::Stay { check_in, .. } => (
            day_text(*check_in),
            1,
            check_in
                .and_time(NaiveTime::MIN)
                .and_utc()
                .timestamp_millis(),
        ),
    }
}

/// Drops the personal data of `subject` from every reservation.
async fn forget(
    connection: &mut AnyConnection,
    tables: &Tables,
    subject: &str,
) -> Result<(), ApplyError> {
    let reservations = tables.name(RESERVATIONS);
    let subjects = tables.name(SUBJECTS);
    forget_subject(
        connection,
        &subjects,
        subject,
        &[
            format!(
                "UPDATE {reservations} SET travellers = NULL WHERE reservation_key {}",
                rows_of_subject(&subjects, PART_TRAVELLERS)
            ),
            format!(
                "UPDATE {reservations} SET confirmation_code = NULL, address = NULL
                 WHERE reservation_key {}",
                rows_of_subject(&subjects, PART_BOOKING)
            ),
        ],
    )
    .await
}

// ------------------------------------------------------------------ readers

/// A trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trip {
    /// The trip (`spring` for the stream `trip-spring`).
    pub trip_id: String,
    /// What it is called.
    pub title: String,
    /// Where it goes.
    pub destination: String,
    /// Its first day.
    pub starts_on: NaiveDate,
    /// Its last day.
    pub ends_on: NaiveDate,
    /// The shortest connection the traveller accepts, once set.
    pub minimum_connection_minutes: Option<i64>,
    /// When it was called off, if it was.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// How many reservations it holds (not cancelled).
    pub reservations: i64,
    /// How many issues its itinerary has.
    pub issues: i64,
}

/// Where a reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    /// Added, not confirmed by its provider yet.
    Pending,
    /// Confirmed by its provider.
    Confirmed,
}

/// One reservation in an itinerary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// The reservation.
    pub reservation_id: String,
    /// What is reserved.
    pub kind: ReservationKind,
    /// Who provides it.
    pub provider: String,
    /// The flight or train number, if any.
    pub number: Option<String>,
    /// When and where it holds.
    pub schedule: ReservationSchedule,
    /// Where it stands.
    pub state: ReservationState,
    /// The booking code (`None` if not known, or erased).
    pub confirmation_code: Option<String>,
    /// The address (`None` if not known, or erased).
    pub address: Option<String>,
    /// Who travels on it; empty once erased.
    pub travellers: Vec<String>,
}

/// A trip with its reservations in order and the issues found in them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Itinerary {
    /// The trip.
    pub trip: Trip,
    /// Its reservations, in the order they happen.
    pub segments: Vec<Segment>,
    /// What is wrong with them, by key.
    pub issues: Vec<ItineraryIssue>,
}

/// Which trips to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TripFilter {
    /// Trips whose last day is on or after this day (upcoming and under
    /// way ones, when it is today).
    pub ending_on_or_after: Option<NaiveDate>,
    /// Cancelled trips too.
    pub include_cancelled: bool,
}

const TRIP_COLUMNS: &str = "t.trip_key, t.trip_id, t.title, t.destination, t.starts_on, t.ends_on,
    t.minimum_connection_minutes, t.cancelled_at_ms";

/// The trips `filter` picks, by first day.
pub async fn trips(
    db: &ReadDb,
    tables: &Tables,
    filter: &TripFilter,
) -> Result<Vec<Trip>, ProjectionError> {
    let mut conditions = Conditions::default();
    if let Some(day) = filter.ending_on_or_after {
        conditions.add("t.ends_on >= ?", [Bind::Text(day_text(day))]);
    }
    if !filter.include_cancelled {
        conditions.add("t.cancelled_at_ms IS NULL", []);
    }
    let sql = format!(
        "SELECT {TRIP_COLUMNS} FROM {} t {} ORDER BY t.starts_on, t.trip_id",
        tables.name(TRIPS),
        conditions.where_clause()
    );
    let rows = conditions.query(sql).fetch_all(db.pool()).await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        found.push(trip_of(db, tables, row).await?);
    }
    Ok(found)
}

/// The itinerary of the trip `trip_id` (`spring` for `trip-spring`), if
/// it was planned.
pub async fn itinerary(
    db: &ReadDb,
    tables: &Tables,
    trip_id: &str,
) -> Result<Option<Itinerary>, ProjectionError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {TRIP_COLUMNS} FROM {} t WHERE t.trip_id = $1",
        tables.name(TRIPS)
    )))
    .bind(trip_id)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let trip = trip_of(db, tables, &row).await?;
    let trip_key: String = row.try_get("trip_key")?;
    let segments = sqlx::query(AssertSqlSafe(format!(
        "SELECT reservation_id, kind, provider, number, schedule, confirmed, confirmation_code,
            address, travellers
         FROM {} WHERE trip_key = $1
         ORDER BY sort_day, sort_rank, sort_ms, reservation_id",
        tables.name(RESERVATIONS)
    )))
    .bind(&trip_key)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|row| {
        let kind: String = row.try_get("kind")?;
        let schedule: String = row.try_get("schedule")?;
        let travellers: Option<String> = row.try_get("travellers")?;
        Ok(Segment {
            reservation_id: row.try_get("reservation_id")?,
            kind: from_name(&kind)?,
            provider: row.try_get("provider")?,
            number: row.try_get("number")?,
            schedule: from_json(&schedule)?,
            state: if row.try_get::<i64, _>("confirmed")? != 0 {
                ReservationState::Confirmed
            } else {
                ReservationState::Pending
            },
            confirmation_code: row.try_get("confirmation_code")?,
            address: row.try_get("address")?,
            travellers: travellers
                .as_deref()
                .map(from_json)
                .transpose()?
                .unwrap_or_default(),
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let issues = sqlx::query(AssertSqlSafe(format!(
        "SELECT issue FROM {} WHERE trip_key = $1 ORDER BY issue_key",
        tables.name(ISSUES)
    )))
    .bind(&trip_key)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|row| from_json(&row.try_get::<String, _>("issue")?))
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Some(Itinerary {
        trip,
        segments,
        issues,
    }))
}

async fn trip_of(db: &ReadDb, tables: &Tables, row: &AnyRow) -> Result<Trip, ProjectionError> {
    let trip_key: String = row.try_get("trip_key")?;
    let count = |table: &str| {
        format!(
            "SELECT COUNT(*) AS n FROM {} WHERE trip_key = $1",
            tables.name(table)
        )
    };
    let reservations: i64 = sqlx::query(AssertSqlSafe(count(RESERVATIONS)))
        .bind(&trip_key)
        .fetch_one(db.pool())
        .await?
        .try_get("n")?;
    let issues: i64 = sqlx::query(AssertSqlSafe(count(ISSUES)))
        .bind(&trip_key)
        .fetch_one(db.pool())
        .await?
        .try_get("n")?;
    let starts_on: String = row.try_get("starts_on")?;
    let ends_on: String = row.try_get("ends_on")?;
    Ok(Trip {
        trip_id: row.try_get("trip_id")?,
        title: row.try_get("title")?,
        destination: row.try_get("destination")?,
        starts_on: day(&starts_on)?,
        ends_on: day(&ends_on)?,
        minimum_connection_minutes: row.try_get("minimum_connection_minutes")?,
        cancelled_at: instant_opt(row.try_get("cancelled_at_ms")?),
        reservations,
        issues,
    })
}
