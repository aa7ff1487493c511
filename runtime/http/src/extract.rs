//! Request bodies and parameters that fail with a problem naming the field.
//!
//! actix's own `Json` extractor reports a wrong type without saying where;
//! [`JsonBody`] reads through `serde_path_to_error`, so a client learns that
//! `data.quantity` was wrong, not just that something was.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::{PathError, PayloadError, QueryPayloadError};
use actix_web::web::{Bytes, PayloadConfig};
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// Largest JSON body accepted.
pub const JSON_LIMIT: usize = 256 * 1024;

/// A JSON body of type `T`. Unknown fields are refused where `T` says so
/// (`deny_unknown_fields`); any error names the path to the field at fault.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = request
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime == "application/json" || mime.ends_with("+json")
            });
        let body = Bytes::from_request(request, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::InvalidInput {
                    detail: "send the body as JSON (Content-Type: application/json)".to_owned(),
                    field: None,
                });
            }
            let body = body.await.map_err(|error| payload_error(&error))?;
            parse(&body).map(JsonBody)
        })
    }
}

/// Reads `body` as `T`, naming the field at fault on failure.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let cause = error.into_inner();
        // A missing field fails at its parent, so the path stops short of it.
        let message = cause.to_string();
        let missing = message
            .starts_with("missing field")
            .then(|| field_of(&message))
            .flatten();
        let field = match (path.as_str(), missing) {
            (".", _) => field_of(&message),
            (parent, Some(missing)) => Some(format!("{parent}.{missing}")),
            (_, None) => Some(path),
        };
        ApiError::InvalidInput {
            detail: match &field {
                Some(field) => format!("the body is not valid at `{field}`: {cause}"),
                None => format!("the body is not valid JSON for this request: {cause}"),
            },
            field,
        }
    })?;
    deserializer.end().map_err(|cause| ApiError::InvalidInput {
        detail: format!("the body has more after its JSON value: {cause}"),
        field: None,
    })?;
    Ok(value)
}

fn payload_error(error: &actix_web::Error) -> ApiError {
    match error.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::PayloadTooLarge { limit: JSON_LIMIT },
        _ => ApiError::InvalidInput {
            detail: format!("the body cannot be read: {error}"),
            field: None,
        },
    }
}

/// The body size limit every route reads bodies under.
pub(crate) fn payload_config() -> PayloadConfig {
    PayloadConfig::new(JSON_LIMIT)
}

/// Problems for query strings that do not fit (a wrong parameter type, an
/// unknown parameter).
pub(crate) fn query_error(error: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let cause = match &error {
        QueryPayloadError::Deserialize(cause) => cause.to_string(),
        other => other.to_string(),
    };
    ApiError::InvalidInput {
        field: field_of(&cause),
        detail: format!("the query string is not valid: {cause}"),
    }
    .into()
}

/// Problems for path segments that do not fit.
pub(crate) fn path_error(error: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::InvalidInput {
        detail: format!("the path is not valid: {error}"),
        field: None,
    }
    .into()
}

/// The field serde names in its message (`unknown field `x``, `missing
/// field `y``), if any.
fn field_of(message: &str) -> Option<String> {
    let start = message.find("field `")? + "field `".len();
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        data: Data,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Data {
        quantity: f64,
    }

    fn field(result: Result<Item, ApiError>) -> Option<String> {
        match result {
            Err(ApiError::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn a_wrong_type_names_its_path() {
        assert_eq!(
            field(parse(br#"{"data": {"quantity": "two"}}"#)).as_deref(),
            Some("data.quantity")
        );
        assert_eq!(
            field(parse(br#"{"data": {"quantity": 1}, "colour": 1}"#)).as_deref(),
            Some("colour")
        );
        assert_eq!(field(parse(br#"{"data": 1"#)).as_deref(), Some("data"));
        assert_eq!(field(parse(br#"{}"#)).as_deref(), Some("data"));
        assert_eq!(
            field(parse(br#"{"data": {}}"#)).as_deref(),
            Some("data.quantity")
        );
        assert!(parse::<Item>(br#"{"data": {"quantity": 2}} x"#).is_err());
        assert!(parse::<Item>(br#"{"data": {"quantity": 2}}"#).is_ok());
    }

    #[test]
    fn query_messages_name_their_field() {
        assert_eq!(
            field_of("unknown field `colour`, expected one of `a`").as_deref(),
            Some("colour")
        );
        assert_eq!(field_of("invalid digit").as_deref(), None);
    }
}
