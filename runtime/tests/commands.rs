//! `steward command`: every domain driven end to end from the command line,
//! on the embedded SQLite store in a temporary directory.

use std::path::Path;

use predicates::prelude::*;
use serde_json::{Value, json};

mod support;
use support::{json_lines, steward};

/// Runs `steward command --json` and returns the outcome.
fn command(dir: &Path, stream: &str, command_type: &str, data: Value) -> Value {
    let output = steward(dir)
        .args(["command", stream, command_type, "--json", "--data"])
        .arg(data.to_string())
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{command_type} on {stream} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON outcome")
}

fn event_types(outcome: &Value) -> Vec<&str> {
    outcome["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event_type"].as_str().expect("a type"))
        .collect()
}

/// The data of the outcome's `index`th event.
fn data(outcome: &Value, index: usize) -> &Value {
    &outcome["events"][index]["data"]
}

/// The readable personal part of the outcome's `index`th event.
fn personal(outcome: &Value, index: usize) -> &Value {
    plain(&outcome["events"][index])
}

/// The readable personal part of an event envelope (outcome or log).
fn plain(event: &Value) -> &Value {
    let plain = &event["personal"]["plain"];
    assert!(plain.is_object(), "a plain personal part in {event}");
    plain
}

/// Runs a command the domain must refuse: exit 4, the rule named on
/// standard error, nothing on standard output.
fn rejected(dir: &Path, stream: &str, command_type: &str, data: Value, rule: &str) {
    steward(dir)
        .args(["command", stream, command_type, "--json", "--data"])
        .arg(data.to_string())
        .assert()
        .code(4)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(format!("rejected ({rule})")));
}

/// The stream's events as `steward events read --json` prints them.
fn read_stream(dir: &Path, stream: &str) -> Vec<Value> {
    let output = steward(dir)
        .args(["events", "read", stream, "--json"])
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "reading {stream} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    json_lines(&output.stdout)
}

/// Whether any file under `dir` holds `needle` as plain bytes.
fn any_file_contains(dir: &Path, needle: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            any_file_contains(&path, needle)
        } else {
            std::fs::read(&path).is_ok_and(|bytes| {
                bytes
                    .windows(needle.len())
                    .any(|window| window == needle.as_bytes())
            })
        }
    })
}

#[test]
fn groceries_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let stocked = command(
        dir,
        "pantry-home",
        "StockItem",
        json!({ "item": "oat milk", "quantity": 3, "unit": "l" }),
    );
    assert_eq!(event_types(&stocked), ["ItemStocked"]);
    let reorder = command(
        dir,
        "pantry-home",
        "SetReorderLevel",
        json!({ "item": "oat milk", "reorder_below": 1, "restock_to": 4 }),
    );
    assert_eq!(event_types(&reorder), ["ReorderLevelSet"]);
    let used = command(
        dir,
        "pantry-home",
        "UseItem",
        json!({ "item": "oat milk", "quantity": 2 }),
    );
    assert_eq!(event_types(&used), ["StockUsed", "StockRanLow"]);
    assert_eq!(used["version"], 3);

    let listed = command(
        dir,
        "shoppinglist-home",
        "ListItem",
        json!({ "item": "eggs" }),
    );
    assert_eq!(event_types(&listed), ["ItemListed"]);
    let bought = command(
        dir,
        "shoppinglist-home",
        "CheckOff",
        json!({ "item": "eggs" }),
    );
    assert_eq!(event_types(&bought), ["ItemCheckedOff"]);

    // The log holds what the commands decided, with the command ids.
    let events = read_stream(dir, "shoppinglist-home");
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["metadata"]["command_id"], bought["command_id"]);
    assert_eq!(events[1]["metadata"]["actor"], "user:cli");
}

