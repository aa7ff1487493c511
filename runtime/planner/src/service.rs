//! [`Planner`]: a request in plain language to a proposed plan, on the
//! running system.
//!
//! It recognises the request (on a blocking thread: the models take
//! milliseconds of CPU), reads what the plan needs from the read models
//! (the home's devices and scenes), [`decide`]s, and for a plan asks the
//! household's policies (`policies-main`) what approval it needs and
//! proposes it to its own stream, `plan-<id>`, as the person who asked.
//! From there the plan executor and the actuator carry an approved plan
//! out; questions, answers and declines are returned, not recorded.
//!
//! **Hybrid routing:** when the local models cannot read a request (unsure
//! between intents, or finding no domain for it) and a remote model is
//! configured, the request may be sent there, but only if [`privacy`]
//! finds it ordinary. The call is recorded in the egress ledger
//! (`egress-<yyyy-mm>`) before it leaves, and settled with its answer or
//! failure; if the ledger cannot record it, nothing is sent. A remote
//! reading is planned like a local one and the plan says where it ran.
//!
//! [`privacy`]: crate::privacy

use std::sync::Arc;

use chrono::Utc;
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_actors::egress::ledger_id;
use steward_actors::plans::Plan;
use steward_actors::policies::{DeviceRef, PlanFacts, Policies};
use steward_events::domain::plans::{ModelLocation, PlanProposed, PlannerModel};
use steward_events::{Personal, StreamId};
use steward_host::{Host, Outcome};
use steward_projections::read_models::home::{self, DeviceFilter};
use steward_projections::read_models::inbox::{self, InboxQuery, InboxView};
use steward_projections::{Projection as _, ReadDb};
use uuid::Uuid;

use crate::privacy::{self, Privacy};
use crate::remote::{RemoteModel, RemoteReading, read_answer};
use crate::shadow::{PastPlan, Replayed, compare};
use crate::{
    Decision, Domain, Draft, Intent, IntentPrediction, KnownDevice, KnownMessage, KnownScene,
    PlannerError, PlanningContext, RankedIntent, Recognition, Recognizer, Slot, Slots, decide,
};

/// Whether planning `intent` reads the inbox (the rest never wait on it).
fn wants_messages(intent: Intent) -> bool {
    intent == Intent::ReplyToMessage
}

/// How many of the inbox's newest messages a reply may be planned to.
const RECENT_MESSAGES: usize = 200;

/// Who the planner's own records (the egress ledger) are from.
const PLANNER_ACTOR: &str = "system:planner";

/// The stream of the household's policies.
const POLICIES: &str = "policies-main";

/// Where the planner's plans go and what they act on.
#[derive(Debug, Clone)]
pub struct PlannerSettings {
    /// The household whose streams plans use (`main`).
    pub household: String,
    /// The person's time zone ("tomorrow" is theirs).
    pub time_zone: Tz,
    /// The topic devices take commands under (`zigbee2mqtt`).
    pub mqtt_base_topic: String,
    /// A remote model for what the local ones cannot read; `None` keeps
    /// everything local.
    pub remote: Option<RemoteModel>,
    /// Whether the actuator has a CalDAV calendar to write meetings to.
    pub caldav: bool,
}

impl Default for PlannerSettings {
    fn default() -> Self {
        Self {
            household: "main".to_owned(),
            time_zone: Tz::UTC,
            mqtt_base_topic: "zigbee2mqtt".to_owned(),
            remote: None,
            caldav: false,
        }
    }
}

/// A request to plan.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// What the person said.
    pub text: String,
    /// Who asked, as recorded on the plan's events (`user:<id>`).
    pub actor: String,
    /// The plan's id; a new one when absent. Proposing the same plan again
    /// with the same id changes nothing.
    pub plan_id: Option<String>,
    /// Groups everything the plan leads to; a new one when absent.
    pub correlation_id: Option<Uuid>,
    /// The domains the person may act in; `None`: every one. A request in
    /// another is refused before anything is sent out or proposed.
    pub domains: Option<Vec<Domain>>,
}

