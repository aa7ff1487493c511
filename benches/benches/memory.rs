//! The vector memory benchmark: the real embedding model's latency and
//! throughput, and vector search latency and recall@10 at 100,000 memories,
//! each beside its baseline in the same run.
//!
//! ```sh
//! source ops/dev/models.sh && steward_ensure_models
//! cargo bench -p steward-benches --bench memory
//! ```
//!
//! Baselines: for embedding, one sentence at a time (what batching gains)
//! and one thread (what a second one gains); for search, an exact scan of
//! the same vectors, which also gives the true neighbours recall@10 is
//! measured against (a result scoring as high as the tenth true neighbour
//! counts as found, so ties do not count as misses).
//!
//! The memories are generated sentences ("Dana asked me to renew the
//! passport before Friday.") embedded by the real model, so the index sees
//! the structure real embeddings have. Uniformly random unit vectors, which
//! have no neighbourhoods at all and are the worst case for a graph index,
//! are measured too.
//!
//! `STEWARD_BENCH_SCALE` (default 1) scales every count (100,000 memories at
//! 1); `STEWARD_BENCH_UNIFORM=0` skips the random vectors.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use steward_benches::{Row, median, percentile, print_table, thousands};
use steward_projections::memory::{
    Embedder, EmbedderConfig, Embedding, IndexOptions, Neighbour, VectorIndex,
};

/// Neighbours asked for in every search.
const K: usize = 10;
/// Texts per `embed` call when measuring throughput and embedding the corpus.
const CALL: usize = 256;

