//! The live event stream: every committed event, in global order, as
//! Server-Sent Events, from where the client left off.
//!
//! Each event is one SSE message whose `id` is its global position, whose
//! `event` is its type and whose `data` is the [`EventView`] the stream
//! routes answer with. A client that loses the connection reconnects with
//! `Last-Event-ID` (a browser's `EventSource` does so by itself) and gets
//! exactly the events after the last one it saw: the store's
//! `subscribe_all` pages through the log after that position and then
//! follows new commits, never skipping or repeating one.
//!
//! The response is a plain stream over the subscription, with no task of
//! its own: when the client goes away actix drops it, and the subscription
//! with it. (A closed connection reads like a half-closed one, so actix
//! notices when writing to it fails: at the latest at the next comment.)
//! A comment every [`HEARTBEAT`] keeps proxies from closing an idle
//! connection, and [`LiveShutdown`] ends every stream when the server
//! stops, so that open streams do not hold up a graceful shutdown.

use std::collections::HashSet;
use std::time::Duration;

use actix_web::http::header::{self, HeaderMap};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use futures::stream::{Stream, StreamExt, unfold};
use steward_events::domain::access::Scope;
use steward_events::{EventStream, Position, RecordedEvent};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::routes::events::EventView;
use crate::state::ApiState;

/// How long a stream stays silent before it sends a `: keep-alive` comment.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// The header a reconnecting `EventSource` names the last event it got in.
const LAST_EVENT_ID: &str = "Last-Event-ID";

/// Ends every live stream once cancelled. [`crate::serve`] registers its
/// shutdown token as app data; without one, streams end only when their
/// client goes away.
#[derive(Debug, Clone, Default)]
pub struct LiveShutdown(CancellationToken);

impl LiveShutdown {
    /// Streams end when `token` is cancelled.
    pub fn new(token: CancellationToken) -> Self {
        Self(token)
    }
}

/// Where to start and which events to send. Only documents the parameters:
/// they are read from the query's pairs, so that `category` may repeat.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// Send the events after this global position (an event's `position`;
    /// `0` for the whole log). Without it (and without `Last-Event-ID`,
    /// which wins), only events committed from now on.
    pub after: Option<String>,
    /// Only events of streams of these categories (`shoppinglist`);
    /// repeat the parameter or separate with commas.
    pub category: Option<Vec<String>>,
    /// Only events of these types (`ItemListed`); repeat the parameter or
    /// separate with commas.
    #[param(rename = "type")]
    pub event_type: Option<Vec<String>>,
}

/// Which events a stream sends; an empty set lets all through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct LiveFilter {
    categories: HashSet<String>,
    event_types: HashSet<String>,
    /// The categories the caller may see at all (`None`: every one, for
    /// the owner); a household member's stream never leaves their domains.
    visible: Option<HashSet<String>>,
}

impl LiveFilter {
    fn matches(&self, event: &RecordedEvent) -> bool {
        let category = event.stream_id.category();
        self.visible
            .as_ref()
            .is_none_or(|visible| visible.contains(category))
            && (self.categories.is_empty() || self.categories.contains(category))
            && (self.event_types.is_empty() || self.event_types.contains(event.event_type.as_str()))
    }
}

/// What a request asks for: the position to start after (`None`: the
/// log's head now) and the filter.
#[derive(Debug, PartialEq, Eq)]
struct LiveRequest {
    after: Option<Position>,
    filter: LiveFilter,
}

