//! Checks every batch passes before anything of it is written.

use std::collections::HashSet;

use serde_json::Value;
use steward_events::{NewEvent, Personal, StoreError};

/// Configured limits of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest `data` plus `personal` part of one event, serialised.
    pub max_event_bytes: usize,
    /// Most events in one append.
    pub max_batch_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_event_bytes: 1024 * 1024,
            max_batch_len: 10_000,
        }
    }
}

const MAX_COMMAND_ID_LEN: usize = 255;
const MAX_ACTOR_LEN: usize = 255;

/// Refuses a batch that breaks a rule, naming the event and the rule.
pub fn validate_batch(events: &[NewEvent], limits: &Limits) -> Result<(), StoreError> {
    if events.is_empty() {
        return Err(StoreError::EmptyBatch);
    }
    if events.len() > limits.max_batch_len {
        let first = &events[0];
        return Err(StoreError::InvalidEvent {
            index: limits.max_batch_len,
            event_id: first.event_id,
            reason: format!(
                "a batch holds at most {} events, this one has {}",
                limits.max_batch_len,
                events.len()
            ),
        });
    }
    let mut ids = HashSet::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        let invalid = |reason: String| StoreError::InvalidEvent {
            index,
            event_id: event.event_id,
            reason,
        };
        if !ids.insert(event.event_id) {
            return Err(invalid("the batch holds this event id twice".into()));
        }
        if event.schema_version == 0 {
            return Err(invalid("schema_version starts at 1".into()));
        }
        if !event.data.is_object() {
            return Err(invalid(format!(
                "data must be a JSON object, not {}",
                kind(&event.data)
            )));
        }
        let personal_size = match &event.personal {
            None => 0,
            Some(Personal::Plain(value)) => {
                if !value.is_object() {
                    return Err(invalid(format!(
                        "personal must be a JSON object, not {}",
                        kind(value)
                    )));
                }
                if event.metadata.subjects.is_empty() {
                    return Err(invalid(
                        "personal data needs at least one subject in metadata.subjects".into(),
                    ));
                }
                serialized_len(value)
            }
            Some(Personal::Sealed(_) | Personal::Erased) => {
                return Err(invalid("writers hand the store plain personal data".into()));
            }
        };
        let size = serialized_len(&event.data) + personal_size;
        if size > limits.max_event_bytes {
            return Err(StoreError::EventTooLarge {
                index,
                event_id: event.event_id,
                size,
                limit: limits.max_event_bytes,
            });
        }
        let metadata = &event.metadata;
        if let Some(command_id) = &metadata.command_id
            && (command_id.is_empty()
                || command_id.len() > MAX_COMMAND_ID_LEN
                || command_id.contains('\0'))
        {
            return Err(invalid(format!(
                "command_id must be 1 to {MAX_COMMAND_ID_LEN} bytes without NUL characters"
            )));
        }
        // PostgreSQL cannot store NUL in text or JSON; no backend accepts it,
        // so that every backend keeps the same events.
        if contains_nul(&event.data) {
            return Err(invalid("data contains a NUL character (\\u0000)".into()));
        }
        if let Some(Personal::Plain(personal)) = &event.personal
            && contains_nul(personal)
        {
            return Err(invalid(
                "personal contains a NUL character (\\u0000)".into(),
            ));
        }
        let actor_ok = metadata.actor.len() <= MAX_ACTOR_LEN
            && metadata.actor.split_once(':').is_some_and(|(kind, id)| {
                !kind.is_empty()
                    && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !id.is_empty()
                    && !id.chars().any(char::is_control)
            });
        if !actor_ok {
            return Err(invalid(format!(
                "actor `{}` must read `<kind>:<id>`, e.g. `user:alice`",
                metadata.actor
            )));
        }
    }
    Ok(())
}

fn serialized_len(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a Value to a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, v)| key.contains('\0') || contains_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use steward_events::{EventType, SubjectId};

    fn event() -> NewEvent {
        NewEvent::new(EventType::parse("Noted").expect("valid"), json!({ "a": 1 }))
    }

    fn refused(events: Vec<NewEvent>) -> String {
        validate_batch(&events, &Limits::default())
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn names_each_broken_rule() {
        assert!(refused(vec![]).contains("at least one event"));
        let mut not_object = event();
        not_object.data = json!([1]);
        assert!(refused(vec![event(), not_object]).contains("event 1"));
        let no_subject = event().with_personal(json!({ "name": "Dana" }), vec![]);
        assert!(refused(vec![no_subject]).contains("at least one subject"));
        let mut bad_actor = event();
        bad_actor.metadata.actor = "alice".into();
        assert!(refused(vec![bad_actor]).contains("<kind>:<id>"));
        let mut nul = event();
        nul.data = json!({ "a": ["x\u{0}y"] });
        assert!(refused(vec![nul]).contains("NUL"));
        let twice = event();
        assert!(refused(vec![twice.clone(), twice]).contains("twice"));
    }

    #[test]
    fn size_counts_data_and_personal() {
        let limits = Limits {
            max_event_bytes: 64,
            ..Limits::default()
        };
        let subject = SubjectId::parse("person-1").expect("valid");
        let big = event().with_personal(json!({ "body": "x".repeat(60) }), vec![subject]);
        let error = validate_batch(&[big], &limits).expect_err("too large");
        assert!(
            matches!(error, StoreError::EventTooLarge { limit: 64, .. }),
            "{error}"
        );
    }
}
