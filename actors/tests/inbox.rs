//! Messages and triage rules: given events / when command / then events.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::json;
use steward_actors::Aggregate as _;
use steward_actors::command::CommandEnvelope;
use steward_actors::inbox::{
    MAX_TRIAGE_RULES, Mailbox, MailboxCommand, Message, MessageCommand, MessageFields, ReplyStatus,
    TriageDecision, TriageRules, TriageRulesCommand, apply_rules,
};
use steward_actors::testing::{default_now, given, live_and_replayed};
use steward_events::StreamId;
use steward_events::domain::inbox::{
    Correspondent, MailboxEvent, MailboxSynced, MessageArchived, MessageEvent, MessageLabelled,
    MessageReceived, MessageSnoozeEnded, MessageSnoozed, MessageTriaged, MessageUnarchived,
    MessageUnlabelled, Priority, ReplyDraftDiscarded, ReplyDrafted, ReplySendFailed,
    ReplySendRequested, ReplySent, TriageCategory, TriageCondition, TriageDecider, TriageRuleAdded,
    TriageRuleRemoved, TriageRulesEvent, TriageRulesReordered,
};
use steward_events::domain::{DomainEvent, EventSet};

fn now() -> DateTime<Utc> {
    default_now()
}

/// When the mail server got the message: an hour before the scenarios run.
fn server_time() -> DateTime<Utc> {
    now() - Duration::hours(1)
}

fn jane() -> Correspondent {
    Correspondent {
        address: "Jane@Example.org".into(),
        name: Some("Jane Doe".into()),
    }
}

fn me() -> Correspondent {
    Correspondent::address("me@example.com")
}

fn received_event() -> MessageReceived {
    MessageReceived {
        message_id: "m1".into(),
        account: "personal".into(),
        thread_id: "t1".into(),
        from: jane(),
        to: vec![me()],
        cc: vec![Correspondent::address("bob@example.net")],
        subject: "Quarterly report".into(),
        body_text: "Could you send the figures by Friday?".into(),
        received_at: server_time(),
        has_list_unsubscribe: false,
        size_bytes: 2048,
        internet_message_id: Some("q3-report@example.org".into()),
    }
}

fn received() -> MessageEvent {
    MessageEvent::Received(received_event())
}

fn receive() -> MessageCommand {
    receive_from(MessageReceived {
        // As the header has it: the angle brackets come off.
        internet_message_id: Some(" <q3-report@example.org> ".into()),
        ..received_event()
    })
}

/// The command that receives `e`.
fn receive_from(e: MessageReceived) -> MessageCommand {
    MessageCommand::Receive {
        message_id: e.message_id,
        account: e.account,
        thread_id: Some(e.thread_id),
        from: e.from,
        to: e.to,
        cc: e.cc,
        subject: e.subject,
        body_text: e.body_text,
        received_at: e.received_at,
        has_list_unsubscribe: e.has_list_unsubscribe,
        size_bytes: e.size_bytes,
        internet_message_id: e.internet_message_id,
    }
}

fn correspondents() -> Vec<String> {
    vec![
        "bob@example.net".into(),
        "jane@example.org".into(),
        "me@example.com".into(),
    ]
}

fn triaged(category: TriageCategory, decided_by: TriageDecider) -> MessageEvent {
    MessageEvent::Triaged(MessageTriaged {
        category,
        priority: Priority::Normal,
        decided_by,
        reason: String::new(),
        correspondents: correspondents(),
        at: now(),
    })
}

fn triage(category: TriageCategory, decided_by: TriageDecider) -> MessageCommand {
    MessageCommand::Triage {
        category,
        priority: Priority::Normal,
        decided_by,
        reason: String::new(),
    }
}

fn by_rule(rule_id: &str) -> TriageDecider {
    TriageDecider::Rule {
        rule_id: rule_id.into(),
    }
}

fn by_model(confidence: f64) -> TriageDecider {
    TriageDecider::Model {
        model: "mistral-small".into(),
        confidence,
    }
}

fn snoozed(until: DateTime<Utc>) -> MessageEvent {
    MessageEvent::Snoozed(MessageSnoozed { until, at: now() })
}

fn drafted(draft_id: &str) -> MessageEvent {
    MessageEvent::ReplyDrafted(ReplyDrafted {
        draft_id: draft_id.into(),
        to: vec![jane()],
        cc: vec![],
        subject: "Re: Quarterly report".into(),
        body_text: "Attached.".into(),
        at: now(),
    })
}

fn draft(draft_id: &str, body_text: &str) -> MessageCommand {
    MessageCommand::DraftReply {
        draft_id: draft_id.into(),
        to: vec![],
        cc: vec![],
        subject: None,
        body_text: body_text.into(),
    }
}

fn send_requested(draft_id: &str) -> MessageEvent {
    MessageEvent::ReplySendRequested(ReplySendRequested {
        draft_id: draft_id.into(),
        account: "personal".into(),
        thread_id: "t1".into(),
        in_reply_to: "m1".into(),
        in_reply_to_internet_id: Some("q3-report@example.org".into()),
        to: vec![jane()],
        cc: vec![],
        subject: "Re: Quarterly report".into(),
        body_text: "Attached.".into(),
        requested_at: now(),
    })
}

fn sent(draft_id: &str) -> MessageEvent {
    MessageEvent::ReplySent(ReplySent {
        draft_id: draft_id.into(),
        sent_message_id: Some("out-1".into()),
        sent_at: now(),
    })
}

fn send_failed(draft_id: &str) -> MessageEvent {
    MessageEvent::ReplySendFailed(ReplySendFailed {
        draft_id: draft_id.into(),
        reason: "550 mailbox unavailable".into(),
        correspondents: vec!["jane@example.org".into()],
        at: now(),
    })
}

fn record_sent(draft_id: &str) -> MessageCommand {
    MessageCommand::RecordSent {
        draft_id: draft_id.into(),
        sent_message_id: Some("out-1".into()),
        sent_at: now(),
    }
}

fn record_failed(draft_id: &str) -> MessageCommand {
    MessageCommand::RecordSendFailed {
        draft_id: draft_id.into(),
        reason: "550 mailbox unavailable".into(),
    }
}

