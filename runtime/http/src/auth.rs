//! Who is calling: bearer tokens checked against the access stream.
//!
//! A token is `stw_` and 43 characters of base64url (256 random bits). The
//! server keeps no secret: it hashes the presented token with SHA-256 and
//! looks the digest up among the tokens the `access-main` stream holds
//! (the [`Access`] aggregate). The directory re-reads that stream whenever
//! its version moved, so a token made or revoked by another process (the
//! CLI beside `serve`) counts from the next request.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use steward_actors::access::{Access, Token};
use steward_events::domain::access::Scope;
use steward_events::{EventStore, StreamId};
use steward_host::Host;
use tokio::sync::RwLock;

use crate::problem::ApiError;
use crate::state::ApiState;

/// What every token starts with, so that a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "stw_";

/// A freshly made token: the secret to hand out once, and its digest to
/// record.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The token, shown once.
    pub secret: String,
    /// Its SHA-256 digest, lower-case hex.
    pub sha256: String,
}

/// Makes a token from 256 random bits of the operating system's generator.
pub fn new_token() -> Result<NewToken, getrandom::Error> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)?;
    let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let sha256 = digest(&secret);
    Ok(NewToken { secret, sha256 })
}

/// The SHA-256 digest of a token, lower-case hex.
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The stream the tokens live in.
pub fn access_stream() -> StreamId {
    // A constant that parses (a test says so): the error arm is unreachable.
    StreamId::new("access", "main").unwrap_or_else(|_| unreachable!("`access-main` is valid"))
}

/// The tokens as of the access stream's last version, by digest.
#[derive(Debug, Default)]
struct Known {
    version: Option<u64>,
    by_digest: HashMap<String, Token>,
}

/// Resolves presented tokens against the access stream.
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

    /// The tokens now: re-read only when the stream moved since last time.
    async fn known(&self) -> Result<Arc<Known>, ApiError> {
        let stream = access_stream();
        let version = self.store.stream_version(&stream).await?;
        let cached = self.known.read().await.clone();
        if cached.version == version {
            return Ok(cached);
        }
        let (access, version) = self.host.load::<Access>(&stream, true).await?;
        let fresh = Arc::new(Known {
            version,
            by_digest: access
                .tokens
                .into_values()
                .map(|token| (token.sha256.clone(), token))
                .collect(),
        });
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

    /// The caller a presented token stands for at `now`.
    pub async fn authenticate(&self, secret: &str, now: DateTime<Utc>) -> Result<Caller, ApiError> {
        let known = self.known().await?;
        let token = known
            .by_digest
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
        Ok(Caller {
            token_id: token.token_id.clone(),
            token: token.clone(),
        })
    }
}

/// An authenticated caller. Every handler outside the public routes takes
/// one and says which scope it needs with [`Caller::require`].
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's id.
    pub token_id: String,
    token: Token,
}

impl Caller {
    /// Refuses unless the token grants `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.token.grants(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                scope: scope.to_string(),
            })
        }
    }

    /// Who the log records as acting (`token:<id>`).
    pub fn actor(&self) -> String {
        format!("token:{}", self.token_id)
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request.app_data::<web::Data<ApiState>>().cloned();
        let presented = bearer(request);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::internal("the API state is not configured"))?;
            let secret = presented?;
            state.access().authenticate(&secret, state.now()).await
        })
    }
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
    }
}
