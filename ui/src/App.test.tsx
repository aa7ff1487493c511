import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createMemoryRouter, RouterProvider } from "react-router";
import { describe, expect, it } from "vitest";
import { createAppContext, Providers, routes } from "./App";
import { FakeServer, item, SETUP_CODE } from "./test/fakeServer";

function start(server: FakeServer, path: string) {
  const context = createAppContext({ baseUrl: "http://steward.test", fetch: server.fetch });
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  render(
    <Providers context={context}>
      <RouterProvider router={router} />
    </Providers>,
  );
  return { router, context };
}

const here = (router: ReturnType<typeof createMemoryRouter>) =>
  `${router.state.location.pathname}${router.state.location.search}`;

describe("the app", () => {
  it("on first run creates the owner with the setup code and lands on the timeline", async () => {
    const server = new FakeServer();
    server.setupNeeded = true;
    server.events = [item(2), item(1)];
    const { router } = start(server, "/timeline");
    const user = userEvent.setup();

    await screen.findByRole("heading", { name: "Welcome to Steward" });
    expect(router.state.location.pathname).toBe("/setup");
    await user.type(screen.getByLabelText("Setup code"), "wrong-code");
    await user.type(screen.getByLabelText("Username"), "alice");
    await user.type(screen.getByLabelText("Display name"), "Alice");
    await user.type(screen.getByLabelText("Password"), "correct horse battery");
    await user.click(screen.getByRole("button", { name: "Create the owner" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("the setup code is wrong");

    await user.clear(screen.getByLabelText("Setup code"));
    await user.type(screen.getByLabelText("Setup code"), SETUP_CODE);
    await user.click(screen.getByRole("button", { name: "Create the owner" }));
    await screen.findByRole("heading", { name: "Timeline" });
    expect(router.state.location.pathname).toBe("/timeline");
    const list = await screen.findByRole("list", { name: "Events, newest first" });
    expect(within(list).getAllByRole("listitem")).toHaveLength(2);
  });

  it("sends an expired session to login and back to where the user was", async () => {
    const server = new FakeServer();
    server.loggedIn = true;
    server.events = [item(3), item(2), item(1)];
    const { router } = start(server, "/timeline?type=ItemListed");
    const user = userEvent.setup();
    const list = await screen.findByRole("list", { name: "Events, newest first" });
    expect(within(list).getAllByRole("listitem")).toHaveLength(2);

    // The session ends on the server; the next request is refused.
    server.loggedIn = false;
    await user.click(within(list).getAllByRole("link")[0]!);
    await screen.findByRole("heading", { name: "Log in to Steward" });
    expect(here(router)).toBe(`/login?next=${encodeURIComponent(`/events/${item(3).event_id}`)}`);

    await user.type(screen.getByLabelText("Username"), "alice");
    await user.type(screen.getByLabelText("Password"), "wrong password!");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("wrong username or password");

    await user.clear(screen.getByLabelText("Password"));
    await user.type(screen.getByLabelText("Password"), "correct horse battery");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    await screen.findByRole("heading", { name: "ItemListed" });
    expect(here(router)).toBe(`/events/${item(3).event_id}`);
  });

  it("shows nothing read under an ended session to the next one", async () => {
    const server = new FakeServer();
    server.loggedIn = true;
    server.events = [item(1, { event_type: "OldSecret" })];
    const { router } = start(server, "/timeline");
    const user = userEvent.setup();
    await screen.findByText("OldSecret");

    server.loggedIn = false;
    server.events = [item(2, { event_type: "FreshEvent" })];
    await user.click(screen.getByRole("link", { name: "Approvals" }));
    await screen.findByRole("heading", { name: "Log in to Steward" });
    expect(here(router)).toBe("/login?next=%2Fapprovals");
    await user.type(screen.getByLabelText("Username"), "alice");
    await user.type(screen.getByLabelText("Password"), "correct horse battery");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    await screen.findByRole("heading", { name: "Approvals" });

    await user.click(screen.getByRole("link", { name: "Timeline" }));
    await screen.findByText("FreshEvent");
    expect(screen.queryByText("OldSecret")).not.toBeInTheDocument();
  });

  it("keeps filters in the URL and asks the API with them", async () => {
    const server = new FakeServer();
    server.loggedIn = true;
    server.events = [item(4), item(3), item(2), item(1)];
    const { router } = start(server, "/timeline");
    const user = userEvent.setup();
    let list = await screen.findByRole("list", { name: "Events, newest first" });
    expect(within(list).getAllByRole("listitem")).toHaveLength(4);

    await user.type(screen.getByLabelText("Event type"), "StockCounted");
    await user.type(screen.getByLabelText("Correlation id"), "nope");
    await user.click(screen.getByRole("button", { name: "Apply filters" }));
    expect(screen.getByLabelText("Correlation id")).toHaveAttribute("aria-invalid", "true");
    expect(here(router)).toBe("/timeline");

    await user.clear(screen.getByLabelText("Correlation id"));
    await user.click(screen.getByRole("button", { name: "Apply filters" }));
    await waitFor(() => expect(here(router)).toBe("/timeline?type=StockCounted"));
    await waitFor(() => {
      list = screen.getByRole("list", { name: "Events, newest first" });
      expect(within(list).getAllByRole("listitem")).toHaveLength(2);
    });
    const asked = server.requests.filter((r) => r.url.pathname === "/api/v1/events").at(-1);
    expect(asked?.url.searchParams.get("type")).toBe("StockCounted");
    // The live stream is asked for the same type.
    const streamed = server.requests.filter((r) => r.url.pathname === "/api/v1/events/stream").at(-1);
    expect(streamed?.url.searchParams.get("type")).toBe("StockCounted");
  });

  it("tails live events at the top, and pausing stops them until resumed", async () => {
    const server = new FakeServer();
    server.loggedIn = true;
    server.events = [item(1)];
    start(server, "/timeline");
    const user = userEvent.setup();
    await screen.findByText("Live: new events appear at the top");

    act(() => server.publish(item(2, { event_type: "ItemCheckedOff" })));
    const list = screen.getByRole("list", { name: "Events, newest first" });
    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(2));
    expect(within(list).getAllByRole("listitem")[0]).toHaveTextContent("ItemCheckedOff");
    expect(within(list).getAllByRole("listitem")[0]).toHaveTextContent("new");

    await user.click(screen.getByRole("button", { name: "Pause live tail" }));
    expect(screen.getByRole("button", { name: "Resume live tail" })).toHaveAttribute("aria-pressed", "true");
    await waitFor(() => expect(server.openStreams).toBe(0));

    await user.click(screen.getByRole("button", { name: "Resume live tail" }));
    await screen.findByText("Live: new events appear at the top");
    // Resumed after the last event seen, so none committed meanwhile is lost.
    const resumed = server.requests.filter((r) => r.url.pathname === "/api/v1/events/stream").at(-1);
    expect(resumed?.url.searchParams.get("after")).toBe("2");
  });

  it("logs out, ending the session with its CSRF token", async () => {
    const server = new FakeServer();
    server.loggedIn = true;
    const { router } = start(server, "/timeline");
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Log out" }));
    await screen.findByRole("heading", { name: "Log in to Steward" });
    expect(server.loggedIn).toBe(false);
    expect(router.state.location.pathname).toBe("/login");
  });
});