fn request_send(draft_id: &str) -> MessageCommand {
    MessageCommand::RequestSend {
        draft_id: draft_id.into(),
    }
}

// --------------------------------------------------------------- Receive

#[test]
fn receiving_a_message_records_it_at_the_servers_time() {
    let state = given::<Message>([]).when(receive()).then([received()]);
    assert!(state.received);
    assert!(state.in_inbox());
    assert_eq!(state.received_at, Some(server_time()));
}

#[test]
fn receiving_tidies_addresses_and_defaults_the_thread_to_the_message() {
    given::<Message>([])
        .when(MessageCommand::Receive {
            message_id: " m1 ".into(),
            account: "personal".into(),
            thread_id: None,
            from: Correspondent {
                address: " jane@example.org ".into(),
                name: Some("  ".into()),
            },
            to: vec![me(), Correspondent::address(" ")],
            cc: vec![],
            subject: String::new(),
            body_text: String::new(),
            received_at: server_time(),
            has_list_unsubscribe: true,
            size_bytes: 0,
            internet_message_id: None,
        })
        .then([MessageEvent::Received(MessageReceived {
            message_id: "m1".into(),
            account: "personal".into(),
            thread_id: "m1".into(),
            from: Correspondent::address("jane@example.org"),
            to: vec![me()],
            cc: vec![],
            subject: String::new(),
            body_text: String::new(),
            received_at: server_time(),
            has_list_unsubscribe: true,
            size_bytes: 0,
            internet_message_id: None,
        })]);
}

#[test]
fn receiving_the_same_message_again_changes_nothing() {
    given::<Message>([received()]).when(receive()).then([]);
}

#[test]
fn receiving_another_message_into_the_stream_is_refused() {
    given::<Message>([received()])
        .when(receive_from(MessageReceived {
            message_id: "m2".into(),
            ..received_event()
        }))
        .then_rejected("message_id_mismatch");
}

#[test]
fn receiving_needs_ids_and_a_sender() {
    let with = |message_id: &str, account: &str, from: &str| {
        receive_from(MessageReceived {
            message_id: message_id.into(),
            account: account.into(),
            from: Correspondent::address(from),
            ..received_event()
        })
    };
    given::<Message>([])
        .when(with(" ", "personal", "jane@example.org"))
        .then_rejected("id_invalid");
    given::<Message>([])
        .when(with("m1", "my account", "jane@example.org"))
        .then_rejected("id_invalid");
    given::<Message>([])
        .when(with("m1", "personal", "  "))
        .then_rejected("from_required");
}

#[test]
fn nothing_happens_to_a_message_before_it_is_received() {
    let commands = [
        triage(TriageCategory::Fyi, TriageDecider::Person {}),
        MessageCommand::Archive {},
        MessageCommand::Unarchive {},
        MessageCommand::Snooze {
            until: now() + Duration::hours(1),
        },
        MessageCommand::EndSnooze { until: now() },
        MessageCommand::Label {
            label: "work".into(),
        },
        MessageCommand::Unlabel {
            label: "work".into(),
        },
        draft("d1", "Hello"),
        MessageCommand::DiscardDraft {
            draft_id: "d1".into(),
        },
        request_send("d1"),
        record_sent("d1"),
        record_failed("d1"),
    ];
    for command in commands {
        given::<Message>([])
            .when(command)
            .then_rejected("unknown_message");
    }
}

#[test]
fn a_received_message_keeps_its_correspondents_personal() {
    let event = received_event();
    let new = received().to_new_event().expect("encodes");
    let data = new.data.as_object().expect("an object");
    for field in MessageReceived::PERSONAL_FIELDS {
        assert!(!data.contains_key(*field), "{field} is in the open data");
    }
    assert_eq!(data["message_id"], json!("m1"));
    assert_eq!(data["thread_id"], json!("t1"));
    let subjects: Vec<String> = event.subjects().iter().map(|s| s.to_string()).collect();
    assert_eq!(
        subjects,
        [
            "contact:bob@example.net",
            "contact:jane@example.org",
            "contact:me@example.com"
        ]
    );
    assert_eq!(new.metadata.subjects, event.subjects());
}

// ---------------------------------------------------------------- Triage

#[test]
fn a_person_triages_a_message() {
    let state = given::<Message>([received()])
        .when(MessageCommand::Triage {
            category: TriageCategory::NeedsReply,
            priority: Priority::High,
            decided_by: TriageDecider::Person {},
            reason: " asks for figures ".into(),
        })
        .then([MessageEvent::Triaged(MessageTriaged {
            category: TriageCategory::NeedsReply,
            priority: Priority::High,
            decided_by: TriageDecider::Person {},
            reason: "asks for figures".into(),
            correspondents: correspondents(),
            at: now(),
        })]);
    let triage = state.triage.expect("triaged");
    assert_eq!(triage.category, TriageCategory::NeedsReply);
    assert!(triage.decided_by.is_person());
}

#[test]
fn a_triage_reason_is_sealed_under_the_messages_correspondents() {
    let event = MessageTriaged {
        category: TriageCategory::NeedsReply,
        priority: Priority::High,
        decided_by: by_model(0.9),
        reason: "Jane asks for the figures by Friday".into(),
        correspondents: correspondents(),
        at: now(),
    };
    let new = MessageEvent::Triaged(event.clone())
        .to_new_event()
        .expect("encodes");
    assert_eq!(new.data["category"], json!("needs_reply"));
    assert!(new.data.get("reason").is_none(), "the reason is personal");
    let subjects: Vec<String> = event.subjects().iter().map(|s| s.to_string()).collect();
    assert_eq!(
        subjects,
        [
            "contact:bob@example.net",
            "contact:jane@example.org",
            "contact:me@example.com"
        ]
    );
}

#[test]
fn a_rule_or_a_model_triages_a_message() {
    given::<Message>([received()])
        .when(triage(TriageCategory::Fyi, by_rule("r1")))
        .then([triaged(TriageCategory::Fyi, by_rule("r1"))]);
    given::<Message>([received(), triaged(TriageCategory::Fyi, by_rule("r1"))])
        .when(triage(TriageCategory::NeedsReply, by_model(0.8)))
        .then([triaged(TriageCategory::NeedsReply, by_model(0.8))]);
}

