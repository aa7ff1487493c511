//! Timers, sagas and leases over real stores: SQLite in a temporary
//! directory and a PostgreSQL database of its own per test. Time is a
//! `ManualClock` the tests move.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use serde_json::{Value, json};
use steward_actors::CommandEnvelope;
use steward_actors::saga::{BriefingConfig, MeetingBriefing};
use steward_actors::saga::{Reaction, Saga};
use steward_events::domain::DomainEvent as _;
use steward_events::domain::calendar::{BriefingPrepared, CalendarBriefingRequested};
use steward_events::domain::groceries::ItemListed;
use steward_events::domain::saga::SagaReacted;
use steward_events::{Direction, EventStore, RecordedEvent, StreamId};
use steward_host::workers::{
    LeaseOptions, SagaWorker, TimerWorker, hold_lease_and_run, meeting_briefing_worker,
};
use steward_host::{Host, HostError, HostOptions, ManualClock};
use steward_projections::read_models::inbox::Inbox;
use steward_projections::{ProjectionRunner, ReadDb, RunnerOptions};
use steward_store_core::{MasterKey, Store};
use steward_testkit::{PgDatabase, SqliteDir};
use tokio_util::sync::CancellationToken;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .expect("valid")
}

fn host(store: &Store, clock: &ManualClock) -> Host {
    Host::builder(Arc::new(store.clone()))
        .options(HostOptions {
            arbiters: 1,
            ..HostOptions::default()
        })
        .clock(Arc::new(clock.clone()))
        .steward_domains()
        .start()
        .expect("host starts")
}

fn stream(name: &str) -> StreamId {
    StreamId::parse(name).expect("valid")
}

fn command(stream_id: &str, command_type: &str, data: Value) -> CommandEnvelope {
    CommandEnvelope::new(stream(stream_id), command_type, data, "user:alice")
}

async fn events(store: &Store, name: &str) -> Vec<RecordedEvent> {
    store
        .read_stream(&stream(name), 0, Direction::Forward, 10_000)
        .await
        .expect("reads")
}

/// Waits until `stream` holds `count` events.
async fn wait_for(store: &Store, name: &str, count: usize) -> Vec<RecordedEvent> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let found = events(store, name).await;
        if found.len() >= count {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} holds {} events, not {count}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn schedule(due_at: DateTime<Utc>, item: &str) -> Value {
    json!({
        "due_at": due_at,
        "target": "shoppinglist-home",
        "command_type": "ListItem",
        "data": { "item": item },
    })
}

fn spawn_timer_worker(
    host: &Host,
    store: &Store,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = CancellationToken::new();
    let worker = TimerWorker::new(host.clone(), store.clone());
    let token = stop.clone();
    let task = tokio::spawn(async move {
        worker.run(token).await.expect("the worker runs");
    });
    (stop, task)
}

enum Backend {
    Sqlite(SqliteDir),
    Postgres(Box<PgDatabase>),
}

impl Backend {
    async fn store(&self, master: &MasterKey) -> Store {
        match self {
            Backend::Sqlite(dir) => dir.store(master.clone()).await,
            Backend::Postgres(database) => database.store(master.clone()).await,
        }
    }

    /// The read-model database beside the store.
    async fn read_models(&self) -> ReadDb {
        let url = match self {
            Backend::Sqlite(dir) => {
                format!("sqlite://{}", dir.path().join("read-models.db").display())
            }
            Backend::Postgres(database) => database.url(),
        };
        ReadDb::connect(&url).await.expect("read-model database")
    }
}

macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite(steward_testkit::SqliteDir::create())).await;
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

on_both_backends!(
    a_timer_fires_when_due_and_records_it,
    a_timer_set_before_a_restart_fires_after_it_once,
    a_cancelled_timer_never_fires,
    one_process_at_a_time_holds_a_lease_and_a_dead_holder_lets_it_go,
    a_saga_answers_events_with_caused_commands_and_resumes_after_a_restart,
    a_meeting_is_briefed_the_afternoon_before_with_the_inbox_threads_of_its_attendees,
    a_saga_that_reads_the_inbox_stops_when_its_runner_cannot,
);

