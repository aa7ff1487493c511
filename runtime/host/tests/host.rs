//! The actor host over real stores: SQLite in a temporary directory and a
//! PostgreSQL database of its own per test.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use steward_actors::{Aggregate, CommandEnvelope, CommandError, Context, Rejection};
use steward_events::domain::DomainEvent;
use steward_events::{Direction, EventStore, Personal, StreamId, SubjectId, domain_events};
use steward_host::{Host, HostError, HostOptions, ManualClock, Snapshot};
use steward_store_core::{MasterKey, Store};
use steward_testkit::{PgDatabase, SqliteDir};

// ------------------------------------------------------------ a test domain

/// A counter that can be told to panic, and that records who it was
/// counted for (personal data).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Counter {
    total: i64,
    last_for: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
enum CounterCommand {
    Add { by: i64, for_whom: Option<String> },
    Explode,
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Added {
    by: i64,
    #[serde(default)]
    for_whom: Option<String>,
}

impl DomainEvent for Added {
    const EVENT_TYPE: &'static str = "Added";
    const SCHEMA_VERSION: u16 = 1;
    const PERSONAL_FIELDS: &'static [&'static str] = &["for_whom"];

    fn subjects(&self) -> Vec<SubjectId> {
        self.for_whom
            .iter()
            .map(|who| SubjectId::parse(format!("contact:{who}")).expect("valid"))
            .collect()
    }
}

domain_events! {
    enum CounterEvent {
        Added(Added),
    }
}

impl Aggregate for Counter {
    const CATEGORY: &'static str = "counter";
    const DOMAIN: &'static str = "test";
    const STATE_VERSION: u32 = 1;
    type Command = CounterCommand;
    type Event = CounterEvent;

    fn decide(&self, command: CounterCommand, _: &Context) -> Result<Vec<CounterEvent>, Rejection> {
        match command {
            CounterCommand::Add { by, .. } if by <= 0 => Err(Rejection::new(
                "not_positive",
                format!("add a positive number, not {by}"),
            )),
            CounterCommand::Add { by, for_whom } => {
                Ok(vec![CounterEvent::Added(Added { by, for_whom })])
            }
            CounterCommand::Explode => panic!("the counter exploded"),
            CounterCommand::Nothing => Ok(Vec::new()),
        }
    }

    fn apply(&mut self, event: &CounterEvent) {
        let CounterEvent::Added(added) = event;
        self.total += added.by;
        if added.for_whom.is_some() {
            self.last_for.clone_from(&added.for_whom);
        }
    }
}

// ------------------------------------------------------------------ setup

fn options() -> HostOptions {
    HostOptions {
        arbiters: 2,
        ..HostOptions::default()
    }
}

fn host(store: &Store, options: HostOptions) -> Host {
    Host::builder(Arc::new(store.clone()))
        .options(options)
        .clock(Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
                .single()
                .expect("valid"),
        )))
        .steward_domains()
        .aggregate::<Counter>()
        .start()
        .expect("host starts")
}

fn command(stream: &str, command_type: &str, data: Value) -> CommandEnvelope {
    CommandEnvelope::new(
        StreamId::parse(stream).expect("valid"),
        command_type,
        data,
        "user:alice",
    )
}

fn add(stream: &str, by: i64) -> CommandEnvelope {
    command(stream, "Add", json!({ "by": by }))
}

async fn versions(store: &Store, stream: &str) -> Vec<u64> {
    store
        .read_stream(
            &StreamId::parse(stream).expect("valid"),
            0,
            Direction::Forward,
            10_000,
        )
        .await
        .expect("reads")
        .iter()
        .map(|e| e.stream_version)
        .collect()
}

/// Runs a scenario on SQLite and on PostgreSQL.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = steward_testkit::SqliteDir::create();
                    super::$name(super::Backend::Sqlite(dir)).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let database = steward_testkit::PgDatabase::create().await;
                    super::$name(super::Backend::Postgres(Box::new(database))).await;
                }
            )+
        }
    };
}

