// Plans waiting for an answer, oldest first, with approve and reject.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { Link } from "react-router";
import { useApi } from "../api/ApiContext";
import { unwrap, type PlanView } from "../api/client";
import { ErrorMessage } from "../components/ErrorMessage";

function PlanCard({ plan }: { plan: PlanView }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const reasonId = useId();
  const [reason, setReason] = useState("");
  const answer = useMutation({
    mutationFn: async (verdict: "approve" | "reject") => {
      const path = { plan_id: plan.plan_id };
      return verdict === "approve"
        ? unwrap(await api.client.POST("/api/v1/plans/{plan_id}/approve", { params: { path }, body: {} }))
        : unwrap(
            await api.client.POST("/api/v1/plans/{plan_id}/reject", {
              params: { path },
              body: reason.trim() ? { reason: reason.trim() } : {},
            }),
          );
    },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["approvals"] }),
  });

  return (
    <article className="plan" aria-labelledby={`${reasonId}-title`}>
      <h2 id={`${reasonId}-title`}>{plan.request ?? plan.intent}</h2>
      <p>
        <strong>{plan.intent}</strong> in {plan.domain}, confidence {(plan.confidence * 100).toFixed(0)}%
        {plan.expires_at ? <> · lapses {new Date(plan.expires_at).toLocaleString()}</> : null}
      </p>
      {plan.rationale ? <p>{plan.rationale}</p> : null}
      {plan.steps ? (
        <ol>
          {plan.steps.map((step, index) => (
            <li key={index}>
              {step.summary} <small>({step.command_type} → {step.stream_id})</small>
            </li>
          ))}
        </ol>
      ) : null}
      <p>
        <Link to={`/timeline?correlation_id=${encodeURIComponent(plan.correlation_id)}`}>
          Its events in the timeline
        </Link>
      </p>
      <div className="field">
        <label htmlFor={reasonId}>Reason for rejecting (optional)</label>
        <input id={reasonId} value={reason} onChange={(event) => setReason(event.target.value)} />
      </div>
      <ErrorMessage error={answer.error} />
      <div className="actions">
        <button type="button" disabled={answer.isPending} onClick={() => answer.mutate("approve")}>
          Approve
        </button>
        <button type="button" className="secondary" disabled={answer.isPending} onClick={() => answer.mutate("reject")}>
          Reject
        </button>
      </div>
    </article>
  );
}

export function ApprovalsPage() {
  const api = useApi();
  const queue = useQuery({
    queryKey: ["approvals"],
    queryFn: async ({ signal }) =>
      unwrap(await api.client.GET("/api/v1/approvals", { params: { query: { limit: "100" } }, signal })),
    refetchInterval: 15_000,
  });
  return (
    <main id="main" className="approvals">
      <h1>Approvals</h1>
      {queue.isPending ? <p role="status">Loading the queue…</p> : null}
      {queue.isError ? <ErrorMessage error={queue.error} /> : null}
      {queue.data && queue.data.plans.length === 0 ? <p>Nothing is waiting for your answer.</p> : null}
      {queue.data?.plans.map((plan) => <PlanCard key={plan.plan_id} plan={plan} />)}
    </main>
  );
}