async fn a_timer_fires_when_due_and_records_it(backend: Backend) {
    let store = backend.store(&MasterKey::generate().expect("key")).await;
    let clock = ManualClock::new(t0());
    let host = host(&store, &clock);
    let due = t0() + chrono::Duration::hours(1);
    host.execute(command("timer-milk", "Schedule", schedule(due, "milk")))
        .await
        .expect("scheduled");
    let (stop, task) = spawn_timer_worker(&host, &store);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        events(&store, "shoppinglist-home").await.is_empty(),
        "not due yet"
    );

    clock.advance(chrono::Duration::hours(2));
    let timer = wait_for(&store, "timer-milk", 2).await;
    assert_eq!(timer[1].event_type.as_str(), "TimerFired");
    assert_eq!(timer[1].data["outcome"], "appended 1");
    let list = events(&store, "shoppinglist-home").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].event_type.as_str(), ItemListed::EVENT_TYPE);
    assert_eq!(list[0].metadata.causation_id, Some(timer[0].event_id));
    assert_eq!(list[0].metadata.actor, "system:timers");
    assert_eq!(
        list[0].metadata.command_id.as_deref(),
        Some(format!("timer:milk:{}", due.timestamp_millis()).as_str())
    );
    stop.cancel();
    task.await.expect("joins");
}

async fn a_timer_set_before_a_restart_fires_after_it_once(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let store = backend.store(&master).await;
    let clock = ManualClock::new(t0());
    let first = host(&store, &clock);
    let due = t0() + chrono::Duration::minutes(30);
    first
        .execute(command("timer-tea", "Schedule", schedule(due, "tea")))
        .await
        .expect("scheduled");
    let (stop, task) = spawn_timer_worker(&first, &store);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.cancel();
    task.await.expect("joins");
    drop(first);

    // The last process crashed after sending the timer's command but before
    // recording the firing: the command is in the log, the firing is not.
    let store = backend.store(&master).await;
    let second = host(&store, &clock);
    let mut sent = command("shoppinglist-home", "ListItem", json!({ "item": "tea" }));
    sent.command_id = format!("timer:tea:{}", due.timestamp_millis());
    second.execute(sent).await.expect("sent before the crash");

    clock.advance(chrono::Duration::hours(1));
    let (stop, task) = spawn_timer_worker(&second, &store);
    let timer = wait_for(&store, "timer-tea", 2).await;
    assert_eq!(timer[1].data["outcome"], "duplicate");
    assert_eq!(
        events(&store, "shoppinglist-home").await.len(),
        1,
        "sent once"
    );
    stop.cancel();
    task.await.expect("joins");
}

async fn a_cancelled_timer_never_fires(backend: Backend) {
    let store = backend.store(&MasterKey::generate().expect("key")).await;
    let clock = ManualClock::new(t0());
    let host = host(&store, &clock);
    let due = t0() + chrono::Duration::minutes(5);
    host.execute(command("timer-a", "Schedule", schedule(due, "apples")))
        .await
        .expect("scheduled");
    host.execute(command("timer-a", "Cancel", json!({})))
        .await
        .expect("cancelled");
    host.execute(command("timer-b", "Schedule", schedule(due, "bread")))
        .await
        .expect("scheduled");
    clock.advance(chrono::Duration::hours(1));
    let (stop, task) = spawn_timer_worker(&host, &store);
    wait_for(&store, "timer-b", 2).await;
    let list = events(&store, "shoppinglist-home").await;
    assert_eq!(list.len(), 1, "only the timer still set fired");
    assert_eq!(list[0].data["item"], "bread");
    stop.cancel();
    task.await.expect("joins");
}

