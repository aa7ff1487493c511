import { ApiError } from "../api/client";

/** What went wrong, as the server put it (its problem's detail and field). */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) {
    return null;
  }
  const message = error instanceof Error ? error.message : String(error);
  const field = error instanceof ApiError ? error.problem?.field : null;
  return (
    <p role="alert" className="error">
      {message}
      {field ? <> (field: <code>{field}</code>)</> : null}
    </p>
  );
}
