// The app's routes and the objects every page shares: one query cache and
// one API client, wired so that a 401 anywhere ends the session in the
// cache, which sends the user to login (keeping where they were).
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link, Navigate, type RouteObject } from "react-router";
import { ApiProvider } from "./api/ApiContext";
import { ApiError, createApi, type Api, type ApiOptions } from "./api/client";
import { Layout } from "./components/Layout";
import { ApprovalsPage } from "./pages/Approvals";
import { EventDetailPage } from "./pages/EventDetail";
import { LoginPage } from "./pages/Login";
import { SetupPage } from "./pages/Setup";
import { TimelinePage } from "./pages/Timeline";
import { RequireSession, SESSION_KEY } from "./session";

export interface AppContext {
  api: Api;
  queryClient: QueryClient;
}

export function createAppContext(options: Omit<ApiOptions, "onUnauthenticated"> = {}): AppContext {
  const queryClient = new QueryClient({
    defaultOptions: {
      queries: {
        // A refusal (4xx) will not change by asking again.
        retry: (failures, error) =>
          !(error instanceof ApiError && error.status < 500) && failures < 2,
        refetchOnWindowFocus: false,
      },
    },
  });
  const api = createApi({
    ...options,
    onUnauthenticated: () => {
      api.setCsrfToken(null);
      // The gate sends the user to login; what was read under the session
      // is dropped when the next one starts (`useSessionStarted`).
      queryClient.setQueryData(SESSION_KEY, null);
    },
  });
  return { api, queryClient };
}

export function Providers({ context, children }: { context: AppContext; children: ReactNode }) {
  return (
    <QueryClientProvider client={context.queryClient}>
      <ApiProvider api={context.api}>{children}</ApiProvider>
    </QueryClientProvider>
  );
}

function NotFound() {
  return (
    <main id="main">
      <h1>Nothing here</h1>
      <p>
        <Link to="/timeline">Go to the timeline</Link>
      </p>
    </main>
  );
}

export const routes: RouteObject[] = [
  { path: "/setup", element: <SetupPage /> },
  { path: "/login", element: <LoginPage /> },
  {
    path: "/",
    element: <RequireSession>{(session) => <Layout session={session} />}</RequireSession>,
    children: [
      { index: true, element: <Navigate to="/timeline" replace /> },
      { path: "timeline", element: <TimelinePage /> },
      { path: "events/:eventId", element: <EventDetailPage /> },
      { path: "approvals", element: <ApprovalsPage /> },
      { path: "*", element: <NotFound /> },
    ],
  },
];
