/**
 * NATS → PostgreSQL through the harness that `tributary preview` runs, with
 * real processes: source-nats captures a stream of order events keyed by the
 * payload's /id (restarted after every transaction, so each resume is
 * exercised), and materialize-postgres stores every captured transaction in
 * order. The capture with restarts must equal a capture without, and the
 * table after a crash at each of the harness's crash points must equal the
 * table of the run without a crash, which must hold each order's last event.
 *
 * Needs a build first (`npx tsc -p .`).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCapturePreview, runMaterializePreview } from "../../src/harness/index.js";
import { CRASH_POINTS } from "../../src/harness/faults.js";
import { createLogger } from "../../src/log.js";
import { captureCatalog, natsConfig, testNats, type TestNats } from "../../connectors/source-nats/test-support.js";
import { adminClient, endpointConfig, uniqueSchema } from "../../connectors/materialize-postgres/test-support.js";
import type pg from "pg";

const quiet = createLogger({ level: process.env.TEST_LOG ?? "error" });
let nats: TestNats;
let db: pg.Client;
const schemas: string[] = [];
beforeAll(async () => {
  nats = await testNats();
  db = await adminClient();
});
afterAll(async () => {
  for (const s of schemas) await db?.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => undefined);
  await db?.end();
  await nats?.close();
});

const SCHEMA = {
  type: "object",
  properties: {
    id: { type: "integer" },
    status: { type: "string" },
    total: { type: "number" },
    note: { type: ["string", "null"] },
    _meta: { type: "object", properties: { seq: { type: "integer" }, subject: { type: "string" } }, required: ["seq", "subject"] },
  },
  required: ["id", "status", "_meta"],
};

it("captures a stream with restarts and materializes it into PostgreSQL identically at every crash point", async () => {
  const s = await nats.stream("orders");
  // 12 orders, each created then updated a few times; the last event per order wins.
  const last = new Map<number, { status: string; total: number; note: string | null }>();
  const statuses = ["new", "paid", "packed", "shipped"];
  for (let round = 0; round < 4; round++) {
    for (let id = 1; id <= 12; id++) {
      if (round > 0 && id % (round + 1) === 0) continue;
      const ev = { id, status: statuses[round]!, total: id * 10.25 + round, note: id % 3 === 0 ? null : `Zürich ☕ ${id}/${round} "q"` };
      await nats.publish(`${s}.order.${id}`, JSON.stringify(ev));
      last.set(id, { status: ev.status, total: ev.total, note: ev.note });
    }
  }
  const config = natsConfig({ bounded: true, advanced: { messagesPerCheckpoint: 4 } });
  const catalogPath = (extra: Record<string, unknown> = {}) =>
    captureCatalog(config, [{ resource: { stream: s }, collection: "acmeCo/orders", key: ["/id"], schema: SCHEMA }], extra);
  const mat = (schema: string) => ({
    endpoint: { connector: { image: "ghcr.io/estuary/materialize-postgres:dev", config: endpointConfig(schema, { advanced: { sslmode: "disable" } } as any) } },
    bindings: [{ resource: { table: "orders" }, source: "acmeCo/orders" }],
  });

  // The capture, stopped after every transaction and resumed from its state.
  const transactions: [string, unknown][][] = [];
  const restarted = await runCapturePreview({
    catalog: catalogPath(),
    sessions: [1, 1, 1, 1, 1, -1],
    maxTxnDocs: 4,
    timeoutMs: 120_000,
    log: quiet,
    onTransaction: (t) => {
      if (t.documents.length) transactions.push(t.documents);
    },
  });
  expect(restarted.stats.timedOut).toBe(false);
  const straight = await runCapturePreview({ catalog: catalogPath(), timeoutMs: 120_000, log: quiet });
  // Documents are reduced by key within each transaction, so the two runs differ in how many
  // reach the collection; each order's latest document (by stream sequence) must not.
  const latest = (docs: [string, unknown][]) => {
    const m = new Map<number, any>();
    for (const [, d] of docs) if (!m.has((d as any).id) || m.get((d as any).id)._meta.seq < (d as any)._meta.seq) m.set((d as any).id, d);
    return [...m.values()].sort((a, b) => a.id - b.id);
  };
  expect(latest(restarted.documents)).toEqual(latest(straight.documents));
  expect(latest(straight.documents).map((d) => d.status)).toEqual([...last].sort((a, b) => a[0] - b[0]).map(([, v]) => v.status));
  expect(transactions.length).toBeGreaterThanOrEqual(5);

  const table = async (schema: string) =>
    (await db.query(`SELECT id, status, total, note FROM "${schema}".orders ORDER BY id`)).rows.map((r) => ({ ...r, id: Number(r.id), total: Number(r.total) }));

  // No crash: the table holds each order's last event.
  const base = uniqueSchema("nats_base");
  schemas.push(base);
  const clean = await runMaterializePreview({ catalog: catalogPath({ materializations: { "acmeCo/pg": mat(base) } }), name: "acmeCo/pg", fixture: transactions, timeoutMs: 120_000, log: quiet });
  expect(clean.stats.crashes).toBe(0);
  const expected = [...last].sort((a, b) => a[0] - b[0]).map(([id, v]) => ({ id, ...v }));
  expect(await table(base)).toEqual(expected);

  // A crash at each point of transaction 2, then recovery: the same table.
  for (const point of CRASH_POINTS) {
    const schema = uniqueSchema("nats_crash");
    schemas.push(schema);
    const crashed = await runMaterializePreview({
      catalog: catalogPath({ materializations: { "acmeCo/pg": mat(schema) } }),
      name: "acmeCo/pg",
      fixture: transactions,
      // after-open counts sessions: the first one; the others count transactions.
      crashAt: [{ point, txn: point === "after-open" ? 1 : 2 }],
      timeoutMs: 120_000,
      log: quiet,
    });
    expect(crashed.stats.crashes, point).toBe(1);
    expect(await table(schema), point).toEqual(expected);
  }
}, 600_000);
