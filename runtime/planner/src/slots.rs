//! [`SlotTagger`]: the pieces of a request that fill its intent's slots
//! ("tomorrow morning" is a date, "Dana" a person, "oat milk" an item),
//! found by labelling each word with its slot or `O` (outside any).
//!
//! The tagger reads the token vectors of the same embedding-model run that
//! the intent classifier pools, so finding slots costs one small matrix
//! product more. A word's features are the vectors of its first and last
//! tokens and of the tokens either side of it, the request's intent
//! (one-hot) and four
//! shape flags the lower-casing tokenizer loses (capitalised, all digits,
//! has a digit, first word), in the layout `training/train_slots.py` trains.
//!
//! Slots here are spans of text; resolving them (a date in the person's
//! time zone, a device in the home) is the planner's next step.

use std::sync::{Mutex, PoisonError};

use ort::environment::Environment;
use ort::session::Session;
use ort::value::Tensor;
use serde::{Deserialize, Serialize};
use steward_projections::memory::{TextWord, TokenVectors};

use crate::{Intent, PlannerError};

/// The tagger shipped with this code, trained by `training/retrain.sh`.
const SHIPPED_TAGGER: &[u8] = include_bytes!("../model/slots.onnx");
/// Its manifest.
const SHIPPED_MANIFEST: &str = include_str!("../model/slots.json");

/// The tagger's input, `[words, width]`.
const FEATURES: &str = "features";
/// Its output holding one probability per tag and word.
const PROBABILITIES: &str = "probabilities";
/// Shape flags per word, after the vectors and the intent.
const SHAPE_FLAGS: usize = 4;

/// What `model/slots.json` says about the tagger beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotManifest {
    /// The model's name.
    pub model: String,
    /// Its version.
    pub version: String,
    /// The embedding model whose token vectors it reads.
    pub embedding_model: String,
    /// The tag of each column of its probabilities: `O` or a slot name.
    pub tags: Vec<String>,
    /// The intent of each position of the intent one-hot.
    pub intents: Vec<Intent>,
    /// The feature layout, for people.
    pub features: Vec<String>,
    /// The kind of classifier and its hyper-parameters.
    pub classifier: String,
    /// SHA-256 (hex) of `data/train.jsonl` as it was trained on.
    pub train_sha256: String,
}

/// One filled slot: its name and the piece of the request that fills it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slot {
    /// The slot: `date`, `time`, `person`, `device`, `item`…
    pub name: String,
    /// The words that fill it, as typed.
    pub text: String,
    /// Where they start in the request (a byte offset).
    pub start: usize,
    /// Where they end (one past the last byte).
    pub end: usize,
    /// The tagger's lowest probability over its words.
    pub confidence: f32,
}

/// The slots a request fills, in the order they appear; a slot named twice
/// keeps its first span.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Slots(Vec<Slot>);

impl Slots {
    /// Slots found elsewhere (another model); a slot named twice keeps its
    /// first span.
    pub fn new(slots: impl IntoIterator<Item = Slot>) -> Self {
        let mut kept: Vec<Slot> = Vec::new();
        for slot in slots {
            if !kept.iter().any(|k| k.name == slot.name) {
                kept.push(slot);
            }
        }
        Self(kept)
    }

    /// The slot named `name`, if the request fills it.
    pub fn get(&self, name: &str) -> Option<&Slot> {
        self.0.iter().find(|slot| slot.name == name)
    }

    /// Its text.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(|slot| slot.text.as_str())
    }

    /// Every filled slot, in order of appearance.
    pub fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.0.iter()
    }

    /// How many slots are filled.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A word's label: outside any slot, or inside the named one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tag {
    Outside,
    Inside(String),
}

impl Tag {
    fn parse(tag: &str) -> Result<Self, PlannerError> {
        if tag == "O" {
            Ok(Tag::Outside)
        } else if steward_actors::aggregate::is_snake_name(tag) {
            Ok(Tag::Inside(tag.to_owned()))
        } else {
            Err(PlannerError::SlotManifest(format!(
                "`{tag}` is neither O nor a slot name"
            )))
        }
    }
}

/// Finds the slots of requests. Share it (`Arc`): runs take turns on one
/// session. Tagging is CPU-bound; call it from `spawn_blocking` in async
/// code.
pub struct SlotTagger {
    session: Mutex<Session>,
    manifest: SlotManifest,
    tags: Vec<Tag>,
    width: usize,
    dims: usize,
}

impl std::fmt::Debug for SlotTagger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotTagger")
            .field("model", &self.manifest.model)
            .field("version", &self.manifest.version)
            .finish_non_exhaustive()
    }
}

