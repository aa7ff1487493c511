//! The mail integration against a real mail server of the test's own
//! (Dovecot for IMAP, aiosmtpd for SMTP, installed by `ops/dev/test`): new
//! mail in the folder becomes the inbox's messages, once, and a reply asked
//! for in the inbox arrives in its recipient's mailbox, threaded under the
//! message it answers.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt as _;
use serde_json::{Value, json};
use steward_actors::CommandEnvelope;
use steward_actors::saga::ReplyMail;
use steward_actuator::mail_ingest::{ImapConfig, MailIngest, SyncError};
use steward_actuator::smtp::{SmtpConfig, SmtpIntegration};
use steward_actuator::{ActuatorOptions, ActuatorWorker, Integration as _, IntegrationError};
use steward_events::{EventStore, Personal, Position, RecordedEvent, StreamId};
use steward_host::Host;
use steward_host::workers::SagaWorker;
use steward_store_core::{MasterKey, Store};
use steward_testkit::{MAIL_PASSWORD, MAIL_RECIPIENT, MailServer, SqliteDir};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Steward's own mailbox on the test server.
const ME: &str = "steward";
/// Its address.
const MY_ADDRESS: &str = "steward@example.test";

type Session = async_imap::Session<TcpStream>;

/// Signs in to `server` as `user` (every user has the same password).
async fn sign_in(server: &MailServer, user: &str) -> Session {
    let stream = TcpStream::connect(("127.0.0.1", server.imap_port()))
        .await
        .expect("connects");
    let mut client = async_imap::Client::new(stream);
    client
        .read_response()
        .await
        .expect("a greeting")
        .expect("a greeting");
    client
        .login(user, MAIL_PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .unwrap_or_else(|e| panic!("{user} signs in: {e}\n{}", server.log()))
}

/// Puts a mail into `user`'s INBOX, as their server would on delivery.
async fn deliver(server: &MailServer, user: &str, mail: &str) {
    let mut session = sign_in(server, user).await;
    session
        .append("INBOX", None, None, mail.replace('\n', "\r\n"))
        .await
        .expect("appended");
    session.logout().await.expect("logs out");
}

/// Every mail in `user`'s INBOX, with its flags, in UID order.
async fn mailbox(server: &MailServer, user: &str) -> Vec<(String, Vec<String>)> {
    let mut session = sign_in(server, user).await;
    session.examine("INBOX").await.expect("INBOX");
    let fetched: Vec<_> = session
        .uid_fetch("1:*", "(FLAGS BODY.PEEK[])")
        .await
        .expect("fetch")
        .try_collect()
        .await
        .expect("fetched");
    let mut mails: Vec<(u32, String, Vec<String>)> = fetched
        .iter()
        .map(|fetch| {
            let body = String::from_utf8_lossy(fetch.body().unwrap_or_default()).into_owned();
            let flags = fetch.flags().map(|flag| format!("{flag:?}")).collect();
            (fetch.uid.unwrap_or_default(), body, flags)
        })
        .collect();
    mails.sort_by_key(|(uid, _, _)| *uid);
    session.logout().await.expect("logs out");
    mails
        .into_iter()
        .map(|(_, body, flags)| (body, flags))
        .collect()
}

/// The event's personal part, readable.
fn personal(event: &RecordedEvent) -> Value {
    event
        .personal
        .as_ref()
        .and_then(Personal::plain)
        .cloned()
        .expect("a readable personal part")
}

fn lunch(number: u32) -> String {
    format!(
        "From: Dana Smith <dana@example.test>\n\
         To: {MY_ADDRESS}\n\
         Subject: Lunch {number}\n\
         Date: Tue, 01 Dec 2026 09:15:00 +0000\n\
         Message-ID: <lunch-{number}@example.test>\n\
         \n\
         Shall we have lunch on day {number}?\n"
    )
}

/// A store and host over SQLite, and the mail server.
struct Fixture {
    server: MailServer,
    _dir: SqliteDir,
    store: Store,
    host: Host,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Fixture {
    async fn new() -> Self {
        let server = MailServer::start();
        let dir = SqliteDir::create();
        let store = dir.store(MasterKey::generate().expect("key")).await;
        let host = Host::builder(Arc::new(store.clone()))
            .steward_domains()
            .start()
            .expect("host starts");
        Self {
            server,
            _dir: dir,
            store,
            host,
            stop: CancellationToken::new(),
            tasks: Vec::new(),
        }
    }

    fn ingest_as(&self, password: &str) -> MailIngest {
        let mut config = ImapConfig::from_url(&self.server.imap_url(), MY_ADDRESS).expect("a URL");
        config.credentials = Some((ME.to_owned(), password.to_owned()));
        config.timeout = Duration::from_secs(10);
        MailIngest::new(self.host.clone(), config)
    }

    fn ingest(&self) -> MailIngest {
        self.ingest_as(MAIL_PASSWORD)
    }

    fn smtp(&self) -> SmtpIntegration {
        let mut config = SmtpConfig::from_url(&self.server.smtp_url(), MY_ADDRESS).expect("a URL");
        config.timeout = Duration::from_secs(5);
        SmtpIntegration::new(config).expect("an integration")
    }

    async fn all_events(&self) -> Vec<RecordedEvent> {
        self.store
            .read_all(Position::ORIGIN, 10_000)
            .await
            .expect("the log reads")
    }

    async fn of_type(&self, event_type: &str) -> Vec<RecordedEvent> {
        self.all_events()
            .await
            .into_iter()
            .filter(|e| e.event_type.as_str() == event_type)
            .collect()
    }

    async fn wait_for(&self, event_type: &str) -> RecordedEvent {
        for _ in 0..300 {
            if let Some(event) = self.of_type(event_type).await.into_iter().next() {
                return event;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {event_type} within 15 s\n{}", self.server.log());
    }

    async fn execute(&self, stream_id: &str, command_type: &str, data: Value) {
        let stream = StreamId::parse(stream_id).expect("a stream id");
        self.host
            .execute(CommandEnvelope::new(stream, command_type, data, "user:ann"))
            .await
            .unwrap_or_else(|error| panic!("{command_type} on {stream_id}: {error}"));
    }

    async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            task.await.expect("joins");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_mail_becomes_inbox_messages_once_and_the_next_pass_reads_only_what_came_since() {
    let fixture = Fixture::new().await;
    deliver(&fixture.server, ME, &lunch(1)).await;
    deliver(&fixture.server, ME, &lunch(2)).await;

    let report = fixture.ingest().sync().await.expect("a pass");
    assert_eq!(
        (report.handed_on, report.skipped, report.last_uid),
        (2, 0, 2)
    );
    let received = fixture.of_type("MessageReceived").await;
    assert_eq!(received.len(), 2);
    let first = personal(&received[0]);
    let data = &received[0].data;
    assert_eq!(data["account"], json!(MY_ADDRESS));
    assert_eq!(data["internet_message_id"], json!("lunch-1@example.test"));
    assert_eq!(first["subject"], json!("Lunch 1"));
    assert_eq!(
        first["from"],
        json!({"address": "dana@example.test", "name": "Dana Smith"})
    );
    assert!(
        first["body_text"]
            .as_str()
            .is_some_and(|body| body.contains("day 1")),
        "{first}"
    );
    assert_eq!(personal(&received[1])["subject"], json!("Lunch 2"));
    assert_eq!(
        received[0].metadata.actor, "integration:imap",
        "the integration is the actor"
    );

    // Nothing new: nothing handed on, nothing recorded.
    let before = fixture.all_events().await.len();
    let report = fixture.ingest().sync().await.expect("a pass");
    assert_eq!((report.handed_on, report.last_uid), (0, 2));
    assert_eq!(fixture.all_events().await.len(), before);

    // A third message: only it is read.
    deliver(&fixture.server, ME, &lunch(3)).await;
    let report = fixture.ingest().sync().await.expect("a pass");
    assert_eq!((report.handed_on, report.last_uid), (1, 3));
    let received = fixture.of_type("MessageReceived").await;
    assert_eq!(received.len(), 3);
    let synced = fixture.of_type("MailboxSynced").await;
    let last: Vec<u64> = synced
        .iter()
        .map(|e| e.data["last_uid"].as_u64().expect("a uid"))
        .collect();
    assert_eq!(last, [2, 3]);
    assert_eq!(
        synced[0].stream_id.as_str(),
        format!("mailbox-{MY_ADDRESS}")
    );

    // Steward reads without marking anything read.
    let mails = mailbox(&fixture.server, ME).await;
    assert_eq!(mails.len(), 3);
    for (_, flags) in &mails {
        assert!(!flags.iter().any(|flag| flag.contains("Seen")), "{flags:?}");
    }
    fixture.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_read_again_after_a_lost_sync_record_is_received_once() {
    let fixture = Fixture::new().await;
    deliver(&fixture.server, ME, &lunch(1)).await;
    fixture.ingest().sync().await.expect("a pass");
    // As if the pass had died before recording how far it got: the folder
    // is read from the start again, under a new numbering.
    fixture
        .execute(
            &format!("mailbox-{MY_ADDRESS}"),
            "RecordSync",
            json!({"folder": "INBOX", "uid_validity": 1, "last_uid": 0}),
        )
        .await;
    let report = fixture.ingest().sync().await.expect("a pass");
    assert_eq!(report.handed_on, 1, "handed on again");
    assert_eq!(
        fixture.of_type("MessageReceived").await.len(),
        1,
        "the inbox already had it"
    );
    fixture.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sign_in_or_a_server_that_is_gone_is_reported_and_records_nothing() {
    let fixture = Fixture::new().await;
    deliver(&fixture.server, ME, &lunch(1)).await;
    let error = fixture
        .ingest_as("wrong-password")
        .sync()
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, SyncError::Server(message) if message.contains("signing in")),
        "{error}"
    );
    assert!(!error.to_string().contains("wrong-password"), "{error}");

    let mut config = ImapConfig::from_url(
        &format!("imap://127.0.0.1:{}/", steward_testkit::free_port()),
        MY_ADDRESS,
    )
    .expect("a URL");
    config.credentials = Some((ME.to_owned(), MAIL_PASSWORD.to_owned()));
    let error = MailIngest::new(fixture.host.clone(), config)
        .sync()
        .await
        .expect_err("nobody listens");
    assert!(
        matches!(&error, SyncError::Server(message) if message.contains("connecting")),
        "{error}"
    );
    assert!(fixture.of_type("MessageReceived").await.is_empty());
    assert!(fixture.of_type("MailboxSynced").await.is_empty());

    // The running ingest outlives both and reads the mail once it can.
    let ingest = {
        let mut config =
            ImapConfig::from_url(&fixture.server.imap_url(), MY_ADDRESS).expect("a URL");
        config.credentials = Some((ME.to_owned(), MAIL_PASSWORD.to_owned()));
        config.poll_interval = Duration::from_millis(200);
        MailIngest::new(fixture.host.clone(), config)
    };
    let stop = fixture.stop.clone();
    let running = tokio::spawn(async move { ingest.run(stop).await });
    fixture.wait_for("MessageReceived").await;
    fixture.stop.cancel();
    running.await.expect("joins").expect("stops without error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_asked_for_in_the_inbox_reaches_its_recipient_threaded_and_is_recorded_sent() {
    let mut fixture = Fixture::new().await;
    deliver(&fixture.server, ME, &lunch(1)).await;
    fixture.ingest().sync().await.expect("a pass");
    let received = fixture.wait_for("MessageReceived").await;
    let message = received.stream_id.as_str().to_owned();

    let saga = SagaWorker::new(
        Arc::new(ReplyMail),
        fixture.host.clone(),
        fixture.store.clone(),
    )
    .expect("saga worker");
    let actuator = ActuatorWorker::new(
        fixture.host.clone(),
        fixture.store.clone(),
        ActuatorOptions::default(),
    )
    .with(Arc::new(fixture.smtp()));
    let stop = fixture.stop.clone();
    fixture.tasks.push(tokio::spawn(async move {
        saga.run(stop).await.expect("the saga runs");
    }));
    let stop = fixture.stop.clone();
    fixture.tasks.push(tokio::spawn(async move {
        actuator.run(stop).await.expect("the actuator runs");
    }));

    fixture
        .execute(
            &message,
            "DraftReply",
            json!({"draft_id": "d1", "body_text": "Day 1 works. Noon?"}),
        )
        .await;
    fixture
        .execute(&message, "RequestSend", json!({"draft_id": "d1"}))
        .await;
    let sent = fixture.wait_for("ReplySent").await;
    assert_eq!(sent.stream_id.as_str(), message);
    let sent_id = sent.data["sent_message_id"]
        .as_str()
        .expect("the sent mail's id")
        .to_owned();
    assert!(sent_id.ends_with("@example.test"), "{sent_id}");

    let delivered = mailbox(&fixture.server, MAIL_RECIPIENT).await;
    assert_eq!(delivered.len(), 1, "one mail: {delivered:?}");
    let mail = &delivered[0].0;
    for header in [
        format!("From: {MY_ADDRESS}"),
        "To: \"Dana Smith\" <dana@example.test>".to_owned(),
        "Subject: Re: Lunch 1".to_owned(),
        "In-Reply-To: <lunch-1@example.test>".to_owned(),
        "References: <lunch-1@example.test>".to_owned(),
        format!("Message-ID: <{sent_id}>"),
    ] {
        assert!(
            mail.contains(&format!("{header}\r\n")),
            "{header} in:\n{mail}"
        );
    }
    assert!(mail.contains("Day 1 works. Noon?"), "{mail}");

    // The chain is in the log: the request, the actuation and its outcome.
    let requested = fixture.wait_for("ActuationRequested").await;
    assert_eq!(requested.data["integration"], json!("smtp"));
    assert_eq!(
        requested.data["reply"],
        json!({"message_id": received.stream_id.id(), "draft_id": "d1"})
    );
    assert!(
        requested
            .metadata
            .subjects
            .iter()
            .any(|subject| subject.as_str() == "contact:dana@example.test"),
        "the mail is sealed under its recipient: {:?}",
        requested.metadata.subjects
    );
    assert_eq!(fixture.of_type("ActuationSucceeded").await.len(), 1);
    fixture.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_while_the_smtp_server_is_down_is_a_transient_failure() {
    let mut fixture = Fixture::new().await;
    let smtp = fixture.smtp();
    fixture.server.stop_smtp();
    let action = json!({
        "account": MY_ADDRESS,
        "to": [{"address": "dana@example.test"}],
        "subject": "Hello",
        "body_text": "Are you there?",
    });
    match smtp.execute(&action, "actuation-1").await {
        Err(error @ IntegrationError::Unavailable(_)) => assert!(error.is_transient()),
        other => panic!("expected unavailable, got {other:?}"),
    }
    fixture.stop().await;
}
