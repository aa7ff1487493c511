//! Logging and tracing set-up.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Sends `tracing` output to standard error. `STEWARD_LOG` (an `EnvFilter`
/// directive such as `info` or `steward=debug`) overrides `default_level`.
pub fn init(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_env("STEWARD_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
