//! First run, log in, log out: browser sessions.
//!
//! On first run there is no owner: `serve` logs a one-time setup code, and
//! only a request carrying it may create the owner (`POST /api/v1/setup`),
//! so nobody else on the network can claim the instance. Logins are rate
//! limited by address and by username, answer the same for an unknown user
//! as for a wrong password (in about the same time), and are recorded as
//! events when they fail.

use std::sync::OnceLock;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_actors::CommandEnvelope;
use utoipa::ToSchema;

use crate::auth::{
    Caller, Credential, SESSION_COOKIE, UserView, access_stream, csrf_token, digest, hash_password,
    new_token, verify_password,
};
use crate::extract::JsonBody;
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 10;

/// Whether the instance still needs its owner.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupStatus {
    /// True until the owner is created.
    pub needed: bool,
}

/// The owner to create, with the setup code `serve` logged.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// The one-time code from `serve`'s log.
    pub code: String,
    /// The name to log in with.
    pub username: String,
    /// How to be addressed.
    pub display_name: String,
    /// At least 10 characters.
    pub password: String,
}

/// A name and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The name logged in with.
    pub username: String,
    /// The password.
    pub password: String,
}

/// Who is calling, and how.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The user.
    pub user: UserView,
    /// `session` or `token`.
    pub via: &'static str,
    /// For a session: the token its changes must send as `X-CSRF-Token`.
    pub csrf_token: Option<String>,
    /// For a session: when it ends.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Whether the owner still has to be created.
#[utoipa::path(get, path = "/api/v1/setup", tag = "session",
    responses((status = 200, description = "Whether setup is needed", body = SetupStatus)))]
#[get("/api/v1/setup")]
pub(crate) async fn setup_status(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let known = state.access().known().await?;
    Ok(HttpResponse::Ok().json(SetupStatus {
        needed: known.access().owner().is_none(),
    }))
}

/// Creates the owner with the setup code, and logs them in.
#[utoipa::path(post, path = "/api/v1/setup", tag = "session",
    request_body = SetupRequest,
    responses(
        (status = 200, description = "The owner, logged in (the session cookie is set)", body = SessionView),
        (status = 400, description = "A field is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The setup code is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The owner exists already", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/setup")]
pub(crate) async fn setup(
    state: web::Data<ApiState>,
    request: HttpRequest,
    body: JsonBody<SetupRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    state.login_limits().check_address(&request)?;
    if state.access().known().await?.access().owner().is_some() {
        return Err(ApiError::Conflict(
            "Steward is set up: its owner exists".to_owned(),
        ));
    }
    let Some(expected) = state.setup_code() else {
        return Err(ApiError::Unavailable(
            "no setup code is issued; restart `steward serve` to get one".to_owned(),
        ));
    };
    // Compared as digests, so the time taken says nothing about the code.
    if digest(body.code.trim()) != digest(&expected) {
        return Err(ApiError::Forbidden {
            scope: "setup code".to_owned(),
        });
    }
    let hash = password_to_hash(body.password).await?;
    let user_id = uuid::Uuid::now_v7().simple().to_string();
    state
        .host()
        .execute(CommandEnvelope::new(
            access_stream(),
            "AddUser",
            json!({
                "user_id": user_id,
                "username": body.username,
                "display_name": body.display_name,
                "role": "owner",
                "password_hash": hash,
            }),
            "system:setup",
        ))
        .await?;
    state.forget_setup_code();
    start_session(&state, &user_id).await
}

/// Logs in: sets the session cookie and answers with the user and the
/// session's CSRF token.
#[utoipa::path(post, path = "/api/v1/session", tag = "session",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in (the session cookie is set)", body = SessionView),
        (status = 400, description = "The body is not a name and password", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong username or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts; see Retry-After", body = Problem, content_type = "application/problem+json")))]
#[post("/api/v1/session")]
pub(crate) async fn login(
    state: web::Data<ApiState>,
    request: HttpRequest,
    body: JsonBody<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { username, password } = body.0;
    state.login_limits().check_address(&request)?;
    // No username is longer (AddUser refuses them): answer at once, with no
    // limiter key kept and no hash spent.
    if username.trim().len() > 64 || password.len() > 1024 {
        return Err(ApiError::Unauthenticated(
            "wrong username or password".to_owned(),
        ));
    }
    state.login_limits().check_username(&username)?;
    let known = state.access().known().await?;
    let user = known.access().by_username(&username).cloned();
    // An unknown name costs the same hash as a wrong password, so timing
    // does not tell which names exist.
    let hash = user.as_ref().map_or_else(
        || dummy_hash().to_owned(),
        |user| user.password_hash.clone(),
    );
    let turn = state.login_limits().hashing_turn().await?;
    let matches = web::block(move || verify_password(&hash, &password))
        .await
        .map_err(ApiError::internal)?;
    drop(turn);
    let Some(user) = user.filter(|_| matches) else {
        let reason = if known.access().by_username(&username).is_some() {
            "wrong_password"
        } else {
            "unknown_user"
        };
        state
            .host()
            .execute(CommandEnvelope::new(
                access_stream(),
                "RecordFailedLogin",
                json!({ "username": username, "reason": reason }),
                "system:login",
            ))
            .await?;
        return Err(ApiError::Unauthenticated(
            "wrong username or password".to_owned(),
        ));
    };
    start_session(&state, &user.user_id).await
}

/// Who is calling: the user, and for a session its CSRF token.
#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses(
        (status = 200, description = "The caller", body = SessionView),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json")),
    security(("token" = []), ("session" = [])))]
#[get("/api/v1/session")]
pub(crate) async fn current(caller: Caller) -> HttpResponse {
    let (via, csrf_token, expires_at) = match &caller.credential {
        Credential::Session {
            csrf_token,
            expires_at,
            ..
        } => ("session", Some(csrf_token.clone()), Some(*expires_at)),
        Credential::Token { .. } => ("token", None, None),
    };
    HttpResponse::Ok().json(SessionView {
        user: caller.user,
        via,
        csrf_token,
        expires_at,
    })
}

/// Logs out: ends the session and clears its cookie.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses(
        (status = 204, description = "Logged out"),
        (status = 400, description = "A token has no session (revoke the token instead)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The CSRF token is missing or wrong", body = Problem, content_type = "application/problem+json")),
    security(("session" = [])))]
