//! The live event stream: history then live events in order, resuming with
//! `Last-Event-ID`, filters, refusals, and streams ending when their client
//! goes away or the server stops.

use std::future::poll_fn;
use std::io::{Read as _, Write as _};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::web::BytesMut;
use async_trait::async_trait;
use futures::StreamExt as _;
use serde_json::{Value, json};
use steward_events::domain::access::Scope;
use steward_events::{
    AppendResult, Direction, Erasure, EventStore, EventStream, ExpectedVersion, NewEvent, Position,
    RecordedEvent, StoreError, StreamId, SubjectId,
};
use steward_http::{ApiState, app};
use steward_store_core::Store;
use tokio_util::codec::Decoder as _;
use tokio_util::sync::CancellationToken;

use crate::support::{Fixture, assert_problem, call, on_both_backends, with_token};

on_both_backends!(
    the_stream_sends_history_then_live_events_in_log_order,
    resuming_with_last_event_id_loses_and_repeats_nothing,
    without_a_position_only_new_events_come,
    filters_keep_to_categories_and_types,
    a_members_stream_keeps_to_their_domains,
    the_stream_needs_a_token_with_events_read,
    bad_positions_and_parameters_are_refused,
);

/// How long a test waits for a frame before failing.
const PATIENCE: Duration = Duration::from_secs(10);

/// One SSE message as the client sees it.
#[derive(Debug, Clone, PartialEq)]
struct Message {
    id: String,
    event: String,
    data: Value,
}

/// Reads an endless SSE body frame by frame.
struct Sse<B> {
    body: Pin<Box<B>>,
    buffer: BytesMut,
    decoder: russe::Decoder,
}

impl<B: MessageBody> Sse<B> {
    fn of(response: ServiceResponse<B>) -> Self {
        assert_eq!(response.status(), StatusCode::OK);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header("content-type").as_deref(), Some("text/event-stream"));
        assert_eq!(header("cache-control").as_deref(), Some("no-cache"));
        assert_eq!(header("x-accel-buffering").as_deref(), Some("no"));
        Self {
            body: Box::pin(response.into_body()),
            buffer: BytesMut::new(),
            decoder: russe::Decoder::default(),
        }
    }

    /// The next frame, or `None` if none came within `within` (or the body
    /// ended).
    async fn frame(&mut self, within: Duration) -> Option<russe::Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(event) = self.decoder.decode(&mut self.buffer).expect("SSE frames") {
                return Some(event);
            }
            let body = &mut self.body;
            let chunk =
                tokio::time::timeout_at(deadline, poll_fn(|cx| body.as_mut().poll_next(cx)))
                    .await
                    .ok()??;
            match chunk {
                Ok(bytes) => self.buffer.extend_from_slice(&bytes),
                Err(error) => {
                    let error: Box<dyn std::error::Error> = error.into();
                    panic!("the body failed: {error}");
                }
            }
        }
    }

    /// The next message (skipping comments); fails after [`PATIENCE`].
    async fn message(&mut self) -> Message {
        loop {
            match self.frame(PATIENCE).await {
                Some(russe::Event::Message(message)) => {
                    return Message {
                        id: message.id.expect("every message has an id").to_string(),
                        event: message.event.expect("every message has a type").to_string(),
                        data: serde_json::from_str(&message.data).expect("JSON data"),
                    };
                }
                Some(_) => continue,
                None => panic!("no message within {PATIENCE:?}"),
            }
        }
    }

    async fn messages(&mut self, n: usize) -> Vec<Message> {
        let mut messages = Vec::with_capacity(n);
        for _ in 0..n {
            messages.push(self.message().await);
        }
        messages
    }

    /// Asserts no message comes for a while.
    async fn assert_quiet(&mut self) {
        if let Some(russe::Event::Message(message)) = self.frame(Duration::from_millis(300)).await {
            panic!("expected nothing more, got {message:?}");
        }
    }
}

