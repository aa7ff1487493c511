//! Scoring the planner's models on labelled requests (`data/eval.jsonl`):
//! intent accuracy per domain with the confusions behind the misses, slot
//! precision, recall and F1 per slot, and the check that an evaluation set
//! does not repeat its training set.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use steward_projections::memory::Embedder;

use crate::{Domain, Intent, IntentClassifier, PlannerError, Recognizer};

/// One line of the labelled data: a request with its expected intent and
/// slots (each slot's value is a piece of the text).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledRequest {
    /// What the person said.
    pub text: String,
    /// What it asks for.
    pub intent: Intent,
    /// The slots it fills, by name ("date", "person", "device"…).
    #[serde(default)]
    pub slots: BTreeMap<String, String>,
}

/// Reads a JSON Lines file of [`LabelledRequest`]s, naming the line of any
/// that does not parse or whose slot values are not in its text.
pub fn read_labelled(path: &Path) -> Result<Vec<LabelledRequest>, PlannerError> {
    let contents = std::fs::read_to_string(path).map_err(|source| PlannerError::ReadData {
        path: path.to_owned(),
        source,
    })?;
    let bad = |line: usize, message: String| PlannerError::BadData {
        path: path.to_owned(),
        line,
        message,
    };
    let mut requests = Vec::new();
    for (index, line) in contents.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let request: LabelledRequest =
            serde_json::from_str(line).map_err(|e| bad(index + 1, e.to_string()))?;
        if let Some((slot, value)) = request
            .slots
            .iter()
            .find(|(_, value)| !request.text.contains(value.as_str()))
        {
            return Err(bad(
                index + 1,
                format!("slot `{slot}` = {value:?} is not in the text"),
            ));
        }
        requests.push(request);
    }
    Ok(requests)
}

/// Right and total answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Requests whose intent was recognised.
    pub right: usize,
    /// Requests scored.
    pub total: usize,
}

impl Tally {
    /// `right / total`, or `None` for no requests.
    pub fn accuracy(self) -> Option<f64> {
        (self.total > 0).then(|| self.right as f64 / self.total as f64)
    }
}

/// A request the classifier got wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Miss {
    /// The request.
    pub text: String,
    /// What it asks for.
    pub expected: Intent,
    /// What the classifier said.
    pub predicted: Intent,
    /// With this probability.
    pub confidence: f32,
}

/// How a classifier did on a labelled set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntentReport {
    by_domain: BTreeMap<Domain, Tally>,
    misses: Vec<Miss>,
}

impl IntentReport {
    /// Scores `classifier` on `requests`.
    pub fn score(
        classifier: &IntentClassifier,
        requests: &[LabelledRequest],
    ) -> Result<Self, PlannerError> {
        let texts: Vec<&str> = requests.iter().map(|r| r.text.as_str()).collect();
        let predictions = classifier.classify_many(&texts)?;
        let mut report = Self::default();
        for (request, prediction) in requests.iter().zip(predictions) {
            report.record(request, prediction.intent(), prediction.confidence());
        }
        Ok(report)
    }

    fn record(&mut self, request: &LabelledRequest, predicted: Intent, confidence: f32) {
        let tally = self.by_domain.entry(request.intent.domain()).or_default();
        tally.total += 1;
        if predicted == request.intent {
            tally.right += 1;
        } else {
            self.misses.push(Miss {
                text: request.text.clone(),
                expected: request.intent,
                predicted,
                confidence,
            });
        }
    }

    /// The tally of one domain's requests.
    pub fn domain(&self, domain: Domain) -> Tally {
        self.by_domain.get(&domain).copied().unwrap_or_default()
    }

    /// The tally of all requests.
    pub fn overall(&self) -> Tally {
        self.by_domain
            .values()
            .fold(Tally::default(), |sum, tally| Tally {
                right: sum.right + tally.right,
                total: sum.total + tally.total,
            })
    }

    /// The requests it got wrong, in the order scored.
    pub fn misses(&self) -> &[Miss] {
        &self.misses
    }
}

impl fmt::Display for IntentReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<14} {:>7} {:>7} {:>9}",
            "domain", "right", "total", "accuracy"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, tally: Tally| {
            let accuracy = tally
                .accuracy()
                .map_or_else(|| "-".to_owned(), |a| format!("{a:.3}"));
            writeln!(
                f,
                "{name:<14} {:>7} {:>7} {accuracy:>9}",
                tally.right, tally.total
            )
        };
        for domain in Domain::ALL {
            row(f, domain.as_str(), self.domain(domain))?;
        }
        row(f, "overall", self.overall())?;
        if !self.misses.is_empty() {
            writeln!(f, "\nmisses (expected -> predicted, confidence):")?;
            for miss in &self.misses {
                writeln!(
                    f,
                    "  {} -> {} ({:.2}): {}",
                    miss.expected, miss.predicted, miss.confidence, miss.text
                )?;
            }
        }
        Ok(())
    }
}

