//! The OpenAPI 3.1 document, generated from the handlers' annotations. It
//! is served at `/api/openapi.json` and committed as `schemas/openapi.json`
//! (a test fails when the two drift).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::webhooks;
use crate::routes::{admin, approvals, requests};
use crate::routes::{chain, live};
use crate::routes::{commands, credentials, events, health, projections, session, tokens, users};
use crate::routes::{memory, read_models};

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
        live::stream,
        chain::chain,
        commands::send,
        projections::list,
        projections::rebuild,
        projections::retry,
        tokens::create,
        tokens::list,
        tokens::revoke,
        webhooks::create,
        webhooks::list,
        webhooks::read,
        webhooks::update,
        webhooks::remove,
        webhooks::deliveries,
        webhooks::redeliver,
        webhooks::replay,
        read_models::inbox::queue,
        read_models::calendar::agenda,
        read_models::calendar::free_busy,
        read_models::home::devices,
        read_models::home::scenes,
        read_models::groceries::shopping_list,
        read_models::groceries::pantry,
        read_models::maintenance::tasks,
        read_models::travel::trips,
        read_models::travel::itinerary,
        read_models::goals::list,
        read_models::plans::list,
        read_models::plans::approvals,
        read_models::plans::read,
        approvals::approve,
        approvals::reject,
        approvals::undo,
        requests::plan_request,
        memory::search,
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
        credentials::list,
        credentials::set,
        credentials::remove,
        credentials::test_credentials,
        admin::erase,
    ),
    modifiers(&BearerTokens),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "events", description = "The event log"),
        (name = "commands", description = "Commands to the domains' aggregates"),
        (name = "projections", description = "Read models being built from the log"),
        (name = "tokens", description = "API tokens"),
        (name = "webhooks", description = "Subscribers, their delivery logs, redelivery and replay"),
        (name = "read models", description = "The domains' read models, plans and the approvals queue, and the vector memory"),
        (name = "approvals", description = "Approving and rejecting plans, as the signed-in user"),
        (name = "planner", description = "Requests in plain language, planned by the local planner"),
        (name = "session", description = "First run, log in, log out"),
        (name = "users", description = "The household's users, profiles and sessions"),
        (name = "credentials", description = "Integration credentials: set, test and remove, never read back"),
        (name = "admin", description = "Administration: erasing a data subject"),
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

/// The methods the document lists for `path` (upper-case), matching its
/// templated segments (`{stream_id}`) against any one segment; empty when
/// no documented path matches.
pub fn methods_of(path: &str) -> Vec<String> {
    static PATHS: std::sync::OnceLock<Vec<(Vec<String>, Vec<String>)>> = std::sync::OnceLock::new();
    let paths = PATHS.get_or_init(|| {
        ApiDoc::openapi()
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let segments = template.split('/').map(str::to_owned).collect();
                let methods = serde_json::to_value(item)
                    .ok()
                    .and_then(|value| value.as_object().cloned())
                    .map(|operations| {
                        operations
                            .keys()
                            .filter(|key| {
                                matches!(
                                    key.as_str(),
                                    "get"
                                        | "put"
                                        | "post"
                                        | "delete"
                                        | "patch"
                                        | "head"
                                        | "options"
                                )
                            })
                            .map(|key| key.to_uppercase())
                            .collect()
                    })
                    .unwrap_or_default();
                (segments, methods)
            })
            .collect()
    });
    let asked: Vec<&str> = path.split('/').collect();
    paths
        .iter()
        .find(|(segments, _)| {
            segments.len() == asked.len()
                && segments.iter().zip(&asked).all(|(template, segment)| {
                    template == segment
                        || (template.starts_with('{')
                            && template.ends_with('}')
                            && !segment.is_empty())
                })
        })
        .map(|(_, methods)| methods.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::methods_of;

    #[test]
    fn documented_paths_give_their_methods() {
        assert_eq!(methods_of("/api/v1/tokens"), ["GET", "POST"]);
        assert_eq!(methods_of("/api/v1/streams/shoppinglist-home"), ["GET"]);
        assert_eq!(methods_of("/api/v1/streams/"), Vec::<String>::new());
        assert_eq!(methods_of("/api/v1/nothing"), Vec::<String>::new());
    }
}
