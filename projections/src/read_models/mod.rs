//! The read models Steward keeps, one module each.

use std::sync::Arc;

use serde_json::Value;

use crate::memory::{Embedder, Memory};
use crate::projection::Projection;

pub mod agenda;
pub mod goals;
pub mod groceries;
pub mod home;
pub mod inbox;
pub mod maintenance;
pub mod plans;
pub(crate) mod sql;
pub mod timeline;
pub mod travel;

/// Every projection Steward runs, for a person in UTC (see
/// [`steward_projections_in`]).
pub fn steward_projections() -> Vec<Arc<dyn Projection>> {
    steward_projections_in(chrono_tz::Tz::UTC)
}

/// Every projection Steward runs, for a person living in `time_zone`: the
/// zone the agenda's days are in.
pub fn steward_projections_in(time_zone: chrono_tz::Tz) -> Vec<Arc<dyn Projection>> {
    steward_projections_with(time_zone, None)
}

/// Every projection Steward runs, for a person living in `time_zone`, and
/// the vector memory when an `embedder` is given (loading one needs the
/// model files, which not every caller has).
pub fn steward_projections_with(
    time_zone: chrono_tz::Tz,
    embedder: Option<Arc<Embedder>>,
) -> Vec<Arc<dyn Projection>> {
    let mut projections: Vec<Arc<dyn Projection>> = vec![
        Arc::new(timeline::Timeline),
        Arc::new(inbox::Inbox),
        Arc::new(agenda::Agenda::new(time_zone)),
        Arc::new(home::Home),
        Arc::new(groceries::Groceries),
        Arc::new(maintenance::Maintenance),
        Arc::new(travel::Travel),
        Arc::new(goals::Goals),
        Arc::new(plans::Plans),
    ];
    if let Some(embedder) = embedder {
        projections.push(Arc::new(Memory::new(embedder)));
    }
    projections
}

/// Every string in a JSON value, space-separated: what full-text search
/// looks through.
pub(crate) fn text_of(value: &Value) -> String {
    fn walk(value: &Value, out: &mut String) {
        match value {
            Value::String(text) => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(text);
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            Value::Object(fields) => fields.values().for_each(|field| walk(field, out)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    let mut out = String::new();
    walk(value, &mut out);
    out
}
