//! `steward user add|list|remove`: the household's users, from the machine
//! Steward runs on (which can read its database and key, so it needs no
//! setup code).

use std::io::BufRead;

use clap::Subcommand;
use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_actors::access::Access;
use steward_http::{access_stream, hash_password};

use super::Failure;
use crate::config::Config;
use crate::open::Opened;

/// The shortest password accepted (as on the first-run page).
const MIN_PASSWORD: usize = 10;

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (one line).
    Add {
        /// The name to log in with.
        #[arg(long)]
        username: String,
        /// How they are addressed (default: the username).
        #[arg(long)]
        name: Option<String>,
        /// Make them the owner (only the first user can be).
        #[arg(long)]
        owner: bool,
        /// A member's domain; repeat for several (home, groceries, …).
        #[arg(long = "domain")]
        domains: Vec<String>,
    },
    /// List the users.
    List,
    /// Remove a member.
    Remove {
        /// The user's id, as `list` shows it.
        user_id: String,
    },
}

/// Runs a user command.
pub(super) async fn run(
    command: UserCommand,
    config: &Config,
    opened: Opened,
) -> Result<(), Failure> {
    let host = super::serve::start_host(config, &opened, 1, &prometheus::Registry::new())?;
    match command {
        UserCommand::Add {
            username,
            name,
            owner,
            domains,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .map_err(|e| Failure::Input(format!("cannot read the password from stdin: {e}")))?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            if password.chars().count() < MIN_PASSWORD {
                return Err(Failure::Input(format!(
                    "the password (read from standard input) needs at least {MIN_PASSWORD} characters"
                )));
            }
            let hash =
                hash_password(&password).map_err(|e| Failure::Other(anyhow::anyhow!("{e}")))?;
            let user_id = uuid::Uuid::now_v7().simple().to_string();
            let envelope = CommandEnvelope::new(
                access_stream(),
                "AddUser",
                json!({
                    "user_id": user_id,
                    "username": username,
                    "display_name": name.unwrap_or_else(|| username.clone()),
                    "role": if owner { "owner" } else { "member" },
                    "domains": domains,
                    "password_hash": hash,
                }),
                "user:cli",
            );
            host.execute(envelope)
                .await
                .map_err(super::command::failure)?;
            println!("user {user_id} added");
        }
        UserCommand::List => {
            let (access, _) = host
                .load::<Access>(&access_stream(), true)
                .await
                .map_err(super::command::failure)?;
            if access.users.is_empty() {
                println!("no users yet: steward user add --owner --username NAME < password-file");
            }
            for user in access.users.values() {
                let domains = match user.role {
                    steward_events::domain::access::Role::Owner => "all domains".to_owned(),
                    steward_events::domain::access::Role::Member => user.domains.join(", "),
                };
                println!(
                    "{}  {}  {:?}  {}  [{domains}]",
                    user.user_id, user.username, user.role, user.display_name
                );
            }
        }
        UserCommand::Remove { user_id } => {
            let envelope = CommandEnvelope::new(
                access_stream(),
                "RemoveUser",
                json!({ "user_id": user_id }),
                "user:cli",
            );
            host.execute(envelope)
                .await
                .map_err(super::command::failure)?;
            println!("user {user_id} removed");
        }
    }
    Ok(())
}
