//! Liveness, readiness and metrics.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::json;
use steward_http::app;

use crate::support::{Fixture, assert_problem, call, on_both_backends, with_token};

async fn ready_only_once_every_projection_caught_up(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    let (status, body) = call(&app, TestRequest::get().uri("/healthz")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "ok" })));

    let (status, body) = call(&app, TestRequest::get().uri("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready");
    let failing: Vec<&str> = body["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|check| check["ok"] == false)
        .filter_map(|check| check["name"].as_str())
        .collect();
    assert!(failing.contains(&"projection:timeline"), "{body}");
    assert!(!failing.contains(&"store"), "{body}");

    fixture.catch_up().await;
    let (status, body) = call(&app, TestRequest::get().uri("/readyz")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
}

async fn metrics_count_requests_by_route_pattern(fixture: Fixture) {
    let app = test::init_service(app(fixture.state())).await;
    for stream in ["shoppinglist-a", "shoppinglist-b"] {
        call(
            &app,
            with_token(
                TestRequest::get().uri(&format!("/api/v1/streams/{stream}")),
                &fixture.admin,
            ),
        )
        .await;
    }
    let response = test::call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8(test::read_body(response).await.to_vec()).expect("text");
    let line = text
        .lines()
        .find(|line| {
            line.starts_with("steward_http_requests_total")
                && line.contains(r#"route="/api/v1/streams/{stream_id}""#)
                && line.contains(r#"status="404""#)
        })
        .unwrap_or_else(|| panic!("no request counter by pattern in:\n{text}"));
    assert!(line.ends_with(" 2"), "{line}");
    assert!(text.contains("steward_http_request_duration_seconds_bucket"));
    assert!(
        !text.contains("shoppinglist-a"),
        "raw paths never become labels"
    );
}

async fn a_scrape_token_closes_the_metrics(fixture: Fixture) {
    let app = test::init_service(app(fixture.state_with(Some("scrape-secret".into())))).await;
    let (status, body) = call(&app, TestRequest::get().uri("/metrics")).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (status, body) = call(
        &app,
        with_token(TestRequest::get().uri("/metrics"), "wrong"),
    )
    .await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    let response = test::call_service(
        &app,
        with_token(TestRequest::get().uri("/metrics"), "scrape-secret").to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

on_both_backends!(
    ready_only_once_every_projection_caught_up,
    metrics_count_requests_by_route_pattern,
    a_scrape_token_closes_the_metrics,
);
