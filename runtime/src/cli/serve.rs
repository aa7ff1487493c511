//! `steward serve`: the long-running process.

use std::sync::Arc;
use std::time::Duration;

use steward_actors::saga::{SagaConfig, steward_sagas};
use steward_actuator::caldav::{CalDavConfig, CalDavIntegration};
use steward_actuator::http::{HttpConfig, HttpCredentials, HttpIntegration};
use steward_actuator::mail_ingest::{ImapConfig, MailIngest};
use steward_actuator::mqtt::{MqttConfig, MqttIntegration};
use steward_actuator::mqtt_ingest::{IngestConfig, MqttIngest};
use steward_actuator::smtp::{SmtpConfig, SmtpIntegration};
use steward_actuator::{ActuatorOptions, ActuatorWorker, ExecutorOptions, PlanExecutor};
use steward_bus::{JetStreamSource, Relay, SourceConfig};
use steward_events::{EventStore, StreamId, SubjectId};
use steward_host::workers::{LeaseOptions, SagaWorker, TimerWorker, hold_lease_and_run};
use steward_host::{Host, HostOptions};
use steward_http::ApiState;
use steward_http::webhooks::{RetryPolicy, WebhookWorker};
use steward_planner::remote::{RemoteConfig, RemoteModel};
use steward_planner::{Planner, PlannerSettings, Recognizer};
use steward_projections::memory::MemoryIndex;
use steward_projections::{ProjectionMetrics, ProjectionRunner, SharedReads};
use steward_store_core::CredentialVault;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Failure;
use crate::config::{Config, ProjectionSource};
use crate::open::Opened;
use crate::read_models::{
    lease_name, load_embedder, open_read_models, projections_with, runner_options,
};

/// The actor host every worker of `serve` sends its commands through.
pub(super) fn start_host(
    config: &Config,
    opened: &Opened,
    arbiters: usize,
    registry: &prometheus::Registry,
) -> Result<Host, Failure> {
    let owner = SubjectId::parse(&config.owner)
        .map_err(|e| Failure::Input(format!("configuration `owner`: {e}")))?;
    let store = Arc::new(opened.store.clone());
    Host::builder(store.clone())
        .snapshots(store, config.snapshot_every)
        .metrics_registry(registry.clone())
        .options(HostOptions {
            owner,
            arbiters,
            ..HostOptions::default()
        })
        .steward_domains()
        .start()
        .map_err(|e| Failure::Other(e.into()))
}