#[test]
fn inbox_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();

    // The mailbox's triage rules: added, reordered, one removed.
    let rules = "triagerules-personal";
    let newsletters = command(
        dir,
        rules,
        "AddTriageRule",
        json!({
            "rule_id": "newsletters",
            "name": "Newsletters",
            "conditions": [{ "kind": "has_list_unsubscribe" }],
            "category": "newsletter",
            "priority": "low",
        }),
    );
    assert_eq!(event_types(&newsletters), ["TriageRuleAdded"]);
    assert_eq!(data(&newsletters, 0)["rule_id"], "newsletters");
    assert_eq!(personal(&newsletters, 0)["name"], "Newsletters");
    let boss = command(
        dir,
        rules,
        "AddTriageRule",
        json!({
            "rule_id": "boss",
            "name": "From the boss",
            "conditions": [{ "kind": "from_contains", "text": "boss@" }],
            "category": "urgent",
            "priority": "urgent",
        }),
    );
    assert_eq!(event_types(&boss), ["TriageRuleAdded"]);
    let reordered = command(
        dir,
        rules,
        "ReorderTriageRules",
        json!({ "rule_ids": ["boss", "newsletters"] }),
    );
    assert_eq!(event_types(&reordered), ["TriageRulesReordered"]);
    assert_eq!(
        data(&reordered, 0)["rule_ids"],
        json!(["boss", "newsletters"])
    );
    rejected(
        dir,
        rules,
        "ReorderTriageRules",
        json!({ "rule_ids": ["boss"] }),
        "order_mismatch",
    );
    let removed = command(
        dir,
        rules,
        "RemoveTriageRule",
        json!({ "rule_id": "newsletters" }),
    );
    assert_eq!(event_types(&removed), ["TriageRuleRemoved"]);
    rejected(
        dir,
        rules,
        "RemoveTriageRule",
        json!({ "rule_id": "newsletters" }),
        "unknown_rule",
    );

    // A message, from its arrival to a sent reply.
    let message = "message-m1";
    let body = "Shall we meet at noon by the river?";
    let received = command(
        dir,
        message,
        "Receive",
        json!({
            "message_id": "m1",
            "account": "personal",
            "from": { "address": "ana@example.com", "name": "Ana Lima" },
            "to": [{ "address": "me@example.org" }],
            "subject": "Lunch on Friday?",
            "body_text": body,
            "received_at": "2030-01-07T08:30:00Z",
        }),
    );
    assert_eq!(event_types(&received), ["MessageReceived"]);
    assert_eq!(data(&received, 0)["account"], "personal");
    assert_eq!(data(&received, 0)["thread_id"], "m1");
    assert!(
        data(&received, 0).get("body_text").is_none() && data(&received, 0).get("from").is_none(),
        "personal fields travel in the personal part only: {received}"
    );
    assert_eq!(personal(&received, 0)["from"]["address"], "ana@example.com");
    assert_eq!(personal(&received, 0)["from"]["name"], "Ana Lima");
    assert_eq!(personal(&received, 0)["body_text"], body);
    let triaged = command(
        dir,
        message,
        "Triage",
        json!({
            "category": "needs_reply",
            "priority": "high",
            "decided_by": { "by": "person" },
        }),
    );
    assert_eq!(event_types(&triaged), ["MessageTriaged"]);
    assert_eq!(data(&triaged, 0)["category"], "needs_reply");
    // The person's own triage sticks: a rule's later decision changes nothing.
    let by_rule = command(
        dir,
        message,
        "Triage",
        json!({
            "category": "fyi",
            "priority": "low",
            "decided_by": { "by": "rule", "rule_id": "boss" },
        }),
    );
    assert_eq!(event_types(&by_rule), Vec::<&str>::new());
    assert_eq!(by_rule["version"], triaged["version"]);
    let labelled = command(dir, message, "Label", json!({ "label": "Friends" }));
    assert_eq!(event_types(&labelled), ["MessageLabelled"]);
    let until = "2030-01-08T07:00:00Z";
    let snoozed = command(dir, message, "Snooze", json!({ "until": until }));
    assert_eq!(event_types(&snoozed), ["MessageSnoozed"]);
    assert_eq!(data(&snoozed, 0)["until"], until);
    rejected(
        dir,
        message,
        "Snooze",
        json!({ "until": "2001-01-01T00:00:00Z" }),
        "snooze_in_past",
    );
    // What the timer sends when the snooze ends.
    let woken = command(dir, message, "EndSnooze", json!({ "until": until }));
    assert_eq!(event_types(&woken), ["MessageSnoozeEnded"]);
    let drafted = command(
        dir,
        message,
        "DraftReply",
        json!({ "draft_id": "d1", "body_text": "Noon works, see you there." }),
    );
    assert_eq!(event_types(&drafted), ["ReplyDrafted"]);
    assert_eq!(personal(&drafted, 0)["to"][0]["address"], "ana@example.com");
    assert_eq!(personal(&drafted, 0)["subject"], "Re: Lunch on Friday?");
    let requested = command(dir, message, "RequestSend", json!({ "draft_id": "d1" }));
    assert_eq!(event_types(&requested), ["ReplySendRequested"]);
    assert_eq!(data(&requested, 0)["in_reply_to"], "m1");
    let sent = command(
        dir,
        message,
        "RecordSent",
        json!({
            "draft_id": "d1",
            "sent_message_id": "smtp-1",
            "sent_at": "2030-01-08T08:00:00Z",
        }),
    );
    assert_eq!(event_types(&sent), ["ReplySent"]);
    rejected(
        dir,
        message,
        "DraftReply",
        json!({ "draft_id": "d1", "body_text": "Or one o'clock?" }),
        "already_sent",
    );
    rejected(dir, "message-m2", "Archive", json!({}), "unknown_message");

    // The log reads the personal part back plain, with the sender as a
    // subject, while the store on disk holds it sealed.
    let events = read_stream(dir, message);
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["event_type"].as_str().expect("a type"))
        .collect();
    assert_eq!(
        types,
        [
            "MessageReceived",
            "MessageTriaged",
            "MessageLabelled",
            "MessageSnoozed",
            "MessageSnoozeEnded",
            "ReplyDrafted",
            "ReplySendRequested",
            "ReplySent",
        ]
    );
    assert_eq!(plain(&events[0])["body_text"], body);
    assert_eq!(plain(&events[0])["from"]["address"], "ana@example.com");
    let subjects = events[0]["metadata"]["subjects"].to_string();
    assert!(
        subjects.contains("contact:ana@example.com"),
        "the sender is a subject: {subjects}"
    );
    assert!(
        any_file_contains(dir, "MessageSnoozeEnded"),
        "the store is under the working directory"
    );
    assert!(
        !any_file_contains(dir, body),
        "the message body is sealed at rest"
    );
}

