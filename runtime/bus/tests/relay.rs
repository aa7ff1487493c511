//! The relay against a private `nats-server -js` per test (started on a free
//! port with its own store directory, killed on drop) and a SQLite store in a
//! temporary directory: exactly once and in order, through an outage longer
//! than the duplicate window, a crash, and a second relay racing the first.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::message::StreamMessage;
use serde_json::json;
use steward_bus::{POSITION_HEADER, Relay, RelayConfig, RelayError, RelayStatus, subject_for};
use steward_events::{
    EventStore, EventType, ExpectedVersion, NewEvent, Personal, Position, RecordedEvent, StreamId,
    SubjectId,
};
use steward_store_core::{MasterKey, Store, StoreOptions};
use steward_store_sqlite::SqliteOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const NATS_SERVER: &str = "/usr/sbin/nats-server";
/// The longest any single wait in these tests may take.
const WAIT: Duration = Duration::from_secs(30);

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A private JetStream server: its own port and store directory; killed on
/// drop.
struct NatsServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// User and password the server demands, if any.
    login: Option<(&'static str, &'static str)>,
    /// The largest message the server accepts, if not its default.
    max_payload: Option<usize>,
}

impl NatsServer {
    async fn start() -> Self {
        Self::start_with_login(None).await
    }

