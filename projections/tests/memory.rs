//! The vector memory against the real model and ONNX Runtime: the files come
//! from `ops/dev/models.sh`, which ops/dev/test runs and which exports
//! `STEWARD_ORT_LIBRARY`, `STEWARD_EMBEDDING_MODEL` and
//! `STEWARD_EMBEDDING_TOKENIZER`. Without them these tests fail (saying how
//! to install them) rather than skip.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use steward_projections::memory::{
    DEFAULT_MODEL_ID, Embedder, EmbedderConfig, Embedding, IndexOptions, MemoryError, VectorIndex,
};

const CAT: &str = "The cat sits on the mat.";
const KITTEN: &str = "A kitten is resting on a rug.";
const REVENUE: &str = "Quarterly revenue grew by ten percent.";

fn config() -> EmbedderConfig {
    EmbedderConfig::from_env().unwrap_or_else(|error| panic!("{error}"))
}

/// One embedder for the whole binary: loading takes a fraction of a second.
fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| Embedder::load(&config()).unwrap_or_else(|error| panic!("{error}")))
}

fn embed(text: &str) -> Embedding {
    embedder().embed_one(text).expect("embeds")
}

fn cosine(a: &Embedding, b: &Embedding) -> f32 {
    a.cosine(b).expect("same dimensions")
}

#[test]
fn vectors_have_384_unit_dimensions_and_name_their_model() {
    let embedder = embedder();
    assert_eq!(embedder.dims(), 384);
    assert_eq!(embedder.model_id(), DEFAULT_MODEL_ID);
    let vector = embed(CAT);
    assert_eq!(vector.dims(), 384);
    assert!((vector.norm() - 1.0).abs() < 1e-5, "norm {}", vector.norm());
}

#[test]
fn the_same_text_gives_the_same_vector() {
    assert_eq!(embed(CAT), embed(CAT));
    let batch = embedder().embed(&[KITTEN, KITTEN]).expect("embeds");
    assert_eq!(batch[0], batch[1]);
}

#[test]
fn a_paraphrase_ranks_above_an_unrelated_sentence() {
    let (cat, kitten, revenue) = (embed(CAT), embed(KITTEN), embed(REVENUE));
    let paraphrase = cosine(&cat, &kitten);
    let unrelated = cosine(&cat, &revenue);
    assert!(
        paraphrase > unrelated + 0.4,
        "paraphrase {paraphrase}, unrelated {unrelated}"
    );
    // The values sentence-transformers' all-MiniLM-L6-v2 gives, within what
    // int8 weights change.
    assert!((paraphrase - 0.639).abs() < 0.03, "paraphrase {paraphrase}");
    assert!((unrelated + 0.025).abs() < 0.03, "unrelated {unrelated}");
}

#[test]
fn a_batch_gives_what_one_at_a_time_gives() {
    let long = "Remember to call the plumber about the leaking kitchen tap, \
        and ask whether the boiler service can be moved to next Thursday morning.";
    let texts = [CAT, long, "", REVENUE, KITTEN, "ok", long];
    let batch = embedder().embed(&texts).expect("embeds");
    assert_eq!(batch.len(), texts.len());
    for (text, from_batch) in texts.iter().zip(&batch) {
        let alone = embed(text);
        let largest_difference = alone
            .as_slice()
            .iter()
            .zip(from_batch.as_slice())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0_f32, f32::max);
        assert!(
            largest_difference < 1e-5,
            "{text:?}: differs by {largest_difference}"
        );
    }
    assert!(embedder().embed(&[]).expect("nothing to embed").is_empty());
}

#[test]
fn one_embedder_serves_several_threads() {
    let expected = embed(REVENUE);
    let workers: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| (0..5).map(|_| embed(REVENUE)).collect::<Vec<Embedding>>()))
        .collect();
    for worker in workers {
        for vector in worker.join().expect("no panic") {
            assert_eq!(vector, expected);
        }
    }
}

