//! The domains' read models and the vector memory over HTTP: real commands
//! through the host, the projections caught up, then GETs.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use steward_events::domain::access::Scope;
use steward_http::{ApiState, app};

use crate::support::{Fixture, assert_problem, call, embedder, on_both_backends, with_token};

on_both_backends!(
    the_inbox_queue_filters_and_pages,
    the_agenda_is_a_day_in_the_configured_time_zone,
    free_busy_merges_busy_time_and_finds_double_bookings,
    home_devices_show_reported_and_desired_state_and_scenes,
    groceries_show_the_list_and_the_pantry,
    maintenance_lists_due_and_overdue_tasks,
    travel_lists_trips_and_their_itineraries,
    goals_show_progress_pace_and_risk,
    bad_parameters_name_themselves,
    read_models_not_built_yet_are_unavailable,
    reading_needs_the_read_models_scope,
    memory_search_finds_by_meaning_with_filters,
    memory_search_is_unavailable_when_the_memory_is_off,
);

/// Every route of this module, for the checks that apply to all.
const ROUTES: &[&str] = &[
    "/api/v1/inbox",
    "/api/v1/calendar/agenda?day=2030-03-04",
    "/api/v1/calendar/free-busy?from=2030-03-04T00:00:00Z&until=2030-03-05T00:00:00Z",
    "/api/v1/home/devices",
    "/api/v1/home/scenes",
    "/api/v1/groceries/shopping-list",
    "/api/v1/groceries/pantry",
    "/api/v1/maintenance/tasks",
    "/api/v1/travel/trips",
    "/api/v1/travel/trips/lisbon",
    "/api/v1/goals",
    "/api/v1/plans",
    "/api/v1/plans/p1",
    "/api/v1/approvals",
    "/api/v1/memory/search?q=lunch",
];

async fn get_with(state: ApiState, token: &str, uri: &str) -> (StatusCode, Value) {
    let app = test::init_service(app(state)).await;
    call(&app, with_token(TestRequest::get().uri(uri), token)).await
}

async fn get(fixture: &Fixture, uri: &str) -> (StatusCode, Value) {
    get_with(fixture.state(), &fixture.admin, uri).await
}

/// GETs `uri`, expecting 200.
async fn ok(fixture: &Fixture, uri: &str) -> Value {
    let (status, body) = get(fixture, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

fn ids(items: &Value, field: &str) -> Vec<String> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("an array: {items}"))
        .iter()
        .map(|item| item[field].as_str().expect("a string id").to_owned())
        .collect()
}

async fn receive(fixture: &Fixture, id: &str, subject: &str, received_at: &str) {
    fixture
        .command(
            &format!("message-{id}"),
            "Receive",
            json!({
                "message_id": id,
                "account": "personal",
                "from": { "address": "ana@example.com", "name": "Ana Lima" },
                "to": [{ "address": "me@example.org" }],
                "subject": subject,
                "body_text": "A few words.",
                "received_at": received_at,
            }),
        )
        .await;
}

async fn triage(fixture: &Fixture, id: &str, category: &str, priority: &str) {
    fixture
        .command(
            &format!("message-{id}"),
            "Triage",
            json!({ "category": category, "priority": priority, "decided_by": { "by": "person" } }),
        )
        .await;
}

