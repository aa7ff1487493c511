//! An event's causation chain: what led to it and what it led to.
//!
//! Every event's metadata names its `causation_id`: the command or event
//! that directly caused it (a saga's command carries its trigger's event
//! id, and the command's events carry that on). Walking those links up
//! gives the event's ancestors, down (breadth-first) its descendants. The
//! links are found in the timeline read model (indexed by event id and by
//! causation id); the events themselves are read from the store, their
//! personal parts opened, as the audit console shows them.

use std::collections::HashSet;

use actix_web::{HttpResponse, get, web};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use steward_events::domain::access::Scope;
use steward_projections::read_models::timeline::{self, TimelineEntry};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::routes::events::EventView;
use crate::state::ApiState;

/// Most ancestors, and most descendants, one answer holds.
pub const MAX_CHAIN: usize = 500;

/// How many events are read from the store at once.
const READS_IN_FLIGHT: usize = 8;

/// An event with its causes and its effects.
#[derive(Debug, Serialize, ToSchema)]
pub struct CausationChain {
    /// The event asked about.
    pub event: EventView,
    /// What led to it, from the first cause down to its direct cause. The
    /// walk stops at a cause that is not an event (a command's id, as the
    /// first ancestor's `metadata.causation_id` shows) or that the timeline
    /// does not hold.
    pub ancestors: Vec<EventView>,
    /// What it led to, breadth-first: its direct effects in log order, then
    /// theirs.
    pub descendants: Vec<EventView>,
    /// Whether there are more ancestors or descendants than the 500 of each
    /// returned.
    pub truncated: bool,
}

/// The causation links around one event, as the timeline knows them.
#[derive(Debug)]
struct Links {
    ancestors: Vec<TimelineEntry>,
    descendants: Vec<TimelineEntry>,
    truncated: bool,
}

/// Walks up from `event` through its causes, then down through its effects.
async fn links(
    db: &steward_projections::ReadDb,
    tables: &steward_projections::Tables,
    event: &TimelineEntry,
) -> Result<Links, ApiError> {
    // Ids already placed, so that a causation cycle (which only a
    // hand-written causation id could make) ends the walk.
    let mut seen = HashSet::from([event.event_id.clone()]);
    let mut truncated = false;

    let mut ancestors = Vec::new();
    let mut cause = event.causation_id.clone();
    while let Some(id) = cause {
        if !seen.insert(id.clone()) {
            break;
        }
        if ancestors.len() == MAX_CHAIN {
            truncated = true;
            break;
        }
        // Not an event (a command's id): the chain begins here.
        let Some(parent) = timeline::by_event_id(db, tables, &id).await? else {
            break;
        };
        cause = parent.causation_id.clone();
        ancestors.push(parent);
    }
    ancestors.reverse();

    let mut descendants = Vec::new();
    let mut level = vec![event.event_id.clone()];
    'walk: while !level.is_empty() {
        // One more than fits tells whether the chain goes on.
        let room = MAX_CHAIN - descendants.len() + 1;
        let mut next = Vec::new();
        for child in timeline::caused_by(db, tables, &level, room).await? {
            if !seen.insert(child.event_id.clone()) {
                continue;
            }
            if descendants.len() == MAX_CHAIN {
                truncated = true;
                break 'walk;
            }
            next.push(child.event_id.clone());
            descendants.push(child);
        }
        level = next;
    }
    Ok(Links {
        ancestors,
        descendants,
        truncated,
    })
}

/// The stored events of `entries`, in their order.
async fn events(state: &ApiState, entries: Vec<TimelineEntry>) -> Result<Vec<EventView>, ApiError> {
    stream::iter(entries)
        .map(|entry| stored(state, entry))
        .buffered(READS_IN_FLIGHT)
        .try_collect()
        .await
}

/// The stored event a timeline entry stands for. The timeline keeps its
/// global position, not its stream version: the one event after the
/// position just before it is it.
async fn stored(state: &ApiState, entry: TimelineEntry) -> Result<EventView, ApiError> {
    let event = state
        .store()
        .read_all(entry.position.predecessor(), 1)
        .await?
        .pop()
        .filter(|event| event.event_id.to_string() == entry.event_id)
        .ok_or_else(|| {
            ApiError::internal(format!(
                "the timeline has event {} at {}, the store does not",
                entry.event_id, entry.position
            ))
        })?;
    EventView::of(event)
}

/// An event, what led to it and what it led to.
///
/// Ancestors follow `metadata.causation_id` upwards until a cause is not an
/// event; descendants are the events caused by it, breadth-first. Each
/// side holds at most 500 events (`truncated` says when there are more).
/// Events the timeline has not indexed yet are not found.
#[utoipa::path(get, path = "/api/v1/events/{event_id}/chain", tag = "events", operation_id = "causation_chain",
    params(("event_id" = String, Path, description = "The event's id (a UUID)")),
    responses(
        (status = 200, description = "The event with its ancestors and descendants", body = CausationChain),
        (status = 400, description = "The event id is not a UUID", body = Problem,
            content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `events:read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The timeline has no event with this id", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = "The timeline is not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["events:read"])))]
#[get("/api/v1/events/{event_id}/chain")]
#[tracing::instrument(name = "causation_chain", skip_all, fields(event_id = %path.as_str()))]
pub(crate) async fn chain(
    state: web::Data<ApiState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::EventsRead)?;
    let raw = path.into_inner();
    let event_id = Uuid::parse_str(&raw).map_err(|error| {
        ApiError::invalid(
            "event_id",
            format!("`event_id` is not a UUID ({raw:?}): {error}"),
        )
    })?;
    let db = state.read_models();
    let tables = steward_projections::live_tables(db, "timeline").await?;
    let Some(entry) = timeline::by_event_id(db, &tables, &event_id.to_string()).await? else {
        return Err(ApiError::NotFound(format!(
            "the timeline has no event {event_id}"
        )));
    };
    caller.require_category(&category_of(&entry.stream_id))?;
    let mut links = links(db, &tables, &entry).await?;
    // A household member sees the links in their own domains only.
    let visible = |entry: &TimelineEntry| {
        caller
            .require_category(&category_of(&entry.stream_id))
            .is_ok()
    };
    links.ancestors.retain(visible);
    links.descendants.retain(visible);
    Ok(HttpResponse::Ok().json(CausationChain {
        event: stored(&state, entry).await?,
        ancestors: events(&state, links.ancestors).await?,
        descendants: events(&state, links.descendants).await?,
        truncated: links.truncated,
    }))
}

/// The category of a stream id as the timeline stores it.
fn category_of(stream_id: &str) -> String {
    steward_events::StreamId::parse(stream_id)
        .map(|stream| stream.category().to_owned())
        .unwrap_or_default()
}
