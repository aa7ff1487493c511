//! Plans: one row per plan the planner proposed, with where it stands, who
//! answered it and how far its steps got; and the approvals queue, the
//! plans waiting for a person.
//!
//! A plan is, as of the instant a reader asks about (`now`):
//! - **proposed** when shown only (`suggest`);
//! - **awaiting approval** under `ask` until one of its approvers answers
//!   or its `expires_at` comes; from that instant it reads as **expired**,
//!   even before the timer's `PlanApprovalExpired` is recorded, since the
//!   plan would refuse an answer then;
//! - **approved** (by a user, or by the policy under `act`), then
//!   **running** once its first step is issued, then **completed** or
//!   **failed**; or **rejected**.
//!
//! The request, the rationale, the steps (kept as each step's summary,
//! target and executor, never its data), a rejection's reason and a
//! step's error are personal: each is stored only while readable, and
//! dropped when a subject of the event that wrote it is erased. What the
//! plan needs to be followed (intent, step count, progress) stays.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use steward_events::RecordedEvent;
use steward_events::domain::plans::{
    Approver, Autonomy, PlanEvent, PlanStep, PlanTrigger, StepExecutor,
};

use crate::db::{Dialect, ReadDb};
use crate::error::{ApplyError, ProjectionError};
use crate::projection::{ApplyContext, Projection};
use crate::read_models::sql::{
    Bind, Conditions, decode_set, erased_subject, forget_subject, from_json, from_name, instant,
    instant_opt, json_text, millis, name_of, personal, remember_subjects, rows_of_subject,
    subjects_table,
};
use crate::tables::Tables;

/// The plans projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plans;

const PLANS: &str = "plans";
const SUBJECTS: &str = "plans_subjects";

/// The request, rationale and steps, written by the proposal.
const PART_PROPOSAL: &str = "proposal";
/// A rejection's reason.
const PART_REJECTION: &str = "rejection";
/// A failed step's error.
const PART_FAILURE: &str = "failure";