#[delete("/api/v1/session")]
pub(crate) async fn logout(
    state: web::Data<ApiState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let Credential::Session { session_id, .. } = &caller.credential else {
        return Err(ApiError::invalid(
            "Authorization",
            "a token has no session to end; revoke the token instead",
        ));
    };
    end_session(&state, session_id, "logout", &caller.actor()).await?;
    let mut gone = session_cookie(&state, String::new());
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}

/// Ends `session_id` for `reason`.
pub(crate) async fn end_session(
    state: &ApiState,
    session_id: &str,
    reason: &str,
    actor: &str,
) -> Result<(), ApiError> {
    state
        .host()
        .execute(CommandEnvelope::new(
            access_stream(),
            "EndSession",
            json!({ "session_id": session_id, "reason": reason }),
            actor,
        ))
        .await?;
    Ok(())
}

async fn start_session(state: &ApiState, user_id: &str) -> Result<HttpResponse, ApiError> {
    let secret = new_token().map_err(ApiError::internal)?;
    let session_id = uuid::Uuid::now_v7().simple().to_string();
    let expires_at = state.now() + state.session_lifetime();
    state
        .host()
        .execute(CommandEnvelope::new(
            access_stream(),
            "StartSession",
            json!({
                "session_id": session_id,
                "user_id": user_id,
                "sha256": secret.sha256,
                "expires_at": expires_at,
            }),
            format!("user:{user_id}"),
        ))
        .await?;
    let caller = state
        .access()
        .by_session(&secret.secret, state.now())
        .await?;
    let cookie = session_cookie(state, secret.secret.clone());
    Ok(HttpResponse::Ok().cookie(cookie).json(SessionView {
        user: caller.user,
        via: "session",
        csrf_token: Some(csrf_token(&secret.secret)),
        expires_at: Some(expires_at),
    }))
}

fn session_cookie(state: &ApiState, value: String) -> Cookie<'static> {
    let lifetime = state.session_lifetime();
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies())
        .max_age(actix_web::cookie::time::Duration::seconds(
            lifetime.num_seconds(),
        ))
        .finish()
}

/// Hashes a new password off the async threads, refusing a short one.
pub(crate) async fn password_to_hash(password: String) -> Result<String, ApiError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(ApiError::invalid(
            "password",
            format!("a password has at least {MIN_PASSWORD} characters"),
        ));
    }
    web::block(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?
}

/// A hash no password is known to match, verified against for unknown
/// users so that they take as long as known ones.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password("no password matches this hash").unwrap_or_else(|_| {
            // A fixed, valid Argon2id hash of a random string, should the
            // generator fail.
            "$argon2id$v=19$m=19456,t=2,p=1$c3Rld2FyZHNhbHQ$wS3jW2tM0n2ZtXq0c9l2y9hE1a0m8s5mY0o3nU7c3yE"
                .to_owned()
        })
    })
}
