//! Webhooks: given events / when command / then events.

use steward_actors::testing::{default_now, given};
use steward_actors::webhooks::{WebhookCommand, Webhooks};
use steward_events::domain::webhooks::{
    WebhookDeadLettered, WebhookDeliveryAttempted, WebhookDisabled, WebhookEnabled, WebhookEvent,
    WebhookRedeliveryRequested, WebhookRegistered, WebhookReplayed,
};

/// `whsec_` and the base64 of 24 bytes.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn register(url: &str, secret: &str) -> WebhookCommand {
    WebhookCommand::RegisterWebhook {
        webhook_id: "w1".into(),
        url: url.into(),
        categories: vec!["pantry".into(), " pantry ".into()],
        event_types: vec![],
        personal: false,
        after: 10,
        secret: secret.into(),
    }
}

fn registered() -> WebhookEvent {
    WebhookEvent::Registered(WebhookRegistered {
        webhook_id: "w1".into(),
        url: "https://example.com/hook".into(),
        categories: vec!["pantry".into()],
        event_types: vec![],
        personal: false,
        after: 10,
        secret: SECRET.into(),
    })
}

fn attempt(position: u64, attempt: u32, delivered: bool, cursor: u64) -> WebhookCommand {
    WebhookCommand::RecordDeliveryAttempt {
        webhook_id: "w1".into(),
        delivery_id: format!("msg_{position}"),
        position,
        event_type: "ItemStocked".into(),
        attempt,
        attempted_at: default_now(),
        status_code: Some(if delivered { 200 } else { 503 }),
        latency_ms: 12,
        delivered,
        error: None,
        manual: false,
        cursor,
    }
}

fn attempted(position: u64, attempt: u32, delivered: bool, cursor: u64) -> WebhookEvent {
    WebhookEvent::DeliveryAttempted(WebhookDeliveryAttempted {
        webhook_id: "w1".into(),
        delivery_id: format!("msg_{position}"),
        position,
        event_type: "ItemStocked".into(),
        attempt,
        attempted_at: default_now(),
        status_code: Some(if delivered { 200 } else { 503 }),
        latency_ms: 12,
        delivered,
        error: None,
        manual: false,
        cursor,
    })
}

fn dead(position: u64, cursor: u64) -> WebhookEvent {
    WebhookEvent::DeadLettered(WebhookDeadLettered {
        webhook_id: "w1".into(),
        delivery_id: format!("msg_{position}"),
        position,
        attempts: 9,
        cursor,
    })
}

fn dead_letter(position: u64, cursor: u64) -> WebhookCommand {
    WebhookCommand::DeadLetter {
        webhook_id: "w1".into(),
        delivery_id: format!("msg_{position}"),
        position,
        attempts: 9,
        cursor,
    }
}

#[test]
fn a_subscriber_is_registered_once_with_a_valid_url_and_secret() {
    let state = given::<Webhooks>([])
        .when(register("https://example.com/hook", SECRET))
        .then([registered()]);
    assert_eq!(state.webhooks["w1"].cursor, 10);
    assert!(state.webhooks["w1"].enabled);
    given::<Webhooks>([registered()])
        .when(register("https://example.com/hook", SECRET))
        .then([]);
    given::<Webhooks>([registered()])
        .when(register("https://example.com/other", SECRET))
        .then_rejected("webhook_exists");
    given::<Webhooks>([])
        .when(register("ftp://example.com", SECRET))
        .then_rejected("invalid_url");
    given::<Webhooks>([])
        .when(register("https://example.com/hook", "secret"))
        .then_rejected("invalid_secret");
    given::<Webhooks>([])
        .when(register("https://example.com/hook", "whsec_c2hvcnQ="))
        .then_rejected("invalid_secret");
}

#[test]
fn a_delivery_moves_the_cursor_and_a_failed_attempt_does_not() {
    let state = given::<Webhooks>([registered()])
        .when(attempt(12, 1, false, 10))
        .then([attempted(12, 1, false, 10)]);
    assert_eq!(state.webhooks["w1"].cursor, 10);
    assert_eq!(state.webhooks["w1"].deliveries[0].status, "pending");
    let state = given::<Webhooks>([registered(), attempted(12, 1, false, 10)])
        .when(attempt(12, 2, true, 10))
        .then([attempted(12, 2, true, 10)]);
    assert_eq!(state.webhooks["w1"].cursor, 12);
    assert_eq!(state.webhooks["w1"].deliveries[0].attempts, 2);
    assert_eq!(state.webhooks["w1"].deliveries[0].status, "delivered");
    // Recorded twice (a worker restarted): once.
    given::<Webhooks>([registered(), attempted(12, 1, false, 10)])
        .when(attempt(12, 1, false, 10))
        .then([]);
}