async fn the_inbox_queue_filters_and_pages(fixture: Fixture) {
    receive(&fixture, "m1", "Lunch on Friday?", "2030-01-07T08:30:00Z").await;
    receive(&fixture, "m2", "Weekly digest", "2030-01-07T09:00:00Z").await;
    receive(&fixture, "m3", "Hello", "2030-01-07T10:00:00Z").await;
    receive(&fixture, "m4", "Old news", "2030-01-06T10:00:00Z").await;
    triage(&fixture, "m1", "needs_reply", "high").await;
    triage(&fixture, "m2", "newsletter", "low").await;
    fixture
        .command("message-m1", "Label", json!({ "label": "Friends" }))
        .await;
    fixture.command("message-m4", "Archive", json!({})).await;
    fixture.catch_up().await;

    // By priority (untriaged ranks as normal), in pages of two.
    let first = ok(&fixture, "/api/v1/inbox?limit=2").await;
    assert_eq!(ids(&first["messages"], "message_id"), ["m1", "m3"]);
    assert_eq!(first["next_offset"], 2);
    let m1 = &first["messages"][0];
    assert_eq!(m1["subject"], "Lunch on Friday?");
    assert_eq!(m1["from_address"], "ana@example.com");
    assert_eq!(m1["state"], "inbox");
    assert_eq!(m1["labels"], json!(["Friends"]));
    assert_eq!(m1["triage"]["category"], "needs_reply");
    assert_eq!(m1["triage"]["priority"], "high");
    assert_eq!(m1["triage"]["decided_by"], json!({ "by": "person" }));
    assert_eq!(first["messages"][1]["triage"], Value::Null);
    let second = ok(&fixture, "/api/v1/inbox?limit=2&offset=2").await;
    assert_eq!(ids(&second["messages"], "message_id"), ["m2"]);
    assert_eq!(second["next_offset"], Value::Null);

    for (query, expected) in [
        ("category=newsletter", vec!["m2"]),
        ("min_priority=high", vec!["m1"]),
        ("view=untriaged", vec!["m3"]),
        ("view=archived", vec!["m4"]),
        ("label=friends", vec!["m1"]),
        ("account=work", vec![]),
        ("view=all", vec!["m1", "m3", "m4", "m2"]),
    ] {
        let page = ok(&fixture, &format!("/api/v1/inbox?{query}")).await;
        assert_eq!(ids(&page["messages"], "message_id"), expected, "{query}");
    }
    let archived = ok(&fixture, "/api/v1/inbox?view=archived").await;
    assert_eq!(archived["messages"][0]["state"], "archived");
}

/// Two calendars in New York, an evening event on each, overlapping: after
/// midnight UTC, so on the 4th in New York and the 5th in UTC.
async fn two_evening_events(fixture: &Fixture) {
    for (calendar, name, event, title, start, end) in [
        (
            "calendar-work",
            "Work",
            "late",
            "Late call",
            "2030-03-04T21:00:00",
            "2030-03-04T22:00:00",
        ),
        (
            "calendar-home",
            "Home",
            "dinner",
            "Dinner",
            "2030-03-04T21:30:00",
            "2030-03-04T22:30:00",
        ),
    ] {
        fixture
            .command(
                calendar,
                "SetCalendarSettings",
                json!({ "name": name, "time_zone": "America/New_York" }),
            )
            .await;
        fixture
            .command(
                calendar,
                "ScheduleEvent",
                json!({ "event_id": event, "title": title, "start": start, "end": end, "location": "Here" }),
            )
            .await;
    }
    fixture.catch_up().await;
}

