/**
 * The materialization preview's summary reports what committed: per shard,
 * the transactions it committed (also those the connector committed before
 * a crash the recovery log did not see) and the read position it reached;
 * in stats, input transactions counted once, not once per shard. Spawns
 * bin/tributary with test/support/memory-materialize (needs a build).
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../src/harness/catalog.js";
import { readStore } from "../support/memory-materialize/store.js";

const root = repoRoot();
const FIXTURE = join(root, "test/harness/fixtures/things.jsonl"); // 4 transactions

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "harness-report-"));
  const store = join(dir, "store.json");
  const catalog = join(dir, "flow.yaml");
  writeFileSync(
    catalog,
    JSON.stringify({
      collections: {
        "acmeCo/things": {
          schema: { type: "object", reduce: { strategy: "merge" }, properties: { id: { type: "integer" }, n: { type: "integer", reduce: { strategy: "sum" } } }, required: ["id"] },
          key: ["/id"],
        },
      },
      materializations: {
        "acmeCo/memory": {
          endpoint: { local: { command: ["node", "<repo>/dist/test/support/memory-materialize/main.js"], config: { path: store } } },
          bindings: [{ resource: { table: "things" }, source: "acmeCo/things" }],
        },
      },
    }),
  );
  return { dir, store, catalog };
}

function preview(args: string[]) {
  const r = spawnSync(process.execPath, [join(root, "bin", "tributary"), "preview", ...args], { encoding: "utf8", env: { ...process.env, LOG_LEVEL: "warn" }, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`preview failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

describe("the materialization summary", () => {
  it("after --crash-at after-started-commit of the last transaction on 2 shards, reports every committed transaction and the final checkpoint", () => {
    const s = setup();
    const summary = preview(["--source", s.catalog, "--fixture", FIXTURE, "--recovery-log", join(s.dir, "rl.json"), "--crash-at", "after-started-commit:4", "--shards", "2"]);
    const end = statSync(FIXTURE).size;
    expect(summary.shards).toHaveLength(2);
    for (const shard of summary.shards) {
      expect(shard.crashes).toEqual(["after-started-commit:4"]);
      // The connector committed transaction 4 before the crash; the recovery log did not.
      expect(shard.resumedFrom).toEqual(["zero", "connector"]);
      expect(shard.transactions).toBe(4);
      expect(shard.checkpoint).toEqual({ "fixture/things.jsonl": end });
    }
    // Four input transactions, not four per shard.
    expect(summary.stats.transactions).toBe(4);
    // And the data agrees: 1 + 10 + 100.
    expect(readStore(s.store).tables.things!.rows["[1]"]!.values[0]).toBe(111);
  });

  it("counts a replayed transaction once", () => {
    const s = setup();
    const summary = preview(["--source", s.catalog, "--fixture", FIXTURE, "--crash-at", "mid-store:2,after-log-commit:3"]);
    expect(summary.stats.crashes).toBe(2);
    expect(summary.shards[0].transactions).toBe(4);
    expect(summary.stats.transactions).toBe(4);
  });
});
