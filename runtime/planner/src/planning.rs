//! [`decide`]: from what a request asks ([`Recognition`]) and what Steward
//! knows (the devices and scenes of the home, the time in the person's
//! zone), the plan to propose, or the question to ask first.
//!
//! Pure: the caller reads the read models into a [`PlanningContext`] and
//! turns a [`Draft`] into `ProposePlan` with the policy's approval. Nothing
//! is guessed: a request the classifier is unsure of, a slot left out, a
//! device that fits several or none, a time that cannot be read, each
//! becomes a [`Question`] naming what is missing.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{Value, json};
use steward_actuator::zigbee2mqtt;
use steward_events::domain::home::DeviceKind;
use steward_events::domain::plans::{PlanStep, StepExecutor};

use crate::{Intent, Recognition, When, resolve_when};

/// Below this probability the request's intent is asked about, not assumed.
pub const CONFIDENT: f32 = 0.5;
/// A runner-up this close to the top intent is asked about too.
pub const CLOSE_RUNNER_UP: f32 = 0.15;
/// Devices one request may act on at once; more is asked to be narrowed.
pub const MAX_DEVICES: usize = 6;
/// How long a meeting lasts when the request does not say.
const DEFAULT_MEETING: Duration = Duration::hours(1);

/// What the planner knows when it plans: read from the read models by the
/// caller.
#[derive(Debug, Clone)]
pub struct PlanningContext {
    /// Now, in the person's time zone ("tomorrow" is theirs).
    pub now: DateTime<Tz>,
    /// The household whose streams steps go to (`main`: `home-main`).
    pub household: String,
    /// The home's devices.
    pub devices: Vec<KnownDevice>,
    /// The home's scenes.
    pub scenes: Vec<KnownScene>,
    /// The topic under which devices take commands
    /// (`<base>/<device>/set`, zigbee2mqtt's layout).
    pub mqtt_base_topic: String,
    /// Whether a CalDAV calendar is connected: a meeting put in Steward's
    /// calendar is then written there too, by the actuator.
    pub caldav: bool,
    /// The messages in the inbox, newest first: a reply is planned to one
    /// of them.
    pub messages: Vec<KnownMessage>,
}

/// A message in the inbox, as the inbox read model lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownMessage {
    /// Its id (`message-<message_id>`).
    pub message_id: String,
    /// The sender's address, unless erased.
    pub from_address: Option<String>,
    /// The sender's name, if given and not erased.
    pub from_name: Option<String>,
    /// Its subject, unless erased.
    pub subject: Option<String>,
}

/// A device of the home, as the home read model lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDevice {
    /// Its id, as the integration names it (`living_room_lamp`).
    pub device_id: String,
    /// What sort of device it is.
    pub kind: DeviceKind,
    /// Its room.
    pub room: String,
    /// The attributes it can be asked for (`power`, `brightness`…).
    pub attributes: Vec<String>,
}

/// A scene of the home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownScene {
    /// Its id.
    pub scene_id: String,
    /// Its name.
    pub name: String,
}

/// What the planner makes of a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    /// Steps to propose.
    Plan(Draft),
    /// Something to ask before planning.
    Ask(Question),
    /// A question about Steward's records: answered from a read model,
    /// nothing to do.
    Answer(Lookup),
    /// Nothing Steward can do for it.
    Decline(Declined),
}

/// A plan to propose, before the policy's approval is added.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Draft {
    /// What the request asks for.
    pub intent: Intent,
    /// The classifier's probability for it.
    pub confidence: f32,
    /// The slots as resolved (a date as an RFC 3339 time, a device as its
    /// id).
    pub slots: BTreeMap<String, Value>,
    /// The commands, in order.
    pub steps: Vec<PlanStep>,
    /// Why these steps, in words.
    pub rationale: String,
    /// The devices the plan acts on, for the policy (locks need
    /// confirmation).
    pub devices: Vec<(String, DeviceKind)>,
}

/// A question for the person, with the answers that would do if there is
/// a short list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Question {
    /// What the request seems to ask for, if that much is clear.
    pub intent: Option<Intent>,
    /// The question.
    pub question: String,
    /// The slot it is about (`device`, `date`), if one.
    pub slot: Option<String>,
    /// Possible answers.
    pub choices: Vec<String>,
}

/// Where the answer to a question about Steward's records is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lookup {
    /// What the request asks.
    pub intent: Intent,
    /// The API path of the read model that answers it.
    pub path: String,
    /// The slots, as said.
    pub slots: BTreeMap<String, String>,
}

/// Why the planner does nothing for a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Declined {
    /// What the request seems to ask for.
    pub intent: Intent,
    /// Why, in words.
    pub reason: String,
}

/// Plans `request` (whose intents and slots are `recognition`) for the
/// plan `plan_id`, whose id makes the ids of the commands it will send.
pub fn decide(plan_id: &str, recognition: &Recognition, context: &PlanningContext) -> Decision {
    let prediction = &recognition.intents;
    let intent = prediction.intent();
    let confidence = prediction.confidence();
    if let Some(runner_up) = prediction.runner_up()
        && (confidence < CONFIDENT || confidence - runner_up.probability < CLOSE_RUNNER_UP)
        && intent != Intent::OutOfScope
    {
        return Decision::Ask(Question {
            intent: None,
            question: format!(
                "Do you want to {} or to {}?",
                lowercase_first(intent.description()),
                lowercase_first(runner_up.intent.description())
            ),
            slot: None,
            choices: vec![
                intent.label().to_owned(),
                runner_up.intent.label().to_owned(),
            ],
        });
    }
    let slots = Said::from(recognition);
    match intent {
        Intent::OutOfScope => Decision::Decline(Declined {
            intent,
            reason: "Steward has no domain for this request".to_owned(),
        }),
        Intent::SetDevice => set_device(plan_id, confidence, &slots, context),
        Intent::ActivateScene => activate_scene(plan_id, confidence, &slots, context),
        Intent::AddToList => shopping_list(intent, confidence, &slots, context, "ListItem"),
        Intent::RemoveFromList => shopping_list(intent, confidence, &slots, context, "Unlist"),
        Intent::ScheduleEvent => schedule_event(plan_id, confidence, &slots, context),
        Intent::ReplyToMessage => reply_to_message(plan_id, confidence, recognition, context),
        _ => match lookup_path(intent) {
            Some(path) => Decision::Answer(Lookup {
                intent,
                path: path.to_owned(),
                slots: slots.texts(),
            }),
            None => Decision::Decline(Declined {
                intent,
                reason: format!(
                    "the planner cannot yet plan `{intent}`; use the {} domain's commands",
                    intent.domain()
                ),
            }),
        },
    }
}

