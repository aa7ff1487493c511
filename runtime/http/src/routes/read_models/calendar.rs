//! The agenda: a day of the person's calendars and appointments in their
//! time zone, and free/busy over a range with the double bookings in it.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use steward_events::domain::access::Scope;
use steward_projections::read_models::agenda::{
    Agenda, AgendaAttendee, AgendaEntry, BusyBlock, BusyItem, DoubleBooking, FreeSlot,
};
use utoipa::{IntoParams, ToSchema};

use super::{day, instant, live, name_of};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

/// The agenda's projection.
const AGENDA: &str = "agenda";
/// The longest range free/busy answers for: a quarter.
const MAX_RANGE_DAYS: i64 = 92;

/// Which day.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DayParams {
    /// The day, `YYYY-MM-DD`, midnight to midnight in the configured time
    /// zone (default: today there).
    pub day: Option<String>,
}

/// Someone invited to an event, and their answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendeeView {
    /// Their e-mail address.
    pub email: String,
    /// Their name, if known.
    pub name: Option<String>,
    /// `accepted`, `declined` or `tentative`, if they answered since the
    /// event last moved.
    pub response: Option<String>,
}

/// One occurrence on the agenda.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgendaEntryView {
    /// `calendar_event` or `appointment`.
    pub kind: String,
    /// The calendar it is on (`calendar-work`), for a calendar event.
    pub calendar: Option<String>,
    /// The calendar's name, once set.
    pub calendar_name: Option<String>,
    /// The calendar event's or appointment's id.
    pub item_id: String,
    /// Its title, or the appointment's purpose; absent once erased.
    pub title: Option<String>,
    /// When this occurrence starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
    /// Its start in the configured time zone.
    pub local_start: NaiveDateTime,
    /// Its end in the configured time zone.
    pub local_end: NaiveDateTime,
    /// For a repeating event: this occurrence's local start in the event's
    /// own zone (what cancelling one occurrence names).
    pub occurrence_start: Option<NaiveDateTime>,
    /// Held tentatively (still busy).
    pub tentative: bool,
    /// An invitation the owner received.
    pub invitation: bool,
    /// The owner's answer to an invitation.
    pub own_response: Option<String>,
    /// Where; absent if not said, or erased.
    pub location: Option<String>,
    /// Who sent the invitation.
    pub organizer: Option<String>,
    /// Who is invited, and their answers.
    pub attendees: Vec<AttendeeView>,
    /// The appointment's provider.
    pub provider: Option<String>,
    /// What a calendar event mirrors (`travel:<trip>/<reservation>`).
    pub source: Option<String>,
    /// Events of its calendar it was knowingly booked over.
    pub double_booked_with: Vec<String>,
}

/// A day of the agenda.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgendaDay {
    /// The day.
    pub day: NaiveDate,
    /// The time zone it is a day of (IANA name).
    pub time_zone: String,
    /// Every occurrence overlapping it, by start; declined invitations
    /// are left out.
    pub entries: Vec<AgendaEntryView>,
}

/// Which range.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeParams {
    /// The range's start, RFC 3339.
    pub from: Option<String>,
    /// The range's end, RFC 3339, after `from` and at most 92 days on.
    pub until: Option<String>,
}

/// One occurrence taking the person's time.
#[derive(Debug, Serialize, ToSchema)]
pub struct BusyItemView {
    /// `calendar_event` or `appointment`.
    pub kind: String,
    /// Its calendar, for a calendar event.
    pub calendar: Option<String>,
    /// The calendar event's or appointment's id.
    pub item_id: String,
    /// Its title; absent once erased.
    pub title: Option<String>,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
    /// Held tentatively.
    pub tentative: bool,
}

/// Busy time: occurrences that overlap or touch, merged.
#[derive(Debug, Serialize, ToSchema)]
pub struct BusyBlockView {
    /// Its start, within the range.
    pub starts_at: DateTime<Utc>,
    /// Its end, within the range.
    pub ends_at: DateTime<Utc>,
    /// What makes it busy, by start.
    pub items: Vec<BusyItemView>,
}

/// Free time.
#[derive(Debug, Serialize, ToSchema)]
pub struct FreeSlotView {
    /// Its start.
    pub starts_at: DateTime<Utc>,
    /// Its end.
    pub ends_at: DateTime<Utc>,
}

/// Two occurrences taking the same time, on one calendar or across them.
#[derive(Debug, Serialize, ToSchema)]
pub struct DoubleBookingView {
    /// The one starting first.
    pub first: BusyItemView,
    /// The one starting while `first` is under way.
    pub second: BusyItemView,
}

/// Free and busy time over a range, across every calendar and appointment.
#[derive(Debug, Serialize, ToSchema)]
pub struct FreeBusyView {
    /// The range's start.
    pub from: DateTime<Utc>,
    /// The range's end.
    pub until: DateTime<Utc>,
    /// Busy time, merged, in order.
    pub busy: Vec<BusyBlockView>,
    /// Free time, in order.
    pub free: Vec<FreeSlotView>,
    /// Occurrences overlapping each other, by start.
    pub double_bookings: Vec<DoubleBookingView>,
}