#[test]
fn calendar_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let calendar = "calendar-work";
    let weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday"];
    let working_hours: Vec<Value> = weekdays
        .iter()
        .map(|day| json!({ "day": day, "start": "09:00:00", "end": "17:00:00" }))
        .collect();
    let settings = command(
        dir,
        calendar,
        "SetCalendarSettings",
        json!({
            "name": "Work",
            "time_zone": "Europe/London",
            "working_hours": working_hours,
            "buffer_after_minutes": 10,
        }),
    );
    assert_eq!(event_types(&settings), ["CalendarSettingsSet"]);
    assert_eq!(data(&settings, 0)["time_zone"], "Europe/London");

    // A weekly stand-up, with an attendee (personal) and a place.
    let standup = command(
        dir,
        calendar,
        "ScheduleEvent",
        json!({
            "event_id": "standup",
            "title": "Team stand-up",
            "start": "2030-03-04T09:00:00",
            "end": "2030-03-04T09:15:00",
            "recurrence": "FREQ=WEEKLY;BYDAY=MO",
            "attendees": [{ "email": "ana@example.com", "name": "Ana Lima" }],
            "location": "Room 2",
        }),
    );
    assert_eq!(event_types(&standup), ["CalendarEventScheduled"]);
    // London keeps GMT until the last Sunday of March.
    assert_eq!(data(&standup, 0)["starts_at"], "2030-03-04T09:00:00Z");
    assert_eq!(
        personal(&standup, 0)["attendees"][0]["email"],
        "ana@example.com"
    );
    assert_eq!(personal(&standup, 0)["location"], "Room 2");

    // 09:20 falls into the ten minutes kept free after the stand-up.
    let review = json!({
        "event_id": "review",
        "title": "Design review",
        "start": "2030-03-04T09:20:00",
        "end": "2030-03-04T10:00:00",
    });
    rejected(
        dir,
        calendar,
        "ScheduleEvent",
        review.clone(),
        "double_booked",
    );
    let mut forced = review;
    forced["force"] = json!(true);
    let forced = command(dir, calendar, "ScheduleEvent", forced);
    assert_eq!(event_types(&forced), ["CalendarEventScheduled"]);
    assert_eq!(data(&forced, 0)["double_booked_with"], json!(["standup"]));
    let moved = command(
        dir,
        calendar,
        "RescheduleEvent",
        json!({
            "event_id": "review",
            "start": "2030-03-04T10:00:00",
            "end": "2030-03-04T11:00:00",
        }),
    );
    assert_eq!(event_types(&moved), ["CalendarEventRescheduled"]);
    assert_eq!(data(&moved, 0)["double_booked_with"], json!([]));

    let rsvp = command(
        dir,
        calendar,
        "RecordRsvp",
        json!({ "event_id": "standup", "email": "Ana@Example.com", "response": "accepted" }),
    );
    assert_eq!(event_types(&rsvp), ["CalendarRsvpRecorded"]);
    assert_eq!(personal(&rsvp, 0)["email"], "ana@example.com");
    rejected(
        dir,
        calendar,
        "RecordRsvp",
        json!({ "event_id": "standup", "email": "bo@example.com", "response": "declined" }),
        "not_an_attendee",
    );
    let skipped = command(
        dir,
        calendar,
        "CancelEvent",
        json!({ "event_id": "standup", "occurrence_start": "2030-03-11T09:00:00" }),
    );
    assert_eq!(event_types(&skipped), ["CalendarOccurrenceCancelled"]);

    // An invitation received, then answered.
    let invited = command(
        dir,
        calendar,
        "ScheduleEvent",
        json!({
            "event_id": "offsite",
            "title": "Planning offsite",
            "start": "2030-03-05T14:00:00",
            "end": "2030-03-05T16:00:00",
            "organizer": "lee@example.com",
        }),
    );
    assert_eq!(event_types(&invited), ["CalendarEventScheduled"]);
    assert_eq!(data(&invited, 0)["invitation"], true);
    assert_eq!(personal(&invited, 0)["organizer"], "lee@example.com");
    let answered = command(
        dir,
        calendar,
        "RespondToInvite",
        json!({ "event_id": "offsite", "response": "accepted" }),
    );
    assert_eq!(event_types(&answered), ["CalendarInviteResponded"]);
    rejected(
        dir,
        calendar,
        "RespondToInvite",
        json!({ "event_id": "review", "response": "accepted" }),
        "not_an_invite",
    );
    let cancelled = command(
        dir,
        calendar,
        "CancelEvent",
        json!({ "event_id": "review" }),
    );
    assert_eq!(event_types(&cancelled), ["CalendarEventCancelled"]);
    assert_eq!(cancelled["version"], 8);
}

