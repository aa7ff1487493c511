// The timeline's filters, kept in the page's URL so that a filtered view
// can be reloaded, shared and navigated back to. The names are those of
// `GET /api/v1/events`, so the URL's query goes to the API as it is.
import type { EventView, TimelineItem } from "../api/client";

export const FILTER_KEYS = [
  "category",
  "stream",
  "type",
  "actor",
  "correlation_id",
  "from",
  "until",
  "q",
] as const;

export type FilterKey = (typeof FILTER_KEYS)[number];
export type TimelineFilters = Partial<Record<FilterKey, string>>;

export const FILTER_LABELS: Record<FilterKey, string> = {
  category: "Category",
  stream: "Stream",
  type: "Event type",
  actor: "Actor",
  correlation_id: "Correlation id",
  from: "From",
  until: "Until",
  q: "Text",
};

/** The filters in `params`; blank values are no filter. */
export function filtersFromSearch(params: URLSearchParams): TimelineFilters {
  const filters: TimelineFilters = {};
  for (const key of FILTER_KEYS) {
    const value = params.get(key)?.trim();
    if (value) {
      filters[key] = value;
    }
  }
  return filters;
}

/** `filters` as a query string's parameters, in a stable order. */
export function filtersToSearch(filters: TimelineFilters): URLSearchParams {
  const params = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const value = filters[key]?.trim();
    if (value) {
      params.set(key, value);
    }
  }
  return params;
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** What the API would refuse, said before asking it. */
export function filterErrors(filters: TimelineFilters): Partial<Record<FilterKey, string>> {
  const errors: Partial<Record<FilterKey, string>> = {};
  if (filters.stream && !/^[^-\s]+-\S+$/.test(filters.stream)) {
    errors.stream = "A stream is <category>-<id>, e.g. shoppinglist-home.";
  }
  if (filters.correlation_id && !UUID.test(filters.correlation_id)) {
    errors.correlation_id = "A correlation id is a UUID.";
  }
  for (const key of ["from", "until"] as const) {
    const value = filters[key];
    if (value && Number.isNaN(Date.parse(value))) {
      errors[key] = "Not a date and time.";
    }
  }
  if (
    filters.from &&
    filters.until &&
    !errors.from &&
    !errors.until &&
    Date.parse(filters.from) >= Date.parse(filters.until)
  ) {
    errors.until = "“Until” must be after “From”.";
  }
  return errors;
}

/** An instant for a `datetime-local` input, in the browser's time zone. */
export function toDatetimeLocal(iso: string | undefined): string {
  if (!iso) {
    return "";
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return "";
  }
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

/** A `datetime-local` input's value as an RFC 3339 instant (UTC). */
export function fromDatetimeLocal(local: string): string | undefined {
  if (!local) {
    return undefined;
  }
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** The live stream's own filters: it only knows categories and types. */
export function liveStreamParams(filters: TimelineFilters): URLSearchParams {
  const params = new URLSearchParams();
  const category = filters.category ?? filters.stream?.split("-")[0];
  if (category) {
    params.set("category", category);
  }
  if (filters.type) {
    params.set("type", filters.type);
  }
  return params;
}

/** A live event as a timeline row. */
export function toTimelineItem(event: EventView): TimelineItem {
  const metadata = event.metadata as {
    actor?: unknown;
    correlation_id?: unknown;
    causation_id?: unknown;
  };
  return {
    position: event.position,
    event_id: event.event_id,
    stream_id: event.stream_id,
    event_type: event.event_type,
    actor: typeof metadata.actor === "string" ? metadata.actor : "",
    correlation_id: typeof metadata.correlation_id === "string" ? metadata.correlation_id : "",
    causation_id: typeof metadata.causation_id === "string" ? metadata.causation_id : null,
    recorded_at: event.recorded_at,
  };
}

/**
 * Whether a live event belongs in the filtered timeline. The stream
 * filters categories and types itself; the rest is checked here. Text is
 * an approximation of the timeline's full-text search: every word must
 * occur in the event's type, stream or data.
 */
export function matchesFilters(filters: TimelineFilters, event: EventView): boolean {
  const item = toTimelineItem(event);
  const category = item.stream_id.split("-")[0];
  if (filters.category && filters.category !== category) return false;
  if (filters.stream && filters.stream !== item.stream_id) return false;
  if (filters.type && filters.type !== item.event_type) return false;
  if (filters.actor && filters.actor !== item.actor) return false;
  if (
    filters.correlation_id &&
    filters.correlation_id.replaceAll("-", "").toLowerCase() !==
      item.correlation_id.replaceAll("-", "").toLowerCase()
  ) {
    return false;
  }
  const at = Date.parse(item.recorded_at);
  if (filters.from && at < Date.parse(filters.from)) return false;
  if (filters.until && at >= Date.parse(filters.until)) return false;
  if (filters.q) {
    const haystack = `${item.event_type} ${item.stream_id} ${JSON.stringify(event.data)}`.toLowerCase();
    const words = filters.q.toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.every((word) => haystack.includes(word))) return false;
  }
  return true;
}
