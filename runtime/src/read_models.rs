//! The read models this configuration runs, and their database.

use std::sync::Arc;

use steward_projections::memory::{Embedder, MemoryError};
use steward_projections::read_models::steward_projections_with;
use steward_projections::{Projection, ProjectionError, ReadDb, RunnerOptions};

use crate::config::Config;

/// Connects to the configured read-model database (creating its catalog).
pub async fn open_read_models(config: &Config) -> Result<ReadDb, ProjectionError> {
    ReadDb::connect(&config.read_models_url()).await
}

/// Every projection Steward runs, configured: the vector memory too when
/// `memory` is on, which loads the embedding model.
pub fn projections(config: &Config) -> Result<Vec<Arc<dyn Projection>>, ReadModelsError> {
    projections_with(config, load_embedder(config)?)
}

/// Every projection Steward runs, with the memory when given an embedder.
pub fn projections_with(
    config: &Config,
    embedder: Option<Arc<Embedder>>,
) -> Result<Vec<Arc<dyn Projection>>, ReadModelsError> {
    let time_zone = config
        .time_zone
        .parse::<chrono_tz::Tz>()
        .map_err(|_| ReadModelsError::TimeZone(config.time_zone.clone()))?;
    Ok(steward_projections_with(time_zone, embedder))
}

/// The embedding model, loaded, when the vector memory is on (`None` when
/// `memory = false`). A missing file is an error naming it.
pub fn load_embedder(config: &Config) -> Result<Option<Arc<Embedder>>, ReadModelsError> {
    if !config.memory {
        return Ok(None);
    }
    Embedder::load(&config.embedder_config())
        .map(|embedder| Some(Arc::new(embedder)))
        .map_err(ReadModelsError::Memory)
}

/// A configuration the read models cannot run with.
#[derive(Debug, thiserror::Error)]
pub enum ReadModelsError {
    /// `time_zone` is no IANA time zone.
    #[error("configuration `time_zone`: {0:?} is not an IANA time zone name (e.g. Europe/London)")]
    TimeZone(String),
    /// The vector memory is on but its model cannot be loaded.
    #[error(
        "the vector memory cannot start: {0}. Install the files with `ops/dev/models.sh`, \
         point `ort_library`, `embedding_model` and `embedding_tokenizer` at them, or run \
         without the memory: `memory = false` (STEWARD_MEMORY=false)"
    )]
    Memory(MemoryError),
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
