//! The timeline index: filters, cursor paging, full text, erasure.

use std::sync::Arc;

use serde_json::json;
use steward_events::{
    Direction, EventStore as _, EventType, ExpectedVersion, Metadata, NewEvent, RecordedEvent,
    StreamId, SubjectId,
};
use steward_projections::read_models::timeline::{self, Timeline, TimelineFilter};
use steward_projections::{ReadDb, live_tables};
use uuid::Uuid;

use crate::support::{Fixture, on_both_backends};

on_both_backends!(
    filters_page_newest_first_with_a_cursor,
    full_text_finds_data_and_personal_words,
    an_erased_subject_is_no_longer_found_by_their_personal_data,
    readers_get_the_indexes_built_once_caught_up,
    an_event_naming_a_subject_twice_is_indexed_once,
    events_are_found_by_id_and_by_what_caused_them,
);

async fn search(db: &ReadDb, filter: TimelineFilter) -> Vec<String> {
    let tables = live_tables(db, "timeline").await.expect("built");
    timeline::query(db, &tables, &filter, None, 100)
        .await
        .expect("query")
        .entries
        .into_iter()
        .map(|entry| entry.event_id)
        .collect()
}

async fn catch_up(f: &Fixture) {
    f.runner(Arc::new(Timeline))
        .catch_up()
        .await
        .expect("caught up");
}