async fn one_process_at_a_time_holds_a_lease_and_a_dead_holder_lets_it_go(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let options = LeaseOptions {
        ttl: Duration::from_millis(600),
        retry_after: Duration::from_millis(100),
    };
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let ran = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let mut holders = Vec::new();
    for index in 0..2 {
        let store = backend.store(&master).await;
        let stop = CancellationToken::new();
        let (running, most, ran) = (running.clone(), most.clone(), ran.clone());
        let token = stop.clone();
        let task = tokio::spawn(hold_lease_and_run(
            store,
            "test-worker".to_owned(),
            options.clone(),
            token,
            move |lost: CancellationToken| {
                let (running, most, ran) = (running.clone(), most.clone(), ran.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    ran[index].fetch_add(1, Ordering::SeqCst);
                    lost.cancelled().await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                }
            },
        ));
        holders.push((stop, task));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(most.load(Ordering::SeqCst), 1, "never two at once");
    let first = usize::from(ran[1].load(Ordering::SeqCst) > 0);
    assert_eq!(
        ran[first].load(Ordering::SeqCst),
        1,
        "the holder kept its lease"
    );
    assert_eq!(ran[1 - first].load(Ordering::SeqCst), 0, "the other waited");

    // The holder dies without giving the lease up: it expires, the other
    // takes over.
    let (_, task) = holders.remove(first);
    task.abort();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let other = &ran[1 - first];
    while other.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nobody took the lease over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (stop, task) in holders {
        stop.cancel();
        task.await.expect("joins").expect("the worker ran");
    }
}

/// Copies every item listed on `shoppinglist-home` to `shoppinglist-copy`,
/// and ticks it off there when it is bought at home.
struct CopySaga;

impl Saga for CopySaga {
    fn name(&self) -> &'static str {
        "copy"
    }

    fn reacts_to(&self) -> &'static [&'static str] {
        &["ItemListed", "ItemCheckedOff"]
    }

    fn react(&self, event: &RecordedEvent) -> Vec<Reaction> {
        if event.stream_id.as_str() != "shoppinglist-home" {
            return Vec::new();
        }
        let command_type = match event.event_type.as_str() {
            "ItemListed" => "ListItem",
            _ => "CheckOff",
        };
        vec![Reaction::new(
            "copy",
            stream("shoppinglist-copy"),
            command_type,
            json!({ "item": event.data["item"] }),
        )]
    }
}

fn spawn_saga(host: &Host, store: &Store) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let worker = SagaWorker::new(Arc::new(CopySaga), host.clone(), store.clone()).expect("worker");
    let stop = CancellationToken::new();
    let token = stop.clone();
    let task = tokio::spawn(async move {
        worker.run(token).await.expect("the saga runs");
    });
    (stop, task)
}

async fn a_saga_answers_events_with_caused_commands_and_resumes_after_a_restart(backend: Backend) {
    let master = MasterKey::generate().expect("key");
    let store = backend.store(&master).await;
    let clock = ManualClock::new(t0());
    let host = host(&store, &clock);
    let listed = host
        .execute(command(
            "shoppinglist-home",
            "ListItem",
            json!({ "item": "eggs" }),
        ))
        .await
        .expect("listed");
    let (stop, task) = spawn_saga(&host, &store);
    let copy = wait_for(&store, "shoppinglist-copy", 1).await;
    let trigger = events(&store, "shoppinglist-home").await;
    assert_eq!(copy[0].metadata.causation_id, Some(trigger[0].event_id));
    assert_eq!(copy[0].metadata.correlation_id, listed.correlation_id);
    assert_eq!(copy[0].metadata.actor, "saga:copy");
    let record = wait_for(&store, "saga-copy", 1).await;
    let reacted: SagaReacted = record[0].to_domain().expect("a saga record");
    assert_eq!(reacted.trigger_event_id, trigger[0].event_id);
    assert_eq!(reacted.commands[0].outcome, "appended 1");
    stop.cancel();
    task.await.expect("joins");

    // Restarted, it resumes after its record: nothing is answered twice,
    // and a rejection is recorded, not retried forever.
    host.execute(command(
        "shoppinglist-copy",
        "CheckOff",
        json!({ "item": "eggs" }),
    ))
    .await
    .expect("bought at the copy");
    host.execute(command(
        "shoppinglist-home",
        "CheckOff",
        json!({ "item": "eggs" }),
    ))
    .await
    .expect("bought at home");
    let (stop, task) = spawn_saga(&host, &store);
    let records = wait_for(&store, "saga-copy", 2).await;
    let second: SagaReacted = records[1].to_domain().expect("a saga record");
    assert!(
        second.commands[0]
            .outcome
            .starts_with("rejected (not_on_list)"),
        "{}",
        second.commands[0].outcome
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(events(&store, "saga-copy").await.len(), 2);
    assert_eq!(events(&store, "shoppinglist-copy").await.len(), 2);
    stop.cancel();
    task.await.expect("joins");
}

/// Runs `work` on its own task until the token is cancelled.
fn spawn_until_stopped<F, Fut>(work: F) -> (CancellationToken, tokio::task::JoinHandle<()>)
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let stop = CancellationToken::new();
    let task = tokio::spawn(work(stop.clone()));
    (stop, task)
}

