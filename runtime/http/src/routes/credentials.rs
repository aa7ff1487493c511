//! Integration credentials: set, list, test and remove them, never read
//! them back. The secret is sealed into the key vault under the master
//! key; the `credentials-main` stream records what was done (kind,
//! endpoint, field names, test results) without it. Admin only.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_actors::aggregate::Rejection;
use steward_actors::credentials::{self as domain, Credential, Credentials};
use steward_events::StreamId;
use steward_events::domain::access::Scope;
use steward_store_core::CredentialVault;
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::auth::Caller;
use crate::extract::JsonBody;
use crate::probe::{Secret, probe};
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

/// The stream the credentials are recorded in.
pub fn credentials_stream() -> StreamId {
    StreamId::parse("credentials-main").expect("a valid stream id")
}

/// An integration's credentials, as set: where it connects and how it
/// signs in. Never given back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsRequest {
    /// `mqtt`, `imap`, `smtp`, `caldav` or `http`.
    pub kind: String,
    /// Where it connects (`mqtt://broker:1883`, `https://dav.example/ana/`),
    /// without a user name or password in it.
    pub endpoint: String,
    /// The user name, if it signs in with one.
    pub username: Option<String>,
    /// The password.
    pub password: Option<String>,
    /// An API token (sent as a bearer token over HTTP).
    pub token: Option<String>,
}

/// What is recorded of an integration's credentials: never the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialsView {
    /// The integration.
    pub integration: String,
    /// Its kind.
    pub kind: String,
    /// Where it connects.
    pub endpoint: String,
    /// The fields the secret holds (`username`, `password`, `token`).
    pub fields: Vec<String>,
    /// When the secret was last set.
    pub updated_at: Option<DateTime<Utc>>,
    /// The last test since then, if any.
    pub last_test: Option<TestView>,
}

/// How a test of credentials went.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestView {
    /// Whether the endpoint accepted them.
    pub ok: bool,
    /// What it answered (`HTTP 401 Unauthorized`, `CONNACK Success`…).
    pub detail: String,
    /// How long the attempt took.
    pub latency_ms: u64,
    /// When.
    pub tested_at: DateTime<Utc>,
}

fn view(
    integration: &str,
    credential: &Credential,
    updated_at: Option<DateTime<Utc>>,
) -> CredentialsView {
    CredentialsView {
        integration: integration.to_owned(),
        kind: credential.kind.clone(),
        endpoint: credential.endpoint.clone(),
        fields: credential.fields.clone(),
        updated_at,
        last_test: credential.last_test.as_ref().map(|last| TestView {
            ok: last.ok,
            detail: last.detail.clone(),
            latency_ms: last.latency_ms,
            tested_at: last.tested_at,
        }),
    }
}

fn rejected(rejection: Rejection) -> ApiError {
    ApiError::Rejected {
        rule: rejection.rule.to_owned(),
        message: rejection.message,
    }
}

fn vault(state: &ApiState) -> Result<&CredentialVault, ApiError> {
    state
        .credentials()
        .ok_or_else(|| ApiError::Unavailable("this server has no credential vault".into()))
}

async fn recorded(state: &ApiState) -> Result<Credentials, ApiError> {
    Ok(state
        .host()
        .load::<Credentials>(&credentials_stream(), true)
        .await?
        .0)
}

async fn record(
    state: &ApiState,
    caller: &Caller,
    command_type: &str,
    data: serde_json::Value,
) -> Result<(), ApiError> {
    let envelope = CommandEnvelope::new(credentials_stream(), command_type, data, caller.actor());
    state.host().execute(envelope).await?;
    Ok(())
}