#[async_trait]
impl Projection for Plans {
    fn name(&self) -> &'static str {
        "plans"
    }

    fn version(&self) -> u32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        &[PLANS, SUBJECTS]
    }

    fn create(&self, _dialect: Dialect, tables: &Tables) -> Vec<String> {
        let plans = tables.name(PLANS);
        let mut statements = vec![
            format!(
                "CREATE TABLE {plans} (
                    plan_key TEXT PRIMARY KEY,
                    plan_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    intent TEXT NOT NULL,
                    domain TEXT NOT NULL,
                    confidence DOUBLE PRECISION NOT NULL,
                    request TEXT,
                    plan_trigger TEXT,
                    rationale TEXT,
                    step_count BIGINT NOT NULL,
                    steps TEXT,
                    autonomy TEXT NOT NULL,
                    approvers TEXT NOT NULL,
                    expires_at_ms BIGINT,
                    policy_reason TEXT,
                    approved_by TEXT,
                    approved_at_ms BIGINT,
                    rejected_by TEXT,
                    rejected_at_ms BIGINT,
                    reason TEXT,
                    expired_at_ms BIGINT,
                    steps_issued BIGINT NOT NULL,
                    steps_succeeded BIGINT NOT NULL,
                    failed_step BIGINT,
                    step_error TEXT,
                    simulated BIGINT NOT NULL,
                    proposed_at_ms BIGINT NOT NULL,
                    updated_at_ms BIGINT NOT NULL,
                    correlation_id TEXT NOT NULL
                )"
            ),
            format!(
                "CREATE INDEX {} ON {plans} (status, proposed_at_ms)",
                tables.name(&format!("{PLANS}_status"))
            ),
            format!(
                "CREATE INDEX {} ON {plans} (proposed_at_ms)",
                tables.name(&format!("{PLANS}_proposed"))
            ),
        ];
        statements.extend(subjects_table(tables, SUBJECTS));
        statements
    }

    async fn apply(
        &self,
        connection: &mut AnyConnection,
        cx: ApplyContext<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ApplyError> {
        if let Some(subject) = erased_subject(event)? {
            return forget(connection, cx.tables, &subject).await;
        }
        let Some(plan_event) = decode_set::<PlanEvent>(event)? else {
            return Ok(());
        };
        let plans = cx.tables.name(PLANS);
        let subjects = cx.tables.name(SUBJECTS);
        let key = event.stream_id.as_str();
        let updated = millis(event.recorded_at);
        match plan_event {
            PlanEvent::Proposed(e) => {
                let status = match e.approval.autonomy {
                    Autonomy::Suggest => PlanStatus::Proposed,
                    // `act` is approved by the next event of the same decision.
                    Autonomy::Ask | Autonomy::Act => PlanStatus::AwaitingApproval,
                };
                let steps: Vec<StepSummary> = e.steps.iter().map(StepSummary::of).collect();
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {plans} (plan_key, plan_id, status, intent, domain, confidence,
                        request, plan_trigger, rationale, step_count, steps, autonomy, approvers,
                        expires_at_ms, policy_reason, steps_issued, steps_succeeded, simulated,
                        proposed_at_ms, updated_at_ms, correlation_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                        0, 0, 0, $16, $17, $18)
                     ON CONFLICT (plan_key) DO UPDATE SET status = excluded.status,
                        intent = excluded.intent, domain = excluded.domain,
                        confidence = excluded.confidence, request = excluded.request,
                        plan_trigger = excluded.plan_trigger, rationale = excluded.rationale,
                        step_count = excluded.step_count, steps = excluded.steps,
                        autonomy = excluded.autonomy, approvers = excluded.approvers,
                        expires_at_ms = excluded.expires_at_ms,
                        policy_reason = excluded.policy_reason,
                        proposed_at_ms = excluded.proposed_at_ms,
                        updated_at_ms = excluded.updated_at_ms,
                        correlation_id = excluded.correlation_id"
                )))
                .bind(key)
                .bind(event.stream_id.id())
                .bind(name_of(&status)?)
                .bind(&e.intent)
                .bind(domain_of(&e.intent))
                .bind(e.confidence)
                .bind(personal(event, e.request.clone()).flatten())
                .bind(e.trigger.as_ref().map(json_text).transpose()?)
                .bind(personal(event, e.rationale.clone()).filter(|r| !r.is_empty()))
                .bind(i64::from(e.step_count))
                .bind(personal(event, json_text(&steps)?))
                .bind(name_of(&e.approval.autonomy)?)
                .bind(json_text(&e.approval.approvers)?)
                .bind(e.approval.expires_at.map(millis))
                .bind(e.approval.reason.clone())
                .bind(millis(e.proposed_at))
                .bind(updated)
                .bind(event.metadata.correlation_id.to_string())
                .execute(&mut *connection)
                .await?;
                remember_subjects(connection, &subjects, PART_PROPOSAL, key, event).await?;
            }
            PlanEvent::Approved(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {plans} SET status = $2, approved_by = $3, approved_at_ms = $4,
                        updated_at_ms = $5
                     WHERE plan_key = $1"
                )))
                .bind(key)
                .bind(name_of(&PlanStatus::Approved)?)
                .bind(json_text(&e.approver)?)
                .bind(millis(e.approved_at))
                .bind(updated)
                .execute(&mut *connection)
                .await?;
            }
            PlanEvent::Rejected(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {plans} SET status = $2, rejected_by = $3, rejected_at_ms = $4,
                        reason = $5, updated_at_ms = $6
                     WHERE plan_key = $1"
                )))
                .bind(key)
                .bind(name_of(&PlanStatus::Rejected)?)
                .bind(&e.user_id)
                .bind(millis(e.rejected_at))
                .bind(personal(event, e.reason.clone()).flatten())
                .bind(updated)
                .execute(&mut *connection)
                .await?;
                remember_subjects(connection, &subjects, PART_REJECTION, key, event).await?;
            }
            PlanEvent::ApprovalExpired(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {plans} SET status = $2, expired_at_ms = $3, updated_at_ms = $4
                     WHERE plan_key = $1"
                )))
                .bind(key)
                .bind(name_of(&PlanStatus::Expired)?)
                .bind(millis(e.expired_at))
                .bind(updated)
                .execute(&mut *connection)
                .await?;
            }
            PlanEvent::StepIssued(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {plans} SET
                        steps_issued = CASE WHEN steps_issued < $2 THEN $2 ELSE steps_issued END,
                        status = CASE WHEN status = $3 THEN $4 ELSE status END,
                        updated_at_ms = $5
                     WHERE plan_key = $1"
                )))
                .bind(key)
                .bind(i64::from(e.step) + 1)
                .bind(name_of(&PlanStatus::Approved)?)
                .bind(name_of(&PlanStatus::Running)?)
                .bind(updated)
                .execute(&mut *connection)
                .await?;
            }
            PlanEvent::StepSucceeded(e) => {
                let simulated = if e.simulated { ", simulated = 1" } else { "" };
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {plans} SET
                        steps_succeeded = CASE WHEN steps_succeeded < $2 THEN $2
                            ELSE steps_succeeded END,
                        updated_at_ms = $3{simulated}
                     WHERE plan_key = $1"
                )))
                .bind(key)
                .bind(i64::from(e.step) + 1)
                .bind(updated)
                .execute(&mut *connection)
                .await?;
            }
            PlanEvent::StepFailed(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {plans} SET failed_step = $2, step_error = $3, updated_at_ms = $4
                     WHERE plan_key = $1"
                )))
                .bind(key)
                .bind(i64::from(e.step))
                .bind(personal(event, e.error.clone()).filter(|error| !error.is_empty()))
                .bind(updated)
                .execute(&mut *connection)
                .await?;
                remember_subjects(connection, &subjects, PART_FAILURE, key, event).await?;
            }
            PlanEvent::Completed(e) => {
                let simulated = if e.simulated { ", simulated = 1" } else { "" };
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {plans} SET status = $2, updated_at_ms = $3{simulated}
                     WHERE plan_key = $1"
                )))
                .bind(key)
                .bind(name_of(&PlanStatus::Completed)?)
                .bind(updated)
                .execute(&mut *connection)
                .await?;
            }
            PlanEvent::Failed(e) => {
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {plans} SET status = $2, failed_step = $3, updated_at_ms = $4
                     WHERE plan_key = $1"
                )))
                .bind(key)
                .bind(name_of(&PlanStatus::Failed)?)
                .bind(i64::from(e.step))
                .bind(updated)
                .execute(&mut *connection)
                .await?;
            }
        }
        Ok(())
    }
}

