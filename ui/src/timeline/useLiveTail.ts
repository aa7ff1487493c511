// The live tail: new events as the server commits them, over SSE, added
// to the top of the timeline while not paused. Pausing closes the stream;
// resuming reopens it after the last event seen (`after`), so nothing
// committed during the pause is missed.
import { useEffect, useRef, useState } from "react";
import { useApi } from "../api/ApiContext";
import type { EventView, TimelineItem } from "../api/client";
import { liveStreamParams, matchesFilters, toTimelineItem, type TimelineFilters } from "./filters";
import { readSse } from "./sse";

export type LiveStatus = "connecting" | "live" | "paused" | "reconnecting";

/** The most live rows kept; older ones are in the paged timeline anyway. */
const MAX_LIVE = 10_000;

export function useLiveTail(filters: TimelineFilters, paused: boolean) {
  const api = useApi();
  const key = JSON.stringify(filters);
  // Rows and the last position seen belong to one set of filters: new
  // filters start a new stream from now, with none of the old rows.
  const [live, setLive] = useState<{ key: string; rows: TimelineItem[] }>({ key, rows: [] });
  const last = useRef<{ key: string; id: string | null }>({ key, id: null });
  const [status, setStatus] = useState<LiveStatus>(paused ? "paused" : "connecting");

  useEffect(() => {
    if (last.current.key !== key) {
      last.current = { key, id: null };
    }
    if (paused) {
      setStatus("paused");
      return;
    }
    const filtersNow = JSON.parse(key) as TimelineFilters;
    const abort = new AbortController();
    let delay = 1000;
    const add = (row: TimelineItem) =>
      setLive((current) => {
        const rows = current.key === key ? current.rows : [];
        return rows.some((r) => r.event_id === row.event_id)
          ? current
          : { key, rows: [row, ...rows].slice(0, MAX_LIVE) };
      });
    const run = async () => {
      setStatus("connecting");
      while (!abort.signal.aborted) {
        const params = liveStreamParams(filtersNow);
        if (last.current.id !== null) params.set("after", last.current.id);
        const query = params.toString();
        try {
          const response = await api.fetch(`/api/v1/events/stream${query ? `?${query}` : ""}`, {
            headers: { Accept: "text/event-stream" },
            signal: abort.signal,
          });
          // 401 sends the user to login (the client's handler); nothing to retry.
          if (response.status === 401) return;
          if (response.ok) {
            setStatus("live");
            delay = 1000;
            await readSse(
              response,
              (message) => {
                if (message.id !== null) last.current = { key, id: message.id };
                const event = JSON.parse(message.data) as EventView;
                if (matchesFilters(filtersNow, event)) add(toTimelineItem(event));
              },
              abort.signal,
            );
          }
        } catch (error) {
          if (abort.signal.aborted) return;
          console.warn("live stream failed", error);
        }
        if (abort.signal.aborted) return;
        setStatus("reconnecting");
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 15_000);
      }
    };
    void run();
    return () => abort.abort();
  }, [api, key, paused]);

  return { events: live.key === key ? live.rows : [], status };
}
