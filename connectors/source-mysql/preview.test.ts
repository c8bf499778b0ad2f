/**
 * End to end through the project's runtime harness: `tributary run
 * source-mysql` spawned as a connector process speaking protobuf over
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
import { startMariaDb, type MariaDbServer } from "../../test/support/mariadb-server.js";
import connector from "./connector.js";
import { configFor } from "./testing.js";

let db: MariaDbServer;
beforeAll(async () => {
  db = await startMariaDb();
}, 120_000);
afterAll(async () => {
  await db?.stop();
});

it("captures through tributary run with discovered schemas, and resumes from the preview's state", async () => {
  await db.createDatabase("shop");
  await db.query(`USE shop; CREATE TABLE orders (id BIGINT UNSIGNED PRIMARY KEY, customer VARCHAR(20) NOT NULL, total DECIMAL(12,2), placed DATETIME, paid TIMESTAMP NULL, extra JSON, raw VARBINARY(4));
    INSERT INTO orders SELECT seq, CONCAT('c', seq), seq * 1.5, '2024-01-01 10:00:00', '2024-01-01 10:00:00', '{"n": 1}', X'0102' FROM seq_1_to_25;
    INSERT INTO orders (id, customer) VALUES (18446744073709551615, 'big');`);
  const config = configFor(db, { backfill_chunk_size: 10, timezone: "+02:00" });
  const quiet = createLogger({ level: "error" });
  const [discovered] = await connector.discover(config as any, { log: quiet, signal: new AbortController().signal });
  const dir = mkdtempSync(join(tmpdir(), "source-mysql-preview-"));
  const catalog = join(dir, "flow.yaml");
  writeFileSync(
    catalog,
    JSON.stringify({
      collections: { "acmeCo/orders": { schema: discovered.documentSchema, key: discovered.key } },
      captures: {
        "acmeCo/mysql": {
          endpoint: { connector: { image: "ghcr.io/estuary/source-mysql:dev", config } },
          bindings: [{ resource: discovered.resourceConfig, target: "acmeCo/orders" }],
        },
      },
    }),
  );

  const first = await runCapturePreview({
    catalog,
    timeoutMs: 30_000,
    log: quiet,
    logLevel: "warn",
    onTransaction: (t) => (t.state as any)?.bindingStateV1?.["shop%2Forders"]?.mode !== "active",
  });
  expect(first.documents.length).toBe(26);
  const one = first.documents.find(([, d]) => (d as any).id === 1)![1] as any;
  // DATETIME read in the configured +02:00; TIMESTAMP as the server stored it (the session zone was -07:00).
  expect(one).toMatchObject({ customer: "c1", total: "1.50", placed: "2024-01-01T08:00:00Z", paid: "2024-01-01T17:00:00Z", extra: { n: 1 }, raw: "AQI=", _meta: { op: "c" } });
  expect((first.state as any).bindingStateV1["shop%2Forders"]).toMatchObject({ mode: "active", backfilled: 26 });

  await db.query(`USE shop; UPDATE orders SET customer = 'changed' WHERE id = 2; INSERT INTO orders (id, customer) VALUES (100, 'new');`);
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
