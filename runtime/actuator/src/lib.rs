//! Steward's integrations: the actuator, which carries approved commands
//! out on the world outside, and the ingest that turns the outside into
//! events.
//!
//! An [`Integration`] turns one action (a JSON object in the integration's
//! terms) into an effect outside: an MQTT publish, a mail, a calendar
//! entry, an HTTP request. It answers with an [`Outcome`] or an
//! [`IntegrationError`] that says whether trying again may help, which is
//! what the actuation's retry rule needs. Every integration can also
//! [`describe`](Integration::describe) an action without doing it, for dry
//! runs.
//!
//! - [`mqtt`]: publishes to an MQTT broker and waits for its PUBACK, so a
//!   success means the broker has the message.
//! - [`mqtt_ingest`]: the other way: Home Assistant discovery registers
//!   devices and zigbee2mqtt's state messages report their attributes,
//!   translated by [`zigbee2mqtt`] (which also says what a desired state is
//!   published as).
//! - [`smtp`]: sends mail (the inbox's replies) through an SMTP server,
//!   under a `Message-ID` made from the actuation, so a retried send is
//!   recognisably the same mail.
//! - [`mail_ingest`]: the other way: new mail in an IMAP folder becomes
//!   the inbox's messages, resuming where the last pass stopped.
//! - [`caldav`]: writes and removes events in a CalDAV calendar collection,
//!   one iCalendar resource per event UID, so retries are harmless.
//! - [`http`]: generic requests to the origins the configuration allows,
//!   with the actuation's id as `Idempotency-Key` and the answer recorded.
//! - [`PlanExecutor`]: issues approved plans' steps in order, as domain
//!   commands or as actuations made of the approved step itself.
//! - [`ActuatorWorker`]: carries out every requested actuation from the
//!   log through the integrations, with retries, a circuit breaker per
//!   integration and dry runs, recording each step on the actuation.

pub mod caldav;
pub mod http;
pub mod mail_ingest;
pub mod mqtt;
pub mod mqtt_ingest;
pub mod smtp;
pub mod zigbee2mqtt;

mod executor;
mod integration;
mod worker;

pub use executor::{ExecutorOptions, PlanExecutor};
pub use integration::{Integration, IntegrationError, Outcome};
pub use worker::{ActuatorOptions, ActuatorWorker};
