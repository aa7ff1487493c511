//! [`Host`]: routes command envelopes to aggregate actors by stream category.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::{Arbiter, ArbiterHandle, System};
use serde::Serialize;
use serde_json::Value;
use steward_actors::catalog::{self, Visitor};
use steward_actors::{Aggregate, CommandEnvelope, CommandError};
use steward_events::{EventStore, Personal, Position, StreamId, SubjectId};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::actor::{Placement, Registry, Route};
use crate::clock::{Clock, SystemClock};
use crate::error::HostError;
use crate::execute::Shared;
use crate::metrics::HostMetrics;
use crate::snapshots::{SnapshotPolicy, SnapshotStore};

/// How the host runs its actors.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The person Steward serves: a subject of every personal part.
    pub owner: SubjectId,
    /// An actor idle this long is stopped (its state is rebuilt on its next
    /// command).
    pub idle_timeout: Duration,
    /// Commands an actor's mailbox holds before senders wait.
    pub mailbox_capacity: usize,
    /// How long a sender waits for room and an answer before giving up.
    pub send_timeout: Duration,
    /// How often a decision is retried after another writer got in first.
    pub conflict_retries: u32,
    /// Threads (actix arbiters) the actors are spread over.
    pub arbiters: usize,
}

impl Default for HostOptions {
    fn default() -> Self {
        Self {
            owner: SubjectId::parse("owner").unwrap_or_else(|_| unreachable!("a valid id")),
            idle_timeout: Duration::from_secs(300),
            mailbox_capacity: 64,
            send_timeout: Duration::from_secs(30),
            conflict_retries: 5,
            arbiters: std::thread::available_parallelism().map_or(2, |n| n.get().min(8)),
        }
    }
}

/// What a command led to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The aggregate's stream.
    pub stream_id: StreamId,
    /// The command's id.
    pub command_id: String,
    /// The correlation id its events carry.
    pub correlation_id: Uuid,
    /// True when the command had been handled before: these are the events
    /// it produced then, and nothing new was appended.
    pub duplicate: bool,
    /// The stream's version after the command (`None`: still no stream).
    pub version: Option<u64>,
    /// The global positions of the first and last event, if any.
    pub positions: Option<(Position, Position)>,
    /// The events, in stream order; empty when the command changed nothing.
    pub events: Vec<OutcomeEvent>,
}

/// One event a command produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeEvent {
    /// Its id.
    pub event_id: Uuid,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its type.
    pub event_type: String,
    /// The version of its shape.
    pub schema_version: u16,
    /// Its data.
    pub data: Value,
    /// Its personal part, plain (or erased, for an old command's events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal: Option<Personal>,
}

/// Builds a [`Host`]: the aggregates it routes to and what it runs on.
pub struct HostBuilder {
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    options: HostOptions,
    registry: prometheus::Registry,
    snapshots: Option<SnapshotPolicy>,
    routes: Vec<MakeRoute>,
}

/// Makes the route of one aggregate kind once the host's parts exist.
type MakeRoute = Box<dyn FnOnce(&Arc<Shared>, &Placement) -> (&'static str, Box<dyn Route>)>;

impl HostBuilder {
    /// Sets the options.
    pub fn options(mut self, options: HostOptions) -> Self {
        self.options = options;
        self
    }

    /// Decides with `clock` instead of the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Keeps a snapshot of an actor's state every `every` events (0: never)
    /// in `snapshots`, and starts actors from their newest snapshot.
    pub fn snapshots(mut self, snapshots: Arc<dyn SnapshotStore>, every: u64) -> Self {
        self.snapshots = Some(SnapshotPolicy {
            store: snapshots,
            every,
        });
        self
    }

    /// Registers the host's metrics in `registry`.
    pub fn metrics_registry(mut self, registry: prometheus::Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Routes commands for `A::CATEGORY` streams to `A`'s actors.
    pub fn aggregate<A: Aggregate>(mut self) -> Self {
        self.add_route::<A>();
        self
    }

    fn add_route<A: Aggregate>(&mut self) {
        self.routes.push(Box::new(|shared, placement| {
            let registry = Registry::<A>::new(Arc::clone(shared), placement.clone());
            (A::CATEGORY, Box::new(registry) as Box<dyn Route>)
        }));
    }

    /// Routes every aggregate of Steward's domains.
    pub fn steward_domains(mut self) -> Self {
        struct Register<'a>(&'a mut HostBuilder);
        impl Visitor for Register<'_> {
            fn visit<A: Aggregate>(&mut self) {
                self.0.add_route::<A>();
            }
        }
        catalog::visit_all(&mut Register(&mut self));
        self
    }

    /// Starts the actor system (on threads of its own) and the host. Must
    /// be called on the tokio runtime the store's I/O is to run on.
    pub fn start(self) -> Result<Host, HostError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|error| HostError::Startup(error.to_string()))?;
        let metrics = HostMetrics::new(&self.registry)
            .map_err(|error| HostError::Startup(error.to_string()))?;
        let shared = Arc::new(Shared {
            store: self.store,
            clock: self.clock,
            owner: self.options.owner.clone(),
            conflict_retries: self.options.conflict_retries,
            metrics,
            runtime,
            snapshots: self.snapshots,
        });
        let system = ActorSystem::start(self.options.arbiters.max(1))?;
        let placement = Placement {
            arbiters: system.arbiters.clone(),
            mailbox_capacity: self.options.mailbox_capacity.max(1),
            idle_timeout: self.options.idle_timeout,
            send_timeout: self.options.send_timeout,
        };
        let routes = self
            .routes
            .into_iter()
            .map(|route| route(&shared, &placement))
            .collect();
        Ok(Host {
            inner: Arc::new(Inner {
                routes,
                shared,
                _system: system,
            }),
        })
    }
}

