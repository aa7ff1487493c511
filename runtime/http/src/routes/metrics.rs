//! `/metrics`: every registered metric in Prometheus text format. Public
//! unless a scrape token is configured.

use actix_web::{HttpRequest, HttpResponse, get, web};
use prometheus::{Encoder as _, TextEncoder};

use crate::auth::{bearer, digest};
use crate::problem::ApiError;
use crate::state::ApiState;

/// The metrics, for Prometheus.
#[get("/metrics")]
pub(crate) async fn metrics(
    state: web::Data<ApiState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if let Some(expected) = state.metrics_token() {
        let presented = bearer(&request)?;
        // Compared as digests, so the time taken says nothing about the token.
        if digest(&presented) != digest(expected) {
            return Err(ApiError::Unauthenticated(
                "the metrics need the configured scrape token".to_owned(),
            ));
        }
    }
    let mut body = Vec::new();
    TextEncoder::new()
        .encode(&state.registry().gather(), &mut body)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(TextEncoder::new().format_type())
        .body(body))
}
