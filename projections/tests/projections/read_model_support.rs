//! Typed domain events appended as the actor host appends them, and the
//! steps every read-model test takes: catch up, read the live tables,
//! erase a subject, rebuild.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use steward_events::domain::{DomainEvent, new_event};
use steward_events::{EventStore as _, RecordedEvent, SubjectId};
use steward_projections::{Projection, Request, Tables, catalog, live_tables};

use crate::support::Fixture;

/// The owner's subject: the host adds it to every event with personal data.
pub(crate) const OWNER: &str = "owner";

/// Appends `event` to `stream` with its subjects and the owner's, as the
/// actor host does.
pub(crate) async fn record<E: DomainEvent>(f: &Fixture, stream: &str, event: &E) -> RecordedEvent {
    let mut new = new_event(event).expect("the event encodes");
    if new.personal.is_some() {
        new.metadata
            .subjects
            .push(SubjectId::parse(OWNER).expect("subject id"));
    }
    f.append_event(stream, new).await
}

/// Brings `projection` up to the head of the log.
pub(crate) async fn catch_up(f: &Fixture, projection: Arc<dyn Projection>) {
    let generation = f.runner(projection).catch_up().await.expect("caught up");
    assert_eq!(generation.failure, None, "the projection failed");
}

/// The live tables of the projection `name`.
pub(crate) async fn tables(f: &Fixture, name: &str) -> Tables {
    live_tables(&f.db, name).await.expect("built")
}

/// Erases `subject` in the event store.
pub(crate) async fn erase(f: &Fixture, subject: &str) {
    f.store
        .erase_subject(
            &SubjectId::parse(subject).expect("subject id"),
            "user:alice",
        )
        .await
        .expect("erased");
}

/// Rebuilds `projection` from the beginning of the log and swaps it in.
pub(crate) async fn rebuild(f: &Fixture, projection: Arc<dyn Projection>) {
    catalog::request(&f.db, projection.name(), Request::Rebuild)
        .await
        .expect("request");
    catch_up(f, projection).await;
}

/// An instant from RFC 3339 text.
pub(crate) fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 instant")
        .with_timezone(&Utc)
}

/// A day from `YYYY-MM-DD`.
pub(crate) fn day(text: &str) -> NaiveDate {
    text.parse().expect("a day")
}

/// A local date-time from `YYYY-MM-DDTHH:MM:SS`.
pub(crate) fn local(text: &str) -> NaiveDateTime {
    text.parse().expect("a local date-time")
}

/// An instant as the read models keep it: to the millisecond.
pub(crate) fn millis(instant: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(instant.timestamp_millis()).expect("in range")
}