enum Backend {
    Sqlite(SqliteDir),
    Postgres(Box<PgDatabase>),
}

impl Backend {
    /// A store handle of its own, as another process would open.
    async fn store(&self, master: &MasterKey) -> Store {
        match self {
            Backend::Sqlite(dir) => dir.store(master.clone()).await,
            Backend::Postgres(database) => database.store(master.clone()).await,
        }
    }
}

on_both_backends!(
    commands_append_events_carrying_the_command,
    a_repeated_command_id_returns_the_first_result_across_restarts,
    a_restarted_host_continues_the_stream,
    two_hosts_racing_for_one_aggregate_each_win_distinct_versions,
    a_stale_actor_catches_up_and_decides_again,
    a_conflict_beyond_the_retries_is_reported_and_writes_nothing,
    a_panic_answers_with_an_error_and_the_restarted_actor_is_consistent,
    an_idle_actor_is_stopped_and_comes_back_on_its_next_command,
    personal_data_is_sealed_under_its_subjects_and_the_owner,
    a_snapshot_and_its_tail_equal_the_full_replay,
    a_snapshot_of_another_state_shape_is_ignored,
    a_snapshot_holding_personal_data_is_sealed_and_dies_with_an_erasure,
);

// -------------------------------------------------------------- scenarios

async fn commands_append_events_carrying_the_command(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let store = backend.store(&master).await;
    let host = host(&store, options());

    let listed = host
        .execute(command(
            "shoppinglist-home",
            "ListItem",
            json!({ "item": "eggs" }),
        ))
        .await
        .expect("listed");
    assert_eq!(listed.version, Some(0));
    assert_eq!(listed.events.len(), 1);
    assert_eq!(listed.events[0].event_type, "ItemListed");
    assert!(!listed.duplicate);

    let mut check_off = command("shoppinglist-home", "CheckOff", json!({ "item": "eggs" }));
    let causation = uuid::Uuid::now_v7();
    check_off = check_off.caused_by(causation, listed.correlation_id);
    let checked = host.execute(check_off.clone()).await.expect("checked off");
    assert_eq!(checked.version, Some(1));

    let stored = store
        .read_stream(&check_off.stream_id, 1, Direction::Forward, 10)
        .await
        .expect("reads");
    let metadata = &stored[0].metadata;
    assert_eq!(
        metadata.command_id.as_deref(),
        Some(check_off.command_id.as_str())
    );
    assert_eq!(metadata.correlation_id, listed.correlation_id);
    assert_eq!(metadata.causation_id, Some(causation));
    assert_eq!(metadata.actor, "user:alice");

    // A rejection names the rule and appends nothing.
    let error = host
        .execute(command(
            "shoppinglist-home",
            "CheckOff",
            json!({ "item": "eggs" }),
        ))
        .await
        .expect_err("not on the list any more");
    assert!(
        matches!(&error, HostError::Rejected(r) if r.rule == "not_on_list"),
        "{error}"
    );
    // So does a command that changes nothing.
    let unchanged = host
        .execute(command("counter-a", "Nothing", json!(null)))
        .await
        .expect("nothing");
    assert!(unchanged.events.is_empty() && unchanged.version.is_none());
    // Bad envelopes never reach an actor.
    let unknown = host
        .execute(command("garden-home", "Water", json!({})))
        .await
        .expect_err("no such category");
    assert!(matches!(
        unknown,
        HostError::Command(CommandError::UnknownCategory { .. })
    ));
    let invalid = host
        .execute(command(
            "shoppinglist-home",
            "ListItem",
            json!({ "item": 3 }),
        ))
        .await
        .expect_err("bad data");
    assert!(matches!(
        invalid,
        HostError::Command(CommandError::InvalidData { .. })
    ));
    assert_eq!(versions(&store, "shoppinglist-home").await, vec![0, 1]);
    assert_eq!(
        host.metrics()
            .commands
            .with_label_values(&["shoppinglist", "rejected"])
            .get(),
        1
    );
}