#[test]
fn the_same_triage_again_changes_nothing() {
    given::<Message>([received(), triaged(TriageCategory::Fyi, by_rule("r1"))])
        .when(triage(TriageCategory::Fyi, by_rule("r1")))
        .then([]);
}

#[test]
fn a_persons_triage_is_not_overridden_by_a_rule_or_a_model() {
    let history = || {
        [
            received(),
            triaged(TriageCategory::Urgent, TriageDecider::Person {}),
        ]
    };
    given::<Message>(history())
        .when(triage(TriageCategory::Newsletter, by_rule("r1")))
        .then([]);
    given::<Message>(history())
        .when(triage(TriageCategory::Spam, by_model(0.99)))
        .then([]);
    // The person may change their own mind.
    given::<Message>(history())
        .when(triage(TriageCategory::Fyi, TriageDecider::Person {}))
        .then([triaged(TriageCategory::Fyi, TriageDecider::Person {})]);
}

#[test]
fn a_person_overrides_a_rule() {
    given::<Message>([received(), triaged(TriageCategory::Spam, by_rule("r1"))])
        .when(triage(TriageCategory::NeedsReply, TriageDecider::Person {}))
        .then([triaged(
            TriageCategory::NeedsReply,
            TriageDecider::Person {},
        )]);
}

#[test]
fn a_triage_names_a_real_rule_or_model() {
    given::<Message>([received()])
        .when(triage(TriageCategory::Fyi, by_model(1.5)))
        .then_rejected("confidence_invalid");
    given::<Message>([received()])
        .when(triage(TriageCategory::Fyi, by_model(f64::NAN)))
        .then_rejected("confidence_invalid");
    given::<Message>([received()])
        .when(triage(
            TriageCategory::Fyi,
            TriageDecider::Model {
                model: " ".into(),
                confidence: 0.5,
            },
        ))
        .then_rejected("model_required");
    given::<Message>([received()])
        .when(triage(TriageCategory::Fyi, by_rule("")))
        .then_rejected("id_invalid");
}

// ------------------------------------------------------- Archive/Unarchive

#[test]
fn archiving_takes_a_message_out_of_the_inbox_and_ends_its_snooze() {
    let until = now() + Duration::days(1);
    let state = given::<Message>([received(), snoozed(until)])
        .when(MessageCommand::Archive {})
        .then([MessageEvent::Archived(MessageArchived { at: now() })]);
    assert!(state.archived);
    assert_eq!(state.snoozed_until, None);
    assert!(!state.in_inbox());
    // The snooze's timer then finds nothing to end.
    let mut history = vec![received(), snoozed(until)];
    history.push(MessageEvent::Archived(MessageArchived { at: now() }));
    given::<Message>(history)
        .when(MessageCommand::EndSnooze { until })
        .then([]);
}

#[test]
fn archiving_an_archived_message_changes_nothing() {
    given::<Message>([
        received(),
        MessageEvent::Archived(MessageArchived { at: now() }),
    ])
    .when(MessageCommand::Archive {})
    .then([]);
}

#[test]
fn unarchiving_brings_a_message_back() {
    let state = given::<Message>([
        received(),
        MessageEvent::Archived(MessageArchived { at: now() }),
    ])
    .when(MessageCommand::Unarchive {})
    .then([MessageEvent::Unarchived(MessageUnarchived { at: now() })]);
    assert!(state.in_inbox());
}

#[test]
fn unarchiving_a_message_in_the_inbox_changes_nothing() {
    given::<Message>([received()])
        .when(MessageCommand::Unarchive {})
        .then([]);
}

// --------------------------------------------------------- Snooze/EndSnooze

#[test]
fn snoozing_puts_a_message_away_until_a_time() {
    let until = now() + Duration::hours(3);
    let state = given::<Message>([received()])
        .when(MessageCommand::Snooze { until })
        .then([snoozed(until)]);
    assert_eq!(state.snoozed_until, Some(until));
    assert!(!state.in_inbox());
}

#[test]
fn snoozing_into_the_past_is_refused() {
    for until in [now(), now() - Duration::minutes(1)] {
        given::<Message>([received()])
            .when(MessageCommand::Snooze { until })
            .then_rejected("snooze_in_past");
    }
}

#[test]
fn snoozing_until_the_same_time_again_changes_nothing() {
    let until = now() + Duration::hours(3);
    given::<Message>([received(), snoozed(until)])
        .when(MessageCommand::Snooze { until })
        .then([]);
}

#[test]
fn snoozing_an_archived_message_brings_it_back_when_the_snooze_ends() {
    let until = now() + Duration::hours(3);
    let state = given::<Message>([
        received(),
        MessageEvent::Archived(MessageArchived { at: now() }),
    ])
    .when(MessageCommand::Snooze { until })
    .then([snoozed(until)]);
    assert!(!state.archived);
    assert!(!state.in_inbox());
}

#[test]
fn the_snooze_timer_brings_the_message_back() {
    let until = now() + Duration::hours(3);
    let later = until + Duration::seconds(2);
    let state = given::<Message>([received(), snoozed(until)])
        .at(later)
        .when(MessageCommand::EndSnooze { until })
        .then([MessageEvent::SnoozeEnded(MessageSnoozeEnded {
            until,
            at: later,
        })]);
    assert!(state.in_inbox());
}

#[test]
fn a_stale_or_repeated_snooze_timer_changes_nothing() {
    let first = now() + Duration::hours(1);
    let second = now() + Duration::hours(5);
    // Re-snoozed: the first snooze's timer is stale.
    given::<Message>([received(), snoozed(first), snoozed(second)])
        .at(first)
        .when(MessageCommand::EndSnooze { until: first })
        .then([]);
    // Already ended: the timer fired twice.
    given::<Message>([
        received(),
        snoozed(first),
        MessageEvent::SnoozeEnded(MessageSnoozeEnded {
            until: first,
            at: first,
        }),
    ])
    .at(first)
    .when(MessageCommand::EndSnooze { until: first })
    .then([]);
    // Never snoozed.
    given::<Message>([received()])
        .when(MessageCommand::EndSnooze { until: first })
        .then([]);
}

