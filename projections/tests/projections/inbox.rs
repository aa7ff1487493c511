//! The inbox triage queue: ranking, views and filters, snoozes coming
//! back on time, replies, erasure.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use steward_events::domain::inbox::{
    Correspondent, MessageArchived, MessageLabelled, MessageReceived, MessageSnoozeEnded,
    MessageSnoozed, MessageTriaged, MessageUnlabelled, Priority, ReplyDrafted, ReplySendFailed,
    ReplySendRequested, TriageCategory, TriageDecider,
};
use steward_projections::read_models::inbox::{
    self, Inbox, InboxMessage, InboxQuery, InboxReply, InboxThread, InboxTriage, InboxView,
    MessageState, ReplyStatus, ThreadsWith,
};

use crate::read_model_support::{at, catch_up, erase, rebuild, record, tables};
use crate::support::{Fixture, on_both_backends};

on_both_backends!(
    the_queue_ranks_by_priority_and_filters_by_view_label_and_category,
    a_snoozed_message_is_hidden_until_its_time_then_comes_back,
    erasing_a_correspondent_drops_what_was_said_about_them,
    threads_with_correspondents_come_newest_first_saying_whether_a_reply_is_awaited,
);

async fn list(f: &Fixture, query: InboxQuery, now: DateTime<Utc>) -> Vec<InboxMessage> {
    catch_up(f, Arc::new(Inbox)).await;
    let tables = tables(f, "inbox").await;
    inbox::queue(&f.db, &tables, &query, now)
        .await
        .expect("queue")
}

async fn ids(f: &Fixture, query: InboxQuery, now: DateTime<Utc>) -> Vec<String> {
    list(f, query, now)
        .await
        .into_iter()
        .map(|m| m.message_id)
        .collect()
}

fn received(id: &str, from: &str, subject: &str, at_text: &str) -> MessageReceived {
    MessageReceived {
        message_id: id.to_owned(),
        account: "personal".to_owned(),
        thread_id: format!("thread-{id}"),
        from: Correspondent {
            address: from.to_owned(),
            name: Some(format!("Name of {from}")),
        },
        to: vec![Correspondent::address("alice@example.org")],
        cc: Vec::new(),
        subject: subject.to_owned(),
        body_text: "Some words.".to_owned(),
        received_at: at(at_text),
        has_list_unsubscribe: false,
        size_bytes: 1234,
        internet_message_id: None,
    }
}

fn triaged(
    category: TriageCategory,
    priority: Priority,
    decided_by: TriageDecider,
    reason: &str,
    correspondents: &[&str],
) -> MessageTriaged {
    MessageTriaged {
        category,
        priority,
        decided_by,
        reason: reason.to_owned(),
        correspondents: correspondents.iter().map(|c| (*c).to_owned()).collect(),
        at: at("2026-03-02T09:00:00Z"),
    }
}