impl LiveRequest {
    /// Reads the query's pairs and the `Last-Event-ID` header; anything
    /// unknown or malformed is refused, naming the parameter.
    fn parse(pairs: &[(String, String)], headers: &HeaderMap) -> Result<Self, ApiError> {
        let mut after = None;
        let mut filter = LiveFilter::default();
        for (name, value) in pairs {
            match name.as_str() {
                "after" if after.is_some() => {
                    return Err(ApiError::invalid("after", "`after` is given twice"));
                }
                "after" => after = Some(position("after", value)?),
                "category" => filter.categories.extend(list(value)),
                "type" => filter.event_types.extend(list(value)),
                other => {
                    return Err(ApiError::invalid(
                        other,
                        format!(
                            "unknown parameter `{other}`: the stream takes `after`, `category` and `type`"
                        ),
                    ));
                }
            }
        }
        // A reconnecting client resends its first URL, so the header (the
        // last event it got) wins over the `after` it started with.
        if let Some(value) = headers.get(LAST_EVENT_ID) {
            let value = value.to_str().map_err(|_| {
                ApiError::invalid(LAST_EVENT_ID, "`Last-Event-ID` is not a position")
            })?;
            // An empty id is how the SSE standard says "no last event".
            if !value.trim().is_empty() {
                after = Some(position(LAST_EVENT_ID, value.trim())?);
            }
        }
        Ok(Self { after, filter })
    }
}

fn position(field: &str, value: &str) -> Result<Position, ApiError> {
    value.parse().map_err(|_| {
        ApiError::invalid(
            field,
            format!(
                "`{field}` is a position this server gave out (an event's `position`, \
                 or 0 for the beginning), not {value:?}"
            ),
        )
    })
}

/// The names of a comma-separated list, blanks dropped.
fn list(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

/// Every committed event, in global order, as Server-Sent Events.
///
/// Each message has `id` = the event's global position (send it back as
/// `Last-Event-ID` to resume), `event` = its type and `data` = the event as
/// JSON, its personal part opened. A `: keep-alive` comment comes every
/// 15 s of silence.
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events", operation_id = "stream_events",
    params(LiveQuery,
        ("Last-Event-ID" = Option<String>, Header,
            description = "The `id` of the last message received: resume after it (wins over `after`)")),
    responses(
        (status = 200, description = "An endless stream of events, one SSE message each", body = EventView,
            content_type = "text/event-stream"),
        (status = 400, description = "`after`, `Last-Event-ID` or a parameter is not valid", body = Problem,
            content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `events:read`", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["events:read"])))]
#[get("/api/v1/events/stream")]
#[tracing::instrument(name = "live_stream", skip_all, fields(actor = %caller.actor()))]
pub(crate) async fn stream(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<Vec<(String, String)>>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::EventsRead)?;
    let LiveRequest { after, mut filter } = LiveRequest::parse(&query, request.headers())?;
    for category in &filter.categories {
        caller.require_category(category)?;
    }
    filter.visible = caller
        .visible_categories()
        .map(|categories| categories.into_iter().collect());
    let after = match after {
        Some(after) => after,
        None => state.store().head().await?.unwrap_or(Position::ORIGIN),
    };
    let shutdown = request
        .app_data::<web::Data<LiveShutdown>>()
        .map(|shutdown| shutdown.0.clone())
        .unwrap_or_default();
    tracing::debug!(%after, "live stream opened");
    let events = state.store().subscribe_all(after);
    // A token revoked, a session ended or a member's domains changed end
    // the stream; the client reconnects with what it may see now.
    let admitted: Admission = {
        let state = state.clone();
        Box::new(move || {
            let state = state.clone();
            let caller = caller.clone();
            Box::pin(async move {
                state
                    .access()
                    .still_admits(&caller, state.now())
                    .await
                    .unwrap_or_else(|error| {
                        // A passing failure to read the access stream does
                        // not end a stream the caller was let into.
                        tracing::warn!(%error, "live stream: could not recheck the caller");
                        true
                    })
            })
        })
    };
    Ok(HttpResponse::Ok()
        .content_type(russe::MEDIA_TYPE_STR)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // nginx would otherwise hold events back to fill its buffer.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(frames(
            events, filter, HEARTBEAT, shutdown, admitted, RECHECK,
        )))
}

/// What a stream holds between two frames.
struct Live {
    events: EventStream,
    filter: LiveFilter,
    heartbeat: Interval,
    keep_alive: Bytes,
    shutdown: CancellationToken,
    /// Whether the caller is still let in; asked every `recheck` tick.
    admitted: Admission,
    recheck: Interval,
    /// Set once a frame failed: the stream ends after reporting it.
    ended: bool,
}

/// Asks whether the stream's caller is still let in (their token or
/// session not revoked, their domains the same).
pub(crate) type Admission =
    Box<dyn Fn() -> futures::future::BoxFuture<'static, bool> + Send + Sync + 'static>;

