//! The timeline and streams: filters, cursor paging, bad parameters.

use std::collections::HashSet;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use steward_http::app;

use crate::support::{Fixture, assert_problem, call, on_both_backends, with_token};

async fn shop(fixture: &Fixture, items: usize) {
    for n in 0..items {
        fixture
            .command(
                "shoppinglist-home",
                "ListItem",
                json!({ "item": format!("item {n}") }),
            )
            .await;
    }
    fixture
        .command(
            "pantry-home",
            "StockItem",
            json!({ "item": "rice", "quantity": 2.0, "unit": "kg" }),
        )
        .await;
}

async fn get(fixture: &Fixture, uri: &str) -> (StatusCode, Value) {
    let app = test::init_service(app(fixture.state())).await;
    call(
        &app,
        with_token(TestRequest::get().uri(uri), &fixture.admin),
    )
    .await
}

async fn the_timeline_pages_every_event_once_newest_first(fixture: Fixture) {
    shop(&fixture, 7).await;
    fixture.catch_up().await;
    let mut seen = Vec::new();
    let mut uri = "/api/v1/events?category=shoppinglist&limit=3".to_owned();
    loop {
        let (status, page) = get(&fixture, &uri).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let entries = page["entries"].as_array().expect("entries");
        assert!(entries.len() <= 3);
        seen.extend(entries.iter().map(|entry| entry["position"].clone()));
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                uri = format!("/api/v1/events?category=shoppinglist&limit=3&cursor={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "every listed item once: {seen:?}");
    let unique: HashSet<String> = seen.iter().map(ToString::to_string).collect();
    assert_eq!(unique.len(), 7);

    let (_, pantry) = get(&fixture, "/api/v1/events?type=ItemStocked").await;
    let entries = pantry["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["stream_id"], "pantry-home");
    assert_eq!(entries[0]["actor"], "user:test");

    let (_, found) = get(&fixture, "/api/v1/events?q=rice").await;
    assert_eq!(
        found["entries"].as_array().map(Vec::len),
        Some(1),
        "{found}"
    );
    let future = "2999-01-01T00:00:00Z";
    let (_, none) = get(&fixture, &format!("/api/v1/events?from={future}")).await;
    assert_eq!(none["entries"], json!([]));
    assert_eq!(none["next_cursor"], Value::Null);
}

async fn bad_timeline_parameters_name_themselves(fixture: Fixture) {
    fixture.catch_up().await;
    for (query, field) in [
        ("cursor=not-a-cursor", "cursor"),
        ("from=yesterday", "from"),
        ("until=2026-13-01T00:00:00Z", "until"),
        (
            "from=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
            "until",
        ),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("correlation_id=42", "correlation_id"),
        ("stream=bad%20stream", "stream"),
        ("colour=blue", "colour"),
    ] {
        let (status, body) = get(&fixture, &format!("/api/v1/events?{query}")).await;
        assert_problem(status, &body, StatusCode::BAD_REQUEST, "invalid-input");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
}

async fn a_timeline_not_built_yet_is_unavailable(fixture: Fixture) {
    let (status, body) = get(&fixture, "/api/v1/events").await;
    assert_problem(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
}

async fn a_stream_reads_both_ways_in_pages(fixture: Fixture) {
    shop(&fixture, 5).await;
    let (status, first) = get(&fixture, "/api/v1/streams/shoppinglist-home?limit=2").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let versions = |page: &Value| -> Vec<u64> {
        page["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|event| event["stream_version"].as_u64().expect("a version"))
            .collect()
    };
    assert_eq!(versions(&first), [0, 1]);
    assert_eq!(first["next_from"], 2);
    assert_eq!(first["events"][0]["event_type"], "ItemListed");
    assert_eq!(first["events"][0]["metadata"]["actor"], "user:test");
    let (_, last) = get(&fixture, "/api/v1/streams/shoppinglist-home?from=4").await;
    assert_eq!(versions(&last), [4]);
    assert_eq!(last["next_from"], Value::Null);
    let (_, back) = get(
        &fixture,
        "/api/v1/streams/shoppinglist-home?direction=backward&limit=2",
    )
    .await;
    assert_eq!(versions(&back), [4, 3]);
    assert_eq!(back["next_from"], 2);

    let (status, body) = get(&fixture, "/api/v1/streams/shoppinglist-nowhere").await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
    for (uri, field) in [
        ("/api/v1/streams/Not%20A%20Stream", "stream_id"),
        (
            "/api/v1/streams/shoppinglist-home?direction=sideways",
            "direction",
        ),
        ("/api/v1/streams/shoppinglist-home?from=-1", "from"),
    ] {
        let (status, body) = get(&fixture, uri).await;
        assert_problem(status, &body, StatusCode::BAD_REQUEST, "invalid-input");
        assert_eq!(body["field"], field, "{uri}: {body}");
    }
}

async fn unknown_routes_are_problems(fixture: Fixture) {
    let (status, body) = get(&fixture, "/api/v1/nothing-here").await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
    let app = test::init_service(app(fixture.state())).await;
    let response = test::call_service(
        &app,
        TestRequest::patch()
            .uri("/api/v1/streams/shoppinglist-home")
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("GET"),
        "a known path with another method is a 405 naming the methods it takes"
    );
}

on_both_backends!(
    the_timeline_pages_every_event_once_newest_first,
    bad_timeline_parameters_name_themselves,
    a_timeline_not_built_yet_is_unavailable,
    a_stream_reads_both_ways_in_pages,
    unknown_routes_are_problems,
);