async fn the_agenda_is_a_day_in_the_configured_time_zone(fixture: Fixture) {
    two_evening_events(&fixture).await;
    let new_york = ApiState::builder(
        Arc::new(fixture.store.clone()),
        fixture.host.clone(),
        fixture.db.clone(),
    )
    .projections(fixture.projections.clone())
    .time_zone(chrono_tz::America::New_York)
    .build()
    .expect("metrics register");
    let (status, day) = get_with(
        new_york,
        &fixture.admin,
        "/api/v1/calendar/agenda?day=2030-03-04",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{day}");
    assert_eq!(day["day"], "2030-03-04");
    assert_eq!(day["time_zone"], "America/New_York");
    assert_eq!(ids(&day["entries"], "item_id"), ["late", "dinner"]);
    let late = &day["entries"][0];
    assert_eq!(late["kind"], "calendar_event");
    assert_eq!(late["calendar"], "calendar-work");
    assert_eq!(late["calendar_name"], "Work");
    assert_eq!(late["title"], "Late call");
    assert_eq!(late["location"], "Here");
    assert_eq!(late["starts_at"], "2030-03-05T02:00:00Z");
    assert_eq!(late["local_start"], "2030-03-04T21:00:00");

    // The fixture's API is in UTC: there, the same events are on the 5th.
    let utc_4th = ok(&fixture, "/api/v1/calendar/agenda?day=2030-03-04").await;
    assert_eq!(utc_4th["time_zone"], "UTC");
    assert_eq!(utc_4th["entries"], json!([]));
    let utc_5th = ok(&fixture, "/api/v1/calendar/agenda?day=2030-03-05").await;
    assert_eq!(ids(&utc_5th["entries"], "item_id"), ["late", "dinner"]);
    assert_eq!(utc_5th["entries"][0]["local_start"], "2030-03-05T02:00:00");
}

async fn free_busy_merges_busy_time_and_finds_double_bookings(fixture: Fixture) {
    two_evening_events(&fixture).await;
    let view = ok(
        &fixture,
        "/api/v1/calendar/free-busy?from=2030-03-05T00:00:00Z&until=2030-03-06T00:00:00Z",
    )
    .await;
    assert_eq!(view["from"], "2030-03-05T00:00:00Z");
    let busy = view["busy"].as_array().expect("busy");
    assert_eq!(busy.len(), 1, "{view}");
    assert_eq!(busy[0]["starts_at"], "2030-03-05T02:00:00Z");
    assert_eq!(busy[0]["ends_at"], "2030-03-05T03:30:00Z");
    assert_eq!(ids(&busy[0]["items"], "item_id"), ["late", "dinner"]);
    assert_eq!(
        view["free"],
        json!([
            { "starts_at": "2030-03-05T00:00:00Z", "ends_at": "2030-03-05T02:00:00Z" },
            { "starts_at": "2030-03-05T03:30:00Z", "ends_at": "2030-03-06T00:00:00Z" },
        ])
    );
    let doubles = view["double_bookings"].as_array().expect("double bookings");
    assert_eq!(doubles.len(), 1, "{view}");
    assert_eq!(doubles[0]["first"]["item_id"], "late");
    assert_eq!(doubles[0]["first"]["calendar"], "calendar-work");
    assert_eq!(doubles[0]["second"]["item_id"], "dinner");
    assert_eq!(doubles[0]["second"]["calendar"], "calendar-home");

    let quiet = ok(
        &fixture,
        "/api/v1/calendar/free-busy?from=2030-03-06T00:00:00Z&until=2030-03-07T00:00:00Z",
    )
    .await;
    assert_eq!(quiet["busy"], json!([]));
    assert_eq!(quiet["double_bookings"], json!([]));
}

async fn home_devices_show_reported_and_desired_state_and_scenes(fixture: Fixture) {
    let home = "home-flat";
    fixture
        .command(
            home,
            "RegisterDevice",
            json!({
                "device_id": "hall_lamp", "kind": "light", "room": "hall",
                "capabilities": [
                    { "attribute": "power" },
                    { "attribute": "brightness", "value": { "type": "number", "min": 0, "max": 100, "unit": "%" } },
                ],
            }),
        )
        .await;
    fixture
        .command(
            home,
            "RegisterDevice",
            json!({ "device_id": "desk_lamp", "kind": "light", "room": "study", "capabilities": [{ "attribute": "power" }] }),
        )
        .await;
    fixture
        .command(
            home,
            "ReportDeviceState",
            json!({ "device_id": "hall_lamp", "attributes": { "power": "on", "brightness": 80 } }),
        )
        .await;
    fixture
        .command(
            home,
            "RequestDeviceState",
            json!({ "request_id": "r1", "device_id": "hall_lamp", "attributes": { "brightness": 40 } }),
        )
        .await;
    fixture
        .command(
            home,
            "DefineScene",
            json!({
                "scene_id": "evening", "name": "Evening",
                "actions": [{ "device_id": "hall_lamp", "attributes": { "power": "on", "brightness": 40 } }],
            }),
        )
        .await;
    fixture.catch_up().await;

    let devices = ok(&fixture, "/api/v1/home/devices").await;
    assert_eq!(ids(&devices, "device_id"), ["hall_lamp", "desk_lamp"]);
    let hall = &devices[0];
    assert_eq!(hall["household"], "flat");
    assert_eq!(hall["kind"], "light");
    assert_eq!(hall["room"], "hall");
    assert_eq!(hall["reported"], json!({ "power": "on", "brightness": 80 }));
    assert!(hall["reported_at"].is_string(), "{hall}");
    assert_eq!(hall["desired"]["request_id"], "r1");
    assert_eq!(hall["desired"]["attributes"], json!({ "brightness": 40 }));
    assert_eq!(hall["desired"]["status"], "pending");
    let mut capabilities = ids(&hall["capabilities"], "attribute");
    capabilities.sort();
    assert_eq!(capabilities, ["brightness", "power"]);
    assert_eq!(devices[1]["reported"], json!({}));
    assert_eq!(devices[1]["desired"], Value::Null);

    let study = ok(&fixture, "/api/v1/home/devices?room=study").await;
    assert_eq!(ids(&study, "device_id"), ["desk_lamp"]);
    let elsewhere = ok(&fixture, "/api/v1/home/devices?household=cabin").await;
    assert_eq!(elsewhere, json!([]));

    let scenes = ok(&fixture, "/api/v1/home/scenes?household=flat").await;
    assert_eq!(ids(&scenes, "scene_id"), ["evening"]);
    assert_eq!(scenes[0]["name"], "Evening");
    assert_eq!(scenes[0]["actions"][0]["device_id"], "hall_lamp");
    assert_eq!(scenes[0]["activated_at"], Value::Null);
}

async fn groceries_show_the_list_and_the_pantry(fixture: Fixture) {
    fixture
        .command(
            "shoppinglist-home",
            "ListItem",
            json!({ "item": "milk", "quantity": 2, "unit": "l" }),
        )
        .await;
    fixture
        .command("shoppinglist-home", "ListItem", json!({ "item": "eggs" }))
        .await;
    fixture
        .command("shoppinglist-home", "CheckOff", json!({ "item": "eggs" }))
        .await;
    for (item, quantity) in [("rice", 2.0), ("oats", 5.0)] {
        fixture
            .command(
                "pantry-home",
                "StockItem",
                json!({ "item": item, "quantity": quantity, "unit": "kg" }),
            )
            .await;
    }
    fixture
        .command(
            "pantry-home",
            "SetReorderLevel",
            json!({ "item": "rice", "reorder_below": 3, "restock_to": 5 }),
        )
        .await;
    fixture.catch_up().await;

    let list = ok(&fixture, "/api/v1/groceries/shopping-list").await;
    assert_eq!(ids(&list, "item"), ["milk"]);
    assert_eq!(list[0]["household"], "home");
    assert_eq!(list[0]["quantity"], 2.0);
    assert_eq!(list[0]["unit"], "l");
    assert_eq!(list[0]["because"], "requested");
    let other = ok(&fixture, "/api/v1/groceries/shopping-list?household=cabin").await;
    assert_eq!(other, json!([]));

    let pantry = ok(&fixture, "/api/v1/groceries/pantry").await;
    assert_eq!(ids(&pantry, "item"), ["oats", "rice"]);
    let low = ok(&fixture, "/api/v1/groceries/pantry?low_only=true").await;
    assert_eq!(ids(&low, "item"), ["rice"]);
    assert_eq!(low[0]["low"], true);
    assert_eq!(low[0]["quantity"], 2.0);
    assert_eq!(low[0]["reorder_below"], 3.0);
    assert_eq!(low[0]["to_buy"], 3.0);
}

async fn maintenance_lists_due_and_overdue_tasks(fixture: Fixture) {
    let car = "asset-car";
    fixture
        .command(
            car,
            "RegisterAsset",
            json!({ "name": "Family car", "kind": "Car", "location": "garage", "usage_unit": "km" }),
        )
        .await;
    fixture
        .command(
            car,
            "AddMaintenanceTask",
            json!({ "task_id": "tyres", "title": "Rotate the tyres", "interval": { "every_months": 6 }, "first_due": "2020-01-01" }),
        )
        .await;
    fixture
        .command(
            car,
            "AddMaintenanceTask",
            json!({ "task_id": "service", "title": "Service", "interval": { "every_months": 12 } }),
        )
        .await;
    fixture.catch_up().await;

    let all = ok(&fixture, "/api/v1/maintenance/tasks").await;
    assert_eq!(ids(&all, "task_id"), ["tyres", "service"]);
    assert_eq!(all[0]["status"], "overdue");
    assert_eq!(all[0]["asset_id"], "car");
    assert_eq!(all[0]["asset_name"], "Family car");
    assert_eq!(all[0]["location"], "garage");
    assert_eq!(all[0]["due_since"], "2020-01-01");
    assert_eq!(all[1]["status"], "upcoming");
    let due = ok(&fixture, "/api/v1/maintenance/tasks?due_only=true").await;
    assert_eq!(ids(&due, "task_id"), ["tyres"]);
    let other = ok(&fixture, "/api/v1/maintenance/tasks?asset_id=boiler").await;
    assert_eq!(other, json!([]));
}

async fn travel_lists_trips_and_their_itineraries(fixture: Fixture) {
    let trip = "trip-lisbon";
    fixture
        .command(
            trip,
            "PlanTrip",
            json!({ "title": "Lisbon conference", "destination": "Lisbon", "starts_on": "2030-05-01", "ends_on": "2030-05-04" }),
        )
        .await;
    fixture
        .command(
            trip,
            "AddReservation",
            json!({
                "reservation_id": "out", "kind": "flight", "provider": "TAP", "number": "TP 1351",
                "from": "LHR", "to": "LIS",
                "departs_at": "2030-05-01T07:00:00+01:00", "arrives_at": "2030-05-01T09:40:00+01:00",
                "confirmation_code": "QX7T2P", "travellers": ["Eva Green"], "confirmed": true,
            }),
        )
        .await;
    fixture
        .command(
            trip,
            "AddReservation",
            json!({
                "reservation_id": "back", "kind": "flight", "provider": "TAP", "number": "TP 1352",
                "from": "LIS", "to": "LHR",
                "departs_at": "2030-05-04T18:00:00+01:00", "arrives_at": "2030-05-04T20:40:00+01:00",
            }),
        )
        .await;
    fixture
        .command(
            "trip-oslo",
            "PlanTrip",
            json!({ "title": "Oslo", "destination": "Oslo", "starts_on": "2029-01-01", "ends_on": "2029-01-03" }),
        )
        .await;
    fixture.catch_up().await;

    let trips = ok(&fixture, "/api/v1/travel/trips").await;
    assert_eq!(ids(&trips, "trip_id"), ["oslo", "lisbon"]);
    assert_eq!(trips[1]["title"], "Lisbon conference");
    assert_eq!(trips[1]["reservations"], 2);
    assert_eq!(trips[1]["issues"], 1);
    let upcoming = ok(
        &fixture,
        "/api/v1/travel/trips?ending_on_or_after=2030-01-01",
    )
    .await;
    assert_eq!(ids(&upcoming, "trip_id"), ["lisbon"]);

    let itinerary = ok(&fixture, "/api/v1/travel/trips/lisbon").await;
    assert_eq!(itinerary["trip"]["destination"], "Lisbon");
    assert_eq!(
        ids(&itinerary["segments"], "reservation_id"),
        ["out", "back"]
    );
    let out = &itinerary["segments"][0];
    assert_eq!(out["kind"], "flight");
    assert_eq!(out["state"], "confirmed");
    assert_eq!(out["number"], "TP 1351");
    assert_eq!(out["confirmation_code"], "QX7T2P");
    assert_eq!(out["travellers"], json!(["Eva Green"]));
    assert!(out["schedule"].is_object(), "{out}");
    assert_eq!(itinerary["segments"][1]["state"], "pending");
    assert_eq!(itinerary["issues"].as_array().map(Vec::len), Some(1));

    let (status, body) = get(&fixture, "/api/v1/travel/trips/nowhere").await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "not-found");
}