/// Hosts Steward until interrupted (Ctrl-C or SIGTERM): the HTTP API, and
/// the timer worker, the webhook deliveries, one runner per saga, one per
/// projection, and the NATS
/// relay when `nats_url` is configured, each under a lease so that a second
/// `serve` on the same store waits instead of doubling their work.
pub(super) async fn run(config: &Config, opened: Opened) -> Result<(), Failure> {
    // Listening from the start: a stop asked for while loading (the
    // embedding model takes a moment) is a clean stop, not a kill.
    let stop_asked = StopSignal::listen();
    let shutdown = CancellationToken::new();
    // Everything that can refuse the configuration comes before any worker.
    let tls = config
        .tls_files()
        .map_err(|e| Failure::Input(e.to_string()))?
        .map(|files| steward_http::tls::server_config(files.certificate, files.key))
        .transpose()
        .map_err(|e| Failure::Input(format!("configuration: {e}")))?;
    let embedder = load_embedder(config).map_err(|e| Failure::Input(e.to_string()))?;
    let projections =
        projections_with(config, embedder.clone()).map_err(|e| Failure::Input(e.to_string()))?;
    let time_zone = config.time_zone.parse::<chrono_tz::Tz>().map_err(|_| {
        Failure::Input(format!(
            "configuration `time_zone`: {:?} is not an IANA time zone name (e.g. Europe/London)",
            config.time_zone
        ))
    })?;
    let listener = std::net::TcpListener::bind(&config.listen).map_err(|e| {
        Failure::Input(format!(
            "configuration `listen`: cannot listen on {}: {e}",
            config.listen
        ))
    })?;
    // One registry for everything `/metrics` shows.
    let registry = prometheus::Registry::new();
    let host = start_host(config, &opened, HostOptions::default().arbiters, &registry)?;
    let head = steward_events::EventStore::head(&opened.store).await?;
    tracing::info!(
        head = %head.map_or_else(|| "empty".to_owned(), |p| p.to_string()),
        "steward is running"
    );
    let mut workers = JoinSet::new();
    let timers = Arc::new(TimerWorker::new(host.clone(), opened.store.clone()));
    workers.spawn(leased(
        "timer worker",
        opened.store.clone(),
        TimerWorker::LEASE.to_owned(),
        config.lease_options(),
        shutdown.clone(),
        move |lost| {
            let timers = Arc::clone(&timers);
            async move { timers.run(lost).await }
        },
    ));
    let webhooks = WebhookWorker::new(
        host.clone(),
        Arc::new(opened.store.clone()),
        RetryPolicy::default(),
    )
    .map_err(|e| Failure::Other(e.into()))?;
    workers.spawn(leased(
        "webhook worker",
        opened.store.clone(),
        WebhookWorker::LEASE.to_owned(),
        config.lease_options(),
        shutdown.clone(),
        move |lost| {
            let webhooks = webhooks.clone();
            async move { webhooks.run(lost).await }
        },
    ));
    let executor = Arc::new(PlanExecutor::new(
        host.clone(),
        opened.store.clone(),
        ExecutorOptions {
            dry_run: config.actuator_dry_run,
        },
    ));
    workers.spawn(leased(
        "plan executor",
        opened.store.clone(),
        PlanExecutor::LEASE.to_owned(),
        config.lease_options(),
        shutdown.clone(),
        move |lost| {
            let executor = Arc::clone(&executor);
            async move { executor.run(lost).await }
        },
    ));
    let broker = mqtt_broker(config, &opened).await?;
    if let Some(broker) = &broker {
        let ingest = Arc::new(MqttIngest::new(
            host.clone(),
            IngestConfig {
                broker: broker.clone(),
                base_topic: config.mqtt_base_topic.clone(),
                discovery_prefix: Some(config.mqtt_discovery_prefix.clone())
                    .filter(|prefix| !prefix.is_empty()),
                household: "main".to_owned(),
            },
        ));
        workers.spawn(leased(
            "MQTT ingest",
            opened.store.clone(),
            MqttIngest::LEASE.to_owned(),
            config.lease_options(),
            shutdown.clone(),
            move |lost| {
                let ingest = Arc::clone(&ingest);
                async move { ingest.run(lost).await }
            },
        ));
    }
    if let Some(imap) = mail_folder(config, &opened).await? {
        let ingest = Arc::new(MailIngest::new(host.clone(), imap));
        workers.spawn(leased(
            "mail ingest",
            opened.store.clone(),
            MailIngest::LEASE.to_owned(),
            config.lease_options(),
            shutdown.clone(),
            move |lost| {
                let ingest = Arc::clone(&ingest);
                async move { ingest.run(lost).await }
            },
        ));
    }
    let actuator = Arc::new(actuator(config, &host, &opened, broker).await?);
    workers.spawn(leased(
        "actuator",
        opened.store.clone(),
        ActuatorWorker::LEASE.to_owned(),
        config.lease_options(),
        shutdown.clone(),
        move |lost| {
            let actuator = Arc::clone(&actuator);
            async move { actuator.run(lost).await }
        },
    ));
    let calendar = StreamId::parse(&config.calendar)
        .map_err(|e| Failure::Input(format!("configuration `calendar`: {e}")))?;
    for saga in steward_sagas(&SagaConfig { calendar }) {
        let worker = Arc::new(
            SagaWorker::new(Arc::from(saga), host.clone(), opened.store.clone())
                .map_err(|e| Failure::Other(e.into()))?,
        );
        let lease = worker.lease_name();
        workers.spawn(leased(
            "saga runner",
            opened.store.clone(),
            lease,
            config.lease_options(),
            shutdown.clone(),
            move |lost| {
                let worker = Arc::clone(&worker);
                async move { worker.run(lost).await }
            },
        ));
    }
    let read_models = open_read_models(config)
        .await
        .map_err(|e| Failure::Other(anyhow::Error::from(e).context("read-model database")))?;
    // Replays left behind by a `steward projections replay` that was killed.
    steward_projections::tidy_replays(
        &read_models,
        &projections,
        chrono::Utc::now() - chrono::TimeDelta::minutes(10),
    )
    .await
    .map_err(|e| Failure::Other(e.into()))?;
    // The meeting briefing reads the inbox read model, so it starts once
    // the read models are open.
    let briefing = Arc::new(
        steward_host::workers::meeting_briefing_worker(
            steward_actors::saga::BriefingConfig::default(),
            host.clone(),
            opened.store.clone(),
            read_models.clone(),
        )
        .map_err(|e| Failure::Other(e.into()))?,
    );
    workers.spawn(leased(
        "saga runner",
        opened.store.clone(),
        briefing.lease_name(),
        config.lease_options(),
        shutdown.clone(),
        move |lost| {
            let worker = Arc::clone(&briefing);
            async move { worker.run(lost).await }
        },
    ));
    let metrics = ProjectionMetrics::new(&registry).map_err(|e| Failure::Other(e.into()))?;
    // Projections catching up together read each page of the log once.
    let events: Arc<dyn EventStore> = Arc::new(SharedReads::new(Arc::new(opened.store.clone())));
    let nats_source = nats_source(config).await?;
    for projection in projections.iter().cloned() {
        let lease = lease_name(projection.as_ref());
        let runner = match &nats_source {
            Some((client, source_config)) => {
                let source = JetStreamSource::new(
                    client.clone(),
                    source_config.clone(),
                    opened.store.clone(),
                    projection.name(),
                )
                .map_err(|e| Failure::Input(format!("projection_source = \"nats\": {e}")))?;
                ProjectionRunner::from_source(
                    read_models.clone(),
                    Arc::new(source),
                    projection,
                    runner_options(config),
                )
            }
            None => ProjectionRunner::new(
                read_models.clone(),
                Arc::clone(&events),
                projection,
                runner_options(config),
            ),
        };
        let runner = Arc::new(runner.with_metrics(metrics.clone()));
        workers.spawn(leased(
            "projection runner",
            opened.store.clone(),
            lease,
            config.lease_options(),
            shutdown.clone(),
            move |lost| {
                let runner = Arc::clone(&runner);
                async move {
                    runner
                        .run(lost)
                        .await
                        .map_err(|e| steward_host::HostError::Startup(e.to_string()))
                }
            },
        ));
    }
    // Whether this process's relay is in step with the stream, for `/readyz`.
    let (bus_connected, bus_status) = tokio::sync::watch::channel(false);
    match config.relay_config() {
        Some(relay_config) => {
            let log = opened.store.log().clone();
            workers.spawn(leased(
                "nats relay",
                opened.store.clone(),
                "relay".to_owned(),
                config.lease_options(),
                shutdown.clone(),
                move |lost| {
                    let relay = Relay::new(log.clone(), relay_config.clone());
                    let mut status = relay.status();
                    let bus_connected = bus_connected.clone();
                    // Ends with the relay, whose drop closes its status.
                    tokio::spawn(async move {
                        while status.changed().await.is_ok() {
                            let connected = status.borrow_and_update().connected;
                            bus_connected.send_replace(connected);
                        }
                        bus_connected.send_replace(false);
                    });
                    async move {
                        relay
                            .run(lost)
                            .await
                            .map_err(|e| steward_host::HostError::Startup(e.to_string()))
                    }
                },
            ));
        }
        None => tracing::info!("no nats_url configured: events stay in process"),
    }

    // Memory search over HTTP reads the index the memory projection feeds.
    let memory = embedder.clone().map(|embedder| {
        Arc::new(MemoryIndex::new(
            read_models.clone(),
            embedder,
            Some(config.memory_index_dir()),
        ))
    });
    // The planner reads requests with the memory's embedding model.
    let planner = match &embedder {
        Some(embedder) => {
            let recognizer = Recognizer::load(Arc::clone(embedder))
                .map_err(|e| Failure::Input(format!("the planner's models: {e}")))?;
            Some(Planner::new(
                Arc::new(recognizer),
                host.clone(),
                read_models.clone(),
                PlannerSettings {
                    household: "main".to_owned(),
                    time_zone,
                    mqtt_base_topic: config.mqtt_base_topic.clone(),
                    remote: remote_model(config, &opened).await?,
                    caldav: config.caldav_url.is_some(),
                },
            ))
        }
        None => {
            tracing::info!("no embedding model configured: the planner is off");
            None
        }
    };
    let mut api = ApiState::builder(Arc::new(opened.store.clone()), host.clone(), read_models)
        .projections(projections)
        .time_zone(time_zone)
        .memory(memory)
        .planner(planner)
        .registry(registry)
        .metrics_token(config.metrics_token.as_ref().map(|token| token.0.clone()))
        .credentials(CredentialVault::new(opened.store.clone()))
        .session_lifetime(chrono::TimeDelta::days(i64::from(
            config.session_days.max(1),
        )))
        .secure_cookies(config.session_cookies_secure())
        .ui_dir(Some(config.ui_dir.clone()));
    if !steward_http::ui::is_built(&config.ui_dir) {
        tracing::warn!(
            ui_dir = %config.ui_dir.display(),
            "the web UI is not built (no index.html): `/` says how to build it"
        );
    }
    if config.nats_url.is_some() {
        api = api.bus(bus_status);
    }
    let api = api.build().map_err(|e| Failure::Other(e.into()))?;
    announce(&listener, tls.is_some(), &api).await;
    let http_workers = config.http_workers;
    let http_shutdown = shutdown.clone();
    workers.spawn(async move {
        let served = match tls {
            Some(tls) => {
                steward_http::serve_tls(listener, tls, api, http_workers, http_shutdown).await
            }
            None => steward_http::serve(listener, api, http_workers, http_shutdown).await,
        };
        ("http server", served.map_err(anyhow::Error::from))
    });

    // A worker ends on its own only when it cannot go on: then so does serve.
    let failed = tokio::select! {
        () = stop_asked.wait() => None,
        Some(ended) = workers.join_next() => Some(report(ended)),
    };
    tracing::info!("stopping");
    shutdown.cancel();
    // Give workers a moment to finish what they are doing, then go.
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ended) = workers.join_next().await {
            report(ended);
        }
    })
    .await;
    tracing::info!("steward stopped");
    match failed {
        Some(reason) => Err(Failure::Other(anyhow::anyhow!(reason))),
        None => Ok(()),
    }
}