async fn a_meeting_is_briefed_the_afternoon_before_with_the_inbox_threads_of_its_attendees(
    backend: Backend,
) {
    let store = backend.store(&MasterKey::generate().expect("key")).await;
    let read_models = backend.read_models().await;
    // The store stamps events with the real time, and the saga takes "now"
    // from them: the meeting is the day after tomorrow, by the real date.
    let now = Utc::now();
    let day = now.date_naive() + chrono::Days::new(2);
    let starts_at = day.and_hms_opt(10, 0, 0).expect("valid").and_utc();
    let due = starts_at - chrono::Duration::hours(18);
    let clock = ManualClock::new(now);
    let host = host(&store, &clock);
    host.execute(command(
        "message-m1",
        "Receive",
        json!({
            "message_id": "m1",
            "account": "personal",
            "thread_id": "thread-budget",
            "from": { "address": "jane@example.org", "name": "Jane Doe" },
            "subject": "Budget for the kick-off",
            "received_at": now - chrono::Duration::days(1),
        }),
    ))
    .await
    .expect("received");
    host.execute(command(
        "calendar-main",
        "SetCalendarSettings",
        json!({ "name": "Main", "time_zone": "UTC" }),
    ))
    .await
    .expect("settings");
    // At 10:00 with Jane; and another with her, called off.
    for event_id in ["kickoff", "called-off"] {
        host.execute(command(
            "calendar-main",
            "ScheduleEvent",
            json!({
                "event_id": event_id,
                "title": "Project kick-off",
                "start": starts_at.naive_utc(),
                "end": (starts_at + chrono::Duration::hours(1)).naive_utc(),
                "attendees": [{ "email": "jane@example.org", "name": "Jane Doe" }],
                "force": true,
            }),
        ))
        .await
        .expect("scheduled");
    }
    host.execute(command(
        "calendar-main",
        "CancelEvent",
        json!({ "event_id": "called-off" }),
    ))
    .await
    .expect("cancelled");

    let inbox = ProjectionRunner::new(
        read_models.clone(),
        Arc::new(store.clone()),
        Arc::new(Inbox),
        RunnerOptions::default(),
    );
    let (stop_inbox, inbox_task) = spawn_until_stopped(|stop| async move {
        inbox.run(stop).await.expect("the inbox projection runs");
    });
    let briefing = meeting_briefing_worker(
        BriefingConfig::default(),
        host.clone(),
        store.clone(),
        read_models.clone(),
    )
    .expect("worker");
    let (stop_saga, saga_task) = spawn_until_stopped(|stop| async move {
        briefing.run(stop).await.expect("the saga runs");
    });
    let (stop_timers, timers_task) = spawn_timer_worker(&host, &store);

    let timer = format!(
        "timer-{}",
        MeetingBriefing::timer_id("main", "kickoff", starts_at)
    );
    let set = wait_for(&store, &timer, 1).await;
    assert_eq!(set[0].data["due_at"], json!(due));
    let briefing_stream = MeetingBriefing::briefing_stream("main", "kickoff", starts_at)
        .expect("a stream id")
        .to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        events(&store, &briefing_stream).await.is_empty(),
        "not before the lead time"
    );

    // The afternoon before: the timer asks the calendar, which asks for
    // the briefing, which the saga prepares from the inbox.
    clock.advance(due - now + chrono::Duration::minutes(1));
    let prepared = wait_for(&store, &briefing_stream, 1).await;
    let calendar = events(&store, "calendar-main").await;
    let requested = calendar
        .iter()
        .find(|e| e.event_type.as_str() == CalendarBriefingRequested::EVENT_TYPE)
        .expect("the calendar asked for a briefing");
    assert_eq!(
        requested.metadata.causation_id,
        Some(set[0].event_id),
        "the timer asked"
    );
    assert_eq!(prepared[0].metadata.causation_id, Some(requested.event_id));
    assert_eq!(prepared[0].metadata.actor, "saga:meeting_briefing");
    let briefing: BriefingPrepared = prepared[0].to_domain().expect("a briefing");
    assert_eq!(briefing.event_id, "kickoff");
    assert_eq!(briefing.starts_at, starts_at);
    assert_eq!(briefing.thread_count, 1);
    assert_eq!(briefing.threads[0].thread_id, "thread-budget");
    assert_eq!(
        briefing.threads[0].subject.as_deref(),
        Some("Budget for the kick-off")
    );
    assert_eq!(briefing.threads[0].correspondents, ["jane@example.org"]);

    // The meeting called off got its timer too, which the calendar refused.
    let called_off = format!(
        "timer-{}",
        MeetingBriefing::timer_id("main", "called-off", starts_at)
    );
    let fired = wait_for(&store, &called_off, 2).await;
    assert!(
        fired[1].data["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("rejected (event_cancelled)")),
        "{}",
        fired[1].data["outcome"]
    );
    let no_briefing = MeetingBriefing::briefing_stream("main", "called-off", starts_at)
        .expect("a stream id")
        .to_string();
    assert!(events(&store, &no_briefing).await.is_empty());
    let requests = calendar
        .iter()
        .filter(|e| e.event_type.as_str() == CalendarBriefingRequested::EVENT_TYPE)
        .count();
    assert_eq!(requests, 1, "only the meeting still on was briefed");

    for (stop, task) in [
        (stop_timers, timers_task),
        (stop_saga, saga_task),
        (stop_inbox, inbox_task),
    ] {
        stop.cancel();
        task.await.expect("joins");
    }
}

