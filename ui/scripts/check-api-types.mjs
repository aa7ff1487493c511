// Fails when src/api/schema.d.ts is not what openapi-typescript makes of
// the committed schemas/openapi.json (run `npm run gen:api` to update it).
import { readFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

const ui = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const committed = path.join(ui, "src/api/schema.d.ts");
const bin = path.join(ui, "node_modules/.bin/openapi-typescript");
// The CLI writes to stdout without -o, exactly as `npm run gen:api` writes the file.
const fresh = execFileSync(bin, [path.join(ui, "../schemas/openapi.json"), "--empty-objects-unknown"], {
  encoding: "utf8",
  stdio: ["ignore", "pipe", "pipe"],
  maxBuffer: 64 * 1024 * 1024,
});
const current = await readFile(committed, "utf8");
if (fresh !== current) {
  const a = fresh.split("\n");
  const b = current.split("\n");
  const line = a.findIndex((text, i) => text !== b[i]);
  console.error(
    `src/api/schema.d.ts is out of date with schemas/openapi.json (first difference at line ${line + 1}).\n` +
      "Regenerate it with `npm --prefix ui run gen:api` and commit it.",
  );
  process.exit(1);
}
console.log("API types match schemas/openapi.json");
