/**
 * The runtime side stays bounded for huge transactions: the combiner spills
 * sorted runs to disk past its memory budget and merges them on drain,
 * reducing exactly as the in-memory combiner does. Also a capture preview
 * whose single transaction is far larger than the budget.
 */
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Combiner } from "../../src/harness/combiner.js";
import { SpillingCombiner } from "../../src/harness/spill-combiner.js";
import { buildShape } from "../../src/harness/schema-shape.js";
import { packTuple } from "../../src/harness/tuple.js";
import { runCapturePreview } from "../../src/harness/index.js";
import { createLogger } from "../../src/log.js";

const SCHEMA = {
  type: "object",
  reduce: { strategy: "merge" },
  properties: {
    id: { type: "integer" },
    n: { type: "integer", reduce: { strategy: "sum" } },
    last: { type: "string" },
    tags: { type: "array", reduce: { strategy: "append" } },
    pad: { type: "string" },
  },
};

const spillDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith("tributary-combine-"));

describe("spilling combiner", () => {
  it("spills a transaction far over its budget as sorted runs, holds little in memory, and reduces like the in-memory combiner", () => {
    const shapes = [buildShape(SCHEMA), buildShape(SCHEMA)];
    const budget = 256 * 1024;
    const spilling = new SpillingCombiner(shapes, budget);
    const plain = new Combiner(shapes);
    const before = new Set(spillDirs());
    let seed = 11;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), Math.floor(seed / 65536) % n);
    let maxInMemory = 0;
    const docs = 60_000;
    let bytes = 0;
    for (let i = 0; i < docs; i++) {
      const binding = rand(2);
      const id = rand(5_000);
      const doc = { id, n: 1 + rand(9), last: `v${i}`, tags: [i], pad: "x".repeat(rand(200)) };
      const text = JSON.stringify(doc);
      bytes += text.length;
      spilling.add(binding, [id], doc, packTuple([id]), text.length);
      plain.add(binding, [id], structuredClone(doc));
      maxInMemory = Math.max(maxInMemory, spilling.inMemory);
    }
    // Many runs; never more entries in memory than the budget allows (at
    // least ENTRY_OVERHEAD bytes each), far fewer than the keys seen.
    expect(bytes).toBeGreaterThan(20 * budget);
    expect(spilling.spills).toBeGreaterThan(10);
    expect(maxInMemory).toBeLessThan(budget / 1000 + 1);
    const dirs = spillDirs().filter((d) => !before.has(d));
    expect(dirs.length).toBe(1);
    const merged = [...spilling.drain()];
    const expected = plain.drain();
    expect(merged.length).toBe(expected.length);
    for (const [i, e] of expected.entries()) {
      expect(merged[i]!.binding).toBe(e.binding);
      expect(Buffer.compare(merged[i]!.packed, e.packed)).toBe(0);
      expect(merged[i]!.key).toEqual(e.key);
      expect(merged[i]!.doc).toEqual(e.doc);
    }
    // The spill file is gone once drained.
    expect(existsSync(join(tmpdir(), dirs[0]!))).toBe(false);
  });

  it("reduces loaded documents under the combined ones and marks their keys loaded, before and after a spill", () => {
    const shapes = [buildShape(SCHEMA)];
    for (const budget of [1 << 30, 32 * 1024]) {
      const spilling = new SpillingCombiner(shapes, budget);
      const plain = new Combiner(shapes);
      for (let i = 0; i < 4_000; i++) {
        const id = (i * 37) % 1_000;
        const doc = { id, n: 1, last: `v${i}`, tags: [i] };
        spilling.add(0, [id], doc, packTuple([id]));
        plain.add(0, [id], structuredClone(doc));
      }
      // Every third key was stored before: its loaded document goes under.
      for (let id = 0; id < 1_000; id += 3) {
        const loaded = { id, n: 100, last: "stored", tags: [-1] };
        spilling.addLoaded(0, [id], loaded, packTuple([id]));
        plain.addLoaded(0, packTuple([id]), structuredClone(loaded));
      }
      if (budget < 1 << 30) expect(spilling.spills).toBeGreaterThan(3);
      else expect(spilling.spills).toBe(0);
      const merged = [...spilling.drain()];
      const expected = plain.drain();
      expect(merged.map((e) => [e.key, e.doc, e.loaded === true])).toEqual(expected.map((e) => [e.key, e.doc, e.loaded === true]));
      expect(merged.filter((e) => e.loaded).length).toBe(334);
    }
  });

  it("stays in memory (no spill file) while under budget", () => {
    const c = new SpillingCombiner([buildShape(SCHEMA)], 1 << 20);
    for (let i = 0; i < 100; i++) c.add(0, [i % 10], { id: i % 10, n: 1 }, packTuple([i % 10]));
    expect(c.spills).toBe(0);
    const out = [...c.drain()];
    expect(out.map((e) => (e.doc as { n: number }).n)).toEqual(Array(10).fill(10));
  });

  it("a capture preview passes one transaction many times its budget, streaming documents in key order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "harness-spill-"));
    const catalog = join(dir, "flow.json");
    writeFileSync(
      catalog,
      JSON.stringify({
        collections: { "acmeCo/greetings": { schema: { type: "object", properties: { count: { type: "integer" }, message: { type: "string" } }, required: ["count", "message"] }, key: ["/count"] } },
        captures: {
          "acmeCo/hello": {
            endpoint: { connector: { image: "ghcr.io/estuary/source-hello-world:v1", config: { rate: 0, perCheckpoint: 30_000 } } },
            bindings: [{ resource: { name: "greetings" }, target: "acmeCo/greetings" }],
          },
        },
      }),
    );
    let last = 0;
    let streamed = 0;
    let spills = -1;
    const res = await runCapturePreview({
      catalog,
      sessions: [1],
      collect: false,
      combinerBudgetBytes: 64 * 1024,
      log: createLogger({ level: "error" }),
      onDocument: (_c, doc) => {
        const n = (doc as { count: number }).count;
        expect(n).toBe(last + 1);
        last = n;
        streamed++;
      },
      onTransaction: (t) => {
        spills = t.spills;
        expect(t.documents).toEqual([]);
      },
    });
    expect(res.stats.transactions).toBe(1);
    // The runtime folds checkpoints that arrive before it commits into one transaction (as Flow
    // does), so a fast connector may fill it with two or more whole checkpoints of 30,000.
    expect(streamed).toBeGreaterThanOrEqual(30_000);
    expect(streamed % 30_000).toBe(0);
    expect(streamed).toBe(last);
    expect(spills).toBeGreaterThan(5);
  });
});