/// The read model answering each question intent.
fn lookup_path(intent: Intent) -> Option<&'static str> {
    Some(match intent {
        Intent::ShowAgenda | Intent::FindFreeTime => "/api/v1/calendar/agenda",
        Intent::ShowInbox => "/api/v1/inbox/triage",
        Intent::DeviceStatus => "/api/v1/home/devices",
        Intent::ShowList => "/api/v1/groceries/shopping-list",
        Intent::ShowDue => "/api/v1/maintenance/tasks?due_only=true",
        Intent::ShowItinerary => "/api/v1/travel/trips",
        Intent::ShowAppointments => "/api/v1/calendar/agenda",
        Intent::ShowProgress => "/api/v1/goals",
        _ => return None,
    })
}

/// A request's slots, as said.
struct Said<'a> {
    recognition: &'a Recognition,
}

impl<'a> From<&'a Recognition> for Said<'a> {
    fn from(recognition: &'a Recognition) -> Self {
        Self { recognition }
    }
}

impl Said<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.recognition
            .slots
            .text(name)
            .map(str::trim)
            .filter(|text| !text.is_empty())
    }

    fn texts(&self) -> BTreeMap<String, String> {
        self.recognition
            .slots
            .iter()
            .map(|slot| (slot.name.clone(), slot.text.clone()))
            .collect()
    }
}

fn ask(intent: Intent, slot: &str, question: String, choices: Vec<String>) -> Decision {
    Decision::Ask(Question {
        intent: Some(intent),
        question,
        slot: Some(slot.to_owned()),
        choices,
    })
}

// ------------------------------------------------------------------ home

/// The attribute and value a `state` slot asks for: "off", "open", "unlock",
/// "50%", "21 degrees", "full".
fn desired_state(state: &str) -> Option<(&'static str, Value)> {
    let said = state.trim().to_lowercase();
    let number = said
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse::<f64>()
        .ok();
    Some(match said.as_str() {
        "on" | "start" | "run" => ("power", json!("on")),
        "off" | "stop" | "pause" => ("power", json!("off")),
        "open" | "raise" | "up" => ("position", json!(100)),
        "close" | "shut" | "lower" | "down" => ("position", json!(0)),
        "lock" | "locked" => ("lock", json!("locked")),
        "unlock" | "unlocked" => ("lock", json!("unlocked")),
        "full" | "max" | "maximum" => ("brightness", json!(100)),
        "half" => ("brightness", json!(50)),
        _ if said.ends_with('%') || said.ends_with("percent") => ("brightness", json!(number?)),
        _ if said.contains("degree") || said.contains('°') => {
            ("target_temperature", json!(number?))
        }
        _ => match number {
            Some(n) => ("target_temperature", json!(n)),
            None => return None,
        },
    })
}

/// The device kinds a word names ("lights" are lights; "heating" a
/// thermostat); empty when the word names none.
fn kinds_named(word: &str) -> &'static [DeviceKind] {
    match word.trim_end_matches('s') {
        "light" | "lamp" | "bulb" | "spotlight" | "strip" | "chandelier" => &[DeviceKind::Light],
        "thermostat" | "heating" | "heat" | "heater" | "radiator" | "ac" => {
            &[DeviceKind::Thermostat]
        }
        "blind" | "shade" | "curtain" | "shutter" | "awning" => &[DeviceKind::Blind],
        "lock" => &[DeviceKind::Lock],
        "plug" | "socket" | "outlet" => &[DeviceKind::Plug],
        "switch" => &[DeviceKind::Switch, DeviceKind::Plug],
        _ => &[],
    }
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty() && *word != "the")
        .map(str::to_owned)
        .collect()
}

/// The devices a `device` (and `room`) slot names: an id said outright, or
/// the devices of the kind named in the room named, or the ones whose id has
/// every word said.
fn devices_named<'a>(
    device: &str,
    room: Option<&str>,
    devices: &'a [KnownDevice],
) -> Vec<&'a KnownDevice> {
    let said = words(device).join(" ");
    let id = |d: &KnownDevice| words(&d.device_id).join(" ");
    let exact: Vec<&KnownDevice> = devices.iter().filter(|d| id(d) == said).collect();
    if !exact.is_empty() {
        return exact;
    }
    // The room: as its own slot, or said inside the device's words.
    let room = room.map(|r| words(r).join(" ")).or_else(|| {
        devices
            .iter()
            .map(|d| words(&d.room).join(" "))
            .filter(|r| !r.is_empty() && format!(" {said} ").contains(&format!(" {r} ")))
            .max_by_key(String::len)
    });
    let in_room = |d: &&KnownDevice| {
        room.as_ref()
            .is_none_or(|room| words(&d.room).join(" ") == *room)
    };
    let rest: Vec<String> = {
        let room_words = room.as_deref().map(words).unwrap_or_default();
        words(device)
            .into_iter()
            .filter(|w| !room_words.contains(w))
            .collect()
    };
    let kinds: Vec<DeviceKind> = rest
        .iter()
        .flat_map(|word| kinds_named(word).iter().copied())
        .collect();
    devices
        .iter()
        .filter(in_room)
        .filter(|d| {
            if !kinds.is_empty() {
                kinds.contains(&d.kind)
            } else {
                let id_words = words(&d.device_id);
                !rest.is_empty()
                    && rest.iter().all(|w| {
                        id_words
                            .iter()
                            .any(|i| i.trim_end_matches('s') == w.trim_end_matches('s'))
                    })
            }
        })
        .collect()
}

fn describe_device(device: &KnownDevice) -> String {
    format!("{} ({})", device.device_id, device.room)
}