// ---------------------------------------------------------- Label/Unlabel

#[test]
fn labelling_a_message_adds_the_label_once() {
    let state = given::<Message>([received()])
        .when(MessageCommand::Label {
            label: " Work ".into(),
        })
        .then([MessageEvent::Labelled(MessageLabelled {
            label: "Work".into(),
        })]);
    assert_eq!(state.labels.get("work").map(String::as_str), Some("Work"));
    given::<Message>([
        received(),
        MessageEvent::Labelled(MessageLabelled {
            label: "Work".into(),
        }),
    ])
    .when(MessageCommand::Label {
        label: "WORK".into(),
    })
    .then([]);
}

#[test]
fn a_label_needs_a_short_name() {
    given::<Message>([received()])
        .when(MessageCommand::Label { label: " ".into() })
        .then_rejected("label_required");
    given::<Message>([received()])
        .when(MessageCommand::Label {
            label: "x".repeat(101),
        })
        .then_rejected("label_too_long");
}

#[test]
fn unlabelling_takes_the_label_off_as_it_was_written() {
    let state = given::<Message>([
        received(),
        MessageEvent::Labelled(MessageLabelled {
            label: "Work".into(),
        }),
    ])
    .when(MessageCommand::Unlabel {
        label: "work".into(),
    })
    .then([MessageEvent::Unlabelled(MessageUnlabelled {
        label: "Work".into(),
    })]);
    assert!(state.labels.is_empty());
}

#[test]
fn unlabelling_a_label_the_message_lacks_changes_nothing() {
    given::<Message>([received()])
        .when(MessageCommand::Unlabel {
            label: "work".into(),
        })
        .then([]);
    given::<Message>([received()])
        .when(MessageCommand::Unlabel { label: "".into() })
        .then_rejected("label_required");
}

// ------------------------------------------------------------ DraftReply

#[test]
fn a_draft_replies_to_the_sender_by_default() {
    let state = given::<Message>([received()])
        .when(draft("d1", "Attached."))
        .then([drafted("d1")]);
    assert_eq!(state.replies["d1"].status, ReplyStatus::Drafted);
}

#[test]
fn a_draft_may_name_its_recipients_and_subject() {
    given::<Message>([received()])
        .when(MessageCommand::DraftReply {
            draft_id: "d1".into(),
            to: vec![jane(), Correspondent::address(" bob@example.net ")],
            cc: vec![me()],
            subject: Some(" Figures ".into()),
            body_text: "Here they are.".into(),
        })
        .then([MessageEvent::ReplyDrafted(ReplyDrafted {
            draft_id: "d1".into(),
            to: vec![jane(), Correspondent::address("bob@example.net")],
            cc: vec![me()],
            subject: "Figures".into(),
            body_text: "Here they are.".into(),
            at: now(),
        })]);
}

#[test]
fn a_reply_to_a_reply_keeps_its_subject() {
    let mut message = received_event();
    message.subject = "RE: Quarterly report".into();
    given::<Message>([MessageEvent::Received(message)])
        .when(draft("d1", "Attached."))
        .then_matches(|events| {
            let [MessageEvent::ReplyDrafted(reply)] = events else {
                panic!("expected a draft, got {events:?}");
            };
            assert_eq!(reply.subject, "RE: Quarterly report");
        });
}

#[test]
fn revising_a_draft_replaces_it_and_the_same_text_changes_nothing() {
    given::<Message>([received(), drafted("d1")])
        .when(draft("d1", "Attached, with notes."))
        .then_matches(|events| {
            let [MessageEvent::ReplyDrafted(reply)] = events else {
                panic!("expected a revision, got {events:?}");
            };
            assert_eq!(reply.body_text, "Attached, with notes.");
        });
    given::<Message>([received(), drafted("d1")])
        .when(draft("d1", "Attached."))
        .then([]);
}

#[test]
fn a_failed_reply_may_be_revised() {
    let state = given::<Message>([
        received(),
        drafted("d1"),
        send_requested("d1"),
        send_failed("d1"),
    ])
    .when(draft("d1", "Attached again."))
    .then_matches(|events| assert_eq!(events.len(), 1));
    assert_eq!(state.replies["d1"].status, ReplyStatus::Drafted);
}

#[test]
fn a_draft_needs_text_and_good_recipients() {
    given::<Message>([received()])
        .when(draft("d1", "  \n"))
        .then_rejected("draft_empty");
    given::<Message>([received()])
        .when(draft("my draft", "Hi"))
        .then_rejected("id_invalid");
    given::<Message>([received()])
        .when(MessageCommand::DraftReply {
            draft_id: "d1".into(),
            to: vec![Correspondent::address("jane at example.org")],
            cc: vec![],
            subject: None,
            body_text: "Hi".into(),
        })
        .then_rejected("recipient_invalid");
    // The sender's address was erased: there is nobody to reply to.
    let mut erased = received_event();
    erased.from = Correspondent::default();
    given::<Message>([MessageEvent::Received(erased)])
        .when(draft("d1", "Hi"))
        .then_rejected("no_recipients");
}

#[test]
fn replying_to_spam_is_refused() {
    given::<Message>([received(), triaged(TriageCategory::Spam, by_model(0.9))])
        .when(draft("d1", "Hi"))
        .then_rejected("reply_to_spam");
}

#[test]
fn a_reply_on_its_way_or_sent_cannot_be_revised() {
    given::<Message>([received(), drafted("d1"), send_requested("d1")])
        .when(draft("d1", "Changed my mind"))
        .then_rejected("send_pending");
    given::<Message>([received(), drafted("d1"), send_requested("d1"), sent("d1")])
        .when(draft("d1", "Changed my mind"))
        .then_rejected("already_sent");
}

// ---------------------------------------------------------- DiscardDraft