async fn a_saga_that_reads_the_inbox_stops_when_its_runner_cannot(backend: Backend) {
    let store = backend.store(&MasterKey::generate().expect("key")).await;
    let now = Utc::now();
    let starts_at = now + chrono::Duration::days(2);
    let clock = ManualClock::new(now);
    let host = host(&store, &clock);
    host.execute(command(
        "calendar-main",
        "ScheduleEvent",
        json!({
            "event_id": "kickoff",
            "title": "Kick-off",
            "start": starts_at.naive_utc(),
            "end": (starts_at + chrono::Duration::hours(1)).naive_utc(),
            "time_zone": "UTC",
            "attendees": [{ "email": "jane@example.org" }],
        }),
    ))
    .await
    .expect("scheduled");
    host.execute(command(
        "calendar-main",
        "RequestBriefing",
        json!({ "event_id": "kickoff", "starts_at": starts_at }),
    ))
    .await
    .expect("requested");
    // Without the inbox, it stops at the request rather than brief blind.
    let worker = SagaWorker::new(
        Arc::new(MeetingBriefing::new(BriefingConfig::default())),
        host.clone(),
        store.clone(),
    )
    .expect("worker");
    let ran = tokio::time::timeout(
        Duration::from_secs(15),
        worker.run(CancellationToken::new()),
    )
    .await
    .expect("it stops");
    assert!(
        matches!(ran, Err(HostError::LookupUnavailable { .. })),
        "{ran:?}"
    );
    let records = events(&store, "saga-meeting_briefing").await;
    assert_eq!(
        records.len(),
        1,
        "the timer was set, the request left for later"
    );
}