/// The NATS client and settings projections read through when
/// `projection_source = "nats"`; `None` when they read the store.
async fn nats_source(
    config: &Config,
) -> Result<Option<(async_nats::Client, SourceConfig)>, Failure> {
    if config.projection_source != ProjectionSource::Nats {
        return Ok(None);
    }
    let relay = config.relay_config().ok_or_else(|| {
        Failure::Input(
            "projection_source = \"nats\" needs nats_url (the relay's NATS server)".to_owned(),
        )
    })?;
    let source_config = SourceConfig::from_relay(&relay);
    let client = steward_bus::source::connect(&source_config)
        .await
        .map_err(|e| Failure::Other(anyhow::Error::from(e).context("NATS for the projections")))?;
    Ok(Some((client, source_config)))
}

/// Says where the API is (`https` over built-in TLS), and the setup code
/// while there is no owner.
async fn announce(listener: &std::net::TcpListener, tls: bool, api: &ApiState) {
    let address = listener
        .local_addr()
        .map_or_else(|_| "?".to_owned(), |address| address.to_string());
    let scheme = if tls { "https" } else { "http" };
    tracing::info!(
        %address,
        "HTTP API listening: {scheme}://{address}/api/v1 (docs at /api/docs/)"
    );
    match api.issue_setup_code().await {
        Ok(Some(code)) => tracing::warn!(
            "Steward has no owner yet. Create it at {scheme}://{address}/ (POST /api/v1/setup) \
             with the one-time setup code {code}, or with `steward user add --owner`"
        ),
        Ok(None) => {}
        Err(error) => tracing::error!(%error, "could not read the access stream"),
    }
}