async fn the_queue_ranks_by_priority_and_filters_by_view_label_and_category(f: Fixture) {
    let now = at("2026-03-02T12:00:00Z");
    record(
        &f,
        "message-m1",
        &received("m1", "dana@example.org", "Contract", "2026-03-01T08:00:00Z"),
    )
    .await;
    record(
        &f,
        "message-m2",
        &received(
            "m2",
            "news@example.com",
            "Weekly digest",
            "2026-03-01T09:00:00Z",
        ),
    )
    .await;
    record(
        &f,
        "message-m3",
        &received("m3", "bob@example.org", "Lunch?", "2026-03-01T10:00:00Z"),
    )
    .await;
    record(
        &f,
        "message-m4",
        &received(
            "m4",
            "carol@example.org",
            "Old thread",
            "2026-02-20T10:00:00Z",
        ),
    )
    .await;
    record(
        &f,
        "message-m1",
        &triaged(
            TriageCategory::NeedsReply,
            Priority::Urgent,
            TriageDecider::Person {},
            "Dana needs the signed contract",
            &["dana@example.org", "alice@example.org"],
        ),
    )
    .await;
    record(
        &f,
        "message-m2",
        &triaged(
            TriageCategory::Newsletter,
            Priority::Low,
            TriageDecider::Rule {
                rule_id: "newsletters".to_owned(),
            },
            "Newsletters rule",
            &["news@example.com", "alice@example.org"],
        ),
    )
    .await;
    record(
        &f,
        "message-m1",
        &MessageLabelled {
            label: "Work".to_owned(),
        },
    )
    .await;
    record(
        &f,
        "message-m1",
        &MessageLabelled {
            label: "Legal".to_owned(),
        },
    )
    .await;
    record(
        &f,
        "message-m1",
        &MessageUnlabelled {
            label: "legal".to_owned(),
        },
    )
    .await;
    record(
        &f,
        "message-m4",
        &MessageArchived {
            at: at("2026-03-01T11:00:00Z"),
        },
    )
    .await;
    record(
        &f,
        "message-m1",
        &ReplyDrafted {
            draft_id: "d1".to_owned(),
            to: vec![Correspondent::address("dana@example.org")],
            cc: Vec::new(),
            subject: "Re: Contract".to_owned(),
            body_text: "Attached.".to_owned(),
            at: at("2026-03-02T09:30:00Z"),
        },
    )
    .await;

    // Urgent first, the untriaged one ranks as normal, the low one last;
    // the archived one is not in the inbox.
    let inbox = list(&f, InboxQuery::default(), now).await;
    let order: Vec<_> = inbox.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(order, ["m1", "m3", "m2"]);
    assert_eq!(
        inbox[0],
        InboxMessage {
            message_id: "m1".to_owned(),
            account: "personal".to_owned(),
            thread_id: "thread-m1".to_owned(),
            from_address: Some("dana@example.org".to_owned()),
            from_name: Some("Name of dana@example.org".to_owned()),
            subject: Some("Contract".to_owned()),
            received_at: at("2026-03-01T08:00:00Z"),
            has_list_unsubscribe: false,
            triage: Some(InboxTriage {
                category: TriageCategory::NeedsReply,
                priority: Priority::Urgent,
                decided_by: TriageDecider::Person {},
                reason: Some("Dana needs the signed contract".to_owned()),
                at: at("2026-03-02T09:00:00Z"),
            }),
            state: MessageState::Inbox,
            snoozed_until: None,
            labels: vec!["Work".to_owned()],
            replies: vec![InboxReply {
                draft_id: "d1".to_owned(),
                status: ReplyStatus::Drafted,
                subject: Some("Re: Contract".to_owned()),
                failure_reason: None,
                sent_message_id: None,
                updated_at: at("2026-03-02T09:30:00Z"),
            }],
        }
    );
    assert_eq!(
        inbox[1],
        InboxMessage {
            message_id: "m3".to_owned(),
            account: "personal".to_owned(),
            thread_id: "thread-m3".to_owned(),
            from_address: Some("bob@example.org".to_owned()),
            from_name: Some("Name of bob@example.org".to_owned()),
            subject: Some("Lunch?".to_owned()),
            received_at: at("2026-03-01T10:00:00Z"),
            has_list_unsubscribe: false,
            triage: None,
            state: MessageState::Inbox,
            snoozed_until: None,
            labels: Vec::new(),
            replies: Vec::new(),
        }
    );

    let view = |view| InboxQuery {
        view,
        ..InboxQuery::default()
    };
    assert_eq!(ids(&f, view(InboxView::Untriaged), now).await, ["m3"]);
    assert_eq!(ids(&f, view(InboxView::Archived), now).await, ["m4"]);
    assert_eq!(
        ids(&f, view(InboxView::All), now).await,
        ["m1", "m3", "m4", "m2"]
    );
    let work = InboxQuery {
        label: Some("WORK".to_owned()),
        ..InboxQuery::default()
    };
    assert_eq!(ids(&f, work, now).await, ["m1"]);
    let legal = InboxQuery {
        label: Some("legal".to_owned()),
        ..InboxQuery::default()
    };
    assert!(ids(&f, legal, now).await.is_empty());
    let high = InboxQuery {
        min_priority: Some(Priority::High),
        ..InboxQuery::default()
    };
    assert_eq!(ids(&f, high, now).await, ["m1"]);
    let newsletters = InboxQuery {
        category: Some(TriageCategory::Newsletter),
        ..InboxQuery::default()
    };
    assert_eq!(ids(&f, newsletters, now).await, ["m2"]);
    let other_account = InboxQuery {
        account: Some("work".to_owned()),
        ..InboxQuery::default()
    };
    assert!(ids(&f, other_account, now).await.is_empty());
    let first_two = InboxQuery {
        limit: 2,
        ..InboxQuery::default()
    };
    assert_eq!(ids(&f, first_two, now).await, ["m1", "m3"]);
    // Pages: `offset` skips what earlier pages showed, in the same order.
    let page = |offset| InboxQuery {
        view: InboxView::All,
        limit: 2,
        offset,
        ..InboxQuery::default()
    };
    assert_eq!(ids(&f, page(0), now).await, ["m1", "m3"]);
    assert_eq!(ids(&f, page(2), now).await, ["m4", "m2"]);
    assert!(ids(&f, page(4), now).await.is_empty());
}

