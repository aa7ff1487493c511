// First run: nobody owns this Steward yet. Creating the owner needs the
// one-time code `steward serve` logged, so nobody else on the network can
// claim the instance first.
import { useMutation } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { Navigate, useNavigate } from "react-router";
import { useApi } from "../api/ApiContext";
import { unwrap } from "../api/client";
import { ErrorMessage } from "../components/ErrorMessage";
import { Field } from "../components/Field";
import { useSessionStarted, useSetupStatus } from "../session";

const MIN_PASSWORD = 10;

export function SetupPage() {
  const api = useApi();
  const navigate = useNavigate();
  const started = useSessionStarted();
  const setup = useSetupStatus();
  const create = useMutation({
    mutationFn: async (body: {
      code: string;
      username: string;
      display_name: string;
      password: string;
    }) => unwrap(await api.client.POST("/api/v1/setup", { body })),
    onSuccess: (session) => {
      started(session);
      navigate("/timeline", { replace: true });
    },
  });

  if (setup.data && !setup.data.needed && !create.isSuccess) {
    return <Navigate to="/login" replace />;
  }

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    create.mutate({
      code: String(form.get("code") ?? "").trim(),
      username: String(form.get("username") ?? "").trim(),
      display_name: String(form.get("display_name") ?? "").trim(),
      password: String(form.get("password") ?? ""),
    });
  };

  return (
    <main className="narrow" id="main">
      <h1>Welcome to Steward</h1>
      <p>
        This Steward has no owner yet. Create yours with the one-time setup code that{" "}
        <code>steward serve</code> printed in its log (“Create it at … with the one-time
        setup code …”).
      </p>
      <form onSubmit={submit} aria-label="Create the owner">
        <Field label="Setup code" name="code" required autoComplete="one-time-code" spellCheck={false} />
        <Field label="Username" name="username" required autoComplete="username" />
        <Field label="Display name" name="display_name" required autoComplete="name" />
        <Field
          label="Password"
          name="password"
          type="password"
          required
          minLength={MIN_PASSWORD}
          autoComplete="new-password"
          hint={`At least ${MIN_PASSWORD} characters.`}
        />
        <ErrorMessage error={create.error} />
        <button type="submit" disabled={create.isPending}>
          {create.isPending ? "Creating…" : "Create the owner"}
        </button>
      </form>
    </main>
  );
}
