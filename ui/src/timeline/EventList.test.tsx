import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createMemoryRouter, RouterProvider } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { item } from "../test/fakeServer";
import { EventList } from "./EventList";

describe("EventList", () => {
  it("keeps only the rows in view in the DOM, whatever the count", () => {
    const rows = Array.from({ length: 100_000 }, (_, i) => item(100_000 - i));
    const onLoadMore = vi.fn();
    const router = createMemoryRouter(
      [{ path: "/", element: <EventList rows={rows} hasMore={false} loadingMore={false} onLoadMore={onLoadMore} /> }],
      { initialEntries: ["/"] },
    );
    render(<RouterProvider router={router} />);
    const list = screen.getByRole("list", { name: "Events, newest first" });
    const rendered = within(list).getAllByRole("listitem");
    expect(rendered.length).toBeGreaterThan(5);
    expect(rendered.length).toBeLessThan(60);
    expect(rendered[0]).toHaveAttribute("aria-posinset", "1");
    expect(rendered[0]).toHaveAttribute("aria-setsize", "100000");
    // The list is as tall as all its rows, so the scroll bar is true.
    expect(list.style.height).toBe(`${100_000 * 44}px`);
    expect(onLoadMore).not.toHaveBeenCalled();
  });

  it("asks for the next page when the last rows come into view", () => {
    const onLoadMore = vi.fn();
    const router = createMemoryRouter(
      [{ path: "/", element: <EventList rows={[item(2), item(1)]} hasMore loadingMore={false} onLoadMore={onLoadMore} /> }],
      { initialEntries: ["/"] },
    );
    render(<RouterProvider router={router} />);
    expect(onLoadMore).toHaveBeenCalled();
  });

  // (End and PageDown scroll to rows out of view, which needs a browser's
  // layout: ui/scripts/e2e.mjs covers the keys there.)
  it("moves between rows with the arrow keys and Home", async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => item(1000 - i));
    const router = createMemoryRouter(
      [{ path: "/", element: <EventList rows={rows} hasMore={false} loadingMore={false} onLoadMore={() => undefined} /> }],
      { initialEntries: ["/"] },
    );
    render(<RouterProvider router={router} />);
    const user = userEvent.setup();
    const links = within(screen.getByRole("list", { name: "Events, newest first" })).getAllByRole("link");
    links[0]!.focus();
    await user.keyboard("{ArrowDown}");
    await waitFor(() => expect(document.activeElement?.closest("[data-index]")).toHaveAttribute("data-index", "1"));
    await user.keyboard("{ArrowUp}");
    await waitFor(() => expect(document.activeElement?.closest("[data-index]")).toHaveAttribute("data-index", "0"));
    await user.keyboard("{ArrowDown}{ArrowDown}{ArrowDown}{Home}");
    await waitFor(() => expect(document.activeElement?.closest("[data-index]")).toHaveAttribute("data-index", "0"));
  });
});