async fn goals_show_progress_pace_and_risk(fixture: Fixture) {
    let goal = "goal-run";
    fixture
        .command(
            goal,
            "SetGoal",
            json!({
                "title": "Run 1000 km", "metric": "distance run", "unit": "km",
                "baseline": 0, "target": 1000, "direction": "increase",
                "measure": "cumulative", "start": "2025-01-01", "deadline": "2099-12-31",
            }),
        )
        .await;
    fixture
        .command(
            goal,
            "RecordProgress",
            json!({ "value": 10, "on": "2025-06-01" }),
        )
        .await;
    fixture.command(goal, "CheckPace", json!({})).await;
    fixture
        .command(
            "goal-read",
            "SetGoal",
            json!({
                "title": "Read 10 books", "metric": "books", "unit": "books",
                "baseline": 0, "target": 10, "direction": "increase",
                "measure": "cumulative", "start": "2025-01-01", "deadline": "2099-12-31",
            }),
        )
        .await;
    fixture.command("goal-read", "AbandonGoal", json!({})).await;
    fixture.catch_up().await;

    let active = ok(&fixture, "/api/v1/goals").await;
    assert_eq!(ids(&active, "goal_id"), ["run"]);
    let run = &active[0];
    assert_eq!(run["status"], "active");
    assert_eq!(run["current"], 10.0);
    assert_eq!(run["progress"], 0.01);
    assert_eq!(run["direction"], "increase");
    assert_eq!(run["measure"], "cumulative");
    assert_eq!(run["pace"]["state"], "behind");
    assert_eq!(run["at_risk"], true);
    assert_eq!(run["latest_progress_on"], "2025-06-01");

    let all = ok(&fixture, "/api/v1/goals?include_closed=true").await;
    assert_eq!(ids(&all, "goal_id"), ["read", "run"]);
    assert_eq!(all[0]["status"], "abandoned");
    assert_eq!(all[0]["pace"], Value::Null);
}