fn attendee_view(attendee: AgendaAttendee) -> AttendeeView {
    AttendeeView {
        email: attendee.email,
        name: attendee.name,
        response: attendee.response.as_ref().map(name_of),
    }
}

fn entry_view(entry: AgendaEntry) -> AgendaEntryView {
    AgendaEntryView {
        kind: name_of(&entry.kind),
        calendar: entry.calendar,
        calendar_name: entry.calendar_name,
        item_id: entry.item_id,
        title: entry.title,
        starts_at: entry.starts_at,
        ends_at: entry.ends_at,
        local_start: entry.local_start,
        local_end: entry.local_end,
        occurrence_start: entry.occurrence_start,
        tentative: entry.tentative,
        invitation: entry.invitation,
        own_response: entry.own_response.as_ref().map(name_of),
        location: entry.location,
        organizer: entry.organizer,
        attendees: entry.attendees.into_iter().map(attendee_view).collect(),
        provider: entry.provider,
        source: entry.source,
        double_booked_with: entry.double_booked_with,
    }
}

fn busy_item_view(item: BusyItem) -> BusyItemView {
    BusyItemView {
        kind: name_of(&item.kind),
        calendar: item.calendar,
        item_id: item.item_id,
        title: item.title,
        starts_at: item.starts_at,
        ends_at: item.ends_at,
        tentative: item.tentative,
    }
}

fn block_view(block: BusyBlock) -> BusyBlockView {
    BusyBlockView {
        starts_at: block.starts_at,
        ends_at: block.ends_at,
        items: block.items.into_iter().map(busy_item_view).collect(),
    }
}

fn free_view(slot: FreeSlot) -> FreeSlotView {
    FreeSlotView {
        starts_at: slot.starts_at,
        ends_at: slot.ends_at,
    }
}

fn double_booking_view(booking: DoubleBooking) -> DoubleBookingView {
    DoubleBookingView {
        first: busy_item_view(booking.first),
        second: busy_item_view(booking.second),
    }
}

/// The agenda of a day in the configured time zone.
#[utoipa::path(get, path = "/api/v1/calendar/agenda", operation_id = "calendar_agenda", tag = "read models",
    params(DayParams),
    responses(
        (status = 200, description = "The day's occurrences", body = AgendaDay),
        (status = 400, description = "`day` is not a day", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The agenda is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/calendar/agenda")]
pub(crate) async fn agenda(
    state: web::Data<ApiState>,
    caller: Caller,
    params: web::Query<DayParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    caller.require_domain("calendar")?;
    let zone = state.time_zone();
    let day = day("day", params.day.as_deref())?
        .unwrap_or_else(|| state.now().with_timezone(&zone).date_naive());
    let tables = live(&state, AGENDA).await?;
    let entries = Agenda::new(zone)
        .day(state.read_models(), &tables, day)
        .await?;
    Ok(HttpResponse::Ok().json(AgendaDay {
        day,
        time_zone: zone.name().to_owned(),
        entries: entries.into_iter().map(entry_view).collect(),
    }))
}

/// Free and busy time over a range, with the double bookings in it.
#[utoipa::path(get, path = "/api/v1/calendar/free-busy", operation_id = "calendar_free_busy", tag = "read models",
    params(RangeParams),
    responses(
        (status = 200, description = "Busy blocks, free slots and double bookings", body = FreeBusyView),
        (status = 400, description = "`from` or `until` is missing or not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The agenda is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/calendar/free-busy")]
pub(crate) async fn free_busy(
    state: web::Data<ApiState>,
    caller: Caller,
    params: web::Query<RangeParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    caller.require_domain("calendar")?;
    let from = instant("from", params.from.as_deref())?
        .ok_or_else(|| ApiError::invalid("from", "`from` is required (RFC 3339)"))?;
    let until = instant("until", params.until.as_deref())?
        .ok_or_else(|| ApiError::invalid("until", "`until` is required (RFC 3339)"))?;
    if until <= from {
        return Err(ApiError::invalid("until", "`until` must be after `from`"));
    }
    if until - from > TimeDelta::days(MAX_RANGE_DAYS) {
        return Err(ApiError::invalid(
            "until",
            format!("the range is at most {MAX_RANGE_DAYS} days"),
        ));
    }
    let tables = live(&state, AGENDA).await?;
    let found = Agenda::new(state.time_zone())
        .free_busy(state.read_models(), &tables, from, until, &[])
        .await?;
    Ok(HttpResponse::Ok().json(FreeBusyView {
        from,
        until,
        busy: found.busy.into_iter().map(block_view).collect(),
        free: found.free.into_iter().map(free_view).collect(),
        double_bookings: found
            .double_bookings
            .into_iter()
            .map(double_booking_view)
            .collect(),
    }))
}
