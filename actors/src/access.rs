//! Access: the API tokens of an installation (`access-main`).
//!
//! The caller makes the token and sends only its SHA-256 digest, so the
//! secret never reaches the log. The server answers a presented token by
//! hashing it and looking the digest up in this aggregate's state.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use steward_events::domain::access::{AccessEvent, Scope, TokenCreated, TokenRevoked};

use crate::aggregate::{Aggregate, Context, Rejection, ensure, short_text};
use crate::catalog::Visitor;

/// Shows the access aggregate to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<Access>();
}

/// Commands to the access stream.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum AccessCommand {
    /// Make a token. Sending the same token again changes nothing.
    CreateToken {
        /// Its id (letters, digits, `-` and `_`; at most 64).
        token_id: String,
        /// What it is for.
        name: String,
        /// What it may do (at least one scope).
        scopes: Vec<Scope>,
        /// The SHA-256 digest of the token, lower-case hex.
        sha256: String,
        /// When it stops working (in the future), if ever.
        #[serde(default)]
        expires_at: Option<DateTime<Utc>>,
    },
    /// Revoke a token; revoking it again changes nothing.
    RevokeToken {
        /// The token.
        token_id: String,
    },
}

/// A token as the access stream knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// Its id.
    pub token_id: String,
    /// What it is for.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// The digest of the secret.
    pub sha256: String,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl Token {
    /// Whether it opens anything at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && self.expires_at.is_none_or(|expiry| now < expiry)
    }

    /// Whether it grants `scope` (`admin` grants every scope).
    pub fn grants(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }
}

/// The tokens of an installation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Access {
    /// The tokens, by id.
    pub tokens: BTreeMap<String, Token>,
}

impl Access {
    /// The token whose secret has this digest.
    pub fn by_digest(&self, sha256: &str) -> Option<&Token> {
        self.tokens.values().find(|token| token.sha256 == sha256)
    }
}

fn token_id(value: &str) -> Result<String, Rejection> {
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ensure(valid, "token_id_invalid", || {
        format!("a token id is 1 to 64 letters, digits, `-` or `_`, not {value:?}")
    })?;
    Ok(value.to_owned())
}

fn digest(value: &str) -> Result<String, Rejection> {
    let valid = value.len() == 64 && value.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
    ensure(valid, "digest_invalid", || {
        "sha256 is the token's SHA-256 digest as 64 lower-case hex digits".to_owned()
    })?;
    Ok(value.to_owned())
}

impl Aggregate for Access {
    const CATEGORY: &'static str = "access";
    const DOMAIN: &'static str = "access";
    const STATE_VERSION: u32 = 1;
    type Command = AccessCommand;
    type Event = AccessEvent;

    fn decide(
        &self,
        command: AccessCommand,
        context: &Context,
    ) -> Result<Vec<AccessEvent>, Rejection> {
        match command {
            AccessCommand::CreateToken {
                token_id: id,
                name,
                scopes,
                sha256,
                expires_at,
            } => {
                let mut scopes = scopes;
                scopes.sort();
                scopes.dedup();
                let created = TokenCreated {
                    token_id: token_id(&id)?,
                    name: short_text(&name, "name_required", "token's purpose")?,
                    scopes,
                    sha256: digest(&sha256)?,
                    expires_at,
                };
                if let Some(existing) = self.tokens.get(&created.token_id) {
                    let same = existing.name == created.name
                        && existing.scopes == created.scopes
                        && existing.sha256 == created.sha256
                        && existing.expires_at == created.expires_at;
                    return if same {
                        Ok(Vec::new())
                    } else {
                        Err(Rejection::new(
                            "token_exists",
                            format!("a token `{}` exists already", created.token_id),
                        ))
                    };
                }
                ensure(!created.scopes.is_empty(), "scopes_required", || {
                    "give the token at least one scope".to_owned()
                })?;
                ensure(
                    created.expires_at.is_none_or(|at| at > context.now),
                    "expiry_in_past",
                    || "a token's expiry must be in the future".to_owned(),
                )?;
                ensure(
                    self.by_digest(&created.sha256).is_none(),
                    "digest_in_use",
                    || "another token has this digest; make a new secret".to_owned(),
                )?;
                Ok(vec![AccessEvent::TokenCreated(created)])
            }
            AccessCommand::RevokeToken { token_id: id } => match self.tokens.get(&id) {
                None => Err(Rejection::new(
                    "unknown_token",
                    format!("there is no token `{id}`"),
                )),
                Some(token) if token.revoked => Ok(Vec::new()),
                Some(_) => Ok(vec![AccessEvent::TokenRevoked(TokenRevoked {
                    token_id: id,
                })]),
            },
        }
    }

    fn apply(&mut self, event: &AccessEvent) {
        match event {
            AccessEvent::TokenCreated(created) => {
                self.tokens.insert(
                    created.token_id.clone(),
                    Token {
                        token_id: created.token_id.clone(),
                        name: created.name.clone(),
                        scopes: created.scopes.clone(),
                        sha256: created.sha256.clone(),
                        expires_at: created.expires_at,
                        revoked: false,
                    },
                );
            }
            AccessEvent::TokenRevoked(revoked) => {
                if let Some(token) = self.tokens.get_mut(&revoked.token_id) {
                    token.revoked = true;
                }
            }
        }
    }
}
