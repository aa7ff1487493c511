//! The actix actor of one aggregate instance, and the registry that starts
//! it on its first command and forgets it when it has been idle.
//!
//! Messages are handled one at a time to the end (`AtomicResponse`), so the
//! actor's state is only ever touched by one decision. The actor runs under
//! an actix `Supervisor`: when its code panics, the handler answers the
//! caller, stops the actor, and the supervisor restarts it with no state, so
//! the next command rehydrates from the stream.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures::FutureExt as _;
use futures::future::BoxFuture;
use steward_actors::{Aggregate, CommandEnvelope};
use steward_events::StreamId;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::error::HostError;
use crate::execute::{Loaded, Shared, execute};
use crate::host::Outcome;

/// A command on its way to an actor.
pub(crate) struct Execute<A: Aggregate> {
    command: A::Command,
    envelope: CommandEnvelope,
    correlation_id: Uuid,
    span: tracing::Span,
}

impl<A: Aggregate> Message for Execute<A> {
    type Result = Result<Outcome, HostError>;
}

/// How actors of one kind are placed and when they are let go.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    pub(crate) arbiters: Vec<ArbiterHandle>,
    pub(crate) mailbox_capacity: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) send_timeout: Duration,
}

pub(crate) struct AggregateActor<A: Aggregate> {
    stream: StreamId,
    shared: Arc<Shared>,
    registry: Weak<Registry<A>>,
    loaded: Option<Loaded<A>>,
    last_active: Instant,
    mailbox_capacity: usize,
    idle_timeout: Duration,
}

impl<A: Aggregate> Actor for AggregateActor<A> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.mailbox_capacity);
        self.shared
            .metrics
            .actors_alive
            .with_label_values(&[A::CATEGORY])
            .inc();
        let every = (self.idle_timeout / 4).max(Duration::from_millis(10));
        ctx.run_interval(every, |actor, ctx| {
            if actor.last_active.elapsed() < actor.idle_timeout {
                return;
            }
            // Forget this actor first, so that no new command is sent to it;
            // a command already on its way keeps it alive through a restart.
            if let Some(registry) = actor.registry.upgrade() {
                registry.forget(&actor.stream, &ctx.address());
            }
            ctx.stop();
        });
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.shared
            .metrics
            .actors_alive
            .with_label_values(&[A::CATEGORY])
            .dec();
    }
}

impl<A: Aggregate> Supervised for AggregateActor<A> {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.loaded = None;
        self.last_active = Instant::now();
        self.shared
            .metrics
            .restarts
            .with_label_values(&[A::CATEGORY])
            .inc();
    }
}

impl<A: Aggregate> Handler<Execute<A>> for AggregateActor<A> {
    type Result = AtomicResponse<Self, Result<Outcome, HostError>>;

    fn handle(&mut self, message: Execute<A>, _ctx: &mut Self::Context) -> Self::Result {
        let shared = Arc::clone(&self.shared);
        let stream = self.stream.clone();
        let loaded = self.loaded.take();
        let span = message.span.clone();
        let stream_name = self.stream.clone();
        let command_id = message.envelope.command_id.clone();
        let latency = self
            .shared
            .metrics
            .latency
            .with_label_values(&[A::CATEGORY]);
        // The store's I/O runs on the application's runtime, not on the
        // arbiter's: connections opened there must outlive the actor system.
        let runtime = shared.runtime.clone();
        let work = async move {
            let started = Instant::now();
            let task = runtime.spawn(
                async move {
                    execute::<A>(
                        &shared,
                        &stream,
                        loaded,
                        message.command,
                        &message.envelope,
                        message.correlation_id,
                    )
                    .await
                }
                .instrument(span),
            );
            let (loaded, answer) = match task.await {
                Ok(done) => done,
                Err(_) => (
                    None,
                    // The task died outside the aggregate's code (which is
                    // caught where it runs): whether it wrote is unknown.
                    Err(HostError::OutcomeUnknown {
                        stream: stream_name,
                        command_id,
                    }),
                ),
            };
            latency.observe(started.elapsed().as_secs_f64());
            (loaded, answer)
        };
        AtomicResponse::new(Box::pin(work.into_actor(self).map(
            |(loaded, answer), actor, ctx| {
                actor.loaded = loaded;
                actor.last_active = Instant::now();
                if matches!(answer, Err(HostError::Panicked { .. })) {
                    tracing::error!(stream = %actor.stream, "aggregate code panicked; restarting its actor");
                    ctx.stop();
                }
                answer
            },
        )))
    }
}