impl SlotTagger {
    /// The tagger shipped with this code, for token vectors of `dims`
    /// numbers from the embedding model `embedding_model`.
    pub fn load(
        environment: &Environment,
        embedding_model: &str,
        dims: usize,
    ) -> Result<Self, PlannerError> {
        Self::from_parts(
            environment,
            embedding_model,
            dims,
            SHIPPED_TAGGER,
            SHIPPED_MANIFEST,
        )
    }

    /// A tagger from its ONNX bytes and its manifest's JSON. Checks that
    /// they fit each other, the embedding model and the intents this code
    /// knows.
    pub fn from_parts(
        environment: &Environment,
        embedding_model: &str,
        dims: usize,
        model: &[u8],
        manifest: &str,
    ) -> Result<Self, PlannerError> {
        let manifest: SlotManifest = serde_json::from_str(manifest)
            .map_err(|e| PlannerError::SlotManifest(e.to_string()))?;
        if manifest.embedding_model != embedding_model {
            return Err(PlannerError::SlotManifest(format!(
                "it was trained on vectors of `{}`, not of `{embedding_model}`",
                manifest.embedding_model
            )));
        }
        let tags = manifest
            .tags
            .iter()
            .map(|tag| Tag::parse(tag))
            .collect::<Result<Vec<_>, _>>()?;
        if tags.first() != Some(&Tag::Outside) {
            return Err(PlannerError::SlotManifest(
                "the first tag must be `O`".to_owned(),
            ));
        }
        let session = Session::builder(environment)
            .and_then(|builder| Ok(builder.with_intra_threads(1)?))
            .and_then(|builder| Ok(builder.with_inter_threads(1)?))
            .and_then(|builder| Ok(builder.with_intra_op_spinning(false)?))
            .and_then(|mut builder| builder.commit_from_memory(model))?;
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        if inputs != [FEATURES] {
            return Err(PlannerError::SlotManifest(format!(
                "the tagger takes {inputs:?}; it should take `{FEATURES}`"
            )));
        }
        let width = 4 * dims + manifest.intents.len() + SHAPE_FLAGS;
        let tagger = Self {
            session: Mutex::new(session),
            manifest,
            tags,
            width,
            dims,
        };
        // One run proves the layout fits the model, so a mismatch fails at
        // load, not mid-plan.
        tagger.run(&vec![0.0; width], 1)?;
        Ok(tagger)
    }

    /// What the tagger is and what it was trained on.
    pub fn manifest(&self) -> &SlotManifest {
        &self.manifest
    }

    /// The slots of `request`, from its token vectors and its intent.
    pub fn tag(
        &self,
        request: &str,
        tokens: &TokenVectors,
        intent: Intent,
    ) -> Result<Slots, PlannerError> {
        let words = tokens.words();
        if words.is_empty() {
            return Ok(Slots::default());
        }
        if tokens.dims() != self.dims {
            return Err(PlannerError::SlotManifest(format!(
                "token vectors have {} numbers, the tagger reads {}",
                tokens.dims(),
                self.dims
            )));
        }
        let features = self.features(request, tokens, intent);
        let probabilities = self.run(&features, words.len())?;
        let columns = self.tags.len();
        let best: Vec<(usize, f32)> = probabilities
            .chunks_exact(columns)
            .map(|row| {
                row.iter()
                    .copied()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap_or((0, 1.0))
            })
            .collect();
        Ok(decode(request, words, &self.tags, &best))
    }

    /// One row per word, in the training layout.
    fn features(&self, request: &str, tokens: &TokenVectors, intent: Intent) -> Vec<f32> {
        let zeros = vec![0.0; self.dims];
        let token = |index: Option<usize>| {
            index
                .and_then(|i| tokens.token(i))
                .unwrap_or(zeros.as_slice())
        };
        let mut rows = Vec::with_capacity(tokens.words().len() * self.width);
        for (position, word) in tokens.words().iter().enumerate() {
            rows.extend_from_slice(token(word.first_token.checked_sub(1)));
            rows.extend_from_slice(token(Some(word.first_token)));
            rows.extend_from_slice(token(Some(word.last_token)));
            rows.extend_from_slice(token(Some(word.last_token + 1)));
            rows.extend(
                self.manifest
                    .intents
                    .iter()
                    .map(|known| if *known == intent { 1.0 } else { 0.0 }),
            );
            rows.extend(shape(&request[word.start..word.end], position));
        }
        rows
    }

    fn run(&self, features: &[f32], words: usize) -> Result<Vec<f32>, PlannerError> {
        let input = Tensor::from_array(([words, self.width], features.to_vec()))?;
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let outputs = session.run(ort::inputs![FEATURES => input])?;
        let (shape, probabilities) = outputs[PROBABILITIES].try_extract_tensor::<f32>()?;
        if **shape != [words as i64, self.tags.len() as i64] {
            return Err(PlannerError::SlotManifest(format!(
                "the tagger gave probabilities of shape {shape:?} for {words} words and {} tags",
                self.tags.len()
            )));
        }
        Ok(probabilities.to_vec())
    }
}

