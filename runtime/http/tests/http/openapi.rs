//! The OpenAPI document: committed, served, and true to the routes.

use std::path::PathBuf;

use serde_json::Value;
use steward_http::openapi::document;

/// `schemas/openapi.json` is generated from the code. Run with
/// `STEWARD_UPDATE_SCHEMAS=1` to regenerate after a change.
#[test]
fn the_committed_document_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/openapi.json");
    let expected = format!("{}\n", document());
    if std::env::var_os("STEWARD_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &expected).expect("schemas/openapi.json writes");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "schemas/openapi.json is out of date; regenerate it with \
         STEWARD_UPDATE_SCHEMAS=1 cargo test -p steward-http --test http openapi"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_every_route_secured_but_the_public_ones() {
    let document: Value = serde_json::from_str(&document()).expect("JSON");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    let paths = document["paths"].as_object().expect("paths");
    for path in [
        "/healthz",
        "/readyz",
        "/api/v1/events",
        "/api/v1/streams/{stream_id}",
        "/api/v1/commands",
        "/api/v1/projections",
        "/api/v1/projections/{name}/rebuild",
        "/api/v1/tokens",
        "/api/v1/tokens/{token_id}",
        "/api/v1/plans",
        "/api/v1/plans/{plan_id}",
        "/api/v1/approvals",
        "/api/v1/plans/{plan_id}/approve",
        "/api/v1/plans/{plan_id}/reject",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().expect("operations") {
            let public = path == "/healthz"
                || path == "/readyz"
                || path == "/api/v1/setup"
                || (path == "/api/v1/session" && method == "post");
            assert_eq!(
                operation.get("security").is_some(),
                !public,
                "{method} {path}: security declared only where a token is needed"
            );
        }
    }
}
