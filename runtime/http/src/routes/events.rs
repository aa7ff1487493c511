//! The log: the timeline index with filters and cursor paging, and one
//! stream's events.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_events::domain::access::Scope;
use steward_events::{Direction, Personal, Position, RecordedEvent, StreamId};
use steward_projections::read_models::timeline::{self, TimelineEntry, TimelineFilter};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Caller, domain_of};
use crate::problem::{ApiError, Problem};
use crate::routes::read_models::instant;
use crate::state::ApiState;

/// Most entries one page holds.
pub const MAX_PAGE: usize = 500;
const DEFAULT_PAGE: usize = 50;

/// Filters of the timeline; all optional, combined with AND.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// One stream (`shoppinglist-home`).
    pub stream: Option<String>,
    /// One stream category (`shoppinglist`).
    pub category: Option<String>,
    /// One event type (`ItemListed`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Who acted (`user:cli`, `token:ci`, `saga:low_stock`).
    pub actor: Option<String>,
    /// One correlation id (UUID).
    pub correlation_id: Option<String>,
    /// Recorded at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Recorded before this instant (RFC 3339).
    pub until: Option<String>,
    /// Full text over the event's type, stream and data.
    pub q: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Entries per page, 1 to 500 (default 50).
    pub limit: Option<String>,
}

/// One event in the timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineItem {
    /// Its global position.
    pub position: String,
    /// Its id.
    pub event_id: String,
    /// Its stream.
    pub stream_id: String,
    /// Its type.
    pub event_type: String,
    /// Who acted.
    pub actor: String,
    /// The correlation id.
    pub correlation_id: String,
    /// What caused it, if recorded.
    pub causation_id: Option<String>,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl From<TimelineEntry> for TimelineItem {
    fn from(entry: TimelineEntry) -> Self {
        Self {
            position: entry.position.to_string(),
            event_id: entry.event_id,
            stream_id: entry.stream_id,
            event_type: entry.event_type,
            actor: entry.actor,
            correlation_id: entry.correlation_id,
            causation_id: entry.causation_id,
            recorded_at: entry.recorded_at,
        }
    }
}

/// A page of the timeline, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelinePage {
    /// The events.
    pub entries: Vec<TimelineItem>,
    /// Pass as `cursor` for the next (older) page; absent on the last.
    pub next_cursor: Option<String>,
}

/// The page size asked for, within bounds.
pub(crate) fn page_size(value: Option<&str>, default: usize) -> Result<usize, ApiError> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.parse::<usize>() {
        Ok(limit) if (1..=MAX_PAGE).contains(&limit) => Ok(limit),
        _ => Err(ApiError::invalid(
            "limit",
            format!("`limit` is a whole number from 1 to {MAX_PAGE}, not {value:?}"),
        )),
    }
}

impl TimelineQuery {
    fn filter(&self) -> Result<TimelineFilter, ApiError> {
        if let Some(stream) = &self.stream {
            StreamId::parse(stream.clone()).map_err(|error| {
                ApiError::invalid("stream", format!("`stream` {stream:?}: {error}"))
            })?;
        }
        if let Some(correlation) = &self.correlation_id {
            Uuid::parse_str(correlation).map_err(|error| {
                ApiError::invalid(
                    "correlation_id",
                    format!("`correlation_id` is not a UUID ({correlation:?}): {error}"),
                )
            })?;
        }
        let from = instant("from", self.from.as_deref())?;
        let until = instant("until", self.until.as_deref())?;
        if let (Some(from), Some(until)) = (from, until)
            && from >= until
        {
            return Err(ApiError::invalid("until", "`until` must be after `from`"));
        }
        Ok(TimelineFilter {
            stream: self.stream.clone(),
            category: self.category.clone(),
            event_type: self.event_type.clone(),
            actor: self.actor.clone(),
            correlation_id: self.correlation_id.clone(),
            from,
            until,
            text: self.q.clone().filter(|q| !q.trim().is_empty()),
            categories: None,
        })
    }

    fn cursor(&self) -> Result<Option<Position>, ApiError> {
        self.cursor
            .as_deref()
            .map(|cursor| {
                cursor.parse::<Position>().map_err(|_| {
                    ApiError::invalid(
                        "cursor",
                        format!("`cursor` {cursor:?} is not a cursor this server gave out"),
                    )
                })
            })
            .transpose()
    }
}

