/**
 * materialize-mysql as a real process under the runtime harness
 * (src/harness) over stdio with the protobuf codec, against MariaDB: the
 * fixture through a standard and a delta-updates binding, every crash point,
 * a zombie session, and a split into two shards followed by a merge. Every
 * run must leave the tables exactly as the run without faults, row by row:
 * nothing lost, nothing applied twice (the collection sums `n` through
 * Loads, so a replayed transaction shows).
 *
 * Needs `npx tsc -p .` first (the harness runs dist/connectors/materialize-mysql/main.js).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CRASH_POINTS, type CrashPoint } from "../../src/harness/faults.js";
import type { MaterializePreviewOptions } from "../../src/harness/materialize-runtime.js";
import { runThings, thingsCatalog } from "../../test/support/things-harness.js";
import { endpointConfig } from "./test-support.js";
import { testDatabases } from "./test-databases.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
// The same fixture materialize-postgres runs: three files, each a prefix of the next.
const fixture = (n: number) => join(HERE, `../materialize-postgres/testdata/things-${n}.jsonl`);
const db = testDatabases("harness");

function catalog(database: string, extra: Record<string, unknown> = {}): string {
  return thingsCatalog("materialize-mysql", "mysql", { ...endpointConfig(database), ...extra }, "mmy-harness-");
}

function run(cat: string, opts: Partial<MaterializePreviewOptions> = {}) {
  return runThings(cat, fixture(3), opts);
}

async function outcome(database: string) {
  const strip = (doc: string) => doc.replace(/"uuid":\s*"[^"]*"/g, '"uuid":"-"');
  const things = await db.rows(
    `SELECT id, name, n, CAST(tags AS CHAR) AS tags, \`nested/a\` AS a, CAST(at AS CHAR) AS at, CAST(price AS CHAR) AS price,
            \`Odd Name $\` AS odd, \`_meta/op\` AS op, COALESCE(CAST(flow_document AS CHAR), '(none)') AS doc
       FROM \`${database}\`.things ORDER BY id`,
  );
  const log = await db.rows(
    `SELECT id, n, \`_meta/op\` AS op, COALESCE(CAST(flow_document AS CHAR), '(none)') AS doc FROM \`${database}\`.things_log
      ORDER BY id, n IS NOT NULL, n, \`_meta/op\` IS NOT NULL, \`_meta/op\``,
  );
  return {
    things: things.map((r) => ({ ...r, doc: strip(r.doc) })),
    log: log.map((r) => ({ ...r, doc: strip(r.doc) })),
  };
}

describe("materialize-mysql under the runtime harness", () => {
  let baseline: Awaited<ReturnType<typeof outcome>>;

  it("materializes the fixture: reductions through Loads, soft deletes, delta appends, exact types", async () => {
    const database = await db.fresh();
    const res = await run(catalog(database));
    expect(res.stats.crashes).toBe(0);
    expect(res.applyDescription).toContain("CREATE TABLE IF NOT EXISTS `things` (");
    baseline = await outcome(database);
    const byId = Object.fromEntries(baseline.things.map((r) => [r.id, r]));
    expect(Object.keys(byId)).toEqual(["1", "2", "3", "4", "5", "7"]);
    expect(byId[1]).toMatchObject({ name: "one", n: "111", at: "2024-05-01 08:00:00.000000", price: "10.100000000000000000000000000000" });
    expect(byId[2]).toMatchObject({ op: "d", odd: "odd", tags: '["a"]', name: "two ✓" });
    expect(byId[3]).toMatchObject({ name: 'three "quoted"\ttab', n: "33", a: "x", price: "99999999999999999999.990000000000000000000000000000" });
    expect(byId[4]).toMatchObject({ name: "four 🐟" });
    expect(byId[7]).toMatchObject({ at: "2025-01-01 07:59:59.999000" });
    expect(JSON.parse(byId[1]!.doc)).toMatchObject({ id: 1, n: 111, name: "one" });
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
    const database = await db.fresh();
    await run(catalog(database, { hardDelete: true }));
    const ids = (await db.rows(`SELECT id FROM \`${database}\`.things ORDER BY id`)).map((r) => Number(r.id));
    expect(ids).toEqual([1, 3, 4, 5, 7]);
  });

  it.each(CRASH_POINTS.flatMap((p) => (p === "after-open" ? [1] : [1, 2, 3]).map((txn) => [p, txn] as const)))(
    "after a crash at %s of transaction %i, the tables equal the run without crashes",
    async (point, txn) => {
      expect(baseline).toBeDefined();
      const database = await db.fresh();
      const res = await run(catalog(database), { crashAt: { point, txn } as CrashPoint });
      expect(res.stats.crashes).toBe(1);
      expect(await outcome(database)).toEqual(baseline);
    },
  );

  it("fences off a zombie session, which cannot commit", async () => {
    const database = await db.fresh();
    const res = await run(catalog(database), { zombie: { afterTxn: 1 } });
    expect(res.shards[0]!.zombie).toMatchObject({ fenced: true });
    expect(res.shards[0]!.zombie!.error).toMatch(/fenced off/);
    expect(await outcome(database)).toEqual(baseline);
  });

  it("splits into two shards mid-stream, then merges back, with one consistent checkpoint history", async () => {
    const database = await db.fresh();
    const cat = catalog(database);
    const log = join(mkdtempSync(join(tmpdir(), "mmy-log-")), "recovery.json");
    const first = await run(cat, { fixture: fixture(1), recoveryLog: log });
    expect(first.stats.transactions).toBe(2);
    const split = await run(cat, { fixture: fixture(2), recoveryLog: log, shards: 2 });
    expect(split.shards.map((s) => s.resumedFrom.at(-1))).toEqual(["connector", "connector"]);
    expect(split.stats.transactions).toBeLessThanOrEqual(2);
    const merged = await run(cat, { fixture: fixture(3), recoveryLog: log, shards: 1 });
    expect(merged.shards[0]!.resumedFrom.at(-1)).toBe("connector");
    expect(merged.stats.transactions).toBe(1);
    expect(await outcome(database)).toEqual(baseline);
    const rows = await db.rows(`SELECT key_begin AS b, key_end AS e FROM \`${database}\`.flow_checkpoints_v1`);
    expect(rows.map((r) => [Number(r.b), Number(r.e)])).toEqual([[0, 0xffffffff]]);
  });
});
