import { useInfiniteQuery } from "@tanstack/react-query";
import { useCallback, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import { useApi } from "../api/ApiContext";
import { unwrap, type TimelineItem } from "../api/client";
import { ErrorMessage } from "../components/ErrorMessage";
import { EventList } from "../timeline/EventList";
import { FilterForm } from "../timeline/FilterForm";
import { filtersFromSearch, filtersToSearch, type TimelineFilters } from "../timeline/filters";
import { useLiveTail, type LiveStatus } from "../timeline/useLiveTail";

/** Events per page asked of the API (its most is 500). */
const PAGE = 200;

const STATUS_TEXT: Record<LiveStatus, string> = {
  connecting: "Connecting to the live stream…",
  live: "Live: new events appear at the top",
  paused: "Live tail paused",
  reconnecting: "Live stream lost; reconnecting…",
};

export function TimelinePage() {
  const api = useApi();
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => filtersFromSearch(params), [params]);
  const search = filtersToSearch(filters).toString();
  const [paused, setPaused] = useState(false);

  const timeline = useInfiniteQuery({
    queryKey: ["timeline", search],
    queryFn: async ({ pageParam, signal }) =>
      unwrap(
        await api.client.GET("/api/v1/events", {
          params: { query: { ...filters, cursor: pageParam, limit: String(PAGE) } },
          signal,
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    // Live events arrive over SSE; the pages themselves need no polling.
    staleTime: Infinity,
  });

  const live = useLiveTail(filters, paused);

  const { rows, liveIds } = useMemo(() => {
    const pages = timeline.data?.pages ?? [];
    const paged = pages.flatMap((page) => page.entries);
    // A live event is newer than everything fetched before it arrived, so
    // it can only be among the first pages (pages refetched later hold at
    // most one page's worth of newer events per page): only those are
    // checked, and the cost stays flat however many rows are loaded.
    const newest = pages.slice(0, 1 + Math.ceil(live.events.length / PAGE));
    const seen = new Set(newest.flatMap((page) => page.entries.map((row) => row.event_id)));
    const fresh: TimelineItem[] = live.events.filter((row) => !seen.has(row.event_id));
    return { rows: [...fresh, ...paged], liveIds: new Set(fresh.map((row) => row.event_id)) };
  }, [timeline.data, live.events]);

  const apply = (next: TimelineFilters) => setParams(filtersToSearch(next));
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = timeline;
  const loadMore = useCallback(() => {
    void fetchNextPage();
  }, [fetchNextPage]);

  return (
    <main id="main" className="timeline">
      <div className="timeline-head">
        <h1>Timeline</h1>
        <div className="live-controls">
          <span role="status" className={`live-status ${live.status}`}>
            {STATUS_TEXT[live.status]}
          </span>
          <button type="button" aria-pressed={paused} onClick={() => setPaused((p) => !p)}>
            {paused ? "Resume live tail" : "Pause live tail"}
          </button>
        </div>
      </div>
      {/* Keyed by the URL's filters: back and forward reset the fields. */}
      <FilterForm key={search} filters={filters} onApply={apply} />
      <p className="count" aria-live="polite">
        {timeline.isPending
          ? "Loading events…"
          : `${rows.length.toLocaleString()} events shown${hasNextPage ? ", older ones load as you scroll" : ""}`}
      </p>
      {timeline.isError ? (
        <ErrorMessage error={timeline.error} />
      ) : timeline.isPending ? null : (
        <EventList
          rows={rows}
          liveIds={liveIds}
          hasMore={hasNextPage}
          loadingMore={isFetchingNextPage}
          onLoadMore={loadMore}
        />
      )}
    </main>
  );
}