async fn bad_parameters_name_themselves(fixture: Fixture) {
    fixture.catch_up().await;
    for (uri, field) in [
        ("/api/v1/inbox?view=junk", "view"),
        ("/api/v1/inbox?category=bills", "category"),
        ("/api/v1/inbox?min_priority=HIGH", "min_priority"),
        ("/api/v1/inbox?limit=0", "limit"),
        ("/api/v1/inbox?offset=-1", "offset"),
        ("/api/v1/inbox?colour=blue", "colour"),
        ("/api/v1/calendar/agenda?day=04/03/2030", "day"),
        (
            "/api/v1/calendar/free-busy?until=2030-03-05T00:00:00Z",
            "from",
        ),
        (
            "/api/v1/calendar/free-busy?from=2030-03-05T00:00:00Z",
            "until",
        ),
        (
            "/api/v1/calendar/free-busy?from=2030-03-05T00:00:00Z&until=2030-03-04T00:00:00Z",
            "until",
        ),
        (
            "/api/v1/calendar/free-busy?from=2030-01-01T00:00:00Z&until=2031-01-01T00:00:00Z",
            "until",
        ),
        ("/api/v1/calendar/free-busy?from=soon&until=later", "from"),
        ("/api/v1/groceries/pantry?low_only=yes", "low_only"),
        ("/api/v1/maintenance/tasks?due_only=1", "due_only"),
        (
            "/api/v1/travel/trips?ending_on_or_after=may",
            "ending_on_or_after",
        ),
        (
            "/api/v1/travel/trips?include_cancelled=maybe",
            "include_cancelled",
        ),
        ("/api/v1/goals?include_closed=all", "include_closed"),
        ("/api/v1/memory/search", "q"),
        ("/api/v1/memory/search?q=lunch&k=0", "k"),
        ("/api/v1/memory/search?q=lunch&k=101", "k"),
        ("/api/v1/memory/search?q=lunch&from=monday", "from"),
        ("/api/v1/memory/search?q=lunch&as_of=never", "as_of"),
    ] {
        let (status, body) = get(&fixture, uri).await;
        assert_problem(status, &body, StatusCode::BAD_REQUEST, "invalid-input");
        assert_eq!(body["field"], field, "{uri}: {body}");
    }
}

