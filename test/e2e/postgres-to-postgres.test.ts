/**
 * The project's user story, end to end through real processes: rows of a
 * PostgreSQL table are captured by source-postgres (a backfill session, then
 * a second session resuming from its state that reads the replication
 * stream), and every committed capture transaction is fed, in order, to
 * materialize-postgres writing into another database of the same throwaway
 * cluster, with the connector killed once after a commit. The destination
 * table must then equal the source table row by row.
 *
 * Needs a build first (`npx tsc -p .`): both connectors run as
 * `bin/tributary run <name>` under the harness.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCapturePreview, runMaterializePreview } from "../../src/harness/index.js";
import { createLogger } from "../../src/log.js";
import connector from "../../connectors/source-postgres/connector.js";
import { startPgCluster, type PgCluster } from "../support/pg-cluster.js";
import { stringifyJson } from "../../src/harness/lossless-json.js";

const STATE_KEY = "public%2Faccounts";

let pg: PgCluster;
beforeAll(async () => {
  pg = await startPgCluster();
}, 180_000);
afterAll(async () => {
  await pg?.stop();
});

// Composite key (text, bigint); values chosen to break anything that goes
// through a float: a numeric of 40 significant digits, unicode text, a
// timestamptz with microseconds, nested jsonb.
const CREATE = `CREATE TABLE accounts (
  region text NOT NULL,
  id bigint NOT NULL,
  balance numeric,
  big bigint,
  note text,
  seen timestamptz,
  attrs jsonb,
  PRIMARY KEY (region, id)
)`;

/** The comparable image of a table: every column as PostgreSQL's own text. */
const snapshot = (table: string, where = "true") => `SELECT region, id::text AS id, balance::text AS balance, big::text AS big, note,
  to_char(seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS seen, attrs::jsonb::text AS attrs
  FROM ${table} WHERE ${where} ORDER BY region COLLATE "C", id`;

const quiet = createLogger({ level: process.env.TEST_LOG ?? "error" });

/** int8 values stored in the `big` column, by row. */
interface Bigs { max: string; min: string; odd: string; negOdd: string }

/**
 * Creates `<tag>_src` and `<tag>_dst`, captures the source in two sessions,
 * materializes what was captured with one crash, and compares the tables.
 */