fn scaled(n: usize) -> usize {
    steward_benches::scaled(n, 200)
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

// --- generated sentences ---------------------------------------------------

const WHO: [&str; 16] = [
    "Dana",
    "Sam",
    "my sister",
    "my brother",
    "the landlord",
    "Alex from work",
    "Grandma",
    "the neighbours",
    "Priya",
    "the school office",
    "my manager",
    "Jonas",
    "the dentist's receptionist",
    "Mum",
    "Dad",
    "our accountant",
];
const ASKS: [&str; 12] = [
    "asked me to",
    "reminded me to",
    "wants me to",
    "needs me to",
    "suggested that I",
    "agreed that we should",
    "told me not to forget to",
    "offered to help me",
    "expects me to",
    "hopes we can",
    "said I should",
    "is waiting for me to",
];
const TASKS: [&str; 40] = [
    "renew the passport",
    "pick up the dry cleaning",
    "book a table for dinner",
    "fix the bike's brakes",
    "pay the electricity bill",
    "call the plumber about the leak",
    "send the signed contract",
    "buy a birthday present",
    "water the plants",
    "return the library books",
    "schedule the car service",
    "file the tax return",
    "clean out the garage",
    "order new running shoes",
    "update the insurance policy",
    "print the boarding passes",
    "cancel the gym membership",
    "reply to the wedding invitation",
    "back up the laptop",
    "change the smoke alarm batteries",
    "pick the kids up from football",
    "book the vet for the cat",
    "transfer the rent",
    "bake a cake for the party",
    "repaint the bedroom door",
    "collect the parcel from the post office",
    "check the train times to Leeds",
    "write the quarterly report",
    "prepare slides for the meeting",
    "buy milk, eggs and bread",
    "get the boiler serviced",
    "sign the school permission form",
    "move the savings to the new account",
    "test the new recipe",
    "look for a cheaper phone plan",
    "arrange the team lunch",
    "sort the holiday photos",
    "mend the garden fence",
    "book flights to Lisbon",
    "recycle the old batteries",
];
const WHEN: [&str; 24] = [
    "today",
    "tonight",
    "tomorrow morning",
    "before Friday",
    "next week",
    "on Monday",
    "on Tuesday afternoon",
    "by Wednesday",
    "on Thursday",
    "this weekend",
    "by the end of the month",
    "after lunch",
    "before the holidays",
    "first thing in the morning",
    "in the spring",
    "before the guests arrive",
    "after the meeting",
    "on the 14th",
    "before it gets dark",
    "when the shop opens",
    "some time next month",
    "before we leave",
    "at the weekend market",
    "as soon as possible",
];
const TAIL: [&str; 5] = [
    ".",
    "; it is urgent.",
    " if there is time.",
    ", as we discussed.",
    " for the second time.",
];

/// The `i`-th generated sentence. Consecutive `i` are scattered over all
/// 921,600 combinations (a multiplicative permutation), so any range mixes
/// people, tasks and times.
fn sentence(i: usize) -> String {
    let total = WHO.len() * ASKS.len() * TASKS.len() * WHEN.len() * TAIL.len();
    // 7,919 is prime and does not divide 921,600, so this is a bijection.
    let mut n = (i % total) * 7_919 % total;
    let mut pick = |len: usize| {
        let digit = n % len;
        n /= len;
        digit
    };
    let (who, asks, task, when, tail) = (
        pick(WHO.len()),
        pick(ASKS.len()),
        pick(TASKS.len()),
        pick(WHEN.len()),
        pick(TAIL.len()),
    );
    format!(
        "{} {} {} {}{}",
        WHO[who], ASKS[asks], TASKS[task], WHEN[when], TAIL[tail]
    )
}

fn sentences(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(sentence).collect()
}

fn embed_all(embedder: &Embedder, texts: &[String]) -> anyhow::Result<Vec<Embedding>> {
    let mut vectors = Vec::with_capacity(texts.len());
    for call in texts.chunks(CALL) {
        let call: Vec<&str> = call.iter().map(String::as_str).collect();
        vectors.extend(embedder.embed(&call)?);
    }
    Ok(vectors)
}

// --- embedding ---------------------------------------------------------------

fn latencies(embedder: &Embedder, texts: &[String]) -> anyhow::Result<Vec<Duration>> {
    let mut taken = Vec::with_capacity(texts.len());
    for text in texts {
        let started = Instant::now();
        embedder.embed_one(text)?;
        taken.push(started.elapsed());
    }
    taken.sort();
    Ok(taken)
}

fn throughput(embedder: &Embedder, texts: &[String]) -> anyhow::Result<f64> {
    let started = Instant::now();
    embed_all(embedder, texts)?;
    Ok(texts.len() as f64 / started.elapsed().as_secs_f64())
}

fn embedding_rows(one: &Embedder, two: &Embedder, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    const ROUNDS: usize = 3;
    let single = sentences(1_000_000..1_000_000 + scaled(300));
    let batch = sentences(2_000_000..2_000_000 + scaled(2_000));
    let (mut one_latency, mut two_latency) = (Vec::new(), Vec::new());
    let (mut one_rate, mut two_rate) = (Vec::new(), Vec::new());
    // Alternating, so that drift on a shared machine hits both alike.
    for round in 0..ROUNDS {
        eprintln!("embedding round {}/{ROUNDS}", round + 1);
        one_latency.extend(latencies(one, &single)?);
        two_latency.extend(latencies(two, &single)?);
        one_rate.push(throughput(one, &batch)?);
        two_rate.push(throughput(two, &batch)?);
    }
    one_latency.sort();
    two_latency.sort();
    let (p50, p99) = (
        percentile(&one_latency, 50.0),
        percentile(&one_latency, 99.0),
    );
    let (two_p50, two_p99) = (
        percentile(&two_latency, 50.0),
        percentile(&two_latency, 99.0),
    );
    rows.push(Row {
        measure: "one sentence embedded (tokenising included), p50 / p99".into(),
        steward: format!("1 thread: {} / {}", ms(p50), ms(p99)),
        baseline: format!("2 threads: {} / {}", ms(two_p50), ms(two_p99)),
        ratio: format!(
            "{:.2}× the 2-thread p50",
            p50.as_secs_f64() / two_p50.as_secs_f64()
        ),
        target: format!("p99 < 50 ms: {}", met(p99 < Duration::from_millis(50))),
    });
    let one_at_a_time =
        one_latency.len() as f64 / one_latency.iter().sum::<Duration>().as_secs_f64();
    let (one_rate, two_rate) = (median(one_rate), median(two_rate));
    rows.push(Row {
        measure: format!("sentences/s embedded in calls of {CALL}, 1 thread"),
        steward: thousands(one_rate),
        baseline: format!("one at a time {}", thousands(one_at_a_time)),
        ratio: format!("{:.2}×", one_rate / one_at_a_time),
        target: "—".into(),
    });
    rows.push(Row {
        measure: format!("sentences/s embedded in calls of {CALL}, 2 threads"),
        steward: thousands(two_rate),
        baseline: format!("1 thread {}", thousands(one_rate)),
        ratio: format!("{:.2}×", two_rate / one_rate),
        target: "—".into(),
    });
    Ok(())
}

// --- exact search --------------------------------------------------------------

/// The vectors in one flat array, scanned in full for every query.
struct Exact {
    dims: usize,
    values: Vec<f32>,
}

impl Exact {
    fn new(vectors: &[Embedding]) -> Self {
        let dims = vectors.first().map_or(0, Embedding::dims);
        let values = vectors.iter().flat_map(|v| v.as_slice().to_vec()).collect();
        Self { dims, values }
    }

    /// The `k` best keys (positions) among those `keep` accepts, best first.
    fn search(&self, query: &Embedding, k: usize, keep: impl Fn(u64) -> bool) -> Vec<Neighbour> {
        let mut best: Vec<Neighbour> = Vec::with_capacity(k + 1);
        for (key, vector) in (0_u64..).zip(self.values.chunks_exact(self.dims)) {
            if !keep(key) {
                continue;
            }
            let score = dot(query.as_slice(), vector);
            if best.len() == k && best.last().is_some_and(|worst| worst.score >= score) {
                continue;
            }
            let at = best.partition_point(|n| n.score >= score);
            best.insert(at, Neighbour { key, score });
            best.truncate(k);
        }
        best
    }
}

/// A dot product the compiler vectorises (eight independent sums).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0_f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    let tail: f32 = a
        .chunks_exact(8)
        .remainder()
        .iter()
        .zip(b.chunks_exact(8).remainder())
        .map(|(x, y)| x * y)
        .sum();
    lanes.iter().sum::<f32>() + tail
}

