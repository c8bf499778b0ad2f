/**
 * PostgreSQL → NATS end to end through real processes: rows of a table are
 * captured by source-postgres (a backfill session, then a session resuming
 * from its state that reads the replication stream), and the committed
 * capture transactions are materialized by materialize-nats into a KV
 * bucket (standard updates) and a stream (delta updates), once cleanly and
 * once with the connector killed right after a started commit. Both runs
 * must leave the same KV entries and messages, and the bucket must hold the
 * table's rows.
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
import { admin, dropNamespace, kvEntries, namespace, NATS_URL, streamMessages, type Admin } from "../../connectors/materialize-nats/test-support.js";
import { startPgCluster, type PgCluster } from "../support/pg-cluster.js";

const STATE_KEY = "public%2Faccounts";
const quiet = createLogger({ level: process.env.TEST_LOG ?? "error" });

let pg: PgCluster;
let nats: Admin;
const used: string[] = [];
beforeAll(async () => {
  pg = await startPgCluster();
  nats = await admin();
}, 180_000);
afterAll(async () => {
  for (const ns of used) await dropNamespace(nats.jsm, ns);
  await nats?.nc.close();
  await pg?.stop();
});

function materialization(ns: string) {
  return {
    endpoint: { connector: { image: "ghcr.io/tributary-dev/materialize-nats:dev", config: { servers: NATS_URL, advanced: { internal_prefix: ns, chunk_kib: 16 } } } },
    bindings: [
      { resource: { bucket: `${ns}_accounts` }, source: "acmeCo/accounts" },
      { resource: { subject: `${ns}.accounts`, stream: `${ns}_accounts_log`, delta_updates: true }, source: "acmeCo/accounts" },
    ],
  };
}

/** What a run left, without per-run document uuids and namespace. */
async function outcome(ns: string) {
  const strip = (s: string) => s.replace(/"uuid":"[^"]*"/g, '"uuid":"-"');
  const kv = await kvEntries(nats.jsm, `${ns}_accounts`);
  return {
    kv: Object.fromEntries(Object.entries(kv).map(([k, v]) => [k, strip(v)])),
    log: (await streamMessages(nats.jsm, `${ns}_accounts_log`)).map((m) => ({ ...m, subject: m.subject.slice(ns.length), payload: strip(m.payload) })),
  };
}

it("captures a table (backfill, then changes) and materializes it exactly once into a KV bucket and a stream", async () => {
  const SRC = "nats_src";
  await pg.createDatabase(SRC);
  await pg.query(SRC, `CREATE TABLE accounts (region text NOT NULL, id bigint NOT NULL, balance numeric, note text, PRIMARY KEY (region, id))`);
  await pg.query(
    SRC,
    `INSERT INTO accounts VALUES ('eu', 1, 12345678901234567890.12345678901234567890, 'Zürich ☕'), ('eu', 2, -1.5, 'a.b'),
      ('eu', 3, 0, 'to be deleted'), ('us', 1, 1.50, 'plain'), ('us x', 4, NULL, 'space in key'), ('us', 5, NULL, NULL)`,
  );
  const config = {
    address: `${pg.host}:${pg.port}`, database: SRC, user: pg.user, sslmode: "disable",
    slot: "slot_nats", publication: "pub_nats", backfill_chunk_size: 2, heartbeat_interval_seconds: 1,
  };
  const [discovered] = await connector.discover(config as any, { log: quiet, signal: new AbortController().signal });
  const clean = namespace();
  const crashed = namespace();
  used.push(clean, crashed);
  const catalog = join(mkdtempSync(join(tmpdir(), "e2e-pg-nats-")), "flow.json");
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
      materializations: { "acmeCo/clean": materialization(clean), "acmeCo/crashed": materialization(crashed) },
    }),
  );

  // Session 1: the backfill; then changes while no capture runs; session 2 reads them.
  const transactions: [string, unknown][][] = [];
  const first = await runCapturePreview({
    catalog, name: "acmeCo/source-pg", timeoutMs: 30_000, log: quiet, logLevel: "warn",
    onTransaction: (t) => {
      if (t.documents.length) transactions.push(t.documents);
      return (t.state as any)?.bindingStateV1?.[STATE_KEY]?.mode !== "active";
    },
  });
  expect(first.documents).toHaveLength(6);
  await pg.query(SRC, `UPDATE accounts SET balance = balance * 3, note = note || ' (updated)' WHERE region = 'eu' AND id = 1`);
  await pg.query(SRC, `DELETE FROM accounts WHERE region = 'eu' AND id = 3`);
  await pg.query(SRC, `INSERT INTO accounts VALUES ('ap', 7, 3.14159265358979323846264338327950288419, 'ภาษาไทย')`);
  let changes = 0;
  await runCapturePreview({
    catalog, name: "acmeCo/source-pg", initialState: first.state, timeoutMs: 30_000, log: quiet, logLevel: "warn",
    onTransaction: (t) => {
      if (t.documents.length) transactions.push(t.documents);
      return (changes += t.documents.length) < 3;
    },
  });
  expect(changes).toBe(3);

  const base = await runMaterializePreview({ catalog, name: "acmeCo/clean", fixture: transactions, timeoutMs: 60_000, log: quiet, logLevel: "warn" });
  expect(base.stats.crashes).toBe(0);
  const mat = await runMaterializePreview({
    catalog, name: "acmeCo/crashed", fixture: transactions, crashAt: [{ point: "after-started-commit", txn: 2 }], timeoutMs: 60_000, log: quiet, logLevel: "warn",
  });
  expect(mat.stats.crashes).toBe(1);

  const want = await outcome(clean);
  expect(await outcome(crashed)).toEqual(want);

  // The bucket holds the table: one entry per row, keyed region.id.
  const rows = await pg.query(SRC, `SELECT region, id::text AS id, balance::text AS balance, note FROM accounts ORDER BY 1, 2`);
  expect(rows).toHaveLength(6);
  const keyOf = (region: string, id: string) => `${/^[A-Za-z0-9_-]+$/.test(region) ? region : "=s" + Buffer.from(region).toString("base64url")}.${id}`;
  expect(Object.keys(want.kv).sort()).toEqual(rows.map((r: any) => keyOf(r.region, r.id)).sort());
  for (const r of rows as any[]) {
    const doc = want.kv[keyOf(r.region, r.id)]!;
    // Numerics keep every digit (source-postgres writes them as strings).
    if (r.balance !== null) expect(JSON.parse(doc).balance).toBe(r.balance);
    expect(JSON.parse(doc)).toMatchObject({ region: r.region, note: r.note });
  }
  expect(want.kv["eu.3"]).toBeUndefined();

  // The stream: one message per captured change, the deletion marked.
  expect(want.log).toHaveLength(9);
  expect(want.log.filter((m) => m.action === "delete").map((m) => m.key)).toEqual(['["eu",3]']);
  expect(new Set(want.log.map((m) => m.subject))).toEqual(new Set([".accounts"]));
}, 180_000);
