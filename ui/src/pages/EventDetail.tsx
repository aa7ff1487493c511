// One event as stored: its data, personal part and metadata, and its
// causation chain (what led to it, what it led to) from
// `GET /api/v1/events/{id}/chain`.
import { useQuery } from "@tanstack/react-query";
import { Link, useLocation, useParams } from "react-router";
import { useApi } from "../api/ApiContext";
import { ApiError, unwrap, type EventView } from "../api/client";
import { ErrorMessage } from "../components/ErrorMessage";
import { safeNext } from "../session";
import { filtersToSearch } from "../timeline/filters";

function timelineLink(filter: Record<string, string>) {
  return `/timeline?${filtersToSearch(filter).toString()}`;
}

function metadataField(event: EventView, name: string): string | null {
  const value = (event.metadata as Record<string, unknown>)[name];
  return typeof value === "string" ? value : null;
}

function ChainList({ title, events }: { title: string; events: EventView[] }) {
  if (events.length === 0) {
    return null;
  }
  return (
    <>
      <h3>{title}</h3>
      <ol className="chain" aria-label={title}>
        {events.map((event) => (
          <li key={event.event_id}>
            <Link to={`/events/${event.event_id}`}>
              <span className="type">{event.event_type}</span> <span className="stream">{event.stream_id}</span>
            </Link>{" "}
            <time dateTime={event.recorded_at}>{new Date(event.recorded_at).toLocaleString()}</time>
          </li>
        ))}
      </ol>
    </>
  );
}

export function EventDetailPage() {
  const api = useApi();
  const { eventId = "" } = useParams();
  const location = useLocation();
  // Where the timeline link came from (its filters), when it did.
  const back = safeNext((location.state as { from?: string } | null)?.from ?? null);
  const chain = useQuery({
    queryKey: ["chain", eventId],
    queryFn: async ({ signal }) =>
      unwrap(
        await api.client.GET("/api/v1/events/{event_id}/chain", {
          params: { path: { event_id: eventId } },
          signal,
        }),
      ),
    // An event that just arrived live may not be in the timeline's index
    // yet (it is a projection): ask again shortly before saying "not found".
    retry: (failures, error) => error instanceof ApiError && error.status === 404 && failures < 3,
    retryDelay: 500,
  });

  if (chain.isPending) {
    return (
      <main id="main">
        <p role="status">Loading the event…</p>
      </main>
    );
  }
  if (chain.isError) {
    return (
      <main id="main">
        <h1>Event</h1>
        <ErrorMessage error={chain.error} />
        <Link to={back}>Back to the timeline</Link>
      </main>
    );
  }
  const { event, ancestors, descendants, truncated } = chain.data;
  const correlation = metadataField(event, "correlation_id");
  const actor = metadataField(event, "actor");
  const causation = metadataField(event, "causation_id");
  const command = metadataField(event, "command_id");

  return (
    <main id="main" className="event-detail">
      <p>
        <Link to={back}>← Back to the timeline</Link>
      </p>
      <h1>{event.event_type}</h1>
      <dl className="facts">
        <dt>Stream</dt>
        <dd>
          <Link to={timelineLink({ stream: event.stream_id })}>{event.stream_id}</Link> (version{" "}
          {event.stream_version})
        </dd>
        <dt>Position</dt>
        <dd>{event.position}</dd>
        <dt>Recorded</dt>
        <dd>
          <time dateTime={event.recorded_at}>{new Date(event.recorded_at).toLocaleString()}</time>
        </dd>
        <dt>Schema version</dt>
        <dd>{event.schema_version}</dd>
        <dt>Event id</dt>
        <dd>
          <code>{event.event_id}</code>
        </dd>
        {actor ? (
          <>
            <dt>Actor</dt>
            <dd>
              <Link to={timelineLink({ actor })}>{actor}</Link>
            </dd>
          </>
        ) : null}
        {correlation ? (
          <>
            <dt>Correlation</dt>
            <dd>
              <Link to={timelineLink({ correlation_id: correlation })}>{correlation}</Link>
            </dd>
          </>
        ) : null}
        {causation ? (
          <>
            <dt>Caused by</dt>
            <dd>
              <code>{causation}</code>
            </dd>
          </>
        ) : null}
        {command ? (
          <>
            <dt>Command</dt>
            <dd>
              <code>{command}</code>
            </dd>
          </>
        ) : null}
      </dl>

      <section aria-labelledby="data-heading">
        <h2 id="data-heading">Data</h2>
        <pre tabIndex={0} aria-label="Event data as JSON">{JSON.stringify(event.data, null, 2)}</pre>
      </section>
      <section aria-labelledby="personal-heading">
        <h2 id="personal-heading">Personal data</h2>
        {event.personal_erased ? (
          <p>Erased: the subject's key was destroyed.</p>
        ) : event.personal_withheld ? (
          <p>Withheld: it holds credentials, which are never shown.</p>
        ) : event.personal ? (
          <pre tabIndex={0} aria-label="Personal data as JSON">{JSON.stringify(event.personal, null, 2)}</pre>
        ) : (
          <p>None.</p>
        )}
      </section>
      <section aria-labelledby="metadata-heading">
        <h2 id="metadata-heading">Metadata</h2>
        <pre tabIndex={0} aria-label="Event metadata as JSON">{JSON.stringify(event.metadata, null, 2)}</pre>
      </section>
      <section aria-labelledby="chain-heading">
        <h2 id="chain-heading">Causation chain</h2>
        {ancestors.length === 0 && descendants.length === 0 ? (
          <p>Nothing in the log led to this event or followed from it.</p>
        ) : null}
        <ChainList title="Led to it (first cause first)" events={ancestors} />
        <ChainList title="It led to" events={descendants} />
        {truncated ? <p>The chain is longer than shown (500 events each way).</p> : null}
      </section>
    </main>
  );
}