/// Every integration with credentials: kinds, endpoints, fields and last
/// tests; never a secret.
#[utoipa::path(get, path = "/api/v1/credentials", tag = "credentials",
    responses(
        (status = 200, description = "The integrations with credentials", body = Vec<CredentialsView>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[get("/api/v1/credentials")]
pub(crate) async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let stored = vault(&state)?.list().await?;
    let recorded = recorded(&state).await?;
    let views: Vec<CredentialsView> = recorded
        .integrations
        .iter()
        .map(|(name, credential)| {
            let updated_at = stored
                .iter()
                .find(|info| &info.name == name)
                .map(|info| info.updated_at);
            view(name, credential, updated_at)
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Sets (or replaces) an integration's credentials. The secret goes into
/// the vault, sealed under the master key; the answer and the recorded
/// event carry only its kind, endpoint and field names.
#[utoipa::path(put, path = "/api/v1/credentials/{integration}", tag = "credentials",
    params(("integration" = String, Path, description = "The integration: 1 to 64 lowercase letters, digits, `-` and `_`")),
    request_body = CredentialsRequest,
    responses(
        (status = 200, description = "Set; what is recorded of it", body = CredentialsView),
        (status = 400, description = "The body is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused: unknown kind, endpoint of another scheme or with credentials in it, no secret field", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[put("/api/v1/credentials/{integration}")]
pub(crate) async fn set(
    state: web::Data<ApiState>,
    caller: Caller,
    integration: web::Path<String>,
    body: JsonBody<CredentialsRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let integration = integration.into_inner();
    domain::check_integration(&integration).map_err(rejected)?;
    let request = body.0;
    let secret = Secret {
        kind: request.kind,
        endpoint: request.endpoint.trim().to_owned(),
        username: request.username,
        password: request.password,
        token: request.token,
    };
    // Checked before the vault is touched, so a refused request changes
    // nothing anywhere.
    let fields = domain::check_credentials(&secret.kind, &secret.endpoint, &secret.fields())
        .map_err(rejected)?;
    let sealed = Zeroizing::new(serde_json::to_vec(&secret).map_err(ApiError::internal)?);
    vault(&state)?.set(&integration, &sealed).await?;
    record(
        &state,
        &caller,
        "RecordCredentialsSet",
        json!({
            "integration": integration, "kind": secret.kind,
            "endpoint": secret.endpoint, "fields": fields,
        }),
    )
    .await?;
    let recorded = recorded(&state).await?;
    let credential = recorded
        .integrations
        .get(&integration)
        .ok_or_else(|| ApiError::internal("credentials just set are not recorded"))?;
    let updated_at = vault(&state)?.updated_at(&integration).await?;
    Ok(HttpResponse::Ok().json(view(&integration, credential, updated_at)))
}

/// Removes an integration's credentials from the vault.
#[utoipa::path(delete, path = "/api/v1/credentials/{integration}", tag = "credentials",
    params(("integration" = String, Path, description = "The integration")),
    responses(
        (status = 204, description = "Removed (or there were none)"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[delete("/api/v1/credentials/{integration}")]
pub(crate) async fn remove(
    state: web::Data<ApiState>,
    caller: Caller,
    integration: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let integration = integration.into_inner();
    vault(&state)?.remove(&integration).await?;
    record(
        &state,
        &caller,
        "RecordCredentialsRemoved",
        json!({ "integration": integration }),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Tries an integration's credentials against its endpoint (an MQTT
/// CONNECT, an HTTP request, a CalDAV PROPFIND) and records how it went.
/// The answer says whether they were accepted, never what they are.
#[utoipa::path(post, path = "/api/v1/credentials/{integration}/test", tag = "credentials",
    params(("integration" = String, Path, description = "The integration")),
    responses(
        (status = 200, description = "Tried: `ok` says whether they were accepted", body = TestView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The integration has no credentials", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Its kind cannot be tested yet", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"])))]
#[post("/api/v1/credentials/{integration}/test")]
pub(crate) async fn test_credentials(
    state: web::Data<ApiState>,
    caller: Caller,
    integration: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let integration = integration.into_inner();
    let Some(sealed) = vault(&state)?.open(&integration).await? else {
        return Err(ApiError::NotFound(format!(
            "`{integration}` has no credentials"
        )));
    };
    let secret: Secret = serde_json::from_slice(&sealed).map_err(ApiError::internal)?;
    let result = probe(&secret)
        .await
        .map_err(|untestable| ApiError::Rejected {
            rule: "untestable".into(),
            message: untestable.to_string(),
        })?;
    let tested_at = Utc::now();
    let latency_ms = u64::try_from(result.latency.as_millis()).unwrap_or(u64::MAX);
    record(
        &state,
        &caller,
        "RecordCredentialsTest",
        json!({
            "integration": integration, "ok": result.ok, "detail": result.detail,
            "latency_ms": latency_ms, "tested_at": tested_at,
        }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(TestView {
        ok: result.ok,
        detail: result.detail,
        latency_ms,
        tested_at,
    }))
}
