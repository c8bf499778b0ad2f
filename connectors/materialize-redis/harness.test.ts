/**
 * materialize-redis as a real process under the runtime harness
 * (src/harness): fixture runs through standard, hash and delta bindings, and
 * every crash point of the harness. The final keys and streams must equal a
 * run without crashes: nothing lost, nothing applied twice (the fixture sums
 * `n`, so a transaction counted twice would show).
 *
 * Needs `npx tsc -p .` first (the harness runs the image's entry point,
 * `tributary run materialize-redis`, from this checkout).
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runMaterializePreview } from "../../src/harness/materialize-runtime.js";
import { CRASH_POINTS, type CrashPoint } from "../../src/harness/faults.js";
import { createLogger } from "../../src/log.js";
import { dropNamespace, namespace, redis, REDIS_URL, snapshot } from "./test-support.js";
import { REPO } from "../../test/support/process.js";
import { imageMaterialization, TAGS_AND_NESTED, thingsCollection, writeCatalog } from "../../test/support/things-harness.js";

const FIXTURE = join(REPO, "test/harness/fixtures/things.jsonl");
const r = redis();
const used: string[] = [];
afterAll(async () => {
  for (const n of used) await dropNamespace(r, n);
  r.disconnect();
});

function catalog(ns: string, delivery = "exactly_once"): string {
  const config = { address: REDIS_URL, delivery, advanced: { internal_prefix: `${ns}:internal`, chunk_records: 1 } };
  return writeCatalog(
    "redis-harness-",
    thingsCollection(TAGS_AND_NESTED) +
      imageMaterialization("materialize-redis", "redis", config, [
        `{ prefix: "${ns}:json" }`,
        `{ prefix: "${ns}:hash", format: hash }`,
        `{ prefix: "${ns}:delta", delta_updates: true }`,
      ]),
  );
}

/** Everything a run left under its namespace, without the namespace, and without internal keys other than counters. */
async function outcome(ns: string) {
  const all = await snapshot(r, `${ns}:`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) {
    if (k.startsWith("internal:stamp:") || k.startsWith("internal:probe:")) continue;
    out[k] = k.startsWith("delta") ? (v as string[][]).map(stripMeta) : typeof v === "string" ? stripUuid(v) : v;
  }
  return out;
}

// Documents carry a `_meta/uuid` the harness derives from the fixture's file
// time and line; runs share both, but strip it to compare content only.
function stripUuid(text: string): string {
  return text.replace(/"uuid":"[^"]*"/g, '"uuid":"-"');
}
function stripMeta(fields: string[]): string[] {
  return fields.map(stripUuid);
}

async function run(ns: string, crashAt?: CrashPoint, delivery?: string, shards = 1) {
  used.push(ns);
  return runMaterializePreview({
    catalog: catalog(ns, delivery),
    fixture: FIXTURE,
    crashAt,
    shards,
    log: createLogger({ level: process.env.TEST_LOG ?? "error" }),
    timeoutMs: 30_000,
  });
}

describe("materialize-redis under the runtime harness", () => {
  let baseline: Record<string, unknown>;

  it("materializes the fixture into keys, hashes and a stream", async () => {
    const ns = namespace();
    const res = await run(ns);
    expect(res.stats.crashes).toBe(0);
    baseline = await outcome(ns);
    const json = (id: number) => JSON.parse(baseline[`json:${id}`] as string);
    // 1: 1 + 10 + 100 summed across transactions through Loads.
    expect(json(1)).toMatchObject({ id: 1, name: "one", n: 111 });
    expect(baseline["json:2"]).toBeUndefined(); // deleted
    expect(json(3)).toMatchObject({ id: 3, n: 33 });
    expect(baseline["hash:1"]).toMatchObject({ name: "one", n: "111" });
    // One entry per document and transaction (the runtime combines a key's
    // documents within a transaction); the deletion carries op "d".
    const ops = (baseline["delta"] as string[][]).map((f) => `${f[1]} ${f[3]}`);
    expect(ops).toEqual(["[1] c", "[2] c", "[1] c", "[3] c", "[2] d", "[4] c", "[3] c", "[5] c"]);
    expect(Object.keys(baseline).filter((k) => k.startsWith("internal:stage"))).toEqual([]);
    expect(res.shards[0]!.connectorState).toEqual({ pending: {} });
  });

  it.each(CRASH_POINTS.flatMap((p) => (p === "after-open" ? [1] : [1, 2]).map((txn) => [p, txn] as const)))(
    "after a crash at %s of transaction %i, keys and streams equal the run without crashes",
    async (point, txn) => {
      expect(baseline).toBeDefined();
      const ns = namespace();
      const res = await run(ns, { point, txn });
      expect(res.stats.crashes).toBe(1);
      expect(await outcome(ns)).toEqual(baseline);
    },
  );

  it("splits across two shards: the same keys, and each shard's entries in its own stream", async () => {
    expect(baseline).toBeDefined();
    const ns = namespace();
    const res = await run(ns, { point: "after-log-commit", txn: 1 }, undefined, 2);
    expect(res.shards.map((s) => s.name)).toEqual(["00000000-7fffffff", "80000000-ffffffff"]);
    const got = await outcome(ns);
    const streams = Object.keys(got).filter((k) => k.startsWith("delta"));
    expect(streams.sort()).toEqual(["delta:00000000-7fffffff", "delta:80000000-ffffffff"]);
    const entries = streams.flatMap((k) => got[k] as string[][]);
    for (const k of streams) delete got[k];
    const { delta, ...keys } = baseline;
    expect(got).toEqual(keys);
    // Same entries in all; within a shard, a key's entries keep their order.
    expect(entries.map((e) => JSON.stringify(e)).sort()).toEqual((delta as string[][]).map((e) => JSON.stringify(e)).sort());
  });
});