/// Opens the stream at `uri` as the admin, with `Last-Event-ID` if given.
async fn open(
    fixture: &Fixture,
    uri: &str,
    last_event_id: Option<&str>,
) -> Sse<impl MessageBody + use<>> {
    let app = test::init_service(app(fixture.state())).await;
    let mut request = with_token(TestRequest::get().uri(uri), &fixture.admin);
    if let Some(id) = last_event_id {
        request = request.insert_header(("Last-Event-ID", id));
    }
    Sse::of(test::call_service(&app, request.to_request()).await)
}

async fn list(fixture: &Fixture, item: &str) {
    fixture
        .command("shoppinglist-home", "ListItem", json!({ "item": item }))
        .await;
}

async fn stock(fixture: &Fixture, item: &str) {
    fixture
        .command(
            "pantry-home",
            "StockItem",
            json!({ "item": item, "quantity": 1.0, "unit": "kg" }),
        )
        .await;
}

/// Every event in the log after `after`, as `(position, type)`.
async fn log_after(fixture: &Fixture, after: Position) -> Vec<(String, String)> {
    fixture
        .store
        .read_all(after, 10_000)
        .await
        .expect("the log reads")
        .into_iter()
        .map(|event| {
            (
                event.global_position.to_string(),
                event.event_type.to_string(),
            )
        })
        .collect()
}

fn ids_and_types(messages: &[Message]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|message| (message.id.clone(), message.event.clone()))
        .collect()
}

async fn the_stream_sends_history_then_live_events_in_log_order(fixture: Fixture) {
    list(&fixture, "milk").await;
    stock(&fixture, "rice").await;
    let history = log_after(&fixture, Position::ORIGIN).await;
    let mut stream = open(&fixture, "/api/v1/events/stream?after=0", None).await;
    let sent = stream.messages(history.len()).await;
    assert_eq!(ids_and_types(&sent), history, "the whole log, in order");
    let milk = sent
        .iter()
        .find(|message| message.event == "ItemListed")
        .expect("the listed item");
    assert_eq!(
        milk.data["position"],
        milk.id.as_str(),
        "id is the position"
    );
    assert_eq!(milk.data["event_type"], "ItemListed");
    assert_eq!(milk.data["stream_id"], "shoppinglist-home");
    assert_eq!(milk.data["data"]["item"], "milk");
    assert_eq!(milk.data["metadata"]["actor"], "user:test");

    list(&fixture, "eggs").await;
    let live = stream.message().await;
    assert_eq!(live.event, "ItemListed");
    assert_eq!(live.data["data"]["item"], "eggs");
    let position = |id: &str| id.parse::<Position>().expect("a position");
    assert!(
        position(&live.id) > position(&history.last().expect("history").0),
        "live events come after history"
    );
    stream.assert_quiet().await;
}

async fn resuming_with_last_event_id_loses_and_repeats_nothing(fixture: Fixture) {
    for item in ["a", "b", "c", "d"] {
        list(&fixture, item).await;
    }
    let everything = log_after(&fixture, Position::ORIGIN).await;
    let mut first = open(&fixture, "/api/v1/events/stream?after=0", None).await;
    let seen = first.messages(everything.len() - 2).await;
    drop(first);
    // More happens while the client is away.
    list(&fixture, "e").await;
    list(&fixture, "f").await;
    let everything = log_after(&fixture, Position::ORIGIN).await;

    // The client reconnects with its first URL and the last id it got.
    let last_seen = seen.last().expect("some seen").id.clone();
    let mut resumed = open(
        &fixture,
        "/api/v1/events/stream?after=0",
        Some(last_seen.as_str()),
    )
    .await;
    let rest = resumed.messages(everything.len() - seen.len()).await;
    let mut joined = ids_and_types(&seen);
    joined.extend(ids_and_types(&rest));
    assert_eq!(joined, everything, "together: every event once, in order");
    resumed.assert_quiet().await;

    // `after` alone resumes the same way.
    let mut by_query = open(
        &fixture,
        &format!("/api/v1/events/stream?after={last_seen}"),
        None,
    )
    .await;
    assert_eq!(
        ids_and_types(&by_query.messages(rest.len()).await),
        ids_and_types(&rest)
    );
}

