//! Opening the configured event store, master key included.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use steward_events::StoreError;
use steward_store_core::{
    EventLog, KeyVault, Limits, MasterKey, MasterKeyError, Store, StoreOptions,
};
use steward_store_postgres::{PostgresError, PostgresOptions, PostgresStore};
use steward_store_sqlite::{SqliteLog, SqliteOptions};

use crate::config::Config;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The database URL names no backend this build has.
    #[error("database_url `{0}` is not supported: use postgres://…, sqlite://PATH{kurrent}", kurrent = if cfg!(feature = "kurrentdb") { ", kurrentdb://… or esdb://…" } else { " (KurrentDB needs a build with --features kurrentdb)" })]
    UnsupportedUrl(String),
    /// The store holds keys but no master key was given.
    #[error(
        "this store was initialised with a master key, but {path} does not exist and \
         STEWARD_MASTER_KEY is not set: restore the key file from your backup \
         (Steward never makes a new key for an existing store)"
    )]
    MissingMasterKey {
        /// Where the key file was expected.
        path: PathBuf,
    },
    /// The master key could not be read or created.
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    /// The backend refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// PostgreSQL could not be reached or migrated.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] PostgresError),
}

/// What start-up did about the master key, for the caller to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Read from the key file.
    File(PathBuf),
    /// Read from `STEWARD_MASTER_KEY`.
    Environment,
    /// Generated on this first run and written to this file.
    Generated(PathBuf),
}

/// An open store and how its key was found.
#[derive(Debug)]
pub struct Opened {
    /// The store.
    pub store: Store,
    /// Where the master key came from.
    pub key_source: KeySource,
    /// The master key itself (for `steward keys rotate`).
    pub master_key: MasterKey,
}

/// Opens the store the configuration names.
pub async fn open_store(config: &Config) -> Result<Opened, OpenError> {
    let (log, vault) = open_backend(config).await?;
    let (master, key_source) = resolve_master_key(config, vault.as_ref()).await?;
    let options = StoreOptions {
        limits: Limits {
            max_event_bytes: config.max_event_bytes,
            ..Limits::default()
        },
        ..StoreOptions::steward()
    };
    let store = Store::open(log, vault, master.clone(), options).await?;
    Ok(Opened {
        store,
        key_source,
        master_key: master,
    })
}

async fn open_backend(
    config: &Config,
) -> Result<(Arc<dyn EventLog>, Arc<dyn KeyVault>), OpenError> {
    let url = config.database_url.as_deref().unwrap_or_default();
    if url.is_empty() {
        let log = Arc::new(SqliteLog::open(&SqliteOptions::new(config.sqlite_path())).await?);
        return Ok((log.clone(), log));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = Arc::new(PostgresStore::connect(url, PostgresOptions::default()).await?);
        return Ok((store.clone(), store));
    }
    #[cfg(feature = "kurrentdb")]
    if url.starts_with("kurrentdb://") || url.starts_with("esdb://") {
        use steward_store_kurrentdb::{KurrentLog, KurrentOptions};
        // KurrentDB streams cannot be made to forget a key: subject keys stay
        // in a SQLite file beside the embedded store's.
        let vault =
            Arc::new(SqliteLog::open(&SqliteOptions::new(config.data_dir.join("keys.db"))).await?);
        let log = Arc::new(KurrentLog::connect(&KurrentOptions::new(url)).await?);
        return Ok((log, vault));
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        let log = Arc::new(SqliteLog::open(&SqliteOptions::new(path)).await?);
        return Ok((log.clone(), log));
    }
    Err(OpenError::UnsupportedUrl(url.to_owned()))
}

/// The key from `STEWARD_MASTER_KEY`, else the key file, else (only for a
/// store that has never recorded a key) a new key file.
async fn resolve_master_key(
    config: &Config,
    vault: &dyn KeyVault,
) -> Result<(MasterKey, KeySource), OpenError> {
    if let Ok(text) = std::env::var("STEWARD_MASTER_KEY") {
        return Ok((
            MasterKey::parse(&text, "STEWARD_MASTER_KEY")?,
            KeySource::Environment,
        ));
    }
    let path = &config.master_key_file;
    if path.exists() {
        let key = MasterKey::read_file(path)?;
        let key = finish_rotation(path, key, vault).await?;
        return Ok((key, KeySource::File(path.clone())));
    }
    if vault.has_key_check().await? {
        return Err(OpenError::MissingMasterKey { path: path.clone() });
    }
    let key = MasterKey::create_file(path)?;
    Ok((key, KeySource::Generated(path.clone())))
}

/// Where `steward keys rotate` writes the new key before the vault switches
/// to it.
pub fn next_key_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

/// Where a rotation moves the key it retires.
pub fn retired_key_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(format!(
        ".retired-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ")
    ));
    PathBuf::from(name)
}

/// Completes a rotation that switched the vault to the next key but stopped
/// before the key files were swapped; a next key not yet in force (a
/// rotation under way or abandoned) is left alone.
async fn finish_rotation(
    path: &Path,
    current: MasterKey,
    vault: &dyn KeyVault,
) -> Result<MasterKey, OpenError> {
    let next_path = next_key_path(path);
    if !next_path.exists() || !vault.has_key_check().await? {
        return Ok(current);
    }
    let next = MasterKey::read_file(&next_path)?;
    let in_force = vault
        .init_key_check(&current.check_value().map_err(StoreError::backend)?)
        .await?;
    if !next.matches(&in_force) {
        return Ok(current);
    }
    swap_key_files(path, &next_path)?;
    tracing::warn!(
        key_file = %path.display(),
        "finished an interrupted master key rotation: the new key is now in the key file"
    );
    Ok(next)
}

/// Keeps the key file's key under a retired name (returning it) and moves
/// the next key into its place. At every step the key file holds a key:
/// the old one is linked aside before the next one atomically replaces it.
pub fn swap_key_files(path: &Path, next_path: &Path) -> Result<PathBuf, OpenError> {
    let io = |source| MasterKeyError::Io {
        path: path.to_owned(),
        source,
    };
    let retired = retired_key_path(path);
    std::fs::hard_link(path, &retired).map_err(io)?;
    std::fs::rename(next_path, path).map_err(io)?;
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // The renames survive a crash only once the directory is synced.
        std::fs::File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io)?;
    }
    Ok(retired)
}
