import { useMutation } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { useApi } from "../api/ApiContext";
import { unwrap } from "../api/client";
import { ErrorMessage } from "../components/ErrorMessage";
import { Field } from "../components/Field";
import { safeNext, useSession, useSessionStarted, useSetupStatus } from "../session";

export function LoginPage() {
  const api = useApi();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const started = useSessionStarted();
  const setup = useSetupStatus();
  const session = useSession();
  const login = useMutation({
    mutationFn: async (body: { username: string; password: string }) =>
      unwrap(await api.client.POST("/api/v1/session", { body })),
    onSuccess: (created) => {
      started(created);
      navigate(next, { replace: true });
    },
  });

  if (setup.data?.needed) {
    return <Navigate to="/setup" replace />;
  }
  if (session.data && !login.isPending) {
    return <Navigate to={next} replace />;
  }

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    login.mutate({
      username: String(form.get("username") ?? "").trim(),
      password: String(form.get("password") ?? ""),
    });
  };

  return (
    <main className="narrow" id="main">
      <h1>Log in to Steward</h1>
      {params.get("next") ? (
        <p role="status">
          Log in to go on to <code>{next}</code>.
        </p>
      ) : null}
      <form onSubmit={submit} aria-label="Log in">
        <Field label="Username" name="username" required autoComplete="username" />
        <Field label="Password" name="password" type="password" required autoComplete="current-password" />
        <ErrorMessage error={login.error} />
        <button type="submit" disabled={login.isPending}>
          {login.isPending ? "Logging in…" : "Log in"}
        </button>
      </form>
    </main>
  );
}
