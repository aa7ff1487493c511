import { describe, expect, it, vi } from "vitest";
import { ApiError, createApi, unwrap } from "./client";

const BASE = "http://steward.test";

function json(status: number, body: unknown, type = "application/json") {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
}

describe("the API client", () => {
  it("sends the session's CSRF token on changes only", async () => {
    const seen: Request[] = [];
    const api = createApi({
      baseUrl: BASE,
      fetch: async (input, init) => {
        seen.push(new Request(input, init));
        return json(200, { needed: false });
      },
      onUnauthenticated: () => undefined,
    });
    api.setCsrfToken("csrf-123");
    await api.client.GET("/api/v1/setup");
    await api.client.POST("/api/v1/plans/{plan_id}/approve", { params: { path: { plan_id: "p1" } }, body: {} });
    expect(seen[0]?.headers.get("X-CSRF-Token")).toBeNull();
    expect(seen[1]?.headers.get("X-CSRF-Token")).toBe("csrf-123");
  });

  it("reports a 401 as an ended session, except from login and setup themselves", async () => {
    const onUnauthenticated = vi.fn();
    const api = createApi({
      baseUrl: BASE,
      fetch: async () =>
        json(401, { type: "/problems/unauthenticated", title: "Unauthenticated", status: 401, detail: "no session" }, "application/problem+json"),
      onUnauthenticated,
    });
    await api.client.POST("/api/v1/session", { body: { username: "a", password: "b" } });
    await api.client.GET("/api/v1/session");
    expect(onUnauthenticated).not.toHaveBeenCalled();
    await api.client.GET("/api/v1/events", { params: { query: {} } });
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    await api.fetch("/api/v1/events/stream");
    expect(onUnauthenticated).toHaveBeenCalledTimes(2);
  });

  it("turns a problem into an ApiError carrying its detail and field", async () => {
    const api = createApi({
      baseUrl: BASE,
      fetch: async () =>
        json(
          400,
          { type: "/problems/invalid-input", title: "Invalid input", status: 400, detail: "`until` must be after `from`", field: "until" },
          "application/problem+json",
        ),
      onUnauthenticated: () => undefined,
    });
    const result = await api.client.GET("/api/v1/events", { params: { query: {} } });
    let caught: unknown;
    try {
      unwrap(result);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ApiError);
    expect((caught as ApiError).message).toBe("`until` must be after `from`");
    expect((caught as ApiError).problem?.field).toBe("until");
    expect((caught as ApiError).status).toBe(400);
  });
});
