/**
 * materialize-nats as a real process under the runtime harness (src/harness):
 * the fixture through a KV binding (json), a KV binding (fields format with
 * soft deletes) and a delta binding publishing to a stream, then every crash
 * point of the harness and a zombie session. The KV entries and the stream's
 * messages must equal a run without faults: nothing lost, nothing applied
 * twice (the fixture sums `n`, so a transaction counted twice would show,
 * and the stream would hold an extra message).
 *
 * Needs `npx tsc -p .` first (the harness runs the image's entry point,
 * `tributary run materialize-nats`, from this checkout).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMaterializePreview } from "../../src/harness/index.js";
import { CRASH_POINTS, type CrashPoint } from "../../src/harness/faults.js";
import { createLogger } from "../../src/log.js";
import { REPO } from "../../test/support/process.js";
import { imageMaterialization, TAGS_AND_NESTED, thingsCollection, writeCatalog } from "../../test/support/things-harness.js";
import { admin, dropNamespace, kvEntries, namespace, NATS_URL, streamMessages, type Admin } from "./test-support.js";

const FIXTURE = join(REPO, "test/harness/fixtures/things.jsonl");
let a: Admin;
const used: string[] = [];
beforeAll(async () => {
  a = await admin();
});
afterAll(async () => {
  for (const n of used) await dropNamespace(a.jsm, n);
  await a?.nc.close();
});

function catalog(ns: string): string {
  // Tiny chunks, so a transaction spans several and a crash can fall between them.
  const config = { servers: NATS_URL, advanced: { internal_prefix: ns, chunk_kib: 16 } };
  return writeCatalog(
    "nats-harness-",
    thingsCollection(TAGS_AND_NESTED) +
      imageMaterialization("materialize-nats", "nats", config, [
        `{ bucket: "${ns}_json" }`,
        `{ bucket: "${ns}_fields", format: fields, soft_delete: true }`,
        `{ subject: "${ns}.delta", stream: "${ns}_delta", delta_updates: true }`,
      ]),
  );
}

/** What a run left in its buckets and stream, without per-run document uuids. */
async function outcome(ns: string) {
  const strip = (s: string) => s.replace(/"uuid":"[^"]*"/g, '"uuid":"-"');
  const kv = async (b: string) => Object.fromEntries(Object.entries(await kvEntries(a.jsm, b)).map(([k, v]) => [k, strip(v)]));
  return {
    json: await kv(`${ns}_json`),
    fields: await kv(`${ns}_fields`),
    delta: (await streamMessages(a.jsm, `${ns}_delta`)).map((m) => ({ ...m, subject: m.subject.slice(ns.length), payload: strip(m.payload) })),
  };
}

async function run(ns: string, opts: { crashAt?: CrashPoint; zombie?: boolean; shards?: number } = {}) {
  used.push(ns);
  return runMaterializePreview({
    catalog: catalog(ns),
    fixture: FIXTURE,
    crashAt: opts.crashAt,
    zombie: opts.zombie,
    shards: opts.shards ?? 1,
    log: createLogger({ level: process.env.TEST_LOG ?? "error" }),
    timeoutMs: 60_000,
  });
}

describe("materialize-nats under the runtime harness", { timeout: 120_000 }, () => {
  let baseline: Awaited<ReturnType<typeof outcome>>;

  it("materializes the fixture into KV buckets and a stream", async () => {
    const ns = namespace();
    const res = await run(ns);
    expect(res.stats.crashes).toBe(0);
    baseline = await outcome(ns);
    const json = (id: number) => JSON.parse(baseline.json[String(id)]!);
    // 1: 1 + 10 + 100 summed across transactions through Loads.
    expect(json(1)).toMatchObject({ id: 1, name: "one", n: 111 });
    expect(baseline.json["2"]).toBeUndefined(); // deleted
    expect(json(3)).toMatchObject({ id: 3, n: 33 });
    // The fields format: selected fields plus the document; 2 is a tombstone.
    const f1 = JSON.parse(baseline.fields["1"]!);
    expect(f1).toMatchObject({ id: 1, name: "one", n: 111 });
    expect(f1.flow_document).toMatchObject({ id: 1, n: 111 });
    expect(JSON.parse(baseline.fields["2"]!).flow_document._meta.op).toBe("d");
    // One message per document and transaction, the deletion marked as such.
    expect(baseline.delta.map((m) => `${m.key} ${m.action}`)).toEqual([
      "[1] upsert", "[2] upsert", "[1] upsert", "[3] upsert", "[2] delete", "[4] upsert", "[3] upsert", "[5] upsert",
    ]);
    expect(new Set(baseline.delta.map((m) => m.subject))).toEqual(new Set([".delta"]));
    // Every stage was applied and purged.
    const staging = await a.jsm.streams.info(`${ns}_staging`);
    expect(staging.state.messages).toBe(0);
    expect((res.shards[0]!.connectorState as { pending: unknown }).pending).toEqual({});
  });

  it.each(CRASH_POINTS.flatMap((p) => (p === "after-open" ? [1] : [1, 2]).map((txn) => [p, txn] as const)))(
    "after a crash at %s of transaction %i, buckets and stream equal the run without crashes",
    async (point, txn) => {
      expect(baseline).toBeDefined();
      const ns = namespace();
      const res = await run(ns, { crashAt: { point, txn } });
      expect(res.stats.crashes).toBe(1);
      expect(await outcome(ns)).toEqual(baseline);
    },
  );

  it("fences a zombie session through the recovery log: its staged transaction is never applied", async () => {
    expect(baseline).toBeDefined();
    const ns = namespace();
    const res = await run(ns, { zombie: true });
    expect(res.shards[0]!.zombie).toMatchObject({ fenced: true, by: "recovery-log" });
    expect(await outcome(ns)).toEqual(baseline);
  });

  it("splits across two shards: the same entries and messages", async () => {
    expect(baseline).toBeDefined();
    const ns = namespace();
    const res = await run(ns, { crashAt: { point: "after-log-commit", txn: 1 }, shards: 2 });
    expect(res.shards.map((s) => s.name)).toEqual(["00000000-7fffffff", "80000000-ffffffff"]);
    const got = await outcome(ns);
    expect(got.json).toEqual(baseline.json);
    expect(got.fields).toEqual(baseline.fields);
    const text = (ms: typeof got.delta) => ms.map((m) => JSON.stringify(m)).sort();
    expect(text(got.delta)).toEqual(text(baseline.delta));
  });
});