#[test]
fn discarding_a_draft_throws_it_away() {
    let state = given::<Message>([received(), drafted("d1")])
        .when(MessageCommand::DiscardDraft {
            draft_id: "d1".into(),
        })
        .then([MessageEvent::ReplyDraftDiscarded(ReplyDraftDiscarded {
            draft_id: "d1".into(),
        })]);
    assert!(state.replies.is_empty());
}

#[test]
fn discarding_needs_an_unsent_draft() {
    let discard = || MessageCommand::DiscardDraft {
        draft_id: "d1".into(),
    };
    given::<Message>([received()])
        .when(discard())
        .then_rejected("no_draft");
    given::<Message>([received(), drafted("d1"), send_requested("d1")])
        .when(discard())
        .then_rejected("send_pending");
    given::<Message>([received(), drafted("d1"), send_requested("d1"), sent("d1")])
        .when(discard())
        .then_rejected("already_sent");
}

// ----------------------------------------------------------- RequestSend

#[test]
fn requesting_a_send_carries_the_reply_as_it_stands() {
    let state = given::<Message>([received(), drafted("d1")])
        .when(request_send("d1"))
        .then([send_requested("d1")]);
    assert_eq!(state.replies["d1"].status, ReplyStatus::SendRequested);
}

#[test]
fn requesting_a_send_needs_a_draft() {
    given::<Message>([received()])
        .when(request_send("d1"))
        .then_rejected("no_draft");
    given::<Message>([received(), drafted("d1")])
        .when(request_send("d2"))
        .then_rejected("no_draft");
}

#[test]
fn requesting_a_send_again_or_after_sending_changes_nothing() {
    given::<Message>([received(), drafted("d1"), send_requested("d1")])
        .when(request_send("d1"))
        .then([]);
    given::<Message>([received(), drafted("d1"), send_requested("d1"), sent("d1")])
        .when(request_send("d1"))
        .then([]);
}

#[test]
fn a_failed_send_may_be_requested_again() {
    given::<Message>([
        received(),
        drafted("d1"),
        send_requested("d1"),
        send_failed("d1"),
    ])
    .when(request_send("d1"))
    .then([send_requested("d1")]);
}

#[test]
fn a_draft_to_a_message_since_triaged_as_spam_is_not_sent() {
    given::<Message>([
        received(),
        drafted("d1"),
        triaged(TriageCategory::Spam, TriageDecider::Person {}),
    ])
    .when(request_send("d1"))
    .then_rejected("reply_to_spam");
}

// ------------------------------------------------------------ RecordSent

#[test]
fn the_actuator_reports_a_reply_sent() {
    let state = given::<Message>([received(), drafted("d1"), send_requested("d1")])
        .when(record_sent("d1"))
        .then([sent("d1")]);
    let reply = &state.replies["d1"];
    assert_eq!(reply.status, ReplyStatus::Sent);
    assert_eq!(reply.sent_message_id.as_deref(), Some("out-1"));
}

#[test]
fn a_success_after_a_reported_failure_is_recorded() {
    given::<Message>([
        received(),
        drafted("d1"),
        send_requested("d1"),
        send_failed("d1"),
    ])
    .when(record_sent("d1"))
    .then([sent("d1")]);
}

#[test]
fn a_repeated_sent_report_changes_nothing() {
    given::<Message>([received(), drafted("d1"), send_requested("d1"), sent("d1")])
        .when(record_sent("d1"))
        .then([]);
}

#[test]
fn a_sent_report_needs_a_requested_draft() {
    given::<Message>([received()])
        .when(record_sent("d1"))
        .then_rejected("no_draft");
    given::<Message>([received(), drafted("d1")])
        .when(record_sent("d1"))
        .then_rejected("send_not_requested");
}

// ------------------------------------------------------ RecordSendFailed

#[test]
fn the_actuator_reports_a_failed_send() {
    let state = given::<Message>([received(), drafted("d1"), send_requested("d1")])
        .when(record_failed("d1"))
        .then([send_failed("d1")]);
    assert_eq!(state.replies["d1"].status, ReplyStatus::SendFailed);
}

#[test]
fn a_failure_report_repeated_or_after_success_changes_nothing() {
    given::<Message>([
        received(),
        drafted("d1"),
        send_requested("d1"),
        send_failed("d1"),
    ])
    .when(record_failed("d1"))
    .then([]);
    given::<Message>([received(), drafted("d1"), send_requested("d1"), sent("d1")])
        .when(record_failed("d1"))
        .then([]);
}

#[test]
fn a_failure_report_needs_a_requested_draft() {
    given::<Message>([received()])
        .when(record_failed("d1"))
        .then_rejected("no_draft");
    given::<Message>([received(), drafted("d1")])
        .when(record_failed("d1"))
        .then_rejected("send_not_requested");
}

// ------------------------------------------------------- command shapes

fn envelope(stream: &str, command_type: &str, data: serde_json::Value) -> CommandEnvelope {
    CommandEnvelope::new(
        StreamId::parse(stream).expect("valid"),
        command_type,
        data,
        "user:alice",
    )
}

#[test]
fn commands_read_from_json() {
    let archive = envelope("message-m1", "Archive", json!({}))
        .typed::<Message>()
        .expect("an empty Archive");
    assert_eq!(archive, MessageCommand::Archive {});
    let triage = envelope(
        "message-m1",
        "Triage",
        json!({
            "category": "needs_reply",
            "priority": "high",
            "decided_by": { "by": "model", "model": "m", "confidence": 0.7 }
        }),
    )
    .typed::<Message>()
    .expect("a Triage");
    assert_eq!(
        triage,
        MessageCommand::Triage {
            category: TriageCategory::NeedsReply,
            priority: Priority::High,
            decided_by: TriageDecider::Model {
                model: "m".into(),
                confidence: 0.7
            },
            reason: String::new(),
        }
    );
    let add = envelope(
        "triagerules-personal",
        "AddTriageRule",
        json!({
            "rule_id": "news",
            "conditions": [
                { "kind": "has_list_unsubscribe" },
                { "kind": "from_contains", "text": "@substack.com" }
            ],
            "category": "newsletter",
            "priority": "low"
        }),
    )
    .typed::<TriageRules>()
    .expect("an AddTriageRule");
    assert_eq!(
        add,
        TriageRulesCommand::AddTriageRule {
            rule_id: "news".into(),
            name: String::new(),
            conditions: vec![
                TriageCondition::HasListUnsubscribe {},
                TriageCondition::FromContains {
                    text: "@substack.com".into()
                },
            ],
            category: TriageCategory::Newsletter,
            priority: Priority::Low,
        }
    );
    let by_person = envelope(
        "message-m1",
        "Triage",
        json!({
            "category": "fyi",
            "priority": "low",
            "decided_by": { "by": "person" }
        }),
    )
    .typed::<Message>()
    .expect("a person's Triage");
    assert_eq!(
        by_person,
        MessageCommand::Triage {
            category: TriageCategory::Fyi,
            priority: Priority::Low,
            decided_by: TriageDecider::Person {},
            reason: String::new(),
        }
    );
    let unknown_field = envelope(
        "message-m1",
        "Triage",
        json!({
            "category": "fyi",
            "priority": "low",
            "decided_by": { "by": "person", "who": "me" }
        }),
    )
    .typed::<Message>();
    assert!(unknown_field.is_err(), "{unknown_field:?}");
}