async fn a_repeated_command_id_returns_the_first_result_across_restarts(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let store = backend.store(&master).await;
    let first_host = host(&store, options());
    let once = add("counter-a", 2);
    let first = first_host.execute(once.clone()).await.expect("added");
    let again = first_host.execute(once.clone()).await.expect("same answer");
    assert!(again.duplicate);
    assert_eq!(again.events[0].event_id, first.events[0].event_id);
    drop(first_host);

    // A new host, as after a crash, over another store handle.
    let store = backend.store(&master).await;
    let second_host = host(&store, options());
    let after_restart = second_host
        .execute(once.clone())
        .await
        .expect("same answer");
    assert!(after_restart.duplicate);
    assert_eq!(after_restart.events[0].event_id, first.events[0].event_id);
    assert_eq!(after_restart.version, Some(0));
    assert_eq!(versions(&store, "counter-a").await, vec![0]);

    // The same id for another stream is refused, not applied.
    let mut elsewhere = add("counter-b", 1);
    elsewhere.command_id = once.command_id.clone();
    let error = second_host.execute(elsewhere).await.expect_err("reused id");
    assert!(
        matches!(error, HostError::CommandIdReused { .. }),
        "{error}"
    );
    assert!(versions(&store, "counter-b").await.is_empty());
}

async fn a_restarted_host_continues_the_stream(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let store = backend.store(&master).await;
    let first_host = host(&store, options());
    for _ in 0..5 {
        first_host
            .execute(add("counter-a", 1))
            .await
            .expect("added");
    }
    drop(first_host);
    let second_host = host(&backend.store(&master).await, options());
    let next = second_host
        .execute(add("counter-a", 1))
        .await
        .expect("added");
    assert_eq!(next.version, Some(5));
    assert_eq!(
        versions(&store, "counter-a").await,
        (0..6).collect::<Vec<_>>()
    );
}

async fn two_hosts_racing_for_one_aggregate_each_win_distinct_versions(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let retries = HostOptions {
        conflict_retries: 50,
        ..options()
    };
    let hosts = [
        host(&backend.store(&master).await, retries.clone()),
        host(&backend.store(&master).await, retries),
    ];
    let mut sent = Vec::new();
    for round in 0..10 {
        for host in &hosts {
            let host = host.clone();
            sent.push(tokio::spawn(async move {
                host.execute(command(
                    "shoppinglist-shared",
                    "ListItem",
                    json!({ "item": format!("item {round} {}", uuid::Uuid::now_v7()) }),
                ))
                .await
            }));
        }
    }
    let mut won = Vec::new();
    for answer in sent {
        won.push(
            answer
                .await
                .expect("joins")
                .expect("every command lands")
                .version,
        );
    }
    won.sort();
    let expected: Vec<Option<u64>> = (0..20).map(Some).collect();
    assert_eq!(won, expected, "each version was won by exactly one command");
    let store = backend.store(&master).await;
    assert_eq!(
        versions(&store, "shoppinglist-shared").await,
        (0..20).collect::<Vec<_>>()
    );
}

async fn a_stale_actor_catches_up_and_decides_again(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let here = host(&backend.store(&master).await, options());
    let there = host(&backend.store(&master).await, options());
    here.execute(add("counter-a", 1)).await.expect("version 0");
    // The other host writes behind this one's back.
    there
        .execute(add("counter-a", 10))
        .await
        .expect("version 1");
    let third = here
        .execute(add("counter-a", 100))
        .await
        .expect("version 2");
    assert_eq!(third.version, Some(2));
    assert_eq!(
        here.metrics()
            .conflicts
            .with_label_values(&["counter"])
            .get(),
        1
    );
}