/// Slot spans found, expected and matched (same slot, same text).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotTally {
    /// Spans found that were expected.
    pub matched: usize,
    /// Spans found.
    pub found: usize,
    /// Spans expected.
    pub expected: usize,
}

impl SlotTally {
    /// `matched / found`, or `None` when nothing was found.
    pub fn precision(self) -> Option<f64> {
        (self.found > 0).then(|| self.matched as f64 / self.found as f64)
    }

    /// `matched / expected`, or `None` when nothing was expected.
    pub fn recall(self) -> Option<f64> {
        (self.expected > 0).then(|| self.matched as f64 / self.expected as f64)
    }

    /// The harmonic mean of precision and recall (0 when either is 0 or
    /// missing).
    pub fn f1(self) -> f64 {
        let (p, r) = (
            self.precision().unwrap_or(0.0),
            self.recall().unwrap_or(0.0),
        );
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    fn add(&mut self, other: SlotTally) {
        self.matched += other.matched;
        self.found += other.found;
        self.expected += other.expected;
    }
}

/// A request whose slots were not exactly the expected ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotMiss {
    /// The request.
    pub text: String,
    /// The slots it fills.
    pub expected: BTreeMap<String, String>,
    /// The slots found.
    pub found: BTreeMap<String, String>,
}

/// How the recognizer found slots on a labelled set, with the intent it
/// recognised itself (as at run time, a wrong intent can cost slots).
/// Out-of-scope requests expect no slots: nothing is planned from them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlotReport {
    by_slot: BTreeMap<String, SlotTally>,
    misses: Vec<SlotMiss>,
}

impl SlotReport {
    /// Scores `recognizer` on `requests`.
    pub fn score(
        recognizer: &Recognizer,
        requests: &[LabelledRequest],
    ) -> Result<Self, PlannerError> {
        let mut report = Self::default();
        for request in requests {
            let recognition = recognizer.recognize(&request.text)?;
            let found = recognition
                .slots
                .iter()
                .map(|slot| (slot.name.clone(), slot.text.clone()))
                .collect();
            report.record(request, found);
        }
        Ok(report)
    }

    fn record(&mut self, request: &LabelledRequest, found: BTreeMap<String, String>) {
        let expected = if request.intent == Intent::OutOfScope {
            BTreeMap::new()
        } else {
            request.slots.clone()
        };
        for (name, text) in &found {
            let tally = self.by_slot.entry(name.clone()).or_default();
            tally.found += 1;
            tally.matched += usize::from(expected.get(name) == Some(text));
        }
        for name in expected.keys() {
            self.by_slot.entry(name.clone()).or_default().expected += 1;
        }
        if found != expected {
            self.misses.push(SlotMiss {
                text: request.text.clone(),
                expected,
                found,
            });
        }
    }

    /// The tally of one slot.
    pub fn slot(&self, name: &str) -> SlotTally {
        self.by_slot.get(name).copied().unwrap_or_default()
    }

    /// The tally over every slot (micro-averaged).
    pub fn overall(&self) -> SlotTally {
        self.by_slot
            .values()
            .fold(SlotTally::default(), |mut sum, tally| {
                sum.add(*tally);
                sum
            })
    }

    /// The requests whose slots were not exactly right, in the order scored.
    pub fn misses(&self) -> &[SlotMiss] {
        &self.misses
    }
}

impl fmt::Display for SlotReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<14} {:>8} {:>6} {:>9} {:>10} {:>7} {:>6}",
            "slot", "matched", "found", "expected", "precision", "recall", "F1"
        )?;
        let ratio =
            |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
        let row = |f: &mut fmt::Formatter<'_>, name: &str, tally: SlotTally| {
            writeln!(
                f,
                "{name:<14} {:>8} {:>6} {:>9} {:>10} {:>7} {:>6.3}",
                tally.matched,
                tally.found,
                tally.expected,
                ratio(tally.precision()),
                ratio(tally.recall()),
                tally.f1()
            )
        };
        for (name, tally) in &self.by_slot {
            row(f, name, *tally)?;
        }
        row(f, "overall", self.overall())?;
        if !self.misses.is_empty() {
            writeln!(f, "\nslot misses (expected / found):")?;
            for miss in &self.misses {
                writeln!(f, "  {:?} / {:?}: {}", miss.expected, miss.found, miss.text)?;
            }
        }
        Ok(())
    }
}

/// An evaluation request too close to a training one to measure anything.
#[derive(Debug, Clone, PartialEq)]
pub struct NearDuplicate {
    /// The evaluation request.
    pub evaluation: String,
    /// The closest training request.
    pub training: String,
    /// Their cosine similarity.
    pub cosine: f32,
}

