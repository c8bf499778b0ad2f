/**
 * materialize-postgres as a real process under the runtime harness
 * (src/harness), over stdio with the protobuf codec: fixture runs through a
 * standard and a delta-updates binding, every crash point, a zombie session,
 * a split into two shards followed by a merge, and a run over gRPC against
 * `tributary serve`. Every run must leave the
 * tables exactly as a run without faults: no row lost, none applied twice
 * (the collection sums `n` through Loads, so a replayed transaction shows).
 *
 * Needs `npx tsc -p .` first (the harness runs dist/connectors/materialize-postgres/main.js).
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { MaterializePreviewOptions } from "../../src/harness/materialize-runtime.js";
import { runThings, thingsCatalog } from "../../test/support/things-harness.js";
import { CRASH_POINTS, type CrashPoint } from "../../src/harness/faults.js";
import { endpointConfig } from "./test-support.js";
import { testSchemas } from "./test-schemas.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const fixture = (n: number) => join(HERE, `testdata/things-${n}.jsonl`);
const db = testSchemas("harness");

function catalog(schema: string, extra: Record<string, unknown> = {}): string {
  return thingsCatalog("materialize-postgres", "postgres", { ...endpointConfig(schema), ...extra }, "mpg-harness-");
}

function run(cat: string, opts: Partial<MaterializePreviewOptions> = {}) {
  return runThings(cat, fixture(3), opts);
}

/** Both tables' rows, without the publication time (it derives from fixture file times). */
async function outcome(schema: string) {
  const strip = (doc: string) => doc.replace(/"uuid":"[^"]*"/g, '"uuid":"-"');
  const things = await db.admin.query(
    `SELECT id::int, name, n::int, tags::text, "nested/a" AS a, (at AT TIME ZONE 'UTC')::text AS at, price::text, "Odd Name $" AS odd,
            "_meta/op" AS op, coalesce(flow_document::text, '(none)') AS doc
       FROM "${schema}".things ORDER BY id`,
  );
  const log = await db.admin.query(`SELECT id::int, n::int, "_meta/op" AS op, coalesce(flow_document::text, '(none)') AS doc FROM "${schema}".things_log ORDER BY id, n NULLS FIRST, "_meta/op" NULLS FIRST`);
  return {
    things: things.rows.map((r) => ({ ...r, doc: strip(r.doc) })),
    log: log.rows.map((r) => ({ ...r, doc: strip(r.doc) })),
  };
}

