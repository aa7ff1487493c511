//! Events about data subjects themselves.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DomainEvent;
use crate::ids::SubjectId;

/// A subject's key was destroyed: their personal data reads as erased
/// everywhere from now on. Recorded in the stream `subject-<id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectErased {
    /// The subject whose key was destroyed.
    pub subject: SubjectId,
}

impl DomainEvent for SubjectErased {
    const EVENT_TYPE: &'static str = "SubjectErased";
    const SCHEMA_VERSION: u16 = 1;
}
