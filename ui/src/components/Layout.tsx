import { useMutation } from "@tanstack/react-query";
import { NavLink, Outlet, useNavigate } from "react-router";
import { useApi } from "../api/ApiContext";
import { unwrap, type SessionView } from "../api/client";
import { useSessionEnded } from "../session";
import { ErrorMessage } from "./ErrorMessage";

export function Layout({ session }: { session: SessionView }) {
  const api = useApi();
  const navigate = useNavigate();
  const ended = useSessionEnded();
  const logout = useMutation({
    mutationFn: async () => unwrap(await api.client.DELETE("/api/v1/session")),
    onSuccess: () => {
      ended();
      navigate("/login", { replace: true });
    },
  });
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Steward</span>
        <nav aria-label="Main">
          <NavLink to="/timeline">Timeline</NavLink>
          <NavLink to="/approvals">Approvals</NavLink>
        </nav>
        <span className="who">
          {session.user.display_name} <small>({session.user.role})</small>
        </span>
        {/* A token has no session to end. */}
        {session.via === "session" ? (
          <button type="button" className="secondary" onClick={() => logout.mutate()} disabled={logout.isPending}>
            Log out
          </button>
        ) : null}
      </header>
      <ErrorMessage error={logout.error} />
      <Outlet />
    </>
  );
}