// ------------------------------------------------------------ triage rules

fn rule_added(rule_id: &str, conditions: Vec<TriageCondition>) -> TriageRulesEvent {
    TriageRulesEvent::Added(TriageRuleAdded {
        rule_id: rule_id.into(),
        name: format!("rule {rule_id}"),
        conditions,
        category: TriageCategory::Newsletter,
        priority: Priority::Low,
    })
}

fn add_rule(rule_id: &str, conditions: Vec<TriageCondition>) -> TriageRulesCommand {
    TriageRulesCommand::AddTriageRule {
        rule_id: rule_id.into(),
        name: format!("rule {rule_id}"),
        conditions,
        category: TriageCategory::Newsletter,
        priority: Priority::Low,
    }
}

fn from_contains(text: &str) -> TriageCondition {
    TriageCondition::FromContains { text: text.into() }
}

fn subject_contains(text: &str) -> TriageCondition {
    TriageCondition::SubjectContains { text: text.into() }
}

fn rules(events: impl IntoIterator<Item = TriageRulesEvent>) -> TriageRules {
    given::<TriageRules>(events).state().clone()
}

fn ids(rules: &TriageRules) -> Vec<&str> {
    rules.rules.iter().map(|r| r.rule_id.as_str()).collect()
}

#[test]
fn adding_a_rule_puts_it_last() {
    let state = given::<TriageRules>([rule_added("a", vec![from_contains("x")])])
        .when(TriageRulesCommand::AddTriageRule {
            rule_id: " b ".into(),
            name: " Newsletters ".into(),
            conditions: vec![
                TriageCondition::HasListUnsubscribe {},
                subject_contains(" digest "),
            ],
            category: TriageCategory::Newsletter,
            priority: Priority::Low,
        })
        .then([TriageRulesEvent::Added(TriageRuleAdded {
            rule_id: "b".into(),
            name: "Newsletters".into(),
            conditions: vec![
                TriageCondition::HasListUnsubscribe {},
                subject_contains("digest"),
            ],
            category: TriageCategory::Newsletter,
            priority: Priority::Low,
        })]);
    assert_eq!(ids(&state), ["a", "b"]);
}

#[test]
fn adding_the_same_rule_again_changes_nothing_but_another_under_its_id_is_refused() {
    let history = || [rule_added("a", vec![from_contains("x")])];
    given::<TriageRules>(history())
        .when(add_rule("a", vec![from_contains("x")]))
        .then([]);
    given::<TriageRules>(history())
        .when(add_rule("a", vec![from_contains("y")]))
        .then_rejected("rule_id_taken");
}

#[test]
fn a_rule_needs_an_id_conditions_with_text_and_a_short_name() {
    given::<TriageRules>([])
        .when(add_rule("", vec![from_contains("x")]))
        .then_rejected("id_invalid");
    given::<TriageRules>([])
        .when(add_rule("a", vec![]))
        .then_rejected("conditions_required");
    given::<TriageRules>([])
        .when(add_rule("a", vec![subject_contains("  ")]))
        .then_rejected("condition_text_required");
    given::<TriageRules>([])
        .when(TriageRulesCommand::AddTriageRule {
            rule_id: "a".into(),
            name: "n".repeat(201),
            conditions: vec![from_contains("x")],
            category: TriageCategory::Fyi,
            priority: Priority::Normal,
        })
        .then_rejected("rule_name_too_long");
}

#[test]
fn a_mailbox_keeps_a_bounded_number_of_rules() {
    let full: Vec<TriageRulesEvent> = (0..MAX_TRIAGE_RULES)
        .map(|n| rule_added(&format!("r{n}"), vec![from_contains("x")]))
        .collect();
    given::<TriageRules>(full)
        .when(add_rule("one-more", vec![from_contains("x")]))
        .then_rejected("too_many_rules");
}

#[test]
fn a_rule_naming_an_address_has_that_contact_as_subject() {
    let TriageRulesEvent::Added(rule) = rule_added(
        "boss",
        vec![
            from_contains("Boss@Example.org"),
            from_contains("@substack.com"),
            subject_contains("a@b.c"),
        ],
    ) else {
        unreachable!("rule_added builds an Added")
    };
    let subjects: Vec<String> = rule.subjects().iter().map(|s| s.to_string()).collect();
    assert_eq!(subjects, ["contact:boss@example.org"]);
}

#[test]
fn removing_a_rule_takes_it_out() {
    let state = given::<TriageRules>([
        rule_added("a", vec![from_contains("x")]),
        rule_added("b", vec![from_contains("y")]),
    ])
    .when(TriageRulesCommand::RemoveTriageRule {
        rule_id: "a".into(),
    })
    .then([TriageRulesEvent::Removed(TriageRuleRemoved {
        rule_id: "a".into(),
    })]);
    assert_eq!(ids(&state), ["b"]);
}

#[test]
fn removing_an_unknown_rule_is_refused() {
    given::<TriageRules>([])
        .when(TriageRulesCommand::RemoveTriageRule {
            rule_id: "a".into(),
        })
        .then_rejected("unknown_rule");
}