/// What became of a request.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    /// The plan's id (a plan was proposed only if `proposal` is set).
    pub plan_id: String,
    /// What the request was recognised as.
    pub recognition: Recognition,
    /// What the planner made of it.
    pub decision: Decision,
    /// The request's privacy class.
    pub privacy: Privacy,
    /// Where the reading the decision rests on was made (`local`, or the
    /// remote endpoint).
    pub location: ModelLocation,
    /// The egress ledger's call, if the request was sent out.
    pub egress_call: Option<String>,
    /// The proposal's outcome, when a plan was proposed.
    #[serde(skip)]
    pub proposal: Option<Outcome>,
}

/// Plans requests on a running host. Cheap to clone.
#[derive(Clone)]
pub struct Planner {
    recognizer: Arc<Recognizer>,
    host: Host,
    read_models: ReadDb,
    settings: PlannerSettings,
}

impl std::fmt::Debug for Planner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planner")
            .field("recognizer", &self.recognizer)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Planner {
    /// A planner proposing through `host`, reading `read_models`.
    pub fn new(
        recognizer: Arc<Recognizer>,
        host: Host,
        read_models: ReadDb,
        settings: PlannerSettings,
    ) -> Self {
        Self {
            recognizer,
            host,
            read_models,
            settings,
        }
    }

    /// The models it recognises with.
    pub fn recognizer(&self) -> &Arc<Recognizer> {
        &self.recognizer
    }

    /// Recognises `request.text` only: its intents and slots.
    pub async fn recognize(&self, text: &str) -> Result<Recognition, PlannerError> {
        let recognizer = Arc::clone(&self.recognizer);
        let text = text.to_owned();
        tokio::task::spawn_blocking(move || recognizer.recognize(&text))
            .await
            .map_err(|e| PlannerError::Worker(e.to_string()))?
    }

    /// What the planner would decide now for `past`, had it been asked at
    /// the time it was: local models only (a replay sends nothing out) and
    /// nothing written.
    pub async fn replay(&self, past: &PastPlan) -> Result<Replayed, PlannerError> {
        let recognition = self.recognize(&past.request).await?;
        let mut context = self.context(recognition.intents.intent()).await?;
        context.now = past.proposed_at.with_timezone(&self.settings.time_zone);
        let now = decide(&past.plan_id, &recognition, &context);
        Ok(Replayed {
            verdict: compare(past, &now),
            then: past.clone(),
            now,
        })
    }

    /// Plans `request`: a plan is proposed to `plan-<id>` under the
    /// policies' approval; anything else is returned.
    #[tracing::instrument(skip_all, fields(plan_id, actor = %request.actor))]
    pub async fn plan(&self, request: PlanRequest) -> Result<Planned, PlannerError> {
        let plan_id = request
            .plan_id
            .clone()
            .unwrap_or_else(|| Uuid::now_v7().simple().to_string());
        tracing::Span::current().record("plan_id", plan_id.as_str());
        check_plan_id(&plan_id).map_err(PlannerError::Request)?;
        let stream = StreamId::new("plan", &plan_id)
            .map_err(|e| PlannerError::Request(format!("plan id `{plan_id}`: {e}")))?;
        let mut recognition = self.recognize(&request.text).await?;
        let allowed = |domain: Domain| {
            domain == Domain::OutOfScope
                || request
                    .domains
                    .as_ref()
                    .is_none_or(|domains| domains.contains(&domain))
        };
        let local_intent = recognition.intents.intent();
        let local_domain = local_intent.domain();
        if !allowed(local_domain) {
            return Err(PlannerError::DomainNotAllowed(local_domain));
        }
        let context = self.context(local_intent).await?;
        let mut decision = decide(&plan_id, &recognition, &context);
        let privacy = privacy::classify(&request.text, &recognition.intents);
        let mut location = ModelLocation::Local {};
        let mut egress_call = None;
        // The same request asked again under its plan id is answered from
        // its proposal, so a retry never sends it out a second time.
        let mut asked_before = false;
        if self.settings.remote.is_some() && needs_help(&decision) {
            let (plan, _) = self.host.load::<Plan>(&stream, true).await?;
            if let Some(proposal) = plan
                .proposal
                .filter(|proposal| proposal.request.as_deref() == Some(request.text.as_str()))
                && let Some(draft) = draft_of(&proposal)
            {
                location = proposal.model.location.clone();
                decision = Decision::Plan(draft);
                asked_before = true;
            }
        }
        if let Some(remote) = &self.settings.remote
            && !asked_before
            && needs_help(&decision)
            && privacy == Privacy::Ordinary
        {
            let (call_id, reading) = self.ask_remote(remote, &plan_id, &request.text).await?;
            egress_call = Some(call_id);
            if let Some(remote_recognition) = reading
                .as_ref()
                .and_then(|reading| recognition_of(&request.text, reading))
            {
                let remote_intent = remote_recognition.intents.intent();
                let remote_context =
                    if wants_messages(remote_intent) && !wants_messages(local_intent) {
                        self.context(remote_intent).await?
                    } else {
                        context.clone()
                    };
                let remote_decision = decide(&plan_id, &remote_recognition, &remote_context);
                if !needs_help(&remote_decision) {
                    recognition = remote_recognition;
                    decision = remote_decision;
                    location = ModelLocation::Remote {
                        endpoint: remote.endpoint().to_owned(),
                    };
                }
            }
        }
        let decided_domain = match &decision {
            Decision::Plan(draft) => Some(draft.intent.domain()),
            Decision::Answer(lookup) => Some(lookup.intent.domain()),
            Decision::Ask(question) => question.intent.map(crate::Intent::domain),
            Decision::Decline(declined) => Some(declined.intent.domain()),
        };
        if let Some(domain) = decided_domain.filter(|domain| !allowed(*domain)) {
            return Err(PlannerError::DomainNotAllowed(domain));
        }
        let Decision::Plan(draft) = &decision else {
            return Ok(Planned {
                plan_id,
                recognition,
                decision,
                privacy,
                location,
                egress_call,
                proposal: None,
            });
        };

        let policies_stream =
            StreamId::parse(POLICIES).map_err(|e| PlannerError::Request(e.to_string()))?;
        let (policies, _) = self.host.load::<Policies>(&policies_stream, true).await?;
        let facts = PlanFacts {
            intent: draft.intent.label().to_owned(),
            devices: draft
                .devices
                .iter()
                .map(|(device_id, kind)| DeviceRef {
                    device_id: device_id.clone(),
                    kind: *kind,
                })
                .collect(),
            spend: None,
        };
        let approval = policies.approval_for(&facts, Utc::now());
        let model = match (&location, &self.settings.remote) {
            (ModelLocation::Remote { .. }, Some(remote)) => PlannerModel {
                name: remote.model().to_owned(),
                version: "remote".to_owned(),
                location: location.clone(),
            },
            _ => {
                let intent = self.recognizer.classifier().manifest();
                let slots = self.recognizer.tagger().manifest();
                PlannerModel {
                    name: "steward-planner".to_owned(),
                    version: format!(
                        "{}-{}+{}-{}",
                        intent.model, intent.version, slots.model, slots.version
                    ),
                    location: location.clone(),
                }
            }
        };
        let data = json!({
            "request": request.text,
            "intent": draft.intent.label(),
            "confidence": f64::from(draft.confidence),
            "slots": draft.slots,
            "steps": draft.steps,
            "rationale": draft.rationale,
            "model": model,
            "approval": approval,
        });
        let mut envelope = CommandEnvelope::new(stream, "ProposePlan", data, request.actor);
        envelope.command_id = format!("propose-{plan_id}");
        envelope.correlation_id = request.correlation_id;
        let outcome = self.host.execute(envelope).await?;
        // The command id comes from the plan id, so the host answers a
        // repeat with the first proposal's events, whatever was asked then.
        if outcome.duplicate && !proposes(&outcome, &request.text) {
            return Err(PlannerError::PlanTaken { plan_id });
        }
        Ok(Planned {
            plan_id,
            recognition,
            decision,
            privacy,
            location,
            egress_call,
            proposal: Some(outcome),
        })
    }

    /// Asks the remote model about `text`, recording the call in the
    /// egress ledger first and its answer or failure after. The call's id,
    /// and the reading if the answer held a usable one.
    async fn ask_remote(
        &self,
        remote: &RemoteModel,
        plan_id: &str,
        text: &str,
    ) -> Result<(String, Option<RemoteReading>), PlannerError> {
        let slot_names: Vec<String> = self
            .recognizer
            .tagger()
            .manifest()
            .tags
            .iter()
            .filter(|tag| tag.as_str() != "O")
            .cloned()
            .collect();
        let body = remote.request_body(text, &slot_names);
        let call_id = Uuid::now_v7().simple().to_string();
        let ledger = StreamId::new("egress", ledger_id(Utc::now()))
            .map_err(|e| PlannerError::Request(e.to_string()))?;
        let record = |command_type: &str, data: serde_json::Value| {
            let mut envelope =
                CommandEnvelope::new(ledger.clone(), command_type, data, PLANNER_ACTOR);
            envelope.command_id = format!("egress-{call_id}-{command_type}");
            envelope
        };
        // Nothing leaves unless the ledger has it.
        self.host
            .execute(record(
                "RecordEgress",
                json!({
                    "call_id": call_id,
                    "endpoint": remote.endpoint(),
                    "model": remote.model(),
                    "purpose": "interpret_request",
                    "privacy": Privacy::Ordinary.class(),
                    "plan_id": plan_id,
                    "sent": body,
                }),
            ))
            .await?;
        let started = std::time::Instant::now();
        let sent = remote.send(&body).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let reading = match sent {
            Ok((status, answer)) => {
                self.host
                    .execute(record(
                        "RecordEgressAnswer",
                        json!({ "call_id": call_id, "status": status, "received": answer,
                                "latency_ms": latency_ms }),
                    ))
                    .await?;
                let read = if (200..300).contains(&status) {
                    read_answer(text, &answer)
                } else {
                    Err(format!("HTTP {status}"))
                };
                read.map_err(|problem| {
                    tracing::warn!(%call_id, %problem, "the remote model's answer is of no use");
                })
                .ok()
            }
            Err(error) => {
                tracing::warn!(%call_id, %error, "the remote model did not answer");
                self.host
                    .execute(record(
                        "RecordEgressFailure",
                        json!({ "call_id": call_id, "error": error, "latency_ms": latency_ms }),
                    ))
                    .await?;
                None
            }
        };
        Ok((call_id, reading))
    }

    /// What the planner knows now for a request of `intent`: the home's
    /// devices and scenes, and for a reply the inbox's newest messages.
    async fn context(&self, intent: Intent) -> Result<PlanningContext, PlannerError> {
        let household = &self.settings.household;
        let tables = steward_projections::live_tables(&self.read_models, home::Home.name()).await?;
        let filter = DeviceFilter {
            household: Some(household.clone()),
            room: None,
        };
        let devices = home::devices(&self.read_models, &tables, &filter)
            .await?
            .into_iter()
            .map(|device| KnownDevice {
                attributes: device
                    .capabilities
                    .iter()
                    .filter(|c| !c.read_only)
                    .map(|c| c.attribute.clone())
                    .collect(),
                device_id: device.device_id,
                kind: device.kind,
                room: device.room,
            })
            .collect();
        let scenes = home::scenes(&self.read_models, &tables, Some(household))
            .await?
            .into_iter()
            .map(|scene| KnownScene {
                scene_id: scene.scene_id,
                name: scene.name,
            })
            .collect();
        Ok(PlanningContext {
            now: Utc::now().with_timezone(&self.settings.time_zone),
            household: household.clone(),
            devices,
            scenes,
            mqtt_base_topic: self.settings.mqtt_base_topic.clone(),
            caldav: self.settings.caldav,
            messages: if wants_messages(intent) {
                self.recent_messages().await?
            } else {
                Vec::new()
            },
        })
    }

    /// The inbox's newest messages, which a reply may answer.
    async fn recent_messages(&self) -> Result<Vec<KnownMessage>, PlannerError> {
        let tables =
            steward_projections::live_tables(&self.read_models, inbox::Inbox.name()).await?;
        let query = InboxQuery {
            view: InboxView::All,
            limit: RECENT_MESSAGES,
            ..InboxQuery::default()
        };
        let mut messages = inbox::queue(&self.read_models, &tables, &query, Utc::now()).await?;
        // The queue ranks by priority; a reply names the newest first.
        messages.sort_by_key(|message| std::cmp::Reverse(message.received_at));
        Ok(messages
            .into_iter()
            .map(|message| KnownMessage {
                message_id: message.message_id,
                from_address: message.from_address,
                from_name: message.from_name,
                subject: message.subject,
            })
            .collect())
    }
}

