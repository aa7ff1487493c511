//! The web UI's files served beside the API: the assets, the single-page
//! app's fallback to `index.html`, the API and probes left to themselves,
//! and a page saying how to build the UI when it is not built.

use std::path::Path;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use steward_http::app;

use crate::support::{Fixture, assert_problem, call};

const INDEX: &str = "<!doctype html><title>Steward</title><div id=\"root\"></div>";
const SCRIPT: &str = "console.log('steward');";

/// A built UI under `root/dist`, and a file beside it that must never be
/// served.
fn built_ui(root: &Path) -> std::path::PathBuf {
    let dist = root.join("dist");
    std::fs::create_dir_all(dist.join("assets")).expect("assets dir");
    std::fs::write(dist.join("index.html"), INDEX).expect("index");
    std::fs::write(dist.join("assets/index-abc123.js"), SCRIPT).expect("script");
    std::fs::write(root.join("secret.txt"), "not for the web").expect("secret");
    dist
}

/// Status, content type, cache control and body text of a request.
async fn fetch<S, B>(app: &S, request: TestRequest) -> (StatusCode, String, String, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = test::call_service(app, request.to_request()).await;
    let status = response.status();
    let header_of = |name| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let content_type = header_of(header::CONTENT_TYPE);
    let cache = header_of(header::CACHE_CONTROL);
    let body = test::read_body(response).await;
    (
        status,
        content_type,
        cache,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[actix_web::test]
async fn serves_the_assets_and_index_html_for_the_apps_own_paths() {
    let fixture = Fixture::sqlite().await;
    let root = tempfile::tempdir().expect("temp dir");
    let dist = built_ui(root.path());
    let app = test::init_service(app(fixture.state_with_ui(&dist))).await;

    for path in ["/", "/index.html"] {
        let (status, content_type, cache, body) = fetch(&app, TestRequest::get().uri(path)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, INDEX), "{path}");
        assert!(content_type.starts_with("text/html"), "{content_type}");
        assert_eq!(cache, "no-cache", "{path}");
    }

    let (status, content_type, _, body) =
        fetch(&app, TestRequest::get().uri("/assets/index-abc123.js")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, SCRIPT));
    assert!(content_type.contains("javascript"), "{content_type}");

    // The app's routes, with their query strings and nested ids, and a
    // missing asset: index.html, never cached, so a new build shows at once.
    for path in [
        "/timeline?type=ItemListed&stream=shoppinglist-home",
        "/events/0193b0c4-0000-7000-8000-000000000000",
        "/login?next=%2Ftimeline",
        "/assets",
        "/assets/missing.js",
    ] {
        let (status, content_type, cache, body) = fetch(&app, TestRequest::get().uri(path)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, INDEX), "{path}");
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
        assert_eq!(cache, "no-cache", "{path}");
    }

    let response = test::call_service(
        &app,
        TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .uri("/timeline")
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[actix_web::test]
async fn the_api_and_the_probes_keep_their_own_answers() {
    let fixture = Fixture::sqlite().await;
    let root = tempfile::tempdir().expect("temp dir");
    let dist = built_ui(root.path());
    let app = test::init_service(app(fixture.state_with_ui(&dist))).await;

    let (status, body) = call(&app, TestRequest::get().uri("/api/v1/nothing-here")).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
    let (status, body) = call(&app, TestRequest::get().uri("/api")).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
    let (status, body) = call(&app, TestRequest::get().uri("/api/v1/events")).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    let (status, body) = call(&app, TestRequest::get().uri("/api/v1/setup")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "needed": true })));
    let (status, body) = call(&app, TestRequest::get().uri("/healthz")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "ok" })));
    let (status, _, _, body) = fetch(&app, TestRequest::get().uri("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("steward_http_requests_total"), "{body}");

    // Only reads reach the UI: a POST to an app path is the API's 404.
    let (status, body) = call(&app, TestRequest::post().uri("/timeline")).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
}

#[actix_web::test]
async fn nothing_outside_the_ui_directory_is_served() {
    let fixture = Fixture::sqlite().await;
    let root = tempfile::tempdir().expect("temp dir");
    let dist = built_ui(root.path());
    let app = test::init_service(app(fixture.state_with_ui(&dist))).await;
    for path in [
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/%2e%2e/secret.txt",
    ] {
        let (status, _, _, body) = fetch(&app, TestRequest::get().uri(path)).await;
        assert!(
            !body.contains("not for the web"),
            "{path} answered {status} with the secret"
        );
    }
}

#[actix_web::test]
async fn a_missing_build_is_explained_not_an_error() {
    let fixture = Fixture::sqlite().await;
    let root = tempfile::tempdir().expect("temp dir");
    let missing = root.path().join("dist");
    let app = test::init_service(app(fixture.state_with_ui(&missing))).await;
    for path in ["/", "/timeline?type=ItemListed"] {
        let (status, content_type, _, body) = fetch(&app, TestRequest::get().uri(path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(content_type.starts_with("text/html"), "{content_type}");
        assert!(body.contains("The web UI is not built"), "{body}");
        assert!(body.contains("npm --prefix ui run build"), "{body}");
        assert!(body.contains(&missing.display().to_string()), "{body}");
    }
    // The API is unaffected.
    let (status, body) = call(&app, TestRequest::get().uri("/healthz")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "ok" })));
    let (status, body) = call(&app, TestRequest::get().uri("/api/v1/nothing-here")).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
}

#[actix_web::test]
async fn without_a_ui_directory_only_the_api_answers() {
    let fixture = Fixture::sqlite().await;
    let app = test::init_service(app(fixture.state())).await;
    let (status, body): (StatusCode, Value) = call(&app, TestRequest::get().uri("/")).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
}
