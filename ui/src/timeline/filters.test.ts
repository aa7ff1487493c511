import { describe, expect, it } from "vitest";
import type { EventView } from "../api/client";
import {
  filterErrors,
  filtersFromSearch,
  filtersToSearch,
  fromDatetimeLocal,
  liveStreamParams,
  matchesFilters,
  toDatetimeLocal,
} from "./filters";

function event(overrides: Partial<EventView> = {}): EventView {
  return {
    event_id: "0193b0c4-0000-7000-8000-000000000001",
    stream_id: "shoppinglist-home",
    stream_version: 3,
    position: "42",
    event_type: "ItemListed",
    schema_version: 1,
    data: { item: "Oat milk", quantity: 2 },
    personal: null,
    personal_erased: false,
    personal_withheld: false,
    metadata: {
      actor: "user:alice",
      correlation_id: "0193b0c4-1111-7000-8000-000000000002",
      causation_id: null,
    },
    recorded_at: "2026-12-02T10:00:00Z",
    ...overrides,
  };
}

describe("filters in the URL", () => {
  it("read the API's names, dropping blanks, and write them back in a stable order", () => {
    const params = new URLSearchParams("q=%20milk%20&type=ItemListed&stream=&unrelated=1&cursor=9");
    const filters = filtersFromSearch(params);
    expect(filters).toEqual({ q: "milk", type: "ItemListed" });
    expect(filtersToSearch(filters).toString()).toBe("type=ItemListed&q=milk");
    expect(filtersToSearch({ actor: " ", category: "pantry" }).toString()).toBe("category=pantry");
  });

  it("refuse what the API would refuse, naming the field", () => {
    expect(filterErrors({ stream: "nodash" })).toHaveProperty("stream");
    expect(filterErrors({ correlation_id: "not-a-uuid" })).toHaveProperty("correlation_id");
    expect(filterErrors({ from: "2026-12-02T10:00:00Z", until: "2026-12-01T10:00:00Z" })).toHaveProperty("until");
    expect(filterErrors({ from: "yesterday" })).toHaveProperty("from");
    expect(
      filterErrors({
        stream: "shoppinglist-home",
        correlation_id: "0193b0c4-1111-7000-8000-000000000002",
        from: "2026-12-01T10:00:00Z",
        until: "2026-12-02T10:00:00Z",
      }),
    ).toEqual({});
  });

  it("convert instants to and from the browser's local datetime inputs", () => {
    const iso = "2026-12-02T10:15:00.000Z";
    expect(fromDatetimeLocal(toDatetimeLocal(iso))).toBe(iso);
    expect(toDatetimeLocal(undefined)).toBe("");
    expect(fromDatetimeLocal("")).toBeUndefined();
  });
});

describe("live events", () => {
  it("ask the stream for the category (also a stream's) and the type only", () => {
    expect(liveStreamParams({ stream: "shoppinglist-home", type: "ItemListed", q: "milk" }).toString()).toBe(
      "category=shoppinglist&type=ItemListed",
    );
    expect(liveStreamParams({ actor: "user:alice" }).toString()).toBe("");
  });

  it("are matched against every other filter here", () => {
    const e = event();
    expect(matchesFilters({}, e)).toBe(true);
    expect(matchesFilters({ category: "shoppinglist", stream: "shoppinglist-home" }, e)).toBe(true);
    expect(matchesFilters({ stream: "shoppinglist-office" }, e)).toBe(false);
    expect(matchesFilters({ actor: "user:alice" }, e)).toBe(true);
    expect(matchesFilters({ actor: "user:bob" }, e)).toBe(false);
    expect(matchesFilters({ correlation_id: "0193B0C4111170008000000000000002" }, e)).toBe(true);
    expect(matchesFilters({ correlation_id: "0193b0c4-1111-7000-8000-000000000003" }, e)).toBe(false);
    expect(matchesFilters({ from: "2026-12-02T09:00:00Z", until: "2026-12-02T11:00:00Z" }, e)).toBe(true);
    expect(matchesFilters({ until: "2026-12-02T10:00:00Z" }, e)).toBe(false);
    expect(matchesFilters({ q: "oat MILK" }, e)).toBe(true);
    expect(matchesFilters({ q: "oat cheese" }, e)).toBe(false);
  });
});