describe("materialize-postgres under the runtime harness", () => {
  let baseline: Awaited<ReturnType<typeof outcome>>;

  it("materializes the fixture: reductions through Loads, soft deletes, delta appends, exact types", async () => {
    const schema = db.fresh();
    const res = await run(catalog(schema));
    expect(res.stats.crashes).toBe(0);
    expect(res.applyDescription).toContain(`CREATE TABLE IF NOT EXISTS ${schema}.things (`);
    baseline = await outcome(schema);
    const byId = Object.fromEntries(baseline.things.map((r) => [r.id, r]));
    expect(Object.keys(byId)).toEqual(["1", "2", "3", "4", "5", "7"]);
    expect(byId[1]).toMatchObject({ name: "one", n: 111, at: "2024-05-01 08:00:00", price: "10.10" });
    expect(byId[2]).toMatchObject({ op: "d", odd: "odd", tags: '["a"]', name: "two ✓" });
    expect(byId[3]).toMatchObject({ name: 'three "quoted"\ttab', n: 33, a: "x", price: "99999999999999999999.99" });
    expect(byId[4]).toMatchObject({ name: "four 🐟" });
    expect(byId[7]).toMatchObject({ at: "2025-01-01 07:59:59.999" });
    expect(JSON.parse(byId[1]!.doc)).toMatchObject({ id: 1, n: 111, name: "one" });
    // The delta table keeps one row per key and transaction, tombstones included.
    expect(baseline.log.map((r) => `${r.id}:${r.n ?? "-"}:${r.op ?? "-"}`)).toEqual([
      "1:11:-",
      "1:100:-",
      "2:-:d",
      "2:2:-",
      "3:3:-",
      "3:30:-",
      "4:4:-",
      "5:5:-",
      "6:6:d",
      "7:7:-",
    ]);
  });

  it("removes deleted rows when hardDelete is set", async () => {
    const schema = db.fresh();
    await run(catalog(schema, { hardDelete: true }));
    const ids = (await db.admin.query(`SELECT id::int FROM "${schema}".things ORDER BY id`)).rows.map((r) => r.id);
    expect(ids).toEqual([1, 3, 4, 5, 7]);
  });

  it.each(CRASH_POINTS.flatMap((p) => (p === "after-open" ? [1] : [1, 2, 3]).map((txn) => [p, txn] as const)))(
    "after a crash at %s of transaction %i, the tables equal the run without crashes",
    async (point, txn) => {
      expect(baseline).toBeDefined();
      const schema = db.fresh();
      const res = await run(catalog(schema), { crashAt: { point, txn } as CrashPoint });
      expect(res.stats.crashes).toBe(1);
      expect(await outcome(schema)).toEqual(baseline);
    },
  );

  it("fences off a zombie session, which cannot commit", async () => {
    const schema = db.fresh();
    const res = await run(catalog(schema), { zombie: { afterTxn: 1 } });
    expect(res.shards[0]!.zombie).toMatchObject({ fenced: true });
    expect(res.shards[0]!.zombie!.error).toMatch(/fenced off/);
    expect(await outcome(schema)).toEqual(baseline);
  });

  it("splits into two shards mid-stream, then merges back, with one consistent checkpoint history", async () => {
    const schema = db.fresh();
    const cat = catalog(schema);
    const log = join(mkdtempSync(join(tmpdir(), "mpg-log-")), "recovery.json");
    const first = await run(cat, { fixture: fixture(1), recoveryLog: log });
    expect(first.stats.transactions).toBe(2);
    const split = await run(cat, { fixture: fixture(2), recoveryLog: log, shards: 2 });
    expect(split.shards.map((s) => s.resumedFrom.at(-1))).toEqual(["connector", "connector"]);
    // Each shard resumed after transaction 2: only transaction 3's documents were read again.
    expect(split.stats.transactions).toBeLessThanOrEqual(2);
    const merged = await run(cat, { fixture: fixture(3), recoveryLog: log, shards: 1 });
    expect(merged.shards[0]!.resumedFrom.at(-1)).toBe("connector");
    expect(merged.stats.transactions).toBe(1);
    expect(await outcome(schema)).toEqual(baseline);
    const rows = await db.admin.query(`SELECT key_begin::bigint AS b, key_end::bigint AS e FROM "${schema}".flow_checkpoints_v1`);
    expect(rows.rows.map((r) => [Number(r.b), Number(r.e)])).toEqual([[0, 0xffffffff]]);
  });

  it("runs the same over gRPC against `tributary serve materialize-postgres`", async () => {
    const server = spawn(process.execPath, [join(HERE, "../../bin/tributary"), "serve", "materialize-postgres", "--port", "0", "--host", "127.0.0.1"], {
      stdio: ["ignore", "pipe", "ignore"],
      env: { ...process.env, LOG_LEVEL: "error" },
    });
    try {
      const address = await new Promise<string>((resolve, reject) => {
        let out = "";
        server.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /listening on (\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        server.once("exit", (code) => reject(new Error(`tributary serve exited with ${code}`)));
      });
      const schema = db.fresh();
      const res = await run(catalog(schema), { grpcAddress: address });
      expect(res.stats.transactions).toBe(4);
      expect(await outcome(schema)).toEqual(baseline);
    } finally {
      server.kill("SIGTERM");
    }
  });
});
