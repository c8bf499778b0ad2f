/**
 * Changing the shard count between previews on the same recovery log, with
 * a connector that keeps its checkpoint in the runtime's recovery log
 * (materialize-redis): a split starts each child from its parent's log (as
 * Flow's split does), a merge of logs that agree resumes where they all
 * stopped, and a merge of logs that disagree is refused before anything
 * runs. The fixture sums `n`, so any replay shows. Uses the local Redis
 * server (REDIS_URL); needs a build (the connector runs from dist/).
 */
import { afterAll, describe, expect, it } from "vitest";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runMaterializePreview } from "../../src/harness/materialize-runtime.js";
import { createLogger } from "../../src/log.js";
import { dropNamespace, namespace, redis, REDIS_URL } from "../../connectors/materialize-redis/test-support.js";

const r = redis();
const used: string[] = [];
afterAll(async () => {
  for (const n of used) await dropNamespace(r, n);
  r.disconnect();
});
const quiet = createLogger({ level: "error" });

const SCHEMA = {
  type: "object",
  reduce: { strategy: "merge" },
  properties: { id: { type: "integer" }, n: { type: "integer", reduce: { strategy: "sum" } } },
  required: ["id"],
};

/** Transactions adding `n` to ids 1..10, so every id's sum is known. */
function txns(count: number, n: number): string {
  let out = "";
  for (let t = 0; t < count; t++) {
    for (let id = 1; id <= 10; id++) out += JSON.stringify(["acmeCo/things", { id, n }]) + "\n";
    out += '{"commit": true}\n';
  }
  return out;
}

function setup() {
  const ns = namespace();
  used.push(ns);
  const dir = mkdtempSync(join(tmpdir(), "harness-topology-"));
  const catalog = join(dir, "flow.json");
  writeFileSync(
    catalog,
    JSON.stringify({
      collections: { "acmeCo/things": { schema: SCHEMA, key: ["/id"] } },
      materializations: {
        "acmeCo/redis": {
          endpoint: { connector: { image: "ghcr.io/tributary-dev/materialize-redis:dev", config: { address: REDIS_URL, advanced: { internal_prefix: `${ns}:internal` } } } },
          bindings: [{ resource: { prefix: `${ns}:json` }, source: "acmeCo/things" }],
        },
      },
    }),
  );
  const fixture = join(dir, "fixture.jsonl");
  const rl = join(dir, "recovery.json");
  const run = (shards: number) => runMaterializePreview({ catalog, fixture, recoveryLog: rl, shards, log: quiet, timeoutMs: 60_000 });
  const sums = async () => {
    const out: number[] = [];
    for (let id = 1; id <= 10; id++) out.push(JSON.parse((await r.get(`${ns}:json:${id}`)) ?? '{"n":null}').n);
    return out;
  };
  return { fixture, rl, run, sums };
}

describe("shard count changes on one recovery log (materialize-redis)", () => {
  it("3 shards, then 1: the merged shard resumes where all three stopped; more input is applied once", async () => {
    const s = setup();
    writeFileSync(s.fixture, txns(2, 1));
    await s.run(3);
    expect(await s.sums()).toEqual(Array(10).fill(2));
    const merged = await s.run(1);
    expect(merged.stats.transactions).toBe(0);
    expect(await s.sums()).toEqual(Array(10).fill(2));
    // The sub-range logs are retired; new input goes through the merged log only.
    for (const name of ["00000000-55555554", "55555555-aaaaaaa9", "aaaaaaaa-ffffffff"]) {
      expect(JSON.parse(readFileSync(`${s.rl}.${name}`, "utf8")).retired).toBe(true);
    }
    appendFileSync(s.fixture, txns(1, 10));
    await s.run(1);
    expect(await s.sums()).toEqual(Array(10).fill(12));
  });

  it("1 shard, then 2, then 1 again: each split child starts from its parent's log, and the stale parent is not reused", async () => {
    const s = setup();
    writeFileSync(s.fixture, txns(2, 1));
    await s.run(1);
    appendFileSync(s.fixture, txns(1, 10));
    const split = await s.run(2);
    expect(split.shards.map((x) => x.resumedFrom)).toEqual([["recovery-log"], ["recovery-log"]]);
    expect(await s.sums()).toEqual(Array(10).fill(12));
    appendFileSync(s.fixture, txns(1, 100));
    await s.run(1);
    expect(await s.sums()).toEqual(Array(10).fill(112));
  });

  it("refuses to merge shards whose logs stopped at different positions, before running anything", async () => {
    const s = setup();
    writeFileSync(s.fixture, txns(2, 1));
    await s.run(2);
    // As if the second shard's last run had stopped one transaction early.
    const second = `${s.rl}.80000000-ffffffff`;
    const rec = JSON.parse(readFileSync(second, "utf8"));
    rec.sources["fixture/fixture.jsonl"] = Buffer.byteLength(txns(1, 1));
    writeFileSync(second, JSON.stringify(rec));
    await expect(s.run(1)).rejects.toThrow(
      /cannot run range 00000000-ffffffff on recovery log .*recovery\.json: it would merge shards 00000000-7fffffff at .*, 80000000-ffffffff at .*, whose read positions or connector states differ\. Flow never merges shards/,
    );
    expect(await s.sums()).toEqual(Array(10).fill(2));
    // Nothing was written: no merged log, no retired shard log.
    expect(JSON.parse(readFileSync(second, "utf8")).retired).toBeUndefined();
    expect(existsSync(s.rl)).toBe(false);
  });
});