/// The longest plan id: its steps' ids (`<plan>.<step>`, `<plan>@steward`)
/// must fit the domains' 100-character ids.
pub const MAX_PLAN_ID: usize = 64;

/// Refuses a plan id that is not 1 to 64 letters, digits, `_`, `.` and `-`,
/// not starting with `.`: the id names the plan's commands, actuations and
/// calendar entries, which must all accept it.
pub fn check_plan_id(plan_id: &str) -> Result<(), String> {
    let valid = !plan_id.is_empty()
        && plan_id.len() <= MAX_PLAN_ID
        && !plan_id.starts_with('.')
        && plan_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "a plan id is 1 to {MAX_PLAN_ID} letters, digits, `_`, `.` and `-`, not starting with `.`"
        ))
    }
}

/// Whether the local reading left the planner unable to act: unsure
/// between intents, or finding no domain for the request.
fn needs_help(decision: &Decision) -> bool {
    match decision {
        Decision::Ask(question) => question.intent.is_none() && question.slot.is_none(),
        Decision::Decline(declined) => declined.intent == crate::Intent::OutOfScope,
        Decision::Plan(_) | Decision::Answer(_) => false,
    }
}

/// A proposal's plan as a draft (its devices are left out: they only
/// matter to a new proposal's approval).
fn draft_of(proposal: &PlanProposed) -> Option<Draft> {
    Some(Draft {
        intent: proposal.intent.parse().ok()?,
        confidence: proposal.confidence as f32,
        slots: proposal.slots.clone(),
        steps: proposal.steps.clone(),
        rationale: proposal.rationale.clone(),
        devices: Vec::new(),
    })
}

