//! The routes, one module per resource.

pub mod admin;
pub mod approvals;
pub mod chain;
pub mod commands;
pub mod credentials;
pub mod events;
pub mod health;
pub mod live;
pub mod memory;
pub mod metrics;
pub mod projections;
pub mod read_models;
pub mod requests;
pub mod session;
pub mod tokens;
pub mod users;
pub mod webhooks;
