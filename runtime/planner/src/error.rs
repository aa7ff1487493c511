//! What the planner can fail with.

use std::path::PathBuf;

use steward_host::HostError;
use steward_projections::ProjectionError;
use steward_projections::memory::MemoryError;

/// An error from loading or running the planner's models.
#[derive(Debug, thiserror::Error)]
pub enum PlannerError {
    /// The sentence-embedding model failed (missing files say what to install).
    #[error(transparent)]
    Embedding(#[from] MemoryError),

    /// One of the planner's ONNX models could not be loaded or run.
    #[error("the planner's model: {0}")]
    Classifier(#[from] ort::Error),

    /// The classifier's manifest does not describe the classifier beside it.
    #[error("the intent classifier's manifest: {0}")]
    Manifest(String),

    /// The slot tagger's manifest does not describe the tagger beside it.
    #[error("the slot tagger's manifest: {0}")]
    SlotManifest(String),

    /// A request cannot be planned as given (a malformed plan id).
    #[error("{0}")]
    Request(String),

    /// The request is in a domain the person may not act in.
    #[error("the request is in the {} domain, which is not yours", .0.as_str())]
    DomainNotAllowed(crate::Domain),

    /// The remote model is not configured right.
    #[error("the remote model: {0}")]
    Remote(String),

    /// The plan id was taken by a plan for another request.
    #[error("plan `{plan_id}` was proposed for another request; ask under a new id")]
    PlanTaken {
        /// The plan's id.
        plan_id: String,
    },

    /// The host refused or failed the plan's proposal, or its policies
    /// could not be read.
    #[error(transparent)]
    Host(#[from] HostError),

    /// A read model the planner reads could not be read.
    #[error("reading what the planner knows: {0}")]
    ReadModel(#[from] ProjectionError),

    /// The thread recognising the request failed.
    #[error("recognising the request: {0}")]
    Worker(String),

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
