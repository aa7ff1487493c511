//! `steward keys rotate`: a new master key for every subject key and
//! credential.
//!
//! The new key is written first (`<key file>.next`, owner-only), then the
//! vault rewraps everything under it and puts its check value in force in
//! one transaction, then the key files are swapped (the old key kept as
//! `<key file>.retired-<time>`). A crash before the transaction leaves the
//! old key in force and the next one unused; a crash after it is finished
//! by the next start, which finds the next key in force.

use std::path::PathBuf;

use clap::Subcommand;
use steward_store_core::{KeyRotation, MasterKey};

use super::Failure;
use crate::config::Config;
use crate::open::{KeySource, Opened, next_key_path, swap_key_files};

/// Master key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Rewrap every subject key and integration credential under a new
    /// master key, in one transaction, and swap the key file. Stop
    /// `steward serve` first: a process still holding the old key can no
    /// longer store new keys.
    Rotate {
        /// Where to write the new key when the current one comes from
        /// `STEWARD_MASTER_KEY` (required then; the key file is rotated in
        /// place otherwise).
        #[arg(long)]
        new_key_file: Option<PathBuf>,
    },
}

/// Runs a `steward keys` command.
pub(super) async fn run(
    command: KeysCommand,
    config: &Config,
    opened: Opened,
) -> Result<(), Failure> {
    let KeysCommand::Rotate { new_key_file } = command;
    let in_place = match (&opened.key_source, new_key_file) {
        (KeySource::Environment, None) => {
            return Err(Failure::Input(
                "the master key comes from STEWARD_MASTER_KEY: give --new-key-file PATH for \
                 the new key, then set STEWARD_MASTER_KEY to it"
                    .into(),
            ));
        }
        (KeySource::Environment, Some(path)) => Target::Separate(path),
        (_, Some(_)) => {
            return Err(Failure::Input(format!(
                "the key file {} is rotated in place: --new-key-file is only for a key \
                 given in STEWARD_MASTER_KEY",
                config.master_key_file.display()
            )));
        }
        (_, None) => Target::InPlace(config.master_key_file.clone()),
    };
    refuse_while_serving(&opened).await?;

    let next_path = match &in_place {
        Target::InPlace(path) => next_key_path(path),
        Target::Separate(path) => path.clone(),
    };
    if let Target::InPlace(_) = in_place {
        // Opening finished any rotation whose next key is in force, so a
        // next key still here was never used: it can go.
        match std::fs::remove_file(&next_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Failure::Input(format!(
                    "cannot remove the unused {}: {e}",
                    next_path.display()
                )));
            }
        }
    }
    let next = MasterKey::create_file(&next_path).map_err(|e| Failure::Input(e.to_string()))?;
    let rotation =
        KeyRotation::new(opened.master_key.clone(), next).map_err(|e| Failure::Other(e.into()))?;
    let rotated = opened.store.vault().rotate_master_key(&rotation).await?;
    println!(
        "rewrapped {} subject keys and {} credentials under the new master key",
        rotated.subject_keys, rotated.credentials
    );
    match in_place {
        Target::InPlace(path) => {
            let retired =
                swap_key_files(&path, &next_path).map_err(|e| Failure::Other(e.into()))?;
            println!(
                "the new key is in {}; the old one was moved to {}: backups made before \
                 now open only with it, so keep it (offline) as long as you keep them, then \
                 destroy it",
                path.display(),
                retired.display()
            );
        }
        Target::Separate(path) => println!(
            "the new key is in {}: set STEWARD_MASTER_KEY to its contents now (the old key \
             no longer opens this store; keep it only for backups made before now)",
            path.display()
        ),
    }
    Ok(())
}

enum Target {
    InPlace(PathBuf),
    Separate(PathBuf),
}

/// A running `steward serve` holds the timer worker's lease; rotating under
/// it would leave it unable to store new keys until restarted.
async fn refuse_while_serving(opened: &Opened) -> Result<(), Failure> {
    let log = opened.store.log();
    let holder = format!("keys-rotate-{}", std::process::id());
    let lease = steward_host::workers::TimerWorker::LEASE;
    if !log
        .acquire_lease(lease, &holder, std::time::Duration::from_secs(5))
        .await?
    {
        return Err(Failure::Input(
            "steward serve is running on this store (it holds the timers lease): stop it, \
             rotate, then start it again"
                .into(),
        ));
    }
    log.release_lease(lease, &holder).await?;
    Ok(())
}
