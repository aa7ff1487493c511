//! Who is calling: a bearer token, or a browser session's cookie, checked
//! against the access stream.
//!
//! Tokens are `stw_` and 43 characters of base64url (256 random bits);
//! session cookies are the same kind of secret. The server keeps no secret:
//! it hashes what it is shown with SHA-256 and looks the digest up among the
//! tokens and sessions the `access-main` stream holds (the [`Access`]
//! aggregate). The directory re-reads that stream whenever its version
//! moved, so a token or session revoked by another process (the CLI beside
//! `serve`) counts from the next request.
//!
//! A caller acts as a user: a session's own, or a token's (the owner's when
//! the token names none). The user's role bounds the scopes (members never
//! administer) and their domains bound what they see and command. A request
//! made with a session cookie that changes something must also carry the
//! session's CSRF token in `X-CSRF-Token`: a page of another site can make
//! the browser send the cookie, never the header.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use steward_actors::access::{Access, Session, Token, User};
use steward_events::domain::access::{Role, Scope};
use steward_events::{EventStore, StreamId};
use steward_host::Host;
use tokio::sync::RwLock;
use utoipa::ToSchema;

use crate::problem::ApiError;
use crate::state::ApiState;

/// What every token starts with, so that a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "stw_";

/// The cookie a browser session travels in.
pub const SESSION_COOKIE: &str = "steward_session";

/// The header a cookie-authenticated change must carry.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// A freshly made secret: to hand out once, and its digest to record.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The secret, shown once.
    pub secret: String,
    /// Its SHA-256 digest, lower-case hex.
    pub sha256: String,
}

/// Makes a secret from 256 random bits of the operating system's generator.
pub fn new_token() -> Result<NewToken, getrandom::Error> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)?;
    let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let sha256 = digest(&secret);
    Ok(NewToken { secret, sha256 })
}

/// The SHA-256 digest of a secret, lower-case hex.
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The CSRF token of a session: derived from its secret, so nothing more
/// is stored, and useless without the cookie it belongs to.
pub fn csrf_token(session_secret: &str) -> String {
    digest(&format!("csrf:{session_secret}"))
}

/// Hashes a password with Argon2id and a random salt (a PHC string). Slow
/// on purpose: call it off the async threads.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(ApiError::internal)
}

/// Whether `password` matches the PHC `hash`. Slow on purpose.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// The stream users, sessions and tokens live in.
pub fn access_stream() -> StreamId {
    // A constant that parses (a test says so): the error arm is unreachable.
    StreamId::new("access", "main").unwrap_or_else(|_| unreachable!("`access-main` is valid"))
}

/// The access stream as of its last version, indexed for lookups.
#[derive(Debug, Default)]
pub struct Known {
    version: Option<u64>,
    access: Access,
    tokens: HashMap<String, Token>,
    sessions: HashMap<String, Session>,
}

impl Known {
    fn of(access: Access, version: Option<u64>) -> Self {
        Self {
            version,
            tokens: access
                .tokens
                .values()
                .map(|token| (token.sha256.clone(), token.clone()))
                .collect(),
            sessions: access
                .sessions
                .values()
                .map(|session| (session.sha256.clone(), session.clone()))
                .collect(),
            access,
        }
    }

    /// The aggregate's state.
    pub fn access(&self) -> &Access {
        &self.access
    }
}

/// Resolves presented tokens and cookies against the access stream.
pub struct AccessDirectory {
    store: Arc<dyn EventStore>,
    host: Host,
    known: RwLock<Arc<Known>>,
}

impl std::fmt::Debug for AccessDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessDirectory").finish_non_exhaustive()
    }
}

impl AccessDirectory {
    /// A directory reading the access stream of `store` through `host`.
    pub fn new(store: Arc<dyn EventStore>, host: Host) -> Self {
        Self {
            store,
            host,
            known: RwLock::new(Arc::new(Known::default())),
        }
    }

    /// The access stream now: re-read only when it moved since last time.
    pub async fn known(&self) -> Result<Arc<Known>, ApiError> {
        let stream = access_stream();
        let version = self.store.stream_version(&stream).await?;
        let cached = self.known.read().await.clone();
        if cached.version == version {
            return Ok(cached);
        }
        let (access, version) = self.host.load::<Access>(&stream, true).await?;
        let fresh = Arc::new(Known::of(access, version));
        let mut known = self.known.write().await;
        // Another request may have loaded a newer version meanwhile.
        if known
            .version
            .is_none_or(|have| version.is_some_and(|new| new > have))
        {
            *known = Arc::clone(&fresh);
        }
        Ok(fresh)
    }

