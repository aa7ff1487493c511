//! Projection status and requests.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use steward_http::app;
use steward_projections::{Request, catalog};

use crate::support::{Fixture, assert_problem, call, on_both_backends, with_token};

async fn statuses_and_requests(fixture: Fixture) {
    fixture.catch_up().await;
    let app = test::init_service(app(fixture.state())).await;
    let (status, list) = call(
        &app,
        with_token(
            TestRequest::get().uri("/api/v1/projections"),
            &fixture.admin,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let timeline = list
        .as_array()
        .expect("a list")
        .iter()
        .find(|p| p["name"] == "timeline")
        .expect("the timeline is listed");
    assert_eq!(timeline["state"], "live");
    assert_eq!(timeline["lag_events"], 0);

    assert!(
        !catalog::is_requested(&fixture.db, "timeline", Request::Rebuild)
            .await
            .expect("db")
    );
    let (status, body) = call(
        &app,
        with_token(
            TestRequest::post().uri("/api/v1/projections/timeline/rebuild"),
            &fixture.admin,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(
        catalog::is_requested(&fixture.db, "timeline", Request::Rebuild)
            .await
            .expect("db")
    );

    let (status, body) = call(
        &app,
        with_token(
            TestRequest::post().uri("/api/v1/projections/nonesuch/retry"),
            &fixture.admin,
        ),
    )
    .await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
}

on_both_backends!(statuses_and_requests);
