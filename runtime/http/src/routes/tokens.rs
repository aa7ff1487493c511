//! API tokens: make one (its secret is shown in this answer only), list
//! them, revoke one. Admin only; each change is an event of `access-main`.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_actors::access::Access;
use steward_events::domain::access::Scope;
use utoipa::ToSchema;

use crate::auth::{Caller, access_stream, new_token};
use crate::extract::JsonBody;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

/// What the new token is for and may do.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// What it is for (`backup script`).
    pub name: String,
    /// What it may do: `events:read`, `commands:write`, `read_models:read`,
    /// `approvals:write`, `admin`.
    #[schema(schema_with = scopes_schema)]
    pub scopes: Vec<Scope>,
    /// When it stops working (RFC 3339, in the future); never when absent.
    pub expires_at: Option<DateTime<Utc>>,
}

/// `scopes`: an array of scope names, from the one list of scopes.
fn scopes_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .enum_values(Some(Scope::ALL.map(Scope::as_str))),
        )
        .build()
}

/// A token as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// Its id.
    pub token_id: String,
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// A token just made, with its secret: store it now, it is not shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token as listed.
    #[serde(flatten)]
    pub token: TokenView,
    /// The secret, for `Authorization: Bearer …`.
    pub secret: String,
}

fn view(token: &steward_actors::access::Token) -> TokenView {
    TokenView {
        token_id: token.token_id.clone(),
        name: token.name.clone(),
        scopes: token.scopes.iter().map(ToString::to_string).collect(),
        expires_at: token.expires_at,
        revoked: token.revoked,
    }
}

/// Makes a token.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens",
    request_body = NewTokenRequest,
    responses(
        (status = 201, description = "The token, with its secret shown this once", body = CreatedToken),
        (status = 400, description = "The request is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused: no scope, an expiry in the past…", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[post("/api/v1/tokens")]
pub(crate) async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: JsonBody<NewTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let request = body.0;
    let token = new_token().map_err(ApiError::internal)?;
    let token_id = uuid::Uuid::now_v7().simple().to_string();
    let envelope = CommandEnvelope::new(
        access_stream(),
        "CreateToken",
        json!({
            "token_id": token_id,
            "name": request.name,
            "scopes": request.scopes,
            "sha256": token.sha256,
            "expires_at": request.expires_at,
        }),
        caller.actor(),
    );
    state.host().execute(envelope).await?;
    let (access, _) = state.host().load::<Access>(&access_stream(), true).await?;
    let created = access
        .tokens
        .get(&token_id)
        .ok_or_else(|| ApiError::internal("a token just created is not in its stream"))?;
    Ok(HttpResponse::Created().json(CreatedToken {
        token: view(created),
        secret: token.secret,
    }))
}

/// Every token, revoked ones included; never their secrets.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses(
        (status = 200, description = "The tokens", body = Vec<TokenView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[get("/api/v1/tokens")]
pub(crate) async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let (access, _) = state.host().load::<Access>(&access_stream(), true).await?;
    let tokens: Vec<TokenView> = access.tokens.values().map(view).collect();
    Ok(HttpResponse::Ok().json(tokens))
}

/// Revokes a token: it opens nothing from the next request on.
#[utoipa::path(delete, path = "/api/v1/tokens/{token_id}", tag = "tokens",
    params(("token_id" = String, Path, description = "The token")),
    responses(
        (status = 204, description = "Revoked (or already was)"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such token", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[delete("/api/v1/tokens/{token_id}")]
pub(crate) async fn revoke(
    state: web::Data<ApiState>,
    caller: Caller,
    token_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let envelope = CommandEnvelope::new(
        access_stream(),
        "RevokeToken",
        json!({ "token_id": token_id.into_inner() }),
        caller.actor(),
    );
    state.host().execute(envelope).await?;
    Ok(HttpResponse::NoContent().finish())
}
