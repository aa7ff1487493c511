// Who is logged in, and the gate every page but login and setup sits behind.
import { useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useApi } from "./api/ApiContext";
import { unwrap, type SessionView } from "./api/client";

export const SESSION_KEY = ["session"] as const;
export const SETUP_KEY = ["setup"] as const;

/** The current session, `null` when nobody is logged in. */
export function useSession() {
  const api = useApi();
  return useQuery({
    queryKey: SESSION_KEY,
    queryFn: async (): Promise<SessionView | null> => {
      const result = await api.client.GET("/api/v1/session");
      if (result.response.status === 401) {
        api.setCsrfToken(null);
        return null;
      }
      const session = unwrap(result);
      api.setCsrfToken(session.csrf_token ?? null);
      return session;
    },
    staleTime: 60_000,
  });
}

/** Whether the instance still needs its owner (first run). */
export function useSetupStatus() {
  const api = useApi();
  return useQuery({
    queryKey: SETUP_KEY,
    queryFn: async () => unwrap(await api.client.GET("/api/v1/setup")),
    staleTime: Infinity,
  });
}

/** Drops everything read under a session, so that the next user (a member
 * after the owner, say) never sees it, and nothing refused stays cached. */
export function forgetSessionData(queryClient: QueryClient) {
  queryClient.removeQueries({
    predicate: (query) => query.queryKey[0] !== SESSION_KEY[0] && query.queryKey[0] !== SETUP_KEY[0],
  });
}

/** Records a session the server just started (login or setup). */
export function useSessionStarted() {
  const api = useApi();
  const queryClient = useQueryClient();
  return (session: SessionView) => {
    api.setCsrfToken(session.csrf_token ?? null);
    forgetSessionData(queryClient);
    queryClient.setQueryData(SESSION_KEY, session);
    queryClient.setQueryData(SETUP_KEY, { needed: false });
  };
}

/** Forgets the session and everything read under it. */
export function useSessionEnded() {
  const api = useApi();
  const queryClient = useQueryClient();
  return () => {
    api.setCsrfToken(null);
    forgetSessionData(queryClient);
    queryClient.setQueryData(SESSION_KEY, null);
  };
}

/** Where the login page sends the user back to: a path of this app only,
 * never another site (`//evil.example`). */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) {
    return "/timeline";
  }
  return next;
}

export function loginPath(location: { pathname: string; search: string }): string {
  const here = `${location.pathname}${location.search}`;
  return here === "/" || here.startsWith("/login")
    ? "/login"
    : `/login?next=${encodeURIComponent(here)}`;
}

/** Renders `children` for a logged-in user; otherwise sends them to the
 * first-run page or to login, remembering where they were. */
export function RequireSession({ children }: { children: (session: SessionView) => ReactNode }) {
  const location = useLocation();
  const setup = useSetupStatus();
  const session = useSession();
  if (setup.isPending || session.isPending) {
    return <p role="status">Loading…</p>;
  }
  if (setup.data?.needed) {
    return <Navigate to="/setup" replace />;
  }
  if (session.isError) {
    return (
      <p role="alert">
        Steward could not be reached: {session.error.message}
      </p>
    );
  }
  if (!session.data) {
    return <Navigate to={loginPath(location)} replace />;
  }
  return <>{children(session.data)}</>;
}
