//! Hybrid routing over `POST /api/v1/requests`: what the local models
//! cannot read may go to an OpenAI-compatible server (one the test starts,
//! which records every body it receives), never when it is sensitive, and
//! never without a line in the egress ledger first.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::{HttpResponse, HttpServer, web};
use chrono::Utc;
use serde_json::{Value, json};
use steward_events::domain::access::Scope;
use steward_events::{Direction, EventStore, RecordedEvent, StreamId};
use steward_http::app;
use steward_planner::PlannerSettings;
use steward_planner::remote::{RemoteConfig, RemoteModel};

use crate::support::{Fixture, call, embedder, on_both_backends, with_token};

on_both_backends!(
    what_the_local_models_cannot_read_is_asked_remotely_and_ledgered,
    a_remote_reading_is_held_to_the_members_domains,
    a_sensitive_request_never_leaves,
    an_unreachable_model_leaves_the_local_answer_and_a_failed_call,
);

/// Read locally as unsure between intents (each test checks it first).
const VAGUE: &str = "vitamins pls";
/// As vague, and about health.
const VAGUE_AND_HEALTH: &str = "pills pls";

/// What the fake model answers: putting vitamins on the list.
fn vitamins() -> Value {
    json!({"intent": "groceries.add_to_list", "slots": {"item": "vitamins"}, "confidence": 0.9})
}

/// An OpenAI-compatible server that reads every request as `reading`, and
/// keeps what it received: each body and its `Authorization` header.
struct FakeModel {
    endpoint: String,
    received: Arc<Mutex<Vec<Value>>>,
    keys: Arc<Mutex<Vec<Option<String>>>>,
}

struct FakeState {
    reading: Value,
    received: Arc<Mutex<Vec<Value>>>,
    keys: Arc<Mutex<Vec<Option<String>>>>,
}

async fn completions(
    state: web::Data<FakeState>,
    request: actix_web::HttpRequest,
    body: web::Json<Value>,
) -> HttpResponse {
    state
        .received
        .lock()
        .expect("not poisoned")
        .push(body.into_inner());
    let key = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    state.keys.lock().expect("not poisoned").push(key);
    let reading = &state.reading;
    HttpResponse::Ok().json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": reading.to_string()}}],
    }))
}

fn start_fake_model(reading: Value) -> FakeModel {
    let received = Arc::new(Mutex::new(Vec::new()));
    let keys = Arc::new(Mutex::new(Vec::new()));
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    let data = web::Data::new(FakeState {
        reading,
        received: Arc::clone(&received),
        keys: Arc::clone(&keys),
    });
    let server = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .route("/v1/chat/completions", web::post().to(completions))
    })
    .workers(1)
    .listen(listener)
    .expect("listens")
    .run();
    actix_web::rt::spawn(server);
    FakeModel {
        endpoint: format!("http://127.0.0.1:{port}/v1"),
        received,
        keys,
    }
}

fn remote(endpoint: &str) -> PlannerSettings {
    PlannerSettings {
        remote: Some(
            RemoteModel::new(RemoteConfig {
                endpoint: endpoint.to_owned(),
                model: "test-model".to_owned(),
                api_key: Some("sk-test".to_owned()),
                timeout: Duration::from_secs(5),
            })
            .expect("a remote model"),
        ),
        ..PlannerSettings::default()
    }
}

async fn ask(fixture: &Fixture, text: &str, plan_id: &str) -> (StatusCode, Value) {
    ask_as(fixture, &fixture.admin, text, plan_id).await
}

async fn ask_as(fixture: &Fixture, token: &str, text: &str, plan_id: &str) -> (StatusCode, Value) {
    let app = test::init_service(app(fixture.state())).await;
    call(
        &app,
        with_token(
            TestRequest::post()
                .uri("/api/v1/requests")
                .set_json(json!({ "text": text, "plan_id": plan_id })),
            token,
        ),
    )
    .await
}

/// Whether the planner, on its own, could not read the request.
#[track_caller]
fn unread_locally(body: &Value) {
    let unsure = body["outcome"] == "ask" && body["decision"]["slot"].is_null();
    let out_of_scope = body["outcome"] == "decline" && body["intent"] == "none.out_of_scope";
    assert!(unsure || out_of_scope, "the local models read it: {body}");
    assert_eq!(body["ran"], "local", "{body}");
}

/// The egress ledger's calls, this month's and, should the test have
/// crossed into a new month, last month's.
async fn ledger(fixture: &Fixture) -> Vec<RecordedEvent> {
    let now = Utc::now();
    let months = [now - chrono::Duration::minutes(5), now];
    let mut events = Vec::new();
    for month in months
        .map(|at| at.format("%Y-%m").to_string())
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
    {
        events.extend(
            fixture
                .store
                .read_stream(
                    &StreamId::new("egress", month).expect("valid"),
                    0,
                    Direction::Forward,
                    100,
                )
                .await
                .expect("reads"),
        );
    }
    events
}

