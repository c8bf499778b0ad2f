/**
 * The end-to-end check: source-mysql captures a MariaDB table
 * (backfill, then live changes from the binlog) through the runtime harness,
 * and the captured transactions are materialized by materialize-mysql into
 * MariaDB and by materialize-postgres into PostgreSQL, each also with a
 * crash at every crash point. Every run's rows equal the crash-free run's,
 * and MariaDB's equal PostgreSQL's, value for value.
 *
 * Needs `npx tsc -p .` first (connectors run from dist/).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CRASH_POINTS, type CrashPoint } from "../../src/harness/faults.js";
import { runCapturePreview, runMaterializePreview } from "../../src/harness/index.js";
import { createLogger } from "../../src/log.js";
import { startMariaDb, type MariaDbServer } from "../../test/support/mariadb-server.js";
import source from "../source-mysql/connector.js";
import { configFor } from "../source-mysql/testing.js";
import { endpointConfig as pgEndpoint, PG_URL, uniqueSchema } from "../materialize-postgres/test-support.js";
import { testDatabases } from "./test-databases.js";
import { endpointConfig as mysqlEndpoint } from "./test-support.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const quiet = createLogger({ level: process.env.TEST_LOG ?? "error" });
const dbs = testDatabases("e2e");
let src: MariaDbServer;
let pgAdmin: pg.Client;
const schemas: string[] = [];
let transactions: [string, unknown][][] = [];
let collectionSpec: { schema: unknown; key: string[] };

beforeAll(async () => {
  src = await startMariaDb();
  pgAdmin = new pg.Client({ connectionString: PG_URL });
  await pgAdmin.connect();
}, 120_000);
afterAll(async () => {
  for (const s of schemas) await pgAdmin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await pgAdmin?.end();
  await src?.stop();
});

function catalogFile(sinks: Record<string, { connector: string; config: unknown }>): string {
  const path = join(mkdtempSync(join(tmpdir(), "mysql-e2e-")), "flow.yaml");
  const materializations = Object.fromEntries(
    Object.entries(sinks).map(([name, s]) => [
      name,
      {
        endpoint: { local: { command: ["node", join(REPO, `dist/connectors/${s.connector}/main.js`)], protobuf: true, config: s.config } },
        bindings: [{ resource: { table: "items" }, source: "acmeCo/items" }],
      },
    ]),
  );
  const capture = {
    "acmeCo/capture": {
      endpoint: { connector: { image: "ghcr.io/estuary/source-mysql:dev", config: configFor(src, { backfill_chunk_size: 4 }) } },
      bindings: [{ resource: { namespace: "shop", stream: "items" }, target: "acmeCo/items" }],
    },
  };
  writeFileSync(path, JSON.stringify({ collections: { "acmeCo/items": collectionSpec }, captures: capture, materializations }));
  return path;
}

const norm = (n: string | null) => (n === null ? null : n.includes(".") ? n.replace(/\.?0+$/, "") : n);

async function mysqlRows(database: string) {
  const rows = await dbs.rows(
    `SELECT id, name, CAST(price AS CHAR) AS price, CAST(placed AS CHAR) AS placed, \`_meta/op\` AS op FROM \`${database}\`.items ORDER BY id`,
  );
  return rows.map((r) => ({ id: String(r.id), name: r.name, price: norm(r.price), placed: r.placed, op: r.op }));
}

async function pgRows(schema: string) {
  const r = await pgAdmin.query(
    `SELECT id::text AS id, name, price::text AS price, to_char(placed AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS placed, "_meta/op" AS op
       FROM "${schema}".items AS t ORDER BY t.id`,
  );
  return r.rows.map((x) => ({ ...x, price: norm(x.price) }));
}

describe("MariaDB → source-mysql → materialize-mysql and materialize-postgres", () => {
  let mysqlBaseline: Awaited<ReturnType<typeof mysqlRows>>;
  let pgBaseline: Awaited<ReturnType<typeof pgRows>>;

  it("captures a backfill then live changes", async () => {
    await src.createDatabase("shop");
    await src.query(`USE shop; CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL, price DECIMAL(12,2), placed DATETIME(3));
      INSERT INTO items SELECT seq, CONCAT('item ', seq, ' "q" \\\\ ✓'), seq * 1.25, '2024-01-01 10:00:00.125' FROM seq_1_to_12;`);
    const [discovered] = await source.discover(configFor(src) as any, { log: quiet, signal: new AbortController().signal });
    collectionSpec = { schema: discovered!.documentSchema, key: discovered!.key };
    const cat = catalogFile({});
    const first = await runCapturePreview({
      catalog: cat,
      name: "acmeCo/capture",
      timeoutMs: 60_000,
      log: quiet,
      logLevel: "warn",
      onTransaction: (t) => {
        if (t.documents.length) transactions.push(t.documents);
        return (t.state as any)?.bindingStateV1?.["shop%2Fitems"]?.mode !== "active";
      },
    });
    expect(first.documents.length).toBe(12);
    await src.query(`USE shop; UPDATE items SET name = 'renamed', price = NULL WHERE id = 2; DELETE FROM items WHERE id = 3; INSERT INTO items VALUES (100, 'new', 99999999.99, NULL);`);
    let seen = 0;
    await runCapturePreview({
      catalog: cat,
      name: "acmeCo/capture",
      initialState: first.state,
      timeoutMs: 60_000,
      log: quiet,
      logLevel: "warn",
      onTransaction: (t) => {
        if (t.documents.length) transactions.push(t.documents);
        return (seen += t.documents.length) < 3;
      },
    });
    expect(transactions.flat().length).toBe(15);
    // Crashes below hit transactions 1 and 2: the fixture must have both.
    expect(transactions.length).toBeGreaterThanOrEqual(2);
  }, 180_000);

  async function runBoth(crashAt?: CrashPoint) {
    const database = await dbs.fresh();
    const schema = uniqueSchema("e2e");
    schemas.push(schema);
    const cat = catalogFile({
      "acmeCo/mysql": { connector: "materialize-mysql", config: mysqlEndpoint(database) },
      "acmeCo/postgres": { connector: "materialize-postgres", config: pgEndpoint(schema) },
    });
    for (const name of ["acmeCo/mysql", "acmeCo/postgres"]) {
      const res = await runMaterializePreview({ catalog: cat, name, fixture: transactions, sourceName: "capture/items", crashAt, log: quiet, timeoutMs: 60_000 });
      expect(res.stats.crashes).toBe(crashAt ? 1 : 0);
    }
    return { mysql: await mysqlRows(database), pg: await pgRows(schema) };
  }

  it("materializes the same rows into MariaDB and PostgreSQL", async () => {
    expect(transactions.length).toBeGreaterThan(0);
    const { mysql, pg } = await runBoth();
    mysqlBaseline = mysql;
    pgBaseline = pg;
    expect(mysql).toEqual(pg);
    const byId = Object.fromEntries(mysql.map((r) => [r.id, r]));
    expect(Object.keys(byId)).toHaveLength(13);
    // DATETIME is read in the source server's zone (-07:00) and lands in UTC.
    expect(byId[1]).toMatchObject({ name: 'item 1 "q" \\ ✓', price: "1.25", placed: "2024-01-01 17:00:00.125000", op: "c" });
    expect(byId[2]).toMatchObject({ name: "renamed", price: null, op: "u" });
    expect(byId[3]).toMatchObject({ op: "d" });
    expect(byId[100]).toMatchObject({ name: "new", price: "99999999.99", placed: null, op: "c" });
  }, 120_000);

  const points = CRASH_POINTS.flatMap((p) => (p === "after-open" ? [1] : [1, 2]).map((txn) => [p, txn] as const));
  it.each(points)("after a crash at %s of transaction %i, both equal the crash-free rows", async (point, txn) => {
    expect(mysqlBaseline).toBeDefined();
    const { mysql, pg } = await runBoth({ point, txn });
    expect(mysql).toEqual(mysqlBaseline);
    expect(pg).toEqual(pgBaseline);
  }, 120_000);
});