#[test]
fn home_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let home = "home-flat";
    let lamp = command(
        dir,
        home,
        "RegisterDevice",
        json!({
            "device_id": "hall_lamp",
            "kind": "light",
            "room": "hall",
            "capabilities": [
                { "attribute": "power" },
                { "attribute": "brightness", "value": { "type": "number", "min": 0, "max": 100, "unit": "%" } },
            ],
        }),
    );
    assert_eq!(event_types(&lamp), ["DeviceRegistered"]);
    let sensor = command(
        dir,
        home,
        "RegisterDevice",
        json!({ "device_id": "landing_motion", "kind": "sensor", "room": "landing" }),
    );
    assert_eq!(event_types(&sensor), ["DeviceRegistered"]);

    // A report is a fact; the same report again records nothing.
    let report =
        json!({ "device_id": "hall_lamp", "attributes": { "power": "off", "brightness": 0 } });
    let reported = command(dir, home, "ReportDeviceState", report.clone());
    assert_eq!(event_types(&reported), ["DeviceStateReported"]);
    let repeated = command(dir, home, "ReportDeviceState", report);
    assert_eq!(event_types(&repeated), Vec::<&str>::new());

    // A desired state must fit the device; the actuator settles it.
    rejected(
        dir,
        home,
        "RequestDeviceState",
        json!({ "request_id": "r1", "device_id": "hall_lamp", "attributes": { "brightness": 150 } }),
        "value_out_of_range",
    );
    let requested = command(
        dir,
        home,
        "RequestDeviceState",
        json!({ "request_id": "r1", "device_id": "hall_lamp", "attributes": { "power": "on", "brightness": 60 } }),
    );
    assert_eq!(event_types(&requested), ["DesiredStateRequested"]);
    let applied = command(
        dir,
        home,
        "RecordStateApplied",
        json!({ "request_id": "r1" }),
    );
    assert_eq!(event_types(&applied), ["DesiredStateApplied"]);

    // A scene asks each of its devices for a state.
    let scene = command(
        dir,
        home,
        "DefineScene",
        json!({
            "scene_id": "evening",
            "name": "Evening",
            "actions": [{ "device_id": "hall_lamp", "attributes": { "power": "on", "brightness": 40 } }],
        }),
    );
    assert_eq!(event_types(&scene), ["SceneDefined"]);
    let activated = command(
        dir,
        home,
        "ActivateScene",
        json!({ "scene_id": "evening", "activation_id": "a1" }),
    );
    assert_eq!(
        event_types(&activated),
        ["SceneActivated", "DesiredStateRequested"]
    );
    assert_eq!(data(&activated, 1)["request_id"], "a1/hall_lamp");
    let failed = command(
        dir,
        home,
        "RecordStateFailed",
        json!({ "request_id": "a1/hall_lamp", "reason": "unreachable" }),
    );
    assert_eq!(event_types(&failed), ["DesiredStateFailed"]);

    // Routines: on an event, and at a time of day (due for the timer).
    let on_motion = command(
        dir,
        home,
        "DefineRoutine",
        json!({
            "routine_id": "night_light",
            "name": "Night light",
            "trigger": {
                "type": "event",
                "event_type": "DeviceStateReported",
                "device_id": "landing_motion",
                "attribute": { "name": "motion", "equals": true },
            },
            "scene_id": "evening",
        }),
    );
    assert_eq!(event_types(&on_motion), ["RoutineDefined"]);
    assert_eq!(data(&on_motion, 0)["next_run_at"], Value::Null);
    let mornings = command(
        dir,
        home,
        "DefineRoutine",
        json!({
            "routine_id": "mornings",
            "name": "Weekday mornings",
            "trigger": {
                "type": "time_of_day",
                "time": "07:30:00",
                "weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                "zone": "Europe/Paris",
            },
            "scene_id": "evening",
        }),
    );
    assert_eq!(event_types(&mornings), ["RoutineDefined"]);
    assert_eq!(data(&mornings, 0)["version"], 1);
    assert!(data(&mornings, 0)["next_run_at"].is_string(), "{mornings}");
    let run = json!({ "routine_id": "mornings", "version": 1, "run_id": "run-1" });
    let ran = command(dir, home, "RunRoutine", run.clone());
    assert_eq!(
        event_types(&ran),
        ["RoutineRan", "SceneActivated", "DesiredStateRequested"]
    );
    assert_eq!(data(&ran, 1)["routine_id"], "mornings");
    // A timer that fires twice runs the routine once.
    assert_eq!(
        event_types(&command(dir, home, "RunRoutine", run)),
        Vec::<&str>::new()
    );
    rejected(
        dir,
        home,
        "RemoveScene",
        json!({ "scene_id": "evening" }),
        "scene_in_use",
    );
    let disabled = command(
        dir,
        home,
        "DisableRoutine",
        json!({ "routine_id": "mornings" }),
    );
    assert_eq!(event_types(&disabled), ["RoutineDisabled"]);
    let moved = command(
        dir,
        home,
        "MoveDevice",
        json!({ "device_id": "hall_lamp", "room": "living room" }),
    );
    assert_eq!(event_types(&moved), ["DeviceMoved"]);
    rejected(
        dir,
        home,
        "MoveDevice",
        json!({ "device_id": "garage_door", "room": "garage" }),
        "unknown_device",
    );
}