/// Found neighbours that are true ones (or tie with the last true one).
fn hits(found: &[Neighbour], truth: &[Neighbour]) -> usize {
    let floor = truth.last().map_or(f32::NEG_INFINITY, |n| n.score) - 1e-5;
    found
        .iter()
        .filter(|n| truth.iter().any(|t| t.key == n.key) || n.score >= floor)
        .count()
}

// --- the index -----------------------------------------------------------------

struct Searched {
    p50: Duration,
    p99: Duration,
    recall: f64,
}

fn search_all(
    index: &VectorIndex,
    queries: &[Embedding],
    truth: &[Vec<Neighbour>],
    keep: Option<&dyn Fn(u64) -> bool>,
) -> anyhow::Result<Searched> {
    let mut taken = Vec::with_capacity(queries.len());
    let mut found = 0;
    for (query, truth) in queries.iter().zip(truth) {
        let started = Instant::now();
        let neighbours = match keep {
            None => index.search(query, K)?,
            Some(keep) => index.search_filtered(query, K, keep)?,
        };
        taken.push(started.elapsed());
        found += hits(&neighbours, truth);
    }
    taken.sort();
    Ok(Searched {
        p50: percentile(&taken, 50.0),
        p99: percentile(&taken, 99.0),
        recall: found as f64 / (truth.iter().map(Vec::len).sum::<usize>().max(1)) as f64,
    })
}

fn exact_all(
    exact: &Exact,
    queries: &[Embedding],
    keep: impl Fn(u64) -> bool + Copy,
) -> (Vec<Vec<Neighbour>>, Duration, Duration) {
    let mut taken = Vec::with_capacity(queries.len());
    let truth = queries
        .iter()
        .map(|query| {
            let started = Instant::now();
            let best = exact.search(query, K, keep);
            taken.push(started.elapsed());
            best
        })
        .collect();
    taken.sort();
    (truth, percentile(&taken, 50.0), percentile(&taken, 99.0))
}

fn build(vectors: &[Embedding]) -> anyhow::Result<(VectorIndex, Duration)> {
    let entries: Vec<(u64, Embedding)> = (0_u64..).zip(vectors.iter().cloned()).collect();
    let dims = vectors.first().map_or(0, Embedding::dims);
    let started = Instant::now();
    let mut index = VectorIndex::new(dims)?;
    index.insert_many(&entries)?;
    Ok((index, started.elapsed()))
}