#[test]
fn reordering_rules_sets_their_order() {
    let history = || {
        [
            rule_added("a", vec![from_contains("x")]),
            rule_added("b", vec![from_contains("y")]),
            rule_added("c", vec![from_contains("z")]),
        ]
    };
    let reorder = |order: &[&str]| TriageRulesCommand::ReorderTriageRules {
        rule_ids: order.iter().map(|id| (*id).to_owned()).collect(),
    };
    let state = given::<TriageRules>(history())
        .when(reorder(&["c", "a", "b"]))
        .then([TriageRulesEvent::Reordered(TriageRulesReordered {
            rule_ids: vec!["c".into(), "a".into(), "b".into()],
        })]);
    assert_eq!(ids(&state), ["c", "a", "b"]);
    given::<TriageRules>(history())
        .when(reorder(&["a", "b", "c"]))
        .then([]);
    for wrong in [
        &["a", "b"][..],
        &["a", "b", "c", "d"],
        &["a", "a", "b", "c"],
        &["a", "b", "b"],
    ] {
        given::<TriageRules>(history())
            .when(reorder(wrong))
            .then_rejected("order_mismatch");
    }
}

// ------------------------------------------------------------ apply_rules

#[test]
fn the_first_matching_rule_in_order_wins() {
    let mut state = rules([
        rule_added("by-sender", vec![from_contains("jane")]),
        TriageRulesEvent::Added(TriageRuleAdded {
            rule_id: "by-subject".into(),
            name: "Reports".into(),
            conditions: vec![subject_contains("REPORT")],
            category: TriageCategory::NeedsReply,
            priority: Priority::High,
        }),
    ]);
    let message = received_event();
    let fields = MessageFields::from(&message);
    assert_eq!(
        apply_rules(&state, &fields),
        Some(TriageDecision {
            category: TriageCategory::Newsletter,
            priority: Priority::Low,
            decided_by: by_rule("by-sender"),
            reason: "rule by-sender".into(),
        })
    );
    state.apply(&TriageRulesEvent::Reordered(TriageRulesReordered {
        rule_ids: vec!["by-subject".into(), "by-sender".into()],
    }));
    assert_eq!(
        apply_rules(&state, &fields),
        Some(TriageDecision {
            category: TriageCategory::NeedsReply,
            priority: Priority::High,
            decided_by: by_rule("by-subject"),
            reason: "Reports".into(),
        })
    );
}

#[test]
fn no_rules_or_no_match_decide_nothing() {
    let message = received_event();
    let fields = MessageFields::from(&message);
    assert_eq!(apply_rules(&TriageRules::default(), &fields), None);
    let state = rules([rule_added("a", vec![from_contains("someone-else")])]);
    assert_eq!(apply_rules(&state, &fields), None);
}

#[test]
fn a_rule_matches_only_when_all_its_conditions_hold() {
    let message = received_event();
    let fields = MessageFields::from(&message);
    let state = rules([rule_added(
        "a",
        vec![
            from_contains("jane"),
            TriageCondition::HasListUnsubscribe {},
        ],
    )]);
    assert_eq!(apply_rules(&state, &fields), None);
    let mut mailing = received_event();
    mailing.has_list_unsubscribe = true;
    assert!(apply_rules(&state, &MessageFields::from(&mailing)).is_some());
}

#[test]
fn conditions_ignore_case_and_look_at_names_copies_and_the_body() {
    let message = received_event();
    let fields = MessageFields::from(&message);
    let matching = [
        from_contains("JANE DOE"),
        from_contains("example.ORG"),
        TriageCondition::ToContains {
            text: "ME@example".into(),
        },
        // A copied recipient counts as a recipient.
        TriageCondition::ToContains {
            text: "bob@".into(),
        },
        subject_contains("quarterly"),
        TriageCondition::BodyContains {
            text: "by friday".into(),
        },
    ];
    for condition in matching {
        let state = rules([rule_added("a", vec![condition.clone()])]);
        assert!(
            apply_rules(&state, &fields).is_some(),
            "{condition:?} should match"
        );
    }
    let missing = [
        from_contains("bob"),
        TriageCondition::ToContains {
            text: "jane".into(),
        },
        subject_contains("invoice"),
        TriageCondition::HasListUnsubscribe {},
    ];
    for condition in missing {
        let state = rules([rule_added("a", vec![condition.clone()])]);
        assert_eq!(
            apply_rules(&state, &fields),
            None,
            "{condition:?} should not match"
        );
    }
}

#[test]
fn a_rule_whose_conditions_were_erased_matches_nothing() {
    let state = rules([rule_added("a", vec![])]);
    let message = received_event();
    assert_eq!(apply_rules(&state, &MessageFields::from(&message)), None);
}

#[test]
fn a_rules_decision_triages_the_message_unless_the_person_did() {
    let state = rules([rule_added("news", vec![from_contains("jane")])]);
    let message = received_event();
    let decision = apply_rules(&state, &MessageFields::from(&message)).expect("a match");
    given::<Message>([received()])
        .when(decision.clone().into_command())
        .then([MessageEvent::Triaged(MessageTriaged {
            category: TriageCategory::Newsletter,
            priority: Priority::Low,
            decided_by: by_rule("news"),
            reason: "rule news".into(),
            correspondents: correspondents(),
            at: now(),
        })]);
    given::<Message>([
        received(),
        triaged(TriageCategory::NeedsReply, TriageDecider::Person {}),
    ])
    .when(decision.into_command())
    .then([]);
}

// ------------------------------------------------------------- properties

