//! What the planner can fail with.

use std::path::PathBuf;

use steward_projections::memory::MemoryError;

/// An error from loading or running the planner's models.
#[derive(Debug, thiserror::Error)]
pub enum PlannerError {
    /// The sentence-embedding model failed (missing files say what to install).
    #[error(transparent)]
    Embedding(#[from] MemoryError),

    /// The intent classifier's ONNX model could not be loaded or run.
    #[error("the intent classifier: {0}")]
    Classifier(#[from] ort::Error),

    /// The classifier's manifest does not describe the classifier beside it.
    #[error("the intent classifier's manifest: {0}")]
    Manifest(String),

    /// A labelled data file could not be read.
    #[error("reading {}: {source}", path.display())]
    ReadData {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// A line of a labelled data file is not a labelled request.
    #[error("{}:{line}: {message}", path.display())]
    BadData {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}
