//! [`compensate`]: the steps that undo a completed plan, or why it cannot
//! be undone.
//!
//! Pure: the caller loads the plan and folds the home streams' events from
//! before the plan was approved into [`StatesBefore`]; this module only
//! decides. The compensation is a new plan's steps, carried out by the
//! executor like any other, so undoing leaves the same record as doing:
//!
//! - a device's state (`RequestDeviceState`, the MQTT `Publish`,
//!   `RecordStateApplied`, as the planner builds them) is asked for again
//!   as it was before the plan;
//! - `ListItem` and `Unlist` on a shopping list undo each other;
//! - `ScheduleEvent` is undone by the calendar's `CancelEvent`, and a
//!   CalDAV `put_event` by `cancel_event` of the same uid.
//!
//! Each step's inverse keeps its place in a group (a device's request,
//! publish and record stay together, in that order), and the groups are
//! undone last first, as a saga compensates. Anything else is refused by
//! name rather than guessed at: a step with no known inverse, or a device
//! whose state before the plan Steward never learnt.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};
use steward_actors::plans::{Plan, PlanStatus, PlanStep, StepExecutor};
use steward_actuator::zigbee2mqtt;
use steward_events::domain::home::{DesiredStateRequested, HomeEvent};

use crate::check_plan_id;

/// The id of the plan that undoes `plan_id`: one per plan, so asking twice
/// proposes nothing new.
pub fn undo_plan_id(plan_id: &str) -> String {
    format!("undo-{plan_id}")
}

/// What the devices of the home streams held before a plan: each device's
/// last reported value of each attribute, or the last one asked of it and
/// applied, whichever came later.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatesBefore {
    /// By home stream (`home-main`), then device id, then attribute.
    devices: BTreeMap<String, BTreeMap<String, BTreeMap<String, Value>>>,
    /// Requests not yet settled, by home stream and request id: an applied
    /// one becomes the device's state.
    pending: BTreeMap<String, BTreeMap<String, DesiredStateRequested>>,
}

impl StatesBefore {
    /// Folds in one event of the home stream `stream_id`, in stream order.
    pub fn apply(&mut self, stream_id: &str, event: &HomeEvent) {
        let devices = self.devices.entry(stream_id.to_owned()).or_default();
        let pending = self.pending.entry(stream_id.to_owned()).or_default();
        match event {
            HomeEvent::DeviceRegistered(e) => {
                devices.entry(e.device_id.clone()).or_default();
            }
            HomeEvent::DeviceRemoved(e) => {
                devices.remove(&e.device_id);
            }
            HomeEvent::StateReported(e) => devices
                .entry(e.device_id.clone())
                .or_default()
                .extend(e.attributes.clone()),
            HomeEvent::StateRequested(e) => {
                pending.insert(e.request_id.clone(), e.clone());
            }
            HomeEvent::StateApplied(e) => {
                if let Some(request) = pending.remove(&e.request_id) {
                    devices
                        .entry(request.device_id)
                        .or_default()
                        .extend(request.attributes);
                }
            }
            HomeEvent::StateFailed(e) => {
                pending.remove(&e.request_id);
            }
            _ => {}
        }
    }

    /// Records `attributes` as `device_id`'s state in `stream_id` (for
    /// callers that know it another way, and tests).
    pub fn with_device(
        mut self,
        stream_id: &str,
        device_id: &str,
        attributes: BTreeMap<String, Value>,
    ) -> Self {
        self.devices
            .entry(stream_id.to_owned())
            .or_default()
            .entry(device_id.to_owned())
            .or_default()
            .extend(attributes);
        self
    }

    /// `device_id`'s value of `attribute` in `stream_id`, if known.
    pub fn value(&self, stream_id: &str, device_id: &str, attribute: &str) -> Option<&Value> {
        self.devices.get(stream_id)?.get(device_id)?.get(attribute)
    }
}

/// The steps that undo a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compensation {
    /// The plan that undoes it (`undo-<plan_id>`).
    pub plan_id: String,
    /// Its steps, in order.
    pub steps: Vec<PlanStep>,
    /// Why these steps, in words.
    pub rationale: String,
}