async fn without_a_position_only_new_events_come(fixture: Fixture) {
    list(&fixture, "old").await;
    let mut stream = open(&fixture, "/api/v1/events/stream", None).await;
    stream.assert_quiet().await;
    list(&fixture, "new").await;
    let message = stream.message().await;
    assert_eq!(message.data["data"]["item"], "new");
}

async fn filters_keep_to_categories_and_types(fixture: Fixture) {
    list(&fixture, "milk").await;
    stock(&fixture, "rice").await;
    let mut groceries = open(
        &fixture,
        "/api/v1/events/stream?after=0&category=shoppinglist&category=pantry,timer",
        None,
    )
    .await;
    let sent = groceries.messages(2).await;
    assert_eq!(
        sent.iter().map(|m| m.event.as_str()).collect::<Vec<_>>(),
        ["ItemListed", "ItemStocked"],
        "the token's access events are left out"
    );
    groceries.assert_quiet().await;

    let mut stocked = open(
        &fixture,
        "/api/v1/events/stream?after=0&type=ItemStocked",
        None,
    )
    .await;
    assert_eq!(stocked.message().await.data["data"]["item"], "rice");
    list(&fixture, "eggs").await;
    stock(&fixture, "flour").await;
    let live = stocked.message().await;
    assert_eq!(
        (live.event.as_str(), &live.data["data"]["item"]),
        ("ItemStocked", &json!("flour")),
        "the listed eggs were skipped"
    );
}

async fn a_members_stream_keeps_to_their_domains(fixture: Fixture) {
    let member = fixture
        .member_token("sam", &["groceries"], &[Scope::EventsRead])
        .await;
    fixture
        .command(
            "goal-run",
            "SetGoal",
            json!({ "title": "Run", "metric": "distance", "unit": "km", "target": 100.0,
                    "direction": "increase", "deadline": "2099-12-31" }),
        )
        .await;
    list(&fixture, "milk").await;
    let app = test::init_service(app(fixture.state())).await;
    let request = with_token(
        TestRequest::get().uri("/api/v1/events/stream?after=0"),
        &member,
    );
    let mut stream = Sse::of(test::call_service(&app, request.to_request()).await);
    let sent = stream.message().await;
    assert_eq!(
        sent.event, "ItemListed",
        "the goal and the access events are left out"
    );
    stream.assert_quiet().await;
    let (status, body) = call(
        &app,
        with_token(
            TestRequest::get().uri("/api/v1/events/stream?category=goal"),
            &member,
        ),
    )
    .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
}

