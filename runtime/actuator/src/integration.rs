//! The contract every integration keeps.

use std::time::Duration;

use serde_json::Value;

/// What an integration answered for an action it carried out.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// What the other side said, recorded with the actuation.
    pub result: Value,
    /// How long it took.
    pub latency: Duration,
}

/// Why an integration did not carry an action out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrationError {
    /// The action is not one the integration can carry out (a bad topic,
    /// a missing field): trying again cannot help.
    #[error("bad action: {0}")]
    BadAction(String),
    /// The other side refused it for good (a 4xx, an unknown mailbox).
    #[error("refused: {0}")]
    Refused(String),
    /// The other side could not be reached or did not answer in time:
    /// trying again later may help.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl IntegrationError {
    /// Whether trying again later may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// One way of acting on the world outside.
#[async_trait::async_trait]
pub trait Integration: Send + Sync {
    /// Its name, as actions name it (`mqtt`).
    fn name(&self) -> &str;

    /// What the action would do, in the integration's words, without doing
    /// it; refuses an action it could not carry out.
    fn describe(&self, action: &Value) -> Result<Value, IntegrationError>;

    /// Carries the action out. `idempotency_key` is the same for every
    /// attempt at one command: an integration whose other side takes such
    /// a key passes it on, so that a retried attempt has no second effect.
    async fn execute(
        &self,
        action: &Value,
        idempotency_key: &str,
    ) -> Result<Outcome, IntegrationError>;
}

/// Reads an action's fields into `T`, naming the field at fault.
pub(crate) fn fields<T: serde::de::DeserializeOwned>(action: Value) -> Result<T, IntegrationError> {
    serde_path_to_error::deserialize(action).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            IntegrationError::BadAction(e.into_inner().to_string())
        } else {
            IntegrationError::BadAction(format!("{path}: {}", e.into_inner()))
        }
    })
}