    async fn start_with_login(login: Option<(&'static str, &'static str)>) -> Self {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("binds a free port");
            listener.local_addr().expect("local address").port()
        };
        let mut server = Self {
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
            login,
            max_payload: None,
        };
        server.restart().await;
        server
    }

    fn url(&self) -> String {
        match self.login {
            Some((user, password)) => format!("nats://{user}:{password}@127.0.0.1:{}", self.port),
            None => format!("nats://127.0.0.1:{}", self.port),
        }
    }

    /// Starts the server (again) on the same port and store directory, and
    /// waits until JetStream answers.
    async fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let store_dir: PathBuf = self.dir.path().join("jetstream");
        let log = self.dir.path().join("nats-server.log");
        let child = Command::new(NATS_SERVER)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&store_dir)
            .arg("-l")
            .arg(&log)
            .args(
                self.login
                    .map(|(user, password)| ["--user", user, "--pass", password])
                    .iter()
                    .flatten(),
            )
            .args(
                self.max_payload
                    .map(|max| {
                        let config = self.dir.path().join("nats.conf");
                        std::fs::write(&config, format!("max_payload: {max}\n"))
                            .expect("writes config");
                        ["-c".to_owned(), config.display().to_string()]
                    })
                    .iter()
                    .flatten(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts nats-server");
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nats-server did not come up on port {}",
                self.port
            );
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                && jetstream_ready(&self.url()).await
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether JetStream answers its account-info request. (Raw, because
/// async-nats 0.51's `query_account` expects fields a 2.9 server lacks.)
/// A TCP proxy in front of a server that can silence the server's replies
/// (publish acknowledgements included) while still passing on what clients
/// send: the way to have JetStream store events whose acknowledgement the
/// relay never sees. It can also hold back what clients send by a fixed
/// delay: the way to make a relay lag behind another.
struct Proxy {
    port: u16,
    replies: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: u16, delay: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds the proxy");
        let port = listener.local_addr().expect("local address").port();
        let replies = Arc::new(AtomicBool::new(true));
        let task = tokio::spawn({
            let replies = replies.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    tokio::spawn(pipe(client, upstream, delay, replies.clone()));
                }
            }
        });
        Self {
            port,
            replies,
            task,
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn silence_replies(&self, silent: bool) {
        self.replies.store(!silent, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(
    client: tokio::net::TcpStream,
    upstream: u16,
    delay: Duration,
    replies: Arc<AtomicBool>,
) {
    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = async {
        let mut buffer = vec![0_u8; 64 * 1024];
        loop {
            let read = client_read.read(&mut buffer).await?;
            if read == 0 {
                return Ok::<(), std::io::Error>(());
            }
            tokio::time::sleep(delay).await;
            server_write.write_all(&buffer[..read]).await?;
        }
    };
    let down = async {
        let mut buffer = vec![0_u8; 64 * 1024];
        loop {
            let read = server_read.read(&mut buffer).await?;
            if read == 0 {
                return Ok::<(), std::io::Error>(());
            }
            if replies.load(Ordering::SeqCst) {
                client_write.write_all(&buffer[..read]).await?;
            }
        }
    };
    // Either side closing closes both.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

async fn jetstream_ready(url: &str) -> bool {
    let attempt = async {
        let client = connect(url).await.ok()?;
        let reply = client.request("$JS.API.INFO", "".into()).await.ok()?;
        let info: serde_json::Value = serde_json::from_slice(&reply.payload).ok()?;
        info.get("error").is_none().then_some(())
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Some(_))
    )
}

/// Connects with the URL's credentials (async-nats ignores them in the URL).
async fn connect(url: &str) -> Result<async_nats::Client, async_nats::ConnectError> {
    let address: async_nats::ServerAddr = url.parse().map_err(|e| {
        async_nats::ConnectError::with_source(async_nats::ConnectErrorKind::ServerParse, e)
    })?;
    let options = match (address.username(), address.password()) {
        (Some(user), Some(password)) => {
            async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        }
        _ => async_nats::ConnectOptions::new(),
    };
    options.connect(address).await
}

/// A SQLite store in its own temporary directory.
struct TestStore {
    _dir: tempfile::TempDir,
    store: Store,
}

async fn test_store() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = steward_store_sqlite::open_store(
        &SqliteOptions::new(dir.path().join("steward.db")),
        MasterKey::generate().expect("master key"),
        StoreOptions::steward(),
    )
    .await
    .expect("opens the store");
    TestStore { _dir: dir, store }
}

fn event(event_type: &str, n: usize) -> NewEvent {
    NewEvent::new(
        EventType::parse(event_type).expect("valid event type"),
        json!({ "n": n }),
    )
}

async fn append(store: &Store, stream: &str, events: Vec<NewEvent>) {
    store
        .append(
            &StreamId::parse(stream).expect("valid stream id"),
            ExpectedVersion::Any,
            events,
        )
        .await
        .expect("appends");
}

/// Appends `count` events in batches of `chunk`, `pause` apart, over several
/// streams and categories. Batches larger than the relay's in-flight window
/// keep publishes in flight at any moment.
fn spawn_appender(store: Store, count: usize, chunk: usize, pause: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        for start in (0..count).step_by(chunk) {
            let n = start / chunk;
            let stream = format!("{}-{}", ["order", "invoice", "task"][n % 3], n % 7);
            let events = (start..count.min(start + chunk))
                .map(|i| event("Ticked", i))
                .collect();
            append(&store, &stream, events).await;
            tokio::time::sleep(pause).await;
        }
    })
}

fn relay_config(url: String) -> RelayConfig {
    RelayConfig {
        nats_url: url,
        duplicate_window: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        batch_size: 50,
        max_in_flight: 32,
        ..RelayConfig::default()
    }
}

struct RunningRelay {
    shutdown: CancellationToken,
    status: watch::Receiver<RelayStatus>,
    task: JoinHandle<Result<(), RelayError>>,
}

fn spawn_relay(store: &Store, config: RelayConfig) -> RunningRelay {
    let relay = Relay::new(store.log().clone(), config);
    let status = relay.status();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(relay.run(shutdown.clone()));
    RunningRelay {
        shutdown,
        status,
        task,
    }
}

impl RunningRelay {
    async fn wait_for_position(&mut self, at_least: Position) {
        let reached = tokio::time::timeout(
            WAIT,
            self.status
                .wait_for(|s| s.last_published.is_some_and(|p| p >= at_least)),
        )
        .await
        .map(|result| result.is_ok());
        assert!(
            matches!(reached, Ok(true)),
            "relay did not reach {at_least}: {:?}",
            *self.status.borrow()
        );
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let outcome = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("relay stops when cancelled")
            .expect("relay task did not panic");
        assert!(outcome.is_ok(), "relay ended with {outcome:?}");
    }
}

async fn head(store: &Store) -> Position {
    store.head().await.expect("head").expect("events stored")
}

/// Every message of the stream, in stream order, checking there are no gaps.
async fn stream_messages(url: &str, stream_name: &str) -> Vec<StreamMessage> {
    let client = connect(url).await.expect("connects");
    let context = jetstream::new(client);
    let mut stream = context
        .get_stream(stream_name)
        .await
        .expect("stream exists");
    let state = stream.info().await.expect("stream info").state.clone();
    let mut messages = Vec::new();
    if state.messages == 0 {
        return messages;
    }
    for sequence in state.first_sequence..=state.last_sequence {
        messages.push(
            stream
                .get_raw_message(sequence)
                .await
                .unwrap_or_else(|e| panic!("message {sequence}: {e}")),
        );
    }
    assert_eq!(
        messages.len() as u64,
        state.messages,
        "no gaps in the stream"
    );
    messages
}

/// The stream holds every event of the log exactly once, in global order,
/// each as its raw envelope on the right subject with the right headers.
async fn assert_exactly_once_in_order(url: &str, store: &Store) -> Vec<RecordedEvent> {
    let config = RelayConfig::default();
    let logged = store
        .log()
        .read_all(Position::ORIGIN, 1_000_000)
        .await
        .expect("reads the log");
    let messages = stream_messages(url, &config.stream_name).await;
    let published: Vec<RecordedEvent> = messages
        .iter()
        .map(|m| serde_json::from_slice(&m.payload).expect("body is a RecordedEvent"))
        .collect();
    let ids = |events: &[RecordedEvent]| events.iter().map(|e| e.event_id).collect::<Vec<_>>();
    let mut unique = ids(&published);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), published.len(), "no event published twice");
    assert_eq!(
        ids(&published),
        ids(&logged),
        "every event once, in global order"
    );
    assert_eq!(published, logged, "bodies are the raw envelopes");
    for (message, event) in messages.iter().zip(&logged) {
        assert_eq!(
            message.subject.as_str(),
            subject_for(event, &config.subject_prefix)
        );
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_else(|| panic!("message has a `{name}` header"))
        };
        assert_eq!(header("Nats-Msg-Id"), event.event_id.to_string());
        assert_eq!(header(POSITION_HEADER), event.global_position.to_string());
    }
    logged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_every_event_once_in_order_with_the_personal_part_sealed() {
    init_tracing();
    let nats = NatsServer::start().await;
    let store = test_store().await;
    // Some events before the relay starts, some after.
    append(
        &store.store,
        "order-1",
        (0..5).map(|n| event("OrderPlaced", n)).collect(),
    )
    .await;
    let mut relay = spawn_relay(&store.store, relay_config(nats.url()));
    append(
        &store.store,
        "person-dana",
        vec![
            NewEvent::new(
                EventType::parse("PersonAdded").expect("valid"),
                json!({ "role": "tenant" }),
            )
            .with_personal(
                json!({ "name": "Dana" }),
                vec![SubjectId::parse("person-dana").expect("valid subject")],
            ),
        ],
    )
    .await;
    append(&store.store, "invoice-7", vec![event("InvoiceSent", 0)]).await;
    relay.wait_for_position(head(&store.store).await).await;
    relay.stop().await;

    let logged = assert_exactly_once_in_order(&nats.url(), &store.store).await;
    assert_eq!(logged.len(), 7);
    let messages = stream_messages(&nats.url(), "STEWARD_EVENTS").await;
    let subjects: Vec<&str> = messages.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects[0], "steward.events.order.OrderPlaced");
    assert_eq!(subjects[5], "steward.events.person.PersonAdded");
    assert_eq!(subjects[6], "steward.events.invoice.InvoiceSent");
    let dana = &messages[5];
    assert!(
        !dana.payload.windows(4).any(|w| w == b"Dana"),
        "the personal part travels sealed"
    );
    let body: RecordedEvent = serde_json::from_slice(&dana.payload).expect("decodes");
    assert!(
        matches!(body.personal, Some(Personal::Sealed(_))),
        "{:?}",
        body.personal
    );
    // The store itself still opens it.
    let read = store
        .store
        .read_all(Position::ORIGIN, 10)
        .await
        .expect("reads");
    assert_eq!(
        read[5].personal.as_ref().and_then(Personal::plain),
        Some(&json!({ "name": "Dana" }))
    );
}

