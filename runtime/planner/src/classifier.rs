//! [`IntentClassifier`]: a request's sentence embedding and its words
//! through the trained head (`model/intent.onnx`), giving a probability per
//! [`Intent`].
//!
//! The head is a logistic regression over the embedding beside TF-IDF word
//! unigrams and bigrams of the lower-cased request: the embedding carries
//! what the request means, the words the few that decide a domain and
//! that a frozen sentence model blurs (`training/train.py`).
//!
//! The head and its manifest are compiled into the binary: they belong to
//! this version of the code (the labels must be exactly the intents it
//! knows) and are small. The manifest records the SHA-256 of the training
//! data, so a test can tell when the data changed without retraining.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use ort::session::Session;
use ort::value::Tensor;
use serde::{Deserialize, Serialize};
use steward_projections::memory::{Embedder, Embedding};

use crate::{Intent, PlannerError};

/// The head shipped with this code, trained by `training/retrain.sh`.
const SHIPPED_HEAD: &[u8] = include_bytes!("../model/intent.onnx");
/// Its manifest.
const SHIPPED_MANIFEST: &str = include_str!("../model/intent.json");

/// The head's output holding one probability per label.
const PROBABILITIES: &str = "probabilities";
/// The head's input taking the requests' embeddings, `[N, dims]`.
const EMBEDDING: &str = "embedding";
/// The head's input taking the requests' lower-cased text, `[N, 1]`.
const TEXT: &str = "text";

/// What `model/intent.json` says about the head beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentManifest {
    /// The model's name, recorded with each plan.
    pub model: String,
    /// Its version, recorded with each plan.
    pub version: String,
    /// The sentence-embedding model it was trained on (vectors of another
    /// model would be meaningless to it).
    pub embedding_model: String,
    /// The intent of each column of the head's probabilities.
    pub labels: Vec<Intent>,
    /// The kind of classifier and its hyper-parameters.
    pub classifier: String,
    /// SHA-256 (hex) of `data/train.jsonl` as it was trained on.
    pub train_sha256: String,
    /// How many labelled requests it was trained on.
    pub train_examples: usize,
}

/// One intent and its probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankedIntent {
    /// The intent.
    pub intent: Intent,
    /// The classifier's probability for it, in [0, 1].
    pub probability: f32,
}

/// Every intent ranked for one request, most probable first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntentPrediction {
    ranked: Vec<RankedIntent>,
}

impl IntentPrediction {
    /// A prediction from intents and their probabilities (sorted here, most
    /// probable first); `None` if there are none.
    pub fn new(mut ranked: Vec<RankedIntent>) -> Option<Self> {
        if ranked.is_empty() {
            return None;
        }
        ranked.sort_by(|a, b| b.probability.total_cmp(&a.probability));
        Some(Self { ranked })
    }

    /// The most probable intent.
    pub fn intent(&self) -> Intent {
        self.top().intent
    }

    /// Its probability.
    pub fn confidence(&self) -> f32 {
        self.top().probability
    }

    /// The second most probable intent, to ask between the two when they
    /// are close.
    pub fn runner_up(&self) -> Option<RankedIntent> {
        self.ranked.get(1).copied()
    }

    /// Every intent, most probable first.
    pub fn ranked(&self) -> &[RankedIntent] {
        &self.ranked
    }

    fn top(&self) -> RankedIntent {
        // Construction guarantees one entry per label and at least one label.
        self.ranked[0]
    }
}

/// Recognises the intent of requests. Share it (`Arc`): runs take turns on
/// one session each for the embedder and the head. Classifying is
/// CPU-bound for milliseconds; call it from `spawn_blocking` in async code.
pub struct IntentClassifier {
    embedder: Arc<Embedder>,
    head: Mutex<Session>,
    manifest: IntentManifest,
}

impl std::fmt::Debug for IntentClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntentClassifier")
            .field("model", &self.manifest.model)
            .field("version", &self.manifest.version)
            .finish_non_exhaustive()
    }
}

