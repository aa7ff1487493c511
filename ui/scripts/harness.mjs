// What the UI's end-to-end test and benchmark share: a real `steward serve`
// on a fresh PostgreSQL database, serving the built UI, and Debian's
// Chromium driven by playwright-core (never a downloaded browser).
import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ui = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const dist = path.join(ui, "dist");
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(process.env.HOME ?? "/root", ".cache/steward/target");
export const adminUrl = process.env.STEWARD_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** The steward binary: $STEWARD_BIN, else cargo's `profile` build. */
export function stewardBin(profile = "debug") {
  return process.env.STEWARD_BIN ?? path.join(targetDir, profile, "steward");
}

/** Stops the process with `message` unless everything needed is there. */
export function checkPrerequisites(bin, tool) {
  const missing = (message) => {
    console.error(`${tool}: ${message}`);
    process.exit(1);
  };
  if (!existsSync(path.join(dist, "index.html"))) missing(`no built UI in ${dist}: run \`npm --prefix ui run build\``);
  if (!existsSync(bin)) missing(`no steward binary at ${bin} (cargo build, or set STEWARD_BIN)`);
  if (!existsSync(chromiumPath)) missing(`no Chromium at ${chromiumPath}: apt-get install chromium (or set CHROMIUM)`);
}

const psql = (sql) => execFileSync("psql", [adminUrl, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], { stdio: "pipe" });

/**
 * `steward serve` (`bin`) on a new database, listening on a free loopback
 * port, serving ui/dist. Resolves once it logged its address and setup
 * code; `stop()` ends it and drops the database.
 */
export async function startSteward(bin, label) {
  const database = `steward_ui_${label}_${randomUUID().replaceAll("-", "")}`;
  psql(`CREATE DATABASE ${database}`);
  const databaseUrl = `${adminUrl.slice(0, adminUrl.lastIndexOf("/"))}/${database}`;
  const work = mkdtempSync(path.join(tmpdir(), `steward-ui-${label}-`));
  // Only what is set here: none of the caller's STEWARD_* or DATABASE_URL.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("STEWARD_") && key !== "DATABASE_URL"),
  );
  const serve = spawn(bin, ["serve"], {
    cwd: work,
    env: {
      ...env,
      DATABASE_URL: databaseUrl,
      STEWARD_LISTEN: "127.0.0.1:0",
      STEWARD_UI_DIR: dist,
      // The vector memory and planner need the models; the UI's flows do not.
      STEWARD_MEMORY: "false",
      STEWARD_LOG: "info",
      NO_COLOR: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let exited = null;
  const waiters = new Set();
  const wake = () => waiters.forEach((waiter) => waiter());
  serve.stdout.on("data", (chunk) => {
    output += chunk.toString();
    wake();
  });
  serve.stderr.on("data", (chunk) => {
    output += chunk.toString();
    wake();
  });
  serve.on("exit", (code, signal) => {
    exited = { code, signal };
    wake();
  });

  /** The first match of `pattern` in serve's output, waiting for it. */
  const fromLog = (pattern, what, timeoutMs = 60_000) =>
    new Promise((resolve, reject) => {
      const done = () => {
        waiters.delete(check);
        clearTimeout(timer);
      };
      const check = () => {
        const match = output.match(pattern);
        if (match) {
          done();
          resolve(match);
        } else if (exited) {
          done();
          reject(new Error(`steward serve exited (${JSON.stringify(exited)}) before logging ${what}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`steward serve did not log ${what} in ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });

  const stop = async () => {
    if (!exited) {
      serve.kill("SIGTERM");
      await new Promise((resolve) => {
        const timer = setTimeout(() => {
          serve.kill("SIGKILL");
          resolve();
        }, 15_000);
        serve.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    try {
      psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    } catch (error) {
      console.error(`could not drop ${database}: ${error}`);
    }
    rmSync(work, { recursive: true, force: true });
  };

  try {
    const [, base] = await fromLog(/HTTP API listening: (https?:\/\/[^/\s]+)\/api\/v1/, "its address");
    const [, setupCode] = await fromLog(/one-time setup code ([^\s,]+)/, "the setup code");
    return { base, setupCode, database, log: () => output, stop };
  } catch (error) {
    console.error(output.slice(-4000));
    await stop();
    throw error;
  }
}

/** Headless Chromium with the flags this machine's closed network needs. */
export function launchChromium() {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
