/**
 * `npm run bench`: runs every benchmark script in this folder, one after
 * another (they measure the machine; running two at once would skew both).
 * Pass names to run only some: `npm run bench -- materialize-postgres`.
 * `--repeat N` runs each chosen script N times and then prints, per
 * measurement, the median of each figure over the runs:
 * `npm run bench -- --repeat 3 transport-stdio`.
 */
import { readdirSync } from "node:fs";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { RESULT_ENV, RESULT_PREFIX, medianTable, type Measurement } from "./_measure.js";

const here = fileURLToPath(new URL(".", import.meta.url));

function parse(argv: string[]): { repeat: number; only: string[] } {
  let repeat = 1;
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--repeat(?:=(.*))?$/.exec(a);
    if (!m) {
      only.push(a);
      continue;
    }
    const value = m[1] ?? argv[++i];
    if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1) {
      throw new Error(`--repeat needs a whole number of runs, 1 or more, got ${JSON.stringify(value ?? "")}`);
    }
    repeat = Number(value);
  }
  return { repeat, only };
}

/** Runs one script, passing its output through minus the result lines, which it returns. */
function runScript(path: string): Promise<{ ok: boolean; results: Measurement[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path], { stdio: ["inherit", "pipe", "inherit"], env: { ...process.env, [RESULT_ENV]: "1" } });
    const results: Measurement[] = [];
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      if (line.startsWith(RESULT_PREFIX)) results.push(JSON.parse(line.slice(RESULT_PREFIX.length)) as Measurement);
      else process.stdout.write(line + "\n");
    });
    child.on("error", reject);
    // "close" comes after stdout ended, so every line has been read by then.
    child.on("close", (code) => resolve({ ok: code === 0, results }));
  });
}

let options: { repeat: number; only: string[] };
try {
  options = parse(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
const { repeat, only } = options;
const scripts = readdirSync(here)
  .filter((f) => f.endsWith(".js") && f !== "run.js" && !f.startsWith("_"))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

let failed = 0;
for (const script of scripts) {
  const name = script.replace(/\.js$/, "");
  const results: Measurement[] = [];
  for (let run = 1; run <= repeat; run++) {
    process.stdout.write(`\n== ${name}${repeat > 1 ? ` (run ${run} of ${repeat})` : ""}\n`);
    const r = await runScript(here + script);
    if (!r.ok) failed++;
    results.push(...r.results);
  }
  if (repeat > 1) {
    process.stdout.write(`\n== ${name}: median of ${repeat} runs\n`);
    process.stdout.write(results.length ? medianTable(repeat, results) : "(no results)\n");
  }
}
process.exit(failed ? 1 : 0);
