//! Webhooks against a real HTTP receiver the test starts: signatures
//! verify (checked with an HMAC written here from SHA-256 alone), order
//! holds, an outage loses nothing, personal parts go only where granted,
//! dead letters disable a failing subscriber, redelivery and replay.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use steward_http::webhooks::{RetryPolicy, WebhookWorker};
use tokio_util::sync::CancellationToken;

use crate::support::{Fixture, on_both_backends, with_token};

/// Calls the API as the fixture's admin.
async fn call(fixture: &Fixture, request: TestRequest) -> (StatusCode, Value) {
    call_as(fixture, &fixture.admin, request).await
}

/// Calls the API with `token`.
async fn call_as(fixture: &Fixture, token: &str, request: TestRequest) -> (StatusCode, Value) {
    let app = actix_web::test::init_service(steward_http::app(fixture.state())).await;
    crate::support::call(&app, with_token(request, token)).await
}

/// A message as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A webhook receiver on a port of its own: keeps what it gets, and
/// answers with `answer` (200 unless set).
#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    answer: Arc<AtomicU16>,
    port: u16,
}

async fn take(
    request: HttpRequest,
    body: web::Bytes,
    receiver: web::Data<Receiver>,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let status = receiver.answer.load(Ordering::SeqCst);
    if status == 200 {
        receiver.got.lock().expect("lock").push(Received {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: body.to_vec(),
        });
    }
    HttpResponse::build(StatusCode::from_u16(status).expect("a status")).finish()
}

impl Receiver {
    fn new() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("an address")
            .port();
        Self {
            got: Arc::default(),
            answer: Arc::new(AtomicU16::new(200)),
            port,
        }
    }

    /// Starts listening (again) on its port.
    fn start(&self) -> ServerHandle {
        let receiver = self.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(receiver.clone()))
                .route("/hook", web::post().to(take))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", self.port))
        .expect("the port binds")
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        handle
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// What it got, once per `webhook-id` (receivers deduplicate).
    fn unique(&self) -> Vec<Received> {
        let mut seen = HashSet::new();
        self.got()
            .into_iter()
            .filter(|r| seen.insert(r.id.clone()))
            .collect()
    }

    async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..500 {
            let unique = self.unique();
            if unique.len() >= count {
                return unique;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the receiver got {} of {count}", self.unique().len());
    }
}

/// HMAC-SHA256 from SHA-256 alone (RFC 2104), to check the worker's
/// signatures with an implementation of its own.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// Verifies a message per the Standard Webhooks specification.
fn verifies(secret: &str, message: &Received) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    let key = engine
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("base64");
    let mut signed = format!("{}.{}.", message.id, message.timestamp).into_bytes();
    signed.extend_from_slice(&message.body);
    let expected = format!("v1,{}", engine.encode(hmac_sha256(&key, &signed)));
    message
        .signature
        .split(' ')
        .any(|candidate| candidate == expected)
}

fn quick(give_up_after: Duration) -> RetryPolicy {
    RetryPolicy {
        delays: vec![Duration::from_millis(30), Duration::from_millis(60)],
        give_up_after,
        poll: Duration::from_millis(20),
        timeout: Duration::from_secs(2),
    }
}

/// Runs the worker until the returned token is cancelled.
fn start_worker(fixture: &Fixture, policy: RetryPolicy) -> CancellationToken {
    let worker = WebhookWorker::new(
        fixture.host.clone(),
        Arc::new(fixture.store.clone()),
        policy,
    )
    .expect("a client");
    let stop = CancellationToken::new();
    let token = stop.clone();
    actix_web::rt::spawn(async move { worker.run(token).await.expect("the worker runs") });
    stop
}