#[test]
fn travel_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let trip = "trip-lisbon";
    let outbound = json!({
        "reservation_id": "out",
        "kind": "flight",
        "provider": "TAP",
        "number": "TP 1351",
        "from": "LHR",
        "to": "LIS",
        "departs_at": "2030-05-01T07:00:00+01:00",
        "arrives_at": "2030-05-01T09:40:00+01:00",
        "confirmation_code": "QX7T2P",
        "travellers": ["Eva Green"],
        "confirmed": true,
    });
    rejected(
        dir,
        trip,
        "AddReservation",
        outbound.clone(),
        "trip_not_planned",
    );
    let planned = command(
        dir,
        trip,
        "PlanTrip",
        json!({
            "title": "Lisbon conference",
            "destination": "Lisbon",
            "starts_on": "2030-05-01",
            "ends_on": "2030-05-04",
        }),
    );
    assert_eq!(event_types(&planned), ["TripPlanned"]);

    let out = command(dir, trip, "AddReservation", outbound);
    assert_eq!(
        event_types(&out),
        ["ReservationAdded", "ReservationConfirmed"]
    );
    assert_eq!(data(&out, 0)["number"], "TP 1351");
    assert_eq!(personal(&out, 0)["confirmation_code"], "QX7T2P");
    assert_eq!(personal(&out, 0)["travellers"], json!(["Eva Green"]));

    // Home three nights later, with no hotel yet: the itinerary says so.
    let back = command(
        dir,
        trip,
        "AddReservation",
        json!({
            "reservation_id": "back",
            "kind": "flight",
            "provider": "TAP",
            "number": "TP 1352",
            "from": "LIS",
            "to": "LHR",
            "departs_at": "2030-05-04T18:00:00+01:00",
            "arrives_at": "2030-05-04T20:40:00+01:00",
        }),
    );
    assert_eq!(
        event_types(&back),
        ["ReservationAdded", "ItineraryIssueFound"]
    );
    let issue = data(&back, 1);
    assert_eq!(issue["key"], "nights_uncovered:out:back");
    assert_eq!(
        issue["issue"]["nights"],
        json!([{ "first": "2030-05-01", "last": "2030-05-03" }])
    );
    rejected(
        dir,
        trip,
        "AddReservation",
        json!({
            "reservation_id": "hotel",
            "kind": "hotel",
            "provider": "Hotel Avenida",
            "check_in": "2030-05-04",
            "check_out": "2030-05-01",
        }),
        "check_out_not_after_check_in",
    );
    let hotel = command(
        dir,
        trip,
        "AddReservation",
        json!({
            "reservation_id": "hotel",
            "kind": "hotel",
            "provider": "Hotel Avenida",
            "check_in": "2030-05-01",
            "check_out": "2030-05-04",
            "address": "Avenida da Liberdade 1, Lisboa",
        }),
    );
    assert_eq!(
        event_types(&hotel),
        ["ReservationAdded", "ItineraryIssueResolved"]
    );
    assert_eq!(data(&hotel, 1)["key"], "nights_uncovered:out:back");
    let confirmed = command(
        dir,
        trip,
        "ConfirmReservation",
        json!({ "reservation_id": "hotel", "confirmation_code": "H-99812" }),
    );
    assert_eq!(event_types(&confirmed), ["ReservationConfirmed"]);
    assert_eq!(personal(&confirmed, 0)["confirmation_code"], "H-99812");

    let called_off = command(dir, trip, "CancelTrip", json!({}));
    assert_eq!(
        event_types(&called_off),
        [
            "ReservationCancelled",
            "ReservationCancelled",
            "ReservationCancelled",
            "TripCancelled"
        ]
    );
    rejected(
        dir,
        trip,
        "SetMinimumConnection",
        json!({ "minutes": 60 }),
        "trip_cancelled",
    );

    let events = read_stream(dir, trip);
    assert_eq!(events.len(), 12);
    assert_eq!(events[1]["event_type"], "ReservationAdded");
    assert_eq!(plain(&events[1])["confirmation_code"], "QX7T2P");
}

