#!/usr/bin/env node
// End-to-end test of the web UI: a real `steward serve` on a fresh
// PostgreSQL database, serving the built UI (ui/dist) from its own origin,
// driven in Debian's Chromium by playwright-core (no browser download).
//
//   npm --prefix ui run e2e        (after `npm --prefix ui run build`)
//
// Environment: STEWARD_BIN (default $CARGO_TARGET_DIR/debug/steward),
// STEWARD_TEST_PG_URL (an admin URL, default
// postgres://postgres@127.0.0.1:5432/postgres), CHROMIUM (default
// /usr/bin/chromium), STEWARD_SCREENSHOTS (default
// $CARGO_TARGET_DIR/ui-screenshots, or ui/test-results/screenshots).
//
// Flows: first run → owner created → timeline; a live event appears while
// tailing; filtering (URL and rows); event detail; approvals; log out and
// in; an ended session sends the user to login and back where they were;
// a causation chain (low stock → the saga's shopping-list item);
// an axe check of each view (no serious or critical violation);
// screenshots of each view, on a desktop and a phone-sized screen.
import { mkdirSync } from "node:fs";
import path from "node:path";
import assert from "node:assert/strict";
import { AxeBuilder } from "@axe-core/playwright";
import { checkPrerequisites, launchChromium, startSteward, stewardBin, ui } from "./harness.mjs";

const shots =
  process.env.STEWARD_SCREENSHOTS ??
  (process.env.CARGO_TARGET_DIR
    ? path.join(process.env.CARGO_TARGET_DIR, "ui-screenshots")
    : path.join(ui, "test-results/screenshots"));

const started = Date.now();
const log = (message) => console.log(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);

const bin = stewardBin();
checkPrerequisites(bin, "e2e");
mkdirSync(shots, { recursive: true });

let browser;
let steward;
async function cleanUp() {
  await browser?.close().catch(() => undefined);
  await steward?.stop();
}

// ---------------------------------------------------------------- helpers
const OWNER = { username: "owner", display: "Ada Owner", password: "a long enough password" };

async function screenshot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

/** Fails on any serious or critical axe violation of the page as it is. */
async function axe(page, view) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    [],
    `axe violations on ${view}`,
  );
}

/** Sends a command as the logged-in user, the way any client would. */
async function sendCommand(page, command) {
  return page.evaluate(async (body) => {
    const session = await (await fetch("/api/v1/session")).json();
    const response = await fetch("/api/v1/commands", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf_token },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }, command);
}

const rowsOf = (page) => page.getByRole("list", { name: "Events, newest first" }).getByRole("listitem");

