//! The [`CommandEnvelope`]: one request to one aggregate, from any caller.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_events::{Metadata, StreamId};
use uuid::Uuid;

use crate::aggregate::Aggregate;

/// The longest command id accepted.
pub const MAX_COMMAND_ID_LEN: usize = 255;

/// A command addressed to the aggregate of `stream_id`.
///
/// The same envelope comes from the CLI (`steward command`), the HTTP API,
/// the planner and the sagas. `command_id` is the caller's: sending the same
/// id again returns the first result and changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandEnvelope {
    /// Chosen by the caller; a retry reuses it.
    pub command_id: String,
    /// The target aggregate's stream, `<category>-<id>`.
    pub stream_id: StreamId,
    /// The command, one of the category's command types (`ListItem`).
    pub command_type: String,
    /// The command's fields, as its JSON Schema describes.
    #[serde(default = "empty_object")]
    pub data: Value,
    /// Groups everything one request leads to; a new one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The event or command that caused this one (a saga's trigger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// Who asks: `user:<id>`, `planner:<id>`, `saga:<name>`…
    pub actor: String,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Why an envelope cannot reach an aggregate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No aggregate lives in streams of this category.
    #[error("no aggregate lives in `{category}-…` streams; known categories: {known}")]
    UnknownCategory {
        /// The category asked for.
        category: String,
        /// The categories there are, comma-separated.
        known: String,
    },
    /// The category has no such command.
    #[error("`{category}` has no command `{command_type}`; its commands: {known}")]
    UnknownCommand {
        /// The category.
        category: &'static str,
        /// The command type asked for.
        command_type: String,
        /// Its command types, comma-separated.
        known: String,
    },
    /// The data does not fit the command.
    #[error("the data of {command_type} does not fit: {reason}")]
    InvalidData {
        /// The command type.
        command_type: String,
        /// What serde found wrong.
        reason: String,
    },
    /// The command id is empty, too long or has white space in it.
    #[error("the command id must be 1 to {MAX_COMMAND_ID_LEN} characters without white space")]
    InvalidCommandId,
}

impl CommandEnvelope {
    /// An envelope with a fresh command id and no correlation yet.
    pub fn new(
        stream_id: StreamId,
        command_type: impl Into<String>,
        data: Value,
        actor: impl Into<String>,
    ) -> Self {
        Self {
            command_id: Uuid::now_v7().to_string(),
            stream_id,
            command_type: command_type.into(),
            data,
            correlation_id: None,
            causation_id: None,
            actor: actor.into(),
        }
    }

    /// Sets the causation (and keeps the correlation) of a follow-up command.
    pub fn caused_by(mut self, causation_id: Uuid, correlation_id: Uuid) -> Self {
        self.causation_id = Some(causation_id);
        self.correlation_id = Some(correlation_id);
        self
    }

    /// Checks what does not depend on the aggregate.
    pub fn validate(&self) -> Result<(), CommandError> {
        let id = &self.command_id;
        if id.is_empty()
            || id.len() > MAX_COMMAND_ID_LEN
            || id.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(CommandError::InvalidCommandId);
        }
        Ok(())
    }

    /// The aggregate's typed command.
    pub fn typed<A: Aggregate>(&self) -> Result<A::Command, CommandError> {
        self.validate()?;
        let tagged = serde_json::json!({
            "command_type": self.command_type,
            "data": self.data,
        });
        serde_json::from_value(tagged).map_err(|error| {
            // Only now list the command types (from the schema, which is
            // not free) to tell an unknown command from bad data.
            let known = command_types::<A>();
            if known.contains(&self.command_type) {
                CommandError::InvalidData {
                    command_type: self.command_type.clone(),
                    reason: error.to_string(),
                }
            } else {
                CommandError::UnknownCommand {
                    category: A::CATEGORY,
                    command_type: self.command_type.clone(),
                    known: known.join(", "),
                }
            }
        })
    }

    /// The metadata of the events the command produces (subjects are the
    /// host's to add).
    pub fn metadata(&self, correlation_id: Uuid) -> Metadata {
        Metadata {
            correlation_id: self.correlation_id.unwrap_or(correlation_id),
            causation_id: self.causation_id,
            command_id: Some(self.command_id.clone()),
            actor: self.actor.clone(),
            subjects: Vec::new(),
        }
    }
}

/// The command types of an aggregate, read from its command's JSON Schema
/// (an adjacently tagged enum: `{"command_type": …, "data": …}`).
pub fn command_types<A: Aggregate>() -> Vec<String> {
    let schema = schemars::schema_for!(A::Command);
    let value = schema.as_value();
    let variants = value
        .get("oneOf")
        .or_else(|| value.get("anyOf"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| vec![value.clone()]);
    variants
        .iter()
        .filter_map(|variant| {
            let tag = variant.pointer("/properties/command_type")?;
            tag.get("const")
                .or_else(|| tag.pointer("/enum/0"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}
