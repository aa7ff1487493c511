#!/usr/bin/env node
// Benchmark of the event timeline (a script, not a test): a real `steward
// serve` on a fresh PostgreSQL database is filled with BENCH_EVENTS events
// (default 100,000), then Chromium measures
//   - the time from navigation to the first rendered timeline rows, and
//   - frame times while scrolling down through the timeline for
//     BENCH_SCROLL_SECONDS (default 15), pages loading as it goes,
// and prints them as JSON. Loopback only.
//
//   npm --prefix ui run bench     (after `npm --prefix ui run build`)
//
// STEWARD_BIN picks the binary (a release build gives the server's real
// speed: `cargo build --release --bin steward`, then
// STEWARD_BIN=$CARGO_TARGET_DIR/release/steward).
import { execFileSync } from "node:child_process";
import { adminUrl, checkPrerequisites, launchChromium, startSteward, stewardBin } from "./harness.mjs";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const SCROLL_SECONDS = Number(process.env.BENCH_SCROLL_SECONDS ?? 15);
/** Streams written in parallel, one writer each, so commands never conflict. */
const WRITERS = 32;

const bin = stewardBin(process.env.BENCH_PROFILE ?? "debug");
checkPrerequisites(bin, "bench");
const started = Date.now();
const log = (message) => console.error(`[bench ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** A UUIDv7 (time-ordered), as Steward's writers choose event ids. */
function uuidv7() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i += 1) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function seedThroughSql(database) {
  const url = `${adminUrl.slice(0, adminUrl.lastIndexOf("/"))}/${database}`;
  const perCall = 1000;
  const quote = (text) => `'${text.replaceAll("'", "''")}'`;
  const array = (values, type) => `ARRAY[${values.join(",")}]::${type}[]`;
  let sql = "";
  for (let first = 0; first < EVENTS; first += perCall) {
    const n = Math.min(perCall, EVENTS - first);
    const items = Array.from({ length: n }, (_, i) => first + i);
    const correlation = uuidv7();
    sql += `SELECT steward_append(${quote(`shoppinglist-bench${first / perCall}`)}, -2,
      ${array(items.map(() => quote(uuidv7())), "uuid")},
      ${array(items.map(() => "'ItemListed'"), "text")},
      ${array(items.map(() => "1"), "integer")},
      ${array(items.map((i) => quote(JSON.stringify({ item: `item ${i}`, quantity: null, unit: null, because: "requested" }))), "jsonb")},
      ${array(items.map(() => "NULL"), "bytea")},
      ${array(items.map(() => quote(correlation)), "uuid")},
      ${array(items.map(() => "NULL"), "uuid")},
      ${array(items.map(() => quote(uuidv7())), "text")},
      ${array(items.map(() => "'user:bench'"), "text")},
      ${array(items.map(() => "'[]'"), "jsonb")});\n`;
  }
  execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-qAt"], { input: sql, stdio: ["pipe", "ignore", "inherit"], maxBuffer: 1 << 30 });
}

async function seedThroughApi(base, headers) {
  let sent = 0;
  const writer = async (w) => {
    for (let i = w; i < EVENTS; i += WRITERS) {
      const response = await fetch(`${base}/api/v1/commands`, {
        method: "POST",
        headers,
        body: JSON.stringify({ stream_id: `shoppinglist-bench${w}`, command_type: "ListItem", data: { item: `item ${i}` } }),
      });
      if (!response.ok) throw new Error(`command ${i}: ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
      sent += 1;
      if (sent % 10_000 === 0) log(`${sent} events written`);
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
}

async function run(steward) {
  const { base } = steward;
  const setup = await fetch(`${base}/api/v1/setup`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      code: steward.setupCode,
      username: "owner",
      display_name: "Bench Owner",
      password: "a long enough password",
    }),
  });
  if (!setup.ok) throw new Error(`setup: ${setup.status} ${await setup.text()}`);
  const session = await setup.json();
  const cookie = setup.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const headers = { "Content-Type": "application/json", "X-CSRF-Token": session.csrf_token, Cookie: cookie };

  // Fill the log. Through the API (BENCH_SEED=api) a debug build takes
  // about 150 commands a second; by default the events go straight in
  // through the store's own append function (steward_append, as ops/check
  // calls it), 1,000 per call, shaped as ListItem records them: the
  // benchmark is of the UI, not of the command path.
  const seedStart = Date.now();
  if (process.env.BENCH_SEED === "api") {
    await seedThroughApi(base, headers);
  } else {
    seedThroughSql(steward.database);
  }
  const seedSeconds = (Date.now() - seedStart) / 1000;
  log(`${EVENTS} events written in ${seedSeconds.toFixed(0)} s`);

  // Wait for the timeline's read model to hold them all.
  for (;;) {
    const response = await fetch(`${base}/api/v1/projections`, { headers });
    const timeline = (await response.json()).find((p) => p.name === "timeline");
    if (timeline && timeline.state === "live" && timeline.lag_events === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  log("the timeline has caught up");

  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    await context.addCookies(
      setup.headers.getSetCookie().map((c) => {
        const [name, ...value] = c.split(";")[0].split("=");
        return { name, value: value.join("="), url: base };
      }),
    );
    const page = await context.newPage();

    // Time to the first rows: from navigation to the first row in the DOM.
    const navigated = Date.now();
    await page.goto(`${base}/timeline`);
    await page.waitForSelector('[role="listitem"][data-index="0"]');
    const firstRowsMs = Date.now() - navigated;
    log(`first rows after ${firstRowsMs} ms`);

    // Scroll down steadily, measuring every frame, as pages load.
    const scroll = await page.evaluate(async (seconds) => {
      const scroller = document.querySelector(".event-scroller");
      if (!scroller) throw new Error("no .event-scroller");
      const frames = [];
      let last = performance.now();
      const end = last + seconds * 1000;
      let maxRows = 0;
      await new Promise((resolve) => {
        const step = (now) => {
          frames.push(now - last);
          last = now;
          scroller.scrollTop += 600;
          maxRows = Math.max(maxRows, document.querySelectorAll('[role="listitem"]').length);
          if (now < end) requestAnimationFrame(step);
          else resolve();
        };
        requestAnimationFrame(step);
      });
      const loaded = document.querySelector(".count")?.textContent ?? "";
      return { frames, maxRows, loaded, scrollTop: scroller.scrollTop };
    }, SCROLL_SECONDS);
    const sorted = [...scroll.frames].sort((a, b) => a - b);
    return {
      events_in_store: EVENTS,
      seed_seconds: Math.round(seedSeconds),
      first_rows_ms: firstRowsMs,
      scroll: {
        seconds: SCROLL_SECONDS,
        frames: sorted.length,
        frame_ms_p50: Number(percentile(sorted, 50).toFixed(1)),
        frame_ms_p95: Number(percentile(sorted, 95).toFixed(1)),
        frame_ms_p99: Number(percentile(sorted, 99).toFixed(1)),
        frame_ms_max: Number((sorted.at(-1) ?? 0).toFixed(1)),
        frames_over_50ms: sorted.filter((f) => f > 50).length,
        most_rows_in_dom: scroll.maxRows,
        scrolled_px: Math.round(scroll.scrollTop),
        loaded: scroll.loaded,
      },
    };
  } finally {
    await browser.close();
  }
}

const steward = await startSteward(bin, "bench");
try {
  console.log(JSON.stringify(await run(steward), null, 2));
  await steward.stop();
} catch (error) {
  console.error(error);
  console.error(steward.log().slice(-4000));
  await steward.stop();
  process.exit(1);
}
