//! The vector memory: text-bearing events embedded with a local model and
//! searched through an approximate-nearest-neighbour index.
//!
//! - [`Embedder`] turns texts into unit-length [`Embedding`]s with
//!   all-MiniLM-L6-v2 (int8 ONNX, 384 dimensions) run by ONNX Runtime, from
//!   files named by an [`EmbedderConfig`] (`ops/dev/models.sh` installs them).
//! - [`VectorIndex`] finds the nearest embeddings to a query among many,
//!   keyed by `u64`; it removes entries for erasure and saves to bytes.
//! - [`Memory`] is the projection that embeds the text-bearing events into
//!   the `memory_items` table, vectors included, and drops erased subjects'
//!   personal text from them.
//! - [`MemoryIndex`] keeps a [`VectorIndex`] in step with that table,
//!   persisted in a directory, and answers [`MemoryQuery`]s with
//!   [`MemoryHit`]s pointing back to their source events.
//! - [`MemoryError`] is what the embedder and the index can fail with;
//!   [`SearchError`] what a search can.

mod embedder;
mod embedding;
mod error;
mod index;
mod projection;
mod search;

pub use embedder::{
    DEFAULT_MODEL_ID, Embedder, EmbedderConfig, MODEL_VARIABLE, RUNTIME_LIBRARY_VARIABLE,
    TOKENIZER_VARIABLE, TextWord, TokenVectors,
};
pub use embedding::Embedding;
pub use error::MemoryError;
pub use index::{IndexOptions, Neighbour, VectorIndex};
pub use projection::{MEMORY_PROJECTION, Memory};
pub use search::{MemoryHit, MemoryIndex, MemoryQuery, Refresh, SearchError};