fn set_device(
    plan_id: &str,
    confidence: f32,
    slots: &Said<'_>,
    context: &PlanningContext,
) -> Decision {
    let intent = Intent::SetDevice;
    let all_devices = || context.devices.iter().map(describe_device).collect();
    let Some(device) = slots.get("device") else {
        return ask(intent, "device", "Which device?".to_owned(), all_devices());
    };
    let room = slots.get("room");
    let matched = devices_named(device, room, &context.devices);
    if matched.is_empty() {
        return ask(
            intent,
            "device",
            format!("Which device is \"{device}\"? None of the home's devices fits."),
            all_devices(),
        );
    }
    if matched.len() > MAX_DEVICES {
        return ask(
            intent,
            "device",
            format!("\"{device}\" fits {} devices; which ones?", matched.len()),
            matched.iter().map(|d| describe_device(d)).collect(),
        );
    }
    let Some(state) = slots.get("state") else {
        return ask(
            intent,
            "state",
            format!("What should the {device} do?"),
            vec!["on".to_owned(), "off".to_owned()],
        );
    };
    let Some((attribute, value)) = desired_state(state) else {
        return ask(
            intent,
            "state",
            format!("What does \"{state}\" mean for the {device}?"),
            Vec::new(),
        );
    };
    // A plural ("the lights") means all of them; otherwise one must be
    // chosen.
    let plural = device.trim_end().ends_with('s');
    if matched.len() > 1 && !plural {
        return ask(
            intent,
            "device",
            format!("Which {device}?"),
            matched.iter().map(|d| describe_device(d)).collect(),
        );
    }
    let unable: Vec<String> = matched
        .iter()
        .filter(|d| !d.attributes.iter().any(|a| a == attribute))
        .map(|d| d.device_id.clone())
        .collect();
    if !unable.is_empty() {
        return Decision::Decline(Declined {
            intent,
            reason: format!("{} cannot be asked for `{attribute}`", unable.join(", ")),
        });
    }

    let home = format!("home-{}", context.household);
    let mut steps = Vec::new();
    for (n, target) in matched.iter().enumerate() {
        let request_id = format!("{plan_id}.{n}");
        let what = format!("{attribute} {value}");
        steps.push(PlanStep {
            stream_id: home.clone(),
            command_type: "RequestDeviceState".to_owned(),
            data: json!({
                "request_id": request_id,
                "device_id": target.device_id,
                "attributes": { attribute: value },
            }),
            executor: StepExecutor::Domain {},
            summary: format!("Record that {} is asked for {what}", target.device_id),
        });
        steps.push(PlanStep {
            stream_id: home.clone(),
            command_type: "Publish".to_owned(),
            data: json!({
                "topic": format!("{}/{}/set", context.mqtt_base_topic, target.device_id),
                "payload": zigbee2mqtt::set_payload(attribute, &value),
            }),
            executor: StepExecutor::Actuator {
                integration: "mqtt".to_owned(),
            },
            summary: format!(
                "Set {} ({}) to {what} over MQTT",
                target.device_id, target.room
            ),
        });
        steps.push(PlanStep {
            stream_id: home.clone(),
            command_type: "RecordStateApplied".to_owned(),
            data: json!({ "request_id": request_id }),
            executor: StepExecutor::Domain {},
            summary: format!("Record that {} took it", target.device_id),
        });
    }
    let names: Vec<&str> = matched.iter().map(|d| d.device_id.as_str()).collect();
    let mut resolved = BTreeMap::from([
        ("device".to_owned(), json!(names)),
        ("state".to_owned(), json!({ attribute: value })),
    ]);
    if let Some(room) = room {
        resolved.insert("room".to_owned(), json!(room));
    }
    Decision::Plan(Draft {
        intent,
        confidence,
        slots: resolved,
        rationale: format!(
            "\"{device}\" is {} in the home; \"{state}\" sets {attribute} to {value}",
            names.join(", ")
        ),
        steps,
        devices: matched
            .iter()
            .map(|d| (d.device_id.clone(), d.kind))
            .collect(),
    })
}

fn activate_scene(
    plan_id: &str,
    confidence: f32,
    slots: &Said<'_>,
    context: &PlanningContext,
) -> Decision {
    let intent = Intent::ActivateScene;
    let names = || context.scenes.iter().map(|s| s.name.clone()).collect();
    let Some(said) = slots.get("scene") else {
        return ask(intent, "scene", "Which scene?".to_owned(), names());
    };
    let wanted = words(said).join(" ");
    let matched: Vec<&KnownScene> = context
        .scenes
        .iter()
        .filter(|s| words(&s.name).join(" ") == wanted || words(&s.scene_id).join(" ") == wanted)
        .collect();
    let [scene] = matched.as_slice() else {
        return ask(
            intent,
            "scene",
            format!("Which scene is \"{said}\"?"),
            names(),
        );
    };
    Decision::Plan(Draft {
        intent,
        confidence,
        slots: BTreeMap::from([("scene".to_owned(), json!(scene.scene_id))]),
        steps: vec![PlanStep {
            stream_id: format!("home-{}", context.household),
            command_type: "ActivateScene".to_owned(),
            data: json!({ "scene_id": scene.scene_id, "activation_id": plan_id }),
            executor: StepExecutor::Domain {},
            summary: format!("Set the scene {}", scene.name),
        }],
        rationale: format!("\"{said}\" is the scene {}", scene.name),
        devices: Vec::new(),
    })
}

// ------------------------------------------------------------- groceries

/// A quantity as said ("2", "a dozen", "500g", "two bags") as a number and
/// a unit, when it reads as one.
fn quantity(said: &str) -> Option<(f64, Option<String>)> {
    let lower = said.trim().to_lowercase();
    let (count, unit) = match lower.split_once(' ') {
        Some((count, unit)) => (count.to_owned(), Some(unit.trim().to_owned())),
        None => {
            let digits: String = lower
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let unit = lower[digits.len()..].trim().to_owned();
            (digits, (!unit.is_empty()).then_some(unit))
        }
    };
    let words = [
        ("a", 1.0),
        ("an", 1.0),
        ("one", 1.0),
        ("two", 2.0),
        ("three", 3.0),
        ("four", 4.0),
        ("five", 5.0),
        ("six", 6.0),
        ("ten", 10.0),
    ];
    let number = count
        .parse::<f64>()
        .ok()
        .or_else(|| words.iter().find(|(w, _)| *w == count).map(|(_, n)| *n))?;
    match unit.as_deref() {
        Some("dozen") => Some((number * 12.0, None)),
        _ => Some((number, unit)),
    }
}

