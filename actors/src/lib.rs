//! Steward's domain: what each part of a person's life may become, decided
//! from commands as pure functions.
//!
//! Every aggregate lives in one stream (`<category>-<id>`) and implements
//! [`Aggregate`]: `decide` turns a command and the current state into events
//! (or a [`Rejection`] naming the rule broken), `apply` folds an event into
//! the state. Nothing here touches a store, a clock or a network; the actor
//! host in `runtime/` does, and the [`testing`] module checks aggregates as
//! given events / when command / then events.
//!
//! - [`command`]: the [`CommandEnvelope`] every caller (CLI, API, planner,
//!   sagas) sends, and how it reaches an aggregate's typed command.
//! - [`catalog`]: the stream categories, their domains, commands and events.
//! - one module per domain: [`inbox`], [`calendar`], [`home`], [`travel`],
//!   [`appointments`], [`goals`], [`groceries`], [`maintenance`], and
//!   [`timers`], which send a command to any of them at a time, and
//!   [`access`], the API tokens.
//! - [`plans`]: what the planner proposes, its approval and its steps, and
//!   [`policies`], how much it may do alone, and [`actuations`], the
//!   commands the actuator carries out, attempt by attempt.
//! - [`saga`]: the process managers that connect the domains.

pub mod aggregate;
pub mod catalog;
pub mod command;
pub mod testing;

pub mod access;
pub mod actuations;
pub mod appointments;
pub mod calendar;
pub mod credentials;
pub mod egress;
pub mod goals;
pub mod groceries;
pub mod home;
pub mod inbox;
pub mod maintenance;
pub mod plans;
pub mod policies;
pub mod saga;
pub mod timers;
pub mod travel;
pub mod webhooks;

pub use aggregate::{Aggregate, Context, Rejection};
pub use command::{CommandEnvelope, CommandError};
