/**
 * End to end through the project's runtime harness: `tributary run
 * source-postgres` spawned as a connector process speaking protobuf over
 * stdio, the collection schema taken from the connector's own discovery,
 * every document validated against it, then a second preview resuming from
 * the first one's state. Needs a build first (`npx tsc -p .`).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCapturePreview } from "../../src/harness/index.js";
import { createLogger } from "../../src/log.js";
import { startPgCluster, type PgCluster } from "../../test/support/pg-cluster.js";
import connector from "./connector.js";

let pg: PgCluster;
beforeAll(async () => {
  pg = await startPgCluster();
});
afterAll(async () => {
  await pg?.stop();
});

it("captures through tributary run with discovered schemas, and resumes from the preview's state", async () => {
  const db = "preview";
  await pg.createDatabase(db);
  await pg.query(db, `CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(12,2), placed timestamptz, tags text[], extra jsonb)`);
  await pg.query(db, `INSERT INTO orders SELECT g, 'c' || g, g * 1.5, '2024-01-01 10:00:00+02', ARRAY['a', 'b'], '{"n": 1}' FROM generate_series(1, 25) g`);
  await pg.query(db, `INSERT INTO orders VALUES (9007199254740993, 'big', NULL, NULL, NULL, NULL)`);
  const config = {
    address: `${pg.host}:${pg.port}`, database: db, user: pg.user, sslmode: "disable",
    slot: "slot_preview", publication: "pub_preview", backfill_chunk_size: 10, heartbeat_interval_seconds: 1,
  };
  const quiet = createLogger({ level: "error" });
  const [discovered] = await connector.discover(config as any, { log: quiet, signal: new AbortController().signal });
  const dir = mkdtempSync(join(tmpdir(), "source-postgres-preview-"));
  const catalog = join(dir, "flow.yaml");
  writeFileSync(
    catalog,
    JSON.stringify({
      collections: { "acmeCo/orders": { schema: discovered.documentSchema, key: discovered.key } },
      captures: {
        "acmeCo/pg": {
          endpoint: { connector: { image: "ghcr.io/estuary/source-postgres:dev", config } },
          bindings: [{ resource: discovered.resourceConfig, target: "acmeCo/orders" }],
        },
      },
    }),
  );

  const ids = (docs: [string, unknown][]) => docs.map(([, d]) => (d as { id: number }).id);
  const first = await runCapturePreview({
    catalog,
    timeoutMs: 30_000,
    log: quiet,
    logLevel: "warn",
    // Done once the backfill has completed.
    onTransaction: (t) => (t.state as any)?.bindingStateV1?.["public%2Forders"]?.mode !== "active",
  });
  expect(ids(first.documents).length).toBe(26);
  const big = first.documents.find(([, d]) => (d as any).customer === "big")!;
  // The harness parses documents into JS values; exactness of int8 is checked on the wire in types.test.ts.
  expect(big).toBeDefined();
  const one = first.documents.find(([, d]) => (d as any).id === 1)![1] as any;
  expect(one).toMatchObject({ customer: "c1", total: "1.50", placed: "2024-01-01T08:00:00Z", tags: ["a", "b"], extra: { n: 1 }, _meta: { op: "c" } });
  expect((first.state as any).bindingStateV1["public%2Forders"]).toMatchObject({ mode: "active", backfilled: 26 });

  await pg.query(db, `UPDATE orders SET customer = 'changed' WHERE id = 2`);
  await pg.query(db, `INSERT INTO orders VALUES (100, 'new', 1, NULL, NULL, NULL)`);
  let seen = 0;
  const second = await runCapturePreview({
    catalog,
    initialState: first.state,
    timeoutMs: 30_000,
    log: quiet,
    logLevel: "warn",
    onTransaction: (t) => (seen += t.documents.length) < 2,
  });
  // Only the changes since the first preview's state: no second backfill.
  expect(second.documents.map(([, d]) => [(d as any).id, (d as any).customer, (d as any)._meta.op])).toEqual([
    [2, "changed", "u"],
    [100, "new", "c"],
  ]);
}, 120_000);
