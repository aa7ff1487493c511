//! The household: the owner manages members (their domains, removal) and
//! anyone's sessions; each user sets their own profile and sees and ends
//! their own sessions.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_events::domain::access::Scope;
use utoipa::ToSchema;

use crate::auth::{Caller, Credential, UserView, access_stream};
use crate::extract::JsonBody;
use crate::problem::{ApiError, Problem};
use crate::routes::session::{end_session, password_to_hash};
use crate::state::ApiState;

/// A member to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// The name they log in with.
    pub username: String,
    /// How they are addressed.
    pub display_name: String,
    /// At least 10 characters.
    pub password: String,
    /// The domains they may see and act in (`home`, `groceries`…).
    #[serde(default)]
    pub domains: Vec<String>,
}

/// A member's domains.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Domains {
    /// The domains.
    pub domains: Vec<String>,
}

/// A user's profile.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// An IANA time zone (`Europe/London`).
    pub time_zone: String,
    /// A language tag (`en-GB`).
    pub locale: String,
}

/// An open session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionItem {
    /// Its id.
    pub session_id: String,
    /// Whose.
    pub user_id: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// Whether it is the caller's own current session.
    pub current: bool,
}

async fn command(
    state: &ApiState,
    caller: &Caller,
    command_type: &str,
    data: serde_json::Value,
) -> Result<(), ApiError> {
    state
        .host()
        .execute(CommandEnvelope::new(
            access_stream(),
            command_type,
            data,
            caller.actor(),
        ))
        .await?;
    Ok(())
}

async fn user_view(state: &ApiState, user_id: &str) -> Result<UserView, ApiError> {
    let known = state.access().known().await?;
    known
        .access()
        .users
        .get(user_id)
        .map(UserView::of)
        .ok_or_else(|| ApiError::NotFound(format!("there is no user `{user_id}`")))
}

/// Every user (owner only).
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses(
        (status = 200, description = "The users", body = Vec<UserView>),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the owner", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"]), ("session" = [])))]
#[get("/api/v1/users")]
pub(crate) async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let known = state.access().known().await?;
    let users: Vec<UserView> = known.access().users.values().map(UserView::of).collect();
    Ok(HttpResponse::Ok().json(users))
}

/// Adds a household member (owner only).
#[utoipa::path(post, path = "/api/v1/users", tag = "users",
    request_body = NewMember,
    responses(
        (status = 201, description = "The member", body = UserView),
        (status = 400, description = "A field is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the owner", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused: the username is taken, a domain is unknown…", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"]), ("session" = [])))]
#[post("/api/v1/users")]
pub(crate) async fn add(
    state: web::Data<ApiState>,
    caller: Caller,
    body: JsonBody<NewMember>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let member = body.0;
    let hash = password_to_hash(member.password).await?;
    let user_id = uuid::Uuid::now_v7().simple().to_string();
    command(
        &state,
        &caller,
        "AddUser",
        json!({
            "user_id": user_id,
            "username": member.username,
            "display_name": member.display_name,
            "role": "member",
            "domains": member.domains,
            "password_hash": hash,
        }),
    )
    .await?;
    Ok(HttpResponse::Created().json(user_view(&state, &user_id).await?))
}

