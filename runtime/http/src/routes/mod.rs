//! The routes, one module per resource.

pub mod commands;
pub mod events;
pub mod health;
pub mod metrics;
pub mod projections;
pub mod session;
pub mod tokens;
pub mod users;
