//! [`Recognizer`]: what a request asks for and the pieces that say how, from
//! one run of the embedding model.

use std::sync::Arc;

use serde::Serialize;
use steward_projections::memory::Embedder;

use crate::{IntentClassifier, IntentPrediction, PlannerError, SlotTagger, Slots};

/// A request's intents, ranked, and the slots of the most probable one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recognition {
    /// Every intent, most probable first.
    pub intents: IntentPrediction,
    /// The slots the request fills for the most probable intent.
    pub slots: Slots,
    /// The request, as said (what a reply is to say is taken from it).
    pub text: String,
}

/// The intent classifier and the slot tagger on one embedder. Share it
/// (`Arc`); recognising is CPU-bound for milliseconds, so call it from
/// `spawn_blocking` in async code.
#[derive(Debug)]
pub struct Recognizer {
    classifier: IntentClassifier,
    tagger: SlotTagger,
}

impl Recognizer {
    /// The classifier and tagger shipped with this code, on `embedder`.
    pub fn load(embedder: Arc<Embedder>) -> Result<Self, PlannerError> {
        let tagger = SlotTagger::load(
            embedder.onnx_environment(),
            embedder.model_id(),
            embedder.dims(),
        )?;
        Ok(Self::new(IntentClassifier::load(embedder)?, tagger))
    }

    /// A recognizer from a classifier and a tagger (a retrained model,
    /// before it is shipped).
    pub fn new(classifier: IntentClassifier, tagger: SlotTagger) -> Self {
        Self { classifier, tagger }
    }

    /// The intent classifier.
    pub fn classifier(&self) -> &IntentClassifier {
        &self.classifier
    }

    /// The slot tagger.
    pub fn tagger(&self) -> &SlotTagger {
        &self.tagger
    }

    /// The intents and slots of `request`.
    pub fn recognize(&self, request: &str) -> Result<Recognition, PlannerError> {
        let tokens = self.classifier.embedder().embed_tokens(request)?;
        let intents = self
            .classifier
            .classify_embedded(request, tokens.embedding().clone())?;
        let slots = self.tagger.tag(request, &tokens, intents.intent())?;
        Ok(Recognition {
            intents,
            slots,
            text: request.to_owned(),
        })
    }
}
