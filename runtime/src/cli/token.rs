//! `steward token create|list|revoke`: the API's bearer tokens, made and
//! revoked as commands to `access-main`, beside a running `serve` or not.

use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_actors::access::Access;
use steward_events::domain::access::Scope;
use steward_http::{access_stream, new_token};

use super::Failure;
use crate::config::Config;
use crate::open::Opened;

/// API token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token and print its secret (shown this once).
    Create {
        /// What it is for (`backup script`).
        #[arg(long)]
        name: String,
        /// What it may do; repeat for several: events:read, commands:write,
        /// read_models:read, approvals:write, admin.
        #[arg(long = "scope", required = true, value_parser = parse_scope)]
        scopes: Vec<Scope>,
        /// When it stops working (RFC 3339); never by default.
        #[arg(long, value_parser = parse_instant)]
        expires_at: Option<DateTime<Utc>>,
    },
    /// List the tokens (never their secrets).
    List,
    /// Revoke a token: it opens nothing from the next request on.
    Revoke {
        /// The token's id, as `list` shows it.
        token_id: String,
    },
}

fn parse_scope(value: &str) -> Result<Scope, String> {
    value.parse::<Scope>().map_err(|error| error.to_string())
}

fn parse_instant(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|error| format!("not an RFC 3339 instant ({error}); e.g. 2027-01-01T00:00:00Z"))
}

/// Runs a token command.
pub(super) async fn run(
    command: TokenCommand,
    config: &Config,
    opened: Opened,
) -> Result<(), Failure> {
    let host = super::serve::start_host(config, &opened, 1, &prometheus::Registry::new())?;
    match command {
        TokenCommand::Create {
            name,
            scopes,
            expires_at,
        } => {
            let token = new_token().map_err(|e| Failure::Other(anyhow::anyhow!(e)))?;
            let token_id = uuid::Uuid::now_v7().simple().to_string();
            let envelope = CommandEnvelope::new(
                access_stream(),
                "CreateToken",
                json!({
                    "token_id": token_id,
                    "name": name,
                    "scopes": scopes,
                    "sha256": token.sha256,
                    "expires_at": expires_at,
                }),
                "user:cli",
            );
            host.execute(envelope)
                .await
                .map_err(super::command::failure)?;
            println!("token {token_id} created; its secret (shown this once):");
            println!("{}", token.secret);
        }
        TokenCommand::List => {
            let (access, _) = host
                .load::<Access>(&access_stream(), true)
                .await
                .map_err(super::command::failure)?;
            if access.tokens.is_empty() {
                println!("no tokens yet: steward token create --name NAME --scope admin");
            }
            let now = Utc::now();
            for token in access.tokens.values() {
                let scopes: Vec<&str> = token.scopes.iter().map(|scope| scope.as_str()).collect();
                let state = if token.revoked {
                    "revoked".to_owned()
                } else if !token.is_active(now) {
                    "expired".to_owned()
                } else {
                    token
                        .expires_at
                        .map_or_else(|| "active".to_owned(), |at| format!("active until {at}"))
                };
                println!(
                    "{}  {}  [{}]  {state}",
                    token.token_id,
                    token.name,
                    scopes.join(", ")
                );
            }
        }
        TokenCommand::Revoke { token_id } => {
            let envelope = CommandEnvelope::new(
                access_stream(),
                "RevokeToken",
                json!({ "token_id": token_id }),
                "user:cli",
            );
            host.execute(envelope)
                .await
                .map_err(super::command::failure)?;
            println!("token {token_id} revoked");
        }
    }
    Ok(())
}
