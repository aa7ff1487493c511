//! The domains' read models, one module per domain, each a GET under
//! `/api/v1` needing `read_models:read`.
//!
//! Every answer is a DTO of this module's own (`ToSchema`), never a table's
//! rows: the tables are the projections' business and change with their
//! generations. A read model that is not built yet answers 503
//! (`/problems/unavailable`); a parameter that does not parse answers 400
//! naming it. Enumerations travel as their snake_case names; the few
//! nested shapes that come straight from the domain's events (a
//! reservation's schedule, an itinerary issue, a device's capabilities)
//! travel as the JSON the event schemas in `schemas/events/` describe.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use steward_projections::Tables;

use crate::problem::ApiError;
use crate::state::ApiState;

pub mod calendar;
pub mod goals;
pub mod groceries;
pub mod home;
pub mod inbox;
pub mod maintenance;
pub mod plans;
pub mod travel;

/// The live tables of `projection`; 503 while it is not built.
pub(crate) async fn live(state: &ApiState, projection: &str) -> Result<Tables, ApiError> {
    Ok(steward_projections::live_tables(state.read_models(), projection).await?)
}

/// The snake_case name serde gives an enumeration's variant.
pub(crate) fn name_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        Ok(other) => other.to_string(),
        // Unit variants always serialise; an error here would be a bug in
        // the domain's types, shown rather than hidden.
        Err(error) => format!("<{error}>"),
    }
}

/// A domain value as the JSON its event schema describes.
pub(crate) fn json_of<T: Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

/// An optional text parameter: absent or blank is no filter.
pub(crate) fn text(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// A `true`/`false` parameter (absent: `false`).
pub(crate) fn flag(field: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::invalid(
            field,
            format!("`{field}` is `true` or `false`, not {other:?}"),
        )),
    }
}

/// A calendar day parameter, `YYYY-MM-DD`.
pub(crate) fn day(field: &str, value: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    value
        .map(|value| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|error| {
                ApiError::invalid(
                    field,
                    format!("`{field}` is a day, YYYY-MM-DD, not {value:?}: {error}"),
                )
            })
        })
        .transpose()
}

/// An instant parameter, RFC 3339.
pub(crate) fn instant(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|value| {
            DateTime::parse_from_rfc3339(value)
                .map(|instant| instant.with_timezone(&Utc))
                .map_err(|error| {
                    ApiError::invalid(
                        field,
                        format!("`{field}` is an RFC 3339 instant, not {value:?}: {error}"),
                    )
                })
        })
        .transpose()
}

/// A parameter naming a variant of the domain's enumeration `T` by its
/// snake_case name; `choices` lists them for the message.
pub(crate) fn choice<T: DeserializeOwned>(
    field: &str,
    value: Option<&str>,
    choices: &str,
) -> Result<Option<T>, ApiError> {
    value
        .map(|value| {
            serde_json::from_value(Value::String(value.to_owned())).map_err(|_| {
                ApiError::invalid(
                    field,
                    format!("`{field}` is one of {choices}, not {value:?}"),
                )
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use steward_events::domain::inbox::Priority;

    use super::*;

    fn field<T: std::fmt::Debug>(result: Result<T, ApiError>) -> Option<String> {
        match result {
            Err(ApiError::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn parameters_parse_or_name_their_field() {
        assert!(flag("low_only", Some("true")).expect("parses"));
        assert!(!flag("low_only", None).expect("parses"));
        assert_eq!(
            field(flag("low_only", Some("yes"))).as_deref(),
            Some("low_only")
        );
        assert_eq!(
            day("day", Some("2030-03-04")).expect("parses"),
            NaiveDate::from_ymd_opt(2030, 3, 4)
        );
        assert_eq!(
            field(day("day", Some("04/03/2030"))).as_deref(),
            Some("day")
        );
        assert_eq!(
            field(instant("from", Some("today"))).as_deref(),
            Some("from")
        );
        assert_eq!(
            choice::<Priority>("min_priority", Some("high"), "…").expect("parses"),
            Some(Priority::High)
        );
        assert_eq!(
            field(choice::<Priority>("min_priority", Some("HIGH"), "…")).as_deref(),
            Some("min_priority")
        );
        assert_eq!(text(Some("  ")), None);
        assert_eq!(name_of(&Priority::Urgent), "urgent");
    }
}
