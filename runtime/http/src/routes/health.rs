//! `/healthz` (the process answers) and `/readyz` (it can serve: the store
//! answers, the bus is connected when there is one, and every projection
//! has caught up with the log).

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use steward_projections::State;
use utoipa::ToSchema;

use crate::state::ApiState;

/// How long a projection may trail the log and still count as caught up.
const READY_LAG_SECONDS: f64 = 5.0;

/// The process is alive.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// What readiness found.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// Each check: `ok`, or what is wrong.
    pub checks: Vec<Check>,
}

/// One readiness check.
#[derive(Debug, Serialize, ToSchema)]
pub struct Check {
    /// What was checked (`store`, `bus`, `projection:timeline`).
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness: the store answers, the bus is connected (if configured) and
/// every projection has caught up.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready; the checks say why", body = Readiness)))]
#[get("/readyz")]
pub(crate) async fn readyz(state: web::Data<ApiState>) -> HttpResponse {
    let mut checks = Vec::new();
    let store = state.store().head().await;
    checks.push(Check {
        name: "store".to_owned(),
        ok: store.is_ok(),
        detail: match &store {
            Ok(Some(head)) => format!("head at {head}"),
            Ok(None) => "empty".to_owned(),
            Err(error) => {
                tracing::warn!(%error, "readiness: the store does not answer");
                "the store does not answer".to_owned()
            }
        },
    });
    if let Some(connected) = state.bus_connected() {
        checks.push(Check {
            name: "bus".to_owned(),
            ok: connected,
            detail: if connected {
                "connected"
            } else {
                "not connected"
            }
            .to_owned(),
        });
    }
    if store.is_ok() {
        match steward_projections::status(state.read_models(), state.store(), state.projections())
            .await
        {
            Ok(statuses) => checks.extend(statuses.into_iter().map(|status| {
                let caught_up = serves_caught_up(&status);
                Check {
                    name: format!("projection:{}", status.name),
                    ok: caught_up,
                    detail: format!(
                        "{:?}, {} events behind ({:.1} s)",
                        status.state, status.lag_events, status.lag_seconds
                    )
                    .to_lowercase(),
                }
            })),
            Err(error) => {
                tracing::warn!(%error, "readiness: the read models do not answer");
                checks.push(Check {
                    name: "read_models".to_owned(),
                    ok: false,
                    detail: "the read-model database does not answer".to_owned(),
                });
            }
        }
    }
    let ready = checks.iter().all(|check| check.ok);
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        checks,
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Whether a read model answers, and with what the log holds: live (or
/// being rebuilt beside a live generation, which keeps answering) and
/// trailing the log by little. A first generation still being built
/// answers nothing yet.
fn serves_caught_up(status: &steward_projections::ProjectionStatus) -> bool {
    let serving = match status.state {
        State::Live => true,
        State::Rebuilding => status.generation.is_some(),
        _ => false,
    };
    serving && status.lag_seconds <= READY_LAG_SECONDS
}

#[cfg(test)]
mod tests {
    use steward_events::Position;
    use steward_projections::ProjectionStatus;

    use super::*;

    fn status(state: State, generation: Option<i64>, lag_seconds: f64) -> ProjectionStatus {
        ProjectionStatus {
            name: "home".to_owned(),
            code_version: 1,
            state,
            generation,
            position: Position::ORIGIN,
            head: Position::ORIGIN,
            lag_events: 0,
            lag_seconds,
            events_applied: 0,
            failure: None,
            rebuild: None,
        }
    }

    #[test]
    fn a_first_generation_still_building_is_not_ready() {
        assert!(serves_caught_up(&status(State::Live, Some(1), 0.0)));
        assert!(serves_caught_up(&status(State::Rebuilding, Some(1), 0.0)));
        assert!(!serves_caught_up(&status(State::Rebuilding, None, 0.0)));
        assert!(!serves_caught_up(&status(State::NotBuilt, None, 0.0)));
        assert!(!serves_caught_up(&status(
            State::Live,
            Some(1),
            READY_LAG_SECONDS + 1.0
        )));
    }
}
