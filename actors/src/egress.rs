//! The egress ledger (`egress-<yyyy-mm>`, one stream a month): every call
//! to a model outside the machine, recorded before it goes out and settled
//! once with its answer or its failure.
//!
//! Rules: a call id is 1 to 64 letters, digits, `-` and `_`; the endpoint is
//! an `http(s)` URL with no user name, password, query or fragment in it
//! (where keys hide); only calls of the
//! `ordinary` privacy class may be recorded as sent (the planner never
//! sends the others, and the ledger would refuse them if it tried); a call
//! is recorded once (the same call again changes nothing, another under
//! its id is refused) and settled once, after it was sent.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_events::domain::egress::{EgressAnswered, EgressEvent, EgressFailed, EgressSent};

use crate::aggregate::{Aggregate, Context, Rejection, ensure};
use crate::catalog::Visitor;

/// Shows the egress ledger to `visitor`.
pub(crate) fn visit<V: Visitor>(visitor: &mut V) {
    visitor.visit::<EgressLedger>();
}

/// The one privacy class that may leave the machine.
pub const ORDINARY: &str = "ordinary";

/// The stream id of the ledger for the month of `at` (`egress-2026-12`).
pub fn ledger_id(at: DateTime<Utc>) -> String {
    at.format("%Y-%m").to_string()
}

/// Commands to an egress ledger.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "command_type", content = "data", deny_unknown_fields)]
pub enum EgressCommand {
    /// Record a call about to go out.
    RecordEgress {
        /// The call's id.
        call_id: String,
        /// Where it goes.
        endpoint: String,
        /// The model asked.
        model: String,
        /// What for.
        purpose: String,
        /// The request's privacy class.
        privacy: String,
        /// The plan it is for.
        #[serde(default)]
        plan_id: Option<String>,
        /// The body, exactly as it will be sent.
        sent: Value,
    },
    /// Record the endpoint's answer.
    RecordEgressAnswer {
        /// The call.
        call_id: String,
        /// The HTTP status.
        status: u16,
        /// What came back.
        received: Value,
        /// How long it took.
        latency_ms: u64,
    },
    /// Record that a call got no answer.
    RecordEgressFailure {
        /// The call.
        call_id: String,
        /// What went wrong.
        error: String,
        /// How long until it was given up.
        latency_ms: u64,
    },
}

/// A call in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// Where it went.
    pub endpoint: String,
    /// Whether it was answered or failed.
    pub settled: bool,
}

/// One month of calls out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EgressLedger {
    /// By call id.
    pub calls: BTreeMap<String, Call>,
}

impl EgressLedger {
    fn unsettled(&self, call_id: &str) -> Result<bool, Rejection> {
        let call = self.calls.get(call_id).ok_or_else(|| {
            Rejection::new("unknown_call", format!("no call `{call_id}` was sent"))
        })?;
        Ok(!call.settled)
    }
}

fn check_call_id(call_id: &str) -> Result<(), Rejection> {
    ensure(
        !call_id.is_empty()
            && call_id.len() <= 64
            && call_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "invalid_call_id",
        || "a call id is 1 to 64 letters, digits, `-` and `_`".to_owned(),
    )
}

fn check_endpoint(endpoint: &str) -> Result<(), Rejection> {
    let authority = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    ensure(
        authority.is_some_and(|authority| !authority.is_empty() && !authority.contains('@'))
            && !endpoint.contains(['?', '#'])
            && endpoint.len() <= 2000
            && !endpoint.chars().any(char::is_whitespace),
        "invalid_endpoint",
        || "an endpoint is an http(s) URL with no user name, password or query in it".to_owned(),
    )
}

impl Aggregate for EgressLedger {
    const CATEGORY: &'static str = "egress";
    const DOMAIN: &'static str = "planner";
    const STATE_VERSION: u32 = 1;
    type Command = EgressCommand;
    type Event = EgressEvent;

    fn decide(
        &self,
        command: EgressCommand,
        context: &Context,
    ) -> Result<Vec<EgressEvent>, Rejection> {
        match command {
            EgressCommand::RecordEgress {
                call_id,
                endpoint,
                model,
                purpose,
                privacy,
                plan_id,
                sent,
            } => {
                check_call_id(&call_id)?;
                check_endpoint(&endpoint)?;
                ensure(privacy == ORDINARY, "not_for_egress", || {
                    format!("a `{privacy}` request stays on this machine")
                })?;
                ensure(
                    !model.trim().is_empty() && !purpose.trim().is_empty(),
                    "incomplete_call",
                    || "a call names its model and its purpose".to_owned(),
                )?;
                if let Some(call) = self.calls.get(&call_id) {
                    ensure(call.endpoint == endpoint, "call_id_taken", || {
                        format!("call `{call_id}` went to another endpoint")
                    })?;
                    return Ok(Vec::new());
                }
                Ok(vec![EgressEvent::Sent(EgressSent {
                    call_id,
                    endpoint,
                    model,
                    purpose,
                    privacy,
                    plan_id,
                    sent,
                    sent_at: context.now,
                })])
            }
            EgressCommand::RecordEgressAnswer {
                call_id,
                status,
                received,
                latency_ms,
            } => {
                if !self.unsettled(&call_id)? {
                    return Ok(Vec::new());
                }
                Ok(vec![EgressEvent::Answered(EgressAnswered {
                    call_id,
                    status,
                    received,
                    latency_ms,
                })])
            }
            EgressCommand::RecordEgressFailure {
                call_id,
                error,
                latency_ms,
            } => {
                if !self.unsettled(&call_id)? {
                    return Ok(Vec::new());
                }
                Ok(vec![EgressEvent::Failed(EgressFailed {
                    call_id,
                    error: error.chars().take(500).collect(),
                    latency_ms,
                })])
            }
        }
    }

    fn apply(&mut self, event: &EgressEvent) {
        match event {
            EgressEvent::Sent(sent) => {
                self.calls.insert(
                    sent.call_id.clone(),
                    Call {
                        endpoint: sent.endpoint.clone(),
                        settled: false,
                    },
                );
            }
            EgressEvent::Answered(EgressAnswered { call_id, .. })
            | EgressEvent::Failed(EgressFailed { call_id, .. }) => {
                if let Some(call) = self.calls.get_mut(call_id) {
                    call.settled = true;
                }
            }
        }
    }
}