/// How often an open stream checks that its caller is still let in.
const RECHECK: Duration = Duration::from_secs(5);

impl Drop for Live {
    fn drop(&mut self) {
        tracing::debug!("live stream closed");
    }
}

/// The SSE frames of `events`: those passing `filter`, a keep-alive comment
/// after each `heartbeat` of silence, until the client goes away (the
/// stream is dropped) or `shutdown` is cancelled.
fn frames(
    events: EventStream,
    filter: LiveFilter,
    heartbeat: Duration,
    shutdown: CancellationToken,
    admitted: Admission,
    recheck: Duration,
) -> impl Stream<Item = Result<Bytes, ApiError>> + 'static {
    let mut ticks = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut rechecks = tokio::time::interval_at(Instant::now() + recheck, recheck);
    rechecks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let keep_alive = russe::Event::Comment("keep-alive".into())
        .into_bytestring()
        .map(|comment| comment.into_bytes())
        .unwrap_or_else(|_| Bytes::from_static(b": keep-alive\n\n"));
    let live = Live {
        events,
        filter,
        heartbeat: ticks,
        keep_alive,
        shutdown,
        admitted,
        recheck: rechecks,
        ended: false,
    };
    unfold(live, |mut live| async move {
        if live.ended {
            return None;
        }
        loop {
            tokio::select! {
                biased;
                () = live.shutdown.cancelled() => return None,
                next = live.events.next() => match next {
                    None => return None,
                    // The subscription retries by itself after a pause.
                    Some(Err(error)) => {
                        tracing::warn!(%error, "live stream: reading the log failed; retrying");
                    }
                    Some(Ok(event)) if !live.filter.matches(&event) => {}
                    Some(Ok(event)) => {
                        live.heartbeat.reset();
                        let frame = frame(event);
                        if let Err(error) = &frame {
                            // Skipping the event would break the promise of
                            // a gapless stream: end it, so the failure shows.
                            tracing::error!(%error, "live stream ended: an event could not be sent");
                            live.ended = true;
                        }
                        return Some((frame, live));
                    }
                },
                // Not reset by events: a busy stream is checked as often.
                _ = live.recheck.tick() => {
                    if !(live.admitted)().await {
                        tracing::info!("live stream ended: its caller is no longer let in");
                        return None;
                    }
                }
                _ = live.heartbeat.tick() => {
                    let keep_alive = live.keep_alive.clone();
                    return Some((Ok(keep_alive), live));
                }
            }
        }
    })
}