/// For each evaluation request, its closest training request under
/// `embedder`; the result is sorted closest first.
pub fn closest_training(
    embedder: &Embedder,
    evaluation: &[LabelledRequest],
    training: &[LabelledRequest],
) -> Result<Vec<NearDuplicate>, PlannerError> {
    let embed = |requests: &[LabelledRequest]| {
        let texts: Vec<&str> = requests.iter().map(|r| r.text.as_str()).collect();
        embedder.embed(&texts)
    };
    let evaluation_vectors = embed(evaluation)?;
    let training_vectors = embed(training)?;
    let mut closest = Vec::with_capacity(evaluation.len());
    for (request, vector) in evaluation.iter().zip(&evaluation_vectors) {
        let mut best: Option<(usize, f32)> = None;
        for (index, other) in training_vectors.iter().enumerate() {
            // Unit vectors: the dot product is the cosine.
            let cosine = vector.dot(other)?;
            if best.is_none_or(|(_, b)| cosine > b) {
                best = Some((index, cosine));
            }
        }
        if let Some((index, cosine)) = best {
            closest.push(NearDuplicate {
                evaluation: request.text.clone(),
                training: training[index].text.clone(),
                cosine,
            });
        }
    }
    closest.sort_by(|a, b| b.cosine.total_cmp(&a.cosine));
    Ok(closest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labelled(text: &str, intent: Intent) -> LabelledRequest {
        LabelledRequest {
            text: text.to_owned(),
            intent,
            slots: BTreeMap::new(),
        }
    }

    #[test]
    fn the_report_counts_per_domain_and_keeps_the_misses() {
        let mut report = IntentReport::default();
        report.record(
            &labelled("add milk", Intent::AddToList),
            Intent::AddToList,
            0.9,
        );
        report.record(
            &labelled("we need eggs", Intent::AddToList),
            Intent::ShowList,
            0.4,
        );
        report.record(
            &labelled("lights off", Intent::SetDevice),
            Intent::SetDevice,
            0.8,
        );

        assert_eq!(
            report.domain(Domain::Groceries),
            Tally { right: 1, total: 2 }
        );
        assert_eq!(report.domain(Domain::Home).accuracy(), Some(1.0));
        assert_eq!(report.domain(Domain::Travel).accuracy(), None);
        assert_eq!(report.overall(), Tally { right: 2, total: 3 });
        assert_eq!(report.misses().len(), 1);
        assert_eq!(report.misses()[0].predicted, Intent::ShowList);
        let table = report.to_string();
        assert!(table.contains("groceries"), "{table}");
        assert!(table.contains("0.500"), "{table}");
        assert!(table.contains("we need eggs"), "{table}");
    }

    #[test]
    fn slots_score_exact_spans_per_slot() {
        let mut report = SlotReport::default();
        let mut request = labelled("add oat milk tomorrow", Intent::AddToList);
        request.slots = BTreeMap::from([
            ("item".to_owned(), "oat milk".to_owned()),
            ("date".to_owned(), "tomorrow".to_owned()),
        ]);
        report.record(
            &request,
            BTreeMap::from([
                ("item".to_owned(), "milk".to_owned()),
                ("date".to_owned(), "tomorrow".to_owned()),
            ]),
        );
        let mut out_of_scope = labelled("capital of Peru", Intent::OutOfScope);
        out_of_scope
            .slots
            .insert("country".to_owned(), "Peru".to_owned());
        report.record(&out_of_scope, BTreeMap::new());

        assert_eq!(
            report.slot("item"),
            SlotTally {
                matched: 0,
                found: 1,
                expected: 1
            }
        );
        assert_eq!(report.slot("date").f1(), 1.0);
        assert_eq!(report.slot("country"), SlotTally::default());
        let overall = report.overall();
        assert_eq!(
            (overall.matched, overall.found, overall.expected),
            (1, 2, 2)
        );
        assert_eq!(overall.f1(), 0.5);
        assert_eq!(report.misses().len(), 1);
        assert!(report.to_string().contains("oat milk"));
    }

    #[test]
    fn a_slot_missing_from_its_text_is_refused_with_its_line() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("bad.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"intent": "groceries.add_to_list", "slots": {"item": "milk"}, "text": "add milk"}"#,
                "\n",
                r#"{"intent": "groceries.add_to_list", "slots": {"item": "eggs"}, "text": "add oat milk"}"#,
                "\n"
            ),
        )
        .expect("written");
        let error = read_labelled(&path).expect_err("eggs is not in the text");
        let message = error.to_string();
        assert!(message.contains("bad.jsonl:2"), "{message}");
        assert!(message.contains("eggs"), "{message}");

        std::fs::write(&path, r#"{"intent": "groceries.buy", "text": "buy"}"#).expect("written");
        let message = read_labelled(&path)
            .expect_err("unknown intent")
            .to_string();
        assert!(message.contains("groceries.buy"), "{message}");
    }
}
