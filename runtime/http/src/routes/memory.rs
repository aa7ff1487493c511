//! The vector memory searched by meaning, when the memory is on.
//!
//! Each search first brings the index in step with the memory read model
//! (an incremental catch-up: rows written since, rows erased since), as
//! `steward memory search` does. The index is saved again only when that
//! rebuilt it or dropped erased rows, so a restart starts from the file and
//! the file never keeps an erased memory's vector for long; saving after
//! every search would rewrite the whole index each time.

use std::sync::Arc;

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use steward_events::Position;
use steward_events::domain::access::Scope;
use steward_projections::ProjectionError;
use steward_projections::memory::{MemoryHit, MemoryIndex, MemoryQuery, SearchError};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::routes::read_models::{instant, text};
use crate::state::ApiState;

/// Most memories one search returns.
pub const MAX_K: usize = 100;
const DEFAULT_K: usize = 5;

/// What to look for.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What it is about, in words (required).
    pub q: Option<String>,
    /// At most this many memories, 1 to 100 (default 5).
    pub k: Option<String>,
    /// Only memories of this domain (`inbox`, `calendar`, `appointments`,
    /// `goals`, `maintenance`, `groceries`, `travel`).
    pub domain: Option<String>,
    /// Only memories recorded at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Only memories recorded before this instant (RFC 3339).
    pub until: Option<String>,
    /// Only memories of events at or before this global position (`42`):
    /// what was known then.
    pub as_of: Option<String>,
}

/// One memory found.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemoryHitView {
    /// Cosine similarity to the query (1 = same meaning).
    pub score: f32,
    /// The remembered text.
    pub text: String,
    /// The event it comes from.
    pub event_id: String,
    /// That event's stream.
    pub stream_id: String,
    /// Its domain.
    pub domain: String,
    /// Its type.
    pub event_type: String,
    /// Its global position.
    pub position: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// The memories found, most similar first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemorySearchResult {
    /// The hits.
    pub hits: Vec<MemoryHitView>,
}

impl From<MemoryHit> for MemoryHitView {
    fn from(hit: MemoryHit) -> Self {
        Self {
            score: hit.score,
            text: hit.text,
            event_id: hit.event_id,
            stream_id: hit.stream_id,
            domain: hit.domain,
            event_type: hit.event_type,
            position: hit.position.to_string(),
            recorded_at: hit.recorded_at,
        }
    }
}

impl SearchParams {
    fn query(&self) -> Result<MemoryQuery, ApiError> {
        let words = text(self.q.as_deref())
            .ok_or_else(|| ApiError::invalid("q", "`q` is required: what to look for"))?;
        let k = match self.k.as_deref() {
            None => DEFAULT_K,
            Some(value) => match value.parse::<usize>() {
                Ok(k) if (1..=MAX_K).contains(&k) => k,
                _ => {
                    return Err(ApiError::invalid(
                        "k",
                        format!("`k` is a whole number from 1 to {MAX_K}, not {value:?}"),
                    ));
                }
            },
        };
        let from = instant("from", self.from.as_deref())?;
        let until = instant("until", self.until.as_deref())?;
        if let (Some(from), Some(until)) = (from, until)
            && from >= until
        {
            return Err(ApiError::invalid("until", "`until` must be after `from`"));
        }
        let as_of = self
            .as_of
            .as_deref()
            .map(|value| {
                value.parse::<Position>().map_err(|_| {
                    ApiError::invalid(
                        "as_of",
                        format!("`as_of` is a global position (`42`), not {value:?}"),
                    )
                })
            })
            .transpose()?;
        Ok(MemoryQuery {
            text: words,
            k,
            domain: text(self.domain.as_deref()),
            from,
            until,
            as_of,
        })
    }
}

fn search_error(error: SearchError) -> ApiError {
    match error {
        SearchError::Projection(error @ ProjectionError::NotBuilt { .. }) => error.into(),
        other => ApiError::internal(other),
    }
}

/// Brings the index up to date, saving it when that rebuilt it or dropped
/// erased memories.
async fn refresh(index: &Arc<MemoryIndex>) -> Result<(), ApiError> {
    let refreshed = index.refresh().await.map_err(search_error)?;
    if refreshed.rebuilt || refreshed.removed > 0 {
        let index = Arc::clone(index);
        // Purging and writing the file is blocking work.
        tokio::task::spawn_blocking(move || index.persist())
            .await
            .map_err(ApiError::internal)?
            .map_err(search_error)?;
    }
    Ok(())
}

/// The memories nearest in meaning to `q`, with their source events.
#[utoipa::path(get, path = "/api/v1/memory/search", operation_id = "memory_search", tag = "read models",
    params(SearchParams),
    responses(
        (status = 200, description = "The memories found, most similar first", body = MemorySearchResult),
        (status = 400, description = "A parameter is missing or not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `read_models:read`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The memory is off (`memory = false`) or not built yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["read_models:read"])))]
#[get("/api/v1/memory/search")]
#[tracing::instrument(skip_all, fields(k = tracing::field::Empty, domain = tracing::field::Empty))]
pub(crate) async fn search(
    state: web::Data<ApiState>,
    caller: Caller,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReadModelsRead)?;
    let query = params.query()?;
    let span = tracing::Span::current();
    span.record("k", query.k);
    if let Some(domain) = &query.domain {
        span.record("domain", domain.as_str());
        caller.require_domain(domain)?;
    }
    let Some(index) = state.memory() else {
        return Err(ApiError::Unavailable(
            "the vector memory is off on this server (`memory = false`): there is nothing to \
             search"
                .to_owned(),
        ));
    };
    refresh(index).await?;
    let hits = index.search(&query).await.map_err(search_error)?;
    Ok(HttpResponse::Ok().json(MemorySearchResult {
        // A household member finds memories of their own domains only.
        hits: hits
            .into_iter()
            .filter(|hit| caller.may_use(&hit.domain))
            .map(MemoryHitView::from)
            .collect(),
    }))
}
