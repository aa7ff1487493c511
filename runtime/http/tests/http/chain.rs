//! Causation chains: ancestors up to the first command, descendants
//! breadth-first, the bound, and refusals.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use steward_actors::CommandEnvelope;
use steward_events::domain::access::Scope;
use steward_events::{
    EventStore as _, EventType, ExpectedVersion, Metadata, NewEvent, RecordedEvent, StreamId,
};
use steward_http::app;
use uuid::Uuid;

use crate::support::{Fixture, assert_problem, call, on_both_backends, with_token};

on_both_backends!(
    a_chain_holds_ancestors_and_breadth_first_descendants,
    a_chain_stops_at_a_cause_that_is_no_event,
    a_wide_chain_is_cut_at_500_and_says_so,
    unknown_and_malformed_ids_are_refused,
    the_chain_needs_a_token_with_events_read,
);

/// Lists `item`, as caused by `cause` when given; the event it recorded.
async fn list(fixture: &Fixture, item: &str, cause: Option<&RecordedEvent>) -> RecordedEvent {
    let mut envelope = CommandEnvelope::new(
        StreamId::parse(format!("shoppinglist-{item}")).expect("stream id"),
        "ListItem",
        json!({ "item": item }),
        "user:test",
    );
    if let Some(cause) = cause {
        envelope = envelope.caused_by(cause.event_id, cause.metadata.correlation_id);
    }
    let command_id = envelope.command_id.clone();
    fixture.host.execute(envelope).await.expect("listed");
    fixture
        .store
        .events_of_command(&command_id)
        .await
        .expect("its events")
        .pop()
        .expect("one event")
}

async fn chain_of(fixture: &Fixture, event_id: &str) -> (StatusCode, Value) {
    let app = test::init_service(app(fixture.state())).await;
    call(
        &app,
        with_token(
            TestRequest::get().uri(&format!("/api/v1/events/{event_id}/chain")),
            &fixture.admin,
        ),
    )
    .await
}

fn ids(events: &Value) -> Vec<String> {
    events
        .as_array()
        .expect("a list of events")
        .iter()
        .map(|event| event["event_id"].as_str().expect("an id").to_owned())
        .collect()
}

fn id(event: &RecordedEvent) -> String {
    event.event_id.to_string()
}

async fn a_chain_holds_ancestors_and_breadth_first_descendants(fixture: Fixture) {
    // root ─┬─ child ── grandchild
    //       └─ second child (recorded after the grandchild)
    let root = list(&fixture, "root", None).await;
    let child = list(&fixture, "child", Some(&root)).await;
    let grandchild = list(&fixture, "grandchild", Some(&child)).await;
    let second = list(&fixture, "second", Some(&root)).await;
    let _unrelated = list(&fixture, "unrelated", None).await;
    fixture.catch_up().await;

    let (status, chain) = chain_of(&fixture, &id(&child)).await;
    assert_eq!(status, StatusCode::OK, "{chain}");
    assert_eq!(chain["event"]["event_id"], id(&child));
    assert_eq!(chain["event"]["data"]["item"], "child");
    assert_eq!(
        chain["event"]["position"],
        child.global_position.to_string()
    );
    assert_eq!(chain["event"]["metadata"]["causation_id"], id(&root));
    assert_eq!(ids(&chain["ancestors"]), [id(&root)]);
    assert_eq!(ids(&chain["descendants"]), [id(&grandchild)]);
    assert_eq!(chain["truncated"], false);

    let (_, chain) = chain_of(&fixture, &id(&root)).await;
    assert_eq!(ids(&chain["ancestors"]), Vec::<String>::new());
    assert_eq!(
        ids(&chain["descendants"]),
        [id(&child), id(&second), id(&grandchild)],
        "level by level, each level in log order"
    );

    let (_, chain) = chain_of(&fixture, &id(&grandchild)).await;
    assert_eq!(
        ids(&chain["ancestors"]),
        [id(&root), id(&child)],
        "from the first cause down"
    );
    assert_eq!(chain["descendants"], json!([]));

    // Any spelling of the UUID finds it.
    let (status, chain) = chain_of(&fixture, &id(&child).to_uppercase()).await;
    assert_eq!(status, StatusCode::OK, "{chain}");
    assert_eq!(chain["event"]["event_id"], id(&child));
}

async fn a_chain_stops_at_a_cause_that_is_no_event(fixture: Fixture) {
    // A command caused by another command's id (not an event's).
    let command = Uuid::now_v7();
    let mut envelope = CommandEnvelope::new(
        StreamId::parse("shoppinglist-home").expect("stream id"),
        "ListItem",
        json!({ "item": "milk" }),
        "user:test",
    )
    .caused_by(command, Uuid::now_v7());
    envelope.command_id = "by-command".to_owned();
    fixture.host.execute(envelope).await.expect("listed");
    let milk = fixture
        .store
        .events_of_command("by-command")
        .await
        .expect("its events")
        .pop()
        .expect("one event");
    fixture.catch_up().await;
    let (status, chain) = chain_of(&fixture, &id(&milk)).await;
    assert_eq!(status, StatusCode::OK, "{chain}");
    assert_eq!(chain["ancestors"], json!([]));
    assert_eq!(
        chain["event"]["metadata"]["causation_id"],
        command.to_string()
    );
}

async fn a_wide_chain_is_cut_at_500_and_says_so(fixture: Fixture) {
    let root = list(&fixture, "root", None).await;
    let effects: Vec<NewEvent> = (0..501)
        .map(|n| {
            NewEvent::new(EventType::parse("Noted").expect("type"), json!({ "n": n }))
                .with_metadata(Metadata {
                    causation_id: Some(root.event_id),
                    ..Metadata::default()
                })
        })
        .collect();
    fixture
        .store
        .append(
            &StreamId::parse("note-1").expect("stream id"),
            ExpectedVersion::Any,
            effects,
        )
        .await
        .expect("appended");
    fixture.catch_up().await;
    let (status, chain) = chain_of(&fixture, &id(&root)).await;
    assert_eq!(status, StatusCode::OK);
    let descendants = chain["descendants"].as_array().expect("descendants");
    assert_eq!(descendants.len(), 500);
    assert_eq!(descendants[0]["data"]["n"], 0);
    assert_eq!(descendants[499]["data"]["n"], 499);
    assert_eq!(chain["truncated"], true);
}

async fn unknown_and_malformed_ids_are_refused(fixture: Fixture) {
    let (status, body) = chain_of(&fixture, &Uuid::now_v7().to_string()).await;
    assert_problem(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
    fixture.catch_up().await;
    let (status, body) = chain_of(&fixture, &Uuid::now_v7().to_string()).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
    let (status, body) = chain_of(&fixture, "not-a-uuid").await;
    assert_problem(status, &body, StatusCode::BAD_REQUEST, "invalid-input");
    assert_eq!(body["field"], "event_id");
}

async fn the_chain_needs_a_token_with_events_read(fixture: Fixture) {
    let root = list(&fixture, "root", None).await;
    fixture.catch_up().await;
    let writer = fixture.token("writer", &[Scope::CommandsWrite]).await;
    let reader = fixture.token("reader", &[Scope::EventsRead]).await;
    let app = test::init_service(app(fixture.state())).await;
    let uri = format!("/api/v1/events/{}/chain", root.event_id);
    let (status, body) = call(&app, TestRequest::get().uri(&uri)).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (status, body) = call(&app, with_token(TestRequest::get().uri(&uri), &writer)).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(body["required_scope"], "events:read");
    let (status, body) = call(&app, with_token(TestRequest::get().uri(&uri), &reader)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
