//! What every handler reaches: the store, the actor host, the read models,
//! the token directory, the metrics, the person's time zone and, when it
//! is on, the vector memory.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use steward_events::EventStore;
use steward_host::Host;
use steward_planner::Planner;
use steward_projections::memory::MemoryIndex;
use steward_projections::{Projection, ReadDb};
use steward_store_core::CredentialVault;
use tokio::sync::watch;

use crate::auth::{AccessDirectory, new_token};
use crate::limits::{LoginLimits, LoginLimitsConfig};
use crate::metrics::HttpMetrics;

/// The shared state of the API, cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn EventStore>,
    host: Host,
    read_models: ReadDb,
    projections: Vec<Arc<dyn Projection>>,
    access: AccessDirectory,
    registry: prometheus::Registry,
    metrics: HttpMetrics,
    metrics_token: Option<String>,
    bus: Option<watch::Receiver<bool>>,
    time_zone: Tz,
    memory: Option<Arc<MemoryIndex>>,
    planner: Option<Planner>,
    credentials: Option<CredentialVault>,
    login_limits: LoginLimits,
    session_lifetime: chrono::Duration,
    secure_cookies: bool,
    setup_code: std::sync::Mutex<Option<String>>,
    ui_dir: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("projections", &self.inner.projections.len())
            .finish_non_exhaustive()
    }
}

/// How to build an [`ApiState`].
pub struct ApiStateBuilder {
    store: Arc<dyn EventStore>,
    host: Host,
    read_models: ReadDb,
    projections: Vec<Arc<dyn Projection>>,
    registry: prometheus::Registry,
    metrics_token: Option<String>,
    bus: Option<watch::Receiver<bool>>,
    time_zone: Tz,
    memory: Option<Arc<MemoryIndex>>,
    planner: Option<Planner>,
    credentials: Option<CredentialVault>,
    login_limits: LoginLimitsConfig,
    session_lifetime: chrono::Duration,
    secure_cookies: bool,
    ui_dir: Option<std::path::PathBuf>,
}

impl ApiStateBuilder {
    /// The directory of the web UI's built assets (`ui/dist`), served for
    /// every path outside the API (see [`crate::ui`]); without one, only
    /// the API answers.
    pub fn ui_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.ui_dir = dir;
        self
    }

    /// How many login attempts are allowed (tests lower them).
    pub fn login_limits(mut self, limits: LoginLimitsConfig) -> Self {
        self.login_limits = limits;
        self
    }

    /// How long a browser session lasts.
    pub fn session_lifetime(mut self, lifetime: chrono::Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// Whether session cookies are `Secure` (behind TLS).
    pub fn secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// The projections whose status and read models the API serves.
    pub fn projections(mut self, projections: Vec<Arc<dyn Projection>>) -> Self {
        self.projections = projections;
        self
    }

    /// The registry `/metrics` shows (the host's and the projections'
    /// metrics register there too); the API adds its own.
    pub fn registry(mut self, registry: prometheus::Registry) -> Self {
        self.registry = registry;
        self
    }

    /// A token Prometheus must present to scrape `/metrics` (public
    /// without one).
    pub fn metrics_token(mut self, token: Option<String>) -> Self {
        self.metrics_token = token;
        self
    }

    /// Whether the bus is connected, for `/readyz`; without one there is
    /// no bus to wait for.
    pub fn bus(mut self, connected: watch::Receiver<bool>) -> Self {
        self.bus = Some(connected);
        self
    }

    /// The person's time zone: the agenda's days are midnight to midnight
    /// there (UTC unless said; give the zone the agenda projection is built
    /// with).
    pub fn time_zone(mut self, time_zone: Tz) -> Self {
        self.time_zone = time_zone;
        self
    }

    /// The vector memory's search index, when the memory is on; without
    /// one, memory search answers that the memory is off.
    pub fn memory(mut self, index: Option<Arc<MemoryIndex>>) -> Self {
        self.memory = index;
        self
    }

    /// The planner, when its models are loaded; without one, requests in
    /// plain language answer that planning is off.
    pub fn planner(mut self, planner: Option<Planner>) -> Self {
        self.planner = planner;
        self
    }

    /// The vault integration credentials are set in; without one, the
    /// credential endpoints answer 503.
    pub fn credentials(mut self, vault: CredentialVault) -> Self {
        self.credentials = Some(vault);
        self
    }

    /// The state. Fails only if the API's metrics cannot register.
    pub fn build(self) -> Result<ApiState, prometheus::Error> {
        let metrics = HttpMetrics::new(&self.registry)?;
        Ok(ApiState {
            inner: Arc::new(Inner {
                access: AccessDirectory::new(Arc::clone(&self.store), self.host.clone()),
                store: self.store,
                host: self.host,
                read_models: self.read_models,
                projections: self.projections,
                registry: self.registry,
                metrics,
                metrics_token: self.metrics_token,
                bus: self.bus,
                time_zone: self.time_zone,
                memory: self.memory,
                planner: self.planner,
                credentials: self.credentials,
                login_limits: LoginLimits::new(self.login_limits),
                session_lifetime: self.session_lifetime,
                secure_cookies: self.secure_cookies,
                setup_code: std::sync::Mutex::new(None),
                ui_dir: self.ui_dir,
            }),
        })
    }
}