/// Drops the personal data of `subject` from every plan.
async fn forget(
    connection: &mut AnyConnection,
    tables: &Tables,
    subject: &str,
) -> Result<(), ApplyError> {
    let plans = tables.name(PLANS);
    let subjects = tables.name(SUBJECTS);
    let of = |part| rows_of_subject(&subjects, part);
    forget_subject(
        connection,
        &subjects,
        subject,
        &[
            format!(
                "UPDATE {plans} SET request = NULL, rationale = NULL, steps = NULL
                 WHERE plan_key {}",
                of(PART_PROPOSAL)
            ),
            format!(
                "UPDATE {plans} SET reason = NULL WHERE plan_key {}",
                of(PART_REJECTION)
            ),
            format!(
                "UPDATE {plans} SET step_error = NULL WHERE plan_key {}",
                of(PART_FAILURE)
            ),
        ],
    )
    .await
}

/// The domain of an intent `<domain>.<action>`: whose members may see the
/// plan.
pub fn domain_of(intent: &str) -> &str {
    intent.split_once('.').map_or(intent, |(domain, _)| domain)
}

// ------------------------------------------------------------------ readers

/// Where a plan stands, as of the instant asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Shown only (`suggest`); a person may still adopt or reject it.
    Proposed,
    /// Waiting for one of its approvers until `expires_at`.
    AwaitingApproval,
    /// Approved; no step issued yet.
    Approved,
    /// A user rejected it.
    Rejected,
    /// Nobody answered in time.
    Expired,
    /// Its steps are being carried out.
    Running,
    /// Every step was carried out.
    Completed,
    /// A step failed.
    Failed,
}

/// One step of a plan as the approval screen shows it: what it does and
/// who does it, never the command's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepSummary {
    /// What it does, in words.
    pub summary: String,
    /// Who carries it out.
    pub executor: StepExecutor,
    /// The stream its command goes to.
    pub stream_id: String,
    /// Its command type.
    pub command_type: String,
}