/// Search rows for one set of vectors: latency and recall at the default
/// settings, the expansion trade-off, and a filtered search.
fn index_rows(
    label: &str,
    vectors: &[Embedding],
    queries: &[Embedding],
    expansions: &[usize],
    worst_case: bool,
    rows: &mut Vec<Row>,
) -> anyhow::Result<VectorIndex> {
    // Targets are for memories; the worst case is shown for information.
    let target = |text: String| {
        if worst_case {
            "— (worst case)".to_owned()
        } else {
            text
        }
    };
    let count = thousands(vectors.len() as f64);
    eprintln!("{label}: building the index of {count}");
    let (index, built) = build(vectors)?;
    eprintln!("{label}: exact searches");
    let exact = Exact::new(vectors);
    let (truth, exact_p50, exact_p99) = exact_all(&exact, queries, |_| true);
    let searched = search_all(&index, queries, &truth, None)?;
    let defaults = IndexOptions::default();

    rows.push(Row {
        measure: format!("{label}: index built from {count} (insert_many)"),
        steward: format!("{:.1} s", built.as_secs_f64()),
        baseline: "—".into(),
        ratio: format!(
            "{} inserts/s",
            thousands(vectors.len() as f64 / built.as_secs_f64())
        ),
        target: "—".into(),
    });
    rows.push(Row {
        measure: format!(
            "{label}: search k={K} at {count}, p50 / p99 (ef {})",
            defaults.expansion_search
        ),
        steward: format!("{} / {}", ms(searched.p50), ms(searched.p99)),
        baseline: format!("exact scan {} / {}", ms(exact_p50), ms(exact_p99)),
        ratio: format!(
            "{:.0}× faster at p99",
            exact_p99.as_secs_f64() / searched.p99.as_secs_f64()
        ),
        target: target(format!(
            "p99 < 10 ms: {}",
            met(searched.p99 < Duration::from_millis(10))
        )),
    });
    rows.push(Row {
        measure: format!(
            "{label}: recall@{K} at {count} (ef {})",
            defaults.expansion_search
        ),
        steward: format!("{:.3}", searched.recall),
        baseline: "exact scan 1.000".into(),
        ratio: format!("{:.3}", searched.recall),
        target: target(format!("≥ 0.95: {}", met(searched.recall >= 0.95))),
    });

    let bytes = index.to_bytes()?;
    let mut trade_off = Vec::new();
    for &expansion_search in expansions {
        let options = IndexOptions {
            expansion_search,
            ..defaults
        };
        let reloaded = VectorIndex::from_bytes(&bytes, options)?;
        let searched = search_all(&reloaded, queries, &truth, None)?;
        trade_off.push(format!(
            "ef {expansion_search}: {:.3} / {}",
            searched.recall,
            ms(searched.p99)
        ));
    }
    rows.push(Row {
        measure: format!("{label}: recall@{K} / p99 by expansion_search"),
        steward: trade_off.join(" · "),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "—".into(),
    });

    let keep_half = |key: u64| key.is_multiple_of(2);
    let (filtered_truth, filtered_p50, filtered_p99) = exact_all(&exact, queries, keep_half);
    let filtered = search_all(&index, queries, &filtered_truth, Some(&keep_half))?;
    rows.push(Row {
        measure: format!("{label}: filtered search (half the keys pass), p50 / p99, recall@{K}"),
        steward: format!(
            "{} / {}, {:.3}",
            ms(filtered.p50),
            ms(filtered.p99),
            filtered.recall
        ),
        baseline: format!("exact scan {} / {}", ms(filtered_p50), ms(filtered_p99)),
        ratio: format!(
            "{:.0}× faster at p99",
            filtered_p99.as_secs_f64() / filtered.p99.as_secs_f64()
        ),
        target: target(format!(
            "p99 < 10 ms, ≥ 0.95: {}",
            met(filtered.p99 < Duration::from_millis(10) && filtered.recall >= 0.95)
        )),
    });
    Ok(index)
}