async fn a_conflict_beyond_the_retries_is_reported_and_writes_nothing(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let no_retries = HostOptions {
        conflict_retries: 0,
        ..options()
    };
    let here = host(&backend.store(&master).await, no_retries);
    let there = host(&backend.store(&master).await, options());
    here.execute(add("counter-a", 1)).await.expect("version 0");
    there.execute(add("counter-a", 1)).await.expect("version 1");
    let error = here
        .execute(add("counter-a", 1))
        .await
        .expect_err("stale, no retries");
    assert!(
        matches!(error, HostError::Conflict { attempts: 1, .. }),
        "{error}"
    );
    let store = backend.store(&master).await;
    assert_eq!(versions(&store, "counter-a").await, vec![0, 1]);
    // The actor reloaded: the next command lands.
    let next = here.execute(add("counter-a", 1)).await.expect("lands");
    assert_eq!(next.version, Some(2));
}

async fn a_panic_answers_with_an_error_and_the_restarted_actor_is_consistent(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let store = backend.store(&master).await;
    let host = host(&store, options());
    host.execute(add("counter-a", 1)).await.expect("added");
    let error = host
        .execute(command("counter-a", "Explode", json!(null)))
        .await
        .expect_err("panicked");
    assert!(
        matches!(
            error,
            HostError::Panicked {
                recorded: false,
                ..
            }
        ),
        "{error}"
    );
    let next = host
        .execute(add("counter-a", 1))
        .await
        .expect("added after");
    assert_eq!(next.version, Some(1));
    assert_eq!(versions(&store, "counter-a").await, vec![0, 1]);
    assert_eq!(
        host.metrics()
            .restarts
            .with_label_values(&["counter"])
            .get(),
        1
    );
}