fn message_command() -> impl Strategy<Value = MessageCommand> {
    let draft_id = prop::sample::select(vec!["d1", "d2"]);
    let category = prop::sample::select(vec![
        TriageCategory::Urgent,
        TriageCategory::NeedsReply,
        TriageCategory::Fyi,
        TriageCategory::Newsletter,
        TriageCategory::Spam,
    ]);
    let decider = prop_oneof![
        Just(TriageDecider::Person {}),
        Just(by_rule("r1")),
        (0.0..1.0f64).prop_map(by_model),
    ];
    let hours = 0i64..6;
    let label = prop::sample::select(vec!["Work", "work", "Travel"]);
    prop_oneof![
        Just(receive()),
        (category, decider).prop_map(|(category, decided_by)| triage(category, decided_by)),
        Just(MessageCommand::Archive {}),
        Just(MessageCommand::Unarchive {}),
        hours.clone().prop_map(|h| MessageCommand::Snooze {
            until: now() + Duration::hours(h)
        }),
        hours.prop_map(|h| MessageCommand::EndSnooze {
            until: now() + Duration::hours(h)
        }),
        label.clone().prop_map(|label| MessageCommand::Label {
            label: label.into()
        }),
        label.prop_map(|label| MessageCommand::Unlabel {
            label: label.into()
        }),
        (draft_id.clone(), prop::sample::select(vec!["Yes.", "No."]))
            .prop_map(|(id, text)| draft(id, text)),
        draft_id
            .clone()
            .prop_map(|id| MessageCommand::DiscardDraft {
                draft_id: id.into()
            }),
        draft_id.clone().prop_map(request_send),
        draft_id.clone().prop_map(record_sent),
        draft_id.prop_map(record_failed),
    ]
}

fn rules_command() -> impl Strategy<Value = TriageRulesCommand> {
    let rule_id = prop::sample::select(vec!["a", "b", "c"]);
    let text = prop::sample::select(vec!["jane", "report", "news"]);
    prop_oneof![
        (rule_id.clone(), text).prop_map(|(id, text)| add_rule(id, vec![from_contains(text)])),
        rule_id.prop_map(|id| TriageRulesCommand::RemoveTriageRule { rule_id: id.into() }),
        Just(vec!["a", "b", "c"])
            .prop_shuffle()
            .prop_flat_map(|ids| {
                let len = ids.len();
                (Just(ids), 0..=len)
            })
            .prop_map(|(ids, len)| TriageRulesCommand::ReorderTriageRules {
                rule_ids: ids[..len].iter().map(|id| (*id).to_owned()).collect(),
            }),
    ]
}

// ------------------------------------------------------- message id header

#[test]
fn a_message_id_header_that_could_not_go_back_out_in_a_reply_is_refused() {
    let with = |internet_id: &str| {
        receive_from(MessageReceived {
            internet_message_id: Some(internet_id.into()),
            ..received_event()
        })
    };
    for bad in [
        "<>",
        "two words@example.org",
        "<a@b\r\nBcc: x@y>",
        "é@example.org",
    ] {
        given::<Message>([])
            .when(with(bad))
            .then_rejected("internet_message_id_invalid");
    }
    let long = format!("{}@example.org", "a".repeat(500));
    given::<Message>([])
        .when(with(&long))
        .then_rejected("internet_message_id_invalid");
}

#[test]
fn a_send_request_carries_the_message_id_header_it_answers() {
    given::<Message>([received(), drafted("d1")])
        .when(MessageCommand::RequestSend {
            draft_id: "d1".into(),
        })
        .then([send_requested("d1")]);
}

// ----------------------------------------------------------- mailbox sync

fn synced(uid_validity: u32, last_uid: u32, messages: u32) -> MailboxEvent {
    MailboxEvent::Synced(MailboxSynced {
        folder: "INBOX".into(),
        uid_validity,
        last_uid,
        messages,
        synced_at: now(),
    })
}

fn record_sync(uid_validity: u32, last_uid: u32, messages: u32) -> MailboxCommand {
    MailboxCommand::RecordSync {
        folder: " INBOX ".into(),
        uid_validity,
        last_uid,
        messages,
    }
}

#[test]
fn a_mailbox_resumes_after_the_last_message_read_while_its_numbering_holds() {
    let mailbox = given::<Mailbox>([])
        .when(record_sync(7, 12, 12))
        .then([synced(7, 12, 12)]);
    assert_eq!(mailbox.resume_after("INBOX", 7), 12);
    assert_eq!(
        mailbox.resume_after("INBOX", 8),
        0,
        "renumbered by the server: read it all again"
    );
    assert_eq!(mailbox.resume_after("Archive", 7), 0, "never read");

    let mailbox = given::<Mailbox>([synced(7, 12, 12)])
        .when(record_sync(7, 15, 3))
        .then([synced(7, 15, 3)]);
    assert_eq!(mailbox.resume_after("INBOX", 7), 15);
}

#[test]
fn a_sync_point_already_passed_changes_nothing_and_a_new_numbering_starts_over() {
    given::<Mailbox>([synced(7, 12, 12)])
        .when(record_sync(7, 12, 0))
        .then([]);
    given::<Mailbox>([synced(7, 12, 12)])
        .when(record_sync(7, 9, 1))
        .then([]);
    let mailbox = given::<Mailbox>([synced(7, 12, 12)])
        .when(record_sync(9, 4, 4))
        .then([synced(9, 4, 4)]);
    assert_eq!(mailbox.resume_after("INBOX", 9), 4);
}

#[test]
fn a_sync_names_its_folder_and_a_real_numbering() {
    given::<Mailbox>([])
        .when(MailboxCommand::RecordSync {
            folder: "  ".into(),
            uid_validity: 7,
            last_uid: 1,
            messages: 1,
        })
        .then_rejected("folder_invalid");
    given::<Mailbox>([])
        .when(record_sync(0, 1, 1))
        .then_rejected("uid_validity_invalid");
}

proptest! {
    #[test]
    fn a_replayed_message_equals_the_live_one(
        commands in prop::collection::vec((message_command(), 0i64..4), 0..40)
    ) {
        let mut at = now();
        let timed = commands.into_iter().map(|(command, hours)| {
            at += Duration::hours(hours);
            (command, at)
        });
        let (live, replayed) = live_and_replayed::<Message>(timed);
        prop_assert_eq!(live, replayed);
    }

    #[test]
    fn replayed_triage_rules_equal_the_live_ones(
        commands in prop::collection::vec(rules_command(), 0..40)
    ) {
        let (live, replayed) =
            live_and_replayed::<TriageRules>(commands.into_iter().map(|c| (c, now())));
        prop_assert_eq!(live, replayed);
    }
}