async fn read_models_not_built_yet_are_unavailable(fixture: Fixture) {
    // No catch-up: no read model has a live generation yet.
    for uri in ROUTES.iter().filter(|uri| !uri.contains("/memory/")) {
        let (status, body) = get(&fixture, uri).await;
        assert_problem(
            status,
            &body,
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
        );
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains("built")),
            "{uri}: {body}"
        );
    }
}

async fn reading_needs_the_read_models_scope(fixture: Fixture) {
    fixture.catch_up().await;
    let events_only = fixture.token("reader", &[Scope::EventsRead]).await;
    for uri in ROUTES {
        let (status, body) = get_with(fixture.state(), &events_only, uri).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(body["required_scope"], "read_models:read", "{uri}");
        let app = test::init_service(app(fixture.state())).await;
        let (status, _) = call(&app, TestRequest::get().uri(uri)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let reader = fixture.token("models", &[Scope::ReadModelsRead]).await;
    let (status, body) = get_with(fixture.state(), &reader, "/api/v1/goals").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn memory_search_finds_by_meaning_with_filters(fixture: Fixture) {
    let fixture = fixture.with_memory(embedder());
    // On, but not built yet.
    let (status, body) = get(&fixture, "/api/v1/memory/search?q=lunch").await;
    assert_problem(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );

    receive(
        &fixture,
        "m1",
        "Can we move lunch to Thursday?",
        "2030-01-07T08:30:00Z",
    )
    .await;
    receive(
        &fixture,
        "m2",
        "Your electricity bill is ready",
        "2030-01-07T09:00:00Z",
    )
    .await;
    fixture
        .command(
            "goal-run",
            "SetGoal",
            json!({
                "title": "Run a marathon", "metric": "distance run", "unit": "km",
                "baseline": 0, "target": 1000, "direction": "increase",
                "measure": "cumulative", "start": "2025-01-01", "deadline": "2099-12-31",
            }),
        )
        .await;
    fixture.catch_up().await;

    let found = ok(
        &fixture,
        "/api/v1/memory/search?q=rescheduling%20our%20midday%20meal&k=1",
    )
    .await;
    let hits = found["hits"].as_array().expect("hits");
    assert_eq!(hits.len(), 1, "{found}");
    assert_eq!(hits[0]["stream_id"], "message-m1");
    assert_eq!(hits[0]["domain"], "inbox");
    assert!(
        hits[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("lunch")),
        "{found}"
    );
    assert!(
        hits[0]["score"].as_f64().is_some_and(|s| s > 0.0),
        "{found}"
    );
    assert!(hits[0]["position"].is_string(), "{found}");

    let goals = ok(
        &fixture,
        "/api/v1/memory/search?q=rescheduling%20our%20midday%20meal&domain=goals",
    )
    .await;
    assert_eq!(ids(&goals["hits"], "stream_id"), ["goal-run"]);
    // Memories are recorded now: none before 2000.
    let long_ago = ok(
        &fixture,
        "/api/v1/memory/search?q=lunch&until=2000-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(long_ago["hits"], json!([]));

    // A memory recorded after the index was loaded is found too.
    receive(
        &fixture,
        "m3",
        "The plumber comes to fix the leaking tap",
        "2030-01-08T09:00:00Z",
    )
    .await;
    fixture.catch_up().await;
    let plumbing = ok(
        &fixture,
        "/api/v1/memory/search?q=water%20dripping%20in%20the%20kitchen&k=1",
    )
    .await;
    assert_eq!(ids(&plumbing["hits"], "stream_id"), ["message-m3"]);
}

async fn memory_search_is_unavailable_when_the_memory_is_off(fixture: Fixture) {
    fixture.catch_up().await;
    let (status, body) = get(&fixture, "/api/v1/memory/search?q=lunch").await;
    assert_problem(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("off")),
        "{body}"
    );
}