impl IntentClassifier {
    /// The classifier shipped with this code, on `embedder`'s vectors.
    pub fn load(embedder: Arc<Embedder>) -> Result<Self, PlannerError> {
        Self::from_parts(embedder, SHIPPED_HEAD, SHIPPED_MANIFEST)
    }

    /// A classifier from a head's ONNX bytes and its manifest's JSON (a
    /// retrained model, before it is shipped). Checks that they fit each
    /// other, the embedder and the intents this code knows.
    pub fn from_parts(
        embedder: Arc<Embedder>,
        head: &[u8],
        manifest: &str,
    ) -> Result<Self, PlannerError> {
        let manifest: IntentManifest =
            serde_json::from_str(manifest).map_err(|e| PlannerError::Manifest(e.to_string()))?;
        check_labels(&manifest.labels)?;
        if manifest.embedding_model != embedder.model_id() {
            return Err(PlannerError::Manifest(format!(
                "it was trained on vectors of `{}`, not of `{}`",
                manifest.embedding_model,
                embedder.model_id()
            )));
        }

        let session = Session::builder(embedder.onnx_environment())
            .and_then(|builder| Ok(builder.with_intra_threads(1)?))
            .and_then(|builder| Ok(builder.with_inter_threads(1)?))
            .and_then(|builder| Ok(builder.with_intra_op_spinning(false)?))
            .and_then(|mut builder| builder.commit_from_memory(head))?;
        let mut inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        inputs.sort_unstable();
        if inputs != [EMBEDDING, TEXT] {
            return Err(PlannerError::Manifest(format!(
                "the head takes {inputs:?}; it should take `{EMBEDDING}` and `{TEXT}`"
            )));
        }
        if !session.outputs().iter().any(|o| o.name() == PROBABILITIES) {
            return Err(PlannerError::Manifest(format!(
                "the head has no `{PROBABILITIES}` output"
            )));
        }

        let classifier = Self {
            embedder,
            head: Mutex::new(session),
            manifest,
        };
        // One run proves the head takes the embedder's vectors and gives one
        // probability per label, so a mismatch fails at load, not mid-plan.
        let probe = Embedding::normalized(vec![1.0; classifier.embedder.dims()]);
        classifier.run_head(&["probe"], &[probe])?;
        Ok(classifier)
    }

    /// What the head is and what it was trained on.
    pub fn manifest(&self) -> &IntentManifest {
        &self.manifest
    }

    /// The embedder whose vectors it classifies.
    pub fn embedder(&self) -> &Arc<Embedder> {
        &self.embedder
    }

    /// The intents of one request.
    pub fn classify(&self, request: &str) -> Result<IntentPrediction, PlannerError> {
        let embedding = self.embedder.embed_one(request)?;
        self.classify_embedded(request, embedding)
    }

    /// The intents of one request whose sentence vector is already known
    /// (from the run that also gave its token vectors).
    pub(crate) fn classify_embedded(
        &self,
        request: &str,
        embedding: Embedding,
    ) -> Result<IntentPrediction, PlannerError> {
        let mut predictions = self.run_head(&[request], &[embedding])?;
        predictions
            .pop()
            .ok_or_else(|| PlannerError::Manifest("the head returned no prediction".to_owned()))
    }

    /// The intents of many requests, in order; faster than one at a time.
    pub fn classify_many(&self, requests: &[&str]) -> Result<Vec<IntentPrediction>, PlannerError> {
        let embeddings = self.embedder.embed(requests)?;
        self.run_head(requests, &embeddings)
    }