#[test]
fn a_replay_meanwhile_wins_over_a_delivery_in_flight() {
    let replayed = WebhookEvent::Replayed(WebhookReplayed {
        webhook_id: "w1".into(),
        after: 3,
    });
    let state = given::<Webhooks>([registered(), replayed])
        .when(attempt(12, 1, true, 10))
        .then([attempted(12, 1, true, 10)]);
    assert_eq!(state.webhooks["w1"].cursor, 3);
    given::<Webhooks>([registered()])
        .when(WebhookCommand::Replay {
            webhook_id: "w1".into(),
            after: 11,
        })
        .then_rejected("replay_ahead");
}

#[test]
fn dead_letters_in_a_row_disable_the_subscriber_and_a_delivery_resets_the_count() {
    let state = given::<Webhooks>([registered(), dead(11, 10), dead(12, 11)])
        .when(dead_letter(13, 12))
        .then([
            dead(13, 12),
            WebhookEvent::Disabled(WebhookDisabled {
                webhook_id: "w1".into(),
                reason: "failing: 3 dead letters in a row".into(),
            }),
        ]);
    assert!(!state.webhooks["w1"].enabled);
    assert_eq!(state.webhooks["w1"].cursor, 13);
    given::<Webhooks>([
        registered(),
        dead(11, 10),
        attempted(12, 1, true, 11),
        dead(13, 12),
    ])
    .when(dead_letter(14, 13))
    .then([dead(14, 13)]);
    // Given up already: nothing more.
    given::<Webhooks>([registered(), dead(11, 10)])
        .when(dead_letter(11, 10))
        .then([]);
    let state = given::<Webhooks>([
        registered(),
        dead(11, 10),
        dead(12, 11),
        dead(13, 12),
        WebhookEvent::Disabled(WebhookDisabled {
            webhook_id: "w1".into(),
            reason: "failing".into(),
        }),
    ])
    .when(WebhookCommand::EnableWebhook {
        webhook_id: "w1".into(),
    })
    .then([WebhookEvent::Enabled(WebhookEnabled {
        webhook_id: "w1".into(),
    })]);
    assert_eq!(state.webhooks["w1"].dead_letters_in_a_row, 0);
}

#[test]
fn a_redelivery_names_a_delivery_of_the_log_and_is_asked_once() {
    given::<Webhooks>([registered()])
        .when(WebhookCommand::Redeliver {
            webhook_id: "w1".into(),
            delivery_id: "msg_11".into(),
        })
        .then_rejected("unknown_delivery");
    let requested = WebhookEvent::RedeliveryRequested(WebhookRedeliveryRequested {
        webhook_id: "w1".into(),
        delivery_id: "msg_11".into(),
        position: 11,
    });
    let state = given::<Webhooks>([registered(), attempted(11, 1, false, 10), dead(11, 10)])
        .when(WebhookCommand::Redeliver {
            webhook_id: "w1".into(),
            delivery_id: "msg_11".into(),
        })
        .then([requested.clone()]);
    assert_eq!(
        state.webhooks["w1"].redeliveries,
        vec![("msg_11".to_owned(), 11)]
    );
    given::<Webhooks>([
        registered(),
        attempted(11, 1, false, 10),
        dead(11, 10),
        requested,
    ])
    .when(WebhookCommand::Redeliver {
        webhook_id: "w1".into(),
        delivery_id: "msg_11".into(),
    })
    .then([]);
}

#[test]
fn the_webhooks_stream_itself_is_never_delivered() {
    let state = given::<Webhooks>([registered()]).state().clone();
    let mut hook = state.webhooks["w1"].clone();
    assert!(hook.wants("pantry", "ItemStocked"));
    assert!(!hook.wants("calendar", "EventScheduled"));
    hook.categories.clear();
    assert!(hook.wants("calendar", "EventScheduled"));
    assert!(!hook.wants("webhooks", "WebhookDeliveryAttempted"));
}