/// The last position the stream holds, read straight from the server.
async fn stream_head(url: &str) -> Option<Position> {
    let messages = stream_messages(url, &RelayConfig::default().stream_name).await;
    messages.last().map(|m| {
        m.headers
            .get(POSITION_HEADER)
            .expect("position header")
            .as_str()
            .parse()
            .expect("valid position")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_longer_than_the_duplicate_window_loses_and_doubles_nothing() {
    init_tracing();
    let mut nats = NatsServer::start().await;
    let proxy = Proxy::start(nats.port, Duration::ZERO).await;
    let store = test_store().await;
    let config = relay_config(proxy.url());
    let window = config.duplicate_window;
    let mut relay = spawn_relay(&store.store, config);
    const TOTAL: usize = 600;
    let appender = spawn_appender(store.store.clone(), TOTAL, 40, Duration::from_millis(5));

    // Mid-stream: some events are out, more are being appended and relayed.
    relay.wait_for_position(Position::sequence(60)).await;
    // From here JetStream keeps storing what the relay sends but its
    // acknowledgements are lost; then the server dies.
    proxy.silence_replies(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    nats.kill();
    let acknowledged = relay.status.borrow().last_published;
    // Longer than the duplicate window, so JetStream cannot deduplicate
    // whatever the relay sends again.
    tokio::time::sleep(window * 2 + Duration::from_millis(500)).await;
    assert!(
        !relay.status.borrow().connected,
        "the relay noticed the outage"
    );
    nats.restart().await;
    // The relay cannot get through yet: look at the stream first.
    let stored = stream_head(&nats.url()).await;
    assert!(
        stored > acknowledged,
        "the stream holds events the relay never saw acknowledged: {stored:?} > {acknowledged:?}"
    );
    proxy.silence_replies(false);

    tokio::time::timeout(WAIT, appender)
        .await
        .expect("appender finishes")
        .expect("appender did not panic");
    let head = head(&store.store).await;
    assert!(
        stored.is_some_and(|p| p < head),
        "killed mid-stream: {stored:?} < {head}"
    );
    relay.wait_for_position(head).await;
    relay.stop().await;

    let logged = assert_exactly_once_in_order(&nats.url(), &store.store).await;
    assert_eq!(logged.len(), TOTAL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_relay_is_resumed_by_a_new_one_without_loss_or_duplicates() {
    init_tracing();
    let nats = NatsServer::start().await;
    let store = test_store().await;
    const TOTAL: usize = 400;
    let appender = spawn_appender(store.store.clone(), TOTAL, 40, Duration::from_millis(20));
    let last = Some(Position::sequence(TOTAL as u64));

    let mut first = spawn_relay(&store.store, relay_config(nats.url()));
    first.wait_for_position(Position::sequence(50)).await;
    // A crash: the task is dropped wherever it is, publishes in flight.
    first.task.abort();
    let _ = first.task.await;
    assert!(first.status.borrow().last_published < last, "mid-stream");

    // A graceful stop of a second one, mid-stream too.
    let mut second = spawn_relay(&store.store, relay_config(nats.url()));
    second.wait_for_position(Position::sequence(150)).await;
    let status = second.status.clone();
    second.stop().await;
    assert!(status.borrow().last_published < last, "mid-stream");

    let mut third = spawn_relay(&store.store, relay_config(nats.url()));
    tokio::time::timeout(WAIT, appender)
        .await
        .expect("appender finishes")
        .expect("appender did not panic");
    third.wait_for_position(head(&store.store).await).await;
    third.stop().await;

    let logged = assert_exactly_once_in_order(&nats.url(), &store.store).await;
    assert_eq!(logged.len(), TOTAL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_on_one_stream_still_publish_each_event_once() {
    init_tracing();
    let nats = NatsServer::start().await;
    // The second relay's requests reach the server 300 ms late, longer than
    // the duplicate window: whatever it sends again after the first relay
    // has published it must be refused by the expected-sequence check, as
    // deduplication no longer can.
    let lagging = Proxy::start(nats.port, Duration::from_millis(300)).await;
    let store = test_store().await;
    const TOTAL: usize = 300;
    let config = RelayConfig {
        duplicate_window: Duration::from_millis(100),
        ..relay_config(nats.url())
    };
    let mut one = spawn_relay(&store.store, config.clone());
    let mut two = spawn_relay(
        &store.store,
        RelayConfig {
            nats_url: lagging.url(),
            ..config
        },
    );
    let appender = spawn_appender(store.store.clone(), TOTAL, 5, Duration::from_millis(30));
    tokio::time::timeout(WAIT, appender)
        .await
        .expect("appender finishes")
        .expect("appender did not panic");
    let head = head(&store.store).await;
    one.wait_for_position(head).await;
    two.wait_for_position(head).await;
    one.stop().await;
    two.stop().await;

    let logged = assert_exactly_once_in_order(&nats.url(), &store.store).await;
    assert_eq!(logged.len(), TOTAL);
}

#[tokio::test]
async fn an_invalid_configuration_ends_the_relay_at_once() {
    let store = test_store().await;
    let config = RelayConfig {
        subject_prefix: "steward.*".into(),
        ..RelayConfig::new("nats://127.0.0.1:1")
    };
    let relay = Relay::new(store.store.log().clone(), config);
    let outcome = tokio::time::timeout(WAIT, relay.run(CancellationToken::new()))
        .await
        .expect("returns at once");
    assert!(
        matches!(outcome, Err(RelayError::InvalidConfig(_))),
        "{outcome:?}"
    );
}

/// A server that demands a login: the relay sends the user and password
/// written in the URL (async-nats does not by itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_in_with_the_credentials_in_the_url() {
    init_tracing();
    let nats = NatsServer::start_with_login(Some(("steward", "s3cret-relay"))).await;
    let store = test_store().await;
    append(
        &store.store,
        "order-1",
        (0..3).map(|n| event("OrderPlaced", n)).collect(),
    )
    .await;
    let mut relay = spawn_relay(&store.store, relay_config(nats.url()));
    relay.wait_for_position(head(&store.store).await).await;
    relay.stop().await;
    let logged = assert_exactly_once_in_order(&nats.url(), &store.store).await;
    assert_eq!(logged.len(), 3);
}

/// An event too large for the server's max_payload stops the relay at that
/// event (never skipped, never a crash); once the server accepts it, the relay
/// goes on and everything lands once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_over_max_payload_waits_until_the_server_accepts_it() {
    init_tracing();
    let mut nats = NatsServer::start().await;
    nats.kill();
    nats.max_payload = Some(2048);
    nats.restart().await;
    let store = test_store().await;
    append(&store.store, "note-1", vec![event("NoteTaken", 0)]).await;
    let big = NewEvent::new(
        EventType::parse("NoteTaken").expect("valid"),
        json!({ "text": "x".repeat(4096) }),
    );
    append(&store.store, "note-1", vec![big]).await;
    append(&store.store, "note-1", vec![event("NoteTaken", 2)]).await;
    let mut relay = spawn_relay(&store.store, relay_config(nats.url()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let published = stream_messages(&nats.url(), "STEWARD_EVENTS").await;
    assert_eq!(
        published.len(),
        1,
        "stops before the event that does not fit"
    );

    // The operator raises the limit; the relay reconnects and goes on.
    nats.kill();
    nats.max_payload = Some(64 * 1024);
    nats.restart().await;
    relay.wait_for_position(head(&store.store).await).await;
    relay.stop().await;
    let logged = assert_exactly_once_in_order(&nats.url(), &store.store).await;
    assert_eq!(logged.len(), 3);
}