/// Capitalised, all digits, has a digit, first word: what case and digits
/// say, which the lower-casing tokenizer's vectors blur.
fn shape(word: &str, position: usize) -> [f32; SHAPE_FLAGS] {
    let flag = |yes: bool| if yes { 1.0 } else { 0.0 };
    let digits = word.chars().filter(char::is_ascii_digit).count();
    [
        flag(word.chars().next().is_some_and(char::is_uppercase)),
        flag(digits > 0 && digits == word.chars().count()),
        flag(digits > 0),
        flag(position == 0),
    ]
}

/// Spans from the words' best tags: neighbouring words of the same slot
/// make one span; a slot found twice keeps its first span.
fn decode(request: &str, words: &[TextWord], tags: &[Tag], best: &[(usize, f32)]) -> Slots {
    let mut slots: Vec<Slot> = Vec::new();
    let mut open: Option<Slot> = None;
    for (word, &(tag, probability)) in words.iter().zip(best) {
        let name = match tags.get(tag) {
            Some(Tag::Inside(name)) => Some(name),
            _ => None,
        };
        match (open.as_mut(), name) {
            (Some(span), Some(name)) if span.name == *name => {
                span.end = word.end;
                span.confidence = span.confidence.min(probability);
                continue;
            }
            _ => {}
        }
        slots.extend(open.take());
        open = name.map(|name| Slot {
            name: name.clone(),
            text: String::new(),
            start: word.start,
            end: word.end,
            confidence: probability,
        });
    }
    slots.extend(open);
    for slot in &mut slots {
        slot.text = request[slot.start..slot.end].to_owned();
    }
    Slots::new(slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(request: &str) -> Vec<TextWord> {
        let mut words = Vec::new();
        let mut start = None;
        for (i, c) in request.char_indices().chain([(request.len(), ' ')]) {
            match (c.is_whitespace(), start) {
                (false, None) => start = Some(i),
                (true, Some(s)) => {
                    words.push(TextWord {
                        first_token: words.len() + 1,
                        last_token: words.len() + 1,
                        start: s,
                        end: i,
                    });
                    start = None;
                }
                _ => {}
            }
        }
        words
    }

    fn tags() -> Vec<Tag> {
        ["O", "date", "person"]
            .iter()
            .map(|t| Tag::parse(t).expect("a tag"))
            .collect()
    }

    #[test]
    fn neighbouring_words_of_a_slot_make_one_span() {
        let request = "move Dana to tomorrow morning";
        let best = [(0, 0.9), (2, 0.8), (0, 0.9), (1, 0.7), (1, 0.6)];
        let slots = decode(request, &words(request), &tags(), &best);
        assert_eq!(slots.text("person"), Some("Dana"));
        assert_eq!(slots.text("date"), Some("tomorrow morning"));
        assert_eq!(slots.get("date").map(|s| s.confidence), Some(0.6));
        assert_eq!(slots.get("date").map(|s| (s.start, s.end)), Some((13, 29)));
        assert_eq!(slots.len(), 2);
    }

    #[test]
    fn the_first_span_of_a_slot_wins() {
        let request = "friday or saturday";
        let best = [(1, 0.5), (0, 0.9), (1, 0.9)];
        let slots = decode(request, &words(request), &tags(), &best);
        assert_eq!(slots.text("date"), Some("friday"));
        assert_eq!(slots.len(), 1);
    }

    #[test]
    fn another_slot_ends_the_open_span() {
        let request = "Dana tomorrow";
        let best = [(2, 0.9), (1, 0.9)];
        let slots = decode(request, &words(request), &tags(), &best);
        assert_eq!(slots.text("person"), Some("Dana"));
        assert_eq!(slots.text("date"), Some("tomorrow"));
    }

    #[test]
    fn shape_flags_say_case_and_digits() {
        assert_eq!(shape("Dana", 0), [1.0, 0.0, 0.0, 1.0]);
        assert_eq!(shape("22", 3), [0.0, 1.0, 1.0, 0.0]);
        assert_eq!(shape("3pm", 1), [0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn tags_are_outside_or_a_slot_name() {
        assert_eq!(Tag::parse("O").ok(), Some(Tag::Outside));
        assert_eq!(Tag::parse("date").ok(), Some(Tag::Inside("date".into())));
        assert!(Tag::parse("B-date").is_err());
        assert!(Tag::parse("").is_err());
    }

    #[test]
    fn the_shipped_manifest_knows_every_intent_and_parses_its_tags() {
        let manifest: SlotManifest =
            serde_json::from_str(SHIPPED_MANIFEST).expect("model/slots.json parses");
        for intent in Intent::ALL {
            assert!(manifest.intents.contains(intent), "{intent}");
        }
        for tag in &manifest.tags {
            Tag::parse(tag).expect("a well-formed tag");
        }
    }
}