#[test]
fn appointments_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let dentist = "appointment-dentist";
    rejected(
        dir,
        dentist,
        "ProposeTime",
        json!({ "starts_at": "2030-06-03T10:00:00Z" }),
        "not_requested",
    );
    rejected(
        dir,
        dentist,
        "RequestAppointment",
        json!({
            "provider_name": "Dr Silva's practice",
            "purpose": "Check-up",
            "preferred_windows": [{ "starts_at": "2001-06-03T09:00:00Z", "ends_at": "2001-06-03T12:00:00Z" }],
            "duration_minutes": 30,
        }),
        "window_in_past",
    );
    let requested = command(
        dir,
        dentist,
        "RequestAppointment",
        json!({
            "provider_name": "Dr Silva's practice",
            "provider_contact": "+44 20 7946 0000",
            "purpose": "Check-up",
            "preferred_windows": [
                { "starts_at": "2030-06-05T14:00:00Z", "ends_at": "2030-06-05T17:00:00Z" },
                { "starts_at": "2030-06-03T09:00:00Z", "ends_at": "2030-06-03T12:00:00Z" },
            ],
            "duration_minutes": 30,
            "respond_by": "2030-05-20T17:00:00Z",
        }),
    );
    assert_eq!(event_types(&requested), ["AppointmentRequested"]);
    assert_eq!(
        data(&requested, 0)["preferred_windows"][0]["starts_at"],
        "2030-06-03T09:00:00Z"
    );
    assert_eq!(
        personal(&requested, 0)["provider_name"],
        "Dr Silva's practice"
    );
    assert_eq!(personal(&requested, 0)["purpose"], "Check-up");

    let outside = command(
        dir,
        dentist,
        "ProposeTime",
        json!({ "starts_at": "2030-06-04T10:00:00Z" }),
    );
    assert_eq!(event_types(&outside), ["AppointmentTimeProposed"]);
    assert_eq!(data(&outside, 0)["fits_preferences"], false);
    let inside = command(
        dir,
        dentist,
        "ProposeTime",
        json!({ "starts_at": "2030-06-03T10:00:00Z" }),
    );
    assert_eq!(event_types(&inside), ["AppointmentTimeProposed"]);
    assert_eq!(data(&inside, 0)["fits_preferences"], true);
    assert_eq!(data(&inside, 0)["ends_at"], "2030-06-03T10:30:00Z");
    // The deadline's timer, fired after the provider answered: nothing.
    let expired = command(dir, dentist, "ExpireRequest", json!({}));
    assert_eq!(event_types(&expired), Vec::<&str>::new());
    let confirmed = command(dir, dentist, "ConfirmAppointment", json!({}));
    assert_eq!(event_types(&confirmed), ["AppointmentConfirmed"]);
    assert_eq!(data(&confirmed, 0)["starts_at"], "2030-06-03T10:00:00Z");
    assert_eq!(
        personal(&confirmed, 0)["provider_contact"],
        "+44 20 7946 0000"
    );
    rejected(
        dir,
        dentist,
        "ConfirmAppointment",
        json!({ "starts_at": "2030-06-05T14:00:00Z" }),
        "already_confirmed",
    );
    let cancelled = command(
        dir,
        dentist,
        "CancelAppointment",
        json!({ "reason": "Moving away" }),
    );
    assert_eq!(event_types(&cancelled), ["AppointmentCancelled"]);
    assert_eq!(data(&cancelled, 0)["was_confirmed"], true);

    // A provider that says no.
    let plumber = "appointment-plumber";
    let asked = command(
        dir,
        plumber,
        "RequestAppointment",
        json!({
            "provider_name": "Quick Plumbing",
            "purpose": "Leaking tap",
            "preferred_windows": [{ "starts_at": "2030-06-10T08:00:00Z", "ends_at": "2030-06-10T18:00:00Z" }],
            "duration_minutes": 60,
        }),
    );
    assert_eq!(event_types(&asked), ["AppointmentRequested"]);
    let declined = command(
        dir,
        plumber,
        "DeclineAppointment",
        json!({ "reason": "Fully booked" }),
    );
    assert_eq!(event_types(&declined), ["AppointmentDeclined"]);
    rejected(
        dir,
        plumber,
        "CancelAppointment",
        json!({}),
        "appointment_closed",
    );
}