/// Why a plan cannot be undone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UndoRefusal {
    /// No plan was proposed under that id.
    #[error("there is no plan `{plan_id}`")]
    UnknownPlan {
        /// The plan's id.
        plan_id: String,
    },
    /// Only a completed plan did all it meant to; anything else is still
    /// running, was never carried out, or stopped part way.
    #[error("plan `{plan_id}` is {status}; only a completed plan can be undone")]
    NotCompleted {
        /// The plan's id.
        plan_id: String,
        /// Where it stands.
        status: &'static str,
    },
    /// The undo plan's id would not be a valid plan id.
    #[error("plan `{plan_id}` cannot be undone under the id `undo-{plan_id}`: {reason}")]
    BadId {
        /// The plan's id.
        plan_id: String,
        /// Why.
        reason: String,
    },
    /// The steps were erased with their subject: what the plan did is no
    /// longer known.
    #[error("plan `{plan_id}`'s steps were erased; what it did can no longer be undone")]
    StepsErased {
        /// The plan's id.
        plan_id: String,
    },
    /// A step has no inverse Steward knows.
    #[error("step {step} of plan `{plan_id}` ({command_type}) cannot be undone: {reason}")]
    NoInverse {
        /// The plan's id.
        plan_id: String,
        /// The step's index.
        step: usize,
        /// Its command type.
        command_type: String,
        /// Why.
        reason: String,
    },
    /// A device's state before the plan was never reported nor applied, so
    /// there is nothing to put back.
    #[error(
        "step {step} of plan `{plan_id}`: the {attribute} of `{device_id}` before the plan is unknown, so it cannot be put back"
    )]
    UnknownPreviousState {
        /// The plan's id.
        plan_id: String,
        /// The step's index.
        step: usize,
        /// The device.
        device_id: String,
        /// The attribute.
        attribute: String,
    },
}

impl UndoRefusal {
    /// Whether the refusal is about what was asked (no such plan, not one
    /// that can be undone yet) rather than about what the plan did.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::UnknownPlan { .. } | Self::NotCompleted { .. } | Self::BadId { .. }
        )
    }
}

/// The steps that undo `plan` (the plan `plan_id`), given the state of the
/// home before it; see the module's documentation for the inverses.
pub fn compensate(
    plan_id: &str,
    plan: &Plan,
    before: &StatesBefore,
) -> Result<Compensation, UndoRefusal> {
    let Some(proposal) = plan.proposal.as_ref() else {
        return Err(UndoRefusal::UnknownPlan {
            plan_id: plan_id.to_owned(),
        });
    };
    if plan.status != PlanStatus::Completed {
        return Err(UndoRefusal::NotCompleted {
            plan_id: plan_id.to_owned(),
            status: status_name(plan.status),
        });
    }
    let undo_id = undo_plan_id(plan_id);
    check_plan_id(&undo_id).map_err(|reason| UndoRefusal::BadId {
        plan_id: plan_id.to_owned(),
        reason,
    })?;
    if proposal.steps.len() != proposal.step_count as usize {
        return Err(UndoRefusal::StepsErased {
            plan_id: plan_id.to_owned(),
        });
    }

    let mut undo = Undo {
        plan_id,
        undo_id: &undo_id,
        before,
        groups: Vec::new(),
        requests: BTreeMap::new(),
    };
    for (index, step) in proposal.steps.iter().enumerate() {
        undo.step(index, step)?;
    }
    let steps: Vec<PlanStep> = undo
        .groups
        .into_iter()
        .rev()
        .flat_map(|group| group.steps)
        .collect();
    let rationale = format!(
        "Undoes plan {plan_id} ({}): {} steps put back what it changed, last change first",
        proposal.intent,
        steps.len()
    );
    Ok(Compensation {
        plan_id: undo_id,
        steps,
        rationale,
    })
}

/// The inverses of one plan's steps, as they are worked out.
struct Undo<'a> {
    plan_id: &'a str,
    undo_id: &'a str,
    before: &'a StatesBefore,
    /// The inverses, by group, in the original order.
    groups: Vec<Group>,
    /// The plan's device requests, by their request id.
    requests: BTreeMap<String, DeviceRequest>,
}

/// Inverse steps that stay together and in order.
struct Group {
    /// The device request the group undoes, if it is one.
    request_id: Option<String>,
    steps: Vec<PlanStep>,
}

