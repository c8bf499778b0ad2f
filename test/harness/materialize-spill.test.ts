/**
 * A materialization preview of one transaction far larger than the
 * combiner's budget (issue 11 item 12): the runtime side streams it through
 * the spilling combiner, so the preview runs in a heap much smaller than
 * the transaction, and the destination ends up exactly as the fixture
 * reduces (loaded documents under the transaction's, newest last). The
 * preview runs in a child process with a capped heap; before this change it
 * held every document, Load and Store of the transaction at once and could
 * not finish there. Needs a build (`npx tsc -p .`).
 */
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { repoRoot } from "../../src/harness/catalog.js";
import type { MaterializePreviewStats } from "../../src/harness/index.js";
import { readStore } from "../support/memory-materialize/store.js";

const root = repoRoot();
const run = promisify(execFile);

/** Keys of the table; transaction 1 stores every fourth, transaction 2 hits each key DOCS / KEYS times. */
const KEYS = 50_000;
const DOCS = 200_000;
const PAD = "x".repeat(300);
/** Heap cap (old space) of the preview process: far below what the transaction's ~70 MB of documents take parsed. */
const HEAP_MB = 64;

const SCHEMA = {
  type: "object",
  reduce: { strategy: "merge" },
  properties: {
    id: { type: "integer" },
    name: { type: "string" },
    n: { type: "integer", reduce: { strategy: "sum" } },
  },
  required: ["id"],
};

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "harness-mat-spill-"));
  const store = join(dir, "store.json");
  const catalog = join(dir, "flow.json");
  writeFileSync(
    catalog,
    JSON.stringify({
      collections: { "acmeCo/things": { schema: SCHEMA, key: ["/id"] } },
      materializations: {
        "acmeCo/memory": {
          endpoint: { local: { command: ["node", "<repo>/dist/test/support/memory-materialize/main.js"], config: { path: store } } },
          bindings: [{ resource: { table: "things" }, source: "acmeCo/things" }],
        },
      },
    }),
  );
  const lines: string[] = [];
  for (let id = 0; id < KEYS; id += 4) lines.push(JSON.stringify(["acmeCo/things", { id, name: "first", n: 1 }]));
  lines.push('{"commit":true}');
  // 7919 is prime to KEYS: every key is hit once per KEYS documents, in scattered order.
  const expected = new Map<number, { n: number; name: string }>();
  for (let id = 0; id < KEYS; id++) expected.set(id, { n: id % 4 === 0 ? 1 : 0, name: "first" });
  for (let i = 0; i < DOCS; i++) {
    const id = (i * 7919) % KEYS;
    const name = `v${i}-${PAD}`;
    lines.push(JSON.stringify(["acmeCo/things", { id, name, n: 1 }]));
    const e = expected.get(id)!;
    e.n++;
    e.name = name;
  }
  const fixture = join(dir, "fixture.jsonl");
  writeFileSync(fixture, lines.join("\n") + "\n");
  return { dir, store, catalog, fixture, expected };
}

describe("materialization preview of a transaction far over the combiner's budget", () => {
  it("streams it through spilled runs in a capped heap, storing exactly what the fixture reduces to", async () => {
    const s = setup();
    const script = join(s.dir, "preview.mjs");
    const dist = (p: string) => JSON.stringify(pathToFileURL(join(root, "dist", p)).href);
    writeFileSync(
      script,
      `import { runMaterializePreview } from ${dist("src/harness/index.js")};
import { createLogger } from ${dist("src/log.js")};
const res = await runMaterializePreview({ catalog: ${JSON.stringify(s.catalog)}, fixture: ${JSON.stringify(s.fixture)},
  recoveryLog: ${JSON.stringify(join(s.dir, "recovery.json"))}, combinerBudgetBytes: 4 << 20, log: createLogger({ level: "error" }) });
console.log(JSON.stringify({ stats: res.stats, maxRssKiB: process.resourceUsage().maxRSS }));
`,
    );
    const { stdout } = await run(process.execPath, [`--max-old-space-size=${HEAP_MB}`, script], { maxBuffer: 1 << 20 });
    const out = JSON.parse(stdout.trim().split("\n").pop()!) as { stats: MaterializePreviewStats; maxRssKiB: number };

    expect(out.stats.transactions).toBe(2);
    expect(out.stats.documents).toBe(KEYS / 4 + DOCS);
    expect(out.stats.spills).toBeGreaterThan(5);
    // Keys stored by transaction 1 are Loaded in transaction 2; each key is sent one Load at most.
    expect(out.stats.loaded).toBe(KEYS / 4);
    expect(out.stats.loads + out.stats.loadsSkipped).toBe(KEYS + KEYS / 4);
    expect(out.stats.stores).toBe(KEYS + KEYS / 4);
    // Peak RSS (heap, young generation, code and buffers) stays bounded:
    // about 190 MB here, where holding the transaction took 670 MB.
    expect(out.maxRssKiB / 1024).toBeLessThan(400);

    const rows = readStore(s.store).tables.things!.rows;
    expect(Object.keys(rows).length).toBe(KEYS);
    for (const [id, e] of s.expected) {
      const r = rows[JSON.stringify([id])];
      expect(r?.values.slice(0, 2)).toEqual([e.n, e.name]);
    }
  }, 300_000);
});