#[test]
fn goals_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let goal = "goal-run";
    // Started long ago with little done: the pace check finds it at risk
    // whatever today is (before the deadline).
    let definition = json!({
        "title": "Run 1000 km",
        "metric": "distance run",
        "unit": "km",
        "baseline": 0,
        "target": 1000,
        "direction": "increase",
        "measure": "cumulative",
        "start": "2024-01-01",
        "deadline": "2030-12-31",
    });
    let set = command(dir, goal, "SetGoal", definition.clone());
    assert_eq!(event_types(&set), ["GoalSet"]);
    let mut other = definition;
    other["title"] = json!("Run 2000 km");
    rejected(dir, goal, "SetGoal", other, "goal_already_set");

    let progress = command(dir, goal, "RecordProgress", json!({ "value": 10 }));
    assert_eq!(event_types(&progress), ["GoalProgressRecorded"]);
    assert_eq!(data(&progress, 0)["current"], 10.0);
    rejected(
        dir,
        goal,
        "RecordProgress",
        json!({ "value": 5, "on": "2099-01-01" }),
        "progress_in_future",
    );
    let at_risk = command(dir, goal, "CheckPace", json!({}));
    assert_eq!(event_types(&at_risk), ["GoalAtRisk"]);
    let pace = data(&at_risk, 0);
    assert!(
        pace["needed_per_day"].as_f64() > pace["observed_per_day"].as_f64(),
        "{pace}"
    );
    // The daily check records a change once.
    assert_eq!(
        event_types(&command(dir, goal, "CheckPace", json!({}))),
        Vec::<&str>::new()
    );
    let reached = command(dir, goal, "RecordProgress", json!({ "value": 995 }));
    assert_eq!(
        event_types(&reached),
        ["GoalProgressRecorded", "GoalTargetReached"]
    );
    assert_eq!(data(&reached, 1)["current"], 1005.0);
    let on_track = command(dir, goal, "CheckPace", json!({}));
    assert_eq!(event_types(&on_track), ["GoalBackOnTrack"]);
    let raised = command(dir, goal, "AdjustTarget", json!({ "target": 1500 }));
    assert_eq!(event_types(&raised), ["GoalTargetAdjusted"]);
    let later = command(
        dir,
        goal,
        "AdjustDeadline",
        json!({ "deadline": "2031-06-30" }),
    );
    assert_eq!(event_types(&later), ["GoalDeadlineAdjusted"]);
    let completed = command(dir, goal, "CompleteGoal", json!({}));
    assert_eq!(event_types(&completed), ["GoalCompleted"]);
    assert_eq!(data(&completed, 0)["target_reached"], false);
    rejected(
        dir,
        goal,
        "RecordProgress",
        json!({ "value": 1 }),
        "goal_closed",
    );

    // A habit keeps a streak of days with progress.
    let habit = "goal-meditate";
    let set = command(
        dir,
        habit,
        "SetGoal",
        json!({
            "title": "Meditate",
            "metric": "minutes",
            "target": 3000,
            "direction": "increase",
            "measure": "cumulative",
            "deadline": "2030-12-31",
            "habit": true,
        }),
    );
    assert_eq!(event_types(&set), ["GoalSet"]);
    let sat = command(dir, habit, "RecordProgress", json!({ "value": 20 }));
    assert_eq!(
        event_types(&sat),
        ["GoalProgressRecorded", "GoalStreakExtended"]
    );
    assert_eq!(data(&sat, 1)["length"], 1);
    let abandoned = command(
        dir,
        habit,
        "AbandonGoal",
        json!({ "reason": "Too little time" }),
    );
    assert_eq!(event_types(&abandoned), ["GoalAbandoned"]);
    assert_eq!(personal(&abandoned, 0)["reason"], "Too little time");
}

#[test]
fn maintenance_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let car = "asset-car";
    rejected(
        dir,
        car,
        "RecordUsage",
        json!({ "reading": 1 }),
        "asset_not_registered",
    );
    let registered = command(
        dir,
        car,
        "RegisterAsset",
        json!({ "name": "Family car", "kind": "Car", "location": "garage", "usage_unit": "km" }),
    );
    assert_eq!(event_types(&registered), ["AssetRegistered"]);
    assert_eq!(data(&registered, 0)["kind"], "car");
    let read = command(dir, car, "RecordUsage", json!({ "reading": 42000 }));
    assert_eq!(event_types(&read), ["AssetUsageRecorded"]);

    // Every twelve months or 15 000 km, whichever comes first.
    let oil = command(
        dir,
        car,
        "AddMaintenanceTask",
        json!({
            "task_id": "oil_change",
            "title": "Change the oil",
            "interval": { "every_months": 12, "every_usage": 15000 },
        }),
    );
    assert_eq!(event_types(&oil), ["MaintenanceTaskAdded"]);
    assert_eq!(data(&oil, 0)["due_usage"], 57000.0);
    assert!(data(&oil, 0)["due_on"].is_string(), "{oil}");
    // First due long ago: due and overdue at once.
    let tyres = command(
        dir,
        car,
        "AddMaintenanceTask",
        json!({
            "task_id": "tyres",
            "title": "Rotate the tyres",
            "interval": { "every_months": 6 },
            "first_due": "2020-01-01",
        }),
    );
    assert_eq!(
        event_types(&tyres),
        [
            "MaintenanceTaskAdded",
            "MaintenanceTaskFellDue",
            "MaintenanceTaskOverdue"
        ]
    );
    assert_eq!(data(&tyres, 2)["overdue_on"], "2020-01-08");

    let driven = command(dir, car, "RecordUsage", json!({ "reading": 57500 }));
    assert_eq!(
        event_types(&driven),
        ["AssetUsageRecorded", "MaintenanceTaskFellDue"]
    );
    assert_eq!(data(&driven, 1)["task_id"], "oil_change");
    assert_eq!(data(&driven, 1)["because"], "usage");
    // The timer's daily check finds nothing new.
    assert_eq!(
        event_types(&command(dir, car, "CheckDue", json!({}))),
        Vec::<&str>::new()
    );
    rejected(
        dir,
        car,
        "RecordUsage",
        json!({ "reading": 50000 }),
        "usage_decreased",
    );
    rejected(
        dir,
        car,
        "RecordTaskDone",
        json!({ "task_id": "oil_change", "at": "2099-01-01T00:00:00Z" }),
        "done_in_future",
    );
    let done = command(
        dir,
        car,
        "RecordTaskDone",
        json!({ "task_id": "oil_change", "usage_reading": 57600 }),
    );
    assert_eq!(event_types(&done), ["MaintenanceTaskDone"]);
    assert_eq!(data(&done, 0)["due_usage"], 72600.0);
    let removed = command(dir, car, "RemoveTask", json!({ "task_id": "tyres" }));
    assert_eq!(event_types(&removed), ["MaintenanceTaskRemoved"]);
    let retired = command(dir, car, "RetireAsset", json!({}));
    assert_eq!(event_types(&retired), ["AssetRetired"]);
    rejected(
        dir,
        car,
        "AddMaintenanceTask",
        json!({ "task_id": "wash", "title": "Wash it", "interval": { "every_days": 30 } }),
        "asset_retired",
    );
}