#[test]
fn texts_beyond_the_token_limit_are_cut_not_refused() {
    let long = "word ".repeat(2_000);
    let vector = embed(&long);
    assert_eq!(vector.dims(), 384);
}

#[test]
fn a_missing_file_is_an_error_naming_it_and_how_to_install_it() {
    let present = config();
    let missing = std::path::PathBuf::from("/nonexistent/steward/model.onnx");
    let cases = [
        EmbedderConfig {
            model: missing.clone(),
            ..present.clone()
        },
        EmbedderConfig {
            tokenizer: missing.clone(),
            ..present.clone()
        },
        EmbedderConfig {
            runtime_library: missing.clone(),
            ..present
        },
    ];
    for config in cases {
        let error = Embedder::load(&config).expect_err("the file is missing");
        assert!(
            matches!(&error, MemoryError::MissingFile { path, .. } if *path == missing),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("/nonexistent/steward/model.onnx"),
            "{message}"
        );
        assert!(message.contains("ops/dev/models.sh"), "{message}");
    }
}

#[test]
fn a_file_that_is_not_a_model_is_an_error_not_a_panic() {
    let not_a_model =
        std::env::temp_dir().join(format!("steward-not-a-model-{}.onnx", std::process::id()));
    std::fs::write(&not_a_model, b"not an ONNX model").expect("writes");
    let config = EmbedderConfig {
        model: not_a_model.clone(),
        ..config()
    };
    let error = Embedder::load(&config).expect_err("not a model");
    std::fs::remove_file(&not_a_model).expect("removes");
    assert!(matches!(error, MemoryError::Model { .. }), "{error:?}");
}

/// Sentences about a few topics, to index and look up by meaning.
const NOTES: [&str; 12] = [
    "Buy oat milk and eggs on the way home.",
    "The dentist appointment moved to Tuesday at 3 pm.",
    "Dana's birthday is on the 14th of March.",
    "Renew the car insurance before the end of the month.",
    "The kitchen tap is leaking again; call the plumber.",
    "Quarterly revenue grew by ten percent.",
    "Book flights to Lisbon for the conference in May.",
    "The cat needs her vaccination booster.",
    "Pay the electricity bill.",
    "Lunch with Sam moved to Thursday.",
    "Try the new ramen place near the station.",
    "Backup the laptop to the external drive.",
];

fn notes_index() -> (VectorIndex, Vec<Embedding>) {
    let vectors = embedder().embed(&NOTES).expect("embeds");
    let mut index = VectorIndex::new(embedder().dims()).expect("index");
    for (key, vector) in (100_u64..).zip(&vectors) {
        index.insert(key, vector).expect("inserts");
    }
    (index, vectors)
}

fn keys(index: &VectorIndex, query: &Embedding, k: usize) -> Vec<u64> {
    index
        .search(query, k)
        .expect("searches")
        .into_iter()
        .map(|neighbour| neighbour.key)
        .collect()
}

#[test]
fn the_index_finds_notes_by_meaning() {
    let (index, vectors) = notes_index();
    assert_eq!(index.len(), NOTES.len());
    assert_eq!(index.dims(), 384);

    let query = embed("When do I see the dentist?");
    let found = index.search(&query, 3).expect("searches");
    assert_eq!(found.len(), 3);
    assert_eq!(found[0].key, 101, "{found:?}");
    assert!(found[0].score > found[1].score && found[1].score >= found[2].score);
    let exact = cosine(&query, &vectors[1]);
    assert!(
        (found[0].score - exact).abs() < 1e-4,
        "{} vs {exact}",
        found[0].score
    );

    let plumbing = keys(&index, &embed("Who fixes a dripping faucet?"), 1);
    assert_eq!(plumbing, [104]);
    // More than it holds: all of them.
    assert_eq!(keys(&index, &query, 100).len(), NOTES.len());
}

