//! Validated identifiers. Each is parsed once at the edge and trusted afterwards.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why a stream id, event type or subject id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The value was empty.
    #[error("{kind} is empty")]
    Empty {
        /// Which kind of identifier.
        kind: &'static str,
    },
    /// The value was longer than allowed.
    #[error("{kind} `{value}` is longer than {max} bytes")]
    TooLong {
        /// Which kind of identifier.
        kind: &'static str,
        /// The refused value.
        value: String,
        /// The limit.
        max: usize,
    },
    /// The value broke the identifier's grammar.
    #[error("{kind} `{value}` is malformed: {reason}")]
    Malformed {
        /// Which kind of identifier.
        kind: &'static str,
        /// The refused value.
        value: String,
        /// What rule it broke.
        reason: &'static str,
    },
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

const MAX_ID_LEN: usize = 255;

/// Refuses an empty value or one over `max` bytes.
fn non_empty_within(kind: &'static str, value: String, max: usize) -> Result<String, IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.len() > max {
        return Err(IdError::TooLong { kind, value, max });
    }
    Ok(value)
}
const MAX_EVENT_TYPE_LEN: usize = 128;

/// A stream's name, `<category>-<id>`: the category (letters, digits and `_`)
/// is everything before the first dash, as KurrentDB names streams; the id is
/// any non-empty run of printable characters without white space.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String")]
pub struct StreamId(String);

impl StreamId {
    /// Parses a stream id.
    pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
        const KIND: &str = "stream id";
        let value = non_empty_within(KIND, value.into(), MAX_ID_LEN)?;
        let Some((category, id)) = value.split_once('-') else {
            return Err(IdError::Malformed {
                kind: KIND,
                value,
                reason: "expected `<category>-<id>`",
            });
        };
        if category.is_empty() || !category.chars().all(is_token_char) {
            return Err(IdError::Malformed {
                kind: KIND,
                value,
                reason: "the category (before the first `-`) must be letters, digits or `_`",
            });
        }
        if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(IdError::Malformed {
                kind: KIND,
                value,
                reason: "the id (after the first `-`) must be non-empty and without white space",
            });
        }
        Ok(Self(value))
    }

    /// Builds `<category>-<id>`, validating both parts.
    pub fn new(category: &str, id: impl fmt::Display) -> Result<Self, IdError> {
        Self::parse(format!("{category}-{id}"))
    }

    /// The category: everything before the first dash.
    pub fn category(&self) -> &str {
        self.0
            .split_once('-')
            .map_or(&self.0, |(category, _)| category)
    }

    /// The id within the category: everything after the first dash.
    pub fn id(&self) -> &str {
        self.0.split_once('-').map_or("", |(_, id)| id)
    }

    /// The whole name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name of an event's type: letters, digits and `_`, so that it can be a
/// NATS subject token.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String")]
pub struct EventType(String);

impl EventType {
    /// Parses an event type.
    pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
        const KIND: &str = "event type";
        let value = non_empty_within(KIND, value.into(), MAX_EVENT_TYPE_LEN)?;
        if !value.chars().all(is_token_char) {
            return Err(IdError::Malformed {
                kind: KIND,
                value,
                reason: "only letters, digits and `_` are allowed",
            });
        }
        Ok(Self(value))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An event type named in code. The domain's names are checked by a test
    /// (`domain_event_types_are_valid`), so this does not validate again.
    pub(crate) fn from_static(value: &'static str) -> Self {
        Self(value.to_owned())
    }
}

/// A person (or other data subject) whose personal data an event carries.
/// Erasing a subject destroys the key that seals their data.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(with = "String")]
pub struct SubjectId(String);

impl SubjectId {
    /// Parses a subject id: 1 to 255 printable characters without white space.
    pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
        const KIND: &str = "subject id";
        let value = non_empty_within(KIND, value.into(), MAX_ID_LEN)?;
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(IdError::Malformed {
                kind: KIND,
                value,
                reason: "white space and control characters are not allowed",
            });
        }
        Ok(Self(value))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype_impls {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    )*};
}

string_newtype_impls!(StreamId, EventType, SubjectId);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stream_id_splits_at_the_first_dash() {
        let id = StreamId::parse("calendar-work-2026").expect("valid");
        assert_eq!(id.category(), "calendar");
        assert_eq!(id.id(), "work-2026");
    }

    #[test]
    fn malformed_stream_ids_name_the_problem() {
        for bad in ["", "nodash", "-x", "cat-", "ca t-x", "cat-a b", "$all-x"] {
            let err = StreamId::parse(bad).expect_err(bad);
            assert!(!err.to_string().is_empty());
        }
        let long = format!("a-{}", "x".repeat(300));
        assert!(matches!(
            StreamId::parse(long),
            Err(IdError::TooLong { .. })
        ));
    }

    #[test]
    fn event_types_are_subject_tokens() {
        assert!(EventType::parse("MessageReceived_v2").is_ok());
        for bad in ["", "a.b", "a b", "a-b", "a*", "a>"] {
            assert!(EventType::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    proptest! {
        #[test]
        fn valid_stream_ids_round_trip(category in "[A-Za-z0-9_]{1,20}", id in "[!-~]{1,40}") {
            let parsed = StreamId::new(&category, &id).expect("valid");
            prop_assert_eq!(parsed.category(), category.as_str());
            prop_assert_eq!(parsed.id(), id.as_str());
            let json = serde_json::to_string(&parsed).expect("serialises");
            let back: StreamId = serde_json::from_str(&json).expect("deserialises");
            prop_assert_eq!(back, parsed);
        }

        #[test]
        fn event_types_never_contain_subject_separators(value in "\\PC{0,40}") {
            if let Ok(event_type) = EventType::parse(value) {
                prop_assert!(!event_type.as_str().contains(['.', '*', '>', ' ']));
            }
        }
    }
}
