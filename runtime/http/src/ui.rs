//! The web UI's built assets, served beside the API from the same origin.
//!
//! `steward serve` points [`ApiStateBuilder::ui_dir`] at `ui/dist` (the
//! `ui_dir` setting). Every `GET` or `HEAD` outside the API and the probes
//! ([`is_ui_path`]) is answered from that directory: the file when there is
//! one, else `index.html`, so that the single-page app's own routes
//! (`/timeline?type=…`, `/events/…`) load on a reload or a shared link and
//! the app's router takes over. Anything else — other methods, `/api/…`
//! paths no route took — still reaches the API's problem answers.
//!
//! Without a built UI (no `index.html` in the directory) the same paths
//! answer a short page saying how to build it, rather than an error.
//! Whether the UI is there is decided when the server starts: restart
//! `serve` after the first build (rebuilding later needs no restart, the
//! files are read per request).
//!
//! [`ApiStateBuilder::ui_dir`]: crate::ApiStateBuilder::ui_dir

use std::path::{Path, PathBuf};

use actix_files::{Files, NamedFile};
use actix_web::dev::{HttpServiceFactory, ServiceRequest, ServiceResponse, fn_service};
use actix_web::guard::{Guard, GuardContext};
use actix_web::http::{Method, header};
use actix_web::{HttpResponse, web};

/// The file the single-page app starts from.
const INDEX: &str = "index.html";

/// Whether `path` belongs to the UI rather than to the API or the probes.
pub fn is_ui_path(path: &str) -> bool {
    let reserved = ["/api", "/healthz", "/readyz", "/metrics"];
    !reserved.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Takes the `GET` and `HEAD` requests of [`is_ui_path`]s.
struct UiRequests;

impl Guard for UiRequests {
    fn check(&self, ctx: &GuardContext<'_>) -> bool {
        let head = ctx.head();
        (head.method == Method::GET || head.method == Method::HEAD) && is_ui_path(head.uri.path())
    }
}

/// Whether `dir` holds a built UI.
pub fn is_built(dir: &Path) -> bool {
    dir.join(INDEX).is_file()
}

/// The service answering UI paths from `dir`: its files, `index.html` for
/// paths that are not one, or how to build the UI when it is not built.
pub fn service(dir: &Path) -> impl HttpServiceFactory + use<> {
    let index = dir.join(INDEX);
    if is_built(dir) {
        let files = Files::new("/", dir)
            .index_file(INDEX)
            .guard(UiRequests)
            // `/` and `/index.html` go to the fallback too, so the page is
            // never cached whichever way it is asked for.
            .path_filter(|path, _| !(path.as_os_str().is_empty() || path == Path::new(INDEX)))
            .default_handler(fn_service(move |request: ServiceRequest| {
                spa_index(request, index.clone())
            }));
        UiService::Built(files)
    } else {
        let dir = dir.to_path_buf();
        UiService::Missing(
            web::resource("/{path:.*}")
                .guard(UiRequests)
                .to(move || not_built(dir.clone())),
        )
    }
}

/// `index.html`, for a path of the app's own (no file has its name). It is
/// never cached, so a browser picks up a new build at once; the hashed
/// assets it names are cached by their validators.
async fn spa_index(
    request: ServiceRequest,
    index: PathBuf,
) -> Result<ServiceResponse, actix_web::Error> {
    let (request, _) = request.into_parts();
    let mut response = NamedFile::open_async(&index).await?.into_response(&request);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    Ok(ServiceResponse::new(request, response))
}

/// What a UI path answers when the UI was not built.
async fn not_built(dir: PathBuf) -> HttpResponse {
    let dir = html_escape(&dir.display().to_string());
    HttpResponse::NotFound()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>Steward: the web UI is not built</title></head><body>\
             <h1>The web UI is not built</h1>\
             <p>Steward's API is running (<a href=\"/api/docs/\">/api/docs/</a>), but there \
             is no <code>index.html</code> in <code>{dir}</code> (the <code>ui_dir</code> \
             setting, <code>STEWARD_UI_DIR</code>).</p>\
             <p>Build it from the repository root with <code>npm --prefix ui ci &amp;&amp; \
             npm --prefix ui run build</code> (or start Steward with <code>ops/dev/run</code>, \
             which does so), then restart <code>steward serve</code>.</p></body></html>\n"
        ))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Either the built UI or the page saying how to build it.
enum UiService {
    Built(Files),
    Missing(actix_web::Resource),
}

impl HttpServiceFactory for UiService {
    fn register(self, config: &mut actix_web::dev::AppService) {
        match self {
            Self::Built(files) => files.register(config),
            Self::Missing(resource) => resource.register(config),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_ui_path;

    #[test]
    fn the_api_and_the_probes_are_not_ui_paths() {
        for path in [
            "/api",
            "/api/",
            "/api/v1/events",
            "/api/docs/",
            "/healthz",
            "/readyz",
            "/metrics",
            "/metrics/",
        ] {
            assert!(!is_ui_path(path), "{path}");
        }
        for path in [
            "/",
            "/index.html",
            "/timeline",
            "/events/0193",
            "/apis",
            "/metrics-dashboard",
            "/assets/index-abc.js",
        ] {
            assert!(is_ui_path(path), "{path}");
        }
    }
}
