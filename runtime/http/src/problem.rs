//! Errors as RFC 9457 problem details (`application/problem+json`).
//!
//! Every error the API returns is a [`Problem`] with a stable `type`
//! (`/problems/<slug>`, relative to the server) that clients can match on.
//! Internal failures say only that something failed and carry an id to find
//! the logged cause; database and network details never reach the client.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use steward_events::{ErrorClass, StoreError};
use steward_host::HostError;
use steward_projections::ProjectionError;
use utoipa::ToSchema;
use uuid::Uuid;

/// An RFC 9457 problem.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// Its kind, stable: `/problems/invalid-input`, `/problems/rejected`…
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What was wrong with this request, for a person.
    pub detail: String,
    /// The field or parameter at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The domain rule a command broke (for `/problems/rejected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Scope the request lacked (for `/problems/forbidden`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_scope: Option<String>,
    /// Domain the caller is not granted (for `/problems/forbidden`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The id under which an internal failure is logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
}

/// Why a request failed. Each variant is one problem `type`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: bad JSON, a wrong type, an unknown field,
    /// a bad cursor or parameter.
    #[error("{detail}")]
    InvalidInput {
        /// What was wrong.
        detail: String,
        /// The field at fault, when known.
        field: Option<String>,
    },
    /// The body is larger than the server accepts.
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// No credentials, or ones that open nothing.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials without the scope the endpoint needs.
    #[error("this needs the `{scope}` scope")]
    Forbidden {
        /// The scope needed.
        scope: String,
    },
    /// The caller's user may not see or act in this domain.
    #[error("this is in the `{domain}` domain, which your account is not granted")]
    DomainForbidden {
        /// The domain.
        domain: String,
    },
    /// A change made with a session cookie without its CSRF token.
    #[error(
        "send the session's CSRF token in the X-CSRF-Token header (GET /api/v1/session gives it)"
    )]
    CsrfRejected,
    /// Too many attempts; try again after `retry_after` seconds.
    #[error("too many attempts; try again in {retry_after} s")]
    TooManyRequests {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// Nothing is at this address.
    #[error("{0}")]
    NotFound(String),
    /// The address exists, but not for this method.
    #[error("{method} is not allowed here; allowed: {}", allowed.join(", "))]
    MethodNotAllowed {
        /// The method asked for.
        method: String,
        /// The methods the address takes.
        allowed: Vec<String>,
    },
    /// The domain refused the command.
    #[error("{message}")]
    Rejected {
        /// The rule broken.
        rule: String,
        /// Why, for a person.
        message: String,
    },
    /// The domain refused a change under a rule that has a problem type and
    /// status of its own, for clients to tell apart without reading `rule`:
    /// a plan's answer by someone who is not its approver (403), or after
    /// it lapsed or was answered (409).
    #[error("{message}")]
    Refused {
        /// The status: 403 or 409.
        status: StatusCode,
        /// The problem type's slug (`not-an-approver`).
        kind: &'static str,
        /// The rule broken (`not_an_approver`).
        rule: &'static str,
        /// Why, for a person.
        message: String,
    },
    /// Another writer got there first, or the id was used for something else.
    #[error("{0}")]
    Conflict(String),
    /// The server cannot answer now (shutting down, not ready); try again.
    #[error("{0}")]
    Unavailable(String),
    /// Something failed inside the server; the cause is logged, not shown.
    #[error("internal failure: {0}")]
    Internal(String),
}

impl ApiError {
    /// Bad input, naming the field at fault.
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::InvalidInput {
            detail: detail.into(),
            field: Some(field.into()),
        }
    }

    /// An internal failure: logs `cause` and hides it from the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    fn slug(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::InvalidInput { .. } => ("invalid-input", "Invalid input"),
            ApiError::PayloadTooLarge { .. } => ("payload-too-large", "Payload too large"),
            ApiError::Unauthenticated(_) => ("unauthenticated", "Authentication required"),
            ApiError::Forbidden { .. } | ApiError::DomainForbidden { .. } => {
                ("forbidden", "Not allowed")
            }
            ApiError::CsrfRejected => ("csrf", "CSRF token missing or wrong"),
            ApiError::TooManyRequests { .. } => ("too-many-requests", "Too many requests"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            ApiError::Rejected { .. } => ("rejected", "Command rejected"),
            ApiError::Refused { kind, .. } => (kind, "Refused"),
            ApiError::Conflict(_) => ("conflict", "Conflict"),
            ApiError::Unavailable(_) => ("unavailable", "Unavailable"),
            ApiError::Internal(_) => ("internal", "Internal failure"),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let (slug, title) = self.slug();
        let mut problem = Problem {
            kind: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail: self.to_string(),
            field: None,
            rule: None,
            required_scope: None,
            domain: None,
            incident: None,
        };
        match self {
            ApiError::InvalidInput { field, .. } => problem.field.clone_from(field),
            ApiError::Rejected { rule, .. } => problem.rule = Some(rule.clone()),
            ApiError::Refused { rule, .. } => problem.rule = Some((*rule).to_owned()),
            ApiError::Forbidden { scope } => problem.required_scope = Some(scope.clone()),
            ApiError::DomainForbidden { domain } => problem.domain = Some(domain.clone()),
            ApiError::Internal(cause) => {
                let incident = Uuid::now_v7().to_string();
                tracing::error!(%incident, %cause, "request failed");
                problem.detail = "the server failed to answer; the cause is logged".to_owned();
                problem.incident = Some(incident);
            }
            _ => {}
        }
        problem
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidInput { .. } => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. }
            | ApiError::DomainForbidden { .. }
            | ApiError::CsrfRejected => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Refused { status, .. } => *status,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        if let ApiError::MethodNotAllowed { allowed, .. } = self
            && let Ok(value) = HeaderValue::from_str(&allowed.join(", "))
        {
            response.insert_header((header::ALLOW, value));
        }
        if let ApiError::TooManyRequests { retry_after } = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if matches!(self, ApiError::Unauthenticated(_)) {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"steward\""),
            ));
        }
        response.json(self.problem())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error.class() {
            ErrorClass::InvalidInput => ApiError::InvalidInput {
                detail: error.to_string(),
                field: None,
            },
            ErrorClass::Conflict => ApiError::Conflict(error.to_string()),
            ErrorClass::Failure => ApiError::internal(error),
        }
    }
}

impl From<ProjectionError> for ApiError {
    fn from(error: ProjectionError) -> Self {
        match error {
            ProjectionError::NotBuilt { .. } => {
                ApiError::Unavailable(format!("{error}; it is being built, try again shortly"))
            }
            ProjectionError::UnknownProjection { .. } => ApiError::NotFound(error.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<HostError> for ApiError {
    fn from(error: HostError) -> Self {
        match error {
            HostError::Rejected(rejection) => ApiError::Rejected {
                rule: rejection.rule.to_owned(),
                message: rejection.message,
            },
            HostError::Busy { .. } | HostError::OutcomeUnknown { .. } => {
                ApiError::Unavailable(error.to_string())
            }
            other => match other.class() {
                ErrorClass::InvalidInput => ApiError::InvalidInput {
                    detail: other.to_string(),
                    field: None,
                },
                ErrorClass::Conflict => ApiError::Conflict(other.to_string()),
                ErrorClass::Failure => ApiError::internal(other),
            },
        }
    }
}
