//! The `steward` command line.

mod backup;
mod command;
mod events;
mod export;
mod keys;
mod memory;
mod planner;
mod projections;
mod serve;
mod token;
mod undo;
mod user;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use steward_events::{ErrorClass, StoreError, SubjectId};

use crate::config::Config;
use crate::open::{KeySource, OpenError, Opened, open_store};
use crate::telemetry;

/// Steward: a self-hosted personal AI operating system built on an event log.
#[derive(Debug, Parser)]
#[command(name = "steward", version, about)]
pub struct Cli {
    /// Configuration file (default: ./steward.toml if present).
    #[arg(long, global = true, env = "STEWARD_CONFIG")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Append to, read and follow the event log.
    #[command(subcommand)]
    Events(Box<events::EventsCommand>),
    /// Send a command to an aggregate and print the events it produced.
    ///
    /// Exit codes: 0 done (or already done before: the first result is
    /// printed), 2 bad input, 3 unresolved conflict, 4 rejected by the
    /// domain (the rule broken is named).
    Command(Box<command::CommandArgs>),
    /// The read models: status, catching up, rebuilds, retries, replays.
    #[command(subcommand)]
    Projections(Box<projections::ProjectionsCommand>),
    /// The vector memory: search what Steward remembers by meaning.
    #[command(subcommand)]
    Memory(Box<memory::MemoryCommand>),
    /// The planner: replay it over past requests (`shadow`).
    #[command(subcommand)]
    Planner(Box<planner::PlannerCommand>),
    /// Run Steward: the HTTP API and the long-lived workers (timers, sagas,
    /// projections, and the bus relay when NATS is configured).
    Serve,
    /// The HTTP API's bearer tokens: create, list, revoke.
    #[command(subcommand)]
    Token(Box<token::TokenCommand>),
    /// The household's users: add (the owner first), list, remove.
    #[command(subcommand)]
    User(Box<user::UserCommand>),
    /// Erase a data subject: destroy their key, so their personal data reads as
    /// erased everywhere, and record that as an event.
    Erase {
        /// The subject id.
        subject: String,
        /// Who asks, as `<kind>:<id>`.
        #[arg(long, default_value = "user:cli")]
        actor: String,
    },
    /// Write an encrypted archive of the event log and the subject keys
    /// (useless without this instance's master key: keep the key file too).
    Backup {
        /// The archive to write (never overwritten).
        file: PathBuf,
    },
    /// Restore an archive of `steward backup` into an empty store, with the
    /// master key it was made under; the read models rebuild on next run.
    Restore {
        /// The archive to read.
        file: PathBuf,
    },
    /// The master key: rotate it.
    #[command(subcommand)]
    Keys(Box<keys::KeysCommand>),
    /// Undo a completed plan: propose the plan `undo-<plan-id>`, approved
    /// at once, whose steps put back what it changed (a device's state as
    /// it was before, a list item, a meeting); `steward serve` carries it
    /// out. Asking again proposes nothing new.
    ///
    /// Exit codes: 0 proposed (or proposed before), 2 no such plan or not
    /// completed, 4 a step cannot be undone (the reason is named).
    Undo(Box<undo::UndoArgs>),
    /// Export events as NDJSON with their personal parts readable (a
    /// person's own data, to take elsewhere); erased parts are marked.
    Export(Box<export::ExportArgs>),
}

/// A failed command, with the exit code it earns.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad usage or input (exit 2).
    #[error("{0}")]
    Input(String),
    /// An optimistic-concurrency conflict (exit 3).
    #[error("{0}")]
    Conflict(String),
    /// The domain refused a command (exit 4).
    #[error("{0}")]
    Rejected(String),
    /// Anything else (exit 1).
    #[error("{0:#}")]
    Other(anyhow::Error),
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Input(_) => 2,
            Failure::Conflict(_) => 3,
            Failure::Rejected(_) => 4,
            Failure::Other(_) => 1,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        match error.class() {
            ErrorClass::InvalidInput => Failure::Input(error.to_string()),
            ErrorClass::Conflict => Failure::Conflict(error.to_string()),
            ErrorClass::Failure => Failure::Other(error.into()),
        }
    }
}

impl From<OpenError> for Failure {
    fn from(error: OpenError) -> Self {
        match error {
            OpenError::UnsupportedUrl(_) => Failure::Input(error.to_string()),
            other => Failure::Other(other.into()),
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let config = Config::load(cli.config.as_deref()).map_err(|e| Failure::Input(e.to_string()))?;
    let default_level = if matches!(cli.command, Command::Serve) {
        "info"
    } else {
        "warn"
    };
    telemetry::init(config.log_format, default_level);
    match cli.command {
        Command::Events(command) => events::run(*command, &open(&config).await?).await,
        Command::Command(args) => command::run(*args, &config, open(&config).await?).await,
        Command::Projections(command) => {
            projections::run(*command, &config, open(&config).await?).await
        }
        Command::Memory(command) => memory::run(*command, &config).await,
        Command::Planner(command) => planner::run(*command, &config, open(&config).await?).await,
        Command::Serve => serve::run(&config, open(&config).await?).await,
        Command::Token(command) => token::run(*command, &config, open(&config).await?).await,
        Command::User(command) => user::run(*command, &config, open(&config).await?).await,
        Command::Backup { file } => backup::backup(file, &open(&config).await?).await,
        Command::Restore { file } => backup::restore(file, &config).await,
        Command::Export(args) => export::run(*args, &open(&config).await?).await,
        Command::Undo(args) => undo::run(*args, &config, open(&config).await?).await,
        Command::Keys(command) => keys::run(*command, &config, open(&config).await?).await,
        Command::Erase { subject, actor } => {
            let subject = SubjectId::parse(subject).map_err(|e| Failure::Input(e.to_string()))?;
            let opened = open(&config).await?;
            let erasure =
                steward_events::EventStore::erase_subject(&opened.store, &subject, &actor).await?;
            if erasure.key_destroyed {
                println!(
                    "erased {subject}: key destroyed, recorded at position {}",
                    erasure.position
                );
            } else {
                println!(
                    "{subject} was already erased (recorded at position {})",
                    erasure.position
                );
            }
            Ok(())
        }
    }
}

async fn open(config: &Config) -> Result<Opened, Failure> {
    let opened = open_store(config).await?;
    if let KeySource::Generated(path) = &opened.key_source {
        eprintln!(
            "steward: generated a new master key at {}. Back it up now and keep it apart \
             from the data: without it, the personal data in this store and in its backups \
             cannot be read.",
            path.display()
        );
    }
    Ok(opened)
}