fn shopping_list(
    intent: Intent,
    confidence: f32,
    slots: &Said<'_>,
    context: &PlanningContext,
    command: &str,
) -> Decision {
    let Some(item) = slots.get("item") else {
        return ask(intent, "item", "Which item?".to_owned(), Vec::new());
    };
    let mut data = json!({ "item": item });
    let mut resolved = BTreeMap::from([("item".to_owned(), json!(item))]);
    if command == "ListItem"
        && let Some((amount, unit)) = slots.get("quantity").and_then(quantity)
    {
        data["quantity"] = json!(amount);
        data["unit"] = json!(unit);
        resolved.insert(
            "quantity".to_owned(),
            json!({ "amount": amount, "unit": unit }),
        );
    }
    let (summary, rationale) = if command == "ListItem" {
        (
            format!("Put {item} on the shopping list"),
            format!("\"{item}\" is to buy"),
        )
    } else {
        (
            format!("Take {item} off the shopping list"),
            format!("\"{item}\" is not needed"),
        )
    };
    Decision::Plan(Draft {
        intent,
        confidence,
        slots: resolved,
        steps: vec![PlanStep {
            stream_id: format!("shoppinglist-{}", context.household),
            command_type: command.to_owned(),
            data,
            executor: StepExecutor::Domain {},
            summary,
        }],
        rationale,
        devices: Vec::new(),
    })
}

// ----------------------------------------------------------------- inbox

/// What a reply is to say, and where in the request that begins: the
/// longest quoted text ('…', "…", “…”), else what follows `saying`, `and
/// say`, `to say` or `telling them`; `None` when the request does not say.
fn reply_text(request: &str) -> Option<(usize, String)> {
    let quoted = [('\'', '\''), ('"', '"'), ('“', '”')]
        .iter()
        .filter_map(|(open, close)| quoted(request, *open, *close))
        .max_by_key(|(_, text)| text.len());
    let (at, text) = match quoted {
        Some((at, text)) => (at, text.to_owned()),
        None => {
            let lower = request.to_ascii_lowercase();
            let (at, marker) = [
                " saying ",
                " and say ",
                " to say ",
                " telling them ",
                " say ",
            ]
            .iter()
            .filter_map(|marker| lower.find(marker).map(|at| (at, *marker)))
            .min_by_key(|(at, _)| *at)?;
            // ASCII lower-casing keeps every byte where it was, so `at` is
            // a position in `request` too.
            (at, request.get(at + marker.len()..)?.trim().to_owned())
        }
    };
    let mut chars = text.chars();
    let first = chars.next()?;
    Some((at, first.to_uppercase().chain(chars).collect()))
}

/// The text between `open` and `close` quotes, and where its opening quote
/// is: an opening quote starts a word and a closing one ends one, so the
/// apostrophes of `I'll` and `Dana's` are not taken for quotes.
fn quoted(request: &str, open: char, close: char) -> Option<(usize, &str)> {
    let starts_word = |at: usize| {
        request[..at]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace)
    };
    let ends_word = |after: usize| {
        request[after..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric())
    };
    let opening = request
        .char_indices()
        .find(|(at, c)| *c == open && starts_word(*at))
        .map(|(at, _)| at)?;
    let start = opening + open.len_utf8();
    let end = request[start..]
        .char_indices()
        .filter(|(at, c)| *c == close && ends_word(start + at + c.len_utf8()))
        .map(|(at, _)| start + at)
        .next_back()?;
    Some((opening, request[start..end].trim())).filter(|(_, text)| !text.is_empty())
}

/// The words of a sender or topic slot that can name something: without
/// articles, possessives and the like.
fn naming_words(said: &str) -> Vec<String> {
    const NOISE: &[&str] = &[
        "a", "an", "the", "my", "our", "their", "his", "her", "about", "from", "message", "email",
        "mail", "last", "latest",
    ];
    // `Dana's` names Dana.
    words(&said.replace("'s", "").replace("’s", ""))
        .into_iter()
        .filter(|word| !NOISE.contains(&word.as_str()))
        .collect()
}

/// Whether every word is among `within`'s words (plurals aside).
fn all_words_in(said: &[String], within: &str) -> bool {
    let within = words(within);
    let stem = |word: &str| word.trim_end_matches('s').to_owned();
    said.iter()
        .all(|word| within.iter().any(|w| stem(w) == stem(word)))
}

/// The messages a reply request's `sender` and `topic` name, newest first:
/// every word of the sender in the sender's name or address, every word of
/// the topic in the subject; with neither, the newest message.
fn messages_named<'a>(
    sender: Option<&str>,
    topic: Option<&str>,
    messages: &'a [KnownMessage],
) -> Vec<&'a KnownMessage> {
    let sender = sender.map(naming_words).filter(|words| !words.is_empty());
    let topic = topic.map(naming_words).filter(|words| !words.is_empty());
    if sender.is_none() && topic.is_none() {
        return messages.iter().take(1).collect();
    }
    messages
        .iter()
        .filter(|message| {
            sender.as_ref().is_none_or(|said| {
                let who = format!(
                    "{} {}",
                    message.from_name.as_deref().unwrap_or_default(),
                    message
                        .from_address
                        .as_deref()
                        .unwrap_or_default()
                        .replace(['@', '.'], " ")
                );
                all_words_in(said, &who)
            })
        })
        .filter(|message| {
            topic.as_ref().is_none_or(|said| {
                all_words_in(said, message.subject.as_deref().unwrap_or_default())
            })
        })
        .collect()
}

fn describe_sender(message: &KnownMessage) -> String {
    match (&message.from_name, &message.from_address) {
        (Some(name), _) => name.clone(),
        (None, Some(address)) => address.clone(),
        (None, None) => "someone (erased)".to_owned(),
    }
}