// ---------------------------------------------------------------- the flows
async function run() {
  steward = await startSteward(bin, "e2e");
  const { base, setupCode: code } = steward;
  log(`serve at ${base} on ${steward.database}`);
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("pageerror", (error) => consoleErrors.push(String(error)));

  // First run: any page leads to the owner's creation.
  await page.goto(`${base}/timeline`);
  await page.getByRole("heading", { name: "Welcome to Steward" }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/setup");
  await axe(page, "setup");
  await screenshot(page, "setup");
  await page.getByLabel("Setup code").fill(code);
  await page.getByLabel("Username").fill(OWNER.username);
  await page.getByLabel("Display name").fill(OWNER.display);
  await page.getByLabel("Password").fill(OWNER.password);
  await page.getByRole("button", { name: "Create the owner" }).click();
  await page.getByRole("heading", { name: "Timeline" }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/timeline");
  log("first run: owner created, on the timeline");

  // Live tail: a command sent now shows up at the top, marked new.
  await page.getByText("Live: new events appear at the top").waitFor();
  const listed = await sendCommand(page, {
    stream_id: "shoppinglist-home",
    command_type: "ListItem",
    data: { item: "oat milk" },
  });
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  const liveRow = rowsOf(page).filter({ hasText: "ItemListed" }).first();
  await liveRow.waitFor();
  await liveRow.getByText("new").waitFor();
  log("live: the listed item appeared while tailing");

  // Pausing stops the tail; a command sent meanwhile shows once resumed.
  await page.getByRole("button", { name: "Pause live tail" }).click();
  await page.getByText("Live tail paused").waitFor();
  const second = await sendCommand(page, {
    stream_id: "shoppinglist-home",
    command_type: "ListItem",
    data: { item: "rye bread" },
  });
  assert.equal(second.status, 200, JSON.stringify(second.body));
  await page.waitForTimeout(700);
  assert.equal(await rowsOf(page).filter({ hasText: "ItemListed" }).count(), 1, "paused, yet a row arrived");
  await page.getByRole("button", { name: "Resume live tail" }).click();
  await page.waitForFunction(
    () => document.querySelectorAll('[role="listitem"]').length > 0 &&
      [...document.querySelectorAll('[role="listitem"]')].filter((row) => row.textContent?.includes("ItemListed")).length === 2,
  );
  log("pause: nothing arrived while paused; both items after resuming");
  await axe(page, "timeline");
  await screenshot(page, "timeline");

  // Filters go into the URL, and the rows are the server's answer to them.
  await page.getByLabel("Event type").fill("ItemListed");
  await page.getByLabel("Stream").fill("shoppinglist-home");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL((url) => url.searchParams.get("type") === "ItemListed");
  assert.equal(new URL(page.url()).searchParams.get("stream"), "shoppinglist-home");
  // The timeline read model is a projection: wait for it to hold both.
  await page.waitForFunction(() => document.querySelectorAll('[role="listitem"]').length === 2);
  const types = await rowsOf(page).locator(".type").allTextContents();
  assert.deepEqual(types, ["ItemListed", "ItemListed"]);
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('[role="listitem"]').length === 2);
  assert.equal(await page.getByLabel("Event type").inputValue(), "ItemListed", "filters survive a reload");
  // The keyboard moves between rows.
  await rowsOf(page).first().getByRole("link").focus();
  await page.keyboard.press("End");
  await page.waitForFunction(() => document.activeElement?.closest("[data-index]")?.getAttribute("data-index") === "1");
  await page.keyboard.press("ArrowUp");
  await page.waitForFunction(() => document.activeElement?.closest("[data-index]")?.getAttribute("data-index") === "0");
  await screenshot(page, "timeline-filtered");
  log("filters: URL updated, rows match, kept across a reload");

  // Event detail with data, metadata and the causation chain.
  await rowsOf(page).filter({ hasText: "ItemListed" }).last().getByRole("link").click();
  await page.getByRole("heading", { name: "ItemListed" }).waitFor();
  assert.match(new URL(page.url()).pathname, /^\/events\/[0-9a-f-]{36}$/);
  await page.getByLabel("Event data as JSON").getByText('"oat milk"').waitFor();
  await page.getByRole("heading", { name: "Metadata" }).waitFor();
  await page.getByRole("heading", { name: "Causation chain" }).waitFor();
  await axe(page, "event detail");
  await screenshot(page, "event-detail");
  const detailPath = new URL(page.url()).pathname;
  await page.getByRole("link", { name: "← Back to the timeline" }).click();
  await page.waitForURL((url) => url.pathname === "/timeline" && url.searchParams.get("type") === "ItemListed");
  log("detail: data, metadata, chain; back keeps the filters");

  // Approvals queue (empty without the planner).
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Approvals" }).click();
  await page.getByRole("heading", { name: "Approvals" }).waitFor();
  await page.getByText("Nothing is waiting for your answer.").waitFor();
  await axe(page, "approvals");
  await screenshot(page, "approvals");

  // Log out, then in again.
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("heading", { name: "Log in to Steward" }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/login");
  await axe(page, "login");
  await screenshot(page, "login");
  await page.goto(`${base}/timeline`);
  await page.waitForURL((url) => url.pathname === "/login" && url.searchParams.get("next") === "/timeline");
  await page.getByLabel("Username").fill(OWNER.username);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("alert").getByText("wrong username or password").waitFor();
  await page.getByLabel("Password").fill(OWNER.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Timeline" }).waitFor();
  log("logout and login");

  // An ended session: the next request's 401 leads to login, then back.
  await page.goto(`${base}${detailPath}`);
  await page.getByRole("heading", { name: "ItemListed" }).waitFor();
  await context.clearCookies();
  await page.getByRole("link", { name: "shoppinglist-home" }).first().click();
  await page.waitForURL((url) => url.pathname === "/login");
  const next = new URL(page.url()).searchParams.get("next");
  assert.equal(next, "/timeline?stream=shoppinglist-home");
  await page.getByLabel("Username").fill(OWNER.username);
  await page.getByLabel("Password").fill(OWNER.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL((url) => `${url.pathname}${url.search}` === next);
  await page.waitForFunction(() => document.querySelectorAll('[role="listitem"]').length >= 2);
  log("session expiry: back to login, then where the user was");

  // A causation chain: stock running low leads the low-stock saga to list
  // the item. The filtered live tail shows StockRanLow as it happens.
  await page.goto(`${base}/timeline?type=StockRanLow`);
  await page.getByText("Live: new events appear at the top").waitFor();
  for (const [command_type, data] of [
    ["StockItem", { item: "coffee beans", quantity: 3, unit: "kg" }],
    ["SetReorderLevel", { item: "coffee beans", reorder_below: 1, restock_to: 4 }],
    ["UseItem", { item: "coffee beans", quantity: 2 }],
  ]) {
    const sent = await sendCommand(page, { stream_id: "pantry-home", command_type, data });
    assert.equal(sent.status, 200, `${command_type}: ${JSON.stringify(sent.body)}`);
  }
  const low = rowsOf(page).filter({ hasText: "StockRanLow" });
  await low.getByText("new").waitFor();
  assert.equal(await rowsOf(page).count(), 1, "only the filtered type arrives live");
  await low.getByRole("link").click();
  await page.getByRole("heading", { name: "StockRanLow" }).waitFor();
  // The saga answers asynchronously: look again until its effect shows.
  const effects = page.getByRole("list", { name: "It led to" });
  for (let attempt = 0; ; attempt += 1) {
    if ((await effects.count()) > 0 && (await effects.getByText("ItemListed").count()) > 0) break;
    assert.ok(attempt < 20, "the low-stock saga's ItemListed never showed in the chain");
    await page.waitForTimeout(500);
    await page.reload();
    await page.getByRole("heading", { name: "StockRanLow" }).waitFor();
  }
  await axe(page, "causation chain");
  await screenshot(page, "event-chain");
  await effects.getByRole("link", { name: /ItemListed/ }).click();
  await page.getByRole("heading", { name: "ItemListed" }).waitFor();
  await page.getByRole("list", { name: "Led to it (first cause first)" }).getByText("StockRanLow").waitFor();
  log("chain: StockRanLow led to the saga's ItemListed, and back");

  // A phone-sized screen.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await phone.addCookies(await context.cookies());
  const small = await phone.newPage();
  await small.goto(`${base}/timeline`);
  await small.getByRole("heading", { name: "Timeline" }).waitFor();
  await small.waitForFunction(() => document.querySelectorAll('[role="listitem"]').length >= 2);
  // Nothing reaches past the screen's right edge (a mobile browser would
  // widen its layout viewport rather than report an overflow).
  const overflow = await small.evaluate(
    () => Math.max(...[...document.querySelectorAll("body *")].map((e) => e.getBoundingClientRect().right)) - 390,
  );
  assert.ok(overflow <= 0, `the timeline is wider than a phone's screen by ${overflow}px`);
  await axe(small, "timeline on a phone");
  await screenshot(small, "timeline-phone");
  await phone.close();

  assert.deepEqual(consoleErrors, [], "uncaught errors in the page");
  log(`passed; screenshots in ${shots}`);
}

try {
  await run();
  await cleanUp();
} catch (error) {
  console.error(error);
  console.error(`--- steward serve's log (last 4000 characters) ---\n${steward?.log().slice(-4000) ?? ""}`);
  await cleanUp();
  process.exit(1);
}