    /// Runs the head on requests and their embeddings, row by row.
    fn run_head(
        &self,
        requests: &[&str],
        embeddings: &[Embedding],
    ) -> Result<Vec<IntentPrediction>, PlannerError> {
        if requests.len() != embeddings.len() {
            return Err(PlannerError::Manifest(format!(
                "{} requests and {} embeddings",
                requests.len(),
                embeddings.len()
            )));
        }
        if embeddings.is_empty() {
            return Ok(Vec::new());
        }
        let dims = self.embedder.dims();
        let mut values = Vec::with_capacity(embeddings.len() * dims);
        for embedding in embeddings {
            if embedding.dims() != dims {
                return Err(PlannerError::Manifest(format!(
                    "an embedding has {} dimensions, the embedder makes {dims}",
                    embedding.dims()
                )));
            }
            values.extend_from_slice(embedding.as_slice());
        }
        let rows = embeddings.len();
        let embedding = Tensor::from_array(([rows, dims], values))?;
        // Lower-cased here, as in training: ONNX's own lower-casing needs a
        // system locale that small machines lack. ONNX strings end at NUL.
        let texts: Vec<String> = requests
            .iter()
            .map(|request| request.replace('\0', " ").to_lowercase())
            .collect();
        let text = Tensor::from_string_array(([rows, 1], texts.as_slice()))?;

        let mut head = self.head.lock().unwrap_or_else(PoisonError::into_inner);
        let outputs = head.run(ort::inputs![EMBEDDING => embedding, TEXT => text])?;
        let (shape, probabilities) = outputs[PROBABILITIES].try_extract_tensor::<f32>()?;
        let labels = self.manifest.labels.len();
        if **shape != [rows as i64, labels as i64] {
            return Err(PlannerError::Manifest(format!(
                "the head gave probabilities of shape {shape:?} for {rows} requests and {labels} labels"
            )));
        }
        Ok(probabilities
            .chunks_exact(labels)
            .map(|row| rank(&self.manifest.labels, row))
            .collect())
    }
}

fn rank(labels: &[Intent], probabilities: &[f32]) -> IntentPrediction {
    let mut ranked: Vec<RankedIntent> = labels
        .iter()
        .zip(probabilities)
        .map(|(&intent, &probability)| RankedIntent {
            intent,
            probability,
        })
        .collect();
    ranked.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    IntentPrediction { ranked }
}

/// The labels must be exactly the intents this code knows, each once: an
/// intent the head cannot give would never be recognised, and a label the
/// code does not know could not be planned.
fn check_labels(labels: &[Intent]) -> Result<(), PlannerError> {
    let given: BTreeSet<Intent> = labels.iter().copied().collect();
    if given.len() != labels.len() {
        return Err(PlannerError::Manifest("a label appears twice".to_owned()));
    }
    let missing: Vec<&str> = Intent::ALL
        .iter()
        .filter(|intent| !given.contains(intent))
        .map(|intent| intent.label())
        .collect();
    if !missing.is_empty() {
        return Err(PlannerError::Manifest(format!(
            "the head cannot recognise {}: retrain it (training/retrain.sh)",
            missing.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_puts_the_most_probable_first() {
        let labels = [Intent::AddToList, Intent::SetDevice, Intent::OutOfScope];
        let prediction = rank(&labels, &[0.2, 0.7, 0.1]);
        assert_eq!(prediction.intent(), Intent::SetDevice);
        assert_eq!(prediction.confidence(), 0.7);
        assert_eq!(
            prediction.runner_up().map(|r| r.intent),
            Some(Intent::AddToList)
        );
    }

    #[test]
    fn labels_must_cover_every_intent_once() {
        assert!(check_labels(Intent::ALL).is_ok());
        let error = check_labels(&Intent::ALL[1..]).expect_err("a missing intent");
        assert!(
            error.to_string().contains(Intent::ALL[0].label()),
            "{error}"
        );
        let mut doubled = Intent::ALL.to_vec();
        doubled.push(Intent::OutOfScope);
        assert!(check_labels(&doubled).is_err());
    }

    #[test]
    fn the_shipped_manifest_knows_every_intent() {
        let manifest: IntentManifest =
            serde_json::from_str(SHIPPED_MANIFEST).expect("model/intent.json parses");
        check_labels(&manifest.labels).expect("model/intent.json labels every intent");
    }
}