fn reply_to_message(
    plan_id: &str,
    confidence: f32,
    recognition: &Recognition,
    context: &PlanningContext,
) -> Decision {
    let intent = Intent::ReplyToMessage;
    let reply = reply_text(&recognition.text);
    // Words inside what the reply is to say name neither its sender nor
    // its topic ("reply to Dana saying Friday works" is not about Friday).
    let before_reply = |name: &str| {
        recognition
            .slots
            .get(name)
            .filter(|slot| reply.as_ref().is_none_or(|(at, _)| slot.start < *at))
            .map(|slot| slot.text.trim())
            .filter(|text| !text.is_empty())
    };
    let sender = before_reply("sender");
    let topic = before_reply("topic");
    let found = messages_named(sender, topic, &context.messages);
    let Some(message) = found.first() else {
        let mut senders: Vec<String> = Vec::new();
        for sender in context.messages.iter().map(describe_sender) {
            if senders.len() < 5 && !senders.contains(&sender) {
                senders.push(sender);
            }
        }
        let which = match (sender, topic) {
            (Some(sender), Some(topic)) => format!("from {sender} about {topic}"),
            (Some(sender), None) => format!("from {sender}"),
            (None, Some(topic)) => format!("about {topic}"),
            (None, None) => "at all".to_owned(),
        };
        return ask(
            intent,
            "sender",
            format!("There is no message {which} in the inbox. Which message should I answer?"),
            senders,
        );
    };
    let Some((_, body)) = reply else {
        return ask(
            intent,
            "body",
            format!("What should the reply to {} say?", describe_sender(message)),
            Vec::new(),
        );
    };
    let stream_id = format!("message-{}", message.message_id);
    let to = describe_sender(message);
    let subject = message.subject.as_deref().unwrap_or("their message");
    let mut resolved = BTreeMap::from([
        ("message".to_owned(), json!(message.message_id)),
        ("body".to_owned(), json!(body)),
    ]);
    if let Some(sender) = sender {
        resolved.insert("sender".to_owned(), json!(sender));
    }
    if let Some(topic) = topic {
        resolved.insert("topic".to_owned(), json!(topic));
    }
    Decision::Plan(Draft {
        intent,
        confidence,
        slots: resolved,
        steps: vec![
            PlanStep {
                stream_id: stream_id.clone(),
                command_type: "DraftReply".to_owned(),
                data: json!({ "draft_id": plan_id, "body_text": body }),
                executor: StepExecutor::Domain {},
                summary: format!("Draft a reply to {to}: \"{body}\""),
            },
            PlanStep {
                stream_id,
                command_type: "RequestSend".to_owned(),
                data: json!({ "draft_id": plan_id }),
                executor: StepExecutor::Domain {},
                summary: format!("Send it to {to}"),
            },
        ],
        rationale: format!("{to} wrote about \"{subject}\"; the reply says what was asked"),
        devices: Vec::new(),
    })
}

// -------------------------------------------------------------- calendar

