//! The egress ledger: given events / when command / then events.

use serde_json::json;
use steward_actors::egress::{EgressCommand, EgressLedger};
use steward_actors::testing::{default_now, given};
use steward_events::domain::egress::{EgressAnswered, EgressEvent, EgressFailed, EgressSent};

fn record(call_id: &str, privacy: &str) -> EgressCommand {
    EgressCommand::RecordEgress {
        call_id: call_id.into(),
        endpoint: "http://127.0.0.1:8080/v1".into(),
        model: "llama".into(),
        purpose: "interpret_request".into(),
        privacy: privacy.into(),
        plan_id: Some("p1".into()),
        sent: json!({"messages": [{"role": "user", "content": "dim the hall"}]}),
    }
}

fn sent(call_id: &str) -> EgressEvent {
    EgressEvent::Sent(EgressSent {
        call_id: call_id.into(),
        endpoint: "http://127.0.0.1:8080/v1".into(),
        model: "llama".into(),
        purpose: "interpret_request".into(),
        privacy: "ordinary".into(),
        plan_id: Some("p1".into()),
        sent: json!({"messages": [{"role": "user", "content": "dim the hall"}]}),
        sent_at: default_now(),
    })
}

fn answer(call_id: &str) -> EgressCommand {
    EgressCommand::RecordEgressAnswer {
        call_id: call_id.into(),
        status: 200,
        received: json!({"choices": []}),
        latency_ms: 12,
    }
}

#[test]
fn a_call_is_recorded_once_then_settled_once() {
    given::<EgressLedger>([])
        .when(record("c1", "ordinary"))
        .then([sent("c1")]);
    given::<EgressLedger>([sent("c1")])
        .when(record("c1", "ordinary"))
        .then([]);
    given::<EgressLedger>([sent("c1")])
        .when(answer("c1"))
        .then([EgressEvent::Answered(EgressAnswered {
            call_id: "c1".into(),
            status: 200,
            received: json!({"choices": []}),
            latency_ms: 12,
        })]);
    let answered = EgressEvent::Answered(EgressAnswered {
        call_id: "c1".into(),
        status: 200,
        received: json!({}),
        latency_ms: 1,
    });
    given::<EgressLedger>([sent("c1"), answered.clone()])
        .when(EgressCommand::RecordEgressFailure {
            call_id: "c1".into(),
            error: "late".into(),
            latency_ms: 9,
        })
        .then([]);
    given::<EgressLedger>([sent("c2")])
        .when(EgressCommand::RecordEgressFailure {
            call_id: "c2".into(),
            error: "connection refused".into(),
            latency_ms: 3,
        })
        .then([EgressEvent::Failed(EgressFailed {
            call_id: "c2".into(),
            error: "connection refused".into(),
            latency_ms: 3,
        })]);
}

#[test]
fn sensitive_requests_bad_endpoints_and_unsent_calls_are_refused() {
    given::<EgressLedger>([])
        .when(record("c1", "health"))
        .then_rejected("not_for_egress");
    given::<EgressLedger>([])
        .when(EgressCommand::RecordEgress {
            call_id: "c1".into(),
            endpoint: "https://key:secret@api.example/v1".into(),
            model: "m".into(),
            purpose: "p".into(),
            privacy: "ordinary".into(),
            plan_id: None,
            sent: json!({}),
        })
        .then_rejected("invalid_endpoint");
    given::<EgressLedger>([])
        .when(EgressCommand::RecordEgress {
            call_id: "c1".into(),
            endpoint: "https://api.example/v1?key=secret".into(),
            model: "m".into(),
            purpose: "p".into(),
            privacy: "ordinary".into(),
            plan_id: None,
            sent: json!({}),
        })
        .then_rejected("invalid_endpoint");
    given::<EgressLedger>([])
        .when(record("no spaces please", "ordinary"))
        .then_rejected("invalid_call_id");
    given::<EgressLedger>([])
        .when(answer("c9"))
        .then_rejected("unknown_call");
}