/// One device request of the plan and its undoing.
struct DeviceRequest {
    /// Its place among the plan's device requests: a publish undoes the
    /// latest one for its device.
    number: usize,
    stream_id: String,
    device_id: String,
    /// The undo plan's request id.
    undo_request_id: String,
    /// The attributes as they were before, to ask for again.
    previous: BTreeMap<String, Value>,
}

impl DeviceRequest {
    fn what(&self) -> String {
        self.previous
            .iter()
            .map(|(attribute, value)| format!("{attribute} {value}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Undo<'_> {
    fn no_inverse(&self, index: usize, step: &PlanStep, reason: impl Into<String>) -> UndoRefusal {
        UndoRefusal::NoInverse {
            plan_id: self.plan_id.to_owned(),
            step: index,
            command_type: step.command_type.clone(),
            reason: reason.into(),
        }
    }

    /// A string field of the step's data, or the refusal naming it.
    fn text<'s>(
        &self,
        index: usize,
        step: &'s PlanStep,
        field: &str,
    ) -> Result<&'s str, UndoRefusal> {
        step.data
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| self.no_inverse(index, step, format!("its data has no `{field}`")))
    }

    fn single(&mut self, step: PlanStep) {
        self.groups.push(Group {
            request_id: None,
            steps: vec![step],
        });
    }

    fn join_request(&mut self, request_id: &str, step: PlanStep) {
        let group = self
            .groups
            .iter_mut()
            .rev()
            .find(|group| group.request_id.as_deref() == Some(request_id));
        match group {
            Some(group) => group.steps.push(step),
            None => self.groups.push(Group {
                request_id: Some(request_id.to_owned()),
                steps: vec![step],
            }),
        }
    }

    fn step(&mut self, index: usize, step: &PlanStep) -> Result<(), UndoRefusal> {
        let actuator = match &step.executor {
            StepExecutor::Domain {} => None,
            StepExecutor::Actuator { integration } => Some(integration.as_str()),
        };
        match (actuator, step.command_type.as_str()) {
            (None, "RequestDeviceState") => self.request_device_state(index, step),
            (Some("mqtt"), _) => self.publish(index, step),
            (None, "RecordStateApplied") => {
                let request_id = self.text(index, step, "request_id")?;
                let Some(request) = self.requests.get(request_id) else {
                    return Err(self.no_inverse(
                        index,
                        step,
                        format!("no step before it asks for `{request_id}`"),
                    ));
                };
                let inverse = PlanStep {
                    stream_id: step.stream_id.clone(),
                    command_type: "RecordStateApplied".to_owned(),
                    data: json!({ "request_id": request.undo_request_id }),
                    executor: StepExecutor::Domain {},
                    summary: format!("Record that {} took it", request.device_id),
                };
                let request_id = request_id.to_owned();
                self.join_request(&request_id, inverse);
                Ok(())
            }
            (None, "ListItem") => {
                let item = self.text(index, step, "item")?;
                self.single(PlanStep {
                    stream_id: step.stream_id.clone(),
                    command_type: "Unlist".to_owned(),
                    data: json!({ "item": item }),
                    executor: StepExecutor::Domain {},
                    summary: format!("Take {item} off the shopping list again"),
                });
                Ok(())
            }
            (None, "Unlist") => {
                let item = self.text(index, step, "item")?;
                self.single(PlanStep {
                    stream_id: step.stream_id.clone(),
                    command_type: "ListItem".to_owned(),
                    data: json!({ "item": item }),
                    executor: StepExecutor::Domain {},
                    summary: format!("Put {item} back on the shopping list"),
                });
                Ok(())
            }
            (None, "ScheduleEvent") => {
                let event_id = self.text(index, step, "event_id")?;
                let title = step
                    .data
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or(event_id);
                self.single(PlanStep {
                    stream_id: step.stream_id.clone(),
                    command_type: "CancelEvent".to_owned(),
                    data: json!({ "event_id": event_id }),
                    executor: StepExecutor::Domain {},
                    summary: format!("Take {title} out of the calendar"),
                });
                Ok(())
            }
            (Some("caldav"), _) => {
                let action = self.text(index, step, "action")?;
                if action != "put_event" {
                    return Err(self.no_inverse(
                        index,
                        step,
                        format!("a CalDAV `{action}` has no inverse Steward knows"),
                    ));
                }
                let uid = self.text(index, step, "uid")?;
                let title = step
                    .data
                    .get("summary")
                    .and_then(Value::as_str)
                    .unwrap_or(uid);
                self.single(PlanStep {
                    stream_id: step.stream_id.clone(),
                    command_type: "CancelEvent".to_owned(),
                    data: json!({ "action": "cancel_event", "uid": uid }),
                    executor: step.executor.clone(),
                    summary: format!("Remove {title} from the CalDAV calendar"),
                });
                Ok(())
            }
            (Some(integration), command_type) => Err(self.no_inverse(
                index,
                step,
                format!("Steward knows no inverse of `{command_type}` through {integration}"),
            )),
            (None, command_type) => Err(self.no_inverse(
                index,
                step,
                format!("Steward knows no inverse of the command `{command_type}`"),
            )),
        }
    }