/// The timeline: every event, newest first, filtered and paged.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(TimelineQuery),
    responses(
        (status = 200, description = "A page of events", body = TimelinePage),
        (status = 400, description = "A filter or the cursor is not valid", body = Problem,
            content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `events:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The timeline is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["events:read"])))]
#[get("/api/v1/events")]
pub(crate) async fn query_timeline(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<TimelineQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::EventsRead)?;
    let mut filter = query.filter()?;
    if let Some(category) = &filter.category {
        caller.require_category(category)?;
    }
    if let Some(stream) = &filter.stream
        && let Ok(stream) = StreamId::parse(stream.clone())
    {
        caller.require_category(stream.category())?;
    }
    // A member sees only the categories of their domains.
    filter.categories = caller.visible_categories();
    let cursor = query.cursor()?;
    let limit = page_size(query.limit.as_deref(), DEFAULT_PAGE)?;
    let db = state.read_models();
    let tables = steward_projections::live_tables(db, "timeline").await?;
    let page = timeline::query(db, &tables, &filter, cursor, limit).await?;
    Ok(HttpResponse::Ok().json(TimelinePage {
        entries: page.entries.into_iter().map(TimelineItem::from).collect(),
        next_cursor: page.next.map(|position| position.to_string()),
    }))
}

/// Which part of a stream to read.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The first version to read (default: 0, or the last when backward).
    pub from: Option<String>,
    /// `forward` (default) or `backward`.
    pub direction: Option<String>,
    /// Events per page, 1 to 500 (default 100).
    pub limit: Option<String>,
}

/// An event as stored, its personal part opened.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Its id.
    pub event_id: Uuid,
    /// Its stream.
    pub stream_id: String,
    /// Its place in the stream, from 0.
    pub stream_version: u64,
    /// Its global position.
    pub position: String,
    /// What happened.
    pub event_type: String,
    /// The version of `data`'s shape.
    pub schema_version: u16,
    /// The facts, free of personal data.
    #[schema(value_type = Object)]
    pub data: Value,
    /// The facts about people, when the event has any and they were not
    /// erased.
    #[schema(value_type = Option<Object>)]
    pub personal: Option<Value>,
    /// Whether its personal part was erased.
    pub personal_erased: bool,
    /// Whether its personal part holds credentials (password hashes,
    /// webhook secrets) and is never shown.
    pub personal_withheld: bool,
    /// Correlation, causation, command, actor and subjects.
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl EventView {
    /// The view of `event`. The personal parts of the access domain's
    /// events (password hashes, webhook signing secrets) are withheld from
    /// everyone: they are credentials, not facts about a life.
    pub fn of(event: RecordedEvent) -> Result<Self, ApiError> {
        let withheld =
            event.personal.is_some() && domain_of(event.stream_id.category()) == "access";
        let (personal, personal_erased) = match event.personal {
            _ if withheld => (None, false),
            Some(Personal::Plain(value)) => (Some(value), false),
            Some(Personal::Erased) => (None, true),
            // The store opens every part it returns; a sealed one here is a bug.
            Some(Personal::Sealed(_)) => {
                return Err(ApiError::internal(format!(
                    "event {} reached the API sealed",
                    event.event_id
                )));
            }
            None => (None, false),
        };
        Ok(Self {
            event_id: event.event_id,
            stream_id: event.stream_id.to_string(),
            stream_version: event.stream_version,
            position: event.global_position.to_string(),
            event_type: event.event_type.to_string(),
            schema_version: event.schema_version,
            data: event.data,
            personal,
            personal_erased,
            personal_withheld: withheld,
            metadata: serde_json::to_value(&event.metadata).map_err(ApiError::internal)?,
            recorded_at: event.recorded_at,
        })
    }
}

/// A page of one stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamPage {
    /// The stream.
    pub stream_id: String,
    /// Its events, in the order asked for.
    pub events: Vec<EventView>,
    /// The `from` of the next page; absent when this one reached the end.
    pub next_from: Option<u64>,
}

/// One stream's events, in order.
#[utoipa::path(get, path = "/api/v1/streams/{stream_id}", tag = "events",
    params(("stream_id" = String, Path, description = "The stream, `<category>-<id>`"), StreamQuery),
    responses(
        (status = 200, description = "A page of the stream", body = StreamPage),
        (status = 400, description = "The stream id or a parameter is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `events:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The stream has no events", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["events:read"])))]
#[get("/api/v1/streams/{stream_id}")]
pub(crate) async fn read_stream(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::EventsRead)?;
    let raw = path.into_inner();
    let stream = StreamId::parse(raw.clone())
        .map_err(|error| ApiError::invalid("stream_id", format!("stream {raw:?}: {error}")))?;
    caller.require_category(stream.category())?;
    let direction = match query.direction.as_deref() {
        None | Some("forward") => Direction::Forward,
        Some("backward") => Direction::Backward,
        Some(other) => {
            return Err(ApiError::invalid(
                "direction",
                format!("`direction` is `forward` or `backward`, not {other:?}"),
            ));
        }
    };
    let limit = page_size(query.limit.as_deref(), 100)?;
    let Some(last) = state.store().stream_version(&stream).await? else {
        return Err(ApiError::NotFound(format!(
            "the stream `{stream}` has no events"
        )));
    };
    let from = match query.from.as_deref() {
        Some(value) => value.parse::<u64>().map_err(|_| {
            ApiError::invalid("from", format!("`from` is a stream version, not {value:?}"))
        })?,
        None if direction == Direction::Backward => last,
        None => 0,
    };
    let events = state
        .store()
        .read_stream(&stream, from, direction, limit)
        .await?;
    let next_from = match (direction, events.last()) {
        (Direction::Forward, Some(event)) if event.stream_version < last => {
            Some(event.stream_version + 1)
        }
        (Direction::Backward, Some(event)) if event.stream_version > 0 => {
            Some(event.stream_version - 1)
        }
        _ => None,
    };
    let events = events
        .into_iter()
        .map(EventView::of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(StreamPage {
        stream_id: stream.to_string(),
        events,
        next_from,
    }))
}