async fn a_snoozed_message_is_hidden_until_its_time_then_comes_back(f: Fixture) {
    let until = at("2026-03-03T08:00:00Z");
    record(
        &f,
        "message-m1",
        &received("m1", "dana@example.org", "Later", "2026-03-01T08:00:00Z"),
    )
    .await;
    record(
        &f,
        "message-m2",
        &received("m2", "bob@example.org", "Now", "2026-03-01T09:00:00Z"),
    )
    .await;
    record(
        &f,
        "message-m1",
        &MessageSnoozed {
            until,
            at: at("2026-03-02T08:00:00Z"),
        },
    )
    .await;

    let before = until - Duration::minutes(1);
    assert_eq!(ids(&f, InboxQuery::default(), before).await, ["m2"]);
    let snoozed = InboxQuery {
        view: InboxView::Snoozed,
        ..InboxQuery::default()
    };
    let hidden = list(&f, snoozed.clone(), before).await;
    assert_eq!(hidden.len(), 1);
    assert_eq!(hidden[0].message_id, "m1");
    assert_eq!(hidden[0].state, MessageState::Snoozed);
    assert_eq!(hidden[0].snoozed_until, Some(until));

    // At its time it is back, before the timer's event says so.
    let back = list(&f, InboxQuery::default(), until).await;
    let order: Vec<_> = back.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(order, ["m2", "m1"]);
    assert_eq!(back[1].state, MessageState::Inbox);
    assert_eq!(back[1].snoozed_until, Some(until));
    assert!(list(&f, snoozed.clone(), until).await.is_empty());

    record(
        &f,
        "message-m1",
        &MessageSnoozeEnded {
            until,
            at: until + Duration::seconds(2),
        },
    )
    .await;
    let ended = list(&f, InboxQuery::default(), until).await;
    assert_eq!(ended[1].message_id, "m1");
    assert_eq!(ended[1].snoozed_until, None);

    // Archiving ends a snooze; snoozing an archived message brings it back
    // when the snooze ends.
    record(
        &f,
        "message-m2",
        &MessageSnoozed {
            until,
            at: at("2026-03-02T08:00:00Z"),
        },
    )
    .await;
    record(
        &f,
        "message-m2",
        &MessageArchived {
            at: at("2026-03-02T09:00:00Z"),
        },
    )
    .await;
    let archived = InboxQuery {
        view: InboxView::Archived,
        ..InboxQuery::default()
    };
    let m2 = list(&f, archived, until).await;
    assert_eq!(m2.len(), 1);
    assert_eq!(m2[0].state, MessageState::Archived);
    assert_eq!(m2[0].snoozed_until, None);
    record(
        &f,
        "message-m2",
        &MessageSnoozed {
            until: until + Duration::days(1),
            at: at("2026-03-02T10:00:00Z"),
        },
    )
    .await;
    assert_eq!(ids(&f, InboxQuery::default(), until).await, ["m1"]);
    assert_eq!(
        ids(&f, InboxQuery::default(), until + Duration::days(1)).await,
        ["m2", "m1"]
    );
}

