//! How the relay reaches NATS and shapes its stream.

use std::fmt;
use std::time::Duration;

use crate::error::RelayError;

/// Settings of a [`Relay`](crate::Relay). Its `Debug` form and the relay's
/// logs show the NATS URL without any credentials it embeds.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222` (credentials, if any,
    /// as `nats://user:password@host:port`).
    pub nats_url: String,
    /// The JetStream stream the events go to (created if missing).
    pub stream_name: String,
    /// Subjects are `<subject_prefix>.<category>.<event_type>`; the stream
    /// captures `<subject_prefix>.>`.
    pub subject_prefix: String,
    /// The stream's duplicate window. Correctness does not depend on it (the
    /// relay resumes from the stream's real last message); it only lets
    /// JetStream absorb a retried publish on its own.
    pub duplicate_window: Duration,
    /// How many events the relay reads from the log at a time.
    pub batch_size: usize,
    /// How many publishes may await their acknowledgement at once.
    pub max_in_flight: usize,
    /// How long a JetStream request or publish acknowledgement may take, and
    /// the connection timeout.
    pub request_timeout: Duration,
    /// The first pause after a failure; it doubles with each further failure.
    pub backoff_min: Duration,
    /// The longest pause after a failure (also the client's longest pause
    /// between reconnection attempts).
    pub backoff_max: Duration,
}

/// The smallest duplicate window JetStream accepts.
pub const MIN_DUPLICATE_WINDOW: Duration = Duration::from_millis(100);

/// The default stream name.
pub const DEFAULT_STREAM_NAME: &str = "STEWARD_EVENTS";
/// The default subject prefix.
pub const DEFAULT_SUBJECT_PREFIX: &str = "steward.events";

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            nats_url: "nats://127.0.0.1:4222".to_owned(),
            stream_name: DEFAULT_STREAM_NAME.to_owned(),
            subject_prefix: DEFAULT_SUBJECT_PREFIX.to_owned(),
            duplicate_window: Duration::from_secs(120),
            batch_size: 500,
            max_in_flight: 256,
            request_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayConfig")
            .field("nats_url", &self.nats_url_redacted())
            .field("stream_name", &self.stream_name)
            .field("subject_prefix", &self.subject_prefix)
            .field("duplicate_window", &self.duplicate_window)
            .field("batch_size", &self.batch_size)
            .field("max_in_flight", &self.max_in_flight)
            .field("request_timeout", &self.request_timeout)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .finish()
    }
}

impl RelayConfig {
    /// The NATS URL with any `user:password@` part replaced by `***@`, for
    /// logs and errors.
    pub fn nats_url_redacted(&self) -> String {
        crate::nats::redact(&self.nats_url)
    }

    /// Defaults, with the given NATS server.
    pub fn new(nats_url: impl Into<String>) -> Self {
        Self {
            nats_url: nats_url.into(),
            ..Self::default()
        }
    }

    /// Refuses settings the relay cannot work with.
    pub fn validate(&self) -> Result<(), RelayError> {
        let invalid = |reason: String| Err(RelayError::InvalidConfig(reason));
        if self.nats_url.trim().is_empty() {
            return invalid("the NATS URL is empty".into());
        }
        if self.stream_name.is_empty()
            || self
                .stream_name
                .chars()
                .any(|c| matches!(c, '.' | '*' | '>' | '/' | '\\') || c.is_whitespace())
        {
            return invalid(format!(
                "stream name `{}` must be non-empty, without `.`, `*`, `>`, slashes or white space",
                self.stream_name
            ));
        }
        let bad_token = |token: &str| {
            token.is_empty()
                || token
                    .chars()
                    .any(|c| matches!(c, '*' | '>') || c.is_whitespace() || c.is_control())
        };
        if self.subject_prefix.split('.').any(bad_token) {
            return invalid(format!(
                "subject prefix `{}` must be dot-separated non-empty tokens without wildcards or white space",
                self.subject_prefix
            ));
        }
        if self.duplicate_window < MIN_DUPLICATE_WINDOW {
            return invalid(format!(
                "the duplicate window ({:?}) must be at least {MIN_DUPLICATE_WINDOW:?}, JetStream's minimum",
                self.duplicate_window
            ));
        }
        if self.batch_size == 0 || self.max_in_flight == 0 {
            return invalid("batch size and max in flight must be at least 1".into());
        }
        if self.request_timeout.is_zero() {
            return invalid("the request timeout must be positive".into());
        }
        if self.backoff_min.is_zero() || self.backoff_min > self.backoff_max {
            return invalid(format!(
                "back-off bounds must satisfy 0 < min ({:?}) <= max ({:?})",
                self.backoff_min, self.backoff_max
            ));
        }
        Ok(())
    }

    /// The subjects the stream captures: `<subject_prefix>.>`.
    pub fn stream_subjects(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }

    /// The pause before attempt `attempt` (from 1) after consecutive failures:
    /// `backoff_min * 2^(attempt-1)`, at most `backoff_max`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        self.backoff_min
            .saturating_mul(1 << doublings)
            .min(self.backoff_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(RelayConfig::default().validate().is_ok());
        assert_eq!(RelayConfig::default().stream_subjects(), "steward.events.>");
    }

    #[test]
    fn refuses_bad_names() {
        for (stream, prefix) in [
            ("", "steward.events"),
            ("A.B", "steward.events"),
            ("A B", "steward.events"),
            ("S", ""),
            ("S", "steward..events"),
            ("S", "steward.*"),
            ("S", "steward.>"),
            ("S", "steward.events."),
        ] {
            let config = RelayConfig {
                stream_name: stream.into(),
                subject_prefix: prefix.into(),
                ..RelayConfig::default()
            };
            assert!(
                matches!(config.validate(), Err(RelayError::InvalidConfig(_))),
                "{stream:?} {prefix:?}"
            );
        }
    }

    #[test]
    fn credentials_never_show() {
        for (url, shown) in [
            ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
            ("nats://steward:s3cret@nats:4222", "nats://***@nats:4222"),
            ("tls://token@nats", "tls://***@nats"),
            ("user:pw@host:4222", "***@host:4222"),
        ] {
            let config = RelayConfig::new(url);
            assert_eq!(config.nats_url_redacted(), shown);
            assert!(!format!("{config:?}").contains("s3cret"));
        }
    }

    #[test]
    fn refuses_a_duplicate_window_below_jetstreams_minimum() {
        let config = RelayConfig {
            duplicate_window: Duration::from_millis(99),
            ..RelayConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(RelayError::InvalidConfig(_))
        ));
    }

    #[test]
    fn backoff_doubles_up_to_the_bound() {
        let config = RelayConfig {
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1_000),
            ..RelayConfig::default()
        };
        let pauses: Vec<u128> = (1..=6).map(|n| config.backoff(n).as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(config.backoff(u32::MAX), Duration::from_millis(1_000));
    }
}