#[test]
fn removed_entries_are_never_found_and_keys_can_be_replaced() {
    let (mut index, vectors) = notes_index();
    let query = embed("When do I see the dentist?");
    assert!(index.remove(101).expect("removes"));
    assert!(!index.remove(101).expect("removes"), "already gone");
    assert!(!index.contains(101));
    assert_eq!(index.len(), NOTES.len() - 1);
    assert!(!keys(&index, &query, NOTES.len()).contains(&101));

    // Inserting under an existing key replaces its vector.
    index.insert(102, &vectors[1]).expect("replaces");
    assert_eq!(index.len(), NOTES.len() - 1);
    assert_eq!(keys(&index, &query, 1), [102]);

    assert!(index.holds_removed());
    index.purge().expect("purges");
    assert!(!index.holds_removed());
    assert_eq!(index.len(), NOTES.len() - 1);
    assert_eq!(keys(&index, &query, 1), [102]);
    let mut left = index.keys().expect("lists keys");
    left.sort_unstable();
    let expected: Vec<u64> = (100..100 + NOTES.len() as u64)
        .filter(|key| *key != 101)
        .collect();
    assert_eq!(left, expected);
}

#[test]
fn a_filter_keeps_out_rejected_keys() {
    let (index, _) = notes_index();
    let query = embed("When do I see the dentist?");
    let odd_only = index
        .search_filtered(&query, 5, |key| key % 2 == 1)
        .expect("searches");
    assert_eq!(odd_only.len(), 5);
    assert!(odd_only.iter().all(|n| n.key % 2 == 1), "{odd_only:?}");
    assert_eq!(odd_only[0].key, 101);
    let nothing = index
        .search_filtered(&query, 5, |_| false)
        .expect("searches");
    assert!(nothing.is_empty());
}

#[test]
fn a_saved_index_loads_with_the_same_neighbours() {
    let (mut index, vectors) = notes_index();
    index.remove(107).expect("removes");
    let queries: Vec<Embedding> = ["dentist", "groceries", "travel plans", "money"]
        .iter()
        .map(|q| embed(q))
        .collect();

    let bytes = index.to_bytes().expect("serialises");
    let restored = VectorIndex::from_bytes(&bytes, IndexOptions::default()).expect("loads");
    assert_eq!(restored.len(), index.len());
    assert_eq!(restored.dims(), index.dims());
    assert!(!restored.contains(107));

    let path = std::env::temp_dir().join(format!(
        "steward-memory-index-{}.usearch",
        std::process::id()
    ));
    index.save_to(&path).expect("saves");
    let from_file = VectorIndex::load_from(&path, IndexOptions::default()).expect("loads");
    std::fs::remove_file(&path).expect("removes the file");

    for query in &queries {
        let expected = index.search(query, 5).expect("searches");
        assert_eq!(restored.search(query, 5).expect("searches"), expected);
        assert_eq!(from_file.search(query, 5).expect("searches"), expected);
    }

    // The loaded index keeps working: inserts, removals, growth.
    let mut restored = restored;
    restored.insert(107, &vectors[7]).expect("inserts");
    assert_eq!(keys(&restored, &vectors[7], 1), [107]);
}

#[test]
fn wrong_dimensions_and_garbage_bytes_are_errors() {
    let mut index = VectorIndex::new(384).expect("index");
    let short = Embedding::new(vec![1.0; 3]);
    assert!(matches!(
        index.insert(1, &short),
        Err(MemoryError::Dimensions {
            expected: 384,
            actual: 3
        })
    ));
    assert!(matches!(
        index.search(&short, 1),
        Err(MemoryError::Dimensions { .. })
    ));
    assert!(
        index
            .search(&embed(CAT), 3)
            .expect("empty index")
            .is_empty()
    );
    assert!(VectorIndex::from_bytes(b"not an index", IndexOptions::default()).is_err());
    assert!(matches!(
        VectorIndex::load_from(
            std::path::Path::new("/nonexistent/index"),
            IndexOptions::default()
        ),
        Err(MemoryError::IndexFile { .. })
    ));
}

/// A deterministic stream of numbers in [-0.5, 0.5) (xorshift).
fn numbers(mut seed: u64) -> impl FnMut() -> f32 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f32 / (1_u64 << 53) as f32 - 0.5
    }
}