async fn erasing_a_correspondent_drops_what_was_said_about_them(f: Fixture) {
    let now = at("2026-03-02T12:00:00Z");
    record(
        &f,
        "message-m1",
        &received("m1", "dana@example.org", "Contract", "2026-03-01T08:00:00Z"),
    )
    .await;
    record(
        &f,
        "message-m2",
        &received("m2", "bob@example.org", "Lunch?", "2026-03-01T09:00:00Z"),
    )
    .await;
    record(
        &f,
        "message-m1",
        &triaged(
            TriageCategory::NeedsReply,
            Priority::High,
            TriageDecider::Model {
                model: "triage-small".to_owned(),
                confidence: 0.75,
            },
            "Dana asks for the contract",
            &["alice@example.org", "dana@example.org"],
        ),
    )
    .await;
    let reply_to_dana = vec![Correspondent::address("dana@example.org")];
    record(
        &f,
        "message-m1",
        &ReplyDrafted {
            draft_id: "d1".to_owned(),
            to: reply_to_dana.clone(),
            cc: Vec::new(),
            subject: "Re: Contract".to_owned(),
            body_text: "Attached.".to_owned(),
            at: at("2026-03-02T09:30:00Z"),
        },
    )
    .await;
    record(
        &f,
        "message-m1",
        &ReplySendRequested {
            draft_id: "d1".to_owned(),
            account: "personal".to_owned(),
            thread_id: "thread-m1".to_owned(),
            in_reply_to: "m1".to_owned(),
            in_reply_to_internet_id: None,
            to: reply_to_dana,
            cc: Vec::new(),
            subject: "Re: Contract".to_owned(),
            body_text: "Attached.".to_owned(),
            requested_at: at("2026-03-02T09:31:00Z"),
        },
    )
    .await;
    record(
        &f,
        "message-m1",
        &ReplySendFailed {
            draft_id: "d1".to_owned(),
            reason: "550 dana@example.org: mailbox full".to_owned(),
            correspondents: vec!["dana@example.org".to_owned()],
            at: at("2026-03-02T09:32:00Z"),
        },
    )
    .await;

    let before = list(&f, InboxQuery::default(), now).await;
    assert_eq!(
        before[0].replies,
        [InboxReply {
            draft_id: "d1".to_owned(),
            status: ReplyStatus::SendFailed,
            subject: Some("Re: Contract".to_owned()),
            failure_reason: Some("550 dana@example.org: mailbox full".to_owned()),
            sent_message_id: None,
            updated_at: at("2026-03-02T09:32:00Z"),
        }]
    );
    let bob = before[1].clone();
    assert_eq!(bob.from_address.as_deref(), Some("bob@example.org"));

    erase(&f, "contact:dana@example.org").await;
    let dana_forgotten = InboxMessage {
        message_id: "m1".to_owned(),
        account: "personal".to_owned(),
        thread_id: "thread-m1".to_owned(),
        from_address: None,
        from_name: None,
        subject: None,
        received_at: at("2026-03-01T08:00:00Z"),
        has_list_unsubscribe: false,
        triage: Some(InboxTriage {
            category: TriageCategory::NeedsReply,
            priority: Priority::High,
            decided_by: TriageDecider::Model {
                model: "triage-small".to_owned(),
                confidence: 0.75,
            },
            reason: None,
            at: at("2026-03-02T09:00:00Z"),
        }),
        state: MessageState::Inbox,
        snoozed_until: None,
        labels: Vec::new(),
        replies: vec![InboxReply {
            draft_id: "d1".to_owned(),
            status: ReplyStatus::SendFailed,
            subject: None,
            failure_reason: None,
            sent_message_id: None,
            updated_at: at("2026-03-02T09:32:00Z"),
        }],
    };
    let after = list(&f, InboxQuery::default(), now).await;
    assert_eq!(after, [dana_forgotten.clone(), bob.clone()]);

    // A rebuild from the log comes to the same.
    rebuild(&f, Arc::new(Inbox)).await;
    let rebuilt = list(&f, InboxQuery::default(), now).await;
    assert_eq!(rebuilt, [dana_forgotten, bob]);
}

/// A message `id` in thread `thread` from `from`.
fn in_thread(id: &str, thread: &str, from: &str, subject: &str, at_text: &str) -> MessageReceived {
    MessageReceived {
        thread_id: thread.to_owned(),
        ..received(id, from, subject, at_text)
    }
}