impl ApiState {
    /// A builder over the store, the host that executes commands, and the
    /// read-model database.
    pub fn builder(store: Arc<dyn EventStore>, host: Host, read_models: ReadDb) -> ApiStateBuilder {
        ApiStateBuilder {
            store,
            host,
            read_models,
            projections: Vec::new(),
            registry: prometheus::Registry::new(),
            metrics_token: None,
            bus: None,
            time_zone: Tz::UTC,
            memory: None,
            planner: None,
            credentials: None,
            login_limits: LoginLimitsConfig::default(),
            session_lifetime: chrono::Duration::days(14),
            secure_cookies: false,
            ui_dir: None,
        }
    }

    /// The event store.
    pub fn store(&self) -> &dyn EventStore {
        self.inner.store.as_ref()
    }

    /// The actor host.
    pub fn host(&self) -> &Host {
        &self.inner.host
    }

    /// The read-model database.
    pub fn read_models(&self) -> &ReadDb {
        &self.inner.read_models
    }

    /// The projections served.
    pub fn projections(&self) -> &[Arc<dyn Projection>] {
        &self.inner.projections
    }

    /// The credential vault, if the server has one.
    pub fn credentials(&self) -> Option<&CredentialVault> {
        self.inner.credentials.as_ref()
    }

    /// The token directory.
    pub fn access(&self) -> &AccessDirectory {
        &self.inner.access
    }

    /// The registry `/metrics` shows.
    pub fn registry(&self) -> &prometheus::Registry {
        &self.inner.registry
    }

    pub(crate) fn metrics(&self) -> &HttpMetrics {
        &self.inner.metrics
    }

    pub(crate) fn metrics_token(&self) -> Option<&str> {
        self.inner.metrics_token.as_deref()
    }

    /// Whether the bus is connected; `None` when there is no bus.
    pub fn bus_connected(&self) -> Option<bool> {
        self.inner.bus.as_ref().map(|bus| *bus.borrow())
    }

    /// The person's time zone.
    pub fn time_zone(&self) -> Tz {
        self.inner.time_zone
    }

    /// The vector memory's search index; `None` when the memory is off.
    pub fn memory(&self) -> Option<&Arc<MemoryIndex>> {
        self.inner.memory.as_ref()
    }

    /// The planner, when it is on.
    pub fn planner(&self) -> Option<&Planner> {
        self.inner.planner.as_ref()
    }

    pub(crate) fn login_limits(&self) -> &LoginLimits {
        &self.inner.login_limits
    }

    pub(crate) fn session_lifetime(&self) -> chrono::Duration {
        self.inner.session_lifetime
    }

    pub(crate) fn secure_cookies(&self) -> bool {
        self.inner.secure_cookies
    }

    /// Where the web UI's built assets are, if it is served.
    pub fn ui_dir(&self) -> Option<&std::path::Path> {
        self.inner.ui_dir.as_deref()
    }

    /// Issues the one-time setup code when there is no owner yet (and
    /// returns it, for `serve` to log); `None` once the owner exists.
    pub async fn issue_setup_code(&self) -> Result<Option<String>, crate::ApiError> {
        if self.access().known().await?.access().owner().is_some() {
            return Ok(None);
        }
        let mut code = self
            .inner
            .setup_code
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if code.is_none() {
            let secret = new_token().map_err(crate::ApiError::internal)?;
            // Short enough to type from a log: 16 characters of the secret.
            *code = Some(secret.secret.chars().skip(4).take(16).collect());
        }
        Ok(code.clone())
    }

    pub(crate) fn setup_code(&self) -> Option<String> {
        self.inner
            .setup_code
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn forget_setup_code(&self) {
        *self
            .inner
            .setup_code
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// Now, by the host's clock (paused in tests).
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.host.clock().now()
    }
}
