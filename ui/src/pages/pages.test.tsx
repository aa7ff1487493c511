import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createMemoryRouter, RouterProvider } from "react-router";
import { describe, expect, it } from "vitest";
import { createAppContext, Providers, routes } from "../App";
import { FakeServer, item, plan } from "../test/fakeServer";

function start(server: FakeServer, path: string) {
  const context = createAppContext({ baseUrl: "http://steward.test", fetch: server.fetch });
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  render(
    <Providers context={context}>
      <RouterProvider router={router} />
    </Providers>,
  );
  return router;
}

describe("event detail", () => {
  it("shows data, metadata and the causation chain with links along it", async () => {
    const server = new FakeServer();
    server.loggedIn = true;
    const cause = item(1, { event_type: "StockRanLow", stream_id: "pantry-home" });
    const effect = item(2, { event_type: "ItemListed", causation_id: cause.event_id });
    server.events = [effect, cause];
    server.chains.set(cause.event_id, { ancestors: [], descendants: [effect] });
    server.chains.set(effect.event_id, { ancestors: [cause], descendants: [] });
    const router = start(server, `/events/${cause.event_id}`);
    const user = userEvent.setup();

    await screen.findByRole("heading", { name: "StockRanLow" });
    expect(screen.getByLabelText("Event data as JSON")).toHaveTextContent('"item": "milk"');
    expect(screen.getByLabelText("Event metadata as JSON")).toHaveTextContent(cause.correlation_id);
    expect(screen.getByRole("link", { name: "pantry-home" })).toHaveAttribute("href", "/timeline?stream=pantry-home");
    const effects = screen.getByRole("list", { name: "It led to" });
    await user.click(within(effects).getByRole("link", { name: /ItemListed/ }));
    await screen.findByRole("heading", { name: "ItemListed" });
    expect(router.state.location.pathname).toBe(`/events/${effect.event_id}`);
    expect(within(screen.getByRole("list", { name: "Led to it (first cause first)" })).getByRole("link")).toHaveTextContent(
      "StockRanLow",
    );
  });

  it("says what the server said when the event is unknown", async () => {
    const server = new FakeServer();
    server.loggedIn = true;
    start(server, "/events/0193b0c4-0000-7000-8000-00000000ffff");
    expect(await screen.findByRole("alert", {}, { timeout: 4000 })).toHaveTextContent("the timeline has no event with this id");
  });
});

describe("approvals", () => {
  it("lists waiting plans and approves one with the session's CSRF token", async () => {
    const server = new FakeServer();
    server.loggedIn = true;
    server.plans = [plan("p1"), plan("p2", { request: "order more coffee", domain: "groceries" })];
    start(server, "/approvals");
    const user = userEvent.setup();

    const first = await screen.findByRole("article", { name: "turn off the hall lamp" });
    expect(first).toHaveTextContent("Turn the hall lamp off");
    expect(screen.getByRole("article", { name: "order more coffee" })).toBeInTheDocument();
    await user.click(within(first).getByRole("button", { name: "Approve" }));
    await screen.findByRole("heading", { name: "order more coffee" });
    expect(screen.queryByRole("article", { name: "turn off the hall lamp" })).not.toBeInTheDocument();
    const approved = server.requests.find((r) => r.url.pathname === "/api/v1/plans/p1/approve");
    expect(approved?.method).toBe("POST");
    expect(approved?.csrf).toBe("csrf-1");
  });

  it("says so when nothing is waiting", async () => {
    const server = new FakeServer();
    server.loggedIn = true;
    start(server, "/approvals");
    expect(await screen.findByText("Nothing is waiting for your answer.")).toBeInTheDocument();
  });
});