async fn threads_with_correspondents_come_newest_first_saying_whether_a_reply_is_awaited(
    f: Fixture,
) {
    let needs_reply = || {
        triaged(
            TriageCategory::NeedsReply,
            Priority::Normal,
            TriageDecider::Person {},
            "asks something",
            &["jane@example.org"],
        )
    };
    // The budget thread: Jane wrote, Bob answered last, asking something.
    for (id, from, at_text) in [
        ("b1", "Jane@Example.org", "2026-02-25T09:00:00Z"),
        ("b2", "bob@example.org", "2026-03-01T09:00:00Z"),
    ] {
        record(
            &f,
            &format!("message-{id}"),
            &in_thread(id, "budget", from, "Budget", at_text),
        )
        .await;
    }
    record(&f, "message-b2", &needs_reply()).await;
    // The venue thread: Jane asked, and a reply was asked to be sent.
    record(
        &f,
        "message-v1",
        &in_thread(
            "v1",
            "venue",
            "jane@example.org",
            "Venue",
            "2026-02-27T09:00:00Z",
        ),
    )
    .await;
    record(&f, "message-v1", &needs_reply()).await;
    record(
        &f,
        "message-v1",
        &ReplySendRequested {
            draft_id: "d1".to_owned(),
            account: "personal".to_owned(),
            thread_id: "venue".to_owned(),
            in_reply_to: "v1".to_owned(),
            in_reply_to_internet_id: None,
            to: vec![Correspondent::address("jane@example.org")],
            cc: Vec::new(),
            subject: "Re: Venue".to_owned(),
            body_text: "The usual place.".to_owned(),
            requested_at: at("2026-02-27T10:00:00Z"),
        },
    )
    .await;
    // Not related: Jane long ago, someone else, and Jane's newsletter.
    record(
        &f,
        "message-o1",
        &in_thread(
            "o1",
            "old",
            "jane@example.org",
            "Old",
            "2026-01-01T09:00:00Z",
        ),
    )
    .await;
    record(
        &f,
        "message-x1",
        &in_thread(
            "x1",
            "other",
            "dana@example.org",
            "Other",
            "2026-03-01T09:00:00Z",
        ),
    )
    .await;
    record(
        &f,
        "message-n1",
        &in_thread(
            "n1",
            "news",
            "jane@example.org",
            "News",
            "2026-03-01T10:00:00Z",
        ),
    )
    .await;
    record(
        &f,
        "message-n1",
        &triaged(
            TriageCategory::Newsletter,
            Priority::Low,
            TriageDecider::Person {},
            "a mailing",
            &["jane@example.org"],
        ),
    )
    .await;

    catch_up(&f, Arc::new(Inbox)).await;
    let tables = tables(&f, "inbox").await;
    let query = ThreadsWith {
        correspondents: vec!["JANE@example.org".to_owned()],
        since: at("2026-02-01T00:00:00Z"),
        limit: 10,
    };
    let found = inbox::threads_with(&f.db, &tables, &query)
        .await
        .expect("threads");
    assert_eq!(
        found,
        [
            InboxThread {
                account: "personal".to_owned(),
                thread_id: "budget".to_owned(),
                subject: Some("Budget".to_owned()),
                correspondents: vec!["bob@example.org".to_owned(), "jane@example.org".to_owned()],
                messages: 2,
                last_message_at: at("2026-03-01T09:00:00Z"),
                awaiting_reply: true,
            },
            InboxThread {
                account: "personal".to_owned(),
                thread_id: "venue".to_owned(),
                subject: Some("Venue".to_owned()),
                correspondents: vec!["jane@example.org".to_owned()],
                messages: 1,
                last_message_at: at("2026-02-27T09:00:00Z"),
                awaiting_reply: false,
            },
        ]
    );
    let newest_only = ThreadsWith {
        limit: 1,
        ..query.clone()
    };
    let found = inbox::threads_with(&f.db, &tables, &newest_only)
        .await
        .expect("threads");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].thread_id, "budget");
    let nobody = ThreadsWith {
        correspondents: vec!["nobody@example.org".to_owned()],
        ..query.clone()
    };
    assert!(
        inbox::threads_with(&f.db, &tables, &nobody)
            .await
            .expect("threads")
            .is_empty()
    );

    // Erasing Jane drops her address and the subjects she wrote; the
    // threads are still there.
    erase(&f, "contact:jane@example.org").await;
    catch_up(&f, Arc::new(Inbox)).await;
    let bob = ThreadsWith {
        correspondents: vec!["bob@example.org".to_owned()],
        ..query
    };
    let found = inbox::threads_with(&f.db, &tables, &bob)
        .await
        .expect("threads");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].correspondents, ["bob@example.org"]);
}
