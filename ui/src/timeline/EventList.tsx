// The timeline's rows, virtualized: only the rows in view (and a few
// around them) are in the DOM, so 100,000 loaded events scroll as
// smoothly as 100. Rows have one fixed height for the same reason.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef, type KeyboardEvent } from "react";
import { Link, useLocation } from "react-router";
import type { TimelineItem } from "../api/client";

export const ROW_HEIGHT = 44;

export interface EventListProps {
  rows: TimelineItem[];
  /** Event ids that arrived live (shown as new). */
  liveIds?: ReadonlySet<string>;
  hasMore: boolean;
  loadingMore: boolean;
  onLoadMore: () => void;
}

const timeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "medium",
});

export function EventList({ rows, liveIds, hasMore, loadingMore, onLoadMore }: EventListProps) {
  const location = useLocation();
  const scroller = useRef<HTMLDivElement>(null);
  const count = rows.length + (hasMore ? 1 : 0);
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    getItemKey: (index) => rows[index]?.event_id ?? "more",
    // Before the first measurement (and in tests, without layout).
    initialRect: { width: 800, height: 600 },
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.at(-1)?.index ?? -1;

  // Ask for the next page a little before its rows are needed.
  useEffect(() => {
    if (hasMore && !loadingMore && lastIndex >= rows.length - 25) {
      onLoadMore();
    }
  }, [hasMore, loadingMore, lastIndex, rows.length, onLoadMore]);

  // Arrow keys move between rows; the list scrolls to keep focus in view.
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const current = (event.target as HTMLElement).closest<HTMLElement>("[data-index]");
    if (!current) return;
    const index = Number(current.dataset.index);
    const moves: Record<string, number> = {
      ArrowDown: index + 1,
      ArrowUp: index - 1,
      Home: 0,
      End: rows.length - 1,
      PageDown: index + 10,
      PageUp: index - 10,
    };
    const target = moves[event.key];
    if (target === undefined) return;
    event.preventDefault();
    const next = Math.max(0, Math.min(rows.length - 1, target));
    virtualizer.scrollToIndex(next, { align: "auto" });
    // The row is rendered once the list has scrolled to it: look for it
    // over the next few frames.
    const focusRow = (framesLeft: number) => {
      const link = scroller.current?.querySelector<HTMLElement>(`[data-index="${next}"] a`);
      if (link) {
        link.focus();
      } else if (framesLeft > 0) {
        requestAnimationFrame(() => focusRow(framesLeft - 1));
      }
    };
    requestAnimationFrame(() => focusRow(10));
  };

  if (rows.length === 0 && !hasMore) {
    return <p className="empty">No events match these filters.</p>;
  }

  return (
    <div ref={scroller} className="event-scroller" onKeyDown={onKeyDown}>
      <div
        role="list"
        aria-label="Events, newest first"
        style={{ height: virtualizer.getTotalSize(), position: "relative" }}
      >
        {items.map((item) => {
          const row = rows[item.index];
          const style = {
            position: "absolute" as const,
            top: 0,
            left: 0,
            width: "100%",
            height: ROW_HEIGHT,
            transform: `translateY(${item.start}px)`,
          };
          if (!row) {
            return (
              <div key={item.key} role="listitem" style={style} className="event-row more">
                {loadingMore ? "Loading older events…" : "More events"}
              </div>
            );
          }
          const live = liveIds?.has(row.event_id) ?? false;
          return (
            <div
              key={item.key}
              role="listitem"
              aria-setsize={hasMore ? -1 : rows.length}
              aria-posinset={item.index + 1}
              data-index={item.index}
              style={style}
              className={live ? "event-row live" : "event-row"}
            >
              <Link to={`/events/${row.event_id}`} state={{ from: `${location.pathname}${location.search}` }}>
                <time dateTime={row.recorded_at}>{timeFormat.format(new Date(row.recorded_at))}</time>
                <span className="type">{row.event_type}</span>
                <span className="stream">{row.stream_id}</span>
                <span className="actor">{row.actor}</span>
                {live ? <span className="badge">new</span> : null}
              </Link>
            </div>
          );
        })}
      </div>
    </div>
  );
}