async fn filters_page_newest_first_with_a_cursor(f: Fixture) {
    let mut ids = Vec::new();
    for n in 0..9 {
        let stream = if n % 3 == 0 { "trip-1" } else { "message-7" };
        let event_type = if n % 2 == 0 { "Received" } else { "Triaged" };
        ids.push(
            f.append(stream, event_type, json!({"n": n}))
                .await
                .event_id
                .to_string(),
        );
    }
    catch_up(&f).await;
    let tables = live_tables(&f.db, "timeline").await.expect("built");

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = timeline::query(&f.db, &tables, &TimelineFilter::default(), cursor, 4)
            .await
            .expect("page");
        seen.extend(page.entries.iter().map(|e| e.event_id.clone()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let newest_first: Vec<_> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let trips = search(
        &f.db,
        TimelineFilter {
            category: Some("trip".to_owned()),
            ..TimelineFilter::default()
        },
    )
    .await;
    assert_eq!(trips, [ids[6].clone(), ids[3].clone(), ids[0].clone()]);
    let trips_among = search(
        &f.db,
        TimelineFilter {
            categories: Some(vec!["trip".to_owned(), "nosuchcategory".to_owned()]),
            ..TimelineFilter::default()
        },
    )
    .await;
    assert_eq!(trips_among, trips, "an IN list of categories");
    let among_none = search(
        &f.db,
        TimelineFilter {
            categories: Some(Vec::new()),
            ..TimelineFilter::default()
        },
    )
    .await;
    assert!(among_none.is_empty(), "no category allowed: nothing");
    let received_in_stream = search(
        &f.db,
        TimelineFilter {
            stream: Some("message-7".to_owned()),
            event_type: Some("Received".to_owned()),
            ..TimelineFilter::default()
        },
    )
    .await;
    assert_eq!(
        received_in_stream,
        [ids[8].clone(), ids[4].clone(), ids[2].clone()]
    );
    let stream_in = |category: Option<&str>, categories: Option<Vec<&str>>| TimelineFilter {
        stream: Some("message-7".to_owned()),
        event_type: Some("Received".to_owned()),
        category: category.map(str::to_owned),
        categories: categories.map(|list| list.into_iter().map(str::to_owned).collect()),
        ..TimelineFilter::default()
    };
    assert_eq!(
        search(
            &f.db,
            stream_in(Some("message"), Some(vec!["pantry", "message"]))
        )
        .await,
        received_in_stream,
        "a stream in the category and among the categories"
    );
    assert!(
        search(&f.db, stream_in(Some("pantry"), None))
            .await
            .is_empty(),
        "a stream of another category"
    );
    assert!(
        search(&f.db, stream_in(None, Some(vec!["pantry"])))
            .await
            .is_empty(),
        "a stream outside the categories one may see"
    );
    let by_actor = search(
        &f.db,
        TimelineFilter {
            actor: Some("user:bob".to_owned()),
            ..TimelineFilter::default()
        },
    )
    .await;
    assert!(by_actor.is_empty());
}

async fn full_text_finds_data_and_personal_words(f: Fixture) {
    let lunch = f
        .append(
            "message-1",
            "Received",
            json!({"subject": "Lunch on Friday?"}),
        )
        .await;
    let invoice = f
        .append_personal(
            "message-2",
            "Received",
            json!({"subject": "Invoice"}),
            json!({"from": "Dana Whitfield"}),
            "dana",
        )
        .await;
    catch_up(&f).await;
    let text = |words: &str| TimelineFilter {
        text: Some(words.to_owned()),
        ..TimelineFilter::default()
    };
    assert_eq!(
        search(&f.db, text("friday")).await,
        [lunch.event_id.to_string()]
    );
    assert_eq!(
        search(&f.db, text("invoice Whitfield")).await,
        [invoice.event_id.to_string()]
    );
    assert!(search(&f.db, text("invoice friday")).await.is_empty());
    // Query syntax in what people type is just text.
    assert!(search(&f.db, text("\"Lunch OR (*")).await.is_empty());
}

async fn an_erased_subject_is_no_longer_found_by_their_personal_data(f: Fixture) {
    let invoice = f
        .append_personal(
            "message-2",
            "Received",
            json!({"subject": "Invoice"}),
            json!({"from": "Dana Whitfield"}),
            "dana",
        )
        .await;
    catch_up(&f).await;
    let whitfield = TimelineFilter {
        text: Some("Whitfield".to_owned()),
        ..TimelineFilter::default()
    };
    assert_eq!(
        search(&f.db, whitfield.clone()).await,
        [invoice.event_id.to_string()]
    );

    f.store
        .erase_subject(&SubjectId::parse("dana").expect("id"), "user:alice")
        .await
        .expect("erased");
    catch_up(&f).await;
    assert!(search(&f.db, whitfield.clone()).await.is_empty());
    // The event itself is still in the timeline, found by its public data.
    let public = TimelineFilter {
        text: Some("invoice".to_owned()),
        ..TimelineFilter::default()
    };
    assert_eq!(search(&f.db, public).await, [invoice.event_id.to_string()]);
    // A rebuild from the log never sees the erased data either.
    steward_projections::catalog::request(&f.db, "timeline", steward_projections::Request::Rebuild)
        .await
        .expect("request");
    catch_up(&f).await;
    assert!(search(&f.db, whitfield).await.is_empty());
}

async fn readers_get_the_indexes_built_once_caught_up(f: Fixture) {
    f.append("message-1", "Received", json!({"subject": "hello"}))
        .await;
    catch_up(&f).await;
    let tables = live_tables(&f.db, "timeline").await.expect("built");
    let table = tables.name("timeline_events");
    let sql = match f.db.dialect() {
        steward_projections::Dialect::Postgres => {
            "SELECT indexname::text AS name FROM pg_indexes WHERE tablename = $1"
        }
        steward_projections::Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1"
        }
    };
    let names: Vec<String> = sqlx::query(sql)
        .bind(&table)
        .fetch_all(f.db.pool())
        .await
        .expect("indexes")
        .iter()
        .map(|row| sqlx::Row::get(row, "name"))
        .collect();
    for index in [
        "stream",
        "category",
        "type",
        "actor",
        "correlation",
        "causation",
        "event_id",
        "recorded",
    ] {
        let expected = tables.name(&format!("timeline_events_{index}"));
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    if f.db.dialect() == steward_projections::Dialect::Postgres {
        // Analysed when promoted: column statistics exist only after an
        // ANALYZE (an index build counts the rows, but keeps no statistics).
        let columns: i64 = sqlx::query("SELECT count(*) AS n FROM pg_stats WHERE tablename = $1")
            .bind(&table)
            .fetch_one(f.db.pool())
            .await
            .map(|row| sqlx::Row::get(&row, "n"))
            .expect("pg_stats");
        assert!(columns > 0, "{table} has column statistics");
    }
}

async fn an_event_naming_a_subject_twice_is_indexed_once(f: Fixture) {
    let dana = SubjectId::parse("dana").expect("id");
    let event = steward_events::NewEvent::new(
        steward_events::EventType::parse("Received").expect("type"),
        json!({"subject": "Invoice"}),
    )
    .with_personal(json!({"from": "Dana Whitfield"}), vec![dana.clone(), dana]);
    let recorded = f.append_event("message-3", event).await;
    let live = f
        .runner(Arc::new(Timeline))
        .catch_up()
        .await
        .expect("caught up");
    assert_eq!(live.failure, None);
    assert_eq!(live.position, recorded.global_position);
}

/// Appends an event whose causation is `cause` (an event's or a command's id).
async fn caused(f: &Fixture, stream: &str, cause: Uuid) -> RecordedEvent {
    let stream = StreamId::parse(stream).expect("stream id");
    let event = NewEvent::new(EventType::parse("Noted").expect("type"), json!({})).with_metadata(
        Metadata {
            causation_id: Some(cause),
            ..Metadata::default()
        },
    );
    let appended = f
        .store
        .append(&stream, ExpectedVersion::Any, vec![event])
        .await
        .expect("append");
    f.store
        .read_stream(&stream, appended.last_version, Direction::Forward, 1)
        .await
        .expect("read back")
        .pop()
        .expect("the event just appended")
}

async fn events_are_found_by_id_and_by_what_caused_them(f: Fixture) {
    let command = Uuid::now_v7();
    let root = caused(&f, "note-1", command).await;
    let first = caused(&f, "note-2", root.event_id).await;
    let unrelated = f.append("note-3", "Noted", json!({})).await;
    let second = caused(&f, "note-1", root.event_id).await;
    let grandchild = caused(&f, "note-4", first.event_id).await;
    catch_up(&f).await;
    let tables = live_tables(&f.db, "timeline").await.expect("built");

    let found = timeline::by_event_id(&f.db, &tables, &first.event_id.to_string())
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found.position, first.global_position);
    assert_eq!(found.stream_id, "note-2");
    assert_eq!(found.causation_id, Some(root.event_id.to_string()));
    assert_eq!(
        timeline::by_event_id(&f.db, &tables, &command.to_string())
            .await
            .expect("lookup"),
        None,
        "a command's id is no event's"
    );

    let ids = |entries: Vec<timeline::TimelineEntry>| -> Vec<String> {
        entries.into_iter().map(|entry| entry.event_id).collect()
    };
    let children = timeline::caused_by(&f.db, &tables, &[root.event_id.to_string()], 10)
        .await
        .expect("children");
    assert_eq!(
        ids(children),
        [first.event_id.to_string(), second.event_id.to_string()],
        "in log order"
    );
    let next_level = timeline::caused_by(
        &f.db,
        &tables,
        &[first.event_id.to_string(), second.event_id.to_string()],
        10,
    )
    .await
    .expect("grandchildren");
    assert_eq!(ids(next_level), [grandchild.event_id.to_string()]);
    let limited = timeline::caused_by(&f.db, &tables, &[root.event_id.to_string()], 1)
        .await
        .expect("limited");
    assert_eq!(ids(limited), [first.event_id.to_string()]);
    assert!(
        timeline::caused_by(&f.db, &tables, &[unrelated.event_id.to_string()], 10)
            .await
            .expect("none")
            .is_empty()
    );
    assert!(
        timeline::caused_by(&f.db, &tables, &[], 10)
            .await
            .expect("nothing asked")
            .is_empty()
    );
}
