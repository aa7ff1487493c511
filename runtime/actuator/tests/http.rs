//! The HTTP integration against a real server the test starts (actix-web
//! on a free port), which records what it receives and answers as told.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use steward_actuator::http::{HttpConfig, HttpCredentials, HttpIntegration};
use steward_actuator::{Integration, IntegrationError};
use url::Url;

/// What the server received: method, path, headers of note, body.
#[derive(Debug, Clone, PartialEq)]
struct Received {
    method: String,
    path: String,
    idempotency_key: Option<String>,
    authorization: Option<String>,
    body: String,
}

struct Provider {
    origin: String,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn answer(
    received: web::Data<Arc<Mutex<Vec<Received>>>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    received.lock().expect("not poisoned").push(Received {
        method: request.method().to_string(),
        path: request.path().to_owned(),
        idempotency_key: header("idempotency-key"),
        authorization: header("authorization"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    match request.path() {
        "/book" => HttpResponse::Created().json(json!({"booking": "b-17"})),
        "/busy" => HttpResponse::ServiceUnavailable().finish(),
        "/moved" => HttpResponse::Found()
            .insert_header(("Location", "http://elsewhere.example/"))
            .finish(),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            HttpResponse::Ok().finish()
        }
        _ => HttpResponse::NotFound().body("no such thing"),
    }
}

fn start_provider() -> Provider {
    let received = Arc::new(Mutex::new(Vec::new()));
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    let data = web::Data::new(Arc::clone(&received));
    let server = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .default_service(web::to(answer))
    })
    .workers(1)
    .listen(listener)
    .expect("listens")
    .run();
    actix_web::rt::spawn(server);
    Provider {
        origin: format!("http://127.0.0.1:{port}"),
        received,
    }
}

fn integration(provider: &Provider, timeout: Duration) -> HttpIntegration {
    let mut config =
        HttpConfig::allowing(std::slice::from_ref(&provider.origin)).expect("an origin");
    config.credentials = Some((
        Url::parse(&provider.origin).expect("a URL"),
        HttpCredentials::Bearer("tok-test".to_owned()),
    ));
    config.timeout = timeout;
    HttpIntegration::new(config).expect("a client")
}

#[actix_web::test]
async fn a_request_goes_out_signed_in_with_its_idempotency_key_and_the_answer_is_recorded() {
    let provider = start_provider();
    let http = integration(&provider, Duration::from_secs(5));
    let action = json!({"method": "POST", "url": format!("{}/book", provider.origin),
                        "json": {"at": "2026-12-03T09:00"}, "headers": {"X-Client": "steward"}});
    let outcome = http.execute(&action, "actuation-1").await.expect("booked");
    assert_eq!(outcome.result["status"], 201);
    assert_eq!(outcome.result["body"], json!({"booking": "b-17"}));
    // A retried attempt carries the same key.
    http.execute(&action, "actuation-1")
        .await
        .expect("booked again");
    let received = provider.received.lock().expect("not poisoned").clone();
    assert_eq!(received.len(), 2);
    for request in &received {
        assert_eq!(request.method, "POST");
        assert_eq!(request.idempotency_key.as_deref(), Some("actuation-1"));
        assert_eq!(request.authorization.as_deref(), Some("Bearer tok-test"));
        assert_eq!(
            serde_json::from_str::<Value>(&request.body).expect("JSON"),
            json!({"at": "2026-12-03T09:00"})
        );
    }
}

#[actix_web::test]
async fn answers_are_successes_retries_or_refusals() {
    let provider = start_provider();
    let http = integration(&provider, Duration::from_secs(1));
    let get = |path: &str| json!({"method": "GET", "url": format!("{}{path}", provider.origin)});
    let transient = |result: Result<_, IntegrationError>| match result {
        Err(error) => error.is_transient(),
        Ok(_) => false,
    };
    assert!(transient(http.execute(&get("/busy"), "k1").await), "503");
    assert!(
        transient(http.execute(&get("/slow"), "k2").await),
        "timeout"
    );
    let missing = http.execute(&get("/nothing"), "k3").await;
    assert!(
        matches!(&missing, Err(IntegrationError::Refused(why)) if why.contains("404")),
        "{missing:?}"
    );
    let moved = http.execute(&get("/moved"), "k4").await;
    assert!(
        matches!(&moved, Err(IntegrationError::Refused(why)) if why.contains("redirects")),
        "{moved:?}"
    );

    // Nobody listening: worth a retry.
    let closed = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let origin = format!("http://{}", closed.local_addr().expect("bound"));
    drop(closed);
    let down =
        HttpIntegration::new(HttpConfig::allowing(std::slice::from_ref(&origin)).expect("origin"))
            .expect("a client");
    let action = json!({"method": "GET", "url": format!("{origin}/x")});
    assert!(transient(down.execute(&action, "k5").await));

    // A request to an origin not allowed never leaves.
    let before = provider.received.lock().expect("not poisoned").len();
    let elsewhere = json!({"method": "GET", "url": "http://127.0.0.2:9/x"});
    assert!(matches!(
        http.execute(&elsewhere, "k6").await,
        Err(IntegrationError::BadAction(_))
    ));
    assert_eq!(
        provider.received.lock().expect("not poisoned").len(),
        before
    );
}