/// Saving, loading, and erasing 1% of the entries then purging them.
fn storage_rows(
    index: &mut VectorIndex,
    queries: &[Embedding],
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let count = thousands(index.len() as f64);
    let started = Instant::now();
    let bytes = index.to_bytes()?;
    let saved = started.elapsed();
    let started = Instant::now();
    let loaded = VectorIndex::from_bytes(&bytes, IndexOptions::default())?;
    let loaded_in = started.elapsed();
    anyhow::ensure!(loaded.len() == index.len(), "the loaded index lost entries");
    drop(loaded);
    rows.push(Row {
        measure: format!("index of {count} to bytes / from bytes"),
        steward: format!("{} / {}", ms(saved), ms(loaded_in)),
        baseline: format!("{:.0} MB", bytes.len() as f64 / 1e6),
        ratio: "—".into(),
        target: "—".into(),
    });

    let erased: Vec<u64> = (0..index.len() as u64).step_by(100).collect();
    let started = Instant::now();
    for key in &erased {
        index.remove(*key)?;
    }
    let removing = started.elapsed() / erased.len().max(1) as u32;
    for query in queries {
        let found = index.search(query, K)?;
        anyhow::ensure!(
            found.iter().all(|n| n.key % 100 != 0),
            "an erased entry was found"
        );
    }
    let started = Instant::now();
    index.purge()?;
    let purged = started.elapsed();
    rows.push(Row {
        measure: format!(
            "erase {} of {count}: remove each, then purge",
            thousands(erased.len() as f64)
        ),
        steward: format!(
            "{:.0} µs each, purge {:.1} s",
            removing.as_secs_f64() * 1e6,
            purged.as_secs_f64()
        ),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "never found after removal: met".into(),
    });
    Ok(())
}

/// Uniformly random unit vectors (xorshift), the worst case for a graph index.
fn uniform_unit_vectors(count: usize, dims: usize, mut seed: u64) -> Vec<Embedding> {
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f32 / (1_u64 << 53) as f32 - 0.5
    };
    (0..count)
        .map(|_| Embedding::normalized((0..dims).map(|_| next()).collect()))
        .collect()
}

fn main() -> anyhow::Result<()> {
    let memories = scaled(100_000);
    let queries_count = scaled(1_000).min(1_000);
    let config = EmbedderConfig::from_env()
        .context("the bench embeds with the real model: run `source ops/dev/models.sh && steward_ensure_models` first")?;
    let mut rows = Vec::new();

    let started = Instant::now();
    let one = Embedder::load(&config.clone().with_threads(1))?;
    let loaded = started.elapsed();
    let two = Embedder::load(&config.with_threads(2))?;
    rows.push(Row {
        measure: format!("model loaded ({}, {} dims)", one.model_id(), one.dims()),
        steward: format!("{:.0} ms", loaded.as_secs_f64() * 1e3),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "—".into(),
    });
    embedding_rows(&one, &two, &mut rows)?;

    eprintln!("embedding {} memories", thousands(memories as f64));
    let started = Instant::now();
    let corpus = embed_all(&two, &sentences(0..memories))?;
    let embedded = started.elapsed();
    let queries = embed_all(&two, &sentences(3_000_000..3_000_000 + queries_count))?;
    rows.push(Row {
        measure: format!(
            "embedding {} generated memories (a full rebuild), 2 threads",
            thousands(memories as f64)
        ),
        steward: format!("{:.0} s", embedded.as_secs_f64()),
        baseline: "—".into(),
        ratio: format!(
            "{} sentences/s",
            thousands(memories as f64 / embedded.as_secs_f64())
        ),
        target: "—".into(),
    });
    drop((one, two));

    let mut index = index_rows(
        "sentences",
        &corpus,
        &queries,
        &[16, 32, 64, 128],
        false,
        &mut rows,
    )?;
    storage_rows(&mut index, &queries, &mut rows)?;
    drop(index);
    drop(corpus);

    if std::env::var("STEWARD_BENCH_UNIFORM").as_deref() != Ok("0") {
        let dims = queries.first().map_or(384, Embedding::dims);
        let vectors = uniform_unit_vectors(memories, dims, 0x5eed);
        let random_queries = uniform_unit_vectors(queries_count.min(300), dims, 0xfeed);
        index_rows(
            "random",
            &vectors,
            &random_queries,
            &[128, 256, 512],
            true,
            &mut rows,
        )?;
    }

    print_table(
        &format!(
            "Vector memory: all-MiniLM-L6-v2 int8 on ONNX Runtime, USearch HNSW ({} queries)",
            thousands(queries_count as f64)
        ),
        &rows,
    );
    Ok(())
}