/// A remote reading as a recognition of `text`: its intent alone, and its
/// slots where they are in the text.
fn recognition_of(text: &str, reading: &RemoteReading) -> Option<Recognition> {
    let lowered = text.to_lowercase();
    let slots = reading.slots.iter().filter_map(|(name, words)| {
        // Lower-casing keeps byte offsets for the ASCII the models are
        // trained on; a slot not found where said is left out.
        let start = lowered.find(&words.to_lowercase())?;
        let end = start + words.len();
        Some(Slot {
            name: name.clone(),
            text: text.get(start..end)?.to_owned(),
            start,
            end,
            confidence: reading.confidence,
        })
    });
    Some(Recognition {
        intents: IntentPrediction::new(vec![RankedIntent {
            intent: reading.intent,
            probability: reading.confidence,
        }])?,
        slots: Slots::new(slots),
        text: text.to_owned(),
    })
}

/// Whether `outcome` is the proposal of `request` (an erased request
/// cannot be told apart, so it is not).
fn proposes(outcome: &Outcome, request: &str) -> bool {
    outcome.events.first().is_some_and(|event| {
        event
            .personal
            .as_ref()
            .and_then(Personal::plain)
            .and_then(|personal| personal.get("request"))
            .and_then(serde_json::Value::as_str)
            == Some(request)
    })
}