/// The live actors of one aggregate kind, by stream.
pub(crate) struct Registry<A: Aggregate> {
    shared: Arc<Shared>,
    placement: Placement,
    actors: Mutex<HashMap<StreamId, Addr<AggregateActor<A>>>>,
}

impl<A: Aggregate> Registry<A> {
    pub(crate) fn new(shared: Arc<Shared>, placement: Placement) -> Arc<Self> {
        Arc::new(Self {
            shared,
            placement,
            actors: Mutex::new(HashMap::new()),
        })
    }

    fn actors(&self) -> std::sync::MutexGuard<'_, HashMap<StreamId, Addr<AggregateActor<A>>>> {
        self.actors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The stream's actor, started on an arbiter chosen by the stream's hash
    /// if it is not running.
    fn address(self: &Arc<Self>, stream: &StreamId) -> Addr<AggregateActor<A>> {
        let mut actors = self.actors();
        if let Some(addr) = actors.get(stream).filter(|addr| addr.connected()) {
            return addr.clone();
        }
        let mut hasher = DefaultHasher::new();
        stream.hash(&mut hasher);
        let arbiters = &self.placement.arbiters;
        let arbiter = &arbiters[(hasher.finish() % arbiters.len() as u64) as usize];
        let (shared, registry, stream_id) = (
            Arc::clone(&self.shared),
            Arc::downgrade(self),
            stream.clone(),
        );
        let (capacity, idle) = (self.placement.mailbox_capacity, self.placement.idle_timeout);
        let addr = Supervisor::start_in_arbiter(arbiter, move |_| AggregateActor {
            stream: stream_id,
            shared,
            registry,
            loaded: None,
            last_active: Instant::now(),
            mailbox_capacity: capacity,
            idle_timeout: idle,
        });
        actors.insert(stream.clone(), addr.clone());
        addr
    }

    /// Removes the stream's entry if it is `addr`; true if it was.
    fn forget(&self, stream: &StreamId, addr: &Addr<AggregateActor<A>>) -> bool {
        let mut actors = self.actors();
        if actors.get(stream) == Some(addr) {
            actors.remove(stream);
            true
        } else {
            false
        }
    }

    pub(crate) fn alive(&self) -> usize {
        self.actors()
            .values()
            .filter(|addr| addr.connected())
            .count()
    }

    async fn send(
        self: Arc<Self>,
        envelope: CommandEnvelope,
        correlation_id: Uuid,
        span: tracing::Span,
    ) -> Result<Outcome, HostError> {
        let command = envelope.typed::<A>()?;
        let stream = envelope.stream_id.clone();
        // One retry: the actor may have stopped for idleness between being
        // looked up and receiving the message.
        for _ in 0..2 {
            let addr = self.address(&stream);
            let message = Execute::<A> {
                command: command.clone(),
                envelope: envelope.clone(),
                correlation_id,
                span: span.clone(),
            };
            match tokio::time::timeout(self.placement.send_timeout, addr.send(message)).await {
                Ok(Ok(answer)) => return answer,
                Ok(Err(MailboxError::Closed)) => {
                    self.forget(&stream, &addr);
                }
                // The command may still be waiting in the mailbox or be
                // under way: its fate is unknown, not refused.
                Ok(Err(MailboxError::Timeout)) | Err(_) => {
                    return Err(HostError::OutcomeUnknown {
                        stream,
                        command_id: envelope.command_id.clone(),
                    });
                }
            }
        }
        Err(HostError::Busy { stream })
    }
}

/// A registry with its aggregate type erased, for routing by category.
pub(crate) trait Route: Send + Sync {
    fn send(
        &self,
        envelope: CommandEnvelope,
        correlation_id: Uuid,
        span: tracing::Span,
    ) -> BoxFuture<'static, Result<Outcome, HostError>>;

    fn alive(&self) -> usize;
}

impl<A: Aggregate> Route for Arc<Registry<A>> {
    fn send(
        &self,
        envelope: CommandEnvelope,
        correlation_id: Uuid,
        span: tracing::Span,
    ) -> BoxFuture<'static, Result<Outcome, HostError>> {
        Arc::clone(self)
            .send(envelope, correlation_id, span)
            .boxed()
    }

    fn alive(&self) -> usize {
        Registry::alive(self)
    }
}
