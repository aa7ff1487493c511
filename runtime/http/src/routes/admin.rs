//! Administration of the store itself: erasing a data subject.
//!
//! Erasure destroys the subject's key, so every personal part sealed under
//! it reads as erased from then on (in the log, in a backup, on the bus),
//! and records a `SubjectErased` event that the read models and the memory
//! follow to forget what they copied. It is the same mechanism as
//! `steward erase`.

use actix_web::{HttpResponse, post, web};
use serde::Serialize;
use steward_events::SubjectId;
use steward_events::domain::access::Scope;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

/// What an erasure did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureView {
    /// The subject erased.
    pub subject: String,
    /// False when the subject had already been erased (nothing changed).
    pub key_destroyed: bool,
    /// Where the `SubjectErased` event stands in the log: the read models
    /// have forgotten the subject once they reach it.
    pub position: String,
}

/// Erases a data subject: destroys their key, so their personal data reads
/// as erased everywhere, and records it as a `SubjectErased` event. Doing it
/// again changes nothing and answers with the first erasure's position.
#[utoipa::path(post, path = "/api/v1/subjects/{subject}/erase", tag = "admin",
    params(("subject" = String, Path, description = "The subject (`contact:ana@example.com`, `user:ana`)")),
    responses(
        (status = 200, description = "Erased (or already was)", body = ErasureView),
        (status = 400, description = "Not a subject id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[post("/api/v1/subjects/{subject}/erase")]
#[tracing::instrument(skip_all, fields(subject = %subject.as_str()), err)]
pub(crate) async fn erase(
    state: web::Data<ApiState>,
    caller: Caller,
    subject: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let subject = SubjectId::parse(subject.into_inner())
        .map_err(|error| ApiError::invalid("subject", error.to_string()))?;
    let erasure = state
        .store()
        .erase_subject(&subject, &caller.actor())
        .await?;
    Ok(HttpResponse::Ok().json(ErasureView {
        subject: subject.as_str().to_owned(),
        key_destroyed: erasure.key_destroyed,
        position: erasure.position.to_string(),
    }))
}
