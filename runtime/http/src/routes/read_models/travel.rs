//! Travel: trips, and one trip's itinerary with the issues found in it.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_events::domain::access::Scope;
use steward_projections::read_models::travel::{self, Itinerary, Segment, Trip, TripFilter};
use utoipa::{IntoParams, ToSchema};

use super::{day, flag, json_of, live, name_of};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

const TRAVEL: &str = "travel";

/// Which trips.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TripParams {
    /// Only trips whose last day is on or after this day, `YYYY-MM-DD`
    /// (today: the upcoming ones and those under way).
    pub ending_on_or_after: Option<String>,
    /// `true`: cancelled trips too.
    pub include_cancelled: Option<String>,
}

/// A trip.
#[derive(Debug, Serialize, ToSchema)]
pub struct TripView {
    /// The trip (`lisbon` for the stream `trip-lisbon`).
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
    /// How many reservations it holds.
    pub reservations: i64,
    /// How many issues its itinerary has.
    pub issues: i64,
}

/// One reservation in an itinerary.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentView {
    /// The reservation.
    pub reservation_id: String,
    /// `flight`, `train`, `hotel`, `car_hire`…
    pub kind: String,
    /// Who provides it.
    pub provider: String,
    /// The flight or train number, if any.
    pub number: Option<String>,
    /// When and where it holds, as `ReservationAdded` describes it.
    #[schema(value_type = Object)]
    pub schedule: Value,
    /// `pending` or `confirmed`.
    pub state: String,
    /// The booking code; absent if not known, or erased.
    pub confirmation_code: Option<String>,
    /// The address; absent if not known, or erased.
    pub address: Option<String>,
    /// Who travels on it; empty once erased.
    pub travellers: Vec<String>,
}

/// A trip with its reservations in order and the issues found in them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItineraryView {
    /// The trip.
    pub trip: TripView,
    /// Its reservations, in the order they happen.
    pub segments: Vec<SegmentView>,
    /// What is wrong with them, as `ItineraryIssueFound` describes it.
    #[schema(value_type = Vec<Object>)]
    pub issues: Value,
}

fn trip_view(trip: Trip) -> TripView {
    TripView {
        trip_id: trip.trip_id,
        title: trip.title,
        destination: trip.destination,
        starts_on: trip.starts_on,
        ends_on: trip.ends_on,
        minimum_connection_minutes: trip.minimum_connection_minutes,
        cancelled_at: trip.cancelled_at,
        reservations: trip.reservations,
        issues: trip.issues,
    }
}

fn segment_view(segment: Segment) -> Result<SegmentView, ApiError> {
    Ok(SegmentView {
        reservation_id: segment.reservation_id,
        kind: name_of(&segment.kind),
        provider: segment.provider,
        number: segment.number,
        schedule: json_of(&segment.schedule)?,
        state: name_of(&segment.state),
        confirmation_code: segment.confirmation_code,
        address: segment.address,
        travellers: segment.travellers,
    })
}

fn itinerary_view(found: Itinerary) -> Result<ItineraryView, ApiError> {
    Ok(ItineraryView {
        trip: trip_view(found.trip),
        segments: found
            .segments
            .into_iter()
            .map(segment_view)
            .collect::<Result<_, _>>()?,
        issues: json_of(&found.issues)?,
    })
}

/// The trips, by first day.
#[utoipa::path(get, path = "/api/v1/travel/trips", operation_id = "travel_trips", tag = "read models",
    params(TripParams),
    responses(
        (status = 200, description = "The trips", body = Vec<TripView>),
        (status = 400, description = "A parameter is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The travel read model is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/travel/trips")]
pub(crate) async fn trips(
    state: web::Data<ApiState>,
    caller: Caller,
    params: web::Query<TripParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    caller.require_domain("travel")?;
    let filter = TripFilter {
        ending_on_or_after: day("ending_on_or_after", params.ending_on_or_after.as_deref())?,
        include_cancelled: flag("include_cancelled", params.include_cancelled.as_deref())?,
    };
    let tables = live(&state, TRAVEL).await?;
    let found = travel::trips(state.read_models(), &tables, &filter).await?;
    let views: Vec<TripView> = found.into_iter().map(trip_view).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// One trip's itinerary: its reservations in order and its issues.
#[utoipa::path(get, path = "/api/v1/travel/trips/{trip_id}", operation_id = "travel_itinerary", tag = "read models",
    params(("trip_id" = String, Path, description = "The trip (`lisbon` for the stream `trip-lisbon`)")),
    responses(
        (status = 200, description = "The itinerary", body = ItineraryView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such trip was planned", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The travel read model is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/travel/trips/{trip_id}")]
pub(crate) async fn itinerary(
    state: web::Data<ApiState>,
    caller: Caller,
    trip_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    caller.require_domain("travel")?;
    let tables = live(&state, TRAVEL).await?;
    let found = travel::itinerary(state.read_models(), &tables, &trip_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no trip `{trip_id}` was planned")))?;
    Ok(HttpResponse::Ok().json(itinerary_view(found)?))
}