impl StepSummary {
    fn of(step: &PlanStep) -> Self {
        Self {
            summary: step.summary.clone(),
            executor: step.executor.clone(),
            stream_id: step.stream_id.clone(),
            command_type: step.command_type.clone(),
        }
    }
}

/// One plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanRow {
    /// The plan (`p1` for the stream `plan-p1`).
    pub plan_id: String,
    /// Where it stands as of the instant asked about.
    pub status: PlanStatus,
    /// The recognised intent, `<domain>.<action>`.
    pub intent: String,
    /// The intent's domain.
    pub domain: String,
    /// The classifier's probability for the intent.
    pub confidence: f64,
    /// What the person asked; `None` for an event's plan, or once erased.
    pub request: Option<String>,
    /// The event it answers, for an event's plan.
    pub trigger: Option<PlanTrigger>,
    /// Why these steps; `None` if not said, or once erased.
    pub rationale: Option<String>,
    /// How many steps it has (known even once the steps are erased).
    pub step_count: u32,
    /// Its steps, in order; `None` once erased.
    pub steps: Option<Vec<StepSummary>>,
    /// How much it may do alone.
    pub autonomy: Autonomy,
    /// Who may answer it; empty: any owner.
    pub approvers: Vec<String>,
    /// When an unanswered approval lapses.
    pub expires_at: Option<DateTime<Utc>>,
    /// Why the policy asks, if a rule said.
    pub policy_reason: Option<String>,
    /// Who approved it.
    pub approved_by: Option<Approver>,
    /// When.
    pub approved_at: Option<DateTime<Utc>>,
    /// The user who rejected it.
    pub rejected_by: Option<String>,
    /// When.
    pub rejected_at: Option<DateTime<Utc>>,
    /// Why it was rejected, if said and not erased.
    pub reason: Option<String>,
    /// When its approval lapsed, once recorded.
    pub expired_at: Option<DateTime<Utc>>,
    /// How many steps were issued.
    pub steps_issued: u32,
    /// How many steps were carried out.
    pub steps_succeeded: u32,
    /// The step that failed, if one did.
    pub failed_step: Option<u32>,
    /// What went wrong with it; `None` once erased.
    pub step_error: Option<String>,
    /// Some step was only simulated (a dry run).
    pub simulated: bool,
    /// When it was proposed.
    pub proposed_at: DateTime<Utc>,
    /// When the log recorded its last change.
    pub updated_at: DateTime<Utc>,
    /// The correlation id of its proposal: what it led to carries it too.
    pub correlation_id: String,
}

/// Which plans to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanQuery {
    /// Plans in this status, as of the instant asked about.
    pub status: Option<PlanStatus>,
    /// Only plans of these domains; every domain when `None`.
    pub domains: Option<Vec<String>>,
    /// Oldest proposal first (the queue's order) instead of newest first.
    pub oldest_first: bool,
    /// The most plans returned.
    pub limit: usize,
    /// How many matching plans, in order, to skip first.
    pub offset: usize,
}

impl Default for PlanQuery {
    fn default() -> Self {
        Self {
            status: None,
            domains: None,
            oldest_first: false,
            limit: 100,
            offset: 0,
        }
    }
}

impl PlanQuery {
    /// The approvals queue: plans awaiting approval now, oldest first.
    pub fn approvals(domains: Option<Vec<String>>, limit: usize, offset: usize) -> Self {
        Self {
            status: Some(PlanStatus::AwaitingApproval),
            domains,
            oldest_first: true,
            limit,
            offset,
        }
    }
}

const COLUMNS: &str = "plan_id, status, intent, domain, confidence, request, plan_trigger,
    rationale, step_count, steps, autonomy, approvers, expires_at_ms, policy_reason, approved_by,
    approved_at_ms, rejected_by, rejected_at_ms, reason, expired_at_ms, steps_issued,
    steps_succeeded, failed_step, step_error, simulated, proposed_at_ms, updated_at_ms,
    correlation_id";

