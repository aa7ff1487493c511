//! A realistic event log for benchmarks: the domains' own aggregates decide
//! the events from commands, as the host would, across many streams.

use chrono::{DateTime, Duration as TimeDelta, TimeZone as _, Utc};
use serde_json::{Value, json};
use steward_actors::{Aggregate, CommandEnvelope, Context};
use steward_events::{NewEvent, StreamId, SubjectId};

/// Events for one stream, in order.
pub type StreamEvents = (StreamId, Vec<NewEvent>);

/// Decides `commands` against a fresh aggregate `A` in `stream`, folding
/// each decision in before the next, and returns the events.
fn decide_all<A: Aggregate>(
    stream: &str,
    now: DateTime<Utc>,
    commands: &[(&str, Value)],
) -> anyhow::Result<StreamEvents> {
    let stream_id = StreamId::parse(stream)?;
    let id = stream
        .split_once('-')
        .map_or(stream, |(_, id)| id)
        .to_owned();
    let owner = SubjectId::parse("owner")?;
    let mut state = A::default();
    let mut events = Vec::new();
    for (command_type, data) in commands {
        let envelope =
            CommandEnvelope::new(stream_id.clone(), *command_type, data.clone(), "user:bench");
        let command = envelope.typed::<A>()?;
        let decided = state
            .decide(command, &Context::new(id.clone(), now))
            .map_err(|rejection| anyhow::anyhow!("{stream} {command_type}: {rejection:?}"))?;
        for event in decided {
            state.apply(&event);
            let mut new = steward_events::domain::EventSet::to_new_event(&event)?;
            // As the host does: the owner is a subject of every personal part.
            if new.personal.is_some() && !new.metadata.subjects.contains(&owner) {
                new.metadata.subjects.push(owner.clone());
            }
            events.push(new);
        }
    }
    Ok((stream_id, events))
}

/// The `n`th scenario: a message triaged and archived, a shopping trip, a
/// pantry running low, a device reporting, a goal's progress, a meeting.
/// About five events each, with personal data where the domain has it.
pub fn scenario(n: usize) -> anyhow::Result<StreamEvents> {
    let base = Utc
        .with_ymd_and_hms(2030, 1, 7, 8, 0, 0)
        .single()
        .ok_or_else(|| anyhow::anyhow!("a valid instant"))?;
    let now = base + TimeDelta::minutes(i64::try_from(n % 100_000).unwrap_or(0));
    match n % 6 {
        0 => decide_all::<steward_actors::inbox::Message>(
            &format!("message-m{n}"),
            now,
            &[
                (
                    "Receive",
                    json!({
                        "message_id": format!("m{n}"),
                        "account": "personal",
                        "from": { "address": format!("friend{}@example.com", n % 97), "name": "Ana Lima" },
                        "to": [{ "address": "me@example.org" }],
                        "subject": format!("Lunch on Friday? ({n})"),
                        "body_text": "Shall we meet at noon by the river? I can bring the maps.",
                        "received_at": now.to_rfc3339(),
                    }),
                ),
                (
                    "Triage",
                    json!({ "category": "needs_reply", "priority": "high", "decided_by": { "by": "person" } }),
                ),
                ("Label", json!({ "label": "Friends" })),
                ("Label", json!({ "label": "Lunch" })),
                ("Archive", json!({})),
            ],
        ),
        1 => decide_all::<steward_actors::groceries::ShoppingList>(
            &format!("shoppinglist-s{n}"),
            now,
            &[
                ("ListItem", json!({ "item": "eggs" })),
                ("ListItem", json!({ "item": "oat milk" })),
                ("ListItem", json!({ "item": "coffee beans" })),
                ("CheckOff", json!({ "item": "eggs" })),
                ("CheckOff", json!({ "item": "oat milk" })),
            ],
        ),
        2 => decide_all::<steward_actors::groceries::Pantry>(
            &format!("pantry-p{n}"),
            now,
            &[
                (
                    "StockItem",
                    json!({ "item": "oat milk", "quantity": 3, "unit": "l" }),
                ),
                (
                    "SetReorderLevel",
                    json!({ "item": "oat milk", "reorder_below": 1, "restock_to": 4 }),
                ),
                ("UseItem", json!({ "item": "oat milk", "quantity": 1 })),
                ("UseItem", json!({ "item": "oat milk", "quantity": 1.5 })),
            ],
        ),
        3 => decide_all::<steward_actors::home::Home>(
            &format!("home-h{n}"),
            now,
            &[
                (
                    "RegisterDevice",
                    json!({
                        "device_id": "hall_lamp", "kind": "light", "room": "hall",
                        "capabilities": [
                            { "attribute": "power" },
                            { "attribute": "brightness", "value": { "type": "number", "min": 0, "max": 100, "unit": "%" } },
                        ],
                    }),
                ),
                (
                    "ReportDeviceState",
                    json!({ "device_id": "hall_lamp", "attributes": { "power": "on", "brightness": 80 } }),
                ),
                (
                    "ReportDeviceState",
                    json!({ "device_id": "hall_lamp", "attributes": { "power": "on", "brightness": 40 } }),
                ),
                (
                    "ReportDeviceState",
                    json!({ "device_id": "hall_lamp", "attributes": { "power": "off", "brightness": 0 } }),
                ),
            ],
        ),
        4 => decide_all::<steward_actors::goals::Goal>(
            &format!("goal-g{n}"),
            now,
            &[
                (
                    "SetGoal",
                    json!({
                        "title": "Run 1000 km", "metric": "distance run", "unit": "km",
                        "baseline": 0, "target": 1000, "direction": "increase",
                        "measure": "cumulative", "start": "2029-01-01", "deadline": "2030-12-31",
                    }),
                ),
                ("RecordProgress", json!({ "value": 10, "on": "2030-01-01" })),
                ("RecordProgress", json!({ "value": 12, "on": "2030-01-03" })),
                ("RecordProgress", json!({ "value": 8, "on": "2030-01-05" })),
            ],
        ),
        _ => decide_all::<steward_actors::calendar::Calendar>(
            &format!("calendar-c{n}"),
            now,
            &[
                (
                    "SetCalendarSettings",
                    json!({ "name": "Work", "time_zone": "Europe/London", "buffer_after_minutes": 10 }),
                ),
                (
                    "ScheduleEvent",
                    json!({
                        "event_id": "standup", "title": "Team stand-up",
                        "start": "2030-03-04T09:00:00", "end": "2030-03-04T09:15:00",
                        "attendees": [{ "email": "ana@example.com", "name": "Ana Lima" }],
                        "location": "Room 2",
                    }),
                ),
                (
                    "ScheduleEvent",
                    json!({
                        "event_id": "review", "title": "Quarterly review",
                        "start": "2030-03-05T14:00:00", "end": "2030-03-05T15:00:00",
                    }),
                ),
            ],
        ),
    }
}