fn schedule_event(
    plan_id: &str,
    confidence: f32,
    slots: &Said<'_>,
    context: &PlanningContext,
) -> Decision {
    let intent = Intent::ScheduleEvent;
    let person = slots.get("person");
    // Attendees are invited by address; a name said goes in the title.
    let title = match (slots.get("title"), person) {
        (Some(title), Some(person)) => format!("{title} with {person}"),
        (Some(title), None) => title.to_owned(),
        (None, Some(person)) => format!("Meeting with {person}"),
        (None, None) => {
            return ask(
                intent,
                "title",
                "What is the meeting about?".to_owned(),
                Vec::new(),
            );
        }
    };
    let when = match resolve_when(slots.get("date"), slots.get("time"), context.now) {
        Ok(Some(when)) => when,
        Ok(None) => {
            return ask(intent, "date", format!("When is the {title}?"), Vec::new());
        }
        Err(unclear) => {
            return ask(
                intent,
                "date",
                format!("When is \"{}\"?", unclear.text),
                Vec::new(),
            );
        }
    };
    let start = match when {
        When::At { at } => at,
        When::Within { start, end } => {
            return ask(
                intent,
                "time",
                format!(
                    "At what time, between {} and {}?",
                    start.format("%a %-d %b %H:%M"),
                    end.format("%a %-d %b %H:%M")
                ),
                Vec::new(),
            );
        }
    };
    if start <= context.now {
        return ask(
            intent,
            "date",
            format!(
                "{} has passed; when should the {title} be?",
                start.format("%a %-d %b %H:%M")
            ),
            Vec::new(),
        );
    }
    let length = slots
        .get("duration")
        .and_then(|d| interim::parse_duration(d).ok())
        .and_then(|interval| match interval {
            interim::Interval::Seconds(s) if s > 0 => Some(Duration::seconds(i64::from(s))),
            interim::Interval::Days(d) if d > 0 => Some(Duration::days(i64::from(d))),
            _ => None,
        })
        .unwrap_or(DEFAULT_MEETING);
    let end = start + length;
    let local = |at: DateTime<Tz>| at.naive_local().format("%Y-%m-%dT%H:%M:%S").to_string();
    let data = json!({
        "event_id": plan_id,
        "title": title,
        "start": local(start),
        "end": local(end),
        "time_zone": context.now.timezone().name(),
    });
    let mut steps = vec![PlanStep {
        stream_id: "calendar-main".to_owned(),
        command_type: "ScheduleEvent".to_owned(),
        data,
        executor: StepExecutor::Domain {},
        summary: format!(
            "Put {title} in the calendar on {}",
            start.format("%a %-d %b at %H:%M")
        ),
    }];
    if context.caldav {
        steps.push(PlanStep {
            stream_id: "calendar-main".to_owned(),
            command_type: "PutEvent".to_owned(),
            data: json!({
                "action": "put_event",
                // The plan's id names the event here and on the server, so
                // a retried write is the same event.
                "uid": format!("{plan_id}@steward"),
                "summary": title,
                "start": local(start),
                "end": local(end),
                "time_zone": context.now.timezone().name(),
            }),
            executor: StepExecutor::Actuator {
                integration: "caldav".to_owned(),
            },
            summary: format!("Write {title} to the CalDAV calendar"),
        });
    }
    Decision::Plan(Draft {
        intent,
        confidence,
        slots: BTreeMap::from([
            ("title".to_owned(), json!(title)),
            ("start".to_owned(), json!(start.to_rfc3339())),
            ("end".to_owned(), json!(end.to_rfc3339())),
        ]),
        steps,
        rationale: format!(
            "the {title} is on {}",
            start.format("%A %-d %B at %H:%M %Z")
        ),
        devices: Vec::new(),
    })
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.trim_end_matches('.').chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What the planner's tests (and those built on its plans) plan with.
#[cfg(test)]
pub(crate) mod fixtures {
    use chrono::TimeZone;

    use super::*;
    use crate::{IntentPrediction, RankedIntent, Slot, Slots};

    /// A recognition of `intent` at `confidence`, the rest shared among
    /// the other intents, with `slots` as said.
    pub(crate) fn recognition(
        intent: Intent,
        confidence: f32,
        slots: &[(&str, &str)],
    ) -> Recognition {
        let mut ranked = vec![RankedIntent {
            intent,
            probability: confidence,
        }];
        ranked.extend(
            Intent::ALL
                .iter()
                .filter(|other| **other != intent)
                .map(|&other| RankedIntent {
                    intent: other,
                    probability: (1.0 - confidence) / 40.0,
                }),
        );
        Recognition {
            intents: IntentPrediction::new(ranked).expect("intents"),
            slots: Slots::new(slots.iter().map(|(name, text)| Slot {
                name: (*name).to_owned(),
                text: (*text).to_owned(),
                start: 0,
                end: text.len(),
                confidence: 0.9,
            })),
            text: String::new(),
        }
    }

    /// [`recognition`] of the request `text`.
    pub(crate) fn said(
        text: &str,
        intent: Intent,
        confidence: f32,
        slots: &[(&str, &str)],
    ) -> Recognition {
        Recognition {
            text: text.to_owned(),
            ..recognition(intent, confidence, slots)
        }
    }

    fn message(id: &str, name: Option<&str>, address: &str, subject: &str) -> KnownMessage {
        KnownMessage {
            message_id: id.to_owned(),
            from_address: Some(address.to_owned()),
            from_name: name.map(str::to_owned),
            subject: Some(subject.to_owned()),
        }
    }

    pub(crate) fn device(
        id: &str,
        kind: DeviceKind,
        room: &str,
        attributes: &[&str],
    ) -> KnownDevice {
        KnownDevice {
            device_id: id.to_owned(),
            kind,
            room: room.to_owned(),
            attributes: attributes.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    /// Wednesday 2 December 2026, 10:00 in Paris: six devices in three
    /// rooms, one scene, no CalDAV calendar.
    pub(crate) fn context() -> PlanningContext {
        let zone: Tz = "Europe/Paris".parse().expect("a zone");
        PlanningContext {
            now: zone
                .with_ymd_and_hms(2026, 12, 2, 10, 0, 0)
                .single()
                .expect("a time"),
            household: "main".to_owned(),
            devices: vec![
                device(
                    "living_room_lamp",
                    DeviceKind::Light,
                    "living room",
                    &["power", "brightness"],
                ),
                device(
                    "living_room_ceiling",
                    DeviceKind::Light,
                    "living room",
                    &["power"],
                ),
                device("kitchen_light", DeviceKind::Light, "kitchen", &["power"]),
                device("front_door", DeviceKind::Lock, "hallway", &["lock"]),
                device(
                    "hall_thermostat",
                    DeviceKind::Thermostat,
                    "hallway",
                    &["target_temperature"],
                ),
                device("motion_sensor", DeviceKind::Sensor, "hallway", &[]),
            ],
            scenes: vec![KnownScene {
                scene_id: "movie_night".to_owned(),
                name: "Movie night".to_owned(),
            }],
            mqtt_base_topic: "zigbee2mqtt".to_owned(),
            caldav: false,
            messages: vec![
                message(
                    "m3",
                    Some("Dana Smith"),
                    "dana@example.org",
                    "Budget review",
                ),
                message("m2", None, "orders@amazon.example", "Your order shipped"),
                message(
                    "m1",
                    Some("Dana Smith"),
                    "dana@example.org",
                    "Lunch on Friday",
                ),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{context, recognition, said};
    use super::*;
    use crate::{IntentPrediction, RankedIntent};

    fn plan(decision: Decision) -> Draft {
        match decision {
            Decision::Plan(draft) => draft,
            other => panic!("expected a plan, got {other:?}"),
        }
    }

    fn question(decision: Decision) -> Question {
        match decision {
            Decision::Ask(question) => question,
            other => panic!("expected a question, got {other:?}"),
        }
    }

    #[test]
    fn the_living_room_lights_are_every_light_in_the_living_room() {
        let request = recognition(
            Intent::SetDevice,
            0.93,
            &[("device", "living room lights"), ("state", "off")],
        );
        let draft = plan(decide("p1", &request, &context()));
        assert_eq!(
            draft.devices,
            vec![
                ("living_room_lamp".to_owned(), DeviceKind::Light),
                ("living_room_ceiling".to_owned(), DeviceKind::Light)
            ]
        );
        // Per device: record the request, publish, record it applied.
        assert_eq!(draft.steps.len(), 6);
        let publish = &draft.steps[1];
        assert_eq!(
            publish.executor,
            StepExecutor::Actuator {
                integration: "mqtt".to_owned()
            }
        );
        assert_eq!(
            publish.data,
            json!({ "topic": "zigbee2mqtt/living_room_lamp/set", "payload": { "state": "OFF" } })
        );
        assert_eq!(draft.steps[0].command_type, "RequestDeviceState");
        assert_eq!(draft.steps[0].data["attributes"], json!({ "power": "off" }));
        assert_eq!(draft.steps[2].data, json!({ "request_id": "p1.0" }));
        assert_eq!(draft.steps[3].data["request_id"], "p1.1");
    }

    #[test]
    fn one_device_of_several_is_asked_for_by_name() {
        let request = recognition(
            Intent::SetDevice,
            0.9,
            &[
                ("device", "light"),
                ("room", "living room"),
                ("state", "on"),
            ],
        );
        let asked = question(decide("p", &request, &context()));
        assert_eq!(asked.slot.as_deref(), Some("device"));
        assert_eq!(asked.choices.len(), 2, "{asked:?}");
    }

    #[test]
    fn locks_thermostats_and_dimmers_get_their_own_attributes() {
        let lock = plan(decide(
            "p",
            &recognition(
                Intent::SetDevice,
                0.9,
                &[("device", "front door"), ("state", "unlock")],
            ),
            &context(),
        ));
        assert_eq!(
            lock.devices,
            vec![("front_door".to_owned(), DeviceKind::Lock)]
        );
        assert_eq!(lock.steps[1].data["payload"], json!({ "state": "UNLOCK" }));

        let heat = plan(decide(
            "p",
            &recognition(
                Intent::SetDevice,
                0.9,
                &[("device", "heating"), ("state", "21 degrees")],
            ),
            &context(),
        ));
        assert_eq!(
            heat.steps[0].data["attributes"],
            json!({ "target_temperature": 21.0 })
        );
        assert_eq!(
            heat.steps[1].data["payload"],
            json!({ "current_heating_setpoint": 21.0 })
        );

        let dim = plan(decide(
            "p",
            &recognition(
                Intent::SetDevice,
                0.9,
                &[("device", "living room lamp"), ("state", "50%")],
            ),
            &context(),
        ));
        assert_eq!(dim.steps[1].data["payload"], json!({ "brightness": 127 }));
    }

    #[test]
    fn what_a_device_cannot_do_is_declined() {
        let decision = decide(
            "p",
            &recognition(
                Intent::SetDevice,
                0.9,
                &[("device", "living room ceiling"), ("state", "50%")],
            ),
            &context(),
        );
        match decision {
            Decision::Decline(declined) => {
                assert!(
                    declined.reason.contains("living_room_ceiling"),
                    "{declined:?}"
                )
            }
            other => panic!("expected a decline, got {other:?}"),
        }
    }

    #[test]
    fn unknown_devices_and_missing_states_are_asked_about() {
        let unknown = question(decide(
            "p",
            &recognition(
                Intent::SetDevice,
                0.9,
                &[("device", "jacuzzi"), ("state", "on")],
            ),
            &context(),
        ));
        assert_eq!(unknown.slot.as_deref(), Some("device"));
        assert!(unknown.choices.iter().any(|c| c.contains("kitchen_light")));

        let stateless = question(decide(
            "p",
            &recognition(Intent::SetDevice, 0.9, &[("device", "kitchen light")]),
            &context(),
        ));
        assert_eq!(stateless.slot.as_deref(), Some("state"));
    }

    #[test]
    fn an_unsure_or_close_call_is_a_question_between_the_two() {
        let unsure = question(decide(
            "p",
            &recognition(Intent::AddToList, 0.4, &[]),
            &context(),
        ));
        assert_eq!(unsure.choices[0], "groceries.add_to_list");
        assert_eq!(unsure.choices.len(), 2);
        assert!(
            unsure.question.starts_with("Do you want to put an item"),
            "{unsure:?}"
        );

        let mut close = recognition(Intent::AddToList, 0.55, &[("item", "milk")]);
        close.intents = IntentPrediction::new(vec![
            RankedIntent {
                intent: Intent::AddToList,
                probability: 0.55,
            },
            RankedIntent {
                intent: Intent::RecordPantry,
                probability: 0.45,
            },
        ])
        .expect("intents");
        let asked = question(decide("p", &close, &context()));
        assert_eq!(
            asked.choices,
            ["groceries.add_to_list", "groceries.record_pantry"]
        );
    }

    #[test]
    fn shopping_list_items_with_quantities() {
        let draft = plan(decide(
            "p",
            &recognition(
                Intent::AddToList,
                0.95,
                &[("item", "eggs"), ("quantity", "a dozen")],
            ),
            &context(),
        ));
        assert_eq!(draft.steps[0].stream_id, "shoppinglist-main");
        assert_eq!(
            draft.steps[0].data,
            json!({ "item": "eggs", "quantity": 12.0, "unit": null })
        );
        let removed = plan(decide(
            "p",
            &recognition(Intent::RemoveFromList, 0.95, &[("item", "oat milk")]),
            &context(),
        ));
        assert_eq!(removed.steps[0].command_type, "Unlist");
        assert!(
            question(decide(
                "p",
                &recognition(Intent::AddToList, 0.95, &[]),
                &context()
            ))
            .question
            .contains("item")
        );
    }

    #[test]
    fn a_meeting_is_put_in_the_calendar_at_the_time_said_in_the_persons_zone() {
        let draft = plan(decide(
            "p9",
            &recognition(
                Intent::ScheduleEvent,
                0.9,
                &[
                    ("title", "budget review"),
                    ("person", "Dana"),
                    ("date", "tomorrow"),
                    ("time", "3pm"),
                    ("duration", "30 minutes"),
                ],
            ),
            &context(),
        ));
        let step = &draft.steps[0];
        assert_eq!(step.command_type, "ScheduleEvent");
        assert_eq!(
            step.data,
            json!({
                "event_id": "p9",
                "title": "budget review with Dana",
                "start": "2026-12-03T15:00:00",
                "end": "2026-12-03T15:30:00",
                "time_zone": "Europe/Paris",
            })
        );
        assert_eq!(draft.steps.len(), 1, "no CalDAV calendar is connected");

        // With a CalDAV calendar, the actuator writes it there too.
        let connected = PlanningContext {
            caldav: true,
            ..context()
        };
        let draft = plan(decide(
            "p9",
            &recognition(
                Intent::ScheduleEvent,
                0.9,
                &[("title", "retro"), ("date", "tomorrow"), ("time", "9am")],
            ),
            &connected,
        ));
        assert_eq!(draft.steps.len(), 2);
        assert_eq!(
            draft.steps[1].executor,
            StepExecutor::Actuator {
                integration: "caldav".to_owned()
            }
        );
        assert_eq!(
            draft.steps[1].data,
            json!({
                "action": "put_event",
                "uid": "p9@steward",
                "summary": "retro",
                "start": "2026-12-03T09:00:00",
                "end": "2026-12-03T10:00:00",
                "time_zone": "Europe/Paris",
            })
        );
        // Without a time of day, it asks rather than picking one.
        let vague = question(decide(
            "p",
            &recognition(
                Intent::ScheduleEvent,
                0.9,
                &[("title", "retro"), ("date", "tomorrow morning")],
            ),
            &context(),
        ));
        assert_eq!(vague.slot.as_deref(), Some("time"));
        let unreadable = question(decide(
            "p",
            &recognition(
                Intent::ScheduleEvent,
                0.9,
                &[("title", "retro"), ("date", "whenever suits")],
            ),
            &context(),
        ));
        assert!(unreadable.question.contains("whenever suits"));
    }

    #[test]
    fn scenes_questions_and_the_out_of_scope() {
        let scene = plan(decide(
            "p",
            &recognition(Intent::ActivateScene, 0.9, &[("scene", "movie night")]),
            &context(),
        ));
        assert_eq!(
            scene.steps[0].data,
            json!({ "scene_id": "movie_night", "activation_id": "p" })
        );
        match decide("p", &recognition(Intent::ShowDue, 0.9, &[]), &context()) {
            Decision::Answer(lookup) => assert!(lookup.path.starts_with("/api/v1/maintenance")),
            other => panic!("expected an answer, got {other:?}"),
        }
        assert!(matches!(
            decide("p", &recognition(Intent::OutOfScope, 0.9, &[]), &context()),
            Decision::Decline(_)
        ));
    }

    // ------------------------------------------------------------- inbox

    #[test]
    fn a_reply_drafts_and_sends_what_was_said_to_the_newest_message_from_the_sender() {
        let draft = plan(decide(
            "reply-1",
            &said(
                "reply to dana saying friday at noon works",
                Intent::ReplyToMessage,
                0.9,
                &[("sender", "dana")],
            ),
            &context(),
        ));
        assert_eq!(draft.steps.len(), 2);
        assert_eq!(draft.steps[0].stream_id, "message-m3");
        assert_eq!(draft.steps[0].command_type, "DraftReply");
        assert_eq!(
            draft.steps[0].data,
            json!({"draft_id": "reply-1", "body_text": "Friday at noon works"})
        );
        assert_eq!(draft.steps[1].stream_id, "message-m3");
        assert_eq!(draft.steps[1].command_type, "RequestSend");
        assert_eq!(draft.steps[1].data, json!({"draft_id": "reply-1"}));
        assert!(
            draft
                .steps
                .iter()
                .all(|step| step.executor == StepExecutor::Domain {})
        );
        assert_eq!(draft.slots["message"], json!("m3"));
    }

    #[test]
    fn a_topic_picks_the_message_and_quoted_words_are_the_reply() {
        let draft = plan(decide(
            "reply-2",
            &said(
                "answer Dana's mail about lunch with 'See you there!'",
                Intent::ReplyToMessage,
                0.9,
                &[("sender", "Dana's"), ("topic", "lunch")],
            ),
            &context(),
        ));
        assert_eq!(draft.steps[0].stream_id, "message-m1");
        assert_eq!(draft.steps[0].data["body_text"], json!("See you there!"));

        // A company is named by its address.
        let draft = plan(decide(
            "reply-3",
            &said(
                "reply to amazon and say thanks",
                Intent::ReplyToMessage,
                0.9,
                &[("sender", "amazon")],
            ),
            &context(),
        ));
        assert_eq!(draft.steps[0].stream_id, "message-m2");
        assert_eq!(draft.steps[0].data["body_text"], json!("Thanks"));

        // No sender, no topic: the newest message.
        let draft = plan(decide(
            "reply-4",
            &said(
                "reply to the latest message saying no thanks",
                Intent::ReplyToMessage,
                0.9,
                &[],
            ),
            &context(),
        ));
        assert_eq!(draft.steps[0].stream_id, "message-m3");
        assert_eq!(draft.steps[0].data["body_text"], json!("No thanks"));
    }

    #[test]
    fn words_of_the_reply_name_neither_its_sender_nor_its_topic() {
        let text = "reply to Dana saying Friday is fine";
        let mut recognition = said(text, Intent::ReplyToMessage, 0.9, &[]);
        recognition.slots = crate::Slots::new([
            crate::Slot {
                name: "sender".into(),
                text: "Dana".into(),
                start: 9,
                end: 13,
                confidence: 0.9,
            },
            crate::Slot {
                name: "topic".into(),
                text: "Friday".into(),
                start: 21,
                end: 27,
                confidence: 0.9,
            },
        ]);
        let draft = plan(decide("reply-7", &recognition, &context()));
        assert_eq!(draft.steps[0].stream_id, "message-m3");
        assert_eq!(draft.steps[0].data["body_text"], json!("Friday is fine"));
        assert!(!draft.slots.contains_key("topic"), "{:?}", draft.slots);
    }

    #[test]
    fn a_reply_without_words_or_to_nobody_known_is_a_question() {
        match decide(
            "reply-5",
            &said(
                "write back to dana",
                Intent::ReplyToMessage,
                0.9,
                &[("sender", "dana")],
            ),
            &context(),
        ) {
            Decision::Ask(question) => {
                assert_eq!(question.slot.as_deref(), Some("body"));
                assert!(question.question.contains("Dana Smith"), "{question:?}");
            }
            other => panic!("expected a question, got {other:?}"),
        }
        match decide(
            "reply-6",
            &said(
                "reply to my landlord saying yes",
                Intent::ReplyToMessage,
                0.9,
                &[("sender", "my landlord")],
            ),
            &context(),
        ) {
            Decision::Ask(question) => {
                assert_eq!(question.slot.as_deref(), Some("sender"));
                assert!(
                    question.question.contains("from my landlord"),
                    "{question:?}"
                );
                assert_eq!(question.choices, ["Dana Smith", "orders@amazon.example"]);
            }
            other => panic!("expected a question, got {other:?}"),
        }
    }

    #[test]
    fn reply_text_is_taken_from_quotes_or_after_saying() {
        let text = |request: &str| reply_text(request).map(|(_, text)| text);
        assert_eq!(
            reply_text("reply to Sam: \"on my way\""),
            Some((14, "On my way".into()))
        );
        assert_eq!(
            text("tell the school I'll be late, reply saying I'll be late"),
            Some("I'll be late".into())
        );
        assert_eq!(
            reply_text("reply and say I'll send the offer later"),
            Some((5, "I'll send the offer later".into()))
        );
        assert_eq!(text("write back to Ana"), None);
        assert_eq!(text("reply saying "), None);
        assert_eq!(
            text("réponds à Émile saying d'accord"),
            Some("D'accord".into())
        );
    }
}