/// The subscriber's delivery log (newest first), once `settled` holds.
async fn wait_for_log(
    fixture: &Fixture,
    webhook_id: &str,
    settled: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let uri = format!("/api/v1/webhooks/{webhook_id}/deliveries");
    let mut log = Vec::new();
    for _ in 0..300 {
        log = call(fixture, TestRequest::get().uri(&uri))
            .await
            .1
            .as_array()
            .cloned()
            .unwrap_or_default();
        if settled(&log) {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the delivery log did not settle: {log:?}");
}

/// Registers a subscriber to `access` events through the API; its id and
/// secret.
async fn register(fixture: &Fixture, url: &str, personal: bool) -> (String, String) {
    let (status, body) = call(
        fixture,
        TestRequest::post()
            .uri("/api/v1/webhooks")
            .set_json(json!({ "url": url, "categories": ["access"], "personal": personal })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        body["secret"]
            .as_str()
            .expect("a secret")
            .starts_with("whsec_")
    );
    (
        body["webhook_id"].as_str().expect("an id").to_owned(),
        body["secret"].as_str().expect("a secret").to_owned(),
    )
}

/// `count` events in `access` (failed logins of `who-<n>`), in order.
async fn failed_logins(fixture: &Fixture, who: &str, count: usize) {
    for n in 0..count {
        fixture
            .command(
                "access-main",
                "RecordFailedLogin",
                json!({ "username": format!("{who}-{n}"), "reason": "unknown_user" }),
            )
            .await;
    }
}

async fn deliveries_are_signed_ordered_and_keep_personal_parts_back(fixture: Fixture) {
    let receiver = Receiver::new();
    let server = receiver.start();
    let (_, secret) = register(&fixture, &receiver.url(), false).await;
    // Not in the filter: never delivered.
    fixture
        .command(
            "pantry-home",
            "StockItem",
            json!({ "item": "rice", "quantity": 1.0, "unit": "kg" }),
        )
        .await;
    failed_logins(&fixture, "stranger", 5).await;
    let stop = start_worker(&fixture, quick(Duration::from_secs(60)));
    let got = receiver.wait_for(5).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.cancel();
    assert_eq!(receiver.unique().len(), 5, "only the filter's events");
    let positions: Vec<u64> = got
        .iter()
        .map(|m| m.json()["data"]["position"].as_u64().expect("a position"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    for message in &got {
        assert!(verifies(&secret, message), "the signature verifies");
        let body = message.json();
        assert_eq!(body["type"], "LoginFailed");
        assert_eq!(body["data"]["personal"], Value::Null, "not granted");
    }
    let mut tampered = got[0].clone();
    tampered.body.push(b' ');
    assert!(!verifies(&secret, &tampered));
    server.stop(true).await;
}

async fn personal_parts_go_to_subscribers_granted_them(fixture: Fixture) {
    let receiver = Receiver::new();
    let server = receiver.start();
    let (status, body) = call(
        &fixture,
        TestRequest::post().uri("/api/v1/webhooks").set_json(json!({
            "url": receiver.url(), "categories": ["access", "message"], "personal": true
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    failed_logins(&fixture, "known", 1).await;
    fixture
        .command(
            "message-m1",
            "Receive",
            json!({
                "message_id": "m1", "account": "personal",
                "from": { "address": "ana@example.com", "name": "Ana Lima" },
                "to": [{ "address": "me@example.org" }],
                "subject": "Lunch on Friday?", "body_text": "At noon?",
                "received_at": "2030-01-07T08:30:00Z",
            }),
        )
        .await;
    let stop = start_worker(&fixture, quick(Duration::from_secs(60)));
    let got = receiver.wait_for(2).await;
    stop.cancel();
    assert_eq!(
        got[1].json()["data"]["personal"]["subject"],
        "Lunch on Friday?",
        "a granted subscriber gets the personal part"
    );
    assert_eq!(
        got[0].json()["data"]["personal"],
        Value::Null,
        "but never the access domain's (usernames, password hashes)"
    );
    server.stop(true).await;
}

async fn an_outage_of_the_receiver_loses_nothing(fixture: Fixture) {
    let receiver = Receiver::new();
    let (webhook_id, secret) = register(&fixture, &receiver.url(), false).await;
    // The receiver is down: nothing listens on its port.
    failed_logins(&fixture, "during-outage", 4).await;
    let stop = start_worker(&fixture, quick(Duration::from_secs(60)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, log) = call(
        &fixture,
        TestRequest::get().uri(&format!("/api/v1/webhooks/{webhook_id}/deliveries")),
    )
    .await;
    assert_eq!(log[0]["status"], "pending", "{log}");
    assert!(log[0]["attempts"].as_u64().expect("attempts") >= 2, "{log}");
    assert_eq!(log[0]["status_code"], Value::Null);
    assert_eq!(
        log.as_array().expect("a log").len(),
        1,
        "one in flight: {log}"
    );
    // The worker stops mid-retry (a restart); the next one resumes the
    // delivery in flight, counting its attempts on.
    stop.cancel();
    let attempts_before = log[0]["attempts"].as_u64().expect("attempts");
    let stop = start_worker(&fixture, quick(Duration::from_secs(60)));
    wait_for_log(&fixture, &webhook_id, |log| {
        log.len() == 1 && log[0]["attempts"].as_u64() > Some(attempts_before)
    })
    .await;
    let server = receiver.start();
    let got = receiver.wait_for(4).await;
    stop.cancel();
    let names: Vec<u64> = got
        .iter()
        .map(|m| m.json()["data"]["position"].as_u64().expect("a position"))
        .collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "in order: {names:?}");
    assert!(got.iter().all(|m| verifies(&secret, m)));
    // The last delivery is recorded just after the receiver answered.
    let log = wait_for_log(&fixture, &webhook_id, |log| {
        log.len() == 4 && log[0]["status"] == "delivered"
    })
    .await;
    assert!(
        log.iter()
            .all(|d| d["status"] == "delivered" && d["status_code"] == 200)
    );
    server.stop(true).await;
}

async fn a_failing_subscriber_is_dead_lettered_disabled_then_redelivered_and_replayed(
    fixture: Fixture,
) {
    let receiver = Receiver::new();
    let server = receiver.start();
    receiver.answer.store(500, Ordering::SeqCst);
    let (webhook_id, _) = register(&fixture, &receiver.url(), false).await;
    failed_logins(&fixture, "failing", 4).await;
    let stop = start_worker(&fixture, quick(Duration::from_millis(100)));
    let hook_uri = format!("/api/v1/webhooks/{webhook_id}");
    let mut hook = Value::Null;
    for _ in 0..300 {
        hook = call(&fixture, TestRequest::get().uri(&hook_uri)).await.1;
        if hook["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(hook["enabled"], false, "{hook}");
    assert_eq!(hook["disabled_reason"], "failing: 3 dead letters in a row");
    let (_, log) = call(
        &fixture,
        TestRequest::get().uri(&format!("{hook_uri}/deliveries")),
    )
    .await;
    let log = log.as_array().expect("a log").clone();
    assert_eq!(log.len(), 3, "the fourth waits: {log:?}");
    assert!(
        log.iter()
            .all(|d| d["status"] == "dead_letter" && d["status_code"] == 500)
    );

    // The receiver is fixed: a dead letter is sent again by hand.
    receiver.answer.store(200, Ordering::SeqCst);
    let oldest = log[2]["delivery_id"].as_str().expect("an id").to_owned();
    let first_position = log[2]["position"].as_u64().expect("a position");
    let (status, body) = call(
        &fixture,
        TestRequest::post().uri(&format!("{hook_uri}/deliveries/{oldest}/redeliver")),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].id, oldest);

    // Enabled again: the fourth event goes out.
    let (status, body) = call(
        &fixture,
        TestRequest::patch()
            .uri(&hook_uri)
            .set_json(json!({ "enabled": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    receiver.wait_for(2).await;
    wait_for_log(&fixture, &webhook_id, |log| {
        log.len() == 4 && log[0]["status"] == "delivered"
    })
    .await;

    // Replay from just before the first: all four again, in order, under
    // the same ids.
    let before = receiver.got().len();
    let (status, body) = call(
        &fixture,
        TestRequest::post()
            .uri(&format!("{hook_uri}/replay"))
            .set_json(json!({ "from": first_position - 1 })),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    for _ in 0..300 {
        if receiver.got().len() >= before + 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    let replayed: Vec<Received> = receiver.got()[before..].to_vec();
    assert_eq!(replayed.len(), 4);
    let positions: Vec<u64> = replayed
        .iter()
        .map(|m| m.json()["data"]["position"].as_u64().expect("a position"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(receiver.unique().len(), 4, "the same webhook-ids");
    server.stop(true).await;
}

async fn webhooks_are_managed_by_admins_and_their_secrets_are_shown_once(fixture: Fixture) {
    let (status, _) = call(
        &fixture,
        TestRequest::post()
            .uri("/api/v1/webhooks")
            .set_json(json!({ "url": "ftp://x" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (webhook_id, _) = register(&fixture, "https://example.invalid/hook", false).await;
    let (status, list) = call(&fixture, TestRequest::get().uri("/api/v1/webhooks")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["webhook_id"], webhook_id.as_str());
    assert!(list[0].get("secret").is_none(), "never listed");
    let uri = format!("/api/v1/webhooks/{webhook_id}");
    let (status, hook) = call(
        &fixture,
        TestRequest::patch()
            .uri(&uri)
            .set_json(json!({ "event_types": ["LoginFailed"], "personal": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{hook}");
    assert_eq!(hook["event_types"], json!(["LoginFailed"]));
    assert_eq!(hook["personal"], true);
    let member = fixture
        .token(
            "scripts",
            &[steward_events::domain::access::Scope::CommandsWrite],
        )
        .await;
    let (status, _) = call_as(
        &fixture,
        &member,
        TestRequest::get().uri("/api/v1/webhooks"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&fixture, TestRequest::delete().uri(&uri)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&fixture, TestRequest::get().uri(&uri)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

on_both_backends!(
    deliveries_are_signed_ordered_and_keep_personal_parts_back,
    personal_parts_go_to_subscribers_granted_them,
    an_outage_of_the_receiver_loses_nothing,
    a_failing_subscriber_is_dead_lettered_disabled_then_redelivered_and_replayed,
    webhooks_are_managed_by_admins_and_their_secrets_are_shown_once,
);
