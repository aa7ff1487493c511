//! Given events / when command / then events (or a rejection).
//!
//! ```
//! use steward_actors::groceries::{ShoppingList, ShoppingListCommand};
//! use steward_actors::testing::given;
//!
//! given::<ShoppingList>([])
//!     .when(ShoppingListCommand::CheckOff { item: "milk".into() })
//!     .then_rejected("not_on_list");
//! ```
//!
//! Every event a scenario decides also goes through the store's encoding and
//! back, whole and with its personal part erased, so a test of a decision is
//! a test of the event's serde shape as well.

use chrono::{DateTime, TimeZone as _, Utc};
use steward_events::domain::EventSet;
use steward_events::{Personal, Position, RecordedEvent, StreamId};

use crate::aggregate::{Aggregate, Context, Rejection};

/// The instant scenarios run at unless told otherwise: Monday
/// 2026-03-02 09:00 UTC.
pub fn default_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .expect("a valid instant")
}

/// A scenario: the events already in the stream.
#[derive(Debug)]
pub struct Scenario<A: Aggregate> {
    state: A,
    given: Vec<A::Event>,
    context: Context,
}

/// Starts a scenario from the events already in the stream.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Scenario<A> {
    let given: Vec<A::Event> = events.into_iter().collect();
    let mut state = A::default();
    for event in &given {
        state.apply(event);
    }
    Scenario {
        state,
        given,
        context: Context::new("test", default_now()),
    }
}

impl<A: Aggregate> Scenario<A> {
    /// Decides at `now` instead of [`default_now`].
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.context.now = now;
        self
    }

    /// The state the given events lead to.
    pub fn state(&self) -> &A {
        &self.state
    }

    /// Runs the command.
    pub fn when(self, command: A::Command) -> Outcome<A> {
        let decided = self.state.decide(command, &self.context);
        Outcome {
            state: self.state,
            given: self.given,
            decided,
        }
    }
}

/// What a scenario's command decided.
#[derive(Debug)]
#[must_use = "an outcome asserts nothing until `then…` is called"]
pub struct Outcome<A: Aggregate> {
    state: A,
    given: Vec<A::Event>,
    decided: Result<Vec<A::Event>, Rejection>,
}

impl<A: Aggregate> Outcome<A> {
    /// Asserts the command decided exactly `expected`, and returns the state
    /// after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) -> A {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        let events = match self.decided {
            Ok(events) => events,
            Err(rejection) => {
                panic!("expected {expected:#?}, the command was rejected: {rejection}")
            }
        };
        assert_eq!(events, expected, "the command decided other events");
        let mut state = self.state;
        for (offset, event) in events.iter().enumerate() {
            let version = (self.given.len() + offset) as u64;
            assert_round_trips::<A>(event, version);
            state.apply(event);
        }
        state
    }

    /// Asserts the command decided events that satisfy `check`, and returns
    /// the state after them (for decisions with generated values).
    #[track_caller]
    pub fn then_matches(self, check: impl FnOnce(&[A::Event])) -> A {
        let events = match self.decided {
            Ok(events) => events,
            Err(rejection) => panic!("the command was rejected: {rejection}"),
        };
        check(&events);
        let mut state = self.state;
        for (offset, event) in events.iter().enumerate() {
            assert_round_trips::<A>(event, (self.given.len() + offset) as u64);
            state.apply(event);
        }
        state
    }

    /// Asserts the command was refused under `rule`, and returns the message.
    #[track_caller]
    pub fn then_rejected(self, rule: &str) -> String {
        match self.decided {
            Err(rejection) => {
                assert_eq!(
                    rejection.rule, rule,
                    "rejected under another rule: {rejection}"
                );
                assert!(!rejection.message.is_empty(), "a rejection says why");
                rejection.message
            }
            Ok(events) => panic!("expected a rejection under `{rule}`, got {events:#?}"),
        }
    }
}

/// The event as the store would record it at `version`.
pub fn recorded<A: Aggregate>(event: &A::Event, version: u64) -> RecordedEvent {
    let new = event.to_new_event().expect("the event encodes");
    RecordedEvent {
        event_id: new.event_id,
        stream_id: StreamId::parse(format!("{}-test", A::CATEGORY)).expect("a valid stream id"),
        stream_version: version,
        global_position: Position::sequence(version + 1),
        event_type: new.event_type,
        schema_version: new.schema_version,
        data: new.data,
        personal: new.personal,
        metadata: new.metadata,
        recorded_at: default_now(),
    }
}

/// Asserts that the event reads back as itself, and still reads (with its
/// personal fields at their defaults) once its personal part is erased.
#[track_caller]
pub fn assert_round_trips<A: Aggregate>(event: &A::Event, version: u64) {
    let mut stored = recorded::<A>(event, version);
    let read = A::Event::from_recorded(&stored).expect("the event decodes");
    assert_eq!(
        &read, event,
        "the event changed on its way through the store"
    );
    if stored.personal.is_some() {
        stored.personal = Some(Personal::Erased);
        A::Event::from_recorded(&stored).expect("the event decodes with its personal part erased");
    }
}

/// Runs `commands` one after another as a live actor would (a rejected
/// command changes nothing) and returns the live state beside the state
/// replayed from the recorded events through the store's encoding. A
/// property test asserts the two are equal.
pub fn live_and_replayed<A: Aggregate>(
    commands: impl IntoIterator<Item = (A::Command, DateTime<Utc>)>,
) -> (A, A) {
    let mut live = A::default();
    let mut log = Vec::new();
    for (command, now) in commands {
        let context = Context::new("test", now);
        if let Ok(events) = live.decide(command, &context) {
            for event in events {
                live.apply(&event);
                log.push(recorded::<A>(&event, log.len() as u64));
            }
        }
    }
    let mut replayed = A::default();
    for stored in &log {
        replayed.apply(&A::Event::from_recorded(stored).expect("the event decodes"));
    }
    (live, replayed)
}