/// Unit vectors scattered around a few topics, standing for many memories
/// without embedding thousands of sentences. (Uniformly random vectors have
/// no neighbourhoods to find: a graph index needs far wider searches on
/// them, see the memory bench.)
fn topical_unit_vectors(count: usize, dims: usize, seed: u64) -> Vec<Embedding> {
    let mut next = numbers(0x70_91c5);
    let topics: Vec<Vec<f32>> = (0..40)
        .map(|_| (0..dims).map(|_| next()).collect())
        .collect();
    let mut next = numbers(seed);
    (0..count)
        .map(|_| {
            let topic = &topics[((next() + 0.5) * topics.len() as f32) as usize % topics.len()];
            Embedding::normalized(topic.iter().map(|value| value + 0.6 * next()).collect())
        })
        .collect()
}

#[test]
fn thousands_of_vectors_are_found_like_an_exact_search_would_and_erased_for_good() {
    let vectors = topical_unit_vectors(5_000, 384, 0x5eed);
    let mut index = VectorIndex::new(384).expect("index");
    let entries: Vec<(u64, Embedding)> = (0_u64..).zip(vectors.iter().cloned()).collect();
    index.insert_many(&entries).expect("inserts");
    assert_eq!(index.len(), 5_000);
    for key in (0..5_000).step_by(2) {
        index.remove(key).expect("removes");
    }
    assert_eq!(index.len(), 2_500);

    let queries = topical_unit_vectors(50, 384, 0xfeed);
    let mut found = 0;
    for query in &queries {
        let mut exact: Vec<(u64, f32)> = (0_u64..)
            .zip(&vectors)
            .filter(|(key, _)| key % 2 == 1)
            .map(|(key, vector)| (key, cosine(query, vector)))
            .collect();
        exact.sort_by(|a, b| b.1.total_cmp(&a.1));
        let truth: HashSet<u64> = exact.iter().take(10).map(|(key, _)| *key).collect();
        let approximate = keys(&index, query, 10);
        assert!(
            approximate.iter().all(|key| key % 2 == 1),
            "a removed key came back"
        );
        found += approximate.iter().filter(|key| truth.contains(key)).count();
    }
    let recall = found as f64 / (queries.len() * 10) as f64;
    assert!(recall >= 0.95, "recall@10 {recall}");

    // A purge leaves the removed vectors out of the saved bytes, and a
    // loaded index knows whether it still holds some.
    let before = index.to_bytes().expect("serialises");
    let loaded = VectorIndex::from_bytes(&before, IndexOptions::default()).expect("loads");
    assert!(loaded.holds_removed());
    index.purge().expect("purges");
    assert_eq!(index.len(), 2_500);
    let after = index.to_bytes().expect("serialises");
    let loaded = VectorIndex::from_bytes(&after, IndexOptions::default()).expect("loads");
    assert!(!loaded.holds_removed());
    let (before, after) = (before.len(), after.len());
    assert!(
        after < before,
        "{after} bytes after compaction, {before} before"
    );
    assert_eq!(keys(&index, &vectors[1], 1), [1]);
}

#[test]
fn an_index_is_searched_from_several_threads_at_once() {
    let vectors = Arc::new(topical_unit_vectors(2_000, 384, 7));
    let mut index = VectorIndex::with_options(
        384,
        IndexOptions {
            concurrency: 2,
            ..IndexOptions::default()
        },
    )
    .expect("index");
    for (key, vector) in (0_u64..).zip(vectors.iter()) {
        index.insert(key, vector).expect("inserts");
    }
    let index = Arc::new(index);
    // More searching threads than USearch has slots: the rest wait their turn.
    let workers: Vec<_> = (0..6_u64)
        .map(|worker| {
            let (index, vectors) = (Arc::clone(&index), Arc::clone(&vectors));
            std::thread::spawn(move || {
                for key in (worker..2_000).step_by(97) {
                    let found = index.search(&vectors[key as usize], 1).expect("searches");
                    assert_eq!(found[0].key, key);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("no panic");
    }
}