async function pipeline(tag: string, bigs: Bigs): Promise<void> {
  const SRC = `${tag}_src`;
  const DST = `${tag}_dst`;
  await pg.createDatabase(SRC);
  await pg.createDatabase(DST);
  await pg.query(SRC, CREATE);
  await pg.query(
    SRC,
    `INSERT INTO accounts VALUES
      ('eu', 1, 12345678901234567890.12345678901234567890, ${bigs.max}, 'Zürich – naïve café ☕', '2024-02-29 23:59:59.123456+00', '{"tier": "gold", "limits": [1, 2.5, null]}'),
      ('eu', 2, -0.000000000000000000001, ${bigs.min}, '日本語テキスト', '1999-12-31 16:00:00-08', '{"nested": {"deep": {"x": "y"}}}'),
      ('eu', 3, 0, 0, 'to be deleted', NULL, NULL),
      ('us', 1, 1.50, ${bigs.odd}, 'plain', '2024-01-01 10:00:00+02', '[]'),
      ('us', 4, 99999999999999999999999999999999.99, NULL, '😀 emoji', '2030-06-15 12:00:00.000001+00', '{"a": "tab\\t and \\" quote"}'),
      ('us', 5, NULL, NULL, NULL, NULL, NULL)`,
  );

  const config = {
    address: `${pg.host}:${pg.port}`, database: SRC, user: pg.user, sslmode: "disable",
    slot: `slot_${tag}`, publication: `pub_${tag}`, backfill_chunk_size: 2, heartbeat_interval_seconds: 1,
  };
  const [discovered] = await connector.discover(config as any, { log: quiet, signal: new AbortController().signal });
  expect(discovered.key).toEqual(["/region", "/id"]);

  const dir = mkdtempSync(join(tmpdir(), "e2e-pg-pg-"));
  const catalog = join(dir, "flow.json");
  writeFileSync(
    catalog,
    JSON.stringify({
      collections: { "acmeCo/accounts": { schema: discovered.documentSchema, key: discovered.key } },
      captures: {
        "acmeCo/source-pg": {
          endpoint: { connector: { image: "ghcr.io/estuary/source-postgres:dev", config } },
          bindings: [{ resource: discovered.resourceConfig, target: "acmeCo/accounts" }],
        },
      },
      materializations: {
        "acmeCo/dest-pg": {
          endpoint: {
            connector: {
              image: "ghcr.io/estuary/materialize-postgres:dev",
              config: { address: `${pg.host}:${pg.port}`, user: pg.user, database: DST, schema: "public", hardDelete: true, advanced: { sslmode: "disable" } },
            },
          },
          bindings: [{ resource: { table: "accounts" }, source: "acmeCo/accounts" }],
        },
        // The connector's default: deleted rows stay, marked by `_meta/op` = "d".
        "acmeCo/dest-pg-soft": {
          endpoint: {
            connector: {
              image: "ghcr.io/estuary/materialize-postgres:dev",
              config: { address: `${pg.host}:${pg.port}`, user: pg.user, database: DST, schema: "soft", advanced: { sslmode: "disable" } },
            },
          },
          bindings: [{ resource: { table: "accounts" }, source: "acmeCo/accounts" }],
        },
      },
    }),
  );

  // Session 1: the backfill, until the binding reports it is streaming.
  const transactions: [string, unknown][][] = [];
  const first = await runCapturePreview({
    catalog,
    name: "acmeCo/source-pg",
    timeoutMs: 30_000,
    log: quiet,
    logLevel: "warn",
    onTransaction: (t) => {
      if (t.documents.length) transactions.push(t.documents);
      return (t.state as any)?.bindingStateV1?.[STATE_KEY]?.mode !== "active";
    },
  });
  expect((first.state as any).bindingStateV1[STATE_KEY]).toMatchObject({ mode: "active", backfilled: 6 });
  expect(first.documents).toHaveLength(6);

  // Changes while no capture runs: they wait in the replication slot.
  await pg.query(SRC, `UPDATE accounts SET balance = balance * 3, big = big - 2, note = note || ' (updated) ✓' WHERE region = 'eu' AND id = 1`);
  await pg.query(SRC, `UPDATE accounts SET attrs = '{"moved": true}', seen = '2025-05-05 05:05:05.5+05:30' WHERE region = 'us' AND id = 5`);
  await pg.query(SRC, `DELETE FROM accounts WHERE region = 'eu' AND id = 3`);
  await pg.query(SRC, `INSERT INTO accounts VALUES ('ap', 7, 3.14159265358979323846264338327950288419, ${bigs.negOdd}, 'ภาษาไทย', '2001-01-01 00:00:00+00', '{"k": [true, false]}')`);
  await pg.query(SRC, `INSERT INTO accounts VALUES ('eu', 8, 7, 1, 'later insert', NULL, '{}')`);

  // Session 2: resumes from session 1's state; only the five changes arrive.
  let changes = 0;
  const second = await runCapturePreview({
    catalog,
    name: "acmeCo/source-pg",
    initialState: first.state,
    timeoutMs: 30_000,
    log: quiet,
    logLevel: "warn",
    onTransaction: (t) => {
      if (t.documents.length) transactions.push(t.documents);
      return (changes += t.documents.length) < 5;
    },
  });
  const ops = second.documents.map(([, d]) => [(d as any).region, (d as any).id, (d as any)._meta.op]);
  expect(ops).toEqual(expect.arrayContaining([["eu", 1, "u"], ["us", 5, "u"], ["eu", 3, "d"], ["ap", 7, "c"], ["eu", 8, "c"]]));
  expect(ops).toHaveLength(5);
  expect(transactions.length).toBeGreaterThanOrEqual(2);

  // Materialize every captured transaction in order, killing the connector
  // right after its second commit (before the harness records it).
  const mat = await runMaterializePreview({
    catalog,
    name: "acmeCo/dest-pg",
    fixture: transactions,
    crashAt: [{ point: "after-started-commit", txn: 2 }],
    timeoutMs: 30_000,
    log: quiet,
    logLevel: "warn",
  });
  expect(mat.stats.crashes).toBe(1);
  expect(mat.stats.deletes).toBe(1);
  // Recovery came from the checkpoint the connector committed with the
  // second transaction's rows (not a replay), and everything was read.
  const fixtureBytes = transactions.reduce((n, t) => n + t.reduce((m, d) => m + Buffer.byteLength(stringifyJson(d)) + 1, 0) + '{"commit":true}\n'.length, 0);
  expect(mat.shards[0]!.resumedFrom).toEqual(["zero", "connector"]);
  expect(mat.shards[0]!.checkpoint).toEqual({ "fixture/inline": fixtureBytes });

  const types = await pg.query(DST, `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'accounts'`);
  expect(Object.fromEntries(types.map((r: any) => [r.column_name, r.data_type]))).toMatchObject({
    region: "text", id: "bigint", balance: "numeric", big: "bigint", note: "text", seen: "timestamp with time zone",
  });

  const source = await pg.query(SRC, snapshot("accounts"));
  const dest = await pg.query(DST, snapshot("public.accounts"));
  expect(source).toHaveLength(7); // 6 backfilled - 1 deleted + 2 inserted
  expect(dest).toEqual(source);
  // Spot checks that the comparison itself sees the hard values.
  expect(dest.find((r: any) => r.region === "eu" && r.id === "1")!.balance).toBe("37037036703703703670.37037036703703703670");
  expect(dest.find((r: any) => r.region === "ap")!.balance).toBe("3.14159265358979323846264338327950288419");
  expect(dest.find((r: any) => r.region === "us" && r.id === "4")!.seen).toBe("2030-06-15 12:00:00.000001");
  expect(dest.find((r: any) => r.region === "eu" && r.id === "3")).toBeUndefined();
  const dup = await pg.query(DST, `SELECT region, id, count(*) FROM accounts GROUP BY 1, 2 HAVING count(*) > 1`);
  expect(dup).toEqual([]);

  // Soft deletes: the same documents, no crash; the deleted row remains as a tombstone.
  const soft = await runMaterializePreview({ catalog, name: "acmeCo/dest-pg-soft", fixture: transactions, timeoutMs: 30_000, log: quiet, logLevel: "warn" });
  expect(soft.stats.deletes).toBe(1);
  expect(await pg.query(DST, snapshot("soft.accounts", `"_meta/op" <> 'd'`))).toEqual(source);
  const tombstones = await pg.query(DST, `SELECT region, id::text AS id FROM soft.accounts WHERE "_meta/op" = 'd'`);
  expect(tombstones).toEqual([{ region: "eu", id: "3" }]);
}

it("captures a table (backfill, then changes) and materializes it exactly once into another database", async () => {
  // int8 at the edges of what a JSON number keeps exactly (±(2^53 - 1)).
  await pipeline("safe", { max: "9007199254740991", min: "-9007199254740991", odd: "9007199254740989", negOdd: "-9007199254740987" });
}, 180_000);

// KNOWN HARNESS BUG, kept visible rather than worked around: the harness holds
// documents as JavaScript values (JSON.parse of Captured docs in
// src/harness/capture-runtime.ts, of fixture lines in src/harness/fixture.ts,
// JSON.stringify of Store key/values in src/harness/shard-runner.ts), so an
// int8 beyond 2^53 must survive the whole chain: source-postgres writes the
// digits, the harness keeps them as BigInt (src/harness/lossless-json.ts),
// and materialize-postgres stores them without passing through JS numbers.
it("carries int8 beyond 2^53 digit for digit from source to destination", async () => {
  await pipeline("wide", { max: "9223372036854775807", min: "-9223372036854775808", odd: "9007199254740993", negOdd: "-9007199254740995" });
}, 180_000);
