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

use std::sync::Arc;

use chrono::Utc;
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::json;
use steward_actors::CommandEnvelope;
use steward_actors::policies::{DeviceRef, PlanFacts, Policies};
use steward_events::domain::plans::{ModelLocation, PlannerModel};
use steward_events::{Personal, StreamId};
use steward_host::{Host, Outcome};
use steward_projections::read_models::home::{self, DeviceFilter};
use steward_projections::{Projection as _, ReadDb};
use uuid::Uuid;

use crate::{
    Decision, KnownDevice, KnownScene, PlannerError, PlanningContext, Recognition, Recognizer,
    decide,
};

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
}

impl Default for PlannerSettings {
    fn default() -> Self {
        Self {
            household: "main".to_owned(),
            time_zone: Tz::UTC,
            mqtt_base_topic: "zigbee2mqtt".to_owned(),
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

    /// Decides what to do about a recognised request, without proposing.
    pub async fn decide(
        &self,
        plan_id: &str,
        recognition: &Recognition,
    ) -> Result<Decision, PlannerError> {
        let context = self.context().await?;
        Ok(decide(plan_id, recognition, &context))
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
        let stream = StreamId::new("plan", &plan_id)
            .map_err(|e| PlannerError::Request(format!("plan id `{plan_id}`: {e}")))?;
        let recognition = self.recognize(&request.text).await?;
        let decision = self.decide(&plan_id, &recognition).await?;
        let Decision::Plan(draft) = &decision else {
            return Ok(Planned {
                plan_id,
                recognition,
                decision,
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
        let intent = self.recognizer.classifier().manifest();
        let slots = self.recognizer.tagger().manifest();
        let model = PlannerModel {
            name: "steward-planner".to_owned(),
            version: format!(
                "{}-{}+{}-{}",
                intent.model, intent.version, slots.model, slots.version
            ),
            location: ModelLocation::Local {},
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
            proposal: Some(outcome),
        })
    }

    /// What the planner knows now: the home's devices and scenes.
    async fn context(&self) -> Result<PlanningContext, PlannerError> {
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
        })
    }
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
