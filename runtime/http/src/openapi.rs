//! The OpenAPI 3.1 document, generated from the handlers' annotations. It
//! is served at `/api/openapi.json` and committed as `schemas/openapi.json`
//! (a test fails when the two drift).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{commands, events, health, projections, session, tokens, users};

/// Steward's API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Steward",
        description = "The HTTP API of Steward, a self-hosted personal AI operating system: \
                       its event log, commands to its domains, read models and projections. \
                       Every error is an RFC 9457 problem (application/problem+json) with a \
                       stable `type`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")
    ),
    paths(
        health::healthz,
        health::readyz,
        events::query_timeline,
        events::read_stream,
        commands::send,
        projections::list,
        projections::rebuild,
        projections::retry,
        tokens::create,
        tokens::list,
        tokens::revoke,
        session::setup_status,
        session::setup,
        session::login,
        session::current,
        session::logout,
        users::list,
        users::add,
        users::set_domains,
        users::remove,
        users::set_profile,
        users::sessions,
        users::revoke_session,
    ),
    modifiers(&BearerTokens),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "events", description = "The event log"),
        (name = "commands", description = "Commands to the domains' aggregates"),
        (name = "projections", description = "Read models being built from the log"),
        (name = "tokens", description = "API tokens"),
        (name = "session", description = "First run, log in, log out"),
        (name = "users", description = "The household's users, profiles and sessions"),
    )
)]
pub struct ApiDoc;

/// Declares the bearer-token scheme the `security` of each path names.
struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        // Changes made with the cookie also need the `X-CSRF-Token` header.
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// The document as pretty JSON, the form committed to the repository.
pub fn document() -> String {
    // The document is built from static annotations; serialising it cannot
    // fail, but a failure would still be reported rather than panic.
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
}
