// A stand-in for `steward serve` in unit tests: enough of the API's
// behaviour (setup, sessions, the timeline, the live stream) for the app's
// flows, recording what it was asked.
import type { EventView, PlanView, SessionView, TimelineItem } from "../api/client";

export const SETUP_CODE = "setup-code-1234";

const OWNER = {
  user_id: "u1",
  username: "alice",
  display_name: "Alice",
  role: "owner",
  domains: [],
};

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": status >= 400 ? "application/problem+json" : "application/json" },
  });
}

function problem(status: number, detail: string) {
  return json(status, { type: "/problems/x", title: "x", status, detail });
}

export function item(n: number, overrides: Partial<TimelineItem> = {}): TimelineItem {
  return {
    position: String(n),
    event_id: `0193b0c4-0000-7000-8000-${String(n).padStart(12, "0")}`,
    stream_id: n % 2 ? "shoppinglist-home" : "pantry-home",
    event_type: n % 2 ? "ItemListed" : "StockCounted",
    actor: "user:u1",
    correlation_id: "0193b0c4-1111-7000-8000-000000000002",
    causation_id: null,
    recorded_at: new Date(Date.UTC(2026, 11, 2, 10, 0, n)).toISOString(),
    ...overrides,
  };
}

export function view(row: TimelineItem): EventView {
  return {
    event_id: row.event_id,
    stream_id: row.stream_id,
    stream_version: 0,
    position: row.position,
    event_type: row.event_type,
    schema_version: 1,
    data: { item: "milk" },
    personal: null,
    personal_erased: false,
    personal_withheld: false,
    metadata: { actor: row.actor, correlation_id: row.correlation_id, causation_id: row.causation_id },
    recorded_at: row.recorded_at,
  };
}

export class FakeServer {
  setupNeeded = false;
  loggedIn = false;
  /** Newest first, as the timeline answers. */
  events: TimelineItem[] = [];
  requests: { method: string; url: URL; csrf: string | null }[] = [];
  plans: PlanView[] = [];
  /** Causes and effects by event id, for the chain route. */
  chains = new Map<string, { ancestors: TimelineItem[]; descendants: TimelineItem[] }>();
  private streams: ReadableStreamDefaultController<Uint8Array>[] = [];

  private session(): SessionView {
    return { user: OWNER, via: "session", csrf_token: "csrf-1", expires_at: "2026-12-16T10:00:00Z" };
  }

  /** Sends `row` to every open live stream. */
  publish(row: TimelineItem) {
    const frame = `id: ${row.position}\nevent: ${row.event_type}\ndata: ${JSON.stringify(view(row))}\n\n`;
    for (const stream of this.streams) {
      stream.enqueue(new TextEncoder().encode(frame));
    }
  }

  get openStreams() {
    return this.streams.length;
  }

  fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    this.requests.push({ method: request.method, url, csrf: request.headers.get("X-CSRF-Token") });
    const route = `${request.method} ${url.pathname}`;
    if (route === "GET /api/v1/setup") return json(200, { needed: this.setupNeeded });
    if (route === "POST /api/v1/setup") {
      const body = (await request.json()) as { code: string };
      if (body.code !== SETUP_CODE) return problem(403, "the setup code is wrong");
      this.setupNeeded = false;
      this.loggedIn = true;
      return json(200, this.session());
    }
    if (route === "POST /api/v1/session") {
      const body = (await request.json()) as { username: string; password: string };
      if (body.username !== "alice" || body.password !== "correct horse battery") {
        return problem(401, "wrong username or password");
      }
      this.loggedIn = true;
      return json(200, this.session());
    }
    if (!this.loggedIn) return problem(401, "no valid session");
    if (route === "GET /api/v1/session") return json(200, this.session());
    if (route === "DELETE /api/v1/session") {
      if (request.headers.get("X-CSRF-Token") !== "csrf-1") return problem(403, "csrf");
      this.loggedIn = false;
      return new Response(null, { status: 204 });
    }
    if (route === "GET /api/v1/events") {
      const type = url.searchParams.get("type");
      const rows = this.events.filter((row) => !type || row.event_type === type);
      const limit = Number(url.searchParams.get("limit") ?? "50");
      const cursor = url.searchParams.get("cursor");
      const start = cursor ? rows.findIndex((row) => row.position === cursor) + 1 : 0;
      const page = rows.slice(start, start + limit);
      const more = start + limit < rows.length;
      return json(200, { entries: page, next_cursor: more ? page.at(-1)?.position : null });
    }
    if (route === "GET /api/v1/events/stream") {
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({
        start: (c) => {
          controller = c;
          this.streams.push(c);
        },
        cancel: () => {
          this.streams = this.streams.filter((c) => c !== controller);
        },
      });
      return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
    }
    const chain = url.pathname.match(/^\/api\/v1\/events\/([^/]+)\/chain$/);
    if (request.method === "GET" && chain) {
      const row = this.events.find((e) => e.event_id === chain[1]);
      if (!row) return problem(404, "the timeline has no event with this id");
      const links = this.chains.get(row.event_id) ?? { ancestors: [], descendants: [] };
      return json(200, {
        event: view(row),
        ancestors: links.ancestors.map(view),
        descendants: links.descendants.map(view),
        truncated: false,
      });
    }
    if (route === "GET /api/v1/approvals") return json(200, { plans: this.plans });
    const answer = url.pathname.match(/^\/api\/v1\/plans\/([^/]+)\/(approve|reject)$/);
    if (request.method === "POST" && answer) {
      if (request.headers.get("X-CSRF-Token") !== "csrf-1") return problem(403, "csrf");
      const plan = this.plans.find((p) => p.plan_id === answer[1]);
      if (!plan) return problem(404, "no such plan");
      this.plans = this.plans.filter((p) => p !== plan);
      return json(200, { stream_id: `plan-${plan.plan_id}`, command_id: "c1", correlation_id: plan.correlation_id, duplicate: false, events: [] });
    }
    return problem(404, `nothing at ${route}`);
  };
}

export function plan(id: string, overrides: Partial<PlanView> = {}): PlanView {
  return {
    plan_id: id,
    status: "awaiting_approval",
    intent: "home.set_device",
    domain: "home",
    confidence: 0.93,
    step_count: 1,
    autonomy: "ask",
    approvers: [],
    steps_issued: 0,
    steps_succeeded: 0,
    simulated: false,
    proposed_at: "2026-12-02T10:00:00Z",
    updated_at: "2026-12-02T10:00:00Z",
    correlation_id: "0193b0c4-2222-7000-8000-000000000009",
    request: "turn off the hall lamp",
    steps: [{ summary: "Turn the hall lamp off", executor: { by: "actuator" }, stream_id: "device-hall-lamp", command_type: "RequestDeviceState" }],
    ...overrides,
  } as PlanView;
}