#[test]
fn timers_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();

    // A snooze's timer, set twice (a saga's retry), not yet due, called off.
    let snooze = "timer-snooze-m1";
    let schedule = json!({
        "due_at": "2030-01-08T07:00:00Z",
        "target": "message-m1",
        "command_type": "EndSnooze",
        "data": { "until": "2030-01-08T07:00:00Z" },
    });
    let set = command(dir, snooze, "Schedule", schedule.clone());
    assert_eq!(event_types(&set), ["TimerScheduled"]);
    assert_eq!(data(&set, 0)["timer_id"], "snooze-m1");
    assert_eq!(data(&set, 0)["target"], "message-m1");
    assert_eq!(data(&set, 0)["command_type"], "EndSnooze");
    assert_eq!(
        event_types(&command(dir, snooze, "Schedule", schedule.clone())),
        Vec::<&str>::new()
    );
    rejected(
        dir,
        snooze,
        "Fire",
        json!({ "outcome": "sent" }),
        "timer_not_due",
    );
    let cancelled = command(dir, snooze, "Cancel", json!({}));
    assert_eq!(event_types(&cancelled), ["TimerCancelled"]);
    rejected(dir, snooze, "Schedule", schedule, "timer_cancelled");

    // A timer already due fires once, however often the worker says so.
    let check = "timer-goal-run-pace";
    let set = command(
        dir,
        check,
        "Schedule",
        json!({ "due_at": "2020-01-01T00:00:00Z", "target": "goal-run", "command_type": "CheckPace" }),
    );
    assert_eq!(event_types(&set), ["TimerScheduled"]);
    let fired = command(dir, check, "Fire", json!({ "outcome": "sent" }));
    assert_eq!(event_types(&fired), ["TimerFired"]);
    assert_eq!(data(&fired, 0)["due_at"], "2020-01-01T00:00:00Z");
    assert_eq!(data(&fired, 0)["outcome"], "sent");
    assert_eq!(
        event_types(&command(dir, check, "Fire", json!({ "outcome": "sent" }))),
        Vec::<&str>::new()
    );
    rejected(dir, "timer-nothing", "Cancel", json!({}), "unknown_timer");
}

#[test]
fn a_repeated_command_id_prints_the_first_result_and_appends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let send = || {
        steward(dir.path())
            .args([
                "command",
                "shoppinglist-home",
                "ListItem",
                "--command-id",
                "c-42",
            ])
            .args(["--data", r#"{"item":"tea"}"#])
            .assert()
            .success()
    };
    send().stdout(predicate::str::contains("shoppinglist-home@0 ItemListed"));
    send().stdout(
        predicate::str::contains("command c-42 was already handled")
            .and(predicate::str::contains("shoppinglist-home@0 ItemListed")),
    );
    steward(dir.path())
        .args(["events", "read", "shoppinglist-home"])
        .assert()
        .success()
        .stdout(predicate::function(|out: &str| out.lines().count() == 1));
}

#[test]
fn a_rejection_exits_4_naming_the_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    steward(dir.path())
        .args([
            "command",
            "shoppinglist-home",
            "CheckOff",
            "--data",
            r#"{"item":"tea"}"#,
        ])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("rejected (not_on_list)"));
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&[&str], &str); 6] = [
        (&["no_dash", "ListItem"], "stream"),
        (
            &["garden-home", "Water"],
            "no aggregate lives in `garden-…` streams",
        ),
        (&["shoppinglist-home", "BuyAll"], "has no command `BuyAll`"),
        (
            &["shoppinglist-home", "ListItem", "--data", "{"],
            "--data is not JSON",
        ),
        (
            &["shoppinglist-home", "ListItem", "--data", "[1]"],
            "must be a JSON object",
        ),
        (
            &[
                "shoppinglist-home",
                "ListItem",
                "--data",
                r#"{"item":"tea","colour":"green"}"#,
            ],
            "unknown field `colour`",
        ),
    ];
    for (args, message) in cases {
        steward(dir.path())
            .arg("command")
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
    steward(dir.path())
        .args(["events", "read", "shoppinglist-home"])
        .assert()
        .success()
        .stdout(predicate::str::is_empty());
}