/// One event as an SSE message.
fn frame(event: RecordedEvent) -> Result<Bytes, ApiError> {
    let id = event.global_position.to_string();
    let event_type = event.event_type.to_string();
    let view = EventView::of(event)?;
    let data = serde_json::to_string(&view).map_err(ApiError::internal)?;
    russe::Event::Message(russe::Message {
        data: data.into(),
        event: Some(event_type.into()),
        retry: None,
        id: Some(id.into()),
    })
    .into_bytestring()
    .map(|message| message.into_bytes())
    .map_err(|error| ApiError::internal(format!("event {} cannot be sent: {error}", view.event_id)))
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;
    use steward_events::StoreError;

    use super::*;

    fn parse(query: &str, last_event_id: Option<&str>) -> Result<LiveRequest, ApiError> {
        let pairs: Vec<(String, String)> = web::Query::from_query(query)
            .map(web::Query::into_inner)
            .expect("pairs");
        let mut headers = HeaderMap::new();
        if let Some(id) = last_event_id {
            headers.insert(
                header::HeaderName::from_static("last-event-id"),
                HeaderValue::from_str(id).expect("header"),
            );
        }
        LiveRequest::parse(&pairs, &headers)
    }

    fn field(result: Result<LiveRequest, ApiError>) -> Option<String> {
        match result {
            Err(ApiError::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    fn set(names: &[&str]) -> HashSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn the_header_wins_over_after_and_filters_repeat_or_list() {
        let request = parse(
            "after=3&category=shoppinglist,pantry&category=%20home%20&type=ItemListed",
            Some("7"),
        )
        .expect("valid");
        assert_eq!(request.after, Some(Position::sequence(7)));
        assert_eq!(
            request.filter.categories,
            set(&["shoppinglist", "pantry", "home"])
        );
        assert_eq!(request.filter.event_types, set(&["ItemListed"]));

        assert_eq!(
            parse("after=0", None).expect("valid").after,
            Some(Position::ORIGIN)
        );
        assert_eq!(
            parse("after=5:4", Some("")).expect("valid").after,
            Some(Position::commit_prepare(5, 4))
        );
        assert_eq!(
            parse("", None).expect("valid"),
            LiveRequest {
                after: None,
                filter: LiveFilter::default()
            }
        );
    }

    #[test]
    fn bad_positions_and_unknown_parameters_name_themselves() {
        assert_eq!(field(parse("after=soon", None)).as_deref(), Some("after"));
        assert_eq!(
            field(parse("after=1&after=2", None)).as_deref(),
            Some("after")
        );
        assert_eq!(
            field(parse("after=1", Some("-4"))).as_deref(),
            Some("Last-Event-ID")
        );
        assert_eq!(field(parse("colour=red", None)).as_deref(), Some("colour"));
    }

    async fn next_within(
        frames: &mut (impl Stream<Item = Result<Bytes, ApiError>> + Unpin),
        within: Duration,
    ) -> Option<Option<Bytes>> {
        tokio::time::timeout(within, frames.next())
            .await
            .ok()
            .map(|frame| frame.map(|frame| frame.expect("a frame")))
    }

    fn always() -> Admission {
        Box::new(|| Box::pin(async { true }))
    }

    #[tokio::test]
    async fn a_caller_no_longer_let_in_ends_the_stream_even_while_busy() {
        let admitted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let check = std::sync::Arc::clone(&admitted);
        let admission: Admission = Box::new(move || {
            let still = check.load(std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move { still })
        });
        let mut frames = Box::pin(frames(
            futures::stream::pending().boxed(),
            LiveFilter::default(),
            Duration::from_millis(20),
            CancellationToken::new(),
            admission,
            Duration::from_millis(50),
        ));
        assert!(
            next_within(&mut frames, Duration::from_secs(5))
                .await
                .is_some_and(|f| f.is_some()),
            "a keep-alive while still let in"
        );
        admitted.store(false, std::sync::atomic::Ordering::SeqCst);
        let mut ended = false;
        for _ in 0..20 {
            if next_within(&mut frames, Duration::from_secs(5)).await == Some(None) {
                ended = true;
                break;
            }
        }
        assert!(ended, "the stream ends once its caller is no longer let in");
    }

    #[tokio::test]
    async fn silence_is_broken_by_keep_alive_comments() {
        let shutdown = CancellationToken::new();
        let mut frames = Box::pin(frames(
            futures::stream::pending().boxed(),
            LiveFilter::default(),
            Duration::from_millis(50),
            shutdown.clone(),
            always(),
            Duration::from_secs(3600),
        ));
        for _ in 0..2 {
            let frame = next_within(&mut frames, Duration::from_secs(5)).await;
            assert_eq!(
                frame,
                Some(Some(Bytes::from_static(b": keep-alive\n\n"))),
                "a comment every heartbeat"
            );
        }
    }

    #[tokio::test]
    async fn shutting_down_ends_the_stream_and_read_errors_do_not() {
        let shutdown = CancellationToken::new();
        let failing =
            futures::stream::iter([Err(StoreError::backend(std::io::Error::other("down")))])
                .chain(futures::stream::pending())
                .boxed();
        let mut frames = Box::pin(frames(
            failing,
            LiveFilter::default(),
            Duration::from_secs(3600),
            shutdown.clone(),
            always(),
            Duration::from_secs(3600),
        ));
        assert_eq!(
            next_within(&mut frames, Duration::from_millis(100)).await,
            None,
            "a failed read is retried, not sent and not the end"
        );
        shutdown.cancel();
        assert_eq!(
            next_within(&mut frames, Duration::from_secs(5)).await,
            Some(None),
            "the stream ends at shutdown"
        );
    }
}