fn personal(event: &RecordedEvent) -> &Value {
    event
        .personal
        .as_ref()
        .and_then(|personal| personal.plain())
        .expect("an opened personal part")
}

async fn what_the_local_models_cannot_read_is_asked_remotely_and_ledgered(fixture: Fixture) {
    let model = start_fake_model(vitamins());
    let local = fixture.with_planner(embedder());
    local.catch_up().await;
    let (status, body) = ask(&local, VAGUE, "local-only").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    unread_locally(&body);

    let fixture = local.with_planner_settings(embedder(), remote(&model.endpoint));
    let (status, body) = ask(&fixture, VAGUE, "vitamins").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["outcome"], "plan", "{body}");
    assert_eq!(body["intent"], "groceries.add_to_list", "{body}");
    assert_eq!(body["privacy"], "ordinary", "{body}");
    assert_eq!(body["ran"], model.endpoint.as_str(), "{body}");
    let proposed = &body["proposal"]["events"][0];
    assert_eq!(
        proposed["data"]["model"]["location"],
        json!({"ran": "remote", "endpoint": model.endpoint}),
        "{proposed}"
    );
    assert_eq!(proposed["personal"]["steps"][0]["data"]["item"], "vitamins");

    // Every body the server received is in the ledger, as sent, before
    // its answer.
    let received = model.received.lock().expect("not poisoned").clone();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["messages"][1]["content"], VAGUE);
    let ledger = ledger(&fixture).await;
    let types: Vec<&str> = ledger.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["EgressSent", "EgressAnswered"]);
    assert_eq!(personal(&ledger[0])["sent"], received[0]);
    assert_eq!(ledger[0].data["endpoint"], model.endpoint.as_str());
    assert_eq!(ledger[0].data["privacy"], "ordinary");
    assert_eq!(ledger[0].data["plan_id"], "vitamins");
    assert_eq!(body["egress_call"], ledger[0].data["call_id"]);
    assert_eq!(ledger[1].data["status"], 200);
    // The key went with the call, and nowhere into the ledger.
    assert_eq!(
        *model.keys.lock().expect("not poisoned"),
        [Some("Bearer sk-test".to_owned())]
    );
    for event in &ledger {
        let recorded = format!("{} {:?}", event.data, event.personal);
        assert!(!recorded.contains("sk-test"), "{recorded}");
    }

    // Asked again under the same plan id: answered from the proposal, not
    // sent out a second time.
    let (status, again) = ask(&fixture, VAGUE, "vitamins").await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["proposal"]["duplicate"], true, "{again}");
    assert_eq!(again["ran"], model.endpoint.as_str(), "{again}");
    assert_eq!(model.received.lock().expect("not poisoned").len(), 1);
    assert_eq!(self::ledger(&fixture).await.len(), 2);
}

async fn a_sensitive_request_never_leaves(fixture: Fixture) {
    let model = start_fake_model(vitamins());
    let fixture = fixture.with_planner_settings(embedder(), remote(&model.endpoint));
    fixture.catch_up().await;
    let (status, body) = ask(&fixture, VAGUE_AND_HEALTH, "pills").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    unread_locally(&body);
    assert_eq!(body["privacy"], "health", "{body}");
    assert!(body["egress_call"].is_null(), "{body}");
    assert!(model.received.lock().expect("not poisoned").is_empty());
    assert!(ledger(&fixture).await.is_empty());
}

async fn an_unreachable_model_leaves_the_local_answer_and_a_failed_call(fixture: Fixture) {
    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let endpoint = format!("http://{}/v1", closed.local_addr().expect("bound"));
    drop(closed);
    let fixture = fixture.with_planner_settings(embedder(), remote(&endpoint));
    fixture.catch_up().await;
    let (status, body) = ask(&fixture, VAGUE, "unreachable").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    unread_locally(&body);
    assert!(body["egress_call"].is_string(), "{body}");
    let ledger = ledger(&fixture).await;
    let types: Vec<&str> = ledger.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["EgressSent", "EgressFailed"]);
    assert_eq!(ledger[1].data["error"], "could not connect");
}

async fn a_remote_reading_is_held_to_the_members_domains(fixture: Fixture) {
    // Locally the request is about the shopping list, which the member may
    // use; the remote model reads it as the home's devices, which they may not.
    let model = start_fake_model(json!({"intent": "home.device_status", "slots": {}}));
    let fixture = fixture.with_planner_settings(embedder(), remote(&model.endpoint));
    fixture.catch_up().await;
    let member = fixture
        .member_token("sam", &["groceries"], &[Scope::CommandsWrite])
        .await;
    let (status, body) = ask_as(&fixture, &member, VAGUE, "sams").await;
    crate::support::assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(body["domain"], "home", "{body}");
    assert_eq!(model.received.lock().expect("not poisoned").len(), 1);
}