    /// Asks the device for its state before the plan, under a request id
    /// of the undo plan.
    fn request_device_state(&mut self, index: usize, step: &PlanStep) -> Result<(), UndoRefusal> {
        let request_id = self.text(index, step, "request_id")?.to_owned();
        let device_id = self.text(index, step, "device_id")?.to_owned();
        let Some(asked) = step.data.get("attributes").and_then(Value::as_object) else {
            return Err(self.no_inverse(index, step, "its data has no `attributes`"));
        };
        let mut previous = BTreeMap::new();
        for attribute in asked.keys() {
            let Some(value) = self.before.value(&step.stream_id, &device_id, attribute) else {
                return Err(UndoRefusal::UnknownPreviousState {
                    plan_id: self.plan_id.to_owned(),
                    step: index,
                    device_id,
                    attribute: attribute.clone(),
                });
            };
            previous.insert(attribute.clone(), value.clone());
        }
        let request = DeviceRequest {
            stream_id: step.stream_id.clone(),
            number: self.requests.len(),
            undo_request_id: format!("{}.{}", self.undo_id, self.requests.len()),
            device_id,
            previous,
        };
        let inverse = PlanStep {
            stream_id: request.stream_id.clone(),
            command_type: "RequestDeviceState".to_owned(),
            data: json!({
                "request_id": request.undo_request_id,
                "device_id": request.device_id,
                "attributes": request.previous,
            }),
            executor: StepExecutor::Domain {},
            summary: format!(
                "Record that {} is asked for {} again, as before plan {}",
                request.device_id,
                request.what(),
                self.plan_id
            ),
        };
        self.requests.insert(request_id.clone(), request);
        self.join_request(&request_id, inverse);
        Ok(())
    }

    /// Publishes the device's state before the plan to the same topic: the
    /// device is the one `<base>/<device>/set` names, which a request of
    /// the plan must have asked for (else nothing says what it held).
    fn publish(&mut self, index: usize, step: &PlanStep) -> Result<(), UndoRefusal> {
        let topic = self.text(index, step, "topic")?;
        let device_id = topic
            .strip_suffix("/set")
            .and_then(|device_topic| device_topic.rsplit('/').next());
        let found = device_id.and_then(|device_id| {
            self.requests
                .iter()
                .filter(|(_, request)| {
                    request.device_id == device_id && request.stream_id == step.stream_id
                })
                .max_by_key(|(_, request)| request.number)
                .map(|(request_id, request)| (request_id.clone(), request))
        });
        let Some((request_id, request)) = found else {
            return Err(self.no_inverse(
                index,
                step,
                format!(
                    "no step before it asks a device for the state published to `{topic}`, \
                     so what it held before is unknown"
                ),
            ));
        };
        let mut payload = Map::new();
        for (attribute, value) in &request.previous {
            if let Value::Object(fields) = zigbee2mqtt::set_payload(attribute, value) {
                payload.extend(fields);
            }
        }
        let mut data = step.data.clone();
        data["payload"] = Value::Object(payload);
        let inverse = PlanStep {
            stream_id: step.stream_id.clone(),
            command_type: step.command_type.clone(),
            data,
            executor: step.executor.clone(),
            summary: format!(
                "Set {} back to {} over MQTT",
                request.device_id,
                request.what()
            ),
        };
        self.join_request(&request_id, inverse);
        Ok(())
    }
}

