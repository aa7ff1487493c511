//! The read models this configuration runs, and their database.

use std::sync::Arc;

use steward_projections::read_models::steward_projections_in;
use steward_projections::{Projection, ProjectionError, ReadDb, RunnerOptions};

use crate::config::Config;

/// Connects to the configured read-model database (creating its catalog).
pub async fn open_read_models(config: &Config) -> Result<ReadDb, ProjectionError> {
    ReadDb::connect(&config.read_models_url()).await
}

/// Every projection Steward runs, configured.
pub fn projections(config: &Config) -> Result<Vec<Arc<dyn Projection>>, ReadModelsError> {
    let time_zone = config
        .time_zone
        .parse::<chrono_tz::Tz>()
        .map_err(|_| ReadModelsError::TimeZone(config.time_zone.clone()))?;
    Ok(steward_projections_in(time_zone))
}

/// A configuration the read models cannot run with.
#[derive(Debug, thiserror::Error)]
pub enum ReadModelsError {
    /// `time_zone` is no IANA time zone.
    #[error("configuration `time_zone`: {0:?} is not an IANA time zone name (e.g. Europe/London)")]
    TimeZone(String),
}

/// The lease a projection's runner holds.
pub fn lease_name(projection: &dyn Projection) -> String {
    format!("projection-{}", projection.name())
}

/// How the configured runners batch.
pub fn runner_options(config: &Config) -> RunnerOptions {
    RunnerOptions {
        max_batch: config.projection_batch.max(1),
        ..RunnerOptions::default()
    }
}
