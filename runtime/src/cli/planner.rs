//! `steward planner shadow`: the planner as it is now (its models, the
//! household's devices) replayed over the requests it planned before, and
//! what it would do differently. Nothing is written and nothing is sent out.

use std::sync::Arc;

use clap::Subcommand;
use steward_events::{EventStore, Position};
use steward_planner::shadow::{PastPlan, Replayed, Verdict};
use steward_planner::{Planner, PlannerSettings, Recognizer};
use steward_projections::Projection as _;
use steward_projections::ProjectionError;
use steward_projections::read_models::home::Home;

use super::Failure;
use crate::config::Config;
use crate::open::Opened;
use crate::read_models::{load_embedder, open_read_models};

/// How many events are read at a time.
const PAGE: usize = 1_000;

/// What to do with the planner.
#[derive(Debug, Subcommand)]
pub enum PlannerCommand {
    /// Plan every past request again with the planner as it is now, at the
    /// moment it was made, and report what would differ. Read only.
    Shadow {
        /// Only plans proposed after this global position (`42`, or `42:40`
        /// on KurrentDB).
        #[arg(long)]
        after: Option<String>,
        /// Only plans proposed at or before this position.
        #[arg(long)]
        until: Option<String>,
        /// One JSON object per plan instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `steward planner` command.
pub(super) async fn run(
    command: PlannerCommand,
    config: &Config,
    opened: Opened,
) -> Result<(), Failure> {
    let PlannerCommand::Shadow { after, until, json } = command;
    let position = |name: &str, value: Option<String>| {
        value
            .map(|p| {
                p.parse::<Position>()
                    .map_err(|e| Failure::Input(format!("--{name}: {e}")))
            })
            .transpose()
    };
    let after = position("after", after)?.unwrap_or(Position::ORIGIN);
    let until = position("until", until)?;

    let embedder = load_embedder(config)
        .map_err(|e| Failure::Input(e.to_string()))?
        .ok_or_else(|| {
            Failure::Input(
                "the planner needs the embedding model: configure it (see README, Intent recognition)"
                    .to_owned(),
            )
        })?;
    let recognizer = Recognizer::load(embedder)
        .map_err(|e| Failure::Input(format!("the planner's models: {e}")))?;
    let read_models = open_read_models(config)
        .await
        .map_err(|e| Failure::Other(e.into()))?;
    let time_zone = config.time_zone.parse().map_err(|_| {
        Failure::Input(format!("configuration `time_zone`: `{}`", config.time_zone))
    })?;
    let host = super::serve::start_host(config, &opened, 1, &prometheus::Registry::new())?;
    let planner = Planner::new(
        Arc::new(recognizer),
        host,
        read_models,
        PlannerSettings {
            time_zone,
            mqtt_base_topic: config.mqtt_base_topic.clone(),
            caldav: config.caldav_url.is_some(),
            ..PlannerSettings::default()
        },
    );

    let past = past_plans(&opened, after, until).await?;
    let mut replayed = Vec::with_capacity(past.len());
    for plan in &past {
        replayed.push(planner.replay(plan).await.map_err(|e| match e {
            steward_planner::PlannerError::ReadModel(ProjectionError::NotBuilt { .. }) => {
                Failure::Input(format!(
                    "the {} read model is not built yet: run `steward projections run {}`",
                    Home.name(),
                    Home.name()
                ))
            }
            other => Failure::Other(other.into()),
        })?);
    }
    if json {
        for row in &replayed {
            let line = serde_json::to_string(row).map_err(|e| Failure::Other(e.into()))?;
            println!("{line}");
        }
    } else {
        print_report(&replayed);
    }
    Ok(())
}

/// Every plan proposed for a request in the range, oldest first.
async fn past_plans(
    opened: &Opened,
    after: Position,
    until: Option<Position>,
) -> Result<Vec<PastPlan>, Failure> {
    let mut plans = Vec::new();
    let mut from = after;
    loop {
        let page = opened
            .store
            .read_all(from, PAGE)
            .await
            .map_err(|e| Failure::Other(e.into()))?;
        let Some(last) = page.last() else {
            return Ok(plans);
        };
        from = last.global_position;
        for event in &page {
            if until.is_some_and(|until| event.global_position > until) {
                return Ok(plans);
            }
            plans.extend(PastPlan::from_event(event));
        }
    }
}

fn print_report(replayed: &[Replayed]) {
    println!(
        "{:<24} {:<13} {:<34} REQUEST",
        "PLAN", "VERDICT", "THEN -> NOW"
    );
    for row in replayed {
        let now = match &row.now {
            steward_planner::Decision::Plan(draft) => draft.intent.label().to_owned(),
            steward_planner::Decision::Ask(question) => format!("ask: {}", question.question),
            steward_planner::Decision::Answer(lookup) => format!("answer: {}", lookup.path),
            steward_planner::Decision::Decline(declined) => format!("decline: {}", declined.reason),
        };
        let request: String = row.then.request.chars().take(60).collect();
        println!(
            "{:<24} {:<13} {:<34} {request}",
            row.then.plan_id,
            row.verdict.as_str(),
            format!("{} -> {now}", row.then.intent)
        );
    }
    let count = |verdict: Verdict| replayed.iter().filter(|r| r.verdict == verdict).count();
    println!(
        "{} plans replayed: {} the same, {} other steps, {} another intent, {} would ask, {} would answer, {} would decline; nothing was written",
        replayed.len(),
        count(Verdict::Same),
        count(Verdict::OtherSteps),
        count(Verdict::OtherIntent),
        count(Verdict::NowAsks),
        count(Verdict::NowAnswers),
        count(Verdict::NowDeclines),
    );
}