/// Where a plan stands, in words.
pub fn status_name(status: PlanStatus) -> &'static str {
    match status {
        PlanStatus::NotProposed => "not proposed",
        PlanStatus::Suggested => "suggested, not approved",
        PlanStatus::AwaitingApproval => "awaiting approval",
        PlanStatus::Approved => "still running",
        PlanStatus::Rejected => "rejected",
        PlanStatus::Expired => "expired",
        PlanStatus::Completed => "completed",
        PlanStatus::Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use steward_actors::plans::{ApprovalPolicy, Autonomy, ModelLocation, PlannerModel};
    use steward_events::domain::home::{
        DesiredStateApplied, DeviceKind, DeviceRegistered, DeviceStateReported,
    };
    use steward_events::domain::plans::PlanProposed;

    use super::*;
    use crate::planning::fixtures;
    use crate::{Decision, Intent, PlanningContext, decide};

    // ------------------------------------------------------------- given

    /// The planner's home, with a CalDAV calendar connected.
    fn context() -> PlanningContext {
        PlanningContext {
            caldav: true,
            ..fixtures::context()
        }
    }

    /// The planner's plan `plan_id` for `intent` and `slots`, carried out
    /// to the end.
    fn completed(plan_id: &str, intent: Intent, slots: &[(&str, &str)]) -> Plan {
        let Decision::Plan(draft) = decide(
            plan_id,
            &fixtures::recognition(intent, 0.95, slots),
            &context(),
        ) else {
            panic!("the planner plans {intent:?} {slots:?}");
        };
        Plan {
            status: PlanStatus::Completed,
            proposal: Some(PlanProposed {
                request: Some("what was asked".to_owned()),
                trigger: None,
                intent: draft.intent.label().to_owned(),
                confidence: 0.95,
                slots: draft.slots,
                step_count: draft.steps.len() as u32,
                steps: draft.steps,
                rationale: draft.rationale,
                model: PlannerModel {
                    name: "steward-planner".to_owned(),
                    version: "test".to_owned(),
                    location: ModelLocation::Local {},
                },
                memory_items: Vec::new(),
                approval: ApprovalPolicy {
                    autonomy: Autonomy::Act,
                    approvers: Vec::new(),
                    expires_at: None,
                    reason: None,
                },
                proposed_at: Utc::now(),
            }),
            ..Plan::default()
        }
    }

    /// The home as its events left it.
    fn home(events: &[HomeEvent]) -> StatesBefore {
        let mut before = StatesBefore::default();
        for event in events {
            before.apply("home-main", event);
        }
        before
    }

    fn registered(device_id: &str) -> HomeEvent {
        HomeEvent::DeviceRegistered(DeviceRegistered {
            device_id: device_id.to_owned(),
            kind: DeviceKind::Light,
            room: "living room".to_owned(),
            capabilities: Vec::new(),
        })
    }

    fn reported(device_id: &str, attributes: Value) -> HomeEvent {
        HomeEvent::StateReported(DeviceStateReported {
            device_id: device_id.to_owned(),
            attributes: serde_json::from_value(attributes).expect("attributes"),
        })
    }

    fn summaries(compensation: &Compensation) -> Vec<(&str, &str)> {
        compensation
            .steps
            .iter()
            .map(|step| (step.command_type.as_str(), step.summary.as_str()))
            .collect()
    }

    // -------------------------------------------------------- when, then

    #[test]
    fn undo_of_a_device_asks_for_its_reported_state_again_as_the_planner_would() {
        let plan = completed(
            "lamp-off",
            Intent::SetDevice,
            &[("device", "living room lamp"), ("state", "off")],
        );
        let before = home(&[
            registered("living_room_lamp"),
            reported(
                "living_room_lamp",
                json!({ "power": "on", "brightness": 40 }),
            ),
        ]);

        let undo = compensate("lamp-off", &plan, &before).expect("undone");

        assert_eq!(undo.plan_id, "undo-lamp-off");
        assert!(undo.rationale.contains("lamp-off"), "{}", undo.rationale);
        let steps = &undo.steps;
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[0].command_type, "RequestDeviceState");
        assert_eq!(
            steps[0].data,
            json!({
                "request_id": "undo-lamp-off.0",
                "device_id": "living_room_lamp",
                "attributes": { "power": "on" },
            })
        );
        assert_eq!(steps[0].stream_id, "home-main");
        assert_eq!(steps[1].command_type, "Publish");
        assert_eq!(
            steps[1].executor,
            StepExecutor::Actuator {
                integration: "mqtt".to_owned()
            }
        );
        assert_eq!(
            steps[1].data,
            json!({
                "topic": "zigbee2mqtt/living_room_lamp/set",
                "payload": { "state": "ON" },
            })
        );
        assert_eq!(steps[2].command_type, "RecordStateApplied");
        assert_eq!(steps[2].data, json!({ "request_id": "undo-lamp-off.0" }));
        assert!(steps[1].summary.contains("back to power \"on\""));
    }

    #[test]
    fn undo_of_several_devices_undoes_the_last_first_each_from_its_own_state() {
        let plan = completed(
            "lights-off",
            Intent::SetDevice,
            &[("device", "living room lights"), ("state", "off")],
        );
        // The lamp's last word was a request applied; the ceiling's a report.
        let before = home(&[
            reported("living_room_lamp", json!({ "power": "off" })),
            reported("living_room_ceiling", json!({ "power": "on" })),
            HomeEvent::StateRequested(DesiredStateRequested {
                request_id: "earlier".to_owned(),
                device_id: "living_room_lamp".to_owned(),
                attributes: BTreeMap::from([("power".to_owned(), json!("on"))]),
                scene_id: None,
                at: Utc::now(),
            }),
            HomeEvent::StateApplied(DesiredStateApplied {
                request_id: "earlier".to_owned(),
                device_id: "living_room_lamp".to_owned(),
            }),
        ]);

        let undo = compensate("lights-off", &plan, &before).expect("undone");

        let devices: Vec<&str> = undo
            .steps
            .iter()
            .filter(|step| step.command_type == "RequestDeviceState")
            .filter_map(|step| step.data["device_id"].as_str())
            .collect();
        let original: Vec<String> = plan
            .proposal
            .iter()
            .flat_map(|p| &p.steps)
            .filter(|step| step.command_type == "RequestDeviceState")
            .filter_map(|step| step.data["device_id"].as_str().map(str::to_owned))
            .collect();
        let mut reversed = original.clone();
        reversed.reverse();
        assert_eq!(devices, reversed);
        let types: Vec<&str> = undo.steps.iter().map(|s| s.command_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "RequestDeviceState",
                "Publish",
                "RecordStateApplied",
                "RequestDeviceState",
                "Publish",
                "RecordStateApplied"
            ]
        );
        for step in undo.steps.iter().filter(|s| s.command_type == "Publish") {
            assert_eq!(step.data["payload"], json!({ "state": "ON" }), "{step:?}");
        }
    }

    #[test]
    fn undo_of_a_shopping_list_change_is_its_opposite() {
        let added = completed("add-milk", Intent::AddToList, &[("item", "oat milk")]);
        let removed = completed("drop-milk", Intent::RemoveFromList, &[("item", "oat milk")]);

        let unlisted = compensate("add-milk", &added, &StatesBefore::default()).expect("undone");
        let relisted = compensate("drop-milk", &removed, &StatesBefore::default()).expect("undone");

        assert_eq!(unlisted.steps[0].command_type, "Unlist");
        assert_eq!(unlisted.steps[0].data, json!({ "item": "oat milk" }));
        assert_eq!(unlisted.steps[0].stream_id, "shoppinglist-main");
        assert_eq!(relisted.steps[0].command_type, "ListItem");
        assert_eq!(relisted.steps[0].data, json!({ "item": "oat milk" }));
    }

    #[test]
    fn undo_of_a_meeting_removes_it_from_caldav_then_cancels_it() {
        let plan = completed(
            "dentist",
            Intent::ScheduleEvent,
            &[("title", "dentist"), ("date", "tomorrow"), ("time", "3pm")],
        );

        let undo = compensate("dentist", &plan, &StatesBefore::default()).expect("undone");

        assert_eq!(
            summaries(&undo),
            [
                ("CancelEvent", "Remove dentist from the CalDAV calendar"),
                ("CancelEvent", "Take dentist out of the calendar"),
            ]
        );
        assert_eq!(
            undo.steps[0].data,
            json!({ "action": "cancel_event", "uid": "dentist@steward" })
        );
        assert_eq!(
            undo.steps[0].executor,
            StepExecutor::Actuator {
                integration: "caldav".to_owned()
            }
        );
        assert_eq!(undo.steps[1].data, json!({ "event_id": "dentist" }));
        assert_eq!(undo.steps[1].stream_id, "calendar-main");
    }

    #[test]
    fn undo_refuses_a_plan_that_did_not_complete() {
        for status in [
            PlanStatus::Suggested,
            PlanStatus::AwaitingApproval,
            PlanStatus::Approved,
            PlanStatus::Rejected,
            PlanStatus::Failed,
        ] {
            let plan = Plan {
                status,
                ..completed("add-tea", Intent::AddToList, &[("item", "tea")])
            };

            let refusal =
                compensate("add-tea", &plan, &StatesBefore::default()).expect_err("not completed");

            assert!(
                matches!(refusal, UndoRefusal::NotCompleted { .. }),
                "{refusal:?}"
            );
            assert!(refusal.is_bad_input());
        }
        let nothing = compensate("nothing", &Plan::default(), &StatesBefore::default());
        assert_eq!(
            nothing,
            Err(UndoRefusal::UnknownPlan {
                plan_id: "nothing".to_owned()
            })
        );
    }

    #[test]
    fn undo_refuses_a_device_whose_state_before_is_unknown() {
        let plan = completed(
            "dim",
            Intent::SetDevice,
            &[("device", "living room lamp"), ("state", "50%")],
        );
        // Power was reported, brightness never.
        let before = home(&[reported("living_room_lamp", json!({ "power": "on" }))]);

        let refusal = compensate("dim", &plan, &before).expect_err("unknown");

        assert_eq!(
            refusal,
            UndoRefusal::UnknownPreviousState {
                plan_id: "dim".to_owned(),
                step: 0,
                device_id: "living_room_lamp".to_owned(),
                attribute: "brightness".to_owned(),
            }
        );
        assert!(!refusal.is_bad_input());
        assert!(
            refusal
                .to_string()
                .contains("brightness of `living_room_lamp`")
        );
    }

    #[test]
    fn undo_refuses_a_step_with_no_inverse_by_name() {
        let mut plan = completed("add-tea", Intent::AddToList, &[("item", "tea")]);
        if let Some(proposal) = plan.proposal.as_mut() {
            proposal.steps[0].command_type = "CheckOff".to_owned();
        }

        let refusal = compensate("add-tea", &plan, &StatesBefore::default()).expect_err("no");

        assert!(
            matches!(&refusal, UndoRefusal::NoInverse { step: 0, command_type, .. } if command_type == "CheckOff"),
            "{refusal:?}"
        );
        assert!(refusal.to_string().contains("CheckOff"), "{refusal}");
    }

    #[test]
    fn undo_refuses_a_plan_whose_steps_were_erased_or_whose_undo_id_is_too_long() {
        let mut erased = completed("add-tea", Intent::AddToList, &[("item", "tea")]);
        if let Some(proposal) = erased.proposal.as_mut() {
            proposal.steps.clear();
        }
        let long_id = "x".repeat(crate::MAX_PLAN_ID);
        let long = completed(&long_id, Intent::AddToList, &[("item", "tea")]);

        assert!(matches!(
            compensate("add-tea", &erased, &StatesBefore::default()),
            Err(UndoRefusal::StepsErased { .. })
        ));
        assert!(matches!(
            compensate(&long_id, &long, &StatesBefore::default()),
            Err(UndoRefusal::BadId { .. })
        ));
    }

    #[test]
    fn undo_counts_no_state_asked_for_that_failed_and_keeps_homes_apart() {
        let before = home(&[
            reported("living_room_lamp", json!({ "power": "on" })),
            HomeEvent::StateRequested(DesiredStateRequested {
                request_id: "failed".to_owned(),
                device_id: "living_room_lamp".to_owned(),
                attributes: BTreeMap::from([("power".to_owned(), json!("off"))]),
                scene_id: None,
                at: Utc::now(),
            }),
            HomeEvent::StateFailed(steward_events::domain::home::DesiredStateFailed {
                request_id: "failed".to_owned(),
                device_id: "living_room_lamp".to_owned(),
                reason: String::new(),
            }),
        ]);

        assert_eq!(
            before.value("home-main", "living_room_lamp", "power"),
            Some(&json!("on"))
        );
        assert_eq!(
            before.value("home-other", "living_room_lamp", "power"),
            None
        );
    }
}