async fn an_idle_actor_is_stopped_and_comes_back_on_its_next_command(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let store = backend.store(&master).await;
    let host = host(
        &store,
        HostOptions {
            idle_timeout: Duration::from_millis(100),
            ..options()
        },
    );
    host.execute(add("counter-a", 1)).await.expect("added");
    host.execute(add("counter-b", 1)).await.expect("added");
    assert_eq!(host.actors_alive(), 2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while host.actors_alive() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(host.actors_alive(), 0, "idle actors were stopped");
    let next = host.execute(add("counter-a", 1)).await.expect("added");
    assert_eq!(next.version, Some(1));
}

async fn personal_data_is_sealed_under_its_subjects_and_the_owner(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let store = backend.store(&master).await;
    let host = host(&store, options());
    let added = host
        .execute(command(
            "counter-a",
            "Add",
            json!({ "by": 1, "for_whom": "dana" }),
        ))
        .await
        .expect("added");
    assert_eq!(
        added.events[0].personal,
        Some(Personal::Plain(json!({ "for_whom": "dana" })))
    );
    let stored = store
        .read_stream(
            &StreamId::parse("counter-a").expect("valid"),
            0,
            Direction::Forward,
            1,
        )
        .await
        .expect("reads");
    let subjects: Vec<&str> = stored[0]
        .metadata
        .subjects
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(subjects, ["contact:dana", "owner"]);
    assert_eq!(stored[0].data, json!({ "by": 1 }));

    // Erasing the contact leaves the aggregate replayable.
    store
        .erase_subject(
            &SubjectId::parse("contact:dana").expect("valid"),
            "user:alice",
        )
        .await
        .expect("erased");
    let fresh = host_after_erasure(&backend, &master).await;
    let next = fresh.execute(add("counter-a", 2)).await.expect("added");
    assert_eq!(next.version, Some(1));
}

async fn host_after_erasure(backend: &Backend, master: &MasterKey) -> Host {
    host(&backend.store(master).await, options())
}

fn snapshotting(store: &Store, every: u64) -> Host {
    Host::builder(Arc::new(store.clone()))
        .options(options())
        .snapshots(Arc::new(store.clone()), every)
        .aggregate::<Counter>()
        .start()
        .expect("host starts")
}

/// Waits for the background snapshot of `stream` to reach `version`.
async fn snapshot_at(store: &Store, stream: &StreamId, version: u64) -> Snapshot {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(snapshot) = store.load_snapshot(stream).await.expect("loads")
            && snapshot.stream_version == version
        {
            return snapshot;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no snapshot at {version}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_snapshot_and_its_tail_equal_the_full_replay(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let store = backend.store(&master).await;
    let stream = StreamId::parse("counter-a").expect("valid");
    let writer = snapshotting(&store, 10);
    for by in 1..=25 {
        let mut command = add("counter-a", by);
        if by % 7 == 0 {
            command.data = json!({ "by": by, "for_whom": format!("friend{by}") });
        }
        writer.execute(command).await.expect("added");
    }
    snapshot_at(&store, &stream, 19).await;
    drop(writer);

    let reader = snapshotting(&backend.store(&master).await, 10);
    let from_snapshot = reader.load::<Counter>(&stream, true).await.expect("loads");
    let replayed = reader
        .load::<Counter>(&stream, false)
        .await
        .expect("replays");
    assert_eq!(from_snapshot, replayed);
    assert_eq!(replayed.0.total, (1..=25).sum::<i64>());
    assert_eq!(replayed.0.last_for.as_deref(), Some("friend21"));

    // An actor starts from the snapshot too: it folds only the tail.
    let fresh = snapshotting(&backend.store(&master).await, 10);
    let next = fresh.execute(add("counter-a", 1)).await.expect("added");
    assert_eq!(next.version, Some(25));
    let folded = fresh
        .metrics()
        .rehydrated_events
        .with_label_values(&["counter"])
        .get();
    assert_eq!(folded, 5, "events 20..=24 after the snapshot at 19");
}

async fn a_snapshot_of_another_state_shape_is_ignored(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let store = backend.store(&master).await;
    let stream = StreamId::parse("counter-a").expect("valid");
    let writer = snapshotting(&store, 0);
    for by in 1..=3 {
        writer.execute(add("counter-a", by)).await.expect("added");
    }
    for (state_version, state) in [
        (99, br#"{"total": 1000, "last_for": null}"#.to_vec()),
        (1, b"not json".to_vec()),
    ] {
        assert!(
            store
                .save_snapshot(
                    &stream,
                    Snapshot {
                        stream_version: 2,
                        state_version,
                        subjects: Vec::new(),
                        state
                    },
                )
                .await
                .expect("saved")
        );
        let reader = snapshotting(&store, 0);
        let (state, version) = reader.load::<Counter>(&stream, true).await.expect("loads");
        assert_eq!((state.total, version), (6, Some(2)), "never misread");
    }
}

async fn a_snapshot_holding_personal_data_is_sealed_and_dies_with_an_erasure(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let store = backend.store(&master).await;
    let stream = StreamId::parse("counter-a").expect("valid");
    let writer = snapshotting(&store, 2);
    writer
        .execute(command(
            "counter-a",
            "Add",
            json!({ "by": 1, "for_whom": "dana" }),
        ))
        .await
        .expect("added");
    writer.execute(add("counter-a", 1)).await.expect("added");
    let snapshot = snapshot_at(&store, &stream, 1).await;
    assert_eq!(
        snapshot
            .subjects
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        ["contact:dana", "owner"]
    );
    let raw = store
        .log()
        .load_snapshot(&stream)
        .await
        .expect("loads")
        .expect("kept");
    assert!(
        !raw.state.windows(4).any(|w| w == b"dana"),
        "sealed at rest"
    );

    store
        .erase_subject(
            &SubjectId::parse("contact:dana").expect("valid"),
            "user:alice",
        )
        .await
        .expect("erased");
    assert_eq!(store.load_snapshot(&stream).await.expect("loads"), None);
    let reader = snapshotting(&store, 0);
    let (state, version) = reader
        .load::<Counter>(&stream, true)
        .await
        .expect("replays");
    assert_eq!((state.total, state.last_for, version), (2, None, Some(1)));
}