/// The plans `query` asks for, as of `now`.
pub async fn plans(
    db: &ReadDb,
    tables: &Tables,
    query: &PlanQuery,
    now: DateTime<Utc>,
) -> Result<Vec<PlanRow>, ProjectionError> {
    let now_ms = millis(now);
    let awaiting = name_of(&PlanStatus::AwaitingApproval)?;
    let mut conditions = Conditions::default();
    match query.status {
        None => {}
        Some(PlanStatus::AwaitingApproval) => conditions.add(
            "status = ? AND (expires_at_ms IS NULL OR expires_at_ms > ?)",
            [Bind::Text(awaiting), Bind::Int(now_ms)],
        ),
        Some(PlanStatus::Expired) => conditions.add(
            "(status = ? OR (status = ? AND expires_at_ms <= ?))",
            [
                Bind::Text(name_of(&PlanStatus::Expired)?),
                Bind::Text(awaiting),
                Bind::Int(now_ms),
            ],
        ),
        Some(status) => conditions.add("status = ?", [Bind::Text(name_of(&status)?)]),
    }
    if let Some(domains) = &query.domains {
        conditions.add_in("domain", domains);
    }
    let order = if query.oldest_first {
        "proposed_at_ms, plan_key"
    } else {
        "proposed_at_ms DESC, plan_key DESC"
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM {} {} ORDER BY {order} LIMIT {} OFFSET {}",
        tables.name(PLANS),
        conditions.where_clause(),
        query.limit,
        query.offset
    );
    conditions
        .query(sql)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|row| plan_of(row, now))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(ProjectionError::from)
}

/// One plan as of `now`, if it was proposed.
pub async fn plan(
    db: &ReadDb,
    tables: &Tables,
    plan_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<PlanRow>, ProjectionError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {} WHERE plan_id = $1",
        tables.name(PLANS)
    )))
    .bind(plan_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|row| plan_of(&row, now)).transpose()?)
}

fn plan_of(row: &AnyRow, now: DateTime<Utc>) -> Result<PlanRow, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let expires_at = instant_opt(row.try_get("expires_at_ms")?);
    let status = match from_name(&status)? {
        PlanStatus::AwaitingApproval if expires_at.is_some_and(|at| at <= now) => {
            PlanStatus::Expired
        }
        status => status,
    };
    let count = |column: &str| -> Result<u32, sqlx::Error> {
        Ok(u32::try_from(row.try_get::<i64, _>(column)?).unwrap_or(u32::MAX))
    };
    let trigger: Option<String> = row.try_get("plan_trigger")?;
    let steps: Option<String> = row.try_get("steps")?;
    let autonomy: String = row.try_get("autonomy")?;
    let approvers: String = row.try_get("approvers")?;
    let approved_by: Option<String> = row.try_get("approved_by")?;
    let failed_step: Option<i64> = row.try_get("failed_step")?;
    Ok(PlanRow {
        plan_id: row.try_get("plan_id")?,
        status,
        intent: row.try_get("intent")?,
        domain: row.try_get("domain")?,
        confidence: row.try_get("confidence")?,
        request: row.try_get("request")?,
        trigger: trigger.as_deref().map(from_json).transpose()?,
        rationale: row.try_get("rationale")?,
        step_count: count("step_count")?,
        steps: steps.as_deref().map(from_json).transpose()?,
        autonomy: from_name(&autonomy)?,
        approvers: from_json(&approvers)?,
        expires_at,
        policy_reason: row.try_get("policy_reason")?,
        approved_by: approved_by.as_deref().map(from_json).transpose()?,
        approved_at: instant_opt(row.try_get("approved_at_ms")?),
        rejected_by: row.try_get("rejected_by")?,
        rejected_at: instant_opt(row.try_get("rejected_at_ms")?),
        reason: row.try_get("reason")?,
        expired_at: instant_opt(row.try_get("expired_at_ms")?),
        steps_issued: count("steps_issued")?,
        steps_succeeded: count("steps_succeeded")?,
        failed_step: failed_step.map(|step| u32::try_from(step).unwrap_or(u32::MAX)),
        step_error: row.try_get("step_error")?,
        simulated: row.try_get::<i64, _>("simulated")? != 0,
        proposed_at: instant(row.try_get("proposed_at_ms")?),
        updated_at: instant(row.try_get("updated_at_ms")?),
        correlation_id: row.try_get("correlation_id")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intent_names_its_domain() {
        assert_eq!(domain_of("home.set_device"), "home");
        assert_eq!(domain_of("groceries.list_item"), "groceries");
        assert_eq!(domain_of("odd"), "odd");
    }
}