    /// The caller a bearer token stands for at `now`.
    pub async fn by_token(&self, secret: &str, now: DateTime<Utc>) -> Result<Caller, ApiError> {
        let known = self.known().await?;
        let token = known
            .tokens
            .get(&digest(secret))
            .ok_or_else(|| ApiError::Unauthenticated("the token is not known".to_owned()))?;
        if token.revoked {
            return Err(ApiError::Unauthenticated(
                "the token was revoked".to_owned(),
            ));
        }
        if !token.is_active(now) {
            return Err(ApiError::Unauthenticated(
                "the token has expired".to_owned(),
            ));
        }
        let user = match (known.access.user_of(token), &token.user_id) {
            (Some(user), _) => UserView::of(user),
            // A token made for the installation before its owner was set up
            // (`steward token create` on a fresh machine) acts as the owner.
            (None, None) => UserView::installation(),
            (None, Some(_)) => {
                return Err(ApiError::Unauthenticated(
                    "the token's user no longer exists".to_owned(),
                ));
            }
        };
        Ok(Caller {
            user,
            credential: Credential::Token {
                token_id: token.token_id.clone(),
                scopes: token.scopes.clone(),
            },
        })
    }

    /// The caller a session cookie stands for at `now`.
    pub async fn by_session(&self, secret: &str, now: DateTime<Utc>) -> Result<Caller, ApiError> {
        let known = self.known().await?;
        let session = known.sessions.get(&digest(secret)).ok_or_else(|| {
            ApiError::Unauthenticated("the session has ended; log in again".to_owned())
        })?;
        if session.expires_at <= now {
            return Err(ApiError::Unauthenticated(
                "the session has expired; log in again".to_owned(),
            ));
        }
        let user = known.access.users.get(&session.user_id).ok_or_else(|| {
            ApiError::Unauthenticated("the session's user no longer exists".to_owned())
        })?;
        Ok(Caller {
            user: UserView::of(user),
            credential: Credential::Session {
                session_id: session.session_id.clone(),
                csrf_token: csrf_token(secret),
                expires_at: session.expires_at,
            },
        })
    }
}

impl AccessDirectory {
    /// Whether `caller` would still be let in at `now` as they were: their
    /// token or session not revoked, ended or expired, their user still
    /// there with the same role and domains. Long-lived responses (the live
    /// stream) ask this as they go, so a revocation also ends them.
    pub async fn still_admits(
        &self,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let known = self.known().await?;
        let access = &known.access;
        let user = match &caller.credential {
            Credential::Token { token_id, .. } => match access.tokens.get(token_id) {
                Some(token) if token.is_active(now) => match access.user_of(token) {
                    Some(user) => Some(UserView::of(user)),
                    None if token.user_id.is_none() => Some(UserView::installation()),
                    None => None,
                },
                _ => None,
            },
            Credential::Session { session_id, .. } => access
                .sessions
                .get(session_id)
                .filter(|session| session.expires_at > now)
                .and_then(|session| access.users.get(&session.user_id))
                .map(UserView::of),
        };
        Ok(user.is_some_and(|user| {
            user.role == caller.user.role && user.domains == caller.user.domains
        }))
    }
}

/// A user as the API shows them: never their password hash.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UserView {
    /// Their id.
    pub user_id: String,
    /// The name they log in with.
    pub username: String,
    /// How they are addressed.
    pub display_name: String,
    /// `owner` or `member`.
    #[schema(value_type = String)]
    pub role: Role,
    /// A member's domains (the owner has all).
    pub domains: Vec<String>,
    /// Their time zone, if set.
    pub time_zone: Option<String>,
    /// Their locale, if set.
    pub locale: Option<String>,
}

impl UserView {
    /// The view of `user`.
    pub fn of(user: &User) -> Self {
        Self {
            user_id: user.user_id.clone(),
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role,
            domains: user.domains.clone(),
            time_zone: user.time_zone.clone(),
            locale: user.locale.clone(),
        }
    }

    /// The owner before any user was set up: what an installation token
    /// acts as.
    pub fn installation() -> Self {
        Self {
            user_id: "owner".to_owned(),
            username: "owner".to_owned(),
            display_name: "Owner".to_owned(),
            role: Role::Owner,
            domains: Vec::new(),
            time_zone: None,
            locale: None,
        }
    }

    fn may_use(&self, domain: &str) -> bool {
        self.role == Role::Owner || self.domains.iter().any(|d| d == domain)
    }
}

/// How a caller proved who they are.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A bearer token, with its scopes.
    Token {
        /// The token's id.
        token_id: String,
        /// What it may do.
        scopes: Vec<Scope>,
    },
    /// A browser session.
    Session {
        /// The session's id.
        session_id: String,
        /// The CSRF token its changes must carry.
        csrf_token: String,
        /// When it ends.
        expires_at: DateTime<Utc>,
    },
}

/// An authenticated caller. Every handler outside the public routes takes
/// one and says what it needs with [`Caller::require`] and
/// [`Caller::require_domain`].
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user they act as.
    pub user: UserView,
    /// How they proved it.
    pub credential: Credential,
}

