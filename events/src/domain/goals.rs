//! Events of the goals domain.

/// The JSON Schema of every event type of the domain.
pub fn schemas() -> Vec<(String, schemars::Schema)> {
    Vec::new()
}
