//! Steward's HTTP API: what the UI, scripts and webhook subscribers reach.
//!
//! - [`state`]: the [`ApiState`] every handler gets (store, actor host,
//!   read models, token directory, metrics registry).
//! - [`auth`]: bearer tokens with [`Scope`]s, kept as SHA-256 digests in
//!   the `access-main` stream; every route but the public ones takes a
//!   [`Caller`] and says which scope it needs.
//! - [`problem`]: every error is an RFC 9457 problem with a stable `type`;
//!   [`extract`] makes bad bodies and parameters name the field at fault.
//! - [`routes`]: one module per resource, under `/api/v1`.
//! - [`openapi`]: the OpenAPI 3.1 document generated from the routes,
//!   served at `/api/openapi.json` with a browsable page at `/api/docs/`.
//!
//! - [`tls`]: the rustls configuration for serving HTTPS from certificate
//!   files, without a reverse proxy.
//! - [`ui`]: the web UI's built assets from the same origin, with the
//!   single-page app's fallback to `index.html`.
//!
//! [`configure`] mounts everything on an actix-web app, so tests drive the
//! API without a socket; [`serve`] binds it and runs it until shutdown
//! ([`serve_tls`] over TLS).
//! Public routes are exactly `/healthz`, `/readyz`, `/metrics` (unless a
//! scrape token is configured), `/api/openapi.json`, `/api/docs/`, and the
//! first-run and login routes (`/api/v1/setup`, `POST /api/v1/session`),
//! and the web UI's static files (which hold no data; the app asks the API).
//!
//! [`Scope`]: steward_events::domain::access::Scope

pub mod auth;
pub mod extract;
pub mod limits;
mod metrics;
pub mod openapi;
pub mod probe;
pub mod problem;
pub mod routes;
pub mod state;
pub mod tls;
pub mod ui;
pub mod webhooks;

use std::net::TcpListener;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi as _;
use utoipa_swagger_ui::SwaggerUi;

pub use auth::{
    AccessDirectory, Caller, NewToken, access_stream, digest, hash_password, new_token,
};
pub use openapi::ApiDoc;
pub use problem::{ApiError, Problem};
pub use state::{ApiState, ApiStateBuilder};

use crate::routes::webhooks as webhook_routes;
use crate::routes::{admin, approvals, requests};
use crate::routes::{chain, live};
use crate::routes::{commands, credentials, events, health, projections, session, tokens, users};
use crate::routes::{memory, read_models};

/// Mounts the API, its metrics middleware and its error handling on `config`.
pub fn configure(state: ApiState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config: &mut web::ServiceConfig| {
        config
            .app_data(web::Data::new(state))
            .app_data(extract::payload_config())
            .app_data(web::QueryConfig::default().error_handler(extract::query_error))
            .app_data(web::PathConfig::default().error_handler(extract::path_error))
            .service(health::healthz)
            .service(health::readyz)
            .service(routes::metrics::metrics)
            .route("/api/openapi.json", web::get().to(openapi_json))
            .service(SwaggerUi::new("/api/docs/{_:.*}").url("/api/openapi.json", ApiDoc::openapi()))
            .service(events::query_timeline)
            .service(events::read_stream)
            .service(live::stream)
            .service(chain::chain)
            .service(commands::send)
            .service(projections::list)
            .service(projections::rebuild)
            .service(projections::retry)
            .service(tokens::create)
            .service(tokens::list)
            .service(tokens::revoke)
            .service(webhook_routes::create)
            .service(webhook_routes::list)
            .service(webhook_routes::read)
            .service(webhook_routes::update)
            .service(webhook_routes::remove)
            .service(webhook_routes::deliveries)
            .service(webhook_routes::redeliver)
            .service(webhook_routes::replay)
            .service(read_models::inbox::queue)
            .service(read_models::calendar::agenda)
            .service(read_models::calendar::free_busy)
            .service(read_models::home::devices)
            .service(read_models::home::scenes)
            .service(read_models::groceries::shopping_list)
            .service(read_models::groceries::pantry)
            .service(read_models::maintenance::tasks)
            .service(read_models::travel::trips)
            .service(read_models::travel::itinerary)
            .service(read_models::goals::list)
            .service(read_models::plans::list)
            .service(read_models::plans::approvals)
            .service(read_models::plans::read)
            .service(approvals::approve)
            .service(approvals::reject)
            .service(approvals::undo)
            .service(requests::plan_request)
            .service(memory::search)
            .service(session::setup_status)
            .service(session::setup)
            .service(session::login)
            .service(session::current)
            .service(session::logout)
            .service(users::list)
            .service(users::add)
            .service(users::set_domains)
            .service(users::remove)
            .service(users::set_profile)
            .service(users::sessions)
            .service(users::revoke_session)
            .service(credentials::list)
            .service(credentials::set)
            .service(credentials::remove)
            .service(credentials::test_credentials)
            .service(admin::erase);
    }
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(openapi::document())
}

/// A request no route took: 405 with `Allow` when the path exists with
/// other methods, else a 404 problem (never actix's empty 404).
async fn not_found(request: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = openapi::methods_of(request.path());
    if allowed.is_empty() {
        return Err(ApiError::NotFound(format!(
            "nothing is at {} {}",
            request.method(),
            request.path()
        )));
    }
    Err(ApiError::MethodNotAllowed {
        method: request.method().to_string(),
        allowed,
    })
}

/// The whole app: [`configure`]d routes, the metrics middleware, the web
/// UI when the state names its directory, problems for unknown routes.
pub fn app(
    state: ApiState,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let ui_dir = state.ui_dir().map(std::path::Path::to_path_buf);
    App::new()
        .wrap(from_fn(metrics::record))
        .configure(configure(state))
        // After every API route, so the UI only takes what they did not.
        .configure(|config| {
            if let Some(dir) = ui_dir {
                config.service(ui::service(&dir));
            }
        })
        .default_service(web::to(not_found))
}

/// Serves the API on `listener` until `shutdown` is cancelled, then stops
/// taking requests and lets those in flight finish (up to 10 s).
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    workers: usize,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    run(listener, None, state, workers, shutdown).await
}

/// [`serve`] over TLS (HTTP/1.1; see [`tls::server_config`]): only TLS
/// handshakes are answered on `listener`, plain HTTP is not.
pub async fn serve_tls(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    state: ApiState,
    workers: usize,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    run(listener, Some(tls), state, workers, shutdown).await
}

async fn run(
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
    state: ApiState,
    workers: usize,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    // Open event streams end as shutdown begins, instead of holding it up.
    let streams = live::LiveShutdown::new(shutdown.clone());
    let server =
        HttpServer::new(move || app(state.clone()).app_data(web::Data::new(streams.clone())))
            .workers(workers.max(1))
            .shutdown_timeout(10)
            .disable_signals();
    let server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls)?,
        None => server.listen(listener)?,
    }
    .run();
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        handle.stop(true).await;
    });
    server.await
}