/// Sets a member's domains (owner only).
#[utoipa::path(put, path = "/api/v1/users/{user_id}/domains", tag = "users",
    params(("user_id" = String, Path, description = "The member")),
    request_body = Domains,
    responses(
        (status = 200, description = "The member now", body = UserView),
        (status = 400, description = "The body is not a list of domains", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the owner", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused: unknown user or domain, or the owner", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"]), ("session" = [])))]
#[put("/api/v1/users/{user_id}/domains")]
pub(crate) async fn set_domains(
    state: web::Data<ApiState>,
    caller: Caller,
    user_id: web::Path<String>,
    body: JsonBody<Domains>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let user_id = user_id.into_inner();
    command(
        &state,
        &caller,
        "SetUserAccess",
        json!({ "user_id": user_id, "domains": body.0.domains }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(user_view(&state, &user_id).await?))
}

/// Removes a member (owner only): their sessions and tokens end with them.
#[utoipa::path(delete, path = "/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "The member")),
    responses(
        (status = 204, description = "Removed (or was not there)"),
        (status = 403, description = "Not the owner", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The owner cannot be removed", body = Problem, content_type = "application/problem+json")),
    security(("token" = ["admin"]), ("session" = [])))]
#[delete("/api/v1/users/{user_id}")]
pub(crate) async fn remove(
    state: web::Data<ApiState>,
    caller: Caller,
    user_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    command(
        &state,
        &caller,
        "RemoveUser",
        json!({ "user_id": user_id.into_inner() }),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets the caller's own time zone and locale.
#[utoipa::path(put, path = "/api/v1/profile", tag = "users",
    request_body = Profile,
    responses(
        (status = 200, description = "The caller now", body = UserView),
        (status = 400, description = "The body is not a profile", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused: an unknown time zone, a malformed locale", body = Problem, content_type = "application/problem+json")),
    security(("token" = []), ("session" = [])))]
#[put("/api/v1/profile")]
pub(crate) async fn set_profile(
    state: web::Data<ApiState>,
    caller: Caller,
    body: JsonBody<Profile>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::CommandsWrite)?;
    let profile = body.0;
    command(
        &state,
        &caller,
        "SetProfile",
        json!({
            "user_id": caller.user.user_id,
            "time_zone": profile.time_zone,
            "locale": profile.locale,
        }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(user_view(&state, &caller.user.user_id).await?))
}

/// Open sessions: the caller's own (every user's for the owner).
#[utoipa::path(get, path = "/api/v1/sessions", tag = "users",
    responses((status = 200, description = "The sessions", body = Vec<SessionItem>)),
    security(("token" = []), ("session" = [])))]
#[get("/api/v1/sessions")]
pub(crate) async fn sessions(
    state: web::Data<ApiState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let known = state.access().known().await?;
    // Everyone's sessions only for an admin (the owner's own token or
    // session); anyone else sees their own.
    let all = caller.require(Scope::Admin).is_ok();
    let current = match &caller.credential {
        Credential::Session { session_id, .. } => Some(session_id.as_str()),
        Credential::Token { .. } => None,
    };
    let sessions: Vec<SessionItem> = known
        .access()
        .sessions
        .values()
        .filter(|session| all || session.user_id == caller.user.user_id)
        .filter(|session| session.expires_at > state.now())
        .map(|session| SessionItem {
            session_id: session.session_id.clone(),
            user_id: session.user_id.clone(),
            expires_at: session.expires_at,
            current: current == Some(session.session_id.as_str()),
        })
        .collect();
    Ok(HttpResponse::Ok().json(sessions))
}

/// Ends a session: the caller's own, or anyone's for the owner.
#[utoipa::path(delete, path = "/api/v1/sessions/{session_id}", tag = "users",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 204, description = "Ended (or had)"),
        (status = 404, description = "No such session of the caller's", body = Problem, content_type = "application/problem+json")),
    security(("token" = []), ("session" = [])))]
#[delete("/api/v1/sessions/{session_id}")]
pub(crate) async fn revoke_session(
    state: web::Data<ApiState>,
    caller: Caller,
    session_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let known = state.access().known().await?;
    let session_id = session_id.into_inner();
    caller.require(Scope::CommandsWrite)?;
    let all = caller.require(Scope::Admin).is_ok();
    let theirs = known
        .access()
        .sessions
        .get(&session_id)
        .is_some_and(|session| all || session.user_id == caller.user.user_id);
    if !theirs {
        return Err(ApiError::NotFound(format!(
            "you have no session `{session_id}`"
        )));
    }
    end_session(&state, &session_id, "revoked", &caller.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}
