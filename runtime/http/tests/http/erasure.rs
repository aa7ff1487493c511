//! Erasing a data subject through `POST /api/v1/subjects/{subject}/erase`,
//! followed through the log, the timeline, a read model and the memory.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use steward_events::domain::access::Scope;
use steward_http::app;

use crate::support::{Fixture, assert_problem, call, embedder, on_both_backends, with_token};

on_both_backends!(
    an_erased_contact_reads_as_erased_everywhere,
    erasing_needs_admin_and_a_subject_id,
);

const CONTACT: &str = "contact:ana@example.com";

async fn request(fixture: &Fixture, request: TestRequest) -> (StatusCode, Value) {
    let app = test::init_service(app(fixture.state())).await;
    call(&app, with_token(request, &fixture.admin)).await
}

/// GETs `uri` as the admin, expecting 200.
async fn ok(fixture: &Fixture, uri: &str) -> Value {
    let (status, body) = request(fixture, TestRequest::get().uri(uri)).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

fn erase_uri(subject: &str) -> String {
    format!("/api/v1/subjects/{subject}/erase")
}

async fn receive_from_ana(fixture: &Fixture) {
    fixture
        .command(
            "message-m1",
            "Receive",
            json!({
                "message_id": "m1",
                "account": "personal",
                "from": { "address": "ana@example.com", "name": "Ana Lima" },
                "to": [{ "address": "me@example.org" }],
                "subject": "Can we move lunch to Thursday?",
                "body_text": "The usual place, at noon.",
                "received_at": "2030-01-07T08:30:00Z",
            }),
        )
        .await;
}

async fn an_erased_contact_reads_as_erased_everywhere(fixture: Fixture) {
    let fixture = fixture.with_memory(embedder());
    receive_from_ana(&fixture).await;
    fixture.catch_up().await;

    // Before: the personal data shows in the log, the timeline, the inbox
    // and the memory.
    let stream = ok(&fixture, "/api/v1/streams/message-m1").await;
    let received = &stream["events"][0];
    assert_eq!(received["personal_erased"], false, "{stream}");
    assert!(
        received["personal"].to_string().contains("Ana Lima"),
        "{stream}"
    );
    let found = ok(&fixture, "/api/v1/events?q=Thursday").await;
    assert_eq!(
        found["entries"].as_array().map(Vec::len),
        Some(1),
        "{found}"
    );
    let inbox = ok(&fixture, "/api/v1/inbox").await;
    let message = &inbox["messages"][0];
    assert_eq!(message["from_address"], "ana@example.com", "{inbox}");
    assert_eq!(message["from_name"], "Ana Lima", "{inbox}");
    assert_eq!(message["subject"], "Can we move lunch to Thursday?");
    let memory = ok(&fixture, "/api/v1/memory/search?q=lunch&k=5").await;
    assert!(
        memory["hits"]
            .as_array()
            .is_some_and(|hits| hits.iter().any(|hit| hit["stream_id"] == "message-m1")),
        "{memory}"
    );

    // Erase Ana.
    let (status, erased) = request(&fixture, TestRequest::post().uri(&erase_uri(CONTACT))).await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert_eq!(erased["subject"], CONTACT);
    assert_eq!(erased["key_destroyed"], true);
    assert!(erased["position"].is_string(), "{erased}");
    fixture.catch_up().await;

    // After: the facts remain, what was about Ana is gone everywhere.
    let stream = ok(&fixture, "/api/v1/streams/message-m1").await;
    let received = &stream["events"][0];
    assert_eq!(received["personal_erased"], true, "{stream}");
    assert_eq!(received["personal"], Value::Null, "{stream}");
    assert!(!stream.to_string().contains("Ana Lima"), "{stream}");
    let found = ok(&fixture, "/api/v1/events?q=Thursday").await;
    assert_eq!(found["entries"], json!([]), "{found}");
    let erasure_recorded = ok(&fixture, "/api/v1/events?type=SubjectErased").await;
    assert_eq!(
        erasure_recorded["entries"].as_array().map(Vec::len),
        Some(1),
        "{erasure_recorded}"
    );
    let inbox = ok(&fixture, "/api/v1/inbox").await;
    let message = &inbox["messages"][0];
    assert_eq!(message["message_id"], "m1", "the message itself remains");
    assert_eq!(message["from_address"], Value::Null, "{inbox}");
    assert_eq!(message["from_name"], Value::Null, "{inbox}");
    assert_eq!(message["subject"], Value::Null, "{inbox}");
    assert!(!inbox.to_string().contains("Ana"), "{inbox}");
    let memory = ok(&fixture, "/api/v1/memory/search?q=lunch&k=5").await;
    assert!(
        !memory.to_string().contains("lunch") && !memory.to_string().contains("Ana"),
        "{memory}"
    );

    // Again: nothing changes, the first erasure's position is given.
    let (status, again) = request(&fixture, TestRequest::post().uri(&erase_uri(CONTACT))).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["key_destroyed"], false);
    assert_eq!(again["position"], erased["position"]);
}

async fn erasing_needs_admin_and_a_subject_id(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    let (status, _) = call(&app, TestRequest::post().uri(&erase_uri(CONTACT))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let reader = fixture
        .token("reader", &[Scope::EventsRead, Scope::ReadModelsRead])
        .await;
    let (status, body) = call(
        &app,
        with_token(TestRequest::post().uri(&erase_uri(CONTACT)), &reader),
    )
    .await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");

    let (status, body) =
        request(&fixture, TestRequest::post().uri(&erase_uri("has%20space"))).await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "invalid-input");
    assert_eq!(body["field"], "subject", "{body}");

    // A GET is not an erasure.
    let (status, _) = request(&fixture, TestRequest::get().uri(&erase_uri(CONTACT))).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
