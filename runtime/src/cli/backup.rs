//! `steward backup <file>` and `steward restore <file>`.
//!
//! A backup is an encrypted archive of the event log and the subject keys
//! (see `steward_store_core::backup`); read models are not in it, they are
//! rebuilt from the log by the next `steward serve` (or `steward projections
//! catch-up`). The archive opens only with the master key it was made
//! under, so the key file must be kept too, apart from the archives.

use std::io::Write;
use std::path::{Path, PathBuf};

use steward_events::StoreError;
use steward_store_core::MasterKey;
use steward_store_core::backup::{self, BackupError};

use super::Failure;
use crate::config::Config;
use crate::open::{OpenError, Opened, open_store};

fn io_failure(path: &Path, what: &str, error: std::io::Error) -> Failure {
    let hint = match error.kind() {
        std::io::ErrorKind::NotFound => " (no such file)",
        std::io::ErrorKind::AlreadyExists => " (a backup never overwrites a file)",
        _ => "",
    };
    Failure::Input(format!("{what} {}: {error}{hint}", path.display()))
}

fn backup_failure(error: BackupError) -> Failure {
    match error {
        BackupError::Store(error) => error.into(),
        BackupError::Seal(error) => Failure::Other(error.into()),
        other => Failure::Input(other.to_string()),
    }
}

/// Runs `steward backup <file>`: writes the archive to a temporary file
/// beside `file`, then moves it into place, so a failed backup leaves no
/// half-written archive under the name asked for.
pub(super) async fn backup(file: PathBuf, opened: &Opened) -> Result<(), Failure> {
    if file.exists() {
        return Err(Failure::Input(format!(
            "{} already exists: a backup never overwrites a file",
            file.display()
        )));
    }
    let name = file
        .file_name()
        .ok_or_else(|| Failure::Input(format!("{} is not a file name", file.display())))?;
    let partial = file.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let handle = options
        .open(&partial)
        .map_err(|e| io_failure(&partial, "cannot write", e))?;
    let mut writer = std::io::BufWriter::new(handle);
    let written = opened.store.write_backup(&mut writer).await;
    let finished = written.and_then(|header| {
        let file = writer
            .into_inner()
            .map_err(|e| BackupError::Store(StoreError::backend(e.into_error())))?;
        file.sync_all()
            .map_err(|e| BackupError::Store(StoreError::backend(e)))?;
        Ok(header)
    });
    let header = match finished {
        Ok(header) => header,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(backup_failure(error));
        }
    };
    std::fs::rename(&partial, &file).map_err(|e| io_failure(&file, "cannot write", e))?;
    let head = header.head.map_or_else(
        || "empty".to_owned(),
        |head| format!("up to position {head}"),
    );
    print_line(&format!(
        "backed up {} events and {} subject keys ({head}) to {}; it opens only with this \
         instance's master key",
        header.event_count,
        header.key_count,
        file.display()
    ))
}

/// Runs `steward restore <file>` into the configured store, which must be
/// empty, with the master key the backup was made under.
pub(super) async fn restore(file: PathBuf, config: &Config) -> Result<(), Failure> {
    let archive = std::fs::read(&file).map_err(|e| io_failure(&file, "cannot read", e))?;
    backup::read_header(&archive).map_err(backup_failure)?;
    // Restoring never makes a key (the archive opens only with its own), and
    // checks it against the archive before the store records it as its key.
    let master = if let Ok(text) = std::env::var("STEWARD_MASTER_KEY") {
        MasterKey::parse(&text, "STEWARD_MASTER_KEY")
    } else if config.master_key_file.exists() {
        MasterKey::read_file(&config.master_key_file)
    } else {
        return Err(Failure::Input(format!(
            "restore needs the master key the backup was made under: put its key file at {} \
             or set STEWARD_MASTER_KEY",
            config.master_key_file.display()
        )));
    }
    .map_err(|e| Failure::Input(e.to_string()))?;
    backup::verify(&master, &archive).map_err(backup_failure)?;
    let opened = open_store(config).await.map_err(|error| match error {
        OpenError::Store(StoreError::MasterKey(reason)) => Failure::Input(format!(
            "restore needs an empty store, and this one was made under another master key: \
             {reason}"
        )),
        other => other.into(),
    })?;
    let restored = opened
        .store
        .restore_backup(&archive)
        .await
        .map_err(backup_failure)?;
    print_line(&format!(
        "restored {} events and {} subject keys from {} (made {}); the read models are \
         rebuilt from the log by the next `steward serve`",
        restored.event_count,
        restored.key_count,
        file.display(),
        restored.created_at.to_rfc3339()
    ))
}

fn print_line(line: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").map_err(|e| Failure::Other(e.into()))
}
