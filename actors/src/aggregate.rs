//! The [`Aggregate`] contract: state, commands, events and the two pure
//! functions between them.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use steward_events::domain::EventSet;

/// One consistency boundary of the domain, kept in one stream.
///
/// The state is rebuilt by folding the stream's events through [`apply`]
/// from [`Default`]; it is also what a snapshot stores, so it serialises,
/// and [`STATE_VERSION`] goes up whenever its shape changes (an older
/// snapshot is then ignored and the stream replayed).
///
/// [`apply`]: Aggregate::apply
/// [`STATE_VERSION`]: Aggregate::STATE_VERSION
pub trait Aggregate:
    Default + Clone + std::fmt::Debug + Serialize + DeserializeOwned + Send + Sync + Unpin + 'static
{
    /// The stream category (`pantry` for `pantry-home`).
    const CATEGORY: &'static str;
    /// The domain it belongs to (`groceries`).
    const DOMAIN: &'static str;
    /// The shape version of the state, for snapshots.
    const STATE_VERSION: u32;

    /// What callers may ask of it: an enum whose variant names are the
    /// command types, each carrying its `data`.
    type Command: DeserializeOwned + JsonSchema + Clone + std::fmt::Debug + Send + 'static;
    /// What it records.
    type Event: EventSet;

    /// Decides what happens, or refuses with the rule the command breaks.
    /// An empty list means the command changes nothing (it already holds).
    fn decide(
        &self,
        command: Self::Command,
        context: &Context,
    ) -> Result<Vec<Self::Event>, Rejection>;

    /// Folds one event into the state. Never fails: the event happened.
    fn apply(&mut self, event: &Self::Event);
}

/// What a decision may know besides the state and the command.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The aggregate's id: the part of its stream id after the category.
    pub id: String,
    /// The time of the decision, from the host's clock.
    pub now: DateTime<Utc>,
}

impl Context {
    /// A context for the aggregate `id` at `now`.
    pub fn new(id: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self { id: id.into(), now }
    }
}

/// A command the domain refuses: which rule it breaks, and why in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{rule}: {message}")]
pub struct Rejection {
    /// The rule, as a stable snake_case name (`not_on_list`).
    pub rule: &'static str,
    /// What was wrong, for a person.
    pub message: String,
}

impl Rejection {
    /// A rejection under `rule`.
    pub fn new(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            rule,
            message: message.into(),
        }
    }
}

/// Refuses with `rule` unless `condition` holds.
pub fn ensure(
    condition: bool,
    rule: &'static str,
    message: impl FnOnce() -> String,
) -> Result<(), Rejection> {
    if condition {
        Ok(())
    } else {
        Err(Rejection::new(rule, message()))
    }
}

/// `value` trimmed: a short text of at most 200 characters, refused under
/// `rule` when blank (asking for the `what`) and under `too_long` when
/// longer.
pub fn short_text(value: &str, rule: &'static str, what: &str) -> Result<String, Rejection> {
    let value = value.trim();
    ensure(!value.is_empty(), rule, || format!("name the {what}"))?;
    ensure(value.chars().count() <= 200, "too_long", || {
        format!("a {what} has at most 200 characters")
    })?;
    Ok(value.to_owned())
}

/// Replays events from the default state.
pub fn replay<'a, A: Aggregate>(events: impl IntoIterator<Item = &'a A::Event>) -> A {
    let mut state = A::default();
    for event in events {
        state.apply(event);
    }
    state
}

/// Whether `name` is a non-empty run of lower-case ASCII letters, digits
/// and `_`: the shape of attribute names, domains and actions.
pub fn is_snake_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