/// Routes command envelopes to the actors of their aggregates. Cheap to
/// clone; the actors stop when the last clone is dropped.
#[derive(Clone)]
pub struct Host {
    inner: Arc<Inner>,
}

struct Inner {
    routes: HashMap<&'static str, Box<dyn Route>>,
    shared: Arc<Shared>,
    _system: ActorSystem,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut categories: Vec<_> = self.inner.routes.keys().collect();
        categories.sort();
        f.debug_struct("Host")
            .field("categories", &categories)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A builder over `store`, with no aggregates yet.
    pub fn builder(store: Arc<dyn EventStore>) -> HostBuilder {
        HostBuilder {
            store,
            clock: Arc::new(SystemClock),
            options: HostOptions::default(),
            registry: prometheus::Registry::new(),
            snapshots: None,
            routes: Vec::new(),
        }
    }

    /// Handles one command: the events it produced, or why none were.
    pub async fn execute(&self, envelope: CommandEnvelope) -> Result<Outcome, HostError> {
        envelope.validate()?;
        let category = envelope.stream_id.category().to_owned();
        let Some(route) = self.inner.routes.get(category.as_str()) else {
            let mut known: Vec<&str> = self.inner.routes.keys().copied().collect();
            known.sort_unstable();
            return Err(CommandError::UnknownCategory {
                category,
                known: known.join(", "),
            }
            .into());
        };
        let correlation_id = envelope.correlation_id.unwrap_or_else(Uuid::now_v7);
        let span = tracing::info_span!(
            "command",
            stream = %envelope.stream_id,
            command_type = %envelope.command_type,
            command_id = %envelope.command_id,
            %correlation_id,
            causation_id = envelope.causation_id.map(tracing::field::display),
            actor = %envelope.actor,
        );
        let answer = route
            .send(envelope, correlation_id, span.clone())
            .instrument(span)
            .await;
        let outcome = match &answer {
            Ok(outcome) if outcome.duplicate => "duplicate",
            Ok(outcome) if outcome.events.is_empty() => "unchanged",
            Ok(_) => "appended",
            Err(HostError::Rejected(_)) => "rejected",
            Err(HostError::Conflict { .. }) => "conflict",
            Err(HostError::Command(_) | HostError::CommandIdReused { .. }) => "invalid",
            Err(_) => "failed",
        };
        self.inner
            .shared
            .metrics
            .commands
            .with_label_values(&[category.as_str(), outcome])
            .inc();
        answer
    }

    /// The state of the aggregate in `stream` as the log holds it now, read
    /// apart from any actor (from the newest snapshot when `use_snapshot`).
    pub async fn load<A: Aggregate>(
        &self,
        stream: &StreamId,
        use_snapshot: bool,
    ) -> Result<(A, Option<u64>), HostError> {
        let shared = &self.inner.shared;
        let loaded = if use_snapshot {
            crate::execute::rehydrate::<A>(shared, stream).await?
        } else {
            crate::execute::replay::<A>(shared, stream).await?
        };
        Ok((loaded.state, loaded.version))
    }

    /// Aggregate actors in memory now.
    pub fn actors_alive(&self) -> usize {
        self.inner.routes.values().map(|route| route.alive()).sum()
    }

    /// The clock decisions are made by.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.shared.clock
    }

    /// The host's metrics.
    pub fn metrics(&self) -> &HostMetrics {
        &self.inner.shared.metrics
    }
}

/// An actix system on a thread of its own, with arbiters for the actors;
/// stopped when dropped.
struct ActorSystem {
    system: System,
    arbiters: Vec<ArbiterHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ActorSystem {
    fn start(arbiters: usize) -> Result<Self, HostError> {
        let (ready, started) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("steward-actors".into())
            .spawn(move || {
                let runner = System::new();
                let handles = runner.block_on(async {
                    (0..arbiters)
                        .map(|_| Arbiter::new().handle())
                        .collect::<Vec<_>>()
                });
                let _ = ready.send((System::current(), handles));
                if let Err(error) = runner.run() {
                    tracing::error!(%error, "the actor system stopped with an error");
                }
            })
            .map_err(|error| HostError::Startup(error.to_string()))?;
        let (system, arbiters) = started
            .recv()
            .map_err(|error| HostError::Startup(error.to_string()))?;
        Ok(Self {
            system,
            arbiters,
            thread: Some(thread),
        })
    }
}

impl Drop for ActorSystem {
    fn drop(&mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        self.system.stop();
        // Waiting for the actors' thread would block an async caller's
        // thread; stopped, it ends on its own.
        if tokio::runtime::Handle::try_current().is_err()
            && let Some(thread) = self.thread.take()
        {
            let _ = thread.join();
        }
    }
}