async fn the_stream_needs_a_token_with_events_read(fixture: Fixture) {
    let writer = fixture.token("writer", &[Scope::CommandsWrite]).await;
    let app = test::init_service(app(fixture.state())).await;
    let uri = "/api/v1/events/stream?after=0";
    let (status, body) = call(&app, TestRequest::get().uri(uri)).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (status, body) = call(&app, with_token(TestRequest::get().uri(uri), &writer)).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(body["required_scope"], "events:read");
    let reader = fixture.token("reader", &[Scope::EventsRead]).await;
    let response = test::call_service(
        &app,
        with_token(TestRequest::get().uri(uri), &reader).to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn bad_positions_and_parameters_are_refused(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    for (query, last_event_id, field) in [
        ("after=yesterday", None, "after"),
        ("after=1:x", None, "after"),
        ("after=1&after=2", None, "after"),
        ("after=0", Some("not-an-id"), "Last-Event-ID"),
        ("", Some("-1"), "Last-Event-ID"),
        ("colour=red", None, "colour"),
    ] {
        let mut request = with_token(
            TestRequest::get().uri(&format!("/api/v1/events/stream?{query}")),
            &fixture.admin,
        );
        if let Some(id) = last_event_id {
            request = request.insert_header(("Last-Event-ID", id));
        }
        let (status, body) = call(&app, request).await;
        assert_problem(status, &body, StatusCode::BAD_REQUEST, "invalid-input");
        assert_eq!(body["field"], field, "{query} {last_event_id:?}: {body}");
    }
}

/// A store that counts its open subscriptions.
struct Watched {
    inner: Store,
    open: Arc<AtomicUsize>,
}

/// Counts one open subscription while it lives.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl EventStore for Watched {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.inner.append(stream, expected, events).await
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(stream, from, direction, limit).await
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(after, limit).await
    }

    fn subscribe_all(&self, after: Position) -> EventStream {
        self.open.fetch_add(1, Ordering::SeqCst);
        let open = Open(Arc::clone(&self.open));
        self.inner
            .subscribe_all(after)
            .map(move |event| {
                let _alive = &open;
                event
            })
            .boxed()
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<Option<u64>, StoreError> {
        self.inner.stream_version(stream).await
    }

    async fn events_of_command(&self, command_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.events_of_command(command_id).await
    }

    async fn head(&self) -> Result<Option<Position>, StoreError> {
        self.inner.head().await
    }

    async fn erase_subject(&self, subject: &SubjectId, actor: &str) -> Result<Erasure, StoreError> {
        self.inner.erase_subject(subject, actor).await
    }
}

/// The API served on a real socket over a store that counts subscriptions.
struct Served {
    address: std::net::SocketAddr,
    open: Arc<AtomicUsize>,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serve(fixture: &Fixture) -> Served {
    let open = Arc::new(AtomicUsize::new(0));
    let state = ApiState::builder(
        Arc::new(Watched {
            inner: fixture.store.clone(),
            open: Arc::clone(&open),
        }),
        fixture.host.clone(),
        fixture.db.clone(),
    )
    .build()
    .expect("metrics register");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = listener.local_addr().expect("its address");
    let shutdown = CancellationToken::new();
    let server = actix_web::rt::spawn(steward_http::serve(listener, state, 1, shutdown.clone()));
    Served {
        address,
        open,
        shutdown,
        server,
    }
}

/// Opens the stream over a socket and reads until the first event arrived.
async fn connect(served: &Served, token: &str) -> std::net::TcpStream {
    let address = served.address;
    let token = token.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut socket = std::net::TcpStream::connect(address).expect("connects");
        socket
            .set_read_timeout(Some(PATIENCE))
            .expect("a read timeout");
        write!(
            socket,
            "GET /api/v1/events/stream?after=0 HTTP/1.1\r\nHost: steward\r\n\
             Connection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .expect("the request goes out");
        let mut received = Vec::new();
        let mut buffer = [0_u8; 4096];
        while !String::from_utf8_lossy(&received).contains("\nid: ") {
            let n = socket.read(&mut buffer).expect("the stream answers");
            assert!(n > 0, "the stream ended early");
            received.extend_from_slice(&buffer[..n]);
        }
        assert!(
            String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&received)
        );
        socket
    })
    .await
    .expect("the client runs")
}

#[actix_web::test]
async fn a_client_going_away_ends_its_subscription() {
    let fixture = Fixture::sqlite().await;
    let served = serve(&fixture).await;
    let socket = connect(&served, &fixture.admin).await;
    assert_eq!(served.open.load(Ordering::SeqCst), 1);
    drop(socket);
    // A closed connection looks like a half-closed one until a write to it
    // fails, so the server notices at its next writes (on an idle stream,
    // the keep-alive comments): give it some.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for n in 0.. {
        if served.open.load(Ordering::SeqCst) == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the subscription is dropped with its client"
        );
        list(&fixture, &format!("item {n}")).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    served.shutdown.cancel();
    served.server.await.expect("joins").expect("serves");
}

#[actix_web::test]
async fn shutting_down_ends_open_streams_at_once() {
    let fixture = Fixture::sqlite().await;
    let served = serve(&fixture).await;
    let mut socket = connect(&served, &fixture.admin).await;
    let started = tokio::time::Instant::now();
    served.shutdown.cancel();
    let ended = tokio::task::spawn_blocking(move || {
        let mut rest = Vec::new();
        socket
            .read_to_end(&mut rest)
            .map(|_| String::from_utf8_lossy(&rest).into_owned())
    })
    .await
    .expect("the client runs")
    .expect("the server closes the stream");
    assert!(
        ended.ends_with("0\r\n\r\n"),
        "the stream ends cleanly (its last chunk): {ended:?}"
    );
    served.server.await.expect("joins").expect("serves");
    // Well inside the 10 s that in-flight requests are given.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(served.open.load(Ordering::SeqCst), 0);
}
