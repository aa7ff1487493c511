//! Steward's planner: what a request in plain language asks for.
//!
//! A request ("move my 3pm with Dana to tomorrow morning", "add oat milk") is
//! embedded with the vector memory's local sentence-embedding model and
//! classified, with its words, by a small head the project trains on its
//! own labelled data (`training/`, `data/train.jsonl`) and ships as ONNX
//! (`model/`):
//!
//! - [`Intent`] is what can be asked, one per domain action, plus
//!   [`Intent::OutOfScope`] for what Steward has no domain for;
//! - [`IntentClassifier`] ranks the intents for a request, with
//!   probabilities (the runner-up too, to ask between two close ones);
//! - [`SlotTagger`] finds the words that fill the intent's slots ("tomorrow
//!   morning", "Dana", "oat milk") from the same model run's token vectors,
//!   and [`Recognizer`] does both;
//! - [`undo`] works out the steps that undo a completed plan, for
//!   `steward undo`;
//! - [`evaluation`] scores a classifier on a labelled set (`data/eval.jsonl`),
//!   per domain, as the `evaluate` example prints it;
//! - [`decide`] turns a recognition and what the home holds into a plan, a
//!   question, an answer's read model or a decline, and [`Planner`] proposes
//!   plans on the running system;
//! - [`privacy`] and [`remote`]: what may go to a remote model and how
//!   (hybrid routing, every call in the egress ledger);
//! - [`shadow`]: the planner as it is now replayed over past requests,
//!   without side effects.
//!
//! The models run locally: their files come from package registries or
//! from this repository, and ONNX Runtime is the one the memory loaded. A
//! remote model is consulted only when configured, and only for what
//! [`privacy`] lets leave.

mod classifier;
mod error;
pub mod evaluation;
mod intent;
mod planning;
pub mod privacy;
mod recognizer;
pub mod remote;
mod service;
pub mod shadow;
mod slots;
pub mod undo;
pub mod undoing;
mod when;

pub use classifier::{IntentClassifier, IntentManifest, IntentPrediction, RankedIntent};
pub use error::PlannerError;
pub use intent::{Domain, Intent, UnknownIntent};
pub use planning::{
    CLOSE_RUNNER_UP, CONFIDENT, Decision, Declined, Draft, KnownDevice, KnownMessage, KnownScene,
    Lookup, MAX_DEVICES, PlanningContext, Question, decide,
};
pub use recognizer::{Recognition, Recognizer};
pub use service::{MAX_PLAN_ID, PlanRequest, Planned, Planner, PlannerSettings, check_plan_id};
pub use slots::{Slot, SlotManifest, SlotTagger, Slots};
pub use when::{UnclearWhen, When, resolve_when};
