/**
 * `npm run bench`: runs every benchmark script in this folder, one after
 * another (they measure the machine; running two at once would skew both).
 * Pass names to run only some: `npm run bench -- materialize-postgres`.
 */
import { readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const only = process.argv.slice(2);
const scripts = readdirSync(here)
  .filter((f) => f.endsWith(".js") && f !== "run.js" && !f.startsWith("_"))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

let failed = 0;
for (const script of scripts) {
  process.stdout.write(`\n== ${script.replace(/\.js$/, "")}\n`);
  const r = spawnSync(process.execPath, [here + script], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