impl Caller {
    /// Refuses unless the caller has `scope`: a token must grant it (`admin`
    /// grants all), and the user's role must allow it (members never
    /// administer). A session has every scope its user's role allows.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        let granted = match &self.credential {
            Credential::Token { scopes, .. } => {
                scopes.contains(&scope) || scopes.contains(&Scope::Admin)
            }
            Credential::Session { .. } => true,
        };
        let allowed = self.user.role == Role::Owner || scope != Scope::Admin;
        if granted && allowed {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                scope: scope.to_string(),
            })
        }
    }

    /// Refuses unless the caller's user may see and act in `domain`.
    pub fn require_domain(&self, domain: &str) -> Result<(), ApiError> {
        if self.may_use(domain) {
            Ok(())
        } else {
            Err(ApiError::DomainForbidden {
                domain: domain.to_owned(),
            })
        }
    }

    /// Whether the caller's user may see and act in `domain`.
    pub fn may_use(&self, domain: &str) -> bool {
        self.user.may_use(domain)
    }

    /// Refuses unless the caller may see and act in the streams of
    /// `category` (streams outside the catalog, such as sagas', are the
    /// owner's).
    pub fn require_category(&self, category: &str) -> Result<(), ApiError> {
        self.require_domain(domain_of(category))
    }

    /// The categories the caller may see: `None` when all (the owner).
    pub fn visible_categories(&self) -> Option<Vec<String>> {
        if self.is_owner() {
            return None;
        }
        Some(
            steward_actors::catalog::categories()
                .iter()
                .filter(|category| self.may_use(category.domain))
                .map(|category| category.category.to_owned())
                .collect(),
        )
    }

    /// Whether the caller is the owner (who sees every domain).
    pub fn is_owner(&self) -> bool {
        self.user.role == Role::Owner
    }

    /// Who the log records as acting: `token:<id>` for a token,
    /// `user:<id>` for a session.
    pub fn actor(&self) -> String {
        match &self.credential {
            Credential::Token { token_id, .. } => format!("token:{token_id}"),
            Credential::Session { .. } => format!("user:{}", self.user.user_id),
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<ApiState>>().cloned();
        let presented = presented(request);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::internal("the API state is not configured"))?;
            match presented? {
                Presented::Token(secret) => state.access().by_token(&secret, state.now()).await,
                Presented::Session { secret, csrf } => {
                    let caller = state.access().by_session(&secret, state.now()).await?;
                    if let (Some(presented), Credential::Session { csrf_token, .. }) =
                        (csrf, &caller.credential)
                    {
                        // Compared as digests, so the time taken says nothing.
                        if presented.is_empty() || digest(&presented) != digest(csrf_token) {
                            return Err(ApiError::CsrfRejected);
                        }
                    }
                    Ok(caller)
                }
            }
        })
    }
}

/// The domain of a stream category; `system` for streams outside the
/// catalog (sagas', raw appends), which only the owner sees.
pub fn domain_of(category: &str) -> &'static str {
    steward_actors::catalog::find(category).map_or("system", |category| category.domain)
}

/// What the request presents.
enum Presented {
    Token(String),
    /// A session cookie; `csrf` is `None` for safe methods (nothing to
    /// check), and `Some` (possibly empty) for changes.
    Session {
        secret: String,
        csrf: Option<String>,
    },
}

fn presented(request: &HttpRequest) -> Result<Presented, ApiError> {
    if request.headers().contains_key(AUTHORIZATION) {
        return bearer(request).map(Presented::Token);
    }
    let Some(cookie) = request.cookie(SESSION_COOKIE) else {
        return Err(ApiError::Unauthenticated(
            "log in, or send a token: `Authorization: Bearer stw_…` (make one with \
             `steward token create`)"
                .to_owned(),
        ));
    };
    // Reading needs no CSRF check; a change made with the cookie does.
    let csrf = (!request.method().is_safe()).then(|| {
        request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    });
    Ok(Presented::Session {
        secret: cookie.value().to_owned(),
        csrf,
    })
}

/// The token of an `Authorization: Bearer …` header.
pub(crate) fn bearer(request: &HttpRequest) -> Result<String, ApiError> {
    let header = request.headers().get(AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthenticated(
            "send a token: `Authorization: Bearer stw_…` (make one with `steward token create`)"
                .to_owned(),
        )
    })?;
    let value = header.to_str().map_err(|_| {
        ApiError::Unauthenticated("the Authorization header is not text".to_owned())
    })?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        ApiError::Unauthenticated("the Authorization header is `Bearer <token>`".to_owned())
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthenticated(
            "the Authorization header is `Bearer <token>`".to_owned(),
        ));
    }
    Ok(token.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let one = new_token().expect("the OS has randomness");
        let two = new_token().expect("the OS has randomness");
        assert_ne!(one.secret, two.secret);
        assert!(one.secret.starts_with(TOKEN_PREFIX));
        assert_eq!(one.secret.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(one.sha256, digest(&one.secret));
        assert_eq!(
            digest("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert_eq!(access_stream().to_string(), "access-main");
        assert_ne!(csrf_token(&one.secret), csrf_token(&two.secret));
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse").expect("hashes");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "wrong horse"));
        assert!(!verify_password("not a hash", "correct horse"));
        assert_ne!(
            hash,
            hash_password("correct horse").expect("hashes"),
            "salted"
        );
    }
}
