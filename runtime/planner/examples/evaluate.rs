//! Scores the shipped intent classifier and slot tagger on a labelled set
//! and prints intent accuracy per domain, slot F1 per slot, and the misses:
//!
//! ```text
//! source ops/dev/models.sh && steward_ensure_models
//! cargo run -p steward-planner --release --example evaluate [-- data.jsonl]
//! ```
//!
//! Without an argument it scores `runtime/planner/data/eval.jsonl`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use steward_planner::Recognizer;
use steward_planner::evaluation::{IntentReport, SlotReport, read_labelled};
use steward_projections::memory::{Embedder, EmbedderConfig};

fn main() -> anyhow::Result<()> {
    let data = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/eval.jsonl"),
        PathBuf::from,
    );
    let requests = read_labelled(&data)?;
    let embedder = Arc::new(Embedder::load(&EmbedderConfig::from_env()?)?);
    let recognizer = Recognizer::load(embedder)?;
    let classifier = recognizer.classifier();
    let manifest = classifier.manifest();
    println!(
        "{} {} ({}) on {} requests of {}\n",
        manifest.model,
        manifest.version,
        manifest.classifier,
        requests.len(),
        data.display()
    );
    let report = IntentReport::score(classifier, &requests)
        .with_context(|| format!("scoring {}", data.display()))?;
    print!("{report}");
    let tagger = recognizer.tagger().manifest();
    println!(
        "\n{} {} ({}): slots\n",
        tagger.model, tagger.version, tagger.classifier
    );
    let slots = SlotReport::score(&recognizer, &requests)
        .with_context(|| format!("scoring the slots of {}", data.display()))?;
    print!("{slots}");
    Ok(())
}