/// Logs why a worker ended, and says it in one line.
fn report(ended: Result<(&'static str, anyhow::Result<()>), tokio::task::JoinError>) -> String {
    match ended {
        Ok((worker, Ok(()))) => {
            tracing::info!(worker, "worker stopped");
            format!("the {worker} stopped")
        }
        Ok((worker, Err(error))) => {
            let error = format!("{error:#}");
            tracing::error!(worker, %error, "worker failed");
            format!("the {worker} failed: {error}")
        }
        Err(error) => {
            tracing::error!(%error, "worker panicked");
            format!("a worker panicked: {error}")
        }
    }
}

/// A worker run under its lease until shutdown, named for the report.
async fn leased<F, Fut>(
    worker: &'static str,
    store: steward_store_core::Store,
    lease: String,
    options: LeaseOptions,
    shutdown: CancellationToken,
    work: F,
) -> (&'static str, anyhow::Result<()>)
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), steward_host::HostError>>,
{
    let ran = hold_lease_and_run(store, lease, options, shutdown, work).await;
    (worker, ran.map_err(anyhow::Error::from))
}

/// Ctrl-C or SIGTERM, listened for from when it is made.
struct StopSignal {
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignal {
    fn listen() -> Self {
        Self {
            #[cfg(unix)]
            terminate: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .ok(),
        }
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        if let Some(terminate) = self.terminate.as_mut() {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The actuator with the integrations the configuration names: MQTT when
/// `mqtt_url` is set (`broker`), CalDAV when `caldav_url` is (signing in
/// with the vault's `caldav` entry), mail when `mail_smtp_url` is (the
/// vault's `smtp` entry) and HTTP when `http_allowed_origins` names any
/// (with the vault's `http` entry, for its endpoint's origin).
async fn actuator(
    config: &Config,
    host: &Host,
    opened: &Opened,
    broker: Option<MqttConfig>,
) -> Result<ActuatorWorker, Failure> {
    let mut actuator = ActuatorWorker::new(
        host.clone(),
        opened.store.clone(),
        ActuatorOptions::default(),
    );
    if let Some(broker) = broker {
        actuator = actuator.with(Arc::new(MqttIntegration::new(broker)));
    }
    if let Some(url) = &config.caldav_url {
        let mut caldav = CalDavConfig::from_url(url)
            .map_err(|e| Failure::Input(format!("configuration `caldav_url`: {e}")))?;
        let vault = CredentialVault::new(opened.store.clone());
        caldav.credentials = vault_credentials(&vault, "caldav").await?;
        let caldav = CalDavIntegration::new(caldav)
            .map_err(|e| Failure::Other(anyhow::anyhow!("the CalDAV integration: {e}")))?;
        actuator = actuator.with(Arc::new(caldav));
    }
    if let Some(url) = &config.mail_smtp_url {
        let address = mail_address(config, "mail_smtp_url")?;
        let mut smtp = SmtpConfig::from_url(url, address)
            .map_err(|e| Failure::Input(format!("configuration `mail_smtp_url`: {e}")))?;
        let vault = CredentialVault::new(opened.store.clone());
        smtp.credentials = vault_credentials(&vault, "smtp").await?;
        let smtp = SmtpIntegration::new(smtp)
            .map_err(|e| Failure::Other(anyhow::anyhow!("the SMTP integration: {e}")))?;
        actuator = actuator.with(Arc::new(smtp));
    }
    if !config.http_allowed_origins.is_empty() {
        let mut http = HttpConfig::allowing(&config.http_allowed_origins)
            .map_err(|e| Failure::Input(format!("configuration `http_allowed_origins`: {e}")))?;
        let vault = CredentialVault::new(opened.store.clone());
        if let Some(secret) = vault_secret(&vault, "http").await? {
            let credentials = match (secret.token.clone(), secret.username.clone()) {
                (Some(token), _) => Some(HttpCredentials::Bearer(token)),
                (None, Some(user)) => Some(HttpCredentials::Basic(
                    user,
                    secret.password.clone().unwrap_or_default(),
                )),
                (None, None) => None,
            };
            if let Some(credentials) = credentials {
                http = http
                    .signing_in_at(&secret.endpoint, credentials)
                    .map_err(|e| {
                        Failure::Other(anyhow::anyhow!("the vault's `http` endpoint: {e}"))
                    })?;
            }
        }
        let http = HttpIntegration::new(http)
            .map_err(|e| Failure::Other(anyhow::anyhow!("the HTTP integration: {e}")))?;
        actuator = actuator.with(Arc::new(http));
    }
    Ok(actuator)
}

/// `mail_address`, which `key` needs.
fn mail_address<'a>(config: &'a Config, key: &str) -> Result<&'a str, Failure> {
    config.mail_address.as_deref().ok_or_else(|| {
        Failure::Input(format!(
            "configuration `{key}` needs `mail_address`: the account whose mail it is"
        ))
    })
}

/// The IMAP folder `mail_imap_url` names, read for `mail_address` with the
/// vault's `imap` credentials; `None` when no folder is configured.
async fn mail_folder(config: &Config, opened: &Opened) -> Result<Option<ImapConfig>, Failure> {
    let Some(url) = &config.mail_imap_url else {
        return Ok(None);
    };
    let address = mail_address(config, "mail_imap_url")?;
    let mut imap = ImapConfig::from_url(url, address)
        .map_err(|e| Failure::Input(format!("configuration `mail_imap_url`: {e}")))?;
    imap.poll_interval = Duration::from_secs(config.mail_poll_seconds.max(1));
    let vault = CredentialVault::new(opened.store.clone());
    imap.credentials = vault_credentials(&vault, "imap").await?;
    if imap.credentials.is_none() {
        tracing::warn!(
            "mail_imap_url is set but the credential vault has no `imap` entry with a user name: \
             the mail cannot be read until it has one"
        );
    }
    Ok(Some(imap))
}

/// The remote model `llm_url` names, with the vault's `llm` key if it
/// holds one.
async fn remote_model(config: &Config, opened: &Opened) -> Result<Option<RemoteModel>, Failure> {
    let Some(url) = &config.llm_url else {
        return Ok(None);
    };
    let model = config.llm_model.clone().ok_or_else(|| {
        Failure::Input("configuration `llm_model`: name the model to ask at `llm_url`".to_owned())
    })?;
    let vault = CredentialVault::new(opened.store.clone());
    let api_key = vault_secret(&vault, "llm")
        .await?
        .and_then(|secret| secret.token.clone().or_else(|| secret.password.clone()));
    let remote = RemoteModel::new(RemoteConfig {
        endpoint: url.clone(),
        model,
        api_key,
        timeout: steward_planner::remote::DEFAULT_TIMEOUT,
    })
    .map_err(|e| Failure::Input(format!("configuration `llm_url`: {e}")))?;
    tracing::info!(
        endpoint = remote.endpoint(),
        "the planner may consult a remote model for ordinary requests"
    );
    Ok(Some(remote))
}

/// The MQTT broker `mqtt_url` names, signing in with the vault's `mqtt`
/// credentials if it holds them.
async fn mqtt_broker(config: &Config, opened: &Opened) -> Result<Option<MqttConfig>, Failure> {
    let Some(url) = &config.mqtt_url else {
        return Ok(None);
    };
    let mut mqtt = MqttConfig::from_url(url)
        .map_err(|e| Failure::Input(format!("configuration `mqtt_url`: {e}")))?;
    let vault = CredentialVault::new(opened.store.clone());
    mqtt.credentials = vault_credentials(&vault, "mqtt").await?;
    Ok(Some(mqtt))
}

/// The vault's entry `name`, opened, if it holds one.
async fn vault_secret(
    vault: &CredentialVault,
    name: &str,
) -> Result<Option<steward_http::probe::Secret>, Failure> {
    let Some(sealed) = vault.open(name).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&sealed)
        .map(Some)
        .map_err(|e| Failure::Other(anyhow::anyhow!("the vault's `{name}` entry: {e}")))
}

/// The user name and password in the vault's entry `name`, if it holds one
/// with a user name (a token stands in for a missing password).
async fn vault_credentials(
    vault: &CredentialVault,
    name: &str,
) -> Result<Option<(String, String)>, Failure> {
    let Some(secret) = vault_secret(vault, name).await? else {
        return Ok(None);
    };
    Ok(secret.username.clone().map(|username| {
        let password = secret
            .password
            .clone()
            .or_else(|| secret.token.clone())
            .unwrap_or_default();
        (username, password)
    }))
}
